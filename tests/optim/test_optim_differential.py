"""ember.optim against torch.optim on the cases the step-for-step suite leaves out: complex
parameters, 0-d tensor hyper-parameters, and optimizers restored from pickles and from
checkpoints that older torch versions wrote."""
import copy
import pickle

import numpy as np
import pytest
import torch

import ember

COMPLEX_CASES = [
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1, maximize=True)),
    ("AdamW", dict(lr=0.01, amsgrad=True)),
    ("Adamax", dict(lr=0.01, weight_decay=0.1)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.01)),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.3, lr_decay=0.1)),
    ("Adadelta", dict(lr=0.5, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True)),
    ("Rprop", dict(lr=0.01, maximize=True)),
    ("ASGD", dict(lr=0.01, t0=2)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
]


def _trajectories(name, kwargs, inits, grads):
    """Parameters and state after each step, per library, from the same gradients."""
    out = {}
    for lib in (torch, ember):
        params = [lib.nn.Parameter(lib.tensor(a)) for a in inits]
        opt = getattr(lib.optim, name)(params, **kwargs(lib) if callable(kwargs) else kwargs)
        trace = []
        for step_grads in grads:
            for p, g in zip(params, step_grads):
                p.grad = lib.tensor(g)
            opt.step()
            trace.append([(p.detach().numpy().copy(),
                           {k: v.numpy().copy() for k, v in opt.state[p].items()})
                          for p in params])
        out[lib.__name__] = trace
    return out["ember"], out["torch"]


def _assert_same(ours, theirs, rtol=1e-5, atol=1e-6):
    for step, (ours_step, theirs_step) in enumerate(zip(ours, theirs)):
        for (p, state), (p_ref, state_ref) in zip(ours_step, theirs_step):
            np.testing.assert_allclose(p, p_ref, rtol=rtol, atol=atol, err_msg=f"step {step}")
            assert state.keys() == state_ref.keys()
            for key in state_ref:
                assert state[key].dtype == state_ref[key].dtype, key
                np.testing.assert_allclose(state[key], state_ref[key], rtol=rtol, atol=atol,
                                           err_msg=f"step {step} state {key}")


@pytest.mark.parametrize("name,kwargs", COMPLEX_CASES,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(COMPLEX_CASES)])
def test_complex_parameters_update_as_real_pairs(name, kwargs):
    # torch steps each real and imaginary part as a coordinate of its own (view_as_real):
    # Adam's second moment squares each part, Rprop takes each part's sign, Adagrad's and
    # Rprop's state starts at value + value*1j. ember used complex arithmetic or crashed.
    rng = np.random.default_rng(0)

    def sample(shape):
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)

    inits = [sample((3, 4)), sample(5)]
    grads = [[sample((3, 4)), sample(5)] for _ in range(8)]
    _assert_same(*_trajectories(name, kwargs, inits, grads))


def test_lbfgs_complex_parameter_matches_torch():
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal(3) + 1j * rng.standard_normal(3)
    matrix = rng.standard_normal((6, 6))
    matrix = matrix @ matrix.T + np.eye(6)
    result = {}
    for lib in (torch, ember):
        x = lib.nn.Parameter(lib.tensor(x0))
        a = lib.tensor(matrix)
        opt = lib.optim.LBFGS([x], line_search_fn="strong_wolfe", max_iter=5)

        def closure(lib=lib, opt=opt, x=x, a=a):
            opt.zero_grad()
            v = lib.view_as_real(x).reshape(-1)
            loss = (v @ a @ v) * 0.5 + (v ** 4).sum() * 0.1 - v.sum()
            loss.backward()
            return loss

        result[lib.__name__] = [(opt.step(closure).detach().item(), x.detach().numpy().copy())
                                for _ in range(3)]
    for (loss, x), (loss_ref, x_ref) in zip(result["ember"], result["torch"]):
        assert loss == pytest.approx(loss_ref, rel=1e-10)
        np.testing.assert_allclose(x, x_ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_zero_dim_tensor_lr(name):
    # SGD with momentum and Adam handed a tensor lr to their array kernels, which mixed it into
    # NumPy arithmetic: every step after the first was wrong.
    rng = np.random.default_rng(1)
    inits = [rng.standard_normal((3, 4)).astype(np.float32)]
    grads = [[rng.standard_normal((3, 4)).astype(np.float32)] for _ in range(6)]
    extra = dict(momentum=0.9, nesterov=True) if name == "SGD" else dict(amsgrad=True)
    _assert_same(*_trajectories(name, lambda lib: dict(lr=lib.tensor(0.01), **extra),
                                inits, grads))


def test_zero_dim_tensor_betas():
    rng = np.random.default_rng(2)
    inits = [rng.standard_normal(5).astype(np.float32)]
    grads = [[rng.standard_normal(5).astype(np.float32)] for _ in range(6)]
    _assert_same(*_trajectories(
        "Adam", lambda lib: dict(lr=0.01, betas=(lib.tensor(0.8), lib.tensor(0.9))),
        inits, grads))


def test_lr_tensor_of_several_elements_is_a_value_error():
    w = ember.nn.Parameter(ember.zeros(2))
    with pytest.raises(ValueError, match="1-element"):
        ember.optim.SGD([w], lr=ember.tensor([0.1, 0.2]))


def _one_step(lib, name, **kwargs):
    p = lib.nn.Parameter(lib.tensor([1.0, -2.0]))
    p.grad = lib.tensor([0.5, 0.25])
    opt = getattr(lib.optim, name)([p], **kwargs)
    opt.step()
    return p, opt


OLD_CHECKPOINT_CASES = ["SGD", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "Adagrad",
                        "Adadelta", "RMSprop", "Rprop", "ASGD"]


@pytest.mark.parametrize("name", OLD_CHECKPOINT_CASES)
def test_load_state_dict_from_an_older_torch(name):
    # checkpoints from older torch lack the options added since (maximize, foreach,
    # differentiable, ...) and keep "step" as a number; torch fills the defaults in and makes
    # "step" a tensor. ember raised KeyError: 'maximize' on the next step.
    options = {"maximize", "foreach", "differentiable", "capturable", "fused",
               "decoupled_weight_decay"}
    result = {}
    for lib in (torch, ember):
        p, opt = _one_step(lib, name, lr=0.1)
        saved = opt.state_dict()
        saved["param_groups"] = [{k: v for k, v in g.items() if k not in options}
                                 for g in saved["param_groups"]]
        if "step" in saved["state"].get(0, {}):
            saved["state"][0]["step"] = 3
        opt.load_state_dict(saved)
        p.grad = lib.tensor([0.5, 0.25])
        opt.step()
        result[lib.__name__] = (p.detach().numpy(), opt.state_dict())
    (p, saved), (p_ref, saved_ref) = result["ember"], result["torch"]
    np.testing.assert_allclose(p, p_ref, rtol=1e-6)
    (group,), (group_ref,) = saved["param_groups"], saved_ref["param_groups"]
    assert group.keys() == group_ref.keys()
    for key in options - {"fused"}:  # torch's SGD alone fills fused=False, not None
        assert group.get(key) == group_ref.get(key), key
    if "step" in saved_ref["state"].get(0, {}):
        assert isinstance(saved["state"][0]["step"], ember.Tensor)
        assert saved["state"][0]["step"].item() == saved_ref["state"][0]["step"].item()


@pytest.mark.parametrize("clone", [copy.deepcopy, lambda opt: pickle.loads(pickle.dumps(opt))],
                         ids=["deepcopy", "pickle"])
def test_copied_optimizer_steps(clone):
    # the pickled form leaves the hook stores out; they were not recreated on unpickling, so
    # the copy's step() raised AttributeError
    p, opt = _one_step(ember, "Adam", lr=0.1)
    opt.register_step_post_hook(lambda *args: None)
    copied = clone(opt)
    copied_param = copied.param_groups[0]["params"][0]
    copied_param.grad = ember.tensor([0.5, 0.25])
    copied.step()
    assert copied.state[copied_param]["step"].item() == 2
    assert len(copied._optimizer_step_post_hooks) == 0


def _hook_log(lib, register_global):
    """What step/state-dict hooks see, and in which order they fire."""
    from importlib import import_module
    optimizer_module = import_module(f"{lib.__name__}.optim.optimizer")
    p = lib.nn.Parameter(lib.ones(2))
    p.grad = lib.ones(2)
    opt = lib.optim.SGD([p], lr=0.1)
    log = []
    handles = []
    if register_global:
        handles = [optimizer_module.register_optimizer_step_pre_hook(
                       lambda o, a, k: log.append(("global pre", len(a)))),
                   optimizer_module.register_optimizer_step_post_hook(
                       lambda o, a, k: log.append(("global post", len(a))))]
    opt.register_step_pre_hook(lambda o, a, k: log.append(("pre", len(a), a[0] is o)))
    opt.register_step_post_hook(lambda o, a, k: log.append(("post", len(a))))
    opt.register_state_dict_pre_hook(lambda o: log.append("state_dict 1"))
    opt.register_state_dict_pre_hook(lambda o: log.append("state_dict 0"), prepend=True)
    opt.register_load_state_dict_post_hook(lambda o: log.append("load 1"))
    opt.register_load_state_dict_post_hook(lambda o: log.append("load 0"), prepend=True)
    opt.step()
    opt.step(lambda: lib.tensor(1.0))
    opt.load_state_dict(opt.state_dict())
    for handle in handles:
        handle.remove()
    opt.step()
    return log


@pytest.mark.parametrize("register_global", [False, True], ids=["local", "global"])
def test_hooks_fire_in_torch_order_with_torch_arguments(register_global):
    # prepend=True was ignored, hooks got empty args (torch's hold the optimizer and the
    # closure), and module-level register_optimizer_step_{pre,post}_hook did not exist
    assert _hook_log(ember, register_global) == _hook_log(torch, register_global)


def test_step_pre_hook_may_replace_the_closure():
    result = {}
    for lib in (torch, ember):
        p = lib.nn.Parameter(lib.ones(2))
        p.grad = lib.ones(2)
        opt = lib.optim.SGD([p], lr=0.1)
        opt.register_step_pre_hook(lambda o, a, k: ((o,), {"closure": lambda: 7.0}))
        result[lib.__name__] = (opt.step(lambda: 1.0), p.detach().numpy())
    assert result["ember"][0] == result["torch"][0] == 7.0
    np.testing.assert_allclose(result["ember"][1], result["torch"][1])
    opt.register_step_pre_hook(lambda o, a, k: "not args")
    with pytest.raises(RuntimeError, match="must return None or a tuple"):
        opt.step()


@pytest.mark.parametrize("create_graph", [False, True])
def test_zero_grad_without_set_to_none_zeroes_the_same_tensor(create_graph):
    # ember replaced .grad by a detached copy: a reference held to the gradient (a bucket,
    # a logger) no longer was the parameter's gradient
    p = ember.nn.Parameter(ember.ones(2))
    (p ** 3).sum().backward(create_graph=create_graph)
    grad = p.grad
    ember.optim.SGD([p], lr=0.1).zero_grad(set_to_none=False)
    assert p.grad is grad
    assert grad.tolist() == [0.0, 0.0]
    assert not grad.requires_grad and grad.grad_fn is None
