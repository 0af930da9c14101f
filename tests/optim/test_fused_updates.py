"""The raw-array update kernels of Adam/AdamW and SGD (ember/optim/_fused.py: blocked NumPy,
and the one-pass numba forms when numba is on) against torch, on parameters larger than one
block, and their fallbacks."""
import importlib.util

import numpy as np
import pytest
import torch

import ember
from ember.optim import _fused

CASES = [
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.3, 0.9), weight_decay=0.1, amsgrad=True)),
    ("Adam", dict(lr=0.02, maximize=True, weight_decay=0.05)),
    ("AdamW", dict(lr=0.01, weight_decay=0.5)),
    ("AdamW", dict(lr=0.01, amsgrad=True, maximize=True)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.5, dampening=0.3, maximize=True, weight_decay=0.1)),
]


def _run(lib, name, kwargs, w0, grads, dtype, transpose_grad=False):
    w = lib.nn.Parameter(lib.tensor(w0, dtype=getattr(lib, dtype)))
    opt = getattr(lib.optim, name)([w], **kwargs)
    for g in grads:
        grad = lib.tensor(g.T.copy() if transpose_grad else g, dtype=getattr(lib, dtype))
        w.grad = grad.t() if transpose_grad else grad
        opt.step()
    return w.detach().numpy(), opt


@pytest.fixture(params=["numpy", "numba"])
def fuser(request, monkeypatch):
    """Run the kernels as blocked NumPy, then (where numba is installed) as one numba pass."""
    if request.param == "numba" and importlib.util.find_spec("numba") is None:
        pytest.skip("numba is not installed")
    monkeypatch.setenv("EMBER_JIT_FUSER", request.param)
    assert (_fused._one_pass(np, 75000) is not None) == (request.param == "numba")
    # once a large parameter loaded the numba forms, small ones take them too
    assert (_fused._one_pass(np, 100) is not None) == (request.param == "numba")
    return request.param


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_large_parameters_match_torch(name, kwargs, dtype, fuser):
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((300, 250))  # 75000 elements: three blocks of the kernels
    grads = [rng.standard_normal(w0.shape) for _ in range(6)]
    we, opt_e = _run(ember, name, kwargs, w0, grads, dtype)
    wt, opt_t = _run(torch, name, kwargs, w0, grads, dtype)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(we, wt, **tol)
    state_e = opt_e.state_dict()["state"][0]
    for key, value in opt_t.state_dict()["state"][0].items():
        np.testing.assert_allclose(state_e[key].numpy(), value.numpy(), err_msg=key, **tol)


@pytest.mark.parametrize("name,kwargs", CASES[:1] + CASES[5:6])
def test_non_contiguous_gradient_takes_the_tensor_path(name, kwargs):
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal((5, 4)).astype(np.float32)
    grads = [rng.standard_normal(w0.shape).astype(np.float32) for _ in range(3)]
    we, _ = _run(ember, name, kwargs, w0, grads, "float32", transpose_grad=True)
    wt, _ = _run(torch, name, kwargs, w0, grads, "float32", transpose_grad=True)
    np.testing.assert_allclose(we, wt, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,kwargs", CASES[:1] + CASES[5:6])
def test_step_bumps_versions_of_written_tensors(name, kwargs):
    w = ember.nn.Parameter(ember.ones(3))
    opt = getattr(ember.optim, name)([w], **kwargs)
    for _ in range(2):
        w.grad = ember.ones(3)
        before = w._version
        opt.step()
        assert w._version > before
    y = w * w  # saves w for backward
    w.grad = ember.ones(3)
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


@pytest.mark.parametrize("name,kwargs", [CASES[1], CASES[3], CASES[6]])
def test_many_parameters_of_mixed_sizes_and_dtypes_match_torch(name, kwargs, fuser):
    """A group's fused updates run several parameters a call (numba) and group them by dtype:
    more parameters than one call takes, float32 and float64 together, some without grads."""
    rng = np.random.default_rng(2)
    shapes = [(300, 250), (7,), (3, 5), (1,), (64, 33), (2, 2, 2), (5000,)] * 2 + [(4, 4)]
    dtypes = ["float32" if i % 3 else "float64" for i in range(len(shapes))]
    inits = [rng.standard_normal(s) for s in shapes]
    grads = [[None if (i + step) % 5 == 0 else rng.standard_normal(s)
              for i, s in enumerate(shapes)] for step in range(4)]

    def run(lib):
        ws = [lib.nn.Parameter(lib.tensor(w, dtype=getattr(lib, d))) for w, d in zip(inits, dtypes)]
        opt = getattr(lib.optim, name)(ws, **kwargs)
        for step_grads in grads:
            for w, g, d in zip(ws, step_grads, dtypes):
                w.grad = None if g is None else lib.tensor(g, dtype=getattr(lib, d))
            opt.step()
        return [w.detach().numpy() for w in ws]

    for we, wt, d in zip(run(ember), run(torch), dtypes):
        tol = dict(rtol=1e-5, atol=1e-6) if d == "float32" else dict(rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(we, wt, **tol)
