"""Constant folding and propagation: a pure node whose inputs are all foldable constants is
run once at compile time (through `apply`, i.e. eager semantics) and its outputs become new
constants, so the nodes that read them may fold in turn.

A node whose literals or result types hold size expressions (a symbolic graph's view targets,
a factory of the batch size) never folds: its result depends on each call's sizes.

Foldable constants are the anonymous ones (tensors the traced code built or captured).
Parameters and buffers fold only once `freeze` has turned them into constants. A constant that
some node writes into in place, or one that requires grad (a captured parameter), never folds.
"""
from __future__ import annotations

from ..._ops.registry import REGISTRY
from ..._tensor import Tensor
from ...autograd.grad_mode import no_grad
from ..interpreter import run_node
from ..ir import Graph
from ..symbolic import has_symbols
from .analysis import AliasInfo, is_pure


def fold_constants(graph: Graph, max_elements: int = 1 << 26,
                   fold_factories: bool = True) -> int:
    """Fold every node computable from foldable constants (factory ops, which read nothing,
    too unless `fold_factories` is False); returns how many were folded. Results larger than
    `max_elements` elements are left to run time."""
    info = AliasInfo(graph)
    foldable = {v.id for name, v in graph.constants.items()
                if graph.constant_kind[name] == "constant" and not info.is_mutated(v)
                and not graph.constant_data[name]._requires_grad}
    env = {}
    mapping = {}
    kept = []
    folded = 0
    for node in graph.nodes:
        node.map_inputs(lambda v: mapping.get(v.id, v))
        inputs = node.inputs()
        factory = not inputs and fold_factories and getattr(REGISTRY.get(node.op), "creates",
                                                            False)
        if not (is_pure(node) and (inputs or factory) and all(v.id in foldable for v in inputs)) \
                or has_symbols(node.args) or has_symbols(node.attrs) or \
                any(has_symbols(v.type.shape) or info.is_mutated(v) for v in node.outputs) or \
                sum(_numel(v.type.shape) for v in node.outputs) > max_elements:
            kept.append(node)
            continue
        for v in inputs:
            if v.id not in env:
                env[v.id] = graph.constant_data[v.name]
        with no_grad():
            run_node(node, env)
        for out in node.outputs:
            t = env[out.id]
            const = graph.add_constant(graph.fresh_constant_name("_folded"),
                                       Tensor._wrap(t._data, t._dtype, t._device))
            mapping[out.id] = const
            foldable.add(const.id)
            env[const.id] = env[out.id]
        folded += 1
    graph.nodes = kept
    graph.outputs = [mapping.get(v.id, v) for v in graph.outputs]
    return folded


def _numel(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n
