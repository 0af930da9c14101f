"""ember: PyTorch's API, rebuilt in Python over NumPy (and CuPy on GPUs).

    >>> import ember as torch
    >>> x = torch.ones(2, 2, requires_grad=True)
    >>> (x * 3).sum().backward()
    >>> x.grad
    tensor([[3., 3.],
            [3., 3.]])
"""
from __future__ import annotations

import builtins
import importlib

from . import _ops
from ._device import device
from ._dtype import (bfloat16, bool, can_cast, complex64, complex128, dtype, finfo, float16,
                     float32, float64, get_default_dtype, iinfo, int8, int16, int32, int64,
                     promote_types, set_default_dtype, uint8, uint16, uint32, uint64)
from ._ops.conv import *  # noqa: F401,F403
from ._ops.creation import *  # noqa: F401,F403
from ._ops.dispatch import result_type as _result_type
from ._ops.indexing import *  # noqa: F401,F403
from ._ops.linalg import *  # noqa: F401,F403
from ._ops.lu import *  # noqa: F401,F403
from ._ops.nn_ops import *  # noqa: F401,F403
from ._ops.pointwise import *  # noqa: F401,F403
from ._ops.random import *  # noqa: F401,F403
from ._ops.reduction import *  # noqa: F401,F403
from ._ops.rnn_ops import *  # noqa: F401,F403
from ._ops.misc import *  # noqa: F401,F403
from ._ops.checks import _assert  # noqa: F401
from ._ops.shape import *  # noqa: F401,F403
from ._ops.sorting import *  # noqa: F401,F403
from ._ops.spectral import *  # noqa: F401,F403
from ._ops.special_fns import *  # noqa: F401,F403
from ._tensor import Size, Tensor
from ._tensor_str import set_printoptions
from ._torch_functions import *  # noqa: F401,F403
from ._foreach import *  # noqa: F401,F403
from .autograd.anomaly_mode import is_anomaly_check_nan_enabled, is_anomaly_enabled
from .autograd.grad_mode import (enable_grad, inference_mode, is_grad_enabled,
                                 is_inference_mode_enabled, no_grad, set_grad_enabled)

__version__ = "0.1.0"

half, float, double = float16, float32, float64
short, int, long = int16, int32, int64
cfloat, cdouble = complex64, complex128

_LAZY_SUBMODULES = ("amp", "autograd", "nn", "optim", "utils", "jit", "onnx", "cuda", "cpu",
                    "linalg", "fft", "func", "distributions", "testing", "vision", "special",
                    "serialization", "compiler", "_dynamo", "backends", "hub", "accelerator",
                    "version", "random", "types", "profiler", "multiprocessing")


def result_type(tensor1, tensor2) -> dtype:
    """The dtype an arithmetic op on these two operands produces (PyTorch's promotion).

    >>> import ember
    >>> ember.result_type(ember.tensor([1, 2]), 2.5)
    torch.float32
    """
    return _result_type(tensor1, tensor2)


def is_tensor(obj) -> builtins.bool:
    """True if `obj` is an ember Tensor."""
    return isinstance(obj, Tensor)


def save(obj, f, pickle_module=None, pickle_protocol: int = 2,
         _use_new_zipfile_serialization: builtins.bool = True) -> None:
    """Save `obj` in PyTorch's checkpoint format (see ember.serialization.save)."""
    from .serialization import save as _save
    _save(obj, f, pickle_module, pickle_protocol, _use_new_zipfile_serialization)


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None,
         **pickle_load_args):
    """Load a checkpoint written by ember.save or torch.save (see ember.serialization.load)."""
    from .serialization import load as _load
    return _load(f, map_location, pickle_module, weights_only=weights_only, mmap=mmap,
                 **pickle_load_args)


def compile(model=None, *, fullgraph: builtins.bool = False, dynamic=None, backend="inductor",
            mode=None, options=None, disable: builtins.bool = False,
            explain: builtins.bool = False):
    """Compile a module or function into graphs run by generated code, forward and backward
    (see ember.compiler.compile)."""
    from .compiler import compile as _compile
    return _compile(model, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode,
                    options=options, disable=disable, explain=explain)


def cond(pred, true_fn, false_fn, operands=()):
    """`true_fn(*operands)` if pred else `false_fn(*operands)`, a branch compiled code keeps in
    its graph (see ember.compiler.cond)."""
    from .compiler import cond as _cond
    return _cond(pred, true_fn, false_fn, operands)


# torch's top-level names for nn.functional functions of the same signature, loaded with
# nn.functional on first use (importing ember does not import nn)
_FUNCTIONAL_ALIASES = frozenset((
    "alpha_dropout", "bilinear", "celu", "cosine_similarity", "dropout", "hardshrink",
    "pairwise_distance", "pdist", "prelu", "rrelu", "selu", "threshold"))


def _functional_method(name: str):
    """A Tensor method that calls nn.functional's function of that name (imported then)."""
    def method(self, *args, **kwargs):
        return getattr(importlib.import_module(".nn.functional", __name__), name)(
            self, *args, **kwargs)
    method.__name__ = name
    method.__doc__ = f"nn.functional.{name}(self, ...)"
    return method


Tensor.prelu = _functional_method("prelu")
Tensor.hardshrink = _functional_method("hardshrink")


# torch's top-level names for ember.amp's (autocast regions)
_AMP_ALIASES = frozenset((
    "autocast", "is_autocast_available", "is_autocast_enabled", "get_autocast_dtype",
    "set_autocast_enabled", "set_autocast_dtype", "is_autocast_cpu_enabled",
    "get_autocast_cpu_dtype", "set_autocast_cpu_enabled", "set_autocast_cpu_dtype",
    "get_autocast_gpu_dtype", "clear_autocast_cache", "is_autocast_cache_enabled",
    "set_autocast_cache_enabled"))


def __getattr__(name):
    if name in _LAZY_SUBMODULES:
        return importlib.import_module("." + name, __name__)
    if name in _FUNCTIONAL_ALIASES:
        return getattr(importlib.import_module(".nn.functional", __name__), name)
    if name in _AMP_ALIASES:
        return getattr(importlib.import_module(".amp", __name__), name)
    if name == "vmap":
        return importlib.import_module(".func", __name__).vmap
    raise AttributeError(f"module 'ember' has no attribute {name!r}")
