"""Memory planning: generated code writes results into dead buffers, never into inputs, state,
outputs or memory a live view still reads, and computes the same values."""
import tracemalloc

import numpy as np
import pytest

import ember
from ember import jit, nn
from ember.jit.codegen import compile_graph
from ember.jit.ir import IF, Graph, TensorType
from ember.jit.passes import plan_memory
from ember.nn import functional as F

from .models import MLP


class CNN(nn.Module):
    """conv + BN + relu + pool twice, then a linear layer."""

    def __init__(self):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6)
        self.c2, self.b2 = nn.Conv2d(6, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.fc = nn.Linear(8 * 4 * 4, 5)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.b1(self.c1(x))), 2)
        x = F.max_pool2d(F.relu(self.b2(self.c2(x))), 2)
        return self.fc(x.flatten(1))


class Block(nn.Module):
    """A GPT-like block: causal self-attention and a gelu MLP, both with residuals."""

    def __init__(self, d=16, heads=2):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.up, self.down = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (d // self.heads) ** -0.5
        mask = ember.ones(t, t).tril() == 0
        att = att.masked_fill(mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.proj(y)
        return x + self.down(F.gelu(self.up(self.ln2(x))))


def _compiled(fn, *example):
    return jit.trace(fn, example).optimized_graph


def _call(graph, arrays, memory=True, state=()):
    names = [n for n, k in graph.constant_kind.items() if k != "constant"]
    code = compile_graph(graph, names, "f", memory=memory)
    return code, code.fn(list(arrays), list(state))


def _same(model, x, frozen=True):
    traced = jit.trace(model.eval(), x)
    script = jit.freeze(traced) if frozen else traced
    with ember.no_grad():
        want = model(x)
        got = script(x)
        again = script(x)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(again.numpy(), got.numpy())
    return script._methods["forward"].compiled()[3]


@pytest.mark.parametrize("name", ["mlp", "cnn", "gpt"])
def test_models_reuse_buffers_and_match_eager(name):
    model, x = {"mlp": (MLP(), ember.randn(4, 8)),
                "cnn": (CNN(), ember.randn(2, 3, 16, 16)),
                "gpt": (Block(), ember.randn(2, 5, 16))}[name]
    code = _same(model, x)
    assert code.plan.reused > 0
    assert "out=" in code.source.split("def forward_any_shape")[0]


def test_fresh_allocations_drop():
    def f(x, w):
        for _ in range(4):
            x = (x @ w).relu()
        return x
    graph = _compiled(f, ember.randn(64, 64), ember.randn(64, 64))
    plan = plan_memory(graph)
    produced = sum(len(n.outputs) for n in graph.nodes)
    assert plan.reused >= 6 and plan.fresh <= 2
    assert produced - plan.reused < produced / 2
    x, w = ember.randn(64, 64), ember.randn(64, 64) * 0.1
    _, (plain,) = _call(graph, [x._data, w._data], memory=False)
    _, (planned,) = _call(graph, [x._data, w._data])
    np.testing.assert_array_equal(planned, plain)


def test_peak_memory_holds_two_intermediates():
    """Four products and tanhs keep at most two 128x128 arrays alive: with the plan its
    buffers are reused; without it each dead intermediate is deleted (not all eight held)."""
    def f(x, w):
        for _ in range(4):
            x = (x @ w).tanh()
        return x
    x, w = ember.randn(128, 128), ember.randn(128, 128) * 0.1
    graph = _compiled(f, x, w)
    for memory in (False, True):
        code, _ = _call(graph, [x._data, w._data], memory=memory)
        tracemalloc.start()
        code.fn([x._data, w._data], [])
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 2.5 * x._data.nbytes


def test_inputs_state_and_outputs_are_never_written():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(ember.randn(4, 4))

        def forward(self, x):
            y = (x * 2).exp()          # x is dead here: it still must not be written
            z = (y + self.w).neg()     # y is returned, so z may not take its buffer
            return y, z.abs() * 3, self.w * 1

    net = Net()
    x = ember.randn(4, 4)
    x_before, w_before = x.numpy().copy(), net.w.detach().numpy().copy()
    s = jit.trace(net, x)
    with ember.no_grad():
        got = s(x)
        want = net(x)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)
    np.testing.assert_array_equal(x.numpy(), x_before)
    np.testing.assert_array_equal(net.w.detach().numpy(), w_before)
    graph, *_ = s._methods["forward"].compiled()
    plan = plan_memory(graph)
    protected = {v.id for v in graph.inputs} | {v.id for v in graph.constants.values()} | \
        {v.id for v in graph.outputs}
    assert not protected & {buf.id for buf in plan.target.values()}


def test_buffers_read_through_views_stay_alive():
    def f(x):
        y = x * 2
        flat = y.view(-1)         # a view of y, read after y's last direct use
        z = y.exp()
        w = (z + 1).sin()
        return w + flat.view(3, 4)
    x = ember.randn(3, 4)
    s = jit.trace(f, x)
    with ember.no_grad():
        np.testing.assert_allclose(s(x).numpy(), f(x).numpy(), rtol=1e-6)
    graph = s.optimized_graph
    plan = plan_memory(graph)
    y = graph.nodes[0].outputs[0]
    assert all(buf is not y for buf in plan.target.values())


def test_transposed_read_blocks_in_place():
    def f(x):
        y = x.exp()
        return (y + y.t()).neg()
    x = ember.randn(4, 4)
    s = jit.trace(f, x)
    with ember.no_grad():
        np.testing.assert_allclose(s(x).numpy(), f(x).numpy(), rtol=1e-6)


def test_in_place_pointwise_and_fused_groups():
    def f(x, b):
        y = x @ x
        return ((y + b).relu() * 2).exp()
    x, b = ember.randn(6, 6), ember.randn(6)
    s = jit.trace(f, (x, b))
    code = s._methods["forward"].compiled()[3]
    assert code.plan.inplace
    with ember.no_grad():
        np.testing.assert_allclose(s(x, b).numpy(), f(x, b).numpy(), rtol=1e-5)


def test_fused_group_in_place_with_numba(numba_fuser):
    def f(x, b):
        y = x @ x
        return F.gelu(y * 0.5 + b)
    x, b = ember.randn(32, 32), ember.randn(32)
    s = jit.trace(f, (x, b))
    code = s._methods["forward"].compiled()[3]
    assert code.plan.inplace and ", out=(" in code.source
    with ember.no_grad():
        np.testing.assert_allclose(s(x, b).numpy(), f(x, b).numpy(), rtol=1e-5, atol=1e-6)


def test_other_shapes_run_without_the_plan():
    """A graph that is the same at every shape (no size computed from its inputs) runs its
    plan at the traced shapes and plain code at others."""
    def f(x):
        return ember.softmax(x * 2, -1) + x.sin()
    s = jit.trace(f, ember.randn(2, 8))
    assert not s.graph.symbols and not s.graph.fixed_sizes
    code = s._methods["forward"].compiled()[3]
    assert "forward_any_shape" in code.source
    for shape in ((1, 8), (2, 8), (7, 3)):
        x = ember.randn(*shape)
        np.testing.assert_allclose(s(x).numpy(), f(x).numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(RuntimeError, match="the number of dims differs"):
        s(ember.randn(4, 5, 6))  # its softmax is over dim 1


def test_values_with_data_dependent_shapes_are_not_planned():
    def f(x):
        kept = x[x > 0]
        return (kept * 2).exp(), (x + 1).neg()
    x = ember.randn(5, 4)
    s = jit.trace(f, x)
    graph = s.optimized_graph
    plan = plan_memory(graph)
    masked = next(n for n in graph.nodes if n.op == "getitem").outputs[0]
    dependent = {masked.id} | {v.id for n in graph.nodes if masked in n.inputs()
                               for v in n.outputs}
    assert not dependent & set(plan.target)
    assert not dependent & {buf.id for buf in plan.target.values()}


def _branch(op, t):
    block = Graph()
    y = block.add_input(t)
    block.outputs = [block.add_node(op, [y, 1.0], {}, [t]).outputs[0]]
    return block


def test_control_flow_values_are_not_planned():
    t = TensorType(ember.float32, (3,))
    g = Graph()
    x = g.add_input(t, "x")
    y = g.add_node("mul", [x, 2.0], {}, [t]).outputs[0]
    total = g.add_node("sum", [y], {}, [TensorType(ember.float32, ())]).outputs[0]
    cond = g.add_node("gt", [total, 0.0], {}, [TensorType(ember.bool, ())]).outputs[0]
    branch = g.add_node(IF, [cond, y], {}, [t], blocks=[_branch("add", t), _branch("sub", t)])
    z = branch.outputs[0]
    e = g.add_node("exp", [z], {}, [t]).outputs[0]
    g.outputs = [g.add_node("neg", [e], {}, [t]).outputs[0]]
    g.verify()
    plan = plan_memory(g)
    buffers = {buf.id for buf in plan.target.values()}
    assert y.id not in buffers and z.id not in buffers
    assert not {y.id, z.id} & set(plan.target)


def test_plan_can_be_turned_off():
    graph = _compiled(lambda x: (x * 2).exp().neg(), ember.randn(3, 3))
    code, _ = _call(graph, [ember.randn(3, 3)._data], memory=False)
    assert code.plan is None and "out=" not in code.source
