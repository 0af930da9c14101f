"""A graph network written with plain tensors: unique/argsort/sort on edge lists, bincount
degrees, symmetric normalisation, index_add_/scatter_reduce/scatter_add_ message passing.
Run with torch and with ember from torch's initial weights; step-by-step results must agree."""
import pytest

from tests.scripts._harness import close, run_both

# torch's notice that index_reduce is a beta API
pytestmark = pytest.mark.filterwarnings("ignore:index_reduce\\(\\) is in beta")

PROGRAM = '''
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
rng = np.random.default_rng(1)
N, E, Fin, C = 30, 90, 8, 3
src = rng.integers(0, N, E)
dst = rng.integers(0, N, E)
edge_index = torch.tensor(np.stack([src, dst]), dtype=torch.long)
# make undirected, drop duplicates and self loops
edge_index = torch.cat([edge_index, edge_index.flip(0)], dim=1)
edge_index = edge_index[:, edge_index[0] != edge_index[1]]
key = edge_index[0] * N + edge_index[1]
uniq, inverse = torch.unique(key, sorted=True, return_inverse=True)
edge_index = torch.stack([uniq // N, uniq % N])
assert inverse.shape == key.shape
# sort by destination for fun
perm = torch.argsort(edge_index[1], stable=True)
edge_index = edge_index[:, perm]
sorted_dst, _ = torch.sort(edge_index[1])
assert torch.equal(sorted_dst, edge_index[1])
x = torch.tensor(rng.standard_normal((N, Fin)), dtype=torch.float32)
y = torch.tensor(rng.integers(0, C, N))

def add_self_loops(ei, n):
    loop = torch.arange(n, dtype=ei.dtype).unsqueeze(0).repeat(2, 1)
    return torch.cat([ei, loop], dim=1)

ei = add_self_loops(edge_index, N)
row, col = ei
deg = torch.bincount(col, minlength=N).float()
deg_inv_sqrt = deg.pow(-0.5)
deg_inv_sqrt[deg_inv_sqrt == float("inf")] = 0
norm = deg_inv_sqrt[row] * deg_inv_sqrt[col]

class GCNLayer(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.lin = nn.Linear(i, o, bias=False)
        self.bias = nn.Parameter(torch.zeros(o))

    def forward(self, h):
        h = self.lin(h)
        msg = h[row] * norm.view(-1, 1)
        out = torch.zeros_like(h).index_add_(0, col, msg)
        return out + self.bias

class SAGEMax(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.lin = nn.Linear(2 * i, o)

    def forward(self, h):
        idx = col.unsqueeze(-1).expand(-1, h.size(1))
        agg = torch.zeros_like(h).scatter_reduce(0, idx, h[row], reduce="amax",
                                                  include_self=False)
        mean = torch.zeros_like(h).scatter_add_(0, idx, h[row]) / deg.unsqueeze(-1)
        low = torch.zeros_like(h).index_reduce_(0, col, h[row], "amin", include_self=False)
        return self.lin(torch.cat([agg + mean - low, h], dim=-1))

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.g1 = GCNLayer(Fin, 16)
        self.g2 = SAGEMax(16, 16)
        self.out = nn.Linear(16, C)

    def forward(self, h):
        h = F.relu(self.g1(h))
        h = F.dropout(h, p=0.0, training=self.training)
        h = F.elu(self.g2(h))
        return self.out(h)

model = Net()
sync(model)
opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
train_mask = torch.zeros(N, dtype=torch.bool)
train_mask[torch.randperm(N)[:20]] = True
train_mask = torch.arange(N) % 3 != 0
losses = []
for _ in range(10):
    model.train()
    opt.zero_grad()
    logits = model(x)
    loss = F.cross_entropy(logits[train_mask], y[train_mask])
    loss.backward()
    opt.step()
    losses.append(loss.item())
model.eval()
with torch.no_grad():
    pred = model(x).argmax(dim=1)
    acc = (pred[~train_mask] == y[~train_mask]).sum().item() / int((~train_mask).sum())
graph_id = torch.arange(N) // 10
pooled = torch.zeros(3, C).index_add_(0, graph_id, model(x).detach())
counts = torch.bincount(graph_id)
pooled = pooled / counts.unsqueeze(1)
out.update(losses=losses, acc=acc, pooled=pooled.numpy(), deg=deg.numpy(), norm=norm.numpy())
'''


def test_gnn_program(tmp_path):
    theirs, ours = run_both(PROGRAM, tmp_path)
    close(theirs["losses"], ours["losses"], rtol=1e-4, atol=1e-5)
    close(theirs["acc"], ours["acc"], rtol=0, atol=0)
    close(theirs["pooled"], ours["pooled"], rtol=1e-4, atol=1e-5)
    close(theirs["deg"], ours["deg"], rtol=0, atol=0)
    close(theirs["norm"], ours["norm"], rtol=1e-6, atol=1e-7)
    assert ours["losses"][-1] < ours["losses"][0]
