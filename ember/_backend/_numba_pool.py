"""numba forms of max pooling's hot cases (imported only when numba is on, see accel).

The NumPy forms in conv_kernels make one pass over memory per window offset and ufunc, and
scatter through fancy indexing. These make one pass: (64, 32, 32, 32) float32 pooled 2x2 with
indices 3.2-4.5 ms -> 0.7 ms, as its gradient's scatter.
"""
from __future__ import annotations

from numba import njit

_OPTS = {"fastmath": {"nsz"}, "error_model": "numpy", "cache": True}


@njit(**_OPTS)
def max_pool_2x2(x, best, idx, with_idx):
    """2x2 windows at stride 2 of x (N, C, H, W) into best (N, C, OH, OW), windows inside x:
    the max and, when with_idx, its flat index in the plane into idx (the first one on ties,
    as torch).

    The window is a branch-free tournament (left beats right, top beats bottom on ties,
    which is scan order), so the loop runs in SIMD lanes. Returns whether it saw a NaN, where
    torch's rule (a NaN wins, the last one) needs the exact path instead."""
    n, c, h, w = x.shape
    oh, ow = best.shape[2], best.shape[3]
    nan = False
    for i in range(n):
        for j in range(c):
            plane = x[i, j]
            for a in range(oh):
                top, bottom = plane[2 * a], plane[2 * a + 1]
                out = best[i, j, a]
                if with_idx:
                    at = idx[i, j, a]
                    base = 2 * a * w
                    for b in range(ow):
                        v0, v1 = top[2 * b], top[2 * b + 1]
                        v2, v3 = bottom[2 * b], bottom[2 * b + 1]
                        right = v1 > v0
                        upper = v1 if right else v0
                        k_upper = 1 if right else 0
                        right = v3 > v2
                        lower = v3 if right else v2
                        k_lower = w + 1 if right else w
                        down = lower > upper
                        out[b] = lower if down else upper
                        at[b] = base + 2 * b + (k_lower if down else k_upper)
                        nan |= (v0 != v0) | (v1 != v1) | (v2 != v2) | (v3 != v3)
                else:
                    for b in range(ow):
                        v0, v1 = top[2 * b], top[2 * b + 1]
                        v2, v3 = bottom[2 * b], bottom[2 * b + 1]
                        out[b] = max(max(v0, v1), max(v2, v3))
                        nan |= (v0 != v0) | (v1 != v1) | (v2 != v2) | (v3 != v3)
    return nan


@njit(**_OPTS)
def unpool(g, index, out, accumulate):
    """out[p, index[p, k]] = g[p, k] for every plane p (+= when accumulate; otherwise the last
    write wins). Indices outside a plane are skipped and counted (the count is returned), so
    a bad index never writes outside `out`."""
    planes, m = g.shape
    size = out.shape[1]
    bad = 0
    for p in range(planes):
        src, at, dst = g[p], index[p], out[p]
        for k in range(m):
            t = at[k]
            if t < 0 or t >= size:
                bad += 1
            elif accumulate:
                dst[t] += src[k]
            else:
                dst[t] = src[k]
    return bad
