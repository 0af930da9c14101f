"""ember.utils.data against torch.utils.data on what training scripts do: DistributedSampler,
sharding an IterableDataset in worker_init_fn across persistent epochs, the seeding idiom of
torch's reproducibility notes, and worker errors. Every loader with workers has a timeout."""
import gc
import itertools
import multiprocessing
import random

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import ember
import ember.utils.data as eud
from ember.utils.data.distributed import DistributedSampler

WORKER_TIMEOUT = 60  # seconds a loader waits for a batch: a hang fails instead of blocking


@pytest.fixture(autouse=True)
def no_workers_left():
    yield
    if multiprocessing.active_children():
        gc.collect()
    assert multiprocessing.active_children() == []


# ---- DistributedSampler -----------------------------------------------------------------
def test_distributed_sampler_shares_match_torch():
    for n, replicas, drop_last in itertools.product(range(12), range(1, 5), (False, True)):
        for rank in range(replicas):
            e = eud.DistributedSampler(range(n), replicas, rank, shuffle=False,
                                       drop_last=drop_last)
            t = tud.DistributedSampler(range(n), replicas, rank, shuffle=False,
                                       drop_last=drop_last)
            assert (list(e), len(e), e.total_size) == (list(t), len(t), t.total_size), \
                (n, replicas, rank, drop_last)


def test_distributed_sampler_shuffles_the_same_way_on_every_rank():
    def shares(epoch, seed=0, n=10):
        samplers = [DistributedSampler(range(n), 3, r, seed=seed) for r in range(3)]
        for s in samplers:
            s.set_epoch(epoch)
        return [list(s) for s in samplers]

    first = shares(0)
    assert [len(s) for s in first] == [4, 4, 4]
    flat = [i for share in first for i in share]
    assert set(flat) == set(range(10)) and len(flat) == 12  # two indices padded in
    assert shares(0) == first and shares(1) != first and shares(0, seed=1) != first
    assert sorted(i for share in shares(0, n=9) for i in share) == list(range(9))


def test_distributed_sampler_errors_and_loader():
    with pytest.raises(ValueError) as t_err:
        tud.DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError) as e_err:
        eud.DistributedSampler(range(4), num_replicas=2, rank=2)
    assert str(e_err.value) == str(t_err.value)
    with pytest.raises(RuntimeError, match="Requires distributed package to be available"):
        eud.DistributedSampler(range(4))
    sampler = eud.DistributedSampler(range(7), num_replicas=2, rank=1, shuffle=False)
    loader = eud.DataLoader(range(7), batch_size=3, sampler=sampler)
    assert len(loader) == 2 and [b.tolist() for b in loader] == [[1, 3, 5], [0]]


# ---- IterableDataset sharded by worker_init_fn, persistent workers ------------------------
def _sharded_range(lib):
    class ShardedRange(lib.utils.data.IterableDataset):
        """range(start, end); worker_init_fn narrows each worker's copy to its share."""

        def __init__(self, end):
            self.start, self.end = 0, end

        def __iter__(self):
            return iter(range(self.start, self.end))

    return ShardedRange


def _shard_in_init_fn(lib):
    def init(worker_id):
        info = lib.utils.data.get_worker_info()
        ds = info.dataset
        per_worker = -(-(ds.end - ds.start) // info.num_workers)
        ds.start, ds.end = (ds.start + worker_id * per_worker,
                            min(ds.start + (worker_id + 1) * per_worker, ds.end))
    return init


def _epochs(lib, **kw):
    loader = lib.utils.data.DataLoader(_sharded_range(lib)(10), num_workers=2,
                                       worker_init_fn=_shard_in_init_fn(lib),
                                       timeout=WORKER_TIMEOUT, **kw)
    epochs = []
    for epoch in range(3):
        batches = []
        for i, batch in enumerate(loader):
            batches.append(batch.tolist())
            if epoch == 1 and i == 1:
                break  # an early break: the next epoch starts over
        epochs.append(batches)
    return epochs


@pytest.mark.parametrize("kw", [dict(persistent_workers=True),
                                dict(batch_size=3, drop_last=True, persistent_workers=True,
                                     prefetch_factor=1),
                                dict(batch_size=2)])
def test_sharded_iterable_epochs_match_torch(kw):
    assert _epochs(ember, **kw) == _epochs(torch, **kw)


# ---- seeding ------------------------------------------------------------------------------
def _seed_from_initial_seed(worker_id):
    """The worker_init_fn of torch's reproducibility notes."""
    seed = ember.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


class SeedView(eud.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        info = eud.get_worker_info()
        return ember.initial_seed() == info.seed, float(np.random.rand()), random.random()


def test_worker_initial_seed_is_its_seed_and_reproducible():
    def run(seed):
        return list(eud.DataLoader(SeedView(), batch_size=None, num_workers=2,
                                   worker_init_fn=_seed_from_initial_seed,
                                   generator=ember.Generator().manual_seed(seed),
                                   timeout=WORKER_TIMEOUT))

    first = run(0)
    assert all(same for same, *_ in first)
    assert first[0][1:] != first[1][1:]  # the two workers draw differently
    assert run(0) == first and run(1) != first


# ---- errors raised in workers -------------------------------------------------------------
class Failing:
    def __init__(self, make_error):
        self.make_error = make_error

    def __len__(self):
        return 4

    def __getitem__(self, i):
        if i == 2:
            raise self.make_error()
        return i


@pytest.mark.parametrize("make_error", [
    lambda: OSError(2, "No such file"),
    lambda: UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
    lambda: IndexError("index 7 is out of bounds"),
])
def test_worker_errors_match_torch(make_error):
    def run(lib):
        """The batches, and each error's type with its first two and last lines."""
        loader = lib.utils.data.DataLoader(Failing(make_error), batch_size=2, num_workers=2,
                                           timeout=WORKER_TIMEOUT)
        it, results = iter(loader), []
        while True:  # on to the end after the error, which lets torch's workers exit at once
            try:
                results.append(next(it).tolist())
            except StopIteration:
                return results
            except Exception as err:
                lines = str(err).splitlines()
                results.append((type(err), lines[:2], lines[-1]))

    assert run(ember) == run(torch)


def test_torchs_import_paths_for_custom_collation_and_worker_info():
    """The paths torch's documentation uses: a collate_fn_map extended with a type's function."""
    from ember.utils.data._utils.collate import collate, default_collate_fn_map
    from ember.utils.data.dataloader import get_worker_info

    def as_upper(batch, *, collate_fn_map=None):
        return [s.upper() for s in batch]
    table = {**default_collate_fn_map, str: as_upper}
    out = collate([{"x": ember.ones(2), "s": "a"}, {"x": ember.zeros(2), "s": "b"}],
                  collate_fn_map=table)
    assert out["s"] == ["A", "B"] and tuple(out["x"].shape) == (2, 2)
    assert get_worker_info() is None
