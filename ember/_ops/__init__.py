"""The op families. Importing this package registers every OpDef and attaches Tensor methods."""
from . import creation, pointwise, reduction, shape  # noqa: F401
from .registry import REGISTRY, OpDef, register  # noqa: F401
