"""Per-parameter update kernels on raw arrays for the hot optimizers (Adam/AdamW, SGD).

An update written in tensor ops costs one dispatch and one full pass over memory per op, plus
tensor-sized temporaries. These kernels compute the same formulas, in torch's order, block by
block: each block's operands and temporaries stay in cache, and there is no per-op dispatch.
They run under the optimizer's no_grad step, so they only bump the version counters of the
tensors they write. Callers fall back to the tensor-op path when `arrays_of` refuses. With
numba on (_backend.accel), CPU arrays go through the one-pass forms of _numba_fused instead.
"""
from __future__ import annotations

import sys

import numpy as np

from .._backend import namespace
from .._backend.accel import cpu_fuser

# Elements per block: five float32 operands of a block (param, grad, two moments, a temporary)
# take ~640 KB, inside a 1-2 MB L2 cache.
_BLOCK = 1 << 15
# A parameter from this size on brings in the numba forms; once they are loaded, parameters
# of every size take them (3-5 us a call where the NumPy form takes 9-15 us). Models of only
# small parameters never pay for importing numba.
_ONE_PASS_MIN = 1 << 12


def arrays_of(*tensors):
    """(xp, arrays) when every tensor is a same-shape, same-dtype float32/float64, C-contiguous
    array on one device (what the kernels walk block by block); otherwise None."""
    first = tensors[0]
    dtype, dev, shape = first._data.dtype, first._device, first._data.shape
    if dtype.kind != "f" or dtype.itemsize < 4:
        return None
    arrays = []
    for t in tensors:
        data = t._data
        if (data.dtype != dtype or (t._device is not dev and t._device != dev)
                or data.shape != shape or not data.flags.c_contiguous):
            return None
        arrays.append(data.reshape(-1))
    return namespace(dev), arrays


def bump_versions(*tensors) -> None:
    """Record an in-place write on each tensor (saved-tensor checks compare these counters)."""
    for t in tensors:
        t._vbox[0] += 1


def _blocks(n: int):
    for start in range(0, n, _BLOCK):
        yield slice(start, start + _BLOCK)


def _one_pass(xp, size: int):
    """The numba kernels when they apply (CPU arrays, numba on, and this parameter large or
    the kernels loaded already), else None."""
    if xp is not np or cpu_fuser() != "numba":
        return None
    loaded = sys.modules.get(f"{__package__}._numba_fused")
    if loaded is not None or size < _ONE_PASS_MIN:
        return loaded
    from . import _numba_fused
    return _numba_fused


def _lerp_into(xp, m, g, weight, tmp) -> None:
    """m.lerp_(g, weight) as torch computes it (from `g` when weight >= 0.5)."""
    xp.subtract(g, m, out=tmp)
    if weight < 0.5:
        tmp *= weight
        m += tmp
    else:
        tmp *= 1 - weight
        xp.subtract(g, tmp, out=m)


def adam(xp, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *, beta1, beta2, lr, eps,
         weight_decay, decoupled, maximize, bias_correction1, bias_correction2_sqrt) -> None:
    """One Adam/AdamW update (flat arrays; max_exp_avg_sq None without AMSGrad)."""
    kernels = _one_pass(xp, param.size)
    if kernels is not None:
        dt = param.dtype.type
        kernels.adam(param, grad, exp_avg, exp_avg_sq,
                     exp_avg_sq if max_exp_avg_sq is None else max_exp_avg_sq,
                     max_exp_avg_sq is not None, maximize,
                     dt(0 if decoupled else weight_decay),
                     dt(1 - lr * weight_decay if decoupled else 1), dt(1 - beta1),
                     dt(1 - (1 - beta1)), dt(beta2), dt(1 - beta2), dt(bias_correction2_sqrt),
                     dt(eps), dt(-lr / bias_correction1))
        return
    size = min(param.size, _BLOCK)
    tmp = xp.empty(size, dtype=param.dtype)
    adjust = maximize or (weight_decay != 0 and not decoupled)
    gbuf = xp.empty(size, dtype=param.dtype) if adjust else None
    step_size = -lr / bias_correction1
    for sl in _blocks(param.size):
        p, g, m, v = param[sl], grad[sl], exp_avg[sl], exp_avg_sq[sl]
        t = tmp[:p.size]
        if adjust:
            gb = gbuf[:p.size]
            if maximize:
                xp.negative(g, out=gb)
            else:
                gb[...] = g
            if weight_decay != 0 and not decoupled:
                xp.multiply(p, weight_decay, out=t)
                gb += t
            g = gb
        if weight_decay != 0 and decoupled:
            p *= 1 - lr * weight_decay
        _lerp_into(xp, m, g, 1 - beta1, t)
        v *= beta2
        xp.multiply(g, g, out=t)
        t *= 1 - beta2
        v += t
        if max_exp_avg_sq is not None:
            vmax = max_exp_avg_sq[sl]
            xp.maximum(vmax, v, out=vmax)
            v = vmax
        xp.sqrt(v, out=t)
        t /= bias_correction2_sqrt
        t += eps
        xp.divide(m, t, out=t)
        t *= step_size
        p += t


def sgd_momentum(xp, param, grad, buf, *, lr, momentum, dampening, weight_decay, nesterov,
                 maximize) -> None:
    """One SGD update with an existing momentum buffer (flat arrays)."""
    kernels = _one_pass(xp, param.size)
    if kernels is not None:
        dt = param.dtype.type
        kernels.sgd_momentum(param, grad, buf, maximize, dt(weight_decay), dt(momentum),
                             dt(1 - dampening), nesterov, dt(-lr))
        return
    size = min(param.size, _BLOCK)
    tmp = xp.empty(size, dtype=param.dtype)
    adjust = maximize or weight_decay != 0
    gbuf = xp.empty(size, dtype=param.dtype) if adjust else None
    for sl in _blocks(param.size):
        p, g, b = param[sl], grad[sl], buf[sl]
        t = tmp[:p.size]
        if adjust:
            gb = gbuf[:p.size]
            if maximize:
                xp.negative(g, out=gb)
            else:
                gb[...] = g
            if weight_decay != 0:
                xp.multiply(p, weight_decay, out=t)
                gb += t
            g = gb
        b *= momentum
        if dampening == 0:
            b += g
        else:
            xp.multiply(g, 1 - dampening, out=t)
            b += t
        if nesterov:
            xp.multiply(b, momentum, out=t)
            t += g
        else:
            t[...] = b
        t *= -lr
        p += t
