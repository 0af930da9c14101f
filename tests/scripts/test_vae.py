"""A VAE as tutorials write it, run with torch and with ember."""
from tests.scripts._harness import close, run_both

PROGRAM = '''
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
rng = np.random.default_rng(0)
images = torch.from_numpy((rng.random((256, 1, 28, 28)) > 0.7).astype(np.float32))
loader = DataLoader(TensorDataset(images), batch_size=64, shuffle=True)


class VAE(nn.Module):
    def __init__(self, latent=8):
        super().__init__()
        self.enc = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU())
        self.mu = nn.Linear(128, latent)
        self.logvar = nn.Linear(128, latent)
        self.dec = nn.Sequential(nn.Linear(latent, 128), nn.ReLU(), nn.Linear(128, 784),
                                 nn.Sigmoid())

    def encode(self, x):
        h = self.enc(x)
        return self.mu(h), self.logvar(h)

    def forward(self, x):
        mu, logvar = self.encode(x)
        q = Normal(mu, torch.exp(0.5 * logvar))
        z = q.rsample()
        recon = self.dec(z).view(-1, 1, 28, 28)
        return recon, q


def loss_fn(recon, x, q):
    bce = F.binary_cross_entropy(recon, x, reduction="sum")
    prior = Normal(torch.zeros_like(q.loc), torch.ones_like(q.scale))
    kld = kl_divergence(q, prior).sum()
    return (bce + kld) / x.size(0)


model = sync(VAE())
opt = torch.optim.Adam(model.parameters(), lr=1e-3)

# deterministic check at the shared starting point: decode the mean, closed-form KL
with torch.no_grad():
    x = images[:32]
    mu, logvar = model.encode(x)
    recon = model.dec(mu).view_as(x)
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    out["init_loss"] = ((F.binary_cross_entropy(recon, x, reduction="sum") + kld) / 32).item()
    q = Normal(mu, (0.5 * logvar).exp())
    out["init_kl"] = kl_divergence(q, Normal(0.0, 1.0)).sum().item()
    out["log_prob"] = q.log_prob(mu + 0.1).sum().item()

losses = []
for epoch in range(3):
    model.train()
    total = 0.0
    for (xb,) in loader:
        recon, q = model(xb)
        loss = loss_fn(recon, xb, q)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item() * xb.size(0)
    losses.append(total / len(loader.dataset))
    print(f"epoch {epoch}: loss {losses[-1]:.3f}")
out["losses"] = losses

model.eval()
with torch.no_grad():
    samples = model.dec(torch.randn(16, 8)).view(16, 1, 28, 28)
out["sample_shape"] = tuple(samples.shape)
out["sample_range"] = (samples.min().item(), samples.max().item())
'''


def test_vae_trains_like_torch(tmp_path):
    ref, got = run_both(PROGRAM, tmp_path)
    close(ref["init_loss"], got["init_loss"])
    close(ref["init_kl"], got["init_kl"])
    close(ref["log_prob"], got["log_prob"])
    assert got["losses"][-1] < got["losses"][0]
    close(ref["losses"], got["losses"], rtol=0.05)
    assert got["sample_shape"] == ref["sample_shape"] == (16, 1, 28, 28)
    assert 0.0 <= got["sample_range"][0] <= got["sample_range"][1] <= 1.0
