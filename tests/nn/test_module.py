"""Module semantics against torch.nn.Module: registration, iteration, state_dict, hooks, repr."""
import pytest
import torch

import ember
from ember import nn


def _pair(lib):
    """The same small module tree built with torch or ember."""
    class Inner(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = lib.nn.Parameter(lib.ones(2, 3))
            self.register_buffer("running", lib.zeros(3))
            self.register_buffer("scratch", lib.zeros(1), persistent=False)

        def forward(self, x):
            return x * 2

    class Outer(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = Inner()
            self.seq = lib.nn.Sequential(Inner(), lib.nn.Identity())
            self.bias = lib.nn.Parameter(lib.zeros(3))
            self.none_param = None
            self.register_parameter("missing", None)

        def forward(self, x):
            return self.seq(self.a(x)) + self.bias
    return Outer()


def test_names_and_order_match_torch():
    e, t = _pair(ember), _pair(torch)
    assert [n for n, _ in e.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in e.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert [n for n, _ in e.named_modules()] == [n for n, _ in t.named_modules()]
    assert [n for n, _ in e.named_children()] == [n for n, _ in t.named_children()]
    assert list(e.state_dict()) == list(t.state_dict())
    assert [n for n, _ in e.named_parameters(prefix="m", recurse=False)] == \
        [n for n, _ in t.named_parameters(prefix="m", recurse=False)]


def test_shared_parameters_listed_once():
    for lib in (ember, torch):
        m = lib.nn.Module()
        m.a = lib.nn.Identity()
        p = lib.nn.Parameter(lib.zeros(1))
        m.p = p
        m.a.q = p
        assert len(list(m.parameters())) == 1
        assert len(list(m.named_parameters(remove_duplicate=False))) == 2


def test_load_state_dict_roundtrip_from_torch():
    e, t = _pair(ember), _pair(torch)
    with torch.no_grad():
        for p in t.parameters():
            p.uniform_()
    sd = {k: ember.tensor(v.numpy()) for k, v in t.state_dict().items()}
    result = e.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for (k, v), (_, w) in zip(e.state_dict().items(), t.state_dict().items()):
        assert (v.numpy() == w.numpy()).all(), k


def test_load_state_dict_errors_name_keys():
    e = _pair(ember)
    sd = dict(e.state_dict())
    sd["a.w"] = ember.zeros(4, 4)
    del sd["bias"]
    sd["extra"] = ember.zeros(1)
    with pytest.raises(RuntimeError) as err:
        e.load_state_dict(sd)
    msg = str(err.value)
    assert 'Missing key(s) in state_dict: "bias"' in msg
    assert 'Unexpected key(s) in state_dict: "extra"' in msg
    assert "size mismatch for a.w" in msg and "[4, 4]" in msg and "[2, 3]" in msg
    sd["a.w"] = ember.zeros(2, 3)
    result = e.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["extra"]


def test_load_state_dict_strict_false_reports_keys_like_torch():
    e, t = _pair(ember), _pair(torch)
    sd_e = dict(e.state_dict())
    sd_t = dict(t.state_dict())
    for sd in (sd_e, sd_t):
        del sd["bias"]
        sd["extra"] = sd["a.w"]
    assert tuple(e.load_state_dict(sd_e, strict=False)) == \
        tuple(t.load_state_dict(sd_t, strict=False))


def test_assignment_rules():
    m = nn.Module()
    m.p = nn.Parameter(ember.zeros(1))
    with pytest.raises(TypeError, match="cannot assign"):
        m.p = ember.zeros(1)
    m.p = None
    assert "p" in m._parameters and m.p is None
    m.register_buffer("b", ember.zeros(1))
    m.b = ember.ones(1)
    assert m._buffers["b"].item() == 1
    with pytest.raises(TypeError):
        m.b = 3
    with pytest.raises(KeyError):
        m.register_buffer("a.b", None)
    with pytest.raises(AttributeError):
        _ = m.nope
    m.child = nn.Identity()
    del m.child
    assert "child" not in m._modules
    with pytest.raises(AttributeError, match="before Module.__init__"):
        class Bad(nn.Module):
            def __init__(self):
                self.p = nn.Parameter(ember.zeros(1))
        Bad()


def test_train_eval_requires_grad_zero_grad():
    e = _pair(ember)
    e.eval()
    assert not any(m.training for m in e.modules())
    e.train()
    assert all(m.training for m in e.modules())
    e.requires_grad_(False)
    assert not any(p.requires_grad for p in e.parameters())
    e.requires_grad_(True)
    for p in e.parameters():
        p.grad = ember.ones(p.shape)
    e.zero_grad(set_to_none=False)
    assert all(p.grad.sum().item() == 0 for p in e.parameters())
    e.zero_grad()
    assert all(p.grad is None for p in e.parameters())


def test_to_dtype_keeps_parameter_identity():
    e = _pair(ember)
    p = e.bias
    e.double()
    assert e.bias is p and p.dtype is ember.float64 and isinstance(p, nn.Parameter)
    assert e.a.running.dtype is ember.float64
    with pytest.raises(TypeError):
        e.to(ember.int32)


def test_to_memory_format_lays_out_4d_tensors_like_torch():
    for lib in (torch, ember):
        m = lib.nn.Sequential(lib.nn.Conv2d(3, 4, 3), lib.nn.BatchNorm2d(4))
        weight = m[0].weight
        assert m.to(memory_format=lib.channels_last) is m
        assert m[0].weight is weight and m[0].weight.stride() == (27, 1, 9, 3)
        assert m[0].bias.stride() == (1,) and m[1].running_mean.stride() == (1,)
        with pytest.raises(RuntimeError, match="required rank 4 tensor to use channels_last"):
            lib.nn.Conv3d(1, 1, 1).to(memory_format=lib.channels_last)


def test_forward_hooks():
    calls = []
    m = nn.Identity()
    h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 2,))
    h2 = m.register_forward_hook(lambda mod, args, out: calls.append(out.item()) or out + 1)
    assert m(ember.tensor(3.0)).item() == 7.0
    assert calls == [6.0]
    h1.remove()
    h2.remove()
    assert m(ember.tensor(3.0)).item() == 3.0


def test_full_backward_hook_sees_grads():
    seen = {}

    class Scale(nn.Module):
        def forward(self, x):
            return x * 3

    m = Scale()

    def hook(mod, grad_input, grad_output):
        seen["in"], seen["out"] = grad_input[0].tolist(), grad_output[0].tolist()
        return (grad_input[0] * 10,)

    m.register_full_backward_hook(hook)
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    m(x).sum().backward()
    assert seen == {"in": [3.0, 3.0], "out": [1.0, 1.0]}
    assert x.grad.tolist() == [30.0, 30.0]


def test_repr_matches_torch():
    e, t = _pair(ember), _pair(torch)
    assert repr(e).replace("ember", "torch") == repr(t)
    assert repr(nn.ParameterList([ember.zeros(2, 3)])) == \
        repr(torch.nn.ParameterList([torch.zeros(2, 3)]))


def test_sequential_and_lists_like_torch():
    for lib in (ember, torch):
        s = lib.nn.Sequential(lib.nn.Identity(), lib.nn.Identity(), lib.nn.Identity())
        assert len(s[1:]) == 2 and isinstance(s[1:], lib.nn.Sequential)
        del s[0]
        assert list(s._modules) == ["0", "1"]
        s.append(lib.nn.Identity())
        assert len(s) == 3
        with pytest.raises(IndexError):
            s[5]
        ml = lib.nn.ModuleList([lib.nn.Identity()])
        ml += [lib.nn.Identity()]
        assert len(ml) == 2 and len(list(ml.parameters())) == 0
        md = lib.nn.ModuleDict({"a": lib.nn.Identity()})
        assert "a" in md and list(md.keys()) == ["a"]
        pd = lib.nn.ParameterDict({"w": lib.nn.Parameter(lib.zeros(1))})
        assert list(dict(pd.named_parameters())) == ["w"]


def test_get_submodule_and_apply():
    e = _pair(ember)
    assert e.get_submodule("seq.0") is e.seq[0]
    assert e.get_parameter("seq.0.w") is e.seq[0].w
    with pytest.raises(AttributeError):
        e.get_submodule("seq.9")
    visited = []
    e.apply(lambda m: visited.append(type(m).__name__))
    assert visited[-1] == "Outer" and visited.count("Inner") == 2


def test_modules_all_names_torch_public_classes_only():
    """nn.modules.__all__ is torch's list (less the layers ember lacks), so `from .modules
    import *` brings no file names into ember.nn: nn.attention stays the attention package."""
    import types
    missing = {"CrossMapLRN2d", "LinearCrossEntropyLoss", "LinearCrossEntropyOptions"}
    assert set(ember.nn.modules.__all__) == set(torch.nn.modules.__all__) - missing
    namespace = {}
    exec("from ember.nn.modules import *", namespace)
    assert not [k for k, v in namespace.items() if isinstance(v, types.ModuleType)]
    assert ember.nn.attention.__name__ == "ember.nn.attention"
    assert set(ember.nn.modules.__all__) <= set(dir(ember.nn))
