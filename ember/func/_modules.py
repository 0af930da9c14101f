"""Preparing modules for function transforms: stacking the states of identical models for
vmap (model ensembling) and taking BatchNorm's running statistics out of vmapped modules."""
from __future__ import annotations

from .._ops.shape import stack


def _stacked(name: str, tensors):
    """The tensors stacked along a new dim 0; a fresh leaf that requires grad when they do."""
    wants_grad = {t.requires_grad for t in tensors}
    if len(wants_grad) > 1:
        raise RuntimeError(f"Expected {name} from each model to have the same .requires_grad")
    result = stack([t.detach() for t in tensors])
    return result.requires_grad_() if wants_grad.pop() else result


def stack_module_state(models) -> tuple[dict, dict]:
    """Stack the parameters and buffers of same-shaped models along a new leading dim, for
    vmap over functional_call (running an ensemble as one batched model).

    Returns (params, buffers), dicts keyed by the names of the first model; the stacked
    parameters are new leaves (they require grad as the models' do), unlinked from the models.

    >>> import ember
    >>> from ember.func import stack_module_state
    >>> params, buffers = stack_module_state([ember.nn.Linear(3, 2) for _ in range(4)])
    >>> params["weight"].shape, params["weight"].is_leaf, buffers
    (torch.Size([4, 2, 3]), True, {})
    """
    models = list(models)
    if not models:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if len({m.training for m in models}) > 1:
        raise RuntimeError("stack_module_state: Expected all models to have the same "
                           "training/eval mode.")

    def stacked(named):
        states = [dict(named(m)) for m in models]
        return {name: _stacked(name, [state[name] for state in states]) for name in states[0]}
    return stacked(lambda m: m.named_parameters()), stacked(lambda m: m.named_buffers())


def replace_all_batch_norm_modules_(root):
    """In place, make every BatchNorm in `root` use batch statistics only (no running_mean,
    running_var or num_batches_tracked), so vmap over it does not write shared buffers;
    returns `root`.

    >>> import ember
    >>> from ember.func import replace_all_batch_norm_modules_
    >>> net = replace_all_batch_norm_modules_(ember.nn.Sequential(ember.nn.BatchNorm1d(3)))
    >>> net[0].running_mean is None, net[0].track_running_stats
    (True, False)
    """
    from ..nn.modules.normalization import _BatchNorm
    for module in root.modules():
        if isinstance(module, _BatchNorm) and module.track_running_stats:
            module.running_mean = None
            module.running_var = None
            module.num_batches_tracked = None
            module.track_running_stats = False
    return root
