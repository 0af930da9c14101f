"""functional_call (torch.nn.utils.stateless / torch.func): run a module with some of its
parameters and buffers replaced by given tensors, for this call only."""
from __future__ import annotations

import contextlib

from ..._tensor import Tensor

__all__ = ["functional_call"]


def _owner(module, name: str):
    """(submodule, attribute) for a dotted parameter or buffer name."""
    *path, attr = name.split(".")
    for part in path:
        module = getattr(module, part)
    return module, attr


@contextlib.contextmanager
def _swapped(module, tensors: dict, strict: bool):
    expected = dict(module.named_parameters(remove_duplicate=False))
    expected.update(dict(module.named_buffers(remove_duplicate=False)))
    unknown = sorted(set(tensors) - set(expected))
    if strict and set(tensors) != set(expected):  # not strict: other names are ignored
        missing = sorted(set(expected) - set(tensors))
        raise RuntimeError(f"Error(s) in reparametrizing for {type(module).__name__}:\n\t"
                           + (f"Unexpected key(s): {', '.join(map(repr, unknown))}." if unknown
                              else "") + (f"Missing key(s): {', '.join(map(repr, missing))}."
                                          if missing else ""))
    saved = []
    try:
        for name, value in tensors.items():
            if name in unknown:
                continue
            owner, attr = _owner(module, name)
            store = owner._parameters if attr in owner._parameters else owner._buffers
            saved.append((store, attr, store[attr]))
            store[attr] = value
        yield
    finally:
        for store, attr, value in reversed(saved):
            store[attr] = value


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                    tie_weights: bool = True, strict: bool = False):
    """module(*args, **kwargs) with the named parameters and buffers replaced by the given
    tensors (one dict, or a sequence of dicts with distinct keys) for this call; the module
    itself is unchanged afterwards. Gradients flow to the given tensors.

    >>> import ember
    >>> net = ember.nn.Linear(2, 1, bias=False)
    >>> ember.func.functional_call(net, {"weight": ember.ones(1, 2)}, (ember.ones(1, 2),))
    tensor([[2.]])
    """
    if isinstance(parameter_and_buffer_dicts, dict):
        tensors = dict(parameter_and_buffer_dicts)
    else:
        tensors = {}
        for d in parameter_and_buffer_dicts:
            repeated = set(tensors) & set(d)
            if repeated:
                raise ValueError(f"{sorted(repeated)} appeared in multiple dictionaries; "
                                 "behavior of functional call is ambiguous")
            tensors.update(d)
    if not all(isinstance(v, Tensor) for v in tensors.values()):
        raise TypeError("functional_call: every replacement must be a Tensor")
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    with _swapped(module, tensors, strict):
        return module(*args, **(kwargs or {}))
