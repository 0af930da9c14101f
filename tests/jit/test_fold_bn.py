"""BatchNorm folding into the convolution or linear layer before it (frozen graphs)."""
import numpy as np
import pytest

import ember
from ember import jit, nn
from ember.jit.passes import eliminate_dead_code, fold_batch_norm
from ember.nn import functional as F


def _randomize_bn(bn):
    """Non-trivial running statistics and affine parameters."""
    with ember.no_grad():
        c = bn.num_features
        bn.running_mean.copy_(ember.randn(c) * 0.5)
        bn.running_var.copy_(ember.rand(c) + 0.5)
        if bn.weight is not None:
            bn.weight.copy_(ember.randn(c))
            bn.bias.copy_(ember.randn(c))
    return bn


def _frozen_graph(model, x):
    """The module's graph with parameters frozen and constants folded, BN not folded yet."""
    return jit.freeze(jit.trace(model.eval(), x), optimize_numerics=False).graph.copy()


def _ops(graph):
    return [n.op for n in graph.nodes]


def _run(graph, x):
    from ember.jit.interpreter import run_graph
    with ember.no_grad():
        return run_graph(graph, [x], {})[0]


def _check_folds(model, x, expected_layer):
    graph = _frozen_graph(model, x)
    assert "batch_norm" in _ops(graph)
    assert fold_batch_norm(graph) == 1
    eliminate_dead_code(graph)
    graph.verify()
    assert "batch_norm" not in _ops(graph) and expected_layer in _ops(graph)
    with ember.no_grad():
        want = model(x).numpy()
    got = _run(graph, x).numpy()
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    return graph


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("bias", [True, False])
def test_conv_bn_folds(dims, bias):
    conv = getattr(nn, f"Conv{dims}d")(3, 5, 3, padding=1, bias=bias)
    bn = _randomize_bn(getattr(nn, f"BatchNorm{dims}d")(5))
    x = ember.randn(2, 3, *(6,) * dims)
    _check_folds(nn.Sequential(conv, bn), x, "convolution")


def test_conv_bn_without_affine_folds():
    model = nn.Sequential(nn.Conv2d(2, 4, 3, stride=2, groups=2),
                          _randomize_bn(nn.BatchNorm2d(4, affine=False)))
    _check_folds(model, ember.randn(1, 2, 7, 7), "convolution")


def test_conv_bn_float64():
    model = nn.Sequential(nn.Conv2d(2, 4, 3), _randomize_bn(nn.BatchNorm2d(4))).double()
    graph = _check_folds(model, ember.randn(2, 2, 5, 5).double(), "convolution")
    assert all(v.type.dtype is ember.float64 for v in graph.constants.values())


@pytest.mark.parametrize("bias", [True, False])
def test_linear_bn_folds(bias):
    model = nn.Sequential(nn.Linear(6, 4, bias=bias), _randomize_bn(nn.BatchNorm1d(4)))
    graph = _check_folds(model, ember.randn(5, 6), "matmul")
    assert _ops(graph) == ["matmul", "add"]


def test_not_folded_when_the_conv_output_has_other_readers():
    class TwoReaders(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.bn = _randomize_bn(nn.BatchNorm2d(4))

        def forward(self, x):
            y = self.conv(x)
            return self.bn(y) + y

    graph = _frozen_graph(TwoReaders(), ember.randn(1, 3, 5, 5))
    assert fold_batch_norm(graph) == 0
    assert "batch_norm" in _ops(graph)


def test_not_folded_when_the_conv_output_is_a_graph_output():
    class Both(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.bn = _randomize_bn(nn.BatchNorm2d(4))

        def forward(self, x):
            y = self.conv(x)
            return y, self.bn(y)

    graph = _frozen_graph(Both(), ember.randn(1, 3, 5, 5))
    assert fold_batch_norm(graph) == 0


def test_not_folded_in_training_mode():
    conv = nn.Conv2d(3, 4, 3).eval()
    weight, bias = ember.rand(4) + 0.5, ember.randn(4)

    def f(x):
        return F.batch_norm(conv(x), None, None, weight, bias, training=True)
    graph = jit.trace(f, ember.randn(2, 3, 5, 5)).graph.copy()
    assert fold_batch_norm(graph) == 0
    assert "batch_norm" in _ops(graph)


def test_not_folded_before_freezing():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), _randomize_bn(nn.BatchNorm2d(4))).eval()
    graph = jit.trace(model, ember.randn(1, 3, 5, 5)).graph.copy()
    assert fold_batch_norm(graph) == 0


def test_not_folded_after_other_ops():
    class ReluFirst(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.bn = _randomize_bn(nn.BatchNorm2d(4))

        def forward(self, x):
            return self.bn(self.conv(x).relu())

    graph = _frozen_graph(ReluFirst(), ember.randn(1, 3, 5, 5))
    assert fold_batch_norm(graph) == 0


def test_linear_on_3d_input_is_not_folded():
    # BatchNorm1d over (N, C, L) normalizes dim 1, which is not the linear layer's output
    model = nn.Sequential(nn.Linear(6, 4), _randomize_bn(nn.BatchNorm1d(3)))
    graph = _frozen_graph(model, ember.randn(2, 3, 6))
    assert fold_batch_norm(graph) == 0


def test_freeze_folds_unless_asked_not_to():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), _randomize_bn(nn.BatchNorm2d(4)), nn.ReLU())
    x = ember.randn(2, 3, 6, 6)
    traced = jit.trace(model.eval(), x)
    assert "batch_norm" not in _ops(jit.freeze(traced).graph)
    assert "batch_norm" in _ops(jit.freeze(traced, optimize_numerics=False).graph)
    with ember.no_grad():
        np.testing.assert_allclose(jit.freeze(traced)(x).numpy(), model(x).numpy(),
                                   rtol=1e-4, atol=1e-5)
