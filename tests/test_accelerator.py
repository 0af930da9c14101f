"""ember.accelerator against torch.accelerator (CPU-only torch: no accelerator)."""
import pytest
import torch

import ember

_NEEDS_DEVICE = [
    lambda a: a.current_device_index(),
    lambda a: a.current_device_idx(),
    lambda a: a.set_device_index(0),
    lambda a: a.synchronize(),
    lambda a: a.empty_cache(),
    lambda a: a.memory_allocated(),
]


def test_consistent_with_cuda():
    acc = ember.accelerator
    assert acc.is_available() == ember.cuda.is_available()
    assert acc.device_count() == ember.cuda.device_count()
    expected = ember.device("cuda") if ember.cuda.is_available() else None
    assert acc.current_accelerator() == expected
    assert acc.current_accelerator(check_available=True) == expected


@pytest.mark.skipif(ember.cuda.is_available(), reason="a GPU is visible")
def test_without_accelerator_matches_torch():
    assert ember.accelerator.current_accelerator() is torch.accelerator.current_accelerator()
    assert ember.accelerator.is_available() is torch.accelerator.is_available() is False
    assert ember.accelerator.device_count() == torch.accelerator.device_count() == 0
    with ember.accelerator.device_index(None), torch.accelerator.device_index(None):
        pass


@pytest.mark.skipif(ember.cuda.is_available(), reason="a GPU is visible")
@pytest.mark.parametrize("call", _NEEDS_DEVICE)
def test_device_calls_without_accelerator_raise_like_torch(call):
    with pytest.raises(RuntimeError) as theirs:
        call(torch.accelerator)
    with pytest.raises(RuntimeError) as ours:
        call(ember.accelerator)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.skipif(not ember.cuda.is_available(), reason="needs CuPy and a GPU")
def test_with_gpu():
    acc = ember.accelerator
    assert acc.current_accelerator().type == "cuda"
    index = acc.current_device_index()
    with acc.device_index(0):
        assert acc.current_device_index() == 0
    assert acc.current_device_index() == index
    x = ember.ones(1024, device="cuda")
    acc.synchronize()
    assert acc.memory_allocated() >= x.numel() * 4
    with pytest.raises(ValueError):
        acc.synchronize("cpu")
