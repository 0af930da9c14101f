"""Set the memory layout of convolution weights (channels_last for NHWC kernels)."""
from __future__ import annotations

from ..modules.conv import Conv2d, Conv3d, ConvTranspose2d, ConvTranspose3d
from ..modules.module import Module

__all__ = ["convert_conv2d_weight_memory_format", "convert_conv3d_weight_memory_format"]


def _convert(module: Module, memory_format, kinds: tuple) -> Module:
    """Re-lay the weight of every module of `kinds` in `module` (itself included)."""
    for m in module.modules():
        if isinstance(m, kinds):
            m.weight.data = m.weight.detach().clone(memory_format=memory_format)
    return module


def convert_conv2d_weight_memory_format(module: Module, memory_format) -> Module:
    """`module`, with the weight of every Conv2d and ConvTranspose2d in it (itself included)
    laid out in `memory_format` (ember.channels_last or ember.contiguous_format).

    >>> import ember
    >>> net = ember.nn.Sequential(ember.nn.Conv2d(3, 4, 2))
    >>> net = ember.nn.utils.convert_conv2d_weight_memory_format(net, ember.channels_last)
    >>> net[0].weight.stride()
    (12, 1, 6, 3)
    """
    return _convert(module, memory_format, (Conv2d, ConvTranspose2d))


def convert_conv3d_weight_memory_format(module: Module, memory_format) -> Module:
    """`module`, with the weight of every Conv3d and ConvTranspose3d in it (itself included)
    laid out in `memory_format` (ember.channels_last_3d or ember.contiguous_format)."""
    return _convert(module, memory_format, (Conv3d, ConvTranspose3d))
