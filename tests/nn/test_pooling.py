"""Pooling modules and functions against torch: values, indices, gradients, errors, repr."""
import importlib.util

import numpy as np
import pytest
import torch

import ember
from ember import nn
from ember._backend import conv_kernels

from .conv_helpers import compare, raises_like_torch

RNG = np.random.default_rng(0)


def rand(*shape):
    return RNG.standard_normal(shape)


def modules(name, *args, **kwargs):
    em, tm = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(em) == repr(tm)
    return em, tm


MAX_CASES = [
    ("MaxPool1d", (3,), {}, (2, 3, 10)),
    ("MaxPool1d", (3, 2, 1), {"ceil_mode": True, "return_indices": True}, (2, 3, 10)),
    ("MaxPool1d", (2,), {"dilation": 3, "return_indices": True}, (3, 9)),
    ("MaxPool2d", (2,), {}, (2, 3, 8, 8)),
    ("MaxPool2d", (2,), {"return_indices": True}, (2, 3, 7, 9)),
    ("MaxPool2d", (3, 2, 1), {"return_indices": True}, (2, 3, 9, 8)),
    ("MaxPool2d", ((2, 3), (1, 2), (1, 0)), {"dilation": (2, 1), "ceil_mode": True,
                                             "return_indices": True}, (1, 2, 7, 8)),
    ("MaxPool2d", (3,), {"stride": 2, "ceil_mode": True}, (2, 5, 5)),
    ("MaxPool2d", (1,), {}, (2, 2, 3, 3)),
    ("MaxPool3d", (2,), {"return_indices": True}, (1, 2, 4, 5, 4)),
    ("MaxPool3d", (3, 2, 1), {"ceil_mode": True}, (1, 2, 5, 4, 6)),
]


@pytest.fixture(params=["numpy", "numba"])
def pool_forms(request, monkeypatch):
    """Run max pooling and its scatter as NumPy, then (where numba is installed) through the
    numba forms, which then take even these small inputs."""
    if request.param == "numba" and importlib.util.find_spec("numba") is None:
        pytest.skip("numba is not installed")
    monkeypatch.setenv("EMBER_JIT_FUSER", request.param)
    monkeypatch.setattr(conv_kernels, "_POOL_NUMBA_MIN", 0)
    return request.param


@pytest.mark.parametrize("name,args,kwargs,shape", MAX_CASES)
def test_max_pool_matches_torch(name, args, kwargs, shape, pool_forms):
    em, tm = modules(name, *args, **kwargs)
    compare(em, tm, rand(*shape))


def test_max_pool_ties_pick_first_like_torch(pool_forms):
    x = np.zeros((1, 1, 5, 6))
    x[0, 0, 1:4, 1:4] = 1.0
    x[0, 0, 0, 4:] = 1.0
    x[0, 0, 4, 2:4] = -np.inf
    for kwargs in ({"kernel_size": 2}, {"kernel_size": 3, "stride": 1, "padding": 1},
                   {"kernel_size": 2, "stride": 1}):
        compare(lambda t, kw=kwargs: ember.nn.functional.max_pool2d(t, return_indices=True, **kw),
                lambda t, kw=kwargs: torch.nn.functional.max_pool2d(t, return_indices=True, **kw),
                x)


def test_max_pool_nan_propagates_like_torch(pool_forms):
    x = rand(1, 2, 4, 6)
    x[0, 0, 1, 1] = np.nan
    x[0, 1, 2, 4] = np.nan
    x[0, 1, 3, 5] = np.nan
    for k, s in ((2, 1), (3, 1), (2, 2)):
        oe, ie = ember.nn.functional.max_pool2d(ember.tensor(x), k, s, return_indices=True)
        ot, it = torch.nn.functional.max_pool2d(torch.tensor(x), k, s, return_indices=True)
        np.testing.assert_array_equal(np.isnan(oe.numpy()), np.isnan(ot.numpy()))
        np.testing.assert_array_equal(ie.numpy(), it.numpy())


def test_max_pool_int_dtypes():
    x = RNG.integers(-50, 50, size=(2, 3, 6, 6))
    for dtype in ("int64", "int32", "uint8"):
        xe = ember.tensor(np.abs(x) if dtype == "uint8" else x, dtype=getattr(ember, dtype))
        xt = torch.tensor(np.abs(x) if dtype == "uint8" else x, dtype=getattr(torch, dtype))
        oe, ie = ember.nn.functional.max_pool2d(xe, 3, 2, 1, return_indices=True)
        ot, it = torch.nn.functional.max_pool2d(xt, 3, 2, 1, return_indices=True)
        assert str(oe.dtype) == str(ot.dtype)
        np.testing.assert_array_equal(oe.numpy(), ot.numpy())
        np.testing.assert_array_equal(ie.numpy(), it.numpy())


def test_torch_namespace_pools():
    x = rand(2, 3, 9)
    compare(lambda t: ember.max_pool1d(t, 3, 2), lambda t: torch.max_pool1d(t, 3, 2), x)
    compare(lambda t: ember.max_pool1d_with_indices(t, 3),
            lambda t: torch.max_pool1d_with_indices(t, 3), x)
    compare(lambda t: ember.avg_pool1d(t, 3, 2, 1), lambda t: torch.avg_pool1d(t, 3, 2, 1), x)
    compare(lambda t: ember.adaptive_avg_pool1d(t, 4), lambda t: torch.adaptive_avg_pool1d(t, 4),
            x)
    compare(lambda t: ember.adaptive_max_pool1d(t, 4), lambda t: torch.adaptive_max_pool1d(t, 4),
            x)
    x = rand(2, 3, 6, 7)
    compare(lambda t: ember.max_pool2d(t, 2, [], 1), lambda t: torch.max_pool2d(t, 2, [], 1), x)
    compare(lambda t: ember.nn.functional.max_pool2d_with_indices(t, 3),
            lambda t: torch.nn.functional.max_pool2d_with_indices(t, 3), x)


AVG_CASES = [
    ("AvgPool1d", (3,), {}, (2, 3, 10)),
    ("AvgPool1d", (3, 2, 1), {"ceil_mode": True, "count_include_pad": False}, (2, 3, 10)),
    ("AvgPool1d", (4, 3, 2), {"ceil_mode": True}, (3, 11)),
    ("AvgPool2d", (2,), {}, (2, 3, 8, 8)),
    ("AvgPool2d", (3, 2, 1), {}, (2, 3, 9, 8)),
    ("AvgPool2d", (3, 2, 1), {"ceil_mode": True, "count_include_pad": False}, (2, 3, 8, 7)),
    ("AvgPool2d", ((2, 3), (3, 1), (1, 1)), {"ceil_mode": True}, (1, 2, 8, 6)),
    ("AvgPool2d", (3, 1, 1), {"divisor_override": 2}, (2, 4, 5)),
    ("AvgPool3d", (2,), {}, (1, 2, 4, 4, 4)),
    ("AvgPool3d", (3, 2, 1), {"count_include_pad": False, "ceil_mode": True}, (1, 2, 5, 4, 6)),
]


@pytest.mark.parametrize("name,args,kwargs,shape", AVG_CASES)
def test_avg_pool_matches_torch(name, args, kwargs, shape):
    em, tm = modules(name, *args, **kwargs)
    compare(em, tm, rand(*shape))


def test_avg_pool_int64_truncates_like_torch():
    x = RNG.integers(-20, 20, size=(1, 2, 5, 5))
    oe = ember.nn.functional.avg_pool2d(ember.tensor(x), 3, 2, 1, ceil_mode=True)
    ot = torch.nn.functional.avg_pool2d(torch.tensor(x), 3, 2, 1, ceil_mode=True)
    assert oe.dtype is ember.int64
    np.testing.assert_array_equal(oe.numpy(), ot.numpy())


ADAPTIVE_CASES = [
    ("AdaptiveAvgPool1d", (4,), (2, 3, 10)),
    ("AdaptiveAvgPool1d", (7,), (3, 5)),
    ("AdaptiveAvgPool2d", ((3, 4),), (2, 3, 8, 9)),
    ("AdaptiveAvgPool2d", (1,), (2, 3, 5, 7)),
    ("AdaptiveAvgPool2d", ((None, 2),), (2, 6, 4)),
    ("AdaptiveAvgPool2d", ((5, 7),), (1, 2, 3, 4)),
    ("AdaptiveAvgPool3d", ((2, 3, 1),), (1, 2, 5, 4, 3)),
    ("AdaptiveMaxPool1d", (4, True), (2, 3, 10)),
    ("AdaptiveMaxPool2d", ((3, 4), True), (2, 3, 8, 9)),
    ("AdaptiveMaxPool2d", ((None, 3),), (2, 3, 5, 7)),
    ("AdaptiveMaxPool2d", ((5, 6), True), (1, 2, 3, 4)),
    ("AdaptiveMaxPool3d", ((2, 3, 2), True), (1, 2, 5, 4, 3)),
]


@pytest.mark.parametrize("name,args,shape", ADAPTIVE_CASES)
def test_adaptive_pool_matches_torch(name, args, shape):
    em, tm = modules(name, *args)
    compare(em, tm, rand(*shape))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_max_pool_2x2_batch_matches_torch(dtype, pool_forms):
    """A CNN-sized 2x2 pool (the numba form's tournament) with its gradient; odd sizes drop
    the last row and column."""
    x = rand(4, 3, 10, 11)
    x[0, 0, :4, :4] = 0.0
    out = compare(lambda t: ember.nn.functional.max_pool2d(t, 2, return_indices=True),
                  lambda t: torch.nn.functional.max_pool2d(t, 2, return_indices=True),
                  x, dtype=dtype)
    assert out[0].shape == (4, 3, 5, 5)
    fast = conv_kernels.max_pool_2x2(np, x.astype(dtype), (2, 2), (2, 2), ((0, 0), (0, 0)),
                                    (1, 1), (5, 5))
    assert (fast is not None) == (pool_forms == "numba")


def test_unpool_refuses_indices_outside_the_plane(pool_forms):
    """The scatter never writes outside its output, whichever form runs (the public
    max_unpool checks its indices before; this guards graphs that feed the op directly)."""
    g = np.ones((1, 1, 2, 2))
    index = np.array([[[[0, 3], [99, 1]]]])
    with pytest.raises((RuntimeError, IndexError)):
        conv_kernels.unpool(np, g, index, (2, 2), True)


@pytest.mark.parametrize("name,size", [("adaptive_avg_pool1d", 0), ("adaptive_max_pool1d", 0),
                                       ("adaptive_avg_pool2d", (0, 2)),
                                       ("adaptive_max_pool2d", (2, 0)),
                                       ("adaptive_avg_pool3d", (1, 0, 1))])
def test_adaptive_pool_to_zero_size_is_empty_like_torch(name, size):
    nd = int(name[-2])
    shape = (2, 3, 4, 5, 6)[:nd + 2]
    ours = getattr(ember.nn.functional, name)(ember.ones(*shape), size)
    theirs = getattr(torch.nn.functional, name)(torch.ones(*shape), size)
    assert tuple(ours.shape) == tuple(theirs.shape) and ours.numel() == 0
    if "max" in name:
        values, indices = getattr(ember.nn.functional, name)(ember.ones(*shape), size,
                                                             return_indices=True)
        assert values.shape == indices.shape and indices.dtype == ember.int64


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_adaptive_avg_pool_to_the_input_size_is_a_copy_through_the_pool(nd):
    """At the input's own size the pool is a copy (not a view of the input), named and
    differentiated as torch's, and recorded as the pooling op, so a trace at that size (a
    ResNet's 1 x 1 last map) holds the same ops as at other sizes."""
    x = rand(*(2, 3, 3, 4, 2)[:nd + 2])
    size = x.shape[2:]
    fn = f"adaptive_avg_pool{nd}d"
    a, t = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours, theirs = getattr(ember.nn.functional, fn)(a, size), getattr(torch.nn.functional, fn)(
        t, size)
    np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())
    assert not np.shares_memory(ours.detach().numpy(), a.detach().numpy())
    assert ours.grad_fn.name() == theirs.grad_fn.name()
    ours.sum().backward()
    theirs.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), t.grad.numpy())
    traced = ember.jit.trace(lambda v: getattr(ember.nn.functional, fn)(v, size), a.detach())
    assert "adaptive_avg_pool" in str(traced.graph)


def test_max_unpool_roundtrip_matches_torch(pool_forms):
    x = rand(2, 3, 8, 8)

    def roundtrip(lib, t, **kw):
        out, idx = lib.nn.functional.max_pool2d(t, 2, return_indices=True)
        return lib.nn.functional.max_unpool2d(out * 2, idx, 2, **kw)
    compare(lambda t: roundtrip(ember, t), lambda t: roundtrip(torch, t), x)
    x = rand(2, 3, 9, 9)
    compare(lambda t: roundtrip(ember, t, output_size=(9, 9)),
            lambda t: roundtrip(torch, t, output_size=(9, 9)), x)
    compare(lambda t: roundtrip(ember, t, output_size=(2, 3, 9, 9)),
            lambda t: roundtrip(torch, t, output_size=(2, 3, 9, 9)), x)


@pytest.mark.parametrize("nd,kernel,stride,padding,shape", [
    (1, 3, 2, 1, (2, 3, 9)), (2, 3, 2, 1, (2, 2, 7, 8)), (2, 2, None, 0, (3, 6, 6)),
    (3, 2, None, 0, (1, 2, 4, 4, 4))])
def test_max_unpool_modules(nd, kernel, stride, padding, shape, pool_forms):
    pe, pt = modules(f"MaxPool{nd}d", kernel, stride, padding, return_indices=True)
    ue, ut = modules(f"MaxUnpool{nd}d", kernel, stride, padding)
    x = rand(*shape)

    def run(pool, unpool, t):
        out, idx = pool(t)
        return unpool(out, idx, output_size=t.shape[-nd:])
    compare(lambda t: run(pe, ue, t), lambda t: run(pt, ut, t), x)


POOL_ERRORS = [
    ("kernel_too_big", lambda t: t.nn.functional.max_pool2d(t.ones(2, 3, 5, 5), 7)),
    ("pad_too_big", lambda t: t.nn.functional.max_pool2d(t.ones(2, 3, 5, 5), 3, padding=2)),
    ("rank", lambda t: t.nn.functional.max_pool2d(t.ones(5), 2)),
    ("stride_zero", lambda t: t.nn.functional.max_pool2d(t.ones(2, 3, 5, 5), 2, stride=0)),
    ("rank1d", lambda t: t.nn.functional.max_pool1d(t.ones(2, 3, 5, 5), 2)),
    ("kernel_tuple", lambda t: t.nn.functional.max_pool2d(t.ones(2, 3, 5, 5), (2, 3, 4))),
    ("avg_kernel_too_big", lambda t: t.nn.functional.avg_pool2d(t.ones(2, 3, 5, 5), 7)),
    ("avg_pad", lambda t: t.nn.functional.avg_pool2d(t.ones(2, 3, 5, 5), 3, padding=2)),
    ("avg_divisor", lambda t: t.nn.functional.avg_pool2d(t.ones(2, 3, 5, 5), 2,
                                                         divisor_override=0)),
    ("avg_int", lambda t: t.nn.functional.avg_pool2d(t.ones(2, 3, 5, 5, dtype=t.int32), 2)),
    ("adaptive_rank", lambda t: t.nn.functional.adaptive_avg_pool2d(t.ones(5), 2)),
    ("adaptive_size", lambda t: t.nn.functional.adaptive_avg_pool2d(t.ones(2, 3, 5, 5),
                                                                    (2, 2, 2))),
    ("adaptive_empty", lambda t: t.nn.functional.adaptive_avg_pool2d(t.ones(2, 3, 0, 4), 2)),
    ("adaptive_int", lambda t: t.nn.functional.adaptive_avg_pool2d(
        t.ones(2, 3, 4, 4, dtype=t.int64), 2)),
    ("adaptive_max_rank", lambda t: t.nn.functional.adaptive_max_pool2d(t.ones(5), 2)),
    ("adaptive_negative", lambda t: t.nn.functional.adaptive_avg_pool2d(t.ones(2, 3, 4, 4),
                                                                        (-1, 2))),
    ("unpool_index", lambda t: t.nn.functional.max_unpool2d(
        t.ones(2, 3, 5, 5), t.zeros(2, 3, 5, 5, dtype=t.int64) + 100, 2)),
    ("unpool_output_size", lambda t: t.nn.functional.max_unpool2d(
        t.ones(2, 3, 5, 5), t.zeros(2, 3, 5, 5, dtype=t.int64), 2, output_size=(3, 3))),
]


@pytest.mark.parametrize("name,fn", POOL_ERRORS, ids=[e[0] for e in POOL_ERRORS])
def test_pool_errors_match_torch(name, fn):
    relaxed = {"rank": "3D or 4D", "kernel_tuple": "kernel_size must either be a single int",
               "avg_kernel_too_big": "Output size is too small", "adaptive_size":
               "output_size must be 2"}
    raises_like_torch(lambda: fn(ember), lambda: fn(torch), relaxed.get(name))


def test_pool_reprs():
    cases = [("MaxPool2d", (2,), {}), ("MaxPool1d", (3, 2), {"ceil_mode": True}),
             ("MaxPool3d", ((2, 1, 2),), {"dilation": 2}), ("AvgPool1d", (3,), {}),
             ("AvgPool2d", (2,), {"divisor_override": 3}), ("AvgPool3d", (2, 1, 1), {}),
             ("AdaptiveAvgPool2d", ((None, 3),), {}), ("AdaptiveMaxPool2d", (3, True), {}),
             ("AdaptiveAvgPool1d", (3,), {}), ("AdaptiveMaxPool3d", (3,), {}),
             ("MaxUnpool2d", (2,), {}), ("MaxUnpool1d", (3, 2, 1), {}),
             ("MaxUnpool3d", (2,), {})]
    for name, args, kwargs in cases:
        modules(name, *args, **kwargs)


def test_pools_have_no_parameters():
    for m in (nn.MaxPool2d(2), nn.AvgPool2d(2), nn.AdaptiveAvgPool2d(1), nn.MaxUnpool2d(2)):
        assert list(m.state_dict()) == [] and list(m.parameters()) == []


@pytest.mark.parametrize("name,args,shape", [
    ("LPPool1d", (2, 3), (2, 3, 8)), ("LPPool1d", (3.0, 2, 1, True), (3, 5)),
    ("LPPool2d", (1.5, (3, 2), (2, 1)), (1, 2, 6, 5)), ("LPPool2d", (2, 2), (2, 5, 5)),
    ("LPPool3d", (2, 2), (1, 2, 4, 4, 4))])
def test_lp_pool_modules_match_torch(name, args, shape):
    em, tm = modules(name, *args)
    compare(em, tm, np.abs(rand(*shape)) + 0.1)
