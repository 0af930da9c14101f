"""The older API, ember.autograd.profiler (profile, record_function), against torch's."""
import warnings

import pytest
import torch

import ember


def legacy(lib):
    x = lib.ones(3, requires_grad=True)
    with lib.autograd.profiler.profile(use_cuda=False, record_shapes=True) as prof:
        with lib.autograd.profiler.record_function("loss"):
            y = (x * x).sum()
        y.backward()
    return prof


def test_function_events_and_summaries_as_torch():
    ours, theirs = legacy(ember), legacy(torch)
    for prof in (ours, theirs):
        events = prof.function_events
        assert events[0].name == "loss" and events[0].cpu_parent is None
        mul = next(e for e in events if e.name == "aten::mul")
        assert mul.cpu_parent.name == "loss" and mul.input_shapes == [[3], [3]]
        total = prof.total_average()
        assert total.key == "Total"
        assert total.count == len(events)
        assert prof.self_cpu_time_total == pytest.approx(
            sum(e.self_cpu_time_total for e in events))
        assert "Self CPU time total" in prof.table(sort_by="self_cpu_time_total")
        assert "Self CPU time total" in str(prof)
    names = {e.key for e in ours.key_averages()}
    assert {"loss", "aten::mul", "aten::sum", "MulBackward0",
            "autograd::engine::evaluate_function: MulBackward0"} <= names
    assert names & {e.key for e in theirs.key_averages()} >= {
        "loss", "aten::mul", "aten::sum", "MulBackward0", "SumBackward0",
        "torch::autograd::AccumulateGrad"}


def test_disabled_profile_records_nothing():
    with ember.autograd.profiler.profile(enabled=False) as prof:
        ember.ones(1) + 1
    assert prof.key_averages() == []


def test_profile_never_run_is_empty_as_torch():
    ours, theirs = ember.autograd.profiler.profile(), torch.autograd.profiler.profile()
    assert ours.key_averages() == theirs.key_averages() == []
    assert ours.table() == theirs.table() == ""
    assert str(ours) == str(theirs) == ""
    assert ours.self_cpu_time_total == theirs.self_cpu_time_total == 0
    assert ours.total_average().key == theirs.total_average().key == "Total"


def test_use_cuda_warns_as_torch_without_a_gpu():
    if ember.cuda.is_available():
        pytest.skip("a GPU is present")
    for lib in (torch, ember):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with lib.autograd.profiler.profile(use_cuda=True):
                lib.ones(1) + 1
        messages = [str(w.message) for w in caught]
        assert any("use_cuda" in m for m in messages)
        assert "CUDA is not available, disabling CUDA profiling" in messages


def test_record_function_is_shared_and_decorates():
    assert ember.profiler.record_function is ember.autograd.profiler.record_function

    @ember.autograd.profiler.record_function("f")
    def f(t):
        return t - 1

    one = ember.ones(1)
    with ember.autograd.profiler.profile() as prof:
        f(one)
        f(one)
    assert [(e.key, e.count) for e in prof.key_averages()] == [("f", 2), ("aten::sub", 2)]
    assert f(one).item() == 0.0
