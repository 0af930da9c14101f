"""ember.special: torch.special's functions.

Most are the same ops as their torch.* names (expit is sigmoid, gammaln is lgamma, psi is
digamma, gammainc is igamma); zeta, xlog1py, entr, erfcx, ndtr, ndtri, log_ndtr, the Bessel
and Airy functions and the orthogonal polynomials exist only here.

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
from ._ops.special_fns import (airy_ai, bessel_j0, bessel_j1, bessel_y0, bessel_y1,
                               chebyshev_polynomial_t, chebyshev_polynomial_u,
                               chebyshev_polynomial_v, chebyshev_polynomial_w, gammainc,
                               gammaincc, hermite_polynomial_h, hermite_polynomial_he, i0, i0e,
                               i1, i1e, laguerre_polynomial_l, legendre_polynomial_p,
                               modified_bessel_i0, modified_bessel_i1, modified_bessel_k0,
                               modified_bessel_k1, scaled_modified_bessel_k0,
                               scaled_modified_bessel_k1, shifted_chebyshev_polynomial_t,
                               shifted_chebyshev_polynomial_u, shifted_chebyshev_polynomial_v,
                               shifted_chebyshev_polynomial_w, spherical_bessel_j0)

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


__all__ = ["airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1",
           "chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
           "chebyshev_polynomial_w", "digamma", "entr", "erf", "erfc", "erfcx", "erfinv", "exp2",
           "expit", "expm1", "gammainc", "gammaincc", "gammaln", "hermite_polynomial_h",
           "hermite_polynomial_he", "i0", "i0e", "i1", "i1e", "laguerre_polynomial_l",
           "legendre_polynomial_p", "log1p", "log_ndtr", "log_softmax", "logit", "logsumexp",
           "modified_bessel_i0", "modified_bessel_i1", "modified_bessel_k0",
           "modified_bessel_k1", "multigammaln", "ndtr", "ndtri", "polygamma", "psi", "round",
           "scaled_modified_bessel_k0", "scaled_modified_bessel_k1",
           "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u",
           "shifted_chebyshev_polynomial_v", "shifted_chebyshev_polynomial_w", "sinc",
           "softmax", "spherical_bessel_j0", "xlog1py", "xlogy", "zeta"]
