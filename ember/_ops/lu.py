"""The pivoted factorizations and the triangular solvers: LU with partial pivoting
(linalg.lu_factor, lu, lu_solve, solve_ex, inv_ex; torch.lu, lu_solve, lu_unpack), the
triangular solves built on it (triangular_solve, cholesky_solve, cholesky_inverse) and the
Bunch-Kaufman LDL factorization (linalg.ldl_factor, ldl_solve).

NumPy has no LU: `_getrf` is LAPACK's getrf written as row operations, one column step at a
time over the whole batch, and every LU result here comes from it. Pivots are 1-based int32,
as LAPACK's and torch's.
"""
from __future__ import annotations

import warnings
from collections import namedtuple

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor
from ..testing.opinfo import Arg, Sample
from .creation import eye, zeros
from .dispatch import apply, write_out
from .linalg import (LinAlgError, _check_matrix, _check_tensor, _scalar_name,
                     _solve_operands, raise_for_info)
from .registry import OpDef, composite, register, tensor_method
from .shape import cat

lu_factor_result = namedtuple("linalg_lu_factor", ["LU", "pivots"])
lu_factor_ex_result = namedtuple("linalg_lu_factor_ex", ["LU", "pivots", "info"])
lu_result = namedtuple("linalg_lu", ["P", "L", "U"])
lu_unpack_result = namedtuple("lu_unpack", ["P", "L", "U"])
lu_with_info_result = namedtuple("_lu_with_info", ["LU", "pivots", "info"])
solve_ex_result = namedtuple("linalg_solve_ex", ["result", "info"])
inv_ex_result = namedtuple("linalg_inv_ex", ["inverse", "info"])
triangular_solve_result = namedtuple("triangular_solve", ["solution", "cloned_coefficient"])
ldl_factor_result = namedtuple("linalg_ldl_factor", ["LD", "pivots"])
ldl_factor_ex_result = namedtuple("linalg_ldl_factor_ex", ["LD", "pivots", "info"])


# ---- kernels on raw arrays ---------------------------------------------------------------
def _magnitude(xp, x):
    """LAPACK's pivot size: |x|, or |Re x| + |Im x| for complex x (its cheaper cabs1)."""
    return xp.abs(x.real) + xp.abs(x.imag) if x.dtype.kind == "c" else xp.abs(x)


def _getrf(xp, A):
    """(LU, pivots, info) of A (..., m, n): Gaussian elimination with partial pivoting, as
    LAPACK's getrf. info is the 1-based column of the first exactly-zero pivot, 0 if none."""
    *batch, m, n = A.shape
    k = min(m, n)
    LU = xp.array(A, copy=True).reshape(-1, m, n)
    b = xp.arange(LU.shape[0])
    pivots = xp.zeros((LU.shape[0], k), dtype=xp.int32)
    info = xp.zeros(LU.shape[0], dtype=xp.int32)
    for j in range(k):
        p = j + xp.argmax(_magnitude(xp, LU[:, j:, j]), axis=-1)
        pivots[:, j] = p + 1
        row = LU[:, j].copy()
        LU[:, j] = LU[b, p]
        LU[b, p] = row
        pivot = LU[:, j, j]
        zero = pivot == 0
        info = xp.where((info == 0) & zero, j + 1, info).astype(xp.int32)
        # a zero pivot is the largest of its column: the column below it is zero already
        LU[:, j + 1:, j] /= xp.where(zero, 1, pivot)[:, None]
        LU[:, j + 1:, j + 1:] -= LU[:, j + 1:, j:j + 1] * LU[:, j:j + 1, j + 1:]
    return (LU.reshape(*batch, m, n), pivots.reshape(*batch, k), info.reshape(batch))


def _permutation(xp, pivots, m):
    """perm with (P^T A)[r] = A[perm[r]]: the row swaps that `pivots` record, in order."""
    *batch, k = pivots.shape
    flat = pivots.reshape(-1, k).astype(xp.int64) - 1
    b = xp.arange(flat.shape[0])
    perm = xp.broadcast_to(xp.arange(m), (flat.shape[0], m)).copy()
    for j in range(k):
        p = flat[:, j]
        row = perm[:, j].copy()
        perm[:, j] = perm[b, p]
        perm[b, p] = row
    return perm.reshape(*batch, m)


def _trsm(xp, T, B, upper: bool, unit: bool):
    """X with T @ X = B, reading only T's upper (or lower) triangle, its diagonal taken as
    ones when `unit`: substitution one row at a time over the batch. A zero on the diagonal
    gives inf/nan, as LAPACK's trtrs, not an error."""
    batch = np.broadcast_shapes(T.shape[:-2], B.shape[:-2])
    T = xp.broadcast_to(T, batch + T.shape[-2:])
    B = xp.broadcast_to(B, batch + B.shape[-2:])
    n = T.shape[-1]
    X = xp.empty(batch + B.shape[-2:], dtype=xp.result_type(T, B))
    for i in (range(n - 1, -1, -1) if upper else range(n)):
        done = slice(i + 1, n) if upper else slice(0, i)
        row = B[..., i, :] - (T[..., i:i + 1, done] @ X[..., done, :])[..., 0, :]
        X[..., i, :] = row if unit else row / T[..., i, i][..., None]
    return X


# ---- argument checks ----------------------------------------------------------------------
def _check_lu_input(op: str, A) -> None:
    """linalg.lu_factor's checks: a floating or complex tensor of (batches of) matrices."""
    _check_tensor(op, "A", 1, A)
    if A._data.ndim < 2:
        raise RuntimeError(f"torch.lu_factor: Expected tensor with 2 or more dimensions. Got "
                           f"size: {list(A._data.shape)} instead")
    if A._dtype.category < D._FLOAT or A._dtype in (D.float16, D.bfloat16):
        raise NotImplementedError(f"\"lu_cpu\" not implemented for '{_scalar_name(A)}'")


def _check_pivot(op: str, pivot: bool) -> None:
    if not pivot:
        raise RuntimeError(f"{op}: LU without pivoting is not implemented on the CPU")


# ---- LU factorization ---------------------------------------------------------------------
def _lu_unpack_data(LU: Tensor):
    """L (m, k) unit lower and U (k, n) upper triangular from LAPACK's packed LU."""
    m, n = LU.shape[-2:]
    k = min(m, n)
    L = LU.tril(-1).narrow(-1, 0, k) + eye(m, k, dtype=LU.dtype, device=LU.device)
    return L, LU.triu().narrow(-2, 0, k)


def _left_inverse_h(T: Tensor, X: Tensor, upper: bool, unit: bool = False) -> Tensor:
    """T^-H @ X for triangular T (upper or lower as stored)."""
    return apply(TriangularSolve, T.mH, X, upper=not upper, unitriangular=unit)


def _right_inverse_h(X: Tensor, T: Tensor, upper: bool) -> Tensor:
    """X @ T^-H for triangular T: (T^-1 X^H)^H."""
    return apply(TriangularSolve, T, X.mH, upper=upper, unitriangular=False).mH


@register("linalg_lu_factor_ex", promote=None, samples=(
    Sample(lambda t, x: t.linalg.lu_factor(x), (Arg((3, 3)),)),
    Sample(lambda t, x: t.linalg.lu_factor_ex(x), (Arg((2, 4, 4)),), name="batched"),
    Sample(lambda t, x: t.linalg.lu_factor(x), (Arg((4, 2)),), name="tall"),
    Sample(lambda t, x: t.linalg.lu_factor(x), (Arg((2, 2, 4)),), name="wide"),
    Sample(lambda t, x: t.linalg.lu(x), (Arg((2, 3, 3)),), name="lu"),
    Sample(lambda t, x: t.linalg.lu(x), (Arg((3, 5)),), name="lu_wide"),
    Sample(lambda t, x: t.lu(x, get_infos=True), (Arg((3, 3)),), name="torch_lu"),
    Sample(lambda t, x: x.lu(), (Arg((3, 4, 2)),), name="method"),
    Sample(lambda t, x: t.linalg.lu_factor_ex(x), (Arg(values=[[1., 2.], [2., 4.]]),),
           grad=False, name="singular")))
class LinalgLuFactorEx(OpDef):
    """A = P L U packed as LAPACK's (LU, pivots, info). With M = L^-1 P^T dA U^-1, dL = L
    tril(M, -1) and dU = triu(M) U; a tall A adds rows of L below, a wide A columns of U
    to the right, each solved against the square part."""

    def forward(ctx, xp, A):
        LU, pivots, info = _getrf(xp, A)
        ctx.save(LU, pivots)
        return LU, pivots, info

    def backward(ctx, g, _pivots, _info):
        LU, pivots = ctx.saved
        m, n = LU.shape[-2:]
        k = min(m, n)
        L, U = _lu_unpack_data(LU)
        gL, gU = g.tril(-1).narrow(-1, 0, k), g.triu().narrow(-2, 0, k)
        L1, U1 = L.narrow(-2, 0, k), U.narrow(-1, 0, k)
        gL1, gU1 = gL.narrow(-2, 0, k), gU.narrow(-1, 0, k)
        L2, gL2 = L.narrow(-2, k, m - k), gL.narrow(-2, k, m - k)
        U2, gU2 = U.narrow(-1, k, n - k), gU.narrow(-1, k, n - k)
        phi = ((L1.mH @ gL1 - gU2 @ U2.mH).tril(-1) + (gU1 @ U1.mH - L2.mH @ gL2).triu())
        gA = _right_inverse_h(_left_inverse_h(L1, phi, False, unit=True), U1, True)
        if n > k:
            gA = cat([gA, _left_inverse_h(L1, gU2, False, unit=True)], -1)
        elif m > k:
            gA = cat([gA, _right_inverse_h(gL2, U1, True)], -2)
        return _permutation_matrix(pivots, m, LU.dtype) @ gA


def _lu_factor_ex(A: Tensor, op: str, check_errors: bool):
    """(LU, pivots, info), raising torch's error for a zero pivot when check_errors."""
    LU, pivots, info = apply(LinalgLuFactorEx, A)
    if check_errors:
        raise_for_info(info, RuntimeError, lambda where, j: (
            f"{op}: {where}U[{j},{j}] is zero and using it on lu_solve would result in a "
            "division by zero. If you still want to perform the factorization, consider "
            "calling linalg.lu(A, pivot) or linalg.lu_factor_ex(A, pivot)"))
    return LU, pivots, info


def lu_factor_ex(A: Tensor, *, pivot: bool = True, check_errors: bool = False, out=None):
    """LU factorization with partial pivoting, A = P L U, packed as (LU, pivots, info): info
    is nonzero where U has a zero diagonal entry (raising instead when check_errors)."""
    _check_lu_input("linalg.lu_factor_ex", A)
    _check_pivot("linalg.lu_factor", pivot)
    result = _lu_factor_ex(A, "torch.linalg.lu_factor_ex", check_errors)
    return write_out(lu_factor_ex_result(*result), out)


def lu_factor(A: Tensor, *, pivot: bool = True, out=None):
    """LU factorization with partial pivoting packed as (LU, pivots), for linalg.lu_solve;
    raises when U has a zero on its diagonal.

    >>> import ember
    >>> LU, pivots = ember.linalg.lu_factor(ember.tensor([[1., 2.], [3., 4.]]))
    >>> pivots
    tensor([2, 2], dtype=torch.int32)
    """
    _check_lu_input("linalg.lu_factor", A)
    _check_pivot("linalg.lu_factor", pivot)
    LU, pivots, _ = _lu_factor_ex(A, "torch.linalg.lu_factor", True)
    return write_out(lu_factor_result(LU, pivots), out)


def linalg_lu(A: Tensor, *, pivot: bool = True, out=None):
    """The LU factorization A = P L U as (P, L, U): P a permutation, L unit lower and U upper
    triangular (never raises for singular A)."""
    _check_lu_input("linalg.lu", A)
    _check_pivot("linalg.lu", pivot)
    LU, pivots, _ = apply(LinalgLuFactorEx, A)
    L, U = _lu_unpack_data(LU)
    return write_out(lu_result(_permutation_matrix(pivots, LU.shape[-2], LU.dtype), L, U), out)


@tensor_method()
def lu(A: Tensor, pivot: bool = True, get_infos: bool = False, out=None):
    """torch.lu (deprecated): (LU, pivots) as linalg.lu_factor, or (LU, pivots, info) with
    get_infos; it never raises for a singular A."""
    warnings.warn("torch.lu is deprecated in favor of torch.linalg.lu_factor / "
                  "torch.linalg.lu_factor_ex and will be removed in a future PyTorch release.",
                  UserWarning, stacklevel=2)
    _check_lu_input("torch.lu", A)
    _check_pivot("linalg.lu_factor", pivot)
    LU, pivots, info = apply(LinalgLuFactorEx, A)
    if get_infos:
        return write_out(lu_with_info_result(LU, pivots, info), out)
    return write_out((LU, pivots), out)


# ---- permutations and unpacking -----------------------------------------------------------
@register("lu_pivots_to_permutation", promote=None, differentiable=False, samples=(
    Sample(lambda t, x: t.lu_unpack(*t.linalg.lu_factor(x)), (Arg((2, 4, 4)),)),
    Sample(lambda t, x: t.lu_unpack(*t.linalg.lu_factor(x), unpack_data=False),
           (Arg((3, 2)),), grad=False, name="pivots_only"),
    Sample(lambda t, x: t.lu_unpack(*t.linalg.lu_factor(x), unpack_pivots=False),
           (Arg((2, 3)),), name="data_only")))
class LuPivotsToPermutation(OpDef):
    """The permutation matrix P (A = P L U) that LAPACK's pivots describe, in `dtype`."""

    def forward(ctx, xp, pivots, m, dtype):
        if pivots.size and (int(pivots.min()) < 1 or int(pivots.max()) > m):
            raise RuntimeError("pivots passed to lu_unpack must be between 1 and LU.size(-2) "
                               "inclusive.Did you properly pass the result of lu_factor?")
        perm = _permutation(xp, pivots, m)
        return (perm[..., None, :] == xp.arange(m)[:, None]).astype(D._dtype_by_name(dtype).np)


def _permutation_matrix(pivots: Tensor, m: int, dtype) -> Tensor:
    return apply(LuPivotsToPermutation, pivots, m=m, dtype=dtype.name)


def _check_pivots(op: str, pivots, n: int, what: str) -> None:
    _check_tensor(op, "pivots", 2, pivots)
    if pivots._dtype is not D.int32:
        raise RuntimeError(what)
    if pivots._data.ndim < 1 or pivots._data.shape[-1] != n:
        raise RuntimeError(f"{op}: Number of pivots per batch should be same as the dimension "
                           "of the matrix")


def lu_unpack(LU_data: Tensor, LU_pivots: Tensor, unpack_data: bool = True,
              unpack_pivots: bool = True, *, out=None):
    """(P, L, U) from linalg.lu_factor's packed (LU, pivots); P (or L and U) come back empty
    when unpack_pivots (or unpack_data) is False."""
    op = "torch.lu_unpack"
    _check_tensor(op, "LU_data", 1, LU_data)
    if LU_data._data.ndim < 2:
        raise RuntimeError(f"{op}: LU_data must have at least 2 dimensions, got "
                           f"{LU_data._data.ndim}")
    m, n = LU_data._data.shape[-2:]
    _check_pivots(op, LU_pivots, min(m, n),
                  f"{op}: LU_pivots is expected to be a contiguous tensor of torch.int32 dtype."
                  "\nNote: this function is intended to be used with the output produced by "
                  "torch.linalg.lu_factor")
    empty = zeros(0, dtype=LU_data.dtype, device=LU_data.device)
    L, U = _lu_unpack_data(LU_data) if unpack_data else (empty, empty)
    P = _permutation_matrix(LU_pivots, m, LU_data.dtype) if unpack_pivots else empty
    return write_out(lu_unpack_result(P, L, U), out)


# ---- triangular solves --------------------------------------------------------------------
@register("triangular_solve", promote=None, samples=(
    Sample(lambda t, b, A: t.triangular_solve(b, A + 3 * t.eye(3, dtype=A.dtype)),
           (Arg((3, 2)), Arg((3, 3)))),
    Sample(lambda t, b, A: t.triangular_solve(b, A + 3 * t.eye(3, dtype=A.dtype), upper=False,
                                              transpose=True), (Arg((2, 3, 1)), Arg((3, 3))),
           name="lower_transposed"),
    Sample(lambda t, b, A: b.triangular_solve(A, unitriangular=True),
           (Arg((3, 2)), Arg((2, 1, 3, 3))), name="unit_broadcast")))
class TriangularSolve(OpDef):
    """X with T @ X = B for the triangle T of A that `upper` names (unit diagonal when
    unitriangular). Only that triangle takes a gradient, as only it is read."""

    def forward(ctx, xp, A, B, upper, unitriangular):
        X = _trsm(xp, A, B, upper, unitriangular)
        ctx.save(A, X)
        ctx.upper, ctx.unit = upper, unitriangular
        return X

    def backward(ctx, g):
        A, X = ctx.saved
        gB = _left_inverse_h(A, g, ctx.upper, ctx.unit)
        if not ctx.needs_input_grad[0]:
            return None, gB
        gA = -(gB @ X.mH)
        diagonal = 1 if ctx.unit else 0
        return (gA.triu(diagonal) if ctx.upper else gA.tril(-diagonal)), gB


@composite(name="linalg_solve_triangular", samples=(
    Sample(lambda t, A, B: t.linalg.solve_triangular(A + 3 * t.eye(3), B, upper=True),
           (Arg((3, 3)), Arg((3, 2)))),
    Sample(lambda t, A, B: t.linalg.solve_triangular(A + 3 * t.eye(3), B, upper=False,
                                                     left=False), (Arg((2, 3, 3)), Arg((4, 3))),
           name="right"),
    Sample(lambda t, A, B: t.linalg.solve_triangular(A, B, upper=False, unitriangular=True),
           (Arg((3, 3)), Arg((3, 1))), name="unit")))
def solve_triangular(A: Tensor, B: Tensor, *, upper: bool, left: bool = True,
                     unitriangular: bool = False, out=None) -> Tensor:
    """The solution X of A @ X = B (X @ A = B with left=False) for triangular A: only A's
    upper (or lower) triangle is read, its diagonal taken as ones when unitriangular. A zero
    on the diagonal gives inf/nan, as torch's (no error). B takes A's dtype, as torch's."""
    op = "linalg.solve_triangular"
    _check_tensor(op, "A", 1, A)
    _check_tensor(op, "B", 2, B)
    if B._data.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor B must have at least 2 dimensions.")
    if A._dtype.category < D._FLOAT or A._dtype in (D.float16, D.bfloat16):
        raise NotImplementedError(f"\"triangular_solve_cpu\" not implemented for "
                                  f"'{_scalar_name(A)}'")
    _check_matrix(op, A)
    n = A._data.shape[-1]
    if B._data.shape[-2 if left else -1] != n:
        equation = "AX = B" if left else "XA = B"
        rows, cols = B._data.shape[-2:]
        raise RuntimeError(f"{op}: Incompatible shapes of A and B for the equation {equation} "
                           f"({n}x{n} and {rows}x{cols})")
    B = B.to(A.dtype)
    if left:
        X = apply(TriangularSolve, A, B, upper=bool(upper), unitriangular=bool(unitriangular))
    else:
        X = apply(TriangularSolve, A.mT, B.mT, upper=not upper,
                  unitriangular=bool(unitriangular)).mT
    return write_out(X, out)


def _check_solver_dtypes(b: Tensor, A: Tensor, kernel: str) -> None:
    if A._dtype.category < D._FLOAT or A._dtype in (D.float16, D.bfloat16):
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_scalar_name(A)}'")
    if b._dtype is not A._dtype:
        raise RuntimeError(f"Expected b and A to have the same dtype, but found b of type "
                           f"{_scalar_name(b)} and A of type {_scalar_name(A)} instead.")


def _check_solver_shapes(op: str, b: Tensor, A: Tensor) -> None:
    """The checks of the deprecated solvers (triangular_solve, cholesky_solve)."""
    for name, t in (("b", b), ("A", A)):
        if t._data.ndim < 2:
            raise RuntimeError(f"{name} should have at least 2 dimensions, but has "
                               f"{t._data.ndim} dimensions instead")
    n = A._data.shape[-1]
    if A._data.shape[-2] != n:
        raise RuntimeError(f"A must be batches of square matrices, but they are "
                           f"{A._data.shape[-2]} by {n} matrices")
    if b._data.shape[-2] != n:
        raise RuntimeError(f"Incompatible matrix sizes for {op}: each A matrix is {n} by {n} "
                           f"but each b matrix is {b._data.shape[-2]} by {b._data.shape[-1]}")


@tensor_method()
def triangular_solve(input: Tensor, A: Tensor, upper: bool = True, transpose: bool = False,
                     unitriangular: bool = False, *, out=None):
    """torch.triangular_solve (deprecated): X with A X = input (A^T X = input when
    transpose) for triangular A, as (solution, cloned_coefficient); batches broadcast."""
    _check_tensor("triangular_solve", "input", 1, input)
    _check_tensor("triangular_solve", "A", 2, A)
    _check_solver_dtypes(input, A, "triangular_solve_cpu")
    _check_solver_shapes("triangular_solve", input, A)
    T, upper = (A.mT, not upper) if transpose else (A, upper)
    X = apply(TriangularSolve, T, input, upper=bool(upper), unitriangular=bool(unitriangular))
    batch = X.shape[:-2]
    return write_out(triangular_solve_result(X, A.expand(*batch, *A.shape[-2:]).clone()), out)


@register("cholesky_solve", promote=None, samples=(
    Sample(lambda t, b, L: t.cholesky_solve(b, L.tril() + 3 * t.eye(3, dtype=L.dtype)),
           (Arg((3, 2)), Arg((3, 3)))),
    Sample(lambda t, b, U: b.cholesky_solve(U.triu() + 3 * t.eye(3, dtype=U.dtype), True),
           (Arg((2, 3, 1)), Arg((3, 3))), name="upper_broadcast"),
    Sample(lambda t, x: t.cholesky_inverse(t.linalg.cholesky(x @ x.mH + t.eye(3, dtype=x.dtype))),
           (Arg((3, 4)),), name="inverse"),
    Sample(lambda t, x: t.linalg.cholesky(x @ x.mH + t.eye(3, dtype=x.dtype), upper=True)
           .cholesky_inverse(upper=True), (Arg((2, 3, 3)),), name="inverse_upper")))
class CholeskySolve(OpDef):
    """X = A^-1 B with A = L L^H (upper: U^H U) from the triangle of L. Its gradient, as
    torch's, treats L as a full matrix: dA = dL L^H + L dL^H gives gL = (gA + gA^H) L."""

    def forward(ctx, xp, B, L, upper):
        if upper:
            X = _trsm(xp, L, _trsm(xp, xp.conj(L).swapaxes(-1, -2), B, False, False), True,
                      False)
        else:
            X = _trsm(xp, xp.conj(L).swapaxes(-1, -2), _trsm(xp, L, B, False, False), True,
                      False)
        ctx.save(L, X)
        ctx.upper = upper
        return X

    def backward(ctx, g):
        L, X = ctx.saved
        gB = apply(CholeskySolve, g, L, upper=ctx.upper)
        if not ctx.needs_input_grad[1]:
            return gB, None
        sym = gB @ X.mH
        sym = -(sym + sym.mH)
        return gB, (L @ sym if ctx.upper else sym @ L)


@tensor_method()
def cholesky_solve(input: Tensor, input2: Tensor, upper: bool = False, *, out=None) -> Tensor:
    """X with A X = input, given A's Cholesky factor input2 (lower L, A = L L^H; upper U,
    A = U^H U); batches broadcast."""
    _check_tensor("cholesky_solve", "input", 1, input)
    _check_tensor("cholesky_solve", "input2", 2, input2)
    _check_solver_dtypes(input, input2, "cholesky_solve_cpu")
    _check_solver_shapes("cholesky_solve", input, input2)
    return write_out(apply(CholeskySolve, input, input2, upper=bool(upper)), out)


@tensor_method()
def cholesky_inverse(L: Tensor, upper: bool = False, *, out=None) -> Tensor:
    """The inverse of A from its Cholesky factor (lower L, A = L L^H; upper U, A = U^H U)."""
    _check_tensor("cholesky_inverse", "L", 1, L)
    if L._dtype.category < D._FLOAT or L._dtype in (D.float16, D.bfloat16):
        raise NotImplementedError(f"\"cholesky_inverse_out_cpu\" not implemented for "
                                  f"'{_scalar_name(L)}'")
    _check_matrix("cholesky_inverse", L)
    n = L._data.shape[-1]
    identity = eye(n, dtype=L.dtype, device=L.device)
    return write_out(apply(CholeskySolve, identity, L, upper=bool(upper)), out)


# ---- solving with an LU factorization ---------------------------------------------------
def _lu_solve(LU: Tensor, pivots: Tensor, B: Tensor, left: bool, adjoint: bool) -> Tensor:
    """A^-1 B (A^-H B when adjoint; B A^-1 or B A^-H when not left) for A = P L U packed in
    (LU, pivots): two triangular solves and a permutation, all differentiable in LU and B."""
    if not left:
        return _lu_solve(LU, pivots, B.mH, True, not adjoint).mH
    P = _permutation_matrix(pivots, LU.shape[-1], LU.dtype)
    if adjoint:
        Z = apply(TriangularSolve, LU.mH, B, upper=False, unitriangular=False)
        return P @ apply(TriangularSolve, LU.mH, Z, upper=True, unitriangular=True)
    Y = apply(TriangularSolve, LU, P.mT @ B, upper=False, unitriangular=True)
    return apply(TriangularSolve, LU, Y, upper=True, unitriangular=False)


@composite(name="linalg_lu_solve", samples=(
    Sample(lambda t, A, B: t.linalg.lu_solve(*t.linalg.lu_factor(A), B),
           (Arg((3, 3)), Arg((3, 2)))),
    Sample(lambda t, A, B: t.linalg.lu_solve(*t.linalg.lu_factor(A), B, adjoint=True),
           (Arg((2, 3, 3)), Arg((3, 1))), name="adjoint"),
    Sample(lambda t, A, B: t.linalg.lu_solve(*t.linalg.lu_factor(A), B, left=False),
           (Arg((3, 3)), Arg((2, 2, 3))), name="right"),
    Sample(lambda t, A, B: t.linalg.lu_solve(*t.linalg.lu_factor(A), B, left=False,
                                             adjoint=True), (Arg((2, 3, 3)), Arg((4, 3))),
           name="right_adjoint"),
    Sample(lambda t, B, A: t.lu_solve(B, *t.linalg.lu_factor(A)), (Arg((2, 3, 2)),
                                                                  Arg((2, 3, 3))),
           name="torch_lu_solve"),
    Sample(lambda t, B, A: B.lu_solve(*t.linalg.lu_factor(A)), (Arg((3, 1)), Arg((3, 3))),
           name="method")))
def linalg_lu_solve(LU: Tensor, pivots: Tensor, B: Tensor, *, left: bool = True,
                    adjoint: bool = False, out=None) -> Tensor:
    """The solution X of A X = B (X A = B when not left; A^H in place of A when adjoint)
    given linalg.lu_factor's (LU, pivots) of A; batches broadcast."""
    op = "linalg.lu_solve"
    _check_tensor(op, "LU", 1, LU)
    _check_tensor(op, "B", 3, B)
    if B._data.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor B must have at least 2 dimensions.")
    _check_matrix(f"torch.{op}", LU)
    n = LU._data.shape[-1]
    _check_pivots(op, pivots, n, f"{op}: pivots should be a Tensor of scalar type torch.int32")
    if pivots._data.shape[:-1] != LU._data.shape[:-2]:
        raise RuntimeError(f"{op}: Expected LU.shape[:-2] and pivots.shape[:-1] to be the same, "
                           f"but got pivots with shape {list(pivots._data.shape)} instead")
    if LU._dtype is not B._dtype:
        raise RuntimeError(f"{op}: Expected LU and B to have the same dtype, but found LU of "
                           f"type {_scalar_name(LU)} and B of type {_scalar_name(B)} instead")
    rows, cols = B._data.shape[-2:]
    if (rows if left else cols) != n:
        raise RuntimeError(f"{op}: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({n}x{n} and {rows}x{cols})")
    return write_out(_lu_solve(LU, pivots, B, bool(left), bool(adjoint)), out)


@tensor_method()
def lu_solve(input: Tensor, LU_data: Tensor, LU_pivots: Tensor, *, out=None) -> Tensor:
    """torch.lu_solve (deprecated; linalg.lu_solve with its arguments reversed): X with
    A X = input, given A's (LU, pivots) from linalg.lu_factor."""
    warnings.warn("torch.lu_solve is deprecated in favor of torch.linalg.lu_solve and will be "
                  "removed in a future PyTorch release.\nNote that torch.linalg.lu_solve has "
                  "its arguments reversed.", UserWarning, stacklevel=2)
    return linalg_lu_solve(LU_data, LU_pivots, input, out=out)


@composite(name="linalg_solve_ex", samples=(
    Sample(lambda t, A, B: t.linalg.solve_ex(A, B), (Arg((3, 3)), Arg((3, 2)))),
    Sample(lambda t, A, B: t.linalg.solve_ex(A, B, left=False), (Arg((2, 3, 3)), Arg((4, 3))),
           name="right"),
    Sample(lambda t, A, B: t.linalg.solve_ex(A, B), (Arg((2, 3, 3)), Arg((3,))),
           name="vector"),
    Sample(lambda t, A, B: t.linalg.solve_ex(A, B), (Arg(values=[[1., 2.], [2., 4.]]),
                                                     Arg((2, 1))), grad=False,
           name="singular")))
def solve_ex(A: Tensor, B: Tensor, *, left: bool = True, check_errors: bool = False,
             out=None):
    """linalg.solve that reports singular matrices in an info tensor (nonzero where A is
    singular) instead of raising, unless check_errors: (result, info)."""
    B, vector = _solve_operands("linalg.solve", A, B, left)
    LU, pivots, info = apply(LinalgLuFactorEx, A)
    if check_errors:
        raise_for_info(info, LinAlgError, lambda where, _: (
            f"torch.linalg.solve_ex: {where}The solver failed because the input matrix is "
            "singular."))
    X = _lu_solve(LU, pivots, B, bool(left), False)
    return write_out(solve_ex_result(X.squeeze(-1) if vector else X, info), out)


@composite(name="linalg_inv_ex", samples=(
    Sample(lambda t, A: t.linalg.inv_ex(A), (Arg((2, 3, 3)),)),
    Sample(lambda t, A: t.linalg.inv_ex(A), (Arg(values=[[1., 2.], [2., 4.]]),), grad=False,
           name="singular")))
def inv_ex(A: Tensor, *, check_errors: bool = False, out=None):
    """linalg.inv that reports singular matrices in an info tensor (nonzero where A is
    singular) instead of raising, unless check_errors: (inverse, info)."""
    op = "linalg.inv_ex"
    _check_tensor(op, "A", 1, A)
    _check_matrix("linalg.inv", A)
    LU, pivots, info = apply(LinalgLuFactorEx, A)
    if check_errors:
        raise_for_info(info, LinAlgError, lambda where, j: (
            f"{op}: {where}The diagonal element {j} is zero, the inversion could not be "
            "completed because the input matrix is singular."))
    identity = eye(A.shape[-1], dtype=A.dtype, device=A.device)
    return write_out(inv_ex_result(_lu_solve(LU, pivots, identity, True, False), info), out)


# ---- LDL (Bunch-Kaufman) ------------------------------------------------------------------
_BK_ALPHA = (1 + 17 ** 0.5) / 8  # Bunch-Kaufman's threshold: bounds the growth of L


def _sytf2(a, hermitian: bool):
    """LAPACK's sytf2/hetf2 (lower) on one matrix, in place: a = P L D L^T P^T (L^H when
    hermitian) with D of 1x1 and 2x2 blocks; returns (pivots, info). Pivot sizes are |x|,
    |Re x| + |Im x| for complex entries, |Re x| for a Hermitian diagonal."""
    n = a.shape[0]
    size = (lambda x: np.abs(x.real) + np.abs(x.imag)) if a.dtype.kind == "c" else np.abs
    conj = np.conj if hermitian else (lambda x: x)
    diag_size = (lambda x: abs(x.real)) if hermitian else size
    pivots = np.zeros(n, dtype=np.int32)
    info = 0
    k = 0
    while k < n:
        kstep, kp = 1, k
        absakk = diag_size(a[k, k])
        imax, colmax = k, 0.0
        if k < n - 1:
            imax = k + 1 + int(np.argmax(size(a[k + 1:, k])))
            colmax = size(a[imax, k])
        if max(absakk, colmax) == 0 or np.isnan(absakk):
            info = info or k + 1
            if hermitian:
                a[k, k] = a[k, k].real
        else:
            if absakk < _BK_ALPHA * colmax:
                rowmax = size(a[imax, k:imax]).max()
                if imax < n - 1:
                    rowmax = max(rowmax, size(a[imax + 1:, imax]).max())
                if absakk >= _BK_ALPHA * colmax * (colmax / rowmax):
                    kp = k
                elif diag_size(a[imax, imax]) >= _BK_ALPHA * rowmax:
                    kp = imax
                else:
                    kp, kstep = imax, 2
            kk = k + kstep - 1
            if kp != kk:
                a[kp + 1:, [kk, kp]] = a[kp + 1:, [kp, kk]]
                between = a[kk + 1:kp, kk].copy()
                a[kk + 1:kp, kk] = conj(a[kp, kk + 1:kp])
                a[kp, kk + 1:kp] = conj(between)
                a[kp, kk] = conj(a[kp, kk])
                a[kk, kk], a[kp, kp] = a[kp, kp], a[kk, kk]
                if hermitian:
                    a[kp, kp] = a[kp, kp].real
                if kstep == 2:
                    a[k + 1, k], a[kp, k] = a[kp, k], a[k + 1, k]
            _bk_update(a, k, kstep, hermitian, conj)
            if hermitian:
                _real_diagonal(a, k)
        pivots[k:k + kstep] = kp + 1 if kstep == 1 else -(kp + 1)
        k += kstep
    return pivots, info


def _bk_update(a, k: int, kstep: int, hermitian: bool, conj) -> None:
    """Eliminate the 1x1 or 2x2 pivot block at k from the trailing lower triangle."""
    rest = k + kstep
    if rest >= a.shape[0]:
        return
    if kstep == 1:
        r = 1 / (a[k, k].real if hermitian else a[k, k])
        x = a[rest:, k].copy()
        a[rest:, rest:] -= r * np.outer(x, conj(x))
        a[rest:, k] = x * r
        return
    d21 = a[k + 1, k]
    if hermitian:
        d = abs(d21)
        d11, d22 = a[k + 1, k + 1].real / d, a[k, k].real / d
        d21, scale = d21 / d, 1 / (d11 * d22 - 1) / d
        wk = scale * (d11 * a[rest:, k] - d21 * a[rest:, k + 1])
        wkp1 = scale * (d22 * a[rest:, k + 1] - np.conj(d21) * a[rest:, k])
    else:
        d11, d22 = a[k + 1, k + 1] / d21, a[k, k] / d21
        scale = 1 / (d11 * d22 - 1) / d21
        wk = scale * (d11 * a[rest:, k] - a[rest:, k + 1])
        wkp1 = scale * (d22 * a[rest:, k + 1] - a[rest:, k])
    a[rest:, rest:] -= np.outer(a[rest:, k], conj(wk)) + np.outer(a[rest:, k + 1], conj(wkp1))
    a[rest:, k], a[rest:, k + 1] = wk, wkp1


def _real_diagonal(a, start: int) -> None:
    """A Hermitian matrix's trailing diagonal is real: drop rounding's imaginary parts."""
    idx = np.arange(start, a.shape[0])
    a[idx, idx] = a[idx, idx].real


def _sytrs(a, pivots, b, hermitian: bool):
    """LAPACK's sytrs/hetrs (lower) on one matrix: b overwritten with A^-1 b given
    _sytf2's factorization (a, pivots) of A."""
    n = a.shape[0]
    conj = np.conj if hermitian else (lambda x: x)
    k = 0
    while k < n:  # L D Y = P^T b
        if pivots[k] > 0:
            kp = pivots[k] - 1
            b[[k, kp]] = b[[kp, k]]
            b[k + 1:] -= np.outer(a[k + 1:, k], b[k])
            b[k] /= a[k, k].real if hermitian else a[k, k]
            k += 1
            continue
        kp = -pivots[k] - 1
        b[[k + 1, kp]] = b[[kp, k + 1]]
        b[k + 2:] -= np.outer(a[k + 2:, k], b[k]) + np.outer(a[k + 2:, k + 1], b[k + 1])
        akm1k = a[k + 1, k]
        akm1, ak = a[k, k] / conj(akm1k), a[k + 1, k + 1] / akm1k
        denom = akm1 * ak - 1
        bkm1, bk = b[k] / conj(akm1k), b[k + 1] / akm1k
        b[k], b[k + 1] = (ak * bkm1 - bk) / denom, (akm1 * bk - bkm1) / denom
        k += 2
    k = n - 1
    while k >= 0:  # L^T X = Y (L^H when hermitian), undoing the interchanges
        step = 1 if pivots[k] > 0 else 2
        for j in range(k, k - step, -1):
            b[j] -= conj(a[k + 1:, j]) @ b[k + 1:]
        kp = abs(pivots[k]) - 1
        b[[k, kp]] = b[[kp, k]]
        k -= step
    return b


def _host(xp, x):
    return x.get() if hasattr(x, "get") else x


_PIVOTING = [[1., 2., 3.], [2., 1., 4.], [3., 4., 1.]]  # takes a 2x2 pivot block
_ZERO_DIAGONAL = [[0., 5., 1.], [5., 0., 2.], [1., 2., 0.]]


@register("linalg_ldl_factor_ex", promote=None, differentiable=False, samples=(
    Sample(lambda t, x: t.linalg.ldl_factor(x + x.mT), (Arg((3, 3)),), grad=False),
    Sample(lambda t, x: t.linalg.ldl_factor_ex(x), (Arg((2, 5, 5)),), grad=False,
           name="batched"),
    Sample(lambda t, x: t.linalg.ldl_factor(x, hermitian=True), (Arg((4, 4)),), grad=False,
           name="hermitian"),
    Sample(lambda t, x: t.linalg.ldl_factor(x), (Arg(values=_PIVOTING),), grad=False,
           name="blocks"),
    Sample(lambda t, x: t.linalg.ldl_factor(x), (Arg(values=_ZERO_DIAGONAL),), grad=False,
           name="zero_diagonal")))
class LinalgLdlFactorEx(OpDef):
    """Bunch-Kaufman LDL of the lower triangle of each matrix: (LD, pivots, info) packed as
    LAPACK's sytrf (hetrf when hermitian), LD's strict upper triangle zero. Pivot blocks
    differ between matrices, so the batch is a loop of matrices."""

    def forward(ctx, xp, A, hermitian):
        host = np.array(_host(xp, A), copy=True)
        *batch, n, _ = host.shape
        flat = host.reshape(-1, n, n)
        pivots = np.zeros((flat.shape[0], n), dtype=np.int32)
        info = np.zeros(flat.shape[0], dtype=np.int32)
        for i, a in enumerate(flat):
            pivots[i], info[i] = _sytf2(a, hermitian)
        LD = np.tril(flat).reshape(host.shape)
        return (xp.asarray(LD), xp.asarray(pivots.reshape(*batch, n)),
                xp.asarray(info.reshape(batch)))


def _ldl_factor_ex(op: str, A: Tensor, hermitian: bool, check_errors: bool):
    _check_tensor(op, "A", 1, A)
    _check_matrix("torch.linalg.ldl_factor_ex", A)
    LD, pivots, info = apply(LinalgLdlFactorEx, A, hermitian=bool(hermitian))
    if check_errors:
        raise_for_info(info, LinAlgError, lambda where, j: (
            f"{op}: {where}The factorization could not be completed because the block "
            f"diagonal matrix D has a zero at D[{j - 1},{j - 1}] (the input is singular)."))
    return LD, pivots, info


def ldl_factor_ex(A: Tensor, *, hermitian: bool = False, check_errors: bool = False,
                  out=None):
    """The Bunch-Kaufman LDL factorization of a symmetric (hermitian=True: Hermitian) matrix
    from its lower triangle, as (LD, pivots, info) for linalg.ldl_solve; info is nonzero
    where D is singular."""
    result = _ldl_factor_ex("torch.linalg.ldl_factor_ex", A, hermitian, check_errors)
    return write_out(ldl_factor_ex_result(*result), out)


def ldl_factor(A: Tensor, *, hermitian: bool = False, out=None):
    """The Bunch-Kaufman LDL factorization (LD, pivots) of a symmetric (hermitian=True:
    Hermitian) matrix from its lower triangle, for linalg.ldl_solve; raises when singular.

    >>> import ember
    >>> LD, pivots = ember.linalg.ldl_factor(ember.tensor([[4., 2.], [2., 3.]]))
    >>> pivots
    tensor([1, 2], dtype=torch.int32)
    """
    LD, pivots, _ = _ldl_factor_ex("torch.linalg.ldl_factor", A, hermitian, True)
    return write_out(ldl_factor_result(LD, pivots), out)


@register("linalg_ldl_solve", promote=None, differentiable=False, samples=(
    Sample(lambda t, A, B: t.linalg.ldl_solve(*t.linalg.ldl_factor(A + A.mT), B),
           (Arg((4, 4)), Arg((4, 2))), grad=False),
    Sample(lambda t, A, B: t.linalg.ldl_solve(*t.linalg.ldl_factor(A), B),
           (Arg(values=_PIVOTING), Arg((2, 3, 1))),
           name="blocks_broadcast", grad=False),
    Sample(lambda t, A, B: t.linalg.ldl_solve(*t.linalg.ldl_factor(A, hermitian=True), B,
                                              hermitian=True),
           (Arg((2, 5, 5)), Arg((2, 5, 3))), name="hermitian", grad=False)))
class LinalgLdlSolve(OpDef):
    """A^-1 B from linalg.ldl_factor's (LD, pivots) of A, one matrix at a time."""

    def forward(ctx, xp, LD, pivots, B, hermitian):
        LD, pivots, B = (np.asarray(_host(xp, v)) for v in (LD, pivots, B))
        batch = np.broadcast_shapes(LD.shape[:-2], pivots.shape[:-1], B.shape[:-2])
        n, k = B.shape[-2:]
        LD = np.broadcast_to(LD, batch + (n, n)).reshape(-1, n, n)
        pivots = np.broadcast_to(pivots, batch + (n,)).reshape(-1, n)
        X = np.array(np.broadcast_to(B, batch + (n, k)), dtype=np.result_type(LD, B))
        flat = X.reshape(-1, n, k)
        for a, p, b in zip(LD, pivots, flat):
            _sytrs(a, p, b, hermitian)
        return xp.asarray(X)


def ldl_solve(LD: Tensor, pivots: Tensor, B: Tensor, *, hermitian: bool = False,
              out=None) -> Tensor:
    """The solution X of A X = B given linalg.ldl_factor's (LD, pivots) of A; batches
    broadcast."""
    op = "torch.linalg.ldl_solve"
    _check_tensor(op, "LD", 1, LD)
    _check_tensor(op, "pivots", 2, pivots)
    _check_tensor(op, "B", 3, B)
    if B._data.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor B must have at least 2 dimensions.")
    _check_matrix(op, LD)
    n = LD._data.shape[-1]
    if pivots._dtype.category >= D._FLOAT or pivots._dtype is D.bool:
        raise RuntimeError(f"{op}: Expected pivots to be integers. Got {_scalar_name(pivots)}")
    if pivots._data.ndim < 1 or pivots._data.shape[-1] != n:
        raise RuntimeError(f"{op}: Expected LD.shape[-1] and pivots.shape[-1] to be the same, "
                           f"but got pivots with shape {list(pivots._data.shape)} instead")
    if LD._dtype is not B._dtype:
        raise RuntimeError(f"{op}: LD dtype {_scalar_name(LD)} does not match b dtype "
                           f"{_scalar_name(B)}")
    if B._data.shape[-2] != n:
        raise RuntimeError(f"{op}: Incompatible shapes of A and B for the equation AX = B "
                           f"({n}x{n} and {B._data.shape[-2]}x{B._data.shape[-1]})")
    return write_out(apply(LinalgLdlSolve, LD, pivots, B, hermitian=bool(hermitian)), out)


__all__ = ["lu", "lu_solve", "lu_unpack", "triangular_solve", "cholesky_solve",
           "cholesky_inverse"]
