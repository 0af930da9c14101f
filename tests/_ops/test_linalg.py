"""ember's linear algebra against torch: matmul broadcasting, einsum, decompositions and their
gradients, and the errors (types and messages) for operands that do not fit."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

import ember

from .harness import assert_same


def _arrays(shapes, seed=0, low=-2.0, high=2.0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(low, high, size=s) for s in shapes]


def _both(arrays, dtype="float64", requires_grad=False):
    """The same data as ember and torch tensors."""
    e = [ember.tensor(a, dtype=getattr(ember, dtype), requires_grad=requires_grad)
         for a in arrays]
    t = [torch.tensor(a, dtype=getattr(torch, dtype), requires_grad=requires_grad)
         for a in arrays]
    return e, t


def _outputs(out):
    out = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in out if o.requires_grad]


def check(fn, shapes, dtype="float64", grad=True, seed=0, low=-2.0, high=2.0, atol=1e-8,
          rtol=1e-7):
    """fn(lib, *tensors) through ember and torch: values, dtypes, shapes and gradients."""
    arrays = _arrays(shapes, seed, low, high)
    e, t = _both(arrays, dtype, requires_grad=grad)
    got, expected = fn(ember, *e), fn(torch, *t)
    assert_same(got, expected, atol, rtol, "forward")
    if not grad:
        return
    eo, to = _outputs(got), _outputs(expected)
    rng = np.random.default_rng(1)
    cots = [rng.standard_normal(tuple(o.shape)) for o in to]
    ge = ember.autograd.grad(eo, e, [ember.tensor(c, dtype=o.dtype) for c, o in zip(cots, eo)],
                             allow_unused=True)
    gt = torch.autograd.grad(to, t, [torch.tensor(c, dtype=o.dtype) for c, o in zip(cots, to)],
                             allow_unused=True)
    for k, (a, b) in enumerate(zip(ge, gt)):
        if b is None:
            assert a is None or np.allclose(a.numpy(), 0), f"input {k}: torch has no gradient"
            continue
        assert a is not None, f"input {k}: ember has no gradient"
        assert_same(a, b, 1e-6 if dtype == "float64" else 1e-4, 1e-5, f"grad of input {k}")


def same_error(fn, *arrays, dtypes=None, exact=True):
    """fn raises the same exception type (and message, when exact) in ember and torch."""
    dtypes = dtypes or ["float32"] * len(arrays)
    e = [ember.tensor(a, dtype=getattr(ember, d)) for a, d in zip(arrays, dtypes)]
    t = [torch.tensor(a, dtype=getattr(torch, d)) for a, d in zip(arrays, dtypes)]
    with pytest.raises(Exception) as expected:
        fn(torch, *t)
    with pytest.raises(Exception) as got:
        fn(ember, *e)
    base = expected.type if expected.type.__module__ == "builtins" else RuntimeError
    assert issubclass(got.type, base), f"{got.type.__name__}: {got.value}"
    if exact:
        assert str(got.value) == str(expected.value)
    return got.value


# ---- matmul ---------------------------------------------------------------------------------
MATMUL_SHAPES = [
    ((3, 4), (4, 5)), ((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 3)), ((2, 3, 4), (4, 5)),
    ((3, 4), (2, 4, 5)), ((4,), (2, 4, 3)), ((2, 3, 4), (4,)), ((2, 1, 3, 4), (5, 4, 2)),
    ((1, 3, 4), (2, 4, 2)), ((2, 2, 3, 4), (4,)), ((4,), (3, 1, 4, 2)), ((1, 1, 3, 4), (2, 4, 1)),
    ((0, 4), (4, 2)), ((2, 0), (0, 3)), ((2, 0, 3), (3, 4)),
]


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES, ids=[f"{a}@{b}" for a, b in MATMUL_SHAPES])
def test_matmul_broadcasting_matches_torch(sa, sb):
    check(lambda t, a, b: t.matmul(a, b), [sa, sb])
    check(lambda t, a, b: a @ b, [sa, sb], dtype="float32", atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("sa,sb", [((3,), (3,)), ((2, 3), (3,)), ((3,), (2, 3, 2)),
                                   ((2, 2, 3), (3, 2))])
def test_matmul_double_backward_matches_torch(sa, sb):
    arrays = _arrays([sa, sb])
    (ea, eb), (ta, tb) = _both(arrays, requires_grad=True)
    results = []
    for lib, a, b in ((ember, ea, eb), (torch, ta, tb)):
        out = lib.matmul(a, b)
        g = lib.ones(tuple(out.shape), dtype=lib.float64, requires_grad=True)
        ga, gb = lib.autograd.grad([out], [a, b], [g], create_graph=True)
        results.append(lib.autograd.grad([(ga * ga).sum() + (gb * a.sum()).sum()], [a, b, g]))
    for x, y in zip(*results):
        assert_same(x, y, 1e-8, 1e-7, "double backward")


@pytest.mark.parametrize("dtype", ["int64", "int32", "int16", "int8", "uint8"])
def test_integer_matmul(dtype):
    arrays = [np.arange(12).reshape(3, 4) % 5, np.arange(20).reshape(4, 5) % 7]
    e, t = _both(arrays, dtype)
    assert_same(e[0] @ e[1], t[0] @ t[1], 0, 0, dtype)
    assert_same(e[0][0] @ e[1][:, 0], t[0][0] @ t[1][:, 0], 0, 0, dtype)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_low_precision_matmul_keeps_dtype(dtype):
    arrays = _arrays([(2, 3, 4), (4, 5)])
    e, t = _both(arrays, dtype)
    assert_same(e[0] @ e[1], t[0] @ t[1], 5e-2, 5e-2, dtype)


def test_float32_matmul_runs_in_float32():
    a, b = ember.randn(3, 4), ember.randn(4, 5)
    assert (a @ b)._data.dtype == np.float32
    assert ember.matmul(a.double(), b.double()).dtype is ember.float64


def test_matmul_out_and_method():
    a, b = ember.randn(3, 4), ember.randn(4, 2)
    out = ember.empty(3, 2)
    assert ember.matmul(a, b, out=out) is out
    np.testing.assert_allclose(out.numpy(), a.matmul(b).numpy())
    np.testing.assert_allclose(b.__rmatmul__(a).numpy(), (a @ b).numpy())


MATMUL_ERRORS = [((2, 3), (4, 5)), ((3,), (4,)), ((2, 3), (4,)), ((3,), (4, 5)),
                 ((2, 2, 3), (2, 4, 5)), ((2, 2, 3), (3, 4, 5)), ((2, 2, 3), (4, 5)),
                 ((2, 3), (2, 4, 5)), ((2, 2, 3), (4,)), ((3,), (2, 4, 5)), ((), (2, 4, 5)),
                 ((2, 3), ())]


@pytest.mark.parametrize("sa,sb", MATMUL_ERRORS, ids=[f"{a}@{b}" for a, b in MATMUL_ERRORS])
def test_matmul_shape_errors_match_torch(sa, sb):
    same_error(lambda t, a, b: a @ b, *(np.ones(s) for s in (sa, sb)))


@pytest.mark.parametrize("da,db", [("float32", "float64"), ("int32", "int64"),
                                   ("float16", "float32")])
def test_matmul_dtype_mismatch_is_an_error(da, db):
    msg = same_error(lambda t, a, b: a @ b, np.ones((2, 3)), np.ones((3, 4)), dtypes=[da, db])
    assert "same dtype" in str(msg)
    same_error(lambda t, a, b: t.mm(a, b), np.ones((2, 3)), np.ones((3, 4)), dtypes=[da, db])
    same_error(lambda t, a, b: t.dot(a, b), np.ones(3), np.ones(3), dtypes=[da, db])
    same_error(lambda t, a, b: a @ b, np.ones(3), np.ones(3), dtypes=[da, db])


def test_matmul_argument_errors():
    a = ember.ones(2, 3)
    with pytest.raises(TypeError):
        a @ [1.0, 2.0, 3.0]
    with pytest.raises(TypeError):
        [1.0, 2.0] @ a
    with pytest.raises(TypeError, match="must be Tensor"):
        ember.matmul(a, 2.0)
    with pytest.raises(NotImplementedError, match="Bool"):
        ember.ones(2, 3, dtype=ember.bool) @ ember.ones(3, 2, dtype=ember.bool)


@pytest.mark.parametrize("fn,shapes", [
    (lambda t, a, b: t.dot(a, b), [(2, 3), (2, 3)]),
    (lambda t, a, b: t.dot(a, b), [(3,), (4,)]),
    (lambda t, a, b: t.vdot(a, b), [(2, 3), (2, 3)]),
    (lambda t, a, b: t.mm(a, b), [(2, 3), (4, 5)]),
    (lambda t, a, b: t.mm(a, b), [(2, 3), (3,)]),
    (lambda t, a, b: t.mm(a, b), [(2, 2, 3), (3, 3)]),
    (lambda t, a, b: t.bmm(a, b), [(2, 2, 3), (2, 4, 5)]),
    (lambda t, a, b: t.bmm(a, b), [(2, 3), (3, 5)]),
    (lambda t, a, b: t.bmm(a, b), [(1, 2, 3), (2, 3, 5)]),
    (lambda t, a, b: t.mv(a, b), [(2, 3), (4,)]),
    (lambda t, a, b: t.mv(a, b), [(2, 3), (3, 1)]),
    (lambda t, a, b: t.outer(a, b), [(3, 2), (2,)]),
    (lambda t, a, b: t.inner(a, b), [(3, 2), (4, 3)]),
    (lambda t, a, b: t.tensordot(a, b, 1), [(2, 3), (4, 4)]),
    (lambda t, a, b: t.tensordot(a, b, -1), [(2, 3), (3, 4)]),
    (lambda t, a, b: t.linalg.cross(a, b), [(3, 2), (3, 2)]),
    (lambda t, a, b: t.linalg.cross(a, b), [(3,), (3, 3)]),
    (lambda t, a, b: t.linalg.multi_dot([a, b]), [(2, 3), (4, 4)]),
    (lambda t, a, b: t.linalg.multi_dot([a, b]), [(2, 3, 3), (3, 4)]),
    (lambda t, a, b: t.addmm(a, b, b.T), [(3, 4), (2, 3)]),
    (lambda t, a, b: t.baddbmm(a, b, b.mT), [(5, 2, 2), (3, 2, 3)]),
], ids=lambda v: "" if callable(v) else str(v))
def test_product_errors_match_torch(fn, shapes):
    same_error(fn, *(np.ones(s) for s in shapes))


def test_dot_family_values():
    check(lambda t, a, b: t.dot(a, b), [(5,), (5,)])
    check(lambda t, a, b: t.vdot(a, b), [(5,), (5,)])
    check(lambda t, a, b: t.mv(a, b), [(3, 5), (5,)])
    check(lambda t, a, b: t.bmm(a, b), [(2, 3, 5), (2, 5, 1)])
    check(lambda t, a, b: t.outer(a, b), [(3,), (4,)])
    check(lambda t, a, b: a.ger(b), [(3,), (4,)])
    check(lambda t, a, b: t.inner(a, b), [(2, 3, 5), (4, 5)])


# ---- addmm family ------------------------------------------------------------------------------
@pytest.mark.parametrize("fn,shapes", [
    (lambda t, c, a, b: t.addmm(c, a, b, beta=0.5, alpha=2), [(3, 2), (3, 4), (4, 2)]),
    (lambda t, c, a, b: t.addmm(c, a, b), [(1, 2), (3, 4), (4, 2)]),
    (lambda t, c, a, b: t.addmv(c, a, b, alpha=-1), [(3,), (3, 4), (4,)]),
    (lambda t, c, a, b: t.baddbmm(c, a, b, beta=2), [(3, 2), (2, 3, 4), (2, 4, 2)]),
    (lambda t, c, a, b: t.addbmm(c, a, b, alpha=0.5), [(3, 2), (2, 3, 4), (2, 4, 2)]),
    (lambda t, c, a, b: t.addbmm(c, a, b), [(2,), (5, 3, 4), (5, 4, 2)]),
])
def test_addmm_family_matches_torch(fn, shapes):
    check(fn, shapes)


def test_addmm_beta_zero_ignores_input():
    nan = np.full((2, 2), np.nan)
    a, b = _arrays([(2, 3), (3, 2)])
    (ec, ea, eb), (tc, ta, tb) = _both([nan, a, b])
    assert_same(ember.addmm(ec, ea, eb, beta=0), torch.addmm(tc, ta, tb, beta=0), 1e-12, 0)
    (ec, ea, eb), _ = _both([a @ b, a, b], requires_grad=True)
    out = ember.addmm(ec, ea, eb, beta=0)
    gc, ga = ember.autograd.grad([out.sum()], [ec, ea], allow_unused=True)
    assert gc is None or np.allclose(gc.numpy(), 0)
    np.testing.assert_allclose(ga.numpy(), np.ones((2, 2)) @ b.T)


def test_addmm_integer_scalars_truncate_like_torch():
    arrays = [np.arange(8).reshape(2, 4), np.arange(6).reshape(2, 3), np.arange(12).reshape(3, 4)]
    e, t = _both(arrays, "int64")
    assert_same(ember.addmm(*e, beta=-1.7, alpha=2.5), torch.addmm(*t, beta=-1.7, alpha=2.5),
                0, 0)


def test_addmm_inplace_and_out():
    arrays = _arrays([(3, 2), (3, 4), (4, 2), (3,), (2, 3, 4), (2, 4, 2)])
    (c, a, b, v, b1, b2), (tc, ta, tb, tv, tb1, tb2) = _both(arrays)
    assert c.clone().addmm_(a, b, alpha=2) is not None
    for name, args, targs in (("addmm_", (a, b), (ta, tb)), ("addbmm_", (b1, b2), (tb1, tb2))):
        x, tx = c * 1, tc.clone()
        assert getattr(x, name)(*args, beta=0.5) is x
        assert_same(x, getattr(tx, name)(*targs, beta=0.5), 1e-12, 1e-12, name)
    x, tx = v * 1, tv.clone()
    x.addmv_(a, b[:, 0])
    assert_same(x, tx.addmv_(ta, tb[:, 0]), 1e-12, 1e-12, "addmv_")
    x, tx = b1 @ b2 * 1, tb1 @ tb2
    x.baddbmm_(b1, b2, alpha=3)
    assert_same(x, tx.baddbmm_(tb1, tb2, alpha=3), 1e-12, 1e-12, "baddbmm_")
    out = ember.empty(3, 2, dtype=ember.float64)
    assert ember.addmm(c, a, b, out=out) is out
    assert_same(out, torch.addmm(tc, ta, tb), 1e-12, 1e-12, "out=")


def test_addmm_dtype_errors_match_torch():
    same_error(lambda t, c, a, b: t.addmm(c, a, b), np.ones((2, 4)), np.ones((2, 3)),
               np.ones((3, 4)), dtypes=["float64", "float32", "float32"])
    same_error(lambda t, c, a, b: t.addmv(c, a, b), np.ones(2), np.ones((2, 3)), np.ones(3),
               dtypes=["float64", "float32", "float32"])


# ---- einsum ---------------------------------------------------------------------------------
EINSUM_CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ii", [(3, 3)]),
    ("ii->i", [(3, 3)]),
    ("iij->j", [(3, 3, 2)]),
    ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]),
    ("ijk->kj", [(2, 3, 4)]),
    ("i,i->", [(4,), (4,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("i,j", [(3,), (4,)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),
    ("...ij->...ji", [(2, 3, 4)]),
    ("...ii->...i", [(2, 3, 3)]),
    ("i...->...", [(3, 2, 2)]),
    ("b...i,b...i->b...", [(2, 3, 4), (2, 1, 4)]),
    ("...,...->...", [(2, 3), (3,)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("ij,ij->ij", [(1, 3), (2, 3)]),
    ("ij,jk", [(2, 1), (3, 4)]),
    ("Ba,aB", [(2, 3), (3, 2)]),
    ("ab,cd->abcd", [(2, 2), (2, 3)]),
    ("i,ij,j->", [(3,), (3, 4), (4,)]),
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
    ("ij,kl->", [(2, 3), (4, 5)]),
    (",ij->ij", [(), (2, 3)]),
    ("i j , j k -> i k", [(2, 3), (3, 4)]),
    ("ijk,ijk->", [(20, 20, 20), (20, 20, 20)]),
]


@pytest.mark.parametrize("eq,shapes", EINSUM_CASES, ids=[c[0] for c in EINSUM_CASES])
def test_einsum_matches_torch(eq, shapes):
    check(lambda t, *ops: t.einsum(eq, *ops), shapes, atol=1e-7)


def test_einsum_forms():
    check(lambda t, a, b: t.einsum(a, [0, 1], b, [1, 2], [0, 2]), [(2, 3), (3, 4)])
    check(lambda t, a, b: t.einsum(a, [0, Ellipsis], b, [Ellipsis, 1]), [(2, 3), (3, 4)])
    check(lambda t, a, b: t.einsum("ij,jk", [a, b]), [(2, 3), (3, 4)])
    check(lambda t, a, b: t.einsum("ij,jk", (a, b)), [(2, 3), (3, 4)], dtype="float32",
          atol=1e-5)


def test_einsum_integer_dtypes_follow_torch():
    for eq, ops in (("ii", [(3, 3)]), ("ij->i", [(3, 3)]), ("ij,j", [(3, 3), (3,)]),
                    ("ij->ji", [(2, 3)]), ("ij,k->k", [(2, 3), (3,)])):
        arrays = [np.arange(math.prod(s)).reshape(s) for s in ops]
        e, t = _both(arrays, "int32")
        assert_same(ember.einsum(eq, *e), torch.einsum(eq, *t), 0, 0, eq)


def test_einsum_result_does_not_alias_input():
    x = ember.ones(2, 3)
    y = ember.einsum("ij->ji", x)
    y[0, 0] = 5.0
    assert x[0, 0].item() == 1.0


EINSUM_ERRORS = [
    ("ij,jk->ik", [(2, 3), (4, 4)]),
    ("ij,jk->ik", [(2, 3)]),
    ("ij->ik", [(2, 3), (3, 4)]),
    ("ij,jk->iz", [(2, 3), (3, 4)]),
    ("ii", [(2, 3)]),
    ("ij->ii", [(2, 3)]),
    ("ijk", [(2, 3)]),
    ("i", [(2, 3)]),
    ("...ijk", [(2, 3)]),
    ("i1", [(2, 3)]),
]


@pytest.mark.parametrize("eq,shapes", EINSUM_ERRORS, ids=[c[0] for c in EINSUM_ERRORS])
def test_einsum_errors_match_torch(eq, shapes):
    same_error(lambda t, *ops: t.einsum(eq, *ops), *(np.ones(s) for s in shapes), exact=False)


def test_einsum_error_messages():
    with pytest.raises(RuntimeError, match="subscript j has size 4 for operand 1"):
        ember.einsum("ij,jk->ik", ember.ones(2, 3), ember.ones(4, 4))
    with pytest.raises(RuntimeError, match="expected scalar type Float but found Double"):
        ember.einsum("ij,jk", ember.ones(2, 3), ember.ones(3, 4, dtype=ember.float64))
    with pytest.raises(RuntimeError, match="output subscript z does not appear"):
        ember.einsum("ij,jk->iz", ember.ones(2, 3), ember.ones(3, 4))


# ---- other products ----------------------------------------------------------------------------
def test_products_match_torch():
    check(lambda t, a, b: t.tensordot(a, b, dims=([2, 0], [0, 1])), [(3, 2, 4), (4, 3, 5)])
    check(lambda t, a, b: t.tensordot(a, b, dims=0), [(2,), (3,)])
    check(lambda t, a, b: t.tensordot(a, b, dims=t.tensor([[1], [0]])), [(2, 3), (3, 4)],
          grad=False)
    check(lambda t, a, b: t.kron(a, b), [(2, 3), (3, 2)])
    check(lambda t, a, b: t.kron(a, b), [(2, 1, 3), (2,)])
    check(lambda t, a, b: t.kron(a, b), [(), (2,)])
    check(lambda t, a, b: t.cross(a, b, dim=1), [(2, 3, 2), (2, 3, 2)])
    check(lambda t, a, b: t.linalg.cross(a, b, dim=0), [(3, 1), (3, 4)])
    check(lambda t, a: t.matrix_power(a, 5), [(2, 3, 3)], low=-1, high=1)
    check(lambda t, a: t.linalg.matrix_power(a + 3 * t.eye(3, dtype=a.dtype), -3), [(3, 3)])
    check(lambda t, a: t.matrix_power(a, 0), [(2, 3, 3)], grad=False)
    check(lambda t, a, b, c: t.linalg.multi_dot([a, b, c]), [(3,), (3, 5), (5, 2)])
    check(lambda t, a, b, c, d: t.linalg.multi_dot([a, b, c, d]),
          [(10, 2), (2, 8), (8, 1), (1, 6)])
    check(lambda t, a, b: t.linalg.vecdot(a, b), [(2, 3), (2, 1, 3)])


def test_cross_without_dim_picks_first_size_3_dim():
    a, b = _arrays([(3, 3), (3, 3)])
    (ea, eb), (ta, tb) = _both([a, b])
    with pytest.warns(UserWarning, match="dim"):
        got = ember.cross(ea, eb)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = torch.cross(ta, tb)
    assert_same(got, expected, 1e-12, 1e-12)


def test_chain_matmul_and_multi_dot_errors():
    with pytest.warns(UserWarning):
        check(lambda t, a, b: t.chain_matmul(a, b), [(2, 3), (3, 4)])
    same_error(lambda t, a: t.linalg.multi_dot([a]), np.ones((2, 2)))
    with pytest.raises(RuntimeError, match="same dtype"):
        ember.linalg.multi_dot([ember.ones(2, 3), ember.ones(3, 4, dtype=ember.float64)])
    with pytest.raises(RuntimeError, match="must be 2D"):
        ember.linalg.multi_dot([ember.ones(2, 3), ember.ones(3), ember.ones(3)])


# ---- decompositions -----------------------------------------------------------------------------
def _spd(t, x):
    return x @ x.mT + t.eye(x.shape[-2], dtype=x.dtype, device=x.device)


def _sym(t, x):
    return x + x.mT


DECOMPOSITIONS = {
    "det": (lambda t, a: t.linalg.det(a), [(2, 3, 3)]),
    "slogdet": (lambda t, a: t.linalg.slogdet(a), [(2, 3, 3)]),
    "logdet": (lambda t, a: t.logdet(_spd(t, a)), [(3, 3)]),
    "inv": (lambda t, a: t.linalg.inv(a), [(2, 3, 3)]),
    "solve": (lambda t, a, b: t.linalg.solve(a, b), [(2, 3, 3), (3, 2)]),
    "solve_vector": (lambda t, a, b: t.linalg.solve(a, b), [(2, 3, 3), (2, 3)]),
    "solve_right": (lambda t, a, b: t.linalg.solve(a, b, left=False), [(3, 3), (2, 2, 3)]),
    "cholesky": (lambda t, a: t.linalg.cholesky(_spd(t, a)), [(2, 3, 4)]),
    "cholesky_upper": (lambda t, a: t.linalg.cholesky(_spd(t, a), upper=True), [(3, 4)]),
    "qr": (lambda t, a: t.linalg.qr(a), [(2, 4, 3)]),
    "qr_wide": (lambda t, a: t.linalg.qr(a), [(3, 5)]),
    "eigh": (lambda t, a: (lambda r: (r[0], r[1] * r[1][..., :1, :]))(t.linalg.eigh(_sym(t, a))),
             [(2, 4, 4)]),
    "eigh_lower_triangle": (lambda t, a: (lambda r: (r[0], r[1] * r[1][..., :1, :]))(
        t.linalg.eigh(a)), [(2, 4, 4)]),
    "eigvalsh": (lambda t, a: t.linalg.eigvalsh(_sym(t, a), UPLO="U"), [(4, 4)]),
    "svd": (lambda t, a: (lambda r: (r.S, r.U * r.Vh[..., :, :1].mT))(
        t.linalg.svd(a, full_matrices=False)), [(2, 4, 3)]),
    "svdvals": (lambda t, a: t.linalg.svdvals(a), [(2, 3, 5)]),
    "pinv": (lambda t, a: t.linalg.pinv(a), [(2, 3, 5)]),
    "pinv_hermitian": (lambda t, a: t.linalg.pinv(_sym(t, a), hermitian=True), [(3, 3)]),
    "norm_fro": (lambda t, a: t.linalg.norm(a), [(3, 4)]),
    "norm_nuc": (lambda t, a: t.linalg.matrix_norm(a, "nuc"), [(2, 3, 4)]),
    "norm_2": (lambda t, a: t.linalg.matrix_norm(a, 2, keepdim=True), [(2, 3, 4)]),
    "norm_inf": (lambda t, a: t.linalg.norm(a, float("inf"), dim=(1, 0)), [(3, 4, 2)]),
    "vector_norm": (lambda t, a: t.linalg.vector_norm(a, 3.5, dim=(0, -1)), [(2, 3, 4)]),
}


@pytest.mark.parametrize("name", sorted(DECOMPOSITIONS))
def test_decomposition_values_and_gradients_match_torch(name):
    fn, shapes = DECOMPOSITIONS[name]
    check(fn, shapes, atol=1e-7, rtol=1e-6)


def test_decompositions_double_backward():
    for fn, shapes in (DECOMPOSITIONS["det"], DECOMPOSITIONS["inv"], DECOMPOSITIONS["solve"],
                       DECOMPOSITIONS["cholesky"]):
        args = [ember.tensor(a, requires_grad=True) for a in _arrays(shapes)]
        assert ember.autograd.gradgradcheck(lambda *xs, fn=fn: fn(ember, *xs), tuple(args))


def test_singular_and_not_positive_definite_inputs():
    with pytest.raises(ember.linalg.LinAlgError, match="singular"):
        ember.linalg.inv(ember.zeros(3, 3))
    with pytest.raises(RuntimeError, match="singular"):
        ember.linalg.solve(ember.ones(2, 2), ember.ones(2))
    msg = same_error(lambda t, a: t.linalg.cholesky(a), np.array([[1., 2.], [2., 1.]]))
    assert "order 2" in str(msg)
    same_error(lambda t, a: t.linalg.cholesky(a), -np.eye(3)[None].repeat(2, 0))


@pytest.mark.parametrize("fn,shape,dtype", [
    (lambda t, a: t.linalg.det(a), (2, 3), "float32"),
    (lambda t, a: t.linalg.det(a), (3,), "float32"),
    (lambda t, a: t.linalg.det(a), (3, 3), "int64"),
    (lambda t, a: t.linalg.inv(a), (2, 3), "float32"),
    (lambda t, a: t.linalg.inv(a), (3, 3), "int64"),
    (lambda t, a: t.linalg.inv(a), (3, 3), "float16"),
    (lambda t, a: t.linalg.slogdet(a), (3, 3), "bfloat16"),
    (lambda t, a: t.linalg.svd(a), (3,), "float32"),
    (lambda t, a: t.linalg.qr(a, mode="x"), (3, 3), "float32"),
    (lambda t, a: t.linalg.eigh(a), (2, 3), "float32"),
    (lambda t, a: t.linalg.solve(a, a[0]), (3,), "float32"),
    (lambda t, a: t.linalg.vector_norm(a), (3,), "int64"),
    (lambda t, a: t.linalg.vector_norm(a, float("inf")), (0, 3), "float32"),
    (lambda t, a: t.linalg.matrix_norm(a), (3,), "float32"),
    (lambda t, a: t.linalg.matrix_norm(a, 3), (3, 3), "float32"),
    (lambda t, a: t.linalg.norm(a, 2), (3, 3, 3), "float32"),
    (lambda t, a: t.linalg.norm(a, "fro", dim=0), (3, 3), "float32"),
    (lambda t, a: t.linalg.matrix_power(a, 2), (2, 3), "float32"),
    (lambda t, a: t.linalg.matrix_power(a.long(), -1), (2, 2), "float32"),
    (lambda t, a: t.linalg.vecdot(a, a.double()), (2, 3), "float32"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_linalg_argument_errors_match_torch(fn, shape, dtype):
    same_error(fn, np.ones(shape), dtypes=[dtype])


def test_solve_shape_errors_match_torch():
    same_error(lambda t, a, b: t.linalg.solve(a, b), np.eye(3), np.ones(4))
    same_error(lambda t, a, b: t.linalg.solve(a, b), np.eye(3), np.ones((2, 3)))
    same_error(lambda t, a, b: t.linalg.solve(a, b), np.eye(3), np.ones(3),
               dtypes=["float32", "float64"])


def test_qr_modes_and_svd_api():
    a = _arrays([(4, 3)])[0]
    (e,), (t,) = _both([a])
    assert_same(ember.linalg.qr(e, mode="complete"), torch.linalg.qr(t, mode="complete"),
                1e-10, 1e-10)
    assert_same(ember.linalg.qr(e, mode="r").R, torch.linalg.qr(t, mode="r").R, 1e-10, 1e-10)
    assert tuple(ember.linalg.qr(e, mode="r").Q.shape) == (0,)
    U, S, V = ember.svd(e)
    np.testing.assert_allclose((U * S) @ V.mT.numpy(), a, atol=1e-12)
    assert tuple(ember.svd(e, some=False).U.shape) == (4, 4)
    assert_same(ember.svd(e, compute_uv=False), torch.svd(t, compute_uv=False), 1e-12, 1e-12)
    np.testing.assert_allclose(ember.linalg.svdvals(e).numpy(),
                               torch.linalg.svdvals(t).numpy(), atol=1e-12)


def test_complete_svd_gradient_through_vectors_is_an_error():
    x = ember.randn(4, 2, dtype=ember.float64, requires_grad=True)
    U, S, Vh = ember.linalg.svd(x)
    with pytest.raises(RuntimeError, match="full_matrices=False"):
        U.sum().backward()


def _complex(shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def _hpd(t, x):
    return x @ x.mH + t.eye(x.shape[-2], dtype=x.dtype)


def _phase_free(V):
    """What of complex eigen/singular vectors V survives their phases: |V| and V V^H."""
    return V.abs(), V @ V.mH


# complex outputs whose values do not depend on the vectors' free phases
COMPLEX_DECOMPOSITIONS = {
    "cholesky": (lambda t, a: t.linalg.cholesky(_hpd(t, a)), (2, 3, 4)),
    "cholesky_upper": (lambda t, a: t.linalg.cholesky(_hpd(t, a), upper=True), (3, 3)),
    "cholesky_leaf": (lambda t, a: t.linalg.cholesky(a), (3, 3)),
    "qr": (lambda t, a: t.linalg.qr(a), (2, 4, 3)),
    "qr_wide": (lambda t, a: t.linalg.qr(a), (3, 5)),
    "qr_complete": (lambda t, a: t.linalg.qr(a, mode="complete"), (2, 3, 4)),
    "eigh": (lambda t, a: (lambda r: (r[0], *_phase_free(r[1][..., :, :2])))(
        t.linalg.eigh(a)), (2, 4, 4)),
    "eigh_upper": (lambda t, a: (lambda r: (r[0], *_phase_free(r[1])))(
        t.linalg.eigh(a, UPLO="U")), (3, 3)),
    "eigvalsh": (lambda t, a: t.linalg.eigvalsh(a), (2, 3, 3)),
    "svd": (lambda t, a: (lambda r: (r.S, r.U.abs(), r.U[..., :, :2] @ r.Vh[..., :2, :]))(
        t.linalg.svd(a, full_matrices=False)), (2, 4, 3)),
    "svd_wide": (lambda t, a: (lambda r: (r.S, r.Vh.abs(), r.U @ r.Vh))(
        t.linalg.svd(a, full_matrices=False)), (3, 5)),
    "svd_full_square": (lambda t, a: (lambda r: (r.S, r.U @ r.Vh))(t.linalg.svd(a)), (3, 3)),
    "torch_svd": (lambda t, a: (lambda r: (r.S, r.U @ r.V.mH))(t.svd(a)), (4, 3)),
    "svdvals": (lambda t, a: t.linalg.svdvals(a), (2, 3, 4)),
    "norm_nuc": (lambda t, a: t.linalg.matrix_norm(a, "nuc"), (3, 4)),
    "cond": (lambda t, a: t.linalg.cond(a), (2, 3, 3)),
    "pinv": (lambda t, a: t.linalg.pinv(a), (2, 3, 5)),
    "pinv_hermitian": (lambda t, a: t.linalg.pinv(_hpd(t, a), hermitian=True), (3, 3)),
}


@pytest.mark.parametrize("name", sorted(COMPLEX_DECOMPOSITIONS))
def test_complex_decomposition_gradients_match_torch(name):
    """Complex inputs, complex cotangents: ember's gradients are torch's (conj-Wirtinger)."""
    fn, shape = COMPLEX_DECOMPOSITIONS[name]
    a = _complex(shape)
    if name == "cholesky_leaf":
        a = a @ a.conj().T + np.eye(shape[-1])
    e = ember.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    got, expected = fn(ember, e), fn(torch, t)
    assert_same(got, expected, 1e-10, 1e-9, "forward")
    eo, to = _outputs(got), _outputs(expected)
    cots = [_complex(tuple(o.shape), seed) if o.is_complex() else
            _complex(tuple(o.shape), seed).real for seed, o in enumerate(to, 1)]
    (ge,) = ember.autograd.grad(eo, [e], [ember.tensor(c, dtype=o.dtype)
                                          for c, o in zip(cots, eo)])
    (gt,) = torch.autograd.grad(to, [t], [torch.tensor(c, dtype=o.dtype)
                                          for c, o in zip(cots, to)])
    assert_same(ge, gt, 1e-10, 1e-9, "gradient")


@pytest.mark.parametrize("fn,match", [
    (lambda t, a: t.linalg.svd(a, full_matrices=False).U.real.sum(), "phi"),
    (lambda t, a: t.linalg.eigh(a).eigenvectors.real.sum(), "phi"),
    (lambda t, a: t.linalg.qr(a, mode="r").R.abs().sum(), "mode='r'"),
], ids=["svd", "eigh", "qr_r"])
def test_complex_gradients_torch_refuses_are_refused(fn, match):
    """A loss that depends on the vectors' free phases has no gradient (nor has qr's R alone)."""
    for lib in (torch, ember):
        A = lib.tensor(_complex((3, 3)), requires_grad=True)
        with pytest.raises(RuntimeError, match=match):
            fn(lib, A).backward()


def test_vector_norm_options_match_torch():
    for ord in (2, 1, 0, 3, 0.5, float("inf"), -float("inf"), -1):
        check(lambda t, a, ord=ord: t.linalg.vector_norm(a, ord, dim=1), [(3, 4)], low=0.2,
              high=2)
    check(lambda t, a: t.linalg.vector_norm(a, dtype=t.float64), [(3, 4)], dtype="float32",
          atol=1e-6, rtol=1e-6)
    e, t = _both(_arrays([(3, 4)]), "float16")
    assert_same(ember.linalg.vector_norm(e[0]), torch.linalg.vector_norm(t[0]), 1e-2, 1e-2)


def test_linalg_diagonal_is_a_writable_view():
    x = ember.zeros(3, 4)
    d = ember.linalg.diagonal(x, offset=1)
    d += 1.0
    np.testing.assert_array_equal(x.numpy(), np.eye(3, 4, 1))
    check(lambda t, a: t.linalg.diagonal(a, offset=-1, dim1=2, dim2=0), [(3, 2, 4)])


def test_linalg_namespace_is_lazy_and_complete():
    import ember.linalg as L
    for name in ("matmul", "norm", "vector_norm", "matrix_norm", "det", "slogdet", "inv",
                 "solve", "cholesky", "qr", "eigh", "eigvalsh", "svd", "svdvals", "pinv",
                 "cross", "diagonal", "multi_dot", "vecdot", "matrix_power"):
        assert callable(getattr(L, name)), name
        assert hasattr(torch.linalg, name), name
    assert ember.linalg is L
    assert issubclass(L.LinAlgError, RuntimeError)


# ---- CUDA (CuPy) -------------------------------------------------------------------------------
GPU_CASES = {
    "matmul_3d_2d": (lambda t, a, b: a @ b, [(2, 3, 4), (4, 5)]),
    "matmul_1d_3d": (lambda t, a, b: a @ b, [(4,), (2, 4, 3)]),
    "matmul_broadcast": (lambda t, a, b: a @ b, [(2, 1, 3, 4), (3, 4, 2)]),
    "addmm": (lambda t, c, a, b: t.addmm(c, a, b, beta=0.5, alpha=2), [(3, 2), (3, 4), (4, 2)]),
    "addbmm": (lambda t, c, a, b: t.addbmm(c, a, b), [(3, 2), (2, 3, 4), (2, 4, 2)]),
    "einsum": (lambda t, a, b: t.einsum("bij,bjk->bik", a, b), [(2, 3, 4), (2, 4, 5)]),
    "einsum_diag": (lambda t, a: t.einsum("iij->j", a), [(3, 3, 2)]),
    "tensordot": (lambda t, a, b: t.tensordot(a, b, dims=([2, 0], [0, 1])),
                  [(3, 2, 4), (4, 3, 5)]),
    "kron": (lambda t, a, b: t.kron(a, b), [(2, 3), (3, 2)]),
    "cross": (lambda t, a, b: t.linalg.cross(a, b), [(2, 3), (2, 3)]),
    "vector_norm": (lambda t, a: t.linalg.vector_norm(a, 3, dim=1), [(3, 4)]),
    "matrix_norm_inf": (lambda t, a: t.linalg.matrix_norm(a, float("inf")), [(2, 3, 4)]),
    "matrix_norm_nuc": (lambda t, a: t.linalg.matrix_norm(a, "nuc"), [(2, 3, 4)]),
    "diagonal": (lambda t, a: t.linalg.diagonal(a, offset=1), [(2, 3, 4)]),
    **{k: DECOMPOSITIONS[k] for k in ("det", "slogdet", "inv", "solve", "solve_vector",
                                      "cholesky", "qr", "eigh", "svd", "pinv")},
}


def _cuda_available():
    try:
        from ember._backend import cuda_available
        return cuda_available()
    except ImportError:
        return False


@pytest.mark.gpu
@pytest.mark.skipif(not _cuda_available(), reason="needs CuPy and a GPU")
@pytest.mark.parametrize("name", sorted(GPU_CASES))
def test_cuda_matches_cpu(name):
    fn, shapes = GPU_CASES[name]
    results = []
    for device in ("cpu", "cuda"):
        args = [ember.tensor(a, device=device, requires_grad=True) for a in _arrays(shapes)]
        outs = _outputs(fn(ember, *args))
        cots = [ember.ones(tuple(o.shape), dtype=o.dtype, device=device) for o in outs]
        grads = ember.autograd.grad(outs, args, cots, allow_unused=True)
        assert all(o.device.type == device for o in outs)
        results.append([o.cpu().numpy(force=True) for o in outs] +
                       [g.cpu().numpy(force=True) for g in grads if g is not None])
    for x, y in zip(*results):
        np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-9)


def test_lstsq_outputs_per_driver_and_errors_like_torch():
    rng = np.random.default_rng(5)
    A, B = rng.standard_normal((2, 6, 3)), rng.standard_normal((2, 6, 2))
    deficient = A.copy()
    deficient[..., 2] = deficient[..., 0]
    for a in (A, deficient, A[:, :2]):
        for driver in (None, "gels", "gelsy", "gelsd", "gelss"):
            if driver == "gels" and a is deficient:
                continue  # QR without pivoting assumes full rank
            want = torch.linalg.lstsq(torch.tensor(a), torch.tensor(B[:, :a.shape[1]]),
                                      driver=driver)
            got = ember.linalg.lstsq(ember.tensor(a), ember.tensor(B[:, :a.shape[1]]),
                                     driver=driver)
            for i, (g, w) in enumerate(zip(got, want)):
                assert str(g.dtype) == str(w.dtype) and tuple(g.shape) == tuple(w.shape)
                if a is deficient and i in (0, 2) and w.numel():
                    # torch's MKL build was seen returning, for this rank-2 matrix, a solution
                    # that breaks the normal equations (one CI CPU) and rank 1 (a loaded
                    # 2-core machine); the minimum-norm solution and the rank are unique, so
                    # check against NumPy's SVD-based answers instead.
                    w = np.stack([np.linalg.lstsq(a[j], B[j], rcond=None)[0] for j in range(2)]) \
                        if i == 0 else np.linalg.matrix_rank(a)
                    np.testing.assert_allclose(g.numpy(), w, rtol=1e-8, atol=1e-10)
                    continue
                np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-8, atol=1e-10)
    for lib in (torch, ember):
        with pytest.raises(RuntimeError, match="driver"):
            lib.linalg.lstsq(lib.ones(3, 2), lib.ones(3, 1), driver="qr")
        with pytest.raises(RuntimeError):
            lib.linalg.lstsq(lib.ones(3, 2), lib.ones(4, 1))
        with pytest.raises(RuntimeError):
            lib.linalg.lstsq(lib.ones(3, 2), lib.ones(3, 1, dtype=lib.float64))
        with pytest.raises(RuntimeError):
            lib.linalg.lstsq(lib.ones(3, 2, dtype=lib.int64), lib.ones(3, 1, dtype=lib.int64))


def test_eig_refuses_like_torch():
    """Bad shapes and dtypes; and a loss that depends on the eigenvectors' free phases."""
    for lib in (torch, ember):
        with pytest.raises(RuntimeError):
            lib.linalg.eig(lib.ones(2, 3))
        with pytest.raises(RuntimeError):
            lib.linalg.eigvals(lib.ones(3))
        with pytest.raises(RuntimeError):
            lib.linalg.eig(lib.ones(2, 2, dtype=lib.int64))
        A = lib.tensor(np.random.default_rng(3).standard_normal((3, 3)), requires_grad=True)
        L, V = lib.linalg.eig(A)
        with pytest.raises(RuntimeError, match="e\\^\\{?\\(?i phi"):
            lib.autograd.grad(V.imag.sum(), A)


def test_matrix_exp_across_norms_and_errors_like_torch():
    """The Pade degree and the number of squarings follow the norm: small, moderate and large
    matrices, batched, match torch's to double precision; bad input refuses as torch does."""
    rng = np.random.default_rng(7)
    for scale in (1e-3, 0.1, 1.0, 5.0, 40.0):
        A = rng.standard_normal((2, 5, 5)) * scale
        want = torch.linalg.matrix_exp(torch.tensor(A)).numpy()
        got = ember.linalg.matrix_exp(ember.tensor(A)).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12 * np.abs(want).max())
    for lib in (torch, ember):
        with pytest.raises(RuntimeError, match="square"):
            lib.linalg.matrix_exp(lib.ones(2, 3))
        with pytest.raises(RuntimeError, match="floating point"):
            lib.linalg.matrix_exp(lib.ones(2, 2, dtype=lib.int64))


# ---- LU, LDL, Householder and the triangular solvers ---------------------------------------
def _random(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    return a + 1j * rng.standard_normal(shape) if dtype.startswith("complex") else a


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128"])
@pytest.mark.parametrize("shape", [(4, 4), (3, 5, 5), (5, 3), (2, 3, 6), (0, 3, 3), (1, 1)])
def test_lu_factor_pivots_and_values_match_lapack(shape, dtype):
    """The same pivots as LAPACK's getrf (complex pivots chosen by |Re| + |Im|), the same
    packed LU, the same P, L, U."""
    a = _random(shape, dtype)
    e, t = ember.tensor(a, dtype=getattr(ember, dtype)), torch.tensor(a, dtype=getattr(torch,
                                                                                      dtype))
    tol = 1e-4 if dtype in ("float32", "complex64") else 1e-12
    assert_same(ember.linalg.lu_factor_ex(e), torch.linalg.lu_factor_ex(t), tol, tol, "factor")
    assert_same(ember.linalg.lu(e), torch.linalg.lu(t), tol, tol, "lu")
    assert_same(ember.lu_unpack(*ember.linalg.lu_factor_ex(e)[:2]),
                torch.lu_unpack(*torch.linalg.lu_factor_ex(t)[:2]), tol, tol, "unpack")


def test_singular_matrices_report_info_like_torch():
    singular = np.stack([np.eye(3), np.zeros((3, 3)), [[1., 2., 3.], [2., 4., 6.], [1., 0., 1.]]])
    e, t = ember.tensor(singular), torch.tensor(singular)
    for fn in (lambda lib, x: lib.linalg.lu_factor_ex(x).info,
               lambda lib, x: lib.linalg.inv_ex(x).info,
               lambda lib, x: lib.linalg.solve_ex(x, x).info,
               lambda lib, x: lib.linalg.cholesky_ex(x).info,
               lambda lib, x: lib.linalg.ldl_factor_ex(x).info,
               lambda lib, x: lib.lu(x, get_infos=True).info):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert_same(fn(ember, e), fn(torch, t), 0, 0, "info")
    LU, pivots = ember.linalg.lu_factor_ex(e[2])[:2]
    assert np.isinf(ember.linalg.lu_solve(LU, pivots, ember.ones(3, 1, dtype=ember.float64))
                    .numpy()).any()


@pytest.mark.parametrize("fn,arrays", [
    (lambda t, a: t.linalg.lu_factor(a), [np.zeros((2, 3, 3))]),
    (lambda t, a: t.linalg.lu_factor(a), [[[1., 2.], [2., 4.]]]),
    (lambda t, a: t.linalg.lu_factor_ex(a, check_errors=True), [np.ones((2, 3))]),
    (lambda t, a: t.linalg.lu_factor(a, pivot=False), [np.eye(2)]),
    (lambda t, a: t.linalg.lu_factor(a), [np.ones(3)]),
    (lambda t, a: t.linalg.inv_ex(a, check_errors=True), [np.zeros((2, 3, 3))]),
    (lambda t, a: t.linalg.inv_ex(a, check_errors=True), [[[1., 2.], [2., 4.]]]),
    (lambda t, a: t.linalg.inv_ex(a), [np.ones((2, 3))]),
    (lambda t, a: t.linalg.solve_ex(a, a, check_errors=True), [np.zeros((2, 3, 3))]),
    (lambda t, a, b: t.linalg.solve_ex(a, b), [np.eye(3), np.ones(4)]),
    (lambda t, a: t.linalg.cholesky_ex(a, check_errors=True), [-np.eye(3)[None].repeat(2, 0)]),
    (lambda t, a: t.linalg.cholesky_ex(a, check_errors=True), [[[1., 2.], [2., 1.]]]),
    (lambda t, a: t.linalg.cholesky_ex(a), [np.ones((2, 3))]),
    (lambda t, a, b: t.linalg.lu_solve(*t.linalg.lu_factor(a), b), [np.eye(3), np.ones((2, 1))]),
    (lambda t, a, b: t.linalg.lu_solve(*t.linalg.lu_factor(a), b), [np.eye(3), np.ones(3)]),
    (lambda t, a, b: t.linalg.lu_solve(a, t.ones(3, dtype=t.int64), b),
     [np.eye(3), np.ones((3, 1))]),
    (lambda t, a, b: t.linalg.lu_solve(a, t.ones(2, dtype=t.int32), b),
     [np.eye(3), np.ones((3, 1))]),
    (lambda t, a, b: t.linalg.lu_solve(a, t.ones(2, dtype=t.int32), b),
     [np.ones((2, 3)), np.ones((2, 1))]),
    (lambda t, a: t.lu_unpack(a, t.ones(3)), [np.ones((3, 3))]),
    (lambda t, a: t.lu_unpack(a, t.full((3,), 4, dtype=t.int32)), [np.ones((3, 3))]),
    (lambda t, a: t.linalg.ldl_factor(a), [np.ones((2, 3))]),
    (lambda t, a: t.linalg.householder_product(a, a[0]), [np.ones((2, 3))]),
    (lambda t, a, b: t.linalg.householder_product(a, b), [np.ones((3, 2)), np.ones(3)]),
    (lambda t, a, b: t.linalg.householder_product(a, b), [np.ones((2, 3, 2)), np.ones((3, 2))]),
    (lambda t, b, a: t.cholesky_solve(b, a), [np.ones((3, 1)), np.ones((2, 2))]),
    (lambda t, a: t.cholesky_inverse(a), [np.ones((2, 3))]),
    (lambda t, b, a: t.triangular_solve(b, a), [np.ones((3, 1)), np.ones((2, 2))]),
    (lambda t, a: t.geqrf(a), [np.ones(3)]),
    (lambda t, a, tau, c: t.ormqr(a, tau, c), [np.ones((3, 2)), np.ones(2), np.ones((2, 2))]),
    (lambda t, a, tau, c: t.ormqr(a, tau, c, left=False),
     [np.ones((3, 2)), np.ones(2), np.ones((3, 2))]),
    (lambda t, a, tau, c: t.ormqr(a, tau, c), [np.ones((3, 3)), np.ones(2), np.ones((3, 2))]),
    (lambda t, a: t.linalg.tensorinv(a, ind=0), [np.ones((2, 3, 6))]),
    (lambda t, a: t.linalg.tensorinv(a, ind=1), [np.ones((2, 3, 6))]),
    (lambda t, a, b: t.linalg.tensorsolve(a, b), [np.ones((2, 3, 6)), np.ones((2, 2))]),
], ids=lambda v: "" if callable(v) or isinstance(v, list) else str(v))
def test_factorization_errors_match_torch(fn, arrays):
    same_error(fn, *[np.asarray(a, dtype=float) for a in arrays])


@pytest.mark.parametrize("fn,dtypes", [
    (lambda t, a: t.linalg.lu_factor(a), ["int64"]),
    (lambda t, a: t.linalg.lu_factor_ex(a), ["bool"]),
    (lambda t, a: t.linalg.lu_factor(a), ["float16"]),
    (lambda t, a, b: t.linalg.lu_solve(*t.linalg.lu_factor(a), b), ["float32", "float64"]),
    (lambda t, a: t.linalg.ldl_factor(a), ["int64"]),
    (lambda t, a: t.linalg.cholesky_ex(a), ["float16"]),
    (lambda t, a, b: t.cholesky_solve(a, b), ["float32", "float64"]),
    (lambda t, a, b: t.cholesky_solve(a, b), ["int64", "int64"]),
    (lambda t, a: t.cholesky_inverse(a), ["int64"]),
    (lambda t, a, b: t.triangular_solve(a, b), ["float32", "float64"]),
    (lambda t, a, b: t.linalg.householder_product(a, b[0]), ["float32", "float64"]),
    (lambda t, a, b: t.linalg.householder_product(a, b[0]), ["int64", "int64"]),
    (lambda t, a: t.geqrf(a), ["int64"]),
], ids=lambda v: "-".join(v) if isinstance(v, list) else "")
def test_factorization_dtype_errors_match_torch(fn, dtypes):
    same_error(fn, *[np.eye(3)] * len(dtypes), dtypes=dtypes)


def _symmetric_cases():
    rng = np.random.default_rng(3)
    cases = [np.array([[1., 2., 3.], [2., 1., 4.], [3., 4., 1.]]),
             np.array([[0., 5., 1.], [5., 0., 2.], [1., 2., 0.]]),
             np.array([[0., 1.], [1., 0.]]), np.eye(4) * 1e-3 + np.ones((4, 4))]
    cases += [rng.standard_normal((6, 6)) for _ in range(6)]
    return cases


@pytest.mark.parametrize("dtype,hermitian", [("float64", False), ("complex128", False),
                                             ("complex128", True), ("float32", True)])
def test_ldl_factor_and_solve_match_lapack(dtype, hermitian):
    """Bunch-Kaufman's pivot choices (1x1 and 2x2 blocks, negative pivots) and packed LD
    are LAPACK's sytrf/hetrf ones; ldl_solve solves with them, batches broadcast."""
    rng = np.random.default_rng(4)
    for i, a in enumerate(_symmetric_cases()):
        if dtype.startswith("complex"):
            a = a + 1j * rng.standard_normal(a.shape)
        e = ember.tensor(a, dtype=getattr(ember, dtype))
        t = torch.tensor(a, dtype=getattr(torch, dtype))
        tol = 1e-4 if dtype == "float32" else 1e-10
        got = ember.linalg.ldl_factor_ex(e, hermitian=hermitian)
        want = torch.linalg.ldl_factor_ex(t, hermitian=hermitian)
        assert_same(got, want, tol, tol, f"case {i}")
        b = rng.standard_normal((2,) + a.shape[:1] + (3,))
        eb, tb = ember.tensor(b, dtype=e.dtype), torch.tensor(b, dtype=t.dtype)
        assert_same(ember.linalg.ldl_solve(got.LD, got.pivots, eb, hermitian=hermitian),
                    torch.linalg.ldl_solve(want.LD, want.pivots, tb, hermitian=hermitian),
                    tol * 10, tol * 10, f"solve {i}")


def test_ldl_is_not_differentiable_and_refuses_singular():
    A = ember.eye(3, requires_grad=True)
    assert not ember.linalg.ldl_factor(A).LD.requires_grad
    with pytest.raises(ember.linalg.LinAlgError, match="singular"):
        ember.linalg.ldl_factor(ember.ones(2, 2))


@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 4), (3, 5), (0, 3, 2)])
@pytest.mark.parametrize("dtype", ["float64", "complex128"])
def test_geqrf_matches_lapack(shape, dtype):
    a = _random(shape, dtype)
    assert_same(ember.geqrf(ember.tensor(a)), torch.geqrf(torch.tensor(a)), 1e-12, 1e-12,
                "geqrf")


def test_deprecated_lu_api_warns_and_returns_like_torch():
    a = _random((3, 3), "float64")
    with pytest.warns(UserWarning, match="torch.lu is deprecated"):
        out = ember.lu(ember.tensor(a))
    assert type(out) is tuple and len(out) == 2
    with pytest.warns(UserWarning, match="torch.lu_solve is deprecated"):
        ember.lu_solve(ember.ones(3, 1, dtype=ember.float64), *out)
    assert ember.linalg.lu_factor(ember.tensor(a)).pivots.dtype is ember.int32
    assert ember.linalg.lu_factor(ember.tensor(a)).__class__.__name__ == "linalg_lu_factor"
    for name in ("lu", "lu_factor", "lu_factor_ex", "lu_solve", "solve_ex", "inv_ex",
                 "cholesky_ex", "ldl_factor", "ldl_factor_ex", "ldl_solve",
                 "householder_product", "tensorinv", "tensorsolve"):
        assert callable(getattr(ember.linalg, name)) and hasattr(torch.linalg, name), name
    for name in ("lu", "lu_solve", "cholesky_solve", "cholesky_inverse", "triangular_solve",
                 "geqrf", "orgqr", "ormqr"):
        assert callable(getattr(ember.Tensor, name)), name


LU_GRADIENTS = {
    "lu_factor": (lambda t, a: t.linalg.lu_factor(a).LU, [(2, 4, 4)]),
    "lu_tall": (lambda t, a: t.linalg.lu(a)[1:], [(5, 3)]),
    "lu_wide": (lambda t, a: t.linalg.lu(a)[1:], [(2, 3, 5)]),
    "lu_solve_both": (lambda t, a, b: t.linalg.lu_solve(*t.linalg.lu_factor(a), b, left=False,
                                                         adjoint=True), [(3, 3), (2, 4, 3)]),
    "solve_ex": (lambda t, a, b: t.linalg.solve_ex(a, b).result, [(2, 3, 3), (3, 2)]),
    "inv_ex": (lambda t, a: t.linalg.inv_ex(a).inverse, [(3, 3)]),
    "cholesky_ex": (lambda t, a: t.linalg.cholesky_ex(_spd(t, a)).L, [(3, 4)]),
    "householder_product": (lambda t, a, tau: t.linalg.householder_product(a, tau),
                            [(2, 5, 3), (2, 3)]),
    "ormqr": (lambda t, a, tau, c: t.ormqr(a, tau, c, left=False, transpose=True),
              [(4, 3), (3,), (2, 4)]),
    "cholesky_solve_full_factor": (lambda t, b, l: t.cholesky_solve(b, l), [(3, 2), (3, 3)]),
    "cholesky_inverse_full_factor": (lambda t, u: t.cholesky_inverse(u, upper=True), [(3, 3)]),
    "triangular_solve": (lambda t, b, a: t.triangular_solve(b, a, upper=False,
                                                            unitriangular=True), [(3, 2), (3, 3)]),
    "tensorinv": (lambda t, a: t.linalg.tensorinv(a, ind=1), [(4, 2, 2)]),
    "tensorsolve": (lambda t, a, b: t.linalg.tensorsolve(a, b, dims=(1,)), [(2, 4, 2), (2, 2)]),
}


@pytest.mark.parametrize("name", sorted(LU_GRADIENTS))
def test_lu_family_gradients_match_torch(name):
    """Values and gradients against torch, including the cholesky solvers' gradient for a
    factor whose other triangle is not zero (torch treats the factor as a full matrix)."""
    fn, shapes = LU_GRADIENTS[name]
    check(fn, shapes, low=0.5 if "cholesky" in name else -2.0, atol=1e-8, rtol=1e-6)


def _solve_triangular_outcome(lib, A, B, **kwargs):
    """(result as a NumPy array and dtype name) or (error type, message) of one call."""
    try:
        X = lib.linalg.solve_triangular(lib.tensor(A), lib.tensor(B), **kwargs)
    except Exception as e:  # noqa: BLE001 - the error itself is compared
        return type(e).__name__, str(e)
    return X.numpy(), str(X.dtype).split(".")[-1]


@pytest.mark.parametrize("A, B, kwargs", [
    (np.array([[1.0, 0.0], [2.0, 0.0]]), np.array([[1.0], [1.0]]), {"upper": False}),
    (np.array([[0.0, 1.0], [0.0, 2.0]]), np.array([[1.0, 1.0]]), {"upper": True, "left": False}),
    (np.triu(np.ones((3, 3), np.float32)) * 2, np.ones((3, 2)), {"upper": True}),
    (np.eye(3), np.ones((4, 2)), {"upper": True}),
    (np.eye(3), np.ones((3, 2)), {"upper": True, "left": False}),
    (np.eye(3), np.ones(3), {"upper": True}),
    (np.ones((2, 3)), np.ones((2, 2)), {"upper": True}),
    (np.eye(3, dtype=np.int32), np.ones((3, 1), np.int32), {"upper": True}),
], ids=["singular_gives_inf", "singular_right", "B_takes_A_dtype", "rows", "cols_right",
        "vector_B", "not_square", "integer"])
def test_solve_triangular_values_and_errors_like_torch(A, B, kwargs):
    expected = _solve_triangular_outcome(torch, A, B, **kwargs)
    got = _solve_triangular_outcome(ember, A, B, **kwargs)
    if isinstance(expected[0], str):
        assert got == expected
    else:
        np.testing.assert_array_equal(got[0], expected[0])
        assert got[1] == expected[1]
