"""custom_fwd and custom_bwd (torch.amp): decorators for the forward and backward of a custom
autograd.Function, so its backward runs under the autocast state its forward saw, or its
forward runs in one dtype outside autocast (cast_inputs)."""
from __future__ import annotations

import functools

from .. import _dtype as D
from .._tensor import Tensor
from .autocast_mode import autocast, get_autocast_dtype, is_autocast_enabled

__all__ = ["custom_bwd", "custom_fwd"]


def _check_device_type(device_type) -> None:
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")


def _cast(value, device_type: str, dtype):
    """`value` with its floating tensors on `device_type` (float64 aside) cast to `dtype`,
    looking inside lists, tuples and dicts."""
    if isinstance(value, Tensor):
        eligible = (value.is_floating_point() and value.device.type == device_type
                    and value.dtype is not D.float64)
        return value.to(dtype) if eligible else value
    if isinstance(value, dict):
        return {k: _cast(v, device_type, dtype) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast(v, device_type, dtype) for v in value)
    return value


def custom_fwd(fwd=None, *, device_type: str, cast_inputs=None):
    """Decorate a custom Function's forward: it records the autocast state for custom_bwd, or,
    with `cast_inputs` inside an autocast region, runs with autocast off on its floating
    inputs cast to `cast_inputs`.

    >>> import ember
    >>> class Square(ember.autograd.Function):
    ...     @staticmethod
    ...     @ember.amp.custom_fwd(device_type="cpu", cast_inputs=ember.float32)
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x @ x
    ...     @staticmethod
    ...     @ember.amp.custom_bwd(device_type="cpu")
    ...     def backward(ctx, g):
    ...         (x,) = ctx.saved_tensors
    ...         return g @ x.T + x.T @ g
    >>> with ember.autocast("cpu"):
    ...     Square.apply(ember.ones(2, 2)).dtype
    torch.float32
    """
    _check_device_type(device_type)
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def forward(ctx, *args, **kwargs):
        ctx._dtype = get_autocast_dtype(device_type)
        enabled = is_autocast_enabled(device_type)
        if cast_inputs is None or not enabled:
            ctx._fwd_used_autocast = enabled and cast_inputs is None
            return fwd(ctx, *args, **kwargs)
        ctx._fwd_used_autocast = False
        with autocast(device_type, enabled=False):
            return fwd(ctx, *_cast(args, device_type, cast_inputs),
                       **_cast(kwargs, device_type, cast_inputs))
    return forward


def custom_bwd(bwd=None, *, device_type: str):
    """Decorate a custom Function's backward (under custom_fwd): it runs under the autocast
    state, and dtype, its forward ran under."""
    _check_device_type(device_type)
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def backward(ctx, *args, **kwargs):
        with autocast(device_type, enabled=ctx._fwd_used_autocast, dtype=ctx._dtype):
            return bwd(ctx, *args, **kwargs)
    return backward
