"""Common-subexpression elimination."""
import ember
from ember import jit
from ember.jit.passes import eliminate_common_subexpressions, eliminate_dead_code


def _graph(fn, *example):
    return jit.trace(fn, example, check_trace=False).graph.copy()


def test_merges_repeated_pure_calls():
    g = _graph(lambda x: x.exp() + x.exp() * x.exp(), ember.ones(3))
    assert [n.op for n in g.nodes].count("exp") == 3
    assert eliminate_common_subexpressions(g) == 2
    eliminate_dead_code(g)
    assert [n.op for n in g.nodes] == ["exp", "mul", "add"]
    g.verify()


def test_attributes_and_literals_must_match_exactly():
    g = _graph(lambda x: x.sum(0) + x.sum(1) + (x * 2) + (x * 2.0), ember.ones(3, 3))
    assert eliminate_common_subexpressions(g) == 0


def test_never_merges_across_an_inplace_write():
    def f(x):
        y = x.clone()
        a = y.exp()
        y.add_(1)
        b = y.exp()
        return a, b
    g = _graph(f, ember.ones(3))
    before = len(g.nodes)
    eliminate_common_subexpressions(g)
    assert len(g.nodes) == before


def test_random_ops_are_not_merged():
    from ember.jit.ir import Graph, TensorType
    g = Graph()
    x = g.add_input(TensorType(ember.float32, (3,)), "x")
    a = g.add_node("dropout", [x], {"p": 0.5}, [x.type])
    b = g.add_node("dropout", [x], {"p": 0.5}, [x.type])
    g.outputs = [a.outputs[0], b.outputs[0]]
    assert eliminate_common_subexpressions(g) == 0


def test_graph_still_runs_after_cse():
    f = jit.trace(lambda x: (x.exp() + x.exp()).sum(), ember.ones(3))
    nodes = f.optimized_graph.nodes
    ops = [n.op for n in nodes] + [m.op for n in nodes if n.body for m in n.body.nodes]
    assert ops.count("exp") == 1
    x = ember.randn(3)
    assert abs(float(f(x)) - float((x.exp() * 2).sum())) < 1e-5
