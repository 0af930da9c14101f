"""Scatter kernels: combine values into an array at flat, possibly repeated, positions.

NumPy does it with `ufunc.at` (fast since NumPy 1.25; older releases use bincount for float sums);
CuPy with its atomic scatters (ufunc.at, or cupyx's scatter_* before CuPy 13) for the dtypes CUDA
atomics cover, and otherwise by widening
the dtype or by rounds in which no position repeats.
"""
from __future__ import annotations

import numpy as np

_UFUNCS = {"sum": np.add, "prod": np.multiply, "amax": np.maximum, "amin": np.minimum}
_UFUNC_NAMES = {name: ufunc.__name__ for name, ufunc in _UFUNCS.items()}
_SLOW_UFUNC_AT = np.lib.NumpyVersion(np.__version__) < "1.25.0"
# dtypes CuPy's atomic scatter kernels accept, per reduction.
_CUPY_ATOMIC = {"sum": ("scatter_add", {"int32", "uint32", "uint64", "float16", "float32",
                                        "float64"}),
                # (float64 max/min are left to the rounds: CuPy's lose float64 precision)
                "amax": ("scatter_max", {"int32", "uint32", "uint64", "float32"}),
                "amin": ("scatter_min", {"int32", "uint32", "uint64", "float32"})}


def reduce_at(out, index, values, reduce: str = "sum"):
    """Combine `values` into the 1-D array `out` in place: for each k,
    out[index[k]] = op(out[index[k]], values[k]), with op one of 'sum', 'prod', 'amax', 'amin'.

    Repeated positions all take part (unlike `out[index] += values`). `index` holds
    non-negative int64 positions and `values` has `out`'s dtype.
    """
    if isinstance(out, np.ndarray):
        if _SLOW_UFUNC_AT and reduce == "sum" and out.dtype.kind == "f":
            out += np.bincount(index, weights=values, minlength=out.size).astype(out.dtype)
        else:
            _UFUNCS[reduce].at(out, index, values)
        return out
    _cupy_scatter(out, index, values, reduce)
    return out


def _cupy_scatter(out, index, values, reduce):
    import cupy
    import cupyx
    name = out.dtype.name
    if reduce == "sum" and name == "int64":
        # Two's complement addition is the same bit pattern in uint64, which CUDA can add.
        out, values, name = out.view(cupy.uint64), values.view(cupy.uint64), "uint64"
    fn, dtypes = _CUPY_ATOMIC.get(reduce, (None, ()))
    if name in dtypes:
        # CuPy 13+ spells these ufunc.at (cupyx.scatter_* is deprecated there).
        at = getattr(getattr(cupy, _UFUNC_NAMES[reduce]), "at", None)
        (at or getattr(cupyx, fn))(out, index, values)
        return
    wide = _widened(out.dtype) if fn is not None else None
    if wide is not None:
        acc = out.astype(wide)
        _cupy_scatter(acc, index, values.astype(wide), reduce)
        out[...] = acc.astype(out.dtype) if out.dtype.kind != "b" else acc != 0
        return
    scatter_by_rounds_(out, index, values, _UFUNC_NAMES[reduce], cupy)


def _widened(dtype):
    """A dtype CUDA atomics cover that holds every value of `dtype` exactly (or None)."""
    if dtype.itemsize <= 2 and dtype.kind in "biu":
        return np.int32
    if dtype.itemsize == 2:
        return np.float32
    return None


def scatter_by_rounds_(out, index, values, ufunc_name: str, xp):
    """The portable fallback: sort the positions, then apply the ufunc in rounds where every
    position occurs at most once (round r takes each position's r-th value)."""
    if index.size == 0:
        return out
    order = xp.argsort(index, kind="stable") if xp is np else xp.argsort(index)
    index, values = index[order], values[order]
    rank = xp.arange(index.size) - xp.searchsorted(index, index, side="left")
    combine = getattr(xp, ufunc_name)
    for r in range(int(rank.max()) + 1):
        pick = rank == r
        at = index[pick]
        out[at] = combine(out[at], values[pick])
    return out
