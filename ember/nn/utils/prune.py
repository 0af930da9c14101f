"""Pruning: zero entries of a module's tensor through a mask kept beside it.

Pruning `module.weight` moves the parameter to `weight_orig`, stores the mask as the buffer
`weight_mask` and sets `module.weight = weight_mask * weight_orig`, a plain attribute that the
pruning method, registered as a forward pre-hook, recomputes before every forward (so gradients
reach `weight_orig` through the mask). Pruning the same tensor again chains the methods in a
PruningContainer: the new one chooses only among the entries (or channels) still unpruned.
`remove` makes the pruning permanent. The state_dict keys are torch's, so checkpoints of pruned
models load in either library. Entries of equal importance are chosen as torch.topk chooses.
"""
from __future__ import annotations

import numbers
from abc import ABC, abstractmethod
from typing import Iterable

from ..._backend.select import topk_positions
from ..._ops.creation import ones_like, tensor, zeros_like
from ..._ops.random import rand, rand_like
from ..._ops.reduction import norm
from ..._ops.shape import contiguous_format
from ..._ops.sorting import kthvalue
from ..._tensor import Tensor
from ..modules.module import Module
from .convert_parameters import parameters_to_vector

__all__ = ["BasePruningMethod", "PruningContainer", "Identity", "RandomUnstructured",
           "L1Unstructured", "RandomStructured", "LnStructured", "CustomFromMask", "identity",
           "random_unstructured", "l1_unstructured", "random_structured", "ln_structured",
           "global_unstructured", "custom_from_mask", "remove", "is_pruned"]


class BasePruningMethod(ABC):
    """Base of the pruning methods. A subclass sets PRUNING_TYPE ('unstructured', 'structured'
    with a `dim` attribute, or 'global': what a later pruning chooses among) and defines
    compute_mask; an instance prunes one tensor, named `_tensor_name` once applied."""

    def __call__(self, module: Module, inputs) -> None:
        """The forward pre-hook: recompute the pruned tensor from the original and the mask."""
        setattr(module, self._tensor_name, self.apply_mask(module))

    @abstractmethod
    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        """The mask (1 keeps, 0 prunes) for `t`, given the mask of the pruning so far."""

    def apply_mask(self, module: Module) -> Tensor:
        """The pruned tensor: the module's mask times its original tensor."""
        if self._tensor_name is None:
            raise AssertionError(f"Module {module} has to be pruned")
        mask = getattr(module, self._tensor_name + "_mask")
        orig = getattr(module, self._tensor_name + "_orig")
        return mask.to(dtype=orig.dtype) * orig

    @classmethod
    def apply(cls, module: Module, name: str, *args, importance_scores: Tensor | None = None,
              **kwargs) -> "BasePruningMethod":
        """Prune `module.<name>` with cls(*args, **kwargs), after any earlier pruning of it.

        The mask is computed from `importance_scores` (by default the tensor itself). Returns
        the method registered as the module's forward pre-hook (a PruningContainer when the
        tensor was already pruned).
        """
        method = _chain_with_earlier(cls, module, name, *args, **kwargs)
        orig = getattr(module, name)
        if importance_scores is None:
            importance_scores = orig
        elif importance_scores.shape != orig.shape:
            raise AssertionError(f"importance_scores should have the same shape as parameter "
                                 f"{name} of {module}, got {importance_scores.shape} vs "
                                 f"{orig.shape}")
        first = not isinstance(method, PruningContainer)
        if first:
            module.register_parameter(name + "_orig", orig)
            del module._parameters[name]
            default_mask = ones_like(orig)
        else:
            default_mask = getattr(module, name + "_mask").detach().clone(
                memory_format=contiguous_format)
        try:
            mask = method.compute_mask(importance_scores, default_mask=default_mask)
            module.register_buffer(name + "_mask", mask)
            setattr(module, name, method.apply_mask(module))
            module.register_forward_pre_hook(method)
        except Exception:
            if first:
                module.register_parameter(name, module._parameters.pop(name + "_orig"))
            raise
        return method

    def prune(self, t: Tensor, default_mask: Tensor | None = None,
              importance_scores: Tensor | None = None) -> Tensor:
        """`t` with this method's mask applied, the mask computed from `importance_scores`
        (default `t`) on top of `default_mask` (default all ones); no module involved."""
        if importance_scores is None:
            importance_scores = t
        elif importance_scores.shape != t.shape:
            raise AssertionError(f"importance_scores should have the same shape as tensor t, "
                                 f"got {importance_scores.shape} vs {t.shape}")
        if default_mask is None:
            default_mask = ones_like(t)
        return t * self.compute_mask(importance_scores, default_mask=default_mask)

    def remove(self, module: Module) -> None:
        """Make the pruning permanent: the `_orig` parameter takes the pruned values and the
        tensor's name back; the mask buffer goes."""
        if self._tensor_name is None:
            raise AssertionError(f"Module {module} has to be pruned before pruning can be "
                                 "removed")
        name = self._tensor_name
        weight = self.apply_mask(module)
        if hasattr(module, name):
            delattr(module, name)
        orig = module._parameters[name + "_orig"]
        orig.data = weight.data
        del module._parameters[name + "_orig"]
        del module._buffers[name + "_mask"]
        setattr(module, name, orig)


def _chain_with_earlier(cls, module: Module, name: str, *args, **kwargs) -> BasePruningMethod:
    """A new cls(*args, **kwargs) for `name`, appended to the tensor's earlier pruning method
    if any (whose hook is taken off the module; apply registers the result)."""
    earlier = [(key, hook) for key, hook in module._forward_pre_hooks.items()
               if isinstance(hook, BasePruningMethod) and hook._tensor_name == name]
    if len(earlier) > 1:
        raise AssertionError(f"Avoid adding multiple pruning hooks to the same tensor {name} of "
                             f"module {module}. Use a PruningContainer.")
    for key, _ in earlier:
        del module._forward_pre_hooks[key]
    method = cls(*args, **kwargs)
    method._tensor_name = name
    if not earlier:
        return method
    previous = earlier[0][1]
    container = previous if isinstance(previous, PruningContainer) else \
        PruningContainer(previous)
    container.add_pruning_method(method)
    return container


class PruningContainer(BasePruningMethod):
    """The pruning methods applied in turn to one tensor; the newest one prunes what the
    earlier ones left, and the container's mask combines them all."""

    def __init__(self, *args) -> None:
        self._pruning_methods: tuple = ()
        if len(args) == 1:
            self._tensor_name = args[0]._tensor_name
            self.add_pruning_method(args[0])
        else:
            for method in args:
                self.add_pruning_method(method)

    def add_pruning_method(self, method: BasePruningMethod) -> None:
        """Append `method`, which must prune the same tensor as the container."""
        if method is not None and not isinstance(method, BasePruningMethod):
            raise TypeError(f"{type(method)} is not a BasePruningMethod subclass")
        if method is not None and self._tensor_name != method._tensor_name:
            raise ValueError(f"Can only add pruning methods acting on the parameter named "
                             f"'{self._tensor_name}' to PruningContainer {self}. Found "
                             f"'{method._tensor_name}'")
        self._pruning_methods += (method,)

    def __len__(self) -> int:
        return len(self._pruning_methods)

    def __iter__(self):
        return iter(self._pruning_methods)

    def __getitem__(self, idx):
        return self._pruning_methods[idx]

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        """Run the newest method on the part of `t` still open to pruning by its
        PRUNING_TYPE ('unstructured': the unpruned entries, 'structured': the channels along
        its `dim` with an unpruned entry, 'global': everything) and write the result into
        `default_mask` there."""
        method = self._pruning_methods[-1]
        new_mask = default_mask.to(dtype=t.dtype)
        kind = method.PRUNING_TYPE
        if kind == "unstructured":
            region = default_mask == 1
        elif kind == "structured":
            region = _open_channels(method, t, default_mask)
        elif kind == "global":
            region = (slice(None),) * t.dim()
        else:
            raise ValueError(f"Unrecognized PRUNING_TYPE {kind}")
        partial = method.compute_mask(t[region], default_mask=default_mask[region])
        new_mask[region] = partial.to(dtype=new_mask.dtype)
        return new_mask


def _open_channels(method: BasePruningMethod, t: Tensor, mask: Tensor) -> tuple:
    """An index of the slices of `t` along `method.dim` that keep some unpruned entry."""
    if not hasattr(method, "dim"):
        raise AttributeError('Pruning methods of PRUNING_TYPE "structured" need to have the '
                             "attribute `dim` defined.")
    n_dims = t.dim()
    dim = method.dim + n_dims if method.dim < 0 else method.dim
    if dim < 0:
        raise IndexError(f"Index is out of bounds for tensor with dimensions {n_dims}")
    open_channels = mask.sum(dim=[d for d in range(n_dims) if d != dim]) != 0
    region = [slice(None)] * n_dims
    region[dim] = open_channels
    return tuple(region)


class Identity(BasePruningMethod):
    """Prunes nothing: adds the `_orig`/`_mask` entries with an all-ones mask."""

    PRUNING_TYPE = "unstructured"

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        return default_mask

    @classmethod
    def apply(cls, module: Module, name: str) -> "Identity":
        """Set up `module.<name>` for pruning without pruning anything."""
        return super().apply(module, name)


class _ByEntry(BasePruningMethod):
    """Prunes `amount` entries (a count if int, a fraction if float), those that
    `_entries_to_prune` picks."""

    PRUNING_TYPE = "unstructured"

    def __init__(self, amount: int | float) -> None:
        _check_amount(amount)
        self.amount = amount

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        count = _count_to_prune(self.amount, t.numel())
        mask = default_mask.clone(memory_format=contiguous_format)
        if count != 0:
            mask.view(-1)[self._entries_to_prune(t, count)] = 0
        return mask


class RandomUnstructured(_ByEntry):
    """Prunes `amount` entries chosen at random (a count if int, a fraction if float)."""

    def _entries_to_prune(self, t: Tensor, count: int) -> Tensor:
        return _topk_indices(rand_like(t).view(-1), count, largest=True)

    @classmethod
    def apply(cls, module: Module, name: str, amount: int | float) -> "RandomUnstructured":
        """Prune `amount` random entries of `module.<name>`."""
        return super().apply(module, name, amount=amount)


class L1Unstructured(_ByEntry):
    """Prunes the `amount` entries of smallest magnitude (a count if int, a fraction if
    float)."""

    def _entries_to_prune(self, t: Tensor, count: int) -> Tensor:
        return _topk_indices(t.abs().view(-1), count, largest=False)

    @classmethod
    def apply(cls, module: Module, name: str, amount: int | float,
              importance_scores: Tensor | None = None) -> "L1Unstructured":
        """Prune the `amount` entries of `module.<name>` of smallest |importance_scores|."""
        return super().apply(module, name, amount=amount, importance_scores=importance_scores)


class RandomStructured(BasePruningMethod):
    """Prunes `amount` random channels (slices along `dim`)."""

    PRUNING_TYPE = "structured"

    def __init__(self, amount: int | float, dim: int = -1) -> None:
        _check_amount(amount)
        self.amount = amount
        self.dim = dim

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        channels = _check_structured(t, self.dim)
        count = _count_to_prune(self.amount, channels)
        if count == 0:
            return default_mask
        if isinstance(count, bool):
            raise TypeError("kthvalue(): argument 'k' must be int, not bool")
        scores = rand(channels, device=t.device)
        kept = scores > kthvalue(scores, count).values
        mask = _channel_mask(t, self.dim, kept)
        mask *= default_mask.to(dtype=mask.dtype)
        return mask

    @classmethod
    def apply(cls, module: Module, name: str, amount: int | float,
              dim: int = -1) -> "RandomStructured":
        """Prune `amount` random channels of `module.<name>` along `dim`."""
        return super().apply(module, name, amount=amount, dim=dim)


class LnStructured(BasePruningMethod):
    """Prunes the `amount` channels (slices along `dim`) of smallest `n`-norm (n as for
    ember.norm: int, float, inf, -inf or 'fro')."""

    PRUNING_TYPE = "structured"

    def __init__(self, amount: int | float, n, dim: int = -1) -> None:
        _check_amount(amount)
        self.amount = amount
        self.n = n
        self.dim = dim

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        channels = _check_structured(t, self.dim)
        count = _count_to_prune(self.amount, channels)
        dim = self.dim % t.dim()
        # computed even when nothing is pruned, so a norm torch refuses fails here too
        norms = norm(t, p=self.n, dim=[d for d in range(t.dim()) if d != dim])
        kept = _topk_indices(norms, channels - count, largest=True)
        if count == 0:
            return default_mask
        mask = _channel_mask(t, dim, kept)
        mask *= default_mask.to(dtype=mask.dtype)
        return mask

    @classmethod
    def apply(cls, module: Module, name: str, amount: int | float, n, dim: int,
              importance_scores: Tensor | None = None) -> "LnStructured":
        """Prune the `amount` channels of `module.<name>` along `dim` whose importance scores
        have the smallest `n`-norm."""
        return super().apply(module, name, amount=amount, n=n, dim=dim,
                             importance_scores=importance_scores)


class CustomFromMask(BasePruningMethod):
    """Prunes where the given `mask` is 0."""

    PRUNING_TYPE = "global"

    def __init__(self, mask: Tensor) -> None:
        self.mask = mask

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        if default_mask.shape != self.mask.shape:
            raise AssertionError(f"default_mask shape {default_mask.shape} must match self.mask "
                                 f"shape {self.mask.shape}")
        return default_mask * self.mask.to(dtype=default_mask.dtype)

    @classmethod
    def apply(cls, module: Module, name: str, mask: Tensor) -> "CustomFromMask":
        """Prune `module.<name>` where `mask` is 0."""
        return super().apply(module, name, mask=mask)


def _check_amount(amount) -> None:
    """Refuse an amount that is neither a non-negative count nor a fraction in [0, 1]."""
    if not isinstance(amount, numbers.Real):
        raise TypeError(f"Invalid type for amount: {amount}. Must be int or float.")
    if isinstance(amount, numbers.Integral):
        bad = amount < 0
    else:
        bad = not 0.0 <= float(amount) <= 1.0
    if bad:
        raise ValueError(f"amount={amount} should either be a float in the range [0, 1] or a "
                         "non-negative integer")


def _count_to_prune(amount, size: int) -> int:
    """How many of `size` entries (or channels) `amount` prunes; a count above size fails."""
    if not isinstance(amount, numbers.Integral):
        return round(amount * size)
    if amount > size:
        raise ValueError(f"amount={amount} should be smaller than the number of parameters to "
                         f"prune={size}")
    return amount


def _check_structured(t: Tensor, dim: int) -> int:
    """The number of channels of `t` along `dim`, after checking that both allow structured
    pruning."""
    if t.dim() <= 1:
        raise ValueError(f"Structured pruning can only be applied to multidimensional tensors. "
                         f"Found tensor of shape {t.shape} with {t.dim()} dims")
    if dim >= t.dim():
        raise IndexError(f"Invalid index {dim} for tensor of size {t.shape}")
    return t.shape[dim]


def _channel_mask(t: Tensor, dim: int, kept: Tensor) -> Tensor:
    """A mask shaped like `t`, 1 on the channels along `dim` selected by `kept`."""
    mask = zeros_like(t)
    region = [slice(None)] * t.dim()
    region[dim] = kept
    mask[tuple(region)] = 1
    return mask


def _topk_indices(scores: Tensor, k: int, largest: bool) -> Tensor:
    """Indices of the k largest (or smallest) entries of 1-d `scores`, chosen among equal
    ones as torch.topk chooses them, so tied weights are pruned alike."""
    if isinstance(k, bool):
        raise TypeError("topk(): argument 'k' must be int, not bool")
    positions = topk_positions(scores.detach().cpu().numpy(), k, largest)
    return tensor(positions, device=scores.device)


def identity(module: Module, name: str) -> Module:
    """Set up `module.<name>` for pruning with an all-ones mask; returns the module.

    >>> import ember
    >>> from ember.nn.utils import prune
    >>> lin = prune.identity(ember.nn.Linear(2, 3), "weight")
    >>> sorted(lin.state_dict())
    ['bias', 'weight_mask', 'weight_orig']
    """
    Identity.apply(module, name)
    return module


def random_unstructured(module: Module, name: str, amount: int | float) -> Module:
    """Prune `amount` random entries of `module.<name>` (an int counts entries, a float is a
    fraction of them); returns the module.

    >>> import ember
    >>> from ember.nn.utils import prune
    >>> lin = prune.random_unstructured(ember.nn.Linear(2, 3), "weight", amount=2)
    >>> int((lin.weight_mask == 0).sum())
    2
    """
    RandomUnstructured.apply(module, name, amount)
    return module


def l1_unstructured(module: Module, name: str, amount: int | float,
                    importance_scores: Tensor | None = None) -> Module:
    """Prune the `amount` entries of `module.<name>` of smallest absolute value (or of
    smallest |importance_scores|); returns the module.

    >>> import ember
    >>> from ember.nn.utils import prune
    >>> lin = ember.nn.Linear(2, 2)
    >>> with ember.no_grad():
    ...     _ = lin.weight.copy_(ember.tensor([[0.5, -2.0], [0.1, 1.0]]))
    >>> prune.l1_unstructured(lin, "weight", amount=0.5).weight
    tensor([[ 0., -2.],
            [ 0.,  1.]], grad_fn=<MulBackward0>)
    """
    L1Unstructured.apply(module, name, amount=amount, importance_scores=importance_scores)
    return module


def random_structured(module: Module, name: str, amount: int | float, dim: int) -> Module:
    """Prune `amount` random channels (slices along `dim`) of `module.<name>`; returns the
    module.

    >>> import ember
    >>> from ember.nn.utils import prune
    >>> lin = prune.random_structured(ember.nn.Linear(2, 3), "weight", amount=1, dim=0)
    >>> lin.weight_mask.sum(dim=1).tolist().count(0.0)
    1
    """
    RandomStructured.apply(module, name, amount, dim)
    return module


def ln_structured(module: Module, name: str, amount: int | float, n, dim: int,
                  importance_scores: Tensor | None = None) -> Module:
    """Prune the `amount` channels (slices along `dim`) of `module.<name>` of smallest
    `n`-norm (of the importance scores if given); returns the module.

    >>> import ember
    >>> from ember.nn.utils import prune
    >>> lin = ember.nn.Linear(2, 2)
    >>> with ember.no_grad():
    ...     _ = lin.weight.copy_(ember.tensor([[3.0, 4.0], [1.0, 1.0]]))
    >>> prune.ln_structured(lin, "weight", amount=1, n=2, dim=0).weight_mask
    tensor([[1., 1.],
            [0., 0.]])
    """
    LnStructured.apply(module, name, amount, n, dim, importance_scores=importance_scores)
    return module


def global_unstructured(parameters: Iterable, pruning_method: type, importance_scores=None,
                        **kwargs) -> None:
    """Prune the (module, name) `parameters` together: `pruning_method(**kwargs)` (an
    'unstructured' method) sees all their entries (or the `importance_scores` given for some
    of them in a dict keyed by (module, name)) as one vector.

    >>> import ember
    >>> from ember.nn.utils import prune
    >>> a, b = ember.nn.Linear(2, 2), ember.nn.Linear(2, 2)
    >>> prune.global_unstructured([(a, "weight"), (b, "weight")], prune.L1Unstructured,
    ...                           amount=3)
    >>> int((a.weight_mask == 0).sum() + (b.weight_mask == 0).sum())
    3
    """
    if not isinstance(parameters, Iterable):
        raise TypeError("global_unstructured(): parameters is not an Iterable")
    if importance_scores is None:
        importance_scores = {}
    if not isinstance(importance_scores, dict):
        raise TypeError("global_unstructured(): importance_scores must be of type dict")
    parameters = list(parameters)
    scores = parameters_to_vector([importance_scores.get((module, name), getattr(module, name))
                                   for module, name in parameters])
    default_mask = parameters_to_vector([getattr(module, name + "_mask",
                                                 ones_like(getattr(module, name)))
                                         for module, name in parameters])
    container = PruningContainer()
    container._tensor_name = "temp"
    method = pruning_method(**kwargs)
    method._tensor_name = "temp"
    if method.PRUNING_TYPE != "unstructured":
        raise TypeError(f'Only "unstructured" PRUNING_TYPE supported for the `pruning_method`. '
                        f"Found method {pruning_method} of type {method.PRUNING_TYPE}")
    container.add_pruning_method(method)
    final_mask = container.compute_mask(scores, default_mask)
    start = 0
    for module, name in parameters:
        param = getattr(module, name)
        size = param.numel()
        custom_from_mask(module, name, mask=final_mask[start:start + size].view_as(param))
        start += size


def custom_from_mask(module: Module, name: str, mask: Tensor) -> Module:
    """Prune `module.<name>` where `mask` is 0; returns the module.

    >>> import ember
    >>> from ember.nn.utils import prune
    >>> lin = prune.custom_from_mask(ember.nn.Linear(2, 2), "bias", ember.tensor([0, 1]))
    >>> lin.bias_mask
    tensor([0., 1.])
    """
    CustomFromMask.apply(module, name, mask)
    return module


def remove(module: Module, name: str) -> Module:
    """Make the pruning of `module.<name>` permanent: it becomes a parameter again holding the
    pruned values, without `_orig`, `_mask` or hook; returns the module.

    >>> import ember
    >>> from ember.nn.utils import prune
    >>> lin = prune.remove(prune.l1_unstructured(ember.nn.Linear(2, 3), "weight", 2), "weight")
    >>> sorted(lin.state_dict()), int((lin.weight == 0).sum())
    (['bias', 'weight'], 2)
    """
    for key, hook in module._forward_pre_hooks.items():
        if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"Parameter '{name}' of module {module} has to be pruned before pruning "
                     "can be removed")


def is_pruned(module: Module) -> bool:
    """Whether `module` or any of its submodules has a pruning hook.

    >>> import ember
    >>> from ember.nn.utils import prune
    >>> net = ember.nn.Sequential(ember.nn.Linear(2, 2), ember.nn.ReLU())
    >>> prune.is_pruned(net), prune.is_pruned(prune.identity(net[0], "bias"))
    (False, True)
    """
    return any(isinstance(hook, BasePruningMethod)
               for _, submodule in module.named_modules()
               for hook in submodule._forward_pre_hooks.values())
