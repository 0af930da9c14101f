"""Adadelta: steps sized by the ratio of running RMS of updates and gradients (Zeiler)."""
from __future__ import annotations

from .._ops.creation import zeros_like
from .optimizer import Optimizer, check_range


class Adadelta(Optimizer):
    """Adadelta, following torch's update order.

    >>> import ember
    >>> w = ember.nn.Parameter(ember.ones(2))
    >>> opt = ember.optim.Adadelta([w])
    >>> (w * w).sum().backward(); _ = opt.step(); w.detach()
    tensor([0.9968, 0.9968])
    """

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach=None, *, capturable: bool = False,
                 maximize: bool = False, differentiable: bool = False):
        check_range("learning rate", lr)
        check_range("rho value", rho, 0.0, 1.0, inclusive_high=True)
        check_range("epsilon value", eps)
        check_range("weight_decay value", weight_decay)
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize, capturable=capturable,
                                      foreach=foreach, differentiable=differentiable))

    def step(self, closure=None):
        """One Adadelta update of every parameter that has a gradient."""
        return self._run_step(self._update, closure)

    def _update(self, group):
        lr, rho, eps, wd = float(group["lr"]), group["rho"], group["eps"], group["weight_decay"]
        def init(p):
            state = {}
            state["square_avg"] = zeros_like(p)
            state["acc_delta"] = zeros_like(p)
            return state

        for p, grad, state in self._stepped(group, init):
            square_avg, acc_delta = state["square_avg"], state["acc_delta"]
            if wd != 0:
                grad = grad.add(p, alpha=wd)
            square_avg.mul_(rho).addcmul_(grad, grad, value=1 - rho)
            std = square_avg.add(eps).sqrt_()
            delta = acc_delta.add(eps).sqrt_().div_(std).mul_(grad)
            acc_delta.mul_(rho).addcmul_(delta, delta, value=1 - rho)
            p.add_(delta, alpha=-lr)
