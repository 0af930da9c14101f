"""ember._dynamo.mark_dynamic / maybe_mark_dynamic / mark_static against torch: a dim marked
dynamic compiles one graph that later sizes run (no recompile, as set_stance
("fail_on_recompile") shows in both), a marked dim the code fixes raises
ConstraintViolationError, and a dim marked static recompiles at each size."""
import numpy as np
import pytest
import torch

import ember
import ember._dynamo


def _matmul_relu(lib):
    def f(x, w):
        return (x @ w).relu().sum(1)
    return f


def _inputs(lib, n, seed=0):
    rng = np.random.default_rng(seed)
    return lib.tensor(rng.standard_normal((n, 3)).astype(np.float32))


@pytest.mark.parametrize("lib", [torch, ember], ids=["torch", "ember"])
def test_mark_dynamic_later_sizes_do_not_recompile(lib):
    f = _matmul_relu(lib)
    compiled = lib.compile(f, backend="aot_eager")
    w = _inputs(lib, 5).T.contiguous()
    x = _inputs(lib, 4)
    lib._dynamo.mark_dynamic(x, 0)
    compiled(x, w)
    with lib.compiler.set_stance("fail_on_recompile"):
        for n in (5, 7, 12):
            y = _inputs(lib, n, seed=n)
            np.testing.assert_allclose(compiled(y, w).numpy(), f(y, w).numpy(), rtol=1e-5)
    if lib is ember:
        assert compiled._ember_compiled.compiled == 1


@pytest.mark.parametrize("lib", [torch, ember], ids=["torch", "ember"])
def test_unmarked_second_size_recompiles(lib):
    compiled = lib.compile(_matmul_relu(lib), backend="aot_eager")
    w = _inputs(lib, 5).T.contiguous()
    compiled(_inputs(lib, 4), w)
    with lib.compiler.set_stance("fail_on_recompile"):
        with pytest.raises(RuntimeError, match="fail_on_recompile"):
            compiled(_inputs(lib, 6), w)


def test_mark_dynamic_strided_network_and_gradients():
    ember.manual_seed(0)
    net = ember.nn.Sequential(ember.nn.Conv2d(3, 4, 3, stride=2, padding=1), ember.nn.ReLU(),
                              ember.nn.AdaptiveAvgPool2d(1), ember.nn.Flatten(),
                              ember.nn.Linear(4, 2))
    compiled = ember.compile(net)
    x = ember.randn(2, 3, 16, 16, requires_grad=True)
    for d in (0, 2, 3):
        ember._dynamo.mark_dynamic(x, d)
    compiled(x).sum().backward()
    with ember.compiler.set_stance("fail_on_recompile"):
        for b, s in ((3, 20), (2, 32), (4, 24)):
            y = ember.randn(b, 3, s, s, requires_grad=True)
            y_eager = y.detach().requires_grad_()
            out, ref = compiled(y), net(y_eager)
            assert ember.allclose(out, ref, atol=1e-5)
            out.sum().backward()
            ref.sum().backward()
            assert ember.allclose(y.grad, y_eager.grad, atol=1e-5)
    assert compiled._compiled.compiled == 1


@pytest.mark.parametrize("lib", [torch, ember], ids=["torch", "ember"])
def test_mark_dynamic_on_a_fixed_size_raises_maybe_does_not(lib):
    def h(x):
        if x.shape[0] == 4:
            return x + 1
        return x - 1
    x = lib.zeros(4)
    lib._dynamo.mark_dynamic(x, 0)
    with pytest.raises(RuntimeError, match="mark_dynamic|maybe_mark_dynamic"):
        lib.compile(h, backend="aot_eager")(x)
    x = lib.zeros(4)
    lib._dynamo.maybe_mark_dynamic(x, 0)
    compiled = lib.compile(h, backend="aot_eager")
    assert compiled(x).tolist() == [1.0] * 4
    assert compiled(lib.zeros(6)).tolist() == [-1.0] * 6


@pytest.mark.parametrize("lib", [torch, ember], ids=["torch", "ember"])
def test_mark_static_recompiles_each_size(lib):
    compiled = lib.compile(lambda x: x * 2, backend="aot_eager")
    for n in (4, 5):
        x = lib.ones(n)
        lib._dynamo.mark_static(x, 0)
        assert compiled(x).tolist() == [2.0] * n
    x = lib.ones(6)
    lib._dynamo.mark_static(x)
    assert x._dynamo_static_indices == {0}
    with lib.compiler.set_stance("fail_on_recompile"):
        with pytest.raises(RuntimeError, match="fail_on_recompile"):
            compiled(x)


@pytest.mark.parametrize("lib", [torch, ember], ids=["torch", "ember"])
def test_marks_are_recorded_on_the_tensor(lib):
    x = lib.zeros(2, 3, 4)
    lib._dynamo.mark_dynamic(x, [0, 2])
    lib._dynamo.mark_dynamic(x, 1)
    assert x._dynamo_dynamic_indices == {0, 1, 2}
    y = lib.zeros(2, 3)
    lib._dynamo.mark_static(y, 1)
    assert y._dynamo_static_indices == {1}


def test_mark_errors():
    x = ember.zeros(2, 3)
    with pytest.raises(IndexError, match="Dimension out of range"):
        ember._dynamo.mark_dynamic(x, 2)
    with pytest.raises(TypeError, match="Tensor"):
        ember._dynamo.mark_dynamic([1, 2], 0)
    with pytest.raises(ValueError, match="min"):
        ember._dynamo.mark_dynamic(x, 0, min=5, max=2)
    ember._dynamo.mark_dynamic(x, -1)
    assert x._dynamo_dynamic_indices == {1}


@pytest.fixture
def no_automatic_dynamic_shapes():
    """Both libraries' config.automatic_dynamic_shapes off for the test (torch's config module
    does not take monkeypatch's undo)."""
    for lib in (torch, ember):
        lib._dynamo.config.automatic_dynamic_shapes = False
    yield
    for lib in (torch, ember):
        lib._dynamo.config.automatic_dynamic_shapes = True


@pytest.mark.parametrize("lib", [torch, ember], ids=["torch", "ember"])
def test_without_automatic_dynamic_shapes_only_marked_dims_are_dynamic(
        lib, no_automatic_dynamic_shapes):
    compiled = lib.compile(lambda x, n: x * n, backend="aot_eager")
    compiled(lib.ones(4), 2)
    compiled(lib.ones(5), 3)
    with lib.compiler.set_stance("fail_on_recompile"):
        for args in ((lib.ones(6), 3), (lib.ones(5), 4)):
            with pytest.raises(RuntimeError, match="fail_on_recompile"):
                compiled(*args)
    marked = lib.compile(lambda x: x * 2, backend="aot_eager")
    x = lib.ones(4)
    lib._dynamo.mark_dynamic(x, 0)
    marked(x)
    with lib.compiler.set_stance("fail_on_recompile"):
        assert marked(lib.ones(7)).tolist() == [2.0] * 7


@pytest.mark.parametrize("lib", [torch, ember], ids=["torch", "ember"])
def test_mark_dynamic_holds_under_dynamic_false(lib):
    compiled = lib.compile(lambda x: x * 2, backend="aot_eager", dynamic=False)
    x = lib.ones(4, 3)
    lib._dynamo.mark_dynamic(x, 0)
    compiled(x)
    with lib.compiler.set_stance("fail_on_recompile"):
        assert compiled(lib.ones(7, 3)).tolist() == [[2.0] * 3] * 7
        with pytest.raises(RuntimeError, match="fail_on_recompile"):
            compiled(lib.ones(7, 5))  # an unmarked dim: dynamic=False compiles it anew


@pytest.mark.parametrize("lib", [torch, ember], ids=["torch", "ember"])
def test_mark_dynamic_range(lib):
    compiled = lib.compile(lambda x: x * 2, backend="aot_eager")
    x = lib.ones(4)
    lib._dynamo.mark_dynamic(x, 0, min=2, max=8)
    compiled(x)
    with lib.compiler.set_stance("fail_on_recompile"):
        for n in (6, 8):
            assert compiled(lib.ones(n)).tolist() == [2.0] * n
        with pytest.raises(RuntimeError, match="fail_on_recompile"):
            compiled(lib.ones(16))
    y = lib.ones(10)
    lib._dynamo.mark_dynamic(y, 0, min=2, max=8)
    with pytest.raises(RuntimeError, match=r"not in range \[2, 8\]"):
        lib.compile(lambda t: t * 3, backend="aot_eager")(y)


@pytest.mark.parametrize("lib", [torch, ember], ids=["torch", "ember"])
def test_mark_dynamic_sequence_length_below_a_positional_table(lib):
    lib.manual_seed(0)
    pos = lib.nn.Embedding(8, 4)

    def f(x):
        return x + pos(lib.arange(x.shape[1]))
    compiled = lib.compile(f, backend="aot_eager")
    x = lib.ones(2, 4, 4)
    lib._dynamo.mark_dynamic(x, 1, min=2, max=8)
    compiled(x)
    with lib.compiler.set_stance("fail_on_recompile"):
        for t in (3, 8):
            y = lib.ones(2, t, 4)
            np.testing.assert_allclose(compiled(y).detach().numpy(), f(y).detach().numpy(),
                                       rtol=1e-6)
