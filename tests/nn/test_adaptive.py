"""AdaptiveLogSoftmaxWithLoss against torch: (output, loss), log_prob, predict, gradients,
state_dict keys, repr and errors."""
import numpy as np
import pytest
import torch

import ember

from .conv_helpers import close, copy_weights, raises_like_torch

RNG = np.random.default_rng(0)
CONFIGS = [  # (in_features, n_classes, cutoffs, div_value, head_bias)
    (16, 20, [5, 10, 15], 4.0, False),
    (8, 10, [4], 2.0, True),
    (12, 30, (3, 20), 1.5, True),
]


def _pair(in_features, n_classes, cutoffs, div_value, head_bias, dtype="float64"):
    em = ember.nn.AdaptiveLogSoftmaxWithLoss(in_features, n_classes, cutoffs, div_value,
                                             head_bias, dtype=getattr(ember, dtype))
    tm = torch.nn.AdaptiveLogSoftmaxWithLoss(in_features, n_classes, cutoffs, div_value,
                                             head_bias, dtype=getattr(torch, dtype))
    assert repr(em) == repr(tm)
    assert list(em.state_dict()) == list(tm.state_dict())
    copy_weights(em, tm)
    return em, tm


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("config", CONFIGS)
def test_forward_and_gradients_match_torch(config, dtype):
    em, tm = _pair(*config, dtype=dtype)
    in_features, n_classes = config[:2]
    x = RNG.standard_normal((9, in_features))
    target = RNG.integers(0, n_classes, 9)
    target[:3] = [0, n_classes - 1, config[2][0]]
    xe = ember.tensor(x, dtype=getattr(ember, dtype), requires_grad=True)
    xt = torch.tensor(x, dtype=getattr(torch, dtype), requires_grad=True)
    oe, ot = em(xe, ember.tensor(target)), tm(xt, torch.tensor(target))
    assert type(oe).__name__ == "_ASMoutput" and oe._fields == ("output", "loss")
    close(oe.output, ot.output, dtype, "output")
    close(oe.loss, ot.loss, dtype, "loss")
    g = RNG.standard_normal(9)
    (oe.loss + (oe.output * ember.tensor(g, dtype=oe.output.dtype)).sum()).backward()
    (ot.loss + (ot.output * torch.tensor(g, dtype=ot.output.dtype)).sum()).backward()
    close(xe.grad, xt.grad, dtype, "input grad")
    grads = dict(tm.named_parameters())
    for name, p in em.named_parameters():
        if grads[name].grad is None:
            assert p.grad is None or not p.grad.numpy().any(), name
        else:
            close(p.grad, grads[name].grad, dtype, f"grad of {name}")


def test_unbatched_input_and_gradcheck():
    em, tm = _pair(*CONFIGS[0])
    x = RNG.standard_normal(16)
    for target in (3, 12, 19):
        oe, ot = em(ember.tensor(x), ember.tensor(target)), tm(torch.tensor(x),
                                                              torch.tensor(target))
        close(oe.output, ot.output, what="output")
        close(oe.loss, ot.loss, what="loss")
    xe = ember.tensor(RNG.standard_normal((4, 16)), requires_grad=True)
    target = ember.tensor([1, 7, 12, 19])
    assert ember.autograd.gradcheck(lambda t: em(t, target).output, (xe,))


@pytest.mark.parametrize("config", CONFIGS)
def test_log_prob_and_predict_match_torch(config):
    em, tm = _pair(*config)
    for scale in (0.1, 1.0, 10.0):
        x = RNG.standard_normal((12, config[0])) * scale
        close(em.log_prob(ember.tensor(x)), tm.log_prob(torch.tensor(x)), what="log_prob")
        pe, pt = em.predict(ember.tensor(x)), tm.predict(torch.tensor(x))
        assert pe.dtype == ember.int64
        np.testing.assert_array_equal(pe.numpy(), pt.numpy())


def test_predict_takes_every_branch():
    em, tm = _pair(4, 6, [2], 2.0, True)
    x = RNG.standard_normal((5, 4))
    for bias in ([9.0, 0.0, 0.0], [0.0, 0.0, 9.0], [0.0, 0.0, 0.0]):
        with torch.no_grad():
            tm.head.bias.copy_(torch.tensor(bias))
        copy_weights(em, tm)
        np.testing.assert_array_equal(em.predict(ember.tensor(x)).numpy(),
                                      tm.predict(torch.tensor(x)).numpy())


@pytest.mark.parametrize("cutoffs", [[], [5, 3], [0, 4], [4, 10], [4, 4], [2.5]])
def test_cutoff_errors_like_torch(cutoffs):
    raises_like_torch(lambda: ember.nn.AdaptiveLogSoftmaxWithLoss(8, 10, cutoffs),
                      lambda: torch.nn.AdaptiveLogSoftmaxWithLoss(8, 10, cutoffs))


@pytest.mark.parametrize("x_shape,target", [((3, 8), [0, 1]), ((3, 2, 8), [0, 1, 2]),
                                            ((3, 8), 1), ((3, 8), [[0, 1, 2]]),
                                            ((3, 8), [0, 10, -1]), ((2, 8), [3, 12])])
def test_forward_errors_like_torch(x_shape, target):
    em, tm = _pair(8, 10, [4], 2.0, False)
    x = RNG.standard_normal(x_shape)
    raises_like_torch(lambda: em(ember.tensor(x), ember.tensor(target)),
                      lambda: tm(torch.tensor(x), torch.tensor(target)))


def test_reset_parameters_and_attributes():
    em, tm = _pair(*CONFIGS[0])
    for name in ("in_features", "n_classes", "cutoffs", "div_value", "head_bias",
                 "shortlist_size", "n_clusters", "head_size"):
        assert getattr(em, name) == getattr(tm, name), name
    before = em.head.weight.clone()
    em.reset_parameters()
    assert not ember.equal(before, em.head.weight)
