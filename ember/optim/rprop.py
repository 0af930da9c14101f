"""Rprop: sign-based steps with per-coordinate adaptive step sizes (Riedmiller & Braun)."""
from __future__ import annotations

from .._ops.creation import full_like, ones_like, zeros_like
from .._ops.pointwise import where
from .optimizer import Optimizer, check_range


class Rprop(Optimizer):
    """Resilient backpropagation: each step size grows by etas[1] while the gradient keeps its
    sign and shrinks by etas[0] when it flips (that coordinate then skips one update).

    >>> import ember
    >>> w = ember.nn.Parameter(ember.ones(2))
    >>> opt = ember.optim.Rprop([w], lr=0.1)
    >>> (w * w).sum().backward(); _ = opt.step(); w.detach()
    tensor([0.9000, 0.9000])
    """

    def __init__(self, params, lr: float = 1e-2, etas: tuple = (0.5, 1.2),
                 step_sizes: tuple = (1e-6, 50), *, capturable: bool = False, foreach=None,
                 maximize: bool = False, differentiable: bool = False):
        check_range("learning rate", lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        super().__init__(params, dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable,
                                      capturable=capturable))

    def step(self, closure=None):
        """One Rprop update of every parameter that has a gradient."""
        return self._run_step(self._update, closure)

    def _update(self, group):
        etaminus, etaplus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]
        def init(p):
            # a complex parameter's parts step independently: both start at lr
            lr = float(group["lr"])
            state = {}
            state["prev"] = zeros_like(p)
            state["step_size"] = full_like(p, complex(lr, lr) if p.is_complex() else lr)
            return state

        for p, grad, state in self._stepped(group, init):
            prev, step_size = state["prev"], state["step_size"]
            agreement = grad.mul(prev)
            factor = where(agreement > 0, etaplus,
                           where(agreement < 0, etaminus, ones_like(agreement)))
            step_size.mul_(factor).clamp_(step_size_min, step_size_max)
            # after a sign flip the coordinate stays put and forgets its gradient
            grad = where(agreement < 0, 0.0, grad)
            p.addcmul_(grad.sign(), step_size, value=-1)
            prev.copy_(grad)
