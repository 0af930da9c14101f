"""DataParallel: run a module on the batch through the visible GPUs.

Without a GPU it runs the module as it is, as torch does when none is visible. With GPUs the
whole batch runs on the first of `device_ids` (ember keeps one replica: the results are those
of torch's split-and-gather for modules that treat samples independently) and the output is
moved to `output_device` when several devices are named.
"""
from __future__ import annotations

from itertools import chain

from ... import cuda
from ..._device import device
from ..._tensor import Tensor
from ..modules.module import Module

__all__ = ["DataParallel", "data_parallel"]


def _cuda(index) -> device:
    """The CUDA device of an ordinal, 'cuda:N' string or device."""
    if isinstance(index, int):
        return device("cuda", index)
    d = device(index)
    return device("cuda", d.index or 0)


def _moved(value, target: device):
    """`value` with every tensor in it (nested in tuples, lists and dicts) on `target`."""
    if isinstance(value, Tensor):
        return value.to(target)
    if isinstance(value, (tuple, list)):
        items = [_moved(v, target) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
    if isinstance(value, dict):
        return type(value)((k, _moved(v, target)) for k, v in value.items())
    return value


class DataParallel(Module):
    """Wraps `module`; calling the wrapper calls it on the inputs (moved to the first GPU
    of `device_ids` when GPUs are visible). Its state_dict keys start with 'module.'.

    Args:
        module: the module to run.
        device_ids: GPU ordinals to use (default: all visible).
        output_device: where outputs go (default: device_ids[0]).
        dim: the batch dim inputs would be split along.

    >>> import ember
    >>> net = ember.nn.DataParallel(ember.nn.Linear(2, 3))
    >>> list(net.state_dict())
    ['module.weight', 'module.bias']
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0):
        super().__init__()
        self.module = module
        self.dim = dim
        if not cuda.is_available():
            self.device_ids = []
            return
        if device_ids is None:
            device_ids = list(range(cuda.device_count()))
        if output_device is None:
            output_device = device_ids[0]
        self.device_ids = [_cuda(d).index for d in device_ids]
        self.output_device = _cuda(output_device).index
        self.src_device_obj = device("cuda", self.device_ids[0])
        if len(self.device_ids) == 1:
            self.module.to(self.src_device_obj)

    def forward(self, *inputs, **kwargs):
        if not self.device_ids:
            return self.module(*inputs, **kwargs)
        return _run(self.module, inputs, kwargs, self.device_ids, self.output_device)


def _run(module: Module, inputs: tuple, kwargs: dict, device_ids: list, output_device: int):
    """module(*inputs, **kwargs) on cuda:device_ids[0], where the module must live; the
    output on output_device when several devices are named."""
    source = device("cuda", device_ids[0])
    for t in chain(module.parameters(), module.buffers()):
        if t.device != source:
            raise RuntimeError(f"module must have its parameters and buffers on device "
                               f"{source} (device_ids[0]) but found one of them on device: "
                               f"{t.device}")
    inputs, kwargs = _moved((inputs, kwargs), source)
    output = module(*inputs, **kwargs)
    if len(device_ids) == 1:
        return output
    return _moved(output, device("cuda", output_device))


def data_parallel(module: Module, inputs, device_ids=None, output_device=None, dim: int = 0,
                  module_kwargs=None):
    """The functional form of DataParallel: `module(*inputs, **module_kwargs)`, on the
    first of `device_ids` when GPUs are visible (the module must already live there).

    >>> import ember
    >>> ember.nn.parallel.data_parallel(ember.nn.Identity(), (ember.ones(2),))
    tensor([1., 1.])
    """
    if not isinstance(inputs, tuple):
        inputs = (inputs,) if inputs is not None else ()
    module_kwargs = module_kwargs or {}
    if not cuda.is_available():
        return module(*inputs, **module_kwargs)
    if device_ids is None:
        device_ids = list(range(cuda.device_count()))
    ids = [_cuda(d).index for d in device_ids]
    out = ids[0] if output_device is None else _cuda(output_device).index
    return _run(module, inputs, module_kwargs, ids, out)
