"""ember.optim.Muon against torch.optim.Muon, step for step. Both orthogonalize the update in
bfloat16, so agreement to ~1e-12 in float64 means the bfloat16 Newton-Schulz iterates agree
bit for bit. They do on these cases; elsewhere one element of an iterate can land a bfloat16
ulp apart where its exact value is within float32 rounding of a tie (torch's bfloat16 addmm
rounds beta * input + alpha * (a @ b) once, ember's rounds beta * input separately)."""
import numpy as np
import pytest

from ._stepwise import (LIBS, TOLERANCES, assert_same_trajectory, raised, train_mlp,
                        train_on_gradients)

CASES = [
    dict(),
    dict(lr=0.03, nesterov=False),
    dict(lr=0.02, adjust_lr_fn="original", weight_decay=0.0),
    dict(lr=0.02, adjust_lr_fn="match_rms_adamw", momentum=0.5),
    dict(lr=0.05, ns_steps=3, ns_coefficients=(2.0, -1.5, 0.5), eps=1e-3, nesterov=False),
    dict(lr=0.01, ns_steps=0),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kwargs", CASES, ids=[str(i) for i in range(len(CASES))])
def test_mlp_matches_torch_step_for_step(kwargs, dtype):
    # Muon on the 2-D weights, AdamW on the biases, as torch's documentation suggests
    def build(lib, params):
        return [lib.optim.Muon(params[0::2], **kwargs),
                lib.optim.AdamW(params[1::2], lr=0.01)]

    assert_same_trajectory(*train_mlp(build, dtype=dtype), **TOLERANCES[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("adjust_lr_fn", [None, "original", "match_rms_adamw"])
def test_tall_wide_and_square_weights(adjust_lr_fn, dtype):
    # a tall matrix is orthogonalized transposed; the learning rate adjustment depends on
    # the shape
    rng = np.random.default_rng(1)
    shapes = [(7, 3), (3, 7), (4, 4)]
    inits = [rng.standard_normal(s) for s in shapes]
    grads = [[rng.standard_normal(s) for s in shapes] for _ in range(10)]

    def build(lib, params):
        return [lib.optim.Muon(params, lr=0.02, adjust_lr_fn=adjust_lr_fn)]

    assert_same_trajectory(*train_on_gradients(build, inits, grads, dtype), **TOLERANCES[dtype])


INVALID = [dict(lr=-1.0), dict(weight_decay=-0.1), dict(momentum=-0.5),
           dict(adjust_lr_fn="sqrt"), dict(maximize=True), dict(foreach=True)]


@pytest.mark.parametrize("kwargs", INVALID, ids=[str(k) for k in INVALID])
def test_invalid_hyperparameters_raise_as_torch(kwargs):
    errors = [raised(lambda lib=lib: lib.optim.Muon([lib.nn.Parameter(lib.ones(2, 2))],
                                                    **kwargs)) for lib in LIBS]
    assert errors[0] is not None and errors[0] == errors[1]


@pytest.mark.parametrize("shape", [(), (3,), (2, 3, 4)])
def test_parameters_that_are_not_matrices_raise_as_torch(shape):
    errors = [raised(lambda lib=lib: lib.optim.Muon([lib.nn.Parameter(lib.ones(shape))]))
              for lib in LIBS]
    assert errors[0][0] is ValueError and errors[0] == errors[1]


STEP_ERRORS = [
    ("added_vector", dict(), "added"),
    ("ns_steps", dict(ns_steps=100), None),
    ("coefficients", dict(ns_coefficients=(1.0, 2.0)), None),
    ("complex", dict(), "complex"),
]


@pytest.mark.parametrize("case,kwargs,kind", STEP_ERRORS, ids=[c[0] for c in STEP_ERRORS])
def test_step_errors_match_torch(case, kwargs, kind):
    # torch checks these when stepping: a 1-D parameter added with add_param_group, the
    # Newton-Schulz settings, complex parameters
    def attempt(lib):
        dtype = lib.complex64 if kind == "complex" else lib.float32
        p = lib.nn.Parameter(lib.ones(2, 3, dtype=dtype))
        p.grad = lib.ones(2, 3, dtype=dtype)
        opt = lib.optim.Muon([p], **kwargs)
        if kind == "added":
            q = lib.nn.Parameter(lib.ones(3))
            q.grad = lib.ones(3)
            opt.add_param_group({"params": [q]})
        opt.step()

    errors = [raised(lambda lib=lib: attempt(lib)) for lib in LIBS]
    assert errors[0] is not None and errors[0] == errors[1]
