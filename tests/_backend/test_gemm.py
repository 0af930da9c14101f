"""gemm.matmul: a few rows times a transposed matrix runs as the transposed product, with the
same values and a row-major result; other products are NumPy's own."""
import numpy as np
import pytest

from ember._backend import gemm


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows", [1, 2, 20, 32, 33])
def test_values_and_layout(dtype, rows):
    rng = np.random.default_rng(rows)
    a = rng.standard_normal((rows, 48)).astype(dtype)
    w = rng.standard_normal((64, 48)).astype(dtype)
    assert gemm.transposes(a, w.T) == (2 <= rows <= 32)
    for b in (w.T, np.ascontiguousarray(w.T)):
        got = gemm.matmul(np, a, b)
        assert got.flags.c_contiguous and got.dtype == dtype
        np.testing.assert_allclose(got, a @ b, rtol=1e-5, atol=1e-5)
        out = np.empty((rows, 64), dtype)
        assert gemm.matmul(np, a, b, out=out) is out
        np.testing.assert_allclose(out, a @ b, rtol=1e-5, atol=1e-5)


def test_other_dtypes_and_layouts_keep_numpys_product():
    a = np.ones((4, 3), dtype=np.int64)
    assert not gemm.transposes(a, np.ones((5, 3), dtype=np.int64).T)
    assert not gemm.transposes(a.astype(np.float32), np.ones((5, 3), dtype=np.float64).T)
    assert not gemm.transposes(a.astype(np.float32), np.ones((3, 5), dtype=np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("m, k, n", [(6, 4, 6), (6, 5, 3), (3, 5, 6)])
def test_batched_products_of_column_major_right_operands(dtype, m, k, n):
    """Attention's q @ k.T: the right operand is a transposed view; whether gemm.batched
    copies it or not, values match NumPy's, with broadcasting batch dims."""
    rng = np.random.default_rng(m * k * n)
    a = (rng.standard_normal((2, 3, m, k)) * 4).astype(dtype)
    kt = (rng.standard_normal((3, n, k)) * 4).astype(dtype).swapaxes(-1, -2)
    for b in (kt, kt[None], np.ascontiguousarray(kt)):
        np.testing.assert_allclose(gemm.batched(np, a, b), np.matmul(a, b), rtol=1e-6)
    np.testing.assert_allclose(gemm.batched(np, a[0, 0], kt), np.matmul(a[0, 0], kt),
                               rtol=1e-6)
