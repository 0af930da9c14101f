"""torch.autograd.Variable, the legacy wrapper old code still imports, against torch."""
import numpy as np
import pytest
import torch

import ember


@pytest.mark.parametrize("lib", [torch, ember], ids=["torch", "ember"])
def test_variable_is_a_detached_alias(lib):
    from importlib import import_module
    Variable = import_module(f"{lib.__name__}.autograd").Variable
    a = lib.ones(2)
    v = Variable(a, requires_grad=True)
    assert v is not a and v.data_ptr() == a.data_ptr()
    assert v.requires_grad and v.is_leaf and not a.requires_grad
    made = Variable(lib.ones(2, requires_grad=True) * 2)
    assert not made.requires_grad and made.grad_fn is None
    (v * 3).sum().backward()
    np.testing.assert_array_equal(v.grad.numpy(), [3.0, 3.0])
    assert isinstance(a, Variable) and tuple(Variable().shape) == (0,)
    with pytest.warns(UserWarning, match="volatile"):
        Variable(a, volatile=True)
    with pytest.raises(TypeError, match="has to be a tensor"):
        Variable(2)
    with pytest.raises(RuntimeError):
        Variable(lib.ones(2, dtype=lib.int64), requires_grad=True)
