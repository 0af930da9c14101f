"""torch.cpu.amp: the deprecated CPU spellings of ember.amp's autocast and GradScaler, still
found in training scripts (`with torch.cpu.amp.autocast(): ...`)."""
from __future__ import annotations

from .. import _dtype as D
from ..amp._device_spellings import device_amp_classes

__all__ = ["GradScaler", "autocast"]

autocast, GradScaler = device_amp_classes("cpu", D.bfloat16)
