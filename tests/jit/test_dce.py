"""Dead-code elimination."""
import numpy as np

import ember
from ember import jit
from ember.jit.passes import eliminate_dead_code


def _trace(fn, *example):
    return jit.trace(fn, example, check_trace=False).graph.copy()


def test_trace_drops_unused_work():
    def f(x):
        x.exp()
        (x * 2).sum()
        return x + 1
    g = _trace(f, ember.ones(3))
    assert [n.op for n in g.nodes] == ["add"]


def test_removes_dead_nodes_and_constants():
    g = _trace(lambda x: x + ember.from_numpy(np.ones(3, np.float32)), ember.ones(3))
    g.outputs = [g.inputs[0]]
    assert eliminate_dead_code(g) == 1
    assert not g.nodes and not g.constants
    g.verify()


def test_keeps_inplace_writes_and_their_inputs():
    def f(x):
        y = x * 2
        y.add_(1)
        return x
    g = _trace(f, ember.ones(3))
    assert [n.display_op() for n in g.nodes] == ["mul", "add_"]
    assert eliminate_dead_code(g) == 0


def test_keeps_random_ops():
    from ember.jit.ir import Graph, TensorType
    g = Graph()
    x = g.add_input(TensorType(ember.float32, (3,)), "x")
    g.add_node("dropout", [x], {"p": 0.5}, [x.type])
    g.add_node("neg", [x], {}, [x.type])
    g.outputs = [x]
    eliminate_dead_code(g)
    assert [n.op for n in g.nodes] == ["dropout"]
