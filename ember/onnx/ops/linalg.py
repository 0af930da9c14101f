"""Lowerings of the linear-algebra family: matmul, addmm (and the addmv/baddbmm forms it
covers), einsum, det, cross products and pairwise distances."""
from __future__ import annotations

import math

from ... import _dtype as D
from ..lowering import lowers
from .pointwise import to_bool

_NARROW = (D.uint8, D.int8, D.int16, D.bool)


def _widened(b, names):
    """MatMul and Einsum have no kernels for narrow integers: compute in int32."""
    if b.dtype(names[0]) in _NARROW:
        return [b.cast(n, D.int32) for n in names]
    return names


@lowers("matmul", via="MatMul")
def _matmul(ctx):
    return ctx.b.op("MatMul", _widened(ctx.b, ctx.promoted()))


@lowers("addmm", via="MatMul, Mul, Add")
def _addmm(ctx):
    b = ctx.b
    c, x, y = _widened(b, ctx.promoted())
    dt = b.dtype(x)
    beta, alpha = ctx.attr("beta", 1), ctx.attr("alpha", 1)
    prod = b.op("MatMul", [x, y])
    if alpha != 1:
        prod = b.op("Mul", [prod, b.scalar(alpha, dt)])
    if beta == 0:
        return prod
    if beta != 1:
        c = b.op("Mul", [c, b.scalar(beta, dt)])
    return b.op("Add", [c, prod])


@lowers("einsum", via="Einsum")
def _einsum(ctx):
    b = ctx.b
    names = _widened(b, ctx.promoted())
    equation = ctx.attr("equation").replace(" ", "")
    if "->" not in equation:
        ctx.unsupported("an einsum equation without '->'")
    terms = equation.split("->")[0].split(",")
    sizes: dict[str, int] = {}
    for k, term in enumerate(terms):
        for label, n in zip(term, ctx.shape(k)):
            sizes[label] = max(sizes.get(label, 1), n)
    for k, term in enumerate(terms):
        shape = ctx.shape(k)
        if any(n == 1 and sizes[label] > 1 for label, n in zip(term, shape)):
            if ctx.is_dynamic(k):
                ctx.unsupported("einsum broadcasting with dynamic shapes")
            names[k] = b.op("Expand", [names[k], b.ints([sizes[label] for label in term])])
    return b.op("Einsum", names, equation=equation)


@lowers("linalg_det", via="Det")
def _det(ctx):
    return ctx.b.op("Det", [ctx.input(0)])


@lowers("linalg_cross", via="Gather, Mul, Sub")
def _cross(ctx):
    b = ctx.b
    x, y = ctx.promoted()
    ndim = len(ctx.out_shape())
    dim = ctx.attr("dim") % ndim
    lead_x = ndim - len(ctx.shape(0))
    lead_y = ndim - len(ctx.shape(1))

    def turn(name, lead, order):
        return b.op("Gather", [name, b.const(order, D.int64)], axis=dim - lead)
    first = b.op("Mul", [turn(x, lead_x, [1, 2, 0]), turn(y, lead_y, [2, 0, 1])])
    second = b.op("Mul", [turn(x, lead_x, [2, 0, 1]), turn(y, lead_y, [1, 2, 0])])
    return b.op("Sub", [first, second])


@lowers("cdist", via="Sub, ReduceL2/ReduceL1/ReduceMax, Pow")
def _cdist(ctx):
    b = ctx.b
    x1, x2 = ctx.promoted()
    dt = b.dtype(x1)
    p = float(ctx.attr("p", 2.0))
    diff = b.op("Sub", [b.unsqueeze(x1, [-2]), b.unsqueeze(x2, [-3])])
    if p == 2:
        return b.reduce("ReduceL2", diff, [-1], False)
    if p == 1:
        return b.reduce("ReduceL1", diff, [-1], False)
    mag = b.op("Abs", [diff])
    if p == math.inf:
        return b.reduce("ReduceMax", mag, [-1], False)
    if p == 0:
        return b.reduce("ReduceSum", b.cast(to_bool(b, diff), dt), [-1], False)
    total = b.reduce("ReduceSum", b.op("Pow", [mag, b.scalar(p, dt)]), [-1], False)
    return b.op("Pow", [total, b.scalar(1 / p, dt)])
