"""Freezing: parameters and buffers become plain constants (copies of their current values),
so constant folding can precompute everything that depends only on them."""
from __future__ import annotations

from ..._tensor import Tensor
from ..ir import Graph
from .analysis import AliasInfo


def freeze_constants(graph: Graph, tensors: dict, preserved=()) -> list[str]:
    """Turn the graph's parameter/buffer constants into constants holding a snapshot of
    `tensors[name]`, except those named (or under a submodule named) in `preserved` and those
    the graph writes into. Returns the names left as parameters/buffers."""
    info = AliasInfo(graph)
    kept = []
    for name, v in graph.constants.items():
        if graph.constant_kind[name] == "constant":
            continue
        if info.is_mutated(v) or any(name == p or name.startswith(p + ".") for p in preserved):
            kept.append(name)
            continue
        t = tensors[name]
        graph.constant_kind[name] = "constant"
        graph.constant_data[name] = Tensor._wrap(t._data.copy(), t._dtype, t._device)
    return kept
