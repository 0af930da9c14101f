"""ember.nn.attention: choose the kernels scaled_dot_product_attention may use.

ember has one implementation, so the choice never changes results; it decides, as torch does,
whether a call can run at all: on the CPU torch has the math kernel and a flash kernel with
limits (no dropout, 4-D inputs, one head size, a mask without gradient), and a call that no
allowed kernel supports raises.

    >>> import ember
    >>> from ember.nn.attention import SDPBackend, sdpa_kernel
    >>> q = ember.ones(1, 1, 2, 4)
    >>> with sdpa_kernel(SDPBackend.MATH):
    ...     ember.nn.functional.scaled_dot_product_attention(q, q, q).shape
    torch.Size([1, 1, 2, 4])
"""
from __future__ import annotations

import warnings
from typing import Iterable

from ...backends.cuda import SDPBackend, _sdp_backends, _sdp_enabled
from ..._tensor import Tensor

__all__ = ["SDPBackend", "sdpa_kernel"]

_NO_BACKEND = ("No viable backend for scaled_dot_product_attention was found. This is likely "
               "due to turning off both the math kernel and the fused kernels.")
_GPU_KERNELS = (SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION,
                SDPBackend.CUDNN_ATTENTION)


def sdpa_kernel(backends: SDPBackend | Iterable[SDPBackend], set_priority: bool = False):
    """A context manager inside which scaled_dot_product_attention may use only `backends`.

    Args:
        backends: one SDPBackend or a list of them.
        set_priority: try them in the given order (ember runs one implementation whichever
            is chosen, so the order has no effect on results).
    """
    if isinstance(backends, SDPBackend):
        backends = [backends]
    elif not isinstance(backends, (list, tuple)):
        raise AssertionError(f"Backend must be an instance of SDPBackend or a list of "
                             f"SDPBackend instances, got {type(backends).__name__}")
    return _sdp_backends({SDPBackend(b) for b in backends})


def _flash_refusal(query: Tensor, key: Tensor, value: Tensor, attn_mask, dropout_p: float):
    """Why torch's CPU flash kernel cannot run this call ('' when it has no message for it,
    None when it can run it)."""
    if dropout_p > 0.0:
        return "Both fused kernels do not support non-zero dropout."
    if not query.dim() == key.dim() == value.dim() == 4:
        return (f"All fused kernels requires query, key and value to be 4 dimensional, but got "
                f"Query dim: {query.dim()}, Key dim: {key.dim()}, Value dim: {value.dim()} "
                "instead.")
    if not query.shape[-1] == key.shape[-1] == value.shape[-1]:
        return (f"Flash attention requires q,k,v to have the same last dimension. Got "
                f"Query.size(-1): {query.shape[-1]}, Key.size(-1): {key.shape[-1]}, "
                f"Value.size(-1): {value.shape[-1]} instead.")
    if attn_mask is not None and attn_mask.requires_grad:
        return ""
    return None


def _require_allowed_kernel(query: Tensor, key: Tensor, value: Tensor, attn_mask,
                            dropout_p: float) -> None:
    """Raise as torch does when no enabled kernel can run this attention call."""
    if _sdp_enabled[SDPBackend.MATH]:
        return
    if query.device.type == "cuda":
        if not any(_sdp_enabled[b] for b in _GPU_KERNELS):
            raise RuntimeError(_NO_BACKEND)
        return
    if not _sdp_enabled[SDPBackend.FLASH_ATTENTION]:
        raise RuntimeError(_NO_BACKEND)
    reason = _flash_refusal(query, key, value, attn_mask, dropout_p)
    if reason is None:
        return
    warnings.warn("Flash attention kernel not used because:", stacklevel=3)
    if reason:
        warnings.warn(reason, stacklevel=3)
    raise RuntimeError("No available kernel.  Aborting execution.")
