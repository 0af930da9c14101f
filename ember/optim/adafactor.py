"""Adafactor: second moments factored into row and column means for matrices (Shazeer & Stern,
2018), with torch's relative step size, update clipping and decoupled weight decay."""
from __future__ import annotations

import math

from .._dtype import finfo
from .._ops.creation import zeros, zeros_like
from .._tensor import Tensor
from .optimizer import Optimizer


def check_at_least(what: str, value, low: float = 0.0) -> None:
    """Validate a hyper-parameter with the message torch's newer optimizers use
    ("<what> should be >= <low> but is: <value>"); a tensor lr must hold one element."""
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        value = value.item()
    if not value >= low:
        raise ValueError(f"{what} should be >= {low:g} but is: {value}")


def refuse_complex(name: str, group: dict) -> None:
    """torch's Adafactor and Muon refuse a complex parameter with a gradient when stepping,
    before any state is made for it."""
    if any(p.grad is not None and p.is_complex() for p in group["params"]):
        raise RuntimeError(f"{name} does not support complex parameters")


def _second_moment_state(p) -> dict:
    """Zero second-moment state: row and column means over the last two dimensions for a
    parameter of 2 or more dimensions (factored), an elementwise variance otherwise."""
    if p.dim() < 2:
        return {"variance": zeros_like(p)}
    shape = tuple(p.shape)
    return {"row_var": zeros(shape[:-1] + (1,), dtype=p.dtype, device=p.device),
            "col_var": zeros(shape[:-2] + (1, shape[-1]), dtype=p.dtype, device=p.device)}


class Adafactor(Optimizer):
    """Adafactor, following torch's update order: the step size is the relative step
    min(lr, 1/sqrt(t)) scaled by the parameter's RMS (at least eps[1]), and an update whose RMS
    exceeds `d` is scaled down to it. eps[0] (None: the dtype's machine epsilon) bounds the
    variance estimate from below.

    >>> import ember
    >>> w = ember.nn.Parameter(ember.ones(2, 2))
    >>> opt = ember.optim.Adafactor([w], lr=0.1)
    >>> (w * w).sum().backward(); _ = opt.step(); w.detach()
    tensor([[0.9000, 0.9000],
            [0.9000, 0.9000]])
    """

    def __init__(self, params, lr: float | Tensor = 1e-2, beta2_decay: float = -0.8,
                 eps: tuple = (None, 1e-3), d: float = 1.0, weight_decay: float = 0.0, *,
                 foreach: bool | None = None, maximize: bool = False):
        check_at_least("Learning rate", lr)
        if not beta2_decay <= 0:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None:
            check_at_least("epsilon1", eps[0])
        check_at_least("epsilon2", eps[1])
        check_at_least("Clipping threshold d", d, 1.0)
        check_at_least("weight_decay", weight_decay)
        super().__init__(params, dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d,
                                      weight_decay=weight_decay, foreach=foreach,
                                      maximize=maximize))

    def step(self, closure=None):
        """One Adafactor update of every parameter that has a gradient."""
        return self._run_step(self._update, closure)

    def _update(self, group):
        refuse_complex("Adafactor", group)
        lr, beta2_decay, d = float(group["lr"]), group["beta2_decay"], group["d"]
        eps1, eps2 = group["eps"]
        wd = group["weight_decay"]
        for p, grad, state in self._stepped(group, _second_moment_state):
            step = state["step"].item()
            floor = finfo(p.dtype).eps if eps1 is None else eps1
            one_minus_beta2 = step ** beta2_decay
            relative_step = min(lr, 1 / math.sqrt(step))
            param_rms = p.norm(2).item() / math.sqrt(p.numel())
            alpha = max(eps2, param_rms) * relative_step
            if wd != 0:
                p.mul_(1 - lr * wd)
            if grad.dim() > 1:
                row_var, col_var = state["row_var"], state["col_var"]
                row_var.lerp_(grad.norm(dim=-1, keepdim=True).square_().div_(grad.size(-1)),
                              one_minus_beta2)
                col_var.lerp_(grad.norm(dim=-2, keepdim=True).square_().div_(grad.size(-2)),
                              one_minus_beta2)
                variance = row_var @ col_var
                variance.div_(row_var.mean(dim=-2, keepdim=True).clamp_(min=floor))
            else:
                state["variance"].lerp_(grad * grad, one_minus_beta2)
                variance = state["variance"].clone()
            update = variance.clamp_(min=floor * floor).rsqrt_().mul_(grad)
            p.add_(update, alpha=-alpha / max(1.0, update.norm(2).item()
                                              / (math.sqrt(update.numel()) * d)))
