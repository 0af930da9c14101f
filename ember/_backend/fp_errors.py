"""NumPy's floating-point warnings ("divide by zero encountered in log", "overflow in exp")
silenced while ember's own kernels run. torch returns inf and nan without a word, and under
`-W error` such a warning becomes a NumPy traceback from deep inside ember. Only op kernels
run quiet (`apply` brackets them); the user's own NumPy code keeps its settings.

NumPy 2 keeps its error state in a context variable, so setting it costs ~0.1 us where
`np.errstate` costs ~1 us per op; older NumPy gets errstate.
"""
from __future__ import annotations

import functools

import numpy as np

try:
    from numpy._core import _ufunc_config as _config
    _state = _config._extobj_contextvar
except (ImportError, AttributeError):  # NumPy 1.x
    _state = None

if _state is not None:
    with np.errstate(all="ignore"):
        _QUIET = _state.get()

    # quiet() silences floating-point warnings and returns what restore(token) needs. Bound C
    # callables rather than Python functions: every op call makes this pair of calls.
    quiet = functools.partial(_state.set, _QUIET)
    restore = _state.reset
else:
    def quiet():
        """Silence floating-point warnings; returns what `restore` needs."""
        context = np.errstate(all="ignore")
        context.__enter__()
        return context

    def restore(token) -> None:
        token.__exit__(None, None, None)
