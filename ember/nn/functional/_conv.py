"""Convolution, pooling, padding, resampling, fold/unfold."""
from __future__ import annotations

__all__: list[str] = []
