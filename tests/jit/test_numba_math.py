"""The vectorizable float32 exp, tanh and erf of ember.jit._numba_math against float64 NumPy
over their whole useful ranges (relative error for exp, absolute for the bounded ones)."""
import math

import numpy as np
import pytest

from ember.jit import op_kernels

pytestmark = pytest.mark.skipif(not op_kernels.available(), reason="numba is not installed")


def _elementwise(fn):
    from numba import njit

    @njit(cache=False)
    def run(x, y):
        for i in range(x.size):
            y[i] = fn(x[i])
    return run


def _apply(name, x):
    from ember.jit import _numba_math
    y = np.empty_like(x)
    _elementwise(getattr(_numba_math, name))(x, y)
    return y


def test_exp32_relative_error_over_the_normal_range():
    x = np.linspace(-87.0, 88.0, 400_001, dtype=np.float32)
    ref = np.exp(x.astype(np.float64))
    assert np.max(np.abs(_apply("exp32", x) - ref) / ref) < 4e-7


def test_exp32_saturates_and_underflows():
    y = _apply("exp32", np.array([-1e4, -200.0, 0.0, 200.0], dtype=np.float32))
    assert y[0] == y[1] and 0 <= y[0] < 1e-40
    assert y[2] == 1.0 and y[3] > 1e38


@pytest.mark.parametrize("name,ref", [("erf32", np.vectorize(math.erf)), ("tanh32", np.tanh)])
def test_bounded_functions_absolute_error(name, ref):
    x = np.linspace(-8.0, 8.0, 200_001, dtype=np.float32)
    y = _apply(name, x)
    assert y.dtype == np.float32
    assert np.max(np.abs(y - ref(x.astype(np.float64)))) < 4e-7
