"""Everyday torch functions outside the big families: finite differences and integrals (diff,
gradient, trapezoid), statistics (cov, corrcoef), complex numbers (complex, polar, real, imag,
view_as_real), the gamma family (lgamma, digamma, polygamma, Hurwitz zeta) and a few special
functions, float/integer helpers (frexp, ldexp, nextafter, gcd, lcm, heaviside, isin), Tensor
housekeeping (storage, resize_, share_memory_, apply_) and process-wide settings (default
device, determinism, thread counts).

The gamma-family kernels are our own: shifted recurrences with Stirling / Euler-Maclaurin
asymptotic series, reflection for negative arguments, and Taylor series about 1 and 2 where
lgamma has its zeros. They compute in float64 whatever the input (then cast back), through `xp`.
"""
from __future__ import annotations

import builtins
import itertools
import math
import mmap
import os
import warnings
from fractions import Fraction
from functools import lru_cache

import numpy as np

from .. import _device
from .. import _dtype as D
from .._backend import cuda_available, namespace, to_numpy
from .._backend.portable import frexp_array, lcm_array, nextafter_array
from .._device import device, to_device
from .._tensor import Tensor, _dim
from ..testing.opinfo import ALL_INT, FLOAT_ALL, FLOATS, INTS, NUMERIC, Arg, Sample, unary
from .creation import ones, tensor, zeros
from .linalg import linalg_vander
from .dispatch import _cast_error, apply, apply_, result_type, write_out
from .indexing import index_select
from .pointwise import _ERFC64, _erfinv, _poly, erfc, logical_xor, where
from .reduction import _named_result
from .registry import OpDef, composite, register, tensor_method
from .shape import cat, stack

_INF = math.inf
_NAN = math.nan
_F64 = np.dtype(np.float64)


# ---- helpers ----------------------------------------------------------------------------------
def _torch_name(dt: D.dtype) -> str:
    """The name torch's messages give a dtype ('Float', 'Long', ...)."""
    return D.SCALAR_NAMES[dt]


def _kind_error(op: str, arr, fits: str) -> NotImplementedError:
    """torch's error for a dtype an op has no kernel for."""
    dt = D.from_numpy_dtype(arr.dtype)
    return NotImplementedError(f"\"{op}\" not implemented for '{_torch_name(dt)}'; {op}() takes "
                               f"{fits}")


def _real_float_only(op: str, *arrays):
    for a in arrays:
        if a.dtype.kind in "biuc":
            raise _kind_error(op, a, "real floating-point tensors")


def _quiet():
    """Silence NumPy's warnings for values a `where` discards (poles, 0 * inf)."""
    return np.errstate(all="ignore")


def _as_f64(x):
    return x.astype(_F64) if x.dtype != _F64 else x


def _like(xp, y, x):
    """y (computed in float64) cast back to x's dtype."""
    y = xp.asarray(y)
    return y.astype(x.dtype) if y.dtype != x.dtype else y


def _cotpi(xp, x):
    """cot(pi * x) with exact argument reduction (exact zeros at the half-integers)."""
    r = x - xp.rint(x)                               # r in [-0.5, 0.5], exact
    with _quiet():
        return xp.where(xp.abs(r) < 0.25, 1 / xp.tan(math.pi * r),
                        xp.copysign(xp.tan(math.pi * (0.5 - xp.abs(r))), r))


def _sinpi(xp, x):
    """sin(pi * x) with exact argument reduction (exact zeros at the integers)."""
    r = x - 2 * xp.rint(x / 2)                       # r in [-1, 1], exact
    r = xp.where(r > 0.5, 1 - r, xp.where(r < -0.5, -1 - r, r))
    return xp.sin(math.pi * r)


# ---- the gamma family -------------------------------------------------------------------------
# Bernoulli numbers B2, B4, ..., B20: the asymptotic series of lgamma, digamma and Hurwitz zeta.
_BERNOULLI = (Fraction(1, 6), Fraction(-1, 30), Fraction(1, 42), Fraction(-1, 30), Fraction(5, 66),
              Fraction(-691, 2730), Fraction(7, 6), Fraction(-3617, 510), Fraction(43867, 798),
              Fraction(-174611, 330))
_STIRLING = tuple(float(b / (2 * k * (2 * k - 1))) for k, b in enumerate(_BERNOULLI[:8], 1))
_PSI_ASYMPTOTIC = tuple(float(b / (2 * k)) for k, b in enumerate(_BERNOULLI[:8], 1))
_ZETA_TAIL = tuple(float(b / math.factorial(2 * k)) for k, b in enumerate(_BERNOULLI, 1))
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
_EULER_GAMMA = 0.5772156649015329
_SHIFT = 10.0  # arguments below this are moved up by the recurrences before the series


def _zeta_scalar(s: float) -> float:
    """Riemann zeta(s) for s >= 2 in double precision (Euler-Maclaurin, 9 terms then a tail)."""
    n = 10.0
    total = math.fsum(k ** -s for k in range(1, 10))
    total += n ** (1 - s) / (s - 1) + n ** -s / 2
    rising, power = s, n ** (-s - 1)
    for j, coef in enumerate(_ZETA_TAIL, 1):
        total += coef * rising * power
        rising *= (s + 2 * j - 1) * (s + 2 * j)
        power /= n * n
    return total


@lru_cache(maxsize=1)
def _lgamma_taylor() -> tuple:
    """Coefficients of lgamma(1 + e) = -gamma e + sum_k (-1)^k zeta(k) / k e^k."""
    return (0.0, -_EULER_GAMMA) + tuple((-1) ** k * _zeta_scalar(k) / k for k in range(2, 32))


def _shift_up(xp, w, harmonic: bool):
    """Move the elements of flat `w` below 10 up by whole steps to >= 10 (only those are
    touched). Returns the shifted w, the mask of moved elements, and for them the product
    of the values passed (or, if harmonic, the sum of their reciprocals)."""
    small = w < _SHIFT
    if not builtins.bool(small.any()):
        return w, small, None
    moved = w[small]
    acc = xp.zeros_like(moved) if harmonic else xp.ones_like(moved)
    for _ in range(int(_SHIFT)):
        below = moved < _SHIFT
        if harmonic:
            acc += xp.where(below, 1 / moved, 0.0)
        else:
            acc *= xp.where(below, moved, 1.0)
        moved += below
    w = w.copy()
    w[small] = moved
    return w, small, acc


def _lgamma_positive(xp, w):
    """lgamma(w) for flat w >= 0.5: shift to w >= 10, Stirling's series, subtract the log
    of the product of the shifts."""
    w, small, product = _shift_up(xp, w, harmonic=False)
    inv = 1 / w
    out = (w - 0.5) * xp.log(w) - w + _HALF_LOG_2PI + _poly(xp, inv * inv, _STIRLING) * inv
    if product is not None:
        out[small] -= xp.log(product)
    return out


def _lgamma_kernel(xp, x):
    z = _as_f64(x).reshape(-1)
    with _quiet():
        reflect = z < 0.5
        out = _lgamma_positive(xp, xp.where(reflect, 1 - z, z))
        if builtins.bool(reflect.any()):   # log(pi / |sin(pi z)|) - lgamma(1 - z)
            sin = xp.abs(_sinpi(xp, z[reflect]))
            out[reflect] = math.log(math.pi) - xp.log(sin) - out[reflect]
        for centre in (1.0, 2.0):   # lgamma's zeros: the series about 1 keeps relative precision
            near = xp.abs(z - centre) < 0.25
            if builtins.bool(near.any()):
                e = z[near] - centre
                taylor = _poly(xp, e, _lgamma_taylor())
                out[near] = taylor + xp.log1p(e) if centre == 2.0 else taylor
        out[xp.isinf(z)] = _INF
    return _like(xp, out.reshape(x.shape), x)


def _digamma_positive(xp, w):
    """digamma(w) for flat w >= 0: recurrence up to w >= 10, then the asymptotic series."""
    w, small, harmonic = _shift_up(xp, w, harmonic=True)
    inv2 = 1 / (w * w)
    out = xp.log(w) - 0.5 / w - _poly(xp, inv2, _PSI_ASYMPTOTIC) * inv2
    if harmonic is not None:
        out[small] -= harmonic
    return out


def _digamma_kernel(xp, x):
    z = _as_f64(x).reshape(-1)
    with _quiet():
        reflect = z < 0
        out = _digamma_positive(xp, xp.where(reflect, 1 - z, z))
        out = xp.where(reflect, out - math.pi * _cotpi(xp, z), out)
        out = xp.where(reflect & (z == xp.rint(z)), _NAN, out)   # negative integers
        out = xp.where(z == 0, xp.copysign(_INF, -z), out)       # -inf at +0, +inf at -0
    return _like(xp, out.reshape(x.shape), x)


def _zeta_sum(xp, s, q):
    """Hurwitz zeta for q > 0 by Euler-Maclaurin: direct terms (q + k)^-s until q + k > 9
    (at least 9 of them), then the integral, half a term and the Bernoulli corrections."""
    total = xp.zeros(s.shape, _F64)
    a = q.copy()
    for count in itertools.count():
        active = (a <= 9) | (count < 9)
        if count >= 9 and not builtins.bool(active.any()):
            break
        total += xp.where(active, a ** -s, 0)
        a = xp.where(active, a + 1, a)
    total += a ** (1 - s) / (s - 1) + a ** -s / 2
    rising, power = s, a ** (-s - 1)
    for j, coef in enumerate(_ZETA_TAIL, 1):
        total += xp.where(power == 0, 0, coef * rising * power)
        rising = rising * (s + 2 * j - 1) * (s + 2 * j)
        power = power / (a * a)
    return total


@lru_cache(maxsize=64)
def _cot_derivative(n: int) -> tuple:
    """Coefficients (in c = cot(pi x), lowest first) of d^n/dx^n cot(pi x) / pi^n:
    P_0 = c, P_(k+1) = -(1 + c^2) P_k'."""
    poly = [0, 1]
    for _ in range(n):
        slope = [k * poly[k] for k in range(1, len(poly))] or [0]
        poly = [0] * (len(slope) + 2)
        for k, coef in enumerate(slope):
            poly[k] -= coef
            poly[k + 2] -= coef
    return tuple(float(c) for c in poly)


def _zeta_reflected(xp, s, q):
    """zeta(s, q) for q < 0 and integer s >= 2, from polygamma's reflection formula
    (summing directly would cancel between the terms on both sides of 0):
    zeta(s, q) = (-1)^(s+1) (zeta(s, 1 - q) + pi^s P_(s-1)(cot(pi q)) / (s-1)!)."""
    out = xp.empty(s.shape, _F64)
    cot = _cotpi(xp, q)
    for order in to_numpy(xp.unique(s)).astype(int).tolist():
        pick = s == order
        n = order - 1
        cot_term = math.pi ** order * _poly(xp, cot[pick], _cot_derivative(n)) / math.factorial(n)
        mirrored = _zeta_sum(xp, s[pick], 1 - q[pick])
        out[pick] = (-1) ** (order + 1) * (mirrored + cot_term)
    return out


def _zeta_kernel(xp, s, q):
    """Hurwitz zeta(s, q) = sum_k (q + k)^-s, with torch's (Cephes') domain: inf at s = 1 and
    at non-positive integer q, NaN for s < 1 and for negative q with non-integer s."""
    s, q = xp.broadcast_arrays(_as_f64(xp.asarray(s)), _as_f64(q))
    s, q = s.reshape(-1), q.reshape(-1)
    with _quiet():
        pole = (q <= 0) & (q == xp.floor(q))           # also q = -inf
        undefined = (s < 1) | ((q < 0) & ~pole & (s != xp.floor(s)))
        left = (q < 0) & ~pole & ~undefined & (s > 1)
        total = _zeta_sum(xp, s, xp.where(left | pole | xp.isinf(q), 1.0, q))
        if builtins.bool(left.any()):
            total[left] = _zeta_reflected(xp, s[left], q[left])
        total = xp.where(xp.isinf(q) & (q > 0), _NAN, total)   # as torch (Cephes)
        total = xp.where(pole | (s == 1), _INF, total)
        total = xp.where(undefined, _NAN, total)
    return total


def _polygamma_kernel(xp, n: int, x):
    """The n-th derivative of digamma: (-1)^(n+1) n! zeta(n + 1, x) for n >= 1."""
    if n == 0:
        return _digamma_kernel(xp, x)
    z = _as_f64(x)
    with _quiet():
        zeta = _zeta_kernel(xp, np.float64(n + 1), z).reshape(z.shape)
        out = (-1) ** (n + 1) * math.factorial(n) * zeta
        if n == 1:   # torch's trigamma: 0 at +inf, NaN at -inf
            out = xp.where(z == _INF, 0.0, xp.where(z == -_INF, _NAN, out))
    return _like(xp, out, x)


@register("lgamma", promote="float", pointwise=True, samples=unary(
    lambda t, x: t.lgamma(x), 0.1, 6.0) + (
    Sample(lambda t, x: x.lgamma(), (Arg((3, 4), -3.9, -0.1),), name="negative"),
    Sample(lambda t, x: t.lgamma(x), (Arg((12,), values=[
        0.0, -0.0, -1.0, -2.5, 1.0, 2.0, 1.0001, 1.9999, 1e-30, 1e30, math.inf, -math.inf]),),
        grad=False, name="special"),
    Sample(lambda t, x: t.lgamma(x), (Arg((2, 3), 0.5, 40.0),), dtypes=("float16", "bfloat16"),
           grad=False, name="half")))
class Lgamma(OpDef):
    def forward(ctx, xp, x):
        _real_float_only("lgamma", x)
        ctx.save(x)
        return _lgamma_kernel(xp, x)

    def backward(ctx, g):
        (x,) = ctx.saved
        return g * digamma(x)


@register("digamma", promote="float", pointwise=True, samples=unary(
    lambda t, x: t.digamma(x), 0.1, 6.0) + (
    Sample(lambda t, x: x.digamma(), (Arg((3, 4), -3.9, -0.1),), name="negative"),
    Sample(lambda t, x: t.digamma(x), (Arg((11,), values=[
        0.0, -0.0, -1.0, -2.5, 1.0, 1.4616321, 1e-30, 1e30, 25.0, math.inf, -math.inf]),),
        grad=False, name="special")))
class Digamma(OpDef):
    def forward(ctx, xp, x):
        _real_float_only("digamma", x)
        ctx.save(x)
        return _digamma_kernel(xp, x)

    def backward(ctx, g):
        (x,) = ctx.saved
        return g * polygamma(1, x)


@register("polygamma", promote="float", pointwise=True, samples=tuple(
    Sample(lambda t, x, n=n: t.polygamma(n, x), (Arg((3, 4), 0.2, 5.0),), dtypes=NUMERIC,
           rtol=1e-5, name=f"n{n}") for n in (0, 1, 2, 3)) + (
    Sample(lambda t, x: x.polygamma(1), (Arg((3, 4), -2.9, -2.1),), rtol=1e-5, name="negative"),
    Sample(lambda t, x: t.polygamma(2, x), (Arg((3, 4), 20.0, 200.0),), rtol=1e-5, name="large"),
    Sample(lambda t, x: t.polygamma(4, x), (Arg((6,), values=[
        0.0, -1.0, 1e-3, 0.5, 1e10, math.inf]),), grad=False, rtol=1e-5, name="special")))
class Polygamma(OpDef):
    def forward(ctx, xp, x, n=1):
        _real_float_only("polygamma", x)
        ctx.n = n
        ctx.save(x)
        return _polygamma_kernel(xp, n, x)

    def backward(ctx, g):
        (x,) = ctx.saved
        return g * polygamma(ctx.n + 1, x)


@register("special_zeta", promote="float", pointwise=True, samples=(
    Sample(lambda t, x, q: t.special.zeta(x, q), (Arg((3, 4), 1.5, 6.0, grad=False),
                                                  Arg((3, 4), 0.2, 4.0)), rtol=1e-5),
    Sample(lambda t, q: t.special.zeta(3, q), (Arg((2, 3), 0.5, 3.0),), dtypes=NUMERIC,
           rtol=1e-5, name="scalar_s"),
    Sample(lambda t, x, q: t.special.zeta(x, q), (
        Arg((8,), values=[2.0, 3.0, 1.0, 0.5, 2.0, 3.0, 2.0, 4.0]),
        Arg((8,), values=[1.0, -2.5, 1.0, 1.0, -2.0, math.inf, 1e-3, 40.0])),
        grad=False, rtol=1e-5, name="domain")))
class SpecialZeta(OpDef):
    def forward(ctx, xp, x, q):
        _real_float_only("special_zeta", x, q)
        ctx.save(x, q)
        shape = np.broadcast_shapes(x.shape, q.shape)
        out = _zeta_kernel(xp, x, q).reshape(shape)
        return out.astype(xp.result_type(x, q), copy=False)

    def backward(ctx, g):
        x, q = ctx.saved
        if ctx.needs_input_grad[0]:
            raise RuntimeError("the derivative of special.zeta with respect to its first "
                               "argument (x) is not implemented; only q can require grad")
        return None, -g * x * zeta(x + 1, q)


@tensor_method()
def lgamma(input, *, out=None):
    """The log of the absolute value of the gamma function.

    >>> import ember
    >>> ember.lgamma(ember.tensor([0.5, 1., 10.]))
    tensor([ 0.5724,  0.0000, 12.8018])
    """
    return write_out(apply(Lgamma, input), out)


@tensor_method()
def digamma(input, *, out=None):
    """The logarithmic derivative of the gamma function (-inf at 0, NaN at negative integers).

    >>> import ember
    >>> ember.digamma(ember.tensor([1., 0.5]))
    tensor([-0.5772, -1.9635])
    """
    return write_out(apply(Digamma, input), out)


def polygamma(n: int, input, *, out=None):
    """The n-th derivative of digamma (n >= 0).

    >>> import ember
    >>> ember.polygamma(1, ember.tensor([1., 0.5]))
    tensor([1.6449, 4.9348])
    """
    return write_out(apply(Polygamma, input, n=_polygamma_order(n)), out)


def _polygamma_order(n) -> int:
    if isinstance(n, builtins.bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"polygamma(): argument 'n' must be int, not {type(n).__name__}")
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    return int(n)


def _polygamma_method(self, n: int) -> Tensor:
    """polygamma(n, self)."""
    return polygamma(n, self)


def zeta(input, other, *, out=None):
    """The Hurwitz zeta function sum_k (other + k) ** -input (torch.special.zeta)."""
    return write_out(apply(SpecialZeta, input, other), out)


@composite(samples=(
    Sample(lambda t, x: t.mvlgamma(x, 3), (Arg((3, 4), 1.1, 5.0),)),
    Sample(lambda t, x: x.mvlgamma(p=1), (Arg((2, 3), 0.5, 5.0),), dtypes=NUMERIC, name="p1"),
    Sample(lambda t, x: t.special.multigammaln(x, 2), (Arg((4,), 0.6, 3.0),), name="special")))
def mvlgamma(input, p: int, *, out=None):
    """The log of the multivariate gamma function of dimension p:
    sum_j lgamma(input - j / 2) + p (p - 1) / 4 log(pi), for j < p.

    >>> import ember
    >>> ember.mvlgamma(ember.tensor([2.5]), 2)
    tensor([0.8570])
    """
    if p < 1:
        raise RuntimeError(f"mvlgamma(): p has to be greater than or equal to 1 (got p={p})")
    dt = input._dtype if input._dtype.category == D._FLOAT else D.get_default_dtype()
    offsets = tensor([j / 2 for j in range(p)], dtype=dt, device=input.device)
    result = lgamma(input.unsqueeze(-1) - offsets).sum(-1) + p * (p - 1) / 4 * math.log(math.pi)
    return write_out(result, out)


# ---- special functions (torch.special) --------------------------------------------------------
_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)
_SQRT_2PI = math.sqrt(2 * math.pi)
_SQRT_HALF = math.sqrt(0.5)


def _erfcx_nonneg(xp, z):
    """exp(z^2) erfc(z) for z >= 0: the erfc fit without its exp(-z^2) factor."""
    t = 2 / (2 + z)
    return t * xp.exp(_poly(xp, 2 * t - 1, _ERFC64))


def _exp_square(xp, z, sign=1.0):
    """exp(sign * z^2) to a few ulps: z = hi + lo with hi of 24 bits, so hi^2 is exact (a
    rounded z^2 would cost ~z^2 ulps in the exponential)."""
    hi = xp.where(xp.abs(z) < 40, z, 0).astype(np.float32).astype(_F64)
    lo = z - hi   # beyond 40 the result is 0 or inf: plain exp(sign * z^2)
    return xp.exp(sign * (hi * hi)) * xp.exp(sign * (lo * (2 * hi + lo)))


def _erfcx_kernel(xp, x):
    z = _as_f64(x)
    with _quiet():
        pos = _erfcx_nonneg(xp, xp.abs(z))
        out = xp.where(z < 0, 2 * _exp_square(xp, z) - pos, pos)
        out = xp.where(z == -_INF, _INF, out)
    return _like(xp, out, x)


def _log_ndtr_kernel(xp, x):
    """log(Phi(x)): log1p(-Phi(-x)) above 0; below, log(erfcx(-x / sqrt 2) / 2) - x^2 / 2,
    which never underflows."""
    z = _as_f64(x)
    with _quiet():
        a = xp.abs(z) * _SQRT_HALF
        scaled = _erfcx_nonneg(xp, a)
        upper = xp.log1p(-0.5 * scaled * _exp_square(xp, z, -0.5))
        lower = xp.log(0.5 * scaled) - a * a
        out = xp.where(z >= 0, upper, lower)
        out = xp.where(z == _INF, 0.0, xp.where(z == -_INF, -_INF, out))
    return _like(xp, out, x)


def _ndtri_kernel(xp, x):
    """The inverse of the normal CDF: sqrt(2) erfinv(2p - 1) in the middle (2p - 1 is exact
    there); in the tails, Newton's method on log(Phi(x)) = log(p) from a rational estimate."""
    p = _as_f64(x)
    with _quiet():
        middle = math.sqrt(2) * _erfinv(xp, 2 * p - 1)
        tail = xp.minimum(p, 1 - p)                  # 1 - p is exact for p >= 0.5
        t = xp.sqrt(-2 * xp.log(tail))
        y = -(t - (2.515517 + 0.802853 * t + 0.010328 * t * t)
              / (1 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t))
        log_p = xp.log(tail)
        for _ in range(4):
            log_phi = _log_ndtr_kernel(xp, y)
            slope = xp.exp(-y * y / 2 - log_phi) / _SQRT_2PI    # d log(Phi) / dy
            y = y - (log_phi - log_p) / slope
        y = xp.where(p > 0.5, -y, y)
        out = xp.where((p > 0.25) & (p < 0.75), middle, y)
        out = xp.where(p == 0, -_INF, xp.where(p == 1, _INF, out))
        out = xp.where((p < 0) | (p > 1), _NAN, out)
    return _like(xp, out, x)


def _special_unary(name, kernel, grad, save, samples):
    """A torch.special unary op on real floats (integers become the default float)."""
    def forward(ctx, xp, x):
        _real_float_only(name, x)
        y = kernel(xp, x)
        ctx.save(*{"x": (x,), "y": (y,), "xy": (x, y)}[save])
        return y

    def backward(ctx, g):
        return grad(*ctx.saved, g)

    cls = type("Special" + name.capitalize(), (OpDef,), {"forward": forward,
                                                         "backward": backward})
    return register("special_" + name, promote="float", pointwise=True, samples=samples)(cls)


Erfcx = _special_unary(
    "erfcx", _erfcx_kernel, lambda x, y, g: g * (2 * x * y - _TWO_OVER_SQRT_PI), "xy",
    unary(lambda t, x: t.special.erfcx(x), -3.0, 5.0) + (
        Sample(lambda t, x: t.special.erfcx(x), (Arg((8,), values=[
            -30.0, -5.0, -0.1, 0.0, 0.3, 12.0, 1e5, math.inf]),), grad=False, name="range"),))
LogNdtr = _special_unary(
    "log_ndtr", _log_ndtr_kernel,
    lambda x, y, g: g * (-(x * x) / 2 - y).exp() / _SQRT_2PI, "xy",
    unary(lambda t, x: t.special.log_ndtr(x), -6.0, 6.0) + (
        Sample(lambda t, x: t.special.log_ndtr(x), (Arg((9,), values=[
            -1e4, -40.0, -10.0, -1.0, 0.0, 3.0, 9.0, math.inf, -math.inf]),),
            grad=False, name="range"),))
Ndtri = _special_unary(
    "ndtri", _ndtri_kernel, lambda y, g: g * _SQRT_2PI * (y * y / 2).exp(), "y",
    unary(lambda t, x: t.special.ndtri(x), 0.01, 0.99, dtypes=FLOATS) + (
        Sample(lambda t, x: t.special.ndtri(x), (Arg((10,), values=[
            0.0, 1e-300, 1e-20, 1e-5, 0.3, 0.5, 0.9, 1 - 1e-10, 1.0, 1.5]),),
            dtypes=("float64",), grad=False, name="range"),
        Sample(lambda t, x: t.special.ndtri(x), (Arg((6,), values=[
            1e-30, 1e-7, 0.2, 0.5, 0.75, 0.9999]),), dtypes=("float32",), grad=False,
            rtol=1e-5, name="range32")))
Entr = _special_unary(
    "entr", lambda xp, x: xp.where(x > 0, -x * xp.log(xp.where(x > 0, x, 1)),
                                   xp.where(x == 0, 0, xp.where(x < 0, -_INF, x))).astype(
        x.dtype, copy=False),
    lambda x, g: -g * (x.log() + 1), "x",
    unary(lambda t, x: t.special.entr(x), 0.1, 3.0) + (
        Sample(lambda t, x: t.special.entr(x), (Arg((4,), values=[-1.0, 0.0, 2.0, math.nan]),),
               grad=False, name="domain"),))


@register("special_xlog1py", promote="float", pointwise=True, complex=False, samples=(
    Sample(lambda t, x, y: t.special.xlog1py(x, y), (Arg((3, 4)), Arg((3, 4), -0.9, 3.0)),
           dtypes=NUMERIC),
    Sample(lambda t, x, y: t.special.xlog1py(x, y), (Arg((2, 1, 4)), Arg((3, 1), -0.5, 2.0)),
           name="broadcast"),
    Sample(lambda t, x, y: t.special.xlog1py(x, y), (
        Arg((5,), values=[0.0, 0.0, 0.0, 1.0, 2.0]),
        Arg((5,), values=[-1.0, -2.0, math.nan, -1.0, 3.0])), grad=False, name="zeros"),
    Sample(lambda t, x: t.special.xlog1py(2, x), (Arg((2, 3), -0.5, 3),), name="scalar_self")))
class SpecialXlog1py(OpDef):
    def forward(ctx, xp, x, y):
        ctx.save(x, y)
        out = x * xp.log1p(y)
        return xp.where((x == 0) & ~xp.isnan(y), 0, out).astype(out.dtype, copy=False)

    def backward(ctx, g):
        x, y = ctx.saved
        need = ctx.needs_input_grad
        gx = where((x == 0) & (y <= -1), 0.0, xlog1py(g, y)) if need[0] else None
        return gx, (g * x / (y + 1) if need[1] else None)


def erfcx(input, *, out=None):
    """exp(input ** 2) * erfc(input), without overflow or underflow for large inputs."""
    return write_out(apply(Erfcx, input), out)


def log_ndtr(input, *, out=None):
    """log of the standard normal CDF, accurate far into both tails."""
    return write_out(apply(LogNdtr, input), out)


def ndtri(input, *, out=None):
    """The inverse of the standard normal CDF (the probit function)."""
    return write_out(apply(Ndtri, input), out)


def entr(input, *, out=None):
    """Elementwise entropy -input * log(input): 0 at 0, -inf for negative input."""
    return write_out(apply(Entr, input), out)


def xlog1py(input, other, *, out=None):
    """input * log1p(other), 0 where input is 0 (unless other is NaN)."""
    return write_out(apply(SpecialXlog1py, input, other), out)


@composite(name="special.ndtr", samples=unary(lambda t, x: t.special.ndtr(x), -4.0, 4.0) + (
    Sample(lambda t, x: t.special.ndtr(x), (Arg((5,), values=[-40.0, -8.0, 0.0, 8.0, 40.0]),),
           grad=False, name="tails"),))
def ndtr(input, *, out=None):
    """The standard normal CDF: (1 + erf(input / sqrt 2)) / 2, accurate in the lower tail."""
    if input._dtype.category < D._FLOAT:
        input = input.to(D.get_default_dtype())
    return write_out(erfc(input * -_SQRT_HALF) * 0.5, out)


# ---- sinc, nextafter, frexp, ldexp, gcd, lcm, heaviside -----------------------------------------
@register("sinc", promote="float", pointwise=True, holomorphic=True, samples=unary(
    lambda t, x: t.sinc(x)) + (
    Sample(lambda t, x: x.sinc(), (Arg((5,), values=[0.0, 1.0, -2.5, 1e-20, 3.0]),),
           atol=1e-6, name="points"),
    Sample(lambda t, x: t.special.sinc(x), (Arg((2, 3)),), name="special")))
class Sinc(OpDef):
    def forward(ctx, xp, x):
        ctx.save(x)
        if x.dtype.kind == "c":
            y = xp.sin(math.pi * x) / (math.pi * x)
            return xp.where(x == 0, 1, y).astype(x.dtype, copy=False)
        z = _as_f64(x)
        y = _sinpi(xp, z) / (math.pi * z)
        return _like(xp, xp.where(z == 0, 1.0, y), x)

    def backward(ctx, g):
        # sinc'(x) = (cos(pi x) - sinc(x)) / x cancels near 0: there, its Taylor series
        (x,) = ctx.saved
        small = x.abs() < 0.1
        safe = where(small, 1.0, x)
        exact = ((math.pi * safe).cos() - sinc(safe)) / safe
        x2 = x * x
        series = _SINC_SLOPE[-1]
        for c in _SINC_SLOPE[-2::-1]:
            series = series * x2 + c
        return g * where(small, series * x, exact)


# sinc'(x) = x * sum_k c_k x^(2k-2), c_k = (-1)^k 2k pi^(2k) / (2k+1)!, k = 1..6
_SINC_SLOPE = tuple((-1) ** k * 2 * k * math.pi ** (2 * k) / math.factorial(2 * k + 1)
                    for k in range(1, 7))


@register("nextafter", pointwise=True, samples=(
    Sample(lambda t, x, y: t.nextafter(x, y), (Arg((3, 4)), Arg((3, 4)))),
    Sample(lambda t, x, y: x.nextafter(y), (Arg((4,), values=[0.0, 1.0, -1.0, 1e30]),
                                           Arg((1,), values=[math.inf])), grad=False,
           atol=0, rtol=0, name="exact"),
    Sample(lambda t, x, y: x.nextafter(y), (Arg((5,), values=[0.0, 1.0, -1.0, 3.0, 0.001]),
                                           Arg((5,), values=[-1.0, 0.0, -2.0, 4.0, 0.001])),
           dtypes=FLOAT_ALL, grad=False, atol=0, rtol=0, name="each_format")))
class Nextafter(OpDef):
    widens = False

    def forward(ctx, xp, x, y):
        _real_float_only("nextafter", x)
        ctx.y_shape = y.shape if hasattr(y, "shape") else ()
        return nextafter_array(xp, x, y)

    def backward(ctx, g):
        """As torch: the step is treated as nothing, so x passes the gradient through and
        y gets none (zeros)."""
        return g, zeros(ctx.y_shape, dtype=g.dtype, device=g.device)


_FrexpResult = _named_result("frexp", "mantissa exponent")


@register("frexp", pointwise=True, samples=(
    Sample(lambda t, x: tuple(t.frexp(x)), (Arg((3, 4), -50.0, 50.0),), dtypes=FLOAT_ALL),
    Sample(lambda t, x: tuple(t.frexp(x)), (Arg((), -8.0, 8.0),), name="0d"),
    Sample(lambda t, x: tuple(x.frexp()), (Arg((6,), values=[0.0, -0.0, 1.0, 1e-40, math.inf,
                                                              -3.0]),), grad=False,
           name="special")))
class Frexp(OpDef):
    def forward(ctx, xp, x):
        if x.dtype.kind not in "fV":
            raise RuntimeError("torch.frexp() only supports floating-point dtypes (got "
                               f"{D.from_numpy_dtype(x.dtype)})")
        mantissa, exponent = frexp_array(xp, x)
        ctx.save(exponent)
        return mantissa, exponent.astype(np.int32, copy=False)

    def backward(ctx, g, _):
        (exponent,) = ctx.saved
        return g * (-exponent).exp2()


@tensor_method()
def frexp(input, *, out=None):
    """Split into mantissa in [0.5, 1) (with the sign) and an int32 power of two exponent.

    >>> import ember
    >>> ember.frexp(ember.tensor([8., -3.]))
    torch.return_types.frexp(
    mantissa=tensor([ 0.5000, -0.7500]),
    exponent=tensor([4, 2], dtype=torch.int32))
    """
    if out is not None:
        write_out(apply(Frexp, input), tuple(out))
        return _FrexpResult(*out)
    return _FrexpResult(*apply(Frexp, input))


@composite(samples=(
    # torch differentiates 2**e in integer arithmetic (0 for e < 0), so gradients are compared
    # with non-negative integer exponents; negative ones are covered by the forward sample.
    Sample(lambda t, x, e: t.ldexp(x, e), (Arg((3, 4)), Arg((3, 4), 0, 3, dtype="int64"))),
    Sample(lambda t, x, e: t.ldexp(x, e), (Arg((3, 4)), Arg((3, 4), -3, 3, dtype="int64")),
           grad=False, name="negative_exponents"),
    Sample(lambda t, x, e: x.ldexp(e), (Arg((3, 4)), Arg((4,), -2, 2))),
    Sample(lambda t, x, e: t.ldexp(x, e), (Arg((2, 3), -5, 5), Arg((2, 3), -3, 3)),
           dtypes=INTS, name="ints")))
@tensor_method()
def ldexp(input, other, *, out=None):
    """input * 2 ** other (the result is floating point).

    >>> import ember
    >>> ember.ldexp(ember.tensor([1., 3.]), ember.tensor([3, -1]))
    tensor([8.0000, 1.5000])
    """
    if not isinstance(other, Tensor):
        raise TypeError(f"ldexp(): argument 'other' must be Tensor, not {type(other).__name__}")
    _check_ldexp_exponent(input, other)
    return write_out(input * other.to(_ldexp_dtype(input, other)).exp2(), out)


def _check_ldexp_exponent(input, other) -> None:
    """torch's ldexp refuses a bool exponent for a floating input (its integer inputs take
    the float path, where a bool exponent passes)."""
    if other._dtype is D.bool and input._dtype.is_floating_point:
        raise NotImplementedError("\"ldexp\" not implemented for 'Bool' exponents")


def _ldexp_dtype(input, other) -> D.dtype:
    """torch's ldexp dtype: the common dtype of both, integers made the default float."""
    dt = result_type(input, other)
    return dt if dt.category >= D._FLOAT else D.get_default_dtype()


def _integer_binary(name: str, kernel):
    """An op of two integer tensors computed by kernel(xp, x, y)."""
    def forward(ctx, xp, x, y):
        for a in (x, y):
            if a.dtype.kind not in "iu":
                raise _kind_error(name, a, "integer tensors")
        return kernel(xp, x, y)

    cls = type(name.capitalize(), (OpDef,), {"forward": forward})
    fn = lambda t, x, y: getattr(t, name)(x, y)  # noqa: E731
    return register(name, differentiable=False, pointwise=True, samples=(
        Sample(fn, (Arg((3, 4), -30, 30), Arg((3, 4), -30, 30)), dtypes=ALL_INT, grad=False),
        Sample(fn, (Arg((2, 1, 4), -30, 30), Arg((3, 1), 0, 12)), dtypes=INTS, grad=False,
               name="broadcast"),
        Sample(fn, (Arg((4,), values=[0, 0, -4, 7]), Arg((4,), values=[0, 5, 6, -7])),
               dtypes=INTS, grad=False, name="signs")))(cls)


Gcd = _integer_binary("gcd", lambda xp, x, y: xp.gcd(x, y))
Lcm = _integer_binary("lcm", lcm_array)


@tensor_method()
def gcd(input, other, *, out=None):
    """Greatest common divisor of integer tensors (non-negative; gcd(0, 0) = 0)."""
    return write_out(apply(Gcd, input, other), out)


@tensor_method()
def lcm(input, other, *, out=None):
    """Least common multiple of integer tensors (non-negative)."""
    return write_out(apply(Lcm, input, other), out)


@register("heaviside", promote=None, pointwise=True, samples=(
    Sample(lambda t, x, v: t.heaviside(x, v), (Arg((3, 4), -2, 2), Arg((3, 4))),
           dtypes=NUMERIC + ("uint8", "bool"), grad=False),
    Sample(lambda t, x, v: x.heaviside(v), (Arg((5,), values=[-1.0, 0.0, -0.0, 2.0, math.nan]),
                                            Arg((), values=0.5)), grad=False, name="values")))
class Heaviside(OpDef):
    def forward(ctx, xp, x, values):
        return xp.where(x == 0, values, x > 0).astype(x.dtype, copy=False)


@tensor_method()
def heaviside(input, values, *, out=None):
    """The Heaviside step: 0 below zero, 1 above, `values` at zero (same dtype as input)."""
    if not isinstance(values, Tensor):
        raise TypeError(f"heaviside(): argument 'values' must be Tensor, not "
                        f"{type(values).__name__}")
    if input._dtype.category == D._COMPLEX or values._dtype.category == D._COMPLEX:
        raise RuntimeError("heaviside is not yet implemented for complex tensors.")
    if input._dtype is not values._dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes "
                           f"(got {input._dtype} and {values._dtype}).")
    return write_out(apply(Heaviside, input, values), out)


# ---- isin ---------------------------------------------------------------------------------------
@register("isin", differentiable=False, samples=(
    Sample(lambda t, x, y: t.isin(x, y), (Arg((3, 4), -3, 3), Arg((5,), -3, 3)), dtypes=INTS,
           grad=False),
    Sample(lambda t, x, y: t.isin(x, y, invert=True), (Arg((2, 3), -2, 2), Arg((2, 2), -2, 2)),
           dtypes=INTS, grad=False, name="invert"),
    Sample(lambda t, x: t.isin(x, 1), (Arg((2, 3), 0, 2),), dtypes=INTS, grad=False,
           name="scalar_test"),
    Sample(lambda t, x: t.isin(2, x), (Arg((4,), 0, 3),), dtypes=INTS, grad=False,
           name="scalar_elements"),
    Sample(lambda t, x, y: t.isin(x, y), (Arg((4,), values=[1.0, 2.5, math.nan, 3.0]),
                                          Arg((3,), values=[2.5, math.nan, 3.0])), grad=False,
           name="floats")))
class Isin(OpDef):
    def forward(ctx, xp, elements, test_elements, assume_unique=False, invert=False):
        return xp.isin(elements, test_elements, assume_unique=assume_unique, invert=invert)


def isin(elements, test_elements, *, assume_unique: bool = False, invert: bool = False):
    """Whether each of `elements` is in `test_elements` (either may be a scalar).

    >>> import ember
    >>> ember.isin(ember.tensor([1, 2, 3]), ember.tensor([2, 3]))
    tensor([False,  True,  True])
    """
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin(): expected at least one of elements, test_elements to be a Tensor")
    if any(isinstance(v, builtins.bool) or isinstance(v, Tensor) and v._dtype is D.bool
           for v in (elements, test_elements)):
        raise RuntimeError("Unsupported input type encountered for isin(): Bool")
    if any(isinstance(v, builtins.complex) or isinstance(v, Tensor) and v.is_complex()
           for v in (elements, test_elements)):
        raise RuntimeError("Unsupported input type encountered for isin(): complex")
    if assume_unique or invert:
        return apply(Isin, elements, test_elements, assume_unique=assume_unique, invert=invert)
    return apply(Isin, elements, test_elements)


# ---- complex numbers ----------------------------------------------------------------------------
_PARTS = (Arg((3, 4)), Arg((3, 4)))


def _complex_arrays(xp, re, im):
    out = xp.empty(np.broadcast_shapes(re.shape, im.shape),
                   dtype=np.result_type(re.dtype, np.complex64))
    out.real = re
    out.imag = im
    return out


@register("complex", promote=None, samples=(
    Sample(lambda t, a, b: t.view_as_real(t.complex(a, b)), _PARTS),
    Sample(lambda t, a, b: t.complex(a, b).abs(), (Arg((2, 1, 4)), Arg((3, 1))), grad=False,
           name="broadcast"),
    Sample(lambda t, a, b: t.view_as_real(t.complex(a, b)), (
        Arg((3,), values=[math.inf, 1.0, math.nan]), Arg((3,), values=[1.0, math.inf, 0.0])),
        grad=False, name="specials")))
class Complex(OpDef):
    def forward(ctx, xp, re, im):
        return _complex_arrays(xp, re, im)

    def backward(ctx, g):
        need = ctx.needs_input_grad
        return (real(g) if need[0] else None), (imag(g) if need[1] else None)


@register("real", promote=None, is_view=True, samples=(
    Sample(lambda t, a, b: t.real(t.complex(a, b)) * 2, _PARTS),
    Sample(lambda t, a, b: t.complex(a, b).real, _PARTS, name="property"),
    Sample(lambda t, x: t.real(x.to(t.complex64)), (Arg((2, 3)),), grad=False, dtypes=NUMERIC,
           name="cast")))
class Real(OpDef):
    def forward(ctx, xp, z):
        return z.real

    def backward(ctx, g):
        return complex(g, zeros_like_real(g))


@register("imag", promote=None, is_view=True, samples=(
    Sample(lambda t, a, b: t.imag(t.complex(a, b)) * 2, _PARTS),
    Sample(lambda t, a, b: t.complex(a, b).imag.exp(), _PARTS, name="property")))
class Imag(OpDef):
    def forward(ctx, xp, z):
        return z.imag

    def backward(ctx, g):
        return complex(zeros_like_real(g), g)


def zeros_like_real(g):
    """A zero tensor like real tensor `g` (the missing half of a complex gradient)."""
    return Tensor._zeros(g._data.shape, g._dtype, g._device)


@register("conj", promote=None, samples=(
    Sample(lambda t, a, b: t.view_as_real(t.conj(t.complex(a, b)).resolve_conj()), _PARTS),
    Sample(lambda t, a, b: t.view_as_real(t.complex(a, b).conj_physical()), _PARTS,
           name="physical"),
    Sample(lambda t, a, b: t.complex(a, b).mH.imag * 2, (Arg((2, 3)), Arg((2, 3))),
           name="mH")))
class Conj(OpDef):
    def forward(ctx, xp, z):
        return xp.conj(z)

    def backward(ctx, g):
        return conj(g)


@register("angle", promote="float", pointwise=True, samples=(
    Sample(lambda t, a, b: t.angle(t.complex(a, b)), _PARTS),
    Sample(lambda t, x: t.angle(x), (Arg((3, 4)),), dtypes=NUMERIC, name="real"),
    Sample(lambda t, x: x.angle(), (Arg((4,), values=[-1.0, -0.0, math.nan, 2.0]),),
           grad=False, name="real_special"),
    Sample(lambda t, a, b: t.angle(t.complex(a, b)), (Arg((3,), values=[0.0, -1.0, 0.0]),
                                                      Arg((3,), values=[0.0, 0.0, -0.0])),
           grad=False, name="axes")))
class Angle(OpDef):
    def forward(ctx, xp, z):
        ctx.save(z)
        if z.dtype.kind == "c":
            return xp.angle(z)
        return xp.where(xp.isnan(z), z, xp.where(z < 0, math.pi, 0)).astype(z.dtype, copy=False)

    def backward(ctx, g):
        (z,) = ctx.saved
        if not z.is_complex():
            return zeros_like_real(g)
        x, y = real(z), imag(z)
        norm = x * x + y * y
        safe = where(norm == 0, 1.0, norm)
        return complex(where(norm == 0, 0.0, -g * y / safe), where(norm == 0, 0.0, g * x / safe))


@register("view_as_real", promote=None, is_view="maybe", samples=(
    Sample(lambda t, a, b: t.view_as_real(t.complex(a, b)).sum(-1), _PARTS),
    Sample(lambda t, a, b: t.view_as_real(t.complex(a, b)[:, 1:3]), _PARTS, name="strided")))
class ViewAsReal(OpDef):
    def forward(ctx, xp, z):
        real_dtype = z.real.dtype
        try:
            return z[..., None].view(real_dtype)
        except (ValueError, TypeError):
            return xp.stack([z.real, z.imag], axis=-1)

    def backward(ctx, g):
        return complex(g[..., 0], g[..., 1])


@register("view_as_complex", promote=None, is_view=True, samples=(
    Sample(lambda t, x: t.view_as_real(t.view_as_complex(x) * 1), (Arg((3, 2)),)),
    Sample(lambda t, x: t.view_as_complex(x).imag, (Arg((2, 3, 2)),), name="imag")))
class ViewAsComplex(OpDef):
    def forward(ctx, xp, x):
        return x.view(np.complex64 if x.dtype == np.float32 else np.complex128)[..., 0]

    def backward(ctx, g):
        return view_as_real(g)


def complex(real, imag, *, out=None):
    """The complex tensor real + i * imag (both float32 or both float64).

    >>> import ember
    >>> ember.complex(ember.tensor([1.]), ember.tensor([2.]))
    tensor([1.+2.j])
    """
    for name, t in (("real", real), ("imag", imag)):
        if not isinstance(t, Tensor):
            raise TypeError(f"complex(): argument '{name}' must be Tensor, not "
                            f"{type(t).__name__}")
    if real._dtype is not imag._dtype or real._dtype not in (D.float32, D.float64):
        raise RuntimeError("complex(): expected both inputs to be Float or Double tensors of the "
                           f"same dtype, but got {_torch_name(real._dtype)} and "
                           f"{_torch_name(imag._dtype)}")
    return write_out(apply(Complex, real, imag), out)


@composite(samples=(
    Sample(lambda t, r, a: t.view_as_real(t.polar(r, a)), (Arg((3, 4), 0.1, 2.0), Arg((3, 4)))),
    Sample(lambda t, r, a: t.polar(r, a).imag, (Arg((3, 1), 0.1, 2.0), Arg((4,), -3.0, 3.0)),
           name="broadcast")))
def polar(abs, angle, *, out=None):
    """The complex tensor abs * (cos(angle) + i sin(angle)).

    >>> import ember
    >>> ember.polar(ember.tensor([2.]), ember.tensor([0.]))
    tensor([2.+0.j])
    """
    for t in (abs, angle):
        if not isinstance(t, Tensor) or t._dtype not in (D.float32, D.float64):
            got = [getattr(v, "dtype", type(v).__name__) for v in (abs, angle)]
            raise RuntimeError(f"polar(): expected both inputs to be float or double tensors, "
                               f"but got {got[0]} and {got[1]}")
    if abs._dtype is not angle._dtype:
        raise RuntimeError(f"polar(): expected abs and angle of one dtype, but got "
                           f"{abs._dtype.name} and {angle._dtype.name}")
    return write_out(complex(abs * angle.cos(), abs * angle.sin()), out)


def view_as_real(input):
    """A real view of a complex tensor, with a trailing dimension of size 2 (real, imag)."""
    if not input.is_complex():
        raise RuntimeError("view_as_real is only supported for complex tensors (got "
                           f"{input._dtype})")
    return apply(ViewAsReal, input)


def view_as_complex(input):
    """A complex view of a float32/float64 tensor whose last dimension (size 2, stride 1)
    holds the real and imaginary parts."""
    if input._dtype not in (D.float32, D.float64):
        raise RuntimeError("view_as_complex is only supported for float and double tensors, but "
                           f"got a tensor of scalar type: {_torch_name(input._dtype)}")
    if input.ndim == 0:
        raise RuntimeError("Input tensor must have one or more dimensions")
    if input.shape[-1] != 2:
        raise RuntimeError(f"Tensor must have a last dimension of size 2 (got shape "
                           f"{list(input.shape)})")
    strides = input.stride()
    if strides[-1] != 1:
        raise RuntimeError("Tensor must have a last dimension with stride 1 (call .contiguous() "
                           "first)")
    if any(s % 2 for s in strides[:-1]) or input.storage_offset() % 2:
        raise RuntimeError("Tensor must have a stride divisible by 2 for all but last dimension "
                           "and an even storage offset (call .contiguous() first)")
    return apply(ViewAsComplex, input)


def real(input):
    """The real part: a view of a complex tensor; a real tensor is returned as it is."""
    return apply(Real, input) if input.is_complex() else input


def imag(input):
    """The imaginary part of a complex tensor, as a view."""
    if not input.is_complex():
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return apply(Imag, input)


@tensor_method()
def conj(input):
    """The complex conjugate (a real tensor is returned as it is).

    ember computes the conjugate at once rather than setting a lazy conjugate bit, so it is
    a new tensor, not a view, and `is_conj()` is always False.
    """
    return apply(Conj, input) if input.is_complex() else input


@tensor_method()
def conj_physical(input, *, out=None):
    """The complex conjugate, computed now (ember's conj already is)."""
    return write_out(conj(input), out)


def conj_physical_(input):
    """In-place complex conjugate (a real tensor is left as it is)."""
    return input.copy_(conj(input)) if input.is_complex() else input


@tensor_method()
def resolve_conj(input):
    """The tensor with its conjugate bit resolved: ember never defers conjugation."""
    return input


@tensor_method()
def resolve_neg(input):
    """The tensor with its negative bit resolved: ember never defers negation."""
    return input


@tensor_method()
def is_conj(input) -> bool:
    """Whether a lazy conjugate bit is set: never in ember (conj computes at once)."""
    return False


@tensor_method()
def is_neg(input) -> bool:
    """Whether a lazy negative bit is set: never in ember."""
    return False


@tensor_method()
def angle(input, *, out=None):
    """The argument of complex values; for real values 0 (>= 0) or pi (< 0), in floating point.

    >>> import ember
    >>> ember.angle(ember.tensor([-1., 2.]))
    tensor([3.1416, 0.0000])
    """
    return write_out(apply(Angle, input), out)


def _set_part(view_fn):
    def setter(self, value):
        view_fn(self).copy_(value)
    return setter


Tensor.real = property(real, _set_part(real), doc="The real part (a view for complex tensors).")
Tensor.imag = property(imag, _set_part(imag), doc="The imaginary part of a complex tensor (a "
                                                  "view).")


# ---- differences, integrals, gradients ----------------------------------------------------------
@composite(samples=(
    Sample(lambda t, x: t.diff(x), (Arg((3, 5)),), dtypes=NUMERIC),
    Sample(lambda t, x: x.diff(n=2, dim=0), (Arg((4, 3)),), name="n2"),
    Sample(lambda t, x, p, a: t.diff(x, dim=1, prepend=p, append=a),
           (Arg((2, 3)), Arg((2, 1)), Arg((2, 2))), name="prepend_append"),
    Sample(lambda t, x: t.diff(x, n=4), (Arg((3,)),), grad=False, name="too_many"),
    Sample(lambda t, x: t.diff(x), (Arg((2, 4)),), dtypes=("bool",), grad=False, name="bool")))
@tensor_method()
def diff(input, n: int = 1, dim: int = -1, prepend=None, append=None):
    """The n-th forward difference along `dim` (after prepending/appending values).

    >>> import ember
    >>> ember.diff(ember.tensor([1, 4, 9, 16]))
    tensor([3, 5, 7])
    """
    if input.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    dim = _dim(dim, input.ndim, "diff")
    parts = []
    for extra in (prepend, input, append):
        if extra is None:
            continue
        if extra.ndim != input.ndim:
            raise RuntimeError("diff expects prepend or append to be the same dimension as "
                               f"input (input has {input.ndim}, got {extra.ndim})")
        parts.append(extra)
    x = cat(parts, dim) if len(parts) > 1 else input
    for _ in range(n):
        length = x.shape[dim]
        if length == 0:
            break
        hi, lo = x.narrow(dim, 1, length - 1), x.narrow(dim, 0, length - 1)
        x = logical_xor(hi, lo) if x._dtype is D.bool else hi - lo
    return x


def _spacing_along(x, y, dim: int, op: str):
    """The widths between sample points `x` (1-D, or shaped like y) along `dim` of y."""
    if x.ndim == 1:
        if x.shape[0] != y.shape[dim]:
            raise RuntimeError(f"{op}: There must be one `x` value for each sample point (x has "
                               f"{x.shape[0]}, y has {y.shape[dim]} along dim {dim})")
        return x.diff().reshape([-1] + [1] * (y.ndim - 1 - dim))
    return x.diff(dim=dim)


def _trapezoid_args(y, x, dx, dim, op):
    if x is not None and dx is not None:
        raise TypeError(f"{op}(): pass either the sample points x or the spacing dx, not both")
    if x is not None and not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument 'x' must be Tensor, not {type(x).__name__}")
    if y._dtype is D.bool or x is not None and x._dtype is D.bool:
        which = "`y`" if x is None else "`x` or `y`"
        raise RuntimeError(f"{op}: received a bool input for {which}, but bool is not supported")
    return _dim(dim, y.ndim, op)


_TRAPEZOID_SAMPLES = (
    Sample(lambda t, y: t.trapezoid(y), (Arg((3, 4)),), dtypes=NUMERIC),
    Sample(lambda t, y: t.trapezoid(y, dx=0.5, dim=0), (Arg((3, 4)),), name="dx"),
    Sample(lambda t, y, x: t.trapezoid(y, x), (Arg((2, 4)), Arg((4,))), name="x1d"),
    Sample(lambda t, y, x: t.trapezoid(y, x, dim=0), (Arg((3, 2)), Arg((3, 2))), name="xnd"),
    Sample(lambda t, y: t.trapz(y, dx=2), (Arg((2, 3)),), dtypes=NUMERIC, name="trapz"),
    Sample(lambda t, y, x: t.trapz(y, x), (Arg((2, 3)), Arg((3,))), name="trapz_x"),
    Sample(lambda t, y: t.trapezoid(y), (Arg((2, 0)),), grad=False, name="empty"))


@composite(samples=_TRAPEZOID_SAMPLES)
def trapezoid(y, x=None, *, dx=None, dim: int = -1):
    """Integrate `y` along `dim` by the trapezoid rule, at points `x` or with spacing `dx`.

    >>> import ember
    >>> ember.trapezoid(ember.tensor([1., 2., 3.]))
    tensor(4.)
    """
    dim = _trapezoid_args(y, x, dx, dim, "trapezoid")
    n = y.shape[dim]
    if n == 0:   # torch keeps the input's dtype here, integers included
        return zeros([s for i, s in enumerate(y.shape) if i != dim], dtype=y._dtype,
                     device=y.device)
    pairs = y.narrow(dim, 1, n - 1) + y.narrow(dim, 0, n - 1)
    if x is None:
        return pairs.sum(dim) * (1 if dx is None else dx) / 2
    return (_spacing_along(x, y, dim, "trapezoid") * pairs).sum(dim) / 2


def trapz(y, x=None, *, dx=None, dim: int = -1):
    """The trapezoid rule (older name of trapezoid)."""
    return trapezoid(y, x, dx=dx, dim=dim)


@composite(samples=(
    Sample(lambda t, y: t.cumulative_trapezoid(y), (Arg((3, 4)),), dtypes=NUMERIC),
    Sample(lambda t, y: t.cumulative_trapezoid(y, dx=0.5, dim=0), (Arg((3, 4)),), name="dx"),
    Sample(lambda t, y, x: t.cumulative_trapezoid(y, x), (Arg((2, 4)), Arg((4,))), name="x"),
    Sample(lambda t, y: t.cumulative_trapezoid(y), (Arg((1,)),), grad=False, name="single")))
def cumulative_trapezoid(y, x=None, *, dx=None, dim: int = -1):
    """Running trapezoid-rule integral of `y` along `dim` (one value fewer than y).

    >>> import ember
    >>> ember.cumulative_trapezoid(ember.tensor([1., 2., 3.]))
    tensor([1.5000, 4.0000])
    """
    dim = _trapezoid_args(y, x, dx, dim, "cumulative_trapezoid")
    n = y.shape[dim]
    if n == 0:
        dt = y._dtype if y._dtype.category >= D._FLOAT else D.get_default_dtype()
        return y.to(dt)
    pairs = y.narrow(dim, 1, n - 1) + y.narrow(dim, 0, n - 1)
    if x is None:
        areas = pairs * (1 if dx is None else dx) / 2
    else:
        areas = _spacing_along(x, y, dim, "cumulative_trapezoid") * pairs / 2
    return areas.cumsum(dim)


@composite(samples=(
    Sample(lambda t, f: t.gradient(f), (Arg((3, 4)),), dtypes=NUMERIC),
    Sample(lambda t, f: t.gradient(f, spacing=2.0, dim=1, edge_order=2), (Arg((3, 5)),),
           name="edge2"),
    Sample(lambda t, f: t.gradient(f, spacing=[0.5, 3.0]), (Arg((3, 4)),), name="scalars"),
    Sample(lambda t, f, a, b: t.gradient(f, spacing=(a.sort().values, b.sort().values)),
           (Arg((3, 4)), Arg((3,), -3, 3, grad=False), Arg((4,), -3, 3, grad=False)),
           atol=1e-4, rtol=1e-4, name="coordinates"),
    Sample(lambda t, f, a: t.gradient(f, spacing=(a.sort().values,), dim=0, edge_order=2),
           (Arg((4, 2)), Arg((4,), -3, 3, grad=False)), atol=1e-4, rtol=1e-4,
           name="coordinates_edge2"),
    Sample(lambda t, f: t.gradient(f, dim=(-1,)), (Arg((2,)),), name="short")))
def gradient(input, *, spacing=1, dim=None, edge_order: int = 1):
    """Estimate the derivative of sampled values along each dim: central differences inside,
    one-sided differences of order `edge_order` (1 or 2) at the ends.

    `spacing` is one step for every dim, a list of steps, or a list of 1-D coordinate tensors.
    Returns one tensor per dim.

    >>> import ember
    >>> ember.gradient(ember.tensor([1., 4., 9., 16.]))
    (tensor([3., 4., 6., 7.]),)
    """
    if edge_order not in (1, 2):
        raise RuntimeError(f"torch.gradient only supports edge_order=1 and edge_order=2 (got "
                           f"{edge_order})")
    if dim is None:
        dims = list(range(input.ndim))
    else:
        dims = [dim] if isinstance(dim, int) else list(dim)
        dims = [_dim(d, input.ndim, "gradient") for d in dims]
    if isinstance(spacing, (list, tuple)):
        if len(spacing) != len(dims):
            raise RuntimeError(
                "torch.gradient expected spacing to be unspecified, a scalar, or a list of "
                f"length equal to {'len(dim)' if dim is not None else 'self.dim()'} = "
                f"{len(dims)}, but got a list of length {len(spacing)}")
        steps = list(spacing)
    else:
        steps = [spacing] * len(dims)
    for d in dims:
        if input.shape[d] < edge_order + 1:
            raise RuntimeError("torch.gradient expected each dimension size to be at least "
                               f"edge_order+1 (dim {d} has size {input.shape[d]})")
    if input._dtype.category < D._FLOAT:
        input = input.to(D.get_default_dtype())
    return tuple(_gradient_along(input, d, h, edge_order) for d, h in zip(dims, steps))


def _gradient_along(f, dim: int, h, edge_order: int):
    n = f.shape[dim]

    def part(start, length=1):
        return f.narrow(dim, start, length)

    if isinstance(h, Tensor) and h.ndim == 1:
        if h.shape[0] != n:
            raise RuntimeError(f"torch.gradient expected each coordinate tensor to have as many "
                               f"values as dim {dim} ({n}), got {h.shape[0]}")
        steps = h.diff().reshape([-1] + [1] * (f.ndim - 1 - dim))
        return _nonuniform(f, part, steps, dim, n, edge_order)
    interior = (part(2, n - 2) - part(0, n - 2)) / (2 * h)
    if edge_order == 1:
        first = (part(1) - part(0)) / h
        last = (part(n - 1) - part(n - 2)) / h
    else:
        first = (-1.5 * part(0) + 2 * part(1) - 0.5 * part(2)) / h
        last = (0.5 * part(n - 3) - 2 * part(n - 2) + 1.5 * part(n - 1)) / h
    return cat([first, interior, last], dim)


def _nonuniform(f, part, steps, dim, n, edge_order):
    """Second-order differences on uneven sample points (as numpy.gradient)."""
    def step(start, length=1):
        return steps.narrow(0, start, length)

    h1, h2 = step(0, n - 2), step(1, n - 2)
    interior = (-h2 / (h1 * (h1 + h2)) * part(0, n - 2) + (h2 - h1) / (h1 * h2) * part(1, n - 2)
                + h1 / (h2 * (h1 + h2)) * part(2, n - 2))
    if edge_order == 1:
        first = (part(1) - part(0)) / step(0)
        last = (part(n - 1) - part(n - 2)) / step(n - 2)
    else:
        a, b = step(0), step(1)
        first = (-(2 * a + b) / (a * (a + b)) * part(0) + (a + b) / (a * b) * part(1)
                 - a / (b * (a + b)) * part(2))
        a, b = step(n - 3), step(n - 2)
        last = (b / (a * (a + b)) * part(n - 3) - (a + b) / (a * b) * part(n - 2)
                + (2 * b + a) / (b * (a + b)) * part(n - 1))
    return cat([first, interior, last], dim)


# ---- matrices and statistics --------------------------------------------------------------------
@composite(samples=(
    Sample(lambda t, x: t.vander(x), (Arg((4,)),), dtypes=NUMERIC),
    Sample(lambda t, x: t.vander(x, N=3, increasing=True), (Arg((2,)),), name="increasing"),
    Sample(lambda t, x: t.vander(x, N=0), (Arg((3,)),), grad=False, name="n0"),
    Sample(lambda t, x: t.vander(x, N=2), (Arg((3,)),), dtypes=("bool", "int32"), grad=False,
           name="promote")))
def vander(x, N: int | None = None, increasing: bool = False):
    """The Vandermonde matrix of 1-D `x`: columns x**(N-1), ..., x**0 (reversed if increasing).

    >>> import ember
    >>> ember.vander(ember.tensor([1, 2, 3]))
    tensor([[1, 1, 1],
            [4, 2, 1],
            [9, 3, 1]])
    """
    if x.ndim != 1:
        raise RuntimeError(f"x must be a one-dimensional tensor (got {x.ndim} dimensions).")
    n = x.shape[0]
    if N is None:
        N = n
    if N < 0:
        raise RuntimeError(f"N must be non-negative (got {N}).")
    dt = D.promote_types(x._dtype, D.int64)
    if N <= 1:
        return (ones if N else zeros)(n, N, dtype=dt, device=x.device)
    result = linalg_vander(x.to(dt), N)
    return result if increasing else result.flip(1)


def _check_weights(name, w, observations, integral):
    if w.ndim > 1:
        raise RuntimeError(f"cov(): expected {name} to have one or fewer dimensions but got "
                           f"{name} with {w.ndim} dimensions")
    if integral and w._dtype.category != D._INT:
        raise RuntimeError(f"cov(): expected fweights to have integral dtype but got fweights "
                           f"with {_torch_name(w._dtype)} dtype")
    if not integral and w._dtype.category != D._FLOAT:
        raise RuntimeError(f"cov(): expected aweights to have floating point dtype but got "
                           f"aweights with {_torch_name(w._dtype)} dtype")
    if w.numel() != observations:
        raise RuntimeError(f"cov(): expected {name} to have the same numel as there are "
                           f"observations in the input but got {w.numel()} != {observations}")
    if builtins.bool((w < 0).any()):
        raise RuntimeError(f"cov(): {name} cannot be negative")


@composite(samples=(
    Sample(lambda t, x: t.cov(x), (Arg((3, 5)),), dtypes=NUMERIC),
    Sample(lambda t, x: x.cov(correction=0), (Arg((2, 4)),), name="correction0"),
    Sample(lambda t, x: t.cov(x), (Arg((5,)),), name="vector"),
    Sample(lambda t, x, f, a: t.cov(x, fweights=f, aweights=a),
           (Arg((2, 4)), Arg((4,), 0, 3, dtype="int64"), Arg((4,), 0.5, 2.0, grad=False)),
           name="weights"),
    Sample(lambda t, x, f: t.cov(x, correction=2, fweights=f),
           (Arg((3, 4)), Arg((4,), 1, 3, dtype="int64")), name="fweights")))
@tensor_method()
def cov(input, *, correction: int = 1, fweights=None, aweights=None):
    """Covariance matrix of the variables in the rows of `input` (observations in columns).

    >>> import ember
    >>> ember.cov(ember.tensor([[0., 1., 2.], [2., 1., 0.]]))
    tensor([[ 1., -1.],
            [-1.,  1.]])
    """
    if input.ndim > 2:
        raise RuntimeError("cov(): expected input to have two or fewer dimensions but got an "
                           f"input with {input.ndim} dimensions")
    x = input.reshape(1, -1) if input.ndim < 2 else input
    if x._dtype.category < D._FLOAT:
        x = x.to(D.get_default_dtype())
    observations = x.shape[1]
    w = None
    if fweights is not None:
        _check_weights("fweights", fweights, observations, integral=True)
        w = fweights
    if aweights is not None:
        _check_weights("aweights", aweights, observations, integral=False)
        w = aweights if w is None else w * aweights
    if w is None:
        w_sum = observations
        mean = x.mean(1, keepdim=True)
    else:
        w_sum = w.sum()
        mean = (x * w).sum(1, keepdim=True) / w_sum
    if correction == 0:
        norm = w_sum
    elif w is not None and aweights is not None:
        norm = w_sum - correction * (w * aweights).sum() / w_sum
    else:
        norm = w_sum - correction
    if builtins.bool(norm <= 0):
        warnings.warn("cov(): degrees of freedom is <= 0. Correction should be strictly less than "
                      "the number of observations.", UserWarning, stacklevel=2)
        norm = norm.clamp(min=0) if isinstance(norm, Tensor) else 0
    centered = x - mean
    weighted = centered if w is None else centered * w
    return (centered.matmul(weighted.t().conj()) / norm).squeeze()


@composite(samples=(
    Sample(lambda t, x: t.corrcoef(x), (Arg((3, 5)),), dtypes=NUMERIC),
    Sample(lambda t, x: x.corrcoef(), (Arg((4,)),), name="vector"),
    Sample(lambda t, x: t.corrcoef(x), (Arg((2, 3), values=[[1.0, 1.0, 1.0], [1.0, 2.0, 3.0]]),),
           grad=False, name="constant")))
@tensor_method()
def corrcoef(input):
    """Pearson correlation coefficients of the variables in the rows of `input`.

    >>> import ember
    >>> ember.corrcoef(ember.tensor([[0., 1., 2.], [2., 1., 0.]]))
    tensor([[ 1., -1.],
            [-1.,  1.]])
    """
    if input.ndim > 2:
        raise RuntimeError("corrcoef(): expected input to have two or fewer dimensions but got "
                           f"an input with {input.ndim} dimensions")
    c = cov(input)
    if c.ndim == 0:
        return c / c
    std = real(c.diagonal()).sqrt()
    c = c / std.unsqueeze(1) / std.unsqueeze(0)
    if c.is_complex():
        return complex(real(c).clamp(-1, 1), imag(c).clamp(-1, 1))
    return c.clamp(-1, 1)


def _check_scalar(name: str, value, dt: D.dtype, op: str):
    """torch's rules for beta/alpha multipliers against the result dtype."""
    if dt is D.bool:
        return
    if isinstance(value, builtins.bool):
        raise RuntimeError(f"{op}: Boolean {name} only supported for Boolean results.")
    if dt.category == D._INT and isinstance(value, float):
        raise RuntimeError(f"{op}: For integral input tensors, argument {name} must not be a "
                           "floating point number.")


@composite(samples=(
    Sample(lambda t, m, a, b: t.addr(m, a, b), (Arg((3, 4)), Arg((3,)), Arg((4,))),
           dtypes=NUMERIC),
    Sample(lambda t, m, a, b: m.addr(a, b, beta=0.5, alpha=-2), (Arg((4,)), Arg((3,)),
                                                                 Arg((4,))), name="scaled"),
    Sample(lambda t, m, a, b: t.addr(m, a, b, beta=0), (
        Arg((2, 2), values=[[math.nan, 1.0], [2.0, math.inf]]), Arg((2,)), Arg((2,))),
        grad=False, name="beta0"),
    Sample(lambda t, m, a, b: t.addr(m, a, b), (Arg((2, 3)), Arg((2,)), Arg((3,))),
           dtypes=("bool",), grad=False, name="bool")))
@tensor_method()
def addr(input, vec1, vec2, *, beta=1, alpha=1, out=None):
    """beta * input + alpha * outer(vec1, vec2) (logical or/and for bool tensors).

    >>> import ember
    >>> ember.addr(ember.zeros(2, 2), ember.tensor([1., 2.]), ember.tensor([3., 4.]))
    tensor([[3., 4.],
            [6., 8.]])
    """
    for name, v in (("vec1", vec1), ("vec2", vec2)):
        if v.ndim != 1:
            raise RuntimeError(f"addr: Expected 1-D argument {name}, but got {v.ndim}-D")
    dt = result_type(input, vec1, vec2)
    shape = (vec1.shape[0], vec2.shape[0])
    base = input.expand(*shape)
    if dt is D.bool:
        product = vec1.unsqueeze(1) & vec2.unsqueeze(0)
        result = (base & builtins.bool(beta)) | (product & builtins.bool(alpha))
        return write_out(result, out)
    _check_scalar("beta", beta, dt, "addr")
    _check_scalar("alpha", alpha, dt, "addr")
    product = vec1.unsqueeze(1) * vec2.unsqueeze(0)
    if alpha != 1:
        product = product * alpha
    if beta == 0:
        result = product.to(dt)
    else:
        result = (base if beta == 1 else base * beta) + product
    return write_out(result, out)


def _addr_(self, vec1, vec2, *, beta=1, alpha=1):
    """In-place addr."""
    result = addr(self, vec1, vec2, beta=beta, alpha=alpha)
    if result._dtype.category > self._dtype.category:
        raise _cast_error(result._dtype, self._dtype)
    return self.copy_(result)


@composite(samples=(
    Sample(lambda t, x, y: t.dist(x, y), (Arg((3, 4)), Arg((3, 4)))),
    Sample(lambda t, x, y: x.dist(y, 1), (Arg((2, 3)), Arg((3,))), name="p1"),
    Sample(lambda t, x, y: t.dist(x, y, p=math.inf), (Arg((2, 3)), Arg((2, 3))), name="inf"),
    Sample(lambda t, x, y: t.dist(x, y, 3.5), (Arg((2, 3)), Arg((2, 3))), name="p3.5")))
@tensor_method()
def dist(input, other, p=2):
    """The p-norm of input - other.

    >>> import ember
    >>> ember.dist(ember.tensor([0., 0.]), ember.tensor([3., 4.]))
    tensor(5.)
    """
    return (input - other).norm(p)


def unravel_index(indices, shape):
    """Convert flat indices into coordinate tensors for an array of `shape` (indices wrap
    modulo the number of elements, as in torch).

    >>> import ember
    >>> ember.unravel_index(ember.tensor([4, 7]), (3, 4))
    (tensor([1, 1]), tensor([0, 3]))
    """
    if not isinstance(indices, Tensor):
        indices = tensor(indices)
    if indices._dtype.category != D._INT:
        raise TypeError(f"expected 'indices' to be integer dtype, but got {indices._dtype}")
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"'shape' cannot have negative values, but got {shape}")
    if 0 in shape:
        raise ValueError(f"unravel_index(): 'shape' cannot have zero sizes, but got {shape}")
    rest = indices.to(D.int64)
    coords = []
    for size in reversed(shape):
        coords.append(rest.remainder(size))
        rest = rest.div(size, rounding_mode="floor")
    return tuple(reversed(coords))


@composite(samples=(
    Sample(lambda t, x: t.combinations(x), (Arg((4,)),), dtypes=NUMERIC),
    Sample(lambda t, x: t.combinations(x, r=3, with_replacement=True), (Arg((3,)),),
           name="replacement"),
    Sample(lambda t, x: t.combinations(x, r=4), (Arg((3,)),), grad=False, name="too_many"),
    Sample(lambda t, x: t.combinations(x, r=0), (Arg((3,)),), grad=False, name="r0")))
def combinations(input, r: int = 2, with_replacement: bool = False):
    """All length-r combinations of the elements of 1-D `input`, as rows (itertools order).

    >>> import ember
    >>> ember.combinations(ember.tensor([1, 2, 3]))
    tensor([[1, 2],
            [1, 3],
            [2, 3]])
    """
    if input.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return input.new_empty(0)
    pick = itertools.combinations_with_replacement if with_replacement else \
        itertools.combinations
    rows = list(pick(range(input.shape[0]), r))
    if not rows:
        return input.new_empty(0, r)
    columns = tensor(rows, dtype=D.int64, device=input.device).t()
    return stack([index_select(input, 0, columns[k]) for k in range(r)], 1)


# ---- Tensor housekeeping ------------------------------------------------------------------------
def _root_array(data):
    """The array that owns the memory behind `data` (the start of its chain of views)."""
    root = data
    while isinstance(getattr(root, "base", None), type(data)):
        root = root.base
    return root


def _address(data) -> int:
    if isinstance(data, np.ndarray):
        return data.__array_interface__["data"][0]
    return data.data.ptr


class UntypedStorage:
    """The bytes behind a tensor, shared by all of its views (what torch's untyped_storage()
    returns): data_ptr(), nbytes(), size() and element_size() describe the whole allocation."""

    def __init__(self, data, dev: device):
        self._data = data
        self.device = dev

    def _span(self):
        data = self._data
        if isinstance(data, np.ndarray):
            root = _root_array(data)
            return _address(root), root.nbytes
        return data.data.mem.ptr, data.data.mem.size

    def data_ptr(self) -> int:
        return self._span()[0]

    def nbytes(self) -> int:
        return self._span()[1]

    def size(self) -> int:
        return self.nbytes()

    __len__ = size

    def element_size(self) -> int:
        return 1

    def tolist(self) -> list:
        root = _root_array(to_numpy(self._data))
        return np.ascontiguousarray(root).view(np.uint8).reshape(-1).tolist()

    def __getitem__(self, index):
        return self.tolist()[index]

    def is_shared(self) -> bool:
        return self.device.type == "cuda" or _is_shared_array(_root_array(self._data))

    def is_pinned(self, device=None) -> bool:
        return _is_pinned_array(_root_array(self._data))

    def __repr__(self) -> str:
        body = "".join(f" {b}\n" for b in self.tolist())
        return f"{body}[torch.storage.UntypedStorage(device={self.device}) of size {len(self)}]"


def _is_shared_array(root) -> bool:
    owner = getattr(root, "base", None)
    if isinstance(owner, memoryview):
        owner = owner.obj
    return isinstance(owner, mmap.mmap)


def _is_pinned_array(root) -> bool:
    return type(getattr(root, "base", None)).__name__ == "PinnedMemoryPointer"


def _untyped_storage(self) -> UntypedStorage:
    """The storage (memory block) this tensor views, shared with every view of it."""
    return UntypedStorage(self._data, self._device)


def _is_set_to(self, tensor) -> bool:
    """True when both tensors view the same memory with the same offset, shape and strides."""
    a, b = self._data, tensor._data
    return (self._device == tensor._device and self._dtype is tensor._dtype
            and a.shape == b.shape and a.strides == b.strides and _address(a) == _address(b))


def _sizes(args, op: str) -> tuple:
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    shape = tuple(int(s) for s in args)
    if any(s < 0 for s in shape):
        raise RuntimeError(f"{op}: Trying to create tensor with negative dimension: {list(shape)}")
    return shape


def _resize_(self, *sizes, memory_format=None):
    """Give the tensor a new shape in place, keeping its memory where it is large enough
    (elements are read in memory order from the tensor's start); new elements are
    uninitialized. Its own shape, without a memory_format, changes nothing (as torch: a
    transposed tensor keeps its strides and values)."""
    if self._requires_grad:
        raise RuntimeError("cannot resize variables that require grad")
    shape = _sizes(sizes, "resize_")
    if shape == self._data.shape and memory_format is None:
        return self
    n = math.prod(shape)
    data = self._data
    xp = namespace(self._device)
    itemsize = self._dtype.itemsize
    root = _root_array(data)
    offset = _address(data) - _address(root)
    if root.flags.c_contiguous and offset + n * itemsize <= root.nbytes:
        raw = root.reshape(-1).view(np.uint8)[offset:offset + n * itemsize]
        self._data = raw.view(data.dtype).reshape(shape)
    else:
        fresh = xp.empty(n, dtype=data.dtype)
        keep = min(n, data.size)
        fresh[:keep] = data.reshape(-1)[:keep]
        self._data = fresh.reshape(shape)
    self._vbox[0] += 1
    return self


def _resize_as_(self, the_template, *, memory_format=None):
    """resize_ to the shape of `the_template`."""
    return _resize_(self, *the_template.shape)


def resize_as_(input, the_template, *, memory_format=None):
    """Resize `input` in place to the shape of `the_template`."""
    return _resize_as_(input, the_template)


def _share_memory_(self):
    """Move the data into shared memory, so processes forked afterwards see writes to it.

    Views taken before the move keep the old memory; call it before making views (torch
    moves the whole storage). CUDA tensors are returned as they are.
    """
    if self._device.type != "cpu" or _is_shared_array(_root_array(self._data)):
        return self
    data = self._data
    buffer = mmap.mmap(-1, builtins.max(data.nbytes, 1))
    shared = np.frombuffer(buffer, dtype=data.dtype, count=data.size).reshape(data.shape)
    shared[...] = data
    self._data = shared
    return self


def _is_shared(self) -> bool:
    """Whether the data lives in shared memory (always true on CUDA)."""
    return self._device.type == "cuda" or _is_shared_array(_root_array(self._data))


def _pin_memory(self, device=None):
    """A copy in page-locked host memory, for faster copies to the GPU (needs CuPy and a GPU)."""
    if self._device.type != "cpu":
        raise RuntimeError(f"cannot pin '{self.type()}' only dense CPU tensors can be pinned")
    if not cuda_available():
        raise RuntimeError("Cannot access accelerator device when none is available.")
    import cupy
    data = self._data
    memory = cupy.cuda.alloc_pinned_memory(builtins.max(data.nbytes, 1))
    pinned = np.frombuffer(memory, dtype=data.dtype, count=data.size).reshape(data.shape)
    pinned[...] = data
    return Tensor._wrap(pinned, self._dtype, self._device)


def _is_pinned(self, device=None) -> bool:
    """Whether the data lives in page-locked host memory."""
    return self._device.type == "cpu" and _is_pinned_array(_root_array(self._data))


def _to_dense(self, dtype=None, *, masked_grad=None):
    """The tensor itself (ember tensors are always dense)."""
    return self if dtype is None else self.to(dtype)


def _channels_last(shape, strides) -> bool:
    """Whether a 4-d layout is NHWC-contiguous (size-1 dims may have any stride)."""
    if len(shape) != 4:
        return False
    expected = 1
    for d in (1, 3, 2, 0):
        if shape[d] != 1:
            if strides[d] != expected:
                return False
            expected *= shape[d]
    return True


def _dim_order(self) -> tuple:
    """Dims from outermost to innermost in memory. A layout that is contiguous (or channels
    last) and not also the other gives its natural order; otherwise dims sort by decreasing
    stride, equal strides putting the larger dim outside, zero strides (broadcast dims)
    staying where they are."""
    strides, shape = self.stride(), self.shape
    contiguous, nhwc = self.is_contiguous(), _channels_last(shape, strides)
    if contiguous and not nhwc:
        return tuple(range(self.ndim))
    if nhwc and not contiguous:
        return (0, 2, 3, 1)

    def outer(a: int, b: int) -> int:
        """1 if dim a lies outside dim b, -1 if inside, 0 if undecided."""
        if strides[a] == 0 or strides[b] == 0:
            return 0
        if strides[a] != strides[b]:
            return 1 if strides[a] > strides[b] else -1
        return 1 if shape[a] > shape[b] else 0

    order = list(range(self.ndim - 1, -1, -1))       # innermost first
    for i in range(1, len(order)):
        j = i
        for k in range(i - 1, -1, -1):
            decision = outer(order[k], order[j])
            if decision > 0:
                order[k], order[j] = order[j], order[k]
                j = k
            elif decision < 0:
                break
    return tuple(reversed(order))


def _check_map_target(self, op: str):
    if self._device.type != "cpu":
        raise TypeError(f"{op} is only implemented on CPU tensors")
    if self._requires_grad:
        raise RuntimeError(f"Can't call {op}() on Variable that requires grad. Use "
                           f"var.detach().{op}() instead.")


def _python_values(t) -> list:
    return t.reshape(-1).tolist()


def _store(self, values):
    self._data[...] = np.asarray(values).astype(self._data.dtype).reshape(self._data.shape)
    self._vbox[0] += 1
    return self


def _apply_(self, callable):
    """Replace every element x by callable(x) (a Python loop: CPU only, slow, no autograd)."""
    _check_map_target(self, "apply_")
    return _store(self, [callable(v) for v in _python_values(self)])


def _map_operands(self, others, op: str):
    for other in others:
        if other._dtype is not self._dtype:
            raise TypeError(f"{op}: expected {self.type()} for 'other' (got {other.type()})")
    return [_python_values(o.expand(*self.shape)) for o in others]


def _map_(self, tensor, callable):
    """Replace every element x by callable(x, y), y from `tensor` broadcast to self's shape."""
    _check_map_target(self, "map_")
    (other,) = _map_operands(self, (tensor,), "map_")
    return _store(self, [callable(a, b) for a, b in zip(_python_values(self), other)])


def _map2_(self, x, y, callable):
    """Replace every element a by callable(a, b, c), b and c from x and y broadcast."""
    _check_map_target(self, "map2_")
    xs, ys = _map_operands(self, (x, y), "map2_")
    return _store(self, [callable(a, b, c) for a, b, c in zip(_python_values(self), xs, ys)])


def _get_device(self) -> int:
    """The CUDA ordinal of the tensor's device, or -1 on the CPU."""
    return -1 if self._device.type == "cpu" else (self._device.index or 0)


def _tensor_where(self, condition, y):
    """where(condition, self, y)."""
    return where(condition, self, y)


def is_same_size(input, other) -> bool:
    """Whether two tensors have the same shape."""
    return input.shape == other.shape


def is_signed(input) -> bool:
    """Whether the tensor's dtype is signed (everything but bool and uint8)."""
    return input._dtype.is_signed


_METHODS = {
    "polygamma": _polygamma_method,
    "polygamma_": lambda self, n: apply_(Polygamma, self, n=_polygamma_order(n)),
    "lgamma_": lambda self: apply_(Lgamma, self),
    "digamma_": lambda self: apply_(Digamma, self),
    "mvlgamma": lambda self, p: mvlgamma(self, p),
    "mvlgamma_": lambda self, p: self.copy_(mvlgamma(self, p)),
    "sinc_": lambda self: apply_(Sinc, self),
    "nextafter_": lambda self, other: apply_(Nextafter, self, other),
    "ldexp_": lambda self, other: ldexp_(self, other),
    "gcd_": lambda self, other: apply_(Gcd, self, other),
    "lcm_": lambda self, other: apply_(Lcm, self, other),
    "heaviside_": lambda self, values: self.copy_(heaviside(self, values)),
    "addr_": _addr_,
    "is_same_size": is_same_size,
    "is_signed": is_signed,
    "untyped_storage": _untyped_storage,
    "is_set_to": _is_set_to,
    "resize_": _resize_,
    "resize_as_": _resize_as_,
    "share_memory_": _share_memory_,
    "is_shared": _is_shared,
    "pin_memory": _pin_memory,
    "is_pinned": _is_pinned,
    "to_dense": _to_dense,
    "dim_order": _dim_order,
    "apply_": _apply_,
    "map_": _map_,
    "map2_": _map2_,
    "get_device": _get_device,
    "where": _tensor_where,
    "cfloat": lambda self: self.to(D.complex64),
    "cdouble": lambda self: self.to(D.complex128),
    "conj_physical_": conj_physical_,
}
for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)
for _name in ("is_sparse", "is_sparse_csr", "is_quantized", "is_nested", "is_mkldnn"):
    setattr(Tensor, _name, property(lambda self: False, doc="Always False: ember tensors are "
                                                             "dense, strided and unquantized."))
Tensor.is_meta = property(lambda self: self._device.type == "meta",
                          doc="Whether the tensor lives on the 'meta' device.")


def sinc(input, *, out=None):
    """The normalized sinc: sin(pi x) / (pi x), 1 at 0.

    >>> import ember
    >>> ember.sinc(ember.tensor([0., 0.5]))
    tensor([1.0000, 0.6366])
    """
    return write_out(apply(Sinc, input), out)


def nextafter(input, other, *, out=None):
    """The next floating-point value after input in the direction of other."""
    return write_out(apply(Nextafter, input, other), out)


Tensor.sinc = sinc
Tensor.nextafter = nextafter


def gcd_(input, other):
    """In-place gcd."""
    return apply_(Gcd, input, other)


def lcm_(input, other):
    """In-place lcm."""
    return apply_(Lcm, input, other)


def ldexp_(input, other):
    """In-place ldexp."""
    _check_ldexp_exponent(input, other)
    return input.mul_(other.to(_ldexp_dtype(input, other)).exp2())


def sinc_(input):
    """In-place sinc."""
    return apply_(Sinc, input)


# ---- process-wide settings ----------------------------------------------------------------------
def typename(obj) -> str:
    """The type name torch prints for `obj`: 'torch.FloatTensor' for tensors, else the
    qualified name of the object (or of its class), without a 'builtins.' prefix."""
    if isinstance(obj, Tensor):
        return obj.type()
    module = getattr(obj, "__module__", "") or ""
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if name is None:
        module = type(obj).__module__ or ""
        name = type(obj).__qualname__
    return name if module in ("", "builtins") else f"{module}.{name}"


def set_default_device(device) -> None:
    """Set the device factory functions (zeros, tensor, arange, ...) use when given none;
    None restores the CPU.

    >>> import ember
    >>> ember.set_default_device("cpu")
    >>> ember.get_default_device()
    device(type='cpu')
    """
    _device.default_device[0] = _device.CPU if device is None else to_device(device)


def get_default_device() -> device:
    """The device factory functions use when given none (see set_default_device)."""
    return to_device(None)


class _Settings:
    deterministic = False
    warn_only = False
    num_threads = None
    interop_threads = None
    matmul_precision = "highest"


_MATMUL_PRECISIONS = ("highest", "high", "medium")


def set_float32_matmul_precision(precision: str) -> None:
    """Record the float32 matmul precision ('highest', 'high' or 'medium'). ember's CPU
    products are always full float32 (the highest); the setting is kept for code that reads
    it back. Another value warns and changes nothing, as in torch."""
    if precision not in _MATMUL_PRECISIONS:
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current "
                      "set_float32_matmul_precision call has no effect.", UserWarning,
                      stacklevel=2)
        return
    _Settings.matmul_precision = precision


def get_float32_matmul_precision() -> str:
    """The precision set_float32_matmul_precision last set ('highest' by default)."""
    return _Settings.matmul_precision


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Record whether deterministic algorithms are required.

    ember's NumPy kernels are deterministic already; the setting is kept so code that reads
    it back (are_deterministic_algorithms_enabled) sees what it set.
    """
    if not isinstance(mode, builtins.bool):
        raise TypeError(f"use_deterministic_algorithms(): argument 'mode' must be bool, not "
                        f"{type(mode).__name__}")
    _Settings.deterministic = mode
    _Settings.warn_only = builtins.bool(warn_only)


def are_deterministic_algorithms_enabled() -> bool:
    """Whether use_deterministic_algorithms(True) is in effect."""
    return _Settings.deterministic


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    """Whether use_deterministic_algorithms was given warn_only=True."""
    return _Settings.warn_only


_DEBUG_MODES = {"default": 0, "warn": 1, "error": 2}


def set_deterministic_debug_mode(debug_mode) -> None:
    """The int/str form of use_deterministic_algorithms: 0/'default' off, 1/'warn', 2/'error'."""
    if isinstance(debug_mode, str):
        if debug_mode not in _DEBUG_MODES:
            raise RuntimeError("invalid value of debug_mode, expected one of `default`, `warn`, "
                               f"`error`, but got {debug_mode}")
        debug_mode = _DEBUG_MODES[debug_mode]
    if debug_mode not in (0, 1, 2):
        raise RuntimeError(f"invalid value of debug_mode, expected 0, 1, or 2, but got "
                           f"{debug_mode}")
    use_deterministic_algorithms(debug_mode > 0, warn_only=debug_mode == 1)


def get_deterministic_debug_mode() -> int:
    """0 when deterministic algorithms are off, 1 when they only warn, 2 when they error."""
    if not _Settings.deterministic:
        return 0
    return 1 if _Settings.warn_only else 2


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _positive(n, op: str) -> int:
    if isinstance(n, builtins.bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise RuntimeError(f"{op} expects a positive integer (got {n!r})")
    return int(n)


def set_num_threads(int) -> None:
    """Record the number of intra-op threads.

    NumPy's BLAS picks its thread count when it loads, and no portable API changes it
    afterwards (set OMP_NUM_THREADS / OPENBLAS_NUM_THREADS before starting Python), so this is
    recorded for get_num_threads only.
    """
    _Settings.num_threads = _positive(int, "set_num_threads")


def get_num_threads() -> int:
    """The thread count set by set_num_threads, else OMP_NUM_THREADS, else the usable CPUs."""
    if _Settings.num_threads is not None:
        return _Settings.num_threads
    env = os.environ.get("OMP_NUM_THREADS", "")
    return builtins.int(env) if env.isdigit() and builtins.int(env) > 0 else _cpu_count()


def set_num_interop_threads(int) -> None:
    """Record the number of inter-op threads (ember runs ops one at a time; recorded only)."""
    _Settings.interop_threads = _positive(int, "set_num_interop_threads")


def get_num_interop_threads() -> int:
    """The count set by set_num_interop_threads, else the usable CPUs."""
    return _Settings.interop_threads or _cpu_count()


__all__ = [
    "lgamma", "digamma", "polygamma", "mvlgamma", "sinc", "sinc_", "nextafter", "frexp", "ldexp",
    "ldexp_", "gcd", "gcd_", "lcm", "lcm_", "heaviside", "isin", "complex", "polar",
    "view_as_real", "view_as_complex", "real", "imag", "conj", "conj_physical", "resolve_conj",
    "conj_physical_", "resolve_neg", "is_conj", "is_neg", "angle", "diff", "trapezoid", "trapz",
    "cumulative_trapezoid", "gradient", "vander", "cov", "corrcoef", "addr", "dist",
    "unravel_index", "combinations", "is_same_size", "is_signed", "resize_as_", "UntypedStorage",
    "typename", "set_default_device", "get_default_device", "use_deterministic_algorithms",
    "are_deterministic_algorithms_enabled", "is_deterministic_algorithms_warn_only_enabled",
    "set_deterministic_debug_mode", "get_deterministic_debug_mode", "set_num_threads",
    "get_num_threads", "set_num_interop_threads", "get_num_interop_threads",
    "set_float32_matmul_precision", "get_float32_matmul_precision"]
