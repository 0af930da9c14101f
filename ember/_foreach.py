"""torch's `_foreach_*` functions: one op applied to each tensor of a list (or pairs of lists).

EMA and optimizer code calls them directly, e.g. `torch._foreach_lerp_(ema, params, 0.1)`.
Each form is built from the table below over the per-tensor ops, so values, type promotion,
autograd and version counters are exactly those of the ops; the in-place forms call the
in-place ops and, as torch's, return the list they were given.

    >>> import ember
    >>> ember._foreach_add([ember.ones(2), ember.zeros(1)], 1)
    (tensor([2., 2.]), tensor([1.]))
"""
from __future__ import annotations

import inspect
import numbers

from ._ops.dispatch import apply_
from ._ops.pointwise import Maximum, Minimum
from ._ops.reduction import vector_norm
from ._tensor import Tensor


def _type_name(x) -> str:
    return type(x).__name__


def _tensors(name: str, value, position: int, argname: str) -> list:
    """`value` as a non-empty list of Tensors, or torch's error for anything else."""
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"_foreach_{name}(): argument '{argname}' (position {position}) must be "
                        f"tuple of Tensors, not {_type_name(value)}")
    for i, t in enumerate(value):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument {position - 1}, but "
                            f"got {_type_name(t)}")
    if not value:
        raise RuntimeError("Tensor list must have at least one tensor.")
    return list(value)


def _same_length(first: list, other: list) -> None:
    if len(first) != len(other):
        raise RuntimeError("Tensor lists must have the same number of tensors, got "
                           f"{len(first)} and {len(other)}")


def _is_scalar(x) -> bool:
    return isinstance(x, numbers.Number)


def _scalars(n: int, values: list) -> list:
    """A list of numbers, one per tensor."""
    if len(values) != n:
        raise RuntimeError("Tensor list must have same number of elements as scalar list.")
    return list(values)


def _combination_error(name: str, args: tuple, forms: str, **kwargs) -> TypeError:
    got = ", ".join([_type_name(a) for a in args] +
                    [f"{k}={_type_name(v)}" for k, v in kwargs.items()])
    return TypeError(f"_foreach_{name}() received an invalid combination of arguments - got "
                     f"({got}), but expected one of: {forms}")


def _per_tensor(name: str, self: list, other, *, tensor_ok: bool, forms: str) -> list:
    """The second operand, one per tensor of `self`: a number, a list of numbers, a list of
    tensors, or (where `tensor_ok`) one 0-d tensor; elsewhere a 0-d tensor counts as a
    number, as torch's argument parser reads it."""
    if isinstance(other, Tensor):
        if tensor_ok:
            if other.dim() != 0:
                raise RuntimeError(f"scalar tensor expected to be 0 dim but it has {other.dim()} "
                                   f"dimensions and {other.numel()} elements.")
            return [other] * len(self)
        if other.dim() != 0:
            raise _combination_error(name, (self, other), forms)
        other = other.item()
    if _is_scalar(other):
        return [other] * len(self)
    if isinstance(other, (list, tuple)):
        if other and isinstance(other[0], Tensor):
            others = _tensors(name, other, 2, "other")
            _same_length(self, others)
            return others
        if all(_is_scalar(v) for v in other):
            return _scalars(len(self), other)
    raise _combination_error(name, (self, other), forms)


_SCALAR_FORMS = "(tuple of Tensors, Number), (tuple of Tensors, tuple of Scalars), " \
    "(tuple of Tensors, tuple of Tensors)"
_ARITH_FORMS = _SCALAR_FORMS + ", (tuple of Tensors, Tensor)"


def _maximum_(t: Tensor, other) -> Tensor:
    return apply_(Maximum, t, other)


def _minimum_(t: Tensor, other) -> Tensor:
    return apply_(Minimum, t, other)


def _method(name: str):
    return lambda t, *args, **kw: getattr(t, name)(*args, **kw)


_UNARY = ("neg", "abs", "sqrt", "exp", "log", "reciprocal", "sigmoid", "sign")
_ARITH = ("add", "sub", "mul", "div")
_BINARY = ("maximum", "minimum", "clamp_min", "clamp_max", "pow")
# in-place per-tensor ops that are not Tensor methods named `<name>_`
_INPLACE = {"maximum": _maximum_, "minimum": _minimum_}


def _both_forms(name: str, body):
    """The out-of-place and in-place foreach functions of `name` from
    `body(op, self, *args, **kw)`, which applies `op` to each tensor and returns the results."""
    parameters = list(inspect.signature(body).parameters.values())[1:]
    signature = inspect.Signature(parameters)

    def check_call(fn_name, self, args, kw):
        try:
            signature.bind(self, *args, **kw)
        except TypeError as e:
            raise TypeError(f"{fn_name}(): {e}") from None

    def out_of_place(self, *args, **kw):
        check_call(out_of_place.__name__, self, args, kw)
        return tuple(body(_method(name), _tensors(name, self, 1, "self"), *args, **kw))

    def in_place(self, *args, **kw):
        check_call(in_place.__name__, self, args, kw)
        body(_INPLACE.get(name) or _method(name + "_"), _tensors(name + "_", self, 1, "self"),
             *args, **kw)
        return self

    out_of_place.__name__ = out_of_place.__qualname__ = f"_foreach_{name}"
    in_place.__name__ = in_place.__qualname__ = f"_foreach_{name}_"
    out_of_place.__doc__ = f"ember.{name} of each tensor of a list (torch._foreach_{name})."
    in_place.__doc__ = f"In-place {name} of each tensor of a list; returns the list."
    out_of_place.__signature__ = in_place.__signature__ = signature
    return {out_of_place.__name__: out_of_place, in_place.__name__: in_place}


def _unary(op, self):
    return [op(t) for t in self]


def _arith(name: str):
    def body(op, self, other, *, alpha=None):
        others = _per_tensor(name, self, other, tensor_ok=True, forms=_ARITH_FORMS)
        if alpha is None:
            return [op(t, o) for t, o in zip(self, others)]
        # alpha comes with a tensor list (add, sub) or add's 0-d tensor, as in torch
        tensor_list = not isinstance(other, Tensor) and isinstance(others[0], Tensor)
        if not (name in ("add", "sub") and tensor_list or
                name == "add" and isinstance(other, Tensor)):
            raise _combination_error(name, (self, other), _ARITH_FORMS, alpha=alpha)
        return [op(t, o, alpha=alpha) for t, o in zip(self, others)]
    return body


def _binary(name: str):
    def body(op, self, other):
        others = _per_tensor(name, self, other, tensor_ok=False, forms=_SCALAR_FORMS)
        return [op(t, o) for t, o in zip(self, others)]
    return body


def _lerp(op, self, tensors1, weight=None, *, weights=None):
    if (weight is None) == (weights is None):
        raise TypeError("_foreach_lerp(): give one of weight (a number or numbers) or weights "
                        "(a list of tensors)")
    if weights is not None:
        weight = _tensors("lerp", weights, 3, "weights")
    ends = _tensors("lerp", tensors1, 2, "tensors1")
    _same_length(self, ends)
    weights = _per_tensor("lerp", self, weight, tensor_ok=False, forms=_SCALAR_FORMS)
    return [op(t, e, w) for t, e, w in zip(self, ends, weights)]


def _addc(name: str):
    def body(op, self, tensor1, tensor2, value=1, *, scalars=None):
        if scalars is not None:
            value = scalars
        firsts = _tensors(name, tensor1, 2, "tensor1")
        seconds = _tensors(name, tensor2, 3, "tensor2")
        _same_length(self, firsts)
        _same_length(self, seconds)
        return [op(t, a, b, value=v)
                for t, a, b, v in zip(self, firsts, seconds, _values(self, value, name))]
    return body


def _values(self: list, value, name: str) -> list:
    """addcmul/addcdiv's `value`: a number, a list of numbers, or a 1-d tensor of them."""
    if isinstance(value, Tensor):
        if value.dim() != 1:
            raise RuntimeError("Expected packed scalar Tensor to be of dimension 1. Got "
                               f"{value.dim()} instead.")
        if value.numel() != len(self):
            raise RuntimeError(f"Expected length of scalars to match input of length "
                               f"{len(self)} but got {value.numel()} instead.")
        return value.tolist()
    if _is_scalar(value):
        return [value] * len(self)
    if isinstance(value, (list, tuple)) and all(_is_scalar(v) for v in value):
        return _scalars(len(self), value)
    raise _combination_error(name, (self, value), "value: Number, tuple of Scalars or Tensor")


_FUNCTIONS: dict = {}
for _name in _UNARY:
    _FUNCTIONS.update(_both_forms(_name, _unary))
for _name in _ARITH:
    _FUNCTIONS.update(_both_forms(_name, _arith(_name)))
for _name in _BINARY:
    _FUNCTIONS.update(_both_forms(_name, _binary(_name)))
for _name in ("addcmul", "addcdiv"):
    _FUNCTIONS.update(_both_forms(_name, _addc(_name)))
_FUNCTIONS.update(_both_forms("lerp", _lerp))
_pow_of_tensors = _FUNCTIONS["_foreach_pow"]


def _foreach_pow(self, exponent):
    """ember.pow of each tensor of a list, or of a number raised to each (torch._foreach_pow)."""
    if _is_scalar(self):
        return tuple(t.__rpow__(self) for t in _tensors("pow", exponent, 2, "exponent"))
    return _pow_of_tensors(self, exponent)


def _foreach_zero_(self):
    """Fill each tensor of a list with zeros, in place; returns the list."""
    for t in _tensors("zero_", self, 1, "self"):
        t.zero_()
    return self


def _foreach_copy_(self, src, non_blocking: bool = False):
    """Copy each tensor of `src` into the matching tensor of `self`; returns `self`."""
    targets = _tensors("copy_", self, 1, "self")
    sources = _tensors("copy_", src, 2, "src")
    _same_length(targets, sources)
    for t, s in zip(targets, sources):
        t.copy_(s, non_blocking)
    return self


def _foreach_norm(self, ord=2, dtype=None) -> tuple:
    """linalg.vector_norm of each tensor of a list (gradient clipping's per-tensor norms)."""
    if not _is_scalar(ord) or isinstance(ord, complex):
        raise TypeError(f"_foreach_norm(): argument 'ord' must be Number, not {_type_name(ord)}")
    return tuple(vector_norm(t, ord, dtype=dtype) for t in _tensors("norm", self, 1, "self"))


_FUNCTIONS.update(_foreach_pow=_foreach_pow, _foreach_zero_=_foreach_zero_,
                  _foreach_copy_=_foreach_copy_, _foreach_norm=_foreach_norm)
globals().update(_FUNCTIONS)
__all__ = sorted(_FUNCTIONS)
del _name
