"""DataLoader against torch's: batching and order, arguments, and the worker processes
(errors, killed workers, timeouts, persistence, seeding, sharding, shutdown, shared memory)."""
import gc
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import ember
import ember.utils.data as eud
from ember.utils.data import _shm


def plain(obj):
    if isinstance(obj, (ember.Tensor, torch.Tensor)):
        return ("tensor", str(obj.dtype).replace("torch.", ""), obj.tolist())
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__, [plain(v) for v in obj])
    return obj


def _segments(prefix=None):
    """Segment files of this test process's loaders (or those under `prefix`)."""
    prefix = prefix or f"ember_dl_{os.getpid()}_"
    return [name for name in os.listdir(_shm.SEGMENT_DIR) if name.startswith(prefix)]


@pytest.fixture(autouse=True)
def no_leaks():
    """Every test leaves no worker process and no shared-memory segment behind."""
    yield
    if multiprocessing.active_children() or _segments():
        gc.collect()  # slow with torch loaded: only when something is left
    assert multiprocessing.active_children() == []
    assert _segments() == []


class Indices:
    """A map-style dataset whose samples are their own indices (works with both libraries)."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return i


class Records(eud.Dataset):
    """Nested samples with tensors of several dtypes, arrays, numbers and strings."""

    def __len__(self):
        return 7

    def __getitem__(self, i):
        return {"x": ember.full((2, 3), float(i)), "mask": ember.tensor([i % 2 == 0]),
                "half": ember.full((2,), i, dtype=ember.bfloat16), "arr": np.arange(3) * i,
                "i": i, "name": f"s{i}", "pair": (i, ember.tensor(float(i)))}


class WorkerView(eud.Dataset):
    """Samples describe the process that loaded them."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = eud.get_worker_info()
        return {"pid": os.getpid(), "id": info.id, "num_workers": info.num_workers,
                "seed": info.seed, "same": info.dataset is self,
                "random": random.random(), "numpy": float(np.random.rand()),
                "ember": ember.rand(()).item(), "init": _init_marks.get(info.id, "")}


_init_marks = {}


def _mark_init(worker_id):
    _init_marks[worker_id] = f"init{worker_id}"


class Failing(eud.Dataset):
    def __init__(self, exc_type=ValueError, bad=3):
        self.exc_type, self.bad = exc_type, bad

    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == self.bad:
            raise self.exc_type(f"bad sample {i}")
        return i


class PairError(Exception):
    """An exception that cannot be rebuilt from one message argument."""

    def __init__(self, a, b):
        super().__init__(a, b)


class PairFailing(eud.Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        raise PairError(i, "two")


class SelfKilling(eud.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5 and eud.get_worker_info() is not None:
            os.kill(os.getpid(), signal.SIGKILL)
        return i


class Slow(eud.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        time.sleep(0.6)
        return i


class Shards(eud.IterableDataset):
    """range(start, stop), split between the workers as torch's documentation shows."""

    def __init__(self, start, stop):
        self.start, self.stop = start, stop

    def __iter__(self):
        info = eud.get_worker_info()
        if info is None:
            return iter(range(self.start, self.stop))
        per_worker = -(-(self.stop - self.start) // info.num_workers)
        first = self.start + info.id * per_worker
        return iter(range(first, min(first + per_worker, self.stop)))

    def __len__(self):
        return self.stop - self.start


class TorchShards(tud.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


# ---- batching and order against torch ---------------------------------------------------
@pytest.mark.parametrize("num_workers", [0, 2])
def test_order_and_batching_match_torch(num_workers):
    configs = [dict(batch_size=3), dict(batch_size=3, drop_last=True), dict(batch_size=None),
               dict(batch_size=4, sampler=[9, 1, 5, 0, 2]),
               dict(batch_sampler=[[3, 1], [0], [8, 9, 2]]),
               dict(batch_size=2, collate_fn=lambda b: b)]
    for kw in configs:
        e = eud.DataLoader(Indices(10), num_workers=num_workers, **kw)
        t = tud.DataLoader(Indices(10), **kw)
        assert len(e) == len(t)
        assert [plain(b) for b in e] == [plain(b) for b in t], kw


def test_order_matches_torch_workers():
    kw = dict(batch_size=3, num_workers=2, prefetch_factor=1)
    e, t = eud.DataLoader(Indices(11), **kw), tud.DataLoader(Indices(11), **kw)
    assert [b.tolist() for b in e] == [b.tolist() for b in t]


def test_nested_batches_through_workers():
    single = list(eud.DataLoader(Records(), batch_size=3))
    multi = list(eud.DataLoader(Records(), batch_size=3, num_workers=2))
    assert [plain(b) for b in multi] == [plain(b) for b in single]
    batch = multi[0]
    assert batch["half"].dtype == ember.bfloat16 and batch["mask"].dtype == ember.bool
    assert batch["x"].shape == (3, 2, 3) and batch["pair"][1].dtype == ember.float32


def test_iterable_dataset_matches_torch():
    for kw in (dict(batch_size=3), dict(batch_size=3, drop_last=True), dict(batch_size=None)):
        e = eud.DataLoader(Shards(0, 10), **kw)
        t = tud.DataLoader(TorchShards(10), **kw)
        assert len(e) == len(t)
        assert [plain(b) for b in e] == [plain(b) for b in t]


def test_iterable_dataset_sharded_between_workers():
    loader = eud.DataLoader(Shards(0, 13), batch_size=2, num_workers=2)
    values = [v for batch in loader for v in batch.tolist()]
    assert sorted(values) == list(range(13))
    loader = eud.DataLoader(Shards(0, 13), batch_size=2, num_workers=2, drop_last=True)
    values = [v for batch in loader for v in batch.tolist()]
    assert len(values) == len(set(values)) == 12


def test_iterable_dataset_without_sharding_warns_about_length():
    class Unsharded(eud.IterableDataset):
        def __iter__(self):
            return iter(range(4))

        def __len__(self):
            return 4

    loader = eud.DataLoader(Unsharded(), num_workers=2)
    assert len(loader) == 4
    with pytest.warns(UserWarning, match="was reported to be 4"):
        assert sorted(b.item() for b in loader) == [0, 0, 1, 1, 2, 2, 3, 3]


# ---- shuffling and seeding ------------------------------------------------------------
@pytest.mark.parametrize("num_workers", [0, 2])
def test_shuffle_is_a_seeded_permutation_per_epoch(num_workers):
    def epochs(seed):
        loader = eud.DataLoader(Indices(12), batch_size=5, shuffle=True,
                                num_workers=num_workers,
                                generator=ember.Generator().manual_seed(seed))
        return [[v for b in loader for v in b.tolist()] for _ in range(2)]

    first, second = epochs(0)
    assert sorted(first) == sorted(second) == list(range(12)) and first != second
    assert epochs(0) == [first, second]
    assert epochs(1) != [first, second]


def test_worker_info_seeding_and_init_fn():
    def run(seed):
        loader = eud.DataLoader(WorkerView(), batch_size=None, num_workers=2,
                                worker_init_fn=_mark_init,
                                generator=ember.Generator().manual_seed(seed))
        return list(loader)

    samples = run(7)
    assert eud.get_worker_info() is None
    assert [s["id"] for s in samples] == [0, 1] * 4
    assert all(s["num_workers"] == 2 and s["same"] for s in samples)
    assert all(s["init"] == f"init{s['id']}" for s in samples)
    assert samples[1]["seed"] == samples[0]["seed"] + 1
    assert len({s["pid"] for s in samples}) == 2 and os.getpid() not in {s["pid"] for s in samples}
    for key in ("random", "numpy", "ember"):
        assert samples[0][key] != samples[1][key]
    again = run(7)
    strip = [{k: v for k, v in s.items() if k != "pid"} for s in samples]
    assert [{k: v for k, v in s.items() if k != "pid"} for s in again] == strip
    assert run(8)[0]["seed"] != samples[0]["seed"]


def test_worker_info_is_read_only():
    info = eud.WorkerInfo(id=0, num_workers=1, seed=3, dataset=None)
    assert repr(info) == "WorkerInfo(id=0, num_workers=1, seed=3, dataset=None)"
    with pytest.raises(RuntimeError, match="Cannot assign attributes to WorkerInfo objects"):
        info.id = 2


# ---- errors -----------------------------------------------------------------------------
def test_worker_exception_carries_worker_id_and_traceback():
    loader = eud.DataLoader(Failing(), batch_size=2, num_workers=2)
    with pytest.raises(ValueError) as err:
        list(loader)
    msg = str(err.value)
    assert msg.startswith("Caught ValueError in DataLoader worker process 1.\n"
                          "Original Traceback (most recent call last):\n")
    assert 'raise self.exc_type(f"bad sample {i}")' in msg and "ValueError: bad sample 3" in msg
    # The traceback, still held here, does not keep the loop's iterator and its workers alive.
    assert multiprocessing.active_children() == []
    del err


def test_iterator_continues_after_a_worker_exception():
    it = iter(eud.DataLoader(Failing(), batch_size=2, num_workers=2))
    assert next(it).tolist() == [0, 1]
    with pytest.raises(ValueError, match="worker process 1"):
        next(it)
    assert next(it).tolist() == [4, 5]
    with pytest.raises(StopIteration):
        next(it)


def test_worker_exception_types():
    with pytest.raises(KeyError) as err:
        list(eud.DataLoader(Failing(KeyError), num_workers=1))
    assert str(err.value).startswith("Caught KeyError in DataLoader worker process 0.\n")
    with pytest.raises(RuntimeError, match="Caught PairError in DataLoader worker process 0"):
        list(eud.DataLoader(PairFailing(), num_workers=1))
    with pytest.raises(ValueError, match="bad sample 3"):
        list(eud.DataLoader(Failing(), num_workers=0))
    del err


def test_worker_init_fn_error_is_reported():
    def broken_init(worker_id):
        raise OSError(f"no init for {worker_id}")

    with pytest.raises(OSError, match="worker process 0(.|\n)*no init for 0"):
        list(eud.DataLoader(Indices(4), num_workers=1, worker_init_fn=broken_init))


class BrokenIter(eud.IterableDataset):
    def __iter__(self):
        raise LookupError("no pass today")


def test_iterable_dataset_iter_error_is_reported():
    with pytest.raises(LookupError, match="worker process 0(.|\n)*no pass today"):
        next(iter(eud.DataLoader(BrokenIter(), num_workers=1)))


def test_killed_worker_is_detected():
    it = iter(eud.DataLoader(SelfKilling(), batch_size=2, num_workers=2))
    pids = [w.pid for w in it._workers]
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited "
                                           "unexpectedly") as err:
        list(it)
    assert time.monotonic() - start < 5
    assert str(pids[0]) in str(err.value) and "killed by SIGKILL" in str(err.value)
    assert not any(w.is_alive() for w in it._workers)
    del err


def test_timeout():
    loader = eud.DataLoader(Slow(), num_workers=1, timeout=0.2)
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=r"^DataLoader timed out after 0.2 seconds$"):
        next(iter(loader))
    assert time.monotonic() - start < 3


# ---- worker lifetime ----------------------------------------------------------------------
def test_persistent_workers_are_reused():
    loader = eud.DataLoader(WorkerView(), batch_size=3, num_workers=2, persistent_workers=True)
    pids = []
    for _ in range(3):
        batches = list(loader)
        assert sum(len(b["id"]) for b in batches) == 8
        pids.append({p for b in batches for p in b["pid"].tolist()})
    assert pids[0] == pids[1] == pids[2] and len(pids[0]) == 2
    it = iter(loader)
    next(it)  # an epoch broken off: the next one still starts clean
    assert sum(len(b["id"]) for b in loader) == 8
    workers = loader._iterator._workers
    del loader, it
    assert not any(w.is_alive() for w in workers)


def test_persistent_workers_with_iterable_dataset():
    loader = eud.DataLoader(Shards(0, 9), batch_size=2, num_workers=2, persistent_workers=True)
    for _ in range(2):
        assert sorted(v for b in loader for v in b.tolist()) == list(range(9))
    del loader


def test_workers_stop_on_exhaustion_and_deletion():
    it = iter(eud.DataLoader(Indices(6), batch_size=2, num_workers=2))
    workers = list(it._workers)
    assert all(w.is_alive() for w in workers)
    list(it)
    assert not any(w.is_alive() for w in workers)
    it = iter(eud.DataLoader(Records(), batch_size=2, num_workers=2))
    next(it)
    time.sleep(0.2)  # let the prefetched batches land in shared memory
    workers = list(it._workers)
    del it
    assert not any(w.is_alive() for w in workers)


def test_break_out_of_loop_frees_everything():
    for batch in eud.DataLoader(Records(), batch_size=2, num_workers=2):
        assert batch["x"].shape == (2, 2, 3)
        break


def test_in_order_false_delivers_every_batch():
    loader = eud.DataLoader(Indices(10), batch_size=2, num_workers=2, in_order=False)
    assert sorted(v for b in loader for v in b.tolist()) == list(range(10))


def test_spawn_context():
    # A builtin dataset: a spawned worker imports it without importing this module (and torch).
    loader = eud.DataLoader(range(5), batch_size=2, num_workers=1,
                            multiprocessing_context="spawn")
    assert [b.tolist() for b in loader] == [[0, 1], [2, 3], [4]]


# ---- shared memory ------------------------------------------------------------------------
def test_batches_are_rebuilt_over_shared_memory():
    writer = _shm.SegmentWriter(_shm.new_prefix())
    grad = ember.ones(2, requires_grad=True)
    batch = {"x": ember.arange(12.).reshape(3, 4).t(), "b": ember.zeros(2, dtype=ember.bfloat16),
             "s": ember.tensor(5), "empty": ember.zeros(0, 3), "a": np.arange(4), "g": grad,
             "text": "kept"}
    encoded = writer.encode(batch)
    assert os.path.exists(encoded.path) and len(encoded.payload) < 1000
    out = _shm.decode(encoded)
    assert not os.path.exists(encoded.path)
    assert out["x"].tolist() == batch["x"].tolist() and out["x"].shape == (4, 3)
    assert out["b"].dtype == ember.bfloat16 and out["s"].item() == 5 and out["text"] == "kept"
    assert out["empty"].shape == (0, 3) and out["a"].tolist() == [0, 1, 2, 3]
    assert out["g"].requires_grad and out["g"].is_leaf
    base = out["x"].numpy()
    while not isinstance(base, memoryview) and base.base is not None:
        base = base.base
    assert isinstance(base, memoryview) and not base.readonly
    out["x"].add_(1)  # writable memory
    assert _shm.decode(writer.encode([ember.zeros(0)]))[0].shape == (0,)


def test_no_segments_left_after_runs():
    for persistent in (False, True):
        loader = eud.DataLoader(Records(), batch_size=2, num_workers=2,
                                persistent_workers=persistent)
        list(loader)
        it = iter(loader)
        next(it)
        del it, loader
        assert _segments() == []


# ---- arguments ------------------------------------------------------------------------------
@pytest.mark.parametrize("kw", [
    dict(num_workers=-1), dict(timeout=-1), dict(prefetch_factor=2),
    dict(num_workers=1, prefetch_factor=-1), dict(persistent_workers=True),
    dict(shuffle=True, sampler=[0, 1]), dict(batch_sampler=[[0]], batch_size=2),
    dict(batch_sampler=[[0]], shuffle=True), dict(batch_sampler=[[0]], drop_last=True),
    dict(batch_sampler=[[0]], sampler=[0]), dict(batch_size=None, drop_last=True),
    dict(batch_size=0), dict(multiprocessing_context="fork"),
    dict(num_workers=1, multiprocessing_context="nope"),
    dict(num_workers=1, multiprocessing_context=3)])
def test_argument_errors_match_torch(kw):
    with pytest.raises(Exception) as t_err:
        tud.DataLoader(Indices(4), **kw)
    with pytest.raises(type(t_err.value)) as e_err:
        eud.DataLoader(Indices(4), **kw)
    assert str(e_err.value) == str(t_err.value)


@pytest.mark.parametrize("kw", [dict(shuffle=True), dict(sampler=[0]), dict(batch_sampler=[[0]])])
def test_iterable_dataset_argument_errors(kw):
    with pytest.raises(ValueError, match="DataLoader with IterableDataset: expected unspecified"):
        eud.DataLoader(Shards(0, 3), **kw)


def test_attributes_are_frozen_and_defaults():
    loader = eud.DataLoader(Indices(4))
    with pytest.raises(ValueError, match="batch_size attribute should not be set after "
                                         "DataLoader is initialized"):
        loader.batch_size = 2
    loader.num_workers = 0
    assert isinstance(loader.sampler, eud.SequentialSampler) and loader.batch_size == 1
    assert eud.DataLoader(Indices(4), num_workers=1).prefetch_factor == 2
    assert eud.DataLoader(Indices(4), shuffle=True).sampler.__class__ is eud.RandomSampler
    assert eud.DataLoader(Indices(4), batch_size=None).collate_fn is eud.default_convert
    if not ember._backend.cuda_available():
        with pytest.warns(UserWarning, match="pin_memory"):
            iter(eud.DataLoader(Indices(4), pin_memory=True))


_ORPHAN_SCRIPT = """
import os, signal, sys, time
import ember
import ember.utils.data as eud
from ember.utils.data import _worker
_worker.MP_STATUS_CHECK_INTERVAL = 0.05
loader = eud.DataLoader(eud.TensorDataset(ember.ones(64, 1000)), batch_size=8, num_workers=2,
                        persistent_workers=True)
it = iter(loader)
next(it)
time.sleep(0.3)  # the prefetched batches now wait in shared memory
waiting = [n for n in os.listdir(eud._shm.SEGMENT_DIR) if n.startswith(it._segment_prefix)]
print(it._segment_prefix, len(waiting), flush=True)
if sys.argv[1] == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize("how", ["exit", "kill"])
def test_segments_cleaned_when_the_main_process_ends(how, tmp_path):
    """At a normal exit the loader's atexit hook cleans up; when the main process is killed,
    the orphaned workers notice and remove their own segments."""
    script = tmp_path / "orphan.py"
    script.write_text(_ORPHAN_SCRIPT)
    out = subprocess.run([sys.executable, str(script), how], capture_output=True, text=True,
                         timeout=60)
    prefix, waiting = out.stdout.split()
    assert prefix.startswith("ember_dl_") and int(waiting) > 0, out.stderr
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _segments(prefix):
        time.sleep(0.05)
    assert _segments(prefix) == []
