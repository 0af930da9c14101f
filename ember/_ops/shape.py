"""Shape and view ops: conversion, view/reshape, expand, permute/transpose, (un)squeeze, and
indexing (getitem as a view where NumPy gives one, index_put for setitem)."""
from __future__ import annotations

import numpy as np

from .. import _dtype as D
from .._backend import move
from .._tensor import Size, Tensor, _dim
from ..testing.opinfo import ALL, FLOATS, INTS, Arg, Sample
from .dispatch import apply, apply_
from .registry import OpDef, register, tensor_method


def infer_shape(shape, numel: int, op: str) -> tuple:
    """Resolve one -1 in `shape` against `numel`, with PyTorch's error when it cannot fit."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list, Size)):
        shape = tuple(shape[0])
    shape = tuple(int(s) for s in shape)
    if shape.count(-1) > 1:
        raise RuntimeError(f"{op}(): only one dimension can be inferred")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise RuntimeError(f"{op}(): invalid shape dimension {s}")
            known *= s
    if -1 in shape:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


@register("convert", promote=None, samples=(
    Sample(lambda t, x: x.to(t.float64), (Arg((2, 3)),), dtypes=("float32",) + INTS),
    Sample(lambda t, x: x.to(t.int32), (Arg((2, 3), -3, 3),), dtypes=FLOATS, grad=False,
           name="to_int"),
    Sample(lambda t, x: x.half().float(), (Arg((2, 3)),), dtypes=FLOATS, grad=False,
           name="half"),
    Sample(lambda t, x: x.bool(), (Arg((2, 3), -1, 1),), dtypes=ALL, grad=False, name="bool")))
class Convert(OpDef):
    """Change dtype and/or device (Tensor.to)."""

    def forward(ctx, xp, x, dtype, device):
        ctx.src = (D.from_numpy_dtype(x.dtype), None)
        out = x.astype(dtype.np) if x.dtype != dtype.np else x.copy()
        return move(out, device)

    def backward(ctx, g):
        return g.to(ctx.src[0])


Convert.changes_device = True


@register("view", promote=None, is_view=True, samples=(
    Sample(lambda t, x: x.view(4, 3), (Arg((3, 4)),), dtypes=ALL),
    Sample(lambda t, x: x.view(-1), (Arg((2, 3, 2)),), name="flat"),
    Sample(lambda t, x: x.reshape(2, -1), (Arg((3, 4)),), name="reshape"),
    Sample(lambda t, x: x.t().reshape(12), (Arg((3, 4)),), name="reshape_copy")))
class View(OpDef):
    def forward(ctx, xp, x, shape, copy_ok=False):
        ctx.shape = x.shape
        if copy_ok:
            return x.reshape(shape)
        out = x.view()
        try:
            out.shape = shape
        except AttributeError:
            raise RuntimeError("view size is not compatible with input tensor's size and "
                               "stride (at least one dimension spans across two contiguous "
                               "subspaces). Use .reshape(...) instead.") from None
        return out

    def backward(ctx, g):
        return g.reshape(ctx.shape)


@tensor_method()
def view(self, *shape):
    """A tensor with the same data in a new shape; never copies (see reshape)."""
    if len(shape) == 1 and isinstance(shape[0], D.dtype):
        raise RuntimeError("view(dtype) is not supported; use .to(dtype)")
    return apply(View, self, shape=infer_shape(shape, self._data.size, "view"))


@tensor_method()
def reshape(input, *shape):
    """The same data in a new shape: a view when the layout allows, else a copy."""
    return apply(View, input, shape=infer_shape(shape, input._data.size, "reshape"),
                 copy_ok=True)


@register("expand", promote=None, is_view=True, samples=(
    Sample(lambda t, x: x.expand(3, 4), (Arg((3, 1)),), dtypes=ALL),
    Sample(lambda t, x: x.expand(2, -1, 4), (Arg((3, 1)),), name="newdim")))
class Expand(OpDef):
    def forward(ctx, xp, x, shape):
        ctx.shape = x.shape
        return xp.broadcast_to(x, shape)

    def backward(ctx, g):
        return g.sum_to_size(ctx.shape)


@tensor_method()
def expand(self, *sizes):
    """A broadcast view of size `sizes` (-1 keeps a dimension)."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    shape = self._data.shape
    lead = len(sizes) - len(shape)
    if lead < 0:
        raise RuntimeError(f"expand(): the number of sizes provided ({len(sizes)}) must be "
                           f"greater or equal to the number of dimensions in the tensor "
                           f"({len(shape)})")
    out = []
    for i, s in enumerate(sizes):
        s = int(s)
        if i < lead:
            if s < 0:
                raise RuntimeError(f"expand(): -1 is not allowed in a leading, non-existing "
                                   f"dimension {i}")
            out.append(s)
            continue
        have = shape[i - lead]
        if s == -1:
            s = have
        elif have != s and have != 1:
            raise RuntimeError(f"The expanded size of the tensor ({s}) must match the existing "
                               f"size ({have}) at non-singleton dimension {i}.  Target sizes: "
                               f"{list(sizes)}.  Tensor sizes: {list(shape)}")
        out.append(s)
    return apply(Expand, self, shape=tuple(out))


@tensor_method()
def expand_as(self, other):
    return expand(self, *other.shape)


@register("permute", promote=None, is_view=True, samples=(
    Sample(lambda t, x: x.permute(2, 0, 1), (Arg((2, 3, 4)),), dtypes=ALL),
    Sample(lambda t, x: x.T, (Arg((2, 3)),), name="T")))
class Permute(OpDef):
    def forward(ctx, xp, x, dims):
        ctx.dims = dims
        return xp.transpose(x, dims)

    def backward(ctx, g):
        return g.permute(*np.argsort(ctx.dims).tolist())


@tensor_method()
def permute(input, *dims):
    """A view with dimensions reordered."""
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    nd = input._data.ndim
    norm = tuple(_dim(d, nd, "permute") for d in dims)
    if len(norm) != nd or len(set(norm)) != nd:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does "
                           f"not match the length of the desired ordering of dimensions i.e. "
                           f"input.dim() = {nd} is not equal to len(dims) = {len(dims)}"
                           if len(norm) != nd else "permute(): repeated dim")
    return apply(Permute, input, dims=norm)


@register("transpose", promote=None, is_view=True, samples=(
    Sample(lambda t, x: x.transpose(0, 2), (Arg((2, 3, 4)),), dtypes=ALL),
    Sample(lambda t, x: x.t(), (Arg((2, 3)),), name="t"),
    Sample(lambda t, x: x.mT, (Arg((2, 3, 4)),), name="mT")))
class Transpose(OpDef):
    def forward(ctx, xp, x, dim0, dim1):
        ctx.dims = (dim0, dim1)
        return xp.swapaxes(x, dim0, dim1)

    def backward(ctx, g):
        return g.transpose(*ctx.dims)


@tensor_method("transpose", "swapaxes", "swapdims")
def transpose(input, dim0, dim1):
    """A view with two dimensions swapped."""
    nd = input._data.ndim
    return apply(Transpose, input, dim0=_dim(dim0, nd, "transpose"),
                 dim1=_dim(dim1, nd, "transpose"))


@tensor_method()
def t(input):
    """Transpose a matrix (a 0-d or 1-d tensor is returned as is)."""
    if input._data.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                           f"{input._data.ndim}D")
    return transpose(input, 0, 1) if input._data.ndim == 2 else input


@register("unsqueeze", promote=None, is_view=True, samples=(
    Sample(lambda t, x: x.unsqueeze(1), (Arg((2, 3)),), dtypes=ALL),
    Sample(lambda t, x: x.unsqueeze(-1), (Arg(()),), name="0d")))
class Unsqueeze(OpDef):
    def forward(ctx, xp, x, dim):
        ctx.dim = dim
        return xp.expand_dims(x, dim)

    def backward(ctx, g):
        return g.squeeze(ctx.dim)


@tensor_method()
def unsqueeze(input, dim):
    """A view with a size-1 dimension inserted at `dim`."""
    return apply(Unsqueeze, input, dim=_dim(dim, input._data.ndim + 1, "unsqueeze"))


@register("squeeze", promote=None, is_view=True, samples=(
    Sample(lambda t, x: x.squeeze(), (Arg((2, 1, 3, 1)),), dtypes=ALL),
    Sample(lambda t, x: x.squeeze(1), (Arg((2, 1, 3)),), name="dim"),
    Sample(lambda t, x: x.squeeze((1, 3)), (Arg((2, 1, 3, 1)),), name="dims"),
    Sample(lambda t, x: x.squeeze(0), (Arg((2, 3)),), name="noop")))
class Squeeze(OpDef):
    def forward(ctx, xp, x, dims):
        ctx.shape = x.shape
        return x.reshape(tuple(s for i, s in enumerate(x.shape) if i not in dims))

    def backward(ctx, g):
        return g.reshape(ctx.shape)


@tensor_method()
def squeeze(input, dim=None):
    """Remove size-1 dimensions (all, or those in `dim` that have size 1)."""
    shape = input._data.shape
    if dim is None:
        dims = tuple(i for i, s in enumerate(shape) if s == 1)
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        dims = tuple(d for d in (_dim(d, len(shape), "squeeze") for d in dims) if shape and
                     shape[d] == 1)
    return apply(Squeeze, input, dims=dims)


@tensor_method()
def sum_to_size(self, *size):
    """Sum broadcast dimensions away so the result has shape `size` (the adjoint of expand)."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    shape = self._data.shape
    if tuple(size) == shape:
        return self
    lead = len(shape) - len(size)
    dims = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(size)
                                      if s == 1 and shape[i + lead] != 1)
    out = self.sum(dims, keepdim=True) if dims else self
    return out.view(*size) if lead or out.shape != tuple(size) else out


# ---- indexing ------------------------------------------------------------------------------
def _convert_key(key, xp):
    """Turn a Python/torch index into one NumPy understands (tensors become arrays)."""
    if not isinstance(key, tuple):
        key = (key,)
    out = []
    for k in key:
        if isinstance(k, Tensor):
            if k._dtype.category > D._INT:
                raise IndexError("tensors used as indices must be long, int, byte or bool "
                                 f"tensors, got {k._dtype}")
            arr = k._data
            out.append(arr.astype(np.bool_) if k._dtype is D.uint8 else arr)
        elif isinstance(k, (list,)) and k and any(isinstance(v, Tensor) for v in k):
            out.append(xp.asarray([int(v) for v in k]))
        elif isinstance(k, (bool, np.bool_)):
            out.append(xp.asarray(k))
        elif isinstance(k, (int, slice, type(None), type(Ellipsis), np.ndarray, list)):
            if isinstance(k, slice) and k.step is not None and int(k.step) <= 0:
                raise ValueError("step must be greater than zero")
            out.append(k if not isinstance(k, slice) else slice(
                _int_or_none(k.start), _int_or_none(k.stop), _int_or_none(k.step)))
        elif hasattr(k, "__index__"):
            out.append(k.__index__())
        else:
            raise IndexError(f"only integers, slices (`:`), ellipsis (`...`), None and long or "
                             f"byte Variables are valid indices (got {type(k).__name__})")
    return tuple(out)


def _int_or_none(v):
    return None if v is None else int(v)


def _check_bounds(x_shape, key):
    """Raise PyTorch's IndexError for integer indices outside their dimension."""
    dim = 0
    n_explicit = sum(1 for k in key if k is not None and k is not Ellipsis
                     and not (isinstance(k, np.ndarray) and k.dtype == np.bool_))
    for k in key:
        if k is Ellipsis:
            dim = len(x_shape) - (n_explicit - dim) if n_explicit <= len(x_shape) else dim
            continue
        if k is None:
            continue
        if isinstance(k, int):
            if dim >= len(x_shape):
                raise IndexError(f"too many indices for tensor of dimension {len(x_shape)}")
            size = x_shape[dim]
            if not -size <= k < size:
                raise IndexError(f"index {k} is out of bounds for dimension {dim} with size "
                                 f"{size}")
        dim += k.ndim if isinstance(k, np.ndarray) and k.dtype == np.bool_ else 1


@register("getitem", promote=None, is_view=True, samples=(
    Sample(lambda t, x: x[1], (Arg((3, 4)),), dtypes=ALL),
    Sample(lambda t, x: x[:, 1:3], (Arg((3, 4)),), name="slice"),
    Sample(lambda t, x: x[..., None, ::2], (Arg((2, 3, 4)),), name="ellipsis"),
    Sample(lambda t, x: x[t.tensor([0, 2, 0])], (Arg((3, 4)),), name="int_tensor"),
    Sample(lambda t, x: x[x > 0], (Arg((3, 4)),), name="mask"),
    Sample(lambda t, x: x[[0, 1], [1, 2]], (Arg((3, 4)),), name="lists")))
class Getitem(OpDef):
    def forward(ctx, xp, x, key):
        _check_bounds(x.shape, key)
        ctx.key = key
        ctx.shape = x.shape
        return x[key]

    def backward(ctx, g):
        zeros = Tensor._zeros(ctx.shape, g._dtype, g._device)
        return apply(IndexPut, zeros, g, key=ctx.key, accumulate=True)


def _is_basic(key) -> bool:
    return all(isinstance(k, (int, slice, type(None), type(Ellipsis))) for k in key)


@register("index_put", promote=None, samples=(
    Sample(lambda t, x, v: x.index_put((t.tensor([0, 2]),), v), (Arg((3, 4)), Arg((4,)))),
    Sample(lambda t, x, v: x.index_put((t.tensor([0, 0]),), v, accumulate=True),
           (Arg((3, 4)), Arg((2, 4))), name="accumulate")))
class IndexPut(OpDef):
    def forward(ctx, xp, x, v, key, accumulate=False):
        ctx.key, ctx.accumulate = key, accumulate
        out = x.copy()
        _index_put_into(xp, out, key, v, accumulate)
        return out

    def forward_inplace(xp, x, v, key, accumulate=False):
        _index_put_into(xp, x, key, v, accumulate)

    def backward(ctx, g):
        gx = g if ctx.accumulate else apply(IndexPut, g, 0.0, key=ctx.key)
        return gx, g[ctx.key] if ctx.needs_input_grad[1] else None


def _index_put_into(xp, out, key, v, accumulate):
    _check_bounds(out.shape, key)
    if not isinstance(v, (int, float, bool)) and v.dtype != out.dtype:
        v = v.astype(out.dtype)
    if accumulate and not _is_basic(key):
        if xp is np:
            np.add.at(out, key, v)
        else:
            import cupyx
            cupyx.scatter_add(out, key, v)
    elif accumulate:
        out[key] += v
    else:
        out[key] = v


def _getitem(self, key):
    return apply(Getitem, self, key=_convert_key(key, np))


def _setitem(self, key, value):
    apply_(IndexPut, self, value, key=_convert_key(key, np))


Tensor.__getitem__ = _getitem
Tensor.__setitem__ = _setitem


@tensor_method()
def index_put(input, indices, values, accumulate=False):
    """Out-of-place `input[indices] = values` (or += with accumulate)."""
    return apply(IndexPut, input, values, key=_convert_key(tuple(indices), np),
                 accumulate=accumulate)


@tensor_method()
def index_put_(input, indices, values, accumulate=False):
    """In-place `input[indices] = values` (or += with accumulate)."""
    return apply_(IndexPut, input, values, key=_convert_key(tuple(indices), np),
                  accumulate=accumulate)


__all__ = ["reshape", "permute", "transpose", "swapaxes", "swapdims", "t", "unsqueeze",
           "squeeze", "index_put"]
swapaxes = swapdims = transpose
