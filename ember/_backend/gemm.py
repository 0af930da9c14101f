"""Matrix products on raw arrays where the BLAS call NumPy makes is slow.

A batch of row-major matrices times a batch of column-major ones (attention's q @ k.T and,
in its backward, grad @ v.T) runs 1.3x faster with the right operand copied row-major first:
(64 x 64x32)(64 x 32x64) 261 -> 204 us with the copy. Where that operand is large against the
product (fewer rows on the left than columns on the right) the copy costs more than it saves.

A few rows times a transposed row-major matrix (x @ W.T: every nn.Linear and RNN step at a
small batch) is 1.3-2.5x faster computed as the transposed product (W @ x.T).T with OpenBLAS,
single-threaded: (20x256)(256x1024) 232 -> 156 us, (4x256)(256x1024) 153 -> 64 us. The
result is copied back to row-major (cheap for few rows), as callers expect. (Writing the
product into a transposed `out=` does not help: NumPy then makes the slow call.)

Inside compiled graphs that hold OpenBLAS to one thread (openblas.in_graph), products run on
numba's threads instead (`threaded`).
"""
from __future__ import annotations

import functools
import math

import numpy as np

from . import openblas

FEW_ROWS = 32  # beyond this the transposing copy costs more than the product saves
# multiply-adds below which a product stays on the calling thread (NumPy's call, OpenBLAS held
# to one thread): a second thread's start costs more than it saves
THREADED_WORK = 1 << 19


def transposes(a, b) -> bool:
    """Whether a @ b (2-D NumPy arrays) is faster as (b.T @ a.T).T."""
    return (isinstance(a, np.ndarray) and 2 <= a.shape[0] <= FEW_ROWS
            and b.flags.f_contiguous and not b.flags.c_contiguous and a.dtype == b.dtype
            and a.dtype in (np.float32, np.float64))


def matmul(xp, a, b, out=None):
    """a @ b for 2-D arrays, into `out` (C-contiguous) when given."""
    if openblas.threaded():
        done = threaded(a, b, out)
        if done is not None:
            return done
    if not transposes(a, b):
        return xp.matmul(a, b, out=out)
    product = (b.T @ a.T).T
    if out is None:
        return np.ascontiguousarray(product)
    out[...] = product
    return out


def batched(xp, a, b, out=None):
    """a @ b where either operand has batch dimensions (NumPy arrays of one float dtype),
    into `out` when given (any strides: BLAS writes rows of unit stride in place)."""
    if openblas.threaded():
        done = threaded(a, b, out)
        if done is not None:
            return done
    if (isinstance(a, np.ndarray) and a.ndim >= 2 and b.ndim >= 2 and a.dtype == b.dtype
            and a.dtype in (np.float32, np.float64) and a.strides[-1] == a.itemsize
            and b.strides[-2] == b.itemsize and b.strides[-1] != b.itemsize
            and a.shape[-2] >= b.shape[-1]):
        b = np.ascontiguousarray(b)
    return xp.matmul(a, b, out=out)


def _cblas(x):
    """(CBLAS transpose flag, leading dimension) that describe x's last two dims in place,
    or None when neither its rows nor its columns are unit-stride."""
    item = x.itemsize
    rows, cols = x.shape[-2:]
    s0, s1 = x.strides[-2:]
    if s1 == item and s0 % item == 0 and s0 >= cols * item:
        return 111, s0 // item
    if s0 == item and s1 % item == 0 and s1 >= rows * item:
        return 112, s1 // item
    return None


def _steps(x, batch):
    """Byte steps of x's batch dims along `batch` (0 where x broadcasts)."""
    lead = len(batch) - (x.ndim - 2)
    return [0 if d < lead or x.shape[d - lead] == 1 else x.strides[d - lead]
            for d in range(len(batch))]


def threaded(a, b, out=None):
    """a @ b on numba's threads, each calling OpenBLAS's single-threaded GEMM: a 2-D product
    split by rows, a batch spread over the threads (operands in any layout with unit-stride
    rows or columns, batch dims broadcast); None where that does not apply (other dtypes or
    layouts, empty or small products, a BLAS other than NumPy's OpenBLAS)."""
    if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
            and a.ndim >= 2 and b.ndim >= 2 and a.shape[-1] == b.shape[-2]):
        return None
    address = openblas.gemm_address(a.dtype)
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    fa, fb = _cblas(a), _cblas(b)
    batch = a.shape[:-2]
    if batch != b.shape[:-2]:
        batch = np.broadcast_shapes(batch, b.shape[:-2])
    if (address is None or fa is None or fb is None or 0 in (m, n, k)
            or math.prod(batch) * m * n * k < THREADED_WORK):
        return None
    if out is None:
        out = np.empty(batch + (m, n), a.dtype)
        ldo = n
    else:
        fo = _cblas(out)
        if out.shape != batch + (m, n) or out.dtype != a.dtype or fo is None or fo[0] != 111:
            return None
        ldo = fo[1]
    kernels, threads = _numba_gemm()
    one = a.dtype.type(1)
    if math.prod(batch) == 1:  # a single product: its rows split over the threads
        a, b = a.reshape(a.shape[-2:]), b.reshape(b.shape[-2:])
        out2 = out.reshape(out.shape[-2:])
        kernels.gemm_rows(address, a.ctypes.data, fa[0], fa[1], a.strides[0], b.ctypes.data,
                          fb[0], fb[1], out2.ctypes.data, ldo, out2.strides[0], m, n, k, one,
                          one - one, min(threads, m))
        return out
    kernels.gemm_stack(address, a.ctypes.data, fa[0], fa[1], np.array(_steps(a, batch)),
                       b.ctypes.data, fb[0], fb[1], np.array(_steps(b, batch)), out.ctypes.data,
                       ldo, np.array(out.strides[:-2]), np.array(batch), m, n, k, one,
                       one - one)
    return out


@functools.cache
def _numba_gemm():
    """(the numba GEMM kernels, numba's thread count), loaded on first use."""
    import numba

    from . import _numba_gemm as kernels
    return kernels, numba.get_num_threads()
