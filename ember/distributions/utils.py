"""Helpers shared by the distributions (torch.distributions.utils)."""
from __future__ import annotations

import numbers

from .. import _dtype as D
from .._ops.creation import tensor
from .._ops.shape import broadcast_tensors
from .._tensor import Tensor

__all__ = ["broadcast_all", "clamp_probs", "logits_to_probs", "probs_to_logits",
           "lazy_property"]


def broadcast_all(*values):
    """The values as tensors of one broadcast shape; numbers take the dtype of the tensors
    among them (the default float when there are none)."""
    if not all(isinstance(v, (Tensor, numbers.Number)) for v in values):
        raise ValueError("Input arguments must all be instances of numbers.Number or Tensor.")
    like = next((v for v in values if isinstance(v, Tensor)), None)
    dtype = like.dtype if like is not None else D._Defaults.floating
    device = like.device if like is not None else None
    tensors = [v if isinstance(v, Tensor) else tensor(v, dtype=dtype, device=device)
               for v in values]
    return tuple(broadcast_tensors(*tensors))


def clamp_probs(probs: Tensor) -> Tensor:
    """Probabilities kept inside (0, 1) by the dtype's eps, so their logs stay finite."""
    eps = D.finfo(probs.dtype).eps
    return probs.clamp(min=eps, max=1 - eps)


def logits_to_probs(logits: Tensor, is_binary: bool = False) -> Tensor:
    """Probabilities from unnormalized log-probabilities (sigmoid for a binary event)."""
    return logits.sigmoid() if is_binary else logits.softmax(-1)


def probs_to_logits(probs: Tensor, is_binary: bool = False) -> Tensor:
    """Log-probabilities (log-odds for a binary event) from probabilities."""
    p = clamp_probs(probs)
    return p.log() - (-p).log1p() if is_binary else p.log()


class lazy_property:
    """A property computed on first access and then stored on the instance (a distribution
    built from logits computes its probs only when asked)."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        self.__doc__ = wrapped.__doc__

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value
