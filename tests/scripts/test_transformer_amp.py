"""A causal Transformer encoder trained under bfloat16 autocast with GradScaler, torch vs ember."""
from tests.scripts._harness import close, run_both

PROGRAM = '''
import numpy as np
import torch
import torch.nn as nn

torch.manual_seed(0)
rng = np.random.default_rng(0)
x = torch.from_numpy(rng.standard_normal((4, 6, 8)).astype(np.float32))
layer = sync(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True,
                                        norm_first=True))
mask = nn.Transformer.generate_square_subsequent_mask(6)
opt = torch.optim.AdamW(layer.parameters(), lr=1e-2)
scaler = torch.amp.GradScaler("cpu")
losses = []
for _ in range(5):
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        y = layer(x, src_mask=mask, is_causal=True)
        loss = y.float().pow(2).mean()
    scaler.scale(loss).backward()
    scaler.unscale_(opt)
    torch.nn.utils.clip_grad_norm_(layer.parameters(), 1.0)
    scaler.step(opt)
    scaler.update()
    opt.zero_grad(set_to_none=True)
    losses.append(loss.item())
out["losses"] = losses
out["y_dtype"] = str(y.dtype)
out["scale"] = scaler.get_scale()
'''


def test_transformer_trains_under_autocast_like_torch(tmp_path):
    ref, got = run_both(PROGRAM, tmp_path)
    assert got["y_dtype"] == ref["y_dtype"]
    assert got["scale"] == ref["scale"]
    close(ref["losses"], got["losses"], rtol=0.03, atol=0.01)
