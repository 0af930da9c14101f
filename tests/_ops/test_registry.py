"""The op suite, generated from the registry: every sample of every OpDef is checked against
torch (forward values and dtypes, gradients), with float64 gradcheck and gradgradcheck."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import ember
import ember.nn  # noqa: F401 - registers nn.functional's composites before the suite is built
from ember._ops import REGISTRY
from ember._ops.registry import COMPOSITES
from ember._ops import dispatch
from ember.autograd.gradcheck import gradcheck, gradgradcheck

from .harness import (LOW_PRECISION, assert_same, build, complex_values, flatten,
                      make_values, to_numpy)

SAMPLES = {**{name: op.samples for name, op in REGISTRY.items()}, **COMPOSITES}
CASES = [(name, i, s) for name, samples in sorted(SAMPLES.items()) for i, s in enumerate(samples)]
IDS = [f"{name}-{s.name or i}" for name, i, s in CASES]
FORWARD = [(name, s, dt) for name, _, s in CASES for dt in s.dtypes]
FORWARD_IDS = [f"{n}-{s.name or 'base'}-{dt}" for n, s, dt in FORWARD]
GRAD = [c for c in CASES if c[2].grad]
GRAD_IDS = [f"{name}-{s.name or i}" for name, i, s in GRAD]


def test_every_op_has_samples():
    missing = sorted(name for name, samples in SAMPLES.items() if not samples)
    assert not missing, f"ops without samples (add some to their OpDef): {missing}"


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_samples_exercise_their_op(name):
    """A sample must really run its op: a new OpDef cannot slip through untested."""
    seen = set()
    observer = lambda op, args, attrs, outs: seen.add(op.name)  # noqa: E731
    dispatch.observers.append(observer)
    try:
        for s in REGISTRY[name].samples:
            s.fn(ember, *build(ember, make_values(s, s.dtypes[0]), requires_grad=False))
    finally:
        dispatch.observers.remove(observer)
    assert name in seen, f"no sample of {name!r} calls it (called: {sorted(seen)})"


@pytest.mark.parametrize("name", sorted(n for n, op in REGISTRY.items() if op.fresh))
def test_fresh_ops_return_new_memory(name):
    """OpDef.fresh lets the JIT's memory plan reuse an op's results once dead: no result may
    share memory with an input."""
    calls = []
    observer = lambda op, args, attrs, outs: calls.append((op, args, outs))  # noqa: E731
    dispatch.observers.append(observer)
    try:
        for s in REGISTRY[name].samples:
            for dtype in s.dtypes:
                s.fn(ember, *build(ember, make_values(s, dtype), requires_grad=False))
    finally:
        dispatch.observers.remove(observer)
    ours = [(args, outs) for op, args, outs in calls if op.name == name]
    assert ours
    for args, outs in ours:
        arrays = [a._data for a in flatten(args) if isinstance(a, ember.Tensor)]
        for out in flatten(outs):
            assert not any(np.shares_memory(out._data, a) for a in arrays), name


@pytest.mark.parametrize("name,sample,dtype", FORWARD, ids=FORWARD_IDS)
def test_forward_matches_torch(name, sample, dtype):
    values = make_values(sample, dtype)
    expected = sample.fn(torch, *build(torch, values, False))
    got = sample.fn(ember, *build(ember, values, False))
    exact = sample.atol == sample.rtol == 0  # bit-exact in every format the sample lists
    atol, rtol = (0, 0) if exact else LOW_PRECISION.get(dtype, (sample.atol, sample.rtol))
    assert_same(got, expected, atol, rtol, f"{name}[{dtype}]")


def _grads(lib, sample, values, dtype):
    args = build(lib, values, True)
    wrt = [a for a in args if isinstance(a, (torch.Tensor, ember.Tensor)) and a.requires_grad]
    outs = [o for o in flatten(sample.fn(lib, *args))
            if isinstance(o, (torch.Tensor, ember.Tensor)) and o.requires_grad]
    rng = np.random.default_rng(1)
    cots = [lib.tensor(rng.standard_normal(tuple(o.shape))
                       + (1j * rng.standard_normal(tuple(o.shape)) if o.is_complex() else 0),
                       dtype=o.dtype, device=o.device) for o in outs]
    if not outs:
        return []
    return lib.autograd.grad(outs, wrt, cots, allow_unused=True)


@pytest.mark.parametrize("name,i,sample", GRAD, ids=GRAD_IDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_backward_matches_torch(name, i, sample, dtype):
    values = make_values(sample, dtype)
    try:
        expected = _grads(torch, sample, values, dtype)
    except RuntimeError as e:
        pytest.xfail(f"the oracle's own backward fails (ember's gradient is still gradchecked): "
                     f"{str(e).splitlines()[0][:160]}")
    got = _grads(ember, sample, values, dtype)
    assert len(expected) == len(got)
    for k, (g, e) in enumerate(zip(got, expected)):
        if e is None:
            assert g is None or np.allclose(to_numpy(g), 0), f"input {k}: torch has no grad"
            continue
        assert g is not None, f"input {k}: ember produced no gradient"
        tol = (1e-4, 1e-4) if dtype == "float32" else (1e-8, 1e-7)
        assert_same(g, e, *tol, f"grad of {name} input {k}")


def _check_fn(sample):
    def fn(*args):
        outs = [o for o in flatten(sample.fn(ember, *args))
                if isinstance(o, ember.Tensor) and o.dtype.is_floating_point]
        return tuple(outs)
    return fn


@pytest.mark.parametrize("name,i,sample", GRAD, ids=GRAD_IDS)
def test_gradcheck(name, i, sample):
    args = build(ember, make_values(sample, "float64"), True)
    if not any(isinstance(a, ember.Tensor) and a.requires_grad for a in args):
        pytest.fail("sample marked grad=True has no differentiable input")
    assert gradcheck(_check_fn(sample), tuple(args), eps=1e-6, atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("name,i,sample", [c for c in GRAD if c[2].gradgrad],
                         ids=[i for c, i in zip(GRAD, GRAD_IDS) if c[2].gradgrad])
def test_gradgradcheck(name, i, sample):
    args = build(ember, make_values(sample, "float64"), True)
    assert gradgradcheck(_check_fn(sample), tuple(args), eps=1e-6, atol=1e-4, rtol=1e-3)


COMPLEX = [c for c in CASES if "float64" in c[2].dtypes]
COMPLEX_IDS = [f"{n}-{s.name or i}" for n, i, s in COMPLEX]
# torch answers these only because no kernel runs (an empty input, a global pool taken as a
# mean), refuses through an implementation detail (replicate padding clamps), or
# differentiates a dtype= cast with the complex input; ember keeps its rule
_COMPLEX_QUIRKS = {"adaptive_avg_pool-global", "adaptive_avg_pool2d-global", "cummax-empty",
                   "cummin-empty", "log_softmax-empty", "softmax-empty", "median-empty",
                   "mode-empty", "kthvalue-0d", "pad_flat-0", "cumprod-dtype"}
# ember refuses (NotImplementedError): complex RNNs
_COMPLEX_GAPS = {"rnn_layer-0", "rnn_layer-gru_cell", "rnn_layer-lstm_cell",
                 "rnn_layer-lstm_proj_bidirectional", "rnn_layer-gru_two_layers",
                 "rnn_layer-packed_bidirectional", "rnn_layer-packed_lstm_state"}


def test_complex_exceptions_name_real_cases():
    assert _COMPLEX_QUIRKS | _COMPLEX_GAPS <= set(COMPLEX_IDS)


@pytest.mark.parametrize("name,i,sample", [
    pytest.param(*c, marks=pytest.mark.xfail(raises=NotImplementedError, strict=True))
    if cid in _COMPLEX_GAPS else c
    for c, cid in zip(COMPLEX, COMPLEX_IDS) if cid not in _COMPLEX_QUIRKS],
    ids=[cid for cid in COMPLEX_IDS if cid not in _COMPLEX_QUIRKS])
def test_complex_matches_torch(name, i, sample):
    """Each float64 sample again at complex128: where torch answers, ember gives its values
    and gradients (torch's convention: conj-Wirtinger); where torch refuses, ember refuses
    with an error of its own, not NumPy's."""
    values = complex_values(make_values(sample, "float64"))
    try:
        expected = sample.fn(torch, *build(torch, values, False))
    except (RuntimeError, TypeError, ValueError, IndexError):
        with pytest.raises((RuntimeError, TypeError, ValueError, IndexError)) as refused:
            sample.fn(ember, *build(ember, values, False))
        assert "ufunc" not in str(refused.value) and "numpy" not in str(refused.value), \
            f"{name}: NumPy's error leaked: {refused.value}"
        return
    got = sample.fn(ember, *build(ember, values, False))
    assert_same(got, expected, sample.atol, sample.rtol, f"{name}[complex128]")
    if not sample.grad:
        return
    try:
        expected = _grads(torch, sample, values, "complex128")
    except RuntimeError:
        return  # torch has no complex derivative here
    got = _grads(ember, sample, values, "complex128")
    for k, (g, e) in enumerate(zip(got, expected)):
        if e is not None:
            assert g is not None, f"input {k}: ember produced no gradient"
            assert_same(g, e, 1e-8, 1e-7, f"complex grad of {name} input {k}")
