"""Lowerings of the neural-network family: convolutions, pooling (max with torch's per-plane
indices, adaptive as fixed windows), unpooling, padding, im2col/col2im, batch and layer norm,
softmax, embedding and the losses."""
from __future__ import annotations

import math

import numpy as np

from ... import _dtype as D
from .._types import is_float, lowest
from ..._ops.conv import (_adaptive_matrix, _avg_divisor, _interpolate_taps, _pad_indices,
                          pool_window)
from ..._ops.random import _SELU_ALPHA
from ..dynamic import SymInt, Varying, base_of
from ..lowering import lowers
from .pointwise import to_bool

_BOOL = D.bool


def _pads(padding) -> list:
    """ONNX pads [begin..., end...] from ember's ((lo, hi), ...)."""
    return [lo for lo, _ in padding] + [hi for _, hi in padding]


def _require_float(ctx, i: int = 0) -> None:
    dt = ctx.dtype(i)
    if not is_float(dt):
        ctx.unsupported(f"ONNX runtimes implement it for floating tensors only, not {dt.name}")


@lowers("convolution", via="Conv")
def _convolution(ctx):
    _require_float(ctx)
    x, w, bias = ctx.input(0), ctx.input(1), ctx.input(2)
    return ctx.b.op("Conv", [x, w, bias], strides=list(ctx.attr("stride")),
                    pads=_conv_pads(ctx), dilations=list(ctx.attr("dilation")),
                    group=ctx.attr("groups"))


def _conv_pads(ctx) -> list:
    """Conv's pads. A pooling composite crops what its last window leaves out with an end
    padding below the start one, which changes with the size: along a dynamic dim the end
    padding is then the start one, whose floor division gives torch's window count at every
    size (the rows it adds lie past the last window)."""
    padding = ctx.attr_dyn("padding")
    if isinstance(padding, Varying):
        ctx.unsupported(f"padding {base_of(padding)} changes with the dynamic axes")
    fixed = []
    for axis, (lo, hi) in enumerate(padding, start=2):
        if not isinstance(lo, int):
            ctx.unsupported(f"padding {base_of(padding)} changes with the dynamic axes")
        pairs = _trace_values(ctx.dyn_shape(0)[axis], hi) if isinstance(hi, SymInt) else \
            [(None, hi)]
        if pairs is None or (isinstance(hi, SymInt) and any(h > lo for _, h in pairs)):
            ctx.unsupported(f"padding {base_of(padding)} changes with the dynamic axes")
        cropped = all(h <= lo for _, h in pairs)
        fixed.append((lo, lo if cropped and ctx.is_dynamic(0, axis) else base_of(hi)))
    return _pads(fixed)


@lowers("conv_transpose", via="ConvTranspose")
def _conv_transpose(ctx):
    _require_float(ctx)
    x, w, bias = ctx.input(0), ctx.input(1), ctx.input(2)
    stride, dilation = ctx.attr("stride"), ctx.attr("dilation")
    padding = ctx.attr("padding")
    kernel = ctx.shape(1)[2:]
    extra = []
    for n, o, s, d, k, (lo, hi) in zip(ctx.dyn_shape(0)[2:], ctx.attr_dyn("size"), stride,
                                       dilation, kernel, padding):
        # output_padding in each trace: ConvTranspose computes the size from the input's
        # at run time, so it may follow dynamic axes when that padding stays the same
        pairs = _trace_values(n, o)
        pads = {o_t - (s * (n_t - 1) + d * (k - 1) + 1 - lo - hi) for n_t, o_t in pairs or ()}
        if len(pads) != 1:
            ctx.unsupported(f"conv_transpose to an output size ({base_of(o)}) that does not "
                            "follow its input's size along the dynamic axes")
        extra.append(pads.pop())
    return ctx.b.op("ConvTranspose", [x, w, bias], strides=list(stride), pads=_pads(padding),
                    dilations=list(dilation), group=ctx.attr("groups"),
                    output_padding=extra if any(extra) else None)


def _trace_values(n, o) -> list[tuple] | None:
    """(input size, output size) in every trace, from two ints or two SymInts traced over the
    same axes; None when they cannot be paired."""
    if not isinstance(n, SymInt) and not isinstance(o, SymInt):
        return [(n, o)]
    if not (isinstance(n, SymInt) and isinstance(o, SymInt)) or n.key is None or \
            o.key is None or [a for a, _ in n.key[1:]] != [a for a, _ in o.key[1:]]:
        return None
    return [(n.base, o.base)] + [(nv, ov) for (_, nv), (_, ov) in zip(n.key[1:], o.key[1:])]


def _pool_input(ctx):
    """The pooled tensor, in a dtype MaxPool accepts (and its own dtype)."""
    x = ctx.input(0)
    dt = ctx.b.dtype(x)
    return (x if is_float(dt) else ctx.b.cast(x, D.float64)), dt


def _plane_indices(ctx, index: str, x: str) -> str:
    """MaxPool's indices count over the whole tensor; torch's within each input plane."""
    b = ctx.b
    plane = b.reduce("ReduceProd", b.shape(x, 2), None, True)
    return b.op("Mod", [index, plane])


@lowers("max_pool", via="MaxPool")
def _max_pool(ctx):
    b = ctx.b
    x, dt = _pool_input(ctx)
    kernel, stride = ctx.attr("kernel"), ctx.attr("stride")
    padding, dilation = ctx.attr("padding"), ctx.attr("dilation")
    spatial = ctx.shape(0)[2:]
    outs = ctx.attr("outs", None)
    ceil = ctx.attr("ceil_mode")
    # no window can start in the right padding (torch drops those, MaxPool keeps them)
    in_bounds = all(p + s <= d * (k - 1) + 1
                    for p, s, d, k in zip(padding, stride, dilation, kernel))
    if outs is None and (not ceil or in_bounds):
        # the same padding at both ends, in floor mode or in ceil mode without windows that
        # start in the padding: MaxPool's own output size is torch's at every size, so the
        # spatial dims may follow dynamic axes
        values, index = b.op("MaxPool", [x], outputs=2, dtype=[b.dtype(x), D.int64],
                             kernel_shape=list(kernel), strides=list(stride),
                             pads=list(padding) * 2, dilations=list(dilation),
                             ceil_mode=int(ceil))
        return b.cast(values, dt), (_plane_indices(ctx, index, x) if ctx.used(1)
                                    else None)
    if outs is None:
        if any(ctx.is_dynamic(0, d) for d in range(2, 2 + len(kernel))):
            ctx.unsupported("max_pool in ceil mode over spatial sizes that change with the "
                            "dynamic axes")
        padding, outs = pool_window(ctx.shape(0)[1:], kernel, stride, padding, dilation, True)
    padding = [(lo, max(hi, 0)) for lo, hi in padding]
    if any(lo >= k or hi >= k for (lo, hi), k in zip(padding, kernel)):
        if ctx.used(1):
            ctx.unsupported("max_pool indices with padding as large as the kernel")
        fill = b.scalar(lowest(b.dtype(x)), b.dtype(x))
        x = b.op("Pad", [x, b.ints([0, 0] + [lo for lo, _ in padding] + [0, 0] +
                                   [hi for _, hi in padding]), fill])
        padding = [(0, 0)] * len(kernel)
    for n, o, k, s, d, (lo, hi) in zip(spatial, outs, kernel, stride, dilation, padding):
        if (n + lo + hi - d * (k - 1) - 1) // s + 1 != o:
            ctx.unsupported("a pooling geometry MaxPool cannot reproduce")
    values, index = b.op("MaxPool", [x], outputs=2, dtype=[b.dtype(x), D.int64],
                         kernel_shape=list(kernel), strides=list(stride), pads=_pads(padding),
                         dilations=list(dilation))
    return b.cast(values, dt), (_plane_indices(ctx, index, x) if ctx.used(1)
                                else None)


def _windows(n: int, o: int):
    return [((i * n) // o, -((-(i + 1) * n) // o)) for i in range(o)]


@lowers("adaptive_max_pool", via="MaxPool / Slice, ReduceMax")
def _adaptive_max_pool(ctx):
    b = ctx.b
    x, dt = _pool_input(ctx)
    outs = ctx.attr("outs")
    spatial = ctx.shape(0)[2:]
    if any(ctx.is_dynamic(0, a) for a in range(2, 2 + len(spatial))):
        ctx.unsupported("adaptive pooling of dynamic spatial sizes")
    if all(n % o == 0 for n, o in zip(spatial, outs)):
        kernel = [n // o for n, o in zip(spatial, outs)]
        values, index = b.op("MaxPool", [x], outputs=2, dtype=[b.dtype(x), D.int64],
                             kernel_shape=kernel, strides=kernel)
        return b.cast(values, dt), (_plane_indices(ctx, index, x)
                                    if ctx.used(1) else None)
    if ctx.used(1):
        ctx.unsupported("adaptive max pooling indices when the sizes do not divide evenly")
    for axis, (n, o) in enumerate(zip(spatial, outs), start=2):
        if n == o:
            continue
        parts = [b.reduce("ReduceMax", b.slice(x, [lo], [hi], [axis]), [axis], True)
                 for lo, hi in _windows(n, o)]
        x = b.concat(parts, axis)
    return b.cast(x, dt), None


@lowers("max_unpool", via="ConstantOfShape, ScatterElements")
def _max_unpool(ctx):
    b = ctx.b
    from ..export import one_element
    x = ctx.input(0)
    dt = b.dtype(x)
    size = list(ctx.attr("size"))
    lead = b.shape(x, 0, 2)
    flat_shape = b.concat([lead, b.ints([math.prod(size)])])
    zeros = b.op("ConstantOfShape", [flat_shape], dtype=dt, value=one_element(0, dt))
    values = b.op("Reshape", [x, b.ints([0, 0, -1])])
    index = b.op("Reshape", [ctx.input(1, D.int64), b.ints([0, 0, -1])])
    out = b.op("ScatterElements", [zeros, index, values], axis=2,
               reduction="add" if ctx.attr("accumulate", False) else None)
    return b.op("Reshape", [out, b.concat([lead, b.ints(size)])])


@lowers("constant_pad_nd", via="Pad, Slice")
def _constant_pad(ctx):
    b = ctx.b
    x = ctx.input(0)
    dt = b.dtype(x)
    pad = list(ctx.attr("pad"))
    ndim = len(ctx.shape(0))
    begins, ends = [0] * ndim, [0] * ndim
    for k in range(len(pad) // 2):
        axis = ndim - 1 - k
        begins[axis], ends[axis] = pad[2 * k], pad[2 * k + 1]
    grow_b, grow_e = [max(p, 0) for p in begins], [max(p, 0) for p in ends]
    work = b.cast(x, D.uint8) if dt is _BOOL else x
    if any(grow_b) or any(grow_e):
        value = b.scalar(ctx.attr("value", 0), b.dtype(work))
        work = b.op("Pad", [work, b.ints(grow_b + grow_e), value])
    cut = [a for a in range(ndim) if begins[a] < 0 or ends[a] < 0]
    if cut:
        starts = [max(-begins[a], 0) for a in cut]
        stops = [-ends[a] if ends[a] < 0 else np.iinfo(np.int64).max for a in cut]
        work = b.slice(work, starts, stops, cut)
    return b.cast(work, dt)


def _one_hot_kernel(channels: int, kernel) -> np.ndarray:
    """Weights of a grouped Conv that copies each kernel tap of each channel to its own
    output channel, in unfold's order (channel-major, then taps row-major)."""
    taps = math.prod(kernel)
    w = np.zeros((channels * taps, 1) + tuple(kernel))
    for c in range(channels):
        for t in range(taps):
            w[(c * taps + t, 0) + np.unravel_index(t, kernel)] = 1.0
    return w


@lowers("im2col", via="Conv (one-hot kernel), Reshape")
def _im2col(ctx):
    b = ctx.b
    _require_float(ctx)
    x = ctx.input(0)
    kernel = ctx.attr("kernel")
    channels = ctx.shape(0)[1]
    if ctx.is_dynamic(0, 1):
        ctx.unsupported("im2col with a dynamic channel count")
    w = b.const(_one_hot_kernel(channels, kernel), b.dtype(x))
    cols = b.op("Conv", [x, w], strides=list(ctx.attr("stride")),
                pads=_pads(ctx.attr("padding")), dilations=list(ctx.attr("dilation")),
                group=channels)
    return b.op("Reshape", [cols, b.ints([0, channels * math.prod(kernel), -1])])


@lowers("col2im", opsets=(18, 21), via="Col2Im")
def _col2im(ctx):
    b = ctx.b
    _require_float(ctx)
    return b.op("Col2Im", [ctx.input(0), b.ints(ctx.attr("size")), b.ints(ctx.attr("kernel"))],
                dilations=list(ctx.attr("dilation")), pads=_pads(ctx.attr("padding")),
                strides=list(ctx.attr("stride")))


# ---- normalization ----------------------------------------------------------------------------
def _channels(ctx) -> int:
    if ctx.is_dynamic(0, 1):
        ctx.unsupported("normalization over a dynamic channel count")
    return ctx.shape(0)[1]


@lowers("batch_norm", via="BatchNormalization / ReduceMean")
def _batch_norm(ctx):
    b = ctx.b
    _require_float(ctx)
    x = ctx.input(0)
    dt = b.dtype(x)
    eps = ctx.attr("eps")
    if not ctx.attr("training") and ctx.is_tensor(3) and ctx.is_tensor(4):
        c = _channels(ctx)
        weight = ctx.input(1, dt) if ctx.is_tensor(1) else b.const(np.ones(c), dt)
        bias = ctx.input(2, dt) if ctx.is_tensor(2) else b.const(np.zeros(c), dt)
        return b.op("BatchNormalization", [x, weight, bias, ctx.input(3, dt), ctx.input(4, dt)],
                    epsilon=eps)
    # batch statistics: no size of the channels is needed (instance_norm folds the batch
    # into them, so they follow a dynamic batch)
    ndim = len(ctx.shape(0))
    axes = [0] + list(range(2, ndim))
    mean = b.reduce("ReduceMean", x, axes, True)
    dev = b.op("Sub", [x, mean])
    var = b.reduce("ReduceMean", b.op("Mul", [dev, dev]), axes, True)
    rstd = b.op("Reciprocal", [b.op("Sqrt", [b.op("Add", [var, b.scalar(eps, dt)])])])
    y = b.op("Mul", [dev, rstd])
    shape = b.ints([1, -1] + [1] * (ndim - 2))
    if ctx.is_tensor(1):
        y = b.op("Mul", [y, b.op("Reshape", [ctx.input(1, dt), shape])])
    if ctx.is_tensor(2):
        y = b.op("Add", [y, b.op("Reshape", [ctx.input(2, dt), shape])])
    return y


@lowers("layer_norm", via="LayerNormalization (before opset 17: ReduceMean, Sqrt, Div)")
def _layer_norm(ctx):
    b = ctx.b
    _require_float(ctx)
    x = ctx.input(0)
    dt = b.dtype(x)
    k = ctx.attr("ndim")
    shape = ctx.shape(0)[len(ctx.shape(0)) - k:]
    if any(ctx.is_dynamic(0, a) for a in range(len(ctx.shape(0)) - k, len(ctx.shape(0)))):
        ctx.unsupported("layer_norm over dynamic dimensions")
    if math.prod(shape) == 0:
        return b.op("Identity", [x])
    weight = ctx.input(1, dt) if ctx.is_tensor(1) else b.const(np.ones(shape), dt)
    bias = ctx.input(2, dt) if ctx.is_tensor(2) else None
    if ctx.opset < 17:
        return _layer_norm_decomposed(b, x, weight, bias, k, ctx.attr("eps"))
    return b.op("LayerNormalization", [x, weight, bias], axis=-k, epsilon=ctx.attr("eps"))


def _layer_norm_decomposed(b, x: str, weight: str, bias: str | None, k: int, eps: float):
    """(x - mean) / sqrt(var + eps) * weight + bias over the last k axes, for opsets without
    LayerNormalization."""
    axes = list(range(-k, 0))
    centered = b.op("Sub", [x, b.reduce("ReduceMean", x, axes, True)])
    var = b.reduce("ReduceMean", b.op("Mul", [centered, centered]), axes, True)
    std = b.op("Sqrt", [b.op("Add", [var, b.scalar(eps, b.dtype(x))])])
    y = b.op("Mul", [b.op("Div", [centered, std]), weight])
    return y if bias is None else b.op("Add", [y, bias])


def _softmax(op_type: str):
    def lower(ctx):
        b = ctx.b
        (x,) = ctx.promoted()
        ndim = len(ctx.shape(0))
        if ndim == 0:
            flat = b.op(op_type, [b.op("Reshape", [x, b.ints([1])])], axis=0)
            return b.op("Reshape", [flat, b.ints([])])
        return b.softmax(op_type, x, ctx.attr("dim"), ndim)
    return lower


lowers("softmax", via="Softmax")(_softmax("Softmax"))
lowers("log_softmax", via="LogSoftmax")(_softmax("LogSoftmax"))


@lowers("masked_softmax", via="Where, Softmax")
def _masked_softmax(ctx):
    """Softmax of the scaled scores with hidden positions at -inf, then 0 where hidden (rows
    with nothing left come out as NaN from Softmax and all hidden, so they become 0 too)."""
    b = ctx.b
    x = ctx.input(0)
    dt = b.dtype(x)
    hidden = to_bool(b, ctx.input(1))
    scale = ctx.attr("scale")
    if scale != 1:
        x = b.op("Mul", [x, b.scalar(scale, dt)])
    scores = b.op("Where", [hidden, b.scalar(-math.inf, dt), x])
    weights = b.softmax("Softmax", scores, ctx.attr("dim"), len(ctx.shape(0)))
    return b.op("Where", [hidden, b.scalar(0, dt), weights])


# interpolate modes by a scale factor that Resize computes as torch does at any size: its
# output is floor(n * scale) and its source position dst / scale (nearest, floored) or
# (dst + 0.5) / scale - 0.5 (linear, clamped to the edges)
_RESIZE = {"nearest": dict(mode="nearest", coordinate_transformation_mode="asymmetric",
                           nearest_mode="floor"),
           "linear": dict(mode="linear", coordinate_transformation_mode="pytorch_half_pixel")}


@lowers("resample", via="Gather, Mul, Add / Resize")
def _resample(ctx):
    """interpolate along one dim: the taps (indices and weights) of the traced sizes as
    constants, each gathered, weighted and summed; along a dim that follows the dynamic axes,
    Resize (nearest and linear) by the scale factor or to the size."""
    b = ctx.b
    dim = ctx.attr("dim")
    x = ctx.input(0)
    n, ndim = ctx.shape(0)[dim], len(ctx.shape(0))
    if ctx.is_dynamic(0, dim):
        mode, scale = ctx.attr("mode"), ctx.attr("scale")
        kind = "nearest" if mode == "nearest" else \
            "linear" if mode in ("linear", "bilinear", "trilinear") else None
        if kind is None:
            ctx.unsupported(f"interpolate ({mode}) along dim {dim}, which changes with the "
                            "dynamic axes")
        options = dict(_RESIZE[kind])
        if ctx.attr("align_corners"):
            options["coordinate_transformation_mode"] = "align_corners"
        if scale:
            scales = np.ones(ndim, dtype=np.float32)
            scales[dim] = scale
            return b.op("Resize", [x, "", b.const(scales, D.float32)], **options)
        # to a size: Resize's scale is then size / input size, as torch's
        sizes = [ctx.attr_dyn("size") if a == dim else ctx.size(0, a) for a in range(ndim)]
        return b.op("Resize", [x, "", "", ctx.ints(sizes)], **options)
    dt = ctx.out_dtype()
    out = None
    for index, weight in _interpolate_taps(ctx.attr("mode"), n, ctx.attr("size"),
                                           ctx.attr("scale"), ctx.attr("align_corners"),
                                           np.float64 if dt is D.float64 else np.float32):
        v = b.op("Gather", [x, b.const(index.astype(np.int64))], axis=dim)
        if weight is not None:
            shaped = weight.astype(dt.np).reshape((-1,) + (1,) * (ndim - dim - 1))
            v = b.op("Mul", [v, b.const(shaped, dt)])
        out = v if out is None else b.op("Add", [out, v])
    return out


@lowers("adaptive_avg_pool", via="ReduceMean / Transpose, MatMul")
def _adaptive_avg_pool(ctx):
    """A mean over each dim pooled to 1 (any size, dynamic axes too); other dims through
    their averaging matrix of the traced size."""
    b = ctx.b
    x = ctx.input(0)
    outs = ctx.attr("outs")
    ndim = len(ctx.shape(0))
    dt = ctx.out_dtype()
    for j, o in enumerate(outs):
        dim = ndim - len(outs) + j
        n = ctx.shape(0)[dim]
        if o == 1:
            x = b.reduce("ReduceMean", x, [dim], True)
        elif ctx.is_dynamic(0, dim):
            ctx.unsupported(f"adaptive pooling to {o} along dim {dim}, which changes with the "
                            "dynamic axes")
        elif o != n:
            perm = list(range(ndim))
            perm[dim], perm[-1] = perm[-1], perm[dim]
            moved = b.op("Transpose", [x], perm=perm)
            pooled = b.op("MatMul", [moved, b.const(_adaptive_matrix(n, o).T.astype(dt.np), dt)])
            x = b.op("Transpose", [pooled], perm=perm)
    return x


@lowers("pad_along", via="Pad / Gather")
def _pad_along(ctx):
    """reflect and replicate by non-negative pads as Pad (mode reflect / edge), which follows
    dynamic axes; otherwise a Gather of the traced size's positions."""
    b = ctx.b
    x = ctx.input(0)
    dim, lo, hi, mode = ctx.attr("dim"), ctx.attr("lo"), ctx.attr("hi"), ctx.attr("mode")
    ndim = len(ctx.shape(0))
    if mode in ("reflect", "replicate") and lo >= 0 and hi >= 0:
        pads = [0] * (2 * ndim)
        pads[dim], pads[ndim + dim] = lo, hi
        return b.op("Pad", [x, b.ints(pads)], mode="reflect" if mode == "reflect" else "edge")
    if ctx.is_dynamic(0, dim):
        ctx.unsupported(f"{mode} padding by ({lo}, {hi}) along dim {dim}, which changes with "
                        "the dynamic axes")
    index = _pad_indices(ctx.shape(0)[dim], lo, hi, mode).astype(np.int64)
    return b.op("Gather", [x, b.const(index)], axis=dim)


@lowers("avg_pool_divisor", via="Constant")
def _avg_pool_divisor(ctx):
    """The window counts of the traced spatial size, as a constant."""
    spatial = range(2, len(ctx.shape(0)))
    if any(ctx.is_dynamic(0, d) for d in spatial):
        ctx.unsupported("average pooling whose divisors differ between windows, over a spatial "
                        "size that changes with the dynamic axes")
    counts = _avg_divisor([ctx.shape(0)[d] for d in spatial], ctx.attr("kernel"),
                          ctx.attr("stride"), ctx.attr("padding"), ctx.attr("outs"),
                          ctx.attr("count_include_pad"))
    dt = ctx.out_dtype()
    return ctx.b.const(counts.astype(dt.np), dt)


@lowers("dropout_noise", via="RandomUniform, Less")
def _dropout_noise(ctx):
    """Dropout's noise drawn by the runtime on every run (a fresh stream, not ember's)."""
    b = ctx.b
    p, dt = ctx.attr("p"), ctx.attr("dtype")
    keep_prob = 1.0 - p
    uniform = b.op("RandomUniform", [], dtype=D.float32, shape=list(ctx.attr("size")))
    keep = b.cast(b.op("Less", [uniform, b.scalar(keep_prob, D.float32)], dtype=D.bool), dt)
    if not ctx.attr("alpha"):
        return b.op("Mul", [keep, b.scalar(1.0 / keep_prob, dt)])
    alpha = _SELU_ALPHA
    a = 1.0 / math.sqrt((alpha * alpha * p + 1.0) * keep_prob)
    offset = b.op("Add", [b.op("Mul", [b.op("Sub", [keep, b.scalar(1, dt)]),
                                       b.scalar(alpha * a, dt)]), b.scalar(alpha * a * p, dt)])
    return [b.op("Mul", [keep, b.scalar(a, dt)]), offset]


@lowers("random_samples", via="RandomNormal, RandomUniform")
def _random_samples(ctx):
    """rand/randn drawn by the runtime on every run (a fresh stream, not ember's)."""
    dt = ctx.attr("dtype")
    if dt.category == D._COMPLEX:
        ctx.unsupported("complex random samples (ONNX draws real numbers only)")
    kind = "RandomNormal" if ctx.attr("normal") else "RandomUniform"
    return ctx.b.op(kind, [], dtype=dt, shape=list(ctx.attr("size")))


@lowers("embedding", via="Gather")
def _embedding(ctx):
    return ctx.b.op("Gather", [ctx.input(0), ctx.input(1)], axis=0)


# ---- losses -----------------------------------------------------------------------------------
def _class_loss(ctx, logp: str, smoothing: float) -> str:
    """nll_loss/cross_entropy on log-probabilities `logp` (N, C, ...): ignore_index, class
    weights, label smoothing and the reduction, as torch computes them."""
    b = ctx.b
    dt = b.dtype(logp)
    target = ctx.input(1, D.int64)
    unbatched = len(ctx.shape(0)) == 1
    if unbatched:
        logp, target = b.unsqueeze(logp, [0]), b.unsqueeze(target, [0])
    c = ctx.shape(0)[-1] if unbatched else ctx.shape(0)[1]
    ignore = b.scalar(ctx.attr("ignore_index"), D.int64)
    valid = b.op("Not", [b.op("Equal", [target, ignore], dtype=_BOOL)])
    safe = b.op("Where", [valid, target, b.scalar(0, D.int64)])
    picked = b.squeeze(b.op("GatherElements", [logp, b.unsqueeze(safe, [1])], axis=1), [1])
    weight = ctx.input(2, dt) if ctx.is_tensor(2) else None
    w = b.cast(valid, dt)
    if weight is not None:
        w = b.op("Mul", [w, b.op("Gather", [weight, safe], axis=0)])
    losses = b.op("Neg", [b.op("Mul", [picked, w])])
    if smoothing:
        spread = b.const(np.full(c, smoothing / c), dt)
        if weight is not None:
            spread = b.op("Mul", [spread, weight])
        extra = len(ctx.shape(0)) - 2 if not unbatched else 0
        spread = b.op("Reshape", [spread, b.ints([1, c] + [1] * extra)])
        smooth = b.reduce("ReduceSum", b.op("Mul", [logp, spread]), [1], False)
        smooth = b.op("Mul", [smooth, b.cast(valid, dt)])
        losses = b.op("Sub", [b.op("Mul", [losses, b.scalar(1 - smoothing, dt)]), smooth])
    reduction = ctx.attr("reduction")
    if reduction == "none":
        return b.squeeze(losses, [0]) if unbatched else losses
    total = b.reduce("ReduceSum", losses, None, False)
    if reduction == "sum":
        return total
    return b.op("Div", [total, b.reduce("ReduceSum", w, None, False)])


@lowers("nll_loss", via="GatherElements, ReduceSum")
def _nll_loss(ctx):
    _require_float(ctx)
    return _class_loss(ctx, ctx.input(0), 0.0)


@lowers("cross_entropy", via="LogSoftmax, GatherElements, ReduceSum")
def _cross_entropy(ctx):
    _require_float(ctx)
    b = ctx.b
    x = ctx.input(0)
    axis = 0 if len(ctx.shape(0)) == 1 else 1
    return _class_loss(ctx, b.softmax("LogSoftmax", x, axis, len(ctx.shape(0))),
                       ctx.attr("label_smoothing"))


@lowers("binary_cross_entropy", via="Log, Max, Mul, ReduceMean")
def _binary_cross_entropy(ctx):
    _require_float(ctx)
    b = ctx.b
    x = ctx.input(0)
    dt = b.dtype(x)
    t = ctx.input(1, dt)
    one, floor = b.scalar(1, dt), b.scalar(-100, dt)
    log_x = b.op("Max", [b.op("Log", [x]), floor])
    log_1mx = b.op("Max", [b.op("Log", [b.op("Sub", [one, x])]), floor])
    loss = b.op("Neg", [b.op("Add", [b.op("Mul", [t, log_x]),
                                     b.op("Mul", [b.op("Sub", [one, t]), log_1mx])])])
    if ctx.is_tensor(2):
        loss = b.op("Mul", [loss, ctx.input(2, dt)])
    reduction = ctx.attr("reduction")
    if reduction == "none":
        return loss
    return b.reduce("ReduceSum" if reduction == "sum" else "ReduceMean", loss, None, False)
