"""Learning-rate schedulers against torch's: the same lr (and momentum) sequences step for step,
the same state_dict keys, warnings and errors."""
import math
import warnings

import pytest
import torch

import ember

STEPS = 60


def _sched(name, *args, **kwargs):
    return lambda lib, opt: getattr(lib.optim.lr_scheduler, name)(opt, *args, **kwargs)


def _lambda_a(epoch):
    return 0.95 ** epoch


def _lambda_b(epoch):
    return 1.0 / (1 + epoch)


def _chained(lib, opt):
    s = lib.optim.lr_scheduler
    return s.ChainedScheduler([s.ConstantLR(opt, factor=0.5, total_iters=4),
                               s.ExponentialLR(opt, gamma=0.97)])


def _sequential(lib, opt):
    s = lib.optim.lr_scheduler
    return s.SequentialLR(opt, [s.LinearLR(opt, start_factor=0.1, total_iters=5),
                                s.CosineAnnealingLR(opt, T_max=20),
                                s.StepLR(opt, step_size=7, gamma=0.5)], milestones=[5, 25])


def _nested(lib, opt):
    s = lib.optim.lr_scheduler
    inner = s.ChainedScheduler([s.StepLR(opt, 4, 0.7), s.ExponentialLR(opt, 0.99)])
    return s.SequentialLR(opt, [inner, s.ConstantLR(opt, 0.2, total_iters=3)], milestones=[10])


def _chained_sequential(lib, opt):
    s = lib.optim.lr_scheduler
    seq = s.SequentialLR(opt, [s.ConstantLR(opt, 0.2, total_iters=3), s.ExponentialLR(opt, 0.9)],
                         milestones=[5])
    return s.ChainedScheduler([seq, s.StepLR(opt, 6, 0.5)])


CASES = {
    "LambdaLR": ("SGD", _sched("LambdaLR", _lambda_a)),
    "LambdaLR-list": ("SGD", _sched("LambdaLR", [_lambda_a, _lambda_b])),
    "MultiplicativeLR": ("SGD", _sched("MultiplicativeLR", lambda e: 0.97)),
    "StepLR": ("SGD", _sched("StepLR", 7)),
    "StepLR-gamma": ("SGD", _sched("StepLR", step_size=3, gamma=0.5)),
    "MultiStepLR": ("SGD", _sched("MultiStepLR", [5, 15, 15, 40], gamma=0.3)),
    "ConstantLR": ("SGD", _sched("ConstantLR")),
    "ConstantLR-opts": ("SGD", _sched("ConstantLR", factor=0.25, total_iters=12)),
    "LinearLR": ("SGD", _sched("LinearLR")),
    "LinearLR-decay": ("SGD", _sched("LinearLR", start_factor=1.0, end_factor=0.05,
                                     total_iters=40)),
    "ExponentialLR": ("SGD", _sched("ExponentialLR", 0.93)),
    "PolynomialLR": ("SGD", _sched("PolynomialLR")),
    "PolynomialLR-power": ("SGD", _sched("PolynomialLR", total_iters=45, power=2.5)),
    "CosineAnnealingLR": ("SGD", _sched("CosineAnnealingLR", T_max=15)),
    "CosineAnnealingLR-eta": ("SGD", _sched("CosineAnnealingLR", T_max=20, eta_min=0.01)),
    "CosineAnnealingWarmRestarts": ("SGD", _sched("CosineAnnealingWarmRestarts", 10)),
    "CosineAnnealingWarmRestarts-mult": ("SGD", _sched("CosineAnnealingWarmRestarts", T_0=3,
                                                       T_mult=2, eta_min=0.001)),
    "CyclicLR": ("SGD-momentum", _sched("CyclicLR", 0.01, 0.1, step_size_up=6)),
    "CyclicLR-triangular2": ("SGD-momentum", _sched("CyclicLR", [0.01, 0.02], [0.1, 0.3],
                                                    step_size_up=4, step_size_down=8,
                                                    mode="triangular2")),
    "CyclicLR-exp_range": ("Adam", _sched("CyclicLR", 0.001, 0.01, step_size_up=5,
                                          mode="exp_range", gamma=0.97)),
    "CyclicLR-custom": ("SGD", _sched("CyclicLR", 0.01, 0.1, step_size_up=5,
                                      scale_fn=lambda x: 0.9 ** x, scale_mode="iterations",
                                      cycle_momentum=False)),
    "OneCycleLR": ("SGD-momentum", _sched("OneCycleLR", 0.5, total_steps=STEPS)),
    "OneCycleLR-linear": ("Adam", _sched("OneCycleLR", [0.1, 0.2], epochs=6,
                                         steps_per_epoch=10, anneal_strategy="linear",
                                         pct_start=0.25)),
    "OneCycleLR-three_phase": ("SGD-momentum", _sched("OneCycleLR", 1.0, total_steps=STEPS,
                                                      three_phase=True, div_factor=10.0,
                                                      final_div_factor=100.0)),
    "OneCycleLR-no-momentum": ("SGD", _sched("OneCycleLR", 0.3, total_steps=STEPS + 5,
                                             cycle_momentum=False)),
    "ChainedScheduler": ("SGD", _chained),
    "SequentialLR": ("SGD", _sequential),
    "SequentialLR-nested": ("SGD", _nested),
    "ChainedScheduler-of-SequentialLR": ("SGD", _chained_sequential),
}


def _optimizer(lib, kind):
    a = lib.nn.Parameter(lib.ones(2))
    b = lib.nn.Parameter(lib.ones(3))
    groups = [{"params": [a]}, {"params": [b], "lr": 0.05}]
    if kind == "Adam":
        return lib.optim.Adam(groups, lr=0.1)
    return lib.optim.SGD(groups, lr=0.1, momentum=0.9 if kind == "SGD-momentum" else 0)


def _trace(lib, kind, make, steps=STEPS):
    opt = _optimizer(lib, kind)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sched = make(lib, opt)

    def snapshot():
        groups = [(g["lr"], g.get("momentum"), g.get("betas")) for g in opt.param_groups]
        return groups, list(sched.get_last_lr())

    trace = [snapshot()]
    for _ in range(steps):
        opt.step()
        sched.step()
        trace.append(snapshot())
    return trace, sched, [str(w.message) for w in caught]


def _assert_same(trace_e, trace_t):
    for i, ((groups_e, last_e), (groups_t, last_t)) in enumerate(zip(trace_e, trace_t)):
        assert last_e == pytest.approx(last_t, rel=1e-12, abs=1e-15), f"step {i}"
        for (lr_e, m_e, b_e), (lr_t, m_t, b_t) in zip(groups_e, groups_t):
            assert lr_e == pytest.approx(lr_t, rel=1e-12, abs=1e-15), f"step {i}"
            assert m_e == (pytest.approx(m_t, rel=1e-12) if m_t is not None else None)
            assert b_e == (pytest.approx(b_t, rel=1e-12) if b_t is not None else None)


@pytest.mark.parametrize("case", list(CASES))
def test_matches_torch(case):
    kind, make = CASES[case]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        trace_e, sched_e, warned_e = _trace(ember, kind, make)
        trace_t, sched_t, warned_t = _trace(torch, kind, make)
    _assert_same(trace_e, trace_t)
    assert warned_e == warned_t
    state_e, state_t = sched_e.state_dict(), sched_t.state_dict()
    assert sorted(state_e) == sorted(state_t)
    if "_schedulers" in state_t:
        for sub_e, sub_t in zip(state_e["_schedulers"], state_t["_schedulers"]):
            assert sorted(sub_e) == sorted(sub_t)
    assert sorted(sched_e.optimizer.param_groups[0]) == sorted(
        sched_t.optimizer.param_groups[0])


def test_state_dict_roundtrip_resumes():
    kind, make = CASES["SequentialLR"]
    _, sched, _ = _trace(ember, kind, make, steps=12)
    saved = sched.state_dict()
    opt = sched.optimizer
    opt2 = _optimizer(ember, kind)
    sched2 = make(ember, opt2)
    opt2.load_state_dict(opt.state_dict())
    sched2.load_state_dict(saved)
    for _ in range(20):
        for o, s in ((opt, sched), (opt2, sched2)):
            o.step()
            s.step()
        assert sched.get_last_lr() == sched2.get_last_lr()
        assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in opt2.param_groups]


def test_lambda_state_dict_keeps_callable_objects():
    class Decay:
        def __init__(self, rate):
            self.rate = rate

        def __call__(self, epoch):
            return self.rate ** epoch

    for lib in (ember, torch):
        opt = _optimizer(lib, "SGD")
        sched = lib.optim.lr_scheduler.LambdaLR(opt, [Decay(0.5), _lambda_b])
        state = sched.state_dict()
        assert state["lr_lambdas"] == [{"rate": 0.5}, None]
    other = ember.optim.lr_scheduler.LambdaLR(_optimizer(ember, "SGD"), [Decay(0.9), _lambda_b])
    other.load_state_dict(state)
    assert other.lr_lambdas[0].rate == 0.5


def _plateau_trace(lib, metrics, **kwargs):
    opt = _optimizer(lib, "SGD")
    sched = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    trace = []
    for m in metrics:
        opt.step()
        sched.step(m)
        trace.append(([g["lr"] for g in opt.param_groups], sched.get_last_lr(),
                      sched.num_bad_epochs, sched.cooldown_counter))
    return trace, sched


PLATEAU_METRICS = [1.0 / (1 + i) if i < 10 else 0.1 + 0.0001 * math.sin(i) for i in range(80)]
PLATEAU_CASES = [
    dict(),
    dict(patience=3),
    dict(mode="max", patience=2, factor=0.5),
    dict(patience=2, threshold=0.05, threshold_mode="abs", cooldown=3),
    dict(patience=1, min_lr=[0.01, 0.02], factor=0.3),
    dict(patience=0, min_lr=1e-3, eps=1e-2, factor=0.5),
    dict(mode="max", threshold_mode="abs", threshold=0.01, patience=4, cooldown=2),
]


@pytest.mark.parametrize("kwargs", PLATEAU_CASES, ids=[str(i) for i in range(len(PLATEAU_CASES))])
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    metrics = PLATEAU_METRICS if kwargs.get("mode") != "max" else [-m for m in PLATEAU_METRICS]
    trace_e, sched_e = _plateau_trace(ember, metrics, **kwargs)
    trace_t, sched_t = _plateau_trace(torch, metrics, **kwargs)
    assert trace_e == trace_t
    assert sorted(sched_e.state_dict()) == sorted(sched_t.state_dict())
    assert sched_e.state_dict() == sched_t.state_dict()


def test_reduce_lr_on_plateau_accepts_tensor_metric_and_loads_state():
    opt = _optimizer(ember, "SGD")
    sched = ember.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0)
    sched.step(ember.tensor(1.0))
    sched.step(ember.tensor(2.0))
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.01, 0.005])
    other = ember.optim.lr_scheduler.ReduceLROnPlateau(_optimizer(ember, "SGD"), mode="max")
    other.load_state_dict(sched.state_dict())
    assert other.mode == "min" and other.best == 1.0


def test_warm_restarts_fractional_epochs_match_torch():
    def run(lib):
        opt = _optimizer(lib, "SGD")
        sched = lib.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=3)
        out = []
        for epoch in range(12):
            for i in range(5):
                opt.step()
                sched.step(epoch + i / 5)
                out.append((sched.get_last_lr(), sched.T_i, sched.T_cur, sched.last_epoch))
        return out

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got, want = run(ember), run(torch)
    for (lr_e, *rest_e), (lr_t, *rest_t) in zip(got, want):
        assert lr_e == pytest.approx(lr_t, rel=1e-12)
        assert rest_e == pytest.approx(rest_t)


@pytest.mark.parametrize("name,args", [("StepLR", (4, 0.5)), ("MultiStepLR", ([3, 9], 0.5)),
                                       ("ExponentialLR", (0.9,)), ("LinearLR", (0.2, 1.0, 6)),
                                       ("PolynomialLR", (8, 2.0)), ("ConstantLR", (0.5, 3)),
                                       ("CosineAnnealingLR", (10,))])
def test_explicit_epoch_uses_closed_form(name, args):
    out = {}
    for lib in (ember, torch):
        opt = _optimizer(lib, "SGD")
        sched = getattr(lib.optim.lr_scheduler, name)(opt, *args)
        lrs = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for epoch in (3, 7, 2, 12, 5):
                opt.step()
                sched.step(epoch)
                lrs.extend(sched.get_last_lr())
        assert any("epoch parameter in `scheduler.step()`" in str(w.message) for w in caught)
        out[lib.__name__] = lrs
    assert out["ember"] == pytest.approx(out["torch"], rel=1e-12)


def test_warns_when_scheduler_steps_before_optimizer():
    opt = _optimizer(ember, "SGD")
    sched = ember.optim.lr_scheduler.StepLR(opt, 2)
    with pytest.warns(UserWarning, match=r"Detected call of `lr_scheduler.step\(\)` before "
                                         r"`optimizer.step\(\)`"):
        sched.step()


def test_warns_when_optimizer_step_is_replaced():
    opt = _optimizer(ember, "SGD")
    sched = ember.optim.lr_scheduler.StepLR(opt, 2)
    opt.step = lambda closure=None: None
    with pytest.warns(UserWarning, match="has been overridden after learning rate scheduler"):
        sched.step()


def test_no_warning_in_the_right_order_and_get_lr_warns():
    opt = _optimizer(ember, "SGD")
    sched = ember.optim.lr_scheduler.ExponentialLR(opt, 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()
        sched.step()
    with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
        sched.get_lr()
    assert sched.get_last_lr() == [0.05, 0.025]


def test_optimizer_step_wrapper_keeps_working():
    w = ember.nn.Parameter(ember.ones(2))
    opt = ember.optim.SGD([w], lr=0.5)
    ember.optim.lr_scheduler.StepLR(opt, 1)
    ember.optim.lr_scheduler.StepLR(opt, 1)  # a second scheduler does not wrap again
    (w * w).sum().backward()
    opt.step()
    assert w.tolist() == [0.0, 0.0]
    assert opt._opt_called


def test_errors():
    opt = _optimizer(ember, "SGD")
    s = ember.optim.lr_scheduler
    with pytest.raises(TypeError, match="is not an Optimizer"):
        s.StepLR(object(), 3)
    with pytest.raises(KeyError, match="initial_lr"):
        s.StepLR(opt, 3, last_epoch=5)
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        s.LambdaLR(opt, [_lambda_a])
    with pytest.raises(TypeError, match="lr_lambda should be a function"):
        s.MultiplicativeLR(opt, 3)
    with pytest.raises(ValueError, match="between 0 and 1"):
        s.ConstantLR(opt, factor=2)
    with pytest.raises(ValueError, match="Starting multiplicative factor"):
        s.LinearLR(opt, start_factor=0)
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        s.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode foo is unknown"):
        s.ReduceLROnPlateau(opt, mode="foo")
    with pytest.raises(ValueError, match="expected 2 min_lrs, got 1"):
        s.ReduceLROnPlateau(opt, min_lr=[0.1])
    with pytest.raises(ValueError, match="Expected positive integer T_0"):
        s.CosineAnnealingWarmRestarts(opt, T_0=0)
    with pytest.raises(ValueError, match="Expected integer T_mult >= 1"):
        s.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=0)
    with pytest.raises(ValueError, match="mode is invalid"):
        s.CyclicLR(opt, 0.1, 1.0, mode="sawtooth")
    with pytest.raises(ValueError, match="max_lr must have the same length"):
        s.CyclicLR(opt, 0.1, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="You must define either total_steps"):
        s.OneCycleLR(opt, 0.1)
    with pytest.raises(ValueError, match="pct_start"):
        s.OneCycleLR(opt, 0.1, total_steps=10, pct_start=1.5)
    with pytest.raises(ValueError, match="anneal_strategy"):
        s.OneCycleLR(opt, 0.1, total_steps=10, anneal_strategy="step")
    with pytest.raises(ValueError, match="at least one scheduler"):
        s.SequentialLR(opt, [], [])
    with pytest.raises(ValueError, match="number of milestones"):
        s.SequentialLR(opt, [s.StepLR(opt, 2)], [3])
    with pytest.raises(ValueError, match="does not support `ReduceLROnPlateau`"):
        s.ChainedScheduler([s.ReduceLROnPlateau(opt)])
    other = _optimizer(ember, "SGD")
    with pytest.raises(ValueError, match="same optimizer"):
        s.ChainedScheduler([s.StepLR(opt, 2), s.StepLR(other, 2)])
    adagrad = ember.optim.Adagrad([ember.nn.Parameter(ember.ones(1))])
    with pytest.raises(ValueError, match="must support momentum or beta1"):
        s.CyclicLR(adagrad, 0.1, 1.0)
    one_cycle = s.OneCycleLR(opt, 0.1, total_steps=2)
    opt.step()
    one_cycle.step()
    one_cycle.step()
    with pytest.raises(ValueError, match="Tried to step 3 times"):
        one_cycle.step()


def test_tensor_lr_is_filled_in_place():
    w = ember.nn.Parameter(ember.ones(1))
    lr = ember.tensor(0.1)
    opt = ember.optim.SGD([w], lr=lr)
    sched = ember.optim.lr_scheduler.ExponentialLR(opt, 0.5)
    opt.step()
    sched.step()
    assert opt.param_groups[0]["lr"] is lr
    assert lr.item() == pytest.approx(0.05)
