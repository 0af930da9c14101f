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


def _frexp(xp, x):
    shift = np.finfo(x.dtype).nmant + 1  # scales every subnormal into the normal range
    tiny = x.dtype.type(np.finfo(x.dtype).tiny)
    small = (xp.abs(x) < tiny) & (x != 0)
    scaled = xp.ldexp(xp.where(small, x, x.dtype.type(0)), shift)
    mantissa, exponent = xp.frexp(xp.where(small, scaled, x))
    return mantissa, xp.where(small, exponent - shift, exponent)


def nextafter_array(xp, x, y):
    """The next floating-point value after x towards y."""
    if xp is np:
        return np.nextafter(x, y)
    return _nextafter(xp, x, y)


def _nextafter(xp, x, y):
    x, y = xp.broadcast_arrays(x, y)
    ints = np.dtype(f"int{x.dtype.itemsize * 8}")
    bits = x.view(ints)
    smallest = xp.where(xp.signbit(y), ints.type(np.iinfo(ints).min + 1), ints.type(1))
    # away from zero is one more in the magnitude bits, towards zero one less (bits are
    # sign and magnitude); from zero, the smallest subnormal with y's sign
    away = (y > x) == (x > 0)
    stepped = xp.where(x == 0, smallest, bits + xp.where(away, ints.type(1), ints.type(-1)))
    out = stepped.view(x.dtype)
    out = xp.where(x == y, y, out)
    return xp.where(xp.isnan(x) | xp.isnan(y), x.dtype.type(np.nan), out)
