"""Lookups by integer index: embedding, embedding_bag, one_hot."""
from __future__ import annotations

from ... import _dtype as D
from ..._ops.creation import arange, zeros
from ..._ops.dispatch import apply
from ..._ops.indexing import index_add, scatter_reduce
from ..._ops.linalg import vector_norm
from ..._ops.nn_ops import Embedding
from ..._ops.pointwise import where
from ..._ops.sorting import bincount, searchsorted, unique
from ..._tensor import Tensor
from ...autograd.grad_mode import no_grad

__all__ = ["embedding", "embedding_bag", "one_hot"]

_TENSOR_TYPES = {D.float32: "FloatTensor", D.float64: "DoubleTensor", D.float16: "HalfTensor",
                 D.bfloat16: "BFloat16Tensor", D.int16: "ShortTensor", D.int8: "CharTensor",
                 D.uint8: "ByteTensor", D.bool: "BoolTensor"}


def _check_indices(input: Tensor, num: int, op: str, values: bool = True) -> None:
    """The indices' dtype, and (`values`) their range, read from the raw array so that a
    trace neither records the check nor warns about it (embedding's op checks the range
    itself, so compiled graphs keep the check)."""
    if input._dtype not in (D.int64, D.int32):
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got torch."
                           f"{_TENSOR_TYPES.get(input._dtype, input._dtype.name)} instead "
                           f"(while checking arguments for {op})")
    if values and input.numel() and (int(input._data.min()) < 0 or
                                     int(input._data.max()) >= num):
        raise IndexError("index out of range in self")


def _padding_index(padding_idx, num: int):
    """padding_idx as a row number (negative counts from the end), or None."""
    if padding_idx is None:
        return None
    if not -num <= padding_idx < num:
        raise AssertionError("Padding_idx must be within num_embeddings")
    return padding_idx + num if padding_idx < 0 else padding_idx


def _renorm_(weight: Tensor, input: Tensor, max_norm: float, norm_type: float) -> None:
    """Scale in place the rows of weight that input uses whose norm exceeds max_norm."""
    with no_grad():
        rows = unique(input.reshape(-1))
        picked = weight[rows]
        norms = vector_norm(picked, norm_type, 1, True)
        scale = where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        weight.index_copy_(0, rows, picked * scale)


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """The rows of `weight` at the integer positions in `input` (shape input.shape + (D,)).

    padding_idx's row gets no gradient; max_norm renormalizes the used rows in place first;
    scale_grad_by_freq divides each row's gradient by its count in the batch. `sparse` is
    accepted, the gradient is dense.

    >>> import ember
    >>> w = ember.arange(6.0).reshape(3, 2)
    >>> ember.nn.functional.embedding(ember.tensor([2, 0]), w)
    tensor([[4., 5.],
            [0., 1.]])
    """
    if weight.ndim != 2:
        raise RuntimeError("'weight' must be 2-D")
    num = weight.shape[0]
    padding_idx = _padding_index(padding_idx, num)
    _check_indices(input, num, "embedding", values=False)
    if max_norm is not None:
        _renorm_(weight, input, max_norm, norm_type)
    return apply(Embedding, weight, input, padding_idx=padding_idx,
                 scale_grad_by_freq=scale_grad_by_freq)


def _bag_ids(input: Tensor, offsets: Tensor | None, include_last_offset: bool, op: str):
    """Flat indices, the bag number of each and the number of bags."""
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated "
                             "is a mini-batch of fixed length sequences. However, found offsets "
                             f"of type {type(offsets)}")
        bags, length = input.shape
        ids = arange(bags, device=input.device).repeat_interleave(length)
        return input.reshape(-1), ids, bags
    if input.ndim != 1:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{input.ndim}")
    if offsets is None:
        raise ValueError("offsets has to be a 1D Tensor but got None")
    if offsets.ndim != 1:
        raise ValueError("offsets has to be a 1D Tensor")
    if offsets.numel() and int(offsets[0]) != 0:
        raise RuntimeError(f"{op}: offsets[0] has to be 0, i.e., the first sequence in the "
                           f"mini-batch has to start from position 0. However, got "
                           f"{int(offsets[0])}")
    bags = offsets.numel() - (1 if include_last_offset else 0)
    starts = offsets[:bags].to(D.int64)
    positions = arange(input.numel(), device=input.device)
    ids = searchsorted(starts, positions, right=True) - 1
    if include_last_offset and bags >= 0:
        ids = where(positions < offsets[bags], ids, -1)
    return input, ids, bags


def embedding_bag(input: Tensor, weight: Tensor, offsets: Tensor | None = None,
                  max_norm: float | None = None, norm_type: float = 2,
                  scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> Tensor:
    """Sums, means or maxima of bags of embeddings, without building the (bag, item) tensor.

    Bags are the rows of a 2-D input, or the runs of a 1-D input starting at `offsets`
    (plus a final end offset with include_last_offset). Entries equal to padding_idx are left
    out; an empty bag gives zeros.

    >>> import ember
    >>> w = ember.arange(6.0).reshape(3, 2)
    >>> ember.nn.functional.embedding_bag(ember.tensor([0, 2, 1]), w, ember.tensor([0, 2]),
    ...                                   mode="sum")
    tensor([[4., 6.],
            [2., 3.]])
    """
    if weight.ndim != 2:
        raise RuntimeError("'weight' must be 2-D")
    if mode not in ("sum", "mean", "max"):
        raise ValueError("mode has to be one of sum, mean or max")
    if per_sample_weights is not None:
        if mode != "sum":
            raise NotImplementedError(
                "embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                f"supported for mode='sum' (got mode='{mode}'). Please open a feature request "
                "on GitHub.")
        if per_sample_weights.shape != input.shape:
            raise ValueError(f"embedding_bag: If per_sample_weights ({per_sample_weights.shape})"
                             f" is not None, then it must have the same shape as the input "
                             f"({input.shape})")
    num, width = weight.shape
    padding_idx = _padding_index(padding_idx, num)
    _check_indices(input, num, "embedding_bag")
    if max_norm is not None:
        _renorm_(weight, input, max_norm, norm_type)
    flat, ids, bags = _bag_ids(input, offsets, include_last_offset, "embedding_bag")
    keep = ids >= 0
    if padding_idx is not None:
        keep = keep & (flat != padding_idx)
    weights = None if per_sample_weights is None else per_sample_weights.reshape(-1)
    if not bool(keep.all()):
        flat, ids = flat[keep], ids[keep]
        weights = None if weights is None else weights[keep]
    rows = apply(Embedding, weight, flat, padding_idx=None,
                 scale_grad_by_freq=scale_grad_by_freq)
    if weights is not None:
        rows = rows * weights.unsqueeze(1)
    out = zeros(bags, width, dtype=rows.dtype, device=rows.device)
    if mode == "max":
        return scatter_reduce(out, 0, ids.unsqueeze(1).expand(-1, width), rows, "amax",
                              include_self=False)
    out = index_add(out, 0, ids, rows)
    if mode == "mean":
        counts = bincount(ids, minlength=bags).clamp_min(1).to(rows.dtype)
        out = out / counts.unsqueeze(1)
    return out


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot vectors along a new last dim of size num_classes (max + 1 when -1).

    >>> import ember
    >>> ember.nn.functional.one_hot(ember.tensor([0, 2]), 3)
    tensor([[1, 0, 0],
            [0, 0, 1]])
    """
    if tensor._dtype is not D.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    empty = tensor.numel() == 0
    if num_classes == -1:
        if empty:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(tensor.max()) + 1
    elif num_classes < -1:
        raise RuntimeError("num_classes should be positive")
    if not empty:  # checks of the values at hand, on the array: a trace records no value here
        if int(tensor._data.min()) < 0:
            raise RuntimeError("Class values must be non-negative.")
        if int(tensor._data.max()) >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    return (tensor.unsqueeze(-1) == arange(num_classes, device=tensor.device)).to(D.int64)
