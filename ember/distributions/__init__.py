"""`ember.distributions`: torch.distributions' core families, with sampling (reparameterized
where the family allows), log densities, entropies, CDFs and KL divergences.

    >>> import ember
    >>> from ember.distributions import Normal, kl_divergence
    >>> kl_divergence(Normal(0.0, 1.0), Normal(1.0, 1.0))
    tensor(0.5000)
"""
from __future__ import annotations

from . import constraints
from .bernoulli import Bernoulli, Categorical, OneHotCategorical
from .distribution import Distribution
from .exponential import Exponential, Laplace
from .independent import Independent
from .kl import kl_divergence, register_kl
from .multivariate_normal import MultivariateNormal
from .normal import Normal
from .uniform import Uniform

__all__ = ["Bernoulli", "Categorical", "Distribution", "Exponential", "Independent", "Laplace",
           "MultivariateNormal", "Normal", "OneHotCategorical", "Uniform", "constraints",
           "kl_divergence", "register_kl"]
