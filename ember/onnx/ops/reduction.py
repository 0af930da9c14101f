"""Lowerings of the reduction family: sums, means, extremes with indices, logical reductions,
variance, logsumexp, cumulative sums, norms, median and quantiles."""
from __future__ import annotations

import math

import numpy as np

from ... import _dtype as D
from .._types import is_float
from ..lowering import lowers
from .pointwise import to_bool

_BOOL = D.bool


def reduce_axes(ctx, name: str = "dims") -> list | None:
    """The reduced axes (non-negative), or None for all of them."""
    dims = ctx.attr(name, None)
    if dims is None:
        return None
    if isinstance(dims, int):
        dims = (dims,)
    ndim = len(ctx.shape(0))
    return [d % ndim for d in dims] if ndim else []


def _reduce(ctx, op_type: str, x: str, axes, keepdim: bool) -> str:
    """Reduce over `axes`; reducing a 0-d tensor is the identity."""
    if not ctx.shape(0):
        return ctx.b.op("Identity", [x])
    return ctx.b.reduce(op_type, x, axes, keepdim)


def count(ctx, i: int, axes) -> object:
    """How many elements of argument i the axes cover: an int, or a [1] int64 tensor."""
    ndim = len(ctx.shape(i))
    axes = range(ndim) if axes is None else axes
    sizes = [ctx.size(i, a) for a in axes]
    static = math.prod(s for s in sizes if isinstance(s, int))
    dynamic = [s for s in sizes if not isinstance(s, int)]
    if not dynamic:
        return static
    b = ctx.b
    out = dynamic[0]
    for s in dynamic[1:]:
        out = b.op("Mul", [out, s])
    return out if static == 1 else b.op("Mul", [out, b.ints([static])])


def as_scalar(ctx, n, dtype: D.dtype) -> str:
    """An int or [1] int64 tensor as a tensor of `dtype`."""
    if isinstance(n, int):
        return ctx.b.scalar(n, dtype)
    return ctx.b.cast(n, dtype)


def _plain(op_type: str, cast_bool: bool = False):
    """sum/prod/mean/amax/amin: cast to the output dtype, reduce."""
    def lower(ctx):
        b = ctx.b
        out = ctx.out_dtype()
        x = b.cast(ctx.input(0), out)
        if cast_bool and out is _BOOL:
            x = b.cast(x, D.int32)
        axes = reduce_axes(ctx, "dims" if "dims" in ctx.node.attrs else "dim")
        return _reduce(ctx, op_type, x, axes, ctx.attr("keepdim", False))
    return lower


lowers("sum", via="ReduceSum")(_plain("ReduceSum"))
lowers("prod", via="ReduceProd")(_plain("ReduceProd"))


def has_nan(b, x: str, axes, keepdim: bool) -> str:
    """Whether any element over `axes` is NaN (ONNX's ReduceMax/ArgMax skip NaNs; torch
    propagates them)."""
    found = b.reduce("ReduceMax", b.cast(b.op("IsNaN", [x], dtype=_BOOL), D.int32), axes,
                     keepdim)
    return b.op("Greater", [found, b.scalar(0, D.int32)], dtype=_BOOL)


def first_nan(b, x: str, axis: int, keepdim: bool) -> str:
    """The index of the first NaN along `axis`."""
    return b.op("ArgMax", [b.cast(b.op("IsNaN", [x], dtype=_BOOL), D.int32)], dtype=D.int64,
                axis=axis, keepdims=int(keepdim))


def _nan_max(op_type: str):
    def lower(ctx):
        b = ctx.b
        out = _plain(op_type, cast_bool=True)(ctx)
        x = ctx.input(0)
        if not is_float(b.dtype(x)) or not ctx.shape(0):
            return out
        nan = has_nan(b, x, reduce_axes(ctx), ctx.attr("keepdim", False))
        return b.op("Where", [nan, b.scalar(float("nan"), b.dtype(out)), out])
    return lower


lowers("amax", via="ReduceMax, IsNaN")(_nan_max("ReduceMax"))
lowers("amin", via="ReduceMin, IsNaN")(_nan_max("ReduceMin"))


@lowers("mean", via="ReduceSum, Div")
def _mean(ctx):
    b = ctx.b
    out = ctx.out_dtype()
    x = b.cast(ctx.input(0), out)
    if not ctx.shape(0):
        return b.op("Identity", [x])
    axes = reduce_axes(ctx)
    total = b.reduce("ReduceSum", x, axes, ctx.attr("keepdim", False))
    return b.op("Div", [total, as_scalar(ctx, count(ctx, 0, axes), out)])


@lowers("nansum", via="IsNaN, Where, ReduceSum")
def _nansum(ctx):
    b = ctx.b
    x = b.cast(ctx.input(0), ctx.out_dtype())
    if is_float(b.dtype(x)):
        x = b.op("Where", [b.op("IsNaN", [x], dtype=_BOOL), b.scalar(0, b.dtype(x)), x])
    return _reduce(ctx, "ReduceSum", x, reduce_axes(ctx), ctx.attr("keepdim", False))


def _arg(op_type: str):
    def lower(ctx):
        b = ctx.b
        x = ctx.input(0)
        if b.dtype(x) is _BOOL:
            x = b.cast(x, D.int32)
        dim = ctx.attr("dim", None)
        keepdim = ctx.attr("keepdim", False)
        ndim = len(ctx.shape(0))
        if dim is None:
            flat = b.op("Reshape", [x, b.ints([-1])])
            out = _nan_first(b, op_type, flat, 0, False)
            return b.op("Reshape", [out, b.ints([1] * ndim)]) if keepdim else out
        if ndim == 0:
            return b.const(0, D.int64)
        return _nan_first(b, op_type, x, dim % ndim, keepdim)
    return lower


def _nan_first(b, op_type: str, x: str, axis: int, keepdim: bool) -> str:
    """ArgMax/ArgMin, pointing at the first NaN where there is one (as torch does)."""
    index = b.op(op_type, [x], dtype=D.int64, axis=axis, keepdims=int(keepdim))
    if not is_float(b.dtype(x)):
        return index
    return b.op("Where", [has_nan(b, x, [axis], keepdim), first_nan(b, x, axis, keepdim),
                          index])


lowers("argmax", via="ArgMax")(_arg("ArgMax"))
lowers("argmin", via="ArgMin")(_arg("ArgMin"))


def _extreme_with_index(reduce_type: str, arg_type: str):
    def lower(ctx):
        b = ctx.b
        x = ctx.input(0)
        source = x
        if b.dtype(x) is _BOOL:
            x = b.cast(x, D.int32)
        ndim = len(ctx.shape(0))
        if ndim == 0:
            return b.op("Identity", [source]), b.const(0, D.int64)
        dim = ctx.attr("dim") % ndim
        keepdim = ctx.attr("keepdim", False)
        values = b.reduce(reduce_type, x, [dim], keepdim)
        index = _nan_first(b, arg_type, x, dim, keepdim)
        if is_float(b.dtype(x)):
            nan = has_nan(b, x, [dim], keepdim)
            values = b.op("Where", [nan, b.scalar(float("nan"), b.dtype(x)), values])
        return values, index
    return lower


lowers("max", via="ReduceMax, ArgMax")(_extreme_with_index("ReduceMax", "ArgMax"))
lowers("min", via="ReduceMin, ArgMin")(_extreme_with_index("ReduceMin", "ArgMin"))


def _logical(all_of: bool):
    def lower(ctx):
        b = ctx.b
        x = to_bool(b, ctx.input(0))
        if all_of:
            x = b.op("Not", [x])
        n = _reduce(ctx, "ReduceSum", b.cast(x, D.int64), reduce_axes(ctx),
                    ctx.attr("keepdim", False))
        hit = b.op("Greater", [n, b.scalar(0, D.int64)], dtype=_BOOL)
        return b.op("Not", [hit]) if all_of else hit
    return lower


lowers("all", via="Not, ReduceSum, Equal")(_logical(True))
lowers("any", via="ReduceSum, Greater")(_logical(False))


@lowers("count_nonzero", via="Equal, ReduceSum")
def _count_nonzero(ctx):
    b = ctx.b
    x = b.cast(to_bool(b, ctx.input(0)), D.int64)
    return _reduce(ctx, "ReduceSum", x, reduce_axes(ctx), False)


def _variance(root: bool):
    def lower(ctx):
        b = ctx.b
        x = ctx.input(0)
        dt = b.dtype(x)
        if not is_float(dt):
            ctx.unsupported(f"variance of {dt.name} tensors")
        axes = reduce_axes(ctx)
        keepdim = ctx.attr("keepdim", False)
        correction = ctx.attr("correction", 1)
        if not ctx.shape(0):
            zero = b.op("Sub", [x, x])
            n = b.scalar(1 - correction, dt)
            return b.op("Div", [zero, n]) if not root else b.op("Sqrt", [b.op("Div", [zero, n])])
        mean = b.reduce("ReduceMean", x, axes, True)
        dev = b.op("Sub", [x, mean])
        total = b.reduce("ReduceSum", b.op("Mul", [dev, dev]), axes, keepdim)
        n = as_scalar(ctx, count(ctx, 0, axes), dt)
        var = b.op("Div", [total, b.op("Sub", [n, b.scalar(correction, dt)])])
        return b.op("Sqrt", [var]) if root else var
    return lower


lowers("var", via="ReduceMean, ReduceSum, Div")(_variance(False))
lowers("std", via="ReduceMean, ReduceSum, Div, Sqrt")(_variance(True))


def _safe_max(b, x: str, axes) -> str:
    """The max over axes (kept), with infinities replaced by 0: the shift of a stable
    log-sum-exp."""
    m = b.reduce("ReduceMax", x, axes, True)
    return b.op("Where", [b.op("IsInf", [m], dtype=_BOOL), b.scalar(0, b.dtype(x)), m])


@lowers("logsumexp", via="ReduceMax, Exp, ReduceSum, Log")
def _logsumexp(ctx):
    b = ctx.b
    (x,) = ctx.promoted()
    if not ctx.shape(0):
        return b.op("Identity", [x])
    axes = reduce_axes(ctx)
    keepdim = ctx.attr("keepdim", False)
    m = _safe_max(b, x, axes)
    total = b.reduce("ReduceSum", b.op("Exp", [b.op("Sub", [x, m])]), axes, keepdim)
    if not keepdim:
        ndim = len(ctx.shape(0))
        m = b.squeeze(m, list(range(ndim)) if axes is None else axes)
    return b.op("Add", [b.op("Log", [total]), m])


@lowers("cumsum", via="CumSum")
def _cumsum(ctx):
    b = ctx.b
    x = b.cast(ctx.input(0), ctx.out_dtype())
    if not ctx.shape(0):
        return b.op("Identity", [x])
    if b.dtype(x) in (D.uint8, D.int8, D.int16, _BOOL):
        x = b.cast(x, D.int32)
    axis = b.const(ctx.attr("dim") % len(ctx.shape(0)), D.int64)
    return b.op("CumSum", [x, axis])


@lowers("logcumsumexp", via="Where, ReduceMax, Exp, ReduceSum, Log")
def _logcumsumexp(ctx):
    """Each prefix as its own stable log-sum-exp: the terms j <= i of position i are laid out
    along a new axis (n x n, the dim must be static)."""
    b = ctx.b
    x = ctx.input(0)
    dt = b.dtype(x)
    shape = ctx.shape(0)
    if not shape:
        return b.op("Identity", [x])
    dim = ctx.attr("dim") % len(shape)
    if ctx.is_dynamic(0, dim):
        ctx.unsupported("logcumsumexp along a dynamic dimension")
    n = shape[dim]
    after = len(shape) - dim - 1
    mask = b.const(np.tril(np.ones((n, n), dtype=bool)).reshape((n, n) + (1,) * after), _BOOL)
    terms = b.op("Where", [mask, b.unsqueeze(x, [dim]), b.scalar(float("-inf"), dt)])
    m = _safe_max(b, terms, [dim + 1])
    total = b.reduce("ReduceSum", b.op("Exp", [b.op("Sub", [terms, m])]), [dim + 1], False)
    return b.op("Add", [b.op("Log", [total]), b.squeeze(m, [dim + 1])])


@lowers("cumprod", via="Abs, Log, CumSum, Exp (sign tracked)")
def _cumprod(ctx):
    """exp(cumsum(log|x|)) with the sign from the running count of negatives."""
    b = ctx.b
    out = ctx.out_dtype()
    x = b.cast(ctx.input(0), out)
    if not ctx.shape(0):
        return b.op("Identity", [x])
    work = out if is_float(out) else D.float64
    x = b.cast(x, work)
    axis = b.const(ctx.attr("dim") % len(ctx.shape(0)), D.int64)
    mag = b.op("Exp", [b.op("CumSum", [b.op("Log", [b.op("Abs", [x])]), axis])])
    negs = b.op("CumSum", [b.cast(b.op("Less", [x, b.scalar(0, work)], dtype=_BOOL), D.int64),
                           axis])
    odd = b.cast(b.op("Mod", [negs, b.scalar(2, D.int64)]), work)
    sign = b.op("Sub", [b.scalar(1, work), b.op("Mul", [odd, b.scalar(2, work)])])
    result = b.op("Mul", [sign, mag])
    return result if is_float(out) else b.op("Round", [result])


def _cumulative_extreme(largest: bool):
    """cummax/cummin: each prefix laid out along a new axis (n x n, static n); the value is
    the one at the last position holding the extreme, as torch reports it."""
    def lower(ctx):
        b = ctx.b
        x = ctx.input(0)
        dt = b.dtype(x)
        shape = ctx.shape(0)
        if not shape:
            return b.op("Identity", [x]), b.const(0, D.int64)
        dim = ctx.attr("dim") % len(shape)
        if ctx.is_dynamic(0, dim):
            ctx.unsupported("cumulative max/min along a dynamic dimension")
        n = shape[dim]
        if n == 0:
            return b.op("Identity", [x]), b.cast(x, D.int64)
        key = x if is_float(dt) else b.cast(x, D.float64)
        kdt = b.dtype(key)
        if is_float(dt):
            nan_key = float("inf") if largest else float("-inf")
            key = b.op("Where", [b.op("IsNaN", [x], dtype=_BOOL), b.scalar(nan_key, kdt), key])
        after = len(shape) - dim - 1
        mask = b.const(np.tril(np.ones((n, n), dtype=bool)).reshape((n, n) + (1,) * after),
                       _BOOL)
        fill = b.scalar(float("-inf") if largest else float("inf"), kdt)
        terms = b.op("Where", [mask, b.unsqueeze(key, [dim]), fill])
        index = b.op("ArgMax" if largest else "ArgMin", [terms], dtype=D.int64, axis=dim + 1,
                     keepdims=0, select_last_index=1)
        return b.op("GatherElements", [x, index], axis=dim), index
    return lower


lowers("cummax", via="Where, ArgMax, GatherElements")(_cumulative_extreme(True))
lowers("cummin", via="Where, ArgMin, GatherElements")(_cumulative_extreme(False))


def sorted_along(ctx, x: str, dim: int, n, descending: bool = False):
    """(values, indices) of x sorted along `dim`; n is that dimension's size (an int or a
    [1] int64 tensor)."""
    b = ctx.b
    k = b.ints([n]) if isinstance(n, int) else n
    return top_k(b, x, k, dim, descending)


def top_k(b, x: str, k: str, axis: int, largest: bool):
    """TopK with torch's order: NaN above everything, ties by position."""
    dt = b.dtype(x)
    key = b.cast(x, D.int32) if dt is _BOOL else x
    if is_float(dt):
        key = b.op("Where", [b.op("IsNaN", [x], dtype=_BOOL), b.scalar(float("inf"), dt), x])
    _, index = b.op("TopK", [key, k], outputs=2, dtype=[b.dtype(key), D.int64], axis=axis,
                    largest=int(largest), sorted=1)
    return b.op("GatherElements", [x, index], axis=axis), index


@lowers("median", via="TopK, Gather")
def _median(ctx):
    b = ctx.b
    if ctx.attr("ignore_nan", False):
        ctx.unsupported("nanmedian (NaN-skipping) has no ONNX lowering")
    x = ctx.input(0)
    dim = ctx.attr("dim", None)
    if dim is None:
        x = b.op("Reshape", [x, b.ints([-1])])
        n = math.prod(ctx.shape(0))
        if ctx.is_dynamic(0) or n == 0:
            ctx.unsupported("median of a dynamic or empty tensor")
        values, _ = sorted_along(ctx, x, 0, n)
        mid = b.op("Gather", [values, b.const((n - 1) // 2, D.int64)], axis=0)
        if not is_float(b.dtype(x)):
            return mid
        return b.op("Where", [has_nan(b, x, None, False), b.scalar(float("nan"), b.dtype(x)),
                              mid])
    ndim = len(ctx.shape(0))
    dim %= max(ndim, 1)
    if ndim == 0:
        return b.op("Identity", [x]), b.const(0, D.int64)
    n = ctx.shape(0)[dim]
    if ctx.is_dynamic(0, dim) or n == 0:
        ctx.unsupported("median along a dynamic or empty dimension")
    values, index = sorted_along(ctx, x, dim, n)
    keepdim = ctx.attr("keepdim", False)
    at = b.const([(n - 1) // 2] if keepdim else (n - 1) // 2, D.int64)
    mid, mid_index = b.op("Gather", [values, at], axis=dim), b.op("Gather", [index, at], axis=dim)
    if not is_float(b.dtype(x)):
        return mid, mid_index
    nan = has_nan(b, x, [dim], keepdim)
    return (b.op("Where", [nan, b.scalar(float("nan"), b.dtype(x)), mid]),
            b.op("Where", [nan, first_nan(b, x, dim, keepdim), mid_index]))


@lowers("quantile", via="TopK, Gather")
def _quantile(ctx):
    b = ctx.b
    if ctx.attr("ignore_nan", False):
        ctx.unsupported("nanquantile (NaN-skipping) has no ONNX lowering")
    x = ctx.input(0)
    dt = b.dtype(x)
    qs = ctx.attr("q")
    dim = ctx.attr("dim", None)
    keepdim = ctx.attr("keepdim", False)
    mode = ctx.attr("interpolation", "linear")
    shape = ctx.shape(0)
    flat = dim is None or not shape
    if flat:
        x = b.op("Reshape", [x, b.ints([-1])])
        n, axis = math.prod(shape), 0
    else:
        axis = dim % len(shape)
        n = shape[axis]
    if ctx.is_dynamic(0) or n == 0:
        ctx.unsupported("quantile of a dynamic or empty dimension")
    values, _ = sorted_along(ctx, x, axis, n)
    picks = []
    for q in qs:
        pos = q * (n - 1)
        lo, hi = math.floor(pos), math.ceil(pos)
        frac = pos - lo
        if mode == "lower" or (mode == "nearest" and round(pos) == lo):
            hi, frac = lo, 0.0
        elif mode in ("higher", "nearest"):
            lo, frac = hi, 0.0
        elif mode == "midpoint":
            frac = 0.5 if hi != lo else 0.0
        pick = b.op("Gather", [values, b.const([lo], D.int64)], axis=axis)
        if mode in ("linear", "midpoint"):
            upper = b.op("Gather", [values, b.const([hi], D.int64)], axis=axis)
            pick = _lerp(b, pick, upper, frac)
        picks.append(b.unsqueeze(pick, [0]))
    out = b.concat(picks, 0)
    if is_float(dt):
        nan = b.unsqueeze(has_nan(b, x, [axis], True), [0])
        out = b.op("Where", [nan, b.scalar(float("nan"), dt), out])
    if flat:
        out = b.op("Reshape", [out, b.ints([len(qs)] + [1] * len(shape) if keepdim
                                             else [len(qs)])])
    elif not keepdim:
        out = b.squeeze(out, [axis + 1])
    if ctx.attr("scalar_q", False):
        out = b.squeeze(out, [0])
    return out


def _lerp(b, start: str, end: str, weight: float) -> str:
    """torch.lerp's formula (it keeps start + 0 * (end - start) for weight 0)."""
    dt = b.dtype(start)
    diff = b.op("Sub", [end, start])
    if weight < 0.5:
        return b.op("Add", [start, b.op("Mul", [diff, b.scalar(weight, dt)])])
    return b.op("Sub", [end, b.op("Mul", [diff, b.scalar(1 - weight, dt)])])


def _norm(ctx):
    b = ctx.b
    x = ctx.promoted()[0]
    out = ctx.out_dtype()
    x = b.cast(x, out if is_float(out) else D.float32)
    dt = b.dtype(x)
    p = float(ctx.attr("ord", 2.0))
    axes = reduce_axes(ctx)
    keepdim = ctx.attr("keepdim", False)
    if not ctx.shape(0):
        mag = b.op("Abs", [x])
        if p == 0:
            return b.cast(to_bool(b, x), dt)
        return mag
    if p == 2:
        return b.reduce("ReduceL2", x, axes, keepdim)
    if p == 1:
        return b.reduce("ReduceL1", x, axes, keepdim)
    mag = b.op("Abs", [x])
    if p == math.inf:
        return b.reduce("ReduceMax", mag, axes, keepdim)
    if p == -math.inf:
        return b.reduce("ReduceMin", mag, axes, keepdim)
    if p == 0:
        return b.reduce("ReduceSum", b.cast(to_bool(b, x), dt), axes, keepdim)
    total = b.reduce("ReduceSum", b.op("Pow", [mag, b.scalar(p, dt)]), axes, keepdim)
    return b.op("Pow", [total, b.scalar(1 / p, dt)])


lowers("vector_norm", via="ReduceL1/ReduceL2/ReduceMax, Pow")(_norm)
