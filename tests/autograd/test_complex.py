"""Gradients through complex values against torch: its convention gives grad * conj(f'(z))
for holomorphic ops (OpDef.holomorphic), and the ops that mix real and complex parts (real,
imag, abs, angle, conj) follow it too, so their compositions agree."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import ember

RNG = np.random.default_rng(0)
ZA = RNG.uniform(0.3, 0.9, 4) + 1j * RNG.uniform(0.2, 0.8, 4)
ZB = RNG.uniform(0.3, 0.9, 4) + 1j * RNG.uniform(-0.8, -0.2, 4)
RA = RNG.uniform(0.3, 0.9, 4)

CASES = {
    "mul": lambda a, b, r: a * b, "div": lambda a, b, r: a / b, "pow": lambda a, b, r: a ** b,
    "pow_scalar": lambda a, b, r: a ** 2, "square": lambda a, b, r: a.square(),
    "matmul": lambda a, b, r: a.reshape(2, 2) @ b.reshape(2, 2),
    "exp": lambda a, b, r: a.exp(), "log": lambda a, b, r: a.log(), "sin": lambda a, b, r: a.sin(),
    "cos": lambda a, b, r: a.cos(), "tan": lambda a, b, r: a.tan(),
    "sqrt": lambda a, b, r: a.sqrt(), "rsqrt": lambda a, b, r: a.rsqrt(),
    "reciprocal": lambda a, b, r: a.reciprocal(), "tanh": lambda a, b, r: a.tanh(),
    "sigmoid": lambda a, b, r: a.sigmoid(), "sinh": lambda a, b, r: a.sinh(),
    "cosh": lambda a, b, r: a.cosh(), "expm1": lambda a, b, r: a.expm1(),
    "log1p": lambda a, b, r: a.log1p(), "exp2": lambda a, b, r: a.exp2(),
    "log2": lambda a, b, r: a.log2(), "linear": lambda a, b, r: a + b - 2 * a,
    "sum": lambda a, b, r: (a * b).sum(), "mean": lambda a, b, r: (a * a).mean(),
    "abs_of_product": lambda a, b, r: (a * b).abs(), "real_of_exp": lambda a, b, r: a.exp().real,
    "imag_of_product": lambda a, b, r: (a * b).imag, "conj_times": lambda a, b, r: a.conj() * b,
    "angle_of_product": lambda a, b, r: (a * b).angle(),
    "real_times_complex": lambda a, b, r: r * a,
}


def _grads(lib, fn, compiled=False):
    a, b = lib.tensor(ZA, requires_grad=True), lib.tensor(ZB, requires_grad=True)
    r = lib.tensor(RA, requires_grad=True)
    f = ember.compile(fn) if compiled else fn
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = f(a, b, r)
    loss = (out * out.conj()).real.sum() if out.is_complex() else (out * out).sum()
    grads = lib.autograd.grad(loss, (a, b, r), allow_unused=True)
    return [out.detach().resolve_conj().numpy()] + [
        None if g is None else g.resolve_conj().numpy() for g in grads]


@pytest.mark.parametrize("name", sorted(CASES))
def test_complex_values_and_gradients_like_torch(name):
    want = _grads(torch, CASES[name])
    for compiled in (False, True):
        got = _grads(ember, CASES[name], compiled)
        for k, (g, w) in enumerate(zip(got, want)):
            assert (g is None) == (w is None), f"{name} {k}"
            if w is not None:
                np.testing.assert_allclose(g, w, rtol=1e-8, atol=1e-10,
                                           err_msg=f"{name} result {k} compiled={compiled}")
