"""Pointwise fusion: how chains are grouped (the kernels themselves: test_kernels.py)."""
import ember
from ember import jit
from ember.jit.ir import FUSION_GROUP
from ember.jit.passes import eliminate_common_subexpressions, fuse_pointwise

from .models import gelu_chain


def _graph(fn, *example):
    return jit.trace(fn, example, check_trace=False).graph.copy()


def _groups(g):
    return [n for n in g.nodes if n.op == FUSION_GROUP]


def test_chain_becomes_one_group():
    x, w, b = ember.randn(4, 5), ember.randn(5), ember.randn(5)
    g = _graph(gelu_chain, x, w, b)
    assert fuse_pointwise(g) == 1
    (group,) = _groups(g)
    assert [n.op for n in group.body.nodes] == ["mul", "add", "mul", "div", "erf", "add", "mul"]
    assert len(group.args) == 3 and len(group.outputs) == 1
    g.verify()
    assert "prim::FusionGroup_0(%x, %w, %b)" in str(g)


def test_values_read_outside_become_group_outputs():
    g = _graph(lambda x: ((x * 2).exp(), (x * 2).sum()), ember.randn(3, 3))
    eliminate_common_subexpressions(g)
    fuse_pointwise(g)
    assert [n.op for n in g.nodes] == [FUSION_GROUP, "sum"]
    assert len(_groups(g)[0].outputs) == 2


def test_non_pointwise_node_splits_chains():
    g = _graph(lambda x: ((x * 2 + 1) @ x).exp().neg(), ember.randn(3, 3))
    fuse_pointwise(g)
    assert [n.op for n in g.nodes] == [FUSION_GROUP, "matmul", FUSION_GROUP]


def test_single_op_and_inplace_are_not_fused():
    g = _graph(lambda x: x.exp(), ember.randn(3))
    assert fuse_pointwise(g) == 0

    def f(x):
        y = x * 2
        y.add_(1)
        return y * 3 + 1
    g = _graph(f, ember.randn(3))
    fuse_pointwise(g)
    assert [n.display_op() for n in g.nodes] == ["mul", "add_", FUSION_GROUP]


def test_integer_and_mixed_dtype_chains_are_not_fused():
    g = _graph(lambda x: (x * 2 + 1) * 3, ember.arange(4))
    assert fuse_pointwise(g) == 0
    g = _graph(lambda x, y: (x * y + 1).exp(), ember.randn(3), ember.randn(3).double())
    fuse_pointwise(g)
    assert [n.op for n in g.nodes][0] == "mul"


def test_broadcast_only_node_does_not_start_a_group():
    g = _graph(lambda a, b: (a + b).exp(), ember.randn(3, 1), ember.randn(4))
    assert fuse_pointwise(g) == 0


def test_fused_graph_runs_like_eager():
    x, w, b = ember.randn(6, 5), ember.randn(5), ember.randn(5)
    s = jit.trace(gelu_chain, (x, w, b))
    assert _groups(s.optimized_graph)
    with ember.no_grad():
        assert float((s(x, w, b) - gelu_chain(x, w, b)).abs().max()) < 1e-6
