"""ember.multiprocessing: multiprocessing's API, spawn's error reporting (as torch's), sharing
strategies, and shared tensors across fork and through queues."""
import multiprocessing
import os

import pytest
import torch.multiprocessing as tmp

import ember
import ember.multiprocessing as mp


def _fail_on_rank_one(rank):
    if rank == 1:
        raise ValueError(f"boom {rank}")


def _exit_three(rank):
    if rank == 0:
        os._exit(3)


def _write_rank(rank, tensor):
    tensor[rank] = rank + 1.0


def _double_from_queue(inbox, outbox):
    outbox.put(inbox.get() * 2)


def test_reexports_multiprocessing():
    for name in multiprocessing.__all__:
        assert getattr(mp, name) is getattr(multiprocessing, name), name
    assert set(tmp.__all__) <= set(mp.__all__) | {"reducer"}


def test_spawn_reraises_child_exception_with_traceback():
    for library in (tmp, mp):
        with pytest.raises(library.ProcessRaisedException) as info:
            library.start_processes(_fail_on_rank_one, nprocs=2, start_method="fork")
        message = str(info.value)
        assert message.startswith("\n\n-- Process 1 terminated with the following error:\n"
                                  "Traceback (most recent call last):\n")
        assert "in _fail_on_rank_one" in message and message.endswith("ValueError: boom 1\n")
        assert info.value.error_index == 1 and info.value.error_pid > 0


def test_spawn_reports_exit_code():
    for library in (tmp, mp):
        with pytest.raises(library.ProcessExitedException,
                           match="process 0 terminated with exit code 3") as info:
            library.start_processes(_exit_three, nprocs=2, start_method="fork")
        assert (info.value.error_index, info.value.exit_code) == (0, 3)
        assert info.value.signal_name is None


def test_spawn_without_join_returns_context():
    context = mp.start_processes(_write_rank, args=(ember.zeros(2),), nprocs=2, join=False,
                                 start_method="fork")
    assert isinstance(context, mp.ProcessContext)
    assert len(context.pids()) == 2
    while not context.join():
        pass
    assert context.join() is True


def test_spawn_start_method_spawn():
    assert mp.spawn(_write_rank, args=(ember.zeros(1),), nprocs=1) is None
    with pytest.raises(mp.ProcessRaisedException, match="ValueError: boom 1"):
        mp.spawn(_fail_on_rank_one, nprocs=2)


def test_shared_tensor_written_by_forked_children():
    t = ember.zeros(3)
    assert not t.is_shared()
    assert t.share_memory_() is t and t.is_shared() and t[1:].is_shared()
    for library in (tmp, mp):
        with pytest.warns(FutureWarning, match="only supports start_method=spawn"):
            library.spawn(_write_rank, args=(ember.zeros(1),), nprocs=1, start_method="fork")
    mp.start_processes(_write_rank, args=(t,), nprocs=3, start_method="fork")
    assert t.tolist() == [1.0, 2.0, 3.0]


def test_shared_leaf_keeps_autograd():
    x = ember.ones(3, requires_grad=True).share_memory_()
    (x * 2).sum().backward()
    assert x.is_leaf and x.grad.tolist() == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_tensor_through_queue(method):
    context = mp.get_context(method)
    inbox, outbox = context.Queue(), context.Queue()
    process = context.Process(target=_double_from_queue, args=(inbox, outbox))
    process.start()
    sent = ember.arange(6, dtype=ember.float64).reshape(2, 3)
    inbox.put(sent)
    received = outbox.get(timeout=60)
    process.join()
    assert process.exitcode == 0
    assert received.dtype == ember.float64 and received.tolist() == (sent * 2).tolist()


def test_sharing_strategies_like_torch():
    assert mp.get_all_sharing_strategies() == tmp.get_all_sharing_strategies()
    assert mp.get_sharing_strategy() == tmp.get_sharing_strategy()
    mp.set_sharing_strategy("file_system")
    assert mp.get_sharing_strategy() == "file_system"
    mp.set_sharing_strategy("file_descriptor")
    for library in (tmp, mp):
        with pytest.raises(AssertionError, match="invalid sharing strategy 'nope'"):
            library.set_sharing_strategy("nope")


def test_lazy_submodule():
    assert ember.multiprocessing is mp
