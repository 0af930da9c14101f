"""ember.onnx.export on whole models: each is exported with a dynamic batch axis (and sequence
axis where it has one), checked with onnx.checker (full check), run in onnxruntime at two
sizes and compared with ember's own outputs (max abs diff <= 1e-5 in float32)."""
from __future__ import annotations

import pytest
from onnx_helpers import assert_close, expected_outputs, export_bytes, run, session

import ember
import ember.nn as nn
import ember.nn.functional as F

pytestmark = pytest.mark.filterwarnings("ignore::ember.jit.tracer.TracerWarning")

def check_model(model, make_inputs, names, dynamic_axes, sizes=(2, 3), **kwargs):
    """Export at the first size, then run the one file at every size."""
    model.eval()
    sess = session(export_bytes(model, make_inputs(sizes[0]), input_names=names,
                                dynamic_axes=dynamic_axes, **kwargs))
    for n in sizes:
        inputs = make_inputs(n)
        assert_close(run(sess, dict(zip(names, inputs))), expected_outputs(model, inputs))
    return sess


def _randomize_batch_norms(model) -> None:
    """Non-trivial running statistics, so eval-mode BatchNorm really normalizes."""
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)


# ---- MLP --------------------------------------------------------------------------------------
def test_mlp():
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.GELU(),
                          nn.Dropout(0.2), nn.Linear(16, 3), nn.LogSoftmax(dim=-1))
    check_model(model, lambda n: (ember.randn(n, 6),), ["x"], {"x": {0: "batch"}})


@pytest.mark.parametrize("opset", range(11, 22))
def test_mlp_every_opset(opset):
    model = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.LayerNorm(8), nn.Linear(8, 2))
    check_model(model, lambda n: (ember.randn(n, 4),), ["x"], {"x": {0: "batch"}},
                opset_version=opset)


# ---- CNN with BatchNorm and pooling -----------------------------------------------------------
def test_cnn_batchnorm_pooling():
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        nn.AvgPool2d(2), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(8, 4))
    _randomize_batch_norms(model)
    check_model(model, lambda n: (ember.randn(n, 3, 12, 12),), ["image"],
                {"image": {0: "batch"}})


# ---- ResNet-18-shaped network -----------------------------------------------------------------
class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                      nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.down is None else self.down(x)))


class ResNet18(nn.Module):
    """ResNet-18's layout (stem, 4 stages of 2 basic blocks, global pool, fc) with small
    channels."""

    def __init__(self, widths=(4, 8, 16, 32), classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 7, 2, 3, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        blocks, cin = [], widths[0]
        for k, w in enumerate(widths):
            blocks += [BasicBlock(cin, w, 1 if k == 0 else 2), BasicBlock(w, w, 1)]
            cin = w
        self.layers = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[-1], classes)

    def forward(self, x):
        x = self.pool(self.layers(self.stem(x)))
        return self.fc(x.view(x.size(0), -1))


def test_resnet18_shaped():
    model = ResNet18()
    _randomize_batch_norms(model)
    check_model(model, lambda n: (ember.randn(n, 3, 32, 32),), ["x"], {"x": {0: "batch"}})


# ---- recurrent networks ------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU], ids=["lstm", "gru"])
def test_rnn_batch_first_two_layers_bidirectional(cls):
    model = cls(5, 6, num_layers=2, batch_first=True, bidirectional=True)
    sess = check_model(model, lambda n: (ember.randn(n, 2 + 2 * n, 5),), ["x"],
                       {"x": {0: "batch", 1: "seq"}})
    assert [o.name for o in sess.get_outputs()][0] == "output_0"


def test_lstm_with_initial_state():
    model = nn.LSTM(4, 3, num_layers=2, batch_first=True, bidirectional=True)

    def make(n):
        return ember.randn(n, 4, 4), (ember.randn(4, n, 3), ember.randn(4, n, 3))
    model.eval()
    sess = session(export_bytes(model, make(2), input_names=["x", "h0", "c0"],
                                dynamic_axes={"x": {0: "batch"}, "h0": {1: "batch"},
                                              "c0": {1: "batch"}}))
    for n in (2, 3):
        x, (h, c) = make(n)
        assert_close(run(sess, {"x": x, "h0": h, "c0": c}), expected_outputs(model, (x, (h, c))))


# ---- Transformer encoder with masks -------------------------------------------------------------
class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        layer = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2)

    def forward(self, x, mask, padding):
        return self.encoder(x, mask=mask, src_key_padding_mask=padding)


def _encoder_inputs(n):
    seq = n + 3
    mask = nn.Transformer.generate_square_subsequent_mask(seq)
    pad = ember.zeros(n, seq, dtype=ember.bool)
    pad[1, seq - 2:] = True
    padding = ember.zeros(n, seq).masked_fill(pad, float("-inf"))
    return ember.randn(n, seq, 16), mask, padding


def test_transformer_encoder_with_masks():
    check_model(Encoder(), _encoder_inputs, ["x", "mask", "padding"],
                {"x": {0: "batch", 1: "seq"}, "mask": {0: "seq", 1: "seq"},
                 "padding": {0: "batch", 1: "seq"}})


# ---- embedding + LayerNorm + attention stack shaped like BERT ----------------------------------
class BertLayer(nn.Module):
    def __init__(self, hidden, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.out = nn.Linear(hidden, hidden)
        self.norm1 = nn.LayerNorm(hidden, eps=1e-12)
        self.ff = nn.Sequential(nn.Linear(hidden, 4 * hidden), nn.GELU(),
                                nn.Linear(4 * hidden, hidden))
        self.norm2 = nn.LayerNorm(hidden, eps=1e-12)

    def forward(self, x, bias):
        b, t, c = x.shape
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        q, k, v = (y.view(b, t, self.heads, c // self.heads).transpose(1, 2) for y in (q, k, v))
        scores = q @ k.transpose(-2, -1) / (c // self.heads) ** 0.5 + bias
        ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, c)
        x = self.norm1(x + self.out(ctx))
        return self.norm2(x + self.ff(x))


class TinyBert(nn.Module):
    def __init__(self, vocab=50, hidden=16, heads=2, layers=2, max_len=32):
        super().__init__()
        self.words = nn.Embedding(vocab, hidden, padding_idx=0)
        self.positions = nn.Embedding(max_len, hidden)
        self.types = nn.Embedding(2, hidden)
        self.norm = nn.LayerNorm(hidden, eps=1e-12)
        self.drop = nn.Dropout(0.1)
        self.layers = nn.ModuleList(BertLayer(hidden, heads) for _ in range(layers))
        self.pooler = nn.Linear(hidden, hidden)

    def forward(self, input_ids, token_type_ids, attention_mask):
        seq = input_ids.shape[1]
        positions = ember.arange(seq).unsqueeze(0)
        x = self.words(input_ids) + self.positions(positions) + self.types(token_type_ids)
        x = self.drop(self.norm(x))
        bias = (1.0 - attention_mask[:, None, None, :].float()) * -10000.0
        for layer in self.layers:
            x = layer(x, bias)
        return x, self.pooler(x[:, 0]).tanh()


def _bert_inputs(n):
    seq = 2 * n + 3
    ids = ember.randint(1, 50, (n, seq))
    types = (ember.arange(seq) >= seq // 2).long().expand(n, seq).contiguous()
    mask = ember.ones(n, seq, dtype=ember.int64)
    mask[0, seq - 2:] = 0
    return ids, types, mask


def test_bert_shaped_stack():
    dims = {0: "batch", 1: "seq"}
    sess = check_model(TinyBert(), _bert_inputs, ["input_ids", "token_type_ids",
                                                  "attention_mask"],
                       {"input_ids": dims, "token_type_ids": dims, "attention_mask": dims},
                       output_names=["hidden", "pooled"])
    hidden = sess.get_outputs()[0]
    assert hidden.name == "hidden" and hidden.shape[:2] == ["batch", "seq"]
