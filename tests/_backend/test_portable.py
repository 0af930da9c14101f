"""The compositions ember/_backend/portable.py runs on CuPy arrays, checked here on NumPy
arrays against NumPy's own functions (which torch matches), special values included."""
import warnings

import numpy as np
import pytest

from ember._backend import portable


def _floats(dtype):
    fi = np.finfo(dtype)
    special = [0.0, -0.0, 1.0, -1.0, fi.tiny, -fi.tiny, fi.tiny / 3, -fi.tiny / 7,
               fi.smallest_subnormal, -fi.smallest_subnormal, fi.max, -fi.max, np.inf, -np.inf,
               np.nan, 2.5, -3.75]
    rng = np.random.default_rng(0)
    return np.concatenate([np.array(special, dtype), rng.standard_normal(500).astype(dtype),
                           (rng.standard_normal(100) * fi.tiny).astype(dtype)])


def _same_bits(a, b):
    """Equal values with equal signs (zeros' too), NaN where the other has NaN."""
    nan = np.isnan(b)
    assert np.array_equal(np.isnan(a), nan)
    assert np.array_equal(a[~nan], b[~nan]) and np.array_equal(np.signbit(a[~nan]),
                                                               np.signbit(b[~nan]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nextafter_steps_through_subnormals_as_numpy(dtype):
    x = _floats(dtype)
    for y in (x[::-1], x, np.full_like(x, np.inf), np.full_like(x, -np.inf), np.zeros_like(x),
              -np.zeros_like(x)):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no overflow warnings of its own
            got = portable._nextafter(np, x, y)
        with np.errstate(over="ignore"):
            _same_bits(got, np.nextafter(x, y))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_frexp_of_subnormals_as_numpy(dtype):
    x = _floats(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mantissa, exponent = portable._frexp(np, x)
    want_m, want_e = np.frexp(x)
    _same_bits(mantissa, want_m)
    assert np.array_equal(exponent, want_e)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8])
def test_lcm_wraps_on_overflow_as_numpy(dtype):
    info = np.iinfo(dtype)
    rng = np.random.default_rng(0)
    a, b = (rng.integers(max(info.min, -200), min(info.max, 200), 2000).astype(dtype)
            for _ in range(2))
    a[:3], b[:3] = 0, [0, 5, 0]
    assert np.array_equal(portable._lcm(np, a, b), np.lcm(a, b))


def test_clamp_keeps_nan_with_inverted_bounds():
    x = np.array([np.nan, -np.inf, 0.0, 3.0], np.float32)
    assert np.array_equal(portable.clamp_array(np, x, 0.5, -0.5), [np.nan, -0.5, -0.5, -0.5],
                          equal_nan=True)
