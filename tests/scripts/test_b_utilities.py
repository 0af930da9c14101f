"""Everyday utilities: freezing by name, EMA via deepcopy, forward hooks, save/load with
strict=False, optimizer checkpoints, jit.trace save/load, ONNX export run in onnxruntime.
Run with torch and with ember from torch's initial weights; step-by-step results must agree."""
from tests.scripts._harness import close, run_both

PROGRAM = '''
import copy
import io
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
rng = np.random.default_rng(6)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8),
                                      nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten())
        self.neck = nn.Linear(32, 16)
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        return self.head(F.relu(self.neck(self.backbone(x))))

model = Net()
sync(model)
# freeze the backbone
for name, p in model.named_parameters():
    if name.startswith("backbone."):
        p.requires_grad_(False)
trainable = [p for p in model.parameters() if p.requires_grad]
assert len(trainable) == 4
frozen_before = model.backbone[0].weight.clone()
ema = copy.deepcopy(model)
for p in ema.parameters():
    p.requires_grad_(False)
assert ema.neck.weight is not model.neck.weight
opt = torch.optim.Adam(filter(lambda p: p.requires_grad, model.parameters()), lr=1e-2)
feats = {}

def hook(mod, inp, out):
    feats["neck"] = out.detach()

handle = model.neck.register_forward_hook(hook)
x = torch.tensor(rng.standard_normal((10, 1, 8, 8)), dtype=torch.float32)
y = torch.tensor(rng.integers(0, 3, 10))
losses = []
for _ in range(6):
    model.train()
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    with torch.no_grad():
        for pe, pm in zip(ema.parameters(), model.parameters()):
            pe.mul_(0.9).add_(pm.detach(), alpha=0.1)
        for be, bm in zip(ema.buffers(), model.buffers()):
            be.copy_(bm)
    losses.append(loss.item())
assert feats["neck"].shape == (10, 16)
handle.remove()
feats.clear()
model(x)
assert not feats
assert torch.equal(model.backbone[0].weight, frozen_before)
assert model.backbone[0].weight.grad is None
# save / load
path = os.path.join(TMP, "model.pt")
torch.save(model.state_dict(), path)
sd = torch.load(path, map_location="cpu", weights_only=True)
fresh = Net()
fresh.head = nn.Linear(16, 5)
sd = {k: v for k, v in sd.items() if not k.startswith("head.")}
result = fresh.load_state_dict(sd, strict=False)
assert sorted(result.missing_keys) == ["head.bias", "head.weight"], result
assert result.unexpected_keys == []
torch.testing.assert_close(fresh.neck.weight, model.neck.weight)
buf = io.BytesIO()
torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": 6}, buf)
buf.seek(0)
ck = torch.load(buf)
opt2 = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
opt2.load_state_dict(ck["opt"])
assert ck["step"] == 6
# trace + save + load
model.eval()
ema.eval()
traced = torch.jit.trace(model, x[:2])
tpath = os.path.join(TMP, "traced.pt")
traced.save(tpath)
loaded = torch.jit.load(tpath)
torch.testing.assert_close(loaded(x), model(x))
# onnx export
try:
    import onnxruntime as ort
except ImportError:
    ort = None
if ort is not None:
    opath = os.path.join(TMP, "model.onnx")
    torch.onnx.export(model, (x[:2],), opath, input_names=["input"],
                      output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                      dynamo=False)
    sess = ort.InferenceSession(opath)
    (onnx_out,) = sess.run(None, {"input": x.numpy()})
    torch.testing.assert_close(torch.from_numpy(onnx_out), model(x), rtol=1e-4, atol=1e-5)
with torch.no_grad():
    out.update(losses=losses, ema=ema(x).numpy(), logits=model(x).numpy())
'''


def test_utilities_program(tmp_path):
    theirs, ours = run_both(PROGRAM, tmp_path)
    close(theirs["losses"], ours["losses"], rtol=1e-5, atol=1e-6)
    close(theirs["ema"], ours["ema"], rtol=1e-5, atol=1e-6)
    close(theirs["logits"], ours["logits"], rtol=1e-5, atol=1e-6)
    assert ours["losses"][-1] < ours["losses"][0]
