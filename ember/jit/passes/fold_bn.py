"""BatchNorm folding: an eval-mode batch_norm right after a convolution or a linear layer is
an affine map per channel, so it folds into that layer's weight and bias and disappears.

    conv(x, W, b) -> bn      becomes  conv(x, W * s, (b - mean) * s + beta)
    x @ Wt (+ b)  -> bn      becomes  x @ (Wt * s) + ((b - mean) * s + beta)

with s = gamma / sqrt(running_var + eps) per output channel. It applies to frozen graphs only:
the layer's weight and bias and the norm's statistics and affine parameters must be plain
constants (see `freeze`) that nothing writes into. The layer's output must have no reader but
the batch_norm (otherwise the unnormalized value is still needed), and the linear form needs
a 2-D output so that the normalized dimension 1 is the output features. The folded weights
are computed in float64 and stored in the layer's dtype.
"""
from __future__ import annotations

import numpy as np

from ..._backend import move, to_numpy
from ..._tensor import Tensor
from ..ir import Graph, Node, Value
from .analysis import AliasInfo, reader_counts

_FLOAT_KINDS = "f"


def fold_batch_norm(graph: Graph) -> int:
    """Fold every eligible eval-mode batch_norm into the convolution or linear layer before
    it; returns how many were folded. Unused constants are left to dead-code elimination."""
    info = AliasInfo(graph)
    readers = reader_counts(graph)
    folded = 0
    kept = []
    for node in graph.nodes:
        outcome = _fold_one(graph, node, info, readers) if node.op == "batch_norm" else None
        if outcome is not None:
            folded += 1
        if outcome != "removed":
            kept.append(node)
    graph.nodes = kept
    return folded


def _constant(graph: Graph, obj, info: AliasInfo):
    """The array of a frozen, never-written constant value (None for the literal None);
    False when `obj` is anything else."""
    if obj is None:
        return None
    if not isinstance(obj, Value):
        return False
    name = graph.constant_name(obj)
    if name is None or graph.constant_kind[name] != "constant" or info.is_mutated(obj):
        return False
    data = graph.constant_data[name]
    if data._requires_grad or data._data.dtype.kind not in _FLOAT_KINDS:
        return False
    return to_numpy(data._data)


def _fold_one(graph: Graph, bn: Node, info: AliasInfo, readers: dict):
    """Fold one batch_norm: "removed" (drop the node), "rewritten" (the node became the bias
    add) or None (left alone)."""
    if bn.inplace or len(bn.args) != 5 or bn.attrs.get("training") is not False:
        return None
    x = bn.args[0]
    layer = x.node if isinstance(x, Value) else None
    if layer is None or layer.inplace or readers.get(x.id, 0) != 1 or len(layer.outputs) != 1 \
            or layer.outputs[0].type != bn.outputs[0].type:
        return None
    stats = [_constant(graph, a, info) for a in bn.args[1:]]
    gamma, beta, mean, var = stats
    if any(s is False for s in stats) or mean is None or var is None:
        return None
    scale = 1.0 / np.sqrt(var.astype(np.float64) + float(bn.attrs.get("eps", 1e-5)))
    if gamma is not None:
        scale = scale * gamma
    shift = -mean.astype(np.float64) * scale
    if beta is not None:
        shift = shift + beta
    if layer.op == "convolution":
        return "removed" if _fold_conv(graph, bn, layer, scale, shift, info) else None
    if len(x.type.shape) != 2:
        return None
    if layer.op == "add":
        return "removed" if _fold_linear(graph, bn, layer, scale, shift, info, readers) else None
    if layer.op == "matmul":
        return "rewritten" if _fold_matmul(graph, bn, layer, scale, shift, info) else None
    return None


def _new_constant(graph: Graph, array: np.ndarray, like: Value) -> Value:
    """A fresh constant holding `array` in the dtype and on the device of constant `like`."""
    dtype = like.type.dtype
    device = graph.constant_data[graph.constant_name(like)]._device
    tensor = Tensor._wrap(move(np.ascontiguousarray(array.astype(dtype.np)), device), dtype,
                          device)
    return graph.add_constant(graph.fresh_constant_name("_bn_folded"), tensor)


def _fold_conv(graph, bn, conv, scale, shift, info) -> bool:
    weight = _constant(graph, conv.args[1], info)
    bias = _constant(graph, conv.args[2], info)
    if weight is None or weight is False or bias is False or weight.shape[0] != len(scale):
        return False
    w = weight.astype(np.float64) * scale.reshape((-1,) + (1,) * (weight.ndim - 1))
    b = shift if bias is None else bias.astype(np.float64) * scale + shift
    conv.args[1] = _new_constant(graph, w, conv.args[1])
    conv.args[2] = _new_constant(graph, b, conv.args[1])
    graph.replace_uses({bn.outputs[0].id: conv.outputs[0]})
    return True


def _matmul_weight(graph, mm, info):
    """The (K, N) constant right operand of a plain 2-D matmul node, or None."""
    if not isinstance(mm, Node) or mm.op != "matmul" or mm.inplace or len(mm.args) != 2 or \
            mm.compute is not None or mm.result is not None:
        return None
    w = _constant(graph, mm.args[1], info)
    if w is None or w is False or w.ndim != 2 or len(mm.outputs[0].type.shape) != 2:
        return None
    return w


def _fold_linear(graph, bn, add, scale, shift, info, readers) -> bool:
    """(x @ Wt) + b -> bn: scale Wt's columns and rewrite b; the add yields the result."""
    if len(add.args) != 2 or add.compute is not None or add.result is not None:
        return False
    for k in (0, 1):
        mm_out, bias_value = add.args[k], add.args[1 - k]
        mm = mm_out.node if isinstance(mm_out, Value) else None
        w = _matmul_weight(graph, mm, info)
        bias = _constant(graph, bias_value, info)
        if w is None or bias is None or bias is False or readers.get(mm_out.id, 0) != 1 or \
                w.shape[1] != len(scale) or bias.shape != scale.shape:
            continue
        mm.args[1] = _new_constant(graph, w.astype(np.float64) * scale, mm.args[1])
        add.args[1 - k] = _new_constant(graph, bias.astype(np.float64) * scale + shift,
                                        bias_value)
        graph.replace_uses({bn.outputs[0].id: add.outputs[0]})
        return True
    return False


def _fold_matmul(graph, bn, mm, scale, shift, info) -> bool:
    """x @ Wt -> bn: scale Wt's columns; the norm node itself becomes the bias add."""
    w = _matmul_weight(graph, mm, info)
    if w is None or w.shape[1] != len(scale):
        return False
    mm.args[1] = _new_constant(graph, w.astype(np.float64) * scale, mm.args[1])
    bn.op, bn.attrs = "add", {}
    bn.args = [mm.outputs[0], _new_constant(graph, shift, mm.args[1])]
    bn.compute = bn.result = None
    return True
