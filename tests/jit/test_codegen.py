"""Generated code: promotion casts, 0-d results, in-place writes, outputs, and the choice
between the fast path and the autograd replay."""
import numpy as np
import pytest

import ember
from ember import jit
from ember.jit.codegen import compile_graph

from .models import MLP


def _same(a, b):
    return a.shape == b.shape and a.dtype == b.dtype and bool((a == b).all())


def _fast(fn, *example):
    s = jit.trace(fn, example)
    with ember.no_grad():
        for args in (example,):
            got, want = s(*args), fn(*args)
            got = got if isinstance(got, tuple) else (got,)
            want = want if isinstance(want, tuple) else (want,)
            assert all(_same(a, b) for a, b in zip(got, want))
    return s


def test_source_calls_forwards_on_arrays():
    s = _fast(lambda x: (x * 2).sum(), ember.ones(3))
    src = s.generated_code
    assert src.startswith("def forward(inputs, state):")
    assert "(ctx, xp," in src and "Tensor" not in src


def test_type_promotion_casts():
    def f(a, b, h):
        return a + b * 2.5, a / 2, h * 3, (h + b).sum(), a > 1.5
    _fast(f, ember.arange(4), ember.arange(4.0), ember.arange(4.0).half())


def test_half_precision_compute_is_widened_and_cast_back():
    s = _fast(lambda h: (h * 0.1).exp(), ember.arange(4.0).half())
    assert ".astype(" in s.generated_code


def test_zero_dim_results_are_arrays():
    s = _fast(lambda x: (x.sum() * 2, x.max() + 1), ember.arange(3.0))
    with ember.no_grad():
        out = s(ember.arange(3.0))
    assert all(isinstance(t._data, np.ndarray) and t.shape == () for t in out)


def test_inplace_nodes_write_through_views():
    def f(x):
        y = x * 1
        y[0] = 7
        y[1:].mul_(2)
        y.relu_()
        return y
    _fast(f, ember.randn(5))


def test_attributes_holding_traced_arrays():
    _fast(lambda x: x[x.argmax(0)] + x[x > 0].sum(), ember.randn(4, 3))


def test_returning_inputs_and_state():
    m = MLP().eval()

    class Passthrough(ember.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = m

        def forward(self, x):
            return x, self.m.fc1.bias, self.m(x)
    s = jit.trace(Passthrough(), ember.ones(2, 8))
    x = ember.ones(2, 8)
    with ember.no_grad():
        out = s(x)
    assert out[0] is x and out[1] is m.fc1.bias


def test_grad_mode_replays_and_records_autograd():
    m = MLP()
    s = jit.trace(m, ember.ones(2, 8))
    out = s(ember.ones(2, 8))
    assert out.requires_grad and out.grad_fn is not None
    with ember.no_grad():
        assert not s(ember.ones(2, 8)).requires_grad
    m.requires_grad_(False)
    assert not s(ember.ones(2, 8)).requires_grad


def test_inference_mode_marks_outputs():
    s = jit.trace(lambda x: x * 2, ember.ones(2))
    with ember.inference_mode():
        assert s(ember.ones(2)).is_inference()


def test_dtype_change_of_parameters_falls_back_to_replay():
    m = MLP().eval()
    s = jit.trace(m, ember.ones(2, 8))
    s.double()
    x = ember.ones(3, 8, dtype=ember.float64)
    with ember.no_grad():
        out = s(x)
        assert out.dtype == ember.float64
        assert np.allclose(out.numpy(), m(x).numpy())


def test_compile_graph_directly():
    s = jit.trace(lambda x, y: x * y + 1, (ember.ones(2), ember.ones(2)))
    code = compile_graph(s.graph, [], "f")
    (out,) = code.fn([np.full(2, 3.0, np.float32), np.full(2, 2.0, np.float32)], [])
    assert out.tolist() == [7.0, 7.0]
    assert "def f(inputs, state):" in code.source


@pytest.mark.parametrize("memory", [False, True])
def test_consumed_inputs_are_freed_after_their_last_read(memory):
    """A function that consumes its inputs empties the list and frees each input once read
    for the last time: the 4 MiB repeat is allocated after the four 1 MiB inputs are gone."""
    import tracemalloc
    s = jit.trace(lambda a, b, c, d: (a + b + c + d).repeat(4, 1), (ember.ones(512, 512),) * 4)
    code = compile_graph(s.graph, [], "f", memory=memory, consumes_inputs=True)
    size = 512 * 512 * 4
    tracemalloc.start()
    inputs = [np.ones((512, 512), np.float32) for _ in range(4)]
    (out,) = code.fn(inputs, [])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert inputs == [] and out.shape == (2048, 512) and bool((out == 4).all())
    assert peak < 7.5 * size  # holding the inputs to the end would peak at 9


@pytest.mark.parametrize("batch", [1, 64])
def test_mlp_batch_sizes(batch):
    m = MLP((784, 512, 256, 10)).eval()
    s = jit.trace(m, ember.randn(batch, 784))
    x = ember.randn(batch, 784)
    with ember.no_grad():
        assert np.allclose(s(x).numpy(), m(x).numpy(), atol=1e-5)
