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


# ---- gemm.threaded: products on numba's threads (inside graphs: openblas.in_graph) -----------
@pytest.fixture
def threaded_at_any_size(monkeypatch):
    pytest.importorskip("numba")
    from ember._backend import openblas
    if openblas.gemm_address(np.dtype(np.float32)) is None:
        pytest.skip("NumPy's BLAS is not its bundled 64-bit OpenBLAS")
    monkeypatch.setattr(gemm, "THREADED_WORK", 0)


def _operands(dtype):
    """(a, b) pairs in every layout threaded takes: row-major, transposed views, column
    slices, attention's head views of a (b, t, h*d) buffer, broadcast batch dims."""
    rng = np.random.default_rng(0)

    def r(*shape):
        return rng.standard_normal(shape).astype(dtype)
    a, b = r(37, 19), r(19, 23)
    qkv = r(3, 16, 3 * 4 * 8)
    q = qkv[..., :32].reshape(3, 16, 4, 8).transpose(0, 2, 1, 3)
    k = qkv[..., 32:64].reshape(3, 16, 4, 8).transpose(0, 2, 3, 1)
    return [(a, b), (np.asfortranarray(a), b), (a, np.asfortranarray(b)),
            (a.T.copy().T, b.T.copy().T), (r(37, 25)[:, 3:22], r(30, 23)[4:23]),
            (r(1, 19), b), (a, r(19, 1)),
            (q, k), (q @ k, q), (q, r(8, 5)), (r(4, 7, 8), r(2, 1, 8, 6)), (r(5, 2, 3), r(3, 4))]


@pytest.mark.parametrize("dtype,tol", [(np.float32, 1e-5), (np.float64, 1e-12)])
def test_threaded_products_match_numpys(dtype, tol, threaded_at_any_size):
    for a, b in _operands(dtype):
        got = gemm.threaded(a, b)
        assert got is not None, (a.shape, a.strides, b.shape, b.strides)
        assert got.dtype == dtype and got.flags.c_contiguous
        np.testing.assert_allclose(got, np.matmul(a, b), rtol=tol, atol=tol)


def test_threaded_writes_into_a_strided_out(threaded_at_any_size):
    """Attention's backward writes each head's product into its columns of a (b, t, h*d)
    gradient buffer."""
    rng = np.random.default_rng(1)
    p = rng.standard_normal((3, 4, 16, 16)).astype(np.float32)
    v = rng.standard_normal((3, 16, 4, 8)).astype(np.float32).transpose(0, 2, 1, 3)
    buffer = np.zeros((3, 16, 3 * 32), np.float32)
    out = buffer[..., 32:64].reshape(3, 16, 4, 8).transpose(0, 2, 1, 3)
    assert gemm.threaded(p, v, out) is out
    np.testing.assert_allclose(out, p @ v, rtol=1e-5, atol=1e-5)
    assert not buffer[..., :32].any() and not buffer[..., 64:].any()


def test_threaded_declines_what_it_does_not_cover(threaded_at_any_size, monkeypatch):
    f = np.ones((4, 3), np.float32)
    assert gemm.threaded(f.astype(np.int64), np.ones((3, 2), np.int64)) is None
    assert gemm.threaded(f, np.ones((3, 2), np.float64)) is None  # mixed dtypes
    assert gemm.threaded(np.ones((0, 3), np.float32), np.ones((3, 2), np.float32)) is None
    assert gemm.threaded(f, np.ones((3, 2), np.float32)[::1, ::2]) is None  # no unit stride
    assert gemm.threaded(f, np.ones((3, 2), np.float32), out=np.empty((2, 4), np.float32).T) \
        is None
    assert gemm.threaded(f, np.ones((3, 2), np.float32), out=np.empty((4, 3), np.float32)) \
        is None
    monkeypatch.setattr(gemm, "THREADED_WORK", 1 << 16)
    assert gemm.threaded(np.ones((16, 64), np.float32), np.ones((64, 63), np.float32)) is None
    assert gemm.threaded(np.ones((16, 64), np.float32), np.ones((64, 64), np.float32)) \
        is not None
