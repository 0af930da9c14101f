"""Linear maps: linear, bilinear."""
from __future__ import annotations

from ..._ops.dispatch import AutocastState, autocast_inputs
from ..._ops.registry import name_node
from ..._tensor import Tensor

__all__ = ["linear", "bilinear"]


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = input @ weight.T + bias.

    >>> import ember
    >>> ember.nn.functional.linear(ember.ones(1, 2), ember.ones(3, 2)).tolist()
    [[2.0, 2.0, 2.0]]
    """
    if AutocastState.active:  # one autocast op in torch: the bias follows the product
        input, weight, bias = autocast_inputs("lower", (input, weight, bias))
    out = input.matmul(weight.t())
    if bias is None:
        return out
    return name_node(out + bias, "AddmmBackward0" if input.ndim == 2 else "ViewBackward0")


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None):
    """y_k = x1^T W_k x2 + b_k over the last dimension of x1 and x2."""
    from ..._ops.linalg import einsum
    out = einsum("...i,kij,...j->...k", input1, weight, input2)
    return out if bias is None else out + bias
