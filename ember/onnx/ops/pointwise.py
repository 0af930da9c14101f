"""Lowerings of the pointwise family: arithmetic, comparisons, logical and bitwise ops, the
transcendental functions ONNX lacks (as decompositions), clamp, where, gelu."""
from __future__ import annotations

import math

from ... import _dtype as D
from .._types import is_float, is_int
from ..lowering import lowers

_BOOL = D.bool


# ---- helpers shared with the other families ------------------------------------------------
def trunc(b, x: str) -> str:
    """Round toward zero (ONNX has Floor and Ceil only)."""
    zero = b.scalar(0, b.dtype(x))
    return b.op("Where", [b.op("Less", [x, zero], dtype=_BOOL), b.op("Ceil", [x]),
                          b.op("Floor", [x])])


def floor_div_int(b, x: str, y: str) -> str:
    """Integer division rounding toward -inf (ONNX's Div truncates)."""
    dt = b.dtype(x)
    q = b.op("Div", [x, y])
    r = b.op("Mod", [x, y], fmod=1)
    zero = b.scalar(0, dt)
    inexact = b.op("Not", [b.op("Equal", [r, zero], dtype=_BOOL)])
    signs = b.op("Xor", [b.op("Less", [r, zero], dtype=_BOOL),
                         b.op("Less", [y, zero], dtype=_BOOL)])
    fix = b.cast(b.op("And", [inexact, signs]), dt)
    return b.op("Sub", [q, fix])


def signbit(b, x: str) -> str:
    """x < 0, counting -0.0 as negative for floats."""
    dt = b.dtype(x)
    zero = b.scalar(0, dt)
    neg = b.op("Less", [x, zero], dtype=_BOOL)
    if not is_float(dt):
        return neg
    neg_zero = b.op("And", [b.op("Equal", [x, zero], dtype=_BOOL),
                            b.op("Less", [b.op("Reciprocal", [x]), zero], dtype=_BOOL)])
    return b.op("Or", [neg, neg_zero])


def to_bool(b, x: str) -> str:
    """x != 0 as bool (torch's truth value of numbers)."""
    dt = b.dtype(x)
    if dt is _BOOL:
        return x
    return b.op("Not", [b.op("Equal", [x, b.scalar(0, dt)], dtype=_BOOL)])


def ones_like_bool(b, x: str, value: bool) -> str:
    """A bool tensor of x's shape filled with `value`."""
    from ..export import one_element
    return b.op("ConstantOfShape", [b.shape(x)], dtype=_BOOL, value=one_element(value, _BOOL))


def _float_out(ctx) -> list:
    """The op's inputs cast to its (floating) output dtype's compute type."""
    return [ctx.b.cast(x, _compute_float(ctx)) for x in ctx.promoted()]


def _compute_float(ctx) -> D.dtype:
    dt = ctx.compute_dtype()
    return dt if is_float(dt) else ctx.out_dtype()


# ---- arithmetic ---------------------------------------------------------------------------
def _with_alpha(ctx, op_type, bool_op):
    b = ctx.b
    x, y = ctx.promoted()
    dt = b.dtype(x)
    alpha = ctx.attr("alpha", 1)
    if dt is _BOOL:
        return b.op(bool_op, [x, y])
    if alpha != 1:
        y = b.op("Mul", [y, b.scalar(alpha, dt)])
    return b.op(op_type, [x, y])


@lowers("add", via="Add")
def _add(ctx):
    return _with_alpha(ctx, "Add", "Or")


@lowers("sub", via="Sub")
def _sub(ctx):
    return _with_alpha(ctx, "Sub", "Xor")


@lowers("mul", via="Mul")
def _mul(ctx):
    b = ctx.b
    x, y = ctx.promoted()
    return b.op("And" if b.dtype(x) is _BOOL else "Mul", [x, y])


@lowers("div", via="Div")
def _div(ctx):
    b = ctx.b
    x, y = ctx.promoted()
    mode = ctx.attr("rounding_mode", None)
    dt = b.dtype(x)
    if mode is None:
        out = ctx.out_dtype()
        return b.op("Div", [b.cast(x, out), b.cast(y, out)])
    if dt is _BOOL:
        x, y = b.cast(x, D.int64), b.cast(y, D.int64)
        dt = D.int64
    if is_float(dt):
        q = b.op("Div", [x, y])
        return trunc(b, q) if mode == "trunc" else b.op("Floor", [q])
    return b.op("Div", [x, y]) if mode == "trunc" else floor_div_int(b, x, y)


@lowers("pow", via="Pow")
def _pow(ctx):
    b = ctx.b
    x, y = ctx.promoted()
    dt = b.dtype(x)
    if dt in (D.uint8, D.int8, D.int16, _BOOL):
        x, y = b.cast(x, D.int32), b.cast(y, D.int32)
    return b.op("Pow", [x, y])


@lowers("rsqrt", via="Sqrt, Reciprocal")
def _rsqrt(ctx):
    (x,) = ctx.promoted()
    return ctx.b.op("Reciprocal", [ctx.b.op("Sqrt", [x])])


@lowers("exp2", via="Pow")
def _exp2(ctx):
    (x,) = ctx.promoted()
    return ctx.b.op("Pow", [ctx.b.scalar(2, ctx.b.dtype(x)), x])


@lowers("expm1", via="Exp, Sub")
def _expm1(ctx):
    b = ctx.b
    (x,) = ctx.promoted()
    return b.op("Sub", [b.op("Exp", [x]), b.scalar(1, b.dtype(x))])


@lowers("log1p", via="Add, Log")
def _log1p(ctx):
    b = ctx.b
    (x,) = ctx.promoted()
    return b.op("Log", [b.op("Add", [x, b.scalar(1, b.dtype(x))])])


def _log_base(base):
    def lower(ctx):
        b = ctx.b
        (x,) = ctx.promoted()
        return b.op("Div", [b.op("Log", [x]), b.scalar(math.log(base), b.dtype(x))])
    return lower


lowers("log2", via="Log, Div")(_log_base(2))
lowers("log10", via="Log, Div")(_log_base(10))


def _scale(factor):
    def lower(ctx):
        (x,) = ctx.promoted()
        return ctx.b.op("Mul", [x, ctx.b.scalar(factor, ctx.b.dtype(x))])
    return lower


lowers("deg2rad", via="Mul")(_scale(math.pi / 180))
lowers("rad2deg", via="Mul")(_scale(180 / math.pi))


@lowers("erfc", via="Erf, Sub")
def _erfc(ctx):
    b = ctx.b
    (x,) = ctx.promoted()
    return b.op("Sub", [b.scalar(1, b.dtype(x)), b.op("Erf", [x])])


def _rounding(op_type):
    def lower(ctx):
        x = ctx.input(0)
        if not is_float(ctx.b.dtype(x)):
            return ctx.b.op("Identity", [x])
        return ctx.b.op(op_type, [x])
    return lower


lowers("floor", via="Floor")(_rounding("Floor"))
lowers("ceil", via="Ceil")(_rounding("Ceil"))


@lowers("trunc", via="Floor, Ceil, Where")
def _trunc(ctx):
    x = ctx.input(0)
    if not is_float(ctx.b.dtype(x)):
        return ctx.b.op("Identity", [x])
    return trunc(ctx.b, x)


@lowers("frac", via="Floor, Ceil, Sub")
def _frac(ctx):
    x = ctx.input(0)
    return ctx.b.op("Sub", [x, trunc(ctx.b, x)])


@lowers("round", via="Round")
def _round(ctx):
    b = ctx.b
    x = ctx.input(0)
    dt = b.dtype(x)
    decimals = ctx.attr("decimals", 0)
    if not is_float(dt):
        return b.op("Identity", [x])
    if decimals == 0:
        return b.op("Round", [x])
    scale = b.scalar(10.0 ** decimals, dt)
    return b.op("Div", [b.op("Round", [b.op("Mul", [x, scale])]), scale])


@lowers("sign", via="Sign / Less, Sub")
def _sign(ctx):
    b = ctx.b
    x = ctx.input(0)
    dt = b.dtype(x)
    if dt is _BOOL:
        return b.op("Identity", [x])
    if not is_float(dt):
        return b.op("Sign", [x])
    zero = b.scalar(0, dt)
    pos = b.cast(b.op("Less", [zero, x], dtype=_BOOL), dt)
    return b.op("Sub", [pos, b.cast(b.op("Less", [x, zero], dtype=_BOOL), dt)])


@lowers("neg", via="Neg")
def _neg(ctx):
    b = ctx.b
    (x,) = ctx.promoted()
    if b.dtype(x) in (D.uint8, D.int8, D.int16):
        x = b.cast(x, D.int32)
    return b.op("Neg", [x])


@lowers("relu", via="Relu")
def _relu(ctx):
    b = ctx.b
    x = ctx.input(0)
    dt = b.dtype(x)
    if is_float(dt):
        return b.op("Relu", [x])
    return b.op("Max", [x, b.scalar(0, dt)])


def _extreme(op_type, bool_op):
    def lower(ctx):
        b = ctx.b
        x, y = ctx.promoted()
        return b.op(bool_op if b.dtype(x) is _BOOL else op_type, [x, y])
    return lower


lowers("maximum", via="Max")(_extreme("Max", "Or"))
lowers("minimum", via="Min")(_extreme("Min", "And"))


def _nan_aware(op_type, bool_op):
    def lower(ctx):
        b = ctx.b
        x, y = ctx.promoted()
        dt = b.dtype(x)
        if dt is _BOOL:
            return b.op(bool_op, [x, y])
        out = b.op(op_type, [x, y])
        if not is_float(dt):
            return out
        out = b.op("Where", [b.op("IsNaN", [y], dtype=_BOOL), x, out])
        return b.op("Where", [b.op("IsNaN", [x], dtype=_BOOL), y, out])
    return lower


lowers("fmax", via="Max, IsNaN, Where")(_nan_aware("Max", "Or"))
lowers("fmin", via="Min, IsNaN, Where")(_nan_aware("Min", "And"))


@lowers("clamp", via="Max, Min")
def _clamp(ctx):
    b = ctx.b
    names = ctx.promoted()
    x = names[0]
    which = ctx.attr("which", "both")
    bounds = names[1:]
    if b.dtype(x) is _BOOL:
        x = b.cast(x, D.int32)
        bounds = [b.cast(v, D.int32) for v in bounds]
    lo = bounds[0] if which in ("both", "min") else None
    hi = bounds[-1] if which in ("both", "max") else None
    if lo is not None:
        x = b.op("Max", [x, lo])
    if hi is not None:
        x = b.op("Min", [x, hi])
    return x


@lowers("where", via="Where")
def _where(ctx):
    b = ctx.b
    cond, x, y = ctx.promoted()
    return b.op("Where", [to_bool(b, cond), x, y])


# ---- comparisons and logic ------------------------------------------------------------------
def _compare(op_type, negate=False):
    def lower(ctx):
        b = ctx.b
        x, y = ctx.promoted()
        if b.dtype(x) is _BOOL and op_type != "Equal":
            x, y = b.cast(x, D.int32), b.cast(y, D.int32)
        out = b.op(op_type, [x, y], dtype=_BOOL)
        return b.op("Not", [out]) if negate else out
    return lower


for _name, _op in (("eq", "Equal"), ("lt", "Less"), ("le", "LessOrEqual"), ("gt", "Greater"),
                   ("ge", "GreaterOrEqual")):
    lowers(_name, via=_op)(_compare(_op))
lowers("ne", via="Equal, Not")(_compare("Equal", negate=True))


@lowers("logical_not", via="Not")
def _logical_not(ctx):
    return ctx.b.op("Not", [to_bool(ctx.b, ctx.input(0))])


def _logical(op_type):
    def lower(ctx):
        b = ctx.b
        return b.op(op_type, [to_bool(b, ctx.input(0)), to_bool(b, ctx.input(1))])
    return lower


for _name, _op in (("logical_and", "And"), ("logical_or", "Or"), ("logical_xor", "Xor")):
    lowers(_name, via=_op)(_logical(_op))


def _bitwise(op_type, bool_op):
    def lower(ctx):
        b = ctx.b
        names = ctx.promoted()
        if b.dtype(names[0]) is _BOOL:
            return b.op(bool_op, names)
        if ctx.opset < 18:
            ctx.unsupported(f"ONNX has {op_type} for integers from opset 18", (18, 21))
        return b.op(op_type, names)
    return lower


lowers("bitwise_not", via="Not / BitwiseNot (18+)")(_bitwise("BitwiseNot", "Not"))
lowers("bitwise_and", via="And / BitwiseAnd (18+)")(_bitwise("BitwiseAnd", "And"))
lowers("bitwise_or", via="Or / BitwiseOr (18+)")(_bitwise("BitwiseOr", "Or"))
lowers("bitwise_xor", via="Xor / BitwiseXor (18+)")(_bitwise("BitwiseXor", "Xor"))


def _shift(direction):
    def lower(ctx):
        b = ctx.b
        x, y = ctx.promoted()
        dt = b.dtype(x)
        if dt is D.uint8:
            return b.op("BitShift", [x, y], direction=direction)
        if not is_int(dt):
            ctx.unsupported(f"bit shifts of {dt.name} tensors")
        wide = D.int64
        xw, yw = b.cast(x, wide), b.cast(y, wide)
        power = b.op("Pow", [b.scalar(2, wide), yw])
        if direction == "LEFT":
            return b.op("Mul", [xw, power])
        return floor_div_int(b, xw, power)
    return lower


lowers("bitwise_left_shift", via="BitShift / Mul")(_shift("LEFT"))
lowers("bitwise_right_shift", via="BitShift / Div")(_shift("RIGHT"))


# ---- classification ------------------------------------------------------------------------
def _classify(build, integer_value: bool):
    def lower(ctx):
        b = ctx.b
        x = ctx.input(0)
        if is_float(b.dtype(x)):
            return build(b, x)
        return ones_like_bool(b, x, integer_value)
    return lower


lowers("isnan", via="IsNaN")(_classify(lambda b, x: b.op("IsNaN", [x], dtype=_BOOL), False))
lowers("isinf", via="IsInf")(_classify(lambda b, x: b.op("IsInf", [x], dtype=_BOOL), False))
lowers("isposinf", via="IsInf")(_classify(
    lambda b, x: b.op("IsInf", [x], dtype=_BOOL, detect_negative=0), False))
lowers("isneginf", via="IsInf")(_classify(
    lambda b, x: b.op("IsInf", [x], dtype=_BOOL, detect_positive=0), False))
lowers("isfinite", via="IsInf, IsNaN")(_classify(lambda b, x: b.op("Not", [b.op(
    "Or", [b.op("IsInf", [x], dtype=_BOOL), b.op("IsNaN", [x], dtype=_BOOL)])]), True))
lowers("isreal", via="ConstantOfShape")(_classify(lambda b, x: ones_like_bool(b, x, True), True))


@lowers("signbit", via="Less, Equal, Reciprocal")
def _signbit(ctx):
    b = ctx.b
    x = ctx.input(0)
    if b.dtype(x) is _BOOL:
        return ones_like_bool(b, x, False)
    return signbit(b, x)


@lowers("copysign", via="Abs, Neg, Where")
def _copysign(ctx):
    b = ctx.b
    x, y = _float_out(ctx)
    mag = b.op("Abs", [x])
    return b.op("Where", [signbit(b, y), b.op("Neg", [mag]), mag])


# ---- binary transcendental ops ---------------------------------------------------------------
@lowers("atan2", via="Atan, Where")
def _atan2(ctx):
    b = ctx.b
    y, x = _float_out(ctx)
    dt = b.dtype(y)
    zero = b.scalar(0, dt)
    pi = b.scalar(math.pi, dt)

    def where(c, p, q):
        return b.op("Where", [c, p, q])
    base = b.op("Atan", [b.op("Div", [y, x])])
    y_neg = signbit(b, y)
    left = where(y_neg, b.op("Sub", [base, pi]), b.op("Add", [base, pi]))
    general = where(b.op("Less", [zero, x], dtype=_BOOL), base, left)
    on_axis = where(b.op("Equal", [y, zero], dtype=_BOOL),
                    where(signbit(b, x), where(y_neg, b.op("Neg", [pi]), pi), y),
                    where(y_neg, b.scalar(-math.pi / 2, dt), b.scalar(math.pi / 2, dt)))
    return where(b.op("Equal", [x, zero], dtype=_BOOL), on_axis, general)


@lowers("hypot", via="Mul, Add, Sqrt")
def _hypot(ctx):
    b = ctx.b
    x, y = _float_out(ctx)
    return b.op("Sqrt", [b.op("Add", [b.op("Mul", [x, x]), b.op("Mul", [y, y])])])


@lowers("fmod", via="Mod")
def _fmod(ctx):
    x, y = ctx.promoted()
    return ctx.b.op("Mod", [x, y], fmod=1)


@lowers("remainder", via="Mod / Floor")
def _remainder(ctx):
    b = ctx.b
    x, y = ctx.promoted()
    if is_float(b.dtype(x)):
        q = b.op("Floor", [b.op("Div", [x, y])])
        return b.op("Sub", [x, b.op("Mul", [q, y])])
    return b.op("Mod", [x, y], fmod=0)


def _logaddexp(base):
    def lower(ctx):
        b = ctx.b
        x, y = _float_out(ctx)
        dt = b.dtype(x)
        top = b.op("Max", [x, y])
        gap = b.op("Neg", [b.op("Abs", [b.op("Sub", [x, y])])])
        if base == 2:
            term = b.op("Pow", [b.scalar(2, dt), gap])
            tail = b.op("Div", [b.op("Log", [b.op("Add", [b.scalar(1, dt), term])]),
                                b.scalar(math.log(2), dt)])
            tie = b.op("Add", [x, b.scalar(1, dt)])
        else:
            tail = b.op("Log", [b.op("Add", [b.scalar(1, dt), b.op("Exp", [gap])])])
            tie = b.op("Add", [x, b.scalar(math.log(2), dt)])
        out = b.op("Add", [top, tail])
        return b.op("Where", [b.op("Equal", [x, y], dtype=_BOOL), tie, out])
    return lower


lowers("logaddexp", via="Exp, Log, Max")(_logaddexp(math.e))
lowers("logaddexp2", via="Pow, Log, Max")(_logaddexp(2))


@lowers("logit", via="Clip, Div, Log")
def _logit(ctx):
    b = ctx.b
    (x,) = ctx.promoted()
    dt = b.dtype(x)
    eps = ctx.attr("eps", None)
    if eps is not None:
        x = b.op("Max", [b.op("Min", [x, b.scalar(1 - eps, dt)]), b.scalar(eps, dt)])
    return b.op("Log", [b.op("Div", [x, b.op("Sub", [b.scalar(1, dt), x])])])


@lowers("xlogy", via="Log, Mul, Where")
def _xlogy(ctx):
    b = ctx.b
    x, y = ctx.promoted()
    dt = b.dtype(x)
    zero = b.scalar(0, dt)
    out = b.op("Where", [b.op("Equal", [x, zero], dtype=_BOOL), zero,
                         b.op("Mul", [x, b.op("Log", [y])])])
    return b.op("Where", [b.op("IsNaN", [y], dtype=_BOOL), y, out])


@lowers("nan_to_num", via="IsNaN, IsInf, Where")
def _nan_to_num(ctx):
    b = ctx.b
    x = ctx.input(0)
    dt = b.dtype(x)
    if not is_float(dt):
        return b.op("Identity", [x])
    info = D.finfo(dt)
    nan = ctx.attr("nan", 0.0)
    pos = ctx.attr("posinf", None)
    neg = ctx.attr("neginf", None)
    pos = info.max if pos is None else pos
    neg = info.min if neg is None else neg
    out = b.op("Where", [b.op("IsInf", [x], dtype=_BOOL, detect_negative=0),
                         b.scalar(pos, dt), x])
    out = b.op("Where", [b.op("IsInf", [x], dtype=_BOOL, detect_positive=0),
                         b.scalar(neg, dt), out])
    return b.op("Where", [b.op("IsNaN", [x], dtype=_BOOL), b.scalar(nan, dt), out])


@lowers("lerp", via="Sub, Mul, Add, Where")
def _lerp(ctx):
    b = ctx.b
    dt = ctx.out_dtype()
    x, end, w = (ctx.input(i, dt) for i in range(3))
    diff = b.op("Sub", [end, x])
    low = b.op("Add", [x, b.op("Mul", [w, diff])])
    high = b.op("Sub", [end, b.op("Mul", [diff, b.op("Sub", [b.scalar(1, dt), w])])])
    small = b.op("Less", [b.op("Abs", [w]), b.scalar(0.5, dt)], dtype=_BOOL)
    return b.op("Where", [small, low, high])


def _addc(op_type):
    def lower(ctx):
        b = ctx.b
        x, t1, t2 = ctx.promoted()
        value = ctx.attr("value", 1)
        term = b.op(op_type, [t1, t2])
        if value != 1:
            term = b.op("Mul", [term, b.scalar(value, b.dtype(term))])
        return b.op("Add", [x, term])
    return lower


lowers("addcmul", via="Mul, Add")(_addc("Mul"))
lowers("addcdiv", via="Div, Add")(_addc("Div"))


@lowers("isclose", via="Sub, Abs, LessOrEqual")
def _isclose(ctx):
    b = ctx.b
    x, y = ctx.input(0), ctx.input(1)
    rtol, atol = ctx.attr("rtol", 1e-5), ctx.attr("atol", 1e-8)
    equal_nan = ctx.attr("equal_nan", False)
    dt = b.dtype(x)
    if dt is not b.dtype(y):
        ctx.unsupported("isclose of different dtypes")
    exact = b.op("Equal", [x, y], dtype=_BOOL)
    calc = dt if is_float(dt) else D.float64
    xf, yf = b.cast(x, calc), b.cast(y, calc)
    diff = b.op("Abs", [b.op("Sub", [xf, yf])])
    allowed = b.op("Add", [b.scalar(atol, calc),
                           b.op("Mul", [b.scalar(rtol, calc), b.op("Abs", [yf])])])
    near = b.op("And", [b.op("LessOrEqual", [diff, allowed], dtype=_BOOL),
                        b.op("Not", [b.op("IsInf", [diff], dtype=_BOOL)])])
    out = b.op("Or", [exact, near])
    if equal_nan and is_float(dt):
        both = b.op("And", [b.op("IsNaN", [x], dtype=_BOOL), b.op("IsNaN", [y], dtype=_BOOL)])
        out = b.op("Or", [out, both])
    return out


@lowers("gelu", via="Gelu (20+) / Erf or Tanh")
def _gelu(ctx):
    b = ctx.b
    (x,) = ctx.promoted()
    dt = b.dtype(x)
    approximate = ctx.attr("approximate", "none")
    if ctx.opset >= 20:
        return b.op("Gelu", [x], approximate=approximate)
    half = b.op("Mul", [x, b.scalar(0.5, dt)])
    if approximate == "tanh":
        cube = b.op("Mul", [b.op("Mul", [x, x]), x])
        inner = b.op("Add", [x, b.op("Mul", [cube, b.scalar(0.044715, dt)])])
        t = b.op("Tanh", [b.op("Mul", [inner, b.scalar(math.sqrt(2 / math.pi), dt)])])
    else:
        t = b.op("Erf", [b.op("Mul", [x, b.scalar(1 / math.sqrt(2), dt)])])
    return b.op("Mul", [half, b.op("Add", [t, b.scalar(1, dt)])])


