"""Factories: tensor/as_tensor/from_numpy, zeros/ones/full/empty (+ _like), ranges, eye.
They make leaves, so they are plain functions rather than registry ops."""
from __future__ import annotations

import builtins
import math

import numpy as np

from .. import _dtype as D
from .._backend import move, namespace
from .._device import to_device
from .._tensor import Size, Tensor


def _leaf(data, dtype, device, requires_grad=False):
    """Wrap a host NumPy array as a new leaf on `device`."""
    dev = to_device(device)
    t = Tensor._wrap(move(data, dev), dtype, dev)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _infer_dtype(arr: np.ndarray, data) -> D.dtype:
    """The dtype PyTorch gives Python data: floats -> default float, ints -> int64."""
    if isinstance(data, np.ndarray) or isinstance(data, np.generic):
        return D.from_numpy_dtype(arr.dtype)
    kind = arr.dtype.kind
    if kind == "f":
        return D.get_default_dtype()
    if kind in "iu":
        return D.int64
    if kind == "b":
        return D.bool
    if kind == "c":
        return D.complex64 if D.get_default_dtype() is D.float32 else D.complex128
    raise TypeError(f"Could not infer dtype of {type(data).__name__}")


def _to_host(data):
    if isinstance(data, Tensor):
        return data.numpy(force=True)
    if isinstance(data, (list, tuple)) and any(isinstance(v, (Tensor, list, tuple))
                                                 for v in data):
        return [_to_host(v) for v in data]
    return data


def tensor(data, *, dtype=None, device=None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """A new tensor that copies `data` (nested lists, scalars, arrays or tensors).

    >>> import ember
    >>> ember.tensor([[1, 2], [3, 4.5]])
    tensor([[1.0000, 2.0000],
            [3.0000, 4.5000]])
    """
    host = _to_host(data)
    try:
        arr = np.array(host)
    except ValueError as e:
        raise ValueError(f"tensor(): could not build a tensor from the given data: {e}") from None
    if arr.dtype == object:
        raise TypeError(f"tensor(): could not infer dtype of {type(data).__name__} (ragged or "
                        "non-numeric data)")
    dt = D.to_dtype(dtype) if dtype is not None else (
        data._dtype if isinstance(data, Tensor) else _infer_dtype(arr, data))
    if dtype is not None and dt.category < D._FLOAT and arr.dtype.kind == "f":
        arr = np.trunc(arr)
    return _leaf(np.array(arr, dtype=dt.np), dt, device if device is not None else (
        data._device if isinstance(data, Tensor) else None), requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Convert without copying when `data` already is a tensor or array of the right kind."""
    if isinstance(data, Tensor):
        return data.to(dtype=dtype, device=device) if (dtype or device) else data
    if isinstance(data, np.ndarray) and (dtype is None or D.to_dtype(dtype).np == data.dtype) \
            and to_device(device).type == "cpu":
        return from_numpy(data)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor sharing memory with a NumPy array.

    >>> import numpy as np, ember
    >>> a = np.arange(3); t = ember.from_numpy(a); a[0] = 7; t
    tensor([7, 1, 2])
    """
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    return Tensor._wrap(ndarray, D.from_numpy_dtype(ndarray.dtype), to_device(None))


def _shape(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list, Size)):
        size = tuple(size[0])
    try:
        shape = tuple(int(s) for s in size)
    except TypeError:
        raise TypeError(f"size must be a tuple of ints, but got {size!r}") from None
    for s in shape:
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: "
                               f"{list(shape)}")
    return shape


def _filled(shape, value, dtype, device, requires_grad):
    dt = D.to_dtype(dtype) if dtype is not None else D.get_default_dtype()
    dev = to_device(device)
    xp = namespace(dev)
    t = Tensor._wrap(xp.full(shape, value, dtype=dt.np), dt, dev)
    if requires_grad:
        t.requires_grad_(True)
    return t


def zeros(*size, out=None, dtype=None, layout=None, device=None,
          requires_grad: bool = False) -> Tensor:
    """A tensor of zeros of the given size."""
    return _filled(_shape(size), 0, dtype, device, requires_grad)


def ones(*size, out=None, dtype=None, layout=None, device=None,
         requires_grad: bool = False) -> Tensor:
    """A tensor of ones of the given size."""
    return _filled(_shape(size), 1, dtype, device, requires_grad)


def empty(*size, out=None, dtype=None, layout=None, device=None, requires_grad: bool = False,
          pin_memory: bool = False, memory_format=None) -> Tensor:
    """An uninitialized tensor (zero-filled here: NumPy's empty memory is not worth the risk)."""
    return _filled(_shape(size), 0, dtype, device, requires_grad)


def full(size, fill_value, *, out=None, dtype=None, layout=None, device=None,
         requires_grad: bool = False) -> Tensor:
    """A tensor filled with `fill_value`; its dtype follows the value when not given."""
    if dtype is None:
        dtype = D.scalar_dtype(fill_value) if not isinstance(fill_value, Tensor) else \
            fill_value._dtype
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    return _filled(_shape((size,) if isinstance(size, int) else (tuple(size),)), fill_value,
                   dtype, device, requires_grad)


def _like(input, value, dtype, device, requires_grad):
    return _filled(input._data.shape, value, dtype if dtype is not None else input._dtype,
                   device if device is not None else input._device, requires_grad)


def zeros_like(input, *, dtype=None, layout=None, device=None, requires_grad=False,
               memory_format=None) -> Tensor:
    """Zeros with the shape (and by default dtype and device) of `input`."""
    return _like(input, 0, dtype, device, requires_grad)


def ones_like(input, *, dtype=None, layout=None, device=None, requires_grad=False,
              memory_format=None) -> Tensor:
    """Ones with the shape (and by default dtype and device) of `input`."""
    return _like(input, 1, dtype, device, requires_grad)


def empty_like(input, *, dtype=None, layout=None, device=None, requires_grad=False,
               memory_format=None) -> Tensor:
    """An uninitialized tensor shaped like `input` (zero-filled)."""
    return _like(input, 0, dtype, device, requires_grad)


def full_like(input, fill_value, *, dtype=None, layout=None, device=None, requires_grad=False,
              memory_format=None) -> Tensor:
    """`fill_value` everywhere, shaped like `input`."""
    return _like(input, fill_value, dtype, device, requires_grad)


def arange(start, end=None, step=1, *, out=None, dtype=None, layout=None, device=None,
           requires_grad: bool = False) -> Tensor:
    """Values from start (inclusive) to end (exclusive) in steps of `step`.

    >>> import ember
    >>> ember.arange(0, 1, 0.25)
    tensor([0.0000, 0.2500, 0.5000, 0.7500])
    """
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    if vals[2] == 0:
        raise RuntimeError("arange(): step must be nonzero")
    if (vals[1] - vals[0]) * vals[2] < 0:
        raise RuntimeError("arange(): upper bound and larger bound inconsistent with step sign")
    if dtype is None:
        dtype = D.int64 if all(isinstance(v, int) for v in vals) else D.get_default_dtype()
    dt = D.to_dtype(dtype)
    n = builtins.max(0, math.ceil((vals[1] - vals[0]) / vals[2]))
    data = (vals[0] + np.arange(n, dtype=np.float64) * vals[2]) if dt.category >= D._FLOAT \
        else np.arange(vals[0], vals[1], vals[2])
    return _leaf(data.astype(dt.np), dt, device, requires_grad)


def linspace(start, end, steps: int, *, out=None, dtype=None, layout=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """`steps` evenly spaced values from start to end inclusive."""
    dt = D.to_dtype(dtype) if dtype is not None else D.get_default_dtype()
    if steps < 0:
        raise RuntimeError("linspace(): number of steps must be non-negative")
    data = np.linspace(float(start), float(end), int(steps))
    if dt.category < D._FLOAT:
        data = np.trunc(data)
    return _leaf(data.astype(dt.np), dt, device, requires_grad)


def logspace(start, end, steps: int, base: float = 10.0, *, out=None, dtype=None, layout=None,
             device=None, requires_grad: bool = False) -> Tensor:
    """`steps` values base**linspace(start, end)."""
    dt = D.to_dtype(dtype) if dtype is not None else D.get_default_dtype()
    data = np.power(float(base), np.linspace(float(start), float(end), int(steps)))
    return _leaf(data.astype(dt.np), dt, device, requires_grad)


def eye(n: int, m: int | None = None, *, out=None, dtype=None, layout=None, device=None,
        requires_grad: bool = False) -> Tensor:
    """A 2-D tensor with ones on the diagonal."""
    dt = D.to_dtype(dtype) if dtype is not None else D.get_default_dtype()
    return _leaf(np.eye(n, m, dtype=dt.np), dt, device, requires_grad)


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A 0-d tensor holding `s` (default float dtype)."""
    dt = D.to_dtype(dtype) if dtype is not None else D.get_default_dtype()
    return _leaf(np.array(s, dtype=dt.np), dt, device, requires_grad)


__all__ = ["tensor", "as_tensor", "from_numpy", "zeros", "ones", "empty", "full", "zeros_like",
           "ones_like", "empty_like", "full_like", "arange", "linspace", "logspace", "eye",
           "scalar_tensor"]
