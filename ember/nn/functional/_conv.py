"""Convolution, pooling, padding, resampling, fold/unfold: the functional forms.

The ops live in ember/_ops/conv.py (registered there so the generated suite tests them); this
module gives them their torch.nn.functional names.
"""
from __future__ import annotations

from ..._ops.conv import (_adaptive_max, adaptive_avg_pool1d, adaptive_avg_pool2d,
                          adaptive_avg_pool3d, adaptive_max_pool1d_with_indices,
                          adaptive_max_pool2d, adaptive_max_pool2d_with_indices,
                          adaptive_max_pool3d, adaptive_max_pool3d_with_indices, affine_grid,
                          avg_pool1d, avg_pool2d, avg_pool3d, channel_shuffle, conv1d, conv2d,
                          conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d, fold,
                          grid_sample, interpolate, lp_pool1d, lp_pool2d, lp_pool3d,
                          max_pool1d, max_pool1d_with_indices,
                          max_pool2d, max_pool2d_with_indices, max_pool3d,
                          max_pool3d_with_indices, max_unpool1d, max_unpool2d, max_unpool3d, pad,
                          pixel_shuffle, pixel_unshuffle, unfold, upsample, upsample_bilinear,
                          upsample_nearest)

native_channel_shuffle = channel_shuffle


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """1-D adaptive max pooling (and the argmax indices with return_indices)."""
    return _adaptive_max(input, output_size, return_indices, 1, "adaptive_max_pool1d")

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices",
           "max_pool2d_with_indices", "max_pool3d_with_indices", "avg_pool1d", "avg_pool2d",
           "avg_pool3d", "lp_pool1d", "lp_pool2d", "lp_pool3d", "adaptive_avg_pool1d",
           "adaptive_avg_pool2d", "adaptive_avg_pool3d",
           "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
           "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
           "adaptive_max_pool3d_with_indices", "max_unpool1d", "max_unpool2d", "max_unpool3d",
           "unfold", "fold", "pad", "interpolate", "upsample", "upsample_nearest",
           "upsample_bilinear", "pixel_shuffle", "pixel_unshuffle", "channel_shuffle",
           "native_channel_shuffle", "grid_sample", "affine_grid"]
