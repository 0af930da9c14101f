"""Skip-gram word2vec with negative sampling: two nn.Embedding tables, bmm of (B,1,D) by (B,D,K),
F.logsigmoid, index_select, negatives drawn once in NumPy and shared (no torch.multinomial), Adam
(SparseAdam's sparse gradients are out of scope), and nearest neighbours by F.cosine_similarity
and topk.
Run with torch and with ember from torch's initial weights; step-by-step results must agree."""
from tests.scripts._harness import close, run_both

PROGRAM = '''
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
corpus = ("the king rules the land the queen rules the land the king and the queen "
          "the dog chases the cat the cat chases the mouse the dog and the cat").split()
vocab = sorted(set(corpus))
word2idx = {w: i for i, w in enumerate(vocab)}
V, D, WINDOW, K = len(vocab), 12, 2, 4
ids = [word2idx[w] for w in corpus]
pairs = [(ids[i], ids[j]) for i in range(len(ids))
         for j in range(max(0, i - WINDOW), min(len(ids), i + WINDOW + 1)) if i != j]
counts = np.bincount(ids, minlength=V).astype(np.float64) ** 0.75
noise = counts / counts.sum()
rng = np.random.default_rng(3)


class SkipGram(nn.Module):
    def __init__(self):
        super().__init__()
        self.in_embed = nn.Embedding(V, D)
        self.out_embed = nn.Embedding(V, D)

    def forward(self, center, context, negatives):
        v = self.in_embed(center).unsqueeze(1)
        u_pos = self.out_embed(context).unsqueeze(2)
        u_neg = self.out_embed(negatives).transpose(1, 2)
        pos = F.logsigmoid(torch.bmm(v, u_pos).squeeze(2).squeeze(1))
        neg = F.logsigmoid(-torch.bmm(v, u_neg).squeeze(1)).sum(1)
        return -(pos + neg).mean()


model = sync(SkipGram())
optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
all_pairs = torch.tensor(pairs)
losses = []
for epoch in range(6):
    order = torch.from_numpy(rng.permutation(len(pairs)))
    for start in range(0, len(pairs), 32):
        batch = all_pairs.index_select(0, order[start:start + 32])
        negatives = torch.from_numpy(rng.choice(V, size=(batch.size(0), K), p=noise))
        loss = model(batch[:, 0], batch[:, 1], negatives)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())

emb = model.in_embed.weight.detach()
normed = F.normalize(emb, dim=1)
query = emb[word2idx["king"]].unsqueeze(0)
sims = F.cosine_similarity(query, emb, dim=1)
values, indices = sims.topk(4)
matrix = normed @ normed.t()
assert torch.allclose(matrix[word2idx["king"]], sims, atol=1e-5)
out.update(losses=losses, sims=sims.numpy(), top=[vocab[i] for i in indices.tolist()],
           values=values.numpy(), first=losses[0], last=float(np.mean(losses[-5:])))
'''


def test_word2vec_program(tmp_path):
    theirs, ours = run_both(PROGRAM, tmp_path)
    close(theirs["losses"], ours["losses"], rtol=1e-4, atol=1e-5)
    close(theirs["sims"], ours["sims"], rtol=1e-4, atol=1e-5)
    close(theirs["values"], ours["values"], rtol=1e-4, atol=1e-5)
    assert theirs["top"] == ours["top"]
    assert ours["top"][0] == "king"
    assert ours["last"] < ours["first"]
