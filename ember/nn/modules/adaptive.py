"""AdaptiveLogSoftmaxWithLoss: the efficient softmax of Grave et al. (2016) for many classes,
with the frequent classes in a head and the rare ones in smaller tail clusters."""
from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence

from ..._ops.creation import zeros
from ..._ops.reduction import argmax
from ..._ops.shape import cat
from ..._tensor import Tensor
from .. import functional as F
from .container import ModuleList, Sequential
from .linear import Linear
from .module import Module

__all__ = ["AdaptiveLogSoftmaxWithLoss"]

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


class AdaptiveLogSoftmaxWithLoss(Module):
    """Log-probabilities of the targets (and their mean negative as the loss) through a head
    over the `cutoffs[0]` most frequent classes plus one entry per cluster, and a low-rank
    projection per cluster (`in_features // div_value ** (i + 1)` wide) for the rest.

    Args:
        in_features: the size of each input.
        n_classes: the number of classes; targets are in [0, n_classes).
        cutoffs: increasing class indices where the clusters start.
        div_value: how much narrower each cluster's projection is than the previous one.
        head_bias: give the head a bias.

    >>> import ember
    >>> asm = ember.nn.AdaptiveLogSoftmaxWithLoss(8, 10, cutoffs=[4, 8])
    >>> out = asm(ember.randn(3, 8), ember.tensor([0, 5, 9]))
    >>> tuple(out.output.shape), tuple(out.loss.shape)
    ((3,), ())
    """

    def __init__(self, in_features: int, n_classes: int, cutoffs: Sequence[int],
                 div_value: float = 4.0, head_bias: bool = False, device=None,
                 dtype=None) -> None:
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("cutoffs should be a sequence of length larger than 0")
        if (cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1
                or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs)):
            raise ValueError("cutoffs should be a sequence of unique, positive integers sorted "
                             "in an increasing order, where each value is between 1 and "
                             "n_classes-1")
        self.in_features = in_features
        self.n_classes = n_classes
        self.cutoffs = cutoffs + [n_classes]
        self.div_value = div_value
        self.head_bias = head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        self.head = Linear(in_features, self.head_size, bias=head_bias, device=device,
                           dtype=dtype)
        self.tail = ModuleList()
        for i in range(self.n_clusters):
            hidden = int(in_features // (div_value ** (i + 1)))
            classes = self.cutoffs[i + 1] - self.cutoffs[i]
            self.tail.append(Sequential(
                Linear(in_features, hidden, bias=False, device=device, dtype=dtype),
                Linear(hidden, classes, bias=False, device=device, dtype=dtype)))

    def reset_parameters(self) -> None:
        """Re-initialize the head and every cluster's projections."""
        self.head.reset_parameters()
        for to_hidden, to_classes in self.tail:
            to_hidden.reset_parameters()
            to_classes.reset_parameters()

    def forward(self, input_: Tensor, target_: Tensor) -> _ASMoutput:
        """(output, loss): each target's log-probability, and their mean negative."""
        if target_.ndim == 1:
            if input_.shape[0] != target_.shape[0]:
                raise RuntimeError("Input and target should have the same size in the batch "
                                   "dimension.")
            if input_.ndim != 2:
                raise RuntimeError("1D target tensor expects 2D input tensors, but found "
                                   f"inputs with size {input_.shape}")
        elif target_.ndim == 0:
            if input_.ndim != 1:
                raise RuntimeError("0D target tensor expects 1D input tensors, but found "
                                   f"inputs with size {input_.shape}")
        else:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        batched = target_.ndim > 0
        input = input_ if batched else input_.unsqueeze(0)
        target = target_ if batched else target_.unsqueeze(0)
        batch = target.shape[0]
        output = zeros(batch, dtype=input.dtype, device=input.device)
        head_index = target.clone()
        used_rows = 0
        bounds = [0] + self.cutoffs
        for i, (low, high) in enumerate(zip(bounds, bounds[1:])):
            rows = ((target >= low) & (target < high)).nonzero().reshape(-1)
            if rows.numel() == 0:
                continue
            used_rows += rows.numel()
            if i == 0:
                continue
            # rows in cluster i read the head's entry for the cluster, then their class in it
            head_index = head_index.index_fill(0, rows, self.shortlist_size + i - 1)
            relative = target.index_select(0, rows) - low
            cluster = F.log_softmax(self.tail[i - 1](input.index_select(0, rows)), dim=1)
            output = output.index_copy(0, rows, cluster.gather(1, relative.unsqueeze(1))
                                       .squeeze(1))
        if used_rows != batch:
            raise RuntimeError(f"Target values should be in [0, {self.n_classes - 1}], but "
                               f"values in range [{target.min().item()}, "
                               f"{target.max().item()}] were found. ")
        head = F.log_softmax(self.head(input), dim=1)
        output = output + head.gather(1, head_index.unsqueeze(1)).squeeze(1)
        loss = (-output).mean()
        return _ASMoutput(output if batched else output.squeeze(0), loss)

    def _full_log_prob(self, input: Tensor, head_output: Tensor) -> Tensor:
        """Log-probabilities of all classes: the head's shortlist, then each cluster's
        log-softmax plus the head's log-probability of the cluster."""
        head = F.log_softmax(head_output, dim=1)
        parts = [head[:, :self.shortlist_size]]
        for i, projection in enumerate(self.tail):
            cluster = F.log_softmax(projection(input), dim=1)
            parts.append(cluster + head[:, self.shortlist_size + i].unsqueeze(1))
        return cat(parts, dim=1)

    def log_prob(self, input: Tensor) -> Tensor:
        """Log-probabilities of all n_classes for each row of `input` (N, in_features)."""
        return self._full_log_prob(input, self.head(input))

    def predict(self, input: Tensor) -> Tensor:
        """The most probable class of each row, as log_prob(input).argmax(1), computing the
        clusters only for rows whose head prefers a cluster over every shortlist class."""
        head_output = self.head(input)
        output = argmax(head_output, dim=1)
        in_cluster = output >= self.shortlist_size
        if not bool(in_cluster.any()):
            return output
        if bool(in_cluster.all()):
            return argmax(self._full_log_prob(input, head_output), dim=1)
        output[in_cluster] = argmax(self._full_log_prob(input[in_cluster],
                                                        head_output[in_cluster]), dim=1)
        return output
