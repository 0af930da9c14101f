"""Transformer layers, stacks and the full Transformer against torch: state_dict keys, reprs,
outputs and gradients for every option and mask, deep-copied layers, the causal mask."""
import copy

import numpy as np
import pytest
import torch

import ember

TOL = {"float32": dict(rtol=1e-5, atol=1e-6), "float64": dict(rtol=1e-10, atol=1e-12)}


def _np(t):
    return t.detach().numpy()


def close(ours, theirs, dtype="float64", what=""):
    assert tuple(ours.shape) == tuple(theirs.shape), f"{what}: {ours.shape} vs {theirs.shape}"
    assert str(ours.dtype) == str(theirs.dtype), f"{what}: {ours.dtype} vs {theirs.dtype}"
    a, b = _np(ours), _np(theirs)
    tol = TOL[dtype]
    atol = max(tol["atol"], tol["rtol"] * float(np.abs(b).max(initial=0.0)))
    np.testing.assert_allclose(a, b, rtol=tol["rtol"], atol=atol, err_msg=what)


def same_repr(e, t):
    """Reprs equal module by module. Modules holding a ModuleList are compared by their own
    line and children's names (nn.ModuleList's repr folding is not ours to test), and
    LayerNorm's text comes from nn.LayerNorm's own repr."""
    for (name, em), (_, tm) in zip(e.named_modules(), t.named_modules()):
        assert type(em).__name__ == type(tm).__name__, name
        if any(isinstance(c, ember.nn.ModuleList) for c in em.modules()):
            assert em.extra_repr() == tm.extra_repr(), name
            assert [n for n, _ in em.named_children()] == [n for n, _ in tm.named_children()]
            continue
        ours, theirs = repr(em), repr(tm)
        for eps in (1e-5, 1e-3):
            for bias in (True, False):
                theirs = theirs.replace(repr(torch.nn.LayerNorm(8, eps=eps, bias=bias)),
                                        repr(ember.nn.LayerNorm(8, eps=eps, bias=bias)))
        assert ours == theirs, name


def pair(build, dtype="float64"):
    """build(lib) in torch and ember; ember gets torch's weights through load_state_dict."""
    t = build(torch).to(getattr(torch, dtype))
    e = build(ember).to(getattr(ember, dtype))
    assert list(e.state_dict()) == list(t.state_dict())
    e.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    same_repr(e, t)
    return e, t


def both(array, requires_grad=True):
    grad = requires_grad and array.dtype.kind == "f"
    return ember.tensor(array, requires_grad=grad), torch.tensor(array, requires_grad=grad)


def compare(e, t, inputs, kwargs=None, dtype="float64"):
    """Module outputs and gradients (inputs and parameters) against torch."""
    kwargs = kwargs or {}
    results = []
    for k, (lib, m) in enumerate(((ember, e), (torch, t))):
        args = [x[k] for x in inputs]
        kw = {n: (v[k] if isinstance(v, tuple) else v) for n, v in kwargs.items()}
        out = m(*args, **kw)
        rng = np.random.default_rng(3)
        loss = (out * lib.tensor(rng.standard_normal(tuple(out.shape)), dtype=out.dtype)).sum()
        leaves = [a for a in args if a.requires_grad] + list(m.parameters())
        results.append((out, lib.autograd.grad(loss, leaves, allow_unused=True)))
    (eo, eg), (to, tg) = results
    close(eo, to, dtype, "output")
    names = [f"input {i}" for i in range(len(eg) - len(list(e.parameters())))] + \
        [n for n, _ in e.named_parameters()]
    for name, a, b in zip(names, eg, tg):
        if b is None:
            assert a is None or np.allclose(_np(a), 0), name
        else:
            close(a, b, dtype, name)
    return eo, to


LAYER_OPTIONS = [dict(), dict(norm_first=True), dict(activation="gelu", batch_first=True),
                 dict(bias=False, layer_norm_eps=1e-3), dict(norm_first=True, batch_first=True,
                                                             activation="gelu")]


@pytest.mark.parametrize("options", LAYER_OPTIONS, ids=[str(o) for o in LAYER_OPTIONS])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_encoder_layer(options, dtype):
    e, t = pair(lambda lib: lib.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, **options),
                dtype)
    rng = np.random.default_rng(0)
    bf = options.get("batch_first", False)
    x = both(rng.standard_normal((3, 5, 8) if bf else (5, 3, 8)).astype(dtype))
    compare(e, t, [x], dtype=dtype)
    kpm = rng.random((3, 5)) > 0.6
    kpm[:, 0] = False
    causal = (ember.nn.Transformer.generate_square_subsequent_mask(5, dtype=getattr(ember, dtype)),
              torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=getattr(torch, dtype)))
    compare(e, t, [x], dict(src_mask=causal, src_key_padding_mask=both(kpm, False)),
            dtype=dtype)
    compare(e, t, [x], dict(src_mask=causal, is_causal=True), dtype=dtype)
    float_kpm = both(np.where(kpm, -np.inf, 0.0).astype(dtype), False)
    compare(e, t, [x], dict(src_key_padding_mask=float_kpm), dtype=dtype)


@pytest.mark.parametrize("options", LAYER_OPTIONS, ids=[str(o) for o in LAYER_OPTIONS])
def test_decoder_layer(options):
    e, t = pair(lambda lib: lib.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, **options))
    rng = np.random.default_rng(1)
    bf = options.get("batch_first", False)
    tgt = both(rng.standard_normal((2, 4, 8) if bf else (4, 2, 8)))
    mem = both(rng.standard_normal((2, 6, 8) if bf else (6, 2, 8)))
    compare(e, t, [tgt, mem])
    causal = (ember.nn.Transformer.generate_square_subsequent_mask(4, dtype=ember.float64),
              torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64))
    mkpm = both(np.array([[False, False, True, False, True, True], [False] * 6]), False)
    tkpm = both(np.array([[False, False, False, True], [False, True, False, False]]), False)
    memory_mask = both(rng.random((4, 6)) > 0.8, False)
    compare(e, t, [tgt, mem], dict(tgt_mask=causal, tgt_key_padding_mask=tkpm,
                                   memory_key_padding_mask=mkpm, memory_mask=memory_mask))
    compare(e, t, [tgt, mem], dict(tgt_mask=causal, tgt_is_causal=True))


def test_callable_activations():
    for act in (lambda lib: lib.nn.GELU(approximate="tanh"), lambda lib: lib.nn.ReLU(),
                lambda lib: lib.nn.functional.silu):
        e, t = pair(lambda lib, act=act: lib.nn.TransformerEncoderLayer(
            8, 2, 16, dropout=0.0, activation=act(lib)))
        assert e.activation_relu_or_gelu == t.activation_relu_or_gelu
        x = both(np.random.default_rng(2).standard_normal((4, 2, 8)))
        compare(e, t, [x])
    assert ember.nn.TransformerEncoderLayer(8, 2, activation="gelu").activation_relu_or_gelu == 2
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        ember.nn.TransformerEncoderLayer(8, 2, activation="tanh")


@pytest.mark.parametrize("enable_nested_tensor", [True, False])
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_stack(enable_nested_tensor, batch_first):
    def build(lib):
        layer = lib.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=batch_first)
        return lib.nn.TransformerEncoder(layer, 2, norm=lib.nn.LayerNorm(8),
                                         enable_nested_tensor=enable_nested_tensor)
    e, t = pair(build)
    assert e.layers[0] is not e.layers[1]
    assert e.layers[0].linear1.weight is not e.layers[1].linear1.weight
    rng = np.random.default_rng(3)
    x = both(rng.standard_normal((2, 5, 8) if batch_first else (5, 2, 8)))
    kpm = both(np.array([[False, False, False, True, True], [False] * 5]), False)
    causal = (ember.nn.Transformer.generate_square_subsequent_mask(5, dtype=ember.float64),
              torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64))
    compare(e, t, [x], dict(src_key_padding_mask=kpm))
    compare(e, t, [x], dict(mask=causal))
    compare(e, t, [x], dict(mask=causal, is_causal=True))
    bool_causal = both(np.triu(np.ones((5, 5), dtype=bool), 1), False)
    compare(e, t, [x], dict(mask=bool_causal, src_key_padding_mask=kpm))


def test_encoder_inference_padding_positions_are_computed():
    """enable_nested_tensor is ignored: padded positions get values, the rest match torch."""
    def build(lib):
        layer = lib.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
        return lib.nn.TransformerEncoder(layer, 2, enable_nested_tensor=True)
    e, t = pair(build)
    e.eval()
    t.eval()
    x = np.random.default_rng(4).standard_normal((2, 5, 8))
    kpm = np.array([[False, False, False, True, True], [False] * 5])
    with ember.no_grad():
        ours = e(ember.tensor(x), src_key_padding_mask=ember.tensor(kpm))
    with torch.no_grad():
        theirs = t(torch.tensor(x), src_key_padding_mask=torch.tensor(kpm))
    keep = ~kpm
    np.testing.assert_allclose(_np(ours)[keep], theirs.numpy()[keep], rtol=1e-10, atol=1e-12)
    assert np.all(np.isfinite(_np(ours)))


def test_decoder_stack():
    def build(lib):
        layer = lib.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, norm_first=True)
        return lib.nn.TransformerDecoder(layer, 3, norm=lib.nn.LayerNorm(8))
    e, t = pair(build)
    rng = np.random.default_rng(5)
    tgt, mem = both(rng.standard_normal((4, 2, 8))), both(rng.standard_normal((6, 2, 8)))
    causal = (ember.nn.Transformer.generate_square_subsequent_mask(4, dtype=ember.float64),
              torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64))
    compare(e, t, [tgt, mem], dict(tgt_mask=causal))
    compare(e, t, [tgt, mem], dict(tgt_mask=causal, tgt_is_causal=False))


@pytest.mark.parametrize("options", [dict(), dict(batch_first=True, norm_first=True),
                                     dict(activation="gelu", bias=False)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_transformer(options, dtype):
    e, t = pair(lambda lib: lib.nn.Transformer(8, 2, 2, 2, 16, dropout=0.0, **options), dtype)
    rng = np.random.default_rng(6)
    bf = options.get("batch_first", False)
    src = both(rng.standard_normal((2, 5, 8) if bf else (5, 2, 8)).astype(dtype))
    tgt = both(rng.standard_normal((2, 4, 8) if bf else (4, 2, 8)).astype(dtype))
    skpm = both(np.array([[False, False, False, False, True], [False] * 5]), False)
    causal = (ember.nn.Transformer.generate_square_subsequent_mask(4, dtype=getattr(ember, dtype)),
              torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=getattr(torch, dtype)))
    compare(e, t, [src, tgt], dict(tgt_mask=causal, src_key_padding_mask=skpm,
                                   memory_key_padding_mask=skpm), dtype=dtype)
    assert (e.d_model, e.nhead, e.batch_first) == (8, 2, bf)


def test_transformer_unbatched():
    e, t = pair(lambda lib: lib.nn.Transformer(8, 2, 1, 1, 16, dropout=0.0))
    rng = np.random.default_rng(7)
    src, tgt = both(rng.standard_normal((5, 8))), both(rng.standard_normal((3, 8)))
    out, _ = compare(e, t, [src, tgt])
    assert tuple(out.shape) == (3, 8)


def test_transformer_custom_encoder_decoder_and_errors():
    def build(lib):
        enc = lib.nn.TransformerEncoder(lib.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0), 1)
        dec = lib.nn.TransformerDecoder(lib.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0), 1)
        return lib.nn.Transformer(8, 2, custom_encoder=enc, custom_decoder=dec)
    e, t = pair(build)
    assert e.encoder.norm is None
    rng = np.random.default_rng(8)
    compare(e, t, [both(rng.standard_normal((5, 2, 8))), both(rng.standard_normal((3, 2, 8)))])
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        e(ember.ones(5, 2, 8), ember.ones(3, 3, 8))
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal"):
        e(ember.ones(5, 2, 8), ember.ones(3, 2, 6))


def test_transformer_init_and_dropout():
    ember.manual_seed(0)
    m = ember.nn.Transformer(16, 2, 1, 1, 32)
    w = m.encoder.layers[0].linear1.weight.detach().numpy()
    bound = np.sqrt(6 / (16 + 32))
    assert np.abs(w).max() <= bound and abs(w.std() - bound / np.sqrt(3)) < 0.1 * bound
    np.testing.assert_array_equal(m.encoder.norm.weight.detach().numpy(), 1.0)
    src, tgt = ember.randn(5, 2, 16), ember.randn(3, 2, 16)
    ember.manual_seed(1)
    a = m(src, tgt)
    ember.manual_seed(1)
    b = m(src, tgt)
    close(a, b, "float32")
    m.eval()
    assert not np.allclose(_np(m(src, tgt)), _np(a))


def test_generate_square_subsequent_mask():
    for args in ((4,), (3,)):
        ours = ember.nn.Transformer.generate_square_subsequent_mask(*args)
        theirs = torch.nn.Transformer.generate_square_subsequent_mask(*args)
        assert ours.dtype is ember.float32
        np.testing.assert_array_equal(_np(ours), theirs.numpy())
    double = ember.nn.Transformer.generate_square_subsequent_mask(2, dtype=ember.float64)
    assert double.dtype is ember.float64 and double.tolist() == [[0.0, float("-inf")],
                                                                 [0.0, 0.0]]


def test_layers_deepcopy():
    layer = ember.nn.TransformerDecoderLayer(8, 2, 16)
    clone = copy.deepcopy(layer)
    assert all(a is not b for a, b in zip(layer.parameters(), clone.parameters()))
    assert [n for n, _ in layer.named_parameters()] == [n for n, _ in clone.named_parameters()]
    for a, b in zip(layer.parameters(), clone.parameters()):
        np.testing.assert_array_equal(_np(a), _np(b))
        assert type(b) is ember.nn.Parameter and b.requires_grad
    with ember.no_grad():
        clone.linear1.weight.zero_()
    assert layer.linear1.weight.abs().sum().item() > 0
    assert clone.activation is layer.activation
