"""ember.multiprocessing: the standard `multiprocessing` module plus tensor sharing.

Everything `multiprocessing` offers is re-exported (Process, Queue, Pool, get_context, ...), with
`spawn`/`start_processes` to run a function in worker processes and re-raise a child's exception
in the parent, and the sharing-strategy switches torch scripts set. A tensor made shared with
`Tensor.share_memory_()` before a fork is written by the child and seen by the parent.

>>> import ember.multiprocessing as mp
>>> mp.get_sharing_strategy() in mp.get_all_sharing_strategies()
True
"""
from __future__ import annotations

import multiprocessing
from multiprocessing import *  # noqa: F403  (this module is multiprocessing, extended)

from .spawn import (ProcessContext, ProcessException, ProcessExitedException,
                    ProcessRaisedException, spawn, start_processes)

__all__ = ["set_sharing_strategy", "get_sharing_strategy", "get_all_sharing_strategies",
           "spawn", "start_processes", "ProcessContext", "ProcessException",
           "ProcessRaisedException", "ProcessExitedException", *multiprocessing.__all__]

_ALL_STRATEGIES = {"file_descriptor", "file_system"}
_strategy = "file_descriptor"


def set_sharing_strategy(new_strategy: str) -> None:
    """Choose how tensors are shared between processes ('file_descriptor' or 'file_system')."""
    global _strategy
    if new_strategy not in _ALL_STRATEGIES:
        raise AssertionError(f"invalid sharing strategy {new_strategy!r}, "
                             f"expected one of {_ALL_STRATEGIES}")
    _strategy = new_strategy


def get_sharing_strategy() -> str:
    """The current strategy for sharing tensors between processes."""
    return _strategy


def get_all_sharing_strategies() -> set[str]:
    """The sharing strategies this system supports."""
    return set(_ALL_STRATEGIES)
