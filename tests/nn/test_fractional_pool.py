"""Fractional max pooling against torch: with the same random samples, outputs and indices
equal torch's exactly; gradients, module state and errors match too."""
import numpy as np
import pytest
import torch

import ember
from ember.autograd.gradcheck import gradcheck, gradgradcheck

from .conv_helpers import compare, raises_like_torch

RNG = np.random.default_rng(0)

CASES = [  # (nd, input shape, kernel_size, output_size)
    (2, (2, 3, 7, 9), 2, (3, 4)),
    (2, (2, 3, 17, 19), 3, (8, 6)),
    (2, (3, 8, 9), (2, 3), (5, 5)),
    (2, (4, 2, 50, 61), 2, (49, 60)),
    (2, (1, 2, 6, 6), 2, (1, 1)),
    (2, (1, 2, 6, 6), 1, (6, 6)),
    (3, (2, 3, 5, 6, 7), 2, (3, 4, 5)),
    (3, (2, 3, 5, 6, 7), (1, 2, 3), (4, 1, 2)),
    (3, (2, 5, 6, 7), 2, (2, 3, 3)),
]


def _samples(shape, nd):
    batch = 1 if len(shape) == nd + 1 else shape[0]
    return RNG.random((batch, shape[-nd - 1], nd))


def _pools(nd):
    name = f"fractional_max_pool{nd}d"
    return getattr(ember.nn.functional, name), getattr(torch.nn.functional, name)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
@pytest.mark.parametrize("nd,shape,kernel,out", CASES)
def test_equals_torch_for_the_same_samples(nd, shape, kernel, out, dtype):
    x, u = RNG.standard_normal(shape), _samples(shape, nd)
    fe, ft = _pools(nd)
    e_out, e_idx = fe(ember.tensor(x, dtype=getattr(ember, dtype)), kernel, out,
                      _random_samples=ember.tensor(u, dtype=getattr(ember, dtype)),
                      return_indices=True)
    t_out, t_idx = ft(torch.tensor(x, dtype=getattr(torch, dtype)), kernel, out,
                      _random_samples=torch.tensor(u, dtype=getattr(torch, dtype)),
                      return_indices=True)
    assert str(e_out.dtype) == str(t_out.dtype) and e_idx.dtype == ember.int64
    np.testing.assert_array_equal(e_idx.numpy(), t_idx.numpy())
    np.testing.assert_array_equal(e_out.float().numpy(), t_out.float().numpy())


@pytest.mark.parametrize("nd,shape,kernel,out", CASES)
def test_gradient_matches_torch(nd, shape, kernel, out):
    u = _samples(shape, nd)
    fe, ft = _pools(nd)
    compare(lambda x: fe(x, kernel, out, _random_samples=ember.tensor(u)),
            lambda x: ft(x, kernel, out, _random_samples=torch.tensor(u)),
            RNG.standard_normal(shape))


def test_gradcheck_with_overlapping_windows():
    u = ember.tensor(RNG.random((2, 2, 2)))
    x = ember.tensor(RNG.standard_normal((2, 2, 7, 6)), requires_grad=True)

    def pool(t):
        return ember.nn.functional.fractional_max_pool2d(t, 3, (4, 3), _random_samples=u)
    assert gradcheck(pool, (x,))
    assert gradgradcheck(pool, (x,))


@pytest.mark.parametrize("nd,ratio", [(2, (0.5, 0.7)), (3, (0.5, 0.6, 0.4))])
def test_output_ratio(nd, ratio):
    shape = (2, 3, 8, 9, 10)[:nd + 2]
    x, u = RNG.standard_normal(shape), _samples(shape, nd)
    fe, ft = _pools(nd)
    compare(lambda t: fe(t, 2, output_ratio=ratio, _random_samples=ember.tensor(u),
                         return_indices=True),
            lambda t: ft(t, 2, output_ratio=ratio, _random_samples=torch.tensor(u),
                         return_indices=True), x)


def test_a_single_ratio_applies_to_every_dim():
    x = ember.randn(1, 2, 8, 10)
    assert tuple(ember.nn.functional.fractional_max_pool2d(x, 2, output_ratio=0.5).shape) == \
        (1, 2, 4, 5)


def test_nan_wins_and_ties_pick_the_first_like_torch():
    x = np.zeros((1, 1, 5, 5))
    x[0, 0, 1, 1] = x[0, 0, 2, 2] = np.nan
    u = np.full((1, 1, 2), 0.5)
    fe, ft = _pools(2)
    compare(lambda t: fe(t, 3, 2, _random_samples=ember.tensor(u), return_indices=True),
            lambda t: ft(t, 3, 2, _random_samples=torch.tensor(u), return_indices=True),
            x, grad=False)
    compare(lambda t: fe(t, 3, 2, _random_samples=ember.tensor(u), return_indices=True),
            lambda t: ft(t, 3, 2, _random_samples=torch.tensor(u), return_indices=True),
            np.full((1, 1, 5, 5), -np.inf), grad=False)


def test_random_windows_without_samples_stay_inside_the_input():
    ember.manual_seed(0)
    x = ember.randn(2, 3, 10, 11)
    out, idx = ember.nn.functional.fractional_max_pool2d(x, 3, (4, 5), return_indices=True)
    assert tuple(out.shape) == (2, 3, 4, 5)
    np.testing.assert_array_equal(out.numpy(), np.take_along_axis(
        x.numpy().reshape(2, 3, -1), idx.numpy().reshape(2, 3, -1), 2).reshape(2, 3, 4, 5))
    with_indices = ember.nn.functional.fractional_max_pool3d_with_indices
    assert len(with_indices(ember.randn(2, 4, 5, 6), 2, 2)) == 2


@pytest.mark.parametrize("nd", [2, 3])
def test_modules_match_torch(nd):
    shape = (2, 3, 7, 8, 9)[:nd + 2]
    u, x = _samples(shape, nd), RNG.standard_normal(shape)
    name = f"FractionalMaxPool{nd}d"
    em = getattr(ember.nn, name)(2, output_size=3, return_indices=True,
                                 _random_samples=ember.tensor(u))
    tm = getattr(torch.nn, name)(2, output_size=3, return_indices=True,
                                 _random_samples=torch.tensor(u))
    assert repr(em) == repr(tm)
    assert list(em.state_dict()) == list(tm.state_dict()) == ["_random_samples"]
    assert (em.kernel_size, em.output_size, em.output_ratio) == \
        (tm.kernel_size, tm.output_size, tm.output_ratio)
    compare(em, tm, x)
    em, tm = getattr(ember.nn, name)(2, output_ratio=0.5), getattr(torch.nn, name)(
        2, output_ratio=0.5)
    assert em.output_ratio == tm.output_ratio and list(em.state_dict()) == []
    assert tuple(em(ember.tensor(x)).shape) == tuple(tm(torch.tensor(x)).shape)


@pytest.mark.parametrize("kwargs", [{}, {"output_size": 2, "output_ratio": 0.5},
                                    {"output_ratio": 1.0}, {"output_ratio": 0},
                                    {"output_ratio": (0.5, 1.5)}])
@pytest.mark.parametrize("nd", [2, 3])
def test_module_argument_errors(kwargs, nd):
    name = f"FractionalMaxPool{nd}d"
    raises_like_torch(lambda: getattr(ember.nn, name)(2, **kwargs),
                      lambda: getattr(torch.nn, name)(2, **kwargs))


def _error_cases():
    x = (2, 3, 7, 9)
    u = (2, 3, 2)
    return [
        (2, x, dict(kernel_size=2, output_size=(6, 9)), u),
        (2, x, dict(kernel_size=8, output_size=(3, 4)), u),
        (2, x, dict(kernel_size=2), u),
        (2, x, dict(kernel_size=(2, 3, 4), output_size=3), u),
        (2, x, dict(kernel_size=2, output_size=(3, 4, 5)), u),
        (2, x, dict(kernel_size=2, output_size=3), (2, 3, 3)),
        (2, x, dict(kernel_size=2, output_size=3), (1, 3, 2)),
        (2, x, dict(kernel_size=2, output_size=3), (2, 2, 2)),
        (2, x, dict(kernel_size=2, output_size=3), (6, 2)),
        (2, (7, 9), dict(kernel_size=2, output_size=3), (1, 7, 2)),
        (2, (1, 1, 1, 7, 9), dict(kernel_size=2, output_size=3), (1, 1, 2)),
        (2, (2, 3, 0, 9), dict(kernel_size=2, output_size=3), u),
        (3, (2, 3, 5, 6, 7), dict(kernel_size=2, output_size=(5, 4, 5)), (2, 3, 3)),
        (3, (2, 3, 5, 6, 7), dict(kernel_size=(1, 2, 3), output_size=(4, 5, 4)), (2, 3, 3)),
        (3, (2, 3, 5, 6, 7), dict(kernel_size=(2, 2), output_size=3), (2, 3, 3)),
        (3, (2, 3, 5, 6, 7), dict(kernel_size=2, output_size=2), (2, 3, 2)),
        (3, (2, 3, 0, 6, 7), dict(kernel_size=2, output_size=2), (2, 3, 3)),
        (3, (7, 9, 3), dict(kernel_size=2, output_size=1), (1, 7, 3)),
    ]


@pytest.mark.parametrize("nd,shape,kwargs,samples", _error_cases())
def test_errors_like_torch(nd, shape, kwargs, samples):
    fe, ft = _pools(nd)
    x, u = RNG.standard_normal(shape), RNG.random(samples)
    raises_like_torch(lambda: fe(ember.tensor(x, dtype=ember.float32),
                                 _random_samples=ember.tensor(u, dtype=ember.float32), **kwargs),
                      lambda: ft(torch.tensor(x, dtype=torch.float32),
                                 _random_samples=torch.tensor(u, dtype=torch.float32), **kwargs))


def test_dtype_errors_like_torch():
    fe, ft = _pools(2)
    x, u = RNG.standard_normal((2, 3, 7, 9)), RNG.random((2, 3, 2))
    raises_like_torch(lambda: fe(ember.tensor(x, dtype=ember.float32), 2, 3,
                                 _random_samples=ember.tensor(u)),
                      lambda: ft(torch.tensor(x, dtype=torch.float32), 2, 3,
                                 _random_samples=torch.tensor(u)))
    raises_like_torch(lambda: fe(ember.tensor(x) + 0j, 2, 3),
                      lambda: ft(torch.tensor(x) + 0j, 2, 3),
                      match='not implemented for')
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
        fe(ember.ones(2, 3, 7, 9, dtype=ember.int64), 2, 3)
    raises_like_torch(lambda: fe(ember.tensor(x), 2.0, 3),
                      lambda: ft(torch.tensor(x), 2.0, 3), match="must be tuple of ints")
    raises_like_torch(lambda: fe(ember.tensor(x), 2, 3, _random_samples=[1.0]),
                      lambda: ft(torch.tensor(x), 2, 3, _random_samples=[1.0]))


def test_empty_outputs_like_torch():
    fe, ft = _pools(2)
    x = RNG.standard_normal((2, 3, 7, 9))
    for shape, out in (((0, 3, 7, 9), (3, 4)), ((2, 3, 7, 9), (0, 4))):
        x = RNG.standard_normal(shape)
        e = fe(ember.tensor(x), 2, out)
        t = ft(torch.tensor(x), 2, out)
        assert tuple(e.shape) == tuple(t.shape)
