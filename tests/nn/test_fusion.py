"""nn.utils fusion (conv/linear + batch norm), skip_init and the conv weight memory formats,
against torch."""
import numpy as np
import pytest
import torch

import ember

from .conv_helpers import close, copy_weights, raises_like_torch

RNG = np.random.default_rng(0)


def _randomized(tm):
    with torch.no_grad():
        for name, t in tm.state_dict().items():
            if t.is_floating_point():
                t.uniform_(0.5, 1.5) if "var" in name else t.uniform_(-1, 1)
    return tm


CONV_CASES = [
    (lambda lib: lib.nn.Conv2d(3, 4, 3), lambda lib: lib.nn.BatchNorm2d(4), (2, 3, 5, 5), False),
    (lambda lib: lib.nn.Conv1d(3, 4, 2, bias=False), lambda lib: lib.nn.BatchNorm1d(4, eps=0.1),
     (2, 3, 6), False),
    (lambda lib: lib.nn.Conv3d(2, 3, 2), lambda lib: lib.nn.BatchNorm3d(3, affine=False),
     (1, 2, 3, 4, 4), False),
    (lambda lib: lib.nn.ConvTranspose2d(3, 4, 2), lambda lib: lib.nn.BatchNorm2d(4),
     (2, 3, 4, 4), True),
]


@pytest.mark.parametrize("conv,bn,shape,transpose", CONV_CASES)
def test_fuse_conv_bn_eval_matches_torch(conv, bn, shape, transpose):
    tc, tb = _randomized(conv(torch).double().eval()), _randomized(bn(torch).double().eval())
    ec, eb = conv(ember).double().eval(), bn(ember).double().eval()
    copy_weights(ec, tc)
    copy_weights(eb, tb)
    fe = ember.nn.utils.fuse_conv_bn_eval(ec, eb, transpose)
    ft = torch.nn.utils.fuse_conv_bn_eval(tc, tb, transpose)
    assert fe is not ec and type(fe) is type(ec)
    assert isinstance(fe.weight, ember.nn.Parameter) and isinstance(fe.bias, ember.nn.Parameter)
    close(fe.weight, ft.weight, what="weight")
    close(fe.bias, ft.bias, what="bias")
    x = RNG.standard_normal(shape)
    close(fe(ember.tensor(x)), ft(torch.tensor(x)), what="output")
    close(fe(ember.tensor(x)), eb(ec(ember.tensor(x))), what="fused vs pair")


def test_fuse_conv_bn_weights_keeps_dtypes_and_requires_grad():
    args = [RNG.standard_normal(s) for s in ((4, 3, 2, 2), (4,), (4,), (4,), (4,), (4,))]
    args[3] = np.abs(args[3]) + 0.5
    dtypes = ("float32", "float64", "float64", "float64", "float64", "float64")

    def run(lib, with_bias):
        ts = [lib.tensor(a, dtype=getattr(lib, d)) for a, d in zip(args, dtypes)]
        ts[0].requires_grad_(True)
        w, b, rm, rv, bw, bb = ts
        return lib.nn.utils.fuse_conv_bn_weights(w, b if with_bias else None, rm, rv, 1e-5,
                                                 bw, bb)
    for with_bias in (True, False):
        (we, be), (wt, bt) = run(ember, with_bias), run(torch, with_bias)
        for e, t in ((we, wt), (be, bt)):
            assert str(e.dtype) == str(t.dtype) and e.requires_grad == t.requires_grad
            close(e, t, str(t.dtype).split(".")[1], tol=(1e-6, 1e-6))


@pytest.mark.parametrize("features,bn_features", [(4, 4), (4, 1)])
def test_fuse_linear_bn_eval_matches_torch(features, bn_features):
    tl = _randomized(torch.nn.Linear(3, features).double().eval())
    tb = _randomized(torch.nn.BatchNorm1d(bn_features).double().eval())
    el = ember.nn.Linear(3, features).double().eval()
    eb = ember.nn.BatchNorm1d(bn_features).double().eval()
    copy_weights(el, tl)
    copy_weights(eb, tb)
    fe, ft = ember.nn.utils.fuse_linear_bn_eval(el, eb), torch.nn.utils.fuse_linear_bn_eval(tl,
                                                                                           tb)
    close(fe.weight, ft.weight, what="weight")
    close(fe.bias, ft.bias, what="bias")
    x = RNG.standard_normal((5, 3))
    close(fe(ember.tensor(x)), ft(torch.tensor(x)), what="output")
    w, b = ember.nn.utils.fuse_linear_bn_weights(el.weight, None, eb.running_mean,
                                                 eb.running_var, eb.eps, eb.weight, eb.bias)
    wt, bt = torch.nn.utils.fuse_linear_bn_weights(tl.weight, None, tb.running_mean,
                                                   tb.running_var, tb.eps, tb.weight, tb.bias)
    close(w, wt, what="weight without bias")
    close(b, bt, what="bias without bias")


def test_fusion_errors_like_torch():
    def cases(lib):
        nn = lib.nn
        return [lambda: nn.utils.fuse_conv_bn_eval(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2).eval()),
                lambda: nn.utils.fuse_conv_bn_eval(nn.Conv2d(1, 2, 1).eval(), nn.BatchNorm2d(2)),
                lambda: nn.utils.fuse_conv_bn_eval(
                    nn.Conv2d(1, 2, 1).eval(), nn.BatchNorm2d(2, track_running_stats=False)
                    .eval()),
                lambda: nn.utils.fuse_linear_bn_eval(nn.Linear(1, 2), nn.BatchNorm1d(2).eval()),
                lambda: nn.utils.fuse_linear_bn_eval(nn.Linear(1, 2).eval(),
                                                     nn.BatchNorm1d(3).eval()),
                lambda: nn.utils.fuse_linear_bn_eval(
                    nn.Linear(1, 2).eval(), nn.BatchNorm1d(2, track_running_stats=False).eval())]
    for fe, ft in zip(cases(ember), cases(torch)):
        raises_like_torch(fe, ft)


def test_skip_init_like_torch():
    m = ember.nn.utils.skip_init(ember.nn.Linear, 3, out_features=2, bias=False)
    t = torch.nn.utils.skip_init(torch.nn.Linear, 3, out_features=2, bias=False)
    assert repr(m) == repr(t)
    assert list(m.state_dict()) == list(t.state_dict())
    assert m.weight.requires_grad and isinstance(m.weight, ember.nn.Parameter)
    conv = ember.nn.utils.skip_init(ember.nn.Conv2d, 2, 3, 3, dtype=ember.float64)
    assert conv.weight.dtype == ember.float64 and tuple(conv.weight.shape) == (3, 2, 3, 3)

    class NoDevice(ember.nn.Module):
        pass

    class NoDeviceT(torch.nn.Module):
        pass
    raises_like_torch(lambda: ember.nn.utils.skip_init(NoDevice),
                      lambda: torch.nn.utils.skip_init(NoDeviceT))
    with pytest.raises(RuntimeError, match="Expected a Module"):
        ember.nn.utils.skip_init(int)


def _convs(lib):
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(3, 4, 2), nn.Sequential(nn.ConvTranspose2d(4, 2, (1, 3))),
                         nn.Conv3d(2, 3, (1, 2, 3)), nn.ConvTranspose3d(3, 2, 2),
                         nn.Conv1d(2, 2, 2), nn.Linear(2, 2))


@pytest.mark.parametrize("which", ["2d", "3d"])
def test_convert_conv_weight_memory_format_like_torch(which):
    em, tm = _convs(ember), _convs(torch)
    copy_weights(em, tm)
    fmt = "channels_last" if which == "2d" else "channels_last_3d"
    convert = f"convert_conv{which}_weight_memory_format"
    before = {n: p for n, p in em.named_parameters()}
    assert getattr(ember.nn.utils, convert)(em, getattr(ember, fmt)) is em
    getattr(torch.nn.utils, convert)(tm, getattr(torch, fmt))
    tp = dict(tm.named_parameters())
    for name, p in em.named_parameters():
        assert p is before[name], name
        assert p.stride() == tp[name].stride(), name
        np.testing.assert_array_equal(p.detach().numpy(), tp[name].detach().numpy())
    getattr(ember.nn.utils, convert)(em, ember.contiguous_format)
    assert all(p.is_contiguous() for p in em.parameters())
    x = RNG.standard_normal((1, 3, 4, 5)).astype(np.float32)
    close(em[0](ember.tensor(x)), tm[0](torch.tensor(x)), "float32")
