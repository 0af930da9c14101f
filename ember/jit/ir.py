"""The JIT's IR: an SSA graph of typed tensor values.

A `Graph` has inputs, named constants (parameters, buffers and other tensors the traced code
used), a list of `Node`s in execution order and outputs. Each node names a registry op (or
`prim::FusionGroup`, a fused chain with a body graph) and holds its positional arguments (values
or literals) and keyword attributes (literals that may contain values, e.g. an index array).
An in-place node writes its result into its first argument's memory; its output value is the
new contents. Every value is defined once, before its uses; `verify` checks that.

Literals are what the op calls were given: None, bools, ints, floats, complex numbers, strings,
tuples, lists, dicts with string keys, slices, Ellipsis, dtypes, devices, NumPy arrays and
NumPy scalars. `encode`/`decode` map them to JSON and back without running any code.
"""
from __future__ import annotations

import math
import re

import numpy as np

from .. import _dtype as D
from .._device import device as Device
from .._ops.python_call import PythonCall
from .._ops.registry import REGISTRY

FUSION_GROUP = "prim::FusionGroup"
IF = "prim::If"
LOOP = "prim::Loop"
CONTROL_OPS = (IF, LOOP)
SYMBOL = re.compile(r"s[0-9]+")

_SCALAR_NAMES = D.SCALAR_NAMES
_CONSTANT_KINDS = {"parameter": "prim::Param", "buffer": "prim::Buffer",
                   "constant": "prim::Constant"}


class GraphError(RuntimeError):
    """A graph that breaks an IR invariant (found by `Graph.verify`)."""


class TensorType:
    """The static type of a value: dtype, shape and device."""

    __slots__ = ("dtype", "shape", "device")

    def __init__(self, dtype: D.dtype, shape: tuple, device: str = "cpu"):
        self.dtype = dtype
        self.shape = tuple(shape)
        self.device = str(device)

    @classmethod
    def of(cls, tensor) -> "TensorType":
        return cls(tensor._dtype, tensor._data.shape, str(tensor._device))

    def __eq__(self, other) -> bool:
        return (isinstance(other, TensorType) and self.dtype is other.dtype
                and self.shape == other.shape and self.device == other.device)

    def __hash__(self) -> int:
        return hash((self.dtype.name, self.shape, self.device))

    def __str__(self) -> str:
        dims = ", ".join(str(s) for s in self.shape)
        where = "" if self.device == "cpu" else (", " if dims else "") + f"device={self.device}"
        return f"{_SCALAR_NAMES[self.dtype]}({dims}{where})"

    __repr__ = __str__

    def to_json(self) -> dict:
        return {"dtype": self.dtype.name, "device": self.device,
                "shape": [s.to_json() if type(s) is SymInt else s for s in self.shape]}

    @classmethod
    def from_json(cls, obj) -> "TensorType":
        if not isinstance(obj, dict) or set(obj) != {"dtype", "shape", "device"}:
            raise GraphError(f"malformed tensor type {obj!r}")
        dtype = D._BY_NAME.get(obj["dtype"]) if isinstance(obj["dtype"], str) else None
        shape = obj["shape"]
        if dtype is None:
            raise GraphError(f"unknown dtype {obj['dtype']!r}")
        if not isinstance(shape, list):
            raise GraphError(f"malformed shape {shape!r}")
        shape = [SymInt.from_json(s["$sym"]) if type(s) is dict and list(s) == ["$sym"] else s
                 for s in shape]
        if not all(isinstance(s, int) and type(s) is not bool and s >= 0 for s in shape):
            raise GraphError(f"malformed shape {obj['shape']!r}")
        return cls(dtype, tuple(shape), _check_device(obj["device"]))


def _check_device(text) -> str:
    if not isinstance(text, str):
        raise GraphError(f"malformed device {text!r}")
    try:
        return str(Device(text))
    except (RuntimeError, ValueError, TypeError):
        raise GraphError(f"malformed device {text!r}") from None


class SymInt(int):
    """An integer that is an expression in size symbols: its int value is the size it had in
    the first sample (so shape arithmetic done while compiling still works); `terms` are
    (factors, coefficient) pairs, the empty factor tuple being the constant. A factor is a
    symbol, or (symbol, offset, divisor) for floor((symbol + offset) / divisor): the size a
    strided convolution or pooling computes (ceil division is floor with an offset)."""

    terms: tuple

    def __new__(cls, value: int, terms: tuple):
        obj = super().__new__(cls, value)
        obj.terms = terms
        return obj

    def __getnewargs__(self) -> tuple:
        """copy.deepcopy (of a traced module, say) rebuilds it with its terms."""
        return int(self), self.terms

    def evaluate(self, sizes: dict) -> int:
        total = 0
        for factors, coeff in self.terms:
            for f in factors:
                coeff *= sizes[f] if type(f) is str else (sizes[f[0]] + f[1]) // f[2]
            total += coeff
        return total

    def source(self) -> str:
        """Python source computing the value from variables named like the symbols."""
        parts = []
        for factors, coeff in self.terms:
            names = [f if type(f) is str else f"(({f[0]} + {f[1]}) // {f[2]})" if f[1] else
                     f"({f[0]} // {f[2]})" for f in factors]
            if factors and coeff in (1, -1):
                parts.append(("-" if coeff < 0 else "") + "*".join(names))
            else:
                parts.append("*".join([str(coeff)] + names))
        return " + ".join(parts).replace("+ -", "- ")

    def symbols(self) -> set:
        return {f if type(f) is str else f[0] for factors, _ in self.terms for f in factors}

    def __repr__(self) -> str:
        return self.source()

    __str__ = __repr__

    def to_json(self) -> dict:
        return {"$sym": {"value": int(self), "terms": [
            [[f if type(f) is str else list(f) for f in s], c] for s, c in self.terms]}}

    @classmethod
    def from_json(cls, body) -> "SymInt":
        """The inverse of to_json (its "$sym" body); raises GraphError on anything else."""
        if type(body) is not dict or set(body) != {"value", "terms"} or \
                type(body["value"]) is not int or type(body["terms"]) is not list or \
                not body["terms"] or not all(_is_term(t) for t in body["terms"]):
            raise GraphError(f"malformed size expression {body!r:.80}")
        return cls(body["value"], tuple(
            (tuple(f if type(f) is str else tuple(f) for f in s), c) for s, c in body["terms"]))


def _is_term(term) -> bool:
    """Whether JSON data is one [factors, coefficient] term of a SymInt."""
    return (type(term) is list and len(term) == 2 and type(term[1]) is int and
            type(term[0]) is list and all(_is_factor(f) for f in term[0]))


def _is_factor(f) -> bool:
    """Whether JSON data is a symbol or a [symbol, offset, divisor] floor division."""
    if type(f) is str:
        return bool(SYMBOL.fullmatch(f))
    return (type(f) is list and len(f) == 3 and type(f[0]) is str and
            bool(SYMBOL.fullmatch(f[0])) and type(f[1]) is int and type(f[2]) is int and
            f[2] > 0)


class Value:
    """One SSA value: defined by a graph input, a constant or one output of a node."""

    __slots__ = ("id", "type", "node", "index", "name")

    def __init__(self, id: int, type: TensorType, node=None, index: int = 0, name=None):
        self.id = id
        self.type = type
        self.node = node
        self.index = index
        self.name = name

    def __repr__(self) -> str:
        return f"%{self.name or self.id} : {self.type}"


class AsTensor:
    """Marks a value that an op received inside its attributes as a Tensor (not an array)."""

    __slots__ = ("value",)

    def __init__(self, value: Value):
        self.value = value


class Saves:
    """Extra outputs of a node: values its op's forward kept for backward in `ctx` (entry k
    of what it saved, ("saved", k), an attribute, ("attr", name), or item i of a tuple
    attribute such as an index key, ("attr_item", (name, i))). ember.compile's forward
    graphs hand them to the backward graph; forward runs with `needs_input_grad` as traced."""

    __slots__ = ("needs_input_grad", "items")

    def __init__(self, needs_input_grad: tuple, items: list):
        self.needs_input_grad = needs_input_grad
        self.items = items


class Node:
    """One op call. `compute`/`result` record the promotion `apply` did: the dtype forward
    computed in, and the dtype floating outputs were cast back to (None when no cast).
    `saves` (or None) describes outputs past the op's own: see Saves. `tuple_out`: the op
    returns a tuple even with one output (split into one piece, a backward needing one
    gradient), which the node's single output unpacks. `no_grad`: the traced code ran it
    inside a no_grad region of its own (an in-place update of a parameter, as embedding's
    max_norm does), so a replay that records autograd runs it without recording."""

    __slots__ = ("op", "args", "attrs", "outputs", "inplace", "compute", "result", "body",
                 "blocks", "saves", "tuple_out", "no_grad")

    def __init__(self, op: str, args: list, attrs: dict, inplace: bool = False,
                 compute: D.dtype | None = None, result: D.dtype | None = None, body=None,
                 blocks=None):
        self.op = op
        self.args = list(args)
        self.attrs = dict(attrs)
        self.outputs: list[Value] = []
        self.inplace = inplace
        self.compute = compute
        self.result = result
        self.body = body
        # control flow (prim::If: [then, else]; prim::Loop: [body]): graphs whose inputs
        # receive the node's arguments (see `verify`), so no block reads outer values
        self.blocks = list(blocks) if blocks else []
        self.saves = None
        self.tuple_out = False
        self.no_grad = False

    def inputs(self) -> list[Value]:
        """Every value the node reads, in argument then attribute order (with repeats)."""
        found: list[Value] = []
        for a in self.args:
            values_in(a, found)
        for a in self.attrs.values():
            values_in(a, found)
        return found

    def map_inputs(self, fn) -> None:
        """Replace each input value v by fn(v) (arguments and attributes)."""
        self.args = [substitute(a, fn) for a in self.args]
        self.attrs = {k: substitute(v, fn) for k, v in self.attrs.items()}

    def display_op(self) -> str:
        return self.op + ("_" if self.inplace else "")


def values_in(obj, found: list) -> list:
    """Append the values inside a literal (recursively) to `found`."""
    if isinstance(obj, Value):
        found.append(obj)
    elif isinstance(obj, AsTensor):
        found.append(obj.value)
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            values_in(o, found)
    elif isinstance(obj, dict):
        for o in obj.values():
            values_in(o, found)
    return found


def substitute(obj, fn):
    """A copy of a literal with every value v replaced by fn(v)."""
    if isinstance(obj, Value):
        return fn(obj)
    if isinstance(obj, AsTensor):
        return AsTensor(fn(obj.value))
    if type(obj) is tuple:
        return tuple(substitute(o, fn) for o in obj)
    if type(obj) is list:
        return [substitute(o, fn) for o in obj]
    if type(obj) is dict:
        return {k: substitute(v, fn) for k, v in obj.items()}
    return obj


class Graph:
    """An SSA graph; see the module docstring."""

    def __init__(self):
        self.inputs: list[Value] = []
        self.nodes: list[Node] = []
        self.outputs: list[Value] = []
        self.constants: dict[str, Value] = {}
        self.constant_kind: dict[str, str] = {}
        self.constant_data: dict = {}
        self.input_spec = None
        self.output_spec = None
        self.call_schema = None  # a scripted method's parameters (schema.CallSchema)
        self.fixed_sizes = False  # bakes sizes computed from its inputs' shapes (jit.trace)
        # (input position, dim) pairs that may take any size, every other input dim its
        # traced one; None: no such limit (jit.trace, see frontend.sized_graph)
        self.free_dims = None
        self.arg_names = None  # a traced graph's parameter names, to call it by keyword
        self._next = 0
        # size symbol -> (input position, dim, coefficient, offset) in a dynamic graph
        # (symbolic.py), and the smallest size each may take in a call (2 when not listed)
        self.symbols: dict = {}
        self.min_sizes: dict = {}

    # ---- building ---------------------------------------------------------------------
    def new_value(self, type: TensorType, node=None, index: int = 0, name=None) -> Value:
        v = Value(self._next, type, node, index, name)
        self._next += 1
        return v

    def add_input(self, type: TensorType, name: str | None = None) -> Value:
        v = self.new_value(type, name=name)
        self.inputs.append(v)
        return v

    def add_constant(self, name: str, tensor, kind: str = "constant") -> Value:
        """Register a named constant (kind: parameter, buffer or constant) holding `tensor`."""
        if name in self.constants:
            raise GraphError(f"constant {name!r} is defined twice")
        if kind not in _CONSTANT_KINDS:
            raise GraphError(f"unknown constant kind {kind!r}")
        v = self.new_value(TensorType.of(tensor), name=name)
        self.constants[name] = v
        self.constant_kind[name] = kind
        self.constant_data[name] = tensor
        return v

    def fresh_constant_name(self, stem: str = "_tensor_constant") -> str:
        k = 0
        while f"{stem}{k}" in self.constants:
            k += 1
        return f"{stem}{k}"

    def create_node(self, op: str, args, attrs, output_types, **kw) -> Node:
        """A node with fresh output values (not yet placed in `nodes`)."""
        node = Node(op, args, attrs, **kw)
        node.outputs = [self.new_value(t, node, k) for k, t in enumerate(output_types)]
        return node

    def add_node(self, op: str, args, attrs, output_types, **kw) -> Node:
        node = self.create_node(op, args, attrs, output_types, **kw)
        self.nodes.append(node)
        return node

    def remove_constant(self, name: str) -> None:
        del self.constants[name]
        del self.constant_kind[name]
        self.constant_data.pop(name, None)

    def constant_name(self, value: Value) -> str | None:
        """The constant's name when `value` is a constant of this graph, else None."""
        name = value.name
        if value.node is None and name is not None and self.constants.get(name) is value:
            return name
        return None

    # ---- rewrites ----------------------------------------------------------------------
    def replace_uses(self, mapping: dict[int, Value]) -> None:
        """Redirect every read of a value id in `mapping` to its replacement."""
        if not mapping:
            return

        def resolve(v):
            while v.id in mapping:
                v = mapping[v.id]
            return v
        for node in self.nodes:
            node.map_inputs(resolve)
        self.outputs = [resolve(v) for v in self.outputs]

    def copy(self) -> "Graph":
        """A structural copy with new Value/Node objects (same ids; tensors shared)."""
        g = Graph()
        g._next = self._next
        g.input_spec, g.output_spec = self.input_spec, self.output_spec
        g.call_schema, g.fixed_sizes = self.call_schema, self.fixed_sizes
        g.free_dims = self.free_dims
        g.arg_names = self.arg_names
        g.symbols, g.min_sizes = dict(self.symbols), dict(self.min_sizes)
        new: dict[int, Value] = {}

        def clone(v, node=None):
            c = Value(v.id, v.type, node, v.index, v.name)
            new[v.id] = c
            return c
        g.inputs = [clone(v) for v in self.inputs]
        for name, v in self.constants.items():
            g.constants[name] = clone(v)
        g.constant_kind = dict(self.constant_kind)
        g.constant_data = dict(self.constant_data)
        for node in self.nodes:
            c = Node(node.op, node.args, node.attrs, node.inplace, node.compute, node.result,
                     node.body.copy() if node.body is not None else None,
                     [b.copy() for b in node.blocks])
            c.saves, c.tuple_out, c.no_grad = node.saves, node.tuple_out, node.no_grad
            c.map_inputs(lambda v: new[v.id])
            c.outputs = [clone(v, c) for v in node.outputs]
            g.nodes.append(c)
        g.outputs = [new[v.id] for v in self.outputs]
        return g

    # ---- checking ---------------------------------------------------------------------
    def verify(self) -> "Graph":
        """Check the IR invariants; raise GraphError naming the first broken one."""
        defined: dict[int, Value] = {}

        def define(v, what):
            if not isinstance(v, Value) or not isinstance(v.type, TensorType):
                raise GraphError(f"{what} is not a typed value")
            if v.id in defined:
                raise GraphError(f"value %{v.id} is defined twice (again by {what})")
            defined[v.id] = v

        for v in self.inputs:
            define(v, f"input {v.name or v.id}")
        for name, v in self.constants.items():
            if self.constant_kind.get(name) not in _CONSTANT_KINDS:
                raise GraphError(f"constant {name!r} has no valid kind")
            data = self.constant_data.get(name)
            # parameters and buffers are live module state; only plain constants are fixed
            if self.constant_kind[name] == "constant" and data is not None and \
                    TensorType.of(data) != v.type:
                raise GraphError(f"constant {name!r} holds a {TensorType.of(data)} tensor but is "
                                 f"typed {v.type}")
            define(v, f"constant {name!r}")
        for i, node in enumerate(self.nodes):
            self._verify_node(i, node, defined)
            for v in node.outputs:
                if v.node is not node:
                    raise GraphError(f"output %{v.id} of node {i} ({node.op}) does not point "
                                     "back at its node")
                define(v, f"node {i} ({node.op})")
        for v in self.outputs:
            if defined.get(v.id) is not v:
                raise GraphError(f"graph output %{v.id} is not defined")
        return self

    def _verify_node(self, i, node, defined) -> None:
        where = f"node {i} ({node.op})"
        if node.op == FUSION_GROUP:
            if node.body is None:
                raise GraphError(f"{where} has no body")
            node.body.verify()
            if len(node.body.inputs) != len(node.args) or \
                    len(node.body.outputs) != len(node.outputs):
                raise GraphError(f"{where}: body arity does not match the node")
        elif node.op in CONTROL_OPS:
            _verify_control(node, where)
        elif node.op not in REGISTRY:
            raise GraphError(f"{where}: no op named {node.op!r} in the registry")
        if not node.outputs and node.op not in CONTROL_OPS:  # a loop may only write in place
            raise GraphError(f"{where} has no outputs")
        if node.inplace:
            target = node.args[0] if node.args else None
            if not isinstance(target, Value) or len(node.outputs) != 1:
                raise GraphError(f"{where} is in-place but does not write one value into its "
                                 "first argument")
            if target.type != node.outputs[0].type:
                raise GraphError(f"{where} is in-place but changes the type {target.type} to "
                                 f"{node.outputs[0].type}")
        if not all(isinstance(k, str) for k in node.attrs):
            raise GraphError(f"{where} has a non-string attribute name")
        for v in node.inputs():
            if defined.get(v.id) is not v:
                raise GraphError(f"{where} reads %{v.id}, which is not defined before it")
        for a in list(node.args) + list(node.attrs.values()):
            check_literal(a, where)

    # ---- printing ---------------------------------------------------------------------
    def value_names(self) -> dict[int, str]:
        """Display names: inputs and constants by their names (made unique), others by id."""
        names: dict[int, str] = {}
        taken: set[str] = set()

        def claim(v, stem):
            name, k = stem, 0
            while name in taken or name.isdigit():
                k += 1
                name = f"{stem}.{k}"
            taken.add(name)
            names[v.id] = name
        for v in self.inputs:
            claim(v, v.name or f"input{v.id}")
        for name, v in self.constants.items():
            claim(v, name)
        for node in self.nodes:
            for v in node.outputs:
                names[v.id] = str(v.id)
        return names

    def __str__(self) -> str:
        return self._render("graph", [])

    def __repr__(self) -> str:
        return str(self)

    def _render(self, title: str, groups: list) -> str:
        names = self.value_names()
        head = ",\n      ".join(f"%{names[v.id]} : {v.type}" for v in self.inputs)
        lines = [f"{title}({head}):"]
        for name, v in self.constants.items():
            lines.append(f"  %{names[v.id]} : {v.type} = "
                         f"{_CONSTANT_KINDS[self.constant_kind[name]]}[name=\"{name}\"]()")
        for node in self.nodes:
            lines.append("  " + self.format_node(node, names, groups))
            for k, block in enumerate(node.blocks):
                lines.append(_indent(block._render_block(f"block{k}", names), "    "))
        lines.append(f"  return ({', '.join('%' + names[v.id] for v in self.outputs)})")
        text = "\n".join(lines)
        if title == "graph":
            k = 0
            while k < len(groups):
                text += "\n" + groups[k]._render(f"with {FUSION_GROUP}_{k} = graph", groups)
                k += 1
        return text + "\n" if title == "graph" else text

    def _render_block(self, title: str, outer: dict) -> str:
        """A control-flow block, its values named by id (unique across a scripted graph)."""
        names = dict(outer)
        for v in self.inputs:
            names[v.id] = str(v.id)
        for node in self.nodes:
            for v in node.outputs:
                names[v.id] = str(v.id)
        head = ", ".join(f"%{names[v.id]} : {v.type}" for v in self.inputs)
        lines = [f"{title}({head}):"]
        for node in self.nodes:
            lines.append("  " + self.format_node(node, names))
            for k, block in enumerate(node.blocks):
                lines.append(_indent(block._render_block(f"block{k}", names), "    "))
        lines.append(f"  -> ({', '.join('%' + names[v.id] for v in self.outputs)})")
        return "\n".join(lines)

    def format_node(self, node: Node, names: dict[int, str] | None = None,
                    groups: list | None = None) -> str:
        """One node as a line of the printed graph."""
        names = names if names is not None else self.value_names()
        outs = ", ".join(f"%{names[v.id]} : {v.type}" for v in node.outputs)
        op = node.display_op()
        if node.op == FUSION_GROUP and groups is not None:
            op = f"{FUSION_GROUP}_{len(groups)}"
            groups.append(node.body)
        args = [format_literal(a, names) for a in node.args]
        args += [f"{k}={format_literal(v, names)}" for k, v in node.attrs.items()]
        return f"{outs} = {op}({', '.join(args)})"


def _indent(text: str, pad: str) -> str:
    return "\n".join(pad + line for line in text.split("\n"))


def _verify_control(node: Node, where: str) -> None:
    """prim::If(cond, *captured) with blocks [then, else], each taking the captured values
    and returning the node's outputs; prim::Loop(trip, cond, *carried, *captured) with one
    body taking (iteration, cond, *carried, *captured) and returning (cond, *carried)."""
    for block in node.blocks:
        block.verify()
    n_out = len(node.outputs)
    if node.op == IF:
        if len(node.blocks) != 2 or not node.args or not isinstance(node.args[0], Value):
            raise GraphError(f"{where} needs a condition value and two blocks")
        for block in node.blocks:
            if len(block.inputs) != len(node.args) - 1 or len(block.outputs) != n_out:
                raise GraphError(f"{where}: block arity does not match the node")
            for v, o in zip(block.outputs, node.outputs):
                if v.type.dtype is not o.type.dtype:
                    raise GraphError(f"{where}: a block returns {v.type}, the node {o.type}")
        return
    carried = node.attrs.get("carried")
    if len(node.blocks) != 1 or type(carried) is not int or len(node.args) < 2 + carried \
            or carried != n_out:
        raise GraphError(f"{where} needs (trip, cond, *carried, *captured) and one body")
    body = node.blocks[0]
    if len(body.inputs) != len(node.args) or len(body.outputs) != 1 + n_out:
        raise GraphError(f"{where}: body arity does not match the node")
    for v, o in zip(body.outputs[1:], node.outputs):
        if v.type.dtype is not o.type.dtype:
            raise GraphError(f"{where}: the body carries {v.type} into {o.type}")


def format_literal(obj, names: dict[int, str]) -> str:
    """A literal as it appears in the printed graph."""
    if isinstance(obj, Value):
        return "%" + names.get(obj.id, str(obj.id))
    if isinstance(obj, AsTensor):
        return "%" + names.get(obj.value.id, str(obj.value.id))
    if type(obj) is tuple:
        inner = ", ".join(format_literal(o, names) for o in obj)
        return f"({inner},)" if len(obj) == 1 else f"({inner})"
    if type(obj) is list:
        return "[" + ", ".join(format_literal(o, names) for o in obj) + "]"
    if type(obj) is dict:
        return "{" + ", ".join(f"{k!r}: {format_literal(v, names)}" for k, v in obj.items()) + "}"
    if type(obj) is slice:
        parts = ["" if p is None else str(p) for p in (obj.start, obj.stop, obj.step)]
        return ":".join(parts[:2] if obj.step is None else parts)
    if obj is Ellipsis:
        return "..."
    if isinstance(obj, np.ndarray):
        body = np.array2string(obj, separator=", ", threshold=8)
        return f"tensor({body}, dtype={D.from_numpy_dtype(obj.dtype)!r})"
    if isinstance(obj, np.generic):
        return repr(obj.item())
    if isinstance(obj, Device):
        return f"device({str(obj)!r})"
    return repr(obj)


# ---- literals: checking and JSON ------------------------------------------------------------
_PLAIN = (type(None), bool, int, str)


def check_literal(obj, where: str) -> None:
    """Raise GraphError unless `obj` is a literal the IR can hold (and encode; a PythonCall,
    an ignored function a graph calls, is held but never encoded)."""
    if isinstance(obj, _PLAIN) or type(obj) in (float, complex) or obj is Ellipsis:
        return
    if isinstance(obj, (Value, AsTensor, D.dtype, Device, PythonCall)):
        return
    if type(obj) in (tuple, list):
        for o in obj:
            check_literal(o, where)
        return
    if type(obj) is dict:
        for k, o in obj.items():
            if not isinstance(k, str):
                raise GraphError(f"{where}: dict literal with non-string key {k!r}")
            check_literal(o, where)
        return
    if type(obj) is slice:
        for o in (obj.start, obj.stop, obj.step):
            check_literal(o, where)
        return
    if isinstance(obj, (np.ndarray, np.generic)) and obj.dtype in D._BY_NP:
        return
    raise GraphError(f"{where}: a {type(obj).__name__} value cannot be held in the IR "
                     f"({obj!r:.80})")


def _encode_float(x: float):
    if math.isfinite(x):
        return x
    return {"$float": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}


def encode(obj):
    """A literal as JSON-ready data (values become {"$value": id})."""
    t = type(obj)
    if obj is None or t in (bool, int, str):
        return obj
    if t is float:
        return _encode_float(obj)
    if t is SymInt:
        return obj.to_json()
    if isinstance(obj, bool) or isinstance(obj, int) and not isinstance(obj, np.generic):
        return int(obj)
    if isinstance(obj, Value):
        return {"$value": obj.id}
    if isinstance(obj, AsTensor):
        return {"$tensor": obj.value.id}
    if t is complex:
        return {"$complex": [_encode_float(obj.real), _encode_float(obj.imag)]}
    if t is tuple:
        return {"$tuple": [encode(o) for o in obj]}
    if t is list:
        return [encode(o) for o in obj]
    if t is dict:
        return {"$dict": {k: encode(v) for k, v in obj.items()}}
    if t is slice:
        return {"$slice": [encode(obj.start), encode(obj.stop), encode(obj.step)]}
    if obj is Ellipsis:
        return {"$ellipsis": None}
    if isinstance(obj, D.dtype):
        return {"$dtype": obj.name}
    if isinstance(obj, Device):
        return {"$device": str(obj)}
    if isinstance(obj, np.ndarray):
        dt = D.from_numpy_dtype(obj.dtype)
        flat = obj.reshape(-1)
        data = (flat.astype(np.float64) if dt is D.bfloat16 else flat).tolist()
        if dt.category == D._COMPLEX:
            data = [[_encode_float(z.real), _encode_float(z.imag)] for z in data]
        elif dt.category == D._FLOAT:
            data = [_encode_float(x) for x in data]
        return {"$array": {"dtype": dt.name, "shape": list(obj.shape), "data": data}}
    if isinstance(obj, np.generic):
        dt = D.from_numpy_dtype(obj.dtype)
        return {"$scalar": {"dtype": dt.name, "value": encode(obj.item())}}
    raise GraphError(f"a {t.__name__} value cannot be encoded in the IR")


def decode(obj, values: dict[int, Value]):
    """The inverse of `encode`: builds only literals and looks values up by id."""
    if obj is None or type(obj) in (bool, int, str, float):
        return obj
    if type(obj) is list:
        return [decode(o, values) for o in obj]
    if type(obj) is not dict or len(obj) != 1:
        raise GraphError(f"malformed literal {obj!r:.80}")
    (tag, body), = obj.items()
    if tag in ("$value", "$tensor"):
        if type(body) is not int or body not in values:
            raise GraphError(f"literal refers to undefined value {body!r}")
        return values[body] if tag == "$value" else AsTensor(values[body])
    if tag == "$float":
        if body not in ("nan", "inf", "-inf"):
            raise GraphError(f"malformed float literal {body!r}")
        return float(body)
    if tag == "$complex":
        re, im = _pair(body, tag)
        return complex(_real(decode(re, values)), _real(decode(im, values)))
    if tag == "$tuple" and type(body) is list:
        return tuple(decode(o, values) for o in body)
    if tag == "$dict" and type(body) is dict:
        return {k: decode(v, values) for k, v in body.items()}
    if tag == "$sym":
        return SymInt.from_json(body)
    if tag == "$slice" and type(body) is list and len(body) == 3:
        parts = [decode(o, values) for o in body]
        if not all(p is None or type(p) in (int, SymInt) for p in parts):
            raise GraphError(f"malformed slice {body!r}")
        return slice(*parts)
    if tag == "$ellipsis" and body is None:
        return Ellipsis
    if tag == "$dtype" and body in D._BY_NAME:
        return D._BY_NAME[body]
    if tag == "$device":
        return Device(_check_device(body))
    if tag == "$array":
        return _decode_array(body)
    if tag == "$scalar" and type(body) is dict and set(body) == {"dtype", "value"}:
        dt = D._BY_NAME.get(body["dtype"])
        value = decode(body["value"], values)
        if dt is None or type(value) not in (bool, int, float, complex):
            raise GraphError(f"malformed scalar literal {body!r:.80}")
        return dt.np.type(value)
    raise GraphError(f"malformed literal {obj!r:.80}")


def _pair(body, tag):
    if type(body) is not list or len(body) != 2:
        raise GraphError(f"malformed {tag} literal {body!r:.80}")
    return body


def _real(x) -> float:
    if type(x) not in (int, float):
        raise GraphError(f"malformed number {x!r}")
    return float(x)


def _decode_array(body) -> np.ndarray:
    if type(body) is not dict or set(body) != {"dtype", "shape", "data"}:
        raise GraphError("malformed array literal")
    dt = D._BY_NAME.get(body["dtype"])
    shape = body["shape"]
    data = body["data"]
    if dt is None or type(shape) is not list or type(data) is not list or \
            not all(type(s) is int and s >= 0 for s in shape) or \
            len(data) != int(np.prod(shape, dtype=np.int64)):
        raise GraphError("malformed array literal")
    if dt.category == D._COMPLEX:
        items = [complex(_real(decode(p[0], {})), _real(decode(p[1], {})))
                 for p in (_pair(p, "$array") for p in data)]
    elif dt.category == D._FLOAT:
        items = [_real(decode(x, {})) for x in data]
    else:
        if not all(type(x) in (int, bool) for x in data):
            raise GraphError("malformed array literal")
        items = data
    try:
        return np.array(items, dtype=np.float64 if dt is D.bfloat16 else dt.np).astype(
            dt.np).reshape(shape)
    except (OverflowError, ValueError):
        raise GraphError("array literal does not fit its dtype") from None


def literal_key(obj):
    """A hashable key that tells literals apart exactly (1, 1.0 and True differ)."""
    t = type(obj)
    if isinstance(obj, Value):
        return ("v", obj.id)
    if isinstance(obj, AsTensor):
        return ("T", obj.value.id)
    if t in (tuple, list):
        return (t.__name__,) + tuple(literal_key(o) for o in obj)
    if t is dict:
        return ("dict",) + tuple((k, literal_key(v)) for k, v in obj.items())
    if t is slice:
        return ("slice",) + tuple(literal_key(o) for o in (obj.start, obj.stop, obj.step))
    if t is SymInt:
        return ("sym", obj.terms)
    if isinstance(obj, np.ndarray):
        return ("array", obj.dtype.str, obj.shape, obj.tobytes())
    if t is float and math.isnan(obj):
        return ("nan",)
    if isinstance(obj, D.dtype):
        return ("dtype", obj.name)
    if isinstance(obj, Device):
        return ("device", str(obj))
    return (t.__name__, obj)
