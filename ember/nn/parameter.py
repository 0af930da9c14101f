"""Parameter and Buffer: tensors a Module registers by assignment."""
from __future__ import annotations

from .._tensor import Tensor


class Parameter(Tensor):
    """A Tensor that is a module parameter: assigning one to a Module attribute registers it.

    >>> import ember
    >>> p = ember.nn.Parameter(ember.zeros(2))
    >>> p
    Parameter containing:
    tensor([0., 0.], requires_grad=True)
    """

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True):
        if data is None:
            from .._ops.creation import empty
            data = empty(0)
        t = object.__new__(cls)
        t._init(data._data, data._dtype, data._device)
        t._vbox = data._vbox
        if requires_grad:
            t.requires_grad_(True)
        return t

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True):
        pass

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (Tensor._wrap(self._data, self._dtype, self._device),
                                     self._requires_grad))

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        copy = Parameter(Tensor._wrap(self._data.copy(), self._dtype, self._device),
                         self._requires_grad)
        memo[id(self)] = copy
        return copy


def _rebuild_parameter(data, requires_grad):
    return Parameter(data, requires_grad)


class Buffer(Tensor):
    """Marks a tensor to be registered as a module buffer (`persistent` controls state_dict)."""

    def __new__(cls, data: Tensor | None = None, *, persistent: bool = True):
        if data is None:
            from .._ops.creation import empty
            data = empty(0)
        t = object.__new__(cls)
        t._init(data._data, data._dtype, data._device)
        t._vbox = data._vbox
        t.persistent = persistent
        return t

    def __init__(self, data=None, *, persistent: bool = True):
        pass


class _UninitializedTensor:
    """Mixin of tensors whose shape is not known yet: Lazy modules `materialize` them on their
    first call, after which they become `cls_to_become`."""

    cls_to_become = None

    def materialize(self, shape, device=None, dtype=None) -> None:
        """Give the tensor storage of `shape` (values set by the module's reset_parameters)."""
        from .._ops.creation import empty
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        data = empty(*shape, device=device or self._device, dtype=dtype or self._dtype)
        self._data = data._data
        self._dtype = data._dtype
        self._device = data._device
        self.__class__ = self.cls_to_become

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class UninitializedParameter(_UninitializedTensor, Parameter):
    """A parameter whose shape is not known yet (Lazy modules materialize it on first call)."""

    cls_to_become = Parameter

    def __new__(cls, requires_grad: bool = True, device=None, dtype=None):
        from .._ops.creation import empty
        return Parameter.__new__(cls, empty(0, device=device, dtype=dtype), requires_grad)

    def __init__(self, requires_grad: bool = True, device=None, dtype=None):
        pass


class UninitializedBuffer(_UninitializedTensor, Buffer):
    """A buffer whose shape is not known yet: Lazy modules materialize it on first call, into
    a plain Tensor.

    >>> import ember
    >>> b = ember.nn.UninitializedBuffer()
    >>> b.materialize((2, 3))
    >>> type(b).__name__, tuple(b.shape)
    ('Tensor', (2, 3))
    """

    cls_to_become = Tensor

    def __new__(cls, requires_grad: bool = False, device=None, dtype=None,
                persistent: bool = True):
        from .._ops.creation import empty
        t = Buffer.__new__(cls, empty(0, device=device, dtype=dtype), persistent=persistent)
        if requires_grad:
            t.requires_grad_(True)
        return t

    def __init__(self, requires_grad: bool = False, device=None, dtype=None,
                 persistent: bool = True):
        pass


def is_lazy(param) -> bool:
    """Whether `param` is a parameter or buffer still waiting for its shape."""
    return isinstance(param, _UninitializedTensor)
