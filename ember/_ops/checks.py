"""Runtime checks on tensor values: torch._assert as an op, so a traced or scripted graph keeps
the check (and raises on the values of each call) instead of baking in the example's outcome.

ember.jit.script compiles `assert <tensor condition>, "message"` and `if <tensor condition>:
raise ValueError("message")` into this op. As TorchScript raises torch.jit.Error for a scripted
`raise`, the op raises ScriptError, a RuntimeError whose message starts with the exception
type the source named; a scripted or traced `assert` raises AssertionError.
"""
from __future__ import annotations

from ..testing.opinfo import ALL, Arg, Sample
from .dispatch import apply
from .registry import OpDef, register
from .._tensor import Tensor

__all__ = ["_assert"]


class ScriptError(RuntimeError):
    """A `raise` in scripted code, raised at run time (torch.jit.Error)."""


@register("assert", promote=None, differentiable=False, samples=(
    Sample(lambda t, x: x.clone() if t._assert((x == x).all(), "equal to itself") is None
           else x, (Arg((2, 3)),), dtypes=ALL, grad=False),
    Sample(lambda t, x: x * 2 if t._assert(x.abs().sum() >= 0, "no NaN") is None else x,
           (Arg((3,)),), name="differentiable")))
class Assert(OpDef):
    """Raise when any element of `condition` is false; returns True (a graph node needs an
    output). Never pure: it stays in a graph even though nothing reads what it returns."""

    pure = False

    def forward(ctx, xp, condition, message: str = "", error: str = "AssertionError"):
        if not bool(xp.all(condition)):
            if error == "AssertionError":
                raise AssertionError(message)
            raise ScriptError(f"{error}: {message}" if message else error)
        return xp.asarray(True)


def _assert(condition, message: str = "") -> None:
    """torch._assert: `assert condition, message`, kept as a check in traced and scripted
    graphs when `condition` is a tensor.

    >>> import ember
    >>> ember._assert(ember.tensor(True), "never raised")
    """
    if isinstance(condition, Tensor):
        if condition.numel() != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        apply(Assert, condition, message=message)
        return
    assert condition, message
