"""Update kernels on raw arrays for the hot optimizers (Adam/AdamW, SGD), a call per group.

An update written in tensor ops costs one dispatch and one full pass over memory per op, plus
tensor-sized temporaries. These kernels compute the same formulas, in torch's order, block by
block: each block's operands and temporaries stay in cache, and there is no per-op dispatch.
They run under the optimizer's no_grad step, so they only bump the version counters of the
tensors they write. Callers fall back to the tensor-op path when `arrays_of` refuses. With
numba on (_backend.accel), CPU arrays go through the one-pass forms of _numba_fused instead,
several parameters a call.
"""
from __future__ import annotations

import numpy as np

from .._backend import namespace
from .._backend.accel import numba_forms

# Elements per block: five float32 operands of a block (param, grad, two moments, a temporary)
# take ~640 KB, inside a 1-2 MB L2 cache.
_BLOCK = 1 << 15
# An update of this many elements brings in the numba forms; once they are loaded, updates
# of every size take them. Models of only a few small parameters never pay for importing numba.
_ONE_PASS_MIN = 1 << 12
# Parameters per numba call: one compiled signature per dtype, and few calls per group.
_WIDTH = 8


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
    """The numba kernels when they apply (CPU arrays, numba on, and an update of `size`
    elements or the kernels loaded already), else None."""
    return numba_forms(f"{__package__}._numba_fused", xp, size, _ONE_PASS_MIN)


def _chunks(rows: list, width: int):
    """The numba kernels' operands, `width` parameters at a time: per chunk, one tuple per
    column of `rows`, padded with empty arrays (numbers: zeros), so that every call has the
    one signature the kernels were compiled and cached for."""
    empty = np.empty(0, dtype=rows[0][0].dtype)
    for start in range(0, len(rows), width):
        chunk = rows[start:start + width]
        pad = width - len(chunk)
        yield [tuple(column) + ((empty,) * pad if isinstance(column[0], np.ndarray)
                                else (0.0,) * pad)
               for column in zip(*chunk)]


def _lerp_into(xp, m, g, weight, tmp) -> None:
    """m.lerp_(g, weight) as torch computes it (from `g` when weight >= 0.5)."""
    xp.subtract(g, m, out=tmp)
    if weight < 0.5:
        tmp *= weight
        m += tmp
    else:
        tmp *= 1 - weight
        xp.subtract(g, tmp, out=m)


def adam(xp, updates: list, *, beta1, beta2, lr, eps, weight_decay, decoupled,
         maximize) -> None:
    """Adam/AdamW updates of parameters of one dtype on one device. `updates` holds, per
    parameter, (param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq or None without AMSGrad)
    as flat arrays, then its bias_correction1 and bias_correction2_sqrt."""
    kernels = _one_pass(xp, sum(u[0].size for u in updates))
    if kernels is None:
        for update in updates:
            _adam_blocks(xp, *update, beta1=beta1, beta2=beta2, lr=lr, eps=eps,
                         weight_decay=weight_decay, decoupled=decoupled, maximize=maximize)
        return
    dtype = updates[0][0].dtype
    dt = dtype.type
    amsgrad = updates[0][4] is not None
    rows = [(p, g, m, v, v if vmax is None else vmax, -lr / bc1, bc2_sqrt)
            for p, g, m, v, vmax, bc1, bc2_sqrt in updates]
    for ps, gs, ms, vs, vmaxs, step_sizes, bc2s in _chunks(rows, _WIDTH):
        kernels.adam(ps, gs, ms, vs, vmaxs, np.array(step_sizes, dtype),
                     np.array(bc2s, dtype), amsgrad, maximize,
                     dt(0 if decoupled else weight_decay),
                     dt(1 - lr * weight_decay if decoupled else 1), dt(1 - beta1),
                     dt(1 - (1 - beta1)), dt(beta2), dt(1 - beta2), dt(eps))


def _adam_blocks(xp, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, bias_correction1,
                 bias_correction2_sqrt, *, beta1, beta2, lr, eps, weight_decay, decoupled,
                 maximize) -> None:
    """One parameter's Adam/AdamW update in array ops, block by block."""
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


def sgd_momentum(xp, updates: list, *, lr, momentum, dampening, weight_decay, nesterov,
                 maximize) -> None:
    """SGD updates with existing momentum buffers, of parameters of one dtype on one device:
    `updates` holds (param, grad, buffer) flat arrays per parameter."""
    kernels = _one_pass(xp, sum(u[0].size for u in updates))
    if kernels is None:
        for update in updates:
            _sgd_momentum_blocks(xp, *update, lr=lr, momentum=momentum, dampening=dampening,
                                 weight_decay=weight_decay, nesterov=nesterov,
                                 maximize=maximize)
        return
    dt = updates[0][0].dtype.type
    for ps, gs, bs in _chunks(updates, _WIDTH):
        kernels.sgd_momentum(ps, gs, bs, maximize, dt(weight_decay), dt(momentum),
                             dt(1 - dampening), nesterov, dt(-lr))


def _sgd_momentum_blocks(xp, param, grad, buf, *, lr, momentum, dampening, weight_decay,
                         nesterov, maximize) -> None:
    """One parameter's SGD momentum update in array ops, block by block."""
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
