"""ember.types: torch.types' aliases for annotations (`def f(x: Tensor, dim: _int) -> _size`).

ember has no symbolic shapes, so the `*LikeType` aliases are the plain Python types.

    >>> from ember.types import Number, _size
    >>> isinstance(3.0, Number.__args__)
    True
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import IO

from ._device import device as _device
from ._dtype import dtype as _dtype  # noqa: F401
from ._ops.misc import UntypedStorage as Storage
from ._tensor import Size, Tensor
from ._torch_functions import layout as _layout  # noqa: F401

__all__ = ["Number", "Device", "Storage", "FileLike", "IntLikeType", "FloatLikeType",
           "BoolLikeType", "Size", "Tensor"]

_bool = bool
_int = int
_float = float
_complex = complex
_str = str
_bytes = bytes

_size = Size | list[int] | tuple[int, ...]
_symsize = Size | Sequence[int]
_TensorOrTensors = Tensor | Sequence[Tensor]
_TensorOrOptionalTensors = Tensor | Sequence[Tensor | None]

IntLikeType = int
FloatLikeType = float
BoolLikeType = bool

# Python's number types, as a tuple for isinstance and as an annotation
_Number = (int, float, bool)
Number = int | float | bool

Device = _device | str | int | None
FileLike = str | os.PathLike | IO[bytes]
