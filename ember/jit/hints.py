"""The typing helpers TorchScript code calls: annotate, Attribute, Final, isinstance,
interface, fork and wait.

They exist so code written for torch.jit runs unchanged. ember.jit.script evaluates them while
compiling, as it does any Python call on values known at compile time, so their eager meaning
is the scripted one: annotate and Attribute give their value back, isinstance checks a value
against a type that may be a typing generic (List[int], Dict[str, Tensor], Optional[...]), and
fork runs its function at once (its Future is already done), as torch's does outside
TorchScript.
"""
from __future__ import annotations

import builtins
import types
import typing

Final = typing.Final


def annotate(the_type, the_value):
    """`the_value`, declared to be of `the_type` (for empty containers and Optionals)."""
    return the_value


def Attribute(value, type):  # noqa: N802 - torch's name
    """`value`, declared as a module attribute of `type` (use in __init__)."""
    return value


def interface(cls):
    """Mark a class as a module interface type; ember's script resolves calls through it
    dynamically, so the class is returned as it is."""
    return cls


def isinstance(obj, target_type) -> bool:  # noqa: A001 - torch's name
    """Whether `obj` is of `target_type`, which may be a typing generic: List[int], Tuple[int,
    str], Dict[str, Tensor], Optional[Tensor], Union[...]. Containers are checked element by
    element; an empty list or dict fits any element type."""
    origin = typing.get_origin(target_type)
    args = typing.get_args(target_type)
    if target_type is typing.Any:
        return True
    if target_type is None or target_type is type(None):
        return obj is None
    if origin is None:
        return builtins.isinstance(obj, target_type)
    if origin in (typing.Union, types.UnionType):
        return any(isinstance(obj, a) for a in args)
    if origin is list:
        return builtins.isinstance(obj, list) and (not args or all(
            isinstance(v, args[0]) for v in obj))
    if origin is tuple:
        if not builtins.isinstance(obj, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(isinstance(v, args[0]) for v in obj)
        return not args or len(args) == len(obj) and all(
            isinstance(v, a) for v, a in zip(obj, args))
    if origin is dict:
        return builtins.isinstance(obj, dict) and (not args or all(
            isinstance(k, args[0]) and isinstance(v, args[1]) for k, v in obj.items()))
    return builtins.isinstance(obj, origin)


class Future:
    """The result of `fork`: already computed (ember runs forked calls at once)."""

    def __init__(self, value):
        self._value = value

    def wait(self):
        return self._value

    def done(self) -> bool:
        return True

    def value(self):
        return self._value


def fork(func, *args, **kwargs) -> Future:
    """Call func(*args, **kwargs) and return its Future (torch runs it asynchronously only
    inside TorchScript; the results are the same)."""
    return Future(func(*args, **kwargs))


def wait(future: Future):
    """The value of a Future from `fork`."""
    return future.wait()
