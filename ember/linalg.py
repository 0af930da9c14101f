"""`ember.linalg`: torch.linalg's functions (norms, det, inv, solve, factorizations, products).

    >>> import ember
    >>> A = ember.tensor([[4., 2.], [2., 3.]])
    >>> ember.linalg.solve(A, ember.tensor([2., 1.]))
    tensor([0.5000, 0.0000])

The implementations live in ember/_ops/linalg.py with the rest of the op registry.
"""
from __future__ import annotations

from ._ops.linalg import (LinAlgError, cholesky, det, diagonal, eigh, eigvalsh, inv, linalg_cross,
                          linalg_qr, linalg_slogdet, linalg_svd, linalg_svdvals, matmul,
                          matrix_norm, matrix_power, multi_dot, norm, pinv, solve, vecdot,
                          vector_norm)

cross = linalg_cross
qr = linalg_qr
slogdet = linalg_slogdet
svd = linalg_svd
svdvals = linalg_svdvals

__all__ = ["LinAlgError", "cholesky", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv",
           "matmul", "matrix_norm", "matrix_power", "multi_dot", "norm", "pinv", "qr", "slogdet",
           "solve", "svd", "svdvals", "vecdot", "vector_norm"]
