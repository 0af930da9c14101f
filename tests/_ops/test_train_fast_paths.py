"""Fast paths taken by training steps, against torch: where() with a zero branch (ReLU's
backward), cross-entropy's one-pass gradient and weight gradients of transposed matrices."""
import math

import numpy as np
import pytest
import torch

import ember


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_where_with_zero_branch_passes_values_bit_exact(dtype):
    values = [1.0, math.inf, math.nan, -2.0, -0.0, 3.5, -math.inf, 0.0]
    cond = [True, False, True, True, False, False, True, True]
    for lib in (ember, torch):
        c = lib.tensor(cond)
        x = lib.tensor(values, dtype=getattr(lib, dtype))
        got = [lib.where(c, x, 0.0), lib.where(c, 0.0, x), lib.where(c, x, -0.0)]
        if lib is ember:
            mine = [g.numpy() for g in got]
        else:
            theirs = [g.numpy() for g in got]
    for a, b in zip(mine, theirs):
        assert a.dtype == b.dtype
        assert a.tobytes() == b.tobytes()


def test_where_with_zero_branch_on_strided_operands():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    cond = rng.standard_normal((5, 6)) > 0
    got = ember.where(ember.from_numpy(cond).t(), ember.from_numpy(x.T.copy()).t(), 0.0)
    np.testing.assert_array_equal(got.numpy(), np.where(cond.T, x, 0.0))


def test_relu_backward_matches_torch_with_nan_and_inf():
    x0 = np.array([-1.0, 0.0, 2.0, math.nan, 3.0, -4.0], dtype=np.float32)
    g0 = np.array([1.0, math.inf, math.nan, 2.0, -math.inf, math.nan], dtype=np.float32)
    grads = []
    for lib in (ember, torch):
        x = lib.tensor(x0, requires_grad=True)
        x.relu().backward(lib.tensor(g0))
        grads.append(x.grad.numpy())
    assert grads[0].tobytes() == grads[1].tobytes()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape,target_shape", [((7, 11), (7,)), ((3, 5, 4), (3, 4)),
                                                ((5,), ())])
def test_cross_entropy_gradient_matches_torch(reduction, shape, target_shape):
    rng = np.random.default_rng(1)
    x0 = rng.standard_normal(shape).astype(np.float32) * 4
    classes = shape[1] if len(shape) > 1 else shape[0]
    y0 = rng.integers(0, classes, target_shape)
    g0 = rng.standard_normal(target_shape).astype(np.float32)
    results = []
    for lib in (ember, torch):
        x = lib.tensor(x0, requires_grad=True)
        loss = lib.nn.functional.cross_entropy(x, lib.tensor(y0), reduction=reduction)
        loss.backward(lib.tensor(g0) if reduction == "none" else None)
        results.append((loss.detach().numpy(), x.grad.numpy()))
    (le, ge), (lt, gt) = results
    np.testing.assert_allclose(le, lt, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ge, gt, rtol=1e-5, atol=1e-6)
    assert ge.flags.c_contiguous and ge.shape == gt.shape


def test_linear_weight_gradient_is_row_major_and_matches_torch():
    rng = np.random.default_rng(2)
    x0 = rng.standard_normal((2, 3, 4)).astype(np.float32)
    w0 = rng.standard_normal((5, 4)).astype(np.float32)
    grads = []
    for lib in (ember, torch):
        w = lib.tensor(w0, requires_grad=True)
        (lib.tensor(x0) @ w.t()).square().sum().backward()
        grads.append(w.grad)
    assert grads[0].numpy().flags.c_contiguous
    np.testing.assert_allclose(grads[0].numpy(), grads[1].numpy(), rtol=1e-5, atol=1e-5)


def test_transposed_weight_double_backward_matches_torch():
    rng = np.random.default_rng(3)
    x0 = rng.standard_normal((3, 4))
    w0 = rng.standard_normal((5, 4))
    out = []
    for lib in (ember, torch):
        x = lib.tensor(x0, requires_grad=True)
        w = lib.tensor(w0, requires_grad=True)
        (gw,) = lib.autograd.grad((x @ w.t()).square().sum(), w, create_graph=True)
        gw.sum().backward()
        out.append((gw.detach().numpy(), x.grad.numpy()))
    for a, b in zip(out[0], out[1]):
        np.testing.assert_allclose(a, b, rtol=1e-10)
