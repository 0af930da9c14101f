"""Fold an eval-mode BatchNorm into the convolution or linear layer before it: one layer
computing what the pair computes, for faster inference."""
from __future__ import annotations

import copy

from ..._ops.creation import zeros_like
from ..._tensor import Tensor
from ..parameter import Parameter

__all__ = ["fuse_conv_bn_eval", "fuse_conv_bn_weights", "fuse_linear_bn_eval",
           "fuse_linear_bn_weights"]


def _check_eval(layer, bn) -> None:
    if layer.training or bn.training:
        raise AssertionError("Fusion only for eval!")


def _check_running_stats(bn) -> None:
    if bn.running_mean is None or bn.running_var is None:
        raise AssertionError("bn.running_mean and bn.running_var must not be None")


def _bn_scale(bn_rv: Tensor, bn_eps: float, bn_w: Tensor | None) -> Tensor:
    """What batch norm multiplies each channel by: weight / sqrt(running_var + eps)."""
    scale = (bn_rv + bn_eps).rsqrt()
    return scale if bn_w is None else bn_w * scale


def _fused_bias(bias: Tensor | None, dtype, bn_rm: Tensor, scale: Tensor,
                bn_b: Tensor | None) -> Parameter:
    """The bias of the fused layer: (bias - running_mean) * scale + bn bias, in `dtype`."""
    base = zeros_like(bn_rm) if bias is None else bias
    fused = (base - bn_rm) * scale
    if bn_b is not None:
        fused = fused + bn_b
    return Parameter(fused.to(dtype=dtype), base.requires_grad)


def fuse_conv_bn_weights(conv_w: Tensor, conv_b: Tensor | None, bn_rm: Tensor, bn_rv: Tensor,
                         bn_eps: float, bn_w: Tensor | None, bn_b: Tensor | None,
                         transpose: bool = False) -> tuple[Parameter, Parameter]:
    """The (weight, bias) of one convolution equal to convolution then eval-mode batch norm
    (`transpose` for a transposed convolution, whose output channels are weight dim 1).

    >>> import ember
    >>> w, b = ember.nn.utils.fuse_conv_bn_weights(ember.ones(2, 1, 1, 1), None,
    ...     ember.zeros(2), ember.full((2,), 4.0), 0.0, None, ember.ones(2))
    >>> w.flatten().tolist(), b.tolist()
    ([0.5, 0.5], [1.0, 1.0])
    """
    scale = _bn_scale(bn_rv, bn_eps, bn_w)
    shape = [1, -1] if transpose else [-1, 1]
    shape += [1] * (conv_w.ndim - 2)
    weight = Parameter((conv_w * scale.reshape(shape)).to(dtype=conv_w.dtype),
                       conv_w.requires_grad)
    bias_dtype = conv_w.dtype if conv_b is None else conv_b.dtype
    return weight, _fused_bias(conv_b, bias_dtype, bn_rm, scale, bn_b)


def fuse_conv_bn_eval(conv, bn, transpose: bool = False):
    """A copy of the eval-mode convolution `conv` that also applies the eval-mode batch norm
    `bn` after it.

    >>> import ember
    >>> conv, bn = ember.nn.Conv2d(3, 4, 3).eval(), ember.nn.BatchNorm2d(4).eval()
    >>> fused = ember.nn.utils.fuse_conv_bn_eval(conv, bn)
    >>> x = ember.randn(1, 3, 5, 5)
    >>> bool(ember.allclose(fused(x), bn(conv(x)), atol=1e-6))
    True
    """
    _check_eval(conv, bn)
    fused = copy.deepcopy(conv)
    _check_running_stats(bn)
    fused.weight, fused.bias = fuse_conv_bn_weights(fused.weight, fused.bias, bn.running_mean,
                                                    bn.running_var, bn.eps, bn.weight, bn.bias,
                                                    transpose)
    return fused


def fuse_linear_bn_weights(linear_w: Tensor, linear_b: Tensor | None, bn_rm: Tensor,
                           bn_rv: Tensor, bn_eps: float, bn_w: Tensor | None,
                           bn_b: Tensor | None) -> tuple[Parameter, Parameter]:
    """The (weight, bias) of one linear layer equal to linear then eval-mode batch norm over
    its output features.

    >>> import ember
    >>> w, b = ember.nn.utils.fuse_linear_bn_weights(ember.ones(2, 3), ember.ones(2),
    ...     ember.ones(2), ember.ones(2), 0.0, ember.full((2,), 2.0), ember.zeros(2))
    >>> w.tolist(), b.tolist()
    ([[2.0, 2.0, 2.0], [2.0, 2.0, 2.0]], [0.0, 0.0])
    """
    scale = _bn_scale(bn_rv, bn_eps, bn_w)
    weight = Parameter(linear_w * scale.unsqueeze(-1).to(dtype=linear_w.dtype),
                       linear_w.requires_grad)
    bias_dtype = linear_w.dtype if linear_b is None else linear_b.dtype
    return weight, _fused_bias(linear_b, bias_dtype, bn_rm, scale, bn_b)


def fuse_linear_bn_eval(linear, bn):
    """A copy of the eval-mode `linear` that also applies the eval-mode batch norm `bn` after
    it; bn must have linear.out_features features, or one.

    >>> import ember
    >>> lin, bn = ember.nn.Linear(3, 4).eval(), ember.nn.BatchNorm1d(4).eval()
    >>> x = ember.randn(2, 3)
    >>> bool(ember.allclose(ember.nn.utils.fuse_linear_bn_eval(lin, bn)(x), bn(lin(x))))
    True
    """
    _check_eval(linear, bn)
    fused = copy.deepcopy(linear)
    if linear.out_features != bn.num_features and bn.num_features != 1:
        raise AssertionError("To fuse, linear.out_features == bn.num_features or "
                             "bn.num_features == 1, got linear.out_features="
                             f"{linear.out_features} and bn.num_features={bn.num_features}")
    _check_running_stats(bn)
    fused.weight, fused.bias = fuse_linear_bn_weights(fused.weight, fused.bias,
                                                      bn.running_mean, bn.running_var, bn.eps,
                                                      bn.weight, bn.bias)
    return fused
