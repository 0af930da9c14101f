"""Memory planning: a liveness analysis that lets generated code write results into buffers
whose values are dead instead of allocating new ones.

Some nodes can be emitted writing into a given array (`out=`): elementwise ufunc ops, 2-D
right-hand matmuls, fusion groups, 2-D convolutions and max pooling whose indices nobody
reads. For each of
their outputs the plan picks a buffer of exactly the output's shape and dtype that holds no
live value: an operand of the same node that dies there (in place, for elementwise forms,
where each element is read before it is written), or one freed earlier. Everything else
allocates as before.

A buffer is only ever one that a node of known behaviour allocated itself (a planned form or
a `fresh` OpDef), and it becomes free after the last read of every value that may share its
memory: views and in-place results (AliasInfo), and, conservatively, the results of any op not
known to return fresh arrays. Never reused: graph inputs, constants (parameters, buffers),
graph outputs, values a control-flow node reads or yields (their blocks are not planned), and
values whose shape may depend on data (nonzero, unique, boolean indexing, and what follows),
since the plan matches shapes statically. Products read only by a concatenation write into
its slices instead (passes/concat.py); their results are never reused. The generated code
runs the plan only when the inputs have their traced shapes, or, in a graph with size
symbols, whose sizes are told apart from plain ones here, at every size.
"""
from __future__ import annotations

from ... import _dtype as D
from ..._ops.registry import REGISTRY
from ..ir import CONTROL_OPS, FUSION_GROUP, Graph, Node, SymInt, Value
from .analysis import FLOATS
from .concat import ConcatPlan, plan_concat
from .epilogue import residual_grads

# op -> (NumPy ufunc name, extra literal operands): the forward is exactly this ufunc on floats
UFUNCS = {"add": ("add", ()), "sub": ("subtract", ()), "mul": ("multiply", ()),
          "div": ("true_divide", ()), "neg": ("negative", ()), "abs": ("absolute", ()),
          "relu": ("maximum", (0,)), "maximum": ("maximum", ()), "minimum": ("minimum", ()),
          "sqrt": ("sqrt", ()), "exp": ("exp", ()), "log": ("log", ()), "tanh": ("tanh", ()),
          "sin": ("sin", ()), "cos": ("cos", ()), "reciprocal": ("reciprocal", ())}
DYNAMIC_SHAPE_OPS = frozenset({"nonzero", "unique", "unique_consecutive", "bincount",
                               "histogram", "masked_select"})


class MemoryPlan:
    """Where planned nodes write. `forms` maps id(node) to how codegen emits it ("ufunc",
    "matmul", "fused", "conv" or "pool"); `target` maps an output value id to the value whose buffer
    it writes into; `fresh` counts planned outputs that still allocate."""

    def __init__(self):
        self.forms: dict[int, str] = {}
        self.target: dict[int, Value] = {}
        self.inplace: set[int] = set()
        self.fresh = 0
        self.concat = ConcatPlan()

    @property
    def reused(self) -> int:
        """How many results write into a dead buffer instead of allocating."""
        return len(self.target)

    def __repr__(self) -> str:
        return (f"MemoryPlan(reused={self.reused}, in_place={len(self.inplace)}, "
                f"fresh={self.fresh}, written_through={len(self.concat.slots)})")


def _fresh(node: Node) -> bool:
    """Whether the node's op always returns newly allocated arrays (OpDef.fresh)."""
    op = REGISTRY.get(node.op)
    return op is not None and op.fresh


def _own(node: Node) -> list:
    """The node's outputs that its op returns (not the arrays it kept for backward)."""
    return node.outputs[:len(node.outputs) - len(node.saves.items)] if node.saves else \
        node.outputs


def _float_value(a) -> bool:
    return isinstance(a, Value) and a.type.dtype in FLOATS


def write_form(node: Node, readers: dict) -> str | None:
    """How a node can write its result into a given array, or None."""
    if node.inplace or node.op in CONTROL_OPS:
        return None
    if node.op == FUSION_GROUP:
        return "fused" if all(v.type.device == "cpu" for v in node.outputs) else None
    out = node.outputs[0]
    if out.type.device != "cpu" or node.compute is not None or node.result is not None:
        return None
    if node.op in UFUNCS:
        attrs_ok = not node.attrs or node.attrs == {"alpha": 1} and \
            type(node.attrs["alpha"]) is int
        if not attrs_ok or len(node.outputs) != 1 or out.type.dtype not in FLOATS:
            return None
        for a in node.args:
            if isinstance(a, Value) and a.type.dtype is not out.type.dtype or \
                    not isinstance(a, Value) and type(a) not in (int, float):
                return None
        return "ufunc"
    if node.op == "matmul" and len(node.args) == 2 and all(_float_value(a) for a in node.args):
        a, b = node.args
        if len(b.type.shape) == 2 and len(a.type.shape) >= 2 and a.type.dtype is b.type.dtype:
            return "matmul"
        return None
    if node.op == "max_pool" and readers.get(node.outputs[1].id, 0) == 0 and \
            out.type.dtype in FLOATS:
        return "pool"
    if node.op == "convolution" and len(out.type.shape) == 4 and out.type.dtype in FLOATS:
        return "conv"
    return None


def _in_place_ok(node: Node, form: str, arg_index: int, out_index: int) -> bool:
    """Whether output `out_index` may overwrite operand `arg_index` of the same node."""
    if form == "ufunc":
        return True
    if form != "fused":
        return False
    body = node.body
    inner_in, inner_out = body.inputs[arg_index], body.outputs[out_index]
    produced = next(k for k, n in enumerate(body.nodes) if inner_out in n.outputs)
    last_read = max((k for k, n in enumerate(body.nodes)
                     if any(v is inner_in for v in n.inputs())), default=-1)
    # the NumPy form writes each output when its node runs: nothing may read the operand later
    return last_read <= produced


class _Groups:
    """Union-find over value ids: values that may share memory."""

    def __init__(self):
        self.parent: dict[int, int] = {}

    def root(self, vid: int) -> int:
        parent = self.parent
        while parent.get(vid, vid) != vid:
            parent[vid] = parent.get(parent[vid], parent[vid])
            vid = parent[vid]
        return vid

    def union(self, a: int, b: int) -> None:
        ra, rb = self.root(a), self.root(b)
        if ra != rb:
            self.parent[ra] = rb


def _is_dynamic(node: Node) -> bool:
    if node.op in DYNAMIC_SHAPE_OPS:
        return True
    return node.op == "getitem" and any(v.type.dtype is D.bool for v in node.inputs()[1:])


def plan_memory(graph: Graph) -> MemoryPlan:
    """Plan buffer reuse for the top-level nodes of `graph` (see the module docstring)."""
    plan = MemoryPlan()
    plan.concat = plan_concat(graph)
    nodes = graph.nodes
    readers: dict[int, int] = {}
    for node in nodes:
        for v in node.inputs():
            readers[v.id] = readers.get(v.id, 0) + 1
    for v in graph.outputs:
        readers[v.id] = readers.get(v.id, 0) + 1

    groups = _Groups()
    unsafe: set[int] = {v.id for v in graph.inputs} | {v.id for v in graph.constants.values()}
    unsafe |= {v.id for v in graph.outputs}
    unsafe |= set(plan.concat.slots)  # views of a concatenation's buffer
    residual = residual_grads(graph)  # input gradients added inside their kernel: never written
    unsafe |= {v.id for n in nodes if id(n) in residual for v in n.outputs[:1]}
    folded_adds = {id(add) for add in residual.values()}
    dynamic: set[int] = set()
    for node in nodes:
        form = write_form(node, readers)
        if id(node) in folded_adds:
            form = None
        if form is not None and node.outputs[0].id not in plan.concat.slots:
            plan.forms[id(node)] = form
        inputs = node.inputs()
        if _is_dynamic(node) or any(v.id in dynamic for v in inputs):
            dynamic.update(v.id for v in node.outputs)
        if node.op in CONTROL_OPS:
            unsafe.update(v.id for v in inputs)
            unsafe.update(v.id for v in node.outputs)
        if form is None and (node.inplace or not _fresh(node)) and \
                node.op != FUSION_GROUP:
            for out in node.outputs:
                for v in inputs:
                    groups.union(out.id, v.id)
        else:  # arrays the op kept for backward may be views of its inputs
            for out in node.outputs[len(_own(node)):]:
                for v in inputs:
                    groups.union(out.id, v.id)
    unsafe |= dynamic

    last_use: dict[int, int] = {}
    for k, node in enumerate(nodes):
        for v in node.inputs() + node.outputs:
            last_use[groups.root(v.id)] = k
    blocked = {groups.root(vid) for vid in unsafe}

    free: dict[tuple, list[Value]] = {}
    held: dict[int, list[Value]] = {}
    buffer_of: dict[int, Value] = {}
    for k, node in enumerate(nodes):
        form = plan.forms.get(id(node))
        if form is not None or (_fresh(node) and not node.inplace):
            for j, out in enumerate(_own(node)):
                if out.id in dynamic or not out.type.shape or \
                        form == "pool" and j == 1:
                    continue
                buf = None
                if form is not None:
                    buf = _claim(node, form, j, out, k, groups, last_use, blocked, buffer_of,
                                 held, free, plan)
                    if buf is None:
                        plan.fresh += 1
                buf = buf or out
                buffer_of[out.id] = buf
                held.setdefault(groups.root(out.id), []).append(buf)
        for root in {groups.root(v.id) for v in node.inputs() + node.outputs}:
            if last_use.get(root) == k and root not in blocked:
                for buf in held.pop(root, ()):
                    free.setdefault(_key(buf.type), []).append(buf)
    return plan


def _key(t) -> tuple:
    """A value type's shape and dtype, size expressions told apart from plain sizes (a
    symbolic graph's plan must hold at every size, not only the traced one)."""
    return (tuple(("sym", d.terms) if type(d) is SymInt else d for d in t.shape), t.dtype)


def _claim(node, form, j, out, k, groups, last_use, blocked, buffer_of, held, free, plan):
    """The buffer output `out` (number j) of node k writes into, or None to allocate."""
    key = _key(out.type)
    if form in ("ufunc", "fused"):
        inputs = node.inputs()
        for i, a in enumerate(node.args):
            if not isinstance(a, Value) or a.id not in buffer_of or buffer_of[a.id] is None:
                continue
            root = groups.root(a.id)
            if _key(a.type) != key or a.type.device != out.type.device or \
                    root in blocked or last_use.get(root) != k or \
                    any(v is not a and groups.root(v.id) == root for v in inputs) or \
                    not _in_place_ok(node, form, i, j):
                continue
            buf = buffer_of[a.id]
            owned = held.get(root, [])
            if buf not in owned:
                continue
            owned.remove(buf)
            buffer_of[a.id] = None
            plan.target[out.id] = buf
            plan.inplace.add(out.id)
            return buf
    pool = free.get(key)
    if pool:
        buf = pool.pop()
        plan.target[out.id] = buf
        return buf
    return None
