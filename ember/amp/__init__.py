"""`ember.amp`: automatic mixed precision. `autocast` runs matrix products and convolutions in
a lower-precision dtype (bfloat16 on the CPU, float16 on CUDA) and losses in float32;
`GradScaler` scales the loss so float16 gradients do not underflow, and skips the steps whose
gradients overflow; `custom_fwd`/`custom_bwd` carry autocast into custom autograd Functions."""
from __future__ import annotations

from .autocast_mode import *  # noqa: F401,F403
from .autocast_mode import __all__ as _autocast_names
from .custom_function import custom_bwd, custom_fwd
from .grad_scaler import GradScaler

__all__ = ["GradScaler", "custom_bwd", "custom_fwd", *_autocast_names]
