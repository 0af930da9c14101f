"""Algebraic simplification."""
import pytest

import ember
from ember import jit
from ember.jit.passes import simplify


def _graph(fn, *example):
    return jit.trace(fn, example, check_trace=False).graph.copy()


@pytest.mark.parametrize("fn", [lambda x: x * 1, lambda x: 1 * x, lambda x: x + 0,
                                lambda x: 0 + x, lambda x: x - 0, lambda x: x / 1,
                                lambda x: x * 1.0 + 0.0])
def test_identities_disappear(fn):
    g = _graph(lambda x: fn(x).exp(), ember.ones(2, 3))
    simplify(g)
    assert [n.op for n in g.nodes] == ["exp"] and g.nodes[0].args[0] is g.inputs[0]


def test_identity_that_changes_dtype_or_shape_stays():
    g = _graph(lambda x: x * 1.0, ember.ones(3, dtype=ember.int64))
    assert simplify(g) == 0
    g = _graph(lambda x: x + ember.zeros(2, 3), ember.ones(3))
    assert simplify(g) == 0


def test_result_returned_is_not_aliased_to_the_input():
    g = _graph(lambda x: x + 0, ember.ones(3))
    assert simplify(g) == 0


def test_double_transpose_and_permutes():
    g = _graph(lambda x: x.t().t().exp(), ember.ones(2, 3))
    simplify(g)
    assert [n.op for n in g.nodes] == ["exp"]
    g = _graph(lambda x: x.permute(1, 2, 0).permute(2, 0, 1).exp(), ember.ones(2, 3, 4))
    simplify(g)
    assert [n.op for n in g.nodes] == ["exp"]
    g = _graph(lambda x: x.permute(1, 2, 0).permute(1, 0, 2), ember.ones(2, 3, 4))
    simplify(g)
    assert [n.op for n in g.nodes] == ["permute"] and g.nodes[0].attrs["dims"] == (2, 1, 0)


def test_reshape_of_reshape():
    g = _graph(lambda x: x.reshape(6).reshape(3, 2).exp(), ember.ones(2, 3))
    simplify(g)
    assert [n.op for n in g.nodes] == ["view", "exp"]
    assert g.nodes[0].args[0] is g.inputs[0] and g.nodes[0].attrs["shape"] == (3, 2)
    g = _graph(lambda x: x.view(6).view(2, 3).exp(), ember.ones(2, 3))
    simplify(g)
    assert [n.op for n in g.nodes] == ["exp"]


def test_no_rewrite_around_inplace_writes():
    def f(x):
        y = x * 1
        y.add_(1)
        return x.exp() + y
    g = _graph(f, ember.ones(3))
    simplify(g)
    assert "mul" in [n.op for n in g.nodes]


def test_simplified_function_still_matches():
    def f(x):
        return (x.t().t() * 1 + 0).reshape(6).reshape(3, 2) / 1
    s = jit.trace(f, ember.ones(2, 3))
    x = ember.randn(2, 3)
    with ember.no_grad():
        assert bool((s(x) == f(x)).all())
