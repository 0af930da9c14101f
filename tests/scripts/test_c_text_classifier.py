"""A text classifier on nn.TransformerEncoder: src_key_padding_mask from padded batches,
nn.Embedding(padding_idx=...), sinusoidal positions in a buffer, masked mean pooling,
CrossEntropyLoss(label_smoothing=...), evaluation under torch.no_grad with argmax accuracy,
and torch.jit.trace of the model for inference.
Run with torch and with ember from torch's initial weights; step-by-step results must agree."""
from tests.scripts._harness import close, run_both

PROGRAM = '''
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
PAD, V, D, C, T = 0, 30, 16, 4, 9

class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=64):
        super().__init__()
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, 1, d_model)
        pe[:, 0, 0::2] = torch.sin(position * div_term)
        pe[:, 0, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe)

    def forward(self, x):
        return x + self.pe[: x.size(0)]

class TextClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(V, D, padding_idx=PAD)
        self.pos = PositionalEncoding(D)
        layer = nn.TransformerEncoderLayer(D, nhead=4, dim_feedforward=32, dropout=0.0,
                                           activation="gelu")
        self.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        self.fc = nn.Linear(D, C)

    def forward(self, tokens):
        pad_mask = tokens == PAD
        x = self.embedding(tokens).transpose(0, 1) * math.sqrt(D)
        x = self.encoder(self.pos(x), src_key_padding_mask=pad_mask)
        x = x.transpose(0, 1).masked_fill(pad_mask.unsqueeze(-1), 0.0)
        pooled = x.sum(dim=1) / (~pad_mask).sum(dim=1, keepdim=True).clamp(min=1)
        return self.fc(pooled)

rng = np.random.default_rng(2)

def make_split(n):
    lengths = rng.integers(2, T + 1, n)
    tokens = np.full((n, T), PAD, dtype=np.int64)
    for i, k in enumerate(lengths):
        tokens[i, :k] = rng.integers(1, V, k)
    labels = (tokens[:, 0] % C).astype(np.int64)
    return torch.from_numpy(tokens), torch.from_numpy(labels)

train_x, train_y = make_split(48)
test_x, test_y = make_split(16)
model = TextClassifier()
assert torch.all(model.embedding.weight[PAD] == 0)
sync(model)
criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)

def evaluate(model, xs, ys):
    model.eval()
    correct, total, loss_sum = 0, 0, 0.0
    with torch.no_grad():
        for i in range(0, len(xs), 8):
            logits = model(xs[i:i + 8])
            loss_sum += criterion(logits, ys[i:i + 8]).item() * len(logits)
            correct += (logits.argmax(dim=1) == ys[i:i + 8]).sum().item()
            total += ys[i:i + 8].size(0)
    return loss_sum / total, correct / total

losses, evals = [], []
for epoch in range(3):
    model.train()
    perm = torch.from_numpy(rng.permutation(len(train_x)))
    for i in range(0, len(train_x), 12):
        idx = perm[i:i + 12]
        optimizer.zero_grad()
        loss = criterion(model(train_x[idx]), train_y[idx])
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    evals.append(evaluate(model, test_x, test_y))
    assert not torch.is_grad_enabled() or model.fc.weight.grad is not None
assert torch.all(model.embedding.weight.grad[PAD] == 0)

model.eval()
example = test_x[:4]
traced = torch.jit.trace(model, example)
with torch.no_grad():
    eager = model(test_x)
    via_trace = traced(test_x)
torch.testing.assert_close(via_trace, eager, rtol=1e-5, atol=1e-5)
probs = F.softmax(eager, dim=-1)
confidence, predicted = probs.max(dim=-1)
out.update(losses=losses, evals=[v for pair in evals for v in pair], probs=probs.numpy(),
           predicted=predicted.numpy(), confidence=confidence.numpy())
'''


def test_text_classifier_program(tmp_path):
    theirs, ours = run_both(PROGRAM, tmp_path)
    close(theirs["losses"], ours["losses"], rtol=1e-4, atol=1e-5)
    close(theirs["evals"], ours["evals"], rtol=1e-4, atol=1e-5)
    close(theirs["probs"], ours["probs"], rtol=1e-4, atol=1e-5)
    assert (theirs["predicted"] == ours["predicted"]).all()
    assert ours["losses"][-1] < ours["losses"][0]
