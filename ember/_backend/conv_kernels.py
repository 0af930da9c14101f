"""Convolution and pooling kernels on raw arrays (NumPy, or CuPy through `xp`).

Tensors are (N, C, *spatial). Geometry per spatial dimension: `pads` holds (lo, hi) pairs, so
asymmetric padding ('same' with even kernels, ceil-mode pooling) needs no copy of its own.
Convolution is im2col through a strided window view plus one GEMM over the whole batch; its
adjoints accumulate strided slices, one per kernel offset, instead of scattering element by
element. The copies and sums around the GEMMs are split over worker threads (`over_rows`).
"""
from __future__ import annotations

import itertools
import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .kernels import reduce_at

# Below this many elements a kernel step runs on one thread (a thread hand-off costs ~50 us).
_PARALLEL_MIN = 1 << 18
_pool = None
_workers = None


def _reset_pool() -> None:
    """A forked child (DataLoader workers) inherits the executor but not its threads."""
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_pool)


def over_rows(xp, n: int, size: int, fn) -> None:
    """Call fn(lo, hi) on chunks of a leading dimension [0, n). For NumPy arrays of `size`
    elements or more the chunks run on worker threads: NumPy releases the GIL inside copies and
    ufunc loops, the single-threaded part of these kernels (BLAS has threads of its own)."""
    global _pool, _workers
    if _workers is None:
        cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
        _workers = min(len(cores) if cores else (os.cpu_count() or 1), 8)
    k = min(_workers, n)
    if xp is not np or size < _PARALLEL_MIN or k < 2:
        fn(0, n)
        return
    if _pool is None:
        _pool = ThreadPoolExecutor(_workers, thread_name_prefix="ember-conv")
    bounds = [(i * n // k, (i + 1) * n // k) for i in range(k)]
    pending = [_pool.submit(fn, lo, hi) for lo, hi in bounds[1:]]
    fn(*bounds[0])
    for job in pending:
        job.result()


def out_size(size: int, lo: int, hi: int, k: int, s: int, d: int) -> int:
    """Number of window positions along one dimension (floor mode)."""
    return (size + lo + hi - d * (k - 1) - 1) // s + 1


def _as_strided(xp, x, shape, strides):
    if xp is np:
        return np.lib.stride_tricks.as_strided(x, shape, strides, writeable=False)
    return xp.lib.stride_tricks.as_strided(x, shape, strides)


def pad(xp, x, pads, value=0):
    """`x` grown by the (lo, hi) pads of its trailing dimensions, filled with `value`.

    A negative `hi` is ignored (the windows never reach that far)."""
    nd = len(pads)
    grow = [(lo, max(hi, 0)) for lo, hi in pads]
    if not any(lo or hi for lo, hi in grow):
        return x
    lead = x.shape[:-nd]
    spatial = x.shape[-nd:]
    out = xp.full(lead + tuple(n + lo + hi for n, (lo, hi) in zip(spatial, grow)), value,
                  dtype=x.dtype)
    inner = tuple(slice(lo, lo + n) for n, (lo, _) in zip(spatial, grow))
    if x.ndim == nd:
        out[inner] = x
        return out

    def copy(lo, hi):
        out[(slice(lo, hi), Ellipsis) + inner] = x[lo:hi]
    over_rows(xp, x.shape[0], x.size, copy)
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
    win = win.transpose(order)
    cols = xp.empty(win.shape, dtype=x.dtype)

    def copy(lo, hi):
        cols[lo:hi] = win[lo:hi]
    over_rows(xp, n, cols.size, copy)
    return cols.reshape(n, c * math.prod(kernel), math.prod(outs))


def col2im(xp, cols, size, kernel, stride, pads, dilation, outs):
    """The adjoint of im2col: cols (N, C, *kernel, *outs) summed back into (N, C, *size)."""
    full = [(o - 1) * s + d * (k - 1) + 1 for o, s, d, k in zip(outs, stride, dilation, kernel)]
    extent = tuple(max(f, lo + n) for f, n, (lo, _) in zip(full, size, pads))
    buf = xp.zeros(cols.shape[:2] + extent, dtype=cols.dtype)
    steps = list(zip(itertools.product(*(range(k) for k in kernel)),
                     offset_slices(kernel, stride, dilation, outs)))

    def accumulate(lo, hi):
        for offset, sl in steps:
            buf[lo:hi][sl] += cols[(slice(lo, hi), slice(None)) + offset]
    over_rows(xp, cols.shape[0], cols.size, accumulate)
    if extent == tuple(size):
        return buf
    crop = tuple(slice(lo, lo + n) for n, (lo, _) in zip(size, pads))
    return xp.ascontiguousarray(buf[(Ellipsis,) + crop])


def _accumulate_dtype(x):
    """float16/bfloat16 storage computes in float32 (NumPy has no fast GEMM for them)."""
    return x if x.dtype in (np.float32, np.float64) or x.dtype.kind in "iub" else \
        x.astype(np.float32)


# The convolutions below keep GEMM operands channel-major, (C, N * positions): one large GEMM
# covers the whole batch, which BLAS runs far better on several threads than N small ones.
def columns(xp, x, kernel, stride, pads, dilation, outs):
    """im2col in channel-major layout: (C * prod(kernel), N * prod(outs))."""
    nd = len(kernel)
    n, c = x.shape[0], x.shape[1]
    win = windows(xp, pad(xp, x, pads), kernel, stride, dilation, outs)
    order = (1,) + tuple(range(2 + nd, 2 + 2 * nd)) + (0,) + tuple(range(2, 2 + nd))
    win = win.transpose(order)
    cols = xp.empty(win.shape, dtype=x.dtype)
    lead = (slice(None),) * (1 + nd)

    def copy(lo, hi):
        cols[lead + (slice(lo, hi),)] = win[lead + (slice(lo, hi),)]
    over_rows(xp, n, cols.size, copy)
    return cols.reshape(c * math.prod(kernel), n * math.prod(outs))


def _channel_major(xp, a):
    """(N, C, *spatial) -> contiguous (C, N, *spatial)."""
    out = xp.empty((a.shape[1], a.shape[0]) + a.shape[2:], dtype=a.dtype)
    moved = a.swapaxes(0, 1)

    def copy(lo, hi):
        out[lo:hi] = moved[lo:hi]
    over_rows(xp, out.shape[0], out.size, copy)
    return out


def _batch_major(xp, a, bias=None):
    """(C, N, *spatial) -> contiguous (N, C, *spatial), adding a per-channel bias on the way."""
    out = xp.empty((a.shape[1], a.shape[0]) + a.shape[2:], dtype=a.dtype)
    moved = a.swapaxes(0, 1)
    if bias is not None:
        bias = bias.reshape((-1,) + (1,) * (a.ndim - 2)).astype(a.dtype, copy=False)

    def copy(lo, hi):
        if bias is None:
            out[lo:hi] = moved[lo:hi]
        else:
            xp.add(moved[lo:hi], bias, out=out[lo:hi])
    over_rows(xp, out.shape[0], out.size, copy)
    return out


def conv(xp, x, w, b, stride, pads, dilation, groups):
    """y[n, o] = sum over c, k of w[o, c, k] * x_padded[n, g(o) * Cg + c, l * s + k * d] + b[o].

    Returns (y, cols): the channel-major columns it used (None on the depthwise path), which
    the weight gradient can reuse."""
    kernel = w.shape[2:]
    n, c = x.shape[:2]
    o = w.shape[0]
    cg, og = c // groups, o // groups
    outs = tuple(out_size(x.shape[2 + i], lo, hi, k, s, d) for i, ((lo, hi), k, s, d)
                 in enumerate(zip(pads, kernel, stride, dilation)))
    dt = x.dtype
    x, w = _accumulate_dtype(x), _accumulate_dtype(w)
    if cg == 1 and groups > 1:
        y = _depthwise(xp, x, w, stride, pads, dilation, outs, groups).reshape((n, o) + outs)
        if b is not None:
            y += b.reshape((o,) + (1,) * len(outs)).astype(y.dtype, copy=False)
        return (y if y.dtype == dt else y.astype(dt)), None
    cols = columns(xp, x, kernel, stride, pads, dilation, outs)
    if groups == 1:
        y = w.reshape(o, -1) @ cols
    else:
        y = xp.matmul(w.reshape(groups, og, -1),
                      cols.reshape(groups, cols.shape[0] // groups, cols.shape[1]))
    y = _batch_major(xp, y.reshape((o, n) + outs), b)
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
    slices = offset_slices(kernel, stride, dilation, outs)

    def accumulate(lo, hi):
        for k, sl in enumerate(slices):
            y[lo:hi] += xpd[lo:hi][sl][:, :, None] * wk[:, :, k]
    over_rows(xp, n, y.size * len(slices), accumulate)
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
        y = _depthwise_transpose(xp, x, w, stride, pads, dilation, size, groups)
        if b is not None:
            y += b.reshape((-1,) + (1,) * len(size)).astype(y.dtype, copy=False)
        return y if y.dtype == dt else y.astype(dt)
    full = [(m - 1) * s + d * (k - 1) + 1 for m, s, d, k in zip(outs, stride, dilation, kernel)]
    extent = tuple(max(f, lo + m) for f, m, (lo, _) in zip(full, size, pads))
    if groups == 1:
        wt = xp.ascontiguousarray(w.reshape(cin, -1).T)
    else:
        wt = xp.ascontiguousarray(w.reshape(groups, cg, -1).transpose(0, 2, 1))
    if all(s == 1 for s in stride):
        buf = _scatter_unit_stride(xp, x, wt, kernel, dilation, groups, extent)
    else:
        xt = _channel_major(xp, x).reshape(cin, n * math.prod(outs))
        cols = wt @ xt if groups == 1 else xp.matmul(wt, xt.reshape(groups, cg, xt.shape[1]))
        cols = cols.reshape((groups * og,) + kernel + (n,) + outs)
        buf = _scatter_strided(xp, cols, kernel, stride, dilation, extent)
    crop = tuple(slice(lo, lo + m) for m, (lo, _) in zip(size, pads))
    y = _batch_major(xp, buf[(Ellipsis,) + crop], b)
    return y if y.dtype == dt else y.astype(dt)


def _scatter_strided(xp, cols, kernel, stride, dilation, extent):
    """col2im, channel-major: cols (C, *kernel, N, *outs) summed into a (C, N, *extent) buffer
    by one strided add per kernel offset."""
    nk = len(kernel)
    outs = cols.shape[2 + nk:]
    buf = xp.zeros((cols.shape[0], cols.shape[1 + nk]) + tuple(extent), dtype=cols.dtype)
    steps = list(zip(itertools.product(*(range(k) for k in kernel)),
                     offset_slices(kernel, stride, dilation, outs)))

    def accumulate(lo, hi):
        for offset, sl in steps:
            buf[lo:hi][sl] += cols[(slice(lo, hi),) + offset]
    over_rows(xp, cols.shape[0], cols.size, accumulate)
    return buf


def _scatter_unit_stride(xp, x, wt, kernel, dilation, groups, extent):
    """conv_transpose with stride 1 into a (C, N, *extent) buffer: the input is laid on the
    buffer's row pitch, so each kernel offset adds one contiguous run per (channel, image)."""
    nd = len(kernel)
    n, cin = x.shape[:2]
    outs = tuple(x.shape[2:])
    mults = [math.prod(extent[j + 1:]) for j in range(nd)]
    run = outs[0] * mults[0]
    xt = xp.zeros((cin, n, outs[0]) + tuple(extent[1:]), dtype=x.dtype)
    moved = x.swapaxes(0, 1)
    inner = (Ellipsis,) + tuple(slice(0, m) for m in outs[1:])

    def place(lo, hi):
        xt[lo:hi][inner] = moved[lo:hi]
    over_rows(xp, cin, xt.size, place)
    xt = xt.reshape(cin, n * run)
    cols = wt @ xt if groups == 1 else xp.matmul(wt, xt.reshape(groups, cin // groups, n * run))
    taps = math.prod(kernel)
    cols = cols.reshape(wt.shape[-2] * groups // taps, taps, n, run)
    tail = sum((k - 1) * d * m for k, d, m in zip(kernel[1:], dilation[1:], mults[1:]))
    buf = xp.zeros((cols.shape[0], n, extent[0] * mults[0] + tail), dtype=cols.dtype)
    starts = [int(sum(t * d * m for t, d, m in zip(offset, dilation, mults)))
              for offset in np.indices(kernel).reshape(nd, -1).T]

    def accumulate(lo, hi):
        for k, start in enumerate(starts):
            buf[lo:hi, :, start:start + run] += cols[lo:hi, k]
    over_rows(xp, cols.shape[0], cols.size, accumulate)
    return buf[:, :, :extent[0] * mults[0]].reshape((cols.shape[0], n) + tuple(extent))


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
    slices = offset_slices(kernel, stride, dilation, outs)

    def accumulate(lo, hi):
        for k, sl in enumerate(slices):
            buf[lo:hi][sl] += xg[lo:hi] * wk[:, :, k]
    over_rows(xp, n, buf.size * len(slices), accumulate)
    buf = buf.reshape((n, groups * og) + extent)
    crop = tuple(slice(lo, lo + m) for m, (lo, _) in zip(size, pads))
    return xp.ascontiguousarray(buf[(Ellipsis,) + crop])


def conv_weight_grad(xp, x, g, kernel, stride, pads, dilation, groups, cols=None):
    """d<conv(x, w), g>/dw: (O, C/groups, *kernel) from the input x and the output gradient g
    (`cols`: x's channel-major columns when the forward kept them)."""
    n, c = x.shape[:2]
    o = g.shape[1]
    cg, og = c // groups, o // groups
    outs = g.shape[2:]
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
            cols = columns(xp, x, kernel, stride, pads, dilation, outs)
        lg = math.prod(outs)
        cols = cols.reshape(groups, cg * math.prod(kernel), n, lg)
        if og * cols.shape[1] < 2048:
            # Small weights: a long thin GEMM runs poorly, so sum per-image products.
            per_image = g.reshape(n, groups, og, lg).swapaxes(0, 1)
            gw = xp.matmul(per_image, cols.transpose(0, 2, 3, 1)).sum(1)
        else:
            gt = _channel_major(xp, g).reshape(groups, og, n * lg)
            gw = xp.matmul(cols.reshape(groups, cols.shape[1], n * lg),
                           gt.transpose(0, 2, 1)).transpose(0, 2, 1)
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
    arg_dtype = np.int8 if count < 128 else np.int64
    return xp.empty(shape, dtype=dtype), xp.empty(shape, dtype=arg_dtype)


def max_pool(xp, x, kernel, stride, pads, dilation, outs):
    """Max over windows (N, C, *outs) and the flat index of each maximum in its input plane."""
    xpd = pad(xp, x, pads, _lowest(xp, x.dtype))
    slices = offset_slices(kernel, stride, dilation, outs)
    shape = x.shape[:2] + tuple(outs)
    best, arg = _winner_buffers(xp, shape, x.dtype, len(slices))
    index = xp.empty(shape, dtype=np.int64)
    table, start = _index_tables(xp, x.shape[2:], kernel, stride, pads, dilation, outs)

    def scan(lo, hi):
        part = xpd[lo:hi]
        window_max(xp, [part[sl] for sl in slices], best[lo:hi], arg[lo:hi])
        xp.add(xp.take(table, arg[lo:hi]), start, out=index[lo:hi])
    over_rows(xp, x.shape[0], best.size * len(slices), scan)
    return best, index


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
    out = xp.zeros((n * c, plane), dtype=g.dtype)
    index = index.reshape(n * c, math.prod(index.shape[2:]))
    g = g.reshape(index.shape)
    if accumulate:
        flat = index + (xp.arange(n * c, dtype=np.int64) * plane)[:, None]
        reduce_at(out.reshape(-1), flat.reshape(-1), g.reshape(-1), "sum")
        return out.reshape((n, c) + tuple(size))

    def place(lo, hi):
        rows = xp.arange(hi - lo, dtype=np.int64)[:, None] * plane
        out[lo:hi].reshape(-1)[(index[lo:hi] + rows).reshape(-1)] = g[lo:hi].reshape(-1)
    over_rows(xp, n * c, g.size * 4, place)
    return out.reshape((n, c) + tuple(size))
