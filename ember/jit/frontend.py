"""The public entry points: trace, trace_module, freeze and optimize_for_inference, and the
checks trace runs."""
from __future__ import annotations

import functools
import inspect
import warnings

import numpy as np

from .._backend import to_numpy
from .._ops.random import get_rng_state, set_rng_state
from .._tensor import Tensor
from ..autograd.grad_mode import no_grad
from ..nn.modules.module import Module
from .ir import literal_key, substitute
from .passes import fold_batch_norm, optimize, prepack_weights
from .passes.analysis import AliasInfo
from .passes.freeze import freeze_constants
from .runtime import ScriptFunction, ScriptModule, _Method, module_layout
from .symbolic import (NotGeneral, Symbols, conforms, generalize, generalize_floors,
                       total_stride)
from .tracer import (TracerWarning, TracingCheckError, as_tuple, caller_stacklevel, flatten,
                     trace_graph, unflatten)


def _module_state(mod: Module) -> dict:
    """id(tensor) -> (tensor, qualified name, kind) for every parameter and buffer."""
    state = {}
    for name, t in mod.named_parameters():
        state[id(t)] = (t, name, "parameter")
    for name, t in mod.named_buffers():
        state.setdefault(id(t), (t, name, "buffer"))
    return state


def trace(func, example_inputs=None, optimize=None, check_trace: bool = True,
          check_inputs=None, check_tolerance: float = 1e-5, strict: bool = True,
          example_kwarg_inputs: dict | None = None) -> ScriptModule | ScriptFunction:
    """Record the ops `func` runs on `example_inputs` into a graph.

    A Module gives a ScriptModule (its parameters and buffers become named constants of the
    graph); a function gives a ScriptFunction. Both are callable and have `.graph`, `.code`
    and `.save(path)`. Python control flow and values read out of tensors (`.item()`,
    `bool()`, ...) are fixed at their traced values (a TracerWarning says where). Sizes
    computed from the batch size and sequence length (x.view(x.shape[0], -1)) become
    expressions of each call's when retraces at other sizes follow one (the graph then
    prints them as s0, s1); a graph whose sizes follow none runs only at the example's
    shapes and says so when called at others. Other sizes stay those of the example.

    Args:
        func: an nn.Module (traces forward) or a function of tensors.
        example_inputs: a Tensor or a tuple of (nested tuples/lists/dicts of) Tensors.
        optimize: accepted for torch compatibility; ignored.
        check_trace: compare the result with `func` on the example inputs, on `check_inputs`
            and on a slightly perturbed copy of the example (retraced: a different graph
            means the trace depends on input values); a mismatch raises TracingCheckError.
            The retraces at other sizes run either way.
        check_inputs: more input tuples to compare on.
        check_tolerance: relative and absolute tolerance of the comparison.
        strict: refuse list and dict outputs (their structure is fixed by the trace).
        example_kwarg_inputs: the example as {parameter name: value} instead (then
            `check_inputs` holds such dicts too); the graph takes those parameters, in the
            signature's order.

    The result takes its arguments positionally or by parameter name, as `func` does.

    >>> import ember
    >>> f = ember.jit.trace(lambda x: x * 2 + 1, ember.ones(2))
    >>> f(ember.tensor([1., 2.]))
    tensor([3., 5.])
    """
    if example_kwarg_inputs is not None:
        if example_inputs is not None:
            raise ValueError("ember.jit.trace takes example_inputs or example_kwarg_inputs, "
                             "not both")
        example_inputs = example_kwarg_inputs
    if isinstance(func, Module):
        return trace_module(func, {"forward": example_inputs}, optimize, check_trace,
                            [{"forward": c} for c in check_inputs] if check_inputs else None,
                            check_tolerance, strict,
                            example_inputs_is_kwarg=example_kwarg_inputs is not None)
    if not callable(func):
        raise TypeError(f"ember.jit.trace expects a Module or a function, got "
                        f"{type(func).__name__}")
    if example_kwarg_inputs is not None:
        func, example_inputs, check_inputs = _by_keyword(func, func, example_inputs,
                                                         check_inputs)
    if example_inputs is None:
        raise ValueError("ember.jit.trace needs example_inputs (a Tensor or a tuple of them)")
    graph, drew_random = trace_graph(func, example_inputs, {}, strict)
    result = ScriptFunction(graph, getattr(func, "__name__", "forward"))
    retrace = lambda ex: trace_graph(func, ex, {}, strict)[0]  # noqa: E731
    if check_trace:
        _check(func, result, example_inputs, check_inputs, check_tolerance, drew_random,
               retrace)
    else:
        _check_sizes(result, example_inputs, retrace)
    return result


def trace_module(mod: Module, inputs: dict, optimize=None, check_trace: bool = True,
                 check_inputs=None, check_tolerance: float = 1e-5, strict: bool = True,
                 example_inputs_is_kwarg: bool = False) -> ScriptModule:
    """Trace several methods of a module: `inputs` maps method names to example inputs
    ({parameter name: value} dicts with `example_inputs_is_kwarg`).

    The ScriptModule shares the module's parameters and buffers (same tensors, same names);
    traced methods other than forward are attributes of it. The other arguments are those of
    `trace` (`check_inputs` is a list of such dicts).
    """
    if not isinstance(mod, Module):
        raise AttributeError("expected an ember.nn.Module as the first argument of "
                             "trace_module")
    if not isinstance(inputs, dict) or not inputs:
        raise AttributeError("trace_module expects a dict of {method name: example inputs}")
    state = _module_state(mod)
    methods = {name: _method(mod, name) for name in inputs}
    if example_inputs_is_kwarg:
        inputs, checks = dict(inputs), [dict(c) for c in check_inputs or ()]
        for name in methods:
            fn, sig = methods[name]
            fn, inputs[name], extra = _by_keyword(fn, sig, inputs[name],
                                                  [c[name] for c in checks if name in c])
            for c, e in zip((c for c in checks if name in c), extra):
                c[name] = e
            methods[name] = (fn, fn)
        check_inputs = checks
    graphs, random = {}, {}
    for name, example in inputs.items():
        fn, sig = methods[name]
        graphs[name], random[name] = trace_graph(fn, example, state, strict, sig)
    script = ScriptModule._build(module_layout(mod), _tensors_of(mod), graphs)
    # the checks and the retraces at other sizes rerun the module: its buffers (batch norm's
    # running statistics) keep the values the traced call left, as after one call
    kept = [(t, t._data.copy()) for t, _, kind in state.values() if kind == "buffer"]
    try:
        _check_methods(methods, script, inputs, check_inputs, check_tolerance, random,
                       state, strict, check_trace)
    finally:
        for t, data in kept:
            t._data[...] = data
    return script


def _check_methods(methods, script, inputs, check_inputs, check_tolerance, random, state,
                   strict, check_trace: bool) -> None:
    """check_trace for each traced method; without it, only the sizes (`_check_sizes`)."""
    for name, example in inputs.items():
        fn, sig = methods[name]
        extra = [c[name] for c in check_inputs or () if name in c]
        call = script if name == "forward" else getattr(script, name)
        retrace = lambda ex, fn=fn, sig=sig: trace_graph(fn, ex, state, strict, sig)[0]  # noqa: E731
        if check_trace:
            _check(fn, call, example, extra, check_tolerance, random[name], retrace)
        else:
            _check_sizes(call, example, retrace)


def _by_keyword(fn, sig, example, checks):
    """For an example given by parameter name: a positional wrapper of `fn` that passes its
    arguments by those names (in the signature's order, which also names the graph's
    inputs), the example and `checks` (more such dicts) as tuples in that order."""
    if not isinstance(example, dict) or not all(isinstance(k, str) for k in example):
        raise TypeError("example_kwarg_inputs must be a dict of {parameter name: value}")
    try:
        params = [p for p in inspect.signature(sig).parameters.values()
                  if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params if p.name in example]
    unknown = sorted(set(example) - set(names))
    if unknown:
        raise TypeError(f"example_kwarg_inputs names {unknown[0]!r}, which is not a parameter "
                        f"of {getattr(sig, '__qualname__', sig)}")

    @functools.wraps(fn)
    def by_keyword(*args):
        return fn(**dict(zip(names, args)))
    by_keyword.__signature__ = inspect.Signature(
        [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names])
    ordered = []
    for c in checks or ():
        if not isinstance(c, dict) or set(c) != set(names):
            raise TypeError(f"check_inputs must be dicts with the keys of "
                            f"example_kwarg_inputs ({', '.join(names)})")
        ordered.append(tuple(c[n] for n in names))
    return by_keyword, tuple(example[n] for n in names), ordered


def _method(mod: Module, name: str):
    if name == "forward":
        return mod, mod.forward
    fn = getattr(mod, name, None)
    if not callable(fn):
        raise AttributeError(f"{type(mod).__name__} has no method {name!r} to trace")
    return fn, fn


def _tensors_of(mod: Module) -> dict:
    out = {}
    for path, m in mod.named_modules(remove_duplicate=False):
        prefix = path + "." if path else ""
        for store in (m._parameters, m._buffers):
            out.update({prefix + k: t for k, t in store.items() if t is not None})
    return out


# ---- check_trace -----------------------------------------------------------------------------
def _copied(example, copy):
    """example with each distinct tensor replaced by copy(tensor), once: a tensor passed twice
    (self-attention's query, key and value) stays one tensor, so code that checks `q is k`
    takes the example's path."""
    flat, spec = flatten(as_tuple(example), "input")
    made: dict = {}
    out = []
    for t in flat:
        if id(t) not in made:
            made[id(t)] = copy(t)
        out.append(made[id(t)])
    return unflatten(spec, out)


def _clone(example):
    return _copied(example, lambda t: t.detach().clone().requires_grad_(t.requires_grad))


def _perturbed(example):
    """A copy with float inputs nudged by about 1% (seeded; ember's RNG is left alone),
    positive integers one smaller and bool entries moved one place along: token ids stay
    valid ids and lengths valid lengths, so code that reads their values (as
    pack_padded_sequence reads its lengths) shows in another graph."""
    rng = np.random.default_rng(0)
    changed = []

    def nudge(t):
        grad = t.requires_grad
        t = t.detach().clone()
        if t.device.type != "cpu" or not t.numel():
            return t.requires_grad_(grad)
        if t.is_floating_point():
            data = t._data.astype(np.float64)
            finite = np.abs(data[np.isfinite(data)])  # a mask's -inf entries stay -inf
            scale = 0.01 * ((finite.mean() if finite.size else 0.0) + 1e-3)
            t._data[...] = (data + scale * rng.standard_normal(data.shape)).astype(t._data.dtype)
            changed.append(t)
        elif t._data.dtype.kind == "b" and t.numel() > 1:
            t._data[...] = np.roll(t._data.reshape(-1), 1).reshape(t._data.shape)
            changed.append(t)
        elif t._data.dtype.kind in "iu":
            t._data[...] = np.where(t._data > 0, t._data - 1, t._data)
            changed.append(t)
        return t.requires_grad_(grad)
    out = _copied(example, nudge)
    return out if changed else None


def _structure(graph) -> list:
    """The graph as comparable data: ops and literals, values numbered by definition order."""
    order = {v.id: k for k, v in enumerate(graph.inputs)}
    for name, v in graph.constants.items():
        order[v.id] = name
    rows = []
    for node in graph.nodes:
        rows.append((node.op, node.inplace,
                     literal_key(substitute(node.args, lambda v: _Slot(order.get(v.id)))),
                     literal_key(substitute(node.attrs, lambda v: _Slot(order.get(v.id)))),
                     [_structure(b) for b in node.blocks]))
        for v in node.outputs:
            order[v.id] = len(order)
    return rows


class _Slot:
    """A value's position, standing in for it when graphs are compared."""

    def __init__(self, key):
        self.key = self.id = key

    def __eq__(self, other):
        return isinstance(other, _Slot) and other.key == self.key

    def __hash__(self):
        return hash(self.key)


def _check(fn, script_call, example, check_inputs, tol, drew_random, retrace) -> None:
    """torch's check_trace, our way: rerun, compare outputs; retrace on a perturbed copy and
    compare graphs (a difference means the trace depends on input values); retrace with one
    more row in the batched inputs to learn whether the graph bakes in sizes, then at other
    batch sizes to generalize them (`_check_sizes`); the outputs are compared last, from the
    graph that will run."""
    nudged = None if drew_random else _perturbed(example)
    other = None if nudged is None else _retraced(retrace, nudged)
    if other is not None:
        _compare_graphs(script_call, other)
    _check_sizes(script_call, example, retrace)
    if drew_random:
        warnings.warn("check_trace skipped the output comparison: the traced function draws "
                      "random numbers, so outputs differ between runs.", TracerWarning,
                      stacklevel=caller_stacklevel())
        return
    _compare_outputs(fn, script_call, example, tol, "the example inputs")
    for extra in check_inputs or ():
        _compare_outputs(fn, script_call, extra, tol, "check_inputs")
    if other is not None:
        _compare_outputs(fn, script_call, nudged, tol,
                         "a perturbed copy of the example inputs")


def _retraced(retrace, example):
    """The graph traced from another example, or None when the code fails on it (then it is
    no evidence either way). The retrace's own warnings are not the user's (its inputs are
    not theirs), and the random numbers it draws come back to the generator."""
    rng = get_rng_state()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return retrace(example)
        except Exception:  # noqa: BLE001 - whatever the code raises on this example
            return None
        finally:
            set_rng_state(rng)


class SizeFamily:
    """Example sizes that may vary together: dims `dims` of the first input tensor `first`,
    of sizes `base` in the example (the batch first), then the sizes `extra` (lengths of
    later inputs that the first has no dim of: a decoder's target beside its source). With
    `state_at_dim1`, a later 3-D input whose dims 0 and 1 are both of the batch's size holds
    the batch at dim 1 only (an RNN's (layers, batch, hidden) state traced with as many
    layers as batch rows)."""

    def __init__(self, first, dims: tuple, state_at_dim1: bool = False, extra: tuple = ()):
        self.first = first
        self.dims = dims
        self.base = tuple(first.shape[d] for d in dims) + extra
        self.state_at_dim1 = state_at_dim1

    def member(self, t, d: int, n: int):
        """Which of the family's sizes dim d (of size n) of tensor t is, or None: in the first
        tensor its own dims, and a later dim of another member's size (a sequence's (T, T)
        scores); in the others, dim 0 when it is of the batch's size, else dim 1 (an RNN's
        initial state is (layers, batch, hidden)), both dims of a square matrix of that size
        (a sequence-first model's (T, T) attention mask), and any dim of another member's size
        (dim 0 too: an attention mask is (T, T))."""
        if t is self.first and d in self.dims:
            return self.dims.index(d)
        if self.state_at_dim1 and _state_like(t, self.first) and d < 2:
            return None if d == 0 else next(
                (k for k, size in enumerate(self.base) if size == n), None)
        if t is not self.first and n == self.base[0] and (
                d == 0 or d == 1 and (t.shape[0] != n or t.dim() == 2)):
            return 0
        if t is self.first and d < max(self.dims):
            return None
        return next((k for k in range(1, len(self.base)) if self.base[k] == n), None)

    def resized(self, t, sizes: tuple):
        """A copy of tensor t with the family's dims changed from `base` to `sizes`. Entries
        are repeated in turn, so values stay the example's (token ids stay valid)."""
        return _stepped(t, {d: sizes[k] for d, n in enumerate(t.shape)
                            if (k := self.member(t, d, n)) is not None and sizes[k] != n})

    def rest(self, t, grow):
        """A copy of tensor t with every dim n outside the family grow(n) long."""
        return _stepped(t, {d: grow(n) for d, n in enumerate(t.shape)
                            if self.member(t, d, n) is None})


def _stepped(t, sizes: dict):
    """t with dim d resized to sizes[d], its entries repeated in turn."""
    out = t.detach().clone()
    for d, size in sizes.items():
        index = Tensor._wrap_array(np.arange(size, dtype=np.int64) % max(t.shape[d], 1))
        out = out.index_select(d, index.to(t.device))
    return out


def _moduli(base: tuple, graph) -> list[int]:
    """The total strides tried in turn when a family's sizes follow no expression at every
    size: the graph's own (symbolic.total_stride) first, then 2, 4, ... 128, each while the
    example's sizes after the batch are at least twice as large (see generalized)."""
    smallest = min(base[1:], default=0)
    first = total_stride(graph)
    return [q for q in dict.fromkeys((first, 2, 4, 8, 16, 32, 64, 128))
            if 1 < q and 2 * q <= smallest]


def _modulus_steps(base: tuple, q: int) -> tuple:
    """Steps for a family generalized with modulus q: the batch up by 1, the size at
    position k by k * q, down when two such steps keep it at least 2 * q (smaller builds
    trace faster), else up."""
    return (1,) + tuple(-k * q if n - 2 * k * q >= 2 * q else k * q
                        for k, n in enumerate(base[1:], 1))


def size_families(tensors) -> list[SizeFamily]:
    """The dims of the first input tensor whose sizes may vary together, most general first:
    all of them; all but dim 1 (an image's channels: N, H, W); (batch, sequence) as dims 0 and
    1; the batch alone; each first with the lengths of later inputs (`_other_lengths`)."""
    first = next((t for t in tensors if t.dim() > 0), None)
    if first is None:
        return []
    n = first.dim()
    families = []
    for dims in (tuple(range(n)), (0,) + tuple(range(2, n)), (0, 1)[:n], (0,)):
        if dims not in families:
            families.append(dims)
    variants = (False, True) if any(_state_like(t, first) for t in tensors) else (False,)
    lengths = _other_lengths(tensors, first)
    extras = (lengths, ()) if lengths else ((),)
    return [SizeFamily(first, d, v, e) for d in families for e in extras for v in variants]


def _other_lengths(tensors, first) -> tuple:
    """The lengths of later inputs batched as the first (dim 1 when dim 0 is first's, dim 0
    when dim 1 is: batch-first or not) that are no size of the first's dims: another
    sequence's length (a decoder's target, its padding mask), which may vary on its own."""
    found = set()
    for t in tensors:
        if t is first or t.dim() < 2:
            continue
        if t.shape[0] == first.shape[0]:
            found.add(t.shape[1])
        elif first.dim() >= 2 and t.shape[1] == first.shape[1]:
            found.add(t.shape[0])
    return tuple(sorted(n for n in found if n > 1 and n not in first.shape))


def _state_like(t, first) -> bool:
    """Whether t, another input than `first`, is 3-D with dims 0 and 1 of one size that is
    first's dim 0 or 1 (the batch, batch-first or not): which of them follows it only a build
    can tell."""
    return t is not first and t.dim() == 3 and t.shape[0] == t.shape[1] and \
        t.shape[0] in first.shape[:2]


def sized_graph(graph, tensors, rebuild):
    """The graph to keep for `graph`, built from inputs that include `tensors`: itself when
    builds with a size family's dims changed and with every other dim changed bake in no
    sizes (`bakes_sizes`, `_rest_is_free`), else the graph that computes them from each
    call's sizes over the widest family that fits (`generalized`; the other dims fixed), else
    itself with the family's dims as `free_dims` when its builds there are the same graph,
    else one generalized over the family's stride lattice (`_moduli`), else itself marked
    `fixed_sizes` (it then refuses other shapes), also when no build at other sizes ran.
    `rebuild(resize)` builds the graph again from the inputs with each tensor t replaced by
    resize(t)."""
    families = size_families(tensors)
    for family in families:
        base = family.base
        capture = _capturer(family, rebuild)
        for steps in _directions(base):
            other = capture(_sample(base, steps, 1))
            if other is None:
                continue  # no evidence: the code does not run at those sizes
            flips = [capture(sizes) for sizes in _other_parities(base, steps)]
            same = not bakes_sizes(graph, other) and \
                not any(bakes_sizes(graph, flip) for flip in flips) and \
                not any(bakes_sizes(graph, capture(sizes)) for sizes in _far_sizes(base, graph))
            if same and _rest_is_free(graph, tensors, family, rebuild):
                return graph  # the same graph at other sizes of every dim
            # the family's sizes are free, the others fixed, which a graph generalized over
            # the family says
            symbolic = generalized(graph, base, steps, capture)
            if symbolic is not None:
                return symbolic
            if same:
                # the same graph at the family's other sizes, whose values' sizes (a strided
                # convolution's) no expression follows: their ops compute them per call
                graph.free_dims = _differing_dims(graph, other)
                return graph
        # a network that downsamples computes sizes like (h + 1) // 2: floor divisions of
        # the input sizes, else exact multiples of a symbol at sizes a multiple of its total
        # stride apart (it may run only there)
        symbolic = floor_generalized(graph, base, capture)
        if symbolic is not None:
            return symbolic
        for modulus in _moduli(base, graph):
            symbolic = generalized(graph, base, _modulus_steps(base, modulus), capture, modulus)
            if symbolic is not None:
                return symbolic
    if families:
        # builds at other sizes that all failed prove nothing about the sizes they did not
        # try (a GRU's h0 holds the batch at dim 1): the graph serves its own sizes only
        graph.fixed_sizes = True
    return graph


def _differing_dims(graph, other) -> tuple:
    """The (input position, dim) pairs whose sizes differ between two builds of a graph."""
    return tuple((k, d) for k, (u, v) in enumerate(zip(graph.inputs, other.inputs))
                 for d, (n, m) in enumerate(zip(u.type.shape, v.type.shape)) if n != m)


def _rest_is_free(graph, tensors, family: SizeFamily, rebuild) -> bool:
    """Whether the graph built with every input dim n outside the family n + 1 and n + 2q + 1
    long (q its total stride) is the same graph: then no size is baked in (a pooling's
    output size, say), and it may run at any shape. One step alone cannot show it: a
    pooling by 2 gives the same size at n = 2 and 3. A build that fails is no proof (a
    channel count that must match a weight)."""
    if not any(family.member(t, d, n) is None for t in tensors for d, n in enumerate(t.shape)):
        return True
    far = 2 * total_stride(graph) + 1
    for grow in (lambda n: n + 1, lambda n: n + far):
        other = _retraced(lambda _, grow=grow: rebuild(lambda t: family.rest(t, grow)), None)
        if other is None or bakes_sizes(graph, other):
            return False
    return True


def _capturer(family: SizeFamily, rebuild):
    """capture(sizes): the graph rebuilt with a size family's sizes changed from its base to
    `sizes` (None when the code fails there), each built once."""
    made: dict = {}

    def capture(sizes: tuple):
        if sizes not in made:
            made[sizes] = _retraced(
                lambda s: rebuild(lambda t: family.resized(t, s)), sizes)
        return made[sizes]
    capture.made = made
    return capture


def _directions(base: tuple) -> list[tuple]:
    """How a family's sizes step between builds, each by another amount (so that each gets
    a symbol of its own): the batch up by 1; a sequence up by 2 or, when the code cannot run
    longer (a full position table), down by 2; spatial sizes up by 2, 4, ..."""
    if len(base) == 1:
        return [(1,)]
    if len(base) > 2:
        return [(1,) + tuple(2 * k for k in range(1, len(base)))]
    down = [(1, -2)] if base[1] - 4 >= 2 else []
    return [(1, 2)] + down


def _far_sizes(base: tuple, graph) -> list[tuple]:
    """Builds away from the example's sizes, below (where at least 2) and past the stride:
    sizes computed by chains of floor and ceil divisions stay the same over up to the
    graph's total stride q of steps (pooling 3, 4 and 5 twice in ceil mode gives 2 each
    time) and change further off, at n + 2q + 1."""
    far = 2 * total_stride(graph) + 1
    below = tuple(max(n - 1, 2) for n in base)
    return [sizes for sizes in (below, tuple(n + far for n in base)) if sizes != base]


def _other_parities(base: tuple, steps: tuple) -> list[tuple]:
    """Builds that change a size stepped by 2 by 1 instead (`if t % 2:` in the code)."""
    start, out = _sample(base, steps, 0), []
    for k, step in enumerate(steps):
        if abs(step) > 1:
            out.append(start[:k] + (start[k] + (1 if step > 0 else -1),) + start[k + 1:])
    return out


def _sample(base: tuple, steps: tuple, j: int) -> tuple:
    """The sizes of build j (0 or 1) of a family: every size at least 2, stepped j times."""
    return tuple(max(n, 2) + j * k for n, k in zip(base, steps))


def bakes_sizes(graph, other) -> bool:
    """Whether `graph` keeps sizes computed from its inputs' shapes (x.view(x.shape[0], -1)):
    `other`, the graph built again at other batch (or sequence) sizes, has other ops,
    literals, constant shapes or constant values (a scripted `return x.shape`), or returns
    other text (a scripted f"{x.shape}"). No rebuild (the code fails there) is no evidence."""
    return other is not None and (_structure(graph) != _structure(other) or
                                  graph.output_spec != other.output_spec or
                                  _constant_shapes(graph) != _constant_shapes(other) or
                                  _differing_constant(graph, other) is not None)


def generalized(graph, base: tuple, steps: tuple, capture, modulus: int = 1):
    """`graph`, built at the sizes `base` of a size family (size_families), with the sizes
    it computed from them as size expressions (symbolic.py), or None when builds at other
    sizes follow none. `capture(sizes)` builds it again at those sizes (None when it cannot).
    Two builds with every size at least 2 give the expressions (the family's sizes step by
    `steps`, each by another amount, so each gets a symbol of its own); builds that step one
    size further each check them (the first two move every size together, which cannot tell
    5 * batch - 5 from 5 * channels / 2), at both parities; a build with one size at 1
    decides whether the graph serves that size at 1 too (graph.min_sizes); builds one step
    below the first and at the smallest size served (symbol 2) must follow the expressions
    too. Python code that branches on a size in other ways (a threshold) is seen only where
    a build falls on its other side: as in torch, such a branch is otherwise fixed at the
    traced sizes. With a `modulus` q > 1 (`steps` then multiples of q after
    the batch, _modulus_steps), each size after the batch is q * symbol + (its size mod q)
    (see Symbols): the graph serves those sizes only, a strided network's sizes being exact
    there."""
    unit = (1,) + (modulus,) * (len(base) - 1)  # one step of each size's symbol
    at = [_sample(base, steps, j) for j in range(2)]
    first = graph if at[0] == base else capture(at[0])
    second = capture(at[1])
    if first is None or second is None:
        return None
    try:
        symbols = Symbols(_input_shapes(first), _input_shapes(second), modulus)
        symbolic = generalize(first, second, symbols)
    except NotGeneral:
        return None
    if not symbolic.symbols:
        return None
    for k, step in enumerate(steps):
        # one further step of this size alone, and one of the other parity of its symbol (a
        # sequence steps by 2, and `if t % 2:` in the code must not pass unseen)
        for further in {step, unit[k] if step > 0 else -unit[k]}:
            check = capture(at[1][:k] + (at[1][k] + further,) + at[1][k + 1:])
            sizes = None if check is None else symbols.sizes_of(_input_shapes(check))
            if sizes is None or conforms(symbolic, check, sizes) is not None:
                return None
    for k, u in enumerate(unit):
        # the sizes one symbol step below the first build's and the smallest served (symbol
        # 2): a threshold under the example's size (max(w - 1, 1)) shows there
        for size in {at[0][k] - u, 2 * u + at[0][k] % u}:
            if size < 2 * u:
                continue
            check = capture(at[0][:k] + (size,) + at[0][k + 1:])
            sizes = None if check is None else symbols.sizes_of(_input_shapes(check))
            if check is not None and (sizes is None or
                                      conforms(symbolic, check, sizes) is not None):
                return None
    for k in range(len(base)):
        # the size whose symbol is 1 (the size 1 itself when the symbol is the size)
        at_one = at[0][:k] + (unit[k] + at[0][k] % unit[k],) + at[0][k + 1:]
        one = graph if at_one == base else capture(at_one)
        sizes = None if one is None else symbols.sizes_of(_input_shapes(one), smallest=1)
        serves_one = sizes is not None and conforms(symbolic, one, sizes) is None
        if base[k] < 2 * unit[k] and not (base[k] == at_one[k] and serves_one):
            return None  # it would refuse the example's own sizes
        if serves_one:
            symbolic.min_sizes.update({s: 1 for s, pair in symbols.samples.items()
                                       if pair == ((at[0][k] - at[0][k] % unit[k]) // unit[k],
                                                   (at[1][k] - at[0][k] % unit[k]) // unit[k])})
    return symbolic


def floor_generalized(graph, base: tuple, capture):
    """`graph` with the sizes a strided network computes as floor divisions of the family's
    sizes (symbolic.generalize_floors), or None when they follow none. Builds at small sizes
    (a batch of 2, each later size at most twice the total stride q): one, then q with every
    size after the batch one larger each time, one per size stepped alone (by q + 1; the batch
    by 1) to tell which sizes an int follows, one with each stepped by another amount to
    name the symbols; builds at odd sizes further off and at the example's sizes must give
    the same graph at their sizes, and one with a size at 1 decides whether it serves 1."""
    q, n = total_stride(graph), len(base)
    if q < 2 or n < 2:
        return None
    start = (2,) + tuple(max(min(size, 2 * q), 2) for size in base[1:])
    steps = [(0,) * n] + [(0,) + (j,) * (n - 1) for j in range(1, q + 1)] + \
        [tuple((1 if k == 0 else q + 1) * (k == i) for k in range(n)) for i in range(n)] + \
        [(1,) + tuple(k * q for k in range(1, n))]
    builds = []
    for step in steps:
        sizes = tuple(size + k for size, k in zip(start, step))
        builds.append(graph if sizes == base else capture(sizes))
        if builds[-1] is None:
            return None  # the code does not run there (the channels changed, say)
    try:
        symbols = Symbols(_input_shapes(builds[0]), _input_shapes(builds[-1]))
        samples = [(symbols.sizes_of(_input_shapes(g)), g) for g in builds]
        if any(sizes is None for sizes, _ in samples):
            return None
        symbolic = generalize_floors(builds[0], samples, list(range(1, q + 1)))
    except NotGeneral:
        return None
    for k in range(n):
        one = capture(start[:k] + (1,) + start[k + 1:])
        sizes = None if one is None else symbols.sizes_of(_input_shapes(one), smallest=1)
        if sizes is not None and conforms(symbolic, one, sizes) is None:
            symbolic.min_sizes.update({s: 1 for s, size in sizes.items() if size == 1})
    far = (3,) + tuple(size + 2 * q + k for k, size in enumerate(start[1:], 1))
    odd = start[:1] + (start[1] + 1,) + tuple(size + q + 3 for size in start[2:])
    for check in (capture(far), capture(odd), graph):
        sizes = None if check is None else symbols.sizes_of(_input_shapes(check), smallest=1)
        if sizes is None or any(size < symbolic.min_sizes.get(s, 2)
                                for s, size in sizes.items()) or \
                conforms(symbolic, check, sizes) is not None:
            return None
    return symbolic if symbolic.symbols else None


def _input_shapes(graph) -> list:
    return [tuple(v.type.shape) for v in graph.inputs]


def _check_sizes(script_call, example, retrace) -> None:
    """Keep the graph `sized_graph` gives: one that computes sizes from each call's batch
    size and sequence length, or the traced one refusing other shapes (with a warning) when
    no expression of them explains the sizes it baked in."""
    method = script_call if isinstance(script_call, _Method) else script_call._methods["forward"]
    mine = method.graph
    flat, _ = flatten(as_tuple(example), "input")
    kept = sized_graph(mine, flat, lambda resize: retrace(_copied(example, resize)))
    if kept is not mine:
        method.adopt(kept)
    elif mine.fixed_sizes:
        warnings.warn("The traced code computes sizes from its inputs' shapes (for example "
                      "x.view(x.shape[0], -1)) in a way no expression of the batch size or "
                      "sequence length explains, so the graph keeps them as constants: it "
                      "runs only on inputs of the traced shapes "
                      f"{[list(v.type.shape) for v in mine.inputs]}. Trace it at the shape "
                      "you need, or script it.", TracerWarning,
                      stacklevel=caller_stacklevel())


def _constant_shapes(graph) -> list:
    return [(name, tuple(v.type.shape)) for name, v in graph.constants.items()
            if graph.constant_kind[name] == "constant"]


def _differing_constant(graph, other) -> str | None:
    """The first tensor the traced code built (an anonymous constant) whose values differ
    between two traces of the same structure, by name and shape, or None. Constants the
    graph writes into (or into a copy of) are left out: the trace snapshots them after an
    in-place write that each call redoes."""
    info = AliasInfo(graph)
    written = {a.id for n in graph.nodes if n.op == "clone" and n.args
               and info.root(n.outputs[0].id) in info.mutated for a in n.inputs()}
    for name, v in graph.constants.items():
        if graph.constant_kind[name] != "constant" or name not in other.constants or \
                v.id in written or info.root(v.id) in info.mutated:
            continue
        mine, theirs = graph.constant_data[name]._data, other.constant_data[name]._data
        if mine.shape != theirs.shape or mine.dtype != theirs.dtype or not np.array_equal(
                to_numpy(mine), to_numpy(theirs), equal_nan=mine.dtype.kind in "fc"):
            return f"{name} {list(v.type.shape)}"
    return None


def _compare_graphs(script_call, other) -> None:
    mine = script_call.graph
    a, b = _structure(mine), _structure(other)
    if a == b:
        baked = _differing_constant(mine, other)
        if baked is None:
            return
        raise TracingCheckError(
            f"The constant {baked} holds other values when the inputs' values change.\n",
            _VALUE_DEPENDENT)
    k = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    ours = mine.format_node(mine.nodes[k]) if k < len(mine.nodes) else "(end of graph)"
    theirs = other.format_node(other.nodes[k]) if k < len(other.nodes) else "(end of graph)"
    raise TracingCheckError(
        f"First difference, node {k}:\n  example inputs:   {ours}\n"
        f"  perturbed inputs: {theirs}\n", "Graphs differed across invocations! " +
        _VALUE_DEPENDENT)


_VALUE_DEPENDENT = (
    "The traced code takes another path or bakes in other values when the input values "
    "change (Python control flow on tensor values; .item(), bool(), int(), .tolist(), "
    ".numpy(); pack_padded_sequence reads its lengths so), so the graph is only right for "
    "the example inputs. Compute with tensor ops (e.g. ember.where), script that code, or "
    "pass check_trace=False to keep the example's values.\n")


def _compare_outputs(fn, script_call, example, tol, what) -> None:
    """Raise TracingCheckError unless the traced call gives fn's outputs on `example` (a
    graph that refuses the example's shapes fails the check too)."""
    with no_grad():
        expected = fn(*as_tuple(_clone(example)))
        try:
            got = script_call(*as_tuple(_clone(example)))
        except RuntimeError as e:
            raise TracingCheckError("", f"The traced function cannot run on {what}, which the "
                                        f"original function runs on: {e}\n") from None
    e_flat, e_spec = flatten(expected, "output", strict=False)
    g_flat, g_spec = flatten(got, "output", strict=False)
    if e_spec != g_spec:
        raise TracingCheckError("", f"The traced function returns a different structure than "
                                    f"the original on {what}.\n")
    for k, (e, g) in enumerate(zip(e_flat, g_flat)):
        problem = _mismatch(e, g, tol)
        if problem:
            raise TracingCheckError(
                "", f"Output {k} of the traced function does not match the original function "
                    f"on {what}: {problem}. The trace may depend on input values or on "
                    "nondeterministic operations.\n")


def _mismatch(e: Tensor, g: Tensor, tol: float) -> str:
    if e.shape != g.shape or e.dtype != g.dtype:
        return (f"expected {e.dtype} of shape {list(e.shape)}, got {g.dtype} of shape "
                f"{list(g.shape)}")
    a = np.asarray(e.numpy(force=True))
    b = np.asarray(g.numpy(force=True))
    if e.is_floating_point() or e.is_complex():
        wide = np.complex128 if e.is_complex() else np.float64
        a, b = a.astype(wide), b.astype(wide)
        eps = float(np.finfo(e.dtype.np if e.dtype.np.kind in "fc" else np.float32).eps)
        atol = rtol = max(tol, 16 * eps)
        close = np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
        if close.all():
            return ""
        diff = np.abs(a - b)
        diff[np.isnan(diff)] = np.inf
        return (f"{int((~close).sum())} of {close.size} elements differ (largest difference "
                f"{float(diff.max()):.3g}, tolerance {atol:.1g})")
    if np.array_equal(a, b):
        return ""
    return f"{int((a != b).sum())} of {a.size} elements differ"


# ---- freeze ----------------------------------------------------------------------------------
def freeze(mod: ScriptModule, preserved_attrs=None,
           optimize_numerics: bool = True) -> ScriptModule:
    """A copy of a traced module in eval mode whose parameters and buffers are constants of
    its graph, with everything computable from them folded (e.g. transposed weights).

    Args:
        mod: a ScriptModule in eval mode.
        preserved_attrs: names of parameters/buffers (or submodules) that stay as such;
            buffers the graph writes into always stay.
        optimize_numerics: fold eval-mode BatchNorm into the convolution or linear layer
            before it (results change within float rounding), as torch does.

    The frozen module holds a snapshot of the weights, has no other parameters and runs the
    compiled path even in grad mode.
    """
    if not isinstance(mod, ScriptModule):
        raise RuntimeError("Freezing expects a ScriptModule: trace the module with "
                           "ember.jit.trace first")
    if mod.training:
        raise RuntimeError("Freezing is only implemented for modules in eval mode; call "
                           ".eval() on the module before freezing")
    preserved = tuple(preserved_attrs or ())
    tensors = {}
    for name, t in mod.state_dict(keep_vars=True).items():
        tensors[name] = t
    for name, t in mod.named_buffers():
        tensors.setdefault(name, t)
    layout = mod.layout()
    if hasattr(mod, "_script_methods"):
        frozen = _freeze_scripted(mod, layout, tensors, preserved, optimize_numerics)
    else:
        graphs, kept = {}, set()
        for name, method in mod._methods.items():
            graphs[name], names = _frozen_graph(method.graph, tensors, preserved,
                                                optimize_numerics)
            kept.update(names)
        keep = {n for n in tensors if n in kept or _under(n, preserved)}
        layout["parameters"] = [e for e in layout["parameters"] if e["name"] in keep]
        layout["buffers"] = [e for e in layout["buffers"] if e["name"] in keep]
        frozen = ScriptModule._build(layout, tensors, graphs)
    object.__setattr__(frozen, "_frozen", True)
    return frozen


def _under(name: str, prefixes) -> bool:
    """Whether `name` is one of `prefixes` or inside a submodule they name."""
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _frozen_graph(graph, tensors: dict, preserved, optimize_numerics: bool):
    """A frozen copy of a method's graph, and the names it keeps as parameters/buffers."""
    graph = graph.copy()
    kept = freeze_constants(graph, tensors, preserved)
    optimize(graph, fuse=False)
    if optimize_numerics and fold_batch_norm(graph):
        optimize(graph, fuse=False)
    prepack_weights(graph)
    return graph, kept


def _freeze_scripted(mod, layout: dict, tensors: dict, preserved, optimize_numerics: bool):
    """A scripted module frozen as torch freezes one: its graphs, built per call signature
    (those built so far now, the others on first use), freeze the weights as they are now.
    It keeps every buffer (a graph built later may write into one) and drops parameters."""
    snapshot = {n: Tensor._wrap(t._data.copy(), t._dtype, t._device) for n, t in tensors.items()}
    layout["parameters"] = [e for e in layout["parameters"] if _under(e["name"], preserved)]
    held = {e["name"] for e in layout["parameters"] + layout["buffers"]}

    def frozen(graph):
        graph, kept = _frozen_graph(graph, snapshot, preserved, optimize_numerics)
        lost = sorted(set(kept) - held)
        if lost:
            raise RuntimeError(f"ember.jit.freeze: the scripted graph writes into parameter "
                               f"{lost[0]!r} in place; keep it with preserved_attrs")
        return graph
    return mod._rebuilt(layout, tensors, frozen)


def optimize_for_inference(mod: ScriptModule, other_methods=None) -> ScriptModule:
    """A traced module made fast for inference, as torch.jit.optimize_for_inference does:
    frozen (after `.eval()`) unless it already is, eval-mode BatchNorm folded into the
    convolution or linear layer before it, and its methods compiled now (pointwise chains
    fused, buffers reused by the memory plan), so the first call runs no compilation.

    Args:
        mod: a ScriptModule (from ember.jit.trace).
        other_methods: names of traced methods besides forward to compile as well.

    >>> import ember
    >>> net = ember.nn.Sequential(ember.nn.Linear(3, 4), ember.nn.BatchNorm1d(4)).eval()
    >>> fast = ember.jit.optimize_for_inference(ember.jit.trace(net, ember.randn(2, 3)))
    >>> [n.op for n in fast.graph.nodes]
    ['matmul', 'add']
    """
    if not isinstance(mod, ScriptModule):
        raise RuntimeError("optimize_for_inference expects a ScriptModule as input. Please use "
                           "ember.jit.script or ember.jit.trace to script your 'nn.Module'.")
    methods = ["forward"] + [m for m in other_methods or () if m != "forward"]
    missing = [m for m in methods if m not in getattr(mod, "_script_methods", mod._methods)]
    if missing:
        raise AttributeError(f"optimize_for_inference: the module has no traced method "
                             f"{missing[0]!r} (traced: {sorted(mod._methods)})")
    if not getattr(mod, "_frozen", False):
        mod = freeze(mod.eval(), preserved_attrs=other_methods)
    else:
        for name in methods:
            if name not in mod._methods:  # a scripted one not built yet
                continue
            graph = mod._methods[name].graph.copy()
            if fold_batch_norm(graph):
                mod._methods[name] = _Method(optimize(graph, fuse=False), name, mod)
    for name in methods:
        method = mod._methods.get(name)  # a scripted one is built on its first call
        if method is not None and not method.control:
            method.compiled()
    return mod
