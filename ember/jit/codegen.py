"""Code generation: a graph as Python source that calls each OpDef's forward on raw arrays.

The generated function replays what `apply` does around forward (the casts of type promotion,
the cast back after a widened compute, 0-d results as arrays, in-place writes) but with every
decision taken once at compile time from the value types, so a call runs no dispatch logic,
creates no Tensors and records no autograd graph. Identifiers in the source are generated
(v<id>, g<k>); every object from the graph (op functions, attributes, constants) is bound in
the function's globals, so no text from a loaded file ever becomes code.

Each value's variable is deleted after the statement that reads it last, so its array goes back
to the allocator while still in cache, for the next result to reuse, instead of every
intermediate living until the call returns (as eager's refcounting frees them). A function
compiled with `consumes_inputs` empties the `inputs` list it is given once it has read it, so
the inputs are freed as they die too (a backward's saved activations).

With a memory plan (passes.memory, on by default) the function first checks that its inputs
and state have their traced shapes; then results of elementwise ops, matmuls, fused kernels and
max pooling are written (`out=`) into buffers of values that are dead by then, in place where
an operand dies at that node. Other shapes run `<name>_any_shape`, the same code without reuse.

A dynamic graph (symbolic.py) reads its size symbols from input shapes on entry and computes
each SymInt literal from them, so one function runs every size its symbols cover; its memory
plan tells size expressions apart from plain sizes, so it runs at all of them, unguarded.

`python_code` renders a graph as readable Python for `ScriptModule.code`.
"""
from __future__ import annotations

import ast
import itertools
import keyword
import linecache
import math
import re

import numpy as np

from .. import _dtype as D
from .._backend import namespace, openblas
from .._backend.fp_errors import quiet, restore
from .._device import device as Device
from .._ops.dispatch import _as_array, saved_array
from .._ops.registry import REGISTRY
from .._tensor import Tensor
from .ir import FUSION_GROUP, IF, LOOP, AsTensor, Graph, Node, Value, values_in
from . import op_kernels
from .op_kernels import forward_for
from .passes.analysis import reader_counts
from .passes.memory import UFUNCS, MemoryPlan, plan_memory, write_form
from .passes.epilogue import residual_grads, row_sums
from .passes.prologue import bias_prologues
from .symbolic import SymInt, has_symbols

_counter = itertools.count()


class RunContext:
    """The `ctx` generated code hands to forward (a fresh one per call, so concurrent calls
    never share the attributes forwards set): nothing is saved for backward."""

    needs_input_grad = ()

    def save(self, *values) -> None:
        pass


class SavingContext(RunContext):
    """The `ctx` for a node whose saved-for-backward values are outputs too (Node.saves)."""

    def __init__(self, needs_input_grad: tuple):
        self.needs_input_grad = needs_input_grad
        self.saved_values = ()

    def save(self, *values) -> None:
        self.saved_values = tuple(saved_array(v) for v in values)


class CompiledGraph:
    """A graph compiled to a Python function `fn(inputs, state) -> tuple of arrays`; `plan`
    is the memory plan it runs at the traced shapes (None when planning was off). `threads`:
    run its products, and its loops, on numba's threads where it can (openblas.in_graph)."""

    def __init__(self, fn, source: str, plan: MemoryPlan | None = None, threads: bool = False):
        self.fn = _quietly(openblas.in_graph(fn) if threads else fn)
        self.source = source
        self.plan = plan


def _quietly(fn):
    """fn with NumPy's floating-point warnings silenced, as eager op kernels run."""
    def run(inputs, state):
        token = quiet()
        try:
            return fn(inputs, state)
        finally:
            restore(token)
    run.__wrapped__ = fn
    return run


def graph_device(graph: Graph) -> str:
    """The device the graph's values live on (its first input, constant or node output)."""
    for v in list(graph.inputs) + list(graph.constants.values()):
        return v.type.device
    for node in graph.nodes:
        return node.outputs[0].type.device
    return "cpu"


class _Emitter:
    def __init__(self, graph: Graph, state_names: list[str], fused_builder,
                 plan: MemoryPlan | None = None, consumes_inputs: bool = False):
        self.graph = graph
        self.plan = plan
        self.consumes_inputs = consumes_inputs
        self.kernels: dict[int, object] = {}
        readers = reader_counts(graph)
        # inference forms that pay at any shape (the memory plan adds out= at traced shapes)
        self.lowered = {id(n): form for n in graph.nodes
                        if (form := write_form(n, readers)) in ("pool", "conv")}
        self.device = graph_device(graph)
        # kernels that take a neighbour's work (passes/prologue.py, passes/epilogue.py)
        numba_cpu = self.device == "cpu" and op_kernels.available()
        folded = bias_prologues(graph) if numba_cpu else {}
        # {id(gelu): the bias add it runs}
        self.biased = {id(nxt): add for add in graph.nodes if (nxt := folded.get(id(add)))}
        # {id(add, sub or mul): the leading-dims sum it also computes}
        self.summed = row_sums(graph) if numba_cpu else {}
        # {id(layer_norm_backward): the add its input gradient joins}
        self.residual = residual_grads(graph) if numba_cpu else {}
        # nodes that emit nothing: their work runs in one of the above
        self.folded = set(folded) | {id(n) for n in self.summed.values()} | \
            {id(add) for add in self.residual.values()}
        self.xp = namespace(Device(self.device))
        self.globals = {"xp": self.xp, "Context": RunContext, "_asarray": self.xp.asarray}
        self.state = set(state_names)
        self.state_names = state_names
        self.fused_builder = fused_builder
        self.parallel = not _runs_blas(graph)  # (kernels.build_fused)
        self.lines: list[str] = []
        self.names: dict[int, str] = {}
        self._bound: dict[int, str] = {}

    def bind(self, obj) -> str:
        """A global name for `obj` (one per object; the globals keep it alive)."""
        name = self._bound.get(id(obj))
        if name is None:
            name = f"g{len(self._bound)}"
            self._bound[id(obj)] = name
            self.globals[name] = obj
        return name

    def var(self, v: Value) -> str:
        return self.names[v.id]

    def literal(self, obj) -> str:
        """Source for a literal: numbers inline, other objects bound, values by name."""
        t = type(obj)
        if obj is None or t in (bool, int) or t is float and math.isfinite(obj):
            return repr(obj)
        if t is SymInt:
            return f"({obj.source()})"
        found = values_in(obj, [])
        if not found and not has_symbols(obj):
            return self.bind(obj)
        if t is slice:
            return (f"slice({self.literal(obj.start)}, {self.literal(obj.stop)}, "
                    f"{self.literal(obj.step)})")
        if isinstance(obj, Value):
            return self.var(obj)
        if isinstance(obj, AsTensor):
            return f"{self.bind(Tensor._wrap_array)}({self.var(obj.value)})"
        if t is tuple:
            return "(" + "".join(self.literal(o) + ", " for o in obj) + ")"
        if t is list:
            return "[" + ", ".join(self.literal(o) for o in obj) + "]"
        return "{" + ", ".join(f"{self.bind(k)}: {self.literal(v)}" for k, v in obj.items()) + "}"

    def emit(self, text: str) -> None:
        self.lines.append("    " + text)

    def build(self, fn_name: str) -> CompiledGraph:
        g = self.graph
        for v in g.inputs:
            self.names[v.id] = f"v{v.id}"
        for name, v in g.constants.items():
            if name in self.state:
                self.names[v.id] = f"v{v.id}"
            else:
                self.names[v.id] = self.bind(g.constant_data[name]._data)
        plan = self.plan
        planned = plan is not None and (plan.reused or "ufunc" in plan.forms.values()
                                        or plan.concat.slots)
        if planned and g.symbols:  # the plan holds at every size its callers let in
            source = self._function(fn_name, plan)
        else:
            any_shape = f"{fn_name}_any_shape" if planned else fn_name
            source = self._function(any_shape, None)
            if planned:
                source = self._function(fn_name, plan, any_shape) + "\n\n" + source
        filename = f"<ember.jit {fn_name} #{next(_counter)}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        exec(compile(source, filename, "exec"), self.globals)  # noqa: S102 - generated above
        return CompiledGraph(self.globals[fn_name], source, plan,
                             threads=self.device == "cpu" and _takes_numba_threads(self.graph))

    def _function(self, fn_name: str, plan, fallback: str | None = None) -> str:
        """Source of one function: with `plan`, guarded by the traced shapes (else it calls
        `fallback`) and writing results into the planned buffers."""
        g = self.graph
        self.lines = []
        head = [f"def {fn_name}(inputs, state):", "    ctx = Context()"]
        if g.inputs:
            self.emit("".join(f"v{v.id}, " for v in g.inputs) + "= inputs")
        if self.state_names:
            self.emit("".join(f"v{g.constants[n].id}, " for n in self.state_names) + "= state")
        for line in _symbol_lines(g, [f"v{v.id}" for v in g.inputs]):
            self.emit(line)
        if fallback is not None:
            held = list(g.inputs) + [g.constants[n] for n in self.state_names]
            if held:
                now = "(" + "".join(f"{self.var(v)}.shape, " for v in held) + ")"
                traced = tuple(tuple(int(n) for n in v.type.shape) for v in held)
                self.emit(f"if {now} != {traced!r}:")
                self.emit(f"    return {fallback}(inputs, state)")
        if self.consumes_inputs:
            self.emit("inputs.clear()")
        for node in g.nodes:
            for v in node.outputs:
                self.names[v.id] = f"v{v.id}"
            form = plan.forms.get(id(node)) if plan is not None else None
            if plan is not None and id(node) in plan.concat.elided or id(node) in self.folded:
                continue
            if plan is not None and node.outputs[0].id in plan.concat.slots:
                self._into_slot(node, plan)
            elif node.saves is not None:
                self._call(node)  # only the op's own forward fills the saving ctx
            elif id(node) in self.lowered:
                self._lowered(node, plan)
            elif node.op == FUSION_GROUP:
                self._fused(node, plan)
            elif node.inplace:
                self._inplace(node)
            elif id(node) in self.summed:
                self._with_row_sum(node, plan)
            elif id(node) in self.residual:
                self._residual_add(node)
            elif form == "ufunc" and node.outputs[0].type.shape:
                self._ufunc(node, plan)
            elif form == "matmul" and node.outputs[0].id in plan.target:
                self._matmul(node, plan)
            else:
                self._call(node)
        self.emit("return (" + "".join(self.var(v) + ", " for v in g.outputs) + ")")
        return _freeing_dead("\n".join(head + self.lines) + "\n")

    # -- nodes
    def _forward_args(self, node: Node, op) -> list[str]:
        """Argument sources for forward, with the casts `apply` would do."""
        compute = node.compute
        positions = set(op.promote_args if op.promote_args is not None
                        else range(len(node.args))) if compute is not None else set()
        out = []
        for i, a in enumerate(node.args):
            if isinstance(a, Value):
                text = self.var(a)
                if i in positions and a.type.dtype is not compute:
                    text = f"{text}.astype({self.bind(compute.np)})"
            elif i in positions and type(a) is SymInt:
                text = (f"{self.bind(_as_array)}({self.literal(a)}, {self.bind(compute)}, xp, "
                        f"{self.bind(op)})")
            elif i in positions:
                text = self.bind(_as_array(a, compute, self.xp, op))
            else:
                text = self.literal(a)
            out.append(text)
        return out

    def _attrs(self, node: Node) -> list[str]:
        return [f"{k}={self.literal(v)}" for k, v in node.attrs.items()]

    def _finish(self, node: Node, value: Value) -> None:
        """Mirror apply's wrapping: 0-d results become arrays; widened floats are cast back."""
        name = self.var(value)
        if not value.type.shape and self.device == "cpu":
            self.emit(f"{name} = _asarray({name})")
        if node.result is not None and value.type.dtype is node.result:
            self.emit(f"{name} = {name}.astype({self.bind(node.result.np)})")

    def _call(self, node: Node) -> None:
        op = REGISTRY[node.op]
        own, ctx = node.outputs, "ctx"
        if node.saves is not None:
            own, ctx = own[:len(own) - len(node.saves.items)], "sctx"
            self.emit(f"sctx = {self.bind(SavingContext)}"
                      f"({self.bind(node.saves.needs_input_grad)})")
        forward = (forward_for(node.op) if self.device == "cpu" else None) or op.forward
        args = self._forward_args(node, op)
        add = self.biased.get(id(node))
        if add is not None:  # passes/prologue.py: the bias add runs inside this kernel
            forward, args = op_kernels.gelu_biased, [self.var(v) for v in add.args]
        call = f"{self.bind(forward)}({ctx}, xp, " + ", ".join(args + self._attrs(node)) + ")"
        if len(own) == 1 and not node.tuple_out:
            self.emit(f"{self.var(own[0])} = {call}")
        else:
            self.emit("".join(self.var(v) + ", " for v in own) + f"= {call}")
        for v in own:
            self._finish(node, v)
        if node.saves is not None:
            for v, (kind, key) in zip(node.outputs[len(own):], node.saves.items):
                source = (f"sctx.saved_values[{key}]" if kind == "saved" else
                          f"getattr(sctx, {self.bind(key[0])})[{key[1]}]" if kind == "attr_item"
                          else f"getattr(sctx, {self.bind(key)})")
                self.emit(f"{self.var(v)} = {source}")

    def _inplace(self, node: Node) -> None:
        op = REGISTRY[node.op]
        target = self.var(node.args[0])
        out = self.var(node.outputs[0])
        if op.forward_inplace is not None and self.device == "cpu":
            args = [self.var(a) if isinstance(a, Value) else self.literal(a) for a in node.args]
            self.emit(f"{self.bind(op.forward_inplace)}(xp, "
                      + ", ".join(args + self._attrs(node)) + ")")
        else:
            call = (f"{self.bind(op.forward)}(ctx, xp, "
                    + ", ".join(self._forward_args(node, op) + self._attrs(node)) + ")")
            self.emit(f"{out} = {call}")
            self._finish(node, node.outputs[0])
            self.emit(f"{target}[...] = {out}")
        self.emit(f"{out} = {target}")

    def _fused(self, node: Node, plan) -> None:
        kernel = self.kernels.get(id(node))
        if kernel is None:
            kernel = self.kernels[id(node)] = self.fused_builder(node, self.device,
                                                                 parallel=self.parallel)
        args = ", ".join(self.var(a) for a in node.args)
        targets = [self._target(v, plan) for v in node.outputs]
        if any(t != "None" for t in targets):
            args += ", out=(" + "".join(t + ", " for t in targets) + ")"
        self.emit("".join(self.var(v) + ", " for v in node.outputs)
                  + f"= {self.bind(kernel)}({args})")

    def _target(self, value: Value, plan) -> str:
        """The planned buffer's variable for `value`, or 'None'."""
        buf = plan.target.get(value.id) if plan is not None else None
        return "None" if buf is None else self.var(buf)

    def _ufunc(self, node: Node, plan) -> None:
        """An elementwise op as its ufunc, into the planned buffer when there is one."""
        name, extra = UFUNCS[node.op]
        args = [self.literal(a) for a in node.args] + [repr(e) for e in extra]
        out = self._target(node.outputs[0], plan)
        if out != "None":
            args.append(f"out={out}")
        self.emit(f"{self.var(node.outputs[0])} = xp.{name}({', '.join(args)})")

    def _with_row_sum(self, node: Node, plan) -> None:
        """An add, sub or mul that also computes the leading-dims sum a later node takes of
        its result (passes/epilogue.py); that node then emits nothing."""
        total = self.summed[id(node)]
        out, s = node.outputs[0], self._ahead(total.outputs[0])
        a, b = (self.var(v) for v in node.args)
        lead = len(total.attrs["dims"])
        self.emit(f"{self.var(out)}, {s} = {self.bind(op_kernels.elementwise_row_sum)}"
                  f"({node.op!r}, {a}, {b}, {lead}, {self._target(out, plan)})")
        self._as_typed(total.outputs[0])

    def _ahead(self, value: Value) -> str:
        """The variable of a later node's output that this node's emission defines."""
        self.names[value.id] = f"v{value.id}"
        return self.var(value)

    def _as_typed(self, value: Value) -> None:
        """Reshape a kernel's flat or squeezed result to the value's (keepdim) shape."""
        self.emit(f"{self.var(value)} = {self.var(value)}.reshape("
                  f"{self.literal(tuple(value.type.shape))})")

    def _residual_add(self, node: Node) -> None:
        """A layer norm's backward that adds its input gradient to another gradient (and sums
        the rows when that add's sum was folded: passes/epilogue.py); the add emits nothing."""
        add = self.residual[id(node)]
        gx = node.outputs[0]
        other = add.args[1] if add.args[0] is gx else add.args[0]
        total = self.summed.get(id(add))
        rest = iter(node.outputs[1:])
        names = [self._ahead(add.outputs[0])]
        names += [self.var(next(rest)) if n else "_" for n in node.attrs["need"][1:]]
        names.append(self._ahead(total.outputs[0]) if total is not None else "_")
        lead = len(total.attrs["dims"]) if total is not None else 0
        g, xhat, rstd, weight = (self.literal(a) for a in node.args[:4])
        self.emit(", ".join(names) + f" = {self.bind(op_kernels.layer_norm_backward_add)}"
                  f"(ctx, xp, {g}, {xhat}, {rstd}, {weight}, {self.var(other)}, {lead}, "
                  + ", ".join(self._attrs(node)) + ")")
        if total is not None:
            self._as_typed(total.outputs[0])

    def _matmul(self, node: Node, plan) -> None:
        from .kernels import matmul_into
        a, b = (self.var(v) for v in node.args)
        self.emit(f"{self.var(node.outputs[0])} = {self.bind(matmul_into)}({a}, {b}, "
                  f"{self._target(node.outputs[0], plan)})")

    def _into_slot(self, node: Node, plan) -> None:
        """A product written into its slice of a concatenation (passes/concat.py), the
        concatenation's buffer allocated first when this is its earliest piece."""
        from .kernels import matmul_into
        from .passes.concat import slot_view
        for buf in plan.concat.allocate.get(id(node), ()):
            self.emit(f"{self._ahead(buf)} = xp.empty({self.literal(tuple(buf.type.shape))}, "
                      f"dtype={self.bind(buf.type.dtype.np)})")
        slot = plan.concat.slots[node.outputs[0].id]
        a, b = (self.var(v) for v in node.args)
        self.emit(f"{self.var(node.outputs[0])} = {self.bind(matmul_into)}({a}, {b}, "
                  f"{self.bind(slot_view)}({self.var(slot.buffer)}, "
                  f"{self.literal(slot.index)}, {self.literal(slot.steps)}))")

    def _lowered(self, node: Node, plan) -> None:
        """max_pool whose indices nobody reads (the values only), and 2-D convolution, through
        the inference kernels that take an output array."""
        from .kernels import conv2d_values, max_pool_values
        kernel = max_pool_values if node.op == "max_pool" else conv2d_values
        args = [self.literal(a) for a in node.args] + self._attrs(node)
        out = self._target(node.outputs[0], plan)
        if out != "None":
            args.append(f"out={out}")
        self.emit(f"{self.var(node.outputs[0])} = {self.bind(kernel)}({', '.join(args)})")


def compile_graph(graph: Graph, state_names: list[str], fn_name: str = "forward",
                  fused_builder=None, memory: bool = True,
                  consumes_inputs: bool = False) -> CompiledGraph:
    """Compile `graph` once. The function takes the input arrays in graph-input order and the
    arrays of the constants named in `state_names` (read live each call: parameters and
    buffers); every other constant is bound at compile time. `memory` plans buffer reuse
    (graphs with control flow or on other devices than the CPU are compiled without it).
    `consumes_inputs`: the function takes its inputs as a list it may empty (see above)."""
    if fused_builder is None:
        from .kernels import build_fused
        fused_builder = build_fused
    plan = None
    if memory and graph_device(graph) == "cpu" and not any(n.blocks for n in graph.nodes):
        plan = plan_memory(graph)
    return _Emitter(graph, state_names, fused_builder, plan, consumes_inputs).build(fn_name)


_VALUE = re.compile(r"v\d+")


def _freeing_dead(source: str) -> str:
    """`source` (one generated function) with `del` after the top-level statement that last
    reads each value variable a top-level statement binds. Python frees an array when its last
    reference goes, so a dead intermediate's memory is reused while still in cache. Read from
    the emitted code, not the graph: the memory plan names dead values again as out= targets."""
    lines = source.splitlines()
    body = ast.parse(source).body[0].body
    last: dict[str, int] = {}
    bound: set[str] = set()
    for k, stmt in enumerate(body):
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and _VALUE.fullmatch(node.id):
                last[node.id] = k
        if isinstance(stmt, ast.Assign):
            bound.update(node.id for target in stmt.targets for node in ast.walk(target)
                         if isinstance(node, ast.Name))
    dead: dict[int, list[str]] = {}
    for name, k in last.items():
        if name in bound and not isinstance(body[k], ast.Return):
            dead.setdefault(k, []).append(name)
    out = lines[:body[0].lineno - 1]
    for k, stmt in enumerate(body):
        out += lines[stmt.lineno - 1:stmt.end_lineno]
        if k in dead:
            out.append(" " * stmt.col_offset + "del " + ", ".join(sorted(dead[k])))
    return "\n".join(out) + "\n"


def _takes_numba_threads(graph: Graph) -> bool:
    """Whether the graph multiplies batches of matrices (a gemm op on operands of more than two
    dims: attention's scores and values, a convolution's per-image products) and runs every
    BLAS product through _backend.gemm (OpDef.gemm): NumPy runs a batch one matrix at a time
    on one thread, so such a graph runs its products on numba's threads (openblas.in_graph).
    An MLP's 2-D products OpenBLAS threads well itself; a graph with another BLAS op would
    run that one on a single thread."""
    batched = False
    for node in _all_nodes(graph):
        op = REGISTRY.get(node.op)
        if op is None or not op.blas:
            continue
        if not op.gemm:
            return False
        batched = batched or all(isinstance(v, Value) and len(v.type.shape) > 2
                                 for v in node.args[:2])
    return batched


def _all_nodes(graph: Graph):
    """The graph's nodes and those of its blocks, nested ones included."""
    for node in graph.nodes:
        yield node
        for block in node.blocks:
            yield from _all_nodes(block)


def _runs_blas(graph: Graph) -> bool:
    """Whether a node of the graph (or of its blocks) runs BLAS products (OpDef.blas)."""
    return any(getattr(REGISTRY.get(n.op), "blas", False) for n in _all_nodes(graph))


# ---- readable code ---------------------------------------------------------------------------
def identifier(text: str) -> str:
    """`text` made a Python name that is not a keyword."""
    out = "".join(c if c.isalnum() or c == "_" else "_" for c in text)
    out = out if out and not out[0].isdigit() else "_" + out
    return out + "_" if keyword.iskeyword(out) else out


def _attr_path(name: str) -> str:
    expr = "self"
    for part in name.split("."):
        plain = part.isidentifier() and not keyword.iskeyword(part)
        expr = f"{expr}.{part}" if plain else f"getattr({expr}, {part!r})"
    return expr


# names the code of python_code reads besides its inputs: an input of one of these names, or
# of a temporary's (_0), a size symbol's (s0) or a fusion group's, is renamed
_CODE_NAMES = {"self", "ops", "ember", "Tensor", "CONSTANTS", "itertools", "range", "int",
               "float", "bool", "slice", "getattr"}
_GENERATED = re.compile(r"_\d+|s\d+|fusion_group_\d+")


def _input_identifiers(graph: Graph) -> dict[int, str]:
    """Distinct parameter names for the graph's inputs, from their names, that shadow no name
    the generated code uses."""
    names: dict[int, str] = {}
    taken = set(_CODE_NAMES)
    for v in graph.inputs:
        stem = identifier(v.name or f"input_{v.id}")
        ident, k = stem, 0
        while ident in taken or _GENERATED.fullmatch(ident):
            k += 1
            ident = f"{stem}_{k}"
        taken.add(ident)
        names[v.id] = ident
    return names


def _py_literal(obj, names: dict[int, str]) -> str:
    if isinstance(obj, Value):
        return names[obj.id]
    if isinstance(obj, AsTensor):
        return names[obj.value.id]
    if isinstance(obj, _Number):
        return f"{obj.kind}({names[obj.value.id]})"
    if isinstance(obj, _Text):
        return (f"render({obj.template!r}, {obj.formats!r}, "
                f"{_py_literal(obj.values, names)})")
    t = type(obj)
    if t is tuple:
        inner = ", ".join(_py_literal(o, names) for o in obj)
        return f"({inner},)" if len(obj) == 1 else f"({inner})"
    if t is list:
        return "[" + ", ".join(_py_literal(o, names) for o in obj) + "]"
    if t is dict:
        return "{" + ", ".join(f"{k!r}: {_py_literal(v, names)}" for k, v in obj.items()) + "}"
    if t is slice:
        return f"slice({obj.start!r}, {obj.stop!r}, {obj.step!r})"
    if obj is Ellipsis:
        return "..."
    if isinstance(obj, D.dtype):
        return f"ember.{obj.name}"
    if isinstance(obj, Device):
        return f"ember.device({str(obj)!r})"
    if isinstance(obj, np.ndarray):
        return (f"ember.tensor({np.array2string(obj, separator=', ', threshold=8)}, "
                f"dtype=ember.{D.from_numpy_dtype(obj.dtype).name})")
    if isinstance(obj, np.generic):
        return repr(obj.item())
    if t is float and not math.isfinite(obj):
        return f"float({str(obj)!r})"
    return repr(obj)


def _symbol_lines(graph: Graph, inputs: list[str]) -> list[str]:
    """Statements binding a symbolic graph's size symbols from its inputs (named `inputs`),
    each an input dim that is coefficient * symbol + offset."""
    lines = []
    for symbol, (k, dim, coeff, offset) in graph.symbols.items():
        size = f"{inputs[k]}.shape[{dim}]"
        if offset:
            size = f"({size} - {offset})"
        lines.append(f"{symbol} = {size}" + (f" // {coeff}" if coeff != 1 else ""))
    return lines


def python_code(graph: Graph, name: str = "forward", method: bool = True) -> str:
    """Readable Python for the graph: `ops.<name>` calls an op through apply (`ops.<name>_`
    in place); parameters and buffers are module attributes, other constants CONSTANTS;
    prim::If and prim::Loop nodes read as `if` and `for ... in range(...)` statements."""
    names = _input_identifiers(graph)
    writer = _CodeWriter(names, method)
    writer.constants(graph)
    writer.lines += ["    " + line for line in
                     _symbol_lines(graph, [names[v.id] for v in graph.inputs])]
    writer.statements(graph, "    ")
    params = ["self"] if method else []
    params += [f"{names[v.id]}: Tensor" for v in graph.inputs]
    ret = _py_literal(_spec_literal(graph.output_spec, graph.outputs), names) \
        if graph.output_spec is not None else \
        ", ".join(names[v.id] for v in graph.outputs)
    lines = [f"def {name}({', '.join(params)}):"] + writer.lines + [f"    return {ret}"]
    text = "\n".join(lines) + "\n"
    for k, sub in enumerate(writer.groups):
        text += "\n\n" + python_code(sub, f"fusion_group_{k}", method=False)
    return text


class _CodeWriter:
    """The statements of python_code, control-flow blocks nested as Python blocks."""

    def __init__(self, names: dict, method: bool):
        self.names = names
        self.method = method
        self.counter = itertools.count()
        self.lines: list[str] = []
        self.groups: list[Graph] = []

    def fresh(self) -> str:
        return f"_{next(self.counter)}"

    def constants(self, graph: Graph) -> None:
        for cname, v in graph.constants.items():
            if self.method and graph.constant_kind[cname] != "constant":
                self.names[v.id] = _attr_path(cname)
            else:
                self.names[v.id] = f"CONSTANTS.{identifier(cname)}"

    def statements(self, graph: Graph, pad: str) -> None:
        names = self.names
        for node in graph.nodes:
            for v in node.outputs:
                names[v.id] = self.fresh()
            lhs = ", ".join(names[v.id] for v in node.outputs)
            args = [_py_literal(a, names) for a in node.args]
            if node.op == IF:
                self._if(node, args, lhs, pad)
                continue
            if node.op == LOOP:
                self._loop(node, args, pad)
                continue
            args += [f"{k}={_py_literal(v, names)}" for k, v in node.attrs.items()]
            if node.op == FUSION_GROUP:
                fn = f"fusion_group_{len(self.groups)}"
                self.groups.append(node.body)
            else:
                fn = f"ops.{node.display_op()}"
            self.lines.append(f"{pad}{lhs} = {fn}({', '.join(args)})")

    def _block(self, block: Graph, given: list[str], results: str, pad: str) -> None:
        """A block's statements, its inputs bound to the expressions `given`, ending with its
        outputs assigned to `results`."""
        for v, expr in zip(block.inputs, given):
            self.names[v.id] = expr
        self.constants(block)
        self.statements(block, pad)
        outs = ", ".join(_py_literal(v, self.names) for v in block.outputs)
        if results:
            self.lines.append(f"{pad}{results} = {outs}")
        elif not block.nodes:
            self.lines.append(f"{pad}pass")

    def _if(self, node: Node, args: list[str], lhs: str, pad: str) -> None:
        then, other = node.blocks
        self.lines.append(f"{pad}if bool({args[0]}):")
        self._block(then, args[1:], lhs, pad + "    ")
        self.lines.append(f"{pad}else:")
        self._block(other, args[1:], lhs, pad + "    ")

    def _loop(self, node: Node, args: list[str], pad: str) -> None:
        n = node.attrs["carried"]
        body = node.blocks[0]
        carried = [self.names[v.id] for v in node.outputs]
        cond, i = self.fresh(), self.fresh()
        if carried:
            self.lines.append(f"{pad}{', '.join(carried)} = {', '.join(args[2:2 + n])}")
        self.lines.append(f"{pad}{cond} = {args[1]}")
        trip = args[0]
        steps = "itertools.count()" if trip == "None" else \
            f"range({trip})" if trip.isdigit() else f"range(int({trip}))"
        self.lines.append(f"{pad}for {i} in {steps}:")
        inner = pad + "    "
        self.lines.append(f"{inner}if not bool({cond}):")
        self.lines.append(f"{inner}    break")
        self._block(body, [i, cond] + carried + args[2 + n:],
                    ", ".join([cond] + carried), inner)


class _Number:
    """A number output: the graph's 0-d tensor `value` that the caller gets as a Python
    `kind` ("int", "float" or "bool"), written as that conversion."""

    def __init__(self, value: Value, kind: str):
        self.value, self.kind = value, kind


class _Text:
    """A string output filled from graph values, written as the render() call that makes it."""

    def __init__(self, template: str, formats: list, values: list[Value]):
        self.template, self.formats, self.values = template, formats, values


def _spec_literal(spec, values: list[Value]):
    """The returned structure with graph values in its leaves (number leaves as _Number)."""
    from .tracer import unflatten
    kinds: list = []

    def numbers_as_tensors(s):
        if s[0] in ("tensor", "number"):
            kinds.append(s[1] if s[0] == "number" else None)
            return ["tensor"]
        if s[0] == "str":
            kinds.extend([None] * len(s[2]))
            return s
        if s[0] in ("tuple", "list"):
            return [s[0], [numbers_as_tensors(x) for x in s[1]]]
        if s[0] == "namedtuple":
            return [s[0], s[1], [numbers_as_tensors(x) for x in s[2]]]
        if s[0] == "dict":
            return [s[0], [[k, numbers_as_tensors(v)] for k, v in s[1]]]
        return s
    tensor_spec = numbers_as_tensors(spec)
    return unflatten(tensor_spec, [v if kind is None else _Number(v, kind)
                                   for v, kind in zip(values, kinds)], text=_Text)
