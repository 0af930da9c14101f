"""Dropout (masks, scaling, determinism, train/eval) and Embedding / EmbeddingBag against
torch."""
import warnings

import numpy as np
import pytest
import torch

import ember
from ember.testing.opinfo import Arg

from ._oracle import compare, compare_modules, to_ember_state


# ---- dropout ------------------------------------------------------------------------------------
def test_dropout_keeps_expectation_and_zeroes_the_rest():
    ember.manual_seed(0)
    x = ember.ones(20000, requires_grad=True)
    y = ember.nn.functional.dropout(x, 0.3)
    values = y.detach().numpy()
    assert set(np.unique(values).tolist()) == {0.0, np.float32(1 / 0.7)}
    assert abs((values == 0).mean() - 0.3) < 0.02
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), values)


def test_dropout_is_deterministic_under_manual_seed():
    def draw():
        ember.manual_seed(123)
        return ember.nn.functional.dropout(ember.ones(4, 5)).numpy()

    np.testing.assert_array_equal(draw(), draw())
    ember.manual_seed(123)
    first = ember.nn.functional.dropout(ember.ones(4, 5)).numpy()
    second = ember.nn.functional.dropout(ember.ones(4, 5)).numpy()
    assert not np.array_equal(first, second)


def test_dropout_identity_cases_return_input():
    x = ember.randn(3, 4)
    for fn in ("dropout", "dropout1d", "dropout2d", "alpha_dropout", "feature_alpha_dropout"):
        f = getattr(ember.nn.functional, fn)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert f(x, 0.5, training=False) is x
            assert f(x, 0.0, training=True) is x
    assert ember.nn.functional.dropout3d(ember.ones(2, 3, 1, 1), 0.5, training=False).shape == \
        (2, 3, 1, 1)


def test_dropout_p_one_zeroes_everything():
    for lib in (torch, ember):
        assert lib.nn.functional.dropout(lib.ones(5), 1.0).tolist() == [0.0] * 5


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_probability_checked(p):
    for lib in (torch, ember):
        with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
            lib.nn.functional.dropout(lib.ones(2), p)
        with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
            lib.nn.Dropout(p)


def test_dropout_inplace():
    ember.manual_seed(0)
    base = ember.ones(100, requires_grad=True)
    x = base * 1.0
    y = ember.nn.functional.dropout(x, 0.5, inplace=True)
    assert y is x
    y.sum().backward()
    np.testing.assert_array_equal(base.grad.numpy(), y.detach().numpy())


def _varies(y, dim):
    return bool((y != y.narrow(dim, 0, 1)).any())


@pytest.mark.parametrize("fn,shape,per_element_dims", [
    ("dropout1d", (4, 6, 8), (0, 1)), ("dropout1d", (6, 8), (0,)),
    ("dropout2d", (4, 6, 3, 3), (0, 1)), ("dropout2d", (4, 6, 3), (0, 1)),
    ("dropout3d", (3, 6, 2, 2, 2), (0, 1)), ("dropout3d", (6, 2, 2, 2), (0,)),
    ("feature_alpha_dropout", (4, 6, 5), (0, 1)),
])
def test_channel_dropout_masks_whole_channels(fn, shape, per_element_dims):
    ember.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = getattr(ember.nn.functional, fn)(ember.ones(shape), 0.5, training=True)
    for dim in range(len(shape)):
        assert _varies(y, dim) == (dim in per_element_dims), dim


def test_channel_dropout_warnings_and_errors():
    with pytest.warns(UserWarning, match="Received a 3D input to dropout2d"):
        ember.nn.functional.dropout2d(ember.ones(2, 3, 4))
    with pytest.warns(UserWarning, match="Received a 2-D input to dropout2d"):
        ember.nn.functional.dropout2d(ember.ones(2, 3))
    with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input"):
        ember.nn.functional.dropout1d(ember.ones(2, 3, 4, 5))


def _alpha_parts(y, x):
    """(dropped value, dropped fraction, a, b) with kept entries y = a x + b."""
    values, counts = np.unique(np.round(y, 5), return_counts=True)
    dropped = values[counts.argmax()]
    kept = ~np.isclose(y, dropped, atol=1e-5)
    a, b = np.polyfit(x[kept], y[kept], 1)
    return dropped, 1 - kept.mean(), a, b


@pytest.mark.parametrize("fn", ["alpha_dropout", "feature_alpha_dropout"])
def test_alpha_dropout_matches_torch(fn):
    """Same dropped value and affine correction as torch; zero mean, unit variance kept."""
    data = np.random.default_rng(0).standard_normal((400, 50)).astype(np.float32)
    torch.manual_seed(0)
    ember.manual_seed(0)
    t = getattr(torch.nn.functional, fn)(torch.tensor(data), 0.2, True).numpy()
    e = getattr(ember.nn.functional, fn)(ember.tensor(data), 0.2, True).numpy()
    t_parts, e_parts = _alpha_parts(t, data), _alpha_parts(e, data)
    np.testing.assert_allclose(e_parts[0], t_parts[0], rtol=1e-4)
    np.testing.assert_allclose(e_parts[2:], t_parts[2:], rtol=1e-4)
    assert abs(e_parts[1] - 0.2) < 0.03
    assert abs(e.mean()) < 0.05 and abs(e.std() - 1) < 0.05


@pytest.mark.parametrize("name,shape", [("Dropout", (4, 5)), ("Dropout1d", (2, 3, 4)),
                                        ("Dropout2d", (2, 3, 2, 2)),
                                        ("Dropout3d", (2, 3, 2, 2, 2)),
                                        ("AlphaDropout", (4, 5)),
                                        ("FeatureAlphaDropout", (2, 3, 4))])
def test_dropout_modules(name, shape):
    for args in ((), (0.2,), (0.3, True)):
        assert repr(getattr(ember.nn, name)(*args)) == repr(getattr(torch.nn, name)(*args))
    m = getattr(ember.nn, name)(0.5)
    x = ember.randn(*shape)
    m.eval()
    assert m(x) is x
    m.train()
    ember.manual_seed(1)
    a = m(x).numpy()
    ember.manual_seed(1)
    np.testing.assert_array_equal(a, m(x).numpy())
    assert not np.array_equal(a, x.numpy())


# ---- embedding ----------------------------------------------------------------------------------
def test_embedding_values_and_gradients():
    compare(lambda t, w, i: t.nn.functional.embedding(i, w),
            (Arg((6, 3)), Arg(values=[[0, 5, 5], [2, 0, 1]], dtype="int64", grad=False)))
    compare(lambda t, w, i: t.nn.functional.embedding(i, w),
            (Arg((6, 3)), Arg(values=[4, 1, 1], dtype="int32", grad=False)))


@pytest.mark.parametrize("padding_idx", [0, 2, -1])
def test_embedding_padding_idx_gets_no_gradient(padding_idx):
    compare(lambda t, w, i: t.nn.functional.embedding(i, w, padding_idx=padding_idx),
            (Arg((5, 3)), Arg(values=[[0, 2, 4], [2, 2, 1]], dtype="int64", grad=False)))


def test_embedding_scale_grad_by_freq():
    compare(lambda t, w, i: t.nn.functional.embedding(i, w, scale_grad_by_freq=True),
            (Arg((5, 2)), Arg(values=[[0, 3, 3], [1, 3, 0]], dtype="int64", grad=False)))
    compare(lambda t, w, i: t.nn.functional.embedding(i, w, 1, scale_grad_by_freq=True),
            (Arg((5, 2)), Arg(values=[1, 3, 1, 1], dtype="int64", grad=False)))


def test_embedding_double_backward():
    def second(t, w, i):
        out = t.nn.functional.embedding(i, w, padding_idx=1)
        (g,) = t.autograd.grad((out ** 3).sum(), w, create_graph=True)
        return g * g

    compare(second, (Arg((4, 2)), Arg(values=[1, 2, 2], dtype="int64", grad=False)),
            dtypes=("float64",))


@pytest.mark.parametrize("norm_type", [2.0, 1.0])
def test_embedding_max_norm_renormalizes_in_place(norm_type):
    data = np.random.default_rng(0).uniform(-2, 2, (5, 3))
    idx = [[0, 2], [2, 4]]
    results = []
    for lib in (torch, ember):
        w = lib.tensor(data)
        out = lib.nn.functional.embedding(lib.tensor(idx), w, max_norm=1.0,
                                          norm_type=norm_type)
        results.append((out.numpy(), w.numpy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(b, a, rtol=1e-10)
    assert not np.allclose(results[1][1], data)


def test_embedding_errors():
    w = ember.randn(3, 2)
    for lib, weight in ((torch, torch.randn(3, 2)), (ember, w)):
        with pytest.raises(RuntimeError, match="Expected tensor for argument #1 'indices' to "
                                               "have one of the following scalar types: Long, "
                                               "Int; but got torch.FloatTensor instead"):
            lib.nn.functional.embedding(lib.tensor([1.0]), weight)
        with pytest.raises(IndexError, match="index out of range in self"):
            lib.nn.functional.embedding(lib.tensor([3]), weight)
        with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
            lib.nn.functional.embedding(lib.tensor([1]), weight, padding_idx=5)


@pytest.mark.parametrize("kwargs", [{}, {"padding_idx": 2}, {"padding_idx": -2},
                                    {"max_norm": 1.5}, {"max_norm": 2.0, "norm_type": 1.0},
                                    {"scale_grad_by_freq": True}])
def test_embedding_module(kwargs):
    def make(lib):
        return lib.nn.Embedding(6, 3, **kwargs)

    assert repr(make(ember)) == repr(make(torch))
    idx = Arg(values=[[1, 2, 2], [5, 0, 1]], dtype="int64", grad=False)
    compare_modules(make, (idx,), steps=2, what=str(kwargs))


def test_embedding_sparse_flag_is_accepted():
    e, t = ember.nn.Embedding(4, 2, sparse=True), torch.nn.Embedding(4, 2, sparse=True)
    assert repr(e) == repr(t)
    e(ember.tensor([1, 3])).sum().backward()
    assert e.weight.grad.shape == (4, 2)


def test_embedding_module_init():
    ember.manual_seed(0)
    m = ember.nn.Embedding(2000, 8, padding_idx=3)
    w = m.weight.detach().numpy()
    assert (w[3] == 0).all()
    assert abs(w.mean()) < 0.05 and abs(w.std() - 1) < 0.05
    assert list(m.state_dict()) == ["weight"]
    ember.nn.Embedding(4, 2)(ember.tensor([3]))


def test_embedding_from_pretrained():
    table = ember.tensor([[1.0, 2.0], [3.0, 4.0]])
    frozen = ember.nn.Embedding.from_pretrained(table)
    assert not frozen.weight.requires_grad
    assert frozen(ember.tensor([1])).tolist() == [[3.0, 4.0]]
    trained = ember.nn.Embedding.from_pretrained(table, freeze=False, padding_idx=0)
    assert trained.weight.requires_grad and trained.padding_idx == 0
    assert repr(trained) == repr(torch.nn.Embedding.from_pretrained(
        torch.tensor([[1.0, 2.0], [3.0, 4.0]]), freeze=False, padding_idx=0))
    with pytest.raises(AssertionError, match="Embeddings parameter is expected to be "
                                             "2-dimensional"):
        ember.nn.Embedding.from_pretrained(ember.ones(3))


# ---- embedding_bag ------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("layout", ["2d", "offsets", "offsets_last", "empty_bag"])
@pytest.mark.parametrize("padding_idx", [None, 2])
def test_embedding_bag(mode, layout, padding_idx):
    if layout == "2d":
        idx, offsets, last = [[1, 2, 4], [4, 0, 2]], None, False
    elif layout == "offsets":
        idx, offsets, last = [1, 2, 4, 4, 0, 3, 2], [0, 2, 5], False
    elif layout == "offsets_last":
        idx, offsets, last = [1, 2, 4, 4, 0, 3, 2], [0, 2, 5, 7], True
    else:
        idx, offsets, last = [1, 2, 4, 4], [0, 2, 2], False

    def run(t, w, i, o):
        return t.nn.functional.embedding_bag(i, w, o, mode=mode, include_last_offset=last,
                                             padding_idx=padding_idx)

    compare(run, (Arg((6, 3)), Arg(values=idx, dtype="int64", grad=False),
                  None if offsets is None else Arg(values=offsets, dtype="int64", grad=False)))


def test_embedding_bag_per_sample_weights():
    def run(t, w, i, o, psw):
        return t.nn.functional.embedding_bag(i, w, o, mode="sum", per_sample_weights=psw)

    compare(run, (Arg((5, 3)), Arg(values=[0, 2, 2, 4, 1], dtype="int64", grad=False),
                  Arg(values=[0, 3], dtype="int64", grad=False), Arg((5,))))


def test_embedding_bag_errors():
    for lib in (torch, ember):
        w = lib.ones(4, 2)
        with pytest.raises(ValueError, match="offsets has to be a 1D Tensor but got None"):
            lib.nn.functional.embedding_bag(lib.tensor([0, 1]), w)
        with pytest.raises(ValueError, match="if input is 2D, then offsets has to be None"):
            lib.nn.functional.embedding_bag(lib.tensor([[0, 1]]), w, lib.tensor([0]))
        with pytest.raises(NotImplementedError, match="per_sample_weights is only supported "
                                                      "for mode='sum'"):
            lib.nn.functional.embedding_bag(lib.tensor([[0, 1]]), w, mode="max",
                                            per_sample_weights=lib.ones(1, 2))
        with pytest.raises(ValueError, match="mode has to be one of sum, mean or max"):
            lib.nn.functional.embedding_bag(lib.tensor([[0, 1]]), w, mode="min")


@pytest.mark.parametrize("kwargs", [{}, {"mode": "sum"}, {"mode": "max", "padding_idx": 1},
                                    {"max_norm": 1.0, "norm_type": 1.0},
                                    {"include_last_offset": True}])
def test_embedding_bag_module(kwargs):
    def make(lib):
        return lib.nn.EmbeddingBag(6, 3, **kwargs)

    assert repr(make(ember)) == repr(make(torch))
    offsets = [0, 2, 4] if kwargs.get("include_last_offset") else [0, 2]
    compare_modules(make, (Arg(values=[1, 2, 5, 1], dtype="int64", grad=False),
                           Arg(values=offsets, dtype="int64", grad=False)), what=str(kwargs))


def test_embedding_bag_from_pretrained():
    table = torch.randn(4, 3)
    t = torch.nn.EmbeddingBag.from_pretrained(table, mode="sum")
    e = ember.nn.EmbeddingBag.from_pretrained(ember.tensor(table.numpy()), mode="sum")
    assert not e.weight.requires_grad and repr(e) == repr(t)
    e.load_state_dict(to_ember_state(t))
    idx = [[0, 3], [2, 2]]
    np.testing.assert_allclose(e(ember.tensor(idx)).numpy(), t(torch.tensor(idx)).numpy(),
                               rtol=1e-6)


def test_a_traced_embedding_bag_warns_of_nothing():
    """Its index range check reads the raw array: tracing an EmbeddingBag raises no
    TracerWarning (torch's raises none; the check's bool() raised one), and the traced
    module follows other indices."""
    bag = ember.nn.EmbeddingBag(10, 3, mode="mean")
    idx = ember.tensor([[1, 2, 3], [4, 5, 9]])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ember.jit.TracerWarning)
        traced = ember.jit.trace(bag, idx)
    other = ember.tensor([[0, 7, 7], [8, 2, 6]])
    np.testing.assert_allclose(traced(other).detach().numpy(), bag(other).detach().numpy())
    with pytest.raises(IndexError, match="index out of range"):
        bag(ember.tensor([[0, 10, 1]]))
