"""Graph passes, one module each: dead-code elimination (dce), common-subexpression
elimination (cse), constant folding (constant_folding), algebraic simplification (simplify),
freezing of parameters (freeze), BatchNorm folding into frozen conv/linear layers (fold_bn),
weight layouts for frozen matmuls (prepack), pointwise fusion (fusion) and the buffer-reuse
plan codegen follows (memory, with products written into concatenations: concat). Codegen
also folds a bias add into the gelu after it (prologue) and a leading-dims sum into the
elementwise op before it (epilogue). `optimize` runs the cleanups and fusion in order."""
from __future__ import annotations

from ..ir import Graph
from .constant_folding import fold_constants
from .cse import eliminate_common_subexpressions
from .dce import eliminate_dead_code
from .freeze import freeze_constants
from .fold_bn import fold_batch_norm
from .fusion import fuse_pointwise
from .memory import MemoryPlan, plan_memory
from .prepack import prepack_weights
from .simplify import simplify

__all__ = ["optimize", "eliminate_dead_code", "eliminate_common_subexpressions",
           "fold_constants", "simplify", "freeze_constants", "fuse_pointwise",
           "fold_batch_norm", "prepack_weights", "plan_memory", "MemoryPlan"]


def optimize(graph: Graph, fuse: bool = True, fold_factories: bool = True) -> Graph:
    """Clean up and speed up `graph` in place: fold constants, simplify, merge repeats, drop
    dead code, then (optionally) fuse pointwise chains. Returns the verified graph.
    `fold_factories=False` keeps factory ops (see OpDef.creates) for dynamic graphs (a symbolic
    graph's factories of sizes that follow its inputs never fold)."""
    for _ in range(4):
        changed = fold_constants(graph, fold_factories=fold_factories)
        changed += simplify(graph)
        changed += eliminate_common_subexpressions(graph)
        changed += eliminate_dead_code(graph)
        if not changed:
            break
    if fuse:
        fuse_pointwise(graph)
    return graph.verify()
