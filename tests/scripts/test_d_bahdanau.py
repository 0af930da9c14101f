"""Seq2seq with Bahdanau attention and teacher forcing: a two-layer bidirectional GRU encoder whose
h_n is reshaped with view(num_layers, 2, B, H), precomputed keys, additive scores by bmm,
masked_fill and softmax, a GRUCell decoder stepping over time with torch.cat of the context,
torch.stack of the outputs, CrossEntropyLoss(ignore_index=pad) and greedy decoding.
Run with torch and with ember from torch's initial weights; step-by-step results must agree."""
from tests.scripts._harness import close, run_both

PROGRAM = '''
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
PAD, SOS, EOS, V, E, H = 0, 1, 2, 11, 8, 12
rng = np.random.default_rng(5)
N, S, T = 12, 6, 7
src = np.zeros((N, S), dtype=np.int64)
trg = np.zeros((N, T), dtype=np.int64)
for i in range(N):
    n = int(rng.integers(2, S))
    seq = rng.integers(3, V, n)
    src[i, :n], src[i, n] = seq, EOS
    trg[i, 0], trg[i, 1:n + 1], trg[i, n + 1] = SOS, np.sort(seq), EOS
src, trg = torch.from_numpy(src), torch.from_numpy(trg)
teacher = rng.random((40, T)) < 0.5


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(V, E, padding_idx=PAD)
        self.rnn = nn.GRU(E, H, num_layers=2, bidirectional=True, batch_first=True)
        self.bridge = nn.Linear(2 * H, H)

    def forward(self, x):
        outputs, h_n = self.rnn(self.embedding(x))
        h_n = h_n.view(2, 2, x.size(0), H)[-1]
        hidden = torch.tanh(self.bridge(torch.cat([h_n[0], h_n[1]], dim=-1)))
        return outputs, hidden


class BahdanauAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.key_layer = nn.Linear(2 * H, H, bias=False)
        self.query_layer = nn.Linear(H, H, bias=False)
        self.energy_layer = nn.Linear(H, 1, bias=False)

    def forward(self, query, proj_key, value, mask):
        scores = self.energy_layer(torch.tanh(self.query_layer(query).unsqueeze(1) + proj_key))
        scores = scores.squeeze(2).unsqueeze(1)
        scores = scores.masked_fill(mask.unsqueeze(1) == 0, float("-inf"))
        alphas = F.softmax(scores, dim=-1)
        return torch.bmm(alphas, value).squeeze(1), alphas.squeeze(1)


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(V, E)
        self.attention = BahdanauAttention()
        self.cell = nn.GRUCell(E + 2 * H, H)
        self.pre_output = nn.Linear(H + 2 * H + E, H)
        self.generator = nn.Linear(H, V)

    def step(self, token, hidden, proj_key, enc, mask):
        emb = self.embedding(token)
        context, alphas = self.attention(hidden, proj_key, enc, mask)
        hidden = self.cell(torch.cat([emb, context], dim=1), hidden)
        logits = self.generator(torch.tanh(self.pre_output(torch.cat([emb, hidden, context], 1))))
        return logits, hidden, alphas


class Seq2Seq(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = Encoder()
        self.decoder = Decoder()

    def forward(self, x, y, force):
        mask = (x != PAD)
        enc, hidden = self.encoder(x)
        proj_key = self.decoder.attention.key_layer(enc)
        token, outputs, attn = y[:, 0], [], []
        for t in range(1, y.size(1)):
            logits, hidden, alphas = self.decoder.step(token, hidden, proj_key, enc, mask)
            outputs.append(logits)
            attn.append(alphas)
            token = y[:, t] if force[t] else logits.argmax(-1)
        return torch.stack(outputs, dim=1), torch.stack(attn, dim=1)

    @torch.no_grad()
    def greedy(self, x, max_len):
        mask = (x != PAD)
        enc, hidden = self.encoder(x)
        proj_key = self.decoder.attention.key_layer(enc)
        token = torch.full((x.size(0),), SOS, dtype=torch.long)
        result = []
        for _ in range(max_len):
            logits, hidden, _ = self.decoder.step(token, hidden, proj_key, enc, mask)
            token = logits.argmax(dim=-1)
            result.append(token)
        return torch.stack(result, 1)


model = sync(Seq2Seq())
criterion = nn.CrossEntropyLoss(ignore_index=PAD)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
losses, attn_rows = [], []
for step in range(40):
    lo = (step * 4) % N
    x, y = src[lo:lo + 4], trg[lo:lo + 4]
    logits, attn = model(x, y, teacher[step])
    loss = criterion(logits.reshape(-1, V), y[:, 1:].reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    losses.append(loss.item())
    attn_rows.append(attn.sum(-1).mean().item())

model.eval()
decoded = model.greedy(src, T - 1)
out.update(losses=losses, attn_rows=attn_rows, decoded=decoded.tolist(),
           masked=attn[:, :, -1].abs().max().item())
'''


def test_bahdanau_program(tmp_path):
    theirs, ours = run_both(PROGRAM, tmp_path)
    close(theirs["losses"], ours["losses"], rtol=1e-4, atol=1e-5)
    close(ours["attn_rows"], 1.0, rtol=1e-5, atol=1e-6)
    assert ours["decoded"] == theirs["decoded"]
    assert ours["masked"] == theirs["masked"]
    assert ours["losses"][-1] < ours["losses"][0]
