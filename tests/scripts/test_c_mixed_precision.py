"""A training script with mixed precision as tutorials write it for the CPU: a `use_amp` flag
feeding torch.autocast('cpu', dtype=torch.bfloat16, enabled=...) and
torch.amp.GradScaler(enabled=...) (a no-op when disabled), the deprecated torch.cpu.amp.autocast
spelling, torch.compile(model, mode='default'), and torch.manual_seed determinism checks
(same seed, same init and same dropout masks; dropout runs only in the determinism check).
Run with torch and with ember from torch's initial weights; step-by-step results must agree."""
from tests.scripts._harness import close, run_both

PROGRAM = '''
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

def set_seed(seed):
    torch.manual_seed(seed)
    np.random.seed(seed)

class MLP(nn.Module):
    def __init__(self, p=0.0):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(12, 32), nn.SiLU(), nn.Dropout(p),
                                 nn.Linear(32, 32), nn.LayerNorm(32), nn.SiLU(),
                                 nn.Linear(32, 4))

    def forward(self, x):
        return self.net(x)

# determinism: same seed -> same weights, same dropout masks, same randn
set_seed(123)
a = MLP(p=0.5)
xa = torch.randn(8, 12)
ya = a(xa)
set_seed(123)
b = MLP(p=0.5)
xb = torch.randn(8, 12)
yb = b(xb)
assert torch.equal(xa, xb) and torch.equal(ya, yb)
for pa, pb in zip(a.parameters(), b.parameters()):
    assert torch.equal(pa, pb)
set_seed(124)
assert not torch.equal(MLP().net[0].weight, a.net[0].weight)

rng = np.random.default_rng(7)
X = torch.tensor(rng.standard_normal((64, 12)), dtype=torch.float32)
Y = torch.tensor(rng.integers(0, 4, 64))
results = {}
for use_amp in (False, True):
    set_seed(0)
    model = sync(MLP())
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    scaler = torch.amp.GradScaler("cpu", enabled=use_amp)
    assert scaler.is_enabled() == use_amp
    losses, dtypes = [], set()
    for step in range(6):
        xb, yb = X[step * 8:(step + 1) * 8], Y[step * 8:(step + 1) * 8]
        with torch.autocast(device_type="cpu", dtype=torch.bfloat16, enabled=use_amp):
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
        dtypes.add(str(logits.dtype).replace("torch.", ""))
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        scaler.step(optimizer)
        scaler.update()
        losses.append(loss.item())
        assert loss.dtype == torch.float32
    assert all(p.grad.dtype == torch.float32 for p in model.parameters())
    results[use_amp] = (losses, sorted(dtypes), scaler.get_scale() if use_amp else None)

model.eval()
compiled = torch.compile(model, mode="default")
with torch.no_grad():
    eager_out = model(X)
    compiled_out = compiled(X)
    compiled_again = compiled(X[:5])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        with torch.cpu.amp.autocast():
            bf16_out = compiled(X)
torch.testing.assert_close(compiled_out, eager_out, rtol=1e-5, atol=1e-5)
torch.testing.assert_close(compiled_again, eager_out[:5], rtol=1e-5, atol=1e-5)
assert bf16_out.dtype == torch.bfloat16
torch.testing.assert_close(bf16_out.float(), eager_out, rtol=0.05, atol=0.05)
out.update(fp32=results[False][0], bf16=results[True][0], dtypes=results[True][1],
           fp32_dtypes=results[False][1], scale=results[True][2], eager=eager_out.numpy(),
           bf16_out=bf16_out.float().numpy())
'''


def test_mixed_precision_program(tmp_path):
    theirs, ours = run_both(PROGRAM, tmp_path)
    close(theirs["fp32"], ours["fp32"], rtol=1e-5, atol=1e-6)
    close(theirs["bf16"], ours["bf16"], rtol=0.02, atol=0.01)
    assert ours["dtypes"] == theirs["dtypes"] == ["bfloat16"]
    assert ours["fp32_dtypes"] == theirs["fp32_dtypes"] == ["float32"]
    assert ours["scale"] == theirs["scale"]
    close(theirs["eager"], ours["eager"], rtol=0.02, atol=0.01)
    close(theirs["bf16_out"], ours["bf16_out"], rtol=0.05, atol=0.05)
