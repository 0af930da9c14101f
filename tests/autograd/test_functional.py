"""ember.autograd.functional against torch.autograd.functional: values, structure, errors."""
import numpy as np
import pytest
import torch
import torch.autograd.functional as TF

import ember
import ember.autograd.functional as EF

RNG = np.random.default_rng(0)
X = RNG.uniform(-1, 1, (2, 3))
Y = RNG.uniform(-1, 1, (3,))
V_OUT = RNG.uniform(-1, 1, (2, 3))


def t(lib, arr, grad=False):
    return lib.tensor(arr, dtype=lib.float64, requires_grad=grad)


def same(ours, theirs):
    """Equal nested structure (tuples vs tensors), shapes and values."""
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs), (type(ours), len(theirs))
        for o, th in zip(ours, theirs):
            same(o, th)
        return
    assert isinstance(ours, ember.Tensor), type(ours)
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert str(ours.dtype) == str(theirs.dtype)
    assert ours.requires_grad == theirs.requires_grad
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-10,
                               atol=1e-12)


def run(fn_name, func, inputs, *args, **kwargs):
    """Call fn_name on both libraries; `func(lib)` and `inputs(lib)` build the arguments."""
    theirs = getattr(TF, fn_name)(func(torch), inputs(torch), *[a(torch) for a in args],
                                  **kwargs)
    ours = getattr(EF, fn_name)(func(ember), inputs(ember), *[a(ember) for a in args],
                                **kwargs)
    same(ours, theirs)
    return ours


def f_single(lib):
    return lambda x: (x * x).sin() * 2


def f_pair(lib):
    return lambda x, y: (x * y).exp() + y


def f_multi(lib):
    return lambda x, y: ((x * y).sum(0), (x ** 2).tanh())


def f_scalar(lib):
    return lambda x: (x ** 3).sum() + (x.sin() * x).sum()


def f_scalar_pair(lib):
    return lambda x, y: ((x * y) ** 2).sum() + (y ** 3).sum()


def one(lib):
    return t(lib, X)


def pair(lib):
    return (t(lib, X), t(lib, Y))


# ---- jacobian ------------------------------------------------------------------------------
@pytest.mark.parametrize("func,inputs", [(f_single, one), (f_pair, pair), (f_multi, pair)],
                         ids=["single", "tuple_in", "tuple_in_out"])
@pytest.mark.parametrize("create_graph", [False, True])
def test_jacobian(func, inputs, create_graph):
    run("jacobian", func, inputs, create_graph=create_graph)


def test_jacobian_tuple_output_single_input():
    run("jacobian", lambda lib: lambda x: (x.exp(), x.sum()), one)


def test_jacobian_vectorize_is_accepted():
    run("jacobian", f_pair, pair, vectorize=True)


def test_jacobian_independent_input_is_zero_or_strict_error():
    func = lambda lib: lambda x, y: x * 2  # noqa: E731
    run("jacobian", func, pair)
    with pytest.raises(RuntimeError, match="Output 0 of the user-provided function is "
                                           "independent of input 1"):
        EF.jacobian(func(ember), pair(ember), strict=True)


def test_jacobian_strict_output_without_grad():
    with pytest.raises(RuntimeError, match="Output 0 of the user-provided function does not "
                                           "require gradients"):
        EF.jacobian(lambda x: ember.ones(2), one(ember), strict=True)


def test_jacobian_create_graph_is_differentiable():
    def run_lib(lib, F):
        x = t(lib, X, grad=True)
        jac = F.jacobian(lambda x: (x ** 3), x, create_graph=True)
        jac.sum().backward()
        return x.grad
    np.testing.assert_allclose(run_lib(ember, EF).numpy(), run_lib(torch, TF).numpy())


def test_jacobian_of_inputs_requiring_grad_keeps_them_untouched():
    x = t(ember, X, grad=True)
    jac = EF.jacobian(f_single(ember), x)
    assert not jac.requires_grad and x.grad is None


def test_jacobian_argument_errors():
    with pytest.raises(AssertionError, match="Expected strategy"):
        EF.jacobian(f_single(ember), one(ember), strategy="sideways")
    with pytest.raises(NotImplementedError):
        EF.jacobian(f_single(ember), one(ember), strategy="forward-mode")
    with pytest.raises(RuntimeError, match="strict=True"):
        EF.jacobian(f_single(ember), one(ember), strict=True, vectorize=True)
    with pytest.raises(TypeError, match="The inputs given to jacobian must be either a Tensor "
                                        "or a tuple of Tensors"):
        EF.jacobian(f_single(ember), [one(ember)])
    with pytest.raises(TypeError, match="outputs of the user-provided function"):
        EF.jacobian(lambda x: 3.0, one(ember))


# ---- hessian -------------------------------------------------------------------------------
@pytest.mark.parametrize("create_graph", [False, True])
def test_hessian_single(create_graph):
    run("hessian", f_scalar, one, create_graph=create_graph)


def test_hessian_tuple_inputs():
    run("hessian", f_scalar_pair, pair)


def test_hessian_errors():
    with pytest.raises(RuntimeError, match="should contain a single element"):
        EF.hessian(lambda x: x * 2, one(ember))
    with pytest.raises(RuntimeError, match="should return a single Tensor"):
        EF.hessian(lambda x: (x.sum(), x.sum()), one(ember))
    with pytest.raises(RuntimeError, match="jacobian of the user-provided function with respect "
                                           "to input 0 is independent"):
        EF.hessian(lambda x: (x * 2).sum(), one(ember), strict=True)


def test_hessian_of_linear_function_is_zero():
    run("hessian", lambda lib: lambda x: (x * 2).sum(), one)


# ---- vjp / jvp -----------------------------------------------------------------------------
@pytest.mark.parametrize("create_graph", [False, True])
def test_vjp(create_graph):
    run("vjp", f_single, one, lambda lib: t(lib, V_OUT), create_graph=create_graph)


def test_vjp_tuple_inputs_and_outputs():
    run("vjp", f_multi, pair, lambda lib: (t(lib, Y), t(lib, V_OUT)))


def test_vjp_default_v_for_scalar_output():
    run("vjp", f_scalar, one)
    with pytest.raises(RuntimeError, match="The vector v can only be None if the user-provided "
                                           "function returns a single Tensor with a single "
                                           "element"):
        EF.vjp(f_single(ember), one(ember))


def test_vjp_v_validation():
    with pytest.raises(RuntimeError, match="v has invalid size"):
        EF.vjp(f_single(ember), one(ember), t(ember, Y))
    with pytest.raises(RuntimeError, match="v is a tuple of invalid length: should be 2 but "
                                           "got 1"):
        EF.vjp(f_multi(ember), pair(ember), (t(ember, Y),))


def test_vjp_strict_independent_input():
    func = lambda lib: lambda x, y: x * 2  # noqa: E731
    run("vjp", func, pair, lambda lib: t(lib, V_OUT))
    with pytest.raises(RuntimeError, match="independent of input 1"):
        EF.vjp(func(ember), pair(ember), t(ember, V_OUT), strict=True)


@pytest.mark.parametrize("create_graph", [False, True])
def test_jvp(create_graph):
    run("jvp", f_single, one, lambda lib: t(lib, V_OUT), create_graph=create_graph)


def test_jvp_tuple_inputs_and_outputs():
    run("jvp", f_multi, pair, lambda lib: (t(lib, V_OUT), t(lib, Y)))


def test_jvp_default_v_for_single_element_input():
    run("jvp", lambda lib: lambda x: x.exp() * 3, lambda lib: t(lib, [0.5]))
    with pytest.raises(RuntimeError, match="The vector v can only be None if the input to the "
                                           "user-provided function is a single Tensor"):
        EF.jvp(f_single(ember), one(ember))


def test_jvp_output_independent_of_input():
    run("jvp", lambda lib: lambda x, y: y * 2, pair, lambda lib: (t(lib, V_OUT), t(lib, Y)))


# ---- hvp / vhp -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["hvp", "vhp"])
@pytest.mark.parametrize("create_graph", [False, True])
def test_hvp_vhp(name, create_graph):
    run(name, f_scalar, one, lambda lib: t(lib, V_OUT), create_graph=create_graph)


@pytest.mark.parametrize("name", ["hvp", "vhp"])
def test_hvp_vhp_tuple_inputs(name):
    run(name, f_scalar_pair, pair, lambda lib: (t(lib, V_OUT), t(lib, Y)))


@pytest.mark.parametrize("name", ["hvp", "vhp"])
def test_hvp_vhp_errors(name):
    fn = getattr(EF, name)
    with pytest.raises(RuntimeError, match=f"The Tensor returned by the function given to {name} "
                                           "should contain a single element"):
        fn(f_single(ember), one(ember), t(ember, X))
    with pytest.raises(RuntimeError, match=f"The function given to {name} should return a "
                                           "single Tensor"):
        fn(lambda x: (x.sum(),), one(ember), t(ember, X))
    with pytest.raises(RuntimeError, match="The vector v can only be None"):
        fn(f_scalar(ember), one(ember))


def test_hvp_equals_vhp_for_smooth_function():
    v = t(ember, V_OUT)
    _, a = EF.hvp(f_scalar(ember), one(ember), v)
    _, b = EF.vhp(f_scalar(ember), one(ember), v)
    np.testing.assert_allclose(a.numpy(), b.numpy())
