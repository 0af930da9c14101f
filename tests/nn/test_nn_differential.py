"""Differential regressions: ember.nn against torch.nn on the cases where they once differed.

Each test runs the same code through both libraries (torch is the oracle) and compares
values, gradients, state_dict keys, reprs or the error raised.
"""
import warnings

import numpy as np
import pytest
import torch

import ember

from ._oracle import Arg, compare


def _both(fn):
    """fn(lib) for torch and ember."""
    return fn(torch), fn(ember)


# ---- losses ------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_class_weight_with_label_smoothing_and_no_ignored_target(reduction):
    # the targets never hit ignore_index, so the smoothing spread is one row for the batch;
    # adding each entry's weighted target mass to it in place crashed
    compare(lambda t, x, y, w: t.nn.functional.cross_entropy(x, y, w, reduction=reduction,
                                                             label_smoothing=0.3),
            (Arg((3, 4)), Arg((3,), 0, 3, dtype="int64", grad=False),
             Arg((4,), 0.1, 1, grad=False)))
    compare(lambda t, x, y, w: t.nn.functional.cross_entropy(x, y, w, reduction=reduction,
                                                             label_smoothing=0.1),
            (Arg((2, 4, 3)), Arg((2, 3), 0, 3, dtype="int64", grad=False),
             Arg((4,), 0.1, 1, grad=False)))


def test_cross_entropy_loss_module_with_weight_and_label_smoothing_compiled():
    w = np.array([0.2, 1.0, 0.5, 2.0])
    x = np.random.default_rng(0).standard_normal((3, 4))
    y = [0, 3, 1]
    outs = []
    for lib in (torch, ember):
        loss = lib.nn.CrossEntropyLoss(weight=lib.tensor(w), label_smoothing=0.2)
        fn = ember.compile(loss) if lib is ember else loss
        xs = lib.tensor(x, requires_grad=True)
        out = fn(xs, lib.tensor(y))
        out.backward()
        outs.append((out.item(), xs.grad.numpy()))
    np.testing.assert_allclose(outs[1][0], outs[0][0], rtol=1e-10)
    np.testing.assert_allclose(outs[1][1], outs[0][1], rtol=1e-10, atol=1e-12)


# ---- containers --------------------------------------------------------------------------------
def test_sequential_times_int_repeats_the_same_modules():
    def run(lib):
        lin = lib.nn.Linear(2, 2)
        net = lib.nn.Sequential(lin, lib.nn.ReLU())
        twice, rtwice = net * 2, 2 * net
        net *= 3
        return (list(twice._modules), list(rtwice._modules), list(net._modules),
                twice[2] is lin, net[4] is lin, [n for n, _ in twice.named_parameters()])
    t, e = _both(run)
    assert e == t


@pytest.mark.parametrize("bad, error", [(0, ValueError), (1.5, TypeError)])
def test_sequential_times_bad_factor_raises_like_torch(bad, error):
    for lib in (torch, ember):
        with pytest.raises(error):
            lib.nn.Sequential(lib.nn.ReLU()) * bad


def test_parameter_dict_from_plain_dict_is_in_sorted_key_order():
    # torch sorts a plain dict's keys: state_dict order (and so optimizer state) follows it
    def run(lib):
        params = lib.nn.ParameterDict({"b": lib.ones(1), "a": lib.ones(2), "c": lib.ones(3)})
        ordered = lib.nn.ParameterDict(dict(zip("ba", [lib.ones(1)] * 2)).items())
        return (list(params), list(params.state_dict()),
                [n for n, _ in params.named_parameters()], list(ordered))
    t, e = _both(run)
    assert e == t == (["a", "b", "c"],) * 3 + (["b", "a"],)


def test_parameter_containers_hold_non_tensor_values_like_torch():
    def run(lib):
        plist = lib.nn.ParameterList([1, lib.ones(2)])
        plist.append("x")
        pdict = lib.nn.ParameterDict({"a": lib.ones(2), "b": "hello"})
        pdict.setdefault("c", 3)
        return (repr(plist), plist[0], plist[2], [n for n, _ in plist.named_parameters()],
                repr(pdict), pdict["b"], pdict["c"], list(pdict.state_dict()),
                pdict.popitem(), list(pdict))
    t, e = _both(run)
    assert e == t


def test_parameter_container_reprs_match_torch():
    def run(lib):
        plist = lib.nn.ParameterList([lib.ones(2, 3), lib.zeros(1, dtype=lib.float64)])
        pdict = lib.nn.ParameterDict({"w": lib.ones(2, 3), "d": lib.zeros(1, dtype=lib.float64)})
        return repr(plist), repr(pdict), repr(plist[1:])
    t, e = _both(run)
    assert e == t


def test_parameter_dict_refuses_non_string_keys_and_bad_update():
    for lib in (torch, ember):
        with pytest.raises(TypeError):
            lib.nn.ParameterDict()[1] = lib.ones(1)
        with pytest.raises(TypeError):
            lib.nn.ParameterDict().update(3)
        with pytest.raises(TypeError):
            lib.nn.ParameterList().extend(lib.ones(2))


# ---- Module ------------------------------------------------------------------------------------
def test_load_state_dict_result_prints_like_torch():
    def run(lib):
        net = lib.nn.Linear(2, 2)
        state = net.state_dict()
        ok = net.load_state_dict(state)
        del state["bias"]
        partial = net.load_state_dict(state, strict=False)
        return (repr(ok), str(ok), repr(partial), type(partial).__name__, partial.missing_keys,
                tuple(ok))
    t, e = _both(run)
    assert e == t
    assert e[0] == "<All keys matched successfully>"


def test_full_backward_hook_grad_input_has_one_entry_per_argument():
    def run(lib):
        seen = []
        net = lib.nn.Bilinear(2, 2, 1)
        net.register_full_backward_hook(
            lambda mod, gi, go: seen.append([g is None for g in gi]))
        x2 = lib.ones(3, 2, requires_grad=True)
        net(lib.ones(3, 2), x2).sum().backward()
        return seen
    t, e = _both(run)
    # torch hands a zero tensor for the input that takes no gradient; ember hands None
    assert t == [[False, False]] and e == [[True, False]]


def test_full_backward_hook_replaces_the_input_gradient_by_position():
    def run(lib):
        net = lib.nn.Bilinear(2, 2, 1)
        net.requires_grad_(False)
        net.weight.copy_(lib.arange(4.0).reshape(1, 2, 2))
        net.register_full_backward_hook(lambda mod, gi, go: (None, gi[1] * 3))
        x2 = lib.ones(3, 2, requires_grad=True)
        net(lib.ones(3, 2), x2).sum().backward()
        return x2.grad.numpy()
    t, e = _both(run)
    np.testing.assert_allclose(e, t, rtol=1e-6)


def test_full_backward_hook_returning_wrong_count_raises():
    for lib in (torch, ember):
        net = lib.nn.Linear(2, 1)
        net.register_full_backward_hook(lambda mod, gi, go: (gi[0], gi[0]))
        with pytest.raises(RuntimeError, match="invalid number of grad_input"):
            net(lib.ones(3, 2, requires_grad=True)).sum().backward()


def test_full_backward_hook_without_input_grads_warns_and_gets_nones():
    def run(lib):
        seen = []
        net = lib.nn.Bilinear(2, 2, 1)
        net.register_full_backward_hook(lambda mod, gi, go: seen.append(gi))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            net(lib.ones(3, 2), lib.ones(3, 2)).sum().backward()
        return seen, [str(w.message)[:40] for w in caught]
    t, e = _both(run)
    assert e == t == ([(None, None)], ["Full backward hook is firing when gradie"])


# ---- init --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, args", [("uniform", ()), ("normal", ()), ("constant", (0.5,)),
                                        ("eye", ()), ("dirac", ()), ("xavier_uniform", ()),
                                        ("xavier_normal", ()), ("kaiming_uniform", ()),
                                        ("kaiming_normal", ()), ("orthogonal", ()),
                                        ("sparse", (0.5,))])
def test_deprecated_init_names_exist_and_warn_like_torch(name, args):
    def run(lib):
        shape = (3, 2, 1) if name == "dirac" else (3, 4)
        tensor = lib.empty(*shape)
        with pytest.warns(FutureWarning, match=f"nn.init.{name}` is now deprecated"):
            out = getattr(lib.nn.init, name)(tensor, *args)
        return out is tensor, getattr(lib.nn.init, name).__name__
    t, e = _both(run)
    assert e == t == (True, name)


# ---- half precision ----------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [
    lambda t, x: t.nn.functional.adaptive_avg_pool2d(x, 3),
    lambda t, x: t.nn.functional.adaptive_avg_pool1d(x[0], 3),
    lambda t, x: t.nn.functional.interpolate(x, size=(3, 2), mode="area")])
def test_adaptive_avg_pool_keeps_bfloat16(fn):
    # uneven windows average by a matmul, which NumPy computes in float32 for bfloat16
    compare(fn, (Arg((1, 2, 5, 5)),), dtypes=("bfloat16",))
    x = ember.ones(1, 2, 5, 5, dtype=ember.bfloat16, requires_grad=True)
    fn(ember, x).sum().backward()
    assert x.grad.dtype == ember.bfloat16


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
def test_rnn_keeps_bfloat16(mode):
    net = getattr(ember.nn, mode)(3, 4, bidirectional=True).to(ember.bfloat16)
    x = ember.ones(5, 2, 3, dtype=ember.bfloat16, requires_grad=True)
    out, state = net(x)
    states = state if isinstance(state, tuple) else (state,)
    assert [out.dtype] + [s.dtype for s in states] == [ember.bfloat16] * (1 + len(states))
    out.sum().backward()
    assert x.grad.dtype == ember.bfloat16
    assert all(p.grad.dtype == ember.bfloat16 for p in net.parameters())


def test_module_zero_grad_without_none_zeroes_the_same_tensor_like_torch():
    for lib in (torch, ember):
        m = lib.nn.Linear(2, 2)
        m(lib.ones(1, 2)).sum().backward()
        g = m.weight.grad
        m.zero_grad(set_to_none=False)
        assert m.weight.grad is g and float(g.abs().sum()) == 0
        m.zero_grad()
        assert m.weight.grad is None


def test_grid_sample_nearest_gives_the_grid_zero_gradients_like_torch():
    """Not None: an optimizer then still applies momentum and weight decay to the grid."""
    for lib in (torch, ember):
        x = lib.ones(1, 1, 4, 4, requires_grad=True)
        grid = lib.zeros(1, 2, 2, 2, requires_grad=True)
        lib.nn.functional.grid_sample(x, grid, mode="nearest", align_corners=False).sum().backward()
        assert grid.grad is not None and float(grid.grad.abs().sum()) == 0.0
