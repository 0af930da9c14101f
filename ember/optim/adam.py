"""Adam and AdamW (decoupled weight decay), with AMSGrad, following torch's update order."""
from __future__ import annotations

import math

from .._ops.creation import zeros_like
from . import _fused
from .optimizer import Optimizer, advance_step, check_range, real_view, scalar_state


class Adam(Optimizer):
    """Adam: moment estimates with bias correction (Kingma & Ba).

    >>> import ember
    >>> w = ember.nn.Parameter(ember.ones(2))
    >>> opt = ember.optim.Adam([w], lr=0.1)
    >>> (w * w).sum().backward(); _ = opt.step(); w
    Parameter containing:
    tensor([0.9000, 0.9000], requires_grad=True)
    """

    decoupled_weight_decay = False

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, foreach=None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False,
                 fused=None, decoupled_weight_decay: bool | None = None):
        check_range("learning rate", lr)
        check_range("epsilon value", eps)
        check_range("beta parameter at index 0", betas[0], 0.0, 1.0)
        check_range("beta parameter at index 1", betas[1], 0.0, 1.0)
        check_range("weight_decay value", weight_decay)
        decoupled = self.decoupled_weight_decay if decoupled_weight_decay is None \
            else decoupled_weight_decay
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                                      capturable=capturable, differentiable=differentiable,
                                      fused=fused, decoupled_weight_decay=decoupled))

    @classmethod
    def _option_defaults(cls) -> dict:
        """The constructor's defaults, with this class's decoupled_weight_decay (AdamW's
        constructor does not take it)."""
        return {**super()._option_defaults(), "decoupled_weight_decay": cls.decoupled_weight_decay}

    def step(self, closure=None):
        """One Adam update of every parameter that has a gradient."""
        return self._run_step(self._update, closure)

    def _update(self, group):
        beta1, beta2 = (float(beta) for beta in group["betas"])  # 0-d tensors allowed, as torch
        lr, eps, wd = float(group["lr"]), group["eps"], group["weight_decay"]
        amsgrad, maximize = group["amsgrad"], group["maximize"]
        decoupled = group.get("decoupled_weight_decay", self.decoupled_weight_decay)
        fusable = not group.get("differentiable")
        batches: dict = {}  # (namespace, dtype) -> the updates the fused kernels make
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p]
            if not state:
                state["step"] = scalar_state(0.0)
                state["exp_avg"] = zeros_like(p)
                state["exp_avg_sq"] = zeros_like(p)
                if amsgrad:
                    state["max_exp_avg_sq"] = zeros_like(p)
            exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
            step = advance_step(state)
            bias_correction1 = 1 - beta1 ** step
            bias_correction2_sqrt = math.sqrt(1 - beta2 ** step)
            written = (p, exp_avg, exp_avg_sq) + ((state["max_exp_avg_sq"],) if amsgrad else ())
            fused = _fused.arrays_of(p.grad, *written) if fusable else None
            if fused is not None:
                xp, (grad, param, *moments) = fused
                batches.setdefault((xp, grad.dtype), []).append(
                    (param, grad, moments[0], moments[1], moments[2] if amsgrad else None,
                     bias_correction1, bias_correction2_sqrt))
                _fused.bump_versions(*written)
                continue
            grad = p.grad if not maximize else -p.grad
            if wd != 0:
                if decoupled:
                    p.mul_(1 - lr * wd)
                else:
                    grad = grad.add(p, alpha=wd)
            param, grad = real_view(p), real_view(grad)
            exp_avg, exp_avg_sq = real_view(exp_avg), real_view(exp_avg_sq)
            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            if amsgrad:
                max_sq = real_view(state["max_exp_avg_sq"])
                max_sq.copy_(max_sq.maximum(exp_avg_sq))
                denom = (max_sq.sqrt() / bias_correction2_sqrt).add_(eps)
            else:
                denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
            param.addcdiv_(exp_avg, denom, value=-lr / bias_correction1)
        for (xp, _), updates in batches.items():
            _fused.adam(xp, updates, beta1=beta1, beta2=beta2, lr=lr, eps=eps, weight_decay=wd,
                        decoupled=decoupled, maximize=maximize)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter); weight_decay defaults to 0.01."""

    decoupled_weight_decay = True

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False,
                 foreach=None, capturable: bool = False, differentiable: bool = False,
                 fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
