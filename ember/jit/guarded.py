"""ember.compile's runtime: compiled graphs behind guards, recompiles, and graph breaks.

Each call computes a guard key (grad mode, and per tensor input its shape, dtype, device and
requires_grad; the other arguments by value; for modules the training flags, the hooks
registered, and the identity and requires_grad of parameters and buffers) and runs the graph
compiled for that key, capturing one on a miss, or when Python state the graph baked in has
changed since (pyguards.py: attributes of modules and objects, closure variables, globals,
container contents).

When a call cannot be captured (a GraphBreak: data-dependent Python control flow, random draws
outside ops, ops the tracer cannot record, backward() inside the code), the code that broke
runs eagerly and only that part: a module's own forward runs eagerly while each submodule it
calls is compiled on its own (recursively); a function runs eagerly calling compiled forms of
the modules it names (a training step compiled whole gets its model compiled). A compiled
callable called inside another's capture is inlined there. `explain=True`, or EMBER_LOGS
containing "graph_breaks" / "recompiles", prints each break with its source line and reason,
and each recompile with the guard that failed.

Keys that differ only in input sizes form a family (`_Family`): unless dynamic=False, the
second size seen is compared with the first and, when they generalize (symbolic.py), one
dynamic graph is compiled; each later size captures once, and runs that graph when its capture
conforms to it (else it gets a graph of its own). `compiled` counts compiled graphs, which
is what config.cache_size_limit limits. Dims marked dynamic (ember._dynamo.mark_dynamic) get
their second capture at once, from inputs grown along them; dims marked static stay in the
family's key. The stance (ember.compiler.set_stance) can run calls eagerly instead of
compiling, or refuse to compile.
"""
from __future__ import annotations

import os
import sys
import threading
import time
import warnings

from .._ops.dispatch import AutocastState
from .._tensor import Tensor
from ..autograd.grad_mode import GradState
from ..autograd.graph import SavedHooks
from ..nn.modules.container import ModuleDict, ModuleList, ParameterDict, ParameterList
from ..nn.modules.module import Module
from .aot import (CompiledCall, GraphBreak, Joint, Unsupported, capture, prepare,
                  user_location)
from .pyguards import (GradReads, Guards, ModuleReads, code_reads, methods_of, names_of,
                       user_functions)
from .schema import scalar_tensor
from .symbolic import (ConstraintViolationError, NotGeneral, Symbols, conforms, generalize,
                       total_stride)
from .tracer import TraceError, is_plain


class _Config:
    """Settings shared by every compiled function (as torch._dynamo.config)."""

    cache_size_limit = 8  # graphs kept per compiled function before it runs eagerly
    # sizes and numbers that change between calls become dynamic (with dynamic=None); marked
    # dims (mark_dynamic) are dynamic either way
    automatic_dynamic_shapes = True

    @property
    def recompile_limit(self) -> int:
        """torch's newer name for cache_size_limit (the two are one setting)."""
        return self.cache_size_limit

    @recompile_limit.setter
    def recompile_limit(self, limit: int) -> None:
        self.cache_size_limit = limit


config = _Config()


class _Stance:
    """How compiled callables treat their calls (ember.compiler.set_stance): "default"
    compiles; "force_eager" runs the code eagerly; "eager_on_recompile" runs eagerly a call
    that would compile a new graph; "fail_on_recompile" raises there instead;
    "eager_then_compile" (and "aot_eager_then_compile": ember's aot_eager is its compiler)
    runs a compiled callable's first call eagerly and makes the dims that change between it
    and the second call dynamic at the second call's compile."""

    NAMES = ("default", "force_eager", "eager_on_recompile", "fail_on_recompile",
             "eager_then_compile", "aot_eager_then_compile")
    name = "default"


stance = _Stance()


_capturing: set = set()  # the threads capturing a graph now
_END = object()  # what an exhausted iterator of children gives
# One capture at a time in the process (the tracer and the attribute hooks are global); a
# call that needs a capture while another thread is capturing runs eagerly instead of
# waiting, so a capture that waits on another thread cannot deadlock.
_capture_lock = threading.RLock()


def is_compiling() -> bool:
    """Whether ember.compile is capturing a graph right now, in this thread."""
    return threading.get_ident() in _capturing


def _logs(kind: str) -> bool:
    return kind in os.environ.get("EMBER_LOGS", "").replace(" ", "").split(",")


# ---- arguments and guards -------------------------------------------------------------------
def _leaves(obj, tensors: list, dynamic: frozenset = frozenset(), path: tuple = ()):
    """Split a call's arguments into tensor leaves and a hashable skeleton (the rest): plain
    values by value, tuples (namedtuples such as PackedSequence too), lists and dicts by
    structure, other hashable objects by equality, the rest by identity. A number at a path
    in `dynamic` (one that changed between calls) becomes a 0-d tensor leaf, which the graph
    reads as an input, as torch.compile makes such numbers dynamic."""
    if isinstance(obj, Tensor):
        tensors.append(obj)
        return _TENSOR
    t = type(obj)
    if isinstance(obj, tuple) or t is list:
        return (t,) + tuple(_leaves(o, tensors, dynamic, path + (i,)) for i, o in enumerate(obj))
    if t is dict:
        return ("dict",) + tuple((k, _leaves(v, tensors, dynamic, path + (k,)))
                                 for k, v in obj.items())
    if t in (int, float) and path in dynamic:
        tensors.append(scalar_tensor(obj))  # promotes as the Python number would
        return ("number", t)
    if is_plain(obj):
        return ("value", t, obj)
    try:
        return ("value", _Equal(obj))
    except TypeError:  # unhashable: by identity
        return ("object", _Identity(obj))


class _Identity:
    """An object in a guard key, equal only to itself (holding it keeps its id unreused)."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __eq__(self, other):
        return type(other) is _Identity and other.obj is self.obj

    def __hash__(self):
        return id(self.obj)


class _Equal:
    """A hashable object in a guard key (a frozen dataclass of settings, an enum member),
    equal to objects of its type that compare equal; a comparison that fails or does not give
    a bool (tensors inside compare elementwise) counts as different."""

    __slots__ = ("obj", "hash")

    def __init__(self, obj):
        self.obj = obj
        self.hash = hash((type(obj), obj))

    def __eq__(self, other):
        if type(other) is not _Equal or type(other.obj) is not type(self.obj):
            return False
        try:
            same = self.obj == other.obj
        except Exception:  # noqa: BLE001 - whatever the comparison raises: not the same
            return False
        return same is True

    def __hash__(self):
        return self.hash


_TENSOR = ("tensor",)
_NOT_RUN = object()


def _changed_numbers(old: tuple, new: tuple) -> set:
    """Paths of the ints and floats (not bools) whose values differ between the (args,
    kwargs) skeletons of two calls that are otherwise the same; empty when anything else
    differs."""
    found: set = set()
    for root, a, b in (("args", old[0], new[0]), ("kwargs", old[1], new[1])):
        if a != b:
            inner = _numbers_in(a, b, (root,))
            if not inner:
                return set()
            found |= inner
    return found


def _numbers_in(old, new, path: tuple) -> set:
    if type(old) is not tuple or type(new) is not tuple or len(old) != len(new):
        return set()
    if len(old) == 3 and old[0] == "value" and new[0] == "value":
        same_kind = old[1] is new[1] and old[1] in (int, float)
        return {path} if same_kind and old[2] != new[2] else set()
    if old[:1] != new[:1] or old[0] in ("value", "object", "number"):
        return set()
    if old[0] == "dict":
        if [k for k, _ in old[1:]] != [k for k, _ in new[1:]]:
            return set()
        pairs = [((k,), a, b) for (k, a), (_, b) in zip(old[1:], new[1:])]
    else:
        pairs = [((i,), a, b) for i, (a, b) in enumerate(zip(old[1:], new[1:]))]
    found: set = set()
    for step, a, b in pairs:
        if a == b:
            continue
        inner = _numbers_in(a, b, path + step)
        if not inner:
            return set()
        found |= inner
    return found


def _rebuild(skeleton, obj, it):
    """The arguments again, with the tensors from `it` in the tensors' places (the caller's
    own lists and dicts where nothing in them was replaced, so changes to them are seen);
    dynamic numbers become their 0-d tensors."""
    if skeleton is _TENSOR or type(skeleton) is tuple and skeleton[:1] == ("number",):
        return next(it)
    t = type(obj)
    if isinstance(obj, tuple) or t is list:
        items = [_rebuild(s, o, it) for s, o in zip(skeleton[1:], obj)]
        if all(a is b for a, b in zip(items, obj)):
            return obj
        return t(*items) if hasattr(obj, "_fields") else t(items)
    if t is dict:
        items = {k: _rebuild(s, obj[k], it) for k, s in skeleton[1:]}
        return obj if all(items[k] is obj[k] for k in items) else items
    return obj


def _defined_at(fn) -> str:
    """'file:line: def name' of a function, where a break found after its capture points."""
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    if code is None:
        return ""
    return f"{code.co_filename}:{code.co_firstlineno}: def {code.co_name}"


def _describe(t: Tensor) -> tuple:
    return (t._data.shape, t._dtype, t._device, t._requires_grad)


def _first_change(old, new):
    """The first plain values that differ between two argument skeletons of the same
    nesting, as (old, new); None when the nesting itself differs."""
    if type(old) is not tuple or type(new) is not tuple or len(old) != len(new):
        return None
    if len(old) == 3 and old[0] == "value" and new[0] == "value":
        return (old[2], new[2]) if old[1] is new[1] else None
    for a, b in zip(old, new):
        if a != b:
            return _first_change(a, b)
    return None


def _guard_difference(old: tuple, new: tuple, names: list) -> str:
    """Which guard of `old` (the previous call's key) the key `new` fails, in words."""
    if old[0] != new[0]:
        return f"grad mode changed ({'enabled' if new[0] else 'disabled'})"
    if old[1] != new[1]:
        first = _first_change(old[1], new[1])
        if first is not None:
            return (f"a non-tensor argument changed ({first[0]!r} -> {first[1]!r}; a number "
                    "that changes on every call belongs in a 0-d tensor, which the graph "
                    "reads as an input)")
        return "the non-tensor arguments or the nesting of the arguments changed"
    for i, (a, b) in enumerate(zip(old[2], new[2])):
        if a != b:
            what = ("shape", "dtype", "device", "requires_grad")
            k = next(k for k in range(4) if a[k] != b[k])
            name = names[i] if i < len(names) else f"input {i}"
            return f"{name}: {what[k]} {_fmt(a[k])} (the previous call) != {_fmt(b[k])}"
    if len(old[2]) != len(new[2]):
        return "the number of tensor arguments changed"
    if old[3][0] != new[3][0]:
        return "a module's training flag changed (train()/eval())"
    if old[3][2] != new[3][2]:
        return "an autocast region opened or closed (ember.autocast)"
    if old[3] != new[3]:
        return "a module's forward or backward hooks changed"
    return "a parameter or buffer was replaced or its requires_grad changed"


def _hook_dicts(modules: list) -> list:
    """The forward and backward hook dicts of the modules (Module edits them in place)."""
    return [d for m in modules for d in (m._forward_pre_hooks, m._forward_hooks,
                                         m._backward_pre_hooks, m._backward_hooks)]


def _hooks_of(dicts: list) -> tuple:
    """The handles of the hooks in `dicts` (from _hook_dicts): a capture ran the hooks there
    were, so adding or removing one captures again."""
    return tuple((k, tuple(d)) for k, d in enumerate(dicts) if d)


def _fmt(x) -> str:
    return str(list(x)) if isinstance(x, tuple) else str(x)


# ---- what a cache entry runs ----------------------------------------------------------------
class _Graph:
    """A compiled call (shared by the shapes a dynamic graph serves), with what the capture
    at this key gave: its output nesting, lifted tensors and first result."""

    def __init__(self, call: CompiledCall, joint: Joint, seconds: float):
        self.call = call
        self.guards = joint.guards
        self.out_spec = joint.out_spec
        self.lifted = joint.lifted
        self.seconds = seconds
        self.first_result = joint.result
        joint.result = None
        # outputs that are inputs themselves, or an input written in place (`return
        # x.add_(1)`), come back as the caller's tensors, as in eager
        graph = joint.graph
        position = {v.id: j for j, v in enumerate(graph.inputs)}
        self.passthrough = []
        for i, v in enumerate(graph.outputs[:joint.n_outputs]):
            while v.node is not None and v.node.inplace:
                v = v.node.args[0]
            if v.id in position:
                self.passthrough.append((i, position[v.id]))
        # a tensor returned twice comes back as one object, as in eager
        first: dict = {}
        self.repeated = []
        for i, v in enumerate(graph.outputs[:joint.n_outputs]):
            j = first.setdefault(v.id, i)
            if j != i:
                self.repeated.append((i, j))

    def run(self, owner, args, kwargs, leaves):
        from .tracer import unflatten
        tensors = leaves + owner.state_tensors() + [read() for read in self.lifted]
        outs = self.call.run(tensors)
        for i, j in self.passthrough:
            outs[i] = tensors[j]
        for i, j in self.repeated:
            outs[i] = outs[j]
        if self.out_spec == ["tensor"]:
            return outs[0]
        return unflatten(self.out_spec, outs)


class _Split:
    """Code that broke runs eagerly, calling compiled forms of the modules it calls: a
    module's children, or the modules a function names (closure variables, globals)."""

    def __init__(self, owner, children: list):
        self.parts = {}
        for name, sub in children:
            part = _Compiled(sub, owner.options, owner.report, name=name,
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


def _named_modules_of(fn) -> list:
    """(name, module) for the modules a function's code names (closure variables and
    globals), each once, leaving out those compiled already (they run their own graphs)."""
    out, seen = [], set()
    for _, name, value, _ in names_of(fn):
        if isinstance(value, Module) and id(value) not in seen and not any(
                isinstance(value.__dict__.get(k), _Compiled) for k in ("_compiled", "forward")):
            seen.add(id(value))
            out.append((name, value))
    return out


# ---- the compiled callable ------------------------------------------------------------------
class _NumbersNeeded(Exception):
    """A capture with dynamic numbers broke: the code uses them as Python numbers."""


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
        self.families: dict = {}
        self.compiled = 0  # graphs compiled (a dynamic graph once, whatever sizes it runs)
        self.last_key = None
        self.eager_first: tuple | None = None  # (family key, sizes) of a first call run eagerly
        self.gave_up = False
        # argument paths of numbers that changed between calls, passed as 0-d tensors
        self.dynamic_numbers: frozenset = frozenset()
        self.static_numbers = False  # the code needs them as Python numbers
        self._scan()

    def _scan(self) -> None:
        """Note the module tree: its modules, the children each holds, and the slots of its
        parameters and buffers."""
        if self.module is not None:
            self._state = [(n, t) for n, t in self.module.named_parameters()] + \
                [(n, t) for n, t in self.module.named_buffers()]
            self._slots = [_slot(self.module, n) for n, _ in self._state]
            self._modules = list(self.module.modules())
        else:
            self._state, self._slots, self._modules = [], [], []
        self._children = [c for m in self._modules for c in m._modules.values()]
        self._hooks = _hook_dicts(self._modules)

    def _tree_changed(self) -> bool:
        """Whether a submodule was added, removed or replaced since `_scan` (`net[2] = head`,
        `model.fc = nn.Linear(...)`): the graphs called the old ones."""
        children = iter(self._children)
        for m in self._modules:
            for child in m._modules.values():
                if next(children, _END) is not child:
                    return True
        return next(children, _END) is not _END

    def _state_moved(self) -> bool:
        """Whether a parameter or buffer left its slot since `_scan` (pruning moves `weight`
        to `weight_orig`, a parametrization into `parametrizations`)."""
        return any(key not in store for store, key in self._slots)

    def child_name(self, sub: Module) -> str:
        for name, m in self.module.named_modules():
            if m is sub:
                return f"{self.name}.{name}" if name else self.name
        return type(sub).__name__

    def state_tensors(self) -> list:
        return [store[key] for store, key in self._slots]

    def _key(self, args, kwargs, leaves) -> tuple:
        dynamic = self.dynamic_numbers
        skeleton = (_leaves(args, leaves, dynamic, ("args",)),
                    _leaves(kwargs, leaves, dynamic, ("kwargs",)) if kwargs else None)
        state = tuple((id(t), t._requires_grad) for t in (s[k] for s, k in self._slots))
        flags = (tuple(m.training for m in self._modules), _hooks_of(self._hooks),
                 tuple(AutocastState.dtypes.items()) if AutocastState.active else ())
        return (GradState.enabled, skeleton, tuple(_describe(t) for t in leaves), flags, state)

    def __call__(self, *args, **kwargs):
        if is_compiling():
            # inside another compiled call's capture: run the code, which that capture records
            # (inlined, as torch.compile inlines nested compiled functions)
            return self.eager(*args, **kwargs)
        if stance.name == "force_eager":
            return self.eager(*args, **kwargs)
        if SavedHooks.stack and GradState.enabled:
            # saved_tensors_hooks (activation checkpointing, save_on_cpu) must see each value
            # backward keeps; a compiled backward keeps its own, so the call runs eagerly
            return self.eager(*args, **kwargs)
        if self.module is not None and (self._tree_changed() or self._state_moved()):
            self._scan()
            self.clear()
        leaves: list = []
        key = self._key(args, kwargs, leaves)
        entry = self.cache.get(key)
        dynamic = self._numbers_became_dynamic(key) if entry is None else None
        if dynamic:
            leaves = []
            key = self._key(args, kwargs, leaves)
            entry = self.cache.get(key)
        changed = entry.guards.failure() if isinstance(entry, _Graph) else None
        if changed:
            # the graphs of every size baked the old value in: start again from this call
            self.cache.clear()
            self.families.clear()
            entry = None
        if entry is None and stance.name in ("eager_on_recompile", "fail_on_recompile") and \
                self._recompiles(key, leaves):
            if stance.name == "eager_on_recompile":
                return self.eager(*args, **kwargs)
            why = changed or ("nothing compiled yet" if self.last_key is None else
                              _guard_difference(self.last_key, key, self._input_names()))
            raise RuntimeError("Detected recompile when ember.compile stance is "
                               f"'fail_on_recompile': {self.name}: {why}")
        if entry is None and stance.name.endswith("eager_then_compile") and \
                self.last_key is None and self.eager_first is None:
            self.eager_first = (_family(key, leaves), [t._data.shape for t in leaves])
            return self.eager(*args, **kwargs)
        if entry is None:
            if self.gave_up or not _capture_lock.acquire(blocking=False):
                return self.eager(*args, **kwargs)
            try:
                try:
                    entry, result = self._make(key, args, kwargs, leaves, changed or dynamic)
                except _NumbersNeeded:
                    # the code needs those numbers as Python numbers: they stay guards
                    self.dynamic_numbers, self.static_numbers = frozenset(), True
                    leaves = []
                    key = self._key(args, kwargs, leaves)
                    entry, result = self._make(key, args, kwargs, leaves, changed)
            finally:
                _capture_lock.release()
            self.last_key = key
            if result is not _NOT_RUN:
                return result
            if entry is None:
                return self.eager(*args, **kwargs)
        self.last_key = key
        return entry.run(self, args, kwargs, leaves)

    def _automatic(self) -> bool:
        """Whether sizes and numbers that change between calls become dynamic."""
        dynamic = self.options["dynamic"]
        return dynamic is True or dynamic is None and config.automatic_dynamic_shapes

    def _recompiles(self, key: tuple, leaves: list) -> bool:
        """Whether a call missing the cache would compile (the first call too, as torch
        counts it): not a size that the family's dynamic graph covers."""
        family = self.families.get(_family(key, leaves))
        return family is None or not family.serves([t._data.shape for t in leaves])

    def _numbers_became_dynamic(self, key: tuple) -> str | None:
        """When this call differs from the last one only in the values of some numbers,
        they become dynamic (0-d tensor inputs) from now on, as with torch.compile's automatic
        dynamic shapes, unless dynamic=False or the code needs them as Python numbers (then
        they stay guards, `_NumbersNeeded`): the reason, in words, else None."""
        if self.last_key is None or self.static_numbers or not self._automatic():
            return None
        old, new = self.last_key, key
        if (old[0], old[2], old[3], old[4]) != (new[0], new[2], new[3], new[4]):
            return None
        paths = _changed_numbers(old[1], new[1])
        if not paths or paths <= self.dynamic_numbers:
            return None
        self.dynamic_numbers |= paths
        was, now = _first_change(old[1], new[1])
        return (f"a number argument changed ({was!r} -> {now!r}); from now on it is an input "
                "of the graph (a 0-d tensor), so its other values run the same graph")

    def clear(self) -> None:
        """Forget every graph: the next call captures again."""
        self.cache.clear()
        self.families.clear()
        self.compiled = 0
        self.last_key = self.eager_first = None
        self.gave_up = False
        self.dynamic_numbers, self.static_numbers = frozenset(), False

    def _give_up(self, reason: str) -> None:
        self.gave_up = True
        warnings.warn(
            f"ember.compile: {self.name} was recompiled {config.cache_size_limit} times "
            f"(config.cache_size_limit); running it eagerly from now on. Last reason: "
            f"{reason}. If the shapes vary, pad them to a few sizes; raise "
            "ember.compiler.config.cache_size_limit to keep more graphs.",
            RuntimeWarning, stacklevel=4)

    def _make(self, key, args, kwargs, leaves, changed=None):
        """Capture and compile (or reuse a dynamic graph) for a key seen for the first time
        (`changed`: why the graphs were dropped, when a Python value they baked in changed):
        (the cache entry or None, the capture's own result or _NOT_RUN)."""
        reason = changed or (None if self.last_key is None else
                             _guard_difference(self.last_key, key, self._input_names()))
        family_key = _family(key, leaves)
        family = self.families.get(family_key)
        sizes = [t._data.shape for t in leaves]
        if family is not None and (not family.in_ranges(sizes) or not self._automatic() and
                                   not family.serves(sizes)):
            # outside mark_dynamic's range; or only marked dims are dynamic: compile anew
            family = None
        if self.compiled >= config.cache_size_limit and (family is None or family.call is None):
            self._give_up(reason)
            return None, _NOT_RUN
        start = time.perf_counter()
        try:
            joint = self._capture(args, kwargs, leaves)
        except Exception as e:
            if self.dynamic_numbers:  # a break, or an error (a dict keyed by the number)
                raise _NumbersNeeded from e
            if not isinstance(e, GraphBreak):
                raise
            entry = self._broken(e)
            self.cache[key] = entry
            return entry, _NOT_RUN
        if joint.side_effect is not None:
            # the capture ran the code eagerly, side effect included: its result stands
            entry = self._broken(joint.side_effect)
            self.cache[key] = entry
            return entry, joint.result
        shapes = [t._data.shape for t in leaves]
        known = family.call if family is not None else None
        marked = _marked(leaves) + self._changed_since_eager(family_key, leaves)
        if family is None and marked:
            family = self.families[family_key] = self._family_of_marks(args, kwargs, leaves,
                                                                       joint, marked)
        may_compile = self.compiled < config.cache_size_limit
        call, how = family.admit(shapes, joint, may_compile) if family is not None \
            else (None, "")
        if call is not None and call is not known:
            self.compiled += 1  # a dynamic graph, compiled just now
        if call is None:
            if self.compiled >= config.cache_size_limit:
                self._give_up(reason)
                return None, joint.result
            call = CompiledCall(joint, prepare(joint))
            self.compiled += 1
            if family_key not in self.families and self._automatic():
                self.families[family_key] = _Family(shapes, joint)
            how = f"recompiling {self.name}: {reason}" + (f" ({how})" if how else "")
        else:
            how = f"{self.name}: {reason}: {how}"
        if reason is not None and (_logs("recompiles") or self.options["explain"]):
            print(f"ember.compile: {how}", file=sys.stderr)
        entry = _Graph(call, joint, time.perf_counter() - start)
        self.cache[key] = entry
        result = entry.first_result
        entry.first_result = None
        return entry, result

    def _changed_since_eager(self, family_key: tuple, leaves: list) -> list:
        """(input, dim, True) for the dims whose sizes differ from the first call's, when
        that call ran eagerly (set_stance("eager_then_compile")) with inputs of this family:
        they are dynamic as if marked with maybe_mark_dynamic."""
        if self.eager_first is None or self.eager_first[0] != family_key:
            return []
        return [(k, d, True) for k, (old, t) in enumerate(zip(self.eager_first[1], leaves))
                for d, n in enumerate(old) if n != t._data.shape[d] and min(
                    n, t._data.shape[d]) >= 2 and not _is_marked(t, d)]

    def _family_of_marks(self, args, kwargs, leaves: list, joint: Joint,
                         marked: list) -> "_Family":
        """The family of a first capture whose inputs have dims `marked` dynamic
        (ember._dynamo.mark_dynamic, see _marked): a second capture at other sizes of those
        dims (the inputs' own values, wrapped around) gives its dynamic graph at once, so a
        later size compiles nothing. mark_dynamic raises ConstraintViolationError when the
        code fixes a marked size; maybe_mark_dynamic then keeps the static graph."""
        shapes = [t._data.shape for t in leaves]
        family = _Family(shapes, joint)
        family.first_graphs = prepare(joint, dynamic=True)
        q = total_stride(family.first_graphs[0])
        probes = list(leaves)
        for i, (k, d, _) in enumerate(marked):
            n, (lo, hi) = leaves[k]._data.shape[d], _range(leaves[k], d)
            if not (lo or 0) <= n <= (n if hi is None else hi):
                raise ConstraintViolationError(
                    f"ember.compile: {self.name}: input {k} dim {d}: {n} not in range "
                    f"[{lo}, {hi}] (given to mark_dynamic)")
            if (lo, hi) != (None, None):
                family.ranges[(k, d)] = (lo, hi)
            # each dim moves by its own prime times the total stride (so a strided network
            # generalizes), so that no size derived from one looks derived from another
            stride = q if n >= 2 * q else 1
            size = _probe_size(n, stride * _PROBE_STEPS[i % len(_PROBE_STEPS)], stride, lo, hi)
            if size is not None:
                probes[k] = _resized(probes[k], d, size)
        if all(p is t for p, t in zip(probes, leaves)):  # the ranges hold these sizes only
            return _Family(shapes, joint)
        undo = _Snapshot(leaves + [t for _, t in self._state])
        try:
            probe = self._capture(args, kwargs, probes)
        except Exception as e:  # noqa: BLE001 - a break or an error: the size is fixed
            probe, why = None, f"at other sizes: {e}"
        finally:
            undo.restore()
        if probe is not None and probe.side_effect is None:
            call, why = family.admit([t._data.shape for t in probes], probe)
            if call is not None:
                return family
        elif probe is not None:
            why = "it changes Python state"
        strict = [f"input {k} dim {d}" for k, d, weak in marked if not weak]
        if strict:
            raise ConstraintViolationError(
                f"ember.compile: {self.name}: {', '.join(strict)} marked dynamic "
                f"(mark_dynamic), but the code fixes its size ({why}); remove the mark or "
                "use maybe_mark_dynamic")
        return _Family(shapes, joint)

    def _broken(self, brk: GraphBreak):
        """The entry for a call that broke: eager code (compiled submodules for a module)."""
        if self.options["fullgraph"]:
            raise Unsupported(f"ember.compile(fullgraph=True): {self.name} cannot be "
                              f"captured as one graph: {brk.reason}", brk.where) from None
        if self.module is not None and self.fn is self.module and \
                _hooks_of(_hook_dicts([self.module])):
            children = [(self.name, self.module)]
            what = "its hooks run eagerly around its compiled forward"
        elif self.module is not None:
            children = [(self.child_name(m), m) for m in _callable_children(self.module)]
            what = "its own code runs eagerly and each submodule is compiled on its own"
        else:
            named = _named_modules_of(self.fn)
            children = [(f"{self.name}: {n}", m) for n, m in named]
            what = ("it runs eagerly, calling compiled forms of the modules it names ("
                    + ", ".join(n for n, _ in named) + ")")
        if not children:
            what = "it runs eagerly"
        entry = _Split(self, children) if children else _Eager()
        self.report.append((self.name, brk.where, brk.reason, what))
        if self.options["explain"] or _logs("graph_breaks"):
            print(f"ember.compile: graph break in {self.name}\n  at {brk.where or '?'}\n"
                  f"  reason: {brk.reason}\n  so: {what}", file=sys.stderr)
        return entry

    def _input_names(self) -> list:
        import inspect
        try:
            return [p for p in inspect.signature(self.signature).parameters]
        except (TypeError, ValueError):
            return []

    def _watch_python_state(self, watched, code: list, args, kwargs) -> None:
        """Watch the containers and objects the captured code can reach by name, its
        arguments and the global random generators, for changes made while capturing."""
        watched.watch_process_state()
        for fn in code:
            for kind, name, value, _ in names_of(fn):
                watched.watch(f"{kind} {name}", value)
            defaults = list(fn.__defaults__ or ()) + list((fn.__kwdefaults__ or {}).values())
            for value in defaults:
                watched.watch(f"a default argument of {fn.__qualname__}", value)
        for name, value in zip(self._input_names() or [f"#{i}" for i in range(len(args))],
                               args):
            watched.watch(f"argument {name}", value)
        for name, value in kwargs.items():
            watched.watch(f"argument {name}", value)

    def _capture(self, args, kwargs, leaves) -> Joint:
        for m in self._modules:
            if (m is not self.module or self.fn is m) and _hooks_of(_hook_dicts([m])):
                raise GraphBreak(f"{type(m).__name__} has forward or backward hooks, Python "
                                 "code a graph cannot replay; they run eagerly, around "
                                 "compiled code")
        dynamic = self.dynamic_numbers
        skeleton = _leaves(args, [], dynamic, ("args",))
        kw_skeleton = _leaves(kwargs, [], dynamic, ("kwargs",)) if kwargs else None

        def call(*tensors):
            it = iter(tensors)
            a = _rebuild(skeleton, args, it)
            kw = _rebuild(kw_skeleton, kwargs, it) if kwargs else {}
            return self.fn(*a, **kw)
        _capturing.add(threading.get_ident())
        undo = _Snapshot(leaves + [t for _, t in self._state])
        code = user_functions([self.signature] + [type(m).forward for m in self._modules]
                              + [f for m in self._modules for f in methods_of(m)])
        try:
            with ModuleReads() as reads, GradReads(reads.watched.tensors) as grads:
                self._watch_python_state(reads.watched, code, args, kwargs)
                joint = capture(call, tuple(leaves), self._state, signature_of=self.signature,
                                foreign=reads.watched.tensors)
            joint.guards = Guards(code_reads(code) + reads.entries + reads.watched.entries
                                  + reads.watched.guards() + grads.entries)
            # from here on, lifted tensors are fetched at each call (gradients from their owner)
            joint.lifted = [grads.reader(t) for t in joint.lifted]
            changed = reads.watched.changed()
            joint.side_effect = None if changed is None else GraphBreak(
                changed, _defined_at(self.signature))
            return joint
        except TraceError as e:
            undo.restore()
            tb = e.__traceback__
            while tb.tb_next is not None:
                tb = tb.tb_next
            raise GraphBreak(str(e).replace("ember.jit.trace: ", ""),
                             user_location(tb.tb_frame)) from None
        except GraphBreak:
            undo.restore()
            raise
        finally:
            _capturing.discard(threading.get_ident())


def _family(key: tuple, leaves: list) -> tuple:
    """The guard key without the input sizes (their ranks kept, and the sizes of dims marked
    static): keys of one family differ only in sizes, which a dynamic graph may cover."""
    grad, skeleton, tensors, flags, state = key
    return grad, skeleton, tuple(
        (len(d[0]), tuple((i, d[0][i]) for i in _static_dims(t))) + d[1:]
        for d, t in zip(tensors, leaves)), flags, state


def _static_dims(t: Tensor) -> tuple:
    """The dims of `t` marked static (ember._dynamo.mark_static): their sizes stay guards."""
    return tuple(d for d in sorted(t.__dict__.get("_dynamo_static_indices", ())) if d < t.dim())


def _marked(leaves: list) -> list:
    """(input, dim, weak) for each dim of size 2 or more marked dynamic (mark_dynamic, or
    maybe_mark_dynamic when weak)."""
    out = []
    for k, t in enumerate(leaves):
        strong = t.__dict__.get("_dynamo_dynamic_indices", ())
        weak = t.__dict__.get("_dynamo_weak_dynamic_indices", ())
        for d in sorted(set(strong) | set(weak)):
            if d < t.dim() and t._data.shape[d] >= 2:
                out.append((k, d, d not in strong))
    return out


_PROBE_STEPS = (7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47)


def _is_marked(t: Tensor, dim: int) -> bool:
    return any(dim in t.__dict__.get(a, ()) for a in ("_dynamo_dynamic_indices",
                                                      "_dynamo_weak_dynamic_indices"))


def _range(t: Tensor, dim: int) -> tuple:
    """The (min, max) given to mark_dynamic for a dim of `t` ((None, None) when none)."""
    return t.__dict__.get("_dynamo_dynamic_range", {}).get(dim, (None, None))


def _probe_size(n: int, step: int, stride: int, lo, hi) -> int | None:
    """A second size for a marked dim of size `n`: `step` more, else less, else `stride`
    more or less, the first within mark_dynamic's range and at least twice the stride (and
    2); None when there is none."""
    low = max(lo or 2, 2 * stride)
    for size in (n + step, n - step, n + stride, n - stride):
        if size >= low and (hi is None or size <= hi):
            return size
    return None


def _resized(t: Tensor, dim: int, size: int) -> Tensor:
    """`t` at `size` along `dim` (its own entries, wrapped around), as a fresh leaf with t's
    requires_grad: a stand-in input at another size for a capture."""
    from .._ops.shape import cat
    from ..autograd.grad_mode import no_grad
    with no_grad():
        resized = cat([t] * (size // t.shape[dim] + 1), dim).narrow(dim, 0, size)
    return resized.requires_grad_(t.requires_grad)


class _Family:
    """The captures of one family: the first one's sizes and capture and, once a second size
    has been seen and the two generalize (symbolic.py), the dynamic graph compiled. A new size
    uses it only when its own capture conforms to it. Graphs compared this way keep factory
    ops (prepare(dynamic=True)), so tensors built from sizes are rebuilt at each call's."""

    def __init__(self, shapes: list, joint: Joint):
        self.shapes = shapes
        self.layout = _layout(joint)
        self.first = joint
        self.first_graphs: tuple | None = None  # prepare(first, dynamic=True), once needed
        self.symbols: Symbols | None = None
        self.symbolic: tuple | None = None
        self.call: CompiledCall | None = None
        self.ranges: dict = {}  # (input, dim) -> (min, max) given to mark_dynamic

    def in_ranges(self, shapes: list) -> bool:
        """Whether the marked sizes of these shapes lie in the ranges given to mark_dynamic."""
        return all((lo or 0) <= shapes[k][d] <= (shapes[k][d] if hi is None else hi)
                   for (k, d), (lo, hi) in self.ranges.items())

    def serves(self, shapes: list) -> bool:
        """Whether the dynamic graph runs inputs of these shapes: its symbols fit them,
        within the ranges given to mark_dynamic."""
        return self.call is not None and self.symbols.sizes_of(shapes) is not None and \
            self.in_ranges(shapes)

    def admit(self, shapes: list, joint: Joint, may_compile: bool = True):
        """(the compiled call to run this capture with, or None; what happened, in words).
        Compiles a dynamic graph (when `may_compile`) from the first capture and this one
        when this is the second size that generalizes, or when a dim the dynamic graph holds
        fixed has changed (the batch size varied first, then the sequence length): the new
        graph has symbols for both, as torch.compile marks each dim dynamic once it changes."""
        if _layout(joint) != self.layout:
            return None, "its outputs or gradients differ from the first capture's"
        graphs = prepare(joint, dynamic=True)
        try:
            sizes = None if self.call is None else self.symbols.sizes_of(shapes)
            if sizes is None:
                if not may_compile:
                    raise NotGeneral("the sizes do not fit the dynamic graph's symbols")
                if self.first_graphs is None:
                    self.first_graphs = prepare(self.first, dynamic=True)
                self.symbols, self.symbolic = _generalized(self.first_graphs, graphs,
                                                           self.shapes, shapes)
                dims = ", ".join(f"{s} = input {k} dim {d}" for s, (k, d) in
                                 self.symbols.where.items())
                self.call = CompiledCall(joint, self.symbolic)
                return self.call, f"compiled a dynamic graph ({dims})"
            for g, h in zip(self.symbolic, graphs):
                why = None if g is None else conforms(g, h, sizes)
                if why is not None:
                    raise NotGeneral(why)
        except NotGeneral as e:
            if self.call is None:  # learn from this capture and the next one instead
                self.shapes, self.first, self.first_graphs = shapes, joint, None
            return None, f"no dynamic graph: {e}"
        sizes_text = ", ".join(f"{s} = {n}" for s, n in sizes.items())
        return self.call, f"the dynamic graph runs it ({sizes_text})"


def _generalized(first: tuple, second: tuple, shapes: list, other: list) -> tuple:
    """(Symbols, symbolic graphs) from the (forward, backward) graphs of two captures at
    input shapes `shapes` and `other`: sizes as they are, else, for a strided network
    (multi-scale training), each size that moved by a multiple of the forward graph's total
    stride q as q * symbol + r (see Symbols). Raises NotGeneral."""
    for modulus in dict.fromkeys((1, total_stride(first[0]))):
        try:
            symbols = Symbols(shapes, other, modulus)
            return symbols, tuple(None if g is None else generalize(g, h, symbols)
                                  for g, h in zip(first, second))
        except NotGeneral as e:
            why = e
    raise why


def _layout(joint: Joint) -> tuple:
    return (joint.out_spec, joint.n_inputs, joint.n_outputs, len(joint.lifted), joint.diff,
            joint.wrt)


class _Snapshot:
    """The values and autograd history of tensors and the random state before a capture, to
    undo the side effects of a capture that breaks off (the call then runs eagerly, from the
    start; an in-place op it ran again would otherwise stack its history a second time)."""

    def __init__(self, tensors: list):
        from .._ops.random import default_generator
        self.arrays = [(t, t._data.copy(), t._grad_fn, t._output_nr, t._requires_grad)
                       for t in tensors]
        self.rng = default_generator.get_state()

    def restore(self) -> None:
        from .._ops.random import default_generator
        for t, saved, grad_fn, output_nr, requires_grad in self.arrays:
            t._data[...] = saved
            t._grad_fn, t._output_nr, t._requires_grad = grad_fn, output_nr, requires_grad
        default_generator.set_state(self.rng)


def _slot(module: Module, qualified: str):
    """(the dict holding it, its key) for a parameter or buffer of `module`."""
    *path, name = qualified.split(".")
    owner = module
    for part in path:
        owner = owner._modules[part]
    store = owner._parameters if name in owner._parameters else owner._buffers
    return store, name
