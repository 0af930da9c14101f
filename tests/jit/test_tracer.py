"""ember.jit.trace / trace_module: what is recorded, the warnings, check_trace and the result's
module API."""
import warnings

import numpy as np
import pytest

import ember
from ember import jit, nn

from .models import MLP, Stats


def _ops(graph):
    return [n.display_op() for n in graph.nodes]


def _same(a, b):
    return a.shape == b.shape and a.dtype == b.dtype and bool((a == b).all())


def test_trace_function_records_ops():
    f = jit.trace(lambda x, y: (x * y + 1).sum(1), (ember.ones(2, 3), ember.ones(2, 3)))
    assert _ops(f.graph) == ["mul", "add", "sum"]
    x, y = ember.randn(2, 3), ember.randn(2, 3)
    assert _same(f(x, y), (x * y + 1).sum(1))
    assert isinstance(f, jit.ScriptFunction)


def test_single_tensor_example_is_one_input():
    f = jit.trace(lambda x: x.exp(), ember.ones(3))
    assert len(f.graph.inputs) == 1 and f.graph.inputs[0].name == "x"


def test_module_parameters_become_named_constants():
    m = MLP().eval()
    s = jit.trace(m, ember.randn(5, 8))
    assert set(s.graph.constants) == {n for n, _ in m.named_parameters()}
    assert all(s.graph.constant_kind[n] == "parameter" for n in s.graph.constants)
    assert isinstance(s, jit.ScriptModule)
    x = ember.randn(7, 8)
    with ember.no_grad():
        assert _same(s(x), m(x))


def test_script_module_shares_and_names_state():
    m = MLP()
    s = jit.trace(m, ember.randn(2, 8))
    assert list(s.state_dict()) == list(m.state_dict())
    assert all(p is q for (_, p), (_, q) in zip(s.named_parameters(), m.named_parameters()))
    assert s.training and not s.eval().training and not s.fc1.training
    assert s.train().training
    assert repr(s).startswith("MLP(\n  original_name=MLP\n  (fc1): Linear(original_name=Linear)")


def test_load_state_dict_changes_the_traced_module():
    m = MLP().eval()
    s = jit.trace(m, ember.randn(2, 8))
    other = MLP()
    s.load_state_dict(other.state_dict())
    x = ember.randn(3, 8)
    with ember.no_grad():
        assert _same(s(x), other(x))


def test_item_bool_int_float_tolist_numpy_warn():
    def f(x):
        a = x.sum().item()
        b = float(x.max())
        c = int(x.min() > -100)
        d = bool((x > 0).any())
        e = x.tolist()[0]
        g = x.detach().numpy()[0]
        return x * (a + b + c + d + e + g)
    with pytest.warns(jit.TracerWarning) as record:
        jit.trace(f, ember.ones(2), check_trace=False)
    texts = " ".join(str(w.message) for w in record)
    for what in ("Python number", "Python float", "Python integer", "Python boolean",
                 "Python list", "NumPy array"):
        assert what in texts


def test_no_warning_for_constants_and_hooks_are_removed():
    m = MLP()
    with warnings.catch_warnings():
        warnings.simplefilter("error", jit.TracerWarning)
        jit.trace(lambda x: x * m.fc1.bias.sum().item(), ember.ones(2), check_trace=False)
    assert ember.Tensor.item.__name__ == "item"
    assert ember.ones(1).item() == 1.0


def test_data_dependent_value_fails_check_trace():
    with pytest.warns(jit.TracerWarning), pytest.raises(jit.TracingCheckError,
                                                        match="Graphs differed"):
        jit.trace(lambda x: x * x.sum().item(), ember.ones(3))


def test_control_flow_mismatch_fails_check_trace():
    def f(x):
        return x * 2 if bool(x.sum() > 0) else x * 3
    with pytest.warns(jit.TracerWarning), pytest.raises(jit.TracingCheckError):
        jit.trace(f, ember.tensor([1e-4, -1e-4, 0.0]), check_inputs=[ember.tensor([-1.0])])


def test_check_inputs_are_compared():
    def f(x):
        return x[:2] * 2 if x.shape[0] > 2 else x * 5
    jit.trace(f, ember.ones(4), check_inputs=[ember.randn(5)])
    with pytest.raises(jit.TracingCheckError, match="does not match"):
        jit.trace(f, ember.ones(4), check_inputs=[ember.randn(2)])


def test_random_numbers_are_reported():
    with pytest.warns(jit.TracerWarning) as record:
        f = jit.trace(lambda x: x + ember.randint(0, 1000, (3,)), ember.zeros(3))
    assert any("Random numbers" in str(w.message) for w in record)
    assert any("check_trace skipped" in str(w.message) for w in record)
    assert _same(f(ember.zeros(3)), f(ember.zeros(3)))


def test_rand_and_randn_are_ops_drawn_each_call():
    with warnings.catch_warnings(record=True) as record:  # as torch records aten::rand
        warnings.simplefilter("always")
        f = jit.trace(lambda x: x + ember.rand(3) + ember.randn_like(x), ember.zeros(3))
    assert not any("Random numbers" in str(w.message) for w in record)
    assert [n.op for n in f.graph.nodes].count("random_samples") == 2
    assert not _same(f(ember.zeros(3)), f(ember.zeros(3)))


def test_dropout_noise_is_an_op_drawn_each_call():
    import io
    net = nn.Sequential(nn.Linear(6, 6), nn.Dropout(0.5))  # training mode
    x = ember.ones(4, 6)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        traced = jit.trace(net, x)
    assert not any("Random numbers" in str(w.message) for w in record)
    assert "dropout_noise" in [n.op for n in traced.graph.nodes]
    assert not _same(traced(x), traced(x))
    buf = io.BytesIO()
    traced.save(buf)
    buf.seek(0)
    loaded = jit.load(buf)
    assert not _same(loaded(x), loaded(x))
    ember.manual_seed(5)
    a = traced(x)
    ember.manual_seed(5)
    assert _same(a, net(x))  # the same noise as eager, seed for seed


def test_tensors_built_inside_are_constants():
    f = jit.trace(lambda x: x + ember.tensor([1.0, 2.0]), ember.zeros(2))
    assert [k for k in f.graph.constant_kind.values()] == ["constant"]
    assert _same(f(ember.ones(2)), ember.tensor([2.0, 3.0]))


def test_detach_follows_the_input_and_stops_gradients():
    """A detached tensor is the input's value (no constant) through a detach node, so the
    graph's gradient stops there as eager's does: d(x.detach() * x)/dx = x, not 2x."""
    f = jit.trace(lambda x: x.detach() * 2 + x, ember.ones(2))
    assert not f.graph.constants
    assert _same(f(ember.full((2,), 3.0)), ember.full((2,), 9.0))
    def half_square(x):
        return x.detach() * x

    for fn in (jit.trace(half_square, ember.ones(2)), jit.script(half_square),
               ember.compile(half_square)):
        x = ember.tensor([1.0, 2.0], requires_grad=True)
        fn(x).sum().backward()
        assert _same(x.grad, ember.tensor([1.0, 2.0]))


def test_inplace_fast_path_and_views():
    def f(x):
        y = x.clone()
        y.add_(1)
        y[0] = 5
        v = y[1:]
        v.mul_(2)
        return y
    x = ember.arange(4.0)
    s = jit.trace(f, x)
    assert "add_" in _ops(s.graph) and "mul_" in _ops(s.graph)
    z = ember.tensor([10.0, 20, 30, 40])
    with ember.no_grad():
        assert _same(s(z), f(z))
    assert _same(s(z), f(z))


def test_inplace_with_grad_is_recognised_and_backpropagates():
    def f(x):
        y = x * 1
        y.add_(1)
        y[1:].mul_(3)
        return (y * y).sum()
    x = ember.arange(4.0, requires_grad=True)
    s = jit.trace(f, x)
    assert "add_" in _ops(s.graph)
    f(x).backward()
    expected = x.grad.clone()
    x.grad = None
    s(x).backward()
    assert _same(x.grad, expected)


def test_constant_written_in_place_is_copied_each_call():
    def f(x):
        z = ember.from_numpy(np.zeros(3, np.float32))  # no op: a constant of the graph
        z[1:] = x[1:]
        z.mul_(x)
        return z
    s = jit.trace(f, ember.ones(3))
    assert "clone" in _ops(s.graph)
    with ember.no_grad():
        s(ember.ones(3))
        assert _same(s(ember.full((3,), 2.0)), ember.tensor([0.0, 4.0, 4.0]))


def test_unknown_initial_value_is_an_error():
    def f(x):
        z = ember.from_numpy(np.zeros(3, np.float32))
        z.add_(x)
        return z
    with pytest.raises(RuntimeError, match="value before the write"):
        jit.trace(f, ember.ones(3))


def test_factories_are_recorded_and_follow_the_batch_size():
    """ember.zeros(x.shape[0], ...) is a node of the graph (as aten::zeros in torch's traces),
    so a tensor it builds may be written in place, and its size follows each call's batch:
    an LSTM's zero initial state, say (before: a constant of the traced batch size, so the
    trace refused other batch sizes)."""
    def f(x):
        z = ember.zeros(x.shape[0], 3)
        z.add_(x)
        return z * 2
    with warnings.catch_warnings():
        warnings.simplefilter("error", jit.TracerWarning)
        s = jit.trace(f, ember.ones(2, 3))
    assert "full" in _ops(s.graph)  # ember.zeros is full(size, 0)
    assert s(ember.full((4, 3), 3.0)).tolist() == [[6.0] * 3] * 4
    lstm = nn.LSTM(4, 5, batch_first=True)
    traced = jit.trace(lstm, ember.randn(2, 3, 4))
    x = ember.randn(6, 3, 4)
    np.testing.assert_allclose(traced(x)[0].detach().numpy(), lstm(x)[0].detach().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_buffers_updated_in_place_like_eager():
    m = Stats()
    s = jit.trace(m, ember.ones(2, 3), check_trace=False)
    assert s.running is m.running
    with ember.no_grad():
        s(ember.ones(2, 3))
    assert int(m.count) == 2
    assert np.allclose(m.running.numpy(), 0.19)


def test_unseen_mutation_is_an_error():
    def f(x):
        y = x * 2
        ember.add(x, 1, out=y)
        z = x * 3
        ember.mul(x, 2, out=z)
        return z + y
    with pytest.raises(RuntimeError, match="modified in place by something the tracer"):
        jit.trace(f, ember.ones(2))


def test_out_into_first_argument_is_inplace():
    def f(x):
        y = x * 2
        ember.add(y, 1, out=y)
        return y
    s = jit.trace(f, ember.ones(2))
    assert _ops(s.graph) == ["mul", "add_"]


def test_getitem_with_traced_mask():
    f = jit.trace(lambda x: x[x > 0] * 2, ember.tensor([1.0, -1.0, 2.0]))
    assert not f.graph.constants
    with ember.no_grad():
        assert _same(f(ember.tensor([-3.0, 4.0, 5.0, -1.0])), ember.tensor([8.0, 10.0]))


def test_multiple_outputs_and_multi_output_ops():
    def f(x):
        v, i = x.max(dim=1)
        a, b = x.split(2, dim=1)
        return v, i, a, b
    s = jit.trace(f, ember.randn(3, 4))
    x = ember.randn(3, 4)
    with ember.no_grad():
        assert all(_same(p, q) for p, q in zip(s(x), f(x)))


def test_nested_inputs_and_outputs():
    def f(pair):
        a, d = pair
        return a + d["k"], (a * 2,)
    s = jit.trace(f, ((ember.ones(2), {"k": ember.ones(2)}),))
    out = s((ember.ones(2), {"k": ember.full((2,), 3.0)}))
    assert _same(out[0], ember.full((2,), 4.0)) and isinstance(out[1], tuple)
    with pytest.raises(RuntimeError, match="traced with inputs shaped like"):
        s(ember.ones(2))


def test_strict_rejects_list_and_dict_outputs():
    with pytest.raises(RuntimeError, match="strict=False"):
        jit.trace(lambda x: [x * 2], ember.ones(2))
    s = jit.trace(lambda x: {"a": x * 2, "b": [x + 1]}, ember.ones(2), strict=False)
    out = s(ember.ones(2))
    assert set(out) == {"a", "b"} and isinstance(out["b"], list)


def test_non_tensor_inputs_and_outputs_are_rejected():
    with pytest.raises(RuntimeError, match="only Tensors"):
        jit.trace(lambda x, n: x * n, (ember.ones(2), 3))
    with pytest.raises(RuntimeError, match="only Tensors"), pytest.warns(jit.TracerWarning):
        jit.trace(lambda x: x.sum().item(), ember.ones(2), check_trace=False)


def test_autograd_function_is_traced_through():
    class Square(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g
    s = jit.trace(lambda x: Square.apply(x) + 1, ember.ones(3))
    assert _ops(s.graph) == ["mul", "add"]


def test_trace_module_traces_several_methods():
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 2)

        def forward(self, x):
            return self.lin(x)

        def double(self, x):
            return self.lin(x) * 2
    m = Two()
    s = jit.trace_module(m, {"forward": ember.ones(1, 3), "double": ember.ones(1, 3)})
    x = ember.randn(4, 3)
    with ember.no_grad():
        assert _same(s.double(x), m.double(x))
        assert _same(s(x), m(x))
    with pytest.raises(AttributeError):
        jit.trace_module(m, ember.ones(1, 3))


def test_gradients_match_eager():
    m = MLP()
    s = jit.trace(m, ember.randn(4, 8))
    x = ember.randn(4, 8, requires_grad=True)
    m(x).sum().backward()
    expected = [p.grad.clone() for p in m.parameters()] + [x.grad.clone()]
    m.zero_grad()
    x.grad = None
    s(x).sum().backward()
    got = [p.grad for p in m.parameters()] + [x.grad]
    assert all(np.allclose(a.numpy(), b.numpy(), atol=1e-6) for a, b in zip(expected, got))


def test_other_dtype_or_rank_replays_through_apply():
    s = jit.trace(lambda x: x * 2 + 1, ember.ones(3))
    assert _same(s(ember.arange(3)), ember.arange(3) * 2 + 1)
    assert _same(s(ember.ones(2, 2)), ember.full((2, 2), 3.0))


def test_nested_trace_is_refused():
    def f(x):
        jit.trace(lambda y: y + 1, x)
        return x
    with pytest.raises(RuntimeError, match="another trace"):
        jit.trace(f, ember.ones(2))


def test_code_is_readable_python():
    m = MLP()
    s = jit.trace(m, ember.ones(2, 8))
    code = s.code
    assert code.startswith("def forward(self, x: Tensor):")
    assert "ops.matmul(x, _0)" in code and "self.fc1.weight" in code
    compile(code, "<code>", "exec")


def test_code_of_a_graph_with_size_symbols_binds_them_from_its_inputs():
    """A generalized trace's .code reads s0 and s1 from its input first, so the readable
    Python runs at other sizes as the graph does (before: s0 and s1 were undefined names)."""
    import types

    from ember._ops.dispatch import apply
    from ember._ops.registry import REGISTRY

    def rows(x):
        return x.view(x.shape[0], -1).sum(1) + ember.zeros(x.shape[0])
    traced = jit.trace(rows, ember.ones(2, 8))
    code = traced.code
    assert "    s0 = x.shape[0]\n    s1 = x.shape[1]\n" in code
    def op(name):
        return lambda *a, **k: apply(REGISTRY[name], *a, **k)
    ops = types.SimpleNamespace(**{n: op(n) for n in REGISTRY})
    scope = {"ops": ops, "ember": ember, "Tensor": ember.Tensor}
    exec(compile(code, "<code>", "exec"), scope)  # noqa: S102 - the code under test
    x = ember.arange(15.0).reshape(5, 3)
    assert scope["rows"](x).tolist() == rows(x).tolist()


def test_backward_inside_a_traced_function_is_refused():
    def gradient(x):
        return ember.autograd.grad((x.requires_grad_() * x).sum(), x)[0]
    with pytest.raises(RuntimeError, match="autograd.grad.*inside the traced function"):
        jit.trace(gradient, ember.ones(3))
    assert ember.autograd.grad((ember.ones(2, requires_grad=True) * 2).sum(),
                               ember.ones(2, requires_grad=True), allow_unused=True) == (None,)


@pytest.mark.parametrize("kind", ["trace", "script"])
def test_a_no_grad_update_inside_traced_code_replays_without_autograd(kind):
    """Embedding's max_norm renormalizes the weight in place under no_grad: the graph marks
    those nodes, so a replay that records autograd (the weight requires grad) neither fails
    on the leaf nor records them, before and after save/load."""
    import copy
    import io
    ember.manual_seed(0)
    model = ember.nn.Embedding(10, 4, max_norm=1.0)
    eager = copy.deepcopy(model)
    idx = ember.tensor([[1, 2], [3, 1]])
    compiled = ember.jit.trace(model, (idx,)) if kind == "trace" else ember.jit.script(model)
    for _ in range(2):
        out, want = compiled(idx), eager(idx)
        np.testing.assert_allclose(out.detach().numpy(), want.detach().numpy(), rtol=1e-6)
        out.pow(2).sum().backward()
        want.pow(2).sum().backward()
    weight = compiled.weight if kind == "trace" else model.weight
    np.testing.assert_allclose(weight.grad.numpy(), eager.weight.grad.numpy(), rtol=1e-6)
    assert any(n.no_grad for n in compiled.graph.nodes)
    buf = io.BytesIO()
    compiled.save(buf)
    loaded = ember.jit.load(io.BytesIO(buf.getvalue()))
    np.testing.assert_allclose(loaded(idx).detach().numpy(), eager(idx).detach().numpy(),
                               rtol=1e-6)


def test_a_trace_that_bakes_in_sizes_from_the_batch_generalizes_over_it():
    """check_trace retraces at other sizes: x.view(x.shape[0], -1) becomes a view to
    (s0, s1), both read from each call's input, so the trace (saved and loaded too) runs at
    any batch and feature size, 1 included (before: it refused them). Sizes no expression
    explains keep the refusal, with a warning."""
    import io

    def rows(x):
        return x.view(x.shape[0], -1).sum(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", jit.TracerWarning)
        traced = jit.trace(rows, (ember.ones(2, 8),))
    assert traced.graph.min_sizes == {"s0": 1, "s1": 1}
    assert "Float(s0, s1)" in str(traced.graph)
    buf = io.BytesIO()
    traced.save(buf)
    for run in (traced, jit.load(io.BytesIO(buf.getvalue()))):
        for n, m in ((1, 8), (2, 8), (7, 8), (4, 4), (3, 1)):
            x = ember.arange(1.0 * n * m).reshape(n, m)
            assert run(x).tolist() == rows(x).tolist()
        x = ember.arange(24.0).reshape(3, 8).requires_grad_()
        (run(x) * ember.arange(3.0)).sum().backward()
        assert x.grad.tolist() == [[0.0] * 8, [1.0] * 8, [2.0] * 8]
        with pytest.raises(RuntimeError, match=r"built for input shapes \[\[s0, s1\]\], where "
                                               r"s0, s1 may be any size from 1 on, and"):
            run(ember.ones(2, 2, 2))

    def squares(x):
        return x.new_ones(x.shape[0] ** 2) * x.sum()
    with pytest.warns(jit.TracerWarning,
                      match="no expression of the batch size or sequence length explains"):
        fixed = jit.trace(squares, (ember.ones(2, 3),))
    assert fixed.graph.fixed_sizes and not fixed.graph.symbols
    with pytest.raises(RuntimeError, match=r"built for input shapes \[\[2, 3\]\] and "
                                           r"keeps sizes computed from them"):
        fixed(ember.ones(3, 3))
    net = nn.Sequential(nn.Linear(8, 4), nn.ReLU())
    with warnings.catch_warnings():
        warnings.simplefilter("error", jit.TracerWarning)
        generic = jit.trace(net, (ember.randn(1, 8),))
    x = ember.randn(5, 8)
    np.testing.assert_allclose(generic(x).detach().numpy(), net(x).detach().numpy(),
                               rtol=1e-6)


def test_sizes_generalize_without_check_trace_and_retraces_leave_the_generator_alone():
    """check_trace=False skips the comparisons, not the sizes: the graph still follows each
    call's batch (before: silently wrong at other sizes). The retraces' random draws (dropout
    in training mode) do not move the user's random stream."""
    def f(x):
        return nn.functional.dropout(x.view(x.shape[0], -1), 0.5).sum(1)
    ember.manual_seed(3)
    traced = jit.trace(f, ember.ones(2, 3, 4), check_trace=False)
    after_trace = ember.rand(3)
    ember.manual_seed(3)
    f(ember.ones(2, 3, 4))
    assert ember.equal(ember.rand(3), after_trace)
    assert traced(ember.ones(5, 3, 4)).shape == (5,)
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 2))
    m = jit.trace(net, ember.randn(2, 3, 4), check_trace=False)
    x = ember.randn(6, 3, 4)
    np.testing.assert_allclose(m(x).detach().numpy(), net(x).detach().numpy(), rtol=1e-6)


def test_ceil_mode_pooling_sizes_follow_every_height_and_width():
    """ceil_mode pooling sizes its output ceil((h - 3) / 3) + 1 = floor((h + 2) / 3), and pads
    its input's end by 3 * that - h: the trace keeps both as floor divisions of h and w, so it
    serves every batch, height and width as torch's does (it kept h and w fixed). The
    channels stay fixed: the pooling's ones kernel has one row per channel."""
    def f(x):
        return nn.functional.avg_pool2d(x, 3, ceil_mode=True)
    traced = jit.trace(f, ember.randn(2, 5, 5, 5))
    assert sorted(dim for _, dim, _, _ in traced.graph.symbols.values()) == [0, 2, 3]
    for shape in ((4, 5, 5, 5), (2, 5, 7, 7), (1, 5, 8, 4), (3, 5, 1, 1)):
        x = ember.randn(*shape)
        np.testing.assert_allclose(traced(x).numpy(), f(x).numpy(), rtol=1e-6)
    with pytest.raises(RuntimeError, match="s0, s1, s2 may be any size from 1 on, and the "
                                           "other sizes are fixed"):
        traced(ember.randn(2, 6, 5, 5))


def test_a_branch_on_the_parity_of_a_length_is_seen():
    """The sequence length steps by 2 between builds, so `if t % 2:` took the same branch in
    all of them and a trace at t = 4 ran the even branch at t = 5. One more build at the
    other parity sees the branch: the length stays fixed, the batch and features free."""
    def f(x):
        if x.shape[1] % 2:
            x = x * 2
        return x.view(x.shape[0], -1)
    traced = jit.trace(f, ember.ones(2, 4, 3))
    assert sorted(dim for _, dim, _, _ in traced.graph.symbols.values()) == [0, 2]
    assert traced(ember.ones(3, 4, 5)).tolist() == f(ember.ones(3, 4, 5)).tolist()
    with pytest.raises(RuntimeError, match="other sizes are fixed"):
        traced(ember.ones(2, 5, 3))


def test_traced_attention_runs_and_trains_at_other_batch_sizes():
    """MultiheadAttention views (b, t, h, d) from the batch size and sequence length: traced
    at (2, 5), the graph (and its saved copy) runs at other batch sizes and lengths with
    eager's outputs and gradients; another embedding size is refused by name."""
    import io
    ember.manual_seed(0)
    mha = nn.MultiheadAttention(16, 4, batch_first=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", jit.TracerWarning)
        traced = jit.trace(mha, (ember.randn(2, 5, 16),) * 3)
    buf = io.BytesIO()
    traced.save(buf)
    loaded = jit.load(io.BytesIO(buf.getvalue()))
    for run in (traced, loaded):
        for n, t in ((1, 5), (5, 5), (3, 7), (2, 1)):
            x = ember.randn(n, t, 16, requires_grad=True)
            y = x.detach().clone().requires_grad_()
            got, _ = run(x, x, x)
            want, _ = mha(y, y, y)
            np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(),
                                       rtol=1e-5, atol=1e-6)
            got.square().sum().backward()
            want.square().sum().backward()
            np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=1e-4, atol=1e-6)
        with pytest.raises(RuntimeError, match=r"s0, s1 may be any size from 1 on, and"):
            run(*(ember.randn(3, 7, 12),) * 3)


def test_retraces_at_other_sizes_keep_their_warnings_to_themselves():
    """check_trace's retraces run the code at sizes the user never passed: what it warns
    about there is not the user's to see."""
    def f(x):
        if x.shape[0] != 2:
            warnings.warn("an odd batch", stacklevel=2)
        return x.view(x.shape[0], -1) * 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        traced = jit.trace(f, ember.ones(2, 8))
    assert traced(ember.ones(3, 8)).shape == (3, 8)


def test_generalized_fast_path_serves_every_batch_size():
    """A CNN that flattens (x.flatten(1)) traced at batch 4 and optimized for inference runs
    its generated code (memory-planned at the traced size, generic at others) at any batch."""
    ember.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 3)).eval()
    with ember.no_grad():
        fast = jit.optimize_for_inference(jit.trace(net, ember.randn(4, 3, 8, 8)))
        assert fast.graph.symbols
        for n in (4, 1, 9, 4):
            x = ember.randn(n, 3, 8, 8)
            np.testing.assert_allclose(fast(x).numpy(), net(x).numpy(), rtol=1e-5, atol=1e-6)
    assert "s0 = " in fast.generated_code


def test_a_graph_that_differs_at_one_row_serves_two_rows_and_more():
    """At batch 1, squeeze(0) drops the batch dim, so the graph generalized from batches 2-4
    does not describe batch 1: it refuses it and serves 2 rows and more."""
    def f(x):
        return x.view(x.shape[0], -1).squeeze(0) * 2

    traced = jit.trace(f, ember.ones(3, 2, 2))
    assert "s0" not in traced.graph.min_sizes
    assert traced(ember.ones(6, 2, 2)).shape == (6, 4)
    with pytest.raises(RuntimeError, match="s0 may be any size from 2 on"):
        traced(ember.ones(1, 2, 2))


def test_a_trace_at_the_full_context_serves_shorter_sequences():
    """Positions from ember.arange(t) index a table of `block` rows: traced at t = block, the
    code cannot run longer, so the sequence length is generalized downward; shorter prompts
    (and other batch sizes) run with eager's outputs."""
    class Tiny(nn.Module):
        def __init__(self, block=8):
            super().__init__()
            self.tok, self.pos = nn.Embedding(11, 6), nn.Embedding(block, 6)
            self.head = nn.Linear(6, 11)

        def forward(self, idx):
            h = self.tok(idx) + self.pos(ember.arange(idx.shape[1]))
            return self.head(h.view(idx.shape[0] * idx.shape[1], -1))

    m = Tiny()
    traced = jit.trace(m, ember.randint(0, 11, (2, 8)))
    assert sorted(traced.graph.symbols) == ["s0", "s1"]
    for n, t in ((1, 8), (3, 5), (2, 2)):
        idx = ember.randint(0, 11, (n, t))
        np.testing.assert_allclose(traced(idx).detach().numpy(), m(idx).detach().numpy(),
                                   rtol=1e-5, atol=1e-6)


def test_trace_module_methods_generalize_too():
    class Enc(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(6, 2)

        def forward(self, x):
            return self.lin(x)

        def encode(self, x):
            return self.lin(x.reshape(x.shape[0], -1))

    m = Enc()
    s = jit.trace_module(m, {"forward": ember.randn(2, 6), "encode": ember.randn(2, 3, 2)})
    x = ember.randn(7, 3, 2)
    np.testing.assert_allclose(s.encode(x).detach().numpy(), m.encode(x).detach().numpy(),
                               rtol=1e-6)


# ---- traced code calling script code ---------------------------------------------------------
@jit.script
def _halve_until_small(x):
    while x.abs().max() > 1:
        x = x / 2
    return x


class _Gate(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x):
        if x.sum() > 0:
            return self.lin(x)
        return -x


class _GatedNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.pre = nn.Linear(4, 4)
        self.gate = jit.script(_Gate())
        self.post = nn.Linear(4, 2)

    def forward(self, x):
        return self.post(self.gate(self.pre(x)))


def test_traced_code_keeps_the_control_flow_of_script_code_it_calls():
    """As in TorchScript: the scripted function's loop goes into the traced graph, so inputs
    that loop a different number of times than the example still get eager's results."""
    traced = jit.trace(lambda x: _halve_until_small(x * 3) + 1, (ember.tensor([0.1, 0.2]),))
    assert "prim::Loop" in _ops(traced.graph)
    for x in (ember.tensor([0.1, 0.2]), ember.tensor([5.0, -9.0]), ember.randn(5) * 40):
        assert np.allclose(traced(x).numpy(), (_halve_until_small(x * 3) + 1).numpy())


def test_scripted_submodule_inside_a_traced_module(tmp_path):
    """Both branches of the scripted submodule run after tracing, with eager's gradients,
    at other batch sizes and after save and load (parameters under their qualified names)."""
    ember.manual_seed(0)
    net = _GatedNet()
    x = ember.randn(3, 4)
    traced = jit.trace(net, (x,))
    assert "prim::If" in _ops(traced.graph)
    path = tmp_path / "gated.ember"
    traced.save(path)
    loaded = jit.load(path)
    assert "gate.lin.weight" in loaded.state_dict()
    branches = set()
    for v in (x, -x * 10, x * 10, ember.randn(6, 4)):
        branches.add(bool(net.pre(v).sum() > 0))
        want = net(v)
        np.testing.assert_allclose(traced(v).detach().numpy(), want.detach().numpy(),
                                   rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(loaded(v).detach().numpy(), want.detach().numpy(),
                                   rtol=1e-6, atol=1e-6)
        net.zero_grad()
        want.sum().backward()
        eager = [p.grad.clone() if p.grad is not None else None for p in net.parameters()]
        net.zero_grad()
        traced(v).sum().backward()
        for (name, p), g in zip(net.named_parameters(), eager):
            assert (p.grad is None) == (g is None), name
            if g is not None:
                np.testing.assert_allclose(p.grad.numpy(), g.numpy(), rtol=1e-5, atol=1e-6)
    assert branches == {True, False}


def test_script_if_tracing():
    calls = []

    @jit.script_if_tracing
    def scale_down(x):
        calls.append(1)
        while x.abs().max() > 1:
            x = x / 2
        return x
    x = ember.tensor([8.0])
    assert scale_down(x).tolist() == [1.0] and len(calls) == 1  # eager: plain Python
    traced = jit.trace(lambda x: scale_down(x) * 2, (ember.tensor([0.5]),))
    assert "prim::Loop" in _ops(traced.graph)
    assert traced(ember.tensor([12.0])).tolist() == [1.5]


def test_compiled_code_calling_script_code_matches_eager():
    """ember.compile captures the scripted function's Python code (breaking the graph where
    its values decide), so both paths of its loop give eager's results."""
    compiled = ember.compile(lambda x: _halve_until_small(x * 3) + 1)
    for x in (ember.tensor([0.1, 0.2]), ember.tensor([5.0, -9.0])):
        assert np.allclose(compiled(x).numpy(), (_halve_until_small(x * 3) + 1).numpy())


# ---- which input dims may change -------------------------------------------------------------
def test_a_fully_convolutional_trace_runs_at_other_image_sizes(tmp_path):
    """Its sizes follow the batch and the image's height and width (not the channels, which
    the weights fix), also after save and load."""
    ember.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(),
                        nn.Conv2d(4, 2, 3, padding=1)).eval()
    traced = jit.trace(net, ember.randn(1, 3, 16, 16))
    assert sorted(dim for _, dim, _, _ in traced.graph.symbols.values()) == [0, 2, 3]
    path = tmp_path / "fcn.ember"
    traced.save(path)
    loaded = jit.load(path)
    with ember.no_grad():
        for shape in ((2, 3, 24, 32), (1, 3, 7, 5)):
            x = ember.randn(*shape)
            np.testing.assert_allclose(loaded(x).numpy(), net(x).numpy(), rtol=1e-5, atol=1e-5)
        with pytest.raises(RuntimeError, match="other sizes are fixed"):
            loaded(ember.randn(1, 4, 16, 16))  # the channels


def _match_eager(net, graphs, shapes) -> None:
    """Each traced or loaded graph gives net's result on a random input of each shape."""
    with ember.no_grad():
        for shape in shapes:
            x = ember.randn(*shape)
            for graph in graphs:
                np.testing.assert_allclose(graph(x).numpy(), net(x).numpy(), rtol=1e-5,
                                           atol=1e-5)


def test_sizes_baked_outside_the_batch_follow_odd_sizes_too():
    """Flattening a pooled map bakes 4 * (h // 2) * (w // 2) into the graph: the trace keeps
    it as that product of floor divisions, so it serves odd sizes as well as even ones (it
    served even sizes only) and refuses other channels, which the weights fix, by name."""
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.MaxPool2d(2), nn.Flatten())
    traced = jit.trace(net, ember.randn(1, 3, 16, 16))
    _match_eager(net, [traced], [(3, 3, 16, 16), (2, 3, 24, 32), (2, 3, 25, 32), (1, 3, 7, 9)])
    assert "4*(s1 // 2)*(s2 // 2)" in str(traced.graph)
    with pytest.raises(RuntimeError, match="other sizes are fixed"):
        traced(ember.randn(2, 4, 16, 16))


def test_a_strided_network_serves_sizes_off_its_stride_grid(tmp_path):
    """Three stride-2 steps: a trace at 32 x 48 keeps every size as a floor division of the
    input's (the last map is ceil(h / 8)), so it serves heights and widths off the multiples
    of 8 too, before and after save/load, as torch's trace does (it refused them)."""
    ember.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
                        nn.Flatten()).eval()
    traced = jit.trace(net, ember.randn(2, 3, 32, 48))
    traced.save(tmp_path / "net.pt")
    loaded = jit.load(tmp_path / "net.pt")
    _match_eager(net, [traced, loaded], [(3, 3, 40, 56), (1, 3, 64, 16), (2, 3, 8, 24),
                                         (2, 3, 36, 48), (2, 3, 32, 47), (1, 3, 13, 21)])


def test_a_unet_that_runs_only_on_its_stride_lattice_serves_that_lattice():
    """Skip connections concatenate down- and upsampled maps, so the net runs only at sizes a
    multiple of 4: no build at odd sizes succeeds, yet the trace is kept over 4 * s. The
    bilinear upsampling computes its taps from the sizes of each call."""
    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.down = nn.Conv2d(3, 4, 3, padding=1)
            self.mid = nn.Conv2d(4, 4, 3, padding=1)
            self.up1 = nn.ConvTranspose2d(4, 4, 2, stride=2)
            self.up2 = nn.Upsample(scale_factor=2, mode="bilinear")

        def forward(self, x):
            a = self.down(x)
            b = self.mid(nn.functional.max_pool2d(a, 2))
            c = ember.cat([self.up1(nn.functional.max_pool2d(b, 2)), b], 1)
            return ember.cat([self.up2(c), a], 1)

    ember.manual_seed(0)
    net = UNet().eval()
    traced = jit.trace(net, ember.randn(1, 3, 16, 12))
    _match_eager(net, [traced], [(2, 3, 8, 24), (1, 3, 20, 12)])
    with pytest.raises(RuntimeError, match=r"4\*s1 is one of"):
        traced(ember.randn(1, 3, 18, 12))


def test_a_classifier_with_adaptive_pooling_serves_other_image_sizes():
    """AdaptiveAvgPool2d((3, 3)) before the Linear fixes the features whatever the image size:
    its windows are found from each call's sizes, so the trace serves other resolutions."""
    ember.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.AdaptiveAvgPool2d((3, 3)), nn.Flatten(), nn.Linear(36, 5)).eval()
    traced = jit.trace(net, ember.randn(2, 3, 16, 16))
    _match_eager(net, [traced], [(1, 3, 22, 40), (3, 3, 10, 8)])


def test_reflection_and_replication_padding_serve_any_image_size():
    """The padded positions are found from each call's size: the trace serves any height and
    width, and one too small to reflect raises eager's error."""
    ember.manual_seed(0)
    net = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(3, 4, 7), nn.InstanceNorm2d(4),
                        nn.ReplicationPad2d((1, 2, 0, 1)), nn.Conv2d(4, 3, 3)).eval()
    traced = jit.trace(net, ember.randn(1, 3, 16, 12))
    _match_eager(net, [traced], [(2, 3, 9, 30), (1, 3, 5, 5)])
    with pytest.raises(RuntimeError, match=r"Padding size should be less than"):
        traced(ember.randn(1, 3, 3, 12))


def test_average_pooling_without_its_padding_serves_any_image_size():
    """count_include_pad=False divides edge windows by fewer elements: the counts are found
    from each call's size (Inception's branch pooling)."""
    net = nn.Sequential(nn.Conv2d(2, 3, 1), nn.AvgPool2d(3, 1, 1, count_include_pad=False))
    traced = jit.trace(net, ember.randn(1, 2, 6, 5))
    _match_eager(net, [traced], [(2, 2, 9, 4), (1, 2, 3, 11)])


def test_a_fully_convolutional_net_that_downsamples_serves_any_image_size(tmp_path):
    """Strided convolution and ceil-mode pooling compute their output sizes per call and the
    graph holds no size: built again at other sizes it is the same graph, so it serves any
    height, width and batch (after save/load too). Its channels stay fixed (a build with
    others fails at the weights)."""
    ember.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.ReLU(),
                        nn.MaxPool2d(2, ceil_mode=True), nn.Conv2d(4, 2, 1)).eval()
    traced = jit.trace(net, ember.randn(1, 3, 16, 16))
    traced.save(tmp_path / "fcn.pt")
    loaded = jit.load(tmp_path / "fcn.pt")
    _match_eager(net, [traced, loaded], [(2, 3, 17, 23), (1, 3, 5, 40)])
    with pytest.raises(RuntimeError, match=r"\[\*, 3, \*, \*\]\], where a \* may be any size"):
        loaded(ember.randn(1, 4, 16, 16))


def test_a_pooled_size_that_one_step_cannot_tell_apart_is_not_taken_as_free():
    """Traced at 2x2, a 2x2 pool then a 2x upsample: rebuilt at 3x3 it is the same graph
    (3 // 2 == 2 // 2), yet at 2x4 it upsamples to another size. The trace must give eager's
    result there or refuse, never the traced size's."""
    def f(x):
        x = nn.functional.max_pool2d(x, 2)
        return nn.functional.interpolate(x, scale_factor=2)
    traced = jit.trace(f, ember.randn(1, 2, 2, 2))
    x = ember.randn(1, 2, 2, 4)
    try:
        got = traced(x)
    except RuntimeError as e:
        assert "built for input shapes" in str(e)
    else:
        np.testing.assert_array_equal(got.numpy(), f(x).numpy())


def test_a_sequence_of_channels_generalizes_over_its_length():
    """Conv1d input (N, C, L): the batch and the length are free."""
    net = nn.Sequential(nn.Conv1d(2, 3, 3, padding=1), nn.Tanh())
    traced = jit.trace(lambda x: net(x).mean(-1), ember.randn(2, 2, 9))
    x = ember.randn(5, 2, 20)
    with ember.no_grad():
        np.testing.assert_allclose(traced(x).numpy(), net(x).mean(-1).numpy(), rtol=1e-5,
                                   atol=1e-6)


def test_a_traced_lstm_language_model_serves_other_lengths_and_batches(tmp_path):
    """Padded input's rnn_layer keeps no sequence length or batch size of its own, so the
    saved graph follows both (time-major input: (T, B))."""
    ember.manual_seed(0)

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed, self.rnn = nn.Embedding(20, 6), nn.LSTM(6, 5, num_layers=2)
            self.head = nn.Linear(5, 20)

        def forward(self, tokens):
            out, _ = self.rnn(self.embed(tokens))
            return self.head(out)
    lm = LM().eval()
    path = tmp_path / "lm.ember"
    jit.trace(lm, ember.randint(0, 20, (7, 4))).save(path)
    loaded = jit.load(path)
    with ember.no_grad():
        for shape in ((7, 4), (12, 3), (2, 9)):
            tokens = ember.randint(0, 20, shape)
            np.testing.assert_allclose(loaded(tokens).numpy(), lm(tokens).numpy(), rtol=1e-5,
                                       atol=1e-6)


def test_a_traced_module_deep_copies_with_its_size_expressions():
    import copy
    lin = nn.Linear(3, 2)
    twin = copy.deepcopy(jit.trace(lin, ember.randn(2, 3)))
    assert str(twin.graph.inputs[0].type) == "Float(s0, 3)"
    x = ember.randn(5, 3)
    assert np.allclose(twin(x).detach().numpy(), lin(x).detach().numpy())


def test_a_traced_linear_or_conv_refuses_other_dtypes_as_eager_does():
    """The dtype rules of matmul and convolution are op facts (OpDef.check_dtypes), so a
    graph replaying them with a float64 or int input raises eager's error instead of
    promoting."""
    lin, conv = nn.Linear(3, 2), nn.Conv2d(1, 2, 3)
    traced_lin = jit.trace(lin, ember.randn(2, 3))
    traced_conv = jit.trace(conv, ember.randn(1, 1, 5, 5))
    for x in (ember.randn(2, 3).double(), ember.ones(2, 3, dtype=ember.int64)):
        with pytest.raises(RuntimeError, match="expected m1 and m2 to have the same dtype"):
            traced_lin(x)
    with pytest.raises(RuntimeError, match=r"^Input type \(torch.DoubleTensor\) and weight"):
        traced_conv(ember.randn(1, 1, 5, 5).double())


def test_check_trace_sees_code_that_reads_integer_inputs():
    """check_trace retraces with positive integers one smaller (ids stay ids, lengths stay
    lengths): a packed sequence's lengths read into Python, or a branch on token ids, give
    another graph, so the trace is refused instead of serving other values wrongly."""
    from ember.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    class Packed(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(4, 5, batch_first=True)

        def forward(self, x, lengths):
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            return pad_packed_sequence(self.rnn(packed)[0], batch_first=True)[0]

    def first_token(ids):
        return ids * 2 if int(ids[0]) == 3 else ids
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jit.TracerWarning)
        with pytest.raises(jit.TracingCheckError, match="pack_padded_sequence reads"):
            jit.trace(Packed(), (ember.randn(3, 6, 4), ember.tensor([6, 4, 2])))
        with pytest.raises(jit.TracingCheckError, match="Graphs differed"):
            jit.trace(first_token, ember.tensor([3, 1, 2]))
        embed = nn.Embedding(10, 3)  # reading ids as a tensor is fine
        traced = jit.trace(embed, ember.tensor([[1, 2, 3]]))
    ids = ember.tensor([[4, 5], [6, 7]])
    assert np.allclose(traced(ids).detach().numpy(), embed(ids).detach().numpy())


class _PackedGRU(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(4, 5, batch_first=True)

    def forward(self, x, lengths):
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True,
                                                   enforce_sorted=False)
        out, h = self.rnn(packed)
        return nn.utils.rnn.pad_packed_sequence(out, batch_first=True)[0].sum(1), h


def test_a_packed_sequence_graph_refuses_other_lengths_and_compile_follows_them():
    """torch's trace records the packing as ops of the lengths; ember's graph packs the
    traced lengths (a TracerWarning says so), so with check_trace=False, and in scripted
    code, other lengths raise instead of coming back wrong (they did); the same lengths in
    another order still run, and ember.compile follows any lengths."""
    ember.manual_seed(0)
    m, x = _PackedGRU(), ember.randn(3, 6, 4)
    with pytest.warns(jit.TracerWarning, match="NumPy array bakes"):
        traced = jit.trace(m, (x, ember.tensor([6, 3, 2])), check_trace=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jit.TracerWarning)
        scripted = jit.script(m)
        scripted(x, ember.tensor([6, 3, 2]))
    compiled = ember.compile(m)
    for run in (traced, scripted, compiled):
        for lengths in ([6, 3, 2], [2, 6, 3]):
            for got, want in zip(run(x, ember.tensor(lengths)), m(x, ember.tensor(lengths))):
                np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(),
                                           rtol=1e-5, atol=1e-6)
    for run in (traced, scripted):
        with pytest.raises(AssertionError, match=r"recorded with lengths \[6, 3, 2\]"):
            run(x, ember.tensor([5, 4, 1]))
    for got, want in zip(compiled(x, ember.tensor([5, 4, 1])), m(x, ember.tensor([5, 4, 1]))):
        np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)


def test_optimized_execution_off_runs_the_graph_op_by_op():
    """As torch.jit.optimized_execution(False): the generated code does not run inside the
    block (the interpreter replays the ops), with the same results; it is back on exit."""
    f = jit.trace(lambda x: (x * 2 + 1).tanh(), ember.ones(3))
    method = f._methods["forward"]
    runs = []
    fast = method.fast
    method.fast = lambda flat: runs.append(1) or fast(flat)
    x = ember.randn(3)
    with jit.optimized_execution(False):
        got = f(x)
    assert not runs and np.allclose(got.numpy(), (x * 2 + 1).tanh().numpy())
    f(x)
    assert runs


def test_in_place_view_ops_are_traced_as_views():
    """y.unsqueeze_(0) makes y the view: later reads of y read the view's value."""
    def f(x):
        y = x * 2
        y.unsqueeze_(0)
        z = y.transpose_(1, 2)
        return z + 1, y.sum()
    traced = ember.jit.trace(f, (ember.ones(2, 3),))
    assert [n.op for n in traced.graph.nodes] == ["mul", "unsqueeze", "transpose", "add", "sum"]
    assert not any(n.inplace for n in traced.graph.nodes)
    a = ember.arange(6.0).reshape(2, 3)
    for got, want in zip(traced(a), f(a)):
        assert got.shape == want.shape and bool((got == want).all())
    x = ember.arange(6.0).reshape(2, 3).requires_grad_()
    ember.compile(f)(x)[0].sum().backward()
    assert x.grad.tolist() == [[2.0] * 3] * 2


def test_warnings_about_the_whole_trace_name_the_callers_line():
    """The size and randomness warnings are raised deep in the tracer: they name the line of
    the user's trace() call (they named a tracer file, or 'sys' line 1), for functions and
    modules, with and without check_trace."""
    x = ember.randn(3, 4)
    dropout = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    calls = [lambda: jit.trace(lambda x: x * x.sum().item(), x, check_trace=False),
             lambda: jit.trace(lambda x: x.sum(0).repeat(x.shape[0] ** 2), x),
             lambda: jit.trace(dropout, x)]
    for call in calls:
        with pytest.warns(jit.TracerWarning) as record:
            call()
        assert {r.filename for r in record} == {__file__}


def test_check_inputs_the_graph_cannot_run_fail_the_check():
    """A trace that branched on a size keeps the example's sizes; check_inputs of another
    size then fail the check with TracingCheckError, as torch's does (the graph's own
    RuntimeError about its shapes escaped)."""
    def clip(x):
        return x.clamp(min=0) if x.shape[0] > 2 else x
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jit.TracerWarning)
        with pytest.raises(jit.TracingCheckError, match="cannot run on check_inputs"):
            jit.trace(clip, ember.randn(3, 2), check_inputs=[(ember.randn(2, 2),)])
