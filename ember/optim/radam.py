"""RAdam: Adam with a variance rectification term (Liu et al., 2019)."""
from __future__ import annotations

from .._ops.creation import zeros_like
from .optimizer import Optimizer, check_range


class RAdam(Optimizer):
    """RAdam, following torch's update order; plain momentum SGD while the variance estimate
    is not yet reliable (rho_t <= 5). `decoupled_weight_decay` gives RAdamW.

    >>> import ember
    >>> w = ember.nn.Parameter(ember.ones(2))
    >>> opt = ember.optim.RAdam([w], lr=0.1)
    >>> (w * w).sum().backward(); _ = opt.step(); w.detach()
    tensor([0.8000, 0.8000])
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, decoupled_weight_decay: bool = False, *,
                 foreach=None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False):
        check_range("learning rate", lr)
        check_range("epsilon value", eps)
        check_range("beta parameter at index 0", betas[0], 0.0, 1.0)
        check_range("beta parameter at index 1", betas[1], 0.0, 1.0)
        check_range("weight_decay value", weight_decay)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize, foreach=foreach, capturable=capturable,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      differentiable=differentiable))

    def step(self, closure=None):
        """One RAdam update of every parameter that has a gradient."""
        return self._run_step(self._update, closure)

    def _update(self, group):
        beta1, beta2 = group["betas"]
        lr, eps, wd = float(group["lr"]), group["eps"], group["weight_decay"]
        rho_inf = 2 / (1 - beta2) - 1
        def init(p):
            state = {}
            state["exp_avg"] = zeros_like(p)
            state["exp_avg_sq"] = zeros_like(p)
            return state

        for p, grad, state in self._stepped(group, init):
            exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
            step = state["step"].item()
            if wd != 0:
                if group["decoupled_weight_decay"]:
                    p.mul_(1 - lr * wd)
                else:
                    grad = grad.add(p, alpha=wd)
            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            bias_correction1 = 1 - beta1 ** step
            bias_correction2 = 1 - beta2 ** step
            update = exp_avg / bias_correction1 * lr
            rho_t = rho_inf - 2 * step * beta2 ** step / bias_correction2
            if rho_t > 5.0:
                rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                        / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
                adaptive_lr = bias_correction2 ** 0.5 / exp_avg_sq.sqrt().add_(eps)
                update = update * adaptive_lr * rect
            p.add_(update, alpha=-1.0)
