"""Flatten parameters into one vector and back (e.g. for second-order or evolutionary methods)."""
from __future__ import annotations

from typing import Iterable

from ..._ops.shape import cat
from ..._tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _check_same_device(param: Tensor, device):
    if device is not None and param.device != device:
        raise TypeError("Found two parameters on different devices, this is currently not "
                        "supported.")
    return param.device


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated into one 1-D tensor.

    >>> import ember
    >>> lin = ember.nn.Linear(2, 3)
    >>> ember.nn.utils.parameters_to_vector(lin.parameters()).shape
    torch.Size([9])
    """
    device = None
    flat = []
    for param in parameters:
        device = _check_same_device(param, device)
        flat.append(param.reshape(-1))
    return cat(flat)


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Set the parameters' data from consecutive slices of `vec` (the inverse of
    parameters_to_vector); each parameter then views into `vec`."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    device = None
    offset = 0
    for param in parameters:
        device = _check_same_device(param, device)
        numel = param.numel()
        param.data = vec[offset:offset + numel].view_as(param).data
        offset += numel
