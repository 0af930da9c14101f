"""ember.testing.assert_close and make_tensor against torch.testing: the same pairs pass and
fail, with the same messages."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

import ember

NAN = math.nan


def _outcome(lib, actual, expected, **kw):
    """None when assert_close passes, else (exception type, message without class names)."""
    def wrap(v):
        spec = isinstance(v, tuple) and len(v) == 2 and isinstance(v[1], str)
        return lib.tensor(v[0], dtype=getattr(lib, v[1])) if spec else v
    try:
        lib.testing.assert_close(wrap(actual), wrap(expected), **kw)
    except (AssertionError, TypeError, ValueError) as e:
        text = str(e).replace("torch.Tensor", "Tensor").replace("ember._tensor.Tensor", "Tensor")
        # the last digits of a difference depend on the precision it is computed in
        return type(e).__name__, re.sub(r"\d\.\d{5,}", lambda m: f"{float(m[0]):.5g}", text)
    return None


CASES = [
    (([1.0, 2.0], "float32"), ([1.0, 2.0 + 1e-6], "float32"), {}),
    (([1.0, 2.0, 3.0, 4.0], "float64"), ([1.0, 2.1, 3.0, 4.5], "float64"), {}),
    (([1.0, 2.0], "float32"), ([1.0, 2.0, 3.0], "float32"), {}),
    (([1.0, 2.0], "float32"), ([1.0, 2.0], "float64"), {}),
    (([1.0, 2.0], "float32"), ([1.0, 2.0], "float64"), {"check_dtype": False}),
    (([1, 2], "int64"), ([1, 3], "int64"), {}),
    (([True, False], "bool"), ([True, True], "bool"), {}),
    (([NAN, 1.0], "float64"), ([NAN, 1.0], "float64"), {}),
    (([NAN, 1.0], "float64"), ([NAN, 1.0], "float64"), {"equal_nan": True}),
    (([1.0, 2.0], "float16"), ([1.0, 2.001], "float16"), {}),
    (([1.0, 2.0], "float64"), ([1.0, 2.5], "float64"), {"rtol": 0.3, "atol": 0.0}),
    (([1.0, 2.0], "float64"), ([1.0, 2.5], "float64"), {"msg": "custom"}),
    (([1 + 1j], "complex128"), ([1 + 1.5j], "complex128"), {}),
    ((5.0, "float32"), (5.0, "float32"), {}),
    (1.0, 1.1, {}),
    (1, 1, {}),
    (2, 3, {}),
    (1.0, 1.0 + 1e-9, {}),
]


@pytest.mark.parametrize("actual,expected,kw", CASES)
def test_assert_close_like_torch(actual, expected, kw):
    assert _outcome(ember, actual, expected, **kw) == _outcome(torch, actual, expected, **kw)


def _nested_outcomes(lib):
    t = lib.tensor
    return [_outcome(lib, {"a": t([1.0]), "b": [t([2.0])]}, {"a": t([1.0]), "b": [t([2.5])]}),
            _outcome(lib, [t([1.0])], (t([1.0]),)),
            _outcome(lib, [t([1.0])], [t([1.0]), t([2.0])]),
            _outcome(lib, {"a": t([1.0])}, {"b": t([1.0])}),
            _outcome(lib, {"a": t([1.0])}, {"a": t([1.0]), "b": t([1.0])}),
            _outcome(lib, t(1.0), 1.0),
            _outcome(lib, t([1.0]), t([1.0]), rtol=1e-3)]


def test_nested_containers_and_mismatched_types_like_torch():
    assert _nested_outcomes(ember) == _nested_outcomes(torch)


def test_numpy_arrays_compare_as_tensors():
    ember.testing.assert_close(np.ones(3), np.ones(3))
    with pytest.raises(AssertionError, match="not close"):
        ember.testing.assert_close(ember.ones(2), np.array([1.0, 1.5], dtype=np.float32))


def test_make_tensor_draws_in_range_with_the_requested_layout():
    ember.manual_seed(0)
    x = ember.testing.make_tensor(3, 4, dtype=ember.float32, low=-1, high=2)
    assert x.dtype is ember.float32 and x.shape == (3, 4)
    assert float(x.min()) >= -1 and float(x.max()) < 2
    ember.manual_seed(0)
    assert ember.equal(ember.testing.make_tensor((3, 4), dtype=ember.float32, low=-1, high=2), x)
    i = ember.testing.make_tensor(50, dtype=ember.int8, low=-3, high=3, exclude_zero=True)
    assert i.dtype is ember.int8 and int(i.min()) >= -3 and int(i.max()) < 3
    assert not (i == 0).any()
    z = ember.testing.make_tensor(4, dtype=ember.complex64, noncontiguous=True,
                                  requires_grad=True)
    assert z.is_complex() and not z.is_contiguous() and z.requires_grad
    b = ember.testing.make_tensor(100, dtype=ember.bool)
    assert 0 < int(b.sum()) < 100
    with pytest.raises(ValueError, match="low"):
        ember.testing.make_tensor(2, dtype=ember.float32, low=3, high=1)


def test_docstring_examples_run():
    import doctest

    from ember.testing import comparison
    failures, _ = doctest.testmod(comparison, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert failures == 0
