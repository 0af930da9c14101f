"""Indexing ops beyond the generated suite: errors, repeated indices, gradients with duplicates
and ties, in-place writes through views, and the scatter kernels themselves."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import ember
from ember._backend import kernels
from ember.autograd.gradcheck import gradcheck, gradgradcheck

from .harness import assert_same


def both(fn):
    """Run fn with torch and with ember (fn(t) builds its own inputs); return both results."""
    return fn(ember), fn(torch)


def assert_same_error(fn, match=None):
    """torch and ember both reject fn, with the same exception type."""
    with pytest.raises(Exception) as theirs:
        fn(torch)
    with pytest.raises(type(theirs.value), match=match):
        fn(ember)


def grads(lib, fn, *arrays, seed=1):
    """Gradients of sum(fn(*inputs) * cotangent) w.r.t. float64 inputs built from `arrays`."""
    inputs = [lib.tensor(a, dtype=lib.float64, requires_grad=True) for a in arrays]
    out = fn(lib, *inputs)
    cot = lib.tensor(np.random.default_rng(seed).standard_normal(tuple(out.shape)),
                     dtype=lib.float64)
    return lib.autograd.grad((out * cot).sum(), inputs, allow_unused=True)


def assert_grads_match(fn, *arrays):
    ours, theirs = grads(ember, fn, *arrays), grads(torch, fn, *arrays)
    for g, e in zip(ours, theirs):
        assert_same(g, e, 1e-10, 1e-10, "grad")


X = np.arange(12, dtype=np.float32).reshape(3, 4)
I = lambda t, v: t.tensor(v)  # noqa: E731
I32 = lambda t, v: t.tensor(v, dtype=t.int32)  # noqa: E731


# ---- errors ----------------------------------------------------------------------------------
ERRORS = {
    "gather_int16": lambda t: t.tensor(X).gather(1, t.tensor([[0]], dtype=t.int16)),
    "gather_float_index": lambda t: t.tensor(X).gather(1, t.tensor([[0.0]])),
    "gather_rank": lambda t: t.tensor(X).gather(1, I(t, [0])),
    "gather_too_big": lambda t: t.tensor(X).gather(1, t.zeros(4, 1, dtype=t.int64)),
    "gather_oob": lambda t: t.tensor(X).gather(1, I(t, [[4]])),
    "gather_negative": lambda t: t.tensor(X).gather(1, I(t, [[-1]])),
    "gather_dim": lambda t: t.tensor(X).gather(2, I(t, [[0]])),
    "scatter_dtype": lambda t: t.tensor(X).scatter(1, I(t, [[0]]), t.ones(1, 1, dtype=t.float64)),
    "scatter_oob": lambda t: t.tensor(X).scatter(1, I(t, [[4]]), 1.0),
    "scatter_src_small": lambda t: t.tensor(X).scatter(1, t.zeros(2, 3, dtype=t.int64),
                                                       t.ones(2, 2)),
    "scatter_src_rank": lambda t: t.tensor(X).scatter(1, I(t, [[0]]), t.ones(4)),
    "scatter_rank": lambda t: t.tensor(X).scatter(1, I(t, [0]), 1.0),
    "scatter_reduce_name": lambda t: t.tensor(X).scatter(1, I(t, [[0]]), 1.0, reduce="sum"),
    "scatter_value_overflow": lambda t: t.zeros(3, dtype=t.uint8).scatter(0, I(t, [0]), 300),
    "scatter_add_int16": lambda t: t.tensor(X).scatter_add(1, t.tensor([[0]], dtype=t.int16),
                                                           t.tensor(X)),
    "scatter_add_dtype": lambda t: t.tensor(X).scatter_add(1, I(t, [[0]]), t.tensor(X).double()),
    "scatter_reduce_bad": lambda t: t.tensor(X).scatter_reduce(1, I(t, [[0]]), t.tensor(X),
                                                               "median"),
    "scatter_reduce_oob": lambda t: t.tensor(X).scatter_reduce(1, I(t, [[9]]), t.tensor(X),
                                                               "sum"),
    "index_select_2d": lambda t: t.tensor(X).index_select(1, I(t, [[0]])),
    "index_select_int16": lambda t: t.tensor(X).index_select(1, t.tensor([0], dtype=t.int16)),
    "index_select_oob": lambda t: t.tensor(X).index_select(1, I(t, [4])),
    "index_select_negative": lambda t: t.tensor(X).index_select(1, I(t, [-1])),
    "index_select_scalar": lambda t: t.tensor(3.0).index_select(0, I(t, [0, 0])),
    "index_add_dtype": lambda t: t.tensor(X).index_add(1, I(t, [0]), t.ones(3, 1).double()),
    "index_add_count": lambda t: t.tensor(X).index_add(1, I(t, [0, 0]), t.ones(3, 3)),
    "index_add_shape": lambda t: t.tensor(X).index_add(1, I(t, [0, 0]), t.ones(2, 2)),
    "index_add_oob": lambda t: t.tensor(X).index_add(1, I(t, [4]), t.ones(3, 1)),
    "index_add_2d": lambda t: t.tensor(X).index_add(1, I(t, [[0]]), t.ones(3, 1)),
    "index_reduce_sum": lambda t: t.tensor(X).index_reduce(1, I(t, [0]), t.ones(3, 1), "sum"),
    "index_reduce_shape": lambda t: t.tensor(X).index_reduce(1, I(t, [0, 0]), t.ones(2, 2),
                                                             "amax"),
    "index_reduce_oob": lambda t: t.tensor(X).index_reduce(1, I(t, [4]), t.ones(3, 1), "prod"),
    "index_copy_int32": lambda t: t.tensor(X).index_copy(1, I32(t, [0]),
                                                         t.ones(3, 1)),
    "index_copy_count": lambda t: t.tensor(X).index_copy(1, I(t, [0, 1]),
                                                         t.ones(3, 3)),
    "index_copy_rank": lambda t: t.tensor(X).index_copy(1, I(t, [0, 1]),
                                                        t.ones(2)),
    "index_copy_negative": lambda t: t.tensor(X).index_copy(1, I(t, [-1]),
                                                            t.ones(3, 1)),
    "index_fill_int32": lambda t: t.tensor(X).index_fill(1, I32(t, [0]), 1.0),
    "index_fill_oob": lambda t: t.tensor(X).index_fill(1, I(t, [-5]), 1.0),
    "index_fill_vector_value": lambda t: t.tensor(X).index_fill(1, I(t, [0]), t.ones(1)),
    "masked_fill_uint8_mask": lambda t: t.tensor(X).masked_fill(t.ones(4, dtype=t.uint8), 0.0),
    "masked_fill_float_mask": lambda t: t.tensor(X).masked_fill(t.tensor(X), 0.0),
    "masked_fill_vector_value": lambda t: t.tensor(X).masked_fill(t.tensor(X) > 2, t.ones(1)),
    "masked_fill_overflow": lambda t: t.zeros(2, dtype=t.int8).masked_fill(
        t.tensor([True, False]), 127.5),
    "masked_fill_shape": lambda t: t.tensor(X).masked_fill(t.tensor([True, False]), 0.0),
    "masked_fill__broadcast": lambda t: t.zeros(4).masked_fill_(t.ones(2, 1, dtype=t.bool), 1.0),
    "masked_select_uint8": lambda t: t.tensor(X).masked_select(t.ones(4, dtype=t.uint8)),
    "masked_scatter_short": lambda t: t.tensor(X).masked_scatter(t.tensor(X) > 5,
                                                                 t.zeros(2)),
    "masked_scatter_dtype": lambda t: t.tensor(X).masked_scatter(t.tensor(X) > 5,
                                                                 t.zeros(20).long()),
    "masked_scatter_uint8": lambda t: t.tensor(X).masked_scatter(
        (t.tensor(X) > 5).to(t.uint8), t.zeros(20)),
    "take_int32": lambda t: t.tensor(X).take(I32(t, [0])),
    "take_oob": lambda t: t.tensor(X).take(I(t, [12])),
    "take_oob_negative": lambda t: t.tensor(X).take(I(t, [-13])),
    "take_empty": lambda t: t.tensor([]).take(I(t, [0])),
    "take_along_dim_int32": lambda t: t.take_along_dim(t.tensor(X), I32(t, [[0]]), dim=1),
    "take_along_dim_rank": lambda t: t.take_along_dim(t.tensor(X), I(t, [0]), dim=1),
    "take_along_dim_broadcast": lambda t: t.take_along_dim(t.tensor(X), I(t, [[0], [1]]), 1),
    "take_along_dim_flat_negative": lambda t: t.take_along_dim(t.tensor(X), I(t, [-1])),
    "put_int32": lambda t: t.tensor(X).put(I32(t, [0]), t.ones(1)),
    "put_numel": lambda t: t.tensor(X).put(I(t, [0, 1]), t.ones(3)),
    "put_oob": lambda t: t.tensor(X).put(I(t, [12]), t.ones(1)),
    "put_dtype": lambda t: t.tensor(X).put(I(t, [0]), t.ones(1, dtype=t.int64)),
    "put__leaf": lambda t: t.zeros(3, requires_grad=True).put_(I(t, [0]), t.ones(1)),
    "masked_fill__leaf": lambda t: t.zeros(3, requires_grad=True).masked_fill_(
        t.tensor([True, False, True]), 1.0),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_match_torch(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_same_error(ERRORS[name])


@pytest.mark.parametrize("op,fn", [
    ("gather", lambda t: t.tensor(X).gather(1, I(t, [[4]]))),
    ("index_select", lambda t: t.tensor(X).index_select(0, I(t, [3]))),
    ("scatter_add", lambda t: t.tensor(X).scatter_add(0, I(t, [[5]]), t.tensor(X))),
])
def test_error_messages_name_the_op(op, fn):
    with pytest.raises(RuntimeError, match=rf"{op}\(\).*out of bounds for dimension"):
        fn(ember)


def test_error_messages():
    x = ember.tensor(X)
    with pytest.raises(RuntimeError, match="Expected dtype int32 or int64 for index, but got "
                                           "int16"):
        x.gather(1, ember.tensor([[0]], dtype=ember.int16))
    with pytest.raises(RuntimeError, match="same number of dimensions as input tensor"):
        x.gather(1, ember.tensor([0]))
    with pytest.raises(RuntimeError, match="no larger than self"):
        x.gather(1, ember.zeros(4, 1, dtype=ember.int64))
    with pytest.raises(RuntimeError, match="float32 and float64"):
        x.scatter(0, ember.tensor([[0]]), x.double())
    with pytest.raises(IndexError, match="out of range: tried to access index 12 on a tensor "
                                         "of 12 elements"):
        x.take(ember.tensor([12]))


# ---- repeated indices accumulate -----------------------------------------------------------
ACCUMULATE = {
    "scatter_add": lambda t: t.zeros(2, 3).scatter_add(1, I(t, [[0, 0, 0], [2, 2, 1]]),
                                                       t.ones(2, 3)),
    "scatter_add_int": lambda t: t.zeros(4, dtype=t.int64).scatter_add(
        0, I(t, [3, 3, 3, 0]), t.tensor([1, 2, 3, 4])),
    "scatter_add_": lambda t: t.ones(5).scatter_add_(0, I(t, [1, 1, 4]), t.tensor([2., 3., 4.])),
    "index_add": lambda t: t.zeros(3, 2).index_add(0, I(t, [2, 2, 0]), t.ones(3, 2), alpha=3),
    "index_add_": lambda t: t.zeros(2, 3).index_add_(1, I32(t, [1, 1]), t.ones(2, 2)),
    "index_reduce_mean": lambda t: t.ones(3, 2).index_reduce(0, I(t, [0, 0, 2]),
                                                             t.arange(6.).view(3, 2), "mean"),
    "index_reduce_amax_exclude": lambda t: t.zeros(2, 3).index_reduce(
        1, I(t, [1, 1]), t.tensor([[1., -4.], [-3., -2.]]), "amax", include_self=False),
    "index_reduce__prod": lambda t: t.full((3,), 2.0).index_reduce_(0, I32(t, [2, 2]),
                                                                    t.tensor([3., 4.]), "prod"),
    "put_accumulate": lambda t: t.zeros(2, 2).put(I(t, [0, 0, -1, 3]),
                                                  t.tensor([1., 2., 3., 4.]), accumulate=True),
    "put__accumulate": lambda t: t.zeros(4).put_(I(t, [1, 1]), t.tensor([5., 6.]),
                                                 accumulate=True),
    "scatter_reduce_sum": lambda t: t.ones(3).scatter_reduce(0, I(t, [0, 0, 0]),
                                                             t.tensor([1., 2., 3.]), "sum"),
    "scatter_reduce_prod": lambda t: t.full((3,), 2.0).scatter_reduce(
        0, I(t, [0, 0, 2]), t.tensor([3., 4., 5.]), "prod"),
    "scatter_reduce_mean_int": lambda t: t.tensor([1, 2, 3]).scatter_reduce(
        0, I(t, [0, 0]), t.tensor([-2, -5]), "mean", include_self=False),
    "scatter_reduce_amin": lambda t: t.tensor([1., 2.]).scatter_reduce(
        0, I(t, [1, 1, 1]), t.tensor([5., -1., 3.]), "amin", include_self=False),
    "scatter_multiply": lambda t: t.ones(3).scatter(0, I(t, [0, 0]), 3.0, reduce="multiply"),
    "index_put_accumulate": lambda t: t.zeros(3).index_put((I(t, [0, 0, 2]),),
                                                           t.tensor([1., 1., 1.]),
                                                           accumulate=True),
}


@pytest.mark.parametrize("name", sorted(ACCUMULATE))
def test_repeated_indices_accumulate(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, theirs = both(ACCUMULATE[name])
    assert_same(ours, theirs, 0, 0, name)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
@pytest.mark.parametrize("value", [float("-inf"), float("inf"), float("nan"), -65504.0])
def test_fill_values_at_the_edge_of_the_range(dtype, value):
    ours, theirs = both(lambda t: (
        t.zeros(2, 2, dtype=getattr(t, dtype)).masked_fill(t.tensor([True, False]), value),
        t.zeros(3, dtype=getattr(t, dtype)).index_fill(0, t.tensor([1]), value),
        t.zeros(3, dtype=getattr(t, dtype)).scatter(0, t.tensor([2]), value)))
    assert_same(ours, theirs, 0, 0, f"fill {value}")


def test_accumulated_values():
    x = ember.zeros(3).scatter_add(0, ember.tensor([0, 0, 2, 0]), ember.tensor([1., 2., 3., 4.]))
    assert x.tolist() == [7.0, 0.0, 3.0]
    y = ember.zeros(2, 2).put(ember.tensor([3, 3]), ember.tensor([1., 5.]), accumulate=True)
    assert y.tolist() == [[0.0, 0.0], [0.0, 6.0]]
    z = ember.zeros(3).index_add(0, ember.tensor([1, 1, 1]), ember.ones(3))
    assert z.tolist() == [0.0, 3.0, 0.0]


# ---- gradients with duplicate indices and ties ----------------------------------------------
R = np.random.default_rng(0)
A34 = R.uniform(-2, 2, (3, 4))
A23 = R.uniform(-2, 2, (2, 3))
GRADS = {
    "gather": (lambda t, x: x.gather(1, I(t, [[0, 0, 0], [3, 1, 3], [2, 2, 2]])), A34),
    "index_select": (lambda t, x: x.index_select(0, I(t, [2, 2, 0, 2])), A34),
    "take": (lambda t, x: x.take(I(t, [[0, 0], [-1, 11]])), A34),
    "take_along_dim": (lambda t, x: t.take_along_dim(x, I(t, [[1, 1, -3]]), 1), A34),
    "scatter_add": (lambda t, x, s: x.scatter_add(1, I(t, [[0, 0, 0], [1, 1, 3]]), s), A34, A23),
    "index_add": (lambda t, x, s: x.index_add(1, I(t, [3, 3, 3]), s * 1.5, alpha=-2),
                  A34, R.uniform(-2, 2, (3, 3))),
    "put_accumulate": (lambda t, x, s: x.put(I(t, [0, 0, 5]), s, accumulate=True),
                       A34, R.uniform(-2, 2, (3,))),
    "index_copy": (lambda t, x, s: x.index_copy(0, I(t, [2, 0]), s), A34,
                   R.uniform(-2, 2, (2, 4))),
    "index_reduce_amin": (lambda t, x, s: x.index_reduce(1, I(t, [3, 0, 3]), s, "amin"), A34,
                          R.uniform(-2, 2, (3, 3))),
    # (torch's backward rejects the negative indices its forward takes, so none here)
    "index_fill_tensor_value": (lambda t, x, v: x.index_fill(1, I(t, [1, 1, 3]), v),
                                A34, np.array(0.5)),
    "masked_fill_tensor_value": (lambda t, x, v: x.masked_fill(x > 0, v), A34, np.array(0.5)),
    "masked_scatter": (lambda t, x, s: x.masked_scatter(x > 0, s), A34,
                       R.uniform(-2, 2, (4, 4))),
    "masked_select": (lambda t, x: x.masked_select(x > 0), A34),
    "scatter_reduce_amax_ties": (
        lambda t, x, s: x.scatter_reduce(0, I(t, [1, 1, 0]), s, "amax"),
        np.array([1.0, 5.0, 3.0]), np.array([5.0, 5.0, 2.0])),
    "scatter_reduce_amax_ties_exclude": (
        lambda t, x, s: x.scatter_reduce(0, I(t, [1, 1, 0]), s, "amax", include_self=False),
        np.array([1.0, 4.0, 3.0]), np.array([5.0, 5.0, 2.0])),
    "scatter_reduce_amin_ties": (
        lambda t, x, s: x.scatter_reduce(0, I(t, [2, 2, 2]), s, "amin"),
        np.array([1.0, 5.0, 2.0]), np.array([2.0, 4.0, 2.0])),
    "scatter_reduce_mean": (
        lambda t, x, s: x.scatter_reduce(0, I(t, [1, 1, 0]), s, "mean"),
        np.array([1.0, 5.0, 3.0]), np.array([5.0, 5.0, 2.0])),
    "scatter_reduce_mean_exclude": (
        lambda t, x, s: x.scatter_reduce(0, I(t, [1, 1, 0]), s, "mean", include_self=False),
        np.array([1.0, 5.0, 3.0]), np.array([5.0, 5.0, 2.0])),
    "scatter_reduce_sum_exclude": (
        lambda t, x, s: x.scatter_reduce(1, I(t, [[0, 0, 2], [3, 3, 3]]), s, "sum",
                                         include_self=False), A34, A23),
    "scatter_reduce_prod_zero_src": (
        lambda t, x, s: x.scatter_reduce(0, I(t, [0, 1, 1]), s, "prod"),
        np.array([0.0, 2.0, 3.0]), np.array([0.0, 5.0, 0.0])),
    "scatter_reduce_prod_zero_exclude": (
        lambda t, x, s: x.scatter_reduce(0, I(t, [0, 1, 1]), s, "prod", include_self=False),
        np.array([0.0, 2.0, 3.0]), np.array([0.0, 5.0, 0.0])),
    "scatter_reduce_prod_two_zeros": (
        lambda t, x, s: x.scatter_reduce(0, I(t, [1, 1, 2]), s, "prod"),
        np.array([0.0, 2.0, 3.0]), np.array([0.0, 0.0, 4.0])),
    "scatter_reduce_prod_self_zero": (
        lambda t, x, s: x.scatter_reduce(0, I(t, [0, 0, 2]), s, "prod"),
        np.array([0.0, 2.0, 3.0]), np.array([1.5, -2.0, 4.0])),
}


@pytest.mark.parametrize("name", sorted(GRADS))
def test_gradients_match_torch(name):
    fn, *arrays = GRADS[name]
    assert_grads_match(fn, *arrays)


@pytest.mark.parametrize("name", ["gather", "scatter_add", "index_add", "take",
                                  "scatter_reduce_mean", "masked_scatter"])
def test_double_backward_with_duplicates(name):
    fn, *arrays = GRADS[name]
    inputs = tuple(ember.tensor(a, dtype=ember.float64, requires_grad=True) for a in arrays)
    assert gradgradcheck(lambda *a: fn(ember, *a), inputs, eps=1e-6, atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("op", ["scatter", "scatter_add", "scatter_reduce"])
def test_src_larger_than_index_gets_zero_padded_gradient(op):
    """torch refuses this backward; the math is plain: src elements never read get zero."""
    index = ember.tensor([[0, 2], [1, 3]])
    x = ember.tensor(A34, requires_grad=True)
    src = ember.tensor(R.uniform(-2, 2, (3, 4)), requires_grad=True)
    extra = ("amax",) if op == "scatter_reduce" else ()
    out = getattr(x, op)(1, index, src, *extra)
    (g,) = ember.autograd.grad(out.sum(), [src])
    assert tuple(g.shape) == (3, 4)
    assert g[2].tolist() == [0.0] * 4 and g[:, 2:].abs().sum().item() == 0
    if op != "scatter_reduce":
        assert gradcheck(lambda a, b: getattr(a, op)(1, index, b), (x.double(), src.double()),
                         eps=1e-6, atol=1e-5, rtol=1e-3)


def test_amax_ties_with_excluded_self_share_among_members():
    """torch also counts an excluded self that equals the max, so its src gradients sum to 2/3
    of g here; ember splits g evenly among the members that attain the max."""
    x = ember.tensor([1.0, 5.0, 3.0], requires_grad=True)
    s = ember.tensor([5.0, 5.0, 2.0], requires_grad=True)
    out = x.scatter_reduce(0, ember.tensor([1, 1, 0]), s, "amax", include_self=False)
    gx, gs = ember.autograd.grad(out.sum(), [x, s])
    assert gx.tolist() == [0.0, 0.0, 1.0]
    assert gs.tolist() == [0.5, 0.5, 1.0]


@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_sum_and_mean_do_not_save_the_input(reduce):
    """Only amax/amin/prod need the input for backward, so for sum and mean it may change
    afterwards (torch saves it for every reduce and refuses)."""
    def run(t, modify):
        x = t.tensor(A34, requires_grad=True)
        y = x * 1
        out = y.scatter_reduce(1, I(t, [[0, 0, 1], [3, 3, 3]]), t.tensor(A23), reduce)
        if modify:
            y.add_(1)
        (out * t.tensor(A34)).sum().backward()
        return x.grad
    assert_same(run(ember, True), run(torch, False), 1e-6, 1e-6, reduce)


def test_scatter_with_reduce_has_no_derivative():
    x = ember.ones(3, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = (x * 1).scatter(0, ember.tensor([0]), ember.ones(1), reduce="add")
    with pytest.raises(RuntimeError, match="scatter"):
        y.sum().backward()


def test_scatter_with_reduce_warns_like_torch():
    with pytest.warns(UserWarning, match="deprecated"):
        ember.ones(3).scatter(0, ember.tensor([0]), ember.ones(1), reduce="add")


# ---- in-place ops through views ------------------------------------------------------------
def test_masked_fill__on_a_view_writes_the_base():
    base = ember.zeros(3, 4)
    view = base[:, 1:3]
    view.masked_fill_(ember.tensor([True, False]), 7.0)
    assert base.tolist() == [[0.0, 7.0, 0.0, 0.0]] * 3
    assert base._version == view._version == 1


def test_masked_fill__on_a_view_backward_matches_torch():
    def run(t):
        leaf = t.tensor(A34, requires_grad=True)
        base = leaf * 2
        view = base.t()[1:3]
        view.masked_fill_(view > 0, 0.0)
        (base * t.tensor(A34)).sum().backward()
        return base, leaf.grad
    ours, theirs = both(run)
    assert_same(ours, theirs, 1e-6, 1e-6, "masked_fill_ view")


@pytest.mark.parametrize("name", ["index_copy_", "index_fill_", "scatter_", "masked_scatter_",
                                  "put_", "index_add_"])
def test_inplace_on_transposed_view_matches_torch(name):
    calls = {
        "index_copy_": lambda t, v: v.index_copy_(0, I(t, [3, 0]), t.ones(2, 3) * 9),
        "index_fill_": lambda t, v: v.index_fill_(1, I(t, [2]), -1.0),
        "scatter_": lambda t, v: v.scatter_(1, I(t, [[2], [0], [1], [2]]), 5.0),
        "masked_scatter_": lambda t, v: v.masked_scatter_(v > 4, t.arange(12.0) + 100),
        "put_": lambda t, v: v.put_(I(t, [1, -1]), t.tensor([50.0, 60.0])),
        "index_add_": lambda t, v: v.index_add_(0, I(t, [1, 1]), t.ones(2, 3)),
    }

    def run(t):
        base = t.tensor(X)
        calls[name](t, base.t())
        return base
    ours, theirs = both(run)
    assert_same(ours, theirs, 0, 0, name)


def test_inplace_with_grad_matches_torch():
    def run(t):
        x = t.tensor(A34, requires_grad=True)
        s = t.tensor(A23, requires_grad=True)
        y = x * 1
        y.scatter_(1, I(t, [[0, 1, 3], [2, 0, 1]]), s)
        y.index_fill_(0, I(t, [2]), 0.0)
        (y * t.tensor(A34)).sum().backward()
        return y, x.grad, s.grad
    ours, theirs = both(run)
    assert_same(ours, theirs, 1e-6, 1e-6, "scatter_ + index_fill_")


# ---- nonzero and where(condition) --------------------------------------------------------
@pytest.mark.parametrize("values", [[[0, 1.5], [0, -2]], [], 0.0, 3.0, [[0, 0]]])
def test_nonzero_forms_match_torch(values):
    ours, theirs = both(lambda t: (t.tensor(values).nonzero(),
                                   t.tensor(values).nonzero(as_tuple=True),
                                   t.argwhere(t.tensor(values)),
                                   t.where(t.tensor(values) != 0)))
    assert_same(ours, theirs, 0, 0, "nonzero")


def test_where_condition_indexes_back():
    x = ember.tensor([[1.0, -2.0], [-3.0, 4.0]])
    assert x[ember.where(x > 0)].tolist() == [1.0, 4.0]


def test_out_arguments():
    x = ember.tensor(X)
    out = ember.empty(0)
    assert ember.gather(x, 1, ember.tensor([[1], [2], [3]]), out=out) is out
    assert out.tolist() == [[1.0], [6.0], [11.0]]
    out = ember.empty(0, dtype=ember.int64)
    ember.nonzero(x > 9, out=out)
    assert out.tolist() == [[2, 2], [2, 3]]
    out = ember.empty(0)
    ember.masked_select(x, x > 9, out=out)
    assert out.tolist() == [10.0, 11.0]


def test_take_and_put_follow_logical_order_of_views():
    x = ember.tensor(X).t()
    assert x.take(ember.tensor([1, 4])).tolist() == [4.0, 5.0]
    assert x.put(ember.tensor([1]), ember.tensor([-1.0]))[0, 1].item() == -1.0


# ---- the kernels ---------------------------------------------------------------------------
@pytest.mark.parametrize("reduce", ["sum", "prod", "amax", "amin"])
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.int8, np.bool_])
def test_kernels_match_ufunc_at(reduce, dtype):
    rng = np.random.default_rng(0)
    index = rng.integers(0, 7, 50)
    values = rng.integers(-3, 4, 50).astype(dtype)
    start = rng.integers(-3, 4, 7).astype(dtype)
    ufunc = {"sum": np.add, "prod": np.multiply, "amax": np.maximum, "amin": np.minimum}[reduce]
    expected = start.copy()
    ufunc.at(expected, index, values)
    got = kernels.reduce_at(start.copy(), index, values, reduce)
    np.testing.assert_array_equal(got, expected)
    rounds = kernels.scatter_by_rounds_(start.copy(), index, values, ufunc.__name__, np)
    np.testing.assert_array_equal(rounds, expected)


def test_kernel_rounds_handles_no_indices():
    out = np.ones(3)
    kernels.scatter_by_rounds_(out, np.zeros(0, np.int64), np.zeros(0), "add", np)
    assert out.tolist() == [1.0, 1.0, 1.0]


def test_scatter_add_large_matches_bincount():
    rng = np.random.default_rng(0)
    index = rng.integers(0, 100, (50, 1000))
    src = rng.standard_normal((50, 1000))
    out = ember.zeros(50, 100, dtype=ember.float64).scatter_add(1, ember.tensor(index),
                                                                ember.tensor(src))
    expected = np.stack([np.bincount(i, weights=s, minlength=100) for i, s in zip(index, src)])
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)


# ---- CuPy: the same kernels and ops on a GPU ---------------------------------------------
needs_gpu = pytest.mark.skipif(not ember._backend.cuda_available(), reason="needs CuPy and a GPU")
GPU_DTYPES = [np.float32, np.float64, np.float16, np.int64, np.int32, np.int8, np.uint8,
              np.bool_, np.complex64]


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("reduce", ["sum", "prod", "amax", "amin"])
@pytest.mark.parametrize("dtype", GPU_DTYPES, ids=lambda d: np.dtype(d).name)
def test_cuda_kernels_match_ufunc_at(reduce, dtype):
    import cupy
    if np.dtype(dtype).kind == "c" and reduce in ("amax", "amin"):
        pytest.skip("no ordering of complex numbers")
    rng = np.random.default_rng(0)
    index = rng.integers(0, 50, 2000)
    values = rng.integers(-3, 4, 2000).astype(dtype)
    if reduce == "prod" and np.dtype(dtype).kind == "f":
        values = rng.choice([0.5, 1.0, 2.0, -1.0], 2000).astype(dtype)
    start = rng.integers(-3, 4, 50).astype(dtype)
    expected = start.copy()
    {"sum": np.add, "prod": np.multiply, "amax": np.maximum, "amin": np.minimum}[reduce].at(
        expected, index, values)
    got = kernels.reduce_at(cupy.asarray(start), cupy.asarray(index), cupy.asarray(values),
                            reduce)
    np.testing.assert_allclose(got.get(), expected, rtol=1e-3 if dtype == np.float16 else 1e-6)


CUDA_OPS = {
    "gather": lambda t, x, d: x.gather(1, t.tensor([[0, 0, 3], [2, 1, 1]], device=d)),
    "scatter": lambda t, x, d: x.scatter(1, t.tensor([[0, 2], [3, 1]], device=d), x[:2, :2]),
    "scatter_value": lambda t, x, d: x.scatter(0, t.tensor([[2, 0, 1, 1]], device=d), 1.5),
    "scatter_add": lambda t, x, d: x.scatter_add(1, t.tensor([[0, 0], [3, 3]], device=d), x),
    "index_select": lambda t, x, d: x.index_select(1, t.tensor([3, 3, 0], device=d)),
    "index_add": lambda t, x, d: x.index_add(0, t.tensor([1, 1, 1], device=d), x, alpha=2),
    "index_copy": lambda t, x, d: x.index_copy(1, t.tensor([3, 0], device=d), x[:, :2]),
    "index_fill": lambda t, x, d: x.index_fill(1, t.tensor([-1, 1], device=d), -7.0),
    "masked_fill": lambda t, x, d: x.masked_fill(x > 5, 0.0),
    "masked_fill_": lambda t, x, d: (x * 1).masked_fill_(x[0] > 1, -1.0),
    "masked_select": lambda t, x, d: x.masked_select(x > 5),
    "masked_scatter": lambda t, x, d: x.masked_scatter(x > 5, x * 10),
    "take": lambda t, x, d: x.take(t.tensor([[0, -1], [5, 5]], device=d)),
    "take_along_dim": lambda t, x, d: t.take_along_dim(x, t.tensor([[1, -1, 0]], device=d), 1),
    "put": lambda t, x, d: x.put(t.tensor([0, -1], device=d), x[0, :2]),
    "put_accumulate": lambda t, x, d: x.put(t.tensor([1, 1, 1], device=d), x[0, :3], True),
    "nonzero": lambda t, x, d: (x - 5).nonzero(),
    "where_condition": lambda t, x, d: t.where(x > 5),
}
CUDA_OPS.update({
    f"scatter_reduce_{r}{'' if inc else '_exclude'}":
        (lambda t, x, d, r=r, inc=inc: x.scatter_reduce(
            1, t.tensor([[0, 0, 3], [1, 1, 1]], device=d), x + 1, r, include_self=inc))
    for r in ("sum", "prod", "mean", "amax", "amin") for inc in (True, False)})


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("name", sorted(CUDA_OPS))
@pytest.mark.parametrize("dtype", ["float32", "int64"])
def test_cuda_ops_match_cpu(name, dtype):
    if dtype == "int64" and name in ("scatter_value", "index_fill", "masked_fill_"):
        pytest.skip("float fill values")
    fn = CUDA_OPS[name]
    x = ember.tensor(X).to(getattr(ember, dtype))
    cpu = fn(ember, x, "cpu")
    gpu = fn(ember, x.cuda(), "cuda")
    for c, g in zip(cpu if isinstance(cpu, tuple) else (cpu,),
                    gpu if isinstance(gpu, tuple) else (gpu,)):
        assert_same_tensor(g, c, 1e-6, name)


def assert_same_tensor(gpu, cpu, tol, what):
    assert gpu.device.type == "cuda", what
    assert gpu.dtype is cpu.dtype and gpu.shape == cpu.shape, what
    np.testing.assert_allclose(gpu.detach().cpu().numpy(), cpu.detach().numpy(), rtol=tol,
                               atol=tol, err_msg=what)


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("name", ["gather", "scatter_add", "index_select", "take",
                                  "masked_scatter", "scatter_reduce_amax_ties",
                                  "scatter_reduce_prod_zero_src", "scatter_reduce_mean",
                                  "scatter_reduce_mean_exclude", "scatter_reduce_sum_exclude",
                                  "scatter_reduce_prod_zero_exclude",
                                  "scatter_reduce_amax_ties_exclude", "index_fill_tensor_value",
                                  "masked_fill_tensor_value", "put_accumulate", "index_copy"])
def test_cuda_gradients_match_cpu(name):
    fn, *arrays = GRADS[name]
    cpu = grads(ember, fn, *arrays)

    class OnGPU:
        """ember with tensor() defaulting to the GPU, so GRADS' lambdas build GPU tensors."""

        def __getattr__(self, attr):
            return getattr(ember, attr)

        @staticmethod
        def tensor(data, **kw):
            return ember.tensor(data, **kw).cuda()
    gpu = grads(OnGPU(), fn, *arrays)
    for c, g in zip(cpu, gpu):
        assert_same_tensor(g, c, 1e-10, name)
