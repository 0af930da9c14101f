"""The op families. Importing this package registers every OpDef and attaches Tensor methods.

Each family module lists its public functions in `__all__`; ember/__init__.py re-exports them.
"""
from . import (copying, creation, indexing, linalg, pointwise, random, reduction,  # noqa: F401
               shape, sorting, conv, nn_ops, rnn_ops, misc, checks, spectral, lu,
               python_call, sizes)
from .registry import REGISTRY, OpDef, register  # noqa: F401

FAMILIES = (creation, random, pointwise, reduction, shape, indexing, linalg, sorting, copying,
            conv, nn_ops, rnn_ops, misc, checks, spectral, lu, python_call,
            sizes)
