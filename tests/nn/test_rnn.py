"""RNN, LSTM, GRU, their cells and nn.utils.rnn against torch: weights copied through
load_state_dict, outputs and gradients compared, packed sequences, errors and reprs."""
import copy
import itertools
import math
import warnings

import numpy as np
import pytest
import torch

import ember
from ember.autograd.gradcheck import gradcheck, gradgradcheck
from ember.nn.utils import rnn as ernn
from torch.nn.utils import rnn as trnn

TOL = {"float32": dict(rtol=1e-5, atol=1e-6), "float64": dict(rtol=1e-10, atol=1e-12)}


def _np(t):
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else t.detach().numpy()


def close(ours, theirs, dtype="float64", what=""):
    assert tuple(ours.shape) == tuple(theirs.shape), f"{what}: {ours.shape} vs {theirs.shape}"
    assert str(ours.dtype) == str(theirs.dtype), f"{what}: {ours.dtype} vs {theirs.dtype}"
    a, b = _np(ours), _np(theirs)
    tol = TOL[dtype]
    # relative to the tensor's scale: float32 sums in another order differ by ~eps * |max|
    atol = max(tol["atol"], tol["rtol"] * float(np.abs(b).max(initial=0.0)))
    np.testing.assert_allclose(a, b, rtol=tol["rtol"], atol=atol, err_msg=what)


def pair(cls, *args, dtype="float64", **kwargs):
    """The same module in torch and ember, ember's weights loaded from torch's state_dict."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = getattr(torch.nn, cls)(*args, **kwargs).to(getattr(torch, dtype))
        e = getattr(ember.nn, cls)(*args, **kwargs).to(getattr(ember, dtype))
    assert list(e.state_dict()) == list(t.state_dict())
    e.load_state_dict({k: ember.tensor(_np(v)) for k, v in t.state_dict().items()})
    return e, t


def both(array, requires_grad=True):
    return (ember.tensor(array, requires_grad=requires_grad),
            torch.tensor(array, requires_grad=requires_grad))


def flat(out):
    """The tensors of a (nested) result; a PackedSequence contributes its data."""
    if isinstance(out, (ernn.PackedSequence, trnn.PackedSequence)):
        return [out.data]
    if isinstance(out, (tuple, list)):
        return [y for x in out for y in flat(x)]
    return [] if out is None else [out]


def hx_pair(h, c):
    """(h, c) pairs made by `both`, regrouped as ((ember h, c), (torch h, c))."""
    return (h[0], c[0]), (h[1], c[1])


def run_both(e, t, inputs, dtype, what):
    """Run both modules on `inputs` (each an (ember, torch) pair); compare outputs and the
    gradients w.r.t. inputs and parameters."""
    results = []
    for k, (lib, m) in enumerate(((ember, e), (torch, t))):
        args = [x[k] for x in inputs]
        outs = flat(m(*args))
        rng = np.random.default_rng(7)
        loss = sum((o * lib.tensor(rng.standard_normal(tuple(o.shape)), dtype=o.dtype)).sum()
                   for o in outs)
        leaves = [a for a in flat(args) if a.requires_grad] + list(m.parameters())
        grads = lib.autograd.grad(loss, leaves, allow_unused=True)
        results.append((m(*args), outs, grads))
    (eo, eouts, egrads), (to, touts, tgrads) = results
    assert len(eouts) == len(touts)
    for i, (a, b) in enumerate(zip(eouts, touts)):
        close(a, b, dtype, f"{what} output {i}")
    params = [n for n, _ in e.named_parameters()]
    names = [f"input {i}" for i in range(len(egrads) - len(params))] + params
    for name, a, b in zip(names, egrads, tgrads):
        close(a, b, dtype, f"{what} grad of {name}")
    return eo, to


# ---- parameters, state_dict, repr ------------------------------------------------------------
CONFIGS = [
    ("RNN", dict()),
    ("RNN", dict(nonlinearity="relu", num_layers=2, bias=False)),
    ("RNN", dict(bidirectional=True, batch_first=True)),
    ("GRU", dict()),
    ("GRU", dict(num_layers=2, bidirectional=True, bias=False)),
    ("LSTM", dict()),
    ("LSTM", dict(num_layers=2, proj_size=2, bidirectional=True)),
    ("LSTM", dict(num_layers=3, batch_first=True, dropout=0.25, bias=False)),
]


@pytest.mark.parametrize("cls,kwargs", CONFIGS)
def test_parameters_match_torch(cls, kwargs):
    e, t = pair(cls, 5, 4, dtype="float32", **kwargs)
    assert [(n, tuple(p.shape)) for n, p in e.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in t.named_parameters()]
    assert e._flat_weights_names == t._flat_weights_names
    assert [n for n in e._flat_weights_names] == list(e.state_dict())
    assert [[tuple(p.shape) for p in ws] for ws in e.all_weights] == \
        [[tuple(p.shape) for p in ws] for ws in t.all_weights]
    assert repr(e) == repr(t)
    assert all(a is b for a, b in zip(e._flat_weights, e.parameters()))


def test_default_init_distribution():
    ember.manual_seed(0)
    m = ember.nn.LSTM(30, 64, num_layers=2, proj_size=16)
    bound = 1 / math.sqrt(64)
    values = np.concatenate([p.detach().numpy().ravel() for p in m.parameters()])
    assert values.min() >= -bound and values.max() <= bound
    assert abs(values.std() - bound / math.sqrt(3)) < 0.01 * bound
    cell = ember.nn.GRUCell(7, 9)
    values = np.concatenate([p.detach().numpy().ravel() for p in cell.parameters()])
    assert np.abs(values).max() <= 1 / 3


def test_flat_weights_follow_assignment_and_dtype_changes():
    m = ember.nn.GRU(3, 2)
    new = ember.nn.Parameter(ember.zeros(6, 2))
    m.weight_hh_l0 = new
    assert m._flat_weights[1] is new and m.all_weights[0][1] is new
    m.double()
    assert all(w.dtype is ember.float64 for w in m._flat_weights)
    out, h = m(ember.ones(4, 1, 3, dtype=ember.float64))
    assert out.dtype is ember.float64
    assert m.flatten_parameters() is None


def test_deepcopy_is_independent():
    e, t = pair("LSTM", 3, 4, num_layers=2)
    c = copy.deepcopy(e)
    assert all(a is not b for a, b in zip(c.parameters(), e.parameters()))
    assert all(a is b for a, b in zip(c._flat_weights, c.parameters()))
    x = ember.ones(2, 1, 3, dtype=ember.float64)
    close(c(x)[0], e(x)[0])
    with ember.no_grad():
        c.weight_ih_l0.zero_()
    assert not np.allclose(_np(c(x)[0]), _np(e(x)[0]))


# ---- forward/backward against torch ----------------------------------------------------------
FULL = [(cls, dict(zip(("num_layers", "bias", "batch_first", "bidirectional"), opts)))
        for cls in ("RNN", "GRU", "LSTM")
        for opts in itertools.product((1, 2), (True, False), (False, True), (False, True))]


@pytest.mark.parametrize("cls,kwargs", FULL, ids=[f"{c}-{k}" for c, k in FULL])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_matches_torch(cls, kwargs, dtype):
    e, t = pair(cls, 3, 4, dtype=dtype, **kwargs)
    rng = np.random.default_rng(0)
    shape = (2, 5, 3) if kwargs["batch_first"] else (5, 2, 3)
    x = both(rng.standard_normal(shape).astype(dtype))
    run_both(e, t, [x], dtype, "no hx")
    layers = kwargs["num_layers"] * (2 if kwargs["bidirectional"] else 1)
    h = both(rng.standard_normal((layers, 2, 4)).astype(dtype))
    if cls == "LSTM":
        c = both(rng.standard_normal((layers, 2, 4)).astype(dtype))
        run_both(e, t, [x, hx_pair(h, c)], dtype, "with hx")
    else:
        run_both(e, t, [x, h], dtype, "with hx")


@pytest.mark.parametrize("kwargs", [dict(), dict(num_layers=2, bidirectional=True),
                                    dict(batch_first=True, bias=False)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lstm_projections(kwargs, dtype):
    e, t = pair("LSTM", 3, 5, proj_size=2, dtype=dtype, **kwargs)
    rng = np.random.default_rng(1)
    x = both(rng.standard_normal((4, 4, 3)).astype(dtype))
    out, _ = run_both(e, t, [x], dtype, "proj")
    assert out[0].shape[-1] == 2 * (2 if kwargs.get("bidirectional") else 1)
    layers = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    h = both(rng.standard_normal((layers, 4, 2)).astype(dtype))
    c = both(rng.standard_normal((layers, 4, 5)).astype(dtype))
    run_both(e, t, [x, hx_pair(h, c)], dtype, "proj with hx")


@pytest.mark.parametrize("cls", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_unbatched_input(cls, batch_first):
    e, t = pair(cls, 3, 4, num_layers=2, bidirectional=True, batch_first=batch_first)
    rng = np.random.default_rng(2)
    x = both(rng.standard_normal((5, 3)))
    out, _ = run_both(e, t, [x], "float64", "unbatched")
    assert tuple(out[0].shape) == (5, 8)
    h = both(rng.standard_normal((4, 4)))
    run_both(e, t, [x, hx_pair(h, both(rng.standard_normal((4, 4)))) if cls == "LSTM" else h],
             "float64", "unbatched hx")


def test_relu_rnn_and_reverse_direction_gradients():
    e, t = pair("RNN", 2, 3, nonlinearity="relu", bidirectional=True, num_layers=2)
    x = both(np.random.default_rng(3).standard_normal((6, 2, 2)))
    run_both(e, t, [x], "float64", "relu")


def test_eval_mode_ignores_dropout_and_train_mode_applies_it():
    e, t = pair("LSTM", 3, 8, num_layers=3, dropout=0.5)
    x = both(np.random.default_rng(4).standard_normal((5, 4, 3)))
    e.eval()
    t.eval()
    run_both(e, t, [x], "float64", "eval")
    e.train()
    ember.manual_seed(0)
    a = e(x[0])[0]
    ember.manual_seed(0)
    b = e(x[0])[0]
    c = e(x[0])[0]
    close(a, b)
    assert not np.allclose(_np(a), _np(c))
    e.dropout = 1.0
    out, (h, cell) = e(x[0])
    second = _np(h[1])
    assert not np.allclose(_np(h[0]), _np(h[0])[:1])
    np.testing.assert_allclose(second, np.broadcast_to(second[:1], second.shape))


def test_double_backward_matches_torch():
    """create_graph=True takes the differentiable path; second derivatives match torch."""
    for cls in ("LSTM", "GRU", "RNN"):
        e, t = pair(cls, 2, 3, bidirectional=True)
        x = both(np.random.default_rng(5).standard_normal((3, 2, 2)))
        grads = []
        for k, (lib, m) in enumerate(((ember, e), (torch, t))):
            out = m(x[k])[0]
            (g,) = lib.autograd.grad((out * out).sum(), x[k], create_graph=True)
            second = lib.autograd.grad((g * g).sum(), [x[k]] + list(m.parameters()))
            grads.append([g] + list(second))
        for a, b in zip(*grads):
            close(a, b, "float64", cls)


def test_gradgradcheck_through_layers():
    w = [ember.randn(8, 2, dtype=ember.float64) * 0.5, ember.randn(8, 1, dtype=ember.float64),
         ember.randn(1, 2, dtype=ember.float64)]
    x = ember.randn(3, 2, 2, dtype=ember.float64, requires_grad=True)
    h = ember.randn(1, 2, 1, dtype=ember.float64, requires_grad=True)
    c = ember.randn(1, 2, 2, dtype=ember.float64, requires_grad=True)
    fn = lambda x, h, c, *w: ember.lstm(x, (h, c), w, False, 1, 0.0, True, False, False)  # noqa
    params = [p.requires_grad_() for p in w]
    assert gradcheck(fn, (x, h, c, *params))
    assert gradgradcheck(fn, (x, h, c, *params))


# ---- packed sequences -------------------------------------------------------------------------
@pytest.mark.parametrize("cls,kwargs", [
    ("LSTM", dict()), ("LSTM", dict(num_layers=2, bidirectional=True, proj_size=2)),
    ("GRU", dict(bidirectional=True, batch_first=True)), ("RNN", dict(num_layers=2)),
    ("RNN", dict(nonlinearity="relu", bidirectional=True))])
@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_packed_sequences(cls, kwargs, enforce_sorted, dtype):
    e, t = pair(cls, 3, 4, dtype=dtype, **kwargs)
    batch_first = kwargs.get("batch_first", False)
    lengths = [5, 4, 4, 2] if enforce_sorted else [2, 5, 1, 4]
    rng = np.random.default_rng(6)
    shape = (4, 5, 3) if batch_first else (5, 4, 3)
    x = both(rng.standard_normal(shape).astype(dtype))
    packed = (ernn.pack_padded_sequence(x[0], lengths, batch_first, enforce_sorted),
              trnn.pack_padded_sequence(x[1], lengths, batch_first, enforce_sorted))
    # leaf data, so each run_both call differentiates w.r.t. a leaf
    packed = tuple(type(p)(p.data.detach().requires_grad_(), *p[1:]) for p in packed)
    (out, _), (tout, _) = run_both(e, t, [packed], dtype, "packed")
    assert isinstance(out, ernn.PackedSequence)
    assert out.batch_sizes.tolist() == tout.batch_sizes.tolist()
    for a, b in ((out.sorted_indices, tout.sorted_indices),
                 (out.unsorted_indices, tout.unsorted_indices)):
        assert (a is None and b is None) or a.tolist() == b.tolist()
    padded, lens = ernn.pad_packed_sequence(out, batch_first)
    tpadded, tlens = trnn.pad_packed_sequence(tout, batch_first)
    close(padded, tpadded, dtype)
    assert lens.tolist() == tlens.tolist() == lengths
    layers = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    h = both(rng.standard_normal((layers, 4, kwargs.get("proj_size") or 4)).astype(dtype))
    if cls == "LSTM":
        c = both(rng.standard_normal((layers, 4, 4)).astype(dtype))
        run_both(e, t, [packed, hx_pair(h, c)], dtype, "packed with hx")
    else:
        run_both(e, t, [packed, h], dtype, "packed with hx")


def test_packed_equals_unpadded_runs():
    """Each sequence of a packed batch gets the result of running it alone."""
    m = ember.nn.GRU(2, 3, bidirectional=True).double()
    seqs = [ember.randn(n, 2, dtype=ember.float64) for n in (3, 5, 1)]
    out, h = m(ernn.pack_sequence(seqs, enforce_sorted=False))
    outs = ernn.unpack_sequence(out)
    for k, s in enumerate(seqs):
        alone, h_alone = m(s)
        close(outs[k], alone)
        close(h[:, k], h_alone)


# ---- cells ------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls,kwargs", [("RNNCell", dict()), ("RNNCell", dict(bias=False)),
                                        ("RNNCell", dict(nonlinearity="relu")),
                                        ("LSTMCell", dict()), ("LSTMCell", dict(bias=False)),
                                        ("GRUCell", dict()), ("GRUCell", dict(bias=False))])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cells_match_torch(cls, kwargs, dtype):
    e, t = pair(cls, 3, 4, dtype=dtype, **kwargs)
    assert repr(e) == repr(t)
    rng = np.random.default_rng(8)
    x = both(rng.standard_normal((2, 3)).astype(dtype))
    run_both(e, t, [x], dtype, "no hx")
    h = both(rng.standard_normal((2, 4)).astype(dtype))
    hx = hx_pair(h, both(rng.standard_normal((2, 4)).astype(dtype))) if cls == "LSTMCell" \
        else h
    run_both(e, t, [x, hx], dtype, "hx")
    xu = both(rng.standard_normal(3).astype(dtype))
    hu = both(rng.standard_normal(4).astype(dtype))
    hxu = hx_pair(hu, both(rng.standard_normal(4).astype(dtype))) if cls == "LSTMCell" \
        else hu
    out, _ = run_both(e, t, [xu, hxu], dtype, "unbatched")
    assert tuple(flat(out)[0].shape) == (4,)


def test_cell_unrolled_equals_layer():
    cell = ember.nn.LSTMCell(2, 3).double()
    layer = ember.nn.LSTM(2, 3).double()
    layer.load_state_dict({k + "_l0": v for k, v in cell.state_dict().items()})
    x = ember.randn(4, 2, 2, dtype=ember.float64)
    h = c = ember.zeros(2, 3, dtype=ember.float64)
    for step in x:
        h, c = cell(step, (h, c))
    out, (hn, cn) = layer(x)
    close(out[-1], h)
    close(cn[0], c)


# ---- errors -----------------------------------------------------------------------------------
def _raises(exc, match, fn):
    with pytest.raises(exc, match=match):
        fn()


def test_forward_errors():
    lstm = ember.nn.LSTM(10, 20, 2)
    _raises(RuntimeError, r"input.size\(-1\) must be equal to input_size. Expected 10, got 8",
            lambda: lstm(ember.randn(5, 3, 8)))
    _raises(ValueError, "LSTM: Expected input to be 2D or 3D, got 4D instead",
            lambda: lstm(ember.randn(5, 3, 10, 2)))
    _raises(RuntimeError, r"Expected hidden\[0\] size \(2, 3, 20\), got \[1, 3, 20\]",
            lambda: lstm(ember.randn(5, 3, 10), (ember.randn(1, 3, 20), ember.randn(2, 3, 20))))
    _raises(RuntimeError, r"Expected hidden\[1\] size \(2, 3, 20\), got \[2, 4, 20\]",
            lambda: lstm(ember.randn(5, 3, 10), (ember.randn(2, 3, 20), ember.randn(2, 4, 20))))
    _raises(RuntimeError, "For unbatched 2-D input, hx and cx should also be 2-D",
            lambda: lstm(ember.randn(5, 10), (ember.randn(2, 3, 20), ember.randn(2, 3, 20))))
    _raises(RuntimeError, "For batched 3-D input, hx and cx should also be 3-D",
            lambda: lstm(ember.randn(5, 3, 10), (ember.randn(2, 20), ember.randn(2, 20))))
    _raises(ValueError, r"RNN input dtype \(torch.float64\) does not match weight dtype",
            lambda: lstm(ember.randn(5, 3, 10, dtype=ember.float64)))
    gru = ember.nn.GRU(10, 20)
    _raises(RuntimeError, r"Expected hidden size \(1, 3, 20\), got \[2, 3, 20\]",
            lambda: gru(ember.randn(5, 3, 10), ember.randn(2, 3, 20)))
    _raises(RuntimeError, "For batched 3-D input, hx should also be 3-D but got 2-D tensor",
            lambda: gru(ember.randn(5, 3, 10), ember.randn(3, 20)))
    _raises(ValueError, "GRU: Expected input to be 2D or 3D, got 1D instead",
            lambda: gru(ember.randn(10)))
    _raises(ValueError, "RNN: Expected input to be 2D or 3D",
            lambda: ember.nn.RNN(2, 2)(ember.randn(1, 1, 1, 2)))


@pytest.mark.parametrize("cls", ["RNN", "LSTM"])
def test_lower_precision_input_in_autocast_region_matches_torch(cls):
    """In an autocast region a bfloat16 input may meet float32 weights, as torch allows (ember
    raised the dtype-mismatch error meant for code outside a region)."""
    e, t = pair(cls, 3, 4, dtype="float32")
    x = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)
    results = []
    for lib, module in ((ember, e), (torch, t)):
        with lib.autocast("cpu", dtype=lib.bfloat16):
            results.append(module(lib.tensor(x).bfloat16())[0])
    assert str(results[0].dtype) == str(results[1].dtype) == "torch.bfloat16"
    np.testing.assert_allclose(_np(results[0].float()), _np(results[1].float()), atol=0.03)


def test_constructor_errors():
    _raises(ValueError, "Unknown nonlinearity 'foo'", lambda: ember.nn.RNN(10, 20,
                                                                          nonlinearity="foo"))
    _raises(ValueError, "proj_size argument is only supported for LSTM",
            lambda: ember.nn.RNN(10, 20, proj_size=3))
    _raises(ValueError, "proj_size argument is only supported for LSTM",
            lambda: ember.nn.GRU(10, 20, proj_size=3))
    _raises(ValueError, "proj_size has to be smaller than hidden_size",
            lambda: ember.nn.LSTM(10, 20, proj_size=20))
    _raises(ValueError, "proj_size should be a positive integer",
            lambda: ember.nn.LSTM(10, 20, proj_size=-1))
    _raises(ValueError, "hidden_size must be greater than zero", lambda: ember.nn.LSTM(10, 0))
    _raises(ValueError, "num_layers must be greater than zero",
            lambda: ember.nn.LSTM(10, 20, num_layers=0))
    for bad in (2, True, -0.1):
        _raises(ValueError, "dropout should be a number in range",
                lambda bad=bad: ember.nn.LSTM(10, 20, dropout=bad))
    _raises(TypeError, "input_size should be of type int, got: float",
            lambda: ember.nn.LSTM(10.0, 20))
    _raises(TypeError, "hidden_size should be of type int, got: float",
            lambda: ember.nn.GRU(10, 20.0))
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        ember.nn.LSTM(10, 20, dropout=0.5)


def test_cell_errors():
    cell = ember.nn.LSTMCell(10, 20)
    _raises(RuntimeError, "input has inconsistent input_size: got 8 expected 10",
            lambda: cell(ember.randn(3, 8)))
    _raises(RuntimeError, "Input batch size 3 doesn't match hidden0 batch size 4",
            lambda: cell(ember.randn(3, 10), (ember.randn(4, 20), ember.randn(3, 20))))
    _raises(RuntimeError, "hidden0 has inconsistent hidden_size: got 21, expected 20",
            lambda: cell(ember.randn(3, 10), (ember.randn(3, 21), ember.randn(3, 20))))
    _raises(RuntimeError, "hidden1 has inconsistent hidden_size: got 19, expected 20",
            lambda: cell(ember.randn(3, 10), (ember.randn(3, 20), ember.randn(3, 19))))
    _raises(ValueError, "LSTMCell: Expected input to be 1D or 2D, got 3D instead",
            lambda: cell(ember.randn(3, 10, 1)))
    _raises(ValueError, "GRUCell: Expected hidden to be 1D or 2D, got 3D instead",
            lambda: ember.nn.GRUCell(2, 2)(ember.randn(3, 2), ember.randn(1, 3, 2)))
    _raises(RuntimeError, "Unknown nonlinearity: x",
            lambda: ember.nn.RNNCell(3, 4, nonlinearity="x")(ember.randn(2, 3)))


# ---- nn.utils.rnn -----------------------------------------------------------------------------
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths,enforce_sorted", [([4, 2, 2], True), ([2, 4, 1], False),
                                                    (ember.tensor([1, 3, 3]), False)])
def test_pack_and_pad_roundtrip_matches_torch(batch_first, lengths, enforce_sorted):
    rng = np.random.default_rng(9)
    shape = (3, 4, 2) if batch_first else (4, 3, 2)
    x = both(rng.standard_normal(shape))
    tlengths = torch.tensor(lengths.tolist()) if isinstance(lengths, ember.Tensor) else lengths
    pe = ernn.pack_padded_sequence(x[0], lengths, batch_first, enforce_sorted)
    pt = trnn.pack_padded_sequence(x[1], tlengths, batch_first, enforce_sorted)
    close(pe.data, pt.data)
    assert pe.batch_sizes.tolist() == pt.batch_sizes.tolist()
    assert str(pe.batch_sizes.dtype) == str(pt.batch_sizes.dtype) == "torch.int64"
    for total in (None, 6):
        ue, le = ernn.pad_packed_sequence(pe, batch_first, -1.5, total)
        ut, lt = trnn.pad_packed_sequence(pt, batch_first, -1.5, total)
        close(ue, ut)
        assert le.tolist() == lt.tolist()
    (ue * ue).sum().backward()
    (ut * ut).sum().backward()
    close(x[0].grad, x[1].grad)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_matches_torch(batch_first, padding_side):
    rng = np.random.default_rng(10)
    seqs = [both(rng.standard_normal((n, 2))) for n in (2, 5, 3)]
    e = ernn.pad_sequence([s[0] for s in seqs], batch_first, 7.0, padding_side)
    t = trnn.pad_sequence([s[1] for s in seqs], batch_first, 7.0, padding_side)
    close(e, t)
    (e * e).sum().backward()
    (t * t).sum().backward()
    for a, b in seqs:
        close(a.grad, b.grad)
    lengths = ember.tensor([2, 5, 3])
    for piece, s in zip(ernn.unpad_sequence(e, lengths, batch_first), seqs):
        if padding_side == "right":
            close(piece, s[1])


def test_pack_sequence_and_unpack():
    seqs = [ember.tensor([1, 2, 3]), ember.tensor([4, 5]), ember.tensor([6])]
    p = ernn.pack_sequence(seqs)
    tp = trnn.pack_sequence([torch.tensor(s.tolist()) for s in seqs])
    assert p.data.tolist() == tp.data.tolist() and p.batch_sizes.tolist() == [3, 2, 1]
    back = ernn.unpack_sequence(ernn.pack_sequence(seqs[::-1], enforce_sorted=False))
    assert [b.tolist() for b in back] == [s.tolist() for s in seqs[::-1]]


def test_packed_sequence_type():
    p = ernn.pack_padded_sequence(ember.ones(3, 2, 2), [3, 1])
    assert p._fields == ("data", "batch_sizes", "sorted_indices", "unsorted_indices")
    data, batch_sizes, sorted_indices, unsorted_indices = p
    assert sorted_indices is None and unsorted_indices is None
    d = p.double()
    assert d.data.dtype is ember.float64 and d.batch_sizes is p.batch_sizes
    assert p.to(ember.float32) is p and not p.is_cuda and not p.is_pinned()
    q = ernn.PackedSequence(p.data, p.batch_sizes, ember.tensor([1, 0]))
    assert q.unsorted_indices.tolist() == [1, 0]
    assert ernn.PackedSequence((p.data, p.batch_sizes)).batch_sizes is p.batch_sizes
    assert repr(q).startswith("PackedSequence(data=tensor(")
    assert ernn.invert_permutation(ember.tensor([2, 0, 1])).tolist() == [1, 2, 0]
    assert ernn.invert_permutation(None) is None


def test_utils_errors():
    x = ember.randn(4, 3, 2)
    _raises(RuntimeError, "`lengths` array must be sorted in decreasing order",
            lambda: ernn.pack_padded_sequence(x, [3, 4, 1]))
    _raises(RuntimeError, "Length of all samples has to be greater than 0",
            lambda: ernn.pack_padded_sequence(x, [3, 0, 1], enforce_sorted=False))
    _raises(RuntimeError, r"Expected `len\(lengths\)` to be equal to batch_size, but got 2",
            lambda: ernn.pack_padded_sequence(x, [4, 1]))
    _raises(RuntimeError, "exceeds the 4 time steps",
            lambda: ernn.pack_padded_sequence(x, [5, 4, 1]))
    p = ernn.pack_padded_sequence(x, [4, 2, 1])
    _raises(ValueError, "Expected total_length to be at least the length of the longest",
            lambda: ernn.pad_packed_sequence(p, total_length=3))
    _raises(RuntimeError, "received an empty list of sequences", lambda: ernn.pad_sequence([]))
    _raises(RuntimeError, "trailing shape", lambda: ernn.pad_sequence([ember.ones(2, 3),
                                                                       ember.ones(1, 2)]))
    _raises(ValueError, "Expected padding_side to be one of left or right, but got middle.",
            lambda: ernn.pad_sequence([ember.ones(2)], padding_side="middle"))
