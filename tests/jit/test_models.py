"""Traced versions of small models from the nn families: outputs (fast path), gradients
(replay through apply) and a save/load round trip each. A family that is missing skips."""
import io

import numpy as np
import pytest

import ember
from ember import jit, nn

from .models import MLP

# ember's own input checks (e.g. embedding indices in range) read tensors with bool()
pytestmark = pytest.mark.filterwarnings("ignore::ember.jit.TracerWarning")


def _need(*names):
    missing = [n for n in names if not hasattr(nn, n)]
    assert not missing, f"ember.nn lacks {missing}"


def _cnn():
    _need("Conv2d", "BatchNorm2d", "MaxPool2d", "AdaptiveAvgPool2d", "Flatten", "ReLU")
    return nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Conv2d(6, 8, 3, padding=1), nn.BatchNorm2d(8),
                         nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5)), \
        ember.randn(3, 1, 8, 8)


def _lstm():
    _need("LSTM", "Embedding")

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(20, 8)
            self.lstm = nn.LSTM(8, 12, batch_first=True)
            self.out = nn.Linear(12, 20)

        def forward(self, tokens):
            h, _ = self.lstm(self.emb(tokens))
            return self.out(h)
    return LM(), ember.randint(0, 20, (2, 5))


def _transformer():
    _need("TransformerEncoder", "TransformerEncoderLayer")
    layer = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True)
    return nn.TransformerEncoder(layer, 2), ember.randn(2, 5, 16)


MODELS = {"mlp": lambda: (MLP(), ember.randn(4, 8)), "cnn": _cnn, "lstm": _lstm,
          "transformer": _transformer}


def _close(a, b, atol=1e-5):
    return a.shape == b.shape and np.allclose(a.numpy(force=True), b.numpy(force=True),
                                              atol=atol, rtol=1e-4)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_traced_model_matches_eager(name):
    model, x = MODELS[name]()
    model.eval()
    traced = jit.trace(model, x)
    with ember.no_grad():
        assert _close(traced(x), model(x))
    frozen = jit.freeze(traced)
    with ember.no_grad():
        assert _close(frozen(x), model(x))
    buf = io.BytesIO()
    frozen.save(buf)
    buf.seek(0)
    with ember.no_grad():
        assert _close(jit.load(buf)(x), model(x))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_traced_model_gradients_match_eager(name):
    model, x = MODELS[name]()
    model.train()
    traced = jit.trace(model, x, check_trace=False)
    (model(x) ** 2).sum().backward()
    expected = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    (traced(x) ** 2).sum().backward()
    for n, p in model.named_parameters():
        assert _close(p.grad, expected[n], atol=1e-4), n
