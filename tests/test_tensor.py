"""Tensor basics that have no op behind them, against torch."""
import numpy as np
import pytest
import torch

import ember


@pytest.mark.parametrize("lib", [torch, ember], ids=["torch", "ember"])
def test_numpy_of_a_tensor_that_requires_grad_only_with_grad_mode_off(lib):
    w = lib.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="requires grad"):
        w.numpy()
    for mode in (lib.no_grad, lib.inference_mode):
        with mode():
            view = w.numpy()
        view[0] = 5.0
        assert w.detach()[0].item() == 5.0
    np.testing.assert_array_equal(w.numpy(force=True), [5.0, 1.0])
