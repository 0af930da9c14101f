"""ember.backends: torch.backends' switches for accelerator libraries (cuDNN, cuBLAS, MPS,
oneDNN) and for einsum's contraction planning (opt_einsum).

ember computes with NumPy (and CuPy), which have none of these libraries' algorithm choices;
the switches are kept so that the setup lines of ordinary PyTorch scripts
(`torch.backends.cudnn.benchmark = True`, `torch.backends.mps.is_available()`) run and read
back what they set.

    >>> import ember
    >>> ember.backends.cudnn.benchmark = True
    >>> ember.backends.mps.is_available()
    False
"""
from . import cuda, cudnn, mkldnn, mps, opt_einsum  # noqa: F401
