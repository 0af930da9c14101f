"""ember.utils.dlpack: exchange tensors with other array libraries through DLPack.

    >>> import numpy as np, ember
    >>> ember.utils.dlpack.from_dlpack(np.arange(2))
    tensor([0, 1])
"""
import enum

from .._torch_functions import from_dlpack, to_dlpack

__all__ = ["DLDeviceType", "from_dlpack", "to_dlpack"]


class DLDeviceType(enum.IntEnum):
    """The device codes of the DLPack standard (what `__dlpack_device__()[0]` returns)."""

    kDLCPU = 1
    kDLCUDA = 2
    kDLCUDAHost = 3
    kDLOpenCL = 4
    kDLVulkan = 7
    kDLMetal = 8
    kDLVPI = 9
    kDLROCM = 10
    kDLROCMHost = 11
    kDLExtDev = 12
    kDLCUDAManaged = 13
    kDLOneAPI = 14
    kDLWebGPU = 15
    kDLHexagon = 16
    kDLMAIA = 17
