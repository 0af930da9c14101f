"""Fetchers: turn one index (or one list of indices) from the sampler into a collated batch."""
from __future__ import annotations


class _DatasetKind:
    Map = 0
    Iterable = 1


class _MapDatasetFetcher:
    """Index a map-style dataset, through `__getitems__` for whole batches when it has one."""

    def __init__(self, dataset, auto_collation: bool, collate_fn, drop_last: bool):
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn

    def fetch(self, possibly_batched_index):
        if not self.auto_collation:
            return self.collate_fn(self.dataset[possibly_batched_index])
        getitems = getattr(self.dataset, "__getitems__", None)
        if callable(getitems):
            return self.collate_fn(getitems(possibly_batched_index))
        return self.collate_fn([self.dataset[i] for i in possibly_batched_index])


class _IterableDatasetFetcher:
    """Pull samples from one pass over an iterable-style dataset; the index only sets how many."""

    def __init__(self, dataset, auto_collation: bool, collate_fn, drop_last: bool):
        self.dataset_iter = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.ended = False

    def fetch(self, possibly_batched_index):
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.dataset_iter))
        data = []
        for _ in possibly_batched_index:
            try:
                data.append(next(self.dataset_iter))
            except StopIteration:
                self.ended = True
                break
        if not data or (self.drop_last and len(data) < len(possibly_batched_index)):
            raise StopIteration
        return self.collate_fn(data)


def create_fetcher(kind: int, dataset, auto_collation: bool, collate_fn, drop_last: bool):
    fetcher = _MapDatasetFetcher if kind == _DatasetKind.Map else _IterableDatasetFetcher
    return fetcher(dataset, auto_collation, collate_fn, drop_last)
