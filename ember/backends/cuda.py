"""torch.backends.cuda: cuBLAS precision switches and the scaled-dot-product-attention kernel
flags. ember's products are full precision whatever is set; the values are kept for code that
reads them back."""
from __future__ import annotations

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
_sdp_enabled = {"flash": True, "mem_efficient": True, "math": True}


def is_built() -> bool:
    """Whether ember can run on NVIDIA GPUs here (CuPy sees one)."""
    return _cuda.is_available()


def flash_sdp_enabled() -> bool:
    return _sdp_enabled["flash"]


def enable_flash_sdp(enabled: bool) -> None:
    _sdp_enabled["flash"] = bool(enabled)


def mem_efficient_sdp_enabled() -> bool:
    return _sdp_enabled["mem_efficient"]


def enable_mem_efficient_sdp(enabled: bool) -> None:
    _sdp_enabled["mem_efficient"] = bool(enabled)


def math_sdp_enabled() -> bool:
    return _sdp_enabled["math"]


def enable_math_sdp(enabled: bool) -> None:
    _sdp_enabled["math"] = bool(enabled)
