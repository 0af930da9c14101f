"""Sorting, searching and comparison ops beyond the generated suite: errors, stability, ties,
NaN ordering and gradients, checked against torch."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

import ember

NAN = float("nan")


def _pair(values, dtype="float32"):
    return ember.tensor(values, dtype=getattr(ember, dtype)), torch.tensor(
        values, dtype=getattr(torch, dtype))


def _same(ours, theirs):
    if isinstance(theirs, (tuple, list)):
        assert len(ours) == len(theirs)
        for o, t in zip(ours, theirs):
            _same(o, t)
        return
    if not isinstance(theirs, torch.Tensor):
        assert ours == theirs
        return
    assert str(ours.dtype) == str(theirs.dtype)
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())


# ---- sort --------------------------------------------------------------------------------------
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dtype", ["int64", "int8", "uint8", "float32", "float16", "bool"])
def test_sort_stable_ties_match_torch(descending, dtype):
    rng = np.random.default_rng(0)
    values = rng.integers(0, 2 if dtype == "bool" else 4, size=(3, 40)).tolist()
    e, t = _pair(values, dtype)
    for dim in (0, 1, -1):
        _same(ember.sort(e, dim, descending, stable=True),
              torch.sort(t, dim=dim, descending=descending, stable=True))


@pytest.mark.parametrize("descending", [False, True])
def test_sort_nan_ordering_matches_torch(descending):
    values = [NAN, 1.0, -float("inf"), NAN, 2.0, float("inf"), -0.0, 0.0, 1.0, NAN]
    e, t = _pair(values, "float64")
    _same(ember.sort(e, descending=descending, stable=True),
          torch.sort(t, descending=descending, stable=True))
    _same(e.argsort(descending=descending, stable=True),
          t.argsort(descending=descending, stable=True))


def test_sort_default_is_stable():
    out = ember.sort(ember.tensor([2, 1, 2, 1, 2]), descending=True)
    assert out.indices.tolist() == [0, 2, 4, 1, 3]
    assert ember.tensor([2, 1, 2, 1]).argsort().tolist() == [1, 3, 0, 2]


def test_sort_returns_named_tuple():
    out = ember.tensor([[3.0, 1.0], [0.0, 2.0]]).sort(0)
    values, indices = out
    assert out.values is values and out.indices is indices
    assert indices.dtype is ember.int64
    assert repr(out).startswith("torch.return_types.sort(\nvalues=tensor(")
    topk_type = type(ember.topk(ember.tensor([1.0, 2.0]), 1))
    again = pickle.loads(pickle.dumps(topk_type(values=1, indices=2)))
    assert type(again) is topk_type and again.values == 1


def test_sort_out_and_msort():
    x = ember.tensor([[3.0, 1.0], [0.0, 2.0]])
    values, indices = ember.empty(0), ember.empty(0, dtype=ember.int64)
    res = ember.sort(x, out=(values, indices))
    assert res.values is values and values.tolist() == [[1.0, 3.0], [0.0, 2.0]]
    assert indices.tolist() == [[1, 0], [0, 1]]
    assert ember.msort(x).tolist() == [[0.0, 1.0], [3.0, 2.0]]


def test_sort_errors():
    with pytest.raises(IndexError, match="Dimension out of range"):
        ember.sort(ember.zeros(2, 3), dim=2)
    with pytest.raises(IndexError, match="Dimension out of range"):
        ember.sort(ember.tensor(1.0), dim=1)
    with pytest.raises(RuntimeError, match="complex"):
        ember.sort(ember.tensor([1 + 1j]))


def _grad(lib, fn, values, dtype="float64"):
    x = lib.tensor(values, dtype=getattr(lib, dtype), requires_grad=True)
    out = fn(lib, x)
    out = out[0] if isinstance(out, tuple) else out
    cot = lib.tensor(np.arange(1, out.numel() + 1, dtype=np.float64).reshape(tuple(out.shape)),
                     dtype=out.dtype)
    (g,) = lib.autograd.grad(out, x, cot)
    return g


@pytest.mark.parametrize("fn", [
    lambda t, x: t.sort(x, dim=0, descending=True, stable=True),
    lambda t, x: t.topk(x, 2, dim=1),
    lambda t, x: t.topk(x, 3, dim=0, largest=False),
    lambda t, x: t.kthvalue(x, 2, dim=1),
    lambda t, x: t.kthvalue(x, 1, dim=0, keepdim=True),
    lambda t, x: t.msort(x),
], ids=["sort", "topk", "topk_smallest", "kthvalue", "kthvalue_keepdim", "msort"])
def test_selection_gradients_scatter_back(fn):
    values = [[0.5, -1.0, 2.0, 3.5], [1.5, 4.0, -2.0, 0.0], [2.5, 3.0, 1.0, -0.5]]
    _same(_grad(ember, fn, values), _grad(torch, fn, values))


def test_sort_double_backward():
    x = ember.tensor([3.0, 1.0, 2.0], dtype=ember.float64, requires_grad=True)
    (g,) = ember.autograd.grad((ember.sort(x).values ** 2).sum(), x, create_graph=True)
    assert g.tolist() == [6.0, 2.0, 4.0]
    (gg,) = ember.autograd.grad(g.sum(), x)
    assert gg.tolist() == [2.0, 2.0, 2.0]


# ---- topk / kthvalue -----------------------------------------------------------------------
def test_topk_k_out_of_range():
    x = ember.zeros(2, 3)
    with pytest.raises(RuntimeError, match="selected index k out of range"):
        ember.topk(x, 4)
    with pytest.raises(RuntimeError, match="selected index k out of range"):
        x.topk(-1)
    with pytest.raises(RuntimeError, match="selected index k out of range"):
        ember.topk(ember.tensor(1.0), 2)
    with pytest.raises(IndexError, match="Dimension out of range"):
        ember.topk(x, 1, dim=2)


def test_topk_errors_for_bool_and_complex():
    with pytest.raises(RuntimeError, match="bool"):
        ember.topk(ember.tensor([True, False]), 1)
    with pytest.raises(RuntimeError, match="complex"):
        ember.topk(ember.tensor([1j, 2j]), 1)


@pytest.mark.parametrize("largest", [True, False])
def test_topk_nan_and_values_match_torch(largest):
    rng = np.random.default_rng(1)
    values = rng.standard_normal((4, 30))
    values[rng.random((4, 30)) < 0.2] = NAN
    e, t = _pair(values.tolist(), "float64")
    for k in (0, 1, 5, 30):
        ours, theirs = ember.topk(e, k, largest=largest), torch.topk(t, k, largest=largest)
        np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
        # the indices point at the values (which index a tie picks is unspecified)
        np.testing.assert_array_equal(np.take_along_axis(values, ours.indices.numpy(), 1),
                                      ours.values.numpy())


def test_topk_ties_come_out_in_input_order():
    out = ember.topk(ember.tensor([1, 3, 2, 3, 3, 0]), 4)
    assert out.values.tolist() == [3, 3, 3, 2]
    assert out.indices.tolist() == [1, 3, 4, 2]


def test_kthvalue_errors():
    x = ember.tensor([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match="selected number k out of range"):
        ember.kthvalue(x, 4)
    with pytest.raises(RuntimeError, match="selected number k out of range"):
        ember.kthvalue(x, 0)
    with pytest.raises(IndexError, match="non-zero size"):
        ember.kthvalue(ember.zeros(0), 1)
    with pytest.raises(NotImplementedError, match="Bool"):
        ember.kthvalue(ember.tensor([True]), 1)


def test_kthvalue_nan_matches_torch():
    e, t = _pair([2.0, NAN, 1.0, 3.0])
    for k in (1, 3, 4):
        _same(ember.kthvalue(e, k), torch.kthvalue(t, k))


# ---- unique ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["int64", "float32", "bool"])
def test_unique_random_matches_torch(dtype):
    rng = np.random.default_rng(2)
    values = rng.integers(0, 2 if dtype == "bool" else 6, size=(5, 7)).tolist()
    e, t = _pair(values, dtype)
    _same(ember.unique(e, return_inverse=True, return_counts=True),
          torch.unique(t, return_inverse=True, return_counts=True))
    _same(e.unique_consecutive(return_inverse=True, return_counts=True),
          t.unique_consecutive(return_inverse=True, return_counts=True))
    for dim in (0, 1):
        _same(ember.unique(e, dim=dim, return_inverse=True, return_counts=True),
              torch.unique(t, dim=dim, return_inverse=True, return_counts=True))


def test_unique_return_forms():
    x = ember.tensor([3, 1, 3])
    assert isinstance(ember.unique(x), ember.Tensor)
    values, counts = ember.unique(x, return_counts=True)
    assert values.tolist() == [1, 3] and counts.tolist() == [1, 2]
    values, inverse = x.unique(sorted=False, return_inverse=True)
    assert inverse.tolist() == [1, 0, 1]


def test_unique_nan_each_distinct():
    e, t = _pair([NAN, 1.0, NAN])
    _same(ember.unique(e, return_counts=True), torch.unique(t, return_counts=True))


def test_unique_errors():
    with pytest.raises(IndexError, match="Dimension out of range"):
        ember.unique(ember.zeros(2, 2), dim=2)
    with pytest.raises(RuntimeError, match="0 sized dimensions"):
        ember.unique(ember.zeros(3, 0), dim=0)


def test_unique_has_no_gradient():
    x = ember.tensor([1.0, 1.0], requires_grad=True)
    assert not ember.unique(x).requires_grad


# ---- searchsorted / bucketize ------------------------------------------------------------------
def test_searchsorted_mismatched_leading_dims():
    seq = ember.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    with pytest.raises(RuntimeError, match="first N-1 dimensions"):
        ember.searchsorted(seq, ember.tensor([[1.0, 2.5]]))
    with pytest.raises(RuntimeError, match="first N-1 dimensions"):
        ember.searchsorted(seq, ember.tensor([1.0, 2.5]))
    with pytest.raises(RuntimeError, match="scalar only when boundaries tensor dimension is 1"):
        ember.searchsorted(seq, 1.0)
    with pytest.raises(RuntimeError, match="positive dimension"):
        ember.searchsorted(ember.tensor(1.0), ember.tensor([1.0]))


def test_searchsorted_argument_errors():
    seq = ember.tensor([1.0, 2.0])
    v = ember.tensor([1.5])
    with pytest.raises(RuntimeError, match="can't be set to opposites"):
        ember.searchsorted(seq, v, right=True, side="left")
    with pytest.raises(RuntimeError, match="'left' or 'right'"):
        ember.searchsorted(seq, v, side="mid")
    with pytest.raises(RuntimeError, match="long dtype"):
        ember.searchsorted(seq, v, sorter=ember.tensor([0, 1], dtype=ember.int32))
    with pytest.raises(RuntimeError, match="same size"):
        ember.searchsorted(seq, v, sorter=ember.tensor([0, 1, 1]))
    with pytest.raises(RuntimeError, match="sorter index out of range"):
        ember.searchsorted(seq, v, sorter=ember.tensor([0, 5]))
    with pytest.raises(NotImplementedError, match="Bool"):
        ember.searchsorted(ember.tensor([False, True]), ember.tensor([True]))
    with pytest.raises(RuntimeError, match="must be 1 dimension"):
        ember.bucketize(v, ember.tensor([[1.0, 2.0]]))


@pytest.mark.parametrize("right", [False, True])
def test_searchsorted_with_nans_matches_torch(right):
    rng = np.random.default_rng(3)
    for n in (1, 2, 3, 5, 8, 13, 33):
        seq = rng.integers(0, 4, size=(6, n)).astype(np.float64)
        seq[rng.random((6, n)) < 0.3] = NAN
        seq.sort(axis=1)
        vals = rng.integers(-1, 5, size=(6, 4)).astype(np.float64)
        vals[rng.random((6, 4)) < 0.2] = NAN
        es, ts = _pair(seq.tolist(), "float64")
        ev, tv = _pair(vals.tolist(), "float64")
        _same(ember.searchsorted(es, ev, right=right), torch.searchsorted(ts, tv, right=right))
        _same(ember.searchsorted(es[0], ev, right=right),
              torch.searchsorted(ts[0], tv, right=right))


def test_searchsorted_batched_sorter_matches_torch():
    rng = np.random.default_rng(4)
    seq = rng.integers(0, 9, size=(2, 3, 6))
    sorter = np.argsort(seq, axis=-1, kind="stable")
    vals = rng.integers(-1, 10, size=(2, 3, 5))
    for side in ("left", "right"):
        ours = ember.searchsorted(ember.tensor(seq), ember.tensor(vals), side=side,
                                  sorter=ember.tensor(sorter), out_int32=True)
        theirs = torch.searchsorted(torch.tensor(seq), torch.tensor(vals), side=side,
                                    sorter=torch.tensor(sorter), out_int32=True)
        _same(ours, theirs)


def test_searchsorted_scalar_and_out():
    seq = ember.tensor([1, 2, 3])
    assert ember.searchsorted(seq, 2.5).shape == () and int(ember.searchsorted(seq, 2.5)) == 2
    out = ember.empty(0, dtype=ember.int64)
    ember.bucketize(ember.tensor([0.0, 2.0, 9.0]), seq.float(), out=out)
    assert out.tolist() == [0, 1, 3]


# ---- bincount / histc / histogram --------------------------------------------------------------
def test_bincount_errors():
    with pytest.raises(RuntimeError, match="non-negative"):
        ember.bincount(ember.tensor([1, -1, 4]))
    with pytest.raises(NotImplementedError, match="Float"):
        ember.bincount(ember.tensor([1.0, 2.0]))
    with pytest.raises(NotImplementedError, match="Bool"):
        ember.bincount(ember.tensor([True]))
    with pytest.raises(RuntimeError, match="1-d"):
        ember.bincount(ember.tensor([[1, 2]]))
    with pytest.raises(RuntimeError, match="minlength"):
        ember.bincount(ember.tensor([1]), minlength=-1)
    with pytest.raises(RuntimeError, match="same length"):
        ember.bincount(ember.tensor([1, 2]), weights=ember.tensor([1.0]))


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "float16"])
def test_bincount_weight_dtypes_match_torch(dtype):
    x = [0, 3, 3, 1]
    w = [0.5, 1.0, 2.0, 3.0]
    _same(ember.bincount(ember.tensor(x), ember.tensor(w, dtype=getattr(ember, dtype))),
          torch.bincount(torch.tensor(x), torch.tensor(w, dtype=getattr(torch, dtype))))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_histc_random_matches_torch(dtype):
    rng = np.random.default_rng(5)
    values = np.round(rng.uniform(-3, 3, size=500), 2).tolist()
    e, t = _pair(values, dtype)
    for bins, lo, hi in ((10, 0, 0), (7, -1, 1), (13, -3, 3), (3, -2.5, 0.7)):
        _same(ember.histc(e, bins, lo, hi), torch.histc(t, bins, lo, hi))


def test_histc_errors():
    with pytest.raises(NotImplementedError, match="Long"):
        ember.histc(ember.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="bins must be > 0"):
        ember.histc(ember.tensor([1.0]), bins=0)
    with pytest.raises(RuntimeError, match="max must be larger than min"):
        ember.histc(ember.tensor([1.0]), bins=3, min=3, max=0)
    with pytest.raises(RuntimeError, match="not finite"):
        ember.histc(ember.tensor([1.0, NAN]), bins=3)
    assert ember.histc(ember.tensor([1.0, NAN]), bins=2, min=0, max=2).tolist() == [0.0, 1.0]


def test_histogram_random_matches_torch():
    rng = np.random.default_rng(6)
    values = np.round(rng.uniform(-3, 3, size=300), 2).tolist()
    e, t = _pair(values)
    _same(ember.histogram(e, 9), torch.histogram(t, 9))
    _same(ember.histogram(e), torch.histogram(t))
    _same(e.histogram(), t.histogram())
    _same(e.histogram(5, range=(-1.0, 2.0)), t.histogram(5, range=(-1.0, 2.0)))
    with pytest.raises(RuntimeError, match="same dtype"):
        ember.histogram(e, 3, weight=ember.ones(300, dtype=ember.float64))
    with pytest.raises(RuntimeError, match="min should not exceed max"):
        ember.histogram(e, 3, range=(2.0, 1.0))
    with pytest.raises(RuntimeError, match="not finite"):
        ember.histogram(ember.tensor([1.0, float("inf")]), 3)


# ---- cdist -------------------------------------------------------------------------------------
def test_cdist_errors():
    a = ember.zeros(3, 2)
    with pytest.raises(RuntimeError, match="floating-point"):
        ember.cdist(ember.zeros(3, 2, dtype=ember.int64), a)
    with pytest.raises(RuntimeError, match="at least 2D"):
        ember.cdist(ember.zeros(2), a)
    with pytest.raises(RuntimeError, match="same number of columns"):
        ember.cdist(a, ember.zeros(3, 4))
    with pytest.raises(RuntimeError, match="non-negative p"):
        ember.cdist(a, a, p=-1)
    with pytest.raises(RuntimeError, match="same dtype"):
        ember.cdist(a, a.double())
    with pytest.raises(ValueError, match="compute_mode"):
        ember.cdist(a, a, compute_mode="fast")
    with pytest.raises(RuntimeError, match=r"tensor a \(2\) must match the size of tensor b "
                       r"\(4\) at non-singleton dimension 0"):
        ember.cdist(ember.zeros(2, 3, 2), ember.zeros(4, 5, 2))


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, float("inf")])
def test_cdist_gradient_with_zero_distances_matches_torch(p):
    a = [[0.0, 0.0], [1.0, 2.0]]
    b = [[0.0, 0.0], [3.0, 1.0], [1.0, 2.0]]
    grads = []
    for lib in (ember, torch):
        x1 = lib.tensor(a, dtype=lib.float64, requires_grad=True)
        x2 = lib.tensor(b, dtype=lib.float64, requires_grad=True)
        d = lib.cdist(x1, x2, p=p)
        grads.append((d,) + tuple(lib.autograd.grad(d.sum(), (x1, x2))))
    for ours, theirs in zip(*grads):
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), atol=1e-12)


def test_cdist_large_uses_matmul_like_torch():
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal((30, 4)), rng.standard_normal((27, 4))
    ours = ember.cdist(ember.tensor(a), ember.tensor(b))
    theirs = torch.cdist(torch.tensor(a), torch.tensor(b))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5)
    exact = ember.cdist(ember.tensor(a), ember.tensor(a),
                        compute_mode="donot_use_mm_for_euclid_dist")
    assert np.all(np.diag(exact.numpy()) == 0.0)


# ---- equal / allclose / predicates -------------------------------------------------------------
def test_equal_cases():
    assert ember.equal(ember.tensor([1, 2]), ember.tensor([1.0, 2.0]))
    assert not ember.equal(ember.tensor([1, 2]), ember.tensor([[1, 2]]))
    assert not ember.equal(ember.tensor([NAN]), ember.tensor([NAN]))
    assert ember.tensor([True]).equal(ember.tensor([1]))
    with pytest.raises(TypeError, match="must be Tensor"):
        ember.equal(ember.tensor([1.0]), 1.0)


_INT_CLOSE = [([1, 2], [2, 1], {"atol": 1}), ([1, 2], [2, 1], {"atol": 0.5}),
               ([1, 2], [1, 3], {"rtol": 0.34}), ([100], [2], {"atol": 97.9, "rtol": 0.5})]
_FLOAT_CLOSE = [([1e-9], [0.0], {}), ([float("inf")], [float("inf")], {}),
                ([float("inf")], [-float("inf")], {}), ([1e38], [float("inf")], {"rtol": 10}),
                ([NAN], [NAN], {"equal_nan": True}), ([NAN], [NAN], {})]


@pytest.mark.parametrize("a,b,kw,dtype", [
    case + (dt,) for dt in ("uint8", "int8", "float32", "float64")
    for case in _INT_CLOSE + (_FLOAT_CLOSE if dt.startswith("float") else [])])
def test_allclose_matches_torch(a, b, kw, dtype):
    ea, ta = _pair(a, dtype)
    eb, tb = _pair(b, dtype)
    assert ember.allclose(ea, eb, **kw) == torch.allclose(ta, tb, **kw)


def test_allclose_errors():
    with pytest.raises(RuntimeError, match="Long did not match Float"):
        ember.allclose(ember.tensor([1, 2]), ember.tensor([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="rtol must be greater than or equal to zero"):
        ember.allclose(ember.tensor([1.0]), ember.tensor([1.0]), rtol=-1)
    with pytest.raises(RuntimeError, match=r"size of tensor a \(2\) must match"):
        ember.allclose(ember.tensor([1.0, 2.0]), ember.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(TypeError, match="must be Tensor"):
        ember.allclose(ember.tensor([1.0]), 1.0)


def test_predicates():
    x = ember.zeros(2, 3)
    assert ember.numel(x) == 6
    assert ember.is_floating_point(x) and not ember.is_floating_point(x.long())
    assert ember.is_complex(ember.tensor([1j])) and not ember.is_complex(x)
    assert ember.is_storage(x) is False
    assert ember.is_nonzero(ember.tensor([[3]])) and not ember.is_nonzero(ember.tensor([0.0]))
    assert ember.tensor(NAN).is_nonzero()
    with pytest.raises(RuntimeError, match="no values"):
        ember.is_nonzero(ember.tensor([]))
    with pytest.raises(RuntimeError, match="more than one value"):
        ember.is_nonzero(ember.tensor([1, 2]))
    with pytest.raises(TypeError, match="must be Tensor"):
        ember.numel(3)


def test_tensor_methods_exist_like_torch():
    for name in ("sort", "argsort", "msort", "topk", "kthvalue", "unique", "unique_consecutive",
                 "bincount", "histc", "histogram", "equal", "allclose", "is_nonzero"):
        assert hasattr(ember.Tensor, name), name
    for name in ("searchsorted", "bucketize", "cdist", "is_storage", "numel"):
        assert callable(getattr(ember, name)), name
