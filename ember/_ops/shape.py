"""Shape and view ops: view/reshape, clone/contiguous, expand/broadcast, permute/movedim,
(un)squeeze, cat/stack, split/chunk/unbind, narrow/select, flip/roll/rot90, tril/triu, diagonals,
repeat/tile, meshgrid, and indexing (getitem, setitem, index_put).

Ops that torch documents as views (view, expand, split, diagonal, basic indexing, ...) return
arrays aliasing their input, marked `is_view` so apply links them to the base (shared version
counter, autograd rebasing on in-place writes). Ops torch documents as copies (flip, roll, repeat,
cat, diag, advanced indexing, ...) always return new memory."""
from __future__ import annotations

import builtins
import operator
import warnings

import numpy as np

from .. import _dtype as D
from .._backend import move, namespace
from .._backend.views import broadcast_view
from .._device import CPU
from .._tensor import Size, Tensor, _dim
from ..testing.opinfo import ALL, FLOATS, INTS, Arg, Sample
from . import dispatch
from .dispatch import apply, apply_, result_type, write_out
from .registry import OpDef, composite, name_node, register, tensor_method

_EVERY = slice(None)
# Samples with an empty output skip gradgradcheck only because ember.autograd.gradgradcheck
# cannot yet build the numerical Jacobian of an empty grad_output; first-order checks still run.
_EMPTY_OUT = {"gradgrad": False}
# PyTorch's ScalarType names, as its error messages spell dtypes.
_SCALAR_NAMES = D.SCALAR_NAMES


def _sizes(args, keyword=None) -> tuple:
    """Sizes given as f(2, 3), f((2, 3)), f([2, 3]), f(Size) or by keyword."""
    if keyword is not None:
        args = (keyword,)
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    return tuple(operator.index(s) for s in args)


def _dims_tuple(dims) -> tuple:
    return (dims,) if not isinstance(dims, (tuple, list)) else tuple(dims)


def _along(dim: int, index) -> tuple:
    """The getitem key that applies `index` to dimension `dim` (always an array result)."""
    return (_EVERY,) * dim + (index, Ellipsis)


def _zeros(shape, like: Tensor) -> Tensor:
    return Tensor._zeros(tuple(shape), like._dtype, like._device)


def infer_shape(shape, numel: int) -> tuple:
    """Resolve one -1 in `shape` against `numel`, with PyTorch's error when it cannot fit."""
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for i, s in enumerate(shape):
        if s != -1:
            if s < 0:
                raise RuntimeError(f"invalid shape dimension {s} at index {i} of shape "
                                   f"{list(shape)}")
            known *= s
    if -1 in shape:
        if known == 0 and numel == 0:
            raise RuntimeError(f"cannot reshape tensor of 0 elements into shape {list(shape)} "
                               "because the unspecified dimension size -1 can be any value and "
                               "is ambiguous")
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


# ---- conversion ----------------------------------------------------------------------------
@register("convert", promote=None, torch_node="ToCopyBackward0", samples=(
    Sample(lambda t, x: x.to(t.float64), (Arg((2, 3)),), dtypes=("float32",) + INTS),
    Sample(lambda t, x: x.to(t.int32), (Arg((2, 3), -3, 3),), dtypes=FLOATS, grad=False,
           name="to_int"),
    Sample(lambda t, x: x.half().float(), (Arg((2, 3)),), dtypes=FLOATS, grad=False,
           name="half"),
    Sample(lambda t, x: x.bool(), (Arg((2, 3), -1, 1),), dtypes=ALL, grad=False, name="bool")))
class Convert(OpDef):
    """Change dtype and/or device (Tensor.to)."""

    def forward(ctx, xp, x, dtype, device):
        out = x.astype(dtype.np) if x.dtype != dtype.np else x.copy()
        return move(out, device)

    def backward(ctx, g):
        return g  # the engine casts a gradient to its input's dtype (real part for real input)


Convert.changes_device = True


# ---- view / reshape / flatten ----------------------------------------------------------------
@register("view", promote=None, is_view="maybe", samples=(
    Sample(lambda t, x: x.view(4, 3), (Arg((3, 4)),), dtypes=ALL),
    Sample(lambda t, x: x.view(-1), (Arg((2, 3, 2)),), name="flat"),
    Sample(lambda t, x: x.reshape(2, -1), (Arg((3, 4)),), name="reshape"),
    Sample(lambda t, x: t.reshape(x, shape=(6, 2)), (Arg((3, 4)),), name="reshape_kw"),
    Sample(lambda t, x: x.t().reshape(12), (Arg((3, 4)),), name="reshape_copy")))
class View(OpDef):
    def forward(ctx, xp, x, shape, copy_ok=False):
        ctx.shape = x.shape
        if copy_ok:
            return x.reshape(shape)
        try:
            return _reshape_view(x, shape)
        except AttributeError:
            raise RuntimeError("view size is not compatible with input tensor's size and "
                               "stride (at least one dimension spans across two contiguous "
                               "subspaces). Use .reshape(...) instead.") from None

    def backward(ctx, g):
        return g.reshape(ctx.shape)


def _reshape_view(x, shape):
    """`x` in a new shape without copying; AttributeError when the layout does not allow it."""
    try:
        return x.reshape(shape, copy=False)
    except ValueError:
        raise AttributeError("a copy would be needed") from None
    except TypeError:
        out = x.view()
        out.shape = shape
        return out


@tensor_method()
def view(self, *shape, size=None):
    """A tensor with the same data in a new shape; never copies (see reshape).

    >>> import ember
    >>> ember.arange(6).view(2, -1)
    tensor([[0, 1, 2],
            [3, 4, 5]])
    """
    if len(shape) == 1 and isinstance(shape[0], D.dtype):
        return _view_dtype(self, shape[0])
    return apply(View, self, shape=infer_shape(_sizes(shape, size), self._data.size))


@register("view_dtype", promote=None, is_view=True, differentiable=False, samples=(
    Sample(lambda t, x: x.view(t.int32), (Arg((2, 3)),), dtypes=("float32",), grad=False),
    Sample(lambda t, x: x.view(t.uint8), (Arg((2, 3)),), dtypes=("bool", "int8", "int16"),
           grad=False, name="smaller"),
    Sample(lambda t, x: x.view(t.int16), (Arg((2, 4)),), dtypes=("uint8", "bool"),
           grad=False, name="larger")))
class ViewDtype(OpDef):
    """The same bytes read as another dtype (the last dimension scales with the item size)."""

    def forward(ctx, xp, x, dtype):
        return x.view(dtype.np)


def _view_dtype(self, dtype: D.dtype) -> Tensor:
    have, want = self._dtype.itemsize, dtype.itemsize
    if have != want:
        what = (f"to view {_SCALAR_NAMES[self._dtype]} as {_SCALAR_NAMES[dtype]} (different "
                "element sizes)")
        shape = self._data.shape
        if not shape:
            raise RuntimeError(f"self.dim() cannot be 0 {what}")
        if shape[-1] != 1 and self.stride(-1) != 1:
            raise RuntimeError(f"self.stride(-1) must be 1 {what}, but got "
                               f"{self.stride(-1)}")
        if want > have and shape[-1] % (want // have):
            raise RuntimeError(f"self.size(-1) must be divisible by {want // have} {what}, "
                               f"but got {shape[-1]}")
    return apply(ViewDtype, self, dtype=dtype)


@tensor_method()
def reshape(input, *shape_args, shape=None):
    """The same data in a new shape: a view when the layout allows, else a copy."""
    return apply(View, input, shape=infer_shape(_sizes(shape_args, shape), input._data.size),
                 copy_ok=True)


def _strided_positions(xp, size: tuple, stride: tuple, offset: int):
    """The storage index of each element of a strided view (C order)."""
    index = xp.full(size, offset, dtype=np.int64)
    for k, (n, st) in enumerate(zip(size, stride)):
        shape = [1] * len(size)
        shape[k] = n
        index = index + xp.arange(n, dtype=np.int64).reshape(shape) * st
    return index


@register("as_strided", promote=None, is_view=True, samples=(
    Sample(lambda t, x: t.as_strided(x, (3, 3), (2, 1)), (Arg((12,)),), dtypes=ALL),
    Sample(lambda t, x: x.as_strided((2, 2, 2), (1, 2, 1), 1), (Arg((3, 4)),),
           name="overlapping"),
    Sample(lambda t, x: x[1:].as_strided((2, 3), (3, 1)), (Arg((3, 3)),), name="view_offset")))
class AsStrided(OpDef):
    """A view of a tensor's storage (given here as a contiguous array) with any sizes,
    strides and storage offset. Elements may overlap, so the gradient adds up every output
    element's contribution at its storage position."""

    def forward(ctx, xp, storage, size, stride, offset):
        ctx.size, ctx.stride, ctx.offset = size, stride, offset
        ctx.numel, ctx.shape = storage.size, storage.shape
        flat = storage.reshape(-1)
        itemsize = flat.dtype.itemsize
        return xp.lib.stride_tricks.as_strided(flat[offset:], shape=size,
                                               strides=tuple(st * itemsize for st in stride))

    def backward(ctx, g):
        xp = namespace(g._device)
        positions = Tensor._wrap(_strided_positions(xp, ctx.size, ctx.stride, ctx.offset)
                                 .reshape(-1), D.int64, g._device)
        grads = Tensor._zeros((ctx.numel,), g._dtype, g._device)
        return index_put(grads, (positions,), g.reshape(-1), accumulate=True).reshape(
            *ctx.shape)


@tensor_method()
def as_strided(input, size, stride, storage_offset=None) -> Tensor:
    """A view of `input`'s storage with the given sizes, strides and storage offset (default
    input's own), as torch.as_strided; in bounds of the storage, elements may overlap."""
    size, stride = tuple(int(n) for n in size), tuple(int(st) for st in stride)
    if len(size) != len(stride):
        raise RuntimeError(f"mismatch in length of strides and shape: {len(stride)} strides for "
                           f"{len(size)} sizes")
    if any(n < 0 for n in size) or any(st < 0 for st in stride):
        raise RuntimeError(f"as_strided: Negative sizes or strides are not supported (sizes "
                           f"{list(size)}, strides {list(stride)})")
    storage = input._base if input._base is not None else input
    if not storage._data.flags.c_contiguous:
        raise RuntimeError("as_strided: the tensor's storage is not a contiguous array (it "
                           "wraps a strided NumPy view); call .contiguous() first")
    offset = input.storage_offset() if storage_offset is None else int(storage_offset)
    needed = offset + 1 + sum((n - 1) * st for n, st in zip(size, stride)) if all(size) else 0
    if needed > storage._data.size:
        raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage "
                           f"offset {offset}, and itemsize {input._dtype.itemsize} requiring a "
                           f"storage size of {needed * input._dtype.itemsize} are out of bounds "
                           f"for storage of size {storage._data.size * input._dtype.itemsize}")
    return apply(AsStrided, storage, size=size, stride=stride, offset=offset)


@register("detach", promote=None, is_view=True, differentiable=False, onnx="Identity",
          samples=(Sample(lambda t, x: x.detach() * x, (Arg((3, 4)),), grad=False),
                   Sample(lambda t, x: t.detach(x), (Arg((2, 3)),), dtypes=ALL, grad=False,
                          name="function")))
class Detach(OpDef):
    """The same data with no autograd history. An op, so that traces and scripts record where
    gradients stop: a graph that took the detached tensor for its source would differentiate
    through it."""

    def forward(ctx, xp, x):
        return x.view()


@tensor_method()
def detach(input):
    """A tensor sharing `input`'s data and version counter, with no autograd history (an
    in-place write through it changes `input`'s values, not its graph)."""
    out = apply(Detach, input)
    storage = input._base if input._base is not None else input._storage_base
    if storage is not None:
        out._storage_base = storage
    out._base, out._view_chain = None, ()
    return out


@composite(samples=(
    Sample(lambda t, x, y: x.view_as(y), (Arg((3, 4)), Arg((2, 6), grad=False)), dtypes=ALL),))
@tensor_method()
def view_as(self, other):
    """`self.view(other.shape)`."""
    return view(self, other.shape)


@composite(samples=(
    Sample(lambda t, x, y: x.t().reshape_as(y), (Arg((3, 4)), Arg((12,), grad=False)),
           dtypes=ALL),))
@tensor_method()
def reshape_as(self, other):
    """`self.reshape(other.shape)`."""
    return reshape(self, other.shape)


@composite(samples=(
    Sample(lambda t, x: t.flatten(x), (Arg((2, 3, 2)),), dtypes=ALL),
    Sample(lambda t, x: x.flatten(1, -1), (Arg((2, 3, 2)),), name="range"),
    Sample(lambda t, x: x.transpose(0, 2).flatten(0, 1), (Arg((2, 3, 2)),), name="copy"),
    Sample(lambda t, x: x.flatten(), (Arg(()),), name="0d")))
@tensor_method()
def flatten(input, start_dim: int = 0, end_dim: int = -1):
    """Merge dimensions start_dim..end_dim into one (a view when the layout allows).

    >>> import ember
    >>> ember.zeros(2, 3, 4).flatten(1).shape
    torch.Size([2, 12])
    """
    shape = input._data.shape
    if not shape:
        return reshape(input, 1)
    start, end = _dim(start_dim, len(shape)), _dim(end_dim, len(shape))
    if start > end:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if start == end:
        return input
    merged = int(np.prod(shape[start:end + 1]))
    return apply(View, input, shape=shape[:start] + (merged,) + shape[end + 1:], copy_ok=True)


@composite(samples=(
    Sample(lambda t, x: t.unflatten(x, 1, (2, 3)), (Arg((2, 6)),), dtypes=ALL),
    Sample(lambda t, x: x.t().unflatten(0, (-1, 2)), (Arg((2, 6)),), name="infer")))
@tensor_method()
def unflatten(input, dim: int, sizes):
    """Split dimension `dim` into `sizes` (one entry may be -1); always a view."""
    shape = input._data.shape
    dim = _dim(dim, len(shape))
    sizes = tuple(operator.index(s) for s in sizes)
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    if sizes.count(-1) > 1:
        raise RuntimeError("unflatten: only one dimension can be inferred")
    known = int(np.prod([s for s in sizes if s != -1]))
    have = shape[dim]
    if (-1 in sizes and (known == 0 or have % known)) or (-1 not in sizes and known != have):
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the "
                           f"size of dim {dim} ({have}) in the input tensor")
    sizes = tuple(have // known if s == -1 else s for s in sizes)
    return apply(View, input, shape=shape[:dim] + sizes + shape[dim + 1:], copy_ok=True)


@composite(samples=(
    Sample(lambda t, x: t.ravel(x), (Arg((2, 3)),), dtypes=ALL),
    Sample(lambda t, x: x.t().ravel(), (Arg((2, 3)),), name="copy")))
@tensor_method()
def ravel(input):
    """The elements as a 1-d tensor (a view when contiguous, else a contiguous copy)."""
    return reshape(input, -1)


# ---- clone / contiguous ----------------------------------------------------------------------
class memory_format:
    """A memory layout tag: torch.contiguous_format, preserve_format, channels_last(_3d)."""

    def __init__(self, name: str, rank: int | None = None):
        self.name = name
        self.rank = rank

    def __repr__(self) -> str:
        return f"torch.{self.name}"

    def axis_order(self) -> tuple:
        """The axis order whose C layout is this (channels-last) format."""
        return _channels_last_order(self.rank)


contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last", 4)
channels_last_3d = memory_format("channels_last_3d", 5)


def _channels_last_order(ndim: int) -> tuple:
    """The axis order whose C layout is channels-last: (N, H, W, C) or (N, D, H, W, C)."""
    return (0,) + tuple(range(2, ndim)) + (1,)


@register("clone", fresh=True, promote=None, samples=(
    Sample(lambda t, x: x.clone(), (Arg((3, 4)),), dtypes=ALL),
    Sample(lambda t, x: t.clone(x.t()), (Arg((3, 4)),), name="strided"),
    Sample(lambda t, x: x.t().contiguous() * 2, (Arg((3, 4)),), name="contiguous"),
    Sample(lambda t, x: x.expand(2, 3, 4).clone(), (Arg((3, 4)),), name="expanded"),
    Sample(lambda t, x: x.clone(memory_format=t.channels_last), (Arg((2, 3, 2, 2)),),
           name="channels_last")))
class Clone(OpDef):
    def forward(ctx, xp, x, layout="preserve"):
        if layout == "channels_last":
            order = _channels_last_order(x.ndim)
            return xp.transpose(xp.transpose(x, order).copy(), np.argsort(order))
        # torch keeps a dense tensor's layout; an overlapping (expanded) one becomes contiguous.
        overlapping = any(st == 0 and n > 1 for st, n in zip(x.strides, x.shape))
        return x.copy(order="C" if layout == "contiguous" or overlapping else "K")

    def backward(ctx, g):
        return g


def _layout(input, fmt, default: str) -> str:
    if fmt is None or fmt is preserve_format:
        return default
    if fmt is contiguous_format:
        return "contiguous"
    if not isinstance(fmt, memory_format):
        raise TypeError(f"memory_format must be a torch.memory_format, not {type(fmt).__name__}")
    if input._data.ndim != fmt.rank:
        raise RuntimeError(f"required rank {fmt.rank} tensor to use {fmt.name} format")
    return "channels_last"


@tensor_method()
def clone(input, *, memory_format=None):
    """A copy with its own memory that stays in the autograd graph (gradients flow back); a
    dense tensor keeps its strides unless `memory_format` asks for another layout.

    >>> import ember
    >>> x = ember.ones(2)
    >>> y = x.clone(); y[0] = 5
    >>> x
    tensor([1., 1.])
    """
    return apply(Clone, input, layout=_layout(input, memory_format, "preserve"))


@tensor_method()
def contiguous(self, memory_format=contiguous_format):
    """self when already laid out as asked (C order by default), else a copy that is."""
    layout = _layout(self, memory_format, "contiguous")
    if self.is_contiguous(memory_format if layout == "channels_last" else None):
        return self
    return apply(Clone, self, layout=layout)


# ---- expand / broadcast ----------------------------------------------------------------------
@register("expand", promote=None, is_view=True, samples=(
    Sample(lambda t, x: x.expand(3, 4), (Arg((3, 1)),), dtypes=ALL),
    Sample(lambda t, x: x.expand(2, -1, 4), (Arg((3, 1)),), name="newdim"),
    Sample(lambda t, x, y: x.expand_as(y), (Arg((3, 1)), Arg((2, 3, 4), grad=False)),
           name="as")))
class Expand(OpDef):
    def forward(ctx, xp, x, shape):
        ctx.shape = x.shape
        return broadcast_view(xp, x, shape)

    def backward(ctx, g):
        return g.sum_to_size(ctx.shape)


@tensor_method()
def expand(self, *sizes, size=None):
    """A broadcast view of size `sizes` (-1 keeps a dimension); writes through it are refused."""
    sizes = _sizes(sizes, size)
    shape = self._data.shape
    lead = len(sizes) - len(shape)
    if lead < 0:
        raise RuntimeError(f"expand({self.type()}{{{list(shape)}}}, size={list(sizes)}): the "
                           f"number of sizes provided ({len(sizes)}) must be greater or equal to "
                           f"the number of dimensions in the tensor ({len(shape)})")
    out = []
    for i, s in enumerate(sizes):
        if i < lead:
            if s < 0:
                raise RuntimeError(f"expand({self.type()}{{{list(shape)}}}, size={list(sizes)}):"
                                   f" -1 is not allowed in a leading, non-existing dimension {i}")
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
    """`self.expand(other.shape)`."""
    return expand(self, other.shape)


@composite(samples=(
    Sample(lambda t, x: t.broadcast_to(x, (2, 3, 4)), (Arg((3, 1)),), dtypes=ALL),))
@tensor_method()
def broadcast_to(input, size):
    """`input.expand(size)`: a broadcast view."""
    return expand(input, size)


@composite(samples=(
    Sample(lambda t: t.broadcast_shapes((2, 1), (3,), [1, 1, 1]), grad=False),))
def broadcast_shapes(*shapes) -> Size:
    """The shape tensors of these shapes broadcast to (PyTorch's rules, no tensors made).

    >>> import ember
    >>> ember.broadcast_shapes((2, 1), (3,))
    torch.Size([2, 3])
    """
    shapes = [(operator.index(s),) if not isinstance(s, (tuple, list)) else tuple(s)
              for s in shapes]
    out = [1] * max((len(s) for s in shapes), default=0)
    for i, shape in enumerate(shapes):
        for k in range(1, len(shape) + 1):
            s = shape[-k]
            if s < 0:
                raise RuntimeError(f"Trying to create tensor with negative dimension {s}: "
                                   f"{list(shape)}")
            if out[-k] == 1:
                out[-k] = s
            elif s != 1 and s != out[-k]:
                raise RuntimeError(f"Attempting to broadcast a dimension of length {s} at "
                                   f"{-k}! Mismatching argument at index {i} had {shape}; but "
                                   f"expected shape should be broadcastable to {out}")
    return Size(out)


@composite(samples=(
    Sample(lambda t, x, y, z: t.broadcast_tensors(x, y, z), (Arg((2, 1)), Arg((3,)), Arg(())),
           dtypes=ALL),))
def broadcast_tensors(*tensors) -> tuple:
    """Expanded views of `tensors`, all of their common broadcast shape."""
    shape = dispatch.broadcast_shape(*(t._data.shape for t in tensors))
    return tuple(expand(t, shape) for t in tensors)


# ---- permute / transpose / movedim -------------------------------------------------------------
@register("permute", promote=None, is_view=True, samples=(
    Sample(lambda t, x: x.permute(2, 0, 1), (Arg((2, 3, 4)),), dtypes=ALL),
    Sample(lambda t, x: t.permute(x, dims=(1, 0)), (Arg((2, 3)),), name="kw"),
    Sample(lambda t, x: x.T, (Arg((2, 3)),), name="T")))
class Permute(OpDef):
    def forward(ctx, xp, x, dims):
        ctx.dims = dims
        return xp.transpose(x, dims)

    def backward(ctx, g):
        return g.permute(*np.argsort(ctx.dims).tolist())


@tensor_method()
def permute(input, *dims_args, dims=None):
    """A view with dimensions reordered."""
    dims = _sizes(dims_args, dims)
    nd = input._data.ndim
    if len(dims) != nd:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does "
                           f"not match the length of the desired ordering of dimensions i.e. "
                           f"input.dim() = {nd} is not equal to len(dims) = {len(dims)}")
    norm = tuple(_dim(d, nd, "permute") for d in dims)
    if len(set(norm)) != nd:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return apply(Permute, input, dims=norm)


@register("transpose", promote=None, is_view=True, samples=(
    Sample(lambda t, x: x.transpose(0, 2), (Arg((2, 3, 4)),), dtypes=ALL),
    Sample(lambda t, x: x.t(), (Arg((2, 3)),), name="t"),
    Sample(lambda t, x: t.swapaxes(x, 0, -1), (Arg((2, 3)),), name="swapaxes"),
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
    return name_node(transpose(input, 0, 1), "TBackward0") if input._data.ndim == 2 else input


def _in_place_view(self, make_view, name: str):
    """Turn `self` into the view `make_view(self)` returns, as torch's in-place view ops (t_,
    unsqueeze_, ...) do: the same object with the view's shape, strides and grad_fn, one
    version later. A leaf that requires grad refuses, as for any in-place op."""
    dispatch.refuse_leaf(self, name)
    view = make_view(self)
    self._data = view._data
    if view._grad_fn is not None:
        self._grad_fn, self._output_nr = view._grad_fn, view._output_nr
    if view._base is not self:  # self was a view: it stays one, one op further
        self._base, self._view_chain = view._base, view._view_chain
        self._view_epoch = view._view_epoch
    self._vbox[0] += 1
    return self


def _transpose_(self, dim0, dim1):
    """In-place transpose: `self` becomes the view with dim0 and dim1 swapped."""
    return _in_place_view(self, lambda x: transpose(x, dim0, dim1), "transpose_")


def _t_(self):
    """In-place t(): `self` becomes its transpose (a 0-d or 1-d tensor stays as it is)."""
    return _in_place_view(self, t, "t_")


def _unsqueeze_(self, dim):
    """In-place unsqueeze: `self` gains a size-1 dimension at `dim`."""
    return _in_place_view(self, lambda x: unsqueeze(x, dim), "unsqueeze_")


def _squeeze_(self, dim=None):
    """In-place squeeze: `self` loses its size-1 dimensions (those in `dim`)."""
    return _in_place_view(self, lambda x: squeeze(x, dim), "squeeze_")


Tensor.transpose_ = Tensor.swapaxes_ = Tensor.swapdims_ = _transpose_
Tensor.t_ = _t_
Tensor.unsqueeze_ = _unsqueeze_
Tensor.squeeze_ = _squeeze_


@composite(samples=(
    Sample(lambda t, x: t.movedim(x, 0, -1), (Arg((2, 3, 4)),), dtypes=ALL),
    Sample(lambda t, x: x.movedim((0, 1), (2, 0)), (Arg((2, 3, 4)),), name="tuple"),
    Sample(lambda t, x: t.moveaxis(x, -1, 0), (Arg((2, 3, 4)),), name="moveaxis")))
@tensor_method("movedim", "moveaxis")
def movedim(input, source, destination):
    """A view with the dimensions `source` moved to positions `destination`."""
    src, dst = _dims_tuple(source), _dims_tuple(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({list(src)} "
                           f"dims) should contain the same number of dims as destination "
                           f"({list(dst)} dims)")
    nd = input._data.ndim
    norm_src = [_dim(d, nd) for d in src]
    norm_dst = [_dim(d, nd) for d in dst]
    if len(set(norm_src)) != len(src):
        raise RuntimeError(f"movedim: repeated dim in `source` ({list(src)})")
    if len(set(norm_dst)) != len(dst):
        raise RuntimeError(f"movedim: repeated dim in `destination` ({list(dst)})")
    order = [-1] * nd
    for s, d in zip(norm_src, norm_dst):
        order[d] = s
    rest = iter(d for d in range(nd) if d not in norm_src)
    return permute(input, [o if o >= 0 else next(rest) for o in order])


moveaxis = movedim


# ---- unfold: sliding windows as a view ---------------------------------------------------------
@register("unfold", promote=None, is_view=True, samples=(
    Sample(lambda t, x: x.unfold(1, 3, 2), (Arg((2, 8, 3)),), dtypes=ALL),
    Sample(lambda t, x: x.unfold(0, 3, 1), (Arg((7,)),), name="overlapping"),
    Sample(lambda t, x: x.unfold(-1, 2, 3), (Arg((3, 8)),), name="gaps"),
    Sample(lambda t, x: x.unfold(0, 1, 1), (Arg(()),), name="0d")))
class Unfold(OpDef):
    """Tensor.unfold: every window of `size` elements `step` apart along `dim`, as a view
    with the windows' elements in a new last dimension (windows may overlap)."""

    def forward(ctx, xp, x, dim, size, step):
        ctx.shape, ctx.dim, ctx.size, ctx.step = x.shape, dim, size, step
        if x.ndim == 0:
            return x.reshape(1)
        count = (x.shape[dim] - size) // step + 1
        shape = x.shape[:dim] + (count,) + x.shape[dim + 1:] + (size,)
        strides = x.strides[:dim] + (x.strides[dim] * step,) + x.strides[dim + 1:] + (
            x.strides[dim],)
        return xp.lib.stride_tricks.as_strided(x, shape, strides)

    def backward(ctx, g):
        return apply(UnfoldBackward, g, shape=tuple(ctx.shape), dim=ctx.dim, size=ctx.size,
                     step=ctx.step)


@register("unfold_backward", promote=None, fresh=True, samples=(
    Sample(lambda t, x, g: t.autograd.grad(x.requires_grad_().unfold(1, 3, 2), x, g)[0],
           (Arg((2, 8, 3), grad=False), Arg((2, 3, 3, 3), grad=False)), grad=False),))
class UnfoldBackward(OpDef):
    """The adjoint of unfold: each window's elements summed back into their places (where
    windows overlap, their gradients add)."""

    def forward(ctx, xp, g, shape, dim, size, step):
        ctx.dim, ctx.size, ctx.step = dim, size, step
        if not shape:
            return g.reshape(())
        out = xp.zeros(shape, dtype=g.dtype)
        count = g.shape[dim]
        lead = (slice(None),) * dim
        for k in range(size):
            out[lead + (slice(k, k + step * (count - 1) + 1, step),)] += g[..., k]
        return out

    def backward(ctx, gg):
        return gg.unfold(ctx.dim, ctx.size, ctx.step)


@tensor_method()
def unfold(input, dimension, size, step):
    """A view of every window of `size` elements `step` apart along `dimension`, each
    window's elements in a new last dimension.

    >>> import ember
    >>> ember.arange(6.).unfold(0, 3, 2)
    tensor([[0., 1., 2.],
            [2., 3., 4.]])
    """
    nd = input._data.ndim
    dim = _dim(dimension, builtins.max(nd, 1), "unfold")
    n = input._data.shape[dim] if nd else 1
    size, step = operator.index(size), operator.index(step)
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {dim} is {n} but size is "
                           f"{size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    return apply(Unfold, input, dim=dim, size=size, step=step)


# ---- squeeze / unsqueeze / atleast_nd ----------------------------------------------------------
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
        dims = tuple(d for d in (_dim(d, len(shape), "squeeze") for d in _dims_tuple(dim))
                     if shape and shape[d] == 1)
    # torch's overloads: squeeze(), squeeze(int), squeeze(tuple)
    overload = 0 if dim is None else 2 if isinstance(dim, (tuple, list)) else 1
    return name_node(apply(Squeeze, input, dims=dims), f"SqueezeBackward{overload}")


@tensor_method()
def sum_to_size(self, *size):
    """Sum broadcast dimensions away so the result has shape `size` (the adjoint of expand)."""
    size = _sizes(size)
    shape = self._data.shape
    if size == shape:
        return self
    lead = len(shape) - len(size)
    if lead < 0:
        raise RuntimeError(f"size {{{list(size)}}} is not expandable to size {{{list(shape)}}}.")
    dims = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(size)
                                      if s == 1 and shape[i + lead] != 1)
    out = self.sum(dims, keepdim=True) if dims else self
    return out.view(*size) if lead or out.shape != size else out

def _atleast(tensors, fix):
    if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)):
        return tuple(fix(t) for t in tensors[0])
    if len(tensors) == 1:
        return fix(tensors[0])
    return tuple(fix(t) for t in tensors)


def _at_least_2d(t):
    nd = t._data.ndim
    return reshape(t, 1, 1) if nd == 0 else unsqueeze(t, 0) if nd == 1 else t


def _at_least_3d(t):
    nd = t._data.ndim
    if nd == 0:
        return reshape(t, 1, 1, 1)
    if nd == 1:
        return unsqueeze(unsqueeze(t, 0), -1)
    return unsqueeze(t, -1) if nd == 2 else t


@composite(samples=(
    Sample(lambda t, x: t.atleast_1d(x), (Arg(()),), dtypes=ALL),
    Sample(lambda t, x, y: t.atleast_1d((x, y)), (Arg((2, 3)), Arg(())), name="seq")))
def atleast_1d(*tensors):
    """Views with at least one dimension (0-d tensors become shape [1])."""
    return _atleast(tensors, lambda t: reshape(t, 1) if t._data.ndim == 0 else t)


@composite(samples=(
    Sample(lambda t, x, y: t.atleast_2d(x, y), (Arg(()), Arg((3,))), dtypes=ALL),))
def atleast_2d(*tensors):
    """Views with at least two dimensions (1-d tensors become rows)."""
    return _atleast(tensors, _at_least_2d)


@composite(samples=(
    Sample(lambda t, x, y, z: t.atleast_3d([x, y, z]), (Arg(()), Arg((3,)), Arg((2, 3))),
           dtypes=ALL),))
def atleast_3d(*tensors):
    """Views with at least three dimensions ([n] -> [1, n, 1], [m, n] -> [m, n, 1])."""
    return _atleast(tensors, _at_least_3d)


# ---- cat / stack -----------------------------------------------------------------------------
def _skipped(a) -> bool:
    """torch's legacy rule: 1-d empty tensors are ignored by cat, whatever the other shapes."""
    return a.ndim == 1 and a.shape[0] == 0


@register("cat", fresh=True, samples=(
    Sample(lambda t, x, y: t.cat([x, y]), (Arg((2, 3)), Arg((1, 3))), dtypes=ALL),
    Sample(lambda t, x, y, z: t.cat((x, y, z), dim=-1), (Arg((2, 1)), Arg((2, 3)), Arg((2, 2))),
           name="dim"),
    Sample(lambda t, x, y: t.concat([x, y], 1), (Arg((2, 3)), Arg((2, 3), dtype="float64")),
           dtypes=("float32",), name="promote"),
    Sample(lambda t, x, y: t.concatenate((x, y)), (Arg((2, 3)), Arg((1, 3), dtype="bool")),
           dtypes=("uint8", "int32", "int64"), grad=False, name="promote_int"),
    Sample(lambda t, x, e: t.cat([e, x, e], 1), (Arg((2, 3)), Arg((0,), grad=False)),
           name="skip_empty"),
    Sample(lambda t, x: t.cat([x]), (Arg((0, 2)),), name="empty")))
class Cat(OpDef):
    def forward(ctx, xp, *arrays, dim):
        ctx.dim = dim
        ctx.sizes = tuple(None if _skipped(a) else a.shape[dim] for a in arrays)
        kept = [a for a in arrays if not _skipped(a)]
        if not kept:
            return arrays[0].copy()
        return xp.concatenate(kept, axis=dim)

    def backward(ctx, g):
        grads, start = [], 0
        for size, need in zip(ctx.sizes, ctx.needs_input_grad):
            if size is None:
                grads.append(_zeros((0,), g) if need else None)
                continue
            grads.append(apply(Getitem, g, key=_along(ctx.dim, slice(start, start + size)))
                         if need else None)
            start += size
        return tuple(grads)


def _tensor_list(tensors, op: str, nonempty: bool = True) -> tuple:
    """`tensors` as a tuple, checked the way torch checks a TensorList argument."""
    if isinstance(tensors, Tensor):
        raise TypeError(f"{op}(): argument 'tensors' (position 1) must be tuple of Tensors, "
                        "not Tensor")
    tensors = tuple(tensors)
    if nonempty and not tensors:
        raise RuntimeError(f"{op} expects a non-empty TensorList")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}(): expected Tensor as element {i} in argument 0, but got "
                            f"{type(t).__name__}")
    return tensors


def cat(tensors, dim: int = 0, *, axis=None, out=None) -> Tensor:
    """Concatenate tensors along an existing dimension, promoting dtypes like arithmetic.

    >>> import ember
    >>> ember.cat([ember.zeros(1, 2), ember.ones(1, 2)])
    tensor([[0., 0.],
            [1., 1.]])
    """
    tensors = _tensor_list(tensors, "cat", nonempty=False)
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if t._data.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be "
                               "concatenated")
    ref = next((t for t in tensors if not _skipped(t._data)), tensors[0])
    shape = ref._data.shape
    dim = _dim(axis if axis is not None else dim, len(shape))
    for i, t in enumerate(tensors):
        other = t._data.shape
        if _skipped(t._data):
            continue
        if len(other) != len(shape):
            raise RuntimeError(f"Tensors must have same number of dimensions: got {len(shape)} "
                               f"and {len(other)}")
        for d, (a, b) in enumerate(zip(shape, other)):
            if d != dim and a != b:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {dim}. "
                                   f"Expected size {a} but got size {b} for tensor number {i} "
                                   "in the list.")
    return write_out(apply(Cat, *tensors, dim=dim), out)


concat = concatenate = cat


@composite(samples=(
    Sample(lambda t, x, y: t.stack([x, y]), (Arg((2, 3)), Arg((2, 3))), dtypes=ALL),
    Sample(lambda t, x, y: t.stack((x, y), dim=-1), (Arg((2, 3)), Arg((2, 3))), name="last"),
    Sample(lambda t, x, y: t.stack([x, y], -1), (Arg(()), Arg((), dtype="float64")),
           dtypes=("float32",), name="0d")))
def stack(tensors, dim: int = 0, *, out=None) -> Tensor:
    """Join equally shaped tensors along a new dimension `dim`.

    >>> import ember
    >>> ember.stack([ember.zeros(2), ember.ones(2)], dim=1)
    tensor([[0., 1.],
            [0., 1.]])
    """
    tensors = _tensor_list(tensors, "stack")
    shape = tensors[0]._data.shape
    for i, t in enumerate(tensors[1:], 1):
        if t._data.shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(shape)} at entry 0 and {list(t.shape)} at entry {i}")
    dim = _dim(dim, len(shape) + 1)
    stacked = apply(Cat, *(unsqueeze(t, dim) for t in tensors), dim=dim)
    return write_out(name_node(stacked, "StackBackward0"), out)


@composite(samples=(
    Sample(lambda t, x, y: t.hstack([x, y]), (Arg((3,)), Arg((2,))), dtypes=ALL),
    Sample(lambda t, x, y: t.hstack((x, y)), (Arg((2, 3)), Arg((2, 1))), name="2d")))
def hstack(tensors, *, out=None) -> Tensor:
    """Concatenate column-wise (along dim 1, or dim 0 for 1-d tensors)."""
    tensors = atleast_1d(_tensor_list(tensors, "hstack"))
    return cat(tensors, 0 if tensors[0]._data.ndim == 1 else 1, out=out)


@composite(samples=(
    Sample(lambda t, x, y: t.vstack([x, y]), (Arg((3,)), Arg((2, 3))), dtypes=ALL),
    Sample(lambda t, x, y: t.row_stack((x, y)), (Arg(()), Arg(())), name="row_stack")))
def vstack(tensors, *, out=None) -> Tensor:
    """Concatenate row-wise (1-d tensors become rows)."""
    return cat(atleast_2d(_tensor_list(tensors, "vstack")), 0, out=out)


row_stack = vstack


@composite(samples=(
    Sample(lambda t, x, y: t.dstack([x, y]), (Arg((3,)), Arg((1, 3, 2))), dtypes=ALL),))
def dstack(tensors, *, out=None) -> Tensor:
    """Concatenate depth-wise (along dim 2, after atleast_3d)."""
    return cat(atleast_3d(_tensor_list(tensors, "dstack")), 2, out=out)


@composite(samples=(
    Sample(lambda t, x, y, z: t.column_stack([x, y, z]), (Arg((3,)), Arg((3, 2)), Arg((3,))),
           dtypes=ALL),
    Sample(lambda t, x, y: t.column_stack((x, y)), (Arg(()), Arg(())), name="0d")))
def column_stack(tensors, *, out=None) -> Tensor:
    """Stack 0-d/1-d tensors as columns next to 2-d ones."""
    tensors = _tensor_list(tensors, "column_stack")
    cols = tuple(reshape(t, t._data.size, 1) if t._data.ndim <= 1 else t for t in tensors)
    return cat(cols, 1, out=out)


# ---- split / chunk / unbind ------------------------------------------------------------------
@register("split", promote=None, is_view=True, samples=(
    Sample(lambda t, x: x.split(2), (Arg((5, 3)),), dtypes=ALL),
    Sample(lambda t, x: t.split(x, [1, 3], 1), (Arg((2, 4)),), name="sizes"),
    Sample(lambda t, x: x.split(2)[1] * 2, (Arg((5, 3)),), name="partial"),
    Sample(lambda t, x: x.split([0, 3, 0]), (Arg((3, 2)),), name="empty_pieces",
           **_EMPTY_OUT)))
class Split(OpDef):
    """Views of consecutive pieces of `sizes` along `dim`: one multi-output node, so (as in
    torch) its outputs may not be modified in place while autograd records."""

    def forward(ctx, xp, x, sizes, dim):
        ctx.dim = dim
        out, start = [], 0
        for size in sizes:
            out.append(x[_along(dim, slice(start, start + size))])
            start += size
        return tuple(out)

    def backward(ctx, *grads):
        return apply(Cat, *grads, dim=ctx.dim)


def _split_dim(tensor, dim, op):
    if tensor._data.ndim == 0:
        raise RuntimeError(f"{op} expects at least a 1-dimensional tensor")
    return _dim(dim, tensor._data.ndim)


@tensor_method()
def split(tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Views of pieces of `split_size` along `dim` (the last may be smaller), or of the given
    list of sizes.

    >>> import ember
    >>> [p.tolist() for p in ember.arange(5).split(2)]
    [[0, 1], [2, 3], [4]]
    """
    dim = _split_dim(tensor, dim, "split")
    size = tensor._data.shape[dim]
    if isinstance(split_size_or_sections, (tuple, list)):
        sizes = tuple(operator.index(s) for s in split_size_or_sections)
        if sum(sizes) != size or any(s < 0 for s in sizes):
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {size} "
                               f"(input tensor's size at dimension {dim}), but got "
                               f"split_sizes={list(sizes)}")
        return apply(Split, tensor, sizes=sizes, dim=dim)
    step = operator.index(split_size_or_sections)
    if step < 0:
        raise RuntimeError(f"split expects split_size be non-negative, but got split_size={step}")
    if step == 0 and size:
        raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension "
                           f"size of {size}")
    if size == 0:
        return apply(Split, tensor, sizes=(0,), dim=dim)
    return apply(Split, tensor, sizes=tuple(min(step, size - a) for a in range(0, size, step)),
                 dim=dim)


@composite(samples=(
    Sample(lambda t, x: t.tensor_split(x, 3), (Arg((4, 2)),), dtypes=ALL),
    Sample(lambda t, x: x.tensor_split([1, 3], dim=1), (Arg((2, 5)),), name="indices"),
    Sample(lambda t, x: x.tensor_split([1, 3, 2, 10]), (Arg((4, 2)),), name="overlap",
           **_EMPTY_OUT),
    Sample(lambda t, x, i: x.tensor_split(i), (Arg((5, 2)), Arg(values=[1, 4], dtype="int64")),
           name="tensor")))
@tensor_method()
def tensor_split(input, indices_or_sections, dim: int = 0) -> tuple:
    """Views split into n nearly equal sections, or at the given indices (like NumPy). Each
    piece is a separate slice (torch allows writing into them in place)."""
    dim = _split_dim(input, dim, "tensor_split")
    size = input._data.shape[dim]
    spec = indices_or_sections
    if isinstance(spec, Tensor):
        if spec._dtype.category != D._INT:
            raise RuntimeError("tensor_split expected tensor_indices_or_sections to have dtype "
                               f"of long, but got {_SCALAR_NAMES[spec._dtype]}")
        if spec._data.ndim > 1:
            raise RuntimeError("tensor_split expected tensor_indices_or_sections to be a "
                               "zero-dimensional or one-dimensional tensor, but got a tensor "
                               f"with {spec._data.ndim} dims")
        spec = spec.item() if spec._data.ndim == 0 else spec.tolist()
    if isinstance(spec, (tuple, list)):
        cuts = [0] + [operator.index(i) for i in spec] + [size]
        return tuple(apply(Getitem, input, key=_along(dim, slice(a, b)))
                     for a, b in zip(cuts, cuts[1:]))
    if isinstance(spec, float):
        raise TypeError("tensor_split(): argument 'indices_or_sections' must be an int, a "
                        f"sequence of ints or a Tensor, not {type(spec).__name__}")
    n = operator.index(spec)
    if n <= 0:
        raise RuntimeError(f"number of sections must be larger than 0, got {n}")
    small, extra = divmod(size, n)
    cuts = np.cumsum([0] + [small + 1] * extra + [small] * (n - extra)).tolist()
    return tuple(apply(Getitem, input, key=_along(dim, slice(a, b)))
                 for a, b in zip(cuts, cuts[1:]))


@composite(samples=(
    Sample(lambda t, x: x.chunk(3), (Arg((5, 2)),), dtypes=ALL),
    Sample(lambda t, x: t.chunk(x, 2, dim=-1), (Arg((2, 4)),), name="dim"),
    Sample(lambda t, x: x.chunk(4), (Arg((6,)),), name="fewer")))
@tensor_method()
def chunk(input, chunks: int, dim: int = 0) -> tuple:
    """At most `chunks` views of equal size along `dim` (the last may be smaller)."""
    chunks = operator.index(chunks)
    dim = _split_dim(input, dim, "chunk")
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    size = input._data.shape[dim]
    if size == 0:
        return apply(Split, input, sizes=(0,) * chunks, dim=dim)
    return split(input, -(-size // chunks), dim)


def _hvd_split(input, spec, dim, op, need):
    nd = input._data.ndim
    if nd < need:
        raise RuntimeError(f"torch.{op} requires a tensor with at least {need} dimension, but "
                           f"got a tensor with {nd} dimensions!")
    if not isinstance(spec, (tuple, list, Tensor)):
        n = operator.index(spec)
        size = input._data.shape[dim]
        if n == 0 or size % n:
            raise RuntimeError(f"torch.{op} attempted to split along dimension {dim}, but the "
                               f"size of the dimension {size} is not divisible by the "
                               f"split_size {n}!")
    return tensor_split(input, spec, dim)


@composite(samples=(
    Sample(lambda t, x: x.hsplit(2), (Arg((3, 4)),), dtypes=ALL),
    Sample(lambda t, x: t.hsplit(x, [1]), (Arg((4,)),), name="1d")))
@tensor_method()
def hsplit(input, indices_or_sections) -> tuple:
    """tensor_split along dim 1 (dim 0 for 1-d tensors), sections must divide evenly."""
    return _hvd_split(input, indices_or_sections, 0 if input._data.ndim == 1 else 1, "hsplit", 1)


@composite(samples=(Sample(lambda t, x: x.vsplit([1, 2]), (Arg((4, 3)),)),))
@tensor_method()
def vsplit(input, indices_or_sections) -> tuple:
    """tensor_split along dim 0 of a tensor with at least 2 dimensions."""
    return _hvd_split(input, indices_or_sections, 0, "vsplit", 2)


@composite(samples=(Sample(lambda t, x: t.dsplit(x, 2), (Arg((2, 1, 4)),)),))
@tensor_method()
def dsplit(input, indices_or_sections) -> tuple:
    """tensor_split along dim 2 of a tensor with at least 3 dimensions."""
    return _hvd_split(input, indices_or_sections, 2, "dsplit", 3)


@register("unbind", promote=None, is_view=True, samples=(
    Sample(lambda t, x: x.unbind(), (Arg((3, 2)),), dtypes=ALL),
    Sample(lambda t, x: t.unbind(x, -1), (Arg((2, 3)),), name="dim"),
    Sample(lambda t, x: x.unbind(0)[1] * 3, (Arg((3,)),), name="partial"),
    Sample(lambda t, x: list(x), (Arg((2, 3)),), name="iter")))
class Unbind(OpDef):
    def forward(ctx, xp, x, dim):
        ctx.dim = dim
        return tuple(x[_along(dim, i)] for i in range(x.shape[dim]))

    def backward(ctx, *grads):
        return apply(Cat, *(g.unsqueeze(ctx.dim) for g in grads), dim=ctx.dim)


@tensor_method()
def unbind(input, dim: int = 0) -> tuple:
    """Views of every slice along `dim`, with that dimension removed."""
    if input._data.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    return apply(Unbind, input, dim=_dim(dim, input._data.ndim))


# ---- narrow / select -------------------------------------------------------------------------
@composite(samples=(
    Sample(lambda t, x: x.narrow(1, 1, 2), (Arg((3, 4)),), dtypes=ALL),
    Sample(lambda t, x: t.narrow(x, 0, -2, 2), (Arg((3, 4)),), name="negative"),
    Sample(lambda t, x: x.narrow(-1, t.tensor(1), 0), (Arg((3, 4)),), name="tensor_start",
           **_EMPTY_OUT)))
@tensor_method()
def narrow(input, dim: int, start, length: int) -> Tensor:
    """A view of `length` elements of dimension `dim` from `start` (negative counts back)."""
    shape = input._data.shape
    if not shape:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    length = operator.index(length)
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    dim = _dim(dim, len(shape))
    size, start = shape[dim], operator.index(start)
    if not -size <= start <= size:
        raise IndexError(f"start out of range (expected to be in range of [{-size}, {size}], "
                         f"but got {start})")
    if start < 0:
        start += size
    if start + length > size:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size "
                           f"({size}).")
    return apply(Getitem, input, key=_along(dim, slice(start, start + length)))


@composite(samples=(
    Sample(lambda t, x: x.select(1, 2), (Arg((3, 4)),), dtypes=ALL),
    Sample(lambda t, x: t.select(x, 0, -1), (Arg((3,)),), name="to_0d")))
@tensor_method()
def select(input, dim: int, index: int) -> Tensor:
    """The view `input[..., index, ...]` at dimension `dim` (that dimension removed)."""
    shape = input._data.shape
    if not shape:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    dim, index = _dim(dim, len(shape)), operator.index(index)
    if not -shape[dim] <= index < shape[dim]:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(shape)} at dimension {dim}")
    return apply(Getitem, input, key=_along(dim, index))


# ---- flip / roll / rot90 ---------------------------------------------------------------------
@register("flip", promote=None, samples=(
    Sample(lambda t, x: x.flip(0, 1), (Arg((3, 4)),), dtypes=ALL),
    Sample(lambda t, x: t.flip(x, dims=(-1,)), (Arg((2, 3, 4)),), name="last"),
    Sample(lambda t, x: x.flip([]), (Arg((2, 3)),), name="none")))
class Flip(OpDef):
    def forward(ctx, xp, x, dims):
        ctx.dims = dims
        return xp.flip(x, dims).copy() if dims else x.copy()

    def backward(ctx, g):
        return apply(Flip, g, dims=ctx.dims)


def _unique_dims(dims, nd) -> tuple:
    norm = tuple(_dim(operator.index(d), nd) for d in dims)
    for i, d in enumerate(norm):
        if d in norm[:i]:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    return norm


@tensor_method()
def flip(input, *dims_args, dims=None) -> Tensor:
    """A copy with the order of elements reversed along `dims`.

    >>> import ember
    >>> ember.tensor([[1, 2], [3, 4]]).flip(1)
    tensor([[2, 1],
            [4, 3]])
    """
    if dims is None and not dims_args:
        raise TypeError('flip() missing 1 required positional arguments: "dims"')
    dims = _sizes(dims_args, dims)
    nd = input._data.ndim
    norm = _unique_dims(dims, nd)
    return apply(Flip, input, dims=norm if nd else ())


@composite(samples=(Sample(lambda t, x: x.fliplr(), (Arg((3, 4)),), dtypes=ALL),))
@tensor_method()
def fliplr(input) -> Tensor:
    """Flip left-right (dimension 1) of a tensor with at least 2 dimensions."""
    if input._data.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return apply(Flip, input, dims=(1,))


@composite(samples=(Sample(lambda t, x: t.flipud(x), (Arg((3,)),), dtypes=ALL),))
@tensor_method()
def flipud(input) -> Tensor:
    """Flip up-down (dimension 0) of a tensor with at least 1 dimension."""
    if input._data.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return apply(Flip, input, dims=(0,))


@register("roll", promote=None, samples=(
    Sample(lambda t, x: x.roll(1), (Arg((3, 4)),), dtypes=ALL),
    Sample(lambda t, x: t.roll(x, (1, -2), (0, 1)), (Arg((3, 4)),), name="dims"),
    Sample(lambda t, x: x.roll(5, -1), (Arg((2, 3)),), name="wrap")))
class Roll(OpDef):
    def forward(ctx, xp, x, shifts, dims):
        ctx.shifts, ctx.dims = shifts, dims
        if not dims:
            return xp.roll(x, shifts[0])
        return xp.roll(x, shifts, dims)

    def backward(ctx, g):
        return apply(Roll, g, shifts=tuple(-s for s in ctx.shifts), dims=ctx.dims)


@tensor_method()
def roll(input, shifts, dims=None) -> Tensor:
    """A copy with elements shifted cyclically along `dims` (over the flattened tensor when
    `dims` is None)."""
    shifts = tuple(operator.index(s) for s in _dims_tuple(shifts))
    dims = () if dims is None else _dims_tuple(dims)
    if not shifts:
        raise RuntimeError("`shifts` required")
    if len(shifts) != len(dims) and not (not dims and len(shifts) == 1):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, "
                           f"dims:{len(dims)}")
    nd = input._data.ndim
    return apply(Roll, input, shifts=shifts, dims=tuple(_dim(operator.index(d), nd)
                                                        for d in dims))


@composite(samples=(
    Sample(lambda t, x: x.rot90(), (Arg((3, 4)),), dtypes=ALL),
    Sample(lambda t, x: t.rot90(x, 2, (1, 2)), (Arg((2, 3, 4)),), name="k2"),
    Sample(lambda t, x: x.rot90(-1, [0, 1]), (Arg((3, 4)),), name="k3"),
    Sample(lambda t, x: x.rot90(4), (Arg((3, 4)),), name="k0")))
@tensor_method()
def rot90(input, k: int = 1, dims=(0, 1)) -> Tensor:
    """A copy rotated by 90 degrees `k` times in the plane of `dims` (from dims[0] toward
    dims[1])."""
    dims = tuple(dims)
    nd = input._data.ndim
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if nd < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {nd}")
    d0, d1 = _dim(dims[0], nd), _dim(dims[1], nd)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} and "
                           f"dim1 = {d1}")
    k = operator.index(k) % 4
    if k == 1:
        return transpose(apply(Flip, input, dims=(d1,)), d0, d1)
    if k == 2:
        return apply(Flip, input, dims=(d0, d1))
    if k == 3:
        return transpose(apply(Flip, input, dims=(d0,)), d0, d1)
    return apply(Clone, input, layout="contiguous")


# ---- tril / triu -----------------------------------------------------------------------------
def _check_matrix(input, op):
    if input._data.ndim < 2:
        raise RuntimeError(f"{op}: input tensor must have at least 2 dimensions")


@register("tril", promote=None, samples=(
    Sample(lambda t, x: x.tril(), (Arg((3, 4)),), dtypes=ALL),
    Sample(lambda t, x: t.tril(x, diagonal=-1), (Arg((2, 3, 4)),), name="batched"),
    Sample(lambda t, x: (x * 1).tril_(1), (Arg((4, 3)),), name="inplace")))
class Tril(OpDef):
    def forward(ctx, xp, x, diagonal=0):
        ctx.diagonal = diagonal
        return xp.tril(x, diagonal).astype(x.dtype, copy=False)  # CuPy's bfloat16 widens

    def forward_inplace(xp, x, diagonal=0):
        x[...] = xp.tril(x, diagonal)

    def backward(ctx, g):
        return apply(Tril, g, diagonal=ctx.diagonal)


@register("triu", promote=None, samples=(
    Sample(lambda t, x: x.triu(), (Arg((3, 4)),), dtypes=ALL),
    Sample(lambda t, x: t.triu(x, 1), (Arg((2, 3, 4)),), name="batched"),
    Sample(lambda t, x: (x * 1).triu_(diagonal=-1), (Arg((4, 3)),), name="inplace")))
class Triu(OpDef):
    def forward(ctx, xp, x, diagonal=0):
        ctx.diagonal = diagonal
        return xp.triu(x, diagonal).astype(x.dtype, copy=False)  # CuPy's bfloat16 widens

    def forward_inplace(xp, x, diagonal=0):
        x[...] = xp.triu(x, diagonal)

    def backward(ctx, g):
        return apply(Triu, g, diagonal=ctx.diagonal)


@tensor_method()
def tril(input, diagonal: int = 0, *, out=None) -> Tensor:
    """The lower triangle of the last two dimensions (elements above `diagonal` zeroed)."""
    _check_matrix(input, "tril")
    return write_out(apply(Tril, input, diagonal=operator.index(diagonal)), out)


@tensor_method()
def triu(input, diagonal: int = 0, *, out=None) -> Tensor:
    """The upper triangle of the last two dimensions (elements below `diagonal` zeroed)."""
    _check_matrix(input, "triu")
    return write_out(apply(Triu, input, diagonal=operator.index(diagonal)), out)


@tensor_method()
def tril_(self, diagonal: int = 0) -> Tensor:
    """In-place tril."""
    _check_matrix(self, "tril")
    return apply_(Tril, self, diagonal=operator.index(diagonal))


@tensor_method()
def triu_(self, diagonal: int = 0) -> Tensor:
    """In-place triu."""
    _check_matrix(self, "triu")
    return apply_(Triu, self, diagonal=operator.index(diagonal))


# ---- diagonals -------------------------------------------------------------------------------
def _writable_like(out, x):
    """NumPy hands out diagonals read-only; torch's diagonal is a writable view."""
    flags = out.flags
    if not getattr(flags, "writeable", True) and x.flags.writeable:
        flags.writeable = True
    return out


@register("diagonal", promote=None, is_view=True, samples=(
    Sample(lambda t, x: x.diagonal(), (Arg((3, 4)),), dtypes=ALL),
    Sample(lambda t, x: t.diagonal(x, 1), (Arg((3, 4)),), name="offset"),
    Sample(lambda t, x: x.diagonal(-1, -1, 0), (Arg((3, 2, 4)),), name="dims"),
    Sample(lambda t, x: x.diagonal(5), (Arg((3, 4)),), name="empty", **_EMPTY_OUT)))
class Diagonal(OpDef):
    def forward(ctx, xp, x, offset, dim1, dim2):
        ctx.shape, ctx.args = x.shape, (offset, dim1, dim2)
        return _writable_like(xp.diagonal(x, offset, dim1, dim2), x)

    def backward(ctx, g):
        offset, dim1, dim2 = ctx.args
        return apply(DiagonalScatter, _zeros(ctx.shape, g), g, offset=offset, dim1=dim1,
                     dim2=dim2)


@register("diagonal_scatter", promote=None, samples=(
    Sample(lambda t, x, s: t.diagonal_scatter(x, s), (Arg((3, 4)), Arg((3,))), dtypes=ALL),
    Sample(lambda t, x, s: x.diagonal_scatter(s, -1, 2, 0), (Arg((3, 2, 4)), Arg((2, 3))),
           name="dims")))
class DiagonalScatter(OpDef):
    def forward(ctx, xp, x, src, offset, dim1, dim2):
        ctx.src_shape, ctx.args = src.shape, (offset, dim1, dim2)
        out = x.copy()
        _writable_like(xp.diagonal(out, offset, dim1, dim2), out)[...] = src.astype(out.dtype)
        return out

    def backward(ctx, g):
        offset, dim1, dim2 = ctx.args
        need = ctx.needs_input_grad
        gx = apply(DiagonalScatter, g, _zeros(ctx.src_shape, g), offset=offset, dim1=dim1,
                   dim2=dim2) if need[0] else None
        gs = apply(Diagonal, g, offset=offset, dim1=dim1, dim2=dim2) if need[1] else None
        return gx, gs


def _diag_dims(input, dim1, dim2, nd=None):
    nd = input._data.ndim if nd is None else nd
    d1, d2 = _dim(dim1, nd), _dim(dim2, nd)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return d1, d2


@tensor_method()
def diagonal(input, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """A view of the diagonal of the (dim1, dim2) planes, appended as the last dimension.

    >>> import ember
    >>> ember.arange(9).view(3, 3).diagonal(1)
    tensor([1, 5])
    """
    d1, d2 = _diag_dims(input, dim1, dim2)
    return apply(Diagonal, input, offset=operator.index(offset), dim1=d1, dim2=d2)


@tensor_method()
def diagonal_scatter(input, src, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """A copy of `input` with `src` written onto the diagonal that `diagonal()` would view."""
    d1, d2 = _diag_dims(input, dim1, dim2)
    want = np.diagonal(np.broadcast_to(np.empty((), np.int8), input._data.shape), offset,
                       d1, d2).shape
    if tuple(src._data.shape) != want:
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = "
                           f"{list(src.shape)}, slice size = {list(want)}")
    return apply(DiagonalScatter, input, src, offset=operator.index(offset), dim1=d1, dim2=d2)


def _scatter_into_copy(input, src, view, op: str):
    """A copy of `input` with `src` written into the part `view(copy)` selects (its shape
    must be src's); gradients flow through the copy and the in-place write."""
    out = input.clone()
    part = view(out)
    if tuple(part.shape) != tuple(src.shape):
        raise RuntimeError(f"{op}: expected src to have a size equal to the slice of self. "
                           f"src size = {list(src.shape)}, slice size = {list(part.shape)}")
    part.copy_(src)
    return out


@composite(samples=(
    Sample(lambda t, x, s: t.select_scatter(x, s, 0, 1), (Arg((3, 4)), Arg((4,))), dtypes=ALL),
    Sample(lambda t, x, s: x.select_scatter(s, -1, -2), (Arg((2, 3, 4)), Arg((2, 3))),
           name="negative")))
@tensor_method()
def select_scatter(input, src, dim: int, index: int) -> Tensor:
    """A copy of `input` with `src` written where `select(dim, index)` would view."""
    return _scatter_into_copy(input, src, lambda out: out.select(dim, index),
                              "select_scatter")


@composite(samples=(
    Sample(lambda t, x, s: t.slice_scatter(x, s, 1, 1, 4, 2), (Arg((3, 5)), Arg((3, 2))),
           dtypes=ALL),
    Sample(lambda t, x, s: x.slice_scatter(s, start=2), (Arg((4, 2)), Arg((2, 2))),
           name="start"),
    Sample(lambda t, x, s: x.slice_scatter(s), (Arg((2, 3)), Arg((2, 3))), name="all")))
@tensor_method()
def slice_scatter(input, src, dim: int = 0, start=None, end=None, step: int = 1) -> Tensor:
    """A copy of `input` with `src` written over input[start:end:step] along `dim`."""
    d = _dim(dim, input._data.ndim, "slice_scatter")
    key = (slice(None),) * d + (slice(start, end, step),)
    return _scatter_into_copy(input, src, lambda out: out[key], "slice_scatter")


@composite(samples=(
    Sample(lambda t, x: t.split_with_sizes(x, [1, 3, 1], 1), (Arg((2, 5)),), dtypes=ALL),))
@tensor_method()
def split_with_sizes(input, split_sizes, dim: int = 0) -> tuple:
    """Pieces of the given sizes along `dim`, which must add up to its size."""
    n = input._data.shape[_dim(dim, input._data.ndim, "split_with_sizes")]
    sizes = [operator.index(s) for s in split_sizes]
    if builtins.sum(sizes) != n:
        raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input "
                           f"tensor's size at dimension {dim}), but got split_sizes={sizes}")
    return split(input, sizes, dim)


@composite(samples=(
    Sample(lambda t, x: t.narrow_copy(x, 1, 1, 2), (Arg((2, 4)),), dtypes=ALL),))
@tensor_method()
def narrow_copy(input, dim: int, start: int, length: int) -> Tensor:
    """narrow(dim, start, length) as a new tensor, not a view."""
    return narrow(input, dim, start, length).clone(memory_format=contiguous_format)


@composite(samples=(
    Sample(lambda t, x: t.adjoint(x), (Arg((2, 3, 4)),)),))
@tensor_method()
def adjoint(input) -> Tensor:
    """The conjugate transpose of the last two dimensions, as a view."""
    if input._data.ndim < 2:
        raise RuntimeError("tensor.adjoint() is only supported on matrices or batches of "
                           f"matrices. Got {input._data.ndim}-D tensor.")
    return input.transpose(-2, -1).conj()


def _fill_diagonal_(self, fill_value, wrap: bool = False) -> Tensor:
    """Write fill_value onto the main diagonal in place: (i, i, ..., i) of a tensor whose
    dimensions all match (a 2-D one may be tall: with wrap, the diagonal restarts every
    columns + 1 rows)."""
    shape = self._data.shape
    if len(shape) < 2:
        raise RuntimeError("dimensions must larger than 1")
    if len(shape) > 2 and len(set(shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    rows, cols = shape[0], shape[1]
    if len(shape) == 2:
        stop = rows * cols if wrap and rows > cols + 1 else builtins.min(rows, cols) * cols
        flat = np.arange(0, builtins.max(stop, 0), cols + 1)
        key = (np.asarray(flat // cols), np.asarray(flat % cols))
    else:
        key = (np.arange(rows),) * len(shape)
    self[tuple(Tensor._wrap(k, D.int64, self._device) for k in key)] = fill_value
    return self


Tensor.fill_diagonal_ = _fill_diagonal_


@composite(samples=(
    Sample(lambda t, x: t.diag_embed(x), (Arg((2, 3)),), dtypes=ALL),
    Sample(lambda t, x: x.diag_embed(1, 0, 2), (Arg((2, 3)),), name="dims"),
    Sample(lambda t, x: x.diag_embed(-1, 2, 0), (Arg((2, 3)),), name="swapped")))
@tensor_method()
def diag_embed(input, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Tensors whose (dim1, dim2) planes have the last dimension of `input` on a diagonal."""
    nd = input._data.ndim + 1
    d1, d2 = _diag_dims(input, dim1, dim2, nd)
    offset = operator.index(offset)
    shape = list(input._data.shape[:-1])
    n = input._data.shape[-1] + abs(offset)
    for d in sorted((d1, d2)):
        shape.insert(d, n)
    return apply(DiagonalScatter, _zeros(shape, input), input, offset=offset, dim1=d1, dim2=d2)


@composite(samples=(
    Sample(lambda t, x: t.diag(x), (Arg((3,)),), dtypes=ALL),
    Sample(lambda t, x: x.diag(-1), (Arg((3,)),), name="offset"),
    Sample(lambda t, x: t.diag(x, 1), (Arg((3, 4)),), dtypes=ALL, name="2d")))
@tensor_method()
def diag(input, diagonal: int = 0, *, out=None) -> Tensor:
    """A 1-d tensor as the diagonal of a new matrix, or a copy of a matrix's diagonal."""
    nd = input._data.ndim
    if nd == 1:
        return write_out(diag_embed(input, diagonal, 0, 1), out)
    if nd == 2:
        d = apply(Diagonal, input, offset=operator.index(diagonal), dim1=0, dim2=1)
        return write_out(apply(Clone, d, layout="contiguous"), out)
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {nd}D")


@composite(samples=(
    Sample(lambda t, x: t.diagflat(x), (Arg((2, 2)),), dtypes=ALL),
    Sample(lambda t, x: x.diagflat(-2), (Arg((3,)),), name="offset")))
@tensor_method()
def diagflat(input, offset: int = 0) -> Tensor:
    """A matrix with the flattened `input` on its `offset` diagonal."""
    return diag_embed(reshape(input, -1), offset, 0, 1)


@composite(samples=(
    Sample(lambda t, x: t.trace(x), (Arg((3, 4)),), dtypes=FLOATS + INTS),))
@tensor_method()
def trace(input) -> Tensor:
    """The sum of a matrix's main diagonal."""
    if input._data.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim "
                           f"{input._data.ndim}")
    if input._dtype is D.bool:
        raise NotImplementedError("\"trace\" not implemented for 'Bool'")
    return diagonal(input).sum()


# ---- repeat / tile / repeat_interleave -------------------------------------------------------
@register("repeat", promote=None, samples=(
    Sample(lambda t, x: x.repeat(2, 3), (Arg((2, 3)),), dtypes=ALL),
    Sample(lambda t, x: x.repeat((2, 1, 2)), (Arg((2, 3)),), name="newdims"),
    Sample(lambda t, x: x.repeat(1, 1), (Arg((2, 3)),), name="ones"),
    Sample(lambda t, x: x.repeat(0, 2), (Arg((2, 3)),), name="zero", **_EMPTY_OUT)))
class Repeat(OpDef):
    def forward(ctx, xp, x, repeats):
        ctx.shape, ctx.repeats = x.shape, repeats
        return xp.tile(x, repeats)

    def backward(ctx, g):
        reps = ctx.repeats
        shape = (1,) * (len(reps) - len(ctx.shape)) + ctx.shape
        if not reps:
            return g
        split = [n for pair in zip(reps, shape) for n in pair]
        return g.reshape(split).sum(tuple(range(0, 2 * len(reps), 2))).reshape(ctx.shape)


@tensor_method()
def repeat(self, *sizes, repeats=None) -> Tensor:
    """A copy tiled `sizes[i]` times along each dimension (new leading dimensions allowed)."""
    reps = _sizes(sizes, repeats)
    shape = self._data.shape
    if len(reps) < len(shape):
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number "
                           "of dimensions of tensor")
    if any(r < 0 for r in reps):
        lead = (1,) * (len(reps) - len(shape)) + shape
        raise RuntimeError(f"Trying to create tensor with negative dimension "
                           f"{min(r * s for r, s in zip(reps, lead))}: "
                           f"{[r * s for r, s in zip(reps, lead)]}")
    return apply(Repeat, self, repeats=reps)


@composite(samples=(
    Sample(lambda t, x: t.tile(x, (2,)), (Arg((2, 3)),), dtypes=ALL),
    Sample(lambda t, x: x.tile(2, 1, 1), (Arg((2, 3)),), name="more")))
@tensor_method()
def tile(input, *dims_args, dims=None) -> Tensor:
    """Like repeat, but missing leading repeat counts are taken as 1."""
    if not dims_args and dims is None:
        raise TypeError('tile() missing 1 required positional arguments: "dims"')
    reps = _sizes(dims_args, dims)
    nd = input._data.ndim
    return repeat(input, (1,) * (nd - len(reps)) + reps)


@composite(samples=(
    Sample(lambda t, x: t.repeat_interleave(x, 2), (Arg((2, 3)),), dtypes=ALL),
    Sample(lambda t, x: x.repeat_interleave(3, dim=1), (Arg((2, 3)),), name="dim"),
    Sample(lambda t, x: x.repeat_interleave(1, dim=0), (Arg((2, 3)),), name="once"),
    Sample(lambda t, x, r: x.repeat_interleave(r, dim=0, output_size=5),
           (Arg((3, 2)), Arg(values=[2, 0, 3], dtype="int64")), name="tensor"),
    Sample(lambda t, r: t.repeat_interleave(r), (Arg(values=[1, 2, 0, 1], dtype="int64"),),
           dtypes=("int64",), grad=False, name="arange")))
@tensor_method()
def repeat_interleave(input, repeats=None, dim=None, *, output_size=None) -> Tensor:
    """Repeat each element (`repeats` an int or one count per element) along `dim`; the input
    is flattened when `dim` is None.

    >>> import ember
    >>> ember.tensor([1, 2]).repeat_interleave(ember.tensor([1, 3]))
    tensor([1, 2, 2, 2])
    """
    if repeats is None:
        counts = _repeat_counts(input)
        host = np.repeat(np.arange(counts.size), counts)
        return Tensor._wrap(namespace(input._device).asarray(host), D.int64, input._device)
    x = reshape(input, -1) if dim is None or input._data.ndim == 0 else input
    dim = 0 if dim is None else _dim(dim, x._data.ndim)
    n = x._data.shape[dim]
    if isinstance(repeats, Tensor) and repeats._data.size != 1:
        counts = _repeat_counts(repeats)
        if counts.size != n:
            raise RuntimeError(f"repeats must have the same size as input along dim, but got "
                               f"repeats.size(0) = {counts.size} and input.size({dim}) = {n}")
        index = np.repeat(np.arange(n), counts)
        if output_size is not None and output_size != index.size:
            raise RuntimeError(f"repeat_interleave: Invalid output_size, expected "
                               f"{index.size} but got {output_size}")
        xp = namespace(x._device)
        return apply(Getitem, x, key=_along(dim, xp.asarray(index)))
    if isinstance(repeats, Tensor):
        _repeat_counts(repeats)
    r = operator.index(repeats.item() if isinstance(repeats, Tensor) else repeats)
    if r < 0:
        raise RuntimeError("Repeats must be non-negative")
    if output_size is not None and output_size != n * r:
        raise RuntimeError(f"repeat_interleave: Invalid output_size, expected {n * r} but got "
                           f"{output_size}")
    shape = x._data.shape
    spread = expand(unsqueeze(x, dim + 1), shape[:dim + 1] + (r,) + shape[dim + 1:])
    out = reshape(spread, shape[:dim] + (n * r,) + shape[dim + 1:])
    return apply(Clone, out, layout="contiguous") if r == 1 else out


def _repeat_counts(repeats: Tensor) -> np.ndarray:
    """Host copy of a repeats tensor, checked the way torch checks it."""
    if repeats._dtype.category != D._INT:
        raise NotImplementedError(f"\"repeat_interleave_cpu\" not implemented for "
                                  f"'{_SCALAR_NAMES[repeats._dtype]}'")
    if repeats._data.ndim > 1:
        raise RuntimeError("repeats must be 0-dim or 1-dim tensor")
    counts = repeats.numpy(force=True).reshape(-1)
    if (counts < 0).any():
        raise RuntimeError("repeats can not be negative")
    return counts


# ---- meshgrid / cartesian_prod / block_diag --------------------------------------------------
@composite(samples=(
    Sample(lambda t, x, y: t.meshgrid(x, y, indexing="ij"), (Arg((2,)), Arg((3,))), dtypes=ALL),
    Sample(lambda t, x, y, z: t.meshgrid([x, y, z], indexing="xy"),
           (Arg((2,)), Arg((3,)), Arg(())), name="xy")))
def meshgrid(*tensors, indexing: str | None = None) -> tuple:
    """Coordinate grids (expanded views) from 0-d/1-d tensors; indexing 'ij' (the default,
    with torch's warning when not given) or 'xy' (first two dimensions swapped)."""
    if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)):
        tensors = tuple(tensors[0])
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    if indexing is None:
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the "
                      "indexing argument.", UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f'torch.meshgrid: indexing must be one of "xy" or "ij", but '
                           f'received: {indexing}')
    for t in tensors:
        if t._dtype is not tensors[0]._dtype:
            raise RuntimeError("meshgrid expects all tensors to have the same dtype")
        if t._data.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list "
                               f"but got: {list(t.shape)}")
    n = len(tensors)
    axes = list(range(n))
    if indexing == "xy" and n >= 2:
        axes[0], axes[1] = 1, 0
    shape = [0] * n
    for t, a in zip(tensors, axes):
        shape[a] = t._data.size
    grids = []
    for t, a in zip(tensors, axes):
        view_shape = [1] * n
        view_shape[a] = t._data.size
        grids.append(expand(reshape(t, view_shape), shape))
    return tuple(grids)


@composite(samples=(
    Sample(lambda t, x, y: t.cartesian_prod(x, y), (Arg((2,)), Arg((3,))), dtypes=ALL),
    Sample(lambda t, x: t.cartesian_prod(x), (Arg((3,)),), name="single")))
def cartesian_prod(*tensors) -> Tensor:
    """All combinations of the elements of 1-d tensors, one per row."""
    for t in tensors:
        if t._data.ndim != 1:
            raise RuntimeError(f"Expect a 1D vector, but got shape {list(t.shape)}")
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return stack([reshape(g, -1) for g in grids], dim=1)


@composite(samples=(
    Sample(lambda t, x, y, z: t.block_diag(x, y, z), (Arg((2, 3)), Arg((2,)), Arg(())),
           dtypes=ALL),
    Sample(lambda t, x, y: t.block_diag(x, y), (Arg((2, 2)), Arg((1, 2), dtype="float64")),
           dtypes=("float32",), name="promote")))
def block_diag(*tensors) -> Tensor:
    """A block-diagonal matrix of the inputs (0-d and 1-d tensors count as one row)."""
    mats = []
    for i, t in enumerate(tensors):
        nd = t._data.ndim
        if nd > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer "
                               f"dimensions. Input {i} has {nd} dimensions")
        mats.append(reshape(t, 1, -1) if nd < 2 else t)
    if not mats:
        return Tensor._zeros((1, 0), D.get_default_dtype(), CPU)
    dt = result_type(*tensors)
    ncols = sum(m._data.shape[1] for m in mats)
    rows, col = [], 0
    for m in mats:
        r, c = m._data.shape
        m = m.to(dt)
        rows.append(cat([_zeros((r, col), m), m, _zeros((r, ncols - col - c), m)], 1))
        col += c
    return cat(rows, 0)


# ---- indexing ----------------------------------------------------------------------------------
_INDEX_TYPES = ("only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables "
                "are valid indices (got {})")


def _sequence_as_tuple(seq) -> bool:
    """torch (like NumPy before 1.23) reads a short list holding tensors, sequences, slices,
    None or Ellipsis as a tuple of indices."""
    if len(seq) >= 32:
        return False
    return any(isinstance(v, (Tensor, list, tuple, slice, np.ndarray)) or v is None
               or v is Ellipsis for v in seq)


def _convert_key(key, xp) -> tuple:
    """Normalize a Python/torch index: ints, slices with positive steps, None, index arrays
    (integer or bool) and exactly one Ellipsis (appended when absent, so that a full integer
    index still gives a 0-d array view rather than a NumPy scalar)."""
    if isinstance(key, list) and _sequence_as_tuple(key):
        warnings.warn("Using a non-tuple sequence for multidimensional indexing is deprecated; "
                      "use x[tuple(seq)] instead of x[seq].", UserWarning, stacklevel=3)
        key = tuple(key)
    elif not isinstance(key, tuple):
        key = (key,)
    out = [_convert_index(k, xp) for k in key]
    ellipses = sum(k is Ellipsis for k in out)
    if ellipses > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if not ellipses:
        out.append(Ellipsis)
    return tuple(out)


def _slice_int(v):
    if v is None:
        return None
    try:
        return operator.index(v)
    except TypeError:
        raise TypeError("slice indices must be integers or None or have an __index__ "
                        "method") from None


def _convert_index(k, xp):
    if isinstance(k, Tensor):
        dt = k._dtype
        if dt is D.uint8:
            warnings.warn("indexing with dtype torch.uint8 is now deprecated, please use a "
                          "dtype torch.bool instead.", UserWarning, stacklevel=5)
            return xp.asarray(k._data).astype(np.bool_)
        if dt is D.bool:
            return xp.asarray(k._data)
        if dt.category != D._INT or dt in D.SHELL_UNSIGNED and k._data.ndim:
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        # torch treats a 0-d integer tensor like a Python int: the result is a view. While a
        # graph is recorded it stays an array (an index of the same meaning), so the graph
        # reads the tensor each run instead of baking this run's number in.
        if k._data.ndim == 0 and not dispatch.observers:
            return int(k._data)
        return xp.asarray(k._data)
    if k is None or k is Ellipsis:
        return k
    if isinstance(k, (bool, np.bool_)):
        return xp.asarray(bool(k))
    if isinstance(k, slice):
        step = _slice_int(k.step)
        if step is not None and step <= 0:
            raise ValueError("step must be greater than zero" if step else
                             "slice step cannot be zero")
        return slice(_slice_int(k.start), _slice_int(k.stop), step)
    if isinstance(k, (list, tuple, np.ndarray)):
        arr = np.asarray(k)
        if arr.dtype.kind == "b":
            return xp.asarray(arr)
        if arr.dtype.kind in "iu":
            return int(arr) if arr.ndim == 0 else xp.asarray(arr, dtype=np.int64)
        if arr.dtype.kind == "f" and not isinstance(k, np.ndarray):
            return xp.asarray(arr.astype(np.int64))
        raise IndexError(_INDEX_TYPES.format(type(k).__name__))
    try:
        return operator.index(k)
    except TypeError:
        raise IndexError(_INDEX_TYPES.format(type(k).__name__)) from None


def _is_array(k) -> bool:
    return not isinstance(k, (int, slice)) and k is not None and k is not Ellipsis


def _split_key(key):
    """(basic, advanced) parts of a normalized key. torch applies ints, slices and None first
    (a view) and the index arrays to what is left, whereas NumPy would count the ints among the
    advanced indices when arrays are present (x[0, :, [1, 2]] differs), hence two steps."""
    if not any(_is_array(k) for k in key):
        return key, None
    basic, adv = [], []
    for k in key:
        if k is None or isinstance(k, slice):
            basic.append(k)
            adv.append(_EVERY)
        elif k is Ellipsis:
            basic.append(k)
            adv.append(k)
        elif isinstance(k, int):
            basic.append(k)
        else:
            if k.ndim or k.dtype.kind != "b":
                basic.extend([_EVERY] * (k.ndim if k.dtype.kind == "b" else 1))
            adv.append(k)
    return tuple(basic), tuple(adv)


def _check_key(shape, key, xp):
    """Raise torch's IndexError for an index that does not fit `shape` (before NumPy does)."""
    nd = len(shape)
    used = 0
    for k in key:
        if isinstance(k, (int, slice)):
            used += 1
        elif _is_array(k):
            used += k.ndim if k.dtype.kind == "b" else 1
    if used > nd:
        if nd == 0 and any(isinstance(k, int) for k in key):
            raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                             "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
        raise IndexError(f"too many indices for tensor of dimension {nd}")
    dim = 0
    arrays = []  # broadcast shapes of the index arrays (a k-d mask counts as k of them)
    for k in key:
        if k is None:
            continue
        if k is Ellipsis:
            dim += nd - used
        elif isinstance(k, slice):
            dim += 1
        elif isinstance(k, int):
            if not -shape[dim] <= k < shape[dim]:
                raise IndexError(f"index {k} is out of bounds for dimension {dim} with size "
                                 f"{shape[dim]}")
            dim += 1
        elif k.dtype.kind == "b":
            for i, m in enumerate(k.shape):
                if m != shape[dim + i]:
                    raise IndexError(f"The shape of the mask {list(k.shape)} at index {i} does "
                                     f"not match the shape of the indexed tensor {list(shape)} "
                                     f"at index {dim + i}")
            if k.ndim:
                arrays.extend([(int(xp.count_nonzero(k)),)] * k.ndim)
            dim += k.ndim
        else:
            size = shape[dim]
            if k.size:
                bad = (k < -size) | (k >= size)
                if bad.any():
                    # torch numbers the dimension among the indexed ones, as its kernel sees it
                    raise IndexError(f"index {int(k[bad][0])} is out of bounds for dimension "
                                     f"{len(arrays)} with size {size}")
            arrays.append(tuple(k.shape))
            dim += 1
    if len(arrays) > 1:
        try:
            np.broadcast_shapes(*arrays)
        except ValueError:
            raise IndexError("shape mismatch: indexing tensors could not be broadcast together "
                             "with shapes " + ", ".join(str(list(s)) for s in arrays)) from None


def _getitem_node(args, attrs) -> str:
    """torch's node for an index: IndexBackward0 for advanced indexing, else the node of the
    last view it applies (select for an int, slice, unsqueeze for None; a lone `:` slices, a
    full `:` among others is skipped), or AliasBackward0 when it applies none."""
    parts = [k for k in attrs["key"] if k is not Ellipsis]
    node = "AliasBackward0"
    for k in parts:
        if k is None:
            node = "UnsqueezeBackward0"
        elif isinstance(k, slice):
            if len(parts) == 1 or k != _EVERY:
                node = "SliceBackward0"
        elif getattr(k, "ndim", 0) or getattr(k, "dtype", None) == np.bool_:
            return "IndexBackward0"
        else:
            node = "SelectBackward0"
    return node


def _masks_in_key(args, attrs) -> list:
    """The bool masks of an index: their counts of True size the result."""
    return [k for k in attrs["key"] if _is_array(k) and k.dtype.kind == "b"]


@register("getitem", promote=None, is_view="maybe", torch_node=_getitem_node,
          sized_by_values=_masks_in_key, samples=(
    Sample(lambda t, x: x[1], (Arg((3, 4)),), dtypes=ALL),
    Sample(lambda t, x: x[:, 1:3], (Arg((3, 4)),), name="slice"),
    Sample(lambda t, x: x[-1, ..., -3:], (Arg((3, 4)),), name="negative"),
    Sample(lambda t, x: x[1, 2], (Arg((3, 4)),), dtypes=ALL, name="scalar"),
    Sample(lambda t, x: x[..., None, ::2], (Arg((2, 3, 4)),), name="ellipsis"),
    Sample(lambda t, x: x[None, 1:3, None], (Arg((3, 4)),), name="none"),
    Sample(lambda t, x: x[t.tensor([0, 2, 0])], (Arg((3, 4)),), dtypes=ALL, name="int_tensor"),
    Sample(lambda t, x, i: x[i, 1:], (Arg((3, 4)), Arg(values=2, dtype="int64")),
           name="0d_index"),
    Sample(lambda t, x: x[x > 0], (Arg((3, 4)),), name="mask"),
    Sample(lambda t, x: x[x[:, 0] > 0, 1:], (Arg((3, 4)),), name="row_mask"),
    Sample(lambda t, x: x[t.tensor(True)], (Arg((3, 4)),), name="bool_scalar"),
    Sample(lambda t, x: x[[0, 1], [1, 2]], (Arg((3, 4)),), name="lists"),
    Sample(lambda t, x: x[[]], (Arg((3, 4)),), name="empty_list", **_EMPTY_OUT),
    Sample(lambda t, x: x[0, :, [1, 2]], (Arg((2, 3, 4)),), name="int_then_array"),
    Sample(lambda t, x: x[[0, 1], 1:, 0], (Arg((2, 3, 4)),), name="separated"),
    Sample(lambda t, x: x[:, [0, 2], [[1], [3]]], (Arg((2, 3, 4)),), name="adjacent_broadcast"),
    Sample(lambda t, x: x[..., [0, -1], None], (Arg((2, 3, 4)),), name="array_none")))
class Getitem(OpDef):
    def forward(ctx, xp, x, key):
        ctx.key, ctx.shape = key, x.shape
        basic, adv = _split_key(key)
        out = x[basic]
        if adv is None:
            return out
        out = out[adv]
        return out if out.flags.c_contiguous else out.copy()

    def backward(ctx, g):
        return apply(IndexPut, _zeros(ctx.shape, g), g, key=ctx.key, accumulate=True)


@register("index_put", promote=None, samples=(
    Sample(lambda t, x, v: x.index_put((t.tensor([0, 2]),), v), (Arg((3, 4)), Arg((4,)))),
    Sample(lambda t, x, v: x.index_put((t.tensor([0, 0]),), v, accumulate=True),
           (Arg((3, 4)), Arg((2, 4))), name="accumulate"),
    Sample(lambda t, x, v: t.index_put(x, (t.tensor([1, 2]), t.tensor([0, 3])), v),
           (Arg((3, 4)), Arg(())), name="pairs"),
    Sample(lambda t, x, v: x.index_put((x > 0,), v, accumulate=True), (Arg((3, 4)), Arg(())),
           name="mask_accumulate")))
class IndexPut(OpDef):
    def forward(ctx, xp, x, v, key, accumulate=False):
        ctx.key, ctx.accumulate = key, accumulate
        ctx.vshape = getattr(v, "shape", ())
        out = x.copy()
        _index_put_into(xp, out, key, v, accumulate)
        return out

    def forward_inplace(xp, x, v, key, accumulate=False):
        _index_put_into(xp, x, key, v, accumulate)

    def backward(ctx, g):
        need = ctx.needs_input_grad
        gx = gv = None
        if need[0]:
            gx = g if ctx.accumulate else apply(IndexPut, g, 0, key=ctx.key)
        if need[1]:
            gv = apply(Getitem, g, key=ctx.key)
            lead = len(ctx.vshape) - gv._data.ndim
            if lead > 0:
                gv = gv.reshape((1,) * lead + tuple(gv.shape))
        return gx, gv


def _index_put_into(xp, out, key, v, accumulate):
    """out[key] = v (or += v, with repeated indices adding up), v cast to out's dtype (apply_
    has refused a read-only `out`)."""
    if not hasattr(v, "dtype"):
        v = xp.asarray(v)
    if v.dtype != out.dtype:
        v = v.astype(out.dtype)
    basic, adv = _split_key(key)
    dest = out[basic]
    try:
        if adv is None and accumulate:
            dest += v
        elif adv is None:
            dest[...] = v
        elif accumulate:
            _add_at(xp, dest, adv, v)
        else:
            dest[adv] = v
    except ValueError:
        target = dest.shape if adv is None else dest[adv].shape
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(v.shape)} cannot be "
                           f"broadcast to indexing result of shape {list(target)}") from None


def _add_at(xp, dest, adv, v):
    """dest[adv] += v where repeated positions all add up (NumPy's add.at; scatter on GPU)."""
    if xp is np:
        np.add.at(dest, adv, v)
        return
    from .._backend.kernels import reduce_at
    pos = xp.arange(dest.size).reshape(dest.shape)[adv]
    flat = xp.ascontiguousarray(dest).reshape(-1)
    reduce_at(flat, pos.reshape(-1), xp.ascontiguousarray(xp.broadcast_to(v, pos.shape))
              .reshape(-1))
    if not dest.flags.c_contiguous:
        dest[...] = flat.reshape(dest.shape)

def _getitem(self, key):
    xp = namespace(self._device)
    key = _convert_key(key, xp)
    _check_key(self._data.shape, key, xp)
    return apply(Getitem, self, key=key)


def _set_rows(t, x, v):
    y = x.clone()
    y[1:, 0] = v
    return y


def _set_broadcast(t, x, v):
    y = x.clone()
    y[:, 1:3] = v
    return y


def _set_scalar(t, x):
    y = x.clone()
    y[0, -1] = 2.5
    y[-1] = True
    return y


def _set_advanced(t, x, v):
    y = x.clone()
    y[[0, 2], 1:] = v
    return y


def _set_mask(t, x):
    y = x.clone()
    y[y > 0] = 0.5
    return y


def _set_lead_ones(t, x, v):
    y = x * 1
    y[1] = v
    return y


def _set_into_view(t, x, v):
    y = x * 1
    y.t()[1:, 0] = v
    return y


@composite(name="setitem", samples=(
    Sample(_set_rows, (Arg((3, 4)), Arg((2,))), dtypes=ALL),
    Sample(_set_broadcast, (Arg((3, 4)), Arg((1, 2))), name="broadcast"),
    Sample(_set_scalar, (Arg((3, 4)),), dtypes=ALL, name="scalar"),
    Sample(_set_advanced, (Arg((3, 4)), Arg((2, 3))), name="advanced"),
    Sample(_set_mask, (Arg((3, 4)),), dtypes=FLOATS + INTS, name="mask"),
    Sample(_set_rows, (Arg((3, 4)), Arg((2,), dtype="float64")), dtypes=("float32",) + INTS,
           name="cast"),
    Sample(_set_rows, (Arg((3, 4)), Arg((2,), dtype="int64")), dtypes=FLOATS, name="int_value"),
    Sample(_set_lead_ones, (Arg((3, 4)), Arg((1, 1, 4))), name="lead_ones"),
    Sample(_set_into_view, (Arg((3, 4)), Arg((3,))), name="view")))
def _setitem(self, key, value):
    xp = namespace(self._device)
    key = _convert_key(key, xp)
    _check_key(self._data.shape, key, xp)
    if not isinstance(value, (Tensor, int, float, bool, complex, np.number, np.bool_)):
        kind = type(value)
        name = kind.__name__ if kind.__module__ == "builtins" else \
            f"{kind.__module__}.{kind.__name__}"
        raise TypeError(f"can't assign a {name} to a {self.type()}")
    if isinstance(value, (complex, np.complexfloating)) and not self.is_complex():
        raise RuntimeError(f"value cannot be converted to type {self._dtype.name} without "
                           "overflow")
    apply_(IndexPut, self, value, key=key)


Tensor.__getitem__ = _getitem
Tensor.__setitem__ = _setitem


def _index_put_key(indices, xp) -> tuple:
    key = _convert_key(tuple(_EVERY if i is None else i for i in indices), xp)
    return key


@tensor_method()
def index_put(input, indices, values, accumulate: bool = False) -> Tensor:
    """Out-of-place `input[indices] = values` (or += with accumulate)."""
    xp = namespace(input._device)
    key = _index_put_key(indices, xp)
    _check_key(input._data.shape, key, xp)
    return apply(IndexPut, input, values, key=key, accumulate=accumulate)


@tensor_method()
def index_put_(input, indices, values, accumulate: bool = False) -> Tensor:
    """In-place `input[indices] = values` (or += with accumulate)."""
    xp = namespace(input._device)
    key = _index_put_key(indices, xp)
    _check_key(input._data.shape, key, xp)
    return apply_(IndexPut, input, values, key=key, accumulate=accumulate)


__all__ = ["memory_format", "contiguous_format", "preserve_format", "channels_last",
           "channels_last_3d", "reshape", "flatten", "unflatten", "ravel", "clone", "broadcast_to",
           "broadcast_shapes", "broadcast_tensors", "permute", "transpose", "swapaxes",
           "swapdims", "t", "movedim", "moveaxis", "unsqueeze", "squeeze", "atleast_1d",
           "atleast_2d", "atleast_3d", "cat", "concat", "concatenate", "stack", "hstack",
           "vstack", "row_stack", "dstack", "column_stack", "split", "tensor_split", "chunk",
           "hsplit", "vsplit", "dsplit", "unbind", "narrow", "select", "flip", "fliplr",
           "flipud", "roll", "rot90", "tril", "triu", "diagonal", "diagonal_scatter", "diag",
           "diag_embed", "diagflat", "trace", "tile", "repeat_interleave", "meshgrid",
           "cartesian_prod", "block_diag", "index_put", "select_scatter", "slice_scatter",
           "split_with_sizes", "narrow_copy", "adjoint", "detach", "as_strided"]
swapaxes = swapdims = transpose
