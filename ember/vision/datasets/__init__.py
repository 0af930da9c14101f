"""Datasets bundled with ember, usable offline."""
from .digits import Digits

__all__ = ["Digits"]
