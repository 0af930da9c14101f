"""torch.cuda.amp: the deprecated CUDA spellings of ember.amp's autocast and GradScaler, still
common in training scripts (`from torch.cuda.amp import autocast, GradScaler`); without a GPU
the GradScaler disables itself, as torch's does."""
from __future__ import annotations

import warnings

from .. import _dtype as D
from .. import amp
from ..amp._device_spellings import device_amp_classes

__all__ = ["GradScaler", "autocast", "custom_bwd", "custom_fwd"]

autocast, GradScaler = device_amp_classes("cuda", D.float16)


def custom_fwd(fwd=None, *, cast_inputs=None):
    """torch.cuda.amp.custom_fwd(args...): ember.amp.custom_fwd(args..., device_type='cuda'),
    with torch's FutureWarning."""
    warnings.warn("`torch.cuda.amp.custom_fwd(args...)` is deprecated. Please use "
                  "`torch.amp.custom_fwd(args..., device_type='cuda')` instead.", FutureWarning,
                  stacklevel=2)
    return amp.custom_fwd(fwd, device_type="cuda", cast_inputs=cast_inputs)


def custom_bwd(bwd=None):
    """torch.cuda.amp.custom_bwd(args...): ember.amp.custom_bwd(args..., device_type='cuda'),
    with torch's FutureWarning."""
    warnings.warn("`torch.cuda.amp.custom_bwd(args...)` is deprecated. Please use "
                  "`torch.amp.custom_bwd(args..., device_type='cuda')` instead.", FutureWarning,
                  stacklevel=2)
    return amp.custom_bwd(bwd, device_type="cuda")
