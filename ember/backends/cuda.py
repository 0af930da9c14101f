"""torch.backends.cuda: cuBLAS precision switches and the scaled-dot-product-attention kernel
flags. ember's products are full precision whatever is set; the precision values are kept for
code that reads them back. The attention flags decide, as in torch, whether a call to
scaled_dot_product_attention has a kernel allowed to run it (see ember.nn.attention)."""
from __future__ import annotations

import contextlib
import enum
import warnings
from typing import Iterator

from .. import cuda as _cuda
from .._ops import misc as _misc


class _CuBLASFlags:
    """`torch.backends.cuda.matmul`: `allow_tf32` is the legacy form of
    set_float32_matmul_precision ('highest' when False, 'high' when True), as in torch."""

    allow_fp16_reduced_precision_reduction = True
    allow_bf16_reduced_precision_reduction = True

    @property
    def allow_tf32(self) -> bool:
        return _misc.get_float32_matmul_precision() != "highest"

    @allow_tf32.setter
    def allow_tf32(self, value: bool) -> None:
        _misc.set_float32_matmul_precision("high" if value else "highest")


matmul = _CuBLASFlags()


class SDPBackend(enum.IntEnum):
    """The kernels of scaled_dot_product_attention, as torch numbers them (ember computes every
    one of them with the same NumPy/CuPy code; the flags decide what may run)."""

    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4

    __str__ = enum.Enum.__str__


# Which scaled_dot_product_attention kernels are enabled (all by default, as in torch).
_sdp_enabled = {b: True for b in SDPBackend if b is not SDPBackend.ERROR}
_sdp_reduction = {"fp16_bf16_math": False}


@contextlib.contextmanager
def _sdp_backends(enabled) -> Iterator[None]:
    """Enable exactly the backends in `enabled` inside the block, restoring the flags after."""
    saved = dict(_sdp_enabled)
    for backend in _sdp_enabled:
        _sdp_enabled[backend] = backend in enabled
    try:
        yield
    finally:
        _sdp_enabled.update(saved)


def sdp_kernel(enable_flash: bool = True, enable_math: bool = True,
               enable_mem_efficient: bool = True, enable_cudnn: bool = True):
    """Deprecated form of ember.nn.attention.sdpa_kernel: enable the named kernels only."""
    warnings.warn("`torch.backends.cuda.sdp_kernel()` is deprecated. In the future, this context "
                  "manager will be removed. Please see `torch.nn.attention.sdpa_kernel()` for "
                  "the new context manager, with updated signature.", FutureWarning,
                  stacklevel=2)
    chosen = {SDPBackend.FLASH_ATTENTION: enable_flash, SDPBackend.MATH: enable_math,
              SDPBackend.EFFICIENT_ATTENTION: enable_mem_efficient,
              SDPBackend.CUDNN_ATTENTION: enable_cudnn}
    return _sdp_backends([b for b, on in chosen.items() if on])


def is_built() -> bool:
    """Whether ember can run on NVIDIA GPUs here (CuPy sees one)."""
    return _cuda.is_available()


def flash_sdp_enabled() -> bool:
    return _sdp_enabled[SDPBackend.FLASH_ATTENTION]


def enable_flash_sdp(enabled: bool) -> None:
    _sdp_enabled[SDPBackend.FLASH_ATTENTION] = bool(enabled)


def mem_efficient_sdp_enabled() -> bool:
    return _sdp_enabled[SDPBackend.EFFICIENT_ATTENTION]


def enable_mem_efficient_sdp(enabled: bool) -> None:
    _sdp_enabled[SDPBackend.EFFICIENT_ATTENTION] = bool(enabled)


def math_sdp_enabled() -> bool:
    return _sdp_enabled[SDPBackend.MATH]


def enable_math_sdp(enabled: bool) -> None:
    _sdp_enabled[SDPBackend.MATH] = bool(enabled)


def cudnn_sdp_enabled() -> bool:
    return _sdp_enabled[SDPBackend.CUDNN_ATTENTION]


def enable_cudnn_sdp(enabled: bool) -> None:
    _sdp_enabled[SDPBackend.CUDNN_ATTENTION] = bool(enabled)


def fp16_bf16_reduction_math_sdp_allowed() -> bool:
    """Whether the math kernel may reduce in half precision (ember always reduces in float32
    or wider)."""
    return _sdp_reduction["fp16_bf16_math"]


def allow_fp16_bf16_reduction_math_sdp(enabled: bool) -> None:
    _sdp_reduction["fp16_bf16_math"] = bool(enabled)
