"""grad_fn node names match torch's for common expressions (printed tensors and code that
checks `type(t.grad_fn).__name__` or `t.grad_fn.name()` see the same names)."""
import numpy as np
import pytest
import torch

import ember

_RNG = np.random.default_rng(0)
_VALUES = {shape: _RNG.standard_normal(shape).astype(np.float32)
           for shape in [(4, 5), (3, 5), (3,), (2, 4, 5), (5,), (5, 5), (1, 1, 4, 4),
                         (2, 1, 3, 3), (1, 2, 6), (2, 3, 4, 5)]}


def _t(lib, shape):
    return lib.tensor(_VALUES[shape], requires_grad=True)


def _const(lib, shape):
    return lib.tensor(_VALUES[shape])


EXPRESSIONS = {
    "linear": lambda t, F: F.linear(_t(t, (4, 5)), _t(t, (3, 5)), _t(t, (3,))),
    "linear_no_bias": lambda t, F: F.linear(_t(t, (4, 5)), _t(t, (3, 5))),
    "linear_3d": lambda t, F: F.linear(_t(t, (2, 4, 5)), _t(t, (3, 5)), _t(t, (3,))),
    "module_linear": lambda t, F: t.nn.Linear(5, 3)(_const(t, (4, 5))),
    "mm": lambda t, F: _t(t, (4, 5)) @ _t(t, (5, 5)),
    "mv": lambda t, F: _t(t, (5, 5)) @ _t(t, (5,)),
    "dot": lambda t, F: _t(t, (5,)) @ _t(t, (5,)),
    "batched_matmul": lambda t, F: _t(t, (2, 4, 5)) @ _t(t, (5, 5)),
    "bmm": lambda t, F: t.bmm(_t(t, (2, 4, 5)), _t(t, (2, 4, 5)).transpose(1, 2)),
    "t": lambda t, F: _t(t, (4, 5)).t(),
    "relu": lambda t, F: F.relu(_t(t, (4, 5))),
    "gelu": lambda t, F: F.gelu(_t(t, (4, 5))),
    "silu": lambda t, F: F.silu(_t(t, (4, 5))),
    "leaky_relu": lambda t, F: F.leaky_relu(_t(t, (4, 5))),
    "elu": lambda t, F: F.elu(_t(t, (4, 5))),
    "softplus": lambda t, F: F.softplus(_t(t, (4, 5))),
    "hardtanh": lambda t, F: F.hardtanh(_t(t, (4, 5))),
    "relu6": lambda t, F: F.relu6(_t(t, (4, 5))),
    "softmax": lambda t, F: _t(t, (4, 5)).softmax(-1),
    "log_softmax": lambda t, F: F.log_softmax(_t(t, (4, 5)), -1),
    "sum": lambda t, F: _t(t, (4, 5)).sum(),
    "sum_dim": lambda t, F: _t(t, (4, 5)).sum(1, keepdim=True),
    "mean": lambda t, F: _t(t, (4, 5)).mean(),
    "mean_dim": lambda t, F: _t(t, (4, 5)).mean(1),
    "var": lambda t, F: _t(t, (4, 5)).var(),
    "std": lambda t, F: _t(t, (4, 5)).std(1),
    "norm": lambda t, F: _t(t, (4, 5)).norm(),
    "norm_dim": lambda t, F: _t(t, (4, 5)).norm(dim=1),
    "max": lambda t, F: _t(t, (4, 5)).max(),
    "min": lambda t, F: _t(t, (4, 5)).min(),
    "max_dim": lambda t, F: _t(t, (4, 5)).max(1)[0],
    "mse_loss": lambda t, F: F.mse_loss(_t(t, (4, 5)), _const(t, (4, 5))),
    "mse_loss_none": lambda t, F: F.mse_loss(_t(t, (4, 5)), _const(t, (4, 5)),
                                             reduction="none"),
    "l1_loss": lambda t, F: F.l1_loss(_t(t, (4, 5)), _const(t, (4, 5))),
    "smooth_l1_loss": lambda t, F: F.smooth_l1_loss(_t(t, (4, 5)), _const(t, (4, 5))),
    "huber_loss": lambda t, F: F.huber_loss(_t(t, (4, 5)), _const(t, (4, 5))),
    "cross_entropy": lambda t, F: F.cross_entropy(_t(t, (4, 5)), t.tensor([0, 2, 1, 4])),
    "cross_entropy_2d": lambda t, F: F.cross_entropy(_t(t, (2, 3, 4, 5)),
                                                     t.zeros(2, 4, 5, dtype=t.long)),
    "nll_loss": lambda t, F: F.nll_loss(_t(t, (4, 5)), t.tensor([0, 2, 1, 4])),
    "bce_with_logits": lambda t, F: F.binary_cross_entropy_with_logits(
        _t(t, (4, 5)), _const(t, (4, 5)).sigmoid()),
    "layer_norm": lambda t, F: F.layer_norm(_t(t, (4, 5)), (5,)),
    "module_layer_norm": lambda t, F: t.nn.LayerNorm(5)(_const(t, (4, 5))),
    "batch_norm": lambda t, F: t.nn.BatchNorm1d(5)(_const(t, (4, 5))),
    "group_norm": lambda t, F: F.group_norm(_t(t, (2, 4, 5)), 2),
    "conv2d": lambda t, F: F.conv2d(_t(t, (1, 1, 4, 4)), _t(t, (2, 1, 3, 3))),
    "max_pool2d": lambda t, F: F.max_pool2d(_t(t, (1, 1, 4, 4)), 2),
    "avg_pool2d": lambda t, F: F.avg_pool2d(_t(t, (1, 1, 4, 4)), 2),
    "max_pool1d": lambda t, F: F.max_pool1d(_t(t, (1, 2, 6)), 2),
    "dropout_eval": lambda t, F: F.dropout(_t(t, (4, 5)), 0.5, training=False) * 2,
    "embedding": lambda t, F: F.embedding(t.tensor([0, 2]), _t(t, (5, 5))),
    "int_index": lambda t, F: _t(t, (4, 5))[0],
    "two_ints": lambda t, F: _t(t, (4, 5))[0, 1],
    "slice": lambda t, F: _t(t, (4, 5))[1:3],
    "full_slice": lambda t, F: _t(t, (4, 5))[:],
    "column_slice": lambda t, F: _t(t, (4, 5))[:, 1:3],
    "int_then_slice": lambda t, F: _t(t, (4, 5))[0, 1:3],
    "slice_then_int": lambda t, F: _t(t, (4, 5))[1:3, 0],
    "ellipsis_int": lambda t, F: _t(t, (4, 5))[..., 0],
    "ellipsis": lambda t, F: _t(t, (4, 5))[...],
    "full_slices": lambda t, F: _t(t, (4, 5))[:, :],
    "none": lambda t, F: _t(t, (4, 5))[None],
    "int_none": lambda t, F: _t(t, (4, 5))[0, None],
    "tensor_index": lambda t, F: _t(t, (4, 5))[t.tensor([0, 2])],
    "0d_tensor_index": lambda t, F: _t(t, (4, 5))[t.tensor(1)],
    "list_index": lambda t, F: _t(t, (4, 5))[[0, 1]],
    "mask": lambda t, F: _t(t, (4, 5))[t.tensor([True, False, True, False])],
    "int_and_list": lambda t, F: _t(t, (4, 5))[0, [1, 2]],
    "select": lambda t, F: _t(t, (4, 5)).select(0, 1),
    "narrow": lambda t, F: _t(t, (4, 5)).narrow(1, 1, 2),
    "squeeze": lambda t, F: _t(t, (4, 5))[None].squeeze(),
    "squeeze_dim": lambda t, F: _t(t, (4, 5))[None].squeeze(0),
    "squeeze_dims": lambda t, F: _t(t, (4, 5))[None].squeeze((0,)),
    "view": lambda t, F: _t(t, (4, 5)).view(20),
    "permute": lambda t, F: _t(t, (2, 4, 5)).permute(2, 0, 1),
    "stack": lambda t, F: t.stack([_t(t, (4, 5)), _t(t, (4, 5))]),
    "cat": lambda t, F: t.cat([_t(t, (4, 5)), _t(t, (4, 5))]),
    "rsub": lambda t, F: 1 - _t(t, (4, 5)),
    "clamp": lambda t, F: _t(t, (4, 5)).clamp(0, 1),
    "clamp_tensors": lambda t, F: _t(t, (4, 5)).clamp(_const(t, (4, 5)), _const(t, (4, 5)) + 1),
    "to_double": lambda t, F: _t(t, (4, 5)).double(),
    "sdpa": lambda t, F: F.scaled_dot_product_attention(
        _t(t, (2, 4, 5)), _t(t, (2, 4, 5)), _t(t, (2, 4, 5))),
}


def _names(lib, name):
    out = EXPRESSIONS[name](lib, lib.nn.functional)
    return type(out.grad_fn).__name__, out.grad_fn.name()


@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
def test_grad_fn_name_matches_torch(name):
    assert _names(ember, name) == _names(torch, name)


def test_printed_tensor_shows_torch_node():
    x = ember.ones(2, 3, requires_grad=True)
    assert "grad_fn=<SelectBackward0>" in repr(x[0])
    assert "grad_fn=<SliceBackward0>" in repr(x[:, 1:])


def test_renamed_node_keeps_its_gradient():
    """Only the name changes: linear's node still computes its backward."""
    x = ember.tensor(_VALUES[4, 5], requires_grad=True)
    w = ember.tensor(_VALUES[3, 5], requires_grad=True)
    b = ember.tensor(_VALUES[3,], requires_grad=True)
    ember.nn.functional.linear(x, w, b).sum().backward()
    tx, tw, tb = (torch.tensor(_VALUES[s], requires_grad=True) for s in [(4, 5), (3, 5), (3,)])
    torch.nn.functional.linear(tx, tw, tb).sum().backward()
    for ours, theirs in ((x, tx), (w, tw), (b, tb)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-6)
