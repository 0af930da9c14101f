"""torch.special's Bessel and Airy functions, the regularized incomplete gamma functions and
the classical orthogonal polynomials (torch.i0, igamma, igammac and their Tensor methods too).

The kernels are our own and compute in float64 through `xp`, whatever the input:
  - Bessel functions: power series for small arguments (positive terms for I, so no
    cancellation), Hankel's asymptotic expansions for large ones, and in between the integral
    representations (Schlaefli's for J and Y by Gauss-Legendre; e^x K as an integral of
    exp(-x (cosh t - 1)) by the trapezoidal rule, which converges geometrically there).
  - Airy Ai: its Maclaurin series near 0, the integral e^-zeta / pi int exp(-sqrt(x) t^2)
    cos(t^3 / 3) dt for x > 1, and (sqrt(x) / 3) (J_1/3 + J_-1/3)(zeta) for negative x.
  - gammainc / gammaincc: the power series of P, Legendre's continued fraction for Q, and a
    series of Q for small x, with a prefactor x^a e^-x / Gamma(a) that keeps its precision
    for large a.
  - Polynomials: their three-term recurrences, with n truncated to an integer as torch does
    (and, as torch, the trigonometric forms of the Chebyshev polynomials for larger n).
"""
from __future__ import annotations

import builtins
import math
from functools import lru_cache

import numpy as np

from .._tensor import Tensor
from ..testing.opinfo import FLOATS, NUMERIC, Arg, Sample, unary
from .dispatch import apply, apply_, write_out
from .misc import (_STIRLING, _as_f64, _kind_error, _lgamma_kernel, _lgamma_taylor, _like,
                   _quiet)
from .pointwise import _poly, where
from .registry import OpDef, register, tensor_method

_INF = math.inf
_NAN = math.nan
_EULER_GAMMA = 0.5772156649015329
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _refuse(op: str, *arrays, half: bool = False) -> None:
    """torch's NotImplementedError for integer, bool and complex arrays (and, for the ops
    torch has no half-precision kernels of, float16 and bfloat16)."""
    for a in arrays:
        if a.dtype.kind in "biuc" or (half and a.dtype.itemsize < 4):
            raise _kind_error(op, a, "real floating-point tensors")


# ---- Bessel functions: series, asymptotic expansions, integrals -------------------------------
_SERIES_TERMS = 60


def _power_series(xp, x, nu: int, sign: float):
    """(x/2)^nu sum_k sign^k (x^2/4)^k / (k! (k+nu)!) and the same sum weighted by
    psi(k+1) + psi(k+nu+1): the pieces of the series of J, Y (sign -1) and I, K (sign +1)."""
    q = sign * x * x / 4
    term = (x / 2) ** nu / math.factorial(nu)
    psi_sum = -2 * _EULER_GAMMA + (1.0 if nu == 1 else 0.0)
    plain, weighted = term.copy(), term * psi_sum
    for k in range(1, _SERIES_TERMS):
        term = term * q / (k * (k + nu))
        psi_sum += 1 / k + 1 / (k + nu)
        plain += term
        weighted += psi_sum * term
    return plain, weighted


@lru_cache(maxsize=None)
def _hankel_coefficients(nu: float, terms: int = 32) -> tuple:
    """a_k(nu) = prod_{j<=k} (4 nu^2 - (2j-1)^2) / (k! 8^k) of Hankel's expansions."""
    out, a = [1.0], 1.0
    for k in range(1, terms):
        a *= (4 * nu * nu - (2 * k - 1) ** 2) / (k * 8)
        out.append(a)
    return tuple(out)


def _hankel_pq(xp, x, nu: float):
    """Hankel's P(nu, x) and Q(nu, x), for x large enough that the series is exact in double."""
    a = _hankel_coefficients(nu)
    inv2 = 1 / (x * x)
    p = _poly(xp, inv2, tuple((-1) ** k * c for k, c in enumerate(a[0::2])))
    q = _poly(xp, inv2, tuple((-1) ** k * c for k, c in enumerate(a[1::2]))) / x
    return p, q


def _hankel_jy(xp, x, nu: float):
    """J_nu(x) and Y_nu(x) for large x: sqrt(2 / (pi x)) (P cos chi -+ Q sin chi) with
    chi = x - (nu/2 + 1/4) pi; cos and sin of x itself keep the phase exact."""
    p, q = _hankel_pq(xp, x, nu)
    phase = (nu / 2 + 0.25) * math.pi
    cos_x, sin_x = xp.cos(x), xp.sin(x)
    cos_chi = cos_x * math.cos(phase) + sin_x * math.sin(phase)
    sin_chi = sin_x * math.cos(phase) - cos_x * math.sin(phase)
    scale = xp.sqrt(2 / (math.pi * x))
    return scale * (p * cos_chi - q * sin_chi), scale * (p * sin_chi + q * cos_chi)


_HANKEL_FROM = 25.0   # beyond this the asymptotic series of J, Y and I is exact in double


@lru_cache(maxsize=None)
def _gauss_legendre(n: int):
    """Gauss-Legendre nodes and weights on [0, 1]."""
    nodes, weights = np.polynomial.legendre.leggauss(n)
    return (nodes + 1) / 2, weights / 2


def _schlaefli_jy(xp, x, nu: float):
    """J_nu(x) and Y_nu(x) for moderate x > 0 from Schlaefli's integrals: over [0, pi] of
    cos(nu t - x sin t) and sin(x sin t - nu t), and over [0, inf) of exp(-x sinh t -+ nu t),
    each an entire integrand that Gauss-Legendre sums geometrically fast."""
    nodes, weights = (xp.asarray(v) for v in _gauss_legendre(96))
    theta = math.pi * nodes
    arg = x[:, None] * xp.sin(theta) - nu * theta
    j, y = xp.cos(arg) @ weights, xp.sin(arg) @ weights
    span = xp.arcsinh(45 / x)[:, None]     # exp(-x sinh t) < e^-45 beyond
    t = span * nodes
    decay = xp.exp(-x[:, None] * xp.sinh(t))
    up, down = xp.exp(nu * t), xp.exp(-nu * t)
    sin_nu, cos_nu = math.sin(math.pi * nu), math.cos(math.pi * nu)
    if sin_nu:
        j = j - sin_nu / math.pi * span[:, 0] * ((decay * down) @ weights)
    y = y - span[:, 0] / math.pi * ((decay * (up + cos_nu * down)) @ weights)
    return j, y


def _bessel_jy_positive(xp, x, nu: int):
    """J_nu and Y_nu (nu 0 or 1) for flat x > 0: series, Schlaefli's integrals, Hankel."""
    j, y = xp.empty_like(x), xp.empty_like(x)
    small, large = x <= 2, x > _HANKEL_FROM
    middle = ~(small | large)
    if builtins.bool(small.any()):
        z = x[small]
        plain, weighted = _power_series(xp, z, nu, -1.0)
        j[small] = plain
        y[small] = 2 / math.pi * xp.log(z / 2) * plain - weighted / math.pi
        if nu == 1:
            y[small] -= 2 / (math.pi * z)
    if builtins.bool(middle.any()):
        j[middle], y[middle] = _schlaefli_jy(xp, x[middle], float(nu))
    if builtins.bool(large.any()):
        j[large], y[large] = _hankel_jy(xp, x[large], float(nu))
    return j, y


def _bessel_j(xp, x, nu: int):
    z = _as_f64(x).reshape(-1)
    with _quiet():
        a = xp.abs(z)
        j, _ = _bessel_jy_positive(xp, xp.where((a == 0) | ~xp.isfinite(a), 1.0, a), nu)
        if nu == 1:
            j = xp.where(z < 0, -j, j)
        j = xp.where(a == 0, 1.0 - nu, xp.where(xp.isfinite(z), j, _NAN))
    return _like(xp, j.reshape(x.shape), x)


def _bessel_y(xp, x, nu: int):
    z = _as_f64(x).reshape(-1)
    with _quiet():
        ok = (z > 0) & xp.isfinite(z)
        _, y = _bessel_jy_positive(xp, xp.where(ok, z, 1.0), nu)
        y = xp.where(z == 0, -_INF, xp.where(ok, y, _NAN))
    return _like(xp, y.reshape(x.shape), x)


def _bessel_i_scaled(xp, a, nu: int):
    """exp(-a) I_nu(a) for flat finite a >= 0: the series (positive terms) below 25, Hankel's
    expansion of I beyond (the same a_k with every sign positive... alternating in 1/a)."""
    out = xp.empty_like(a)
    small = a <= _HANKEL_FROM
    if builtins.bool(small.any()):
        z = a[small]
        out[small] = _power_series(xp, z, nu, 1.0)[0] * xp.exp(-z)
    if builtins.bool((~small).any()):
        z = a[~small]
        coeffs = tuple((-1) ** k * c for k, c in enumerate(_hankel_coefficients(float(nu))))
        out[~small] = _poly(xp, 1 / z, coeffs) / xp.sqrt(2 * math.pi * z)
    return out


def _bessel_i(xp, x, nu: int, scaled: bool):
    """I_nu(x) or exp(-|x|) I_nu(x); I_1 and its scaled form are odd. As torch, I is inf once
    exp(|x|) overflows, and NaN at +-inf (where the scaled forms are 0)."""
    z = _as_f64(x).reshape(-1)
    with _quiet():
        a = xp.abs(z)
        finite = xp.isfinite(a)
        out = _bessel_i_scaled(xp, xp.where(finite, a, 0.0), nu)
        if not scaled:
            out = out * xp.exp(a)
        if nu == 1:
            out = xp.where(z < 0, -out, out)
        edge = xp.where(xp.isnan(z), _NAN, xp.copysign(0.0, z) if nu == 1 else 0.0) \
            if scaled else _NAN
        out = xp.where(finite, out, edge)
    return _like(xp, out.reshape(x.shape), x)


_K_STEP = 0.25
_K_NODES = np.arange(0, 10.0 + _K_STEP / 2, _K_STEP)


def _bessel_k_scaled(xp, x, nu: int):
    """exp(x) K_nu(x) for flat finite x > 0: the series below 1; above, the trapezoidal rule
    on int_0^inf exp(-x (cosh t - 1)) cosh(nu t) dt with t = u / sqrt(x) (an even integrand,
    analytic in a strip, so the rule converges geometrically in the step)."""
    out = xp.empty_like(x)
    small = x <= 1
    if builtins.bool(small.any()):
        z = x[small]
        plain, weighted = _power_series(xp, z, nu, 1.0)
        k = -xp.log(z / 2) * plain + weighted / 2 if nu == 0 else \
            1 / z + xp.log(z / 2) * plain - weighted / 2
        out[small] = k * xp.exp(z)
    if builtins.bool((~small).any()):
        z = x[~small][:, None]
        c = 1 / xp.sqrt(z)
        t = c * xp.asarray(_K_NODES)
        f = xp.exp(-2 * z * xp.sinh(t / 2) ** 2) * (xp.cosh(t) if nu == 1 else 1.0)
        out[~small] = _K_STEP * c[:, 0] * (f.sum(axis=1) - f[:, 0] / 2)
    return out


def _bessel_k(xp, x, nu: int, scaled: bool):
    z = _as_f64(x).reshape(-1)
    with _quiet():
        ok = (z > 0) & xp.isfinite(z)
        out = _bessel_k_scaled(xp, xp.where(ok, z, 1.0), nu)
        if not scaled:
            out = out * xp.exp(-z)
        out = xp.where(z == 0, _INF, xp.where(z == _INF, 0.0, out))
        out = xp.where((z < 0) | xp.isnan(z), _NAN, out)
    return _like(xp, out.reshape(x.shape), x)


def _spherical_j0(xp, x):
    """sin(x) / x, by its Taylor series near 0."""
    z = _as_f64(x)
    with _quiet():
        z2 = z * z
        series = _poly(xp, z2, tuple((-1) ** k / math.factorial(2 * k + 1) for k in range(8)))
        out = xp.where(xp.abs(z) < 0.5, series, xp.sin(z) / z)
        out = xp.where(xp.isinf(z), 0.0, out)
    return _like(xp, out, x)


# ---- Airy Ai ----------------------------------------------------------------------------------
_AI0 = 0.3550280538878172       # Ai(0) = 1 / (3^(2/3) Gamma(2/3))
_AIP0 = 0.2588194037928068      # -Ai'(0) = 1 / (3^(1/3) Gamma(1/3))
_AIRY_STEP = 0.15
_AIRY_NODES = np.arange(0, 6.6, _AIRY_STEP)


def _airy_series(xp, x):
    """Ai(x) = Ai(0) f(x) + Ai'(0) g(x), the Maclaurin series (for small |x|)."""
    cube = x * x * x
    f, g = xp.ones_like(x), x.copy()
    tf, tg = f.copy(), g.copy()
    for k in range(1, 30):
        tf = tf * cube / ((3 * k - 1) * (3 * k))
        tg = tg * cube / ((3 * k) * (3 * k + 1))
        f += tf
        g += tg
    return _AI0 * f - _AIP0 * g


def _airy_positive(xp, x):
    """Ai(x) for x > 1: e^-zeta / (pi x^(1/4)) int_0^inf exp(-s^2) cos(s^3 / (3 x^(3/4))) ds
    by the trapezoidal rule (an even integrand, geometric convergence)."""
    s = xp.asarray(_AIRY_NODES)
    quarter = x ** 0.25
    f = xp.exp(-s * s) * xp.cos(s ** 3 / (3 * quarter[:, None] ** 3))
    integral = _AIRY_STEP * (f.sum(axis=1) - 0.5)
    return xp.exp(-2 / 3 * x * xp.sqrt(x)) / (math.pi * quarter) * integral


def _airy_negative(xp, y):
    """Ai(-y) for y > 2: (sqrt(y) / 3) (J_1/3(zeta) + J_-1/3(zeta)), zeta = 2/3 y^(3/2)."""
    zeta = 2 / 3 * y * xp.sqrt(y)
    total = xp.empty_like(y)
    large = zeta > _HANKEL_FROM
    if builtins.bool((~large).any()):
        z = zeta[~large]
        total[~large] = _schlaefli_jy(xp, z, 1 / 3)[0] + _schlaefli_jy(xp, z, -1 / 3)[0]
    if builtins.bool(large.any()):
        z = zeta[large]
        total[large] = _hankel_jy(xp, z, 1 / 3)[0] + _hankel_jy(xp, z, -1 / 3)[0]
    return xp.sqrt(y) / 3 * total


def _airy_ai(xp, x):
    z = _as_f64(x).reshape(-1)
    with _quiet():
        out = xp.empty_like(z)
        finite = xp.isfinite(z)
        regions = ((finite & (z > 1), _airy_positive),
                   (finite & (z < -2), lambda xp, v: _airy_negative(xp, -v)),
                   (~finite | ((z >= -2) & (z <= 1)), _airy_series))
        for pick, kernel in regions:
            if builtins.bool(pick.any()):
                out[pick] = kernel(xp, z[pick])
        out = xp.where(finite, out, _NAN)
    return _like(xp, out.reshape(x.shape), x)


# ---- regularized incomplete gamma functions ---------------------------------------------------
_EPS = 2.0 ** -53
_TINY = 1e-300


def _log1pmx(xp, x, a):
    """log(x / a) - (x - a) / a, by the Taylor series of log(1 + t) - t in t = (x - a) / a
    where the difference cancels."""
    t = (x - a) / a
    small = xp.abs(t) < 0.5
    u = xp.where(small, t, 0.0)
    series = xp.zeros_like(u)
    for k in range(60, 1, -1):
        series = (series + (-1) ** (k + 1) / k) * u
    return xp.where(small, series * u, xp.log(x / a) - t)


def _gamma_prefactor(xp, a, x):
    """x^a e^-x / Gamma(a). For a >= 10, sqrt(a / 2 pi) exp(a (log(x/a) - (x-a)/a) - s(a))
    with s Stirling's correction, so no large logarithms cancel."""
    big = a >= 10
    safe = xp.where(big, a, 10.0)
    inv = 1 / safe
    correction = _poly(xp, inv * inv, _STIRLING) * inv
    stirling = xp.sqrt(safe / (2 * math.pi)) * xp.exp(safe * _log1pmx(xp, x, safe) - correction)
    direct = xp.exp(a * xp.log(x) - x - _lgamma_kernel(xp, xp.where(big, 1.0, a)))
    return xp.where(big, stirling, direct)


def _until_converged(xp, state, step, limit=100_000):
    """Run `step(k, *state)` for k = 1, 2, ... on the entries not yet converged: `step`
    returns the new state and a mask of entries that are done (they stop being updated)."""
    *arrays, = state
    active = xp.arange(arrays[0].shape[0])
    for k in range(1, limit):
        if active.size == 0:
            break
        new, done = step(k, *(a[active] for a in arrays))
        for a, v in zip(arrays, new):
            a[active] = v
        active = active[~done]
    return arrays


def _lower_series(xp, a, x):
    """sum_n x^n / ((a+1) ... (a+n)): P(a, x) = prefactor / a times this (x < a + 1)."""
    def step(k, total, term, a, x):
        term = term * x / (a + k)
        total = total + term
        return (total, term, a, x), xp.abs(term) <= _EPS * total
    total, *_ = _until_converged(xp, (xp.ones_like(x), xp.ones_like(x), a, x), step)
    return total


def _upper_fraction(xp, a, x):
    """Legendre's continued fraction of Q(a, x) / prefactor (x >= a + 1), by Lentz's method."""
    b = x + 1 - a
    c = xp.full_like(x, 1 / _TINY)
    d = 1 / b

    def step(k, h, b, c, d, a):
        an = -k * (k - a)
        b = b + 2
        d = an * d + b
        d = xp.where(xp.abs(d) < _TINY, _TINY, d)
        c = b + an / c
        c = xp.where(xp.abs(c) < _TINY, _TINY, c)
        d = 1 / d
        delta = d * c
        return (h * delta, b, c, d, a), xp.abs(delta - 1) <= _EPS
    h, *_ = _until_converged(xp, (d.copy(), b, c, d, a.copy()), step)
    return h


def _upper_small_x(xp, a, x):
    """Q(a, x) for x <= 1.5, also where P is near 1: 1 - x^a / Gamma(a+1) (by expm1) less
    x^a / Gamma(a+1) * a * sum_{n>=1} (-x)^n / (n! (a+n)) (no cancellation for tiny a)."""
    near_one = a < 0.25      # lgamma(1 + a) by its Taylor series: 1 + a would round a away
    lgamma_1p = xp.where(near_one, _poly(xp, xp.where(near_one, a, 0.0), _lgamma_taylor()),
                         _lgamma_kernel(xp, a + 1))
    log_lead = a * xp.log(x) - lgamma_1p
    term, total = xp.ones_like(x), xp.zeros_like(x)
    for n in range(1, 40):
        term = term * -x / n
        total += term / (a + n)
    return -xp.expm1(log_lead) - xp.exp(log_lead) * a * total


def _igamma(xp, a, x, upper: bool):
    """P(a, x) (upper False) or Q(a, x) = 1 - P, with torch's conventions at the edges."""
    a, x = xp.broadcast_arrays(_as_f64(a), _as_f64(x))
    shape = a.shape
    a, x = a.reshape(-1), x.reshape(-1)
    with _quiet():
        out = xp.empty_like(a)
        ok = (a > 0) & (x > 0) & xp.isfinite(a) & xp.isfinite(x)
        small_x = ok & (x <= 1.5) if upper else ok & False
        lower = ok & ~small_x & (x < a + 1)
        fraction = ok & ~small_x & ~lower
        if builtins.bool(small_x.any()):
            out[small_x] = _upper_small_x(xp, a[small_x], x[small_x])
        if builtins.bool(lower.any()):
            aa, xx = a[lower], x[lower]
            p = _gamma_prefactor(xp, aa, xx) / aa * _lower_series(xp, aa, xx)
            out[lower] = 1 - p if upper else p
        if builtins.bool(fraction.any()):
            aa, xx = a[fraction], x[fraction]
            q = _gamma_prefactor(xp, aa, xx) * _upper_fraction(xp, aa, xx)
            out[fraction] = q if upper else 1 - q
        full = (x == _INF) | ((a == 0) & (x > 0))          # P = 1
        empty = ((x == 0) & (a > 0)) | ((a == _INF) & (x < _INF))   # P = 0
        out = xp.where(full, float(not upper), xp.where(empty, float(upper), out))
        bad = (a < 0) | (x < 0) | xp.isnan(a) | xp.isnan(x) | ((a == 0) & (x == 0)) | \
            ((a == _INF) & (x == _INF))
        out = xp.where(bad, _NAN, out)
    return out.reshape(shape)


# ---- orthogonal polynomials -------------------------------------------------------------------
def _degree(xp, n):
    """n as torch's kernels take it: truncated to an integer; NaN, inf and values beyond int64
    become negative (whose polynomial is 0)."""
    fits = xp.isfinite(n) & (xp.abs(n) < 2.0 ** 63)
    return xp.where(fits, xp.trunc(xp.where(fits, n, 0.0)), -1.0)


def _recurrence(xp, x, n, second, step):
    """p_n(x) for flat x and integer-valued n >= 2 from p_0 = 1, p_1 = second and
    p_{k+1} = step(k, x, p_k, p_{k-1}): entries are sorted by degree, so those still running
    at step k are a prefix of the arrays."""
    order = xp.argsort(-n, kind="stable")
    x, n = x[order], n[order]
    prev, cur = xp.ones_like(x), second(x)
    out = xp.empty_like(x)
    top = int(n[0]) if n.size else 1
    count = n.size
    for k in range(1, top):
        while count and n[count - 1] <= k:
            count -= 1
        nxt = step(k, x[:count], cur[:count], prev[:count])
        prev, cur = cur[:count], nxt
        done = n[:count] == k + 1
        out[:count][done] = cur[done]
    result = xp.empty_like(out)
    result[order] = out
    return result


def _polynomial(xp, x, n, rules, second, step):
    """A polynomial kernel: `rules(xp, x, n)` lists (mask, value) pairs tried in order before
    the recurrence (exact or closed forms), then n = 0, n = 1 and the recurrence."""
    x, n = xp.broadcast_arrays(_as_f64(x), _as_f64(n))
    shape = x.shape
    x, n = x.reshape(-1), _degree(xp, n.reshape(-1))
    with _quiet():
        out = xp.zeros_like(x)
        left = n >= 0
        for mask, value in rules(xp, x, n) + ((n == 0, xp.ones_like(x)), (n == 1, second(x))):
            pick = left & mask
            out = xp.where(pick, value, out)
            left &= ~mask
        if builtins.bool(left.any()):
            out[left] = _recurrence(xp, x[left], n[left], second, step)
    return out.reshape(shape)


def _alternating(xp, n):
    return xp.where(n % 2 == 0, 1.0, -1.0)


_TRIG_FROM = 8   # above this degree, Chebyshev polynomials inside (-1, 1) by their cos/sin forms


def _chebyshev(kind: str, shifted: bool):
    """The Chebyshev polynomial of the first to fourth kind (t, u, v, w) in y = x, or
    y = 2x - 1 for the shifted ones: exact values at y = +-1, trigonometric forms in
    (-1, 1) for larger n, else p_{k+1} = 2y p_k - p_{k-1}."""
    def argument(x):
        return 2 * x - 1 if shifted else x

    def second(x):
        y = argument(x)
        return {"t": y, "u": 2 * y, "v": 2 * y - 1, "w": 2 * y + 1}[kind]

    def rules(xp, x, n):
        y = argument(x)
        sign = _alternating(xp, n)
        at_one = {"t": 1.0, "u": n + 1, "v": 1.0, "w": 2 * n + 1}[kind]
        at_minus_one = sign * {"t": 1.0, "u": n + 1, "v": 2 * n + 1, "w": 1.0}[kind]
        theta = xp.arccos(xp.where(xp.abs(y) < 1, y, 0.0))
        trig = {"t": lambda: xp.cos(n * theta),
                "u": lambda: xp.sin((n + 1) * theta) / xp.sin(theta),
                "v": lambda: xp.cos((n + 0.5) * theta) / xp.cos(theta / 2),
                "w": lambda: xp.sin((n + 0.5) * theta) / xp.sin(theta / 2)}[kind]()
        return ((y == 1, at_one), (y == -1, at_minus_one),
                ((n > _TRIG_FROM) & (xp.abs(y) < 1), trig))

    def step(k, x, cur, prev):
        y = argument(x)
        return 2 * y * cur - prev
    return rules, second, step


def _no_rules(xp, x, n):
    return ()


_POLYNOMIALS = {
    **{f"{'shifted_' * shifted}chebyshev_polynomial_{kind}": _chebyshev(kind, shifted)
       for shifted in (False, True) for kind in "tuvw"},
    "hermite_polynomial_h": (_no_rules, lambda x: 2 * x,
                             lambda k, x, cur, prev: 2 * x * cur - 2 * k * prev),
    "hermite_polynomial_he": (_no_rules, lambda x: x,
                              lambda k, x, cur, prev: x * cur - k * prev),
    "laguerre_polynomial_l": (lambda xp, x, n: ((x == 0, xp.ones_like(x)),), lambda x: 1 - x,
                              lambda k, x, cur, prev: ((2 * k + 1 - x) * cur - k * prev)
                              / (k + 1)),
    "legendre_polynomial_p": (lambda xp, x, n: ((xp.abs(x) == 1, xp.where(
        x > 0, 1.0, _alternating(xp, n))),), lambda x: x,
        lambda k, x, cur, prev: ((2 * k + 1) * x * cur - k * prev) / (k + 1)),
}


# ---- the OpDefs -------------------------------------------------------------------------------
def _float_samples(name, low, high, values):
    """Samples of a unary torch.special function without half precision or a gradient (torch's
    own J, Y and Ai are off by up to ~3e-6 in the middle range: hence the absolute 5e-6)."""
    fn = (lambda t, x: getattr(t.special, name)(x))
    return unary(fn, low, high) + (
        Sample(fn, (Arg((len(values),), values=values),), dtypes=("float64",), grad=False,
               rtol=1e-7, atol=5e-6, name="points"),)


def _no_grad_unary(name: str, kernel, low: float, high: float, values):
    """A torch.special function torch defines no derivative or half-precision kernel for."""
    def forward(ctx, xp, x):
        _refuse(name, x, half=True)
        return kernel(xp, x)

    cls = type("Special" + "".join(p.capitalize() for p in name.split("_")), (OpDef,),
               {"forward": forward})
    return register("special_" + name, promote="float", pointwise=True, widens=False,
                    differentiable=False, samples=tuple(
                        Sample(s.fn, s.args, dtypes=s.dtypes, grad=False, rtol=s.rtol,
                               atol=s.atol, name=s.name)
                        for s in _float_samples(name, low, high, values)))(cls)


_EDGES = [0.0, -0.0, 1e-300, 3.5, -7.25, 40.0, -60.0, math.inf, -math.inf, math.nan]
_UNARY_KERNELS = {
    "airy_ai": (_airy_ai, -6.0, 4.0),
    "bessel_j0": (lambda xp, x: _bessel_j(xp, x, 0), -9.0, 9.0),
    "bessel_j1": (lambda xp, x: _bessel_j(xp, x, 1), -9.0, 9.0),
    "bessel_y0": (lambda xp, x: _bessel_y(xp, x, 0), 0.1, 9.0),
    "bessel_y1": (lambda xp, x: _bessel_y(xp, x, 1), 0.1, 9.0),
    "modified_bessel_i0": (lambda xp, x: _bessel_i(xp, x, 0, False), -9.0, 9.0),
    "modified_bessel_i1": (lambda xp, x: _bessel_i(xp, x, 1, False), -9.0, 9.0),
    "modified_bessel_k0": (lambda xp, x: _bessel_k(xp, x, 0, False), 0.1, 9.0),
    "modified_bessel_k1": (lambda xp, x: _bessel_k(xp, x, 1, False), 0.1, 9.0),
    "scaled_modified_bessel_k0": (lambda xp, x: _bessel_k(xp, x, 0, True), 0.1, 9.0),
    "scaled_modified_bessel_k1": (lambda xp, x: _bessel_k(xp, x, 1, True), 0.1, 9.0),
    "spherical_bessel_j0": (_spherical_j0, -9.0, 9.0),
}
_UNARY_OPS = {name: _no_grad_unary(name, kernel, low, high, _EDGES)
              for name, (kernel, low, high) in _UNARY_KERNELS.items()}


def _i_samples(fn, special: bool):
    """Samples of i0, i0e, i1, i1e: values, gradients (also through 0) and half precision."""
    call = (lambda t, x: getattr(t.special, fn)(x)) if special else \
        (lambda t, x: getattr(t, fn)(x))
    return unary(call, -12.0, 12.0) + (
        Sample(call, (Arg((6,), values=[0.05, -0.5, 1e-3, 30.0, -80.0, 700.0]),),
               dtypes=("float64",), rtol=1e-9, name="points"),
        Sample(call, (Arg((2, 3), -6.0, 6.0),), dtypes=("float16", "bfloat16"), grad=False,
               rtol=1e-2, atol=1e-2, name="half"),
        Sample(call, (Arg((4,), values=[math.inf, -math.inf, math.nan, 800.0]),),
               dtypes=("float64",), grad=False, name="edges"))


def _modified_bessel_i(name: str, nu: int, scaled: bool, grad, special: bool):
    """i0, i0e, i1 or i1e: differentiable, computed in float32 for half-precision inputs."""
    def forward(ctx, xp, x):
        _refuse(name, x)
        ctx.save(x)
        return _bessel_i(xp, x, nu, scaled)

    def backward(ctx, g):
        (x,) = ctx.saved
        return grad(x, g)

    cls = type(name.capitalize(), (OpDef,), {"forward": forward, "backward": backward})
    return register(("special_" if special else "") + name, promote="float", pointwise=True,
                    samples=_i_samples(name, special))(cls)


def _safe_divisor(x):
    return where(x == 0, 1.0, x)


I0 = _modified_bessel_i("i0", 0, False, lambda x, g: g * i1(x), False)
I0e = _modified_bessel_i("i0e", 0, True, lambda x, g: g * (i1e(x) - x.sgn() * i0e(x)), True)
I1 = _modified_bessel_i("i1", 1, False, lambda x, g: g * where(
    x == 0, 0.5, i0(x) - i1(x) / _safe_divisor(x)), True)
I1e = _modified_bessel_i("i1e", 1, True, lambda x, g: g * where(
    x == 0, 0.5, i0e(x) - i1e(x) * (x.sgn() + 1 / _safe_divisor(x))), True)


def _igamma_samples(call):
    return (
        Sample(call, (Arg((3, 4), 0.1, 6.0, grad=False), Arg((3, 4), 0.1, 8.0)),
               dtypes=FLOATS),
        Sample(call, (Arg((2, 1, 4), 0.5, 30.0, grad=False), Arg((3, 1), 0.1, 40.0)),
               name="broadcast"),
        Sample(call, (Arg((2, 3), 0.5, 5.0, grad=False), Arg((2, 3), 0.5, 5.0)),
               dtypes=("float16", "bfloat16"), grad=False, rtol=1e-2, atol=1e-2, name="half"),
        Sample(call, (Arg((9,), values=[0.0, 0.0, 1.0, 2.0, -1.0, math.inf, 1e-20, 500.0, 3.0]),
                      Arg((9,), values=[0.0, 1.0, 0.0, math.inf, 1.0, 2.0, 0.5, 480.0,
                                        math.nan])),
               dtypes=("float64",), grad=False, rtol=1e-9, name="edges"))


def _igamma_op(name: str, upper: bool):
    """igamma (P) or igammac (Q): differentiable in x only, as torch."""
    sign = -1.0 if upper else 1.0

    def forward(ctx, xp, a, x):
        _refuse(name, a, x)
        ctx.save(a, x)
        return _like(xp, _igamma(xp, a, x, upper), a)

    def backward(ctx, g):
        if ctx.needs_input_grad[0]:
            raise NotImplementedError(f"the derivative for '{name}: input' is not implemented.")
        a, x = ctx.saved
        return None, sign * g * ((a - 1) * x.log() - x - a.lgamma()).exp()

    cls = type(name.capitalize(), (OpDef,), {"forward": forward, "backward": backward})
    public = "gammaincc" if upper else "gammainc"
    return register(name, pointwise=True, samples=_igamma_samples(
        lambda t, a, x: getattr(t.special, public)(a, x)) + (
        Sample(lambda t, a, x: getattr(t, name)(a, x), (Arg((5,), 0.2, 4.0, grad=False),
                                                       Arg((5,), 0.2, 4.0)), name="torch"),
        Sample(lambda t, a, x: getattr(a, name)(x), (Arg((5,), 0.2, 4.0, grad=False),
                                                    Arg((5,), 0.2, 4.0)), name="method")))(cls)


Igamma = _igamma_op("igamma", False)
Igammac = _igamma_op("igammac", True)


def _polynomial_op(name: str):
    """A torch.special polynomial p_n(x): n a tensor or a number, truncated to an integer."""
    rules, second, step = _POLYNOMIALS[name]

    def forward(ctx, xp, x, n):
        _refuse(name, x, n, half=True)
        return _polynomial(xp, x, n, rules, second, step).astype(xp.result_type(x, n), copy=False)

    def call(t, x, n):
        return getattr(t.special, name)(x, n)
    cls = type("".join(p.capitalize() for p in name.split("_")), (OpDef,),
               {"forward": forward})
    return register("special_" + name, promote="float", pointwise=True, widens=False,
                    differentiable=False, samples=(
                        Sample(call, (Arg((3, 4), -1.5, 1.5, grad=False),
                                      Arg((3, 4), 0.0, 12.0, grad=False)), dtypes=NUMERIC,
                               grad=False, rtol=1e-5, atol=1e-4),
                        Sample(lambda t, x: call(t, x, 5), (Arg((2, 3), -1.0, 1.0),),
                               grad=False, atol=1e-4, name="scalar_n"),
                        Sample(lambda t, n: call(t, 0.5, n), (Arg((2, 3), 0.0, 20.0),),
                               dtypes=NUMERIC, grad=False, atol=1e-4, name="scalar_x"),
                        Sample(call, (Arg((2, 1, 3), -1.0, 1.0), Arg((4, 1), 0.0, 9.0)),
                               grad=False, rtol=1e-4, atol=1e-4, name="broadcast"),
                        Sample(call, (Arg((8,), values=[1.0, -1.0, 0.0, 0.3, 2.0, 0.9,
                                                        0.7, -0.25]),
                                      Arg((8,), values=[7.0, 9.0, 3.0, -1.0, 6.0, 2.0, 2.5,
                                                        math.nan])),
                               dtypes=("float64",), grad=False, name="edges")))(cls)


_POLYNOMIAL_OPS = {name: _polynomial_op(name) for name in _POLYNOMIALS}


# ---- the public functions ---------------------------------------------------------------------
def _unary_function(name: str):
    op = _UNARY_OPS[name]

    def fn(input, *, out=None):
        return write_out(apply(op, input), out)
    fn.__name__ = name
    return fn


def _polynomial_function(name: str):
    op = _POLYNOMIAL_OPS[name]

    def fn(x, n, *, out=None):
        if not isinstance(x, Tensor) and not isinstance(n, Tensor):
            raise TypeError(f"special_{name}(): expected x or n to be a Tensor, got "
                            f"{type(x).__name__} and {type(n).__name__}")
        return write_out(apply(op, x, n), out)
    fn.__name__ = name
    return fn


airy_ai = _unary_function("airy_ai")
bessel_j0 = _unary_function("bessel_j0")
bessel_j1 = _unary_function("bessel_j1")
bessel_y0 = _unary_function("bessel_y0")
bessel_y1 = _unary_function("bessel_y1")
modified_bessel_i0 = _unary_function("modified_bessel_i0")
modified_bessel_i1 = _unary_function("modified_bessel_i1")
modified_bessel_k0 = _unary_function("modified_bessel_k0")
modified_bessel_k1 = _unary_function("modified_bessel_k1")
scaled_modified_bessel_k0 = _unary_function("scaled_modified_bessel_k0")
scaled_modified_bessel_k1 = _unary_function("scaled_modified_bessel_k1")
spherical_bessel_j0 = _unary_function("spherical_bessel_j0")
chebyshev_polynomial_t = _polynomial_function("chebyshev_polynomial_t")
chebyshev_polynomial_u = _polynomial_function("chebyshev_polynomial_u")
chebyshev_polynomial_v = _polynomial_function("chebyshev_polynomial_v")
chebyshev_polynomial_w = _polynomial_function("chebyshev_polynomial_w")
shifted_chebyshev_polynomial_t = _polynomial_function("shifted_chebyshev_polynomial_t")
shifted_chebyshev_polynomial_u = _polynomial_function("shifted_chebyshev_polynomial_u")
shifted_chebyshev_polynomial_v = _polynomial_function("shifted_chebyshev_polynomial_v")
shifted_chebyshev_polynomial_w = _polynomial_function("shifted_chebyshev_polynomial_w")
hermite_polynomial_h = _polynomial_function("hermite_polynomial_h")
hermite_polynomial_he = _polynomial_function("hermite_polynomial_he")
laguerre_polynomial_l = _polynomial_function("laguerre_polynomial_l")
legendre_polynomial_p = _polynomial_function("legendre_polynomial_p")


@tensor_method()
def i0(input, *, out=None):
    """The modified Bessel function of the first kind of order 0.

    >>> import ember
    >>> ember.i0(ember.tensor([0., 1., -2.]))
    tensor([1.0000, 1.2661, 2.2796])
    """
    return write_out(apply(I0, input), out)


def i0_(input):
    """In-place i0."""
    return apply_(I0, input)


def i0e(input, *, out=None):
    """exp(-|input|) * i0(input), without overflow for large arguments."""
    return write_out(apply(I0e, input), out)


def i1(input, *, out=None):
    """The modified Bessel function of the first kind of order 1 (odd)."""
    return write_out(apply(I1, input), out)


def i1e(input, *, out=None):
    """exp(-|input|) * i1(input), without overflow for large arguments."""
    return write_out(apply(I1e, input), out)


def _both_tensors(op: str, input, other) -> None:
    for position, (label, value) in enumerate((("input", input), ("other", other)), 1):
        if not isinstance(value, Tensor):
            raise TypeError(f"{op}(): argument '{label}' (position {position}) must be Tensor, "
                            f"not {type(value).__name__}")


@tensor_method()
def igamma(input, other, *, out=None):
    """The regularized lower incomplete gamma function P(input, other) (special.gammainc).

    >>> import ember
    >>> ember.igamma(ember.tensor([1., 2.]), ember.tensor([1., 2.]))
    tensor([0.6321, 0.5940])
    """
    _both_tensors("igamma", input, other)
    return write_out(apply(Igamma, input, other), out)


@tensor_method()
def igammac(input, other, *, out=None):
    """The regularized upper incomplete gamma function Q = 1 - P (special.gammaincc)."""
    _both_tensors("igammac", input, other)
    return write_out(apply(Igammac, input, other), out)


def gammainc(input, other, *, out=None):
    """The regularized lower incomplete gamma function P(input, other)."""
    _both_tensors("special_gammainc", input, other)
    return write_out(apply(Igamma, input, other), out)


def gammaincc(input, other, *, out=None):
    """The regularized upper incomplete gamma function Q(input, other) = 1 - P."""
    _both_tensors("special_gammaincc", input, other)
    return write_out(apply(Igammac, input, other), out)


def _igamma_(self, other):
    """In-place igamma."""
    _both_tensors("igamma_", self, other)
    return apply_(Igamma, self, other)


def _igammac_(self, other):
    """In-place igammac."""
    _both_tensors("igammac_", self, other)
    return apply_(Igammac, self, other)


Tensor.i0_ = i0_
Tensor.igamma_ = _igamma_
Tensor.igammac_ = _igammac_

__all__ = ["i0", "i0_", "igamma", "igammac"]
