"""Normalization functions and layers against torch: values, gradients, running statistics,
train/eval behaviour, state_dict, reprs and errors."""
from collections import OrderedDict

import numpy as np
import pytest
import torch

import ember
from ember.testing.opinfo import Arg

from ._oracle import compare, compare_modules, to_ember_state


# ---- layer_norm ---------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,normalized", [((3, 4), (4,)), ((2, 3, 4), (3, 4)),
                                              ((2, 3, 4), [4]), ((5,), (5,)),
                                              ((2, 1, 3), (1, 3))])
def test_layer_norm(shape, normalized):
    pshape = tuple(normalized)
    compare(lambda t, x, w, b: t.nn.functional.layer_norm(x, normalized, w, b),
            (Arg(shape), Arg(pshape), Arg(pshape)))
    compare(lambda t, x: t.nn.functional.layer_norm(x, normalized, eps=1e-2), (Arg(shape),))


def test_layer_norm_weight_only_and_bias_only():
    compare(lambda t, x, w: t.nn.functional.layer_norm(x, (4,), w), (Arg((3, 4)), Arg((4,))))
    compare(lambda t, x, b: t.nn.functional.layer_norm(x, (4,), None, b),
            (Arg((3, 4)), Arg((4,))))
    compare(lambda t, x, b: t.nn.functional.layer_norm(x, (3, 4), None, b),
            (Arg((2, 3, 4)), Arg((3, 4))))


@pytest.mark.parametrize("shape,normalized", [((64, 300), (300,)), ((8, 40, 96), (96,)),
                                              ((4, 50, 10, 12), (10, 12))])
def test_layer_norm_large(shape, normalized):
    """Sizes where the kernels switch to BLAS reductions."""
    compare(lambda t, x, w, b: t.nn.functional.layer_norm(x, normalized, w, b),
            (Arg(shape), Arg(normalized), Arg(normalized)), atol=1e-4)


@pytest.mark.parametrize("shape", [(512, 40), (16, 8, 12, 12), (4, 6, 30, 30)])
def test_batch_norm_large(shape):
    c = shape[1]

    def fn(t, x, w, b, rm, rv):
        return t.nn.functional.batch_norm(x, rm, rv, w, b, training=True), rm, rv

    compare(fn, (Arg(shape), Arg((c,)), Arg((c,)), Arg((c,), grad=False),
                 Arg((c,), 0.5, 2.0, grad=False)), atol=1e-4)
    compare(lambda t, x, w, rm, rv: t.nn.functional.batch_norm(x, rm, rv, w),
            (Arg(shape), Arg((c,)), Arg((c,), grad=False), Arg((c,), 0.5, 2.0, grad=False)),
            atol=1e-4)


def test_layer_norm_constant_rows_and_large_offsets():
    compare(lambda t, x, w: t.nn.functional.layer_norm(x, (3,), w),
            (Arg(values=[[2.0, 2.0, 2.0], [-1.0, 0.5, 3.0]]), Arg((3,))))
    # torch's float32 kernel loses digits on large offsets; compare in float64 there.
    compare(lambda t, x, w: t.nn.functional.layer_norm(x, (3,), w),
            (Arg(values=[[1e4, 1e4 + 1, 1e4 + 2]]), Arg((3,))), dtypes=("float64",))


def test_layer_norm_half_precision():
    compare(lambda t, x, w, b: t.nn.functional.layer_norm(x, (4,), w, b),
            (Arg((3, 4)), Arg((4,)), Arg((4,))), dtypes=("float16", "bfloat16"), grad=False)


def test_layer_norm_double_backward():
    def second(t, x, w, b):
        y = t.nn.functional.layer_norm(x, (4,), w, b)
        gx, gw = t.autograd.grad((y * y * y).sum(), (x, w), create_graph=True)
        return (gx * gx).sum() + (gw * gw).sum()

    compare(second, (Arg((3, 4)), Arg((4,)), Arg((4,))), dtypes=("float64",))


@pytest.mark.parametrize("shape,normalized", [((2, 5), (4,)), ((2, 5), (2, 5, 3)),
                                              ((2, 5), (3, 5))])
def test_layer_norm_shape_error_matches_torch(shape, normalized):
    with pytest.raises(RuntimeError) as t_err:
        torch.nn.functional.layer_norm(torch.ones(shape), normalized)
    with pytest.raises(RuntimeError) as e_err:
        ember.nn.functional.layer_norm(ember.ones(shape), normalized)
    assert str(e_err.value) == str(t_err.value)


def test_normalized_shape_must_be_a_sequence():
    for fn in ("layer_norm", "rms_norm"):
        with pytest.raises(TypeError) as t_err:
            getattr(torch.nn.functional, fn)(torch.ones(2, 4), 4)
        with pytest.raises(TypeError) as e_err:
            getattr(ember.nn.functional, fn)(ember.ones(2, 4), 4)
        assert str(e_err.value) == str(t_err.value)


def test_layer_norm_weight_shape_error():
    with pytest.raises(RuntimeError, match="Expected weight to be of same shape"):
        ember.nn.functional.layer_norm(ember.ones(2, 4), (4,), ember.ones(3))


# ---- batch_norm ---------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 3), (4, 3, 5), (2, 3, 2, 2), (2, 3, 2, 1, 2)])
@pytest.mark.parametrize("momentum", [0.1, 0.5])
def test_batch_norm_training_updates_running_stats(shape, momentum):
    def fn(t, x, w, b, rm, rv):
        y = t.nn.functional.batch_norm(x, rm, rv, w, b, training=True, momentum=momentum)
        return y, rm, rv

    compare(fn, (Arg(shape), Arg((3,)), Arg((3,)), Arg((3,), grad=False),
                 Arg((3,), 0.5, 2.0, grad=False)))


def test_batch_norm_training_without_running_stats_and_affine():
    compare(lambda t, x: t.nn.functional.batch_norm(x, None, None, training=True),
            (Arg((5, 2, 3)),))


def test_batch_norm_eval_uses_running_stats():
    compare(lambda t, x, w, b, rm, rv: t.nn.functional.batch_norm(x, rm, rv, w, b, eps=1e-3),
            (Arg((4, 3, 2)), Arg((3,)), Arg((3,)), Arg((3,), grad=False),
             Arg((3,), 0.5, 2.0, grad=False)))


def test_batch_norm_half_input_float_stats():
    def fn(t, x, rm, rv):
        return t.nn.functional.batch_norm(x, rm, rv, training=True), rm, rv

    for dt in ("float16", "bfloat16"):
        data = np.random.default_rng(0).uniform(-2, 2, (6, 3))
        outs = []
        for lib in (torch, ember):
            rm, rv = lib.zeros(3), lib.ones(3)
            y = lib.nn.functional.batch_norm(lib.tensor(data, dtype=getattr(lib, dt)), rm, rv,
                                             training=True)
            assert str(y.dtype) == f"torch.{dt}"
            outs.append((y.float().numpy(), rm.numpy(), rv.numpy()))
        for a, b in zip(*outs):
            np.testing.assert_allclose(a, b, atol=3e-2, rtol=3e-2)


def test_batch_norm_double_backward():
    def second(t, x, w):
        y = t.nn.functional.batch_norm(x, None, None, w, training=True)
        gx, gw = t.autograd.grad((y ** 3).sum(), (x, w), create_graph=True)
        return (gx * gx).sum() + (gw * gw).sum()

    compare(second, (Arg((4, 3, 2)), Arg((3,))), dtypes=("float64",))


def test_batch_norm_bumps_running_stat_versions():
    rm, rv = ember.zeros(3), ember.ones(3)
    before = (rm._version, rv._version)
    ember.nn.functional.batch_norm(ember.randn(4, 3), rm, rv, training=True)
    assert rm._version > before[0] and rv._version > before[1]


@pytest.mark.parametrize("shape", [(1, 3), (1, 3, 1)])
def test_batch_norm_one_value_per_channel(shape):
    for lib in (torch, ember):
        with pytest.raises(ValueError, match="Expected more than 1 value per channel when "
                                             r"training, got input size torch.Size\("):
            lib.nn.functional.batch_norm(lib.ones(shape), None, None, training=True)
    with pytest.raises(ValueError) as t_err:
        torch.nn.BatchNorm1d(3)(torch.ones(shape))
    with pytest.raises(ValueError) as e_err:
        ember.nn.BatchNorm1d(3)(ember.ones(shape))
    assert str(e_err.value) == str(t_err.value)


def test_batch_norm_eval_needs_running_stats():
    with pytest.raises(RuntimeError, match="running_mean must be defined in evaluation mode"):
        ember.nn.functional.batch_norm(ember.ones(4, 3), None, None, training=False)


def test_batch_norm_stat_size_error():
    with pytest.raises(RuntimeError, match="running_mean should contain 3 elements not 4"):
        ember.nn.functional.batch_norm(ember.ones(4, 3), ember.zeros(4), ember.ones(4))


# ---- group / instance / rms / local response norm -----------------------------------------------
@pytest.mark.parametrize("shape,groups", [((2, 6, 3), 3), ((2, 4, 2, 3), 2), ((3, 4), 4),
                                          ((2, 6, 5), 1)])
def test_group_norm(shape, groups):
    c = shape[1]
    compare(lambda t, x, w, b: t.nn.functional.group_norm(x, groups, w, b, eps=1e-3),
            (Arg(shape), Arg((c,)), Arg((c,))))
    compare(lambda t, x: t.nn.functional.group_norm(x, groups), (Arg(shape),))


def test_group_norm_error():
    with pytest.raises(RuntimeError, match="Expected number of channels in input to be "
                                           "divisible by num_groups"):
        ember.nn.functional.group_norm(ember.ones(2, 6, 3), 4)
    with pytest.raises(ValueError, match="num_channels must be divisible by num_groups"):
        ember.nn.GroupNorm(4, 6)


@pytest.mark.parametrize("shape", [(2, 3, 5), (2, 3, 2, 4), (1, 2, 2, 2, 3)])
def test_instance_norm(shape):
    compare(lambda t, x: t.nn.functional.instance_norm(x), (Arg(shape),))
    compare(lambda t, x, w, b: t.nn.functional.instance_norm(x, weight=w, bias=b),
            (Arg(shape), Arg((shape[1],)), Arg((shape[1],))))

    def running(t, x, rm, rv):
        y = t.nn.functional.instance_norm(x, rm, rv, momentum=0.3)
        return y, rm, rv

    compare(running, (Arg(shape), Arg((shape[1],), grad=False),
                      Arg((shape[1],), 0.5, 2, grad=False)))

    def stored(t, x, rm, rv):
        return t.nn.functional.instance_norm(x, rm, rv, use_input_stats=False)

    compare(stored, (Arg(shape), Arg((shape[1],), grad=False),
                     Arg((shape[1],), 0.5, 2, grad=False)))


def test_instance_norm_errors():
    for lib in (torch, ember):
        with pytest.raises(RuntimeError, match="Expected running_mean and running_var to be "
                                               "defined when use_input_stats is false"):
            lib.nn.functional.instance_norm(lib.randn(2, 3, 4), use_input_stats=False)
        with pytest.raises(ValueError, match="Expected more than 1 spatial element when "
                                             "training"):
            lib.nn.functional.instance_norm(lib.randn(2, 3, 1))


@pytest.mark.parametrize("eps", [None, 1e-3])
def test_rms_norm(eps):
    compare(lambda t, x, w: t.nn.functional.rms_norm(x, (4,), w, eps),
            (Arg((3, 4)), Arg((4,))))
    compare(lambda t, x: t.nn.functional.rms_norm(x, (2, 4), eps=eps), (Arg((3, 2, 4)),))


@pytest.mark.parametrize("op", ["group_norm", "rms_norm"])
def test_half_input_float_weight_keeps_input_dtype(op):
    """bfloat16 activations with float32 affine weights (an autocast region's usual mix) give
    bfloat16, as torch's (ember's promoted them to float32)."""
    data = np.random.default_rng(0).uniform(-2, 2, (2, 4, 4))
    outs = []
    for lib in (torch, ember):
        x = lib.tensor(data, dtype=lib.bfloat16)
        w = lib.tensor(np.linspace(0.5, 2.0, 4), dtype=lib.float32, requires_grad=True)
        F = lib.nn.functional
        y = F.group_norm(x, 2, w, w * 0.1) if op == "group_norm" else F.rms_norm(x, (4,), w)
        assert str(y.dtype) == "torch.bfloat16"
        y.float().sum().backward()
        assert str(w.grad.dtype) == "torch.float32"
        outs.append((y.float().detach().numpy(), w.grad.numpy()))
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, atol=5e-2, rtol=3e-2)


@pytest.mark.parametrize("shape,size", [((2, 5, 3), 3), ((2, 6, 3, 2), 2),
                                        ((1, 4, 2, 2, 2), 5), ((2, 3, 4), 1)])
def test_local_response_norm(shape, size):
    compare(lambda t, x: t.nn.functional.local_response_norm(x, size), (Arg(shape),))
    compare(lambda t, x: t.nn.functional.local_response_norm(x, size, 0.5, 0.6, 2.0),
            (Arg(shape),))


# ---- modules ------------------------------------------------------------------------------------
BN = [("BatchNorm1d", (6, 3)), ("BatchNorm1d", (6, 3, 4)), ("BatchNorm2d", (4, 3, 2, 3)),
      ("BatchNorm3d", (2, 3, 2, 2, 2))]


@pytest.mark.parametrize("name,shape", BN)
@pytest.mark.parametrize("kwargs", [{}, {"momentum": None}, {"momentum": 0.3, "eps": 1e-3},
                                    {"affine": False}, {"track_running_stats": False}])
def test_batch_norm_module_training_steps(name, shape, kwargs):
    def make(lib):
        return getattr(lib.nn, name)(3, **kwargs)

    t_mod, e_mod = compare_modules(make, (Arg(shape),), steps=3, what=name)
    if kwargs.get("track_running_stats", True):
        assert int(e_mod.num_batches_tracked) == 3
    # The trained running statistics are then used in eval mode.
    data = np.random.default_rng(7).standard_normal(shape)
    t_mod.eval()
    e_mod.eval()
    np.testing.assert_allclose(e_mod(ember.tensor(data)).detach().numpy(),
                               t_mod(torch.tensor(data)).detach().numpy(), rtol=1e-6,
                               atol=1e-6)


@pytest.mark.parametrize("name,shape", BN)
def test_batch_norm_module_eval(name, shape):
    compare_modules(lambda lib: getattr(lib.nn, name)(3), (Arg(shape),), train=False)


@pytest.mark.parametrize("kwargs", [{}, {"affine": False}, {"track_running_stats": False},
                                    {"momentum": None, "eps": 0.01}])
def test_batch_norm_module_repr_and_state(kwargs):
    t, e = torch.nn.BatchNorm2d(4, **kwargs), ember.nn.BatchNorm2d(4, **kwargs)
    assert repr(e) == repr(t)
    assert list(e.state_dict()) == list(t.state_dict())
    assert [n for n, _ in e.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert [n for n, _ in e.named_parameters()] == [n for n, _ in t.named_parameters()]
    if "track_running_stats" not in kwargs:
        assert e.num_batches_tracked.dtype == ember.int64
        assert e.running_var.tolist() == [1.0] * 4


def test_batch_norm_module_wrong_dims():
    for name, bad in (("BatchNorm1d", (2, 3, 4, 5)), ("BatchNorm2d", (2, 3)),
                      ("BatchNorm3d", (2, 3, 4, 5))):
        with pytest.raises(ValueError) as t_err:
            getattr(torch.nn, name)(3)(torch.ones(bad))
        with pytest.raises(ValueError) as e_err:
            getattr(ember.nn, name)(3)(ember.ones(bad))
        assert str(e_err.value) == str(t_err.value)


def test_batch_norm_loads_checkpoint_without_num_batches_tracked():
    t = torch.nn.BatchNorm1d(3)
    state = OrderedDict((k, v) for k, v in to_ember_state(t).items()
                        if k != "num_batches_tracked")
    state._metadata = OrderedDict({"": {"version": 1}})
    e = ember.nn.BatchNorm1d(3)
    e.num_batches_tracked.fill_(5)
    result = e.load_state_dict(state)
    assert result.missing_keys == []
    assert int(e.num_batches_tracked) == 5


def test_batch_norm_reset_running_stats():
    e = ember.nn.BatchNorm1d(2)
    e(ember.randn(4, 2) * 3 + 1)
    e.reset_running_stats()
    assert e.running_mean.tolist() == [0.0, 0.0] and e.running_var.tolist() == [1.0, 1.0]
    assert int(e.num_batches_tracked) == 0


def test_batch_norm_momentum_none_is_cumulative_average():
    e = ember.nn.BatchNorm1d(1, momentum=None)
    batches = [ember.tensor([[1.0], [3.0]]), ember.tensor([[5.0], [7.0]])]
    for b in batches:
        e(b)
    assert e.running_mean.tolist() == pytest.approx([4.0])


@pytest.mark.parametrize("name,shape", [("LazyBatchNorm1d", (4, 3)),
                                        ("LazyBatchNorm2d", (2, 3, 2, 2)),
                                        ("LazyBatchNorm3d", (2, 3, 2, 1, 2))])
def test_lazy_batch_norm(name, shape):
    e = getattr(ember.nn, name)()
    t = getattr(torch.nn, name)()
    assert e.has_uninitialized_params()
    data = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    y_e, y_t = e(ember.tensor(data)), t(torch.tensor(data))
    np.testing.assert_allclose(y_e.detach().numpy(), y_t.detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    assert type(e).__name__ == type(t).__name__ and repr(e) == repr(t)
    assert list(e.state_dict()) == list(t.state_dict())
    np.testing.assert_allclose(e.running_var.numpy(), t.running_var.numpy(), rtol=1e-6)
    assert not e.running_mean.requires_grad and e.weight.requires_grad


def test_lazy_batch_norm_loads_state_dict():
    t = torch.nn.BatchNorm1d(5)
    t(torch.randn(8, 5))
    e = ember.nn.LazyBatchNorm1d()
    e.load_state_dict(to_ember_state(t))
    assert e.num_features == 5
    np.testing.assert_allclose(e.running_mean.numpy(), t.running_mean.numpy(), rtol=1e-6)


@pytest.mark.parametrize("name,shape", [("InstanceNorm1d", (2, 3, 5)),
                                        ("InstanceNorm1d", (3, 5)),
                                        ("InstanceNorm2d", (2, 3, 2, 3)),
                                        ("InstanceNorm2d", (3, 2, 3)),
                                        ("InstanceNorm3d", (2, 3, 2, 2, 2))])
@pytest.mark.parametrize("kwargs", [{}, {"affine": True},
                                    {"track_running_stats": True, "momentum": 0.2},
                                    {"affine": True, "track_running_stats": True}])
def test_instance_norm_modules(name, shape, kwargs):
    def make(lib):
        return getattr(lib.nn, name)(3, **kwargs)

    assert repr(make(ember)) == repr(make(torch))
    compare_modules(make, (Arg(shape),), steps=2, what=name)
    if kwargs.get("track_running_stats"):
        compare_modules(make, (Arg(shape),), train=False, what=name)


def test_instance_norm_channel_mismatch():
    with pytest.raises(ValueError, match="expected input's size at dim=1 to match "
                                         "num_features"):
        ember.nn.InstanceNorm1d(4, affine=True)(ember.ones(2, 3, 5))
    with pytest.warns(UserWarning, match="does not match num_features"):
        ember.nn.InstanceNorm1d(4)(ember.randn(2, 3, 5))


def test_instance_norm_drops_stale_running_stats():
    e = ember.nn.InstanceNorm1d(3)
    with pytest.warns(UserWarning, match="Unexpected running stats buffer"):
        e.load_state_dict({"running_mean": ember.zeros(3), "running_var": ember.ones(3)})


@pytest.mark.parametrize("args,kwargs", [((4,), {}), (((3, 4),), {"eps": 1e-3}),
                                         ((4,), {"elementwise_affine": False}),
                                         ((4,), {"bias": False})])
def test_layer_norm_module(args, kwargs):
    def make(lib):
        return lib.nn.LayerNorm(*args, **kwargs)

    assert repr(make(ember)) == repr(make(torch))
    compare_modules(make, (Arg((2, 3, 4)),), what="LayerNorm")


@pytest.mark.parametrize("kwargs", [{}, {"affine": False}, {"eps": 1e-2}])
def test_group_norm_module(kwargs):
    def make(lib):
        return lib.nn.GroupNorm(2, 4, **kwargs)

    assert repr(make(ember)) == repr(make(torch))
    compare_modules(make, (Arg((3, 4, 5)),), what="GroupNorm")


@pytest.mark.parametrize("args,kwargs", [((4,), {}), ([4], {"eps": 1e-3}),
                                         (((2, 4),), {"elementwise_affine": False})])
def test_rms_norm_module(args, kwargs):
    def make(lib):
        return lib.nn.RMSNorm(*args, **kwargs)

    assert repr(make(ember)) == repr(make(torch))
    compare_modules(make, (Arg((3, 2, 4)),), what="RMSNorm")


def test_local_response_norm_module():
    def make(lib):
        return lib.nn.LocalResponseNorm(3, alpha=0.01, beta=0.5, k=2.0)

    assert repr(make(ember)) == repr(make(torch))
    compare_modules(make, (Arg((2, 5, 3, 2)),), what="LocalResponseNorm")


@pytest.mark.parametrize("name,shape", [("LazyInstanceNorm1d", (2, 3, 5)),
                                        ("LazyInstanceNorm2d", (2, 3, 4, 4)),
                                        ("LazyInstanceNorm3d", (2, 3, 2, 2, 3))])
def test_lazy_instance_norm(name, shape):
    e, t = getattr(ember.nn, name)(), getattr(torch.nn, name)()
    assert repr(e) == repr(t)
    data = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    np.testing.assert_allclose(e(ember.tensor(data)).detach().numpy(),
                               t(torch.tensor(data)).detach().numpy(), rtol=1e-5, atol=1e-5)
    assert repr(e) == repr(t) and list(e.state_dict()) == list(t.state_dict())
    np.testing.assert_allclose(e.running_var.numpy(), t.running_var.numpy(), rtol=1e-5)


@pytest.mark.parametrize("fn", [
    lambda t, x, w: t.nn.functional.batch_norm(x, None, None, w, training=True),
    lambda t, x, w: t.nn.functional.batch_norm(x, t.zeros(3), t.ones(3), w),
    lambda t, x, w: t.nn.functional.layer_norm(x, (3,), w),
])
def test_input_modified_in_place_after_forward_is_caught(fn):
    for lib in (torch, ember):
        w = lib.ones(3, requires_grad=True)
        x = lib.randn(4, 3, requires_grad=True) * 1.0
        y = fn(lib, x, w)
        x.add_(1.0)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


@pytest.mark.parametrize("dtypes", [("float32", "float64"), ("float32", "bfloat16"),
                                    ("bfloat16", "float32"), ("float16", "float32"),
                                    ("float64", "float32"), ("bfloat16", "float16")])
def test_affine_parameter_dtypes_mix_as_torchs_do(dtypes):
    """The parameters take the input's dtype, or float32 beside half-precision input; other
    mixes raise torch's 'mixed dtype (CPU)' errors (ember used to compute anyway)."""
    outcomes = []
    for lib in (torch, ember):
        x = lib.ones(2, 4, dtype=getattr(lib, dtypes[0]))
        w = lib.ones(4, dtype=getattr(lib, dtypes[1]))
        for name, args in (("layer_norm", ((4,), w, w)), ("group_norm", (2, w, w))):
            try:
                outcomes.append(str(getattr(lib.nn.functional, name)(x, *args).dtype))
            except RuntimeError as e:
                outcomes.append(str(e))
    assert outcomes[:2] == outcomes[2:]
