"""Optimizer: param_groups with per-group options, per-parameter state, state_dict round trips
with the same structure as torch's, and step hooks."""
from __future__ import annotations

import copy
import inspect
from collections import OrderedDict, defaultdict
from itertools import chain

from .._tensor import Tensor
from ..autograd.engine import reset_grads
from ..autograd.graph import RemovableHandle
from ..autograd.grad_mode import no_grad


class _Required:
    """Marks a hyper-parameter with no default (e.g. SGD's lr in old torch)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()


_HOOK_STORES = ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks",
                "_optimizer_state_dict_pre_hooks", "_optimizer_state_dict_post_hooks",
                "_optimizer_load_state_dict_pre_hooks", "_optimizer_load_state_dict_post_hooks")


# step hooks every optimizer runs: pre-hooks before its own, post-hooks after its own
_global_step_pre_hooks: OrderedDict = OrderedDict()
_global_step_post_hooks: OrderedDict = OrderedDict()


def _hook_dict(store: OrderedDict, hook, prepend: bool = False) -> RemovableHandle:
    """Add `hook` to `store`, last or (prepend) first in firing order."""
    handle = RemovableHandle(store)
    store[handle.id] = hook
    if prepend:
        store.move_to_end(handle.id, last=False)
    return handle


def register_optimizer_step_pre_hook(hook) -> RemovableHandle:
    """hook(optimizer, args, kwargs) runs before every optimizer's step; it may return new
    (args, kwargs) for the step."""
    return _hook_dict(_global_step_pre_hooks, hook)


def register_optimizer_step_post_hook(hook) -> RemovableHandle:
    """hook(optimizer, args, kwargs) runs after every optimizer's step."""
    return _hook_dict(_global_step_post_hooks, hook)


class Optimizer:
    """Base class of all optimizers.

    Args:
        params: an iterable of Tensors, or of dicts each holding "params" and per-group options.
        defaults: the options a group gets when it does not set them.
    """

    def __init__(self, params, defaults: dict):
        self.defaults = defaults
        for store in _HOOK_STORES:
            setattr(self, store, OrderedDict())
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {params.type()}")
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state,
                "param_groups": self.param_groups}

    def __setstate__(self, state):
        """Restore a pickled optimizer, or the state and groups load_state_dict built, as torch's
        does: the hook stores a pickle leaves out start empty, a group saved before an option
        existed gets the option's default, and a "step" saved as a number becomes the 0-d
        tensor the updates count in."""
        self.__dict__.update(state)
        for store in _HOOK_STORES:
            self.__dict__.setdefault(store, OrderedDict())
        option_defaults = self._option_defaults()
        for group in self.param_groups:
            for name, value in option_defaults.items():
                group.setdefault(name, value)
        for param_state in self.state.values():
            step = param_state.get("step") if isinstance(param_state, dict) else None
            if step is not None and not isinstance(step, Tensor):
                param_state["step"] = scalar_state(float(step))

    @classmethod
    def _option_defaults(cls) -> dict:
        """The keyword defaults of the optimizer's constructor (what a group saved before an
        option existed had, in effect)."""
        parameters = inspect.signature(cls.__init__).parameters
        return {name: p.default for name, p in parameters.items()
                if name not in ("self", "params") and p.default is not inspect.Parameter.empty}

    def __repr__(self) -> str:
        text = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += ("\n\n" if i else "\n") + f"Parameter Group {i}"
            for key in sorted(group):
                if key != "params":
                    text += "\n" + f"    {key}: {group[key]}"
        return text + "\n)"

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own options (e.g. a new layer to fine-tune)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        else:
            param_group["params"] = list(params)
        self._split_names(param_group)
        for p in param_group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + type(p).__name__)
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)
        if len({id(p) for p in param_group["params"]}) != len(param_group["params"]):
            import warnings
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in "
                          "future, this will cause an error", UserWarning, stacklevel=3)
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if existing & {id(p) for p in param_group["params"]}:
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def _split_names(self, param_group: dict) -> None:
        """(name, tensor) pairs, as model.named_parameters() yields, become the group's
        tensors plus its 'param_names'; a group is all named or all unnamed, and so are all
        groups of one optimizer, as torch's."""
        named = [isinstance(p, tuple) and len(p) == 2 for p in param_group["params"]]
        if any(named) and not all(named):
            raise ValueError("all optimizer params should be with/without names. Some param "
                             "names are missing")
        if all(named) and named:
            param_group["param_names"] = [name for name, _ in param_group["params"]]
            param_group["params"] = [p for _, p in param_group["params"]]
        if self.param_groups and ("param_names" in self.param_groups[0]) != (
                "param_names" in param_group):
            kind = "with" if "param_names" in param_group else "without"
            raise ValueError("all optimizer param groups should be with/without names. cannot "
                             f"add param group {kind} names to the optimizer")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of every optimized parameter (to None by default). With
        set_to_none=False each gradient is zeroed in place, cut from any graph
        (backward(create_graph=True)), and stays the same tensor, as torch's."""
        reset_grads((p for group in self.param_groups for p in group["params"]), set_to_none)

    def step(self, closure=None):
        raise NotImplementedError(f"{type(self).__name__} does not implement step()")

    def _stepped(self, group, init):
        """(parameter, its gradient (negated when maximizing), its state) for each parameter of
        `group` that has a gradient. A parameter's state starts as a zero step count plus
        `init(p)`; the step count is advanced before it is yielded. A complex parameter, its
        gradient and its complex state come as real views (see `real_view`); the yielded state
        is then a dict of those views, to update in place."""
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p]
            if not state:
                state["step"] = scalar_state(0.0)
                state.update(init(p))
            advance_step(state)
            grad = -p.grad if group["maximize"] else p.grad
            if p.is_complex():
                yield real_view(p), real_view(grad), {k: real_view(v) for k, v in state.items()}
            else:
                yield p, grad, state

    def _run_step(self, update, closure):
        """Shared step driver: closure under enable_grad, pre/post hooks, update under no_grad.
        Hooks see the step's arguments as torch's do, args = (optimizer, closure) (without a
        closure, (optimizer,)); a pre-hook may return new (args, kwargs), a new closure."""
        from ..autograd.grad_mode import enable_grad
        args, kwargs = ((self,) if closure is None else (self, closure)), {}
        for hook in [*_global_step_pre_hooks.values(), *self._optimizer_step_pre_hooks.values()]:
            result = hook(self, args, kwargs)
            if result is None:
                continue
            if not (isinstance(result, tuple) and len(result) == 2):
                raise RuntimeError(f"{type(self).__name__}.step pre-hook must return None or a "
                                   f"tuple of (new_args, new_kwargs), but got {result}.")
            args, kwargs = result
            closure = args[1] if len(args) > 1 else kwargs.get("closure")
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                update(group)
        for hook in [*self._optimizer_step_post_hooks.values(), *_global_step_post_hooks.values()]:
            hook(self, args, kwargs)
        return loss

    # ---- state dict -------------------------------------------------------------------
    def state_dict(self) -> dict:
        """{'state': {param index: state}, 'param_groups': [options + 'params': indices]}."""
        for hook in list(self._optimizer_state_dict_pre_hooks.values()):
            hook(self)
        index = {}
        groups = []
        start = 0
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                index.setdefault(id(p), i)
            packed["params"] = [index[id(p)] for p in group["params"]]
            start += len(group["params"])
            groups.append(packed)
        state = {index[id(p)]: v for p, v in self.state.items() if id(p) in index}
        result = {"state": state, "param_groups": groups}
        for hook in list(self._optimizer_state_dict_post_hooks.values()):
            new = hook(self, result)
            if new is not None:
                result = new
        return result

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore options and state saved by state_dict (ember's or torch's)."""
        state_dict = copy.deepcopy(dict(state_dict))
        for hook in list(self._optimizer_load_state_dict_pre_hooks.values()):
            new = hook(self, state_dict)
            if new is not None:
                state_dict = new
        groups = self.param_groups
        saved_groups = state_dict["param_groups"]
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        id_map = dict(zip(chain.from_iterable(s["params"] for s in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))
        state: defaultdict = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = {key: self._cast_state(param, key, value)
                                for key, value in v.items()}
            else:
                state[k] = v
        new_groups = []
        for group, saved in zip(groups, saved_groups):
            merged = {k: v for k, v in saved.items() if k != "params"}
            merged["params"] = group["params"]
            if "param_names" in group:
                merged.setdefault("param_names", group["param_names"])
            new_groups.append(merged)
        self.__setstate__({"state": state, "param_groups": new_groups})
        for hook in list(self._optimizer_load_state_dict_post_hooks.values()):
            hook(self)

    @staticmethod
    def _cast_state(param, key, value):
        if not isinstance(value, Tensor):
            return value
        if key == "step":
            return value.to(device=value.device)
        if param.is_floating_point():
            return value.to(dtype=param.dtype, device=param.device)
        return value.to(device=param.device)

    # ---- hooks --------------------------------------------------------------------------
    def register_step_pre_hook(self, hook) -> RemovableHandle:
        """hook(optimizer, args, kwargs) runs before each step."""
        return _hook_dict(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook) -> RemovableHandle:
        """hook(optimizer, args, kwargs) runs after each step."""
        return _hook_dict(self._optimizer_step_post_hooks, hook)

    def register_state_dict_pre_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """hook(optimizer) runs before state_dict() packs the state
        (first of them with `prepend`)."""
        return _hook_dict(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """hook(optimizer, state_dict) runs after state_dict(); it may return a replacement
        (first of them with `prepend`)."""
        return _hook_dict(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """hook(optimizer, state_dict) runs before load_state_dict(); it may return a replacement
        (first of them with `prepend`)."""
        return _hook_dict(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """hook(optimizer) runs after load_state_dict()
        (first of them with `prepend`)."""
        return _hook_dict(self._optimizer_load_state_dict_post_hooks, hook, prepend)


def check_range(name: str, value, low: float = 0.0, high: float | None = None,
                inclusive_high: bool = False) -> None:
    """Validate a hyper-parameter with torch's ValueError message; a tensor must hold one
    element (a 0-d lr tensor, e.g.)."""
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(f"Tensor {name} must be 1-element, but got {value.numel()} elements")
        value = value.item()
    if value < low or (high is not None and (value > high if inclusive_high else value >= high)):
        raise ValueError(f"Invalid {name}: {value}")


def real_view(value):
    """A complex tensor as its view_as_real, anything else as is. torch updates a complex
    parameter as independent real and imaginary coordinates (Adam's second moment squares each
    part, not |g|^2; Rprop takes each part's sign), writing through such views."""
    if isinstance(value, Tensor) and value.is_complex():
        from .._ops.misc import view_as_real
        return view_as_real(value)
    return value


def scalar_state(value: float = 0.0) -> Tensor:
    """The float32 0-d tensor torch keeps a parameter's step count in."""
    from .._ops.creation import tensor
    from .. import float32
    return tensor(value, dtype=float32)


def advance_step(state: dict) -> float:
    """Count one more step in a parameter's state (its 0-d "step" tensor, written in place as
    add_ would, without an op dispatch per parameter per step) and return the new count."""
    from ._fused import bump_versions
    count = state["step"]
    count._data += 1
    bump_versions(count)
    return float(count._data)
