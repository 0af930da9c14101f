"""ember._foreach_*: values, dtypes and gradients against torch on lists of tensors of different
shapes and dtypes, the in-place forms (returning their list, bumping versions, autograd's leaf
rule), torch's errors, and a timm-style EMA update loop."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import ember

RNG = np.random.default_rng(0)
SHAPES = ((3,), (2, 4), ())
FLOAT_DTYPES = ("float32", "float64", "float32")


def _arrays(low=0.5, high=2.0, dtypes=FLOAT_DTYPES):
    return [RNG.uniform(low, high, s).astype(d) for s, d in zip(SHAPES, dtypes)]


def _both(arrays, requires_grad=False):
    """The same tensors in ember and in torch."""
    return ([ember.tensor(a, requires_grad=requires_grad) for a in arrays],
            [torch.tensor(a, requires_grad=requires_grad) for a in arrays])


def _check(got, want):
    assert type(got) is type(want) and len(got) == len(want)
    for g, w in zip(got, want):
        assert str(g.dtype) == str(w.dtype)
        np.testing.assert_allclose(g.detach().numpy(), w.detach().numpy(), rtol=1e-6, atol=1e-7)


UNARY = ("neg", "abs", "sqrt", "exp", "log", "reciprocal", "sigmoid", "sign")


@pytest.mark.parametrize("name", UNARY)
def test_unary_values_gradients_and_in_place(name):
    arrays = _arrays()
    ours, theirs = _both(arrays, requires_grad=True)
    got = getattr(ember, f"_foreach_{name}")(ours)
    want = getattr(torch, f"_foreach_{name}")(theirs)
    _check(got, want)
    sum(g.sum() for g in got).backward()
    sum(w.sum() for w in want).backward()
    _check([t.grad for t in ours], [t.grad for t in theirs])
    ours, theirs = _both(arrays)
    assert getattr(ember, f"_foreach_{name}_")(ours) is ours
    getattr(torch, f"_foreach_{name}_")(theirs)
    _check(ours, theirs)


def test_unary_promotes_integer_lists_as_the_per_tensor_op():
    ints = [np.arange(1, 4), np.arange(6).reshape(2, 3)]
    ours, theirs = _both(ints)
    _check(ember._foreach_sqrt(ours), torch._foreach_sqrt(theirs))
    _check(ember._foreach_neg(ours), torch._foreach_neg(theirs))
    _check(ember._foreach_sign(ours), torch._foreach_sign(theirs))


def _operands(kind, t, arrays):
    """The second argument in both libraries: a number, a list of numbers, a tensor list or a
    0-d tensor."""
    if kind == "scalar":
        return 1.5, 1.5
    if kind == "int":
        return 2, 2
    if kind == "scalars":
        return [0.5, 2, 3.0], [0.5, 2, 3.0]
    if kind == "tensor0d":
        return ember.tensor(1.25), torch.tensor(1.25)
    other = [RNG.uniform(0.5, 2.0, a.shape).astype(a.dtype) for a in arrays]
    return tuple(_both(other, requires_grad=t))


ARITH = ("add", "sub", "mul", "div")
BINARY = ("maximum", "minimum", "clamp_min", "clamp_max", "pow")
KINDS = ("scalar", "int", "scalars", "tensors", "tensor0d")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", ARITH + BINARY)
def test_binary_ops_with_each_kind_of_operand(name, kind):
    arrays = _arrays()
    ours, theirs = _both(arrays, requires_grad=True)
    mine, other = _operands(kind, True, arrays)
    got = getattr(ember, f"_foreach_{name}")(ours, mine)
    want = getattr(torch, f"_foreach_{name}")(theirs, other)
    _check(got, want)
    sum(g.sum() for g in got).backward()
    sum(w.sum() for w in want).backward()
    _check([t.grad for t in ours], [t.grad for t in theirs])
    if kind == "tensors":
        _check([t.grad for t in mine], [t.grad for t in other])
    ours, theirs = _both(arrays)
    assert getattr(ember, f"_foreach_{name}_")(ours, mine) is ours
    getattr(torch, f"_foreach_{name}_")(theirs, other)
    _check(ours, theirs)


@pytest.mark.parametrize("name, kind", (("add", "tensors"), ("sub", "tensors"),
                                        ("add", "tensor0d")))
def test_alpha(name, kind):
    arrays = _arrays()
    ours, theirs = _both(arrays)
    mine, other = _operands(kind, False, arrays)
    _check(getattr(ember, f"_foreach_{name}")(ours, mine, alpha=-0.5),
           getattr(torch, f"_foreach_{name}")(theirs, other, alpha=-0.5))
    getattr(ember, f"_foreach_{name}_")(ours, mine, alpha=3)
    getattr(torch, f"_foreach_{name}_")(theirs, other, alpha=3)
    _check(ours, theirs)


def test_mixed_dtype_lists_promote_per_tensor():
    arrays = [np.arange(3), np.ones(2, np.float32), np.ones(2, np.float64)]
    ours, theirs = _both(arrays)
    _check(ember._foreach_add(ours, 1.5), torch._foreach_add(theirs, 1.5))
    _check(ember._foreach_mul(ours, ember.tensor(2.5)), torch._foreach_mul(theirs,
                                                                           torch.tensor(2.5)))
    _check(ember._foreach_div(ours, 2), torch._foreach_div(theirs, 2))


def test_pow_with_a_scalar_base():
    ours, theirs = _both(_arrays(), requires_grad=True)
    got, want = ember._foreach_pow(2.0, ours), torch._foreach_pow(2.0, theirs)
    _check(got, want)
    sum(g.sum() for g in got).backward()
    sum(w.sum() for w in want).backward()
    _check([t.grad for t in ours], [t.grad for t in theirs])
    ints = _both([np.arange(3)])
    _check(ember._foreach_pow(2, ints[0]), torch._foreach_pow(2, ints[1]))


@pytest.mark.parametrize("kind", ("scalar", "scalars", "tensors", "tensor0d"))
def test_lerp(kind):
    arrays, ends = _arrays(), _arrays()
    ours, theirs = _both(arrays, requires_grad=True)
    our_ends, their_ends = _both(ends, requires_grad=True)
    if kind == "tensors":
        weight = _both(_arrays(0, 1))
    else:
        weight = _operands(kind, False, arrays)
    got = ember._foreach_lerp(ours, our_ends, weight[0])
    want = torch._foreach_lerp(theirs, their_ends, weight[1])
    _check(got, want)
    sum(g.sum() for g in got).backward()
    sum(w.sum() for w in want).backward()
    _check([t.grad for t in ours + our_ends], [t.grad for t in theirs + their_ends])
    if kind == "tensors":
        _check(ember._foreach_lerp(ours, our_ends, weights=weight[0]),
               torch._foreach_lerp(theirs, their_ends, weights=weight[1]))
    if kind == "scalars":  # torch's in-place form takes no list of numbers
        return
    ours, theirs = _both(arrays)
    assert ember._foreach_lerp_(ours, our_ends, weight[0]) is ours
    torch._foreach_lerp_(theirs, their_ends, weight[1])
    _check(ours, theirs)


@pytest.mark.parametrize("value", (1, -0.5, [0.5, 2, -1.0], "packed"))
@pytest.mark.parametrize("name", ("addcmul", "addcdiv"))
def test_addcmul_addcdiv(name, value):
    arrays, firsts, seconds = _arrays(), _arrays(), _arrays()
    ours, theirs = _both(arrays, requires_grad=True)
    our1, their1 = _both(firsts, requires_grad=True)
    our2, their2 = _both(seconds, requires_grad=True)
    if value == "packed":
        mine, other = ember.tensor([0.5, 2.0, -1.0]), torch.tensor([0.5, 2.0, -1.0])
    else:
        mine = other = value
    got = getattr(ember, f"_foreach_{name}")(ours, our1, our2, mine)
    want = getattr(torch, f"_foreach_{name}")(theirs, their1, their2, other)
    _check(got, want)
    # torch's foreach form has no derivative for lists of values: its per-tensor op is the oracle
    values = other.tolist() if value == "packed" else value
    values = values if isinstance(values, list) else [values] * len(arrays)
    per_tensor = [getattr(torch, name)(t, a, b, value=v)
                  for t, a, b, v in zip(theirs, their1, their2, values)]
    _check(list(got), per_tensor)
    sum(g.sum() for g in got).backward()
    sum(w.sum() for w in per_tensor).backward()
    _check([t.grad for t in ours + our1 + our2], [t.grad for t in theirs + their1 + their2])
    ours, theirs = _both(arrays)
    assert getattr(ember, f"_foreach_{name}_")(ours, our1, our2, mine) is ours
    getattr(torch, f"_foreach_{name}_")(theirs, their1, their2, other)
    _check(ours, theirs)
    if isinstance(value, (list, str)):
        _check(getattr(ember, f"_foreach_{name}")(ours, our1, our2, scalars=mine),
               getattr(torch, f"_foreach_{name}")(theirs, their1, their2, scalars=other))


@pytest.mark.parametrize("ord", (2, 1, 3.5, 0, math.inf, -math.inf))
def test_norm(ord):
    arrays = _arrays(-2, 2)
    ours, theirs = _both(arrays, requires_grad=True)
    got, want = ember._foreach_norm(ours, ord), torch._foreach_norm(theirs, ord)
    _check(got, want)
    if ord != 0:
        sum(got).backward()
        sum(want).backward()
        _check([t.grad for t in ours], [t.grad for t in theirs])
    _check(ember._foreach_norm(ours, ord=ord, dtype=ember.float64),
           torch._foreach_norm(theirs, ord=ord, dtype=torch.float64))


def test_zero_and_copy():
    arrays, sources = _arrays(), _arrays()
    ours, theirs = _both(arrays)
    our_src, their_src = _both(sources)
    assert ember._foreach_copy_(ours, our_src) is ours
    torch._foreach_copy_(theirs, their_src)
    _check(ours, theirs)
    assert ember._foreach_zero_(ours) is ours
    torch._foreach_zero_(theirs)
    _check(ours, theirs)


def test_gradcheck_in_float64():
    xs = [ember.tensor(RNG.uniform(0.5, 2, s), requires_grad=True) for s in ((3,), (2, 2))]
    ys = [ember.tensor(RNG.uniform(0.5, 2, s), requires_grad=True) for s in ((3,), (2, 2))]

    def fn(a, b, c, d):
        mixed = ember._foreach_addcdiv(ember._foreach_lerp([a, b], [c, d], 0.3), [a, b],
                                       [c, d], [0.5, 2.0])
        return tuple(ember._foreach_norm(ember._foreach_pow(mixed, [c, d])))
    assert ember.autograd.gradcheck(fn, tuple(xs + ys))


def test_in_place_forms_bump_versions_and_refuse_leaves_that_require_grad():
    xs = [ember.ones(2), ember.ones(3)]
    before = [x._version for x in xs]
    ember._foreach_mul_(xs, 2)
    ember._foreach_maximum_(xs, [3.0, 1.0])
    assert [x._version - b for x, b in zip(xs, before)] == [2, 2]
    leaf = [ember.ones(2, requires_grad=True)]
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        ember._foreach_add_(leaf, 1)
    with ember.no_grad():
        ember._foreach_add_(leaf, 1)
    np.testing.assert_array_equal(leaf[0].detach().numpy(), [2.0, 2.0])


def test_in_place_on_a_non_leaf_records_the_gradient():
    ours, theirs = _both(_arrays(), requires_grad=True)
    our_mid = ember._foreach_mul(ours, 2.0)
    their_mid = torch._foreach_mul(theirs, 2.0)
    ember._foreach_exp_(our_mid)
    torch._foreach_exp_(their_mid)
    sum(m.sum() for m in our_mid).backward()
    sum(m.sum() for m in their_mid).backward()
    _check([t.grad for t in ours], [t.grad for t in theirs])


def _lists(lib):
    return [lib.ones(2), lib.ones(3)], [lib.ones(2), lib.ones(3), lib.ones(1)]


ERRORS = (
    lambda t, a, b: t._foreach_add(a, b),
    lambda t, a, b: t._foreach_lerp_(a, b, 0.5),
    lambda t, a, b: t._foreach_addcmul(a, a, b),
    lambda t, a, b: t._foreach_copy_(a, b),
    lambda t, a, b: t._foreach_maximum(a, b),
    lambda t, a, b: t._foreach_add([], []),
    lambda t, a, b: t._foreach_exp([]),
    lambda t, a, b: t._foreach_norm([]),
    lambda t, a, b: t._foreach_mul(a, [1, 2, 3]),
    lambda t, a, b: t._foreach_add(a, t.tensor([2.0])),
    lambda t, a, b: t._foreach_addcmul(a, a, a, t.tensor(2.0)),
    lambda t, a, b: t._foreach_addcdiv(a, a, a, t.tensor([1.0, 2.0, 3.0])),
    lambda t, a, b: t._foreach_add([t.ones(2)], [t.ones(3)]),
    lambda t, a, b: t._foreach_add_([t.ones(2, dtype=t.int64)], 1.5),
    lambda t, a, b: t._foreach_sqrt_([t.ones(2, dtype=t.int64)]),
    lambda t, a, b: t._foreach_sub([t.ones(2, dtype=t.bool)], 2),
    lambda t, a, b: t._foreach_norm([t.ones(2, dtype=t.int64)]),
    lambda t, a, b: t._foreach_norm([t.ones(2, dtype=t.float64)], dtype=t.float32),
    lambda t, a, b: t._foreach_copy_([t.ones(2)], [t.ones(3)]),
)
TYPE_ERRORS = (
    lambda t, a, b: t._foreach_abs(t.ones(2)),
    lambda t, a, b: t._foreach_add(t.ones(2), 1),
    lambda t, a, b: t._foreach_add([1, 2], 1),
    lambda t, a, b: t._foreach_exp(a, 1),
    lambda t, a, b: t._foreach_add(a, 2, alpha=2),
    lambda t, a, b: t._foreach_add(a, [1, 2], alpha=2),
    lambda t, a, b: t._foreach_mul(a, a, alpha=2),
    lambda t, a, b: t._foreach_sub(a, t.tensor(2.0), alpha=2),
    lambda t, a, b: t._foreach_add(a, None),
    lambda t, a, b: t._foreach_add(a, "x"),
    lambda t, a, b: t._foreach_add(a, [t.ones(2), 2.5]),
    lambda t, a, b: t._foreach_maximum(a, t.tensor([0.5])),
    lambda t, a, b: t._foreach_pow(a, t.tensor([0.5])),
    lambda t, a, b: t._foreach_norm(a, ord="fro"),
)


def _message(fn, lib):
    with pytest.raises(Exception) as info:
        fn(lib, *_lists(lib))
    return info


@pytest.mark.parametrize("fn", ERRORS)
def test_runtime_errors_match_torch(fn):
    want, got = _message(fn, torch), _message(fn, ember)
    assert want.type is RuntimeError and got.type is RuntimeError
    assert str(got.value).split(".")[0] in str(want.value) or \
        str(want.value).split(".")[0] in str(got.value)


@pytest.mark.parametrize("fn", TYPE_ERRORS)
def test_type_errors_match_torch(fn):
    assert _message(fn, torch).type is TypeError
    assert _message(fn, ember).type is TypeError


def test_list_length_message():
    with pytest.raises(RuntimeError, match="^Tensor lists must have the same number of tensors, "
                                           "got 2 and 3$"):
        ember._foreach_add(*_lists(ember))


def _ema_run(lib, start, lerp: bool):
    """timm's ModelEmaV3 update over 20 optimizer steps: lerp_ the float weights toward the
    model's (or mul_ by decay then add_ with alpha), and copy_ the integer buffers."""
    model = [lib.tensor(a) for a in start]
    ema = [p.clone() for p in model]
    steps = [lib.tensor(0)]
    for step in range(20):
        for p, d in zip(model, GRADS[step]):
            p.sub_(lib.tensor(d, dtype=lib.float32))
        decay = 1 - (1 + step) / (10 + step)
        if lerp:
            lib._foreach_lerp_(ema, model, weight=1.0 - decay)
        else:
            lib._foreach_mul_(ema, decay)
            lib._foreach_add_(ema, model, alpha=1.0 - decay)
        lib._foreach_copy_(steps, [lib.tensor(step + 1)])
    return [e.numpy() for e in ema] + [s.numpy() for s in steps]


def test_timm_style_ema_matches_torch():
    start = [RNG.standard_normal(s).astype(np.float32) for s in ((4, 3), (3,))]
    for got, want in zip(_ema_run(ember, start, True), _ema_run(torch, start, True)):
        np.testing.assert_array_equal(got, want)
    # torch fuses add's `x + alpha * y` (one rounding), ember rounds twice: last-ulp agreement
    for got, want in zip(_ema_run(ember, start, False), _ema_run(torch, start, False)):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


GRADS = [[RNG.standard_normal((4, 3)), RNG.standard_normal(3)] for _ in range(20)]
