"""openblas.in_graph: a compiled graph runs with NumPy's OpenBLAS on one thread and its
products on numba's threads, only while OpenBLAS's workers sleep, and leaves OpenBLAS as it
found it."""
import numpy as np
import pytest

import ember
from ember._backend import openblas

pytest.importorskip("numba")
pytestmark = pytest.mark.skipif(openblas.gemm_address(np.dtype(np.float32)) is None,
                                reason="NumPy's BLAS is not its bundled 64-bit OpenBLAS")


BIG = [np.zeros(openblas.THREADED_MIN, np.float32)]  # inputs large enough to take over


def _threads():
    setter, getter, _ = openblas._library()
    return getter()


def _seen(fail=False):
    """A graph function recording (threaded(), OpenBLAS's thread count) while it runs."""
    seen = []

    def graph(inputs, state):
        seen.append((openblas.threaded(), _threads()))
        if fail:
            raise ValueError("inside the graph")
        return inputs
    return openblas.in_graph(graph), seen


@pytest.fixture
def numba_on(monkeypatch):
    monkeypatch.setenv("EMBER_JIT_FUSER", "numba")


def test_one_openblas_thread_inside_then_the_count_as_before(numba_on, monkeypatch):
    monkeypatch.setattr(openblas, "SPIN", 0.0)
    before = _threads()
    run, seen = _seen()
    assert run(BIG, ()) is BIG
    assert seen == [(True, 1)]
    assert _threads() == before and not openblas.threaded()


def test_the_count_comes_back_when_the_graph_raises(numba_on, monkeypatch):
    monkeypatch.setattr(openblas, "SPIN", 0.0)
    before = _threads()
    run, seen = _seen(fail=True)
    with pytest.raises(ValueError, match="inside the graph"):
        run(BIG, ())
    assert seen == [(True, 1)] and _threads() == before and not openblas.threaded()


def test_nested_graphs_hold_the_setting_until_the_outer_returns(numba_on, monkeypatch):
    monkeypatch.setattr(openblas, "SPIN", 0.0)
    before = _threads()
    inner, seen = _seen()

    def outer_graph(inputs, state):
        inner(inputs, state)
        seen.append((openblas.threaded(), _threads()))
        return inputs
    openblas.in_graph(outer_graph)(BIG, ())
    assert seen == [(True, 1), (True, 1)] and _threads() == before


def test_a_blas_op_outside_a_graph_keeps_the_next_graph_on_openblas(numba_on, monkeypatch):
    """OpenBLAS's workers spin after an eager product: numba's threads must not fight them."""
    monkeypatch.setattr(openblas, "SPIN", 60.0)
    ember.ones(4, 4) @ ember.ones(4, 4)
    run, seen = _seen()
    run(BIG, ())
    assert seen == [(False, _threads())]


def test_without_numba_graphs_run_as_eager(monkeypatch):
    monkeypatch.setenv("EMBER_JIT_FUSER", "numpy")
    monkeypatch.setattr(openblas, "SPIN", 0.0)
    run, seen = _seen()
    run(BIG, ())
    assert seen == [(False, _threads())]


def test_graphs_in_two_python_threads_leave_the_count_as_found(numba_on, monkeypatch):
    import threading
    monkeypatch.setattr(openblas, "SPIN", 0.0)
    before = _threads()
    started, release = threading.Barrier(2), threading.Event()

    def graph(inputs, state):
        started.wait(timeout=10)
        release.wait(timeout=10)
        return inputs
    run = openblas.in_graph(graph)
    workers = [threading.Thread(target=run, args=(BIG, ())) for _ in range(2)]
    for w in workers:
        w.start()
    release.set()
    for w in workers:
        w.join()
    assert _threads() == before and not openblas.threaded()


def test_one_numba_thread_leaves_the_products_to_openblas(numba_on, monkeypatch):
    import numba
    monkeypatch.setattr(openblas, "SPIN", 0.0)
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        run, seen = _seen()
        run(BIG, ())
    finally:
        numba.set_num_threads(previous)
    assert seen == [(False, _threads())]


def test_small_inputs_stay_on_openblas(numba_on, monkeypatch):
    """Small work does not pay for the switch (jit inference at batch 1)."""
    monkeypatch.setattr(openblas, "SPIN", 0.0)
    run, seen = _seen()
    run([np.zeros(openblas.THREADED_MIN - 1, np.float32), 3.0], ())
    assert seen == [(False, _threads())]
