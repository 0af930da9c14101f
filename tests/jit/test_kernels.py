"""Fused kernels: NumPy fallback and numba (skipped without numba), broadcasting patterns,
shape fallbacks and the on-disk kernel cache."""
import inspect
import os

import numpy as np
import pytest

import ember
from ember import jit
from ember._backend import conv_kernels as CK
from ember.jit import kernels
from ember.jit.ir import FUSION_GROUP

from .models import gelu_chain


def _run(fn, *example, others=()):
    s = jit.trace(fn, example)
    kernel_nodes = [n for n in s.optimized_graph.nodes if n.op == FUSION_GROUP]
    assert kernel_nodes
    with ember.no_grad():
        for args in (example,) + tuple(others):
            got, want = s(*args), fn(*args)
            got = got if isinstance(got, tuple) else (got,)
            want = want if isinstance(want, tuple) else (want,)
            for a, b in zip(got, want):
                assert a.dtype == b.dtype and a.shape == b.shape
                assert np.allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=2e-6, equal_nan=True)
    return s


CASES = {
    "gelu": (gelu_chain, lambda: (ember.randn(40, 30), ember.randn(30), ember.randn(30))),
    "activations": (lambda x: (ember.sigmoid(x) * ember.tanh(x) + ember.relu(x - 0.5)).exp(),
                    lambda: (ember.randn(7, 9),)),
    "compare_where": (lambda x, y: ember.where(x > y, x * 2, y - 1).abs().sqrt(),
                      lambda: (ember.randn(5, 6), ember.randn(6))),
    "two_outputs": (lambda x: ((x * 3).neg(), (x * 3).exp() / 2), lambda: (ember.randn(33),)),
    "float64": (lambda x: (x * 2 + 1).exp().log(), lambda: (ember.randn(4, 4).double(),)),
    "float64_arith": (lambda x: (x * 2 + 1) / (x.abs() + 3), lambda: (ember.randn(4, 4).double(),)),
    "scalar_tensor": (lambda x, s: (x * s + 1) * 2, lambda: (ember.randn(3, 4), ember.ones(()))),
    "column": (lambda x, c: (x - c) * (x + c), lambda: (ember.randn(3, 4), ember.randn(3, 1))),
    "half_gelu": (lambda x: ember.nn.functional.gelu(x * 2, approximate="tanh") + 1,
                  lambda: (ember.randn(8, 8),)),
    "clamp_max_min": (lambda x: ember.clamp(x * 3, -1, 1) + ember.maximum(x, x * 0.5),
                      lambda: (ember.randn(9),)),
    "inf_literal": (lambda x: ember.where(x > 0, x * 2, float("-inf")).exp() + x.sign(),
                    lambda: (ember.randn(6, 2),)),
    "pow_rsqrt": (lambda x: (x.abs() + 1).rsqrt() + (x ** 2) * x.reciprocal(),
                  lambda: (ember.randn(10) + 3,)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_numpy_fuser_matches_eager(name):
    fn, make = CASES[name]
    _run(fn, *make())


@pytest.mark.parametrize("name", sorted(CASES))
def test_numba_fuser_matches_eager(name, numba_fuser):
    fn, make = CASES[name]
    s = _run(fn, *make())
    (node,) = [n for n in s.optimized_graph.nodes if n.op == FUSION_GROUP][:1]
    assert kernels.backend() == "numba"
    kernel = kernels.FusedKernel(node, use_numba=True)
    # float64 transcendentals stay with NumPy: numba would call libm once per element
    assert (kernel.numba is not None) != kernel.plan.f64_slow
    if kernel.numba is not None:
        compiled = [getattr(kernel.numba, f"{k}_seq", None) for k in ("flat", "nd")]
        assert any(fn is not None and fn.signatures for fn in compiled)


@pytest.mark.parametrize("name", ["gelu", "compare_where", "two_outputs"])
def test_numba_parallel_loops(name, numba_fuser, monkeypatch):
    monkeypatch.setattr(kernels, "PARALLEL_MIN", 0)
    fn, make = CASES[name]
    _run(fn, *make())


def test_fused_kernels_stay_on_one_thread_beside_blas_products(numba_fuser, monkeypatch):
    """A graph that also multiplies matrices (OpDef.blas) runs its fused kernels on one
    thread: OpenBLAS's spinning workers and numba's would fight for the cores (a jit MLP at
    batch 512 went from 37-41 to 44-52 ms with parallel kernels). Elementwise graphs keep the
    parallel loops."""
    monkeypatch.setattr(kernels, "PARALLEL_MIN", 0)
    x, w = ember.randn(64, 32), ember.randn(32, 32)

    def fused(s):
        code = s._methods["forward"].compiled()[3]
        return [k for k in inspect.unwrap(code.fn).__globals__.values()
                if isinstance(k, kernels.FusedKernel)]
    beside = jit.trace(lambda x, w: ember.relu(x @ w + 1) * 2, (x, w))
    alone = jit.trace(lambda x: ember.relu(x + 1) * 2, (x,))
    with ember.no_grad():
        assert ember.allclose(beside(x, w), ember.relu(x @ w + 1) * 2)
        assert ember.allclose(alone(x), ember.relu(x + 1) * 2)
    assert [k.parallel for k in fused(beside)] == [False]
    assert [k.parallel for k in fused(alone)] == [True]


def test_small_arrays_skip_numba(numba_fuser, monkeypatch):
    monkeypatch.setattr(kernels, "NUMBA_MIN", 1 << 14)
    s = jit.trace(gelu_chain, (ember.randn(4, 5), ember.randn(5), ember.randn(5)))
    (node,) = [n for n in s.optimized_graph.nodes if n.op == FUSION_GROUP]
    kernel = kernels.FusedKernel(node, use_numba=True)

    class Unused:
        def __getattr__(self, name):
            raise AssertionError("numba ran for a tiny array")
    kernel.numba = Unused()
    arrays = [t.numpy() for t in (ember.randn(4, 5), ember.randn(5), ember.randn(5))]
    assert isinstance(kernel(*arrays), tuple)


@pytest.mark.parametrize("fuser", ["numpy", "numba"])
def test_shapes_that_break_the_pattern_run_unfused(fuser, request):
    if fuser == "numba":
        request.getfixturevalue("numba_fuser")
    s = jit.trace(lambda x, b: (x + b).exp(), (ember.randn(3, 4), ember.randn(4)))
    x, b = ember.randn(3, 4), ember.randn(3, 4)
    with ember.no_grad():
        assert np.allclose(s(x, b).numpy(), (x + b).exp().numpy())
        x, b = ember.randn(5, 4), ember.randn(4)
        assert np.allclose(s(x, b).numpy(), (x + b).exp().numpy())


def test_other_batch_size_uses_the_same_kernel():
    s = jit.trace(gelu_chain, (ember.randn(1, 6), ember.randn(6), ember.randn(6)))
    x, w, b = ember.randn(50, 6), ember.randn(6), ember.randn(6)
    with ember.no_grad():
        assert np.allclose(s(x, w, b).numpy(), gelu_chain(x, w, b).numpy(), atol=1e-6)


def test_noncontiguous_inputs():
    s = jit.trace(lambda x: (x * 2).exp(), ember.randn(4, 6))
    x = ember.randn(6, 4).t()
    with ember.no_grad():
        assert np.allclose(s(x).numpy(), (x * 2).exp().numpy())


def test_numpy_kernel_reuses_buffers():
    s = jit.trace(gelu_chain, (ember.randn(4, 5), ember.randn(5), ember.randn(5)))
    (node,) = [n for n in s.optimized_graph.nodes if n.op == FUSION_GROUP]
    source = kernels.FusedKernel(node, use_numba=False).numpy_source
    assert "out=" in source


def test_numba_kernel_is_cached_on_disk(numba_fuser):
    s = jit.trace(gelu_chain, (ember.randn(300, 300), ember.randn(300), ember.randn(300)))
    (node,) = [n for n in s.optimized_graph.nodes if n.op == FUSION_GROUP]
    kernel = kernels.FusedKernel(node, use_numba=True)
    assert kernel.numba is not None
    path = kernel.numba.__file__
    assert os.path.dirname(path) == kernels.cache_dir() and os.path.exists(path)
    assert "njit(parallel=True" in kernel.numba_source and "prange" in kernel.numba_source
    with ember.no_grad():
        s(ember.randn(300, 300), ember.randn(300), ember.randn(300))
    assert os.path.isdir(os.path.join(os.path.dirname(path), "__pycache__"))


def test_backend_choice(monkeypatch):
    assert kernels.backend() == "numpy"
    monkeypatch.delenv("EMBER_JIT_FUSER")
    import importlib.util
    expected = "numba" if importlib.util.find_spec("numba") else "numpy"
    assert kernels.backend() == expected


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_kernels_keep_nan_and_infinities_as_eager(dtype, numba_fuser):
    """Every fusable op (alone and in chains), run as one numba kernel on inputs holding NaN,
    infinities and signed zeros, gives eager's results (no fast-math NaN/inf assumptions)."""
    from .pointwise_chains import CHAINS, special_operands
    x, y = special_operands(1 << 16, np.random.default_rng(0))
    xt, yt = (ember.tensor(a, dtype=getattr(ember, dtype)) for a in (x, y))
    for chain in CHAINS:
        traced = ember.jit.trace(chain, (xt, yt), check_trace=False)
        np.testing.assert_allclose(traced(xt, yt).numpy(), chain(xt, yt).numpy(), rtol=2e-5,
                                   atol=1e-6, equal_nan=True, err_msg=chain.__name__)


@pytest.mark.parametrize("form", ["numpy", "numba"])
@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (2, 3, 9, 7)])
def test_max_pool_values_match_the_op(form, shape, monkeypatch, request):
    """Inference max pooling (values only, into a planned buffer) gives the op's values in
    NumPy and in the numba 2x2 form, NaN included."""
    if form == "numba":
        request.getfixturevalue("numba_fuser")
        monkeypatch.setattr(CK, "_POOL_NUMBA_MIN", 0)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    want = ember.nn.functional.max_pool2d(ember.from_numpy(x), 2).numpy()
    out = np.empty_like(want)
    got = kernels.max_pool_values(x, (2, 2), (2, 2), (0, 0), (1, 1), out=out)
    assert got is out
    np.testing.assert_array_equal(got, want)
    fast = CK.max_pool_2x2(np, x, (2, 2), (2, 2), ((0, 0), (0, 0)), (1, 1), want.shape[2:],
                           indices=False)
    assert (fast is not None) == (form == "numba")
    x[0, 1, 2, 3] = np.nan
    got = kernels.max_pool_values(x, (2, 2), (2, 2), (0, 0), (1, 1))
    assert np.isnan(got[0, 1, 1, 1]) and np.isnan(got).sum() == 1
