"""Sums folded into the elementwise op that makes their input (passes/epilogue.py): a bias's
gradient is summed while the gradient it reads is written, with unchanged results."""
import numpy as np
import pytest

import ember
from ember import jit, nn
from ember.jit import op_kernels
from ember.jit.codegen import SavingContext
from ember.jit.passes.epilogue import row_sums

from .models import assert_compiled_trains_as_eager

pytestmark = [pytest.mark.skipif(not op_kernels.available(), reason="numba is not installed"),
              pytest.mark.usefixtures("kernel_threads")]


def _graph(fn, *example):
    return jit.trace(fn, example, check_trace=False).graph


@pytest.mark.parametrize("op", ["add", "sub", "mul"])
def test_leading_sums_of_elementwise_results_fold(op):
    fn = {"add": lambda a, b: (a + b, (a + b).sum((0, 1))),
          "sub": lambda a, b: ((a - b).sum(0, keepdim=True),),
          "mul": lambda a, b: (lambda p: (p.exp(), p.sum((1, 0))))(a * b)}[op]
    graph = _graph(fn, ember.randn(2, 3, 4), ember.randn(2, 3, 4))
    (total,) = row_sums(graph).values()
    assert total.op == "sum"


STAYING = {
    "broadcast": lambda a, b: (a + b[0, 0]).sum(0),
    "last_dim": lambda a, b: (a + b).sum(-1),
    "all_dims": lambda a, b: (a + b).sum(),
    "dtype": lambda a, b: (a * b).sum(0, dtype=ember.float64),
    "div": lambda a, b: (a / b).sum(0),
    "written": lambda a, b: (lambda p: (p.add_(1), p.sum(0)))(a + b),
}


@pytest.mark.parametrize("case", sorted(STAYING))
def test_sums_that_stay(case):
    graph = _graph(STAYING[case], ember.randn(2, 3, 4), ember.randn(2, 3, 4))
    assert "sum" in [n.op for n in graph.nodes] and not row_sums(graph)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op,ufunc", [("add", np.add), ("sub", np.subtract),
                                      ("mul", np.multiply)])
def test_form_matches_numpy(dtype, op, ufunc):
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((16, 64, 48)).astype(dtype) for _ in range(2))
    want = ufunc(a, b)
    for lead in (1, 2):
        got, total = op_kernels.elementwise_row_sum(op, a, b, lead)
        np.testing.assert_array_equal(got, want)
        np.testing.assert_allclose(total, want.sum(axis=tuple(range(lead))), rtol=1e-5,
                                   atol=1e-4)
    for first in (True, False):  # the memory plan may hand it either operand's buffer
        x, y = a.copy(), b.copy()
        into = x if first else y
        got, total = op_kernels.elementwise_row_sum(op, x, y, 1, out=into)
        assert got is into
        np.testing.assert_array_equal(got, want)
        np.testing.assert_allclose(total, want.sum(0), rtol=1e-5, atol=1e-4)
    row = b[:1]  # a graph fits shapes at its traced sizes; a call that broadcasts goes to NumPy
    got, total = op_kernels.elementwise_row_sum(op, a, np.ascontiguousarray(row), 1)
    np.testing.assert_allclose(total, ufunc(a, row).sum(0), rtol=1e-5, atol=1e-4)
    strided = a.transpose(1, 0, 2)  # not a layout the kernel takes: NumPy runs it
    got, total = op_kernels.elementwise_row_sum(op, strided, b.transpose(1, 0, 2), 1)
    np.testing.assert_allclose(total, ufunc(strided, b.transpose(1, 0, 2)).sum(0), rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_backward_add_matches_the_two_steps(dtype, affine):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 64, 48)).astype(dtype)
    g, other = (rng.standard_normal(x.shape).astype(dtype) for _ in range(2))
    w = rng.standard_normal(48).astype(dtype) if affine else None
    ctx = SavingContext((True, True, True))
    op_kernels.layer_norm(ctx, np, x, w, None, ndim=1, eps=1e-5)
    _, _, xhat, rstd = ctx.saved_values
    need = (True, affine, affine)
    want = op_kernels.layer_norm_backward(ctx, np, g, xhat, rstd, w, need, (48,))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for lead, other_in in [(0, other), (2, other), (1, other), (2, np.asfortranarray(other))]:
        total, gw, gb, sums = op_kernels.layer_norm_backward_add(
            ctx, np, g, xhat, rstd, w, other_in, lead, need=need, pshape=(48,))
        np.testing.assert_allclose(total, want[0] + other_in, rtol=tol, atol=tol)
        if affine:
            np.testing.assert_allclose(gw, want[1], rtol=tol * 10, atol=tol * 10)
            np.testing.assert_allclose(gb, want[2], rtol=tol * 10, atol=tol * 10)
        else:
            assert gw is None and gb is None
        if lead:
            np.testing.assert_allclose(sums, (want[0] + other_in).sum(tuple(range(lead))),
                                       rtol=tol * 10, atol=tol * 100)
        else:
            assert sums is None


def test_compiled_residual_block_trains_as_eager(monkeypatch):
    calls = []
    for name in ("elementwise_row_sum", "layer_norm_backward_add"):
        monkeypatch.setattr(op_kernels, name, lambda *a, _f=getattr(op_kernels, name), **k:
                            calls.append(_f.__name__) or _f(*a, **k))

    class Block(nn.Module):
        """Two pre-norm residual branches: the second norm's input gradient joins the
        residual stream's."""

        def __init__(self):
            super().__init__()
            self.norm, self.fc, self.out = nn.LayerNorm(32), nn.Linear(32, 64), nn.Linear(64, 32)
            self.norm2 = nn.LayerNorm(32)

        def forward(self, x):
            x = x + self.out(nn.functional.gelu(self.fc(self.norm(x))))
            return x + self.out(self.fc(self.norm2(x)).tanh())

    ember.manual_seed(0)
    assert_compiled_trains_as_eager(Block, ember.randn(4, 32, 32), ember.randn(4, 32, 32),
                                    ember.randn(2, 40, 32), ember.randn(3, 24, 32))
    assert set(calls) == {"elementwise_row_sum", "layer_norm_backward_add"}
