"""ember.jit.freeze."""
import numpy as np
import pytest

import ember
from ember import jit

from .models import MLP, Stats


def test_freeze_folds_parameters_into_constants():
    m = MLP().eval()
    s = jit.trace(m, ember.randn(2, 8))
    f = jit.freeze(s)
    assert not list(f.parameters())
    assert "transpose" not in [n.op for n in f.graph.nodes]
    assert all(k == "constant" for k in f.graph.constant_kind.values())
    x = ember.randn(5, 8)
    with ember.no_grad():
        assert np.allclose(f(x).numpy(), m(x).numpy(), atol=1e-6)


def test_frozen_module_uses_the_fast_path_in_grad_mode():
    m = MLP().eval()
    f = jit.freeze(jit.trace(m, ember.randn(2, 8)))
    out = f(ember.randn(3, 8))
    assert not out.requires_grad


def test_freeze_snapshots_weights():
    m = MLP().eval()
    f = jit.freeze(jit.trace(m, ember.randn(2, 8)))
    x = ember.randn(2, 8)
    before = f(x)
    with ember.no_grad():
        m.fc1.weight.mul_(2)
    assert bool((f(x) == before).all())


def test_freeze_requires_eval_and_a_script_module():
    s = jit.trace(MLP(), ember.randn(2, 8))
    with pytest.raises(RuntimeError, match="eval mode"):
        jit.freeze(s)
    with pytest.raises(RuntimeError, match="ScriptModule"):
        jit.freeze(MLP().eval())


def test_preserved_and_mutated_state_stays():
    m = MLP().eval()
    f = jit.freeze(jit.trace(m, ember.randn(2, 8)), preserved_attrs=["fc3"])
    assert sorted(n for n, _ in f.named_parameters()) == ["fc3.bias", "fc3.weight"]
    s = jit.trace(Stats().eval(), ember.ones(2, 3), check_trace=False)
    frozen = jit.freeze(s)
    assert sorted(n for n, _ in frozen.named_buffers()) == ["count", "running"]
    with ember.no_grad():
        frozen(ember.ones(2, 3))
    assert int(frozen.count) == 2


def _cnn():
    nn = ember.nn
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(),
                         nn.Linear(18, 3)).eval()


def test_freezing_a_scripted_module_before_any_call():
    """torch's one-liner, jit.freeze(jit.script(model.eval())): ember builds scripted graphs
    per call signature, so the frozen module freezes each on its first call, with the weights
    as they were when it was frozen."""
    m = _cnn()
    x = ember.randn(2, 1, 5, 5)
    with ember.no_grad():
        expected = m(x).numpy()
    frozen = jit.freeze(jit.script(m))
    assert not list(frozen.parameters())
    with ember.no_grad():
        m[4].weight.mul_(0)  # after freezing: the frozen module keeps the weights it had
    out = frozen(x)
    assert not out.requires_grad
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)
    assert frozen(ember.randn(4, 1, 5, 5)).shape == (4, 3)
    assert frozen(ember.randn(1, 1, 5, 5)).shape == (1, 3)
    assert [n.op for n in frozen.graph.nodes if n.op != "view"] == [
        "convolution", "relu", "matmul", "add"]  # batch norm folded into the convolution


def test_freezing_a_called_scripted_module_keeps_its_graphs():
    m = _cnn()
    scripted = jit.script(m)
    x = ember.randn(2, 1, 5, 5)
    scripted(x)
    frozen = jit.freeze(scripted)
    assert "batch_norm" not in [n.op for n in frozen.graph.nodes]  # no call needed
    with ember.no_grad():
        np.testing.assert_allclose(frozen(x).numpy(), m(x).numpy(), rtol=1e-5, atol=1e-6)
