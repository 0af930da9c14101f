"""Pointwise fusion: group chains of elementwise nodes (OpDef.pointwise, with a lowering in
ember.jit.kernels) into one `prim::FusionGroup` node whose body graph is the chain; code
generation turns the group into a single kernel.

Every node of a group has the group's output shape and reads at least one operand of that
shape (others broadcast into it). A group is placed where its last node was, so it closes as
soon as a node outside it reads one of its values, and at every impure node (in-place writes,
random ops), which keeps every read and write in its original order.
"""
from __future__ import annotations

from ..ir import FUSION_GROUP, Graph, Node, Value
from .analysis import is_pure

MAX_GROUP = 64


class _Group:
    __slots__ = ("members", "shape", "open")

    def __init__(self, shape):
        self.members: list[Node] = []
        self.shape = shape
        self.open = True


def _fusable(node: Node) -> bool:
    from ..kernels import compute_dtype
    if compute_dtype(node) is None:
        return False
    shape = node.outputs[0].type.shape
    return any(isinstance(a, Value) and a.type.shape == shape for a in node.args)


def fuse_pointwise(graph: Graph, min_size: int = 2) -> int:
    """Replace each group of at least `min_size` fusable nodes by a fusion node; returns how
    many groups were made."""
    group_of: dict[int, _Group] = {}
    groups: list[_Group] = []
    for node in graph.nodes:
        if not is_pure(node):
            for g in groups:
                g.open = False
            continue
        touched = []
        for v in node.inputs():
            g = group_of.get(v.id)
            if g is not None and g not in touched:
                touched.append(g)
        if not _fusable(node):
            for g in touched:
                g.open = False
            continue
        shape = node.outputs[0].type.shape
        joinable = [g for g in touched if g.open and g.shape == shape]
        for g in touched:
            if g not in joinable:
                g.open = False
        if joinable and sum(len(g.members) for g in joinable) < MAX_GROUP:
            group = joinable[0]
            for other in joinable[1:]:
                group.members += other.members
                for n in other.members:
                    for v in n.outputs:
                        group_of[v.id] = group
                other.members = []
                other.open = False
        else:
            group = _Group(shape)
            groups.append(group)
        group.members.append(node)
        for v in node.outputs:
            group_of[v.id] = group
    made = 0
    for g in groups:
        if len(g.members) >= min_size:
            _replace(graph, g)
            made += 1
    return made


def _replace(graph: Graph, group: _Group) -> None:
    """Swap the group's nodes for one fusion node placed at its last member."""
    order = {id(n): i for i, n in enumerate(graph.nodes)}
    members = sorted(group.members, key=lambda n: order[id(n)])
    inside = {v.id for n in members for v in n.outputs}
    member_ids = {id(n) for n in members}
    externals: list[Value] = []
    for n in members:
        for v in n.inputs():
            if v.id not in inside and all(v is not e for e in externals):
                externals.append(v)
    read_outside = {v.id for n in graph.nodes if id(n) not in member_ids for v in n.inputs()}
    read_outside |= {v.id for v in graph.outputs}
    results = [v for n in members for v in n.outputs if v.id in read_outside]
    body = Graph()
    inner: dict[int, Value] = {}
    for v in externals:
        inner[v.id] = body.add_input(v.type, v.name)
    for n in members:
        copy = body.create_node(n.op, n.args, n.attrs, [v.type for v in n.outputs],
                                compute=n.compute, result=n.result)
        copy.map_inputs(lambda v: inner[v.id])
        for old, new in zip(n.outputs, copy.outputs):
            inner[old.id] = new
        body.nodes.append(copy)
    body.outputs = [inner[v.id] for v in results]
    fused = Node(FUSION_GROUP, externals, {}, body=body)
    fused.outputs = results
    for k, v in enumerate(results):
        v.node, v.index = fused, k
    last = max(order[id(n)] for n in members)
    graph.nodes[last] = fused
    graph.nodes = [n for n in graph.nodes if id(n) not in member_ids]
