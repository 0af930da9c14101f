"""Padding, interpolation, fold/unfold, pixel/channel shuffles, flatten, grid_sample and
affine_grid against torch."""
import warnings

import numpy as np
import pytest
import torch

import ember
from ember import nn

from .conv_helpers import compare, raises_like_torch

RNG = np.random.default_rng(0)
EF, TF = ember.nn.functional, torch.nn.functional


def rand(*shape):
    return RNG.standard_normal(shape)


def modules(name, *args, **kwargs):
    em, tm = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(em) == repr(tm)
    return em, tm


# ---- padding ---------------------------------------------------------------------------------
PAD_CASES = [
    ((2, 3, 5), (1, 2), "constant", 0.5),
    ((2, 3, 4, 5), (1, -1, 0, 2), "constant", None),
    ((2, 3, 4, 5), (2, 1, 1, 3, 1, 0, 0, 1), "constant", -1.0),
    ((2, 3, 5), (2, 4), "reflect", None),
    ((3, 5), (-1, 3), "reflect", None),
    ((2, 3, 4, 5), (1, 2, 3, 1), "reflect", None),
    ((1, 2, 3, 4, 5), (1, 2, 2, 1, 1, 1), "reflect", None),
    ((2, 3, 5), (4, 1), "replicate", None),
    ((2, 3, 4, 5), (2, -1, 3, 0), "replicate", None),
    ((1, 2, 3, 4, 2), (1, 2, 2, 1, 3, 0), "replicate", None),
    ((2, 3, 5), (5, 2), "circular", None),
    ((2, 3, 4, 5), (-1, 2, 1, -2), "circular", None),
    ((3, 4, 5), (2, 1, 4, 3), "circular", None),
    ((1, 2, 3, 3, 2), (1, 1, 1, 1, 1, 1), "circular", None),
]


@pytest.mark.parametrize("shape,pad,mode,value", PAD_CASES)
def test_pad_matches_torch(shape, pad, mode, value):
    compare(lambda t: EF.pad(t, pad, mode, value), lambda t: TF.pad(t, pad, mode, value),
            rand(*shape))


def test_constant_pad_int_and_torch_namespace():
    x = RNG.integers(-5, 5, size=(2, 3, 4))
    oe = EF.pad(ember.tensor(x), (1, 2, 0, 1), value=2.7)
    ot = TF.pad(torch.tensor(x), (1, 2, 0, 1), value=2.7)
    assert oe.dtype is ember.int64
    np.testing.assert_array_equal(oe.numpy(), ot.numpy())
    compare(lambda t: ember.constant_pad_nd(t, (1, 1), 3.0),
            lambda t: torch.constant_pad_nd(t, (1, 1), 3.0), rand(2, 3))


PAD_MODULES = [
    ("ZeroPad1d", ((1, 2),), (2, 3, 4)), ("ZeroPad2d", (1,), (2, 3, 4)),
    ("ZeroPad3d", ((1, 0, 2, 1, 0, 1),), (1, 2, 2, 2, 2)),
    ("ConstantPad1d", (2, 3.5), (2, 3, 4)), ("ConstantPad2d", ((1, 2, 3, 4), 1.0), (2, 3, 4)),
    ("ConstantPad3d", (1, 0.0), (1, 1, 2, 2, 2)),
    ("ReflectionPad1d", (2,), (2, 3, 4)), ("ReflectionPad2d", ((1, 2, 3, 0),), (1, 2, 4, 4)),
    ("ReflectionPad3d", (1,), (1, 1, 2, 3, 2)),
    ("ReplicationPad1d", ((3, 1),), (2, 4)), ("ReplicationPad2d", (2,), (1, 2, 3, 3)),
    ("ReplicationPad3d", (1,), (1, 2, 2, 2)),
    ("CircularPad1d", (3,), (2, 3, 4)), ("CircularPad2d", ((1, 2, 0, 1),), (2, 3, 4)),
    ("CircularPad3d", (1,), (1, 1, 2, 2, 2)),
]


@pytest.mark.parametrize("name,args,shape", PAD_MODULES)
def test_pad_modules(name, args, shape):
    em, tm = modules(name, *args)
    assert em.padding == tm.padding
    compare(em, tm, rand(*shape))


PAD_ERRORS = [
    ("odd", lambda t: t.nn.functional.pad(t.ones(2, 3), (1,))),
    ("too_long", lambda t: t.nn.functional.pad(t.ones(2, 3), (1, 1, 1, 1, 1, 1))),
    ("value_with_mode", lambda t: t.nn.functional.pad(t.ones(2, 3, 4), (1, 1), mode="reflect",
                                                      value=1)),
    ("reflect_too_big", lambda t: t.nn.functional.pad(t.ones(2, 3, 5, 5), (5, 5, 1, 1),
                                                      mode="reflect")),
    ("size_for_rank", lambda t: t.nn.functional.pad(t.ones(2, 3, 5, 5), (1, 1),
                                                    mode="reflect")),
    ("size_1d", lambda t: t.nn.functional.pad(t.ones(5), (1, 1), mode="replicate")),
    ("mode", lambda t: t.nn.functional.pad(t.ones(2, 3, 4), (1, 1), mode="foo")),
    ("circular_wrap", lambda t: t.nn.functional.pad(t.ones(2, 3, 5), (6, 6), mode="circular")),
    ("negative_output", lambda t: t.nn.functional.pad(t.ones(2, 3, 5), (-3, -3))),
    ("replicate_empty", lambda t: t.nn.functional.pad(t.ones(3, 0), (3, 3), mode="replicate")),
]


@pytest.mark.parametrize("name,fn", PAD_ERRORS, ids=[e[0] for e in PAD_ERRORS])
def test_pad_errors_match_torch(name, fn):
    relaxed = {"too_long": "Padding length", "negative_output": "negative output size"}
    raises_like_torch(lambda: fn(ember), lambda: fn(torch), relaxed.get(name))


# ---- interpolation ---------------------------------------------------------------------------
INTERP_CASES = [
    ((2, 3, 5), {"scale_factor": 2}),
    ((2, 3, 5), {"size": 8, "mode": "linear"}),
    ((2, 3, 7), {"size": 3, "mode": "linear", "align_corners": True}),
    ((2, 3, 5), {"scale_factor": 1.6, "mode": "nearest-exact"}),
    ((2, 3, 5, 6), {"scale_factor": (2, 3)}),
    ((2, 3, 5, 6), {"size": (7, 4)}),
    ((2, 3, 5, 6), {"size": (7, 4), "mode": "nearest-exact"}),
    ((2, 3, 5, 6), {"scale_factor": 1.7, "mode": "bilinear"}),
    ((2, 3, 5, 6), {"scale_factor": 0.6, "mode": "bilinear", "recompute_scale_factor": True}),
    ((2, 3, 5, 6), {"size": (9, 3), "mode": "bilinear", "align_corners": True}),
    ((2, 3, 5, 6), {"size": (5, 9), "mode": "bilinear", "align_corners": False}),
    ((2, 3, 5, 6), {"scale_factor": 2.5, "mode": "bicubic"}),
    ((2, 3, 5, 6), {"size": (3, 8), "mode": "bicubic", "align_corners": True}),
    ((2, 3, 9, 6), {"size": (4, 4), "mode": "area"}),
    ((1, 2, 3, 4, 5), {"scale_factor": 2, "mode": "trilinear"}),
    ((1, 2, 3, 4, 5), {"size": (2, 6, 4), "mode": "trilinear", "align_corners": True}),
    ((1, 2, 3, 4, 5), {"size": (4, 2, 7)}),
    ((1, 2, 6, 4, 5), {"size": (2, 3, 2), "mode": "area"}),
    ((2, 3, 5, 6), {"size": (5, 6), "mode": "bilinear"}),
    ((2, 3, 9, 7), {"scale_factor": 0.6, "mode": "bilinear", "antialias": True}),
    ((1, 2, 16, 11), {"size": (5, 3), "mode": "bicubic", "antialias": True}),
    ((1, 2, 5, 6), {"size": (9, 4), "mode": "bilinear", "antialias": True}),
    ((1, 2, 5, 6), {"size": (8, 11), "mode": "bicubic", "antialias": True}),
    ((1, 2, 10, 9), {"size": (3, 13), "mode": "bilinear", "align_corners": True,
                     "antialias": True}),
    ((1, 2, 31, 17), {"scale_factor": (0.23, 0.5), "mode": "bicubic", "antialias": True}),
    ((1, 2, 16, 11), {"size": (5, 7), "mode": "lanczos", "antialias": True}),
    ((1, 2, 5, 6), {"scale_factor": 1.8, "mode": "lanczos", "antialias": True}),
]


@pytest.mark.parametrize("shape,kwargs", INTERP_CASES)
def test_interpolate_matches_torch(shape, kwargs):
    compare(lambda t: EF.interpolate(t, **kwargs), lambda t: TF.interpolate(t, **kwargs),
            rand(*shape))


def test_interpolate_antialias_float32_and_gradcheck():
    """Antialiased shrinking (torchvision's Resize) averages over the widened filter; lanczos
    is antialiased only."""
    compare(lambda t: EF.interpolate(t, size=(4, 6), mode="bilinear", antialias=True),
            lambda t: TF.interpolate(t, size=(4, 6), mode="bilinear", antialias=True),
            rand(2, 3, 13, 20), dtype="float32")
    x = ember.tensor(rand(1, 1, 7, 6), requires_grad=True)
    for mode in ("bilinear", "bicubic", "lanczos"):
        assert ember.autograd.gradcheck(
            lambda t, m=mode: EF.interpolate(t, size=(3, 4), mode=m, antialias=True), (x,))
        assert ember.autograd.gradgradcheck(
            lambda t, m=mode: EF.interpolate(t, size=(3, 4), mode=m, antialias=True), (x,))


def test_interpolate_float32_and_uint8():
    compare(lambda t: EF.interpolate(t, scale_factor=1.5, mode="bilinear"),
            lambda t: TF.interpolate(t, scale_factor=1.5, mode="bilinear"), rand(1, 2, 4, 5),
            dtype="float32")
    x = RNG.integers(0, 255, size=(1, 2, 3, 4))
    oe = EF.interpolate(ember.tensor(x, dtype=ember.uint8), scale_factor=2)
    ot = TF.interpolate(torch.tensor(x, dtype=torch.uint8), scale_factor=2)
    np.testing.assert_array_equal(oe.numpy(), ot.numpy())


UPSAMPLE_MODULES = [
    ("Upsample", {"scale_factor": 2}, (2, 3, 4, 5)),
    ("Upsample", {"size": (3, 7), "mode": "bilinear"}, (2, 3, 4, 5)),
    ("Upsample", {"scale_factor": (2, 1.5), "mode": "bicubic", "align_corners": True},
     (1, 2, 4, 5)),
    ("Upsample", {"size": 9, "mode": "linear"}, (2, 3, 4)),
    ("UpsamplingNearest2d", {"scale_factor": 3}, (1, 2, 3, 4)),
    ("UpsamplingBilinear2d", {"size": (6, 5)}, (1, 2, 3, 4)),
]


@pytest.mark.parametrize("name,kwargs,shape", UPSAMPLE_MODULES)
def test_upsample_modules(name, kwargs, shape):
    em, tm = modules(name, **kwargs)
    assert em.scale_factor == tm.scale_factor and em.mode == tm.mode
    assert em.align_corners == tm.align_corners
    compare(em, tm, rand(*shape))


def test_deprecated_upsample_functions_warn():
    x = rand(1, 2, 3, 4)
    for name, kwargs in (("upsample", {"scale_factor": 2, "mode": "bilinear"}),
                         ("upsample_nearest", {"size": (5, 5)}),
                         ("upsample_bilinear", {"scale_factor": 2})):
        with pytest.warns(UserWarning, match=f"`nn.functional.{name}` is deprecated"):
            compare(lambda t, f=getattr(EF, name), kw=kwargs: f(t, **kw),
                    lambda t, f=getattr(TF, name), kw=kwargs: f(t, **kw), x)


INTERP_ERRORS = [
    ("both", lambda t: t.nn.functional.interpolate(t.ones(2, 3, 5, 5), size=3, scale_factor=2)),
    ("neither", lambda t: t.nn.functional.interpolate(t.ones(2, 3, 5, 5))),
    ("align_nearest", lambda t: t.nn.functional.interpolate(t.ones(2, 3, 5, 5), size=3,
                                                            align_corners=True)),
    ("linear_rank", lambda t: t.nn.functional.interpolate(t.ones(2, 3, 5, 5), size=3,
                                                          mode="linear")),
    ("mode", lambda t: t.nn.functional.interpolate(t.ones(2, 3, 5, 5), size=3, mode="foo")),
    ("size_len", lambda t: t.nn.functional.interpolate(t.ones(2, 3, 5, 5), size=(3, 3, 3))),
    ("scale_len", lambda t: t.nn.functional.interpolate(t.ones(2, 3, 5, 5),
                                                        scale_factor=(2, 2, 2))),
    ("recompute_size", lambda t: t.nn.functional.interpolate(t.ones(2, 3, 5, 5), size=3,
                                                             recompute_scale_factor=True)),
    ("rank", lambda t: t.nn.functional.interpolate(t.ones(2, 3), size=3)),
    ("antialias_mode", lambda t: t.nn.functional.interpolate(t.ones(2, 3, 5, 5), size=3,
                                                             antialias=True)),
    ("antialias_rank", lambda t: t.nn.functional.interpolate(t.ones(2, 3, 5), size=3,
                                                             mode="linear", antialias=True)),
    ("lanczos_no_antialias", lambda t: t.nn.functional.interpolate(t.ones(2, 3, 5, 5), size=3,
                                                                   mode="lanczos")),
    ("lanczos_align", lambda t: t.nn.functional.interpolate(
        t.ones(2, 3, 5, 5), size=3, mode="lanczos", align_corners=True, antialias=True)),
    ("lanczos_rank", lambda t: t.nn.functional.interpolate(t.ones(2, 3, 5), size=3,
                                                           mode="lanczos")),
]


@pytest.mark.parametrize("name,fn", INTERP_ERRORS, ids=[e[0] for e in INTERP_ERRORS])
def test_interpolate_errors_match_torch(name, fn):
    relaxed = {"mode": r"Only 3D, 4D and 5D input Tensors supported \(got 4D\)",
               "rank": r"Only 3D, 4D and 5D input Tensors supported \(got 2D\)"}
    raises_like_torch(lambda: fn(ember), lambda: fn(torch), relaxed.get(name))


# ---- fold / unfold ---------------------------------------------------------------------------
FOLD_CASES = [
    ((5, 6), 2, {}), ((7, 6), (3, 2), {"dilation": (1, 2), "padding": 1, "stride": 2}),
    ((4, 4), 2, {"stride": 2}),
]


@pytest.mark.parametrize("size,kernel,kwargs", FOLD_CASES)
def test_fold_unfold_modules(size, kernel, kwargs):
    ue, ut = modules("Unfold", kernel, **kwargs)
    x = rand(2, 3, *size)
    cols = compare(ue, ut, x)[0]
    fe, ft = modules("Fold", size, kernel, **kwargs)
    compare(fe, ft, cols.detach().numpy())
    compare(fe, ft, cols.detach().numpy()[0])
    compare(ue, ut, x[0])


FOLD_ERRORS = [
    ("unfold_big", lambda t: t.nn.functional.unfold(t.ones(2, 3, 5, 5), 7)),
    ("unfold_rank", lambda t: t.nn.functional.unfold(t.ones(3, 5, 5, 5, 5), 2)),
    ("fold_divisible", lambda t: t.nn.functional.fold(t.ones(2, 10, 16), (5, 5), 2)),
    ("fold_blocks", lambda t: t.nn.functional.fold(t.ones(2, 12, 15), (5, 5), 2)),
]


@pytest.mark.parametrize("name,fn", FOLD_ERRORS, ids=[e[0] for e in FOLD_ERRORS])
def test_fold_errors_match_torch(name, fn):
    raises_like_torch(lambda: fn(ember), lambda: fn(torch))


# ---- shuffles and flatten -----------------------------------------------------------------
def test_shuffle_modules():
    em, tm = modules("PixelShuffle", 2)
    compare(em, tm, rand(2, 8, 3, 4))
    compare(em, tm, rand(3, 2, 12, 2, 2))
    em, tm = modules("PixelUnshuffle", 2)
    compare(em, tm, rand(2, 3, 4, 6))
    em, tm = modules("ChannelShuffle", 3)
    compare(em, tm, rand(2, 6, 2, 2))
    compare(em, tm, rand(2, 6, 5))
    compare(lambda t: ember.pixel_shuffle(t, 3), lambda t: torch.pixel_shuffle(t, 3),
            rand(9, 2, 2))
    compare(lambda t: ember.channel_shuffle(t, 2), lambda t: torch.channel_shuffle(t, 2),
            rand(1, 4, 3))


SHUFFLE_ERRORS = [
    ("channels", lambda t: t.nn.functional.pixel_shuffle(t.ones(2, 3, 5, 5), 2)),
    ("rank", lambda t: t.nn.functional.pixel_shuffle(t.ones(8, 2), 2)),
    ("height", lambda t: t.nn.functional.pixel_unshuffle(t.ones(2, 3, 5, 4), 2)),
    ("width", lambda t: t.nn.functional.pixel_unshuffle(t.ones(2, 3, 4, 5), 2)),
    ("groups", lambda t: t.nn.functional.channel_shuffle(t.ones(2, 3, 5, 5), 2)),
    ("channel_rank", lambda t: t.nn.functional.channel_shuffle(t.ones(8, 2), 2)),
]


@pytest.mark.parametrize("name,fn", SHUFFLE_ERRORS, ids=[e[0] for e in SHUFFLE_ERRORS])
def test_shuffle_errors_match_torch(name, fn):
    raises_like_torch(lambda: fn(ember), lambda: fn(torch))


def test_flatten_unflatten():
    for args in ((), (0, 2), (2, -1), (-2,)):
        em, tm = modules("Flatten", *args)
        compare(em, tm, rand(2, 3, 4, 5))
    for args in ((1, (2, 3)), (1, [3, -1]), (-1, (5, 1))):
        em, tm = modules("Unflatten", *args)
        compare(em, tm, rand(2, 6, 5))
    em, tm = modules("Unflatten", 1, torch.Size([2, 3]))
    compare(em, tm, rand(4, 6))
    for bad in ((1, 6), (1, (2, 3.0))):
        raises_like_torch(lambda b=bad: nn.Unflatten(*b), lambda b=bad: torch.nn.Unflatten(*b),
                          "unflattened_size must be")


# ---- grid sampling -------------------------------------------------------------------------
GRID_CASES = [
    ((2, 3, 5, 6), (2, 4, 3, 2), "bilinear", "zeros", False, 1.3),
    ((2, 3, 5, 6), (2, 4, 3, 2), "bilinear", "zeros", True, 1.3),
    ((1, 2, 4, 5), (1, 3, 6, 2), "bilinear", "border", False, 1.5),
    ((1, 2, 4, 5), (1, 3, 6, 2), "bilinear", "border", True, 1.5),
    ((1, 2, 4, 5), (1, 3, 6, 2), "bilinear", "reflection", False, 3.0),
    ((1, 2, 4, 5), (1, 3, 6, 2), "bilinear", "reflection", True, 3.0),
    ((1, 2, 3, 4, 5), (1, 2, 3, 2, 3), "bilinear", "zeros", False, 1.2),
    ((1, 2, 3, 4, 5), (1, 2, 3, 2, 3), "bilinear", "border", True, 1.4),
    ((1, 2, 3, 4, 5), (1, 2, 3, 2, 3), "bilinear", "reflection", False, 2.5),
]


@pytest.mark.parametrize("shape,gshape,mode,padding_mode,align,scale", GRID_CASES)
def test_grid_sample_matches_torch(shape, gshape, mode, padding_mode, align, scale):
    grid = RNG.uniform(-scale, scale, size=gshape)
    kw = {"mode": mode, "padding_mode": padding_mode, "align_corners": align}
    compare(lambda x, g: EF.grid_sample(x, g, **kw), lambda x, g: TF.grid_sample(x, g, **kw),
            rand(*shape), grid)


@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align", [False, True])
def test_grid_sample_nearest(padding_mode, align):
    x, grid = rand(2, 3, 5, 6), RNG.uniform(-1.6, 1.6, size=(2, 4, 3, 2))
    kw = {"mode": "nearest", "padding_mode": padding_mode, "align_corners": align}
    compare(lambda x: EF.grid_sample(x, ember.tensor(grid), **kw),
            lambda x: TF.grid_sample(x, torch.tensor(grid), **kw), x)


def test_affine_grid_and_sampling_pipeline():
    theta = rand(2, 2, 3) * 0.5 + np.array([[1, 0, 0], [0, 1, 0]])
    for align in (False, True):
        compare(lambda a, ac=align: EF.affine_grid(a, (2, 3, 4, 5), align_corners=ac),
                lambda a, ac=align: TF.affine_grid(a, (2, 3, 4, 5), align_corners=ac), theta)
    theta3 = rand(1, 3, 4)
    compare(lambda a: EF.affine_grid(a, (1, 2, 3, 2, 4), align_corners=False),
            lambda a: TF.affine_grid(a, (1, 2, 3, 2, 4), align_corners=False), theta3)
    with pytest.warns(UserWarning, match="affine_grid behavior has changed for unit-size"):
        compare(lambda a: EF.affine_grid(a, (2, 3, 1, 4), align_corners=True),
                lambda a: TF.affine_grid(a, (2, 3, 1, 4), align_corners=True), theta)

    def warp(lib, x, a):
        g = lib.nn.functional.affine_grid(a, (2, 3, 6, 5), align_corners=False)
        return lib.nn.functional.grid_sample(x, g, align_corners=False)
    compare(lambda x, a: warp(ember, x, a), lambda x, a: warp(torch, x, a), rand(2, 3, 4, 5),
            theta)


def test_align_corners_default_warns():
    with pytest.warns(UserWarning, match="Default grid_sample and affine_grid behavior"):
        EF.affine_grid(ember.zeros(1, 2, 3), (1, 1, 2, 2))
    with pytest.warns(UserWarning, match="Default grid_sample and affine_grid behavior"):
        EF.grid_sample(ember.zeros(1, 1, 2, 2), ember.zeros(1, 1, 1, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        EF.grid_sample(ember.zeros(1, 1, 2, 2), ember.zeros(1, 1, 1, 2), align_corners=True)


GRID_ERRORS = [
    ("grid_last", lambda t: t.nn.functional.grid_sample(t.ones(2, 3, 5, 5), t.ones(2, 4, 4, 3),
                                                        align_corners=False)),
    ("mode", lambda t: t.nn.functional.grid_sample(t.ones(2, 3, 5, 5), t.ones(2, 4, 4, 2),
                                                   mode="foo", align_corners=False)),
    ("padding_mode", lambda t: t.nn.functional.grid_sample(
        t.ones(2, 3, 5, 5), t.ones(2, 4, 4, 2), padding_mode="foo", align_corners=False)),
    ("batch", lambda t: t.nn.functional.grid_sample(t.ones(2, 3, 5, 5), t.ones(3, 4, 4, 2),
                                                    align_corners=False)),
    ("affine_size", lambda t: t.nn.functional.affine_grid(t.ones(2, 2, 3), (2, 3, 4),
                                                          align_corners=False)),
    ("affine_theta", lambda t: t.nn.functional.affine_grid(t.ones(2, 3, 3), (2, 3, 4, 4),
                                                           align_corners=False)),
    ("affine_int", lambda t: t.nn.functional.affine_grid(t.ones(2, 2, 3, dtype=t.int64),
                                                         (2, 3, 4, 4), align_corners=False)),
]


@pytest.mark.parametrize("name,fn", GRID_ERRORS, ids=[e[0] for e in GRID_ERRORS])
def test_grid_errors_match_torch(name, fn):
    raises_like_torch(lambda: fn(ember), lambda: fn(torch))
