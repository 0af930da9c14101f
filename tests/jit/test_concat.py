"""Concatenation without copies (passes/concat.py): products that reach a cat or a contiguous
clone only through views write into their slices, and the results are unchanged."""
import inspect
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ember
from ember import jit
from ember.jit.codegen import compile_graph
from ember.jit.passes import plan_memory


def _graph(fn, *example):
    graph = jit.trace(fn, example, check_trace=False).optimized_graph
    assert not graph.symbols
    return graph


def _run(graph, arrays, memory=True):
    code = compile_graph(graph, [], "f", memory=memory)
    return code, code.fn([a._data for a in arrays], [])


def _called(code) -> set:
    """Qualified names of the functions the planned code (before its any-shape fallback)
    calls."""
    body = code.source.split("def f_any_shape")[0]
    bound = inspect.unwrap(code.fn).__globals__
    return {getattr(bound[name], "__qualname__", name) for name in re.findall(r"\b(g\d+)\(", body)}


def _heads(b=2, h=3, t=5, d=4):
    """Attention-shaped operands: (b, h, t, t) scores and (b, h, t, d) values."""
    return ember.randn(b, h, t, t), ember.randn(b, h, t, d), ember.randn(b, h, d, t)


def _qkv_grad(s, v, kt):
    """The shape of attention's backward: three products, transposed to (b, t, h*d) and
    concatenated along channels; the middle one transposed twice, as a key gradient is.
    Literal sizes keep the traced graph static (a symbolic graph is not written through)."""
    b, h, t, d = 2, 3, 5, 4
    pieces = [s @ v, (kt @ s.transpose(-1, -2)).transpose(-1, -2), s.transpose(-1, -2) @ v]
    return ember.cat([p.transpose(1, 2).reshape(b, t, h * d) for p in pieces], dim=2)


def test_attention_gradient_pieces_write_into_the_concatenation():
    args = _heads()
    graph = _graph(_qkv_grad, *args)
    plan = plan_memory(graph)
    assert len(plan.concat.slots) == 3
    code, (got,) = _run(graph, args)
    assert "slot_view" in _called(code) and "Cat.forward" not in _called(code)
    np.testing.assert_allclose(got, _qkv_grad(*args).numpy(), rtol=1e-5, atol=1e-6)
    _, (plain,) = _run(graph, args, memory=False)
    np.testing.assert_array_equal(got, plain)


def test_contiguous_copy_of_a_transposed_product():
    def f(p, v):
        return (p @ v).transpose(1, 2).contiguous().view(2, 5, 12) * 2
    s, v, _ = _heads()
    graph = _graph(f, s, v)
    assert len(plan_memory(graph).concat.slots) == 1
    _, (got,) = _run(graph, [s, v])
    np.testing.assert_allclose(got, f(s, v).numpy(), rtol=1e-5, atol=1e-6)
    assert got.flags.c_contiguous


@pytest.mark.parametrize("case", ["read_twice", "not_a_product", "not_blas_layout",
                                  "promoted"])
def test_pieces_that_stay_copied(case):
    a, b = ember.randn(3, 4), ember.randn(4, 2)

    def f(a, b):
        p = (a @ b).view(3, 2)
        if case == "read_twice":
            return ember.cat([p, p.exp()]), p
        if case == "not_a_product":
            return ember.cat([p, a.exp()[:, :2]]),
        if case == "not_blas_layout":  # the slice seen as p would step by columns
            return ember.cat([p.t().reshape(6), b.reshape(8)]),
        return ember.cat([p, b[:3].double()]),
    graph = _graph(f, a, b)
    assert not plan_memory(graph).concat.slots
    _, got = _run(graph, [a, b])
    for g, w in zip(got, f(a, b)):
        np.testing.assert_allclose(g, w.numpy(), rtol=1e-6)


def test_compiled_attention_gradients_match_eager():
    b, h, t, d = 2, 2, 6, 4
    x = ember.randn(b, t, 3 * h * d, requires_grad=True)

    def attend(x):
        q, k, v = (z.view(b, t, h, d).transpose(1, 2) for z in x.split(h * d, dim=2))
        y = ember.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        return y.transpose(1, 2).contiguous().view(b, t, h * d)
    fast = ember.compile(attend, fullgraph=True)
    for _ in range(2):
        x.grad = None
        (fast(x) ** 2).sum().backward()
        got = x.grad.numpy().copy()
    x.grad = None
    (attend(x) ** 2).sum().backward()
    np.testing.assert_allclose(got, x.grad.numpy(), rtol=1e-5, atol=1e-6)


def _qkv_grad_any(s, v, kt):
    """_qkv_grad with the sizes read from the inputs, so a trace follows them (symbols)."""
    b, h, t, d = v.shape
    pieces = [s @ v, (kt @ s.transpose(-1, -2)).transpose(-1, -2), s.transpose(-1, -2) @ v]
    return ember.cat([p.transpose(1, 2).reshape(b, t, h * d) for p in pieces], dim=2)


def test_symbolic_graph_writes_through_at_every_size():
    traced = jit.trace(_qkv_grad_any, _heads(), check_trace=False)
    graph = traced.optimized_graph
    assert graph.symbols
    plan = plan_memory(graph)
    assert len(plan.concat.slots) == 3
    code = compile_graph(graph, [], "f")
    for sizes in [(2, 3, 5, 4), (1, 2, 5, 4), (3, 1, 5, 4), (4, 5, 5, 4)]:  # b and h follow
        args = _heads(*sizes)
        (got,) = code.fn([a._data for a in args], [])
        np.testing.assert_allclose(got, _qkv_grad_any(*args).numpy(), rtol=1e-5, atol=1e-6)


def test_reshape_that_merges_symbolic_dims_is_not_written_through():
    """Taken back through the chain, a slice reshaped by merging dims is a view only for
    some strides; a symbolic graph's plan must hold at every size, so only splits pass
    there (a static graph checks its one shape)."""
    def f(p, v, w):
        b, h, t, d = v.shape
        return ember.cat([(p @ v).reshape(b, h, t, 2, d // 2),
                          (p @ w).reshape(b, h, t, 2, d // 2)]) * 1
    s, v, _ = _heads()
    w = ember.randn(v.shape)
    graph = jit.trace(f, (s, v, w), check_trace=False).optimized_graph
    assert graph.symbols and not plan_memory(graph).concat.slots
    code = compile_graph(graph, [], "f")
    for sizes in [(2, 3, 5, 4), (1, 2, 5, 4), (3, 1, 5, 4)]:
        s, v, _ = _heads(*sizes)
        w = ember.randn(v.shape)
        (got,) = code.fn([s._data, v._data, w._data], [])
        np.testing.assert_allclose(got, f(s, v, w).numpy(), rtol=1e-5, atol=1e-6)

    def fixed(p, v, w):
        return ember.cat([(p @ v).reshape(2, 3, 5, 2, 2), (p @ w).reshape(2, 3, 5, 2, 2)]) * 1
    s, v, _ = _heads()
    w = ember.randn(v.shape)
    graph = _graph(fixed, s, v, w)
    assert len(plan_memory(graph).concat.slots) == 2
    _, (got,) = _run(graph, [s, v, w])
    np.testing.assert_allclose(got, fixed(s, v, w).numpy(), rtol=1e-5, atol=1e-6)


# ---- property: random products, view chains and concatenations train as eager code ------
PRODUCTS = {  # each (b, h, t, d) from two (b, h, t, d) inputs
    "scores_values": lambda x, y: (x @ y.transpose(-1, -2)) @ y,
    "transposed": lambda x, y: (y.transpose(-1, -2) @ (x @ x.transpose(-1, -2)).softmax(-1))
    .transpose(-1, -2),
    "key_grad": lambda x, y: (x.transpose(-1, -2) @ (y @ x.transpose(-1, -2))).transpose(-1, -2),
    "elementwise": lambda x, y: x * y,  # not a product: stays a copy
}
CHAINS = {  # (view chain on a (b, h, t, d) piece, the dims a cat may join along)
    "heads": (lambda p: p.transpose(1, 2).reshape(p.shape[0], p.shape[2], -1), (0, 1, 2)),
    "plain": (lambda p: p, (0, 1, 2, 3)),
    "contiguous": (lambda p: p.transpose(1, 2).contiguous(), (0, 1, 2, 3)),
    "rows": (lambda p: p.reshape(-1, p.shape[-1]), (0, 1)),
    "permuted": (lambda p: p.permute(0, 2, 3, 1), (1, 2, 3)),
}


@settings(max_examples=80, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(CHAINS)), st.integers(0, 3),
       st.lists(st.sampled_from(sorted(PRODUCTS)), min_size=1, max_size=3),
       st.lists(st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 5)),
                min_size=2, max_size=3))
def test_compiled_concatenations_of_products_train_as_eager_code(chain, dim, products,
                                                                 sizes):
    view, dims = CHAINS[chain]
    dim = dims[dim % len(dims)]

    def f(x, y):
        return ember.cat([view(PRODUCTS[name](x, y)) for name in products], dim=dim) * 1.5
    compiled = ember.compile(f)
    rng = np.random.default_rng(0)
    for b, h, t in sizes:
        x, y = (rng.standard_normal((b, h, t, 2)).astype(np.float32) for _ in range(2))
        eager = [ember.from_numpy(a.copy()).requires_grad_() for a in (x, y)]
        fast = [ember.from_numpy(a.copy()).requires_grad_() for a in (x, y)]
        want, got = f(*eager), compiled(*fast)
        np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-5,
                                   atol=1e-5)
        g = ember.from_numpy(rng.standard_normal(tuple(want.shape)).astype(np.float32))
        want.backward(g)
        got.backward(g)
        for a, e in zip(fast, eager):
            np.testing.assert_allclose(a.grad.numpy(), e.grad.numpy(), rtol=1e-4, atol=1e-5)
