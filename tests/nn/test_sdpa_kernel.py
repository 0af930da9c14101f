"""ember.nn.attention (SDPBackend, sdpa_kernel) and torch.backends.cuda's attention flags,
against torch on the CPU: which calls run, with the same values, and which raise."""
import re
import warnings

import numpy as np
import pytest
import torch

import ember

B = ["MATH", "FLASH_ATTENTION", "EFFICIENT_ATTENTION", "CUDNN_ATTENTION", "OVERRIDEABLE", "ERROR"]
FLAGS = ["flash_sdp_enabled", "mem_efficient_sdp_enabled", "math_sdp_enabled",
         "cudnn_sdp_enabled"]


def test_enum_matches_torch():
    for name in B:
        ours, theirs = getattr(ember.nn.attention.SDPBackend, name), getattr(
            torch.nn.attention.SDPBackend, name)
        assert int(ours) == int(theirs) and ours.name == theirs.name
        assert str(ours) == str(theirs) and repr(ours) == repr(theirs)
    assert ember.backends.cuda.SDPBackend is ember.nn.attention.SDPBackend


def _flags(lib):
    return [getattr(lib.backends.cuda, f)() for f in FLAGS]


@pytest.mark.parametrize("chosen", [["MATH"], ["FLASH_ATTENTION"], ["EFFICIENT_ATTENTION"],
                                    ["CUDNN_ATTENTION", "MATH"], []])
def test_flags_inside_and_after(chosen):
    for lib in (torch, ember):
        before = _flags(lib)
        backends = [getattr(lib.nn.attention.SDPBackend, n) for n in chosen]
        with lib.nn.attention.sdpa_kernel(backends, set_priority=True):
            inside = _flags(lib)
        assert _flags(lib) == before
        if lib is torch:
            expected = inside
    assert inside == expected


@pytest.mark.parametrize("bad", ["math", 3, None])
def test_bad_backends(bad):
    for lib in (torch, ember):
        with pytest.raises(AssertionError, match="Backend must be an instance of SDPBackend"):
            with lib.nn.attention.sdpa_kernel(bad):
                pass


def _inputs(lib, case):
    rng = np.random.default_rng(0)

    def t(*shape):
        return lib.tensor(rng.standard_normal(shape).astype(np.float32))
    q, k = t(1, 2, 4, 8), t(1, 2, 5, 8)
    kwargs = {}
    if case == "dropout":
        kwargs["dropout_p"] = 0.5
    elif case == "3d":
        q, k = q[0], k[0]
    elif case == "value_dim":
        return (q, k, t(1, 2, 5, 6)), {}
    elif case == "mask_grad":
        kwargs["attn_mask"] = lib.zeros(4, 5, requires_grad=True)
    elif case == "causal":
        kwargs["is_causal"] = True
    elif case == "bool_mask":
        kwargs["attn_mask"] = lib.tensor(rng.random((4, 5)) > 0.3)
    return (q, k, k), kwargs


def _run(lib, chosen, case):
    args, kwargs = _inputs(lib, case)
    backends = [getattr(lib.nn.attention.SDPBackend, n) for n in chosen]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with lib.nn.attention.sdpa_kernel(backends):
                out = lib.nn.functional.scaled_dot_product_attention(*args, **kwargs)
        except RuntimeError as e:
            out = e
    messages = [re.sub(r" \(Triggered internally.*", "", str(w.message)) for w in caught]
    return out, messages


@pytest.mark.parametrize("case", ["plain", "dropout", "3d", "value_dim", "mask_grad", "causal",
                                  "bool_mask"])
@pytest.mark.parametrize("chosen", [["MATH"], ["FLASH_ATTENTION"], ["EFFICIENT_ATTENTION"],
                                    ["FLASH_ATTENTION", "MATH"], ["CUDNN_ATTENTION"], []])
def test_calls_run_or_raise_like_torch(chosen, case):
    theirs, t_warn = _run(torch, chosen, case)
    ours, e_warn = _run(ember, chosen, case)
    if isinstance(theirs, RuntimeError):
        assert isinstance(ours, RuntimeError), f"torch raised {theirs}"
        assert str(ours) == str(theirs)
        assert e_warn == t_warn
        return
    assert not isinstance(ours, Exception), ours
    if case != "dropout":
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), atol=1e-5)


def test_deprecated_sdp_kernel_and_flags():
    for lib in (torch, ember):
        with pytest.warns(FutureWarning, match="sdp_kernel"):
            with lib.backends.cuda.sdp_kernel(enable_flash=False, enable_mem_efficient=False):
                inside = _flags(lib)
        if lib is torch:
            expected = inside
    assert inside == expected
    for lib in (torch, ember):
        cuda = lib.backends.cuda
        cuda.enable_cudnn_sdp(False)
        assert not cuda.cudnn_sdp_enabled()
        cuda.enable_cudnn_sdp(True)
        assert not cuda.fp16_bf16_reduction_math_sdp_allowed()
        cuda.allow_fp16_bf16_reduction_math_sdp(True)
        assert cuda.fp16_bf16_reduction_math_sdp_allowed()
        cuda.allow_fp16_bf16_reduction_math_sdp(False)


def test_math_disabled_by_flag_raises():
    q = ember.ones(1, 1, 2, 4)
    ember.backends.cuda.enable_math_sdp(False)
    ember.backends.cuda.enable_flash_sdp(False)
    try:
        with pytest.raises(RuntimeError, match="No viable backend"):
            ember.nn.functional.scaled_dot_product_attention(q, q, q)
    finally:
        ember.backends.cuda.enable_math_sdp(True)
        ember.backends.cuda.enable_flash_sdp(True)
