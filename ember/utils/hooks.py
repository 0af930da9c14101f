"""ember.utils.hooks: the handle every `register_*_hook` call returns, and torch's helpers for
hooks that a checkpoint cannot keep.

    >>> import ember
    >>> from collections import OrderedDict
    >>> hooks = OrderedDict()
    >>> handle = ember.utils.hooks.RemovableHandle(hooks)
    >>> hooks[handle.id] = print
    >>> handle.remove()
    >>> len(hooks)
    0
"""
from __future__ import annotations

import itertools
import warnings

__all__ = ["RemovableHandle", "unserializable_hook", "warn_if_has_hooks"]


class RemovableHandle:
    """A hook's registration: the hook is stored under `handle.id` in `hooks_dict` (and in
    each of `extra_dict`); `remove()`, or leaving a `with handle:` block, takes it out."""

    __slots__ = ("_dicts", "id")
    _ids = itertools.count()

    def __init__(self, hooks_dict: dict, *, extra_dict=None):
        extra = () if extra_dict is None else (
            tuple(extra_dict) if isinstance(extra_dict, (list, tuple)) else (extra_dict,))
        self._dicts = (hooks_dict,) + extra
        self.id = next(RemovableHandle._ids)

    def hooks_dict_ref(self) -> dict:
        """The dict the hook was registered in."""
        return self._dicts[0]

    def remove(self) -> None:
        """Unregister the hook (a second call does nothing)."""
        for hooks in self._dicts:
            hooks.pop(self.id, None)

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def unserializable_hook(f):
    """Mark a tensor hook as one that is not meant to be saved, so warn_if_has_hooks (run when
    such a tensor is pickled) stays quiet about it."""
    f.__torch_unserializable__ = True
    return f


def _tensor_hooks(tensor) -> list:
    """The functions registered on `tensor` with register_hook, oldest first."""
    node = tensor.grad_fn
    if node is None:
        node, output_nr = tensor._accumulator, 0
    else:
        output_nr = tensor._output_nr
    from ..autograd.graph import PRE_HOOK_ORDER
    pre_hooks = getattr(node, "_pre_hooks", None) or {}
    tensor_rank = PRE_HOOK_ORDER.index("tensor")
    return [hook for rank, nr, hook in pre_hooks.values()
            if rank == tensor_rank and nr == output_nr]


def warn_if_has_hooks(tensor) -> None:
    """Warn about each backward hook on `tensor` that saving it will drop (all but those
    marked with @unserializable_hook)."""
    for hook in _tensor_hooks(tensor):
        if not getattr(hook, "__torch_unserializable__", False):
            warnings.warn(f"backward hook {hook} on tensor will not be serialized.  If this is "
                          "expected, you can decorate the function with "
                          "@torch.utils.hooks.unserializable_hook to suppress this warning",
                          stacklevel=2)
