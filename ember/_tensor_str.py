"""Tensor printing in PyTorch's format: `tensor([1.0000, 2.5000], requires_grad=True)`."""
from __future__ import annotations

import numpy as np

from . import _dtype as D

_PRECISION = 4
_THRESHOLD = 1000
_EDGEITEMS = 3


def _float_formatter(values: np.ndarray):
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return lambda v: _special(v) or f"{v}"
    if np.all(finite == np.round(finite)) and np.abs(finite).max() < 1e8:
        width = max(len(f"{v:.0f}.") for v in finite)
        fmt = lambda v: _special(v) or f"{v:.0f}."  # noqa: E731
    else:
        amax, amin = np.abs(finite).max(), np.abs(finite[finite != 0]).min() \
            if np.any(finite != 0) else 0.0
        sci = amax > 1e8 or (amin != 0 and (amin < 1e-4 or amax / amin > 1000))
        if sci:
            fmt = lambda v: _special(v) or f"{v:.{_PRECISION}e}"  # noqa: E731
        else:
            fmt = lambda v: _special(v) or f"{v:.{_PRECISION}f}"  # noqa: E731
        width = max(len(fmt(v)) for v in finite)
    specials = [len(_special(v)) for v in values.ravel() if not np.isfinite(v)]
    width = max([width] + specials)
    return lambda v: fmt(v).rjust(width)


def _special(v) -> str:
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return ""


def _formatter(arr: np.ndarray):
    if arr.dtype.kind == "b":
        return lambda v: str(bool(v)).rjust(5 if arr.size > 1 and not arr.all() else 4)
    if arr.dtype.kind in "iu":
        width = max((len(str(v)) for v in arr.ravel()), default=1)
        return lambda v: str(v).rjust(width)
    if arr.dtype.kind == "c":
        return lambda v: f"{v.real:.4f}{v.imag:+.4f}j"
    return _float_formatter(arr.astype(np.float64))


def _summarize(arr: np.ndarray) -> np.ndarray:
    if arr.size <= _THRESHOLD:
        return arr
    for d in range(arr.ndim):
        if arr.shape[d] > 2 * _EDGEITEMS:
            idx = list(range(_EDGEITEMS)) + list(range(arr.shape[d] - _EDGEITEMS, arr.shape[d]))
            arr = np.take(arr, idx, axis=d)
    return arr


def _render(arr: np.ndarray, fmt, indent: int, full_shape, summarize: bool) -> str:
    if arr.ndim == 0:
        return fmt(arr.item() if arr.dtype.kind != "f" else float(arr))
    if arr.ndim == 1:
        items = [fmt(v) for v in (arr.tolist() if arr.dtype.kind != "f" else arr.astype(float))]
        if summarize and full_shape[0] > 2 * _EDGEITEMS:
            items = items[:_EDGEITEMS] + ["..."] + items[-_EDGEITEMS:]
        return "[" + ", ".join(items) + "]"
    rows = [_render(sub, fmt, indent + 1, full_shape[1:], summarize) for sub in arr]
    if summarize and full_shape[0] > 2 * _EDGEITEMS:
        rows = rows[:_EDGEITEMS] + ["..."] + rows[-_EDGEITEMS:]
    sep = "," + "\n" * (arr.ndim - 1) + " " * (indent + 1)
    return "[" + sep.join(rows) + "]"


def tensor_repr(t) -> str:
    """The text of repr(t), matching torch's layout, suffixes and default-dtype omission."""
    arr = t.numpy(force=True)
    if t.dtype is D.bfloat16 or t.dtype is D.float16:
        arr = arr.astype(np.float32)
    summarize = arr.size > _THRESHOLD
    shown = _summarize(arr)
    suffixes = []
    if t.device.type != "cpu":
        suffixes.append(f"device='{t.device}'")
    if arr.size == 0:
        body = "[]"
        if arr.ndim != 1:
            suffixes.append(f"size={tuple(arr.shape)}")
    else:
        body = _render(shown, _formatter(shown), len("tensor("), arr.shape, summarize)
    implicit = (D.get_default_dtype(), D.int64, D.bool)
    if t.dtype not in implicit or (arr.size == 0 and t.dtype is not D.get_default_dtype()):
        suffixes.append(f"dtype={t.dtype}")
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return "tensor(" + ", ".join([body] + suffixes) + ")"
