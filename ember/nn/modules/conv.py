"""Convolutions (Conv1d/2d/3d, ConvTranspose) and their Lazy forms."""
from __future__ import annotations

__all__: list[str] = []
