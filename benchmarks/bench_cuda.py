"""The training workloads of bench_train on the GPU: ember's CuPy backend against torch's CUDA
kernels, same weights and data, steps timed interleaved. Prints why and returns no rows on a
machine without CuPy, torch's CUDA build or a GPU.

`python -m benchmarks.bench_cuda [mlp cnn gpt lstm]` runs a subset."""
from __future__ import annotations

import sys

from benchmarks.bench_train import timed_rows
from benchmarks.common import report


def run(keys=None) -> list:
    import torch

    import ember
    if not (ember.cuda.is_available() and torch.cuda.is_available()):
        print("cuda: skipped (needs CuPy, torch with CUDA and a GPU)")
        return []
    print(f"cuda: {ember.cuda.get_device_name()}")
    return timed_rows(keys, "cuda")


if __name__ == "__main__":
    report(run(sys.argv[1:]))
