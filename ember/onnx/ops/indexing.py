"""Lowerings of the indexing family: gather/scatter (GatherElements/ScatterElements), the
index_* ops (Gather/ScatterND), masked ops (Where, CumSum), put and nonzero."""
from __future__ import annotations

import numpy as np

from ... import _dtype as D
from .._types import highest, lowest
from ..lowering import lowers
from .pointwise import to_bool

_REDUCTIONS = {None: None, "add": "add", "multiply": "mul", "sum": "add", "prod": "mul",
               "amax": "max", "amin": "min", "mean": "add"}


def _as_1d(b, x: str, ndim: int) -> str:
    return b.op("Reshape", [x, b.ints([1])]) if ndim == 0 else x


def _from_1d(b, x: str, ndim: int) -> str:
    return b.op("Reshape", [x, b.ints([])]) if ndim == 0 else x


def _crop(ctx, name: str, have: tuple, want: tuple, dim: int) -> str:
    """Slice `name` (shape `have`) down to `want` in every axis but `dim` (torch's gather and
    scatter accept a smaller index)."""
    axes = [a for a in range(len(have)) if a != dim and have[a] != want[a]]
    if not axes:
        return name
    return ctx.b.slice(name, [0] * len(axes), [want[a] for a in axes], axes)


@lowers("gather", via="GatherElements")
def _gather(ctx):
    b = ctx.b
    x, index = ctx.input(0), ctx.input(1, D.int64)
    shape, ishape = ctx.shape(0), ctx.shape(1)
    ndim = len(shape)
    dim = ctx.attr("dim") % max(ndim, 1)
    if ndim:
        x = _crop(ctx, x, shape, ishape, dim)
    out = b.op("GatherElements", [_as_1d(b, x, ndim), _as_1d(b, index, len(ishape))],
               axis=dim)
    return _from_1d(b, out, len(ctx.out_shape()))


def _fit_src(ctx, src: str) -> str:
    """The src of a scatter shaped like its index: torch accepts a scalar or a larger src."""
    b = ctx.b
    ishape = ctx.shape(1)
    if ctx.is_tensor(2) and ctx.shape(2) == ishape:
        return src
    if ctx.is_tensor(2) and len(ctx.shape(2)) == len(ishape):
        return b.slice(src, [0] * len(ishape), list(ishape), list(range(len(ishape))))
    return b.op("Expand", [src, b.shape(ctx.input(1))])


def _scatter_elements(b, x: str, index: str, src: str, dim: int, reduction, ndim: int):
    """ScatterElements, with a 0-d x (and index, src) as 1-element vectors."""
    if ndim == 0:
        x, index, src = (b.op("Reshape", [t, b.ints([-1])]) for t in (x, index, src))
    out = b.op("ScatterElements", [x, index, src], axis=dim, reduction=reduction)
    return _from_1d(b, out, ndim)


def _needs_18(ctx, reduction) -> None:
    if reduction in ("max", "min") and ctx.opset < 18:
        ctx.unsupported(f"ScatterElements reduction '{reduction}' needs opset 18", (18, 21))


@lowers("scatter", via="ScatterElements")
def _scatter(ctx):
    b = ctx.b
    x = ctx.input(0)
    dt = b.dtype(x)
    reduction = _REDUCTIONS[ctx.attr("reduce", None)]
    dim = ctx.attr("dim") % max(len(ctx.shape(0)), 1)
    if dt is D.bool and reduction:
        x = b.cast(x, D.int32)
    src = _fit_src(ctx, ctx.input(2, b.dtype(x)))
    return _scatter_elements(b, x, ctx.input(1, D.int64), src, dim, reduction,
                             len(ctx.shape(0)))


@lowers("scatter_add", via="ScatterElements")
def _scatter_add(ctx):
    b = ctx.b
    x = ctx.input(0)
    if b.dtype(x) is D.bool:
        x = b.cast(x, D.int32)
    dim = ctx.attr("dim") % max(len(ctx.shape(0)), 1)
    src = _fit_src(ctx, ctx.input(2, b.dtype(x)))
    return _scatter_elements(b, x, ctx.input(1, D.int64), src, dim, "add", len(ctx.shape(0)))


@lowers("scatter_reduce", via="ScatterElements")
def _scatter_reduce(ctx):
    b = ctx.b
    x = ctx.input(0)
    dt = b.dtype(x)
    mode = ctx.attr("reduce")
    include_self = ctx.attr("include_self", True)
    reduction = _REDUCTIONS[mode]
    _needs_18(ctx, reduction)
    ndim = len(ctx.shape(0))
    dim = ctx.attr("dim") % max(ndim, 1)
    index = ctx.input(1, D.int64)
    src = _fit_src(ctx, ctx.input(2, dt))

    def scatter(data, updates, how):
        return _scatter_elements(b, data, index, updates, dim, how, ndim)

    if not include_self:
        identity = {"add": 0, "mul": 1, "max": lowest(dt), "min": highest(dt)}[reduction]
        x = scatter(x, b.op("Expand", [b.scalar(identity, dt), b.shape(index)]), None)
    out = scatter(x, src, reduction)
    if mode != "mean":
        return out
    ones = b.op("Expand", [b.scalar(1, dt), b.shape(index)])
    base = b.op("Expand", [b.scalar(1, dt), b.shape(x)])
    if not include_self:
        base = scatter(base, b.op("Sub", [ones, ones]), None)
    counts = scatter(base, ones, "add")
    counts = b.op("Max", [counts, b.scalar(1, dt)])
    return b.op("Div", [out, counts])


@lowers("index_select", via="Gather")
def _index_select(ctx):
    b = ctx.b
    x = ctx.input(0)
    ndim = len(ctx.shape(0))
    index = b.op("Reshape", [ctx.input(1, D.int64), b.ints([-1])])
    if ndim == 0:
        return b.op("Identity", [x])
    return b.op("Gather", [x, index], axis=ctx.attr("dim") % ndim)


def _index_update(ctx, values: str, reduction):
    """x with the slices `index` along dim replaced by (or added to) `values`."""
    b = ctx.b
    x = ctx.input(0)
    ndim = len(ctx.shape(0))
    index = b.op("Reshape", [ctx.input(1, D.int64), b.ints([-1, 1])])
    if ndim == 0:
        flat = b.op("Reshape", [x, b.ints([1])])
        vals = b.op("Reshape", [values, b.ints([1])])
        out = b.op("ScatterND", [flat, index, vals], reduction=reduction)
        return b.op("Reshape", [out, b.ints([])])
    dim = ctx.attr("dim") % ndim
    perm = [dim] + [a for a in range(ndim) if a != dim]
    inverse = [int(a) for a in np.argsort(perm)]
    moved = b.op("Transpose", [x], perm=perm)
    out = b.op("ScatterND", [moved, index, values], reduction=reduction)
    return b.op("Transpose", [out], perm=inverse)


def _moved_src(ctx, src: str, i: int = 2) -> str:
    """The source of index_add/index_copy with the indexed dim first."""
    b = ctx.b
    ndim = len(ctx.shape(0))
    if ndim == 0:
        return src
    dim = ctx.attr("dim") % ndim
    if len(ctx.shape(i)) < ndim:
        src = b.unsqueeze(src, [dim])
    perm = [dim] + [a for a in range(ndim) if a != dim]
    return b.op("Transpose", [src], perm=perm)


@lowers("index_add", via="Transpose, ScatterND")
def _index_add(ctx):
    b = ctx.b
    dt = b.dtype(ctx.input(0))
    src = ctx.input(2, dt)
    alpha = ctx.attr("alpha", 1)
    if alpha != 1:
        src = b.op("Mul", [src, b.scalar(alpha, dt)])
    return _index_update(ctx, _moved_src(ctx, src), "add")


@lowers("index_copy", via="Transpose, ScatterND")
def _index_copy(ctx):
    dt = ctx.b.dtype(ctx.input(0))
    return _index_update(ctx, _moved_src(ctx, ctx.input(2, dt)), None)


@lowers("index_fill", via="Expand, ScatterND")
def _index_fill(ctx):
    b = ctx.b
    x = ctx.input(0)
    dt = b.dtype(x)
    ndim = len(ctx.shape(0))
    value = ctx.input(2, dt)
    index = b.op("Reshape", [ctx.input(1, D.int64), b.ints([-1])])
    if ndim == 0:
        return _index_update(ctx, value, None)
    dim = ctx.attr("dim") % ndim
    perm = [dim] + [a for a in range(ndim) if a != dim]
    moved_shape = b.shape(b.op("Transpose", [x], perm=perm), 1)
    shape = b.concat([b.shape(index), moved_shape])
    return _index_update(ctx, b.op("Expand", [value, shape]), None)


@lowers("masked_fill", via="Where")
def _masked_fill(ctx):
    b = ctx.b
    x = ctx.input(0)
    mask = to_bool(b, ctx.input(1))
    value = ctx.input(2, b.dtype(x))
    return b.op("Where", [mask, value, x])


@lowers("masked_scatter", via="CumSum, Gather, Where")
def _masked_scatter(ctx):
    b = ctx.b
    x = ctx.input(0)
    dt = b.dtype(x)
    shape = ctx.ints(list(ctx.attr_dyn("shape")))
    mask = b.op("Reshape", [b.op("Expand", [to_bool(b, ctx.input(1)), shape]), b.ints([-1])])
    flat = b.op("Reshape", [b.op("Expand", [x, shape]), b.ints([-1])])
    src = b.op("Reshape", [ctx.input(2, dt), b.ints([-1])])
    taken = b.op("CumSum", [b.cast(mask, D.int64), b.const(0, D.int64)])
    at = b.op("Max", [b.op("Sub", [taken, b.scalar(1, D.int64)]), b.scalar(0, D.int64)])
    picked = b.op("Gather", [src, at], axis=0)
    return b.op("Reshape", [b.op("Where", [mask, picked, flat]), shape])


@lowers("put", via="ScatterElements")
def _put(ctx):
    b = ctx.b
    x = ctx.input(0)
    dt = b.dtype(x)
    accumulate = ctx.attr("accumulate", False)
    work = b.cast(x, D.int32) if dt is D.bool and accumulate else x
    flat = b.op("Reshape", [work, b.ints([-1])])
    index = b.op("Reshape", [ctx.input(1, D.int64), b.ints([-1])])
    src = b.op("Reshape", [ctx.input(2, b.dtype(work)), b.ints([-1])])
    out = b.op("ScatterElements", [flat, index, src], axis=0,
               reduction="add" if accumulate else None)
    return b.op("Reshape", [out, b.shape(x)])


@lowers("nonzero", via="NonZero, Transpose")
def _nonzero(ctx):
    b = ctx.b
    ndim = len(ctx.shape(0))
    if ndim == 0:
        ctx.unsupported("nonzero of a 0-d tensor")
    x = ctx.input(0)
    if b.dtype(x) is D.bool:
        x = b.cast(x, D.uint8)
    found = b.op("NonZero", [x], dtype=D.int64)
    if not ctx.attr("as_tuple", False):
        return b.op("Transpose", [found], perm=[1, 0])
    rows = b.split(found, [1] * ndim, 0) if ndim > 1 else [found]
    return [b.squeeze(r, [0]) for r in rows]
