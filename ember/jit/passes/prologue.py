"""Bias adds folded into the kernel that reads them: `gelu(mm + bias)`, a Linear layer
followed by its activation, runs as one pass that adds the bias on the way in.

NumPy adds a bias in a pass of its own over the product (in place, but still a read and a
write of every element); gelu's kernel reads each element anyway. The add is folded only when
gelu is the very next node and the add's result is read by it alone (so nothing else, and no
backward formula, needs the biased values: gelu's backward reads the derivative it kept), the
bias is one value per last-dim entry, and both are float32 or float64. The numba form checks
the arrays at run time and otherwise adds first (op_kernels.gelu_biased).
"""
from __future__ import annotations

from ..ir import Graph, Node, Value
from .analysis import FLOATS, reader_counts



def bias_prologues(graph: Graph) -> dict[int, Node]:
    """{id(add node): the gelu node it folds into} for the top-level nodes of `graph`."""
    readers = reader_counts(graph)
    found = {}
    for add, nxt in zip(graph.nodes, graph.nodes[1:]):
        if _biased(add) and nxt.op == "gelu" and not nxt.inplace and nxt.compute is None \
                and nxt.args and nxt.args[0] is add.outputs[0] and \
                readers.get(add.outputs[0].id) == 1 and \
                nxt.attrs.get("approximate", "none") == "none":
            found[id(add)] = nxt
    return found


def _biased(node: Node) -> bool:
    """Whether the node is `x + b` with b a vector along x's last dim, of x's float dtype."""
    if node.op != "add" or node.inplace or node.compute is not None or \
            node.result is not None or node.attrs not in ({}, {"alpha": 1}) or \
            len(node.args) != 2 or len(node.outputs) != 1:
        return False
    x, b = node.args
    if not (isinstance(x, Value) and isinstance(b, Value)):
        return False
    shape = x.type.shape
    return (x.type.dtype in FLOATS and b.type.dtype is x.type.dtype and len(shape) >= 1
            and len(b.type.shape) == 1 and b.type.shape[0] == shape[-1]
            and node.outputs[0].type == x.type and x.type.device == "cpu")
