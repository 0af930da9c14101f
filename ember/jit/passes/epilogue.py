"""Sums folded into the elementwise op that produces their input: `(a + b).sum(leading dims)`,
a bias's gradient taken from the gradient flowing past it, runs as one pass that writes the
sum of rows while it writes the rows.

A bias gradient reads the whole gradient again after the op that made it wrote it (in a
transformer's backward: the residual stream's gradient and the MLP's gelu backward). The sum
is folded when its input comes from an add, sub or mul of two same-shape float32/float64
values (no broadcasting, no promotion), it sums the leading dims in the input's dtype, and
nothing writes that input in place. The other readers of the elementwise result still get
it. The numba form checks the arrays at run time (op_kernels.elementwise_row_sum).

Likewise a layer norm's input gradient that is only added to another gradient (the residual
stream's, in a pre-norm block's backward) is added inside the layer norm's backward kernel,
with that sum's row sums when it has them (op_kernels.layer_norm_backward_add): the input
gradient is never written on its own. The other gradient must exist before the layer norm's
backward runs; the memory plan never reuses the unwritten gradient's buffer.
"""
from __future__ import annotations

from ..ir import Graph, Node, Value
from .analysis import AliasInfo, FLOATS

ELEMENTWISE = ("add", "sub", "mul")


def row_sums(graph: Graph) -> dict[int, Node]:
    """{id(elementwise node): the sum node folded into it} for `graph`'s top-level nodes."""
    producers = {v.id: n for n in graph.nodes for v in n.outputs}
    info = AliasInfo(graph)
    found: dict[int, Node] = {}
    for node in graph.nodes:
        if node.op != "sum" or not node.args or not isinstance(node.args[0], Value):
            continue
        source = producers.get(node.args[0].id)
        if source is not None and id(source) not in found and _elementwise(source) and \
                _leading_sum(node) and not info.is_mutated(node.args[0]):
            found[id(source)] = node
    return found


def residual_grads(graph: Graph) -> dict[int, Node]:
    """{id(layer_norm_backward node): the add its input gradient goes to} (see above)."""
    position = {id(n): k for k, n in enumerate(graph.nodes)}
    producers = {v.id: n for n in graph.nodes for v in n.outputs}
    readers: dict[int, list] = {}
    for node in graph.nodes:
        for v in node.inputs():
            readers.setdefault(v.id, []).append(node)
    outputs = {v.id for v in graph.outputs}
    found = {}
    for node in graph.nodes:
        if node.op != "layer_norm_backward" or node.inplace or node.saves is not None or \
                node.compute is not None or node.result is not None:
            continue
        need = node.attrs.get("need")
        gx = node.outputs[0]
        users = readers.get(gx.id, [])
        if not (isinstance(need, tuple) and need and need[0]) or gx.id in outputs or \
                len(users) != 1 or users[0].op != "add" or not _elementwise(users[0]):
            continue
        add = users[0]
        other = add.args[1] if add.args[0] is gx else add.args[0]
        source = producers.get(other.id)
        if other is gx or source is not None and position[id(source)] > position[id(node)]:
            continue
        found[id(node)] = add
    return found


def _elementwise(node: Node) -> bool:
    if node.op not in ELEMENTWISE or node.inplace or node.saves is not None or \
            node.compute is not None or node.result is not None or len(node.outputs) != 1 \
            or node.attrs not in ({}, {"alpha": 1}) or len(node.args) != 2:
        return False
    out = node.outputs[0].type
    return out.dtype in FLOATS and out.device == "cpu" and all(
        isinstance(a, Value) and a.type == out for a in node.args)


def _leading_sum(node: Node) -> bool:
    """A sum over the first k < ndim dims, in its input's dtype."""
    x = node.args[0].type
    ndim = len(x.shape)
    dims = node.attrs.get("dims")
    if node.saves is not None or node.compute is not None or node.result is not None or \
            node.attrs.get("dtype") is not None or not isinstance(dims, tuple) or \
            not 0 < len(dims) < ndim:
        return False
    return sorted(d % ndim for d in dims) == list(range(len(dims))) and \
        node.outputs[0].type.dtype is x.dtype
