"""ember.onnx: export models to ONNX through each registry op's lowering.

    >>> import io, ember
    >>> model = ember.nn.Sequential(ember.nn.Linear(4, 8), ember.nn.ReLU())
    >>> f = io.BytesIO()
    >>> ember.onnx.export(model, (ember.randn(2, 4),), f, input_names=["x"],
    ...                   dynamic_axes={"x": {0: "batch"}})

Needs the `onnx` package (`pip install ember[onnx]`); importing ember.onnx does not.
"""
from __future__ import annotations

from . import ops as _ops
from .errors import OnnxExporterError, UnsupportedOperatorError
from .export import DEFAULT_OPSET, export
from .lowering import OPSETS, Lowering, lowering_of, lowers
from .options import (OperatorExportTypes, TrainingMode, is_in_onnx_export,
                      select_model_mode_for_export)
from .program import ONNXProgram

__all__ = ["export", "UnsupportedOperatorError", "OnnxExporterError", "lowers", "lowering_of",
           "Lowering", "OPSETS", "DEFAULT_OPSET", "TrainingMode", "OperatorExportTypes",
           "is_in_onnx_export", "select_model_mode_for_export", "ONNXProgram"]
