"""ember.distributions.transforms, TransformedDistribution (the SAC tanh-squashed Normal among
them), MixtureSameFamily and the Gamma sampler's implicit gradient against torch."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import ember
import ember.distributions as ED

from .test_distributions import _close, _error

RNG = np.random.default_rng(1)
X = RNG.standard_normal((4, 3))
POS = RNG.uniform(0.2, 2.0, (4, 3))
COMPONENT_SCALE = RNG.uniform(0.5, 1.5, (2, 3, 4))
SQUARE = np.random.default_rng(2).standard_normal((2, 3, 3))

# name -> (builder given the library, input array)
TRANSFORMS = {
    "Exp": (lambda t: t.distributions.transforms.ExpTransform(), X),
    "Affine": (lambda t: t.distributions.transforms.AffineTransform(
        t.tensor([1.0, -2.0, 0.5], dtype=t.float64), t.tensor([2.0, -0.5, 3.0],
                                                              dtype=t.float64)), X),
    "Affine_number": (lambda t: t.distributions.transforms.AffineTransform(1.0, -3.0), X),
    "Affine_event": (lambda t: t.distributions.transforms.AffineTransform(
        0.5, t.tensor([2.0, -0.5, 3.0], dtype=t.float64), event_dim=1), X),
    "Sigmoid": (lambda t: t.distributions.transforms.SigmoidTransform(), X),
    "Tanh": (lambda t: t.distributions.transforms.TanhTransform(), X),
    "Power": (lambda t: t.distributions.transforms.PowerTransform(
        t.tensor(2.5, dtype=t.float64)), POS),
    "Abs": (lambda t: t.distributions.transforms.AbsTransform(), X),
    "Softmax": (lambda t: t.distributions.transforms.SoftmaxTransform(), X),
    "Softplus": (lambda t: t.distributions.transforms.SoftplusTransform(), X),
    "LowerCholesky": (lambda t: t.distributions.transforms.LowerCholeskyTransform(), SQUARE),
    "PositiveDefinite": (lambda t: t.distributions.transforms.PositiveDefiniteTransform(),
                         SQUARE),
    "StickBreaking": (lambda t: t.distributions.transforms.StickBreakingTransform(), X),
    "Compose": (lambda t: t.distributions.transforms.ComposeTransform([
        t.distributions.transforms.AffineTransform(0.5, 2.0),
        t.distributions.transforms.ExpTransform(),
        t.distributions.transforms.PowerTransform(t.tensor(0.5, dtype=t.float64))]), X),
    "Independent": (lambda t: t.distributions.transforms.IndependentTransform(
        t.distributions.transforms.SigmoidTransform(), 1), X),
    "Reshape": (lambda t: t.distributions.transforms.ReshapeTransform((3,), (3, 1)), X),
    "Inverse_exp": (lambda t: t.distributions.transforms.ExpTransform().inv, POS),
    "Cat": (lambda t: t.distributions.transforms.CatTransform([
        t.distributions.transforms.ExpTransform(),
        t.distributions.transforms.TanhTransform()], dim=1, lengths=[1, 2]), X),
    "Stack": (lambda t: t.distributions.transforms.StackTransform([
        t.distributions.transforms.ExpTransform(),
        t.distributions.transforms.SigmoidTransform(),
        t.distributions.transforms.AffineTransform(1.0, 2.0)], dim=1), X),
}


def _has(fn):
    try:
        fn()
    except NotImplementedError:
        return False
    return True


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_transform_values_jacobians_and_gradients_like_torch(name):
    build, x = TRANSFORMS[name]
    ours, theirs = build(ember), build(torch)
    xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ye, yt = ours(xe), theirs(xt)
    _close(ye, yt)
    _close(ours.inv(ye.detach()), theirs.inv(yt.detach()))
    assert repr(ours.domain) == repr(theirs.domain)
    assert repr(ours.codomain) == repr(theirs.codomain)
    assert ours.bijective == theirs.bijective
    assert ours.domain.event_dim == theirs.domain.event_dim
    assert ours.codomain.event_dim == theirs.codomain.event_dim
    assert tuple(ours.forward_shape(x.shape)) == tuple(theirs.forward_shape(x.shape))
    assert tuple(ours.inverse_shape(tuple(yt.shape))) == tuple(
        theirs.inverse_shape(tuple(yt.shape)))
    if _has(lambda: theirs.sign):
        se, st = ours.sign, theirs.sign
        np.testing.assert_array_equal(np.asarray(se.numpy() if isinstance(se, ember.Tensor)
                                                 else se), np.asarray(st))
    if not _has(lambda: theirs.log_abs_det_jacobian(xt, yt)):
        return
    le, lt = ours.log_abs_det_jacobian(xe, ye), theirs.log_abs_det_jacobian(xt, yt)
    _close(le, lt)
    (ge,) = ember.autograd.grad(le.sum() + ye.sum(), [xe])
    (gt,) = torch.autograd.grad(lt.sum() + yt.sum(), [xt])
    _close(ge, gt)


def test_gradcheck_through_a_transform_chain():
    t = ED.transforms
    chain = t.ComposeTransform([t.StickBreakingTransform(), t.AffineTransform(1.0, 2.0)])
    x = ember.tensor(X, requires_grad=True)
    assert ember.autograd.gradcheck(lambda v: chain.log_abs_det_jacobian(v, chain(v)), (x,))


@pytest.mark.parametrize("name", ["LowerCholesky", "PositiveDefinite", "Softplus"])
def test_matrix_and_softplus_transforms_gradcheck_both_ways(name):
    transform = TRANSFORMS[name][0](ember)
    x = ember.tensor(TRANSFORMS[name][1], requires_grad=True)
    y = transform(x).detach().requires_grad_(True)
    assert ember.autograd.gradcheck(transform, (x,))
    # a positive-definite input is symmetric: perturb it symmetrically, as cholesky reads one half
    inverse = (lambda v: transform.inv((v + v.mT) / 2)) if name == "PositiveDefinite" \
        else transform.inv
    assert ember.autograd.gradcheck(inverse, (y,))


def test_cache_inverse_identity_and_errors():
    t = ED.transforms
    tanh = t.TanhTransform(cache_size=1)
    x = ember.tensor([30.0], dtype=ember.float64)
    y = tanh(x)
    assert float(y) == 1.0 and tanh.inv(y) is x
    assert tanh(x) is y
    assert t.TanhTransform().inv(y).isinf().all()
    assert tanh.inv.inv is tanh and t.ExpTransform() == t.ExpTransform()
    assert t.ExpTransform().with_cache(1).cache_size == 1
    assert repr(t.ExpTransform().inv) == repr(torch.distributions.transforms.ExpTransform().inv)
    for lib in (ember, torch):
        with pytest.raises(ValueError, match="cache_size must be 0 or 1"):
            lib.distributions.transforms.ExpTransform(cache_size=2)
        with pytest.raises(ValueError, match="different numbers of elements"):
            lib.distributions.transforms.ReshapeTransform((2,), (3,))


def _squashed(lib, mu, std):
    D = lib.distributions
    return D.TransformedDistribution(D.Normal(mu, std), [D.transforms.TanhTransform(
        cache_size=1)])


def test_tanh_squashed_normal_log_prob_and_rsample_gradients_like_torch():
    """The SAC policy head: log_prob of a reparameterized squashed draw and its gradients."""
    mu_np, std_np = RNG.standard_normal((5, 2)), RNG.uniform(0.3, 1.5, (5, 2))
    mu_np[0, 0] = 25.0  # saturates: tanh rounds to 1, only the cache keeps log_prob finite
    ember.manual_seed(0)
    mu, std = ember.tensor(mu_np, requires_grad=True), ember.tensor(std_np, requires_grad=True)
    dist = _squashed(ember, mu, std)
    action = dist.rsample()
    pre_tanh = dist.transforms[0].inv(action)
    eps = ((pre_tanh - mu) / std).detach().numpy()
    loss = (action.sum() - dist.log_prob(action).sum())
    got = ember.autograd.grad(loss, [mu, std])
    assert bool(dist.log_prob(action).isfinite().all())

    mu_t, std_t = torch.tensor(mu_np, requires_grad=True), torch.tensor(std_np,
                                                                        requires_grad=True)
    dist_t = _squashed(torch, mu_t, std_t)
    action_t = dist_t.transforms[0](mu_t + torch.tensor(eps) * std_t)
    loss_t = (action_t.sum() - dist_t.log_prob(action_t).sum())
    want = torch.autograd.grad(loss_t, [mu_t, std_t])
    _close(action, action_t)
    _close(dist.log_prob(action), dist_t.log_prob(action_t))
    for g, w in zip(got, want):
        _close(g, w)
    value = np.tanh(RNG.standard_normal((5, 2)))
    _close(dist.log_prob(ember.tensor(value)), dist_t.log_prob(torch.tensor(value)))


@pytest.mark.parametrize("transforms", [
    lambda t: [t.distributions.transforms.AffineTransform(1.0, -2.0)],
    lambda t: [t.distributions.transforms.ExpTransform(),
               t.distributions.transforms.AffineTransform(0.0, -1.0)],
    lambda t: t.distributions.transforms.SigmoidTransform(),
])
def test_transformed_distribution_cdf_icdf_shapes_and_expand(transforms):
    results = []
    for lib in (ember, torch):
        base = lib.distributions.Normal(lib.tensor(X[:, :2]), lib.tensor(POS[:, :2]))
        d = lib.distributions.TransformedDistribution(base, transforms(lib))
        value = d.icdf(lib.tensor(np.full((4, 2), 0.3)))
        results.append((d.cdf(value), value, d.log_prob(value), d.batch_shape,
                        d.event_shape, repr(d.support), d.expand((3, 4, 2)).batch_shape))
    for a, b in zip(*results):
        if isinstance(a, ember.Tensor):
            _close(a, b)
        else:
            assert tuple(a) == tuple(b) if not isinstance(a, str) else a == b


def test_transformed_distribution_event_shapes_like_torch():
    for lib in (ember, torch):
        D = lib.distributions
        tf = D.transforms
        stick = D.TransformedDistribution(D.Normal(lib.zeros(2, 3), lib.ones(2, 3)),
                                          [tf.StickBreakingTransform()])
        assert stick.batch_shape == (2,) and stick.event_shape == (4,)
        reshaped = D.TransformedDistribution(D.Normal(lib.zeros(2, 6), lib.ones(2, 6)),
                                             [tf.ReshapeTransform((6,), (2, 3))])
        assert reshaped.batch_shape == (2,) and reshaped.event_shape == (2, 3)
        with pytest.raises(ValueError, match="needs to have shape with size at least 1"):
            D.TransformedDistribution(D.Normal(0.0, 1.0), [tf.StickBreakingTransform()])
    ours = ED.TransformedDistribution(ED.Normal(ember.zeros(2, 3), ember.ones(2, 3)),
                                      [ED.transforms.StickBreakingTransform()])
    theirs = torch.distributions.TransformedDistribution(
        torch.distributions.Normal(torch.zeros(2, 3), torch.ones(2, 3)),
        [torch.distributions.transforms.StickBreakingTransform()])
    value = RNG.dirichlet(np.ones(4), 2).astype(np.float32)
    _close(ours.log_prob(ember.tensor(value)), theirs.log_prob(torch.tensor(value)), 1e-5)
    ember.manual_seed(0)
    draws = ours.sample((50,))
    assert tuple(draws.shape) == (50, 2, 4) and bool(ours.support.check(draws).all())


def test_gamma_implicit_gradient_matches_torch_and_the_cdf():
    """d x / d alpha at fixed x: torch's approximation (to 1e-3) and, exactly, the slope that
    keeps the CDF P(alpha, x) fixed (central finite differences in float64)."""
    from ember.distributions.gamma import standard_gamma_grad
    alpha = np.array([0.05, 0.3, 0.9, 1.0, 2.5, 10.0, 50.0, 200.0])
    x = np.array([1e-4, 0.05, 0.7, 1.3, 2.0, 12.0, 45.0, 190.0])
    got = standard_gamma_grad(ember.tensor(alpha), ember.tensor(x))
    _close(got, torch._standard_gamma_grad(torch.tensor(alpha), torch.tensor(x)), 2e-3)
    a, v, h = torch.tensor(alpha), torch.tensor(x), 1e-6
    dP_da = (torch.special.gammainc(a + h, v) - torch.special.gammainc(a - h, v)) / (2 * h)
    density = torch.distributions.Gamma(a, 1.0).log_prob(v).exp()
    _close(got, -dP_da / density, 1e-5)
    assert got.dtype == ember.float64
    assert standard_gamma_grad(ember.tensor(alpha).float(), ember.tensor(x).float()).dtype \
        == ember.float32


def test_gamma_rsample_gradient_is_unbiased_for_concentration():
    ember.manual_seed(3)
    alpha = ember.tensor([0.3, 1.0, 4.0], dtype=ember.float64, requires_grad=True)
    draws = ED.Gamma(alpha, 2.0).rsample((40000,))
    (g,) = ember.autograd.grad(draws.mean(0).sum(), [alpha])
    _close(g, ember.full((3,), 0.5, dtype=ember.float64), 0.03)


MIX_PROBS = RNG.uniform(0.1, 1.0, (2, 3))


def _mixture(lib, event):
    D = lib.distributions
    if event:
        comp = D.Independent(D.Normal(lib.tensor(COMPONENT_SCALE - 1.0),
                                      lib.tensor(COMPONENT_SCALE)), 1)
    else:
        comp = D.Normal(lib.tensor(X[:2]), lib.tensor(POS[:2]))
    return D.MixtureSameFamily(D.Categorical(lib.tensor(MIX_PROBS)), comp)


@pytest.mark.parametrize("event", [False, True])
def test_mixture_same_family_like_torch(event):
    ours, theirs = _mixture(ember, event), _mixture(torch, event)
    assert ours.batch_shape == theirs.batch_shape and ours.event_shape == theirs.event_shape
    value = RNG.standard_normal((5, 2) + tuple(theirs.event_shape))
    _close(ours.log_prob(ember.tensor(value)), theirs.log_prob(torch.tensor(value)))
    _close(ours.mean, theirs.mean)
    _close(ours.variance, theirs.variance)
    if not event:
        _close(ours.cdf(ember.tensor(value)), theirs.cdf(torch.tensor(value)))
        assert repr(ours) == repr(theirs)
    ember.manual_seed(0)
    draws = ours.sample((20000,))
    assert tuple(draws.shape) == (20000,) + tuple(theirs.batch_shape) + tuple(
        theirs.event_shape)
    _close(draws.mean(0), ours.mean, 0.06)
    assert ours.expand((4, 2)).sample().shape == (4, 2) + tuple(theirs.event_shape)


@pytest.mark.parametrize("case", [
    lambda t: t.distributions.Gamma(t.tensor([-1.0]), 1.0),
    lambda t: t.distributions.Dirichlet(t.tensor(1.0)),
    lambda t: t.distributions.Beta(t.tensor([1.0]), 2.0).log_prob(t.tensor([1.5])),
    lambda t: t.distributions.Poisson(t.tensor([1.0])).log_prob(t.tensor([0.5])),
    lambda t: t.distributions.Binomial(t.tensor([2.0, 3.0]), t.tensor([0.5, 0.5])).entropy(),
    lambda t: t.distributions.Geometric(probs=t.tensor([0.5]), logits=t.tensor([0.0])),
    lambda t: t.distributions.kl_divergence(
        t.distributions.Binomial(2, t.tensor([0.5])), t.distributions.Binomial(3, t.tensor(
            [0.5]))),
    lambda t: t.distributions.MixtureSameFamily(t.distributions.Normal(0.0, 1.0),
                                                t.distributions.Normal(0.0, 1.0)),
    lambda t: t.distributions.MixtureSameFamily(t.distributions.Categorical(t.ones(3)),
                                                t.distributions.Normal(t.zeros(2), 1.0)),
    lambda t: t.distributions.MixtureSameFamily(t.distributions.Categorical(t.ones(3, 2)),
                                                t.distributions.Normal(t.zeros(4, 2), 1.0)),
    lambda t: t.distributions.StudentT(t.tensor([0.0])),
])
def test_bad_arguments_raise_like_torch(case):
    ours, theirs = _error(ember, case), _error(torch, case)
    assert ours is not None and theirs is not None
    assert ours[0] == theirs[0]
    if "found invalid values" in theirs[1] or "Mixture" in theirs[1] or "mixture" in theirs[1] \
            or "Inhomogeneous" in theirs[1] or "one-dimensional" in theirs[1]:
        assert ours[1] == theirs[1]


def test_student_t_moments_for_small_df_like_torch():
    df = [0.5, 1.5, 3.0]
    ours, theirs = ED.StudentT(ember.tensor(df)), torch.distributions.StudentT(torch.tensor(df))
    _close(ours.mean, theirs.mean)
    _close(ours.variance, theirs.variance)


@pytest.mark.parametrize("name", ["ember.distributions.transformed_distribution",
                                  "ember.distributions.gamma",
                                  "ember.distributions.mixture_same_family"])
def test_docstring_examples_run(name):
    import doctest
    import importlib
    failures, _ = doctest.testmod(importlib.import_module(name),
                                  optionflags=doctest.NORMALIZE_WHITESPACE)
    assert failures == 0


def test_transforms_are_importable_from_the_package_like_torch():
    """`from torch.distributions import ExpTransform` works; so must ember's."""
    for name in ember.distributions.transforms.__all__:
        assert name in torch.distributions.__all__
        assert getattr(ember.distributions, name) is getattr(ember.distributions.transforms, name)
        assert name in ember.distributions.__all__
