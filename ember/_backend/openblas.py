"""NumPy's OpenBLAS reached through ctypes, so compiled graphs can run their matrix products
on numba's threads (gemm.threaded) instead of OpenBLAS's own.

Two thread pools must not take turns on the cores: each keeps its idle workers spinning
after its work (OpenBLAS's for about 0.1 s, numba's OpenMP ones for some ms), so the other's
threads wait for a scheduler slice: a 1024x128x512 product on OpenBLAS's threads followed by
a numba parallel loop took 8.0 ms, the two run apart 1.8 ms. So a graph (`in_graph`) holds
OpenBLAS to one thread, and only while its workers sleep: no BLAS op ran outside a graph for
SPIN seconds (apply calls `used()` for OpDef.blas ops). Its sleeping workers stay asleep:
setting the thread count back on return wakes none. (A graph that did not take over, right
after an eager product, leaves OpenBLAS's workers spinning; the first graph to take over
within their 0.1 s shares the cores with them once.) While a graph runs, products that other
Python threads start through NumPy also run on one OpenBLAS thread.

Only OpenBLAS's 64-bit-integer build with NumPy's symbol names (the `scipy_openblas64` that
NumPy's wheels bundle) is used; with any other BLAS, or without numba, graphs run their
products as eager does."""
from __future__ import annotations

import ctypes
import functools
import glob
import importlib
import os
import threading
import time

import numpy as np

from .accel import cpu_fuser

SPIN = 0.1  # seconds OpenBLAS's workers spin after their last call (2**28 cycles)
THREADED_MIN = 1 << 15  # elements from which a loop splits over the (spinning) threads
_PREFIX, _SUFFIX = "scipy_", "64_"


class _State:
    depth = 0  # graphs running on one OpenBLAS thread (in this and other Python threads)
    outside = -SPIN  # time.monotonic() of the last BLAS op outside a graph
    before = 0  # OpenBLAS's thread count when the first of them started


_lock = threading.Lock()


def used() -> None:
    """Note a BLAS op run outside a graph: OpenBLAS's workers spin for SPIN seconds after."""
    _State.outside = time.monotonic()


def threaded() -> bool:
    """Whether matrix products should run on numba's threads now (inside `in_graph`)."""
    return _State.depth > 0


@functools.cache
def _library():
    """(set_num_threads, get_num_threads, {dtype: cblas gemm address}) of NumPy's bundled
    64-bit OpenBLAS, or None."""
    here = os.path.dirname(np.__file__)
    for path in (glob.glob(os.path.join(here, os.pardir, "numpy.libs", "*openblas64*"))
                 + glob.glob(os.path.join(here, ".dylibs", "*openblas64*"))):
        try:
            lib = ctypes.CDLL(path)
            config = getattr(lib, f"{_PREFIX}openblas_get_config{_SUFFIX}")
            setter = getattr(lib, f"{_PREFIX}openblas_set_num_threads{_SUFFIX}")
            getter = getattr(lib, f"{_PREFIX}openblas_get_num_threads{_SUFFIX}")
            gemms = {np.dtype(np.float32): getattr(lib, f"{_PREFIX}cblas_sgemm{_SUFFIX}"),
                     np.dtype(np.float64): getattr(lib, f"{_PREFIX}cblas_dgemm{_SUFFIX}")}
        except (OSError, AttributeError):
            continue
        config.restype = ctypes.c_char_p
        if b"USE64BITINT" not in (config() or b""):
            continue
        setter.argtypes, setter.restype = [ctypes.c_int], None
        getter.argtypes, getter.restype = [], ctypes.c_int
        return setter, getter, {d: ctypes.cast(f, ctypes.c_void_p).value for d, f in gemms.items()}
    return None


def gemm_address(dtype) -> int | None:
    """The address of cblas_sgemm/dgemm for `dtype`, or None."""
    lib = _library()
    return None if lib is None else lib[2].get(dtype)


@functools.cache
def _spinning_pool() -> bool:
    """Whether numba's parallel loops run on a pool that starts them in microseconds (OpenMP
    or TBB; its `workqueue` layer took 79 us a loop, more than the split saves)."""
    import numba
    if numba.config.THREADING_LAYER == "workqueue":
        return False
    for pool in ("tbbpool", "omppool"):
        try:
            importlib.import_module(f"numba.np.ufunc.{pool}")
        except ImportError:
            continue
        return True
    return False


def _take_over() -> bool:
    """Whether a graph starting now should run on numba's threads (see the module doc)."""
    if _State.depth or time.monotonic() - _State.outside < SPIN or cpu_fuser() != "numba" \
            or _library() is None or not _spinning_pool():
        return False
    import numba
    return numba.get_num_threads() > 1


def in_graph(fn):
    """fn (a compiled CPU graph's function) run with OpenBLAS held to one thread and its
    products and loops on numba's threads, when that pays (`_take_over`, and an input of
    THREADED_MIN elements or more); otherwise as it is."""
    def run(inputs, state):
        if not any(getattr(a, "size", 0) >= THREADED_MIN for a in inputs) or not _take_over():
            return fn(inputs, state)  # (small inputs: small work, which the switch outweighs)
        setter, getter, _ = _library()
        with _lock:
            if not _State.depth:
                _State.before = getter()
                setter(1)
            _State.depth += 1
        try:
            return fn(inputs, state)
        finally:
            with _lock:
                _State.depth -= 1
                if not _State.depth:
                    setter(_State.before)
    run.__wrapped__ = fn
    return run
