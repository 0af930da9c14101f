"""KL divergences between different families (every pair torch registers among ember's
families): values, infinities where the supports disagree, and parameter gradients."""
from __future__ import annotations

import pytest
import torch
import torch.distributions.kl as torch_kl

import ember

from .test_distributions import _close

A, B = [0.5, 2.0, 3.0], [1.5, 0.7, 3.0]
PARAMS = {
    "Beta": (A, B), "Exponential": (A,), "Gamma": (A, B), "Gumbel": ([0.5, -2.0, 3.0], B),
    "Laplace": ([0.5, -2.0, 3.0], B), "Normal": ([0.5, -2.0, 3.0], B),
    "Uniform": ([0.1, -1.0, 0.3], [0.9, 2.0, 0.4]), "Poisson": (A,),
    "Bernoulli": ([0.5, 0.2, 0.3],), "Binomial": (3, [0.5, 0.2, 0.3]),
}
PAIRS = sorted((p.__name__, q.__name__) for p, q in torch_kl._KL_REGISTRY
               if p is not q and p.__name__ in PARAMS and q.__name__ in PARAMS)


def _make(lib, name):
    args = [lib.tensor(v, dtype=lib.float64, requires_grad=True) if isinstance(v, list) else v
            for v in PARAMS[name]]
    return getattr(lib.distributions, name)(*args), [a for a in args if not isinstance(a, int)]


@pytest.mark.parametrize("p,q", PAIRS)
def test_cross_family_kl_like_torch(p, q):
    results = []
    for lib in (ember, torch):
        dp, params_p = _make(lib, p)
        dq, params_q = _make(lib, q)
        kl = lib.distributions.kl_divergence(dp, dq)
        params = params_p + params_q
        finite = kl.isfinite()
        grads = lib.autograd.grad(kl[finite].sum(), params, allow_unused=True) \
            if bool(finite.any()) else [None] * len(params)
        results.append((kl, grads))
    _close(results[0][0], results[1][0])
    for g, w in zip(results[0][1], results[1][1]):
        if g is not None and w is not None:
            _close(g, w)


def test_every_torch_pair_among_these_families_is_registered():
    from ember.distributions.kl import _KL
    D = ember.distributions
    missing = [(p, q) for p, q in PAIRS if (getattr(D, p), getattr(D, q)) not in _KL]
    assert len(PAIRS) == 38 and not missing
