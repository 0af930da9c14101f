"""Scripted (and traced) versions of an LSTM language model and a small Transformer with
data-dependent control flow: one compiled graph follows every path eager takes, in eval and
train mode, keeps gradients, and survives save/load with identical outputs."""
import io

import numpy as np
import pytest

import ember
from ember import jit

from .models import LSTMLM, TinyTransformer

# ember's own input checks (e.g. embedding indices in range) read tensors with bool()
pytestmark = pytest.mark.filterwarnings("ignore::ember.jit.TracerWarning")

# (steps, sure): no decoding, an immediate break, a break after 1 and after 3 tokens, none
LSTM_CALLS = [(0, 0.5), (6, 0.05), (6, 0.0615), (6, 0.0627), (4, 0.5)]
# (input seed, limit, max_refine): refinement runs 0 times, a few times or max_refine
# times, and both heads are used
TRANSFORMER_CALLS = [(0, 0.4, 3), (1, 0.4, 3), (0, -10.0, 2), (2, -1.0, 3), (1, 0.1, 5)]


def _same(got, want, atol=1e-5):
    got, want = _flat(got), _flat(want)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(_array(g), _array(w), rtol=1e-4, atol=atol)


def _flat(obj):
    return [x for o in obj for x in _flat(o)] if isinstance(obj, (tuple, list)) else [obj]


def _array(obj):
    return obj.detach().numpy() if isinstance(obj, ember.Tensor) else np.asarray(obj)


def _lstm():
    ember.manual_seed(0)
    return LSTMLM(), ember.randint(0, 20, (2, 5))


def _tokens(seed):
    ember.manual_seed(100 + seed)
    return ember.randint(0, 20, (2, 5))


def _transformer():
    ember.manual_seed(0)
    return TinyTransformer()


def _transformer_path(model, x, limit, max_refine):
    """How many refinements TinyTransformer runs on x and whether it picks `head`."""
    h, n = model.encoder(model.emb(x)), 0
    while n < max_refine and float(h[..., 0].mean()) > limit:
        h, n = model.refine(h) + 0.1, n + 1
    return n, bool(h[..., 1].sum() > 0)


def _round_trip(scripted):
    buf = io.BytesIO()
    scripted.save(buf)
    return jit.load(io.BytesIO(buf.getvalue()))


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_scripted_lstm_lm_matches_eager_on_every_path(mode):
    model, tokens = _lstm()
    model.train(mode == "train")
    scripted = jit.script(model)
    decoded = set()
    with ember.no_grad():
        for steps, sure in LSTM_CALLS:
            want = model(tokens, steps, sure)
            _same(scripted(tokens, steps, sure), want)
            decoded.add(want[2])
    assert decoded == {0, 1, 3, 4}
    assert len(scripted._script_methods["forward"].graphs) == 1
    assert "prim::Loop" in str(scripted.graph)


def test_scripted_lstm_lm_save_load():
    model, tokens = _lstm()
    model.eval()
    scripted = jit.script(model)
    with ember.no_grad():
        scripted(tokens, 1, 0.5)
        loaded = _round_trip(scripted)
        for steps, sure in LSTM_CALLS:
            want = scripted(tokens, steps, sure)
            got = loaded(tokens, ember.tensor(steps), ember.tensor(sure, dtype=ember.float64))
            _same(got, want, atol=0)


def test_scripted_lstm_lm_gradients_match_eager():
    model, tokens = _lstm()
    scripted = jit.script(model)
    logits, total, _ = scripted(tokens, 3, 0.0627)
    (logits.sum() + total.sum()).backward()
    got = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    logits, total, _ = model(tokens, 3, 0.0627)
    (logits.sum() + total.sum()).backward()
    for n, p in model.named_parameters():
        np.testing.assert_allclose(got[n].numpy(), p.grad.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_scripted_transformer_matches_eager_on_every_path(mode):
    model = _transformer().train(mode == "train")
    scripted = jit.script(model)
    counts, heads = set(), set()
    with ember.no_grad():
        for seed, limit, max_refine in TRANSFORMER_CALLS:
            x = _tokens(seed)
            want = model(x, limit, max_refine)
            _same(scripted(x, limit, max_refine), want)
            n, head = _transformer_path(model, x, limit, max_refine)
            assert n == want[1]
            counts.add(n)
            heads.add(head)
    assert len(counts) >= 3 and heads == {True, False}
    assert len(scripted._script_methods["forward"].graphs) == 1
    text = str(scripted.graph)
    assert "prim::Loop" in text and "prim::If" in text


def test_scripted_transformer_save_load():
    model = _transformer().eval()
    scripted = jit.script(model)
    with ember.no_grad():
        scripted(_tokens(0), 0.4, 3)
        loaded = _round_trip(scripted)
        for seed, limit, max_refine in TRANSFORMER_CALLS:
            x = _tokens(seed)
            got = loaded(x, ember.tensor(limit, dtype=ember.float64), ember.tensor(max_refine))
            _same(got, scripted(x, limit, max_refine), atol=0)


def test_scripted_transformer_gradients_match_eager():
    model = _transformer()
    scripted = jit.script(model)
    x = _tokens(0)
    scripted(x, 0.4, 3)[0].pow(2).mean().backward()
    got = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    model(x, 0.4, 3)[0].pow(2).mean().backward()
    for n, p in model.named_parameters():
        if p.grad is not None:
            np.testing.assert_allclose(got[n].numpy(), p.grad.numpy(), rtol=1e-4, atol=1e-5)


class _Logits(ember.nn.Module):
    """A model's first output only: traces return tensors, not Python numbers."""

    def __init__(self, model, *extra):
        super().__init__()
        self.model = model
        self.extra = extra

    def forward(self, tokens):
        return self.model(tokens, *self.extra)[0]


@pytest.mark.parametrize("make", ["lstm", "transformer"])
def test_traced_models_match_eager_on_the_traced_path(make):
    """Traced, their value-dependent loops are fixed at the example's path (check_trace
    would refuse the transformer: other token ids take another path, see below)."""
    if make == "lstm":
        model, x = _lstm()
        wrapped = _Logits(model, 0, 0.5)
    else:
        model, x = _transformer(), _tokens(0)
        wrapped = _Logits(model, 0.4, 3)
    wrapped.eval()
    traced = jit.trace(wrapped, x, check_trace=False)
    with ember.no_grad():
        _same(traced(x), wrapped(x))
        _same(_round_trip(traced)(x), wrapped(x))
