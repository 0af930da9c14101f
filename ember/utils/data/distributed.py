"""DistributedSampler: each process of a data-parallel job loads its own share of a dataset."""
from __future__ import annotations

import math
from collections.abc import Iterator

import ember

from .dataset import Dataset
from .sampler import Sampler

__all__ = ["DistributedSampler"]


def _process_group_value(name: str) -> int:
    """The default process group's world size or rank, for a sampler not told them."""
    try:
        import ember.distributed as dist
    except ImportError:
        dist = None
    if dist is None or not dist.is_available():
        raise RuntimeError("Requires distributed package to be available")
    return dist.get_world_size() if name == "num_replicas" else dist.get_rank()


class DistributedSampler(Sampler[int]):
    """The indices of `rank`'s share of `dataset`, out of `num_replicas` equal shares.

    Every replica draws the same permutation (seeded by `seed + epoch`, so call `set_epoch`
    at the start of each epoch to reshuffle) and takes every `num_replicas`-th index from
    `rank` on. The indices are padded by repeating the first ones so all shares have the same
    length, or, with `drop_last`, cut to a multiple of `num_replicas`.

    Args:
        dataset: the map-style dataset to split (only its length is used).
        num_replicas: number of processes (default: the process group's world size).
        rank: this process's share, in [0, num_replicas) (default: its rank in the group).
        shuffle: permute the indices (the same way on every replica).
        seed: base seed of the permutation; must be the same on every replica.
        drop_last: drop the tail instead of padding.

    >>> from ember.utils.data.distributed import DistributedSampler
    >>> [list(DistributedSampler(range(5), num_replicas=2, rank=r, shuffle=False))
    ...  for r in range(2)]
    [[0, 2, 4], [1, 3, 0]]
    """

    def __init__(self, dataset: Dataset, num_replicas: int | None = None,
                 rank: int | None = None, shuffle: bool = True, seed: int = 0,
                 drop_last: bool = False) -> None:
        if num_replicas is None:
            num_replicas = _process_group_value("num_replicas")
        if rank is None:
            rank = _process_group_value("rank")
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        if drop_last and len(dataset) % num_replicas != 0:
            self.num_samples = math.ceil((len(dataset) - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(len(dataset) / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self) -> Iterator[int]:
        if self.shuffle:
            generator = ember.Generator()
            generator.manual_seed(self.seed + self.epoch)
            indices = ember.randperm(len(self.dataset), generator=generator).tolist()
        else:
            indices = list(range(len(self.dataset)))
        if self.drop_last:
            indices = indices[:self.total_size]
        else:
            padding = self.total_size - len(indices)
            indices += (indices * math.ceil(padding / len(indices)))[:padding] if padding else []
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch, which seeds the next pass's permutation (with `seed`)."""
        self.epoch = epoch
