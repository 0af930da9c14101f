"""Algebraic simplification."""
import numpy as np
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


def test_transposed_batched_product_swaps_its_operands():
    a, b = ember.randn(2, 3, 4), ember.randn(2, 4, 5)
    g = _graph(lambda a, b: (a @ b).transpose(1, 2).exp(), a, b)
    assert simplify(g) >= 1
    ops = [n.op for n in g.nodes]
    assert ops.count("matmul") == 1 and ops[-2:] == ["matmul", "exp"]
    mm = g.nodes[-2]
    assert [x.node.op for x in mm.args] == ["transpose", "transpose"]
    assert mm.args[0].node.args[0] is g.inputs[1] and mm.args[1].node.args[0] is g.inputs[0]
    assert mm.outputs[0].type.shape == (2, 5, 3)
    # an operand that is itself a transpose is read directly
    g = _graph(lambda a, b: (a.transpose(1, 2) @ b).transpose(1, 2),
               ember.randn(2, 4, 3), ember.randn(2, 4, 5))
    simplify(g)
    assert [n.op for n in g.nodes] == ["transpose", "matmul"]
    assert g.nodes[1].args[1] is g.inputs[0]


@pytest.mark.parametrize("fn", [lambda a, b: (a[0] @ b[0]).t(),
                                lambda a, b: (lambda p: (p.transpose(1, 2), p))(a @ b),
                                lambda a, b: (a @ b).transpose(0, 1)])
def test_product_transposes_that_stay(fn):
    """2-D products (BLAS speed depends on orientation), products read elsewhere, and
    transposes of batch dims keep their form."""
    a, b = ember.randn(2, 3, 4), ember.randn(2, 4, 3)
    g = _graph(fn, a, b)
    simplify(g)
    assert [n.op for n in g.nodes][-1] == "transpose"


def test_swapped_product_computes_the_same():
    a, b = ember.randn(2, 3, 4, dtype=ember.float64), ember.randn(2, 4, 5, dtype=ember.float64)
    s = jit.trace(lambda a, b: (a @ b).transpose(-1, -2) * 2, (a, b))
    np.testing.assert_allclose(s(a, b).numpy(), ((a @ b).transpose(-1, -2) * 2).numpy())


def test_max_pool_of_relu_pools_first():
    x = ember.randn(2, 3, 8, 8)
    g = _graph(lambda x: ember.nn.functional.max_pool2d(x.relu(), 2) * 2, x)
    assert simplify(g) >= 1
    ops = [n.op for n in g.nodes]
    assert ops.index("max_pool") < ops.index("relu")
    pool = g.nodes[ops.index("max_pool")]
    assert pool.args[0] is g.inputs[0]


@pytest.mark.parametrize("fn", [
    lambda x: ember.nn.functional.max_pool2d(x.relu(), 2, return_indices=True),
    lambda x: (lambda r: (ember.nn.functional.max_pool2d(r, 2), r))(x.relu()),
])
def test_relu_pools_that_stay(fn):
    """Indices someone reads, or a relu read elsewhere, keep the order."""
    g = _graph(fn, ember.randn(2, 3, 8, 8))
    simplify(g)
    ops = [n.op for n in g.nodes]
    assert ops.index("relu") < ops.index("max_pool")


@pytest.mark.parametrize("kwargs", [{}, {"padding": 1}, {"ceil_mode": True, "stride": 2},
                                    {"kernel_size": 3, "stride": 2, "dilation": 2}])
def test_pooled_first_computes_the_same(kwargs):
    x = ember.randn(2, 3, 9, 9)
    x[0, 0, 0, 0] = float("nan")
    x[1, 2] = -float("inf")
    args = {"kernel_size": 2, **kwargs}

    def f(x):
        return ember.nn.functional.max_pool2d(x.relu(), **args)
    s = jit.trace(f, (x,), check_trace=False)
    assert [n.op for n in s.optimized_graph.nodes][:2] == ["max_pool", "relu"]
    np.testing.assert_array_equal(s(x).numpy(), f(x).numpy())
