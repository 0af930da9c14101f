"""A RealNVP-style normalizing flow on 2-D data: affine coupling layers whose masks are buffers,
scale nets with tanh, log-determinant accumulation, an Independent(Normal) base distribution
with log_prob, sampling by inverting the layers on shared base noise, Adam and state_dict round
trips that must carry the mask buffers.
Run with torch and with ember from torch's initial weights; step-by-step results must agree."""
from tests.scripts._harness import close, run_both

PROGRAM = '''
import math

import numpy as np
import torch
import torch.nn as nn
from torch.distributions import Independent, Normal

torch.manual_seed(0)
rng = np.random.default_rng(13)
theta = rng.uniform(0, 2 * np.pi, 256)
data = np.stack([np.cos(theta), np.sin(theta)], 1) * 2 + rng.normal(scale=0.1, size=(256, 2))
data = torch.from_numpy(data.astype(np.float32))


class Coupling(nn.Module):
    def __init__(self, mask):
        super().__init__()
        self.register_buffer("mask", mask)
        self.s = nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(0.2), nn.Linear(32, 2), nn.Tanh())
        self.t = nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(0.2), nn.Linear(32, 2))

    def forward(self, x):
        x_m = x * self.mask
        s = self.s(x_m) * (1 - self.mask)
        t = self.t(x_m) * (1 - self.mask)
        y = x_m + (1 - self.mask) * (x * torch.exp(s) + t)
        return y, s.sum(dim=1)

    def inverse(self, y):
        y_m = y * self.mask
        s = self.s(y_m) * (1 - self.mask)
        t = self.t(y_m) * (1 - self.mask)
        return y_m + (1 - self.mask) * ((y - t) * torch.exp(-s))


class RealNVP(nn.Module):
    def __init__(self, n_layers=4):
        super().__init__()
        masks = [torch.tensor([1.0, 0.0]) if i % 2 == 0 else torch.tensor([0.0, 1.0])
                 for i in range(n_layers)]
        self.layers = nn.ModuleList(Coupling(m) for m in masks)
        self.base = Independent(Normal(torch.zeros(2), torch.ones(2)), 1)

    def forward(self, x):
        log_det = torch.zeros(x.shape[0])
        for layer in self.layers:
            x, ld = layer(x)
            log_det = log_det + ld
        return x, log_det

    def log_prob(self, x):
        z, log_det = self(x)
        return self.base.log_prob(z) + log_det

    @torch.no_grad()
    def sample_from(self, z):
        for layer in reversed(self.layers):
            z = layer.inverse(z)
        return z


flow = sync(RealNVP())
assert sorted(k for k in flow.state_dict() if k.endswith("mask")) == [
    f"layers.{i}.mask" for i in range(4)]
assert len(list(flow.parameters())) == 4 * 8
optimizer = torch.optim.Adam(flow.parameters(), lr=3e-3)
losses = []
for step in range(60):
    batch = data[(step * 64) % 256:(step * 64) % 256 + 64]
    loss = -flow.log_prob(batch).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())

with torch.no_grad():
    z, log_det = flow(data)
    back = flow.sample_from(z)
    base = flow.base.log_prob(z)
    manual = -0.5 * (z ** 2).sum(1) - math.log(2 * math.pi)
noise = torch.from_numpy(rng.normal(size=(8, 2)).astype(np.float32))
samples = flow.sample_from(noise)
assert flow.base.batch_shape == torch.Size([]) and flow.base.event_shape == torch.Size([2])
torch.testing.assert_close(base, manual)
copy = RealNVP()
copy.load_state_dict(flow.state_dict())
torch.testing.assert_close(copy.log_prob(data[:5]), flow.log_prob(data[:5]))
out.update(losses=losses, z=z.numpy(), log_det=log_det.numpy(),
           roundtrip=(back - data).abs().max().item(), samples=samples.numpy(),
           sample_shape=tuple(flow.base.sample((3,)).shape))
'''


def test_flow_program(tmp_path):
    theirs, ours = run_both(PROGRAM, tmp_path)
    close(theirs["losses"], ours["losses"], rtol=1e-4, atol=1e-5)
    close(theirs["z"], ours["z"], rtol=1e-4, atol=1e-4)
    close(theirs["log_det"], ours["log_det"], rtol=1e-4, atol=1e-4)
    close(theirs["samples"], ours["samples"], rtol=1e-4, atol=1e-4)
    assert ours["roundtrip"] < 1e-4
    assert theirs["sample_shape"] == ours["sample_shape"] == (3, 2)
    assert ours["losses"][-1] < ours["losses"][0]
