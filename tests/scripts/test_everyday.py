"""Everyday utilities around a regression model: splits, generators, printing, where/topk/einsum,
parameters_to_vector and ReduceLROnPlateau, run with torch and with ember."""
from tests.scripts._harness import close, run_both

PROGRAM = '''
import numpy as np
import torch
import torch.nn as nn
from torch.nn.utils import parameters_to_vector, vector_to_parameters
from torch.optim.lr_scheduler import ReduceLROnPlateau
from torch.utils.data import DataLoader, TensorDataset, random_split

torch.manual_seed(0)
rng = np.random.default_rng(0)
X = torch.from_numpy(rng.standard_normal((200, 5)).astype(np.float32))
w_true = torch.tensor([1.5, -2.0, 0.5, 0.0, 3.0])
y = (X @ w_true + 0.1 * torch.from_numpy(rng.standard_normal(200).astype(np.float32)))
y = y.unsqueeze(1)
dataset = TensorDataset(X, y)
train_set, val_set = random_split(dataset, [160, 40], generator=torch.Generator().manual_seed(42))
out["split_sizes"] = (len(train_set), len(val_set))
out["split_disjoint"] = not set(train_set.indices) & set(val_set.indices)
split_frac = random_split(range(10), [0.7, 0.3])
out["frac_sizes"] = [len(s) for s in split_frac]

g = torch.Generator()
g.manual_seed(123)
a = torch.randn(3, generator=g)
g.manual_seed(123)
out["generator_repeats"] = torch.equal(a, torch.randn(3, generator=g))
state = g.get_state()
b = torch.rand(2, generator=g)
g.set_state(state)
out["generator_state"] = torch.equal(b, torch.rand(2, generator=g))

train_loader = DataLoader(train_set, batch_size=32, shuffle=True,
                          generator=torch.Generator().manual_seed(0))
val_loader = DataLoader(val_set, batch_size=40)
model = sync(nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 1)))
vec = parameters_to_vector(model.parameters())
out["n_params"] = vec.numel()
vector_to_parameters(vec * 1.0, model.parameters())
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
scheduler = ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=1)
loss_fn = nn.MSELoss()
val_losses, lrs = [], []
for epoch in range(12):
    model.train()
    for xb, yb in train_loader:
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        val = sum(loss_fn(model(xb), yb).item() for xb, yb in val_loader)
    scheduler.step(val)
    val_losses.append(val)
    lrs.append(optimizer.param_groups[0]["lr"])
out["val_losses"] = val_losses
out["lrs"] = lrs

probe = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=1.0)
plateau = ReduceLROnPlateau(probe, factor=0.1, patience=2, threshold=0.01, cooldown=1,
                            min_lr=1e-3)
plateau_lrs = []
for metric in [1.0, 0.9, 0.95, 0.899, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95]:
    plateau.step(metric)
    plateau_lrs.append(plateau.get_last_lr()[0])
out["plateau_lrs"] = plateau_lrs
out["plateau_state"] = sorted(plateau.state_dict())

t = torch.tensor([[0.5, -1.25, 3.0], [2.0, 0.0, -0.75]])
out["item"] = t[0, 2].item()
out["tolist"] = t.tolist()
out["numpy_dtype"] = str(t.numpy().dtype)
out["fstring"] = f"{t[0, 0]:.3f} {t.sum().item():.2f} {t[1, 0]}"
out["repr"] = repr(t)
out["str_int"] = str(torch.arange(6).reshape(2, 3))
torch.set_printoptions(precision=2)
out["repr_p2"] = str(t * 1.23456)
torch.set_printoptions(profile="default")
out["repr_back"] = str(t * 1.23456)
out["where"] = torch.where(t > 0, t, torch.zeros_like(t)).tolist()
out["where_scalar"] = torch.where(t < 0, 0.0, t).tolist()
out["nonzero"] = [x.tolist() for x in torch.where(t > 1)]
values, indices = torch.topk(t, k=2, dim=1)
out["topk"] = (values.tolist(), indices.tolist())
out["topk_small"] = torch.topk(t.flatten(), 3, largest=False).indices.tolist()
A = torch.arange(6.0).reshape(2, 3)
B = torch.arange(12.0).reshape(3, 4)
out["einsum"] = torch.einsum("ij,jk->ik", A, B).tolist()
out["einsum_batch"] = torch.einsum("bi,bi->b", A, A).tolist()
u, v = torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])
out["einsum_outer"] = torch.einsum("i,j", u, v).tolist()
'''


def test_everyday_utilities_match_torch(tmp_path):
    ref, got = run_both(PROGRAM, tmp_path)
    assert got["split_sizes"] == ref["split_sizes"] == (160, 40)
    assert got["split_disjoint"] and got["frac_sizes"] == ref["frac_sizes"] == [7, 3]
    assert got["generator_repeats"] and got["generator_state"]
    assert got["n_params"] == ref["n_params"] == 113
    assert got["val_losses"][-1] < 0.5 * got["val_losses"][0]
    assert got["val_losses"][-1] < 0.5 and ref["val_losses"][-1] < 0.5
    close(ref["plateau_lrs"], got["plateau_lrs"], rtol=1e-9)
    assert got["plateau_state"] == ref["plateau_state"]
    for key in ("item", "tolist", "numpy_dtype", "fstring", "repr", "str_int", "repr_p2",
                "repr_back", "where", "where_scalar", "nonzero", "topk", "topk_small",
                "einsum", "einsum_batch", "einsum_outer"):
        assert got[key] == ref[key], key
