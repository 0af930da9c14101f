"""ember.accelerator: torch.accelerator's device-neutral queries. ember's one accelerator is
CUDA through CuPy; without CuPy and a GPU there is none (current_accelerator() is None).

    >>> import ember
    >>> ember.accelerator.is_available() == ember.cuda.is_available()
    True
"""
from __future__ import annotations

import contextlib
from typing import Iterator

from . import cuda
from ._device import device as _device

__all__ = ["current_accelerator", "is_available", "device_count", "current_device_index",
           "current_device_idx", "set_device_index", "set_device_idx", "device_index",
           "synchronize", "empty_cache", "memory_allocated"]

_DeviceLike = _device | str | int | None


def current_accelerator(check_available: bool = False) -> _device | None:
    """The accelerator device type ('cuda') when ember has one, else None (ember reports
    only usable accelerators, so `check_available` changes nothing)."""
    return _device("cuda") if cuda.is_available() else None


def is_available() -> bool:
    """Whether an accelerator (a GPU seen by CuPy) can be used."""
    return cuda.is_available()


def device_count() -> int:
    """The number of accelerator devices (0 without one)."""
    return cuda.device_count()


def _require() -> None:
    if not is_available():
        raise RuntimeError("Cannot access accelerator device when none is available.")


def _index(device: _DeviceLike) -> int | None:
    """An accelerator index from an int, 'cuda:N' or a device (None for the current one)."""
    if device is None or isinstance(device, int):
        return device
    dev = _device(device)
    if dev.type != "cuda":
        raise ValueError(f"{dev.type} doesn't match the current accelerator cuda.")
    return dev.index


def current_device_index() -> int:
    """The index of the current accelerator device."""
    _require()
    return cuda.current_device()


def set_device_index(device: _DeviceLike, /) -> None:
    """Make `device` the current accelerator device."""
    _require()
    index = _index(device)
    if index is not None:
        cuda.set_device(index)


current_device_idx = current_device_index
set_device_idx = set_device_index


@contextlib.contextmanager
def device_index(device: int | None, /) -> Iterator[None]:
    """Make `device` current inside the block and restore the previous one after (None: no
    change)."""
    if device is None:
        yield
        return
    previous = current_device_index()
    set_device_index(device)
    try:
        yield
    finally:
        set_device_index(previous)


def synchronize(device: _DeviceLike = None, /) -> None:
    """Wait for the work queued on the accelerator to finish."""
    _require()
    cuda.synchronize(_index(device))


def empty_cache() -> None:
    """Give cached, unused accelerator memory back to the driver."""
    _require()
    cuda.empty_cache()


def memory_allocated(device_index: _DeviceLike = None, /) -> int:
    """Bytes held by tensors on the accelerator."""
    _require()
    return cuda.memory_allocated(_index(device_index))
