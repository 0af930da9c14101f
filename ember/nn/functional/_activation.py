"""Activation functions (relu, gelu, softmax, ...), composed from registry ops.

Gradients follow torch exactly, including at the kinks: the hard functions (hardtanh, relu6,
hardsigmoid) pass no gradient at their clamping bounds, leaky_relu/elu/prelu take the negative
branch at 0, softplus-like functions switch to the identity above `threshold` without NaNs.
"""
from __future__ import annotations

import warnings

from ... import _dtype as D
from ... import _ops
from ..._ops.dispatch import apply
from ..._ops.nn_ops import Gelu, LogSoftmax, Softmax, _softmax_call
from ..._ops.pointwise import where
from ..._ops.registry import name_node
from ..._tensor import Tensor
from ...autograd.grad_mode import GradState

__all__ = ["threshold", "threshold_", "relu", "relu_", "relu6", "hardtanh", "hardtanh_",
           "leaky_relu", "leaky_relu_", "prelu", "rrelu", "rrelu_", "elu", "elu_", "selu",
           "selu_", "celu", "celu_", "gelu", "silu", "mish", "softplus", "softsign",
           "hardsigmoid", "hardswish", "sigmoid", "tanh", "logsigmoid", "softmax",
           "log_softmax", "softmin", "gumbel_softmax", "glu", "tanhshrink", "softshrink",
           "hardshrink"]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _tracks(x: Tensor) -> bool:
    """Whether x's result would be part of a graph (then the exact-gradient form is needed)."""
    return GradState.enabled and x._requires_grad


def _in_place(input: Tensor, fn) -> Tensor:
    """Write fn(input) into input. Under autograd fn runs on a copy, so the values its backward
    saved are not the ones being overwritten."""
    return input.copy_(fn(input.clone() if _tracks(input) else input))


def _maybe_in_place(input: Tensor, inplace: bool, fn) -> Tensor:
    return _in_place(input, fn) if inplace else fn(input)


# ---- rectifiers ---------------------------------------------------------------------------------
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0) elementwise.

    >>> import ember
    >>> ember.nn.functional.relu(ember.tensor([-1.0, 2.0]))
    tensor([0., 2.])
    """
    return _ops.pointwise.relu_(input) if inplace else _ops.pointwise.relu(input)


def relu_(input: Tensor) -> Tensor:
    """In-place relu."""
    return _ops.pointwise.relu_(input)


def _hardtanh(x: Tensor, min_val: float, max_val: float) -> Tensor:
    """clamp(x, min_val, max_val) whose gradient is 1 strictly inside the bounds only."""
    clamped = x.clamp(min_val, max_val)
    if not _tracks(x):
        return clamped
    return where((x > min_val) & (x < max_val), x, clamped.detach())


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """Clamp to [min_val, max_val] (no gradient at or beyond the bounds)."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _maybe_in_place(input, inplace, lambda x: name_node(_hardtanh(x, min_val, max_val),
                                                               "HardtanhBackward0"))


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """In-place hardtanh."""
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6) elementwise."""
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x for x > 0, negative_slope * x otherwise.

    >>> import ember
    >>> ember.nn.functional.leaky_relu(ember.tensor([-2.0, 3.0]), 0.5)
    tensor([-1.,  3.])
    """
    return _maybe_in_place(input, inplace, lambda x: name_node(
        where(x > 0, x, x * negative_slope), "LeakyReluBackward0"))


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """In-place leaky_relu."""
    return leaky_relu(input, negative_slope, inplace=True)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """leaky_relu with a learned slope: one for all channels or one per channel (dim 1)."""
    n = weight.numel()
    if n != 1:
        if input.ndim == 0:
            raise RuntimeError("Not allow zero-dim input tensor.")
        channels = input.shape[1] if input.ndim > 1 else 1
        if channels != n:
            raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found "
                               f"parameter numbers = {n} and channel size = {channels}.")
        if input.ndim > 1:
            weight = weight.reshape((n,) + (1,) * (input.ndim - 2))
    elif weight.ndim:
        weight = weight.reshape(())
    return where(input > 0, input, weight * input)


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False) -> Tensor:
    """Randomized leaky relu: slopes ~ U(lower, upper) in training, their mean otherwise."""
    for position, name, bound in ((2, "lower", lower), (3, "upper", upper)):
        if not isinstance(bound, (int, float)) and not (isinstance(bound, Tensor) and
                                                         bound.ndim == 0):
            raise TypeError(f"rrelu(): argument '{name}' (position {position}) must be Number, "
                            f"not {type(bound).__name__}")
    if lower > upper:
        raise RuntimeError("Lower bound should be less than or equal to the upper bound")
    _float_kernel(input, "leaky_relu_cpu")
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)

    def fn(x):
        slopes = _ops.random.rand(x.shape, dtype=x.dtype, device=x.device)
        slopes = slopes * (upper - lower) + lower
        return where(x >= 0, x, x * slopes)

    return _maybe_in_place(input, inplace, fn)


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
           training: bool = False) -> Tensor:
    """In-place rrelu."""
    return rrelu(input, lower, upper, training, inplace=True)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where x > threshold, else `value`."""
    return _maybe_in_place(input, inplace, lambda x: where(x > threshold, x, value))


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    """In-place threshold."""
    return _maybe_in_place(input, True, lambda x: where(x > threshold, x, value))


# ---- exponential units --------------------------------------------------------------------------
def _elu(x: Tensor, alpha: float, scale: float = 1.0, input_scale: float = 1.0) -> Tensor:
    """scale * (x if x > 0 else alpha * (exp(x * input_scale) - 1)); the clamp keeps exp of
    large positive x (the branch not taken) from overflowing into a NaN gradient."""
    negative = (x.clamp_max(0) * input_scale).expm1() * alpha if input_scale != 1 else \
        x.clamp_max(0).expm1() * alpha
    out = where(x > 0, x, negative)
    return out * scale if scale != 1 else out


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""
    return _maybe_in_place(input, inplace, lambda x: name_node(_elu(x, alpha), "EluBackward0"))


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place elu."""
    return elu(input, alpha, inplace=True)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha) with the self-normalizing constants."""
    return _maybe_in_place(input, inplace, lambda x: name_node(
        _elu(x, _SELU_ALPHA, _SELU_SCALE), "EluBackward0"))


def selu_(input: Tensor) -> Tensor:
    """In-place selu."""
    return selu(input, inplace=True)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, alpha * (exp(x / alpha) - 1) otherwise."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: celu(): alpha must be non-zero")
    return _maybe_in_place(input, inplace, lambda x: name_node(
        _elu(x, alpha, 1.0, 1.0 / alpha), "CeluBackward0"))


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place celu."""
    return celu(input, alpha, inplace=True)


# ---- smooth activations -------------------------------------------------------------------------
def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x), Phi the standard normal CDF; approximate='tanh' uses the tanh formula.

    >>> import ember
    >>> ember.nn.functional.gelu(ember.tensor([0.0, 1.0]))
    tensor([0.0000, 0.8413])
    """
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    _float_kernel(input, "GeluKernelImpl")
    return apply(Gelu, input, approximate=approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x)."""
    return _maybe_in_place(input, inplace, lambda x: name_node(x * x.sigmoid(), "SiluBackward0"))


def _softplus(x: Tensor, beta: float, threshold: float) -> Tensor:
    """log(1 + exp(beta x)) / beta, x itself where beta x > threshold."""
    bx = x * beta if beta != 1 else x
    soft = bx.clamp_max(threshold).exp().log1p()
    if beta != 1:
        soft = soft / beta
    return where(bx > threshold, x, soft)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """Smooth relu: log(1 + exp(beta * x)) / beta (linear above threshold / beta)."""
    _float_kernel(input, "softplus_cpu")
    return name_node(_softplus(input, beta, threshold), "SoftplusBackward0")


def _float_kernel(input: Tensor, kernel: str) -> None:
    """Refuse an integer, bool or complex input, as torch's CPU `kernel` (real floating types
    only) does."""
    if not input._dtype.is_floating_point:
        raise NotImplementedError(f"\"{kernel}\" not implemented for "
                                  f"'{D.SCALAR_NAMES[input._dtype]}'")


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x))."""
    return _maybe_in_place(input, inplace, lambda x: x * _softplus(x, 1.0, 20.0).tanh())


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    return input / (input.abs() + 1)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """Piecewise-linear sigmoid: clamp(x + 3, 0, 6) / 6."""
    return _maybe_in_place(input, inplace, lambda x: _hardtanh(x + 3, 0.0, 6.0) / 6)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * clamp(x + 3, 0, 6) / 6."""
    return _maybe_in_place(input, inplace, lambda x: x * _hardtanh(x + 3, 0.0, 6.0) / 6)


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + exp(-x))."""
    return _ops.pointwise.sigmoid(input)


def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent."""
    return _ops.pointwise.tanh(input)


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), without overflow or underflow."""
    return -_softplus(-input, 1.0, 20.0)


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x)."""
    return input - input.tanh()


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x - lambd above lambd, x + lambd below -lambd, 0 in between."""
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    return input - input.clamp(-lambd, lambd)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, 0 elsewhere."""
    return where((input > lambd) | (input < -lambd), input, 0.0)


# ---- softmax family -----------------------------------------------------------------------------
def _softmax_dim(name: str, ndim: int, stacklevel: int) -> int:
    """torch's legacy choice when dim is omitted: 0 for 0-, 1- and 3-d inputs, else 1."""
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  "to include dim=X as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype=None) -> Tensor:
    """exp(x) / sum(exp(x)) along dim.

    >>> import ember
    >>> ember.nn.functional.softmax(ember.tensor([[1.0, 1.0]]), dim=1)
    tensor([[0.5000, 0.5000]])
    """
    if dim is None:
        dim = _softmax_dim("softmax", input.ndim, _stacklevel)
    return _softmax_call(Softmax, input, dim, dtype, "softmax")


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype=None) -> Tensor:
    """softmax(-x) along dim."""
    if dim is None:
        dim = _softmax_dim("softmin", input.ndim, _stacklevel)
    if dtype is not None:
        input = input.to(dtype)
    return _softmax_call(Softmax, -input, dim, None, "softmax")


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
                dtype=None) -> Tensor:
    """log(softmax(x)) along dim, computed stably."""
    if dim is None:
        dim = _softmax_dim("log_softmax", input.ndim, _stacklevel)
    return _softmax_call(LogSoftmax, input, dim, dtype, "log_softmax")


def gumbel_softmax(logits: Tensor, tau: float = 1, hard: bool = False, eps: float = 1e-10,
                   dim: int = -1) -> Tensor:
    """A sample from the Gumbel-softmax (concrete) distribution over `dim`: softmax((logits +
    Gumbel noise) / tau); with hard=True a one-hot vector whose gradient is the soft one's."""
    gumbels = -_ops.creation.empty_like(logits).exponential_().log()
    soft = softmax((logits + gumbels) / tau, dim)
    if not hard:
        return soft
    index = soft.argmax(dim, keepdim=True)
    one_hot = _ops.creation.zeros_like(logits).scatter_(dim, index, 1.0)
    return one_hot - soft.detach() + soft


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """Gated linear unit: a * sigmoid(b), a and b the two halves of input along dim."""
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    size = input.shape[dim]
    if size % 2:
        d = dim % input.ndim
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {size}")
    a, b = input.chunk(2, dim)
    return a * b.sigmoid()

