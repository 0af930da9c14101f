"""The numba forms of gelu, layer_norm, softmax, their backward ops and index_add return and
save what the OpDefs' forwards do (float32 within a few ulps, float64 to rounding)."""
import numpy as np
import pytest

from ember._ops.registry import REGISTRY
from ember.jit import op_kernels as K
from ember.jit.codegen import SavingContext

pytestmark = [pytest.mark.skipif(not K.available(), reason="numba is not installed"),
              pytest.mark.usefixtures("kernel_threads")]
DTYPES = [(np.float32, 2e-6), (np.float64, 1e-12)]


def _both(name, *args, **attrs):
    """(op forward's result and saves, numba form's result and saves), each run as `apply`
    and generated code run them: with NumPy's floating-point warnings off."""
    out = []
    for fn in (REGISTRY[name].forward, K.forward_for(name)):
        ctx = SavingContext((True, True, True))
        with np.errstate(all="ignore"):
            result = fn(ctx, np, *args, **attrs)
        result = result if isinstance(result, tuple) else (result,)
        if REGISTRY[name].fresh:  # the memory plan may reuse the results' buffers
            assert not any(np.shares_memory(r, a) for r in result for a in args
                           if isinstance(a, np.ndarray))
        out.append((result, ctx.saved_values))
    return out


def _same(a, b, tol):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        if x is None or y is None:
            assert x is None and y is None
            continue
        assert x.shape == y.shape and x.dtype == y.dtype
        assert np.allclose(x, y, atol=tol, rtol=tol, equal_nan=True)


@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("shape", [(64, 128), (3, 50, 40)])
def test_gelu_and_its_derivative(dtype, tol, shape):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    (ya, sa), (yb, sb) = _both("gelu", x)
    _same(ya, yb, tol)
    _same(sa, sb, tol * 4)  # (x, d gelu / dx)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_without_a_gradient_keeps_nothing(dtype):
    """Inference (no input needs a gradient) computes no derivative, in the op and its
    forms, and the values are those computed with one."""
    from ember.jit.codegen import RunContext
    x = np.random.default_rng(5).standard_normal((64, 96)).astype(dtype)
    b = np.random.default_rng(6).standard_normal(96).astype(dtype)
    def keep(*values):
        raise AssertionError("kept values without a gradient to compute")
    for fn, args in [(REGISTRY["gelu"].forward, (x,)), (K.gelu, (x,)),
                     (K.gelu_biased, (x, b))]:
        bare, saving = RunContext(), SavingContext((True,))
        bare.save = keep
        y = fn(bare, np, *args)
        np.testing.assert_array_equal(y, fn(saving, np, *args))
        assert len(saving.saved_values) == 2


def test_gelu_keeps_its_relative_accuracy_in_the_negative_tail():
    """float32 gelu takes Phi from erfc, so x * Phi(x) stays accurate where Phi is tiny
    (1 + erf(x / sqrt 2) cancels there: the first form lost all digits below x = -6)."""
    import math
    x = np.linspace(-9, 9, 8001).astype(np.float32)  # above the forms' MIN_SIZE
    (y,), _ = _both("gelu", x)[1]
    exact = np.array([v * 0.5 * math.erfc(-v / math.sqrt(2)) for v in x.tolist()])
    rel = np.abs(y - exact) / np.maximum(np.abs(exact), 1e-300)
    for lo, hi, bound in [(-9, -4, 2e-2), (-4, -1, 1e-3), (-1, 9, 1e-6)]:
        band = (x >= lo) & (x < hi) & (exact != 0)
        assert rel[band].max() < bound, (lo, hi, rel[band].max())


@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("affine", [(True, True), (True, False), (False, False)])
def test_layer_norm_and_backward(dtype, tol, affine):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((8, 32, 48)) * 2 + 1).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    w = rng.standard_normal((32, 48)).astype(dtype) if affine[0] else None
    b = rng.standard_normal((32, 48)).astype(dtype) if affine[1] else None
    (ya, sa), (yb, sb) = _both("layer_norm", x, w, b, ndim=2, eps=1e-5)
    _same(ya, yb, tol * 4)
    _same(sa, sb, tol * 4)
    for need in [(True, affine[0], affine[1]), (False, affine[0], affine[1])]:
        (ga, _), (gb, _) = _both("layer_norm_backward", g, sa[2], sa[3], w, need=need,
                                 pshape=(32, 48))
        _same(ga, gb, tol * 50)


@pytest.mark.parametrize("dtype,tol", DTYPES)
def test_softmax_and_backward_with_masked_rows(dtype, tol):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 16, 64)).astype(dtype)
    x[0, :, 10:] = -np.inf  # masked positions
    x[1, 3, :] = -np.inf  # a row with nothing to attend to: nan, as eager
    g = rng.standard_normal(x.shape).astype(dtype)
    (ya, sa), (yb, sb) = _both("softmax", x, dim=-1)
    _same(ya, yb, tol)
    assert np.isnan(yb[0][1, 3]).all() and (yb[0][0, :, 10:] == 0).all()
    (ga, _), (gb, _) = _both("softmax_backward", g, ya[0], dim=2)
    _same(ga, gb, tol)


@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("mask_shape", [(64, 64), (1, 1, 64, 64), (4, 2, 64, 64)])
def test_masked_softmax_and_scaled_backward(dtype, tol, mask_shape):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((4, 2, 64, 64)) * 3).astype(dtype)
    hidden = np.broadcast_to(np.triu(np.ones((64, 64), dtype=bool), 1), mask_shape).copy()
    hidden.reshape(-1, 64)[5] = True  # a query that sees no key: zeros, as eager
    g = rng.standard_normal(x.shape).astype(dtype)
    (ya, sa), (yb, sb) = _both("masked_softmax", x, hidden, dim=-1, scale=0.125)
    _same(ya, yb, tol)
    _same(sa, sb, tol)
    assert (yb[0][np.broadcast_to(hidden, x.shape)] == 0).all()
    assert (yb[0].reshape(-1, 64)[5] == 0).all()
    (ga, _), (gb, _) = _both("softmax_backward", g, ya[0], dim=-1, scale=0.125)
    _same(ga, gb, tol)


@pytest.mark.parametrize("dtype,tol", DTYPES)
def test_softmax_rows_with_nan_and_inf_as_the_op(dtype, tol):
    """A NaN anywhere in a visible row, or a +inf, makes the row NaN (as torch); a row with
    every position hidden is 0 in the masked form."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 64, 64)).astype(dtype)
    x[0, 0, 5, 3] = np.nan
    x[0, 1, 40, 17] = np.nan
    x[0, 2, 9, 0] = np.inf
    x[1, 0, 2, :] = -np.inf
    hidden = ~np.tril(np.ones((64, 64), dtype=bool))
    hidden[7] = True
    (ya, _), (yb, _) = _both("masked_softmax", x, hidden, dim=-1, scale=0.5)
    _same(ya, yb, tol)
    assert np.isnan(yb[0][0, 0, 5]).all() and np.isnan(yb[0][0, 1, 40]).all()
    assert (yb[0][:, :, 7] == 0).all()
    (ya, _), (yb, _) = _both("softmax", x, dim=-1)
    _same(ya, yb, tol)
    assert np.isnan(yb[0][0, 2, 9]).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("alpha", [1, 0.5])
def test_index_add_of_rows(dtype, alpha):
    """An embedding's backward: repeated and negative indices add up in order, exactly as
    the scatter does."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((65, 32, 4)).astype(dtype)
    index = rng.integers(-65, 65, 300)
    src = rng.standard_normal((300, 32, 4)).astype(dtype)
    (ya, sa), (yb, sb) = _both("index_add", x, index, src, dim=0, alpha=alpha)
    assert np.array_equal(ya[0], yb[0]) and np.array_equal(sa[0], sb[0])


def test_index_add_out_of_bounds_raises_as_the_op():
    x, src = np.zeros((65, 64)), np.ones((2, 64))
    with pytest.raises(Exception) as want:
        REGISTRY["index_add"].forward(SavingContext((True,) * 3), np, x, np.array([0, 65]),
                                      src, dim=0)
    with pytest.raises(type(want.value)):
        K.forward_for("index_add")(SavingContext((True,) * 3), np, x, np.array([0, 65]),
                                   src, dim=0)


def test_uncovered_inputs_go_to_the_op():
    x = np.linspace(-2, 2, 5000).astype(np.float16)
    (ya, _), (yb, _) = _both("gelu", x)
    assert np.array_equal(ya[0], yb[0])
    t = np.linspace(-2, 2, 5000).reshape(50, 100)
    (ya, _), (yb, _) = _both("softmax", t, dim=0)  # not the last dim
    assert np.array_equal(ya[0], yb[0])
    (ya, _), (yb, _) = _both("gelu", t, approximate="tanh")
    assert np.array_equal(ya[0], yb[0])
    key_padding = np.zeros((50, 1), dtype=bool)  # repeats along the last dim: not rows
    (ya, _), (yb, _) = _both("masked_softmax", t, key_padding, dim=-1, scale=1.0)
    assert np.array_equal(ya[0], yb[0])
    (ya, _), (yb, _) = _both("index_add", t, np.array([1, 3]), t[:, :2], dim=1)  # not rows
    assert np.array_equal(ya[0], yb[0])


def test_float32_gelu_kernels_compile_without_numba_warnings():
    """Their first compile in a new environment printed a NumbaIRAssumptionWarning (numba's
    IR-level inlining of the float32 gelu's branch; LLVM inlines it now): fresh, uncached
    copies compile silently."""
    import warnings

    import numba

    from ember.jit import _numba_op_kernels as NK
    x = np.linspace(-9, 9, 24, dtype=np.float32).reshape(4, 6)
    for kernel, args in [(NK.gelu, (x.ravel(),)), (NK.gelu_biased, (x, np.ones(6, np.float32)))]:
        fresh = numba.njit(fastmath=NK._OPTS["fastmath"], error_model="numpy")(kernel.py_func)
        y, slope = np.empty_like(x), np.empty_like(x)
        with warnings.catch_warnings():
            warnings.simplefilter("error", numba.core.errors.NumbaWarning)
            fresh(*args, y.reshape(args[0].shape), slope.reshape(args[0].shape), True)
        expect = x + (1 if kernel is NK.gelu_biased else 0)
        np.testing.assert_allclose(y, REGISTRY["gelu"].forward(SavingContext((False,)), np,
                                                               expect), rtol=1e-5, atol=1e-30)
