"""Variable-length sequences for RNNs: PackedSequence and the pack/pad helpers.

A packed batch stores the rows of time step 0 for every sequence, then those of step 1 for
the sequences still running, and so on (sequences sorted by decreasing length), with
`batch_sizes[t]` the number of rows of step t. Packing and padding are each one index_select
over a host-built index, so gradients flow through them like any other op.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ... import _dtype as D
from ..._device import CPU
from ..._ops.checks import _assert
from ..._ops.creation import arange, full, tensor
from ..._ops.dispatch import observers
from ..._ops.indexing import index_select
from ..._ops.shape import cat
from ..._ops.sorting import sort
from ..._tensor import Tensor

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence",
           "pad_packed_sequence", "pad_sequence", "unpad_sequence", "pack_sequence",
           "unpack_sequence"]

_PackedSequenceBase = namedtuple("PackedSequence_",
                                 ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])


class PackedSequence(_PackedSequenceBase):
    """The packed rows of a batch of variable-length sequences (see the module docstring).

    Build one with pack_padded_sequence or pack_sequence; RNN modules take and return them.

    >>> import ember
    >>> from ember.nn.utils.rnn import pack_sequence
    >>> p = pack_sequence([ember.tensor([1, 2, 3]), ember.tensor([4, 5])])
    >>> p.data, p.batch_sizes
    (tensor([1, 4, 2, 5, 3]), tensor([2, 2, 1]))
    """

    def __new__(cls, data: Tensor, batch_sizes: Tensor | None = None,
                sorted_indices: Tensor | None = None, unsorted_indices: Tensor | None = None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:
            if not isinstance(data, (list, tuple)) or len(data) != 2:
                raise TypeError("PackedSequence(): expected (data, batch_sizes) or data and "
                                "batch_sizes as separate arguments")
            data, batch_sizes = data
        if batch_sizes.device.type != "cpu":
            raise ValueError("batch_sizes should always be on CPU. Instances of PackedSequence "
                             "should never be created manually. They should be instantiated by "
                             "functions like pack_sequence and pack_padded_sequences in "
                             "nn.utils.rnn.")
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs) -> "PackedSequence":
        """Convert `data` like Tensor.to; the indices follow data's device, batch_sizes stays
        on the CPU."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        move = lambda t: None if t is None else t.to(data.device)  # noqa: E731
        return type(self)(data, self.batch_sizes, move(self.sorted_indices),
                          move(self.unsorted_indices))

    def cuda(self, *args, **kwargs) -> "PackedSequence":
        return self.to(self.data.cuda(*args, **kwargs).device)

    def cpu(self) -> "PackedSequence":
        return self.to(CPU)

    def double(self) -> "PackedSequence":
        return self.to(dtype=D.float64)

    def float(self) -> "PackedSequence":
        return self.to(dtype=D.float32)

    def half(self) -> "PackedSequence":
        return self.to(dtype=D.float16)

    def long(self) -> "PackedSequence":
        return self.to(dtype=D.int64)

    def int(self) -> "PackedSequence":
        return self.to(dtype=D.int32)

    def short(self) -> "PackedSequence":
        return self.to(dtype=D.int16)

    def char(self) -> "PackedSequence":
        return self.to(dtype=D.int8)

    def byte(self) -> "PackedSequence":
        return self.to(dtype=D.uint8)

    @property
    def is_cuda(self) -> bool:
        return self.data.is_cuda

    def is_pinned(self) -> bool:
        return False

    def pin_memory(self) -> "PackedSequence":
        return self


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The permutation that undoes `permutation` (None stays None)."""
    if permutation is None:
        return None
    out = permutation.new_empty(permutation.shape)
    return out.scatter_(0, permutation, arange(permutation.numel(),
                                               device=permutation.device))


def _index(values, device) -> Tensor:
    return tensor(np.asarray(values, dtype=np.int64).reshape(-1), device=device)


def _offsets(batch_sizes: np.ndarray) -> np.ndarray:
    return np.concatenate(([0], np.cumsum(batch_sizes)[:-1])).astype(np.int64)


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch (T x B x *, or B x T x * with batch_first) of sequences with the
    given lengths; with enforce_sorted=False the lengths may come in any order.

    >>> import ember
    >>> from ember.nn.utils.rnn import pack_padded_sequence
    >>> x = ember.tensor([[1, 4], [2, 5], [3, 0]])
    >>> pack_padded_sequence(x, [3, 2]).data
    tensor([1, 4, 2, 5, 3])
    """
    if isinstance(lengths, Tensor):
        if lengths.device.type != "cpu" or lengths.dim() != 1:
            raise RuntimeError(f"'lengths' argument should be a 1D CPU int64 tensor, but got "
                               f"{lengths.dim()}D {lengths.device} {lengths.dtype} tensor")
        lengths = lengths.to(D.int64)
    else:
        lengths = tensor(list(lengths), dtype=D.int64)
    sorted_indices = None
    batch_dim = 0 if batch_first else 1
    if not enforce_sorted:
        lengths, sorted_indices = sort(lengths, descending=True, stable=True)
        sorted_indices = sorted_indices.to(input.device)
        input = input.index_select(batch_dim, sorted_indices)
    lens = lengths.numpy()
    if observers:
        # a trace or capture bakes the packing of these lengths in: its graph checks them
        _assert((lengths == tensor(lens)).all(), "pack_padded_sequence(): this graph was "
                f"recorded with lengths {sorted(lens.tolist(), reverse=True)} and packs those "
                "only; record it again for other lengths, or use ember.compile, which "
                "follows them")
    batch = input.shape[batch_dim]
    steps = input.shape[1 - batch_dim]
    if lens.shape[0] != batch:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got "
                           f"{lens.shape[0]} (batch_size={batch})")
    if lens.size and lens.min() <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element "
                           "in 'lengths' that is <= 0")
    if np.any(lens[1:] > lens[:-1]):
        raise RuntimeError("`lengths` array must be sorted in decreasing order when "
                           "`enforce_sorted` is True. You can pass `enforce_sorted=False` to "
                           "pack_padded_sequence and/or pack_sequence to sidestep this "
                           "requirement if you do not need ONNX exportability.")
    if lens.size and lens[0] > steps:
        raise RuntimeError(f"pack_padded_sequence(): a sequence length of {lens[0]} exceeds the "
                           f"{steps} time steps of the input (shape {list(input.shape)})")
    batch_sizes = (lens[None, :] > np.arange(lens[0] if lens.size else 0)[:, None]).sum(1)
    rows = [np.arange(b) for b in batch_sizes]
    if batch_first:
        index = [r * steps + t for t, r in enumerate(rows)]
    else:
        index = [t * batch + r for t, r in enumerate(rows)]
    flat = input.reshape((steps * batch,) + tuple(input.shape[2:]))
    data = index_select(flat, 0, _index(np.concatenate(index) if index else [], input.device))
    return PackedSequence(data, tensor(batch_sizes.astype(np.int64)), sorted_indices, None)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """Undo pack_padded_sequence: (padded batch, lengths), in the original batch order.

    >>> import ember
    >>> from ember.nn.utils.rnn import pack_sequence, pad_packed_sequence
    >>> padded, lengths = pad_packed_sequence(pack_sequence([ember.tensor([1, 2]),
    ...                                                     ember.tensor([3])]))
    >>> padded.tolist(), lengths.tolist()
    ([[1, 3], [2, 0]], [2, 1])
    """
    data, batch_sizes = sequence.data, sequence.batch_sizes.numpy()
    steps = batch_sizes.shape[0]
    if total_length is not None:
        if total_length < steps:
            raise ValueError("Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {steps}")
        steps = total_length
    batch = int(batch_sizes[0]) if batch_sizes.size else 0
    lens = (batch_sizes[None, :] > np.arange(batch)[:, None]).sum(1).astype(np.int64)
    t = np.arange(steps)[:, None]
    b = np.arange(batch)[None, :]
    offsets = np.zeros(steps, dtype=np.int64)
    offsets[:batch_sizes.shape[0]] = _offsets(batch_sizes)
    index = np.where(t < lens[None, :], offsets[:, None] + b, data.shape[0])
    if batch_first:
        index = index.T
    pad = full((1,) + tuple(data.shape[1:]), padding_value, dtype=data.dtype, device=data.device)
    padded = index_select(cat([data, pad]), 0, _index(index, data.device))
    padded = padded.reshape(index.shape + tuple(data.shape[1:]))
    lengths = tensor(lens)
    if sequence.unsorted_indices is not None:
        padded = padded.index_select(0 if batch_first else 1, sequence.unsorted_indices)
        lengths = lengths[sequence.unsorted_indices.cpu()]
    return padded, lengths


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack sequences of different lengths (L_i x *) into one padded tensor, T x B x * (or
    B x T x * with batch_first), padding on the right or the left.

    >>> import ember
    >>> from ember.nn.utils.rnn import pad_sequence
    >>> pad_sequence([ember.tensor([1, 2]), ember.tensor([3])], batch_first=True).tolist()
    [[1, 2], [3, 0]]
    """
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got "
                         f"{padding_side}.")
    if isinstance(sequences, Tensor):
        sequences = sequences.unbind(0)
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    trailing = tuple(sequences[0].shape[1:])
    for s in sequences[1:]:
        if tuple(s.shape[1:]) != trailing:
            raise RuntimeError(f"pad_sequence(): every sequence must have the trailing shape "
                               f"{list(trailing)} of the first, but got {list(s.shape)}")
    lens = np.array([s.shape[0] for s in sequences], dtype=np.int64)
    steps = int(lens.max())
    starts = _offsets(lens)
    t = np.arange(steps)[:, None]
    pos = t - (steps - lens[None, :]) if padding_side == "left" else np.broadcast_to(
        t, (steps, lens.shape[0]))
    index = np.where((pos >= 0) & (pos < lens[None, :]), starts[None, :] + pos, lens.sum())
    if batch_first:
        index = index.T
    first = sequences[0]
    pad = full((1,) + trailing, padding_value, dtype=first.dtype, device=first.device)
    out = index_select(cat(sequences + [pad]), 0, _index(index, first.device))
    return out.reshape(index.shape + trailing)


def unpad_sequence(padded_sequences: Tensor, lengths: Tensor,
                   batch_first: bool = False) -> list[Tensor]:
    """Split a padded batch back into its sequences of the given lengths."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [seq[:int(length)] for seq, length in zip(padded_sequences, lengths)]


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of variable-length sequences (L_i x *), longest first unless
    enforce_sorted=False."""
    lengths = tensor([s.shape[0] for s in sequences], dtype=D.int64)
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The list of sequences a PackedSequence holds, in their original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
