"""Tensor: an array with a dtype and device, plus autograd metadata. Math methods come from the
op families in ember/_ops, which attach themselves to this class."""
from __future__ import annotations

import copy

import numpy as np

from . import _dtype as D
from ._backend import device_of, move, to_numpy
from ._device import CPU, to_device
from .autograd.grad_mode import GradState
from .autograd.graph import AccumulateGrad


class Tensor:
    """A multi-dimensional array that records operations for automatic differentiation.

    >>> import ember
    >>> x = ember.tensor([[1., 2.], [3., 4.]], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    tensor([[2., 4.],
            [6., 8.]])
    """

    __slots__ = ("_data", "_dtype", "_device", "_requires_grad", "_grad_fn", "_output_nr",
                 "_vbox", "_base", "_view_chain", "__dict__", "__weakref__")

    # Rarely-set attributes live in the instance __dict__ with these class-level defaults, so the
    # hot path (op outputs) never pays for them.
    grad = None
    _accumulator = None
    _retains_grad = False
    _inference = False
    # A detached view keeps no autograd base, but shares its storage with this tensor (for
    # storage_offset).
    _storage_base = None
    # In-place writes that change a base's history bump its epoch; a view made at an older
    # epoch re-derives its grad_fn from the base before it is used (see dispatch.refresh_view).
    _graph_epoch = 0
    _view_epoch = 0
    _post_accumulate_grad_hooks = None  # {handle id: hook} once one is registered
    __array_priority__ = 1000

    def __new__(cls, *args, device=None, dtype=None):
        """Legacy constructor: `Tensor(2, 3)` (uninitialized floats) or `Tensor([1, 2])`."""
        dt = D.to_dtype(dtype) if dtype is not None else D.get_default_dtype()
        if len(args) == 1 and not isinstance(args[0], int):
            data = np.asarray(args[0].numpy() if isinstance(args[0], Tensor) else args[0],
                              dtype=dt.np)
        else:
            shape = args[0] if len(args) == 1 and isinstance(args[0], tuple) else args
            data = np.empty(tuple(shape), dtype=dt.np)
        t = object.__new__(cls)
        t._init(move(data, to_device(device)), dt, to_device(device))
        return t

    def _init(self, data, dtype, device, requires_grad=False):
        self._data = data
        self._dtype = dtype
        self._device = device
        self._requires_grad = requires_grad
        self._grad_fn = None
        self._output_nr = 0
        self._vbox = [0]
        self._base = None
        self._view_chain = ()

    @classmethod
    def _wrap(cls, data, dtype, device):
        t = object.__new__(Tensor)
        t._init(data, dtype, device)
        return t

    @staticmethod
    def _wrap_array(data):
        """Wrap a raw array; its dtype and device are read off the array."""
        t = object.__new__(Tensor)
        if not hasattr(data, "shape") or isinstance(data, np.generic):
            data = np.asarray(data)
        t._init(data, D.from_numpy_dtype(data.dtype), device_of(data))
        return t

    @staticmethod
    def _zeros(shape, dtype, device):
        """Zeros made by the `full` op, so a compile capture records them as an op that a
        dynamic graph sizes at each call (backward formulas build their buffers here)."""
        from ._ops.creation import _filled
        return _filled(shape, 0, dtype, device, False)

    # ---- basic properties -------------------------------------------------------------
    @property
    def shape(self) -> "Size":
        return Size(self._data.shape)

    def size(self, dim: int | None = None):
        """The shape, or the length of one dimension."""
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_dim(dim, self._data.ndim)]

    @property
    def dtype(self) -> D.dtype:
        return self._dtype

    @property
    def device(self):
        return self._device

    @property
    def is_cuda(self) -> bool:
        return self._device.type == "cuda"

    @property
    def is_cpu(self) -> bool:
        return self._device.type == "cpu"

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    ndimension = dim

    def numel(self) -> int:
        return int(self._data.size)

    nelement = numel

    def element_size(self) -> int:
        return self._dtype.itemsize

    @property
    def itemsize(self) -> int:
        return self._dtype.itemsize

    @property
    def nbytes(self) -> int:
        return self._dtype.itemsize * int(self._data.size)

    def stride(self, dim: int | None = None):
        """Strides in elements, like torch."""
        strides = tuple(s // self._dtype.itemsize for s in self._data.strides)
        return strides if dim is None else strides[_dim(dim, self._data.ndim)]

    def storage_offset(self) -> int:
        base = self._base if self._base is not None else self._storage_base
        if base is None:
            return 0
        diff = (self._data.__array_interface__["data"][0]
                - base._data.__array_interface__["data"][0])
        return diff // self._dtype.itemsize + base.storage_offset()

    def data_ptr(self) -> int:
        if isinstance(self._data, np.ndarray):
            return self._data.__array_interface__["data"][0]
        return self._data.data.ptr

    def is_contiguous(self, memory_format=None) -> bool:
        """Whether the elements lie in memory in C order, or, for memory_format
        channels_last(_3d), in that layout's order (False for a tensor of another rank)."""
        if memory_format is None or memory_format.rank is None:
            return bool(self._data.flags.c_contiguous)
        if self._data.ndim != memory_format.rank:
            return False
        return bool(self._data.transpose(memory_format.axis_order()).flags.c_contiguous)

    def is_floating_point(self) -> bool:
        return self._dtype.category == D._FLOAT

    def is_complex(self) -> bool:
        return self._dtype.category == D._COMPLEX

    def is_inference(self) -> bool:
        return self._inference

    @property
    def _version(self) -> int:
        return self._vbox[0]

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __hash__(self) -> int:
        return id(self)

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with more than one value is ambiguous "
                               f"(shape {list(self.shape)}); use .any() or .all()")
        return bool(self._data.reshape(()))

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __complex__(self) -> complex:
        return complex(self.item())

    def __index__(self) -> int:
        if self._dtype.category != D._INT or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an "
                            "index")
        return int(self.item())

    def __array__(self, dtype=None, copy=None):
        arr = self.numpy(force=True)
        return arr if dtype is None else arr.astype(dtype)

    # ---- conversion -------------------------------------------------------------------
    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The data as a NumPy array sharing memory (CPU tensors that need no grad, or any
        CPU tensor while grad mode is off, as in torch)."""
        if self._requires_grad and not force and GradState.enabled:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        if self._device.type != "cpu" and not force:
            raise TypeError(f"can't convert {self._device} device type tensor to numpy. Use "
                            "Tensor.cpu() to copy the tensor to host memory first.")
        return to_numpy(self._data)

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted "
                               "to Scalar")
        value = to_numpy(self._data).reshape(()).item()
        return float(value) if self._dtype is D.bfloat16 else value

    def tolist(self):
        """The data as (nested) Python lists of numbers."""
        arr = to_numpy(self._data)
        if self._dtype is D.bfloat16:
            arr = arr.astype(np.float32)
        return arr.tolist()

    def to(self, *args, **kwargs) -> "Tensor":
        """Convert dtype and/or device: `to(dtype)`, `to(device)`, `to(device, dtype)`,
        `to(other)`, and lay the result out as `memory_format` asks; returns self when nothing
        changes (unless copy=True)."""
        dtype = kwargs.pop("dtype", None)
        device = kwargs.pop("device", None)
        copy = kwargs.pop("copy", False)
        kwargs.pop("non_blocking", None)
        layout = kwargs.pop("memory_format", None)
        if kwargs:
            raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                dtype, device = a._dtype, a._device
            elif isinstance(a, D.dtype) or a in (float, int, bool):
                dtype = D.to_dtype(a)
            elif a is not None:
                device = a
        dtype = D.to_dtype(dtype) if dtype is not None else self._dtype
        device = to_device(device) if device is not None else self._device
        from ._ops.dispatch import apply
        from ._ops.shape import Convert, preserve_format
        out = self
        if dtype is not self._dtype or device != self._device or copy:
            out = apply(Convert, self, dtype=dtype, device=device)
        if layout is None or layout is preserve_format:
            return out
        return out.contiguous(memory_format=layout)

    def _to_device(self, dev) -> "Tensor":
        return self.to(dev)

    def cpu(self) -> "Tensor":
        return self.to(CPU)

    def cuda(self, device=None, non_blocking: bool = False) -> "Tensor":
        return self.to(to_device("cuda" if device is None else device if not isinstance(
            device, int) else f"cuda:{device}"))

    def type(self, dtype=None):
        """The type name (no argument) or a copy converted to `dtype`."""
        if dtype is None:
            return f"torch.{_TYPE_NAMES[self._dtype]}"
        if isinstance(dtype, str) and dtype.endswith("Tensor"):
            dtype = {v: k for k, v in _TYPE_NAMES.items()}[dtype.removeprefix("torch.")]
        elif isinstance(dtype, type) and isinstance(getattr(dtype, "dtype", None), D.dtype):
            dtype = dtype.dtype  # a legacy type: torch.LongTensor
        return self.to(dtype)

    def type_as(self, other: "Tensor") -> "Tensor":
        return self.to(other._dtype)

    def float(self):
        return self.to(D.float32)

    def double(self):
        return self.to(D.float64)

    def half(self):
        return self.to(D.float16)

    def bfloat16(self):
        return self.to(D.bfloat16)

    def long(self):
        return self.to(D.int64)

    def int(self):
        return self.to(D.int32)

    def short(self):
        return self.to(D.int16)

    def char(self):
        return self.to(D.int8)

    def byte(self):
        return self.to(D.uint8)

    def bool(self):
        return self.to(D.bool)

    # ---- autograd -----------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Set whether autograd records operations on this (leaf) tensor."""
        if self._grad_fn is not None and not requires_grad:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If "
                               "you want to use a computed variable in a subgraph that doesn't "
                               "require differentiation use var_no_grad = var.detach().")
        if requires_grad and self._dtype.category < D._FLOAT:
            raise RuntimeError("only Tensors of floating point and complex dtype can require "
                               f"gradients (got {self._dtype})")
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def grad_fn(self):
        if self._base is not None and self._view_epoch != self._base._graph_epoch:
            from ._ops.dispatch import refresh_view
            refresh_view(self)
        return self._grad_fn

    @property
    def is_leaf(self) -> bool:
        return self._grad_fn is None

    @property
    def output_nr(self) -> int:
        return self._output_nr

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def _get_accumulator(self) -> AccumulateGrad:
        acc = self._accumulator
        if acc is None:
            acc = self._accumulator = AccumulateGrad(self)
        return acc

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into each leaf's `.grad`."""
        _autograd().backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def register_hook(self, hook):
        """Call hook(grad) when this tensor's gradient is computed; it may return a new grad."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._grad_fn is None:
            return self._get_accumulator()._add_pre_hook(0, hook)
        return self._grad_fn._add_pre_hook(self._output_nr, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call hook(self) after backward has accumulated a gradient into this leaf's `.grad`
        (after any register_hook hooks); returns a handle whose remove() unregisters it."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf "
                               "tensors")
        from .utils.hooks import RemovableHandle
        hooks = self.__dict__.setdefault("_post_accumulate_grad_hooks", {})
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def retain_grad(self) -> None:
        """Keep `.grad` for this non-leaf tensor after backward."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self._grad_fn is None or self._retains_grad:
            return
        import weakref
        ref = weakref.ref(self)

        def keep(grad):
            t = ref()
            if t is not None:
                t.grad = grad.detach() if t.grad is None else t.grad + grad.detach()
        self._grad_fn._add_pre_hook(self._output_nr, keep, retains_grad=True)
        self._retains_grad = True

    def detach_(self) -> "Tensor":
        self._grad_fn = None
        self._requires_grad = False
        return self

    @property
    def data(self) -> "Tensor":
        return self.detach()

    @data.setter
    def data(self, value: "Tensor") -> None:
        self._data = value._data
        self._dtype = value._dtype
        self._device = value._device
        self._vbox = value._vbox

    @property
    def T(self) -> "Tensor":
        return self.permute(*range(self._data.ndim - 1, -1, -1))

    @property
    def mT(self) -> "Tensor":
        return self.transpose(-2, -1)

    @property
    def mH(self) -> "Tensor":
        return self.transpose(-2, -1).conj()

    H = mH

    def __repr__(self) -> str:
        from ._tensor_str import tensor_repr
        return tensor_repr(self)

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:
            return format(self.item(), spec)
        return object.__format__(self, spec) if spec else repr(self)

    def __reduce_ex__(self, protocol):
        from .serialization import _rebuild_tensor
        return (_rebuild_tensor, (self.numpy(force=True), self._dtype.name,
                                  self._requires_grad))

    def __deepcopy__(self, memo):
        """A copy of a leaf: new memory, same requires_grad, a copied .grad (like torch)."""
        if self._grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) "
                               "support the deepcopy protocol at the moment. If you were "
                               "attempting to deepcopy a module, this may be because of a "
                               "torch.nn.utils.weight_norm usage, see "
                               "https://github.com/pytorch/pytorch/pull/103001")
        if id(self) in memo:
            return memo[id(self)]
        t = object.__new__(type(self))
        t._init(self._data.copy(), self._dtype, self._device, self._requires_grad)
        memo[id(self)] = t
        for key, value in self.__dict__.items():
            if key in ("grad",) or not key.startswith("_"):
                t.__dict__[key] = copy.deepcopy(value, memo)
        return t


_TYPE_NAMES = {D.float32: "FloatTensor", D.float64: "DoubleTensor", D.float16: "HalfTensor",
               D.bfloat16: "BFloat16Tensor", D.int64: "LongTensor", D.int32: "IntTensor",
               D.int16: "ShortTensor", D.int8: "CharTensor", D.uint8: "ByteTensor",
               D.bool: "BoolTensor", D.complex64: "ComplexFloatTensor",
               D.complex128: "ComplexDoubleTensor", D.uint16: "UInt16Tensor",
               D.uint32: "UInt32Tensor", D.uint64: "UInt64Tensor"}


_AUTOGRAD = []  # ember.autograd once loaded (it imports Tensor, so it cannot load first)


def _autograd():
    if not _AUTOGRAD:
        from . import autograd
        _AUTOGRAD.append(autograd)
    return _AUTOGRAD[0]


class Size(tuple):
    """A tensor's shape: a tuple of ints that prints as torch.Size([...])."""

    def __repr__(self) -> str:
        return f"torch.Size({list(self)})"

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, key):
        out = tuple.__getitem__(self, key)
        return Size(out) if isinstance(key, slice) else out

    def __add__(self, other):
        return Size(tuple.__add__(self, tuple(other)))


def _dim(dim: int, ndim: int, op: str = "") -> int:
    """Wrap a possibly negative dim, raising PyTorch's IndexError when out of range."""
    lo, hi = (-ndim, ndim - 1) if ndim else (-1, 0)
    if not lo <= dim <= hi:
        raise IndexError(f"{op + '(): ' if op else ''}Dimension out of range (expected to be in "
                         f"range of [{lo}, {hi}], but got {dim})")
    return dim + ndim if dim < 0 else dim if ndim else 0
