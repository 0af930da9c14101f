"""nn.UninitializedBuffer and the lazy-module machinery for buffers, against torch; and the
deprecated nn.Container."""
import numpy as np
import pytest
import torch

import ember


def _lazy_class(lib):
    class Shift(lib.nn.modules.lazy.LazyModuleMixin, lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("offset", lib.nn.UninitializedBuffer())

        def initialize_parameters(self, x):
            self.offset.materialize(x.shape[-1:])
            self.offset.fill_(2.0)

        def forward(self, x):
            return x + self.offset
    return Shift


def test_buffer_like_torch():
    for lib in (ember, torch):
        b = lib.nn.UninitializedBuffer()
        assert repr(b) == "<UninitializedBuffer>"
        assert not b.requires_grad
        assert isinstance(b, lib.nn.Buffer) and not isinstance(b, lib.nn.Parameter)
        b.materialize((2, 3))
        assert type(b) is lib.Tensor and tuple(b.shape) == (2, 3) and b.dtype == lib.float32
        b = lib.nn.UninitializedBuffer(requires_grad=True, dtype=lib.float64)
        b.materialize(4)
        assert type(b) is lib.Tensor and tuple(b.shape) == (4,) and b.requires_grad
        assert b.dtype == lib.float64


def test_lazy_module_materializes_its_buffer_on_the_first_call():
    em, tm = _lazy_class(ember)(), _lazy_class(torch)()
    assert em.has_uninitialized_params() and tm.has_uninitialized_params()
    assert isinstance(em.offset, ember.nn.UninitializedBuffer)
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(em(ember.tensor(x)).numpy(), tm(torch.tensor(x)).numpy())
    assert not em.has_uninitialized_params()
    assert type(em.offset) is ember.Tensor
    assert list(em.state_dict()) == list(tm.state_dict()) == ["offset"]


def test_loading_a_state_dict_materializes_the_buffer():
    em, tm = _lazy_class(ember)(), _lazy_class(torch)()
    em.load_state_dict({"offset": ember.ones(3)})
    tm.load_state_dict({"offset": torch.ones(3)})
    assert type(em.offset) is ember.Tensor and em.offset.tolist() == tm.offset.tolist()


def test_assigning_registers_a_buffer():
    m = ember.nn.Module()
    m.x = ember.nn.UninitializedBuffer()
    assert "x" in m._buffers and isinstance(m.x, ember.nn.UninitializedBuffer)
    m.y = ember.nn.UninitializedBuffer(persistent=False)
    assert "y" in m._non_persistent_buffers_set


def test_lazy_batch_norm_buffers_are_uninitialized_buffers():
    bn = ember.nn.LazyBatchNorm1d()
    assert isinstance(bn.running_mean, ember.nn.UninitializedBuffer)
    bn(ember.randn(4, 3))
    assert type(bn.running_mean) is ember.Tensor and tuple(bn.running_var.shape) == (3,)


def test_container_is_deprecated_like_torch():
    with pytest.warns(FutureWarning, match="nn.Container` is deprecated"):
        ec = ember.nn.Container(a=ember.nn.Linear(1, 2), b=ember.nn.ReLU())
    with pytest.warns(FutureWarning):
        tc = torch.nn.Container(a=torch.nn.Linear(1, 2), b=torch.nn.ReLU())
    assert repr(ec) == repr(tc)
    assert list(ec.state_dict()) == list(tc.state_dict())
