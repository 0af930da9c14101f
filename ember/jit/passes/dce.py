"""Dead-code elimination: drop pure nodes whose outputs nothing reads, and unused constants."""
from __future__ import annotations

from ..ir import Graph
from .analysis import is_pure


def eliminate_dead_code(graph: Graph) -> int:
    """Remove dead pure nodes (in-place and random nodes always stay) and constants no node
    reads; returns how many nodes were removed."""
    live = {v.id for v in graph.outputs}
    kept = []
    for node in reversed(graph.nodes):
        if not is_pure(node) or any(v.id in live for v in node.outputs):
            kept.append(node)
            live.update(v.id for v in node.inputs())
    removed = len(graph.nodes) - len(kept)
    graph.nodes = kept[::-1]
    for name, v in list(graph.constants.items()):
        if v.id not in live:
            graph.remove_constant(name)
    return removed
