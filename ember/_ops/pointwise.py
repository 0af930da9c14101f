"""Elementwise ops: arithmetic, powers, exp/log, trig, rounding, activations, clamping,
comparisons, logic and bit ops, float classification.

Hot ops also define `forward_inplace`, the kernel `apply_` uses for in-place calls that record
no graph (optimizer steps under no_grad): it writes into the target with `out=`, and kernels of
several steps run block by block, so they need no temporary as large as the tensor.
"""
from __future__ import annotations

import builtins
import math
import numbers
import operator

import numpy as np

from .. import _dtype as D
from .._backend.portable import clamp_array
from .._tensor import Tensor
from ..autograd.graph import Context
from ..testing.opinfo import (ALL_INT, FLOAT_ALL, FLOATS, INTS, NUMERIC, Arg, Sample, binary,
                              unary)
from .creation import _check_range
from .dispatch import apply, apply_, write_out
from .registry import (NO_ORDERING, OpDef, composite, name_node, refuse_complex, refuse_unsigned,
                       register, tensor_method)

_TORCH_NAMES = D.SCALAR_NAMES_BY_NAME


# ---- helpers -----------------------------------------------------------------------------
def _dtype_name(a) -> str:
    """torch's name of a tensor's or array's dtype, as its error messages print it."""
    dt = a._dtype if isinstance(a, Tensor) else D.from_numpy_dtype(a.dtype)
    return _TORCH_NAMES.get(dt.name, dt.name)


def _is_float(a) -> bool:
    """True for floating arrays, bfloat16 (NumPy kind 'V') included."""
    return a.dtype.kind not in "biu"


def _unsupported(op: str, a, fits: str) -> NotImplementedError:
    """torch's error for a dtype an op has no kernel for (NotImplementedError is a RuntimeError)."""
    return NotImplementedError(f"\"{op}\" not implemented for '{_dtype_name(a)}'; {op}() takes "
                               f"{fits}")


def _check_int_divisor(y):
    """Integer division by zero raises, as in torch (floats give inf/nan instead)."""
    if bool((y == 0).any()) if hasattr(y, "any") else y == 0:
        raise RuntimeError("ZeroDivisionError: integer division by zero (divide floating-point "
                           "tensors to get inf/nan instead)")


def _zeros_like(g):
    """A constant zero gradient shaped like `g` (ops whose derivative is zero almost everywhere)."""
    return Tensor._zeros(g._data.shape, g._dtype, g._device)


def _in_place(op: str):
    """Decorator for a forward_inplace kernel: Python ints that overflow the target's integer
    type wrap around as in torch (as `apply` does); remaining overflow errors surface as torch's
    RuntimeErrors instead of leaking out raw (`apply_` words broadcast errors)."""
    def wrap(kernel):
        def run(xp, target, *arrays, **attrs):
            try:
                try:
                    kernel(xp, target, *arrays, **attrs)
                except OverflowError:
                    wrapped = [_wrap_int(a, target.dtype) for a in arrays]
                    if builtins.all(w is a for w, a in zip(wrapped, arrays)):
                        raise
                    kernel(xp, target, *wrapped, **attrs)
            except OverflowError as e:
                raise RuntimeError(f"{op}_(): value cannot be converted to type "
                                   f"{_dtype_name(target)} without overflow ({e})") from None
        return run
    return wrap


def _wrap_int(value, dt):
    """A Python int outside integer dtype `dt`, wrapped around into it (int64 range only)."""
    if type(value) is not int or dt.kind not in "iu" or not -2 ** 63 <= value < 2 ** 63:
        return value
    return np.asarray(value, dtype=np.int64).astype(dt)


_BLOCK = 1 << 16  # elements per block of a multi-step in-place kernel (fits in L2 cache)


def _flat_ok(a, target) -> bool:
    """Whether operand `a` can be walked block by block alongside `target`."""
    if not isinstance(a, np.ndarray) or a.ndim == 0:
        return True
    if a.shape != target.shape or not a.flags.c_contiguous:
        return False
    return (a is target or not np.may_share_memory(a, target)
            or a.__array_interface__["data"][0] == target.__array_interface__["data"][0])


def _blockwise(kernel, target, *operands):
    """Run `kernel(out, *operands)` over flat blocks of `target`, so each step of a multi-step
    in-place kernel needs a block-sized temporary, not a tensor-sized one. Operands that
    broadcast, are not contiguous or partly overlap the target are done in one pass."""
    n = target.size
    if (n <= 2 * _BLOCK or not target.flags.c_contiguous
            or not builtins.all(_flat_ok(a, target) for a in operands)):
        kernel(target, *operands)
        return
    flat_target = target.reshape(-1)
    flat = [a.reshape(-1) if isinstance(a, np.ndarray) and a.ndim else None for a in operands]
    for start in range(0, n, _BLOCK):
        stop = start + _BLOCK
        kernel(flat_target[start:stop], *[a if f is None else f[start:stop]
                                          for a, f in zip(operands, flat)])


def _opmath(target, *operands):
    """The dtype a multi-step in-place kernel computes in: like torch, float16/bfloat16 in
    float32, and the widest float among dimensioned operands (0-dim ones count as scalars)."""
    dt = target.dtype
    if dt.kind in "biu":
        return dt
    if dt.itemsize == 2:
        dt = np.dtype(np.float32)
    for a in operands:
        if (isinstance(a, np.ndarray) and a.ndim and a.dtype.kind == "f"
                and a.dtype.itemsize > dt.itemsize):
            dt = a.dtype
    return dt


def _scalar_for(dt, value, what: str, op: str):
    """Check a Python multiplier (alpha, value) against the result dtype, as torch does."""
    if isinstance(value, Tensor):
        value = value.item()
    if dt.kind == "b":
        return builtins.bool(value)
    if isinstance(value, builtins.bool):
        raise RuntimeError(f"{op}(): Boolean {what} only supported for Boolean results.")
    if dt.kind in "iu" and isinstance(value, float):
        raise RuntimeError(f"{op}(): For integral input tensors, argument {what} must not be a "
                           f"floating point number (got {value}).")
    return value


def _scaled(xp, y, alpha):
    """alpha * y in y's dtype, with torch's error when alpha does not fit that dtype."""
    try:
        return alpha * y
    except OverflowError:
        raise RuntimeError(f"value {alpha} cannot be converted to type "
                           f"{_dtype_name(y)} without overflow") from None


def _alpha_for(dt, alpha, op: str):
    """add/sub's alpha converted to the result dtype `dt` as torch converts it: refused
    where it overflows that dtype (floats included), wrapped when negative for unsigned
    integers."""
    alpha = _scalar_for(dt, alpha, "alpha", op)
    if dt.kind == "b":
        return alpha
    _check_range(alpha, D.from_numpy_dtype(dt), op)
    if dt.kind == "u" and alpha < 0:
        return alpha % (1 << 8 * dt.itemsize)
    return alpha


def _alpha_combine(xp, ufunc, x, y, alpha, dt):
    """x + alpha * y (ufunc add) or x - alpha * y, computed in the opmath dtype `dt`. Where
    that is float32, each result is rounded once, as by torch's fused multiply-add: float64
    holds the product and the sum of float32 values exactly, so rounding it to float32 is the
    one rounding."""
    if dt != np.float32:
        return ufunc(x, xp.multiply(y, alpha, dtype=dt), dtype=dt)
    wide = ufunc(x, xp.multiply(y, np.float64(np.float32(alpha)), dtype=np.float64),
                 dtype=np.float64)
    return xp.asarray(wide).astype(np.float32)


def _quiet():
    """Silence NumPy's warnings for intermediate values the result never shows (a masked
    log(0), an exp that overflows on the branch `where` drops)."""
    return np.errstate(all="ignore")


# ---- arithmetic ---------------------------------------------------------------------------
def _add_kernel(name: str, ufunc):
    """forward_inplace of add/sub: one ufunc call, or with alpha, blockwise `x op alpha * y`."""
    @_in_place(name)
    def kernel(xp, target, y, alpha=1):
        if alpha == 1 and type(alpha) is int:
            ufunc(target, y, out=target, casting="unsafe")
            return
        alpha = _alpha_for(target.dtype, alpha, name)
        dt = _opmath(target, y)

        def step(out, y):
            xp.copyto(out, _alpha_combine(xp, ufunc, out, y, alpha, dt), casting="unsafe")
        _blockwise(step, target, y)
    return kernel


@register("add", pointwise=True, onnx="Add", unsigned="add_stub",
          samples=binary(lambda t, x, y: x + y) + (
    Sample(lambda t, x, y: t.add(x, y, alpha=2), (Arg((2, 3)), Arg((2, 3))), dtypes=NUMERIC,
           name="alpha"),
    Sample(lambda t, x, y: t.add(x, y, alpha=-0.5), (Arg((2, 3)), Arg((3,))), name="alpha_f"),
    Sample(lambda t, x: x + 2.5, (Arg((2, 3)),), dtypes=FLOATS + INTS, name="scalar"),
    Sample(lambda t, x, y: x + y, (Arg((2, 3)), Arg((2, 3))), dtypes=("bool",) + ALL_INT
           + ("float16", "bfloat16"), grad=False, name="dtypes"),
    Sample(lambda t, x, y: t.add(x, y, alpha=3), (Arg((2, 3)), Arg((2, 3))), dtypes=("bool",),
           grad=False, name="bool_alpha"),
    Sample(lambda t, x: 1 + x, (Arg((2, 3)),), dtypes=FLOATS + INTS, name="radd")))
class Add(OpDef):
    def forward(ctx, xp, x, y, alpha=1):
        if alpha == 1 and type(alpha) is int:
            ctx.alpha = 1
            return x + y
        alpha = ctx.alpha = _alpha_for(x.dtype, alpha, "add")
        return _alpha_combine(xp, np.add, x, y, alpha, x.dtype)

    def backward(ctx, g):
        return g, (g if ctx.alpha == 1 else g * ctx.alpha)

    forward_inplace = _add_kernel("add", np.add)


def _check_sub(a, b):
    """torch refuses `-` on bool tensors (it would silently mean xor or not)."""
    a_bool = isinstance(a, Tensor) and a._dtype is D.bool
    b_bool = isinstance(b, Tensor) and b._dtype is D.bool
    if a_bool and b_bool:
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                           "supported. Use the `^` or `logical_xor()` operator instead.")
    if a_bool or b_bool:
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")


@register("sub", pointwise=True, onnx="Sub", unsigned="add_stub",
          samples=binary(lambda t, x, y: x - y) + (
    Sample(lambda t, x, y: t.sub(x, y, alpha=3), (Arg((2, 3)), Arg((2, 3))), dtypes=NUMERIC,
           name="alpha"),
    Sample(lambda t, x, y: t.subtract(x, y, alpha=0.5), (Arg((2, 3)), Arg((2, 3))),
           name="subtract"),
    Sample(lambda t, x: 2 - x, (Arg((2, 3)),), dtypes=FLOATS + INTS, name="rsub")))
class Sub(OpDef):
    def forward(ctx, xp, x, y, alpha=1):
        if x.dtype.kind == "b":
            raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                               "supported. Use the `^` or `logical_xor()` operator instead.")
        if alpha == 1 and type(alpha) is int:
            ctx.alpha = 1
            return x - y
        alpha = ctx.alpha = _alpha_for(x.dtype, alpha, "sub")
        return _alpha_combine(xp, np.subtract, x, y, alpha, x.dtype)

    def backward(ctx, g):
        return g, (-g if ctx.alpha == 1 else g * -ctx.alpha)

    forward_inplace = _add_kernel("sub", np.subtract)


@register("mul", pointwise=True, onnx="Mul", samples=binary(lambda t, x, y: x * y) + (
    Sample(lambda t, x: x * 3, (Arg((2, 3)),), dtypes=FLOATS + INTS, name="scalar"),
    Sample(lambda t, x, y: t.multiply(x, y), (Arg((2, 3)), Arg((2, 3))),
           dtypes=("bool",) + ALL_INT + ("float16", "bfloat16"), grad=False, name="dtypes")))
class Mul(OpDef):
    holomorphic = True

    def forward(ctx, xp, x, y):
        need = ctx.needs_input_grad
        if need:
            ctx.save(x if need[1] else None, y if need[0] else None)
        return x * y

    def backward(ctx, g):
        x, y = ctx.saved
        need = ctx.needs_input_grad
        return (g * y if need[0] else None), (g * x if need[1] else None)

    @_in_place("mul")
    def forward_inplace(xp, target, y):
        xp.multiply(target, y, out=target, casting="unsafe")


def _div_rounded(xp, x, y, rounding_mode):
    """Division rounded toward zero ('trunc') or toward -inf ('floor')."""
    refuse_complex(f"div_{rounding_mode}", x, y)
    refuse_unsigned(f"div_{rounding_mode}_cpu", x, y)
    if rounding_mode == "trunc":
        if x.dtype.kind in "iu":
            _check_int_divisor(y)
            q = xp.abs(x) // xp.abs(y)
            return xp.where((x < 0) != (y < 0), -q, q).astype(x.dtype)
        return xp.trunc(x / y)
    if rounding_mode == "floor":
        if x.dtype.kind in "iu":
            _check_int_divisor(y)
        if x.dtype.kind == "b":
            raise _unsupported("div_floor", x, "integer or floating-point tensors")
        return xp.floor_divide(x, y)
    raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but "
                       f"found '{rounding_mode}'")


@register("div", pointwise=True, onnx="Div", samples=binary(
    lambda t, x, y: x / y, rhs_low=0.5, rhs_high=2.0) + (
    Sample(lambda t, x, y: t.div(x, y, rounding_mode="floor"), (Arg((3, 4), -5, 5),
           Arg((3, 4), 0.5, 2)), dtypes=FLOATS + INTS, name="floor"),
    Sample(lambda t, x, y: t.div(x, y, rounding_mode="trunc"), (Arg((3, 4), -5, 5),
           Arg((3, 4), -2.5, -1.5)), dtypes=FLOATS + INTS, name="trunc"),
    Sample(lambda t, x, y: x / y, (Arg((2, 3), -5, 5), Arg((2, 3), 1, 3)),
           dtypes=("uint8", "int8", "float16", "bfloat16"), grad=False, name="dtypes"),
    Sample(lambda t, x: 1 / x, (Arg((2, 3), 0.5, 2),), name="rdiv")))
class Div(OpDef):
    holomorphic = True

    def forward(ctx, xp, x, y, rounding_mode=None):
        ctx.rounding_mode = rounding_mode
        if rounding_mode is not None:
            return _div_rounded(xp, x, y, rounding_mode)
        if x.dtype.kind in "biu":
            x = x.astype(D._Defaults.floating.np)
            y = y.astype(x.dtype)
        out = x / y
        ctx.save(y, out)
        return out

    def backward(ctx, g):
        need = ctx.needs_input_grad
        if ctx.rounding_mode is not None:  # piecewise constant: zero gradients, as in torch
            return (_zeros_like(g) if need[0] else None), (_zeros_like(g) if need[1] else None)
        y, out = ctx.saved
        gx = g / y
        return gx, (-gx * out if need[1] else None)

    @_in_place("div")
    def forward_inplace(xp, target, y, rounding_mode=None):
        if rounding_mode is None:
            if target.dtype.kind in "biu":  # true division makes floats of integers
                raise RuntimeError(f"div_(): result type Float can't be cast to the desired "
                                   f"output type {_dtype_name(target)} (use rounding_mode="
                                   "'floor' or 'trunc' to stay integral)")
            xp.true_divide(target, y, out=target, casting="unsafe")
        else:
            xp.copyto(target, _div_rounded(xp, target, y, rounding_mode), casting="unsafe")


def _modulo(name: str, np_name: str, rounding: str):
    """remainder (sign of the divisor, Python's %) and fmod (sign of the dividend, C's fmod)."""
    def _check_modulo(x, y):
        if x.dtype.kind == "b":
            raise _unsupported(name, x, "integer or floating-point tensors")
        if x.dtype.kind in "iu":
            _check_int_divisor(y)

    def forward(ctx, xp, x, y):
        _check_modulo(x, y)
        ctx.save(x, y)
        return getattr(xp, np_name)(x, y)

    def backward(ctx, g):
        x, y = ctx.saved
        return g, (-g * div(x, y, rounding_mode=rounding) if ctx.needs_input_grad[1] else None)

    @_in_place(name)
    def forward_inplace(xp, target, y):
        _check_modulo(target, y)
        getattr(xp, np_name)(target, y, out=target, casting="unsafe")

    op_fn = (lambda t, x, y: x % y) if name == "remainder" else (lambda t, x, y: x.fmod(y))
    cls = type(name.capitalize(), (OpDef,), {"forward": forward, "backward": backward,
                                             "forward_inplace": forward_inplace})
    return register(name, pointwise=True, complex=False, unsigned=f"{name}_cpu", samples=binary(
        lambda t, x, y: getattr(t, name)(x, y), -5, 5, rhs_low=0.6, rhs_high=2.5) + (
        Sample(lambda t, x, y: getattr(t, name)(x, y), (Arg((3, 4), -5, 5),
               Arg((3, 4), -2.5, -1.5)), dtypes=NUMERIC, name="neg_divisor"),
        Sample(lambda t, x: getattr(t, name)(x, 1.5), (Arg((3, 4), -5, 5),), dtypes=NUMERIC,
               name="scalar"),
        Sample(lambda t, x: getattr(t, name)(x, t.tensor(2.5, dtype=t.float64)),
               (Arg((3, 4), -5, 5),), dtypes=NUMERIC, name="0d_other"),
        Sample(op_fn, (Arg((2, 3), -9, 9), Arg((2, 3), 1, 4)),
               dtypes=ALL_INT + ("float16", "bfloat16"), grad=False, name="dtypes")))(cls)


Remainder = _modulo("remainder", "remainder", "floor")
Fmod = _modulo("fmod", "fmod", "trunc")


@register("neg", pointwise=True, onnx="Neg", unsigned="neg_cpu", samples=unary(lambda t, x: -x) + (
    Sample(lambda t, x: t.negative(x), (Arg((2, 3)),), dtypes=ALL_INT + ("float16",),
           grad=False, name="dtypes"),))
class Neg(OpDef):
    def forward(ctx, xp, x):
        _check_neg(x)
        return -x

    def backward(ctx, g):
        return -g

    def forward_inplace(xp, target):
        _check_neg(target)
        xp.negative(target, out=target)


def _check_neg(x):
    if x.dtype.kind == "b":
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or "
                           "`logical_not()` operator instead.")


def _any_negative(y) -> bool:
    return bool((y < 0).any()) if hasattr(y, "any") else y < 0


def _is_half_power(y) -> bool:
    """Whether the exponent is the scalar 0.5 or -0.5 (a Python float or a 0-d float array)."""
    if isinstance(y, float):
        return y in (0.5, -0.5)
    return getattr(y, "ndim", None) == 0 and y.dtype.kind == "f" and float(y) in (0.5, -0.5)


def _power(xp, x, y, out=None):
    """x ** y, where a float tensor to the scalar power 0.5 or -0.5 is a (reciprocal) square
    root, as torch computes it: (-inf) ** 0.5 is NaN and (-0.) ** -0.5 is -inf, not C pow's
    inf and inf (which CuPy, and NumPy for -0.5, would give)."""
    if x.dtype.kind == "f" and _is_half_power(y):
        root = xp.sqrt(x, out=out)
        return root if float(y) > 0 else xp.reciprocal(root, out=root)
    return xp.power(x, y, out=out, casting="unsafe") if out is not None else x ** y


@register("pow", pointwise=True, onnx="Pow", unsigned="pow", samples=(
    Sample(lambda t, x, y: x ** y, (Arg((3, 4), 0.5, 2), Arg((3, 4), -2, 2))),
    Sample(lambda t, x: x ** 2, (Arg((3, 4)),), dtypes=FLOATS + INTS, name="square"),
    Sample(lambda t, x: x ** 0.5, (Arg((3, 4), 0.5, 2),), name="sqrt"),
    Sample(lambda t, x: x ** -0.5, (Arg((3, 4), 0.5, 2),), name="rsqrt"),
    Sample(lambda t, x: 2 ** x, (Arg((3, 4)),), name="rpow"),
    Sample(lambda t, x, y: t.pow(x, y), (Arg((3, 4), -2, 2), Arg((3, 4), 0, 3)),
           dtypes=ALL_INT, grad=False, name="ints"),
    Sample(lambda t, x, y: t.pow(x, y), (Arg((2, 1), 0.5, 2), Arg((3,), -1, 1)),
           name="broadcast")))
class Pow(OpDef):
    holomorphic = True

    def forward(ctx, xp, x, y):
        if x.dtype.kind in "iu" and _any_negative(y):
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        out = _power(xp, x, y)
        ctx.save(x, y, out)
        return out

    def backward(ctx, g):
        x, y, out = ctx.saved
        need = ctx.needs_input_grad
        gx = g * y * x ** (y - 1) if need[0] else None
        gy = None
        if need[1] and (x.is_complex() or y.is_complex()):  # d/dy x^y = x^y log x
            gy = g * out * x.log()
        elif need[1]:  # taken as 0 where x == 0 and y >= 0 (as torch)
            gy = where((x == 0) & (y >= 0), 0.0, g * out * x.log())
        return gx, gy

    @_in_place("pow")
    def forward_inplace(xp, target, y):
        if target.dtype.kind in "iu" and _any_negative(y):
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        _power(xp, target, y, out=target)


@register("addcmul", pointwise=True, holomorphic=True, samples=(
    Sample(lambda t, x, a, b: t.addcmul(x, a, b), (Arg((3, 4)), Arg((3, 4)), Arg((3, 4))),
           dtypes=NUMERIC),
    Sample(lambda t, x, a, b: t.addcmul(x, a, b, value=-0.5), (Arg((2, 1, 4)), Arg((3, 1)),
           Arg((4,))), name="value"),
    Sample(lambda t, x, a, b: x.addcmul(a, b, value=3), (Arg((3, 4)), Arg((3, 4)), Arg(())),
           dtypes=NUMERIC, name="method")))
class Addcmul(OpDef):
    def forward(ctx, xp, x, t1, t2, value=1):
        value = ctx.value = _check_addc("addcmul", x, value)
        ctx.save(t1, t2)
        prod = t1 * t2
        return x + (prod if value == 1 else _scaled(xp, prod, value))

    def backward(ctx, g):
        t1, t2 = ctx.saved
        need = ctx.needs_input_grad
        gv = g if ctx.value == 1 else g * ctx.value
        return g, (gv * t2 if need[1] else None), (gv * t1 if need[2] else None)

    @_in_place("addcmul")
    def forward_inplace(xp, target, t1, t2, value=1):
        _addc_inplace(xp, xp.multiply, target, t1, t2, _check_addc("addcmul", target, value))


def _addc_inplace(xp, combine, target, t1, t2, value):
    """target += value * combine(t1, t2) block by block, in the ops' compute dtype (the
    combined block is an array even for 0-d operands, which NumPy would make a scalar)."""
    dt = _opmath(target, t1, t2)

    def step(out, a, b):
        tmp = xp.asarray(combine(a, b, dtype=dt))
        if value != 1:
            xp.multiply(tmp, value, out=tmp)
        xp.add(out, tmp, out=out, dtype=dt, casting="unsafe")
    _blockwise(step, target, t1, t2)


def _check_addc(op, x, value):
    if x.dtype.kind == "b":
        raise _unsupported(op, x, "numeric tensors")
    return _scalar_for(x.dtype, value, "value", op)


@register("addcdiv", pointwise=True, holomorphic=True, samples=(
    Sample(lambda t, x, a, b: t.addcdiv(x, a, b), (Arg((3, 4)), Arg((3, 4)),
           Arg((3, 4), 0.5, 2))),
    Sample(lambda t, x, a, b: t.addcdiv(x, a, b, value=-0.5), (Arg((2, 1, 4)), Arg((3, 1)),
           Arg((4,), 0.5, 2)), name="value"),
    Sample(lambda t, x, a, b: x.addcdiv(a, b, value=2), (Arg((3, 4)), Arg((3, 4)),
           Arg((3, 4), 1, 3, dtype="int64", grad=False)), grad=False, name="int_divisor")))
class Addcdiv(OpDef):
    def forward(ctx, xp, x, t1, t2, value=1):
        value = ctx.value = _check_addc("addcdiv", x, value)
        ctx.save(t1, t2)
        quot = t1 / t2
        return x + (quot if value == 1 else value * quot)

    def backward(ctx, g):
        t1, t2 = ctx.saved
        need = ctx.needs_input_grad
        gv = (g if ctx.value == 1 else g * ctx.value) / t2
        return g, (gv if need[1] else None), (-gv * t1 / t2 if need[2] else None)

    @_in_place("addcdiv")
    def forward_inplace(xp, target, t1, t2, value=1):
        _addc_inplace(xp, xp.true_divide, target, t1, t2, _check_addc("addcdiv", target, value))


def _lerp(xp, x, end, w):
    """x + w * (end - x), taken from `end` when |w| >= 0.5 so that w = 1 gives `end` exactly;
    float16/bfloat16 compute in float32, as torch does."""
    if x.dtype.itemsize == 2:
        wide = _lerp(xp, x.astype(np.float32), end.astype(np.float32),
                     w.astype(np.float32) if hasattr(w, "dtype") else w)
        return wide.astype(x.dtype)
    d = end - x
    if x.dtype == np.float32:
        return _lerp_fused(xp, x, end, d, w)
    if not hasattr(w, "dtype"):
        return x + w * d if math.fabs(w) < 0.5 else end - d * (1 - w)
    return xp.where(xp.abs(w) < 0.5, x + w * d, end - d * (1 - w))


def _lerp_fused(xp, x, end, d, w):
    """float32 lerp as torch's CPU kernel computes it: the weight in float32 and each result
    rounded once (a fused multiply-add), which float64 arithmetic reproduces exactly.
    end - d * (1 - w) is written end + d * (w - 1): float32 rounding is symmetric."""
    w = w.astype(np.float32) if hasattr(w, "dtype") else np.float32(w)
    small = xp.abs(w) < 0.5
    wide = d.astype(np.float64)
    wide *= xp.where(small, w, w - np.float32(1))
    wide += xp.where(small, x, end) if w.ndim else (x if small else end)
    return wide.astype(np.float32)


def _check_lerp(x, end, weight):
    if not _is_float(x):
        raise _unsupported("lerp", x, "floating-point tensors")
    if end.dtype != x.dtype:
        raise RuntimeError(f"lerp(): expected dtype {D.from_numpy_dtype(x.dtype).name} for `end` "
                           f"but got dtype {D.from_numpy_dtype(end.dtype).name}")
    if hasattr(weight, "dtype") and weight.dtype != x.dtype:
        raise RuntimeError(f"lerp(): expected dtype {D.from_numpy_dtype(x.dtype).name} for "
                           f"`weight` but got dtype {D.from_numpy_dtype(weight.dtype).name}")


@register("lerp", promote=None, pointwise=True, holomorphic=True, samples=(
    Sample(lambda t, x, e: t.lerp(x, e, 0.3), (Arg((3, 4)), Arg((3, 4))), dtypes=FLOAT_ALL),
    Sample(lambda t, x, e: x.lerp(e, 0.75), (Arg((2, 1, 4)), Arg((3, 1))), name="high_weight"),
    Sample(lambda t, x, e, w: t.lerp(x, e, w), (Arg((3, 4)), Arg((3, 4)), Arg((3, 4), -0.5, 1.5)),
           name="tensor_weight"),
    Sample(lambda t, x, e, w: t.lerp(x, e, w), (Arg((3, 1)), Arg((4,)), Arg(())),
           name="broadcast")))
class Lerp(OpDef):
    def forward(ctx, xp, x, end, weight):
        _check_lerp(x, end, weight)
        ctx.weight = weight
        ctx.save(x, end, weight if hasattr(weight, "dtype") else None)
        return _lerp(xp, x, end, weight)

    def backward(ctx, g):
        x, end, w = ctx.saved
        need = ctx.needs_input_grad
        if w is None:
            w = ctx.weight
        return ((g * (1 - w) if need[0] else None), (g * w if need[1] else None),
                (g * (end - x) if need[2] else None))

    @_in_place("lerp")
    def forward_inplace(xp, target, end, weight):
        _check_lerp(target, end, weight)
        _blockwise(lambda out, e, w: xp.copyto(out, _lerp(xp, out, e, w), casting="unsafe"),
                   target, end, weight)


# ---- unary math -------------------------------------------------------------------------------
def _unary_float(name, kernel, grad, low=-2.0, high=2.0, save="xy", onnx=None,
                 dtypes=NUMERIC, extra=(), complex=True):
    """Define a unary op computing in floating point (integers become the default float).

    `kernel` is a NumPy function name (used in place too) or `kernel(xp, x)`; `grad(x, y, g)`
    is the backward in ember ops, getting the input x and/or output y as `save` says.
    """
    np_name = kernel if isinstance(kernel, str) else None

    def forward(ctx, xp, x):
        y = getattr(xp, np_name)(x) if np_name else kernel(xp, x)
        ctx.save(*(x, y)[(0 if "x" in save else 1):(2 if "y" in save else 1)])
        return y

    def backward(ctx, g):
        saved = ctx.saved
        return grad(saved[0] if "x" in save else None, saved[-1] if "y" in save else None, g)

    body = {"forward": forward, "backward": backward, "holomorphic": True}
    if np_name:
        body["forward_inplace"] = lambda xp, target: getattr(xp, np_name)(target, out=target)
    cls = type(name.capitalize(), (OpDef,), body)
    fn = lambda t, x: getattr(t, name)(x)  # noqa: E731
    return register(name, promote="float", pointwise=True, onnx=onnx, complex=complex,
                    samples=unary(fn, low, high, dtypes=dtypes) + tuple(extra))(cls)


_LN2, _LN10 = math.log(2.0), math.log(10.0)
_LOW_PRECISION = (Sample(lambda t, x: x.exp(), (Arg((2, 3)),), dtypes=("float16", "bfloat16",
                                                                        "bool"),
                         grad=False, name="dtypes"),)

Exp = _unary_float("exp", "exp", lambda x, y, g: g * y, save="y", onnx="Exp",
                   extra=_LOW_PRECISION)
Exp2 = _unary_float("exp2", "exp2", lambda x, y, g: g * y * _LN2, save="y")
Expm1 = _unary_float("expm1", "expm1", lambda x, y, g: g * (y + 1), save="y")
Log = _unary_float("log", "log", lambda x, y, g: g / x, 0.1, 3.0, save="x", onnx="Log")
Log2 = _unary_float("log2", "log2", lambda x, y, g: g / (x * _LN2), 0.1, 3.0, save="x")
Log10 = _unary_float("log10", "log10", lambda x, y, g: g / (x * _LN10), 0.1, 3.0, save="x")
Log1p = _unary_float("log1p", "log1p", lambda x, y, g: g / (x + 1), -0.5, 3.0, save="x")
Sqrt = _unary_float("sqrt", "sqrt", lambda x, y, g: g / (2 * y), 0.1, 3.0, save="y",
                    onnx="Sqrt")
Reciprocal = _unary_float("reciprocal", "reciprocal", lambda x, y, g: -g * y * y, 0.5, 2.0,
                          save="y", onnx="Reciprocal")


def _rsqrt(xp, x):
    return 1 / xp.sqrt(x)


Rsqrt = _unary_float("rsqrt", _rsqrt, lambda x, y, g: -0.5 * g * y * y * y, 0.5, 3.0, save="y")
Sin = _unary_float("sin", "sin", lambda x, y, g: g * x.cos(), save="x", onnx="Sin")
Cos = _unary_float("cos", "cos", lambda x, y, g: -g * x.sin(), save="x", onnx="Cos")
Tan = _unary_float("tan", "tan", lambda x, y, g: g * (1 + y * y), -1.2, 1.2, save="y",
                   onnx="Tan")
Asin = _unary_float("asin", "arcsin", lambda x, y, g: g * (1 - x * x).rsqrt(), -0.9, 0.9,
                    save="x", onnx="Asin")
Acos = _unary_float("acos", "arccos", lambda x, y, g: -g * (1 - x * x).rsqrt(), -0.9, 0.9,
                    save="x", onnx="Acos")
Atan = _unary_float("atan", "arctan", lambda x, y, g: g / (1 + x * x), save="x", onnx="Atan")
Sinh = _unary_float("sinh", "sinh", lambda x, y, g: g * x.cosh(), save="x", onnx="Sinh")
Cosh = _unary_float("cosh", "cosh", lambda x, y, g: g * x.sinh(), save="x", onnx="Cosh")
Tanh = _unary_float("tanh", "tanh", lambda x, y, g: g * (1 - y * y), save="y", onnx="Tanh")
Asinh = _unary_float("asinh", "arcsinh", lambda x, y, g: g * (x * x + 1).rsqrt(), save="x",
                     onnx="Asinh")
def _acosh_slope(x):
    """acosh'(x): 1 / sqrt(x^2 - 1) for real x (finite below -1, as torch's), and for complex
    x the principal branch's 1 / (sqrt(x - 1) sqrt(x + 1)) (the two differ in sign off it)."""
    if x.is_complex():
        return ((x - 1).sqrt() * (x + 1).sqrt()).reciprocal()
    return (x * x - 1).rsqrt()


Acosh = _unary_float("acosh", "arccosh", lambda x, y, g: g * _acosh_slope(x), 1.1, 3.0,
                     save="x", onnx="Acosh")
Atanh = _unary_float("atanh", "arctanh", lambda x, y, g: g / (1 - x * x), -0.9, 0.9,
                     save="x", onnx="Atanh")
Deg2rad = _unary_float("deg2rad", "deg2rad", lambda x, y, g: g * (math.pi / 180), -200, 200,
                       save="", complex=False)
Rad2deg = _unary_float("rad2deg", "rad2deg", lambda x, y, g: g * (180 / math.pi), save="",
                      complex=False)


def _sigmoid(xp, x):
    """1 / (1 + exp(-x)) without overflow: exp only ever sees -|x| (complex x: the formula
    itself, which has no such bound)."""
    if x.dtype.kind == "c":
        return 1 / (1 + xp.exp(-x))
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1, e) / (1 + e)


Sigmoid = _unary_float("sigmoid", _sigmoid, lambda x, y, g: g * y * (1 - y), -4.0, 4.0,
                       save="y", onnx="Sigmoid", dtypes=NUMERIC + ("bool",), extra=(
    Sample(lambda t, x: x.sigmoid(), (Arg((5,), values=[-100.0, -20.0, 0.0, 20.0, 100.0]),),
           name="tails"),
    Sample(lambda t, x: t.sigmoid(x), (Arg((2, 3), -3, 3),), dtypes=("float16", "bfloat16"),
           grad=False, name="half")))


# erf, erfc and erfinv have no NumPy kernel: erfc(z) = t exp(-z^2 + P(2t - 1)) with
# t = 2 / (2 + z) for z >= 0, where P is a polynomial taken from the Chebyshev expansion of
# log(erfc(z) / t) + z^2 (coefficients computed in 50-digit arithmetic, truncated where the
# remaining terms fall below 1e-17 for float64 and 1e-10 for float32). Small |x| use erf's
# Taylor series. Relative error: ~5e-16 (erf), ~1e-14 (erfc) in float64.
_ERFC64 = (
    -0.6717940840566923, 0.6726432239776567, 0.04734330684190443, -0.0468956102311753,
    -0.009872689366389959, 0.008824938557060623, 0.001758933557799016, -0.002345812500482853,
    -0.00014624686337800336, 0.000673678795580235, -9.37350311709817e-05,
    -0.0001743029472030762, 7.14010141275703e-05, 3.17451797494374e-05,
    -3.0187884551394243e-05, 1.3772664134464417e-07, 8.562623420121286e-06,
    -2.947986876998259e-06, -1.27231190486887e-06, 1.2500276612569754e-06,
    -1.6849800720653297e-07, -2.495832761719667e-07, 1.5334345920908177e-07,
    1.4448658046252676e-09, -3.9171820510271855e-08, 1.1172352263623759e-08,
    4.06088214696972e-09, -1.8902306008944537e-09)
_ERFC32 = (
    -0.6717940841603572, 0.6726432239564852, 0.04734332036738016, -0.04689560948546349,
    -0.009872980459293995, 0.00882493328190467, 0.0017613393646453846, -0.0023458258395746357,
    -0.00015613427318947993, 0.0006739603523804636, -7.119731281770681e-05,
    -0.00017558776050020572, 4.179589658624269e-05, 3.469238407147201e-05,
    -8.121255169990927e-06, -3.72515016365152e-06)
_ERF_TAYLOR = tuple(2 / math.sqrt(math.pi) * (-1) ** n / (math.factorial(n) * (2 * n + 1))
                    for n in range(13))
_ERF_SMALL = 0.5  # below this |x|, erf uses the Taylor series (1 - erfc loses digits there)


def _poly(xp, y, coeffs):
    """Horner's rule in place: sum(c[k] * y**k)."""
    out = xp.full_like(y, coeffs[-1])
    for c in coeffs[-2::-1]:
        out *= y
        out += c
    return out


def _erfc_nonneg(xp, z):
    """erfc(z) for z >= 0, to full relative precision in the far tail."""
    t = 2 / (2 + z)
    p = _poly(xp, 2 * t - 1, _ERFC64 if z.dtype.itemsize == 8 else _ERFC32)
    if z.dtype.itemsize < 8:  # z * z rounded to float32 would cost ~z^2 ulps in exp(-z^2)
        z, p = z.astype(np.float64), p.astype(np.float64)
    p -= z * z
    xp.exp(p, out=p)
    p *= t
    return p.astype(t.dtype, copy=False)


def _erf_small(xp, x):
    """erf(x) by its Taylor series; accurate for |x| <= 0.5."""
    p = _poly(xp, x * x, _ERF_TAYLOR if x.dtype.itemsize == 8 else _ERF_TAYLOR[:8])
    p *= x
    return p


def _erf(xp, x):
    refuse_complex("erf", x)
    z = xp.abs(x)
    big = _erfc_nonneg(xp, z)
    xp.subtract(1, big, out=big)
    xp.copysign(big, x, out=big)
    return xp.where(z < _ERF_SMALL, _erf_small(xp, x), big)


def _erfc(xp, x):
    refuse_complex("erfc", x)
    e = _erfc_nonneg(xp, xp.abs(x))
    return xp.where(x < 0, 2 - e, e)


def _erfinv(xp, x):
    """Winitzki's closed-form estimate, then two Halley steps on erf (on erfc near |x| = 1,
    where 1 - |x| is exact), which reach full precision."""
    refuse_complex("erfinv", x)
    a = xp.abs(x)
    with _quiet():
        log1m = xp.log((1 - a) * (1 + a))
        k = 2 / (math.pi * 0.147) + log1m / 2
        y = xp.sqrt(xp.sqrt(k * k - log1m / 0.147) - k)
        for _ in range(2):
            e = _erfc_nonneg(xp, y)
            small = xp.where(y < _ERF_SMALL, _erf_small(xp, y), 1 - e)
            residual = xp.where(a < 0.5, small - a, (1 - a) - e)  # erf(y) - |x|
            u = residual * (math.sqrt(math.pi) / 2) * xp.exp(y * y)
            y = y - u / (1 + y * u)
        y = xp.where(a == 1, np.inf, y)
    return xp.copysign(y, x)


_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)
Erf = _unary_float("erf", _erf, lambda x, y, g: g * _TWO_OVER_SQRT_PI * (-x * x).exp(), -3.0,
                   3.0, save="x", onnx="Erf", extra=(
    Sample(lambda t, x: t.erf(x), (Arg((8,), values=[-30.0, -5.5, -0.49, -1e-30, 0.0, 0.51,
                                                     3.7, 26.0]),), name="range"),))
Erfc = _unary_float("erfc", _erfc, lambda x, y, g: -g * _TWO_OVER_SQRT_PI * (-x * x).exp(),
                    -3.0, 3.0, save="x", extra=(
    Sample(lambda t, x: t.erfc(x), (Arg((7,), values=[-6.0, -0.3, 0.0, 0.2, 4.0, 9.0, 26.0]),),
           name="range"),))
Erfinv = _unary_float("erfinv", _erfinv, lambda x, y, g: g * (math.sqrt(math.pi) / 2)
                      * (y * y).exp(), -0.95, 0.95, save="y", extra=(
    Sample(lambda t, x: t.erfinv(x), (Arg((9,), values=[-1.0, -0.999999, -0.7, -1e-20, 0.0,
                                                        0.3, 0.99, 1.0, 1.5]),),
           grad=False, name="range"),))


@register("logit", promote="float", pointwise=True, complex=False, samples=unary(
    lambda t, x: t.logit(x), 0.05, 0.95, dtypes=FLOATS) + (
    Sample(lambda t, x: x.logit(eps=0.2), (Arg((3, 4), 0.01, 0.99),), name="eps"),
    Sample(lambda t, x: x.logit(), (Arg((4,), values=[-0.5, 0.0, 1.0, 1.5]),), grad=False,
           name="outside"),
    Sample(lambda t, x: x.logit(eps=-1.0), (Arg((4,), values=[0.1, 0.3, 0.6, 0.9]),),
           name="negative_eps")))
class Logit(OpDef):
    def forward(ctx, xp, x, eps=None):
        if eps is not None and eps < 0:  # torch: a negative eps clamps nothing
            eps = None
        ctx.eps = eps
        ctx.save(x)
        z = x if eps is None else clamp_array(xp, x, eps, 1 - eps)
        return xp.log(z / (1 - z))

    def backward(ctx, g):
        (x,) = ctx.saved
        eps = ctx.eps
        with _quiet():
            grad = g / (x * (1 - x))
        if eps is None:
            return where((x < 0) | (x > 1), math.nan, grad)
        return where((x < eps) | (x > 1 - eps), 0.0, grad)


def _ufunc_kernel(name: str):
    """`kernel(xp, *args, **kw)` calling the backend's ufunc `name`."""
    def kernel(xp, *args, **kw):
        return getattr(xp, name)(*args, **kw)
    return kernel


def _binary_float(name, kernel, grad, promote="float", float_only=False, samples=(),
                  low=-2.0, high=2.0, onnx=None, holomorphic=False, complex=True):
    """Define a binary op with one kernel: a NumPy ufunc's name or `kernel(xp, x, y, **kw)`
    taking the ufunc's keywords; `grad(x, y, out, g, need)` returns both grads."""
    if isinstance(kernel, str):
        kernel = _ufunc_kernel(kernel)

    def forward(ctx, xp, x, y):
        if float_only and not _is_float(x):
            raise _unsupported(name, x, "floating-point tensors")
        out = kernel(xp, x, y)
        ctx.save(x, y, out)
        return out

    def backward(ctx, g):
        x, y, out = ctx.saved
        return grad(x, y, out, g, ctx.needs_input_grad)

    @_in_place(name)
    def forward_inplace(xp, target, y):
        if float_only and not _is_float(target):
            raise _unsupported(name, target, "floating-point tensors")
        kernel(xp, target, y, out=target, casting="unsafe")

    cls = type(name.capitalize(), (OpDef,), {"forward": forward, "backward": backward,
                                             "forward_inplace": forward_inplace,
                                             "holomorphic": holomorphic})
    fn = lambda t, x, y: getattr(t, name)(x, y)  # noqa: E731
    return register(name, promote=promote, pointwise=True, onnx=onnx, complex=complex,
                    samples=binary(
        fn, low, high, dtypes=FLOATS if float_only else NUMERIC) + tuple(samples))(cls)


def _atan2_grad(x, y, out, g, need):
    d = x * x + y * y
    d = where(d == 0, 1.0, d)  # atan2 is flat at the origin: torch's gradient there is 0
    return (g * y / d if need[0] else None), (-g * x / d if need[1] else None)


def _copysign_grad(x, y, out, g, need):
    return (g * x.sign() * out.sign() if need[0] else None), (
        _zeros_like(g) if need[1] else None)


def _logaddexp_grad(scale):
    def grad(x, y, out, g, need):
        return ((g * ((x - y) * scale).sigmoid() if need[0] else None),
                (g * ((y - x) * scale).sigmoid() if need[1] else None))
    return grad


Atan2 = _binary_float("atan2", "arctan2", _atan2_grad, complex=False, samples=(
    Sample(lambda t, x, y: t.arctan2(x, y), (Arg((2, 3)), Arg((2, 3))), name="alias"),
    Sample(lambda t, x, y: t.atan2(x, y), (Arg((3,), values=[0.0, -0.0, 1.0]),
                                           Arg((3,), values=[0.0, -1.0, 0.0])), grad=False,
           name="origin")))
Hypot = _binary_float("hypot", "hypot", lambda x, y, out, g, need: (
    g * x / out if need[0] else None, g * y / out if need[1] else None),
    promote="common", float_only=True, complex=False, samples=(
    Sample(lambda t, x, y: t.hypot(x, y), (Arg((2, 3)), Arg((2, 3))),
           dtypes=("float16", "bfloat16"), grad=False, name="half"),))
def complex_logaddexp(xp, x, y):
    """log(exp(x) + exp(y)) of complex values (NumPy's ufunc has no complex loop), as
    a + log1p(exp(b - a)) with a the operand of larger real part, so exp never overflows."""
    a = xp.where(x.real >= xp.real(y), x, y)
    b = xp.where(x.real >= xp.real(y), y, x)
    with _quiet():
        return xp.where(xp.isneginf(a.real), b, a + xp.log1p(xp.exp(b - a)))


def _logaddexp(xp, x, y, **kw):
    """The logaddexp ufunc, and complex_logaddexp for complex operands."""
    if x.dtype.kind != "c" and getattr(y, "dtype", x.dtype).kind != "c":
        return xp.logaddexp(x, y, **kw)
    out = complex_logaddexp(xp, x, y)
    if kw.get("out") is None:
        return out
    kw["out"][...] = out
    return kw["out"]


Logaddexp = _binary_float("logaddexp", _logaddexp, _logaddexp_grad(1.0), promote="common",
                          float_only=True, holomorphic=True, samples=(
    Sample(lambda t, x, y: t.logaddexp(x, y), (Arg((4,), values=[1e3, -1e3, -math.inf, 2.0]),
                                               Arg((4,), values=[1e3, 5.0, -math.inf, 2.0])),
           grad=False, name="extremes"),))
Logaddexp2 = _binary_float("logaddexp2", "logaddexp2", _logaddexp_grad(_LN2), promote="common",
                           complex=False,
                           float_only=True)
Copysign = _binary_float("copysign", "copysign", _copysign_grad, complex=False, samples=(
    Sample(lambda t, x: t.copysign(x, -1), (Arg((2, 3)),), dtypes=NUMERIC, name="scalar"),
    Sample(lambda t, x, y: t.copysign(x, y), (Arg((4,), values=[0.0, -0.0, 2.0, -3.0]),
                                              Arg((4,), values=[-1.0, 1.0, -0.0, 0.0])),
           grad=False, name="zeros")))


@register("xlogy", promote="float", pointwise=True, complex=False, samples=binary(
    lambda t, x, y: t.xlogy(x, y), rhs_low=0.2, rhs_high=3.0) + (
    Sample(lambda t, x, y: t.xlogy(x, y), (Arg((5,), values=[0.0, 0.0, 0.0, 1.0, 2.0]),
                                           Arg((5,), values=[0.0, -1.0, math.nan, 0.0, 3.0])),
           grad=False, name="zeros"),
    Sample(lambda t, x: t.xlogy(2, x), (Arg((2, 3), 0.2, 3),), name="scalar_self"),
    Sample(lambda t, x: x.xlogy(3.0), (Arg((2, 3)),), dtypes=NUMERIC, name="scalar_other")))
class Xlogy(OpDef):
    def forward(ctx, xp, x, y):
        ctx.save(x, y)
        out = x * xp.log(y)
        return xp.where((x == 0) & ~xp.isnan(y), 0, out)

    def backward(ctx, g):
        x, y = ctx.saved
        need = ctx.needs_input_grad
        gx = where((x == 0) & (y <= 0), 0.0, xlogy(g, y)) if need[0] else None
        return gx, (g * x / y if need[1] else None)


@register("frac", promote=None, pointwise=True, complex=False, samples=unary(
    lambda t, x: t.frac(x), -5, 5, dtypes=FLOAT_ALL))
class Frac(OpDef):
    def forward(ctx, xp, x):
        _check_frac(x)
        return x - xp.trunc(x)

    def backward(ctx, g):
        return g

    def forward_inplace(xp, target):
        _check_frac(target)
        xp.subtract(target, xp.trunc(target), out=target)


def _check_frac(x):
    if not _is_float(x):
        raise _unsupported("frac", x, "floating-point tensors")


@register("logical_not", promote=None, differentiable=False, pointwise=True, onnx="Not",
          samples=(Sample(lambda t, x: t.logical_not(x), (Arg((3, 4), -1, 1),),
                          dtypes=("bool",) + NUMERIC, grad=False),))
class LogicalNot(OpDef):
    def forward(ctx, xp, x):
        return xp.logical_not(x)


# ---- rounding --------------------------------------------------------------------------------
def _rounding(name: str, np_name: str, onnx=None):
    """floor/ceil/trunc: integer inputs pass through, as in torch; gradient zero."""
    def forward(ctx, xp, x):
        _check_rounding(name, x)
        return x.copy() if x.dtype.kind in "iu" else getattr(xp, np_name)(x)

    def backward(ctx, g):
        return _zeros_like(g)

    def forward_inplace(xp, target):
        _check_rounding(name, target)
        if target.dtype.kind not in "iu":
            getattr(xp, np_name)(target, out=target)

    cls = type(name.capitalize(), (OpDef,), {"forward": forward, "backward": backward,
                                             "forward_inplace": forward_inplace})
    return register(name, promote=None, pointwise=True, onnx=onnx, complex=False, samples=unary(
        lambda t, x: getattr(t, name)(x), -3, 3, dtypes=FLOAT_ALL + ALL_INT))(cls)


def _check_rounding(name, x):
    if x.dtype.kind == "b":
        raise _unsupported(name, x, "integer or floating-point tensors")


Floor = _rounding("floor", "floor", onnx="Floor")
Ceil = _rounding("ceil", "ceil", onnx="Ceil")
Trunc = _rounding("trunc", "trunc")


@register("round", promote=None, pointwise=True, complex=False, samples=unary(
    lambda t, x: t.round(x), -3, 3, dtypes=FLOAT_ALL + ALL_INT) + (
    Sample(lambda t, x: x.round(), (Arg((6,), values=[0.5, 1.5, 2.5, -0.5, -1.5, 0.49999997]),),
           dtypes=FLOAT_ALL, grad=False, name="half_even"),
    Sample(lambda t, x: t.round(x, decimals=2), (Arg((3, 4), -30, 30),), dtypes=FLOAT_ALL,
           name="decimals"),
    Sample(lambda t, x: x.round(decimals=-1), (Arg((3, 4), -300, 300),), name="neg_decimals")))
class Round(OpDef):
    def forward(ctx, xp, x, decimals=0):
        _check_round(x, decimals)
        if x.dtype.kind in "iu":
            return x.copy()
        if not decimals:
            return xp.rint(x)
        if x.dtype.itemsize == 2:
            return xp.round(x.astype(np.float32), decimals).astype(x.dtype)
        return xp.round(x, decimals)

    def backward(ctx, g):
        return _zeros_like(g)

    def forward_inplace(xp, target, decimals=0):
        _check_round(target, decimals)
        if target.dtype.kind not in "iu":
            xp.copyto(target, Round.forward(None, xp, target, decimals), casting="unsafe")


def _check_round(x, decimals):
    if x.dtype.kind == "b" or (decimals and x.dtype.kind in "iu"):
        raise _unsupported("round", x, "floating-point tensors (integer ones only with "
                           "decimals=0)")


# ---- activations ----------------------------------------------------------------------------
@register("relu", promote=None, pointwise=True, onnx="Relu", complex=NO_ORDERING, samples=unary(
    lambda t, x: t.relu(x), dtypes=NUMERIC + ("float16", "bfloat16", "int8")) + (
    Sample(lambda t, x: x.relu(), (Arg((4,), values=[-1.0, 0.0, math.nan, 2.0]),),
           grad=False, name="nan"),))
class Relu(OpDef):
    def forward(ctx, xp, x):
        _check_relu(x)
        y = xp.maximum(x, 0)
        ctx.save(y)
        return y

    def backward(ctx, g):
        (y,) = ctx.saved
        return where(y <= 0, 0.0, g)

    def forward_inplace(xp, target):
        _check_relu(target)
        xp.maximum(target, 0, out=target)


def _check_relu(x):
    if x.dtype.kind == "b":
        raise RuntimeError("relu(): Boolean inputs not supported for relu; convert the mask "
                           "with .float() or .long() first")


# ---- clamp, maximum, minimum ------------------------------------------------------------------
def _bounds(bounds, which):
    """(min, max) from clamp's positional bounds; `which` says which of them were given."""
    if which == "both":
        return bounds
    return (bounds[0], None) if which == "min" else (None, bounds[0])


def _clamp_node(args, attrs) -> str:
    """torch's clamp node: ClampBackward1 for number bounds, ClampBackward0 for tensor ones."""
    return "ClampBackward0" if isinstance(args[1], Tensor) else "ClampBackward1"


@register("clamp", pointwise=True, onnx="Clip", complex=NO_ORDERING, torch_node=_clamp_node,
          samples=(
    Sample(lambda t, x: t.clamp(x, -0.5, 0.7), (Arg((3, 4)),), dtypes=NUMERIC + ("float16",)),
    Sample(lambda t, x: x.clamp(min=0.25), (Arg((3, 4)),), dtypes=NUMERIC, name="min"),
    Sample(lambda t, x: x.clip(max=-0.25), (Arg((3, 4)),), dtypes=NUMERIC, name="max"),
    Sample(lambda t, x: x.clamp(0.5, -0.5), (Arg((3, 4)),), dtypes=NUMERIC, name="inverted"),
    Sample(lambda t, x: t.clamp(x, 0.5), (Arg((3, 4)),), dtypes=INTS, name="int_float"),
    Sample(lambda t, x, lo, hi: t.clamp(x, lo, hi), (Arg((3, 4)), Arg((3, 4), -2, 0),
                                                     Arg((4,), 0, 2)), name="tensors"),
    Sample(lambda t, x, lo, hi: t.clamp(x, lo, hi), (Arg((3, 4)), Arg((3, 4)), Arg((3, 4))),
           name="tensors_crossing"),
    Sample(lambda t, x, lo: t.clamp(x, min=lo), (Arg((3, 4)), Arg((3, 1))), name="tensor_min"),
    Sample(lambda t, x, hi: t.clamp(x, max=hi), (Arg((3, 4)), Arg((4,))), name="tensor_max")))
class Clamp(OpDef):
    def forward(ctx, xp, x, *bounds, which="both"):
        _check_clamp(x)
        ctx.which = which
        ctx.save(x, *bounds)
        return clamp_array(xp, x, *_bounds(bounds, which))

    def backward(ctx, g):
        x, *bounds = ctx.saved
        which = ctx.which
        lo, hi = _bounds(bounds, which)
        need = ctx.needs_input_grad
        inside = (x >= lo) & (x <= hi) if which == "both" else (x >= lo) if which == "min" \
            else (x <= hi)
        grads = [where(inside, g, 0.0) if need[0] else None]
        if lo is not None:
            below = (x < lo) & (lo < hi) if which == "both" else (x < lo)
            grads.append(where(below, g, 0.0) if need[1] else None)
        if hi is not None:
            above = (x > hi) | (hi < lo) if which == "both" else (x > hi)
            grads.append(where(above, g, 0.0) if need[-1] else None)
        return tuple(grads)

    @_in_place("clamp")
    def forward_inplace(xp, target, *bounds, which="both"):
        _check_clamp(target)
        clamp_array(xp, target, *_bounds(bounds, which), out=target, casting="unsafe")


def _check_clamp(x):
    if x.dtype.kind == "b":
        raise _unsupported("clamp", x, "numeric tensors (the bounds promote bool input to "
                           "the bounds' type when they are numbers)")


_CLAMP_SIGNATURES = ("(Tensor input, Tensor min = None, Tensor max = None, *, Tensor out = None)",
                     "(Tensor input, Number min = None, Number max = None, *, Tensor out = None)")


def _clamp_call(input, min, max, name="clamp", out=None):
    """The positional arguments and `which` of a Clamp call. A tensor bound with a number
    bound is refused, as torch's two overloads (both tensors, or both numbers) do."""
    if min is not None and max is not None and \
            isinstance(min, Tensor) + isinstance(max, Tensor) == 1 and \
            (min if isinstance(min, Tensor) else max)._data.ndim:
        got = ", ".join([type(v).__name__ for v in (input, min, max)] +
                        (["out=Tensor"] if out is not None else []))
        raise TypeError(f"{name}() received an invalid combination of arguments - got ({got}), "
                        "but expected one of:\n" +
                        "".join(f" * {s}\n" for s in _CLAMP_SIGNATURES))
    if min is None and max is None:
        raise RuntimeError("clamp(): At least one of 'min' or 'max' must not be None")
    if max is None:
        return (input, min), "min"
    if min is None:
        return (input, max), "max"
    return (input, min, max), "both"


def _extremum(name: str, np_name: str, onnx=None):
    """maximum/minimum propagate NaN and split the gradient at ties (as torch); fmax/fmin
    ignore NaN and give ties to the first input."""
    is_max = "max" in name
    nan_aware = name.startswith("f")

    def forward(ctx, xp, x, y):
        ctx.save(x, y)
        return getattr(xp, np_name)(x, y)

    def backward(ctx, g):
        x, y = ctx.saved
        need = ctx.needs_input_grad
        if nan_aware:
            first = ((x >= y) if is_max else (x <= y)) | y.isnan()
            return ((where(first, g, 0.0) if need[0] else None),
                    (where(first, 0.0, g) if need[1] else None))
        half = where(x == y, g / 2, g)
        x_loses, y_loses = (x < y, x > y) if is_max else (x > y, x < y)
        return ((where(x_loses, 0.0, half) if need[0] else None),
                (where(y_loses, 0.0, half) if need[1] else None))

    @_in_place(name)
    def forward_inplace(xp, target, y):
        getattr(xp, np_name)(target, y, out=target, casting="unsafe")

    cls = type(name.capitalize(), (OpDef,), {"forward": forward, "backward": backward,
                                             "forward_inplace": forward_inplace})
    fn = lambda t, x, y: getattr(t, name)(x, y)  # noqa: E731
    return register(name, pointwise=True, onnx=onnx, complex=NO_ORDERING, samples=binary(fn) + (
        Sample(fn, (Arg((5,), values=[1.0, 2.0, math.nan, 1.0, math.nan]),
                    Arg((5,), values=[1.0, 3.0, 1.0, math.nan, math.nan])), grad=False,
               name="nan_ties"),
        Sample(fn, (Arg((2, 3)), Arg((2, 3))), dtypes=("bool", "uint8", "int8", "float16"),
               grad=False, name="dtypes")))(cls)


Maximum = _extremum("maximum", "maximum", onnx="Max")
Minimum = _extremum("minimum", "minimum", onnx="Min")
Fmax = _extremum("fmax", "fmax")
Fmin = _extremum("fmin", "fmin")


@register("sign", pointwise=True, onnx="Sign", unsigned="sign_cpu",
          samples=unary(lambda t, x: x.sign()) + (
    Sample(lambda t, x: t.sign(x), (Arg((4,), values=[math.nan, -0.0, 0.0, -math.inf]),),
           grad=False, name="specials"),
    Sample(lambda t, x: x.sign(), (Arg((2, 3)),), dtypes=("bool", "int8", "float16"),
           grad=False, name="dtypes"),))
class Sign(OpDef):
    """sign, and with `sgn=True` torch.sgn: x / |x| (0 at 0) for complex x, whose
    gradient is not zero: with s = sgn(x), s * i * Im(g * conj(s)) / |x|."""

    def forward(ctx, xp, x, sgn=False):
        if x.dtype.kind == "c":
            if not sgn:
                refuse_complex("sign", x, why="not defined for complex tensors; use sgn() for "
                                              "x / |x|")
            size = xp.abs(x)
            out = x / xp.where(size == 0, 1, size)
            ctx.save(size, out)
            return out
        if x.dtype.kind == "b":
            return x.copy()
        if _is_float(x):  # torch's sign of NaN is 0
            return xp.where(xp.isnan(x), 0, xp.sign(x))
        return xp.sign(x)

    def backward(ctx, g):
        if not ctx.saved:
            return _zeros_like(g)
        size, s = ctx.saved
        turn = s * (g * s.conj()).imag * 1j
        return where(size == 0, 0.0, turn / where(size == 0, 1.0, size))

    def forward_inplace(xp, target, sgn=False):
        if target.dtype.kind != "b":
            xp.copyto(target, Sign.forward(Context(), xp, target, sgn))


@register("abs", pointwise=True, onnx="Abs", unsigned="abs_cpu", samples=unary(
    lambda t, x: x.abs(), dtypes=FLOATS + INTS) + (
    Sample(lambda t, x: t.absolute(x), (Arg((2, 3)),), dtypes=("int8", "float16", "bfloat16"),
           grad=False, name="dtypes"),))
class Abs(OpDef):
    def forward(ctx, xp, x):
        ctx.save(x)
        return xp.abs(x)

    def backward(ctx, g):
        (x,) = ctx.saved
        return g * x.sgn()

    def forward_inplace(xp, target):
        refuse_complex("abs_", target, why="in-place abs is not supported for complex tensors "
                                          "(the result is real): use abs()")
        xp.abs(target, out=target)


@register("nan_to_num", promote=None, pointwise=True, samples=(
    Sample(lambda t, x: t.nan_to_num(x), (Arg((5,), values=[math.nan, math.inf, -math.inf, 1.5,
                                                           -2.0]),), dtypes=FLOAT_ALL),
    Sample(lambda t, x: x.nan_to_num(nan=1.0, posinf=2.0, neginf=-3.0),
           (Arg((5,), values=[math.nan, math.inf, -math.inf, 1.5, -2.0]),), name="values"),
    Sample(lambda t, x: x.nan_to_num(posinf=9.0), (Arg((3, 4)),), dtypes=NUMERIC,
           name="finite")))
class NanToNum(OpDef):
    def forward(ctx, xp, x, nan=0.0, posinf=None, neginf=None):
        out = x.copy()
        if _is_float(x):
            ctx.save(x)
            _replace_nonfinite(xp, out, x, nan, posinf, neginf)
        return out

    def backward(ctx, g):
        (x,) = ctx.saved
        return g * x.isfinite()

    def forward_inplace(xp, target, nan=0.0, posinf=None, neginf=None):
        if _is_float(target):
            _replace_nonfinite(xp, target, target, nan, posinf, neginf)


def _replace_nonfinite(xp, out, x, nan, posinf, neginf):
    info = D.finfo(D.from_numpy_dtype(x.dtype))
    masks = (xp.isnan(x), x == math.inf, x == -math.inf)
    values = (nan, info.max if posinf is None else posinf, info.min if neginf is None else neginf)
    for mask, value in zip(masks, values):
        out[mask] = value


# ---- where ------------------------------------------------------------------------------------
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
        if _is_zero(y) and _maskable(x, cond):
            return _keep_or_zero(xp, cond, x)
        if _is_zero(x) and _maskable(y, cond):
            return _keep_or_zero(xp, xp.logical_not(cond), y)
        return xp.where(cond, x, y)

    def backward(ctx, g):
        (cond,) = ctx.saved
        need = ctx.needs_input_grad
        return (None, where(cond, g, 0.0) if need[1] else None,
                where(cond, 0.0, g) if need[2] else None)


_BITS = {np.dtype(np.float32): np.int32, np.dtype(np.float64): np.int64}


def _is_zero(a) -> bool:
    """Whether a where() operand is a scalar +0.0 (-0.0 must keep its sign bit)."""
    return getattr(a, "ndim", 1) == 0 and a == 0 and (a.dtype.kind == "c" or not np.signbit(a))


def _maskable(x, cond) -> bool:
    return type(x) is np.ndarray and x.ndim and x.dtype in _BITS and x.shape == cond.shape


def _keep_or_zero(xp, keep, x):
    """where(keep, x, 0.0) without branches: x's bits AND-ed with all-ones where kept. NumPy's
    where branches per element, several times slower on irregular masks (ReLU's backward);
    x's values pass through bit-exact, NaN and inf included."""
    bits = _BITS[x.dtype]
    mask = keep.view(np.uint8).astype(bits)
    xp.negative(mask, out=mask)
    return xp.bitwise_and(x.view(bits), mask, out=mask).view(x.dtype)


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
    fn = lambda t, x, y, cmp=getattr(operator, name): cmp(x, y)  # noqa: E731
    ordered = name not in ("eq", "ne")
    return register(name, differentiable=False, pointwise=True, onnx=onnx,
                    complex=NO_ORDERING if ordered else True, samples=(
        Sample(fn, (Arg((3, 4), -2, 2), Arg((3, 4), -2, 2)), dtypes=FLOATS + INTS, grad=False),
        Sample(fn, (Arg((3, 1), -1, 1), Arg((4,), -1, 1)), dtypes=("int64",), grad=False,
               name="broadcast")))(cls)


Eq = _compare("eq", "equal", "Equal")
Ne = _compare("ne", "not_equal")
Lt = _compare("lt", "less", "Less")
Le = _compare("le", "less_equal", "LessOrEqual")
Gt = _compare("gt", "greater", "Greater")
Ge = _compare("ge", "greater_equal", "GreaterOrEqual")


@register("isclose", promote=None, differentiable=False, pointwise=True, samples=(
    Sample(lambda t, x, y: t.isclose(x, x + y * 1e-5), (Arg((3, 4)), Arg((3, 4))), grad=False),
    Sample(lambda t, x, y: t.isclose(x, y, rtol=0.1, atol=0.5, equal_nan=True),
           (Arg((6,), values=[1.0, math.inf, math.nan, 1.0, -math.inf, 0.0]),
            Arg((6,), values=[1.4, math.inf, math.nan, math.inf, math.inf, 0.55])),
           grad=False, name="special"),
    Sample(lambda t, x, y: x.isclose(y, atol=1), (Arg((3, 4), 0, 4), Arg((3, 4), 0, 4)),
           dtypes=ALL_INT + ("bool",), grad=False, name="ints")))
class Isclose(OpDef):
    def forward(ctx, xp, x, y, rtol=1e-5, atol=1e-8, equal_nan=False):
        if not _is_float(x):  # integer differences could wrap around; bool counts as 0/1
            x, y = x.astype(np.float64), y.astype(np.float64)
        elif x.dtype.itemsize == 2:
            x, y = x.astype(np.float32), y.astype(np.float32)
        close = x == y
        if equal_nan:
            close |= xp.isnan(x) & xp.isnan(y)
        err = xp.abs(x - y)
        close |= xp.isfinite(err) & (err <= atol + rtol * xp.abs(y))
        return close


# ---- logical and bitwise ------------------------------------------------------------------
def _logical(name: str, onnx=None):
    def forward(ctx, xp, x, y):
        return getattr(xp, name)(x, y)

    cls = type(name.title().replace("_", ""), (OpDef,), {"forward": forward})
    fn = lambda t, x, y: getattr(t, name)(x, y)  # noqa: E731
    return register(name, promote=None, differentiable=False, pointwise=True, onnx=onnx,
                    samples=(Sample(fn, (Arg((3, 4), -1, 1), Arg((3, 4), -1, 1)),
                                    dtypes=("bool",) + NUMERIC, grad=False),
                             Sample(fn, (Arg((3, 1), -1, 1), Arg((4,), -1, 1, dtype="bool")),
                                    dtypes=("float32", "uint8"), grad=False,
                                    name="mixed")))(cls)


LogicalAnd = _logical("logical_and")
LogicalOr = _logical("logical_or")
LogicalXor = _logical("logical_xor")


def _bitwise(name: str, np_name: str, symbol, shift=None, onnx=None):
    """Bitwise ops on integer and bool tensors (floats are rejected, as in torch); `shift` is
    torch's kernel name for the shifts, which refuse uint16/32/64 (OpDef.unsigned)."""
    def check(x):
        if _is_float(x):
            raise _unsupported(name, x, "integer or bool tensors")
        if shift and x.dtype.kind == "b":
            raise _unsupported(name, x, "integer tensors")

    def forward(ctx, xp, x, y):
        check(x)
        return getattr(xp, np_name)(x, y)

    @_in_place(name)
    def forward_inplace(xp, target, y):
        check(target)
        getattr(xp, np_name)(target, y, out=target, casting="unsafe")

    cls = type(name.title().replace("_", ""), (OpDef,), {"forward": forward,
                                                         "forward_inplace": forward_inplace})
    fn = lambda t, x, y: symbol(x, y)  # noqa: E731 - the operator itself: x & y, x << y, ...
    dtypes = ALL_INT if shift else ("bool",) + ALL_INT
    return register(name, differentiable=False, pointwise=True, onnx=onnx,
                    unsigned=shift or True, samples=(
        Sample(fn, (Arg((3, 4), 0, 8), Arg((3, 4), 0, 8) if not shift else Arg((3, 4), 0, 3)),
               dtypes=dtypes, grad=False),
        Sample(lambda t, x, y: getattr(t, name)(x, y), (Arg((3, 1), -9, 9), Arg((4,), 0, 5)),
               dtypes=INTS, grad=False, name="function"),
        Sample(lambda t, x: getattr(x, name)(3), (Arg((2, 3), -9, 9),), dtypes=ALL_INT,
               grad=False, name="scalar")))(cls)


BitwiseAnd = _bitwise("bitwise_and", "bitwise_and", operator.and_)
BitwiseOr = _bitwise("bitwise_or", "bitwise_or", operator.or_, onnx="BitwiseOr")
BitwiseXor = _bitwise("bitwise_xor", "bitwise_xor", operator.xor, onnx="BitwiseXor")
LeftShift = _bitwise("bitwise_left_shift", "left_shift", operator.lshift, shift="lshift_cpu")
RightShift = _bitwise("bitwise_right_shift", "right_shift", operator.rshift, shift="rshift_cpu")


@register("bitwise_not", differentiable=False, pointwise=True, onnx="BitwiseNot",
          unsigned="bitwise_not_cpu", samples=(
    Sample(lambda t, x: ~x, (Arg((3, 4), -9, 9),), dtypes=("bool",) + ALL_INT, grad=False),))
class BitwiseNot(OpDef):
    def forward(ctx, xp, x):
        if _is_float(x):
            raise _unsupported("bitwise_not", x, "integer or bool tensors")
        return xp.invert(x)


# ---- classification ---------------------------------------------------------------------------
def _classify(name: str, on_float, on_int, onnx=None, complex=True):
    """A non-differentiable elementwise test returning bool: `on_float(xp, x)` on floating
    tensors, `on_int(xp, x)` on integer and bool ones (which are never NaN or infinite)."""
    def forward(ctx, xp, x):
        return on_float(xp, x) if _is_float(x) else on_int(xp, x)

    cls = type(name.capitalize(), (OpDef,), {"forward": forward})
    fn = lambda t, x: getattr(t, name)(x)  # noqa: E731
    return register(name, promote=None, differentiable=False, pointwise=True, onnx=onnx,
                    complex=complex,
                    samples=(Sample(fn, (Arg((7,), values=[math.nan, math.inf, -math.inf, 0.0,
                                                           -0.0, 1.5, -2.0]),),
                                    dtypes=FLOAT_ALL, grad=False),
                             Sample(fn, (Arg((2, 3), -3, 3),), dtypes=("bool",) + ALL_INT,
                                    grad=False, name="ints")))(cls)


def _none(xp, x):
    return xp.zeros(x.shape, dtype=np.bool_)


def _every(xp, x):
    return xp.ones(x.shape, dtype=np.bool_)


Isnan = _classify("isnan", lambda xp, x: xp.isnan(x), _none, onnx="IsNaN")
Isinf = _classify("isinf", lambda xp, x: xp.isinf(x), _none)
Isfinite = _classify("isfinite", lambda xp, x: xp.isfinite(x), _every)
Isposinf = _classify("isposinf", lambda xp, x: x == math.inf, _none, complex=False)
Isneginf = _classify("isneginf", lambda xp, x: x == -math.inf, _none, complex=False)
Isreal = _classify("isreal", lambda xp, x: x.imag == 0 if x.dtype.kind == "c" else _every(xp, x),
                   _every)
Signbit = _classify("signbit", lambda xp, x: xp.signbit(x),
                    lambda xp, x: x < 0 if x.dtype.kind == "i" else _none(xp, x), complex=False)


# ---- public functions: arithmetic ------------------------------------------------------------
@tensor_method()
def add(input, other, *, alpha=1, out=None):
    """input + alpha * other, with broadcasting and type promotion.

    >>> import ember
    >>> ember.add(ember.tensor([1, 2]), ember.tensor([10, 20]), alpha=2)
    tensor([21, 42])
    """
    if alpha == 1 and type(alpha) is int:
        return write_out(apply(Add, input, other), out)
    return write_out(apply(Add, input, other, alpha=alpha), out)


@tensor_method("sub", "subtract")
def sub(input, other, *, alpha=1, out=None):
    """input - alpha * other (bool tensors are refused: use `^` or `~`)."""
    _check_sub(input, other)
    if alpha == 1 and type(alpha) is int:
        return write_out(apply(Sub, input, other), out)
    return write_out(apply(Sub, input, other, alpha=alpha), out)


@tensor_method("mul", "multiply")
def mul(input, other, *, out=None):
    """Elementwise product."""
    return write_out(apply(Mul, input, other), out)


@tensor_method("div", "divide", "true_divide")
def div(input, other, *, rounding_mode=None, out=None):
    """Elementwise division; rounding_mode None (true division), 'trunc' or 'floor'.

    >>> import ember
    >>> ember.div(ember.tensor([-7, 7]), 2, rounding_mode="floor")
    tensor([-4,  3])
    """
    if rounding_mode is None:
        return write_out(apply(Div, input, other), out)
    return write_out(apply(Div, input, other, rounding_mode=rounding_mode), out)


@composite(samples=(
    Sample(lambda t, x, y: t.floor_divide(x, y), (Arg((3, 4), -5, 5), Arg((3, 4), 0.5, 2)),
           dtypes=NUMERIC, grad=False),
    Sample(lambda t, x, y: x // y, (Arg((3, 4), -5, 5), Arg((3, 4), -2.5, -1.5)), dtypes=NUMERIC,
           grad=False, name="op"),
    Sample(lambda t, x: 7 // x, (Arg((3, 4), 1, 3),), dtypes=NUMERIC, grad=False,
           name="reflected")))
@tensor_method()
def floor_divide(input, other, *, out=None):
    """Division rounded toward minus infinity (the `//` operator).

    >>> import ember
    >>> ember.floor_divide(ember.tensor([-7, 7]), 2)
    tensor([-4,  3])
    """
    return write_out(apply(Div, input, other, rounding_mode="floor"), out)


@tensor_method()
def remainder(input, other, *, out=None):
    """Python's modulus (the `%` operator): the result takes the sign of the divisor.

    >>> import ember
    >>> ember.remainder(ember.tensor([-3, 3]), 2)
    tensor([1, 1])
    """
    return write_out(apply(Remainder, input, other), out)


@tensor_method()
def fmod(input, other, *, out=None):
    """C's fmod: the result takes the sign of the dividend.

    >>> import ember
    >>> ember.fmod(ember.tensor([-3, 3]), 2)
    tensor([-1,  1])
    """
    return write_out(apply(Fmod, input, other), out)


@tensor_method()
def pow(input, exponent, *, out=None):
    """input ** exponent elementwise."""
    return write_out(apply(Pow, input, exponent), out)


@composite(samples=(
    Sample(lambda t, x, y: t.float_power(x, y), (Arg((3, 4), 0.5, 2), Arg((3, 4), -2, 2)),
           dtypes=NUMERIC),
    Sample(lambda t, x: x.float_power(2), (Arg((3, 4)),), dtypes=NUMERIC + ("bool",),
           name="scalar"),
    Sample(lambda t, x: t.float_power(2, x), (Arg((3, 4)),), dtypes=NUMERIC, name="rscalar")))
@tensor_method()
def float_power(input, exponent, *, out=None):
    """input ** exponent computed in float64 (the result is always float64).

    >>> import ember
    >>> ember.float_power(ember.tensor([2, 3]), 2)
    tensor([4., 9.], dtype=torch.float64)
    """
    return write_out(apply(Pow, _as_double(input), _as_double(exponent)), out)


def _as_double(x):
    if isinstance(x, Tensor):
        return x.to(D.complex128 if x.is_complex() else D.float64)
    return x if isinstance(x, (complex, float)) else float(x)


@composite(samples=(
    Sample(lambda t, x: t.square(x), (Arg((3, 4)),), dtypes=NUMERIC + ("bool", "uint8")),))
@tensor_method()
def square(input, *, out=None):
    """input * input (integers stay integers; bool becomes int64, as in torch)."""
    return write_out(apply(Pow, input, 2), out)


@composite(samples=(Sample(lambda t, x: t.positive(x), (Arg((3, 4)),), dtypes=NUMERIC),))
@tensor_method()
def positive(input):
    """The input itself (unary `+`); refused for bool tensors, as in torch."""
    if input._dtype is D.bool:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


@tensor_method()
def addcmul(input, tensor1, tensor2, *, value=1, out=None):
    """input + value * tensor1 * tensor2.

    >>> import ember
    >>> ember.addcmul(ember.ones(2), ember.tensor([1., 2.]), ember.tensor([3., 4.]), value=0.5)
    tensor([2.5000, 5.0000])
    """
    return write_out(apply(Addcmul, input, tensor1, tensor2, value=value), out)


@tensor_method()
def addcdiv(input, tensor1, tensor2, *, value=1, out=None):
    """input + value * tensor1 / tensor2 (true division; integer tensor1/tensor2 are refused).

    >>> import ember
    >>> ember.addcdiv(ember.ones(2), ember.tensor([1., 2.]), ember.tensor([4., 4.]), value=2)
    tensor([1.5000, 2.0000])
    """
    _check_addcdiv(tensor1, tensor2)
    return write_out(apply(Addcdiv, input, tensor1, tensor2, value=value), out)


def _check_addcdiv(tensor1, tensor2):
    if all(isinstance(t, Tensor) and t._dtype.category < D._FLOAT for t in (tensor1, tensor2)):
        raise RuntimeError("Integer division with addcdiv is no longer supported, and in a "
                           "future release addcdiv will perform a true division of tensor1 and "
                           "tensor2. The historic addcdiv behavior can be implemented as "
                           "(input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) "
                           "for integer inputs and as (input + value * tensor1 / tensor2) for "
                           "float inputs. The future addcdiv behavior is just the latter "
                           "implementation: (input + value * tensor1 / tensor2), for all "
                           "dtypes.")


@tensor_method()
def lerp(input, end, weight, *, out=None):
    """Linear interpolation input + weight * (end - input); weight a number or a tensor.

    >>> import ember
    >>> ember.lerp(ember.tensor([0., 10.]), ember.tensor([10., 20.]), 0.25)
    tensor([ 2.5000, 12.5000])
    """
    _check_lerp_args(end, weight)
    return write_out(apply(Lerp, input, end, weight), out)


def _check_lerp_args(end, weight):
    if not isinstance(end, Tensor):
        raise TypeError(f"lerp(): argument 'end' must be Tensor, not {type(end).__name__}")
    if not isinstance(weight, (Tensor, int, float)):
        raise TypeError(f"lerp(): argument 'weight' must be Tensor or Number, not "
                        f"{type(weight).__name__}")


def _unary_api(op, *aliases, doc=None):
    def fn(input, *, out=None):
        return write_out(apply(op, input), out)
    fn.__name__ = op.name
    fn.__qualname__ = op.name
    fn.__doc__ = doc or f"Elementwise {op.name}."
    return tensor_method(op.name, *aliases)(fn)


def _binary_api(op, *aliases, doc=None):
    def fn(input, other, *, out=None):
        return write_out(apply(op, input, other), out)
    fn.__name__ = op.name
    fn.__qualname__ = op.name
    fn.__doc__ = doc or f"Elementwise {op.name}."
    return tensor_method(op.name, *aliases)(fn)


neg = _unary_api(Neg, "negative", doc="-input (refused for bool tensors: use `~`).")
abs = _unary_api(Abs, "absolute", doc="Elementwise absolute value.")
sign = _unary_api(Sign, doc="-1, 0 or 1 by the sign of each element (bool stays bool).")
reciprocal = _unary_api(Reciprocal, doc="1 / input, in floating point.")
rsqrt = _unary_api(Rsqrt, doc="1 / sqrt(input).")
sqrt = _unary_api(Sqrt, doc="Elementwise square root.")
exp = _unary_api(Exp, doc="e ** input.")
exp2 = _unary_api(Exp2, doc="2 ** input.")
expm1 = _unary_api(Expm1, doc="exp(input) - 1, accurate near 0.")
log = _unary_api(Log, doc="Natural logarithm.")
log2 = _unary_api(Log2, doc="Base-2 logarithm.")
log10 = _unary_api(Log10, doc="Base-10 logarithm.")
log1p = _unary_api(Log1p, doc="log(1 + input), accurate near 0.")
sin = _unary_api(Sin)
cos = _unary_api(Cos)
tan = _unary_api(Tan)
asin = _unary_api(Asin, "arcsin", doc="Inverse sine (NaN outside [-1, 1]).")
acos = _unary_api(Acos, "arccos", doc="Inverse cosine (NaN outside [-1, 1]).")
atan = _unary_api(Atan, "arctan", doc="Inverse tangent.")
sinh = _unary_api(Sinh)
cosh = _unary_api(Cosh)
tanh = _unary_api(Tanh)
asinh = _unary_api(Asinh, "arcsinh", doc="Inverse hyperbolic sine.")
acosh = _unary_api(Acosh, "arccosh", doc="Inverse hyperbolic cosine (NaN below 1).")
atanh = _unary_api(Atanh, "arctanh", doc="Inverse hyperbolic tangent (NaN outside [-1, 1]).")
deg2rad = _unary_api(Deg2rad, doc="Degrees to radians.")
rad2deg = _unary_api(Rad2deg, doc="Radians to degrees.")
floor = _unary_api(Floor, doc="Round down (integer tensors pass through).")
ceil = _unary_api(Ceil, doc="Round up (integer tensors pass through).")
trunc = _unary_api(Trunc, "fix", doc="Round toward zero (integer tensors pass through).")
frac = _unary_api(Frac, doc="input - trunc(input) (floating-point tensors).")
sigmoid = _unary_api(Sigmoid, doc="""1 / (1 + exp(-input)), computed without overflow.

    >>> import ember
    >>> ember.sigmoid(ember.tensor([0., 2., 1000.]))
    tensor([0.5000, 0.8808, 1.0000])
    """)
erf = _unary_api(Erf, doc="""The error function.

    >>> import ember
    >>> ember.erf(ember.tensor([0., 1.]))
    tensor([0.0000, 0.8427])
    """)
erfc = _unary_api(Erfc, doc="1 - erf(input), accurate in the tail.")
erfinv = _unary_api(Erfinv, doc="Inverse of erf on (-1, 1); +-inf at +-1, NaN outside.")
logical_not = _unary_api(LogicalNot, doc="Elementwise not, as bool.")
bitwise_not = _unary_api(BitwiseNot, doc="Bitwise not (logical not on bool; the `~` operator).")
atan2 = _binary_api(Atan2, "arctan2", doc="Angle of the point (other, input): atan(input/other) "
                    "in the right quadrant.")
hypot = _binary_api(Hypot, doc="sqrt(input**2 + other**2) without overflow.")
logaddexp = _binary_api(Logaddexp, doc="log(exp(input) + exp(other)) without overflow.")
logaddexp2 = _binary_api(Logaddexp2, doc="log2(2**input + 2**other) without overflow.")
copysign = _binary_api(Copysign, doc="|input| with the sign of other (in floating point).")
xlogy = _binary_api(Xlogy, doc="input * log(other), 0 where input is 0 (unless other is NaN).")
maximum = _binary_api(Maximum, doc="""Elementwise maximum; NaN propagates.

    >>> import ember
    >>> ember.maximum(ember.tensor([1., 5.]), ember.tensor([3., 2.]))
    tensor([3., 5.])
    """)
minimum = _binary_api(Minimum, doc="Elementwise minimum; NaN propagates.")
fmax = _binary_api(Fmax, doc="Elementwise maximum that ignores NaN (NaN only if both are).")
fmin = _binary_api(Fmin, doc="Elementwise minimum that ignores NaN (NaN only if both are).")
eq = _binary_api(Eq)
ne = _binary_api(Ne, "not_equal")
lt = _binary_api(Lt, "less")
le = _binary_api(Le, "less_equal")
gt = _binary_api(Gt, "greater")
ge = _binary_api(Ge, "greater_equal")
logical_and = _binary_api(LogicalAnd, doc="Elementwise and of truth values, as bool.")
logical_or = _binary_api(LogicalOr, doc="Elementwise or of truth values, as bool.")
logical_xor = _binary_api(LogicalXor, doc="Elementwise xor of truth values, as bool.")
bitwise_and = _binary_api(BitwiseAnd, doc="Bitwise and of integer or bool tensors (`&`).")
bitwise_or = _binary_api(BitwiseOr, doc="Bitwise or of integer or bool tensors (`|`).")
bitwise_xor = _binary_api(BitwiseXor, doc="Bitwise xor of integer or bool tensors (`^`).")
bitwise_left_shift = _binary_api(LeftShift, doc="input << other; bits shifted out are lost.")
bitwise_right_shift = _binary_api(RightShift, doc="input >> other, arithmetic for signed "
                                  "types.")
negative, absolute, fix = neg, abs, trunc
arcsin, arccos, arctan, arcsinh, arccosh, arctanh, arctan2 = asin, acos, atan, asinh, acosh, \
    atanh, atan2
multiply, divide, true_divide, subtract = mul, div, div, sub
not_equal, less, less_equal, greater, greater_equal = ne, lt, le, gt, ge


@tensor_method()
def round(input, *, decimals=0, out=None):
    """Round half to even, optionally to `decimals` decimal places (negative: tens, ...).

    >>> import ember
    >>> ember.round(ember.tensor([0.5, 1.5, 2.5]))
    tensor([0., 2., 2.])
    """
    if decimals:
        return write_out(apply(Round, input, decimals=decimals), out)
    return write_out(apply(Round, input), out)


@tensor_method()
def logit(input, eps=None, *, out=None):
    """log(input / (1 - input)); with eps, input is first clamped to [eps, 1 - eps]."""
    if eps is None:
        return write_out(apply(Logit, input), out)
    return write_out(apply(Logit, input, eps=eps), out)


@tensor_method()
def relu(input):
    """max(input, 0) elementwise."""
    return apply(Relu, input)


@tensor_method("clamp", "clip")
def clamp(input, min=None, max=None, *, out=None):
    """Limit values to [min, max]; either bound (a number or a tensor) may be None. Where
    min > max the result is max, as in torch.

    >>> import ember
    >>> ember.clamp(ember.tensor([-2., 0.5, 3.]), min=0., max=1.)
    tensor([0.0000, 0.5000, 1.0000])
    """
    args, which = _clamp_call(input, min, max, out=out)
    return write_out(apply(Clamp, *args, which=which), out)


clip = clamp


@composite(samples=(Sample(lambda t, x: t.clamp_min(x, 0.5), (Arg((3, 4)),), dtypes=NUMERIC),
                    Sample(lambda t, x, lo: x.clamp_min(lo), (Arg((3, 4)), Arg((4,))),
                           name="tensor")))
@tensor_method()
def clamp_min(input, min, *, out=None):
    """clamp(input, min=min)."""
    return write_out(apply(Clamp, input, min, which="min"), out)


@composite(samples=(Sample(lambda t, x: t.clamp_max(x, 0.5), (Arg((3, 4)),), dtypes=NUMERIC),
                    Sample(lambda t, x, hi: x.clamp_max(hi), (Arg((3, 4)), Arg((4,))),
                           name="tensor")))
@tensor_method()
def clamp_max(input, max, *, out=None):
    """clamp(input, max=max)."""
    return write_out(apply(Clamp, input, max, which="max"), out)


@tensor_method()
def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|input - other| <= atol + rtol * |other| elementwise (equal infinities are close).

    >>> import ember
    >>> ember.isclose(ember.tensor([1., 2.]), ember.tensor([1.000001, 2.1]))
    tensor([ True, False])
    """
    if not isinstance(other, Tensor):
        raise TypeError(f"isclose(): argument 'other' must be Tensor, not "
                        f"{type(other).__name__}")
    if input._dtype is not other._dtype:
        raise RuntimeError(f"isclose(): {_dtype_name(input)} did not match {_dtype_name(other)} "
                           "(both inputs must have the same dtype)")
    if rtol < 0 or atol < 0:
        raise RuntimeError(f"isclose(): {'rtol' if rtol < 0 else 'atol'} must be greater than "
                           f"or equal to zero, but got {rtol if rtol < 0 else atol}")
    return apply(Isclose, input, other, rtol=rtol, atol=atol, equal_nan=equal_nan)


def _classify_api(op, doc, out_arg):
    if out_arg:
        def fn(input, *, out=None):
            return write_out(apply(op, input), out)
    else:
        def fn(input):
            return apply(op, input)
    fn.__name__ = fn.__qualname__ = op.name
    fn.__doc__ = doc
    return tensor_method(op.name)(fn)


isnan = _classify_api(Isnan, "True where input is NaN.", False)
isinf = _classify_api(Isinf, "True where input is +inf or -inf.", False)
isfinite = _classify_api(Isfinite, "True where input is neither NaN nor infinite.", False)
isposinf = _classify_api(Isposinf, "True where input is +inf.", True)
isneginf = _classify_api(Isneginf, "True where input is -inf.", True)
isreal = _classify_api(Isreal, "True where input has no imaginary part (all of a real "
                       "tensor).", False)
signbit = _classify_api(Signbit, "True where the sign bit is set (-0.0 included).", True)


@tensor_method()
def nan_to_num(input, nan=0.0, posinf=None, neginf=None, *, out=None):
    """Replace NaN, +inf and -inf by finite values (by default 0 and the dtype's max/min).

    >>> import ember
    >>> ember.nan_to_num(ember.tensor([float("nan"), float("inf")]), posinf=9.)
    tensor([0., 9.])
    """
    _check_replacements(nan, posinf, neginf)
    return write_out(apply(NanToNum, input, nan=nan, posinf=posinf, neginf=neginf), out)


def _check_replacements(*values) -> None:
    """nan_to_num's replacement values are numbers (a one-element tensor counts), as torch."""
    for name, pos, v in zip(("nan", "posinf", "neginf"), (2, 3, 4), values):
        if isinstance(v, Tensor) and v._data.size != 1 or v is not None and not isinstance(
                v, (Tensor, numbers.Real)):
            raise TypeError(f"nan_to_num(): argument '{name}' (position {pos}) must be float, "
                            f"not {type(v).__name__}")


@composite(samples=(Sample(lambda t, x: t.sgn(x), (Arg((3, 4)),), dtypes=NUMERIC + ("bool",),
                           grad=False),))  # torch's gradient here is a ZeroTensor
@tensor_method()
def sgn(input, *, out=None):
    """sign(input) for real tensors, x / |x| (0 at 0) for complex ones."""
    return write_out(apply(Sign, input, sgn=True), out)


# ---- in-place variants ------------------------------------------------------------------
def _inplace(op, **fixed):
    def method(self, *args, **kw):
        return apply_(op, self, *args, **fixed, **kw)
    method.__name__ = op.name + "_"
    method.__doc__ = f"In-place {op.name}."
    return method


def _add_(self, other, *, alpha=1):
    if alpha == 1 and type(alpha) is int:
        return apply_(Add, self, other)
    return apply_(Add, self, other, alpha=alpha)


def _sub_(self, other, *, alpha=1):
    _check_sub(self, other)
    if alpha == 1 and type(alpha) is int:
        return apply_(Sub, self, other)
    return apply_(Sub, self, other, alpha=alpha)


def _div_(self, other, *, rounding_mode=None):
    if rounding_mode is None:
        return apply_(Div, self, other)
    return apply_(Div, self, other, rounding_mode=rounding_mode)


def _float_power_(self, exponent):
    if self._dtype is not D.float64:
        raise RuntimeError(f"the base given to float_power_ has dtype {_dtype_name(self)} but "
                           "the operation's result requires dtype Double")
    return apply_(Pow, self, _as_double(exponent))


def _clamp_(self, min=None, max=None):
    args, which = _clamp_call(self, min, max, "clamp_")
    return apply_(Clamp, *args, which=which)


def _round_(self, *, decimals=0):
    return apply_(Round, self, decimals=decimals) if decimals else apply_(Round, self)


def _logit_(self, eps=None):
    return apply_(Logit, self) if eps is None else apply_(Logit, self, eps=eps)


def _addcmul_(self, tensor1, tensor2, *, value=1):
    return apply_(Addcmul, self, tensor1, tensor2, value=value)


def _addcdiv_(self, tensor1, tensor2, *, value=1):
    _check_addcdiv(tensor1, tensor2)
    return apply_(Addcdiv, self, tensor1, tensor2, value=value)


def _lerp_(self, end, weight):
    _check_lerp_args(end, weight)
    return apply_(Lerp, self, end, weight)


def _nan_to_num_(self, nan=0.0, posinf=None, neginf=None):
    _check_replacements(nan, posinf, neginf)
    return apply_(NanToNum, self, nan=nan, posinf=posinf, neginf=neginf)


_INPLACE = {
    "add_": _add_, "sub_": _sub_, "subtract_": _sub_, "div_": _div_, "divide_": _div_,
    "true_divide_": _div_, "float_power_": _float_power_, "clamp_": _clamp_, "clip_": _clamp_,
    "round_": _round_, "logit_": _logit_, "addcmul_": _addcmul_, "addcdiv_": _addcdiv_,
    "lerp_": _lerp_, "nan_to_num_": _nan_to_num_,
    "floor_divide_": _inplace(Div, rounding_mode="floor"), "square_": lambda self: apply_(
        Pow, self, 2), "sgn_": _inplace(Sign, sgn=True), "clamp_min_": lambda self, min: apply_(
        Clamp, self, min, which="min"), "clamp_max_": lambda self, max: apply_(
        Clamp, self, max, which="max"),
}
for _op, _names in ((Mul, ("mul", "multiply")), (Pow, ("pow",)), (Neg, ("neg", "negative")),
                    (Abs, ("abs", "absolute")), (Sign, ("sign",)), (Remainder, ("remainder",)),
                    (Fmod, ("fmod",)), (Reciprocal, ("reciprocal",)), (Rsqrt, ("rsqrt",)),
                    (Sqrt, ("sqrt",)), (Exp, ("exp",)), (Exp2, ("exp2",)), (Expm1, ("expm1",)),
                    (Log, ("log",)), (Log2, ("log2",)), (Log10, ("log10",)),
                    (Log1p, ("log1p",)), (Sin, ("sin",)), (Cos, ("cos",)), (Tan, ("tan",)),
                    (Asin, ("asin", "arcsin")), (Acos, ("acos", "arccos")),
                    (Atan, ("atan", "arctan")), (Sinh, ("sinh",)), (Cosh, ("cosh",)),
                    (Tanh, ("tanh",)), (Asinh, ("asinh", "arcsinh")),
                    (Acosh, ("acosh", "arccosh")), (Atanh, ("atanh", "arctanh")),
                    (Deg2rad, ("deg2rad",)), (Rad2deg, ("rad2deg",)), (Floor, ("floor",)),
                    (Ceil, ("ceil",)), (Trunc, ("trunc", "fix")), (Frac, ("frac",)),
                    (Sigmoid, ("sigmoid",)), (Erf, ("erf",)), (Erfc, ("erfc",)),
                    (Erfinv, ("erfinv",)), (Relu, ("relu",)), (Atan2, ("atan2", "arctan2")),
                    (Hypot, ("hypot",)), (Copysign, ("copysign",)), (Xlogy, ("xlogy",)),
                    (Eq, ("eq",)), (Ne, ("ne", "not_equal")), (Lt, ("lt", "less")),
                    (Le, ("le", "less_equal")), (Gt, ("gt", "greater")),
                    (Ge, ("ge", "greater_equal")), (LogicalNot, ("logical_not",)),
                    (LogicalAnd, ("logical_and",)), (LogicalOr, ("logical_or",)),
                    (LogicalXor, ("logical_xor",)), (BitwiseNot, ("bitwise_not",)),
                    (BitwiseAnd, ("bitwise_and",)), (BitwiseOr, ("bitwise_or",)),
                    (BitwiseXor, ("bitwise_xor",)), (LeftShift, ("bitwise_left_shift",)),
                    (RightShift, ("bitwise_right_shift",))):
    for _name in _names:
        _INPLACE[_name + "_"] = _inplace(_op)
for _name, _method in _INPLACE.items():
    setattr(Tensor, _name, _method)
relu_ = Tensor.relu_
# torch's top-level forms of in-place methods: torch.exp_(x) is x.exp_()
_TOP_LEVEL_INPLACE = (
    "abs_", "acos_", "acosh_", "arccos_", "arccosh_", "arcsin_", "arcsinh_", "arctan_",
    "arctanh_", "asin_", "asinh_", "atan_", "atanh_", "ceil_", "clamp_", "clamp_max_",
    "clamp_min_", "clip_", "cos_", "cosh_", "deg2rad_", "erf_", "erfc_", "exp2_", "exp_",
    "expm1_", "fix_", "floor_", "frac_", "log10_", "log1p_", "log2_", "log_", "logit_",
    "nan_to_num_", "neg_", "negative_", "rad2deg_", "reciprocal_", "round_", "rsqrt_",
    "sigmoid_", "sin_", "sinh_", "sqrt_", "square_", "tan_", "tanh_", "trunc_", "xlogy_")
globals().update({_name: _INPLACE[_name] for _name in _TOP_LEVEL_INPLACE})
del _op, _names, _name, _method


# ---- operators --------------------------------------------------------------------------
def _reflect(op, **attrs):
    return lambda self, other: apply(op, other, self, **attrs)


def _forward(op, **attrs):
    return lambda self, other: apply(op, self, other, **attrs)


def _rsub(self, other):
    _check_sub(other, self)
    return name_node(apply(Sub, other, self), "RsubBackward1")


def _sub_op(self, other):
    _check_sub(self, other)
    return apply(Sub, self, other)


def _invert(self):
    if self._dtype.category > D._INT:
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type "
                        f"tensors, not {self._dtype.name}")
    return apply(BitwiseNot, self)


Tensor.__add__ = Tensor.__radd__ = _forward(Add)
Tensor.__iadd__ = _add_
Tensor.__sub__ = _sub_op
Tensor.__rsub__ = _rsub
Tensor.__isub__ = _sub_
Tensor.__mul__ = Tensor.__rmul__ = _forward(Mul)
Tensor.__imul__ = Tensor.mul_
Tensor.__truediv__ = _forward(Div)
Tensor.__rtruediv__ = _reflect(Div)
Tensor.__itruediv__ = _div_
Tensor.__floordiv__ = _forward(Div, rounding_mode="floor")
Tensor.__rfloordiv__ = _reflect(Div, rounding_mode="floor")
Tensor.__ifloordiv__ = Tensor.floor_divide_
Tensor.__mod__ = _forward(Remainder)
Tensor.__rmod__ = _reflect(Remainder)
Tensor.__imod__ = Tensor.remainder_
Tensor.__pow__ = _forward(Pow)
Tensor.__rpow__ = _reflect(Pow)
Tensor.__ipow__ = Tensor.pow_
Tensor.__neg__ = lambda self: apply(Neg, self)
Tensor.__pos__ = positive
Tensor.__abs__ = lambda self: apply(Abs, self)
Tensor.__invert__ = _invert
Tensor.__eq__ = _forward(Eq)
Tensor.__ne__ = _forward(Ne)
Tensor.__lt__ = _forward(Lt)
Tensor.__le__ = _forward(Le)
Tensor.__gt__ = _forward(Gt)
Tensor.__ge__ = _forward(Ge)
Tensor.__and__ = _forward(BitwiseAnd)
Tensor.__rand__ = _reflect(BitwiseAnd)
Tensor.__iand__ = Tensor.bitwise_and_
Tensor.__or__ = _forward(BitwiseOr)
Tensor.__ror__ = _reflect(BitwiseOr)
Tensor.__ior__ = Tensor.bitwise_or_
Tensor.__xor__ = _forward(BitwiseXor)
Tensor.__rxor__ = _reflect(BitwiseXor)
Tensor.__ixor__ = Tensor.bitwise_xor_
Tensor.__lshift__ = _forward(LeftShift)
Tensor.__rlshift__ = _reflect(LeftShift)
Tensor.__ilshift__ = Tensor.bitwise_left_shift_
Tensor.__rshift__ = _forward(RightShift)
Tensor.__rrshift__ = _reflect(RightShift)
Tensor.__irshift__ = Tensor.bitwise_right_shift_
Tensor.__hash__ = lambda self: id(self)


__all__ = [
    "add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide", "floor_divide",
    "remainder", "fmod", "pow", "float_power", "square", "positive", "neg", "negative",
    "reciprocal", "rsqrt", "sqrt", "addcmul", "addcdiv", "lerp", "exp", "exp2", "expm1", "log",
    "log2", "log10", "log1p", "sigmoid", "logit", "sin", "cos", "tan", "asin", "arcsin", "acos",
    "arccos", "atan", "arctan", "sinh", "cosh", "tanh", "asinh", "arcsinh", "acosh", "arccosh",
    "atanh", "arctanh", "atan2", "arctan2", "hypot", "logaddexp", "logaddexp2", "copysign",
    "xlogy", "deg2rad", "rad2deg", "floor", "ceil", "round", "trunc", "fix", "frac", "relu",
    "relu_", "erf", "erfc", "erfinv", "abs", "absolute", "sign", "sgn", "clamp", "clip",
    "clamp_min", "clamp_max", "maximum", "minimum", "fmax", "fmin", "where", "eq", "ne",
    "not_equal", "lt", "less", "le", "less_equal", "gt", "greater", "ge", "greater_equal",
    "isclose", "logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and",
    "bitwise_or", "bitwise_xor", "bitwise_not", "bitwise_left_shift", "bitwise_right_shift",
    "isnan", "isinf", "isfinite", "isposinf", "isneginf", "isreal", "signbit", "nan_to_num",
    *_TOP_LEVEL_INPLACE]
