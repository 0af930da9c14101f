"""Errors raised while exporting to ONNX."""
from __future__ import annotations


class OnnxExporterError(RuntimeError):
    """Base class of the errors ember.onnx.export raises for a model it cannot export."""


class UnsupportedOperatorError(OnnxExporterError):
    """An op (or one of its attributes) has no ONNX lowering at the requested opset.

    Attributes: `op` (registry name), `opset` (the one requested), `opsets` (the range that
    would support it, or None), `source` ("file:line in function: code" of the model line that
    produced the op, when known) and `reason`.
    """

    def __init__(self, op: str, reason: str, opset: int | None = None,
                 opsets: tuple[int, int] | None = None, source: str | None = None):
        self.op = op
        self.reason = reason
        self.opset = opset
        self.opsets = opsets
        self.source = source
        super().__init__(self._message())

    def _message(self) -> str:
        at = f" at opset {self.opset}" if self.opset is not None else ""
        text = f"ember.onnx.export: cannot export op '{self.op}'{at}: {self.reason}"
        if self.opsets is not None:
            lo, hi = self.opsets
            text += (f"; it is supported at opset {lo}" if lo == hi else
                     f"; it is supported at opsets {lo} to {hi}")
            if self.opset is not None and not lo <= self.opset <= hi:
                text += f" (pass opset_version={lo if self.opset < lo else hi})"
        if self.source:
            text += f"\n  produced by: {self.source}"
        return text

    def located(self, source: str | None, opset: int) -> "UnsupportedOperatorError":
        """The same error, naming the model line and opset of the node being lowered."""
        return UnsupportedOperatorError(self.op, self.reason, opset, self.opsets,
                                        source or self.source)


class Unsupported(Exception):
    """Raised inside a lowering: this call of the op cannot be expressed (`reason`), perhaps
    only at other opsets (`opsets`). The exporter turns it into UnsupportedOperatorError with
    the op's name and source line."""

    def __init__(self, reason: str, opsets: tuple[int, int] | None = None):
        super().__init__(reason)
        self.reason = reason
        self.opsets = opsets
