"""ember.types against torch.types: the same aliases over ember's classes."""
import typing

import pytest
import torch

import ember
import ember.types as et
import torch.types as tt

_PLAIN = ["_bool", "_int", "_float", "_complex", "_str", "_bytes", "_Number"]
_ALIASES = ["Number", "Device", "_size", "_TensorOrTensors",
            "_TensorOrOptionalTensors", "FileLike"]


def _names(alias) -> list:
    """The member types of an alias as names, torch's and ember's spelled alike."""
    args = typing.get_args(alias) or (alias,)
    out = []
    for a in args:
        origin = typing.get_origin(a)
        out.append(repr(a).replace("torch.", "").replace("ember._tensor.", "")
                   .replace("ember._device.", "") if origin else getattr(a, "__name__", repr(a)))
    return sorted(out)


@pytest.mark.parametrize("name", _PLAIN)
def test_plain_types(name):
    assert getattr(et, name) == getattr(tt, name)


@pytest.mark.parametrize("name", _ALIASES)
def test_aliases_have_torchs_members(name):
    if name == "FileLike":
        assert len(typing.get_args(et.FileLike)) == len(typing.get_args(tt.FileLike))
        return
    assert _names(getattr(et, name)) == _names(getattr(tt, name))


def test_classes_are_embers():
    assert et.Tensor is ember.Tensor and et.Size is ember.Size
    assert et._dtype is ember.dtype and et._device is ember.device
    assert et._layout is ember.layout and et.Storage is ember.UntypedStorage
    assert isinstance(ember.float32, et._dtype) and isinstance(torch.float32, tt._dtype)
    assert et.IntLikeType is int and et.FloatLikeType is float and et.BoolLikeType is bool


def test_annotations_resolve():
    def f(x: et.Tensor, dim: et._int, size: et._size, dev: et.Device = None) -> et.Number:
        return x.sum().item()

    hints = typing.get_type_hints(f)
    assert hints["size"] == et._size
    assert f(ember.ones(2), 0, (2,)) == 2.0
