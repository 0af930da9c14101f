"""Keeping freed host memory for the next allocation.

glibc hands blocks above its mmap threshold back to the operating system when they are freed,
so a loop that allocates the same large temporaries every iteration (a training step) faults
their pages in again each time. Measured on the GPT of benchmarks/bench_compile.py: a compiled
step took 85-108 ms from run to run (whether a temporary came back from the heap or from a
fresh mapping), and 78.5 ms steadily once freed blocks stayed in the heap; an eager step took
108 ms, and 85.5 ms with them kept. torch's caching allocator keeps GPU memory the same way.
`retain_freed_memory` is called at the first backward pass and when ember.compile builds its
first graph, so a process that trains keeps its working set (its resident memory stays near
its peak); EMBER_RETAIN_MEMORY=0 turns it off. Elsewhere than glibc it does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_done: list[bool] = []


def retain_freed_memory() -> bool:
    """Ask glibc to keep freed blocks (up to 1 GiB each) for reuse instead of unmapping them;
    True when the setting is in effect. Done once per process."""
    if not _done:
        _done.append(_configure())
    return _done[0]


def _configure() -> bool:
    if not sys.platform.startswith("linux") or os.environ.get("EMBER_RETAIN_MEMORY") == "0":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False  # not glibc (musl has no mallopt)
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    for size in (1 << 30, 32 << 20):  # older glibc caps the threshold at 32 MiB
        if mallopt(_M_MMAP_THRESHOLD, size) == 1:
            return mallopt(_M_TRIM_THRESHOLD, 2 * size) == 1
    return False
