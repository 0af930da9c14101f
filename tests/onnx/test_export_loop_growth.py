"""ONNX export of scripted loops whose carried tensors grow (torch.cat per iteration) and
whose body reads the growing size (the `size` op, lowered to Shape): onnxruntime's results
match the scripted module's at several inputs, at an old and a recent opset."""
import io
import os
import sys

import numpy as np
import pytest

import ember

ort = pytest.importorskip("onnxruntime")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "jit"))
from test_script_loop_growth import _programs  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::ember.jit.TracerWarning")


@pytest.mark.parametrize("opset", [11, 17])
@pytest.mark.parametrize("name", ["UntilSum", "Counted"])
def test_growing_loop_exports(name, opset):
    scripted = ember.jit.script(_programs(ember)[name]())
    example = ember.tensor([1.0, 2.0])
    scripted(example)
    buffer = io.BytesIO()
    ember.onnx.export(scripted, (example,), buffer, opset_version=opset)
    session = ort.InferenceSession(buffer.getvalue())
    feed = session.get_inputs()[0].name
    for values in ([1.0, 2.0], [10.0, 20.0], [0.0, 0.5]):
        got = session.run(None, {feed: np.array(values, np.float32)})[0]
        np.testing.assert_allclose(got, scripted(ember.tensor(values)).numpy(), rtol=1e-6)
