"""Adafactor and Muon as Optimizers, against torch: defaults and repr, a tensor lr, hooks and
closures, and state_dict round trips (ember's, and torch's saved checkpoints) mid-training."""
import doctest
import importlib

import numpy as np
import pytest
import torch

import ember

from ._stepwise import (TOLERANCES, assert_same_trajectory, mlp_arrays, mlp_loss,
                        train_on_gradients)

# the parameters each optimizer takes: Muon only the MLP's 2-D weights
OPTIMIZERS = {"Adafactor": lambda params: params, "Muon": lambda params: params[0::2]}
NAMES = sorted(OPTIMIZERS)


def _make(lib, name, params, **kwargs):
    return getattr(lib.optim, name)(OPTIMIZERS[name](params), **kwargs)


def _train(lib, opt, params, steps, x, y):
    for _ in range(steps):
        opt.zero_grad()
        mlp_loss(lib, params, lib.tensor(x), lib.tensor(y)).backward()
        opt.step()


@pytest.mark.parametrize("name", NAMES)
def test_defaults_repr_and_param_groups_match_torch(name):
    e, t = (_make(lib, name, [lib.nn.Parameter(lib.ones(2, 3))]) for lib in (ember, torch))
    assert e.defaults == t.defaults
    assert repr(e) == repr(t)
    assert e.state_dict()["param_groups"] == t.state_dict()["param_groups"]


@pytest.mark.parametrize("name", NAMES)
def test_tensor_lr(name):
    rng = np.random.default_rng(2)
    inits = [rng.standard_normal((3, 4)).astype(np.float32)]
    grads = [[rng.standard_normal((3, 4)).astype(np.float32)] for _ in range(10)]

    def build(lib, params):
        return [_make(lib, name, params, lr=lib.tensor(0.02), weight_decay=0.1)]

    assert_same_trajectory(*train_on_gradients(build, inits, grads, "float32"),
                           **TOLERANCES["float32"])


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_mid_training_resumes_identically(name):
    weights, x, y = mlp_arrays(3)
    params = [ember.nn.Parameter(ember.tensor(w)) for w in weights]
    opt = _make(ember, name, params, lr=0.02, weight_decay=0.05)
    _train(ember, opt, params, 4, x, y)
    saved = opt.state_dict()
    copies = [ember.nn.Parameter(p.detach().clone()) for p in params]
    resumed = _make(ember, name, copies, lr=0.9)
    resumed.load_state_dict(saved)
    assert resumed.param_groups[0]["lr"] == 0.02
    _train(ember, opt, params, 6, x, y)
    _train(ember, resumed, copies, 6, x, y)
    for p, q in zip(params, copies):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


@pytest.mark.parametrize("name", NAMES)
def test_loads_a_torch_saved_state_dict_and_continues_as_torch(name, tmp_path):
    weights, x, y = mlp_arrays(4)
    t_params = [torch.nn.Parameter(torch.tensor(w)) for w in weights]
    t_opt = _make(torch, name, t_params, lr=0.03, weight_decay=0.01)
    _train(torch, t_opt, t_params, 5, x, y)
    torch.save(t_opt.state_dict(), tmp_path / "optimizer.pt")
    e_params = [ember.nn.Parameter(ember.tensor(p.detach().numpy())) for p in t_params]
    e_opt = _make(ember, name, e_params)
    e_opt.load_state_dict(ember.load(tmp_path / "optimizer.pt"))
    _train(torch, t_opt, t_params, 5, x, y)
    _train(ember, e_opt, e_params, 5, x, y)
    for p, q in zip(e_params, t_params):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-12)
    ours, theirs = e_opt.state_dict(), t_opt.state_dict()
    assert ours["param_groups"] == theirs["param_groups"]
    assert ours["state"].keys() == theirs["state"].keys()
    for index, state in theirs["state"].items():
        assert ours["state"][index].keys() == state.keys()
        for key, value in state.items():
            mine = ours["state"][index][key]
            assert str(mine.dtype) == str(value.dtype), key
            np.testing.assert_allclose(mine.numpy(), value.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_hooks_and_closure_as_torch(name):
    result = {}
    for lib in (torch, ember):
        w = lib.nn.Parameter(lib.eye(2) * 2)
        opt = _make(lib, name, [w], lr=0.1)
        log = []
        opt.register_step_pre_hook(lambda o, a, k, log=log: log.append(("pre", len(a))))
        opt.register_step_post_hook(lambda o, a, k, log=log: log.append(("post", len(a))))

        def closure(opt=opt, w=w, log=log):
            log.append("closure")
            opt.zero_grad()
            loss = (w * w).sum()
            loss.backward()
            return loss

        loss = opt.step(closure)
        result[lib.__name__] = (loss.item(), log, w.detach().numpy())
    (loss, log, w), (loss_ref, log_ref, w_ref) = result["ember"], result["torch"]
    assert (loss, log) == (loss_ref, log_ref) == (8.0, [("pre", 2), "closure", ("post", 2)])
    np.testing.assert_allclose(w, w_ref, rtol=1e-6)


@pytest.mark.parametrize("name", ["adafactor", "muon"])
def test_docstring_example(name):
    module = importlib.import_module(f"ember.optim.{name}")
    failures, _ = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert failures == 0
