"""Constant folding and propagation."""
import numpy as np

import ember
from ember import jit
from ember.jit.passes import eliminate_dead_code, fold_constants

from .models import MLP


def test_folds_chains_of_constants():
    def f(x):
        c = ember.tensor([1.0, 2.0, 3.0])
        return x + (c * 2).exp().sum()
    g = jit.trace(f, ember.ones(3), check_trace=False).graph.copy()
    assert fold_constants(g) == 3
    eliminate_dead_code(g)
    assert [n.op for n in g.nodes] == ["add"]
    (folded,) = g.constants.values()
    assert np.isclose(float(g.constant_data[folded.name]), np.exp([2.0, 4.0, 6.0]).sum())


def test_parameters_do_not_fold_unless_frozen():
    m = MLP().eval()
    g = jit.trace(m, ember.ones(2, 8)).graph.copy()
    assert fold_constants(g) == 0


def test_mutated_constants_do_not_fold():
    def f(x):
        z = ember.zeros(3)
        z.copy_(x)
        return z * 2
    g = jit.trace(f, ember.ones(3), check_trace=False).graph.copy()
    assert fold_constants(g) == 0


def test_constants_requiring_grad_do_not_fold():
    w = ember.ones(3, requires_grad=True)
    g = jit.trace(lambda x: x * w.exp(), ember.ones(3), check_trace=False).graph.copy()
    assert fold_constants(g) == 0


def test_folded_graph_gives_the_same_result():
    def f(x):
        return x @ ember.arange(6.0).reshape(3, 2).t().t()
    s = jit.trace(f, ember.ones(2, 3))
    assert all(n.op == "matmul" for n in s.optimized_graph.nodes)
    x = ember.randn(4, 3)
    with ember.no_grad():
        assert np.allclose(s(x).numpy(), f(x).numpy())
