"""Convolution modules and functions against torch: values, gradients, errors, init, repr."""
import math

import numpy as np
import pytest
import torch

import ember
from ember import nn

from .conv_helpers import close, compare, compare_module, copy_weights, raises_like_torch

RNG = np.random.default_rng(0)


def rand(*shape):
    return RNG.standard_normal(shape)


CONV_CASES = [
    (1, (4, 6, 3), {}, (2, 4, 11)),
    (1, (4, 6, 3), {"stride": 2, "padding": 2, "dilation": 2, "bias": False}, (2, 4, 13)),
    (1, (4, 4, 5), {"padding": "same", "groups": 4}, (3, 4, 9)),
    (1, (2, 4, 4), {"padding": "same", "padding_mode": "circular"}, (2, 2, 7)),
    (2, (3, 8, 3), {"padding": 1}, (2, 3, 9, 8)),
    (2, (3, 8, (3, 2)), {"stride": (2, 1), "padding": (1, 0), "dilation": (1, 2)}, (2, 3, 9, 8)),
    (2, (4, 6, 3), {"groups": 2, "padding": "valid"}, (2, 4, 7, 7)),
    (2, (4, 8, 3), {"groups": 4, "padding": 1, "stride": 2}, (2, 4, 8, 9)),
    (2, (3, 4, 4), {"padding": "same", "dilation": 2}, (2, 3, 9, 9)),
    (2, (3, 5, 3), {"padding": 2, "padding_mode": "reflect"}, (2, 3, 7, 6)),
    (2, (3, 5, 3), {"padding": (1, 2), "padding_mode": "replicate", "stride": 2}, (2, 3, 7, 6)),
    (2, (3, 5, 3), {"padding": 1, "padding_mode": "circular"}, (2, 3, 6, 6)),
    (2, (3, 5, 3), {"padding": "same", "padding_mode": "reflect", "dilation": 2}, (1, 3, 7, 8)),
    (2, (3, 5, 1), {}, (2, 3, 4, 4)),
    (2, (3, 4, (4, 2)), {"padding": "same"}, (2, 3, 7, 6)),
    (2, (4, 4, (2, 4)), {"padding": "same", "groups": 4, "padding_mode": "reflect"},
     (2, 4, 5, 6)),
    (2, (2, 3, 3), {"padding": 1}, (2, 5, 5)),
    (3, (2, 4, 3), {"padding": 1}, (2, 2, 5, 4, 6)),
    (3, (4, 4, (2, 3, 1)), {"stride": (1, 2, 1), "groups": 2, "dilation": (2, 1, 1)},
     (1, 4, 6, 6, 3)),
    (3, (2, 3, 3), {"padding": 1, "padding_mode": "replicate"}, (1, 2, 4, 4, 4)),
]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("nd,args,kwargs,shape", CONV_CASES)
def test_conv_module_matches_torch(nd, args, kwargs, shape):
    em = getattr(nn, f"Conv{nd}d")(*args, **kwargs, dtype=ember.float64)
    tm = getattr(torch.nn, f"Conv{nd}d")(*args, **kwargs, dtype=torch.float64)
    assert repr(em) == repr(tm)
    assert list(em.state_dict()) == list(tm.state_dict())
    compare_module(em, tm, rand(*shape))


TRANSPOSE_CASES = [
    (1, (4, 3, 3), {}, (2, 4, 6), None),
    (1, (4, 6, 4), {"stride": 3, "padding": 1, "output_padding": 2, "groups": 2}, (2, 4, 5),
     None),
    (1, (2, 4, 3), {"stride": 2}, (2, 5), (12,)),
    (2, (3, 5, 3), {"stride": 2, "padding": 1, "output_padding": 1}, (2, 3, 4, 5), None),
    (2, (4, 6, (2, 3)), {"stride": (2, 1), "dilation": (1, 2), "groups": 2, "bias": False},
     (2, 4, 3, 4), None),
    (2, (4, 4, 3), {"groups": 4, "stride": 2}, (2, 4, 3, 3), None),
    (2, (3, 2, 3), {"padding": 2}, (1, 3, 5, 6), None),
    (2, (3, 2, 3), {"stride": 2, "padding": 1}, (2, 3, 4, 4), (2, 2, 8, 8)),
    (2, (3, 2, 3), {"stride": 3, "dilation": 2, "output_padding": 1}, (1, 3, 3, 2), None),
    (3, (2, 3, 3), {"stride": 2, "padding": 1, "output_padding": (1, 0, 1)}, (1, 2, 3, 2, 3),
     None),
]


@pytest.mark.parametrize("nd,args,kwargs,shape,output_size", TRANSPOSE_CASES)
def test_conv_transpose_module_matches_torch(nd, args, kwargs, shape, output_size):
    em = getattr(nn, f"ConvTranspose{nd}d")(*args, **kwargs, dtype=ember.float64)
    tm = getattr(torch.nn, f"ConvTranspose{nd}d")(*args, **kwargs, dtype=torch.float64)
    assert repr(em) == repr(tm)
    assert list(em.state_dict()) == list(tm.state_dict())
    compare_module(em, tm, rand(*shape),
                   forward_kwargs={"output_size": output_size} if output_size else None)


def test_float32_stays_float32():
    em, tm = nn.Conv2d(3, 4, 3, padding=1), torch.nn.Conv2d(3, 4, 3, padding=1)
    compare_module(em, tm, rand(2, 3, 6, 6), dtype="float32")
    em, tm = nn.ConvTranspose2d(3, 4, 3, stride=2), torch.nn.ConvTranspose2d(3, 4, 3, stride=2)
    compare_module(em, tm, rand(2, 3, 4, 4), dtype="float32")


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "int64"])
def test_other_dtypes(dtype):
    x, w = rand(1, 2, 5, 5) * 3, rand(3, 2, 3, 3) * 3
    if dtype == "int64":
        x, w = np.round(x), np.round(w)
    xe, we = (ember.tensor(a, dtype=getattr(ember, dtype)) for a in (x, w))
    xt, wt = (torch.tensor(a, dtype=getattr(torch, dtype)) for a in (x, w))
    ye = ember.conv2d(xe, we, padding=1)
    yt = torch.conv2d(xt, wt, padding=1)
    assert str(ye.dtype) == str(yt.dtype)
    tol = 0 if dtype == "int64" else 0.1
    np.testing.assert_allclose(ye.float().numpy(), yt.float().numpy(), atol=tol, rtol=0.02)


def test_functional_and_torch_namespace():
    x, w, b = rand(2, 3, 7), rand(5, 3, 2), rand(5)
    compare(lambda x, w, b: ember.conv1d(x, w, b, 2, 1),
            lambda x, w, b: torch.conv1d(x, w, b, 2, 1), x, w, b)
    compare(lambda x, w, b: ember.nn.functional.conv1d(x, w, b, stride=[2], padding=[1]),
            lambda x, w, b: torch.nn.functional.conv1d(x, w, b, stride=[2], padding=[1]),
            x, w, b)
    x, w = rand(2, 4, 5, 5), rand(4, 3, 3, 3)
    compare(lambda x, w: ember.convolution(x, w, None, [2, 2], [1, 1], [1, 1], True, [1, 1], 2),
            lambda x, w: torch.convolution(x, w, None, [2, 2], [1, 1], [1, 1], True, [1, 1], 2),
            x, w)
    x, w = rand(2, 6, 5, 5), rand(4, 3, 3, 3)
    compare(lambda x, w: ember.convolution(x, w, None, [1, 2], [0, 1], [2, 1], False, [0, 0], 2),
            lambda x, w: torch.convolution(x, w, None, [1, 2], [0, 1], [2, 1], False, [0, 0], 2),
            x, w)


def test_empty_batch():
    ye = ember.conv2d(ember.zeros(0, 3, 5, 5), ember.zeros(4, 3, 3, 3), padding=1)
    assert tuple(ye.shape) == (0, 4, 5, 5)
    ye = ember.conv_transpose2d(ember.zeros(0, 3, 5, 5), ember.zeros(3, 4, 3, 3))
    assert tuple(ye.shape) == (0, 4, 7, 7)


def test_double_backward_gradient_penalty():
    """A gradient penalty differentiates through the conv's backward (conv_transpose and
    conv_weight_grad) a second time."""
    x, w = rand(2, 3, 6, 6), rand(4, 3, 3, 3)

    def penalty(lib, x, w):
        y = lib.nn.functional.conv2d(x, w, stride=2, padding=1).tanh()
        (gx,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        return (gx * gx).sum()
    compare(lambda x, w: penalty(ember, x, w), lambda x, w: penalty(torch, x, w), x, w)

    def transposed(lib, x, w):
        y = lib.nn.functional.conv_transpose2d(x, w, stride=2, groups=3).tanh()
        gx, gw = lib.autograd.grad(y.sum(), (x, w), create_graph=True)
        return (gx * gx).sum() + (gw * gw).sum()
    x, w = rand(1, 3, 3, 4), rand(3, 2, 2, 3)
    compare(lambda x, w: transposed(ember, x, w), lambda x, w: transposed(torch, x, w), x, w)


def test_gradgradcheck_conv():
    x = ember.tensor(rand(1, 2, 4, 4), requires_grad=True)
    w = ember.tensor(rand(2, 1, 2, 2), requires_grad=True)
    b = ember.tensor(rand(2), requires_grad=True)
    fn = lambda x, w, b: ember.conv2d(x, w, b, stride=2, padding=1, groups=2)  # noqa: E731
    assert ember.autograd.gradcheck(fn, (x, w, b))
    assert ember.autograd.gradgradcheck(fn, (x, w, b))


# ---- initialization ------------------------------------------------------------------------
@pytest.mark.parametrize("cls,args", [
    ("Conv1d", (8, 16, 3)), ("Conv2d", (6, 12, (3, 5))), ("Conv3d", (4, 6, 2)),
    ("ConvTranspose2d", (6, 9, 3, 1, 0, 0, 3)), ("Conv2d", (8, 16, 3, 1, 0, 1, 4))])
def test_default_init_matches_torch_distribution(cls, args):
    em = getattr(nn, cls)(*args)
    tm = getattr(torch.nn, cls)(*args)
    assert tuple(em.weight.shape) == tuple(tm.weight.shape)
    fan_in = tm.weight.shape[1] * math.prod(tm.weight.shape[2:])
    bound_w = math.sqrt(3) * math.sqrt(2 / (1 + 5)) / math.sqrt(fan_in)
    bound_b = 1 / math.sqrt(fan_in)
    w, b = em.weight.detach().numpy(), em.bias.detach().numpy()
    assert np.abs(w).max() <= bound_w and np.abs(w).max() > 0.8 * bound_w
    assert np.abs(b).max() <= bound_b
    assert abs(w.std() - bound_w / math.sqrt(3)) < 0.15 * bound_w
    assert em.weight.requires_grad and em.weight.dtype is ember.float32


def test_bias_false_and_reset_parameters():
    em = nn.Conv2d(2, 3, 3, bias=False)
    assert em.bias is None and list(em.state_dict()) == ["weight"]
    before = em.weight.detach().numpy().copy()
    em.reset_parameters()
    assert not np.allclose(before, em.weight.detach().numpy())


# ---- lazy modules ----------------------------------------------------------------------------
@pytest.mark.parametrize("cls,target,shape", [
    ("LazyConv1d", "Conv1d", (2, 5, 9)), ("LazyConv2d", "Conv2d", (5, 9, 9)),
    ("LazyConv3d", "Conv3d", (1, 5, 4, 4, 4)), ("LazyConvTranspose1d", "ConvTranspose1d", (5, 4)),
    ("LazyConvTranspose2d", "ConvTranspose2d", (2, 5, 4, 4)),
    ("LazyConvTranspose3d", "ConvTranspose3d", (1, 5, 2, 2, 2))])
def test_lazy_modules(cls, target, shape):
    em = getattr(nn, cls)(6, 3)
    tm = getattr(torch.nn, cls)(6, 3)
    assert repr(em) == repr(tm)
    assert em.has_uninitialized_params()
    ye = em(ember.ones(*shape))
    yt = tm(torch.ones(*shape))
    assert type(em) is getattr(nn, target)
    assert repr(em) == repr(tm)
    assert tuple(ye.shape) == tuple(yt.shape)
    assert tuple(em.weight.shape) == tuple(tm.weight.shape)
    assert em.bias.shape == (6,)


def test_lazy_load_state_dict_materializes():
    tm = torch.nn.Conv2d(4, 6, 3, groups=2)
    em = nn.LazyConv2d(6, 3, groups=2)
    copy_weights(em, tm)
    x = rand(2, 4, 5, 5).astype(np.float32)
    close(em(ember.tensor(x)), tm(torch.tensor(x)), "float32")


def test_lazy_groups_must_divide_in_channels():
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.LazyConv2d(4, 3, groups=2)(ember.ones(1, 3, 5, 5))


# ---- errors ----------------------------------------------------------------------------------
F_ERRORS = [
    ("rank", lambda t: t.nn.functional.conv2d(t.ones(3, 5), t.ones(4, 3, 3, 3))),
    ("rank5", lambda t: t.nn.functional.conv2d(t.ones(1, 2, 3, 5, 5), t.ones(4, 3, 3, 3))),
    ("rank1d", lambda t: t.nn.functional.conv1d(t.ones(3, 5, 5, 5), t.ones(4, 3, 3))),
    ("rank3d", lambda t: t.nn.functional.conv3d(t.ones(3, 5), t.ones(4, 3, 3, 3, 3))),
    ("channels", lambda t: t.nn.functional.conv2d(t.ones(2, 3, 5, 5), t.ones(4, 2, 3, 3))),
    ("groups_channels", lambda t: t.conv2d(t.ones(2, 3, 5, 5), t.ones(4, 3, 3, 3), groups=2)),
    ("unbatched_channels", lambda t: t.conv1d(t.ones(2, 3), t.ones(4, 3, 3))),
    ("kernel_too_big", lambda t: t.conv2d(t.ones(2, 3, 5, 5), t.ones(4, 3, 7, 7))),
    ("kernel_too_big_dilated", lambda t: t.conv2d(t.ones(1, 1, 5, 5), t.ones(1, 1, 3, 3),
                                                  dilation=3)),
    ("padding_string", lambda t: t.conv2d(t.ones(2, 3, 5, 5), t.ones(4, 3, 3, 3),
                                          padding="foo")),
    ("same_strided", lambda t: t.conv2d(t.ones(2, 3, 5, 5), t.ones(4, 3, 3, 3), padding="same",
                                        stride=2)),
    ("bias_shape", lambda t: t.conv2d(t.ones(2, 3, 5, 5), t.ones(4, 3, 3, 3), t.ones(3))),
    ("bias_dtype", lambda t: t.conv2d(t.ones(2, 3, 5, 5), t.ones(4, 3, 3, 3),
                                      t.ones(4, dtype=t.float64))),
    ("weight_dtype", lambda t: t.conv2d(t.ones(2, 3, 5, 5), t.ones(4, 3, 3, 3,
                                                                   dtype=t.float64))),
    ("stride_zero", lambda t: t.conv2d(t.ones(2, 3, 5, 5), t.ones(4, 3, 3, 3), stride=0)),
    ("negative_padding", lambda t: t.conv2d(t.ones(2, 3, 5, 5), t.ones(4, 3, 3, 3),
                                            padding=-1)),
    ("stride_length", lambda t: t.conv2d(t.ones(2, 3, 5, 5), t.ones(4, 3, 3, 3),
                                         stride=(1, 1, 1))),
    ("padding_length", lambda t: t.conv2d(t.ones(2, 3, 5, 5), t.ones(4, 3, 3, 3),
                                          padding=(1, 2, 3))),
    ("dilation_zero", lambda t: t.conv2d(t.ones(2, 3, 5, 5), t.ones(4, 3, 3, 3), dilation=0)),
    ("groups_zero", lambda t: t.conv2d(t.ones(2, 3, 5, 5), t.ones(4, 3, 3, 3), groups=0)),
    ("weight_empty", lambda t: t.conv2d(t.ones(2, 3, 5, 5), t.ones(0, 3, 3, 3))),
    ("t_output_padding", lambda t: t.nn.functional.conv_transpose2d(
        t.ones(2, 3, 5, 5), t.ones(3, 4, 3, 3), output_padding=2)),
    ("t_output_padding_1d", lambda t: t.nn.functional.conv_transpose1d(
        t.ones(2, 3, 5), t.ones(3, 4, 3), output_padding=2)),
    ("t_output_padding_3d", lambda t: t.nn.functional.conv_transpose3d(
        t.ones(2, 3, 2, 2, 2), t.ones(3, 4, 3, 3, 3), output_padding=2)),
    ("t_channels", lambda t: t.nn.functional.conv_transpose2d(t.ones(2, 3, 5, 5),
                                                              t.ones(4, 4, 3, 3))),
    ("t_rank", lambda t: t.nn.functional.conv_transpose2d(t.ones(3, 5), t.ones(3, 4, 3, 3))),
    ("t_padding_string", lambda t: t.nn.functional.conv_transpose2d(
        t.ones(2, 3, 5, 5), t.ones(3, 4, 3, 3), padding="same")),
]


@pytest.mark.parametrize("name,fn", F_ERRORS, ids=[e[0] for e in F_ERRORS])
def test_functional_errors_match_torch(name, fn):
    relaxed = {"weight_dtype": r"Input type \(torch.FloatTensor\) and weight type "
                               r"\(torch.DoubleTensor\) should be the same"}
    raises_like_torch(lambda: fn(ember), lambda: fn(torch), relaxed.get(name))


def test_output_too_small():
    with pytest.raises(RuntimeError, match="Output size is too small"):
        ember.conv_transpose2d(ember.ones(1, 3, 2, 2), ember.ones(3, 4, 3, 3), padding=3)


MODULE_ERRORS = [
    ("groups", lambda t: t.nn.Conv2d(4, 4, 3, groups=0)),
    ("in_groups", lambda t: t.nn.Conv2d(3, 4, 3, groups=2)),
    ("out_groups", lambda t: t.nn.Conv2d(4, 3, 3, groups=2)),
    ("padding_string", lambda t: t.nn.Conv2d(4, 3, 3, padding="full")),
    ("same_strided", lambda t: t.nn.Conv1d(4, 3, 3, padding="same", stride=2)),
    ("padding_mode", lambda t: t.nn.Conv2d(4, 3, 3, padding_mode="mirror")),
    ("transpose_mode", lambda t: t.nn.ConvTranspose2d(4, 3, 3, padding_mode="reflect")),
    ("output_size", lambda t: t.nn.ConvTranspose2d(2, 3, 3, stride=2)(
        t.ones(1, 2, 4, 4), output_size=(5, 5))),
    ("output_size_len", lambda t: t.nn.ConvTranspose2d(2, 3, 3, stride=2)(
        t.ones(1, 2, 4, 4), output_size=(5, 5, 5))),
    ("lazy_rank", lambda t: t.nn.LazyConv2d(4, 3)(t.ones(5, 5))),
]


@pytest.mark.parametrize("name,fn", MODULE_ERRORS, ids=[e[0] for e in MODULE_ERRORS])
def test_module_errors_match_torch(name, fn):
    relaxed = {"padding_string": "Invalid padding string 'full', should be one of",
               "padding_mode": "padding_mode must be one of"}
    raises_like_torch(lambda: fn(ember), lambda: fn(torch), relaxed.get(name))


def test_reprs():
    cases = [((3, 16, 3), {}), ((3, 16, (3, 5)), {"stride": 2, "padding": 1, "bias": False}),
             ((4, 8, 3), {"padding": "same", "dilation": 2, "groups": 2,
                          "padding_mode": "reflect"}),
             ((4, 8, 3), {"padding": "valid"})]
    for args, kwargs in cases:
        for nd in (1, 2, 3):
            assert repr(getattr(nn, f"Conv{nd}d")(*args, **kwargs)) == \
                repr(getattr(torch.nn, f"Conv{nd}d")(*args, **kwargs))
    for kwargs in ({}, {"stride": 2, "output_padding": 1, "dilation": 2, "groups": 2}):
        for nd in (1, 2, 3):
            assert repr(getattr(nn, f"ConvTranspose{nd}d")(4, 6, 3, **kwargs)) == \
                repr(getattr(torch.nn, f"ConvTranspose{nd}d")(4, 6, 3, **kwargs))
    m = nn.Conv2d(3, 4, 3, padding="same")
    assert m._reversed_padding_repeated_twice == \
        torch.nn.Conv2d(3, 4, 3, padding="same")._reversed_padding_repeated_twice


def test_sequential_cnn_trains_like_torch():
    """A small CNN, same weights and SGD steps: losses stay equal to torch's."""
    def build(lib):
        return lib.nn.Sequential(
            lib.nn.Conv2d(3, 4, 3, padding=1), lib.nn.MaxPool2d(2),
            lib.nn.Conv2d(4, 6, 3, padding=1, bias=False), lib.nn.AvgPool2d(2),
            lib.nn.Flatten(), lib.nn.Linear(6 * 2 * 2, 3))
    tm = build(torch).double()
    em = build(ember).double()
    copy_weights(em, tm)
    x, y = rand(4, 3, 8, 8), rand(4, 3)
    opt_e = ember.optim.SGD(em.parameters(), lr=0.1, momentum=0.9)
    opt_t = torch.optim.SGD(tm.parameters(), lr=0.1, momentum=0.9)
    for _ in range(3):
        losses = []
        for lib, m, opt in ((ember, em, opt_e), (torch, tm, opt_t)):
            out = m(lib.tensor(x))
            loss = ((out - lib.tensor(y)) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert abs(losses[0] - losses[1]) < 1e-9


def test_batch_64_float32_matches_torch():
    """The benchmark-sized layer: large GEMMs and scratch buffers, reused across calls."""
    em, tm = nn.Conv2d(16, 32, 3, padding=1), torch.nn.Conv2d(16, 32, 3, padding=1)
    for _ in range(2):
        em.zero_grad()
        tm.zero_grad()
        compare_module(em, tm, rand(64, 16, 16, 16).astype(np.float32), dtype="float32",
                       tol=(2e-3, 1e-4))


@pytest.mark.parametrize("groups", [1, 2])
def test_input_gradient_in_image_chunks_matches_torch(groups, monkeypatch):
    """The stride-1 input gradient sums its GEMM columns a few images at a time: chunks of
    two over a batch of five (a short last chunk), with groups, against torch."""
    from ember._backend import conv_kernels
    # an image's columns: (4 input channels x 9 taps) rows, 6 rows of a 10-wide padded pitch
    monkeypatch.setattr(conv_kernels, "_COLS_CHUNK_BYTES", 2 * (4 * 9) * (6 * 10) * 8)
    calls = []
    gemm = np.matmul
    monkeypatch.setattr(conv_kernels.np, "matmul",
                        lambda *a, **k: calls.append(a[1].shape) or gemm(*a, **k))
    em = nn.Conv2d(4, 6, 3, padding=1, groups=groups, dtype=ember.float64)
    tm = torch.nn.Conv2d(4, 6, 3, padding=1, groups=groups, dtype=torch.float64)
    compare_module(em, tm, rand(5, 4, 6, 8))
    widths = [shape[-1] for shape in calls]
    assert any(widths[i:i + 3] == [2 * 60, 2 * 60, 60] for i in range(len(widths)))
