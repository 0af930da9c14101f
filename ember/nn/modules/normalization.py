"""BatchNorm, LayerNorm, GroupNorm, InstanceNorm, RMSNorm, LocalResponseNorm."""
from __future__ import annotations

__all__: list[str] = []
