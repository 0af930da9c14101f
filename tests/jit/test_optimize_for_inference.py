"""ember.jit.optimize_for_inference, and fused kernels cached on disk across processes."""
import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import ember
from ember import jit, nn

from .test_memory import CNN


def _randomized(model):
    with ember.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(ember.randn(m.num_features) * 0.3)
                m.running_var.copy_(ember.rand(m.num_features) + 0.5)
    return model.eval()


def test_cnn_is_frozen_folded_and_compiled():
    model = _randomized(CNN())
    x = ember.randn(2, 3, 16, 16)
    fast = jit.optimize_for_inference(jit.trace(model, x))
    assert isinstance(fast, jit.ScriptModule)
    assert not list(fast.parameters())
    assert "batch_norm" not in [n.op for n in fast.graph.nodes]
    method = fast._methods["forward"]
    assert method._compiled is not None
    assert method.compiled()[3].plan.reused > 0
    with ember.no_grad():
        want = model(x).numpy()
    np.testing.assert_allclose(fast(x).numpy(), want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(fast(x).numpy(), want, rtol=1e-4, atol=1e-5)


def test_puts_a_training_module_in_eval_mode_like_torch():
    model = _randomized(CNN()).train()
    x = ember.randn(1, 3, 16, 16)
    traced = jit.trace(model.eval(), x)
    traced.train()
    fast = jit.optimize_for_inference(traced)
    assert not traced.training and not fast.training
    with ember.no_grad():
        np.testing.assert_allclose(fast(x).numpy(), model(x).numpy(), rtol=1e-4, atol=1e-5)


def test_frozen_module_gets_its_batch_norm_folded():
    model = _randomized(CNN())
    x = ember.randn(1, 3, 16, 16)
    frozen = jit.freeze(jit.trace(model, x), optimize_numerics=False)
    assert "batch_norm" in [n.op for n in frozen.graph.nodes]
    fast = jit.optimize_for_inference(frozen)
    assert "batch_norm" not in [n.op for n in fast.graph.nodes]
    with ember.no_grad():
        np.testing.assert_allclose(fast(x).numpy(), model(x).numpy(), rtol=1e-4, atol=1e-5)


def test_other_methods():
    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 3)
            self.bn = nn.BatchNorm1d(3)

        def forward(self, x):
            return self.bn(self.fc(x))

        def logits(self, x):
            return self.fc(x).relu()

    model = TwoHeads().eval()
    x = ember.randn(5, 4)
    traced = jit.trace_module(model, {"forward": x, "logits": x})
    fast = jit.optimize_for_inference(traced, other_methods=["logits"])
    assert fast._methods["logits"]._compiled is not None
    assert [n.op for n in fast.graph.nodes] == ["matmul", "add"]
    with ember.no_grad():
        np.testing.assert_allclose(fast(x).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(fast.logits(x).numpy(), model.logits(x).numpy(),
                                   rtol=1e-5, atol=1e-6)
    with pytest.raises(AttributeError, match="no traced method 'missing'"):
        jit.optimize_for_inference(traced, other_methods=["missing"])


def test_needs_a_script_module():
    with pytest.raises(RuntimeError, match="expects a ScriptModule"):
        jit.optimize_for_inference(CNN().eval())


_CHILD = textwrap.dedent("""
    import json
    import ember
    from ember import jit
    from ember.jit import kernels
    kernels.NUMBA_MIN = 0
    f = jit.trace(lambda x, b: ember.tanh(x * 0.5 + b) * x, (ember.randn(64, 32),
                                                             ember.randn(32)))
    with ember.no_grad():
        f(ember.randn(64, 32), ember.randn(32))
    print(json.dumps(kernels.cache_info()))
""")


@pytest.mark.skipif(importlib.util.find_spec("numba") is None, reason="needs numba")
def test_fused_kernels_are_cached_on_disk_for_the_next_process(tmp_path):
    env = dict(os.environ, EMBER_CACHE_DIR=str(tmp_path), EMBER_JIT_FUSER="numba")
    env.pop("EMBER_JIT_CACHE", None)

    def child():
        done = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True,
                              text=True, timeout=300, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])
    first = child()
    assert first["kernel_files_written"] == 1 and first["numba_cache_misses"] >= 1
    assert first["numba_cache_hits"] == 0
    files = [f for f in os.listdir(tmp_path / "jit") if f.endswith(".py")]
    assert len(files) == 1 and files[0].startswith("ember_jit_fused_")
    second = child()
    assert second["kernel_files_found"] == 1 and second["kernel_files_written"] == 0
    assert second["numba_cache_hits"] >= 1 and second["numba_cache_misses"] == 0


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    from ember.jit import kernels
    monkeypatch.delenv("EMBER_JIT_CACHE", raising=False)
    monkeypatch.setenv("EMBER_CACHE_DIR", str(tmp_path))
    assert kernels.cache_dir() == os.path.join(str(tmp_path), "jit")
    monkeypatch.delenv("EMBER_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert kernels.cache_dir() == os.path.join(os.path.expanduser("~"), ".cache", "ember",
                                               "jit")


def test_equal_groups_share_a_kernel_key():
    from ember.jit import kernels
    from ember.jit.ir import FUSION_GROUP
    if importlib.util.find_spec("numba") is None:
        pytest.skip("needs numba")

    def group(fn, *example):
        graph = jit.trace(fn, example).optimized_graph
        return next(n for n in graph.nodes if n.op == FUSION_GROUP).body
    a = group(lambda x: (x * 2).exp() + 1, ember.randn(4, 4))
    b = group(lambda y: (y * 2).exp() + 1, ember.randn(4, 4))
    c = group(lambda y: (y * 3).exp() + 1, ember.randn(4, 4))
    assert kernels.ir_hash(a) == kernels.ir_hash(b) != kernels.ir_hash(c)


def test_scripted_module_before_any_call():
    """torch's documented use, optimize_for_inference(jit.script(model.eval()))."""
    nn = ember.nn
    m = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.GELU(), nn.Linear(8, 2)).eval()
    fast = jit.optimize_for_inference(jit.script(m))
    x = ember.randn(3, 4)
    with ember.no_grad():
        np.testing.assert_allclose(fast(x).numpy(), m(x).numpy(), rtol=1e-5, atol=1e-6)
    assert "batch_norm" not in [n.op for n in fast.graph.nodes]
