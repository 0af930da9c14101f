"""Chrome trace export and the TensorBoard trace handler, checked against torch's files."""
import gzip
import json
import os
import time

import pytest
import torch

import ember


def profiled(lib, **kwargs):
    x = lib.ones(2, 3)
    with lib.profiler.profile(record_shapes=True, **kwargs) as prof:
        with lib.profiler.record_function("block"):
            (x + x).sum()
    return prof


def complete_events(trace):
    return [e for e in trace["traceEvents"] if e.get("ph") == "X"]


def load(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return json.load(f)


@pytest.mark.parametrize("name", ["trace.json", "trace.json.gz"])
def test_chrome_trace_is_valid_and_shaped_as_torch(tmp_path, name):
    traces = []
    for lib in (ember, torch):
        path = str(tmp_path / (lib.__name__ + name))
        profiled(lib).export_chrome_trace(path)
        traces.append(load(path))
    ours, theirs = traces
    assert {"traceEvents", "displayTimeUnit", "schemaVersion"} <= set(ours)
    assert ours["displayTimeUnit"] == theirs["displayTimeUnit"] == "ms"
    events = {e["name"]: e for e in complete_events(ours)}
    torch_events = {e["name"]: e for e in complete_events(theirs)}
    for name in ("block", "aten::add", "aten::sum"):
        ev, tev = events[name], torch_events[name]
        assert set(tev) - {"cat"} <= set(ev)
        assert ev["cat"] == tev["cat"]
        assert ev["pid"] == os.getpid() and isinstance(ev["tid"], int)
        assert isinstance(ev["ts"], float) and ev["dur"] >= 0
    assert events["aten::add"]["args"]["Input Dims"] == torch_events["aten::add"]["args"][
        "Input Dims"][:2] == [[2, 3], [2, 3]]
    assert events["aten::add"]["args"]["Input type"][:2] == ["float", "float"]
    block, add = events["block"], events["aten::add"]
    assert block["ts"] <= add["ts"] and add["ts"] + add["dur"] <= block["ts"] + block["dur"]
    # timestamps are microseconds after baseTimeNanoseconds, an epoch time, as torch's
    for trace, ev in ((ours, block), (theirs, torch_events["block"])):
        assert abs(trace["baseTimeNanoseconds"] / 1e3 + ev["ts"] - time.time() * 1e6) < 6e7


def test_trace_of_an_event_list_and_metadata(tmp_path):
    prof = profiled(ember)
    prof.add_metadata("run", "7")
    prof.add_metadata_json("config", '{"lr": 0.1}')
    path = str(tmp_path / "t.json")
    prof.export_chrome_trace(path)
    trace = load(path)
    assert trace["run"] == "7" and trace["config"] == {"lr": 0.1}
    prof.events().export_chrome_trace(str(tmp_path / "events.json"))
    assert len(complete_events(load(str(tmp_path / "events.json")))) == len(prof.events())


def test_tensorboard_trace_handler_writes_one_file_per_cycle(tmp_path):
    counts = []
    for lib in (ember, torch):
        folder = tmp_path / lib.__name__
        x = lib.ones(2)
        with lib.profiler.profile(
                activities=[lib.profiler.ProfilerActivity.CPU], record_shapes=True,
                profile_memory=False, with_stack=False,
                schedule=lib.profiler.schedule(wait=1, warmup=1, active=2, repeat=2),
                on_trace_ready=lib.profiler.tensorboard_trace_handler(str(folder))) as prof:
            for _ in range(10):
                x * 2
                prof.step()
        files = sorted(os.listdir(folder))
        assert all(f.endswith(".pt.trace.json") for f in files)
        steps = [sorted(e["name"] for e in complete_events(load(str(folder / f)))
                        if e["name"].startswith("ProfilerStep")) for f in files]
        counts.append((len(files), steps))
    assert counts[0] == counts[1] == (2, [["ProfilerStep#2", "ProfilerStep#3"],
                                          ["ProfilerStep#6", "ProfilerStep#7"]])


def test_tensorboard_handler_names_and_gzip(tmp_path):
    with ember.profiler.profile(on_trace_ready=ember.profiler.tensorboard_trace_handler(
            str(tmp_path), worker_name="w0", use_gzip=True)):
        ember.ones(1) + 1
    (name,) = os.listdir(tmp_path)
    assert name.startswith("w0.") and name.endswith(".pt.trace.json.gz")
    assert complete_events(load(str(tmp_path / name)))


def test_export_stacks_and_group_by_stack(tmp_path):
    x = ember.ones(2)
    with ember.profiler.profile(with_stack=True) as prof:
        x + 1
        x + 1
    path = str(tmp_path / "stacks.txt")
    prof.export_stacks(path)
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    assert len(lines) == 2
    frames, value = lines[0].rsplit(" ", 1)
    assert "test_trace.py" in frames.split(";")[-1] and int(value) >= 0
    grouped = prof.key_averages(group_by_stack_n=1)
    assert sorted(e.count for e in grouped) == [1, 1]  # two call sites, two lines
    assert [e.count for e in prof.key_averages()] == [2]
