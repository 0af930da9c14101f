"""torch's top-level names beyond the op families (ember/_torch_functions.py, autocast settings,
post-accumulate-grad hooks), checked against torch. Ops with samples (renorm, rsub, *_copy,
conv_tbc, histogramdd, unsafe_split...) are also covered by tests/_ops/test_registry.py."""
import array
import warnings

import numpy as np
import pytest
import torch

import ember
import ember.func


def _e(t):
    return ember.tensor(t.detach().numpy())


def _close(a, b, atol=1e-6):
    np.testing.assert_allclose(np.asarray(a.detach().numpy(), dtype=np.float64),
                               np.asarray(b.detach().numpy(force=True), dtype=np.float64),
                               atol=atol, rtol=1e-5)


def _raises_like(fn):
    """Both libraries raise the same exception type for fn(lib)."""
    with pytest.raises(Exception) as expected:
        fn(torch)
    with pytest.raises(expected.type):
        fn(ember)


def test_constants_and_aliases():
    for name in ("pi", "e", "inf", "nan", "newaxis"):
        ours, theirs = getattr(ember, name), getattr(torch, name)
        assert ours == theirs or (ours != ours and theirs != theirs), name
    assert ember.vmap is ember.func.vmap
    assert ember.ones(2).layout is ember.strided and repr(ember.strided) == "torch.strided"
    assert ember.index_put_ is ember.Tensor.index_put_


def test_is_inference_and_get_device():
    with ember.inference_mode():
        inf = ember.ones(2)
    assert ember.is_inference(inf) and not ember.is_inference(ember.ones(2))
    assert ember.get_device(ember.ones(2)) == torch.get_device(torch.ones(2)) == -1
    for name in ("is_inference", "get_device"):
        _raises_like(lambda t, name=name: getattr(t, name)(3))


def test_process_switches():
    assert ember.is_warn_always_enabled() is torch.is_warn_always_enabled() is False
    ember.set_warn_always(True)
    assert ember.is_warn_always_enabled()
    ember.set_warn_always(False)
    assert ember.set_flush_denormal(False) == torch.set_flush_denormal(False)


def _autocast_state(t):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return (t.is_autocast_enabled(), t.is_autocast_enabled("cpu"),
                t.is_autocast_cpu_enabled(), str(t.get_autocast_dtype("cpu")),
                str(t.get_autocast_dtype("cuda")), str(t.get_autocast_cpu_dtype()),
                str(t.get_autocast_gpu_dtype()), t.is_autocast_cache_enabled())


def _autocast_script(t):
    """A sequence of settings and regions; the states seen along the way."""
    seen = [_autocast_state(t)]
    t.set_autocast_enabled("cpu", True)
    seen.append((_autocast_state(t), str((t.ones(2, 2) @ t.ones(2, 2)).dtype)))
    t.set_autocast_dtype("cpu", t.float16)
    seen.append((_autocast_state(t), str((t.ones(2, 2) @ t.ones(2, 2)).dtype)))
    t.set_autocast_enabled("cpu", False)
    with t.autocast("cpu") as region:
        seen.append((str(region.fast_dtype), _autocast_state(t)))
        with t.autocast("cpu", dtype=t.bfloat16, cache_enabled=False):
            seen.append(_autocast_state(t))
        with t.autocast("cpu", enabled=False):
            seen.append(_autocast_state(t))
        seen.append(_autocast_state(t))
    seen.append(_autocast_state(t))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        t.set_autocast_cpu_dtype(t.bfloat16)
        t.set_autocast_cpu_enabled(True)
        seen.append(_autocast_state(t))
        t.set_autocast_cpu_enabled(False)
    t.set_autocast_cache_enabled(False)
    with t.autocast("cpu"):
        seen.append(_autocast_state(t))
    seen.append(_autocast_state(t))
    t.set_autocast_cache_enabled(True)
    seen.append(t.clear_autocast_cache())
    seen.append(_autocast_state(t))
    return seen


def test_autocast_settings_match_torch():
    assert _autocast_script(ember) == _autocast_script(torch)
    assert not ember._ops.dispatch.AutocastState.active


def test_autocast_settings_errors_and_warnings():
    _raises_like(lambda t: t.get_autocast_dtype("xyz"))
    _raises_like(lambda t: t.is_autocast_enabled(1))
    _raises_like(lambda t: t.set_autocast_dtype("cpu", "float16"))
    _raises_like(lambda t: t.set_autocast_enabled("cpu", "yes"))
    _raises_like(lambda t: t.set_autocast_cache_enabled(1))
    with pytest.warns(DeprecationWarning):
        ember.get_autocast_gpu_dtype()
    for d in ("mps", "xpu", "hpu", "xla"):
        assert str(ember.get_autocast_dtype(d)) == str(torch.get_autocast_dtype(d))


def test_post_accumulate_grad_hook_order_matches_torch():
    def run(t):
        w = t.ones(2, requires_grad=True)
        log = []
        w.register_hook(lambda g: log.append(("pre", g.tolist(),
                                              None if w.grad is None else w.grad.tolist())))
        first = w.register_post_accumulate_grad_hook(lambda p: log.append(("a", p.grad.tolist())))
        w.register_post_accumulate_grad_hook(lambda p: log.append(("b", p is w)))
        (w * 3).sum().backward()
        (w * 2).sum().backward()
        first.remove()
        (w * 1).sum().backward()
        t.autograd.grad((w * 3).sum(), w)  # grad() accumulates nothing: no post hooks
        return log
    assert run(ember) == run(torch)


def test_post_accumulate_grad_hook_errors():
    _raises_like(lambda t: t.ones(2).register_post_accumulate_grad_hook(lambda p: None))
    _raises_like(lambda t: (t.ones(2, requires_grad=True) * 2)
                 .register_post_accumulate_grad_hook(lambda p: None))

    def returns_value(t):
        w = t.ones(2, requires_grad=True)
        w.register_post_accumulate_grad_hook(lambda p: 5)
        w.sum().backward()
    _raises_like(returns_value)


def test_optimizer_in_backward_recipe():
    """Each parameter steps as soon as its gradient is ready (torch's recipe)."""
    def train(t):
        t.manual_seed(0)
        model = t.nn.Linear(3, 2)
        with t.no_grad():
            for p, v in zip(model.parameters(), (np.arange(6.).reshape(2, 3) / 10, [0.5, -1])):
                p.copy_(t.tensor(v, dtype=t.float32))
        optims = {p: t.optim.SGD([p], lr=0.1) for p in model.parameters()}

        def step(p):
            optims[p].step()
            optims[p].zero_grad()
        for p in model.parameters():
            p.register_post_accumulate_grad_hook(step)
        x = t.tensor(np.linspace(-1, 1, 12).reshape(4, 3), dtype=t.float32)
        for _ in range(3):
            model(x).pow(2).sum().backward()
        return [p.detach().numpy().copy() for p in model.parameters()]
    for a, b in zip(train(ember), train(torch)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_frombuffer_shares_memory_and_checks_like_torch():
    buf = array.array("i", [1, 2, 3, 4])
    t = ember.frombuffer(buf, dtype=ember.int32)
    assert t.tolist() == [1, 2, 3, 4] and t.dtype is ember.int32
    t[0] = 9
    assert buf[0] == 9
    assert ember.frombuffer(buf, dtype=ember.int32, count=2, offset=4).tolist() == [2, 3]
    for kwargs in ({"count": 5}, {"offset": 17}, {"count": 0}):
        _raises_like(lambda t, kw=kwargs: t.frombuffer(buf, dtype=t.int32, **kw))
    _raises_like(lambda t: t.frombuffer(bytearray(b"\x01\x02\x03"), dtype=t.int32))
    _raises_like(lambda t: t.frombuffer(bytearray(), dtype=t.int32))
    with pytest.warns(UserWarning, match="not writable"):
        assert ember.frombuffer(b"ab", dtype=ember.uint8).tolist() == [97, 98]


def test_dlpack_round_trips():
    x = ember.arange(6.).reshape(2, 3)
    assert tuple(x.__dlpack_device__()) == tuple(torch.ones(1).__dlpack_device__())
    a = np.from_dlpack(x)
    a[0, 0] = 7
    assert x[0, 0].item() == 7
    y = ember.from_dlpack(np.arange(3.))
    assert y.dtype is ember.float64 and y.tolist() == [0, 1, 2]
    back = ember.from_dlpack(ember.to_dlpack(x))
    assert back.tolist() == x.tolist()
    assert ember.from_dlpack(torch.arange(4)).tolist() == [0, 1, 2, 3]
    assert torch.from_dlpack(x).tolist() == x.tolist()
    _raises_like(lambda t: t.ones(2, requires_grad=True).__dlpack__())


def test_empty_permuted_and_new_empty_strided():
    for size, order in (((2, 3, 4), (0, 2, 1)), ((2, 3), (1, 0)), ((1, 3, 2, 2), (0, 2, 3, 1))):
        ours, theirs = ember.empty_permuted(size, order), torch.empty_permuted(size, order)
        assert ours.shape == theirs.shape and ours.stride() == theirs.stride()
    assert ember.empty_permuted((2, 3), (1, 0), dtype=ember.int64).dtype is ember.int64
    _raises_like(lambda t: t.empty_permuted((2, 3, 4), (0, 1)))
    x = ember.ones(2, dtype=ember.float64)
    y = x.new_empty_strided((2, 2), (1, 2))
    assert y.stride() == (1, 2) and y.dtype is ember.float64
    assert x.new_empty_strided((2,), (1,), dtype=ember.int64).dtype is ember.int64


@pytest.mark.parametrize("values,size,fill", [
    ([[1, 0], [0, 3]], 4, -1), ([[1, 0], [0, 3]], 1, 9), (5, 2, -1), ([0, 0], 2, 0),
    ([[True, False]], 3, -5)])
def test_nonzero_static(values, size, fill):
    ours = ember.nonzero_static(ember.tensor(values), size=size, fill_value=fill)
    theirs = torch.nonzero_static(torch.tensor(values), size=size, fill_value=fill)
    assert ours.shape == theirs.shape and ours.dtype is ember.int64
    assert ours.tolist() == theirs.tolist()
    assert ember.tensor(values).nonzero_static(size=size).shape == theirs.shape


def test_nonzero_static_errors():
    _raises_like(lambda t: t.nonzero_static(t.tensor([1]), size=-1))
    _raises_like(lambda t: t.nonzero_static(t.tensor([1])))


def test_binomial():
    ember.manual_seed(0)
    count = ember.full((20000,), 10.0)
    draws = ember.binomial(count, ember.full((20000,), 0.3))
    assert draws.dtype is ember.float32
    assert abs(draws.mean().item() - 3.0) < 0.1 and abs(draws.var().item() - 2.1) < 0.15
    edge = ember.binomial(ember.tensor([10., 10., 0.]), ember.tensor([1.5, -0.5, 0.5]))
    assert edge.tolist() == torch.binomial(torch.tensor([10., 10., 0.]),
                                           torch.tensor([1.5, -0.5, 0.5])).tolist()
    assert np.isnan(ember.binomial(ember.tensor([3.]), ember.tensor([float("nan")])).item())
    g1, g2 = ember.Generator().manual_seed(3), ember.Generator().manual_seed(3)
    probs = ember.full((5,), 0.5, dtype=ember.float64)
    assert ember.binomial(probs * 8, probs, g1).tolist() == \
        ember.binomial(probs * 8, probs, g2).tolist()
    _raises_like(lambda t: t.binomial(t.tensor([10]), t.tensor([0.5])))
    _raises_like(lambda t: t.binomial(t.tensor([10.], dtype=t.float64), t.tensor([0.5])))


def test_histogramdd_errors():
    _raises_like(lambda t: t.histogramdd(t.rand(4, 2), bins=[2]))
    _raises_like(lambda t: t.histogramdd(t.rand(4), bins=2))
    _raises_like(lambda t: t.histogramdd(t.arange(8).reshape(4, 2), bins=2))
    _raises_like(lambda t: t.histogramdd(t.rand(4, 2), bins=[t.tensor([0., 1.])]))
    result = ember.histogramdd(ember.tensor([[0.], [1.]]), bins=2)
    assert type(result).__name__ == "histogramdd" and len(result.bin_edges) == 1


def test_renorm_and_in_place():
    x = torch.randn(3, 4, dtype=torch.float64)
    _close(torch.renorm(x, 2, 0, 1.0), ember.renorm(_e(x), 2, 0, 1.0))
    ours = _e(x)
    assert ours.renorm_(1, 1, 0.5) is ours
    _close(x.clone().renorm_(1, 1, 0.5), ours)
    _raises_like(lambda t: t.renorm(t.ones(3), 2, 0, 1.0))
    _raises_like(lambda t: t.renorm(t.ones(2, 2), -1, 0, 1.0))
    _raises_like(lambda t: t.renorm(t.ones(2, 2), 2, 0, -1.0))


def test_copy_functions_own_their_memory():
    x = ember.arange(6.).reshape(2, 3)
    for y in (ember.t_copy(x), ember.permute_copy(x, (1, 0)), ember.view_copy(x, (3, 2)),
              ember.alias_copy(x), ember.expand_copy(x[:1], (2, 3)), ember.detach_copy(x),
              ember.slice_copy(x, 1, 0, 2), *ember.split_copy(x, 1)):
        assert y.is_contiguous() and y.data_ptr() != x.data_ptr()
    out = ember.empty(3, 2)
    assert ember.t_copy(x, out=out) is out and out.tolist() == x.t().tolist()
    z = ember.view_as_complex_copy(ember.ones(2, 2))
    assert z.dtype is ember.complex64
    _close(torch.view_as_real_copy(torch.ones(2, dtype=torch.complex64)),
           ember.view_as_real_copy(ember.ones(2, dtype=ember.complex64)))
    assert not ember.detach_copy(ember.ones(2, requires_grad=True)).requires_grad


def test_unsafe_split_pieces_may_be_modified_in_place():
    x = ember.arange(4.).requires_grad_()
    a, b = ember.unsafe_split(x * 1, 2)
    a.mul_(2)
    (a.sum() + b.sum()).backward()
    assert x.grad.tolist() == [2, 2, 1, 1]
    assert [p.tolist() for p in x.detach().unsafe_chunk(2)] == [[0, 1], [2, 3]]


# ---- torch.* spellings of nn.functional -----------------------------------------------------
def _grads_match(fn, *shapes, atol=1e-6):
    """fn(lib, *tensors) agrees with torch in value and in the gradient of every input."""
    torch.manual_seed(0)
    tt = [torch.randn(*s, dtype=torch.float64, requires_grad=True) for s in shapes]
    et = [ember.tensor(t.detach().numpy(), requires_grad=True) for t in tt]
    theirs, ours = fn(torch, *tt), fn(ember, *et)
    _close(theirs, ours, atol)
    theirs.sum().backward()
    ours.sum().backward()
    for a, b in zip(tt, et):
        _close(a.grad, b.grad, atol)


@pytest.mark.parametrize("fn,shapes", [
    (lambda t, x, w, b: t.layer_norm(x, [4], w, b, 1e-5, True), [(2, 3, 4), (4,), (4,)]),
    (lambda t, x: t.layer_norm(x, (3, 4)), [(2, 3, 4)]),
    (lambda t, x, w, b: t.group_norm(x, 2, w, b, 1e-5, False), [(2, 4, 3), (4,), (4,)]),
    (lambda t, x, w: t.rms_norm(x, [3], w, 1e-6), [(2, 3), (3,)]),
    (lambda t, x, w, b: t.batch_norm(x, w, b, None, None, True, 0.1, 1e-5, False),
     [(4, 3, 2), (3,), (3,)]),
    (lambda t, x: t.instance_norm(x, None, None, None, None, True, 0.1, 1e-5, False),
     [(2, 3, 4)]),
    (lambda t, w: t.embedding(w, t.tensor([[0, 2], [1, 0]]), -1), [(4, 3)]),
    (lambda t, w: t.embedding(w, t.tensor([0, 2, 2]), 2), [(4, 3)]),
    (lambda t, a, b: t.kl_div(a, b.exp(), 0), [(3, 4), (3, 4)]),
    (lambda t, a, b: t.kl_div(a, b, 2, log_target=True), [(3, 4), (3, 4)]),
    (lambda t, a, b: t.kl_div(a, b.sigmoid()), [(3, 4), (3, 4)]),
    (lambda t, a, b: t.binary_cross_entropy_with_logits(a, b.sigmoid(), t.tensor([.5, 2.]),
                                                         None, 2), [(3, 2), (3, 2)]),
    (lambda t, a, b: t.binary_cross_entropy_with_logits(a, b.sigmoid(), None,
                                                         t.tensor([3., .2]), 1), [(3, 2), (3, 2)]),
    (lambda t, a, b: t.binary_cross_entropy_with_logits(a, b.sigmoid()), [(3, 2), (3, 2)]),
    (lambda t, a, b: t.cosine_embedding_loss(a, b, t.tensor([1., -1., 1.]), 0.1, 0),
     [(3, 4), (3, 4)]),
    (lambda t, a: t.hinge_embedding_loss(a, t.tensor([1., -1., 1.]), 0.5), [(3,)]),
    (lambda t, a: t.hinge_embedding_loss(a, t.tensor([1., -1., 1.]), 0.5, 1), [(3,)]),
    (lambda t, a, b: t.margin_ranking_loss(a, b, t.tensor([1., -1., 1.]), 0.2, 2),
     [(3,), (3,)]),
    (lambda t, a, b: t.poisson_nll_loss(a, b.abs(), True, True, 1e-8, 1), [(3, 2), (3, 2)]),
    (lambda t, a, b: t.poisson_nll_loss(a.exp(), b.abs(), False, False, 1e-8, 0),
     [(3, 2), (3, 2)]),
    (lambda t, a, p, n: t.triplet_margin_loss(a, p, n, 1.0, 2, 1e-6, True, 1),
     [(3, 4), (3, 4), (3, 4)]),
    (lambda t, x, w, b: t.conv_tbc(x, w, b, 1), [(5, 2, 3), (3, 3, 4), (4,)]),
])
def test_functional_duplicates_match_torch(fn, shapes):
    _grads_match(fn, *shapes)


def test_embedding_bag_matches_torch():
    torch.manual_seed(0)
    w = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    ew = ember.tensor(w.detach().numpy(), requires_grad=True)
    idx, off = [0, 2, 1, 5, 3], [0, 2]
    for mode in (0, 1, 2):
        w.grad = ew.grad = None
        theirs = torch.embedding_bag(w, torch.tensor(idx), torch.tensor(off), False, mode)
        ours = ember.embedding_bag(ew, ember.tensor(idx), ember.tensor(off), False, mode)
        assert len(ours) == 4
        _close(theirs[0], ours[0])
        for a, b in zip(theirs[1:], ours[1:]):
            assert a.tolist() == b.tolist() and b.dtype is ember.int64
        theirs[0].sum().backward()
        ours[0].sum().backward()
        _close(w.grad, ew.grad)
    small = ember.embedding_bag(ew.float(), ember.tensor(idx), ember.tensor(off))
    assert small[1].shape == torch.embedding_bag(w.float(), torch.tensor(idx),
                                                 torch.tensor(off))[1].shape


def test_kl_div_reduction_is_an_int():
    _raises_like(lambda t: t.kl_div(t.ones(2), t.ones(2), "mean"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ember.kl_div(ember.zeros(3), ember.ones(3))


@pytest.mark.parametrize("name", ["dropout_", "alpha_dropout_", "feature_alpha_dropout",
                                  "feature_alpha_dropout_", "feature_dropout",
                                  "feature_dropout_"])
def test_dropout_variants(name):
    fn = getattr(ember, name)
    x = ember.randn(4, 3, 5)
    kept = fn(x.clone(), 0.5, False)
    assert kept.tolist() == x.tolist()
    y = x.clone()
    out = fn(y, 0.4, True)
    assert (out is y) == name.endswith("_")
    if "feature" in name:  # one draw per (batch, channel)
        values = out.detach().numpy()
        spread = values.max(-1) - values.min(-1)
        dropped = np.abs(values).sum(-1) == 0 if "alpha" not in name else spread == 0
        assert dropped.any() and not dropped.all()
    _raises_like(lambda t: getattr(t, name)(t.ones(2, 2), 0.5))


@pytest.mark.parametrize("call", [
    lambda t, x: t.celu_(x, 0.5), lambda t, x: t.selu_(x), lambda t, x: t.rrelu_(x),
    lambda t, x: t.threshold_(x, 0.1, -3.0)])
def test_in_place_activations(call):
    x = torch.randn(3, 4)
    ours = _e(x)
    assert call(ember, ours) is ours
    _close(call(torch, x), ours)
