"""The autocast context manager (torch.autocast): it opens a region on one device type, in
which ops that declare an OpDef.autocast policy cast their floating inputs (see
ember._ops.dispatch.autocast_inputs)."""
from __future__ import annotations

import functools
import warnings

from .. import _dtype as D
from .._ops.dispatch import AutocastState

__all__ = ["autocast", "get_autocast_dtype", "is_autocast_available", "is_autocast_enabled"]

_DEFAULT_DTYPES = {"cpu": D.bfloat16, "cuda": D.float16}
_SUPPORTED = {"cpu": (D.bfloat16, D.float16), "cuda": (D.float16, D.bfloat16)}


def is_autocast_available(device_type: str) -> bool:
    """Whether autocast supports `device_type` ('cpu' and 'cuda')."""
    return device_type in _DEFAULT_DTYPES


def is_autocast_enabled(device_type: str | None = None) -> bool:
    """Whether an autocast region is open on `device_type` (default 'cuda', as torch's)."""
    return (device_type or "cuda") in AutocastState.dtypes


def get_autocast_dtype(device_type: str) -> D.dtype:
    """The lower-precision dtype autocast uses on `device_type` (its default outside a region)."""
    return AutocastState.dtypes.get(device_type, _DEFAULT_DTYPES.get(device_type, D.float16))


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
        self.fast_dtype = _DEFAULT_DTYPES[device_type] if dtype is None else D.to_dtype(dtype)
        self._enabled = bool(enabled)
        if self._enabled and self.fast_dtype not in _SUPPORTED[device_type]:
            names = ", ".join(f"torch.{d.name}" for d in _SUPPORTED[device_type])
            warnings.warn(f"In {device_type.upper()} autocast, but the target dtype is not "
                          f"supported. Disabling autocast.\n{device_type.upper()} Autocast only "
                          f"supports dtypes of {names} currently.", UserWarning, stacklevel=2)
            self._enabled = False
        self._saved: list = []

    def __enter__(self):
        self._saved.append(AutocastState.dtypes.get(self.device))
        dtypes = dict(AutocastState.dtypes)
        if self._enabled:
            dtypes[self.device] = self.fast_dtype
        else:
            dtypes.pop(self.device, None)
        _set(dtypes)
        return self

    def __exit__(self, *exc) -> bool:
        previous = self._saved.pop()
        dtypes = dict(AutocastState.dtypes)
        if previous is None:
            dtypes.pop(self.device, None)
        else:
            dtypes[self.device] = previous
        _set(dtypes)
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def run(*args, **kwargs):
            with self:
                return func(*args, **kwargs)
        return run


def _set(dtypes: dict) -> None:
    AutocastState.dtypes = dtypes
    AutocastState.active = bool(dtypes)
