"""Dynamic axes: which sizes and attributes of a traced graph follow the dynamic input axes.

A trace records concrete numbers (a reshape to (2, 4) when the batch was 2). To learn how each
one depends on the dynamic axes, the model is traced again once per dynamic axis name with
that axis resized; the graphs must match op for op. An int that changes is fitted to a
monomial `coef * prod(axis ** power)` (batch, batch * seq, 4 * seq, ...): lowerings compute it
at run time from the inputs' shapes (Shape -> Mul). Sizes that follow no monomial (seq + 1)
stay marked as dynamic but unknown; a lowering that needs one must do without it (a reshape
can infer one entry with -1) or refuse.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from ..jit.ir import AsTensor, Graph, Value


class Monomial:
    """coef * prod(axis ** power) over named dynamic axes."""

    __slots__ = ("coef", "powers")

    def __init__(self, coef: Fraction, powers: tuple):
        self.coef = coef
        self.powers = powers

    @classmethod
    def axis(cls, name: str) -> "Monomial":
        return cls(Fraction(1), ((name, 1),))

    def evaluate(self, sizes: dict) -> Fraction:
        out = self.coef
        for name, p in self.powers:
            out *= sizes[name] ** p
        return out

    def is_axis(self) -> str | None:
        """The axis name when this is exactly one axis, else None."""
        if self.coef == 1 and len(self.powers) == 1 and self.powers[0][1] == 1:
            return self.powers[0][0]
        return None

    def __eq__(self, other) -> bool:
        return isinstance(other, Monomial) and (self.coef, self.powers) == (other.coef,
                                                                            other.powers)

    def __hash__(self) -> int:
        return hash((self.coef, self.powers))

    def __str__(self) -> str:
        parts = [name if p == 1 else f"{name}**{p}" for name, p in self.powers]
        if self.coef != 1 or not parts:
            parts.insert(0, str(self.coef))
        return "*".join(parts)

    __repr__ = __str__


class SymInt:
    """An int of the traced graph that depends on dynamic axes: `base` is its traced value,
    `expr` the Monomial it follows, or None when it follows none ember can express; `key`
    holds its value in every trace, so that a size with no expression can be read at run
    time from a tensor dim that took the same values."""

    __slots__ = ("base", "expr", "key")

    def __init__(self, base: int, expr: Monomial | None, key: tuple | None = None):
        self.base = base
        self.expr = expr
        self.key = key

    def __repr__(self) -> str:
        return f"SymInt({self.base}, {self.expr})"


class Varying:
    """A part of a literal whose structure or non-integer value changes with the dynamic axes
    (a tuple whose length follows the sequence length, a float); `base` is the traced one."""

    __slots__ = ("base",)

    def __init__(self, base):
        self.base = base

    def __repr__(self) -> str:
        return f"Varying({self.base!r})"


def is_static(obj) -> bool:
    """Whether a literal holds no SymInt or Varying part."""
    if isinstance(obj, (SymInt, Varying)):
        return False
    if isinstance(obj, (tuple, list)):
        return all(is_static(o) for o in obj)
    if isinstance(obj, dict):
        return all(is_static(o) for o in obj.values())
    if isinstance(obj, slice):
        return all(is_static(o) for o in (obj.start, obj.stop, obj.step))
    return True


def base_of(obj):
    """The traced literal behind a merged one."""
    if isinstance(obj, (SymInt, Varying)):
        return obj.base
    if type(obj) in (tuple, list):
        return type(obj)(base_of(o) for o in obj)
    if type(obj) is dict:
        return {k: base_of(v) for k, v in obj.items()}
    if type(obj) is slice:
        return slice(base_of(obj.start), base_of(obj.stop), base_of(obj.step))
    return obj


def fit(base: int, base_sizes: dict, others: dict) -> Monomial | None:
    """The monomial through the traced values: `others` maps an axis name to (value, sizes)
    of the trace where that axis was resized."""
    powers = []
    for name, (value, sizes) in others.items():
        n0, n1 = base_sizes[name], sizes[name]
        if value == base:
            continue
        if base <= 0 or value <= 0:
            return None
        exact = math.log(value / base) / math.log(n1 / n0)
        p = round(exact)
        if p < 1 or abs(p - exact) > 1e-6 or base * n1 ** p != value * n0 ** p:
            return None
        powers.append((name, p))
    denom = 1
    for name, p in powers:
        denom *= base_sizes[name] ** p
    mono = Monomial(Fraction(base, denom), tuple(sorted(powers)))
    for value, sizes in others.values():
        if mono.evaluate({**base_sizes, **sizes}) != value:
            return None
    return mono


class _Merger:
    """Merges a literal of the base trace with its counterparts in the resized traces."""

    def __init__(self, base_sizes: dict, sizes: dict):
        self.base_sizes = base_sizes
        self.sizes = sizes

    def __call__(self, base, others: dict):
        if all(_same(base, o) for o in others.values()):
            return base
        if any(type(o) is not type(base) for o in others.values()):
            return Varying(base)
        t = type(base)
        if t is int:
            return SymInt(base, fit(base, self.base_sizes,
                                    {k: (o, self.sizes[k]) for k, o in others.items()}),
                          (base,) + tuple(sorted(others.items())))
        if t in (tuple, list):
            if any(len(o) != len(base) for o in others.values()):
                return Varying(base)
            return t(self(b, {k: o[i] for k, o in others.items()}) for i, b in enumerate(base))
        if t is dict:
            if any(o.keys() != base.keys() for o in others.values()):
                return Varying(base)
            return {key: self(b, {k: o[key] for k, o in others.items()})
                    for key, b in base.items()}
        if t is slice:
            parts = [self(getattr(base, a), {k: getattr(o, a) for k, o in others.items()})
                     for a in ("start", "stop", "step")]
            return slice(*parts)
        return Varying(base)


def _same(a, b) -> bool:
    if isinstance(a, Value) or isinstance(b, Value):
        return isinstance(a, Value) and isinstance(b, Value) and a.id == b.id
    if type(a) is not type(b):
        return False
    if type(a) in (tuple, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if type(a) is dict:
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if type(a) is slice:
        return all(_same(getattr(a, s), getattr(b, s)) for s in ("start", "stop", "step"))
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and a.dtype == b.dtype and bool(
            np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, AsTensor):
        return a.value.id == b.value.id
    try:
        return bool(a == b) or (isinstance(a, float) and math.isnan(a) and math.isnan(b))
    except (TypeError, ValueError):
        return False


class ConstSpec:
    """How an anonymous constant (a tensor made inside forward) depends on the dynamic axes:
    kind "static" (use the traced data), "fill" (every element is `value`: ConstantOfShape),
    "range" (a 1-d `start + step * arange(n)`: Range) or "varying" (cannot be expressed)."""

    __slots__ = ("kind", "shape", "value", "step")

    def __init__(self, kind: str, shape=None, value=None, step=None):
        self.kind = kind
        self.shape = shape
        self.value = value
        self.step = step


class DynamicInfo:
    """What the resized traces taught about the base graph: merged node arguments and
    attributes, value shapes (ints, SymInts) and anonymous-constant specs."""

    def __init__(self, graph: Graph, base_sizes: dict):
        self.graph = graph
        self.base_sizes = base_sizes
        self.args: dict[int, list] = {}
        self.attrs: dict[int, dict] = {}
        self.shapes: dict[int, tuple] = {}
        self.constants: dict[str, ConstSpec] = {}

    @classmethod
    def static(cls, graph: Graph) -> "DynamicInfo":
        info = cls(graph, {})
        for k, node in enumerate(graph.nodes):
            info.args[k] = node.args
            info.attrs[k] = node.attrs
        return info

    def shape(self, value: Value) -> tuple:
        return self.shapes.get(value.id, value.type.shape)

    def is_dynamic(self, value: Value) -> bool:
        return not is_static(self.shape(value))


class TraceMismatch(RuntimeError):
    """The graph traced with a resized dynamic axis differs from the first one."""


def analyze(base: Graph, base_sizes: dict, resized: dict) -> DynamicInfo:
    """Merge the base graph with `resized` = {axis: (graph, sizes)}; raise TraceMismatch when
    a resized graph does not have the base graph's structure."""
    info = DynamicInfo(base, base_sizes)
    sizes = {name: s for name, (_, s) in resized.items()}
    merge = _Merger(base_sizes, sizes)
    for name, (g, _) in resized.items():
        _check_structure(base, g, name)
    graphs = {name: g for name, (g, _) in resized.items()}
    for k, node in enumerate(base.nodes):
        others = {name: g.nodes[k] for name, g in graphs.items()}
        info.args[k] = merge(node.args, {n: o.args for n, o in others.items()})
        info.attrs[k] = merge(node.attrs, {n: o.attrs for n, o in others.items()})
        for i, v in enumerate(node.outputs):
            shape = merge(v.type.shape, {n: o.outputs[i].type.shape for n, o in others.items()})
            if isinstance(shape, Varying):
                raise TraceMismatch(f"output {i} of op {k} ('{node.op}') changes rank with the "
                                    "dynamic axes (a size of 1 treated specially?)")
            info.shapes[v.id] = shape
    for i, v in enumerate(base.inputs):
        info.shapes[v.id] = merge(v.type.shape,
                                  {n: g.inputs[i].type.shape for n, g in graphs.items()})
    for cname, v in base.constants.items():
        shape = merge(v.type.shape, {n: g.constants[cname].type.shape
                                     for n, g in graphs.items()})
        info.shapes[v.id] = shape
        if base.constant_kind[cname] == "constant":
            info.constants[cname] = _constant_spec(
                base.constant_data[cname], [g.constant_data[cname] for g in graphs.values()],
                shape)
    return info


def traces_alike(base: Graph, other: Graph) -> bool:
    """Whether `other` (traced with a dynamic axis resized) has the base graph's structure."""
    try:
        _check_structure(base, other, "")
    except TraceMismatch:
        return False
    return True


def _check_structure(base: Graph, other: Graph, axis: str) -> None:
    def fail(what):
        raise TraceMismatch(
            f"the model traces to a different graph when dynamic axis '{axis}' has another "
            f"size ({what}): its Python code depends on that size (a loop over it, or a "
            "branch on it), which a trace cannot generalize. Export with that axis static, "
            "or write the code so that the ops do not depend on the size.")
    if len(base.inputs) != len(other.inputs):
        fail("a different number of inputs")
    if base.constants.keys() != other.constants.keys():
        fail("different constants")
    if len(base.nodes) != len(other.nodes):
        fail(f"{len(base.nodes)} ops instead of {len(other.nodes)}")
    for k, (a, b) in enumerate(zip(base.nodes, other.nodes)):
        if a.op != b.op or a.inplace != b.inplace or len(a.outputs) != len(b.outputs):
            fail(f"op {k} is '{b.display_op()}' instead of '{a.display_op()}'")
        if [v.id for v in a.inputs()] != [v.id for v in b.inputs()]:
            fail(f"op {k} ('{a.op}') reads other values")
    if [v.id for v in base.outputs] != [v.id for v in other.outputs]:
        fail("other outputs")


def _constant_spec(base, others: list, shape) -> ConstSpec:
    arrays = [np.asarray(base._data)] + [np.asarray(t._data) for t in others]
    if is_static(shape):
        return ConstSpec("static")
    flat = [a.reshape(-1) for a in arrays]
    if all(f.size for f in flat):
        first = flat[0][0]
        if all((f == first).all() or (f != f).all() and first != first for f in flat):
            return ConstSpec("fill", shape, first)
        if arrays[0].ndim == 1 and all(f.size > 1 for f in flat):
            step = flat[0][1] - flat[0][0]
            if all(np.array_equal(f, first + step * np.arange(f.size)) for f in flat):
                return ConstSpec("range", shape, first, step)
    return ConstSpec("varying", shape)
