"""@jit.ignore against torch: the scripted graph calls the ignored function in Python on every
run (results follow the data, side effects repeat per call and per loop iteration), saving
such a module raises torch's RuntimeError, and @ignore(drop=True) / @unused save as a call
that raises."""
import io
from typing import List, Tuple

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated"),
              pytest.mark.filterwarnings("ignore::ember.jit.TracerWarning"),
              pytest.mark.filterwarnings("ignore:ignore\\(True\\) has been deprecated")]

_INPUTS = ([1.0, 2.0, 3.0], [1.0, 5.0, 9.0], [-4.0, 0.5, 2.0])


def _programs(lib):
    """Modules written as a PyTorch user would, for `lib` (ember or torch)."""
    nn = lib.nn
    calls = []

    @lib.jit.ignore
    def spread(x: lib.Tensor) -> float:
        return float(x.numpy().std())

    @lib.jit.ignore
    def summary(xs: List[lib.Tensor], k: int) -> Tuple[lib.Tensor, float]:
        calls.append(k)
        total = xs[0] + xs[1] * k
        return total, float(total.numpy().max())

    class Scale(nn.Module):
        def forward(self, x):
            return x * spread(x)

    class Method(nn.Module):
        @lib.jit.ignore
        def shift(self, x: lib.Tensor) -> lib.Tensor:
            return x - float(np.median(x.numpy()))

        def forward(self, x):
            return self.shift(x) * 2

    class Looped(nn.Module):
        def forward(self, x):
            acc = x
            for i in range(3):
                acc, top = summary([acc, x], i)
                acc = acc / top
            if x.sum() > 5:
                acc = acc + spread(x)
            return acc

    class Inner(nn.Module):
        @lib.jit.ignore
        def forward(self, x: lib.Tensor) -> lib.Tensor:
            return x + float(np.abs(x.numpy()).max())

    class Outer(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = Inner()

        def forward(self, x):
            return self.inner(x).relu()

    def guarded(decorator):
        class Guarded(nn.Module):
            @decorator
            def helper(self, x: lib.Tensor) -> lib.Tensor:
                return x + 1

            def forward(self, x):
                if x.sum() > 100:
                    return self.helper(x)
                return x * 2
        return Guarded

    return dict(Scale=Scale, Method=Method, Looped=Looped, Outer=Outer,
                Dropped=guarded(lib.jit.ignore(drop=True)), Unused=guarded(lib.jit.unused)), calls


def _run(lib, name):
    """The scripted module's results on _INPUTS, the calls of `summary` the runs after the
    first made (ember's first run compiles, calling it once more for its result types), and
    the scripted module."""
    programs, calls = _programs(lib)
    scripted = lib.jit.script(programs[name]())
    results = [scripted(lib.tensor(_INPUTS[0])).numpy()]
    calls.clear()
    results += [scripted(lib.tensor(v)).numpy() for v in _INPUTS[1:]]
    return results, calls, scripted


@pytest.mark.parametrize("name", ["Scale", "Method", "Looped", "Outer"])
def test_ignored_call_runs_per_call(name):
    ours, our_calls, _ = _run(ember, name)
    theirs, their_calls, _ = _run(torch, name)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert our_calls == their_calls


@pytest.mark.parametrize("name", ["Scale", "Method", "Looped", "Outer"])
def test_save_refuses_ignored_call(name):
    for lib in (ember, torch):
        scripted = _run(lib, name)[2]
        with pytest.raises(RuntimeError, match="Could not export Python function call"):
            lib.jit.save(scripted, io.BytesIO())


@pytest.mark.parametrize("name", ["Dropped", "Unused"])
def test_dropped_call_saves_as_a_raise(name):
    for lib in (ember, torch):
        scripted = _run(lib, name)[2]
        buffer = io.BytesIO()
        lib.jit.save(scripted, buffer)
        buffer.seek(0)
        loaded = lib.jit.load(buffer)
        for m in (scripted, loaded):
            np.testing.assert_allclose(m(lib.tensor([1.0, 2.0])).numpy(), [2.0, 4.0])
            with pytest.raises((RuntimeError, torch.jit.Error), match="ignored|unused"):
                m(lib.tensor([100.0, 2.0]))


def test_ignored_result_type_must_hold():
    @ember.jit.ignore
    def flip(x):
        return x if x.sum() > 0 else x.long()

    scripted = ember.jit.script(_caller(flip))
    np.testing.assert_allclose(scripted(ember.ones(2)).numpy(), [2.0, 2.0])
    with pytest.raises(RuntimeError, match="ignored function .*flip.* expects a torch.float32"):
        scripted(-ember.ones(2))


def _caller(fn):
    def caller(x):
        return fn(x) * 2
    return caller


def test_gradients_flow_through_an_ignored_call():
    grads = []
    for lib in (ember, torch):
        @lib.jit.ignore
        def weighted(x: lib.Tensor, w: float) -> lib.Tensor:
            return x * x * w if float(x.sum()) > 0 else x * w

        def caller(x, y):
            return (weighted(x, 3.0) * y).sum() + weighted(y, 2.0).sum()

        scripted = lib.jit.script(caller)
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = lib.tensor([0.5, -1.0], requires_grad=True)
        scripted(x, y).backward()
        grads.append((x.grad.numpy(), y.grad.numpy()))
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-6)
