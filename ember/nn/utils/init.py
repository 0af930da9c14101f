"""skip_init: build a module without spending time on its parameters' initial values."""
from __future__ import annotations

import inspect

from ...autograd.grad_mode import no_grad
from ..modules.module import Module

__all__ = ["skip_init"]


def skip_init(module_cls, *args, **kwargs) -> Module:
    """`module_cls(*args, **kwargs)` whose parameter and buffer values are left unspecified,
    for code that sets them itself; the class must take a `device` argument.

    torch builds the module on its 'meta' device and allocates without initializing. ember has
    no meta device, so the module is built on the requested device (default 'cpu') as usual,
    outside autograd: its values are one choice of the unspecified ones.

    >>> import ember
    >>> tuple(ember.nn.utils.skip_init(ember.nn.Linear, 3, 2).weight.shape)
    (2, 3)
    """
    if not issubclass(module_cls, Module):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    kwargs.setdefault("device", "cpu")
    with no_grad():
        return module_cls(*args, **kwargs)
