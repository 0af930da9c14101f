"""saved_tensors_hooks, save_on_cpu, disable_saved_tensors_hooks: the same code under torch and
ember, comparing what the hooks see, how often they run, and the gradients."""
import threading

import numpy as np
import pytest
import torch

import ember


def inputs(lib, dtype="float32"):
    x = lib.tensor(np.linspace(0.1, 1.0, 12).reshape(3, 4), dtype=getattr(lib, dtype),
                   requires_grad=True)
    w = lib.tensor(np.linspace(-1.0, 1.0, 20).reshape(4, 5), dtype=getattr(lib, dtype),
                   requires_grad=True)
    return x, w


def close(ours, theirs, atol=1e-6):
    np.testing.assert_allclose(np.asarray(ours.detach()), theirs.detach().numpy(), atol=atol,
                               rtol=1e-6)


def counting(lib, fn, dtype="float32"):
    """(pack calls, unpack calls, x.grad, w.grad) for fn(lib, x, w).sum().backward() under
    counting identity hooks."""
    x, w = inputs(lib, dtype)
    calls = [0, 0]

    def pack(t):
        calls[0] += 1
        return t

    def unpack(t):
        calls[1] += 1
        return t

    with lib.autograd.graph.saved_tensors_hooks(pack, unpack):
        y = fn(lib, x, w)
    y.sum().backward()
    return calls, x.grad, w.grad


# Ops where ember saves the same tensors as torch: the hook counts agree exactly.
SAME_AS_TORCH = {
    "mul": lambda lib, x, w: x * x,
    "add": lambda lib, x, w: x + x,
    "div": lambda lib, x, w: x / (x + 1),
    "exp": lambda lib, x, w: x.exp(),
    "log": lambda lib, x, w: x.log(),
    "sin": lambda lib, x, w: x.sin(),
    "tanh": lambda lib, x, w: x.tanh(),
    "sigmoid": lambda lib, x, w: x.sigmoid(),
    "relu": lambda lib, x, w: x.relu(),
    "sqrt": lambda lib, x, w: x.sqrt(),
    "matmul": lambda lib, x, w: x @ w,
    "linear": lambda lib, x, w: lib.nn.functional.linear(x, w.t()),
    "softmax": lambda lib, x, w: lib.nn.functional.softmax(x, -1) * x,
    "log_softmax": lambda lib, x, w: lib.nn.functional.log_softmax(x, -1) * x,
    "layer_norm": lambda lib, x, w: lib.nn.functional.layer_norm(x, (4,)),
    "mse_loss": lambda lib, x, w: lib.nn.functional.mse_loss(x, x.detach() * 2),
    "views": lambda lib, x, w: x.reshape(12)[2:].sum() + x.t().sum(),
    "chain": lambda lib, x, w: ((x @ w).tanh() + 3).exp().mean(),
}

# Ops whose ember kernels save other values than torch's (documented difference; the
# gradients still agree): x * 2 keeps the scalar as a 0-d tensor (torch keeps a double);
# pow keeps base, exponent and result (torch: base); gelu and silu are composites here
# (each primitive saves its own values; torch has one fused kernel); where keeps the
# condition; max(dim) keeps its indices as a ctx attribute, which bypasses the hooks.
DIFFERENT_FROM_TORCH = {
    "mul_scalar": (lambda lib, x, w: x * 2, 1, 0),
    "pow": (lambda lib, x, w: x ** 2, 3, 1),
    "gelu": (lambda lib, x, w: lib.nn.functional.gelu(x), 2, 1),
    "silu": (lambda lib, x, w: lib.nn.functional.silu(x), 3, 1),
    "where": (lambda lib, x, w: lib.where(x > 0.5, x, x * 3), 2, 1),
    "max_dim": (lambda lib, x, w: x.max(1)[0], 0, 1),
}


@pytest.mark.parametrize("name", sorted(SAME_AS_TORCH))
def test_hook_counts_and_grads_match_torch(name):
    fn = SAME_AS_TORCH[name]
    ours, ogx, ogw = counting(ember, fn, "float64")
    theirs, tgx, tgw = counting(torch, fn, "float64")
    assert ours == theirs
    for o, t in ((ogx, tgx), (ogw, tgw)):
        assert (o is None) == (t is None)
        if o is not None:
            close(o, t, atol=1e-10)


@pytest.mark.parametrize("name", sorted(DIFFERENT_FROM_TORCH))
def test_documented_count_differences_keep_grads_correct(name):
    fn, ember_count, torch_count = DIFFERENT_FROM_TORCH[name]
    ours, ogx, _ = counting(ember, fn)
    theirs, tgx, _ = counting(torch, fn)
    assert ours == [ember_count, ember_count]
    assert theirs == [torch_count, torch_count]
    close(ogx, tgx)


def test_pack_sees_inputs_and_outputs_as_torch_does():
    def run(lib):
        x = lib.tensor([0.5, 1.0, 2.0], requires_grad=True)
        seen = []

        def pack(t):
            seen.append((type(t), t.requires_grad, t.grad_fn is not None,
                         lib.is_grad_enabled()))
            return t
        with lib.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            y = x.exp()
            x * y
        # exp saves its output (y itself); mul saves both inputs (in another order than
        # torch's, so the records are compared as sets)
        return sorted(s[1:] for s in seen), [s[0] for s in seen]
    ours, our_types = run(ember)
    theirs, _ = run(torch)
    assert ours == theirs
    assert our_types == [ember.Tensor] * 3


def test_pack_receives_the_saved_tensor_objects():
    x = ember.tensor([0.5, 1.0], requires_grad=True)
    seen = []
    with ember.autograd.graph.saved_tensors_hooks(lambda t: seen.append(t) or t, lambda t: t):
        y = x.exp()
        y * x
    assert seen[0] is y
    assert {id(seen[1]), id(seen[2])} == {id(x), id(y)}


def test_unpack_receives_what_pack_returned():
    x = ember.tensor([0.5, 1.0], requires_grad=True)
    got = []

    def unpack(packed):
        got.append(packed)
        return ember.tensor(packed[1])
    with ember.autograd.graph.saved_tensors_hooks(lambda t: ("tag", t.tolist()), unpack):
        y = (x.sin()).sum()
    y.backward()
    assert got == [("tag", [0.5, 1.0])]
    close(x.grad, torch.tensor([0.5, 1.0]).cos())


HOOKS = {
    "identity": lambda lib: lib.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t),
    "clone": lambda lib: lib.autograd.graph.saved_tensors_hooks(lambda t: t.clone(),
                                                                lambda t: t),
    "numpy": lambda lib: lib.autograd.graph.saved_tensors_hooks(
        lambda t: t.detach().numpy().copy(), lambda a: lib.from_numpy(a)),
    "save_on_cpu": lambda lib: lib.autograd.graph.save_on_cpu(),
    "save_on_cpu_pinned": lambda lib: lib.autograd.graph.save_on_cpu(pin_memory=True),
}


def mlp(lib, x, w):
    h = lib.nn.functional.layer_norm((x @ w).tanh(), (5,))
    return (lib.nn.functional.softmax(h, -1) * h.sigmoid()).sum()


@pytest.mark.parametrize("hooks", sorted(HOOKS))
def test_grads_equal_without_hooks_and_torch(hooks):
    def run(lib, with_hooks):
        x, w = inputs(lib, "float64")
        if with_hooks:
            with HOOKS[hooks](lib):
                y = mlp(lib, x, w)
        else:
            y = mlp(lib, x, w)
        y.backward()
        return x.grad, w.grad
    plain = run(ember, False)
    hooked = run(ember, True)
    reference = run(torch, True)
    for p, h, r in zip(plain, hooked, reference):
        np.testing.assert_array_equal(np.asarray(p), np.asarray(h))
        close(h, r, atol=1e-12)


@pytest.mark.parametrize("hooks", ["identity", "clone", "numpy"])
def test_double_backward_through_unpacked_tensors(hooks):
    def run(lib):
        x, w = inputs(lib, "float64")
        with HOOKS[hooks](lib):
            y = ((x @ w).tanh() * (x @ w)).exp().sum()
        gx, gw = lib.autograd.grad(y, (x, w), create_graph=True)
        return lib.autograd.grad((gx * gx).sum() + gw.sum(), (x, w))
    for ours, theirs in zip(run(ember), run(torch)):
        close(ours, theirs, atol=1e-9)


def test_gradcheck_under_hooks():
    x, w = inputs(ember, "float64")
    with ember.autograd.graph.saved_tensors_hooks(lambda t: t.clone(), lambda t: t):
        assert ember.autograd.gradcheck(lambda a, b: mlp(ember, a, b), (x, w))


@pytest.mark.parametrize("lib", [ember, torch], ids=["ember", "torch"])
def test_second_backward_still_refused_and_retain_graph_works(lib):
    x, _ = inputs(lib)
    calls = [0]

    def unpack(t):
        calls[0] += 1
        return t
    with lib.autograd.graph.saved_tensors_hooks(lambda t: t.clone(), unpack):
        y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert calls[0] == 4
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_unpack_must_return_a_tensor():
    x, _ = inputs(ember)
    with ember.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: 3):
        y = (x * x).sum()
    with pytest.raises(TypeError, match="unpack_hook expected to be a Tensor but got result "
                                        "of type int"):
        y.backward()


def test_inner_hooks_win_and_outer_come_back():
    def run(lib):
        x, _ = inputs(lib)
        log = []
        with lib.autograd.graph.saved_tensors_hooks(lambda t: log.append("outer") or t,
                                                    lambda t: t):
            with lib.autograd.graph.saved_tensors_hooks(lambda t: log.append("inner") or t,
                                                        lambda t: t):
                x * x
            x.sin()
        x.exp()
        return log
    assert run(ember) == run(torch) == ["inner", "inner", "outer"]


def test_hooks_are_per_thread():
    x, _ = inputs(ember)
    calls = []
    with ember.autograd.graph.saved_tensors_hooks(lambda t: calls.append(1) or t, lambda t: t):
        worker = threading.Thread(target=lambda: x * x)
        worker.start()
        worker.join()
    assert calls == []


def test_custom_function_saves_go_through_hooks():
    def run(lib):
        class Cube(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                y = x ** 3
                ctx.save_for_backward(x, y)
                return y

            @staticmethod
            def backward(ctx, g):
                x, y = ctx.saved_tensors
                return 3 * y / x * g
        x, _ = inputs(lib, "float64")
        calls = [0, 0]

        def pack(t):
            calls[0] += 1
            return t.clone()

        def unpack(t):
            calls[1] += 1
            return t
        with lib.autograd.graph.saved_tensors_hooks(pack, unpack):
            y = Cube.apply(x)
        y.sum().backward()
        return calls, x.grad
    (ours, ogx), (theirs, tgx) = run(ember), run(torch)
    assert ours == theirs == [2, 2]
    close(ogx, tgx, atol=1e-12)


def test_in_place_op_keeps_the_value_before_the_write():
    def run(lib):
        x, _ = inputs(lib, "float64")
        with lib.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t):
            a = x * 1
            a.mul_(x)
            a.sin_()
        a.sum().backward()
        return x.grad
    close(run(ember), run(torch), atol=1e-12)


def test_no_version_check_for_hooked_values_as_torch():
    """With hooks the saved value is what unpack returns; torch does not compare versions."""
    def run(lib, pack):
        x, _ = inputs(lib, "float64")
        with lib.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            a = x * 1
            y = (a * a).sum()
        with lib.no_grad():
            a.add_(1)
        y.backward()
        return x.grad
    for pack in (lambda t: t, lambda t: t.clone()):
        close(run(ember, pack), run(torch, pack), atol=1e-12)


@pytest.mark.parametrize("lib", [ember, torch], ids=["ember", "torch"])
def test_disable_saved_tensors_hooks(lib):
    graph = lib.autograd.graph
    with graph.disable_saved_tensors_hooks("no hooks here"):
        with pytest.raises(RuntimeError, match="no hooks here"):
            with graph.saved_tensors_hooks(lambda t: t, lambda t: t):
                pass
    with graph.saved_tensors_hooks(lambda t: t, lambda t: t):
        with pytest.raises(RuntimeError, match="refused"):
            with graph.disable_saved_tensors_hooks("refused"):
                pass
    with graph.saved_tensors_hooks(lambda t: t, lambda t: t):
        pass  # allowed again after the disabling region

    @graph.disable_saved_tensors_hooks("decorated")
    def f():
        with graph.saved_tensors_hooks(lambda t: t, lambda t: t):
            pass
    with pytest.raises(RuntimeError, match="decorated"):
        f()


def test_hooks_do_not_change_unrecorded_calls():
    calls = []
    x, _ = inputs(ember)
    with ember.autograd.graph.saved_tensors_hooks(lambda t: calls.append(t) or t, lambda t: t):
        with ember.no_grad():
            x * x
        x.detach() * 2
    assert calls == []
