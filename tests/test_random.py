"""ember.random against torch.random: the same names, and fork_rng restores the CPU stream."""
import warnings

import pytest
import torch

import ember


def test_names_match_torch():
    for name in ("manual_seed", "seed", "initial_seed", "get_rng_state", "set_rng_state",
                 "fork_rng", "default_generator", "Generator"):
        assert hasattr(torch.random, name) and hasattr(ember.random, name)
    assert ember.random.default_generator is ember.default_generator
    assert ember.random.manual_seed is ember.manual_seed


def test_seeding_round_trip():
    g = ember.random.manual_seed(123)
    assert g is ember.random.default_generator
    assert ember.random.initial_seed() == 123
    state = ember.random.get_rng_state()
    a = ember.rand(4)
    ember.random.set_rng_state(state)
    assert ember.equal(a, ember.rand(4))
    s = ember.random.seed()
    assert isinstance(s, int) and ember.random.initial_seed() == s


@pytest.mark.parametrize("lib", [torch, ember])
def test_fork_rng_restores_cpu_state(lib):
    lib.manual_seed(0)
    state = lib.get_rng_state()
    with lib.random.fork_rng() as value:
        lib.rand(3)
    assert value is None
    assert lib.equal(state, lib.get_rng_state())
    with lib.random.fork_rng(enabled=False):
        lib.rand(3)
    assert not lib.equal(state, lib.get_rng_state())


@pytest.mark.parametrize("lib", [torch, ember])
def test_fork_rng_restores_on_error(lib):
    state = lib.get_rng_state()
    with pytest.raises(ValueError), lib.random.fork_rng(devices=[]):
        lib.rand(3)
        raise ValueError
    assert lib.equal(state, lib.get_rng_state())


def test_fork_rng_without_gpu_refuses_device_indices():
    if ember.cuda.is_available():
        pytest.skip("a GPU is visible")
    for lib in (torch, ember):
        with pytest.raises(AssertionError), lib.random.fork_rng(devices=[0]):
            pass
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with ember.random.fork_rng(device_type="mps"):
            pass
