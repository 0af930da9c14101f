"""ember.jit.script: compiled source with control flow matches eager, differentiates, prints
its blocks, saves and loads, and refuses unsupported code by quoting the line."""
from __future__ import annotations

import io
from typing import Optional

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(6, 16), nn.Linear(16, 8), nn.Linear(8, 3)])

    def forward(self, x):
        for layer in self.layers[:-1]:
            x = F.relu(layer(x))
        return self.layers[-1](x)


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 4 * 4, 5)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn(self.conv(x))), 2)
        return self.fc(x.flatten(1))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x, scale: float):
        return self.lin(x) * scale


class Dynamic(nn.Module):
    """Data-dependent control flow: a while loop, a for loop with an input-valued trip count,
    an if on a tensor value with an early return, and a user submodule."""

    def __init__(self):
        super().__init__()
        self.block = Block()

    def forward(self, x, steps: int, bias: Optional[ember.Tensor] = None):
        while x.norm() > 4:
            x = x / 2
        total = 0.0
        for i in range(steps):
            x = self.block(x, 0.5) + i
            total = total + x.sum().item()
        if bias is not None:
            x = x + bias
        if total > 0:
            return x, total
        return -x, total


def _eager_and_script(model, *args):
    with ember.no_grad():
        return model(*args), ember.jit.script(model)(*args)


def _close(a, b, tol=1e-5):
    np.testing.assert_allclose(np.asarray(a.detach().numpy()), np.asarray(b.detach().numpy()),
                               rtol=tol, atol=tol)


def test_mlp_matches_eager_at_two_batch_sizes():
    ember.manual_seed(0)
    m = MLP()
    s = ember.jit.script(m)
    for n in (1, 5):
        x = ember.randn(n, 6)
        _close(s(x), m(x))


def test_cnn_batchnorm_eval_and_train():
    ember.manual_seed(0)
    m = CNN().eval()
    s = ember.jit.script(m)
    x = ember.randn(2, 3, 8, 8)
    _close(s(x), m(x))
    m.train()
    before = m.bn.running_mean.clone()
    # training-mode BatchNorm updates the (shared) running stats once per call
    m2 = CNN()
    m2.load_state_dict(m.state_dict())
    m.bn.running_mean.copy_(before)
    m2.bn.running_mean.copy_(before)
    out_s = ember.jit.script(m2)(x)
    out_e = m(x)
    _close(out_s, out_e)
    _close(m2.bn.running_mean, m.bn.running_mean)


def test_data_dependent_control_flow_matches_eager():
    ember.manual_seed(0)
    m = Dynamic()
    s = ember.jit.script(m)
    for x, steps in ((ember.randn(3, 4) * 10, 3), (ember.randn(3, 4) * 0.1, 0),
                     (-ember.ones(3, 4), 2)):
        want = m(x.clone(), steps)
        got = s(x.clone(), steps)
        _close(got[0], want[0])
        assert abs(float(got[1]) - want[1]) < 1e-3
    bias = ember.ones(4)
    _close(s(ember.ones(3, 4), 1, bias)[0], m(ember.ones(3, 4), 1, bias)[0])


def test_loop_gradients_match_eager():
    def f(x, w):
        y = x
        while y.abs().sum() < 50:
            y = y * w + 1
        return y.sum()
    s = ember.jit.script(f)
    x = ember.tensor([0.5, 1.0], requires_grad=True)
    w = ember.tensor([1.5, 2.0], requires_grad=True)
    s(x, w).backward()
    gx, gw = x.grad.clone(), w.grad.clone()
    x.grad = w.grad = None
    f(x, w).backward()
    _close(gx, x.grad)
    _close(gw, w.grad)


def test_graph_prints_blocks_and_save_load_round_trip():
    def f(x, n: int):
        for i in range(n):
            x = x * 2 if i % 2 == 0 else x + 1
        return x
    s = ember.jit.script(f, example_inputs=(ember.ones(2), 3))
    text = str(s.graph)
    assert "prim::Loop" in text and "block0(" in text
    buf = io.BytesIO()
    s.save(buf)
    loaded = ember.jit.load(io.BytesIO(buf.getvalue()))
    x = ember.tensor([1.0, 2.0])
    for n in (0, 3, 4):
        _close(loaded(x, ember.tensor(n)), f(x, n))
    assert "prim::Loop" in str(loaded.graph)


def test_module_save_load_round_trip():
    ember.manual_seed(0)
    m = Dynamic()
    s = ember.jit.script(m)
    x = ember.randn(3, 4) * 10
    want = s(x, 2)
    buf = io.BytesIO()
    s.save(buf)
    loaded = ember.jit.load(io.BytesIO(buf.getvalue()))
    got = loaded(x, ember.tensor(2))
    _close(got[0], want[0])


def test_annotations_are_checked():
    def f(x, n: int):
        return x + n
    s = ember.jit.script(f)
    with pytest.raises(RuntimeError, match="Expected a value of type 'int' for argument 'n'"):
        s(ember.ones(2), 1.5)
    with pytest.raises(RuntimeError, match="Tensor"):
        s(3, 1)


def _unsupported_lambda(x):
    g = lambda y: y + 1  # noqa: E731
    return g(x)


def _unsupported_break(x):
    while x.sum() > 0:
        x = x - 1
        break
    return x


def _unsupported_branch_types(x):
    if x.sum() > 0:
        y = x
    else:
        y = 1.0
    return y


def test_unsupported_constructs_quote_the_line():
    with pytest.raises(ember.jit.NotSupportedError, match=r"(?s)lambda.*g = lambda y: y \+ 1"):
        ember.jit.script(_unsupported_lambda)
    with pytest.raises(ember.jit.NotSupportedError, match=r"(?s)'break'.*    break\n.*while"):
        ember.jit.script(_unsupported_break)
    s = ember.jit.script(_unsupported_branch_types)
    with pytest.raises(ember.jit.NotSupportedError,
                       match=r"(?s)different types.*if x.sum\(\) > 0:.*same type"):
        s(ember.ones(2))


def test_ignore_and_unused():
    class M(nn.Module):
        @ember.jit.ignore
        def helper(self, x):
            return x * 3

        @ember.jit.unused
        def never(self, x):
            raise RuntimeError("not compiled")

        def forward(self, x):
            if self.training:
                return self.never(x)
            return self.helper(x)
    m = M().eval()
    s = ember.jit.script(m)
    _close(s(ember.ones(2)), ember.ones(2) * 3)
    s.train()
    with pytest.raises(ember.jit.NotSupportedError, match="unused"):
        s(ember.ones(2))


def test_graph_before_first_call_explains():
    s = ember.jit.script(MLP())
    with pytest.raises(RuntimeError, match="example_inputs"):
        _ = s.graph


def test_version_1_files_still_load():
    import json
    import zipfile
    net = nn.Linear(3, 2).eval()
    buf = io.BytesIO()
    ember.jit.trace(net, ember.ones(1, 3)).save(buf)
    old = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, zipfile.ZipFile(old, "w") as dst:
        ir = json.loads(src.read("ir.json"))
        ir["format_version"] = 1
        dst.writestr("ir.json", json.dumps(ir))
        dst.writestr("weights.safetensors", src.read("weights.safetensors"))
    loaded = ember.jit.load(io.BytesIO(old.getvalue()))
    x = ember.randn(4, 3)
    _close(loaded(x), net(x))
