"""ONNX lowerings of the registry ops, one module per op family; importing them attaches each
lowering to its OpDef."""
from __future__ import annotations

from . import indexing, linalg, misc, nn, pointwise, reduction, rnn, shape, sorting
