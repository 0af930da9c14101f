"""Tracing: run a function once with an observer on `apply` and record every op into a Graph.

Tensors map to IR values by identity: the example inputs become graph inputs, a module's
parameters and buffers named constants, and any other tensor that appears without a recorded
op (a tensor built inside forward, a captured global) an anonymous constant. A tensor sharing
another's array (`detach()`, `.data`) is the same value. In-place writes are recognised by
the version counter and recorded as in-place nodes. Python values computed from traced tensors
(`.item()`, `bool()`, ...) are baked into the graph; a TracerWarning says where.
"""
from __future__ import annotations

import collections
import contextlib
import functools
import inspect
import os
import sys
import threading
import types
import warnings

import numpy as np

from .. import _dtype as D
from .._ops import dispatch
from .._ops.checks import render
from .._ops.registry import REGISTRY
from .._tensor import Tensor
from ..autograd.grad_mode import GradState
from .ir import AsTensor, Graph, GraphError, TensorType, Value, check_literal, values_in
from .passes.analysis import AliasInfo, is_random
from .passes.dce import eliminate_dead_code
from .strings import RuntimeStr


class TracerWarning(Warning):
    """The trace may not generalize: a traced value became a Python constant."""


_JIT_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def caller_stacklevel() -> int:
    """The warnings.warn stacklevel, for the function that calls this, of the first frame
    outside ember.jit: a warning about the whole trace names the user's trace() call, however
    deep in the tracer it is raised."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_JIT_DIR):
        frame, level = frame.f_back, level + 1
    return level


class TraceError(RuntimeError):
    """Something the function did cannot be recorded into a graph (ember.compile falls back
    to eager code for it)."""


class TracingCheckError(Exception):
    """check_trace found that the graph does not reproduce the traced function."""

    def __init__(self, graph_diagnostic_info: str, extra_msg: str = ""):
        self.message = "Tracing failed sanity checks!\n" + extra_msg + graph_diagnostic_info
        super().__init__(self.message)


_CONVERSIONS = {"item": "a Python number", "tolist": "a Python list",
                "numpy": "a NumPy array", "__array__": "a NumPy array",
                "__bool__": "a Python boolean", "__int__": "a Python integer",
                "__float__": "a Python float", "__complex__": "a Python complex",
                "__index__": "a Python index"}
_active = None
_active_tracing = None  # the _Tracing context of the active trace


# ---- nested inputs and outputs ---------------------------------------------------------------
_PLAIN = (bool, int, float, complex, str, bytes, type(None))


def is_plain(value) -> bool:
    """Numbers, strings, None and tuples of them: plain Python values a graph bakes in."""
    kind = type(value)
    return kind in _PLAIN or kind is tuple and all(is_plain(v) for v in value)


class NumberLeaf:
    """A 0-d tensor that a graph returns in place of a Python number (a scripted function's
    int, float or bool computed from tensors); callers get the number back."""

    def __init__(self, tensor: Tensor, kind: type):
        self.tensor = tensor
        self.kind = kind.__name__


_NUMBER_KINDS = {"int": int, "float": float, "bool": bool}


def flatten(obj, what: str, strict: bool = True, python: bool = False, none: bool = False):
    """The tensors inside nested tuples/lists/dicts, and a JSON-ready spec of the nesting.
    `python` (ember.compile, whose specs are never saved) also keeps plain Python values
    (numbers, strings, None) and namedtuple types in the spec; `none` (scripted outputs,
    Optional as in TorchScript) keeps None."""
    tensors: list = []

    def walk(o, path):
        if isinstance(o, Tensor):
            tensors.append(o)
            return ["tensor"]
        if o is None and none and not python:
            return ["none"]
        if isinstance(o, NumberLeaf):
            tensors.append(o.tensor)
            return ["number", o.kind]
        if isinstance(o, RuntimeStr):  # a scripted string, rendered for the caller
            tensors.extend(o.leaves)
            return ["str", o.template, [list(f) for f in o.formats]]
        if (python or none) and type(o) is not tuple and isinstance(o, tuple) and \
                hasattr(o, "_fields"):
            return ["namedtuple", type(o) if python else named_type(type(o)),
                    [walk(x, f"{path}.{f}") for f, x in zip(o._fields, o)]]
        if isinstance(o, tuple):
            return ["tuple", [walk(x, f"{path}[{i}]") for i, x in enumerate(o)]]
        if python and is_plain(o):
            return ["value", o]
        if isinstance(o, (list, dict)) and what == "output" and strict:
            kind = "list" if isinstance(o, list) else "dict"
            raise RuntimeError(
                f"ember.jit.trace: the traced function returns a {kind} ({path}). A traced "
                f"graph fixes the container's structure, so this is only right when it never "
                f"depends on the inputs; return a tuple instead, or pass strict=False to "
                f"trace() to accept the {kind}.")
        if isinstance(o, list):
            return ["list", [walk(x, f"{path}[{i}]") for i, x in enumerate(o)]]
        if isinstance(o, dict):
            if not all(isinstance(k, str) for k in o):
                raise RuntimeError(f"ember.jit.trace: dict {what}s must have string keys "
                                   f"({path} has {[type(k).__name__ for k in o]})")
            return ["dict", [[k, walk(v, f"{path}[{k!r}]")] for k, v in o.items()]]
        raise RuntimeError(f"ember.jit.trace: {what} {path} is a {type(o).__name__}; only "
                           "Tensors and (nested) tuples, lists and dicts of Tensors can be "
                           f"traced {what}s")
    spec = walk(obj, what)
    return tensors, spec


def named_type(cls) -> dict:
    """A namedtuple class as JSON-ready data (a scripted output's spec is saved)."""
    return {"module": cls.__module__, "qualname": cls.__qualname__, "fields": list(cls._fields)}


@functools.lru_cache(maxsize=None)
def _made_namedtuple(name: str, fields: tuple):
    return collections.namedtuple(name, fields)


def named_class(desc: dict):
    """The namedtuple class `desc` (named_type) names when its module is loaded and it still
    has those fields; else a namedtuple of that name and fields, as torch.jit.load makes."""
    obj = sys.modules.get(desc["module"])
    for part in desc["qualname"].split("."):
        obj = getattr(obj, part, None)
    if isinstance(obj, type) and list(getattr(obj, "_fields", ())) == desc["fields"]:
        return obj
    return _made_namedtuple(desc["qualname"].rpartition(".")[2], tuple(desc["fields"]))


def unflatten(spec, items, text=render):
    """Rebuild the nesting `spec` describes from a flat sequence of leaves; `text(template,
    formats, leaves)` makes a string output (render: its text)."""
    it = iter(items)

    def build(s):
        kind = s[0]
        if kind == "tensor":
            return next(it)
        if kind == "tuple":
            return tuple(build(x) for x in s[1])
        if kind == "list":
            return [build(x) for x in s[1]]
        if kind == "value":
            return s[1]
        if kind == "none":
            return None
        if kind == "number":
            return _NUMBER_KINDS[s[1]](next(it).item())
        if kind == "str":
            return text(s[1], s[2], [next(it) for _ in s[2]])
        if kind == "namedtuple":
            cls = s[1] if isinstance(s[1], type) else named_class(s[1])
            return cls(*(build(x) for x in s[2]))
        return {k: build(v) for k, v in s[1]}
    return build(spec)


def spec_arity(spec) -> int:
    """How many tensors a spec holds."""
    if spec[0] in ("tensor", "number"):
        return 1
    if spec[0] in ("value", "none"):
        return 0
    if spec[0] == "str":
        return len(spec[2])
    if spec[0] == "dict":
        return sum(spec_arity(v) for _, v in spec[1])
    return sum(spec_arity(x) for x in spec[-1])


# ---- the recorder ----------------------------------------------------------------------------
def _promotion(op, args):
    """The (compute dtype, cast-back dtype) `apply` used for this call (None, None if none)."""
    promote = op.promote
    if promote is None:
        return None, None
    first, same = None, True
    for a in args:
        if isinstance(a, Tensor):
            if first is None:
                first = a._dtype
            elif a._dtype is not first:
                same = False
        else:
            same = False
    if same and first is not None and first not in dispatch._UPCAST and (
            promote == "common" or first.category >= D._FLOAT):
        return None, None
    positions = op.promote_args if op.promote_args is not None else range(len(args))
    dt = dispatch._common_dtype(args, positions)
    if promote == "float" and dt.category < D._FLOAT:
        dt = D._Defaults.floating
    compute = dispatch.compute_dtype(op, dt)
    return compute, (dt if compute is not dt else None)


class _Recorder:
    """The observer installed on `apply` while a function is traced. Factory calls are
    recorded as ops unless `records_creation` is False (then their tensors become constants
    where the graph first reads them)."""

    records_creation = True

    def __init__(self, graph: Graph, state: dict):
        self.graph = graph
        self.state = state
        self.state_arrays = {id(t._data): (t, name, kind) for t, name, kind in state.values()}
        self.by_tensor: dict[int, tuple] = {}
        self.by_array: dict[int, tuple] = {}
        self.versions: dict[int, tuple] = {}
        self.dynamic: set[int] = set()
        self.pending = None
        self.depth = 0
        self.snapshots: dict = {}
        self.thread = None  # the tracing thread's id, while a trace is active
        self.rng = _rng_state()  # the generator's state as of the last op observed
        self.random_outside = False  # random numbers were drawn outside a random op
        self.off_regions = 0

    def foreign_op(self) -> None:
        """An op another thread ran while this trace was active (not recorded); its random
        draws move the shared generator, and are not this trace's."""
        self.rng = _rng_state()

    def drawn_outside_ops(self) -> None:
        """Random numbers were drawn outside a random op: their values become constants."""
        self.random_outside = True

    # -- mapping tensors to values
    def bind(self, t: Tensor, v: Value) -> None:
        self.by_tensor[id(t)] = (t, v)
        self.by_array[id(t._data)] = (t._data, v)
        box = t._vbox
        self.versions[id(box)] = (box, box[0])

    def lookup(self, t: Tensor):
        entry = self.by_tensor.get(id(t))
        return entry[1] if entry is not None and entry[0] is t else None

    def value_of(self, t: Tensor, check: bool = True) -> Value:
        v = self.lookup(t)
        if v is None:
            v = self._new_value_for(t)
        elif check:
            self._check_version(t)
        return v

    def _new_value_for(self, t: Tensor) -> Value:
        entry = self.by_array.get(id(t._data))
        if entry is not None and entry[0] is t._data and entry[1].type == TensorType.of(t):
            self._check_version(t)
            self.bind(t, entry[1])
            return entry[1]
        found = self.state.get(id(t)) or self.state_arrays.get(id(t._data))
        graph = self.graph
        if found is not None and found[0]._data is t._data:
            name, kind = found[1], found[2]
            v = graph.constants.get(name)
            if v is None:
                v = graph.add_constant(name, found[0], kind)
        else:
            v = graph.add_constant(graph.fresh_constant_name(), t, "constant")
            self.snapshots[v.name] = Tensor._wrap(t._data.copy(), t._dtype, t._device)
        self.bind(t, v)
        return v

    def _check_version(self, t: Tensor) -> None:
        box = t._vbox
        seen = self.versions.get(id(box))
        if seen is not None and seen[0] is box and seen[1] != box[0]:
            raise TraceError(
                f"ember.jit.trace: a tensor of shape {list(t.shape)} ({t.dtype}) was modified "
                "in place by something the tracer cannot see (an out= argument naming another "
                "tensor, a .data assignment or a write to its NumPy array), so the graph would "
                "read its old value. Use the out-of-place form of the operation.")

    def conversion(self, what: str, t: Tensor) -> None:
        """A traced tensor `t` became a Python value (`what`): it is baked into the graph."""
        warnings.warn(
            f"Converting a traced tensor to {what} bakes its current value into the "
            "graph as a constant: the trace will not follow other inputs (for control "
            "flow, compute both branches and select with ember.where).", TracerWarning,
            stacklevel=3)

    def custom_backward_lost(self, function: type) -> None:
        """A custom autograd.Function ran on tensors that require grad: the graph holds the
        ops of its forward, run without autograd, and not its backward."""
        warnings.warn(
            f"autograd.Function {function.__qualname__} is traced as the ops of its forward, "
            "without its backward: no gradient flows through it in the traced graph (the "
            "parameters before it get none). Train the eager module, or write the Function "
            "as a composition of ember ops.", TracerWarning, stacklevel=6)

    def is_dynamic(self, t: Tensor) -> bool:
        v = self.lookup(t)
        if v is None:
            entry = self.by_array.get(id(t._data))
            v = entry[1] if entry is not None and entry[0] is t._data else None
        return v is not None and v.id in self.dynamic

    # -- attributes
    def capture(self, obj):
        """An op argument or attribute as an IR literal (tensors and traced arrays as values)."""
        if isinstance(obj, Tensor):
            return AsTensor(self.value_of(obj))
        t = type(obj)
        if t is tuple:
            return tuple(self.capture(o) for o in obj)
        if t is list:
            return [self.capture(o) for o in obj]
        if t is dict:
            return {k: self.capture(v) for k, v in obj.items()}
        if hasattr(obj, "__array_interface__") or hasattr(obj, "__cuda_array_interface__"):
            if isinstance(obj, np.generic):
                return obj
            entry = self.by_array.get(id(obj))
            if entry is not None and entry[0] is obj:
                return entry[1]
            return np.array(_host(obj))
        return obj

    # -- the observer
    def __call__(self, op, args, attrs, outputs) -> None:
        state = _rng_state()
        if state != self.rng:
            self.rng = state
            if not is_random(op.name):
                self.drawn_outside_ops()
        inplace = bool(outputs) and len(args) > 0 and outputs[0] is args[0]
        pending = self.pending
        # an in-place call observed here already bumped the version box it writes into
        self.settle(1 if inplace and pending is not None and
                    pending[1]._vbox is args[0]._vbox else 0)
        if REGISTRY.get(op.name) is not op:
            self._through(op, outputs)
            if getattr(op, "function", None) is not None and GradState.enabled and any(
                    isinstance(a, Tensor) and a._requires_grad for a in args):
                self.custom_backward_lost(op.function)
            return
        if op.creates and not self.records_creation and not is_random(op.name):
            # the factory's tensor is a constant holding its data as made now, before any
            # in-place write (zeros_like(mask).masked_fill_(mask, v)) changes it
            for t in outputs:
                self._new_value_for(t)
            return
        written_unseen = inplace and self.lookup(args[0]) is None and \
            self.state.get(id(args[0])) is None
        written = () if op.writes is None else op.writes(attrs)  # bumped by apply already
        node_args = []
        for i, a in enumerate(args):
            if isinstance(a, Tensor):
                node_args.append(self.value_of(a, check=not (inplace and i == 0)
                                               and i not in written))
            else:
                node_args.append(self.capture(a))
        node_attrs = {k: self.capture(v) for k, v in attrs.items()}
        if written_unseen and node_args[0].node is None and \
                self.graph.constant_kind.get(node_args[0].name) == "constant" and \
                not _overwrites(op.name, node_attrs):
            raise TraceError(
                f"ember.jit.trace: {op.name}_() writes in place into a tensor built without an "
                f"op the tracer records (e.g. ember.from_numpy(...)), so its value before the "
                f"write is unknown to the graph. Build it with a factory the trace records "
                f"(ember.zeros(...)), out of place, or fill it completely first with "
                f".copy_() / .fill_().")
        where = f"ember.jit.trace: op {op.name!r}"
        for a in node_args + list(node_attrs.values()):
            check_literal(a, where)
        compute, result = _promotion(op, args)
        types = [TensorType.of(t) for t in outputs]
        node = self.graph.add_node(op.name, node_args, node_attrs, types, inplace=inplace,
                                   compute=compute, result=result)
        node.tuple_out = type(outputs) is tuple and len(outputs) == 1
        node.no_grad = not GradState.enabled and GradState.off_regions > self.off_regions
        if any(v.id in self.dynamic for v in node.inputs()):
            self.dynamic.update(v.id for v in node.outputs)
        for t, v in zip(outputs, node.outputs):
            self.bind(t, v)
        for i in written:
            if isinstance(args[i], Tensor):
                box = args[i]._vbox
                self.versions[id(box)] = (box, box[0])
        if not inplace and args and isinstance(args[0], Tensor) and len(outputs) == 1:
            self.pending = (node, args[0], args[0]._vbox[0], outputs[0])

    def _through(self, op, outputs) -> None:
        """A call of an op outside the registry (autograd.Function, module hook): its body
        ran through `apply` and was recorded; its outputs are arrays of recorded values."""
        for t in outputs:
            entry = self.by_array.get(id(t._data))
            if entry is None or entry[0] is not t._data:
                raise TraceError(
                    f"ember.jit.trace: {op.name!r} is not a registry op and its output is not "
                    "one the tracer recorded, so it cannot be saved in a graph. Write it as a "
                    "composition of ember ops.")
            self.bind(t, entry[1])

    def settle(self, explained: int = 0) -> None:
        """Recognise a write that `apply_` (or out=) did into the last call's first argument
        after the call returned: the recorded node becomes an in-place node (or, when the
        argument took the result's array itself, an in-place view op: the argument is now
        that value). `explained` counts version bumps the current call accounts for itself."""
        pending, self.pending = self.pending, None
        if pending is None:
            return
        node, target, version, result = pending
        if target._vbox[0] - explained == version:
            return
        if result._data is target._data:
            # an in-place view op (t_, unsqueeze_): the target became the view itself
            self.bind(target, node.outputs[0])
            return
        if result._data.shape != target._data.shape or not np.array_equal(
                _host(target._data), _host(result._data).astype(target._data.dtype),
                equal_nan=target._dtype.category >= D._FLOAT):
            self._check_version(target)
        node.inplace = True
        node.outputs[0].type = TensorType.of(target)
        self.bind(target, node.outputs[0])


def _host(arr):
    """A NumPy view of an array from any backend (CuPy arrays are copied to the host)."""
    return arr.get() if hasattr(arr, "get") and not isinstance(arr, np.ndarray) else arr


def _overwrites(op: str, attrs: dict) -> bool:
    """Whether an in-place op leaves nothing of its target's old value that depends on
    inputs: a full copy or fill, or an index_put at a fixed index."""
    if op in ("copy", "fill"):
        return True
    return op == "index_put" and not attrs.get("accumulate") and not values_in(
        attrs.get("key"), [])


def _conversion_hook(original, what: str):
    def hooked(self, *args, **kwargs):
        rec = _active
        if rec is None or threading.get_ident() != rec.thread:
            return original(self, *args, **kwargs)
        if rec.depth == 0 and rec.is_dynamic(self):
            rec.conversion(what, self)
        rec.depth += 1
        try:
            return original(self, *args, **kwargs)
        finally:
            rec.depth -= 1
    hooked.__name__ = getattr(original, "__name__", "hooked")
    hooked.__doc__ = original.__doc__
    return hooked


class Refusing:
    """While active, calling one of `calls` ((owner, attribute, why) triples) from the thread
    that entered raises `error(why)`; other threads call the originals.

    Python callables are swapped for a refusing stand-in. Built-in C functions (print) are
    left in place, because libraries imported meanwhile look them up by name (numba
    registers `print` at import): the calling thread's profile hook refuses them instead,
    unless a profiler already holds that hook."""

    def __init__(self, calls: list, error):
        self.calls = calls
        self.error = error

    def __enter__(self):
        thread = threading.get_ident()
        saved = [(owner, name, getattr(owner, name), why) for owner, name, why in self.calls]
        self.patched = [s for s in saved if not isinstance(s[2], types.BuiltinFunctionType)]
        self.builtins = {id(original): why for _, _, original, why in saved
                         if isinstance(original, types.BuiltinFunctionType)}

        def refuse(original, why):
            @functools.wraps(original)
            def call(*args, **kwargs):
                if threading.get_ident() != thread:
                    return original(*args, **kwargs)
                raise self.error(why)
            return call
        for owner, name, original, why in self.patched:
            setattr(owner, name, refuse(original, why))
        self.profiling = bool(self.builtins) and sys.getprofile() is None
        if self.profiling:
            sys.setprofile(self._on_event)
        return self

    def _on_event(self, frame, event, arg):
        if event == "c_call":
            why = self.builtins.get(id(arg))
            if why is not None:
                raise self.error(why)  # CPython drops the hook and skips the call

    def __exit__(self, *exc):
        if self.profiling and sys.getprofile() == self._on_event:
            sys.setprofile(None)
        for owner, name, original, _ in self.patched:
            setattr(owner, name, original)
        return False


_TRACE_BACKWARD = ("ember.jit.trace: backward() or autograd.grad() is called inside the traced "
                   "function; the graph would keep the values the forward saved for it from "
                   "this example. Trace the forward and differentiate the traced module, or "
                   "use ember.compile, which captures forward and backward.")


def is_tracing() -> bool:
    """Whether ember.jit.trace is recording the calling thread's ops (torch.jit.is_tracing);
    False in eager code, in ember.compile's captures and in scripted code."""
    rec = _active
    return type(rec) is _Recorder and rec.thread == threading.get_ident()


class _Tracing:
    """Context: install the recorder as an `apply` observer and hook Tensor conversions, for
    the calling thread only (other threads' ops and conversions are not this trace's)."""

    def __init__(self, recorder: _Recorder):
        self.recorder = recorder
        self.saved: dict = {}

    def __enter__(self):
        global _active, _active_tracing
        if _active is not None:
            raise RuntimeError("ember.jit.trace cannot be called while another trace runs")
        _active, _active_tracing = self.recorder, self
        rec = self.recorder
        rec.thread = threading.get_ident()
        rec.off_regions = GradState.off_regions  # no_grad regions the traced code enters: more
        for name, what in _CONVERSIONS.items():
            original = Tensor.__dict__.get(name)
            if original is not None:
                self.saved[name] = original
                setattr(Tensor, name, _conversion_hook(original, what))

        def observe(op, args, attrs, outputs):
            if threading.get_ident() == rec.thread:
                rec(op, args, attrs, outputs)
            else:
                rec.foreign_op()
        self.observe = observe
        dispatch.observers.append(observe)
        return rec

    def __exit__(self, *exc):
        global _active, _active_tracing
        dispatch.observers.remove(self.observe)
        for name, original in self.saved.items():
            setattr(Tensor, name, original)
        self.saved.clear()
        _active = _active_tracing = None
        return False


@contextlib.contextmanager
def suspended():
    """The active trace paused: ops run unrecorded and another capture (a scripted graph's
    build) may run; then it records again."""
    tracing = _active_tracing
    if tracing is None:
        yield
        return
    rec = tracing.recorder
    off_regions = rec.off_regions
    tracing.__exit__(None, None, None)
    try:
        yield
    finally:
        tracing.__enter__()
        rec.off_regions = off_regions
        rec.rng = _rng_state()  # what the paused code drew is not the trace's


def record_graph_call(graph: Graph, inputs: list, state: dict, outputs: list) -> None:
    """Record a call of a scripted graph inside the active trace (torch's traced code calling
    script code): its nodes, if/loop blocks included, go into the traced graph, reading the
    traced values of `inputs` and of its parameters and buffers (`state`: constant name ->
    tensor), and define the traced values of `outputs` (the call's results). Its control
    flow then follows every input, where traced Python code would be fixed."""
    rec = _active
    rec.settle()
    rec.pending = None
    mapping = {v.id: rec.value_of(t) for v, t in zip(graph.inputs, inputs)}
    for name, v in graph.constants.items():
        t = graph.constant_data[name] if graph.constant_kind[name] == "constant" else state[name]
        mapping[v.id] = rec.value_of(t)
    for node in graph.nodes:
        copy = rec.graph.create_node(
            node.op, node.args, node.attrs, [v.type for v in node.outputs],
            inplace=node.inplace, compute=node.compute, result=node.result,
            blocks=[_renumbered(b, rec.graph) for b in node.blocks])
        copy.saves, copy.tuple_out, copy.no_grad = node.saves, node.tuple_out, node.no_grad
        copy.map_inputs(lambda v: mapping[v.id])
        rec.graph.nodes.append(copy)
        mapping.update((old.id, new) for old, new in zip(node.outputs, copy.outputs))
        if any(v.id in rec.dynamic for v in copy.inputs()):
            rec.dynamic.update(v.id for v in copy.outputs)
    for t, v in zip(outputs, graph.outputs):
        rec.bind(t, mapping[v.id])


def _renumbered(block: Graph, outer: Graph) -> Graph:
    """A copy of a block whose values (its nested blocks' too) take fresh ids from `outer`:
    ids are unique across a graph and all its blocks."""
    copy = block.copy()

    def renumber(g: Graph) -> None:
        for v in [*g.inputs, *g.constants.values(), *(u for n in g.nodes for u in n.outputs)]:
            v.id = outer._next
            outer._next += 1
        for n in g.nodes:
            for b in n.blocks:
                renumber(b)
    renumber(copy)
    return copy


def _share_counter(graph: Graph, top: int) -> None:
    """Blocks number new values from `top`, past every id of the graph, as scripted graphs'
    blocks do."""
    for node in graph.nodes:
        for block in node.blocks:
            block._next = top
            _share_counter(block, top)


def _rng_state():
    from .._ops.random import default_generator
    return default_generator.get_state()._data.tobytes()


def _positional_parameters(fn) -> tuple[list, object]:
    """The parameters `fn` takes by position, and its *args parameter (or None)."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        params = []
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return positional, next((p for p in params if p.kind == p.VAR_POSITIONAL), None)


def input_names(fn, counts: list[int]) -> list[str]:
    """Names for the flattened inputs, from the function's parameter names."""
    positional, star = _positional_parameters(fn)
    names = []
    for i, n in enumerate(counts):
        if i < len(positional):
            stem = positional[i].name
        elif star is not None:
            stem = f"{star.name}_{i - len(positional)}"
        else:
            stem = f"input_{i}"
        names += [stem] if n == 1 else [f"{stem}_{k}" for k in range(n)]
    return names


def argument_names(fn, count: int) -> list[str] | None:
    """The parameter names of `fn`'s first `count` arguments, by which a traced graph can
    be called with keywords (as torch's traced modules are), or None when some of them
    have none (an *args tail, an unreadable signature)."""
    positional, _ = _positional_parameters(fn)
    if count > len(positional) or positional and positional[0].name == "self":
        return None
    return [p.name for p in positional[:count]]


def as_tuple(example) -> tuple:
    if isinstance(example, tuple):
        return example
    return (example,)


def trace_graph(fn, example, state: dict, strict: bool, signature_of=None,
                records_creation: bool = True):
    """Run fn(*example) with the recorder on; return (graph, whether random numbers were drawn).

    `state` maps id(tensor) -> (tensor, qualified name, kind) for a module's parameters and
    buffers; `signature_of` is the callable whose parameter names name the inputs. Factory
    calls (ember.zeros(x.shape[0], ...)) are recorded as ops, whose sizes can then follow the
    inputs' (frontend.generalized), unless `records_creation` is False: then their tensors
    are constants (ONNX export, which has its own size analysis).
    """
    args = as_tuple(example)
    flat, spec = flatten(args, "input")
    graph = Graph()
    graph.input_spec = spec
    graph.arg_names = argument_names(signature_of or fn, len(args))
    recorder = _Recorder(graph, state)
    if not records_creation:
        recorder.records_creation = False
    names = input_names(signature_of or fn, [len(flatten(a, "input")[0]) for a in args])
    for t, name in zip(flat, names):
        v = graph.add_input(TensorType.of(t), name)
        recorder.bind(t, v)
        recorder.dynamic.add(v.id)
    before = _rng_state()
    from .. import autograd
    with _Tracing(recorder), Refusing([(autograd, "backward", _TRACE_BACKWARD),
                                       (autograd, "grad", _TRACE_BACKWARD)], TraceError):
        out = fn(*args)
        recorder.settle()
    drew_random = _rng_state() != before
    if _rng_state() != recorder.rng:
        recorder.drawn_outside_ops()  # after the last op
    flat_out, out_spec = flatten(out, "output", strict)
    graph.outputs = [recorder.value_of(t) for t in flat_out]
    graph.output_spec = out_spec
    _protect_constants(graph, recorder.snapshots)
    eliminate_dead_code(graph)
    _share_counter(graph, graph._next)
    try:
        graph.verify()
    except GraphError as e:
        raise RuntimeError(f"ember.jit.trace produced an invalid graph: {e}") from None
    if recorder.random_outside:
        warnings.warn("Random numbers were drawn while tracing outside a random op (dropout's "
                      "noise is one): they are constants in the graph, so every call of the "
                      "traced function reuses them.", TracerWarning,
                      stacklevel=caller_stacklevel())
    return graph, drew_random


def _protect_constants(graph: Graph, snapshots: dict) -> None:
    """Anonymous constants that the graph writes into in place were fresh tensors in eager
    mode (built inside forward): keep their value from before the trace wrote into them and
    give each call a copy, so the stored one never changes."""
    info = AliasInfo(graph)
    for name in list(graph.constants):
        v = graph.constants[name]
        if graph.constant_kind[name] != "constant" or info.root(v.id) not in info.mutated:
            continue
        graph.constant_data[name] = snapshots[name]
        copy = graph.create_node("clone", [v], {}, [v.type]).outputs[0]

        def fresh(u, v=v, copy=copy):
            return copy if u is v else u
        first = next(i for i, n in enumerate(graph.nodes) if any(u is v for u in n.inputs()))
        for node in graph.nodes[first:]:
            node.map_inputs(fresh)
        graph.outputs = [fresh(u) for u in graph.outputs]
        graph.nodes.insert(first, copy.node)
