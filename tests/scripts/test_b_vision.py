"""A vision pipeline: hand-written tensor augmentations (flip, roll, reflect-pad crops,
interpolate, affine_grid + grid_sample), grouped convs, Dropout2d, label smoothing, Nesterov SGD
with CosineAnnealingLR, a confusion matrix via bincount.
Run with torch and with ember from torch's initial weights; step-by-step results must agree."""
from tests.scripts._harness import close, run_both

PROGRAM = '''
import math

import numpy as np
import torch
import torch.nn as nn
import torch.backends.cudnn as cudnn
import torch.nn.functional as F

torch.manual_seed(0)
cudnn.benchmark = True
device = ("cuda" if torch.cuda.is_available()
          else "mps" if torch.backends.mps.is_available() else "cpu")
rng = np.random.default_rng(3)
C = 4
images = torch.tensor(rng.random((24, 3, 16, 16)), dtype=torch.float32)
labels = torch.tensor(rng.integers(0, C, 24))

def augment(x, r):
    # deterministic augmentations driven by a numpy rng so both libraries agree
    if r.random() < 0.5:
        x = torch.flip(x, dims=[3])
    x = torch.roll(x, shifts=(int(r.integers(-2, 3)), int(r.integers(-2, 3))), dims=(2, 3))
    padded = F.pad(x, (2, 2, 2, 2), mode="reflect")
    i, j = int(r.integers(0, 5)), int(r.integers(0, 5))
    x = padded[:, :, i:i + 16, j:j + 16]
    big = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    x = F.interpolate(big, size=(16, 16), mode="nearest")
    ang = float(r.uniform(-0.3, 0.3))
    theta = torch.tensor([[math.cos(ang), -math.sin(ang), 0.05],
                          [math.sin(ang), math.cos(ang), -0.05]], dtype=torch.float32)
    theta = theta.unsqueeze(0).expand(x.size(0), 2, 3)
    grid = F.affine_grid(theta, list(x.size()), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
            nn.Conv2d(16, 16, 3, padding=1, groups=16), nn.Conv2d(16, 32, 1),
            nn.BatchNorm2d(32), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 3, padding=1, groups=4), nn.ReLU(),
            nn.Dropout2d(0.0),
            nn.AdaptiveAvgPool2d((1, 1)))
        self.classifier = nn.Linear(32, C)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))

model = Net().to(device)
sync(model)
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True,
                      weight_decay=5e-4)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=6)
crit = nn.CrossEntropyLoss(label_smoothing=0.1)
losses, lrs = [], []
r = np.random.default_rng(4)
for step in range(6):
    model.train()
    idx = torch.tensor(r.permutation(24)[:8])
    x = augment(images[idx], r)
    loss = crit(model(x), labels[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
    sched.step()
    losses.append(loss.item())
    lrs.append(sched.get_last_lr()[0])
model.eval()
with torch.no_grad():
    preds = model(images).argmax(1)
conf = torch.bincount(labels * C + preds, minlength=C * C).reshape(C, C)
assert int(conf.sum()) == 24
# Dropout2d actually drops whole channels in train mode
d = nn.Dropout2d(0.5)
dropped = d(torch.ones(2, 8, 4, 4))
per_channel = dropped.flatten(2)
assert bool(((per_channel == 0).all(2) | (per_channel == 2).all(2)).all())
out.update(losses=losses, lrs=lrs, conf=conf.numpy(),
           augmented=augment(images[:2], np.random.default_rng(5)).numpy())
'''


def test_vision_program(tmp_path):
    theirs, ours = run_both(PROGRAM, tmp_path)
    close(theirs["losses"], ours["losses"], rtol=1e-4, atol=1e-5)
    close(theirs["lrs"], ours["lrs"], rtol=1e-7, atol=1e-9)
    close(theirs["conf"], ours["conf"], rtol=0, atol=0)
    close(theirs["augmented"], ours["augmented"], rtol=1e-5, atol=1e-5)
    assert ours["losses"][-1] < ours["losses"][0]
