"""Reductions beyond the generated suite: torch's error types and messages, dtype rules, result
tuples, NaN/empty/0-d behaviour, tie-breaking, and gradients at the awkward points (zeros, ties,
-inf rows), each checked against torch."""
from __future__ import annotations

import doctest
import pickle
import types
import warnings

import numpy as np
import pytest
import torch

import ember
from ember._ops import reduction

from .harness import assert_same

NAN, INF = float("nan"), float("inf")
DTYPES = ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32",
          "float64")


def both(fn, *values, dtype="float32", grad=False):
    """fn(lib, *tensors) for torch and ember on the same data."""
    out = []
    for lib in (torch, ember):
        args = [lib.tensor(v, dtype=getattr(lib, dtype), requires_grad=grad) for v in values]
        out.append(fn(lib, *args))
    return out


def same(fn, *values, dtype="float32", atol=1e-6, rtol=1e-6):
    expected, got = both(fn, *values, dtype=dtype)
    assert_same(got, expected, atol, rtol, getattr(fn, "__name__", "fn"))


def same_grad(fn, *values, dtype="float64", cotangent=None):
    """Gradients of sum(fn(x) * cotangent) agree with torch (NaN where torch has NaN)."""
    grads = []
    for lib in (torch, ember):
        xs = [lib.tensor(v, dtype=getattr(lib, dtype), requires_grad=True) for v in values]
        y = fn(lib, *xs)
        w = lib.ones_like(y) if cotangent is None else lib.tensor(cotangent, dtype=y.dtype)
        grads.append(lib.autograd.grad((y * w).sum(), xs))
    assert_same(grads[1], grads[0], 1e-10, 1e-8, "grad")


def same_error(fn, *values, dtype="float32", match=None):
    """torch and ember raise the same exception type; ember's message matches `match`."""
    with pytest.raises(Exception) as expected:
        fn(torch, *[torch.tensor(v, dtype=getattr(torch, dtype)) for v in values])
    with pytest.raises(expected.type, match=match):
        fn(ember, *[ember.tensor(v, dtype=getattr(ember, dtype)) for v in values])


X = [[1.0, -3.0, 3.0, 0.5], [2.0, 2.0, 0.0, -1.0], [0.25, 4.0, -2.0, 1.5]]


# ---- errors -------------------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["sum", "mean", "prod", "amax", "amin", "max", "min", "argmax",
                                "argmin", "var", "std", "logsumexp", "cumsum", "cumprod",
                                "cummax", "cummin", "logcumsumexp", "all", "any",
                                "count_nonzero", "median", "nanmedian", "mode", "nansum",
                                "nanmean"])
def test_dim_out_of_range(op):
    same_error(lambda t, x, op=op: getattr(x, op)(2), X,
               match=r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)")
    same_error(lambda t, x, op=op: getattr(x, op)(-3), X, match="Dimension out of range")


@pytest.mark.parametrize("op", ["sum", "mean", "amax", "amin", "var", "std", "logsumexp",
                                "all", "any", "count_nonzero", "nansum"])
def test_repeated_dims(op):
    same_error(lambda t, x, op=op: getattr(x, op)((1, -1)), X,
               match="dim 1 appears multiple times in the list of dims")


def test_zero_dim_accepts_dim_0_and_minus_1():
    for op in ("sum", "mean", "prod", "amax", "logsumexp", "cumsum", "cumprod", "logcumsumexp",
               "all", "count_nonzero"):
        same(lambda t, x, op=op: getattr(x, op)(0), 2.5)
        same(lambda t, x, op=op: getattr(x, op)(-1), 2.5)
        same_error(lambda t, x, op=op: getattr(x, op)(1), 2.5, match="Dimension out of range")
    for op in ("max", "min", "median", "nanmedian", "mode", "cummax", "cummin"):
        same(lambda t, x, op=op: tuple(getattr(x, op)(0)), 2.5)
    same(lambda t, x: x.sum(0, keepdim=True), 2.5)
    same(lambda t, x: x.argmax(0), 2.5)


def test_mean_of_integers_is_an_error():
    same_error(lambda t, x: x.mean(), [1, 2], dtype="int64",
               match="mean\\(\\): could not infer output dtype. Input dtype must be either a "
                     "floating point or complex dtype. Got: Long")
    same_error(lambda t, x: x.mean(), [True], dtype="bool", match="Got: Bool")
    same_error(lambda t, x: x.mean(dtype=t.int32), [1.0], match="Optional dtype .* Got: Int")
    same(lambda t, x: x.mean(dtype=t.float64), [1, 2], dtype="int64")
    same_error(lambda t, x: x.nanmean(), [1, 2], dtype="int64",
               match="nanmean\\(\\): expected input to have floating point")


def test_empty_reductions_without_identity():
    same_error(lambda t, x: x.max(), [], match="max\\(\\): Expected reduction dim to be "
                                               "specified for input.numel\\(\\) == 0")
    same_error(lambda t, x: x.min(), [], match="min\\(\\): Expected reduction dim")
    same_error(lambda t, x: x.reshape(0, 3).max(0), [],
               match="max\\(\\): Expected reduction dim 0 to have non-zero size")
    same_error(lambda t, x: x.reshape(0, 3).amax(0), [], match="amax\\(\\): Expected reduction")
    same_error(lambda t, x: x.reshape(3, 0).amin(), [], match="amin\\(\\): Expected reduction")
    same_error(lambda t, x: x.argmax(), [], match="argmax\\(\\): Expected reduction dim to be "
                                                  "specified")
    same_error(lambda t, x: x.reshape(0, 2).argmin(0), [], match="argmin\\(\\): Expected")
    same_error(lambda t, x: x.aminmax(), [], match="aminmax\\(\\): cannot compute aminmax")
    same_error(lambda t, x: x.reshape(0, 2).median(0), [], match="median\\(\\): Expected")
    same_error(lambda t, x: x.mode(), [], match="mode\\(\\): Expected reduction dim 0")
    same_error(lambda t, x: t.linalg.vector_norm(x, INF) if t is torch else
               reduction.vector_norm(x, INF), [],
               match="cannot compute the inf norm on an empty tensor")
    same_error(lambda t, x: x.norm(-1), [], match="cannot compute the -1 norm")
    # reductions with an identity, or over non-empty dims of an empty tensor, are fine
    for fn in (lambda t, x: x.sum(), lambda t, x: x.prod(), lambda t, x: x.mean(),
               lambda t, x: x.logsumexp(0), lambda t, x: x.norm(), lambda t, x: x.all(),
               lambda t, x: x.any(), lambda t, x: x.count_nonzero(), lambda t, x: x.median(),
               lambda t, x: tuple(x.reshape(0, 2).max(1)),
               lambda t, x: x.reshape(0, 2).amax(1), lambda t, x: x.reshape(2, 0).norm(INF, 0),
               lambda t, x: tuple(x.reshape(0, 2).cummax(0)), lambda t, x: x.cumsum(0),
               lambda t, x: tuple(x.reshape(0, 3).aminmax(dim=1))):
        same(fn, [])
    same_error(lambda t, x: x.reshape(0, 3).aminmax(dim=0), [],
               match="Expected reduction dim 0 to have non-zero size")
    same(lambda t, x: (x.median(), x.nanmedian()), [], dtype="int64")


def test_argmax_of_bool_is_an_error():
    same_error(lambda t, x: x.argmax(), [True, False], dtype="bool",
               match="argmax\\(\\): does not support bool input")


def test_var_with_too_large_correction_warns_and_gives_inf_or_nan():
    for fn, data in ((lambda t, x: x.var(), [[1.0]]), (lambda t, x: x.std(1, correction=5), X),
                     (lambda t, x: x.var(1, correction=4), X),
                     (lambda t, x: t.var_mean(x), [[1.0]]),
                     (lambda t, x: t.std_mean(x, 0, correction=3), X)):
        with pytest.warns(UserWarning, match="degrees of freedom is <= 0"):
            expected = fn(torch, torch.tensor(data))
        with pytest.warns(UserWarning, match="degrees of freedom is <= 0"):
            got = fn(ember, ember.tensor(data))
        assert_same(got, expected, 1e-6, 1e-6)
    with pytest.warns(UserWarning, match="var\\(\\): degrees of freedom"):
        assert np.isnan(ember.tensor([]).var().item())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same(lambda t, x: x.var(1, correction=3.5), X)


def test_var_argument_errors():
    same_error(lambda t, x: x.var(), [1, 2], dtype="int64",
               match="std and var only support floating point and complex dtypes")
    with pytest.raises(TypeError):
        ember.tensor(X).var(1, unbiased=False, correction=0)
    same(lambda t, x: x.var(False), X)
    same(lambda t, x: t.std(x, 1, True, True), X)
    same(lambda t, x: x.var(dim=(0, 1), unbiased=False), X)


def test_other_dtype_errors():
    same_error(lambda t, x: x.logcumsumexp(0), [1, 2], dtype="int64",
               match="logcumsumexp.* not implemented for 'Long'")
    same_error(lambda t, x: x.norm(), [1, 2], dtype="int64",
               match="linalg.vector_norm: Expected a floating point or complex tensor as input. "
                     "Got Long")
    with pytest.raises(RuntimeError, match="dtype should be floating point or complex"):
        reduction.vector_norm(ember.tensor([1.0]), dtype=ember.int64)
    with pytest.raises(RuntimeError, match="without narrowing to the specified dtype \\(Half\\)"):
        reduction.vector_norm(ember.tensor([1.0]), dtype=ember.float16)
    same_error(lambda t, x: x.median(), [True], dtype="bool", match="not implemented for 'Bool'")
    same_error(lambda t, x: x.prod((0, 1)), X)
    same_error(lambda t, x: x.norm("abc"), X, match="Order abc not supported")


def test_quantile_errors():
    q = lambda t, v: t.tensor(v)  # noqa: E731
    same_error(lambda t, x: x.quantile(1.3), X, match="q must be in the range \\[0, 1\\] but got "
                                                       "1.3")
    same_error(lambda t, x: x.quantile(q(t, [0.2, 1.5])), X,
               match="q values must be in the range \\[0, 1\\]")
    same_error(lambda t, x: x.quantile(q(t, [[0.5]])), X, match="q must be a scalar or 1D")
    same_error(lambda t, x: x.quantile(q(t, [0.5])), X, dtype="float64",
               match="q tensor must be same dtype as the input tensor")
    same_error(lambda t, x: x.quantile(0.5), [1, 2], dtype="int64",
               match="input tensor must be either float or double dtype")
    same_error(lambda t, x: x.quantile(0.5), [1, 2], dtype="float16")
    same_error(lambda t, x: x.nanquantile(0.5), [], match="nanquantile\\(\\) input tensor must "
                                                          "be non-empty")
    same_error(lambda t, x: x.quantile(0.5, interpolation="foo"), X,
               match="interpolation must be one of linear, lower, higher, midpoint or nearest")


# ---- dtypes and dims ----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_result_dtypes(dtype):
    data = [[1, 0, 2], [3, 1, 1]]
    for fn in (lambda t, x: x.sum(), lambda t, x: x.sum(1), lambda t, x: x.prod(0),
               lambda t, x: x.cumsum(1), lambda t, x: x.cumprod(0), lambda t, x: x.nansum(),
               lambda t, x: x.amax(1), lambda t, x: tuple(x.min(0)), lambda t, x: x.all(1),
               lambda t, x: x.any(), lambda t, x: x.count_nonzero(0),
               lambda t, x: tuple(x.cummax(1)), lambda t, x: tuple(x.aminmax(dim=0))):
        same(fn, data, dtype=dtype, atol=1e-2, rtol=1e-2)
    for fn in (lambda t, x: x.sum(dtype=t.float64), lambda t, x: x.prod(dtype=t.int32),
               lambda t, x: x.cumsum(0, dtype=t.int16), lambda t, x: x.sum(0, dtype=t.bool)):
        same(fn, data, dtype=dtype, atol=1e-2, rtol=1e-2)


def test_half_precision_accumulates_in_float32():
    for dtype in ("float16", "bfloat16"):
        same(lambda t, x: x.sum(), [1.0] * 4096, dtype=dtype)
        same(lambda t, x: x.mean(), [1.0] * 4096, dtype=dtype)
        same(lambda t, x: x.cumsum(0)[-1], [1.0] * 4096, dtype=dtype)
        same(lambda t, x: x.var(), [1.0, 2.0] * 2048, dtype=dtype, atol=1e-2)
        same(lambda t, x: x.norm(), [1.0] * 4096, dtype=dtype, atol=1e-2)


def test_empty_dim_list_means_all_dims_except_for_all_and_any():
    for op in ("sum", "mean", "amax", "amin", "var", "std", "count_nonzero", "nansum",
               "nanmean"):
        same(lambda t, x, op=op: getattr(x, op)(()), X)
        same(lambda t, x, op=op: getattr(x, op)([]), X)
    same(lambda t, x: x.sum((), keepdim=True), X)
    same(lambda t, x: x.norm(dim=()), X)
    same(lambda t, x: x.all(()), X)
    same(lambda t, x: x.any(dim=()), X)


def test_keepdim_and_negative_dims():
    x = np.random.default_rng(0).uniform(-2, 2, (2, 3, 4)).tolist()
    for op in ("sum", "mean", "prod", "amax", "var", "logsumexp", "all", "nansum"):
        same(lambda t, x, op=op: getattr(x, op)(-1, keepdim=True), x)
        same(lambda t, x, op=op: getattr(t, op)(x, -2), x)
    for op in ("max", "min", "median", "mode"):
        same(lambda t, x, op=op: tuple(getattr(x, op)(-2, keepdim=True)), x)
    same(lambda t, x: x.argmax(-1, keepdim=True), x)
    same(lambda t, x: x.argmin(keepdim=True), x)
    same(lambda t, x: x.norm(3, (-1, 0), keepdim=True), x)
    same(lambda t, x: x.quantile(0.3, -2, keepdim=True), x)


def test_keyword_and_functional_forms():
    same(lambda t, x: (tuple(t.max(x, dim=1, keepdim=True)), t.argmax(x, dim=None, keepdim=True),
                       t.var(x, dim=1, unbiased=True, keepdim=True), t.std_mean(x, dim=1),
                       t.amin(x, dim=(0, 1)), t.cumsum(x, dim=0), tuple(t.cummin(x, dim=1)),
                       t.logsumexp(x, dim=1), t.quantile(x, q=0.5, dim=1),
                       t.count_nonzero(x, dim=1), tuple(t.mode(x, dim=0)),
                       t.prod(x, dim=1, keepdim=True)), X)


def test_out_arguments():
    x = ember.tensor(X)
    out = ember.empty(0)
    assert ember.sum(x, 1, out=out) is out
    np.testing.assert_allclose(out.numpy(), torch.tensor(X).sum(1).numpy())
    values, indices = ember.empty(0), ember.empty(0, dtype=ember.int64)
    result = ember.max(x, 1, out=(values, indices))
    assert isinstance(result, reduction.return_types.max)
    assert result.values is values and result.indices is indices
    assert indices.tolist() == torch.tensor(X).max(1).indices.tolist()
    lo, hi = ember.empty(0), ember.empty(0)
    ember.aminmax(x, out=(lo, hi))
    assert (lo.item(), hi.item()) == (-3.0, 4.0)
    out = ember.empty(0)
    ember.quantile(x, 0.5, dim=0, out=out)
    np.testing.assert_allclose(out.numpy(), torch.tensor(X).quantile(0.5, dim=0).numpy())


def test_in_place_cumulative_ops():
    for dtype in ("float32", "int32"):
        x = ember.tensor([[1, 2, 3], [4, 5, 6]], dtype=getattr(ember, dtype))
        y = torch.tensor([[1, 2, 3], [4, 5, 6]], dtype=getattr(torch, dtype))
        assert x.cumsum_(1) is x
        y.cumsum_(1)
        x.cumprod_(0)
        y.cumprod_(0)
        assert_same(x, y, 0, 0)


# ---- result tuples ------------------------------------------------------------------------------
def test_named_result_tuples():
    x = ember.tensor(X)
    for op, fields in (("max", ("values", "indices")), ("min", ("values", "indices")),
                       ("median", ("values", "indices")), ("nanmedian", ("values", "indices")),
                       ("mode", ("values", "indices")), ("cummax", ("values", "indices")),
                       ("cummin", ("values", "indices"))):
        result = getattr(x, op)(1)
        assert isinstance(result, tuple) and type(result).__name__ == op
        assert result._fields == fields
        assert result[0] is result.values and result[1] is result.indices
        assert repr(result).startswith(f"torch.return_types.{op}(\nvalues=tensor(")
        values, indices = result
        assert indices.dtype is ember.int64
        again = pickle.loads(pickle.dumps(result))
        assert type(again) is type(result) and again.values.tolist() == values.tolist()
    mm = x.aminmax()
    assert mm._fields == ("min", "max") and repr(mm).startswith("torch.return_types.aminmax(")
    assert ember.return_types.max is reduction.return_types.max
    assert isinstance(ember.var_mean(x), tuple)


# ---- values: NaN, ties, inf ---------------------------------------------------------------------
def test_max_min_ties_take_the_first_index_and_nan_propagates():
    data = [[1.0, 3.0, 3.0], [2.0, 2.0, 0.0], [NAN, 1.0, NAN], [-INF, -INF, INF]]
    for op in ("max", "min"):
        same(lambda t, x, op=op: tuple(getattr(x, op)(1)), data)
        same(lambda t, x, op=op: getattr(x, op)(), data)
    for op in ("argmax", "argmin", "amax", "amin"):
        same(lambda t, x, op=op: getattr(x, op)(1), data)
    same(lambda t, x: x.argmax(), data)
    same(lambda t, x: tuple(x.aminmax(dim=1)), data)


def test_cummax_cummin_take_the_latest_index_and_follow_nan():
    rng = np.random.default_rng(1)
    for _ in range(20):
        data = rng.integers(0, 4, (3, 9)).astype(float)
        data[rng.random(data.shape) < 0.15] = NAN
        for op in ("cummax", "cummin"):
            same(lambda t, x, op=op: tuple(getattr(x, op)(1)), data.tolist())
            same(lambda t, x, op=op: tuple(getattr(x, op)(0)), data.tolist(), dtype="float64")
    same(lambda t, x: tuple(x.cummax(0)), [False, True, True, False], dtype="bool")


def test_median_matches_torch_including_ties_and_nan():
    rng = np.random.default_rng(2)
    for n in (1, 2, 5, 8, 13, 30):
        data = rng.integers(0, 4, (3, n)).astype(float)
        same(lambda t, x: tuple(x.median(1)), data.tolist())
        same(lambda t, x: x.median(), data.tolist())
        data[rng.random(data.shape) < 0.3] = NAN
        same(lambda t, x: x.median(), data.tolist())
        same(lambda t, x: x.nanmedian(), data.tolist())
        for op in ("median", "nanmedian"):
            expected, got = both(lambda t, x, op=op: getattr(x, op)(1), data.tolist())
            assert_same(got.values, expected.values, 0, 0)
            for r in range(3):  # the index torch reports for an all-NaN row is arbitrary
                if op == "median" or not np.isnan(data[r]).all():
                    assert got.indices[r].item() == expected.indices[r].item()
    same(lambda t, x: x.median(), [3, 1, 2, 4], dtype="int64")


def test_mode_smallest_most_frequent_value_and_last_index():
    rng = np.random.default_rng(3)
    for _ in range(30):
        n = int(rng.integers(1, 17))
        data = rng.integers(0, 4, (4, n))
        for dtype in ("int64", "float32", "uint8"):
            same(lambda t, x: tuple(x.mode(1)), data.tolist(), dtype=dtype)
            same(lambda t, x: tuple(x.mode(0, keepdim=True)), data.T.tolist(), dtype=dtype)
    # beyond 16 elements torch's index among equal values follows its sort: compare values only
    data = rng.integers(0, 3, (2, 60)).tolist()
    expected, got = both(lambda t, x: x.mode().values, data, dtype="int64")
    assert_same(got, expected, 0, 0)


@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
def test_quantile_matches_torch(interpolation):
    rng = np.random.default_rng(4)
    q = rng.uniform(0, 1, 7).tolist() + [0.0, 0.125, 0.375, 0.5, 0.625, 1.0]
    for shape in ((9,), (3, 5), (2, 3, 4)):
        data = rng.integers(-3, 4, shape).astype(float)
        for dim in (None, 0, -1):
            for keepdim in (False, True):
                for dtype in ("float32", "float64"):
                    def fn(t, x, dim=dim, keepdim=keepdim):
                        return (t.quantile(x, t.tensor(q, dtype=x.dtype), dim, keepdim,
                                           interpolation=interpolation),
                                x.quantile(0.3, dim, keepdim, interpolation=interpolation))
                    same(fn, data.tolist(), dtype=dtype, atol=1e-5)
        data[rng.random(shape) < 0.3] = NAN
        for dim in (None, 0, -1):
            same(lambda t, x, dim=dim: (x.quantile(t.tensor(q), dim, interpolation=interpolation),
                               x.nanquantile(t.tensor(q), dim, interpolation=interpolation)),
                 data.tolist(), atol=1e-5)


def test_quantile_with_infinities_follows_torch_lerp():
    data = [[INF, INF, 1.0], [-INF, INF, 0.0], [1.0, INF, -INF]]
    for interpolation in ("linear", "midpoint", "lower", "higher", "nearest"):
        same(lambda t, x, m=interpolation: x.quantile(t.tensor([0.0, 0.5, 0.75, 1.0]), dim=1,
                                                      interpolation=m), data)


def test_logsumexp_is_stable():
    data = [[-INF, -INF], [INF, 1.0], [INF, INF], [NAN, 1.0], [1000.0, 1000.0],
            [-1000.0, -1001.0]]
    same(lambda t, x: x.logsumexp(1), data)
    same(lambda t, x: x.logsumexp(1), data, dtype="float16")
    same(lambda t, x: x.logsumexp((0, 1)), [[1, 2], [3, 4]], dtype="int64")
    same(lambda t, x: x.logcumsumexp(0), [-1000.0, 0.0, -INF, INF, 1.0])
    same(lambda t, x: x.logcumsumexp(0), [-INF, -INF, 1.0, NAN, 2.0])
    same(lambda t, x: x.logcumsumexp(1), [[800.0, 799.0, -900.0]], dtype="float64")


def test_norm_orders():
    x = np.random.default_rng(5).uniform(-2, 2, (3, 4))
    x[0, 1] = 0.0
    for p in (2, 1, 0, 3, 0.5, -1, -2.5, INF, -INF, None, "fro"):
        same(lambda t, x, p=p: x.norm(p), x.tolist(), atol=1e-5)
        same(lambda t, x, p=p: x.norm(p, dim=1, keepdim=True), x.tolist(), atol=1e-5)
    same(lambda t, x: x.norm(dtype=t.float64), x.tolist())
    same(lambda t, x: x.norm(), [3 + 4j, 1 - 1j], dtype="complex64")
    same(lambda t, x: (x.norm("nuc"), x[None].norm("nuc", dim=(1, 2), keepdim=True)),
         x.tolist(), atol=1e-5)
    expected = torch.linalg.vector_norm(torch.tensor(x), 3, dim=(0, 1))
    got = reduction.vector_norm(ember.tensor(x), 3, dim=(0, 1))
    assert_same(got, expected, 1e-6, 1e-6)


def test_all_any_count_nonzero():
    data = [[0, 2, 1], [3, 0, 0]]
    for dtype in DTYPES:
        same(lambda t, x: (x.all(), x.any(1), x.all(0, keepdim=True), x.any((0, 1))), data,
             dtype=dtype)
        same(lambda t, x: (x.count_nonzero(), x.count_nonzero(1), x.count_nonzero((0, 1))),
             data, dtype=dtype)
    same(lambda t, x: (x.any(), x.count_nonzero()), [NAN, 0.0])


def test_nan_aware_sums():
    data = [[1.0, NAN, 2.0], [NAN, NAN, NAN]]
    same(lambda t, x: (x.nansum(), x.nansum(1), x.nanmean(), x.nanmean(1, keepdim=True)), data)
    same(lambda t, x: x.nanmean(dtype=t.float64), data)
    same(lambda t, x: x.nansum(), [[1, 2]], dtype="int32")


def test_max_with_other_is_the_elementwise_maximum():
    same(lambda t, x, y: (t.max(x, y), t.min(x, y), x.max(y)), X, X[::-1])


# ---- gradients ----------------------------------------------------------------------------------
def test_prod_gradient_with_zeros():
    for data in ([2.0, 0.0, 3.0, 0.5], [0.0, 1.5, 0.0, 2.0], [[0.0, 2.0], [3.0, 0.0]]):
        same_grad(lambda t, x: x.prod(), data)
        same_grad(lambda t, x: x.prod(-1, keepdim=True), data)
        same_grad(lambda t, x: x.prod(0), data)


def test_prod_and_cumprod_double_backward_with_zeros():
    for data in ([2.0, 0.0, 3.0, 0.5, 4.0], [2.0, 0.0, 1.5, 0.0, 4.0], [0.0, 1.5, 2.0]):
        cot = np.linspace(-1, 1.5, len(data)).tolist()
        grads = []
        for lib in (torch, ember):
            x = lib.tensor(data, dtype=lib.float64, requires_grad=True)
            g = lib.tensor(cot, dtype=lib.float64, requires_grad=True)
            (gx,) = lib.autograd.grad(x.cumprod(0), x, g, create_graph=True)
            (gp,) = lib.autograd.grad(x.prod() * 1.5, x, create_graph=True)
            w = lib.tensor(cot[::-1], dtype=lib.float64)
            grads.append(lib.autograd.grad(((gx + gp) * w).sum(), [x, g]) + (gx, gp))
        assert_same(grads[1], grads[0], 1e-10, 1e-8)


def test_cumprod_gradient_with_zeros():
    for data in ([2.0, 0.0, 3.0, 0.0, 4.0], [[0.0, 1.0, 2.0], [1.0, 2.0, 0.0]]):
        same_grad(lambda t, x: x.cumprod(-1), data, cotangent=None)
        same_grad(lambda t, x: x.cumprod(0), data)


def test_extreme_gradients_split_evenly_among_ties():
    data = [[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [NAN, 1.0, 0.0]]
    for fn in (lambda t, x: x.amax(1), lambda t, x: x.amin(1), lambda t, x: x[:2].max(),
               lambda t, x: x[:2].min(), lambda t, x: x[:2].median(), lambda t, x: x.amax(),
               lambda t, x: x[:2].norm(INF, dim=1), lambda t, x: x[:2].aminmax().max):
        same_grad(fn, data)
    # with a dim, the selected index alone gets the gradient
    same_grad(lambda t, x: x.max(1).values, data)
    same_grad(lambda t, x: x.median(1).values, data)
    same_grad(lambda t, x: x.cummax(1).values, data, cotangent=[[1.0, 2.0, 3.0]] * 3)


def test_gradients_at_zero_and_other_edges():
    same_grad(lambda t, x: x.norm(dim=1), [[0.0, 0.0], [3.0, -4.0]])
    same_grad(lambda t, x: x.norm(), [0.0, 0.0])
    for p in (1, 3, 0.5, -1, -2, INF, -INF):
        same_grad(lambda t, x, p=p: x.norm(p, dim=1), [[0.0, 0.0, 0.0], [1.0, -2.0, 2.0],
                                                   [0.0, 3.0, 3.0]])
    same_grad(lambda t, x: x.std(1), [[1.0, 1.0, 1.0], [1.0, 2.0, 4.0]])
    same_grad(lambda t, x: x.logsumexp(1), [[-INF, -INF], [0.0, -INF], [INF, 1.0]])
    same_grad(lambda t, x: x.logcumsumexp(0), [-INF, -INF, 1.0], cotangent=[1.0, -2.0, 3.0])
    same_grad(lambda t, x: x.logcumsumexp(0), [1.0, -INF, 2.0], cotangent=[1.0, -2.0, 3.0])
    same_grad(lambda t, x: x.nanmean(1), [[1.0, NAN, 2.0], [NAN, NAN, NAN]])
    same_grad(lambda t, x: x.nansum(), [[1.0, NAN, 2.0], [NAN, NAN, NAN]])
    same_grad(lambda t, x: x.quantile(t.tensor([0.3, 0.5], dtype=x.dtype)),
              [3.0, 1.0, 2.0, 1.0])
    same_grad(lambda t, x: x.var(0, correction=0), [[1.0, 2.0], [3.0, 5.0]])


# ---- internals ----------------------------------------------------------------------------------
def test_log_step_scan_matches_accumulate():
    """The CuPy path of _scan (no ufunc.accumulate) gives NumPy's accumulate results."""
    fake = types.SimpleNamespace(maximum=np.maximum, minimum=np.minimum,
                                 logaddexp=np.logaddexp, moveaxis=np.moveaxis)
    rng = np.random.default_rng(6)
    x = rng.uniform(-3, 3, (3, 11, 2))
    x[0, 4, 1] = NAN
    with np.errstate(invalid="ignore"):
        for op in ("maximum", "minimum", "logaddexp"):
            for axis in (0, 1, 2):
                np.testing.assert_allclose(reduction._scan(fake, op, x, axis),
                                           getattr(np, op).accumulate(x, axis=axis), rtol=1e-12)


def test_docstring_examples():
    failures, _ = doctest.testmod(reduction, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert failures == 0
