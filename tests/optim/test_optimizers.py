"""Optimizers step for step against torch's, from identical parameters and losses."""
import numpy as np
import pytest
import torch

import ember

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.5, dampening=0.3, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.9), maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, amsgrad=True, weight_decay=0.5)),
    ("Adamax", dict(lr=0.01)),
    ("Adamax", dict(lr=0.02, betas=(0.8, 0.95), eps=1e-4, weight_decay=0.1)),
    ("Adamax", dict(lr=0.01, maximize=True)),
    ("NAdam", dict(lr=0.01)),
    ("NAdam", dict(lr=0.01, momentum_decay=0.01, weight_decay=0.1)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict(lr=0.01)),
    ("RAdam", dict(lr=0.01, betas=(0.9, 0.9), weight_decay=0.1)),
    ("RAdam", dict(lr=0.01, betas=(0.8, 0.8), weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.01, betas=(0.9, 0.85), maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.005, momentum=0.9, alpha=0.9)),
    ("RMSprop", dict(lr=0.005, momentum=0.5, centered=True, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, initial_accumulator_value=0.5, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.05, eps=1e-3, maximize=True)),
    ("Adadelta", dict(lr=1.0)),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1)),
    ("Adadelta", dict(lr=1.0, maximize=True)),
    ("ASGD", dict(lr=0.05)),
    ("ASGD", dict(lr=0.05, lambd=0.01, alpha=0.5, t0=5, weight_decay=0.1)),
    ("ASGD", dict(lr=0.05, t0=0, maximize=True)),
    ("Rprop", dict(lr=0.01)),
    ("Rprop", dict(lr=0.02, etas=(0.3, 1.5), step_sizes=(1e-3, 0.05))),
    ("Rprop", dict(lr=0.01, maximize=True)),
]


def _loss(lib, w, b, x, y):
    pred = (w * x).sum(-1) + b
    return ((pred - y) ** 2).mean() + (w ** 4).sum() * 1e-3


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal(3).astype(
        np.float32), rng.standard_normal((8, 3, 4)).astype(np.float32),
        rng.standard_normal((8, 3)).astype(np.float32))


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_matches_torch_step_for_step(name, kwargs):
    w0, b0, x, y = _problem()
    params = {}
    for lib in (torch, ember):
        w = lib.nn.Parameter(lib.tensor(w0))
        b = lib.nn.Parameter(lib.tensor(b0))
        opt = getattr(lib.optim, name)([{"params": [w]}, {"params": [b], "lr": 0.03}]
                                       if "lr" in kwargs else [w, b], **kwargs)
        xs, ys = lib.tensor(x), lib.tensor(y)
        trace = []
        for _ in range(20):
            opt.zero_grad()
            loss = _loss(lib, w, b, xs, ys)
            loss.backward()
            opt.step()
            trace.append((loss.item(), w.detach().numpy().copy(), b.detach().numpy().copy()))
        params[lib.__name__] = (trace, opt)
    for (le, we, be), (lt, wt, bt) in zip(params["ember"][0], params["torch"][0]):
        assert abs(le - lt) <= 1e-5 * max(1, abs(lt))
        np.testing.assert_allclose(we, wt, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(be, bt, rtol=1e-5, atol=1e-6)
    sd_e, sd_t = params["ember"][1].state_dict(), params["torch"][1].state_dict()
    assert sd_e["param_groups"] == [
        {k: v for k, v in g.items()} for g in sd_t["param_groups"]]
    assert sorted(sd_e["state"]) == sorted(sd_t["state"])
    for k in sd_t["state"]:
        assert sorted(sd_e["state"][k]) == sorted(sd_t["state"][k])
        for key, value in sd_t["state"][k].items():
            mine = sd_e["state"][k][key]
            assert str(mine.dtype) == str(value.dtype) and tuple(mine.shape) == tuple(value.shape)
            np.testing.assert_allclose(mine.numpy(), value.numpy(), rtol=1e-4, atol=1e-6,
                                       err_msg=key)


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_zero_dim_parameter_matches_torch(name, kwargs):
    """A 0-d parameter whose gradient accumulates over two backward calls per step (NumPy
    turns arithmetic on 0-d arrays into scalars, which a Tensor must never hold)."""
    values = {}
    for lib in (torch, ember):
        w = lib.nn.Parameter(lib.tensor(1.5))
        opt = getattr(lib.optim, name)([w], **kwargs)
        for _ in range(5):
            opt.zero_grad()
            (w * w).backward()
            (w ** 3 * 0.1).backward()
            opt.step()
        values[lib.__name__] = (w.item(), w.grad.item(), w.grad.shape)
    (we, ge, se), (wt, gt, st) = values["ember"], values["torch"]
    assert tuple(se) == tuple(st) == ()
    assert abs(we - wt) <= 1e-5 * max(1, abs(wt)) and abs(ge - gt) <= 1e-5 * max(1, abs(gt))


def test_state_dict_roundtrip_resumes_identically():
    w0, b0, x, y = _problem(1)
    w = ember.nn.Parameter(ember.tensor(w0))
    opt = ember.optim.Adam([w], lr=0.01)
    xs, ys = ember.tensor(x), ember.tensor(y)
    b = ember.zeros(3)
    for _ in range(3):
        opt.zero_grad()
        _loss(ember, w, b, xs, ys).backward()
        opt.step()
    saved = opt.state_dict()
    w2 = ember.nn.Parameter(w.detach().clone())
    opt2 = ember.optim.Adam([w2], lr=0.5)
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["lr"] == 0.01
    for o, p in ((opt, w), (opt2, w2)):
        o.zero_grad()
        _loss(ember, p, b, xs, ys).backward()
        o.step()
    np.testing.assert_array_equal(w.detach().numpy(), w2.detach().numpy())


def test_bad_arguments():
    w = ember.nn.Parameter(ember.ones(1))
    with pytest.raises(ValueError, match="Invalid learning rate"):
        ember.optim.SGD([w], lr=-1)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 0"):
        ember.optim.Adam([w], betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="Nesterov"):
        ember.optim.SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(TypeError, match="iterable of Tensors"):
        ember.optim.SGD(w, lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        ember.optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        ember.optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        ember.optim.SGD([w * 2], lr=0.1)
    opt = ember.optim.SGD([w], lr=0.1)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt.load_state_dict({"state": {}, "param_groups": []})


def test_repr_matches_torch():
    e = ember.optim.SGD([ember.nn.Parameter(ember.ones(1))], lr=0.1, momentum=0.9)
    t = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1, momentum=0.9)
    assert repr(e) == repr(t)


def test_step_hooks_and_closure():
    w = ember.nn.Parameter(ember.ones(2))
    opt = ember.optim.SGD([w], lr=0.1)
    calls = []
    opt.register_step_pre_hook(lambda o, a, k: calls.append("pre"))
    opt.register_step_post_hook(lambda o, a, k: calls.append("post"))

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 2.0
    assert calls == ["pre", "post"]
    assert w.tolist() == pytest.approx([0.8, 0.8])


@pytest.mark.parametrize("name", ["adamax", "nadam", "radam", "rmsprop", "adagrad", "adadelta",
                                  "asgd", "rprop", "lbfgs", "lr_scheduler", "swa_utils"])
def test_docstring_examples(name):
    import doctest
    import importlib
    module = importlib.import_module(f"ember.optim.{name}")
    failures, _ = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert failures == 0
