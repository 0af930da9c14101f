"""ember.func against torch.func: gradients, vector-Jacobian and Jacobian-vector products,
Jacobians and Hessians, vmap (with per-sample gradients and model ensembles), functional_call,
stack_module_state and replace_all_batch_norm_modules_."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import ember

X = np.array([0.3, -1.2, 2.0])
Y = np.array([[0.5, 1.0, -0.4], [2.0, -1.0, 0.1]])


def _np(tree):
    if isinstance(tree, (tuple, list)):
        return [_np(t) for t in tree]
    if isinstance(tree, dict):
        return {k: _np(v) for k, v in tree.items()}
    return tree.detach().numpy() if hasattr(tree, "detach") else tree


def _same(a, b):
    a, b = _np(a), _np(b)
    if isinstance(a, list):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            _same(u, v)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _same(a[k], b[k])
    else:
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def _both(build):
    """build(lib, F) -> result, for ember.func and torch.func."""
    return build(ember, ember.func), build(torch, torch.func)


def _f(x, y):
    return (x.sin() * (y.mT @ (y @ x))).sum() + (x ** 3).sum()


CASES = {
    "grad": lambda lib, F: F.grad(_f)(lib.tensor(X), lib.tensor(Y)),
    "grad_argnums": lambda lib, F: F.grad(_f, argnums=(0, 1))(lib.tensor(X), lib.tensor(Y)),
    "grad_aux": lambda lib, F: F.grad(lambda x: ((x * x).sum(), x.mean()), has_aux=True)(
        lib.tensor(X)),
    "grad_and_value": lambda lib, F: F.grad_and_value(_f)(lib.tensor(X), lib.tensor(Y)),
    "grad_of_grad": lambda lib, F: F.grad(lambda x: F.grad(lambda z: (z ** 4).sum())(x).sum())(
        lib.tensor(X)),
    "grad_dict": lambda lib, F: F.grad(lambda p: (p["w"] * p["b"]).sum())(
        {"w": lib.tensor(X), "b": lib.tensor(X[::-1].copy())}),
    "vjp": lambda lib, F: F.vjp(lambda x, y: y @ x.exp(), lib.tensor(X), lib.tensor(Y))[1](
        lib.tensor([1.0, -2.0], dtype=lib.float64)),
    "jvp": lambda lib, F: F.jvp(lambda x: x.sin() * x, (lib.tensor(X),),
                                (lib.tensor([1.0, 0.5, -1.0]),)),
    "jacrev": lambda lib, F: F.jacrev(lambda x, y: y @ x.tanh(), argnums=(0, 1))(
        lib.tensor(X), lib.tensor(Y)),
    "jacfwd": lambda lib, F: F.jacfwd(lambda x: x.exp() * x[0])(lib.tensor(X)),
    "hessian": lambda lib, F: F.hessian(lambda x: (x.sin() * x ** 2).sum())(lib.tensor(X)),
    "vmap": lambda lib, F: F.vmap(lambda r, s: (r * s).sum(), in_dims=(0, None))(
        lib.tensor(Y), lib.tensor(X)),
    "vmap_out_dims": lambda lib, F: F.vmap(lambda r: r * 2, in_dims=1, out_dims=1)(
        lib.tensor(Y)),
    "vmap_of_grad": lambda lib, F: F.vmap(F.grad(lambda r: (r ** 2).sum()))(lib.tensor(Y)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_transforms_like_torch_func(name):
    ours, theirs = _both(CASES[name])
    _same(ours, theirs)


def test_results_carry_no_graph_at_the_top_level_but_do_inside_a_transform():
    g = ember.func.grad(lambda x: (x ** 2).sum())(ember.tensor(X))
    assert not g.requires_grad
    h = ember.func.hessian(lambda x: (x ** 3).sum())(ember.tensor(X))
    assert not h.requires_grad
    w = ember.tensor(X, requires_grad=True)  # an input in an outer graph: results stay in it
    assert ember.func.grad(lambda x: (x ** 3).sum())(w).requires_grad


def _per_sample_grads(lib, F, params):
    net = lib.nn.Linear(3, 2)
    x, y = lib.tensor(Y[:, None, :] * 1.0), lib.tensor([[1], [0]])

    def loss(p, xb, yb):
        return lib.nn.functional.cross_entropy(F.functional_call(net, p, (xb,)), yb)
    return F.vmap(F.grad(loss), in_dims=(None, 0, 0))(
        {k: lib.tensor(v) for k, v in params.items()}, x, y)


def test_per_sample_gradients_with_functional_call():
    params = {"weight": np.arange(6.0).reshape(2, 3) / 10, "bias": np.array([0.1, -0.2])}
    _same(_per_sample_grads(ember, ember.func, params),
          _per_sample_grads(torch, torch.func, params))


def test_functional_call_replaces_for_one_call_only():
    net = ember.nn.Linear(2, 1, bias=False)
    before = net.weight.detach().clone()
    w = ember.ones(1, 2, requires_grad=True)
    out = ember.func.functional_call(net, {"weight": w}, ember.ones(3, 2))
    out.sum().backward()
    assert out.tolist() == [[2.0], [2.0], [2.0]] and w.grad.tolist() == [[3.0, 3.0]]
    assert ember.equal(net.weight, before) and net.weight.grad is None
    for lib in (ember, torch):
        m = lib.nn.Linear(2, 1)
        lib.func.functional_call(m, {"nope": lib.ones(1)}, (lib.ones(1, 2),))  # ignored
        with pytest.raises(RuntimeError, match="Missing key"):
            lib.func.functional_call(m, {"weight": lib.ones(1, 2)}, (lib.ones(1, 2),), strict=True)
        with pytest.raises(ValueError, match="multiple dictionaries"):
            lib.func.functional_call(m, ({"bias": lib.ones(1)}, {"bias": lib.ones(1)}),
                                     (lib.ones(1, 2),))


def _ensemble(lib, states, x):
    """The model-ensembling recipe: stack the models' states, vmap functional_call over them."""
    models = []
    for state in states:
        m = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.BatchNorm1d(4), lib.nn.Tanh(),
                              lib.nn.Linear(4, 2)).double()
        m.load_state_dict({k: lib.tensor(v) for k, v in state.items()})
        models.append(m.eval())
    params, buffers = lib.func.stack_module_state(models)
    assert all(p.is_leaf and p.requires_grad for p in params.values())
    assert not any(b.requires_grad for b in buffers.values())

    def run(p, b, xb):
        return lib.func.functional_call(models[0], (p, b), (xb,))
    out = lib.func.vmap(run, in_dims=(0, 0, None))(params, buffers, lib.tensor(x))
    (out ** 2).sum().backward()
    assert models[1][0].weight.grad is None
    return [out, {k: p.grad for k, p in params.items()}, buffers]


def test_stack_module_state_runs_an_ensemble_like_torch():
    rng = np.random.default_rng(3)
    shapes = {"0.weight": (4, 3), "0.bias": (4,), "1.weight": (4,), "1.bias": (4,),
              "1.running_mean": (4,), "1.running_var": (4,), "3.weight": (2, 4), "3.bias": (2,)}
    states = [{k: rng.random(s) + 0.5 for k, s in shapes.items()} for _ in range(3)]
    for state in states:
        state["1.num_batches_tracked"] = np.array(7)
    x = rng.standard_normal((5, 3))
    _same(_ensemble(ember, states, x), _ensemble(torch, states, x))


def test_stack_module_state_errors_like_torch():
    for lib in (ember, torch):
        with pytest.raises(RuntimeError, match="Expected at least one model, got 0"):
            lib.func.stack_module_state([])
        a, b = lib.nn.Linear(2, 2), lib.nn.Linear(2, 2)
        with pytest.raises(RuntimeError, match="same training/eval mode"):
            lib.func.stack_module_state([a, b.eval()])
        b.train().bias.requires_grad_(False)
        with pytest.raises(RuntimeError, match="Expected bias from each model to have the same "
                                               r"\.requires_grad"):
            lib.func.stack_module_state([a, b])


def test_replace_all_batch_norm_modules_like_torch():
    keys = []
    for lib in (ember, torch):
        net = lib.nn.Sequential(lib.nn.BatchNorm2d(3), lib.nn.Sequential(lib.nn.BatchNorm1d(2)),
                                lib.nn.InstanceNorm2d(3, track_running_stats=True))
        assert lib.func.replace_all_batch_norm_modules_(net) is net
        assert net[0].running_mean is None and not net[1][0].track_running_stats
        net.eval()
        x = lib.arange(24.0).reshape(2, 3, 2, 2)
        assert lib.allclose(net[0](x), lib.nn.functional.batch_norm(x, None, None,
                                                                       training=True))
        keys.append(sorted(net.state_dict()))
    assert keys[0] == keys[1]


def test_errors_like_torch_func():
    for lib in (ember, torch):
        with pytest.raises(RuntimeError, match="scalar"):
            lib.func.grad(lambda x: x * 2)(lib.tensor(X))
        with pytest.raises(ValueError, match="same size"):
            lib.func.vmap(lambda a, b: a + b)(lib.ones(2, 3), lib.ones(3, 3))
        with pytest.raises(RuntimeError, match="argnum=2"):
            lib.func.grad(lambda x: x.sum(), argnums=2)(lib.tensor(X))


def test_docstring_examples_run():
    import doctest
    for module in (ember.func, ember.func._modules, ember.nn.utils.stateless):
        failures, _ = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert failures == 0
