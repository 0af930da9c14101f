"""Random numbers: determinism (same seed, same numbers, across processes too), generator
isolation and state, distribution statistics over 100k samples, and argument errors (their
types checked against torch). Streams are not compared with torch's: only distributions."""
from __future__ import annotations

import copy
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

import ember

N = 100_000


def _np(t):
    t = t.detach()
    return (t.float() if t.dtype in (ember.bfloat16, ember.float16) else t).numpy()


# ---- determinism ------------------------------------------------------------------------------
DRAWS = {
    "rand": lambda g: ember.rand(3, 4, generator=g),
    "rand_f64": lambda g: ember.rand(5, dtype=ember.float64, generator=g),
    "rand_half": lambda g: ember.rand(5, dtype=ember.float16, generator=g),
    "randn": lambda g: ember.randn(3, 4, generator=g),
    "randn_complex": lambda g: ember.randn(4, dtype=ember.complex64, generator=g),
    "randint": lambda g: ember.randint(0, 100, (6,), generator=g),
    "randperm": lambda g: ember.randperm(10, generator=g),
    "normal_size": lambda g: ember.normal(1.0, 2.0, (5,), generator=g),
    "normal_tensors": lambda g: ember.normal(ember.zeros(5), ember.ones(5), generator=g),
    "bernoulli": lambda g: ember.bernoulli(ember.full((8,), 0.5), generator=g),
    "multinomial": lambda g: ember.multinomial(ember.ones(2, 6), 3, generator=g),
    "multinomial_repl": lambda g: ember.multinomial(ember.ones(6), 8, True, generator=g),
    "poisson": lambda g: ember.poisson(ember.full((6,), 3.0), generator=g),
    "rand_like": lambda g: ember.rand_like(ember.zeros(4), generator=g),
    "randn_like": lambda g: ember.randn_like(ember.zeros(4), generator=g),
    "randint_like": lambda g: ember.randint_like(ember.zeros(4), 3, 9, generator=g),
    "uniform_": lambda g: ember.empty(5).uniform_(-1, 1, generator=g),
    "normal_": lambda g: ember.empty(5).normal_(generator=g),
    "bernoulli_": lambda g: ember.empty(5).bernoulli_(0.5, generator=g),
    "random_": lambda g: ember.empty(5, dtype=ember.int64).random_(generator=g),
    "exponential_": lambda g: ember.empty(5).exponential_(generator=g),
    "geometric_": lambda g: ember.empty(5).geometric_(0.3, generator=g),
    "log_normal_": lambda g: ember.empty(5).log_normal_(generator=g),
    "cauchy_": lambda g: ember.empty(5).cauchy_(generator=g),
}


@pytest.mark.parametrize("name", sorted(DRAWS))
def test_same_seed_same_numbers(name):
    draw = DRAWS[name]
    a = draw(ember.Generator().manual_seed(123))
    b = draw(ember.Generator().manual_seed(123))
    c = draw(ember.Generator().manual_seed(124))
    np.testing.assert_array_equal(_np(a), _np(b))
    if name not in ("bernoulli", "multinomial"):
        assert not np.array_equal(_np(a), _np(c)), "a different seed gave the same numbers"


@pytest.mark.parametrize("name", ["rand", "randn", "randperm", "normal_"])
def test_default_generator_is_seeded_by_manual_seed(name):
    draw = DRAWS[name]
    ember.manual_seed(7)
    a = draw(None)
    ember.manual_seed(7)
    np.testing.assert_array_equal(_np(a), _np(draw(None)))


def test_same_numbers_in_another_process():
    code = ("import ember; ember.manual_seed(2024); "
            "print(ember.rand(4, dtype=ember.float64).tolist(), ember.randint(0, 10**9, (3,))"
            ".tolist(), ember.Generator().manual_seed(5).get_state().tolist())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    ember.manual_seed(2024)
    here = (f"{ember.rand(4, dtype=ember.float64).tolist()} "
            f"{ember.randint(0, 10 ** 9, (3,)).tolist()} "
            f"{ember.Generator().manual_seed(5).get_state().tolist()}")
    assert out == here


def test_unseeded_processes_differ():
    code = "import ember; print(ember.initial_seed(), ember.rand(3).tolist())"
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout for _ in range(2)}
    assert len(runs) == 2


# ---- generators and state ---------------------------------------------------------------------
def test_generator_isolation():
    g1 = ember.Generator().manual_seed(1)
    g2 = ember.Generator().manual_seed(1)
    ember.manual_seed(0)
    expected_default = ember.rand(3)
    ember.manual_seed(0)
    first = ember.rand(5, generator=g1)
    ember.randn(100, generator=g1)
    assert ember.rand(3).tolist() == expected_default.tolist()
    assert ember.rand(5, generator=g2).tolist() == first.tolist()


def test_manual_seed_returns_generator_and_sets_initial_seed():
    g = ember.Generator()
    assert g.initial_seed() == 67280421310721
    assert g.manual_seed(42) is g and g.initial_seed() == 42
    assert g.manual_seed(-1).initial_seed() == 2 ** 64 - 1
    assert g.manual_seed(-2 ** 63).initial_seed() == 2 ** 63
    assert ember.manual_seed(3) is ember.default_generator
    assert ember.initial_seed() == 3
    assert ember.manual_seed("4").initial_seed() == 4
    assert g.device == ember.device("cpu")
    assert ember.Generator(device="cpu").device.type == "cpu"


def test_seed_draws_a_fresh_seed():
    g = ember.Generator()
    s = g.seed()
    assert 0 <= s < 2 ** 64 and g.initial_seed() == s
    assert g.seed() != s
    s = ember.seed()
    assert ember.initial_seed() == s


def test_get_state_set_state_replays():
    g = ember.Generator().manual_seed(9)
    ember.rand(7, generator=g)
    state = g.get_state()
    assert state.dtype is ember.uint8 and state.ndim == 1
    a = ember.randn(10, generator=g)
    ember.rand(3, generator=g)
    assert g.set_state(state) is g
    assert ember.randn(10, generator=g).tolist() == a.tolist()
    other = ember.Generator().set_state(state)
    assert other.initial_seed() == 9
    assert ember.randn(10, generator=other).tolist() == a.tolist()


def test_rng_state_of_default_generator():
    state = ember.get_rng_state()
    a = ember.rand(4)
    ember.set_rng_state(state)
    assert ember.rand(4).tolist() == a.tolist()


def test_generator_pickles_with_its_state():
    g = ember.Generator().manual_seed(11)
    ember.rand(5, generator=g)
    for clone in (pickle.loads(pickle.dumps(g)), copy.deepcopy(g)):
        assert clone.initial_seed() == 11
        assert ember.rand(4, generator=clone).tolist() == ember.rand(
            4, generator=copy.deepcopy(g)).tolist()


def test_generator_state_errors():
    g = ember.Generator()
    with pytest.raises(TypeError):
        g.set_state([1, 2])
    with pytest.raises(TypeError):
        g.set_state(ember.zeros(64))
    with pytest.raises(RuntimeError, match="size"):
        g.set_state(ember.zeros(3, dtype=ember.uint8))
    with pytest.raises(RuntimeError):
        g.set_state(ember.zeros(64, dtype=ember.uint8))
    with pytest.raises(RuntimeError, match="expected a long"):
        g.manual_seed(1.5)
    with pytest.raises(ValueError):
        g.manual_seed(2 ** 64)


def test_generator_argument_checks():
    with pytest.raises(TypeError):
        ember.rand(2, generator=5)
    with pytest.raises(RuntimeError, match="device type for generator"):
        ember.rand(2, generator=ember.Generator(device="cuda"))


# ---- results are leaves with torch's dtypes and shapes -----------------------------------------
SHAPES = {
    "rand": lambda t: t.rand(2, 3),
    "rand_tuple": lambda t: t.rand((2, 3)),
    "rand_list": lambda t: t.rand([2, 3]),
    "rand_size_kw": lambda t: t.rand(size=(4,)),
    "rand_f16": lambda t: t.rand(2, dtype=t.float16),
    "rand_bf16": lambda t: t.rand(2, dtype=t.bfloat16),
    "rand_c64": lambda t: t.rand(2, dtype=t.complex64),
    "rand_empty": lambda t: t.rand(0, 3),
    "randn_f64": lambda t: t.randn(3, dtype=t.float64),
    "randn_size_kw": lambda t: t.randn(size=(2, 3)),
    "randint_high": lambda t: t.randint(10, (3,)),
    "randint_low_high": lambda t: t.randint(3, 10, (2, 2)),
    "randint_size_kw": lambda t: t.randint(3, 10, size=(2,)),
    "randint_all_kw": lambda t: t.randint(low=3, high=10, size=(2,)),
    "randint_high_kw": lambda t: t.randint(high=10, size=(2,)),
    "randint_float": lambda t: t.randint(0, 10, (3,), dtype=t.float32),
    "randint_bool": lambda t: t.randint(2, (3,), dtype=t.bool),
    "randint_uint8": lambda t: t.randint(0, 256, (3,), dtype=t.uint8),
    "randint_tensor_bound": lambda t: t.randint(t.tensor(3), (2,)),
    "randint_big": lambda t: t.randint(0, 2 ** 63 - 1, (2,)),
    "randperm": lambda t: t.randperm(5),
    "randperm_empty": lambda t: t.randperm(0),
    "randperm_float": lambda t: t.randperm(5, dtype=t.float32),
    "randperm_half": lambda t: t.randperm(2048, dtype=t.float16),
    "normal_tt": lambda t: t.normal(t.zeros(3), t.ones(3, dtype=t.float64)),
    "normal_tf": lambda t: t.normal(t.zeros(3, dtype=t.float64), 1.0),
    "normal_ft": lambda t: t.normal(1.0, t.ones(3, dtype=t.float64)),
    "normal_broadcast": lambda t: t.normal(t.zeros(2, 1), t.ones(3)),
    "normal_0d_std": lambda t: t.normal(t.zeros(3), t.tensor(1.0)),
    "normal_0d_mean": lambda t: t.normal(t.tensor(0.0), t.ones(3)),
    "normal_size": lambda t: t.normal(0.0, 1.0, (2, 3)),
    "normal_size_kw": lambda t: t.normal(0.0, 1.0, size=(2, 3)),
    "normal_ints": lambda t: t.normal(0, 1, (3,)),
    "normal_dtype": lambda t: t.normal(0.0, 1.0, (2,), dtype=t.float64),
    "normal_half": lambda t: t.normal(t.zeros(3, dtype=t.float16), 1.0),
    "normal_mean_kw": lambda t: t.normal(mean=t.zeros(3)),
    "normal_std_kw": lambda t: t.normal(mean=1.0, std=t.ones(2)),
    "normal_f64_f32": lambda t: t.normal(t.zeros(3, dtype=t.float64), t.ones(3)),
    "bernoulli_f64": lambda t: t.bernoulli(t.full((3,), 0.5, dtype=t.float64)),
    "bernoulli_p": lambda t: t.bernoulli(t.rand(3), p=0.3),
    "bernoulli_p_pos": lambda t: t.bernoulli(t.rand(3), 0.5),
    "bernoulli_method": lambda t: t.rand(2, 2).bernoulli(),
    "multinomial": lambda t: t.multinomial(t.tensor([1.0, 0, 1]), 2),
    "multinomial_2d": lambda t: t.multinomial(t.tensor([[1.0, 0], [0, 1]]), 1),
    "multinomial_repl": lambda t: t.multinomial(t.tensor([1.0, 2], dtype=t.float64), 5, True),
    "multinomial_no_rows": lambda t: t.multinomial(t.ones(0, 3), 2),
    "multinomial_method": lambda t: t.ones(4).multinomial(2),
    "poisson": lambda t: t.poisson(t.tensor([[1.0, 2.0]], dtype=t.float64)),
    "rand_like": lambda t: t.rand_like(t.zeros(2, dtype=t.float64)),
    "rand_like_dtype": lambda t: t.rand_like(t.zeros(2, dtype=t.float64), dtype=t.float32),
    "randn_like": lambda t: t.randn_like(t.zeros(2, 3, dtype=t.float16)),
    "randint_like": lambda t: t.randint_like(t.zeros(3), 5),
    "randint_like_low": lambda t: t.randint_like(t.zeros(3), 2, 5),
    "randint_like_int": lambda t: t.randint_like(t.zeros(2, dtype=t.int32), 10),
    "randint_like_kw": lambda t: t.randint_like(t.zeros(2), low=2, high=10),
    "uniform_": lambda t: t.zeros(3, dtype=t.float64).uniform_(),
    "uniform_equal": lambda t: t.zeros(3).uniform_(1, 1),
    "uniform_complex": lambda t: t.zeros(3, dtype=t.complex64).uniform_(),
    "normal_zero_std": lambda t: t.zeros(3).normal_(2.0, 0),
    "normal_complex": lambda t: t.zeros(3, dtype=t.complex64).normal_(),
    "bernoulli_int": lambda t: t.zeros(3, dtype=t.int64).bernoulli_(0.5),
    "bernoulli_bool": lambda t: t.zeros(3, dtype=t.bool).bernoulli_(0.5),
    "bernoulli_tensor_p": lambda t: t.zeros(3).bernoulli_(t.tensor([0.0, 1.0, 1.0])),
    "random_int8": lambda t: t.zeros(3, dtype=t.int8).random_(),
    "random_bool": lambda t: t.zeros(3, dtype=t.bool).random_(),
    "random_to_kw": lambda t: t.zeros(3).random_(to=5),
    "random_i64_full": lambda t: t.zeros(3, dtype=t.int64).random_(-2 ** 63, 2 ** 63 - 1),
    "random_from_none": lambda t: t.zeros(3, dtype=t.int64).random_(-5, None),
    "geometric_int": lambda t: t.zeros(3, dtype=t.int64).geometric_(0.5),
    "geometric_half": lambda t: t.zeros(3, dtype=t.float16).geometric_(0.5),
    "exponential_inf": lambda t: t.zeros(3).exponential_(float("inf")),
    "fill_after_random": lambda t: t.zeros(3).uniform_().fill_(2.0),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_dtype_and_shape_match_torch(name):
    ours, theirs = SHAPES[name](ember), SHAPES[name](torch)
    assert str(ours.dtype) == str(theirs.dtype)
    assert tuple(ours.shape) == tuple(theirs.shape)
    if name in ("uniform_equal", "normal_zero_std", "exponential_inf", "fill_after_random",
                "bernoulli_tensor_p"):
        np.testing.assert_array_equal(_np(ours), theirs.float().numpy())


def test_results_are_leaves():
    x = ember.rand(3, requires_grad=True)
    assert x.is_leaf and x.requires_grad
    assert ember.randn(2, 2, requires_grad=True).is_leaf
    assert ember.normal(0.0, 1.0, (2,), requires_grad=True).requires_grad
    mean = ember.zeros(3, requires_grad=True)
    y = ember.normal(mean, 1.0)
    assert y.is_leaf and not y.requires_grad
    assert ember.bernoulli(ember.full((3,), 0.5, requires_grad=True)).grad_fn is None
    with pytest.raises(RuntimeError):
        ember.randint(0, 3, (2,), requires_grad=True)


def test_inplace_random_on_graph_tensor_gives_zero_gradient():
    x = ember.ones(4, requires_grad=True)
    y = x * 3
    y.uniform_()
    assert y.grad_fn is not None
    (y * 2).sum().backward()
    assert x.grad.tolist() == [0.0] * 4
    with pytest.raises(RuntimeError, match="leaf Variable"):
        ember.zeros(2, requires_grad=True).normal_()
    with ember.no_grad():
        w = ember.zeros(3, requires_grad=True)
        w.uniform_(-1, 1)
    assert w.is_leaf and w.requires_grad and w.abs().sum().item() > 0


def test_inplace_random_writes_through_views_and_bumps_version():
    x = ember.zeros(4, 5)
    v = x._version
    x[1].normal_()
    x[:, 0].fill_(7.0)
    assert x._version == v + 2
    assert (_np(x)[1, 1:] != 0).all() and (_np(x)[:, 0] == 7).all()
    assert (_np(x)[[0, 2, 3], 1:] == 0).all()


def test_out_argument():
    out = ember.empty(0)
    assert ember.rand(3, out=out) is out and out.shape == (3,)
    out = ember.empty(0, dtype=ember.int64)
    assert ember.randint(5, (4,), out=out) is out and out.shape == (4,)
    out = ember.empty(0, dtype=ember.int64)
    assert ember.randperm(6, out=out) is out and sorted(out.tolist()) == list(range(6))
    out = ember.empty(3)
    assert ember.normal(ember.zeros(3), ember.ones(3), out=out) is out
    with pytest.raises(RuntimeError, match="does not match"):
        ember.rand(3, out=ember.empty(3), dtype=ember.float64)


# ---- statistics over 100k samples -------------------------------------------------------------
def _moments(x):
    a = _np(x).astype(np.float64).ravel()
    return a.mean(), a.var()


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_rand_is_uniform(dtype):
    x = ember.rand(N, dtype=getattr(ember, dtype))
    a = _np(x)
    assert a.min() >= 0 and a.max() < 1
    mean, var = _moments(x)
    assert abs(mean - 0.5) < 0.01 and abs(var - 1 / 12) < 0.005
    hist = np.histogram(a, bins=10, range=(0, 1))[0] / N
    assert np.abs(hist - 0.1).max() < 0.01


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_randn_is_standard_normal(dtype):
    x = ember.randn(N, dtype=getattr(ember, dtype))
    mean, var = _moments(x)
    assert abs(mean) < 0.02 and abs(var - 1) < 0.03
    a = _np(x)
    assert abs((np.abs(a) < 1).mean() - 0.6827) < 0.01


def test_randn_complex_splits_variance():
    z = ember.randn(N, dtype=ember.complex64).numpy()
    assert abs(z.real.var() - 0.5) < 0.02 and abs(z.imag.var() - 0.5) < 0.02
    assert abs(z.real.mean()) < 0.01 and abs(z.imag.mean()) < 0.01


def test_randint_is_uniform_over_range():
    x = _np(ember.randint(3, 10, (N,)))
    assert x.min() == 3 and x.max() == 9
    freq = np.bincount(x - 3, minlength=7) / N
    assert np.abs(freq - 1 / 7).max() < 0.01
    big = _np(ember.randint(-2 ** 62, 2 ** 62, (N,))).astype(np.float64)
    assert abs(big.mean()) / 2 ** 62 < 0.02


def test_randperm_is_a_uniform_permutation():
    for n in (1, 7, 1000):
        assert sorted(ember.randperm(n).tolist()) == list(range(n))
    firsts = np.array([ember.randperm(5).tolist()[0] for _ in range(5000)])
    assert np.abs(np.bincount(firsts, minlength=5) / 5000 - 0.2).max() < 0.03


def test_normal_overloads_statistics():
    mean, var = _moments(ember.normal(2.0, 3.0, (N,)))
    assert abs(mean - 2) < 0.05 and abs(var - 9) < 0.2
    means = ember.full((N,), 4.0)
    stds = ember.full((N,), 0.5)
    for x, (mu, sd) in ((ember.normal(means, stds), (4, 0.5)),
                        (ember.normal(means, 2.0), (4, 2.0)),
                        (ember.normal(-1.0, stds), (-1, 0.5)),
                        (ember.normal(ember.zeros(N, 1), ember.ones(2) * 3), (0, 3))):
        mean, var = _moments(x)
        assert abs(mean - mu) < 0.03 * max(sd, 1) and abs(var - sd ** 2) < 0.04 * sd ** 2


def test_normal_per_element_parameters():
    mean = ember.tensor([[-10.0], [0.0], [10.0]]) * ember.ones(3, N // 10)
    std = ember.tensor([[0.1], [1.0], [3.0]]) * ember.ones(3, N // 10)
    a = _np(ember.normal(mean, std))
    np.testing.assert_allclose(a.mean(axis=1), [-10, 0, 10], atol=0.1)
    np.testing.assert_allclose(a.std(axis=1), [0.1, 1.0, 3.0], rtol=0.03)


def test_bernoulli_statistics():
    x = _np(ember.bernoulli(ember.full((N,), 0.3)))
    assert set(np.unique(x)) <= {0.0, 1.0} and abs(x.mean() - 0.3) < 0.01
    p = ember.tensor([0.0, 0.25, 1.0]).reshape(3, 1) * ember.ones(3, N // 10)
    a = _np(ember.bernoulli(p))
    np.testing.assert_allclose(a.mean(axis=1), [0.0, 0.25, 1.0], atol=0.015)
    assert abs(_np(ember.bernoulli(ember.zeros(N), p=0.8)).mean() - 0.8) < 0.01
    assert abs(_np(ember.zeros(N, dtype=ember.int64).bernoulli_(0.6)).mean() - 0.6) < 0.01


def test_multinomial_with_replacement_frequencies():
    probs = ember.tensor([0.1, 0.0, 0.6, 0.3])
    x = _np(ember.multinomial(probs * 5, N, replacement=True))
    freq = np.bincount(x, minlength=4) / N
    np.testing.assert_allclose(freq, [0.1, 0.0, 0.6, 0.3], atol=0.01)
    rows = _np(ember.multinomial(ember.tensor([[1.0, 0.0], [0.0, 2.0]]), 50, True))
    assert (rows[0] == 0).all() and (rows[1] == 1).all()


def test_multinomial_without_replacement():
    probs = ember.tensor([1.0, 0.0, 2.0, 7.0])
    draws = _np(ember.multinomial(probs.reshape(1, 4) * ember.ones(20000, 1), 3))
    assert draws.shape == (20000, 3)
    assert all(len(set(r)) == 3 for r in draws[:500])
    assert not (draws == 1).any()
    first = np.bincount(draws[:, 0], minlength=4) / len(draws)
    np.testing.assert_allclose(first, [0.1, 0.0, 0.2, 0.7], atol=0.015)
    # Successive sampling: P(second = 2 | first = 3) = 2 / 3.
    after3 = draws[draws[:, 0] == 3, 1]
    assert abs((after3 == 2).mean() - 2 / 3) < 0.02
    full = _np(ember.multinomial(ember.ones(5), 5))
    assert sorted(full.tolist()) == list(range(5))


def test_poisson_statistics():
    mean, var = _moments(ember.poisson(ember.full((N,), 4.0)))
    assert abs(mean - 4) < 0.05 and abs(var - 4) < 0.15
    assert (_np(ember.poisson(ember.zeros(10))) == 0).all()


def test_like_functions_follow_input():
    src = ember.zeros(N, dtype=ember.float64)
    for fn, (mu, v) in ((ember.rand_like, (0.5, 1 / 12)), (ember.randn_like, (0, 1))):
        x = fn(src)
        assert x.dtype is ember.float64 and x.shape == (N,)
        mean, var = _moments(x)
        assert abs(mean - mu) < 0.02 and abs(var - v) < 0.03
    x = _np(ember.randint_like(ember.zeros(N, dtype=ember.int32), 2, 6))
    assert x.dtype == np.int32 and x.min() == 2 and x.max() == 5


def test_uniform_inplace_statistics():
    x = _np(ember.empty(N).uniform_(2, 5))
    assert x.min() >= 2 and x.max() < 5
    mean, var = x.mean(), x.var()
    assert abs(mean - 3.5) < 0.02 and abs(var - 0.75) < 0.02
    y = _np(ember.empty(N).uniform_(**{"from": -1, "to": 1}))
    assert y.min() >= -1 and y.max() < 1


def test_normal_inplace_statistics():
    mean, var = _moments(ember.empty(N, dtype=ember.float64).normal_(1.0, 2.0))
    assert abs(mean - 1) < 0.03 and abs(var - 4) < 0.1


def test_exponential_statistics():
    x = _np(ember.empty(N).exponential_(2.0))
    assert x.min() >= 0
    assert abs(x.mean() - 0.5) < 0.01 and abs(x.var() - 0.25) < 0.01


def test_geometric_statistics():
    x = _np(ember.empty(N, dtype=ember.int64).geometric_(0.25))
    assert x.min() >= 1 and (x == np.round(x)).all()
    assert abs(x.mean() - 4) < 0.05 and abs(x.var() - 12) < 0.5


def test_log_normal_statistics():
    x = _np(ember.empty(N, dtype=ember.float64).log_normal_(0.0, 0.5))
    assert x.min() > 0
    assert abs(np.log(x).mean()) < 0.01 and abs(np.log(x).std() - 0.5) < 0.01
    assert abs(x.mean() - np.exp(0.125)) < 0.01


def test_cauchy_statistics():
    x = _np(ember.empty(N, dtype=ember.float64).cauchy_(2.0, 3.0))
    q1, med, q3 = np.percentile(x, [25, 50, 75])
    assert abs(med - 2) < 0.05 and abs(q1 - (2 - 3)) < 0.1 and abs(q3 - (2 + 3)) < 0.1


def test_random_inplace_ranges():
    x = _np(ember.empty(N).random_(0, 10))
    assert x.min() == 0 and x.max() == 9 and (x == np.round(x)).all()
    assert np.abs(np.bincount(x.astype(int)) / N - 0.1).max() < 0.01
    y = _np(ember.empty(N).random_(5))
    assert y.min() == 0 and y.max() == 4
    f = _np(ember.empty(N).random_())
    assert f.min() >= 0 and f.max() <= 2 ** 24 and f.max() > 2 ** 23
    h = _np(ember.empty(N, dtype=ember.float16).random_())
    assert h.max() <= 2 ** 11
    u = _np(ember.empty(N, dtype=ember.uint8).random_())
    assert u.min() == 0 and u.max() == 255
    b = _np(ember.empty(N, dtype=ember.bool).random_())
    assert 0.48 < b.mean() < 0.52
    big = _np(ember.empty(N, dtype=ember.int64).random_()).astype(np.float64)
    assert big.min() >= 0 and abs(big.mean() / 2 ** 62 - 1) < 0.02


# ---- argument errors: the types torch raises ---------------------------------------------------
ERRORS = {
    "randint_equal": lambda t: t.randint(5, 5, (3,)),
    "randint_reversed": lambda t: t.randint(6, 5, (3,)),
    "randint_zero_high": lambda t: t.randint(0, (3,)),
    "randint_uint8_high": lambda t: t.randint(0, 300, (3,), dtype=t.uint8),
    "randint_uint8_low": lambda t: t.randint(-1, 3, (3,), dtype=t.uint8),
    "randint_bool_range": lambda t: t.randint(10, (3,), dtype=t.bool),
    "randint_int_size": lambda t: t.randint(0, 10, 5),
    "randint_float_bounds": lambda t: t.randint(0.5, 10.5, (3,)),
    "randint_no_size": lambda t: t.randint(10),
    "randint_like_equal": lambda t: t.randint_like(t.zeros(3), 5, 5),
    "randint_like_no_high": lambda t: t.randint_like(t.zeros(2)),
    "randperm_negative": lambda t: t.randperm(-1),
    "randperm_float_n": lambda t: t.randperm(3.5),
    "randperm_uint8_overflow": lambda t: t.randperm(300, dtype=t.uint8),
    "randperm_bool": lambda t: t.randperm(3, dtype=t.bool),
    "rand_int_dtype": lambda t: t.rand(2, dtype=t.int64),
    "randn_int_dtype": lambda t: t.randn(2, dtype=t.int64),
    "rand_negative": lambda t: t.rand(-1),
    "rand_float_size": lambda t: t.rand(2.5),
    "rand_no_size": lambda t: t.rand(),
    "rand_size_twice": lambda t: t.rand(2, 3, size=(2,)),
    "rand_bad_generator": lambda t: t.rand(2, generator=5),
    "rand_like_int": lambda t: t.rand_like(t.zeros(3, dtype=t.int64)),
    "normal_negative_std": lambda t: t.normal(t.zeros(2), -1.0),
    "normal_negative_std_tensor": lambda t: t.normal(t.zeros(2), -t.ones(2)),
    "normal_negative_std_size": lambda t: t.normal(0.0, -1.0, size=(2, 3)),
    "normal_no_size": lambda t: t.normal(0.0, 1.0),
    "normal_int_mean": lambda t: t.normal(t.zeros(3, dtype=t.int64), 1.0),
    "normal_shape_mismatch": lambda t: t.normal(t.zeros(2), t.ones(3)),
    "bernoulli_p_above": lambda t: t.bernoulli(t.full((3,), 0.5), p=1.5),
    "bernoulli_probs_above": lambda t: t.bernoulli(t.full((3,), 1.5)),
    "bernoulli_probs_negative": lambda t: t.bernoulli(t.full((3,), -0.1)),
    "bernoulli_probs_nan": lambda t: t.bernoulli(t.full((3,), float("nan"))),
    "bernoulli_int_input": lambda t: t.bernoulli(t.ones(3, dtype=t.int64)),
    "bernoulli__p_above": lambda t: t.zeros(3).bernoulli_(1.5),
    "bernoulli__p_below": lambda t: t.zeros(3).bernoulli_(-0.5),
    "bernoulli__tensor_above": lambda t: t.zeros(3).bernoulli_(t.full((3,), 2.0)),
    "bernoulli__too_many_dims": lambda t: t.zeros(3).bernoulli_(t.full((1, 3), 0.5)),
    "multinomial_negative": lambda t: t.multinomial(t.tensor([1.0, -1, 1]), 1),
    "multinomial_nan": lambda t: t.multinomial(t.tensor([1.0, float("nan")]), 1),
    "multinomial_inf": lambda t: t.multinomial(t.tensor([1.0, float("inf")]), 1),
    "multinomial_zero_sum": lambda t: t.multinomial(t.tensor([0.0, 0, 0]), 1),
    "multinomial_too_many": lambda t: t.multinomial(t.tensor([1.0, 0, 1]), 4),
    "multinomial_int": lambda t: t.multinomial(t.tensor([1, 2]), 1),
    "multinomial_0d": lambda t: t.multinomial(t.tensor(1.0), 1),
    "multinomial_3d": lambda t: t.multinomial(t.ones(2, 2, 2), 1),
    "multinomial_zero_samples": lambda t: t.multinomial(t.ones(3), 0),
    "multinomial_negative_samples": lambda t: t.multinomial(t.ones(3), -1),
    "multinomial_no_categories": lambda t: t.multinomial(t.ones(2, 0), 2),
    "poisson_negative": lambda t: t.poisson(t.tensor([-1.0])),
    "poisson_int": lambda t: t.poisson(t.tensor([1, 2])),
    "uniform_reversed": lambda t: t.zeros(3).uniform_(2, 1),
    "uniform_int": lambda t: t.zeros(3, dtype=t.int64).uniform_(),
    "normal__negative_std": lambda t: t.zeros(3).normal_(0, -1),
    "normal__int": lambda t: t.zeros(3, dtype=t.int64).normal_(),
    "exponential_zero": lambda t: t.zeros(3).exponential_(0),
    "exponential_negative": lambda t: t.zeros(3).exponential_(-1),
    "exponential_int": lambda t: t.zeros(3, dtype=t.int64).exponential_(),
    "exponential_complex": lambda t: t.zeros(3, dtype=t.complex64).exponential_(),
    "geometric_zero": lambda t: t.zeros(3).geometric_(0),
    "geometric_one": lambda t: t.zeros(3).geometric_(1),
    "geometric_bool": lambda t: t.zeros(3, dtype=t.bool).geometric_(0.5),
    "log_normal_zero_std": lambda t: t.zeros(3).log_normal_(1, 0),
    "log_normal_int": lambda t: t.zeros(3, dtype=t.int64).log_normal_(),
    "cauchy_zero_sigma": lambda t: t.zeros(3).cauchy_(0, 0),
    "cauchy_int": lambda t: t.zeros(3, dtype=t.int64).cauchy_(),
    "random_equal": lambda t: t.zeros(3).random_(3, 3),
    "random_reversed": lambda t: t.zeros(3).random_(3, 2),
    "random_negative_to": lambda t: t.zeros(3).random_(-5),
    "random_zero_to": lambda t: t.zeros(3).random_(0),
    "random_uint8_high": lambda t: t.zeros(3, dtype=t.uint8).random_(0, 300),
    "random_uint8_low": lambda t: t.zeros(3, dtype=t.uint8).random_(-1, 3),
    "random_uint8_to": lambda t: t.zeros(3, dtype=t.uint8).random_(300),
    "random_bool_to": lambda t: t.zeros(3, dtype=t.bool).random_(3),
    "random_float_to": lambda t: t.zeros(3).random_(1.5),
    "random_leaf_grad": lambda t: t.zeros(3, requires_grad=True).random_(),
    "uniform_leaf_grad": lambda t: t.zeros(3, requires_grad=True).uniform_(),
    "manual_seed_float": lambda t: t.Generator().manual_seed(1.5),
    "manual_seed_overflow": lambda t: t.Generator().manual_seed(2 ** 64),
    "manual_seed_bool": lambda t: t.Generator().manual_seed(True),
    "set_state_list": lambda t: t.Generator().set_state([1, 2]),
    "set_state_float": lambda t: t.Generator().set_state(t.zeros(3)),
    "set_state_size": lambda t: t.Generator().set_state(t.zeros(3, dtype=t.uint8)),
}


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", sorted(ERRORS))
def test_error_type_matches_torch(name):
    fn = ERRORS[name]
    with pytest.raises(Exception) as theirs:
        fn(torch)
    with pytest.raises(Exception) as ours:
        fn(ember)
    assert issubclass(ours.type, theirs.type), \
        f"{name}: ember raised {ours.type.__name__}({ours.value}), torch " \
        f"{theirs.type.__name__}({theirs.value})"


def test_multinomial_needs_enough_nonzero_categories():
    """Documented: without replacement, num_samples must not exceed the non-zero categories."""
    with pytest.raises(RuntimeError, match="not enough"):
        ember.multinomial(ember.tensor([1.0, 0.0, 0.0, 1.0]), 3)
    with pytest.raises(RuntimeError, match="not enough"):
        ember.multinomial(ember.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]]), 2)


def test_error_messages_name_the_problem():
    with pytest.raises(RuntimeError, match="from=5 >= to=5"):
        ember.randint(5, 5, (2,))
    with pytest.raises(RuntimeError, match=r"p to be in \[0, 1\], but got p=1.5"):
        ember.zeros(2).bernoulli_(1.5)
    with pytest.raises(RuntimeError, match="element < 0"):
        ember.multinomial(ember.tensor([0.5, -0.5]), 1)
    with pytest.raises(RuntimeError, match="std >= 0.0"):
        ember.normal(0.0, -2.0, (2,))


@pytest.mark.parametrize("method,args", [
    ("uniform_", ()), ("normal_", ()), ("bernoulli_", ()), ("bernoulli_", (0.3,)),
    ("random_", (5,)), ("exponential_", ()), ("geometric_", (0.3,)), ("log_normal_", ()),
    ("cauchy_", ())])
def test_in_place_fills_of_a_0d_tensor_keep_it_0d(method, args):
    """NumPy's samplers give a scalar for shape (); the tensor must keep a 0-d array (its
    repr and .item() used to raise)."""
    x = ember.tensor(0.5)
    assert getattr(x, method)(*args) is x
    assert isinstance(x._data, np.ndarray) and x.shape == ()
    assert isinstance(x.item(), float) and repr(x).startswith("tensor(")
    p = ember.tensor(0.25)
    assert isinstance(ember.tensor(0.5).bernoulli_(p)._data, np.ndarray)
    drawn = ember.poisson(ember.tensor(3.0))
    assert isinstance(drawn._data, np.ndarray) and drawn.shape == () and drawn.item() >= 0
