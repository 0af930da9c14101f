"""One-pass numba forms of ops whose NumPy forwards make several passes over memory: gelu
(with its derivative), layer norm, softmax and attention's masked softmax over the last dim,
the backward ops of the last three, an elementwise op with the sum of its rows, and
index_add of rows (an embedding's backward, which NumPy runs as a scatter over an index of
every element). Generated CPU code calls them instead of the OpDef's forward when numba is
installed (`forward_for`).

Each form takes the forward's arguments, returns what it returns and saves what it saves, so
backward ops and compiled backward graphs read the same values; inputs it does not cover
(other dtypes, non-contiguous arrays, other options) go to the op's own forward. float32 math
uses the vectorizable exp/erf of _numba_math (a few ulps from NumPy's).

Inside graphs that run their matrix products on numba's threads (openblas.threaded) the
forms split their rows over those threads too (`_parts`): alone they would leave the second
core to numba's spinning worker. Sums over rows are then taken per block and added up after.
"""
from __future__ import annotations

import functools
import importlib.util
import math

import numpy as np

from .._backend import openblas
from .._ops.registry import REGISTRY

MIN_SIZE = 1 << 12  # below this NumPy's per-call cost is no worse than numba's
_kernels = None


@functools.cache
def available() -> bool:
    """Whether numba is installed (the forms need it)."""
    return importlib.util.find_spec("numba") is not None


def forward_for(op_name: str):
    """The numba form of an op's forward, or None (then the OpDef's forward runs)."""
    if op_name not in _FORMS or not available():
        return None
    return _FORMS[op_name]


def _k():
    """The numba kernels, compiled on first use (numba's cache keeps them on disk)."""
    global _kernels
    if _kernels is None:
        from . import _numba_op_kernels
        _kernels = _numba_op_kernels
    return _kernels


def _parts(rows: int, size: int) -> int:
    """How many blocks of rows to run `size` elements in: numba's thread count inside a
    graph that holds OpenBLAS to one thread (openblas.threaded), else 1."""
    if rows < 2 or size < openblas.THREADED_MIN or not openblas.threaded():
        return 1
    import numba
    return min(numba.get_num_threads(), rows)


def _run(name: str, parts: int, *args) -> None:
    """The numba form `name` on args: on the calling thread, or as its `_par` form over
    `parts` blocks of rows."""
    if parts > 1:
        getattr(_k(), f"{name}_par")(*args, parts)
    else:
        getattr(_k(), name)(*args)


def _per_block(parts: int, *partials):
    """Per-block partial-sum arrays (a row per block) as a form takes them: the single-thread
    form writes its sums into the one row itself."""
    return partials if parts > 1 else tuple(p[0] for p in partials)


def _total(partials):
    """The sum of a form's per-block partial rows (one block: its row itself)."""
    return partials[0] if len(partials) == 1 else partials.sum(axis=0)


def _fits(*arrays) -> bool:
    first = arrays[0]
    return first.size >= MIN_SIZE and first.dtype in (np.float32, np.float64) and all(
        isinstance(a, np.ndarray) and a.flags.c_contiguous and a.dtype == first.dtype
        for a in arrays)


def gelu(ctx, xp, x, approximate="none"):
    if approximate != "none" or not _fits(x):
        return REGISTRY["gelu"].forward(ctx, xp, x, approximate)
    ctx.approximate = approximate
    flat = x.reshape(-1)
    y = np.empty_like(flat)
    slope = np.empty_like(flat) if ctx.needs_input_grad else y  # y: a stand-in, unwritten
    _run("gelu", _parts(flat.size, flat.size), flat, y, slope, bool(ctx.needs_input_grad))
    if ctx.needs_input_grad:
        ctx.save(x, slope.reshape(x.shape))
    return y.reshape(x.shape)


def gelu_biased(ctx, xp, x, bias, approximate="none"):
    """gelu(x + bias) for a bias along the last dim (passes/prologue.py), keeping what gelu
    keeps but the biased input itself, which nothing reads after it."""
    f = x.shape[-1] if x.ndim else 0
    if approximate != "none" or not _fits(x, bias) or bias.shape != (f,) or not f:
        return gelu(ctx, xp, x + bias, approximate)
    ctx.approximate = approximate
    rows = x.reshape(-1, f)
    y = np.empty_like(rows)
    slope = np.empty_like(rows) if ctx.needs_input_grad else y  # y: a stand-in, unwritten
    _run("gelu_biased", _parts(rows.shape[0], rows.size), rows, bias, y, slope,
         bool(ctx.needs_input_grad))
    if ctx.needs_input_grad:
        ctx.save(None, slope.reshape(x.shape))
    return y.reshape(x.shape)


_ELEMENTWISE = {"add": (0, np.add), "sub": (1, np.subtract), "mul": (2, np.multiply)}


def elementwise_row_sum(op, a, b, lead, out=None):
    """(a op b, its sum over the first `lead` dims) in one pass (passes/epilogue.py); a and
    b have one shape. `out` optionally receives the elementwise result (it may be a or b)."""
    code, ufunc = _ELEMENTWISE[op]
    if not _fits(a, b) or a.shape != b.shape or (out is not None and (
            not _fits(out) or out.shape != a.shape)):
        out = ufunc(a, b, out=out)
        return out, out.sum(axis=tuple(range(lead)))
    cols = math.prod(a.shape[lead:])
    a2, b2 = a.reshape(-1, cols), b.reshape(-1, cols)
    parts = _parts(a2.shape[0], a2.size)
    sums = np.zeros((parts, cols), dtype=a.dtype)
    if out is a or out is b:  # b = a - b is b = (reversed sub) a; add and mul commute
        into, other = (a2, b2) if out is a else (b2, a2)
        code = code if out is a or code != 1 else 3
        _run("row_sum_into", parts, code, into, other, *_per_block(parts, sums))
    else:
        out = np.empty_like(a) if out is None else out
        _run("row_sum", parts, code, a2, b2, out.reshape(-1, cols), *_per_block(parts, sums))
    return out, _total(sums).reshape(a.shape[lead:])


def _flat_or(param, fill, size: int, dtype):
    """A layer norm's weight or bias, flat, or `size` copies of `fill` when it has none."""
    return param.reshape(-1) if param is not None else np.full(size, fill, dtype=dtype)


def layer_norm(ctx, xp, x, weight, bias, ndim, eps):
    params = [p for p in (weight, bias) if p is not None]
    if not _fits(x, *params) or x.ndim < ndim:
        return REGISTRY["layer_norm"].forward(ctx, xp, x, weight, bias, ndim, eps)
    features = math.prod(x.shape[x.ndim - ndim:])
    rows = x.reshape(-1, features)
    xhat = np.empty_like(rows)
    rstd = np.empty((rows.shape[0], 1), dtype=x.dtype)
    y = np.empty_like(rows)
    _run("layer_norm", _parts(rows.shape[0], rows.size), rows,
         _flat_or(weight, 1, features, x.dtype), _flat_or(bias, 0, features, x.dtype), eps,
         xhat, rstd, y)
    ctx.ndim, ctx.eps = ndim, eps
    ctx.save(x, weight, xhat, rstd)
    return y.reshape(x.shape)


def layer_norm_backward(ctx, xp, g, xhat, rstd, weight, need, pshape):
    if not _fits(g, xhat, rstd, *([weight] if weight is not None else [])):
        return REGISTRY["layer_norm_backward"].forward(ctx, xp, g, xhat, rstd, weight, need,
                                                       pshape)
    rows = g.reshape(xhat.shape)
    gx = np.empty_like(rows)
    parts = _parts(rows.shape[0], rows.size)
    gw, gb = (np.zeros((parts, xhat.shape[1]), dtype=g.dtype) for _ in range(2))
    _run("layer_norm_backward", parts, rows, xhat, rstd,
         _flat_or(weight, 1, xhat.shape[1], g.dtype), bool(need[0]), gx,
         *_per_block(parts, gw, gb))
    gw, gb = _total(gw), _total(gb)
    out = []
    if need[0]:
        out.append(gx.reshape(g.shape))
    if need[1]:
        out.append(gw.reshape(pshape))
    if need[2]:
        out.append(gb.reshape(pshape))
    return tuple(out)


def layer_norm_backward_add(ctx, xp, g, xhat, rstd, weight, other, lead, need, pshape):
    """(layer_norm_backward's input gradient + other, its weight and bias gradients where
    `need` asks for them (else None), the sum of the first over its leading `lead` dims
    when lead) in one pass over the rows (passes/epilogue.py)."""
    w = [weight] if weight is not None else []
    if not need[0] or not _fits(g, xhat, rstd, other, *w) or other.shape != g.shape:
        grads = iter(layer_norm_backward(ctx, xp, g, xhat, rstd, weight, need, pshape))
        total = next(grads) + other
        gw, gb = (next(grads) if n else None for n in need[1:])
        return total, gw, gb, total.sum(axis=tuple(range(lead))) if lead else None
    f = xhat.shape[1]
    out = np.empty_like(other)
    parts = _parts(xhat.shape[0], xhat.size)
    gw, gb, sums = (np.zeros((parts, f), dtype=g.dtype) for _ in range(3))
    # the kernel sums the norm's rows: a sum whose rows differ is taken afterwards
    in_kernel = bool(lead) and math.prod(other.shape[lead:]) == f
    _run("layer_norm_backward_add", parts, g.reshape(xhat.shape), xhat, rstd,
         _flat_or(weight, 1, f, g.dtype), other.reshape(xhat.shape), out.reshape(xhat.shape),
         *_per_block(parts, gw, gb, sums), in_kernel)
    gw, gb, sums = _total(gw), _total(gb), _total(sums)
    total = sums.reshape(other.shape[lead:]) if in_kernel else \
        out.sum(axis=tuple(range(lead))) if lead else None
    return (out, gw.reshape(pshape) if need[1] else None,
            gb.reshape(pshape) if need[2] else None, total)


def softmax(ctx, xp, x, dim):
    if not _fits(x) or x.ndim == 0 or dim not in (-1, x.ndim - 1):
        return REGISTRY["softmax"].forward(ctx, xp, x, dim)
    ctx.dim = dim
    rows = x.reshape(-1, x.shape[-1])
    y = np.empty_like(rows)
    _run("softmax", _parts(rows.shape[0], rows.size), rows, y)
    y = y.reshape(x.shape)
    ctx.save(y)
    return y


def softmax_backward(ctx, xp, g, y, dim, scale=1.0):
    if not _fits(g, y) or y.ndim == 0 or dim not in (-1, y.ndim - 1):
        return REGISTRY["softmax_backward"].forward(ctx, xp, g, y, dim, scale)
    out = np.empty_like(g)
    n = y.shape[-1]
    _run("softmax_backward", _parts(g.size // max(n, 1), g.size), g.reshape(-1, n),
         y.reshape(-1, n), y.dtype.type(scale), out.reshape(-1, n))
    return out


def masked_softmax(ctx, xp, x, hidden, dim, scale):
    """Rows of x over the last dim, with a mask that repeats over x's leading dims (its shape
    without leading 1s is a suffix of x's), as attention's (L, S) mask over (B, H, L, S)."""
    shape = hidden.shape
    while shape and shape[0] == 1:
        shape = shape[1:]
    if (not _fits(x) or x.ndim == 0 or dim not in (-1, x.ndim - 1) or not shape
            or shape != x.shape[x.ndim - len(shape):] or hidden.dtype != np.bool_
            or not hidden.flags.c_contiguous):
        return REGISTRY["masked_softmax"].forward(ctx, xp, x, hidden, dim, scale)
    ctx.dim, ctx.scale = dim, scale
    f = x.shape[-1]
    rows = x.reshape(-1, f)
    y = np.empty_like(rows)
    _run("masked_softmax", _parts(rows.shape[0], rows.size), rows, hidden.reshape(-1, f),
         x.dtype.type(scale), y)
    y = y.reshape(x.shape)
    ctx.save(y)
    return y


def index_add(ctx, xp, x, index, src, dim, alpha=1):
    """Rows of src added into a copy of x at index along dim 0 (an embedding's backward)
    in one pass, in index order as the OpDef's scatter adds them."""
    rows = x.shape[0] if x.ndim else 0
    if (dim != 0 or x.ndim < 2 or not _fits(x, src) or x.shape[1:] != src.shape[1:]
            or index.ndim != 1 or index.dtype.kind != "i" or index.size != src.shape[0]
            or (index.size and (index.min() < -rows or index.max() >= rows))):
        return REGISTRY["index_add"].forward(ctx, xp, x, index, src, dim, alpha)
    ctx.save(index)
    ctx.dim, ctx.alpha = dim, alpha
    out = x.copy()
    f = out.size // max(rows, 1)
    _k().index_add_rows(out.reshape(rows, f), index, src.reshape(-1, f), x.dtype.type(alpha))
    return out


_FORMS = {"gelu": gelu, "layer_norm": layer_norm,
          "layer_norm_backward": layer_norm_backward, "softmax": softmax,
          "softmax_backward": softmax_backward, "masked_softmax": masked_softmax,
          "index_add": index_add}
