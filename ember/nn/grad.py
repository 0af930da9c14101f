"""ember.nn.grad: the gradients of a convolution in its input and in its weight, given the
gradient of its output (torch.nn.grad), computed by the ops convolution's own backward uses.

    >>> import ember
    >>> x, w = ember.randn(1, 2, 5), ember.randn(3, 2, 3)
    >>> g = ember.ones(1, 3, 3)
    >>> ember.nn.grad.conv1d_input(x.shape, w, g).shape
    torch.Size([1, 2, 5])
"""
from __future__ import annotations

import operator
from collections.abc import Sequence

from .._ops.conv import ConvTranspose, ConvWeightGrad, _dtype_checks, _int_tuple, _positive
from .._ops.dispatch import apply
from .._tensor import Tensor

__all__ = ["conv1d_input", "conv1d_weight", "conv2d_input", "conv2d_weight", "conv3d_input",
           "conv3d_weight"]


def _geometry(stride, padding, dilation, groups, nd: int, op: str) -> tuple:
    """(stride, (lo, hi) pads, dilation, groups) checked as the convolutions check them."""
    stride = _int_tuple(stride, nd, "stride", op)
    pads = _int_tuple(padding, nd, "padding", op)
    dilation = _int_tuple(dilation, nd, "dilation", op)
    groups = operator.index(groups)
    _positive(stride, "stride")
    _positive(dilation, "dilation")
    _positive((groups,), "groups")
    if any(p < 0 for p in pads):
        raise RuntimeError("negative padding is not supported")
    return stride, tuple((p, p) for p in pads), dilation, groups


def _check_shapes(input_size: Sequence[int], weight_size: Sequence[int], grad_output: Tensor,
                  geometry: tuple, nd: int, op: str) -> None:
    """The sizes of the convolution's input and weight must be those that gave grad_output."""
    if not isinstance(grad_output, Tensor):
        raise TypeError(f"{op}(): argument 'grad_output' must be Tensor, not "
                        f"{type(grad_output).__name__}")
    input_size, weight_size = list(input_size), list(weight_size)
    stride, pads, dilation, groups = geometry
    if len(weight_size) != nd + 2:
        raise RuntimeError(f"{op}(): expected weight to be {nd + 2}-dimensional, but got weight "
                           f"of size {weight_size}")
    if len(input_size) != nd + 2:
        raise RuntimeError(f"Expected {nd + 2}-dimensional input for {nd + 2}-dimensional weight "
                           f"{weight_size}, but got {len(input_size)}-dimensional input of size "
                           f"{input_size} instead")
    if weight_size[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} "
                           f"at dimension 0, but got weight of size {weight_size} instead")
    if input_size[1] != weight_size[1] * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {weight_size}, expected input"
                           f"{input_size} to have {weight_size[1] * groups} channels, but got "
                           f"{input_size[1]} channels instead")
    expected = [input_size[0], weight_size[0]] + [
        (n + lo + hi - d * (k - 1) - 1) // s + 1 for n, k, s, (lo, hi), d in
        zip(input_size[2:], weight_size[2:], stride, pads, dilation)]
    got = list(grad_output.shape)
    if got != expected:
        dim = next((i for i, (e, g) in enumerate(zip(expected, got)) if e != g), 0)
        raise RuntimeError(f"Expected a tensor of dimension {nd + 2} and tensor.size[{dim}] == "
                           f"{expected[dim]} but got: dimension {len(got)} and "
                           f"tensor.size[{dim}] = {got[dim] if got else None}")


def _conv_input(input_size, weight: Tensor, grad_output: Tensor, stride, padding, dilation,
                groups, nd: int) -> Tensor:
    op = f"conv{nd}d_input"
    if not isinstance(weight, Tensor):
        raise TypeError(f"{op}(): argument 'weight' must be Tensor, not {type(weight).__name__}")
    geometry = _geometry(stride, padding, dilation, groups, nd, op)
    _check_shapes(input_size, weight.shape, grad_output, geometry, nd, op)
    _dtype_checks(grad_output, weight, None)
    stride, pads, dilation, groups = geometry
    return apply(ConvTranspose, grad_output, weight, None, stride=stride, padding=pads,
                 dilation=dilation, groups=groups, size=tuple(input_size[2:]))


def _conv_weight(input: Tensor, weight_size, grad_output: Tensor, stride, padding, dilation,
                 groups, nd: int) -> Tensor:
    op = f"conv{nd}d_weight"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(input).__name__}")
    geometry = _geometry(stride, padding, dilation, groups, nd, op)
    _check_shapes(input.shape, weight_size, grad_output, geometry, nd, op)
    _dtype_checks(input, grad_output, None)
    stride, pads, dilation, groups = geometry
    return apply(ConvWeightGrad, input, grad_output, kernel=tuple(weight_size[2:]),
                 stride=stride, padding=pads, dilation=dilation, groups=groups)


def conv1d_input(input_size, weight: Tensor, grad_output: Tensor, stride=1, padding=0,
                 dilation=1, groups=1) -> Tensor:
    """The gradient of conv1d with respect to its input, of shape `input_size` (N, C, L)."""
    return _conv_input(input_size, weight, grad_output, stride, padding, dilation, groups, 1)


def conv1d_weight(input: Tensor, weight_size, grad_output: Tensor, stride=1, padding=0,
                  dilation=1, groups=1) -> Tensor:
    """The gradient of conv1d with respect to its weight, of shape `weight_size`."""
    return _conv_weight(input, weight_size, grad_output, stride, padding, dilation, groups, 1)


def conv2d_input(input_size, weight: Tensor, grad_output: Tensor, stride=1, padding=0,
                 dilation=1, groups=1) -> Tensor:
    """The gradient of conv2d with respect to its input, of shape `input_size` (N, C, H, W)."""
    return _conv_input(input_size, weight, grad_output, stride, padding, dilation, groups, 2)


def conv2d_weight(input: Tensor, weight_size, grad_output: Tensor, stride=1, padding=0,
                  dilation=1, groups=1) -> Tensor:
    """The gradient of conv2d with respect to its weight, of shape `weight_size`."""
    return _conv_weight(input, weight_size, grad_output, stride, padding, dilation, groups, 2)


def conv3d_input(input_size, weight: Tensor, grad_output: Tensor, stride=1, padding=0,
                 dilation=1, groups=1) -> Tensor:
    """The gradient of conv3d with respect to its input, of shape `input_size` (N, C, D, H, W)."""
    return _conv_input(input_size, weight, grad_output, stride, padding, dilation, groups, 3)


def conv3d_weight(input: Tensor, weight_size, grad_output: Tensor, stride=1, padding=0,
                  dilation=1, groups=1) -> Tensor:
    """The gradient of conv3d with respect to its weight, of shape `weight_size`."""
    return _conv_weight(input, weight_size, grad_output, stride, padding, dilation, groups, 3)
