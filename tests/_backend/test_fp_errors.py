"""ember's kernels run with NumPy's floating-point warnings off (ember/_backend/fp_errors.py):
torch returns inf and nan silently, and the user's own NumPy code keeps its settings."""
import warnings

import numpy as np
import pytest

import ember


@pytest.fixture(autouse=True)
def _warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def _edge():
    return ember.tensor([0.0, -1.0, 1.0, float("inf")])


def test_half_precision_results_overflow_silently():
    """float16/bfloat16 compute in float32; the cast back to inf is as silent as torch's."""
    x = ember.tensor([1.0, 60000.0], dtype=ember.float16)
    assert (x + 1e5).tolist() == [np.inf, np.inf] and (x * 100)[1].item() == np.inf
    assert (ember.tensor([1.0], dtype=ember.bfloat16) * 1e38 * 10).item() == np.inf


def test_eager_ops_and_their_in_place_forms_are_silent():
    x = _edge()
    assert x.log()[0].item() == -np.inf and np.isnan(x.sqrt()[1].item())
    assert (x / 0)[2].item() == np.inf and (ember.tensor([1e38]) * 1e38).item() == np.inf
    y = x.clone()
    y.log_()
    y /= 0
    assert np.isnan(ember.tensor([-1.0]).pow(0.5).item())


def test_gradients_jit_and_compiled_graphs_are_silent():
    x = ember.tensor([0.0, 1.0], requires_grad=True)
    x.log().sum().backward()
    assert x.grad.tolist() == [np.inf, 1.0]
    traced = ember.jit.trace(lambda t: t.log() * 2, (ember.ones(2),))
    assert traced(ember.zeros(2)).tolist() == [-np.inf, -np.inf]
    compiled = ember.compile(lambda t: t.log().sum())
    for _ in range(2):
        x.grad = None
        compiled(x).backward()
    assert x.grad.tolist() == [np.inf, 1.0]


def test_users_numpy_code_keeps_its_settings():
    _edge().log()
    with pytest.raises(RuntimeWarning, match="divide by zero"):
        np.log(np.zeros(1))

    class NumpyLog(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return ember.from_numpy(np.log(x.numpy()))

        @staticmethod
        def backward(ctx, g):
            return g
    with pytest.raises(RuntimeWarning, match="divide by zero"):
        NumpyLog.apply(ember.zeros(1))
