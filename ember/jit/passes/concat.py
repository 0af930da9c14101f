"""Concatenation without copies: a matrix product whose result only reaches a `cat` (or a
contiguous `clone`, a concatenation of one piece) through views writes straight into its
slice of the concatenated buffer, and the views and the copy disappear.

The case this is for is attention's backward: the query, key and value gradients come out of
batched products as (batch, heads, time, head_dim), are transposed and reshaped to (batch,
time, channels), and concatenated into the gradient of the fused qkv projection. Each piece
is copied twice (the reshape of a transposed array copies, then `cat`); here each product
writes into a strided view of the result, which BLAS takes as it is (np.matmul with `out=`).
Likewise the forward's `y.transpose(1, 2).contiguous()` after the attention product.

A piece is written through only when: its chain is views (view/reshape, transpose, permute)
each read once, down to a matmul read once; every dtype is the concatenation's float dtype
with no promotion; and the slice, taken back through the chain, is a view whose rows BLAS can
write (checked on a stand-in array at the traced shapes). In a graph with size symbols the
plan must hold at every size, so each reshape on the way back must also split dims into
others whose sizes multiply to them as polynomials in the symbols (a split is a view at any
strides); buffer shapes and slices are then computed from the symbols at run time. The
products keep their places; the buffer is allocated just before the first of them.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..ir import Graph, Node, Value
from ..symbolic import add_sizes, has_symbols, size_terms, terms_product
from .analysis import AliasInfo, FLOATS, reader_counts

_VIEWS = ("view", "transpose", "permute")


class Slot:
    """Where a product writes: `steps` applied to `buffer[index]` (see `slot_view`)."""

    __slots__ = ("buffer", "index", "steps")

    def __init__(self, buffer: Value, index: tuple, steps: tuple):
        self.buffer = buffer
        self.index = index
        self.steps = steps


class ConcatPlan:
    """`slots`: matmul output id -> Slot; `elided`: ids of the view and cat/clone nodes that
    no longer run; `allocate`: id of the first writing node -> buffers to allocate there."""

    def __init__(self):
        self.slots: dict[int, Slot] = {}
        self.elided: set[int] = set()
        self.allocate: dict[int, list[Value]] = {}


def slot_view(buffer, index: tuple, steps: tuple):
    """The view of `buffer` a product writes into: the slice, then each step (("reshape",
    shape) or ("permute", axes)); the plan checked that no step copies."""
    view = buffer[index]
    for kind, arg in steps:
        view = view.reshape(arg) if kind == "reshape" else view.transpose(arg)
    return view


def plan_concat(graph: Graph) -> ConcatPlan:
    """The write-through plan of `graph`'s top-level nodes (see the module docstring)."""
    plan = ConcatPlan()
    readers = reader_counts(graph)
    info = AliasInfo(graph)
    producers = {v.id: n for n in graph.nodes for v in n.outputs}
    position = {id(n): k for k, n in enumerate(graph.nodes)}
    for node in graph.nodes:
        out = node.outputs[0] if len(node.outputs) == 1 else None
        if out is None or node.compute is not None or node.result is not None or \
                out.type.device != "cpu" or out.type.dtype not in FLOATS:
            continue
        if node.op == "cat" and not node.inplace:
            pieces = _cat_pieces(node)
        elif node.op == "clone" and node.attrs.get("layout") == "contiguous":
            pieces = [(node.args[0], tuple(slice(None) for _ in out.type.shape))]
        else:
            continue
        found = [_piece(v, index, out, readers, producers, info) for v, index in pieces]
        if not found or any(f is None for f in found):
            continue
        first = min((mm for mm, _, _ in found), key=lambda n: position[id(n)])
        plan.allocate.setdefault(id(first), []).append(out)
        plan.elided.add(id(node))
        for mm, chain, slot in found:
            plan.slots[mm.outputs[0].id] = slot
            plan.elided.update(id(n) for n in chain)
    return plan


def _splits(src: tuple, dst: tuple) -> bool:
    """Whether reshaping `src` to `dst` only splits dims: each src dim is the product of a
    run of dst dims, as polynomials in the size symbols."""
    j = 0
    for d in src:
        want, got = size_terms(d), {(): 1}
        while j < len(dst) and got != want:
            got = terms_product(got, size_terms(dst[j]))
            j += 1
        if got != want:
            return False
    return all(size_terms(d) == {(): 1} for d in dst[j:])


def _cat_pieces(node: Node) -> list:
    """[(piece value, its index into the result)] of a cat whose pieces are all values of the
    result's rank (no skipped legacy empties)."""
    out = node.outputs[0]
    ndim = len(out.type.shape)
    dim = node.attrs.get("dim", 0) % ndim if ndim else 0
    pieces, start = [], 0
    for v in node.args:
        if not isinstance(v, Value) or len(v.type.shape) != ndim:
            return []
        stop = add_sizes(start, v.type.shape[dim])
        pieces.append((v, (slice(None),) * dim + (slice(start, stop),)))
        start = stop
    return pieces


def _piece(v: Value, index: tuple, out: Value, readers, producers, info):
    """(matmul node, chain of view nodes, Slot) when `v` can be written through, else None."""
    chain = []
    while True:
        if readers.get(v.id) != 1 or info.is_mutated(v) or v.type.dtype is not out.type.dtype:
            return None
        node = producers.get(v.id)
        if node is None or node.inplace or node.saves is not None or len(node.outputs) != 1:
            return None
        if node.op in _VIEWS:
            chain.append(node)
            v = node.args[0]
            if not isinstance(v, Value):
                return None
            continue
        if node.op != "matmul" or node.compute is not None or node.result is not None or \
                len(node.args) != 2 or not all(isinstance(a, Value) and a.type.dtype is
                                               out.type.dtype and len(a.type.shape) >= 2
                                               for a in node.args):
            return None
        steps = _inverse(chain)
        if steps is None or not _writable_through(out, index, steps, v.type.shape):
            return None
        return node, chain, Slot(out, index, steps)


def _inverse(chain: list) -> tuple | None:
    """Steps that take the piece's layout back to the product's: the inverses of the chain
    (collected from the concatenation back to the product, so the last view comes first)."""
    steps = []
    for node in chain:
        src = node.args[0].type.shape
        ndim = len(src)
        if node.op == "view":
            if not (not has_symbols(src) and not has_symbols(node.outputs[0].type.shape)
                    or _splits(node.outputs[0].type.shape, src)):
                return None
            steps.append(("reshape", tuple(src)))
            continue
        if node.op == "transpose":
            axes = list(range(ndim))
            d0, d1 = node.attrs.get("dim0", 0) % ndim, node.attrs.get("dim1", 1) % ndim
            axes[d0], axes[d1] = axes[d1], axes[d0]
        else:
            dims = node.attrs.get("dims")
            if not isinstance(dims, tuple) or len(dims) != ndim:
                return None
            axes = [int(a) for a in np.argsort([d % ndim for d in dims])]
        steps.append(("permute", tuple(axes)))
    return tuple(steps)


def _writable_through(out: Value, index: tuple, steps: tuple, shape: tuple) -> bool:
    """Whether the steps give a view of `out`'s buffer of the product's shape whose matrices
    BLAS writes in place (unit stride along rows), on a stand-in that never touches memory."""
    dtype = out.type.dtype.np
    itemsize = np.dtype(dtype).itemsize
    strides, acc = [], itemsize
    full = tuple(int(n) for n in out.type.shape)  # a SymInt's int is its traced size
    for n in reversed(full):
        strides.append(acc)
        acc *= max(n, 1)
    index = tuple(slice(None if s.start is None else int(s.start),
                        None if s.stop is None else int(s.stop)) for s in index)
    view = as_strided(np.zeros(1, dtype), full, tuple(reversed(strides)),
                      writeable=False)[index]
    for kind, arg in steps:
        if kind == "permute":
            view = view.transpose(arg)
            continue
        view = _reshaped_view(view, tuple(int(n) for n in arg))
        if view is None:
            return False
    return view.shape == tuple(int(n) for n in shape) and \
        (view.shape[-1] <= 1 or view.strides[-1] == itemsize) and \
        view.strides[-2] >= view.shape[-1] * itemsize


def _reshaped_view(view, shape):
    """`view` reshaped without copying, or None where that needs a copy."""
    try:
        return view.reshape(shape, copy=False)
    except ValueError:
        return None
    except TypeError:  # NumPy before 2.1 has no copy argument
        flat = view.view()
        try:
            flat.shape = shape
        except AttributeError:
            return None
        return flat
