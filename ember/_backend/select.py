"""Choosing the k smallest or largest entries of a 1-d array as PyTorch's CPU topk does, ties
included.

Among equal values, which ones topk returns is decided by the selection algorithm itself:
torch keeps (value, position) pairs and runs the C++ standard library's heap selection when
k * 64 <= n and its introselect otherwise (median-of-three pivot, Hoare partition, heap
selection past a depth limit, insertion sort on the last few). `numpy.argpartition` breaks ties
differently, so pruning the same tied weights would disagree with torch. This module replays
those algorithms: partitions run vectorized (each step of a Hoare partition swaps the i-th
element from the left that is not below the pivot with the i-th from the right that is not
above it), heap steps run in Python on the k candidates.
"""
from __future__ import annotations

import numpy as np

_CHUNK = 4096


def topk_positions(values: np.ndarray, k: int, largest: bool) -> np.ndarray:
    """Positions of the `k` largest (or smallest) entries of 1-d `values`, the same set
    torch.topk picks on CPU; NaN counts as larger than every number."""
    n = len(values)
    if k == 0:
        return np.empty(0, dtype=np.int64)
    ranks = np.unique(values, return_inverse=True)[1].reshape(-1).astype(np.int64)
    selection = _Selection(-ranks if largest else ranks)
    if k * 64 <= n:
        selection.heap_select(0, k, n)
    else:
        selection.nth_element(k - 1)
    return selection.perm[:k].copy()


class _Selection:
    """A permutation of positions rearranged in place; `key[p]` orders them (smaller first)."""

    def __init__(self, key: np.ndarray):
        self.key = key
        self.perm = np.arange(len(key))

    def _less(self, i: int, j: int) -> bool:
        return self.key[self.perm[i]] < self.key[self.perm[j]]

    def _swap(self, i: int, j: int) -> None:
        p = self.perm
        p[i], p[j] = p[j], p[i]

    @staticmethod
    def _sift(keys: list, positions: list, hole: int, size: int, key, position) -> None:
        """Fill `hole` of the max-heap (keys, positions) with (key, position): move the hole
        down to a leaf along the larger children, then the value back up."""
        top = child = hole
        while child < (size - 1) // 2:
            child = 2 * (child + 1)
            if keys[child] < keys[child - 1]:
                child -= 1
            keys[hole], positions[hole] = keys[child], positions[child]
            hole = child
        if size % 2 == 0 and child == (size - 2) // 2:
            child = 2 * (child + 1)
            keys[hole], positions[hole] = keys[child - 1], positions[child - 1]
            hole = child - 1
        parent = (hole - 1) // 2
        while hole > top and keys[parent] < key:
            keys[hole], positions[hole] = keys[parent], positions[parent]
            hole = parent
            parent = (hole - 1) // 2
        keys[hole], positions[hole] = key, position

    def heap_select(self, first: int, middle: int, last: int) -> None:
        """Leave the (middle - first) smallest of [first, last) in [first, middle): a max-heap
        of the first ones, whose root each smaller later entry replaces."""
        size = middle - first
        positions = self.perm[first:middle].tolist()
        keys = self.key[self.perm[first:middle]].tolist()
        for parent in range((size - 2) // 2, -1, -1):
            self._sift(keys, positions, parent, size, keys[parent], positions[parent])
        rest = self.perm[middle:last]
        rest_keys = self.key[rest]
        for start in range(0, len(rest), _CHUNK):
            chunk = rest_keys[start:start + _CHUNK]
            # the root only decreases, so entries below it now are a superset of later hits
            for j in np.flatnonzero(chunk < keys[0]).tolist():
                if chunk[j] < keys[0]:
                    position = int(rest[start + j])
                    rest[start + j] = positions[0]
                    self._sift(keys, positions, 0, size, chunk[j], position)
        self.perm[first:middle] = positions
        self.perm[middle:last] = rest

    def _median_to_first(self, a: int, b: int, c: int, result: int) -> None:
        less = self._less
        if less(a, b):
            median = b if less(b, c) else c if less(a, c) else a
        else:
            median = a if less(a, c) else c if less(b, c) else b
        self._swap(result, median)

    def _partition(self, first: int, last: int) -> int:
        """Hoare-partition [first + 1, last) around the median of three moved to `first`;
        returns the cut."""
        self._median_to_first(first + 1, first + (last - first) // 2, last - 1, first)
        segment = self.key[self.perm[first:last]]
        pivot = segment[0]
        left = first + 1 + np.flatnonzero(~(segment[1:] < pivot))
        right = first + np.flatnonzero(~(pivot < segment))[::-1]
        common = min(len(left), len(right))
        swaps = int(np.count_nonzero(left[:common] < right[:common]))
        lo, hi = left[:swaps], right[:swaps]
        self.perm[lo], self.perm[hi] = self.perm[hi], self.perm[lo].copy()
        # the left scan stops at the next unswapped candidate or at the last swapped slot
        cut = int(right[swaps - 1]) if swaps else last
        return min(int(left[swaps]), cut) if swaps < len(left) else cut

    def _insertion_sort(self, first: int, last: int) -> None:
        p, key = self.perm, self.key
        for i in range(first + 1, last):
            value = p[i]
            if key[value] < key[p[first]]:
                p[first + 1:i + 1] = p[first:i].copy()
                p[first] = value
                continue
            j = i
            while key[value] < key[p[j - 1]]:
                p[j] = p[j - 1]
                j -= 1
            p[j] = value

    def nth_element(self, nth: int) -> None:
        """Put the entry of rank `nth` at `nth`, smaller ones before it, larger after."""
        first, last = 0, len(self.perm)
        depth = 2 * (last.bit_length() - 1)
        while last - first > 3:
            if depth == 0:
                self.heap_select(first, nth + 1, last)
                self._swap(first, nth)
                return
            depth -= 1
            cut = self._partition(first, last)
            if cut <= nth:
                first = cut
            else:
                last = cut
        self._insertion_sort(first, last)
