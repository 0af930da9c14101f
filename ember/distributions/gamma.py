"""Gamma, Chi2, Dirichlet and Beta (torch.distributions): the Gamma sampler and its implicit
reparameterization gradient, which the other three are built on."""
from __future__ import annotations

from .. import _dtype as D
from .._ops.creation import arange
from .._ops.misc import digamma, lgamma
from .._ops.pointwise import xlogy
from .._ops.random import rand, randn
from .._ops.shape import cat, stack
from .._ops.special_fns import igamma
from .._tensor import Size
from ..autograd.grad_mode import no_grad
from ..nn.functional import one_hot
from . import constraints
from .distribution import Distribution
from .utils import broadcast_all

__all__ = ["Beta", "Chi2", "Dirichlet", "Gamma", "standard_gamma_grad"]


def _marsaglia_tsang(alpha):
    """Gamma(alpha, 1) draws for alpha >= 1 by Marsaglia and Tsang's squeeze-free rejection:
    redraw only the entries not yet accepted."""
    d = alpha - 1.0 / 3.0
    c = (9.0 * d).rsqrt()
    out = alpha.new_zeros(alpha.shape)
    pending = alpha.new_ones(alpha.shape).bool()
    while bool(pending.any()):
        z = randn(alpha.shape, dtype=alpha.dtype, device=alpha.device)
        u = rand(alpha.shape, dtype=alpha.dtype, device=alpha.device)
        v = (1 + c * z).pow(3)
        positive = v > 0
        log_v = v.where(positive, 1.0).log()
        accept = positive & (u.log() < 0.5 * z * z + d - d * v + d * log_v) & pending
        out = (d * v).where(accept, out)
        pending = pending & ~accept
    return out


def _sample_standard_gamma(alpha):
    """Gamma(alpha, 1) draws (no gradient); alpha < 1 is boosted: G(alpha + 1) U^(1/alpha)."""
    with no_grad():
        small = alpha < 1
        draws = _marsaglia_tsang(alpha.where(~small, alpha + 1))
        u = rand(alpha.shape, dtype=alpha.dtype, device=alpha.device)
        boost = u.pow(alpha.reciprocal()).where(small, 1.0)
        return (draws * boost).clamp(min=D.finfo(alpha.dtype).tiny)


def standard_gamma_grad(alpha, x):
    """d x / d alpha for x ~ Gamma(alpha, 1) held at its CDF level (implicit
    reparameterization): -(dP(alpha, x)/d alpha) / density(x), with the derivative of the
    regularized incomplete gamma P taken term by term from its power series."""
    with no_grad():
        a, v = alpha.double().reshape(-1), x.double().reshape(-1)
        top = float(v.max()) if v.numel() else 0.0
        terms = int(top + 12 * top ** 0.5 + 40)  # past the peak of the terms, near n = x
        rows = max(1, _SERIES_BUDGET // terms)
        slope = cat([_series_slope(a[i:i + rows], v[i:i + rows], terms)
                     for i in range(0, v.numel(), rows)]) if v.numel() else v
        return slope.reshape(x.shape).to(alpha.dtype)


_SERIES_BUDGET = 1 << 22  # series terms evaluated at once (bounds the memory used)


def _series_slope(a, x, terms):
    """-(dP/da) / density at (a, x), summing `terms` terms of the power series."""
    n = arange(terms, dtype=D.float64, device=a.device)
    a_n, log_x = a.unsqueeze(-1) + n, x.log().unsqueeze(-1)
    # term_n / density(x) = x^(n + 1) Gamma(a) / Gamma(a + n + 1)
    log_ratio = (n + 1) * log_x - lgamma(a_n + 1) + lgamma(a).unsqueeze(-1)
    return -(log_ratio.exp() * (log_x - digamma(a_n + 1))).sum(-1)


def _standard_gamma(alpha):
    """Gamma(alpha, 1) draws whose gradient with respect to alpha is the implicit one."""
    draws = _sample_standard_gamma(alpha.detach())
    if not alpha.requires_grad:
        return draws
    slope = standard_gamma_grad(alpha.detach(), draws)
    return draws + (alpha - alpha.detach()) * slope


class Gamma(Distribution):
    """The gamma distribution with shape `concentration` and inverse scale `rate`.

    >>> import ember
    >>> ember.distributions.Gamma(2.0, 1.0).log_prob(ember.tensor(1.0))
    tensor(-1.)
    """

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, concentration, rate, validate_args=None):
        self.concentration, self.rate = broadcast_all(concentration, rate)
        super().__init__(self.concentration.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expanded(Gamma, batch_shape, _instance, ("concentration", "rate"))

    @property
    def mean(self):
        return self.concentration / self.rate

    @property
    def mode(self):
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self):
        return self.concentration / self.rate.pow(2)

    def rsample(self, sample_shape=Size()):
        shape = self._extended_shape(sample_shape)
        value = _standard_gamma(self.concentration.expand(shape)) / self.rate.expand(shape)
        return value.clamp(min=D.finfo(value.dtype).tiny)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return (xlogy(self.concentration, self.rate) + xlogy(self.concentration - 1, value)
                - self.rate * value - lgamma(self.concentration))

    def entropy(self):
        c = self.concentration
        return c - self.rate.log() + lgamma(c) + (1.0 - c) * digamma(c)

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return igamma(self.concentration, self.rate * value)


class Chi2(Gamma):
    """The chi-squared distribution with `df` degrees of freedom: Gamma(df / 2, 1 / 2)."""

    arg_constraints = {"df": constraints.positive}

    def __init__(self, df, validate_args=None):
        (df,) = broadcast_all(df)
        super().__init__(0.5 * df, 0.5, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return super().expand(batch_shape, self._get_checked_instance(Chi2, _instance))

    @property
    def df(self):
        return self.concentration * 2


class Dirichlet(Distribution):
    """The Dirichlet distribution over the simplex with the given `concentration` (last dim
    is the event); a draw is independent Gamma draws normalized to sum to one."""

    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration, validate_args=None):
        if concentration.ndim < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        shape = concentration.shape
        super().__init__(shape[:-1], shape[-1:], validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expanded(Dirichlet, batch_shape, _instance, ("concentration",),
                              tuple(self._event_shape))

    def rsample(self, sample_shape=Size()):
        shape = self._extended_shape(sample_shape)
        draws = _standard_gamma(self.concentration.expand(shape))
        return (draws / draws.sum(-1, keepdim=True)).clamp(min=D.finfo(draws.dtype).tiny)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        c = self.concentration
        return (xlogy(c - 1.0, value).sum(-1) + lgamma(c.sum(-1)) - lgamma(c).sum(-1))

    @property
    def mean(self):
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self):
        excess = (self.concentration - 1).clamp(min=0.0)
        mode = excess / excess.sum(-1, keepdim=True)
        corner = one_hot(mode.argmax(-1), excess.shape[-1]).to(mode.dtype)
        return corner.where((self.concentration < 1).all(-1, keepdim=True), mode)

    @property
    def variance(self):
        total = self.concentration.sum(-1, keepdim=True)
        return self.concentration * (total - self.concentration) / (total.pow(2) * (total + 1))

    def entropy(self):
        c = self.concentration
        k = c.shape[-1]
        total = c.sum(-1)
        return (lgamma(c).sum(-1) - lgamma(total) - (k - total) * digamma(total)
                - ((c - 1.0) * digamma(c)).sum(-1))


class Beta(Distribution):
    """The beta distribution on [0, 1]: a two-category Dirichlet read at its first entry."""

    arg_constraints = {"concentration1": constraints.positive,
                       "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args=None):
        c1, c0 = broadcast_all(concentration1, concentration0)
        self._dirichlet = Dirichlet(stack([c1, c0], -1), validate_args=validate_args)
        super().__init__(self._dirichlet._batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Beta, _instance)
        batch_shape = Size(batch_shape)
        new._dirichlet = self._dirichlet.expand(batch_shape)
        return self._finish_expand(new, batch_shape)

    @property
    def concentration1(self):
        return self._dirichlet.concentration[..., 0]

    @property
    def concentration0(self):
        return self._dirichlet.concentration[..., 1]

    @property
    def mean(self):
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self):
        return self._dirichlet.mode[..., 0]

    @property
    def variance(self):
        total = self.concentration1 + self.concentration0
        return self.concentration1 * self.concentration0 / (total.pow(2) * (total + 1))

    def rsample(self, sample_shape=Size()):
        return self._dirichlet.rsample(sample_shape).select(-1, 0)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return self._dirichlet.log_prob(stack([value, 1.0 - value], -1))

    def entropy(self):
        return self._dirichlet.entropy()
