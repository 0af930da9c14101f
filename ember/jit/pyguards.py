"""Guards on the Python state ember.compile's graphs read, and the side effects they cannot
replay.

A captured graph bakes in the numbers, strings and flags its capture read: a module's
`self.scale`, a closure's `eps`, a global `CAUSAL`, `cfg.dims[0]`. So each graph runs only while
those values still hold, and a call that finds one changed captures again (as torch.compile's
guards do). Module attributes, and attributes of plain objects (instances of user classes,
ember's optimizers and schedulers), are recorded as the capture reads them (`ModuleReads`,
`Watched._track`); closures and globals are those the code of the compiled function, of its
modules' methods and of the helpers they name, names; the containers reached (`Watched`)
must keep their contents, and names and attributes holding tensors, containers or objects
must keep their identity. Tensors found this way are graph inputs read live; the gradients
the code reads (`GradReads`) are fetched from their tensors at each call.

Assigning a plain value or a tensor to a module attribute inside captured code is a Python
side effect a graph cannot replay, so it breaks the graph instead. So does changing a
container or object the code can reach (`self.features.append(h)`, `LOG[step] = loss`,
`stats.calls += 1`), drawing from Python's or NumPy's random generators and advancing an
iterator: `Watched` keeps shallow copies from before the capture, and a capture that changed
one is used for its own call only (its code ran eagerly, side effects included) and not
replayed.
"""
from __future__ import annotations

import collections
import functools
import random
import threading
import types

import numpy as np

from .._dtype import dtype, finfo, iinfo
from .._device import device
from .._ops.random import Generator
from .._tensor import Tensor
from ..nn.modules.module import Module
from .aot import GraphBreak, user_location
from .tracer import is_plain

_MISSING = object()
_CHANGED = object()  # what a contents guard reads once its container changed


def _same(now, then) -> bool:
    """Whether a value still holds: plain values by equality, anything else (tensors,
    containers, objects) by identity."""
    return now is then or (is_plain(then) and type(now) is type(then) and now == then)


class Guards:
    """(label, read, value) entries: `failure()` says which value no longer holds, or None."""

    def __init__(self, entries: list):
        self.entries = entries

    def failure(self) -> str | None:
        for label, read, value in self.entries:
            now = read()
            if not _same(now, value):
                if now is _CHANGED:
                    return (f"{label} (a {type(value).__name__}) changed since the graph was "
                            "captured, which baked in what it read from it")
                if isinstance(value, Tensor):
                    gone = "is deleted" if now is _MISSING else "is another object now"
                    return f"{label}, a tensor the graph reads, {gone}"
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


def user_functions(roots) -> list:
    """`roots` and the Python functions outside ember they reach by name (globals, closure
    variables), transitively: the code a capture may run whose names guards and watches
    cover."""
    out, seen, todo = [], set(), [getattr(f, "__func__", f) for f in roots]
    while todo:
        fn = todo.pop()
        if id(fn) in seen or not hasattr(fn, "__code__"):
            continue
        seen.add(id(fn))
        out.append(fn)
        todo += [value for _, _, value, _ in names_of(fn) if _is_user_function(value)]
    return out


def methods_of(module: Module) -> list:
    """The functions a module's class defines outside ember (forward and its helpers)."""
    out = []
    for cls in type(module).__mro__:
        if _from_ember(cls):
            break
        out += [f for f in vars(cls).values() if isinstance(f, types.FunctionType)]
    return out


def _from_ember(obj) -> bool:
    return (getattr(obj, "__module__", None) or "").split(".")[0] == "ember"


def _is_user_function(value) -> bool:
    return isinstance(value, types.FunctionType) and not _from_ember(value)


def code_reads(functions) -> list:
    """Guard entries for the plain values, tensors, containers and objects that the closure
    variables and globals the functions' code names hold (all but plain values by identity:
    rebinding the name recompiles)."""
    entries, seen = [], set()
    for fn in functions:
        fn = getattr(fn, "__func__", fn)
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        entries += [(f"{fn.__qualname__}: {kind} {name}", read, value)
                    for kind, name, value, read in names_of(fn) if _guarded(value)]
    return entries


def _cell_value(cell):
    try:
        return cell.cell_contents
    except ValueError:
        return _MISSING


# ---- side effects on Python state -----------------------------------------------------------
_CONTAINERS = (list, dict, set, collections.deque, bytearray)
_OPAQUE = (Tensor, Module, type, types.ModuleType, types.FunctionType, types.MethodType,
           types.BuiltinFunctionType, functools.partial, dtype, device, finfo, iinfo, Generator)
_DEPTH = 2      # containers inside watched ones are watched this many levels down
_WIDE = 1000    # ... when they hold at most this many items (copies stay cheap)


def _guarded(value) -> bool:
    """Whether a name or attribute holding `value` gets a guard entry: plain values by
    equality, tensors, containers and objects by identity."""
    return is_plain(value) or isinstance(value, Tensor) or _watchable(value)


def _watchable(value) -> bool:
    """Python state a capture can change without the graph knowing: a container, a random
    generator or iterator, or an object with attributes of its own (a user's, or ember's
    optimizers, schedulers and data iterators), but not ember's value types or its random
    generators (graphs draw from those themselves)."""
    if isinstance(value, _CONTAINERS) or _hidden_state(value) is not None:
        return True
    return (not isinstance(value, _OPAQUE) and hasattr(value, "__dict__")
            and type(value).__module__ != "numpy")


def _hidden_state(value):
    """A comparable fingerprint of the state of a random generator (Python's, NumPy's) or an
    iterator (where Python exposes its position), which drawing or next() advances; None for
    other values."""
    if isinstance(value, random.Random):
        return _frozen(value.getstate())
    if isinstance(value, np.random.Generator):
        return _frozen(value.bit_generator.state)
    if isinstance(value, np.random.RandomState):
        return _frozen(value.get_state(legacy=False))
    if isinstance(value, types.GeneratorType):
        frame = value.gi_frame
        return ("done",) if frame is None else ("at", frame.f_lasti)
    if hasattr(type(value), "__next__") and not hasattr(value, "__dict__"):
        try:
            return _frozen(value.__reduce__()[1:])  # builtin iterators: their position
        except TypeError:
            return None
    return None


def _frozen(state):
    """state as nested tuples of plain values (arrays as bytes, other objects by id)."""
    if isinstance(state, dict):
        return tuple((k, _frozen(v)) for k, v in state.items())
    if isinstance(state, (tuple, list)):
        return tuple(_frozen(v) for v in state)
    if isinstance(state, np.ndarray):
        return (state.dtype.str, state.shape, state.tobytes())
    return state if is_plain(state) else ("id", id(state))


def _contents(value) -> list:
    """What a shallow copy of `value` holds: (key, item) pairs."""
    hidden = _hidden_state(value)
    if hidden is not None:
        return [("state", hidden)]
    if isinstance(value, dict):
        return list(value.items())
    if isinstance(value, (list, collections.deque, bytearray)):
        return list(enumerate(value))
    if isinstance(value, set):
        return [(None, v) for v in value]
    return list(vars(value).items())


def _unchanged(value, then: list) -> bool:
    now = _contents(value)
    if len(now) != len(then):
        return False
    if isinstance(value, set):
        return all(v in value for _, v in then)
    return all(a == b and _same(x, y) for (a, x), (b, y) in zip(now, then))


def _contents_now(value, contents: list):
    """value while it holds `contents`, else _CHANGED (a guard's reading)."""
    return value if _unchanged(value, contents) else _CHANGED


def _item(container, key):
    """container's item or attribute `key` now (_MISSING once gone)."""
    if isinstance(container, dict):
        return container.get(key, _MISSING)
    if isinstance(container, (list, collections.deque, bytearray)):
        return container[key] if key < len(container) else _MISSING
    return vars(container).get(key, _MISSING)


class Watched:
    """Shallow copies of the Python state a capture can reach (module attributes it reads,
    globals and closure variables its code names, its arguments), taken before the code could
    change them; `changed()` names one that differs afterwards, or gives None. The tensors met
    on the way existed before the capture: the graph reads them live, behind `entries`."""

    def __init__(self):
        self.copies: dict = {}
        self.tensors: dict = {}  # id -> tensor: the tensors found, which the graph reads live
        self.entries: list = []  # guards: tensors inside containers, by identity
        self.thread = threading.get_ident()
        self._classes: dict = {}  # class -> its own __getattribute__ (None: inherited)
        self._read: set = set()
        self._whole: set = set()  # ids of objects whose reads cannot be tracked

    def watch(self, label: str, value, depth: int = 0, read=None) -> None:
        owner = getattr(value, "__self__", None)
        if isinstance(value, (types.MethodType, types.BuiltinMethodType)) and \
                owner is not None and not isinstance(owner, types.ModuleType):
            value, label = owner, f"the object of {label}"  # a bound method: its object
        if isinstance(value, Tensor):
            self.tensors[id(value)] = value
            if read is not None:
                self.entries.append((label, read, value))
            return
        if depth > _DEPTH or id(value) in self.copies or not _watchable(value):
            return
        contents = _contents(value)
        self.copies[id(value)] = (label, value, contents)
        if not isinstance(value, _CONTAINERS) and _hidden_state(value) is None and \
                not self._track(type(value)):
            self._whole.add(id(value))
        if len(contents) <= _WIDE:
            for key, item in contents:
                sub = f"{label}.{key}" if isinstance(key, str) and not isinstance(
                    value, dict) else f"{label}[{'...' if key is None else repr(key)}]"
                item_now = None if key is None else functools.partial(_item, value, key)
                self.watch(sub, item, depth + 1, item_now)

    def guards(self) -> list:
        """Guard entries for the containers watched (and objects whose attribute reads could
        not be tracked): each must hold what it held at the capture (the graph baked in the
        numbers and sizes it read from them)."""
        return [(label, functools.partial(_contents_now, value, contents), value)
                for label, value, contents in self.copies.values()
                if isinstance(value, _CONTAINERS) or id(value) in self._whole]

    def _track(self, cls) -> bool:
        """Record, as guard entries, the attributes the capture reads from watched objects of
        class `cls`, as ModuleReads does for modules; False where the class cannot be
        changed."""
        if cls in self._classes:
            return True
        own = cls.__dict__.get("__getattribute__")
        inherited = cls.__getattribute__
        watched = self

        def getattribute(obj, name):
            value = inherited(obj, name)
            if threading.get_ident() == watched.thread and id(obj) in watched.copies:
                watched._attribute_read(obj, name, value)
            return value
        try:
            cls.__getattribute__ = getattribute
        except TypeError:
            return False
        self._classes[cls] = own
        return True

    def _attribute_read(self, obj, name: str, value) -> None:
        key = (id(obj), name)
        if key in self._read or name not in object.__getattribute__(obj, "__dict__"):
            return
        self._read.add(key)
        label = f"{self.copies[id(obj)][0]}.{name}"
        if _guarded(value):
            self.entries.append((label, functools.partial(_item, obj, name), value))
        self.watch(label, value)

    def restore(self) -> None:
        """Give the classes _track changed their own attribute lookup back."""
        for cls, own in self._classes.items():
            if own is None:
                del cls.__getattribute__
            else:
                cls.__getattribute__ = own
        self._classes.clear()

    def watch_process_state(self) -> None:
        """Watch the global random generators of Python and NumPy (random.random(),
        np.random.rand() inside compiled code draw from them)."""
        self.watch("Python's global random generator (random)", random._inst)
        self.watch("NumPy's global random generator (np.random)", np.random.mtrand._rand)

    def changed(self) -> str | None:
        for label, value, contents in self.copies.values():
            if not _unchanged(value, contents):
                how = "advanced" if _hidden_state(value) is not None else "changed"
                return (f"{label} (a {type(value).__name__}) is {how} inside the compiled "
                        "code, a Python side effect a graph cannot replay (it would happen "
                        "only when capturing); keep it out of the compiled code, or pass "
                        "its values in and return what you store")
        return None


class ModuleReads:
    """While active, records the plain values read from module attributes (their first value
    in this capture), watches the containers and objects read from them (`watched`), and turns
    the assignment of a new plain value or tensor to one into a GraphBreak, in the capturing
    thread only. `training` is left out: the guard key holds every module's flag."""

    def __enter__(self):
        self.entries: list = []
        self.watched = Watched()
        seen: set = set()
        entries, watch = self.entries, self.watched.watch
        thread = threading.get_ident()  # other threads' modules are not this capture's

        def getattribute(module, name):
            value = object.__getattribute__(module, name)
            if name == "_modules" and threading.get_ident() == thread:
                key = (id(module), name)
                if key not in seen:  # the submodules: `net[2] = head` must capture again
                    seen.add(key)
                    entries.append((f"the submodules of {type(module).__name__}",
                                    functools.partial(_children_now, value, list(value.items())),
                                    value))
            elif name != "training" and name not in _MODULE_INTERNALS \
                    and threading.get_ident() == thread \
                    and name in object.__getattribute__(module, "__dict__"):
                if _guarded(value):
                    key = (id(module), name)
                    if key not in seen:
                        seen.add(key)
                        entries.append((f"{type(module).__name__}.{name}",
                                        functools.partial(_attribute, module, name), value))
                watch(f"{type(module).__name__}.{name}", value)
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
                if not is_plain(value) and not isinstance(value, (Tensor, Module)) and \
                        value is not now:
                    raise GraphBreak(f"{type(module).__name__}.{name} is assigned a "
                                     f"{type(value).__name__} inside the compiled code (state "
                                     "carried to the next call?), a side effect a graph cannot "
                                     "replay; return it and pass it back in instead",
                                     user_location())
            _module_setattr(module, name, value)

        def getattr_(module, name):
            value = _module_getattr(module, name)  # a parameter, buffer or submodule
            if threading.get_ident() == thread and (id(module), name) not in seen:
                seen.add((id(module), name))
                entries.append((f"{type(module).__name__}.{name}",
                                functools.partial(_attribute, module, name), value))
            return value

        Module.__getattribute__ = getattribute
        Module.__getattr__ = getattr_
        Module.__setattr__ = setattr_
        return self

    def __exit__(self, *exc):
        del Module.__getattribute__
        Module.__getattr__ = _module_getattr
        Module.__setattr__ = _module_setattr
        self.watched.restore()
        return False


_module_setattr = Module.__setattr__
_module_getattr = Module.__getattr__


class GradReads:
    """While active, the `.grad` attributes the capturing thread reads become graph inputs
    fetched from their tensors at every call, and setting one breaks the graph.

    Every backward pass leaves a new gradient tensor (zero_grad sets it to None), so a graph
    that baked in the one met while capturing (gradient clipping, a hand-written update)
    would keep using it. Each `.grad` read is guarded instead: still None, or still a tensor
    of the same dtype, shape and device. `foreign` is the capture's map of tensors it lifts
    to graph inputs; the gradients read join it."""

    def __init__(self, foreign: dict):
        self.foreign = foreign
        self.owners: dict = {}  # id(gradient) -> the tensor whose .grad it is
        self.entries: list = []  # guards: the dtype, shape and device of each .grad read
        self.thread = threading.get_ident()

    def __enter__(self):
        reads, seen = self, set()
        self.saved = Tensor.__dict__["grad"]

        def get(t):
            g = t.__dict__.get("grad")
            if threading.get_ident() == reads.thread:
                if id(t) not in seen:
                    seen.add(id(t))
                    reads.entries.append((f"the .grad of a tensor of shape {list(t.shape)}",
                                          functools.partial(_grad_meta, t), _grad_meta(t)))
                if g is not None:
                    reads.foreign[id(g)] = g
                    reads.owners[id(g)] = t
            return g

        def refuse():
            if threading.get_ident() == reads.thread:
                raise GraphBreak(".grad is set inside the compiled code (zero_grad?), a side "
                                 "effect a graph cannot replay; set gradients outside it",
                                 user_location())

        def put(t, value):
            refuse()
            t.__dict__["grad"] = value

        def drop(t):
            refuse()
            t.__dict__.pop("grad", None)
        Tensor.grad = property(get, put, drop)
        return self

    def __exit__(self, *exc):
        Tensor.grad = self.saved
        return False

    def reader(self, lifted: Tensor):
        """What gives a lifted tensor at each call: its owner's .grad now for a gradient, the
        tensor itself otherwise."""
        owner = self.owners.get(id(lifted))
        if owner is None:
            return functools.partial(_itself, lifted)
        return functools.partial(_grad_now, owner)


def _itself(t: Tensor) -> Tensor:
    return t


def _grad_now(owner: Tensor) -> Tensor:
    return owner.__dict__["grad"]


def _grad_meta(t: Tensor):
    """(dtype, shape, device) of t's .grad as plain values, or None without one."""
    g = t.__dict__.get("grad")
    return None if g is None else (str(g.dtype), tuple(g.shape), str(g.device))
_MODULE_INTERNALS = frozenset(vars(Module()))  # parameter and hook dicts, ...


def _children_now(children: dict, then: list):
    """A module's dict of submodules while it holds the modules it held, else _CHANGED."""
    now = list(children.items())
    same = len(now) == len(then) and all(
        a == b and x is y for (a, x), (b, y) in zip(now, then))
    return children if same else _CHANGED


def _attribute(module, name):
    """The module's own attribute, buffer, parameter or submodule `name` (without running
    hooks)."""
    d = module.__dict__
    for store in (d.get("_buffers"), d.get("_parameters"), d.get("_modules")):
        if store is not None and name in store:
            return store[name]
    return d.get(name, _MISSING)
