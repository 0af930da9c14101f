"""Shared fixtures: the torch oracle is imported here and in tests only, never by ember."""
import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _seed():
    import ember
    np.random.seed(0)
    if hasattr(ember, "manual_seed"):
        ember.manual_seed(0)
    yield
