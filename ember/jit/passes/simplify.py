"""Algebraic simplification: x * 1, x + 0, x - 0 and x / 1 become x; a transpose of the same
transpose, or a permute whose composition is the identity, becomes its input; a permute of a
permute becomes one permute; a view/reshape of a view/reshape reads the original tensor (and
disappears when the shape does not change); a transpose of a batched product,
(a @ b).mT, becomes b.mT @ a.mT, so the product is computed in the layout its readers get
(attention's backward returns the key gradient that way: without the rewrite it is a
transposed view, and copying it into the concatenated qkv gradient is a slow gather); a max
pool of a relu whose indices nobody reads pools first (the relu then runs on a quarter of
the values after a 2x2 pool).

A rewrite that would make a result share memory with another value is only done when nothing
writes into either in place and the result is not a graph output aliasing an input or constant.
"""
from __future__ import annotations

import numpy as np

from ..._backend import to_numpy
from ..ir import Graph, Node, TensorType, Value
from .analysis import AliasInfo, is_pure, reader_counts

_SMALL = 64


def _scalar_is(a, target: float, graph: Graph) -> bool:
    """Whether a literal or a small constant tensor equals `target` everywhere."""
    if type(a) in (int, float, bool):
        return a == target
    if isinstance(a, Value):
        name = graph.constant_name(a)
        if name is not None and graph.constant_kind[name] == "constant":
            data = graph.constant_data[name]._data
            return data.size <= _SMALL and bool(np.all(to_numpy(data) == target))
    return False


def _identity_operand(node: Node, graph: Graph):
    """The operand an arithmetic identity reduces the node to, or None."""
    op, args, attrs = node.op, node.args, node.attrs
    if len(args) != 2:
        return None
    x, y = args
    if op == "mul" and not attrs:
        return x if _scalar_is(y, 1, graph) else y if _scalar_is(x, 1, graph) else None
    if op == "add" and set(attrs) <= {"alpha"}:
        if _scalar_is(y, 0, graph):
            return x
        return y if _scalar_is(x, 0, graph) and attrs.get("alpha", 1) == 1 else None
    if op == "sub" and set(attrs) <= {"alpha"}:
        return x if _scalar_is(y, 0, graph) else None
    if op == "div" and attrs.get("rounding_mode") is None and set(attrs) <= {"rounding_mode"}:
        return x if _scalar_is(y, 1, graph) else None
    return None


def simplify(graph: Graph) -> int:
    """Apply the rewrites above until none applies; returns how many were made."""
    total = 0
    while True:
        made = _simplify_once(graph)
        if not made:
            return total
        total += made


def _simplify_once(graph: Graph) -> int:
    info = AliasInfo(graph)
    producers = {v.id: n for n in graph.nodes for v in n.outputs}
    outputs = {v.id for v in graph.outputs}
    held = {v.id for v in graph.inputs} | {v.id for v in graph.constants.values()}
    mapping: dict[int, Value] = {}
    made = 0

    def resolve(v):
        return mapping.get(v.id, v)

    def may_alias(out: Value, x: Value) -> bool:
        if info.is_mutated(out) or info.is_mutated(x):
            return False
        return not (out.id in outputs and info.root(x.id) in held)

    readers = reader_counts(graph)
    for node in list(graph.nodes):
        node.map_inputs(resolve)
        if _swap_product(graph, node, producers, readers, info) or \
                _pool_first(graph, node, producers, readers, info):
            made += 1
            continue
        if not is_pure(node) or node.body is not None or len(node.outputs) != 1:
            continue
        out = node.outputs[0]
        x = _identity_operand(node, graph)
        inner = producers.get(node.args[0].id) if node.args and isinstance(
            node.args[0], Value) else None
        if inner is not None and (inner.inplace or not is_pure(inner)):
            inner = None
        if x is None and inner is not None and inner.op == node.op and \
                not info.is_mutated(out) and not info.is_mutated(inner.args[0]):
            x = _fold_pair(node, inner)
        if isinstance(x, Value) and x is not out and x.type == out.type and may_alias(out, x):
            mapping[out.id] = x
            made += 1
        elif x is True:
            made += 1
    graph.replace_uses(mapping)
    if made:
        from .dce import eliminate_dead_code
        eliminate_dead_code(graph)
    return made


def _last_two(node: Node) -> bool:
    """Whether a transpose node swaps the last two dims of its input."""
    ndim = len(node.args[0].type.shape)
    dims = {node.attrs.get("dim0", 0) % ndim, node.attrs.get("dim1", 1) % ndim}
    return ndim >= 3 and dims == {ndim - 2, ndim - 1}


def _swap_product(graph: Graph, node: Node, producers: dict, readers: dict,
                  info: AliasInfo) -> bool:
    """Rewrite transpose(a @ b) (a batched product read only there) into b.mT @ a.mT, the
    transposes placed just before; True when done. Operands written in place are left alone:
    the product moves to the transpose's position."""
    if node.op != "transpose" or node.saves is not None or node.inplace or \
            not isinstance(node.args[0], Value) or not _last_two(node):
        return False
    mm = producers.get(node.args[0].id)
    if mm is None or mm.op != "matmul" or not is_pure(mm) or readers.get(mm.outputs[0].id) != 1:
        return False
    operands = mm.args
    if len(operands) != 2 or not all(isinstance(v, Value) and len(v.type.shape) >= 2
                                     and not info.is_mutated(v) for v in operands):
        return False
    swapped = []
    for v in reversed(operands):
        shape = v.type.shape
        t = TensorType(v.type.dtype, shape[:-2] + (shape[-1], shape[-2]), v.type.device)
        nd = len(shape)
        swapped.append(graph.create_node("transpose", [v], {"dim0": nd - 2, "dim1": nd - 1},
                                         [t]))
    at = graph.nodes.index(node)
    graph.nodes[at:at] = swapped
    node.op, node.attrs = "matmul", dict(mm.attrs)
    node.args = [t.outputs[0] for t in swapped]
    node.compute, node.result = mm.compute, mm.result
    return True


def _pool_first(graph: Graph, node: Node, producers: dict, readers: dict,
                info: AliasInfo) -> bool:
    """Rewrite max_pool(relu(x)) into relu(max_pool(x)) when only the pool reads the relu
    and nobody reads the pool's indices; True when done. relu is nondecreasing, so the max
    of the relus is the relu of the max (NaN stays NaN either way, and the -inf padding
    never wins a window), and the relu then runs on the pooled, smaller tensor."""
    if node.op != "max_pool" or node.inplace or node.saves is not None or \
            len(node.outputs) != 2 or readers.get(node.outputs[1].id, 0) or \
            not node.args or not isinstance(node.args[0], Value):
        return False
    relu = producers.get(node.args[0].id)
    if relu is None or relu.op != "relu" or not is_pure(relu) or len(relu.args) != 1 or \
            relu.attrs or readers.get(relu.outputs[0].id) != 1 or \
            not isinstance(relu.args[0], Value) or info.is_mutated(relu.outputs[0]) or \
            relu.outputs[0].type != relu.args[0].type:
        return False
    pooled = node.outputs[0]
    inner = graph.new_value(pooled.type, node, 0)
    node.args[0], node.outputs[0] = relu.args[0], inner
    relu.args, relu.outputs = [inner], [pooled]
    pooled.node, pooled.index = relu, 0
    producers[inner.id], producers[pooled.id] = node, relu
    graph.nodes.remove(relu)
    graph.nodes.insert(graph.nodes.index(node) + 1, relu)
    return True


def _fold_pair(node: Node, inner: Node):
    """For op(op(x, ...), ...): the value it equals, True after rewriting `node` in place to
    read x directly, or None."""
    x = inner.args[0]
    if node.op == "transpose":
        a = {node.attrs.get("dim0"), node.attrs.get("dim1")}
        b = {inner.attrs.get("dim0"), inner.attrs.get("dim1")}
        return x if a == b else None
    if node.op == "permute":
        first, second = inner.attrs.get("dims"), node.attrs.get("dims")
        if not isinstance(first, tuple) or not isinstance(second, tuple):
            return None
        composed = tuple(first[d] for d in second)
        if composed == tuple(range(len(composed))):
            return x
        node.args[0] = x
        node.attrs["dims"] = composed
        return True
    if node.op == "view" and isinstance(x, Value):
        if node.attrs.get("shape") == x.type.shape:
            return x
        node.args[0] = x
        if inner.attrs.get("copy_ok") or node.attrs.get("copy_ok"):
            node.attrs["copy_ok"] = True
        return True
    return None
