"""Metric learning on embeddings: batch-hard triplet mining with torch.cdist and masks, a
proxy (prototype) loss through torch.distributions.Categorical log_prob, recall@k retrieval with
topk and scatter_, one_hot accuracy bookkeeping, and Categorical sampling of hard negatives
(checked by frequencies, since random streams differ between the libraries).
Run with torch and with ember from torch's initial weights; step-by-step results must agree."""
from tests.scripts._harness import close, run_both

PROGRAM = '''
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import Categorical

torch.manual_seed(0)
rng = np.random.default_rng(11)
N_CLASSES, PER_CLASS, D_IN, D_EMB = 5, 6, 16, 8
centers = rng.standard_normal((N_CLASSES, D_IN)) * 1.5
labels = np.repeat(np.arange(N_CLASSES), PER_CLASS)
x = torch.tensor(centers[labels] + rng.standard_normal((len(labels), D_IN)),
                 dtype=torch.float32)
labels = torch.from_numpy(labels)

class Embedder(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(D_IN, 32), nn.PReLU(), nn.Linear(32, D_EMB))
        self.proxies = nn.Parameter(torch.randn(N_CLASSES, D_EMB) * 0.1)

    def forward(self, x):
        return F.normalize(self.body(x), p=2, dim=1)

def batch_hard_triplet(emb, labels, margin=0.3):
    dist = torch.cdist(emb, emb, p=2)
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    eye = torch.eye(len(labels), dtype=torch.bool)
    hardest_pos = dist.masked_fill(~same | eye, 0.0).max(dim=1).values
    hardest_neg = dist.masked_fill(same, float("inf")).min(dim=1).values
    return F.relu(hardest_pos - hardest_neg + margin).mean(), (hardest_neg < hardest_pos)

def proxy_loss(emb, proxies, labels, scale=8.0):
    logits = scale * emb @ F.normalize(proxies, dim=1).t()
    return -Categorical(logits=logits).log_prob(labels).mean()

def recall_at_k(emb, labels, ks=(1, 3)):
    dist = torch.cdist(emb, emb)
    dist.fill_diagonal_(float("inf"))
    _, idx = dist.topk(max(ks), dim=1, largest=False)
    hits = labels[idx] == labels.unsqueeze(1)
    return [hits[:, :k].any(dim=1).float().mean().item() for k in ks]

model = Embedder()
sync(model)
optimizer = torch.optim.Adam([
    {"params": model.body.parameters()},
    {"params": [model.proxies], "lr": 3e-2},
], lr=1e-2)
losses, violations, recalls = [], [], []
for step in range(10):
    emb = model(x)
    trip, violated = batch_hard_triplet(emb, labels)
    loss = trip + proxy_loss(emb, model.proxies, labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
    violations.append(int(violated.sum()))
    if step % 3 == 0:
        with torch.no_grad():
            recalls.extend(recall_at_k(model(x), labels))

model.eval()
with torch.no_grad():
    emb = model(x)
    proxies = F.normalize(model.proxies, dim=1)
    scores = emb @ proxies.t()
    pred = scores.argmax(dim=1)
    confusion = torch.zeros(N_CLASSES, N_CLASSES, dtype=torch.long)
    confusion.index_put_((labels, pred), torch.ones_like(labels), accumulate=True)
    correct = (F.one_hot(pred, N_CLASSES) * F.one_hot(labels, N_CLASSES)).sum().item()
    assert correct == int(torch.trace(confusion))
    top2 = torch.zeros_like(scores).scatter_(1, scores.topk(2, dim=1).indices, 1.0)
    top2_acc = top2.gather(1, labels.unsqueeze(1)).mean().item()
    dist = Categorical(logits=-4.0 * torch.cdist(emb, emb).fill_diagonal_(float("inf")))
    assert dist.probs.diagonal().abs().max().item() == 0.0
    entropy = dist.entropy()
    samples = dist.sample((4000,))
    assert samples.shape == (4000, len(labels)) and samples.dtype == torch.int64
    freq = F.one_hot(samples, len(labels)).float().mean(dim=0)
    torch.testing.assert_close(freq, dist.probs, atol=0.05, rtol=0)
    assert not (samples == torch.arange(len(labels))).any()
out.update(losses=losses, violations=violations, recalls=recalls, confusion=confusion.numpy(),
           top2=top2_acc, entropy=entropy.numpy(), scores=scores.numpy())
'''


def test_metric_learning_program(tmp_path):
    theirs, ours = run_both(PROGRAM, tmp_path)
    close(theirs["losses"], ours["losses"], rtol=1e-4, atol=1e-5)
    assert theirs["violations"] == ours["violations"]
    close(theirs["recalls"], ours["recalls"], rtol=0, atol=1e-6)
    assert (theirs["confusion"] == ours["confusion"]).all()
    close(theirs["top2"], ours["top2"], rtol=0, atol=1e-6)
    close(theirs["entropy"], ours["entropy"], rtol=1e-4, atol=1e-5)
    close(theirs["scores"], ours["scores"], rtol=1e-4, atol=1e-5)
    assert ours["losses"][-1] < ours["losses"][0]
