"""ember.utils.benchmark against torch.utils.benchmark: Measurements built by hand with the same
raw times must print the same text, and Compare must lay out the same tables."""
import re

import pytest
import torch.utils.benchmark as TB
from torch.utils.benchmark.utils.common import Measurement as TorchMeasurement
from torch.utils.benchmark.utils.common import TaskSpec as TorchTaskSpec

import ember
import ember.utils.benchmark as EB


def _pair(raw, number=1, **spec):
    spec.setdefault("stmt", "x")
    spec.setdefault("setup", "pass")
    return (TorchMeasurement(number, raw, TorchTaskSpec(**spec)),
            EB.Measurement(number, raw, EB.TaskSpec(**spec)))


def _text(m):
    return re.sub(r"<[\w.]+ object at 0x[0-9a-f]+>", "<Measurement>", repr(m))


MEASUREMENTS = [
    dict(raw=[1e-5, 1.1e-5, 1.2e-5, 0.9e-5, 1.05e-5], number=10, label="add", sub_label="small",
         description="d1"),
    dict(raw=[1e-3], number=10),
    dict(raw=[1.0, 2.0, 3.0, 10.0], stmt="f(x)\ny = 2", setup="x = 1", label="L",
         description="desc", env="e"),
    dict(raw=[1.0], stmt="a\nb", setup="s1\ns2"),
    dict(raw=[1.0], sub_label="S", num_threads=4),
    dict(raw=[1.0, 1.3]),
    dict(raw=[1.0, 1.0, 1.0, 2.0, 2.0, 2.0]),
    dict(raw=[1.0] * 4 + [1.2] * 4),
    dict(raw=[0.88] * 4 + [1.12] * 4),
    dict(raw=[0.875] * 4 + [1.125] * 4),
    dict(raw=[3e-9, 4e-9]),
]


@pytest.mark.parametrize("case", MEASUREMENTS)
def test_measurement_matches_torch(case):
    case = dict(case)
    theirs, ours = _pair(case.pop("raw"), case.pop("number", 1), **case)
    assert _text(ours) == _text(theirs)
    for name in ("times", "title", "as_row_name", "has_warnings", "env", "number_per_run",
                 "label", "sub_label", "description", "num_threads"):
        assert getattr(ours, name) == getattr(theirs, name), name
    for name in ("mean", "median", "iqr"):
        assert getattr(ours, name) == pytest.approx(getattr(theirs, name), rel=1e-12, abs=0)
    assert ours.meets_confidence() == theirs.meets_confidence()


@pytest.mark.parametrize("raw", [[1.0], [1.0, 1.0005], [1.0, 1.02], [1.0, 1.004, 1.008],
                                 [1.0, 1.2, 1.4]])
def test_significant_figures_match_torch_for_few_measurements(raw):
    theirs, ours = _pair(raw)
    assert ours.significant_figures == theirs.significant_figures


def test_merge_pools_times_per_task():
    a, b = _pair([1e-5, 1.2e-5], 10, label="add")
    c, d = _pair([1.3e-5], 20, label="add")
    theirs, ours = TorchMeasurement.merge([a, c]), EB.Measurement.merge([b, d])
    assert [_text(m) for m in ours] == [_text(m) for m in theirs]


def test_unit_helpers_match_torch():
    for t in (1e-10, 1e-9, 3e-9, 1e-6, 999e-6, 1e-3, 0.5, 2.0, 200.0):
        assert EB.select_unit(t) == TB.select_unit(t)
    for x, n in ((1234.5, 1), (1234.5, 2), (0.0012345, 3), (123.456, 5)):
        assert EB.trim_sigfig(x, n) == TB.trim_sigfig(x, n)


def _both(spec):
    built = []
    for Measurement, TaskSpec in ((TorchMeasurement, TorchTaskSpec),
                                  (EB.Measurement, EB.TaskSpec)):
        built.append([Measurement(1, raw, TaskSpec(**{"stmt": "x", "setup": "pass", **kw}))
                      for raw, kw in spec])
    return built


def _grid():
    spec = []
    for label, unit in (("add", 1e-6), ("mul", 3e-4)):
        for sub in ("[1, 2]", "[10, 20]"):
            for description, factor in (("ember", 1.0), ("torch", 2.5)):
                for threads in (1, 4):
                    base = unit * factor * (1 + 0.1 * len(sub)) / threads
                    spec.append(([base * k for k in (1.0, 1.01, 0.99, 1.02, 1.0)],
                                 dict(label=label, sub_label=sub, description=description,
                                      num_threads=threads)))
    return spec


TABLES = {
    "grid": _grid(),
    "widths": [([1.2345e-6], dict(label="L", description="a")),
               ([12.345e-6], dict(label="L", description="bbbbbbbbbbb")),
               ([123.45e-6], dict(label="L", sub_label="s", description="a")),
               ([1234.5e-6], dict(label="L", sub_label="s", description="bbbbbbbbbbb"))],
    "stmt_rows": [([1e-3], dict(stmt="a", description="d")),
                  ([2e-3], dict(stmt="b", description="d")),
                  ([3e-3], dict(stmt="a", description="e"))],
    "envs": [([1e-3], dict(stmt="a", label="L", env="E1", description="d")),
             ([2e-3], dict(stmt="a", label="L", env="E2", description="d")),
             ([3e-3], dict(stmt="b", label="L", env="E1", description="d"))],
    "warning": [([1e-3, 1.5e-3, 1.1e-3, 1.9e-3], dict(label="W", description="a")),
                ([1e-3], dict(label="W", description="b"))],
    "ratios_in_row": [([v], dict(label="Z", sub_label="r", description=d))
                      for v, d in zip([1e-3, 1.04e-3, 1.1e-3, 1.5e-3, 2.5e-3, 5e-3], "abcdef")],
    "ratios_in_column": [([v], dict(label="Z", sub_label=s, description="a"))
                         for v, s in zip([1e-3, 1.04e-3, 1.1e-3, 1.5e-3, 2.5e-3, 5e-3],
                                         "rstuvw")],
    "threads": [([0.5], dict(description="a", num_threads=4)),
                ([0.7], dict(description="a", num_threads=1))],
}


@pytest.mark.parametrize("name", sorted(TABLES))
@pytest.mark.parametrize("style", ["plain", "warnings", "rowwise"])
def test_compare_renders_like_torch(name, style):
    theirs, ours = (cls(ms) for cls, ms in zip((TB.Compare, EB.Compare), _both(TABLES[name])))
    for compare in (theirs, ours):
        if style == "warnings":
            compare.highlight_warnings()
        if style == "rowwise":
            compare.colorize(rowwise=True)
    assert str(ours) == str(theirs)


@pytest.mark.parametrize("name", ["stmt_rows", "ratios_in_column", "threads"])
def test_compare_colorize_columns_like_torch(name):
    theirs, ours = (cls(ms) for cls, ms in zip((TB.Compare, EB.Compare), _both(TABLES[name])))
    theirs.colorize()
    ours.colorize()
    assert str(ours) == str(theirs)


def test_compare_trim_significant_figures_like_torch():
    theirs, ours = (cls(ms) for cls, ms in zip((TB.Compare, EB.Compare), _both(TABLES["widths"])))
    theirs.trim_significant_figures()
    ours.trim_significant_figures()
    assert str(ours) == str(theirs)


def test_compare_print(capsys):
    EB.Compare(_both(TABLES["stmt_rows"])[1]).print()
    assert capsys.readouterr().out == str(TB.Compare(_both(TABLES["stmt_rows"])[0])) + "\n"


def test_compare_rejects_non_measurements():
    for Compare in (TB.Compare, EB.Compare):
        with pytest.raises(ValueError, match="Measurement"):
            Compare([1.0])


def test_timer_measures_and_restores_threads():
    ember.set_num_threads(3)
    seen = []
    timer = EB.Timer("x + 1", setup="x = 1", label="L", num_threads=2, description="d",
                     globals={"unused": 0})
    m = timer.blocked_autorange(callback=lambda number, t: seen.append(ember.get_num_threads()),
                                min_run_time=0.02)
    assert ember.get_num_threads() == 3
    assert seen and set(seen) == {2}
    assert sum(m.raw_times) >= 0.02
    assert (m.label, m.description, m.num_threads) == ("L", "d", 2)
    single = timer.timeit(50)
    assert single.number_per_run == 50 and len(single.raw_times) == 1
    adaptive = timer.adaptive_autorange(threshold=1.0, max_run_time=1.0)
    assert len(adaptive.times) >= 3


def test_timer_uses_globals_and_global_setup():
    m = EB.Timer("f(y)", setup="y = 2", global_setup="import math",
                 globals={"f": lambda v: v * 2}).timeit(10)
    assert m.median > 0
    assert EB.Timer("math.sqrt(4)", global_setup="import math").timeit(5).median > 0


def test_timer_errors_like_torch():
    for Timer in (TB.Timer, EB.Timer):
        with pytest.raises(NotImplementedError, match="blocked_autorange"):
            Timer("pass").repeat()
        with pytest.raises(NotImplementedError, match="blocked_autorange"):
            Timer("pass").autorange()
        with pytest.raises(ValueError):
            Timer(lambda: None)
    with pytest.raises(ValueError, match="Python"):
        EB.Timer("x", language=EB.Language.CPP)


def test_lazy_submodule():
    assert ember.utils.benchmark.Timer is EB.Timer
