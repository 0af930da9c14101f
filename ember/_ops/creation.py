"""Factories: tensor/as_tensor/from_numpy, zeros/ones/full/empty (+ _like, new_*), ranges, eye,
tril/triu indices; and `fill`, the op behind fill_/zero_ and the in-place random methods.

Factories make leaves, so they are plain functions rather than registry ops. Dtype inference,
range arithmetic and overflow checks follow PyTorch's documented behaviour.
"""
from __future__ import annotations

import builtins
import math
import operator
import warnings

import numpy as np

from .. import _dtype as D
from .._backend import move, namespace, to_numpy
from .._device import to_device
from .._tensor import _TYPE_NAMES, Size, Tensor
from ..testing.opinfo import FLOATS, INTS, Arg, Sample
from .dispatch import apply, apply_, write_out
from .registry import OpDef, register, tensor_method

_SEQUENCES = (list, tuple, builtins.range)
_PY_TYPES = {builtins.bool: D.bool, builtins.int: D.int64, builtins.float: D.float64,
             builtins.complex: D.complex128}


# ---- argument checking ---------------------------------------------------------------------
def _dtype_arg(dtype, op: str, default: D.dtype | None = None) -> D.dtype | None:
    """A factory's `dtype=`: an ember dtype or a Python type (bool/int/float/complex)."""
    if dtype is None:
        return default
    if isinstance(dtype, D.dtype):
        return dtype
    if isinstance(dtype, type) and dtype in _PY_TYPES:
        return _PY_TYPES[dtype]
    raise TypeError(f"{op}(): argument 'dtype' must be torch.dtype, not {type(dtype).__name__}")


def _int_arg(value, op: str, name: str) -> int:
    """An integer argument (Python int, NumPy integer or one-element integer tensor)."""
    if isinstance(value, builtins.bool) or not hasattr(value, "__index__"):
        raise TypeError(f"{op}(): argument '{name}' must be int, not {type(value).__name__}")
    return operator.index(value)


def _shape(size, op: str = "zeros") -> tuple:
    """A size given as ints, or as one tuple/list/Size of ints; negative sizes are errors."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    shape = []
    for s in size:
        if isinstance(s, builtins.bool) or not hasattr(s, "__index__"):
            raise TypeError(f"{op}(): argument 'size' must be tuple of ints, but found element "
                            f"of type {type(s).__name__}")
        shape.append(operator.index(s))
    for s in shape:
        if s < 0:
            raise RuntimeError(f"{op}(): Trying to create tensor with negative dimension {s}: "
                               f"{shape}")
    return tuple(shape)


def _size_args(args, size, op: str) -> tuple:
    """`zeros(2, 3)`, `zeros((2, 3))` and `zeros(size=(2, 3))` all name the same shape."""
    if size is not None:
        if args:
            raise TypeError(f"{op}() got the size both positionally and as size=")
        args = (size,)
    if not args:
        raise TypeError(f'{op}() missing 1 required positional arguments: "size"')
    return _shape(args, op)


def _sequence_size(size, op: str) -> tuple:
    """A size that must be a sequence (full, new_full, empty_strided)."""
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"{op}(): argument 'size' must be tuple of ints, not "
                        f"{type(size).__name__}")
    return _shape((size,), op)


def _fitted(value, dt: D.dtype, op: str):
    """`value` as a NumPy scalar of `dt`, with PyTorch's overflow rule: integers must fit the
    range (unsigned types also take negatives down to -max, which wrap), floats must fit
    finite ranges, and complex values need a zero imaginary part to become real."""
    if isinstance(value, np.generic):
        value = value.item()
    if not (isinstance(value, builtins.bool) or dt is D.bool or dt.category == D._COMPLEX):
        _check_range(value, dt, op)
        value = value.real if isinstance(value, builtins.complex) else value
    return np.array(value).astype(dt.np)[()]


def _check_range(value, dt: D.dtype, op: str) -> None:
    """Raise torch's overflow RuntimeError when a Python number does not fit `dt`."""
    if isinstance(value, builtins.complex):
        if value.imag != 0:
            raise RuntimeError(f"{op}(): value {value} cannot be converted to type {dt.name} "
                               "without overflow (it has an imaginary part)")
        value = value.real
    if dt.category == D._INT:
        info = np.iinfo(dt.np)
        if isinstance(value, builtins.int):
            low = info.min if dt.is_signed else -int(info.max)
            bad = value > info.max or value < low
        else:
            bad = not info.min <= value <= info.max
    elif isinstance(value, builtins.int):
        bad = builtins.abs(value) > D.finfo(dt.to_real()).max
    else:
        bad = math.isfinite(value) and builtins.abs(value) > D.finfo(dt.to_real()).max
    if bad:
        raise RuntimeError(f"{op}(): value {value} cannot be converted to type {dt.name} "
                           "without overflow")


def _check_out(out, dt: D.dtype | None, op: str) -> D.dtype | None:
    """The dtype a factory makes when given `out=`: out's own (an explicit dtype must agree)."""
    if out is None:
        return dt
    if not isinstance(out, Tensor):
        raise TypeError(f"{op}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if dt is not None and dt is not out._dtype:
        raise RuntimeError(f"{op}(): dtype {dt.name} does not match dtype of out parameter "
                           f"({out._dtype.name})")
    return out._dtype


def _leaf(data, dtype, device, requires_grad=False, out=None):
    """Wrap a host NumPy array as a new leaf on `device` (or copy it into `out`)."""
    if out is not None:
        return write_out(Tensor._wrap(move(data, out._device), dtype, out._device), out)
    dev = to_device(device)
    t = Tensor._wrap(move(data, dev), dtype, dev)
    if requires_grad:
        t.requires_grad_(True)
    return t


@register("full", promote=None, differentiable=False, changes_device=True, samples=(
    Sample(lambda t: t.zeros(2, 3), (), dtypes=("float32",), grad=False),
    Sample(lambda t: t.full((2, 1), 7, dtype=t.int32), (), dtypes=("float32",), grad=False,
           name="int"),
    Sample(lambda t, x: t.ones_like(x) + x, (Arg((3,)),), dtypes=FLOATS, grad=False,
           name="like")))
class Full(OpDef):
    """A new tensor of `size` holding `value`: zeros, ones, full, empty and their _like forms.
    Recorded as an op so compiled graphs can rebuild it at other sizes."""

    creates = True

    def forward(ctx, xp, size, value, dtype, device):
        xp = namespace(device)
        return xp.zeros(size, dtype=dtype.np) if value == 0 else \
            xp.full(size, value, dtype=dtype.np)


def _filled(shape, value, dt, device, requires_grad, out=None):
    """A new tensor of `shape` holding `value`, made directly on its device."""
    if out is not None:
        return write_out(_filled(shape, value, dt, out._device, False), out)
    t = apply(Full, size=tuple(shape), value=value, dtype=dt, device=to_device(device))
    if requires_grad:
        t.requires_grad_(True)
    return t


# ---- tensor(): dtype and shape inference ---------------------------------------------------
class _Inference:
    """Walks nested Python data the way torch.tensor does: the shape comes from the first
    element at each depth, every other element must match it, and the dtype is the promotion
    of every leaf's type (bool, int -> int64, float -> default float, NumPy scalars and
    one-element tensors keep their dtype)."""

    def __init__(self, data):
        self.shape = []
        self.dtypes = set()
        self.has_tensor = False
        probe = data
        while True:
            if isinstance(probe, np.ndarray):
                self.shape.extend(probe.shape)
                break
            if not isinstance(probe, _SEQUENCES):
                break
            self.shape.append(len(probe))
            if not len(probe):
                break
            probe = probe[0]
        self.ndim = len(self.shape)
        self._visit(data, 0)

    def dtype(self) -> D.dtype:
        result = None
        for d in self.dtypes:
            d = _natural_dtype(d)
            result = d if result is None else D.promote_types(result, d)
        return result if result is not None else D.get_default_dtype()

    def _visit(self, obj, depth):
        if depth == self.ndim:
            self._leaf(obj, depth)
        elif isinstance(obj, np.ndarray):
            if obj.shape != tuple(self.shape[depth:]):
                got = obj.shape[0] if obj.ndim else "a 0-d array"
                raise ValueError(f"expected sequence of length {self.shape[depth]} at dim "
                                 f"{depth} (got {got})")
            self.dtypes.add(D.from_numpy_dtype(obj.dtype))
        elif isinstance(obj, _SEQUENCES):
            if len(obj) != self.shape[depth]:
                raise ValueError(f"expected sequence of length {self.shape[depth]} at dim "
                                 f"{depth} (got {len(obj)})")
            if depth == self.ndim - 1:
                kinds = set(map(type, obj))
                if kinds <= _PY_TYPES.keys():
                    self.dtypes.update(kinds)
                    return
            for item in obj:
                self._visit(item, depth + 1)
        elif isinstance(obj, Tensor):
            if tuple(obj.shape) != tuple(self.shape[depth:]):
                raise ValueError(f"expected sequence of length {self.shape[depth]} at dim "
                                 f"{depth} (got a tensor of shape {list(obj.shape)})")
            self.has_tensor = True
            self.dtypes.add(obj._dtype)
        else:
            raise TypeError(f"tensor(): expected a sequence at dim {depth} (every element at "
                            f"one depth must be a list), got {type(obj).__name__}")

    def _leaf(self, obj, depth):
        kind = type(obj)
        if kind in _PY_TYPES:
            self.dtypes.add(kind)
        elif isinstance(obj, Tensor):
            if obj.numel() != 1:
                raise ValueError("only one element tensors can be converted to Python scalars "
                                 f"(got a tensor of shape {list(obj.shape)} inside the data)")
            self.has_tensor = True
            self.dtypes.add(obj._dtype)
        elif isinstance(obj, np.generic):
            self.dtypes.add(D.from_numpy_dtype(obj.dtype))
        elif isinstance(obj, (builtins.bool, builtins.int, builtins.float, builtins.complex)):
            self.dtypes.add(next(t for t in _PY_TYPES if isinstance(obj, t)))
        elif isinstance(obj, (str, bytes)):
            raise TypeError(f"new(): invalid data type '{kind.__name__}'")
        elif isinstance(obj, (_SEQUENCES, np.ndarray)):
            raise TypeError(f"tensor(): expected a number at dim {depth} but got a "
                            f"{kind.__name__} (the data is ragged)")
        else:
            raise RuntimeError(f"Could not infer dtype of {kind.__name__}")


def _natural_dtype(d) -> D.dtype:
    """A leaf kind (a Python type or an ember dtype) as the dtype torch infers for it."""
    if isinstance(d, D.dtype):
        return d
    if d is builtins.float:
        return D.get_default_dtype()
    if d is builtins.complex:
        return D.get_default_dtype().to_complex()
    return _PY_TYPES[d]


def _scalarize(obj, depth: int, ndim: int):
    """Nested data with tensors replaced by Python numbers (at the leaf depth) or lists."""
    if isinstance(obj, Tensor):
        return obj.item() if depth == ndim else obj.tolist()
    if isinstance(obj, _SEQUENCES):
        return [_scalarize(v, depth + 1, ndim) for v in obj]
    return obj


def _python_array(data, dt: D.dtype, op: str, inferred: D.dtype) -> np.ndarray:
    """Python data (whose leaves infer `inferred`) as an array of `dt`, with torch's checks for
    values an integer type cannot hold (floats are truncated toward zero; unsigned types wrap
    small negatives)."""
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            natural = np.array(data)
        except OverflowError:
            natural = np.array(data, dtype=object)
        if dt is D.uint64 and inferred.category == D._INT and natural.size:
            return _uint64_array(data, op)
        # NumPy holds ints past int64 as uint64, or as float64 beside others
        too_big = natural.dtype.kind == "O" or natural.dtype == np.uint64 or (
            natural.dtype.kind == "f" and inferred.category == D._INT)
        if too_big:
            if dt.category == D._INT:
                raise ValueError(f"{op}(): Overflow when unpacking long long (an integer does "
                                 "not fit in int64)")
            try:
                natural = np.array(data, dtype=np.float64 if dt.category < D._COMPLEX
                                   else np.complex128)
            except OverflowError:
                raise ValueError(f"{op}(): Overflow when converting an integer to "
                                 f"{dt.name}") from None
        if natural.dtype.kind == "c" and dt.category < D._COMPLEX:
            raise TypeError(f"{op}(): must be real number, not complex (data is complex but "
                            f"dtype is {dt.name})")
        if dt.category == D._INT and natural.size and natural.dtype.kind in "fi":
            info = np.iinfo(dt.np)
            low, high = natural.min(), natural.max()
            if natural.dtype.kind == "i":
                bad = high > info.max or low < (info.min if dt.is_signed else -int(info.max))
            else:
                bad = not (np.isfinite(natural).all() and info.min <= low and high <= info.max)
            if bad:
                raise RuntimeError(f"{op}(): value cannot be converted to type {dt.name} "
                                   "without overflow")
        return natural.astype(dt.np)


def _uint64_array(data, op: str) -> np.ndarray:
    """Python ints as uint64, which takes the whole range 0 .. 2**64 - 1 and, unlike the other
    integer types, refuses negatives (held as objects: NumPy makes floats of ints past int64
    beside smaller ones)."""
    natural = np.array(data, dtype=object)
    if int(natural.min()) < 0:
        raise OverflowError(f"{op}(): can't convert negative int to unsigned")
    if int(natural.max()) >= 2 ** 64:
        raise OverflowError(f"{op}(): int too big to convert")
    return natural.astype(np.uint64)


def _from_data(data, dt: D.dtype | None, op: str):
    """(host or device array, dtype, device or None) for tensor()'s `data`."""
    if isinstance(data, Tensor):
        target = dt or data._dtype
        return data._data.astype(target.np, copy=True), target, data._device
    if hasattr(data, "__cuda_array_interface__") and not isinstance(data, np.ndarray):
        data = to_numpy(data)
    if isinstance(data, np.ndarray):
        if data.dtype.kind in "OSUV":
            raise TypeError(f"{op}(): can't convert np.ndarray of type {data.dtype}. The only "
                            "supported types are: " + ", ".join(d.name for d in D.ALL_DTYPES))
        target = dt or D.from_numpy_dtype(data.dtype)
        return np.array(data, dtype=target.np), target, None
    info = _Inference(data)
    target = dt or info.dtype()
    if info.has_tensor:
        data = _scalarize(data, 0, info.ndim)
    return _python_array(data, target, op, info.dtype()), target, None


def tensor(data, *, dtype=None, device=None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """A new tensor that copies `data` (nested lists, scalars, arrays or tensors).

    The dtype is inferred like PyTorch: Python floats give the default float dtype, ints
    int64, bools bool; NumPy arrays and scalars and tensors keep theirs.

    >>> import ember
    >>> ember.tensor([[1, 2], [3, 4.5]])
    tensor([[1.0000, 2.0000],
            [3.0000, 4.5000]])
    """
    dt = _dtype_arg(dtype, "tensor")
    arr, dt, src_device = _from_data(data, dt, "tensor")
    dev = to_device(device) if device is not None else (src_device or to_device(None))
    t = Tensor._wrap(move(arr, dev), dt, dev)
    if requires_grad:
        t.requires_grad_(True)
    return t


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Convert without copying when `data` already is a tensor or array of the right kind."""
    dt = _dtype_arg(dtype, "as_tensor")
    if isinstance(data, Tensor):
        return data.to(dtype=dt, device=device) if (dt or device) else data
    if isinstance(data, np.ndarray) and data.dtype in D._BY_NP and (
            dt is None or dt.np == data.dtype) and to_device(device).type == "cpu":
        return from_numpy(data)
    return tensor(data, dtype=dt, device=device)


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=None) -> Tensor:
    """`obj` as a tensor, sharing its memory when it can (a tensor, or a NumPy array of a
    tensor dtype on the CPU, is returned or wrapped as it is); copy=True always copies and
    copy=False refuses to. A given requires_grad is set on the result, as torch does (on obj
    itself when that is the result).

    >>> import numpy as np, ember
    >>> a = np.zeros(2); t = ember.asarray(a); a[0] = 1; t
    tensor([1., 0.], dtype=torch.float64)
    """
    dt = _dtype_arg(dtype, "asarray")
    dev = None if device is None else to_device(device)
    if isinstance(obj, Tensor):
        same = (dt is None or dt is obj._dtype) and (dev is None or dev == obj._device)
        if copy is False and not same:
            raise ValueError(f"can't alias tensor with dtype '{obj._dtype.name}' into dtype "
                             f"'{dt.name if dt else obj._dtype.name}' on {dev or obj._device}.")
        out = obj if same and not copy else obj.detach().to(
            dtype=dt or obj._dtype, device=dev or obj._device, copy=True)
    elif isinstance(obj, np.ndarray) and obj.dtype in D._BY_NP and (
            dt is None or dt.np == obj.dtype) and (dev is None or dev.type == "cpu") and all(
            st >= 0 for st in obj.strides) and not copy:
        out = from_numpy(obj)
    elif copy is False:
        what = (f"an array of dtype {obj.dtype}" if isinstance(obj, np.ndarray)
                else "arbitrary sequence")
        raise ValueError(f"can't alias {what} into a tensor"
                         + (f" of dtype {dt.name}" if dt is not None else "") + ".")
    else:
        out = tensor(obj, dtype=dt, device=device)
    if requires_grad is not None and out._requires_grad != builtins.bool(requires_grad):
        out.requires_grad_(builtins.bool(requires_grad))
    return out


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor sharing memory with a NumPy array.

    >>> import numpy as np, ember
    >>> a = np.arange(3); t = ember.from_numpy(a); a[0] = 7; t
    tensor([7, 1, 2])
    """
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    if any(s < 0 for s in ndarray.strides):
        raise ValueError("At least one stride in the given numpy array is negative, and tensors "
                         "with negative strides are not currently supported. (You can probably "
                         "work around this by making a copy of your array with array.copy().)")
    return Tensor._wrap(ndarray, D.from_numpy_dtype(ndarray.dtype), to_device(None))


def _array_wrap(self, array, context=None, return_scalar=False) -> Tensor:
    """NumPy ufuncs applied to tensors give back a tensor (on the CPU), as with torch's:
    np.sin(t) is a Tensor sharing the result's memory; a bool result is uint8 there."""
    array = np.asarray(array)
    return from_numpy(array.astype(np.uint8) if array.dtype == np.bool_ else array)


Tensor.__array_wrap__ = _array_wrap


# ---- constant-filled tensors ----------------------------------------------------------------
def zeros(*args, size=None, out=None, dtype=None, layout=None, device=None,
          requires_grad: bool = False) -> Tensor:
    """A tensor of zeros; the size is given as ints or as one sequence.

    >>> import ember
    >>> ember.zeros(2, 3).shape == ember.zeros((2, 3)).shape
    True
    """
    dt = _check_out(out, _dtype_arg(dtype, "zeros"), "zeros") or D.get_default_dtype()
    return _filled(_size_args(args, size, "zeros"), 0, dt, device, requires_grad, out)


def ones(*args, size=None, out=None, dtype=None, layout=None, device=None,
         requires_grad: bool = False) -> Tensor:
    """A tensor of ones of the given size."""
    dt = _check_out(out, _dtype_arg(dtype, "ones"), "ones") or D.get_default_dtype()
    return _filled(_size_args(args, size, "ones"), 1, dt, device, requires_grad, out)


def empty(*args, size=None, out=None, dtype=None, layout=None, device=None,
          requires_grad: bool = False, pin_memory: bool = False, memory_format=None) -> Tensor:
    """An uninitialized tensor (zero-filled here: fresh zeroed pages cost no more)."""
    dt = _check_out(out, _dtype_arg(dtype, "empty"), "empty") or D.get_default_dtype()
    return _filled(_size_args(args, size, "empty"), 0, dt, device, requires_grad, out)


def empty_strided(size, stride, *, dtype=None, layout=None, device=None,
                  requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """An uninitialized (zeroed) tensor with the given size and element strides."""
    shape = _sequence_size(size, "empty_strided")
    if not isinstance(stride, (tuple, list)):
        raise TypeError("empty_strided(): argument 'stride' must be tuple of ints, not "
                        f"{type(stride).__name__}")
    strides = tuple(_int_arg(s, "empty_strided", "stride") for s in stride)
    if len(strides) != len(shape):
        raise RuntimeError(f"empty_strided(): dimensionality of sizes ({len(shape)}) must match "
                           f"dimensionality of strides ({len(strides)})")
    if any(s < 0 for s in strides):
        raise RuntimeError(f"empty_strided(): storage size calculation overflowed with sizes="
                           f"{list(shape)} and strides={list(strides)} (negative stride)")
    dt = _dtype_arg(dtype, "empty_strided", D.get_default_dtype())
    dev = to_device(device)
    xp = namespace(dev)
    storage = 0 if 0 in shape else 1 + builtins.sum((n - 1) * s for n, s in zip(shape, strides))
    buffer = xp.zeros(storage, dtype=dt.np)
    data = xp.lib.stride_tricks.as_strided(
        buffer, shape, tuple(s * dt.itemsize for s in strides)) if storage else \
        xp.zeros(shape, dtype=dt.np)
    t = Tensor._wrap(data, dt, dev)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _fill_dtype(value) -> D.dtype:
    """The dtype full() infers from its fill value (NumPy bools count as floats, like torch)."""
    if isinstance(value, builtins.bool):
        return D.bool
    if isinstance(value, (builtins.int, np.integer)):
        return D.int64
    if isinstance(value, (builtins.complex, np.complexfloating)):
        return D.get_default_dtype().to_complex()
    return D.get_default_dtype()


def _fill_value(value, op: str):
    """A fill value as a Python number (one-element tensors are unwrapped)."""
    if isinstance(value, Tensor):
        if value.ndim:
            raise TypeError(f"{op}(): argument 'fill_value' must be Number, not Tensor (got a "
                            f"{value.ndim}-d tensor; only 0-d tensors are numbers)")
        return value.item()
    if isinstance(value, np.generic):
        if not isinstance(value, (np.number, np.bool_)):
            raise TypeError(f"{op}(): argument 'fill_value' must be Number, not "
                            f"{type(value).__name__}")
        return value
    if not isinstance(value, (builtins.bool, builtins.int, builtins.float, builtins.complex)):
        raise TypeError(f"{op}(): argument 'fill_value' must be Number, not "
                        f"{type(value).__name__}")
    return value


def full(size, fill_value, *, out=None, dtype=None, layout=None, device=None,
         requires_grad: bool = False) -> Tensor:
    """A tensor filled with `fill_value`; its dtype follows the value when not given.

    >>> import ember
    >>> ember.full((2,), True).dtype, ember.full((2,), 3).dtype
    (torch.bool, torch.int64)
    """
    shape = _sequence_size(size, "full")
    value = _fill_value(fill_value, "full")
    dt = _check_out(out, _dtype_arg(dtype, "full"), "full") or _fill_dtype(value)
    return _filled(shape, _fitted(value, dt, "full"), dt, device, requires_grad, out)


def _like_args(input, dtype, device, op):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    return (_dtype_arg(dtype, op, input._dtype),
            to_device(device) if device is not None else input._device)


def zeros_like(input, *, dtype=None, layout=None, device=None, requires_grad=False,
               memory_format=None) -> Tensor:
    """Zeros with the shape (and by default dtype and device) of `input`."""
    dt, dev = _like_args(input, dtype, device, "zeros_like")
    return _filled(input._data.shape, 0, dt, dev, requires_grad)


def ones_like(input, *, dtype=None, layout=None, device=None, requires_grad=False,
              memory_format=None) -> Tensor:
    """Ones with the shape (and by default dtype and device) of `input`."""
    dt, dev = _like_args(input, dtype, device, "ones_like")
    return _filled(input._data.shape, 1, dt, dev, requires_grad)


def empty_like(input, *, dtype=None, layout=None, device=None, requires_grad=False,
               memory_format=None) -> Tensor:
    """An uninitialized tensor shaped like `input` (zero-filled)."""
    dt, dev = _like_args(input, dtype, device, "empty_like")
    return _filled(input._data.shape, 0, dt, dev, requires_grad)


def full_like(input, fill_value, *, dtype=None, layout=None, device=None, requires_grad=False,
              memory_format=None) -> Tensor:
    """`fill_value` everywhere, shaped like `input` (in input's dtype unless given)."""
    dt, dev = _like_args(input, dtype, device, "full_like")
    value = _fill_value(fill_value, "full_like")
    return _filled(input._data.shape, _fitted(value, dt, "full_like"), dt, dev, requires_grad)


def scalar_tensor(s, *, dtype=None, layout=None, device=None, requires_grad=False,
                  pin_memory=False) -> Tensor:
    """A 0-d tensor holding `s` (default float dtype whatever the type of `s`)."""
    dt = _dtype_arg(dtype, "scalar_tensor", D.get_default_dtype())
    value = _fill_value(s, "scalar_tensor")
    return _filled((), _fitted(value, dt, "scalar_tensor"), dt, device, requires_grad)


# ---- ranges ---------------------------------------------------------------------------------
def _number(value, op: str):
    """A range bound as a Python number (0-d tensors and NumPy scalars unwrapped)."""
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise RuntimeError(f"{op}(): expected a scalar bound, got a tensor of shape "
                               f"{list(value.shape)}")
        return value.item()
    if isinstance(value, np.generic):
        return value.item()
    if not isinstance(value, (builtins.int, builtins.float, builtins.complex)):
        raise TypeError(f"{op}(): expected a number, got {type(value).__name__}")
    return value


def _range_dtype(dt: D.dtype, op: str) -> None:
    if dt is D.bool or (dt.category == D._COMPLEX and op == "arange"):
        raise NotImplementedError(f'"{op}" not implemented for \'{dt.name}\'')


def arange(start=None, end=None, step=1, *, out=None, dtype=None, layout=None, device=None,
           requires_grad: bool = False) -> Tensor:
    """Values from start (inclusive) to end (exclusive) in steps of `step`.

    The length is ceil((end - start) / step), computed in double precision like PyTorch, so
    arange(0, 1, 0.1) has 10 elements.

    >>> import ember
    >>> ember.arange(0, 1, 0.25)
    tensor([0.0000, 0.2500, 0.5000, 0.7500])
    """
    if end is None:
        if start is None:
            raise TypeError("arange() missing 1 required argument: 'end'")
        start, end = 0, start
    elif start is None:
        start = 0
    start, end, step = (_number(v, "arange") for v in (start, end, step))
    for v in (start, end, step):
        if isinstance(v, builtins.complex):
            raise TypeError("arange(): complex bounds are not supported")
    if not (math.isfinite(start) and math.isfinite(end)):
        raise RuntimeError(f"arange(): unsupported range: {start} -> {end}")
    if step == 0:
        raise RuntimeError("arange(): step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(f"arange(): upper bound and lower bound inconsistent with step sign "
                           f"(start={start}, end={end}, step={step})")
    default = D.int64 if all(isinstance(v, builtins.int) for v in (start, end, step)) \
        else D.get_default_dtype()
    dt = _check_out(out, _dtype_arg(dtype, "arange"), "arange") or default
    _range_dtype(dt, "arange")
    if dt is D.int64 and builtins.int(step) == 0:
        raise ValueError(f"arange(): step must be nonzero (step {step} truncates to 0 for "
                         "int64)")
    t = apply(Arange, start=start, end=end, step=step, dtype=dt,
              device=to_device(out._device if out is not None else device))
    if out is not None:
        return write_out(t, out)
    if requires_grad:
        t.requires_grad_(True)
    return t


def range(start, end, step=1, *, out=None, dtype=None, layout=None, device=None,
          requires_grad: bool = False) -> Tensor:
    """Deprecated, as in torch: start, start + step, ... up to end inclusive, in the default
    float dtype unless `dtype` says otherwise. Use arange (end exclusive)."""
    warnings.warn("torch.range is deprecated and will be removed in a future release because "
                  "its behavior is inconsistent with Python's range builtin. Instead, use "
                  "torch.arange, which produces values in [start, end).", UserWarning,
                  stacklevel=2)
    start, end, step = (_number(v, "range") for v in (start, end, step))
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    n = math.floor((end - start) / step) + 1
    dt = _dtype_arg(dtype, "range") or D.get_default_dtype()
    # arange's exclusive end that gives exactly n values (integer ranges count in integers)
    stop = start + n * step if dt.category < D._FLOAT else start + (n - 0.5) * step
    return arange(start, stop, step, out=out, dtype=dt, device=device,
                  requires_grad=requires_grad)


# ---- legacy constructors: torch.FloatTensor(...) and Tensor.new(...) -------------------------
def _legacy_new(dtype: D.dtype, device, args: tuple, op: str) -> Tensor:
    """What torch's legacy constructors build from their positional arguments: nothing, an
    empty tensor; sizes (ints or one Size), a zero-filled tensor of them; a tensor of this
    dtype, an alias of it; anything else, a tensor of that data."""
    if not args:
        return empty(0, dtype=dtype, device=device)
    sizes = args[0] if len(args) == 1 and isinstance(args[0], Size) else args
    if all(isinstance(a, builtins.int) and not isinstance(a, builtins.bool) for a in sizes):
        return empty(*sizes, dtype=dtype, device=device)
    if len(args) == 1 and isinstance(args[0], Tensor):
        if args[0]._dtype is not dtype:
            raise TypeError(f"{op}: expected a {dtype.name} tensor, got {args[0]._dtype.name}")
        return args[0].view(args[0].shape)  # an alias, as torch's
    if len(args) == 1:
        return tensor(args[0], dtype=dtype, device=device)
    raise TypeError(f"{op}() takes sizes (ints), one tensor or one sequence of data, got "
                    f"{', '.join(type(a).__name__ for a in args)}")


class _LegacyTensorType(type):
    """torch.FloatTensor and its kin: calling one builds a CPU tensor of its dtype (see
    _legacy_new), isinstance asks whether a tensor has that dtype on the CPU, and
    Tensor.type(torch.LongTensor) converts to it."""

    def __call__(cls, *args, device=None):
        return _legacy_new(cls.dtype, device, args, f"torch.{cls.__name__}")

    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, Tensor) and obj._dtype is cls.dtype and obj._device.type == "cpu"

    def __repr__(cls) -> str:
        return f"<class 'torch.{cls.__name__}'>"


_LEGACY_TYPES = {name: _LegacyTensorType(name, (), {"dtype": dt, "__doc__": f"Legacy "
                                                     f"constructor of {dt.name} tensors."})
                 for dt, name in _TYPE_NAMES.items()}
globals().update(_LEGACY_TYPES)


def _new(self, *args, device=None) -> Tensor:
    """Tensor.new: torch's legacy constructor with this tensor's dtype (and device)."""
    return _legacy_new(self._dtype, device if device is not None else self._device, args,
                       "new")


Tensor.new = _new


# ---- signal windows ---------------------------------------------------------------------------
def _window(op: str, window_length: int, periodic: bool, shape, dtype, device, requires_grad):
    """A window of `window_length` points from shape(x), x = n / N' for n < window_length,
    N' = window_length when periodic (one period of a longer symmetric window), else one
    less; computed in double precision, then cast, as a float factory."""
    n = operator.index(window_length)
    if n < 0:
        raise RuntimeError(f"{op} requires non-negative window_length, got window_length={n}")
    dt = _dtype_arg(dtype, op) or D.get_default_dtype()
    if dt.category != D._FLOAT:
        raise RuntimeError(f"{op} expects floating point dtypes, got: {dt.name}")
    if n <= 1:
        values = np.ones(n)
    else:
        values = shape(np.arange(n) / (n if periodic else n - 1))
    t = tensor(values, dtype=dt, device=device)
    return t.requires_grad_(True) if requires_grad else t


def hann_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                requires_grad=False) -> Tensor:
    """0.5 - 0.5 cos(2 pi n / N'): the Hann window (see _window for N')."""
    return _window("hann_window", window_length, periodic,
                   lambda x: 0.5 - 0.5 * np.cos(2 * np.pi * x), dtype, device, requires_grad)


def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None,
                   layout=None, device=None, requires_grad=False) -> Tensor:
    """alpha - beta cos(2 pi n / N'): the Hamming window."""
    return _window("hamming_window", window_length, periodic,
                   lambda x: alpha - beta * np.cos(2 * np.pi * x), dtype, device,
                   requires_grad)


def blackman_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                    requires_grad=False) -> Tensor:
    """0.42 - 0.5 cos(2 pi n / N') + 0.08 cos(4 pi n / N'): the Blackman window."""
    return _window("blackman_window", window_length, periodic,
                   lambda x: 0.42 - 0.5 * np.cos(2 * np.pi * x) + 0.08 * np.cos(4 * np.pi * x),
                   dtype, device, requires_grad)


def bartlett_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                    requires_grad=False) -> Tensor:
    """1 - |2 n / N' - 1|: the Bartlett (triangular) window."""
    return _window("bartlett_window", window_length, periodic,
                   lambda x: 1 - np.abs(2 * x - 1), dtype, device, requires_grad)


def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, layout=None,
                  device=None, requires_grad=False) -> Tensor:
    """I0(beta sqrt(1 - (2 n / N' - 1)^2)) / I0(beta): the Kaiser window."""
    return _window("kaiser_window", window_length, periodic,
                   lambda x: np.i0(beta * np.sqrt(np.clip(1 - (2 * x - 1) ** 2, 0, None)))
                   / np.i0(beta), dtype, device, requires_grad)


@register("arange", promote=None, differentiable=False, changes_device=True, samples=(
    Sample(lambda t: t.arange(5), (), dtypes=("float32",), grad=False),
    Sample(lambda t: t.arange(0, 1, 0.25), (), dtypes=("float32",), grad=False, name="float"),
    Sample(lambda t: t.arange(7, 1, -2, dtype=t.int16), (), dtypes=("float32",), grad=False,
           name="int16")))
class Arange(OpDef):
    """start, start + step, ... below end (above it for a negative step), as torch counts:
    int64 ranges in integers from truncated bounds, others in double precision."""

    creates = True

    def forward(ctx, xp, start, end, step, dtype, device):
        if dtype is D.int64:
            first, last, stride = builtins.int(start), builtins.int(end), builtins.int(step)
            n = builtins.max(0, -((first - last) // stride))
            data = first + stride * np.arange(n, dtype=np.int64)
        else:
            n = builtins.max(0, math.ceil((end - start) / step))
            if dtype.category == D._INT:
                data = builtins.int(start) + builtins.int(step) * np.arange(n, dtype=np.int64)
            else:
                data = start + np.arange(n, dtype=np.float64) * step
        return move(data.astype(dtype.np), device)


def _steps_arg(steps, op: str) -> int:
    steps = _int_arg(steps, op, "steps")
    if steps < 0:
        raise RuntimeError(f"{op}(): number of steps must be non-negative (got {steps})")
    return steps


def _spaced(start, end, steps: int, dt: D.dtype):
    """PyTorch's linspace arithmetic: the first half counts up from start, the second half
    down from end, so both ends are exact; integer dtypes truncate the bounds first."""
    if dt.category == D._INT:
        start, end = builtins.int(start.real), builtins.int(end.real)
    work = np.complex128 if isinstance(start, builtins.complex) or isinstance(
        end, builtins.complex) else np.float64
    idx = np.arange(steps, dtype=np.float64)
    if steps == 1:
        return np.array([start], dtype=work)
    step = (end - start) / (steps - 1)
    half = steps // 2
    return np.where(idx < half, start + step * idx, end - step * (steps - 1 - idx)).astype(work)


def _space_dtype(start, end, dtype, out, op):
    default = D.get_default_dtype()
    if isinstance(start, builtins.complex) or isinstance(end, builtins.complex):
        default = default.to_complex()
    dt = _check_out(out, _dtype_arg(dtype, op), op) or default
    _range_dtype(dt, op)
    return dt


def linspace(start, end, steps: int, *, out=None, dtype=None, layout=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """`steps` evenly spaced values from start to end inclusive.

    >>> import ember
    >>> ember.linspace(0, 10, 5, dtype=ember.int64)
    tensor([ 0,  2,  5,  7, 10])
    """
    start, end = _number(start, "linspace"), _number(end, "linspace")
    steps = _steps_arg(steps, "linspace")
    dt = _space_dtype(start, end, dtype, out, "linspace")
    data = _spaced(start, end, steps, dt)
    if dt.category == D._INT:
        data = np.trunc(data)
    return _leaf(data.astype(dt.np), dt, device, requires_grad, out)


def logspace(start, end, steps: int, base: float = 10.0, *, out=None, dtype=None, layout=None,
             device=None, requires_grad: bool = False) -> Tensor:
    """`steps` values base ** linspace(start, end, steps).

    >>> import ember
    >>> ember.logspace(0, 3, 4, dtype=ember.int64)
    tensor([   1,   10,  100, 1000])
    """
    start, end = _number(start, "logspace"), _number(end, "logspace")
    base = _number(base, "logspace")
    steps = _steps_arg(steps, "logspace")
    dt = _space_dtype(start, end, dtype, out, "logspace")
    with np.errstate(invalid="ignore", over="ignore"):
        data = np.power(base, _spaced(start, end, steps, dt))
        if dt.category == D._INT:
            data = np.trunc(data)
        data = data.astype(dt.np)
    return _leaf(data, dt, device, requires_grad, out)


def eye(n: int, m: int | None = None, *, out=None, dtype=None, layout=None, device=None,
        requires_grad: bool = False) -> Tensor:
    """A 2-D n x m tensor with ones on the diagonal."""
    n = _int_arg(n, "eye", "n")
    m = n if m is None else _int_arg(m, "eye", "m")
    for name, v in (("n", n), ("m", m)):
        if v < 0:
            raise RuntimeError(f"eye(): {name} must be greater or equal to 0, got {v}")
    dt = _check_out(out, _dtype_arg(dtype, "eye"), "eye") or D.get_default_dtype()
    return _leaf(np.eye(n, m, dtype=dt.np), dt, device, requires_grad, out)


def _triangle_indices(row, col, offset, dtype, device, op, lower):
    row, col = _int_arg(row, op, "row"), _int_arg(col, op, "col")
    offset = _int_arg(offset, op, "offset")
    for name, v in (("row", row), ("col", col)):
        if v < 0:
            raise RuntimeError(f"{op}(): {name} must be non-negative, got {v}")
    dt = _dtype_arg(dtype, op, D.int64)
    if dt.category != D._INT:
        raise NotImplementedError(f'"{op}" not implemented for \'{dt.name}\'')
    rows, cols = (np.tril_indices if lower else np.triu_indices)(row, offset, col)
    return _leaf(np.stack([rows, cols]).reshape(2, -1).astype(dt.np), dt, device)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None,
                 layout=None) -> Tensor:
    """The (2, N) row/column indices of the lower triangle of a row x col matrix.

    >>> import ember
    >>> ember.tril_indices(3, 3)
    tensor([[0, 1, 1, 2, 2, 2],
            [0, 0, 1, 0, 1, 2]])
    """
    return _triangle_indices(row, col, offset, dtype, device, "tril_indices", True)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None,
                 layout=None) -> Tensor:
    """The (2, N) row/column indices of the upper triangle of a row x col matrix."""
    return _triangle_indices(row, col, offset, dtype, device, "triu_indices", False)


# ---- Tensor.new_* ---------------------------------------------------------------------------
def _new_args(self, dtype, device, op):
    return (_dtype_arg(dtype, op, self._dtype),
            to_device(device) if device is not None else self._device)


@tensor_method()
def new_zeros(self, *args, size=None, dtype=None, device=None, requires_grad=False, layout=None,
              pin_memory=False) -> Tensor:
    """Zeros of the given size with this tensor's dtype and device (unless given)."""
    dt, dev = _new_args(self, dtype, device, "new_zeros")
    return _filled(_size_args(args, size, "new_zeros"), 0, dt, dev, requires_grad)


@tensor_method()
def new_ones(self, *args, size=None, dtype=None, device=None, requires_grad=False, layout=None,
             pin_memory=False) -> Tensor:
    """Ones of the given size with this tensor's dtype and device (unless given)."""
    dt, dev = _new_args(self, dtype, device, "new_ones")
    return _filled(_size_args(args, size, "new_ones"), 1, dt, dev, requires_grad)


@tensor_method()
def new_empty(self, *args, size=None, dtype=None, device=None, requires_grad=False, layout=None,
              pin_memory=False) -> Tensor:
    """An uninitialized (zeroed) tensor with this tensor's dtype and device."""
    dt, dev = _new_args(self, dtype, device, "new_empty")
    return _filled(_size_args(args, size, "new_empty"), 0, dt, dev, requires_grad)


@tensor_method()
def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False,
             layout=None, pin_memory=False) -> Tensor:
    """`fill_value` in a new tensor of `size` with this tensor's dtype and device."""
    dt, dev = _new_args(self, dtype, device, "new_full")
    value = _fill_value(fill_value, "new_full")
    return _filled(_sequence_size(size, "new_full"), _fitted(value, dt, "new_full"), dt, dev,
                   requires_grad)


@tensor_method()
def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False, layout=None,
               pin_memory=False) -> Tensor:
    """A copy of `data` with this tensor's dtype and device (unless given)."""
    dt, dev = _new_args(self, dtype, device, "new_tensor")
    return tensor(data, dtype=dt, device=dev, requires_grad=requires_grad)


# ---- fill ----------------------------------------------------------------------------------
@register("fill", promote=None, samples=(
    Sample(lambda t, x: t.fill(x, 2.5), (Arg((3, 4)),), dtypes=FLOATS + INTS),
    Sample(lambda t, x, v: t.fill(x, v), (Arg((2, 3)), Arg(())), name="tensor_value"),
    Sample(lambda t, x: (x * 1).fill_(-1.5), (Arg((3, 4)),), dtypes=FLOATS + INTS,
           name="inplace"),
    Sample(lambda t, x, v: (x * 1).fill_(v), (Arg((2, 3)), Arg(())), name="inplace_tensor"),
    Sample(lambda t, x: (x * 2)[1:].zero_(), (Arg((3, 4)),), dtypes=FLOATS + INTS,
           name="zero_view")))
class Fill(OpDef):
    """Every element of x set to `value` (a scalar, a 0-d tensor, or an array of x's shape, as
    used by the in-place random methods). x gets a zero gradient; a 0-d value gets the sum
    (a value that requires grad is always 0-d: fill_ refuses others)."""

    def forward(ctx, xp, x, value):
        out = xp.empty_like(x)
        out[...] = value
        return out

    def forward_inplace(xp, x, value):
        x[...] = value

    def backward(ctx, g):
        need = ctx.needs_input_grad
        gx = Tensor._zeros(g._data.shape, g._dtype, g._device) if need[0] else None
        return gx, (g.sum() if need[1] else None)


def _fill_arg(input, value, op: str):
    """Check a fill value against `input`'s dtype, as torch does before filling."""
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"{op}(): fill_ only supports 0-dimension value tensor but got "
                               f"tensor with {value.ndim} dimensions.")
        return value
    return _fitted(_fill_value(value, op), input._dtype, op)


def fill(input, value) -> Tensor:
    """A new tensor shaped like `input` holding `value` everywhere (differentiable in value)."""
    return apply(Fill, input, _fill_arg(input, value, "fill"))


@tensor_method()
def fill_(input, value) -> Tensor:
    """Fill `input` with `value` in place.

    >>> import ember
    >>> ember.zeros(3, dtype=ember.int64).fill_(2.7)
    tensor([2, 2, 2])
    """
    return apply_(Fill, input, _fill_arg(input, value, "fill_"))


@tensor_method()
def zero_(input) -> Tensor:
    """Fill `input` with zeros in place."""
    return apply_(Fill, input, 0)


__all__ = ["tensor", "as_tensor", "asarray", "from_numpy", "zeros", "ones", "empty",
           "empty_strided", "full", "zeros_like", "ones_like", "empty_like", "full_like",
           "arange", "linspace",
           "logspace", "eye", "scalar_tensor", "tril_indices", "triu_indices", "fill", "fill_",
           "zero_", "range", *_LEGACY_TYPES, "hann_window", "hamming_window", "blackman_window",
           "bartlett_window", "kaiser_window"]
