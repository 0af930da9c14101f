"""Dropout: elementwise, channel-wise (dropout1d/2d/3d) and the self-normalizing alpha variants.

Masks come from ember's default generator, so ember.manual_seed makes them reproducible; the
kept values are scaled by 1 / (1 - p) so the expectation is unchanged. In eval mode (training
False) or with p = 0 the input itself is returned.
"""
from __future__ import annotations

import warnings

from ..._ops.dispatch import apply
from ..._ops.random import DropoutNoise
from ..._ops.registry import refuse_complex
from ..._tensor import Tensor

__all__ = ["dropout", "alpha_dropout", "feature_alpha_dropout", "dropout1d", "dropout2d",
           "dropout3d"]


def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _noise(like: Tensor, shape: tuple, p: float, alpha: bool) -> tuple:
    """(multiplier, offset or None) tensors: x * multiplier + offset is the dropped-out x."""
    refuse_complex("dropout", like._data)
    noise = apply(DropoutNoise, size=shape, p=p, dtype=like._dtype, device=like._device,
                  alpha=alpha)
    return noise if alpha else (noise, None)


def _apply_noise(input: Tensor, p: float, inplace: bool, shape: tuple, alpha: bool) -> Tensor:
    if p == 1.0:
        return input.mul_(0.0) if inplace else input * 0.0
    mult, offset = _noise(input, shape, p, alpha)
    if inplace:
        input.mul_(mult)
        return input if offset is None else input.add_(offset)
    out = input * mult
    return out if offset is None else out + offset


def _feature_shape(input: Tensor) -> tuple:
    """One draw per (batch, channel): the noise shape (N, C, 1, ...)."""
    return tuple(input.shape[:2]) + (1,) * (input.ndim - 2)


def dropout(input: Tensor, p: float = 0.5, training: bool = True,
            inplace: bool = False) -> Tensor:
    """Zero each element with probability p and scale the rest by 1 / (1 - p).

    >>> import ember
    >>> _ = ember.manual_seed(0)
    >>> y = ember.nn.functional.dropout(ember.ones(1000), 0.5)
    >>> sorted(set(y.tolist()))
    [0.0, 2.0]
    """
    _check_p(p)
    if not training or p == 0.0 or input.numel() == 0:
        return input
    return _apply_noise(input, p, inplace, tuple(input.shape), False)


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                  inplace: bool = False) -> Tensor:
    """Dropout for selu networks: dropped units take selu's negative saturation value and an
    affine correction keeps zero mean and unit variance."""
    _check_p(p)
    if not training or p == 0.0 or input.numel() == 0:
        return input
    return _apply_noise(input, p, inplace, tuple(input.shape), True)


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                          inplace: bool = False) -> Tensor:
    """alpha_dropout of whole channels (dim 1)."""
    _check_p(p)
    if not training or p == 0.0 or input.numel() == 0:
        return input
    return _apply_noise(input, p, inplace, _feature_shape(input), True)


def _feature_dropout(input: Tensor, p: float, training: bool, inplace: bool,
                     batched: bool) -> Tensor:
    _check_p(p)
    if not training or p == 0.0 or input.numel() == 0:
        return input
    if batched:
        return _apply_noise(input, p, inplace, _feature_shape(input), False)
    shape = (input.shape[0],) + (1,) * (input.ndim - 1)
    return _apply_noise(input, p, inplace, shape, False)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, L) or (C, L) inputs with probability p."""
    if input.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D "
                           "input. Note that dropout1d exists to provide channel-wise dropout "
                           "on inputs with 1 spatial dimension, a channel dimension, and an "
                           "optional batch dimension (i.e. 2D or 3D inputs).")
    return _feature_dropout(input, p, training, inplace, input.ndim == 3)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, H, W) or (C, H, W) inputs with probability p (a 3-D input
    is read as (N, C, L), as torch does, with a warning)."""
    if input.ndim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is "
                      "deprecated and will result in an error in a future release. To retain "
                      "the behavior and silence this warning, please use dropout instead. Note "
                      "that dropout2d exists to provide channel-wise dropout on inputs with 2 "
                      "spatial dimensions, a channel dimension, and an optional batch dimension "
                      "(i.e. 3D or 4D inputs).", stacklevel=2)
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that "
                      "channel-wise 1D dropout behavior is desired - input is interpreted as "
                      "shape (N, C, L), where C is the channel dim. This behavior will change "
                      "in a future release to interpret the input as one without a batch "
                      "dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise dropout "
                      "behavior, please switch to using dropout1d instead.", stacklevel=2)
    return _feature_dropout(input, p, training, inplace, True)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) inputs with probability p."""
    if input.ndim not in (4, 5):
        warnings.warn(f"dropout3d: Received a {input.ndim}-D input to dropout3d, which is "
                      "deprecated and will result in an error in a future release. To retain "
                      "the behavior and silence this warning, please use dropout instead. Note "
                      "that dropout3d exists to provide channel-wise dropout on inputs with 3 "
                      "spatial dimensions, a channel dimension, and an optional batch dimension "
                      "(i.e. 4D or 5D inputs).", stacklevel=2)
    return _feature_dropout(input, p, training, inplace, input.ndim == 5)
