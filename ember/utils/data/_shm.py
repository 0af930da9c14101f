"""Batches from worker processes through shared memory.

A worker pickles its batch with protocol 5, taking every CPU tensor's bytes (and every NumPy
array's) out of band. Those bytes go into one segment file on a RAM-backed file system
(/dev/shm); only the small pickle travels through the result queue. The main process maps the
segment, unlinks it at once (the mapping outlives the name) and unpickles tensors that view the
mapped memory, so the data is copied once, in the worker, and never pickled. The memory is freed
when the last tensor over it is gone.

Segment names carry a per-iterator prefix, so whatever a stopped iterator never received can
be swept away by name once its workers have exited.
"""
from __future__ import annotations

import glob
import io
import itertools
import mmap
import os
import pickle
import secrets
import tempfile
from typing import NamedTuple
from multiprocessing.reduction import ForkingPickler

import numpy as np

from ... import _dtype as D
from ..._device import CPU
from ..._tensor import Tensor

_ALIGNMENT = 64
SEGMENT_DIR = "/dev/shm" if os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()


class SharedBatch(NamedTuple):
    """What travels through the result queue: the pickle, its segment, its buffers' spans."""

    payload: bytes
    path: str | None
    spans: tuple


def new_prefix() -> str:
    """A segment-name prefix unique to one DataLoader iterator."""
    return f"ember_dl_{os.getpid()}_{secrets.token_hex(4)}_"


def sweep(prefix: str) -> None:
    """Unlink every segment left under `prefix` (call once no worker can create more)."""
    for path in glob.glob(os.path.join(SEGMENT_DIR, glob.escape(prefix) + "*")):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _rebuild_tensor(raw: np.ndarray, dtype_name: str, shape: tuple, requires_grad: bool,
                    device: str | None):
    """A tensor over `raw` (bytes that usually view a mapped segment), without copying unless
    it has to go back to another device."""
    dtype = D.to_dtype(dtype_name)
    t = Tensor._wrap(raw.view(dtype.np).reshape(shape), dtype, CPU)
    if device is not None:
        t = t.to(device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _reduce_tensor(t: Tensor):
    raw = np.ascontiguousarray(t.numpy(force=True)).reshape(-1).view(np.uint8)
    if not raw.flags.writeable:
        raw = raw.copy()  # a read-only buffer would come back read-only
    device = None if t.is_cpu else str(t.device)
    return _rebuild_tensor, (raw, t.dtype.name, tuple(t.shape), t.requires_grad, device)


class _BatchPickler(ForkingPickler):
    """Pickles tensors as their raw bytes, so protocol 5 can take those out of band."""

    def __init__(self, file, buffer_callback):
        super().__init__(file, 5, True, buffer_callback)  # ForkingPickler: positional only
        self.dispatch_table[Tensor] = _reduce_tensor


class SegmentWriter:
    """Encodes one worker's batches, each into its own segment named `prefix` + a counter."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.counter = itertools.count()

    def encode(self, batch) -> SharedBatch:
        buffers = []
        file = io.BytesIO()
        _BatchPickler(file, buffers.append).dump(batch)
        raws = [b.raw() for b in buffers]
        spans, end = [], 0
        for raw in raws:
            start = -(-end // _ALIGNMENT) * _ALIGNMENT
            spans.append((start, raw.nbytes))
            end = start + raw.nbytes
        if end == 0:
            return SharedBatch(file.getvalue(), None, tuple(spans))
        path = os.path.join(SEGMENT_DIR, f"{self.prefix}{next(self.counter)}")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            # Writing (not mapping) the segment turns a full /dev/shm into an OSError, not SIGBUS.
            for raw, (start, _) in zip(raws, spans):
                while raw.nbytes:
                    written = os.pwrite(fd, raw, start)
                    raw, start = raw[written:], start + written
        except BaseException:
            os.unlink(path)
            raise
        finally:
            os.close(fd)
        return SharedBatch(file.getvalue(), path, tuple(spans))


def decode(batch: SharedBatch):
    """Rebuild a batch in the main process; its segment is unlinked before this returns."""
    if batch.path is None:
        return pickle.loads(batch.payload, buffers=[bytearray(0) for _ in batch.spans])
    fd = os.open(batch.path, os.O_RDWR)
    try:
        memory = memoryview(mmap.mmap(fd, os.fstat(fd).st_size))
    finally:
        os.close(fd)
        os.unlink(batch.path)
    return pickle.loads(batch.payload, buffers=[memory[s:s + n] for s, n in batch.spans])
