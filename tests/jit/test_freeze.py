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
