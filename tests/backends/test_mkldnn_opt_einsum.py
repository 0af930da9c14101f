"""ember.backends.mkldnn and ember.backends.opt_einsum against torch's."""
import warnings

import numpy as np
import pytest
import torch

import ember


def _mkldnn_state(m):
    return (m.enabled, m.deterministic, m.fp32_precision, m.matmul.fp32_precision,
            m.conv.fp32_precision, m.rnn.fp32_precision)


def test_mkldnn_flags_match_torch():
    ours, theirs = ember.backends.mkldnn, torch.backends.mkldnn
    assert _mkldnn_state(ours) == _mkldnn_state(theirs)
    assert ours.is_available() is False  # ember never runs oneDNN kernels
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns that TF32 needs an Intel GPU
        inside = []
        for m in (ours, theirs):
            with m.flags(enabled=False, deterministic=True, fp32_precision="tf32") as value:
                assert value is None
                inside.append(_mkldnn_state(m))
            assert _mkldnn_state(m) == _mkldnn_state(theirs)
        assert inside[0] == inside[1] == (False, True, "tf32", "tf32", "tf32", "tf32")
    for m in (ours, theirs):
        with pytest.raises(RuntimeError, match="Unknown precision: fast"):
            m.fp32_precision = "fast"
        with pytest.raises(RuntimeError, match="Unknown precision: fast"):
            m.matmul.fp32_precision = "fast"
    ours.deterministic = True
    assert ours.deterministic
    ours.deterministic = False


def _einsum(lib, equation, arrays):
    return lib.einsum(equation, *[lib.tensor(a) for a in arrays])


@pytest.mark.parametrize("settings", [{}, {"strategy": "greedy"}, {"strategy": "optimal"},
                                      {"enabled": False}])
def test_opt_einsum_settings_keep_results(settings):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in ((20, 30), (30, 25), (25, 40), (40, 5))]
    expected = _einsum(torch, "ab,bc,cd,de->ae", arrays).numpy()
    with ember.backends.opt_einsum.flags(**settings):
        for key, value in settings.items():
            assert getattr(ember.backends.opt_einsum, key) == value
        out = _einsum(ember, "ab,bc,cd,de->ae", arrays)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10)
    assert ember.backends.opt_einsum.enabled is True
    assert ember.backends.opt_einsum.strategy == "auto"


def test_opt_einsum_checks_like_torch():
    oe = ember.backends.opt_einsum
    assert oe.is_available() and oe.enabled and oe.strategy == "auto"
    assert oe.get_opt_einsum() is torch.backends.opt_einsum.get_opt_einsum()
    with pytest.raises(ValueError, match=r"must be one of the following: \[auto, greedy, "
                                         r"optimal\] but is fastest"):
        oe.strategy = "fastest"
    with oe.flags(enabled=False):
        with pytest.raises(ValueError, match="not enabled"):
            oe.strategy = "greedy"
        assert oe.strategy == "auto"
    oe.strategy = "optimal"
    assert ember.backends.opt_einsum.strategy == "optimal"
    oe.strategy = "auto"
