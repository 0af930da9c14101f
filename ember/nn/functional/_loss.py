"""Loss functions. cross_entropy (class indices), nll_loss, binary_cross_entropy and ctc_loss
are single ops; the rest are composed from registry ops.

Every loss takes reduction='none' | 'mean' | 'sum'; the legacy size_average / reduce flags are
still accepted and mapped to it with torch's deprecation warning.
"""
from __future__ import annotations

import math
import warnings

from ... import _dtype as D
from ..._ops.creation import arange, full_like, tensor
from ..._ops.dispatch import apply
from ..._ops.nn_ops import BinaryCrossEntropy, CrossEntropy, CtcLoss, LogSoftmax, NllLoss
from ..._ops.pointwise import minimum, relu, where, xlogy
from ..._ops.registry import name_node
from ..._tensor import Tensor
from ._activation import _float_kernel, _softplus, logsigmoid
from ._distance import pairwise_distance

__all__ = ["l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss", "cross_entropy", "nll_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div",
           "poisson_nll_loss", "gaussian_nll_loss", "cosine_embedding_loss",
           "margin_ranking_loss", "hinge_embedding_loss", "multilabel_soft_margin_loss",
           "soft_margin_loss", "multi_margin_loss", "multilabel_margin_loss",
           "triplet_margin_loss", "triplet_margin_with_distance_loss", "ctc_loss"]

_REDUCTIONS = ("none", "mean", "sum")


def legacy_get_string(size_average, reduce, emit_warning: bool = True) -> str:
    """The reduction the deprecated size_average / reduce flags stand for."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    ret = "mean" if size_average and reduce else "sum" if reduce else "none"
    if emit_warning:
        warnings.warn(f"size_average and reduce args will be deprecated, please use "
                      f"reduction='{ret}' instead.", stacklevel=3)
    return ret


def _reduction(reduction: str, size_average=None, reduce=None) -> str:
    if size_average is not None or reduce is not None:
        return legacy_get_string(size_average, reduce)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return loss
    return loss.mean() if reduction == "mean" else loss.sum()


def _warn_size(input: Tensor, target: Tensor) -> None:
    if target.shape != input.shape:
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input "
                      f"size ({input.shape}). This will likely lead to incorrect results due "
                      "to broadcasting. Please ensure they have the same size.", stacklevel=3)


def _weighted(loss: Tensor, weight: Tensor | None, input: Tensor, reduction: str,
              mean_by_weight: bool = True) -> Tensor:
    """Per-element weights (input's shape); 'mean' divides by the weights' sum when
    mean_by_weight, else by the element count."""
    if weight is None:
        return _reduce(loss, reduction)
    if weight.shape != input.shape:
        raise ValueError("Weights and input must have the same size.")
    loss = loss * weight
    if reduction == "mean" and mean_by_weight:
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


# ---- regression ---------------------------------------------------------------------------------
def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
            reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean (or sum) absolute error |input - target|.

    >>> import ember
    >>> ember.nn.functional.l1_loss(ember.tensor([1.0, 2.0]), ember.tensor([2.0, 4.0]))
    tensor(1.5000)
    """
    _warn_size(input, target)
    reduction = _reduction(reduction, size_average, reduce)
    return _weighted((input - target).abs(), weight, input, reduction)


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
             reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean (or sum) squared error (input - target)^2.

    >>> import ember
    >>> ember.nn.functional.mse_loss(ember.tensor([1.0, 2.0]), ember.tensor([2.0, 4.0]))
    tensor(2.5000)
    """
    _warn_size(input, target)
    reduction = _reduction(reduction, size_average, reduce)
    diff = input - target
    loss = _weighted(diff * diff, weight, input, reduction)
    return loss if weight is not None else name_node(loss, "MseLossBackward0")


def _smooth_l1(diff: Tensor, beta: float) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, |d| - 0.5 beta elsewhere."""
    size = diff.abs()
    if beta == 0:
        return size
    return where(size < beta, diff * diff * (0.5 / beta), size - 0.5 * beta)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """Squared error below beta, absolute error (minus beta / 2) above, divided by beta."""
    _warn_size(input, target)
    reduction = _reduction(reduction, size_average, reduce)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    loss = _reduce(_smooth_l1(input - target, beta), reduction)
    return name_node(loss, "SmoothL1LossBackward0") if beta else loss


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """Squared error / 2 below delta, delta * (|d| - delta / 2) above (smooth_l1 * delta)."""
    _warn_size(input, target)
    reduction = _reduction(reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    diff = input - target
    size = diff.abs()
    loss = where(size <= delta, diff * diff * 0.5, (size - 0.5 * delta) * delta)
    loss = _weighted(loss, weight, input, reduction, mean_by_weight=False)
    return loss if weight is not None else name_node(loss, "HuberLossBackward0")


# ---- classification -----------------------------------------------------------------------------
_TYPE_NAMES = D.SCALAR_NAMES


def _type_name(dt) -> str:
    return _TYPE_NAMES.get(dt, dt.name)


def _check_class_target(input: Tensor, target: Tensor, weight: Tensor | None) -> None:
    """torch's shape and dtype rules for class-index targets (class dim 1, or 0 unbatched)."""
    if input.ndim == 0:
        raise ValueError("Expected input to have at least 1 dimension (got 0)")
    if input.ndim == 1:
        if target.ndim != 0:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    elif input.ndim == 2:
        if target.ndim != 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        if target.shape[0] != input.shape[0]:
            raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target "
                             f"batch_size ({target.shape[0]}).")
    else:
        expected = [input.shape[0]] + list(input.shape[2:])
        if list(target.shape) != expected:
            if target.ndim and target.shape[0] != input.shape[0]:
                raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match "
                                 f"target batch_size ({target.shape[0]}).")
            raise RuntimeError(f"Expected target size {expected}, got {list(target.shape)}")
    if target._dtype not in (D.int64, D.uint8):
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got "
                           f"{_type_name(target._dtype)}")
    classes = input.shape[0 if input.ndim == 1 else 1]
    if weight is not None:
        if weight.numel() != classes:
            raise RuntimeError(f"weight tensor should be defined either for all {classes} "
                               f"classes or no classes but got weight tensor of shape: "
                               f"{list(weight.shape)}")
        if weight._dtype is not input._dtype:
            raise RuntimeError(f"expected scalar type {_type_name(input._dtype)} but found "
                               f"{_type_name(weight._dtype)}")


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log likelihood of class indices given log-probabilities (class dim 1).

    'mean' divides by the summed weights of the non-ignored targets.

    >>> import ember
    >>> logp = ember.tensor([[-0.5, -1.0], [-2.0, -0.1]])
    >>> ember.nn.functional.nll_loss(logp, ember.tensor([0, 1]))
    tensor(0.3000)
    """
    reduction = _reduction(reduction, size_average, reduce)
    _check_class_target(input, target, weight)
    return apply(NllLoss, input, target, weight, ignore_index=ignore_index, reduction=reduction)


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average=None, ignore_index: int = -100, reduce=None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """log_softmax over the class dim (1, or 0 unbatched) followed by the negative log
    likelihood of the target: class indices (with weight, ignore_index, label_smoothing) or
    class probabilities of input's shape.

    >>> import ember
    >>> ember.nn.functional.cross_entropy(ember.tensor([[0.0, 0.0]]), ember.tensor([1]))
    tensor(0.6931)
    """
    reduction = _reduction(reduction, size_average, reduce)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: "
                           f"{label_smoothing}")
    if target._dtype.is_floating_point and target.shape == input.shape:
        return _soft_cross_entropy(input, target, weight, reduction, label_smoothing)
    _check_class_target(input, target, weight)
    return apply(CrossEntropy, input, target, weight, ignore_index=ignore_index,
                 reduction=reduction, label_smoothing=label_smoothing)


def _soft_cross_entropy(input, target, weight, reduction, label_smoothing):
    """Cross entropy against class probabilities: -sum_c w_c q_c log p_c per entry."""
    dim = 0 if input.ndim == 1 else 1
    classes = input.shape[dim]
    logp = apply(LogSoftmax, input, dim=dim)
    if label_smoothing:
        target = target * (1 - label_smoothing) + label_smoothing / classes
    terms = logp * target
    if weight is not None:
        terms = terms * weight.reshape((classes,) + (1,) * (input.ndim - dim - 1))
    return _reduce(-terms.sum(dim), reduction)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """-w (t log x + (1 - t) log(1 - x)) for probabilities x (logs clamped at -100).

    >>> import ember
    >>> ember.nn.functional.binary_cross_entropy(ember.tensor([0.5]), ember.tensor([1.0]))
    tensor(0.6931)
    """
    reduction = _reduction(reduction, size_average, reduce)
    if target.shape != input.shape:
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input "
                         f"size ({input.shape}) is deprecated. Please ensure they have the same "
                         "size.")
    if weight is not None and weight.shape != input.shape:
        weight = weight.expand_as(input)
    return apply(BinaryCrossEntropy, input, target, weight, reduction=reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None, size_average=None,
                                     reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """binary_cross_entropy(sigmoid(x), t) computed from the logits x without overflow:
    (1 - t) x + (1 + (pos_weight - 1) t) softplus(-x)."""
    reduction = _reduction(reduction, size_average, reduce)
    if target.shape != input.shape:
        raise ValueError(f"Target size ({target.shape}) must be the same as input size "
                         f"({input.shape})")
    _float_kernel(input, "log_sigmoid_cpu")
    soft = _softplus(-input, 1.0, 20.0)
    if pos_weight is not None:
        soft = soft * ((pos_weight - 1) * target + 1)
    # in place on a tensor of target's dtype, as torch: the loss takes target's dtype, and
    # an integer target is refused (the result can't be cast to it)
    loss = (1 - target).mul_(input).add_(soft)
    if weight is not None:
        loss = loss * weight
    return name_node(_reduce(loss, reduction), "BinaryCrossEntropyWithLogitsBackward0")


def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """Kullback-Leibler divergence of target from exp(input): target (log target - input),
    0 where target is 0; 'batchmean' divides the sum by the batch size."""
    if size_average is not None or reduce is not None:
        reduction = legacy_get_string(size_average, reduce)
    elif reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", stacklevel=2)
    elif reduction not in _REDUCTIONS + ("batchmean",):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if not all(t.is_floating_point() or t.is_complex() for t in (input, target)):
        raise RuntimeError("kl_div: Integral inputs not supported.")
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = xlogy(target, target) - target * input
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.ndim else loss.sum()
    return _reduce(loss, reduction)


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average=None, eps: float = 1e-8, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """Negative log likelihood of target under Poisson(rate): exp(x) - t x for log rates x,
    else x - t log(x + eps); `full` adds Stirling's approximation of log(t!) for t > 1."""
    reduction = _reduction(reduction, size_average, reduce)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        safe = where(target > 1, target, 1.0)
        stirling = safe * safe.log() - safe + 0.5 * (2 * math.pi * safe).log()
        loss = loss + where(target > 1, stirling, 0.0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input: Tensor, target: Tensor, var, full: bool = False,
                      eps: float = 1e-6, reduction: str = "mean") -> Tensor:
    """Negative log likelihood of target under N(input, var): 0.5 (log var + (x - t)^2 / var)
    (+ 0.5 log 2 pi when full). var may have input's shape, miss its last dim, or have one
    dim of size 1 (shared variance); it is clamped below at eps without blocking its gradient.
    """
    if isinstance(var, (int, float)):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = full_like(input, float(var))
    elif bool((var < 0).any()):
        raise ValueError("var has negative entry/entries")
    if var.shape != input.shape:
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif not (input.ndim == var.ndim and sum(
                1 for a, b in zip(input.shape, var.shape) if a != b) == 1):
            raise ValueError("var is of incorrect size")
    if reduction not in _REDUCTIONS:
        raise ValueError(reduction + " is not valid")
    var = var + (var.clamp_min(eps) - var).detach()
    diff = input - target
    loss = 0.5 * (var.log() + diff * diff / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


# ---- margins and embeddings ---------------------------------------------------------------------
def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                          size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """1 - cos(x1, x2) for target 1, max(0, cos(x1, x2) - margin) for target -1."""
    reduction = _reduction(reduction, size_average, reduce)
    if target.ndim not in (0, 1) or input1.ndim != target.ndim + 1 or \
            input2.ndim != input1.ndim:
        raise RuntimeError(f"{target.ndim}D target tensor expects {target.ndim + 1}D input "
                           f"tensors, but found inputs with sizes {list(input1.shape)} and "
                           f"{list(input2.shape)}.")
    dim = input1.ndim - 1
    eps = 1e-12
    dot = (input1 * input2).sum(dim)
    cos = dot / (((input1 * input1).sum(dim) + eps) * ((input2 * input2).sum(dim) + eps)).sqrt()
    loss = where(target == 1, 1 - cos, 0.0) + where(target == -1, (cos - margin).clamp_min(0),
                                                    0.0)
    return _reduce(loss, reduction)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                        size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """max(0, -target (x1 - x2) + margin)."""
    reduction = _reduction(reduction, size_average, reduce)
    if not input1.ndim == input2.ndim == target.ndim:
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same "
                           f"dimension but got sizes: input1: {input1.shape}, input2: "
                           f"{input2.shape}, target: {target.shape} ")
    return _reduce((-target * (input1 - input2) + margin).clamp_min(0), reduction)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0, size_average=None,
                         reduce=None, reduction: str = "mean") -> Tensor:
    """x for target 1, max(0, margin - x) for target -1."""
    reduction = _reduction(reduction, size_average, reduce)
    if not (input.is_floating_point() or input.is_complex()):
        margin = int(margin)  # as torch: an integer input keeps its dtype, the margin truncated
    loss = where(target != 1, (margin - input).clamp_min(0), 0) + where(target != -1, input, 0)
    return _reduce(loss, reduction)


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                size_average=None, reduce=None,
                                reduction: str = "mean") -> Tensor:
    """Per-class logistic loss, averaged over the classes (last dim)."""
    reduction = _reduction(reduction, size_average, reduce)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    dim = input.ndim - 1
    loss = loss.sum(dim) / input.shape[dim]
    return _reduce(loss, reduction)


def soft_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """log(1 + exp(-target * input))."""
    reduction = _reduction(reduction, size_average, reduce)
    return _reduce(_softplus(-target * input, 1.0, 20.0), reduction)


def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0,
                      weight: Tensor | None = None, size_average=None, reduce=None,
                      reduction: str = "mean") -> Tensor:
    """Multi-class hinge loss: sum over wrong classes i of max(0, margin - x[y] + x[i])^p,
    times weight[y], divided by the number of classes."""
    reduction = _reduction(reduction, size_average, reduce)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if input.ndim > 2 or (input.ndim == 2 and target.shape != (input.shape[0],)) or \
            (input.ndim < 2 and target.numel() != 1):
        raise RuntimeError(f"inconsistent target size, expected {input.shape[:1]} but got "
                           f"{target.shape}")
    unbatched = input.ndim < 2
    scores = input.reshape(1, -1) if unbatched else input
    labels = target.reshape(-1, 1)
    classes = scores.shape[1]
    gap = relu(scores - scores.gather(1, labels) + margin)
    if p == 2:
        gap = gap * gap
    if weight is not None:
        gap = gap * weight[labels]
    gap = where(arange(classes, device=input.device) != labels, gap, 0.0)
    loss = gap.sum(1) / classes
    return _reduce(loss.reshape(()) if unbatched else loss, reduction)


def multilabel_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                           reduction: str = "mean") -> Tensor:
    """Multi-label hinge loss: target lists class indices (ended by -1); for each listed class
    j and each unlisted class i, max(0, 1 - (x[j] - x[i])), summed and divided by C."""
    reduction = _reduction(reduction, size_average, reduce)
    if target.shape != input.shape or input.ndim > 2:
        raise RuntimeError(f"inconsistent target size: {list(target.shape)} for input of size: "
                           f"{list(input.shape)}")
    unbatched = input.ndim < 2
    scores = input.reshape(1, -1) if unbatched else input
    labels = target.reshape(scores.shape)
    classes = scores.shape[1]
    listed = (labels == -1).to(D.int64).cumsum(1) == 0
    safe = where(listed, labels, 0)
    is_target = ((safe.unsqueeze(2) == arange(classes, device=input.device))
                 & listed.unsqueeze(2)).any(1)
    gaps = relu(1 - scores.gather(1, safe).unsqueeze(2) + scores.unsqueeze(1))
    keep = listed.unsqueeze(2) & ~is_target.unsqueeze(1)
    loss = where(keep, gaps, 0.0).sum((1, 2)) / classes
    return _reduce(loss.reshape(()) if unbatched else loss, reduction)


def _check_triplet_dims(anchor: Tensor, positive: Tensor, negative: Tensor) -> None:
    a, p, n = anchor.ndim, positive.ndim, negative.ndim
    if not a == p == n:
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the "
                           f"same number of dimensions, but got: anchor {a}D, positive {p}D, "
                           f"and negative {n}D inputs")


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0,
                        p: float = 2, eps: float = 1e-6, swap: bool = False, size_average=None,
                        reduce=None, reduction: str = "mean") -> Tensor:
    """max(0, margin + d(a, p) - d(a, n)), d the pairwise p-norm distance; with swap the
    negative distance is min(d(a, n), d(p, n))."""
    reduction = _reduction(reduction, size_average, reduce)
    _check_triplet_dims(anchor, positive, negative)
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce((margin + d_pos - d_neg).clamp_min(0), reduction)


def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function=None, margin: float = 1.0,
                                      swap: bool = False, reduction: str = "mean") -> Tensor:
    """triplet_margin_loss with any distance function (pairwise_distance by default)."""
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    reduction = _reduction(reduction)
    _check_triplet_dims(anchor, positive, negative)
    dist = pairwise_distance if distance_function is None else distance_function
    d_pos = dist(anchor, positive)
    d_neg = dist(anchor, negative)
    if swap:
        d_neg = minimum(d_neg, dist(positive, negative))
    return _reduce((margin + d_pos - d_neg).clamp_min(0), reduction)


# ---- sequences ----------------------------------------------------------------------------------
def _lengths(value, name: str) -> Tensor:
    if isinstance(value, Tensor):
        if value._dtype.is_floating_point:
            raise RuntimeError(f"ctc_loss(): {name} must be integral")
        return value.reshape(-1).to(D.int64)
    values = [int(v) for v in (value if isinstance(value, (list, tuple)) else [value])]
    return tensor(values, dtype=D.int64)


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths, target_lengths, blank: int = 0,
             reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """Connectionist Temporal Classification loss of log_probs (T, N, C) (or (T, C)) against
    targets padded (N, S) or concatenated (sum(target_lengths),).

    'mean' divides each loss by its target length, then averages over the batch;
    zero_infinity replaces infinite losses (impossible alignments) and their gradients by 0.
    """
    reduction = _reduction(reduction)
    if log_probs.ndim not in (2, 3):
        raise RuntimeError(f"ctc_loss(): log_probs must be (T, N, C) or (T, C), got shape "
                           f"{list(log_probs.shape)}")
    steps, classes = log_probs.shape[0], log_probs.shape[-1]
    batch = 1 if log_probs.ndim == 2 else log_probs.shape[1]
    if not 0 <= blank < classes:
        raise RuntimeError("blank must be in label range")
    if targets._dtype.is_floating_point:
        raise RuntimeError(f"ctc_loss(): targets must be integral, got {targets.dtype}")
    il, tl = _lengths(input_lengths, "input_lengths"), _lengths(target_lengths,
                                                                "target_lengths")
    if il.numel() != batch or tl.numel() != batch:
        raise RuntimeError(f"ctc_loss(): input_lengths and target_lengths must have size "
                           f"{batch}, got {il.numel()} and {tl.numel()}")
    if batch and int(il.max()) > steps:
        raise RuntimeError(f"Expected input_lengths to have value at most {steps}, but got "
                           f"value {int(il.max())} (while checking arguments for ctc_loss_cpu)")
    padded = targets.ndim == (2 if log_probs.ndim == 3 else 1) and log_probs.ndim == 3
    if padded and batch and int(tl.max()) > targets.shape[1]:
        raise RuntimeError(f"Expected tensor to have size at least {int(tl.max())} at dimension "
                           f"1, but got size {targets.shape[1]} for argument #2 'targets' "
                           "(while checking arguments for ctc_loss_cpu)")
    if not padded and int(tl.sum()) > targets.numel():
        raise RuntimeError(f"ctc_loss(): targets has {targets.numel()} elements, fewer than the "
                           f"sum of target_lengths ({int(tl.sum())})")
    return apply(CtcLoss, log_probs, targets.to(D.int64), il, tl, blank=blank,
                 reduction=reduction, zero_infinity=zero_infinity)

