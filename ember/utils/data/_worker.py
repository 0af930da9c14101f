"""The DataLoader worker process: its loop, its seeding, and `get_worker_info()`."""
from __future__ import annotations

import os
import pickle
import queue
import random
import sys
import traceback

import numpy as np

import ember

from ._fetch import _DatasetKind, create_fetcher
from ._shm import SegmentWriter, sweep

__all__ = ["WorkerInfo", "get_worker_info"]

# How long a worker waits on its index queue before checking that the main process still lives.
MP_STATUS_CHECK_INTERVAL = 5.0


class WorkerInfo:
    """What a worker knows about itself: `id`, `num_workers`, `seed` and its `dataset` copy."""

    id: int
    num_workers: int
    seed: int
    dataset: object
    __initialized = False

    def __init__(self, **kwargs):
        for key, value in kwargs.items():
            setattr(self, key, value)
        self.__keys = tuple(kwargs)
        self.__initialized = True

    def __setattr__(self, key, value):
        if self.__initialized:
            raise RuntimeError(f"Cannot assign attributes to {type(self).__name__} objects")
        super().__setattr__(key, value)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={getattr(self, k)}" for k in self.__keys)
        return f"{type(self).__name__}({fields})"


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """Inside a DataLoader worker, its WorkerInfo; None in the main process.

    Use it in `IterableDataset.__iter__` or `worker_init_fn` to give each worker its own share
    of the data (`info.id` of `info.num_workers`).

    >>> from ember.utils.data import get_worker_info
    >>> get_worker_info() is None
    True
    """
    return _worker_info


class _KeyErrorMessage(str):
    """A KeyError's message printed as it is (KeyError shows the repr of its argument)."""

    def __repr__(self) -> str:
        return self


class ExceptionWrapper:
    """An exception caught in a worker, carried to the main process with its traceback text."""

    def __init__(self, where: str):
        exc_type, exc, tb = sys.exc_info()
        self.exc_name = exc_type.__name__
        self.exc_type = exc_type if _picklable(exc_type) else RuntimeError
        self.exc_msg = "".join(traceback.format_exception(exc_type, exc, tb))
        self.where = where

    def reraise(self):
        """Raise the original exception type, its message naming the worker and the traceback."""
        msg = f"Caught {self.exc_name} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = _KeyErrorMessage(msg)
        try:
            exception = self.exc_type(msg)
        except Exception:
            raise RuntimeError(msg) from None
        raise exception


def _picklable(cls: type) -> bool:
    try:
        pickle.dumps(cls)
    except Exception:
        return False
    return True


class _IterableDatasetStopIteration:
    """A worker's reply once its copy of an iterable-style dataset is exhausted."""

    def __init__(self, worker_id: int):
        self.worker_id = worker_id


class _ResumeIteration:
    """Main to persistent workers: a new epoch starts; the reply marks the end of old results."""


def _seed_worker(base_seed: int, worker_id: int) -> int:
    """Seed ember's, Python's and NumPy's generators for this worker; returns its seed."""
    seed = base_seed + worker_id
    random.seed(seed)
    ember.manual_seed(seed)
    np.random.seed(np.random.SeedSequence([worker_id, base_seed]).generate_state(4))
    return seed


def _worker_loop(dataset_kind, dataset, index_queue, data_queue, done_event, auto_collation,
                 collate_fn, drop_last, base_seed, init_fn, worker_id, num_workers,
                 segment_prefix):
    """Answer `(task index, sampler index)` requests from `index_queue` with batches on
    `data_queue` until told to stop (None) or the main process is gone."""
    global _worker_info
    try:
        seed = _seed_worker(base_seed, worker_id)
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed,
                                  dataset=dataset)
        where = f"in DataLoader worker process {worker_id}"

        def start_epoch():
            """A fresh fetcher (a new pass over an iterable dataset), or the error it raised."""
            try:
                return create_fetcher(dataset_kind, dataset, auto_collation, collate_fn,
                                      drop_last), None
            except Exception:
                return None, ExceptionWrapper(where)

        init_error = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
        except Exception:
            init_error = ExceptionWrapper(where)
        fetcher, epoch_error = start_epoch()
        writer = SegmentWriter(f"{segment_prefix}{worker_id}_")
        iteration_end = False
        parent = os.getppid()
        while os.getppid() == parent:
            try:
                request = index_queue.get(timeout=MP_STATUS_CHECK_INTERVAL)
            except queue.Empty:
                continue
            if isinstance(request, _ResumeIteration):
                data_queue.put((request, None))
                iteration_end = False
                fetcher, epoch_error = start_epoch()
                continue
            if request is None:
                break
            if done_event.is_set() or iteration_end:
                continue
            idx, index = request
            data = init_error or epoch_error
            if data is None:
                try:
                    data = writer.encode(fetcher.fetch(index))
                except StopIteration:
                    if dataset_kind != _DatasetKind.Iterable:
                        data = ExceptionWrapper(where)
                    else:
                        data = _IterableDatasetStopIteration(worker_id)
                        iteration_end = True
                except Exception:
                    data = ExceptionWrapper(where)
            data_queue.put((idx, data))
        if os.getppid() != parent:
            sweep(writer.prefix)  # the main process died: nobody will map what is left
    except KeyboardInterrupt:
        pass
    if done_event.is_set():
        # The main process reads no more: exit without flushing what is still queued.
        data_queue.cancel_join_thread()
        data_queue.close()
