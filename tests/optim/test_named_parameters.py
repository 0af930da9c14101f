"""Optimizers built from model.named_parameters(): groups carry 'param_names', as torch's."""
import pytest
import torch

import ember


def _pair(names_w=("weight", "bias")):
    torch.manual_seed(0)
    tm = torch.nn.Linear(2, 3)
    em = ember.nn.Linear(2, 3)
    em.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return tm, em


def _groups(opt):
    return [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop"])
def test_named_parameters_give_param_names(name):
    tm, em = _pair()
    topt = getattr(torch.optim, name)(tm.named_parameters(), lr=0.1)
    eopt = getattr(ember.optim, name)(em.named_parameters(), lr=0.1)
    assert _groups(eopt) == _groups(topt)
    assert list(eopt.param_groups[0])[:2] == ["params", "param_names"]
    assert eopt.state_dict()["param_groups"] == topt.state_dict()["param_groups"]
    for lib, model, opt in ((torch, tm, topt), (ember, em, eopt)):
        model(lib.ones(4, 2)).sum().backward()
        opt.step()
    assert torch.allclose(tm.weight, torch.from_numpy(em.weight.detach().numpy()), atol=1e-6)


def test_named_groups_keep_user_options_and_order():
    tm, em = _pair()
    groups = lambda m: [{"params": [("w", m.weight)]},  # noqa: E731
                        {"params": [("b", m.bias)], "lr": 1.0}]
    topt = torch.optim.SGD(groups(tm), lr=0.1)
    eopt = ember.optim.SGD(groups(em), lr=0.1)
    assert eopt.state_dict()["param_groups"] == topt.state_dict()["param_groups"]
    assert [list(g) for g in eopt.state_dict()["param_groups"]] == \
        [list(g) for g in topt.state_dict()["param_groups"]]
    assert repr(eopt) == repr(topt)


@pytest.mark.parametrize("make", [
    lambda lib, m: lib.optim.SGD([m.bias, ("a", m.weight)], lr=0.1),
    lambda lib, m: lib.optim.SGD(m.named_parameters(), lr=0.1).add_param_group(
        {"params": [lib.nn.Parameter(lib.ones(2))]}),
    lambda lib, m: lib.optim.SGD(m.parameters(), lr=0.1).add_param_group(
        {"params": [("b", lib.nn.Parameter(lib.ones(2)))]}),
])
def test_mixing_named_and_unnamed_is_refused(make):
    tm, em = _pair()
    with pytest.raises(ValueError) as expected:
        make(torch, tm)
    with pytest.raises(ValueError, match="with/without names") as got:
        make(ember, em)
    assert str(got.value) == str(expected.value)


def test_load_state_dict_between_named_and_unnamed():
    tm, em = _pair()
    results = []
    for lib, m in ((torch, tm), (ember, em)):
        named = lib.optim.SGD(m.named_parameters(), lr=0.1)
        other = lib.optim.SGD([("x", m.weight), ("y", m.bias)], lr=0.3)
        plain = lib.optim.SGD(m.parameters(), lr=0.2)
        plain.load_state_dict(named.state_dict())
        named.load_state_dict(other.state_dict())
        first = named.param_groups[0]["param_names"]
        named.load_state_dict(lib.optim.SGD(m.parameters(), lr=0.5).state_dict())
        results.append((plain.param_groups[0]["param_names"], first,
                        named.param_groups[0]["param_names"], named.param_groups[0]["lr"]))
    assert results[0] == results[1]
