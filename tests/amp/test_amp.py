"""ember.amp against torch.amp: which ops autocast to what dtype, training through an
autocast region, region nesting and errors, and GradScaler's scale schedule and skipped
steps over a run with overflowing gradients."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import ember


def _dtypes_under_autocast(lib, **region):
    F = lib.nn.functional
    lib.manual_seed(0)
    x, w, b3 = lib.randn(4, 8), lib.randn(8, 8), lib.randn(2, 4, 8)
    img, k = lib.randn(1, 3, 8, 8), lib.randn(4, 3, 3, 3)
    half = x.bfloat16()
    target = lib.zeros(4, dtype=lib.long)
    ops = {
        "matmul": lambda: x @ w, "mm": lambda: lib.mm(x, w),
        "bmm": lambda: lib.bmm(b3, b3.transpose(1, 2)), "addmm": lambda: lib.addmm(x, x, w),
        "baddbmm": lambda: lib.baddbmm(lib.ones(2, 4, 4), b3, b3.transpose(1, 2)),
        "linear": lambda: F.linear(x, w, x[0]), "conv2d": lambda: F.conv2d(img, k),
        "conv_transpose2d": lambda: F.conv_transpose2d(img, k.transpose(0, 1)),
        # a lower-precision activation meets the next layer's float32 weight
        "conv2d_half_input": lambda: F.conv2d(img.bfloat16(), k),
        "conv_transpose2d_half_input": lambda: F.conv_transpose2d(img.bfloat16(),
                                                                  k.transpose(0, 1)),
        "einsum": lambda: lib.einsum("ij,jk->ik", x, w),
        "sdpa": lambda: F.scaled_dot_product_attention(b3, b3, b3),
        "sdpa_float_mask": lambda: F.scaled_dot_product_attention(b3, b3, b3, lib.zeros(4, 4)),
        "sdpa_causal": lambda: F.scaled_dot_product_attention(b3, b3, b3, is_causal=True),
        "softmax": lambda: F.softmax(half, -1), "exp": lambda: half.exp(),
        "cross_entropy": lambda: F.cross_entropy(half, target),
        "nll_loss": lambda: F.nll_loss(half, target),
        "bce": lambda: F.binary_cross_entropy(half.sigmoid(), half.sigmoid()),
        "mixed_add": lambda: x + half, "float64": lambda: x.double() @ w.double(),
        "ints": lambda: lib.ones(2, 2, dtype=lib.long) @ lib.ones(2, 2, dtype=lib.long),
        "linear_module": lambda: lib.nn.Linear(8, 3)(x),
        "conv_module": lambda: lib.nn.Conv2d(3, 2, 3)(img),
        "mha": lambda: lib.nn.MultiheadAttention(8, 2, batch_first=True)(b3, b3, b3)[0],
        "mha_float_mask": lambda: lib.nn.MultiheadAttention(8, 2, batch_first=True)(
            b3, b3, b3, attn_mask=lib.zeros(4, 4), need_weights=False)[0],
        "lstm": lambda: lib.nn.LSTM(8, 4)(b3)[0],
    }
    if region.get("dtype") in (ember.float16, torch.float16):
        del ops["lstm"]  # torch's oneDNN LSTM has no float16 kernel on the CPU
    if region.get("enabled") is False:  # mixed dtypes outside a region are an error
        del ops["conv2d_half_input"], ops["conv_transpose2d_half_input"]
    with lib.autocast("cpu", **region):
        return {name: str(fn().dtype) for name, fn in ops.items()}


@pytest.mark.parametrize("region", [{}, {"dtype": "float16"}, {"enabled": False}])
def test_ops_autocast_to_torchs_dtypes(region):
    kw = {k: getattr(ember, v) if k == "dtype" else v for k, v in region.items()}
    tkw = {k: getattr(torch, v) if k == "dtype" else v for k, v in region.items()}
    assert _dtypes_under_autocast(ember, **kw) == _dtypes_under_autocast(torch, **tkw)


def _train(lib, steps=4):
    """A few autocast SGD steps from torch's initial weights: (losses, final weights)."""
    torch.manual_seed(0)
    tnet = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    net = tnet if lib is torch else ember.nn.Sequential(
        ember.nn.Linear(6, 16), ember.nn.ReLU(), ember.nn.Linear(16, 3))
    if lib is ember:
        net.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in
                             tnet.state_dict().items()})
    opt = lib.optim.SGD(net.parameters(), lr=0.1)
    rng = np.random.default_rng(0)
    x = lib.tensor(rng.standard_normal((8, 6)).astype(np.float32))
    y = lib.tensor(rng.integers(0, 3, 8))
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        with lib.autocast("cpu"):
            loss = lib.nn.functional.cross_entropy(net(x), y)
        assert loss.dtype == lib.float32
        loss.backward()
        assert all(p.grad.dtype == lib.float32 for p in net.parameters())
        opt.step()
        losses.append(loss.item())
    return losses, [p.detach().numpy().astype(np.float64) for p in net.parameters()]


def test_training_under_autocast_follows_torch():
    (ours, w_ours), (theirs, w_theirs) = _train(ember), _train(torch)
    np.testing.assert_allclose(ours, theirs, rtol=2e-2)  # bfloat16 products
    for a, b in zip(w_ours, w_theirs):
        np.testing.assert_allclose(a, b, atol=2e-2)


def test_regions_nest_decorate_and_report_like_torch():
    for lib in (ember, torch):
        assert not lib.is_autocast_enabled("cpu")
        with lib.autocast("cpu"):
            assert lib.is_autocast_enabled("cpu") and not lib.is_autocast_enabled("cuda")
            assert lib.get_autocast_dtype("cpu") == lib.bfloat16
            with lib.autocast("cpu", enabled=False):
                assert not lib.is_autocast_enabled("cpu")
                assert (lib.ones(2, 2) @ lib.ones(2, 2)).dtype == lib.float32
            with lib.autocast("cpu", dtype=lib.float16):
                assert (lib.ones(2, 2) @ lib.ones(2, 2)).dtype == lib.float16
            assert (lib.ones(2, 2) @ lib.ones(2, 2)).dtype == lib.bfloat16
        assert not lib.is_autocast_enabled("cpu")

        @lib.autocast("cpu")
        def product(a, b):
            return a @ b
        assert product(lib.ones(2, 2), lib.ones(2, 2)).dtype == lib.bfloat16
        with pytest.raises(ValueError, match="device_type"):
            lib.autocast(lib.device("cpu"))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with lib.autocast("cpu", dtype=lib.float64):
                assert (lib.ones(2, 2) @ lib.ones(2, 2)).dtype == lib.float32
        assert any("not supported" in str(w.message) for w in caught)


def _scaled_run(lib):
    """SGD under a GradScaler whose gradients overflow at steps 2 and 3."""
    w = lib.nn.Parameter(lib.tensor([1.0, -2.0, 0.5]))
    opt = lib.optim.SGD([w], lr=0.1)
    scaler = lib.amp.GradScaler("cpu", init_scale=2.0 ** 10, growth_interval=2)
    record = []
    for step in range(7):
        opt.zero_grad()
        loss = (w * w).sum() * (float("inf") if step in (2, 3) else 1.0)
        scaler.scale(loss).backward()
        if step == 5:
            scaler.unscale_(opt)
            lib.nn.utils.clip_grad_norm_([w], 1.0)
        scaler.step(opt)
        scaler.update()
        record.append((scaler.get_scale(), w.detach().tolist()))
    return record, scaler.state_dict()


def test_grad_scaler_follows_torch_over_overflows_and_growth():
    ours, theirs = _scaled_run(ember), _scaled_run(torch)
    assert ours[1] == theirs[1]
    for (s1, w1), (s2, w2) in zip(ours[0], theirs[0]):
        assert s1 == s2
        np.testing.assert_allclose(w1, w2, rtol=1e-6)


def test_grad_scaler_misuse_and_state_like_torch():
    for lib in (ember, torch):
        w = lib.nn.Parameter(lib.ones(2))
        opt = lib.optim.SGD([w], lr=0.1)
        scaler = lib.amp.GradScaler("cpu")
        scaler.scale(w.sum()).backward()
        scaler.unscale_(opt)
        with pytest.raises(RuntimeError, match="already been called"):
            scaler.unscale_(opt)
        scaler.step(opt)
        with pytest.raises(RuntimeError, match="already been called"):
            scaler.step(opt)
        scaler.update()
        other = lib.amp.GradScaler("cpu", init_scale=8.0)
        other.load_state_dict(scaler.state_dict())
        assert other.get_scale() == scaler.get_scale()
        with pytest.raises(AssertionError, match="growth factor"):
            lib.amp.GradScaler("cpu", growth_factor=0.9)


def test_a_cuda_scaler_without_cuda_disables_itself_with_a_warning():
    if ember.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.warns(UserWarning, match="CUDA is not available"):
        scaler = ember.amp.GradScaler()
    assert not scaler.is_enabled() and scaler.get_scale() == 1.0
    x = ember.ones(2)
    assert scaler.scale(x) is x


def test_docstring_examples_run():
    import doctest
    from ember.amp import autocast_mode, grad_scaler
    for module in (autocast_mode, grad_scaler):
        failures, _ = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert failures == 0


def test_compiled_code_guards_on_autocast_regions():
    """A graph captured outside a region must not serve calls inside one (its products would
    stay float32), nor the reverse: ember.compile recompiles, as torch.compile does."""
    net = ember.nn.Linear(4, 3)
    compiled = ember.compile(net)
    x = ember.ones(2, 4)
    assert compiled(x).dtype is ember.float32
    with ember.autocast("cpu"):
        assert compiled(x).dtype is ember.bfloat16
    assert compiled(x).dtype is ember.float32


def test_the_deprecated_cuda_amp_spellings_exist_and_warn_like_torch():
    """`from torch.cuda.amp import autocast, GradScaler` is still common in scripts."""
    from ember.cuda.amp import GradScaler, autocast
    with pytest.warns(FutureWarning, match="torch.amp.autocast"):
        region = autocast()
    assert region.device == "cuda" and region.fast_dtype is ember.float16
    with pytest.warns(FutureWarning, match="torch.amp.GradScaler"):
        scaler = GradScaler(enabled=False)
    assert not scaler.is_enabled() and ember.cuda.amp.GradScaler is GradScaler


def _custom_matmul_run(lib, cast_inputs, autocast_on):
    """A custom Function decorated with custom_fwd/custom_bwd, run forward and backward; the
    dtypes its forward and backward saw."""
    seen = []

    class MatMul(lib.autograd.Function):
        @staticmethod
        @lib.amp.custom_fwd(device_type="cpu", cast_inputs=cast_inputs)
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            out = a @ b
            seen.append(("fwd", str(a.dtype), str(out.dtype)))
            return out

        @staticmethod
        @lib.amp.custom_bwd(device_type="cpu")
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            ga, gb = g @ b.T, a.T @ g
            seen.append(("bwd", str(g.dtype), str(ga.dtype), lib.is_autocast_enabled("cpu")))
            return ga, gb

    a = lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    b = lib.tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True)
    with lib.autocast("cpu", enabled=autocast_on):
        out = MatMul.apply(a, b)
    out.float().sum().backward()
    return seen + [str(out.dtype), a.grad.tolist(), b.grad.tolist(), str(a.grad.dtype)]


@pytest.mark.parametrize("cast_inputs", [None, "float32"])
@pytest.mark.parametrize("autocast_on", [True, False])
def test_custom_fwd_and_bwd_like_torch(cast_inputs, autocast_on):
    """A custom Function's backward runs under its forward's autocast state; with cast_inputs
    its forward runs outside autocast on inputs cast to that dtype."""
    got = [_custom_matmul_run(lib, cast_inputs and getattr(lib, cast_inputs), autocast_on)
           for lib in (ember, torch)]
    assert got[0] == got[1]


def test_custom_fwd_errors_and_deprecated_cuda_spelling_like_torch():
    for lib in (ember, torch):
        with pytest.raises(ValueError, match="Expected `device_type` of type `str`"):
            lib.amp.custom_fwd(lambda ctx: None, device_type=0)
        with pytest.raises(TypeError, match="device_type"):
            lib.amp.custom_bwd(lambda ctx: None)
        with pytest.warns(FutureWarning, match=r"torch.amp.custom_fwd\(args..., device_type="):
            lib.cuda.amp.custom_fwd(cast_inputs=lib.float32)
        with pytest.warns(FutureWarning, match=r"torch.amp.custom_bwd\(args..., device_type="):
            lib.cuda.amp.custom_bwd(lambda ctx, g: g)
