"""Higher-level autograd: jacobian, hessian, vjp, jvp, hvp and vhp of a function of Tensors.

All are built on `autograd.grad`; products with forward-mode meaning (jvp, hvp) use the double
backward trick: the gradient of a vjp with respect to its (dummy) vector is the jvp.
"""
from __future__ import annotations

from contextlib import nullcontext

from .._tensor import Tensor
from .grad_mode import enable_grad, is_grad_enabled, set_grad_enabled

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _tupled(value, arg_name: str, fn_name: str):
    """(was_tuple, value as a tuple of Tensors), with PyTorch's TypeError for anything else."""
    is_tuple = isinstance(value, tuple)
    items = value if is_tuple else (value,)
    for i, el in enumerate(items):
        if not isinstance(el, Tensor):
            where = f"the value at index {i}" if is_tuple else f"the given {arg_name}"
            raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a "
                            f"tuple of Tensors but {where} has type {type(el)}.")
    return is_tuple, items


def _untupled(res, is_tuple):
    """Undo `_tupled` on a result: a single Tensor when the argument was one."""
    return res if is_tuple else res[0]


def _untupled2(res, outer_tuple, inner_tuple):
    """Undo `_tupled` on a nested [output][input] result."""
    if not inner_tuple:
        res = tuple(row[0] for row in res)
    return res if outer_tuple else res[0]


def _prepare_inputs(inputs, create_graph: bool, need_graph: bool):
    """Fresh Tensor objects the function is evaluated at: differentiable views of the inputs
    when the result must keep their history, detached copies of the reference otherwise."""
    return tuple(inp.view(inp.shape) if create_graph and inp.requires_grad
                 else inp.detach().requires_grad_(need_graph) for inp in inputs)


def _finish(tensors, create_graph: bool):
    return tensors if create_graph else tuple(t.detach() for t in tensors)


def _check_v(v, refs, refs_tuple: bool):
    if len(v) != len(refs):
        if refs_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(refs)} but got "
                               f"{len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for i, (el, ref) in enumerate(zip(v, refs)):
        if el.shape != ref.shape:
            prefix = f"Entry {i} in " if refs_tuple else ""
            raise RuntimeError(f"{prefix}v has invalid size: should be {ref.shape} but got "
                               f"{el.shape}.")


def _outputs_need_grad(outputs, strict: bool):
    if not strict:
        return
    for i, out in enumerate(outputs):
        if not out.requires_grad:
            raise RuntimeError(f"Output {i} of the user-provided function does not require "
                               "gradients. The outputs must be computed in a differentiable "
                               "manner from the input when running in strict mode.")


def _grad(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=None):
    """autograd.grad over the outputs that require grad; None for inputs they do not reach."""
    from . import grad
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    outs, gos = zip(*pairs)
    return grad(outs, inputs, gos, retain_graph=retain_graph, create_graph=create_graph,
                allow_unused=True)


def _zeros_for_none(grads, refs, strict: bool, create_graph: bool, missing: str, detached: str):
    """Replace None gradients by zeros shaped like `refs` (an error in strict mode)."""
    from .._ops.creation import zeros_like
    out = []
    for i, g in enumerate(grads):
        if g is None:
            if strict:
                raise RuntimeError(missing.format(i=i))
            g = zeros_like(refs[i])
        elif strict and create_graph and not g.requires_grad:
            raise RuntimeError(detached.format(i=i))
        out.append(g)
    return tuple(out)


_INDEPENDENT = ("The output of the user-provided function is independent of input {i}. This is "
                "not allowed in strict mode.")
_JAC_INDEPENDENT = ("The jacobian of the user-provided function is independent of input {i}. "
                    "This is not allowed in strict mode when create_graph=True.")
_HESS_INDEPENDENT = ("The hessian of the user-provided function is independent of input {i}. "
                     "This is not allowed in strict mode when create_graph=True.")


def _v_or_default(v, refs, refs_tuple, create_graph, fn_name, none_msg):
    if v is None:
        if len(refs) != 1 or refs[0].numel() != 1:
            raise RuntimeError(none_msg)
        return None
    _, v = _tupled(v, "v", fn_name)
    v = _prepare_inputs(v, create_graph, need_graph=False)
    _check_v(v, refs, refs_tuple)
    return v


_V_FOR_INPUTS = ("The vector v can only be None if the input to the user-provided function is "
                 "a single Tensor with a single element.")


def vjp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), v^T J): the vector-Jacobian product at `inputs`.

    >>> import ember
    >>> from ember.autograd.functional import vjp
    >>> vjp(lambda x: x * x, ember.tensor([1.0, 2.0]), ember.tensor([1.0, 1.0]))
    (tensor([1., 4.]), tensor([2., 4.]))
    """
    with enable_grad():
        inputs_tuple, inputs = _tupled(inputs, "inputs", "vjp")
        inputs = _prepare_inputs(inputs, create_graph, need_graph=True)
        outputs_tuple, outputs = _tupled(func(*inputs), "outputs of the user-provided function",
                                         "vjp")
        _outputs_need_grad(outputs, strict)
        v = _v_or_default(v, outputs, outputs_tuple, create_graph, "vjp",
                          "The vector v can only be None if the user-provided function returns "
                          "a single Tensor with a single element.")
    with set_grad_enabled(create_graph or is_grad_enabled()):
        grads = _grad(outputs, inputs, v, create_graph=create_graph)
        result = _zeros_for_none(grads, inputs, strict, create_graph, _INDEPENDENT,
                                 _JAC_INDEPENDENT)
    return (_untupled(_finish(outputs, create_graph), outputs_tuple),
            _untupled(_finish(result, create_graph), inputs_tuple))


def jvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), J v): the Jacobian-vector product at `inputs`, by double backward.

    >>> import ember
    >>> from ember.autograd.functional import jvp
    >>> jvp(lambda x: x * x, ember.tensor([1.0, 2.0]), ember.tensor([1.0, 0.0]))
    (tensor([1., 4.]), tensor([2., 0.]))
    """
    from .._ops.creation import zeros_like
    with enable_grad():
        inputs_tuple, inputs = _tupled(inputs, "inputs", "jvp")
        inputs = _prepare_inputs(inputs, create_graph, need_graph=True)
        v = _v_or_default(v, inputs, inputs_tuple, create_graph, "jvp", _V_FOR_INPUTS)
        outputs_tuple, outputs = _tupled(func(*inputs), "outputs of the user-provided function",
                                         "jvp")
        _outputs_need_grad(outputs, strict)
        dummies = tuple(zeros_like(out, requires_grad=True) for out in outputs)
        vjps = _grad(outputs, inputs, dummies, create_graph=True)
        if strict:
            for i, g in enumerate(vjps):
                if g is None:
                    raise RuntimeError(_INDEPENDENT.format(i=i))
                if not g.requires_grad:
                    raise RuntimeError(f"The gradient with respect to input {i} is independent "
                                       "of the inputs of the user-provided function. This is "
                                       "not allowed in strict mode.")
    with set_grad_enabled(True) if create_graph else nullcontext():
        grads = _grad(vjps, dummies, v, create_graph=create_graph)
        result = _zeros_for_none(
            grads, outputs, strict, create_graph,
            "The gradient with respect to the input is independent of entry {i} in the "
            "grad_outputs when using the double backward trick to compute forward mode "
            "gradients. This is not allowed in strict mode.", _JAC_INDEPENDENT)
    return (_untupled(_finish(outputs, create_graph), outputs_tuple),
            _untupled(_finish(result, create_graph), outputs_tuple))


def _stack_rows(rows, shape):
    """Stack same-shaped gradient rows along a new first dim and view it as `shape`; row
    writes are recorded when the rows carry a graph (create_graph)."""
    from .._ops.creation import zeros
    first = rows[0]
    out = zeros((len(rows),) + tuple(first.shape), dtype=first.dtype, device=first.device)
    for k, row in enumerate(rows):
        out[k] = row
    return out.view(shape)


def jacobian(func, inputs, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode"):
    """The Jacobian of `func` at `inputs`: shape output.shape + input.shape, nested in tuples
    ([output][input]) when func takes or returns tuples. `vectorize` changes nothing here.

    >>> import ember
    >>> from ember.autograd.functional import jacobian
    >>> jacobian(lambda x: x * x, ember.tensor([1.0, 2.0]))
    tensor([[2., 0.],
            [0., 4.]])
    """
    if strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode". '
                             'Hint: If your function has more outputs than inputs, '
                             '"forward-mode" tends to be more performant. Otherwise, prefer to '
                             'use "reverse-mode".')
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError(
                "torch.autograd.functional.jacobian: `create_graph=True` and "
                '`strategy="forward-mode"` are not supported together (yet). Please either '
                'set `create_graph=False` or `strategy="reverse-mode"`.')
        if strict:
            raise RuntimeError(
                "torch.autograd.functional.jacobian: `strict=True` and "
                '`strategy="forward-mode"` are not supported together (yet). Please either '
                'set `strict=False` or `strategy="reverse-mode"`.')
        if not vectorize:
            raise NotImplementedError("Computing Jacobian using forward-AD or forward-over-"
                                      "reverse Hessian is only implemented for "
                                      "`vectorize=True`.")
    if strict and vectorize:
        raise RuntimeError("torch.autograd.functional.jacobian: `strict=True` and "
                           "`vectorized=True` are not supported together. Please either set "
                           "`strict=False` or `vectorize=False`.")
    from .._ops.creation import zeros, zeros_like
    with enable_grad():
        inputs_tuple, inputs = _tupled(inputs, "inputs", "jacobian")
        inputs = _prepare_inputs(inputs, create_graph, need_graph=True)
        outputs_tuple, outputs = _tupled(func(*inputs), "outputs of the user-provided function",
                                         "jacobian")
        _outputs_need_grad(outputs, strict)
        jac = []
        for i, out in enumerate(outputs):
            rows = [[] for _ in inputs]
            n = out.numel()
            for j in range(n):
                seed = zeros(n, dtype=out.dtype, device=out.device)
                seed[j] = 1
                grads = _grad((out,), inputs, (seed.view(out.shape),), retain_graph=True,
                              create_graph=create_graph)
                for k, (g, inp) in enumerate(zip(grads, inputs)):
                    if g is None:
                        if strict:
                            raise RuntimeError(f"Output {i} of the user-provided function is "
                                               f"independent of input {k}. This is not allowed "
                                               "in strict mode.")
                        g = zeros_like(inp)
                    elif strict and create_graph and not g.requires_grad:
                        raise RuntimeError(_JAC_INDEPENDENT.format(i=i))
                    rows[k].append(g)
            jac.append(tuple(
                _stack_rows(r, tuple(out.shape) + tuple(inp.shape)) if r
                else zeros(tuple(out.shape) + tuple(inp.shape), dtype=inp.dtype,
                           device=inp.device)
                for r, inp in zip(rows, inputs)))
        jac = tuple(_finish(row, create_graph) for row in jac)
    return _untupled2(jac, outputs_tuple, inputs_tuple)


def hessian(func, inputs, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode"):
    """The Hessian of a scalar function: shape input.shape * 2, or [i][j] tuples for tuple
    inputs.

    >>> import ember
    >>> from ember.autograd.functional import hessian
    >>> hessian(lambda x: (x ** 3).sum(), ember.tensor([1.0, 2.0]))
    tensor([[ 6.,  0.],
            [ 0., 12.]])
    """
    inputs_tuple, inputs = _tupled(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def scalar_func(*inp):
        out = func(*inp)
        out_tuple, outs = _tupled(out, "outputs of the user-provided function", "hessian")
        _outputs_need_grad(outs, strict)
        if out_tuple:
            raise RuntimeError("The function given to hessian should return a single Tensor")
        if out.numel() != 1:
            raise RuntimeError("The Tensor returned by the function given to hessian should "
                               "contain a single element")
        return out.squeeze()

    def jac_func(*inp):
        jac = jacobian(scalar_func, inp, create_graph=True)
        _jacobian_needs_grad(jac, strict)
        return jac

    res = jacobian(jac_func, inputs, create_graph=create_graph, strict=strict,
                   vectorize=vectorize, strategy=outer_jacobian_strategy)
    return _untupled2(res, inputs_tuple, inputs_tuple)


def _scalar_output(func, inputs, strict, fn_name):
    outputs_tuple, outputs = _tupled(func(*inputs), "outputs of the user-provided function",
                                     fn_name)
    _outputs_need_grad(outputs, strict)
    if outputs_tuple:
        raise RuntimeError(f"The function given to {fn_name} should return a single Tensor")
    if outputs[0].numel() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {fn_name} should "
                           "contain a single element")
    return outputs


def _jacobian_needs_grad(jac, strict):
    if not strict:
        return
    for i, g in enumerate(jac):
        if g is None:
            raise RuntimeError(_INDEPENDENT.format(i=i))
        if not g.requires_grad:
            raise RuntimeError(
                "While computing the hessian, found that the jacobian of the user-provided "
                f"function with respect to input {i} is independent of the input. This is not "
                "allowed in strict mode. You should ensure that your function is twice "
                "differentiable and that the jacobian depends on the inputs (this would be "
                "violated by a linear function for example).")


def vhp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), v^T H) for a scalar function.

    >>> import ember
    >>> from ember.autograd.functional import vhp
    >>> vhp(lambda x: (x ** 3).sum(), ember.tensor([1.0, 2.0]), ember.tensor([1.0, 1.0]))
    (tensor(9.), tensor([ 6., 12.]))
    """
    with enable_grad():
        inputs_tuple, inputs = _tupled(inputs, "inputs", "vhp")
        inputs = _prepare_inputs(inputs, create_graph, need_graph=True)
        v = _v_or_default(v, inputs, inputs_tuple, create_graph, "vhp", _V_FOR_INPUTS)
        outputs = _scalar_output(func, inputs, strict, "vhp")
        jac = _grad(outputs, inputs, create_graph=True)
        _jacobian_needs_grad(jac, strict)
    with set_grad_enabled(create_graph or is_grad_enabled()):
        grads = _grad(jac, inputs, v, create_graph=create_graph)
        result = _zeros_for_none(grads, inputs, strict, create_graph,
                                 "The jacobian of the user-provided function is independent of "
                                 "input {i}. This is not allowed in strict mode.",
                                 _HESS_INDEPENDENT)
    return (_finish(outputs, create_graph)[0],
            _untupled(_finish(result, create_graph), inputs_tuple))


def hvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), H v) for a scalar function, by double backward.

    >>> import ember
    >>> from ember.autograd.functional import hvp
    >>> hvp(lambda x: (x ** 3).sum(), ember.tensor([1.0, 2.0]), ember.tensor([1.0, 1.0]))
    (tensor(9.), tensor([ 6., 12.]))
    """
    from .._ops.creation import zeros_like
    with enable_grad():
        inputs_tuple, inputs = _tupled(inputs, "inputs", "hvp")
        inputs = _prepare_inputs(inputs, create_graph, need_graph=True)
        v = _v_or_default(v, inputs, inputs_tuple, create_graph, "hvp", _V_FOR_INPUTS)
        outputs = _scalar_output(func, inputs, strict, "hvp")
        jac = _grad(outputs, inputs, create_graph=True)
        _jacobian_needs_grad(jac, strict)
        dummies = tuple(zeros_like(inp, requires_grad=True) for inp in inputs)
        double = _grad(jac, inputs, dummies, create_graph=True)
        if strict:
            for i, g in enumerate(jac):
                if not g.requires_grad:
                    raise RuntimeError(
                        f"The hessian of the user-provided function with respect to input {i} "
                        "is independent of the input. This is not allowed in strict mode. You "
                        "should ensure that your function is thrice differentiable and that the "
                        "hessian depends on the inputs.")
    with set_grad_enabled(True) if create_graph else nullcontext():
        grads = _grad(double, dummies, v, create_graph=create_graph)
        result = _zeros_for_none(
            grads, inputs, strict, create_graph,
            "The hessian of the user-provided function is independent of entry {i} in the "
            "grad_jacobian. This is not allowed in strict mode as it prevents from using the "
            "double backward trick to replace forward mode AD.", _HESS_INDEPENDENT)
    return (_finish(outputs, create_graph)[0],
            _untupled(_finish(result, create_graph), inputs_tuple))
