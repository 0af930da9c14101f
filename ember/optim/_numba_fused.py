"""One-pass numba forms of the update kernels in _fused.py (imported only when numba is on).

Each takes one tuple of flat arrays per operand, an entry per parameter (unused entries are
empty), so a call updates a whole chunk of a group's parameters: one dispatch where a call per
parameter cost 3-5 us. Each walks its arrays once, reading and writing every element of param,
grad and state a single time. The arithmetic is in the arrays' dtype and in torch's order
(float32 stays float32); only multiply-add contraction is allowed, so results are torch's to
an ulp or so.
"""
from __future__ import annotations

import math

from numba import njit

_OPTS = {"fastmath": {"contract"}, "error_model": "numpy", "cache": True}


@njit(**_OPTS)
def adam(ps, gs, ms, vs, vmaxs, step_sizes, bias_corrections2_sqrt, amsgrad, maximize,
         weight_decay, decay, lerp_weight, lerp_rest, beta2, one_minus_beta2, eps):
    """Adam/AdamW: `weight_decay` is the L2 term added to the gradient (zero for AdamW),
    `decay` the decoupled factor on the parameter (one for Adam); the moment's lerp runs from
    the gradient side when lerp_weight >= 0.5 (lerp_rest = 1 - lerp_weight). Each parameter
    has its own step size and bias correction (its own step count)."""
    for j in range(len(ps)):
        p, g, m, v, vmax = ps[j], gs[j], ms[j], vs[j], vmaxs[j]
        step_size, bias_correction2_sqrt = step_sizes[j], bias_corrections2_sqrt[j]
        for i in range(p.size):
            gi = -g[i] if maximize else g[i]
            pi = p[i]
            if weight_decay != 0:
                gi = gi + pi * weight_decay
            pi = pi * decay
            d = gi - m[i]
            mi = m[i] + d * lerp_weight if lerp_weight < 0.5 else gi - d * lerp_rest
            vi = v[i] * beta2 + gi * gi * one_minus_beta2
            m[i] = mi
            v[i] = vi
            if amsgrad:
                vi = max(vmax[i], vi)
                vmax[i] = vi
            p[i] = pi + (mi / (math.sqrt(vi) / bias_correction2_sqrt + eps)) * step_size


@njit(**_OPTS)
def sgd_momentum(ps, gs, bs, maximize, weight_decay, momentum, damp, nesterov, neg_lr):
    """SGD with existing momentum buffers (`damp` = 1 - dampening)."""
    for j in range(len(ps)):
        p, g, b = ps[j], gs[j], bs[j]
        for i in range(p.size):
            gi = -g[i] if maximize else g[i]
            pi = p[i]
            if weight_decay != 0:
                gi = gi + pi * weight_decay
            bi = b[i] * momentum + gi * damp
            b[i] = bi
            p[i] = pi + (gi + bi * momentum if nesterov else bi) * neg_lr
