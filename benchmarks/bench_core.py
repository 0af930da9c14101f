"""Core overheads against torch in one run: tiny add, tiny forward+backward, import time."""
from __future__ import annotations

import os
import subprocess
import sys

from benchmarks.common import interleaved, report


def import_time(module: str, runs: int = 5) -> float:
    """Best wall time of `import module` in a fresh interpreter, with bytecode compiled as an
    installed package has it (PYTHONDONTWRITEBYTECODE would make every run recompile)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    code = ("import time; t=time.perf_counter(); import {m}; "
            "print(time.perf_counter()-t)")
    best = float("inf")
    for _ in range(runs + 1):
        out = subprocess.run([sys.executable, "-c", code.format(m=module)], check=True,
                             capture_output=True, text=True, env=env).stdout
        best = min(best, float(out))
    return best


def run() -> list:
    import torch

    import ember
    rows = []
    a_e, b_e = ember.ones(4), ember.ones(4)
    a_t, b_t = torch.ones(4), torch.ones(4)
    e, t = interleaved(lambda: a_e + b_e, lambda: a_t + b_t, number=20000)
    rows.append(("c = a + b (4 floats)", e, t, 2.5))

    x_e, y_e = ember.ones(4, requires_grad=True), ember.ones(4)
    x_t, y_t = torch.ones(4, requires_grad=True), torch.ones(4)

    def fb_e():
        (x_e * y_e).sum().backward()

    def fb_t():
        (x_t * y_t).sum().backward()

    e, t = interleaved(fb_e, fb_t, number=5000)
    rows.append(("(a * b).sum().backward() (4 floats)", e, t, 1.0))

    numpy_s = import_time("numpy")
    ember_s = import_time("ember")
    torch_s = import_time("torch")
    print(f"import numpy {numpy_s * 1e3:.0f} ms, import ember {ember_s * 1e3:.0f} ms "
          f"(+{(ember_s - numpy_s) * 1e3:.0f} ms over numpy; target +100 ms), "
          f"import torch {torch_s * 1e3:.0f} ms")
    rows.append(("import (ember vs torch)", ember_s, torch_s, None))
    return rows


if __name__ == "__main__":
    report(run())
