"""`ember.linalg`: torch.linalg's functions (norms, det, inv, solve, factorizations, products).

    >>> import ember
    >>> A = ember.tensor([[4., 2.], [2., 3.]])
    >>> ember.linalg.solve(A, ember.tensor([2., 1.]))
    tensor([0.5000, 0.0000])

The implementations live in ember/_ops/linalg.py and ember/_ops/lu.py with the rest of the
op registry.
"""
from __future__ import annotations

from ._ops.linalg import (LinAlgError, cholesky, cholesky_ex, cond, det, diagonal, eig, eigh,
                          eigvals, eigvalsh, householder_product, inv, linalg_cross, linalg_qr,
                          linalg_slogdet, linalg_svd, linalg_svdvals, linalg_vander, lstsq,
                          matmul, matrix_exp, matrix_norm, matrix_power, matrix_rank,
                          multi_dot, norm, pinv, solve, tensorinv,
                          tensorsolve, vecdot, vector_norm)
from ._ops.lu import (inv_ex, ldl_factor, ldl_factor_ex, ldl_solve, linalg_lu, linalg_lu_solve,
                      lu_factor, lu_factor_ex, solve_ex, solve_triangular)

cross = linalg_cross
lu = linalg_lu
lu_solve = linalg_lu_solve
qr = linalg_qr
slogdet = linalg_slogdet
svd = linalg_svd
svdvals = linalg_svdvals
vander = linalg_vander

__all__ = ["LinAlgError", "cholesky", "cholesky_ex", "cond", "cross", "det", "diagonal", "eig",
           "eigh", "eigvals", "eigvalsh", "householder_product", "inv", "inv_ex", "ldl_factor",
           "ldl_factor_ex", "ldl_solve", "lstsq", "lu", "lu_factor", "lu_factor_ex", "lu_solve",
           "matmul", "matrix_exp", "matrix_norm", "matrix_power", "matrix_rank", "multi_dot",
           "norm", "pinv", "qr", "slogdet", "solve", "solve_ex", "solve_triangular", "svd",
           "svdvals", "tensorinv", "tensorsolve", "vander", "vecdot", "vector_norm"]
