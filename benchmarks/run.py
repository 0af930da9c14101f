"""Run every benchmark suite: `python -m benchmarks.run [suite ...]`."""
from __future__ import annotations

import importlib
import sys

from benchmarks.common import report

SUITES = ["core", "jit", "train", "compile", "cuda"]


def main(argv: list[str]) -> None:
    rows = []
    for name in argv or SUITES:
        rows += importlib.import_module(f"benchmarks.bench_{name}").run()
    report(rows)


if __name__ == "__main__":
    main(sys.argv[1:])
