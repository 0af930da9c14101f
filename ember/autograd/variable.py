"""torch.autograd.Variable: the pre-0.4 wrapper, kept for old code. Every tensor counts as a
Variable, and calling it gives a detached alias of a tensor."""
from __future__ import annotations

import warnings

from .._tensor import Tensor


class _VariableMeta(type):
    def __instancecheck__(cls, other) -> bool:
        return isinstance(other, Tensor)


class Variable(metaclass=_VariableMeta):
    """Variable(data, requires_grad=False): `data` detached (sharing its memory) with
    requires_grad set; Variable() is an empty tensor. `volatile` has no effect, as in torch."""

    def __new__(cls, data=None, requires_grad: bool = False, volatile=None):
        if volatile is not None:
            warnings.warn("volatile was removed and now has no effect. Use `with "
                          "torch.no_grad():` instead.", UserWarning, stacklevel=2)
        if data is None:
            from .._ops.creation import empty
            return empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        return data.detach().requires_grad_(requires_grad)
