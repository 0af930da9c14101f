"""Scripted models with data-dependent control flow export as ONNX If/Loop and run in
onnxruntime like in ember, for inputs that take different paths and at two batch sizes."""
from __future__ import annotations

import ember
import ember.nn as nn
import ember.nn.functional as F

from onnx_helpers import assert_close, export_bytes, run, session


class Halve(nn.Module):
    """A while loop whose trip count depends on the input values, then a branch on them."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        while x.norm() > 1:
            x = x / 2
        y = F.relu(self.fc(x))
        if y.sum() > 0.1:
            y = y * 2
        else:
            y = y - 1
        return y


class Repeat(nn.Module):
    """A for loop whose trip count is read out of an input tensor."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x, n):
        for i in range(int(n.item())):
            x = ember.tanh(self.fc(x)) + i
        return x


def test_while_loop_and_if_export_with_dynamic_batch():
    ember.manual_seed(0)
    m = Halve().eval()
    s = ember.jit.script(m)
    data = export_bytes(s, (ember.randn(2, 4),), input_names=["x"],
                        dynamic_axes={"x": {0: "batch"}})
    sess = session(data)
    iterations = set()
    for x in (ember.randn(3, 4) * 20, ember.randn(5, 4) * 0.01, -ember.ones(2, 4) * 3):
        k, y = 0, x.clone()
        while y.norm() > 1:
            y, k = y / 2, k + 1
        iterations.add(k)
        with ember.no_grad():
            want = [m(x).numpy()]
        assert_close(run(sess, {"x": x}), want)
    assert len(iterations) >= 2


def test_for_loop_with_input_trip_count():
    ember.manual_seed(0)
    m = Repeat().eval()
    s = ember.jit.script(m)
    data = export_bytes(s, (ember.randn(2, 4), ember.tensor(2)), input_names=["x", "n"],
                        dynamic_axes={"x": {0: "batch"}})
    sess = session(data)
    for batch, n in ((2, 0), (5, 3), (3, 1)):
        x = ember.randn(batch, 4)
        with ember.no_grad():
            want = [m(x, ember.tensor(n)).numpy()]
        assert_close(run(sess, {"x": x, "n": ember.tensor(n)}), want)
