"""The deprecated per-device spellings torch.cuda.amp and torch.cpu.amp: ember.amp's autocast
and GradScaler bound to one device, warning as torch's do."""
from __future__ import annotations

import warnings

from .autocast_mode import autocast as _autocast
from .grad_scaler import GradScaler as _GradScaler


def device_amp_classes(device: str, default_dtype) -> tuple[type, type]:
    """(autocast, GradScaler) for `torch.<device>.amp`: ember.amp's classes with `device` fixed,
    `default_dtype` as autocast's default, and torch's FutureWarning on construction."""

    class autocast(_autocast):
        def __init__(self, enabled: bool = True, dtype=default_dtype, cache_enabled: bool = True):
            warnings.warn(f"`torch.{device}.amp.autocast(args...)` is deprecated. Please use "
                          f"`torch.amp.autocast('{device}', args...)` instead.", FutureWarning,
                          stacklevel=2)
            super().__init__(device, dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)

    class GradScaler(_GradScaler):
        def __init__(self, init_scale: float = 2.0 ** 16, growth_factor: float = 2.0,
                     backoff_factor: float = 0.5, growth_interval: int = 2000,
                     enabled: bool = True):
            warnings.warn(f"`torch.{device}.amp.GradScaler(args...)` is deprecated. Please use "
                          f"`torch.amp.GradScaler('{device}', args...)` instead.", FutureWarning,
                          stacklevel=2)
            super().__init__(device, init_scale, growth_factor, backoff_factor, growth_interval,
                             enabled)

    for cls in (autocast, GradScaler):
        cls.__module__ = f"ember.{device}.amp"
        cls.__qualname__ = cls.__name__
        cls.__doc__ = (f"torch.{device}.amp.{cls.__name__}(args...): ember.amp.{cls.__name__}"
                       f"('{device}', args...), with torch's FutureWarning.")
    return autocast, GradScaler
