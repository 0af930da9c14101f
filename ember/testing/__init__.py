"""Test support shared by ember's suite: sample specs for the op registry, comparisons."""
from .comparison import assert_close, make_tensor

__all__ = ["assert_close", "make_tensor"]
