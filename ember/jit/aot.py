"""Ahead-of-time autograd for ember.compile: one call of a function is captured with its
backward into a joint graph, split into a forward and a backward graph, and both are compiled.

Capture runs the function once for real with the tracer's recorder on `apply`, then runs the
backward formulas (ember ops) for a placeholder output gradient under the same recorder, so
the gradient computation is ops in the graph too. Arrays an op's forward kept in `ctx` for its
backward become extra outputs of its node (ir.Saves). The forward graph returns the outputs
and every forward value the backward graph reads; a private OpDef runs the compiled forward
in `apply`, and its graph node runs the compiled backward.
"""
from __future__ import annotations

import builtins
import sys

import numpy as np

from .. import _dtype as D
from .._backend import namespace
from .._backend.host_memory import retain_freed_memory
from .._device import to_device
from .._ops.dispatch import apply
from .._ops.registry import OpDef
from .._tensor import Tensor
from ..autograd.grad_mode import GradState
from ..autograd.graph import FREED, SavedHooks
from .codegen import compile_graph
from .ir import Graph, Node, Saves, TensorType
from .passes import optimize
from .passes.analysis import AliasInfo
from .passes.dce import eliminate_dead_code
from .tracer import (Refusing, _protect_constants, _Recorder, _Tracing, flatten,
                     input_names)

_PACKAGE = __name__.rsplit(".", 2)[0].replace(".", "/")


class GraphBreak(Exception):
    """Something in the function cannot be captured into a graph: `reason`, at `where` (the
    user's source line, "file:line: text")."""

    def __init__(self, reason: str, where: str = ""):
        self.reason = reason
        self.where = where
        super().__init__(f"{reason} (at {where})" if where else reason)


class Unsupported(GraphBreak, RuntimeError):
    """A graph break under fullgraph=True, raised to the caller: a RuntimeError, as torch's
    torch._dynamo.exc.Unsupported, so `except RuntimeError` catches it."""


def user_location(frame=None) -> str:
    """'file:line: source' of the innermost frame outside ember (the user's code), followed by
    the innermost library frame outside the tracer when the call came from inside ember.
    Frames are walked outwards from `frame` (default: the caller's)."""
    import linecache
    frame = frame or sys._getframe(1)
    inner = None
    while frame is not None and f"/{_PACKAGE}/" in frame.f_code.co_filename.replace("\\", "/"):
        name = frame.f_code.co_filename.replace("\\", "/")
        if inner is None and not any(f"/{_PACKAGE}/{part}" in name for part in _MACHINERY):
            inner = frame
        frame = frame.f_back

    def describe(f):
        code = f.f_code
        text = linecache.getline(code.co_filename, f.f_lineno).strip()
        return f"{code.co_filename}:{f.f_lineno}: {text}"
    where = describe(frame) if frame is not None else ""
    if inner is not None:
        where += f" (inside ember: {describe(inner)})"
    return where


# frames of the capture machinery itself, never the place a break comes from
_MACHINERY = ("jit/", "_ops/", "_tensor.py", "nn/modules/module.py", "compiler.py")


class _CaptureRecorder(_Recorder):
    """The tracer's recorder with ember.compile's rules: converting a traced tensor to a
    Python value or drawing random numbers outside an op breaks the graph; tensors that are
    no input but need gradients (closure-captured weights) or existed before the capture
    (`foreign`: globals, module attributes; the graph reads them live) become inputs, while
    other tensors built outside ops are constants; each op's autograd
    node is remembered so its saved arrays can join the graph. Factories are recorded as
    ops (OpDef.creates), so dynamic graphs rebuild their tensors at each call's sizes."""

    def __init__(self, graph: Graph, foreign: dict | None = None):
        super().__init__(graph, {})
        self.lifted: list[Tensor] = []
        self.grad_nodes: list = []
        self.foreign = {} if foreign is None else foreign

    def conversion(self, what: str, t) -> None:
        raise GraphBreak(f"a traced tensor is converted to {what} (data-dependent Python "
                         "control flow or a Python number); compute both branches and select "
                         "with ember.where, or keep the value a tensor", user_location())

    def _new_value_for(self, t: Tensor):
        lifts = t._requires_grad or self.foreign.get(id(t)) is t
        if lifts and self.by_array.get(id(t._data)) is None:
            v = self.graph.add_input(TensorType.of(t), f"lifted_{len(self.lifted)}")
            self.lifted.append(t)
            self.bind(t, v)
            self.dynamic.add(v.id)
            return v
        return super()._new_value_for(t)

    def custom_backward_lost(self, function: type) -> None:
        """Nothing to warn about: the capture runs a custom Function's backward under the
        recorder too, so the compiled backward holds its ops (jit.trace's graph would not)."""

    def drawn_outside_ops(self) -> None:
        raise GraphBreak("random numbers were drawn outside a graph op (e.g. ember.randint "
                         "or a Generator inside the compiled code: pass the noise in as an "
                         "argument)", user_location())

    def __call__(self, op, args, attrs, outputs) -> None:
        if SavedHooks.stack and GradState.enabled:
            raise GraphBreak("saved_tensors_hooks are entered inside the compiled code "
                             "(activation checkpointing, save_on_cpu): they must see each "
                             "value backward keeps, and a compiled backward keeps its own",
                             user_location())
        super().__call__(op, args, attrs, outputs)
        sized = op.sized_by_values
        by = [a for a in args if isinstance(a, Tensor)] if sized is True else \
            sized(args, attrs) if sized else []
        if any(self._traced(a) for a in by):
            raise GraphBreak(f"{op.name}'s result is sized by the values of its input (a "
                             "data-dependent shape), which a graph cannot hold fixed",
                             user_location())
        gf = outputs[0]._grad_fn if outputs else None
        if gf is not None and getattr(gf, "opdef", None) is op and self.graph.nodes:
            self.grad_nodes.append((self.graph.nodes[-1], gf, outputs[0]))

    def _traced(self, obj) -> bool:
        """Whether a tensor or array holds a value that follows the graph's inputs."""
        if isinstance(obj, Tensor):
            return self.is_dynamic(obj)
        entry = self.by_array.get(id(obj))
        return entry is not None and entry[0] is obj and entry[1].id in self.dynamic

    def adopt_saved_arrays(self) -> None:
        """Make each array an op's forward kept in ctx (not an input or output) an extra
        output of its node, so backward formulas reading it read a graph value. In-place
        nodes that record gradients are first made out of place (`_out_of_place`)."""
        for node, gf, result in self.grad_nodes:
            if node.inplace:
                node = self._out_of_place(node, result)
            items = []
            found = [(("saved", k), entry[1]) for k, entry in enumerate(gf._saved or ())
                     if entry[0] is None and entry[2] < 0 and entry[1] is not None]
            for k, a in vars(gf.ctx).items():
                if _is_array(a):
                    found.append((("attr", k), a))
                elif type(a) is tuple and not k.startswith("_") and not node.inplace:
                    # an index key: its arrays
                    found += [(("attr_item", (k, i)), x) for i, x in enumerate(a)
                              if _is_array(x)]
            for key, arr in found:
                entry = self.by_array.get(id(arr))
                if entry is not None and entry[0] is arr:
                    continue
                dtype = D.from_numpy_dtype(arr.dtype)
                device = node.outputs[0].type.device
                v = self.graph.new_value(TensorType(dtype, tuple(arr.shape), device), node,
                                         len(node.outputs))
                node.outputs.append(v)
                items.append(key)
                self.by_array[id(arr)] = (arr, v)
            if items:
                node.saves = Saves(tuple(gf.ctx.needs_input_grad), items)

    def _out_of_place(self, node, result: Tensor):
        """Rewrite `%t = op_(%x, ...)`, an in-place call that recorded gradients, as eager
        autograd ran it: `%c = clone(%x)`, `%r = op(%c, ...)`, `%t = copy_(%x, %r)`; return
        the op's node. The backward then reads %r (the result eager saved), which later
        in-place writes into %x's memory leave alone, and the op's saved arrays can be
        extra outputs of its node (an in-place node has one); the clone keeps the value
        before the write, which eager saves a copy of (mul_ by a tensor, pow_)."""
        graph = self.graph
        target, written = node.args[0], node.outputs[0]
        at = graph.nodes.index(node)
        clone = graph.create_node("clone", [target], {"layout": "preserve"}, [target.type])
        value = graph.new_value(TensorType.of(result), node, 0)
        copy = Node("copy", [target, value], {}, inplace=True)
        copy.outputs = [written]
        written.node, written.index = copy, 0
        node.args[0], node.outputs[0], node.inplace = clone.outputs[0], value, False
        graph.nodes[at:at + 1] = [clone, node, copy]
        self.bind(result, value)
        return node


def _shared(saved: tuple, arrays: tuple) -> list:
    """The arrays among `arrays` (a compiled forward's outputs and inputs) whose memory a
    saved array shares: the compiled node saves them as an op saves its inputs and outputs, so
    that an in-place write into one before backward raises as in eager instead of changing
    what the compiled backward reads."""
    def root(a):
        while getattr(a, "base", None) is not None:
            a = a.base
        return id(a)
    kept = {root(a) for a in saved}
    return [a for a in arrays if root(a) in kept]


def _may_share_saved(graph: Graph, n_outputs: int) -> tuple[list, list]:
    """For a compiled forward `graph` (its outputs: the call's n_outputs, then what backward
    reads): the positions among the saved arrays, and among the outputs then inputs, of the
    values whose memory may be shared across the two (AliasInfo's groups, counting any op
    not known to allocate): `_shared` checks only those on each call."""
    groups = AliasInfo(graph, unknown_fresh=True)
    saved = graph.outputs[n_outputs:]
    others = graph.outputs[:n_outputs] + graph.inputs
    saved_roots = {groups.root(v.id) for v in saved}
    other_roots = {groups.root(v.id) for v in others}
    return ([k for k, v in enumerate(saved) if groups.root(v.id) in other_roots],
            [k for k, v in enumerate(others) if groups.root(v.id) in saved_roots])


def _contiguous(t: Tensor):
    """The tensor's data as a C-contiguous array (itself when it already is one)."""
    a = t._data
    return a if a.flags.c_contiguous else namespace(t._device).ascontiguousarray(a)


def _is_array(a) -> bool:
    return (hasattr(a, "__array_interface__") and not isinstance(a, np.generic)
            or hasattr(a, "__cuda_array_interface__"))


_BACKWARD = ("backward() or autograd.grad() is called inside the compiled code, whose "
             "gradients land in .grad, an effect a graph cannot replay (ember.compile "
             "captures the backward of what a compiled call returns)")
_OPTIMIZER = ("an optimizer's step() is called inside the compiled code; it runs eagerly, "
              "since its fused kernels and step counts work on raw arrays a graph does not "
              "record (they already make one pass per parameter)")
_REQUIRES_GRAD = ("requires_grad_() is called inside the compiled code: which tensors record "
                  "gradients is fixed when a graph is captured, so a graph cannot replay the "
                  "change; set it before calling the compiled code")
_HOOK = ("{} is called inside the compiled code: Python run during backward is an effect a "
         "graph cannot replay")


def _unreplayable() -> Refusing:
    """While the captured function runs (in its thread), calls whose effects would leave the
    graph break it: backward() and autograd.grad() (gradients land in `.grad`), tensor hooks
    and retain_grad() (Python run, and `.grad` set, during backward), requires_grad_()
    (which tensors record is fixed at capture), optimizer steps (raw array updates) and
    print() (output a graph would not repeat). capture's own backward pass keeps the
    functions it imported before entering."""
    from .. import autograd
    from ..optim.optimizer import Optimizer
    return Refusing([(autograd, "backward", _BACKWARD), (autograd, "grad", _BACKWARD),
                     (Optimizer, "_run_step", _OPTIMIZER),
                     (Tensor, "requires_grad_", _REQUIRES_GRAD),
                     (Tensor, "register_hook", _HOOK.format("Tensor.register_hook()")),
                     (Tensor, "retain_grad", _HOOK.format("Tensor.retain_grad()")),
                     (builtins, "print", "print() inside the compiled code would run only "
                                         "when a graph is captured")],
                    lambda why: GraphBreak(why, user_location()))


class Joint:
    """A captured call: the joint graph and how its inputs and outputs line up.

    graph inputs: the flat call inputs, the state (parameters, buffers), lifted tensors, then
    one gradient seed per differentiable output; outputs: the flat call outputs, then one
    gradient per input that requires grad (`wrt`, positions among the inputs). `lifted` holds
    the lifted tensors; ember.compile then swaps in functions that fetch each at a call."""

    def __init__(self, graph, n_inputs, lifted, out_spec, n_outputs, diff, wrt, backward_from):
        self.graph = graph
        self.n_inputs = n_inputs
        self.lifted = lifted
        self.out_spec = out_spec
        self.n_outputs = n_outputs
        self.diff = diff
        self.wrt = wrt
        self.backward_from = backward_from


def capture(fn, args: tuple, state: list[tuple[str, Tensor]], signature_of=None,
            foreign: dict | None = None) -> Joint:
    """Run fn(*args) once, recording forward and (when gradients are enabled and needed)
    backward. `state` lists (name, tensor) for the parameters and buffers fn reads; `foreign`
    ({id: tensor}, may grow during the call) the other tensors it may read that existed
    before."""
    from ..autograd import grad as autograd_grad
    flat, spec = flatten(args, "input")
    graph = Graph()
    graph.input_spec = spec
    rec = _CaptureRecorder(graph, foreign)
    names = input_names(signature_of or fn, [len(flatten(a, "input")[0]) for a in args])
    for t, name in zip(flat + [t for _, t in state], names + [n for n, _ in state]):
        v = graph.add_input(TensorType.of(t), name)
        rec.bind(t, v)
        rec.dynamic.add(v.id)
    readers = flat + [t for _, t in state]
    history = [(t._grad_fn, t._requires_grad) for t in readers]
    with _Tracing(rec):
        with _unreplayable():
            out = fn(*args)
        rec.settle()
        rewritten = _history_changed(readers, history, names + [n for n, _ in state])
        if rewritten is not None:
            raise GraphBreak(f"an in-place op on {rewritten} recorded autograd history into "
                             "it, which the caller's tensor must then carry (its gradient "
                             "flows through the op): a graph cannot give it that history")
        flat_out, out_spec = flatten(out, "output", strict=False, python=True)
        outputs = [rec.value_of(t) for t in flat_out]
        backward_from = len(graph.nodes)
        sources = flat + [t for _, t in state] + rec.lifted
        diff = [i for i, t in enumerate(flat_out) if t._requires_grad]
        wrt = [i for i, t in enumerate(sources) if t._requires_grad]
        grads = []
        if GradState.enabled and diff and wrt:
            tied = _entangled([sources[j] for j in wrt])
            if tied:
                raise GraphBreak(tied)
            rec.adopt_saved_arrays()
            backward_from = len(graph.nodes)  # it may add nodes
            seeds = []
            for i in diff:
                t = flat_out[i]
                seed = Tensor._wrap(namespace(t._device).ones_like(t._data), t._dtype,
                                    t._device)
                v = graph.add_input(TensorType.of(t), f"grad_output_{i}")
                rec.bind(seed, v)
                rec.dynamic.add(v.id)
                seeds.append(seed)
            # retain_graph: this call's own outputs stay differentiable eagerly
            try:
                found = autograd_grad([flat_out[i] for i in diff], [sources[j] for j in wrt],
                                      seeds, retain_graph=True, allow_unused=True)
            except RuntimeError as e:  # eagerly, this is raised by .backward(), if ever
                raise GraphBreak(f"the backward cannot be captured: {e} (a reentrant "
                                 "checkpoint, or a custom Function's backward)") from None
            rec.settle()
            grads = [rec.value_of(g) if g is not None else None for g in found]
        else:
            diff, wrt = [], []
    graph.outputs = outputs + [g for g in grads if g is not None]
    graph.output_spec = out_spec
    wrt_present = [(j, g is not None) for j, g in zip(wrt, grads)] if grads else []
    first_backward = graph.nodes[backward_from] if backward_from < len(graph.nodes) else None
    _protect_constants(graph, rec.snapshots)
    if first_backward is not None:
        backward_from = graph.nodes.index(first_backward)
    else:
        backward_from = len(graph.nodes)
    joint = Joint(graph, len(flat), list(rec.lifted), out_spec, len(outputs), diff,
                  wrt_present, backward_from)
    joint.result = out
    return joint


def _history_changed(tensors: list, history: list, names: list) -> str | None:
    """The name of the first input or state tensor whose autograd history (grad_fn,
    requires_grad) is not `history`'s entry any more, or None."""
    for t, (grad_fn, requires_grad), name in zip(tensors, history, names):
        if t._grad_fn is not grad_fn or t._requires_grad != requires_grad:
            return name
    return None


def _entangled(sources: list) -> str | None:
    """Why the capture's gradients cannot be taken, or None: one differentiable input was
    computed from another (an input made from a parameter the code also uses, as a decoder
    tied to the embedding that feeds it). Gradients of the captured code alone would then
    also run back through that path, which the callers' own backward runs again."""
    ids = {id(t) for t in sources}
    starts = {id(t._grad_fn) for t in sources if t._grad_fn is not None}
    for t in sources:
        if t._grad_fn is None:
            continue
        seen: set = set()
        todo = [c for c, _ in t._grad_fn.next_functions if c is not None]
        while todo:
            node = todo.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            variable = getattr(node, "variable", None)
            if id(node) in starts or (variable is not None and id(variable) in ids):
                return ("an input of the compiled code was computed from another of its inputs "
                        "or parameters (tied weights?), whose gradients the captured graph "
                        "alone cannot separate")
            todo += [c for c, _ in node.next_functions if c is not None]
    return None


# ---- splitting ------------------------------------------------------------------------------
def _split(joint: Joint):
    """(forward graph, backward graph) from the joint graph."""
    g = joint.graph
    seeds = g.inputs[len(g.inputs) - len(joint.diff):] if joint.diff else []
    seed_ids = {v.id for v in seeds}
    backward_nodes = g.nodes[joint.backward_from:]
    bwd_ids = {v.id for n in backward_nodes for v in n.outputs}
    # what backward reads from forward (node outputs, inputs, state), in a fixed order
    saved, seen = [], set()

    def read(v):
        if v.id not in seen and v.id not in bwd_ids and v.id not in seed_ids and \
                g.constant_name(v) is None:
            seen.add(v.id)
            saved.append(v)
    for node in backward_nodes:
        for v in node.inputs():
            read(v)
    grads = g.outputs[joint.n_outputs:]
    for v in grads:
        read(v)

    fwd = g.copy()
    fwd.nodes = fwd.nodes[:joint.backward_from]
    fwd.inputs = fwd.inputs[:len(fwd.inputs) - len(seeds)]
    by_id = {v.id: v for n in fwd.nodes for v in n.outputs}
    by_id.update({v.id: v for v in fwd.inputs})
    fwd.outputs = fwd.outputs[:joint.n_outputs] + [by_id[v.id] for v in saved]
    fwd.output_spec = None
    eliminate_dead_code(fwd)

    bwd = g.copy()
    bwd.nodes = bwd.nodes[joint.backward_from:]
    old_inputs = bwd.inputs
    bwd.inputs = []
    mapping = {}
    for v in saved:
        mapping[v.id] = bwd.add_input(v.type, v.name)
    bwd.inputs += [v for v in old_inputs if v.id in seed_ids]
    bwd.replace_uses(mapping)
    bwd.outputs = bwd.outputs[joint.n_outputs:]
    bwd.input_spec = bwd.output_spec = None
    eliminate_dead_code(bwd)
    return fwd, bwd


# ---- running --------------------------------------------------------------------------------
def prepare(joint: Joint, dynamic: bool = False) -> tuple[Graph, Graph | None]:
    """The optimized forward graph of a capture and its backward graph (None when no input
    needs a gradient); joint.graph is left as it is. `dynamic` keeps factory ops (and what
    reads them) as ops rather than folding them into constants of this call's sizes."""
    if not joint.wrt:
        fwd = joint.graph.copy()
        eliminate_dead_code(fwd)
        return optimize(fwd, fold_factories=not dynamic), None
    fwd, bwd = _split(joint)
    return (optimize(fwd, fold_factories=not dynamic),
            optimize(bwd, fold_factories=not dynamic))


class CompiledCall:
    """A captured call compiled: `run(tensors)` returns the flat outputs, recording one
    autograd node (running the compiled backward) when gradients are needed. `graphs` are
    the prepared (forward, backward) graphs, possibly symbolic (see symbolic.py)."""

    def __init__(self, joint: Joint, graphs: tuple):
        retain_freed_memory()
        self.joint = joint
        self.n_outputs = joint.n_outputs
        self.out_meta = [(v.type.dtype, to_device(v.type.device))
                         for v in joint.graph.outputs[:joint.n_outputs]]
        self.forward_graph, self.backward_graph = graphs
        aliases = AliasInfo(self.forward_graph)
        # inputs the forward writes into: their versions move on, as eager in-place ops do
        self.written = [j for j, v in enumerate(self.forward_graph.inputs)
                        if aliases.is_mutated(v)]
        self.sharing = _may_share_saved(self.forward_graph, self.n_outputs)
        self.fwd = compile_graph(self.forward_graph, [], "compiled_forward").fn
        if self.backward_graph is not None:
            self.bwd = compile_graph(self.backward_graph, [], "compiled_backward",
                                     consumes_inputs=True).fn
            self.op = self._opdef()

    def _opdef(self):
        n_out, wrt = self.n_outputs, self.joint.wrt
        n_sources = len(self.joint.graph.inputs) - len(self.joint.diff)
        fwd, bwd = self.fwd, self.bwd
        grad_meta = [(self.joint.graph.inputs[j].type.dtype,
                      to_device(self.joint.graph.inputs[j].type.device))
                     for j, present in wrt if present]
        non_diff = tuple(i for i in range(n_out) if i not in set(self.joint.diff))
        diff = self.joint.diff
        saved_sharing, sharing = self.sharing

        def forward(ctx, xp, *arrays):
            result = fwd(arrays, ())
            saved = ctx.saved_arrays = result[n_out:]
            if sharing:
                others = result[:n_out] + tuple(arrays)
                ctx.save(*_shared([saved[k] for k in saved_sharing], [others[k] for k in sharing]))
            else:
                ctx.save()
            ctx.non_differentiable = non_diff
            return result[:n_out]

        def backward(ctx, *grads):
            if GradState.enabled:
                raise RuntimeError("ember.compile: double backward through a compiled graph "
                                   "is not supported (torch.compile has the same limit); "
                                   "compute higher-order gradients eagerly")
            if ctx.saved_arrays is None:
                raise RuntimeError(FREED)
            _ = ctx.saved  # raises, as in eager, when the caller wrote into a saved tensor
            # the graph was captured with contiguous seeds; an incoming gradient may be a
            # strided view (of a reshape's or transpose's backward), which its views need not fit
            arrays = list(ctx.saved_arrays) + [_contiguous(grads[i]) for i in diff]
            if not GradState.keep_graph:  # the backward frees each as it reads it last
                ctx.saved_arrays = None
            got = bwd(arrays, ())
            out = [None] * n_sources
            k = 0
            for j, present in wrt:
                if present:
                    dtype, device = grad_meta[k]
                    out[j] = Tensor._wrap(got[k], dtype, device)
                    k += 1
            return tuple(out)

        return type("CompiledFunction", (OpDef,), {
            "__doc__": "A graph compiled by ember.compile (forward and backward).",
            "name": "CompiledFunction", "promote": None,
            "forward": staticmethod(forward), "backward": staticmethod(backward)})

    def run(self, tensors: list) -> list:
        # moved on before the call, so the versions its autograd node saves are the ones
        # the inputs have after it
        for j in self.written:
            tensors[j]._vbox[0] += 1
        if self.backward_graph is not None and GradState.enabled:
            return list(apply(self.op, *tensors))
        got = self.fwd([t._data for t in tensors], ())
        outs = [Tensor._wrap(a, dtype, device)
                for a, (dtype, device) in zip(got[:self.n_outputs], self.out_meta)]
        if GradState.inference:  # as `apply` marks what ops return in inference mode
            for t in outs:
                t._inference = True
        return outs
