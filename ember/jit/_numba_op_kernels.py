"""The numba loops behind op_kernels (imported only when numba is installed). Each writes
into the arrays it is given; float32 arrays use _numba_math's vectorizable exp/erf."""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange, types
from numba.extending import overload

from ._numba_math import erfc32_given, exp32, exp_of, like

# fast math without the no-inf/no-nan assumptions: masked scores are -inf
_OPTS = {"fastmath": {"nsz", "arcp", "contract", "afn", "reassoc"}, "error_model": "numpy",
         "cache": True}
_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def gelu_point(v):
    """(gelu(v), d gelu / dv) inside numba code, in v's precision (the overload below)."""
    c = 0.5 * (1.0 + math.erf(v * _SQRT_HALF))
    return v * c, c + v * math.exp(-0.5 * v * v) * _INV_SQRT_2PI


@overload(gelu_point)
def _gelu_point(v):
    if v != types.float32:
        return gelu_point

    def single(v):
        """float32: Phi(v) as erfc(|v| / sqrt 2) / 2, taken from 1 for v >= 0, so the
        negative tail has no cancellation (1 + erf(v / sqrt 2) lost up to 7% of gelu
        there); its exp(-v^2 / 2) is also the derivative's density."""
        half = np.float32(0.5)
        e = exp32(-min(half * v * v, np.float32(100.0)))
        tail = half * erfc32_given(abs(v) * np.float32(_SQRT_HALF), e)
        c = np.float32(1.0) - tail if v >= np.float32(0.0) else tail
        return v * c, c + v * e * np.float32(_INV_SQRT_2PI)
    return single


@njit(**_OPTS)
def gelu(x, y, slope, with_slope):
    """y = gelu(x), and slope = its derivative when with_slope, elementwise over flat
    arrays."""
    if with_slope:
        for i in range(x.size):
            y[i], slope[i] = gelu_point(x[i])
    else:
        for i in range(x.size):
            y[i] = gelu_point(x[i])[0]


@njit(**_OPTS)
def gelu_biased(rows, bias, y, slope, with_slope):
    """gelu of rows + bias (one bias per column), and its derivative when with_slope."""
    n, f = rows.shape
    for r in range(n):
        row, yr, dr = rows[r], y[r], slope[r]
        if with_slope:
            for j in range(f):
                yr[j], dr[j] = gelu_point(row[j] + bias[j])
        else:
            for j in range(f):
                yr[j] = gelu_point(row[j] + bias[j])[0]


@njit(**_OPTS, inline="always")
def _combine(code, x, y):
    """x + y, x - y, x * y or y - x for code 0, 1, 2, 3."""
    if code == 0:
        return x + y
    if code == 1:
        return x - y
    if code == 2:
        return x * y
    return y - x


@njit(**_OPTS)
def row_sum(code, a, b, out, sums):
    """out = a (op code) b row by row, adding each row into sums (rows in order, as NumPy
    sums over leading dims); out is a new array."""
    n, f = a.shape
    for r in range(n):
        ar, br, orow = a[r], b[r], out[r]
        for j in range(f):
            v = _combine(code, ar[j], br[j])
            orow[j] = v
            sums[j] += v


@njit(**_OPTS)
def row_sum_into(code, a, b, sums):
    """row_sum writing into a itself (with a and b of one shape, LLVM vectorizes a read and
    write of one array at one index; a third array that may be a or b it does not)."""
    n, f = a.shape
    for r in range(n):
        ar, br = a[r], b[r]
        for j in range(f):
            v = _combine(code, ar[j], br[j])
            ar[j] = v
            sums[j] += v


@njit(**_OPTS)
def layer_norm(rows, w, b, eps, xhat, rstd, y):
    """Each row normalized, then scaled by w and shifted by b (ones and zeros when the op has
    none). Mean and variance accumulate in float64; the per-element pass runs in the rows'
    precision, so float32 rows take full-width SIMD."""
    n, f = rows.shape
    for r in range(n):
        row = rows[r]
        total = 0.0
        for j in range(f):
            total += row[j]
        mean = total / max(f, 1)
        var = 0.0
        for j in range(f):
            d = row[j] - mean
            var += d * d
        inv = 1.0 / math.sqrt(var / max(f, 1) + eps)
        rstd[r, 0] = inv
        m, s = like(mean, rstd[r, 0]), like(inv, rstd[r, 0])
        hr, yr = xhat[r], y[r]
        for j in range(f):
            h = (row[j] - m) * s
            hr[j] = h
            yr[j] = h * w[j] + b[j]


@njit(**_OPTS, inline="always")
def _norm_row(gr, hr, w, s, gw, gb):
    """For one row of layer_norm's backward: accumulate the weight and bias gradients and
    return (mean, dot) of g * w and of g * w * xhat, in the row's precision (s: its rstd)."""
    f = gr.shape[0]
    mean = 0.0
    dot = 0.0
    for j in range(f):
        gj = gr[j]
        h = hr[j]
        gw[j] += gj * h
        gb[j] += gj
        t = gj * w[j]
        mean += t
        dot += t * h
    return like(mean / max(f, 1), s), like(dot / max(f, 1), s)


@njit(**_OPTS)
def layer_norm_backward(g, xhat, rstd, w, need_x, gx, gw, gb):
    """Gradients of layer_norm (w: ones when the op has no weight); gw and gb accumulate over
    the rows into the arrays given."""
    n, f = g.shape
    for r in range(n):
        gr, hr, s = g[r], xhat[r], rstd[r, 0]
        m, d = _norm_row(gr, hr, w, s, gw, gb)
        if need_x:
            xr = gx[r]
            for j in range(f):
                xr[j] = (gr[j] * w[j] - m - hr[j] * d) * s


@njit(**_OPTS, inline="always")
def _row_max(row):
    """The largest entry of a row in eight independent chains (a single chain of max runs
    one compare at a time: 73 -> 40 us over 4096 rows of 64). A NaN may be passed over here;
    the exp pass after it brings it back into the whole row."""
    f = row.shape[0]
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = row[0]
    j = 0
    while j + 8 <= f:
        a0, a1 = max(a0, row[j]), max(a1, row[j + 1])
        a2, a3 = max(a2, row[j + 2]), max(a3, row[j + 3])
        a4, a5 = max(a4, row[j + 4]), max(a5, row[j + 5])
        a6, a7 = max(a6, row[j + 6]), max(a7, row[j + 7])
        j += 8
    while j < f:
        a0 = max(a0, row[j])
        j += 1
    return max(max(max(a0, a1), max(a2, a3)), max(max(a4, a5), max(a6, a7)))


@njit(**_OPTS)
def layer_norm_backward_add(g, xhat, rstd, w, other, out, gw, gb, sums, with_sums):
    """layer_norm_backward's input gradient plus `other` (the residual stream's gradient),
    written once into out, with gw and gb accumulated as there and, when with_sums, the rows
    of out added into sums."""
    n, f = g.shape
    for r in range(n):
        gr, hr, s = g[r], xhat[r], rstd[r, 0]
        m, d = _norm_row(gr, hr, w, s, gw, gb)
        orow, xr = out[r], other[r]
        if with_sums:
            for j in range(f):
                v = (gr[j] * w[j] - m - hr[j] * d) * s + xr[j]
                orow[j] = v
                sums[j] += v
        else:
            for j in range(f):
                orow[j] = (gr[j] * w[j] - m - hr[j] * d) * s + xr[j]


@njit(**_OPTS)
def softmax(rows, y):
    """softmax of each row, in the rows' precision (float32: exp32, sums in float32 as
    NumPy's)."""
    n, f = rows.shape
    for r in range(n):
        row, yr = rows[r], y[r]
        top = _row_max(row)
        total = like(0.0, top)
        for j in range(f):
            e = exp_of(row[j] - top)
            yr[j] = e
            total += e
        inv = like(1.0, top) / total
        for j in range(f):
            yr[j] *= inv


@njit(**_OPTS)
def softmax_backward(g, y, scale, out):
    n, f = g.shape
    for r in range(n):
        dot = 0.0
        for j in range(f):
            dot += g[r, j] * y[r, j]
        for j in range(f):
            out[r, j] = (g[r, j] - dot) * y[r, j] * scale


@njit(**_OPTS)
def masked_softmax(rows, hidden, scale, y):
    """softmax(rows * scale) with hidden positions (row r reads hidden row r % len(hidden))
    at 0 and rows with nothing left all 0, as MaskedSoftmax's forward; a NaN makes its whole
    row NaN, as there. Hidden scores are -inf, whose exp is 0 (exp32 included), so the exp
    pass has no branch to vectorize around; float32 rows stay in float32."""
    n, f = rows.shape
    m = hidden.shape[0]
    zero, one, ninf = like(0.0, scale), like(1.0, scale), like(-np.inf, scale)
    for r in range(n):
        xr, hr, yr = rows[r], hidden[r % m], y[r]
        for j in range(f):
            yr[j] = ninf if hr[j] else xr[j] * scale
        top = _row_max(yr)
        if top == ninf:
            top = zero
        total = zero
        for j in range(f):
            e = exp_of(yr[j] - top)
            yr[j] = e
            total += e
        inv = zero if total == zero else one / total
        for j in range(f):
            yr[j] *= inv


@njit(**_OPTS)
def index_add_rows(out, index, src, alpha):
    """out[index[i]] += alpha * src[i] for each row i, in order (negative indices count from
    the end; the caller checked the bounds)."""
    n, f = src.shape
    rows = out.shape[0]
    for i in range(n):
        r = index[i]
        if r < 0:
            r += rows
        row, s = out[r], src[i]
        for j in range(f):
            row[j] += alpha * s[j]


# ---- the loops above over blocks of rows, one block per thread (op_kernels._parts) --------
# Reductions over rows (gw, gb, sums) take one partial row per block, summed by the caller.
@njit(**_OPTS, inline="always")
def _span(n, parts, p, unit):
    """Rows [r0, r1) of block p of n rows cut into `parts` blocks of a multiple of `unit`."""
    step = ((n + parts - 1) // parts + unit - 1) // unit * unit
    return min(n, p * step), min(n, (p + 1) * step)


@njit(parallel=True, **_OPTS)
def gelu_par(x, y, slope, with_slope, parts):
    for p in prange(parts):
        r0, r1 = _span(x.size, parts, p, 16)
        gelu(x[r0:r1], y[r0:r1], slope[r0:r1], with_slope)


@njit(parallel=True, **_OPTS)
def gelu_biased_par(rows, bias, y, slope, with_slope, parts):
    for p in prange(parts):
        r0, r1 = _span(rows.shape[0], parts, p, 1)
        gelu_biased(rows[r0:r1], bias, y[r0:r1], slope[r0:r1], with_slope)


@njit(parallel=True, **_OPTS)
def row_sum_par(code, a, b, out, sums, parts):
    for p in prange(parts):
        r0, r1 = _span(a.shape[0], parts, p, 1)
        row_sum(code, a[r0:r1], b[r0:r1], out[r0:r1], sums[p])


@njit(parallel=True, **_OPTS)
def row_sum_into_par(code, a, b, sums, parts):
    for p in prange(parts):
        r0, r1 = _span(a.shape[0], parts, p, 1)
        row_sum_into(code, a[r0:r1], b[r0:r1], sums[p])


@njit(parallel=True, **_OPTS)
def layer_norm_par(rows, w, b, eps, xhat, rstd, y, parts):
    for p in prange(parts):
        r0, r1 = _span(rows.shape[0], parts, p, 1)
        layer_norm(rows[r0:r1], w, b, eps, xhat[r0:r1], rstd[r0:r1], y[r0:r1])


@njit(parallel=True, **_OPTS)
def layer_norm_backward_par(g, xhat, rstd, w, need_x, gx, gw, gb, parts):
    for p in prange(parts):
        r0, r1 = _span(g.shape[0], parts, p, 1)
        layer_norm_backward(g[r0:r1], xhat[r0:r1], rstd[r0:r1], w, need_x, gx[r0:r1], gw[p],
                            gb[p])


@njit(parallel=True, **_OPTS)
def layer_norm_backward_add_par(g, xhat, rstd, w, other, out, gw, gb, sums, with_sums, parts):
    for p in prange(parts):
        r0, r1 = _span(g.shape[0], parts, p, 1)
        layer_norm_backward_add(g[r0:r1], xhat[r0:r1], rstd[r0:r1], w, other[r0:r1],
                                out[r0:r1], gw[p], gb[p], sums[p], with_sums)


@njit(parallel=True, **_OPTS)
def softmax_par(rows, y, parts):
    for p in prange(parts):
        r0, r1 = _span(rows.shape[0], parts, p, 1)
        softmax(rows[r0:r1], y[r0:r1])


@njit(parallel=True, **_OPTS)
def softmax_backward_par(g, y, scale, out, parts):
    for p in prange(parts):
        r0, r1 = _span(g.shape[0], parts, p, 1)
        softmax_backward(g[r0:r1], y[r0:r1], scale, out[r0:r1])


@njit(parallel=True, **_OPTS)
def masked_softmax_par(rows, hidden, scale, y, parts):
    """Blocks start at multiples of the mask's rows, so row r still reads hidden[r % m]."""
    for p in prange(parts):
        r0, r1 = _span(rows.shape[0], parts, p, hidden.shape[0])
        masked_softmax(rows[r0:r1], hidden, scale, y[r0:r1])
