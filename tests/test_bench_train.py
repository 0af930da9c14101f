"""The training benchmark stays runnable: each workload builds the same model in ember and
torch, and their first steps agree (build() checks the losses)."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import bench_train  # noqa: E402


@pytest.mark.parametrize("key", ["mlp", "cnn", "gpt", "lstm"])
def test_workload_steps_match_torch(key):
    title, ember_step, torch_step, number, target = bench_train.build(key)
    le, lt = ember_step().item(), torch_step().item()
    assert abs(le - lt) <= 1e-3 * max(1.0, abs(lt)), title
    assert number >= 1 and target >= 1.3
