"""swa_utils against torch's: averaged weights, n_averaged, state_dict keys, SWALR lr
sequences, and BatchNorm statistics recomputation."""
import numpy as np
import pytest
import torch

import ember
from ember.optim import swa_utils


def _model(lib, seed=0):
    rng = np.random.default_rng(seed)

    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = lib.nn.Linear(3, 2)
            self.register_buffer("scale", lib.ones(2))
            self.register_buffer("count", lib.tensor(0))

        def forward(self, x):
            return self.fc(x) * self.scale

    net = Net()
    with lib.no_grad():
        net.fc.weight.copy_(lib.tensor(rng.standard_normal((2, 3)).astype(np.float32)))
        net.fc.bias.copy_(lib.tensor(rng.standard_normal(2).astype(np.float32)))
    return net


def _perturb(lib, net, i):
    rng = np.random.default_rng(100 + i)
    with lib.no_grad():
        net.fc.weight.add_(lib.tensor(rng.standard_normal((2, 3)).astype(np.float32)))
        net.fc.bias.mul_(0.5)
        net.scale.add_(float(i))
        net.count.add_(3)


AVERAGING = {
    "swa": lambda m: m.optim.swa_utils.AveragedModel,
    "ema-multi": lambda m: lambda net, **kw: m.optim.swa_utils.AveragedModel(
        net, multi_avg_fn=m.optim.swa_utils.get_ema_multi_avg_fn(0.8), **kw),
    "ema-avg": lambda m: lambda net, **kw: m.optim.swa_utils.AveragedModel(
        net, avg_fn=m.optim.swa_utils.get_ema_avg_fn(0.8), **kw),
    "swa-multi": lambda m: lambda net, **kw: m.optim.swa_utils.AveragedModel(
        net, multi_avg_fn=m.optim.swa_utils.get_swa_multi_avg_fn(), **kw),
    "swa-avg": lambda m: lambda net, **kw: m.optim.swa_utils.AveragedModel(
        net, avg_fn=m.optim.swa_utils.get_swa_avg_fn(), **kw),
}


@pytest.mark.parametrize("use_buffers", [False, True])
@pytest.mark.parametrize("kind", list(AVERAGING))
def test_averaged_model_matches_torch(kind, use_buffers):
    if kind == "swa-multi" and use_buffers:
        # the in-place running mean cannot update the integer buffer, in torch either
        for lib in (ember, torch):
            net = _model(lib)
            averaged = AVERAGING[kind](lib)(net, use_buffers=True)
            averaged.update_parameters(net)
            with pytest.raises(RuntimeError):
                averaged.update_parameters(net)
        return
    results = {}
    for lib in (ember, torch):
        net = _model(lib)
        averaged = AVERAGING[kind](lib)(net, use_buffers=use_buffers)
        for i in range(6):
            _perturb(lib, net, i)
            averaged.update_parameters(net)
        x = lib.tensor(np.ones((4, 3), dtype=np.float32))
        results[lib.__name__] = (
            {k: v.detach().numpy().copy() for k, v in averaged.state_dict().items()},
            averaged(x).detach().numpy())
    state_e, out_e = results["ember"]
    state_t, out_t = results["torch"]
    assert list(state_e) == list(state_t)
    for key in state_t:
        np.testing.assert_allclose(state_e[key], state_t[key], rtol=1e-6, atol=1e-6, err_msg=key)
        assert state_e[key].dtype == state_t[key].dtype, key
    np.testing.assert_allclose(out_e, out_t, rtol=1e-6, atol=1e-6)


def test_first_update_copies_and_model_is_deep_copied():
    net = _model(ember)
    averaged = swa_utils.AveragedModel(net)
    assert averaged.module is not net
    assert averaged.module.fc.weight is not net.fc.weight
    assert int(averaged.n_averaged) == 0 and averaged.n_averaged.dtype == ember.int64
    _perturb(ember, net, 0)
    averaged.update_parameters(net)
    np.testing.assert_array_equal(averaged.module.fc.weight.detach().numpy(),
                                  net.fc.weight.detach().numpy())
    assert int(averaged.n_averaged) == 1


def test_errors():
    net = _model(ember)
    with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn"):
        swa_utils.AveragedModel(net, avg_fn=swa_utils.get_swa_avg_fn(),
                                multi_avg_fn=swa_utils.get_swa_multi_avg_fn())
    with pytest.raises(ValueError, match="Invalid decay value 1.5"):
        swa_utils.get_ema_multi_avg_fn(1.5)
    with pytest.raises(ValueError, match="Invalid decay value -0.1"):
        swa_utils.get_ema_avg_fn(-0.1)
    opt = ember.optim.SGD(net.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="anneal_strategy must be one of"):
        swa_utils.SWALR(opt, 0.01, anneal_strategy="exp")
    with pytest.raises(ValueError, match="anneal_epochs must be equal or greater than 0"):
        swa_utils.SWALR(opt, 0.01, anneal_epochs=-1)


SWALR_CASES = [dict(swa_lr=0.01), dict(swa_lr=[0.01, 0.2], anneal_epochs=5),
               dict(swa_lr=0.05, anneal_epochs=7, anneal_strategy="linear"),
               dict(swa_lr=0.02, anneal_epochs=0)]


@pytest.mark.parametrize("kwargs", SWALR_CASES, ids=[str(i) for i in range(len(SWALR_CASES))])
def test_swalr_matches_torch(kwargs):
    out = {}
    for lib in (ember, torch):
        a, b = lib.nn.Parameter(lib.ones(2)), lib.nn.Parameter(lib.ones(1))
        opt = lib.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.3}], lr=0.1)
        cosine = lib.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=100)
        for _ in range(10):
            opt.step()
            cosine.step()
        sched = lib.optim.swa_utils.SWALR(opt, **kwargs)
        lrs = [sched.get_last_lr()]
        for _ in range(20):
            opt.step()
            sched.step()
            lrs.append(sched.get_last_lr())
        out[lib.__name__] = (np.array(lrs), sorted(sched.state_dict()))
    np.testing.assert_allclose(out["ember"][0], out["torch"][0], rtol=1e-12)
    assert out["ember"][1] == out["torch"][1]


def test_swalr_state_dict_roundtrip():
    opt = ember.optim.SGD([ember.nn.Parameter(ember.ones(1))], lr=0.1)
    sched = swa_utils.SWALR(opt, 0.01, anneal_epochs=4, anneal_strategy="linear")
    opt.step()
    sched.step()
    state = sched.state_dict()
    assert "anneal_func" not in state
    other = swa_utils.SWALR(ember.optim.SGD([ember.nn.Parameter(ember.ones(1))], lr=0.1), 0.5)
    other.load_state_dict(state)
    assert other.anneal_func is other._linear_anneal and other._step_count == 2


class _BatchNorm(ember.nn.Module):
    """Stands in for a BatchNorm layer: update_bn finds these by their base class's name."""

    def __init__(self):
        super().__init__()
        self.momentum = 0.1
        self.register_buffer("running_mean", ember.zeros(2))
        self.register_buffer("num_batches_tracked", ember.tensor(0))
        self.seen_momenta = []

    def reset_running_stats(self):
        self.running_mean.zero_()
        self.num_batches_tracked.zero_()

    def forward(self, x):
        self.seen_momenta.append((self.momentum, self.training))
        self.num_batches_tracked.add_(1)
        n = int(self.num_batches_tracked)
        self.running_mean.mul_((n - 1) / n).add_(x.mean(0) / n)
        return x


class _Norm1d(_BatchNorm):
    pass


def test_update_bn_recomputes_statistics():
    model = ember.nn.Sequential(ember.nn.Linear(2, 2), _Norm1d())
    model.eval()
    model[1].running_mean.fill_(7.0)
    batches = [ember.ones(3, 2) * i for i in range(1, 5)]
    loader = [(b, ember.zeros(3)) for b in batches]
    swa_utils.update_bn(loader, model)
    bn = model[1]
    assert bn.seen_momenta == [(None, True)] * 4
    assert bn.momentum == 0.1 and not model.training
    with ember.no_grad():
        expected = sum(model[0](b).mean(0) for b in batches) / 4
    np.testing.assert_allclose(bn.running_mean.numpy(), expected.numpy(), rtol=1e-6)


def test_update_bn_without_batchnorm_does_nothing():
    model = ember.nn.Linear(2, 2)
    calls = []
    model.register_forward_hook(lambda *a: calls.append(1))
    swa_utils.update_bn([ember.ones(1, 2)], model)
    assert calls == []


def test_update_bn_matches_torch():
    rng = np.random.default_rng(0)
    data = [rng.standard_normal((5, 3)).astype(np.float32) for _ in range(4)]
    stats = {}
    for lib in (ember, torch):
        model = lib.nn.Sequential(lib.nn.Linear(3, 3), lib.nn.BatchNorm1d(3))
        with lib.no_grad():
            model[0].weight.copy_(lib.tensor(np.eye(3, dtype=np.float32)))
            model[0].bias.zero_()
        lib.optim.swa_utils.update_bn([lib.tensor(d) for d in data], model)
        stats[lib.__name__] = [model[1].running_mean.numpy().copy(),
                               model[1].running_var.numpy().copy(),
                               int(model[1].num_batches_tracked)]
    for e, t in zip(stats["ember"], stats["torch"]):
        np.testing.assert_allclose(e, t, rtol=1e-5)
