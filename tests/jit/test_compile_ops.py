"""Every sample of every registry op through ember.compile: the capture, a replay, and a
replay on new values (which catches anything the graph baked in from the first call) give
eager's outputs and gradients. Ops that cannot be captured fall back to eager, which must
give the same."""
from __future__ import annotations

import numpy as np
import pytest

import ember
import ember.nn  # noqa: F401 - registers nn.functional's composites
from ember._ops import REGISTRY
from ember._ops.registry import COMPOSITES
from ember.jit.passes.analysis import is_random

from _ops.harness import build, flatten, make_values

SAMPLES = {**{name: op.samples for name, op in REGISTRY.items()}, **COMPOSITES}
CASES = [(name, i, s) for name, samples in sorted(SAMPLES.items()) for i, s in enumerate(samples)]
IDS = [f"{name}-{s.name or i}" for name, i, s in CASES]


def _run(fn, values, grad: bool, seed: int):
    """fn's outputs and the gradients of its floating outputs (fixed cotangents) for its
    differentiable inputs, from fresh tensors built from `values`."""
    ember.manual_seed(seed)
    args = build(ember, values, grad)
    outs = flatten(fn(*args))
    wrt = [a for a in args if isinstance(a, ember.Tensor) and a.requires_grad]
    diff = [o for o in outs if isinstance(o, ember.Tensor) and o.requires_grad]
    grads = []
    if wrt and diff:
        rng = np.random.default_rng(1)
        cots = [ember.tensor(rng.standard_normal(tuple(o.shape)), dtype=o.dtype) for o in diff]
        grads = list(ember.autograd.grad(diff, wrt, cots, allow_unused=True))
    return outs, grads


def _shuffled(fn, values, grad: bool):
    """`values` with the integer tensors a sample fixes (indices, targets, lengths) shuffled,
    so new values move them too; unchanged when eager refuses the shuffled ones."""
    rng = np.random.default_rng(2)
    moved = [("tensor", rng.permutation(v[1].reshape(-1)).reshape(v[1].shape)) + v[2:]
             if v[0] == "tensor" and v[1].dtype.kind in "iu" and v[1].size > 1 else v
             for v in values]
    try:
        _run(fn, moved, grad, 1)
    except Exception:  # noqa: BLE001 - the sample needs its values as they are
        return values
    return moved


def _same(got, want, what):
    assert len(got) == len(want), f"{what}: {len(got)} results vs {len(want)}"
    for k, (g, w) in enumerate(zip(got, want)):
        if isinstance(w, ember.Tensor):
            assert isinstance(g, ember.Tensor), f"{what} {k}: {type(g)} is not a Tensor"
            assert g.dtype == w.dtype and g.shape == w.shape, \
                f"{what} {k}: {g.dtype}{tuple(g.shape)} vs {w.dtype}{tuple(w.shape)}"
            a, b = g.detach().numpy(), w.detach().numpy()
        else:
            assert type(g) is type(w) or g is None or w is None, f"{what} {k}: type"
            a, b = np.asarray(0.0 if g is None else g), np.asarray(0.0 if w is None else w)
        if a.dtype.kind in "fc":
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, equal_nan=True,
                                       err_msg=f"{what} {k}")
        else:
            np.testing.assert_array_equal(a, b, err_msg=f"{what} {k}")


@pytest.mark.parametrize("name,i,sample", CASES, ids=IDS)
def test_compiled_sample_matches_eager(name, i, sample):
    dtype = sample.dtypes[0]
    grad = bool(sample.grad) and dtype.startswith("float")
    eager = lambda *args: sample.fn(ember, *args)  # noqa: E731
    fast = ember.compile(lambda *args: sample.fn(ember, *args))
    random = name in REGISTRY and is_random(name)
    for call, seed in enumerate((0, 0, 1)):  # capture, replay, replay on new values
        values = make_values(sample, dtype, seed)
        if seed:
            values = _shuffled(eager, values, grad)
        want_out, want_grad = _run(eager, values, grad, seed)
        got_out, got_grad = _run(fast, values, grad, seed)
        if random and call:
            continue  # a replay draws in the graph's own order; the capture matched eager
        _same(got_out, want_out, f"{name} call {call} output")
        _same(got_grad, want_grad, f"{name} call {call} gradient")
