"""`apply`: the single interception point every op call goes through.

It computes PyTorch's result dtype, checks devices, runs the OpDef's forward on raw arrays,
wraps the outputs, and records the autograd node. In-place variants (`apply_`) reuse it and
then write into the target, rebasing the graph of a view's base when needed.
"""
from __future__ import annotations

import traceback
import warnings

import numpy as np

from .. import _dtype as D
from .._backend import namespace
from .._backend.fp_errors import quiet, restore
from .._backend.openblas import used as blas_used
from .._device import CPU
from .._tensor import Tensor
from ..autograd.grad_mode import Anomaly, GradState, Profiling
from ..autograd.graph import (Context, Node, SavedHooks, pack_saved, saved_constant, saved_input,
                             saved_output)
from .registry import named_node_class, refuse_unsigned

_PROMOTE = D._PROMOTE
_BY_NP = D._BY_NP
_UPCAST = {D.bfloat16: D.float32, D.float16: D.float32}
_SHELL = frozenset(D.SHELL_UNSIGNED)
# dtypes that leave apply's same-dtype fast path: half floats widen, shell unsigned dtypes meet
# the refusals of OpDef.unsigned in _promoted_arrays
_NOT_FAST = frozenset(_UPCAST) | _SHELL
_FLOAT = 2
_ndarray = np.ndarray
_NO_EDGE = (None, 0)

# Callbacks observer(op, args, attrs, outputs) run after every op: the JIT tracer, the profiler
# and the test suite's coverage check hook in here and nowhere else.
observers: list = []


def result_type(*args) -> D.dtype:
    """PyTorch's result dtype: dimensioned tensors, then zero-dim tensors, then Python scalars;
    a lower tier only matters when it is of a higher category (bool < int < float < complex),
    and a complex one over floats gives their complex counterpart (float64 * 1j is
    complex128)."""
    dim = zero = wrapped = None
    for a in args:
        if isinstance(a, Tensor):
            d = a._dtype
            if a._data.ndim:
                dim = d if dim is None else _PROMOTE[dim, d]
            else:
                zero = d if zero is None else _PROMOTE[zero, d]
        elif a is not None and not isinstance(a, (str, tuple, list)):
            d = D.scalar_dtype(a)
            wrapped = d if wrapped is None else _PROMOTE[wrapped, d]
    result = dim
    for lower in (zero, wrapped):
        if lower is not None and (result is None or lower.category > result.category):
            complex_over_float = lower.is_complex and result is not None and \
                result.category == _FLOAT
            result = result.to_complex() if complex_over_float else lower
    return result


def _common_dtype(args, positions):
    """Result dtype over the promoted arguments, with a fast path for same-dtype tensors."""
    first = None
    for i in positions:
        a = args[i]
        if type(a) is not Tensor and not isinstance(a, Tensor):
            return result_type(*(args[j] for j in positions))
        if first is None:
            first = a._dtype
        elif a._dtype is not first:
            return result_type(*(args[j] for j in positions))
    return first


def _as_array(a, dt, xp, op):
    """Cast a tensor's array or a Python scalar to dtype `dt` on the backend `xp`."""
    if isinstance(a, Tensor):
        data = a._data
        return data if data.dtype == dt.np else data.astype(dt.np)
    try:
        return xp.asarray(a, dtype=dt.np)
    except OverflowError:
        if isinstance(a, int) and dt.category == D._INT and -2 ** 63 <= a < 2 ** 63:
            return xp.asarray(a, dtype=np.int64).astype(dt.np)
        raise RuntimeError(f"{op.name}(): value {a} cannot be converted to type {dt.name} "
                           "without overflow") from None


def _device_of(args, op):
    """The device of an op call: all tensors must agree, except zero-dim CPU tensors (scalars)."""
    dev = None
    for a in args:
        if isinstance(a, Tensor) and (a._device.type != "cpu" or a._data.ndim):
            if dev is None:
                dev = a._device
            elif a._device != dev:
                raise RuntimeError(
                    f"{op.name}(): Expected all tensors to be on the same device, but found "
                    f"at least two devices, {dev} and {a._device}!")
    return dev or CPU


def compute_dtype(op, dt):
    """The dtype `op` computes in for the promoted dtype `dt` (see OpDef.widens)."""
    return _UPCAST.get(dt, dt) if op.widens else dt


def _refuse_unsigned(op, args):
    """torch's refusal of an op it has no uint16/32/64 kernel for (OpDef.unsigned)."""
    refuse_unsigned(op.unsigned, *(a._data if isinstance(a, Tensor) else a for a in args))


def _promoted_arrays(op, args, xp):
    """Arrays for forward, cast to the op's computation dtype; also the dtype outputs get
    when computing in a wider type (float16/bfloat16 compute in float32)."""
    positions = op.promote_args if op.promote_args is not None else range(len(args))
    dt = _common_dtype(args, positions)
    if dt is None:
        raise TypeError(f"{op.name}(): expected at least one Tensor argument")
    if op.promote == "float" and dt.category < _FLOAT:
        dt = D._Defaults.floating
    elif dt in _SHELL and op.unsigned is not True:
        _refuse_unsigned(op, args)
    compute = compute_dtype(op, dt)
    arrays = [a._data if isinstance(a, Tensor) else a for a in args]
    for i in positions:
        if args[i] is not None:
            arrays[i] = _as_array(args[i], compute, xp, op)
    return arrays, (dt if compute is not dt else None)


class AutocastState:
    """Autocast regions (ember.autocast): `dtypes` maps each device type with a region open to
    its lower-precision dtype; `active` is the one test apply makes on every call."""

    active = False
    dtypes: dict = {}


_AUTOCAST_ELIGIBLE = frozenset((D.float32, D.float16, D.bfloat16))


def autocast_inputs(policy: str, args) -> tuple:
    """`args` as an autocast region on their device casts them (differentiably): policy
    'lower' takes float32/float16/bfloat16 tensors to the region's dtype, 'float32' lifts
    half-precision ones to float32; float64 and non-float tensors are never touched. Ops
    declare a policy in OpDef.autocast; composites torch autocasts as one op call this."""
    out = []
    for a in args:
        if isinstance(a, Tensor):
            target = AutocastState.dtypes.get(a._device.type)
            if target is not None and a._dtype in _AUTOCAST_ELIGIBLE:
                if policy == "lower" and a._dtype is not target:
                    a = a.to(target)
                elif policy == "float32" and a._dtype is not D.float32:
                    a = a.to(D.float32)
        out.append(a)
    return tuple(out)


def apply(op, *args, **attrs):
    """Run `op` on `args` (Tensors, scalars, None) with keyword attributes; returns Tensor(s)."""
    if Profiling.active and Profiling.recorder.wants(op):
        return Profiling.recorder.call(apply, op, args, attrs)
    if AutocastState.active and op.autocast is not None:
        args = autocast_inputs(op.autocast, args)
    dev = CPU
    grad = False
    first = None
    same = True
    arrays = []
    for a in args:
        if isinstance(a, Tensor):
            if a._requires_grad:
                grad = True
            if a._device is not CPU:
                dev = None
            d = a._dtype
            if first is None:
                first = d
            elif d is not first:
                same = False
            arrays.append(a._data)
        else:
            same = False
            arrays.append(a)
    if not same and op.check_dtypes is not None:
        op.check_dtypes(*args)
    xp = np
    if dev is None:
        dev = _device_of(args, op)
        xp = namespace(dev)
        args = tuple(a._to_device(dev) if isinstance(a, Tensor) and a._device != dev else a
                     for a in args)
        arrays = [a._data if isinstance(a, Tensor) else a for a in args]
    out_dtype = None
    promote = op.promote
    if promote is not None and not (same and first is not None and first not in _NOT_FAST and (
            promote == "common" or first.category >= _FLOAT)):
        arrays, out_dtype = _promoted_arrays(op, args, xp)
    ctx = Context()
    record = grad and GradState.enabled and op.differentiable
    if record:
        needs = []  # a loop: a comprehension costs a frame per op call (Python 3.11)
        for a in args:
            needs.append(isinstance(a, Tensor) and a._requires_grad)
        ctx.needs_input_grad = tuple(needs)
    if op.blas:
        blas_used()
    fp = quiet() if op.quiet_fp else None
    try:
        out = op.forward(ctx, xp, *arrays, **attrs)
    except ValueError as e:
        raise RuntimeError(_describe_failure(op, args, e)) from None
    finally:
        if fp is not None:
            restore(fp)
    multi = type(out) is tuple
    if op.changes_device:
        dev = attrs["device"]
    if multi:
        outs = out
        results = [_wrap(arr, dev, out_dtype) for arr in out]
    else:
        outs = (out,)
        results = [_wrap(out, dev, out_dtype)]
    if op.is_view:
        _link_views(op, args[0], results, attrs)
    if op.writes is not None:
        for i in op.writes(attrs):
            if isinstance(args[i], Tensor):
                args[i]._vbox[0] += 1
    if record:
        _record(op, ctx, args, arrays, outs, results, attrs)
    if GradState.inference:
        for t in results:
            t._inference = True
    if observers:
        seen = tuple(results) if multi else results  # observers tell a 1-tuple by its type
        for observe in observers:
            observe(op, args, attrs, seen)
    return tuple(results) if multi else results[0]


def _wrap(arr, dev, out_dtype):
    """A fresh output Tensor around `arr` (cast back to `out_dtype` after a widened compute)."""
    if type(arr) is not _ndarray and dev is CPU:
        arr = np.asarray(arr)
    t = object.__new__(Tensor)
    if out_dtype is not None and arr.dtype.kind == "f":
        fp = quiet()  # the cast back overflows to inf as torch's does: silently
        try:
            arr = arr.astype(out_dtype.np)
        finally:
            restore(fp)
    t._data = arr
    t._dtype = _BY_NP[arr.dtype]
    t._device = dev
    t._requires_grad = False
    t._grad_fn = None
    t._output_nr = 0
    t._vbox = [0]
    t._base = None
    t._view_chain = ()
    return t


def broadcast_shape(*shapes) -> tuple:
    """The shape `shapes` broadcast to, folded left to right as torch's TensorIterator does, with
    torch's error naming the first misfit from the right ('tensor a' is the shape so far)."""
    out = ()
    for b in shapes:
        n = max(len(out), len(b))
        a, b = (1,) * (n - len(out)) + tuple(out), (1,) * (n - len(b)) + tuple(b)
        for i in range(n - 1, -1, -1):
            if a[i] != b[i] and a[i] != 1 and b[i] != 1:
                raise RuntimeError(f"The size of tensor a ({a[i]}) must match the size of tensor "
                                   f"b ({b[i]}) at non-singleton dimension {i}")
        out = tuple(y if x == 1 else x for x, y in zip(a, b))
    return out


def inplace_shape_error(target_shape, shapes) -> RuntimeError | None:
    """torch's error when operands of `shapes` do not broadcast into an in-place target, or None
    when they fit (so the failure lies elsewhere)."""
    try:
        shape = broadcast_shape(tuple(target_shape), *shapes)
    except RuntimeError as e:
        return e
    if shape != tuple(target_shape):
        return RuntimeError(f"output with shape {list(target_shape)} doesn't match the broadcast "
                            f"shape {list(shape)}")
    return None


def _describe_failure(op, args, err) -> str:
    msg = str(err)
    if "broadcast" in msg:
        try:
            broadcast_shape(*(a._data.shape for a in args if isinstance(a, Tensor)))
        except RuntimeError as e:
            return str(e)
    shapes = ", ".join(f"{list(a.shape)} ({a._dtype.name})" for a in args if isinstance(a, Tensor))
    return f"{op.name}(): {msg} (inputs: {shapes})"


def _link_views(op, src, results, attrs):
    """Make outputs that alias `src`'s memory views: shared version counter and base."""
    base = src._base if src._base is not None else src
    chain = src._view_chain
    single = len(results) == 1
    epoch = base._graph_epoch
    for k, t in enumerate(results):
        data = t._data
        if op.is_view == "maybe" and (data.base is None or isinstance(data, _ndarray)
                                      and not np.may_share_memory(data, src._data)):
            continue
        t._base = base
        t._vbox = src._vbox
        t._view_chain = chain + ((op, attrs, None if single else k),)
        if epoch:
            t._view_epoch = epoch


def _record(op, ctx, args, arrays, outs, results, attrs):
    """Attach a backward node for this call to the differentiable outputs."""
    edges = []
    metas = []
    for a, need in zip(args, ctx.needs_input_grad):
        if need:
            if a._base is not None and a._view_epoch != a._base._graph_epoch:
                refresh_view(a)
            fn = a._grad_fn
            if fn is not None:
                edges.append((fn, a._output_nr))
            else:
                edges.append((a._accumulator or a._get_accumulator(), 0))
            metas.append((a._data.shape, a._dtype))
        else:
            edges.append(_NO_EDGE)
            metas.append(None)
    if len(results) == 1:
        t = results[0]
        outputs_meta = ((t._data.shape, t._dtype, t._device),)
    else:
        outputs_meta = tuple([(t._data.shape, t._dtype, t._device) for t in results])
    node_class = op.node_class if op.node_of is None else \
        named_node_class(op, op.node_of(args, attrs))
    node = node_class(ctx, tuple(edges), tuple(metas), outputs_meta)
    if ctx._raw:
        saved = node._saved = []
        for raw in ctx._raw:
            saved.append(_SAVED_NONE if raw is None else
                         _saved_entry(raw, args, arrays, outs, results))
    non_diff = ctx.non_differentiable
    k = 0
    for t in results:
        if t._dtype.category >= _FLOAT and k not in non_diff:
            t._grad_fn = node
            t._output_nr = k
            t._requires_grad = True
        k += 1
    if SavedHooks.stack and ctx._raw:
        pack_saved(node, args, results)
    if Anomaly.enabled:
        node.metadata["traceback_"] = traceback.extract_stack()[:-3]


INFERENCE_SAVED = ("Inference tensors cannot be saved for backward. Please do not use Tensors "
                   "created in inference mode in computation tracked by autograd. To work "
                   "around this, you can make a clone to get a normal tensor and use it in "
                   "autograd, or use `ember.no_grad()` instead of `ember.inference_mode()`.")


def _saved_entry(raw, args, arrays, outs, results):
    """How a value saved by forward (not None) is kept: as the input Tensor it is, as a
    reference to an output, or as a constant array."""
    i = 0
    for arr in arrays:
        if raw is arr and isinstance(args[i], Tensor):
            if args[i]._inference:
                raise RuntimeError(INFERENCE_SAVED)
            return saved_input(args[i])
        i += 1
    k = 0
    for arr in outs:
        if raw is arr:
            r = results[k]
            return saved_output(r._data, k, r._vbox)
        k += 1
    return saved_constant(saved_array(raw))


def saved_array(raw):
    """A value forward saves, with a 0-d computation's NumPy scalar as a 0-d array: a trace
    adopts arrays as graph values, where a scalar would be baked in as the call's constant
    (eager keeps saved values so, and so does generated code)."""
    return np.asarray(raw) if isinstance(raw, np.generic) else raw


_SAVED_NONE = saved_constant(None)


def refuse_leaf(target, name: str) -> None:
    """Refuse an in-place change (`name`) of a leaf that requires grad while grad is on."""
    if GradState.enabled and target._requires_grad and target._grad_fn is None:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           f"operation ({name}). Wrap it in ember.no_grad() or use the "
                           "out-of-place form.")


def refuse_read_only(target, name: str) -> None:
    """Refuse an in-place write (`name`) into memory NumPy holds read-only: an expanded view
    (torch's error: elements share memory) or memory shared read-only (a non-writeable NumPy
    array, a DLPack import of read-only memory)."""
    data = target._data
    if getattr(data.flags, "writeable", True):
        return
    if any(s == 0 and n > 1 for s, n in zip(data.strides, data.shape)):
        raise RuntimeError("unsupported operation: more than one element of the written-to "
                           "tensor refers to a single memory location. Please clone() the "
                           "tensor before performing the operation.")
    raise RuntimeError(f"{name}(): the tensor's memory is read-only (it is shared with a "
                       "read-only buffer, such as a non-writeable NumPy array); clone() the "
                       "tensor before writing to it in place.")


def apply_(op, target, *args, **attrs):
    """In-place form of `apply`: computes op(target, *args) and writes it into `target`."""
    if Profiling.active and Profiling.recorder.wants(op):
        return Profiling.recorder.call(apply_, op, (target,) + args, attrs, inplace=True)
    if target._device is CPU and not target._data.flags.writeable:
        refuse_read_only(target, op.name + "_")
    if GradState.enabled:
        refuse_leaf(target, op.name + "_")
        base = target._base
        if base is not None and base._requires_grad and base._grad_fn is None:
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                               f"in-place operation ({op.name}_).")
        if not (target._requires_grad or any(isinstance(a, Tensor) and a._requires_grad
                                             for a in args)):
            return _inplace_fast(op, target, args, attrs)
    elif op.forward_inplace is not None:
        return _inplace_fast(op, target, args, attrs)
    result = apply(op, target, *args, **attrs)
    _write_into(op, target, result)
    return target


def _inplace_fast(op, target, args, attrs):
    """An in-place call that records no graph: write straight into target when the op can."""
    if op.forward_inplace is None or target._device is not CPU:
        with _no_grad_inplace():
            result = apply(op, target, *args, **attrs)
        _write_into(op, target, result)
        return target
    if op.promote is not None:
        dt = _common_dtype((target,) + args, range(len(args) + 1))
        if op.promote == "float" and dt.category < _FLOAT:
            dt = D._Defaults.floating
        elif dt in _SHELL and op.unsigned is not True:
            _refuse_unsigned(op, (target,) + args)
        if dt is not target._dtype and dt.category > target._dtype.category:
            raise _cast_error(dt, target._dtype)
    arrays = [a._data if isinstance(a, Tensor) else a for a in args]
    fp = quiet()
    try:
        op.forward_inplace(np, target._data, *arrays, **attrs)
    except ValueError:
        error = inplace_shape_error(target._data.shape, [a.shape for a in arrays
                                                         if hasattr(a, "shape")])
        if error is None:
            raise
        raise error from None
    finally:
        restore(fp)
    target._vbox[0] += 1
    if observers:
        for observe in observers:
            observe(op, (target,) + args, attrs, [target])
    return target


def _cast_error(result: D.dtype, target: D.dtype) -> RuntimeError:
    """torch's refusal to write a result into a tensor of a lower dtype category."""
    return RuntimeError(f"result type {D.SCALAR_NAMES[result]} can't be cast to the desired "
                        f"output type {D.SCALAR_NAMES[target]}")


def _write_into(op, target, result):
    """Store `result` in `target`'s memory and move `target` (and its base) onto result's graph."""
    if result._dtype is not target._dtype and result._dtype.category > target._dtype.category:
        raise _cast_error(result._dtype, target._dtype)
    if result._data.shape != target._data.shape:
        raise RuntimeError(f"output with shape {list(target.shape)} doesn't match the broadcast "
                           f"shape {list(result.shape)}")
    node = result._grad_fn
    if node is not None and any(entry[2] is not None for entry in target._view_chain):
        last, _, k = target._view_chain[-1]
        name = last.node_class.__name__.removesuffix("Backward0")
        raise RuntimeError(f"Output {k or 0} of {name} is a view and is being modified inplace. "
                           "This view is the output of "
                           "a function that returns multiple views. Such functions do not allow "
                           "the output views to be modified inplace. You should replace the "
                           "inplace operation by an out-of-place one.")
    if node is not None:
        node.keep_value_before_write(target)
    if target._dtype.np == result._data.dtype:
        target._data[...] = result._data
    else:
        target._data[...] = result._data.astype(target._dtype.np)
    target._vbox[0] += 1
    if node is None:
        return
    target._grad_fn = node
    target._output_nr = result._output_nr
    target._requires_grad = True
    base = target._base
    if base is not None:
        _rebase_view(target, base, node, result._output_nr)
    else:
        target._graph_epoch += 1


class CopySlices(Node):
    """The grad_fn a base gets when one of its views is written in place: the gradient of the
    view's region goes to the in-place op; the rest goes to the base's previous history."""

    __slots__ = ("_chain", "_base_meta")

    def __init__(self, base, chain, node, output_nr):
        fn = base._grad_fn
        old = ((fn, base._output_nr) if fn is not None
               else (base._get_accumulator(), 0) if base._requires_grad else (None, 0))
        super().__init__((old, (node, output_nr)))
        self._chain = chain
        self._base_meta = (base._data.shape, base._dtype, base._device)

    def apply(self, grads):
        (g,) = grads
        rest = g.clone()
        # Recorded when create_graph is on (the engine sets grad mode), so double backward
        # sees that the view's region of `rest` no longer depends on g.
        replay_view(rest, self._chain).zero_()
        return [rest, replay_view(g, self._chain)]


class _no_grad_inplace:
    """Run ops without recording them (bookkeeping that must not enter a graph)."""

    def __enter__(self):
        self._prev = GradState.enabled
        GradState.enabled = False

    def __exit__(self, *exc):
        GradState.enabled = self._prev


def replay_view(tensor, chain):
    """Apply a recorded chain of view ops to `tensor` (used to re-derive a view from its base)."""
    for op, attrs, k in chain:
        tensor = apply(op, tensor, **attrs)
        if k is not None:
            tensor = tensor[k]
    return tensor


def refresh_view(view) -> None:
    """Re-derive a view's grad_fn from its base after the base's history changed in place."""
    base = view._base
    prev = GradState.enabled
    GradState.enabled = True
    try:
        regenerated = replay_view(base, view._view_chain)
    finally:
        GradState.enabled = prev
    view._grad_fn = regenerated._grad_fn
    view._output_nr = regenerated._output_nr
    view._requires_grad = regenerated._requires_grad
    view._view_epoch = base._graph_epoch


def _rebase_view(view, base, node, output_nr):
    """After an in-place op on `view`, the base's history goes through CopySlices, and the
    view is re-derived from the base (a new epoch, so other views of it refresh too)."""
    base._grad_fn = CopySlices(base, view._view_chain, node, output_nr)
    base._output_nr = 0
    base._requires_grad = True
    base._graph_epoch += 1
    refresh_view(view)


def write_out(result, out):
    """Implement `out=`: copy `result` into the given tensor (resizing an empty one)."""
    if out is None:
        return result
    if isinstance(result, tuple):
        for r, o in zip(result, out):
            write_out(r, o)
        return out
    if result._dtype.category > out._dtype.category:
        raise RuntimeError(f"result type {result._dtype.name} can't be cast to the desired "
                           f"output type {out._dtype.name} (out= tensor)")
    if GradState.enabled and (result._requires_grad or out._requires_grad):
        raise RuntimeError(f"{result._grad_fn.name() if result._grad_fn else 'op'}(): functions "
                           "with out=... arguments don't support automatic differentiation")
    if out._data.shape != result._data.shape:
        if out._data.size:
            warnings.warn(f"An output with one or more elements was resized since it had shape "
                          f"{list(out.shape)}, which does not match the required output shape "
                          f"{list(result.shape)}. This behavior is deprecated; resize the "
                          "output to zero elements with t.resize_(0) first.", UserWarning,
                          stacklevel=3)
        out._data = result._data.astype(out._dtype.np)
    else:
        out._data[...] = result._data
    out._vbox[0] += 1
    return out
