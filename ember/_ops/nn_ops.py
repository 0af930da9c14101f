"""Neural-network primitives: softmax, log_softmax, gelu, layer_norm, batch_norm, nll_loss,
cross_entropy, binary_cross_entropy, embedding and ctc_loss.

These are the hot ops of training loops, so each is one kernel over raw arrays. Their backward
runs as one more kernel (a `*_backward` op) when no graph is being built; when it is
(`create_graph=True`), backward is written in differentiable ember ops instead, so higher-order
gradients keep working. The functional API (ember.nn.functional) validates arguments and calls
these ops; everything else in nn is composed from registry ops.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor, _dim
from ..autograd.grad_mode import GradState
from ..testing.opinfo import FLOAT_ALL, Arg, Sample
from .dispatch import apply
from .pointwise import _erf
from .registry import OpDef, register, tensor_method

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TANH_K = math.sqrt(2.0 / math.pi)
_TANH_C = 0.044715


def _quiet():
    """torch returns inf/nan silently where NumPy would warn (all -inf rows, 0/0 means)."""
    return np.errstate(divide="ignore", invalid="ignore", over="ignore")


def _recording() -> bool:
    """True inside a backward run with create_graph=True: the gradient must be differentiable."""
    return GradState.enabled


def _widen(a):
    """Half-precision arrays are computed in float32 (results are cast back by the caller)."""
    return a.astype(np.float32) if a is not None and a.dtype.itemsize == 2 else a


def _like(a, ref):
    """`a` (a parameter array or None) in the dtype of `ref`."""
    return a if a is None or a.dtype == ref.dtype else a.astype(ref.dtype)


# ---- softmax / log_softmax ----------------------------------------------------------------
def _softmax_samples(fn):
    return (Sample(fn(1), (Arg((3, 4), -5, 5),), dtypes=FLOAT_ALL),
            Sample(fn(0), (Arg((2, 3, 4)),), name="dim0"),
            Sample(fn(-1), (Arg(()),), name="0d"),
            Sample(fn(1), (Arg(values=[[-1000.0, -1001.0, 5.0], [800.0, 799.0, 0.0]]),),
                   name="large"),
            Sample(fn(1), (Arg(values=[[-math.inf, 1.0, 2.0], [0.0, -math.inf, 0.0]]),),
                   grad=False, name="inf"),
            Sample(fn(1), (Arg((0, 3)),), grad=False, name="empty"))


# NumPy's reductions along short contiguous rows are several times slower than a BLAS
# product with a vector of ones; below this size the call overhead of BLAS dominates instead.
_BLAS_MIN = 1 << 14


def _sum_along(xp, a, dim):
    """a summed over dim, kept as a size-1 dim (a 0-d array is its own sum: NumPy allows
    dim 0 there, CuPy does not)."""
    if not a.ndim:
        return a.copy()
    if a.size >= _BLAS_MIN and dim == a.ndim - 1 and a.flags.c_contiguous:
        rows = a.reshape(-1, a.shape[-1]) @ xp.ones(a.shape[-1], dtype=a.dtype)
        return rows.reshape(a.shape[:-1] + (1,))
    return a.sum(axis=dim, keepdims=True)


def _sum_rows(xp, a):
    """Row sums of a 2-D array, (M, N) -> (M,)."""
    if a.size >= _BLAS_MIN:
        return a @ xp.ones(a.shape[1], dtype=a.dtype)
    return a.sum(axis=1)


def _sum_cols(xp, a):
    """Column sums of a 2-D array, (M, N) -> (N,)."""
    if a.size >= _BLAS_MIN:
        return xp.ones(a.shape[0], dtype=a.dtype) @ a
    return a.sum(axis=0)


def _sum_channels(xp, a):
    """Per-channel sums of a (batch, C, positions) array, -> (C,)."""
    if a.size >= _BLAS_MIN:
        return xp.ones(a.shape[0], dtype=a.dtype) @ (a @ xp.ones(a.shape[2], dtype=a.dtype))
    return a.sum(axis=(0, 2))


def _shift(xp, x, dim):
    """x minus its max along dim (a fresh array; all -inf rows give nan, as in torch)."""
    return xp.subtract(x, x.max(axis=dim, keepdims=True))


def _dot_along(xp, a, b, dim):
    """sum(a * b) along dim, kept as a size-1 dim; one pass without a temporary on the last
    dim."""
    if dim == a.ndim - 1 and a.ndim:
        return xp.einsum("...i,...i->...", a, b)[..., None]
    return _sum_along(xp, a * b, dim)


@register("softmax", fresh=True, promote="float", onnx="Softmax",
          samples=_softmax_samples(lambda d: lambda t, x: t.softmax(x, d)))
class Softmax(OpDef):
    def forward(ctx, xp, x, dim):
        ctx.dim = dim
        if x.size == 0:
            return xp.empty_like(x)
        e = _shift(xp, x.reshape(1) if x.ndim == 0 else x, dim)
        xp.exp(e, out=e)
        e /= _sum_along(xp, e, dim)
        e = e.reshape(x.shape)
        ctx.save(e)
        return e

    def backward(ctx, g):
        (y,) = ctx.saved
        if _recording():
            return y * (g - (g * y).sum(ctx.dim, keepdim=True))
        return apply(SoftmaxBackward, g, y, dim=ctx.dim)


@register("softmax_backward", fresh=True, differentiable=False, samples=(
    Sample(lambda t, x, g: t.autograd.grad(t.softmax(x.requires_grad_(), 1), x, g)[0],
           (Arg((3, 4)), Arg((3, 4))), grad=False),))
class SoftmaxBackward(OpDef):
    """The input gradient of softmax(x * scale) from the output gradient g and the output y
    (also masked_softmax's: masked positions have y = 0, so they get 0)."""

    def forward(ctx, xp, g, y, dim, scale=1.0):
        out = g - _dot_along(xp, g, y, dim)
        out *= y
        if scale != 1:
            out *= scale
        return out


def _sdpa(**options):
    return lambda t, q, k, v: t.nn.functional.scaled_dot_product_attention(q, k, v, **options)


@register("masked_softmax", fresh=True, promote_args=(0,), complex=False, samples=(
    Sample(_sdpa(is_causal=True), ((2, 4, 3), (2, 5, 3), (2, 5, 3)), name="causal"),
    Sample(_sdpa(is_causal=True, scale=0.7), ((1, 2, 6, 4), (1, 2, 6, 4), (1, 2, 6, 4)),
           dtypes=("float32", "float64"), name="causal_heads"),
    Sample(lambda t, q, k, v, m: t.nn.functional.scaled_dot_product_attention(
        q, k, v, attn_mask=m),
        ((2, 3, 4), (2, 3, 4), (2, 3, 4),
         Arg(values=[[True, False, True], [False, False, False], [True, True, True]],
             dtype="bool", grad=False)), name="dead_row")))
class MaskedSoftmax(OpDef):
    """softmax(x * scale) along dim leaving out the positions where the bool mask (broadcast
    to x) holds: they get 0, and rows with nothing left are all 0. Attention's masked scores
    in one op, whose backward needs no mask (y is 0 where it held). Only the scores take part
    in promotion, so half-precision scores compute in float32 as softmax's do."""

    def forward(ctx, xp, x, mask, dim, scale):
        ctx.dim, ctx.scale = dim, scale
        if x.size == 0:
            y = xp.empty_like(x)
        else:
            y = xp.where(mask, -math.inf, x * x.dtype.type(scale))
            top = y.max(axis=dim, keepdims=True)
            top[top == -math.inf] = 0
            y -= top
            xp.exp(y, out=y)
            total = _sum_along(xp, y, dim)
            total[total == 0] = 1
            y /= total
        ctx.save(y)
        return y

    def backward(ctx, g):
        (y,) = ctx.saved
        if _recording():
            return y * (g - (g * y).sum(ctx.dim, keepdim=True)) * ctx.scale, None
        return apply(SoftmaxBackward, g, y, dim=ctx.dim, scale=ctx.scale), None


@register("log_softmax", promote="float", onnx="LogSoftmax",
          samples=_softmax_samples(lambda d: lambda t, x: t.log_softmax(x, d)))
class LogSoftmax(OpDef):
    def forward(ctx, xp, x, dim):
        ctx.dim = dim
        if x.size == 0:
            return xp.empty_like(x)
        s = _shift(xp, x.reshape(1) if x.ndim == 0 else x, dim)
        s -= xp.log(_sum_along(xp, xp.exp(s), dim))
        s = s.reshape(x.shape)
        ctx.save(s)
        return s

    def backward(ctx, g):
        (y,) = ctx.saved
        if _recording():
            return g - y.exp() * g.sum(ctx.dim, keepdim=True)
        return apply(LogSoftmaxBackward, g, y, dim=ctx.dim)


@register("log_softmax_backward", differentiable=False, samples=(
    Sample(lambda t, x, g: t.autograd.grad(t.log_softmax(x.requires_grad_(), 1), x, g)[0],
           (Arg((3, 4)), Arg((3, 4))), grad=False),))
class LogSoftmaxBackward(OpDef):
    """The input gradient of log_softmax from the output gradient g and the output y."""

    def forward(ctx, xp, g, y, dim):
        e = xp.exp(y)
        e *= _sum_along(xp, g, dim)
        return g - e


def _softmax_call(op, input, dim, dtype, name):
    if dtype is not None:
        input = input.to(dtype)
    if not input._dtype.is_floating_point:
        raise NotImplementedError(f'"{name}_lastdim_kernel_impl" not implemented for '
                                  f"'{_TORCH_NAMES.get(input._dtype, input._dtype.name)}'")
    return apply(op, input, dim=_dim(dim, input._data.ndim, name))


_TORCH_NAMES = D.SCALAR_NAMES


@tensor_method()
def softmax(input: Tensor, dim: int, dtype=None) -> Tensor:
    """exp(x) / sum(exp(x)) along `dim` (computed after subtracting the max: no overflow).

    >>> import ember
    >>> ember.softmax(ember.tensor([0.0, 0.0]), 0)
    tensor([0.5000, 0.5000])
    """
    return _softmax_call(Softmax, input, dim, dtype, "softmax")


@tensor_method()
def log_softmax(input: Tensor, dim: int, dtype=None) -> Tensor:
    """log(softmax(x)) along `dim`, computed as x - max - log(sum(exp(x - max))).

    >>> import ember
    >>> ember.log_softmax(ember.tensor([0.0, 0.0]), 0)
    tensor([-0.6931, -0.6931])
    """
    return _softmax_call(LogSoftmax, input, dim, dtype, "log_softmax")


# ---- gelu -----------------------------------------------------------------------------------
# Abramowitz & Stegun 7.1.26: erf(z) = 1 - t P(t) exp(-z^2), t = 1 / (1 + p z) for z >= 0,
# absolute error below 1.5e-7 -- float32 accuracy at a fraction of a full-precision erf's cost
# (torch's vectorized float erf uses the same formula). float64 uses the precise kernel.
_AS_P = 0.3275911
_AS_COEFFS = (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)


def _normal_cdf_single(xp, x, density):
    """Phi(x) = (1 + erf(x / sqrt 2)) / 2 to float32 accuracy, given exp(-x^2 / 2)."""
    t = xp.abs(x)
    t *= _AS_P * _SQRT_HALF
    t += 1.0
    xp.reciprocal(t, out=t)
    half_tail = t * (0.5 * _AS_COEFFS[0])
    for c in _AS_COEFFS[1:]:
        half_tail += 0.5 * c
        half_tail *= t
    half_tail *= density
    # Phi = h for x < 0 and 1 - h otherwise, computed as h + (x >= 0) (1 - 2h) into t's
    # buffer: a data-dependent select (where, sign, copysign) is several times slower.
    cdf = xp.multiply(half_tail, -2.0, out=t)
    cdf += 1.0
    cdf *= x >= 0
    cdf += half_tail
    return cdf


def _gelu_parts(xp, x, approximate):
    """(gelu(x), what its derivative reuses: (Phi(x), exp(-x^2 / 2)) or the tanh term), on
    flat arrays."""
    if approximate == "tanh":
        inner = x * x
        inner *= _TANH_C
        inner += 1.0
        inner *= x
        inner *= _TANH_K
        xp.tanh(inner, out=inner)
        y = inner + 1.0
        y *= x
        y *= 0.5
        return y, (inner,)
    density = x * x
    density *= -0.5
    xp.exp(density, out=density)
    if x.dtype.itemsize <= 4:
        cdf = _normal_cdf_single(xp, x, density)
    else:
        cdf = _erf(xp, x * _SQRT_HALF)
        cdf += 1.0
        cdf *= 0.5
    return x * cdf, (cdf, density)


def _gelu_grad_array(x, saved, approximate):
    """d gelu / dx from x and the intermediates _gelu_parts kept, on flat arrays."""
    if approximate == "tanh":
        (inner,) = saved
        out = 1.0 - inner * inner
        out *= x
        out *= 0.5 * _TANH_K
        out *= x * x * (3.0 * _TANH_C) + 1.0
        out += 0.5 * (1.0 + inner)
        return out
    cdf, density = saved
    out = x * density
    out *= _INV_SQRT_2PI
    out += cdf
    return out


def _gelu_grad(x, approximate):
    """d gelu / dx in ember ops (differentiable, for double backward)."""
    if approximate == "tanh":
        x2 = x * x
        inner = (x * (1.0 + _TANH_C * x2) * _TANH_K).tanh()
        return 0.5 * (1.0 + inner) + 0.5 * x * (1.0 - inner * inner) * _TANH_K * (
            1.0 + 3.0 * _TANH_C * x2)
    cdf = 0.5 * ((x * _SQRT_HALF).erf() + 1.0)
    return cdf + x * (x * x * -0.5).exp() * _INV_SQRT_2PI


@register("gelu", fresh=True, promote="float", pointwise=True, onnx="Gelu", samples=(
    Sample(lambda t, x: t.nn.functional.gelu(x), (Arg((3, 4), -4, 4),), dtypes=FLOAT_ALL),
    Sample(lambda t, x: t.nn.functional.gelu(x, approximate="tanh"), (Arg((3, 4), -4, 4),),
           dtypes=FLOAT_ALL, name="tanh"),
    Sample(lambda t, x: t.nn.functional.gelu(x), (Arg(()),), name="0d")))
class Gelu(OpDef):
    """Keeps its derivative at x (made from the same intermediates as the value) when a
    gradient is wanted, so the backward is one product g * d: one saved array instead of
    two, and one pass over memory instead of four."""

    def forward(ctx, xp, x, approximate="none"):
        ctx.approximate = approximate
        # Flat views: the in-place kernels need arrays, and 0-d arithmetic yields scalars.
        flat = x.reshape(-1)
        y, parts = _gelu_parts(xp, flat, approximate)
        if ctx.needs_input_grad:
            ctx.save(x, _gelu_grad_array(flat, parts, approximate).reshape(x.shape))
        return y.reshape(x.shape)

    def backward(ctx, g):
        x, slope = ctx.saved
        if _recording():
            return g * _gelu_grad(x, ctx.approximate)
        return g * slope


# ---- layer_norm / batch_norm ----------------------------------------------------------------
# The kernels work on views that make the reductions simple: layer norm on (rows, features),
# batch norm on (batch, channels, positions); dot products along reduced axes use einsum,
# which makes one pass without a temporary.
def _prod(values) -> int:
    n = 1
    for v in values:
        n *= v
    return n


def _rsqrt(xp, var, eps):
    var += eps
    xp.sqrt(var, out=var)
    return xp.reciprocal(var, out=var)


def _norm_grads(g, xhat, rstd, weight, axes, param_axes, pshape, batch_stats, need):
    """Gradients of y = xhat * w + b in ember ops, with xhat and rstd functions of x (the
    double-backward path): for x (through the batch statistics when `batch_stats`), w and b
    (summed over `param_axes`)."""
    gx = gw = gb = None
    if need[0]:
        gxhat = g if weight is None else g * weight.reshape(pshape)
        if batch_stats:
            gx = rstd * (gxhat - gxhat.mean(axes, keepdim=True)
                         - xhat * (gxhat * xhat).mean(axes, keepdim=True))
        else:
            gx = gxhat * rstd
    if need[1]:
        gw = (g * xhat).sum(param_axes)
    if need[2]:
        gb = g.sum(param_axes)
    return gx, gw, gb


def _statistics(x, axes, eps):
    """xhat and 1 / sqrt(var + eps) over `axes` in ember ops (differentiable in x)."""
    xc = x - x.mean(axes, keepdim=True)
    rstd = 1.0 / ((xc * xc).mean(axes, keepdim=True) + eps).sqrt()
    return xc * rstd, rstd


def _fill_grads(grads, need):
    """One gradient per (x, weight, bias) from the outputs computed for those in `need`."""
    if not isinstance(grads, tuple):
        grads = (grads,)
    it = iter(grads)
    return tuple(next(it) if n else None for n in need)


def _layer_norm_samples():
    def ln(t, x, w, b):
        return t.nn.functional.layer_norm(x, (4,), w, b)

    return (Sample(ln, (Arg((3, 4)), Arg((4,)), Arg((4,))), dtypes=FLOAT_ALL),
            Sample(lambda t, x, w: t.nn.functional.layer_norm(x, (3, 4), w, eps=1e-3),
                   (Arg((2, 3, 4)), Arg((3, 4))), name="2d_nobias"),
            Sample(lambda t, x: t.nn.functional.layer_norm(x, (5,)), (Arg((2, 5)),),
                   name="noaffine"),
            Sample(lambda t, x, b: t.nn.functional.layer_norm(x, (4,), None, b),
                   (Arg((3, 4)), Arg((4,))), name="bias_only"),
            Sample(lambda t, x: t.nn.functional.layer_norm(x, (0,)), (Arg((2, 0)),),
                   grad=False, name="empty"))


@register("layer_norm", fresh=True, promote=None, complex=False, onnx="LayerNormalization",
          torch_node="NativeLayerNormBackward0", samples=_layer_norm_samples())
class LayerNorm(OpDef):
    """Normalize over the trailing `ndim` dims, then scale and shift elementwise."""

    def forward(ctx, xp, x, weight, bias, ndim, eps):
        given, dtype = x, x.dtype
        x = _widen(x)
        features = _prod(x.shape[x.ndim - ndim:])
        rows = x.reshape(_prod(x.shape[:x.ndim - ndim]), features)
        xhat = rows - (_sum_rows(xp, rows) / max(features, 1))[:, None]
        var = xp.einsum("ij,ij->i", xhat, xhat)[:, None]
        var /= max(features, 1)
        rstd = _rsqrt(xp, var, eps)
        xhat *= rstd
        ctx.ndim, ctx.eps = ndim, eps
        ctx.save(given, weight, xhat, rstd)
        y = xhat * _like(weight, x).reshape(1, -1) if weight is not None else xhat.copy()
        if bias is not None:
            y += _like(bias, x).reshape(1, -1)
        return y.reshape(x.shape).astype(dtype, copy=False)

    def backward(ctx, g):
        x, weight, xhat, rstd = ctx.saved
        if _recording():
            axes = tuple(range(x.ndim - ctx.ndim, x.ndim))
            xhat, rstd = _statistics(x, axes, ctx.eps)
            return _norm_grads(g, xhat, rstd, weight, axes, tuple(range(x.ndim - ctx.ndim)),
                               tuple(x.shape[x.ndim - ctx.ndim:]), True, ctx.needs_input_grad)
        need = ctx.needs_input_grad[:3]
        return _fill_grads(apply(LayerNormBackward, g, xhat, rstd, weight, need=need,
                                 pshape=tuple(x.shape[x.ndim - ctx.ndim:])), need)


@register("layer_norm_backward", fresh=True, promote=None, complex=False, differentiable=False,
          samples=(
    Sample(lambda t, x, w, b, g: t.autograd.grad(
        t.nn.functional.layer_norm(x.requires_grad_(), (4,), w.requires_grad_(),
                                   b.requires_grad_()), (x, w, b), g),
           (Arg((3, 4)), Arg((4,)), Arg((4,)), Arg((3, 4))), grad=False),))
class LayerNormBackward(OpDef):
    """Gradients for (x, weight, bias) of layer_norm, from the normalized rows xhat."""

    def forward(ctx, xp, g, xhat, rstd, weight, need, pshape):
        shape = g.shape
        g = _widen(g).reshape(xhat.shape)
        features = max(xhat.shape[1], 1)
        # Two row-sized arrays in all (gx and one scratch): fresh large temporaries cost more
        # than the arithmetic here (page faults on new memory).
        scratch = g * xhat if need[1] else xp.empty_like(xhat) if need[0] else None
        gw = _sum_cols(xp, scratch).reshape(pshape) if need[1] else None
        out = []
        if need[0]:
            gx = g * _like(weight, xhat).reshape(1, -1) if weight is not None else g.copy()
            mean = _sum_rows(xp, gx)[:, None]
            mean /= features
            dot = xp.einsum("ij,ij->i", gx, xhat)[:, None]
            dot /= features
            gx -= mean
            gx -= xp.multiply(xhat, dot, out=scratch)
            gx *= rstd
            out.append(gx.reshape(shape))
        if need[1]:
            out.append(gw)
        if need[2]:
            out.append(_sum_cols(xp, g).reshape(pshape))
        return tuple(out)


def _channel_axes(ndim):
    """Batch norm statistics run over every dim but the channel dim 1."""
    return (0,) + tuple(range(2, ndim))


def _batch_norm_samples():
    def train(t, x, w, b):
        return t.nn.functional.batch_norm(x, None, None, w, b, training=True)

    def eval_(t, x, m, v, w, b):
        return t.nn.functional.batch_norm(x, m, v, w, b, training=False, eps=1e-3)

    def running(t, x, m, v):
        y = t.nn.functional.batch_norm(x, m, v, training=True, momentum=0.3)
        return y, m, v

    return (Sample(train, (Arg((4, 3)), Arg((3,)), Arg((3,))), dtypes=FLOAT_ALL),
            Sample(train, (Arg((2, 3, 2, 2)), Arg((3,)), Arg((3,))), name="4d"),
            Sample(eval_, (Arg((2, 3, 4)), Arg((3,), grad=False), Arg((3,), 0.5, 2, grad=False),
                           Arg((3,)), Arg((3,))), name="eval"),
            Sample(running, (Arg((3, 2, 4)), Arg((2,), grad=False),
                             Arg((2,), 0.5, 2, grad=False)), name="running"))


def _per_channel(v):
    """A (C,) vector viewed to broadcast over a (batch, C, positions) array."""
    return v.reshape(1, -1, 1)


@register("batch_norm", fresh=True, promote=None, complex=False, onnx="BatchNormalization",
          torch_node="NativeBatchNormBackward0", samples=_batch_norm_samples())
class BatchNorm(OpDef):
    """Normalize each channel (dim 1) by the batch statistics (training) or the running ones;
    in training the running statistics, when given, are updated in place."""

    def writes(attrs):
        return (3, 4) if attrs["training"] else ()

    def forward(ctx, xp, x, weight, bias, running_mean, running_var, training, momentum, eps):
        given, dtype = x, x.dtype
        x = _widen(x)
        x3 = x.reshape(x.shape[0], x.shape[1], -1)
        count = x3.shape[0] * x3.shape[2]
        ctx.training, ctx.eps = training, eps
        if training:
            mean = _sum_channels(xp, x3)
            mean /= count
            xhat = x3 - _per_channel(mean)
            var = xp.einsum("ncl,ncl->c", xhat, xhat)
            var /= count
            if running_mean is not None:
                running_mean *= 1.0 - momentum
                running_mean += momentum * mean
            if running_var is not None:
                running_var *= 1.0 - momentum
                running_var += (momentum * count / max(count - 1, 1)) * var
            rstd = _rsqrt(xp, var, eps)
            xhat *= _per_channel(rstd)
            ctx.save(given, weight, xhat, rstd)
            y = xhat * _per_channel(_like(weight, x)) if weight is not None else xhat.copy()
            if bias is not None:
                y += _per_channel(_like(bias, x))
        else:
            # A fixed affine map per channel: y = x * scale + offset, two passes.
            rstd = _rsqrt(xp, running_var.astype(x.dtype), eps)
            shift = running_mean.astype(x.dtype)
            scale = rstd if weight is None else rstd * _like(weight, x)
            offset = -shift * scale
            if bias is not None:
                offset += _like(bias, x)
            y = x3 * _per_channel(scale)
            y += _per_channel(offset)
            ctx.save(given, weight, None, rstd, shift)
        return y.reshape(x.shape).astype(dtype, copy=False)

    def backward(ctx, g):
        saved = ctx.saved
        x, weight, xhat, rstd = saved[:4]
        if _recording():
            axes = _channel_axes(x.ndim)
            pshape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
            if ctx.training:
                xhat, rstd = _statistics(x, axes, ctx.eps)
            else:
                rstd = rstd.reshape(pshape)
                xhat = (x - saved[4].reshape(pshape)) * rstd
            return _norm_grads(g, xhat, rstd, weight, axes, axes, pshape, ctx.training,
                               ctx.needs_input_grad) + (None, None)
        need = ctx.needs_input_grad[:3]
        grads = _fill_grads(apply(BatchNormBackward, g, xhat if ctx.training else x, rstd,
                                  weight, None if ctx.training else saved[4],
                                  training=ctx.training, need=need), need)
        return grads + (None, None)


@register("batch_norm_backward", promote=None, complex=False, differentiable=False, samples=(
    Sample(lambda t, x, w, b, g: t.autograd.grad(
        t.nn.functional.batch_norm(x.requires_grad_(), None, None, w.requires_grad_(),
                                   b.requires_grad_(), training=True), (x, w, b), g),
           (Arg((4, 3, 2)), Arg((3,)), Arg((3,)), Arg((4, 3, 2))), grad=False),
    Sample(lambda t, x, m, v, w, g: t.autograd.grad(
        t.nn.functional.batch_norm(x.requires_grad_(), m, v, w.requires_grad_()), (x, w), g),
           (Arg((4, 3)), Arg((3,)), Arg((3,), 0.5, 2), Arg((3,)), Arg((4, 3))), grad=False,
           name="eval")))
class BatchNormBackward(OpDef):
    """Gradients for (x, weight, bias) of batch_norm from the (N, C, L) view of the normalized
    input (training) or of the input itself with the running mean `shift` (eval).

    With w constant per channel, sum(g w) and sum(g w xhat) are w times the bias and weight
    gradients, so the input gradient costs three passes."""

    def forward(ctx, xp, g, xhat, rstd, weight, shift, training, need):
        shape = g.shape
        g3 = _widen(g).reshape(shape[0], shape[1], -1)
        xhat = _widen(xhat).reshape(g3.shape)
        gb = _sum_channels(xp, g3) if need[0] and training or need[1] or need[2] else None
        gw = None
        if need[0] and training or need[1]:
            gw = xp.einsum("ncl,ncl->c", g3, xhat)
            if shift is not None:
                gw -= shift * gb
                gw *= rstd
        out = []
        if need[0]:
            scale = rstd if weight is None else rstd * _like(weight, xhat)
            if training:
                count = xhat.shape[0] * xhat.shape[2]
                gx = g3 - _per_channel(gb / count)
                gx -= xhat * _per_channel(gw / count)
                gx *= _per_channel(scale)
            else:
                gx = g3 * _per_channel(scale)
            out.append(gx.reshape(shape))
        if need[1]:
            out.append(gw)
        if need[2]:
            out.append(gb)
        return tuple(out)


# ---- nll_loss / cross_entropy -----------------------------------------------------------------
class _Targets:
    """Class-index targets resolved once per call: where each entry's class sits (`index`
    into the (N, C, ...) input), its weight w[target] (None: all 1) and whether it counts
    (`valid`, None: all do), and the 'mean' denominator `total` (the summed weights)."""

    __slots__ = ("index", "w", "valid", "total")

    def __init__(self, xp, target, weight, ignore_index, num_classes, dtype):
        lo = int(target.min()) if target.size else 0
        hi = int(target.max()) if target.size else 0
        valid = None
        if lo <= ignore_index <= hi:
            valid = target != ignore_index
        if lo < 0 or hi >= num_classes:
            bad = (target < 0) | (target >= num_classes)
            if valid is not None:
                bad &= valid
            if bad.any():
                raise IndexError(f"Target {int(target[bad].reshape(-1)[0])} is out of bounds.")
        safe = target if valid is None else xp.where(valid, target, 0)
        self.index = _target_index(xp, safe)
        self.valid = valid
        if weight is None:
            self.w = None if valid is None else valid.astype(dtype)
        else:
            w = weight.astype(dtype, copy=False)[safe]
            self.w = w if valid is None else w * valid
        self.total = target.size if self.w is None else self.w.sum()

    def weighted(self, values):
        """values * w[target] (unchanged when every weight is 1)."""
        return values if self.w is None else values * self.w

    def smoothing(self, xp, weight, eps, num_classes, ndim, dtype):
        """Label smoothing eps spreads (eps / C) w[c] over every class of each counted entry
        (and keeps (1 - eps) w[target] at the target): returns that dense spread and, per
        entry, the total target mass sum_c b."""
        wc = (xp.ones((1, num_classes) + (1,) * (ndim - 2), dtype=dtype) if weight is None
              else _class_view(weight.astype(dtype), ndim))
        spread = wc * (eps / num_classes)
        if self.valid is not None:
            spread = spread * self.valid.astype(dtype)[:, None]
        # not in place: without ignored entries the spread is one row for the whole batch
        mass = spread.sum(axis=1) + (1.0 - eps) * (1.0 if self.w is None else self.w)
        return spread, mass


def _as_batched(x, target):
    """Unbatched (C,) input with a 0-d target as a batch of one."""
    return (x[None], target[None]) if x.ndim == 1 else (x, target)


def _target_index(xp, safe):
    """An index tuple selecting a[n, safe[n, d...], d...] from a of shape (N, C, d...)."""
    k = safe.ndim
    grids = [xp.arange(s).reshape((1,) * i + (s,) + (1,) * (k - 1 - i))
             for i, s in enumerate(safe.shape)]
    return (grids[0], safe) + tuple(grids[1:])


def _class_view(weight, ndim):
    """A per-class vector shaped to broadcast along dim 1 of an ndim-dim array."""
    return weight.reshape((1, -1) + (1,) * (ndim - 2))


def _reduce_loss(losses, reduction, total):
    if reduction == "none":
        return losses
    s = losses.sum()
    return s / total if reduction == "mean" else s


def _grad_scale(xp, g, reduction, total):
    """The incoming gradient (raw) shaped to broadcast over the class dim, / the mean's
    denominator."""
    if reduction == "none":
        return g[:, None] if g.ndim else g
    return g / total if reduction == "mean" else g


def _grad_scale_t(g, reduction, total):
    """_grad_scale in ember ops."""
    if reduction == "none":
        return g.unsqueeze(1) if g.ndim else g
    return g / total if reduction == "mean" else g


def _nll_samples():
    def nll(**kw):
        return lambda t, x, y: t.nn.functional.nll_loss(x, y, **kw)

    tgt = Arg((4,), 0, 2, dtype="int64", grad=False)
    return (Sample(nll(), (Arg((4, 3)), tgt), dtypes=FLOAT_ALL),
            Sample(nll(reduction="none"), (Arg((4, 3)), tgt), name="none"),
            Sample(nll(reduction="sum", ignore_index=1), (Arg((4, 3)), tgt), name="ignore"),
            Sample(lambda t, x, y, w: t.nn.functional.nll_loss(x, y, w),
                   (Arg((4, 3)), tgt, Arg((3,), 0.5, 2, grad=False)), name="weight"),
            Sample(nll(), (Arg((2, 3, 2, 2)), Arg((2, 2, 2), 0, 2, dtype="int64", grad=False)),
                   name="kdim"),
            Sample(nll(reduction="none"), (Arg((3,)), Arg((), 0, 2, dtype="int64", grad=False)),
                   name="unbatched"))


def _nll_node(args, attrs) -> str:
    """torch's node for nll_loss (and cross_entropy, whose last step it is): a separate
    kernel for spatial inputs; label smoothing ends cross_entropy in an addition."""
    if attrs.get("label_smoothing"):
        return "AddBackward0"
    return "NllLossBackward0" if args[0]._data.ndim <= 2 else "NllLoss2DBackward0"


@register("nll_loss", promote=None, complex=False, autocast="float32", torch_node=_nll_node,
          samples=_nll_samples())
class NllLoss(OpDef):
    """-weight[target] * input[target] per entry (class dim 1), then reduced."""

    def forward(ctx, xp, x, target, weight, ignore_index, reduction):
        shape, dtype = x.shape, x.dtype
        x, target = _as_batched(_widen(x), target)
        targets = _Targets(xp, target, weight, ignore_index, x.shape[1], x.dtype)
        out = _reduce_loss(targets.weighted(-x[targets.index]), reduction, targets.total)
        ctx.reduction, ctx.shape, ctx.ignore_index = reduction, shape, ignore_index
        ctx.save(target, weight)
        out = out.reshape(()) if len(shape) == 1 and reduction == "none" else out
        return out.astype(dtype, copy=False)

    def backward(ctx, g):
        target, weight = ctx.saved
        coef = apply(NllLossCoefficients, target, weight, ignore_index=ctx.ignore_index,
                     reduction=ctx.reduction, shape=tuple(ctx.shape), dtype=g._dtype)
        if ctx.reduction == "none" and g.ndim:
            g = g.unsqueeze(1)
        return g * coef, None, None


@register("nll_loss_coefficients", promote=None, complex=False, differentiable=False, samples=(
    Sample(lambda t, x, y, g: t.autograd.grad(t.nn.functional.nll_loss(
        x.requires_grad_(), y, reduction="none"), x, g)[0],
           (Arg((4, 3)), Arg((4,), 0, 2, dtype="int64", grad=False), Arg((4,))),
           grad=False),))
class NllLossCoefficients(OpDef):
    """d nll_loss / d input: -w[target] (over the mean's denominator) at each entry's target
    class, zero elsewhere; an op of the target tensor, so recorded backwards read it."""

    def forward(ctx, xp, target, weight, ignore_index, reduction, shape, dtype):
        batched = (1,) + tuple(shape) if len(shape) == 1 else tuple(shape)
        target = target.reshape(batched[:1] + batched[2:])
        targets = _Targets(xp, target, weight, ignore_index, batched[1], dtype.np)
        coef = xp.zeros(batched, dtype=dtype.np)
        coef[targets.index] = -1.0 if targets.w is None else -targets.w
        if reduction == "mean":
            with _quiet():
                coef /= targets.total
        return coef.reshape(shape)


def _namespace_of(t: Tensor):
    from .._backend import namespace
    return namespace(t._device)


def _ce_samples():
    def ce(**kw):
        return lambda t, x, y: t.nn.functional.cross_entropy(x, y, **kw)

    tgt = Arg((4,), 0, 2, dtype="int64", grad=False)
    return (Sample(ce(), (Arg((4, 3)), tgt), dtypes=FLOAT_ALL),
            Sample(ce(reduction="none"), (Arg((4, 3)), tgt), name="none"),
            Sample(ce(reduction="sum", ignore_index=1), (Arg((4, 3)), tgt), name="ignore"),
            Sample(ce(label_smoothing=0.2, ignore_index=2), (Arg((4, 3)), tgt),
                   name="smoothing"),
            Sample(lambda t, x, y, w: t.nn.functional.cross_entropy(
                x, y, w, ignore_index=0, label_smoothing=0.1), (Arg((4, 3)), tgt,
                                                                Arg((3,), 0.5, 2, grad=False)),
                   name="weight_smoothing"),
            Sample(ce(), (Arg((2, 3, 2, 2)), Arg((2, 2, 2), 0, 2, dtype="int64", grad=False)),
                   name="kdim"),
            Sample(ce(reduction="none", label_smoothing=0.3),
                   (Arg((3,)), Arg((), 0, 2, dtype="int64", grad=False)), name="unbatched"))


@register("cross_entropy", promote=None, complex=False, autocast="float32",
          torch_node=_nll_node, samples=_ce_samples())
class CrossEntropy(OpDef):
    """log_softmax over the class dim 1 and nll_loss in one kernel, with label smoothing."""

    def forward(ctx, xp, x, target, weight, ignore_index, reduction, label_smoothing):
        shape, dtype = x.shape, x.dtype
        x2, target = _as_batched(_widen(x), target)
        targets = _Targets(xp, target, weight, ignore_index, x2.shape[1], x2.dtype)
        s = _shift(xp, x2, 1)
        picked = s[targets.index]
        # Without smoothing only the targets' log-probabilities are needed, so the exps
        # may overwrite the shifted logits; backward gets them unnormalized, with the sums.
        e = xp.exp(s) if label_smoothing else xp.exp(s, out=s)
        sums = e.sum(axis=1, keepdims=True)
        log_sums = xp.log(sums)
        losses = targets.weighted(log_sums[:, 0] - picked)
        if label_smoothing:
            spread, _ = targets.smoothing(xp, weight, label_smoothing, x2.shape[1],
                                          x2.ndim, x2.dtype)
            s -= log_sums
            losses *= 1.0 - label_smoothing
            losses -= (s * spread).sum(axis=1)
        out = _reduce_loss(losses, reduction, targets.total)
        ctx.reduction, ctx.eps, ctx.targets = reduction, label_smoothing, targets
        ctx.ignore_index = ignore_index
        ctx.save(x, weight, e, sums, target)
        out = out.reshape(()) if len(shape) == 1 and reduction == "none" else out
        return out.astype(dtype, copy=False)

    def backward(ctx, g):
        x, weight, p, sums, target = ctx.saved
        targets = ctx.targets
        if not _recording():
            # the targets are resolved again from the target tensor, so a recorded backward
            # (ember.compile) reads each call's targets
            return apply(CrossEntropyBackward, g, p, sums, weight, target,
                         ignore_index=ctx.ignore_index, reduction=ctx.reduction,
                         label_smoothing=ctx.eps, shape=tuple(x.shape)), None, None
        xp = _namespace_of(p)
        pa = p._data
        if ctx.eps:
            spread, mass = targets.smoothing(xp, None if weight is None else weight._data,
                                             ctx.eps, pa.shape[1], pa.ndim, pa.dtype)
            b = spread.copy()
        else:
            b = xp.zeros_like(pa)
            mass = xp.ones(pa.shape[:1] + pa.shape[2:], dtype=pa.dtype) if targets.w is None \
                else targets.w
        b[targets.index] += (1.0 - ctx.eps) * (1.0 if targets.w is None else targets.w)
        b = Tensor._wrap(b.reshape(x.shape), p._dtype, p._device)
        mass = Tensor._wrap(mass[:, None] if x.ndim > 1 else mass, p._dtype, p._device)
        probs = apply(Softmax, x, dim=1 if x.ndim > 1 else 0)
        return _grad_scale_t(g, ctx.reduction, targets.total) * (mass * probs - b), None, None


@register("cross_entropy_backward", promote=None, complex=False, differentiable=False, samples=(
    Sample(lambda t, x, y, g: t.autograd.grad(
        t.nn.functional.cross_entropy(x.requires_grad_(), y, reduction="none",
                                      label_smoothing=0.1), x, g)[0],
           (Arg((4, 3)), Arg((4,), 0, 2, dtype="int64", grad=False), Arg((4,))), grad=False),
    Sample(lambda t, x, y, g: t.autograd.grad(
        t.nn.functional.cross_entropy(x.requires_grad_(), y, reduction="none"), x, g)[0],
           (Arg((2, 3, 2)), Arg((2, 2), 0, 2, dtype="int64", grad=False), Arg((2, 2))),
           grad=False, name="plain")))
class CrossEntropyBackward(OpDef):
    """(sum_c b * softmax - b) * dloss, b the smoothed, weighted target distribution; softmax
    comes as the exps `e` of the shifted logits and their sums over the class dim."""

    def forward(ctx, xp, g, e, sums, weight, target, ignore_index, reduction, label_smoothing,
                shape):
        target = target.reshape(e.shape[:1] + e.shape[2:])  # an unbatched 0-d one as (1,)
        targets = _Targets(xp, target, weight, ignore_index, e.shape[1], e.dtype)
        scale = _grad_scale(xp, g, reduction, targets.total)
        if not label_smoothing and targets.w is None:
            # The common case in one pass over the classes: softmax * scale - onehot * scale.
            gx = e * (scale / sums)
            gx[targets.index] -= scale[:, 0] if scale.ndim else scale
            return gx if gx.shape == shape else gx.reshape(shape)
        p = e / sums
        if label_smoothing:
            spread, mass = targets.smoothing(xp, weight, label_smoothing, p.shape[1],
                                             p.ndim, p.dtype)
            p *= mass[:, None]
            p -= spread
        else:
            p *= targets.w[:, None]
        p[targets.index] -= (1.0 - label_smoothing) * (1.0 if targets.w is None
                                                       else targets.w)
        p *= scale
        return p if p.shape == shape else p.reshape(shape)


# ---- binary_cross_entropy -------------------------------------------------------------------
def _bce_samples():
    def bce(**kw):
        return lambda t, x, y: t.nn.functional.binary_cross_entropy(x, y, **kw)

    return (Sample(bce(), (Arg((3, 4), 0.05, 0.95), Arg((3, 4), 0, 1))),
            Sample(bce(reduction="none"), (Arg((3, 4), 0.05, 0.95), Arg((3, 4), 0, 1)),
                   name="none"),
            Sample(lambda t, x, y, w: t.nn.functional.binary_cross_entropy(
                x, y, w, reduction="sum"), (Arg((3, 4), 0.05, 0.95), Arg((3, 4), 0, 1),
                                           Arg((4,), 0.5, 2, grad=False)), name="weight"),
            Sample(bce(reduction="sum"), (Arg(values=[0.0, 1.0, 0.5, 1.0], grad=False),
                                          Arg(values=[0.0, 1.0, 1.0, 0.0])), grad=False,
                   name="saturated"))


@register("binary_cross_entropy", promote=None, complex=False, autocast="float32",
          samples=_bce_samples())
class BinaryCrossEntropy(OpDef):
    """-w (t log x + (1 - t) log(1 - x)), each log clamped at -100 so saturated inputs give
    finite losses (and the input gradient's denominator is clamped at 1e-12; the target
    gradient, as in torch, is not clamped)."""

    def forward(ctx, xp, x, target, weight, reduction):
        dtype = x.dtype
        xw = _widen(x)
        if not bool(((xw >= 0) & (xw <= 1)).all()):
            raise RuntimeError("all elements of input should be between 0 and 1")
        t = _like(target, xw)
        loss = -(t * xp.maximum(xp.log(xw), -100.0)
                 + (1 - t) * xp.maximum(xp.log1p(-xw), -100.0))
        if weight is not None:
            loss *= _like(weight, xw)
        ctx.reduction = reduction
        ctx.save(x, target, weight)
        return _reduce_loss(loss, reduction, loss.size).astype(dtype, copy=False)

    def backward(ctx, g):
        x, target, weight = ctx.saved
        need = ctx.needs_input_grad
        if ctx.reduction == "mean":
            g = g / x.numel()
        if weight is not None:
            g = g * weight
        gx = gt = None
        if need[0]:
            gx = g * (x - target) / ((1 - x) * x).clamp_min(1e-12)
        if need[1]:
            gt = g * ((-x).log1p() - x.log())
        return gx, gt, None


# ---- embedding --------------------------------------------------------------------------------
def _embedding_samples():
    idx = Arg((2, 3), 0, 4, dtype="int64", grad=False)
    return (Sample(lambda t, w, i: t.nn.functional.embedding(i, w), (Arg((5, 3)), idx),
                   dtypes=FLOAT_ALL),
            Sample(lambda t, w, i: t.nn.functional.embedding(i, w, padding_idx=2),
                   (Arg((5, 3)), Arg(values=[[2, 1, 2], [4, 1, 1]], dtype="int64", grad=False)),
                   grad=False, name="padding"))


@register("embedding", promote=None, onnx="Gather", samples=_embedding_samples())
class Embedding(OpDef):
    """Rows of `weight` picked by integer `indices`; their gradient is summed back per row,
    skipping `padding_idx` and divided by each index's count when `scale_grad_by_freq`."""

    def forward(ctx, xp, weight, indices, padding_idx, scale_grad_by_freq):
        if indices.size and (indices.min() < 0 or indices.max() >= weight.shape[0]):
            raise IndexError("index out of range in self")
        ctx.num, ctx.padding_idx, ctx.scale = weight.shape[0], padding_idx, scale_grad_by_freq
        ctx.save(indices)
        return xp.take(weight, indices, axis=0)

    def backward(ctx, g):
        from .creation import zeros
        from .indexing import index_add
        (indices,) = ctx.saved
        flat = indices.reshape(-1)
        rows = g.reshape(-1, g.shape[-1])
        if ctx.padding_idx is not None or ctx.scale:
            rows = rows * _row_scale(flat, ctx.num, ctx.padding_idx, ctx.scale, g)
        return index_add(zeros(ctx.num, g.shape[-1], dtype=g.dtype, device=g.device), 0, flat,
                         rows), None


def _row_scale(flat, num, padding_idx, by_freq, like):
    """Per-lookup gradient factor: 0 at padding_idx, 1 / (count of the index) by frequency;
    ops of the indices, so a recorded backward (ember.compile) follows each call's."""
    from .sorting import bincount
    scale = None
    if by_freq:
        scale = bincount(flat, minlength=num).to(like.dtype)[flat].reciprocal()
    if padding_idx is not None:
        keep = (flat != padding_idx).to(like.dtype)
        scale = keep if scale is None else scale * keep
    return scale.unsqueeze(1)


# ---- ctc_loss ---------------------------------------------------------------------------------
def _logaddexp(xp, *terms):
    """log(sum(exp(terms))) elementwise, -inf when every term is -inf."""
    peak = terms[0]
    for t in terms[1:]:
        peak = xp.maximum(peak, t)
    safe = xp.where(xp.isfinite(peak), peak, 0)
    total = sum(xp.exp(t - safe) for t in terms)
    return xp.log(total) + safe


def _ctc_setup(xp, targets, input_lengths, target_lengths, blank):
    """Extended label sequences l' = (blank, l1, blank, l2, ..., blank) per batch entry, padded
    with blank, their lengths, and where the skip transition s-2 -> s is allowed."""
    batch = target_lengths.shape[0]
    longest = int(target_lengths.max()) if batch else 0
    labels = xp.full((batch, max(longest, 1)), blank, dtype=np.int64)
    if targets.ndim == 2:
        cols = min(targets.shape[1], longest)
        keep = xp.arange(cols)[None, :] < target_lengths[:, None]
        labels[:, :cols] = xp.where(keep, targets[:, :cols], blank)
    else:
        starts = xp.cumsum(target_lengths) - target_lengths
        pos = xp.arange(max(longest, 1))[None, :]
        keep = pos < target_lengths[:, None]
        gather = xp.where(keep, starts[:, None] + pos, 0)
        labels = xp.where(keep, targets[gather] if targets.size else blank, blank)
    ext = xp.full((batch, 2 * labels.shape[1] + 1), blank, dtype=np.int64)
    ext[:, 1::2] = labels
    skip = xp.zeros(ext.shape, dtype=bool)
    skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
    return ext, 2 * target_lengths + 1, skip


def _ctc_alpha(xp, lp, ext, ext_len, skip, input_lengths):
    """Forward variables log alpha[t, n, s] (t beyond an entry's input length repeat its last
    step) and the per-entry negative log likelihood."""
    steps, batch, _ = lp.shape
    width = ext.shape[1]
    ninf = -np.inf
    emit = xp.take_along_axis(lp, xp.broadcast_to(ext[None], (steps,) + ext.shape), axis=2)
    alpha = xp.full((steps, batch, width), ninf, dtype=lp.dtype)
    alpha[0, :, 0] = emit[0, :, 0]
    alpha[0, :, 1] = xp.where(ext_len > 1, emit[0, :, 1], ninf)
    pad = xp.full((batch, 1), ninf, dtype=lp.dtype)
    for t in range(1, steps):
        prev = alpha[t - 1]
        one = xp.concatenate([pad, prev[:, :-1]], axis=1)
        two = xp.where(skip, xp.concatenate([pad, pad, prev[:, :-2]], axis=1), ninf)
        step = _logaddexp(xp, prev, one, two) + emit[t]
        alpha[t] = xp.where((t < input_lengths)[:, None], step, prev)
    rows = xp.arange(batch)
    last = alpha[xp.maximum(input_lengths - 1, 0), rows]
    end = ext_len - 1
    nll = -_logaddexp(xp, last[rows, end], xp.where(end > 0, last[rows, end - 1], ninf))
    nll = xp.where(input_lengths > 0, nll, xp.where(ext_len == 1, 0.0, np.inf))
    return alpha, emit, nll


def _ctc_grad(xp, lp, ext, ext_len, skip, input_lengths, alpha, emit, nll):
    """d nll / d log_probs as torch computes it: exp(lp) - exp(log sum_{s: l'_s = c}
    alpha * beta + nll - lp) for t < input length, 0 after."""
    steps, batch, classes = lp.shape
    width = ext.shape[1]
    ninf = -np.inf
    cols = xp.arange(width)[None, :]
    inside = cols < ext_len[:, None]
    beta = xp.full((steps, batch, width), ninf, dtype=lp.dtype)
    cur = xp.full((batch, width), ninf, dtype=lp.dtype)
    pad = xp.full((batch, 1), ninf, dtype=lp.dtype)
    skip_next = xp.concatenate([skip[:, 2:], xp.zeros((batch, 2), dtype=bool)], axis=1)
    for t in range(steps - 1, -1, -1):
        start = (t == input_lengths - 1)[:, None] & (cols >= ext_len[:, None] - 2) & inside
        one = xp.concatenate([cur[:, 1:], pad], axis=1)
        two = xp.where(skip_next, xp.concatenate([cur[:, 2:], pad, pad], axis=1), ninf)
        step = _logaddexp(xp, cur, one, two) + emit[t]
        cur = xp.where(start, emit[t], xp.where((t < input_lengths - 1)[:, None], step, ninf))
        beta[t] = cur
    ab = alpha + beta
    peak = ab.max(axis=2, keepdims=True)
    peak = xp.where(xp.isfinite(peak), peak, 0)
    onehot = (ext[:, :, None] == xp.arange(classes)[None, None, :]).astype(lp.dtype)
    per_class = xp.einsum("tns,nsc->tnc", xp.exp(ab - peak), onehot)
    with _quiet():
        lcab = xp.log(per_class) + peak
        grad = xp.exp(lp) - xp.exp(lcab + nll[None, :, None] - lp)
    live = (xp.arange(steps)[:, None] < input_lengths[None, :])[:, :, None]
    return xp.where(live, grad, 0)


@register("ctc_loss", promote="float", promote_args=(0,), samples=(
    Sample(lambda t, x, y: t.nn.functional.ctc_loss(
        x.log_softmax(2), y, (6, 5), (3, 2)),
        (Arg((6, 2, 4)), Arg(values=[[1, 2, 2], [3, 1, 0]], dtype="int64", grad=False)),
        gradgrad=False),
    Sample(lambda t, x, y: t.nn.functional.ctc_loss(
        x.log_softmax(2), y, (4, 5), (3, 2), reduction="none", blank=3),
        (Arg((5, 2, 4)), Arg(values=[1, 1, 2, 0, 2], dtype="int64", grad=False)),
        gradgrad=False, name="concatenated"),
    Sample(lambda t, x, y: t.nn.functional.ctc_loss(
        x.log_softmax(1), y, (5,), (2,), reduction="sum"),
        (Arg((5, 3)), Arg(values=[2, 1], dtype="int64", grad=False)), gradgrad=False,
        name="unbatched"),
    Sample(lambda t, x, y: t.nn.functional.ctc_loss(
        x.log_softmax(2), y, (2, 4), (3, 1), zero_infinity=True),
        (Arg((4, 2, 3)), Arg(values=[[1, 1, 2], [2, 0, 0]], dtype="int64", grad=False)),
        gradgrad=False, name="zero_infinity")))
class CtcLoss(OpDef):
    """Connectionist temporal classification: -log of the total probability of every
    alignment of each target to its input, by the alpha recursion in log space."""

    def forward(ctx, xp, log_probs, targets, input_lengths, target_lengths, blank, reduction,
                zero_infinity):
        unbatched = log_probs.ndim == 2
        lp = log_probs[:, None] if unbatched else log_probs
        if unbatched:
            targets = targets[None]
        ext, ext_len, skip = _ctc_setup(xp, targets, input_lengths, target_lengths, blank)
        alpha, emit, nll = _ctc_alpha(xp, lp, ext, ext_len, skip, input_lengths)
        losses = xp.where(xp.isinf(nll), 0.0, nll).astype(lp.dtype) if zero_infinity else nll
        ctx.unbatched, ctx.reduction, ctx.zero_infinity = unbatched, reduction, zero_infinity
        ctx.save(lp, ext, ext_len, skip, input_lengths, target_lengths, alpha, emit, nll)
        if reduction == "none":
            out = losses[0] if unbatched else losses
        elif reduction == "sum":
            out = losses.sum()
        else:
            out = (losses / xp.maximum(target_lengths, 1)).mean()
        return out.astype(lp.dtype, copy=False)

    def backward(ctx, g):
        # an op of the saved tensors, so a recorded backward (ember.compile) recomputes it
        const = apply(CtcLossGrad, *ctx.saved, reduction=ctx.reduction,
                      zero_infinity=ctx.zero_infinity, unbatched=ctx.unbatched)
        if ctx.reduction == "none" and not ctx.unbatched:
            g = g.unsqueeze(-1)
        return g * const, None, None, None


@register("ctc_loss_grad", promote=None, differentiable=False, samples=(
    Sample(lambda t, x, y, g: t.autograd.grad(t.nn.functional.ctc_loss(
        x.requires_grad_().log_softmax(2), y, (6, 5), (3, 2), reduction="none"), x, g)[0],
        (Arg((6, 2, 4)), Arg(values=[[1, 2, 2], [3, 1, 0]], dtype="int64", grad=False),
         Arg((2,))), grad=False),))
class CtcLossGrad(OpDef):
    """d ctc_loss / d log_probs per entry (before the incoming gradient), from the forward's
    alphas and the saved extended targets."""

    def forward(ctx, xp, lp, ext, ext_len, skip, input_lengths, target_lengths, alpha, emit, nll,
                reduction, zero_infinity, unbatched):
        with _quiet():
            grad = _ctc_grad(xp, lp, ext, ext_len, skip, input_lengths, alpha, emit, nll)
        if zero_infinity:
            grad = xp.where(xp.isinf(nll)[None, :, None], 0.0, grad)
        per_entry = xp.ones(nll.shape, dtype=lp.dtype)
        if reduction == "mean":
            per_entry /= xp.maximum(target_lengths, 1) * nll.shape[0]
        grad = grad * per_entry[None, :, None]
        return grad[:, 0] if unbatched else grad


__all__ = ["softmax", "log_softmax"]
