"""Matrix products on numba's threads, each thread calling OpenBLAS's single-threaded GEMM
(imported only inside graphs that run on one OpenBLAS thread: see openblas.py).

Attention's batched products are 64 small GEMMs that NumPy runs one after another on one
core; split across the threads they run 1.7x faster: the GPT's 24 per training step took
6.3 ms, 3.7 ms here. Plain 2-D products are split by rows, as OpenBLAS's own threads split
them, at the same speed (179 GFLOP/s in that step either way).

The GEMM is called through its address, passed as an argument (`_gemm_at`), so the
kernels stay in numba's on-disk cache: a ctypes function object would be a global that
numba does not cache."""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

_OPTS = {"cache": True, "error_model": "numpy"}
ROW_MAJOR = 101  # CBLAS's enums: transposes are 111 (no) and 112 (yes)


@intrinsic
def _gemm_at(typingctx, address, order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """cblas_?gemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) at `address`
    (pointers as integers, sizes as int64: OpenBLAS's 64-bit interface)."""
    sig = types.void(address, order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)

    def codegen(context, builder, signature, args):
        params = [context.get_value_type(t) for t in signature.args[1:]]
        fn = builder.inttoptr(args[0], ir.FunctionType(ir.VoidType(), params).as_pointer())
        builder.call(fn, args[1:])
        return context.get_dummy_value()
    return sig, codegen


@njit(parallel=True, **_OPTS)
def gemm_rows(address, a, ta, lda, row_step, b, tb, ldb, out, ldo, out_step, m, n, k, alpha,
              beta, parts):
    """out (m x n) = a @ b in `parts` blocks of rows, one per thread. a, b and out are
    addresses (rows row_step and out_step bytes apart), ta/tb their CBLAS transposes."""
    rows = (m + parts - 1) // parts
    for p in prange(parts):
        r0 = p * rows
        r1 = min(m, r0 + rows)
        if r1 > r0:
            _gemm_at(address, np.int32(ROW_MAJOR), np.int32(ta), np.int32(tb), r1 - r0, n, k,
                     alpha, a + r0 * row_step, lda, b, ldb, beta, out + r0 * out_step, ldo)


@njit(parallel=True, **_OPTS)
def gemm_stack(address, a, ta, lda, a_steps, b, tb, ldb, b_steps, out, ldo, out_steps,
               counts, m, n, k, alpha, beta):
    """A batch of m x k by k x n products spread over the threads: for each index i of the
    batch dims `counts`, out[i] = a[i] @ b[i], where each operand's matrix starts at its
    address (a, b, out) plus sum(i[d] * steps[d]) bytes."""
    total = 1
    for c in counts:
        total *= c
    for flat in prange(total):
        oa = ob = oo = 0
        inner = 1
        for d in range(len(counts) - 1, -1, -1):
            i = (flat // inner) % counts[d]
            inner *= counts[d]
            oa += i * a_steps[d]
            ob += i * b_steps[d]
            oo += i * out_steps[d]
        _gemm_at(address, np.int32(ROW_MAJOR), np.int32(ta), np.int32(tb), m, n, k, alpha,
                 a + oa, lda, b + ob, ldb, beta, out + oo, ldo)
