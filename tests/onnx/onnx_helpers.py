"""Shared by the ONNX tests: export to memory, check with the full checker, run in
onnxruntime and compare with ember's own outputs."""
from __future__ import annotations

import io

import numpy as np
import pytest

import ember
from ember.jit.tracer import flatten

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
ort.set_default_logger_severity(3)


def export_bytes(model, args, **kwargs) -> bytes:
    """ember.onnx.export into memory; the file passes onnx.checker's full check."""
    f = io.BytesIO()
    ember.onnx.export(model, args, f, **kwargs)
    data = f.getvalue()
    onnx.checker.check_model(onnx.load_from_string(data), full_check=True)
    return data


def session(data: bytes):
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def run(sess, inputs: dict) -> list:
    feeds = {k: (v.numpy() if isinstance(v, ember.Tensor) else v) for k, v in inputs.items()}
    return sess.run(None, feeds)


def expected_outputs(model, inputs) -> list:
    """ember's outputs of model(*inputs), flattened like the exported graph's outputs."""
    with ember.no_grad():
        out = model(*inputs)
    return [t.numpy() for t in flatten(out, "output", False)[0]]


def assert_close(got: list, want: list, atol: float = 1e-5) -> None:
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape, f"output {k}: shape {g.shape} vs {w.shape}"
        assert g.dtype == w.dtype, f"output {k}: dtype {g.dtype} vs {w.dtype}"
        if w.dtype.kind == "f":
            diff = float(np.max(np.abs(g - w))) if w.size else 0.0
            assert diff <= atol, f"output {k}: max abs diff {diff} > {atol}"
        else:
            np.testing.assert_array_equal(g, w, err_msg=f"output {k}")
