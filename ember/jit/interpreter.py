"""Run a graph node by node through `apply`/`apply_`: the path that records autograd, and the
evaluator constant folding uses. Slower than generated code, but it is eager execution."""
from __future__ import annotations

import contextlib

import numpy as np

from .._ops.dispatch import apply, apply_
from .._ops.registry import REGISTRY
from .._tensor import Tensor
from ..autograd.grad_mode import no_grad
from .ir import FUSION_GROUP, IF, LOOP, AsTensor, Graph, Node, SymInt, Value
from .symbolic import symbol_sizes


def materialize(obj, env: dict, sizes: dict | None = None):
    """A literal with its values filled in: Tensors for AsTensor, raw arrays for values (ops
    receive arrays inside attributes, e.g. index keys), and size expressions evaluated at
    `sizes` (symbol -> size) when given."""
    if isinstance(obj, Value):
        return env[obj.id]._data
    if isinstance(obj, AsTensor):
        return env[obj.value.id]
    t = type(obj)
    if t is tuple:
        return tuple(materialize(o, env, sizes) for o in obj)
    if t is list:
        return [materialize(o, env, sizes) for o in obj]
    if t is dict:
        return {k: materialize(v, env, sizes) for k, v in obj.items()}
    if sizes is None:
        return obj
    if t is SymInt:
        return obj.evaluate(sizes)
    if t is slice:
        return slice(*(materialize(o, env, sizes) for o in (obj.start, obj.stop, obj.step)))
    return obj


def run_node(node: Node, env: dict, sizes: dict | None = None) -> None:
    """Execute one node, reading its inputs from `env` (value id -> Tensor) and storing its
    outputs there; `sizes` are the symbols' sizes in a symbolic graph."""
    args = [env[a.id] if isinstance(a, Value) else materialize(a, env, sizes)
            for a in node.args]
    if node.op == IF:
        outs = run_graph(node.blocks[0 if _truth(args[0]) else 1], args[1:], {}, sizes)
    elif node.op == LOOP:
        outs = run_loop(node, args, sizes)
    elif node.op == FUSION_GROUP:
        outs = run_graph(node.body, args, {}, sizes)
    else:
        op = REGISTRY[node.op]
        attrs = {k: materialize(v, env, sizes) for k, v in node.attrs.items()}
        with no_grad() if node.no_grad else contextlib.nullcontext():
            out = apply_(op, *args, **attrs) if node.inplace else apply(op, *args, **attrs)
        outs = out if type(out) is tuple else (out,)
    for v, t in zip(node.outputs, outs):
        env[v.id] = t


def _truth(t) -> bool:
    return bool(t._data.item()) if hasattr(t, "_data") else bool(t)


def run_loop(node: Node, args: list, sizes: dict | None = None) -> list:
    """prim::Loop: run the body while the iteration count is below the trip count (None:
    no limit) and the condition holds; the body returns (cond, *carried)."""
    n = node.attrs["carried"]
    trip = args[0]
    trip = None if trip is None else int(trip._data.item() if hasattr(trip, "_data") else trip)
    cond = args[1]
    carried, captured = list(args[2:2 + n]), list(args[2 + n:])
    body = node.blocks[0]
    i = 0
    while (trip is None or i < trip) and _truth(cond):
        counter = Tensor._wrap_array(np.asarray(i, dtype=np.int64))
        outs = run_graph(body, [counter, cond] + carried + captured, {}, sizes)
        cond, carried = outs[0], list(outs[1:])
        i += 1
    return carried


def run_graph(graph: Graph, inputs, constants: dict, sizes: dict | None = None) -> list:
    """Run the whole graph on Tensors: `inputs` in graph-input order, `constants` by name
    (missing names fall back to the graph's own constant data). A symbolic graph reads its
    symbols' sizes from the inputs; a block gets its graph's `sizes`."""
    if graph.symbols:
        sizes = symbol_sizes(graph, [t.shape for t in inputs])
    env = {v.id: t for v, t in zip(graph.inputs, inputs)}
    for name, v in graph.constants.items():
        env[v.id] = constants[name] if name in constants else graph.constant_data[name]
    for node in graph.nodes:
        run_node(node, env, sizes)
    return [env[v.id] for v in graph.outputs]
