"""Numerical code: linalg solve/lstsq/eigh/svd/qr, rfft denoising, cumsum, linspace/meshgrid,
Hessian-vector products and a physics-informed loss through autograd.grad(create_graph=True).
Run with torch and with ember from torch's initial weights; step-by-step results must agree."""
from tests.scripts._harness import close, run_both

PROGRAM = '''
import math

import numpy as np
import torch
import torch.nn as nn

torch.manual_seed(0)
rng = np.random.default_rng(5)
res = {}
A = torch.tensor(rng.standard_normal((5, 5)), dtype=torch.float64)
b = torch.tensor(rng.standard_normal((5, 2)), dtype=torch.float64)
x = torch.linalg.solve(A, b)
torch.testing.assert_close(A @ x, b)
res["solve"] = x
M = torch.tensor(rng.standard_normal((8, 3)), dtype=torch.float64)
y = torch.tensor(rng.standard_normal((8, 1)), dtype=torch.float64)
sol = torch.linalg.lstsq(M, y).solution
res["lstsq"] = sol
S = M.T @ M
evals, evecs = torch.linalg.eigh(S)
res["eigvals"] = evals
torch.testing.assert_close(evecs @ torch.diag(evals) @ evecs.mT, S)
U, s, Vh = torch.linalg.svd(M, full_matrices=False)
res["sv"] = s
torch.testing.assert_close(U @ torch.diag_embed(s) @ Vh, M)
Q, R = torch.linalg.qr(M)
torch.testing.assert_close(Q @ R, M)
res["absR"] = R.abs()
res["cond"] = torch.linalg.norm(M, ord=2) / s[-1]
# fft denoising
t = torch.linspace(0, 1, 128, dtype=torch.float64)
clean = torch.sin(2 * math.pi * 5 * t) + 0.5 * torch.cos(2 * math.pi * 12 * t)
noisy = clean + 0.3 * torch.tensor(rng.standard_normal(128))
spec = torch.fft.rfft(noisy)
freqs = torch.fft.rfftfreq(128, d=1 / 128)
spec[freqs > 20] = 0
power = spec.abs() ** 2
keep = power > power.max() * 0.05
den = torch.fft.irfft(spec * keep, n=128)
assert ((den - clean) ** 2).mean() < ((noisy - clean) ** 2).mean()
res["denoised"] = den
res["cumsum"] = torch.cumsum(noisy, dim=0)
res["trapz"] = torch.trapezoid(clean, t)
xs = torch.linspace(-1, 1, 5)
gx, gy = torch.meshgrid(xs, xs, indexing="ij")
res["grid"] = torch.stack([gx, gy], -1)
# Hessian-vector product via double backward
w = torch.tensor(rng.standard_normal(4), dtype=torch.float64, requires_grad=True)
f = (w ** 4).sum() + (w[0] * w[1]) ** 2 + torch.sin(w).prod()
(g,) = torch.autograd.grad(f, w, create_graph=True)
v = torch.tensor([1.0, -0.5, 0.25, 2.0], dtype=torch.float64)
(hv,) = torch.autograd.grad(g, w, grad_outputs=v, retain_graph=True)
res["hvp"] = hv
rows = [torch.autograd.grad(g[i], w, retain_graph=True)[0] for i in range(4)]
H = torch.stack(rows)
torch.testing.assert_close(H @ v, hv)
torch.testing.assert_close(H, H.T)
# physics-informed: u'' = -pi^2 sin(pi x), u(0) = u(1) = 0
net = nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(),
                    nn.Linear(16, 1)).double()
sync(net)
opt = torch.optim.Adam(net.parameters(), lr=1e-2)
xc = torch.linspace(0, 1, 20, dtype=torch.float64).unsqueeze(1).requires_grad_(True)
bc = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
losses = []
for _ in range(10):
    opt.zero_grad()
    u = net(xc)
    du = torch.autograd.grad(u, xc, torch.ones_like(u), create_graph=True)[0]
    d2u = torch.autograd.grad(du.sum(), xc, create_graph=True)[0]
    residual = d2u + math.pi ** 2 * torch.sin(math.pi * xc)
    loss = residual.pow(2).mean() + net(bc).pow(2).mean()
    loss.backward()
    opt.step()
    losses.append(loss.item())
# jacobian via autograd.grad of a vector function, row by row
z = torch.tensor(rng.standard_normal(3), dtype=torch.float64, requires_grad=True)
fz = torch.stack([z[0] * z[1], torch.exp(z[2]), z.norm()])
J = torch.stack([torch.autograd.grad(fz[i], z, retain_graph=True)[0] for i in range(3)])
res["jac"] = J
out.update({k: v.detach().numpy() for k, v in res.items()}, losses=losses)
'''


def test_numerics_program(tmp_path):
    theirs, ours = run_both(PROGRAM, tmp_path)
    for key in theirs:
        close(ours[key], theirs[key], rtol=1e-7, atol=1e-9)
    assert ours["losses"][-1] < ours["losses"][0]
