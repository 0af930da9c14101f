"""Measurement: the times one benchmark produced, with the statistics and text torch prints."""
from __future__ import annotations

import dataclasses
import math

import numpy as np

__all__ = ["Measurement", "TaskSpec", "select_unit", "trim_sigfig", "unit_to_english"]

_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
_ENGLISH = {"ns": "nanosecond", "us": "microsecond", "ms": "millisecond", "s": "second"}
_IQR_WARN = 0.1      # relative IQR above which a measurement is flagged
_IQR_SEVERE = 0.25   # ... and called environmental influence rather than fluctuation


def select_unit(t: float) -> tuple[str, float]:
    """The unit ('ns', 'us', 'ms' or 's') to print a time of `t` seconds in, and its scale."""
    exponent = int(math.log10(t) // 3) if t > 0 else 0
    unit = {-3: "ns", -2: "us", -1: "ms"}.get(exponent, "s")
    return unit, _UNITS[unit]


def unit_to_english(u: str) -> str:
    """'us' -> 'microsecond'."""
    return _ENGLISH[u]


def trim_sigfig(x: float, n: int) -> float:
    """`x` rounded to `n` significant figures."""
    if x == 0:
        return 0.0
    magnitude = int(math.ceil(math.log10(abs(x))))
    scale = 10 ** (magnitude - n)
    return float(np.float32(round(x / scale)) * np.float32(scale))  # float32, as torch


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """What was timed: the statements and the labels a Compare table groups by."""

    stmt: str
    setup: str
    global_setup: str = ""
    label: str | None = None
    sub_label: str | None = None
    description: str | None = None
    env: str | None = None
    num_threads: int = 1

    @property
    def title(self) -> str:
        """The label (or the statement) and the sub_label: the first line of a report."""
        if self.label is not None:
            return self.label + (f": {self.sub_label}" if self.sub_label else "")
        if "\n" not in self.stmt:
            return self.stmt + (f": {self.sub_label}" if self.sub_label else "")
        sub_label = f" ({self.sub_label})" if self.sub_label else ""
        return f"stmt:{sub_label}\n" + _indent(self.stmt)

    def summarize(self) -> str:
        """Title, description and non-trivial setup, one block each."""
        sections = [self.title, self.description or ""]
        if self.setup != "pass":
            sections.append(f"setup:\n{_indent(self.setup)}" if "\n" in self.setup
                            else f"setup: {self.setup}")
        return "\n".join(f"{s}\n" if "\n" in s else s for s in sections if s)


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.strip().splitlines())


_TASK_FIELDS = tuple(f.name for f in dataclasses.fields(TaskSpec))


class Measurement:
    """The times of one benchmark: `raw_times[i]` is the time for `number_per_run` runs.

    >>> from ember.utils.benchmark import Measurement, TaskSpec
    >>> m = Measurement(10, [1e-5, 1.2e-5, 1.1e-5], TaskSpec("x + 1", "pass"))
    >>> round(m.median * 1e6, 6)
    1.1
    """

    def __init__(self, number_per_run: int, raw_times: list[float], task_spec: TaskSpec,
                 metadata: dict | None = None):
        self.number_per_run = number_per_run
        self.raw_times = list(raw_times)
        self.task_spec = task_spec
        self.metadata = metadata
        self.times = [t / number_per_run for t in self.raw_times]
        times = np.array(self.times)
        self._median = float(np.median(times))
        self._mean = float(np.mean(times))
        self._p25, self._p75 = (float(q) for q in np.percentile(times, [25, 75]))

    def __getattr__(self, name: str):
        if name in _TASK_FIELDS:
            return getattr(self.__dict__["task_spec"], name)
        raise AttributeError(f"'Measurement' object has no attribute {name!r}")

    @property
    def median(self) -> float:
        return self._median

    @property
    def mean(self) -> float:
        return self._mean

    @property
    def iqr(self) -> float:
        """The interquartile range (75th minus 25th percentile) of the per-run times."""
        return self._p75 - self._p25

    @property
    def title(self) -> str:
        return self.task_spec.title

    @property
    def as_row_name(self) -> str:
        """The row a Compare table puts this in: the sub_label, else the statement."""
        return self.sub_label or self.stmt or "[Unknown]"

    @property
    def significant_figures(self) -> int:
        """How many leading digits of the median the spread supports (1 to 4): the width of a
        one-sided 95% normal interval of the mean, relative to the median."""
        n = len(self.times)
        spread = 1.645 * float(np.std(self.times)) / math.sqrt(n) / self._median
        if spread <= 0:
            return 4
        return max(1, min(4, int(math.floor(-math.log10(spread)))))

    @property
    def has_warnings(self) -> bool:
        return self._relative_iqr > _IQR_WARN

    def meets_confidence(self, threshold: float = _IQR_WARN) -> bool:
        """Whether the relative IQR is at most `threshold`."""
        return self._relative_iqr <= threshold

    @property
    def _relative_iqr(self) -> float:
        return self.iqr / self._median if self._median else 0.0

    @property
    def _warnings(self) -> list[str]:
        if not self.has_warnings:
            return []
        severe = self._relative_iqr >= _IQR_SEVERE
        cause = ("This suggests significant environmental influence." if severe
                 else "This could indicate system fluctuation.")
        return [f"  WARNING: Interquartile range is {self._relative_iqr * 100:.1f}% of the "
                f"median measurement.\n           {cause}"]

    def __repr__(self) -> str:
        unit, scale = select_unit(self._median)
        n = len(self.times)
        threads = f"{self.num_threads} thread{'s' if self.num_threads > 1 else ''}"
        lines = [object.__repr__(self), self.task_spec.summarize()]
        if n == 1:
            lines += [f"  {self._median / scale:.2f} {unit}",
                      f"  1 measurement, {self.number_per_run} runs , {threads}"]
        else:
            lines.append(f"  Median: {self._median / scale:.2f} {unit}")
            if n >= 4:
                lines.append(f"  IQR:    {self.iqr / scale:.2f} {unit} "
                             f"({self._p25 / scale:.2f} to {self._p75 / scale:.2f})")
            lines.append(f"  {n} measurements, {self.number_per_run} runs per measurement, "
                         f"{threads}")
        return "\n".join(lines + self._warnings)

    @staticmethod
    def merge(measurements) -> list[Measurement]:
        """Pool measurements of the same task into one per task (per-run times, 1 run each)."""
        grouped: dict[TaskSpec, list[float]] = {}
        for m in measurements:
            grouped.setdefault(m.task_spec, []).extend(m.times)
        return [Measurement(1, times, spec) for spec, times in grouped.items()]
