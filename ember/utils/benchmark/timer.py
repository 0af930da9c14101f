"""Timer: time a Python statement the way torch.utils.benchmark does, into a Measurement."""
from __future__ import annotations

import contextlib
import enum
import time
import timeit
from collections.abc import Callable

from .common import Measurement, TaskSpec

__all__ = ["Language", "Timer", "timer"]

timer = time.perf_counter
_BLOCK_TIME = 0.01  # seconds one block of runs should last at least


class Language(enum.Enum):
    """The language of `stmt`; ember times Python only."""

    PYTHON = 0
    CPP = 1


class Timer:
    """Time `stmt` after running `setup`, with ember using `num_threads` threads meanwhile.

    >>> from ember.utils.benchmark import Timer
    >>> m = Timer("x + 1", setup="x = 1").timeit(100)
    >>> m.number_per_run, len(m.times)
    (100, 1)
    """

    def __init__(self, stmt: str = "pass", setup: str = "pass", global_setup: str = "",
                 timer: Callable[[], float] = timer, globals: dict | None = None,
                 label: str | None = None, sub_label: str | None = None,
                 description: str | None = None, env: str | None = None,
                 num_threads: int = 1, language: Language | str = Language.PYTHON) -> None:
        if not isinstance(stmt, str):
            raise ValueError("Currently only a `str` stmt is supported.")
        if language not in (Language.PYTHON, "py", "python"):
            raise ValueError(f"ember.utils.benchmark.Timer times Python statements only "
                             f"(got language={language!r})")
        self._globals = dict(globals or {})
        if global_setup:
            exec(global_setup, self._globals)  # noqa: S102  (the caller's own code, as timeit)
        self._task_spec = TaskSpec(stmt=stmt, setup=setup, global_setup=global_setup,
                                   label=label, sub_label=sub_label, description=description,
                                   env=env, num_threads=num_threads)
        self._timer = timeit.Timer(stmt=stmt, setup=setup, timer=timer, globals=self._globals)

    @contextlib.contextmanager
    def _threads(self):
        """Run with ember set to this timer's thread count, restoring the previous one."""
        import ember
        previous = ember.get_num_threads()
        ember.set_num_threads(self._task_spec.num_threads)
        try:
            yield
        finally:
            ember.set_num_threads(previous)

    def timeit(self, number: int = 1000000) -> Measurement:
        """Run the statement `number` times (after one warm-up run): one measurement."""
        with self._threads():
            self._timer.timeit(number=max(number // 100, 2))
            return Measurement(number, [self._timer.timeit(number=number)], self._task_spec)

    def repeat(self, repeat: int = -1, number: int = -1) -> None:
        """Not offered (as in torch): use blocked_autorange."""
        raise NotImplementedError("See `Timer.blocked_autorange.`")

    def autorange(self, callback=None) -> None:
        """Not offered (as in torch): use blocked_autorange."""
        raise NotImplementedError("See `Timer.blocked_autorange.`")

    def _block_size(self) -> int:
        """The smallest power of ten of runs that lasts at least _BLOCK_TIME."""
        number = 1
        while self._timer.timeit(number) < _BLOCK_TIME:
            number *= 10
        return number

    def _measure(self, stop: Callable[[list[float], float], bool], callback) -> Measurement:
        """Time blocks of runs until `stop(times, elapsed)`; `callback(number, time)` sees each."""
        with self._threads():
            number = self._block_size()
            times: list[float] = []
            elapsed = 0.0
            while not times or not stop(times, elapsed):
                block = self._timer.timeit(number)
                elapsed += block
                times.append(block)
                if callback is not None:
                    callback(number, block)
            return Measurement(number, times, self._task_spec)

    def blocked_autorange(self, callback: Callable[[int, float], None] | None = None,
                          min_run_time: float = 0.2) -> Measurement:
        """Time blocks of runs (each at least 10 ms) until `min_run_time` seconds are spent."""
        return self._measure(lambda times, elapsed: elapsed >= min_run_time, callback)

    def adaptive_autorange(self, threshold: float = 0.1, *, min_run_time: float = 0.01,
                           max_run_time: float = 10.0,
                           callback: Callable[[int, float], None] | None = None) -> Measurement:
        """Time blocks until the IQR is within `threshold` of the median (after at least three
        blocks and `min_run_time` seconds), or until `max_run_time` seconds are spent."""
        def stop(times, elapsed):
            if elapsed >= max_run_time:
                return True
            return (len(times) >= 3 and elapsed >= min_run_time
                    and Measurement(1, times, self._task_spec).meets_confidence(threshold))
        return self._measure(stop, callback)
