"""Reductions: sum/mean/prod, max/min and friends, var/std, logsumexp, norms, cumulative ops,
all/any, median/mode/quantile."""
from __future__ import annotations

import builtins
import collections
import functools
import math
import warnings

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor, _dim
from ..testing.opinfo import ALL, FLOAT_ALL, FLOATS, INTS, Arg, Sample
from .creation import ones_like
from .dispatch import apply, apply_, write_out
from . import pointwise
from .pointwise import where
from .registry import NO_ORDERING, OpDef, composite, name_node, register, tensor_method
from .shape import Expand, Getitem, IndexPut

_HALF = (D.float16.np, D.bfloat16.np)
_F32 = np.dtype(np.float32)
_TORCH_NAMES = D.SCALAR_NAMES
NAN = float("nan")
INF = float("inf")


# ---- result tuples ---------------------------------------------------------------------------
def _named_result(name: str, fields: str):
    """A namedtuple class that prints like torch.return_types.<name>."""
    base = collections.namedtuple(name, fields)

    def __repr__(self):
        body = ",\n".join(f"{f}={v!r}" for f, v in zip(self._fields, self))
        return f"torch.return_types.{name}(\n{body})"

    return type(name, (base,), {"__slots__": (), "__repr__": __repr__, "__module__": __name__,
                                "__qualname__": f"return_types.{name}"})


class return_types:
    """Result tuples with named fields, like torch.return_types (`values, indices = x.max(0)`)."""

    max = _named_result("max", "values indices")
    min = _named_result("min", "values indices")
    aminmax = _named_result("aminmax", "min max")
    cummax = _named_result("cummax", "values indices")
    cummin = _named_result("cummin", "values indices")
    median = _named_result("median", "values indices")
    nanmedian = _named_result("nanmedian", "values indices")
    mode = _named_result("mode", "values indices")


# ---- helpers ----------------------------------------------------------------------------------
def reduce_dims(dim, ndim: int, op: str) -> tuple:
    """Normalize `dim` (None, an int or a sequence; empty means all) to a sorted tuple of axes.
    A 0-d tensor accepts dim 0/-1 and reduces over no axis."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (tuple, list)):
        dims = [_dim(d, ndim, op) for d in dim]
        seen = set()
        for d in dims:
            if d in seen:
                raise RuntimeError(f"{op}(): dim {d} appears multiple times in the list of dims")
            seen.add(d)
        if not ndim:
            return ()
        return tuple(sorted(dims)) if dims else tuple(range(ndim))
    d = _dim(dim, ndim, op)
    return (d,) if ndim else ()


def _unreduce(t, shape, dims, keepdim):
    """A reduced tensor reshaped with its reduced dims kept as size 1, so it broadcasts against
    the input (a full reduction's 0-d result already does)."""
    if keepdim or not shape or len(dims) == len(shape):
        return t
    full = list(shape)
    for d in dims:
        full[d] = 1
    return t.reshape(*full)


def expand_reduced(g, shape, dims, keepdim):
    """Broadcast a reduced gradient back to the input's shape."""
    return apply(Expand, _unreduce(g, shape, dims, keepdim), shape=tuple(shape))


def _check_nonempty(op, shape, dims):
    for d in dims:
        if shape[d] == 0:
            raise IndexError(f"{op}(): Expected reduction dim {d} to have non-zero size.")


def _numel(shape, dims) -> int:
    n = 1
    for d in dims:
        n *= shape[d]
    return n


def _quiet():
    """Silence NumPy's floating-point warnings: torch returns inf/nan for these silently."""
    return np.errstate(divide="ignore", invalid="ignore", over="ignore")


def _acc(x):
    """Half-precision arrays are computed in float32."""
    return x.astype(_F32) if x.dtype in _HALF else x


def _sum_array(x, dims, keepdim, dt):
    """`x` summed over `dims` in NumPy dtype `dt`; half precision accumulates in float32."""
    if dt in _HALF:
        return _acc(x).sum(axis=dims, keepdims=keepdim, dtype=_F32).astype(dt)
    if x.dtype != dt:
        x = x.astype(dt)
    return x.sum(axis=dims, keepdims=keepdim, dtype=dt)


def _int_to_long(dt, requested):
    """The result dtype of sum-like ops: `requested`, else int64 for bool/integer inputs."""
    if requested is not None:
        return requested.np
    return D.int64.np if dt.kind in "biu" else dt


def _flip(t, dim):
    """`t` reversed along `dim` (a negative-step view)."""
    return apply(Getitem, t, key=(slice(None),) * dim + (slice(None, None, -1),))


def _rev_cumsum(t, dim):
    """out[i] = sum of t[k] for k >= i along `dim`."""
    return _flip(_flip(t, dim).cumsum(dim), dim)


def _scan(xp, op, x, axis: int):
    """Inclusive scan along `axis` of the binary ufunc named `op`, or of `op(xp, a, b)`.
    NumPy has ufunc.accumulate; CuPy has it only for add and multiply, and a function has
    none, so there a log-step (Hillis-Steele) scan runs instead."""
    if not isinstance(op, str):
        fn = functools.partial(op, xp)
    else:
        fn = getattr(xp, op)
        if xp is np:
            return fn.accumulate(x, axis=axis)
    out = xp.moveaxis(x, axis, -1).copy()
    step = 1
    while step < out.shape[-1]:
        out[..., step:] = fn(out[..., step:], out[..., :-step])
        step *= 2
    return xp.moveaxis(out, -1, axis)


def _index_key(xp, idx, dim, ndim, kept):
    """An advanced-index key selecting, along `dim` of an `ndim`-d input, the positions in `idx`.
    `idx` is laid out like the input with `dim` kept (any size) or removed, plus optional
    trailing axes."""
    key = []
    for i in range(ndim):
        if i == dim:
            key.append(idx)
            continue
        p = i if kept or i < dim else i - 1
        shape = [1] * idx.ndim
        shape[p] = idx.shape[p]
        key.append(xp.arange(idx.shape[p]).reshape(shape))
    return tuple(key)


def _scatter(g, shape, key, accumulate):
    """The gradient of a value-selecting op: `g` placed at `key` in zeros of `shape`."""
    zero = Tensor._zeros(shape, g._dtype, g._device)
    return apply(IndexPut, zero, g, key=key, accumulate=accumulate)


def _even_split(g, x, out, dims, keepdim):
    """Gradient of a reduction picking an extreme value: shared evenly among the elements that
    equal the result (NaN matching NaN)."""
    out = _unreduce(out, x.shape, dims, keepdim)
    g = _unreduce(g, x.shape, dims, keepdim)
    mask = where(out != out, x != x, x == out)
    count = mask.sum(dims, keepdim=True)
    return where(mask, g / count, 0.0)


def _sgn(x):
    """x / |x| (0 at 0): the derivative of |x| for real and complex inputs."""
    if not x.is_complex():
        return x.sign()
    ax = x.abs()
    return where(ax == 0, 0.0, x / where(ax == 0, 1.0, ax))


def _require_float(input, op):
    if input._dtype.category < D._FLOAT:
        raise RuntimeError(f"{op}(): expected input to have floating point or complex dtype but "
                           f"got {_TORCH_NAMES[input._dtype]}")


def _pair(cls, values, indices, out):
    if out is not None:
        write_out((values, indices), out)
        return cls(*out)
    return cls(values, indices)


def _zero_dim_pair(cls, input, out):
    """(values, indices) of a selecting reduction over a 0-d tensor: itself and index 0."""
    values = apply(Amax, input, dims=(), keepdim=False, evenly=True)
    return _pair(cls, values, Tensor._zeros((), D.int64, input._device), out)


# ---- sum, mean, prod --------------------------------------------------------------------------
@register("sum", promote=None, onnx="ReduceSum", samples=(
    Sample(lambda t, x: x.sum(), (Arg((3, 4)),), dtypes=ALL),
    Sample(lambda t, x: x.sum(1), (Arg((3, 4)),), dtypes=FLOATS + INTS, name="dim"),
    Sample(lambda t, x: x.sum((0, 2), keepdim=True), (Arg((2, 3, 4)),), name="keepdim"),
    Sample(lambda t, x: x.sum(dim=(), keepdim=True), (Arg((2, 3)),), name="empty_dims"),
    Sample(lambda t, x: t.sum(x, -1, dtype=t.float64), (Arg((2, 3)),), name="dtype"),
    Sample(lambda t, x: x.sum(0, dtype=t.int32), (Arg((3, 4), -3, 3),),
           dtypes=("bool", "uint8", "int32", "float32"), grad=False, name="int_dtype"),
    Sample(lambda t, x: x.sum(-1), (Arg(()),), name="0d"),
    Sample(lambda t, x: x.sum(0), (Arg((0, 3)),), grad=False, name="empty")))
class Sum(OpDef):
    def forward(ctx, xp, x, dims, keepdim=False, dtype=None):
        ctx.shape, ctx.dims, ctx.keepdim = x.shape, dims, keepdim
        if dtype is None and x.dtype.kind == "f" and x.dtype.itemsize >= 4:
            return x.sum(axis=None if len(dims) == x.ndim else dims, keepdims=keepdim)
        return _sum_array(x, dims, keepdim, _int_to_long(x.dtype, dtype))

    def backward(ctx, g):
        return expand_reduced(g, ctx.shape, ctx.dims, ctx.keepdim)


@tensor_method()
def sum(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Sum over all elements or over `dim` (bool/integer inputs give int64).

    >>> import ember
    >>> ember.tensor([[1, 2], [3, 4]]).sum(0)
    tensor([4, 6])
    """
    dims = reduce_dims(dim, input._data.ndim, "sum")
    if dtype is None:
        result = apply(Sum, input, dims=dims, keepdim=keepdim)
    else:
        result = apply(Sum, input, dims=dims, keepdim=keepdim, dtype=D.to_dtype(dtype))
    if dim is not None:  # torch's sum over dims is another overload
        name_node(result, "SumBackward1")
    return result if out is None else write_out(result, out)


@register("mean", promote=None, onnx="ReduceMean", samples=(
    Sample(lambda t, x: x.mean(), (Arg((3, 4)),), dtypes=FLOAT_ALL),
    Sample(lambda t, x: x.mean((0, 1), keepdim=True), (Arg((2, 3, 4)),), name="dims"),
    Sample(lambda t, x: x.mean(-1, dtype=t.float64), (Arg((2, 3)),), dtypes=INTS + FLOATS,
           grad=False, name="dtype"),
    Sample(lambda t, x: x.mean(0), (Arg(()),), name="0d"),
    Sample(lambda t, x: x.mean(0), (Arg((0, 3)),), grad=False, name="empty")))
class Mean(OpDef):
    def forward(ctx, xp, x, dims, keepdim=False):
        ctx.shape, ctx.dims, ctx.keepdim = x.shape, dims, keepdim
        ctx.n = _numel(x.shape, dims)
        total = _sum_array(x, dims, keepdim, _F32 if x.dtype in _HALF else x.dtype)
        if not ctx.n:  # 0 / 0, which torch answers with NaN silently
            return xp.full(total.shape, NAN, dtype=x.dtype)
        return (total / ctx.n).astype(x.dtype, copy=False)

    def backward(ctx, g):
        # an empty reduction has an empty gradient: any divisor will do
        return expand_reduced(g / builtins.max(ctx.n, 1), ctx.shape, ctx.dims, ctx.keepdim)


def _check_mean_dtype(input, dtype, op):
    if dtype is not None and D.to_dtype(dtype).category < D._FLOAT:
        raise RuntimeError(f"{op}(): could not infer output dtype. Optional dtype must be either "
                           f"a floating point or complex dtype. Got: "
                           f"{_TORCH_NAMES[D.to_dtype(dtype)]}")
    if dtype is None and input._dtype.category < D._FLOAT:
        raise RuntimeError(f"{op}(): could not infer output dtype. Input dtype must be either "
                           f"a floating point or complex dtype. Got: "
                           f"{_TORCH_NAMES[input._dtype]}")


@tensor_method()
def mean(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Arithmetic mean over all elements or over `dim` (floating or complex results only).

    >>> import ember
    >>> ember.tensor([[1., 2.], [3., 4.]]).mean(1)
    tensor([1.5000, 3.5000])
    """
    _check_mean_dtype(input, dtype, "mean")
    dims = reduce_dims(dim, input._data.ndim, "mean")
    if dtype is not None:
        input = input.to(dtype)
    result = apply(Mean, input, dims=dims, keepdim=keepdim)
    if dim is not None:  # torch's mean over dims is another overload
        name_node(result, "MeanBackward1")
    return write_out(result, out)


@register("prod", promote=None, onnx="ReduceProd", holomorphic=True, samples=(
    Sample(lambda t, x: x.prod(), (Arg((3, 4), 0.5, 1.5),), dtypes=ALL),
    Sample(lambda t, x: x.prod(1), (Arg((3, 4)),), dtypes=FLOATS + INTS, name="dim"),
    Sample(lambda t, x: t.prod(x, -2, keepdim=True), (Arg((2, 3, 4)),), name="keepdim"),
    Sample(lambda t, x: x.prod(0, dtype=t.float64), (Arg((3, 2)),), dtypes=FLOATS + INTS,
           name="dtype"),
    Sample(lambda t, x: x.prod(1), (Arg(values=[[2.0, 0.0, 3.0, 0.5], [0.0, 1.5, 0.0, 2.0],
                                                [1.5, -1.0, 2.0, 0.5]]),), name="zeros"),
    Sample(lambda t, x: x.prod(), (Arg(values=[[2.0, 0.0], [3.0, 0.5]]),), name="zero_all"),
    Sample(lambda t, x: x.prod(0), (Arg(()),), name="0d"),
    Sample(lambda t, x: x.prod(0), (Arg((0, 2)),), grad=False, name="empty")))
class Prod(OpDef):
    def forward(ctx, xp, x, dim, keepdim=False, dtype=None):
        ctx.dim, ctx.keepdim = dim, keepdim
        dt = _int_to_long(x.dtype, dtype)
        if dt in _HALF:
            out = _acc(x).prod(axis=dim, keepdims=keepdim).astype(dt)
        else:
            out = x.astype(dt, copy=False).prod(axis=dim, keepdims=keepdim, dtype=dt)
        ctx.save(x, out)
        return out

    def backward(ctx, g):
        x, out = ctx.saved
        dim = ctx.dim
        if dim is not None and not ctx.keepdim:
            g, out = g.unsqueeze(dim), out.unsqueeze(dim)
        if not bool((x == 0).any()):
            return g * out / x
        if dim is None:
            return (g * _prod_of_others(x.reshape(-1), 0)).reshape(*x.shape)
        return g * _prod_of_others(x, dim)


def _exclusive_cumprod(x, dim):
    """out[i] = product of x[j] for j < i along `dim` (1 at i = 0), differentiable."""
    n = x.shape[dim]
    shifted = ones_like(x)
    if n > 1:
        lead = (slice(None),) * dim
        head = apply(Getitem, x, key=lead + (slice(None, n - 1),))
        shifted = apply(IndexPut, shifted, head, key=lead + (slice(1, None),))
    return shifted.cumprod(dim)


def _prod_of_others(x, dim):
    """out[i] = product of x[j] for j != i along `dim`, exact when x holds zeros."""
    right = _flip(_exclusive_cumprod(_flip(x, dim), dim), dim)
    return _exclusive_cumprod(x, dim) * right


@tensor_method()
def prod(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Product of all elements or along one `dim` (bool/integer inputs give int64).

    >>> import ember
    >>> ember.tensor([[1, 2], [3, 4]]).prod(1)
    tensor([ 2, 12])
    """
    if dim is not None and not isinstance(dim, int):
        raise TypeError(f"prod(): argument 'dim' must be int, not {type(dim).__name__}")
    nd = input._data.ndim
    d = None if dim is None else _dim(dim, nd, "prod")
    if nd == 0:
        d = None
    kw = {} if dtype is None else {"dtype": D.to_dtype(dtype)}
    if dtype is not None:
        input = input.to(dtype)
    return write_out(apply(Prod, input, dim=d, keepdim=keepdim and d is not None, **kw), out)


@register("nansum", promote=None, complex=False, samples=(
    Sample(lambda t, x: x.nansum(), (Arg(values=[[1.0, NAN, 2.0], [NAN, -0.5, 0.25]]),)),
    Sample(lambda t, x: t.nansum(x, 1, keepdim=True, dtype=t.float64),
           (Arg(values=[[1.0, NAN, 2.0], [NAN, NAN, NAN]]),), name="dim"),
    Sample(lambda t, x: x.nansum(0), (Arg((3, 4)),), dtypes=ALL, grad=False,
           name="other_dtypes")))
class Nansum(OpDef):
    def forward(ctx, xp, x, dims, keepdim=False, dtype=None):
        ctx.dims, ctx.keepdim = dims, keepdim
        dt = _int_to_long(x.dtype, dtype)
        if x.dtype.kind in "fV":
            ctx.save(x)
            x = xp.where(xp.isnan(x), x.dtype.type(0), x)
        return _sum_array(x, dims, keepdim, dt)

    def backward(ctx, g):
        # a product rather than a selection, so an infinite incoming gradient turns NaN at the
        # NaN inputs like torch's (nanmean of an all-NaN slice)
        (x,) = ctx.saved
        return expand_reduced(g, x.shape, ctx.dims, ctx.keepdim) * (x == x)


@tensor_method()
def nansum(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Sum treating NaN as zero (bool/integer inputs give int64).

    >>> import ember
    >>> ember.tensor([1., float('nan'), 2.]).nansum()
    tensor(3.)
    """
    dims = reduce_dims(dim, input._data.ndim, "nansum")
    kw = {} if dtype is None else {"dtype": D.to_dtype(dtype)}
    return write_out(apply(Nansum, input, dims=dims, keepdim=keepdim, **kw), out)


@composite(samples=(
    Sample(lambda t, x: x.nanmean(), (Arg(values=[[1.0, NAN, 2.0], [NAN, -0.5, 0.25]]),)),
    Sample(lambda t, x: t.nanmean(x, 1, keepdim=True),
           (Arg(values=[[1.0, NAN, 2.0], [NAN, 0.5, NAN]]),), name="dim"),
    Sample(lambda t, x: x.nanmean(0), (Arg(values=[[1.0, NAN], [NAN, NAN]]),), grad=False,
           name="all_nan")))
@tensor_method()
def nanmean(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Mean over the non-NaN elements (NaN where all are NaN).

    >>> import ember
    >>> ember.tensor([1., float('nan'), 2.]).nanmean()
    tensor(1.5000)
    """
    _require_float(input, "nanmean")
    if dtype is not None:
        input = input.to(dtype)
    count = (input == input).sum(dim, keepdim)
    return write_out(nansum(input, dim, keepdim) / count, out)


# ---- max, min, argmax, argmin -----------------------------------------------------------------
def _extreme(name, np_name):
    """amax/amin: the largest/smallest value over `dims` (NaN propagates); the gradient is
    shared evenly among ties. Like torch, a NaN result gives NaN gradients to its slice, except
    for max()/min() of a whole tensor (`evenly`), which share it among the NaNs."""

    def forward(ctx, xp, x, dims, keepdim=False, evenly=False):
        ctx.dims, ctx.keepdim, ctx.evenly = dims, keepdim, evenly
        out = getattr(xp, np_name)(x, axis=dims, keepdims=keepdim)
        ctx.save(x, out)
        return out

    def backward(ctx, g):
        x, out = ctx.saved
        if ctx.evenly:
            return _even_split(g, x, out, ctx.dims, ctx.keepdim)
        mask = x == _unreduce(out, x.shape, ctx.dims, ctx.keepdim)
        g = _unreduce(g, x.shape, ctx.dims, ctx.keepdim)
        return g * mask / mask.sum(ctx.dims, keepdim=True)

    return register(name, promote=None, onnx="ReduceMax" if name == "amax" else "ReduceMin",
                    complex=NO_ORDERING,
                    samples=(
        Sample(lambda t, x: getattr(x, name)(), (Arg((3, 4)),), dtypes=ALL),
        Sample(lambda t, x: getattr(x, name)(1), (Arg((3, 4)),), dtypes=FLOATS + INTS,
               name="dim"),
        Sample(lambda t, x: getattr(t, name)(x, (0, -1), keepdim=True), (Arg((2, 3, 4)),),
               name="dims"),
        Sample(lambda t, x: getattr(x, name)(1), (Arg(values=[[1.0, 3.0, 3.0], [2.0, 2.0, 0.0],
                                                              [-1.0, 0.5, -1.0]]),),
               gradgrad=False, name="ties"),
        Sample(lambda t, x: getattr(x, name)(0), (Arg(()),), name="0d"),
        Sample(lambda t, x: getattr(x, name)(1), (Arg(values=[[1.0, NAN], [2.0, 3.0]]),),
               grad=False, name="nan")))(
        type(name.capitalize(), (OpDef,), {"forward": forward, "backward": backward}))


Amax = _extreme("amax", "max")
Amin = _extreme("amin", "min")


def _reduce_extreme(op, name, input, dim, keepdim, out):
    nd = input._data.ndim
    dims = reduce_dims(dim, nd, name)
    if input._data.size == 0 and len(dims) == nd and not (isinstance(dim, int) or dim):
        raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() "
                           "== 0. Specify the reduction dim with the 'dim' argument.")
    _check_nonempty(name, input._data.shape, dims)
    return write_out(apply(op, input, dims=dims, keepdim=keepdim), out)


@tensor_method()
def amax(input, dim=(), keepdim=False, *, out=None):
    """The maximum over `dim` (all dims by default); NaN propagates. Ties share the gradient.

    >>> import ember
    >>> ember.tensor([[1, 5], [7, 2]]).amax(1)
    tensor([5, 7])
    """
    return _reduce_extreme(Amax, "amax", input, dim, keepdim, out)


@tensor_method()
def amin(input, dim=(), keepdim=False, *, out=None):
    """The minimum over `dim` (all dims by default); NaN propagates. Ties share the gradient."""
    return _reduce_extreme(Amin, "amin", input, dim, keepdim, out)


def _selecting(name, np_arg):
    """max/min along one dim: (values, indices), first occurrence on ties, NaN propagating."""

    def forward(ctx, xp, x, dim, keepdim=False):
        idx = getattr(xp, np_arg)(x, axis=dim, keepdims=True)
        values = xp.take_along_axis(x, idx, axis=dim)
        if not keepdim:
            idx, values = idx.squeeze(dim), values.squeeze(dim)
        ctx.shape, ctx.key = x.shape, _index_key(xp, idx, dim, x.ndim, keepdim)
        return values, idx.astype(np.int64, copy=False)

    def backward(ctx, g, _):
        return _scatter(g, ctx.shape, ctx.key, False)

    return register(name, promote=None, complex=NO_ORDERING, samples=(
        Sample(lambda t, x: getattr(x, name)(1), (Arg((3, 4)),), dtypes=ALL),
        Sample(lambda t, x: getattr(t, name)(x, -1, keepdim=True), (Arg((2, 3, 4)),),
               name="keepdim"),
        Sample(lambda t, x: getattr(x, name)(0), (Arg(values=[[1.0, 3.0], [1.0, 2.0],
                                                              [3.0, 3.0]]),),
               dtypes=FLOATS + INTS, grad=False, name="ties"),
        Sample(lambda t, x: getattr(t, name)(x, dim=1), (Arg(values=[[1.0, NAN, 3.0, NAN]]),),
               grad=False, name="nan"),
        Sample(lambda t, x: getattr(x, name)(1), (Arg((0, 3)),), grad=False, name="empty")))(
        type(name.capitalize(), (OpDef,), {"forward": forward, "backward": backward}))


Max = _selecting("max", "argmax")
Min = _selecting("min", "argmin")


def _max_min(name, op, reduce_op, binary, input, dim, keepdim, out, other):
    if other is not None or isinstance(dim, Tensor):
        other = dim if other is None else other
        return getattr(pointwise, binary)(input, other, out=out)
    cls = getattr(return_types, name)
    if dim is None:
        if input._data.size == 0:
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for "
                               "input.numel() == 0. Specify the reduction dim with the 'dim' "
                               "argument.")
        values = apply(reduce_op, input, dims=tuple(range(input._data.ndim)), keepdim=False,
                       evenly=True)
        return write_out(name_node(values, name.capitalize() + "Backward1"), out)
    if not isinstance(dim, int):
        raise TypeError(f"{name}(): argument 'dim' must be int, not {type(dim).__name__}")
    nd = input._data.ndim
    d = _dim(dim, nd, name)
    if nd == 0:
        return _zero_dim_pair(cls, input, out)
    _check_nonempty(name, input._data.shape, (d,))
    values, indices = apply(op, input, dim=d, keepdim=keepdim)
    return _pair(cls, values, indices, out)


@tensor_method()
def max(input, dim=None, keepdim=False, *, out=None, other=None):
    """`max(x)`: the largest element (0-d). `max(x, dim, keepdim=False)`: (values, indices)
    along `dim`, the first index on ties. `max(x, other)`: elementwise maximum.

    >>> import ember
    >>> ember.tensor([[1, 5], [7, 2]]).max(1)
    torch.return_types.max(
    values=tensor([5, 7]),
    indices=tensor([1, 0]))
    """
    return _max_min("max", Max, Amax, "maximum", input, dim, keepdim, out, other)


@tensor_method()
def min(input, dim=None, keepdim=False, *, out=None, other=None):
    """`min(x)`: the smallest element (0-d). `min(x, dim, keepdim=False)`: (values, indices)
    along `dim`, the first index on ties. `min(x, other)`: elementwise minimum."""
    return _max_min("min", Min, Amin, "minimum", input, dim, keepdim, out, other)


@composite(samples=(
    Sample(lambda t, x: t.aminmax(x), (Arg((3, 4)),), dtypes=ALL),
    Sample(lambda t, x: x.aminmax(dim=1, keepdim=True), (Arg((3, 4)),), name="dim")))
@tensor_method()
def aminmax(input, *, dim=None, keepdim=False, out=None):
    """(min, max) together, over all elements or along `dim`.

    >>> import ember
    >>> ember.tensor([3, 1, 2]).aminmax()
    torch.return_types.aminmax(
    min=tensor(1),
    max=tensor(3))
    """
    dims = reduce_dims(dim, input._data.ndim, "aminmax")
    if dim is None and input._data.size == 0:
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the "
                           "operation has no identity.")
    _check_nonempty("aminmax", input._data.shape, dims)
    lo = apply(Amin, input, dims=dims, keepdim=keepdim)
    hi = apply(Amax, input, dims=dims, keepdim=keepdim)
    if out is not None:
        write_out((lo, hi), out)
        return return_types.aminmax(*out)
    return return_types.aminmax(lo, hi)


def _arg_extreme(name, np_name):
    def forward(ctx, xp, x, dim, keepdim=False):
        if dim is None:
            idx = getattr(xp, np_name)(x.reshape(-1))
            return xp.asarray(idx, dtype=np.int64).reshape((1,) * x.ndim if keepdim else ())
        return getattr(xp, np_name)(x, axis=dim, keepdims=keepdim).astype(np.int64, copy=False)

    return register(name, promote=None, differentiable=False, onnx=name.capitalize(),
                    complex=NO_ORDERING, samples=(
        Sample(lambda t, x: getattr(t, name)(x), (Arg((3, 4)),), dtypes=ALL[1:], grad=False),
        Sample(lambda t, x: getattr(x, name)(1, keepdim=True), (Arg((3, 4)),), grad=False,
               name="dim"),
        Sample(lambda t, x: getattr(x, name)(keepdim=True), (Arg((2, 3)),), grad=False,
               name="keepdim_all"),
        Sample(lambda t, x: getattr(x, name)(0), (Arg(values=[[1, 3], [1, 2], [3, 3]]),),
               dtypes=INTS, grad=False, name="ties"),
        Sample(lambda t, x: getattr(x, name)(), (Arg(values=[1.0, NAN, 0.0, NAN]),),
               grad=False, name="nan")))(
        type(name.capitalize(), (OpDef,), {"forward": forward}))


Argmax = _arg_extreme("argmax", "argmax")
Argmin = _arg_extreme("argmin", "argmin")


def _arg_reduce(op, name, input, dim, keepdim, out):
    if input._dtype is D.bool:
        raise RuntimeError(f"{name}(): does not support bool input")
    nd = input._data.ndim
    if dim is None:
        if input._data.size == 0:
            raise IndexError(f"{name}(): Expected reduction dim to be specified for "
                             "input.numel() == 0.")
        return write_out(apply(op, input, dim=None, keepdim=keepdim), out)
    d = _dim(dim, nd, name)
    if nd == 0:
        return write_out(apply(op, input, dim=None, keepdim=False), out)
    _check_nonempty(name, input._data.shape, (d,))
    return write_out(apply(op, input, dim=d, keepdim=keepdim), out)


@tensor_method()
def argmax(input, dim=None, keepdim=False, *, out=None):
    """Index of the largest element (of the flattened tensor when dim is None); first on ties.

    >>> import ember
    >>> ember.tensor([[1, 5], [7, 2]]).argmax()
    tensor(2)
    """
    return _arg_reduce(Argmax, "argmax", input, dim, keepdim, out)


@tensor_method()
def argmin(input, dim=None, keepdim=False, *, out=None):
    """Index of the smallest element (of the flattened tensor when dim is None); first on ties."""
    return _arg_reduce(Argmin, "argmin", input, dim, keepdim, out)


# ---- var, std ---------------------------------------------------------------------------------
def _variance(x, dims, correction, keepdim):
    """(variance, divisor): the sum of squared deviations over `dims` divided by
    max(0, n - correction), real, and in float32 for half-precision x."""
    acc = _acc(x)
    n = _numel(x.shape, dims)
    divisor = builtins.max(0, n - correction)
    with _quiet():
        mean = acc.sum(axis=dims, keepdims=True) / n
        centered = acc - mean
        sq = (centered * centered.conj()).real if acc.dtype.kind == "c" else centered * centered
        return sq.sum(axis=dims, keepdims=keepdim) / divisor, divisor


def _real_dtype(x):
    return D.from_numpy_dtype(x.dtype).to_real().np


def _var_grad(x, g, dims, keepdim, divisor):
    g = _unreduce(g, x.shape, dims, keepdim)
    centered = x - x.mean(dims, keepdim=True)
    return g * centered * (2.0 / divisor if divisor else INF)


def _var_samples(op):
    return (
        Sample(lambda t, x: getattr(x, op)(), (Arg((3, 4)),), dtypes=FLOAT_ALL),
        Sample(lambda t, x: getattr(x, op)(1), (Arg((3, 4)),), name="dim"),
        Sample(lambda t, x: getattr(t, op)(x, (0, 2), correction=0, keepdim=True),
               (Arg((2, 3, 4)),), name="correction"),
        Sample(lambda t, x: getattr(x, op)(0, False), (Arg((3, 2)),), name="unbiased"),
        Sample(lambda t, x: getattr(x, op)(-1, correction=2.5), (Arg((2, 5)),),
               name="float_correction"),
        Sample(lambda t, x: getattr(x, op)(0, correction=0), (Arg(()),), name="0d"))


@register("var", promote=None, samples=_var_samples("var"))
class Var(OpDef):
    def forward(ctx, xp, x, dims, correction=1, keepdim=False):
        out, ctx.divisor = _variance(x, dims, correction, keepdim)
        ctx.dims, ctx.keepdim = dims, keepdim
        ctx.save(x)
        return out.astype(_real_dtype(x), copy=False)

    def backward(ctx, g):
        (x,) = ctx.saved
        return _var_grad(x, g, ctx.dims, ctx.keepdim, ctx.divisor)


@register("std", promote=None, samples=_var_samples("std") + (
    Sample(lambda t, x: x.std(1), (Arg(values=[[1.0, 1.0, 1.0], [1.0, 2.0, 4.0]]),),
           gradgrad=False, name="constant"),))
class Std(OpDef):
    def forward(ctx, xp, x, dims, correction=1, keepdim=False):
        var, ctx.divisor = _variance(x, dims, correction, keepdim)
        out = xp.sqrt(var).astype(_real_dtype(x), copy=False)
        ctx.dims, ctx.keepdim = dims, keepdim
        ctx.save(x, out)
        return out

    def backward(ctx, g):
        x, out = ctx.saved
        zero = out == 0
        g_var = where(zero, 0.0, g / (2 * where(zero, 1.0, out)))
        return _var_grad(x, g_var, ctx.dims, ctx.keepdim, ctx.divisor)


def _var_args(input, dim, unbiased, correction, op):
    """Resolve torch's var/std overloads to (dims, correction), warning when n - correction <= 0
    like torch (the result is then inf or nan)."""
    if isinstance(dim, bool):
        if unbiased is not None:
            raise TypeError(f"{op}(): got multiple values for argument 'unbiased'")
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{op}(): received an invalid combination of arguments: pass either "
                        "'unbiased' (legacy) or 'correction', not both")
    if correction is None:
        correction = 1 if unbiased is None else int(unbiased)
    if input._dtype.category < D._FLOAT:
        raise RuntimeError("std and var only support floating point and complex dtypes")
    dims = reduce_dims(dim, input._data.ndim, op)
    if _numel(input._data.shape, dims) - correction <= 0:
        warnings.warn(f"{op}(): degrees of freedom is <= 0. Correction should be strictly less "
                      "than the reduction factor (input numel divided by output numel).",
                      UserWarning, stacklevel=3)
    return dims, correction


@tensor_method()
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    """Variance over `dim` with Bessel's `correction` (default 1; `unbiased` is the legacy flag).

    >>> import ember
    >>> ember.tensor([1., 2., 3., 4.]).var()
    tensor(1.6667)
    """
    dims, correction = _var_args(input, dim, unbiased, correction, "var")
    return write_out(apply(Var, input, dims=dims, correction=correction, keepdim=keepdim), out)


@tensor_method()
def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    """Standard deviation over `dim` with Bessel's `correction` (default 1).

    >>> import ember
    >>> ember.tensor([1., 2., 3., 4.]).std(correction=0)
    tensor(1.1180)
    """
    dims, correction = _var_args(input, dim, unbiased, correction, "std")
    return write_out(apply(Std, input, dims=dims, correction=correction, keepdim=keepdim), out)


@composite(samples=(
    Sample(lambda t, x: t.var_mean(x, 1), (Arg((3, 4)),)),
    Sample(lambda t, x: t.var_mean(x, (0, 1), correction=0, keepdim=True), (Arg((2, 3, 2)),),
           name="dims")))
def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    """(var, mean) over `dim`, like var() and mean() called together."""
    dims, correction = _var_args(input, dim, unbiased, correction, "var_mean")
    result = (apply(Var, input, dims=dims, correction=correction, keepdim=keepdim),
              apply(Mean, input, dims=dims, keepdim=keepdim))
    return write_out(result, out)


@composite(samples=(
    Sample(lambda t, x: t.std_mean(x, 1), (Arg((3, 4)),)),
    Sample(lambda t, x: t.std_mean(x, correction=0), (Arg((2, 3)),), name="all")))
def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    """(std, mean) over `dim`, like std() and mean() called together."""
    dims, correction = _var_args(input, dim, unbiased, correction, "std_mean")
    result = (apply(Std, input, dims=dims, correction=correction, keepdim=keepdim),
              apply(Mean, input, dims=dims, keepdim=keepdim))
    return write_out(result, out)


# ---- logsumexp --------------------------------------------------------------------------------
@register("logsumexp", promote="float", holomorphic=True, onnx="ReduceLogSumExp", samples=(
    Sample(lambda t, x: x.logsumexp(1), (Arg((3, 4), -5, 5),), dtypes=FLOAT_ALL),
    Sample(lambda t, x: t.logsumexp(x, (0, 2), keepdim=True), (Arg((2, 3, 4)),), name="dims"),
    Sample(lambda t, x: x.logsumexp(0), (Arg((3, 2), -3, 3),), dtypes=INTS, grad=False,
           name="int"),
    Sample(lambda t, x: x.logsumexp(1), (Arg(values=[[-1000.0, -1001.0], [800.0, 799.0]]),),
           name="large"),
    Sample(lambda t, x: x.logsumexp(1), (Arg(values=[[-INF, -INF], [INF, 1.0], [NAN, 1.0],
                                                     [-INF, 2.0]]),),
           grad=False, name="inf"),
    Sample(lambda t, x: x.logsumexp(0), (Arg((0, 2)),), grad=False, name="empty")))
class Logsumexp(OpDef):
    def forward(ctx, xp, x, dims, keepdim=False):
        ctx.dims, ctx.keepdim = dims, keepdim
        if x.size == 0:
            shape = [1 if i in dims else s for i, s in enumerate(x.shape)
                     if keepdim or i not in dims]
            out = xp.full(shape, -INF, dtype=x.dtype)
        else:
            # the real parts' peak: a complex one would move the result's phase off (-pi, pi]
            peak = (x.real if x.dtype.kind == "c" else x).max(axis=dims, keepdims=True)
            peak = xp.where(xp.isfinite(peak), peak, 0)
            out = xp.log(xp.exp(x - peak).sum(axis=dims, keepdims=True)) + peak
            if not keepdim:
                out = out.reshape([s for i, s in enumerate(x.shape) if i not in dims])
        ctx.save(x, out)
        return out

    def backward(ctx, g):
        x, out = ctx.saved
        g = _unreduce(g, x.shape, ctx.dims, ctx.keepdim)
        return g * (x - _unreduce(out, x.shape, ctx.dims, ctx.keepdim)).exp()


@tensor_method()
def logsumexp(input, dim, keepdim=False, *, out=None):
    """log(sum(exp(input))) over `dim`, computed without overflow (-inf for all -inf slices).

    >>> import ember
    >>> ember.tensor([1000., 1000.]).logsumexp(0)
    tensor(1000.6932)
    """
    dims = reduce_dims(dim, input._data.ndim, "logsumexp")
    return write_out(apply(Logsumexp, input, dims=dims, keepdim=keepdim), out)


# ---- norms ------------------------------------------------------------------------------------
@register("vector_norm", promote=None, torch_node="LinalgVectorNormBackward0", samples=(
    Sample(lambda t, x: x.norm(), (Arg((3, 4)),), dtypes=FLOAT_ALL),
    Sample(lambda t, x: x.norm(1, dim=1), (Arg((3, 4)),), name="p1"),
    Sample(lambda t, x: x.norm(INF, dim=(0, 1)), (Arg((3, 4)),), name="inf"),
    Sample(lambda t, x: x.norm(-INF, dim=0, keepdim=True), (Arg((3, 4)),), name="-inf"),
    Sample(lambda t, x: x.norm(0, dim=1), (Arg(values=[[0.0, 1.5, -2.0], [0.5, 0.0, 0.0]]),),
           name="p0"),
    Sample(lambda t, x: x.norm(3, dim=-1), (Arg((3, 4)),), name="p3"),
    Sample(lambda t, x: x.norm(0.5, dim=1), (Arg((3, 4), 0.2, 2),), name="p0.5"),
    Sample(lambda t, x: x.norm(-1.5, dim=1), (Arg((3, 4), 0.2, 2),), name="negative_p"),
    Sample(lambda t, x: x.norm("fro", dim=(0, 1), keepdim=True), (Arg((2, 3, 2)),),
           name="fro"),
    Sample(lambda t, x: t.norm(x, dtype=t.float64), (Arg((2, 3)),), name="dtype"),
    Sample(lambda t, x: x.norm(2, dim=1), (Arg(values=[[0.0, 0.0, 0.0], [1.0, -2.0, 2.0]]),),
           gradgrad=False, name="zero_row"),
    Sample(lambda t, x: x.norm(3, dim=1), (Arg(values=[[0.0, 0.0, 0.0], [1.0, 0.0, -2.0]]),),
           gradgrad=False, name="zeros_p3"),
    Sample(lambda t, x: x.norm(INF, dim=1), (Arg(values=[[1.0, -3.0, 3.0], [2.0, 0.5, 0.0]]),),
           gradgrad=False, name="inf_ties"),
    Sample(lambda t, x: x.norm(), (Arg((0, 2)),), grad=False, name="empty"),
    Sample(lambda t, x: t.linalg.vector_norm(x, 3, dim=(0, 2), keepdim=True),
           (Arg((2, 3, 4)),), name="linalg_p3"),
    Sample(lambda t, x: t.linalg.vector_norm(x, float("inf")),
           (Arg((2, 2), values=[[1., -3.], [3., 2.]]),), gradgrad=False, name="linalg_inf"),
    Sample(lambda t, x: t.linalg.vector_norm(x, dtype=t.float64), (Arg((3,)),),
           name="linalg_dtype"),
    Sample(lambda t, x: t.linalg.vector_norm(x * 0), (Arg((2, 3)),), name="at_zero"),
    Sample(lambda t, x: t.linalg.vector_norm(x), (Arg(()),), name="0d")))
class VectorNorm(OpDef):
    def forward(ctx, xp, x, ord, dims, keepdim=False):
        ctx.ord, ctx.dims, ctx.keepdim = ord, dims, keepdim
        a = _acc(xp.abs(x))
        if ord == 2:
            out = xp.sqrt((a * a).sum(axis=dims, keepdims=keepdim))
        elif ord == INF:
            out = a.max(axis=dims, keepdims=keepdim)
        elif ord == -INF:
            out = a.min(axis=dims, keepdims=keepdim)
        elif ord == 0:
            out = (a != 0).sum(axis=dims, keepdims=keepdim).astype(a.dtype)
        elif ord == 1:
            out = a.sum(axis=dims, keepdims=keepdim)
        else:
            out = (a ** ord).sum(axis=dims, keepdims=keepdim) ** (1.0 / ord)
        out = out.astype(_real_dtype(x), copy=False)
        ctx.save(x, out)
        return out

    def backward(ctx, g):
        x, out = ctx.saved
        p = ctx.ord
        if p == 0:
            return None
        g = _unreduce(g, x.shape, ctx.dims, ctx.keepdim)
        out = _unreduce(out, x.shape, ctx.dims, ctx.keepdim)
        if p == 1:
            return g * _sgn(x)
        zero_norm = out == 0
        if p == 2:
            return g * x / where(zero_norm, 1.0, out)
        if p in (INF, -INF):
            mask = x.abs() == out
            return where(mask, g * _sgn(x) / mask.sum(ctx.dims, keepdim=True), 0.0)
        ax = x.abs()
        zero = ax == 0
        scaled = where(zero, 0.0, _sgn(x) * where(zero, 1.0, ax) ** (p - 1))
        return where(zero_norm, 0.0, g * scaled / where(zero_norm, 1.0, out) ** (p - 1))


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None, out=None):
    """The vector `ord`-norm over `dim` (all elements by default): (sum |x|^ord)^(1/ord), with
    inf/-inf the max/min of |x| and 0 the count of non-zeros (ember.linalg.vector_norm)."""
    if x._dtype.category < D._FLOAT:
        raise RuntimeError("linalg.vector_norm: Expected a floating point or complex tensor as "
                           f"input. Got {_TORCH_NAMES[x._dtype]}")
    if dtype is not None:
        dtype = D.to_dtype(dtype)
        if dtype.category < D._FLOAT:
            raise RuntimeError("linalg.vector_norm: dtype should be floating point or complex, "
                               f"but got {_TORCH_NAMES[dtype]}")
        if x._dtype.is_complex and not dtype.is_complex:
            raise RuntimeError("linalg.vector_norm: dtype should be complex for complex inputs, "
                               f"but got {_TORCH_NAMES[dtype]}")
        if D.promote_types(x._dtype, dtype) is not dtype:
            raise RuntimeError(f"linalg.vector_norm: the dtype of the input "
                               f"({_TORCH_NAMES[x._dtype]}) should be convertible without "
                               f"narrowing to the specified dtype ({_TORCH_NAMES[dtype]})")
        x = x.to(dtype)
    ord = float(ord)
    dims = reduce_dims(dim, x._data.ndim, "linalg.vector_norm")
    if (ord < 0 or ord == INF) and _numel(x._data.shape, dims) == 0:
        raise RuntimeError(f"linalg.vector_norm cannot compute the {ord:g} norm on an empty "
                           "tensor because the operation does not have an identity")
    return write_out(apply(VectorNorm, x, ord=ord, dims=dims, keepdim=keepdim), out)


@tensor_method()
def norm(input, p="fro", dim=None, keepdim=False, out=None, dtype=None):
    """The vector p-norm over `dim` (2-norm, i.e. 'fro', by default). p may be any number,
    inf or -inf; 'nuc' and other matrix norms are computed by ember.linalg.matrix_norm.

    >>> import ember
    >>> ember.tensor([[3., 4.], [0., 0.]]).norm(dim=1)
    tensor([5., 0.])
    """
    if isinstance(p, str):
        dims = (dim,) if isinstance(dim, int) else dim
        if p == "fro" and (dims is None or len(dims) <= 2):
            return vector_norm(input, 2, dim, keepdim, dtype=dtype, out=out)
        if p not in ("fro", "nuc"):
            raise RuntimeError(f"linalg.matrix_norm: Order {p} not supported.")
        from .. import linalg
        dims = tuple(range(input._data.ndim)) if dims is None else dims
        return linalg.matrix_norm(input, p, dims, keepdim, dtype=dtype, out=out)
    return vector_norm(input, 2 if p is None else p, dim, keepdim, dtype=dtype, out=out)


# ---- cumulative ops ---------------------------------------------------------------------------
def _running_array(x, method, dim, dtype):
    """x.cumsum/x.cumprod along `dim` in the result dtype (int64 for bool/integer x unless
    `dtype` says otherwise); half precision accumulates in float32."""
    dt = _int_to_long(x.dtype, dtype)
    if x.ndim == 0:
        return x.astype(dt)
    if dt in _HALF:
        return getattr(_acc(x), method)(axis=dim, dtype=_F32).astype(dt)
    return getattr(x.astype(dt, copy=False), method)(axis=dim, dtype=dt)


@register("cumsum", promote=None, onnx="CumSum", samples=(
    Sample(lambda t, x: x.cumsum(1), (Arg((3, 4)),), dtypes=ALL),
    Sample(lambda t, x: t.cumsum(x, -3), (Arg((2, 3, 2)),), name="neg_dim"),
    Sample(lambda t, x: x.cumsum(0, dtype=t.float64), (Arg((3, 2)),), dtypes=INTS + FLOATS,
           name="dtype"),
    Sample(lambda t, x: x.cumsum(0), (Arg(()),), name="0d"),
    Sample(lambda t, x: x.cumsum(1), (Arg((2, 0)),), grad=False, name="empty")))
class Cumsum(OpDef):
    def forward(ctx, xp, x, dim, dtype=None):
        ctx.dim = dim
        return _running_array(x, "cumsum", dim, dtype)

    def backward(ctx, g):
        return g if g.ndim == 0 else _rev_cumsum(g, ctx.dim)


@register("cumprod", promote=None, holomorphic=True, samples=(
    Sample(lambda t, x: x.cumprod(1), (Arg((3, 4)),), dtypes=ALL),
    Sample(lambda t, x: t.cumprod(x, -1, dtype=t.float64), (Arg((2, 3)),),
           dtypes=INTS + FLOATS, name="dtype"),
    Sample(lambda t, x: x.cumprod(1), (Arg(values=[[2.0, 0.0, 3.0, 0.5, 4.0],
                                                   [2.0, 0.0, 1.5, 0.0, 4.0],
                                                   [0.0, 1.5, 2.0, -1.0, 0.0],
                                                   [1.0, 2.0, -0.5, 1.5, 3.0]]),),
           name="zeros"),
    Sample(lambda t, x: x.cumprod(0), (Arg(values=[[0.0, 1.0], [2.0, 0.0], [0.0, 3.0]]),),
           name="zeros_dim0"),
    Sample(lambda t, x: x.cumprod(0), (Arg(()),), name="0d")))
class Cumprod(OpDef):
    def forward(ctx, xp, x, dim, dtype=None):
        ctx.dim = dim
        out = _running_array(x, "cumprod", dim, dtype)
        ctx.save(x, out)
        return out

    def backward(ctx, g):
        x, out = ctx.saved
        if x.ndim == 0:
            return g
        dim = ctx.dim
        if not bool((x == 0).any()):
            return _rev_cumsum(g * out, dim) / x
        return _cumprod_grad(x, out, g, dim)


def _cumprod_grad_first_order(x, out, g, dim):
    """sum over k >= i of g[k] * prod_{j <= k, j != i} x[j], along `dim`, for x with zeros:
    positions before a slice's first zero use division, the first zero a product of what
    surrounds it, and positions after it are zero."""
    is_zero = x == 0
    zeros_so_far = is_zero.cumsum(dim)
    before = zeros_so_far == 0
    first = is_zero & (zeros_so_far == 1)
    at_or_after = zeros_so_far > 0
    after = (zeros_so_far - is_zero.long()) > 0
    head = where(before, _rev_cumsum(g * out, dim) / where(before, x, 1.0), 0.0)
    prefix = where(before, x, 1.0).prod(dim, keepdim=True)
    tail = where(at_or_after, g * where(after, x, 1.0).cumprod(dim), 0.0).sum(dim, keepdim=True)
    return head + where(first, prefix * tail, 0.0), first, after


def _cumprod_grad(x, out, g, dim):
    """The cumprod gradient with zeros in x, exact to first order in x too (so double backward
    matches torch): after a slice's first zero z every term carries x[z] once, so there the
    gradient is x[z] times the gradient for x with x[z] replaced by 1."""
    grad, first, after = _cumprod_grad_first_order(x, out, g, dim)
    y = where(first, 1.0, x)
    rest, _, _ = _cumprod_grad_first_order(y, y.cumprod(dim), g, dim)
    x_first = where(first, x, 0.0).sum(dim, keepdim=True)
    return grad + where(after, x_first * rest, 0.0)


def _cumulative(op, name, input, dim, dtype, out):
    d = _dim(dim, input._data.ndim, name)
    if dtype is None:
        return write_out(apply(op, input, dim=d), out)
    dtype = D.to_dtype(dtype)
    return write_out(apply(op, input.to(dtype), dim=d, dtype=dtype), out)


@tensor_method()
def cumsum(input, dim, *, dtype=None, out=None):
    """Running sum along `dim` (bool/integer inputs give int64).

    >>> import ember
    >>> ember.tensor([1, 2, 3]).cumsum(0)
    tensor([1, 3, 6])
    """
    return _cumulative(Cumsum, "cumsum", input, dim, dtype, out)


@tensor_method()
def cumprod(input, dim, *, dtype=None, out=None):
    """Running product along `dim` (bool/integer inputs give int64); exact gradients with zeros.

    >>> import ember
    >>> ember.tensor([1, 2, 3]).cumprod(0)
    tensor([1, 2, 6])
    """
    return _cumulative(Cumprod, "cumprod", input, dim, dtype, out)


def _inplace_cumulative(op):
    def method(self, dim, *, dtype=None):
        kw = {} if dtype is None else {"dtype": D.to_dtype(dtype)}
        return apply_(op, self, dim=_dim(dim, self._data.ndim, op.name + "_"), **kw)
    method.__name__ = op.name + "_"
    method.__doc__ = f"In-place {op.name} along `dim`."
    return method


Tensor.cumsum_ = _inplace_cumulative(Cumsum)
Tensor.cumprod_ = _inplace_cumulative(Cumprod)


def _running(name, ufunc):
    """cummax/cummin: running extreme along `dim` with its index (the latest on ties; once a NaN
    is seen the values stay NaN and the index follows the latest NaN)."""

    def forward(ctx, xp, x, dim):
        values = _scan(xp, ufunc, x, dim)
        hit = x == values
        if x.dtype.kind in "fcV":
            hit |= xp.isnan(x)
        shape = [1] * x.ndim
        shape[dim] = x.shape[dim]
        positions = xp.where(hit, xp.arange(x.shape[dim]).reshape(shape), 0)
        idx = _scan(xp, "maximum", positions, dim).astype(np.int64, copy=False)
        ctx.shape, ctx.key = x.shape, _index_key(xp, idx, dim, x.ndim, True)
        return values, idx

    def backward(ctx, g, _):
        return _scatter(g, ctx.shape, ctx.key, True)

    return register(name, promote=None, complex=False, samples=(
        Sample(lambda t, x: getattr(x, name)(1), (Arg((3, 4)),), dtypes=ALL),
        Sample(lambda t, x: getattr(t, name)(x, dim=-3), (Arg((3, 2, 2)),), name="dim"),
        Sample(lambda t, x: getattr(x, name)(0),
               (Arg(values=[1.0, 3.0, 3.0, 2.0, 5.0, NAN, 1.0, NAN, -1.0]),),
               grad=False, name="ties_nan"),
        Sample(lambda t, x: getattr(x, name)(1), (Arg(values=[[1, 0, 0, 2, 2, -3]]),),
               dtypes=INTS, grad=False, name="ties"),
        Sample(lambda t, x: getattr(x, name)(0), (Arg((0, 2)),), grad=False, name="empty")))(
        type(name.capitalize(), (OpDef,), {"forward": forward, "backward": backward}))


Cummax = _running("cummax", "maximum")
Cummin = _running("cummin", "minimum")


def _running_api(op, name, input, dim, out):
    d = _dim(dim, input._data.ndim, name)
    cls = getattr(return_types, name)
    if input._data.ndim == 0:
        return _zero_dim_pair(cls, input, out)
    values, indices = apply(op, input, dim=d)
    return _pair(cls, values, indices, out)


@tensor_method()
def cummax(input, dim, *, out=None):
    """(values, indices) of the running maximum along `dim`.

    >>> import ember
    >>> ember.tensor([1, 3, 2, 5]).cummax(0).values
    tensor([1, 3, 3, 5])
    """
    return _running_api(Cummax, "cummax", input, dim, out)


@tensor_method()
def cummin(input, dim, *, out=None):
    """(values, indices) of the running minimum along `dim`."""
    return _running_api(Cummin, "cummin", input, dim, out)


@register("logcumsumexp", promote=None, holomorphic=True, samples=(
    Sample(lambda t, x: x.logcumsumexp(1), (Arg((3, 4), -3, 3),), dtypes=FLOAT_ALL),
    Sample(lambda t, x: t.logcumsumexp(x, -2), (Arg((2, 3, 2)),), name="dim"),
    Sample(lambda t, x: x.logcumsumexp(0), (Arg(values=[-1000.0, 0.0, -50.0, 700.0, 1.0]),),
           name="range"),
    Sample(lambda t, x: x.logcumsumexp(0), (Arg(values=[-INF, -INF, 1.0, INF, NAN]),),
           grad=False, name="inf"),
    Sample(lambda t, x: x.logcumsumexp(0), (Arg(()),), name="0d")))
class Logcumsumexp(OpDef):
    def forward(ctx, xp, x, dim):
        ctx.dim = dim
        if x.ndim == 0:
            out = x.copy()
        else:
            scan = pointwise.complex_logaddexp if x.dtype.kind == "c" else "logaddexp"
            out = _scan(xp, scan, _acc(x), dim).astype(x.dtype, copy=False)
        ctx.save(x, out)
        return out

    def backward(ctx, g):
        x, out = ctx.saved
        if x.ndim == 0:
            return g
        dim = ctx.dim
        # sum over k >= j of g[k] exp(x[j] - out[k]), done in log space (real g split by its
        # sign; complex g has a log); log(0) is taken as half the lowest finite value rather
        # than -inf, so that no inf - inf turns the double backward into nan (and sums with it
        # cannot overflow)
        lowest = D.finfo(x.dtype).min / 2
        if x.is_complex():
            log_g = where(g == 0, lowest, where(g == 0, 1.0, g).log())
            return (x + _flip(_flip(log_g - out, dim).logcumsumexp(dim), dim)).exp()

        def part(mask, magnitude):
            log_g = where(mask, where(mask, magnitude, 1.0).log(), lowest)
            return (x + _flip(_flip(log_g - out, dim).logcumsumexp(dim), dim)).exp()

        return part(g > 0, g) - part(g < 0, -g)


@tensor_method()
def logcumsumexp(input, dim, *, out=None):
    """log(cumsum(exp(input))) along `dim`, without overflow or underflow.

    >>> import ember
    >>> ember.tensor([0., 0., 0.]).logcumsumexp(0)
    tensor([0.0000, 0.6931, 1.0986])
    """
    if input._dtype.category < D._FLOAT:
        raise NotImplementedError(f'"logcumsumexp" not implemented for '
                                  f"'{_TORCH_NAMES[input._dtype]}'")
    d = _dim(dim, input._data.ndim, "logcumsumexp")
    return write_out(apply(Logcumsumexp, input, dim=d), out)


# ---- all, any, count_nonzero ------------------------------------------------------------------
def _logical(name):
    def forward(ctx, xp, x, dims, keepdim=False):
        out = getattr(xp, name)(x, axis=dims, keepdims=keepdim)
        return out.astype(np.uint8) if x.dtype == np.uint8 else out

    return register(name, promote=None, differentiable=False, samples=(
        Sample(lambda t, x: getattr(x, name)(), (Arg((3, 4), -1, 1),), dtypes=ALL, grad=False),
        Sample(lambda t, x: getattr(x, name)(1), (Arg((3, 4), 0, 1),), dtypes=ALL, grad=False,
               name="dim"),
        Sample(lambda t, x: getattr(t, name)(x, (0, 2), keepdim=True), (Arg((2, 3, 2), 0, 1),),
               dtypes=("bool", "uint8", "float32"), grad=False, name="dims"),
        Sample(lambda t, x: getattr(x, name)(0), (Arg((0, 2)),), grad=False, name="empty")))(
        type(name.capitalize(), (OpDef,), {"forward": forward}))


All = _logical("all")
Any = _logical("any")


def _logical_api(op, name, input, dim, keepdim, out):
    if isinstance(dim, (tuple, list)) and not dim:
        dims = ()
    else:
        dims = reduce_dims(dim, input._data.ndim, name)
    return write_out(apply(op, input, dims=dims, keepdim=keepdim), out)


@tensor_method()
def all(input, dim=None, keepdim=False, *, out=None):
    """Whether every element is non-zero, over all elements or `dim` (uint8 in, uint8 out).

    >>> import ember
    >>> ember.tensor([[True, False], [True, True]]).all(1)
    tensor([False,  True])
    """
    return _logical_api(All, "all", input, dim, keepdim, out)


@tensor_method()
def any(input, dim=None, keepdim=False, *, out=None):
    """Whether some element is non-zero, over all elements or `dim` (uint8 in, uint8 out)."""
    return _logical_api(Any, "any", input, dim, keepdim, out)


@register("count_nonzero", promote=None, differentiable=False, samples=(
    Sample(lambda t, x: x.count_nonzero(), (Arg((3, 4), -1, 1),), dtypes=ALL, grad=False),
    Sample(lambda t, x: t.count_nonzero(x, 1), (Arg((3, 4), -1, 1),), dtypes=INTS, grad=False,
           name="dim"),
    Sample(lambda t, x: x.count_nonzero((0, -1)), (Arg(values=[[[0.0, NAN], [1.0, 0.0]]]),),
           grad=False, name="dims")))
class CountNonzero(OpDef):
    def forward(ctx, xp, x, dims):
        return (x != 0).sum(axis=dims).astype(np.int64, copy=False)


@tensor_method()
def count_nonzero(input, dim=None):
    """The number of non-zero elements, over all elements or `dim` (int64).

    >>> import ember
    >>> ember.tensor([[0, 1], [2, 3]]).count_nonzero(0)
    tensor([1, 2])
    """
    return apply(CountNonzero, input, dims=reduce_dims(dim, input._data.ndim, "count_nonzero"))


# ---- median, mode, quantile -------------------------------------------------------------------
def _sorted_along_last(xp, x):
    """Stable argsort of x along its last axis (NaN last), with the sorted values."""
    keys = _acc(x)
    order = xp.argsort(keys, axis=-1, kind="stable")
    return order, xp.take_along_axis(x, order, axis=-1)


@register("median", promote=None, complex=NO_ORDERING, samples=(
    Sample(lambda t, x: x.median(), (Arg((3, 4)),), dtypes=FLOATS + INTS + ("uint8",)),
    Sample(lambda t, x: x.median(1), (Arg((3, 4)),), dtypes=FLOATS + INTS, name="dim"),
    Sample(lambda t, x: t.median(x, 0, keepdim=True), (Arg((3, 2, 2)),), name="keepdim"),
    Sample(lambda t, x: x.median(0), (Arg(values=[[2, 1], [1, 2], [2, 2], [2, 3], [1, 2]]),),
           dtypes=INTS, grad=False, name="ties"),
    Sample(lambda t, x: x.median(1), (Arg(values=[[2.0, NAN, 1.0, NAN], [1.0, 0.5, 3.0, 2.0]]),),
           grad=False, name="nan"),
    Sample(lambda t, x: x.median(), (Arg(values=[2.0, NAN, 1.0]),), grad=False, name="nan_all"),
    Sample(lambda t, x: x.nanmedian(), (Arg(values=[[2.0, NAN, 1.0], [NAN, 3.0, 0.0]]),),
           name="nanmedian"),
    Sample(lambda t, x: x.nanmedian(1), (Arg(values=[[2.0, NAN, 1.0, NAN, 3.0, 0.0],
                                                     [1.0, 2.5, 0.5, -1.0, NAN, 4.0]]),),
           name="nanmedian_dim"),
    Sample(lambda t, x: x.median(), (Arg((0,)),), grad=False, name="empty")))
class Median(OpDef):
    def forward(ctx, xp, x, dim, keepdim=False, ignore_nan=False):
        ctx.dim, ctx.keepdim, ctx.shape = dim, keepdim, x.shape
        if dim is None:
            xl = x.reshape(-1)
            if xl.size == 0:  # NaN, or what torch's cast of NaN to an integer type gives
                out = xp.asarray(NAN if x.dtype.kind in "fV" else np.iinfo(x.dtype).min,
                                 dtype=x.dtype)
                ctx.save(x, out)
                return out
        else:
            xl = xp.moveaxis(x, dim, -1)
        order, values = _sorted_along_last(xp, xl)
        n = xl.shape[-1]
        if x.dtype.kind in "fV":
            valid = n - xp.isnan(values).sum(axis=-1, keepdims=True)
            if ignore_nan:
                k = xp.maximum(valid - 1, 0) // 2
            else:
                k = xp.where(valid < n, valid, (n - 1) // 2)
        else:
            k = xp.full(xl.shape[:-1] + (1,), (n - 1) // 2)
        idx = xp.take_along_axis(order, k, axis=-1)
        out = xp.take_along_axis(xl, idx, axis=-1)
        if dim is None:
            out = out.reshape(())
            ctx.save(x, out)
            return out
        idx, out = xp.moveaxis(idx, -1, dim), xp.moveaxis(out, -1, dim)
        if not keepdim:
            idx, out = idx.squeeze(dim), out.squeeze(dim)
        ctx.key = _index_key(xp, idx, dim, x.ndim, keepdim)
        return out, idx.astype(np.int64, copy=False)

    def backward(ctx, g, *_):
        if ctx.dim is None:
            x, out = ctx.saved
            return _even_split(g, x, out, tuple(range(x.ndim)), False)
        return _scatter(g, ctx.shape, ctx.key, False)


def _median_api(input, dim, keepdim, out, ignore_nan):
    name = "nanmedian" if ignore_nan else "median"
    if input._dtype is D.bool:
        raise NotImplementedError(f'"{name}_cpu" not implemented for \'Bool\'')
    if dim is None:
        return write_out(apply(Median, input, dim=None, ignore_nan=ignore_nan), out)
    nd = input._data.ndim
    d = _dim(dim, nd, name)
    cls = getattr(return_types, name)
    if nd == 0:
        return _zero_dim_pair(cls, input, out)
    _check_nonempty(name, input._data.shape, (d,))
    values, indices = apply(Median, input, dim=d, keepdim=keepdim, ignore_nan=ignore_nan)
    return _pair(cls, values, indices, out)


@tensor_method()
def median(input, dim=None, keepdim=False, *, out=None):
    """The lower median of all elements (0-d), or (values, indices) along `dim`; NaN
    propagates.

    >>> import ember
    >>> ember.tensor([4., 1., 3., 2.]).median()
    tensor(2.)
    """
    return _median_api(input, dim, keepdim, out, ignore_nan=False)


@tensor_method()
def nanmedian(input, dim=None, keepdim=False, *, out=None):
    """Like median, ignoring NaN (NaN only where every element is NaN)."""
    return _median_api(input, dim, keepdim, out, ignore_nan=True)


@register("mode", promote=None, complex=NO_ORDERING, samples=(
    Sample(lambda t, x: x.mode(), (Arg((3, 4)),)),
    Sample(lambda t, x: t.mode(x, 0, keepdim=True), (Arg((3, 2)),), name="keepdim"),
    Sample(lambda t, x: x.mode(1), (Arg(values=[[2, 1, 2, 1, 3], [5, 5, 1, 1, 1],
                                                [3, 2, 0, 3, 2], [4, 3, 2, 1, 0]]),),
           dtypes=("uint8", "int32", "int64", "float32", "float64"), grad=False,
           name="repeats"),
    Sample(lambda t, x: x.mode(0), (Arg(values=[True, True, False]),), dtypes=("bool",),
           grad=False, name="bool"),
    Sample(lambda t, x: x.mode(0), (Arg((2, 0)),), grad=False, name="empty")))
class Mode(OpDef):
    def forward(ctx, xp, x, dim, keepdim=False):
        xl = xp.moveaxis(x, dim, -1)
        n = xl.shape[-1]
        order, values = _sorted_along_last(xp, xl)
        same = values[..., 1:] == values[..., :-1]
        if x.dtype.kind in "fV":
            same |= xp.isnan(values[..., 1:]) & xp.isnan(values[..., :-1])
        pos = xp.arange(n)
        starts = xp.concatenate([xp.ones(xl.shape[:-1] + (1,), dtype=bool), ~same], axis=-1)
        run_start = _scan(xp, "maximum", xp.where(starts, pos, 0), xl.ndim - 1)
        # the first position where a run reaches the largest count ends the smallest mode value
        end = xp.argmax(pos - run_start, axis=-1)[..., None]
        idx = xp.take_along_axis(order, end, axis=-1)
        out = xp.take_along_axis(values, end, axis=-1)
        idx, out = xp.moveaxis(idx, -1, dim), xp.moveaxis(out, -1, dim)
        if not keepdim:
            idx, out = idx.squeeze(dim), out.squeeze(dim)
        ctx.shape, ctx.key = x.shape, _index_key(xp, idx, dim, x.ndim, keepdim)
        return out, idx.astype(np.int64, copy=False)

    def backward(ctx, g, _):
        return _scatter(g, ctx.shape, ctx.key, False)


@tensor_method()
def mode(input, dim=-1, keepdim=False, *, out=None):
    """(values, indices): the most frequent value along `dim` (the smallest on ties) and an
    index where it occurs (the last one, for slices of up to 16 elements like torch).

    >>> import ember
    >>> ember.tensor([2, 1, 2, 3]).mode()
    torch.return_types.mode(
    values=tensor(2),
    indices=tensor(2))
    """
    nd = input._data.ndim
    d = _dim(dim, nd, "mode")
    if nd == 0:
        return _zero_dim_pair(return_types.mode, input, out)
    _check_nonempty("mode", input._data.shape, (d,))
    values, indices = apply(Mode, input, dim=d, keepdim=keepdim)
    return _pair(return_types.mode, values, indices, out)


def _lerp(xp, a, b, w):
    """a + w (b - a), evaluated from the nearer end like torch.lerp (so quantiles match it
    bit for bit, including inf - inf = nan)."""
    return xp.where(w < 0.5, a + w * (b - a), b - (b - a) * (1 - w))


_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


@register("quantile", promote=None, samples=(
    Sample(lambda t, x: x.quantile(0.3), (Arg((3, 4)),)),
    Sample(lambda t, x: x.quantile(t.tensor([0.1, 0.5, 1.0], dtype=x.dtype), dim=1,
                                   keepdim=True), (Arg((3, 4)),), name="q_tensor"),
    Sample(lambda t, x: t.quantile(x, t.tensor([0.25, 0.6], dtype=x.dtype), keepdim=True),
           (Arg((2, 3)),), name="keepdim_all"),
    Sample(lambda t, x: x.quantile(t.tensor(0.75, dtype=x.dtype), dim=0), (Arg((4, 3)),),
           name="q_0d"),
    *(Sample(lambda t, x, m=m: x.quantile(t.tensor([0.1, 0.125, 0.375, 0.5, 0.8],
                                                   dtype=x.dtype), dim=-1, interpolation=m),
             (Arg((2, 5)),), name=m) for m in _INTERPOLATIONS[1:]),
    Sample(lambda t, x: x.quantile(0.5, dim=1), (Arg(values=[[1.0, NAN, 2.0], [1.0, 3.0, 2.0]]),),
           grad=False, name="nan"),
    Sample(lambda t, x: x.quantile(t.tensor([0.0, 0.5, 0.75, 1.0], dtype=x.dtype), dim=1,
                                   interpolation="linear"),
           (Arg(values=[[INF, INF, 1.0], [-INF, INF, 0.0]]),), grad=False, name="inf"),
    Sample(lambda t, x: x.nanquantile(t.tensor([0.2, 0.5], dtype=x.dtype), dim=1),
           (Arg(values=[[1.0, NAN, 2.0, 4.0], [0.5, 3.0, NAN, -1.0]]),), name="nanquantile"),
    Sample(lambda t, x: x.nanquantile(0.4, dim=0, interpolation="nearest"),
           (Arg(values=[[1.0, NAN], [NAN, NAN], [2.0, NAN]]),), grad=False, name="all_nan"),
    Sample(lambda t, x: x.quantile(0.5), (Arg(()),), name="0d")))
class Quantile(OpDef):
    def forward(ctx, xp, x, q, dim, keepdim=False, interpolation="linear", ignore_nan=False,
                scalar_q=False):
        xl = x.reshape(-1) if dim is None else xp.moveaxis(x, dim, -1)
        n = xl.shape[-1]
        order, values = _sorted_along_last(xp, xl)
        qs = xp.asarray(q, dtype=x.dtype)
        nans = xp.isnan(values).sum(axis=-1, keepdims=True)
        if ignore_nan:
            rank = qs * xp.maximum(n - nans - 1, 0).astype(x.dtype)
        else:
            rank = xp.where(nans > 0, x.dtype.type(n - 1), qs * x.dtype.type(n - 1))
        between = interpolation in ("linear", "midpoint")
        if between:
            lo, hi = xp.floor(rank), xp.ceil(rank)
            w = rank - lo if interpolation == "linear" else xp.full_like(rank, 0.5)
        else:
            pick = {"lower": xp.floor, "higher": xp.ceil, "nearest": xp.round}[interpolation]
            lo = hi = pick(rank)  # round: half to even, like torch
            w = xp.zeros_like(rank)
        lo, hi = lo.astype(np.int64), hi.astype(np.int64)
        out = xp.take_along_axis(values, lo, axis=-1)
        if between:
            out = _lerp(xp, out, xp.take_along_axis(values, hi, axis=-1), w)
        ctx.shape = x.shape
        ctx.value_shape = out.shape
        ctx.flat = dim is None
        axis, ndim = (0, 1) if dim is None else (dim, x.ndim)
        ctx.key_lo = _index_key(xp, xp.take_along_axis(order, lo, axis=-1), axis, ndim, False)
        ctx.key_hi = _index_key(xp, xp.take_along_axis(order, hi, axis=-1), axis, ndim, False)
        ctx.save(1 - w, w)
        out = xp.moveaxis(out, -1, 0)
        if keepdim:
            out = out.reshape((len(q),) + (1,) * x.ndim) if dim is None else \
                xp.expand_dims(out, dim + 1)
        return out[0] if scalar_q else out

    def backward(ctx, g):
        w_lo, w_hi = ctx.saved
        *rest, m = ctx.value_shape
        g = g.reshape(m, *rest)
        if rest:
            g = g.permute(*range(1, len(rest) + 1), 0)
        flat = (math.prod(ctx.shape),) if ctx.flat else ctx.shape
        grad = _scatter(g * w_lo, flat, ctx.key_lo, True)
        grad = apply(IndexPut, grad, g * w_hi, key=ctx.key_hi, accumulate=True)
        return grad.reshape(*ctx.shape)


def _quantile_api(input, q, dim, keepdim, interpolation, out, ignore_nan):
    name = "nanquantile" if ignore_nan else "quantile"
    if input._dtype not in (D.float32, D.float64):
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype")
    if isinstance(q, Tensor):
        if q._dtype is not input._dtype:
            raise RuntimeError(f"{name}() q tensor must be same dtype as the input tensor")
        if q._data.ndim > 1:
            raise RuntimeError(f"{name}() q must be a scalar or 1D tensor")
        scalar_q = q._data.ndim == 0
        qs = tuple(float(v) for v in np.ravel(q.numpy(force=True)))
        if builtins.any(not 0 <= v <= 1 for v in qs):
            raise RuntimeError(f"{name}() q values must be in the range [0, 1]")
    else:
        q = float(q)
        if not 0 <= q <= 1:
            raise RuntimeError(f"{name}() q must be in the range [0, 1] but got {q}")
        scalar_q, qs = True, (q,)
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(f"{name}() interpolation must be one of linear, lower, higher, "
                           f"midpoint or nearest, but got {interpolation}")
    if input._data.size == 0:
        raise RuntimeError(f"{name}() input tensor must be non-empty")
    nd = input._data.ndim
    d = None if dim is None else _dim(dim, nd, name)
    if nd == 0:
        d = None
    return write_out(apply(Quantile, input, q=qs, dim=d, keepdim=keepdim,
                           interpolation=interpolation, ignore_nan=ignore_nan,
                           scalar_q=scalar_q), out)


@tensor_method()
def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear", out=None):
    """The q-th quantiles (q a float or 1-D tensor in [0, 1]) of all elements or along `dim`;
    with a tensor q the quantiles lead the result's dims. NaN propagates.

    >>> import ember
    >>> ember.tensor([0., 1., 2., 3.]).quantile(0.5)
    tensor(1.5000)
    """
    return _quantile_api(input, q, dim, keepdim, interpolation, out, ignore_nan=False)


@tensor_method()
def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear", out=None):
    """Like quantile, ignoring NaN (NaN only where a slice is all NaN)."""
    return _quantile_api(input, q, dim, keepdim, interpolation, out, ignore_nan=True)


__all__ = ["sum", "mean", "prod", "nansum", "nanmean", "max", "min", "amax", "amin", "aminmax",
           "argmax", "argmin", "var", "std", "var_mean", "std_mean", "logsumexp", "norm",
           "cumsum", "cumprod", "cummax", "cummin", "logcumsumexp", "all", "any",
           "count_nonzero", "median", "nanmedian", "mode", "quantile", "nanquantile",
           "return_types"]
