"""Elementwise functions whose CuPy forms differ from NumPy's and torch's, written so that every
backend gives torch's results. NumPy's own functions are exact and fast, so NumPy arrays use
them; other backends take the compositions below (plain array ops, tested on NumPy too).

- clamp: min(max(x, lo), hi), so NaN stays NaN and inverted bounds give hi. CuPy's clip returns
  hi for NaN when the bounds are inverted (and takes no `casting`).
- lcm: |a| / gcd * |b| in the integers' own width (wrapping on overflow). CuPy takes the
  absolute value after the product, so an overflow comes out with the other sign.
- frexp and nextafter: CUDA flushes float32 subnormals to zero in them (frexp(1e-40) gives 0,
  nextafter(0, 1) the smallest normal number); they are computed from normal numbers and bits.
"""
from __future__ import annotations

import ml_dtypes
import numpy as np


def clamp_array(xp, x, lo, hi, out=None, casting="same_kind"):
    """x clipped to [lo, hi] (either bound may be None), into `out` when given."""
    if xp is np:
        return np.clip(x, lo, hi, out=out, casting=casting)
    if lo is None or hi is None or x.dtype.kind not in "fc":
        return xp.clip(x, lo, hi, out=out)
    out = xp.maximum(x, lo, out=out, casting=casting)
    return xp.minimum(out, hi, out=out, casting=casting)


def lcm_array(xp, a, b):
    """The least common multiple of integer arrays (0 when either is 0)."""
    if xp is np:
        return np.lcm(a, b)
    return _lcm(xp, a, b)


def _lcm(xp, a, b):
    g = xp.gcd(a, b)
    zero = g == 0
    one = xp.ones((), dtype=g.dtype)
    out = (xp.abs(a) // xp.where(zero, one, g)) * xp.abs(b)
    return xp.where(zero, xp.zeros((), dtype=out.dtype), out)


def frexp_array(xp, x):
    """(mantissa, exponent) with x = mantissa * 2 ** exponent, |mantissa| in [0.5, 1)."""
    if xp is np:
        return np.frexp(x)
    return _frexp(xp, x)


_NUMPY_FLOATS = (np.float16, np.float32, np.float64)


def _layout(dtype) -> tuple:
    """(same-width integer dtype, mantissa bits, exponent bias) of a float dtype."""
    fi = np.finfo(dtype) if dtype in _NUMPY_FLOATS else ml_dtypes.finfo(dtype)
    return np.dtype(f"int{dtype.itemsize * 8}"), fi.nmant, fi.maxexp - 1


def _frexp(xp, x):
    """Normal numbers through xp.frexp; subnormals from their bits alone (a device that
    flushes them to zero in float arithmetic sees zeros there): the mantissa's bits shifted
    up to the implicit one give both parts."""
    ints, nmant, bias = _layout(x.dtype)
    bits = x.view(ints)
    frac = bits & ints.type((1 << nmant) - 1)
    subnormal = ((bits >> nmant) & ints.type(2 * bias + 1)) == 0
    subnormal &= frac != 0
    top = _top_bit(xp, xp.where(subnormal, frac, ints.type(1)))  # highest set bit's index
    shift = ints.type(nmant) - top
    norm_frac = (frac << shift) & ints.type((1 << nmant) - 1)
    sign = bits & ints.type(np.iinfo(ints).min)
    half = sign | (ints.type(bias - 1) << ints.type(nmant)) | norm_frac  # in [0.5, 1)
    mantissa, exponent = xp.frexp(x)
    mantissa = xp.where(subnormal, half.view(x.dtype), mantissa)
    sub_exp = (ints.type(2 - bias) - shift).astype(exponent.dtype)
    return mantissa, xp.where(subnormal, sub_exp, exponent)


def _top_bit(xp, n):
    """The index of the highest set bit of positive integers (float64 log2, corrected where
    it rounds up near a power of two)."""
    top = xp.floor(xp.log2(n.astype(np.float64))).astype(n.dtype)
    return xp.where((n >> top) == 0, top - n.dtype.type(1), top)


def nextafter_array(xp, x, y):
    """The next floating-point value after x towards y, in x's format (NumPy has no
    bfloat16 loop: that one, and other devices, go by the bits)."""
    if xp is np and x.dtype in _NUMPY_FLOATS:
        return np.nextafter(x, y)
    return _nextafter(xp, x, y)


def _nextafter(xp, x, y):
    """From the bits alone (a device that flushes subnormals to zero in float comparisons
    would take them for zeros): floats ordered as integers, one step in the magnitude bits."""
    x, y = xp.broadcast_arrays(x, y)
    ints, _, _ = _layout(x.dtype)
    bits, ybits = x.view(ints), y.view(ints)
    low = ints.type(np.iinfo(ints).min)
    kx, ky = (xp.where(b < 0, -(b & ~low), b) for b in (bits, ybits))  # order of the values
    one = ints.type(1)
    smallest = xp.where(ybits < 0, low | one, one)  # from zero: the smallest subnormal
    # away from zero is one more in the magnitude bits, towards zero one less
    stepped = bits + xp.where((ky > kx) == (kx > 0), one, -one)
    out = xp.where(kx == 0, smallest, stepped)
    out = xp.where(kx == ky, ybits, out).view(x.dtype)
    return xp.where(xp.isnan(x) | xp.isnan(y), x.dtype.type(np.nan), out)
