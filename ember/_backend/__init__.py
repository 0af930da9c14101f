"""The array namespaces behind devices: NumPy for 'cpu', CuPy for 'cuda' (loaded on first use).

Op definitions never import numpy or cupy; they receive `xp`, the namespace of their inputs.
"""
from __future__ import annotations

import numpy as np

from .._device import CPU, device


def namespace(dev: device):
    """The array module that stores tensors on `dev`."""
    if dev.type == "cpu":
        return np
    if dev.type == "cuda":
        return _cupy()
    raise _no_storage(dev)


def _no_storage(dev) -> NotImplementedError:
    return NotImplementedError(f"ember tensors hold data on 'cpu' or 'cuda'; '{dev}' tensors "
                               "(shapes without data) are not supported: build the model on "
                               "'cpu' instead")


def _cupy():
    try:
        import cupy
    except ImportError:
        raise RuntimeError("CUDA tensors need CuPy: pip install 'ember[cuda]' "
                           "(cupy-cuda12x) on a machine with an NVIDIA GPU") from None
    if cupy.cuda.runtime.getDeviceCount() == 0:
        raise RuntimeError("Found no NVIDIA driver or GPU on this machine")
    return cupy


def cuda_available() -> bool:
    """True when CuPy imports and sees at least one GPU."""
    try:
        return _cupy() is not None
    except Exception:
        return False


def device_of(array) -> device:
    """The ember device holding `array` (a NumPy or CuPy array)."""
    if isinstance(array, np.ndarray):
        return CPU
    return device("cuda", array.device.id)


def to_numpy(array) -> np.ndarray:
    """A host NumPy copy (or the array itself when it already lives on the host)."""
    if isinstance(array, np.ndarray):
        return array
    return array.get()


def move(array, dev: device):
    """`array` on device `dev`, copying across devices only when needed."""
    if dev.type == "cpu":
        return to_numpy(array)
    if dev.type != "cuda":
        raise _no_storage(dev)
    cp = _cupy()
    with cp.cuda.Device(dev.index or 0):
        return cp.asarray(array)
