"""Run a graph node by node through `apply`/`apply_`: the path that records autograd, and the
evaluator constant folding uses. Slower than generated code, but it is eager execution."""
from __future__ import annotations

from .._ops.dispatch import apply, apply_
from .._ops.registry import REGISTRY
from .ir import FUSION_GROUP, AsTensor, Graph, Node, Value


def materialize(obj, env: dict):
    """A literal with its values filled in: Tensors for AsTensor, raw arrays for values (ops
    receive arrays inside attributes, e.g. index keys)."""
    if isinstance(obj, Value):
        return env[obj.id]._data
    if isinstance(obj, AsTensor):
        return env[obj.value.id]
    t = type(obj)
    if t is tuple:
        return tuple(materialize(o, env) for o in obj)
    if t is list:
        return [materialize(o, env) for o in obj]
    if t is dict:
        return {k: materialize(v, env) for k, v in obj.items()}
    return obj


def run_node(node: Node, env: dict) -> None:
    """Execute one node, reading its inputs from `env` (value id -> Tensor) and storing its
    outputs there."""
    args = [env[a.id] if isinstance(a, Value) else materialize(a, env) for a in node.args]
    if node.op == FUSION_GROUP:
        outs = run_graph(node.body, args, {})
    else:
        op = REGISTRY[node.op]
        attrs = {k: materialize(v, env) for k, v in node.attrs.items()}
        out = apply_(op, *args, **attrs) if node.inplace else apply(op, *args, **attrs)
        outs = out if type(out) is tuple else (out,)
    for v, t in zip(node.outputs, outs):
        env[v.id] = t


def run_graph(graph: Graph, inputs, constants: dict) -> list:
    """Run the whole graph on Tensors: `inputs` in graph-input order, `constants` by name
    (missing names fall back to the graph's own constant data)."""
    env = {v.id: t for v, t in zip(graph.inputs, inputs)}
    for name, v in graph.constants.items():
        env[v.id] = constants[name] if name in constants else graph.constant_data[name]
    for node in graph.nodes:
        run_node(node, env)
    return [env[v.id] for v in graph.outputs]
