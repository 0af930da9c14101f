"""Indexing ops: gather/scatter along a dim, index_select/index_add/index_copy/index_fill,
masked_fill/masked_select/masked_scatter, take/take_along_dim/put and nonzero.

Plain `x[key]` and `x[key] = v` live in shape.py (getitem, index_put). As in PyTorch, a 0-d
tensor counts as a 1-element vector in the along-a-dim ops. Scatters compute flat positions in
a C-ordered copy and hand them to ember._backend.kernels, so duplicates combine on every backend.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from .. import _dtype as D
from .._backend.kernels import reduce_at
from .._tensor import Tensor, _dim
from ..testing.opinfo import ALL, NUMERIC, Arg, Sample
from .dispatch import apply, apply_, broadcast_shape, inplace_shape_error, write_out
from .pointwise import where
from .registry import NO_ORDERING, OpDef, composite, refuse_complex, register, tensor_method
from .shape import IndexPut

_INDEX_DTYPES = (D.int32, D.int64)
_LONG = (D.int64,)
_REDUCES = ("sum", "prod", "mean", "amax", "amin")
_REDUCE_ALIASES = {"max": "amax", "min": "amin"}
_LEGACY_REDUCES = {"add": "sum", "multiply": "prod"}


# ---- shared checks and array helpers -------------------------------------------------------
def _check_index_dtype(index, op: str, allowed=_INDEX_DTYPES, err=RuntimeError) -> None:
    if not isinstance(index, Tensor):
        raise TypeError(f"{op}(): argument 'index' must be Tensor, not {type(index).__name__}")
    if index._dtype not in allowed:
        want = "int64" if allowed == _LONG else "int32 or int64"
        raise err(f"{op}(): Expected dtype {want} for index, but got {index._dtype.name}")


def _check_bounds(op: str, index, size: int, dim: int, negative: bool = False,
                  err=RuntimeError) -> bool:
    """Raise when an entry of `index` falls outside a dimension of `size` (negative entries
    count from the end when `negative`); returns whether any entry is negative."""
    if not index._data.size:
        return False
    lo, hi = int(index._data.min()), int(index._data.max())
    low = -size if negative else 0
    if lo < low or hi >= size:
        raise err(f"{op}(): index {lo if lo < low else hi} is out of bounds for dimension {dim} "
                  f"with size {size}")
    return lo < 0


def _check_same_dtype(op: str, input, other, what: str) -> None:
    if not isinstance(other, Tensor):
        raise TypeError(f"{op}(): argument '{what}' must be Tensor, not {type(other).__name__}")
    if other._dtype is not input._dtype:
        raise RuntimeError(f"{op}(): Expected self.dtype to be equal to {what}.dtype, but got "
                           f"{input._dtype.name} and {other._dtype.name}")


def _check_mask(op: str, mask) -> None:
    if not isinstance(mask, Tensor) or mask._dtype is not D.bool:
        got = mask._dtype.name if isinstance(mask, Tensor) else type(mask).__name__
        raise RuntimeError(f"{op} only supports boolean masks, but got mask with dtype {got}")


def _fill_value(op: str, value, dtype):
    """Check a fill value (a number or a 0-d tensor) against the destination dtype."""
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"{op} only supports a 0-dimensional value tensor, but got tensor "
                               f"with {value.ndim} dimension(s).")
        return value
    if isinstance(value, bool) or dtype is D.bool or dtype.category == D._COMPLEX:
        return value
    if isinstance(value, complex):
        fits = False
    elif dtype.category == D._INT:
        info = np.iinfo(dtype.np)
        fits = info.min <= value <= info.max
    else:
        fits = dtype is D.float64 or math.isinf(value) or not abs(value) > D.finfo(dtype).max
    if not fits:
        raise RuntimeError(f"{op}: value {value} cannot be converted to type {dtype.name} "
                           "without overflow")
    return value


def _as_1d(a):
    """A 0-d array as a 1-element vector (PyTorch's rule for the along-a-dim ops)."""
    return a.reshape(1) if a.ndim == 0 else a


def _leading(shape) -> tuple:
    """The key selecting the leading `shape` block of a larger array."""
    return tuple(slice(0, s) for s in shape)


def _linear_index(xp, shape, index, dim: int):
    """Flat positions, in a C-ordered array of `shape`, of the elements `index` points at:
    coordinate `index[i]` along `dim`, `i`'s own coordinate along every other dim."""
    strides = [1] * len(shape)
    for d in range(len(shape) - 2, -1, -1):
        strides[d] = strides[d + 1] * shape[d + 1]
    lin = index.astype(np.int64) * strides[dim]
    for d, n in enumerate(index.shape):
        if d != dim and n > 1:
            step = xp.arange(n, dtype=np.int64) * strides[d]
            lin += step.reshape((n,) + (1,) * (index.ndim - d - 1))
    return lin.reshape(-1)


def _values(xp, src, shape, dtype):
    """The leading `shape` block of `src`, flat, in `dtype`."""
    src = _as_1d(src)
    if src.shape != tuple(shape):
        src = src[_leading(shape)]
    return xp.ascontiguousarray(src).reshape(-1).astype(dtype, copy=False)


def _scalar(xp, value, dtype):
    """A number or 0-d array as a 0-d array of `dtype` (floats truncate into integers)."""
    return xp.asarray(value).astype(dtype)


def _zeros_like_shape(shape, like):
    return Tensor._zeros(tuple(shape), like._dtype, like._device)


def _pad_to(t, shape):
    """`t` (the gradient of a leading block) zero-padded to `shape`; differentiable."""
    shape = tuple(shape)
    if tuple(t.shape) == shape:
        return t
    if not shape:
        return t.sum()
    return apply(IndexPut, _zeros_like_shape(shape, t), t, key=_leading(t.shape))


# ---- gather / scatter ----------------------------------------------------------------------
def _check_along(op: str, input, dim, index, src=None, what: str = "self") -> int:
    """gather/scatter checks: an int32/int64 index of the same rank, no larger than the input
    (and src) off `dim`, with entries inside the input along `dim`. Returns the wrapped dim."""
    dim = _dim(dim, input.ndim, op)
    _check_index_dtype(index, op)
    xs, ishape = tuple(input.shape) or (1,), tuple(index.shape) or (1,)
    if len(ishape) != len(xs):
        raise RuntimeError(f"{op}(): Index tensor must have the same number of dimensions as "
                           f"{what} tensor (index {list(index.shape)}, {what} "
                           f"{list(input.shape)})")
    if src is not None:
        _dim(dim, src.ndim, op)
        ss = tuple(src.shape) or (1,)
        if len(ss) != len(xs):
            raise RuntimeError(f"{op}(): Index tensor must have the same number of dimensions "
                               f"as src tensor (index {list(index.shape)}, src {list(src.shape)})")
    if index.numel():
        for d, (i, x) in enumerate(zip(ishape, xs)):
            if src is None and d != dim and i > x:
                raise RuntimeError(f"{op}(): Size does not match at dimension {d} expected index "
                                   f"{list(ishape)} to be no larger than self {list(xs)} apart "
                                   f"from dimension {dim}")
            if src is not None and (d != dim and i > x or i > ss[d]):
                raise RuntimeError(f"{op}(): Expected index {list(ishape)} to be no larger than "
                                   f"self {list(xs)} apart from dimension {dim} and to be no "
                                   f"larger size than src {list(ss)}")
    _check_bounds(op, index, xs[dim], dim)
    return dim


@register("gather", promote=None, onnx="GatherElements", samples=(
    Sample(lambda t, x, i: t.gather(x, 1, i),
           (Arg((3, 4)), Arg(values=[[0, 1, 3], [2, 2, 0]], dtype="int64", grad=False)),
           dtypes=ALL),
    Sample(lambda t, x, i: x.gather(0, i),
           (Arg((3, 4)), Arg(values=[[2, 0, 1, 1], [0, 0, 2, 1]], dtype="int64", grad=False)),
           dtypes=NUMERIC, name="dim0"),
    Sample(lambda t, x, i: x.gather(-1, i),
           (Arg((2, 3)), Arg(values=[[0], [2]], dtype="int32", grad=False)), name="int32"),
    Sample(lambda t, x, i: x.gather(0, i),
           (Arg(()), Arg(values=[0, 0], dtype="int64", grad=False)), name="0d")))
class Gather(OpDef):
    """out[i][j] = input[index[i][j]][j] (dim 0): pick values along `dim`."""

    def forward(ctx, xp, x, index, dim):
        ctx.save(index)
        ctx.shape, ctx.dim = x.shape, dim
        x1, i1 = _as_1d(x), _as_1d(index)
        if x1.shape != i1.shape:
            x1 = x1[tuple(slice(None) if d == dim else slice(0, n)
                          for d, n in enumerate(i1.shape))]
        return xp.take_along_axis(x1, i1, axis=dim).reshape(index.shape)

    def backward(ctx, g):
        (index,) = ctx.saved
        return _scatter_add(_zeros_like_shape(ctx.shape, g), ctx.dim, index, g), None


def _gather(t, dim, index):
    """gather without the argument checks (for backward formulas)."""
    return apply(Gather, t, index, dim=dim)


def _scatter_add(t, dim, index, src):
    """scatter_add without the argument checks (for backward formulas)."""
    return apply(ScatterAdd, t, index, src, dim=dim)


def _leading_block(t, shape):
    """The leading `shape` block of tensor `t` (0-d counting as 1-element vectors)."""
    if tuple(t.shape) == tuple(shape):
        return t
    return t.reshape(tuple(t.shape) or (1,))[_leading(tuple(shape) or (1,))].reshape(shape)


def _scatter_into(xp, x, index, src, dim, reduce=None):
    """A C-ordered copy of `x` with `src` (an array, or a number to fill with) scattered in
    along `dim` and combined by `reduce` (None overwrites)."""
    out = x.copy()
    flat = _as_1d(out).reshape(-1)
    i1 = _as_1d(index)
    lin = _linear_index(xp, _as_1d(out).shape, i1, dim)
    if isinstance(src, xp.ndarray):
        vals = _values(xp, src, i1.shape, out.dtype)
    else:
        vals = xp.empty(lin.shape, dtype=out.dtype)
        vals[...] = _scalar(xp, src, out.dtype)
    if reduce is None:
        flat[lin] = vals
    else:
        reduce_at(flat, lin, vals, reduce)
    return out


@register("scatter", promote=None, onnx="ScatterElements", samples=(
    Sample(lambda t, x, i, s: x.scatter(1, i, s),
           (Arg((3, 4)), Arg(values=[[0, 1, 3], [2, 0, 1]], dtype="int64", grad=False),
            Arg((2, 3))), dtypes=ALL),
    Sample(lambda t, x, i: x.scatter(0, i, 2.5),
           (Arg((3, 4)), Arg(values=[[2, 0, 1, 0]], dtype="int64", grad=False)),
           dtypes=ALL, name="value"),
    Sample(lambda t, x, i, s: t.scatter(x, 1, i, s),
           (Arg((3, 4)), Arg(values=[[3], [1]], dtype="int32", grad=False), Arg((2, 3))),
           grad=False, name="src_larger"),
    Sample(lambda t, x, i, s: x.scatter(1, i, s, reduce="add"),
           (Arg((3, 4)), Arg(values=[[0, 0, 3], [2, 2, 2]], dtype="int64", grad=False),
            Arg((2, 3))), dtypes=NUMERIC, grad=False, name="reduce_add"),
    Sample(lambda t, x, i: x.scatter(1, i, 3, reduce="multiply"),
           (Arg((3, 4)), Arg(values=[[0, 0, 3], [2, 2, 2]], dtype="int64", grad=False)),
           dtypes=NUMERIC, grad=False, name="reduce_multiply")))
class Scatter(OpDef):
    """Write `src` (a tensor, or a 0-d fill value) into a copy of the input along `dim`."""

    def forward(ctx, xp, x, index, src, dim, reduce=None):
        ctx.save(index)
        ctx.dim, ctx.reduce = dim, reduce
        ctx.src_shape = src.shape if isinstance(src, xp.ndarray) else None
        return _scatter_into(xp, x, index, src, dim, _LEGACY_REDUCES.get(reduce))

    def backward(ctx, g):
        if ctx.reduce is not None:
            raise RuntimeError("the derivative of scatter with reduce= is not implemented; use "
                               "scatter_reduce (or scatter_add) instead")
        (index,) = ctx.saved
        need = ctx.needs_input_grad
        gx = apply(Scatter, g, index, 0, dim=ctx.dim) if need[0] else None
        gs = _pad_to(_gather(g, ctx.dim, index), ctx.src_shape) if need[2] else None
        return gx, None, gs


@register("scatter_add", promote=None, samples=(
    Sample(lambda t, x, i, s: x.scatter_add(1, i, s),
           (Arg((3, 4)), Arg(values=[[0, 0, 3], [2, 2, 2]], dtype="int64", grad=False),
            Arg((2, 3))), dtypes=("bool",) + NUMERIC),
    Sample(lambda t, x, i, s: t.scatter_add(x, 0, i, s),
           (Arg((3, 4)), Arg(values=[[1, 1, 0, 2], [1, 0, 0, 2]], dtype="int64", grad=False),
            Arg((2, 4))), name="dim0"),
    Sample(lambda t, x, i, s: x.scatter_add(0, i, s),
           (Arg(()), Arg(values=[0, 0, 0], dtype="int64", grad=False), Arg((3,))),
           name="0d")))
class ScatterAdd(OpDef):
    """Add `src` into a copy of the input along `dim`; repeated indices all add up."""

    def forward(ctx, xp, x, index, src, dim):
        ctx.save(index)
        ctx.dim, ctx.src_shape = dim, src.shape
        return _scatter_into(xp, x, index, src, dim, "sum")

    def backward(ctx, g):
        (index,) = ctx.saved
        gs = _pad_to(_gather(g, ctx.dim, index), ctx.src_shape) if ctx.needs_input_grad[2] else None
        return g, None, gs


def _identity(dtype, reduce):
    """The neutral element of `reduce` in `dtype`: what an excluded self value becomes."""
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    if dtype.kind == "b":
        return reduce == "amin"
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return info.min if reduce == "amax" else info.max
    return -np.inf if reduce == "amax" else np.inf


def _reduce_samples():
    index = Arg(values=[[0, 0, 3], [2, 2, 2]], dtype="int64", grad=False)
    out = []
    for reduce in _REDUCES:
        low = 0.5 if reduce == "prod" else -2.0
        for include_self in (True, False):
            out.append(Sample(
                lambda t, x, i, s, r=reduce, inc=include_self:
                    x.scatter_reduce(1, i, s, r, include_self=inc),
                (Arg((3, 4), low, 2.0), index, Arg((2, 3), low, 2.0)), dtypes=NUMERIC,
                name=f"{reduce}{'' if include_self else '_exclude_self'}"))
    out.append(Sample(lambda t, x, i, s: t.scatter_reduce(x, 0, i, s, "amax"),
                      (Arg((3,)), Arg(values=[0, 0, 2, 0], dtype="int64", grad=False),
                       Arg((4,))), name="function"))
    return tuple(out)


@register("scatter_reduce", promote=None, samples=_reduce_samples())
class ScatterReduce(OpDef):
    """Reduce `src` into a copy of the input along `dim` with sum/prod/mean/amax/amin."""

    def forward(ctx, xp, x, index, src, dim, reduce, include_self=True):
        if reduce in ("amax", "amin"):
            refuse_complex(f"scatter_reduce({reduce!r})", x, src, why=NO_ORDERING)
        ctx.dim, ctx.reduce, ctx.include_self = dim, reduce, include_self
        ctx.src_shape = src.shape
        out = x.copy()
        flat = _as_1d(out).reshape(-1)
        i1 = _as_1d(index)
        lin = _linear_index(xp, _as_1d(out).shape, i1, dim)
        vals = _values(xp, src, i1.shape, out.dtype)
        hit = count = None
        if not include_self:
            hit = xp.zeros(flat.shape, dtype=bool)
            hit[lin] = True
            flat[lin] = _identity(out.dtype, reduce)
            hit = hit.reshape(x.shape)
        reduce_at(flat, lin, vals, "sum" if reduce == "mean" else reduce)
        if reduce == "mean":
            count = xp.zeros(flat.shape, dtype=np.int64)
            reduce_at(count, lin, xp.ones(lin.shape, dtype=np.int64), "sum")
            count += 1 if include_self else 0
            xp.maximum(count, 1, out=count)
            if out.dtype.kind in "iub":
                xp.floor_divide(flat, count, out=flat, casting="unsafe")
            else:
                count = count.astype(out.dtype)
                flat /= count
            count = count.reshape(x.shape)
        members = reduce in ("prod", "amax", "amin")
        ctx.save(index, x if members else None, src if members else None,
                 out if reduce in ("amax", "amin") else None, hit, count)
        return out

    def backward(ctx, g):
        index, x, src, out, hit, count = ctx.saved
        # Saved intermediates come back on the device their array names ('cuda:0'), which may
        # be spelled differently from g's ('cuda'); they belong with g.
        hit, count = (None if t is None else Tensor._wrap(t._data, t._dtype, g._device)
                      for t in (hit, count))
        dim, reduce, need = ctx.dim, ctx.reduce, ctx.needs_input_grad
        if reduce == "sum":
            gx, gsel = g, _gather(g, dim, index)
        elif reduce == "mean":
            g = g / count
            gx, gsel = g, _gather(g, dim, index)
        else:
            src_part = _leading_block(src, index.shape)
            if reduce == "prod":
                gx, gsel = _prod_grads(g, x, index, src_part, dim, hit)
            else:
                gx, gsel = _extreme_grads(g, x, index, src_part, out, dim, hit)
        if hit is not None:
            gx = gx.masked_fill(hit, 0.0)
        gs = _pad_to(gsel, ctx.src_shape) if need[2] else None
        return (gx if need[0] else None), None, gs


def _extreme_grads(g, x, index, src, out, dim, hit):
    """amax/amin: the gradient is shared evenly among all members that attain the result."""
    self_is = x == out
    if hit is not None:
        self_is = self_is.masked_fill(hit, False)
    src_is = src == _gather(out, dim, index)
    ties = _scatter_add(self_is.to(g.dtype), dim, index, src_is.to(g.dtype))
    share = g / ties
    return where(self_is, share, 0.0), where(src_is, _gather(share, dim, index), 0.0)


def _prod_grads(g, x, index, src, dim, hit):
    """prod: each member's gradient is g times the product of the other members, computed
    from the product of the nonzero members and the number of zeros so that zeros are exact."""
    x_in = x if hit is None else x.masked_fill(hit, 1.0)
    x_zero, src_zero = x_in == 0, src == 0
    x_nz, src_nz = x_in.masked_fill(x_zero, 1.0), src.masked_fill(src_zero, 1.0)
    nonzero_prod = apply(ScatterReduce, x_nz, index, src_nz, dim=dim, reduce="prod")
    zeros = _scatter_add(x_zero.to(g.dtype), dim, index, src_zero.to(g.dtype))

    def others(is_zero, nz_value, prod, n_zeros):
        return where(is_zero, where(n_zeros == 1, prod, 0.0),
                     where(n_zeros == 0, prod / nz_value, 0.0))

    gx = g * others(x_zero, x_nz, nonzero_prod, zeros)
    gsrc = _gather(g, dim, index) * others(src_zero, src_nz, _gather(nonzero_prod, dim, index),
                                           _gather(zeros, dim, index))
    return gx, gsrc


@tensor_method()
def gather(input, dim, index, *, sparse_grad: bool = False, out=None):
    """Pick values along `dim`: out[i][j] = input[i][index[i][j]] for dim=1.

    >>> import ember
    >>> ember.tensor([[1, 2], [3, 4]]).gather(1, ember.tensor([[0, 0], [1, 0]]))
    tensor([[1, 1],
            [4, 3]])
    """
    dim = _check_along("gather", input, dim, index, what="input")
    return write_out(apply(Gather, input, index, dim=dim), out)


def _scatter_src(src, value):
    if value is not None:
        return value
    if src is None:
        raise TypeError("scatter(): expected a src tensor or a value")
    return src


@tensor_method()
def scatter(input, dim, index, src=None, reduce=None, *, value=None, out=None):
    """Copy of `input` with `src` (a tensor, or the number `value`) written along `dim`:
    out[i][index[i][j]] = src[i][j] for dim=1. reduce='add'/'multiply' combines instead.

    >>> import ember
    >>> ember.zeros(2, 3).scatter(1, ember.tensor([[2], [0]]), 1.0)
    tensor([[0., 0., 1.],
            [1., 0., 0.]])
    """
    return write_out(_scatter(input, dim, index, _scatter_src(src, value), reduce, apply),
                     out)


@tensor_method()
def scatter_(input, dim, index, src=None, reduce=None, *, value=None):
    """In-place scatter."""
    return _scatter(input, dim, index, _scatter_src(src, value), reduce, apply_)


def _scatter(input, dim, index, src, reduce, run):
    if reduce is not None and reduce not in _LEGACY_REDUCES:
        raise RuntimeError(f"scatter(): reduce argument must be either add or multiply, got "
                           f"{reduce!r}")
    if isinstance(src, Tensor):
        dim = _check_along("scatter", input, dim, index, src)
        _check_same_dtype("scatter", input, src, "src")
        if reduce is not None:
            warnings.warn("The reduce argument of scatter with Tensor src is deprecated; use "
                          "scatter_reduce for more reduction options.", UserWarning, stacklevel=3)
    else:
        dim = _check_along("scatter", input, dim, index)
        src = _fill_value("scatter", src, input._dtype)
    if reduce is None:
        return run(Scatter, input, index, src, dim=dim)
    return run(Scatter, input, index, src, dim=dim, reduce=reduce)


@tensor_method()
def scatter_add(input, dim, index, src, *, out=None):
    """Copy of `input` with `src` added along `dim`; repeated indices accumulate.

    >>> import ember
    >>> ember.zeros(3).scatter_add(0, ember.tensor([0, 0, 2]), ember.ones(3))
    tensor([2., 0., 1.])
    """
    dim = _check_along("scatter_add", input, dim, index, src)
    _check_same_dtype("scatter_add", input, src, "src")
    return write_out(apply(ScatterAdd, input, index, src, dim=dim), out)


@tensor_method()
def scatter_add_(input, dim, index, src):
    """In-place scatter_add."""
    dim = _check_along("scatter_add_", input, dim, index, src)
    _check_same_dtype("scatter_add_", input, src, "src")
    return apply_(ScatterAdd, input, index, src, dim=dim)


def _scatter_reduce(input, dim, index, src, reduce, include_self, run):
    reduce = _REDUCE_ALIASES.get(reduce, reduce)
    if reduce not in _REDUCES:
        raise RuntimeError("scatter_reduce(): reduce argument must be either sum, prod, mean, "
                           f"amax or amin, got {reduce}")
    dim = _check_along("scatter_reduce", input, dim, index, src)
    _check_same_dtype("scatter_reduce", input, src, "src")
    return run(ScatterReduce, input, index, src, dim=dim, reduce=reduce,
               include_self=bool(include_self))


@tensor_method()
def scatter_reduce(input, dim, index, src, reduce, *, include_self: bool = True, out=None):
    """Copy of `input` with `src` reduced in along `dim` by 'sum', 'prod', 'mean', 'amax' or
    'amin'; include_self=False leaves the input's own values out where something lands.

    >>> import ember
    >>> x = ember.tensor([1., 2., 3.])
    >>> x.scatter_reduce(0, ember.tensor([0, 0]), ember.tensor([5., 7.]), "amax")
    tensor([7., 2., 3.])
    """
    return write_out(_scatter_reduce(input, dim, index, src, reduce, include_self, apply), out)


@tensor_method()
def scatter_reduce_(input, dim, index, src, reduce, *, include_self: bool = True):
    """In-place scatter_reduce."""
    return _scatter_reduce(input, dim, index, src, reduce, include_self, apply_)


# ---- index_select / index_add / index_copy / index_fill ------------------------------------
def _check_vector(op: str, index) -> None:
    if index.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector, but got dim: "
                         f"{index.ndim} with size {list(index.shape)}")


def _check_index_source(op: str, input, dim: int, index, source, err=RuntimeError) -> None:
    """index_add/index_copy: source matches the input except along `dim`, where it has one
    slice per index."""
    xs, ss = tuple(input.shape) or (1,), tuple(source.shape) or (1,)
    if len(ss) != len(xs):
        raise err(f"{op}(): source and self must have the same number of dimensions, but got "
                  f"source.shape = {list(source.shape)} and self.shape = {list(input.shape)}")
    n = index.numel()
    if ss[dim] != n:
        raise err(f"{op}(): Number of indices ({n}) should be equal to source.size(dim) "
                  f"({ss[dim]}), for dim: {dim}")
    if any(a != b for d, (a, b) in enumerate(zip(xs, ss)) if d != dim) or (
            not input.ndim and source.numel() != 1):
        raise RuntimeError(f"{op}(): source tensor shape must match self tensor shape, "
                           f"excluding the specified dimension. Got self.shape = "
                           f"{list(input.shape)} source.shape = {list(source.shape)}")


def _dim_key(dim: int, index):
    """The key addressing slices `index` (a flat array) along `dim`."""
    return (slice(None),) * dim + (index.reshape(-1),)


@register("index_select", promote=None, onnx="Gather", samples=(
    Sample(lambda t, x, i: x.index_select(1, i),
           (Arg((3, 4)), Arg(values=[0, 2, 2], dtype="int64", grad=False)), dtypes=ALL),
    Sample(lambda t, x, i: t.index_select(x, 0, i),
           (Arg((3, 4)), Arg(values=[2, 0], dtype="int32", grad=False)), name="int32"),
    Sample(lambda t, x, i: x.index_select(-1, i),
           (Arg((2, 3)), Arg(values=1, dtype="int64", grad=False)), name="0d_index"),
    Sample(lambda t, x, i: x.index_select(0, i),
           (Arg(()), Arg(values=[0], dtype="int64", grad=False)), name="0d")))
class IndexSelect(OpDef):
    """The slices of the input at `index` along `dim`."""

    def forward(ctx, xp, x, index, dim):
        ctx.save(index)
        ctx.shape, ctx.dim = x.shape, dim
        if x.ndim == 0:
            return x.copy()
        return xp.take(x, index.reshape(-1), axis=dim)

    def backward(ctx, g):
        (index,) = ctx.saved
        return apply(IndexAdd, _zeros_like_shape(ctx.shape, g), index, g, dim=ctx.dim), None


@tensor_method()
def index_select(input, dim, index, *, out=None):
    """The slices of `input` at positions `index` (a vector) along `dim`.

    >>> import ember
    >>> ember.tensor([[1, 2, 3], [4, 5, 6]]).index_select(1, ember.tensor([2, 0]))
    tensor([[3, 1],
            [6, 4]])
    """
    dim = _dim(dim, input.ndim, "index_select")
    _check_index_dtype(index, "index_select")
    _check_vector("index_select", index)
    if not input.ndim and index.numel() != 1:
        raise RuntimeError(f"index_select(): Index to scalar can have only 1 value, got "
                           f"{index.numel()} value(s)")
    _check_bounds("index_select", index, (tuple(input.shape) or (1,))[dim], dim)
    return write_out(apply(IndexSelect, input, index, dim=dim), out)


@register("index_add", fresh=True, promote=None, samples=(
    Sample(lambda t, x, i, s: x.index_add(1, i, s),
           (Arg((3, 4)), Arg(values=[0, 2, 0], dtype="int64", grad=False), Arg((3, 3))),
           dtypes=NUMERIC),
    Sample(lambda t, x, i, s: t.index_add(x, 0, i, s, alpha=2),
           (Arg((3, 2)), Arg(values=[1, 1], dtype="int32", grad=False), Arg((2, 2))),
           dtypes=NUMERIC, name="alpha"),
    Sample(lambda t, x, i, s: x.index_add(0, i, s),
           (Arg(()), Arg(values=0, dtype="int64", grad=False), Arg(())), name="0d")))
class IndexAdd(OpDef):
    """Add the slices of `source` into a copy of the input at `index` along `dim`."""

    def forward(ctx, xp, x, index, src, dim, alpha=1):
        ctx.save(index)
        ctx.dim, ctx.alpha = dim, alpha
        out = x.copy()
        o1, s1 = _as_1d(out), _as_1d(src)
        if alpha != 1:
            s1 = s1 * _scalar(xp, alpha, s1.dtype)
        along = index.reshape([-1 if d == dim else 1 for d in range(o1.ndim)])
        lin = _linear_index(xp, o1.shape, xp.broadcast_to(along, s1.shape), dim)
        reduce_at(o1.reshape(-1), lin, _values(xp, s1, s1.shape, out.dtype), "sum")
        return out

    def backward(ctx, g):
        (index,) = ctx.saved
        gs = None
        if ctx.needs_input_grad[2]:
            gs = apply(IndexSelect, g, index, dim=ctx.dim)
            gs = gs if ctx.alpha == 1 else gs * ctx.alpha
        return g, None, gs


def _index_add(input, dim, index, source, alpha, op, run):
    dim = _dim(dim, input.ndim, op)
    _check_index_dtype(index, op)
    _check_vector(op, index)
    if not isinstance(source, Tensor) or source._dtype is not input._dtype:
        got = source._dtype.name if isinstance(source, Tensor) else type(source).__name__
        raise RuntimeError(f"{op}(): self ({input._dtype.name}) and source ({got}) must have "
                           "the same scalar type")
    _check_index_source(op, input, dim, index, source)
    _check_bounds(op, index, (tuple(input.shape) or (1,))[dim], dim)
    if alpha == 1:
        return run(IndexAdd, input, index, source, dim=dim)
    return run(IndexAdd, input, index, source, dim=dim, alpha=alpha)


@tensor_method()
def index_add(input, dim, index, source, *, alpha=1, out=None):
    """Copy of `input` with alpha * source's slices added at `index` along `dim`; repeated
    indices accumulate.

    >>> import ember
    >>> ember.zeros(3).index_add(0, ember.tensor([0, 0]), ember.tensor([1., 2.]))
    tensor([3., 0., 0.])
    """
    return write_out(_index_add(input, dim, index, source, alpha, "index_add", apply), out)


@tensor_method()
def index_add_(input, dim, index, source, *, alpha=1):
    """In-place index_add."""
    return _index_add(input, dim, index, source, alpha, "index_add_", apply_)


_INDEX_REDUCES = ("prod", "mean", "amax", "amin")


def _index_reduce(input, dim, index, source, reduce, include_self, op, run):
    """index_reduce is scatter_reduce with `index` repeated across the other dims of `source`."""
    if reduce not in _INDEX_REDUCES:
        raise RuntimeError("index_reduce(): Expected reduce to be one of prod, mean, amax or "
                           f"amin but got {reduce}.")
    dim = _dim(dim, input.ndim, op)
    _check_index_dtype(index, op)
    _check_vector(op, index)
    _check_index_source(op, input, dim, index, source)
    _check_bounds(op, index, (tuple(input.shape) or (1,))[dim], dim, err=IndexError)
    along = index.reshape([-1 if d == dim else 1 for d in range(source.ndim)] or [-1])
    return _scatter_reduce(input, dim, along.expand(source.shape), source, reduce, include_self,
                           run)


@tensor_method()
def index_reduce(input, dim, index, source, reduce, *, include_self: bool = True, out=None):
    """Copy of `input` with the slices of `source` reduced in at `index` along `dim` by 'prod',
    'mean', 'amax' or 'amin'; include_self=False leaves the input's own values out where a
    slice lands (message passing: the max of each node's incoming messages).

    >>> import ember
    >>> x = ember.zeros(2)
    >>> x.index_reduce(0, ember.tensor([1, 1]), ember.tensor([3., 5.]), "amax",
    ...                include_self=False)
    tensor([0., 5.])
    """
    return write_out(_index_reduce(input, dim, index, source, reduce, include_self,
                                   "index_reduce", apply), out)


@tensor_method()
def index_reduce_(input, dim, index, source, reduce, *, include_self: bool = True):
    """In-place index_reduce."""
    return _index_reduce(input, dim, index, source, reduce, include_self, "index_reduce_", apply_)


def _copy_slices(x, index, src, dim):
    _as_1d(x)[_dim_key(dim, index)] = _as_1d(src)


@register("index_copy", promote=None, samples=(
    Sample(lambda t, x, i, s: x.index_copy(1, i, s),
           (Arg((3, 4)), Arg(values=[3, 0], dtype="int64", grad=False), Arg((3, 2))),
           dtypes=ALL),
    Sample(lambda t, x, i, s: t.index_copy(x, 0, i, s),
           (Arg((3, 2)), Arg(values=2, dtype="int64", grad=False), Arg((1, 2))),
           name="0d_index")))
class IndexCopy(OpDef):
    """Copy the slices of `source` into a copy of the input at `index` along `dim`."""

    def forward(ctx, xp, x, index, src, dim):
        ctx.save(index)
        ctx.dim = dim
        out = x.copy()
        _copy_slices(out, index, src, dim)
        return out

    def forward_inplace(xp, x, index, src, dim):
        _copy_slices(x, index, src, dim)

    def backward(ctx, g):
        (index,) = ctx.saved
        need = ctx.needs_input_grad
        gx = apply(IndexFill, g, index, 0, dim=ctx.dim) if need[0] else None
        gs = apply(IndexSelect, g, index, dim=ctx.dim) if need[2] else None
        return gx, None, gs


def _index_copy(input, dim, index, source, op, run):
    dim = _dim(dim, input.ndim, op)
    _check_index_dtype(index, op, _LONG)
    if index.ndim > 1:
        raise IndexError(f"{op}(): Index should have dimension 1 or 0 (got {index.ndim})")
    if not isinstance(source, Tensor) or source._dtype is not input._dtype:
        got = source._dtype.name if isinstance(source, Tensor) else type(source).__name__
        raise RuntimeError(f"{op}(): self and source expected to have the same dtype, but got "
                           f"(self) {input._dtype.name} and (source) {got}")
    _check_index_source(op, input, dim, index, source, IndexError)
    _check_bounds(op, index, (tuple(input.shape) or (1,))[dim], dim, err=IndexError)
    return run(IndexCopy, input, index, source, dim=dim)


@tensor_method()
def index_copy(input, dim, index, source, *, out=None):
    """Copy of `input` with source's slices written at `index` along `dim`."""
    return write_out(_index_copy(input, dim, index, source, "index_copy", apply), out)


@tensor_method()
def index_copy_(input, dim, index, source):
    """In-place index_copy."""
    return _index_copy(input, dim, index, source, "index_copy_", apply_)


def _fill_slices(xp, x, index, value, dim):
    _as_1d(x)[_dim_key(dim, index)] = _scalar(xp, value, x.dtype)


@register("index_fill", promote=None, samples=(
    Sample(lambda t, x, i: x.index_fill(1, i, 1.5),
           (Arg((3, 4)), Arg(values=[1, -1, 1], dtype="int64", grad=False)), dtypes=ALL),
    Sample(lambda t, x, i, v: x.index_fill(0, i, v),
           (Arg((3, 4)), Arg(values=[2, 2], dtype="int64", grad=False), Arg(())),
           name="tensor_value"),
    Sample(lambda t, x, i: t.index_fill(x, 0, i, 3),
           (Arg(()), Arg(values=0, dtype="int64", grad=False)), dtypes=NUMERIC, name="0d")))
class IndexFill(OpDef):
    """Fill the slices at `index` along `dim` of a copy of the input with one value."""

    def forward(ctx, xp, x, index, value, dim):
        ctx.save(index)
        ctx.dim = dim
        out = x.copy()
        _fill_slices(xp, out, index, value, dim)
        return out

    def forward_inplace(xp, x, index, value, dim):
        _fill_slices(xp, x, index, value, dim)

    def backward(ctx, g):
        (index,) = ctx.saved
        need = ctx.needs_input_grad
        gx = apply(IndexFill, g, index, 0, dim=ctx.dim)
        # The filled slices, each counted once even when `index` repeats it.
        gv = (g - gx).sum() if need[2] else None
        return (gx if need[0] else None), None, gv


def _index_fill(input, dim, index, value, op, run):
    dim = _dim(dim, input.ndim, op)
    _check_index_dtype(index, op, _LONG, IndexError)
    if index.ndim > 1:
        raise RuntimeError(f"{op}(): Index has to be a vector/scalar (got {index.ndim} dims)")
    value = _fill_value(op, value, input._dtype)
    _check_bounds(op, index, (tuple(input.shape) or (1,))[dim], dim, negative=True,
                  err=IndexError)
    return run(IndexFill, input, index, value, dim=dim)


@tensor_method()
def index_fill(input, dim, index, value):
    """Copy of `input` with the slices at `index` along `dim` set to `value` (a number or a
    0-d tensor)."""
    return _index_fill(input, dim, index, value, "index_fill", apply)


@tensor_method()
def index_fill_(input, dim, index, value):
    """In-place index_fill."""
    return _index_fill(input, dim, index, value, "index_fill_", apply_)


# ---- masked ops ------------------------------------------------------------------------------
@register("masked_fill", promote=None, samples=(
    Sample(lambda t, x, m: x.masked_fill(m, 1),
           (Arg((3, 4)), Arg((3, 4), dtype="bool", grad=False)), dtypes=ALL),
    Sample(lambda t, x, m: t.masked_fill(x, m, -2.5),
           (Arg((3, 4)), Arg((4,), dtype="bool", grad=False)), dtypes=NUMERIC,
           name="broadcast_mask"),
    Sample(lambda t, x, m: x.masked_fill(m, 0.5),
           (Arg((4,)), Arg((3, 4), dtype="bool", grad=False)), name="broadcast_input"),
    Sample(lambda t, x, m, v: x.masked_fill(m, v),
           (Arg((3, 4)), Arg((3, 1), dtype="bool", grad=False), Arg(())),
           name="tensor_value")))
class MaskedFill(OpDef):
    """`value` where the (broadcast) mask holds, the input elsewhere."""

    def forward(ctx, xp, x, mask, value):
        ctx.save(mask)
        # astype: CuPy's where widens bfloat16
        return xp.where(mask, _scalar(xp, value, x.dtype), x).astype(x.dtype, copy=False)

    def forward_inplace(xp, x, mask, value):
        xp.copyto(x, _scalar(xp, value, x.dtype), where=mask)

    def backward(ctx, g):
        (mask,) = ctx.saved
        need = ctx.needs_input_grad
        gx = apply(MaskedFill, g, mask, 0) if need[0] else None
        gv = where(mask, g, 0.0).sum() if need[2] else None
        return gx, None, gv


@tensor_method()
def masked_fill(input, mask, value):
    """`input` with `value` (a number or a 0-d tensor) where the bool `mask` is True; the mask
    broadcasts.

    >>> import ember
    >>> x = ember.tensor([1., 2., 3.])
    >>> x.masked_fill(x > 1, 0.)
    tensor([1., 0., 0.])
    """
    _check_mask("masked_fill", mask)
    value = _fill_value("masked_fill", value, input._dtype)
    broadcast_shape(tuple(input.shape), tuple(mask.shape))
    return apply(MaskedFill, input, mask, value)


def _check_inplace_mask(input, mask) -> None:
    """A mask that broadcasts into `input` without growing it, or torch's error."""
    error = inplace_shape_error(input.shape, [mask.shape])
    if error is not None:
        raise error


@tensor_method()
def masked_fill_(input, mask, value):
    """In-place masked_fill; the mask must broadcast to `input`'s shape."""
    _check_mask("masked_fill_", mask)
    value = _fill_value("masked_fill_", value, input._dtype)
    _check_inplace_mask(input, mask)
    return apply_(MaskedFill, input, mask, value)


@composite(samples=(
    Sample(lambda t, x, m: x.masked_select(m),
           (Arg((3, 4)), Arg((3, 4), dtype="bool", grad=False)), dtypes=ALL),
    Sample(lambda t, x, m: t.masked_select(x, m),
           (Arg((4,)), Arg((3, 1), dtype="bool", grad=False)), name="broadcast"),
    Sample(lambda t, x: x.masked_select(x > 0), (Arg(()),), name="0d")))
@tensor_method()
def masked_select(input, mask, *, out=None):
    """The elements of `input` where the bool `mask` is True (both broadcast), as a vector.

    >>> import ember
    >>> x = ember.tensor([[1, 2], [3, 4]])
    >>> x.masked_select(x > 1)
    tensor([2, 3, 4])
    """
    if not isinstance(mask, Tensor) or mask._dtype is not D.bool:
        raise RuntimeError("masked_select: expected BoolTensor for mask")
    shape = broadcast_shape(tuple(input.shape), tuple(mask.shape))
    x = input if tuple(input.shape) == shape else input.expand(shape)
    m = mask if tuple(mask.shape) == shape else mask.expand(shape)
    return write_out(x[m], out)


def _scatter_masked(xp, x, mask, src):
    m = xp.broadcast_to(mask, x.shape)
    n = int(m.sum())
    if src.size < n:
        raise RuntimeError(f"masked_scatter(): Number of elements of source ({src.size}) < "
                           f"number of ones in mask ({n})")
    x[m] = src.reshape(-1)[:n]


@register("masked_scatter", promote=None, samples=(
    Sample(lambda t, x, m, s: x.masked_scatter(m, s),
           (Arg((3, 4)), Arg((3, 4), dtype="bool", grad=False), Arg((3, 5))), dtypes=ALL),
    Sample(lambda t, x, m, s: x.masked_scatter(m, s),
           (Arg((2, 4)), Arg((4,), dtype="bool", grad=False), Arg((9,))),
           name="broadcast_mask"),
    Sample(lambda t, x, m, s: x.masked_scatter(m, s),
           (Arg((4,)), Arg((2, 1), dtype="bool", grad=False), Arg((2, 4))),
           name="broadcast_input")))
class MaskedScatter(OpDef):
    """Copy `source`'s leading elements, in order, into the input where the mask holds."""

    def forward(ctx, xp, x, mask, src, shape):
        ctx.save(mask)
        ctx.src_shape = src.shape
        out = xp.array(xp.broadcast_to(x, shape))
        _scatter_masked(xp, out, mask, src)
        return out

    def forward_inplace(xp, x, mask, src, shape):
        _scatter_masked(xp, x, mask, src)

    def backward(ctx, g):
        (mask,) = ctx.saved
        need = ctx.needs_input_grad
        gx = apply(MaskedFill, g, mask, 0) if need[0] else None
        gs = None
        if need[2]:
            n = 1
            for s in ctx.src_shape:
                n *= s
            gs = apply(PadFlat, masked_select(g, mask), size=n).reshape(ctx.src_shape)
        return gx, None, gs


@register("pad_flat", samples=(
    Sample(lambda t, x, m, s: t.autograd.grad(x.masked_scatter(m, s.requires_grad_()).sum(),
                                              s)[0],
           (Arg((2, 3)), Arg((2, 3), dtype="bool", grad=False), Arg((2, 4))), grad=False),))
class PadFlat(OpDef):
    """A 1-d tensor zero-padded at the end to `size` elements, however many it has (its
    length may depend on data, as masked_select's does, so it is read when the op runs)."""

    def forward(ctx, xp, t, size):
        ctx.length = t.shape[0]
        out = xp.zeros(size, dtype=t.dtype)
        out[:t.shape[0]] = t
        return out

    def backward(ctx, g):
        return g[:ctx.length]


def _masked_scatter(input, mask, source, op, run, shape):
    if not isinstance(source, Tensor) or source._dtype is not input._dtype:
        got = source._dtype.name if isinstance(source, Tensor) else type(source).__name__
        raise RuntimeError(f"{op}: expected self and source to have same dtypes but got "
                           f"{input._dtype.name} and {got}")
    return run(MaskedScatter, input, mask, source, shape=shape)


@tensor_method()
def masked_scatter(input, mask, source):
    """Copy of `input` with source's elements, in order, written where `mask` is True."""
    _check_mask("masked_scatter", mask)
    shape = broadcast_shape(tuple(input.shape), tuple(mask.shape))
    return _masked_scatter(input, mask, source, "masked_scatter", apply, shape)


@tensor_method()
def masked_scatter_(input, mask, source):
    """In-place masked_scatter; the mask must broadcast to `input`'s shape."""
    _check_mask("masked_scatter_", mask)
    _check_inplace_mask(input, mask)
    return _masked_scatter(input, mask, source, "masked_scatter_", apply_, tuple(input.shape))


# ---- take / take_along_dim / put -----------------------------------------------------------
def _check_flat_bounds(op: str, index, n: int) -> bool:
    """Bounds of an index into a flattened tensor of `n` elements (negatives count from the
    end); returns whether any entry is negative."""
    if not index._data.size:
        return False
    if not n:
        raise IndexError(f"{op}(): tried to take from an empty tensor")
    lo, hi = int(index._data.min()), int(index._data.max())
    if lo < -n or hi >= n:
        raise IndexError(f"{op}(): out of range: tried to access index "
                         f"{lo if lo < -n else hi} on a tensor of {n} elements.")
    return lo < 0


def _wrap_negative(index, n: int):
    return index + (index < 0) * n


def _check_long(op: str, index) -> None:
    if not isinstance(index, Tensor) or index._dtype is not D.int64:
        got = index._dtype.name if isinstance(index, Tensor) else type(index).__name__
        raise RuntimeError(f"{op}(): Expected a long tensor for index, but got {got}")


@composite(samples=(
    Sample(lambda t, x, i: x.take(i),
           (Arg((3, 4)), Arg(values=[[0, -1], [5, 5]], dtype="int64", grad=False)),
           dtypes=ALL),
    Sample(lambda t, x, i: t.take(x, i),
           (Arg((2, 3)), Arg(values=3, dtype="int64", grad=False)), name="0d_index")))
@tensor_method()
def take(input, index, *, out=None):
    """The elements of `input`, read as a flat vector, at `index` (negatives count from the
    end); the result has index's shape."""
    _check_long("take", index)
    n = input.numel()
    if _check_flat_bounds("take", index, n):
        index = _wrap_negative(index, n)
    flat = input.reshape(-1).gather(0, index.reshape(-1))
    return write_out(flat.reshape(tuple(index.shape)), out)


@composite(samples=(
    Sample(lambda t, x, i: t.take_along_dim(x, i),
           (Arg((3, 4)), Arg(values=[[0, 5], [11, 5]], dtype="int64", grad=False)),
           dtypes=ALL),
    Sample(lambda t, x, i: x.take_along_dim(i, dim=1),
           (Arg((3, 4)), Arg(values=[[0, -1, 1]], dtype="int64", grad=False)),
           name="broadcast"),
    Sample(lambda t, x, i: t.take_along_dim(x, i, 0),
           (Arg((3, 1, 2)), Arg(values=[[[2], [0]]], dtype="int64", grad=False)),
           name="broadcast_both")))
@tensor_method()
def take_along_dim(input, indices, dim=None, *, out=None):
    """Values at `indices` along `dim` (input and indices broadcast off `dim`); with dim=None,
    along the flattened input."""
    if not isinstance(indices, Tensor) or indices._dtype is not D.int64:
        got = indices._dtype.name if isinstance(indices, Tensor) else type(indices).__name__
        raise RuntimeError(f"take_along_dim(): dtype of indices should be int64 but got {got}")
    if dim is None:
        return write_out(input.reshape(-1).gather(0, indices.reshape(-1)), out)
    if input.ndim != indices.ndim:
        raise RuntimeError(f"take_along_dim(): input and indices should have the same number of "
                           f"dimensions, but got {input.ndim} dimensions for input, and "
                           f"{indices.ndim} dimensions for indices")
    if not input.ndim:
        raise IndexError(f"take_along_dim(): Dimension specified as {dim} but tensor has no "
                         "dimensions")
    dim = _dim(dim, input.ndim, "take_along_dim")
    xs, ishape = list(input.shape), list(indices.shape)
    for d in range(input.ndim):
        if d != dim:
            xs[d] = ishape[d] = broadcast_shape((xs[d],), (ishape[d],))[0]
    x = input if xs == list(input.shape) else input.expand(xs)
    index = indices if ishape == list(indices.shape) else indices.expand(ishape)
    n = xs[dim]
    if _check_bounds("take_along_dim", index, n, dim, negative=True):
        index = _wrap_negative(index, n)
    return write_out(x.gather(dim, index), out)


@register("put", promote=None, samples=(
    Sample(lambda t, x, i, s: x.put(i, s),
           (Arg((3, 4)), Arg(values=[0, -1, 5], dtype="int64", grad=False), Arg((3,))),
           dtypes=ALL),
    Sample(lambda t, x, i, s: x.put(i, s, accumulate=True),
           (Arg((3, 4)), Arg(values=[[0, 0], [5, 0]], dtype="int64", grad=False), Arg((4,))),
           dtypes=NUMERIC, name="accumulate")))
class Put(OpDef):
    """Write (or add) `source` into a copy of the input read as a flat vector, at `index`."""

    def forward(ctx, xp, x, index, src, accumulate=False):
        ctx.save(index)
        ctx.accumulate, ctx.src_shape = accumulate, src.shape
        out = x.copy()
        flat = out.reshape(-1)
        lin = index.reshape(-1).astype(np.int64)
        lin = xp.where(lin < 0, lin + flat.size, lin)
        vals = xp.ascontiguousarray(src).reshape(-1)
        if accumulate:
            reduce_at(flat, lin, vals, "sum")
        else:
            flat[lin] = vals
        return out

    def backward(ctx, g):
        (index,) = ctx.saved
        need = ctx.needs_input_grad
        gx = g
        if need[0] and not ctx.accumulate:
            gx = apply(Put, g, index, Tensor._zeros(tuple(index.shape), g._dtype, g._device))
        gs = take(g, index).reshape(ctx.src_shape) if need[2] else None
        return (gx if need[0] else None), None, gs


def _put(input, index, source, accumulate, op, run):
    _check_long(op, index)
    if not isinstance(source, Tensor) or source._dtype is not input._dtype:
        got = source._dtype.name if isinstance(source, Tensor) else type(source).__name__
        raise RuntimeError(f"{op}(): self and source expected to have the same dtype, but got "
                           f"self.dtype = {input._dtype.name} and source.dtype = {got}")
    if source.numel() != index.numel():
        raise IndexError(f"{op}(): Expected source and index to have the same number of "
                         f"elements, but got source.numel() = {source.numel()}, index.numel() = "
                         f"{index.numel()}")
    _check_flat_bounds(op, index, input.numel())
    return run(Put, input, index, source, accumulate=bool(accumulate))


@tensor_method()
def put(input, index, source, accumulate: bool = False):
    """Copy of `input` (read as a flat vector) with `source` written at `index`; with
    accumulate=True repeated indices add up."""
    return _put(input, index, source, accumulate, "put", apply)


@tensor_method()
def put_(input, index, source, accumulate: bool = False):
    """In-place put."""
    return _put(input, index, source, accumulate, "put_", apply_)


# ---- nonzero -------------------------------------------------------------------------------
_NONZERO_VALUES = [[0, 1, 0, 2], [3, 0, 0, 1], [0, 0, 0, 0]]


@register("nonzero", promote=None, differentiable=False, onnx="NonZero", sized_by_values=True,
          samples=(
    Sample(lambda t, x: x.nonzero(), (Arg(values=_NONZERO_VALUES),), dtypes=ALL, grad=False),
    Sample(lambda t, x: t.nonzero(x, as_tuple=True), (Arg(values=_NONZERO_VALUES),),
           dtypes=("int64",), grad=False, name="as_tuple"),
    Sample(lambda t, x: t.argwhere(x), (Arg((2, 3), -1, 1),), dtypes=("int32",), grad=False,
           name="argwhere"),
    Sample(lambda t, x: t.where(x > 0), (Arg((3, 4)),), grad=False, name="where"),
    Sample(lambda t, x: (x.nonzero(), x.nonzero(as_tuple=True)), (Arg(values=2.0),),
           grad=False, name="0d"),
    Sample(lambda t, x: t.where(x), (Arg(values=0),), dtypes=("int64",), grad=False,
           name="0d_where")))
class NonZero(OpDef):
    """The coordinates of the nonzero elements: one row each, or one vector per dim."""

    def forward(ctx, xp, x, as_tuple=False):
        if as_tuple:
            return tuple(i.astype(np.int64) for i in xp.nonzero(_as_1d(x)))
        if x.ndim == 0:
            return xp.zeros((int(x != 0), 0), dtype=np.int64)
        return xp.stack(xp.nonzero(x), axis=1).astype(np.int64)


@tensor_method()
def nonzero(input, *, out=None, as_tuple: bool = False):
    """Indices of the nonzero elements: an (n, ndim) int64 tensor, or with as_tuple=True one
    vector per dimension (what `x[...]` takes).

    >>> import ember
    >>> ember.tensor([[0, 1], [2, 0]]).nonzero()
    tensor([[0, 1],
            [1, 0]])
    """
    if as_tuple:
        return apply(NonZero, input, as_tuple=True)
    return write_out(apply(NonZero, input), out)


@tensor_method()
def argwhere(input):
    """Indices of the nonzero elements as an (n, ndim) int64 tensor (nonzero())."""
    return apply(NonZero, input)


__all__ = ["gather", "scatter", "scatter_add", "scatter_reduce", "index_select", "index_add",
           "index_reduce", "index_copy", "index_fill", "masked_fill", "masked_select",
           "masked_scatter", "take", "take_along_dim", "put", "nonzero", "argwhere"]
