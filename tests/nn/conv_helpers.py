"""Run the same module or function through torch and ember and compare outputs and gradients."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import ember

TOL = {"float64": (1e-9, 1e-7), "float32": (1e-4, 1e-4)}


def copy_weights(em, tm):
    """Load torch's parameters into ember's module (state_dict keys must match)."""
    state = {k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()}
    em.load_state_dict(state)


def close(ours, theirs, dtype="float64", what="", tol=None):
    atol, rtol = tol or TOL[dtype]
    assert tuple(ours.shape) == tuple(theirs.shape), f"{what}: {ours.shape} vs {theirs.shape}"
    assert str(ours.dtype) == str(theirs.dtype), f"{what}: {ours.dtype} vs {theirs.dtype}"
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), atol=atol,
                               rtol=rtol, err_msg=what)


def compare(fe, ft, *arrays, dtype="float64", grad=True, seed=1):
    """fe/ft take tensors built from `arrays`; outputs (first if a tuple) and the gradients of
    every float input must match."""
    te = [ember.tensor(a, dtype=getattr(ember, dtype), requires_grad=grad) for a in arrays]
    tt = [torch.tensor(a, dtype=getattr(torch, dtype), requires_grad=grad) for a in arrays]
    ye, yt = fe(*te), ft(*tt)
    outs_e = ye if isinstance(ye, tuple) else (ye,)
    outs_t = yt if isinstance(yt, tuple) else (yt,)
    assert len(outs_e) == len(outs_t)
    for k, (a, b) in enumerate(zip(outs_e, outs_t)):
        if b.dtype.is_floating_point:
            close(a, b, dtype, f"output {k}")
        else:
            assert str(a.dtype) == str(b.dtype)
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=f"output {k}")
    if not grad:
        return outs_e
    g = np.random.default_rng(seed).standard_normal(tuple(outs_t[0].shape))
    ge = ember.autograd.grad(outs_e[0], te, ember.tensor(g, dtype=outs_e[0].dtype),
                             allow_unused=True)
    gt = torch.autograd.grad(outs_t[0], tt, torch.tensor(g, dtype=outs_t[0].dtype),
                             allow_unused=True)
    for k, (a, b) in enumerate(zip(ge, gt)):
        if b is None:
            assert a is None or not a.numpy().any(), f"input {k}: torch has no gradient"
        else:
            close(a, b, dtype, f"grad of input {k}")
    return outs_e


def compare_module(em, tm, x, dtype="float64", forward_kwargs=None, seed=1, tol=None):
    """Same weights, same input: outputs, input gradient and parameter gradients match."""
    copy_weights(em, tm)
    kwargs = forward_kwargs or {}
    xe = ember.tensor(x, dtype=getattr(ember, dtype), requires_grad=True)
    xt = torch.tensor(x, dtype=getattr(torch, dtype), requires_grad=True)
    ye, yt = em(xe, **kwargs), tm(xt, **kwargs)
    close(ye, yt, dtype, "output", tol)
    g = np.random.default_rng(seed).standard_normal(tuple(yt.shape))
    ye.backward(ember.tensor(g, dtype=ye.dtype))
    yt.backward(torch.tensor(g, dtype=yt.dtype))
    close(xe.grad, xt.grad, dtype, "input grad", tol)
    params_t = dict(tm.named_parameters())
    for name, p in em.named_parameters():
        close(p.grad, params_t[name].grad, dtype, f"grad of {name}", tol)


def raises_like_torch(fe, ft, match=None):
    """Both raise the same exception type; ember's message matches `match` (default: torch's
    message verbatim)."""
    with pytest.raises(Exception) as theirs:
        ft()
    kind = type(theirs.value)
    pattern = match if match is not None else re.escape(str(theirs.value).split("\n")[0])
    with pytest.raises(kind, match=pattern):
        fe()
