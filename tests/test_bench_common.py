"""The benchmarks' shared timing: rounds take turns, and each starts from an idle process."""
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import common  # noqa: E402


def _spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_settle_waits_for_a_busy_thread_of_the_process():
    busy = threading.Thread(target=_spin, args=(0.3,))
    busy.start()
    # windows of 0.1 s: on a loaded machine a 10 ms window can fall where the OS ran no
    # thread of this process, which reads as idle
    common.settle(limit=10.0, window=0.1)
    assert not busy.is_alive()
    busy.join()


def test_settle_returns_when_the_process_is_idle():
    start = time.perf_counter()
    common.settle(limit=10.0)
    assert time.perf_counter() - start < 5.0


def test_interleaved_rounds_take_turns_and_finish_each_round():
    calls, finished = [], []

    def make(name):
        def fn():
            calls.append(name)
            return name
        return fn
    best = common.interleaved_rounds([make("a"), make("b")], number=2, rounds=3,
                                     finish=finished.append)
    assert len(best) == 2 and all(0 <= t < float("inf") for t in best)
    assert calls == ["a", "b"] + ["a", "a", "b", "b"] * 3
    assert finished == ["a", "b"] * 3
