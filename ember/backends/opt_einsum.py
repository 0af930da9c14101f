"""torch.backends.opt_einsum: how einsum orders the contractions of three or more operands.

torch plans with the opt_einsum package when it is installed; ember plans with NumPy's
einsum_path, which offers the same strategies, so it is always available. `enabled = False`
contracts left to right; `strategy` is 'auto' (plan when the operands are large enough to
repay it), 'greedy' or 'optimal'.

    >>> import ember
    >>> with ember.backends.opt_einsum.flags(strategy="optimal"):
    ...     ember.backends.opt_einsum.strategy
    'optimal'
"""
from __future__ import annotations

import contextlib
import sys
import types
from typing import Any, Iterator

from .._ops.linalg import einsum_planning as _planning

_STRATEGIES = ("auto", "greedy", "optimal")


def is_available() -> bool:
    """True: ember's contraction planning comes with NumPy."""
    return True


def get_opt_einsum() -> Any:
    """The opt_einsum package if it is installed, else None (ember itself does not use it)."""
    try:
        import opt_einsum
    except ImportError:
        return None
    return opt_einsum


def _set_enabled(value: bool) -> None:
    _planning["enabled"] = bool(value)


def _set_strategy(value: str) -> None:
    if not _planning["enabled"]:
        raise ValueError(f"opt_einsum is not enabled, so setting a `strategy` to {value} will "
                         "not be meaningful. ember.einsum contracts from left to right then. "
                         "Set `enabled` to True as well or leave `strategy` unset.")
    if value not in _STRATEGIES:
        raise ValueError(f"`strategy` must be one of the following: [auto, greedy, optimal] "
                         f"but is {value}")
    _planning["strategy"] = value


class _OptEinsumModule(types.ModuleType):
    """This module, with `enabled` and `strategy` read from and checked into einsum's
    planning settings."""

    enabled = property(lambda self: _planning["enabled"], lambda self, v: _set_enabled(v))
    strategy = property(lambda self: _planning["strategy"], lambda self, v: _set_strategy(v))


sys.modules[__name__].__class__ = _OptEinsumModule


def set_flags(_enabled: bool | None = None, _strategy: str | None = None) -> tuple:
    """Set the given flags (None leaves one as it is); returns the previous values."""
    previous = (_planning["enabled"], _planning["strategy"])
    if _enabled is not None:
        _set_enabled(_enabled)
    if _strategy is not None:
        _set_strategy(_strategy)
    return previous


@contextlib.contextmanager
def flags(enabled: bool | None = None, strategy: str | None = None) -> Iterator[None]:
    """Set `enabled` and `strategy` inside the block and restore them after."""
    previous = set_flags(enabled, strategy)
    try:
        yield
    finally:
        _planning.update(enabled=previous[0], strategy=previous[1])
