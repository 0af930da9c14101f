"""Elementwise ops: arithmetic, powers, exp/log, trig, activations, comparisons, logic."""
from __future__ import annotations

from .. import _dtype as D
from .._tensor import Tensor
from ..testing.opinfo import ALL_INT, FLOATS, INTS, Arg, Sample, binary, unary
from .dispatch import apply, apply_, write_out
from .registry import OpDef, register, tensor_method


# ---- arithmetic ---------------------------------------------------------------------------
@register("add", pointwise=True, onnx="Add", samples=binary(lambda t, x, y: x + y) + (
    Sample(lambda t, x, y: t.add(x, y, alpha=2), (Arg((2, 3)), Arg((2, 3))), name="alpha"),
    Sample(lambda t, x: x + 2.5, (Arg((2, 3)),), dtypes=FLOATS + INTS, name="scalar"),
    Sample(lambda t, x: 1 + x, (Arg((2, 3)),), dtypes=FLOATS + INTS, name="radd")))
class Add(OpDef):
    def forward(ctx, xp, x, y, alpha=1):
        ctx.alpha = alpha
        return x + y if alpha == 1 else x + alpha * y

    def backward(ctx, g):
        return g, (g if ctx.alpha == 1 else g * ctx.alpha)


@register("sub", pointwise=True, onnx="Sub", samples=binary(lambda t, x, y: x - y) + (
    Sample(lambda t, x, y: t.sub(x, y, alpha=3), (Arg((2, 3)), Arg((2, 3))), name="alpha"),
    Sample(lambda t, x: 2 - x, (Arg((2, 3)),), dtypes=FLOATS + INTS, name="rsub")))
class Sub(OpDef):
    def forward(ctx, xp, x, y, alpha=1):
        ctx.alpha = alpha
        return x - y if alpha == 1 else x - alpha * y

    def backward(ctx, g):
        return g, (-g if ctx.alpha == 1 else g * -ctx.alpha)


@register("mul", pointwise=True, onnx="Mul", samples=binary(lambda t, x, y: x * y) + (
    Sample(lambda t, x: x * 3, (Arg((2, 3)),), dtypes=FLOATS + INTS, name="scalar"),))
class Mul(OpDef):
    def forward(ctx, xp, x, y):
        ctx.save(x, y)
        return x * y

    def backward(ctx, g):
        x, y = ctx.saved
        need = ctx.needs_input_grad
        return (g * y if need[0] else None), (g * x if need[1] else None)


@register("div", pointwise=True, onnx="Div", samples=binary(
    lambda t, x, y: x / y, rhs_low=0.5, rhs_high=2.0) + (
    Sample(lambda t, x, y: t.div(x, y, rounding_mode="floor"), (Arg((3, 4), -5, 5),
           Arg((3, 4), 0.5, 2)), dtypes=FLOATS + INTS, grad=False, name="floor"),
    Sample(lambda t, x, y: t.div(x, y, rounding_mode="trunc"), (Arg((3, 4), -5, 5),
           Arg((3, 4), 0.5, 2)), dtypes=FLOATS + INTS, grad=False, name="trunc"),
    Sample(lambda t, x: 1 / x, (Arg((2, 3), 0.5, 2),), name="rdiv")))
class Div(OpDef):
    promote = "common"

    def forward(ctx, xp, x, y, rounding_mode=None):
        if rounding_mode is None:
            if x.dtype.kind in "biu":
                x = x.astype(D._Defaults.floating.np)
                y = y.astype(x.dtype)
            out = x / y
            ctx.save(y, out)
            return out
        if rounding_mode == "trunc":
            if x.dtype.kind in "iu":
                _check_int_divisor(xp, y)
                q = xp.abs(x) // xp.abs(y)
                return xp.where((x < 0) != (y < 0), -q, q).astype(x.dtype)
            return xp.trunc(x / y)
        if rounding_mode == "floor":
            if x.dtype.kind in "iu":
                _check_int_divisor(xp, y)
            return xp.floor_divide(x, y)
        raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                           f"but found '{rounding_mode}'")

    def backward(ctx, g):
        y, out = ctx.saved
        gx = g / y
        return gx, (-gx * out if ctx.needs_input_grad[1] else None)


def _check_int_divisor(xp, y):
    if (y == 0).any():
        raise RuntimeError("ZeroDivisionError: integer division by zero")


@register("neg", pointwise=True, onnx="Neg", samples=unary(lambda t, x: -x))
class Neg(OpDef):
    def forward(ctx, xp, x):
        if x.dtype.kind == "b":
            raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. "
                               "If you are trying to invert a mask, use the `~` or "
                               "`logical_not()` operator instead.")
        return -x

    def backward(ctx, g):
        return -g


@register("pow", pointwise=True, onnx="Pow", samples=(
    Sample(lambda t, x, y: x ** y, (Arg((3, 4), 0.5, 2), Arg((3, 4), -2, 2))),
    Sample(lambda t, x: x ** 2, (Arg((3, 4)),), dtypes=FLOATS + INTS, name="square"),
    Sample(lambda t, x: x ** 0.5, (Arg((3, 4), 0.5, 2),), name="sqrt"),
    Sample(lambda t, x: 2 ** x, (Arg((3, 4)),), name="rpow"),
    Sample(lambda t, x, y: t.pow(x, y), (Arg((2, 1), 0.5, 2), Arg((3,), -1, 1)),
           name="broadcast")))
class Pow(OpDef):
    def forward(ctx, xp, x, y):
        if x.dtype.kind in "iu" and (y < 0).any():
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        out = x ** y
        ctx.save(x, y, out)
        return out

    def backward(ctx, g):
        x, y, out = ctx.saved
        need = ctx.needs_input_grad
        gx = g * y * x ** (y - 1) if need[0] else None
        gy = None
        if need[1]:
            gy = g * out * where(x > 0, x, 1).log()
            gy = where((x == 0) & (y >= 0), 0.0, gy)
        return gx, gy


# ---- unary math -------------------------------------------------------------------------------
def _unary_float(name, np_name, grad, low=-2.0, high=2.0, onnx=None, samples=None):
    """Define a unary float op whose forward is one NumPy function and whose backward is
    `grad(x, y, g)` in ember ops (x the input, y the output)."""
    def forward(ctx, xp, x):
        y = getattr(xp, np_name)(x)
        ctx.save(x, y)
        return y

    def backward(ctx, g):
        x, y = ctx.saved
        return grad(x, y, g)

    cls = type(name.capitalize(), (OpDef,), {"forward": forward, "backward": backward})
    fn = lambda t, x: getattr(t, name)(x)  # noqa: E731
    return register(name, promote="float", pointwise=True, onnx=onnx,
                    samples=samples or unary(fn, low, high))(cls)


Exp = _unary_float("exp", "exp", lambda x, y, g: g * y, onnx="Exp")
Log = _unary_float("log", "log", lambda x, y, g: g / x, 0.1, 3.0, onnx="Log")
Sqrt = _unary_float("sqrt", "sqrt", lambda x, y, g: g / (2 * y), 0.1, 3.0, onnx="Sqrt")
Sin = _unary_float("sin", "sin", lambda x, y, g: g * x.cos(), onnx="Sin")
Cos = _unary_float("cos", "cos", lambda x, y, g: -g * x.sin(), onnx="Cos")
Tanh = _unary_float("tanh", "tanh", lambda x, y, g: g * (1 - y * y), onnx="Tanh")


@register("abs", pointwise=True, onnx="Abs", samples=unary(lambda t, x: x.abs(),
                                                           dtypes=FLOATS + INTS))
class Abs(OpDef):
    def forward(ctx, xp, x):
        ctx.save(x)
        return xp.abs(x)

    def backward(ctx, g):
        (x,) = ctx.saved
        return g * x.sign()


@register("sign", pointwise=True, onnx="Sign", samples=unary(lambda t, x: x.sign()))
class Sign(OpDef):
    def forward(ctx, xp, x):
        ctx.shape = x.shape
        return xp.sign(x)

    def backward(ctx, g):
        return g * 0


@register("where", promote="common", promote_args=(1, 2), pointwise=True, onnx="Where",
          samples=(Sample(lambda t, c, x, y: t.where(c, x, y),
                          (Arg((3, 4), dtype="bool", grad=False), Arg((3, 4)), Arg((4,)))),
                   Sample(lambda t, c, x: t.where(c, x, 0.0),
                          (Arg((3, 4), dtype="bool", grad=False), Arg((3, 4))),
                          dtypes=FLOATS + INTS, name="scalar")))
class Where(OpDef):
    def forward(ctx, xp, cond, x, y):
        if cond.dtype.kind != "b":
            raise RuntimeError(f"where expected condition to be a boolean tensor, but got a "
                               f"tensor with dtype {D.from_numpy_dtype(cond.dtype).name}")
        ctx.save(cond)
        return xp.where(cond, x, y)

    def backward(ctx, g):
        (cond,) = ctx.saved
        need = ctx.needs_input_grad
        return (None, where(cond, g, 0.0) if need[1] else None,
                where(cond, 0.0, g) if need[2] else None)


def where(condition, input=None, other=None, *, out=None):
    """Elementwise choice: `input` where `condition` holds, else `other`.

    >>> import ember
    >>> ember.where(ember.tensor([True, False]), ember.tensor([1, 2]), 0)
    tensor([1, 0])
    """
    if input is None and other is None:
        return condition.nonzero(as_tuple=True)
    return write_out(apply(Where, condition, input, other), out)



# ---- comparisons ----------------------------------------------------------------------------
def _compare(name, np_name, onnx=None):
    def forward(ctx, xp, x, y):
        return getattr(xp, np_name)(x, y)

    cls = type(name.capitalize(), (OpDef,), {"forward": forward})
    sym = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}[name]
    fn = eval(f"lambda t, x, y: x {sym} y")  # noqa: S307 - fixed operator table above
    return register(name, differentiable=False, pointwise=True, onnx=onnx, samples=(
        Sample(fn, (Arg((3, 4), -2, 2), Arg((3, 4), -2, 2)), dtypes=FLOATS + INTS, grad=False),
        Sample(fn, (Arg((3, 1), -1, 1), Arg((4,), -1, 1)), dtypes=("int64",), grad=False,
               name="broadcast")))(cls)


Eq = _compare("eq", "equal", "Equal")
Ne = _compare("ne", "not_equal")
Lt = _compare("lt", "less", "Less")
Le = _compare("le", "less_equal", "LessOrEqual")
Gt = _compare("gt", "greater", "Greater")
Ge = _compare("ge", "greater_equal", "GreaterOrEqual")


# ---- logical ---------------------------------------------------------------------------------
@register("bitwise_and", pointwise=True, differentiable=False, onnx="BitwiseAnd", samples=(
    Sample(lambda t, x, y: x & y, (Arg((3, 4), 0, 8), Arg((3, 4), 0, 8)),
           dtypes=("bool",) + ALL_INT, grad=False),))
class BitwiseAnd(OpDef):
    def forward(ctx, xp, x, y):
        if x.dtype.kind == "f":
            raise RuntimeError('"bitwise_and_cpu" not implemented for floating point tensors')
        return x & y


# ---- public functions and Tensor methods ------------------------------------------------
@tensor_method()
def add(input, other, *, alpha=1, out=None):
    """input + alpha * other, with broadcasting and type promotion.

    >>> import ember
    >>> ember.add(ember.tensor([1, 2]), ember.tensor([10, 20]), alpha=2)
    tensor([21, 42])
    """
    if alpha == 1:
        return write_out(apply(Add, input, other), out)
    return write_out(apply(Add, input, other, alpha=alpha), out)


@tensor_method()
def sub(input, other, *, alpha=1, out=None):
    """input - alpha * other."""
    if alpha == 1:
        return write_out(apply(Sub, input, other), out)
    return write_out(apply(Sub, input, other, alpha=alpha), out)


@tensor_method("mul", "multiply")
def mul(input, other, *, out=None):
    """Elementwise product."""
    return write_out(apply(Mul, input, other), out)


@tensor_method("div", "divide", "true_divide")
def div(input, other, *, rounding_mode=None, out=None):
    """Elementwise division; rounding_mode None (true division), 'trunc' or 'floor'."""
    if rounding_mode is None:
        return write_out(apply(Div, input, other), out)
    return write_out(apply(Div, input, other, rounding_mode=rounding_mode), out)


@tensor_method()
def pow(input, exponent, *, out=None):
    """input ** exponent elementwise."""
    return write_out(apply(Pow, input, exponent), out)


def _unary_api(op, *aliases):
    def fn(input, *, out=None):
        return write_out(apply(op, input), out)
    fn.__name__ = op.name
    fn.__doc__ = f"Elementwise {op.name}."
    return tensor_method(op.name, *aliases)(fn)


neg = _unary_api(Neg, "negative")
exp = _unary_api(Exp)
log = _unary_api(Log)
sqrt = _unary_api(Sqrt)
sin = _unary_api(Sin)
cos = _unary_api(Cos)
tanh = _unary_api(Tanh)
abs = _unary_api(Abs, "absolute")
sign = _unary_api(Sign)
negative, absolute = neg, abs
multiply, divide, true_divide = mul, div, div


def _binary_api(op, *aliases):
    def fn(input, other, *, out=None):
        return write_out(apply(op, input, other), out)
    fn.__name__ = op.name
    fn.__doc__ = f"Elementwise {op.name}."
    return tensor_method(op.name, *aliases)(fn)


eq = _binary_api(Eq)
ne = _binary_api(Ne, "not_equal")
lt = _binary_api(Lt, "less")
le = _binary_api(Le, "less_equal")
gt = _binary_api(Gt, "greater")
ge = _binary_api(Ge, "greater_equal")
bitwise_and = _binary_api(BitwiseAnd)
not_equal, less, less_equal, greater, greater_equal = ne, lt, le, gt, ge


def _inplace(op, **fixed):
    def method(self, *args, **kw):
        return apply_(op, self, *args, **fixed, **kw)
    return method


def _reflect(op):
    return lambda self, other: apply(op, other, self)


Tensor.__add__ = lambda self, other: apply(Add, self, other)
Tensor.__radd__ = Tensor.__add__
Tensor.__iadd__ = Tensor.add_ = lambda self, other, *, alpha=1: (
    apply_(Add, self, other) if alpha == 1 else apply_(Add, self, other, alpha=alpha))
Tensor.__sub__ = lambda self, other: apply(Sub, self, other)
Tensor.__rsub__ = _reflect(Sub)
Tensor.__isub__ = Tensor.sub_ = lambda self, other, *, alpha=1: (
    apply_(Sub, self, other) if alpha == 1 else apply_(Sub, self, other, alpha=alpha))
Tensor.__mul__ = lambda self, other: apply(Mul, self, other)
Tensor.__rmul__ = Tensor.__mul__
Tensor.__imul__ = Tensor.mul_ = _inplace(Mul)
Tensor.__truediv__ = lambda self, other: apply(Div, self, other)
Tensor.__rtruediv__ = _reflect(Div)
Tensor.__itruediv__ = Tensor.div_ = lambda self, other, *, rounding_mode=None: (
    apply_(Div, self, other) if rounding_mode is None
    else apply_(Div, self, other, rounding_mode=rounding_mode))
Tensor.__floordiv__ = lambda self, other: apply(Div, self, other, rounding_mode="floor")
Tensor.__rfloordiv__ = lambda self, other: apply(Div, other, self, rounding_mode="floor")
Tensor.__pow__ = lambda self, other: apply(Pow, self, other)
Tensor.__rpow__ = _reflect(Pow)
Tensor.__ipow__ = Tensor.pow_ = _inplace(Pow)
Tensor.__neg__ = lambda self: apply(Neg, self)
Tensor.__abs__ = lambda self: apply(Abs, self)
Tensor.__pos__ = lambda self: self
Tensor.__eq__ = lambda self, other: apply(Eq, self, other)
Tensor.__ne__ = lambda self, other: apply(Ne, self, other)
Tensor.__lt__ = lambda self, other: apply(Lt, self, other)
Tensor.__le__ = lambda self, other: apply(Le, self, other)
Tensor.__gt__ = lambda self, other: apply(Gt, self, other)
Tensor.__ge__ = lambda self, other: apply(Ge, self, other)
Tensor.__and__ = Tensor.__rand__ = lambda self, other: apply(BitwiseAnd, self, other)
Tensor.__hash__ = lambda self: id(self)
for _op in (Exp, Log, Sqrt, Sin, Cos, Tanh, Abs, Neg, Sign):
    setattr(Tensor, _op.name + "_", _inplace(_op))
del _op


__all__ = ["add", "sub", "mul", "multiply", "div", "divide", "true_divide", "pow", "neg",
           "negative", "exp", "log", "sqrt", "sin", "cos", "tanh", "abs", "absolute", "sign",
           "where", "eq", "ne", "not_equal", "lt", "less", "le", "less_equal", "gt", "greater",
           "ge", "greater_equal", "bitwise_and"]
