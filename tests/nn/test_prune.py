"""nn.utils.prune against torch: the same pruning steps on the same Linear/Conv2d weights give
the same masks, pruned weights, state_dicts, outputs, weight_orig gradients and errors; random
methods (ember's own RNG) are checked by their counts and invariants."""
import copy
import doctest
import io
import math
import re

import numpy as np
import pytest
import torch
import torch.nn.utils.prune as tprune

import ember
import ember.nn.utils.prune as eprune

LIBS = ((torch, tprune), (ember, eprune))


def _np(t):
    return t.detach().numpy().copy()


def _weights(kind: str, ties: bool, seed: int = 0) -> dict:
    """Host values for the module's parameters; with ties, few distinct magnitudes."""
    rng = np.random.default_rng(seed)
    shapes = {"linear": {"weight": (4, 6), "bias": (4,)},
              "conv": {"weight": (4, 3, 3, 3), "bias": (4,)}}[kind]
    if ties:
        return {k: (rng.integers(-2, 3, s) / 2).astype(np.float32) for k, s in shapes.items()}
    return {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}


def _module(lib, kind: str, weights: dict):
    m = lib.nn.Linear(6, 4) if kind == "linear" else lib.nn.Conv2d(3, 4, 3)
    with lib.no_grad():
        for name, value in weights.items():
            getattr(m, name).copy_(lib.tensor(value))
    return m


def _input(lib, kind: str):
    shape = (5, 6) if kind == "linear" else (2, 3, 5, 5)
    return lib.tensor(np.random.default_rng(1).standard_normal(shape).astype(np.float32))


def _both(kind: str, steps, ties: bool = False):
    """The torch and ember modules after running each step(lib, prune, module) on both."""
    weights = _weights(kind, ties)
    out = []
    for lib, prune in LIBS:
        m = _module(lib, kind, weights)
        for step in steps:
            step(lib, prune, m)
        out.append(m)
    return out


def _assert_same(tm, em, kind: str, names=("weight", "bias")):
    """Same state_dict (keys in order, values), pruned tensors, outputs and gradients."""
    tsd, esd = tm.state_dict(), em.state_dict()
    assert list(tsd) == list(esd)
    for key in tsd:
        assert esd[key].dtype == getattr(ember, str(tsd[key].dtype).split(".")[1])
        np.testing.assert_array_equal(_np(esd[key]), _np(tsd[key]), err_msg=key)
    cot = np.random.default_rng(2).standard_normal(tm(_input(torch, kind)).shape)
    for lib, m in ((torch, tm), (ember, em)):
        m.zero_grad()
        y = m(_input(lib, kind))  # the forward pre-hooks recompute the pruned tensors
        (y * lib.tensor(cot.astype(np.float32))).sum().backward()
    for name in names:
        np.testing.assert_array_equal(_np(getattr(em, name)), _np(getattr(tm, name)))
        assert isinstance(getattr(em, name), ember.nn.Parameter) == \
            isinstance(getattr(tm, name), torch.nn.Parameter)
    np.testing.assert_allclose(_np(em(_input(ember, kind))), _np(tm(_input(torch, kind))),
                               rtol=1e-5, atol=1e-5)
    tparams, eparams = dict(tm.named_parameters()), dict(em.named_parameters())
    assert list(tparams) == list(eparams)
    for key in tparams:
        np.testing.assert_allclose(_np(eparams[key].grad), _np(tparams[key].grad), rtol=1e-5,
                                   atol=1e-5, err_msg=key)


def _l1(amount, name="weight", **kw):
    return lambda lib, prune, m: prune.l1_unstructured(m, name, amount, **kw)


def _ln(amount, n, dim, name="weight"):
    return lambda lib, prune, m: prune.ln_structured(m, name, amount, n, dim)


# ---- deterministic methods, value for value -------------------------------------------------
@pytest.mark.parametrize("kind", ["linear", "conv"])
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("amount", [0, 3, 0.3, 0.5, 1.0])
def test_l1_unstructured(kind, ties, amount):
    tm, em = _both(kind, [_l1(amount), _l1(amount, "bias")], ties)
    _assert_same(tm, em, kind)
    assert sorted(dict(em.named_buffers())) == ["bias_mask", "weight_mask"]
    assert "weight" not in em._parameters and "weight" in em.__dict__


@pytest.mark.parametrize("kind", ["linear", "conv"])
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("n", [1, 2, 3, 1.5, math.inf, -math.inf, "fro"])
@pytest.mark.parametrize("dim,amount", [(0, 1), (1, 0.5), (-1, 2), (0, 0.0)])
def test_ln_structured(kind, ties, n, dim, amount):
    if kind == "conv" and n == "fro":
        return _check_fro_on_conv()
    tm, em = _both(kind, [_ln(amount, n, dim)], ties)
    _assert_same(tm, em, kind)


def _check_fro_on_conv():
    """'fro' over the three other dims of a conv weight is refused by torch's norm."""
    errors = []
    for lib, prune in LIBS:
        m = lib.nn.Conv2d(3, 4, 3)
        with pytest.raises(RuntimeError) as info:
            prune.ln_structured(m, "weight", 1, "fro", 0)
        errors.append(str(info.value))
        assert list(m._parameters) == ["bias", "weight"]
    assert errors[0].split(".")[0] == errors[1].split(".")[0]


@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_identity_and_custom_from_mask(kind):
    rng = np.random.default_rng(3)
    wmask = rng.random(_weights(kind, False)["weight"].shape) > 0.4
    steps = [lambda lib, prune, m: prune.identity(m, "bias"),
             lambda lib, prune, m: prune.custom_from_mask(m, "weight", lib.tensor(wmask)),
             lambda lib, prune, m: prune.custom_from_mask(m, "bias",
                                                          lib.tensor([1.0, 0.0, 1.0, 1.0]))]
    tm, em = _both(kind, steps)
    _assert_same(tm, em, kind)
    np.testing.assert_array_equal(_np(em.weight_mask), wmask.astype(np.float32))


@pytest.mark.parametrize("kind", ["linear", "conv"])
@pytest.mark.parametrize("ties", [False, True])
def test_importance_scores(kind, ties):
    scores = {k: np.abs(v[::-1].copy()) + 0.25 for k, v in _weights(kind, ties, seed=7).items()}
    steps = [lambda lib, prune, m: prune.l1_unstructured(
                 m, "weight", 0.4, importance_scores=lib.tensor(scores["weight"])),
             lambda lib, prune, m: prune.ln_structured(
                 m, "weight", 1, 2, 0, importance_scores=lib.tensor(scores["weight"])),
             lambda lib, prune, m: prune.l1_unstructured(
                 m, "bias", 2, importance_scores=lib.tensor(scores["bias"]))]
    tm, em = _both(kind, steps, ties)
    _assert_same(tm, em, kind)


REPEATED = {
    "l1_l1_l1": [_l1(0.25), _l1(0.25), _l1(3)],
    "l1_then_ln": [_l1(0.3), _ln(1, 2, 0), _l1(0.5)],
    "ln_then_ln_other_dim": [_ln(1, 1, 0), _ln(0.5, 2, 1), _ln(1, math.inf, 0)],
    "ln_prune_all_left": [_ln(2, 2, 0), _ln(1.0, 1, 0)],
    "custom_then_l1": [lambda lib, prune, m: prune.custom_from_mask(
                           m, "weight", lib.tensor(_weights(
                               "linear" if m.weight.dim() == 2 else "conv", True,
                               seed=4)["weight"] != 0)),
                       _l1(0.5), _ln(1, -math.inf, 0)],
    "identity_first": [lambda lib, prune, m: prune.identity(m, "weight"), _l1(4), _l1(0.0)],
}


@pytest.mark.parametrize("kind", ["linear", "conv"])
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("case", sorted(REPEATED))
def test_repeated_pruning(kind, ties, case):
    steps = REPEATED[case]
    tm, em = _both(kind, steps, ties)
    _assert_same(tm, em, kind, names=("weight",))
    hooks = [h for h in em._forward_pre_hooks.values()]
    assert len(hooks) == 1 and isinstance(hooks[0], eprune.PruningContainer)
    assert [type(h).__name__ for h in hooks[0]] == \
        [type(h).__name__ for h in next(iter(tm._forward_pre_hooks.values()))]
    assert len(hooks[0]) == len(steps) and hooks[0]._tensor_name == "weight"


@pytest.mark.parametrize("steps", [[_l1(1)], [_l1(2), _l1(3), _l1(0.01)], [_l1(0.9), _l1(2)],
                                   [_ln(0.99, 1, 1), _ln(1, 2, 1)], [_ln(197, 1, 1), _l1(0.5)]])
def test_wide_tied_weights(steps):
    """Many equal magnitudes among 800 entries and 200 channels: torch picks the entries to prune
    by heap selection when few are chosen, by introselect otherwise; so does ember."""
    weights = {"weight": (np.arange(800).reshape(4, 200) % 3 - 1).astype(np.float32),
               "bias": np.ones(4, np.float32)}
    modules = []
    for lib, prune in LIBS:
        m = lib.nn.Linear(200, 4)
        with lib.no_grad():
            for name, value in weights.items():
                getattr(m, name).copy_(lib.tensor(value))
        for step in steps:
            step(lib, prune, m)
        modules.append(m)
    np.testing.assert_array_equal(_np(modules[1].weight_mask), _np(modules[0].weight_mask))
    np.testing.assert_array_equal(_np(modules[1].weight), _np(modules[0].weight))


def test_repeated_pruning_chooses_only_among_unpruned():
    m = ember.nn.Linear(10, 10)
    with ember.no_grad():
        m.weight.copy_(ember.arange(100.0).reshape(10, 10) - 50)
    eprune.l1_unstructured(m, "weight", 0.5)
    first = _np(m.weight_mask)
    eprune.l1_unstructured(m, "weight", 0.5)
    assert ((first == 0) <= (_np(m.weight_mask) == 0)).all()
    assert int((m.weight_mask == 0).sum()) == 75
    eprune.ln_structured(m, "weight", 0.5, 1, dim=0)
    rows_pruned = (_np(m.weight_mask).sum(axis=1) == 0).sum()
    assert rows_pruned >= 5


@pytest.mark.parametrize("ties", [False, True])
def test_global_unstructured(ties):
    def setup(lib, prune):
        lin = _module(lib, "linear", _weights("linear", ties))
        conv = _module(lib, "conv", _weights("conv", ties, seed=5))
        return lin, conv

    masks = []
    for lib, prune in LIBS:
        lin, conv = setup(lib, prune)
        prune.l1_unstructured(lin, "weight", 0.25)
        params = [(lin, "weight"), (conv, "weight"), (conv, "bias")]
        prune.global_unstructured(params, prune.L1Unstructured, amount=0.3)
        scores = {(conv, "weight"): lib.tensor(_weights("conv", ties, seed=6)["weight"])}
        prune.global_unstructured(params, pruning_method=prune.L1Unstructured,
                                  importance_scores=scores, amount=20)
        prune.global_unstructured(params, prune.RandomUnstructured, amount=0.0)
        masks.append([_np(getattr(m, n + "_mask")) for m, n in params] + [lin, conv])
    for t, e in zip(masks[0][:3], masks[1][:3]):
        np.testing.assert_array_equal(e, t)
    _assert_same(masks[0][3], masks[1][3], "linear", names=("weight",))
    _assert_same(masks[0][4], masks[1][4], "conv")
    hook = next(iter(masks[1][4]._forward_pre_hooks.values()))
    assert [type(h).__name__ for h in hook] == ["CustomFromMask"] * 3


# ---- random methods: counts and invariants ---------------------------------------------------
@pytest.mark.parametrize("amount,expected", [(5, 5), (0.3, 7), (0.0, 0), (1.0, 24)])
def test_random_unstructured(amount, expected):
    m = eprune.random_unstructured(ember.nn.Linear(6, 4), "weight", amount)
    mask = _np(m.weight_mask)
    assert int((mask == 0).sum()) == expected and set(np.unique(mask)) <= {0.0, 1.0}
    np.testing.assert_array_equal(_np(m.weight), mask * _np(m.weight_orig))
    before = mask == 0
    eprune.random_unstructured(m, "weight", 0.5)
    after = _np(m.weight_mask) == 0
    assert (before <= after).all()
    assert int(after.sum()) == expected + round(0.5 * (24 - expected))


@pytest.mark.parametrize("kind", ["linear", "conv"])
@pytest.mark.parametrize("dim,amount", [(0, 1), (1, 0.5), (-1, 2), (0, 0)])
def test_random_structured(kind, dim, amount):
    m = _module(ember, kind, _weights(kind, False))
    eprune.random_structured(m, "weight", amount, dim)
    mask = _np(m.weight_mask)
    axes = tuple(d for d in range(mask.ndim) if d != dim % mask.ndim)
    per_channel = mask.sum(axis=axes)
    size = mask.shape[dim]
    pruned = amount if isinstance(amount, int) else round(amount * size)
    assert int((per_channel == 0).sum()) == pruned
    assert set(per_channel.tolist()) <= {0.0, mask.size / size}
    eprune.random_structured(m, "weight", 1, dim)
    assert int((_np(m.weight_mask).sum(axis=axes) == 0).sum()) == pruned + 1


def test_random_methods_use_embers_generator():
    masks = []
    for _ in range(2):
        ember.manual_seed(123)
        m = eprune.random_unstructured(ember.nn.Linear(8, 8), "weight", 0.5)
        eprune.random_structured(m, "weight", 2, 0)
        masks.append(_np(m.weight_mask))
    np.testing.assert_array_equal(masks[0], masks[1])


def test_prune_method_on_tensors():
    x = np.array([[0.5, -2.0, 0.25], [1.0, -0.25, 3.0]], dtype=np.float32)
    default = np.array([[1, 1, 0], [1, 1, 1]], dtype=np.float32)
    results = []
    for lib, prune in LIBS:
        t = lib.tensor(x)
        results.append([
            prune.L1Unstructured(2).prune(t),
            prune.L1Unstructured(0.5).prune(t, default_mask=lib.tensor(default)),
            prune.LnStructured(1, 2, dim=1).prune(t, importance_scores=lib.tensor(x[::-1].copy())),
            prune.CustomFromMask(lib.tensor(default)).prune(t),
            prune.Identity().prune(t)])
    for t, e in zip(*results):
        np.testing.assert_array_equal(_np(e), _np(t))


# ---- state_dict, remove, hooks, deepcopy, gradients ------------------------------------------
@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_checkpoints_load_across_libraries(kind):
    tm, em = _both(kind, [_l1(0.4), _ln(1, 2, 0)])
    source_t, source_e = _both(kind, [_l1(0.5), _l1(2, "bias")], ties=True)
    for prune, m in ((tprune, tm), (eprune, em)):
        prune.identity(m, "bias")
    buf = io.BytesIO()
    torch.save(source_t.state_dict(), buf)
    buf.seek(0)
    assert str(em.load_state_dict(ember.load(buf))) == "<All keys matched successfully>"
    tm.load_state_dict(source_t.state_dict())
    _assert_same(tm, em, kind)
    buf = io.BytesIO()
    ember.save(source_e.state_dict(), buf)
    buf.seek(0)
    fresh = _module(torch, kind, _weights(kind, False, seed=9))
    tprune.identity(fresh, "weight")
    tprune.identity(fresh, "bias")
    fresh.load_state_dict(torch.load(buf))
    _assert_same(fresh, source_e, kind)


@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_remove_makes_pruning_permanent(kind):
    tm, em = _both(kind, [_l1(0.5), _ln(1, 1, 0), _l1(2, "bias")])
    orig = em.weight_orig
    for prune, m in ((tprune, tm), (eprune, em)):
        assert prune.is_pruned(m)
        prune.remove(m, "weight")
    assert em.weight is orig and isinstance(em.weight, ember.nn.Parameter)
    assert list(em._parameters) == list(tm._parameters) == ["bias_orig", "weight"]
    assert [type(h).__name__ for h in em._forward_pre_hooks.values()] == ["L1Unstructured"]
    _assert_same(tm, em, kind)
    for prune, m in ((tprune, tm), (eprune, em)):
        prune.remove(m, "bias")
        assert not prune.is_pruned(m) and not m._forward_pre_hooks
    _assert_same(tm, em, kind)


def test_is_pruned_looks_into_submodules():
    net = ember.nn.Sequential(ember.nn.Linear(3, 3), ember.nn.Sequential(ember.nn.Linear(3, 2)))
    assert not eprune.is_pruned(net)
    eprune.random_unstructured(net[1][0], "bias", 1)
    assert eprune.is_pruned(net)
    eprune.remove(net[1][0], "bias")
    assert not eprune.is_pruned(net)


def test_hook_recomputes_weight_and_gradients_reach_orig():
    m = eprune.l1_unstructured(ember.nn.Linear(4, 3), "weight", 6)
    assert m.weight.grad_fn is not None and not isinstance(m.weight, ember.nn.Parameter)
    with ember.no_grad():
        m.weight_orig.fill_(2.0)
    x = ember.ones(2, 4)
    y = m(x)
    np.testing.assert_array_equal(_np(m.weight), 2.0 * _np(m.weight_mask))
    y.sum().backward()
    np.testing.assert_array_equal(_np(m.weight_orig.grad), 2.0 * _np(m.weight_mask))
    assert m.weight_mask.grad is None and not m.weight_mask.requires_grad
    params = [n for n, _ in m.named_parameters()]
    assert params == ["bias", "weight_orig"]


def test_hooks_survive_deepcopy():
    for lib, prune in LIBS:
        m = prune.ln_structured(lib.nn.Linear(4, 3), "weight", 1, 2, 0)
        with pytest.raises(RuntimeError, match="graph leaves"):
            copy.deepcopy(m)
        with lib.no_grad():
            m(lib.ones(1, 4))
        replica = copy.deepcopy(m)
        (key, hook), = replica._forward_pre_hooks.items()
        assert isinstance(hook, prune.LnStructured) and hook is not m._forward_pre_hooks[key]
        with lib.no_grad():
            replica.weight_orig.fill_(1.0)
        replica(lib.ones(1, 4))
        np.testing.assert_array_equal(_np(replica.weight), _np(replica.weight_mask))
        assert not np.array_equal(_np(m.weight), _np(replica.weight))
        prune.l1_unstructured(replica, "weight", 1)
        assert len(next(iter(replica._forward_pre_hooks.values()))) == 2
        assert isinstance(next(iter(m._forward_pre_hooks.values())), prune.LnStructured)


def test_float64_masks_take_the_parameter_dtype():
    for lib, prune in LIBS:
        m = lib.nn.Linear(4, 3).double()
        prune.custom_from_mask(m, "weight", lib.ones(3, 4, dtype=lib.bool))
        prune.l1_unstructured(m, "weight", 2)
        assert m.weight_mask.dtype == lib.float64 and m.weight.dtype == lib.float64


def test_custom_pruning_method():
    """The tutorial's pattern: a user subclass with PRUNING_TYPE and compute_mask."""
    masks = []
    for lib, prune in LIBS:
        class EveryOther(prune.BasePruningMethod):
            PRUNING_TYPE = "unstructured"

            def compute_mask(self, t, default_mask):
                mask = default_mask.clone()
                mask.view(-1)[::2] = 0
                return mask

        m = _module(lib, "linear", _weights("linear", False))
        EveryOther.apply(m, "weight")
        EveryOther.apply(m, "weight")
        masks.append(_np(m.weight_mask))
    np.testing.assert_array_equal(masks[1], masks[0])
    assert masks[1].sum() == 6


def test_signatures_and_pruning_types():
    import inspect
    for name in tprune.__dict__:
        if name.startswith("_") or name in ("ABC", "Iterable", "abstractmethod", "numbers",
                                             "torch"):
            continue
        t, e = getattr(tprune, name), getattr(eprune, name)
        if inspect.isclass(t):
            assert getattr(t, "PRUNING_TYPE", None) == getattr(e, "PRUNING_TYPE", None)
            for method in ("__init__", "apply", "compute_mask"):
                assert _params(getattr(e, method)) == _params(getattr(t, method)), (name, method)
        else:
            assert _params(e) == _params(t), name


def _params(fn):
    import inspect
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


# ---- errors ----------------------------------------------------------------------------------
def _same_error(call, exc_type):
    """call(lib, prune) raises exc_type with the same message in both libraries (object
    addresses aside)."""
    messages = []
    for lib, prune in LIBS:
        with pytest.raises(exc_type) as info:
            call(lib, prune)
        message = str(info.value).replace("torch.nn.utils.prune", "ember.nn.utils.prune")
        messages.append(re.sub(r" at 0x[0-9a-f]+", "", message))
    assert messages[0] == messages[1]
    return messages[1]


@pytest.mark.parametrize("amount,exc", [(-1, ValueError), (1.5, ValueError), (-0.1, ValueError),
                                        ("a", TypeError), (None, TypeError), (13, ValueError),
                                        (True, TypeError)])
@pytest.mark.parametrize("method", ["l1", "random"])
def test_wrong_amount_unstructured(amount, exc, method):
    def call(lib, prune):
        m = lib.nn.Linear(4, 3)
        fn = prune.l1_unstructured if method == "l1" else prune.random_unstructured
        try:
            fn(m, "weight", amount)
        finally:
            assert list(m._parameters) in (["weight", "bias"], ["bias", "weight"])
            assert not m._buffers and not m._forward_pre_hooks
    _same_error(call, exc)


@pytest.mark.parametrize("amount,exc", [(-1, ValueError), (2.0, ValueError), ("x", TypeError),
                                        (4, ValueError)])
def test_wrong_amount_structured(amount, exc):
    _same_error(lambda lib, prune: prune.ln_structured(lib.nn.Linear(4, 3), "weight", amount,
                                                       2, 0), exc)
    _same_error(lambda lib, prune: prune.random_structured(lib.nn.Linear(4, 3), "weight",
                                                           amount, 0), exc)


def test_bool_amounts_as_torch():
    _same_error(lambda lib, prune: prune.random_structured(lib.nn.Linear(4, 3), "weight", True,
                                                           0), TypeError)
    masks = [_np(prune.ln_structured(_module(lib, "linear", _weights("linear", False)),
                                     "weight", True, 1, 0).weight_mask) for lib, prune in LIBS]
    np.testing.assert_array_equal(masks[1], masks[0])


def test_amount_too_large_after_pruning_drops_the_hook_as_torch():
    for lib, prune in LIBS:
        m = prune.l1_unstructured(lib.nn.Linear(5, 2), "weight", 4)
        with pytest.raises(ValueError, match="number of parameters to prune=6"):
            prune.l1_unstructured(m, "weight", 9)
        assert not m._forward_pre_hooks and list(m._parameters) == ["bias", "weight_orig"]


@pytest.mark.parametrize("dim,exc", [(2, IndexError), (5, IndexError), (-3, IndexError)])
def test_wrong_dim(dim, exc):
    _same_error(lambda lib, prune: prune.ln_structured(lib.nn.Linear(4, 3), "weight", 1, 2,
                                                       dim), exc)
    _same_error(lambda lib, prune: prune.random_structured(lib.nn.Linear(4, 3), "weight", 1,
                                                           dim), exc)


def test_wrong_dim_for_a_later_structured_pruning():
    def call(dim):
        def run(lib, prune):
            m = prune.identity(lib.nn.Linear(4, 3), "weight")
            prune.ln_structured(m, "weight", 1, 2, dim=dim)
        return run
    assert _same_error(call(-5), IndexError) == \
        "Index is out of bounds for tensor with dimensions 2"
    _same_error(call(5), IndexError)


def test_structured_pruning_needs_two_dims():
    msg = _same_error(lambda lib, prune: prune.ln_structured(lib.nn.Linear(4, 3), "bias", 1, 2,
                                                             0), ValueError)
    assert msg.startswith("Structured pruning can only be applied to multidimensional")


def test_missing_or_unknown_parameter():
    _same_error(lambda lib, prune: prune.l1_unstructured(lib.nn.Linear(4, 3), "foo", 0.3),
                AttributeError)
    _same_error(lambda lib, prune: prune.l1_unstructured(lib.nn.Linear(4, 3), amount=0.3),
                TypeError)
    _same_error(lambda lib, prune: prune.ln_structured(lib.nn.Linear(4, 3), "weight", 1, 2),
                TypeError)
    _same_error(lambda lib, prune: prune.custom_from_mask(lib.nn.Linear(4, 3), "bias"),
                TypeError)


def test_remove_unpruned():
    _same_error(lambda lib, prune: prune.remove(lib.nn.Linear(4, 3), "weight"), ValueError)

    def remove_other(lib, prune):
        prune.remove(prune.identity(lib.nn.Linear(4, 3), "weight"), "bias")
    _same_error(remove_other, ValueError)


def test_shape_mismatches():
    _same_error(lambda lib, prune: prune.l1_unstructured(lib.nn.Linear(4, 3), "weight", 0.3,
                                                         importance_scores=lib.ones(2, 2)),
                AssertionError)
    _same_error(lambda lib, prune: prune.custom_from_mask(lib.nn.Linear(4, 3), "weight",
                                                          lib.ones(2, 2)), AssertionError)
    _same_error(lambda lib, prune: prune.L1Unstructured(0.5).prune(
        lib.ones(3), importance_scores=lib.ones(2)), AssertionError)


def test_unapplied_method_errors():
    _same_error(lambda lib, prune: prune.Identity().apply_mask(lib.nn.Linear(4, 3)),
                AttributeError)
    _same_error(lambda lib, prune: prune.Identity().remove(lib.nn.Linear(4, 3)), AttributeError)
    _same_error(lambda lib, prune: prune.BasePruningMethod(), TypeError)


def test_global_unstructured_errors():
    def params(lib):
        return [(lib.nn.Linear(4, 3), "weight")]
    _same_error(lambda lib, prune: prune.global_unstructured(3, prune.L1Unstructured, amount=1),
                TypeError)
    _same_error(lambda lib, prune: prune.global_unstructured(
        params(lib), prune.L1Unstructured, importance_scores=[1], amount=1), TypeError)
    _same_error(lambda lib, prune: prune.global_unstructured(
        params(lib), prune.LnStructured, amount=1, n=1), TypeError)
    _same_error(lambda lib, prune: prune.global_unstructured(
        params(lib), prune.L1Unstructured, amount=20), ValueError)


def test_container_errors():
    def container(lib, prune, name="w"):
        method = prune.Identity()
        method._tensor_name = name
        return prune.PruningContainer(method)

    _same_error(lambda lib, prune: container(lib, prune).add_pruning_method(3), TypeError)
    _same_error(lambda lib, prune: container(lib, prune).add_pruning_method(
        container(lib, prune, "b")[0]), ValueError)
    _same_error(lambda lib, prune: prune.PruningContainer(3), AttributeError)
    _same_error(lambda lib, prune: prune.PruningContainer(prune.Identity(), prune.Identity()),
                AttributeError)
    c = container(ember, eprune)
    assert len(c) == 1 and c[0]._tensor_name == "w" and list(c) == [c[0]]
    assert not hasattr(eprune.PruningContainer(), "_tensor_name")


def test_custom_types_refused_in_containers():
    def method(prune, kind, with_dim):
        class Custom(prune.BasePruningMethod):
            PRUNING_TYPE = kind

            def compute_mask(self, t, default_mask):
                return default_mask
        if with_dim:
            Custom.dim = 0
        return Custom

    def second(kind, with_dim=False):
        def run(lib, prune):
            m = prune.identity(lib.nn.Linear(4, 3), "weight")
            try:
                method(prune, kind, with_dim).apply(m, "weight")
            finally:
                assert not m._forward_pre_hooks and "weight_mask" in m._buffers
        return run

    _same_error(second("weird"), ValueError)
    _same_error(second("structured"), AttributeError)
    tm, em = _both("linear", [_l1(5), lambda lib, prune, m: method(prune, "structured",
                                                                   True).apply(m, "weight")])
    _assert_same(tm, em, "linear", names=("weight",))


def test_docstring_examples():
    failures, _ = doctest.testmod(eprune, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert failures == 0
