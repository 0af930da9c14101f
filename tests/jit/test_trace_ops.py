"""Every sample of every registry op through ember.jit.trace: the traced graph, run on new
values of the same shapes, gives eager's outputs, unless the trace warned that it baked a
value in (TracerWarning, as torch.jit.trace does); a silent difference is a bug. And every
traced graph saves and loads (attributes of every kind) into a graph giving the same."""
from __future__ import annotations

import io
import warnings

import numpy as np
import pytest

import ember
import ember.nn  # noqa: F401 - registers nn.functional's composites
from ember._ops import REGISTRY
from ember._ops.registry import COMPOSITES
from ember.jit import TracerWarning
from ember.jit.passes.analysis import is_random

from _ops.harness import build, flatten, make_values

SAMPLES = {**{name: op.samples for name, op in REGISTRY.items()}, **COMPOSITES}
CASES = [(name, i, s) for name, samples in sorted(SAMPLES.items()) for i, s in enumerate(samples)
         if not (name in REGISTRY and is_random(name))]
IDS = [f"{name}-{s.name or i}" for name, i, s in CASES]


def _tensors(out):
    return [o for o in flatten(out) if isinstance(o, ember.Tensor)]


def _trace(sample, fn, args):
    """The traced sample; skips where jit.trace refuses it by design (its own error, saying
    why: backward inside, non-tensor outputs, writes into untraced tensors). Anything else
    raised is a failure."""
    try:
        return ember.jit.trace(fn, tuple(args), check_trace=False, strict=False)
    except RuntimeError as e:
        if not str(e).startswith("ember.jit.trace:"):
            raise
        pytest.skip(f"not traceable: {str(e)[:80]}")


@pytest.mark.parametrize("name,i,sample", CASES, ids=IDS)
def test_traced_sample_follows_new_values(name, i, sample):
    dtype = sample.dtypes[0]
    fn = lambda *args: sample.fn(ember, *args)  # noqa: E731
    first = build(ember, make_values(sample, dtype, 0), False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        traced = _trace(sample, fn, first)
    if any(issubclass(w.category, TracerWarning) and "computes sizes" not in str(w.message)
           for w in caught):  # (a graph kept at its traced sizes still follows new values)
        pytest.skip("the trace warned that it bakes a value in")
    values = make_values(sample, dtype, 1)
    want = _tensors(fn(*build(ember, values, False)))
    got = _tensors(traced(*[a for a in build(ember, values, False)
                            if isinstance(a, ember.Tensor)]))
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want)):
        assert g.dtype == w.dtype and g.shape == w.shape, f"output {k}"
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-4, atol=1e-5,
                                   equal_nan=True, err_msg=f"{name} output {k}")


@pytest.mark.parametrize("name,i,sample", CASES, ids=IDS)
def test_traced_sample_saves_and_loads(name, i, sample):
    dtype = sample.dtypes[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TracerWarning)
        traced = _trace(sample, lambda *args: sample.fn(ember, *args),
                        build(ember, make_values(sample, dtype, 0), False))
    buf = io.BytesIO()
    if name == "python_call":  # Python code cannot be saved: torch refuses it too
        with pytest.raises(RuntimeError, match="Could not export Python function call"):
            traced.save(buf)
        return
    traced.save(buf)
    loaded = ember.jit.load(io.BytesIO(buf.getvalue()))
    args = [a for a in build(ember, make_values(sample, dtype, 1), False)
            if isinstance(a, ember.Tensor)]
    got, want = _tensors(loaded(*args)), _tensors(traced(*args))
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want)):
        assert g.dtype == w.dtype and g.shape == w.shape, f"output {k}"
        np.testing.assert_array_equal(g.numpy(), w.numpy(), err_msg=f"{name} output {k}")
