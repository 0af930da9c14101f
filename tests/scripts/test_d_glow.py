"""A Glow-style flow on 4-D data: ActNorm with data-dependent initialization (a flag buffer),
invertible 1x1 mixing whose weight is kept orthogonal by nn.utils.parametrizations.orthogonal
(log-det from torch.linalg.slogdet), affine couplings from chunk, a base distribution built
from torch.distributions transforms (SoftplusTransform scale, Independent Normal), and a
logit pre-processing step with SigmoidTransform's log-Jacobian.
Run with torch and with ember from torch's initial weights; step-by-step results must agree."""
from tests.scripts._harness import close, run_both

PROGRAM = '''
import numpy as np
import torch
import torch.nn as nn
from torch.distributions import Independent, Normal, SigmoidTransform, SoftplusTransform
from torch.nn.utils.parametrizations import orthogonal

torch.manual_seed(0)
rng = np.random.default_rng(21)
D = 4
raw = rng.beta(2.0, 5.0, size=(128, D)) * 0.9 + 0.05
data = torch.from_numpy(raw.astype(np.float64))
to_unit = SigmoidTransform()


class ActNorm(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(dim))
        self.log_scale = nn.Parameter(torch.zeros(dim))
        self.register_buffer("initialized", torch.tensor(0, dtype=torch.uint8))

    def forward(self, x):
        if not self.initialized:
            with torch.no_grad():
                self.loc.copy_(-x.mean(0))
                self.log_scale.copy_(-torch.log(x.std(0) + 1e-6))
                self.initialized.fill_(1)
        return (x + self.loc) * self.log_scale.exp(), self.log_scale.sum().expand(x.size(0))


class InvConv(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.mix = orthogonal(nn.Linear(dim, dim, bias=False))

    def forward(self, x):
        weight = self.mix.weight
        return x @ weight.t(), torch.linalg.slogdet(weight)[1].expand(x.size(0))


class Coupling(nn.Module):
    def __init__(self, dim, flip):
        super().__init__()
        self.flip = flip
        self.net = nn.Sequential(nn.Linear(dim // 2, 16), nn.ELU(), nn.Linear(16, dim))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, x):
        a, b = x.chunk(2, dim=1)
        if self.flip:
            a, b = b, a
        shift, log_s = self.net(a).chunk(2, dim=1)
        log_s = torch.tanh(log_s)
        b = b * log_s.exp() + shift
        y = torch.cat([b, a] if self.flip else [a, b], dim=1)
        return y, log_s.sum(1)


class Glow(nn.Module):
    def __init__(self):
        super().__init__()
        self.steps = nn.ModuleList()
        for i in range(3):
            self.steps.extend([ActNorm(D), InvConv(D), Coupling(D, flip=i % 2 == 1)])
        self.base_loc = nn.Parameter(torch.zeros(D))
        self.base_raw_scale = nn.Parameter(torch.zeros(D))

    def base(self):
        return Independent(Normal(self.base_loc, SoftplusTransform()(self.base_raw_scale)), 1)

    def log_prob(self, u):
        x = to_unit.inv(u)
        total = -to_unit.log_abs_det_jacobian(x, u).sum(1)
        for step in self.steps:
            x, ld = step(x)
            total = total + ld
        return self.base().log_prob(x) + total, x


model = Glow().double()
sync(model)
assert all(v.dtype == torch.float64 for k, v in model.state_dict().items()
           if not k.endswith("initialized"))
optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
losses = []
for step in range(30):
    batch = data[(step * 32) % 128:(step * 32) % 128 + 32]
    log_p, _ = model.log_prob(batch)
    loss = -log_p.mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())

with torch.no_grad():
    log_p, z = model.log_prob(data)
    weights = [m.mix.weight for m in model.steps if isinstance(m, InvConv)]
    ortho = max((w @ w.t() - torch.eye(D, dtype=torch.float64)).abs().max().item()
                for w in weights)
out.update(losses=losses, log_p=log_p.numpy(), z=z.numpy(), ortho=ortho,
           inited=[int(m.initialized) for m in model.steps if isinstance(m, ActNorm)],
           keys=sorted(model.state_dict()))
'''


def test_glow_program(tmp_path):
    theirs, ours = run_both(PROGRAM, tmp_path)
    close(theirs["losses"], ours["losses"], rtol=1e-8, atol=1e-10)
    close(theirs["log_p"], ours["log_p"], rtol=1e-8, atol=1e-8)
    close(theirs["z"], ours["z"], rtol=1e-8, atol=1e-8)
    # the orthogonal base was completed in float32, before model.double(), in both libraries
    assert ours["ortho"] < 1e-6 and abs(ours["ortho"] - theirs["ortho"]) < 1e-9
    assert theirs["inited"] == ours["inited"] == [1, 1, 1]
    assert theirs["keys"] == ours["keys"]
    assert ours["losses"][-1] < ours["losses"][0]
