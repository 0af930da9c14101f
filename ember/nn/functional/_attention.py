"""Attention: scaled_dot_product_attention and multi_head_attention_forward (the computation
behind nn.MultiheadAttention), composed from registry ops."""
from __future__ import annotations

import math
import warnings

from ... import _dtype as D
from ..._ops.creation import ones, zeros, zeros_like
from ..._ops.linalg import bmm, matmul
from ..._ops.dispatch import AutocastState, apply, autocast_inputs
from ..._ops.nn_ops import MaskedSoftmax, softmax
from ..._ops.registry import composite
from ..._ops.shape import broadcast_shapes, cat
from ..._tensor import Tensor
from ...testing.opinfo import Arg, Sample
from ..attention import _require_allowed_kernel
from ._dropout import dropout
from ._linear import linear

# The private helpers are listed too: torch's transformer code (and code copied from it) calls
# them as F._canonical_mask, F._none_or_dtype, F._in_projection_packed, ...
__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward", "_canonical_mask",
           "_none_or_dtype", "_in_projection_packed", "_in_projection", "_mha_shape_check"]

_NEG_INF = float("-inf")


def _sdpa_checks(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None) -> None:
    if query.dim() < 2 or key.dim() < 2 or value.dim() < 2:
        raise RuntimeError(f"scaled_dot_product_attention(): expected query, key and value to be "
                           f"at least 2-D, but got {query.dim()}-D, {key.dim()}-D and "
                           f"{value.dim()}-D tensors")
    if query.dtype is not key.dtype or query.dtype is not value.dtype:
        raise RuntimeError(f"Expected query, key, and value to have the same dtype, but got "
                           f"query.dtype: {query.dtype} key.dtype: {key.dtype} and value.dtype: "
                           f"{value.dtype} instead.")
    if query.shape[-1] != key.shape[-1]:
        raise RuntimeError(f"scaled_dot_product_attention(): query's last size {query.shape[-1]} "
                           f"must equal key's {key.shape[-1]} (query {list(query.shape)}, key "
                           f"{list(key.shape)})")
    if key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"scaled_dot_product_attention(): key and value must hold the same "
                           f"number of positions, got key {list(key.shape)} and value "
                           f"{list(value.shape)}")
    if attn_mask is not None and attn_mask.dtype is not D.bool and \
            attn_mask.dtype is not query.dtype:
        raise RuntimeError(f"Expected attn_mask dtype to be bool or float or to match query "
                           f"dtype, but got attn_mask.dtype: {attn_mask.dtype} and "
                           f"query.dtype: {query.dtype} instead.")


def _repeat_heads(query: Tensor, kv: Tensor) -> Tensor:
    """Grouped-query attention: each key/value head serves a group of query heads."""
    heads, kv_heads = query.shape[-3], kv.shape[-3]
    if kv_heads == heads:
        return kv
    if query.dim() < 3 or heads % kv_heads:
        raise RuntimeError(f"scaled_dot_product_attention(): with enable_gqa the number of "
                           f"key/value heads ({kv_heads}) must divide the number of query heads "
                           f"({heads})")
    return kv.repeat_interleave(heads // kv_heads, -3)


@composite(samples=(
    Sample(lambda t, q, k, v: t.nn.functional.scaled_dot_product_attention(q, k, v),
           ((2, 3, 4), (2, 5, 4), (2, 5, 3))),
    Sample(lambda t, q, k, v, m: t.nn.functional.scaled_dot_product_attention(q, k, v, m),
           ((1, 2, 3, 4), (1, 2, 5, 4), (1, 2, 5, 2), (3, 5)), name="float_mask"),
    Sample(lambda t, q, k, v, m: t.nn.functional.scaled_dot_product_attention(
        q, k, v, attn_mask=m, scale=0.3),
        ((2, 3, 4), (2, 3, 4), (2, 3, 4),
         Arg(values=[[True, False, True], [False, False, False], [True, True, True]],
             dtype="bool", grad=False)), name="bool_mask_dead_row"),
    Sample(lambda t, q, k, v: t.nn.functional.scaled_dot_product_attention(
        q, k, v, is_causal=True), ((2, 4, 3), (2, 5, 3), (2, 5, 3)), name="causal"),
    Sample(lambda t, q, k, v: t.nn.functional.scaled_dot_product_attention(
        q, k, v, enable_gqa=True), ((1, 4, 3, 2), (1, 2, 3, 2), (1, 2, 3, 2)), name="gqa")))
def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(q k^T * scale + mask) v over the last two dimensions (..., L, E) x (..., S, E).

    A bool attn_mask marks the positions that may be attended to; a float one is added to the
    scores. is_causal (no attn_mask then) masks the keys after each query, aligned top-left.
    Queries that may attend to nothing get zeros. dropout_p drops attention weights.

    >>> import ember
    >>> q = ember.ones(1, 2, 4)
    >>> ember.nn.functional.scaled_dot_product_attention(q, q, q).shape
    torch.Size([1, 2, 4])
    """
    if AutocastState.active:  # one autocast op in torch: a float mask is cast with q, k and v
        query, key, value, attn_mask = autocast_inputs("lower", (query, key, value, attn_mask))
    _sdpa_checks(query, key, value, attn_mask)
    _require_allowed_kernel(query, key, value, attn_mask, dropout_p)
    if enable_gqa:
        key, value = _repeat_heads(query, key), _repeat_heads(query, value)
    length, source = query.shape[-2], key.shape[-2]
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1])
    scores = matmul(query, key.transpose(-2, -1))
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be "
                               "set when is_causal=True")
        # every query sees at least the first key: no row is fully masked
        hidden = ones(length, source, dtype=D.bool, device=query.device).tril().logical_not()
        weights = _masked_softmax(scores, hidden, scale)
    elif attn_mask is not None and attn_mask.dtype is D.bool:
        weights = _masked_softmax(scores, attn_mask.logical_not(), scale)
    else:
        scores = scores * scale
        dead = None
        if attn_mask is not None:
            scores = scores + attn_mask
            # rows with nothing to attend to give zeros (branch-free, so graphs capture it)
            dead = (scores == _NEG_INF).all(-1, keepdim=True)
            scores = scores.masked_fill(dead, 0.0)
        weights = softmax(scores, -1)
        if dead is not None:
            weights = weights.masked_fill(dead, 0.0)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, training=True)
    return matmul(weights, value)


def _masked_softmax(scores: Tensor, hidden: Tensor, scale: float) -> Tensor:
    """Attention weights: softmax(scores * scale) over the keys, 0 where `hidden` holds (and
    for queries that see no key). A mask that broadcasts beyond the scores widens them."""
    shape = broadcast_shapes(scores.shape, hidden.shape)
    if shape != scores.shape:
        scores = scores.expand(shape)
    return apply(MaskedSoftmax, scores, hidden, dim=-1, scale=float(scale))


def _none_or_dtype(input: Tensor | None):
    """The dtype of an optional mask (None stays None)."""
    if input is None:
        return None
    if isinstance(input, Tensor):
        return input.dtype
    raise RuntimeError("input to _none_or_dtype() must be None or torch.Tensor")


def _canonical_mask(mask: Tensor | None, mask_name: str, other_type, other_name: str,
                    target_type, check_other: bool = True) -> Tensor | None:
    """A bool mask (True = masked out) as a float mask of target_type (-inf where masked);
    float masks pass through."""
    if mask is None:
        return None
    if mask.dtype is not D.bool and not mask.is_floating_point():
        raise AssertionError(f"only bool and floating types of {mask_name} are supported")
    if check_other and other_type is not None and mask.dtype is not other_type:
        warnings.warn(f"Support for mismatched {mask_name} and {other_name} is deprecated. Use "
                      "same type for both instead.", stacklevel=3)
    if mask.dtype is D.bool:
        return zeros_like(mask, dtype=target_type).masked_fill_(mask, _NEG_INF)
    return mask


def _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads) -> bool:
    """Whether the call is batched (3-D query); checks the other inputs' dimensions."""
    if query.dim() == 3:
        kind, want_kpm = "batched (3-D)", 2
    elif query.dim() == 2:
        kind, want_kpm = "unbatched (2-D)", 1
    else:
        raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received "
                             f"{query.dim()}-D query tensor")
    dims = query.dim()
    if key.dim() != dims or value.dim() != dims:
        raise AssertionError(f"For {kind} `query`, expected `key` and `value` to be {dims}-D but "
                             f"found {key.dim()}-D and {value.dim()}-D tensors respectively")
    if key_padding_mask is not None and key_padding_mask.dim() != want_kpm:
        raise AssertionError(f"For {kind} `query`, expected `key_padding_mask` to be `None` or "
                             f"{want_kpm}-D but found {key_padding_mask.dim()}-D tensor instead")
    if attn_mask is not None:
        if attn_mask.dim() not in (2, 3):
            raise AssertionError(f"For {kind} `query`, expected `attn_mask` to be `None`, 2-D "
                                 f"or 3-D but found {attn_mask.dim()}-D tensor instead")
        if dims == 2 and attn_mask.dim() == 3:
            expected = (num_heads, query.shape[0], key.shape[0])
            if tuple(attn_mask.shape) != expected:
                raise AssertionError(f"Expected `attn_mask` shape to be {expected} but got "
                                     f"{tuple(attn_mask.shape)}")
    return dims == 3


def _in_projection_packed(q, k, v, w, b=None) -> tuple:
    """q, k, v through the packed (3E x E) projection; one matmul for self-attention."""
    e = q.shape[-1]
    if k is v:
        if q is k:
            return linear(q, w, b).chunk(3, -1)
        w_q, w_kv = w.split([e, 2 * e])
        b_q, b_kv = (None, None) if b is None else b.split([e, 2 * e])
        return (linear(q, w_q, b_q),) + linear(k, w_kv, b_kv).chunk(2, -1)
    w_q, w_k, w_v = w.chunk(3)
    b_q, b_k, b_v = (None, None, None) if b is None else b.chunk(3)
    return linear(q, w_q, b_q), linear(k, w_k, b_k), linear(v, w_v, b_v)


def _in_projection(q, k, v, w_q, w_k, w_v, b_q=None, b_k=None, b_v=None) -> tuple:
    """q, k, v through separate projections (kdim/vdim differ from embed_dim)."""
    e_q, e_k, e_v = q.shape[-1], k.shape[-1], v.shape[-1]
    for name, w, shape in (("query", w_q, (e_q, e_q)), ("key", w_k, (e_q, e_k)),
                           ("value", w_v, (e_q, e_v))):
        if tuple(w.shape) != shape:
            raise AssertionError(f"expecting {name} weights shape of {shape}, but got "
                                 f"{tuple(w.shape)}")
    for name, b in (("query", b_q), ("key", b_k), ("value", b_v)):
        if b is not None and tuple(b.shape) != (e_q,):
            raise AssertionError(f"expecting {name} bias shape of {(e_q,)}, but got "
                                 f"{tuple(b.shape)}")
    return linear(q, w_q, b_q), linear(k, w_k, b_k), linear(v, w_v, b_v)


def _pad_last(mask: Tensor | None) -> Tensor | None:
    """One more (zero) column: the extra key from bias_k or add_zero_attn is never masked."""
    if mask is None:
        return None
    return cat([mask, zeros(mask.shape[:-1] + (1,), dtype=mask.dtype, device=mask.device)], -1)


def _mha_samples():
    def fn(**kw):
        def run(t, q, k, v, w, b, wo, bo, *extra):
            kwargs = dict(kw)
            if "key_padding_mask" in kwargs:
                kwargs["key_padding_mask"] = extra[0]
            return t.nn.functional.multi_head_attention_forward(
                q, k, v, 4, 2, w, b, None, None, False, 0.0, wo, bo, **kwargs)
        return run

    base = ((3, 2, 4), (5, 2, 4), (5, 2, 4), (12, 4), (12,), (4, 4), (4,))
    kpm = Arg(values=[[False, False, True, False, True], [False] * 5], dtype="bool", grad=False)
    return (Sample(fn(), base),
            Sample(fn(need_weights=False, key_padding_mask=True), base + (kpm,),
                   name="no_weights_kpm"),
            Sample(fn(average_attn_weights=False), base, name="per_head"))


@composite(samples=_mha_samples())
def multi_head_attention_forward(query: Tensor, key: Tensor, value: Tensor,
                                 embed_dim_to_check: int, num_heads: int,
                                 in_proj_weight: Tensor | None, in_proj_bias: Tensor | None,
                                 bias_k: Tensor | None, bias_v: Tensor | None,
                                 add_zero_attn: bool, dropout_p: float,
                                 out_proj_weight: Tensor, out_proj_bias: Tensor | None,
                                 training: bool = True, key_padding_mask: Tensor | None = None,
                                 need_weights: bool = True, attn_mask: Tensor | None = None,
                                 use_separate_proj_weight: bool = False,
                                 q_proj_weight: Tensor | None = None,
                                 k_proj_weight: Tensor | None = None,
                                 v_proj_weight: Tensor | None = None,
                                 static_k: Tensor | None = None, static_v: Tensor | None = None,
                                 average_attn_weights: bool = True,
                                 is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
    """Multi-head attention on (L, N, E) query and (S, N, E_k/E_v) key/value (or unbatched
    (L, E)/(S, E)): returns (output (L, N, E), attention weights or None).

    key_padding_mask (N, S) and attn_mask (L, S) or (N * num_heads, L, S) are bool (True =
    not attended) or float (added to the scores). The weights are (N, L, S) averaged over the
    heads, or (N, num_heads, L, S) with average_attn_weights=False.
    """
    batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask",
                                       _none_or_dtype(attn_mask), "attn_mask", query.dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                           "Transformer module method `generate_square_subsequent_mask` to "
                           "create this mask.")
    # is_causal only hints that attn_mask is causal: the mask itself is applied, so that the
    # ops are the same whichever way the hint was set (a trace of TransformerEncoder, which
    # sets it by reading the mask's values, then follows other masks and sizes)
    attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype,
                                check_other=False)
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but "
                             f"got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if tuple(key.shape[:2]) != tuple(value.shape[:2]):
            raise AssertionError(f"key's sequence and batch dims {tuple(key.shape[:2])} do not "
                                 f"match value's {tuple(value.shape[:2])}")
        if q_proj_weight is None or k_proj_weight is None or v_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is True but q_proj_weight, "
                                 "k_proj_weight or v_proj_weight is None")
        biases = (None, None, None) if in_proj_bias is None else in_proj_bias.chunk(3)
        q, k, v = _in_projection(query, key, value, q_proj_weight, k_proj_weight,
                                 v_proj_weight, *biases)
    else:
        if tuple(key.shape) != tuple(value.shape):
            raise AssertionError(f"key shape {tuple(key.shape)} does not match value shape "
                                 f"{tuple(value.shape)}")
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
        q, k, v = _in_projection_packed(query, key, value, in_proj_weight, in_proj_bias)
    if attn_mask is not None:
        if attn_mask.dim() == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError(f"The shape of the 2D attn_mask is {attn_mask.shape}, but "
                                   f"should be {(tgt_len, src_len)}.")
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.dim() == 3:
            if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
                raise RuntimeError(f"The shape of the 3D attn_mask is {attn_mask.shape}, but "
                                   f"should be {(bsz * num_heads, tgt_len, src_len)}.")
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")
    if bias_k is not None and bias_v is not None:
        if static_k is not None or static_v is not None:
            raise AssertionError("bias cannot be added to static key or value.")
        k = cat([k, bias_k.repeat(1, bsz, 1)])
        v = cat([v, bias_v.repeat(1, bsz, 1)])
        attn_mask = _pad_last(attn_mask)
        key_padding_mask = _pad_last(key_padding_mask)
    elif bias_k is not None or bias_v is not None:
        raise AssertionError("bias_k and bias_v must both be given or both be None")
    heads = bsz * num_heads
    q = q.reshape(tgt_len, heads, head_dim).transpose(0, 1)
    k = _heads(k, static_k, heads, head_dim, "static_k")
    v = _heads(v, static_v, heads, head_dim, "static_v")
    if add_zero_attn:
        k = cat([k, zeros((heads, 1, head_dim), dtype=k.dtype, device=k.device)], 1)
        v = cat([v, zeros((heads, 1, head_dim), dtype=v.dtype, device=v.device)], 1)
        attn_mask = _pad_last(attn_mask)
        key_padding_mask = _pad_last(key_padding_mask)
    src_len = k.shape[1]
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (bsz, src_len):
            raise AssertionError(f"expecting key_padding_mask shape of {(bsz, src_len)}, but got "
                                 f"{tuple(key_padding_mask.shape)}")
        kpm = key_padding_mask.reshape(bsz, 1, 1, src_len).expand(-1, num_heads, -1, -1)
        kpm = kpm.reshape(heads, 1, src_len)
        attn_mask = kpm if attn_mask is None else attn_mask + kpm
    if not training:
        dropout_p = 0.0
    if need_weights:
        scores = bmm(q * math.sqrt(1.0 / head_dim), k.transpose(-2, -1))
        if attn_mask is not None:
            scores = scores + attn_mask
        weights = softmax(scores, -1)
        if dropout_p > 0.0:
            weights = dropout(weights, p=dropout_p)
        out = bmm(weights, v).transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
        out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, embed_dim)
        weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(1)
        if not batched:
            out, weights = out.squeeze(1), weights.squeeze(0)
        return out, weights
    if attn_mask is not None:
        attn_mask = attn_mask.unsqueeze(0) if attn_mask.shape[0] == 1 else \
            attn_mask.reshape(bsz, num_heads, -1, src_len)
    q = q.reshape(bsz, num_heads, tgt_len, head_dim)
    k = k.reshape(bsz, num_heads, src_len, head_dim)
    v = v.reshape(bsz, num_heads, src_len, head_dim)
    out = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p)
    out = out.permute(2, 0, 1, 3).reshape(bsz * tgt_len, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, embed_dim)
    return (out if batched else out.squeeze(1)), None


def _heads(x: Tensor, static: Tensor | None, heads: int, head_dim: int, name: str) -> Tensor:
    """(S, N, E) -> (N * num_heads, S, head_dim), or the given precomputed static tensor."""
    if static is None:
        return x.reshape(x.shape[0], heads, head_dim).transpose(0, 1)
    if static.shape[0] != heads:
        raise AssertionError(f"expecting {name}.size(0) of {heads}, but got {static.shape[0]}")
    if static.shape[2] != head_dim:
        raise AssertionError(f"expecting {name}.size(2) of {head_dim}, but got "
                             f"{static.shape[2]}")
    return static
