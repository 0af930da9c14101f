"""Anomaly mode: detect_anomaly / set_detect_anomaly and the engine's NaN check."""
import warnings

import numpy as np
import pytest
import torch

import ember
from ember.autograd import anomaly_mode
from ember.autograd.grad_mode import Anomaly


@pytest.fixture(autouse=True)
def _restore_flags():
    saved = (Anomaly.enabled, Anomaly.check_nan)
    yield
    Anomaly.enabled, Anomaly.check_nan = saved


def nan_in_div_backward(lib):
    """z = x / 0, then z * 0: DivBackward0 computes 0 / 0 for x's gradient."""
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    z = x / lib.zeros(2)  # forward op of the failing node
    return x, (z * 0).sum()


def test_nan_error_names_the_node_like_torch():
    messages = []
    for lib in (torch, ember):
        with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
            ctx = lib.autograd.detect_anomaly()
        with ctx, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, loss = nan_in_div_backward(lib)
            with pytest.raises(RuntimeError) as info:
                loss.backward()
        messages.append(str(info.value))
    head = "Function 'DivBackward0' returned nan values in its 0th output."
    assert messages[0].startswith(head)
    assert messages[1].startswith(head)


def test_nan_error_shows_the_user_forward_line():
    with pytest.warns(UserWarning), ember.autograd.detect_anomaly():
        _, loss = nan_in_div_backward(ember)
        with pytest.raises(RuntimeError) as info:
            loss.backward()
    msg = str(info.value)
    assert "z = x / lib.zeros(2)  # forward op of the failing node" in msg
    assert "nan_in_div_backward" in msg
    assert "test_anomaly.py" in msg


def test_no_error_outside_anomaly_mode_or_without_check_nan():
    x, loss = nan_in_div_backward(ember)
    loss.backward()
    assert np.isnan(x.grad.numpy()).all()
    with pytest.warns(UserWarning), ember.autograd.detect_anomaly(check_nan=False):
        assert anomaly_mode.is_anomaly_enabled()
        assert not anomaly_mode.is_anomaly_check_nan_enabled()
        x, loss = nan_in_div_backward(ember)
        loss.backward()
    assert not anomaly_mode.is_anomaly_enabled()
    assert anomaly_mode.is_anomaly_check_nan_enabled()


def test_traceback_recorded_only_in_anomaly_mode():
    x = ember.ones(2, requires_grad=True)
    assert "traceback_" not in (x * 2).grad_fn.metadata
    with ember.autograd.set_detect_anomaly(True):
        y = x * 2
    frames = y.grad_fn.metadata["traceback_"]
    assert frames[-1].line == "y = x * 2"


def test_detect_anomaly_restores_flags_after_error():
    with pytest.raises(ValueError), pytest.warns(UserWarning), ember.autograd.detect_anomaly():
        assert Anomaly.enabled
        raise ValueError("boom")
    assert not Anomaly.enabled


def test_detect_anomaly_as_decorator():
    with pytest.warns(UserWarning):
        deco = ember.autograd.detect_anomaly()

    @deco
    def inside():
        return Anomaly.enabled, Anomaly.check_nan

    assert not Anomaly.enabled
    assert inside() == (True, True)
    assert inside() == (True, True)
    assert not Anomaly.enabled


def test_set_detect_anomaly_matches_torch():
    def states(lib, enabled, check_nan):
        out = []
        lib.autograd.set_detect_anomaly(True)
        out.append(enabled())
        with lib.autograd.set_detect_anomaly(False):
            out.append(enabled())
        out.append(enabled())
        with lib.autograd.set_detect_anomaly(True, check_nan=False):
            out.append((enabled(), check_nan()))
        out.append((enabled(), check_nan()))
        lib.autograd.set_detect_anomaly(False)
        out.append(enabled())
        return out
    theirs = states(torch, torch.is_anomaly_enabled, torch.is_anomaly_check_nan_enabled)
    ours = states(ember, ember.autograd.is_anomaly_enabled,
                  ember.autograd.is_anomaly_check_nan_enabled)
    assert ours == theirs == [True, False, True, (True, False), (True, True), False]


def test_clean_backward_passes_in_anomaly_mode():
    with ember.autograd.set_detect_anomaly(True):
        x = ember.tensor([1.0, 2.0], requires_grad=True)
        (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]
