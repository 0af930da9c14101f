"""One-pass numba forms of the update kernels in _fused.py (imported only when numba is on).

Each walks the flat arrays once, reading and writing every element of param, grad and state a
single time, where the NumPy forms make one pass per operation over cache-sized blocks. The
arithmetic is in the arrays' dtype and in torch's order (float32 stays float32); only
multiply-add contraction is allowed, so results are torch's to an ulp or so.
"""
from __future__ import annotations

import math

from numba import njit

_OPTS = {"fastmath": {"contract"}, "error_model": "numpy", "cache": True}


@njit(**_OPTS)
def adam(p, g, m, v, vmax, amsgrad, maximize, weight_decay, decay, lerp_weight, lerp_rest,
         beta2, one_minus_beta2, bias_correction2_sqrt, eps, step_size):
    """Adam/AdamW over flat arrays: `weight_decay` is the L2 term added to the gradient (zero
    for AdamW), `decay` the decoupled factor on the parameter (one for Adam); the moment's
    lerp runs from the gradient side when lerp_weight >= 0.5 (lerp_rest = 1 - lerp_weight)."""
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
def sgd_momentum(p, g, b, maximize, weight_decay, momentum, damp, nesterov, neg_lr):
    """SGD with an existing momentum buffer over flat arrays (`damp` = 1 - dampening)."""
    for i in range(p.size):
        gi = -g[i] if maximize else g[i]
        pi = p[i]
        if weight_decay != 0:
            gi = gi + pi * weight_decay
        bi = b[i] * momentum + gi * damp
        b[i] = bi
        p[i] = pi + (gi + bi * momentum if nesterov else bi) * neg_lr
