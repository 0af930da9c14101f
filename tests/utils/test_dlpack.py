"""ember.utils.dlpack: torch's module names, and exchange with torch and NumPy."""
import numpy as np
import pytest
import torch

import ember


def test_names_and_device_codes():
    assert ember.utils.dlpack.from_dlpack is ember.from_dlpack
    assert ember.utils.dlpack.to_dlpack is ember.to_dlpack
    ours = {m.name: m.value for m in ember.utils.dlpack.DLDeviceType}
    assert ours == {m.name: m.value for m in torch.utils.dlpack.DLDeviceType}
    assert ember.ones(2).__dlpack_device__()[0] == ember.utils.dlpack.DLDeviceType.kDLCPU


def test_round_trips_share_memory():
    t = torch.arange(6.0).reshape(2, 3)
    capsule = ember.utils.dlpack.from_dlpack(torch.utils.dlpack.to_dlpack(t))
    assert capsule.tolist() == t.tolist() and capsule.dtype == ember.float32
    e = ember.utils.dlpack.from_dlpack(t)
    t[0, 0] = 7.0
    assert e[0, 0].item() == 7.0 and capsule[0, 0].item() == 7.0
    back = torch.utils.dlpack.from_dlpack(ember.utils.dlpack.to_dlpack(e))
    assert torch.equal(back, t)
    a = np.from_dlpack(ember.arange(3))
    assert a.tolist() == [0, 1, 2]


def test_a_bare_capsule_is_shared_writably_as_torch():
    def run(lib):
        source = torch.arange(6.0).reshape(2, 3)
        imported = lib.from_dlpack(torch.utils.dlpack.to_dlpack(source))
        imported.add_(1)
        imported[0, 0] = 10.0
        imported.t().mul_(2)
        return source.tolist(), imported.tolist()
    assert run(ember) == run(torch)


def test_a_bare_capsule_keeps_its_memory_after_the_source_goes():
    source = torch.arange(4.0)
    imported = ember.from_dlpack(torch.utils.dlpack.to_dlpack(source))
    del source
    imported.add_(1)
    assert imported.tolist() == [1.0, 2.0, 3.0, 4.0]


def test_in_place_write_into_read_only_memory_names_it():
    array = np.arange(3.0)
    array.flags.writeable = False
    t = ember.from_dlpack(array)
    for write in (lambda: t.add_(1), lambda: t.fill_(0), lambda: t.copy_(ember.ones(3)),
                  lambda: t.__setitem__(0, 1.0)):
        with pytest.raises(RuntimeError, match="memory is read-only.*clone"):
            write()
    assert array.tolist() == [0.0, 1.0, 2.0]


def test_in_place_write_into_an_expanded_tensor_is_refused_as_torch():
    for lib in (torch, ember):
        with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
            lib.ones(3).expand(2, 3).add_(1)
