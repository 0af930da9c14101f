"""ember.cpu: torch.cpu's device queries for the host (always available, one device), so code
written against a device module (`getattr(torch, device.type)`) runs on the CPU too."""
from __future__ import annotations

__all__ = ["current_device", "device_count", "is_available", "is_initialized", "set_device",
           "synchronize"]


def is_available() -> bool:
    """Always True: the CPU is always there.

    >>> import ember
    >>> ember.cpu.is_available(), ember.cpu.device_count(), ember.cpu.current_device()
    (True, 1, 'cpu')
    """
    return True


def is_initialized() -> bool:
    """Always True: the CPU needs no lazy initialization."""
    return True


def device_count() -> int:
    """The number of CPU devices: always 1."""
    return 1


def current_device() -> str:
    """The current CPU device's name, 'cpu'."""
    return "cpu"


def set_device(device) -> None:
    """Accepted for symmetry with ember.cuda.set_device; there is one CPU device to use."""


def synchronize(device=None) -> None:
    """Returns at once: CPU work runs synchronously."""


def __getattr__(name):
    if name == "amp":  # torch.cpu.amp, the deprecated home of autocast and GradScaler
        import importlib
        return importlib.import_module(".amp", __name__)
    raise AttributeError(f"module 'ember.cpu' has no attribute {name!r}")
