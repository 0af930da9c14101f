"""ember.optim.Adafactor against torch.optim.Adafactor, step for step."""
import numpy as np
import pytest

import ember

from ._stepwise import (LIBS, TOLERANCES, assert_same_trajectory, raised, train_mlp,
                        train_on_gradients)

CASES = [
    dict(),
    dict(lr=0.05, weight_decay=0.1),
    dict(maximize=True),
    dict(eps=(1e-3, 1e-2), d=2.0, beta2_decay=-0.5),
    dict(lr=0.5, eps=(None, 0.0)),
    dict(lr=0.02, beta2_decay=0.0, foreach=True),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kwargs", CASES, ids=[str(i) for i in range(len(CASES))])
def test_mlp_matches_torch_step_for_step(kwargs, dtype):
    # two groups: the weights (factored second moments) and the biases (elementwise)
    def build(lib, params):
        groups = [{"params": params[0::2]}, {"params": params[1::2], "lr": 0.03}]
        return [lib.optim.Adafactor(groups, **kwargs)]

    tolerance = dict(TOLERANCES[dtype])
    if dtype == "float32" and kwargs.get("lr", 0) >= 0.5:
        # each library's own autograd gradients differ by ~1e-7 from the first step (float32
        # reductions round differently); a step size of 0.5 grows that to ~2e-6 by step 5
        tolerance["atol"] = 5e-6
    assert_same_trajectory(*train_mlp(build, dtype=dtype), **tolerance)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("scale", [1.0, 1e-9], ids=["unit", "tiny"])
def test_parameters_of_every_rank(dtype, scale):
    # 0-d and 1-d parameters keep an elementwise variance; >= 2-d ones keep row and column
    # means over the last two dimensions. Tiny gradients bring eps[0] (None: the dtype's
    # machine epsilon) into play.
    rng = np.random.default_rng(1)
    shapes = [(), (5,), (4, 6), (2, 3, 5), (2, 2, 3, 4)]
    inits = [rng.standard_normal(s) for s in shapes]
    grads = [[rng.standard_normal(s) * scale for s in shapes] for _ in range(12)]

    def build(lib, params):
        return [lib.optim.Adafactor(params, lr=0.05, weight_decay=0.01)]

    ours, theirs = train_on_gradients(build, inits, grads, dtype)
    assert_same_trajectory(ours, theirs, **TOLERANCES[dtype])
    states = [state for _, state in ours[-1]]
    assert [sorted(s) for s in states] == [["step", "variance"]] * 2 + [
        ["col_var", "row_var", "step"]] * 3
    assert states[3]["row_var"].shape == (2, 3, 1) and states[3]["col_var"].shape == (2, 1, 5)


def test_checkpoint_without_newer_options_loads_with_defaults():
    # a group saved without foreach gets its default; a step saved as a number becomes a tensor
    result = {}
    for lib in LIBS:
        p = lib.nn.Parameter(lib.tensor([[1.0, -2.0], [0.5, 3.0]]))
        p.grad = lib.tensor([[0.5, 0.25], [-1.0, 2.0]])
        opt = lib.optim.Adafactor([p])
        opt.step()
        saved = opt.state_dict()
        saved["param_groups"] = [{k: v for k, v in g.items() if k != "foreach"}
                                 for g in saved["param_groups"]]
        saved["state"][0]["step"] = 3
        opt.load_state_dict(saved)
        opt.step()
        result[lib.__name__] = (p.detach().numpy(), opt.state_dict())
    (p, saved), (p_ref, saved_ref) = result["ember"], result["torch"]
    np.testing.assert_allclose(p, p_ref, rtol=1e-6)
    assert saved["param_groups"] == saved_ref["param_groups"]
    assert isinstance(saved["state"][0]["step"], ember.Tensor)
    assert saved["state"][0]["step"].item() == saved_ref["state"][0]["step"].item() == 4


INVALID = [dict(lr=-1.0), dict(beta2_decay=0.5), dict(eps=(-1e-3, 1e-3)), dict(eps=(None, -1.0)),
           dict(d=0.5), dict(weight_decay=-0.1)]


@pytest.mark.parametrize("kwargs", INVALID, ids=[str(k) for k in INVALID])
def test_invalid_hyperparameters_raise_as_torch(kwargs):
    errors = [raised(lambda lib=lib: lib.optim.Adafactor([lib.nn.Parameter(lib.ones(2))],
                                                         **kwargs)) for lib in LIBS]
    assert errors[0] is not None and errors[0] == errors[1]


def test_lr_tensor_of_several_elements_raises_as_torch():
    errors = [raised(lambda lib=lib: lib.optim.Adafactor([lib.nn.Parameter(lib.ones(2))],
                                                         lr=lib.tensor([0.1, 0.2])))
              for lib in LIBS]
    assert errors[0] is not None and errors[0] == errors[1]


def test_complex_parameter_is_refused_at_step():
    p = ember.nn.Parameter(ember.ones(2, 2, dtype=ember.complex64))
    opt = ember.optim.Adafactor([p])
    p.grad = ember.ones(2, 2, dtype=ember.complex64)
    with pytest.raises(RuntimeError, match="Adafactor does not support complex parameters"):
        opt.step()
    assert not opt.state
