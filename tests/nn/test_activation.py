"""Activation functions and modules, distances, normalize and one_hot against torch."""
import warnings

import numpy as np
import pytest
import torch

import ember
from ember.testing.opinfo import Arg

from ._oracle import compare, compare_modules

# Values on both sides of and exactly at every kink the activations have (0, +-0.5, +-1, +-3,
# 6, the softplus threshold 20), plus large magnitudes that overflow a naive exp.
KINKS = [-100.0, -30.0, -21.0, -3.0, -2.5, -1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 2.5, 3.0,
         6.0, 7.0, 20.0, 21.0, 30.0, 100.0]

ELEMENTWISE = {
    "relu": lambda t, x: t.nn.functional.relu(x),
    "relu6": lambda t, x: t.nn.functional.relu6(x),
    "hardtanh": lambda t, x: t.nn.functional.hardtanh(x),
    "hardtanh_bounds": lambda t, x: t.nn.functional.hardtanh(x, -0.5, 2.5),
    "leaky_relu": lambda t, x: t.nn.functional.leaky_relu(x),
    "leaky_relu_slope": lambda t, x: t.nn.functional.leaky_relu(x, 0.2),
    "elu": lambda t, x: t.nn.functional.elu(x),
    "elu_alpha": lambda t, x: t.nn.functional.elu(x, 0.5),
    "selu": lambda t, x: t.nn.functional.selu(x),
    "celu": lambda t, x: t.nn.functional.celu(x, 2.0),
    "gelu": lambda t, x: t.nn.functional.gelu(x),
    "gelu_tanh": lambda t, x: t.nn.functional.gelu(x, approximate="tanh"),
    "silu": lambda t, x: t.nn.functional.silu(x),
    "mish": lambda t, x: t.nn.functional.mish(x),
    "softplus": lambda t, x: t.nn.functional.softplus(x),
    "softplus_beta": lambda t, x: t.nn.functional.softplus(x, beta=2.0, threshold=5.0),
    "softsign": lambda t, x: t.nn.functional.softsign(x),
    "hardsigmoid": lambda t, x: t.nn.functional.hardsigmoid(x),
    "hardswish": lambda t, x: t.nn.functional.hardswish(x),
    "sigmoid": lambda t, x: t.nn.functional.sigmoid(x),
    "tanh": lambda t, x: t.nn.functional.tanh(x),
    "logsigmoid": lambda t, x: t.nn.functional.logsigmoid(x),
    "tanhshrink": lambda t, x: t.nn.functional.tanhshrink(x),
    "softshrink": lambda t, x: t.nn.functional.softshrink(x),
    "softshrink_lambd": lambda t, x: t.nn.functional.softshrink(x, 1.0),
    "hardshrink": lambda t, x: t.nn.functional.hardshrink(x),
    "hardshrink_lambd": lambda t, x: t.nn.functional.hardshrink(x, 1.0),
    "threshold": lambda t, x: t.nn.functional.threshold(x, 0.5, -2.0),
    "rrelu_eval": lambda t, x: t.nn.functional.rrelu(x),
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_random(name):
    compare(ELEMENTWISE[name], (Arg((3, 5), -4, 4),), what=name)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_at_kinks(name):
    """Values and gradients at the break points and far out (no NaN from overflow)."""
    compare(ELEMENTWISE[name], (Arg(values=KINKS),), what=name)


@pytest.mark.parametrize("name", ["relu", "gelu", "silu", "elu", "hardswish", "sigmoid",
                                  "logsigmoid", "softplus"])
def test_elementwise_double_backward(name):
    fn = ELEMENTWISE[name]

    def second(t, x):
        (g,) = t.autograd.grad(fn(t, x).sum(), x, create_graph=True)
        return g * g

    compare(second, (Arg((7,), -3, 3),), dtypes=("float64",), what=name)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_gelu_low_precision(dtype):
    compare(lambda t, x: t.nn.functional.gelu(x), (Arg((4, 5), -4, 4),), dtypes=(dtype,),
            grad=False)


INPLACE = {
    "relu": lambda t, x: t.nn.functional.relu(x, inplace=True),
    "relu_": lambda t, x: t.nn.functional.relu_(x),
    "relu6": lambda t, x: t.nn.functional.relu6(x, inplace=True),
    "hardtanh_": lambda t, x: t.nn.functional.hardtanh_(x, -1.0, 0.5),
    "leaky_relu_": lambda t, x: t.nn.functional.leaky_relu_(x, 0.3),
    "elu_": lambda t, x: t.nn.functional.elu_(x),
    "selu_": lambda t, x: t.nn.functional.selu_(x),
    "celu_": lambda t, x: t.nn.functional.celu_(x),
    "silu": lambda t, x: t.nn.functional.silu(x, inplace=True),
    "mish": lambda t, x: t.nn.functional.mish(x, inplace=True),
    "hardsigmoid": lambda t, x: t.nn.functional.hardsigmoid(x, inplace=True),
    "hardswish": lambda t, x: t.nn.functional.hardswish(x, inplace=True),
    "threshold_": lambda t, x: t.nn.functional.threshold_(x, 0.1, 5.0),
}


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_variants(name):
    """In place on a non-leaf: the result aliases the input and gradients still match."""
    def fn(t, x):
        y = x * 1.5
        out = INPLACE[name](t, y)
        assert out is y
        return out

    compare(fn, (Arg((3, 4), -4, 4),), what=name)


def test_inplace_without_grad_writes_input():
    x = ember.tensor([-1.0, 2.0])
    ember.nn.functional.elu(x, inplace=True)
    np.testing.assert_allclose(x.numpy(), [np.expm1(-1.0), 2.0], rtol=1e-6)


def test_inplace_on_leaf_requiring_grad_raises():
    x = ember.tensor([-1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        ember.nn.functional.leaky_relu_(x)


def test_prelu():
    compare(lambda t, x, w: t.nn.functional.prelu(x, w), (Arg((2, 3, 4), -2, 2), Arg((3,))))
    compare(lambda t, x, w: t.nn.functional.prelu(x, w), (Arg((2, 3)), Arg((1,))))
    compare(lambda t, x, w: t.nn.functional.prelu(x, w),
            (Arg(values=[[-1.0, 0.0, 1.0]]), Arg((3,))))
    with pytest.raises(RuntimeError, match="Mismatch of parameter numbers"):
        ember.nn.functional.prelu(ember.ones(2, 3), ember.ones(4))


def test_rrelu_training_draws_slopes_in_range():
    ember.manual_seed(0)
    x = ember.full((10000,), -1.0, requires_grad=True)
    y = ember.nn.functional.rrelu(x, 0.1, 0.3, training=True)
    slopes = -y.detach().numpy()
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3
    assert abs(slopes.mean() - 0.2) < 0.01
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), slopes, rtol=1e-6)
    pos = ember.nn.functional.rrelu(ember.tensor([2.0]), training=True)
    assert pos.tolist() == [2.0]


@pytest.mark.parametrize("fn", ["softmax", "log_softmax", "softmin"])
@pytest.mark.parametrize("dim", [0, 1, -1, 2])
def test_softmax_family(fn, dim):
    compare(lambda t, x: getattr(t.nn.functional, fn)(x, dim), (Arg((3, 4, 5), -5, 5),),
            what=fn)


@pytest.mark.parametrize("fn", ["softmax", "log_softmax", "softmin"])
def test_softmax_dtype_argument(fn):
    compare(lambda t, x: getattr(t.nn.functional, fn)(x, 1, dtype=t.float64),
            (Arg((3, 4)),), dtypes=("float32",), what=fn)


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape,dim", [((64, 300), 1), ((4, 8, 30, 30), -1),
                                       ((300, 64), 0)])
def test_softmax_large(fn, shape, dim):
    """Sizes where the kernels switch to BLAS reductions."""
    compare(lambda t, x: getattr(t, fn)(x, dim), (Arg(shape, -6, 6),), atol=1e-5)


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_extremes(fn):
    values = [[-1000.0, -1001.0, 5.0], [800.0, 799.0, 0.0], [-np.inf, 0.0, 1.0]]
    compare(lambda t, x: getattr(t.nn.functional, fn)(x, 1), (Arg(values=values),))
    compare(lambda t, x: getattr(t, fn)(x, 1), (Arg(values=[[-np.inf, -np.inf]]),), grad=False)


def test_softmax_top_level_and_methods():
    compare(lambda t, x: (t.softmax(x, 0), x.softmax(1), t.log_softmax(x, -1),
                          x.log_softmax(dim=0)), (Arg((3, 4)),))


@pytest.mark.parametrize("shape,expected_dim", [((), 0), ((4,), 0), ((3, 4), 1),
                                                ((2, 3, 4), 0), ((2, 3, 4, 5), 1)])
def test_softmax_implicit_dim_warns(shape, expected_dim):
    x = np.random.default_rng(0).standard_normal(shape)
    for lib in (torch, ember):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            got = lib.nn.functional.softmax(lib.tensor(x), dtype=None)
        assert any("Implicit dimension choice for softmax" in str(m.message) for m in w)
        if shape:
            want = torch.softmax(torch.tensor(x), expected_dim).numpy()
            np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)


def test_softmax_errors():
    with pytest.raises(IndexError):
        ember.nn.functional.softmax(ember.ones(3), 2)
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
        ember.nn.functional.softmax(ember.tensor([1, 2]), 0)


def test_softmax_empty_and_half():
    compare(lambda t, x: t.softmax(x, 1), (Arg((0, 3)),), grad=False)
    compare(lambda t, x: t.log_softmax(x, 0), (Arg((4, 3), -3, 3),),
            dtypes=("float16", "bfloat16"), grad=False)


def test_glu():
    compare(lambda t, x: t.nn.functional.glu(x), (Arg((3, 4)),))
    compare(lambda t, x: t.nn.functional.glu(x, 0), (Arg((6, 2)),))
    with pytest.raises(RuntimeError, match="Halving dimension must be even, but dimension 1 "
                                           "is size 5"):
        ember.nn.functional.glu(ember.ones(2, 5))


def test_gelu_bad_approximate():
    with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh"):
        ember.nn.functional.gelu(ember.ones(2), approximate="fast")


MODULES = [
    ("ReLU", (), {}), ("ReLU", (), {"inplace": True}), ("ReLU6", (), {}),
    ("ReLU6", (True,), {}), ("LeakyReLU", (), {}), ("LeakyReLU", (0.2, True), {}),
    ("ELU", (), {}), ("ELU", (0.5,), {"inplace": True}), ("SELU", (), {}),
    ("SELU", (True,), {}), ("CELU", (1.5,), {}), ("GELU", (), {}),
    ("GELU", (), {"approximate": "tanh"}), ("SiLU", (), {}), ("SiLU", (True,), {}),
    ("Mish", (), {}), ("Softplus", (), {}), ("Softplus", (2.0, 10.0), {}), ("Softsign", (), {}),
    ("Hardtanh", (), {}), ("Hardtanh", (-2.0, 3.0), {}), ("Hardtanh", (-2.0, 3.0, True), {}),
    ("Hardsigmoid", (), {}), ("Hardswish", (), {}), ("Sigmoid", (), {}), ("Tanh", (), {}),
    ("LogSigmoid", (), {}), ("Softmax", (1,), {}), ("Softmax", (), {"dim": -1}),
    ("LogSoftmax", (0,), {}), ("Softmin", (1,), {}), ("GLU", (), {}), ("GLU", (0,), {}),
    ("Threshold", (0.1, 20.0), {}), ("Threshold", (0.1, 20.0, True), {}),
    ("Tanhshrink", (), {}), ("Softshrink", (), {}), ("Softshrink", (1.0,), {}),
    ("Hardshrink", (), {}), ("Hardshrink", (0.25,), {}), ("RReLU", (), {}),
    ("RReLU", (0.1, 0.2, True), {}), ("PReLU", (), {}), ("PReLU", (4, 0.1), {}),
    ("Softmax2d", (), {}),
]


@pytest.mark.parametrize("name,args,kwargs", MODULES,
                         ids=[f"{m[0]}-{i}" for i, m in enumerate(MODULES)])
def test_module_repr_and_forward(name, args, kwargs):
    t_mod = getattr(torch.nn, name)(*args, **kwargs)
    e_mod = getattr(ember.nn, name)(*args, **kwargs)
    assert repr(e_mod) == repr(t_mod)
    assert list(e_mod.state_dict()) == list(t_mod.state_dict())
    inplace = kwargs.get("inplace") or (args and args[-1] is True)

    def make(lib):
        return getattr(lib.nn, name)(*args, **kwargs)

    shape = (2, 4, 3, 2)
    if inplace:
        # In-place modules need a non-leaf input: compare on a fresh copy without grads.
        data = np.random.default_rng(0).uniform(-3, 3, shape)
        outs = []
        for lib in (torch, ember):
            m = make(lib).eval()
            x = lib.tensor(data)
            outs.append(m(x).numpy())
        np.testing.assert_allclose(outs[0], outs[1], rtol=1e-7, atol=1e-7)
        return
    compare_modules(make, (Arg(shape, -3, 3),), train=False, what=name)


def test_prelu_module_init_and_state():
    e = ember.nn.PReLU(3, init=0.1)
    assert e.weight.tolist() == pytest.approx([0.1] * 3)
    assert list(e.state_dict()) == ["weight"]
    compare_modules(lambda lib: lib.nn.PReLU(3), (Arg((2, 3, 4)),), what="PReLU")


def test_hardtanh_module_rejects_bad_bounds():
    with pytest.raises(AssertionError):
        ember.nn.Hardtanh(1.0, -1.0)


# ---- distances, normalize, one_hot ----------------------------------------------------------
@pytest.mark.parametrize("kwargs", [{}, {"p": 1.0}, {"p": 3.0, "keepdim": True},
                                    {"eps": 0.0, "p": float("inf")}])
def test_pairwise_distance(kwargs):
    compare(lambda t, a, b: t.nn.functional.pairwise_distance(a, b, **kwargs),
            (Arg((4, 5)), Arg((4, 5))))
    compare(lambda t, a, b: t.nn.functional.pairwise_distance(a, b, **kwargs),
            (Arg((5,)), Arg((5,))))
    compare(lambda t, a, b: t.nn.PairwiseDistance(**kwargs)(a, b),
            (Arg((2, 3, 5)), Arg((3, 5))))


@pytest.mark.parametrize("dim", [1, 0, -1])
def test_cosine_similarity(dim):
    compare(lambda t, a, b: t.nn.functional.cosine_similarity(a, b, dim),
            (Arg((4, 5)), Arg((4, 5))))
    compare(lambda t, a, b: t.nn.CosineSimilarity(dim, eps=1e-6)(a, b),
            (Arg((3, 4, 5)), Arg((1, 4, 5))))


def test_cosine_similarity_zero_vector():
    compare(lambda t, a, b: t.nn.functional.cosine_similarity(a, b),
            (Arg(values=[[0.0, 0.0], [1.0, 2.0]]), Arg((2, 2))), grad=False)


def test_pdist():
    compare(lambda t, x: t.nn.functional.pdist(x), (Arg((5, 3)),))
    compare(lambda t, x: t.nn.functional.pdist(x, 1.0), (Arg((4, 2)),))
    with pytest.raises(RuntimeError, match="pdist only supports 2D tensors, got: 3D"):
        ember.nn.functional.pdist(ember.ones(2, 2, 2))


@pytest.mark.parametrize("kwargs", [{}, {"p": 1.0}, {"dim": 0}, {"p": 3.0, "dim": -1}])
def test_normalize(kwargs):
    compare(lambda t, x: t.nn.functional.normalize(x, **kwargs), (Arg((3, 4)),))


def test_normalize_zero_row_and_out():
    compare(lambda t, x: t.nn.functional.normalize(x), (Arg(values=[[0.0, 0.0], [3.0, 4.0]]),),
            grad=False)
    out = ember.empty(2)
    ember.nn.functional.normalize(ember.tensor([3.0, 4.0]), dim=0, out=out)
    np.testing.assert_allclose(out.numpy(), [0.6, 0.8], rtol=1e-6)


def test_one_hot():
    for args in (([0, 2, 1],), ([[0, 2], [1, 1]], 4), ([], 3)):
        data = args[0]
        t = torch.nn.functional.one_hot(torch.tensor(data, dtype=torch.long), *args[1:])
        e = ember.nn.functional.one_hot(ember.tensor(data, dtype=ember.int64), *args[1:])
        assert e.dtype == ember.int64 and tuple(e.shape) == tuple(t.shape)
        assert e.tolist() == t.tolist()


def test_one_hot_traces_without_a_warning_and_follows_new_classes():
    """Its range checks read the values at hand without baking them into a trace (torch's
    trace of one_hot is silent too)."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f = ember.jit.trace(lambda t: ember.nn.functional.one_hot(t, 7).float(),
                            ember.tensor([1, 2, 3]))
    assert f(ember.tensor([0, 6])).argmax(-1).tolist() == [0, 6]


@pytest.mark.parametrize("data,num,message", [
    ([1, -1], -1, "Class values must be non-negative."),
    ([1, 5], 3, "Class values must be smaller than num_classes."),
    ([], -1, "Can not infer total number of classes from empty tensor."),
])
def test_one_hot_errors(data, num, message):
    for lib in (torch, ember):
        with pytest.raises(RuntimeError, match=message):
            lib.nn.functional.one_hot(lib.tensor(data, dtype=lib.int64), num)


def test_one_hot_requires_long():
    with pytest.raises(RuntimeError, match="one_hot is only applicable to index tensor of "
                                           "type LongTensor."):
        ember.nn.functional.one_hot(ember.tensor([1.0, 2.0]))


def test_gumbel_softmax():
    ember.manual_seed(0)
    logits = ember.tensor([[0.0, 1.0, 2.0]]).repeat(4000, 1)
    soft = ember.nn.functional.gumbel_softmax(logits, tau=0.5)
    np.testing.assert_allclose(soft.sum(1).numpy(), 1.0, rtol=1e-5)
    x = logits.clone().requires_grad_(True)
    hard = ember.nn.functional.gumbel_softmax(x, hard=True)
    values = hard.detach().numpy()
    assert set(np.unique(values).tolist()) == {0.0, 1.0} and (values.sum(1) == 1).all()
    freq = values.mean(0)
    expected = np.exp([0.0, 1.0, 2.0]) / np.exp([0.0, 1.0, 2.0]).sum()
    np.testing.assert_allclose(freq, expected, atol=0.03)
    (hard * ember.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert x.grad is not None and np.abs(x.grad.numpy()).sum() > 0


def test_hardtanh_deprecated_keywords():
    with pytest.warns(FutureWarning, match="`min_value` is deprecated"):
        m = ember.nn.Hardtanh(min_value=-2.0)
    assert repr(m) == "Hardtanh(min_val=-2.0, max_val=1.0)"


def test_torch_level_names_of_functional_functions():
    """torch.selu, torch.cosine_similarity, ... (same signatures as nn.functional's) and the
    prelu/hardshrink Tensor methods, against torch."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((3, 4)).astype(np.float32) for _ in range(2))
    calls = [lambda L, x, y: L.cosine_similarity(x, y),
             lambda L, x, y: L.pairwise_distance(x, y),
             lambda L, x, y: L.pdist(x), lambda L, x, y: L.selu(x),
             lambda L, x, y: L.celu(x, 0.5), lambda L, x, y: L.prelu(x, L.tensor([0.25])),
             lambda L, x, y: L.hardshrink(x, 0.3), lambda L, x, y: L.threshold(x, 0.1, 20.0),
             lambda L, x, y: L.bilinear(x, y, L.ones(2, 4, 4)),
             lambda L, x, y: L.dropout(x, 0.5, False),
             lambda L, x, y: L.alpha_dropout(x, 0.5, False),
             lambda L, x, y: L.rrelu(x, 0.1, 0.3, False),
             lambda L, x, y: x.prelu(L.tensor([0.1])), lambda L, x, y: x.hardshrink()]
    for call in calls:
        want = call(torch, torch.tensor(a), torch.tensor(b))
        got = call(ember, ember.tensor(a), ember.tensor(b))
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("call", [
    lambda t: t.nn.functional.softplus(t.tensor([1, 2])),
    lambda t: t.nn.functional.gelu(t.tensor([1, 2])),
    lambda t: t.nn.functional.rrelu(t.tensor([1, 2])),
    lambda t: t.nn.functional.rrelu(t.tensor([1.0]), t.tensor(0.1)),
    lambda t: t.nn.functional.rrelu(t.tensor([1.0]), 0.1, "0.2"),
    lambda t: t.nn.functional.rrelu(t.tensor([1.0]), 0.5, 0.2),
    lambda t: t.nn.functional.rrelu(t.tensor([-1.0]), 0.2, 0.2, training=True),
], ids=["softplus_int", "gelu_int", "rrelu_int", "rrelu_tensor_lower", "rrelu_str_upper",
        "rrelu_bounds", "rrelu_equal_bounds"])
def test_activation_argument_refusals_like_torch(call):
    def outcome(lib):
        try:
            return call(lib).tolist()
        except Exception as e:  # noqa: BLE001 - the error itself is compared
            return type(e).__name__, str(e)
    assert outcome(ember) == outcome(torch)
