"""ember.compiler's controls against torch.compiler: set_stance (as a call, a context manager
and a decorator), allow_in_graph, list_backends, cudagraph_mark_step_begin."""
import pytest
import torch

import ember
import ember._dynamo


@pytest.fixture(autouse=True)
def _fresh_torch_caches():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()
    torch.compiler.set_stance("default")
    ember.compiler.set_stance("default")


def _compiled_marker(lib):
    """A compiled function that returns x + 1 when compiled code runs and x - 1 eagerly."""
    def f(x):
        return x + 1 if lib.compiler.is_compiling() else x - 1
    return lib.compile(f, backend="aot_eager")


@pytest.mark.parametrize("lib", [torch, ember], ids=["torch", "ember"])
def test_force_eager_as_call_and_context_manager(lib):
    f = _compiled_marker(lib)
    assert f(lib.zeros(2)).tolist() == [1.0, 1.0]
    with lib.compiler.set_stance("force_eager"):
        assert f(lib.zeros(2)).tolist() == [-1.0, -1.0]
    assert f(lib.zeros(2)).tolist() == [1.0, 1.0]
    lib.compiler.set_stance("force_eager")
    assert f(lib.zeros(2)).tolist() == [-1.0, -1.0]
    lib.compiler.set_stance("default")
    assert f(lib.zeros(2)).tolist() == [1.0, 1.0]


@pytest.mark.parametrize("lib", [torch, ember], ids=["torch", "ember"])
def test_stance_as_decorator_holds_for_calls_only(lib):
    f = _compiled_marker(lib)

    @lib.compiler.set_stance("force_eager")
    def run(x):
        return f(x)
    assert f(lib.zeros(1)).tolist() == [1.0]
    assert run(lib.zeros(1)).tolist() == [-1.0]
    assert f(lib.zeros(1)).tolist() == [1.0]


@pytest.mark.parametrize("lib", [torch, ember], ids=["torch", "ember"])
def test_eager_on_recompile_keeps_compiled_graphs(lib):
    f = _compiled_marker(lib)
    with lib.compiler.set_stance("eager_on_recompile"):
        assert f(lib.zeros(2)).tolist() == [-1.0, -1.0]  # the first compile counts too
    assert f(lib.zeros(2)).tolist() == [1.0, 1.0]
    with lib.compiler.set_stance("eager_on_recompile"):
        assert f(lib.zeros(2)).tolist() == [1.0, 1.0]
        assert f(lib.zeros(2, 2, dtype=lib.float64)).tolist() == [[-1.0] * 2] * 2


@pytest.mark.parametrize("lib", [torch, ember], ids=["torch", "ember"])
def test_fail_on_recompile(lib):
    f = _compiled_marker(lib)
    with lib.compiler.set_stance("fail_on_recompile"):
        with pytest.raises(RuntimeError, match="fail_on_recompile"):
            f(lib.zeros(2))
    f(lib.zeros(2))
    with lib.compiler.set_stance("fail_on_recompile"):
        assert f(lib.zeros(2)).tolist() == [1.0, 1.0]
        with pytest.raises(RuntimeError, match="fail_on_recompile"):
            f(lib.zeros(2, 3))


@pytest.mark.parametrize("lib", [torch, ember], ids=["torch", "ember"])
def test_eager_then_compile_learns_dynamic_dims_from_the_eager_call(lib):
    f = _compiled_marker(lib)
    with lib.compiler.set_stance("eager_then_compile"):
        assert f(lib.zeros(2)).tolist() == [-1.0] * 2
        assert f(lib.zeros(3)).tolist() == [1.0] * 3
    with lib.compiler.set_stance("fail_on_recompile"):
        for n in (4, 9, 2):
            assert f(lib.zeros(n)).tolist() == [1.0] * n


def test_eager_then_compile_a_strided_network():
    ember.manual_seed(0)
    net = ember.nn.Sequential(ember.nn.Conv2d(3, 4, 3, stride=2, padding=1), ember.nn.ReLU(),
                              ember.nn.Flatten(1))
    compiled = ember.compile(net)
    with ember.compiler.set_stance("aot_eager_then_compile"):
        for b in (2, 5, 7, 3):
            x = ember.randn(b, 3, 8, 8)
            assert ember.allclose(compiled(x), net(x), atol=1e-5)
    assert compiled._compiled.compiled == 1


@pytest.mark.parametrize("lib", [torch, ember], ids=["torch", "ember"])
def test_force_backend_needs_the_default_stance(lib):
    with pytest.raises(RuntimeError, match="force_backend"):
        lib.compiler.set_stance("force_eager", force_backend="eager")


def test_force_backend_eager_runs_eagerly_and_unknown_stance_is_refused():
    f = _compiled_marker(ember)
    with ember.compiler.set_stance(force_backend="eager"):
        assert f(ember.zeros(1)).tolist() == [-1.0]
    with pytest.raises(ValueError, match="unknown stance"):
        ember.compiler.set_stance("sometimes")


@pytest.mark.parametrize("lib", [torch, ember], ids=["torch", "ember"])
def test_allow_in_graph_returns_the_function(lib):
    def double(a):
        return a * 2
    assert lib.compiler.allow_in_graph(double) is double
    assert lib.compiler.allow_in_graph([double, double]) == [double, double]
    compiled = lib.compile(lambda x: double(x) + 1, backend="aot_eager")
    assert compiled(lib.ones(2)).tolist() == [3.0, 3.0]


def test_allow_in_graph_refuses_what_is_not_callable():
    with pytest.raises(TypeError, match="callable"):
        ember.compiler.allow_in_graph(3)


@pytest.mark.parametrize("lib", [torch, ember], ids=["torch", "ember"])
def test_list_backends(lib):
    shown = lib.compiler.list_backends()
    everything = lib.compiler.list_backends(exclude_tags=None)
    assert "inductor" in shown and "eager" not in shown and "aot_eager" not in shown
    assert {"inductor", "eager", "aot_eager"} <= set(everything)
    assert shown == sorted(shown)


def test_every_listed_backend_compiles():
    for backend in ember.compiler.list_backends(exclude_tags=None):
        f = ember.compile(lambda x: x * 3, backend=backend)
        assert f(ember.ones(2)).tolist() == [3.0, 3.0]


@pytest.mark.parametrize("lib", [torch, ember], ids=["torch", "ember"])
def test_cudagraph_mark_step_begin_is_a_no_op_on_cpu(lib):
    f = lib.compile(lambda x: x + 1, backend="aot_eager")
    lib.compiler.cudagraph_mark_step_begin()
    first = f(lib.zeros(2))
    assert lib.compiler.cudagraph_mark_step_begin() is None
    f(lib.ones(2))
    assert first.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("lib", [torch, ember], ids=["torch", "ember"])
def test_disable_with_a_reason(lib):
    @lib.compiler.disable(reason="logs to a file")
    def logged(x):
        return x * 3

    def f(x):
        return logged(x + 1) - 1
    assert lib.compile(f, backend="aot_eager")(lib.ones(2)).tolist() == [5.0, 5.0]
    if lib is ember:
        explained = ember._dynamo.explain(f)(ember.ones(2))
        assert "logs to a file" in explained.break_reasons[0].reason


@pytest.mark.parametrize("lib", [torch, ember], ids=["torch", "ember"])
def test_dynamo_names(lib):
    assert lib._dynamo.config.cache_size_limit == 8
    assert callable(lib.compiler.disable) and callable(lib._dynamo.disable)


@pytest.mark.parametrize("lib", [torch, ember], ids=["torch", "ember"])
def test_dynamo_support_and_aliases(lib):
    assert lib._dynamo.is_dynamo_supported() and lib._dynamo.is_inductor_supported()
    assert lib._dynamo.OptimizedModule is lib._dynamo.eval_frame.OptimizedModule
    assert isinstance(lib.compile(lib.nn.Linear(2, 2)), lib._dynamo.OptimizedModule)
    assert lib._dynamo.list_backends() == lib.compiler.list_backends()
