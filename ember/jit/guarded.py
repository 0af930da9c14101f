"""ember.compile's runtime: compiled graphs behind guards, recompiles, and graph breaks.

Each call computes a guard key (grad mode, and per tensor input its shape, dtype, device and
requires_grad; the other arguments by value; for modules the training flags and the identity
and requires_grad of parameters and buffers) and runs the graph compiled for that key,
capturing one on a miss. When a call cannot be captured (a GraphBreak: data-dependent Python
control flow, random draws outside ops, ops the tracer cannot record), the code that broke runs
eagerly and only that part: a module's own forward runs eagerly while each submodule it calls
is compiled on its own (recursively); a plain function runs eagerly. `explain=True`, or
EMBER_LOGS containing "graph_breaks" / "recompiles", prints each break with its source line
and reason, and each recompile with the guard that failed.
"""
from __future__ import annotations

import os
import sys
import time
import warnings

from .._tensor import Tensor
from ..autograd.grad_mode import GradState
from ..nn.modules.container import ModuleDict, ModuleList, ParameterDict, ParameterList
from ..nn.modules.module import Module
from .aot import CompiledCall, GraphBreak, capture
from .tracer import TraceError


class config:
    """Settings shared by every compiled function (as torch._dynamo.config)."""

    cache_size_limit = 8  # graphs kept per compiled function before it runs eagerly


_capturing = [0]


def is_compiling() -> bool:
    """Whether ember.compile is capturing a graph right now."""
    return _capturing[0] > 0


def _logs(kind: str) -> bool:
    return kind in os.environ.get("EMBER_LOGS", "").replace(" ", "").split(",")


# ---- arguments and guards -------------------------------------------------------------------
def _leaves(obj, tensors: list):
    """Split a call's arguments into tensor leaves and a hashable skeleton (the rest)."""
    if isinstance(obj, Tensor):
        tensors.append(obj)
        return _TENSOR
    t = type(obj)
    if t is tuple or t is list:
        return (t.__name__,) + tuple(_leaves(o, tensors) for o in obj)
    if t is dict:
        return ("dict",) + tuple((k, _leaves(v, tensors)) for k, v in obj.items())
    try:
        hash(obj)
    except TypeError:
        return ("id", id(obj))
    return ("value", t, obj)


_TENSOR = ("tensor",)
_NOT_RUN = object()


def _rebuild(skeleton, obj, it):
    """The arguments again, with the tensors from `it` in the tensors' places."""
    if skeleton is _TENSOR:
        return next(it)
    t = type(obj)
    if t is tuple or t is list:
        return t(_rebuild(s, o, it) for s, o in zip(skeleton[1:], obj))
    if t is dict:
        return {k: _rebuild(s, obj[k], it) for k, s in skeleton[1:]}
    return obj


def _describe(t: Tensor) -> tuple:
    return (t._data.shape, t._dtype, t._device, t._requires_grad)


def _guard_difference(old: tuple, new: tuple, names: list) -> str:
    """Which guard of `old` the key `new` fails, in words."""
    if old[0] != new[0]:
        return f"grad mode changed ({'enabled' if new[0] else 'disabled'})"
    if old[1] != new[1]:
        return "the non-tensor arguments or the nesting of the arguments changed"
    for i, (a, b) in enumerate(zip(old[2], new[2])):
        if a != b:
            what = ("shape", "dtype", "device", "requires_grad")
            k = next(k for k in range(4) if a[k] != b[k])
            name = names[i] if i < len(names) else f"input {i}"
            return f"{name}: {what[k]} {_fmt(a[k])} != {_fmt(b[k])} (compiled for the first)"
    if len(old[2]) != len(new[2]):
        return "the number of tensor arguments changed"
    if old[3] != new[3]:
        return "a module's training flag changed (train()/eval())"
    return "a parameter or buffer was replaced or its requires_grad changed"


def _fmt(x) -> str:
    return str(list(x)) if isinstance(x, tuple) else str(x)


# ---- what a cache entry runs ----------------------------------------------------------------
class _Graph:
    """A captured and compiled call."""

    def __init__(self, call: CompiledCall, seconds: float):
        self.call = call
        self.out_spec = call.joint.out_spec
        self.lifted = call.joint.lifted
        self.seconds = seconds
        self.first_result = call.joint.result
        call.joint.result = None

    def run(self, owner, args, kwargs, leaves):
        from .tracer import unflatten
        outs = self.call.run(leaves + owner.state_tensors() + self.lifted)
        if self.out_spec == ["tensor"]:
            return outs[0]
        return unflatten(self.out_spec, outs)


class _Split:
    """A module whose own forward broke: it runs eagerly, calling compiled submodules."""

    def __init__(self, owner):
        self.parts = {}
        for sub in _callable_children(owner.module):
            part = _Compiled(sub, owner.options, owner.report, name=owner.child_name(sub),
                             fn=type(sub).forward.__get__(sub))
            self.parts[id(sub)] = (sub, part)

    def run(self, owner, args, kwargs, leaves):
        installed = []
        try:
            for sub, part in self.parts.values():
                if "forward" not in sub.__dict__:
                    object.__setattr__(sub, "forward", part)
                    installed.append(sub)
            return owner.eager(*args, **kwargs)
        finally:
            for sub in installed:
                del sub.__dict__["forward"]


class _Eager:
    """A function whose call broke: it runs eagerly."""

    def run(self, owner, args, kwargs, leaves):
        return owner.eager(*args, **kwargs)


def _callable_children(module: Module) -> list:
    """The submodules a module's forward calls: its children, looking through containers."""
    out = []
    for child in module.children():
        if isinstance(child, (ModuleList, ModuleDict)):
            out += _callable_children(child)
        elif not isinstance(child, (ParameterList, ParameterDict)):
            out.append(child)
    return out


# ---- the compiled callable ------------------------------------------------------------------
class _Compiled:
    """fn (a function, or a module's forward) compiled behind guards."""

    def __init__(self, target, options: dict, report: list, name: str | None = None, fn=None):
        self.module = target if isinstance(target, Module) else None
        self.fn = fn if fn is not None else target
        self.eager = self.fn
        self.signature = self.module.forward if self.module is not None else self.fn
        self.options = options
        self.report = report
        self.name = name or getattr(self.fn, "__qualname__", type(target).__name__)
        self.cache: dict = {}
        self.last_key = None
        self.gave_up = False
        if self.module is not None:
            self._state = [(n, t) for n, t in self.module.named_parameters()] + \
                [(n, t) for n, t in self.module.named_buffers()]
            self._slots = [_slot(self.module, n) for n, _ in self._state]
            self._modules = list(self.module.modules())
        else:
            self._state, self._slots, self._modules = [], [], []

    def child_name(self, sub: Module) -> str:
        for name, m in self.module.named_modules():
            if m is sub:
                return f"{self.name}.{name}" if name else self.name
        return type(sub).__name__

    def state_tensors(self) -> list:
        return [store[key] for store, key in self._slots]

    def _key(self, args, kwargs, leaves) -> tuple:
        skeleton = _leaves(args, leaves)
        if kwargs:
            skeleton = (skeleton, _leaves(kwargs, leaves))
        state = tuple((id(t), t._requires_grad) for t in (s[k] for s, k in self._slots))
        flags = tuple(m.training for m in self._modules)
        return (GradState.enabled, skeleton, tuple(_describe(t) for t in leaves), flags, state)

    def __call__(self, *args, **kwargs):
        leaves: list = []
        key = self._key(args, kwargs, leaves)
        entry = self.cache.get(key)
        if entry is None:
            if self.gave_up:
                return self.eager(*args, **kwargs)
            entry, result = self._make(key, args, kwargs, leaves)
            if entry is None or result is not _NOT_RUN:
                self.last_key = key
                return self.eager(*args, **kwargs) if entry is None else result
        self.last_key = key
        return entry.run(self, args, kwargs, leaves)

    def _make(self, key, args, kwargs, leaves):
        if self.last_key is not None:
            reason = _guard_difference(self.last_key, key, self._input_names())
            if len(self.cache) >= config.cache_size_limit:
                self.gave_up = True
                warnings.warn(
                    f"ember.compile: {self.name} was recompiled {config.cache_size_limit} "
                    f"times (config.cache_size_limit); running it eagerly from now on. Last "
                    f"reason: {reason}. If the shapes vary, pad them to a few sizes; raise "
                    "ember.compiler.config.cache_size_limit to keep more graphs.",
                    RuntimeWarning, stacklevel=3)
                return None, _NOT_RUN
            if _logs("recompiles") or self.options["explain"]:
                print(f"ember.compile: recompiling {self.name}: {reason}", file=sys.stderr)
        result = _NOT_RUN
        try:
            entry = self._capture(args, kwargs, leaves)
            result = entry.first_result
            entry.first_result = None
        except GraphBreak as brk:
            if self.options["fullgraph"]:
                raise GraphBreak(f"ember.compile(fullgraph=True): {self.name} cannot be "
                                 f"captured as one graph: {brk.reason}", brk.where) from None
            entry = _Split(self) if self.module is not None and _callable_children(
                self.module) else _Eager()
            what = ("its own code runs eagerly and each submodule is compiled on its own"
                    if isinstance(entry, _Split) else "it runs eagerly")
            self.report.append((self.name, brk.where, brk.reason, what))
            if self.options["explain"] or _logs("graph_breaks"):
                print(f"ember.compile: graph break in {self.name}\n  at {brk.where or '?'}\n"
                      f"  reason: {brk.reason}\n  so: {what}", file=sys.stderr)
        self.cache[key] = entry
        return entry, result

    def _input_names(self) -> list:
        import inspect
        try:
            return [p for p in inspect.signature(self.signature).parameters]
        except (TypeError, ValueError):
            return []

    def _capture(self, args, kwargs, leaves) -> _Graph:
        skeleton = _leaves(args, [])

        def call(*tensors):
            it = iter(tensors)
            a = _rebuild(skeleton, args, it)
            kw = _rebuild(_leaves(kwargs, []), kwargs, it) if kwargs else {}
            return self.fn(*a, **kw)
        start = time.perf_counter()
        _capturing[0] += 1
        undo = _Snapshot(leaves + [t for _, t in self._state])
        try:
            joint = capture(call, tuple(leaves), self._state, signature_of=self.signature)
        except TraceError as e:
            undo.restore()
            raise GraphBreak(str(e).replace("ember.jit.trace: ", ""), "") from None
        except GraphBreak:
            undo.restore()
            raise
        finally:
            _capturing[0] -= 1
        compiled = CompiledCall(joint)
        return _Graph(compiled, time.perf_counter() - start)


class _Snapshot:
    """The values of tensors and the random state before a capture, to undo the side effects
    of a capture that breaks off (the call then runs eagerly, from the start)."""

    def __init__(self, tensors: list):
        from .._ops.random import default_generator
        self.arrays = [(t, t._data.copy()) for t in tensors]
        self.rng = default_generator.get_state()

    def restore(self) -> None:
        from .._ops.random import default_generator
        for t, saved in self.arrays:
            t._data[...] = saved
        default_generator.set_state(self.rng)


def _slot(module: Module, qualified: str):
    """(the dict holding it, its key) for a parameter or buffer of `module`."""
    *path, name = qualified.split(".")
    owner = module
    for part in path:
        owner = owner._modules[part]
    store = owner._parameters if name in owner._parameters else owner._buffers
    return store, name
