"""Symbolic sizes for ember.compile's dynamic graphs.

A graph captured at one set of input shapes is generalized by comparing it with the same
function captured at other shapes: input dims that differ become size symbols (s0, s1, ...;
dims that change together share one), and every other integer that differs between the two
graphs (a view's target shape, a slice bound, a value's dim) is fitted as an expression in
those symbols: c*s, c*s*t or c*s + d. The result is the first graph with `SymInt`s in those
places. Everything else must match exactly: ops, dataflow, dtypes, other literals, constants.
A strided network's sizes are floor divisions instead (floor((h + 1) / 2) after a stride-2
convolution): generalize_floors fits those from builds at consecutive sizes.

Two samples cannot prove a fit, so ember.compile uses a symbolic graph only for shapes it has
been checked against: `conforms` compares the graph captured at a new shape with the symbolic
one evaluated at that shape's sizes. jit.trace and script, whose saved graphs must run
without the source, check more builds (each size stepped alone, at both parities, and at 1)
before they keep one (frontend.generalized).
Sizes 0 and 1 are never generalized from (as torch, which specializes them): broadcasting and
squeezing make them behave differently.
"""
from __future__ import annotations

import itertools

import numpy as np

from .._backend import to_numpy
from .ir import AsTensor, Graph, SymInt, TensorType, Value


class NotGeneral(Exception):
    """Two captures differ in a way no size expression explains (the reason says where)."""


class ConstraintViolationError(RuntimeError):
    """A dim marked dynamic (mark_dynamic) that the compiled code needs at a fixed size (as
    torch.fx.experimental.symbolic_shapes.ConstraintViolationError)."""


def _fit(a: int, b: int, samples: dict) -> SymInt | None:
    """An expression over the symbols (name -> (size in sample 1, size in sample 2)) that is
    `a` in the first sample and `b` in the second: of s, s*t, c*s, c*s*t, c*s + d and
    s*t + c*s (a size times another one less, B * (T - 1)), the one that fits with no offset,
    then a multiple of one symbol before a product (the sizes (24, 20) are 4*H for H in
    (6, 5), not (B + 2) * W for B in (2, 3) and W in (6, 4)), then the smallest coefficient (a
    plain symbol before a multiple of another whose sizes happen to be in the same ratio)."""
    found = []
    names = list(samples)
    for i, s in enumerate(names):
        s1, s2 = samples[s]
        c, rem = divmod(b - a, s2 - s1)
        if rem == 0 and c != 0:
            d = a - c * s1
            terms = (((s,), c),) if d == 0 else (((s,), c), ((), d))
            found.append(((d != 0, 0, abs(c), 0), terms))
        for t in names[i + 1:]:
            t1, t2 = samples[t]
            c, rem = divmod(a, s1 * t1)
            if rem == 0 and c != 0 and c * s2 * t2 == b:
                found.append(((False, 1, abs(c), 1), (((s, t), c),)))
            for u, u1, u2 in ((s, s1, s2), (t, t1, t2)):
                c, rem = divmod(a - s1 * t1, u1)
                if rem == 0 and c != 0 and s2 * t2 + c * u2 == b:
                    found.append(((False, 1, abs(c), 2), (((s, t), 1), ((u,), c))))
    return SymInt(a, min(found, key=lambda f: f[0])[1]) if found else None


class _Pairing:
    """Walks two graphs of the same structure side by side, rewriting the first in place;
    `ints(a, b, where)` decides about each pair of integers in the same place and returns what
    the first graph holds there."""

    def __init__(self, ints):
        self.ids: dict[int, int] = {}
        self.ints = ints

    def graphs(self, g: Graph, h: Graph, where: str) -> None:
        if len(g.inputs) != len(h.inputs) or len(g.nodes) != len(h.nodes) or \
                len(g.outputs) != len(h.outputs) or list(g.constants) != list(h.constants):
            raise NotGeneral(f"{where}: the graphs differ in size or constants")
        for k, (u, v) in enumerate(zip(g.inputs, h.inputs)):
            self.define(u, v, f"{where} input {u.name or k}")
        for name in g.constants:
            self.define(g.constants[name], h.constants[name], f"{where} constant {name}")
            if g.constant_kind[name] == "constant":
                self.constant(g.constant_data[name], h.constant_data[name], name)
        for k, (m, n) in enumerate(zip(g.nodes, h.nodes)):
            at = f"{where} node {k} ({m.op})"
            if (m.op, m.inplace, m.compute, m.result, len(m.outputs), len(m.blocks)) != \
                    (n.op, n.inplace, n.compute, n.result, len(n.outputs), len(n.blocks)):
                raise NotGeneral(f"{at}: a different op or promotion")
            if (m.saves is None) != (n.saves is None) or m.saves is not None and (
                    m.saves.needs_input_grad, m.saves.items) != (n.saves.needs_input_grad,
                                                                 n.saves.items):
                raise NotGeneral(f"{at}: different saved values")
            m.args = [self.literal(a, b, at) for a, b in zip(m.args, n.args)] \
                if len(m.args) == len(n.args) else self.mismatch(at, "arguments")
            if list(m.attrs) != list(n.attrs):
                self.mismatch(at, "attributes")
            m.attrs = {k: self.literal(m.attrs[k], n.attrs[k], f"{at} {k}=") for k in m.attrs}
            for u, v in zip(m.outputs, n.outputs):
                self.define(u, v, at)
            if (m.body is None) != (n.body is None):
                self.mismatch(at, "fusion bodies")
            for sub, other in ([(m.body, n.body)] if m.body is not None else []) + \
                    list(zip(m.blocks, n.blocks)):
                self.graphs(sub, other, at)
        for u, v in zip(g.outputs, h.outputs):
            self.same_value(u, v, f"{where} output")
        if g.output_spec != h.output_spec:  # a returned string's text can hold a size
            raise NotGeneral(f"{where}: the outputs' structure or text differs")

    @staticmethod
    def mismatch(where: str, what: str):
        raise NotGeneral(f"{where}: different {what}")

    def define(self, u: Value, v: Value, where: str) -> None:
        self.ids[u.id] = v.id
        u.type = self.type(u.type, v.type, where)

    def same_value(self, u: Value, v: Value, where: str) -> None:
        if self.ids.get(u.id) != v.id:
            raise NotGeneral(f"{where}: reads a different value")

    def type(self, t: TensorType, o: TensorType, where: str) -> TensorType:
        if t.dtype is not o.dtype or t.device != o.device or len(t.shape) != len(o.shape):
            raise NotGeneral(f"{where}: type {t} against {o}")
        shape = tuple(self.ints(a, b, where) for a, b in zip(t.shape, o.shape))
        return TensorType(t.dtype, shape, t.device)

    def constant(self, a, b, name: str) -> None:
        x, y = a._data, b._data
        if x is not y and (x.shape != y.shape or x.dtype != y.dtype or
                           not np.array_equal(to_numpy(x), to_numpy(y), equal_nan=True)):
            raise NotGeneral(f"constant {name} differs (a tensor built from a size inside "
                             "the function)")

    def literal(self, a, b, where: str):
        if isinstance(a, Value):
            if not isinstance(b, Value):
                self.mismatch(where, "arguments")
            self.same_value(a, b, where)
            return a
        if isinstance(a, AsTensor):
            if not isinstance(b, AsTensor):
                self.mismatch(where, "arguments")
            self.same_value(a.value, b.value, where)
            return a
        ta = type(a)
        if ta is not type(b) and not (isinstance(a, int) and type(b) is int and ta is SymInt):
            self.mismatch(where, f"literals ({a!r} against {b!r})")
        if ta is tuple or ta is list:
            if len(a) != len(b):
                self.mismatch(where, "sequence lengths")
            return ta(self.literal(x, y, where) for x, y in zip(a, b))
        if ta is dict:
            if list(a) != list(b):
                self.mismatch(where, "keys")
            return {k: self.literal(a[k], b[k], where) for k in a}
        if ta is slice:
            return slice(*(self.literal(x, y, where) for x, y in
                           ((a.start, b.start), (a.stop, b.stop), (a.step, b.step))))
        if isinstance(a, int) and ta is not bool:
            return self.ints(a, b, where)
        if isinstance(a, np.ndarray):
            if a.shape != b.shape or a.dtype != b.dtype or not np.array_equal(a, b):
                self.mismatch(where, "array literals")
            return a
        if not (a == b or a != a and b != b):
            self.mismatch(where, f"literals ({a!r} against {b!r})")
        return a


class Symbols:
    """The size symbols of a family of captures: which input dims they are, and their sizes
    in the first two samples. With a `modulus` q > 1, a dim that steps by a multiple of q is
    q * symbol + r (r its size mod q): the graph then serves the sizes r + q * n, which keeps
    the sizes stride-q downsampling computes from it exact multiples of the symbol."""

    def __init__(self, first: list[tuple], second: list[tuple], modulus: int = 1):
        self.where: dict[str, tuple[int, int]] = {}  # symbol -> (input position, dim)
        self.samples: dict[str, tuple[int, int]] = {}
        by_pair: dict[tuple[int, int], str] = {}
        self.input_dims: list[tuple] = []
        if len(first) != len(second):
            raise NotGeneral("the number of inputs differs")
        for k, (s, t) in enumerate(zip(first, second)):
            if len(s) != len(t):
                raise NotGeneral(f"input {k}: rank {len(s)} against {len(t)}")
            dims = []
            for d, (a, b) in enumerate(zip(s, t)):
                if a == b:
                    dims.append(a)
                    continue
                if min(a, b) <= 1:
                    raise NotGeneral(f"input {k} dim {d} changes between {a} and {b}; sizes "
                                     "0 and 1 are compiled specially")
                q = modulus if (b - a) % modulus == 0 else 1
                r = a % q
                if min(a, b) < 2 * q:
                    raise NotGeneral(f"input {k} dim {d} is below twice the modulus {q}")
                name = by_pair.get((a, b))
                if name is None:
                    name = by_pair[(a, b)] = f"s{len(by_pair)}"
                    self.where[name] = (k, d)
                    self.samples[name] = ((a - r) // q, (b - r) // q)
                dims.append(SymInt(a, (((name,), q),) + ((((), r),) if r else ())))
            self.input_dims.append(tuple(dims))

    def sizes_of(self, shapes: list[tuple], smallest: int = 2) -> dict | None:
        """Each symbol's size for inputs of these shapes (None when dims that share a symbol
        differ, a dim is not q * symbol + r, or a symbol is below `smallest`)."""
        sizes: dict[str, int] = {}
        for dims, shape in zip(self.input_dims, shapes):
            if len(dims) != len(shape):
                return None
            for d, n in zip(dims, shape):
                if type(d) is SymInt:
                    ((name,), q) = d.terms[0]
                    size, rest = divmod(n - d.evaluate({name: 0}), q)
                    if rest or size < smallest or sizes.setdefault(name, size) != size:
                        return None
                elif d != n:
                    return None
        return sizes


def total_stride(graph: Graph) -> int:
    """The largest product of strides along a path from the inputs through convolutions and
    max pools: the sizes a strided network computes are exact multiples of a symbol at input
    sizes that many apart."""
    factor: dict[int, int] = {}
    for node in graph.nodes:
        f = max((factor.get(v.id, 1) for v in node.inputs()), default=1)
        if node.op in ("convolution", "max_pool"):
            f *= max(node.attrs["stride"], default=1)
        for v in node.outputs:
            factor[v.id] = f
    return max(factor.values(), default=1)


def generalize(first: Graph, second: Graph, symbols: Symbols) -> Graph:
    """A copy of `first` with the ints that differ from `second` as size expressions; its
    `symbols` maps each symbol it uses to (input position, dim, coefficient, offset) to read
    it from. Raises NotGeneral."""
    def fitted(a, b, where):
        if a == b:
            return a
        got = _fit(a, b, symbols.samples)
        if got is None:
            raise NotGeneral(f"{where}: {a} and {b} follow no size expression")
        return got
    g = first.copy()
    _Pairing(fitted).graphs(g, second, "graph")
    g.symbols = _readable_from(g)
    return g


def generalize_floors(first: Graph, samples: list, sweep: list) -> Graph:
    """A copy of `first` with each int that differs across `samples` ((symbol sizes, graph)
    pairs, `first`'s own first) as c * f + d, f a symbol or floor((s + a) / m) (a strided
    convolution's or pooling's size, of any input size), or as k times a product of two or
    three factors of different symbols met before (a flattened (N, C, h, w) is N * h * w
    times C). `sweep` indexes samples whose sizes step by one at a time together (from
    first's), spanning the network's total stride: the steps where an int jumps give its
    divisor and offset. The expression must give the int in every sample. Raises
    NotGeneral."""
    columns = [_ints_of(first, g) for _, g in samples]
    sizes = [n for n, _ in samples]
    pool = dict.fromkeys(sizes[0])  # the factors met so far, the plain symbols first
    fitted = []
    for k, a in enumerate(columns[0]):
        values = [column[k] for column in columns]
        if all(v == a for v in values):
            fitted.append(a)
            continue
        got = next((c for c in _floor_candidates(a, sizes, values, sweep, list(pool))
                    if all(c.evaluate(n) == v for n, v in zip(sizes, values))), None)
        if got is None:
            raise NotGeneral(f"the sizes {values} follow no floor division of the inputs'")
        pool.update(dict.fromkeys(_factors_of(got)))
        fitted.append(got)
    place = iter(fitted)
    g = first.copy()
    _Pairing(lambda a, b, where: next(place)).graphs(g, first, "graph")
    g.symbols = _readable_from(g)
    return g


def _factors_of(n: SymInt) -> list:
    """The factors a product may reuse from a fitted size: c * s + d as floor((s + d / c) / 1)
    (a valid convolution's h - 2), else the factors it holds."""
    if len(n.terms) == 2 and n.terms[1][0] == () and len(n.terms[0][0]) == 1 and \
            type(n.terms[0][0][0]) is str and n.terms[1][1] % n.terms[0][1] == 0:
        ((s,), c), (_, d) = n.terms
        return [(s, d // c, 1)]
    return [f for factors, _ in n.terms for f in factors]


def _ints_of(first: Graph, other: Graph) -> list:
    """The ints `other` holds where `first` holds one, in the order _Pairing visits them."""
    found: list = []

    def record(a, b, where):
        found.append(b)
        return a
    _Pairing(record).graphs(first.copy(), other, "graph")
    return found


def _floor_candidates(a: int, sizes: list, values: list, sweep: list, pool: list):
    """Expressions that give `a` at sizes[0]: per symbol, its floor terms over the sweep (or
    c * s, from samples where only s changed) plus a constant, then k times each product of
    two or three factors of the pool of different symbols."""
    base = sizes[0]
    for s in base:
        series = sorted((sizes[j][s], values[j]) for j in [0] + sweep)
        options = _floor_terms(s, series) if len({n for n, _ in series}) > 1 else \
            [_linear_terms(s, base, sizes, values)]
        for terms in filter(None, options):
            d = a - sum(c * SymInt(1, (((f,), 1),)).evaluate(base) for f, c in terms)
            (f, c) = terms[0]
            if len(terms) == 1 and type(f) is tuple and d % c == 0:
                terms, d = [((f[0], f[1] + d // c * f[2], f[2]), c)], 0  # one floor
            yield SymInt(a, tuple(((f,), c) for f, c in terms) + ((((), d),) if d else ()))
    for r in (2, 3):
        for factors in itertools.combinations(pool, r):
            if len({f if type(f) is str else f[0] for f in factors}) < r:
                continue
            at = SymInt(1, ((factors, 1),)).evaluate(base)
            if at and a % at == 0 and a // at:
                yield SymInt(a, ((factors, a // at),))


def _floor_terms(s: str, series: list) -> list:
    """Term lists [(factor, coefficient)] whose sum follows the values along consecutive
    sizes of s up to a constant, simplest first: c * s when every step adds c; b * floor((s
    + a) / m) for the steps that add another amount every m-th time (m the sweep's length
    when there is one such step), plus c * s when the others add c (the padding s % 2 = s -
    2 * floor(s / 2)); and one floor((s + a) / L) per step of the sweep's length L, times
    what the step adds (any sizes that repeat with period L but for a constant step: a ceil
    mode pooling's padding after a strided convolution)."""
    ns, vs = [n for n, _ in series], [v for _, v in series]
    if ns != list(range(ns[0], ns[0] + len(ns))):
        return []
    diffs = [y - x for x, y in zip(vs, vs[1:])]
    every = [((s, -(n + 1) % len(diffs), len(diffs)), d) for n, d in zip(ns, diffs) if d]
    kinds = sorted(set(diffs), key=lambda d: (-diffs.count(d), d != 0, d != diffs[0]))
    if len(kinds) == 1:
        return [[(s, kinds[0])]] if kinds[0] else []
    if len(kinds) > 2:
        return [every]
    usual, odd = kinds
    steps = [j for j, d in enumerate(diffs) if d == odd]
    gaps = {q - p for p, q in zip(steps, steps[1:])} or {len(diffs)}
    if len(gaps) > 1:
        return [every]
    m = gaps.pop()
    return [([(s, usual)] if usual else []) + [((s, -ns[steps[0] + 1] % m, m), odd - usual)],
            every]


def _linear_terms(s: str, base: dict, sizes: list, values: list) -> list | None:
    """[(s, c)] from a sample where only s changed from the first, when the change is c per
    unit of s."""
    for n, v in zip(sizes[1:], values[1:]):
        if n[s] != base[s] and all(n[t] == base[t] for t in base if t != s):
            c, rest = divmod(v - values[0], n[s] - base[s])
            return [(s, c)] if c and not rest else None
    return None


def conforms(symbolic: Graph, capture: Graph, sizes: dict) -> str | None:
    """None when `capture` is `symbolic` at these sizes; else the first difference."""
    def evaluated(a, b, where):
        expected = a.evaluate(sizes) if type(a) is SymInt else a
        if expected != b:
            raise NotGeneral(f"{where}: {b} where the dynamic graph has {a} = {expected}")
        return a
    try:
        _Pairing(evaluated).graphs(symbolic.copy(), capture, "graph")
    except NotGeneral as e:
        return str(e)
    return None


def symbol_sizes(graph: Graph, shapes: list) -> dict:
    """Each symbol's size in a call whose inputs have these shapes (graph.symbols says which
    input dim holds it, as coefficient * symbol + offset)."""
    return {s: (shapes[k][dim] - offset) // coeff
            for s, (k, dim, coeff, offset) in graph.symbols.items()}


def has_symbols(obj) -> bool:
    """Whether a literal holds a SymInt (in containers and slices too)."""
    return bool(_symbols_in(obj, set()))


def _symbols_in(obj, found: set) -> set:
    if type(obj) is SymInt:
        found.update(obj.symbols())
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            _symbols_in(o, found)
    elif isinstance(obj, dict):
        for o in obj.values():
            _symbols_in(o, found)
    elif isinstance(obj, slice):
        _symbols_in((obj.start, obj.stop, obj.step), found)
    return found


def used_symbols(g: Graph) -> set:
    """The symbols a graph's nodes (and their blocks) use in literals and value types."""
    used: set = set()
    for node in g.nodes:
        _symbols_in(node.args, used)
        _symbols_in(node.attrs, used)
        for v in node.outputs:
            _symbols_in(v.type.shape, used)
        for block in node.blocks:
            used |= used_symbols(block)
    return used


def _readable_from(g: Graph) -> dict:
    """symbol -> (input position, dim, coefficient, offset): where generated code reads each
    symbol the graph uses or its inputs' types hold, from an input dim that is coefficient *
    symbol + offset (a plain multiple preferred; a backward graph may only hold T - 1 sized
    values, say)."""
    used = used_symbols(g)
    for v in g.inputs:
        _symbols_in(tuple(v.type.shape), used)
    found = {}
    for k, v in enumerate(g.inputs):
        for d, n in enumerate(v.type.shape):
            if type(n) is not SymInt:
                continue
            linear = [t for t in n.terms if t[0]]
            offset = sum(c for names, c in n.terms if not names)
            if len(linear) == 1 and len(linear[0][0]) == 1:
                (name,), coeff = linear[0]
                if name not in found or found[name][3] and not offset:
                    found[name] = (k, d, coeff, offset)
    missing = used - set(found)
    if missing:
        raise NotGeneral(f"no input dim gives the size {sorted(missing)[0]}")
    return {s: found[s] for s in sorted(used)}


def size_terms(d) -> dict:
    """A size (int or SymInt) as a polynomial: {sorted symbol tuple: coefficient}."""
    terms = d.terms if type(d) is SymInt else (((), int(d)),)
    out: dict = {}
    for symbols, coeff in terms:
        key = tuple(sorted(symbols, key=str))
        out[key] = out.get(key, 0) + coeff
    return {k: c for k, c in out.items() if c}


def terms_product(a: dict, b: dict) -> dict:
    """The product of two size polynomials (size_terms)."""
    out: dict = {}
    for ka, ca in a.items():
        for kb, cb in b.items():
            key = tuple(sorted(ka + kb, key=str))
            out[key] = out.get(key, 0) + ca * cb
    return {k: c for k, c in out.items() if c}


def add_sizes(a, b):
    """a + b for sizes, kept symbolic when either is."""
    if type(a) is not SymInt and type(b) is not SymInt:
        return a + b
    total = size_terms(a)
    for k, c in size_terms(b).items():
        total[k] = total.get(k, 0) + c
    return SymInt(int(a) + int(b), tuple((k, c) for k, c in total.items() if c) or (((), 0),))
