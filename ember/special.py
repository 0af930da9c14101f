"""ember.special: torch.special's functions.

Most are the same ops as their torch.* names (expit is sigmoid, gammaln is lgamma, psi is
digamma); zeta, xlog1py, entr, erfcx, ndtr, ndtri and log_ndtr exist only here.

    >>> import ember
    >>> ember.special.ndtr(ember.tensor([0., 1.96]))
    tensor([0.5000, 0.9750])
"""
from __future__ import annotations

from ._ops.misc import (digamma, entr, erfcx, log_ndtr, mvlgamma, ndtr, ndtri, polygamma, sinc,
                        xlog1py, zeta)
from ._ops.misc import lgamma as gammaln
from ._ops.nn_ops import log_softmax as _log_softmax
from ._ops.nn_ops import softmax as _softmax
from ._ops.pointwise import erf, erfc, erfinv, exp2, expm1, log1p, logit, round, xlogy
from ._ops.pointwise import sigmoid as expit
from ._ops.reduction import logsumexp

psi = digamma


def multigammaln(input, p: int, *, out=None):
    """The log of the multivariate gamma function of dimension p (mvlgamma)."""
    return mvlgamma(input, p, out=out)


def softmax(input, dim: int, *, dtype=None):
    """exp(input) normalized to sum to 1 along `dim` (optionally computed in `dtype`)."""
    return _softmax(input, dim, dtype=dtype)


def log_softmax(input, dim: int, *, dtype=None):
    """log(softmax(input, dim)), computed stably (optionally in `dtype`)."""
    return _log_softmax(input, dim, dtype=dtype)


__all__ = ["digamma", "entr", "erf", "erfc", "erfcx", "erfinv", "exp2", "expit", "expm1",
           "gammaln", "log1p", "log_ndtr", "log_softmax", "logit", "logsumexp", "multigammaln",
           "ndtr", "ndtri", "polygamma", "psi", "round", "sinc", "softmax", "xlog1py", "xlogy",
           "zeta"]
