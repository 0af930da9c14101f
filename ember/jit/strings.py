"""Strings in scripted code whose parts are computed from tensors (f-strings, str.format, %
formatting and str() of numbers or tensors known only at run time): a template filled on
each call, as TorchScript evaluates them, instead of text baked in while compiling.

A raise's or assert's message becomes the template of the Assert op (the parts are its extra
inputs); a returned string is an output leaf ["str", template, formats] that the caller gets
back as the rendered text (tracer.unflatten).
"""
from __future__ import annotations

import re
import string

from .._ops.checks import render, show

# printf-style conversions: %(name)flags width .precision type
_PERCENT = re.compile(r"%(?:\((?P<key>[^)]*)\))?(?P<spec>[-#0 +]*(?:\d+)?(?:\.\d+)?)"
                      r"(?P<type>[diouxXeEfFgGcrsa%])")


class RuntimeStr:
    """A string known only at run time: `template` in str.format syntax with one {} per leaf
    (the tensors holding the parts), and per leaf [kind, spec] for render()."""

    def __init__(self, template: str, leaves: list, formats: list):
        self.template, self.leaves, self.formats = template, leaves, formats

    def now(self) -> str:
        """The text for the values the leaves hold now (a compile-time call that surely
        raises shows its own values)."""
        return render(self.template, self.formats, self.leaves)


class StrBuilder:
    """Joins literal text, values known while compiling and run-time parts into a str (when
    no part is a run-time one) or a RuntimeStr. `leaf(value)` gives (tensor, kind) for a
    run-time value, None for a value known while compiling."""

    def __init__(self, leaf):
        self.leaf = leaf
        self.template: list[str] = []
        self.leaves: list = []
        self.formats: list = []

    def text(self, s: str) -> None:
        self.template.append(s.replace("{", "{{").replace("}", "}}"))

    def add(self, value, spec: str = "", conversion: str | None = None) -> None:
        """One formatted part; `spec` is a format spec, or a printf one starting with %."""
        if isinstance(value, RuntimeStr):
            if spec or conversion not in (None, "s"):
                raise TypeError("a string computed from tensors cannot take a format spec")
            self.template.append(value.template)
            self.leaves += value.leaves
            self.formats += value.formats
            return
        if type(value) in (tuple, list) and not spec and any(
                isinstance(v, RuntimeStr) or self.leaf(v) is not None for v in value):
            self.text("(" if type(value) is tuple else "[")
            for k, item in enumerate(value):
                self.text(", " if k else "")
                self.add(item)
            self.text(",)" if len(value) == 1 and type(value) is tuple else
                      ")" if type(value) is tuple else "]")
            return
        found = self.leaf(value)
        if found is None:
            if conversion in ("r", "a"):
                value = repr(value)
            self.text(show(value, spec))
            return
        tensor, kind = found
        self.template.append("{}")
        self.leaves.append(tensor)
        self.formats.append([kind, spec])

    def result(self) -> str | RuntimeStr:
        template = "".join(self.template)
        if not self.leaves:
            return template.format()
        return RuntimeStr(template, self.leaves, self.formats)


def format_call(builder: StrBuilder, fmt: str, args, kwargs) -> str | RuntimeStr:
    """`fmt.format(*args, **kwargs)` with run-time parts among the arguments."""
    formatter = string.Formatter()
    auto = 0
    for literal, field, spec, conversion in formatter.parse(fmt):
        builder.text(literal)
        if field is None:
            continue
        if field == "" or field[0] in ".[":
            field = f"{auto}{field}"
            auto += 1
        value, _ = formatter.get_field(field, args, kwargs)
        builder.add(value, spec or "", conversion)
    return builder.result()


def percent(builder: StrBuilder, fmt: str, args) -> str | RuntimeStr:
    """`fmt % args` (a tuple, a dict for %(name)s, or one value) with run-time parts."""
    values = iter(args if type(args) is tuple else (args,))
    at = 0
    for m in _PERCENT.finditer(fmt):
        builder.text(fmt[at:m.start()])
        at = m.end()
        kind, key = m.group("type"), m.group("key")
        if kind == "%":
            builder.text("%")
            continue
        try:
            value = args[key] if key is not None else next(values)
        except StopIteration:
            raise TypeError("not enough arguments for format string") from None
        if kind in "ra":
            builder.add(value, "", "r")
        else:
            builder.add(value, "" if m.group(0) == "%s" else "%" + m.group("spec") + kind)
    builder.text(fmt[at:])
    if type(args) is tuple and next(values, builder) is not builder:
        raise TypeError("not all arguments converted during string formatting")
    return builder.result()


def as_text(builder: StrBuilder, value) -> str | RuntimeStr:
    """str(value), a run-time part staying one."""
    builder.add(value)
    return builder.result()


def concat(builder: StrBuilder, a, b) -> str | RuntimeStr:
    """a + b for strings, either of them known only at run time."""
    builder.add(a)
    builder.add(b)
    return builder.result()



def joined(builder: StrBuilder, values, sep: str) -> str | RuntimeStr:
    """`sep.join(str(v) for v in values)` (print's text), run-time parts staying so."""
    for k, value in enumerate(values):
        if k:
            builder.text(sep)
        builder.add(value)
    return builder.result()
