"""Adamax: Adam with an infinity-norm second moment, following torch's update order."""
from __future__ import annotations

from .._ops.creation import zeros_like
from .optimizer import Optimizer, check_range


class Adamax(Optimizer):
    """Adamax (Kingma & Ba, section 7): the step is scaled by a decaying max of |grad|.

    >>> import ember
    >>> w = ember.nn.Parameter(ember.ones(2))
    >>> opt = ember.optim.Adamax([w], lr=0.1)
    >>> (w * w).sum().backward(); _ = opt.step(); w
    Parameter containing:
    tensor([0.9000, 0.9000], requires_grad=True)
    """

    def __init__(self, params, lr: float = 2e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, foreach=None, *, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False):
        check_range("learning rate", lr)
        check_range("epsilon value", eps)
        check_range("beta parameter at index 0", betas[0], 0.0, 1.0)
        check_range("beta parameter at index 1", betas[1], 0.0, 1.0)
        check_range("weight_decay value", weight_decay)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize,
                                      differentiable=differentiable, capturable=capturable))

    def step(self, closure=None):
        """One Adamax update of every parameter that has a gradient."""
        return self._run_step(self._update, closure)

    def _update(self, group):
        beta1, beta2 = group["betas"]
        lr, eps, wd = float(group["lr"]), group["eps"], group["weight_decay"]
        def init(p):
            state = {}
            state["exp_avg"] = zeros_like(p)
            state["exp_inf"] = zeros_like(p)
            return state

        for p, grad, state in self._stepped(group, init):
            exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
            if wd != 0:
                grad = grad.add(p, alpha=wd)
            exp_avg.lerp_(grad, 1 - beta1)
            exp_inf.copy_(exp_inf.mul_(beta2).maximum(grad.abs().add_(eps)))
            clr = lr / (1 - beta1 ** state["step"].item())
            p.addcdiv_(exp_avg, exp_inf, value=-clr)
