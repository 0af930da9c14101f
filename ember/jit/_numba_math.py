"""float32 exp, tanh and erf for numba kernels, written so LLVM can vectorize them.

numba's math.exp/tanh/erf call the C library once per element, which is slower than NumPy's
SIMD loops; these are polynomials (Taylor series near 0; exp by range reduction with 2**n built
from its bits; erf by Abramowitz & Stegun 7.1.26) and stay within a few float32 ulps.
Imported only by generated fused kernels, and only when numba is installed.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import intrinsic, overload

_F = np.float32
_OPTS = {"fastmath": True, "error_model": "numpy", "cache": True, "inline": "always"}


@intrinsic
def _bits_to_float32(typingctx, bits):
    """Reinterpret an int32 as the float32 with the same bits."""
    if bits != types.int32:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float32))
    return types.float32(types.int32), codegen


@njit(**_OPTS)
def _pow2(n):
    """2.0 ** n for an int32 n in [-150, 128], as float32 (two factors, so both are normal)."""
    half = n >> 1
    rest = n - half
    a = _bits_to_float32(np.int32((half + 127) << 23))
    b = _bits_to_float32(np.int32((rest + 127) << 23))
    return a * b


@njit(**_OPTS)
def exp32(x):
    """exp for float32: exp(r) * 2**n with x = n*ln2 + r, |r| <= ln2/2. np.floor keeps n a
    float32 (math.floor gives an int64, which turned the reduction into float64 arithmetic
    and halved the SIMD width)."""
    x = min(max(x, _F(-104.0)), _F(89.0))
    n = np.floor(x * _F(1.4426950408889634) + _F(0.5))
    r = x - n * _F(0.693359375) - n * _F(-2.12194440e-4)
    p = _F(1.0 / 5040.0)
    p = p * r + _F(1.0 / 720.0)
    p = p * r + _F(1.0 / 120.0)
    p = p * r + _F(1.0 / 24.0)
    p = p * r + _F(1.0 / 6.0)
    p = p * r + _F(0.5)
    p = p * r + _F(1.0)
    p = p * r + _F(1.0)
    return p * _pow2(np.int32(n))


@njit(**_OPTS)
def tanh32(x):
    """tanh for float32: Taylor series for |x| < 0.5, 1 - 2/(exp(2|x|) + 1) beyond."""
    a = abs(x)
    z = x * x
    p = _F(21844.0 / 6081075.0)
    p = p * z - _F(1382.0 / 155925.0)
    p = p * z + _F(62.0 / 2835.0)
    p = p * z - _F(17.0 / 315.0)
    p = p * z + _F(2.0 / 15.0)
    p = p * z - _F(1.0 / 3.0)
    small = x + x * z * p
    e = exp32(_F(2.0) * min(a, _F(10.0)))  # from |x| = 10 on, 1 - 2/(e + 1) rounds to 1
    big = math.copysign(_F(1.0) - _F(2.0) / (e + _F(1.0)), x)
    return small if a < _F(0.5) else big


@njit(**_OPTS)
def erf32(x):
    """erf for float32: Taylor series for |x| < 0.5, A&S 7.1.26 for erfc beyond."""
    return erf32_given(x, exp32(-min(x * x, _F(100.0))))


@njit(**_OPTS)
def erf32_given(x, e):
    """erf32(x) given e = exp(-min(x*x, 100)), for callers that need that exp themselves."""
    a = abs(x)
    z = x * x
    p = _F(-1.0 / 9360.0)
    p = p * z + _F(1.0 / 1320.0)
    p = p * z - _F(1.0 / 216.0)
    p = p * z + _F(1.0 / 42.0)
    p = p * z - _F(1.0 / 10.0)
    p = p * z + _F(1.0 / 3.0)
    small = _F(1.1283791670955126) * (x - x * z * p)
    big = math.copysign(_F(1.0) - erfc32_given(a, e), x)
    return small if a < _F(0.5) else big


@njit(**_OPTS)
def erfc32_given(a, e):
    """erfc(a) for float32 a >= 0 given e = exp(-min(a*a, 100)) (A&S 7.1.26): no
    cancellation, so it keeps its relative accuracy where erfc is small."""
    t = _F(1.0) / (_F(1.0) + _F(0.3275911) * a)
    q = _F(1.061405429)
    q = q * t - _F(1.453152027)
    q = q * t + _F(1.421413741)
    q = q * t - _F(0.284496736)
    q = q * t + _F(0.254829592)
    return q * t * e


def exp_of(x):
    """exp in the argument's precision inside numba code: exp32 for float32, the C library's
    exp otherwise (kernels written once for both dtypes call this)."""
    return math.exp(x)


@overload(exp_of, inline="always")
def _exp_of(x):
    if x == types.float32:
        return lambda x: exp32(x)
    return lambda x: math.exp(x)


def like(value, ref):
    """`value` as a number of `ref`'s type inside numba code (so float32 kernels written for
    both dtypes keep their constants, and their arithmetic, in float32)."""
    return value


@overload(like, inline="always")
def _like(value, ref):
    if ref == types.float32:
        return lambda value, ref: np.float32(value)
    return lambda value, ref: np.float64(value)
