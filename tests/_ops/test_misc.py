"""The misc family against torch: errors, complex views and their autograd, differences and
integrals on edge cases, statistics, Tensor housekeeping (storage, resize_, shared memory,
apply_/map_), and the process-wide settings (default device, determinism, threads)."""
from __future__ import annotations

import math
import multiprocessing
import os
import warnings

import numpy as np
import pytest
import torch

import ember

from .harness import assert_same

NAN, INF = math.nan, math.inf


def _pair(values, dtype="float32", requires_grad=False):
    arr = np.asarray(values)
    return (torch.tensor(arr, dtype=getattr(torch, dtype), requires_grad=requires_grad),
            ember.tensor(arr, dtype=getattr(ember, dtype), requires_grad=requires_grad))


def _same(fn, *args, dtype="float32", atol=1e-6, rtol=1e-6):
    pairs = [_pair(a, dtype) for a in args]
    expected = fn(torch, *[p[0] for p in pairs])
    got = fn(ember, *[p[1] for p in pairs])
    assert_same(got, expected, atol, rtol)
    return got


def _raises_like_torch(fn, *args, dtype="float32", match=None):
    pairs = [_pair(a, dtype) for a in args]
    with pytest.raises(Exception) as theirs:
        fn(torch, *[p[0] for p in pairs])
    expected = RuntimeError if isinstance(theirs.value, RuntimeError) else type(theirs.value)
    with pytest.raises(expected, match=match):
        fn(ember, *[p[1] for p in pairs])


# ---- errors --------------------------------------------------------------------------------
@pytest.mark.parametrize("fn,args,dtype,match", [
    (lambda t, x: t.diff(x[0]), ([1.0],), "float32", "one-dimensional"),
    (lambda t, x: t.diff(x, n=-1), ([1.0, 2.0],), "float32", "non-negative"),
    (lambda t, x: t.diff(x, prepend=x[0]), ([[1.0, 2.0]],), "float32", "same dimension"),
    (lambda t, x: t.diff(x, dim=2), ([[1.0, 2.0]],), "float32", "out of range"),
    (lambda t, y: t.trapezoid(y, t.ones(3)), ([[1.0, 2.0]],), "float32", "one `x` value"),
    (lambda t, y: t.trapezoid(y), ([True, False],), "bool", "bool input for `y`"),
    (lambda t, y: t.trapezoid(y, y > 1), ([1.0, 2.0],), "float32", "`x` or `y`"),
    (lambda t, y: t.cumulative_trapezoid(y), ([True, False],), "bool", "bool input for `y`"),
    (lambda t, y: t.cumulative_trapezoid(y, y > 1), ([1.0, 2.0],), "float32", "`x` or `y`"),
    (lambda t, x: t.gradient(x, edge_order=3), ([1.0, 2.0, 3.0],), "float32", "edge_order"),
    (lambda t, x: t.gradient(x, edge_order=2), ([1.0, 2.0],), "float32", "at least"),
    (lambda t, x: t.gradient(x, spacing=[1.0]), ([[1.0, 2.0]],), "float32", "spacing"),
    (lambda t, x: t.vander(x), ([[1.0]],), "float32", "one-dimensional"),
    (lambda t, x: t.vander(x, N=-1), ([1.0],), "float32", "non-negative"),
    (lambda t, x: t.cov(x.reshape(1, 1, 2)), ([1.0, 2.0],), "float32", "two or fewer"),
    (lambda t, x: t.cov(x, fweights=t.tensor([1.0, 2.0])), ([[1.0, 2.0]],), "float32",
     "integral"),
    (lambda t, x: t.cov(x, fweights=t.tensor([1, -2])), ([[1.0, 2.0]],), "float32",
     "negative"),
    (lambda t, x: t.cov(x, aweights=t.tensor([1, 2])), ([[1.0, 2.0]],), "float32", "floating"),
    (lambda t, x: t.cov(x, aweights=t.tensor([1.0, 2.0, 3.0])), ([[1.0, 2.0]],), "float32",
     "numel"),
    (lambda t, x: t.corrcoef(x.reshape(1, 1, 2)), ([1.0, 2.0],), "float32", "two or fewer"),
    (lambda t, m: t.addr(m, t.ones(2, 1), t.ones(3)), ([[0.0] * 3] * 2,), "float32", "1-D"),
    (lambda t, m: t.addr(m, t.ones(2, dtype=t.int64), t.ones(3, dtype=t.int64), alpha=1.5),
     ([[0] * 3] * 2,), "int64", "floating point"),
    (lambda t, m: t.addr(m, t.ones(2), t.ones(3), beta=True), ([[0.0] * 3] * 2,), "float32",
     "Boolean"),
    (lambda t, m: t.addr(m, t.ones(2), t.ones(3)), ([[0.0] * 3] * 4,), "float32", None),
    (lambda t, x: t.combinations(x.reshape(1, 2)), ([1.0, 2.0],), "float32", "1D"),
    (lambda t, x: t.combinations(x, r=-1), ([1.0, 2.0],), "float32", "non-negative"),
    (lambda t, x: t.unravel_index(x, (2, 2)), ([1.0],), "float32", "integer"),
    (lambda t, x: t.unravel_index(x, (2, -1)), ([1],), "int64", "negative"),
    (lambda t, x: t.complex(x, x.double()), ([1.0],), "float32", None),
    (lambda t, x: t.complex(x, x), ([1],), "int64", None),
    (lambda t, x: t.view_as_real(x), ([1.0],), "float32", "complex"),
    (lambda t, x: t.view_as_complex(x), ([[1.0, 2.0, 3.0]],), "float32", "size 2"),
    (lambda t, x: t.view_as_complex(x), ([[1, 2]],), "int64", "float and double"),
    (lambda t, x: t.view_as_complex(x.t()), ([[1.0, 2.0], [3.0, 4.0]],), "float32", "stride"),
    (lambda t, x: t.view_as_complex(x[0, 0]), ([[1.0, 2.0]],), "float32", "dimension"),
    (lambda t, x: t.imag(x), ([1.0],), "float32", "non-complex"),
    (lambda t, x: t.heaviside(x, t.tensor([1.0], dtype=t.float64)), ([1.0],), "float32",
     "different dtypes"),
    (lambda t, x: t.gcd(x, x), ([1.0],), "float32", None),
    (lambda t, x: t.lcm(x, x), ([True],), "bool", None),
    (lambda t, x: t.frexp(x), ([1],), "int64", "floating-point"),
    (lambda t, x: t.nextafter(x, x), ([1],), "int64", None),
    (lambda t, x: t.lgamma(x.to(t.complex64)), ([1.0],), "float32", None),
    (lambda t, x: t.polygamma(-1, x), ([1.0],), "float32", "negative"),
    (lambda t, x: t.dist(x, x), ([1, 2],), "int64", None),
    (lambda t, x: x.lgamma_(), ([1, 2],), "int64", None),
])
def test_errors_like_torch(fn, args, dtype, match):
    _raises_like_torch(fn, *args, dtype=dtype, match=match)


def test_apply_refuses_tensors_that_require_grad():
    for lib in (torch, ember):
        with pytest.raises(RuntimeError, match="requires grad"):
            lib.ones(2, requires_grad=True).apply_(lambda v: v)


# ---- complex numbers -----------------------------------------------------------------------
def test_real_imag_are_views_and_settable():
    for lib in (torch, ember):
        z = lib.tensor([1 + 2j, 3 - 4j])
        z.real.mul_(10)
        z.imag[0] = 7.0
        assert z.tolist() == [complex(10, 7), complex(30, -4)]
        z.real = lib.tensor([0.5, 0.25])
        assert z.tolist() == [complex(0.5, 7), complex(0.25, -4)]
        x = lib.tensor([1.0, 2.0])
        assert lib.real(x).data_ptr() == x.data_ptr()
        x.real = lib.tensor([5.0, 6.0])
        assert x.tolist() == [5.0, 6.0]


def test_view_as_real_and_complex_alias_memory():
    for lib in (torch, ember):
        z = lib.tensor([1 + 2j, 3 + 4j])
        r = lib.view_as_real(z)
        r[1, 1] = -9.0
        assert z[1].item() == complex(3, -9)
        x = lib.arange(8.0).reshape(2, 2, 2)
        c = lib.view_as_complex(x)
        assert c.shape == (2, 2) and c[1, 0].item() == complex(4, 5)
        c.mul_(2)
        assert x[1, 0].tolist() == [8.0, 10.0]
        assert lib.view_as_real(lib.tensor(1 + 1j)).shape == (2,)


def test_complex_autograd_matches_torch():
    """Gradients through complex intermediates (torch's conjugate-Wirtinger convention)."""
    rng = np.random.default_rng(3)
    values = [rng.standard_normal((2, 3)) for _ in range(4)]

    def loss(lib, a, b, r, w):
        z = lib.complex(a, b)
        p = lib.polar(r.abs() + 0.5, w).conj()
        y = (lib.view_as_real(z.conj().resolve_conj()) ** 2).sum() + lib.angle(z).sum() * 3
        y = y + (lib.real(p) * lib.imag(z) + lib.imag(p) * lib.angle(p)).sum()
        return y + (lib.view_as_complex(lib.stack([a, w], -1)).imag * r).sum()

    grads = []
    for lib in (torch, ember):
        leaves = [lib.tensor(v, dtype=lib.float64, requires_grad=True) for v in values]
        grads.append([g.numpy() for g in lib.autograd.grad(loss(lib, *leaves), leaves)])
    for g, e in zip(*reversed(grads)):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)


def test_conj_of_real_is_itself_and_bits_are_never_set():
    x = ember.tensor([1.0, -2.0])
    assert x.conj() is x and ember.conj_physical(x) is x and x.resolve_conj() is x
    z = ember.tensor([1 + 1j])
    assert not z.conj().is_conj() and not ember.is_neg(z) and not ember.is_conj(z)
    assert z.conj().tolist() == [1 - 1j]
    z.conj_physical_()
    assert z.tolist() == [1 - 1j]
    assert x.reshape(2, 1).mH.tolist() == [[1.0, -2.0]]


def test_angle_dtypes_like_torch():
    for dtype in ("int64", "uint8", "bool", "float64", "float16", "bfloat16"):
        _same(lambda t, x: t.angle(x), [0, 1, 1], dtype=dtype, atol=1e-3)
    _same(lambda t, x: t.angle(x), [-1.0, -0.0, NAN, INF, -INF])
    _same(lambda t, x: t.angle(x.to(t.complex128)) + 0, [1.0, -1.0, 0.0], dtype="float64")


def test_complex_and_polar_out_and_dtypes():
    a, b = _pair([1.0, 2.0], "float64")
    assert ember.complex(b, b).dtype is ember.complex128
    out = ember.empty(2, dtype=ember.complex128)
    ember.polar(b, b, out=out)
    np.testing.assert_allclose(out.numpy(), torch.polar(a, a).numpy())
    assert ember.tensor([1 + 2j]).cfloat().dtype is ember.complex64
    assert ember.tensor([1.0]).cdouble().dtype is ember.complex128


# ---- numeric helpers -----------------------------------------------------------------------
def test_frexp_ldexp_round_trip_and_out():
    x = [0.0, -0.0, 1.0, -3.5, 1e-40, 6e4, INF, NAN]
    _same(lambda t, v: tuple(t.frexp(v)), x)
    got = ember.frexp(ember.tensor(x))
    assert type(got).__name__ == "frexp" and repr(got).startswith("torch.return_types.frexp(")
    m, e = got.mantissa, got.exponent
    assert_same(ember.ldexp(m, e), torch.ldexp(*torch.frexp(torch.tensor(x))), 0, 0)
    mantissa, exponent = ember.empty(0), ember.empty(0, dtype=ember.int32)
    res = ember.frexp(ember.tensor([8.0]), out=(mantissa, exponent))
    assert res.mantissa is mantissa and exponent.tolist() == [4]
    for dtype in ("float16", "bfloat16", "float64"):
        _same(lambda t, v: tuple(v.frexp()), [3.0, -0.75, 1e3], dtype=dtype)


def test_ldexp_dtypes_and_inplace():
    for xd, ed in (("int64", "int64"), ("float32", "int64"), ("float16", "int32"),
                   ("float32", "float64")):
        x = _pair([1, 2, 3], xd)
        e = _pair([1, -1, 4], ed)
        assert_same(ember.ldexp(x[1], e[1]), torch.ldexp(x[0], e[0]), 0, 0)
    for lib in (torch, ember):
        t = lib.tensor([1.0, 2.0])
        lib.ldexp_(t, lib.tensor([2, 3]))
        t.ldexp_(lib.tensor([1, 1]))
        assert t.tolist() == [8.0, 32.0]


def test_nextafter_gcd_lcm_heaviside_inplace_and_extremes():
    _same(lambda t, x, y: t.nextafter(x, y), [0.0, 1.0, -0.0, 3e38, INF],
          [1.0, 0.0, -1.0, INF, 0.0], atol=0, rtol=0)
    _same(lambda t, x, y: t.nextafter(x, y), [1.0, 1e-310], [2.0, 0.0], dtype="float64",
          atol=0, rtol=0)
    big = 2 ** 40
    _same(lambda t, x, y: t.gcd(x, y), [big * 3, -12, 0, 7], [big * 2, 18, 0, 0], dtype="int64")
    _same(lambda t, x, y: t.lcm(x, y), [-4, 0, 6, 21], [6, 5, -4, 6], dtype="int32")
    _same(lambda t, x, y: t.lcm(x, y), [4, 250], [6, 3], dtype="uint8")
    for lib in (torch, ember):
        a = lib.tensor([12, 18])
        a.gcd_(lib.tensor([8, 12]))
        lib.lcm_(a, lib.tensor([3, 5]))
        assert a.tolist() == [12, 30]
        h = lib.tensor([-1.0, 0.0, 2.0])
        h.heaviside_(lib.tensor([0.5]))
        assert h.tolist() == [0.0, 0.5, 1.0]
        s = lib.tensor([0.0, 0.5])
        lib.sinc_(s)
        s.sinc_()
        assert s.tolist() == pytest.approx(torch.sinc(torch.sinc(torch.tensor([0.0, 0.5])))
                                           .tolist(), abs=1e-7)
    _same(lambda t, x, v: t.heaviside(x, v), [-1, 0, 3], [7], dtype="int64")
    _same(lambda t, x, v: t.heaviside(x, v), [True, False], [True], dtype="bool")


def test_isin_like_torch():
    _same(lambda t, x, y: t.isin(x, y), [[1, 2], [3, 4]], [4, 1, 9], dtype="int64")
    _same(lambda t, x, y: t.isin(x, y, assume_unique=True, invert=True), [1, 2, 3], [2, 3],
          dtype="int64")
    _same(lambda t, x: t.isin(x, 2.0), [1, 2, 3], dtype="int64")
    _same(lambda t, x: t.isin(x, 1.5), [1, 2, 3], dtype="int64")
    _same(lambda t, x: t.isin(3, x), [1, 2, 3], dtype="int64")
    _same(lambda t, x, y: t.isin(x, y), [1.0, NAN, 2.0], [NAN, 2.0])
    _same(lambda t, x, y: t.isin(x, y), [], [1.0])
    with pytest.raises(TypeError):
        ember.isin(1, 2)


# ---- differences, integrals ----------------------------------------------------------------
def test_diff_edge_cases():
    _same(lambda t, x: t.diff(x, n=0), [1, 5, 2], dtype="int64")
    _same(lambda t, x: t.diff(x, n=5), [1, 5, 2], dtype="int64")
    _same(lambda t, x: t.diff(x, n=2), [[True, False, False, True]], dtype="bool")
    _same(lambda t, x, a: t.diff(x, append=a), [1, 2], [2.5], dtype="int64")
    _same(lambda t, x: t.diff(x, dim=0, prepend=t.zeros(1, 2, dtype=t.int32)), [[1, 2], [4, 8]],
          dtype="uint8")
    _same(lambda t, x: t.diff(x, dim=0), [[1, 2]], dtype="float64")


def test_trapezoid_family_edge_cases():
    _same(lambda t, y: t.trapezoid(y), [[]], dtype="int64")
    _same(lambda t, y: t.trapezoid(y, dx=2), [1, 2, 3], dtype="int64")
    _same(lambda t, y: t.trapz(y, dx=0.5), [1, 2, 3], dtype="int64")
    _same(lambda t, y, x: t.trapezoid(y, x), [1, 2, 3], [1, 2, 4], dtype="int64")
    _same(lambda t, y: t.trapezoid(y, t.tensor([1.0, 2.0, 4.0], dtype=t.float64)), [1, 2, 3],
          dtype="int64")
    _same(lambda t, y: t.trapezoid(y), [7.0])
    _same(lambda t, y: t.cumulative_trapezoid(y), [])
    _same(lambda t, y: t.cumulative_trapezoid(y, dim=1), [[], []], dtype="int64")
    _same(lambda t, y: t.cumulative_trapezoid(y, t.tensor([0.0, 1.0, 3.0])), [[1, 4, 9]],
          dtype="int64")
    with pytest.raises(TypeError):
        ember.trapezoid(ember.ones(3), ember.ones(3), dx=1.0)


def test_gradient_matches_numpy_style_rules():
    f = [[1.0, 4.0, 9.0, 16.0, 25.0], [2.0, 3.0, 5.0, 8.0, 13.0]]
    _same(lambda t, x: t.gradient(x), f)
    _same(lambda t, x: t.gradient(x, spacing=2, dim=1, edge_order=2), f, dtype="float64")
    _same(lambda t, x: t.gradient(x, spacing=(t.tensor([0.0, 2.0, 2.5]),
                                              t.tensor([0.0, 1.0, 1.5, 3.0, 7.0])),
                                  edge_order=2), f + [[0.0, 1.0, 0.0, -1.0, 3.0]], atol=1e-5)
    _same(lambda t, x: t.gradient(x, dim=[1, 0], spacing=[0.5, 2.0]), f)
    _same(lambda t, x: t.gradient(x), [1, 4, 9], dtype="int64")
    np.testing.assert_allclose(ember.gradient(ember.tensor(f), dim=1)[0].numpy(),
                               np.gradient(np.array(f), axis=1), rtol=1e-6)


# ---- statistics and matrices ---------------------------------------------------------------
def test_cov_corrcoef_cases():
    x = [[1.0, 2.0, 4.0, 7.0], [0.5, -1.0, 2.0, 0.0]]
    _same(lambda t, v: t.cov(v, correction=0, fweights=t.tensor([1, 2, 1, 3]),
                             aweights=t.tensor([0.5, 1.0, 2.0, 1.0])), x, rtol=1e-5)
    _same(lambda t, v: t.cov(v, aweights=t.tensor([0.5, 1.0, 2.0, 1.0], dtype=t.float64)), x,
          rtol=1e-5)
    _same(lambda t, v: t.cov(v), [3, 5], dtype="int64")
    _same(lambda t, v: t.corrcoef(v), [[1.0, 2.0, 3.0]])
    _same(lambda t, v: t.cov(v.to(t.complex64)).abs(), x, rtol=1e-5)
    _same(lambda t, v: t.corrcoef(v.to(t.complex128)).abs(), x, dtype="float64")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = ember.cov(ember.tensor([[1.0, 2.0]]), correction=3)
    assert any("degrees of freedom" in str(w.message) for w in caught)
    assert math.isinf(got.item())


def test_vander_addr_dist_combinations_unravel():
    _same(lambda t, x: t.vander(x, N=4), [2, -3], dtype="int16")
    _same(lambda t, x: t.vander(x, increasing=True), [1.5, 0.0, -2.0])
    _same(lambda t, m, a, b: t.addr(m, a, b, beta=2, alpha=3), [[1, 2, 3]], [1, 2], [1, 0, 2],
          dtype="int64")
    _same(lambda t, m: t.addr(m, t.tensor([1, 2]), t.tensor([1.0, 2.0, 3.0])), [0.0])
    for lib in (torch, ember):
        m = lib.zeros(2, 2)
        m.addr_(lib.tensor([1.0, 2.0]), lib.tensor([3.0, 4.0]), alpha=0.5)
        assert m.tolist() == [[1.5, 2.0], [3.0, 4.0]]
        with pytest.raises(RuntimeError):
            lib.zeros(2, 2, dtype=lib.int64).addr_(lib.ones(2), lib.ones(2))
    for p in (0, 1, 2, 3.5, INF, -INF):
        _same(lambda t, x, y, p=p: t.dist(x, y, p), [1.0, -2.0, 0.0], [0.0, 2.0, 0.0])
    _same(lambda t, x: t.combinations(x, 2, with_replacement=True), [5, 6, 7], dtype="int64")
    _same(lambda t, x: t.combinations(x, 0), [5, 6], dtype="int64")
    _same(lambda t, x: t.combinations(x, 3), [5.0, 6.0])
    _same(lambda t, x: t.unravel_index(x, (3, 4)), [4, -1, 7, 100, -13], dtype="int64")
    _same(lambda t, x: t.unravel_index(x, (2, 3, 4)), [[0, 23], [5, 17]], dtype="int32")
    _same(lambda t, x: t.unravel_index(x, 5), 3, dtype="int64")
    assert ember.unravel_index(ember.tensor([1]), ()) == ()
    assert ember.unravel_index(7, (2, 4))[1].item() == 3


def test_is_same_size_signed_get_device():
    for lib in (torch, ember):
        assert lib.is_same_size(lib.ones(2, 3), lib.zeros(2, 3))
        assert not lib.ones(2).is_same_size(lib.ones(3))
        assert lib.ones(2).get_device() == -1
    for name in ("bool", "uint8", "int8", "int64", "float16", "bfloat16", "float64",
                 "complex64"):
        assert ember.ones(1, dtype=getattr(ember, name)).is_signed() == \
            torch.ones(1, dtype=getattr(torch, name)).is_signed()
        assert ember.is_signed(ember.ones(1, dtype=getattr(ember, name))) == \
            torch.is_signed(torch.ones(1, dtype=getattr(torch, name)))


def test_tensor_where_method():
    _same(lambda t, x, y: x.where(x > 0, y), [1.0, -2.0, 3.0], [9.0, 9.0, 9.0])
    _same(lambda t, x: x.where(x > 0, 0.5), [1.0, -2.0])


# ---- Tensor housekeeping -------------------------------------------------------------------
def test_apply_map_like_torch():
    for dtype in ("float32", "int64", "bool"):
        _same(lambda t, x: x.clone().apply_(lambda v: v * 3 if not isinstance(v, bool) else
                                            not v), [[1, 0], [2, 5]], dtype=dtype)
    _same(lambda t, x: x.clone().apply_(lambda v: v / 2), [1, 3], dtype="int64")
    _same(lambda t, x, y: x.clone().map_(y, lambda a, b: a * 10 + b), [[1.0, 2.0], [3.0, 4.0]],
          [0.5, 0.25])
    _same(lambda t, x, y: x.clone().map2_(y, y * 2, lambda a, b, c: a + b + c), [[1.0, 2.0]],
          [0.5, 0.25])
    base = ember.arange(6.0)
    base[1::2].apply_(lambda v: -v)
    assert base.tolist() == [0.0, -1.0, 2.0, -3.0, 4.0, -5.0]
    for lib in (torch, ember):
        with pytest.raises(TypeError, match="map_"):
            lib.ones(2).map_(lib.ones(2, dtype=lib.int64), lambda a, b: a)
        with pytest.raises(RuntimeError):
            lib.ones(2).map_(lib.ones(2, 2), lambda a, b: a)


def test_untyped_storage_like_torch():
    for build in (lambda t: t.arange(6.0), lambda t: t.arange(12).reshape(3, 4)[1:, ::2],
                  lambda t: t.ones(2, 3, dtype=t.float16).t(), lambda t: t.zeros(0)):
        theirs, ours = build(torch), build(ember)
        ts, es = theirs.untyped_storage(), ours.untyped_storage()
        assert es.nbytes() == ts.nbytes() == es.size() == len(es)
        assert es.element_size() == 1 and str(es.device) == "cpu"
        assert ours.data_ptr() - es.data_ptr() == theirs.data_ptr() - ts.data_ptr()
    x = ember.arange(4, dtype=ember.int32)
    view = x[2:]
    assert view.untyped_storage().data_ptr() == x.untyped_storage().data_ptr()
    assert x.untyped_storage().tolist() == list(torch.arange(4, dtype=torch.int32)
                                                .untyped_storage().tolist())
    assert repr(ember.tensor([1], dtype=ember.uint8).untyped_storage()).endswith(
        "[torch.storage.UntypedStorage(device=cpu) of size 1]")


def test_is_set_to_like_torch():
    for lib in (torch, ember):
        x = lib.arange(6.0)
        assert x.is_set_to(x) and x.is_set_to(x[:]) and not x.is_set_to(x.view(2, 3))
        assert not x.is_set_to(x.clone()) and not x[1:].is_set_to(x[:5])


@pytest.mark.parametrize("build,shape", [
    (lambda t: t.arange(6.0), (2, 2)),
    (lambda t: t.arange(6.0), (2, 3)),
    (lambda t: t.arange(6.0)[1:], (2,)),
    (lambda t: t.arange(6.0)[1:], (2, 2)),
    (lambda t: t.arange(6.0).reshape(2, 3)[:, 1:], (4,)),
    (lambda t: t.arange(6, dtype=t.int16), (0,)),
    (lambda t: t.arange(6.0), (3, 1, 2)),
    (lambda t: t.arange(12.0).reshape(4, 3).T, (3, 4)),
    (lambda t: t.arange(12.0).reshape(4, 3).T, (4, 3)),
])
def test_resize_keeps_storage_like_torch(build, shape):
    theirs, ours = build(torch), build(ember)
    assert ours.resize_(*shape).tolist() == theirs.resize_(*shape).tolist()
    assert ours.shape == theirs.shape


def test_resize_grows_and_resize_as():
    x = ember.arange(4.0)
    y = x.resize_(2, 3)
    assert y is x and x.shape == (2, 3) and x.flatten()[:4].tolist() == [0.0, 1.0, 2.0, 3.0]
    z = ember.arange(6.0).resize_((3, 2))
    assert z.shape == (3, 2)
    t = ember.arange(5.0)
    ember.resize_as_(t, ember.ones(2, 2))
    assert t.shape == (2, 2) and t.tolist() == [[0.0, 1.0], [2.0, 3.0]]
    assert t.resize_as_(ember.ones(4)).tolist() == [0.0, 1.0, 2.0, 3.0]
    for lib in (torch, ember):  # its own shape changes nothing, not even the version
        v = lib.arange(12.0).reshape(4, 3).T
        version = v._version
        assert v.resize_as_(lib.ones(3, 4)) is v and v._version == version
        assert v.tolist() == lib.arange(12.0).reshape(4, 3).T.tolist()
    for lib in (torch, ember):
        with pytest.raises(RuntimeError, match="require grad"):
            lib.ones(2, requires_grad=True).resize_(3)
        with pytest.raises(RuntimeError):
            lib.ones(2).resize_(-1)


def _write_in_child(t):
    t[0] = 42.0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_share_memory_is_seen_by_forked_processes():
    t = ember.zeros(3)
    assert not t.is_shared() and not t.untyped_storage().is_shared()
    assert t.share_memory_() is t and t.is_shared() and t[1:].is_shared()
    t[2] = 7.0
    proc = multiprocessing.get_context("fork").Process(target=_write_in_child, args=(t,))
    proc.start()
    proc.join(30)
    assert proc.exitcode == 0
    assert t.tolist() == [42.0, 0.0, 7.0]
    assert t.share_memory_() is t and t.is_shared()


def test_pin_memory_and_dense_properties():
    x = ember.ones(2)
    assert not x.is_pinned() and not torch.ones(2).is_pinned()
    if not ember.cuda.is_available():
        with pytest.raises(RuntimeError, match="accelerator"):
            x.pin_memory()
    assert x.to_dense() is x and x.to_dense(ember.float64).dtype is ember.float64
    for name in ("is_sparse", "is_sparse_csr", "is_quantized", "is_nested", "is_meta",
                 "is_mkldnn"):
        assert getattr(x, name) is getattr(torch.ones(2), name) is False


@pytest.mark.parametrize("build", [
    lambda t: t.ones(2, 3), lambda t: t.ones(2, 3).t(), lambda t: t.ones(2, 1, 3),
    lambda t: t.ones(2, 1, 3).permute(2, 1, 0), lambda t: t.ones(1, 1),
    lambda t: t.ones(3, 1).t(), lambda t: t.ones(2, 3)[:, ::2],
    lambda t: t.ones(2, 3).expand(4, 2, 3), lambda t: t.ones(2, 3, 4, 5).permute(0, 2, 3, 1),
    lambda t: t.ones(4, 1, 1, 2).permute(3, 1, 0, 2), lambda t: t.ones(3).expand(2, 3).t(),
    lambda t: t.ones(()), lambda t: t.ones(5, 4)[::2, ::3], lambda t: t.ones(2, 4, 1, 1),
    lambda t: t.ones(2, 4, 1, 1).permute(0, 2, 3, 1), lambda t: t.ones(2, 3, 4, 5)[:, :, ::2],
    lambda t: t.ones(2, 3, 4, 5).permute(0, 2, 3, 1)[:, 1:]])
def test_dim_order_like_torch(build):
    assert build(ember).dim_order() == build(torch).dim_order()


# ---- process-wide settings -----------------------------------------------------------------
def test_typename_like_torch():
    for lib in (torch, ember):
        assert lib.typename(1) == "int" and lib.typename("a") == "str"
        assert lib.typename(len) == "len" and lib.typename(3.5) == "float"
        assert lib.typename(lib.ones(2)) == "torch.FloatTensor"
        assert lib.typename(lib.ones(2, dtype=lib.int64)) == "torch.LongTensor"
    assert ember.typename(ember.nn.Linear) == "ember.nn.modules.linear.Linear"
    assert ember.typename(ember.nn.Linear(1, 1)) == "ember.nn.modules.linear.Linear"


def test_default_device():
    assert ember.get_default_device() == ember.device("cpu")
    try:
        ember.set_default_device("cpu")
        assert ember.zeros(2).device == ember.device("cpu")
        ember.set_default_device("cuda")
        assert ember.get_default_device() == ember.device("cuda", 0)
        if not ember.cuda.is_available():
            with pytest.raises(RuntimeError):
                ember.zeros(2)
        assert ember.zeros(2, device="cpu").device.type == "cpu"
    finally:
        ember.set_default_device(None)
    assert ember.tensor([1.0]).device == ember.device("cpu")
    assert ember.get_default_device() == ember.device("cpu")


def test_determinism_settings_round_trip():
    try:
        for lib in (torch, ember):
            lib.use_deterministic_algorithms(True, warn_only=True)
            assert lib.are_deterministic_algorithms_enabled()
            assert lib.is_deterministic_algorithms_warn_only_enabled()
            assert lib.get_deterministic_debug_mode() == 1
            lib.set_deterministic_debug_mode("error")
            assert lib.get_deterministic_debug_mode() == 2
            assert not lib.is_deterministic_algorithms_warn_only_enabled()
            lib.set_deterministic_debug_mode(0)
            assert not lib.are_deterministic_algorithms_enabled()
            with pytest.raises(RuntimeError):
                lib.set_deterministic_debug_mode("sometimes")
            with pytest.raises(TypeError):
                lib.use_deterministic_algorithms("yes")
    finally:
        torch.use_deterministic_algorithms(False)
        ember.use_deterministic_algorithms(False)


def test_thread_settings_are_recorded():
    before = ember.get_num_threads()
    assert before >= 1 and ember.get_num_interop_threads() >= 1
    try:
        ember.set_num_threads(3)
        ember.set_num_interop_threads(2)
        assert ember.get_num_threads() == 3 and ember.get_num_interop_threads() == 2
        for bad in (0, -1, 1.5, True):
            with pytest.raises(RuntimeError):
                ember.set_num_threads(bad)
    finally:
        from ember._ops.misc import _Settings
        _Settings.num_threads = _Settings.interop_threads = None


def test_new_names_are_torch_names():
    from ember._ops import misc
    for name in misc.__all__:
        assert hasattr(torch, name), name
    for name in ("untyped_storage", "resize_", "resize_as_", "share_memory_", "is_shared",
                 "pin_memory", "is_pinned", "to_dense", "dim_order", "apply_", "map_", "map2_",
                 "is_set_to", "get_device", "is_signed", "cfloat", "cdouble", "where", "addr_",
                 "polygamma_", "lgamma_", "digamma_", "mvlgamma_", "gcd_", "lcm_", "ldexp_",
                 "sinc_", "nextafter_", "heaviside_", "conj_physical_", "real", "imag"):
        assert hasattr(torch.Tensor, name) and hasattr(ember.Tensor, name), name
