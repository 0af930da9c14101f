"""Contrastive (SimCLR-style) pretraining: two noisy views per sample, a projection head,
F.normalize, torch.mm similarities over a temperature, the diagonal masked with masked_fill,
NT-Xent as cross entropy over logits; an EMA of the weights with swa_utils.AveragedModel
(get_ema_multi_avg_fn, use_buffers=True), an SWA average with SWALR and update_bn, and a
linear probe on frozen features.
Run with torch and with ember from torch's initial weights; step-by-step results must agree."""
from tests.scripts._harness import close, run_both

PROGRAM = '''
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim.swa_utils import SWALR, AveragedModel, get_ema_multi_avg_fn, update_bn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
rng = np.random.default_rng(5)
N, D_IN, K = 24, 10, 3
centers = rng.standard_normal((K, D_IN)) * 2
labels = rng.integers(0, K, N)
data = torch.tensor(centers[labels] + 0.3 * rng.standard_normal((N, D_IN)), dtype=torch.float32)
labels = torch.from_numpy(labels)

class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(D_IN, 32), nn.BatchNorm1d(32), nn.ReLU(),
                                      nn.Linear(32, 16))
        self.projector = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 8))

    def forward(self, x):
        h = self.backbone(x)
        return h, self.projector(h)

def nt_xent(z1, z2, temperature=0.5):
    z = F.normalize(torch.cat([z1, z2], dim=0), dim=1)
    n = z1.size(0)
    sim = torch.mm(z, z.t()) / temperature
    mask = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    sim = sim.masked_fill(mask, float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, targets)

model = Encoder()
sync(model)
ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.9), use_buffers=True)
swa = AveragedModel(model)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
swa_scheduler = SWALR(optimizer, swa_lr=0.05, anneal_epochs=2, anneal_strategy="cos")
noise = torch.tensor(rng.standard_normal((8, 2, N, D_IN)) * 0.2, dtype=torch.float32)
losses, lrs = [], []
for step in range(8):
    model.train()
    v1, v2 = data + noise[step, 0], data * 0.9 + noise[step, 1]
    _, z1 = model(v1)
    _, z2 = model(v2)
    loss = nt_xent(z1, z2)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    ema.update_parameters(model)
    if step >= 4:
        swa.update_parameters(model)
        swa_scheduler.step()
    lrs.append(optimizer.param_groups[0]["lr"])
    losses.append(loss.item())
assert int(ema.n_averaged) == 8 and int(swa.n_averaged) == 4
loader = DataLoader(TensorDataset(data), batch_size=8)
update_bn(loader, swa)
assert swa.module.backbone[1].num_batches_tracked.item() == 3

def features(net):
    net.eval()
    with torch.no_grad():
        h, _ = net(data)
    return h

probe = nn.Linear(16, K)
sync(probe)
probe_opt = torch.optim.LBFGS(probe.parameters(), lr=0.5, max_iter=10)
feats = features(ema.module)

def closure():
    probe_opt.zero_grad()
    loss = F.cross_entropy(probe(feats), labels)
    loss.backward()
    return loss

for _ in range(3):
    probe_opt.step(closure)
with torch.no_grad():
    acc = (probe(feats).argmax(1) == labels).float().mean().item()
ema_state = {k: v.numpy() for k, v in ema.module.state_dict().items()}
out.update(losses=losses, lrs=lrs, ema_out=features(ema).numpy(), swa_out=features(swa).numpy(),
           bn_mean=swa.module.backbone[1].running_mean.numpy(),
           ema_bn_var=ema_state["backbone.1.running_var"], acc=acc)
'''


def test_simclr_program(tmp_path):
    theirs, ours = run_both(PROGRAM, tmp_path)
    close(theirs["losses"], ours["losses"], rtol=1e-4, atol=1e-5)
    close(theirs["lrs"], ours["lrs"], rtol=1e-10, atol=0)
    close(theirs["ema_out"], ours["ema_out"], rtol=1e-4, atol=1e-5)
    close(theirs["swa_out"], ours["swa_out"], rtol=1e-4, atol=1e-5)
    close(theirs["bn_mean"], ours["bn_mean"], rtol=1e-4, atol=1e-5)
    close(theirs["ema_bn_var"], ours["ema_bn_var"], rtol=1e-4, atol=1e-5)
    close(theirs["acc"], ours["acc"], rtol=0, atol=1e-6)
    assert ours["losses"][-1] < ours["losses"][0]
