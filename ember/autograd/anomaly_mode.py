"""Anomaly detection: record each op's forward traceback and fail on NaN gradients.

With anomaly mode on, `apply` keeps the stack of every recorded op, and the backward engine
raises as soon as a node returns NaN, naming the node and showing where its forward was called.
"""
from __future__ import annotations

import functools
import warnings

from .grad_mode import Anomaly

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled",
           "is_anomaly_check_nan_enabled"]


def is_anomaly_enabled() -> bool:
    """True while anomaly detection is on."""
    return Anomaly.enabled


def is_anomaly_check_nan_enabled() -> bool:
    """True while anomaly detection also checks backward results for NaN."""
    return Anomaly.check_nan


class _AnomalySwitch:
    """Sets the anomaly flags on entry and restores the previous ones on exit; also a
    decorator."""

    def __init__(self, mode: bool, check_nan: bool):
        self.mode = bool(mode)
        self.check_nan = bool(check_nan)
        self._prev = None

    def __enter__(self):
        self._prev = (Anomaly.enabled, Anomaly.check_nan)
        Anomaly.enabled = self.mode
        Anomaly.check_nan = self.check_nan
        return None

    def __exit__(self, *exc):
        Anomaly.enabled, Anomaly.check_nan = self._prev
        return False

    def __call__(self, func):
        mode, check_nan = self.mode, self.check_nan

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with _AnomalySwitch(mode, check_nan):
                return func(*args, **kwargs)
        return wrapper


class detect_anomaly(_AnomalySwitch):
    """Context manager (and decorator) enabling anomaly detection for the autograd engine.

    Inside it, a backward node that returns NaN raises a RuntimeError naming the node and
    showing the traceback of the forward call that created it.

    >>> import ember, warnings
    >>> warnings.simplefilter("ignore")
    >>> x = ember.tensor([0.0], requires_grad=True)
    >>> with ember.autograd.detect_anomaly():
    ...     y = (x / x).sum()
    ...     try:
    ...         y.backward()
    ...     except RuntimeError as e:
    ...         print("DivBackward0" in str(e))
    True
    """

    def __init__(self, check_nan: bool = True):
        super().__init__(True, check_nan)
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime "
                      "and should only be enabled for debugging.", stacklevel=2)


class set_detect_anomaly(_AnomalySwitch):
    """Turn anomaly detection on or off: takes effect at once, and as a context manager restores
    the previous setting on exit."""

    def __init__(self, mode: bool, check_nan: bool = True):
        super().__init__(mode, check_nan)
        self._prev = (Anomaly.enabled, Anomaly.check_nan)
        Anomaly.enabled = self.mode
        Anomaly.check_nan = self.check_nan

    def __enter__(self):
        return None
