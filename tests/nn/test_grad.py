"""ember.nn.grad against torch.nn.grad: values, gradients through them, and errors."""
import pytest
import torch

import ember
from ember.testing.opinfo import Arg

from ._oracle import compare

# (dims, input shape, weight shape, options)
CASES = [
    (1, (2, 3, 7), (4, 3, 3), {}),
    (1, (2, 4, 9), (6, 2, 2), {"stride": 2, "padding": 1, "dilation": 2, "groups": 2}),
    (2, (2, 4, 7, 6), (6, 2, 3, 2), {"stride": 2, "padding": 1, "groups": 2}),
    (2, (1, 2, 8, 5), (3, 2, 3, 3), {"stride": (2, 1), "padding": (0, 2), "dilation": (1, 2)}),
    (2, (1, 3, 6, 6), (3, 1, 2, 2), {"groups": 3}),
    (3, (1, 2, 5, 4, 6), (2, 2, 2, 3, 2), {"stride": 2, "padding": 1}),
]


def _grad_output_shape(nd, x, w, kw):
    y = getattr(torch.nn.functional, f"conv{nd}d")(torch.zeros(x), torch.zeros(w), **kw)
    return tuple(y.shape)


@pytest.mark.parametrize("nd,x,w,kw", CASES)
def test_input_grad_matches_torch(nd, x, w, kw):
    g = _grad_output_shape(nd, x, w, kw)
    compare(lambda lib, weight, grad_output: getattr(lib.nn.grad, f"conv{nd}d_input")(
        x, weight, grad_output, **kw), [Arg(w), Arg(g)])


@pytest.mark.parametrize("nd,x,w,kw", CASES)
def test_weight_grad_matches_torch(nd, x, w, kw):
    g = _grad_output_shape(nd, x, w, kw)
    compare(lambda lib, input, grad_output: getattr(lib.nn.grad, f"conv{nd}d_weight")(
        input, w, grad_output, **kw), [Arg(x), Arg(g)])


def test_agrees_with_autograd_and_gradcheck():
    x = ember.randn(2, 4, 6, 5, dtype=ember.float64, requires_grad=True)
    w = ember.randn(6, 2, 3, 3, dtype=ember.float64, requires_grad=True)
    kw = {"stride": 2, "padding": 1, "groups": 2}
    y = ember.nn.functional.conv2d(x, w, **kw)
    g = ember.randn(*y.shape, dtype=ember.float64, requires_grad=True)
    gx, gw = ember.autograd.grad(y, (x, w), g)
    assert ember.allclose(ember.nn.grad.conv2d_input(x.shape, w, g, **kw), gx)
    assert ember.allclose(ember.nn.grad.conv2d_weight(x, w.shape, g, **kw), gw)
    assert ember.autograd.gradcheck(
        lambda w, g: ember.nn.grad.conv2d_input(x.shape, w, g, **kw), (w, g))
    assert ember.autograd.gradcheck(
        lambda x, g: ember.nn.grad.conv2d_weight(x, w.shape, g, **kw), (x, g))


def test_input_size_picks_among_fitting_sizes():
    w, g = torch.randn(6, 2, 3, 2), torch.randn(2, 6, 4, 4)
    for size in ((2, 4, 7, 6), (2, 4, 8, 6)):
        ours = ember.nn.grad.conv2d_input(size, ember.tensor(w.numpy()), ember.tensor(g.numpy()),
                                          stride=2, padding=1, groups=2)
        theirs = torch.nn.grad.conv2d_input(size, w, g, stride=2, padding=1, groups=2)
        assert ours.shape == theirs.shape
        assert ember.allclose(ours, ember.tensor(theirs.numpy()), atol=1e-5)


@pytest.mark.parametrize("call", [
    lambda lib, x, w, g: lib.nn.grad.conv2d_input((2, 4, 9, 9), w, g, 2, 1, 1, 2),
    lambda lib, x, w, g: lib.nn.grad.conv2d_input((2, 4, 7, 6), w, g, 2, 1, 1, 1),
    lambda lib, x, w, g: lib.nn.grad.conv2d_input((4, 7, 6), w, g[0], 2, 1, 1, 2),
    lambda lib, x, w, g: lib.nn.grad.conv2d_input((2, 4, 7, 6), w.float(), g, 2, 1, 1, 2),
    lambda lib, x, w, g: lib.nn.grad.conv2d_weight(x, (6, 2, 3, 2), g[:, :5], 2, 1, 1, 2),
    lambda lib, x, w, g: lib.nn.grad.conv2d_weight(x, (6, 2, 3, 2), g, 0, 1, 1, 2),
    lambda lib, x, w, g: lib.nn.grad.conv2d_weight(x, (6, 2, 3, 2), g, 2, -1, 1, 2),
], ids=["wrong_grad_size", "wrong_groups", "unbatched", "dtype", "grad_channels",
        "zero_stride", "negative_padding"])
def test_errors_match_torch_type(call):
    def args(lib):
        x = lib.ones(2, 4, 7, 6, dtype=lib.float64)
        return x, lib.ones(6, 2, 3, 2, dtype=lib.float64), lib.ones(2, 6, 4, 4, dtype=lib.float64)

    with pytest.raises(Exception) as theirs:
        call(torch, *args(torch))
    with pytest.raises(theirs.type) as ours:
        call(ember, *args(ember))
    if theirs.type is RuntimeError and "Expected a tensor of dimension" in str(theirs.value):
        assert "Expected a tensor of dimension" in str(ours.value)
