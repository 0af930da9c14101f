"""scaled_dot_product_attention, multi_head_attention_forward and nn.MultiheadAttention against
torch: outputs and gradients for every mask kind and option, errors, state_dict and repr."""
import itertools
import math
import warnings

import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as EF
import torch.nn.functional as TF

TOL = {"float32": dict(rtol=1e-5, atol=1e-6), "float64": dict(rtol=1e-10, atol=1e-12)}


def _np(t):
    return t.detach().numpy()


def close(ours, theirs, dtype="float64", what=""):
    assert tuple(ours.shape) == tuple(theirs.shape), f"{what}: {ours.shape} vs {theirs.shape}"
    assert str(ours.dtype) == str(theirs.dtype), f"{what}: {ours.dtype} vs {theirs.dtype}"
    a, b = _np(ours), _np(theirs)
    tol = TOL[dtype]
    # relative to the tensor's scale: float32 sums in another order differ by ~eps * |max|
    atol = max(tol["atol"], tol["rtol"] * float(np.abs(b).max(initial=0.0)))
    np.testing.assert_allclose(a, b, rtol=tol["rtol"], atol=atol, err_msg=what)


def both(array, requires_grad=True):
    grad = requires_grad and array.dtype.kind == "f"
    return ember.tensor(array, requires_grad=grad), torch.tensor(array, requires_grad=grad)


def compare(fn_e, fn_t, inputs, dtype="float64", params=((), ())):
    """fn(*inputs) in both libraries: outputs and gradients (inputs and params) must match."""
    results = []
    for k, (lib, fn) in enumerate(((ember, fn_e), (torch, fn_t))):
        args = [x[k] if isinstance(x, tuple) else x for x in inputs]
        out = fn(*args)
        outs = [o for o in (out if isinstance(out, tuple) else (out,)) if o is not None]
        rng = np.random.default_rng(3)
        loss = sum((o * lib.tensor(rng.standard_normal(tuple(o.shape)), dtype=o.dtype)).sum()
                   for o in outs)
        leaves = [a for a in args if isinstance(a, (ember.Tensor, torch.Tensor))
                  and a.requires_grad] + list(params[k])
        results.append((outs, lib.autograd.grad(loss, leaves, allow_unused=True)))
    (eo, eg), (to, tg) = results
    assert len(eo) == len(to)
    for i, (a, b) in enumerate(zip(eo, to)):
        close(a, b, dtype, f"output {i}")
    for i, (a, b) in enumerate(zip(eg, tg)):
        if b is None:
            assert a is None or np.allclose(_np(a), 0)
        else:
            close(a, b, dtype, f"grad {i}")
    return eo, to


# ---- scaled_dot_product_attention --------------------------------------------------------------
def sdpa(lib, **kwargs):
    f = (EF if lib is ember else TF).scaled_dot_product_attention
    return lambda q, k, v, m=None: f(q, k, v, attn_mask=m, **kwargs)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [((3, 4), (5, 4), (5, 2)), ((2, 3, 4), (2, 5, 4), (2, 5, 3)),
                                   ((2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 6))])
def test_sdpa_plain(dtype, shape):
    rng = np.random.default_rng(0)
    q, k, v = (both(rng.standard_normal(s).astype(dtype)) for s in shape)
    compare(sdpa(ember), sdpa(torch), [q, k, v], dtype)
    compare(sdpa(ember, scale=0.37), sdpa(torch, scale=0.37), [q, k, v], dtype)


@pytest.mark.parametrize("mask_shape", [(3, 5), (1, 5), (2, 1, 3, 5), (2, 2, 3, 5)])
@pytest.mark.parametrize("kind", ["bool", "float"])
def test_sdpa_masks(mask_shape, kind):
    rng = np.random.default_rng(1)
    q, k, v = (both(rng.standard_normal(s)) for s in ((2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 3)))
    if kind == "bool":
        mask = rng.random(mask_shape) > 0.3
        mask[..., 0, :] = False
    else:
        mask = rng.standard_normal(mask_shape)
        mask[..., 0, :] = -np.inf
    m = both(mask, requires_grad=False)
    compare(sdpa(ember), sdpa(torch), [q, k, v, m])
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when "
                                           "is_causal=True"):
        EF.scaled_dot_product_attention(q[0], k[0], v[0], attn_mask=m[0], is_causal=True)


def test_sdpa_fully_masked_rows_give_zeros_and_finite_grads():
    rng = np.random.default_rng(2)
    q, k, v = (both(rng.standard_normal((1, 3, 2))) for _ in range(3))
    mask = both(np.array([[True, False, False], [False, False, False], [True, True, True]]),
                requires_grad=False)
    out, _ = compare(sdpa(ember), sdpa(torch), [q, k, v, mask])
    np.testing.assert_array_equal(_np(out[0])[0, 1], 0.0)
    fmask = both(np.where(mask[1].numpy(), 0.0, -np.inf), requires_grad=False)
    compare(sdpa(ember), sdpa(torch), [q, k, v, fmask])


def test_sdpa_causal_rectangular_and_gqa():
    rng = np.random.default_rng(3)
    q, k, v = (both(rng.standard_normal(s)) for s in ((1, 4, 3, 2), (1, 2, 5, 2), (1, 2, 5, 3)))
    compare(sdpa(ember, is_causal=True, enable_gqa=True),
            sdpa(torch, is_causal=True, enable_gqa=True), [q, k, v])
    with pytest.raises(RuntimeError, match="must divide the number of query heads"):
        EF.scaled_dot_product_attention(ember.ones(1, 3, 2, 2), ember.ones(1, 2, 2, 2),
                                        ember.ones(1, 2, 2, 2), enable_gqa=True)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("mask", ["causal", "bool"])
def test_sdpa_half_precision_masked_keeps_dtype(dtype, mask):
    """Masked half-precision scores compute in float32 and come back in their dtype, as
    torch's (bfloat16 came back float64 and the product with the values raised)."""
    data = np.random.default_rng(4).standard_normal((2, 4, 8))
    keep = np.tril(np.ones((4, 4), dtype=bool))
    results = []
    for lib in (ember, torch):
        x = lib.tensor(data, dtype=getattr(lib, dtype), requires_grad=True)
        kw = {"is_causal": True} if mask == "causal" else {"attn_mask": lib.tensor(keep)}
        y = lib.nn.functional.scaled_dot_product_attention(x, x, x, **kw)
        y.float().sum().backward()
        assert str(y.dtype) == str(x.grad.dtype) == f"torch.{dtype}"
        results.append((y.float().detach().numpy(), x.grad.float().numpy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, atol=0.05, rtol=0.05)


def test_sdpa_dropout():
    q = ember.ones(1, 4, 50, 8)
    v = ember.randn(1, 4, 50, 8)
    ember.manual_seed(0)
    a = EF.scaled_dot_product_attention(q, q, v, dropout_p=0.5)
    ember.manual_seed(0)
    b = EF.scaled_dot_product_attention(q, q, v, dropout_p=0.5)
    close(a, b, "float32")
    plain = EF.scaled_dot_product_attention(q, q, v)
    assert not np.allclose(_np(a), _np(plain))
    ones = EF.scaled_dot_product_attention(q, q, ember.ones(1, 4, 50, 8), dropout_p=0.25)
    assert abs(ones.mean().item() - 1.0) < 0.05
    zero = EF.scaled_dot_product_attention(q, q, v, dropout_p=1.0)
    np.testing.assert_array_equal(_np(zero), 0.0)


def test_sdpa_errors():
    q = ember.randn(2, 3, 4)
    with pytest.raises(RuntimeError, match="Expected query, key, and value to have the same"):
        EF.scaled_dot_product_attention(q, q, q.double())
    with pytest.raises(RuntimeError, match="Expected attn_mask dtype to be bool or float"):
        EF.scaled_dot_product_attention(q, q, q, attn_mask=ember.zeros(3, 3, dtype=ember.int64))
    with pytest.raises(RuntimeError, match="at least 2-D"):
        EF.scaled_dot_product_attention(q[0, 0], q[0, 0], q[0, 0])
    with pytest.raises(RuntimeError, match="query's last size 4 must equal key's 3"):
        EF.scaled_dot_product_attention(q, q[..., :3], q)


# ---- nn.MultiheadAttention ----------------------------------------------------------------------
def mha_pair(*args, dtype="float64", **kwargs):
    t = torch.nn.MultiheadAttention(*args, **kwargs).to(getattr(torch, dtype))
    e = ember.nn.MultiheadAttention(*args, **kwargs).to(getattr(ember, dtype))
    assert list(e.state_dict()) == list(t.state_dict())
    assert [(n, tuple(p.shape)) for n, p in e.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in t.named_parameters()]
    with torch.no_grad():
        for p in t.parameters():
            p.normal_(0.0, 0.4)
    e.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    assert repr(e) == repr(t)
    return e, t


MHA_CONFIGS = [dict(), dict(bias=False), dict(kdim=3, vdim=5), dict(add_bias_kv=True),
               dict(add_zero_attn=True), dict(add_bias_kv=True, add_zero_attn=True, kdim=3),
               dict(batch_first=True), dict(batch_first=True, kdim=3, vdim=2, bias=False)]


@pytest.mark.parametrize("kwargs", MHA_CONFIGS, ids=[str(k) for k in MHA_CONFIGS])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_mha_options_and_masks(kwargs, dtype):
    e, t = mha_pair(8, 2, dtype=dtype, **kwargs)
    rng = np.random.default_rng(4)
    bf = kwargs.get("batch_first", False)
    shape = lambda n, d: (2, n, d) if bf else (n, 2, d)  # noqa: E731
    q = both(rng.standard_normal(shape(3, 8)).astype(dtype))
    k = both(rng.standard_normal(shape(4, kwargs.get("kdim", 8))).astype(dtype))
    v = both(rng.standard_normal(shape(4, kwargs.get("vdim", 8))).astype(dtype))
    kpm_bool = np.array([[False, True, False, False], [False, False, False, True]])
    masks = {"none": (None, None),
             "kpm_bool": (both(kpm_bool, False), None),
             "kpm_float": (both(np.where(kpm_bool, -1e4, 0.5).astype(dtype), False), None),
             "attn_2d_bool": (None, both(rng.random((3, 4)) > 0.7, False)),
             "attn_3d_float": (None, both(rng.standard_normal((4, 3, 4)).astype(dtype), False)),
             "both_bool": (both(kpm_bool, False), both(rng.random((3, 4)) > 0.7, False))}
    params = (list(e.parameters()), list(t.parameters()))
    for name, (kpm, am) in masks.items():
        for need_weights, average in ((True, True), (True, False), (False, True)):
            def run(module, k_, kpm=kpm, am=am, need_weights=need_weights, average=average):
                return lambda q_, kk, vv: module(
                    q_, kk, vv, key_padding_mask=None if kpm is None else kpm[k_],
                    attn_mask=None if am is None else am[k_], need_weights=need_weights,
                    average_attn_weights=average)
            outs, _ = compare(run(e, 0), run(t, 1), [q, k, v], dtype, params)
            assert len(outs) == (2 if need_weights else 1), name


@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_self_attention_identity_paths(batch_first):
    """query is key is value (packed projection), and key is value (encoder-decoder)."""
    e, t = mha_pair(6, 3, batch_first=batch_first)
    rng = np.random.default_rng(5)
    x = both(rng.standard_normal((2, 4, 6)))
    mem = both(rng.standard_normal((2, 5, 6) if batch_first else (5, 4, 6)))
    params = (list(e.parameters()), list(t.parameters()))
    compare(lambda a: e(a, a, a), lambda a: t(a, a, a), [x], params=params)
    compare(lambda a, m: e(a, m, m), lambda a, m: t(a, m, m),
            [x if batch_first else both(rng.standard_normal((3, 4, 6))), mem], params=params)


def test_mha_unbatched():
    e, t = mha_pair(4, 2, kdim=3)
    rng = np.random.default_rng(6)
    q, k, v = both(rng.standard_normal((3, 4))), both(rng.standard_normal((5, 3))), \
        both(rng.standard_normal((5, 4)))
    kpm = both(np.array([False, False, True, False, False]), False)
    am = both(rng.random((2, 3, 5)) > 0.8, False)
    for need_weights in (True, False):
        outs, _ = compare(
            lambda a, b, c, nw=need_weights: e(a, b, c, key_padding_mask=kpm[0],
                                               attn_mask=am[0], need_weights=nw),
            lambda a, b, c, nw=need_weights: t(a, b, c, key_padding_mask=kpm[1],
                                               attn_mask=am[1], need_weights=nw), [q, k, v])
        assert tuple(outs[0].shape) == (3, 4)


def test_mha_is_causal():
    e, t = mha_pair(4, 2)
    x = both(np.random.default_rng(7).standard_normal((5, 2, 4)))
    mask = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64)
    masks = (ember.tensor(mask.numpy()), mask)
    for need_weights in (False, True):
        compare(lambda a, nw=need_weights: e(a, a, a, attn_mask=masks[0], is_causal=True,
                                             need_weights=nw),
                lambda a, nw=need_weights: t(a, a, a, attn_mask=masks[1], is_causal=True,
                                             need_weights=nw), [x])
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        e(x[0], x[0], x[0], is_causal=True)


def test_mha_dropout_train_vs_eval():
    e, t = mha_pair(8, 2, dropout=0.5)
    x = both(np.random.default_rng(8).standard_normal((6, 3, 8)))
    e.eval()
    t.eval()
    compare(lambda a: e(a, a, a), lambda a: t(a, a, a), [x])
    e.train()
    ember.manual_seed(1)
    a, wa = e(x[0], x[0], x[0])
    ember.manual_seed(1)
    b, wb = e(x[0], x[0], x[0])
    close(a, b)
    close(wa, wb)
    e.eval()
    c, _ = e(x[0], x[0], x[0])
    assert not np.allclose(_np(a), _np(c))


def test_mha_init():
    ember.manual_seed(0)
    m = ember.nn.MultiheadAttention(64, 4, add_bias_kv=True)
    bound = math.sqrt(6 / (64 + 192))
    w = m.in_proj_weight.detach().numpy()
    assert np.abs(w).max() <= bound and abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
    np.testing.assert_array_equal(m.in_proj_bias.detach().numpy(), 0.0)
    np.testing.assert_array_equal(m.out_proj.bias.detach().numpy(), 0.0)
    assert m.bias_k.shape == (1, 1, 64) and m.bias_k.detach().numpy().std() > 0
    separate = ember.nn.MultiheadAttention(4, 2, kdim=3)
    assert separate.in_proj_weight is None and separate.k_proj_weight.shape == (4, 3)
    assert type(m.out_proj).__name__ == "NonDynamicallyQuantizableLinear"
    assert isinstance(m.out_proj, ember.nn.Linear)


def test_mha_errors():
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        ember.nn.MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match="embed_dim and num_heads must be greater than 0"):
        ember.nn.MultiheadAttention(0, 2)
    m = ember.nn.MultiheadAttention(4, 2)
    x = ember.randn(3, 2, 4)
    with pytest.raises(RuntimeError, match=r"The shape of the 2D attn_mask is .* but should be "
                                           r"\(3, 3\)"):
        m(x, x, x, attn_mask=ember.zeros(3, 4))
    with pytest.raises(RuntimeError, match=r"The shape of the 3D attn_mask is .* should be "
                                           r"\(4, 3, 3\)"):
        m(x, x, x, attn_mask=ember.zeros(2, 3, 3))
    with pytest.raises(AssertionError, match="expected `attn_mask` to be `None`, 2-D or 3-D"):
        m(x, x, x, attn_mask=ember.zeros(1, 1, 3, 3))
    with pytest.raises(AssertionError, match="expected `key_padding_mask` to be `None` or 2-D"):
        m(x, x, x, key_padding_mask=ember.zeros(2, 3, 1, dtype=ember.bool))
    with pytest.raises(AssertionError, match="expecting key_padding_mask shape of"):
        m(x, x, x, key_padding_mask=ember.zeros(2, 4, dtype=ember.bool))
    with pytest.raises(AssertionError, match="query should be unbatched 2D or batched 3D"):
        m(x[None], x[None], x[None])
    with pytest.raises(AssertionError, match="expected `key` and `value` to be 3-D"):
        m(x, x[0], x[0])
    with pytest.raises(AssertionError, match="was expecting embedding dimension of 4, but got 5"):
        y = ember.randn(3, 2, 5)
        m(y, y, y)
    with pytest.raises(AssertionError, match="only bool and floating types of key_padding_mask"):
        m(x, x, x, key_padding_mask=ember.zeros(2, 3, dtype=ember.int64))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m(x, x, x, key_padding_mask=ember.zeros(2, 3, dtype=ember.bool),
          attn_mask=ember.zeros(3, 3))
    assert any("Support for mismatched key_padding_mask and attn_mask" in str(w.message)
               for w in caught)


# ---- F.multi_head_attention_forward ------------------------------------------------------------
def test_functional_mha_static_kv_and_separate_weights():
    rng = np.random.default_rng(9)
    q = both(rng.standard_normal((3, 2, 4)))
    k = both(rng.standard_normal((5, 2, 4)))
    w = both(rng.standard_normal((12, 4)))
    b = both(rng.standard_normal(12))
    wo, bo = both(rng.standard_normal((4, 4))), both(rng.standard_normal(4))
    sk, sv = both(rng.standard_normal((4, 6, 2))), both(rng.standard_normal((4, 6, 2)))

    def static(lib):
        f = (EF if lib is ember else TF).multi_head_attention_forward
        return lambda q_, k_, w_, b_, wo_, bo_, sk_, sv_: f(
            q_, k_, k_, 4, 2, w_, b_, None, None, False, 0.0, wo_, bo_, static_k=sk_,
            static_v=sv_)
    compare(static(ember), static(torch), [q, k, w, b, wo, bo, sk, sv])

    qw, kw, vw = (both(rng.standard_normal(s)) for s in ((4, 4), (4, 3), (4, 2)))
    kk, vv = both(rng.standard_normal((5, 2, 3))), both(rng.standard_normal((5, 2, 2)))

    def separate(lib):
        f = (EF if lib is ember else TF).multi_head_attention_forward
        return lambda q_, k_, v_, b_, wo_, bo_, a, c, d: f(
            q_, k_, v_, 4, 2, None, b_, None, None, True, 0.0, wo_, bo_,
            use_separate_proj_weight=True, q_proj_weight=a, k_proj_weight=c, v_proj_weight=d,
            average_attn_weights=False)
    compare(separate(ember), separate(torch), [q, kk, vv, b, wo, bo, qw, kw, vw])
    with pytest.raises(AssertionError, match="expecting key weights shape of"):
        EF.multi_head_attention_forward(q[0], kk[0], vv[0], 4, 2, None, None, None, None, False,
                                        0.0, wo[0], None, use_separate_proj_weight=True,
                                        q_proj_weight=qw[0], k_proj_weight=vw[0],
                                        v_proj_weight=vw[0])
    with pytest.raises(AssertionError, match="embed_dim 4 not divisible by num_heads 3"):
        EF.multi_head_attention_forward(q[0], k[0], k[0], 4, 3, w[0], b[0], None, None, False,
                                        0.0, wo[0], bo[0])


@pytest.mark.parametrize("need_weights,kpm",
                         list(itertools.product([True, False], [False, True])))
def test_functional_mha_bias_kv_zero_attn(need_weights, kpm):
    rng = np.random.default_rng(10)
    q = both(rng.standard_normal((3, 2, 4)))
    k = both(rng.standard_normal((5, 2, 4)))
    w, b = both(rng.standard_normal((12, 4))), both(rng.standard_normal(12))
    bk, bv = both(rng.standard_normal((1, 1, 4))), both(rng.standard_normal((1, 1, 4)))
    wo, bo = both(rng.standard_normal((4, 4))), both(rng.standard_normal(4))
    mask = both(rng.random((2, 5)) > 0.6, False)
    am = both(rng.standard_normal((3, 5)), False)

    def run(lib):
        f = (EF if lib is ember else TF).multi_head_attention_forward
        i = 0 if lib is ember else 1
        return lambda q_, k_, w_, b_, bk_, bv_, wo_, bo_: f(
            q_, k_, k_, 4, 2, w_, b_, bk_, bv_, True, 0.0, wo_, bo_,
            key_padding_mask=mask[i] if kpm else None, attn_mask=am[i],
            need_weights=need_weights)
    compare(run(ember), run(torch), [q, k, w, b, bk, bv, wo, bo])


def test_double_backward():
    """Attention is composed of differentiable ops: second derivatives check numerically."""
    from ember.autograd.gradcheck import gradcheck, gradgradcheck
    rng = np.random.default_rng(11)
    q, k, v = (ember.tensor(rng.standard_normal(s), requires_grad=True)
               for s in ((2, 3, 2), (2, 4, 2), (2, 4, 3)))
    mask = ember.tensor(rng.random((3, 4)) > 0.3)
    fn = lambda q, k, v: EF.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # noqa: E731
    assert gradcheck(fn, (q, k, v)) and gradgradcheck(fn, (q, k, v))
    w, wo = (ember.tensor(rng.standard_normal(s) * 0.5, requires_grad=True)
             for s in ((12, 4), (4, 4)))
    x = ember.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    mha = lambda x, w, wo: EF.multi_head_attention_forward(  # noqa: E731
        x, x, x, 4, 2, w, None, None, None, False, 0.0, wo, None)
    assert gradcheck(mha, (x, w, wo)) and gradgradcheck(mha, (x, w, wo))
