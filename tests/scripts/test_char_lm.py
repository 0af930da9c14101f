"""A char-level LSTM language model with packing, clipping, StepLR and checkpoint resume."""
from tests.scripts._harness import close, run_both

PROGRAM = '''
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence

torch.manual_seed(0)
text = "hello world. the quick brown fox jumps over the lazy dog. hello there. "
chars = sorted(set(text))
stoi = {c: i + 1 for i, c in enumerate(chars)}  # 0 is padding
itos = {i: c for c, i in stoi.items()}
vocab = len(chars) + 1
lines = [text[i:i + n] for i, n in zip(range(0, 60, 6), [12, 9, 7, 11, 8, 10, 12, 6, 9, 11])]
seqs = [torch.tensor([stoi[c] for c in line]) for line in lines]


class CharLM(nn.Module):
    def __init__(self, vocab, emb=16, hidden=48):
        super().__init__()
        self.embed = nn.Embedding(vocab, emb, padding_idx=0)
        self.rnn = nn.LSTM(emb, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, lengths=None, state=None):
        e = self.embed(x)
        if lengths is not None:
            packed = pack_padded_sequence(e, lengths, batch_first=True, enforce_sorted=False)
            h, state = self.rnn(packed, state)
            h, _ = pad_packed_sequence(h, batch_first=True, total_length=x.size(1))
        else:
            h, state = self.rnn(e, state)
        return self.head(h), state


def batch_of(seqs):
    inputs = pad_sequence([s[:-1] for s in seqs], batch_first=True)
    targets = pad_sequence([s[1:] for s in seqs], batch_first=True)
    lengths = torch.tensor([len(s) - 1 for s in seqs])
    return inputs, targets, lengths


model = sync(CharLM(vocab))
optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=20, gamma=0.5)
inputs, targets, lengths = batch_of(seqs)


def train(steps):
    losses = []
    for _ in range(steps):
        model.train()
        logits, _ = model(inputs, lengths)
        loss = F.cross_entropy(logits.reshape(-1, vocab), targets.reshape(-1), ignore_index=0)
        optimizer.zero_grad()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
    return losses, norm


losses, norm = train(30)
out["losses"] = losses
out["norm"] = float(norm)
out["lr"] = scheduler.get_last_lr()[0]

path = os.path.join(TMP, "ckpt.pt")
torch.save({"model": model.state_dict(), "optim": optimizer.state_dict(),
            "sched": scheduler.state_dict(), "epoch": 30}, path)


def generate(model, start="h", n=20, temperature=None):
    model.eval()
    idx = torch.tensor([[stoi[start]]])
    result, state = [start], None
    with torch.no_grad():
        for _ in range(n):
            logits, state = model(idx, state=state)
            logits = logits[:, -1, :]
            logits[:, 0] = float("-inf")
            if temperature is None:
                nxt = torch.argmax(logits, dim=-1, keepdim=True)
            else:
                probs = F.softmax(logits / temperature, dim=-1)
                nxt = torch.multinomial(probs, num_samples=1)
            result.append(itos[nxt.item()])
            idx = nxt
    return "".join(result)


out["greedy"] = generate(model)
out["sampled_len"] = len(generate(model, temperature=0.8))

# resume into a fresh model and optimizer and keep training
ckpt = torch.load(path)
model2 = CharLM(vocab)
model2.load_state_dict(ckpt["model"])
optimizer2 = torch.optim.Adam(model2.parameters(), lr=0.02)
optimizer2.load_state_dict(ckpt["optim"])
scheduler2 = torch.optim.lr_scheduler.StepLR(optimizer2, step_size=20, gamma=0.5)
scheduler2.load_state_dict(ckpt["sched"])
out["resumed_greedy"] = generate(model2)
out["resumed_lr"] = optimizer2.param_groups[0]["lr"]
out["resumed_step"] = int(optimizer2.state_dict()["state"][0]["step"])
model, optimizer, scheduler = model2, optimizer2, scheduler2
more, _ = train(5)
out["more"] = more
'''


def test_char_lm_trains_and_resumes_like_torch(tmp_path):
    ref, got = run_both(PROGRAM, tmp_path)
    close(ref["losses"], got["losses"], rtol=2e-3, atol=1e-4)
    close(ref["norm"], got["norm"], rtol=1e-2)
    close(ref["lr"], got["lr"])
    assert got["greedy"] == ref["greedy"]
    assert got["sampled_len"] == ref["sampled_len"] == 21
    assert got["resumed_greedy"] == got["greedy"]
    assert got["resumed_lr"] == ref["resumed_lr"]
    assert got["resumed_step"] == ref["resumed_step"] == 30
    close(ref["more"], got["more"], rtol=5e-3, atol=1e-4)
