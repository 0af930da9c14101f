"""Normalization: batch_norm, instance_norm, layer_norm, group_norm, rms_norm,
local_response_norm and normalize (layer_norm and batch_norm are single ops; the others are
composed from them)."""
from __future__ import annotations

from ... import _dtype as D
from ..._ops.creation import zeros
from ..._ops.dispatch import apply, write_out
from ..._ops.linalg import vector_norm
from ..._ops.nn_ops import BatchNorm, LayerNorm
from ..._ops.registry import name_node
from ..._ops.shape import cat
from ..._tensor import Tensor
from ...autograd.grad_mode import no_grad

__all__ = ["batch_norm", "instance_norm", "layer_norm", "group_norm", "rms_norm",
           "local_response_norm", "normalize"]


def _check_stat(name: str, stat: Tensor | None, channels: int) -> None:
    if stat is not None and stat.numel() != channels:
        raise RuntimeError(f"{name} should contain {channels} elements not {stat.numel()}")


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalize each channel (dim 1) over the batch and spatial dims, then scale and shift.

    In training the batch statistics are used and the running ones, when given, move toward
    them by `momentum` (the variance unbiased); otherwise the running statistics are used.

    >>> import ember
    >>> x = ember.tensor([[1.0], [3.0]])
    >>> ember.nn.functional.batch_norm(x, None, None, training=True)
    tensor([[-1.0000],
            [ 1.0000]])
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected a 2D or higher input (N, C, ...), got "
                         f"{input.ndim}D input")
    channels = input.shape[1]
    if training:
        if input.numel() // max(channels, 1) == 1:
            raise ValueError("Expected more than 1 value per channel when training, got input "
                             f"size {input.shape}")
    elif running_mean is None or running_var is None:
        raise RuntimeError(f"running_{'mean' if running_mean is None else 'var'} must be "
                           "defined in evaluation mode")
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        _check_stat(name, t, channels)
    return apply(BatchNorm, input, weight, bias, running_mean, running_var, training=training,
                 momentum=momentum, eps=eps)


def instance_norm(input: Tensor, running_mean: Tensor | None = None,
                  running_var: Tensor | None = None, weight: Tensor | None = None,
                  bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalize each (sample, channel) slice over its spatial dims.

    With use_input_stats the slice statistics are used (and averaged over the batch into the
    running statistics, when given); otherwise the running statistics are.
    """
    if input.ndim < 3:
        raise ValueError(f"instance_norm: expected a 3D or higher input (N, C, ...), got "
                         f"{input.ndim}D input")
    if use_input_stats and input[0, 0].numel() == 1:
        raise ValueError("Expected more than 1 spatial element when training, got input size "
                         f"{input.shape}")
    if not use_input_stats and (running_mean is None or running_var is None):
        raise RuntimeError("Expected running_mean and running_var to be defined when "
                           "use_input_stats is false")
    batch, channels = input.shape[:2]
    folded = input.reshape((1, batch * channels) + tuple(input.shape[2:]))

    def tiled(t):
        return None if t is None else t.repeat(batch)

    rm, rv = tiled(running_mean), tiled(running_var)
    out = batch_norm(folded, rm, rv, tiled(weight), tiled(bias), use_input_stats, momentum, eps)
    if use_input_stats:
        with no_grad():
            for stat, tiled_stat in ((running_mean, rm), (running_var, rv)):
                if stat is not None:
                    stat.copy_(tiled_stat.reshape(batch, channels).mean(0))
    return out.reshape(input.shape)


def _check_normalized_shape(input: Tensor, normalized_shape, op: str) -> tuple:
    if not isinstance(normalized_shape, (tuple, list)) and not hasattr(normalized_shape,
                                                                        "__len__"):
        raise TypeError(f"{op}(): argument 'normalized_shape' (position 2) must be tuple of "
                        f"ints, not {type(normalized_shape).__name__}")
    shape = tuple(int(s) for s in normalized_shape)
    if not shape or tuple(input.shape[input.ndim - len(shape):]) != shape or \
            len(shape) > input.ndim:
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape "
                           f"[*, {', '.join(str(s) for s in shape)}], but got input of size"
                           f"{list(input.shape)}")
    return shape


def _check_param(name: str, t: Tensor | None, shape: tuple) -> None:
    if t is not None and tuple(t.shape) != shape:
        raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but got "
                           f"{name} of shape {t.shape} and normalized_shape = {list(shape)}")


def _check_affine_dtypes(input: Tensor, *params) -> None:
    """torch's rule for a normalization's affine parameters on the CPU: the input's dtype, or
    float32 beside bfloat16/float16 input (mixed precision); nothing else mixes."""
    for p in params:
        if p is None or p.dtype is input.dtype:
            continue
        if input.dtype in (D.bfloat16, D.float16) and p.dtype is D.float32:
            continue
        if input.dtype is D.float64:
            raise RuntimeError("mixed dtype (CPU): all inputs must share same datatype.")
        raise RuntimeError("mixed dtype (CPU): expect parameter to have scalar type of Float")


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalize over the trailing dims `normalized_shape` (biased variance), then scale and
    shift elementwise.

    >>> import ember
    >>> ember.nn.functional.layer_norm(ember.tensor([[1.0, 3.0]]), (2,))
    tensor([[-1.0000,  1.0000]])
    """
    shape = _check_normalized_shape(input, normalized_shape, "layer_norm")
    _check_param("weight", weight, shape)
    _check_param("bias", bias, shape)
    _check_affine_dtypes(input, weight, bias)
    return apply(LayerNorm, input, weight, bias, ndim=len(shape), eps=eps)


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalize each sample over groups of channels (and the spatial dims), then scale and
    shift per channel. The result keeps the input's dtype, as torch's does when bfloat16 or
    float16 activations meet float32 affine parameters (under autocast, say)."""
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received "
                           f"{input.ndim}")
    batch, channels = input.shape[:2]
    if channels % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by "
                           f"num_groups, but got input of shape {list(input.shape)} and "
                           f"num_groups={num_groups}")
    _check_affine_dtypes(input, weight, bias)
    grouped = input.reshape(batch, num_groups, -1)
    out = apply(LayerNorm, grouped, None, None, ndim=1, eps=eps).reshape(input.shape)
    view = (channels,) + (1,) * (input.ndim - 2)
    if weight is not None:
        out = out * weight.reshape(view)
    if bias is not None:
        out = out + bias.reshape(view)
    return name_node(out.to(input.dtype), "NativeGroupNormBackward0")


def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """x / sqrt(mean(x^2) + eps) over the trailing dims, times weight; eps defaults to the
    dtype's machine epsilon. The result keeps the input's dtype whatever the weight's, as
    torch's does."""
    shape = _check_normalized_shape(input, normalized_shape, "rms_norm")
    _check_param("weight", weight, shape)
    if eps is None:
        eps = D.finfo(input.dtype).eps
    dims = tuple(range(-len(shape), 0))
    out = input * ((input * input).mean(dims, keepdim=True) + eps).rsqrt()
    return out if weight is None else (out * weight).to(input.dtype)


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> Tensor:
    """x / (k + alpha * mean of x^2 over a window of `size` channels) ** beta; the window
    is zero-padded (size // 2 before, (size - 1) // 2 after)."""
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {input.ndim} "
                         "dimensions)")
    if input.numel() == 0:
        return input
    square = input * input
    before, after = size // 2, (size - 1) // 2
    pad_shape = list(input.shape)
    parts = []
    for n in (before, after):
        pad_shape[1] = n
        parts.append(zeros(*pad_shape, dtype=input.dtype, device=input.device))
    padded = cat([parts[0], square, parts[1]], 1)
    channels = input.shape[1]
    window = padded[:, 0:channels]
    for s in range(1, size):
        window = window + padded[:, s:s + channels]
    return input / (window * (alpha / size) + k) ** beta


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,
              out: Tensor | None = None) -> Tensor:
    """input divided by its p-norm along dim (the norm clamped below at eps).

    >>> import ember
    >>> ember.nn.functional.normalize(ember.tensor([[3.0, 4.0]]))
    tensor([[0.6000, 0.8000]])
    """
    denom = vector_norm(input, p, dim, True).clamp_min(eps).expand_as(input)
    return write_out(input / denom, out)
