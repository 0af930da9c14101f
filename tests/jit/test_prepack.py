"""Weight prepacking (ember/jit/passes/prepack.py): frozen matmul weights become row-major
where the traced rows are many, stay transposed views where they are few, and values hold."""
import numpy as np
import pytest

import ember
from ember import jit, nn


def _weights(frozen):
    graph = frozen.graph
    out = []
    for node in graph.nodes:
        if node.op == "matmul":
            name = graph.constant_name(node.inputs()[1])
            if name is not None:
                out.append(graph.constant_data[name]._data)
    return out


@pytest.mark.parametrize("batch,packed", [(64, True), (4, False)])
def test_layout_follows_the_traced_rows(batch, packed):
    net = nn.Sequential(nn.Linear(12, 20), nn.ReLU(), nn.Linear(20, 3)).eval()
    x = ember.randn(batch, 12)
    frozen = jit.freeze(jit.trace(net, x))
    weights = _weights(frozen)
    assert len(weights) == 2
    assert all(w.flags.c_contiguous == packed for w in weights)
    with ember.no_grad():
        np.testing.assert_allclose(frozen(x).numpy(), net(x).numpy(), rtol=1e-5, atol=1e-6)


def test_preserved_parameters_are_left_alone():
    net = nn.Linear(6, 5).eval()
    frozen = jit.freeze(jit.trace(net, ember.randn(40, 6)), preserved_attrs=["weight"])
    assert _weights(frozen) == []  # the weight stays a parameter, read live
    with ember.no_grad():
        net.weight.mul_(2)
        x = ember.randn(40, 6)
        np.testing.assert_allclose(frozen(x).numpy(), net(x).numpy(), rtol=1e-5, atol=1e-6)
