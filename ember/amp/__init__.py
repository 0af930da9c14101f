"""`ember.amp`: automatic mixed precision. `autocast` runs matrix products and convolutions in
a lower-precision dtype (bfloat16 on the CPU, float16 on CUDA) and losses in float32;
`GradScaler` scales the loss so float16 gradients do not underflow, and skips the steps whose
gradients overflow."""
from __future__ import annotations

from .autocast_mode import *  # noqa: F401,F403
from .autocast_mode import __all__ as _autocast_names
from .grad_scaler import GradScaler

__all__ = ["GradScaler", *_autocast_names]
