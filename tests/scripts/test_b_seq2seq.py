"""A GRU seq2seq model with additive attention: pad_sequence, packed bidirectional encoder,
teacher forcing with random.random(), CrossEntropyLoss(ignore_index=pad).
Run with torch and with ember from torch's initial weights; step-by-step results must agree."""
from tests.scripts._harness import close, run_both

PROGRAM = '''
import random

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from_lib = torch
pad_sequence = torch.nn.utils.rnn.pad_sequence
torch.manual_seed(0)
random.seed(0)
PAD, SOS, EOS, V, Hd = 0, 1, 2, 12, 16
rng = np.random.default_rng(2)
pairs = []
for _ in range(8):
    n = int(rng.integers(2, 6))
    s = rng.integers(3, V, n).tolist()
    pairs.append((torch.tensor(s + [EOS]), torch.tensor([SOS] + s[::-1] + [EOS])))

class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, Hd, padding_idx=PAD)
        self.gru = nn.GRU(Hd, Hd, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(2 * Hd, Hd)

    def forward(self, src, lengths):
        e = self.emb(src)
        packed = nn.utils.rnn.pack_padded_sequence(e, lengths, batch_first=True,
                                                   enforce_sorted=False)
        out, h = self.gru(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True,
                                                  total_length=src.size(1))
        h = torch.tanh(self.fc(torch.cat((h[-2], h[-1]), dim=1)))
        return out, h

class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = nn.Linear(3 * Hd, Hd)
        self.v = nn.Linear(Hd, 1, bias=False)

    def forward(self, hidden, enc, mask):
        L = enc.shape[1]
        hidden = hidden.unsqueeze(1).repeat(1, L, 1)
        energy = torch.tanh(self.attn(torch.cat((hidden, enc), dim=2)))
        scores = self.v(energy).squeeze(2)
        scores = scores.masked_fill(mask == 0, -1e10)
        return F.softmax(scores, dim=1)

class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, Hd)
        self.attention = Attention()
        self.rnn = nn.GRU(3 * Hd, Hd)
        self.out = nn.Linear(4 * Hd, V)

    def forward(self, inp, hidden, enc, mask):
        emb = self.emb(inp.unsqueeze(0))
        a = self.attention(hidden, enc, mask).unsqueeze(1)
        weighted = torch.bmm(a, enc).permute(1, 0, 2)
        out, hidden = self.rnn(torch.cat((emb, weighted), dim=2), hidden.unsqueeze(0))
        pred = self.out(torch.cat((out.squeeze(0), weighted.squeeze(0), emb.squeeze(0)), 1))
        return pred, hidden.squeeze(0), a.squeeze(1)

class Seq2Seq(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = Encoder()
        self.decoder = Decoder()

    def forward(self, src, lengths, trg, tf_ratio=0.5):
        B, T = trg.shape
        outputs = torch.zeros(T, B, V)
        enc, hidden = self.encoder(src, lengths)
        mask = src != PAD
        inp = trg[:, 0]
        for t in range(1, T):
            out, hidden, _ = self.decoder(inp, hidden, enc, mask)
            outputs[t] = out
            teacher = random.random() < tf_ratio
            inp = trg[:, t] if teacher else out.argmax(1)
        return outputs

model = Seq2Seq()
sync(model)
opt = torch.optim.Adam(model.parameters(), lr=5e-3)
crit = nn.CrossEntropyLoss(ignore_index=PAD)
srcs = pad_sequence([p[0] for p in pairs], batch_first=True, padding_value=PAD)
trgs = pad_sequence([p[1] for p in pairs], batch_first=True, padding_value=PAD)
lengths = torch.tensor([len(p[0]) for p in pairs])
losses = []
for _ in range(6):
    model.train()
    opt.zero_grad()
    logits = model(srcs, lengths, trgs, tf_ratio=0.5)
    loss = crit(logits[1:].reshape(-1, V), trgs.t()[1:].reshape(-1))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    losses.append(loss.item())
model.eval()
with torch.no_grad():
    greedy = model(srcs, lengths, trgs, tf_ratio=0.0)
out.update(losses=losses, greedy=greedy.numpy())
'''


def test_seq2seq_program(tmp_path):
    theirs, ours = run_both(PROGRAM, tmp_path)
    close(theirs["losses"], ours["losses"], rtol=1e-4, atol=1e-5)
    close(theirs["greedy"], ours["greedy"], rtol=1e-4, atol=1e-5)
    assert ours["losses"][-1] < ours["losses"][0]
