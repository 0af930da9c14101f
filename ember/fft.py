"""`ember.fft`: torch.fft's discrete Fourier transforms, with gradients.

    >>> import ember
    >>> x = ember.tensor([1., 2., 3., 4.])
    >>> ember.fft.irfft(ember.fft.rfft(x))
    tensor([1., 2., 3., 4.])

The implementations live in ember/_ops/spectral.py with the rest of the op registry.
"""
from __future__ import annotations

from ._ops.spectral import (fft, fft2, fftfreq, fftn, fftshift, hfft, hfft2, hfftn, ifft, ifft2,
                            ifftn, ifftshift, ihfft, ihfft2, ihfftn, irfft, irfft2, irfftn, rfft,
                            rfft2, rfftfreq, rfftn)

__all__ = ["fft", "fft2", "fftfreq", "fftn", "fftshift", "hfft", "hfft2", "hfftn", "ifft",
           "ifft2", "ifftn", "ifftshift", "ihfft", "ihfft2", "ihfftn", "irfft", "irfft2",
           "irfftn", "rfft", "rfft2", "rfftfreq", "rfftn"]
