"""Common-subexpression elimination: a pure node that repeats an earlier one (same op, same
inputs, same attributes) is dropped and its outputs read from the earlier node."""
from __future__ import annotations

from ..ir import Graph, literal_key
from .analysis import is_pure


def eliminate_common_subexpressions(graph: Graph) -> int:
    """Merge repeated pure nodes; returns how many were removed. Two calls separated by an
    in-place write are never merged (the memory they read may differ)."""
    seen: dict = {}
    mapping: dict = {}
    kept = []
    epoch = 0

    def resolve(v):
        return mapping.get(v.id, v)
    for node in graph.nodes:
        node.map_inputs(resolve)
        if node.inplace:
            epoch += 1
        if not is_pure(node) or node.body is not None:
            kept.append(node)
            continue
        key = (node.op, literal_key(node.args), literal_key(node.attrs), epoch,
               node.compute and node.compute.name, node.result and node.result.name,
               node.no_grad)
        earlier = seen.get(key)
        if earlier is not None and [v.type for v in earlier.outputs] == \
                [v.type for v in node.outputs]:
            for old, new in zip(node.outputs, earlier.outputs):
                mapping[old.id] = new
            continue
        seen[key] = node
        kept.append(node)
    removed = len(graph.nodes) - len(kept)
    graph.nodes = kept
    graph.outputs = [resolve(v) for v in graph.outputs]
    return removed
