"""torch's top-level names that scripts use beside the op families: math constants, process-wide
switches, the `*_copy` twins of view ops, the `unsafe_` split family, and the torch.* spellings
of nn.functional functions (positional signatures, integer reductions), each a thin wrapper over
the function it names."""
from __future__ import annotations

import importlib
import math
import platform
import warnings

import numpy as np

from . import _dtype as D

from ._ops.dispatch import write_out
from ._ops.creation import arange, empty, empty_strided, full, zeros
from ._ops.indexing import nonzero
from ._ops.misc import view_as_complex, view_as_real
from ._ops.pointwise import where
from ._ops.sorting import bincount, searchsorted
from ._ops.pointwise import sub
from ._ops.registry import composite
from ._ops.shape import (as_strided, cat, chunk, contiguous_format, diagonal, expand, index_put_,
                         permute, select, split, split_with_sizes, squeeze, t, transpose, unbind,
                         unsqueeze)
from ._device import CPU
from ._tensor import Tensor
from .testing.opinfo import ALL, FLOATS, Arg, Sample

__all__ = ["pi", "e", "inf", "nan", "newaxis", "layout", "strided", "is_inference",
           "get_device", "set_warn_always", "is_warn_always_enabled", "set_flush_denormal",
           "rsub", "index_put_", "unsafe_chunk", "unsafe_split", "unsafe_split_with_sizes",
           "view_copy", "permute_copy", "transpose_copy", "t_copy", "expand_copy",
           "squeeze_copy", "unsqueeze_copy", "select_copy", "slice_copy", "diagonal_copy",
           "detach_copy", "alias_copy", "unbind_copy", "split_copy", "split_with_sizes_copy",
           "unfold_copy", "view_as_real_copy", "view_as_complex_copy", "as_strided_copy",
           "batch_norm", "instance_norm", "layer_norm", "group_norm", "rms_norm", "embedding",
           "embedding_bag", "kl_div", "binary_cross_entropy_with_logits",
           "cosine_embedding_loss", "hinge_embedding_loss", "margin_ranking_loss",
           "poisson_nll_loss", "triplet_margin_loss", "dropout_", "alpha_dropout_",
           "feature_alpha_dropout", "feature_alpha_dropout_", "feature_dropout",
           "feature_dropout_", "celu_", "selu_", "rrelu_", "threshold_", "conv_tbc", "renorm",
           "nonzero_static", "empty_permuted", "frombuffer", "from_dlpack",
           "to_dlpack"]

pi = math.pi
e = math.e
inf = math.inf
nan = math.nan
newaxis = None


class layout:
    """A tensor's memory layout (torch.layout); ember's tensors are all dense and strided."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"torch.{self.name}"

    def __reduce__(self):
        return self.name


strided = layout("strided")
Tensor.layout = property(lambda self: strided, doc="The memory layout: always torch.strided.")


def _tensor_arg(input, op: str) -> Tensor:
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    return input


def is_inference(input: Tensor) -> bool:
    """Whether `input` was made under inference_mode (Tensor.is_inference).

    >>> import ember
    >>> ember.is_inference(ember.ones(2))
    False
    """
    return _tensor_arg(input, "is_inference").is_inference()


def get_device(input: Tensor) -> int:
    """The CUDA ordinal of the tensor's device, or -1 on the CPU (Tensor.get_device)."""
    return _tensor_arg(input, "get_device").get_device()


class _Switches:
    """Process-wide settings with no effect on ember's NumPy kernels, kept so scripts read back
    what they set: warn_always (ember's warnings come from Python's `warnings`, whose filters
    decide repetition) and flush_denormal (NumPy computes subnormals as they are)."""

    warn_always = False
    flush_denormal = False


def set_warn_always(b: bool) -> None:
    """Record torch's warn-always flag (see is_warn_always_enabled)."""
    _Switches.warn_always = bool(b)


def is_warn_always_enabled() -> bool:
    """The flag set_warn_always recorded (False by default)."""
    return _Switches.warn_always


def set_flush_denormal(mode: bool) -> bool:
    """Record the flush-denormal mode; returns whether the CPU is one where torch supports it
    (x86 with SSE3), as torch does. NumPy keeps computing subnormal values either way."""
    if not isinstance(mode, int):
        raise TypeError(f"set_flush_denormal(): argument 'mode' (position 1) must be bool, not "
                        f"{type(mode).__name__}")
    supported = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686", "x86")
    if supported:
        _Switches.flush_denormal = bool(mode)
    return supported


@composite(samples=(
    Sample(lambda t, x, y: t.rsub(x, y), (Arg((3, 4)), Arg((4,)))),
    Sample(lambda t, x, y: t.rsub(x, y, alpha=2), (Arg((3,)), Arg((3,))), dtypes=FLOATS + ALL[3:6],
           name="alpha"),
    Sample(lambda t, x: t.rsub(x, 5), (Arg((2, 2)),), name="scalar")))
def rsub(input: Tensor, other, *, alpha=1) -> Tensor:
    """other - alpha * input: subtraction with the operands reversed.

    >>> import ember
    >>> ember.rsub(ember.tensor([1, 2]), 5)
    tensor([4, 3])
    """
    return sub(other, input, alpha=alpha)


# ---- the unsafe_ split family: torch skips view tracking; ember returns fresh pieces -------------
def _fresh(pieces) -> tuple:
    return tuple(p.clone(memory_format=contiguous_format) for p in pieces)


@composite(samples=(Sample(lambda t, x: t.unsafe_chunk(x, 2, 1), (Arg((2, 5)),)),))
def unsafe_chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    """chunk() whose pieces may be modified in place (they do not share the input's memory)."""
    return _fresh(chunk(input, chunks, dim))


@composite(samples=(Sample(lambda t, x: t.unsafe_split(x, 2), (Arg((5, 2)),)),))
def unsafe_split(input: Tensor, split_size: int, dim: int = 0) -> tuple:
    """split() into pieces of `split_size` that may be modified in place."""
    return _fresh(split(input, split_size, dim))


@composite(samples=(Sample(lambda t, x: t.unsafe_split_with_sizes(x, [1, 3], 1),
                           (Arg((2, 4)),)),))
def unsafe_split_with_sizes(input: Tensor, split_sizes, dim: int = 0) -> tuple:
    """split_with_sizes() whose pieces may be modified in place."""
    return _fresh(split_with_sizes(input, split_sizes, dim))


for _name in ("unsafe_chunk", "unsafe_split", "unsafe_split_with_sizes"):
    setattr(Tensor, _name, globals()[_name])


# ---- *_copy: a view op's result in fresh, contiguous memory ----------------------------------
def _copy_of(view, out):
    """The view's values in new contiguous memory (kept in the graph), or written to `out`."""
    if isinstance(view, tuple):
        return write_out(_fresh(view), out)
    return write_out(view.clone(memory_format=contiguous_format), out)


@composite(samples=(
    Sample(lambda t, x: t.view_copy(x, (3, 2)), (Arg((2, 3)),), dtypes=ALL),
    Sample(lambda t, x: t.view_copy(x, t.int32), (Arg((2, 3)),), dtypes=("float32",),
           grad=False, name="dtype")))
def view_copy(input: Tensor, size, *, out=None) -> Tensor:
    """view(size) (or view(dtype)) as a new tensor."""
    return _copy_of(input.view(size), out)


@composite(samples=(Sample(lambda t, x: t.permute_copy(x, (2, 0, 1)), (Arg((2, 3, 4)),)),))
def permute_copy(input: Tensor, dims, *, out=None) -> Tensor:
    """permute(dims) as a new, contiguous tensor."""
    return _copy_of(permute(input, dims), out)


@composite(samples=(Sample(lambda t, x: t.transpose_copy(x, 0, -1), (Arg((2, 3, 4)),)),))
def transpose_copy(input: Tensor, dim0: int, dim1: int, *, out=None) -> Tensor:
    """transpose(dim0, dim1) as a new, contiguous tensor."""
    return _copy_of(transpose(input, dim0, dim1), out)


@composite(samples=(Sample(lambda t, x: t.t_copy(x), (Arg((2, 3)),)),))
def t_copy(input: Tensor, *, out=None) -> Tensor:
    """t() as a new, contiguous tensor."""
    return _copy_of(t(input), out)


@composite(samples=(Sample(lambda t, x: t.expand_copy(x, (2, 3, 4)), (Arg((3, 1)),)),))
def expand_copy(input: Tensor, size, *, implicit: bool = False, out=None) -> Tensor:
    """expand(size) materialized: each broadcast element gets its own memory."""
    return _copy_of(expand(input, *size), out)


@composite(samples=(
    Sample(lambda t, x: t.squeeze_copy(x), (Arg((1, 3, 1)),)),
    Sample(lambda t, x: t.squeeze_copy(x, (0, 2)), (Arg((1, 3, 1)),), name="dims")))
def squeeze_copy(input: Tensor, dim=None, *, out=None) -> Tensor:
    """squeeze(dim) as a new tensor."""
    return _copy_of(squeeze(input, dim), out)


@composite(samples=(Sample(lambda t, x: t.unsqueeze_copy(x, -1), (Arg((2, 3)),)),))
def unsqueeze_copy(input: Tensor, dim: int, *, out=None) -> Tensor:
    """unsqueeze(dim) as a new tensor."""
    return _copy_of(unsqueeze(input, dim), out)


@composite(samples=(Sample(lambda t, x: t.select_copy(x, 1, -1), (Arg((2, 3, 4)),)),))
def select_copy(input: Tensor, dim: int, index: int, *, out=None) -> Tensor:
    """select(dim, index) as a new tensor."""
    return _copy_of(select(input, dim, index), out)


@composite(samples=(
    Sample(lambda t, x: t.slice_copy(x, 1, 1, None, 2), (Arg((2, 5)),)),
    Sample(lambda t, x: t.slice_copy(x), (Arg((3, 2)),), name="defaults")))
def slice_copy(input: Tensor, dim: int = 0, start=None, end=None, step: int = 1, *,
               out=None) -> Tensor:
    """input[..., start:end:step, ...] along `dim`, as a new tensor."""
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    key = (slice(None),) * (dim % max(input.ndim, 1)) + (slice(start, end, step),)
    return _copy_of(input[key], out)


@composite(samples=(Sample(lambda t, x: t.diagonal_copy(x, 1, 1, 2), (Arg((2, 3, 4)),)),))
def diagonal_copy(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1, *,
                  out=None) -> Tensor:
    """diagonal(offset, dim1, dim2) as a new tensor."""
    return _copy_of(diagonal(input, offset, dim1, dim2), out)


def detach_copy(input: Tensor, *, out=None) -> Tensor:
    """detach() in new memory: the values, outside any graph."""
    return _copy_of(input.detach(), out)


@composite(samples=(Sample(lambda t, x: t.alias_copy(x), (Arg((2, 3)),)),))
def alias_copy(input: Tensor, *, out=None) -> Tensor:
    """A copy of `input` (torch.alias makes a view of the whole tensor)."""
    return _copy_of(input, out)


@composite(samples=(Sample(lambda t, x: t.unbind_copy(x, 1), (Arg((2, 3)),)),))
def unbind_copy(input: Tensor, dim: int = 0, *, out=None) -> tuple:
    """unbind(dim) into new tensors."""
    return _copy_of(unbind(input, dim), out)


@composite(samples=(Sample(lambda t, x: t.split_copy(x, 2, 1), (Arg((2, 5)),)),))
def split_copy(input: Tensor, split_size: int, dim: int = 0, *, out=None) -> tuple:
    """split(split_size, dim) into new tensors."""
    return _copy_of(split(input, split_size, dim), out)


@composite(samples=(Sample(lambda t, x: t.split_with_sizes_copy(x, [2, 1]), (Arg((3, 2)),)),))
def split_with_sizes_copy(input: Tensor, split_sizes, dim: int = 0, *, out=None) -> tuple:
    """split_with_sizes(split_sizes, dim) into new tensors."""
    return _copy_of(split_with_sizes(input, split_sizes, dim), out)


@composite(samples=(Sample(lambda t, x: t.unfold_copy(x, 1, 2, 1), (Arg((2, 4)),)),))
def unfold_copy(input: Tensor, dimension: int, size: int, step: int, *, out=None) -> Tensor:
    """unfold(dimension, size, step) with the windows in new memory."""
    return _copy_of(input.unfold(dimension, size, step), out)


def view_as_real_copy(input: Tensor, *, out=None) -> Tensor:
    """view_as_real() as a new tensor: a complex tensor's (real, imag) pairs."""
    return _copy_of(view_as_real(input), out)


def view_as_complex_copy(input: Tensor, *, out=None) -> Tensor:
    """view_as_complex() as a new tensor: (..., 2) real pairs read as complex numbers."""
    return _copy_of(view_as_complex(input), out)


@composite(samples=(Sample(lambda t, x: t.as_strided_copy(x, (2, 2), (1, 2), 1),
                           (Arg((2, 3)),)),))
def as_strided_copy(input: Tensor, size, stride, storage_offset=None, *, out=None) -> Tensor:
    """as_strided(size, stride, storage_offset) with the elements in new memory."""
    return _copy_of(as_strided(input, size, stride, storage_offset), out)



# ---- torch.* spellings of nn.functional functions --------------------------------------------
# torch's top-level forms take positional arguments in ATen's order and reductions as integers
# (0 none, 1 mean, 2 sum; torch 2.13's binding reduces nothing when the reduction is left out).
_REDUCTIONS = {0: "none", 1: "mean", 2: "sum"}


def _F():
    """ember.nn.functional, imported on first use (importing ember does not import nn)."""
    return importlib.import_module(".nn.functional", __package__)


def _reduction(reduction, op: str) -> str:
    if isinstance(reduction, bool) or not isinstance(reduction, int):
        raise TypeError(f"{op}(): argument 'reduction' must be int, not "
                        f"{type(reduction).__name__}")
    return _REDUCTIONS.get(reduction, "none")


def batch_norm(input, weight, bias, running_mean, running_var, training: bool, momentum: float,
               eps: float, cudnn_enabled: bool) -> Tensor:
    """nn.functional.batch_norm in ATen's argument order."""
    return _F().batch_norm(input, running_mean, running_var, weight, bias, training, momentum,
                           eps)


def instance_norm(input, weight, bias, running_mean, running_var, use_input_stats: bool,
                  momentum: float, eps: float, cudnn_enabled: bool) -> Tensor:
    """nn.functional.instance_norm in ATen's argument order."""
    return _F().instance_norm(input, running_mean, running_var, weight, bias, use_input_stats,
                              momentum, eps)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps: float = 1e-5,
               cudnn_enable: bool = True) -> Tensor:
    """nn.functional.layer_norm (cudnn_enable is accepted and ignored, as on the CPU)."""
    return _F().layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(input, num_groups: int, weight=None, bias=None, eps: float = 1e-5,
               cudnn_enabled: bool = True) -> Tensor:
    """nn.functional.group_norm (cudnn_enabled is accepted and ignored, as on the CPU)."""
    return _F().group_norm(input, num_groups, weight, bias, eps)


def rms_norm(input, normalized_shape, weight=None, eps=None) -> Tensor:
    """nn.functional.rms_norm."""
    return _F().rms_norm(input, normalized_shape, weight, eps)


def embedding(weight, indices, padding_idx: int = -1, scale_grad_by_freq: bool = False,
              sparse: bool = False) -> Tensor:
    """nn.functional.embedding with weight first; a negative padding_idx means none."""
    return _F().embedding(indices, weight, None if padding_idx < 0 else padding_idx,
                          scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


_BAG_MODES = ("sum", "mean", "max")


def embedding_bag(weight, indices, offsets, scale_grad_by_freq: bool = False, mode: int = 0,
                  sparse: bool = False, per_sample_weights=None,
                  include_last_offset: bool = False, padding_idx=None) -> tuple:
    """nn.functional.embedding_bag with weight first and mode as 0/1/2 (sum/mean/max).

    Returns (output, offset2bag, bag_size, max_indices) as torch's CPU kernel: the bag of each
    index (empty for sum below float64), each bag's size (zeros for sum), and for max the row
    each maximum came from (for mean, the bag sizes again; for sum, zeros).
    """
    output = _F().embedding_bag(indices, weight, offsets, scale_grad_by_freq=scale_grad_by_freq,
                                mode=_BAG_MODES[mode], sparse=sparse,
                                per_sample_weights=per_sample_weights,
                                include_last_offset=include_last_offset, padding_idx=padding_idx)
    bags = output.shape[0]
    flat = indices.reshape(-1)
    offset2bag = searchsorted(offsets[:bags], arange(flat.shape[0]), right=True) - 1
    if mode == 0:  # torch's CPU sum kernel fills offset2bag for float64 weights only
        none = zeros(bags, dtype=indices.dtype)
        return (output, offset2bag if weight.dtype is D.float64 else zeros(0, dtype=D.int64),
                none, none.clone())
    bag_size = bincount(offset2bag, minlength=bags)[:bags].to(indices.dtype)
    if mode == 1:
        return output, offset2bag, bag_size, bag_size
    rows = weight.detach()[flat]
    winner = output.detach()[offset2bag] == rows
    candidates = flat[:, None].expand(winner.shape).masked_fill(~winner, -1)
    max_indices = zeros((bags, weight.shape[1]), dtype=indices.dtype).index_reduce(
        0, offset2bag, candidates, "amax", include_self=False)
    return output, offset2bag, bag_size, max_indices


def kl_div(input, target, reduction: int = 0, *, log_target: bool = False) -> Tensor:
    """nn.functional.kl_div with an integer reduction (0 none, 1 mean, 2 sum); 1 averages over
    every element, without nn.functional's warning about 'batchmean'."""
    pointwise = _F().kl_div(input, target, reduction="none", log_target=log_target)
    how = _reduction(reduction, "kl_div")
    return pointwise if how == "none" else getattr(pointwise, how)()


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None,
                                     reduction: int = 0) -> Tensor:
    """nn.functional.binary_cross_entropy_with_logits with an integer reduction."""
    return _F().binary_cross_entropy_with_logits(
        input, target, weight, reduction=_reduction(reduction, "binary_cross_entropy_with_logits"),
        pos_weight=pos_weight)


def cosine_embedding_loss(input1, input2, target, margin: float = 0.0,
                          reduction: int = 0) -> Tensor:
    """nn.functional.cosine_embedding_loss with an integer reduction."""
    return _F().cosine_embedding_loss(input1, input2, target, margin,
                                      reduction=_reduction(reduction, "cosine_embedding_loss"))


def hinge_embedding_loss(input, target, margin: float = 1.0, reduction: int = 0) -> Tensor:
    """nn.functional.hinge_embedding_loss with an integer reduction."""
    return _F().hinge_embedding_loss(input, target, margin,
                                     reduction=_reduction(reduction, "hinge_embedding_loss"))


def margin_ranking_loss(input1, input2, target, margin: float = 0.0,
                        reduction: int = 0) -> Tensor:
    """nn.functional.margin_ranking_loss with an integer reduction."""
    return _F().margin_ranking_loss(input1, input2, target, margin,
                                    reduction=_reduction(reduction, "margin_ranking_loss"))


def poisson_nll_loss(input, target, log_input: bool, full: bool, eps: float,
                     reduction: int) -> Tensor:
    """nn.functional.poisson_nll_loss with every argument positional and an integer
    reduction."""
    return _F().poisson_nll_loss(input, target, log_input, full, eps=eps,
                                 reduction=_reduction(reduction, "poisson_nll_loss"))


def triplet_margin_loss(anchor, positive, negative, margin: float = 1.0, p: float = 2,
                        eps: float = 1e-6, swap: bool = False, reduction: int = 0) -> Tensor:
    """nn.functional.triplet_margin_loss with an integer reduction."""
    return _F().triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap,
                                    reduction=_reduction(reduction, "triplet_margin_loss"))


def dropout_(input, p: float, train: bool) -> Tensor:
    """In-place nn.functional.dropout."""
    return _F().dropout(input, p, train, inplace=True)


def alpha_dropout_(input, p: float, train: bool) -> Tensor:
    """In-place nn.functional.alpha_dropout."""
    return _F().alpha_dropout(input, p, train, inplace=True)


def feature_alpha_dropout(input, p: float, train: bool) -> Tensor:
    """nn.functional.feature_alpha_dropout: alpha dropout of whole channels (dim 1)."""
    return _F().feature_alpha_dropout(input, p, train)


def feature_alpha_dropout_(input, p: float, train: bool) -> Tensor:
    """In-place feature_alpha_dropout."""
    return _F().feature_alpha_dropout(input, p, train, inplace=True)


def _feature_dropout(input, p: float, train: bool, inplace: bool) -> Tensor:
    """Dropout of whole channels: one draw per (batch, channel), any number of dimensions."""
    dropout_module = importlib.import_module(".nn.functional._dropout", __package__)
    return dropout_module._feature_dropout(input, p, train, inplace, True)


def feature_dropout(input, p: float, train: bool) -> Tensor:
    """Zero whole channels (dim 1) with probability p, scaling the rest by 1 / (1 - p)."""
    return _feature_dropout(input, p, train, False)


def feature_dropout_(input, p: float, train: bool) -> Tensor:
    """In-place feature_dropout."""
    return _feature_dropout(input, p, train, True)


def celu_(input, alpha: float = 1.0) -> Tensor:
    """In-place nn.functional.celu."""
    return _F().celu_(input, alpha)


def selu_(input) -> Tensor:
    """In-place nn.functional.selu."""
    return _F().selu_(input)


def rrelu_(input, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
           training: bool = False) -> Tensor:
    """In-place nn.functional.rrelu."""
    return _F().rrelu_(input, lower, upper, training)


def threshold_(input, threshold: float, value: float) -> Tensor:
    """In-place nn.functional.threshold."""
    return _F().threshold_(input, threshold, value)


@composite(samples=(
    Sample(lambda t, x, w, b: t.conv_tbc(x, w, b), (Arg((5, 2, 3)), Arg((3, 3, 4)), Arg((4,)))),
    Sample(lambda t, x, w, b: t.conv_tbc(x, w, b, 1), (Arg((4, 1, 2)), Arg((2, 2, 3)),
                                                         Arg((3,))), name="pad")))
def conv_tbc(input, weight, bias, pad: int = 0) -> Tensor:
    """A 1-d convolution on (time, batch, channels) input with a (width, in, out) weight and
    `pad` zeros at both ends of time: conv1d with the dimensions moved."""
    if input.ndim != 3 or weight.ndim != 3 or bias.ndim != 1:
        raise RuntimeError(f"conv_tbc: expected a 3-D input and weight and a 1-D bias, got "
                           f"{input.ndim}-D, {weight.ndim}-D and {bias.ndim}-D")
    out = _F().conv1d(input.permute(1, 2, 0), weight.permute(2, 1, 0), bias, padding=pad)
    return out.permute(2, 0, 1)


# ---- ops composed from ember's ----------------------------------------------------------------
@composite(samples=(
    Sample(lambda t, x: t.renorm(x, 2, 0, 1.5), (Arg((3, 4)),)),
    Sample(lambda t, x: x.renorm(1, 1, 2.0), (Arg((2, 3, 2)),), name="p1"),
    Sample(lambda t, x: t.renorm(x, float("inf"), -1, 1.0), (Arg((3, 2)),), name="inf")))
def renorm(input: Tensor, p, dim: int, maxnorm, *, out=None) -> Tensor:
    """Each slice along `dim` whose p-norm exceeds `maxnorm` scaled down to norm `maxnorm`
    (max-norm regularization of weight rows).

    >>> import ember
    >>> ember.renorm(ember.tensor([[3., 4.], [0.3, 0.4]]), 2, 0, 1.0)
    tensor([[0.6000, 0.8000],
            [0.3000, 0.4000]])
    """
    if p <= 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    if input.ndim <= 1:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {input.ndim} "
                           "dimensions")
    dim = dim % input.ndim
    others = [d for d in range(input.ndim) if d != dim]
    norms = input.norm(p, dim=others, keepdim=True)
    scale = where(norms > maxnorm, maxnorm / (norms + 1e-7), 1.0).to(input.dtype)
    return write_out(input * scale, out)


def _renorm_(self, p, dim: int, maxnorm) -> Tensor:
    """In-place renorm."""
    return self.copy_(renorm(self, p, dim, maxnorm))


Tensor.renorm = renorm
Tensor.renorm_ = _renorm_


def nonzero_static(input: Tensor, *, size: int, fill_value: int = -1, out=None) -> Tensor:
    """nonzero() with a fixed number of rows: the first `size` indices, padded with
    `fill_value` rows when there are fewer (a shape known before the data is).

    >>> import ember
    >>> ember.nonzero_static(ember.tensor([0, 3, 5]), size=3)
    tensor([[ 1],
            [ 2],
            [-1]])
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise RuntimeError("nonzero_static: 'size' must be an non-negative integer")
    found = nonzero(input)
    if found.shape[0] < size:
        pad = full((size - found.shape[0], input.ndim), fill_value, dtype=D.int64,
                   device=input.device)
        found = cat([found, pad])
    return write_out(found[:size], out)


Tensor.nonzero_static = nonzero_static


# ---- factories and interchange ------------------------------------------------------------------
def empty_permuted(size, physical_layout, *, dtype=None, layout=None, device=None,
                   requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """An uninitialized tensor of `size` whose memory runs in the order of `physical_layout`
    (dims outermost first): empty_permuted((2, 3, 4), (0, 2, 1)) has strides (12, 1, 3)."""
    size, order = tuple(size), tuple(physical_layout)
    if len(size) != len(order):
        raise RuntimeError(f"Number of dimensions in size does not match the length of the "
                           f"physical_layout; i.e. len(size) = {len(size)} is not equal to "
                           f"len(physical_layout) = {len(order)}")
    if sorted(order) != list(range(len(size))):
        raise RuntimeError(f"empty_permuted: physical_layout {list(order)} is not a "
                           f"permutation of the dimensions 0..{len(size) - 1}")
    physical = empty([size[d] for d in order], dtype=dtype, device=device)
    inverse = sorted(range(len(order)), key=order.__getitem__)
    t = Tensor._wrap(physical._data.transpose(inverse), physical.dtype, physical.device)
    return t.requires_grad_(True) if requires_grad else t


def _new_empty_strided(self, size, stride, *, dtype=None, device=None,
                       requires_grad: bool = False, layout=None,
                       pin_memory: bool = False) -> Tensor:
    """empty_strided with this tensor's dtype and device unless given."""
    return empty_strided(size, stride, dtype=self.dtype if dtype is None else dtype,
                         device=self.device if device is None else device,
                         requires_grad=requires_grad, pin_memory=pin_memory)


Tensor.new_empty_strided = _new_empty_strided


def frombuffer(buffer, *, dtype, count: int = -1, offset: int = 0,
               requires_grad: bool = False) -> Tensor:
    """A 1-d tensor over the memory of an object with the buffer protocol (bytes, bytearray,
    array.array, mmap): `count` elements of `dtype` from byte `offset` (-1: to the end).
    Writes through the tensor change the buffer.

    >>> import array, ember
    >>> ember.frombuffer(array.array("i", [1, 2, 3]), dtype=ember.int32)
    tensor([1, 2, 3], dtype=torch.int32)
    """
    dt = D.to_dtype(dtype)
    view = memoryview(buffer).cast("B")
    length, size = view.nbytes, dt.itemsize
    if length <= 0 or count == 0:
        raise ValueError(f"both buffer length ({length}) and count ({count}) must not be 0")
    if not 0 <= offset < length:
        raise ValueError(f"offset ({offset} bytes) must be non-negative and no greater than "
                         f"buffer length ({length} bytes) minus 1")
    if count < 0:
        if (length - offset) % size:
            raise ValueError(f"buffer length ({length - offset} bytes) after offset ({offset} "
                             f"bytes) must be a multiple of element size ({size})")
        count = (length - offset) // size
    elif offset + count * size > length:
        raise ValueError(f"requested buffer length ({count} * {size} bytes) after offset "
                         f"({offset} bytes) must not be greater than actual buffer length "
                         f"({length} bytes)")
    if view.readonly:
        warnings.warn("The given buffer is not writable, and PyTorch does not support "
                      "non-writable tensors. This means you can write to the underlying "
                      "(supposedly non-writable) buffer using the tensor. You may want to "
                      "copy the buffer to protect its data or make it writable before "
                      "converting it to a tensor.", UserWarning, stacklevel=2)
    data = np.frombuffer(view, dtype=dt.np, count=count, offset=offset)
    t = Tensor._wrap(data, dt, CPU)
    return t.requires_grad_(True) if requires_grad else t


def _dlpack(self, stream=None, *, max_version=None, dl_device=None, copy=None):
    """The DLPack capsule of this tensor's memory (the protocol np.from_dlpack and other
    libraries read); tensors that require grad must be detached first, as in torch."""
    if self._requires_grad:
        raise BufferError("Can't export tensors that require gradient, use tensor.detach()")
    kwargs = {} if max_version is None else {"max_version": max_version}
    return self._data.__dlpack__(**kwargs)


def _dlpack_device(self) -> tuple:
    """(DLPack device type, index) of this tensor's memory: (1, 0) on the CPU."""
    return self._data.__dlpack_device__()


Tensor.__dlpack__ = _dlpack
Tensor.__dlpack_device__ = _dlpack_device


class _Capsule:
    """A bare DLPack capsule (from to_dlpack) presented through the protocol NumPy reads."""

    def __init__(self, capsule):
        self._capsule = capsule

    def __dlpack__(self, **kwargs):
        return self._capsule

    def __dlpack_device__(self) -> tuple:
        return (1, 0)


class _WritableView:
    """Presents an array NumPy imported read-only as writable memory (keeping the array, and
    so the capsule's memory, alive): a bare capsule carries no read-only flag, and torch
    shares such memory writably."""

    def __init__(self, array):
        interface = dict(array.__array_interface__)
        interface["data"] = (interface["data"][0], False)
        self.__array_interface__ = interface
        self.array = array


def from_dlpack(ext_tensor) -> Tensor:
    """A CPU tensor sharing memory with `ext_tensor`: any object with __dlpack__ (a NumPy
    array, another library's tensor) or a capsule from to_dlpack.

    >>> import numpy as np, ember
    >>> ember.from_dlpack(np.arange(3))
    tensor([0, 1, 2])
    """
    if isinstance(ext_tensor, Tensor):
        return ext_tensor
    if hasattr(ext_tensor, "__dlpack__"):
        data = np.from_dlpack(ext_tensor)
    else:
        data = np.from_dlpack(_Capsule(ext_tensor))
        if not data.flags.writeable:
            data = np.asarray(_WritableView(data))
    return Tensor._wrap(data, D.from_numpy_dtype(data.dtype), CPU)


def to_dlpack(tensor: Tensor):
    """A DLPack capsule of `tensor`'s memory, for from_dlpack in this or another library."""
    return tensor.__dlpack__()
