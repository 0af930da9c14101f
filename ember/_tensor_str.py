"""Tensor printing in PyTorch's format: `tensor([1.0000, 2.5000], requires_grad=True)`.

The layout follows torch's rules exactly, so printed output can be compared with PyTorch's:
one width per tensor (fixed, integral `1.` or scientific notation, chosen from the nonzero
finite values), summarizing with `...` beyond `threshold` elements, wrapping rows at
`linewidth`, and suffixes for what the values do not show (device, dtype, grad).
"""
from __future__ import annotations

import contextlib
import dataclasses
import math

import numpy as np

from . import _dtype as D
from ._backend import to_numpy


@dataclasses.dataclass
class _PrintOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


PRINT_OPTS = _PrintOptions()

_PROFILES = {
    "default": {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80},
    "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80},
    "full": {"precision": 4, "threshold": math.inf, "edgeitems": 3, "linewidth": 80},
}


def set_printoptions(precision: int | None = None, threshold: float | None = None,
                     edgeitems: int | None = None, linewidth: int | None = None,
                     profile: str | None = None, sci_mode: bool | None = None) -> None:
    """Set how tensors print, as torch.set_printoptions does.

    Args:
        precision: digits after the decimal point (default 4).
        threshold: element count above which a tensor is summarized with `...` (default 1000).
        edgeitems: items kept at each end of a summarized dimension (default 3).
        linewidth: characters per line before rows wrap (default 80).
        profile: "default", "short" or "full" presets, overridden by the other arguments.
        sci_mode: True/False forces scientific notation on/off; None (the default, and what
            every call without it restores) lets each tensor choose.

    >>> import ember
    >>> ember.set_printoptions(precision=2)
    >>> ember.tensor([1.2345])
    tensor([1.23])
    >>> ember.set_printoptions(profile="default")
    """
    if profile is not None:
        for key, value in _PROFILES.get(profile, {}).items():
            setattr(PRINT_OPTS, key, value)
    for key, value in (("precision", precision), ("threshold", threshold),
                       ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if value is not None:
            setattr(PRINT_OPTS, key, value)
    PRINT_OPTS.sci_mode = sci_mode


def get_printoptions() -> dict:
    """The current print options as a dict (the keyword arguments of set_printoptions)."""
    return dataclasses.asdict(PRINT_OPTS)


@contextlib.contextmanager
def printoptions(**kwargs):
    """Context manager: set print options for the block, then restore the previous ones."""
    saved = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**saved)


class _Formatter:
    """Formats every value of one tensor (or of the real or imaginary parts) to one width.

    Floats are printed integral (`3.`) when every nonzero finite value is a whole number,
    in scientific notation when the magnitudes span more than 1000x, exceed 1e8 or (for
    non-integral values) fall below 1e-4, and in fixed notation otherwise.
    """

    def __init__(self, values: np.ndarray):
        values = values.reshape(-1)
        self.floating = values.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.width = 1
        precision = PRINT_OPTS.precision
        if not self.floating:
            self.width = max([1] + [len(str(v)) for v in values.tolist()])
        else:
            shown = values[np.isfinite(values) & (values != 0)].astype(np.float64)
            if not shown.size:
                return  # zeros and non-finite values only: integral form, sci_mode unused
            magnitude = np.abs(shown)
            low, high = float(magnitude.min()), float(magnitude.max())
            self.int_mode = bool(np.all(shown == np.ceil(shown)))
            if PRINT_OPTS.sci_mode is not None:
                self.sci_mode = PRINT_OPTS.sci_mode
            else:
                self.sci_mode = high / low > 1000.0 or high > 1.0e8 or (
                    not self.int_mode and low < 1.0e-4)
            numbers = shown.tolist()
            if self.sci_mode:
                self.width = max(len(f"{v:.{precision}e}") for v in numbers)
            elif self.int_mode:
                self.width = max(len(f"{v:.0f}") + 1 for v in numbers)
            else:
                self.width = max(len(f"{v:.{precision}f}") for v in numbers)

    def format(self, value) -> str:
        if not self.floating:
            text = str(value)
        elif self.sci_mode:
            text = f"{value:{self.width}.{PRINT_OPTS.precision}e}"
        elif self.int_mode:
            text = f"{value:.0f}" + ("" if math.isinf(value) or math.isnan(value) else ".")
        else:
            text = f"{value:.{PRINT_OPTS.precision}f}"
        return text.rjust(self.width)


class _Layout:
    """Renders a (summarized) host array with one formatter, or two for complex values."""

    def __init__(self, arr: np.ndarray, full_shape: tuple, summarize: bool):
        self.arr = arr
        self.full_shape = full_shape
        self.summarize = summarize
        if arr.dtype.kind == "c":
            self.real, self.imag = _Formatter(arr.real), _Formatter(arr.imag)
        else:
            self.real, self.imag = _Formatter(arr), None

    def value(self, v) -> str:
        if self.imag is None:
            return self.real.format(v)
        real = self.real.format(v.real)
        imag = (self.imag.format(v.imag) + "j").lstrip()
        return real + imag if imag[0] in "+-" else real + "+" + imag

    def _cut(self, axis: int) -> bool:
        """Whether `axis` lost its middle to summarizing (then it holds 2 * edgeitems items)."""
        return self.summarize and self.full_shape[axis] > 2 * PRINT_OPTS.edgeitems

    def render(self, arr: np.ndarray, axis: int, indent: int) -> str:
        if arr.ndim == 0:
            return self.value(arr.item())
        edge = PRINT_OPTS.edgeitems
        if arr.ndim == 1:
            return self._vector(arr, axis, indent, edge)
        parts = [self.render(sub, axis + 1, indent + 1) for sub in arr]
        if self._cut(axis):
            parts = parts[:edge] + ["..."] + parts[edge:]
        return "[" + ("," + "\n" * (arr.ndim - 1) + " " * (indent + 1)).join(parts) + "]"

    def _vector(self, arr: np.ndarray, axis: int, indent: int, edge: int) -> str:
        item_width = self.real.width + 2
        if self.imag is not None:
            item_width += self.imag.width + 1
        per_line = max(1, math.floor((PRINT_OPTS.linewidth - indent) / item_width))
        items = [self.value(v) for v in arr.tolist()]
        if self._cut(axis):
            items = items[:edge] + [" ..."] + items[edge:]
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _summarized(data, edge: int):
    """Only the first and last `edge` items along every axis longer than 2 * edge (on the
    tensor's own device, so a large GPU tensor is not copied to the host whole)."""
    for axis, size in enumerate(data.shape):
        if size > 2 * edge:
            keep = list(range(edge)) + list(range(size - edge, size))
            data = data.take(keep, axis=axis)
    return data


def _host(data, dtype) -> np.ndarray:
    arr = to_numpy(data)
    if dtype is D.bfloat16 or dtype is D.float16:
        arr = arr.astype(np.float32)
    return arr


def _body(t, indent: int) -> str:
    """The bracketed values of a non-empty tensor."""
    data = t._data
    summarize = data.size > PRINT_OPTS.threshold
    edge = PRINT_OPTS.edgeitems
    if summarize and data.ndim and not edge:
        return "[...]"
    if summarize:
        data = _summarized(data, edge)
    arr = _host(data, t._dtype)
    return _Layout(arr, t._data.shape, summarize).render(arr, 0, indent)


def _add_suffixes(text: str, suffixes: list, indent: int) -> str:
    """Append `, suffix` items, moving one to its own line when the line would pass linewidth."""
    out = [text]
    line = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if line + len(suffix) + 2 > PRINT_OPTS.linewidth:
            out.append(",\n" + " " * indent + suffix)
            line = indent + len(suffix)
        else:
            out.append(", " + suffix)
            line += len(suffix) + 2
    return "".join(out) + ")"


def _prefix(t) -> str:
    """`tensor(`, or the class name for a user's Tensor subclass (as torch prints them)."""
    cls = type(t)
    if cls.__module__.split(".")[0] == "ember":
        return "tensor("
    return cls.__name__ + "("


def tensor_repr(t) -> str:
    """The text of repr(t) and str(t), exactly as torch prints the same tensor."""
    prefix = _prefix(t)
    indent = len(prefix)
    suffixes = []
    if t._device.type != "cpu":
        suffixes.append(f"device='{t._device}'")
    default = D.get_default_dtype()
    if t._data.size == 0:
        if t._data.ndim != 1:
            suffixes.append(f"size={tuple(t._data.shape)}")
        if t._dtype is not default:
            suffixes.append(f"dtype={t._dtype}")
        body = "[]"
    else:
        if not PRINT_OPTS.edgeitems:
            suffixes.append(f"size={tuple(t._data.shape)}")
        complex_default = D.complex128 if default is D.float64 else D.complex64
        if t._dtype not in (default, complex_default, D.int64, D.bool):
            suffixes.append(f"dtype={t._dtype}")
        body = _body(t, indent)
    grad_fn = t.grad_fn
    if grad_fn is not None:
        suffixes.append(f"grad_fn=<{grad_fn.name()}>")
    elif t._requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, indent)
