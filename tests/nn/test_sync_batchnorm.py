"""SyncBatchNorm in one process against torch's (which then falls back to batch norm):
outputs, gradients, running statistics, conversion of models, errors."""
import numpy as np
import pytest
import torch

import ember

from .conv_helpers import close, compare_module, copy_weights, raises_like_torch

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("shape", [(4, 3), (4, 3, 5), (2, 3, 4, 5), (2, 3, 2, 3, 4),
                                   (2, 3, 2, 2, 2, 2)])
@pytest.mark.parametrize("train", [True, False])
def test_matches_torch(shape, train):
    em, tm = ember.nn.SyncBatchNorm(3).double(), torch.nn.SyncBatchNorm(3).double()
    assert repr(em) == repr(tm)
    assert list(em.state_dict()) == list(tm.state_dict())
    with torch.no_grad():
        tm.weight.uniform_(0.5, 1.5)
        tm.bias.uniform_(-1, 1)
        tm.running_mean.uniform_(-1, 1)
    em.train(train)
    tm.train(train)
    compare_module(em, tm, RNG.standard_normal(shape))
    for key, value in tm.state_dict().items():
        close(em.state_dict()[key], value, what=key)


@pytest.mark.parametrize("kwargs", [{"affine": False}, {"track_running_stats": False},
                                    {"momentum": None}, {"bias": False, "eps": 1e-3}])
def test_options_match_torch(kwargs):
    em, tm = ember.nn.SyncBatchNorm(3, **kwargs), torch.nn.SyncBatchNorm(3, **kwargs)
    assert repr(em) == repr(tm)
    assert list(em.state_dict()) == list(tm.state_dict())
    for _ in range(2):
        x = RNG.standard_normal((4, 3, 5)).astype(np.float32)
        close(em(ember.tensor(x)), tm(torch.tensor(x)), "float32")
    for key, value in tm.state_dict().items():
        close(em.state_dict()[key], value, "float32", key)


def test_process_group_is_kept():
    group = object()
    assert ember.nn.SyncBatchNorm(2, process_group=group).process_group is group


@pytest.mark.parametrize("shape", [(3,), (), (4, 0, 2)])
def test_input_errors_like_torch(shape):
    raises_like_torch(lambda: ember.nn.SyncBatchNorm(3)(ember.zeros(shape)),
                      lambda: torch.nn.SyncBatchNorm(3)(torch.zeros(shape)))


def _model(lib):
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3),
                         nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(3, affine=False)),
                         nn.BatchNorm3d(3, bias=False, momentum=0.3).eval(), nn.LayerNorm(4),
                         nn.InstanceNorm2d(3))


def test_convert_sync_batchnorm_like_torch():
    em, tm = _model(ember), _model(torch)
    with torch.no_grad():
        for buf in tm.buffers():
            if buf.is_floating_point():
                buf.uniform_(0.5, 1.5)
        for p in tm.parameters():
            p.uniform_(-1, 1)
    copy_weights(em, tm)
    weight = em[1].weight
    ce, ct = (ember.nn.SyncBatchNorm.convert_sync_batchnorm(em),
              torch.nn.SyncBatchNorm.convert_sync_batchnorm(tm))
    assert repr(ce) == repr(ct)
    assert [type(m).__name__ for m in ce.modules()] == [type(m).__name__ for m in ct.modules()]
    assert [m.training for m in ce.modules()] == [m.training for m in ct.modules()]
    assert ce[1].weight is weight
    assert list(ce.state_dict()) == list(ct.state_dict())
    for key, value in ct.state_dict().items():
        close(ce.state_dict()[key], value, "float32", key)
    x = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    close(ce[2](ember.tensor(x)), ct[2](torch.tensor(x)), "float32", "converted BatchNorm1d")
    bn = ember.nn.BatchNorm1d(3)
    assert type(ember.nn.SyncBatchNorm.convert_sync_batchnorm(bn)) is ember.nn.SyncBatchNorm
