"""A tiny GAN on a 2-D Gaussian, run with torch and with ember."""
from tests.scripts._harness import close, run_both

PROGRAM = '''
import numpy as np
import torch
import torch.nn as nn

torch.manual_seed(0)
rng = np.random.default_rng(0)
real_data = torch.from_numpy(rng.normal([2.0, -1.0], 0.3, size=(512, 2)).astype("float32"))
latent_dim = 4

G = sync(nn.Sequential(nn.Linear(latent_dim, 32), nn.LeakyReLU(0.2), nn.Linear(32, 2)))
D = sync(nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1)))
criterion = nn.BCEWithLogitsLoss()
opt_g = torch.optim.Adam(G.parameters(), lr=2e-3, betas=(0.5, 0.999))
opt_d = torch.optim.Adam(D.parameters(), lr=2e-3, betas=(0.5, 0.999))

# deterministic check at the shared starting point
z0 = torch.from_numpy(rng.standard_normal((8, latent_dim)).astype("float32"))
fake0 = G(z0)
logits = D(torch.cat([real_data[:8], fake0.detach()]))
labels = torch.cat([torch.ones(8, 1), torch.zeros(8, 1)])
out["d_loss0"] = criterion(logits, labels).item()
g_loss0 = criterion(D(fake0), torch.full((8, 1), 1.0))
g_loss0.backward()
out["g_grad0"] = G[0].weight.grad.sum().item()
out["d_grad_leaked"] = D[0].weight.grad is not None
G.zero_grad()
D.zero_grad()

batch = 64
for step in range(150):
    idx = torch.randint(0, real_data.size(0), (batch,))
    real = real_data[idx]
    z = torch.randn(batch, latent_dim)
    fake = G(z)

    opt_d.zero_grad()
    real_logits = D(real)
    fake_logits = D(fake.detach())
    d_loss = criterion(real_logits, torch.ones_like(real_logits)) + \\
        criterion(fake_logits, torch.zeros_like(fake_logits))
    d_loss.backward()
    opt_d.step()

    opt_g.zero_grad()
    g_logits = D(fake)
    g_loss = criterion(g_logits, torch.full_like(g_logits, 1.0))
    g_loss.backward()
    opt_g.step()
    if step % 50 == 0:
        print(f"step {step}: d {d_loss.item():.3f} g {g_loss.item():.3f}")

G.eval()
with torch.no_grad():
    samples = G(torch.randn(1000, latent_dim))
out["mean"] = samples.mean(dim=0).tolist()
out["requires_grad"] = samples.requires_grad
'''


def test_gan_trains_like_torch(tmp_path):
    ref, got = run_both(PROGRAM, tmp_path)
    close(ref["d_loss0"], got["d_loss0"])
    close(ref["g_grad0"], got["g_grad0"])
    assert ref["d_grad_leaked"] == got["d_grad_leaked"]
    assert got["requires_grad"] is ref["requires_grad"] is False
    for result in (ref, got):
        close(result["mean"], [2.0, -1.0], atol=0.6)
