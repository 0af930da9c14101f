"""MultivariateNormal (torch.distributions.MultivariateNormal), held by the Cholesky factor
of its covariance."""
from __future__ import annotations

import math

from .._ops.creation import eye
from ..linalg import cholesky, inv, solve_triangular
from .._ops.random import normal as _normal
from .._ops.shape import broadcast_shapes
from .._tensor import Size
from . import constraints
from .distribution import Distribution
from .utils import lazy_property

__all__ = ["MultivariateNormal"]


def _batch_mahalanobis(L, x):
    """x^T (L L^T)^-1 x for a batch of vectors x and lower-triangular factors L."""
    shape = broadcast_shapes(L.shape[:-2], x.shape[:-1])
    L = L.expand(shape + L.shape[-2:])
    z = solve_triangular(L, x.expand(shape + x.shape[-1:]).unsqueeze(-1), upper=False)
    return z.squeeze(-1).pow(2).sum(-1)


class MultivariateNormal(Distribution):
    """The multivariate normal with mean `loc` and one of covariance_matrix,
    precision_matrix or scale_tril (the lower Cholesky factor of the covariance)."""

    arg_constraints = {"loc": constraints.real_vector,
                       "covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite,
                       "scale_tril": constraints.lower_cholesky}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 validate_args=None):
        if loc.ndim < 1:
            raise ValueError("loc must be at least one-dimensional.")
        given = [m for m in (covariance_matrix, precision_matrix, scale_tril) if m is not None]
        if len(given) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or "
                             "scale_tril may be specified.")
        matrix = given[0]
        if matrix.ndim < 2:
            raise ValueError("scale_tril, covariance_matrix or precision_matrix must be at "
                             "least two-dimensional, with optional leading batch dimensions")
        batch = broadcast_shapes(matrix.shape[:-2], loc.shape[:-1])
        event = loc.shape[-1:]
        if scale_tril is not None:
            self.scale_tril = scale_tril.expand(batch + (-1, -1))
            self._unbroadcasted_scale_tril = scale_tril
        elif covariance_matrix is not None:
            self.covariance_matrix = covariance_matrix.expand(batch + (-1, -1))
            self._unbroadcasted_scale_tril = cholesky(covariance_matrix)
        else:
            self.precision_matrix = precision_matrix.expand(batch + (-1, -1))
            self._unbroadcasted_scale_tril = _precision_to_scale_tril(precision_matrix)
        self.loc = loc.expand(batch + (-1,))
        super().__init__(batch, event, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        n = self._event_shape[0]
        new = self._expanded(MultivariateNormal, batch_shape, _instance, ("loc",), (n,))
        new = self._expanded(MultivariateNormal, batch_shape, new,
                             ("covariance_matrix", "precision_matrix", "scale_tril"), (n, n))
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril
        return new

    @lazy_property
    def scale_tril(self):
        return self._unbroadcasted_scale_tril.expand(
            tuple(self._batch_shape) + tuple(self._event_shape) * 2)

    @lazy_property
    def covariance_matrix(self):
        L = self._unbroadcasted_scale_tril
        return (L @ L.mT).expand(tuple(self._batch_shape) + tuple(self._event_shape) * 2)

    @lazy_property
    def precision_matrix(self):
        return inv(self.covariance_matrix)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        L = self._unbroadcasted_scale_tril
        return L.pow(2).sum(-1).expand(tuple(self._batch_shape) + tuple(self._event_shape))

    def rsample(self, sample_shape=Size()):
        shape = self._extended_shape(sample_shape)
        eps = _normal(self.loc.new_zeros(shape), self.loc.new_ones(shape))
        return self.loc + (self._unbroadcasted_scale_tril @ eps.unsqueeze(-1)).squeeze(-1)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        diff = value - self.loc
        m = _batch_mahalanobis(self._unbroadcasted_scale_tril, diff)
        half_log_det = self._unbroadcasted_scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        return -0.5 * (self._event_shape[0] * math.log(2 * math.pi) + m) - half_log_det

    def entropy(self):
        half_log_det = self._unbroadcasted_scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        h = 0.5 * self._event_shape[0] * (1.0 + math.log(2 * math.pi)) + half_log_det
        return h.expand(self._batch_shape) if self._batch_shape else h

    def __repr__(self) -> str:
        name = next(k for k in ("covariance_matrix", "precision_matrix", "scale_tril")
                    if k in self.__dict__)
        return f"MultivariateNormal(loc: {self.loc.shape}, {name}: {self.__dict__[name].shape})"


def _precision_to_scale_tril(P):
    """The lower Cholesky factor of P^-1, through the flipped Cholesky factor of P (no explicit
    inverse)."""
    L_inv = cholesky(P.flip((-2, -1))).flip((-2, -1)).mT
    identity = eye(P.shape[-1], dtype=P.dtype, device=P.device)
    return solve_triangular(L_inv, identity, upper=False)
