"""JIT tests run fused kernels with NumPy unless they ask for numba (fixture `numba_fuser`),
so the suite passes, and stays fast, with or without numba installed."""
import importlib.util
import os
import tempfile

import pytest


@pytest.fixture(autouse=True)
def _numpy_fuser(monkeypatch):
    monkeypatch.setenv("EMBER_JIT_FUSER", "numpy")


@pytest.fixture
def numba_fuser(monkeypatch):
    """Fused kernels through numba at every size, cached in a fixed temporary directory (warm
    across runs)."""
    if importlib.util.find_spec("numba") is None:
        pytest.skip("numba is not installed (pip install 'ember[jit]')")
    from ember.jit import kernels
    monkeypatch.setenv("EMBER_JIT_FUSER", "numba")
    monkeypatch.setattr(kernels, "NUMBA_MIN", 0)
    monkeypatch.setenv("EMBER_JIT_CACHE", os.path.join(tempfile.gettempdir(),
                                                       "ember-jit-test-kernels"))


@pytest.fixture(params=["one thread", "numba threads"])
def kernel_threads(request, monkeypatch):
    """Numba forms run alone, and split over numba's threads at every size as inside a graph
    that runs its products there (openblas.threaded)."""
    if request.param == "numba threads":
        from ember._backend import openblas
        monkeypatch.setattr(openblas._State, "depth", 1)
        monkeypatch.setattr(openblas, "THREADED_MIN", 1)
