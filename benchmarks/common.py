"""Shared timing helpers: every workload runs under ember and torch in the same process."""
from __future__ import annotations

import timeit


def best_time(fn, number: int, repeat: int = 7) -> float:
    """Best per-call time in seconds over `repeat` rounds of `number` calls (after a warm-up)."""
    fn()
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def interleaved(ember_fn, torch_fn, number: int, rounds: int = 7) -> tuple[float, float]:
    """Best per-call times of both, alternating rounds so machine noise hits both alike."""
    ember_fn()
    torch_fn()
    e = t = float("inf")
    for _ in range(rounds):
        e = min(e, timeit.timeit(ember_fn, number=number) / number)
        t = min(t, timeit.timeit(torch_fn, number=number) / number)
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
