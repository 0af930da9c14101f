"""A decoder-only Transformer written from scratch (nanoGPT style): parameter positional
embeddings, a triu causal mask, einsum attention, weight tying, init via apply, AdamW with two
parameter groups, gradient clipping, torch.compile and top-k sampling.
Run with torch and with ember from torch's initial weights; step-by-step results must agree."""
from tests.scripts._harness import close, run_both

PROGRAM = '''
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
V, D, T, H = 17, 32, 12, 4

class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(D)
        self.qkv = nn.Linear(D, 3 * D)
        self.proj = nn.Linear(D, D)
        self.ln2 = nn.LayerNorm(D)
        self.mlp = nn.Sequential(nn.Linear(D, 4 * D), nn.GELU(), nn.Linear(4 * D, D))
        self.register_buffer("mask", torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1))

    def forward(self, x):
        B, L, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q = q.view(B, L, H, C // H).transpose(1, 2)
        k = k.view(B, L, H, C // H).transpose(1, 2)
        v = v.view(B, L, H, C // H).transpose(1, 2)
        att = torch.einsum("bhqd,bhkd->bhqk", q, k) / math.sqrt(C // H)
        att = att.masked_fill(self.mask[:L, :L], float("-inf"))
        att = F.softmax(att, dim=-1)
        y = torch.einsum("bhqk,bhkd->bhqd", att, v)
        y = y.transpose(1, 2).contiguous().view(B, L, C)
        x = x + self.proj(y)
        return x + self.mlp(self.ln2(x))

class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(V, D)
        self.pos = nn.Parameter(torch.zeros(1, T, D))
        self.blocks = nn.ModuleList([Block() for _ in range(2)])
        self.ln_f = nn.LayerNorm(D)
        self.head = nn.Linear(D, V, bias=False)
        self.head.weight = self.tok.weight
        self.apply(self._init)

    def _init(self, m):
        if isinstance(m, nn.Linear):
            torch.nn.init.normal_(m.weight, mean=0.0, std=0.02)
            if m.bias is not None:
                torch.nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            torch.nn.init.normal_(m.weight, mean=0.0, std=0.02)

    def forward(self, idx, targets=None):
        B, L = idx.size()
        x = self.tok(idx) + self.pos[:, :L, :]
        for blk in self.blocks:
            x = blk(x)
        logits = self.head(self.ln_f(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))
        return logits, loss

    @torch.no_grad()
    def generate(self, idx, n, temperature=1.0, top_k=None):
        for _ in range(n):
            idx_cond = idx if idx.size(1) <= T else idx[:, -T:]
            logits, _ = self(idx_cond)
            logits = logits[:, -1, :] / temperature
            if top_k is not None:
                v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
                logits[logits < v[:, [-1]]] = -float("Inf")
            probs = F.softmax(logits, dim=-1)
            nxt = torch.multinomial(probs, num_samples=1)
            idx = torch.cat((idx, nxt), dim=1)
        return idx

model = GPT()
assert model.head.weight is model.tok.weight
sync(model)
decay, no_decay = [], []
for n, p in model.named_parameters():
    (no_decay if p.dim() < 2 else decay).append(p)
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                         {"params": no_decay, "weight_decay": 0.0}], lr=3e-3, betas=(0.9, 0.95))
rng = np.random.default_rng(0)
data = torch.from_numpy(rng.integers(0, V, size=(8, 4, T + 1)))
losses, norms = [], []
model.train()
for step in range(8):
    x, y = data[step, :, :-1], data[step, :, 1:]
    _, loss = model(x, y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    losses.append(loss.item())
    norms.append(float(norm))
model.eval()
compiled = torch.compile(model, backend="eager")
logits_c, _ = compiled(data[0, :, :-1])
logits_e, _ = model(data[0, :, :-1])
torch.testing.assert_close(logits_c, logits_e)
sample = model.generate(torch.zeros((2, 1), dtype=torch.long), 15, top_k=5)
assert sample.shape == (2, 16) and sample.dtype == torch.long
assert int(sample.max()) < V and int(sample.min()) >= 0
out.update(losses=losses, norms=norms)
'''


def test_transformer_program(tmp_path):
    theirs, ours = run_both(PROGRAM, tmp_path)
    close(theirs["losses"], ours["losses"], rtol=1e-4, atol=1e-5)
    close(theirs["norms"], ours["norms"], rtol=1e-4, atol=1e-5)
    assert ours["losses"][-1] < ours["losses"][0]
