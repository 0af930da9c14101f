"""Distances between vectors: pairwise_distance, cosine_similarity, pdist."""
from __future__ import annotations

from ..._ops.creation import triu_indices
from ..._ops.linalg import vector_norm
from ..._ops.shape import broadcast_tensors
from ..._tensor import Tensor

__all__ = ["pairwise_distance", "cosine_similarity", "pdist"]


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """p-norm of x1 - x2 + eps over the last dim (inputs broadcast).

    >>> import ember
    >>> ember.nn.functional.pairwise_distance(ember.tensor([[3.0, 0.0]]),
    ...                                       ember.tensor([[0.0, 4.0]]), eps=0.0)
    tensor([5.])
    """
    dim = max(x1.ndim, x2.ndim) - 1
    if dim < 0:
        return vector_norm(x1 - x2 + eps, p, keepdim=keepdim)
    return vector_norm(x1 - x2 + eps, p, dim, keepdim)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Cosine of the angle between x1 and x2 along dim; each norm is clamped below at eps.

    >>> import ember
    >>> ember.nn.functional.cosine_similarity(ember.tensor([[1.0, 0.0]]),
    ...                                       ember.tensor([[1.0, 1.0]]))
    tensor([0.7071])
    """
    x1, x2 = broadcast_tensors(x1, x2)
    n1 = vector_norm(x1, 2, dim, True).clamp_min(eps)
    n2 = vector_norm(x2, 2, dim, True).clamp_min(eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pdist(input: Tensor, p: float = 2.0) -> Tensor:
    """p-norm distances between every pair of rows i < j of a 2-D input, row-major."""
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    i, j = triu_indices(input.shape[0], input.shape[0], 1, device=input.device)
    return vector_norm(input[i] - input[j], p, 1)
