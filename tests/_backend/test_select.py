"""topk_positions picks the same entries as torch.topk on CPU, ties and NaN included, on both of
torch's paths (heap selection for k * 64 <= n, introselect otherwise)."""
import numpy as np
import pytest
import torch

from ember._backend.select import topk_positions


def _cases(seed: int):
    rng = np.random.default_rng(seed)
    for trial in range(300):
        n = int(rng.integers(1, 300)) if trial % 10 else int(rng.integers(1000, 5000))
        x = rng.integers(0, int(rng.integers(1, 6)), n).astype(np.float32)
        if trial % 7 == 0:
            x = rng.standard_normal(n).astype(np.float32)
        if trial % 11 == 0:
            x[rng.integers(0, n, 3)] = np.nan
        k = int(rng.integers(0, max(1, n // 64) + 1)) if trial % 3 == 0 else \
            int(rng.integers(0, n + 1))
        yield x, k


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("largest", [False, True])
def test_same_set_as_torch_topk(seed, largest):
    for x, k in _cases(seed):
        expected = torch.topk(torch.from_numpy(x), k, largest=largest).indices.numpy()
        got = topk_positions(x, k, largest)
        assert sorted(got.tolist()) == sorted(expected.tolist()), (len(x), k)


@pytest.mark.parametrize("pattern", ["zeros", "sorted", "reversed", "periodic", "organ_pipe"])
def test_structured_inputs(pattern):
    n = 20000
    x = {"zeros": np.zeros(n), "sorted": np.sort(np.arange(n) % 50),
         "reversed": np.arange(n)[::-1] // 3, "periodic": np.arange(n) % 7,
         "organ_pipe": np.concatenate([np.arange(n // 2), np.arange(n // 2)[::-1]])}[pattern]
    x = x.astype(np.float64)
    for k in (1, n // 100, n // 3, n - 1):
        for largest in (False, True):
            expected = torch.topk(torch.from_numpy(x), k, largest=largest).indices.numpy()
            assert sorted(topk_positions(x, k, largest).tolist()) == sorted(expected.tolist())
