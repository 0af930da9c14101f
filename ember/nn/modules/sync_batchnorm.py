"""SyncBatchNorm: batch norm whose statistics span every process of a group. ember runs in a
single process, where (as torch does without an initialized process group) it normalizes
over N and every spatial dim like BatchNorm1d/2d/3d, for inputs of any rank from 2 up."""
from __future__ import annotations

from .module import Module
from .normalization import _BatchNorm

__all__ = ["SyncBatchNorm"]


class SyncBatchNorm(_BatchNorm):
    """Batch normalization over (N, C, *), per channel C; `process_group` is kept for code
    that names one.

    >>> import ember
    >>> bn = ember.nn.SyncBatchNorm(3)
    >>> tuple(bn(ember.randn(4, 3, 2, 2, 2)).shape)
    (4, 3, 2, 2, 2)
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, process_group=None,
                 device=None, dtype=None, *, bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats,
                         device=device, dtype=dtype, bias=bias)
        self.process_group = process_group

    def _check_input_dim(self, input) -> None:
        if input.ndim < 2:
            raise ValueError(f"expected at least 2D input (got {input.ndim}D input)")

    def forward(self, input):
        self._check_input_dim(input)
        if input.shape[1] == 0:
            raise ValueError("SyncBatchNorm number of input channels should be non-zero")
        return super().forward(input)

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group=None) -> Module:
        """`module` with every BatchNorm1d/2d/3d in it (itself included) replaced by a
        SyncBatchNorm sharing its parameters, running statistics and training mode.

        >>> import ember
        >>> net = ember.nn.Sequential(ember.nn.Conv2d(3, 4, 1), ember.nn.BatchNorm2d(4))
        >>> type(ember.nn.SyncBatchNorm.convert_sync_batchnorm(net)[1]).__name__
        'SyncBatchNorm'
        """
        converted = module
        if isinstance(module, _BatchNorm):
            converted = cls(module.num_features, module.eps, module.momentum, module.affine,
                            module.track_running_stats, process_group,
                            bias=module.bias is not None)
            if module.affine:
                converted.weight = module.weight
                converted.bias = module.bias
            converted.running_mean = module.running_mean
            converted.running_var = module.running_var
            converted.num_batches_tracked = module.num_batches_tracked
            converted.training = module.training
            if hasattr(module, "qconfig"):
                converted.qconfig = module.qconfig
        for name, child in module.named_children():
            converted.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return converted
