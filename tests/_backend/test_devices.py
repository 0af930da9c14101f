"""Devices without a backend: a clear refusal where a tensor would get data."""
from __future__ import annotations

import pytest

import ember


def test_meta_tensors_are_refused_clearly(tmp_path):
    """torch's 'meta' device holds shapes without data; ember has no such storage, and says
    so (it said CUDA needed CuPy) when a tensor is made, moved or loaded there."""
    path = tmp_path / "net.pt"
    ember.jit.trace(ember.nn.Linear(2, 2), ember.ones(1, 2)).save(path)
    for make in (lambda: ember.ones(2).to("meta"), lambda: ember.zeros(3, device="meta"),
                 lambda: ember.jit.load(path, map_location="meta")):
        with pytest.raises(NotImplementedError, match="'meta' tensors"):
            make()
    assert ember.device("meta").type == "meta"
