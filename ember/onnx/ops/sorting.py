"""Lowerings of the sorting family: sort and topk (TopK), unique and unique_consecutive,
searchsorted, bincount and histc (ScatterElements into zeros)."""
from __future__ import annotations

import numpy as np

from ... import _dtype as D
from .._types import is_float
from ..lowering import lowers
from .reduction import sorted_along, top_k

_BOOL = D.bool


@lowers("sort", via="TopK")
def _sort(ctx):
    b = ctx.b
    x = ctx.input(0)
    ndim = len(ctx.shape(0))
    if ndim == 0:
        return b.op("Identity", [x]), b.const(0, D.int64)
    dim = ctx.attr("dim") % ndim
    return sorted_along(ctx, x, dim, ctx.size(0, dim), ctx.attr("descending", False))


@lowers("topk", via="TopK")
def _topk(ctx):
    b = ctx.b
    x = ctx.input(0)
    ndim = len(ctx.shape(0))
    if ndim == 0:
        return b.op("Identity", [x]), b.const(0, D.int64)
    return top_k(b, x, b.ints([ctx.attr("k")]), ctx.attr("dim") % ndim,
                 ctx.attr("largest", True))


@lowers("unique", via="Unique")
def _unique(ctx):
    b = ctx.b
    x = ctx.input(0)
    dt = b.dtype(x)
    if not is_float(dt):
        x = b.cast(x, D.int64)
    elif dt is not D.float64:
        x = b.cast(x, D.float32)
    dim = ctx.attr("dim", None)
    ndim = len(ctx.shape(0))
    axis = None if dim is None else dim % ndim
    values, _, inverse, counts = b.op("Unique", [x], outputs=4,
                                      dtype=[b.dtype(x), D.int64, D.int64, D.int64],
                                      sorted=1, axis=axis)
    if axis is None:
        inverse = b.op("Reshape", [inverse, b.shape(ctx.input(0))])
    return b.cast(values, dt), inverse, counts


@lowers("searchsorted", via="Less/LessOrEqual, ReduceSum")
def _searchsorted(ctx):
    b = ctx.b
    seq, values = ctx.input(0, ctx.compute_dtype()), ctx.input(1, ctx.compute_dtype())
    if ctx.is_tensor(2):
        seq = b.op("GatherElements", [seq, ctx.input(2, D.int64)], axis=-1)
    ndim_seq = len(ctx.shape(0))
    ndim_values = len(ctx.shape(1)) if ctx.is_tensor(1) else 0
    if ndim_seq > 1:
        seq = b.unsqueeze(seq, [ndim_seq - 1])
    elif ndim_values == 0:
        values = b.unsqueeze(values, [0])
    values = b.unsqueeze(values, [-1])
    right = ctx.attr("right", False)
    below = b.op("LessOrEqual" if right else "Less", [seq, values], dtype=_BOOL)
    if is_float(b.dtype(seq)):
        nan_v = b.op("IsNaN", [values], dtype=_BOOL)
        if not right:
            nan_v = b.op("And", [nan_v, b.op("Not", [b.op("IsNaN", [seq], dtype=_BOOL)])])
        below = b.op("Or", [below, nan_v])
    found = b.reduce("ReduceSum", b.cast(below, D.int64), [-1], False)
    if ndim_seq == 1 and ndim_values == 0:
        found = b.squeeze(found, [0])
    return found


@lowers("bincount", via="ReduceMax, ConstantOfShape, ScatterElements")
def _bincount(ctx):
    b = ctx.b
    from ..export import one_element
    x = ctx.input(0, D.int64)
    minlength = ctx.attr("minlength", 0)
    out = ctx.out_dtype()
    top = b.op("Add", [b.reduce("ReduceMax", b.op("Concat", [x, b.ints([-1])], axis=0), None,
                                True), b.ints([1])])
    length = b.op("Max", [top, b.ints([minlength])])
    zeros = b.op("ConstantOfShape", [length], dtype=out, value=one_element(0, out))
    weights = ctx.input(1, out) if ctx.is_tensor(1) else b.op(
        "Expand", [b.scalar(1, out), b.shape(x)])
    return b.op("ScatterElements", [zeros, x, weights], axis=0, reduction="add")


@lowers("histc", via="ReduceMin/ReduceMax, Floor, ScatterElements")
def _histc(ctx):
    b = ctx.b
    from ..export import one_element
    x = b.op("Reshape", [ctx.input(0), b.ints([-1])])
    dt = b.dtype(x)
    if not is_float(dt):
        ctx.unsupported(f"histc of {dt.name} tensors")
    bins = ctx.attr("bins")
    lo, hi = float(ctx.attr("min", 0.0)), float(ctx.attr("max", 0.0))
    if lo == hi:
        has = b.op("Greater", [b.shape(x), b.ints([0])], dtype=_BOOL)
        zero = b.const([0.0], dt)

        def extreme(op_type, pad):
            found = b.reduce(op_type, b.op("Concat", [x, b.const([pad], dt)], axis=0), None,
                             True)
            return b.op("Where", [has, found, zero])
        low, high = extreme("ReduceMin", float("inf")), extreme("ReduceMax", float("-inf"))
        same = b.op("Equal", [low, high], dtype=_BOOL)
        one = b.const([1.0], dt)
        low = b.op("Where", [same, b.op("Sub", [low, one]), low])
        high = b.op("Where", [same, b.op("Add", [high, one]), high])
    else:
        low, high = b.const([lo], dt), b.const([hi], dt)
    inside = b.op("And", [b.op("GreaterOrEqual", [x, low], dtype=_BOOL),
                          b.op("LessOrEqual", [x, high], dtype=_BOOL)])
    scaled = b.op("Div", [b.op("Mul", [b.op("Sub", [x, low]), b.scalar(bins, dt)]),
                          b.op("Sub", [high, low])])
    slot = b.cast(b.op("Floor", [scaled]), D.int64)
    slot = b.op("Min", [b.op("Max", [slot, b.scalar(0, D.int64)]), b.scalar(bins - 1, D.int64)])
    zeros = b.op("ConstantOfShape", [b.ints([bins])], dtype=dt, value=one_element(0.0, dt))
    return b.op("ScatterElements", [zeros, slot, b.cast(inside, dt)], axis=0, reduction="add")


@lowers("unique_consecutive", via="Equal, Compress, CumSum, NonZero")
def _unique_consecutive(ctx):
    """A run starts wherever an entry (or a slice along dim) differs from the one before."""
    b = ctx.b
    x = ctx.input(0)
    shape = ctx.shape(0)
    dim = ctx.attr("dim", None)
    if 0 in shape:
        ctx.unsupported("unique_consecutive of an empty tensor")
    if dim is None:
        rows = b.op("Reshape", [x, b.ints([-1, 1])])
        axis = 0
    else:
        axis = dim % len(shape)
        perm = [axis] + [a for a in range(len(shape)) if a != axis]
        rows = b.op("Reshape", [b.op("Transpose", [x], perm=perm), b.ints([0, -1])])
    big = np.iinfo(np.int64).max
    later = b.slice(rows, [1], [big], [0])
    earlier = b.slice(rows, [0], [-1], [0])
    changed = b.cast(b.op("Not", [b.op("Equal", [later, earlier], dtype=_BOOL)]), D.int32)
    starts_run = b.op("Greater", [b.reduce("ReduceMax", changed, [1], False),
                                  b.scalar(0, D.int32)], dtype=_BOOL)
    mask = b.concat([b.const([True], _BOOL), starts_run], 0)
    values = b.op("Compress", [b.op("Reshape", [x, b.ints([-1])]) if dim is None else x, mask],
                  axis=axis)
    inverse = b.op("Sub", [b.op("CumSum", [b.cast(mask, D.int64), b.const(0, D.int64)]),
                           b.scalar(1, D.int64)])
    if dim is None:
        inverse = b.op("Reshape", [inverse, b.shape(x)])
    starts = b.op("Reshape", [b.op("NonZero", [mask], dtype=D.int64), b.ints([-1])])
    ends = b.concat([b.slice(starts, [1], [big], [0]), b.shape(mask)], 0)
    return values, inverse, b.op("Sub", [ends, starts])
