"""Differential tests of ember.compile: ordinary training and inference code run compiled and
eagerly (on a deep copy of the model) must agree in outputs, gradients of parameters and
inputs, `.grad` accumulated across steps, module buffers and the caller's tensors."""
import copy
import math
import warnings

import numpy as np
import pytest

import ember
from ember import nn
from ember.compiler import graph_breaks


def _same(a, b, tol=1e-5, what="value"):
    """Compiled result `b` equals eager result `a`: tensors in shape, dtype and values,
    containers in structure, other values by equality."""
    if isinstance(a, ember.Tensor):
        assert isinstance(b, ember.Tensor), what
        assert (a.shape, a.dtype) == (b.shape, b.dtype), what
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=tol, atol=tol,
                                   err_msg=what)
    elif isinstance(a, (tuple, list)):
        assert type(a) is type(b) and len(a) == len(b), what
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, tol, f"{what}[{i}]")
    elif isinstance(a, dict):
        assert list(a) == list(b), what
        for k in a:
            _same(a[k], b[k], tol, f"{what}[{k!r}]")
    else:
        assert a == b, what


def _same_state(eager, compiled, tol=1e-5):
    """Parameters, buffers and parameter gradients of the two copies agree."""
    for (name, a), b in zip(eager.state_dict().items(), compiled.state_dict().values()):
        _same(a, b, tol, name)
    for (name, a), b in zip(eager.named_parameters(), compiled.parameters()):
        assert (a.grad is None) == (b.grad is None), f"grad of {name}"
        if a.grad is not None:
            _same(a.grad, b.grad, tol, f"grad of {name}")


class _TinyLM(nn.Module):
    """Embedding, causal self-attention and a head: sizes come from both input dims."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(20, 8)
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.norm = nn.LayerNorm(8)
        self.head = nn.Linear(8, 20)

    def forward(self, idx):
        h = self.emb(idx)
        t = idx.shape[1]
        mask = ember.triu(ember.ones(t, t, dtype=ember.bool), 1)
        a, _ = self.attn(h, h, h, attn_mask=mask)
        return self.head(self.norm(h + a)).log_softmax(-1).mean()


def test_dynamic_graph_grows_a_symbol_for_a_dim_that_starts_varying_later():
    """Batch size varies first (a dynamic graph in B), then the sequence length: the family
    compiles one more dynamic graph in B and T rather than a graph per length, which ran
    into the recompile limit after eight lengths."""
    ember.manual_seed(0)
    eager = _TinyLM()
    model = copy.deepcopy(eager)
    compiled = ember.compile(model, dynamic=True)
    sizes = [(2, 5), (3, 5), (4, 7), (5, 9), (2, 2), (6, 11), (3, 4), (7, 13), (2, 6),
             (3, 8), (4, 3)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no recompile-limit warning
        for b, t in sizes:
            idx = ember.randint(0, 20, (b, t))
            want, got = eager(idx), compiled(idx)
            _same(want, got, 1e-4, f"loss at {(b, t)}")
            want.backward()
            got.backward()
            _same_state(eager, model, 1e-4)
    assert compiled._compiled.compiled <= 3


def _exp_then_add(h, w):
    h.exp_()  # backward reads exp's result...
    h.add_(1)  # ...which this write must leave alone


IN_PLACE_WITH_GRAD = {
    "mul_ by a number": lambda h, w: h.mul_(3),
    "mul_ by a tensor": lambda h, w: h.mul_(w),
    "div_": lambda h, w: h.div_(2),
    "clamp_": lambda h, w: h.clamp_(-0.5, 0.5),
    "pow_": lambda h, w: h.pow_(2),
    "exp_ then add_": _exp_then_add,
    "sigmoid_ then mul_": lambda h, w: h.sigmoid_().mul_(w),
    "a row's mul_": lambda h, w: h[0].mul_(w[1]),
}


@pytest.mark.parametrize("name", sorted(IN_PLACE_WITH_GRAD))
def test_in_place_ops_on_intermediates_that_need_gradients(name):
    """In-place ops on a tensor that records gradients: the ones whose forward saves arrays
    crashed the compile (GraphError: an in-place node with extra outputs), and a backward that
    read a result a later in-place op overwrote got wrong gradients silently."""
    op = IN_PLACE_WITH_GRAD[name]

    def f(x, w):
        h = x @ w
        op(h, w)
        return (h * x).sum()
    compiled = ember.compile(f)
    for _ in range(3):
        x = ember.randn(3, 3)
        w = ember.randn(3, 3, requires_grad=True)
        w2 = w.detach().requires_grad_()
        want, got = f(x, w), compiled(x, w2)
        _same(want, got, 1e-4)
        want.backward()
        got.backward()
        _same(w.grad, w2.grad, 1e-4, "grad")
    assert not graph_breaks(compiled)


def test_in_place_op_on_an_input_that_needs_gradients_runs_eagerly():
    """x.mul_(3) on an input that records gradients gives the caller's tensor new history
    (its gradient flows through the mul): the graph cannot, so the call runs eagerly; the
    capture that found out is undone, history included (it stacked two muls)."""
    def f(x):
        x.mul_(3)
        return x.sum()
    compiled = ember.compile(f)
    for fn in (f, compiled, compiled, compiled):
        w = ember.ones(2, requires_grad=True)
        a = w * 1
        out = fn(a)
        (a.sum() + out).backward()
        _same(a, ember.full((2,), 3.0))
        _same(w.grad, ember.full((2,), 6.0), what=f"grad through {fn.__name__}")
    (_, _, reason, _), = graph_breaks(compiled)
    assert "in-place op on x" in reason


def test_an_input_written_in_place_and_returned_is_the_callers_tensor():
    def f(x):
        return x.mul_(2)
    compiled = ember.compile(f)
    for _ in range(3):
        x = ember.ones(3)
        assert compiled(x) is x
        _same(x, ember.full((3,), 2.0))


def test_writing_into_what_the_backward_reads_raises_as_in_eager():
    """exp's backward reads its output, sin's its input: when the caller writes into one in
    place before backward, eager autograd raises; the compiled backward read the changed
    array instead and returned wrong gradients."""
    def exp(x):
        return x.exp()

    def sin(x):
        return x.sin()
    for fn, written in ((exp, "output"), (sin, "input")):
        compiled = ember.compile(fn)
        for run in (fn, compiled, compiled, compiled):
            x = ember.ones(3, requires_grad=True)
            y = run(x)
            with ember.no_grad():
                (y if written == "output" else x).mul_(2)
            with pytest.raises(RuntimeError, match="modified by an inplace operation"):
                y.sum().backward()


def test_views_of_what_the_backward_reads_raise_when_written_as_in_eager():
    """Which outputs and inputs may share memory with what the backward reads is worked out
    once per compiled entry (views, in-place results and ops not known to allocate); each
    call checks only those: a transposed or reshaped output of exp, whose backward reads its
    result, still raises when written, and an output that shares nothing does not."""
    def f(x):
        y = x.exp()
        return y.t(), y.reshape(-1), (y * 3).sum(1)
    compiled = ember.compile(f)
    for run in (f, compiled, compiled, compiled):
        for k in range(3):
            x = ember.ones(2, 3, requires_grad=True)
            outs = run(x)
            with ember.no_grad():
                outs[k].mul_(2)
            loss = sum(o.sum() for o in outs)
            if k == 2:
                loss.backward()
                _same(x.grad, ember.full((2, 3), 5 * math.e))
                continue
            with pytest.raises(RuntimeError, match="modified by an inplace operation"):
                loss.backward()


def test_inputs_the_compiled_code_writes_into_move_on_a_version():
    """x.add_(1) inside the compiled code bumps x's version as in eager: an earlier op that
    saved x for its backward then raises instead of using the changed x silently, while the
    compiled code's own backward, which reads x after the write, still runs."""
    def f(x):
        x.add_(1)
        return x * 2

    def g(x, w):
        x.add_(1)
        return x * w
    compiled_f, compiled_g = ember.compile(f), ember.compile(g)
    for run_f, run_g in ((f, g),) + ((compiled_f, compiled_g),) * 3:
        w = ember.ones(3, requires_grad=True)
        x = ember.ones(3)
        y = x * w
        run_f(x)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()
        run_g(x, w).sum().backward()
        _same(w.grad, ember.full((3,), 3.0))


def test_outputs_under_inference_mode_are_inference_tensors():
    net = nn.Linear(3, 2)
    compiled = ember.compile(net)
    x = ember.randn(2, 3)
    compiled(x)
    for _ in range(2):
        with ember.inference_mode():
            assert compiled(x).is_inference() and net(x).is_inference()
    assert not compiled(x).is_inference()


def test_batchnorm_training_with_train_eval_switches_freezing_and_optimizer_steps():
    """Running stats and num_batches_tracked update as in eager across train()/eval()
    switches; the optimizer's in-place updates, frozen parameters and gradients accumulated
    over two steps are seen by the compiled code."""
    ember.manual_seed(0)
    eager = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.3),
                          nn.Flatten(), nn.Linear(4 * 6 * 6, 5))
    model = copy.deepcopy(eager)
    compiled = ember.compile(model)
    optimizers = [ember.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
                  for m in (eager, model)]
    for step in range(7):
        for m in (eager, model):
            m.train(step not in (2, 4))
            m[0].weight.requires_grad_(step != 5)
        x = ember.randn(2, 3, 8, 8)
        ember.manual_seed(step)
        want = eager(x)
        ember.manual_seed(step)
        got = compiled(x)
        _same(want, got, 1e-5, f"output at step {step}")
        want.square().sum().backward()
        got.square().sum().backward()
        _same_state(eager, model)
        for opt in optimizers:
            opt.step()
            if step % 2:
                opt.zero_grad()
        _same_state(eager, model)
