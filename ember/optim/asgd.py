"""ASGD: SGD with Polyak-Ruppert averaging of the iterates (Polyak & Juditsky, 1992)."""
from __future__ import annotations

from .._ops.creation import zeros_like
from .optimizer import Optimizer, check_range, scalar_state


class ASGD(Optimizer):
    """Averaged SGD: state "ax" holds the running average of the parameter, which starts
    after step t0; "eta" is the decayed step size and "mu" the averaging weight.

    >>> import ember
    >>> w = ember.nn.Parameter(ember.ones(2))
    >>> opt = ember.optim.ASGD([w], lr=0.1)
    >>> (w * w).sum().backward(); _ = opt.step(); w.detach()
    tensor([0.8000, 0.8000])
    """

    def __init__(self, params, lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75,
                 t0: float = 1e6, weight_decay: float = 0, foreach=None, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False):
        check_range("learning rate", lr)
        check_range("weight_decay value", weight_decay)
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0,
                                      weight_decay=weight_decay, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable,
                                      capturable=capturable))

    def step(self, closure=None):
        """One ASGD update of every parameter that has a gradient."""
        return self._run_step(self._update, closure)

    def _update(self, group):
        lr, lambd, alpha = float(group["lr"]), group["lambd"], group["alpha"]
        t0, wd = group["t0"], group["weight_decay"]
        def init(p):
            state = {}
            state["eta"] = scalar_state(lr)
            state["mu"] = scalar_state(1.0)
            state["ax"] = zeros_like(p)
            return state

        for p, grad, state in self._stepped(group, init):
            ax, eta, mu = state["ax"], state["eta"], state["mu"]
            step = state["step"].item()
            if wd != 0:
                grad = grad.add(p, alpha=wd)
            eta_value = eta.item()
            p.mul_(1 - lambd * eta_value)
            p.add_(grad, alpha=-eta_value)
            if mu.item() != 1:
                ax.add_(p.sub(ax).mul_(mu))
            else:
                ax.copy_(p)
            eta.fill_(lr / (1 + lambd * lr * step) ** alpha)
            mu.fill_(1 / max(1, step - t0))
