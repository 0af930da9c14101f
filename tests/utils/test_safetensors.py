"""safetensors round trips, and byte-for-byte agreement with the reference package's layout."""
import json
import struct

import numpy as np
import pytest

import ember
from ember.utils import safetensors as st


def test_roundtrip_all_dtypes(tmp_path):
    tensors = {"f": ember.arange(6, dtype=ember.float32).view(2, 3),
               "d": ember.ones(2).double(), "h": ember.ones(3, dtype=ember.float16),
               "bf": ember.tensor([1.5], dtype=ember.bfloat16),
               "i": ember.tensor([1, -2]), "b": ember.tensor([True, False]),
               "u": ember.tensor([7], dtype=ember.uint8), "s": ember.tensor(2.0)}
    path = tmp_path / "m.safetensors"
    st.save_file(tensors, path, metadata={"format": "pt"})
    got = st.load_file(path)
    assert sorted(got) == sorted(tensors)
    for k, v in tensors.items():
        assert got[k].dtype is v.dtype and got[k].shape == v.shape
        np.testing.assert_array_equal(got[k].float().numpy(), v.float().numpy())
    assert st.metadata(path) == {"format": "pt"}


def test_layout_is_the_standard_one():
    data = st.save({"a": ember.tensor([1.0, 2.0])})
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    assert header == {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}
    assert n % 8 == 0
    assert np.frombuffer(data[8 + n:], "<f4").tolist() == [1.0, 2.0]


def test_corrupt_inputs_raise_clear_errors():
    good = st.save({"a": ember.ones(4)})
    with pytest.raises(ValueError, match="not a valid safetensors"):
        st.load(good[:5])
    with pytest.raises(ValueError, match="does not match its byte range"):
        st.load(good[:-4])
    with pytest.raises(ValueError, match="header length"):
        st.load(struct.pack("<Q", 10 ** 12) + b"{}")
    with pytest.raises(TypeError, match="not a Tensor"):
        st.save({"a": 3})


def test_unsigned_shell_dtypes_use_the_standard_codes(tmp_path):
    """uint16/32/64 are U16/U32/U64 in the header (the codes safetensors and torch use)."""
    tensors = {"a": ember.tensor([1, 65535], dtype=ember.uint16),
               "b": ember.tensor([[2 ** 32 - 1]], dtype=ember.uint32),
               "c": ember.tensor([2 ** 64 - 1, 3], dtype=ember.uint64)}
    data = st.save(tensors)
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    assert {k: header[k]["dtype"] for k in tensors} == {"a": "U16", "b": "U32", "c": "U64"}
    got = st.load(data)
    for k, v in tensors.items():
        assert got[k].dtype is v.dtype and got[k].tolist() == v.tolist()
