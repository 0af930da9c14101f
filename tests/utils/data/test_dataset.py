"""Datasets, samplers and collation against torch.utils.data."""
import collections
import doctest
import importlib

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import ember
import ember.utils.data as eud


def plain(obj):
    """A comparable form of a (nested) batch from either library: tensors become
    ("tensor", dtype name, values); containers keep their type name."""
    if isinstance(obj, (ember.Tensor, torch.Tensor)):
        return ("tensor", str(obj.dtype).replace("torch.", ""), obj.tolist())
    if isinstance(obj, dict):
        return ("dict", type(obj).__name__, {k: plain(v) for k, v in obj.items()})
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__, [plain(v) for v in obj])
    return obj


def raises_like(fn_torch, fn_ember, *args, **kwargs):
    """Both calls raise the same exception type and message."""
    with pytest.raises(Exception) as t_err:
        fn_torch(*args, **kwargs)
    with pytest.raises(Exception) as e_err:
        fn_ember(*args, **kwargs)
    assert type(e_err.value) is type(t_err.value)
    assert str(e_err.value) == str(t_err.value)


# ---- datasets ---------------------------------------------------------------------------
def test_tensor_dataset():
    ds = eud.TensorDataset(ember.arange(4), ember.arange(8.).reshape(4, 2))
    assert len(ds) == 4
    x, y = ds[2]
    assert x.item() == 2 and y.tolist() == [4., 5.]
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        eud.TensorDataset(ember.arange(3), ember.arange(4))


def test_concat_dataset_matches_torch():
    parts = [[0, 1], [2, 3, 4], [5]]
    e, t = eud.ConcatDataset(parts), tud.ConcatDataset(parts)
    assert len(e) == len(t) == 6 and e.cumulative_sizes == t.cumulative_sizes
    assert [e[i] for i in range(-6, 6)] == [t[i] for i in range(-6, 6)]
    raises_like(t.__getitem__, e.__getitem__, -7)
    raises_like(tud.ConcatDataset, eud.ConcatDataset, [])
    assert [x for x in eud.Dataset.__add__(e, e)] == list(range(6)) * 2


def test_iterable_and_chain_dataset():
    class Count(eud.IterableDataset):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(self.n))

        def __len__(self):
            return self.n

    chain = Count(2) + Count(3)
    assert isinstance(chain, eud.ChainDataset)
    assert list(chain) == [0, 1, 0, 1, 2] and len(chain) == 5
    with pytest.raises(AssertionError, match="ChainDataset only supports IterableDataset"):
        list(eud.ChainDataset([[1, 2]]))
    with pytest.raises(AssertionError, match="does not support IterableDataset"):
        eud.ConcatDataset([Count(2)])
    with pytest.raises(TypeError):
        eud.IterableDataset()


def test_subset_and_getitems():
    class Batched(eud.Dataset):
        def __getitem__(self, i):
            return i * 10

        def __getitems__(self, indices):
            return [("batched", i) for i in indices]

        def __len__(self):
            return 10

    sub = eud.Subset(Batched(), [5, 2, 7])
    assert len(sub) == 3 and sub[0] == 50
    assert sub.__getitems__([2, 0]) == [("batched", 7), ("batched", 5)]
    assert eud.Subset(list(range(10)), [4, 3]).__getitems__([1]) == [3]
    with pytest.raises(NotImplementedError, match="should implement __getitem__"):
        eud.Dataset()[0]


def test_stack_dataset_matches_torch():
    a, b = list(range(4)), ["a", "b", "c", "d"]
    for args, kwargs in (((a, b), {}), ((), {"x": a, "y": b})):
        e, t = eud.StackDataset(*args, **kwargs), tud.StackDataset(*args, **kwargs)
        assert len(e) == len(t) and e[2] == t[2]
        assert e.__getitems__([3, 1]) == t.__getitems__([3, 1])
    raises_like(tud.StackDataset, eud.StackDataset, a, [1])
    raises_like(tud.StackDataset, eud.StackDataset, a, y=b)
    raises_like(tud.StackDataset, eud.StackDataset)


def test_random_split():
    parts = eud.random_split(range(10), [3, 7], generator=ember.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [3, 7]
    assert sorted(list(parts[0]) + list(parts[1])) == list(range(10))
    again = eud.random_split(range(10), [3, 7], generator=ember.Generator().manual_seed(0))
    assert [list(p) for p in again] == [list(p) for p in parts]
    # fractions: the same sizes as torch, remainders spread over the first splits
    for fracs in ([0.5, 0.5], [0.3, 0.3, 0.4], [0.34, 0.33, 0.33], [0.1, 0.9]):
        assert [len(p) for p in eud.random_split(range(11), fracs)] == \
               [len(p) for p in tud.random_split(range(11), fracs)]
    raises_like(tud.random_split, eud.random_split, range(5), [2, 2])
    raises_like(tud.random_split, eud.random_split, range(5), [1.5, -0.5])
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        eud.random_split(range(2), [1.0, 0.0])


# ---- samplers ---------------------------------------------------------------------------
def test_sequential_and_batch_sampler_match_torch():
    for n, bs, drop in ((10, 3, False), (10, 3, True), (9, 3, True), (2, 5, False)):
        e = eud.BatchSampler(eud.SequentialSampler(range(n)), bs, drop)
        t = tud.BatchSampler(tud.SequentialSampler(range(n)), bs, drop)
        assert list(e) == list(t) and len(e) == len(t)
    for bs, drop in ((0, False), (True, False), (2.0, False), (2, 1)):
        raises_like(tud.BatchSampler, eud.BatchSampler, range(3), bs, drop)


def test_random_sampler():
    def order(seed, **kw):
        return list(eud.RandomSampler(range(7), generator=ember.Generator().manual_seed(seed),
                                      **kw))

    assert sorted(order(0)) == list(range(7)) and order(0) == order(0) and order(0) != order(1)
    long = order(0, num_samples=16)
    assert len(long) == 16 and sorted(long[:7]) == sorted(long[7:14]) == list(range(7))
    drawn = order(0, replacement=True, num_samples=70)
    assert len(drawn) == 70 and set(drawn) <= set(range(7))
    assert len(eud.RandomSampler(range(7), num_samples=3)) == 3
    assert sorted(eud.RandomSampler(range(5))) == list(range(5))
    for kw in ({"replacement": 1}, {"num_samples": 0}, {"num_samples": 2.0}):
        raises_like(tud.RandomSampler, eud.RandomSampler, range(3), **kw)


def test_global_seed_drives_unseeded_sampling():
    ember.manual_seed(3)
    first = list(eud.RandomSampler(range(20)))
    ember.manual_seed(3)
    assert list(eud.RandomSampler(range(20))) == first


def test_subset_and_weighted_samplers():
    g = ember.Generator().manual_seed(0)
    assert sorted(eud.SubsetRandomSampler([9, 4, 6], generator=g)) == [4, 6, 9]
    w = eud.WeightedRandomSampler([0, 0, 1, 0], 5)
    assert list(w) == [2] * 5 and len(w) == 5
    no_repeat = list(eud.WeightedRandomSampler([1, 1, 1, 0], 3, replacement=False))
    assert sorted(no_repeat) == [0, 1, 2]
    for args in (([1, 1], 0), ([1, 1], 2, 1), ([[1, 1]], 2)):
        raises_like(tud.WeightedRandomSampler, eud.WeightedRandomSampler, *args)


def test_sampler_base():
    with pytest.raises(NotImplementedError):
        iter(eud.Sampler())
    with pytest.warns(UserWarning, match="data_source"):
        eud.Sampler([1, 2])


# ---- collation --------------------------------------------------------------------------
Point = collections.namedtuple("Point", ["x", "y"])


def _samples(lib):
    """Nested samples built with either library's tensors."""
    return [
        [lib.tensor([i, i + 1.0]) for i in range(3)],
        [lib.tensor(i) for i in range(3)],
        [1, 2, 3],
        [1.5, 2.5],
        [True, False],
        ["a", "b"],
        [b"x", b"y"],
        [np.arange(3, dtype=np.float32) + i for i in range(2)],
        [np.array([[i, i]], dtype=np.int16) for i in range(2)],
        [np.float32(1.5), np.float32(2.5)],
        [np.int64(3), np.int64(4)],
        [np.bool_(True), np.bool_(False)],
        [{"a": i, "b": {"c": lib.tensor([i])}, "s": str(i)} for i in range(3)],
        [collections.OrderedDict(x=i, y=float(i)) for i in range(2)],
        [Point(i, lib.tensor([i, i])) for i in range(3)],
        [(i, (float(i), "t")) for i in range(3)],
        [[i, [i, i]] for i in range(2)],
    ]


def test_default_collate_matches_torch():
    for e, t in zip(_samples(ember), _samples(torch)):
        out_e, out_t = eud.default_collate(e), tud.default_collate(t)
        assert plain(out_e) == plain(out_t), (e, out_e, out_t)
        assert type(out_e).__name__ == type(out_t).__name__


def test_default_collate_errors_match_torch():
    with pytest.raises(RuntimeError) as t_err:
        tud.default_collate([torch.zeros(2), torch.zeros(3)])
    with pytest.raises(RuntimeError) as e_err:
        eud.default_collate([ember.zeros(2), ember.zeros(3)])
    assert str(e_err.value) == str(t_err.value)
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        eud.default_collate([{"x": ember.zeros(2)}, {"x": ember.zeros(2, 1)}])
    cases = [[[1, 2], [1]], [object(), object()], [np.array(["a"]), np.array(["b"])],
             [np.array([None]), np.array([None])]]
    for batch in cases:
        raises_like(tud.default_collate, eud.default_collate, batch)


def test_default_convert_matches_torch():
    samples = [np.arange(3), np.float64(2.5), {"a": np.ones(2, np.float32), "b": "s"},
               (np.int32(1), 2), [np.zeros(1), "x"], Point(np.ones(1), 3), "text", 7,
               np.array(["a"]), collections.OrderedDict(k=np.zeros(2))]
    for sample in samples:
        assert plain(eud.default_convert(sample)) == plain(tud.default_convert(sample))
    t = ember.ones(2)
    assert eud.default_convert(t) is t


def test_collate_with_custom_map():
    from ember.utils.data._collate import collate, collate_str_fn

    def as_count(batch, *, collate_fn_map):
        return len(batch)

    out = collate([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}],
                  collate_fn_map={int: as_count, str: collate_str_fn})
    assert out == {"a": 2, "b": ["x", "y"]}
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        collate([{"a": 1, "b": object()}], collate_fn_map={int: as_count})



@pytest.mark.parametrize("module", ["__init__", "dataset", "sampler", "distributed", "_collate",
                                    "_worker", "dataloader"])
def test_docstring_examples(module):
    name = "ember.utils.data" + ("" if module == "__init__" else "." + module)
    failures, _ = doctest.testmod(importlib.import_module(name),
                                  optionflags=doctest.NORMALIZE_WHITESPACE)
    assert failures == 0
