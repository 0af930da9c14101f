"""Lowerings of the miscellaneous pointwise family (special functions with short ONNX
decompositions, isin, and the complex-number ops on real tensors)."""
from __future__ import annotations

import math

from ... import _dtype as D
from .._types import is_float
from ..lowering import lowers

_BOOL = D.bool
# Giles' single-precision erfinv approximation (central and tail polynomials in w).
_ERFINV_CENTRAL = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06,
                   0.00021858087, -0.00125372503, -0.00417768164, 0.246640727, 1.50140941)
_ERFINV_TAIL = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
                -0.0076224613, 0.00943887047, 1.00167406, 2.83297682)


def _floats(ctx) -> list:
    """The op's tensor inputs in its floating output dtype."""
    out = ctx.out_dtype()
    return [ctx.b.cast(x, out) for x in ctx.promoted()]


def _where(b, cond, x, y):
    return b.op("Where", [cond, x, y])


@lowers("sinc", via="Sin, Div, Where")
def _sinc(ctx):
    b = ctx.b
    (x,) = _floats(ctx)
    dt = b.dtype(x)
    scaled = b.op("Mul", [x, b.scalar(math.pi, dt)])
    ratio = b.op("Div", [b.op("Sin", [scaled]), scaled])
    return _where(b, b.op("Equal", [x, b.scalar(0, dt)], dtype=_BOOL), b.scalar(1, dt), ratio)


@lowers("heaviside", via="Greater, Equal, Where")
def _heaviside(ctx):
    b = ctx.b
    x, values = ctx.promoted()
    if b.dtype(x) is _BOOL:
        x, values = b.cast(x, D.int32), b.cast(values, D.int32)
    dt = b.dtype(x)
    zero = b.scalar(0, dt)
    step = b.cast(b.op("Greater", [x, zero], dtype=_BOOL), dt)
    return _where(b, b.op("Equal", [x, zero], dtype=_BOOL), values, step)


@lowers("special_entr", via="Log, Mul, Where")
def _entr(ctx):
    b = ctx.b
    (x,) = _floats(ctx)
    dt = b.dtype(x)
    zero = b.scalar(0, dt)
    inner = b.op("Neg", [b.op("Mul", [x, b.op("Log", [x])])])
    out = _where(b, b.op("Equal", [x, zero], dtype=_BOOL), zero, inner)
    out = _where(b, b.op("Less", [x, zero], dtype=_BOOL), b.scalar(float("-inf"), dt), out)
    return _where(b, b.op("IsNaN", [x], dtype=_BOOL), x, out)


@lowers("special_xlog1py", via="Log, Mul, Where")
def _xlog1py(ctx):
    b = ctx.b
    x, y = _floats(ctx)
    dt = b.dtype(x)
    zero = b.scalar(0, dt)
    term = b.op("Mul", [x, b.op("Log", [b.op("Add", [y, b.scalar(1, dt)])])])
    out = _where(b, b.op("Equal", [x, zero], dtype=_BOOL), zero, term)
    return _where(b, b.op("IsNaN", [y], dtype=_BOOL), y, out)


@lowers("isin", via="Equal, ReduceSum")
def _isin(ctx):
    b = ctx.b
    elements, test = ctx.promoted()
    flat = b.op("Reshape", [test, b.ints([-1])])
    hits = b.op("Equal", [b.unsqueeze(elements, [-1]), flat], dtype=_BOOL)
    found = b.op("Greater", [b.reduce("ReduceSum", b.cast(hits, D.int64), [-1], False),
                             b.scalar(0, D.int64)], dtype=_BOOL)
    return b.op("Not", [found]) if ctx.attr("invert", False) else found


def _real_only(ctx) -> str:
    x = ctx.input(0)
    dt = ctx.b.dtype(x)
    if dt.category == D._COMPLEX:
        ctx.unsupported("complex tensors (ONNX runtimes have no complex arithmetic)")
    return x


@lowers("conj", via="Identity (real tensors)")
def _conj(ctx):
    return ctx.b.op("Identity", [_real_only(ctx)])


@lowers("real", via="Identity (real tensors)")
def _real(ctx):
    return ctx.b.op("Identity", [_real_only(ctx)])


@lowers("angle", via="Less, Where (real tensors)")
def _angle(ctx):
    b = ctx.b
    x = b.cast(_real_only(ctx), ctx.out_dtype())
    dt = b.dtype(x)
    zero = b.scalar(0, dt)
    out = _where(b, b.op("Less", [x, zero], dtype=_BOOL), b.scalar(math.pi, dt), zero)
    return _where(b, b.op("IsNaN", [x], dtype=_BOOL), x, out)


def _poly(b, coefs, w: str) -> str:
    dt = b.dtype(w)
    p = b.scalar(coefs[0], dt)
    for c in coefs[1:]:
        p = b.op("Add", [b.scalar(c, dt), b.op("Mul", [p, w])])
    return p


@lowers("erfinv", via="Log, Sqrt, polynomial, one Newton step with Erf")
def _erfinv(ctx):
    b = ctx.b
    (x,) = _floats(ctx)
    dt = b.dtype(x)
    one = b.scalar(1, dt)
    w = b.op("Neg", [b.op("Log", [b.op("Mul", [b.op("Sub", [one, x]), b.op("Add", [one, x])])])])
    central = _poly(b, _ERFINV_CENTRAL, b.op("Sub", [w, b.scalar(2.5, dt)]))
    tail = _poly(b, _ERFINV_TAIL, b.op("Sub", [b.op("Sqrt", [w]), b.scalar(3, dt)]))
    y = b.op("Mul", [_where(b, b.op("Less", [w, b.scalar(5, dt)], dtype=_BOOL), central, tail),
                     x])
    slope = b.op("Mul", [b.scalar(2 / math.sqrt(math.pi), dt),
                         b.op("Exp", [b.op("Neg", [b.op("Mul", [y, y])])])])
    step = b.op("Div", [b.op("Sub", [b.op("Erf", [y]), x]), slope])
    mag = b.op("Abs", [x])
    out = _where(b, b.op("Less", [mag, one], dtype=_BOOL), b.op("Sub", [y, step]), y)
    edge = b.op("Mul", [x, b.scalar(float("inf"), dt)])
    return _where(b, b.op("Equal", [mag, one], dtype=_BOOL), edge, out)


@lowers("frexp", via="Log, Floor, Pow, Where")
def _frexp(ctx):
    b = ctx.b
    x = ctx.input(0)
    if not is_float(b.dtype(x)):
        ctx.unsupported("frexp of integer tensors")
    wide = b.cast(x, D.float64)
    f64 = D.float64
    mag = b.op("Abs", [wide])
    finite = b.op("Not", [b.op("Or", [b.op("IsInf", [wide], dtype=_BOOL),
                                     b.op("IsNaN", [wide], dtype=_BOOL)])])
    usable = b.op("And", [finite, b.op("Greater", [mag, b.scalar(0, f64)], dtype=_BOOL)])
    safe = _where(b, usable, mag, b.scalar(1, f64))
    exp = b.op("Add", [b.op("Floor", [b.op("Div", [b.op("Log", [safe]),
                                                   b.scalar(math.log(2), f64)])]),
                       b.scalar(1, f64)])
    mant = b.op("Mul", [wide, b.op("Pow", [b.scalar(2, f64), b.op("Neg", [exp])])])
    for bound, scale, shift in ((1.0, 0.5, 1), (0.5, 2.0, -1)):
        m_abs = b.op("Abs", [mant])
        off = b.op("GreaterOrEqual" if bound == 1.0 else "Less", [m_abs, b.scalar(bound, f64)],
                   dtype=_BOOL)
        mant = _where(b, off, b.op("Mul", [mant, b.scalar(scale, f64)]), mant)
        exp = _where(b, off, b.op("Add", [exp, b.scalar(shift, f64)]), exp)
    mant = _where(b, usable, mant, wide)
    exp = _where(b, usable, exp, b.scalar(0, f64))
    return b.cast(mant, ctx.out_dtype(0)), b.cast(exp, ctx.out_dtype(1))


@lowers("assert", via="nothing (ONNX has no assert; the check is dropped, as torch.onnx does)")
def _assert(ctx):
    return ctx.b.scalar(True, _BOOL)


@lowers("print", via="nothing (ONNX cannot print; the print is dropped, as torch.onnx does)")
def _print(ctx):
    return ctx.b.scalar(True, _BOOL)
