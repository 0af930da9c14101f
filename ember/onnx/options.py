"""torch.onnx's export options that are enums or modes: TrainingMode, OperatorExportTypes,
select_model_mode_for_export, and is_in_onnx_export for models that branch on export."""
from __future__ import annotations

import contextlib
import enum


class TrainingMode(enum.IntEnum):
    """The mode a model is exported in: EVAL (the default), PRESERVE (as it is) or TRAINING
    (dropout draws noise, batch norm uses batch statistics)."""

    EVAL = 0
    PRESERVE = 1
    TRAINING = 2


class OperatorExportTypes(enum.IntEnum):
    """How torch.onnx exports ops; ember exports standard ONNX ops only (ONNX)."""

    ONNX = 0
    ONNX_ATEN = 1
    ONNX_ATEN_FALLBACK = 2
    ONNX_FALLTHROUGH = 3


_exporting = 0


def is_in_onnx_export() -> bool:
    """Whether ember.onnx.export is tracing the model now (models may take an export-friendly
    path, as with torch.onnx.is_in_onnx_export).

    >>> import ember
    >>> ember.onnx.is_in_onnx_export()
    False
    """
    return _exporting > 0


@contextlib.contextmanager
def exporting():
    """Mark the enclosed tracing as an export (is_in_onnx_export() is True inside)."""
    global _exporting
    _exporting += 1
    try:
        yield
    finally:
        _exporting -= 1


@contextlib.contextmanager
def select_model_mode_for_export(model, mode: TrainingMode):
    """Put `model` in the mode `mode` asks for while exporting and restore its mode after.

    >>> import ember
    >>> net = ember.nn.Dropout(0.5)
    >>> with ember.onnx.select_model_mode_for_export(net, ember.onnx.TrainingMode.EVAL):
    ...     net.training
    False
    >>> net.training
    True
    """
    if not isinstance(mode, TrainingMode):
        raise TypeError(f"'mode' should be a torch.onnx.TrainingMode enum, but got "
                        f"'{type(mode).__name__}'.")
    was_training = getattr(model, "training", None)
    if was_training is None or mode is TrainingMode.PRESERVE:
        yield
        return
    model.train(mode is TrainingMode.TRAINING)
    try:
        yield
    finally:
        model.train(was_training)
