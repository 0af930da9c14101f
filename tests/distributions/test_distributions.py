"""ember.distributions against torch.distributions: densities, moments, entropies, CDFs and
KL divergences (values and gradients with respect to the parameters), shapes, expand,
validation errors, and sample statistics (the generators differ, so draws are compared by
their moments)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.distributions as TD

import ember
import ember.distributions as ED

RNG = np.random.default_rng(0)
LOC = RNG.standard_normal((3, 2))
SCALE = RNG.uniform(0.5, 2.0, (3, 2))
PROBS = RNG.uniform(0.1, 0.9, (3, 2))
WEIGHTS = RNG.uniform(0.1, 1.0, (3, 4))
COV = np.array([[2.0, 0.5, 0.1], [0.5, 1.0, 0.2], [0.1, 0.2, 1.5]])

# name -> (params as arrays by keyword, values to score)
FAMILIES = {
    "Normal": ({"loc": LOC, "scale": SCALE}, RNG.standard_normal((5, 3, 2))),
    "Laplace": ({"loc": LOC, "scale": SCALE}, RNG.standard_normal((5, 3, 2))),
    "Exponential": ({"rate": SCALE}, RNG.uniform(0.0, 3.0, (5, 3, 2))),
    "Uniform": ({"low": LOC - 2, "high": LOC + 2}, LOC + RNG.uniform(-1.9, 1.9, (5, 3, 2))),
    "Bernoulli": ({"probs": PROBS}, RNG.integers(0, 2, (5, 3, 2)).astype(float)),
    "Bernoulli_logits": ({"logits": LOC}, RNG.integers(0, 2, (5, 3, 2)).astype(float)),
    "Categorical": ({"probs": WEIGHTS}, RNG.integers(0, 4, (5, 3)).astype(float)),
    "Categorical_logits": ({"logits": LOC @ np.ones((2, 4))}, RNG.integers(0, 4, (5, 3))),
    "OneHotCategorical": ({"probs": WEIGHTS}, np.eye(4)[RNG.integers(0, 4, (5, 3))]),
    "MultivariateNormal": ({"loc": LOC[:, :1] * np.ones(3), "covariance_matrix": COV},
                           RNG.standard_normal((5, 3, 3))),
    "MultivariateNormal_tril": ({"loc": np.zeros(3),
                                 "scale_tril": np.linalg.cholesky(COV)},
                                RNG.standard_normal((5, 3))),
    "MultivariateNormal_precision": ({"loc": np.ones(3), "precision_matrix": COV},
                                     RNG.standard_normal((4, 3))),
    "LowRankMultivariateNormal": ({"loc": LOC[:, :1] * np.ones(3),
                                   "cov_factor": RNG.standard_normal((3, 3, 2)),
                                   "cov_diag": np.array([0.5, 1.2, 2.0])},
                                  RNG.standard_normal((5, 3, 3))),
    "LogNormal": ({"loc": LOC, "scale": SCALE}, RNG.uniform(0.1, 4.0, (5, 3, 2))),
    "Gamma": ({"concentration": SCALE, "rate": SCALE[::-1].copy()},
              RNG.uniform(0.1, 4.0, (5, 3, 2))),
    "Chi2": ({"df": 2 * SCALE}, RNG.uniform(0.1, 4.0, (5, 3, 2))),
    "Beta": ({"concentration1": SCALE, "concentration0": 2 * SCALE[::-1]},
             RNG.uniform(0.05, 0.95, (5, 3, 2))),
    "Dirichlet": ({"concentration": 3 * WEIGHTS}, RNG.dirichlet(np.ones(4), (5, 3))),
    "StudentT": ({"df": SCALE + 2, "loc": LOC, "scale": SCALE}, RNG.standard_normal((5, 3, 2))),
    "Cauchy": ({"loc": LOC, "scale": SCALE}, RNG.standard_normal((5, 3, 2))),
    "Gumbel": ({"loc": LOC, "scale": SCALE}, RNG.standard_normal((5, 3, 2))),
    "HalfNormal": ({"scale": SCALE}, RNG.uniform(0.0, 3.0, (5, 3, 2))),
    "Poisson": ({"rate": SCALE}, RNG.integers(0, 6, (5, 3, 2)).astype(float)),
    "Geometric": ({"probs": PROBS}, RNG.integers(0, 6, (5, 3, 2)).astype(float)),
    "Geometric_logits": ({"logits": LOC}, RNG.integers(0, 6, (5, 3, 2)).astype(float)),
    "Binomial": ({"total_count": np.full((3, 2), 5.0), "probs": PROBS},
                 RNG.integers(0, 6, (5, 3, 2)).astype(float)),
    "Binomial_logits": ({"total_count": np.full((3, 2), 5.0), "logits": LOC},
                        RNG.integers(0, 6, (5, 3, 2)).astype(float)),
}


def _build(lib, name, grad=False, flip=False):
    params, _ = FAMILIES[name]
    tensors = {k: lib.tensor(v[::-1].copy() if flip else v, requires_grad=grad)
               for k, v in params.items()}
    cls = getattr(lib.distributions, name.split("_")[0])
    return cls(**tensors), tensors


def _close(a, b, tol=1e-6):
    assert tuple(a.shape) == tuple(b.shape), (a.shape, b.shape)
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_shapes_moments_and_densities_like_torch(name):
    ours, _ = _build(ember, name)
    theirs, _ = _build(torch, name)
    assert ours.batch_shape == theirs.batch_shape and ours.event_shape == theirs.event_shape
    assert repr(ours) == repr(theirs)
    value = FAMILIES[name][1]
    _close(ours.log_prob(ember.tensor(value)), theirs.log_prob(torch.tensor(value)))
    for attr in ("mean", "variance", "stddev", "mode", "entropy"):
        try:
            want = getattr(theirs, attr)
            want = want() if callable(want) else want
        except NotImplementedError:
            continue
        got = getattr(ours, attr)
        _close(got() if callable(got) else got, want)
    for method in ("cdf", "icdf"):
        try:
            arg = value if method == "cdf" else np.full(value.shape[:-len(ours.event_shape)]
                                                        if ours.event_shape else value.shape, 0.3)
            want = getattr(theirs, method)(torch.tensor(arg))
        except NotImplementedError:
            continue
        _close(getattr(ours, method)(ember.tensor(arg)), want)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_parameter_gradients_like_torch(name):
    grads = []
    for lib in (ember, torch):
        dist, params = _build(lib, name, grad=True)
        loss = dist.log_prob(lib.tensor(FAMILIES[name][1])).sum()
        if name != "Poisson":  # torch's Poisson has no entropy
            loss = loss + dist.entropy().sum()
        grads.append(lib.autograd.grad(loss, list(params.values())))
    for g, w in zip(*grads):
        _close(g, w, 1e-6)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_samples_have_the_right_shape_and_moments(name):
    ember.manual_seed(0)
    dist, _ = _build(ember, name)
    draws = dist.sample((4000,))
    assert tuple(draws.shape) == (4000,) + tuple(dist.batch_shape) + tuple(dist.event_shape)
    assert not draws.requires_grad
    assert bool(dist.support.check(draws).all())
    if name.startswith("Categorical"):
        freq = ember.stack([(draws == k).float().mean(0) for k in range(4)], -1)
        _close(freq, dist.probs, 0.05)
    elif name != "Cauchy":  # a Cauchy has no mean
        _close(draws.float().mean(0).double(), dist.mean.double(), 0.12)


@pytest.mark.parametrize("name", ["Normal", "Laplace", "Exponential", "Uniform",
                                  "MultivariateNormal_tril", "Gamma", "Chi2", "Beta",
                                  "Dirichlet", "StudentT", "Gumbel", "HalfNormal",
                                  "LowRankMultivariateNormal"])
def test_rsample_is_differentiable_and_unbiased(name):
    ember.manual_seed(1)
    dist, params = _build(ember, name, grad=True)
    draws = dist.rsample((20000,))
    grads = ember.autograd.grad(draws.mean(), list(params.values()), retain_graph=True)
    mean_grads = ember.autograd.grad(dist.mean.mean(), list(params.values()),
                                     allow_unused=True)
    for g, w in zip(grads, mean_grads):
        if w is not None:
            _close(g, w, 0.05)


PAIRS = [("Normal", "Normal"), ("Laplace", "Laplace"), ("Exponential", "Exponential"),
         ("Bernoulli", "Bernoulli_logits"), ("Categorical", "Categorical_logits"),
         ("OneHotCategorical", "OneHotCategorical"), ("MultivariateNormal",
                                                     "MultivariateNormal_precision"),
         ("Gamma", "Gamma"), ("Chi2", "Chi2"), ("Beta", "Beta"), ("Dirichlet", "Dirichlet"),
         ("Poisson", "Poisson"), ("Geometric", "Geometric_logits"),
         ("Binomial", "Binomial_logits"), ("Gumbel", "Gumbel"), ("Cauchy", "Cauchy"),
         ("HalfNormal", "HalfNormal"), ("LogNormal", "LogNormal"),
         ("LowRankMultivariateNormal", "LowRankMultivariateNormal"),
         ("LowRankMultivariateNormal", "MultivariateNormal"),
         ("MultivariateNormal", "LowRankMultivariateNormal")]


@pytest.mark.parametrize("p,q", PAIRS)
def test_kl_divergence_like_torch(p, q):
    results = []
    for lib in (ember, torch):
        dp, params = _build(lib, p, grad=True)
        dq, _ = _build(lib, q, flip=p == q)
        kl = lib.distributions.kl_divergence(dp, dq)
        results.append((kl, lib.autograd.grad(kl.sum(), list(params.values()))))
    _close(results[0][0], results[1][0])
    for g, w in zip(results[0][1], results[1][1]):
        _close(g, w)
    u = ED.kl_divergence(ED.Uniform(0.0, 1.0), ED.Uniform(-1.0, 2.0))
    _close(u, TD.kl_divergence(TD.Uniform(0.0, 1.0), TD.Uniform(-1.0, 2.0)))
    _close(ED.kl_divergence(ED.Uniform(0.0, 1.0), ED.Uniform(0.5, 2.0)), torch.tensor(np.inf))


def test_independent_expand_and_enumerate_support_like_torch():
    for lib in (ember, torch):
        D = lib.distributions
        ind = D.Independent(D.Normal(lib.tensor(LOC), lib.tensor(SCALE)), 1)
        assert ind.batch_shape == (3,) and ind.event_shape == (2,)
    ours = ED.Independent(ED.Normal(ember.tensor(LOC), ember.tensor(SCALE)), 1)
    theirs = TD.Independent(TD.Normal(torch.tensor(LOC), torch.tensor(SCALE)), 1)
    value = RNG.standard_normal((4, 3, 2))
    _close(ours.log_prob(ember.tensor(value)), theirs.log_prob(torch.tensor(value)))
    _close(ours.entropy(), theirs.entropy())
    assert repr(ours) == repr(theirs)
    other = ED.Independent(ED.Normal(ember.tensor(LOC) + 1, ember.tensor(SCALE)), 1)
    other_t = TD.Independent(TD.Normal(torch.tensor(LOC) + 1, torch.tensor(SCALE)), 1)
    _close(ED.kl_divergence(ours, other), TD.kl_divergence(theirs, other_t))
    big = ours.expand((5, 3))
    assert big.batch_shape == (5, 3) and big.event_shape == (2,)
    assert tuple(big.sample().shape) == (5, 3, 2)
    e = ED.Categorical(probs=ember.tensor(WEIGHTS)).expand((2, 3))
    assert e.batch_shape == (2, 3) and tuple(e.sample((7,)).shape) == (7, 2, 3)
    _close(ED.Bernoulli(ember.tensor(PROBS)).enumerate_support(),
           TD.Bernoulli(torch.tensor(PROBS)).enumerate_support())
    _close(ED.Categorical(ember.tensor(WEIGHTS)).enumerate_support(expand=False),
           TD.Categorical(torch.tensor(WEIGHTS)).enumerate_support(expand=False))
    _close(ED.OneHotCategorical(ember.tensor(WEIGHTS)).enumerate_support(),
           TD.OneHotCategorical(torch.tensor(WEIGHTS)).enumerate_support())


def _error(lib, fn):
    try:
        fn(lib)
    except (ValueError, NotImplementedError) as e:
        return type(e).__name__, str(e).replace("torch.", "").replace("ember.", "")
    return None


@pytest.mark.parametrize("case", [
    lambda t: t.distributions.Normal(t.zeros(2), -t.ones(2)),
    lambda t: t.distributions.Normal(t.zeros(2), t.ones(2)).log_prob(t.tensor([float("nan"), 1.])),
    lambda t: t.distributions.Bernoulli(probs=t.tensor([1.5])),
    lambda t: t.distributions.Bernoulli(probs=t.tensor([0.5]), logits=t.tensor([0.0])),
    lambda t: t.distributions.Categorical(),
    lambda t: t.distributions.Categorical(probs=t.tensor([0.5, 0.5])).log_prob(t.tensor(2.0)),
    lambda t: t.distributions.Exponential(t.tensor([0.0])),
    lambda t: t.distributions.Uniform(1.0, 0.0),
    lambda t: t.distributions.Uniform(t.tensor([0.0, 2.0]), t.tensor([1.0, 1.0])),
    lambda t: t.distributions.Uniform(0.0, float("nan")),
    lambda t: t.distributions.MultivariateNormal(t.zeros(2)),
    lambda t: t.distributions.Independent(t.distributions.Normal(0.0, 1.0), 1),
    lambda t: t.distributions.kl_divergence(t.distributions.Categorical(t.ones(3)),
                                            t.distributions.Normal(0.0, 1.0)),
    lambda t: t.distributions.LowRankMultivariateNormal(t.zeros(3), t.zeros(3), t.ones(3)),
    lambda t: t.distributions.LowRankMultivariateNormal(t.zeros(3), t.zeros(2, 1), t.ones(3)),
    lambda t: t.distributions.LowRankMultivariateNormal(t.zeros(3), t.zeros(3, 1), t.ones(2)),
    lambda t: t.distributions.LowRankMultivariateNormal(t.zeros(2, 3), t.zeros(4, 3, 1),
                                                        t.ones(3)),
    lambda t: t.distributions.LowRankMultivariateNormal(t.zeros(3), t.zeros(3, 1), -t.ones(3)),
])
def test_bad_arguments_raise_like_torch(case):
    ours, theirs = _error(ember, case), _error(torch, case)
    assert ours is not None and theirs is not None
    assert ours[0] == theirs[0]
    if "found invalid values" in theirs[1] or "must be" in theirs[1] or \
            "Incompatible" in theirs[1]:
        assert ours[1] == theirs[1]


def test_validation_can_be_turned_off():
    d = ED.Normal(ember.zeros(1), -ember.ones(1), validate_args=False)
    assert bool(d.log_prob(ember.zeros(1)).isnan().all())
    try:
        ED.Distribution.set_default_validate_args(False)
        ED.Normal(0.0, -1.0)
    finally:
        ED.Distribution.set_default_validate_args(True)


@pytest.mark.parametrize("name", ["ember.distributions", "ember.distributions.normal",
                                  "ember.distributions.lowrank_multivariate_normal"])
def test_docstring_examples_run(name):
    import doctest
    import importlib
    failures, _ = doctest.testmod(importlib.import_module(name),
                                  optionflags=doctest.NORMALIZE_WHITESPACE)
    assert failures == 0


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_constraints_expand_and_float32_like_torch(name):
    ours, _ = _build(ember, name)
    theirs, _ = _build(torch, name)
    assert {k: repr(v) for k, v in ours.arg_constraints.items()} == {
        k: repr(v) for k, v in theirs.arg_constraints.items()}
    if not name.startswith(("Binomial", "Categorical", "Uniform")):  # supports with tensors
        assert repr(ours.support) == repr(theirs.support)
    assert ours.has_rsample == theirs.has_rsample
    shape = (2,) + tuple(theirs.batch_shape)
    big, big_t = ours.expand(shape), theirs.expand(shape)
    assert big.batch_shape == big_t.batch_shape and type(big) is type(ours)
    value = FAMILIES[name][1][:1]
    _close(big.log_prob(ember.tensor(value)), big_t.log_prob(torch.tensor(value)))
    ember.manual_seed(0)
    assert tuple(big.sample((3,)).shape) == tuple(big_t.sample((3,)).shape)
    params = {k: ember.tensor(v, dtype=ember.float32) for k, v in FAMILIES[name][0].items()}
    small = type(ours)(**params)
    assert small.sample().dtype == ember.float32 or name.startswith("Categorical")
    assert small.log_prob(ember.tensor(value, dtype=ember.float32)).dtype == ember.float32


def test_binomial_sample_is_one_draw_per_element():
    """A huge total_count costs no memory per trial, and Binomial.sample is ember.binomial."""
    import tracemalloc
    d = ED.Binomial(ember.tensor([1e7, 3.0, 0.0]), ember.tensor([0.3, 0.5, 0.9]))
    tracemalloc.start()
    try:
        draws = d.sample((2000,))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20
    theirs = TD.Binomial(torch.tensor([1e7, 3.0, 0.0]), torch.tensor([0.3, 0.5, 0.9]))
    assert draws.dtype == ember.float32 and tuple(draws.shape) == (2000, 3)
    np.testing.assert_allclose(draws.mean(0).numpy(), theirs.mean.numpy(), rtol=0.05)
    assert float(draws[:, 2].abs().max()) == 0.0
    ember.manual_seed(3)
    a = d.sample((4,))
    ember.manual_seed(3)
    b = ember.binomial(d.total_count.expand(4, 3), d.probs.expand(4, 3))
    assert a.tolist() == b.tolist()
