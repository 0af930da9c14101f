"""Reductions: sum, mean, prod, max/min, var/std, logsumexp, norms, cumulative ops, all/any."""
from __future__ import annotations

from .. import _dtype as D
from .._tensor import _dim
from ..testing.opinfo import ALL, FLOATS, INTS, Arg, Sample
from .dispatch import apply, write_out
from .registry import OpDef, register, tensor_method


def reduce_dims(dim, ndim: int, op: str) -> tuple:
    """Normalize `dim` (None, an int or a sequence) to a sorted tuple of axes."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (tuple, list)):
        dims = tuple(sorted(_dim(d, ndim, op) for d in dim))
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"{op}(): dim {list(dim)} appears multiple times in the list of "
                               "dims")
        return dims if dims else tuple(range(ndim))
    return (_dim(dim, ndim, op),)


def expand_reduced(g, shape, dims, keepdim):
    """Broadcast a reduced gradient back to the input's shape."""
    if not keepdim and shape:
        full = list(shape)
        for d in dims:
            full[d] = 1
        g = g.reshape(*full)
    return g.expand(*shape)


@register("sum", promote=None, onnx="ReduceSum", samples=(
    Sample(lambda t, x: x.sum(), (Arg((3, 4)),), dtypes=ALL),
    Sample(lambda t, x: x.sum(1), (Arg((3, 4)),), dtypes=FLOATS + INTS, name="dim"),
    Sample(lambda t, x: x.sum((0, 2), keepdim=True), (Arg((2, 3, 4)),), name="keepdim"),
    Sample(lambda t, x: t.sum(x, -1, dtype=t.float64), (Arg((2, 3)),), name="dtype")))
class Sum(OpDef):
    def forward(ctx, xp, x, dims, keepdim=False, dtype=None):
        ctx.shape, ctx.dims, ctx.keepdim = x.shape, dims, keepdim
        if dtype is None and x.dtype.kind in "biu":
            dtype = D.int64
        if dtype is not None:
            x = x.astype(dtype.np)
        elif x.dtype.itemsize == 2 and x.dtype.kind == "f" or x.dtype == D.bfloat16.np:
            return x.astype("float32").sum(axis=dims, keepdims=keepdim).astype(x.dtype)
        return x.sum(axis=dims, keepdims=keepdim)

    def backward(ctx, g):
        return expand_reduced(g, ctx.shape, ctx.dims, ctx.keepdim)


@tensor_method()
def sum(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Sum over all elements or over `dim`.

    >>> import ember
    >>> ember.tensor([[1, 2], [3, 4]]).sum(0)
    tensor([4, 6])
    """
    dims = reduce_dims(dim, input._data.ndim, "sum")
    if dtype is None:
        return write_out(apply(Sum, input, dims=dims, keepdim=keepdim), out)
    return write_out(apply(Sum, input, dims=dims, keepdim=keepdim, dtype=D.to_dtype(dtype)), out)


@register("mean", promote=None, onnx="ReduceMean", samples=(
    Sample(lambda t, x: x.mean(), (Arg((3, 4)),)),
    Sample(lambda t, x: x.mean((0, 1), keepdim=True), (Arg((2, 3, 4)),), name="dims")))
class Mean(OpDef):
    def forward(ctx, xp, x, dims, keepdim=False, dtype=None):
        if dtype is not None:
            x = x.astype(dtype.np)
        if x.dtype.kind not in "fc":
            raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either "
                               f"a floating point or complex dtype. Got: "
                               f"{D.from_numpy_dtype(x.dtype).name.capitalize()}")
        ctx.shape, ctx.dims, ctx.keepdim = x.shape, dims, keepdim
        n = 1
        for d in dims:
            n *= x.shape[d]
        ctx.n = n
        acc = x.astype("float32") if x.dtype.itemsize == 2 else x
        return acc.mean(axis=dims, keepdims=keepdim).astype(x.dtype)

    def backward(ctx, g):
        return expand_reduced(g / ctx.n, ctx.shape, ctx.dims, ctx.keepdim)


@tensor_method()
def mean(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Arithmetic mean over all elements or over `dim` (floating dtypes only)."""
    dims = reduce_dims(dim, input._data.ndim, "mean")
    return write_out(apply(Mean, input, dims=dims, keepdim=keepdim,
                           dtype=None if dtype is None else D.to_dtype(dtype)), out)


__all__ = ["sum", "mean"]
