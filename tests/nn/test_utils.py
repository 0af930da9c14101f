"""nn.utils against torch: gradient clipping, parameter vectors, parametrize, weight_norm and
spectral_norm (both forms): values, gradients, state_dict keys and errors."""
import copy
import doctest
import importlib
import math
import pickle
import warnings

import numpy as np
import pytest
import torch

import ember
from ember.nn.utils import parametrize


def _np(t):
    return t.detach().numpy().copy()


def _to_ember_state(state):
    return {k: ember.tensor(v.detach().numpy()) for k, v in state.items()}


def _params_with_grads(lib, grads):
    params = []
    for g in grads:
        p = lib.nn.Parameter(lib.zeros(*g.shape))
        if g is not None:
            p.grad = lib.tensor(g)
        params.append(p)
    return params


GRADS = [np.array([[3.0, -4.0], [1.0, 0.5]], dtype=np.float32),
         np.array([-2.0, 6.0, 0.25], dtype=np.float32),
         np.array([[[0.1]]], dtype=np.float32)]


# ---- clipping ---------------------------------------------------------------------------
@pytest.mark.parametrize("norm_type", [2.0, 1, math.inf, 0.5, 3.0, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    out = {}
    for lib in (ember, torch):
        params = _params_with_grads(lib, GRADS)
        params.append(lib.nn.Parameter(lib.ones(2)))  # no grad: skipped
        total = lib.nn.utils.clip_grad_norm_(params, max_norm, norm_type=float(norm_type))
        out[lib.__name__] = (total, [_np(p.grad) for p in params[:3]])
    total_e, grads_e = out["ember"]
    total_t, grads_t = out["torch"]
    assert isinstance(total_e, ember.Tensor) and total_e.dtype == ember.float32
    assert total_e.item() == pytest.approx(total_t.item(), rel=1e-6)
    for e, t in zip(grads_e, grads_t):
        np.testing.assert_allclose(e, t, rtol=1e-6)


def test_clip_grad_norm_single_tensor_and_nonfinite():
    out = {}
    for lib in (ember, torch):
        p = lib.nn.Parameter(lib.ones(3))
        p.grad = lib.tensor([1.0, math.inf, 2.0])
        with pytest.raises(RuntimeError, match="non-finite"):
            lib.nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
        total = lib.nn.utils.clip_grad_norm_(p, 1.0)
        out[lib.__name__] = (total.item(), _np(p.grad))
    assert out["ember"][0] == out["torch"][0] == math.inf
    np.testing.assert_array_equal(out["ember"][1], out["torch"][1])


def test_clip_grad_norm_warnings_and_empty():
    with pytest.warns(UserWarning, match="empty generator"):
        total = ember.nn.utils.clip_grad_norm_((p for p in []), 1.0)
    assert total.item() == 0.0
    p = ember.nn.Parameter(ember.ones(2))
    p.grad = ember.tensor([3.0, 4.0])
    with pytest.warns(FutureWarning, match="clip_grad_norm_"):
        assert ember.nn.utils.clip_grad_norm(p, 10.0).item() == pytest.approx(5.0)


def test_total_norm_and_clip_with_norm_match_torch():
    out = {}
    for lib in (ember, torch):
        params = _params_with_grads(lib, GRADS)
        grads = [p.grad for p in params]
        total = lib.nn.utils.get_total_norm(grads, norm_type=3.0)
        lib.nn.utils.clip_grads_with_norm_(params, 2.0, total)
        out[lib.__name__] = (total.item(), [_np(g) for g in grads],
                             lib.nn.utils.get_total_norm([]).item())
    assert out["ember"][0] == pytest.approx(out["torch"][0], rel=1e-6)
    for e, t in zip(out["ember"][1], out["torch"][1]):
        np.testing.assert_allclose(e, t, rtol=1e-6)
    assert out["ember"][2] == out["torch"][2] == 0.0


def test_clipping_accepts_foreach_on_cpu_like_torch():
    """torch 2.13 runs the foreach kernels on CPU tensors too; ember clips the same either way."""
    out = {}
    for lib in (ember, torch):
        params = _params_with_grads(lib, GRADS)
        total = lib.nn.utils.clip_grad_norm_(params, 1.0, foreach=True)
        norm = lib.nn.utils.get_total_norm([p.grad for p in params], foreach=True)
        lib.nn.utils.clip_grads_with_norm_(params, 0.5, norm, foreach=True)
        lib.nn.utils.clip_grad_value_(params, 0.01, foreach=True)
        out[lib.__name__] = [total.item(), norm.item()] + [_np(p.grad) for p in params]
    np.testing.assert_allclose(out["ember"][:2], out["torch"][:2], rtol=1e-6)
    for e, t in zip(out["ember"][2:], out["torch"][2:]):
        np.testing.assert_allclose(e, t, rtol=1e-6)


def test_clip_grad_value_matches_torch():
    out = {}
    for lib in (ember, torch):
        params = _params_with_grads(lib, GRADS)
        assert lib.nn.utils.clip_grad_value_(params, 1.5) is None
        single = lib.nn.Parameter(lib.ones(2))
        single.grad = lib.tensor([-9.0, 0.3])
        lib.nn.utils.clip_grad_value_(single, 0.2)
        out[lib.__name__] = [_np(p.grad) for p in params + [single]]
    for e, t in zip(out["ember"], out["torch"]):
        np.testing.assert_array_equal(e, t)


# ---- parameter vectors --------------------------------------------------------------------
def test_parameters_vector_roundtrip_matches_torch():
    out = {}
    for lib in (ember, torch):
        lin = lib.nn.Linear(3, 2)
        with lib.no_grad():
            lin.weight.copy_(lib.tensor(np.arange(6, dtype=np.float32).reshape(2, 3)))
            lin.bias.copy_(lib.tensor([10.0, 20.0]))
        vec = lib.nn.utils.parameters_to_vector(lin.parameters())
        new = lib.arange(8, dtype=lib.float32) * -1
        lib.nn.utils.vector_to_parameters(new, lin.parameters())
        out[lib.__name__] = (_np(vec), _np(lin.weight), _np(lin.bias), lin.weight.requires_grad)
    for e, t in zip(out["ember"], out["torch"]):
        np.testing.assert_array_equal(e, t)
    with pytest.raises(TypeError, match="expected torch.Tensor, but got: list"):
        ember.nn.utils.vector_to_parameters([1.0], ember.nn.Linear(1, 1).parameters())


# ---- parametrize --------------------------------------------------------------------------
def _symmetric(lib):
    class Symmetric(lib.nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).transpose(-1, -2)

        def right_inverse(self, A):
            return A.triu()

    return Symmetric()


def _scale(lib, factor):
    class Scale(lib.nn.Module):
        def forward(self, X):
            return X * factor

        def right_inverse(self, X):
            return X / factor

    return Scale()


def _square_linear(lib, seed=0):
    lin = lib.nn.Linear(3, 3)
    rng = np.random.default_rng(seed)
    with lib.no_grad():
        lin.weight.copy_(lib.tensor(rng.standard_normal((3, 3)).astype(np.float32)))
        lin.bias.copy_(lib.tensor(rng.standard_normal(3).astype(np.float32)))
    return lin


def test_register_parametrization_matches_torch():
    out = {}
    x = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    for lib in (ember, torch):
        lin = _square_linear(lib)
        original = lin.weight
        P = lib.nn.utils.parametrize
        P.register_parametrization(lin, "weight", _symmetric(lib))
        P.register_parametrization(lin, "weight", _scale(lib, 2.0))
        assert lin.parametrizations.weight.original is original
        assert type(lin).__name__ == "ParametrizedLinear"
        assert P.type_before_parametrizations(lin) is lib.nn.Linear
        assert P.is_parametrized(lin) and P.is_parametrized(lin, "weight")
        assert not P.is_parametrized(lin, "bias")
        lin(lib.tensor(x)).sum().backward()
        grad = _np(original.grad)
        weight = _np(lin.weight)
        lin.weight = lib.tensor(np.eye(3, dtype=np.float32) * 4)
        after_assign = (_np(lin.weight), _np(original))
        keys = list(lin.state_dict())
        names = [n for n, _ in lin.named_parameters()]
        out[lib.__name__] = (weight, grad, after_assign, keys, names)
    e, t = out["ember"], out["torch"]
    np.testing.assert_allclose(e[0], t[0], rtol=1e-6)
    np.testing.assert_allclose(e[1], t[1], rtol=1e-5)
    np.testing.assert_allclose(e[2][0], t[2][0])
    np.testing.assert_allclose(e[2][1], t[2][1])
    assert e[3] == t[3] == ["bias", "parametrizations.weight.original"]
    assert e[4] == t[4]


def test_state_dict_loads_from_torch():
    tlin = _square_linear(torch, 3)
    torch.nn.utils.parametrize.register_parametrization(tlin, "weight", _symmetric(torch))
    elin = _square_linear(ember)
    parametrize.register_parametrization(elin, "weight", _symmetric(ember))
    elin.load_state_dict(_to_ember_state(tlin.state_dict()))
    np.testing.assert_allclose(_np(elin.weight), _np(tlin.weight))


def test_remove_parametrizations():
    # Scale's right_inverse stores weight / 3 as the original, so the value is unchanged
    for leave, expected in ((True, "parametrized"), (False, "original")):
        lin = _square_linear(ember)
        original = lin.weight
        before = _np(original)
        parametrize.register_parametrization(lin, "weight", _scale(ember, 3.0))
        parametrized = _np(lin.weight)
        parametrize.remove_parametrizations(lin, "weight", leave_parametrized=leave)
        assert type(lin) is ember.nn.Linear
        assert not hasattr(lin, "parametrizations")
        assert lin.weight is original and isinstance(lin.weight, ember.nn.Parameter)
        np.testing.assert_allclose(_np(lin.weight),
                                   parametrized if expected == "parametrized" else before / 3,
                                   rtol=1e-6)
        np.testing.assert_allclose(parametrized, before, rtol=1e-6)
        assert list(lin.state_dict()) == ["bias", "weight"]  # re-registered last, as in torch


def test_removing_one_of_two_keeps_the_class():
    lin = _square_linear(ember)
    parametrize.register_parametrization(lin, "weight", _scale(ember, 2.0))
    parametrize.register_parametrization(lin, "bias", _scale(ember, 2.0))
    parametrize.remove_parametrizations(lin, "weight")
    assert type(lin).__name__ == "ParametrizedLinear"
    assert parametrize.is_parametrized(lin, "bias")
    parametrize.remove_parametrizations(lin, "bias")
    assert type(lin) is ember.nn.Linear


def test_buffers_and_classes_are_per_instance():
    m = ember.nn.Module()
    m.register_buffer("scale", ember.tensor([1.0, 2.0]))
    parametrize.register_parametrization(m, "scale", _scale(ember, 10.0))
    assert m.scale.tolist() == pytest.approx([1.0, 2.0])
    assert m.state_dict()["parametrizations.scale.original"].tolist() == pytest.approx([0.1, 0.2])
    assert list(m.parameters()) == []
    other = ember.nn.Module()
    assert not hasattr(type(other), "scale")
    m.scale = ember.tensor([5.0, 6.0])
    parametrize.remove_parametrizations(m, "scale")
    assert m.scale.tolist() == pytest.approx([5.0, 6.0]) and "scale" in m._buffers


def test_cached():
    calls = []

    class Counting(ember.nn.Module):
        def forward(self, X):
            calls.append(1)
            return X * 2

    lin = parametrize.register_parametrization(_square_linear(ember), "weight", Counting())
    calls.clear()
    with parametrize.cached():
        a, b = lin.weight, lin.weight
        with parametrize.cached():
            c = lin.weight
    assert a is b is c and len(calls) == 1
    assert lin.weight is not a and len(calls) == 2


def test_right_inverse_with_several_tensors():
    class Sum(ember.nn.Module):
        def forward(self, a, b):
            return a + b

        def right_inverse(self, X):
            return X / 2, X / 2

    lin = _square_linear(ember)
    w = _np(lin.weight)
    parametrize.register_parametrization(lin, "weight", Sum())
    plist = lin.parametrizations.weight
    assert not plist.is_tensor and plist.ntensors == 2
    assert sorted(lin.state_dict()) == ["bias", "parametrizations.weight.original0",
                                        "parametrizations.weight.original1"]
    np.testing.assert_allclose(_np(lin.weight), w, rtol=1e-6)
    assert isinstance(plist.original0, ember.nn.Parameter)
    lin.weight = ember.ones(3, 3)
    np.testing.assert_allclose(_np(plist.original1), np.full((3, 3), 0.5))
    with pytest.raises(ValueError, match="Cannot leave unparametrized"):
        parametrize.remove_parametrizations(lin, "weight", leave_parametrized=False)
    parametrize.remove_parametrizations(lin, "weight")
    np.testing.assert_allclose(_np(lin.weight), np.ones((3, 3)))


def test_transfer_parametrizations_and_params():
    src = parametrize.register_parametrization(_square_linear(ember), "weight",
                                               _scale(ember, 2.0))
    dst = _square_linear(ember, 5)
    parametrize.transfer_parametrizations_and_params(src, dst)
    assert dst.parametrizations.weight.original is src.parametrizations.weight.original
    np.testing.assert_allclose(_np(dst.weight), _np(src.weight))


def test_deepcopy_works_and_pickle_is_refused():
    lin = parametrize.register_parametrization(_square_linear(ember), "weight",
                                               _scale(ember, 2.0))
    clone = copy.deepcopy(lin)
    assert type(clone) is type(lin)
    assert clone.parametrizations.weight.original is not lin.parametrizations.weight.original
    np.testing.assert_allclose(_np(clone.weight), _np(lin.weight))
    with pytest.raises(RuntimeError, match="only supported through state_dict"):
        pickle.dumps(lin)


def test_parametrize_errors():
    lin = _square_linear(ember)

    class Shrink(ember.nn.Module):
        def forward(self, X):
            return X[:2]

    class NoInverse(ember.nn.Module):
        def forward(self, X):
            return X

    with pytest.raises(ValueError, match="does not have a parameter, a buffer"):
        parametrize.register_parametrization(lin, "nope", _scale(ember, 2.0))
    with pytest.raises(ValueError, match="may not change the shape"):
        parametrize.register_parametrization(lin, "weight", Shrink())
    parametrize.register_parametrization(lin, "weight", Shrink(), unsafe=True)
    assert lin.weight.shape == (2, 3)
    with pytest.raises(ValueError, match="does not have a parametrization on bias"):
        parametrize.remove_parametrizations(lin, "bias")
    lin2 = parametrize.register_parametrization(_square_linear(ember), "weight", NoInverse())
    with pytest.raises(RuntimeError, match="does not implement right_inverse"):
        lin2.weight = ember.ones(3, 3)
    with pytest.raises(KeyError, match="already exists"):
        lin2.weight = ember.nn.Parameter(ember.ones(3, 3))
    with pytest.raises(ValueError, match="requires one or more modules"):
        parametrize.ParametrizationList([], ember.ones(2))


# ---- weight_norm / spectral_norm: parametrizations ------------------------------------
def _conv_like(lib, shape=(4, 3, 2), seed=0):
    """A module with a 3-d weight (like Conv1d's) that uses it as a matrix."""
    rng = np.random.default_rng(seed)

    class Layer(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = lib.nn.Parameter(lib.tensor(rng.standard_normal(shape)
                                                      .astype(np.float32)))

        def forward(self, x):
            return x @ self.weight.reshape(self.weight.shape[0], -1).T

    return Layer()


@pytest.mark.parametrize("dim", [0, 1, 2, None, -1, -2])
def test_weight_norm_parametrization_matches_torch(dim):
    x = np.random.default_rng(2).standard_normal((5, 6)).astype(np.float32)
    out = {}
    for lib in (ember, torch):
        layer = lib.nn.utils.parametrizations.weight_norm(_conv_like(lib), dim=dim)
        y = layer(lib.tensor(x))
        (y ** 2).sum().backward()
        g, v = layer.parametrizations.weight.original0, layer.parametrizations.weight.original1
        out[lib.__name__] = (_np(y), _np(g), _np(g.grad), _np(v.grad), list(layer.state_dict()))
    for e, t in zip(out["ember"][:4], out["torch"][:4]):
        assert e.shape == t.shape
        np.testing.assert_allclose(e, t, rtol=1e-5, atol=1e-5)
    assert out["ember"][4] == out["torch"][4]


def test_weight_norm_parametrization_loads_legacy_and_torch_checkpoints():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        legacy = torch.nn.utils.weight_norm(_conv_like(torch, seed=4))
    modern = torch.nn.utils.parametrizations.weight_norm(_conv_like(torch, seed=5))
    for source in (legacy, modern):
        layer = ember.nn.utils.parametrizations.weight_norm(_conv_like(ember))
        layer.load_state_dict(_to_ember_state(source.state_dict()))
        np.testing.assert_allclose(_np(layer.weight), _np(source.weight), rtol=1e-6)


def _spectral_pair(make_e, make_t, **kwargs):
    tmod = torch.nn.utils.parametrizations.spectral_norm(make_t(), **kwargs)
    emod = ember.nn.utils.parametrizations.spectral_norm(make_e(), **kwargs)
    emod.load_state_dict(_to_ember_state(tmod.state_dict()))
    return emod, tmod


@pytest.mark.parametrize("kwargs", [{}, dict(n_power_iterations=3), dict(dim=1),
                                    dict(dim=-1, eps=1e-3)])
def test_spectral_norm_parametrization_matches_torch(kwargs):
    emod, tmod = _spectral_pair(lambda: _conv_like(ember), lambda: _conv_like(torch), **kwargs)
    assert list(emod.state_dict()) == list(tmod.state_dict())
    x = np.random.default_rng(3).standard_normal((5, 6)).astype(np.float32)
    for step in range(4):
        if step == 3:
            emod.eval()
            tmod.eval()
        ye, yt = emod(ember.tensor(x)), tmod(torch.tensor(x))
        np.testing.assert_allclose(_np(ye), _np(yt), rtol=1e-5, atol=1e-5)
        for key, value in tmod.state_dict().items():
            np.testing.assert_allclose(_np(emod.state_dict()[key]), _np(value), rtol=1e-5,
                                       atol=1e-6, err_msg=key)
    emod.train()
    tmod.train()
    (emod(ember.tensor(x)) ** 2).sum().backward()
    (tmod(torch.tensor(x)) ** 2).sum().backward()
    np.testing.assert_allclose(_np(emod.parametrizations.weight.original.grad),
                               _np(tmod.parametrizations.weight.original.grad), rtol=1e-4,
                               atol=1e-5)


def test_spectral_norm_parametrization_normalizes_and_checks():
    lin = ember.nn.utils.parametrizations.spectral_norm(ember.nn.Linear(6, 4))
    for _ in range(30):
        weight = lin.weight  # each training-mode access runs one power iteration
    top = np.linalg.svd(_np(weight), compute_uv=False)[0]
    assert top == pytest.approx(1.0, rel=1e-3)
    vec = ember.nn.Module()
    vec.weight = ember.nn.Parameter(ember.tensor([3.0, 4.0]))
    ember.nn.utils.parametrizations.spectral_norm(vec)
    np.testing.assert_allclose(_np(vec.weight), [0.6, 0.8], rtol=1e-6)
    with pytest.raises(IndexError, match="Dimension out of range"):
        ember.nn.utils.parametrizations.spectral_norm(ember.nn.Linear(2, 2), dim=2)
    with pytest.raises(ValueError, match="n_power_iterations to be positive"):
        ember.nn.utils.parametrizations.spectral_norm(ember.nn.Linear(2, 2),
                                                      n_power_iterations=0)
    with pytest.raises(ValueError, match="has no parameter or buffer with name 'kernel'"):
        ember.nn.utils.parametrizations.spectral_norm(ember.nn.Linear(2, 2), name="kernel")


# ---- orthogonal --------------------------------------------------------------------------
def _orthogonal_pair(shape, **kwargs):
    """The same float64 weight parametrized by torch and by ember; ember loads torch's state
    (so a non-square `base`, completed from random columns, is shared)."""
    w = np.random.default_rng(6).standard_normal(shape)
    mods = []
    for lib in (torch, ember):
        mod = lib.nn.Module()
        mod.weight = lib.nn.Parameter(lib.tensor(w.copy()))
        mods.append(lib.nn.utils.parametrizations.orthogonal(mod, **kwargs))
    tmod, emod = mods
    emod.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in
                          tmod.state_dict().items()})
    return emod, tmod


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 4, 3)])
@pytest.mark.parametrize("kwargs", [{}, dict(orthogonal_map="cayley"),
                                    dict(orthogonal_map="householder"),
                                    dict(orthogonal_map="matrix_exp", use_trivialization=False),
                                    dict(orthogonal_map="householder", use_trivialization=False)])
def test_orthogonal_parametrization_matches_torch(shape, kwargs):
    emod, tmod = _orthogonal_pair(shape, **kwargs)
    assert list(emod.state_dict()) == list(tmod.state_dict())
    np.testing.assert_allclose(_np(emod.weight), _np(tmod.weight), rtol=1e-10, atol=1e-12)
    tall = _np(emod.weight) if shape[-2] >= shape[-1] else _np(emod.weight).swapaxes(-1, -2)
    k = tall.shape[-1]
    np.testing.assert_allclose(tall.swapaxes(-1, -2) @ tall, np.broadcast_to(np.eye(k),
                               tall.shape[:-2] + (k, k)), atol=1e-12)
    c = np.random.default_rng(7).standard_normal(shape)
    for mod, lib in ((emod, ember), (tmod, torch)):
        (mod.weight * lib.tensor(c)).sum().backward()
    np.testing.assert_allclose(_np(emod.parametrizations.weight.original.grad),
                               _np(tmod.parametrizations.weight.original.grad), rtol=1e-8,
                               atol=1e-10)


def test_orthogonal_assignment_and_training_match_torch():
    emod, tmod = _orthogonal_pair((4, 4))
    q = np.linalg.qr(np.random.default_rng(8).standard_normal((4, 4)))[0]
    for mod, lib in ((emod, ember), (tmod, torch)):
        mod.weight = lib.tensor(q)
    np.testing.assert_allclose(_np(emod.weight), q, atol=1e-12)
    np.testing.assert_allclose(_np(emod.parametrizations.weight.original), -np.eye(4))
    x = np.random.default_rng(9).standard_normal((6, 4))
    for mod, lib in ((emod, ember), (tmod, torch)):
        opt = lib.optim.SGD(mod.parameters(), lr=0.1)
        for _ in range(3):
            opt.zero_grad()
            ((lib.tensor(x) @ mod.weight).tanh().sum()).backward()
            opt.step()
    np.testing.assert_allclose(_np(emod.weight), _np(tmod.weight), rtol=1e-9, atol=1e-11)


def test_orthogonal_errors():
    orthogonal = ember.nn.utils.parametrizations.orthogonal
    with pytest.raises(ValueError, match="Expected a matrix or batch of matrices. Got a tensor"):
        orthogonal(ember.nn.Linear(3, 3), name="bias")
    with pytest.raises(ValueError, match='orthogonal_map has to be one of "matrix_exp"'):
        orthogonal(ember.nn.Linear(3, 3), orthogonal_map="qr")
    with pytest.raises(ValueError, match="has no parameter or buffer with name 'kernel'"):
        orthogonal(ember.nn.Linear(3, 3), name="kernel")
    mod = ember.nn.Module()
    mod.weight = ember.nn.Parameter(ember.zeros(3, 3, dtype=ember.complex64))
    with pytest.raises(ValueError, match="householder parametrization does not support complex"):
        orthogonal(mod, orthogonal_map="householder")
    lin = orthogonal(ember.nn.Linear(3, 3), orthogonal_map="cayley", use_trivialization=False)
    with pytest.raises(NotImplementedError, match="use_trivialization=False"):
        lin.weight = ember.eye(3)
    lin = orthogonal(ember.nn.Linear(3, 3))
    with pytest.raises(ValueError, match="of shape"):
        lin.parametrizations.weight[0].right_inverse(ember.eye(2))


# ---- legacy hooks ------------------------------------------------------------------------
@pytest.mark.parametrize("dim", [0, 1, None])
def test_legacy_weight_norm_matches_torch(dim):
    x = np.random.default_rng(2).standard_normal((5, 6)).astype(np.float32)
    out = {}
    for lib in (ember, torch):
        with pytest.warns(FutureWarning, match="parametrizations.weight_norm"):
            layer = lib.nn.utils.weight_norm(_conv_like(lib), dim=dim)
        y = layer(lib.tensor(x))
        (y ** 2).sum().backward()
        keys = list(layer.state_dict())
        grads = (_np(layer.weight_g.grad), _np(layer.weight_v.grad))
        lib.nn.utils.remove_weight_norm(layer)
        out[lib.__name__] = (_np(y), *grads, keys, list(layer.state_dict()), _np(layer.weight))
    e, t = out["ember"], out["torch"]
    for a, b in zip(e[:3], t[:3]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    assert e[3] == t[3] == ["weight_g", "weight_v"]
    assert e[4] == t[4] == ["weight"]
    np.testing.assert_allclose(e[5], t[5], rtol=1e-6)


def test_legacy_weight_norm_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        lin = ember.nn.utils.weight_norm(ember.nn.Linear(2, 2))
        with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks"):
            ember.nn.utils.weight_norm(lin)
        with pytest.raises(ValueError, match="uninitialized parameters"):
            ember.nn.utils.weight_norm(ember.nn.LazyLinear(2))
    with pytest.raises(ValueError, match="weight_norm of 'bias' not found"):
        ember.nn.utils.remove_weight_norm(lin, "bias")


def test_legacy_spectral_norm_matches_torch():
    tmod = torch.nn.utils.spectral_norm(_conv_like(torch), n_power_iterations=2)
    emod = ember.nn.utils.spectral_norm(_conv_like(ember), n_power_iterations=2)
    state = tmod.state_dict()
    assert list(emod.state_dict()) == list(state) == ["weight_orig", "weight_u", "weight_v"]
    emod.load_state_dict(_to_ember_state(state))
    x = np.random.default_rng(3).standard_normal((5, 6)).astype(np.float32)
    for step in range(4):
        if step == 3:
            emod.eval()
            tmod.eval()
        np.testing.assert_allclose(_np(emod(ember.tensor(x))), _np(tmod(torch.tensor(x))),
                                   rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(_np(emod.weight_u), _np(tmod.weight_u), rtol=1e-5, atol=1e-6)
    emod.train()
    tmod.train()
    (emod(ember.tensor(x)) ** 2).sum().backward()
    (tmod(torch.tensor(x)) ** 2).sum().backward()
    np.testing.assert_allclose(_np(emod.weight_orig.grad), _np(tmod.weight_orig.grad),
                               rtol=1e-4, atol=1e-5)
    metadata = emod.state_dict()._metadata[""]
    assert metadata["spectral_norm"] == {"weight.version": 1}
    ember.nn.utils.remove_spectral_norm(emod)
    torch.nn.utils.remove_spectral_norm(tmod)
    assert list(emod.state_dict()) == list(tmod.state_dict()) == ["weight"]
    np.testing.assert_allclose(_np(emod.weight), _np(tmod.weight), rtol=1e-5)
    assert not emod._state_dict_hooks and not emod._load_state_dict_pre_hooks


def test_legacy_spectral_norm_loads_version_0_checkpoint():
    tmod = torch.nn.utils.spectral_norm(_conv_like(torch, seed=7))
    tmod(torch.ones(1, 6))
    state = tmod.state_dict()
    old = {"weight_orig": state["weight_orig"], "weight_u": state["weight_u"],
           "weight": tmod.weight.detach()}
    emod = ember.nn.utils.spectral_norm(_conv_like(ember))
    emod.load_state_dict(_to_ember_state(old))
    emod.eval()
    np.testing.assert_allclose(_np(emod(ember.ones(1, 6))), _np(tmod.eval()(torch.ones(1, 6))),
                               rtol=1e-4, atol=1e-5)


def test_legacy_spectral_norm_errors():
    lin = ember.nn.utils.spectral_norm(ember.nn.Linear(2, 2))
    with pytest.raises(RuntimeError, match="Cannot register two spectral_norm hooks"):
        ember.nn.utils.spectral_norm(lin)
    with pytest.raises(ValueError, match="n_power_iterations to be positive"):
        ember.nn.utils.spectral_norm(ember.nn.Linear(2, 2), n_power_iterations=0)
    with pytest.raises(ValueError, match="spectral_norm of 'bias' not found"):
        ember.nn.utils.remove_spectral_norm(lin, "bias")
    no_bias = ember.nn.Linear(2, 2, bias=False)
    with pytest.raises(ValueError, match="parameter `bias` is None"):
        ember.nn.utils.spectral_norm(no_bias, name="bias")


@pytest.mark.parametrize("name", ["ember.nn.utils.clip_grad", "ember.nn.utils.convert_parameters",
                                  "ember.nn.utils.parametrize",
                                  "ember.nn.utils.parametrizations",
                                  "ember.nn.utils.weight_norm", "ember.nn.utils.spectral_norm"])
def test_docstring_examples(name):
    failures, _ = doctest.testmod(importlib.import_module(name),
                                  optionflags=doctest.NORMALIZE_WHITESPACE)
    assert failures == 0
