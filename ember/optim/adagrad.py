"""Adagrad: per-coordinate steps scaled by the accumulated squared gradients (Duchi et al.)."""
from __future__ import annotations

from .._ops.creation import full_like
from .optimizer import Optimizer, advance_step, check_range, real_view, scalar_state


class Adagrad(Optimizer):
    """Adagrad with learning-rate decay; state is created for every parameter up front, as
    torch does, so `state_dict()` lists it before the first step.

    >>> import ember
    >>> w = ember.nn.Parameter(ember.ones(2))
    >>> opt = ember.optim.Adagrad([w], lr=0.1)
    >>> (w * w).sum().backward(); _ = opt.step(); w.detach()
    tensor([0.9000, 0.9000])
    """

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, foreach=None, *,
                 maximize: bool = False, differentiable: bool = False, fused=None):
        check_range("learning rate", lr)
        check_range("lr_decay value", lr_decay)
        check_range("weight_decay value", weight_decay)
        check_range("initial_accumulator_value value", initial_accumulator_value)
        check_range("epsilon value", eps)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps,
                                      weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      foreach=foreach, maximize=maximize,
                                      differentiable=differentiable, fused=fused))
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p)

    def _init_state(self, p) -> dict:
        """A zero step count and the accumulator; a complex parameter's starts at
        value + value*1j, as torch's (each real coordinate starts at the value)."""
        state = self.state[p]
        value = self.defaults["initial_accumulator_value"]
        state["step"] = scalar_state(0.0)
        state["sum"] = full_like(p, complex(value, value) if p.is_complex() else value)
        return state

    def share_memory(self) -> None:
        """Kept for torch compatibility: state lives in one process here."""

    def step(self, closure=None):
        """One Adagrad update of every parameter that has a gradient."""
        return self._run_step(self._update, closure)

    def _update(self, group):
        lr, lr_decay = float(group["lr"]), group["lr_decay"]
        eps, wd = group["eps"], group["weight_decay"]
        for p in group["params"]:
            if p.grad is None:
                continue
            grad = p.grad if not group["maximize"] else -p.grad
            state = self.state[p] or self._init_state(p)
            step = advance_step(state)
            if wd != 0:
                grad = grad.add(p, alpha=wd)
            clr = lr / (1 + (step - 1) * lr_decay)
            grad = real_view(grad)
            state_sum = real_view(state["sum"]).addcmul_(grad, grad, value=1)
            real_view(p).addcdiv_(grad, state_sum.sqrt().add_(eps), value=-clr)
