"""torch.cuda.amp: the deprecated CUDA spellings of ember.amp's autocast and GradScaler, still
common in training scripts (`from torch.cuda.amp import autocast, GradScaler`); without a GPU
the GradScaler disables itself, as torch's does."""
from __future__ import annotations

from .. import _dtype as D
from ..amp._device_spellings import device_amp_classes

__all__ = ["GradScaler", "autocast"]

autocast, GradScaler = device_amp_classes("cuda", D.float16)
