"""The autocast context manager (torch.autocast): it opens a region on one device type, in
which ops that declare an OpDef.autocast policy cast their floating inputs (see
ember._ops.dispatch.autocast_inputs)."""
from __future__ import annotations

import functools
import warnings

from .. import _dtype as D
from .._ops.dispatch import AutocastState

__all__ = ["autocast", "clear_autocast_cache", "get_autocast_cpu_dtype", "get_autocast_dtype",
           "get_autocast_gpu_dtype", "is_autocast_available", "is_autocast_cache_enabled",
           "is_autocast_cpu_enabled", "is_autocast_enabled", "set_autocast_cache_enabled",
           "set_autocast_cpu_dtype", "set_autocast_cpu_enabled", "set_autocast_dtype",
           "set_autocast_enabled"]

_DEFAULT_DTYPES = {"cpu": D.bfloat16, "cuda": D.float16}
_SUPPORTED = {"cpu": (D.bfloat16, D.float16), "cuda": (D.float16, D.bfloat16)}
# The dtype each device type's autocast uses when a region names none (torch's per-device
# autocast dtype, which set_autocast_dtype changes); torch's other device types are known here
# so their settings read and write as torch's do, though only cpu and cuda open regions.
_FAST_DTYPES = dict(_DEFAULT_DTYPES, mps=D.float16, xpu=D.float16, hpu=D.bfloat16,
                    xla=D.bfloat16)


class _CacheState:
    """torch's autocast cache switch. ember keeps no cache of cast weights (each region casts
    per call), so the switch is a setting scripts read and restore, with nothing to clear."""

    enabled = True


def _device_type(device_type, op: str) -> str:
    if not isinstance(device_type, str):
        raise TypeError(f"{op}(): argument 'device_type' (position 1) must be str, not "
                        f"{type(device_type).__name__}")
    if device_type not in _FAST_DTYPES:
        raise RuntimeError(f"Expected one of {', '.join(_FAST_DTYPES)} device type at start of "
                           f"device string: {device_type}")
    return device_type


def _bool(value, name: str = "enabled") -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool (got {type(value).__name__})")
    return value


def is_autocast_available(device_type: str) -> bool:
    """Whether autocast supports `device_type` ('cpu' and 'cuda')."""
    return device_type in _DEFAULT_DTYPES


def is_autocast_enabled(device_type: str | None = None) -> bool:
    """Whether autocast is on for `device_type` (default 'cuda', as torch's)."""
    if device_type is None:
        return "cuda" in AutocastState.dtypes
    return _device_type(device_type, "is_autocast_enabled") in AutocastState.dtypes


def get_autocast_dtype(device_type: str) -> D.dtype:
    """The lower-precision dtype autocast uses on `device_type` (set_autocast_dtype sets it;
    bfloat16 on the CPU and float16 on CUDA unless changed)."""
    return _FAST_DTYPES[_device_type(device_type, "get_autocast_dtype")]


def set_autocast_enabled(*args) -> None:
    """Turn autocast on or off for a device type: set_autocast_enabled(device_type, enabled),
    or torch's older set_autocast_enabled(enabled) for 'cuda'. Prefer `with ember.autocast`."""
    device_type, enabled = ("cuda", *args) if len(args) == 1 else args
    _enable(_device_type(device_type, "set_autocast_enabled"), _bool(enabled))


def set_autocast_dtype(device_type: str, dtype: D.dtype) -> None:
    """Set the dtype autocast uses on `device_type` (also inside an open region)."""
    device_type = _device_type(device_type, "set_autocast_dtype")
    if not isinstance(dtype, D.dtype):
        raise TypeError(f"set_autocast_dtype(): argument 'dtype' (position 2) must be "
                        f"torch.dtype, not {type(dtype).__name__}")
    _FAST_DTYPES[device_type] = dtype
    if device_type in AutocastState.dtypes:
        _set(dict(AutocastState.dtypes, **{device_type: dtype}))


def _deprecated(old: str, new: str) -> None:
    warnings.warn(f"torch.{old} is deprecated. Please use torch.{new} instead.",
                  DeprecationWarning, stacklevel=3)


def is_autocast_cpu_enabled() -> bool:
    """Deprecated spelling of is_autocast_enabled('cpu')."""
    _deprecated("is_autocast_cpu_enabled()", "is_autocast_enabled('cpu')")
    return is_autocast_enabled("cpu")


def set_autocast_cpu_enabled(enabled: bool) -> None:
    """Deprecated spelling of set_autocast_enabled('cpu', enabled)."""
    _deprecated("set_autocast_cpu_enabled(enabled)", "set_autocast_enabled('cpu', enabled)")
    set_autocast_enabled("cpu", enabled)


def get_autocast_cpu_dtype() -> D.dtype:
    """Deprecated spelling of get_autocast_dtype('cpu')."""
    _deprecated("get_autocast_cpu_dtype()", "get_autocast_dtype('cpu')")
    return get_autocast_dtype("cpu")


def set_autocast_cpu_dtype(dtype: D.dtype) -> None:
    """Deprecated spelling of set_autocast_dtype('cpu', dtype)."""
    _deprecated("set_autocast_cpu_dtype(dtype)", "set_autocast_dtype('cpu', dtype)")
    set_autocast_dtype("cpu", dtype)


def get_autocast_gpu_dtype() -> D.dtype:
    """Deprecated spelling of get_autocast_dtype('cuda')."""
    _deprecated("get_autocast_gpu_dtype()", "get_autocast_dtype('cuda')")
    return get_autocast_dtype("cuda")


def is_autocast_cache_enabled() -> bool:
    """Whether autocast's cast cache is switched on (see _CacheState)."""
    return _CacheState.enabled


def set_autocast_cache_enabled(enabled: bool) -> None:
    """Switch autocast's cast cache on or off (autocast(cache_enabled=...) does it per
    region)."""
    _CacheState.enabled = _bool(enabled)


def clear_autocast_cache() -> None:
    """Drop autocast's cached casts: ember caches none, so there is nothing to drop."""


class autocast:
    """Within this region, ops on `device_type` tensors run in mixed precision: matrix products
    and convolutions (and composites such as linear) in `dtype`, losses in float32, float64
    tensors untouched. Nests; usable as a decorator.

    >>> import ember
    >>> with ember.autocast("cpu"):
    ...     (ember.ones(2, 3) @ ember.ones(3, 2)).dtype
    torch.bfloat16
    """

    def __init__(self, device_type: str, dtype=None, enabled: bool = True,
                 cache_enabled: bool | None = None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        if not is_autocast_available(device_type):
            raise RuntimeError(f"User specified an unsupported autocast device_type "
                               f"'{device_type}'")
        self.device = device_type
        self.fast_dtype = get_autocast_dtype(device_type) if dtype is None else D.to_dtype(dtype)
        self._enabled = bool(enabled)
        self._cache_enabled = cache_enabled
        if self._enabled and self.fast_dtype not in _SUPPORTED[device_type]:
            names = ", ".join(f"torch.{d.name}" for d in _SUPPORTED[device_type])
            warnings.warn(f"In {device_type.upper()} autocast, but the target dtype is not "
                          f"supported. Disabling autocast.\n{device_type.upper()} Autocast only "
                          f"supports dtypes of {names} currently.", UserWarning, stacklevel=2)
            self._enabled = False
        self._saved: list = []

    def __enter__(self):
        self._saved.append((is_autocast_enabled(self.device), get_autocast_dtype(self.device),
                            _CacheState.enabled))
        _FAST_DTYPES[self.device] = self.fast_dtype
        _enable(self.device, self._enabled)
        if self._cache_enabled is not None:
            _CacheState.enabled = bool(self._cache_enabled)
        return self

    def __exit__(self, *exc) -> bool:
        enabled, _FAST_DTYPES[self.device], _CacheState.enabled = self._saved.pop()
        _enable(self.device, enabled)
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def run(*args, **kwargs):
            with self:
                return func(*args, **kwargs)
        return run


def _enable(device_type: str, enabled: bool) -> None:
    """Open (at the device type's autocast dtype) or close autocast on one device type."""
    dtypes = dict(AutocastState.dtypes)
    if enabled:
        dtypes[device_type] = _FAST_DTYPES[device_type]
    else:
        dtypes.pop(device_type, None)
    _set(dtypes)


def _set(dtypes: dict) -> None:
    AutocastState.dtypes = dtypes
    AutocastState.active = bool(dtypes)
