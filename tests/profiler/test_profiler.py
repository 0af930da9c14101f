"""ember.profiler.profile and record_function against torch.profiler: event names, nesting,
self vs total time, key_averages, the table, and that profiling leaves no hook behind."""
import threading

import numpy as np
import pytest
import torch

import ember
from ember.autograd.grad_mode import Profiling


def mlp_step(lib, record_shapes=False):
    """Profile a small MLP's forward (in a record_function range) and backward."""
    lib.manual_seed(0)
    model = lib.nn.Sequential(lib.nn.Linear(4, 8), lib.nn.ReLU(), lib.nn.Linear(8, 2))
    x, y = lib.randn(3, 4), lib.tensor([0, 1, 1])
    with lib.profiler.profile(activities=[lib.profiler.ProfilerActivity.CPU],
                              record_shapes=record_shapes) as prof:
        with lib.profiler.record_function("forward"):
            loss = lib.nn.functional.cross_entropy(model(x), y)
        loss.backward()
    return prof


# Names both libraries give an MLP's forward+backward (at least: graph nodes take torch's
# names as the registry learns them). The rest differ because ember's nn.Linear is
# transpose + matmul + add where torch calls aten::linear -> aten::t/addmm (aten::matmul,
# aten::add against aten::linear, aten::addmm, aten::t, aten::mm), ember's cross_entropy is one
# op (aten::cross_entropy_backward) where torch runs log_softmax + nll_loss
# (aten::_log_softmax, aten::nll_loss_forward, ...), ReLU's backward is aten::le + aten::where
# (torch: aten::threshold_backward), and torch also shows its allocation and view helpers
# (aten::empty_like, aten::as_strided, aten::expand, aten::resolve_conj, aten::copy_,
# aten::detach, aten::ones_like, aten::fill_, ...).
COMMON = {"forward", "aten::transpose", "aten::relu", "aten::cross_entropy_loss", "aten::sum",
          "aten::view", "ReluBackward0", "autograd::engine::evaluate_function: ReluBackward0",
          "torch::autograd::AccumulateGrad",
          "autograd::engine::evaluate_function: torch::autograd::AccumulateGrad"}


def test_mlp_op_names_against_torch():
    ours = {e.key for e in mlp_step(ember).key_averages()}
    theirs = {e.key for e in mlp_step(torch).key_averages()}
    assert COMMON <= ours & theirs
    assert {"aten::matmul", "aten::add", "aten::le", "aten::where"} <= ours - theirs
    every_node_evaluated = {n for n in ours if not n.startswith(("aten::", "autograd::"))
                            and n != "forward"}
    assert {"autograd::engine::evaluate_function: " + n for n in every_node_evaluated} <= ours


def test_backward_ops_nest_under_their_node_as_torch():
    for lib in (ember, torch):
        events = mlp_step(lib).events()
        relu_node = next(e for e in events if e.name == "ReluBackward0")
        assert relu_node.cpu_parent.name == "autograd::engine::evaluate_function: ReluBackward0"
        assert relu_node.cpu_children  # the backward's own ops
        assert all(c.cpu_parent is relu_node for c in relu_node.cpu_children)


def test_ops_nest_under_record_function_as_torch():
    for lib in (ember, torch):
        events = mlp_step(lib).events()
        forward = next(e for e in events if e.name == "forward")
        assert forward.is_user_annotation and forward.cpu_parent is None
        relu = next(e for e in events if e.name == "aten::relu")
        assert relu.cpu_parent is forward
        assert next(e for e in events if e.name.startswith("autograd::")).cpu_parent is None


def test_self_time_excludes_children_and_total_includes_them():
    events = mlp_step(ember).events()
    for e in events:
        children = sum(c.cpu_time_total for c in e.cpu_children)
        assert e.cpu_time_total >= children
        assert e.self_cpu_time_total == pytest.approx(e.cpu_time_total - children)
        for c in e.cpu_children:
            assert e.time_range.start <= c.time_range.start <= c.time_range.end \
                <= e.time_range.end
    total = sum(e.self_cpu_time_total for e in events)
    top = sum(e.cpu_time_total for e in events if e.cpu_parent is None)
    assert total == pytest.approx(top)


def test_key_averages_sum_events_per_name():
    prof = mlp_step(ember)
    events = prof.events()
    for avg in prof.key_averages():
        same = [e for e in events if e.name == avg.key]
        assert avg.count == len(same)
        assert avg.cpu_time_total == pytest.approx(sum(e.cpu_time_total for e in same))
        assert avg.self_cpu_time_total == pytest.approx(sum(e.self_cpu_time_total for e in same))
        assert avg.cpu_time == pytest.approx(avg.cpu_time_total / avg.count)
    counts = {e.key: e.count for e in prof.key_averages()}
    torch_counts = {e.key: e.count for e in mlp_step(torch).key_averages()}
    for name in ("aten::relu", "ReluBackward0", "torch::autograd::AccumulateGrad", "forward"):
        assert counts[name] == torch_counts[name]


def test_input_shapes_as_torch():
    def shapes(lib, group):
        prof = mlp_step(lib, record_shapes=True)
        events = {e.name: e.input_shapes for e in prof.events()}
        avgs = {e.key: e.input_shapes for e in prof.key_averages(group_by_input_shape=group)}
        return events, avgs
    (ours, ours_avg), (theirs, theirs_avg) = shapes(ember, True), shapes(torch, True)
    assert ours["aten::relu"] == theirs["aten::relu"] == [[3, 8]]
    assert ours["forward"] == theirs["forward"] == []
    assert ours_avg["aten::relu"] == theirs_avg["aten::relu"] == [[3, 8]]
    assert ours["ReluBackward0"] == theirs["ReluBackward0"] == [[3, 8]]
    assert not shapes(ember, False)[1]["aten::relu"]  # only grouped averages carry shapes
    assert not mlp_step(ember).events()[1].input_shapes  # record_shapes=False keeps none


def test_group_by_input_shape_splits_keys():
    x, y = ember.ones(2), ember.ones(3)
    with ember.profiler.profile(record_shapes=True) as prof:
        x + x
        y + y
        x + x
    grouped = prof.key_averages(group_by_input_shape=True)
    assert sorted((e.key, e.count, str(e.input_shapes)) for e in grouped) == [
        ("aten::add", 1, "[[3], [3]]"), ("aten::add", 2, "[[2], [2]]")]
    assert [(e.key, e.count) for e in prof.key_averages()] == [("aten::add", 3)]


def test_table_columns_and_sorting_as_torch():
    def table_head(lib, **kw):
        lines = mlp_step(lib, record_shapes=True).key_averages(**kw).table(
            sort_by="cpu_time_total", row_limit=3).splitlines()
        return lines[1].split("  "), len(lines), lines[-1].split(":")[0]
    for kw in ({}, {"group_by_input_shape": True}):
        ours, theirs = table_head(ember, **kw), table_head(torch, **kw)
        assert [c.strip() for c in ours[0] if c] == [c.strip() for c in theirs[0] if c]
        assert ours[1:] == theirs[1:]
    prof = mlp_step(ember)
    text = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=5)
    rows = text.splitlines()[3:8]
    selfs = [next(a for a in prof.key_averages() if a.key.startswith(r.split("  ")[0].strip()
                                                                    .rstrip(".")))
             .self_cpu_time_total for r in rows]
    assert selfs == sorted(selfs, reverse=True)
    assert str(prof.key_averages()).startswith("---")


def test_inplace_ops_are_named_with_underscore_once():
    x = ember.ones(3)
    with ember.profiler.profile() as prof:
        x.add_(1)
        with ember.no_grad():
            x.mul_(2)
    assert [e.name for e in prof.events()] == ["aten::add_", "aten::mul_"]
    assert all(not e.cpu_children for e in prof.events())
    np.testing.assert_array_equal(x.numpy(), [4, 4, 4])


def test_no_hook_left_active_after_profiling_or_an_error():
    with ember.profiler.profile():
        ember.ones(1) + 1
    assert not Profiling.active
    a, b = ember.ones(2), ember.ones(3)
    with pytest.raises(RuntimeError, match="must match the size of tensor b"):
        with ember.profiler.profile() as prof:
            a + b
    assert not Profiling.active
    assert [e.name for e in prof.events()] == ["aten::add"]
    assert prof.events()[0].time_range.end >= prof.events()[0].time_range.start


def test_results_are_unchanged_by_profiling():
    x = ember.tensor([1.0, -2.0, 3.0], requires_grad=True)
    with ember.profiler.profile():
        (x.relu() * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 0.0, 6.0])


def test_record_function_as_decorator_and_nested():
    @ember.profiler.record_function("helper")
    def helper(t, depth):
        return helper(t + 1, depth - 1) if depth else t * 2

    one = ember.ones(1)
    with ember.profiler.profile() as prof:
        with ember.profiler.record_function("outer"):
            helper(one, 1)
    names = [(e.name, e.cpu_parent.name if e.cpu_parent else None) for e in prof.events()]
    assert names == [("outer", None), ("helper", "outer"), ("aten::add", "helper"),
                     ("helper", "helper"), ("aten::mul", "helper")]
    assert helper(ember.ones(1), 0).item() == 2.0  # no profiler: runs as is


def test_ops_of_other_threads_get_their_thread():
    x = ember.ones(2)
    with ember.profiler.profile() as prof:
        with ember.profiler.record_function("main"):
            worker = threading.Thread(target=lambda: x * 3)
            worker.start()
            worker.join()
            x + 1
    by_name = {e.name: e for e in prof.events()}
    assert by_name["aten::mul"].thread != by_name["aten::add"].thread
    assert by_name["aten::mul"].cpu_parent is None
    assert by_name["aten::add"].cpu_parent is by_name["main"]


def test_profile_memory_and_with_stack():
    x = ember.ones(4, dtype=ember.float64)
    with ember.profiler.profile(profile_memory=True, with_stack=True) as prof:
        with ember.profiler.record_function("block"):
            x + 1
    block, add = prof.events()
    assert add.cpu_memory_usage == 32 and block.cpu_memory_usage == 32
    assert block.self_cpu_memory_usage == 0
    assert any("test_profiler.py" in frame for frame in add.stack)
    assert "CPU Mem" in prof.key_averages().table()


@pytest.mark.parametrize("kind", ["profiler", "autograd"])
def test_nested_profiler_supersedes_the_running_one_as_torch(kind):
    """As in torch: the inner profiler records its own span, and the outer one, superseded,
    warns when it stops and keeps no events."""
    def run(lib):
        make = lib.profiler.profile if kind == "profiler" else lib.autograd.profiler.profile
        with make() as outer:
            lib.ones(2) + 1
            with make() as inner:
                lib.ones(3) * 2
            lib.ones(2) - 1
        events = (lambda p: p.events()) if kind == "profiler" else (lambda p: p.function_events)
        return [e.name for e in events(outer)], [e.name for e in events(inner)]
    outer_t, inner_t = run(torch)
    with pytest.warns(UserWarning, match="disableProfiler called but no active profiling"):
        outer, inner = run(ember)
    assert outer == outer_t == []
    assert "aten::mul" in inner and "aten::mul" in inner_t
    assert "aten::add" not in inner and "aten::add" not in inner_t


def test_profiler_never_run_raises_as_torch():
    for method in ("events", "key_averages", "export_chrome_trace", "export_stacks"):
        args = ("/tmp/never_run_trace",) if method.startswith("export") else ()
        messages = []
        for lib in (torch, ember):
            with pytest.raises(AssertionError) as caught:
                getattr(lib.profiler.profile(), method)(*args)
            messages.append(str(caught.value))
        assert messages[0] == messages[1]


def test_activity_arguments_as_torch():
    for lib in (torch, ember):
        with pytest.raises(AssertionError, match="No valid profiler activities"):
            lib.profiler.profile(activities=["cpu"])
    with pytest.warns(FutureWarning, match="use_cuda"):
        ember.profiler.profile(use_cuda=False)


def test_inactive_profiler_is_never_consulted():
    """With no profiler running, apply, apply_ and the engine test Profiling.active alone."""
    saved = Profiling.recorder
    Profiling.recorder = None  # any use of it would raise AttributeError
    try:
        x = ember.ones(3, requires_grad=True)
        y = (x * 2).sum()
        y.backward()
        with ember.no_grad():
            x.add_(1)
    finally:
        Profiling.recorder = saved
    np.testing.assert_array_equal(x.grad.numpy(), [2, 2, 2])


def test_custom_function_ranges_named_as_torch():
    def run(lib):
        class Square(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * x

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return 2 * x * g

        x = lib.ones(2, requires_grad=True)
        with lib.profiler.profile() as prof:
            Square.apply(x).sum().backward()
        return {(e.name, e.cpu_parent.name if e.cpu_parent else None) for e in prof.events()}

    expected = {("Square", None), ("aten::mul", "Square"), ("SquareBackward",
                "autograd::engine::evaluate_function: SquareBackward"),
                ("aten::mul", "SquareBackward")}
    assert expected <= run(ember) & run(torch)
