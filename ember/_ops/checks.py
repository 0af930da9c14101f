"""Runtime checks on tensor values: torch._assert as an op, so a traced or scripted graph keeps
the check (and raises on the values of each call) instead of baking in the example's outcome.

ember.jit.script compiles `assert <tensor condition>, "message"` and `if <tensor condition>:
raise ValueError("message")` into this op. As TorchScript raises torch.jit.Error for a scripted
`raise`, the op raises ScriptError, a RuntimeError whose message starts with the exception
type the source named; a scripted or traced `assert` raises AssertionError. A message whose
parts are computed from tensors (an f-string, str.format or %) is a template with one {} per
such part, filled at run time from the op's extra inputs (`formats` says how each is shown).
A scripted print() is the Print op, whose text is such a template, written on each call.
"""
from __future__ import annotations

import contextlib
import math
import threading

from ..testing.opinfo import ALL, Arg, Sample
from .dispatch import apply
from .registry import OpDef, register
from .._tensor import Size, Tensor

__all__ = ["_assert"]


class ScriptError(RuntimeError):
    """A `raise` in scripted code, raised at run time (torch.jit.Error)."""


class ScriptAssertionError(ScriptError, AssertionError):
    """A failed assert in a graph: torch.jit.Error as TorchScript raises it, and still the
    AssertionError Python code expects."""


@register("assert", promote=None, differentiable=False, samples=(
    Sample(lambda t, x: x.clone() if t._assert((x == x).all(), "equal to itself") is None
           else x, (Arg((2, 3)),), dtypes=ALL, grad=False),
    Sample(lambda t, x: x * 2 if t._assert(x.abs().sum() >= 0, "no NaN") is None else x,
           (Arg((3,)),), name="differentiable")))
class Assert(OpDef):
    """Raise when any element of `condition` is false; returns True (a graph node needs an
    output). Never pure: it stays in a graph even though nothing reads what it returns."""

    pure = False

    def forward(ctx, xp, condition, *values, message: str = "", error: str = "AssertionError",
                formats=()):
        if not bool(xp.all(condition)):
            if formats:
                message = render(message, formats, values)
            if error == "AssertionError":
                raise ScriptAssertionError(message)
            raise ScriptError(f"{error}: {message}" if message else error)
        return xp.asarray(True)


def _printing(x):
    print("sample print:", x.sum())
    if x.sum() > 1e9:  # control flow: the graph runs node by node, through apply
        x = x * 2
    return x + 0


_quiet = threading.local()


@contextlib.contextmanager
def quiet_prints():
    """Print ops write nothing inside: ember.jit.script runs graph blocks while compiling."""
    before = getattr(_quiet, "on", False)
    _quiet.on = True
    try:
        yield
    finally:
        _quiet.on = before


@register("print", promote=None, differentiable=False, samples=(
    Sample(lambda t, x: t.jit.script(_printing)(x), (Arg((2, 3)),), grad=False),))
class Print(OpDef):
    """print() in scripted code: writes its text (a template filled from the values, as
    Assert's message) on each call; returns True (a graph node needs an output). Never pure."""

    pure = False

    def forward(ctx, xp, *values, template: str = "", formats=(), end: str = "\n"):
        if not getattr(_quiet, "on", False):
            print(render(template, formats, values) if formats else template, end=end)
        return xp.asarray(True)


_NUMBER_KINDS = {"int": int, "float": float, "bool": bool}


def script_str(value) -> str:
    """str() of a value as TorchScript shows it: floats as C++ prints them at 17 significant
    digits (2., 1e-08, 0.10000000000000001), sizes and lists as [a, b], tuples as (a, b)."""
    if isinstance(value, float):
        text = f"{value:.17g}"
        return text if "." in text or "e" in text or not math.isfinite(value) else text + "."
    if isinstance(value, (list, Size)):
        return "[" + ", ".join(script_str(v) for v in value) + "]"
    if type(value) is tuple:
        inner = ", ".join(script_str(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return str(value)


def render(template: str, formats, values) -> str:
    """`template` (str.format syntax, one {} per value) filled with values computed at run
    time; `formats` gives each one's kind (int, float, bool or tensor) and format spec."""
    shown = []
    for (kind, spec), v in zip(formats, values):
        if kind == "tensor":
            v = v if isinstance(v, Tensor) else Tensor._wrap_array(v)
        else:
            v = _NUMBER_KINDS[kind](v.item())
        shown.append(show(v, spec))
    return template.format(*shown)


def show(value, spec: str = "") -> str:
    """One part of a formatted string: script_str(value), or `value` in a format spec (a
    printf one when it starts with %)."""
    if not spec:
        return script_str(value)
    if spec.startswith("%"):
        return spec % (script_str(value) if spec.endswith("s") else value)
    return format(value, spec)


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
