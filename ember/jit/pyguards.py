"""Guards on plain Python values for ember.compile.

A captured graph bakes in the numbers, strings and flags its capture read: a module's
`self.scale`, a closure's `eps`, a global `CAUSAL`. So each graph runs only while those values
still hold, and a call that finds one changed captures again (as torch.compile's guards do).
Module attributes are recorded as the capture reads them (`ModuleReads`); closures and globals
are those the code of the compiled function, and of the forwards of its modules, names.
Assigning a plain value or a tensor to a module attribute inside captured code is a Python
side effect a graph cannot replay, so it breaks the graph instead.
"""
from __future__ import annotations

import functools
import threading

from .._tensor import Tensor
from ..nn.modules.module import Module
from .aot import GraphBreak, user_location
from .tracer import is_plain

_MISSING = object()


def _same(now, then) -> bool:
    return now is then or (type(now) is type(then) and now == then)


class Guards:
    """(label, read, value) entries: `failure()` says which value no longer holds, or None."""

    def __init__(self, entries: list):
        self.entries = entries

    def failure(self) -> str | None:
        for label, read, value in self.entries:
            now = read()
            if not _same(now, value):
                shown = "deleted" if now is _MISSING else repr(now)
                return f"{label} changed ({value!r} -> {shown}), a value the graph baked in"
        return None


def names_of(fn) -> list:
    """(kind, name, value, read) for each closure variable and global a function's code names
    ("closure variable" or "global"; read() gives the current value, _MISSING once gone)."""
    fn = getattr(fn, "__func__", fn)
    code = getattr(fn, "__code__", None)
    if code is None:
        return []
    out = []
    for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
        read = functools.partial(_cell_value, cell)
        out.append(("closure variable", name, read(), read))
    names = fn.__globals__
    for name in code.co_names:
        if name in names and not name.startswith("__"):  # not __name__ and the like
            read = functools.partial(names.get, name, _MISSING)
            out.append(("global", name, read(), read))
    return out


def code_reads(functions) -> list:
    """Guard entries for the plain closure values and globals the functions' code names."""
    entries, seen = [], set()
    for fn in functions:
        fn = getattr(fn, "__func__", fn)
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        entries += [(f"{fn.__qualname__}: {kind} {name}", read, value)
                    for kind, name, value, read in names_of(fn) if is_plain(value)]
    return entries


def _cell_value(cell):
    try:
        return cell.cell_contents
    except ValueError:
        return _MISSING


class ModuleReads:
    """While active, records the plain values read from module attributes (their first value
    in this capture) and turns the assignment of a new plain value or tensor to one into a
    GraphBreak, in the capturing thread only. `training` is left out: the guard key holds
    every module's flag."""

    def __enter__(self):
        self.entries: list = []
        seen: set = set()
        entries = self.entries
        thread = threading.get_ident()  # other threads' modules are not this capture's

        def getattribute(module, name):
            value = object.__getattribute__(module, name)
            if name != "training" and is_plain(value) and threading.get_ident() == thread \
                    and name in object.__getattribute__(module, "__dict__"):
                key = (id(module), name)
                if key not in seen:
                    seen.add(key)
                    entries.append((f"{type(module).__name__}.{name}",
                                    functools.partial(_attribute, module, name), value))
            return value

        def setattr_(module, name, value):
            if name != "training" and threading.get_ident() == thread:
                now = _attribute(module, name)
                if is_plain(value) and not _same(now, value):
                    raise GraphBreak(f"{type(module).__name__}.{name} is assigned a Python "
                                     "value inside the compiled code, a side effect a graph "
                                     "cannot replay; keep it out of forward or make it a "
                                     "buffer", user_location())
                if isinstance(value, Tensor) and value is not now:
                    raise GraphBreak(f"{type(module).__name__}.{name} is assigned a tensor "
                                     "inside the compiled code, which a graph cannot replay; "
                                     "update it in place (copy_) or keep it out of forward",
                                     user_location())
            _module_setattr(module, name, value)

        Module.__getattribute__ = getattribute
        Module.__setattr__ = setattr_
        return self

    def __exit__(self, *exc):
        del Module.__getattribute__
        Module.__setattr__ = _module_setattr
        return False


_module_setattr = Module.__setattr__


def _attribute(module, name):
    """The module's own attribute, buffer or parameter `name` (without running hooks)."""
    d = module.__dict__
    for store in (d.get("_buffers"), d.get("_parameters")):
        if store is not None and name in store:
            return store[name]
    return d.get(name, _MISSING)
