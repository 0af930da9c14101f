"""Convolution and pooling kernels on raw arrays (NumPy, or CuPy through `xp`).

Tensors are (N, C, *spatial). Geometry per spatial dimension: `pads` holds (lo, hi) pairs, so
asymmetric padding ('same' with even kernels, ceil-mode pooling) needs no copy of its own.
Convolution is im2col through a strided window view plus one batched GEMM, which yields the
(N, C, ...) layout directly. The transposed convolution (also the input gradient) runs one
channel-major GEMM over the whole batch instead, since batched GEMMs with its narrow inner
dimension run poorly, then accumulates strided slices, one per kernel offset, instead of
scattering element by element.
"""
from __future__ import annotations

import itertools
import math
import threading

import numpy as np

from . import gemm
from .accel import numba_forms
from .kernels import reduce_at

# Scratch arrays kept per thread for reuse, up to this many bytes in all.
_SCRATCH_BYTES = 128 << 20
# Pooling work (elements) that brings in the numba forms (_numba_pool); smaller work stays in
# NumPy unless they are loaded already.
_POOL_NUMBA_MIN = 1 << 14
# Bytes of GEMM columns the unit-stride transposed convolution sums per chunk of images.
_COLS_CHUNK_BYTES = 2 << 20
_FLOATS = (np.float32, np.float64)
_local = threading.local()


def scratch(xp, tag: str, shape, dtype, fill=None):
    """A work array that never leaves the kernel asking for it, reused across calls: a fresh
    large NumPy allocation page-faults on first touch, which costs about as much as the
    arithmetic done in it. `fill` sets every element (otherwise the contents are stale)."""
    if xp is not np:
        return xp.full(shape, fill, dtype=dtype) if fill is not None else xp.empty(shape, dtype)
    cache = getattr(_local, "arrays", None)
    if cache is None:
        cache = _local.arrays = {}
    key = (tag, tuple(shape), np.dtype(dtype).str)
    arr = cache.get(key)
    if arr is None:
        arr = np.empty(shape, dtype=dtype)
        if sum(a.nbytes for a in cache.values()) + arr.nbytes > _SCRATCH_BYTES:
            cache.clear()
        cache[key] = arr
    if fill is not None:
        arr.fill(fill)
    return arr


def out_size(size: int, lo: int, hi: int, k: int, s: int, d: int) -> int:
    """Number of window positions along one dimension (floor mode)."""
    return (size + lo + hi - d * (k - 1) - 1) // s + 1


def _as_strided(xp, x, shape, strides):
    if xp is np:
        return np.lib.stride_tricks.as_strided(x, shape, strides, writeable=False)
    return xp.lib.stride_tricks.as_strided(x, shape, strides)


def pad(xp, x, pads, value=0):
    """`x` grown by the (lo, hi) pads of its trailing dimensions, filled with `value`: a
    scratch array, read by the calling kernel only. A negative `hi` is ignored (the windows
    never reach that far)."""
    nd = len(pads)
    grow = [(lo, max(hi, 0)) for lo, hi in pads]
    if not any(lo or hi for lo, hi in grow):
        return x
    spatial = x.shape[-nd:]
    out = scratch(xp, "pad", x.shape[:-nd] + tuple(n + lo + hi for n, (lo, hi)
                                                  in zip(spatial, grow)), x.dtype, value)
    out[(Ellipsis,) + tuple(slice(lo, lo + n) for n, (lo, _) in zip(spatial, grow))] = x
    return out


def windows(xp, x, kernel, stride, dilation, outs):
    """A read-only view (..., *outs, *kernel) of the sliding windows of (padded) `x`."""
    nd = len(kernel)
    lead = x.ndim - nd
    sp = x.strides[lead:]
    shape = x.shape[:lead] + tuple(outs) + tuple(kernel)
    strides = (x.strides[:lead] + tuple(a * s for a, s in zip(sp, stride))
               + tuple(a * d for a, d in zip(sp, dilation)))
    return _as_strided(xp, x, shape, strides)


def offset_slices(kernel, stride, dilation, outs):
    """For each kernel offset (row-major), the slices of the padded input it reads."""
    ranges = [[slice(k * d, k * d + (o - 1) * s + 1, s) for k in range(kk)]
              for kk, s, d, o in zip(kernel, stride, dilation, outs)]
    return [(Ellipsis,) + combo for combo in itertools.product(*ranges)]


def im2col(xp, x, kernel, stride, pads, dilation, outs):
    """Columns (N, C * prod(kernel), prod(outs)) of the padded input, C-contiguous."""
    nd = len(kernel)
    n, c = x.shape[0], x.shape[1]
    win = windows(xp, pad(xp, x, pads), kernel, stride, dilation, outs)
    order = (0, 1) + tuple(range(2 + nd, 2 + 2 * nd)) + tuple(range(2, 2 + nd))
    return win.transpose(order).reshape(n, c * math.prod(kernel), math.prod(outs))


def col2im(xp, cols, size, kernel, stride, pads, dilation, outs):
    """The adjoint of im2col: cols (N, C, *kernel, *outs) summed back into (N, C, *size)."""
    full = [(o - 1) * s + d * (k - 1) + 1 for o, s, d, k in zip(outs, stride, dilation, kernel)]
    extent = tuple(max(f, lo + n) for f, n, (lo, _) in zip(full, size, pads))
    buf = xp.zeros(cols.shape[:2] + extent, dtype=cols.dtype)
    positions = itertools.product(*(range(k) for k in kernel))
    for offset, sl in zip(positions, offset_slices(kernel, stride, dilation, outs)):
        buf[sl] += cols[(slice(None), slice(None)) + offset]
    if extent == tuple(size):
        return buf
    crop = tuple(slice(lo, lo + n) for n, (lo, _) in zip(size, pads))
    return xp.ascontiguousarray(buf[(Ellipsis,) + crop])


def _accumulate_dtype(x):
    """float16/bfloat16 storage computes in float32 (NumPy has no fast GEMM for them)."""
    return x if x.dtype in (np.float32, np.float64) or x.dtype.kind in "iubc" else \
        x.astype(np.float32)


def _add_bias(y, b):
    """y += b along dimension 1, in place."""
    if b is not None:
        y += b.reshape((-1,) + (1,) * (y.ndim - 2)).astype(y.dtype, copy=False)
    return y


def conv(xp, x, w, b, stride, pads, dilation, groups):
    """y[n, o] = sum over c, k of w[o, c, k] * x_padded[n, g(o) * Cg + c, l * s + k * d] + b[o].

    Returns (y, cols): the im2col columns it used (None on the depthwise path), which the
    weight gradient can reuse."""
    kernel = w.shape[2:]
    n, c = x.shape[:2]
    o = w.shape[0]
    cg, og = c // groups, o // groups
    outs = tuple(out_size(x.shape[2 + i], lo, hi, k, s, d) for i, ((lo, hi), k, s, d)
                 in enumerate(zip(pads, kernel, stride, dilation)))
    dt = x.dtype
    x, w = _accumulate_dtype(x), _accumulate_dtype(w)
    cols = None
    if cg == 1 and groups > 1:
        y = _depthwise(xp, x, w, stride, pads, dilation, outs, groups)
    else:
        cols = im2col(xp, x, kernel, stride, pads, dilation, outs)
        if groups == 1:
            y = gemm.batched(xp, w.reshape(o, -1), cols)
        else:
            y = gemm.batched(xp, w.reshape(groups, og, -1),
                             cols.reshape(n, groups, cols.shape[1] // groups, cols.shape[-1]))
    y = _add_bias(y.reshape((n, o) + outs), b)
    return (y if y.dtype == dt else y.astype(dt)), cols


def _depthwise(xp, x, w, stride, pads, dilation, outs, groups):
    """Grouped convolution with one input channel per group: a sum over kernel offsets of
    broadcast products (no GEMM of tiny matrices)."""
    kernel = w.shape[2:]
    n = x.shape[0]
    og = w.shape[0] // groups
    xpd = pad(xp, x, pads)
    wk = w.reshape((groups, og, -1) + (1,) * len(outs))
    y = xp.zeros((n, groups, og) + tuple(outs), dtype=xp.result_type(x, w))
    for k, sl in enumerate(offset_slices(kernel, stride, dilation, outs)):
        y += xpd[sl][:, :, None] * wk[:, :, k]
    return y


def conv_transpose(xp, x, w, b, stride, pads, dilation, groups, size):
    """The adjoint of `conv` in its input: x (N, Cin, *outs), w (Cin, Og, *k) gives
    (N, G * Og, *size)."""
    kernel = tuple(w.shape[2:])
    n, cin = x.shape[:2]
    cg, og = cin // groups, w.shape[1]
    outs = tuple(x.shape[2:])
    dt = x.dtype
    x, w = _accumulate_dtype(x), _accumulate_dtype(w)
    if cg == 1 and groups > 1:
        y = _add_bias(_depthwise_transpose(xp, x, w, stride, pads, dilation, size, groups), b)
        return y if y.dtype == dt else y.astype(dt)
    full = [(m - 1) * s + d * (k - 1) + 1 for m, s, d, k in zip(outs, stride, dilation, kernel)]
    extent = tuple(max(f, lo + m) for f, m, (lo, _) in zip(full, size, pads))
    # (G, Og * K, Cg): the channel-major GEMM's left operand.
    wt = xp.ascontiguousarray(w.reshape(groups, cg, -1).transpose(0, 2, 1))
    if all(s == 1 for s in stride):
        buf = _scatter_unit_stride(xp, x, wt, kernel, dilation, extent)
    else:
        xt = scratch(xp, "wide", (groups, cg, n) + outs, x.dtype)
        xt[...] = x.reshape((n, groups, cg) + outs).transpose((1, 2, 0) + tuple(
            range(3, 3 + len(outs))))
        cols = gemm.batched(xp, wt, xt.reshape(groups, cg, -1),
                            out=scratch(xp, "cols", (groups, wt.shape[1], xt[0, 0].size),
                                        x.dtype))
        cols = cols.reshape((groups * og,) + kernel + (n,) + outs)
        buf = _scatter_strided(xp, cols, kernel, stride, dilation, extent)
    crop = tuple(slice(lo, lo + m) for m, (lo, _) in zip(size, pads))
    y = xp.ascontiguousarray(buf[(Ellipsis,) + crop].swapaxes(0, 1))
    return _add_bias(y if y.dtype == dt else y.astype(dt), b)


def _scatter_strided(xp, cols, kernel, stride, dilation, extent):
    """col2im, channel-major: cols (C, *kernel, N, *outs) summed into a scratch (C, N, *extent)
    buffer by one strided add per kernel offset."""
    nk = len(kernel)
    outs = cols.shape[2 + nk:]
    buf = scratch(xp, "sum", (cols.shape[0], cols.shape[1 + nk]) + tuple(extent), cols.dtype, 0)
    positions = itertools.product(*(range(k) for k in kernel))
    for offset, sl in zip(positions, offset_slices(kernel, stride, dilation, outs)):
        buf[sl] += cols[(slice(None),) + offset]
    return buf


def _scatter_unit_stride(xp, x, wt, kernel, dilation, extent):
    """conv_transpose with stride 1 into a scratch (C, N, *extent) buffer: the input is laid
    on the buffer's row pitch, so each kernel offset adds one long contiguous run per
    (channel, image) instead of many short rows. Images go a chunk at a time, so the GEMM's
    columns are summed while still in cache (a whole batch's columns, 21 MB for a 64x64x16x16
    gradient, made the GEMM run at half speed and the sums read them back from memory)."""
    nd = len(kernel)
    n, cin = x.shape[:2]
    groups = wt.shape[0]
    outs = tuple(x.shape[2:])
    mults = [math.prod(extent[j + 1:]) for j in range(nd)]
    run = outs[0] * mults[0]
    taps = math.prod(kernel)
    cout = groups * wt.shape[1] // taps
    chunk = max(1, min(n, _COLS_CHUNK_BYTES // (wt.shape[0] * wt.shape[1] * run * x.itemsize)))
    xt = scratch(xp, "wide", (cin, chunk, outs[0]) + tuple(extent[1:]), x.dtype, 0)
    cols = scratch(xp, "cols", (groups, wt.shape[1], chunk * run), x.dtype)
    tail = sum((k - 1) * d * m for k, d, m in zip(kernel[1:], dilation[1:], mults[1:]))
    buf = scratch(xp, "sum", (cout, n, extent[0] * mults[0] + tail), cols.dtype, 0)
    starts = [int(sum(t * d * m for t, d, m in zip(offset, dilation, mults)))
              for offset in np.indices(kernel).reshape(nd, -1).T]
    inside = (Ellipsis,) + tuple(slice(0, m) for m in outs[1:])
    for first in range(0, n, chunk):
        m = min(chunk, n - first)
        xt[:, :m][inside] = x[first:first + m].swapaxes(0, 1)
        part = gemm.batched(xp, wt, xt[:, :m].reshape(groups, cin // groups, m * run),
                            out=cols[:, :, :m * run]).reshape(cout, taps, m, run)
        for k, start in enumerate(starts):
            buf[:, first:first + m, start:start + run] += part[:, k]
    return buf[:, :, :extent[0] * mults[0]].reshape((cout, n) + tuple(extent))


def _depthwise_transpose(xp, x, w, stride, pads, dilation, size, groups):
    kernel = w.shape[2:]
    n = x.shape[0]
    og = w.shape[1]
    outs = x.shape[2:]
    full = [(o - 1) * s + d * (k - 1) + 1 for o, s, d, k in zip(outs, stride, dilation, kernel)]
    extent = tuple(max(f, lo + m) for f, m, (lo, _) in zip(full, size, pads))
    buf = xp.zeros((n, groups, og) + extent, dtype=xp.result_type(x, w))
    wk = w.reshape((groups, og, -1) + (1,) * len(outs))
    xg = x[:, :, None]
    for k, sl in enumerate(offset_slices(kernel, stride, dilation, outs)):
        buf[sl] += xg * wk[:, :, k]
    buf = buf.reshape((n, groups * og) + extent)
    crop = tuple(slice(lo, lo + m) for m, (lo, _) in zip(size, pads))
    return xp.ascontiguousarray(buf[(Ellipsis,) + crop])


def conv_weight_grad(xp, x, g, kernel, stride, pads, dilation, groups, cols=None):
    """d<conv(x, w), g>/dw: (O, C/groups, *kernel) from the input x and the output gradient g
    (`cols`: x's im2col columns when the forward kept them)."""
    n, c = x.shape[:2]
    o = g.shape[1]
    cg, og = c // groups, o // groups
    outs = g.shape[2:]
    lg = math.prod(outs)
    dt = x.dtype
    x, g = _accumulate_dtype(x), _accumulate_dtype(g)
    if cg == 1 and groups > 1:
        xpd = pad(xp, x, pads)
        g5 = g.reshape((n, groups, og) + tuple(outs))
        sp = "xyz"[:len(outs)]
        parts = [xp.einsum(f"ngo{sp},ng{sp}->go", g5, xpd[sl])
                 for sl in offset_slices(kernel, stride, dilation, outs)]
        gw = xp.stack(parts, axis=-1)
    else:
        if cols is None:
            cols = im2col(xp, x, kernel, stride, pads, dilation, outs)
        ck = cols.shape[1] // groups
        per_image = gemm.batched(xp, g.reshape(n, groups, og, lg),
                                 cols.reshape(n, groups, ck, lg).transpose(0, 1, 3, 2),
                                 out=scratch(xp, "parts", (n, groups, og, ck), cols.dtype))
        gw = per_image.sum(0)
    gw = gw.reshape((o, cg) + tuple(kernel))
    return gw if gw.dtype == dt else gw.astype(dt)


def _lowest(xp, dtype):
    if dtype.kind == "f" or dtype.kind == "V":
        return -np.inf
    if dtype.kind == "b":
        return False
    return np.iinfo(dtype).min


def window_max(xp, views, best, arg):
    """Elementwise max over a list of equally shaped arrays into `best`, and into `arg` the
    position of the winner in the list (the first maximum; a NaN wins, as in torch).

    Built from plain ufuncs (masked copies cost ~10x more in NumPy)."""
    best[...] = views[0]
    arg[...] = 0
    for k in range(1, len(views)):
        v = views[k]
        took = xp.greater(v, best)
        xp.maximum(best, v, out=best)
        arg += took * (arg.dtype.type(k) - arg)
    if best.dtype.kind in "fV" and bool(xp.isnan(best).any()):
        _nan_winners(xp, views, arg)


def _nan_winners(xp, views, arg):
    """Redo the winner positions where torch's rule (a NaN replaces the running max, a later NaN
    replaces an earlier one) differs from a plain comparison."""
    running = views[0].copy()
    arg[...] = 0
    for k in range(1, len(views)):
        v = views[k]
        take = xp.greater(v, running) | xp.isnan(v)
        xp.copyto(running, v, where=take)
        xp.copyto(arg, k, where=take)


def _winner_buffers(xp, shape, dtype, count):
    """The max values (returned) and the winning positions (scratch)."""
    arg_dtype = np.int8 if count < 128 else np.int64
    return xp.empty(shape, dtype=dtype), scratch(xp, "winner", shape, arg_dtype)


def _pool_forms(xp, size: int):
    return numba_forms(f"{__package__}._numba_pool", xp, size, _POOL_NUMBA_MIN)


def max_pool_2x2(xp, x, kernel, stride, pads, dilation, outs, indices=True, out=None):
    """max_pool's (values, indices), or (values, None) without `indices`, by the numba 2x2
    kernel when it applies (2-D windows of 2 at stride 2 inside a C-contiguous float plane,
    numba on, no NaN in x), else None. Values go into `out` when it is C-contiguous."""
    if not (x.ndim == 4 and tuple(kernel) == (2, 2) and tuple(stride) == (2, 2)
            and tuple(dilation) == (1, 1) and all(lo == 0 for lo, _ in pads)
            and all(2 * o <= n for o, n in zip(outs, x.shape[2:]))
            and x.dtype in _FLOATS and x.flags.c_contiguous):
        return None
    forms = _pool_forms(xp, x.size)
    if forms is None:
        return None
    shape = x.shape[:2] + tuple(outs)
    best = out if out is not None and out.flags.c_contiguous else np.empty(shape, x.dtype)
    idx = np.empty(shape if indices else (0, 0, 0, 0), dtype=np.int64)
    if forms.max_pool_2x2(x, best, idx, indices):
        return None
    if out is not None and best is not out:
        out[...] = best
        best = out
    return best, (idx if indices else None)


def max_pool(xp, x, kernel, stride, pads, dilation, outs):
    """Max over windows (N, C, *outs) and the flat index of each maximum in its input plane."""
    fast = max_pool_2x2(xp, x, kernel, stride, pads, dilation, outs)
    if fast is not None:
        return fast
    xpd = pad(xp, x, pads, _lowest(xp, x.dtype))
    views = [xpd[sl] for sl in offset_slices(kernel, stride, dilation, outs)]
    best, arg = _winner_buffers(xp, x.shape[:2] + tuple(outs), x.dtype, len(views))
    window_max(xp, views, best, arg)
    table, start = _index_tables(xp, x.shape[2:], kernel, stride, pads, dilation, outs)
    return best, xp.take(table, arg) + start


def _index_tables(xp, size, kernel, stride, pads, dilation, outs):
    """A window's flat input-plane index is start[window] + table[winning kernel offset]."""
    nd = len(kernel)
    mults = [math.prod(size[j + 1:]) for j in range(nd)]
    offsets = np.indices(kernel).reshape(nd, -1)
    table = sum(offsets[j] * (dilation[j] * mults[j]) for j in range(nd))
    start = sum(((np.arange(o) * s - lo) * m).reshape((-1,) + (1,) * (nd - 1 - j))
                for j, (o, s, (lo, _), m) in enumerate(zip(outs, stride, pads, mults)))
    return xp.asarray(table.astype(np.int64)), xp.asarray(start.astype(np.int64))


def gather_windows_max(xp, x, index_grids):
    """Adaptive max pooling: per spatial dimension an (out, kmax) grid of input positions
    (windows padded by repeating their last position); returns (max, flat index)."""
    nd = len(index_grids)
    outs = tuple(g.shape[0] for g in index_grids)
    kmax = tuple(g.shape[1] for g in index_grids)
    views = []
    for offset in itertools.product(*(range(k) for k in kmax)):
        key = [slice(None), slice(None)]
        for j in range(nd):
            shape = [1] * nd
            shape[j] = outs[j]
            key.append(xp.asarray(index_grids[j][:, offset[j]]).reshape(shape))
        views.append(x[tuple(key)])
    best, arg = _winner_buffers(xp, views[0].shape, x.dtype, len(views))
    window_max(xp, views, best, arg)
    size = x.shape[2:]
    idx = None
    rest = math.prod(kmax)
    mult = math.prod(size)
    for j in range(nd):
        rest //= kmax[j]
        mult //= size[j]
        kj = (arg // rest) % kmax[j]
        grid = xp.asarray(index_grids[j])
        shape = [1] * nd
        shape[j] = outs[j]
        rows = xp.arange(outs[j]).reshape(shape)
        pos = grid[rows, kj]
        idx = pos * mult if idx is None else idx + pos * mult
    return best, idx


def unpool(xp, g, index, size, accumulate):
    """Place g (N, C, *in) at flat positions `index` of zero planes (N, C, *size); repeated
    positions sum when `accumulate`, else the last write wins."""
    n, c = g.shape[:2]
    plane = math.prod(size)
    forms = _pool_forms(xp, g.size) if g.dtype in _FLOATS else None
    if forms is not None:
        out = np.zeros((n * c, plane), dtype=g.dtype)
        bad = forms.unpool(np.ascontiguousarray(g).reshape(n * c, -1),
                           np.ascontiguousarray(index, dtype=np.int64).reshape(n * c, -1),
                           out, accumulate)
        if bad:
            raise RuntimeError(f"max_unpool: {bad} indices fall outside the output planes of "
                               f"size {'x'.join(map(str, size))}")
        return out.reshape((n, c) + tuple(size))
    out = xp.zeros(n * c * plane, dtype=g.dtype)
    flat = (index.reshape(n * c, math.prod(index.shape[2:]))
            + (xp.arange(n * c, dtype=np.int64) * plane)[:, None]).reshape(-1)
    if accumulate:
        reduce_at(out, flat, g.reshape(-1), "sum")
    else:
        out[flat] = g.reshape(-1)
    return out.reshape((n, c) + tuple(size))
