"""Weight prepacking for frozen graphs: each constant 2-D right operand of a matmul is laid out
for the product the graph runs. A linear layer traces as x @ W.T, a transposed (column-major)
view of the weight: with more than a few rows of x, BLAS multiplies a row-major copy faster
(the MLP of benchmarks/bench_jit.py at batch 64: 946 -> 781 us); with few rows the transposed
view is the fast layout (gemm.matmul runs it as the transposed product), so it stays.
"""
from __future__ import annotations

import math

import numpy as np

from ..._backend import gemm
from ..._tensor import Tensor
from ..ir import Graph
from .analysis import AliasInfo


def prepack_weights(graph: Graph) -> int:
    """Give the constant weights of the graph's matmuls a row-major copy where the traced
    rows make that faster; returns how many were repacked."""
    info = AliasInfo(graph)
    packed = 0
    for node in graph.nodes:
        if node.op != "matmul" or node.inplace:
            continue
        x, w = node.inputs()[:2]
        name = graph.constant_name(w)
        if name is None or graph.constant_kind[name] != "constant" or info.is_mutated(w):
            continue
        data = graph.constant_data[name]
        arr = data._data
        rows = math.prod(x.type.shape[:-1])
        if (isinstance(arr, np.ndarray) and arr.ndim == 2 and not arr.flags.c_contiguous
                and len(x.type.shape) >= 2 and rows > gemm.FEW_ROWS):
            graph.constant_data[name] = Tensor._wrap(np.ascontiguousarray(arr), data._dtype,
                                                     data._device)
            packed += 1
    return packed
