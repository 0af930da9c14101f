"""Fractional max pooling (Graham, 2014): max over windows whose starts advance by a random
fractional stride, one draw per (sample, channel) plane and spatial dim.

The windows follow torch's rule exactly, so with the same `_random_samples` the outputs and
indices equal torch's; the gradient scatters into the argmax positions (max_unpool's op with
accumulation, as windows may overlap).
"""
from __future__ import annotations

import itertools
import math
import operator

from ... import _dtype as D
from ..._ops.conv import MaxUnpool
from ..._ops.dispatch import apply
from ..._ops.random import rand
from ..._tensor import Tensor
from ...testing.opinfo import Arg, Sample
from ..._ops.registry import OpDef, register

__all__ = ["fractional_max_pool2d", "fractional_max_pool3d",
           "fractional_max_pool2d_with_indices", "fractional_max_pool3d_with_indices"]

_AXES = {2: ("height", "width"), 3: ("time", "height", "width")}


def _window_starts(xp, u, size: int, out: int, pool: int):
    """Start of each of `out` windows of length `pool` along a dim of `size`, per plane, for
    the uniform draws `u` (N, C): trunc((i + u) * alpha) - trunc(u * alpha), computed in u's
    precision as torch does, with alpha = (size - pool) / (out - 1); the last window ends at
    the dim's end."""
    starts = xp.full(u.shape + (out,), size - pool, dtype=xp.int64)
    if out > 1:
        alpha = u.dtype.type(size - pool) / u.dtype.type(out - 1)
        steps = xp.arange(out - 1, dtype=u.dtype) + u[..., None]
        starts[..., :-1] = (xp.trunc(steps * alpha).astype(xp.int64)
                            - xp.trunc(u * alpha).astype(xp.int64)[..., None])
    return starts


def _sample(t, x, samples, nd, **kw):
    pool = getattr(t.nn.functional, f"fractional_max_pool{nd}d")
    return pool(x, _random_samples=samples, return_indices=True, **kw)


@register("fractional_max_pool", fresh=True, promote=None, complex=False, samples=(
    Sample(lambda t, x, u: _sample(t, x, u, 2, kernel_size=2, output_size=(3, 4)),
           (Arg((2, 3, 7, 9)), Arg((2, 3, 2), 0.0, 1.0, grad=False))),
    Sample(lambda t, x, u: _sample(t, x, u, 2, kernel_size=(3, 2), output_size=(2, 5)),
           (Arg((3, 6, 7)), Arg((1, 3, 2), 0.0, 1.0, grad=False)), name="unbatched"),
    Sample(lambda t, x, u: _sample(t, x, u, 2, kernel_size=2, output_ratio=(0.5, 0.75)),
           (Arg((2, 2, 8, 8)), Arg((3, 2, 2), 0.0, 1.0, grad=False)), name="ratio"),
    Sample(lambda t, x, u: _sample(t, x, u, 3, kernel_size=2, output_size=(2, 3, 2)),
           (Arg((1, 2, 4, 5, 6)), Arg((1, 2, 3), 0.0, 1.0, grad=False)), name="3d")))
class FractionalMaxPool(OpDef):
    """Max over the windows of `kernel` drawn by `samples` (N, C, nd; per plane, one draw per
    spatial dim, in torch's order) giving `outs` positions; outputs the values and each
    maximum's flat index within its input plane (a NaN wins, as in max pooling)."""

    def forward(ctx, xp, x, samples, kernel, outs, order):
        n, c = x.shape[:2]
        size = x.shape[2:]
        nd = len(size)
        starts = [_window_starts(xp, samples[:n, :, order[d]], size[d], outs[d], kernel[d])
                  for d in range(nd)]
        stride = [1] * nd
        for d in range(nd - 2, -1, -1):
            stride[d] = stride[d + 1] * size[d + 1]
        planes = x.reshape(n, c, math.prod(size))
        best = index = None
        for offsets in itertools.product(*(range(k) for k in kernel)):
            flat = 0
            for d in range(nd):
                shape = (n, c) + tuple(outs[d] if e == d else 1 for e in range(nd))
                flat = flat + ((starts[d] + offsets[d]) * stride[d]).reshape(shape)
            value = xp.take_along_axis(planes, flat.reshape(n, c, math.prod(outs)),
                                       axis=2).reshape(flat.shape)
            if best is None:
                best, index = value, flat
                continue
            take = (value > best) | xp.isnan(value)
            best, index = xp.where(take, value, best), xp.where(take, flat, index)
        ctx.save(index)
        ctx.size = tuple(size)
        return best, index

    def backward(ctx, g, _):
        (index,) = ctx.saved
        return apply(MaxUnpool, g, index, size=ctx.size, accumulate=True), None


def _ints(value, nd: int, name: str, op: str) -> tuple:
    """An int or a sequence of 1 or nd ints, as an nd-tuple (torch's message otherwise)."""
    kind = "a single Int or tuple of Ints" if nd == 2 else "a single Int or tuple of three Ints"
    if isinstance(value, (float, bool)):
        raise TypeError(f"{op}(): argument '{name}' must be tuple of ints, not "
                        f"{type(value).__name__}")
    try:
        return (operator.index(value),) * nd
    except TypeError:
        pass
    seq = tuple(operator.index(v) for v in value)
    if len(seq) != nd:
        raise RuntimeError(f"{op}: {name} must either be {kind}")
    return seq


def _fractional_max_pool(input, kernel_size, output_size, output_ratio, random_samples, nd):
    op = f"fractional_max_pool{nd}d"
    native = op if nd == 2 else f"{op}_out"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{native}(): Expected {nd + 1}D or {nd + 2}D tensor, but got: "
                           f"{list(input.shape)}")
    if not input.is_floating_point():
        raise NotImplementedError(f"\"{native}\" not implemented for "
                                  f"'{D.SCALAR_NAMES[input._dtype]}'")
    kernel = _ints(kernel_size, nd, "kernel_size", op)
    if any(k <= 0 for k in kernel):
        raise RuntimeError(f"{op}: kernel_size must be greater than zero, but got {kernel}")
    if output_size is None:
        if output_ratio is None:
            raise ValueError(f"{op} requires specifying either an output_size or an "
                             "output_ratio")
        ratio = (output_ratio,) * nd if isinstance(output_ratio, (int, float)) \
            else tuple(output_ratio)
        if len(ratio) != nd:
            raise RuntimeError(f"{op}: output_ratio must either be a single float or a tuple "
                               f"of {nd} floats")
        output_size = [int(n * r) for n, r in zip(input.shape[-nd:], ratio)]
    outs = _ints(output_size, nd, "output_size", op)
    if any(o < 0 for o in outs):
        raise RuntimeError(f"{op}: output_size must be non-negative, but got {outs}")
    batched = input.ndim == nd + 2
    for d, n in enumerate(input.shape[input.ndim - nd - 1:]):
        if n == 0:
            raise RuntimeError(f"{native}(): Expected input to have non-zero size for non-batch "
                               f"dimensions, but got{list(input.shape)} with dimension "
                               f"{d + batched} being empty.")
    # torch's 3-d check refuses a last window that ends exactly at the input's end
    reach = 0 if nd == 2 else 1
    for axis, o, k, n in zip(_AXES[nd], outs, kernel, input.shape[-nd:]):
        if o + k - 1 + reach > n:
            raise RuntimeError(f"{native}(): pool {axis} {k} too large relative to input "
                               f"{axis} {n}")
    x = input if batched else input.unsqueeze(0)
    batch, channels = x.shape[:2]
    if random_samples is None:
        random_samples = rand(batch, channels, nd, dtype=input.dtype, device=input.device)
    _check_samples(random_samples, x, nd, op)
    order = tuple(range(nd)) if nd == 3 else (1, 0)
    out, index = apply(FractionalMaxPool, x, random_samples, kernel=kernel, outs=outs,
                       order=order)
    if not batched:
        out, index = out.squeeze(0), index.squeeze(0)
    return out, index


def _check_samples(samples, x, nd: int, op: str) -> None:
    if not isinstance(samples, Tensor):
        raise TypeError(f"{op}(): argument 'random_samples' (position 4) must be Tensor, not "
                        f"{type(samples).__name__}")
    if samples.dtype != x.dtype:
        raise RuntimeError("Expect _random_samples to have the same dtype as input")
    if samples.ndim != 3:
        raise RuntimeError(f"Expect _random_samples to have 3 dimensions, got {samples.ndim}")
    if samples.shape[2] != nd:
        raise RuntimeError(f"Expect _random_samples.size(2) equals to {nd}; got "
                           f"{samples.shape[2]}.")
    if samples.shape[0] < x.shape[0]:
        raise RuntimeError("Expect _random_samples.size(0) no less then input batch size.")
    if samples.shape[1] != x.shape[1]:
        raise RuntimeError("Expect _random_samples.size(1) equals to input channel size.")
    if samples.device != x.device:
        raise RuntimeError(f"Expected _random_samples on {x.device}, like the input, but got "
                           f"{samples.device}")


def fractional_max_pool2d_with_indices(input: Tensor, kernel_size, output_size=None,
                                       output_ratio=None, return_indices: bool = False,
                                       _random_samples: Tensor | None = None):
    """fractional_max_pool2d returning (values, indices) whatever `return_indices` says."""
    return _fractional_max_pool(input, kernel_size, output_size, output_ratio,
                                _random_samples, 2)


def fractional_max_pool2d(input: Tensor, kernel_size, output_size=None, output_ratio=None,
                          return_indices: bool = False, _random_samples: Tensor | None = None):
    """2-D fractional max pooling of (N, C, H, W) or (C, H, W) to `output_size` (or the input
    size times `output_ratio`), windows of `kernel_size` at pseudo-random fractional strides.

    Args:
        kernel_size: the window, an int or (kH, kW).
        output_size: the output's (oH, oW), or one int for both.
        output_ratio: instead of output_size, a fraction (or two) of the input size.
        return_indices: also return each maximum's flat index in its input plane.
        _random_samples: (N, C, 2) draws in [0, 1) fixing the windows (else drawn here).

    >>> import ember
    >>> x = ember.arange(16.).view(1, 1, 4, 4)
    >>> u = ember.full((1, 1, 2), 0.5)
    >>> ember.nn.functional.fractional_max_pool2d(x, 2, output_size=2, _random_samples=u)
    tensor([[[[ 5.,  7.],
              [13., 15.]]]])
    """
    out, index = fractional_max_pool2d_with_indices(input, kernel_size, output_size,
                                                    output_ratio, return_indices,
                                                    _random_samples)
    return (out, index) if return_indices else out


def fractional_max_pool3d_with_indices(input: Tensor, kernel_size, output_size=None,
                                       output_ratio=None, return_indices: bool = False,
                                       _random_samples: Tensor | None = None):
    """fractional_max_pool3d returning (values, indices) whatever `return_indices` says."""
    return _fractional_max_pool(input, kernel_size, output_size, output_ratio,
                                _random_samples, 3)


def fractional_max_pool3d(input: Tensor, kernel_size, output_size=None, output_ratio=None,
                          return_indices: bool = False, _random_samples: Tensor | None = None):
    """3-D fractional max pooling of (N, C, T, H, W) or (C, T, H, W); as
    fractional_max_pool2d, with (N, C, 3) `_random_samples` for the (T, H, W) dims."""
    out, index = fractional_max_pool3d_with_indices(input, kernel_size, output_size,
                                                    output_ratio, return_indices,
                                                    _random_samples)
    return (out, index) if return_indices else out
