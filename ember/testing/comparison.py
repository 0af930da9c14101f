"""torch.testing's assert_close and make_tensor: what user test suites call to compare results.

assert_close walks tensors, numbers and nested sequences/mappings in step, checks each pair's
attributes (shape, dtype, device) and then its values within rtol/atol defaults chosen by dtype,
and reports the worst mismatch the way torch does."""
from __future__ import annotations

import collections.abc
import math
import numbers

import numpy as np

from .. import _dtype as D
from .._device import CPU
from .._tensor import Tensor

# (rtol, atol) by dtype; integers and bool compare exactly
_TOLERANCES = {D.float16: (1e-3, 1e-5), D.bfloat16: (1.6e-2, 1e-5), D.float32: (1.3e-6, 1e-5),
               D.float64: (1e-7, 1e-7), D.complex64: (1.3e-6, 1e-5),
               D.complex128: (1e-7, 1e-7)}


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None,
                 equal_nan=False, check_device=True, check_dtype=True, check_layout=True,
                 check_stride=False, msg=None):
    """Raise AssertionError unless `actual` and `expected` are close: |a - e| <= atol + rtol
    * |e| elementwise, after equal shapes (and dtypes, devices unless told not to check).
    Sequences and mappings compare item by item.

    >>> import ember
    >>> ember.testing.assert_close(ember.tensor([1., 2.]), ember.tensor([1., 2. + 1e-7]))
    """
    if (rtol is None) != (atol is None):
        raise ValueError(f"Both 'rtol' and 'atol' must be either specified or omitted, but got "
                         f"no {'rtol' if rtol is None else 'atol'}.")
    _compare(actual, expected, (), dict(rtol=rtol, atol=atol, equal_nan=equal_nan,
                                        check_device=check_device, check_dtype=check_dtype,
                                        check_stride=check_stride, msg=msg))


def _compare(actual, expected, path: tuple, options: dict) -> None:
    try:
        _compare_pair(actual, expected, path, options)
    except AssertionError as e:
        if options["msg"] is not None or not path or "The failure occurred" in str(e):
            raise
        where = "".join(f"[{k!r}]" for k in path)
        raise AssertionError(f"{e}\n\nThe failure occurred for item {where}") from None


def _compare_pair(actual, expected, path, options) -> None:
    if isinstance(expected, collections.abc.Mapping) and \
            isinstance(actual, collections.abc.Mapping):
        if set(actual) != set(expected):
            missing = [k for k in expected if k not in actual]
            extra = [k for k in actual if k not in expected]
            _fail(options, f"The keys of the mappings do not match:\nMissing keys in the actual "
                           f"mapping: {missing}\nAdditional keys in the actual mapping: {extra}")
        for key in expected:
            _compare(actual[key], expected[key], path + (key,), options)
        return
    if _is_sequence(expected) and _is_sequence(actual):
        if len(actual) != len(expected):
            _fail(options, f"The length of the sequences mismatch: {len(actual)} != "
                           f"{len(expected)}")
        for k, (a, e) in enumerate(zip(actual, expected)):
            _compare(a, e, path + (k,), options)
        return
    tensors = isinstance(actual, (Tensor, np.ndarray)), isinstance(expected, (Tensor, np.ndarray))
    if tensors == (True, True):
        _compare_tensors(_as_tensor(actual), _as_tensor(expected), options)
    elif not any(tensors) and _is_number(actual) and _is_number(expected):
        _compare_numbers(actual, expected, options)
    else:
        raise TypeError(f"No comparison pair was able to handle inputs of type "
                        f"{type(actual)} and {type(expected)}.")


def _is_sequence(x) -> bool:
    return isinstance(x, collections.abc.Sequence) and not isinstance(x, (str, bytes))


def _is_number(x) -> bool:
    return isinstance(x, (numbers.Number, np.generic)) and not isinstance(x, np.ndarray)


def _as_tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor._wrap(np.asarray(x),
                                                        D.from_numpy_dtype(x.dtype), CPU)


def _fail(options, message: str):
    raise AssertionError(options["msg"] if options["msg"] is not None else message)


def _compare_tensors(actual: Tensor, expected: Tensor, options) -> None:
    if tuple(actual.shape) != tuple(expected.shape):
        _fail(options, f"The values for attribute 'shape' do not match: {actual.shape} != "
                       f"{expected.shape}.")
    if options["check_device"] and actual.device != expected.device:
        _fail(options, f"The values for attribute 'device' do not match: {actual.device} != "
                       f"{expected.device}.")
    if options["check_dtype"] and actual.dtype is not expected.dtype:
        _fail(options, f"The values for attribute 'dtype' do not match: {actual.dtype} != "
                       f"{expected.dtype}.")
    if options["check_stride"] and actual.stride() != expected.stride():
        _fail(options, f"The values for attribute 'stride()' do not match: {actual.stride()} "
                       f"!= {expected.stride()}.")
    rtol, atol = _tolerances(actual.dtype, expected.dtype, options)
    a, e = _host(actual), _host(expected)
    exact = rtol == atol == 0
    if a.dtype.kind in "fc" or e.dtype.kind in "fc":
        wide = np.complex128 if "c" in (a.dtype.kind, e.dtype.kind) else np.float64
        a, e = a.astype(wide), e.astype(wide)
    else:
        a, e = a.astype(np.int64) if a.dtype.kind == "b" else a, \
            e.astype(np.int64) if e.dtype.kind == "b" else e
    with np.errstate(all="ignore"):
        close = np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=options["equal_nan"]) \
            if not exact else (a == e) | (options["equal_nan"] & _both_nan(a, e))
    if close.all():
        return
    _fail(options, _mismatch_report(a, e, close, rtol, atol, exact))


def _both_nan(a, e):
    return np.isnan(a) & np.isnan(e) if a.dtype.kind in "fc" else np.zeros(a.shape, bool)


def _tolerances(da, de, options) -> tuple:
    if options["rtol"] is not None:
        return options["rtol"], options["atol"]
    pair = [_TOLERANCES.get(d, (0.0, 0.0)) for d in (da, de)]
    return max(p[0] for p in pair), max(p[1] for p in pair)


def _host(t: Tensor) -> np.ndarray:
    t = t.detach().cpu()
    return np.asarray((t.float() if t.dtype is D.bfloat16 else t)._data)


def _worst(values, close) -> tuple:
    """The index of the largest of `values` among the mismatched elements (the first mismatch
    where they are all NaN)."""
    masked = np.where(close, -np.inf, values)
    flat = np.flatnonzero(~close)[0] if np.isnan(masked[~close]).all() else np.nanargmax(masked)
    return tuple(int(i) for i in np.unravel_index(flat, values.shape))


def _mismatch_report(a, e, close, rtol, atol, exact) -> str:
    total, bad = close.size, int((~close).sum())
    with np.errstate(all="ignore"):
        diff = np.abs(a - e).astype(np.float64)
        rel = diff / np.abs(e).astype(np.float64)
    worst_abs, worst_rel = _worst(diff, close), _worst(rel, close)
    biggest = diff[worst_abs]
    if exact and float(biggest).is_integer():
        biggest = int(biggest)
    limits = ("", "") if exact else (f" (up to {atol} allowed)", f" (up to {rtol} allowed)")
    return (f"Tensor-likes are not {'equal' if exact else 'close'}!\n\nMismatched elements: "
            f"{bad} / {total} ({100.0 * bad / total:.1f}%)\n"
            f"Greatest absolute difference: {biggest} at index {worst_abs}{limits[0]}\n"
            f"Greatest relative difference: {float(rel[worst_rel])} at index {worst_rel}"
            f"{limits[1]}")


def _compare_numbers(actual, expected, options) -> None:
    """Python numbers: exact for ints and bools, float64's tolerances for real and complex."""
    if options["rtol"] is not None:
        rtol, atol = options["rtol"], options["atol"]
    elif isinstance(actual, (float, complex)) or isinstance(expected, (float, complex)):
        rtol, atol = _TOLERANCES[D.float64]
    else:
        rtol = atol = 0.0
    if actual == expected or options["equal_nan"] and _nan(actual) and _nan(expected):
        return
    diff = abs(actual - expected)
    if diff <= atol + rtol * abs(expected):
        return
    rel = diff / abs(expected) if expected else math.inf
    exact = rtol == atol == 0
    limits = ("", "") if exact else (f" (up to {atol} allowed)", f" (up to {rtol} allowed)")
    _fail(options, f"Scalars are not {'equal' if exact else 'close'}!\n\nExpected {expected} "
                   f"but got {actual}.\nAbsolute difference: {diff}{limits[0]}\n"
                   f"Relative difference: {rel}{limits[1]}")


def _nan(x) -> bool:
    return isinstance(x, (float, complex)) and x != x


def make_tensor(*shape, dtype, device=None, low=None, high=None, requires_grad=False,
                noncontiguous=False, exclude_zero=False, memory_format=None) -> Tensor:
    """A tensor of `shape` drawn uniformly from [low, high) (default [-9, 9)) with ember's
    generator, as torch.testing.make_tensor: bool tensors are fair coin flips; complex ones
    draw both parts; `noncontiguous` gives a strided view; `exclude_zero` replaces zeros."""
    from .._ops.creation import tensor
    from .._ops.random import rand, randint
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    size, dtype = tuple(int(s) for s in shape), D.to_dtype(dtype)
    lo, hi = (-9.0 if low is None else float(low)), (9.0 if high is None else float(high))
    if lo > hi:
        raise ValueError(f"make_tensor: low ({lo}) must not be greater than high ({hi})")
    if dtype is D.bool:
        values = rand(size, dtype=D.float64) < 0.5
    elif dtype.category < D._FLOAT:
        info = np.iinfo(dtype.np)
        lo, hi = max(math.ceil(lo), info.min), min(math.ceil(hi), info.max)
        values = randint(lo, max(hi, lo + 1), size)
    else:
        parts = 2 if dtype.is_complex else 1
        values = [rand(size, dtype=D.float64) * (hi - lo) + lo for _ in range(parts)]
        values = values[0] if parts == 1 else values[0] + values[1] * 1j
    values = values.numpy()
    if exclude_zero:
        values = np.where(values == 0, 1 if dtype.category < D._FLOAT else 1e-6, values)
    out = tensor(values, dtype=dtype, device=device)
    if noncontiguous and out.numel() > 1:
        out = out.repeat_interleave(2, dim=-1)[..., ::2]
    return out.requires_grad_() if requires_grad else out
