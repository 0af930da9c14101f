"""Pointwise ops against torch: error types, type promotion, integer edge cases, in-place
variants (on views, under autograd, and the allocation-free fast path optimizers use),
operators with their reflected and in-place forms, gradients at special points, and the
precision of erf/erfc/erfinv (which have no NumPy kernel)."""
from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
import torch

import ember
from ember._ops.pointwise import _TOP_LEVEL_INPLACE

from .harness import assert_same

NAN, INF = math.nan, math.inf


def _both(values, dtype="float32", requires_grad=False):
    """The same data as a torch and an ember tensor."""
    arr = np.asarray(values)
    return (torch.tensor(arr, dtype=getattr(torch, dtype), requires_grad=requires_grad),
            ember.tensor(arr, dtype=getattr(ember, dtype), requires_grad=requires_grad))


def _same(fn, *args, dtype="float32", atol=1e-6, rtol=1e-6):
    """Run fn(lib, *tensors) through torch and ember and compare values and dtypes."""
    pairs = [_both(a, dtype) for a in args]
    expected = fn(torch, *[p[0] for p in pairs])
    got = fn(ember, *[p[1] for p in pairs])
    assert_same(got, expected, atol, rtol)
    return got


def _raises_like_torch(fn, *args, dtype="float32", match=None):
    """fn must fail in torch and in ember with the same kind of error."""
    pairs = [_both(a, dtype) for a in args]
    with pytest.raises(Exception) as theirs:
        fn(torch, *[p[0] for p in pairs])
    expected = RuntimeError if isinstance(theirs.value, RuntimeError) else type(theirs.value)
    with pytest.raises(expected, match=match):
        fn(ember, *[p[1] for p in pairs])


INTS = [5, -5, 7, 0, -8, 3]
FLOATS = [5.0, -5.0, 7.5, -0.0, 0.25, -2.5]


# ---- errors ----------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [
    lambda t, b: -b,
    lambda t, b: t.neg(b),
    lambda t, b: b.neg_(),
    lambda t, b: +b,
    lambda t, b: t.positive(b),
    lambda t, b: b - b,
    lambda t, b: b - 1,
    lambda t, b: 1 - b,
    lambda t, b: t.sub(b.long(), b),
    lambda t, b: b.sub_(b),
    lambda t, b: t.relu(b),
    lambda t, b: t.floor(b),
    lambda t, b: t.round(b),
    lambda t, b: t.remainder(b, b),
    lambda t, b: t.clamp(b, False, True),
    lambda t, b: b << b,
], ids=["neg", "neg_fn", "neg_", "pos", "positive", "sub", "sub_scalar", "rsub", "sub_mixed",
        "sub_", "relu", "floor", "round", "remainder", "clamp", "lshift"])
def test_bool_rejected(fn):
    _raises_like_torch(fn, [True, False], dtype="bool")


def test_bool_negation_message():
    with pytest.raises(RuntimeError, match="logical_not"):
        -ember.tensor([True, False])


@pytest.mark.parametrize("fn", [
    lambda t, x: x & x, lambda t, x: x | 1, lambda t, x: 1 ^ x, lambda t, x: ~x,
    lambda t, x: x << 1, lambda t, x: x >> 1, lambda t, x: t.bitwise_xor(x, x),
    lambda t, x: t.bitwise_not(x), lambda t, x: t.bitwise_left_shift(x, 1),
    lambda t, x: x.bitwise_or_(x), lambda t, x: t.bitwise_and(x.long(), 1.5),
], ids=["and", "or", "rxor", "invert", "lshift", "rshift", "xor_fn", "not_fn", "lshift_fn",
        "or_", "int_and_float"])
def test_bitwise_rejects_floats(fn):
    _raises_like_torch(fn, [1.0, 2.0])


@pytest.mark.parametrize("fn", [
    lambda t, x, z: x // z, lambda t, x, z: x // 0, lambda t, x, z: x % z,
    lambda t, x, z: x % 0, lambda t, x, z: t.fmod(x, z), lambda t, x, z: t.remainder(x, 0),
    lambda t, x, z: t.floor_divide(x, z), lambda t, x, z: t.div(x, z, rounding_mode="trunc"),
    lambda t, x, z: t.div(x, 0, rounding_mode="floor"), lambda t, x, z: x.remainder_(z),
    lambda t, x, z: x.fmod_(0), lambda t, x, z: x.floor_divide_(z),
    lambda t, x, z: x.__imod__(z), lambda t, x, z: x.__ifloordiv__(0),
], ids=["floordiv", "floordiv_scalar", "mod", "mod_scalar", "fmod", "remainder_scalar",
        "floor_divide", "trunc", "floor", "remainder_", "fmod_", "floor_divide_", "imod",
        "ifloordiv"])
def test_integer_division_by_zero(fn):
    _raises_like_torch(fn, [5, -3, 2], [1, 0, 2], dtype="int64", match="ZeroDivisionError")


def test_integer_division_by_zero_under_no_grad():
    x = ember.tensor([4, 5])
    with ember.no_grad(), pytest.raises(RuntimeError, match="ZeroDivisionError"):
        x.remainder_(ember.tensor([1, 0]))


def test_float_division_by_zero_is_ieee():
    with np.errstate(all="ignore"):
        _same(lambda t, x, z: [x / z, x // z, x % z, t.fmod(x, z),
                               t.div(x, z, rounding_mode="trunc")], [1.0, -1.0, 0.0],
              [0.0, 0.0, 0.0])
        _same(lambda t, x: x / 0, [1, -1, 0], dtype="int64")


@pytest.mark.parametrize("fn", [
    lambda t, x: t.clamp(x), lambda t, x: x.clamp(), lambda t, x: x.clip(),
    lambda t, x: x.clamp_(), lambda t, x: t.clamp(x, None, None),
], ids=["fn", "method", "clip", "inplace", "nones"])
def test_clamp_needs_a_bound(fn):
    _raises_like_torch(fn, [1.0, 2.0], match="min.*max")


@pytest.mark.parametrize("grad_mode", ["enabled", "no_grad"])
@pytest.mark.parametrize("fn", [
    lambda t, i, f: i.add_(1.5), lambda t, i, f: i.sqrt_(), lambda t, i, f: i.div_(2),
    lambda t, i, f: i.mul_(f), lambda t, i, f: i.clamp_(0.5), lambda t, i, f: i.exp_(),
    lambda t, i, f: i.sigmoid_(), lambda t, i, f: i.sub_(f, alpha=2),
    lambda t, i, f: i.addcmul_(f, f), lambda t, i, f: i.pow_(0.5), lambda t, i, f: i.atan2_(i),
    lambda t, i, f: i.maximum(f).long().add_(f), lambda t, i, f: i.__itruediv__(2),
    lambda t, i, f: i.lerp_(f, 0.5), lambda t, i, f: i.erfinv_(),
    lambda t, i, f: i.bool().add_(i), lambda t, i, f: f.float_power_(2),
    lambda t, i, f: i.logit_(), lambda t, i, f: i.copysign_(f),
], ids=["add_float", "sqrt", "div", "mul_tensor", "clamp_float", "exp", "sigmoid",
        "sub_alpha", "addcmul", "pow_half", "atan2", "add_tensor", "itruediv", "lerp", "erfinv",
        "bool_add_int", "float_power_float32", "logit", "copysign"])
def test_inplace_result_type_errors(fn, grad_mode):
    """An in-place op whose result type is of a higher kind than the target's fails."""
    ctx = torch.no_grad if grad_mode == "no_grad" else torch.enable_grad
    ectx = ember.no_grad if grad_mode == "no_grad" else ember.enable_grad
    (ti, ei), (tf, ef) = _both([1, 2, 3], "int64"), _both([1.5, 2.5, 3.5])
    with ctx(), pytest.raises(RuntimeError):
        fn(torch, ti, tf)
    before = ei.numpy().copy()
    with ectx(), pytest.raises(RuntimeError):
        fn(ember, ei, ef)
    np.testing.assert_array_equal(ei.numpy(), before)


def test_inplace_error_messages():
    x = ember.tensor([1, 2])
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
        x.add_(1.5)
    with pytest.raises(RuntimeError, match="can't be cast"):
        x.sqrt_()
    with pytest.raises(RuntimeError, match="float_power_ has dtype Float"):
        ember.ones(2).float_power_(2)


@pytest.mark.parametrize("grad_mode", ["enabled", "no_grad"])
@pytest.mark.parametrize("fn", [
    lambda x, y: x.add_(y), lambda x, y: x.add_(y, alpha=2), lambda x, y: x.mul_(y),
    lambda x, y: x.clamp_(y, y), lambda x, y: x.lerp_(y, 0.5), lambda x, y: x.addcmul_(y, y),
    lambda x, y: x.pow_(y), lambda x, y: x.atan2_(y),
], ids=["add", "add_alpha", "mul", "clamp", "lerp", "addcmul", "pow", "atan2"])
def test_inplace_cannot_grow_target(fn, grad_mode):
    ctx = ember.no_grad if grad_mode == "no_grad" else ember.enable_grad
    x, y = ember.ones(3), ember.ones(2, 3)
    with ctx(), pytest.raises(RuntimeError, match=r"shape \[3\]"):
        fn(x, y)
    x.add_(y[0])  # broadcasting into the target's own shape is fine
    assert x.tolist() == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("fn", [
    lambda t, i, f: t.add(i, i, alpha=0.5), lambda t, i, f: t.add(f, f, alpha=True),
    lambda t, i, f: t.sub(i, i, alpha=1.5), lambda t, i, f: i.add_(i, alpha=0.5),
    lambda t, i, f: i ** -1, lambda t, i, f: i.pow_(-1),
    lambda t, i, f: t.lerp(f, f.double(), 0.5), lambda t, i, f: t.lerp(f, f, f.double()),
    lambda t, i, f: t.lerp(i, i, 0.5), lambda t, i, f: t.lerp(f, 2.0, 0.5),
    lambda t, i, f: t.addcdiv(f, i, i), lambda t, i, f: f.addcdiv_(i, i),
    lambda t, i, f: t.isclose(i, f), lambda t, i, f: t.isclose(f, f, rtol=-1),
    lambda t, i, f: t.isclose(f, f, atol=-1e-3), lambda t, i, f: t.isclose(f, 1.0),
    lambda t, i, f: t.round(i, decimals=1), lambda t, i, f: t.frac(i),
    lambda t, i, f: t.hypot(i, i), lambda t, i, f: t.logaddexp(i, i),
    lambda t, i, f: t.div(f, f, rounding_mode="round"),
], ids=["alpha_float_int", "alpha_bool_float", "sub_alpha", "add_alpha_", "int_neg_pow",
        "pow_neg_", "lerp_end_dtype", "lerp_weight_dtype", "lerp_int", "lerp_scalar_end",
        "addcdiv_int", "addcdiv_int_", "isclose_dtypes", "isclose_rtol", "isclose_atol",
        "isclose_scalar", "round_decimals_int", "frac_int", "hypot_int", "logaddexp_int",
        "bad_rounding_mode"])
def test_argument_errors(fn):
    pairs = (_both([1, 2, 3], "int64"), _both([1.5, 2.5, 3.5]))
    with pytest.raises(Exception) as theirs:
        fn(torch, pairs[0][0], pairs[1][0])
    expected = RuntimeError if isinstance(theirs.value, RuntimeError) else type(theirs.value)
    with pytest.raises(expected):
        fn(ember, pairs[0][1], pairs[1][1])


def test_error_messages_name_the_problem():
    with pytest.raises(NotImplementedError, match="bitwise_or.*Float.*integer or bool"):
        ember.ones(2) | ember.ones(2)
    with pytest.raises(RuntimeError, match="lerp.*`end`.*float64"):
        ember.lerp(ember.ones(2), ember.ones(2, dtype=ember.float64), 0.5)
    with pytest.raises(RuntimeError, match="Integer division with addcdiv"):
        ember.addcdiv(ember.ones(2), ember.tensor([1, 2]), ember.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="isclose.*Long did not match Float"):
        ember.isclose(ember.tensor([1]), ember.tensor([1.0]))


# ---- integers -----------------------------------------------------------------------------
def test_integer_overflow_not_hidden():
    """Python scalars wrap into the tensor's integer type as in torch (uint8 + 300 == 45),
    but a multiplier that does not fit raises, and so does a value beyond int64."""
    _same(lambda t, x: [x + 300, x * 300, x - 300], [1, 2, 250], dtype="uint8")
    x = ember.tensor([1, 2], dtype=ember.uint8)
    assert x.add_(300).tolist() == [45, 46]
    with ember.no_grad():
        assert x.add_(-46).tolist() == [255, 0]
    _raises_like_torch(lambda t, x: t.add(x, 1, alpha=300), [1, 2], dtype="uint8",
                       match="overflow")
    with pytest.raises(RuntimeError, match="overflow"):
        ember.tensor([1, 2], dtype=ember.uint8).add_(1, alpha=300)
    with pytest.raises(RuntimeError, match="overflow"):
        ember.tensor([1, 2], dtype=ember.uint8) + 2 ** 70


def test_alpha_is_checked_like_torch():
    """alpha converts to the result dtype as torch converts it: a finite float beyond the
    dtype's range refuses (in place too), inf passes, and a negative alpha wraps for uint8."""
    _raises_like_torch(lambda t, x: t.add(x, x, alpha=3.5e38), [1.0, 2.0], match="overflow")
    _raises_like_torch(lambda t, x: x.sub_(x, alpha=-1e300), [1.0, 2.0], match="overflow")
    _same(lambda t, x: [t.add(x, x, alpha=math.inf), t.sub(x, x, alpha=-3e38)], [1.0, 2.0])
    _same(lambda t, x: [t.add(x, x, alpha=-1), t.sub(x, x, alpha=-200)], [1, 2], dtype="uint8")


@pytest.mark.parametrize("alpha", [0.3, -1e-3, 2.5])
def test_float32_alpha_rounds_once_like_torch(alpha):
    """x + alpha * y in float32 is one fused multiply-add in torch's kernel, rounded once:
    results agree bit for bit, out of place, in place and broadcast."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, 4096)), rng.standard_normal(4096)
    (tx, ex), (ty, ey) = _both(x), _both(y)
    for op in ("add", "sub"):
        for lib, a, b, results in ((torch, tx, ty, want := []), (ember, ex, ey, got := [])):
            results += [getattr(lib, op)(a, b, alpha=alpha),
                        getattr(a.clone(), op + "_")(b, alpha=alpha)]
        for w, g in zip(want, got):
            np.testing.assert_array_equal(g.numpy(), w.numpy())


def test_integer_arithmetic_wraps_like_torch():
    _same(lambda t, x: [x * x, x + x, -x, x.abs()], [100, -128, 127], dtype="int8")
    _same(lambda t, x: [x * 3, x.square(), x ** 3], [100, 200, 255], dtype="uint8")


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "uint8"])
def test_shifts_beyond_width(dtype):
    lo = 0 if dtype == "uint8" else -5
    _same(lambda t, x, s: [x << s, x >> s, t.bitwise_left_shift(x, 3)], [lo, 5, 1, 7, 100],
          [70, 3, 0, 8, 2], dtype=dtype)


def test_shift_by_negative_and_reflected():
    _same(lambda t, x: [x << -1, x >> -1, 2 << x, 256 >> x], [5, -5, 3], dtype="int64")


def test_rounding_passes_integers_through():
    for dtype in ("int64", "int32", "uint8", "int8"):
        got = _same(lambda t, x: [t.floor(x), t.ceil(x), t.round(x), t.trunc(x), t.fix(x)],
                    [5, 3, 7, 0], dtype=dtype)
        assert got[0].dtype is getattr(ember, dtype)
    x = ember.tensor([1, 2])
    assert ember.floor(x) is not x


def test_integer_division_semantics():
    a, b = [7, -7, 7, -7, 0, 9], [2, 2, -2, -2, 3, -4]
    _same(lambda t, x, y: [x // y, x % y, t.fmod(x, y), t.div(x, y, rounding_mode="trunc"),
                           t.div(x, y, rounding_mode="floor"), x / y, t.floor_divide(x, y),
                           t.remainder(x, y)], a, b, dtype="int64")
    _same(lambda t, x: [t.remainder(7, x), 7 % x, 7 // x, x % 2.5, t.fmod(x, 2.5)], b,
          dtype="int64")


# ---- type promotion ---------------------------------------------------------------------
@pytest.mark.parametrize("fn,expected", [
    (lambda t: t.tensor([1, 2]) + 2.5, "float32"),
    (lambda t: t.ones(3) + t.tensor(2.0, dtype=t.float64), "float32"),
    (lambda t: t.ones(3, dtype=t.uint8) + t.ones(3, dtype=t.int8), "int16"),
    (lambda t: t.add(t.tensor([True, False]), t.tensor([True, True])), "bool"),
    (lambda t: t.tensor([1, 2], dtype=t.int32) + t.tensor(5), "int32"),
    (lambda t: t.tensor([1, 2], dtype=t.int32) + t.tensor(5.0, dtype=t.float64), "float64"),
    (lambda t: t.tensor([1, 2]) / t.tensor([2, 2]), "float32"),
    (lambda t: t.tensor([True]) * 2, "int64"),
    (lambda t: t.ones(2, dtype=t.float16) * t.ones(2, dtype=t.bfloat16), "float32"),
    (lambda t: t.ones(2, dtype=t.float16) + 1e-3, "float16"),
    (lambda t: t.tensor([3]) % 2.0, "float32"),
    (lambda t: t.tensor([3], dtype=t.int16) // t.tensor([2], dtype=t.int8), "int16"),
    (lambda t: t.float_power(t.tensor([2]), 2), "float64"),
    (lambda t: t.float_power(t.ones(2), t.ones(2)), "float64"),
    (lambda t: t.logical_and(t.ones(2), t.tensor([1, 0])), "bool"),
    (lambda t: t.logical_xor(t.tensor([1, 0]), t.tensor([1, 1])), "bool"),
    (lambda t: t.logical_not(t.ones(2)), "bool"),
    (lambda t: t.isclose(t.ones(2), t.ones(2)), "bool"),
    (lambda t: t.isnan(t.tensor([1, 2])), "bool"),
    (lambda t: t.tensor([1, 2], dtype=t.uint8) ^ t.tensor([1, 2], dtype=t.int8), "int16"),
    (lambda t: t.tensor([True]) >> 1, "int64"),
    (lambda t: t.tensor([True]) | t.tensor([False]), "bool"),
    (lambda t: t.clamp(t.tensor([1, 2]), 0.5), "float32"),
    (lambda t: t.clamp(t.ones(2), t.ones(2, dtype=t.float64)), "float64"),
    (lambda t: t.clamp(t.tensor([True]), 0, 1), "int64"),
    (lambda t: t.maximum(t.tensor([1, 2]), t.ones(2)), "float32"),
    (lambda t: t.fmax(t.tensor([1], dtype=t.uint8), t.tensor([1], dtype=t.int8)), "int16"),
    (lambda t: t.atan2(t.tensor([1]), t.tensor([2])), "float32"),
    (lambda t: t.copysign(t.tensor([1]), -1), "float32"),
    (lambda t: t.xlogy(t.tensor([1]), 2), "float32"),
    (lambda t: t.sigmoid(t.tensor([True])), "float32"),
    (lambda t: t.exp2(t.tensor([1], dtype=t.int16)), "float32"),
    (lambda t: t.square(t.tensor([True])), "int64"),
    (lambda t: t.square(t.tensor([3], dtype=t.uint8)), "uint8"),
    (lambda t: t.sign(t.tensor([True])), "bool"),
    (lambda t: t.sgn(t.tensor([-3])), "int64"),
    (lambda t: t.relu(t.tensor([-3], dtype=t.int8)), "int8"),
    (lambda t: t.nan_to_num(t.tensor([1, 2])), "int64"),
    (lambda t: t.addcmul(t.tensor([1]), t.tensor([2]), t.tensor([3.0])), "float32"),
    (lambda t: t.addcdiv(t.tensor([1]), t.tensor([2.0]), t.tensor([3])), "float32"),
    (lambda t: t.remainder(t.tensor([5]), t.tensor(2.5, dtype=t.float64)), "float64"),
    (lambda t: t.deg2rad(t.tensor([180])), "float32"),
    (lambda t: t.tensor([1.0]).eq_(1), "float32"),
    (lambda t: t.tensor([3]).lt_(6.5), "int64"),
    (lambda t: t.ones(2).logical_and_(t.tensor([1, 0])), "float32"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_promotion_spot_checks(fn, expected):
    got, theirs = fn(ember), fn(torch)
    assert str(theirs.dtype) == f"torch.{expected}"
    assert_same(got, theirs, 1e-3, 1e-3)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "remainder", "maximum", "atan2",
                                "fmax", "floor_divide", "copysign", "bitwise_and", "eq"])
@pytest.mark.parametrize("a,b", [
    ("int8", "uint8"), ("int32", "int64"), ("float16", "float32"), ("bfloat16", "float16"),
    ("int64", "float16"), ("bool", "int8"), ("float32", "float64"), ("uint8", "bool")])
def test_binary_promotion_matrix(op, a, b):
    floats = {"float16", "bfloat16", "float32", "float64"}
    if op == "bitwise_and" and (a in floats or b in floats):
        return
    if op == "sub" and "bool" in (a, b):
        return
    if op in ("remainder", "floor_divide") and a == "bool" and b == "bool":
        return
    lhs = np.array([3, 1, 2, 5]) if a != "bool" else np.array([True, False, True, True])
    rhs = np.array([2, 1, 3, 4]) if b != "bool" else np.array([True, True, True, True])
    got = _pair_op(ember, op, lhs, a, rhs, b)
    theirs = _pair_op(torch, op, lhs, a, rhs, b)
    assert_same(got, theirs, 1e-2, 1e-2)


def _pair_op(lib, op, lhs, a, rhs, b):
    x = lib.tensor(lhs, dtype=getattr(lib, a))
    y = lib.tensor(rhs, dtype=getattr(lib, b))
    return getattr(lib, op)(x, y)


@pytest.mark.parametrize("dim_dtype", ["bool", "int64", "float32", "float64"])
@pytest.mark.parametrize("lower", ["1j", "complex64_0d", "complex128_0d", "float64_0d"])
def test_a_complex_lower_tier_over_floats_gives_their_complex_counterpart(dim_dtype, lower):
    """float64 * 1j is complex128 in torch (not the default complex64): a complex scalar or
    0-d tensor promotes a float tensor to its own complex width; ints and bool take the
    lower tier's dtype."""
    for lib in (ember, torch):
        x = lib.ones(2, dtype=getattr(lib, dim_dtype))
        y = 1j if lower == "1j" else lib.tensor(1.5 if "float" in lower else 1j,
                                                dtype=getattr(lib, lower[:-3]))
        dtypes = [str((x * y).dtype), str(lib.result_type(x, y)), str((y + x).dtype)]
        if lib is ember:
            got = dtypes
    assert got == dtypes


def test_zero_dim_scalars_follow_category_rules():
    _same(lambda t, x: [x + t.tensor(2, dtype=t.int64), x * t.tensor(2.5),
                        t.maximum(x, t.tensor(1.5, dtype=t.float64))],
          [1, 2, 3], dtype="int32")


# ---- semantics ----------------------------------------------------------------------------
def test_remainder_and_fmod_signs():
    a, b = [5.5, -5.5, 5.5, -5.5, 0.0, -0.0], [2.0, 2.0, -2.0, -2.0, 3.0, -3.0]
    r = _same(lambda t, x, y: [t.remainder(x, y), x % y, t.fmod(x, y)], a, b)
    assert np.all(np.sign(r[0].numpy()[:4]) == np.sign(b[:4]))
    assert np.all(np.sign(r[2].numpy()[:4]) == np.sign(a[:4]))
    _same(lambda t, x: [t.remainder(x, INF), t.fmod(x, INF), t.remainder(x, -1.5)], a)


def test_round_half_to_even_and_decimals():
    _same(lambda t, x: [t.round(x), x.round(decimals=1), t.round(x, decimals=-1)],
          [0.5, 1.5, 2.5, -0.5, -2.5, 1.25, 1234.5678, 15.0, 25.0])
    _same(lambda t, x: [t.round(x), t.round(x, decimals=2)], [0.5, 2.5, 1.005],
          dtype="float64", atol=0, rtol=0)


def test_clamp_semantics():
    _same(lambda t, x: [t.clamp(x, 3, 1), x.clamp(min=1), x.clamp(max=1), t.clip(x, -1, 1),
                        t.clamp_min(x, 0), t.clamp_max(x, 0)], [5.0, -5.0, 2.0, NAN])
    _same(lambda t, x: [t.clamp(x, 0.0, NAN), t.clamp(x, NAN, 1.0)], [5.0, -5.0, 0.5])
    _same(lambda t, x, lo, hi: [t.clamp(x, lo, hi), t.clamp(x, min=lo), t.clamp(x, max=hi)],
          [1.0, 5.0, 0.5, -2.0], [2.0, 2.0, 0.7, 0.0], [0.0, 9.0, 0.2, 1.0])
    _same(lambda t, x: [t.clamp(x, 0, 6), t.clamp(x, -1.5)], INTS, dtype="int64")


def test_maximum_family_nan_handling():
    a, b = [1.0, NAN, NAN, 2.0, -0.0], [NAN, 1.0, NAN, 1.0, 0.0]
    _same(lambda t, x, y: [t.maximum(x, y), t.minimum(x, y), t.fmax(x, y), t.fmin(x, y)],
          a, b)


def test_isclose_defaults_and_specials():
    a = [1.0, 1.0, INF, -INF, INF, NAN, 0.0, 1e-9]
    b = [1.0 + 1e-6, 1.0 + 1e-4, INF, INF, 1e300, NAN, 1e-9, 0.0]
    _same(lambda t, x, y: [t.isclose(x, y), x.isclose(y, equal_nan=True),
                           t.isclose(x, y, rtol=0, atol=0), t.isclose(x, y, rtol=1e-3)],
          a, b, dtype="float64")
    _same(lambda t, x, y: [t.isclose(x, y), t.isclose(x, y, atol=1)], [1, 2, 250, 0],
          [3, 1, 0, 250], dtype="uint8")
    _same(lambda t, x, y: t.isclose(x, y), [1e-3, 1.0], [1.001e-3, 1.00001], dtype="float16")


def test_logical_ops_return_bool():
    a, b = [0.0, 1.5, -2.0, NAN], [0.0, 0.0, 3.0, 0.0]
    got = _same(lambda t, x, y: [t.logical_and(x, y), t.logical_or(x, y), t.logical_xor(x, y),
                                 t.logical_not(x), x.logical_and(y)], a, b)
    assert all(g.dtype is ember.bool for g in got)
    _same(lambda t, x, y: [x.logical_or_(y), x], a, b)
    _same(lambda t, x, y: t.logical_xor(x, y), [0, 1, 2], [3, 0, 0], dtype="int8")


def test_classification():
    vals = [NAN, INF, -INF, 0.0, -0.0, 1.0, -1e-40]
    for dtype in ("float32", "float64", "float16", "bfloat16"):
        _same(lambda t, x: [t.isnan(x), t.isinf(x), t.isfinite(x), t.isposinf(x),
                            t.isneginf(x), t.isreal(x), t.signbit(x), x.isnan()], vals,
              dtype=dtype)
    for dtype in ("int64", "uint8", "bool"):
        _same(lambda t, x: [t.isnan(x), t.isinf(x), t.isfinite(x), t.isposinf(x),
                            t.isneginf(x), t.isreal(x), t.signbit(x)],
              [1, 0, 1] if dtype != "int64" else [-3, 0, 4], dtype=dtype)


def test_nan_to_num():
    vals = [NAN, INF, -INF, 1.5]
    for dtype in ("float32", "float64", "float16", "bfloat16"):
        _same(lambda t, x: [t.nan_to_num(x), x.nan_to_num(nan=1.0, posinf=2.0, neginf=-3.0),
                            t.nan_to_num(x, posinf=7.0)], vals, dtype=dtype)
    _same(lambda t, x: [x.nan_to_num_(), x], vals)
    _same(lambda t, x: t.nan_to_num(x), [1, 2], dtype="int64")


def test_float_power_is_double():
    _same(lambda t, x: [t.float_power(x, 2), t.float_power(x, 2.5), t.float_power(2, x),
                        x.float_power(x)], [2.0, 3.0, 0.5], atol=1e-12)
    _same(lambda t, x: [x.double().float_power_(2), x.double().float_power_(x)], [2.0, 3.0])


def test_sign_sgn_signbit_on_zeros():
    _same(lambda t, x: [t.sign(x), t.sgn(x), t.signbit(x), t.copysign(t.ones(4), x)],
          [-0.0, 0.0, -2.0, NAN])


def test_unary_values_match_torch():
    x = np.linspace(-3, 3, 25)
    pos = np.linspace(0.05, 4, 25)
    unit = np.linspace(-0.99, 0.99, 25)
    _same(lambda t, v: [t.exp2(v), t.expm1(v), t.sigmoid(v), t.tan(v), t.atan(v), t.sinh(v),
                        t.cosh(v), t.asinh(v), t.deg2rad(v), t.rad2deg(v), t.frac(v),
                        t.relu(v), t.erf(v), t.erfc(v), t.square(v), t.floor(v), t.ceil(v),
                        t.trunc(v)], x, dtype="float64", atol=1e-12, rtol=1e-12)
    _same(lambda t, v: [t.log2(v), t.log10(v), t.log1p(v), t.rsqrt(v), t.reciprocal(v),
                        t.acosh(v + 1)], pos, dtype="float64", atol=1e-12, rtol=1e-12)
    _same(lambda t, v: [t.asin(v), t.acos(v), t.atanh(v), t.logit(v.abs()), t.erfinv(v),
                        t.arcsin(v), t.arccos(v), t.arctanh(v)], unit, dtype="float64",
          atol=1e-12, rtol=1e-12)
    _same(lambda t, v: [t.logit(v, eps=0.25), t.logit(v, 0.1)], np.linspace(0, 1, 11))
    for lib in (torch, ember):  # a negative eps clamps nothing: the gradient is nan outside
        v = lib.tensor([-0.5, 0.3, 1.5], dtype=lib.float64, requires_grad=True)
        (grad,) = lib.autograd.grad(lib.logit(v, eps=-1.0).sum(), v)
        assert np.isnan(grad.numpy()).tolist() == [True, False, True]
    with np.errstate(all="ignore"):
        _same(lambda t, v: [t.asin(v), t.acosh(v), t.log2(v), t.rsqrt(v), t.logit(v)],
              [-2.0, 0.0, 2.0, -0.5])


def test_binary_values_match_torch():
    a = np.linspace(-3, 3, 13)
    b = np.linspace(2, -2.5, 13)
    _same(lambda t, x, y: [t.atan2(x, y), t.arctan2(x, y), t.hypot(x, y), t.logaddexp(x, y),
                           t.logaddexp2(x, y), t.copysign(x, y), t.xlogy(x, y.abs()),
                           t.lerp(x, y, 0.3), t.lerp(x, y, 0.8), t.lerp(x, y, y),
                           t.addcmul(x, x, y, value=0.5), t.addcdiv(x, x, y, value=-2),
                           t.maximum(x, y), t.fmin(x, y)], a, b, dtype="float64", atol=1e-12,
          rtol=1e-12)
    _same(lambda t, x, y: [t.logaddexp(x, y), t.logaddexp2(x, y)], [1e4, -1e4, -INF, INF],
          [1e4, 3.0, -INF, INF])
    _same(lambda t, x, y: t.xlogy(x, y), [0.0, 0.0, 0.0, 1.0, 2.0, 0.0],
          [0.0, -1.0, NAN, 0.0, INF, INF])


def test_sigmoid_does_not_overflow():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        _same(lambda t, x: t.sigmoid(x), [-1000.0, -50.0, 0.0, 50.0, 1000.0, NAN, -INF, INF])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_erf_family_precision(dtype):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-6, 6, 4000), 10.0 ** rng.uniform(-30, 1.4, 1000),
                        -10.0 ** rng.uniform(-30, 1.4, 1000), [0.0, -0.0, INF, -INF, NAN]])
    tol = 5e-15 if dtype == "float64" else 5e-7
    tx, ex = _both(x, dtype)
    np.testing.assert_allclose(ember.erf(ex).numpy(), torch.erf(tx).numpy(), rtol=tol, atol=0)
    np.testing.assert_allclose(ember.erfc(ex).numpy(), torch.erfc(tx).numpy(),
                               rtol=100 * tol, atol=0)
    near_one = 1 - 10.0 ** rng.uniform(-15 if dtype == "float64" else -7, 0, 1000)
    y = np.concatenate([rng.uniform(-1, 1, 4000), near_one, -near_one, 10.0 ** rng.uniform(
        -30, 0, 1000), [0.0, 1.0, -1.0, 1.5, -2.0, NAN]])
    ty, ey = _both(y, dtype)
    np.testing.assert_allclose(ember.erfinv(ey).numpy(), torch.erfinv(ty).numpy(),
                               rtol=2 * tol, atol=0)


def test_half_precision_compute_matches_torch():
    x = np.linspace(-3, 3, 40)
    for dtype in ("float16", "bfloat16"):
        _same(lambda t, v: [t.erf(v), t.sigmoid(v), t.exp(v), t.lerp(v, v * 2, 0.3),
                            t.round(v, decimals=1), v.clamp(-1, 1), t.remainder(v, 0.7),
                            t.addcdiv(v, v, v.abs() + 1, value=0.5)], x, dtype=dtype,
              atol=2e-2, rtol=2e-2)


# ---- operators ------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [
    lambda t, x: 3 & x, lambda t, x: 3 | x, lambda t, x: 3 ^ x, lambda t, x: 7 % x,
    lambda t, x: 1 << x, lambda t, x: 256 >> x, lambda t, x: 7 // x, lambda t, x: 2 ** x,
    lambda t, x: 3 - x, lambda t, x: 6 / x, lambda t, x: x & 6, lambda t, x: x | 8,
    lambda t, x: x ^ 5, lambda t, x: x % 3, lambda t, x: x << 2, lambda t, x: x >> 1,
    lambda t, x: x // 2, lambda t, x: ~x, lambda t, x: +x, lambda t, x: -x,
    lambda t, x: abs(x), lambda t, x: x & (x + 1),
], ids=["rand", "ror", "rxor", "rmod", "rlshift", "rrshift", "rfloordiv", "rpow", "rsub",
        "rtruediv", "and", "or", "xor", "mod", "lshift", "rshift", "floordiv", "invert", "pos",
        "neg", "abs", "and_tensor"])
def test_operators(fn):
    _same(fn, [1, 2, 3, 5], dtype="int64")


@pytest.mark.parametrize("fn", [
    lambda t, x: x.__iadd__(2), lambda t, x: x.__isub__(2), lambda t, x: x.__imul__(3),
    lambda t, x: x.__imod__(3), lambda t, x: x.__ifloordiv__(2), lambda t, x: x.__iand__(6),
    lambda t, x: x.__ior__(8), lambda t, x: x.__ixor__(5), lambda t, x: x.__ilshift__(2),
    lambda t, x: x.__irshift__(1), lambda t, x: x.__ipow__(2),
], ids=["iadd", "isub", "imul", "imod", "ifloordiv", "iand", "ior", "ixor", "ilshift",
        "irshift", "ipow"])
def test_inplace_operators(fn):
    tx, ex = _both([1, 2, 3, 5], "int64")
    theirs, got = fn(torch, tx), fn(ember, ex)
    assert got is ex
    assert_same(got, theirs, 0, 0)


def test_inplace_operator_statements():
    tx, ex = _both([9, -7, 5], "int64")
    for x in (tx, ex):
        x %= 4
        x //= 2
        x |= 8
        x ^= 3
        x &= 14
        x <<= 2
        x >>= 1
    assert_same(ex, tx, 0, 0)
    tb, eb = _both([True, False, True], "bool")
    for b in (tb, eb):
        b &= b
        b |= ~b
        b ^= b
    assert_same(eb, tb, 0, 0)


def test_floordiv_and_mod_on_floats():
    _same(lambda t, x: [x // 0.75, x % 0.75, 2.5 // x, 2.5 % x, x // -x.abs()],
          [5.5, -5.5, 1.25, -0.3])


# ---- in-place variants ---------------------------------------------------------------------
INPLACE_FLOAT = [
    ("add_", (2.0,), {}), ("add_", ("t",), {"alpha": -0.5}), ("sub_", ("t",), {}),
    ("sub_", (1.0,), {"alpha": 2}), ("mul_", ("t",), {}), ("div_", (2.0,), {}),
    ("div_", ("t",), {"rounding_mode": "floor"}), ("div_", ("t",), {"rounding_mode": "trunc"}),
    ("true_divide_", ("t",), {}), ("floor_divide_", (0.7,), {}), ("remainder_", (0.7,), {}),
    ("fmod_", (0.7,), {}), ("pow_", (2,), {}), ("neg_", (), {}), ("abs_", (), {}),
    ("sign_", (), {}), ("sgn_", (), {}), ("reciprocal_", (), {}), ("square_", (), {}),
    ("exp_", (), {}), ("exp2_", (), {}), ("expm1_", (), {}), ("sin_", (), {}),
    ("cos_", (), {}), ("tan_", (), {}), ("atan_", (), {}), ("arctan_", (), {}),
    ("sinh_", (), {}), ("cosh_", (), {}), ("tanh_", (), {}), ("asinh_", (), {}),
    ("arcsinh_", (), {}), ("deg2rad_", (), {}), ("rad2deg_", (), {}), ("floor_", (), {}),
    ("ceil_", (), {}), ("round_", (), {}), ("round_", (), {"decimals": 1}), ("trunc_", (), {}),
    ("fix_", (), {}), ("frac_", (), {}), ("sigmoid_", (), {}), ("relu_", (), {}),
    ("erf_", (), {}), ("erfc_", (), {}), ("clamp_", (-0.5, 0.5), {}),
    ("clamp_", (), {"min": 0.1}), ("clip_", ("t", "t2"), {}), ("clamp_min_", (0.2,), {}),
    ("clamp_max_", ("t",), {}), ("lerp_", ("t", 0.3), {}), ("lerp_", ("t", "t"), {}),
    ("addcmul_", ("t", "t"), {"value": 0.5}), ("addcdiv_", ("t", "t2"), {"value": -1}),
    ("atan2_", ("t",), {}), ("arctan2_", ("t",), {}), ("hypot_", ("t",), {}),
    ("copysign_", ("t",), {}), ("xlogy_", ("t2",), {}), ("float_power_", (2,), {}),
    ("nan_to_num_", (), {}), ("logical_not_", (), {}), ("logical_and_", ("t",), {}),
    ("logical_or_", ("t",), {}), ("logical_xor_", ("t",), {}), ("eq_", ("t",), {}),
    ("lt_", (0.0,), {}), ("ge_", ("t",), {}), ("greater_", ("t",), {}),
    ("multiply_", ("t",), {}), ("subtract_", ("t",), {}), ("divide_", ("t2",), {}),
    ("negative_", (), {}), ("absolute_", (), {}), ("fmod_", ("t2",), {}),
]


def _inplace_case(lib, name, args, kwargs, base):
    other = lib.tensor(np.linspace(-1.2, 0.9, 4), dtype=base.dtype)
    positive = lib.tensor(np.linspace(0.5, 2.0, 4), dtype=base.dtype)
    args = [other if a == "t" else positive if a == "t2" else a for a in args]
    return getattr(base[1], name)(*args, **kwargs)


@pytest.mark.parametrize("name,args,kwargs", INPLACE_FLOAT,
                         ids=[f"{n}{i}" for i, (n, _, _) in enumerate(INPLACE_FLOAT)])
@pytest.mark.parametrize("grad_mode", ["enabled", "no_grad"])
def test_inplace_on_view_writes_base(name, args, kwargs, grad_mode):
    """x[1].op_(...) changes row 1 of x (and returns the view), as torch does."""
    dtype = "float64" if name == "float_power_" else "float32"
    data = np.linspace(-1.5, 1.4, 12).reshape(3, 4)
    tx, ex = _both(data, dtype)
    ctx = (torch.no_grad, ember.no_grad) if grad_mode == "no_grad" else (
        torch.enable_grad, ember.enable_grad)
    with ctx[0]():
        theirs = _inplace_case(torch, name, args, kwargs, tx)
    with ctx[1](), np.errstate(all="ignore"):
        got = _inplace_case(ember, name, args, kwargs, ex)
    assert_same(got, theirs, 1e-6, 1e-6)
    assert_same(ex, tx, 1e-6, 1e-6)
    assert ex._version > 0


@pytest.mark.parametrize("name,args", [
    ("add_", (3,)), ("mul_", (2,)), ("remainder_", (3,)), ("floor_divide_", (2,)),
    ("bitwise_and_", (6,)), ("bitwise_or_", (8,)), ("bitwise_xor_", (5,)),
    ("bitwise_not_", ()), ("bitwise_left_shift_", (2,)), ("bitwise_right_shift_", (1,)),
    ("clamp_", (0, 5)), ("abs_", ()), ("neg_", ()), ("pow_", (2,)), ("relu_", ()),
    ("floor_", ()), ("square_", ()), ("sign_", ()), ("fmod_", (-3,)), ("lt_", (4,)),
    ("logical_not_", ()), ("nan_to_num_", ()), ("addcmul_", ("t", "t")),
])
def test_inplace_on_transposed_int_view(name, args):
    data = np.arange(-6, 6).reshape(3, 4)
    tx, ex = _both(data, "int64")
    for x in (tx, ex):
        view = x.t()[1]
        real = [x.t()[0] if a == "t" else a for a in args]
        getattr(view, name)(*real)
    assert_same(ex, tx, 0, 0)


def test_inplace_through_views_under_autograd():
    """Writing into a view of a non-leaf reroutes gradients as torch does."""
    def run(lib):
        leaf = lib.tensor(np.linspace(-1, 1, 12).reshape(3, 4), requires_grad=True)
        w = lib.tensor(np.linspace(0.5, 1.5, 4), requires_grad=True)
        y = leaf * 2
        y[1].mul_(w)
        y[:, 0].clamp_(-0.5, 0.5)
        y.t()[2].addcmul_(w[:3], w[:3], value=0.5)
        y[2].lerp_(w, 0.25)
        y[0].sigmoid_()
        y.sum().backward()
        return y, leaf.grad, w.grad
    assert_same(run(ember), run(torch), 1e-6, 1e-6)


def test_inplace_on_leaf_requiring_grad_is_refused():
    x = ember.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        x.add_(1)
    with pytest.raises(RuntimeError, match="leaf"):
        x[0].mul_(2)
    with ember.no_grad():
        x.add_(1, alpha=2)
    assert x.tolist() == [3.0, 3.0, 3.0]


def test_inplace_saved_tensor_is_detected():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


# ---- the no_grad fast path -------------------------------------------------------------------
def _peak_bytes(fn):
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("call", [
    lambda p, g, h: p.add_(g, alpha=-1e-3), lambda p, g, h: p.sub_(g, alpha=0.5),
    lambda p, g, h: p.addcmul_(g, h, value=0.1), lambda p, g, h: p.addcdiv_(g, h, value=-0.1),
    lambda p, g, h: p.lerp_(g, 0.1), lambda p, g, h: p.lerp_(g, h),
    lambda p, g, h: p.mul_(0.9), lambda p, g, h: p.div_(h), lambda p, g, h: p.clamp_(-1, 1),
    lambda p, g, h: p.sqrt_(), lambda p, g, h: p.neg_(), lambda p, g, h: p.pow_(2),
    lambda p, g, h: p.exp_(), lambda p, g, h: p.relu_(),
], ids=["add_alpha", "sub_alpha", "addcmul", "addcdiv", "lerp", "lerp_tensor", "mul", "div",
        "clamp", "sqrt", "neg", "pow", "exp", "relu"])
def test_no_grad_inplace_needs_no_full_temporary(call):
    """Optimizer updates under no_grad write into the parameter: no tensor-sized temporary."""
    rng = np.random.default_rng(0)
    p, g, h = (ember.tensor(rng.uniform(0.5, 1, (1000, 2000)).astype(np.float32))
               for _ in range(3))
    tp, tg, th = (torch.tensor(t.numpy()) for t in (p, g, h))
    with ember.no_grad():
        data = p._data
        peak = _peak_bytes(lambda: call(p, g, h))
    assert p._data is data
    assert peak < p.nbytes // 4, f"peak {peak} bytes for a {p.nbytes}-byte tensor"
    with torch.no_grad():
        call(tp, tg, th)
    np.testing.assert_allclose(p.numpy(), tp.numpy(), rtol=1e-6, atol=1e-6)


def test_fast_path_blocks_handle_aliasing_and_overlap():
    n = 300_001
    base = np.linspace(-1, 1, n)
    x = ember.tensor(base)
    with ember.no_grad():
        x.add_(x, alpha=2)
    np.testing.assert_allclose(x.numpy(), 3 * base)
    y = ember.tensor(base)
    with ember.no_grad():
        y[1:].add_(y[:-1], alpha=2)  # partial overlap: the result is as if inputs were copied
    expected = base.copy()
    expected[1:] = base[1:] + 2 * base[:-1]
    np.testing.assert_allclose(y.numpy(), expected)
    z = ember.tensor(base.reshape(-1, 1)[:-1].reshape(500, 600).T.copy())
    with ember.no_grad():
        z.t().addcmul_(z.t(), z.t(), value=0.5)
    zt = torch.tensor(base.reshape(-1, 1)[:-1].reshape(500, 600).T.copy())
    with torch.no_grad():
        zt.t().addcmul_(zt.t().clone(), zt.t().clone(), value=0.5)
    np.testing.assert_allclose(z.numpy(), zt.numpy())


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64"])
def test_fast_path_mixed_and_low_precision(dtype):
    rng = np.random.default_rng(1)
    data = rng.uniform(-1, 1, (400, 500))
    grads = rng.uniform(-1, 1, (400, 500))
    tp, ep = _both(data, dtype)
    tg, eg = _both(grads, "float32")
    with torch.no_grad():
        tp.add_(tg, alpha=-0.3).addcmul_(tg, tg, value=0.2).lerp_(tg.to(tp.dtype), 0.1)
    with ember.no_grad():
        ep.add_(eg, alpha=-0.3).addcmul_(eg, eg, value=0.2).lerp_(eg.to(ep.dtype), 0.1)
    assert_same(ep, tp, 1e-2, 1e-2)


def test_fast_path_used_when_nothing_requires_grad():
    x = ember.zeros(3)
    y = ember.ones(3, requires_grad=True)
    x.add_(ember.ones(3), alpha=2)
    assert x.tolist() == [2.0, 2.0, 2.0] and x.grad_fn is None
    x.add_(y)
    assert x.requires_grad and x.grad_fn is not None


# ---- gradients at special points -------------------------------------------------------------
GRAD_CASES = [
    ("clamp_scalar", lambda t, x: t.clamp(x, 0.0, 1.0), [[0.0, 1.0, 0.5, -1.0, 2.0]]),
    ("clamp_inverted", lambda t, x: t.clamp(x, 1.0, 0.0), [[0.0, 1.0, 0.5, -1.0, 2.0]]),
    ("clamp_tensors", lambda t, x, lo, hi: t.clamp(x, lo, hi),
     [[0.0, 1.0, 0.5, -1.0, 2.0, 0.5, 0.5], [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.7],
      [1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.2]]),
    ("clamp_min_tensor", lambda t, x, lo: t.clamp(x, min=lo), [[0.0, 1.0, -1.0], [0.0] * 3]),
    ("clamp_max_tensor", lambda t, x, hi: x.clamp(max=hi), [[0.0, 1.0, -1.0], [0.0] * 3]),
    ("maximum_ties", lambda t, x, y: t.maximum(x, y),
     [[1.0, 2.0, NAN, 1.0], [1.0, 3.0, 1.0, NAN]]),
    ("minimum_ties", lambda t, x, y: t.minimum(x, y),
     [[1.0, 2.0, NAN, 1.0], [1.0, 3.0, 1.0, NAN]]),
    ("fmax_nan", lambda t, x, y: t.fmax(x, y),
     [[1.0, 2.0, NAN, 1.0, NAN], [1.0, 3.0, 1.0, NAN, NAN]]),
    ("fmin_nan", lambda t, x, y: t.fmin(x, y),
     [[1.0, 2.0, NAN, 1.0, NAN], [1.0, 3.0, 1.0, NAN, NAN]]),
    ("copysign_zero", lambda t, x, y: t.copysign(x, y),
     [[0.0, -0.0, 2.0, -3.0], [1.0, -1.0, -1.0, 2.0]]),
    ("xlogy_zero", lambda t, x, y: t.xlogy(x, y), [[0.0, 0.0, 2.0, 0.0], [0.5, -1.0, 3.0, 2.0]]),
    ("hypot", lambda t, x, y: t.hypot(x, y), [[3.0, 1.0], [4.0, -2.0]]),
    ("atan2_origin", lambda t, x, y: t.atan2(x, y), [[0.0, 3.0], [0.0, 4.0]]),
    ("relu_zero_nan", lambda t, x: t.relu(x), [[0.0, 1.0, -1.0, NAN]]),
    ("logit_eps", lambda t, x: t.logit(x, eps=0.1), [[0.05, 0.1, 0.5, 0.9, 0.95]]),
    ("logit_outside", lambda t, x: t.logit(x), [[-0.5, 0.5, 1.5]]),
    ("nan_to_num", lambda t, x: t.nan_to_num(x), [[NAN, INF, -INF, 1.0]]),
    ("div_floor", lambda t, x, y: t.div(x, y, rounding_mode="floor"), [[3.0, 4.0], [2.0, 2.0]]),
    ("div_trunc", lambda t, x, y: t.div(x, y, rounding_mode="trunc"), [[3.0, 4.0], [2.0, 2.0]]),
    ("round", lambda t, x: t.round(x, decimals=1), [[3.33, 4.0]]),
    ("floor_ceil_trunc", lambda t, x: t.floor(x) + t.ceil(x) + t.trunc(x), [[1.5, -2.5]]),
    ("frac", lambda t, x: t.frac(x), [[1.5, -2.3]]),
    ("sign_abs", lambda t, x: t.sign(x) + t.abs(x), [[1.5, 0.0, -2.0]]),
    ("remainder", lambda t, x, y: t.remainder(x, y), [[3.0, -4.0], [2.0, 3.0]]),
    ("fmod", lambda t, x, y: t.fmod(x, y), [[3.0, -4.0], [2.0, 3.0]]),
    ("pow_negative_base", lambda t, x, y: t.pow(x, y), [[2.0, 0.0, -1.0], [3.0, 2.0, 2.0]]),
    ("float_power", lambda t, x, y: t.float_power(x, y), [[2.0, 0.5], [3.0, 2.0]]),
    ("lerp", lambda t, x, e, w: t.lerp(x, e, w), [[1.0, 2.0], [3.0, 5.0], [0.3, 0.8]]),
    ("lerp_scalar", lambda t, x, e: t.lerp(x, e, 0.75), [[1.0, 2.0], [3.0, 5.0]]),
    ("logaddexp_neg_inf", lambda t, x, y: t.logaddexp(x, y), [[1.0, -INF], [1.0, -INF]]),
    ("erfinv_edge", lambda t, x: t.erfinv(x), [[0.5, 1.0, -0.999]]),
    ("addcmul", lambda t, x, a, b: t.addcmul(x, a, b, value=-2), [[1.0], [2.0], [4.0]]),
    ("addcdiv", lambda t, x, a, b: t.addcdiv(x, a, b, value=2), [[1.0], [2.0], [4.0]]),
    ("sqrt_rsqrt_zero", lambda t, x: t.sqrt(x) + t.rsqrt(x + 1), [[0.0, 4.0]]),
]


@pytest.mark.parametrize("name,fn,values", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_gradients_at_special_points(name, fn, values):
    def grads(lib):
        ts = [lib.tensor(v, dtype=lib.float64, requires_grad=True) for v in values]
        out = fn(lib, *ts)
        return out, lib.autograd.grad(out.sum(), ts, allow_unused=True)
    with np.errstate(all="ignore"):
        got_out, got = grads(ember)
    want_out, want = grads(torch)
    assert_same(got_out, want_out, 1e-12, 1e-12, name)
    for k, (g, w) in enumerate(zip(got, want)):
        if w is None:
            assert g is None or not np.any(g.numpy()), f"input {k}"
            continue
        assert g is not None, f"input {k}: no gradient"
        assert_same(g, w, 1e-12, 1e-12, f"{name} grad {k}")


# ---- API surface -----------------------------------------------------------------------------
FUNCTIONS = """remainder fmod floor_divide reciprocal square rsqrt addcmul addcdiv lerp atan2
arctan2 hypot logaddexp logaddexp2 copysign xlogy float_power frac positive exp2 expm1 log2 log10
log1p sigmoid logit tan asin arcsin acos arccos atan arctan sinh cosh asinh arcsinh acosh arccosh
atanh arctanh deg2rad rad2deg floor ceil round trunc fix relu relu_ erf erfc erfinv clamp clip
clamp_min clamp_max maximum minimum fmax fmin isclose logical_and logical_or logical_xor
logical_not bitwise_and bitwise_or bitwise_xor bitwise_not bitwise_left_shift bitwise_right_shift
isnan isinf isfinite isposinf isneginf isreal signbit nan_to_num sgn subtract""".split()


@pytest.mark.parametrize("name", FUNCTIONS)
def test_public_names(name):
    from ember._ops import pointwise
    assert name in pointwise.__all__
    assert callable(getattr(ember, name))
    assert getattr(ember, name).__doc__
    if not name.endswith("_") and hasattr(torch.Tensor, name):
        assert hasattr(ember.Tensor, name), f"Tensor.{name}"
    if hasattr(torch.Tensor, name + "_"):
        assert hasattr(ember.Tensor, name + "_"), f"Tensor.{name}_"


@pytest.mark.parametrize("name,call", [
    ("remainder", lambda t, x, y, o: t.remainder(x, y, out=o)),
    ("atan2", lambda t, x, y, o: t.atan2(x, y, out=o)),
    ("clamp", lambda t, x, y, o: t.clamp(x, -0.5, 0.5, out=o)),
    ("lerp", lambda t, x, y, o: t.lerp(x, y, 0.5, out=o)),
    ("addcdiv", lambda t, x, y, o: t.addcdiv(x, x, y, value=2, out=o)),
    ("erf", lambda t, x, y, o: t.erf(x, out=o)),
    ("round", lambda t, x, y, o: t.round(x, decimals=1, out=o)),
    ("logit", lambda t, x, y, o: t.logit(y.abs() / 3, 0.1, out=o)),
    ("maximum", lambda t, x, y, o: t.maximum(x, y, out=o)),
    ("nan_to_num", lambda t, x, y, o: t.nan_to_num(x / 0, out=o)),
    ("float_power", lambda t, x, y, o: t.float_power(x, 2, out=o.double())),
])
def test_out_argument(name, call):
    tx, ex = _both([0.3, -1.2, 2.5])
    ty, ey = _both([1.5, 2.0, -1.0])
    to, eo = _both([0.0, 0.0, 0.0])
    with np.errstate(all="ignore"):
        theirs, got = call(torch, tx, ty, to), call(ember, ex, ey, eo)
    assert_same(got, theirs, 1e-6, 1e-6)
    if name != "float_power":
        assert got is eo
        assert_same(eo, to, 1e-6, 1e-6)


def test_out_for_bool_results():
    tx, ex = _both([0.0, NAN, INF])
    to, eo = _both([False, False, False], "bool")
    ember.isposinf(ex, out=eo)
    torch.isposinf(tx, out=to)
    ember.signbit(ex, out=eo)
    torch.signbit(tx, out=to)
    assert_same(eo, to, 0, 0)
    to2, eo2 = _both([0.0, 0.0, 0.0])
    assert_same(ember.logical_and(ex, ex, out=eo2), torch.logical_and(tx, tx, out=to2), 0, 0)


def _special_values(t, device="cpu"):
    """NaN, infinities and signed zeros where C's pow and CuPy's clip differ from torch."""
    s = t.tensor([float("nan"), float("-inf"), -0.0, 0.0, float("inf"), -2.0, 4.0],
                 device=device)
    with np.errstate(all="ignore"):
        return [s ** 0.5, s ** -0.5, s.double() ** -0.5, s.clone().pow_(-0.5),
                t.clamp(s, 0.5, -0.5), t.clamp(s, -0.5, 0.5), s.clone().clamp_(0.5, -0.5)]


def test_half_powers_and_inverted_clamps_keep_torchs_special_values():
    for k, (got, want) in enumerate(zip(_special_values(ember), _special_values(torch))):
        assert_same(got, want, 0, 0, what=f"case {k}")
        zero = want.numpy() == 0
        np.testing.assert_array_equal(np.signbit(got.numpy()[zero]), np.signbit(want.numpy()[zero]),
                                      err_msg=f"case {k}: the sign of a zero")


# ---- CUDA (CuPy) ------------------------------------------------------------------------
needs_gpu = pytest.mark.skipif(not ember._backend.cuda_available(), reason="needs CuPy and a GPU")

X = np.linspace(-0.9, 0.85, 12).reshape(3, 4)
POS = np.linspace(0.2, 2.5, 12).reshape(3, 4)
CUDA_CASES = {
    "arith": lambda t, x, p, i: [x + p, x - 2 * p, x * p, x / p, t.add(x, p, alpha=-0.5), x // p,
                                 x % p, t.fmod(x, p), x ** 2, p ** x, -x, t.square(x)],
    "int_arith": lambda t, x, p, i: [i + 3, i * i, i // 3, i % 3, t.fmod(i, 3), i / 2,
                                     t.div(i, 2, rounding_mode="trunc"), i << 1, i >> 1,
                                     i & 6, i | 1, i ^ 5, ~i, t.clamp(i, -2, 3), t.sign(i)],
    "unary": lambda t, x, p, i: [f(x) for f in (t.exp, t.exp2, t.expm1, t.sigmoid, t.tan, t.atan,
                                                t.sinh, t.cosh, t.asinh, t.asin, t.acos,
                                                t.atanh, t.erf, t.erfc, t.erfinv, t.deg2rad,
                                                t.rad2deg, t.floor, t.ceil, t.round, t.trunc,
                                                t.frac, t.relu, t.sign, t.abs)],
    "positive": lambda t, x, p, i: [f(p) for f in (t.log, t.log2, t.log10, t.log1p, t.sqrt,
                                                   t.rsqrt, t.reciprocal, t.acosh)] + [
        t.logit(p / 3), t.logit(p, eps=0.1), t.round(p, decimals=1)],
    "binary": lambda t, x, p, i: [t.atan2(x, p), t.hypot(x, p), t.logaddexp(x, p),
                                  t.logaddexp2(x, p), t.copysign(p, x), t.xlogy(x, p),
                                  t.float_power(p, x), t.maximum(x, p - 1), t.minimum(x, 0.1),
                                  t.fmax(x, p - 1), t.fmin(x, p - 1), t.lerp(x, p, 0.3),
                                  t.lerp(x, p, p / 3), t.addcmul(x, x, p, value=0.5),
                                  t.addcdiv(x, x, p, value=-2)],
    "clamp": lambda t, x, p, i: [t.clamp(x, -0.5, 0.5), x.clamp(min=0.1), t.clamp(x, x * 0.5, p),
                                 t.clamp_max(x, p - 1)],
    "special": lambda t, x, p, i: _special_values(t, x.device),
    "logic": lambda t, x, p, i: [t.logical_and(x, i), t.logical_or(x, 0), t.logical_xor(x, p),
                                 t.logical_not(i), t.isclose(x, x + 1e-6), x > 0, x == p],
    "classify": lambda t, x, p, i: [f(x / (x > 0)) for f in (t.isnan, t.isinf, t.isfinite,
                                                             t.isposinf, t.isneginf, t.signbit,
                                                             t.isreal, t.nan_to_num)] + [
        t.isnan(i), t.signbit(i)],
    "inplace": lambda t, x, p, i: [x.clone().add_(p, alpha=2), x.clone().mul_(p).sqrt_(),
                                   x.clone().clamp_(-0.1, 0.2), x.clone().lerp_(p, 0.5),
                                   x.clone().addcdiv_(x, p, value=3), i.clone().remainder_(4),
                                   i.clone().__ilshift__(2), x.clone()[1].exp_()],
    "grads": lambda t, x, p, i: t.autograd.grad(
        (t.erf(x) * t.sigmoid(p) + t.clamp(x, -0.5, 0.5) * t.maximum(x, p - 1)
         + t.lerp(x, p, 0.3).atan2(p) + t.logit(p / 3, 0.1) + t.erfinv(x)).sum(), (x, p)),
}


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("name", sorted(CUDA_CASES))
def test_cuda_matches_cpu(name):
    fn = CUDA_CASES[name]

    def run(device):
        x = ember.tensor(X, device=device, requires_grad=name == "grads")
        p = ember.tensor(POS, device=device, requires_grad=name == "grads")
        i = ember.tensor(np.arange(-6, 6).reshape(3, 4), device=device)
        with np.errstate(all="ignore"):
            return fn(ember, x, p, i)
    cpu, gpu = run("cpu"), run("cuda")
    for k, (c, g) in enumerate(zip(cpu, gpu)):
        assert g.device.type == "cuda", f"output {k} left the GPU"
        assert g.dtype is c.dtype, f"output {k}: {g.dtype} vs {c.dtype}"
        np.testing.assert_allclose(g.cpu().detach().numpy(), c.detach().numpy(), rtol=1e-5,
                                   atol=1e-6, err_msg=f"{name} output {k}")


@pytest.mark.parametrize("name", sorted(_TOP_LEVEL_INPLACE))
def test_top_level_in_place_functions_like_torch(name):
    """torch.exp_(x) and friends write into x and return it, as the methods do."""
    for args in ((), (0.5,), ("other",), (0.1, 0.9)):
        results = []
        for lib in (torch, ember):
            x = lib.tensor([0.25, 0.5, 0.75])
            call = [lib.tensor([2.0, 3.0, 4.0]) if a == "other" else a for a in args]
            try:
                out = getattr(lib, name)(x, *call)
            except (TypeError, RuntimeError):
                results.append(None)
                continue
            results.append((out is x, x.tolist()))
        if results[0] is not None:
            assert results[1] is not None, f"{name}{args}: torch takes it, ember refuses"
            assert results[0][0] == results[1][0]
            np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-6)
            return
    pytest.fail(f"no argument pattern works for torch.{name}")


@pytest.mark.parametrize("call", [
    lambda t, x, b: t.clamp(x, b, 1.0),
    lambda t, x, b: t.clamp(x, 0.0, b),
    lambda t, x, b: t.clip(x, min=0.0, max=b),
    lambda t, x, b: x.clamp(b, 1),
    lambda t, x, b: x.clip(b, 1.0),
    lambda t, x, b: x.clone().clamp_(b, 1.0),
    lambda t, x, b: x.clone().clip_(0.0, b),
    lambda t, x, b: t.clamp(x, b, 1.0, out=t.empty(3)),
])
def test_clamp_refuses_a_tensor_bound_with_a_number_bound_as_torch(call):
    for lib in (torch, ember):
        with pytest.raises(TypeError, match=r"received an invalid combination of arguments"):
            call(lib, lib.randn(3), lib.zeros(3))


def test_clamp_takes_a_0d_tensor_bound_with_a_number_bound_as_torch():
    values = [-2.0, 0.5, 3.0]
    ours = ember.clamp(ember.tensor(values), ember.tensor(0.0), 1.0)
    theirs = torch.clamp(torch.tensor(values), torch.tensor(0.0), 1.0)
    assert ours.tolist() == theirs.tolist()


@pytest.mark.parametrize("weight", (0.1, 0.0909, 0.7, -0.6, "tensor"))
def test_float32_lerp_rounds_as_torch_bit_for_bit(weight):
    """torch's float32 lerp rounds each result once (a fused multiply-add); EMA updates that
    repeat it thousands of times must agree exactly."""
    rng = np.random.default_rng(0)
    x, end = (rng.standard_normal((50, 200)).astype(np.float32) for _ in range(2))
    w = rng.uniform(-1, 2, (50, 200)).astype(np.float32) if weight == "tensor" else weight
    want = torch.lerp(torch.tensor(x), torch.tensor(end), torch.tensor(w) if weight == "tensor"
                      else w).numpy()
    ours = ember.tensor(w) if weight == "tensor" else w
    np.testing.assert_array_equal(ember.lerp(ember.tensor(x), ember.tensor(end), ours).numpy(),
                                  want)
    inplace = ember.tensor(x)
    inplace.lerp_(ember.tensor(end), ours)
    np.testing.assert_array_equal(inplace.numpy(), want)
