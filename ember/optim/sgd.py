"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""
from __future__ import annotations

from . import _fused
from .optimizer import Optimizer, check_range


class SGD(Optimizer):
    """SGD, following torch's update order exactly.

    >>> import ember
    >>> w = ember.nn.Parameter(ember.ones(2))
    >>> opt = ember.optim.SGD([w], lr=0.1, momentum=0.9)
    >>> (w * w).sum().backward(); _ = opt.step(); w
    Parameter containing:
    tensor([0.8000, 0.8000], requires_grad=True)
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False,
                 foreach=None, differentiable: bool = False, fused=None):
        check_range("learning rate", lr)
        check_range("momentum value", momentum)
        check_range("weight_decay value", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize, foreach=foreach,
                                      differentiable=differentiable, fused=fused))

    def step(self, closure=None):
        """One update of every parameter that has a gradient."""
        return self._run_step(self._update, closure)

    def _update(self, group):
        lr, momentum, dampening = float(group["lr"]), group["momentum"], group["dampening"]
        wd, nesterov, maximize = group["weight_decay"], group["nesterov"], group["maximize"]
        fusable = momentum != 0 and not group.get("differentiable")
        batches: dict = {}  # (namespace, dtype) -> the updates the fused kernels make
        for p in group["params"]:
            if p.grad is None:
                continue
            buf = self.state[p].get("momentum_buffer") if fusable else None
            fused = None if buf is None else _fused.arrays_of(p.grad, p, buf)
            if fused is not None:
                xp, (grad, param, buffer) = fused
                batches.setdefault((xp, grad.dtype), []).append((param, grad, buffer))
                _fused.bump_versions(p, buf)
                continue
            d_p = p.grad if not maximize else -p.grad
            if wd != 0:
                d_p = d_p.add(p, alpha=wd)
            if momentum != 0:
                state = self.state[p]
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = d_p.clone().detach()
                else:
                    buf.mul_(momentum).add_(d_p, alpha=1 - dampening)
                d_p = d_p.add(buf, alpha=momentum) if nesterov else buf
            p.add_(d_p, alpha=-lr)
        for (xp, _), updates in batches.items():
            _fused.sgd_momentum(xp, updates, lr=lr, momentum=momentum, dampening=dampening,
                                weight_decay=wd, nesterov=nesterov, maximize=maximize)
