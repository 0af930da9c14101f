"""Shared timing helpers: every workload runs under ember and torch in the same process."""
from __future__ import annotations

import time

IDLE = 0.2  # a process using less than this many cores is idle (settle)


def settle(limit: float = 1.0, window: float = 0.01) -> None:
    """Sleep until no thread of this process is busy, for at most `limit` seconds. A BLAS or
    OpenMP thread pool keeps its workers spinning after its last parallel call (OpenBLAS for
    about 0.1 s), holding a core that whatever runs next needs: timed right after an ember
    round, torch's GPT training step took 55-61 ms; started from an idle process, 45-52 ms."""
    end = time.perf_counter() + limit
    while time.perf_counter() < end:
        wall, cpu = time.perf_counter(), time.process_time()
        time.sleep(window)
        if time.process_time() - cpu < IDLE * (time.perf_counter() - wall):
            return


def interleaved_rounds(fns, number: int, rounds: int = 5, finish=None) -> list[float]:
    """Best per-call seconds of each of `fns` (called once first, to warm up) over `rounds`
    rounds of `number` calls. The functions take turns, so machine noise hits all alike, and
    each round starts from an idle process (settle), so no library's spinning threads slow
    another's round. Unlike timeit, it leaves the garbage collector on, as in a real program
    (ember's autograd graphs form reference cycles). `finish(last result)` ends a
    round, e.g. waiting for a GPU's queued work."""
    for fn in fns:
        fn()
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for k, fn in enumerate(fns):
            settle()
            start = time.perf_counter()
            for _ in range(number):
                result = fn()
            if finish is not None:
                finish(result)
            best[k] = min(best[k], (time.perf_counter() - start) / number)
    return best


def interleaved(ember_fn, torch_fn, number: int, rounds: int = 7) -> tuple[float, float]:
    """Best per-call times of both (interleaved_rounds)."""
    e, t = interleaved_rounds((ember_fn, torch_fn), number, rounds)
    return e, t


def report(rows) -> None:
    """Print rows of (workload, ember seconds, torch seconds, target ratio or None)."""
    print(f"{'workload':44s} {'ember':>12s} {'torch':>12s} {'ratio':>7s} {'target':>7s}")
    for name, e, t, target in rows:
        ok = "" if target is None else ("ok" if e / t <= target else "MISS")
        tgt = "" if target is None else f"<={target:g}"
        print(f"{name:44s} {_fmt(e):>12s} {_fmt(t):>12s} {e / t:7.2f} {tgt:>7s} {ok}")


def _fmt(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"
