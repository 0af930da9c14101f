"""KL divergences between distributions (torch.distributions.kl): a registry of closed forms
keyed by the pair of types, looked up through the classes' MROs."""
from __future__ import annotations

import math

from .._ops.misc import digamma, lgamma
from ..linalg import solve_triangular
from .bernoulli import Bernoulli, Categorical, OneHotCategorical
from .counts import Binomial, Geometric, Poisson
from .exponential import Exponential, Laplace
from .gamma import Beta, Dirichlet, Gamma
from .independent import Independent, _sum_rightmost
from .lowrank_multivariate_normal import LowRankMultivariateNormal
from .multivariate_normal import MultivariateNormal, _batch_mahalanobis
from .normal import Normal
from .real_families import _EULER, Cauchy, Gumbel, HalfNormal
from .transformed_distribution import TransformedDistribution
from .uniform import Uniform

__all__ = ["kl_divergence", "register_kl"]

_KL: dict = {}


def register_kl(type_p, type_q):
    """Decorator: register `fn(p, q)` as KL(p || q) for p of `type_p` and q of `type_q`."""
    def wrap(fn):
        _KL[type_p, type_q] = fn
        return fn
    return wrap


def kl_divergence(p, q):
    """KL(p || q), elementwise over the batch. NotImplementedError when no registered form
    matches the two types (the most specific registered pair of base classes is used)."""
    matches = [(tp, tq) for tp, tq in _KL if isinstance(p, tp) and isinstance(q, tq)]
    if not matches:
        raise NotImplementedError(f"No KL(p || q) is implemented for p type "
                                  f"{type(p).__name__} and q type {type(q).__name__}")
    rank = lambda pair: (type(p).__mro__.index(pair[0]), type(q).__mro__.index(pair[1]))  # noqa: E731
    return _KL[min(matches, key=rank)](p, q)


@register_kl(Normal, Normal)
def _kl_normal_normal(p, q):
    var_ratio = (p.scale / q.scale).pow(2)
    t1 = ((p.loc - q.loc) / q.scale).pow(2)
    return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p, q):
    t1 = p.probs * (_log_or_zero(p.probs) - q.probs.log())
    t2 = (1 - p.probs) * (_log_or_zero(1 - p.probs) - (1 - q.probs).log())
    return t1 + t2


def _log_or_zero(x):
    """log(x), 0 where x == 0 (0 log 0 = 0 in an expectation)."""
    return x.where(x != 0, 1.0).log()


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p, q):
    t = p.probs * (p.logits - q.logits)
    t = t.masked_fill(q.probs == 0, math.inf).masked_fill(p.probs == 0, 0.0)
    return t.sum(-1)


@register_kl(OneHotCategorical, OneHotCategorical)
def _kl_onehot_onehot(p, q):
    return _kl_categorical_categorical(p._categorical, q._categorical)


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p, q):
    result = ((q.high - q.low) / (p.high - p.low)).log()
    return result.masked_fill((q.low > p.low) | (q.high < p.high), math.inf)


@register_kl(Exponential, Exponential)
def _kl_exponential_exponential(p, q):
    ratio = q.rate / p.rate
    return ratio - 1 - ratio.log()


@register_kl(Laplace, Laplace)
def _kl_laplace_laplace(p, q):
    scale_ratio = p.scale / q.scale
    loc_gap = (p.loc - q.loc).abs()
    return -scale_ratio.log() + loc_gap / q.scale + scale_ratio * (-loc_gap / p.scale).exp() - 1


@register_kl(Independent, Independent)
def _kl_independent_independent(p, q):
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError("KL between Independents with different event dims is not "
                                  "implemented")
    return _sum_rightmost(kl_divergence(p.base_dist, q.base_dist), p.reinterpreted_batch_ndims)


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_mvn_mvn(p, q):
    if p.event_shape != q.event_shape:
        raise ValueError("KL-divergence between two Multivariate Normals with different event "
                         "shapes cannot be computed")
    Lp, Lq = p._unbroadcasted_scale_tril, q._unbroadcasted_scale_tril
    half_log_det = (Lq.diagonal(dim1=-2, dim2=-1).log().sum(-1)
                    - Lp.diagonal(dim1=-2, dim2=-1).log().sum(-1))
    n = p.event_shape[0]
    batch = p.batch_shape if len(p.batch_shape) >= len(q.batch_shape) else q.batch_shape
    Lq_b = Lq.expand(tuple(batch) + (n, n))
    Lp_b = Lp.expand(tuple(batch) + (n, n))
    trace = solve_triangular(Lq_b, Lp_b, upper=False).pow(2).flatten(-2).sum(-1)
    mahalanobis = _batch_mahalanobis(Lq, q.loc - p.loc)
    return half_log_det + 0.5 * (trace + mahalanobis - n)


@register_kl(Gamma, Gamma)
def _kl_gamma_gamma(p, q):
    return (q.concentration * (p.rate / q.rate).log() + lgamma(q.concentration)
            - lgamma(p.concentration)
            + (p.concentration - q.concentration) * digamma(p.concentration)
            + (q.rate - p.rate) * (p.concentration / p.rate))


@register_kl(Dirichlet, Dirichlet)
def _kl_dirichlet_dirichlet(p, q):
    total_p, total_q = p.concentration.sum(-1), q.concentration.sum(-1)
    log_norms = lgamma(total_p) - lgamma(total_q) - (
        lgamma(p.concentration) - lgamma(q.concentration)).sum(-1)
    expected_log = digamma(p.concentration) - digamma(total_p).unsqueeze(-1)
    return log_norms + ((p.concentration - q.concentration) * expected_log).sum(-1)


@register_kl(Beta, Beta)
def _kl_beta_beta(p, q):
    return _kl_dirichlet_dirichlet(p._dirichlet, q._dirichlet)


@register_kl(Poisson, Poisson)
def _kl_poisson_poisson(p, q):
    return p.rate * (p.rate.log() - q.rate.log()) - (p.rate - q.rate)


@register_kl(Geometric, Geometric)
def _kl_geometric_geometric(p, q):
    return -p.entropy() - (-q.probs).log1p() / p.probs - q.logits


@register_kl(Binomial, Binomial)
def _kl_binomial_binomial(p, q):
    if bool((p.total_count < q.total_count).any()):
        raise NotImplementedError("KL between Binomials where q.total_count > p.total_count is "
                                  "not implemented")
    kl = p.total_count * (p.probs * (p.logits - q.logits) + (-p.probs).log1p()
                          - (-q.probs).log1p())
    return kl.masked_fill(p.total_count > q.total_count, math.inf)


@register_kl(Gumbel, Gumbel)
def _kl_gumbel_gumbel(p, q):
    ratio = p.scale / q.scale
    shift = (p.loc - q.loc) / q.scale
    return (-ratio.log() + shift + ratio * _EULER + (lgamma(1 + ratio) - shift).exp()
            - (1 + _EULER))


@register_kl(Cauchy, Cauchy)
def _kl_cauchy_cauchy(p, q):
    return (((p.scale + q.scale).pow(2) + (p.loc - q.loc).pow(2)).log()
            - (4 * p.scale * q.scale).log())


@register_kl(HalfNormal, HalfNormal)
def _kl_halfnormal_halfnormal(p, q):
    return _kl_normal_normal(p.base_dist, q.base_dist)


@register_kl(TransformedDistribution, TransformedDistribution)
def _kl_transformed_transformed(p, q):
    if p.transforms != q.transforms or p.event_shape != q.event_shape:
        raise NotImplementedError("KL between TransformedDistributions is implemented only "
                                  "for equal transforms and event shapes")
    extra = len(p.event_shape) - len(p.base_dist.event_shape)
    return _sum_rightmost(kl_divergence(p.base_dist, q.base_dist), extra)


def _dense(d):
    """A low-rank Gaussian as a MultivariateNormal with the same (dense) covariance."""
    if isinstance(d, LowRankMultivariateNormal):
        return MultivariateNormal(d.loc, covariance_matrix=d.covariance_matrix)
    return d


@register_kl(LowRankMultivariateNormal, LowRankMultivariateNormal)
@register_kl(LowRankMultivariateNormal, MultivariateNormal)
@register_kl(MultivariateNormal, LowRankMultivariateNormal)
def _kl_lowrank_gaussians(p, q):
    return _kl_mvn_mvn(_dense(p), _dense(q))


# ---- pairs of different families: KL(p || q) = -H(p) - E_p[log q] --------------------------
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _infinite_like(p, q):
    """KL is infinite where p puts mass outside q's support."""
    return p.mean.new_full(p.batch_shape if p.batch_shape else (), math.inf) + 0 * (
        p.mean + q.mean)


for _p, _q in [(Exponential, Beta), (Gamma, Beta), (Gumbel, Beta), (Laplace, Beta),
               (Normal, Beta), (Gumbel, Exponential), (Laplace, Exponential),
               (Normal, Exponential), (Gumbel, Gamma), (Laplace, Gamma), (Normal, Gamma),
               (Exponential, Uniform), (Gamma, Uniform), (Gumbel, Uniform), (Laplace, Uniform),
               (Normal, Uniform)]:
    register_kl(_p, _q)(_infinite_like)


@register_kl(Poisson, Bernoulli)
@register_kl(Poisson, Binomial)
def _kl_poisson_infinity(p, q):
    return p.rate.new_full(p.rate.shape, math.inf) + 0 * p.rate


@register_kl(Bernoulli, Poisson)
def _kl_bernoulli_poisson(p, q):
    return -p.entropy() - (p.probs * q.rate.log() - q.rate)


@register_kl(Beta, Normal)
@register_kl(Exponential, Normal)
@register_kl(Gamma, Normal)
@register_kl(Gumbel, Normal)
@register_kl(Laplace, Normal)
@register_kl(Uniform, Normal)
def _kl_to_normal(p, q):
    """The Gaussian log density needs only p's mean and variance."""
    second_moment = p.variance + (p.mean - q.loc).pow(2)
    return (-p.entropy() + q.scale.log() + _HALF_LOG_2PI
            + second_moment / (2 * q.scale.pow(2)))


def _mgf(p, t):
    """E_p[exp(t x)] for the families with a Gumbel KL (t < 0 here)."""
    if isinstance(p, Exponential):
        return p.rate / (p.rate - t)
    if isinstance(p, Gamma):
        return (p.rate / (p.rate - t)).pow(p.concentration)
    if isinstance(p, Normal):
        return (p.loc * t + 0.5 * (p.scale * t).pow(2)).exp()
    return ((t * p.high).exp() - (t * p.low).exp()) / (t * (p.high - p.low))


@register_kl(Exponential, Gumbel)
@register_kl(Gamma, Gumbel)
@register_kl(Normal, Gumbel)
@register_kl(Uniform, Gumbel)
def _kl_to_gumbel(p, q):
    """log q(x) = -log s - z - exp(-z) for z = (x - loc) / s: needs E_p[x] and p's MGF."""
    return (-p.entropy() + q.scale.log() + (p.mean - q.loc) / q.scale
            + (q.loc / q.scale).exp() * _mgf(p, -q.scale.reciprocal()))


def _mean_log(p):
    """E_p[log x] for the families on the nonnegative reals with Gamma/Beta KLs."""
    if isinstance(p, Beta):
        return digamma(p.concentration1) - digamma(p.concentration1 + p.concentration0)
    if isinstance(p, Exponential):
        return -_EULER - p.rate.log()
    if isinstance(p, Gamma):
        return digamma(p.concentration) - p.rate.log()
    return ((p.high * _log_or_zero(p.high) - p.low * _log_or_zero(p.low))
            / (p.high - p.low) - 1)


def _outside(p, low, high):
    """Where a Uniform p puts mass outside [low, high]."""
    return (p.low < low) | (p.high > high)


@register_kl(Beta, Exponential)
@register_kl(Gamma, Exponential)
@register_kl(Uniform, Exponential)
def _kl_to_exponential(p, q):
    kl = -p.entropy() - q.rate.log() + q.rate * p.mean
    return kl.masked_fill(_outside(p, 0.0, math.inf), math.inf) if isinstance(
        p, Uniform) else kl


@register_kl(Beta, Gamma)
@register_kl(Exponential, Gamma)
@register_kl(Uniform, Gamma)
def _kl_to_gamma(p, q):
    a, b = q.concentration, q.rate
    kl = (-p.entropy() - a * b.log() + lgamma(a) - (a - 1) * _mean_log(p) + b * p.mean)
    return kl.masked_fill(_outside(p, 0.0, math.inf), math.inf) if isinstance(
        p, Uniform) else kl


@register_kl(Uniform, Beta)
def _kl_uniform_beta(p, q):
    width = p.high - p.low
    mean_log = (p.high * _log_or_zero(p.high) - p.low * _log_or_zero(p.low)) / width - 1
    low_c, high_c = 1 - p.low, 1 - p.high
    mean_log1m = (low_c * _log_or_zero(low_c) - high_c * _log_or_zero(high_c)) / width - 1
    log_beta = (lgamma(q.concentration1) + lgamma(q.concentration0)
                - lgamma(q.concentration1 + q.concentration0))
    kl = (-width.log() - (q.concentration1 - 1) * mean_log
          - (q.concentration0 - 1) * mean_log1m + log_beta)
    return kl.masked_fill(_outside(p, 0.0, 1.0), math.inf)


@register_kl(Beta, Uniform)
def _kl_beta_uniform(p, q):
    kl = -p.entropy() + (q.high - q.low).log()
    return kl.masked_fill((q.low > 0) | (q.high < 1), math.inf)


@register_kl(Normal, Laplace)
def _kl_normal_laplace(p, q):
    """E|x - m| of a Gaussian is the folded normal's mean."""
    shift = p.loc - q.loc
    folded_mean = (p.scale * math.sqrt(2 / math.pi) * (-(shift / p.scale).pow(2) / 2).exp()
                   + shift * (shift / (p.scale * math.sqrt(2))).erf())
    return -p.entropy() + (2 * q.scale).log() + folded_mean / q.scale
