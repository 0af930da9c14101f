"""Facts the passes share: which nodes are pure, which values share memory, which are mutated.

Purity comes from the OpDef: an op is impure when it writes in place (the node's `inplace`
flag) or draws random numbers. OpDefs carry no purity flag yet, so an optional `pure` class
attribute is honoured when present and otherwise random ops are recognised by name.
"""
from __future__ import annotations

from ... import _dtype as D
from ..._ops.registry import REGISTRY
from ..ir import FUSION_GROUP, LOOP, Graph, Node, Value

# the dtypes the CPU kernels that passes plan for take (out= forms, numba forms)
FLOATS = (D.float32, D.float64)
_RANDOM_WORDS = ("dropout", "rand", "bernoulli", "multinomial", "normal", "poisson", "uniform",
                 "exponential", "geometric", "cauchy", "random")


def is_random(op_name: str) -> bool:
    """Whether an op draws random numbers (judged by its name)."""
    return any(word in op_name for word in _RANDOM_WORDS)


def is_pure(node: Node) -> bool:
    """True when the node's outputs depend only on its inputs and it writes nothing."""
    if node.inplace or node.saves is not None:
        # a node with saved-for-backward outputs only runs as the op's own forward call
        return False
    if node.op == FUSION_GROUP:
        return True
    opdef = REGISTRY.get(node.op)
    if opdef is None:
        return False
    flag = getattr(opdef, "pure", None)
    if flag is not None:
        return bool(flag)
    return not is_random(node.op)


def aliases_input(node: Node) -> bool:
    """Whether the node's outputs may share memory with its first argument."""
    if node.inplace:
        return True
    if node.op == FUSION_GROUP:
        return False
    opdef = REGISTRY.get(node.op)
    return bool(opdef is not None and opdef.is_view)


class AliasInfo:
    """Groups values that may share memory (views and in-place results of one another) and
    marks the groups some node writes into, inside control-flow blocks too: a loop that
    writes into a carried buffer writes into the value passed in. With `unknown_fresh`, the
    outputs of ops not known to allocate (OpDef.fresh) may share any input's memory too (an
    op may hand back an input it need not change): groups that surely hold every value whose
    arrays can share memory when the graph runs."""

    def __init__(self, graph: Graph, unknown_fresh: bool = False):
        self._parent: dict[int, int] = {}
        written = set()
        for node in graph.nodes:
            if node.blocks:
                written |= self._through_blocks(node)
            if unknown_fresh and node.op != FUSION_GROUP and not node.blocks and \
                    not getattr(REGISTRY.get(node.op), "fresh", False):
                for out in node.outputs:
                    for v in node.inputs():
                        self._union(out.id, v.id)
            if aliases_input(node) and node.args and isinstance(node.args[0], Value):
                for out in node.outputs:
                    self._union(out.id, node.args[0].id)
            if node.saves is not None:
                # what a forward kept for backward may be a view of any of its inputs
                for out in node.outputs[len(node.outputs) - len(node.saves.items):]:
                    for v in node.inputs():
                        self._union(out.id, v.id)
        self.mutated = {self.root(n.args[0].id) for n in graph.nodes
                        if n.inplace and isinstance(n.args[0], Value)}
        self.mutated |= {self.root(vid) for vid in written}

    def _through_blocks(self, node: Node) -> set:
        """The ids of a control-flow node's arguments its blocks write into; its outputs may
        share memory with its arguments (a loop's with what it carries)."""
        # block inputs receive the node's arguments: a loop body's from the third on (its
        # first two are the counter and the condition), an if's branches' from the second
        offset = 0 if node.op == LOOP else 1
        written = set()
        for block in node.blocks:
            inner = AliasInfo(block)
            for j, v in enumerate(block.inputs):
                k = j + offset
                if inner.is_mutated(v) and (node.op != LOOP or k >= 2) and k < len(node.args) \
                        and isinstance(node.args[k], Value):
                    written.add(node.args[k].id)
        args = [a for a in node.args if isinstance(a, Value)]
        for k, out in enumerate(node.outputs):
            if node.op == LOOP:
                carried = node.args[2 + k] if 2 + k < len(node.args) else None
                if isinstance(carried, Value):
                    self._union(out.id, carried.id)
            else:
                for a in args:
                    self._union(out.id, a.id)
        return written

    def root(self, vid: int) -> int:
        parent = self._parent
        while parent.get(vid, vid) != vid:
            parent[vid] = parent.get(parent[vid], parent[vid])
            vid = parent[vid]
        return vid

    def _union(self, a: int, b: int) -> None:
        ra, rb = self.root(a), self.root(b)
        if ra != rb:
            self._parent[ra] = rb

    def is_mutated(self, value: Value) -> bool:
        """Whether any node writes into memory this value may share."""
        return self.root(value.id) in self.mutated


def reader_counts(graph: Graph) -> dict[int, int]:
    """How many times each value is read (by nodes, counting repeats, and as a graph output)."""
    counts: dict[int, int] = {}
    for node in graph.nodes:
        for v in node.inputs():
            counts[v.id] = counts.get(v.id, 0) + 1
    for v in graph.outputs:
        counts[v.id] = counts.get(v.id, 0) + 1
    return counts
