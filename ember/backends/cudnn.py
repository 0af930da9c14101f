"""torch.backends.cudnn's flags. ember has no cuDNN: `is_available()` is False, the flags are
plain module attributes that scripts set and read back."""
from __future__ import annotations

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    """False: ember's convolutions run on NumPy/CuPy, not cuDNN."""
    return False


def version() -> int | None:
    """None, as torch reports without cuDNN."""
    return None
