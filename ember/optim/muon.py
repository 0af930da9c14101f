"""Muon: momentum SGD whose update is orthogonalized by a Newton-Schulz iteration, for the 2-D
weights of hidden layers (Jordan et al., 2024)."""
from __future__ import annotations

import math

from .. import bfloat16
from .._ops.creation import zeros_like
from .._ops.linalg import addmm
from .._tensor import Tensor
from .adafactor import check_at_least, refuse_complex
from .optimizer import Optimizer

_ADJUST_LR_FNS = ("original", "match_rms_adamw")


def orthogonalize(update: Tensor, coefficients: tuple, steps: int, eps: float) -> Tensor:
    """`steps` iterations of the quintic Newton-Schulz map X <- aX + (bA + cA^2)X, A = XX^T,
    from the update scaled to unit Frobenius norm (at least `eps`); in bfloat16, as torch's
    Muon, on the wide orientation of the matrix. The result is bfloat16."""
    a, b, c = coefficients
    x = update.to(bfloat16)
    tall = x.size(0) > x.size(1)
    if tall:
        x = x.T
    x = x / x.norm().clamp(min=eps)
    for _ in range(steps):
        gram = x @ x.T
        x = addmm(x, addmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    return x.T if tall else x


def adjusted_lr(lr: float, adjust_lr_fn: str | None, shape) -> float:
    """The learning rate for a (rows, cols) weight: "original" (the default) scales by
    sqrt(max(1, rows/cols)); "match_rms_adamw" by 0.2 * sqrt(max(rows, cols)), to match the
    RMS of an AdamW update."""
    rows, cols = shape
    if adjust_lr_fn in (None, "original"):
        return lr * math.sqrt(max(1, rows / cols))
    return 0.2 * math.sqrt(max(rows, cols)) * lr


class Muon(Optimizer):
    """Muon, following torch's update order: the momentum buffer is an exponential average of
    the gradients, the (Nesterov) update is orthogonalized in bfloat16, and weight decay is
    decoupled. Only 2-D parameters; optimize biases and embeddings with e.g. AdamW.

    >>> import ember
    >>> w = ember.nn.Parameter(ember.eye(2))
    >>> opt = ember.optim.Muon([w], lr=0.1, weight_decay=0.0)
    >>> (w * w).sum().backward(); _ = opt.step(); w.detach()
    tensor([[0.8875, 0.0000],
            [0.0000, 0.8875]])
    """

    def __init__(self, params, lr: float | Tensor = 1e-3, weight_decay: float = 0.1,
                 momentum: float = 0.95, nesterov: bool = True,
                 ns_coefficients: tuple = (3.4445, -4.775, 2.0315), eps: float = 1e-7,
                 ns_steps: int = 5, adjust_lr_fn: str | None = None):
        check_at_least("Learning rate", lr)
        check_at_least("weight decay", weight_decay)
        check_at_least("momentum", momentum)
        if adjust_lr_fn is not None and adjust_lr_fn not in _ADJUST_LR_FNS:
            raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum,
                                      nesterov=nesterov, ns_coefficients=ns_coefficients,
                                      eps=eps, ns_steps=ns_steps, adjust_lr_fn=adjust_lr_fn))
        for group in self.param_groups:
            for p in group["params"]:
                if p.dim() != 2:
                    raise ValueError("Muon only supports 2D parameters whereas we found a "
                                     f"parameter with size: {p.shape}")

    def step(self, closure=None):
        """One Muon update of every parameter that has a gradient."""
        return self._run_step(self._update, closure)

    def _update(self, group):
        refuse_complex("Muon", group)
        lr, wd, momentum = float(group["lr"]), group["weight_decay"], group["momentum"]
        coefficients, steps = group["ns_coefficients"], group["ns_steps"]
        if steps >= 100:
            raise ValueError("Number of steps must be less than 100 for computational efficiency")
        if len(coefficients) != 3:
            raise ValueError("Coefficients must be a tuple of exactly 3 values")
        for p in group["params"]:
            grad = p.grad
            if grad is None:
                continue
            if grad.dim() != 2:
                raise ValueError("Param gradient must be a 2D matrix")
            state = self.state[p]
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = zeros_like(grad)
            buf = state["momentum_buffer"].lerp_(grad, 1 - momentum)
            update = grad.lerp(buf, momentum) if group["nesterov"] else buf
            ortho = orthogonalize(update, coefficients, steps, group["eps"])
            p.mul_(1 - lr * wd)
            p.add_(ortho, alpha=-adjusted_lr(lr, group["adjust_lr_fn"], p.shape))
