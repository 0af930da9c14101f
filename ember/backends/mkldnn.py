"""torch.backends.mkldnn: oneDNN's switches. ember computes with NumPy/CuPy, not oneDNN, so
`is_available()` is False (scripts then keep to the ordinary tensor paths); the flags are kept
for code that sets and reads them, and `flags()` sets them for a block.

    >>> import ember
    >>> with ember.backends.mkldnn.flags(enabled=False):
    ...     ember.backends.mkldnn.enabled
    False
"""
from __future__ import annotations

import contextlib
import sys
import types
from typing import Iterator

_PRECISIONS = ("none", "ieee", "tf32", "bf16")


def _checked_precision(value: str) -> str:
    if value not in _PRECISIONS:
        raise RuntimeError(f"Unknown precision: {value}")
    return value


class _FP32Precision:
    """The float32 precision of one family of oneDNN kernels (matmul, conv, rnn)."""

    def __init__(self) -> None:
        self._value = "none"

    @property
    def fp32_precision(self) -> str:
        return self._value

    @fp32_precision.setter
    def fp32_precision(self, value: str) -> None:
        self._value = _checked_precision(value)


enabled = True
deterministic = False
allow_tf32 = False
matmul = _FP32Precision()
conv = _FP32Precision()
rnn = _FP32Precision()
_fp32_precision = "none"


def is_available() -> bool:
    """False: ember's kernels do not run on oneDNN."""
    return False


class _MkldnnModule(types.ModuleType):
    """This module, with `fp32_precision` checked when set and passed on to each family."""

    @property
    def fp32_precision(self) -> str:
        return _fp32_precision

    @fp32_precision.setter
    def fp32_precision(self, value: str) -> None:
        global _fp32_precision
        _fp32_precision = _checked_precision(value)
        for family in (matmul, conv, rnn):
            family.fp32_precision = value


sys.modules[__name__].__class__ = _MkldnnModule
_module = sys.modules[__name__]


def set_flags(_enabled=None, _deterministic=None, _allow_tf32=None,
              _fp32_precision="none") -> tuple:
    """Set the given flags (None leaves one as it is); returns the previous values."""
    previous = (enabled, deterministic, allow_tf32, _module.fp32_precision)
    for name, value in (("enabled", _enabled), ("deterministic", _deterministic),
                        ("allow_tf32", _allow_tf32)):
        if value is not None:
            setattr(_module, name, value)
    if _fp32_precision is not None:
        _module.fp32_precision = _fp32_precision
    return previous


@contextlib.contextmanager
def flags(enabled: bool = False, deterministic: bool = False, allow_tf32: bool = True,
          fp32_precision: str = "none") -> Iterator[None]:
    """Set the flags inside the block and restore them after (torch's defaults: a block with
    oneDNN disabled)."""
    previous = set_flags(enabled, deterministic, allow_tf32, fp32_precision)
    try:
        yield
    finally:
        set_flags(*previous)
