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
"""
from __future__ import annotations

import numpy as np

FEW_ROWS = 32  # beyond this the transposing copy costs more than the product saves


def transposes(a, b) -> bool:
    """Whether a @ b (2-D NumPy arrays) is faster as (b.T @ a.T).T."""
    return (isinstance(a, np.ndarray) and 2 <= a.shape[0] <= FEW_ROWS
            and b.flags.f_contiguous and not b.flags.c_contiguous and a.dtype == b.dtype
            and a.dtype in (np.float32, np.float64))


def matmul(xp, a, b, out=None):
    """a @ b for 2-D arrays, into `out` (C-contiguous) when given."""
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
    if (isinstance(a, np.ndarray) and a.ndim >= 2 and b.ndim >= 2 and a.dtype == b.dtype
            and a.dtype in (np.float32, np.float64) and a.strides[-1] == a.itemsize
            and b.strides[-2] == b.itemsize and b.strides[-1] != b.itemsize
            and a.shape[-2] >= b.shape[-1]):
        b = np.ascontiguousarray(b)
    return xp.matmul(a, b, out=out)
