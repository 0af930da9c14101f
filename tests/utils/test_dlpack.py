"""ember.utils.dlpack: torch's module names, and exchange with torch and NumPy."""
import numpy as np
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
