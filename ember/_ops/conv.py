"""Convolution, pooling, padding and resampling over (N, C, *spatial) tensors.

Primitives (kernels in ember/_backend/conv_kernels.py): convolution, conv_transpose and
conv_weight_grad form a set closed under differentiation (each one's gradients are the other
two), so double backward works; im2col/col2im (unfold/fold) are each other's adjoint; max
pooling returns flat indices whose gradient is max_unpool, whose own gradient is a gather;
constant_pad_nd's gradient is itself with negated pads. Average pooling, the other padding
modes, interpolation, pixel/channel shuffles, grid_sample and affine_grid are composites.
"""
from __future__ import annotations

import math
import operator
import warnings

import numpy as np

from .. import _dtype as D
from .._backend import conv_kernels as K
from .._backend import move, namespace
from .._backend.kernels import reduce_at
from .._tensor import Tensor
from ..testing.opinfo import FLOATS, INTS, Arg, Sample
from .creation import zeros
from .dispatch import AutocastState, apply, autocast_inputs
from .indexing import _linear_index
from .registry import OpDef, composite, name_node, refuse_complex, register

_LEGACY_NAMES = {D.float32: "FloatTensor", D.float64: "DoubleTensor", D.float16: "HalfTensor",
                 D.bfloat16: "BFloat16Tensor", D.int64: "LongTensor", D.int32: "IntTensor",
                 D.int16: "ShortTensor", D.int8: "CharTensor", D.uint8: "ByteTensor",
                 D.bool: "BoolTensor"}
_C_NAMES = {D.float32: "float", D.float64: "double", D.float16: "c10::Half",
            D.bfloat16: "c10::BFloat16", D.int64: "long int", D.int32: "int"}
_SCALAR_NAMES = {D.float32: "Float", D.float64: "Double", D.float16: "Half",
                 D.bfloat16: "BFloat16", D.int64: "Long", D.int32: "Int", D.int16: "Short",
                 D.int8: "Char", D.uint8: "Byte", D.bool: "Bool"}
_AXES = {1: ("width",), 2: ("height", "width"), 3: ("depth", "height", "width")}


# ---- argument parsing -------------------------------------------------------------------------
def _int_tuple(value, n: int, name: str, op: str) -> tuple:
    """An int or a sequence of 1 or n ints, as an n-tuple (torch's expand_param_if_needed)."""
    if isinstance(value, bool) or isinstance(value, (str, float)):
        raise TypeError(f"{op}(): argument '{name}' must be tuple of ints, not "
                        f"{type(value).__name__}")
    try:
        return (operator.index(value),) * n
    except TypeError:
        pass
    try:
        seq = tuple(operator.index(v) for v in value)
    except TypeError:
        raise TypeError(f"{op}(): argument '{name}' must be tuple of ints, not "
                        f"{type(value).__name__}") from None
    if len(seq) == 1:
        return seq * n
    if len(seq) != n:
        raise RuntimeError(f"expected {name} to be a single integer value or a list of {n} values "
                           f"to match the convolution dimensions, but got {name}={list(seq)}")
    return seq


def _pool_tuple(value, n: int, name: str, op: str) -> tuple:
    """Pooling arguments: an int or a tuple of 1 or n ints."""
    try:
        return (operator.index(value),) * n
    except TypeError:
        pass
    seq = tuple(operator.index(v) for v in value)
    if len(seq) == 1:
        return seq * n
    if len(seq) != n:
        what = "a tuple of two ints" if n == 2 else f"a tuple of {n} ints"
        raise RuntimeError(f"{op}: {name} must either be a single int, or {what}")
    return seq


def _const(array, like: Tensor) -> Tensor:
    """A constant tensor (no grad) from a host or device array, on `like`'s device."""
    if isinstance(array, np.ndarray):
        array = move(np.ascontiguousarray(array), like._device)
    else:
        array = namespace(like._device).ascontiguousarray(array)
    return Tensor._wrap_array(array)


def _check_rank(input: Tensor, nd: int, op: str) -> bool:
    """Accept (C, *spatial) or (N, C, *spatial); returns whether the input is batched."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {op}, "
                           f"but got input of size: {list(input.shape)}")
    return input.ndim == nd + 2


def _exact_pads(size, outs, kernel, stride, dilation, pads) -> tuple:
    """Pads (lo, hi) whose windows over `size` give exactly `outs` positions per dimension."""
    return tuple((lo, (o - 1) * s + d * (k - 1) + 1 - n - lo)
                 for n, o, k, s, d, (lo, _) in zip(size, outs, kernel, stride, dilation, pads))


# ---- convolution primitives -----------------------------------------------------------------
def _conv_samples():
    conv = []
    for nd, x, w, kw in (
            (1, (2, 3, 6), (4, 3, 3), {"stride": 2, "padding": 1}),
            (2, (1, 2, 4, 5), (3, 2, 2, 3), {"padding": (1, 0), "dilation": (1, 2)}),
            (2, (2, 4, 4, 4), (4, 2, 2, 2), {"groups": 2, "stride": (2, 1)}),
            (2, (1, 3, 4, 4), (3, 1, 3, 3), {"groups": 3, "padding": "same"}),
            (3, (1, 2, 3, 3, 3), (2, 2, 2, 2, 2), {"padding": 1, "stride": 2})):
        fn = f"conv{nd}d"
        conv.append(Sample(lambda t, a, b, fn=fn, kw=kw: getattr(t, fn)(a, b, **kw),
                           (Arg(x), Arg(w)), name=f"{fn}_{len(conv)}"))
    conv.append(Sample(lambda t, a, b, c: t.conv2d(a, b, c, padding="valid"),
                       (Arg((2, 2, 3, 4)), Arg((3, 2, 2, 2)), Arg((3,))), name="bias"))
    conv.append(Sample(lambda t, a, b: t.conv1d(a, b, padding=2),
                       (Arg((2, 5)), Arg((3, 2, 2))), name="unbatched"))
    conv.append(Sample(lambda t, a, b: t.conv2d(a, b), (Arg((2, 2, 3, 3)), Arg((3, 2, 2, 2))),
                       dtypes=INTS, grad=False, name="int"))
    return tuple(conv)


@register("convolution", fresh=True, promote=None, holomorphic=True, autocast="lower",
          samples=_conv_samples())
class Convolution(OpDef):
    """y = conv(x, w) + b; padding holds a (lo, hi) pair per spatial dimension."""

    blas = True
    gemm = True
    check_dtypes = staticmethod(lambda x, w, b, *options: _dtype_checks(x, w, b))

    def forward(ctx, xp, x, w, b, stride, padding, dilation, groups):
        # again here: a graph replays the op at sizes conv2d never checked
        check_kernel_fits(x.shape[2:], padding, w.shape[2:], dilation)
        ctx.save(x, w)
        ctx.geometry = (stride, padding, dilation, groups)
        y, cols = K.conv(xp, x, w, b, stride, padding, dilation, groups)
        # The weight gradient reuses the im2col columns instead of rebuilding them.
        ctx.cols = cols if ctx.needs_input_grad[1:2] == (True,) else None
        return y

    def backward(ctx, g):
        x, w = ctx.saved
        stride, padding, dilation, groups = ctx.geometry
        need = ctx.needs_input_grad
        gx = gw = gb = None
        if need[0]:
            gx = apply(ConvTranspose, g, w, None, stride=stride, padding=padding,
                       dilation=dilation, groups=groups, size=tuple(x.shape[2:]))
        if need[1]:
            gw = apply(ConvWeightGrad, x, g, kernel=tuple(w.shape[2:]), stride=stride,
                       padding=padding, dilation=dilation, groups=groups, cols=ctx.cols)
            ctx.cols = None
        if need[2]:
            gb = g.sum((0,) + tuple(range(2, g.ndim)))
        return gx, gw, gb


def _conv_transpose_samples():
    out = []
    for nd, x, w, kw in (
            (1, (2, 3, 4), (3, 2, 3), {"stride": 2, "padding": 1, "output_padding": 1}),
            (2, (1, 2, 3, 3), (2, 3, 2, 3), {"stride": (2, 1), "dilation": (1, 2)}),
            (2, (1, 4, 3, 2), (4, 1, 2, 2), {"groups": 2, "padding": 1, "stride": 2}),
            (2, (1, 2, 3, 3), (2, 1, 3, 3), {"groups": 2, "stride": 2, "output_padding": 1}),
            (3, (1, 2, 2, 2, 2), (2, 1, 2, 2, 2), {"stride": 2})):
        fn = f"conv_transpose{nd}d"
        out.append(Sample(lambda t, a, b, fn=fn, kw=kw: getattr(t, fn)(a, b, **kw),
                          (Arg(x), Arg(w)), name=f"{fn}_{len(out)}"))
    out.append(Sample(lambda t, a, b, c: t.conv_transpose2d(a, b, c, stride=2),
                      (Arg((2, 3, 2, 2)), Arg((3, 2, 2, 2)), Arg((2,))), name="bias"))
    out.append(Sample(lambda t, a, b: t.conv_transpose1d(a, b, padding=1),
                      (Arg((2, 4)), Arg((2, 3, 3))), name="unbatched"))
    return tuple(out)


@register("conv_transpose", promote=None, holomorphic=True, autocast="lower",
          samples=_conv_transpose_samples())
class ConvTranspose(OpDef):
    """The adjoint of convolution in its input: x (N, Cin, *in), w (Cin, Cout/groups, *k), and
    the spatial result `size` (which output_padding picks among the sizes that fit)."""

    blas = True
    gemm = True

    def forward(ctx, xp, x, w, b, stride, padding, dilation, groups, size):
        ctx.save(x, w)
        ctx.geometry = (stride, padding, dilation, groups, size)
        return K.conv_transpose(xp, x, w, b, stride, padding, dilation, groups, size)

    def backward(ctx, g):
        x, w = ctx.saved
        stride, padding, dilation, groups, size = ctx.geometry
        kernel = tuple(w.shape[2:])
        pads = _exact_pads(size, tuple(x.shape[2:]), kernel, stride, dilation, padding)
        need = ctx.needs_input_grad
        gx = gw = gb = None
        if need[0]:
            gx = apply(Convolution, g, w, None, stride=stride, padding=pads, dilation=dilation,
                       groups=groups)
        if need[1]:
            gw = apply(ConvWeightGrad, g, x, kernel=kernel, stride=stride, padding=pads,
                       dilation=dilation, groups=groups)
        if need[2]:
            gb = g.sum((0,) + tuple(range(2, g.ndim)))
        return gx, gw, gb


def _weight_grad_sample(t, x, w, g, **kw):
    """The weight gradient of a convolution as a differentiable function of x and g."""
    w = w.detach().requires_grad_()
    y = t.conv2d(x, w, **kw)
    return t.autograd.grad(y, w, g, create_graph=True)[0]


@register("conv_weight_grad", promote=None, holomorphic=True, samples=(
    Sample(lambda t, x, w, g: _weight_grad_sample(t, x, w, g, stride=2, padding=1),
           (Arg((2, 2, 4, 4)), Arg((3, 2, 3, 3), grad=False), Arg((2, 3, 2, 2)))),
    Sample(lambda t, x, w, g: _weight_grad_sample(t, x, w, g, groups=2, dilation=2),
           (Arg((1, 4, 5, 5)), Arg((2, 2, 2, 2), grad=False), Arg((1, 2, 3, 3))),
           name="groups"),
    Sample(lambda t, x, w, g: _weight_grad_sample(t, x, w, g, groups=2),
           (Arg((2, 2, 3, 3)), Arg((4, 1, 2, 2), grad=False), Arg((2, 4, 2, 2))),
           name="depthwise")))
class ConvWeightGrad(OpDef):
    """d<conv(x, w), g>/dw as a function of the input x and the output gradient g; `cols`
    optionally passes x's im2col columns kept by the forward convolution."""

    blas = True
    gemm = True

    def forward(ctx, xp, x, g, kernel, stride, padding, dilation, groups, cols=None):
        ctx.save(x, g)
        ctx.geometry = (kernel, stride, padding, dilation, groups)
        return K.conv_weight_grad(xp, x, g, kernel, stride, padding, dilation, groups, cols)

    def backward(ctx, gw):
        x, g = ctx.saved
        kernel, stride, padding, dilation, groups = ctx.geometry
        pads = _exact_pads(tuple(x.shape[2:]), tuple(g.shape[2:]), kernel, stride, dilation,
                           padding)
        need = ctx.needs_input_grad
        gx = gg = None
        if need[0]:
            gx = apply(ConvTranspose, g, gw, None, stride=stride, padding=pads,
                       dilation=dilation, groups=groups, size=tuple(x.shape[2:]))
        if need[1]:
            gg = apply(Convolution, x, gw, None, stride=stride, padding=pads,
                       dilation=dilation, groups=groups)
        return gx, gg


# ---- convolution API ------------------------------------------------------------------------
def _dtype_checks(input: Tensor, weight: Tensor, bias) -> None:
    if weight._dtype is not input._dtype:
        a = _LEGACY_NAMES.get(input._dtype, input._dtype.name)
        b = _LEGACY_NAMES.get(weight._dtype, weight._dtype.name)
        raise RuntimeError(f"Input type (torch.{a}) and weight type (torch.{b}) should be the "
                           "same")
    if bias is not None and bias._dtype is not input._dtype:
        a = _C_NAMES.get(input._dtype, input._dtype.name)
        b = _C_NAMES.get(bias._dtype, bias._dtype.name)
        raise RuntimeError(f"Input type ({a}) and bias type ({b}) should be the same")
    if input._dtype.category == 0:
        raise RuntimeError(f'"conv" not implemented for \'{input._dtype.name}\'')


def _positive(values, what: str) -> None:
    if any(v <= 0 for v in values):
        raise RuntimeError(f"non-positive {what} is not supported")


def _autocast(x: Tensor, weight, bias) -> tuple:
    """The operands as an open autocast region casts them: before the dtype checks, as torch
    casts first (a bfloat16 activation meets the float32 weight of the next layer)."""
    if not AutocastState.active:
        return x, weight, bias
    return autocast_inputs("lower", (x, weight, bias))


def _check_weight(input, weight, bias, groups, nd, op, transposed=False) -> None:
    if not isinstance(weight, Tensor):
        raise TypeError(f"{op}(): argument 'weight' (position 2) must be Tensor, not "
                        f"{type(weight).__name__}")
    if weight.ndim != nd + 2:
        raise RuntimeError(f"{op}(): expected weight to be {nd + 2}-dimensional, but got weight "
                           f"of size {list(weight.shape)}")
    if isinstance(groups, bool) or not isinstance(groups, int):
        groups = operator.index(groups)
    _positive((groups,), "groups")
    shape = list(weight.shape)
    if not transposed:
        if shape[0] == 0:
            raise RuntimeError(f"Given groups={groups}, expected weight to be at least 1 at "
                               f"dimension 0, but got weight of size {shape} instead")
        if shape[0] % groups:
            raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by "
                               f"{groups} at dimension 0, but got weight of size {shape} instead")
    channels = shape[0] if transposed else shape[1] * groups
    if input.shape[1] != channels:
        given = "transposed=1" if transposed else f"groups={groups}"
        raise RuntimeError(f"Given {given}, weight of size {shape}, expected input"
                           f"{list(input.shape)} to have {channels} channels, but got "
                           f"{input.shape[1]} channels instead")
    if transposed and shape[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} "
                           f"at dimension 0, but got weight of size {shape} instead")
    if bias is not None:
        out = shape[1] * groups if transposed else shape[0]
        if not isinstance(bias, Tensor):
            raise TypeError(f"{op}(): argument 'bias' (position 3) must be Tensor, not "
                            f"{type(bias).__name__}")
        if bias.ndim != 1 or bias.shape[0] != out:
            raise RuntimeError(f"Given weight of size {shape}, expected bias to be 1-dimensional "
                               f"with {out} elements, but got bias of size {list(bias.shape)} "
                               "instead")
    _dtype_checks(input, weight, bias)


def _conv_padding(padding, kernel, stride, dilation, nd, op) -> tuple:
    """(lo, hi) pads from ints or 'valid'/'same' (torch puts the odd extra on the high side)."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            pads = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                pads.append((total // 2, total - total // 2))
            return tuple(pads)
        raise RuntimeError(f"Invalid padding string: '{padding}'")
    pads = _int_tuple(padding, nd, "padding", op)
    if any(p < 0 for p in pads):
        raise RuntimeError("negative padding is not supported")
    return tuple((p, p) for p in pads)


def check_kernel_fits(spatial, pads, kernel, dilation) -> None:
    """Raise torch's RuntimeError when a (dilated) kernel is larger than the padded input."""
    padded = [n + lo + hi for n, (lo, hi) in zip(spatial, pads)]
    effective = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    if any(p < e for p, e in zip(padded, effective)):
        raise RuntimeError(f"Calculated padded input size per channel: "
                           f"({' x '.join(map(str, padded))}). Kernel size: "
                           f"({' x '.join(map(str, effective))}). Kernel size can't be greater "
                           "than actual input size")


def _conv(input, weight, bias, stride, padding, dilation, groups, nd, op) -> Tensor:
    batched = _check_rank(input, nd, op)
    x = input if batched else input.unsqueeze(0)
    x, weight, bias = _autocast(x, weight, bias)
    _check_weight(x, weight, bias, groups, nd, op)
    stride = _int_tuple(stride, nd, "stride", op)
    dilation = _int_tuple(dilation, nd, "dilation", op)
    _positive(stride, "stride")
    _positive(dilation, "dilation")
    kernel = tuple(weight.shape[2:])
    pads = _conv_padding(padding, kernel, stride, dilation, nd, op)
    check_kernel_fits(x.shape[2:], pads, kernel, dilation)
    out = apply(Convolution, x, weight, bias, stride=stride, padding=pads, dilation=dilation,
                groups=operator.index(groups))
    return out if batched else out.squeeze(0)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """1-D convolution (cross-correlation) over (N, C, L) or unbatched (C, L) input.

    >>> import ember
    >>> ember.conv1d(ember.ones(1, 1, 5), ember.ones(1, 1, 3)).tolist()
    [[[3.0, 3.0, 3.0]]]
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """2-D convolution (cross-correlation) over (N, C, H, W) or unbatched (C, H, W) input.

    >>> import ember
    >>> ember.conv2d(ember.ones(1, 1, 3, 3), ember.ones(2, 1, 2, 2), padding=1).shape
    torch.Size([1, 2, 4, 4])
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """3-D convolution (cross-correlation) over (N, C, D, H, W) or unbatched (C, D, H, W)."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 3, "conv3d")


def _transpose_output_padding_error(output_padding, stride, dilation) -> str:
    nd = len(stride)
    if nd == 1:
        output_padding, stride, dilation = (0,) + output_padding, (1,) + stride, (1,) + dilation
    axes = _AXES[len(stride)]
    parts = [f"output_padding_{a}: {v}" for a, v in zip(axes, output_padding)]
    parts += [f"stride_{a}: {v}" for a, v in zip(axes, stride)]
    parts += [f"dilation_{a}: {v}" for a, v in zip(axes, dilation)]
    return ("output padding must be smaller than either stride or dilation, but got "
            + " ".join(parts))


def _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation,
                    nd, op) -> Tensor:
    batched = _check_rank(input, nd, op)
    x = input if batched else input.unsqueeze(0)
    if isinstance(padding, str):
        raise TypeError(f"{op}(): argument 'padding' must be tuple of ints, not str")
    x, weight, bias = _autocast(x, weight, bias)
    _check_weight(x, weight, bias, groups, nd, op, transposed=True)
    stride = _int_tuple(stride, nd, "stride", op)
    dilation = _int_tuple(dilation, nd, "dilation", op)
    pads = _int_tuple(padding, nd, "padding", op)
    output_padding = _int_tuple(output_padding, nd, "output_padding", op)
    _positive(stride, "stride")
    _positive(dilation, "dilation")
    if any(p < 0 for p in pads):
        raise RuntimeError("negative padding is not supported")
    if any(p < 0 for p in output_padding):
        raise RuntimeError("negative output_padding is not supported")
    if any(op_ >= s and op_ >= d for op_, s, d in zip(output_padding, stride, dilation)):
        raise RuntimeError(_transpose_output_padding_error(output_padding, stride, dilation))
    kernel = tuple(weight.shape[2:])
    size = tuple((n - 1) * s - 2 * p + d * (k - 1) + 1 + q for n, s, p, d, k, q in zip(
        x.shape[2:], stride, pads, dilation, kernel, output_padding))
    if any(n < 1 for n in size):
        raise RuntimeError(f"Given input size per channel: ({' x '.join(map(str, x.shape[2:]))})"
                           f". Calculated output size per channel: "
                           f"({' x '.join(map(str, size))}). Output size is too small")
    out = apply(ConvTranspose, x, weight, bias, stride=stride, padding=tuple((p, p) for p in pads),
                dilation=dilation, groups=operator.index(groups), size=size)
    return out if batched else out.squeeze(0)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:
    """1-D transposed convolution ("deconvolution"): the gradient of conv1d in its input.

    >>> import ember
    >>> ember.conv_transpose1d(ember.ones(1, 1, 2), ember.ones(1, 1, 3), stride=2).tolist()
    [[[1.0, 1.0, 2.0, 1.0, 1.0]]]
    """
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups,
                           dilation, 1, "conv_transpose1d")


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:
    """2-D transposed convolution: weight has shape (in_channels, out_channels/groups, kH, kW)."""
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups,
                           dilation, 2, "conv_transpose2d")


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:
    """3-D transposed convolution."""
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups,
                           dilation, 3, "conv_transpose3d")


def convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding,
                groups) -> Tensor:
    """torch.convolution: the N-d convolution or transposed convolution the weight's rank picks."""
    nd = weight.ndim - 2
    if nd not in (1, 2, 3):
        raise RuntimeError(f"convolution(): expected a 3, 4 or 5-dimensional weight, but got "
                           f"weight of size {list(weight.shape)}")
    if transposed:
        return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups,
                               dilation, nd, f"conv_transpose{nd}d")
    return _conv(input, weight, bias, stride, padding, dilation, groups, nd, f"conv{nd}d")


# ---- im2col / col2im --------------------------------------------------------------------------
def _block_geometry(kernel_size, dilation, padding, stride, op):
    kernel = _pool_tuple(kernel_size, 2, "kernel_size", op)
    dilation = _pool_tuple(dilation, 2, "dilation", op)
    padding = _pool_tuple(padding, 2, "padding", op)
    stride = _pool_tuple(stride, 2, "stride", op)
    for name, values, low in (("kernel size", kernel, 1), ("dilation", dilation, 1),
                              ("stride", stride, 1), ("padding", padding, 0)):
        if any(v < low for v in values):
            raise RuntimeError(f"{op}(): expected {name} to be "
                               f"{'non-negative' if low == 0 else 'greater than zero'}, but got "
                               f"{name.replace(' ', '_')}={values}")
    return kernel, dilation, padding, stride


def _blocks(size, kernel, dilation, padding, stride):
    return tuple((n + 2 * p - d * (k - 1) - 1) // s + 1
                 for n, k, d, p, s in zip(size, kernel, dilation, padding, stride))


@register("im2col", promote=None, samples=(
    Sample(lambda t, x: t.nn.functional.unfold(x, 2), (Arg((2, 2, 3, 4)),)),
    Sample(lambda t, x: t.nn.functional.unfold(x, (2, 3), dilation=(2, 1), padding=1, stride=2),
           (Arg((1, 2, 4, 5)),), name="geometry"),
    Sample(lambda t, x: t.nn.functional.unfold(x, 3, padding=1), (Arg((2, 3, 3)),),
           name="unbatched")))
class Im2col(OpDef):
    """The sliding blocks of x (N, C, *spatial) as columns (N, C * prod(kernel), L)."""

    def forward(ctx, xp, x, kernel, stride, padding, dilation, outs):
        ctx.geometry = (kernel, stride, padding, dilation, outs)
        ctx.size = x.shape[2:]
        return K.im2col(xp, x, kernel, stride, padding, dilation, outs)

    def backward(ctx, g):
        kernel, stride, padding, dilation, outs = ctx.geometry
        return apply(Col2im, g, kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                     outs=outs, size=tuple(ctx.size))


@register("col2im", promote=None, samples=(
    Sample(lambda t, x: t.nn.functional.fold(x, (3, 4), 2), (Arg((2, 8, 6)),)),
    Sample(lambda t, x: t.nn.functional.fold(x, (4, 5), (2, 3), dilation=(2, 1), padding=1,
                                             stride=2), (Arg((1, 12, 6)),), name="geometry"),
    Sample(lambda t, x: t.nn.functional.fold(x, (3, 3), 2), (Arg((4, 4)),), name="unbatched")))
class Col2im(OpDef):
    """Sum columns (N, C * prod(kernel), L) back into (N, C, *size): the adjoint of im2col."""

    def forward(ctx, xp, x, kernel, stride, padding, dilation, outs, size):
        ctx.geometry = (kernel, stride, padding, dilation, outs)
        n = x.shape[0]
        cols = x.reshape((n, x.shape[1] // math.prod(kernel)) + tuple(kernel) + tuple(outs))
        return K.col2im(xp, cols, size, kernel, stride, padding, dilation, outs)

    def backward(ctx, g):
        kernel, stride, padding, dilation, outs = ctx.geometry
        return apply(Im2col, g, kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                     outs=outs)


def unfold(input, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Extract sliding local blocks: (N, C, H, W) -> (N, C * kH * kW, L).

    >>> import ember
    >>> ember.nn.functional.unfold(ember.ones(1, 2, 3, 3), 2).shape
    torch.Size([1, 8, 4])
    """
    if input.ndim not in (3, 4) or any(n == 0 for n in input.shape[-3:]):
        raise RuntimeError("Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and "
                           f"other non-zero dimensions for input, but got: {list(input.shape)}")
    kernel, dilation, padding, stride = _block_geometry(kernel_size, dilation, padding, stride,
                                                        "unfold")
    batched = input.ndim == 4
    x = input if batched else input.unsqueeze(0)
    outs = _blocks(x.shape[2:], kernel, dilation, padding, stride)
    if any(o < 1 for o in outs):
        raise RuntimeError(f"Given input with spatial size {tuple(x.shape[2:])}, kernel_size="
                           f"{kernel}, dilation={dilation}, padding={padding}, calculated shape "
                           f"of the array of sliding blocks as {outs}, but its components must "
                           "be at least one.")
    out = apply(Im2col, x, kernel=kernel, stride=stride, padding=tuple((p, p) for p in padding),
                dilation=dilation, outs=outs)
    return out if batched else out.squeeze(0)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Combine sliding local blocks (N, C * kH * kW, L) into (N, C, H, W), summing overlaps.

    >>> import ember
    >>> ember.nn.functional.fold(ember.ones(1, 4, 4), (3, 3), 2)[0, 0].tolist()
    [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]
    """
    if input.ndim not in (2, 3) or any(n == 0 for n in input.shape[-2:]):
        raise RuntimeError("Expected 2D or 3D (batch mode) tensor with possibly 0 batch size and "
                           f"non-zero dimensions for input, but got: {list(input.shape)}")
    size = _pool_tuple(output_size, 2, "output_size", "fold")
    kernel, dilation, padding, stride = _block_geometry(kernel_size, dilation, padding, stride,
                                                        "fold")
    batched = input.ndim == 3
    x = input if batched else input.unsqueeze(0)
    blocks = math.prod(kernel)
    if x.shape[1] % blocks:
        raise RuntimeError("Expected size of input's dimension 1 to be divisible by the product "
                           f"of kernel_size, but got input.size(1)={x.shape[1]} and "
                           f"kernel_size={kernel}.")
    outs = _blocks(size, kernel, dilation, padding, stride)
    if any(o < 1 for o in outs):
        raise RuntimeError(f"Given output_size={size}, kernel_size={kernel}, dilation={dilation}"
                           f", padding={padding}, stride={stride}, calculated shape of the array "
                           f"of sliding blocks as {outs}, but its components must be at least "
                           "one.")
    if x.shape[2] != math.prod(outs):
        raise RuntimeError(f"Given output_size={size}, kernel_size={kernel}, dilation={dilation}"
                           f", padding={padding}, stride={stride}, expected size of input's "
                           f"dimension 2 to match the calculated number of sliding blocks "
                           f"{' * '.join(map(str, outs))} = {math.prod(outs)}, but got "
                           f"input.size(2)={x.shape[2]}.")
    out = apply(Col2im, x, kernel=kernel, stride=stride, padding=tuple((p, p) for p in padding),
                dilation=dilation, outs=outs, size=size)
    return out if batched else out.squeeze(0)


# ---- max pooling ------------------------------------------------------------------------------
def _pool_out(n, k, s, p, d, ceil_mode) -> int:
    """Output length of a pooling window sweep (torch's rule: in ceil mode the last window must
    start inside the input or its left padding)."""
    span = n + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def _pool_geometry(input, kernel_size, stride, padding, dilation, ceil_mode, nd, op):
    """Parse and check pooling arguments; returns (kernel, stride, pads, dilation, outs)."""
    kernel = _pool_tuple(kernel_size, nd, "kernel_size", op)
    stride = kernel if stride is None or (not isinstance(stride, int) and len(stride) == 0) \
        else _pool_tuple(stride, nd, "stride", op)
    padding = _pool_tuple(padding, nd, "padding", op)
    dilation = _pool_tuple(dilation, nd, "dilation", op)
    if any(k <= 0 for k in kernel):
        raise RuntimeError(f"{op}: kernel_size must be greater than zero, but got {kernel}")
    if any(s <= 0 for s in stride):
        raise RuntimeError("stride should not be zero")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(f"{op}: dilation must be greater than zero, but got {dilation}")
    if any(p < 0 for p in padding):
        raise RuntimeError(f"{op}: pad must be non-negative, but got pad: {padding}")
    for k, p, d in zip(kernel, padding, dilation):
        if p > (d * (k - 1) + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={p}, kernel_size={k} and dilation={d}")
    pads, outs = pool_window(input.shape[-nd - 1:], kernel, stride, padding, dilation,
                             ceil_mode)
    return kernel, stride, pads, dilation, outs


def pool_window(shape, kernel, stride, padding, dilation, ceil_mode):
    """The (low, high) padding each spatial dim of `shape` (channels first) is swept with,
    and the output size; raises torch's error when an output size would be below 1."""
    size = tuple(shape[1:])
    outs = tuple(_pool_out(n, k, s, p, d, ceil_mode)
                 for n, k, s, p, d in zip(size, kernel, stride, padding, dilation))
    if any(o < 1 for o in outs):
        raise RuntimeError(f"Given input size: ({'x'.join(map(str, shape))}). Calculated "
                           f"output size: ({'x'.join(map(str, (shape[0],) + outs))}). Output "
                           "size is too small")
    pads = tuple((p, (o - 1) * s + d * (k - 1) + 1 - n - p)
                 for n, o, k, s, p, d in zip(size, outs, kernel, stride, padding, dilation))
    return pads, outs


def _pool_rank(input, nd, op):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    if input.ndim not in (nd + 1, nd + 2) or any(n == 0 for n in input.shape[-nd - 1:]):
        if nd == 1:
            raise RuntimeError(f"{op}: Expected 2D or 3D (batch mode) tensor with optional 0 dim "
                               f"batch size for input, but got:{list(input.shape)}")
        raise RuntimeError(f"non-empty {nd + 1}D or {nd + 2}D (batch mode) tensor expected for "
                           "input")
    return input.ndim == nd + 2


@register("max_pool", fresh=True, promote=None, samples=(
    Sample(lambda t, x: t.max_pool2d(x, 2), (Arg((2, 2, 4, 4)),), dtypes=FLOATS + INTS),
    Sample(lambda t, x: t.nn.functional.max_pool2d(x, 3, 2, 1, return_indices=True),
           (Arg((1, 2, 5, 4)),), name="indices"),
    Sample(lambda t, x: t.nn.functional.max_pool2d(x, (2, 3), (1, 2), (1, 0), dilation=(1, 2),
                                                   ceil_mode=True, return_indices=True),
           (Arg((1, 2, 4, 5)),), name="geometry"),
    Sample(lambda t, x: t.max_pool1d(x, 3, 2, ceil_mode=True), (Arg((2, 3, 6)),), name="1d"),
    Sample(lambda t, x: t.nn.functional.max_pool2d(x, 2, return_indices=True), (Arg((2, 4, 4)),),
           name="unbatched"),
    Sample(lambda t, x: t.max_pool3d(x, 2, padding=1), (Arg((1, 2, 3, 3, 3)),), name="3d")))
class MaxPool(OpDef):
    """Max over windows of (N, C, *spatial); outputs the values and each maximum's flat index
    within its input plane. The output size follows from each call's input size (a traced
    graph keeps no size of its own). Graphs saved before ceil_mode was an attribute give
    `padding` as (low, high) pairs and `outs` instead."""

    def forward(ctx, xp, x, kernel, stride, padding, dilation, ceil_mode=False, outs=None):
        if outs is None:
            padding, outs = pool_window(x.shape[1:], kernel, stride, padding, dilation,
                                        ceil_mode)
        out, idx = K.max_pool(xp, x, kernel, stride, padding, dilation, outs)
        ctx.save(idx)
        ctx.size = x.shape[2:]
        ctx.overlap = any(s < d * (k - 1) + 1 for k, s, d in zip(kernel, stride, dilation))
        return out, idx

    def backward(ctx, g, _):
        (idx,) = ctx.saved
        return apply(MaxUnpool, g, idx, size=tuple(ctx.size), accumulate=ctx.overlap)


def _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, nd, op):
    batched = _pool_rank(input, nd, op)
    kernel, stride, pads, dilation, _ = _pool_geometry(input, kernel_size, stride, padding,
                                                       dilation, ceil_mode, nd, op)
    x = input if batched else input.unsqueeze(0)
    out, idx = apply(MaxPool, x, kernel=kernel, stride=stride,
                     padding=tuple(lo for lo, _ in pads), dilation=dilation,
                     ceil_mode=bool(ceil_mode))
    if not batched:
        out, idx = out.squeeze(0), idx.squeeze(0)
    # torch pools 1-d inputs in 2-d and squeezes the result
    name_node(out, "SqueezeBackward1" if nd == 1 else f"MaxPool{nd}DWithIndicesBackward0")
    return (out, idx) if return_indices else out


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """1-D max pooling over (N, C, L) or (C, L); with return_indices, also the argmax indices."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 1,
                     "max_pool1d")


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """2-D max pooling over (N, C, H, W) or (C, H, W).

    >>> import ember
    >>> ember.max_pool2d(ember.arange(16.).view(1, 1, 4, 4), 2).tolist()
    [[[[5.0, 7.0], [13.0, 15.0]]]]
    """
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2,
                     "max_pool2d")


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """3-D max pooling over (N, C, D, H, W) or (C, D, H, W)."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 3,
                     "max_pool3d")


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=False):
    """max_pool1d returning (values, indices)."""
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=False):
    """max_pool2d returning (values, indices)."""
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=False):
    """max_pool3d returning (values, indices)."""
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


# ---- unpooling --------------------------------------------------------------------------------
def _unpool_sample(t, x, nd, **kw):
    pool = getattr(t.nn.functional, f"max_pool{nd}d")
    unpool = getattr(t.nn.functional, f"max_unpool{nd}d")
    with t.no_grad():
        _, idx = pool(x.detach(), return_indices=True, **kw)
    return unpool(_pooled_like(x, idx), idx, **kw)


def _pooled_like(x, idx):
    """Values shaped like `idx`, differentiable in x (its leading elements, rearranged)."""
    return x.reshape(-1)[:idx.numel()].reshape(idx.shape)


@register("max_unpool", promote=None, complex=False, samples=(
    Sample(lambda t, x: _unpool_sample(t, x, 2, kernel_size=2), (Arg((2, 2, 4, 4)),)),
    Sample(lambda t, x: _unpool_sample(t, x, 1, kernel_size=3, stride=3),
           (Arg((2, 2, 6)),), name="1d"),
    Sample(lambda t, x: _unpool_sample(t, x, 3, kernel_size=2), (Arg((1, 2, 4, 2, 2)),),
           name="3d"),
    Sample(lambda t, x: t.nn.functional.max_unpool2d(
        x, t.tensor([[[[0, 3], [9, 14]]]]), 2, output_size=(5, 5)), (Arg((1, 1, 2, 2)),),
        name="output_size")))
class MaxUnpool(OpDef):
    """Place x at flat `indices` of zero planes of `size`; with accumulate, repeats sum (the
    gradient of max pooling), otherwise one of them wins (max_unpool)."""

    def forward(ctx, xp, x, indices, size, accumulate=False):
        ctx.save(indices)
        ctx.shape = x.shape
        ctx.size = size
        return K.unpool(xp, x, indices, size, accumulate)

    def backward(ctx, g):
        (indices,) = ctx.saved
        n, c = ctx.shape[:2]
        flat = g.reshape(n, c, math.prod(ctx.size)).gather(
            2, indices.reshape(n, c, math.prod(ctx.shape[2:])))
        return flat.reshape(ctx.shape), None


def _max_unpool(input, indices, kernel_size, stride, padding, output_size, nd, op):
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{op}: Expected {nd + 1}D or {nd + 2}D tensor for input, but got "
                           f"{list(input.shape)}")
    if not isinstance(indices, Tensor) or indices._dtype is not D.int64:
        raise RuntimeError(f"{op}: elements in indices should be type int64 but got: "
                           f"{getattr(indices, 'dtype', type(indices).__name__)}")
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError(f"{op}: Expected shape of indices to be same as that of the input "
                           f"tensor ({list(input.shape)}) but got indices tensor with shape: "
                           f"{list(indices.shape)}")
    kernel = _pool_tuple(kernel_size, nd, "kernel_size", op)
    stride = kernel if stride is None else _pool_tuple(stride, nd, "stride", op)
    padding = _pool_tuple(padding, nd, "padding", op)
    spatial = input.shape[-nd:]
    default = [(n - 1) * s - 2 * p + k for n, s, p, k in zip(spatial, stride, padding, kernel)]
    if output_size is None:
        size = tuple(default)
    else:
        size = tuple(operator.index(v) for v in output_size)
        if len(size) == nd + 2:
            size = size[-nd:]
        if len(size) != nd:
            raise ValueError(f"output_size should be a sequence containing {nd} or {nd + 2} "
                             f"elements, but it has a length of '{len(size)}'")
        for j, (got, want, s) in enumerate(zip(size, default, stride)):
            if not want - s < got < want + s:
                raise ValueError(f'invalid output_size "{tuple(size)}" (dim {j} must be between '
                                 f"{want - s} and {want + s})")
    plane = math.prod(size)
    if indices.numel():
        lo, hi = int(indices._data.min()), int(indices._data.max())
        if lo < 0 or hi >= plane:
            raise RuntimeError(f"Found an invalid max index: {hi if hi >= plane else lo} (output "
                               f"volumes are of size {'x'.join(map(str, size))})")
    batched = input.ndim == nd + 2
    x = input if batched else input.unsqueeze(0)
    idx = indices if batched else indices.unsqueeze(0)
    out = apply(MaxUnpool, x, idx, size=size, accumulate=False)
    return out if batched else out.squeeze(0)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of max_pool1d: values at their indices, zeros elsewhere."""
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 1,
                       "max_unpool1d")


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of max_pool2d: values at their indices, zeros elsewhere.

    >>> import ember
    >>> x = ember.tensor([[[[1., 2.], [3., 4.]]]])
    >>> out, idx = ember.nn.functional.max_pool2d(x, 2, return_indices=True)
    >>> ember.nn.functional.max_unpool2d(out, idx, 2).tolist()
    [[[[0.0, 0.0], [0.0, 4.0]]]]
    """
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 2,
                       "max_unpool2d")


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of max_pool3d."""
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 3,
                       "max_unpool3d")


# ---- average pooling --------------------------------------------------------------------------
def _avg_divisor(size, kernel, stride, padding, outs, count_include_pad):
    """Per output position, how many elements torch divides each window sum by."""
    divisor = np.ones((), dtype=np.int64)
    for n, k, s, p, o in zip(size, kernel, stride, padding, outs):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        count = end - start if count_include_pad else \
            np.minimum(end, n) - np.maximum(start, 0)
        divisor = np.multiply.outer(divisor, count)
    return divisor


@register("avg_pool_divisor", promote=None, differentiable=False, samples=(
    Sample(lambda t, x: t.nn.functional.avg_pool2d(x, 3, 1, 1, count_include_pad=False),
           (Arg((1, 2, 5, 4)),)),
    Sample(lambda t, x: t.avg_pool1d(x, 2, ceil_mode=True, count_include_pad=False),
           (Arg((2, 5)),), name="ceil")))
class AvgPoolDivisor(OpDef):
    """What avg_pool divides each window's sum by, where that differs between windows
    (padding left out, ceil mode's partial windows): computed here from x's spatial size, so
    a traced graph holds no array of the traced size."""

    def forward(ctx, xp, x, kernel, stride, padding, outs, count_include_pad):
        counts = _avg_divisor(x.shape[2:], kernel, stride, padding, outs, count_include_pad)
        return xp.asarray(counts.astype(x.dtype))


def _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override, nd, op):
    batched = _pool_rank(input, nd, op)
    kernel, stride, pads, _, outs = _pool_geometry(input, kernel_size, stride, padding, 1,
                                                   ceil_mode, nd, op)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    name = "avg_pool3d" if nd == 3 else "avg_pool2d"
    if input._dtype.category < 2 and input._dtype is not D.int64:
        raise NotImplementedError(f"\"{name}\" not implemented for "
                                  f"'{_SCALAR_NAMES.get(input._dtype, input._dtype.name)}'")
    refuse_complex(name, input._data)
    x = input if batched else input.unsqueeze(0)
    c = x.shape[1]
    ones = Tensor._wrap(namespace(x._device).ones((c, 1) + kernel, dtype=x._dtype.np), x._dtype,
                        x._device)
    summed = apply(Convolution, x, ones, None, stride=stride, padding=pads, dilation=(1,) * nd,
                   groups=c)
    padding = tuple(lo for lo, _ in pads)
    if divisor_override is not None:
        divisor = divisor_override
    elif ceil_mode or not count_include_pad and any(padding):
        # windows may hold fewer elements at some sizes: the op then counts them at every
        # size, so that a trace's ops do not depend on the size it was traced at
        divisor = apply(AvgPoolDivisor, x, kernel=kernel, stride=stride, padding=padding,
                        outs=outs, count_include_pad=count_include_pad)
    else:
        divisor = math.prod(kernel)  # every window is whole
    if x._dtype.category < 2:
        out = summed.div(divisor, rounding_mode="trunc")
    else:
        out = summed / divisor
    out = out if batched else out.squeeze(0)
    return name_node(out, "SqueezeBackward1" if nd == 1 else f"AvgPool{nd}DBackward0")


@composite(samples=(
    Sample(lambda t, x: t.avg_pool1d(x, 3, 2, 1), (Arg((2, 3, 7)),)),
    Sample(lambda t, x: t.avg_pool1d(x, 2, ceil_mode=True, count_include_pad=False),
           (Arg((2, 5)),), name="unbatched")))
def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True) -> Tensor:
    """1-D average pooling over (N, C, L) or (C, L)."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1,
                     "avg_pool1d")


@composite(samples=(
    Sample(lambda t, x: t.nn.functional.avg_pool2d(x, 2), (Arg((2, 2, 4, 4)),),
           dtypes=FLOATS + ("int64",)),
    Sample(lambda t, x: t.nn.functional.avg_pool2d(x, 3, 2, 1, ceil_mode=True),
           (Arg((1, 2, 6, 5)),), name="ceil"),
    Sample(lambda t, x: t.nn.functional.avg_pool2d(x, (3, 2), (2, 1), (1, 1), ceil_mode=True,
                                                   count_include_pad=False),
           (Arg((1, 2, 6, 5)),), name="exclude_pad"),
    Sample(lambda t, x: t.nn.functional.avg_pool2d(x, 2, 1, 1, divisor_override=3),
           (Arg((2, 3, 3)),), name="divisor")))
def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None) -> Tensor:
    """2-D average pooling over (N, C, H, W) or (C, H, W).

    >>> import ember
    >>> ember.nn.functional.avg_pool2d(ember.arange(16.).view(1, 1, 4, 4), 2).tolist()
    [[[[2.5, 4.5], [10.5, 12.5]]]]
    """
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override, 2, "avg_pool2d")


@composite(samples=(
    Sample(lambda t, x: t.nn.functional.avg_pool3d(x, 2, padding=1, count_include_pad=False),
           (Arg((1, 2, 3, 3, 2)),)),))
def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None) -> Tensor:
    """3-D average pooling over (N, C, D, H, W) or (C, D, H, W)."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override, 3, "avg_pool3d")


def _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, nd, op):
    """(sum over each window of x ** p) ** (1 / p), through the average pool of x ** p times
    the window size; a negative average (odd p) gives a 0 base, as torch's relu does."""
    kernel = _pool_tuple(kernel_size, nd, "kernel_size", op)
    pool = (avg_pool1d, avg_pool2d, avg_pool3d)[nd - 1]
    mean = pool(input.pow(norm_type), kernel, stride, 0, ceil_mode)
    return (mean.sign() * mean.abs().relu()).mul(math.prod(kernel)).pow(1.0 / norm_type)


@composite(samples=(
    Sample(lambda t, x: t.nn.functional.lp_pool1d(x, 2, 3), (Arg((2, 3, 8), 0.5, 2.0),)),
    Sample(lambda t, x: t.nn.functional.lp_pool1d(x, 3.0, 2, 1, ceil_mode=True),
           (Arg((3, 5), 0.5, 2.0),), name="ceil_unbatched")))
def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False) -> Tensor:
    """1-D power-average pooling: the p-norm of each window (p = norm_type)."""
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 1, "lp_pool1d")


@composite(samples=(
    Sample(lambda t, x: t.nn.functional.lp_pool2d(x, 2, 2), (Arg((2, 2, 4, 4), 0.5, 2.0),)),
    Sample(lambda t, x: t.nn.functional.lp_pool2d(x, 1.5, (3, 2), (2, 1)),
           (Arg((1, 2, 6, 5), 0.5, 2.0),), name="rect")))
def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False) -> Tensor:
    """2-D power-average pooling: the p-norm of each window (p = norm_type)."""
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 2, "lp_pool2d")


@composite(samples=(
    Sample(lambda t, x: t.nn.functional.lp_pool3d(x, 2, 2), (Arg((1, 2, 4, 4, 4), 0.5, 2.0),)),))
def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False) -> Tensor:
    """3-D power-average pooling: the p-norm of each window (p = norm_type)."""
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 3, "lp_pool3d")


# ---- adaptive pooling ---------------------------------------------------------------------
def _adaptive_sizes(input, output_size, nd, op):
    """Check an adaptive pool's input; the output sizes (None keeps the input's size)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    if input.ndim not in (nd + 1, nd + 2):
        colon = ":" if "max" in op else ""
        raise RuntimeError(f"{op}(): Expected {nd + 1}D or {nd + 2}D tensor, but got{colon} "
                           f"{list(input.shape)}")
    for d in range(input.ndim - nd, input.ndim):
        if input.shape[d] == 0:
            raise RuntimeError(f"{op}(): Expected input to have non-zero size for non-batch "
                               f"dimensions, but input has sizes {list(input.shape)} with "
                               f"dimension {d} being empty")
    if isinstance(output_size, int) or output_size is None:
        sizes = (output_size,) * nd
    else:
        sizes = tuple(output_size)
        if len(sizes) != nd:
            raise RuntimeError(f"{op}: output_size must be {nd}")
    spatial = input.shape[-nd:]
    outs = tuple(n if o is None else operator.index(o) for n, o in zip(spatial, sizes))
    if any(o < 0 for o in outs):
        raise RuntimeError(f"{op}: elements of output_size must be greater than or equal to 0 "
                           f"but received {{{', '.join(map(str, outs))}}}")
    return outs


def _empty_pooled(input, outs):
    """The empty result of an adaptive pool to a zero size: a view of no elements of the
    input, so the result stays in its graph (as torch's does)."""
    x = input
    for d, o in enumerate(outs, start=input.ndim - len(outs)):
        if o == 0:
            x = x.narrow(d, 0, 0)
    return x.reshape(tuple(input.shape[:input.ndim - len(outs)]) + tuple(outs))


def _adaptive_matrix(n: int, o: int) -> np.ndarray:
    """(o, n) averaging matrix of torch's adaptive windows [floor(i n / o), ceil((i+1) n / o))."""
    i = np.arange(o)
    start = (i * n) // o
    end = -((-(i + 1) * n) // o)
    cols = np.arange(n)
    inside = (cols >= start[:, None]) & (cols < end[:, None])
    return inside / (end - start)[:, None]


def _adaptive_avg(input, output_size, nd, op):
    outs = _adaptive_sizes(input, output_size, nd, op)
    if input._dtype.category < 2:
        raise NotImplementedError(f"\"{op}\" not implemented for "
                                  f"'{_SCALAR_NAMES.get(input._dtype, input._dtype.name)}'")
    if 0 in outs:
        return _empty_pooled(input, outs)
    out = apply(AdaptiveAvgPool, input, outs=outs)  # a copy at equal sizes, traced as the op
    return name_node(out, "SqueezeBackward1" if nd == 1 else f"AdaptiveAvgPool{nd}DBackward0")


def _average_along(xp, x, dim: int, o: int):
    """x averaged over torch's o adaptive windows along dim: a mean when the windows tile
    the dim evenly, else a product with the averaging matrix."""
    n = x.shape[dim]
    if n % o == 0:
        split = x.shape[:dim] + (o, n // o) + x.shape[dim + 1:]
        return x.reshape(split).mean(axis=dim + 1)
    p = xp.asarray(_adaptive_matrix(n, o).T.astype(x.dtype))
    return xp.swapaxes(xp.swapaxes(x, dim, -1) @ p, dim, -1)


@register("adaptive_avg_pool", promote=None, complex=False, samples=(
    Sample(lambda t, x: t.nn.functional.adaptive_avg_pool2d(x, (3, 2)), (Arg((2, 2, 7, 4)),)),
    Sample(lambda t, x: t.nn.functional.adaptive_avg_pool2d(x, 1), (Arg((2, 3, 3, 4)),),
           name="global"),
    Sample(lambda t, x: t.nn.functional.interpolate(x, size=(2, 3), mode="area"),
           (Arg((1, 2, 6, 5)),), name="area"),
    Sample(lambda t, x: t.adaptive_avg_pool1d(x, 3), (Arg((3, 5)),), name="unbatched_1d")))
class AdaptiveAvgPool(OpDef):
    """Average over torch's adaptive windows of the last len(outs) dims, [floor(i n / o),
    ceil((i + 1) n / o)) along each. The windows are found here from the sizes, so a traced
    graph keeps only the output sizes and serves any input size."""

    def forward(ctx, xp, x, outs):
        nd = len(outs)
        ctx.sizes = x.shape[-nd:]
        dtype, source = x.dtype, x
        for j, o in enumerate(outs):
            dim = x.ndim - nd + j
            if x.shape[dim] != o:
                x = _average_along(xp, x, dim, o)
        if x is source:  # every size already the output's: a copy, as torch returns
            return xp.array(x, copy=True, order="C")
        # a bfloat16 matmul gives float32
        return xp.ascontiguousarray(x.astype(dtype, copy=False))

    def backward(ctx, g):
        return apply(AdaptiveAvgPoolBackward, g, sizes=tuple(ctx.sizes))


@register("adaptive_avg_pool_backward", promote=None, complex=False, samples=(
    Sample(lambda t, x, g: t.autograd.grad(t.nn.functional.adaptive_avg_pool2d(
        x.requires_grad_(), (3, 2)), x, g)[0], (Arg((2, 2, 7, 4)), Arg((2, 2, 3, 2))),
        grad=False),))
class AdaptiveAvgPoolBackward(OpDef):
    """The input gradient of adaptive_avg_pool: each window's gradient spread evenly over it
    (an input of `sizes` in the last dims)."""

    def forward(ctx, xp, g, sizes):
        nd = len(sizes)
        ctx.outs = g.shape[-nd:]
        dtype = g.dtype
        for j, n in enumerate(sizes):
            dim = g.ndim - nd + j
            o = g.shape[dim]
            if o != n:
                p = xp.asarray(_adaptive_matrix(n, o).astype(g.dtype))
                g = xp.swapaxes(xp.swapaxes(g, dim, -1) @ p, dim, -1)
        return xp.ascontiguousarray(g.astype(dtype, copy=False))

    def backward(ctx, g):
        return apply(AdaptiveAvgPool, g, outs=tuple(ctx.outs))


@composite(samples=(
    Sample(lambda t, x: t.adaptive_avg_pool1d(x, 3), (Arg((2, 3, 7)),)),
    Sample(lambda t, x: t.adaptive_avg_pool1d(x, 2), (Arg((3, 4)),), name="unbatched")))
def adaptive_avg_pool1d(input, output_size) -> Tensor:
    """1-D adaptive average pooling to `output_size` positions."""
    return _adaptive_avg(input, output_size, 1, "adaptive_avg_pool1d")


@composite(samples=(
    Sample(lambda t, x: t.nn.functional.adaptive_avg_pool2d(x, (3, 2)), (Arg((2, 2, 5, 4)),)),
    Sample(lambda t, x: t.nn.functional.adaptive_avg_pool2d(x, 1), (Arg((2, 3, 3, 4)),),
           name="global"),
    Sample(lambda t, x: t.nn.functional.adaptive_avg_pool2d(x, (None, 3)), (Arg((2, 4, 5)),),
           name="none")))
def adaptive_avg_pool2d(input, output_size) -> Tensor:
    """2-D adaptive average pooling to `output_size` (an int, or (H, W) with None to keep one).

    >>> import ember
    >>> ember.nn.functional.adaptive_avg_pool2d(ember.ones(1, 2, 5, 7), 1).shape
    torch.Size([1, 2, 1, 1])
    """
    return _adaptive_avg(input, output_size, 2, "adaptive_avg_pool2d")


@composite(samples=(
    Sample(lambda t, x: t.nn.functional.adaptive_avg_pool3d(x, (2, 1, 3)),
           (Arg((1, 2, 3, 2, 4)),)),))
def adaptive_avg_pool3d(input, output_size) -> Tensor:
    """3-D adaptive average pooling."""
    return _adaptive_avg(input, output_size, 3, "adaptive_avg_pool3d")


def _adaptive_grid(n: int, o: int) -> np.ndarray:
    """(o, kmax) input positions of each adaptive window, repeating its last position."""
    i = np.arange(o)
    start = (i * n) // o
    end = -((-(i + 1) * n) // o)
    width = int((end - start).max())
    return np.minimum(start[:, None] + np.arange(width), end[:, None] - 1)


@register("adaptive_max_pool", promote=None, complex=False, samples=(
    Sample(lambda t, x: t.nn.functional.adaptive_max_pool2d(x, (3, 2), return_indices=True),
           (Arg((2, 2, 5, 4)),)),
    Sample(lambda t, x: t.adaptive_max_pool1d(x, 3), (Arg((2, 3, 7)),), name="1d"),
    Sample(lambda t, x: t.nn.functional.adaptive_max_pool2d(x, 3), (Arg((2, 2, 4)),),
           name="unbatched"),
    Sample(lambda t, x: t.nn.functional.adaptive_max_pool3d(x, 2), (Arg((1, 2, 3, 2, 4)),),
           name="3d")))
class AdaptiveMaxPool(OpDef):
    """Max over torch's adaptive windows; outputs values and flat indices in the input plane."""

    def forward(ctx, xp, x, outs):
        grids = [_adaptive_grid(n, o) for n, o in zip(x.shape[2:], outs)]
        out, idx = K.gather_windows_max(xp, x, grids)
        ctx.save(idx)
        ctx.size = x.shape[2:]
        ctx.overlap = any(n % o for n, o in zip(x.shape[2:], outs))
        return out, idx

    def backward(ctx, g, _):
        (idx,) = ctx.saved
        return apply(MaxUnpool, g, idx, size=tuple(ctx.size), accumulate=ctx.overlap)


def _adaptive_max(input, output_size, return_indices, nd, op):
    outs = _adaptive_sizes(input, output_size, nd, op)
    if input._dtype.category < 2:
        raise NotImplementedError(f"\"{op}\" not implemented for "
                                  f"'{_SCALAR_NAMES.get(input._dtype, input._dtype.name)}'")
    if 0 in outs:
        out = _empty_pooled(input, outs)
        idx = zeros(out.shape, dtype=D.int64, device=input.device)
        return (out, idx) if return_indices else out
    batched = input.ndim == nd + 2
    x = input if batched else input.unsqueeze(0)
    out, idx = apply(AdaptiveMaxPool, x, outs=outs)
    if not batched:
        out, idx = out.squeeze(0), idx.squeeze(0)
    return (out, idx) if return_indices else out


def adaptive_max_pool1d(input, output_size) -> tuple:
    """torch.adaptive_max_pool1d: 1-D adaptive max pooling, returning (values, indices)."""
    return _adaptive_max(input, output_size, True, 1, "adaptive_max_pool1d")


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """2-D adaptive max pooling to `output_size` (and the argmax indices with return_indices)."""
    return _adaptive_max(input, output_size, return_indices, 2, "adaptive_max_pool2d")


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """3-D adaptive max pooling."""
    return _adaptive_max(input, output_size, return_indices, 3, "adaptive_max_pool3d")


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=False):
    """adaptive_max_pool1d returning (values, indices)."""
    return _adaptive_max(input, output_size, True, 1, "adaptive_max_pool1d")


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=False):
    """adaptive_max_pool2d returning (values, indices)."""
    return adaptive_max_pool2d(input, output_size, True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=False):
    """adaptive_max_pool3d returning (values, indices)."""
    return adaptive_max_pool3d(input, output_size, True)


# ---- padding ----------------------------------------------------------------------------------
@register("constant_pad_nd", promote=None, samples=(
    Sample(lambda t, x: t.nn.functional.pad(x, (1, 2)), (Arg((2, 3)),), dtypes=FLOATS + INTS),
    Sample(lambda t, x: t.nn.functional.pad(x, (1, 0, -1, 2), value=1.5), (Arg((2, 3, 4)),),
           name="negative"),
    Sample(lambda t, x: t.constant_pad_nd(x, (0, 1, 1, 1, 2, 0), 2), (Arg((1, 2, 2, 3)),),
           name="3d")))
class ConstantPad(OpDef):
    """Pad trailing dimensions with a constant; `pad` in torch's order (last dimension first,
    (before, after) pairs); negative entries crop."""

    def forward(ctx, xp, x, pad, value):
        ctx.pad = pad
        shape = list(x.shape)
        src = [slice(None)] * x.ndim
        dst = [slice(None)] * x.ndim
        for j in range(len(pad) // 2):
            dim = x.ndim - 1 - j
            lo, hi = pad[2 * j], pad[2 * j + 1]
            n = shape[dim]
            new = n + lo + hi
            if new < 0:
                raise RuntimeError(f"The input size {n}, plus negative padding {lo} and {hi} "
                                   f"resulted in a negative output size, which is invalid. Check "
                                   f"dimension {dim} of your input.")
            shape[dim] = new
            src[dim] = slice(max(-lo, 0), n - max(-hi, 0))
            dst[dim] = slice(max(lo, 0), new - max(hi, 0))
        out = xp.full(tuple(shape), value, dtype=x.dtype)
        if all(s.start is None or s.start < s.stop for s in src):
            out[tuple(dst)] = x[tuple(src)]
        return out

    def backward(ctx, g):
        return apply(ConstantPad, g, pad=tuple(-p for p in ctx.pad), value=0)


def _pad_list(pad, op) -> tuple:
    try:
        pad = tuple(operator.index(p) for p in pad)
    except TypeError:
        raise TypeError(f"{op}(): argument 'pad' must be tuple of ints, not "
                        f"{type(pad).__name__}") from None
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    return pad


def constant_pad_nd(input, pad, value=0) -> Tensor:
    """Pad the last len(pad) // 2 dimensions with `value` (negative pads crop)."""
    pad = _pad_list(pad, "constant_pad_nd")
    if len(pad) // 2 > input.ndim:
        raise RuntimeError("Length of pad should be no more than twice the number of dimensions "
                           f"of the input. Pad length is {len(pad)} while the input has "
                           f"{input.ndim} dimensions.")
    return apply(ConstantPad, input, pad=pad, value=value)


def _pad_indices(n: int, lo: int, hi: int, mode: str) -> np.ndarray:
    pos = np.arange(-lo, n + hi)
    if mode == "reflect":
        pos = np.abs(pos)
        return np.where(pos >= n, 2 * (n - 1) - pos, pos)
    if mode == "replicate":
        return np.clip(pos, 0, n - 1)
    # circular: negative pads crop first, then the kept part wraps around
    start = max(-lo, 0)
    kept = n - start - max(-hi, 0)
    return np.arange(-max(lo, 0), kept + max(hi, 0)) % kept + start


def _pad_by_index(input, pad, mode):
    """reflect / replicate / circular padding as one pad_along per padded dimension."""
    nd = len(pad) // 2
    if not (1 <= nd <= 3 and input.ndim in (nd + 1, nd + 2)):
        raise NotImplementedError(
            f"Padding size {len(pad)} is not supported for {input.ndim}D input tensor.\n"
            "Supported combinations for non-constant padding:\n"
            "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
            "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
            "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")
    if any(n == 0 for n in (input.shape[1:] if input.ndim == nd + 2 else input.shape)):
        raise RuntimeError(f"Expected {nd + 1}D or {nd + 2}D (batch mode) tensor with possibly 0 "
                           "batch size and other non-zero dimensions for input, but got: "
                           f"{list(input.shape)}")
    x = input
    for j in range(nd):
        lo, hi = pad[2 * j], pad[2 * j + 1]
        if lo or hi:
            x = apply(PadAlong, x, dim=input.ndim - 1 - j, lo=lo, hi=hi, mode=mode)
    return x if x is not input else input.clone()


def _pad_index(xp, shape, dim: int, lo: int, hi: int, mode: str):
    """The input positions of dim padded by (lo, hi) in `mode`, on xp's device; raises
    torch's errors for pads the size does not allow (checked at every call's size)."""
    n = shape[dim]
    if mode == "reflect" and (lo >= n or hi >= n):
        raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding "
                           f"input dimension, but got: padding ({lo}, {hi}) at dimension "
                           f"{dim} of input {list(shape)}")
    if mode == "circular" and (lo > n or hi > n):
        raise RuntimeError("Padding value causes wrapping around more than once.")
    if n + lo + hi < 0:
        raise RuntimeError(f"The input size {n}, plus negative padding {lo} and {hi} "
                           "resulted in a negative output size, which is invalid. Check "
                           f"dimension {dim} of your input.")
    return xp.asarray(_pad_indices(n, lo, hi, mode).astype(np.int64))


_PAD_SAMPLES = (
    Sample(lambda t, x: t.nn.functional.pad(x, (2, 1), mode="reflect"), (Arg((2, 3, 4)),)),
    Sample(lambda t, x: t.nn.functional.pad(x, (1, 1, 2, 0), mode="reflect"),
           (Arg((1, 2, 3, 4)),), name="reflect2d"),
    Sample(lambda t, x: t.nn.functional.pad(x, (3, 1, 0, 2), mode="replicate"),
           (Arg((2, 3, 2)),), name="replicate"),
    Sample(lambda t, x: t.nn.functional.pad(x, (1, 2, 2, 1, 1, 0), mode="replicate"),
           (Arg((1, 1, 2, 3, 2)),), name="replicate3d"),
    Sample(lambda t, x: t.nn.functional.pad(x, (2, 3, -1, 1), mode="circular"),
           (Arg((1, 2, 3, 3)),), name="circular"),
    Sample(lambda t, x: t.nn.functional.pad(x, (1, 2), mode="circular"), (Arg((2, 3, 4)),),
           dtypes=INTS, grad=False, name="int"))


@register("pad_along", promote=None, samples=_PAD_SAMPLES)
class PadAlong(OpDef):
    """reflect / replicate / circular padding of one dim by (lo, hi), negative pads cropping:
    a gather whose positions are found here from the size, so a traced graph serves other
    sizes."""

    def forward(ctx, xp, x, dim, lo, hi, mode):
        ctx.args = (dim, x.shape[dim], lo, hi, mode)
        return xp.take(x, _pad_index(xp, x.shape, dim, lo, hi, mode), axis=dim)

    def backward(ctx, g):
        dim, n, lo, hi, mode = ctx.args
        return apply(PadAlongBackward, g, dim=dim, size=n, lo=lo, hi=hi, mode=mode)


@register("pad_along_backward", promote=None, samples=(
    Sample(lambda t, x, g: t.autograd.grad(t.nn.functional.pad(
        x.requires_grad_(), (2, 1), mode="reflect"), x, g)[0],
        (Arg((2, 3, 4)), Arg((2, 3, 7))), grad=False),
    Sample(lambda t, x, g: t.autograd.grad(t.nn.functional.pad(
        x.requires_grad_(), (3, -1), mode="circular"), x, g)[0],
        (Arg((2, 4)), Arg((2, 6))), grad=False, name="circular")))
class PadAlongBackward(OpDef):
    """The input gradient of pad_along: each padded position's gradient added back at the
    input position it copied (an input of `size` along dim)."""

    def forward(ctx, xp, g, dim, size, lo, hi, mode):
        ctx.args = (dim, lo, hi, mode)
        shape = g.shape[:dim] + (size,) + g.shape[dim + 1:]
        return _scatter_along(xp, g, dim, size, [(_pad_index(xp, shape, dim, lo, hi, mode),
                                                  None)])

    def backward(ctx, g):
        dim, lo, hi, mode = ctx.args
        return apply(PadAlong, g, dim=dim, lo=lo, hi=hi, mode=mode)


# the reflect, replicate and circular modes are the samples of pad_along
@composite(samples=(
    Sample(lambda t, x: t.nn.functional.pad(x, (1, 2, 0, 1), value=0.5), (Arg((2, 3, 4)),),
           name="constant"),))
def pad(input, pad, mode="constant", value=None) -> Tensor:
    """Pad `input`: `pad` lists (before, after) pairs starting from the last dimension; modes
    'constant' (with `value`), 'reflect', 'replicate', 'circular'.

    >>> import ember
    >>> ember.nn.functional.pad(ember.tensor([[1., 2., 3.]]), (2, 1), mode="reflect").tolist()
    [[3.0, 2.0, 1.0, 2.0, 3.0, 2.0]]
    """
    pad = _pad_list(pad, "pad")
    if len(pad) // 2 > input.ndim:
        raise RuntimeError("Padding length should be less than or equal to two times the input "
                           f"dimension but got padding length {len(pad)} and input of dimension "
                           f"{input.ndim}")
    if mode == "constant":
        return apply(ConstantPad, input, pad=pad, value=0 if value is None else value)
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    return _pad_by_index(input, pad, mode)


# ---- pixel and channel shuffles -------------------------------------------------------------
def _factor(value, name, op) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{op}(): argument '{name}' must be int, not {type(value).__name__}")
    if value <= 0:
        raise RuntimeError(f"{op} expects {name} to be greater than 0, but got: {value}")
    return value


@composite(samples=(
    Sample(lambda t, x: t.pixel_shuffle(x, 2), (Arg((2, 8, 2, 3)),)),
    Sample(lambda t, x: t.pixel_shuffle(x, 3), (Arg((9, 1, 2)),), name="unbatched")))
def pixel_shuffle(input, upscale_factor) -> Tensor:
    """(*, C r^2, H, W) -> (*, C, H r, W r).

    >>> import ember
    >>> ember.pixel_shuffle(ember.ones(1, 8, 2, 2), 2).shape
    torch.Size([1, 2, 4, 4])
    """
    r = _factor(upscale_factor, "upscale_factor", "pixel_shuffle")
    if input.ndim < 3:
        raise RuntimeError("pixel_shuffle expects input to have at least 3 dimensions, but got "
                           f"input with {input.ndim} dimension(s)")
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError("pixel_shuffle expects its input's 'channel' dimension to be "
                           f"divisible by the square of upscale_factor, but input.size(-3)={c} is "
                           f"not divisible by {r * r}")
    nl = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    order = tuple(range(nl)) + tuple(nl + i for i in (0, 3, 1, 4, 2))
    return x.permute(order).reshape(*lead, c // (r * r), h * r, w * r)


@composite(samples=(
    Sample(lambda t, x: t.pixel_unshuffle(x, 2), (Arg((2, 2, 4, 2)),)),
    Sample(lambda t, x: t.pixel_unshuffle(x, 3), (Arg((1, 3, 3)),), name="unbatched")))
def pixel_unshuffle(input, downscale_factor) -> Tensor:
    """(*, C, H r, W r) -> (*, C r^2, H, W), the inverse of pixel_shuffle."""
    r = _factor(downscale_factor, "downscale_factor", "pixel_unshuffle")
    if input.ndim < 3:
        raise RuntimeError("pixel_unshuffle expects input to have at least 3 dimensions, but got "
                           f"input with {input.ndim} dimension(s)")
    *lead, c, h, w = input.shape
    if h % r:
        raise RuntimeError("pixel_unshuffle expects height to be divisible by downscale_factor, "
                           f"but input.size(-2)={h} is not divisible by {r}")
    if w % r:
        raise RuntimeError("pixel_unshuffle expects width to be divisible by downscale_factor, "
                           f"but input.size(-1)={w} is not divisible by {r}")
    nl = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    order = tuple(range(nl)) + tuple(nl + i for i in (0, 2, 4, 1, 3))
    return x.permute(order).reshape(*lead, c * r * r, h // r, w // r)


@composite(samples=(
    Sample(lambda t, x: t.channel_shuffle(x, 2), (Arg((2, 4, 3)),), dtypes=FLOATS + INTS),
    Sample(lambda t, x: t.nn.functional.channel_shuffle(x, 3), (Arg((1, 6, 2, 2)),),
           name="4d")))
def channel_shuffle(input, groups) -> Tensor:
    """Split the channels (dim 1) into `groups` and interleave them: (N, g, C/g, *) -> (N, C/g,
    g, *)."""
    groups = _factor(groups, "groups", "channel_shuffle")
    if input.ndim <= 2:
        raise RuntimeError("channel_shuffle expects input with > 2 dims, but got input with "
                           f"sizes {list(input.shape)}")
    n, c, *rest = input.shape
    if c % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels and "
                           f"{groups} groups.")
    return input.reshape(n, groups, c // groups, *rest).transpose(1, 2).reshape(input.shape)



# ---- interpolation ----------------------------------------------------------------------------
_INTERPOLATE_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "lanczos", "area",
                      "nearest-exact")
_MODE_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
_CUBIC_A = -0.75


def _interpolate_sizes(input, size, scale_factor, recompute_scale_factor, nd):
    """Output sizes and the scales torch's kernels see (None: derive from the sizes)."""
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    spatial = list(input.shape[2:])
    if size is not None:
        if recompute_scale_factor:
            raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
        if isinstance(size, (list, tuple)):
            if len(size) != nd:
                raise ValueError("Input and output must have the same number of spatial "
                                 f"dimensions, but got input with spatial dimensions of {spatial} "
                                 f"and output size of {size}. Please provide input tensor in (N, C,"
                                 " d1, d2, ...,dK) format and output size in (o1, o2, ...,oK) "
                                 "format.")
            sizes = tuple(operator.index(v) for v in size)
        else:
            sizes = (operator.index(size),) * nd
        return sizes, (None,) * nd
    if scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    if isinstance(scale_factor, (list, tuple)):
        if len(scale_factor) != nd:
            raise ValueError("Input and scale_factor must have the same number of spatial "
                             f"dimensions, but got input with spatial dimensions of {spatial} and "
                             f"scale_factor of shape {scale_factor}. Please provide input tensor "
                             "in (N, C, d1, d2, ...,dK) format and scale_factor in (s1, s2, ...,"
                             "sK) format.")
        scales = tuple(float(v) for v in scale_factor)
    else:
        scales = (float(scale_factor),) * nd
    sizes = tuple(math.floor(float(n) * s) for n, s in zip(spatial, scales))
    return sizes, ((None,) * nd if recompute_scale_factor else scales)


def _cubic_near(x, a):
    """Keys' cubic convolution kernel for |x| <= 1."""
    return ((a + 2) * x - (a + 3)) * x * x + 1


def _cubic_far(x, a):
    """Keys' cubic convolution kernel for 1 <= |x| <= 2."""
    return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a


def _cubic_weights(t):
    """Keys' cubic convolution weights (A = -0.75) of the four taps around a fraction t."""
    a = _CUBIC_A
    return [_cubic_far(t + 1, a), _cubic_near(t, a), _cubic_near(1 - t, a), _cubic_far(2 - t, a)]


# the half-widths of the filters antialiased resizing spreads over the input
_ANTIALIAS_SUPPORT = {"bilinear_antialias": 1, "bicubic_antialias": 2, "lanczos_antialias": 3}


def _antialias_filter(mode, x):
    """A triangle (bilinear), Keys' cubic with A = -0.5 (bicubic) or the Lanczos-3 windowed
    sinc (lanczos), as PIL's filters; zero beyond their support."""
    x = np.abs(x)
    if mode == "bilinear_antialias":
        return np.maximum(1 - x, 0)
    if mode == "lanczos_antialias":
        return np.where(x < 3, np.sinc(x) * np.sinc(x / 3), 0)
    return np.where(x < 1, _cubic_near(x, -0.5), np.where(x < 2, _cubic_far(x, -0.5), 0))


def _antialias_taps(mode, n, o, ratio, real):
    """Taps of antialiased resizing: when shrinking (ratio > 1) the filter is widened by the
    ratio, so every input position contributes; each output's weights are normalized to 1."""
    widen = max(ratio, real(1))
    support = real(_ANTIALIAS_SUPPORT[mode]) * widen
    center = ratio * (np.arange(o, dtype=real) + real(0.5))
    lo = np.maximum((center - support + real(0.5)).astype(np.int64), 0)
    hi = np.minimum((center + support + real(0.5)).astype(np.int64), n)
    index = lo + np.arange(2 * math.ceil(support) + 1)[:, None]
    weight = _antialias_filter(mode, (index - center + real(0.5)) / widen).astype(real)
    weight = np.where(index < hi, weight, real(0))
    total = weight.sum(axis=0)
    weight = weight / np.where(total == 0, real(1), total)
    return [(np.minimum(i, n - 1), w) for i, w in zip(index, weight)]


def _interpolate_taps(mode, n, o, scale, align_corners, real):
    """Per output position along one dimension: [(input index, weight or None), ...]."""
    if mode in ("nearest", "nearest-exact"):
        ratio = np.float32(1.0 / scale) if scale else np.float32(n) / np.float32(o)
        dst = np.arange(o, dtype=np.float32)
        if mode == "nearest-exact":
            dst = dst + np.float32(0.5)
        return [(np.minimum(np.floor(dst * ratio).astype(np.int64), n - 1), None)]
    cubic = mode == "bicubic"
    if align_corners:
        ratio = real((n - 1) / (o - 1)) if o > 1 else real(0)
    else:
        ratio = real(1.0 / scale) if scale and scale > 0 else real(n) / real(o)
    if mode.endswith("_antialias"):
        return _antialias_taps(mode, n, o, ratio, real)
    dst = np.arange(o, dtype=real)
    if align_corners:
        src = ratio * dst
    else:
        src = ratio * (dst + real(0.5)) - real(0.5)
        if not cubic:
            src = np.maximum(src, real(0))
    if cubic:
        i = np.floor(src).astype(np.int64)
        weights = _cubic_weights((src - i).astype(real))
        return [(np.clip(i + k - 1, 0, n - 1), w) for k, w in enumerate(weights)]
    i0 = np.minimum(np.floor(src).astype(np.int64), n - 1)
    lam = np.clip(src - i0, 0, 1).astype(real)
    return [(i0, 1 - lam), (i0 + (i0 < n - 1), lam)]


def _taps(xp, mode, n, o, scale, align_corners, dtype):
    """_interpolate_taps on xp's device, the weights in `dtype`."""
    real = np.float64 if dtype == np.float64 else np.float32
    return [(xp.asarray(index), None if weight is None else xp.asarray(weight.astype(dtype)))
            for index, weight in _interpolate_taps(mode, n, o, scale, align_corners, real)]


def _along(weight, ndim: int, dim: int):
    """A 1-D weight shaped to broadcast along `dim` of an ndim-array."""
    return weight.reshape((-1,) + (1,) * (ndim - dim - 1))


def _scatter_along(xp, g, dim: int, size: int, taps):
    """The transpose of gathering `taps` along dim: zeros with g.shape but `size` along dim,
    each slice of g added (times its tap's weight, if any) at its tap's index."""
    shape = g.shape[:dim] + (size,) + g.shape[dim + 1:]
    out = xp.zeros(shape, dtype=g.dtype)
    for index, weight in taps:
        v = g if weight is None else g * _along(weight, g.ndim, dim)
        along = xp.broadcast_to(_along(index, g.ndim, dim), g.shape)
        reduce_at(out.reshape(-1), _linear_index(xp, shape, along, dim),
                  xp.ascontiguousarray(v).reshape(-1))
    return out


_RESAMPLE_SAMPLES = (
    Sample(lambda t, x: t.nn.functional.interpolate(x, scale_factor=2), (Arg((1, 2, 3, 2)),)),
    Sample(lambda t, x: t.nn.functional.interpolate(x, size=(5, 3), mode="nearest-exact"),
           (Arg((1, 2, 3, 4)),), name="nearest_exact"),
    Sample(lambda t, x: t.nn.functional.interpolate(x, size=7, mode="linear"),
           (Arg((2, 2, 4)),), name="linear"),
    Sample(lambda t, x: t.nn.functional.interpolate(x, scale_factor=(1.5, 0.7), mode="bilinear"),
           (Arg((1, 2, 4, 5)),), name="bilinear"),
    Sample(lambda t, x: t.nn.functional.interpolate(x, size=(5, 2), mode="bilinear",
                                                    align_corners=True),
           (Arg((1, 2, 3, 4)),), name="align_corners"),
    Sample(lambda t, x: t.nn.functional.interpolate(x, scale_factor=1.7, mode="bicubic",
                                                    recompute_scale_factor=True),
           (Arg((1, 1, 3, 4)),), name="bicubic"),
    Sample(lambda t, x: t.nn.functional.interpolate(x, size=(3, 2, 4), mode="trilinear"),
           (Arg((1, 1, 2, 3, 2)),), name="trilinear"),
    Sample(lambda t, x: t.nn.functional.interpolate(x, size=(2, 5), mode="bilinear",
                                                    antialias=True),
           (Arg((1, 2, 5, 3)),), name="bilinear_antialias"),
    Sample(lambda t, x: t.nn.functional.interpolate(x, scale_factor=0.5, mode="bicubic",
                                                    antialias=True),
           (Arg((1, 1, 6, 5)),), name="bicubic_antialias"),
    Sample(lambda t, x: t.nn.functional.interpolate(x, size=(4, 2), mode="lanczos",
                                                    antialias=True),
           (Arg((1, 1, 3, 7)),), name="lanczos"))


@register("resample", promote=None, complex=False, samples=_RESAMPLE_SAMPLES)
class Resample(OpDef):
    """interpolate along one dim: output position i is the sum over its taps of weight * the
    input at the tap's index. The taps are computed here from the sizes, so a traced graph
    keeps sizes (which follow its inputs' shapes) rather than arrays of the traced ones."""

    def forward(ctx, xp, x, dim, size, mode, scale, align_corners):
        ctx.args = (dim, x.shape[dim], mode, scale, align_corners)
        out = None
        for index, weight in _taps(xp, mode, x.shape[dim], size, scale, align_corners,
                                   x.dtype):
            v = xp.take(x, index, axis=dim)
            if weight is not None:
                v *= _along(weight, x.ndim, dim)
            out = v if out is None else out + v
        return out

    def backward(ctx, g):
        dim, n, mode, scale, align_corners = ctx.args
        return apply(ResampleBackward, g, dim=dim, size=n, mode=mode, scale=scale,
                     align_corners=align_corners)


@register("resample_backward", promote=None, complex=False, samples=(
    Sample(lambda t, x, g: t.autograd.grad(t.nn.functional.interpolate(
        x.requires_grad_(), scale_factor=(1.5, 0.7), mode="bilinear"), x, g)[0],
        (Arg((1, 2, 4, 5)), Arg((1, 2, 6, 3))), grad=False),
    Sample(lambda t, x, g: t.autograd.grad(t.nn.functional.interpolate(
        x.requires_grad_(), size=(5, 3), mode="bicubic", align_corners=True), x, g)[0],
        (Arg((1, 1, 3, 4)), Arg((1, 1, 5, 3))), grad=False, name="bicubic"),
    Sample(lambda t, x, g: t.autograd.grad(t.nn.functional.interpolate(
        x.requires_grad_(), scale_factor=2), x, g)[0],
        (Arg((2, 3, 5)), Arg((2, 3, 10))), grad=False, name="nearest")))
class ResampleBackward(OpDef):
    """The input gradient of resample: each output gradient added back, weighted, at its taps
    (an input of `size` along dim)."""

    def forward(ctx, xp, g, dim, size, mode, scale, align_corners):
        ctx.args = (dim, g.shape[dim], mode, scale, align_corners)
        return _scatter_along(xp, g, dim, size, _taps(xp, mode, size, g.shape[dim], scale,
                                                      align_corners, g.dtype))

    def backward(ctx, g):
        dim, o, mode, scale, align_corners = ctx.args
        return apply(Resample, g, dim=dim, size=o, mode=mode, scale=scale,
                     align_corners=align_corners)


# the other modes are the samples of resample, which interpolate runs once per resized dim
@composite(samples=(
    Sample(lambda t, x: t.nn.functional.interpolate(x, size=(2, 3), mode="area"),
           (Arg((1, 2, 5, 4)),), name="area"),))
def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False) -> Tensor:
    """Resize (N, C, *spatial) to `size` or by `scale_factor` ('nearest', 'nearest-exact',
    'linear', 'bilinear', 'bicubic', 'trilinear', 'area'; 'lanczos' with antialias=True, which
    also widens bilinear's and bicubic's filters when shrinking, as PIL does).

    >>> import ember
    >>> x = ember.tensor([[[1., 2.]]])
    >>> ember.nn.functional.interpolate(x, scale_factor=2, mode="linear").tolist()
    [[[1.0, 1.25, 1.75, 2.0]]]
    """
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating "
                             "modes: linear | bilinear | bicubic | trilinear")
    else:
        align_corners = bool(align_corners)
    nd = input.ndim - 2
    if nd not in (1, 2, 3) or mode not in _INTERPOLATE_MODES or (mode == "lanczos" and nd != 2
                                                                 and not antialias):
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got "
                                  f"{input.ndim}D) for the modes: nearest | linear | bilinear | "
                                  f"bicubic | trilinear | lanczos | area | nearest-exact (got "
                                  f"{mode})")
    if mode in _MODE_DIMS and _MODE_DIMS[mode] != nd:
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs "
                                  f"{_MODE_DIMS[mode] + 2}D input")
    if antialias and (mode not in ("bilinear", "bicubic", "lanczos") or nd != 2):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos "
                         "modes and requires a 4-D tensor as input")
    if mode == "lanczos":
        if align_corners:
            raise ValueError("Lanczos mode does not support align_corners=True")
        if not antialias:
            raise ValueError("Lanczos mode requires antialias=True")
    sizes, scales = _interpolate_sizes(input, size, scale_factor, recompute_scale_factor, nd)
    if any(o <= 0 for o in sizes) or any(n <= 0 for n in input.shape[2:]):
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input "
                           f"{tuple(input.shape[2:])} output {sizes}")
    if mode == "area":
        return _adaptive_avg(input, sizes, nd, f"adaptive_avg_pool{nd}d")
    nearest = mode.startswith("nearest")
    if input._dtype.category < 2 and not (nearest and input._dtype is D.uint8):
        kind = "nearest" if nearest else mode
        raise NotImplementedError(f"\"upsample_{kind}{nd}d\" not implemented for "
                                  f"'{_SCALAR_NAMES.get(input._dtype, input._dtype.name)}'")
    x = input
    for j, (o, scale) in enumerate(zip(sizes, scales)):
        # resampled at the same size too, an exact copy: a trace's ops do not depend on
        # whether the sizes happen to match (a U-Net resizing to its skip connection's size)
        x = apply(Resample, x, dim=2 + j, size=o,
                  mode=mode + "_antialias" if antialias else mode, scale=scale,
                  align_corners=align_corners)
    return x


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of interpolate."""
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` "
                  "instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """Deprecated: interpolate(..., mode='nearest')."""
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Deprecated: interpolate(..., mode='bilinear', align_corners=True)."""
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# ---- grid sampling ----------------------------------------------------------------------------
_ALIGN_WARNING = ("Default grid_sample and affine_grid behavior has changed to align_corners=False "
                  "since 1.3.0. Please specify align_corners=True if the old behavior is desired. "
                  "See the documentation of grid_sample for details.")


def _clip_coordinates(c: Tensor, size: int) -> Tensor:
    """Clamp to [0, size - 1]; the gradient is zero where clamped."""
    return c.clamp(0, size - 1)


def _reflect_coordinates(c: Tensor, twice_low: int, twice_high: int) -> Tensor:
    """Fold coordinates back into [low, high] by reflecting at the bounds (in ops of c, so
    recorded graphs follow new grids)."""
    from .pointwise import where
    if twice_low == twice_high:
        return c * 0
    low = twice_low / 2
    span = (twice_high - twice_low) / 2
    a = (c - low).abs()
    flips = (a / span).floor()
    extra = a - flips * span
    return where(flips.remainder(2) == 0, extra + low, span - extra + low)


def _source_coordinates(g: Tensor, size: int, padding_mode, align_corners) -> Tensor:
    c = (g + 1) / 2 * (size - 1) if align_corners else ((g + 1) * size - 1) / 2
    if padding_mode == "border":
        return _clip_coordinates(c, size)
    if padding_mode == "reflection":
        bounds = (0, 2 * (size - 1)) if align_corners else (-1, 2 * size - 1)
        return _clip_coordinates(_reflect_coordinates(c, *bounds), size)
    return c


def _check_grid_sample(input, grid, mode, padding_mode):
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError("nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' "
                         f"or 'bicubic', but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError("nn.functional.grid_sample(): expected padding_mode to be 'zeros', "
                         f"'border', or 'reflection', but got: '{padding_mode}'")
    sizes = f"input with sizes {list(input.shape)} and grid with sizes {list(grid.shape)}"
    if input.ndim not in (4, 5) or grid.ndim != input.ndim:
        raise RuntimeError("grid_sampler(): expected 4D or 5D input and grid with same number of "
                           f"dimensions, but got {sizes}")
    if input.shape[0] != grid.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, but "
                           f"got {sizes}")
    nd = input.ndim - 2
    if grid.shape[-1] != nd:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {nd} in last dimension, "
                           f"but got grid with sizes {list(grid.shape)}")
    if input._dtype is not grid._dtype:
        raise RuntimeError("grid_sampler(): expected input and grid to have same dtype, but "
                           f"input has {_SCALAR_NAMES.get(input._dtype)} and grid has "
                           f"{_SCALAR_NAMES.get(grid._dtype)}")
    if any(n == 0 for n in input.shape[2:]):
        raise RuntimeError(f"grid_sampler(): expected input to have non-empty spatial dimensions, "
                           f"but input has sizes {list(input.shape)} with dimension "
                           f"{2 + list(input.shape[2:]).index(0)} being empty")
    if mode == "bicubic":
        raise NotImplementedError("grid_sample(): mode='bicubic' is not supported")


@composite(samples=(
    Sample(lambda t, x, g: t.nn.functional.grid_sample(x, g, align_corners=False),
           (Arg((2, 2, 3, 4)), Arg((2, 3, 2, 2), -1.2, 1.2))),
    Sample(lambda t, x, g: t.nn.functional.grid_sample(x, g, padding_mode="border",
                                                       align_corners=True),
           (Arg((1, 2, 3, 3)), Arg((1, 2, 3, 2), -1.3, 1.3)), name="border"),
    Sample(lambda t, x, g: t.nn.functional.grid_sample(x, g, padding_mode="reflection",
                                                       align_corners=False),
           (Arg((1, 1, 3, 4)), Arg((1, 3, 2, 2), -2.5, 2.5)), name="reflection"),
    Sample(lambda t, x, g: t.nn.functional.grid_sample(x, g, mode="nearest", align_corners=True),
           (Arg((1, 2, 3, 4)), Arg((1, 2, 3, 2), -1.1, 1.1, grad=False)), name="nearest"),
    Sample(lambda t, x, g: t.nn.functional.grid_sample(x, g, align_corners=False),
           (Arg((1, 2, 2, 3, 2)), Arg((1, 2, 1, 2, 3), -1.1, 1.1)), name="3d")))
def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None) -> Tensor:
    """Sample `input` (N, C, *spatial) at the normalized coordinates of `grid` (N, *out, nd),
    whose last dimension lists x (width) first.

    >>> import ember
    >>> x = ember.arange(4.).view(1, 1, 2, 2)
    >>> g = ember.zeros(1, 1, 1, 2)
    >>> ember.nn.functional.grid_sample(x, g, align_corners=True).item()
    1.5
    """
    _check_grid_sample(input, grid, mode, padding_mode)
    refuse_complex("grid_sample", input._data, grid._data)
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    nd = input.ndim - 2
    n, c = input.shape[:2]
    spatial = tuple(input.shape[2:])
    outs = tuple(grid.shape[1:-1])
    length = math.prod(outs)
    coords = [_source_coordinates(grid[..., nd - 1 - j].reshape(n, length), spatial[j],
                                  padding_mode, align_corners) for j in range(nd)]
    flat = input.reshape(n, c, math.prod(spatial))
    mults = [math.prod(spatial[j + 1:]) for j in range(nd)]
    # corner positions and weights are ops of the grid, so a recorded graph follows new grids
    if mode == "nearest":  # weight 1, its derivative 0: the grid gets zero gradients, as torch
        corners = [[(cj.round().long(), (cj - cj).nan_to_num() + 1)] for cj in coords]
    else:
        corners = []
        for cj in coords:
            base = cj.floor()
            frac = cj - base
            base = base.long()
            corners.append([(base, 1 - frac), (base + 1, frac)])
    out = None
    for choice in _product(corners):
        index = valid = weight = None
        for j, (pos, w) in enumerate(choice):
            inside = (pos >= 0) & (pos < spatial[j])
            valid = inside if valid is None else valid & inside
            offset = pos.clamp(0, spatial[j] - 1) * mults[j]
            index = offset if index is None else index + offset
            if w is not None:
                weight = w if weight is None else weight * w
        values = flat.gather(2, index.unsqueeze(1).expand(n, c, length))
        mask = valid.to(input.dtype)
        weight = mask if weight is None else weight * mask
        term = values * weight.unsqueeze(1)
        out = term if out is None else out + term
    return out.reshape((n, c) + outs)


def _product(lists):
    """Cartesian product of per-dimension choices (each a list)."""
    out = [()]
    for options in lists:
        out = [prev + (o,) for prev in out for o in options]
    return out


def _base_coordinates(n: int, align_corners: bool) -> np.ndarray:
    if n <= 1:
        return np.zeros(n)
    base = np.linspace(-1.0, 1.0, n)
    return base if align_corners else base * (n - 1) / n


@composite(samples=(
    Sample(lambda t, a: t.nn.functional.affine_grid(a, (2, 3, 3, 4), align_corners=False),
           (Arg((2, 2, 3)),)),
    Sample(lambda t, a: t.nn.functional.affine_grid(a, (1, 1, 2, 3, 2), align_corners=True),
           (Arg((1, 3, 4)),), name="3d")))
def affine_grid(theta, size, align_corners=None) -> Tensor:
    """The sampling grid (N, *spatial, nd) of affine maps `theta` (N, nd, nd + 1), for
    grid_sample.

    >>> import ember
    >>> theta = ember.tensor([[[1., 0., 0.], [0., 1., 0.]]])
    >>> ember.nn.functional.affine_grid(theta, (1, 1, 2, 2), align_corners=True)[0, 0].tolist()
    [[-1.0, -1.0], [1.0, -1.0]]
    """
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    if not theta.is_floating_point():
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    size = tuple(operator.index(s) for s in size)
    if len(size) not in (4, 5):
        raise NotImplementedError("affine_grid only supports 4D and 5D sizes, for 2D and 3D "
                                  f"affine transforms, respectively. Got size {size}.")
    nd = len(size) - 2
    if theta.ndim != 3 or tuple(theta.shape[1:]) != (nd, nd + 1):
        raise ValueError(f"Expected a batch of {nd}D affine matrices of shape Nx{nd}x{nd + 1} "
                         f"for size {size}. Got {theta.shape}.")
    if min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    if theta.shape[0] != size[0]:
        raise RuntimeError(f"affine_grid(): expected theta to hold {size[0]} matrices (the batch "
                           f"size of {size}), but got {theta.shape[0]}")
    spatial = size[2:]
    if align_corners and min(spatial) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size grids "
                      "when align_corners=True. This is not an intended use case of affine_grid. "
                      "See the documentation of affine_grid for details.", stacklevel=2)
    axes = [_base_coordinates(m, align_corners) for m in spatial]
    mesh = np.meshgrid(*axes, indexing="ij")
    base = np.stack([mesh[nd - 1 - j] for j in range(nd)] + [np.ones(spatial)], axis=-1)
    base = _const(base.reshape(1, -1, nd + 1).astype(theta._dtype.np), theta)
    grid = base.matmul(theta.transpose(1, 2))
    return grid.reshape((size[0],) + spatial + (nd,))


__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "convolution", "max_pool1d", "max_pool2d", "max_pool3d",
           "max_pool1d_with_indices", "avg_pool1d", "adaptive_avg_pool1d",
           "adaptive_max_pool1d", "constant_pad_nd", "pixel_shuffle", "pixel_unshuffle",
           "channel_shuffle"]
