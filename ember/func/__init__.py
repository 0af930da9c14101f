"""`ember.func`: torch.func's function transforms (grad, grad_and_value, vjp, jvp, jacrev,
jacfwd, hessian, vmap), functional_call and the module helpers stack_module_state and
replace_all_batch_norm_modules_, built on ember's tape autograd.

Each transform differentiates at fresh leaves standing for its inputs and keeps the graph of
its result only when something outside will differentiate it (a transform whose function is
running, or inputs that already require grad), so transforms compose: hessian is
jacfwd(jacrev(f)), grad(grad(f)) is the second derivative. vmap maps `func` over the batch
dimension one sample at a time and stacks the results: the semantics of torch's vmap for
functions of tensors, without its fused batched kernels.

    >>> import ember
    >>> from ember.func import grad, vmap
    >>> grad(lambda x: (x ** 3).sum())(ember.tensor([1.0, 2.0]))
    tensor([ 3., 12.])
    >>> vmap(lambda row: row.sum())(ember.ones(3, 4))
    tensor([4., 4., 4.])
"""
from __future__ import annotations

import contextlib
import functools

from .._ops.creation import zeros_like
from .._ops.shape import stack
from .._tensor import Tensor
from ..autograd import grad as _autograd_grad
from ..autograd.grad_mode import enable_grad
from ..nn.utils.stateless import functional_call
from ._modules import replace_all_batch_norm_modules_, stack_module_state

__all__ = ["functional_call", "grad", "grad_and_value", "hessian", "jacfwd", "jacrev", "jvp",
           "replace_all_batch_norm_modules_", "stack_module_state", "vjp", "vmap"]


class _Nesting:
    """How many transforms are evaluating their function: inside one, results keep their
    graphs for it to differentiate."""

    depth = 0


@contextlib.contextmanager
def _evaluating():
    """Around a transform's call of the user's function."""
    _Nesting.depth += 1
    try:
        with enable_grad():
            yield
    finally:
        _Nesting.depth -= 1


# ---- pytrees of tensors (tuples, lists, dicts) ------------------------------------------------
def _flatten(tree) -> tuple[list, object]:
    """(leaves, spec): the tensors of a nested tuple/list/dict, and how to rebuild it."""
    if isinstance(tree, (tuple, list)):
        parts = [_flatten(t) for t in tree]
        return [leaf for leaves, _ in parts for leaf in leaves], (type(tree), [s for _, s in parts])
    if isinstance(tree, dict):
        parts = [(k, _flatten(v)) for k, v in tree.items()]
        return [leaf for _, (leaves, _) in parts for leaf in leaves], \
            (dict, [(k, s) for k, (_, s) in parts])
    return [tree], None


def _unflatten(leaves: list, spec):
    it = iter(leaves)

    def build(spec):
        if spec is None:
            return next(it)
        kind, children = spec
        if kind is dict:
            return {k: build(s) for k, s in children}
        return kind(build(s) for s in children)
    return build(spec)


def _leaves_of(tree, what: str) -> tuple[list, object]:
    leaves, spec = _flatten(tree)
    if not all(isinstance(t, Tensor) for t in leaves):
        others = sorted({type(t).__name__ for t in leaves if not isinstance(t, Tensor)})
        raise TypeError(f"{what}: expected tensors (or tuples, lists and dicts of them), got "
                        f"{others}")
    return leaves, spec


def _keeps_graph(leaves) -> bool:
    """Whether a transform's results must stay differentiable: inside another transform's
    function, or when an input already takes part in a graph."""
    return _Nesting.depth > 0 or any(t.requires_grad for t in leaves)


def _stand_ins(leaves: list) -> list:
    """Leaves to differentiate at: the inputs themselves when they already require grad (an
    enclosing transform differentiates through them), else detached copies that do."""
    return [t if t.requires_grad else t.detach().requires_grad_() for t in leaves]


def _argnums(argnums, n_args: int, name: str) -> tuple:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums:
        raise RuntimeError(f"{name}: argnums must be non-empty")
    for k in nums:
        if not -n_args <= k < n_args:
            raise RuntimeError(f"{name}: Got argnum={k}, but only {n_args} positional inputs")
    return tuple(k % n_args for k in nums)


def _gradients(outputs: list, inputs: list, cotangents, keep: bool) -> list:
    with enable_grad():
        found = _autograd_grad(outputs, inputs, cotangents, retain_graph=True,
                               create_graph=keep, allow_unused=True)
    return [zeros_like(x) if g is None else (g if keep else g.detach())
            for g, x in zip(found, inputs)]


def _split_aux(result, has_aux: bool, name: str):
    if not has_aux:
        return result, None
    if not (isinstance(result, tuple) and len(result) == 2):
        raise RuntimeError(f"{name}(f, ...)(*args): output of function f should be a tuple: "
                           "(output, aux) if has_aux is True")
    return result


# ---- grad ---------------------------------------------------------------------------------
def grad_and_value(func, argnums=0, has_aux: bool = False):
    """A function returning (gradient of func with respect to the argnums arguments, func's
    value) — ((value, aux) with has_aux). func must return a scalar tensor."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        nums = _argnums(argnums, len(args), "grad_and_value")
        trees = [_leaves_of(args[k], "grad") for k in nums]
        keep = _keeps_graph([t for leaves, _ in trees for t in leaves])
        stand = [_stand_ins(leaves) for leaves, _ in trees]
        call = list(args)
        for k, leaves, (_, spec) in zip(nums, stand, trees):
            call[k] = _unflatten(leaves, spec)
        with _evaluating():
            output, aux = _split_aux(func(*call, **kwargs), has_aux, "grad_and_value")
        if not isinstance(output, Tensor) or output.numel() != 1:
            shape = list(output.shape) if isinstance(output, Tensor) else type(output)
            raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a "
                               f"scalar Tensor, got {shape}. Maybe you wanted to use the "
                               "vjp or jacrev APIs instead?")
        flat = [x for leaves in stand for x in leaves]
        found = _gradients([output], flat, None, keep)
        grads, at = [], 0
        for leaves, (_, spec) in zip(stand, trees):
            grads.append(_unflatten(found[at:at + len(leaves)], spec))
            at += len(leaves)
        grads = grads[0] if isinstance(argnums, int) else tuple(grads)
        value = output if keep else output.detach()
        return (grads, (value, aux)) if has_aux else (grads, value)
    return wrapper


def grad(func, argnums=0, has_aux: bool = False):
    """A function returning the gradient of func (a scalar) with respect to its argnums
    arguments (tensors or tuples/lists/dicts of tensors); (gradient, aux) with has_aux."""
    both = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        grads, value = both(*args, **kwargs)
        return (grads, value[1]) if has_aux else grads
    return wrapper


# ---- vjp, jvp, Jacobians ---------------------------------------------------------------------
def vjp(func, *primals, has_aux: bool = False):
    """(func(*primals), vjp_fn[, aux]): vjp_fn(cotangents) gives the vector-Jacobian products
    with respect to each primal, as a tuple shaped like the primals."""
    trees = [_leaves_of(p, "vjp") for p in primals]
    keep = _keeps_graph([t for leaves, _ in trees for t in leaves])
    stand = [_stand_ins(leaves) for leaves, _ in trees]
    with _evaluating():
        output, aux = _split_aux(func(*[_unflatten(s, spec) for s, (_, spec) in
                                         zip(stand, trees)]), has_aux, "vjp")
    outputs, out_spec = _leaves_of(output, "vjp")
    flat = [x for leaves in stand for x in leaves]

    def vjp_fn(cotangents):
        ct_leaves, ct_spec = _leaves_of(cotangents, "vjp_fn")
        if ct_spec != out_spec:
            raise RuntimeError("Expected pytree structure of cotangents to be the same as "
                               "pytree structure of outputs to the function")
        found = _gradients(outputs, flat, ct_leaves, keep or _keeps_graph(ct_leaves))
        result, at = [], 0
        for leaves, (_, spec) in zip(stand, trees):
            result.append(_unflatten(found[at:at + len(leaves)], spec))
            at += len(leaves)
        return tuple(result)
    shown = output if keep else _unflatten([t.detach() for t in outputs], out_spec)
    return (shown, vjp_fn, aux) if has_aux else (shown, vjp_fn)


def jvp(func, primals, tangents, *, strict: bool = False, has_aux: bool = False):
    """(func(*primals), J tangents[, aux]): the Jacobian-vector product, by differentiating
    a vector-Jacobian product with respect to its cotangent (the double-backward trick)."""
    if not isinstance(primals, tuple) or not isinstance(tangents, tuple):
        raise RuntimeError("jvp(f, primals, tangents): Expected primals and tangents to be "
                           "tuples")
    output, vjp_fn, *aux = vjp(func, *primals, has_aux=has_aux)
    outputs, spec = _flatten(output)
    dummies = [zeros_like(o).requires_grad_() for o in outputs]
    with enable_grad():
        pulled_leaves, _ = _flatten(vjp_fn(_unflatten(dummies, spec)))
    tangent_leaves, _ = _leaves_of(tangents, "jvp")
    primal_leaves, _ = _flatten(primals)
    keep = _keeps_graph(tangent_leaves + primal_leaves)
    pushed = _gradients(pulled_leaves, dummies, tangent_leaves, keep)
    result = _unflatten(pushed, spec)
    return (output, result, aux[0]) if has_aux else (output, result)


def jacrev(func, argnums=0, *, has_aux: bool = False, chunk_size=None):
    """A function returning the Jacobian of func with respect to its argnums arguments
    (shape output.shape + input.shape), one vector-Jacobian product per output entry."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        nums = _argnums(argnums, len(args), "jacrev")

        def selected(*chosen):
            call = list(args)
            for k, value in zip(nums, chosen):
                call[k] = value
            return func(*call, **kwargs)
        output, vjp_fn, *aux = vjp(selected, *[args[k] for k in nums], has_aux=has_aux)
        if not isinstance(output, Tensor):
            raise RuntimeError("jacrev: expected f to return a Tensor")
        rows = []
        for i in range(output.numel()):
            onehot = zeros_like(output).reshape(-1).detach()
            onehot[i] = 1
            rows.append(vjp_fn(onehot.reshape(output.shape)))
        jac = []
        for j, k in enumerate(nums):
            x = args[k]
            jac.append(stack([r[j] for r in rows]).reshape(tuple(output.shape) + tuple(x.shape))
                       if rows else zeros_like(x).reshape(tuple(output.shape) + tuple(x.shape)))
        jac = jac[0] if isinstance(argnums, int) else tuple(jac)
        return (jac, aux[0]) if has_aux else jac
    return wrapper


def jacfwd(func, argnums=0, has_aux: bool = False, *, randomness: str = "error"):
    """The Jacobian of func with respect to its argnums arguments: the same matrix jacrev
    computes (by reverse mode here)."""
    return jacrev(func, argnums, has_aux=has_aux)


def hessian(func, argnums=0):
    """A function returning the Hessian of a scalar func: jacfwd(jacrev(func))."""
    return jacfwd(jacrev(func, argnums), argnums)


# ---- vmap ---------------------------------------------------------------------------------
def vmap(func, in_dims=0, out_dims=0, randomness: str = "error", *, chunk_size=None):
    """func mapped over a batch dimension: in_dims says which dim of each argument is mapped
    (an int for all, or one int/None per positional argument; None passes an argument
    unmapped); the results are stacked along out_dims."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        dims = in_dims if isinstance(in_dims, (tuple, list)) else (in_dims,) * len(args)
        if len(dims) != len(args):
            raise ValueError(f"vmap(func, in_dims={in_dims}, ...)(<inputs>): expected one in_dim "
                             f"per positional input, got {len(dims)} in_dims for {len(args)} "
                             "inputs")
        size = None
        for arg, d in zip(args, dims):
            if d is None:
                continue
            for t in _leaves_of(arg, "vmap")[0]:
                n = t.shape[d]
                if size is not None and n != size:
                    raise ValueError(f"vmap: Expected all tensors to have the same size in the "
                                     f"mapped dimension, got sizes {size} and {n} for the mapped "
                                     "dimension")
                size = n
        if size is None:
            raise ValueError(f"vmap(func, in_dims={in_dims}, ...)(<inputs>): at least one input "
                             "must be mapped (in_dims all None)")

        def sample(i):
            picked = []
            for arg, d in zip(args, dims):
                if d is None:
                    picked.append(arg)
                else:
                    leaves, spec = _flatten(arg)
                    picked.append(_unflatten([t.select(d, i) for t in leaves], spec))
            return func(*picked, **kwargs)
        results = [sample(i) for i in range(size)]
        flat = [_leaves_of(r, "vmap: `fn` must only return Tensors") for r in results]
        spec = flat[0][1]
        outs = out_dims if isinstance(out_dims, (tuple, list)) else (out_dims,) * len(flat[0][0])
        stacked = [stack([leaves[j] for leaves, _ in flat], dim=outs[j])
                   for j in range(len(flat[0][0]))]
        return _unflatten(stacked, spec)
    return wrapper
