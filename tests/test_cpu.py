"""ember.cpu against torch.cpu: the device queries, and the deprecated torch.cpu.amp spellings
of autocast and GradScaler that training scripts still use."""
import warnings

import pytest
import torch

import ember


def test_device_queries_like_torch():
    for name in ("is_available", "is_initialized", "device_count", "current_device",
                 "synchronize"):
        assert getattr(ember.cpu, name)() == getattr(torch.cpu, name)(), name
    assert ember.cpu.set_device("cpu") is None and ember.cpu.synchronize("cpu") is None
    device = ember.device("cpu")
    assert getattr(ember, device.type).is_available()
    with pytest.raises(AttributeError, match="ember.cpu"):
        ember.cpu.no_such_name  # noqa: B018


def test_the_deprecated_cpu_amp_spellings_run_like_torch():
    """`with torch.cpu.amp.autocast():` casts matmuls to bfloat16 as torch.autocast('cpu')."""
    dtypes = []
    for lib in (torch, ember):
        with pytest.warns(FutureWarning, match=r"torch.amp.autocast\('cpu'"):
            region = lib.cpu.amp.autocast()
        with region:
            a = lib.ones(2, 2)
            dtypes.append(((a @ a).dtype, lib.is_autocast_enabled("cpu")))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            with lib.cpu.amp.autocast(enabled=False):
                assert (lib.ones(2, 2) @ lib.ones(2, 2)).dtype == lib.float32
        with pytest.warns(FutureWarning, match=r"torch.amp.GradScaler\('cpu'"):
            scaler = lib.cpu.amp.GradScaler(init_scale=8.0)
        w = lib.nn.Parameter(lib.ones(2))
        opt = lib.optim.SGD([w], lr=0.5)
        scaler.scale((w * w).sum()).backward()
        assert w.grad.tolist() == [16.0, 16.0]
        scaler.step(opt)
        scaler.update()
        assert w.tolist() == [0.0, 0.0] and scaler.is_enabled()
    assert str(dtypes[0]) == str(dtypes[1])
