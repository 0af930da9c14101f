"""Shared fixtures: the torch oracle is imported here and in tests only, never by ember."""
import numpy as np
import pytest
import torch

# Each pytest-xdist worker gets one core: torch's own thread pool on top of that oversubscribes
# the machine and makes the oracle's side of a comparison 30-100x slower.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    import ember
    np.random.seed(0)
    ember.manual_seed(0)
    yield
