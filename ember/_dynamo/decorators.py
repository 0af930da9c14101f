"""torch._dynamo's marks on input dims: mark_dynamic (the first compile makes the dim a size
symbol, so other sizes run the same graph), maybe_mark_dynamic (the same, without the error
when the code fixes the size) and mark_static (the size stays a guard: each size compiles its
own graph). ember.compile reads them (ember/jit/guarded.py)."""
from __future__ import annotations

from .._tensor import Tensor
from ..nn.modules.module import Module


def _dims(t, index) -> list[int]:
    if not isinstance(t, Tensor):
        raise TypeError(f"expected a Tensor, got {type(t).__name__}")
    dims = list(index) if isinstance(index, (list, tuple)) else [index]
    for d in dims:
        if not isinstance(d, int) or isinstance(d, bool):
            raise TypeError(f"a dim index must be an int, got {type(d).__name__}")
        if not -t.dim() <= d < t.dim():
            raise IndexError(f"Dimension out of range (expected to be in range of "
                             f"[{-t.dim()}, {t.dim() - 1}], but got {d})")
    return [d % t.dim() for d in dims]


def _mark(t: Tensor, attribute: str, dims: list[int]) -> None:
    marks = t.__dict__.get(attribute)
    t.__dict__[attribute] = (set() if marks is None else marks) | set(dims)


def mark_dynamic(t: Tensor, index, *, min: int | None = None, max: int | None = None) -> None:
    """Mark dim `index` (an int or a list) of `t` dynamic: ember.compile's first call with
    `t` compiles a graph where that size is a symbol, so a later size (within `min` and `max`
    when given) compiles nothing. Raises ConstraintViolationError at that compile when the
    code needs the size fixed, or the size is outside the range.

        >>> import ember, ember._dynamo
        >>> x = ember.ones(4, 3)
        >>> ember._dynamo.mark_dynamic(x, 0)
        >>> sorted(x._dynamo_dynamic_indices)
        [0]
    """
    dims = _dims(t, index)
    if min is not None and max is not None and min > max:
        raise ValueError(f"mark_dynamic: min {min} is larger than max {max}")
    _mark(t, "_dynamo_dynamic_indices", dims)
    if min is not None or max is not None:
        ranges = t.__dict__.setdefault("_dynamo_dynamic_range", {})
        ranges.update(dict.fromkeys(dims, (min, max)))


def maybe_mark_dynamic(t: Tensor, index) -> None:
    """Mark dim `index` of `t` dynamic where the code allows (no error when it fixes the
    size: that graph then stays static, as without the mark)."""
    _mark(t, "_dynamo_weak_dynamic_indices", _dims(t, index))


def mark_static(t, index=None) -> None:
    """Mark dim `index` of `t` (every dim when None) static: ember.compile guards its size
    and compiles a graph per size instead of a dynamic one. A module (instance or class) is
    always static in ember: its attributes are guarded by value."""
    if isinstance(t, Module) or isinstance(t, type) and issubclass(t, Module):
        t._dynamo_marked_static = True
        return
    _mark(t, "_dynamo_static_indices",
          _dims(t, list(range(t.dim())) if isinstance(t, Tensor) and index is None else index))
