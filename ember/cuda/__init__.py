"""ember.cuda: GPU queries and seeding for the CuPy backend (all report 'no GPU' without CuPy)."""
from __future__ import annotations

from .._backend import _cupy, cuda_available


def is_available() -> bool:
    """True when CuPy is installed and sees at least one GPU.

    >>> import ember
    >>> isinstance(ember.cuda.is_available(), bool)
    True
    """
    return cuda_available()


def device_count() -> int:
    """The number of visible GPUs (0 without CuPy)."""
    if not is_available():
        return 0
    return _cupy().cuda.runtime.getDeviceCount()


def current_device() -> int:
    _require()
    return _cupy().cuda.runtime.getDevice()


def set_device(device) -> None:
    """Make `device` (an index or 'cuda:N') the current GPU."""
    _require()
    index = device if isinstance(device, int) else (getattr(device, "index", None) or
                                                    int(str(device).partition(":")[2] or 0))
    _cupy().cuda.Device(index).use()


def get_device_name(device=None) -> str:
    _require()
    return _cupy().cuda.runtime.getDeviceProperties(_index(device))["name"].decode()


def _index(device) -> int:
    """The GPU index of `device` (an index, 'cuda:N', a device, or None for the current one)."""
    if device is None:
        return _cupy().cuda.runtime.getDevice()
    if isinstance(device, int):
        return device
    index = getattr(device, "index", None)
    if index is None and isinstance(device, str):
        index = int(device.partition(":")[2] or 0)
    return index or 0


def get_device_capability(device=None) -> tuple[int, int]:
    """The (major, minor) CUDA compute capability of `device` (default: the current GPU)."""
    _require()
    props = _cupy().cuda.runtime.getDeviceProperties(_index(device))
    return props["major"], props["minor"]


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """Whether the current GPU computes in bfloat16: natively from compute capability 8.0
    (Ampere), or, with `including_emulation`, whenever a bfloat16 tensor can live on it.
    False without a GPU, as torch on a CPU-only build.

    >>> import ember
    >>> isinstance(ember.cuda.is_bf16_supported(), bool)
    True
    """
    if not is_available():
        return False
    if get_device_capability()[0] >= 8:
        return True
    if not including_emulation:
        return False
    from .. import _dtype as D
    from .._ops.creation import zeros
    try:
        zeros(1, dtype=D.bfloat16, device="cuda")
    except (RuntimeError, TypeError):
        return False
    return True


def synchronize(device=None) -> None:
    """Wait for all queued GPU work to finish."""
    _require()
    _cupy().cuda.Device().synchronize()


def memory_allocated(device=None) -> int:
    """Bytes currently held by tensors in CuPy's memory pool."""
    if not is_available():
        return 0
    return _cupy().get_default_memory_pool().used_bytes()


def empty_cache() -> None:
    """Return cached, unused GPU memory to the driver."""
    if is_available():
        _cupy().get_default_memory_pool().free_all_blocks()


def manual_seed(seed: int) -> None:
    """Seed the generator used for CUDA tensors (ember draws on the host, so this seeds ember's
    default generator, as torch.manual_seed does for all devices)."""
    from .._ops.random import manual_seed as seed_all
    seed_all(seed)


manual_seed_all = manual_seed


def _require() -> None:
    if not is_available():
        raise RuntimeError("Found no NVIDIA driver on your system (or CuPy is not installed: "
                           "pip install 'ember[cuda]').")


def __getattr__(name):
    if name == "amp":  # torch.cuda.amp, the deprecated home of autocast and GradScaler
        import importlib
        return importlib.import_module(".amp", __name__)
    raise AttributeError(f"module 'ember.cuda' has no attribute {name!r}")
