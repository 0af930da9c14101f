"""`ember.linalg`: torch.linalg's functions (norms, det, inv, solve, factorizations, products).

    >>> import ember
    >>> A = ember.tensor([[4., 2.], [2., 3.]])
    >>> ember.linalg.solve(A, ember.tensor([2., 1.]))
    tensor([0.5000, 0.0000])

The implementations live in ember/_ops/linalg.py with the rest of the op registry.
"""
from __future__ import annotations

from ._ops.linalg import (LinAlgError, cholesky, cond, det, diagonal, eig, eigh, eigvals,
                          eigvalsh, inv, linalg_cross, linalg_qr, linalg_slogdet, linalg_svd,
                          linalg_svdvals, linalg_vander, lstsq, matmul, matrix_exp,
                          matrix_norm, matrix_power, matrix_rank, multi_dot, norm, pinv, solve,
                          solve_triangular, vecdot, vector_norm)

cross = linalg_cross
qr = linalg_qr
slogdet = linalg_slogdet
svd = linalg_svd
svdvals = linalg_svdvals
vander = linalg_vander

__all__ = ["LinAlgError", "cholesky", "cond", "cross", "det", "diagonal", "eig", "eigh",
           "eigvals", "eigvalsh", "inv", "lstsq", "matmul", "matrix_exp", "matrix_norm",
           "matrix_power", "matrix_rank", "multi_dot", "norm", "pinv", "qr", "slogdet", "solve",
           "solve_triangular", "svd", "svdvals", "vander", "vecdot", "vector_norm"]
