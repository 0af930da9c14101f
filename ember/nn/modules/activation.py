"""Activation modules (ReLU, GELU, Softmax, ...)."""
from __future__ import annotations

__all__: list[str] = []
