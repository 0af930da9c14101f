"""DataParallel and data_parallel without GPUs: the module runs as it is, as in torch."""
import numpy as np
import torch

import ember

from .conv_helpers import close, compare_module


def _nets(lib):
    return lib.nn.DataParallel(lib.nn.Sequential(lib.nn.Linear(4, 3), lib.nn.BatchNorm1d(3)))


def test_wraps_the_module_like_torch():
    em, tm = _nets(ember), _nets(torch)
    assert repr(em) == repr(tm)
    assert list(em.state_dict()) == list(tm.state_dict())
    assert em.device_ids == tm.device_ids == []
    assert isinstance(em.module, ember.nn.Sequential)
    compare_module(em.double(), tm.double(), np.random.default_rng(0).standard_normal((5, 4)))
    for key, value in tm.state_dict().items():
        close(em.state_dict()[key], value, what=key)


def test_state_dict_moves_between_wrapped_and_bare_modules():
    em = _nets(ember)
    bare = ember.nn.Sequential(ember.nn.Linear(4, 3), ember.nn.BatchNorm1d(3))
    bare.load_state_dict({k[len("module."):]: v for k, v in em.state_dict().items()})
    x = ember.randn(2, 4)
    em.eval()
    bare.eval()
    assert ember.equal(em(x), bare(x))


def test_keyword_arguments_and_functional_form():
    class Scale(ember.nn.Module):
        def forward(self, x, factor=1.0):
            return x * factor
    net = ember.nn.DataParallel(Scale(), dim=1)
    assert net(ember.ones(2), factor=3.0).tolist() == [3.0, 3.0]
    out = ember.nn.parallel.data_parallel(Scale(), (ember.ones(2),), module_kwargs={"factor": 2})
    assert out.tolist() == [2.0, 2.0]
    assert ember.nn.parallel.data_parallel(Scale(), ember.ones(1)).tolist() == [1.0]
