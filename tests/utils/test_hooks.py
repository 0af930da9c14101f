"""ember.utils.hooks against torch.utils.hooks."""
import pickle
import warnings
from collections import OrderedDict

import pytest
import torch

import ember
from ember.autograd.graph import RemovableHandle as GraphHandle


@pytest.mark.parametrize("lib", [torch, ember])
def test_removable_handle(lib):
    hooks, extra = OrderedDict(), OrderedDict()
    handle = lib.utils.hooks.RemovableHandle(hooks, extra_dict=[extra])
    hooks[handle.id] = extra[handle.id] = print
    assert handle.hooks_dict_ref() is hooks
    handle.remove()
    assert not hooks and not extra
    handle.remove()
    with lib.utils.hooks.RemovableHandle(hooks) as h:
        hooks[h.id] = print
    assert not hooks
    h2 = lib.utils.hooks.RemovableHandle(hooks)
    assert h2.id > handle.id
    assert pickle.loads(pickle.dumps(h2)).id == h2.id


def test_one_handle_class():
    assert ember.utils.hooks.RemovableHandle is GraphHandle
    t = ember.ones(2, requires_grad=True)
    assert isinstance(t.register_hook(lambda g: g), ember.utils.hooks.RemovableHandle)
    assert isinstance(ember.nn.Linear(1, 1).register_forward_hook(lambda *a: None),
                      ember.utils.hooks.RemovableHandle)


def _warnings(lib, make):
    x = lib.ones(2, requires_grad=True)
    t = make(x)

    def plain(g):
        return g

    @lib.utils.hooks.unserializable_hook
    def quiet(g):
        return g

    t.register_hook(plain)
    handle = t.register_hook(plain)
    t.register_hook(quiet)
    handle.remove()
    assert quiet.__torch_unserializable__ is True
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lib.utils.hooks.warn_if_has_hooks(t)
    return [str(w.message).replace(repr(plain), "HOOK") for w in caught]


@pytest.mark.parametrize("make", [lambda x: x, lambda x: x * 2], ids=["leaf", "non_leaf"])
def test_warn_if_has_hooks(make):
    expected = _warnings(torch, make)
    assert len(expected) == 1
    assert _warnings(ember, make) == expected


def test_warn_if_has_hooks_quiet_without_hooks():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ember.utils.hooks.warn_if_has_hooks(ember.ones(2, requires_grad=True))
        ember.utils.hooks.warn_if_has_hooks(ember.ones(2))
