"""Compiled graphs whose matrix products run on numba's threads (openblas.in_graph), with
their numba forms and fused kernels split over the same threads, train as eager does."""
import sys
from pathlib import Path

import numpy as np
import pytest

import ember
from ember._backend import gemm, openblas
from ember.jit import op_kernels

from .models import assert_compiled_trains_as_eager

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.bench_train import _gpt  # noqa: E402

pytestmark = pytest.mark.skipif(
    not op_kernels.available() or openblas.gemm_address(np.dtype(np.float32)) is None,
    reason="needs numba and NumPy's bundled 64-bit OpenBLAS")


@pytest.fixture
def threaded_graphs(numba_fuser, monkeypatch):
    """Every graph takes the threaded path (OpenBLAS counted as asleep), at every size;
    returns the counts of products and numba forms that ran split."""
    monkeypatch.setattr(openblas, "SPIN", 0.0)
    monkeypatch.setattr(openblas, "THREADED_MIN", 1)
    monkeypatch.setattr(gemm, "THREADED_WORK", 0)
    counts = {"products": 0, "split forms": 0}

    def products(a, b, out=None, _f=gemm.threaded):
        got = _f(a, b, out)
        counts["products"] += got is not None
        return got

    def parts(rows, size, _f=op_kernels._parts):
        got = _f(rows, size)
        counts["split forms"] += got > 1
        return got
    monkeypatch.setattr(gemm, "threaded", products)
    monkeypatch.setattr(op_kernels, "_parts", parts)
    return counts


def test_compiled_gpt_trains_as_eager_on_numba_threads(threaded_graphs):
    ember.manual_seed(0)

    def make():
        return _gpt(ember, vocab=33, block=16, d_model=32, heads=4, layers=2)
    tokens = [ember.randint(0, 33, (3, 16)), ember.randint(0, 33, (2, 11))]
    assert_compiled_trains_as_eager(make, *tokens, *tokens)  # the second calls run graphs
    assert threaded_graphs["products"] and threaded_graphs["split forms"]
    assert not openblas.threaded()


def test_compiled_attention_in_double_precision(threaded_graphs):
    class Mix(ember.nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = ember.nn.Linear(8, 24)

        def forward(self, x):
            q, k, v = self.qkv(x).split(8, dim=-1)
            return (q @ k.transpose(-1, -2)).softmax(-1) @ v
    ember.manual_seed(1)
    x = ember.randn(3, 5, 8, dtype=ember.float64)
    assert_compiled_trains_as_eager(lambda: Mix().double(), x, x, x)
    assert threaded_graphs["products"]


def test_graphs_without_batched_products_keep_openblas_threads(threaded_graphs):
    """OpenBLAS threads a 2-D product itself: an MLP's graphs stay as they are."""
    ember.manual_seed(2)

    def make():
        return ember.nn.Sequential(ember.nn.Linear(24, 48), ember.nn.GELU(),
                                   ember.nn.LayerNorm(48), ember.nn.Linear(48, 5))
    x = ember.randn(7, 24)
    assert_compiled_trains_as_eager(make, x, x, x)
    assert threaded_graphs == {"products": 0, "split forms": 0}


class _PatchAttention(ember.nn.Module):
    """A convolution's patches attending to each other (a ViT's first block, in small)."""

    def __init__(self):
        super().__init__()
        self.patch = ember.nn.Conv2d(3, 8, 4, stride=4)
        self.mix = ember.nn.Conv2d(8, 8, 3, padding=1)

    def forward(self, x):
        t = self.mix(self.patch(x).relu()).flatten(2).transpose(1, 2)
        return (t @ t.transpose(1, 2)).softmax(-1) @ t


def test_convolution_graphs_take_numba_threads(threaded_graphs):
    """A convolution's per-image products, its transpose's and its weight gradient's go
    through gemm (OpDef.gemm): its graphs run on numba's threads too."""
    ember.manual_seed(3)
    x = ember.randn(2, 3, 16, 16)
    assert_compiled_trains_as_eager(_PatchAttention, x, x, x)
    assert threaded_graphs["products"]


def test_graphs_with_other_blas_ops_keep_openblas_threads(threaded_graphs):
    """A GRU's products do not go through gemm: a graph with one keeps OpenBLAS's threads,
    though it also has attention's batched products."""
    class Recurrent(ember.nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = ember.nn.GRU(8, 8, batch_first=True)

        def forward(self, x):
            t, _ = self.gru(x)
            return (t @ t.transpose(1, 2)).softmax(-1) @ t
    ember.manual_seed(4)
    x = ember.randn(2, 5, 8)
    assert_compiled_trains_as_eager(Recurrent, x, x, x)
    assert threaded_graphs == {"products": 0, "split forms": 0}
