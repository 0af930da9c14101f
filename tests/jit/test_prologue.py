"""Bias adds folded into gelu's kernel (passes/prologue.py): a Linear layer's bias runs inside
the activation that follows it, and results and gradients are unchanged."""
import numpy as np
import pytest

import ember
from ember import jit, nn
from ember.jit import op_kernels
from ember.jit.codegen import SavingContext
from ember.jit.passes.prologue import bias_prologues
from ember.nn import functional as F

from .models import assert_compiled_trains_as_eager

pytestmark = pytest.mark.skipif(not op_kernels.available(), reason="numba is not installed")


def _graph(fn, *example):
    return jit.trace(fn, example, check_trace=False).graph


def test_linear_then_gelu_folds_its_bias():
    w, b = ember.randn(8, 4), ember.randn(8)
    graph = _graph(lambda x: F.gelu(x @ w.t() + b) * 2, ember.randn(3, 4))
    (gelu,) = bias_prologues(graph).values()
    assert gelu.op == "gelu"


_B = ember.randn(4)
STAYING = {  # adds that stay their own node
    "read_twice": lambda x: (lambda h: (F.gelu(h), h))(x + _B),
    "tanh": lambda x: F.gelu(x + _B, approximate="tanh"),
    "matrix_bias": lambda x: F.gelu(x + x.exp()),
    "int_bias": lambda x: F.gelu(x + ember.ones(4, dtype=ember.int64)),
    "alpha": lambda x: F.gelu(x.add(_B, alpha=2)),
    "not_next": lambda x: (lambda h, e: F.gelu(h) * e)(x + _B, x.exp()),
}


@pytest.mark.parametrize("case", sorted(STAYING))
def test_adds_that_stay(case):
    graph = _graph(STAYING[case], ember.randn(3, 4))
    assert "gelu" in [n.op for n in graph.nodes] and not bias_prologues(graph)


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64])
def test_form_matches_gelu_of_the_sum(dtype):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((64, 96)) * 3).astype(dtype.np)
    b = rng.standard_normal(96).astype(dtype.np)
    for arr in (x, x.T.copy().T, x[:, :48]):  # contiguous, then two the kernel does not take
        bias = b[:arr.shape[1]]
        want_ctx, got_ctx = SavingContext((True,)), SavingContext((True,))
        want = op_kernels.gelu(want_ctx, np, arr + bias)
        got = op_kernels.gelu_biased(got_ctx, np, arr, bias)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(got_ctx.saved_values[1], want_ctx.saved_values[1],
                                   rtol=1e-6, atol=1e-7)


def test_compiled_mlp_trains_as_eager(monkeypatch):
    calls = []
    folded = op_kernels.gelu_biased
    monkeypatch.setattr(op_kernels, "gelu_biased",
                        lambda *a, **k: calls.append(1) or folded(*a, **k))
    ember.manual_seed(0)
    assert_compiled_trains_as_eager(
        lambda: nn.Sequential(nn.Linear(32, 64), nn.GELU(), nn.Linear(64, 8)),
        ember.randn(4, 32, 32), ember.randn(4, 32, 32), ember.randn(2, 40, 32),
        ember.randn(3, 24, 32))
    assert calls
