"""A small U-Net for binary segmentation: double-conv blocks with BatchNorm2d, MaxPool2d down,
ConvTranspose2d and F.interpolate up, skip concatenations (with F.pad when sizes differ),
a dice + BCE-with-logits loss, channels_last memory format for model and inputs, and IoU in eval.
Run with torch and with ember from torch's initial weights; step-by-step results must agree."""
from tests.scripts._harness import close, run_both

PROGRAM = '''
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)

class DoubleConv(nn.Sequential):
    def __init__(self, cin, cout):
        super().__init__(
            nn.Conv2d(cin, cout, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )

class Up(nn.Module):
    def __init__(self, cin, cout, bilinear):
        super().__init__()
        if bilinear:
            self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
            self.conv = DoubleConv(cin + cin // 2, cout)
        else:
            self.up = nn.ConvTranspose2d(cin, cin // 2, kernel_size=2, stride=2)
            self.conv = DoubleConv(cin, cout)

    def forward(self, x1, x2):
        x1 = self.up(x1)
        dy, dx = x2.size()[2] - x1.size()[2], x2.size()[3] - x1.size()[3]
        x1 = F.pad(x1, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return self.conv(torch.cat([x2, x1], dim=1))

class UNet(nn.Module):
    def __init__(self, n_channels=3, n_classes=1):
        super().__init__()
        self.inc = DoubleConv(n_channels, 8)
        self.down1 = nn.Sequential(nn.MaxPool2d(2), DoubleConv(8, 16))
        self.down2 = nn.Sequential(nn.MaxPool2d(2), DoubleConv(16, 32))
        self.up1 = Up(32, 16, bilinear=False)
        self.up2 = Up(16, 8, bilinear=True)
        self.outc = nn.Conv2d(8, n_classes, kernel_size=1)

    def forward(self, x):
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x = self.up1(x3, x2)
        x = self.up2(x, x1)
        logits = self.outc(x)
        if logits.shape[-2:] != x.shape[-2:]:
            logits = F.interpolate(logits, size=x.shape[-2:], mode="nearest")
        return logits

def dice_loss(logits, target, eps=1.0):
    probs = torch.sigmoid(logits).flatten(1)
    target = target.flatten(1)
    inter = (probs * target).sum(dim=1)
    union = probs.sum(dim=1) + target.sum(dim=1)
    return 1 - ((2 * inter + eps) / (union + eps)).mean()

rng = np.random.default_rng(3)
N, H, W = 6, 18, 18
yy, xx = np.mgrid[:H, :W]
masks = np.zeros((N, 1, H, W), dtype=np.float32)
for i in range(N):
    cy, cx, r = rng.integers(5, 13), rng.integers(5, 13), rng.integers(3, 6)
    masks[i, 0] = ((yy - cy) ** 2 + (xx - cx) ** 2) < r ** 2
images = masks.repeat(3, axis=1) + 0.3 * rng.standard_normal((N, 3, H, W)).astype(np.float32)
images = torch.from_numpy(images).to(memory_format=torch.channels_last)
masks = torch.from_numpy(masks)
assert images.is_contiguous(memory_format=torch.channels_last)
assert not images.is_contiguous()

model = UNet()
sync(model)
model = model.to(memory_format=torch.channels_last)
assert model.inc[0].weight.is_contiguous(memory_format=torch.channels_last)
bce = nn.BCEWithLogitsLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
losses = []
for step in range(6):
    model.train()
    logits = model(images)
    assert logits.shape == (N, 1, H, W)
    loss = bce(logits, masks) + dice_loss(logits, masks)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    losses.append(loss.item())

model.eval()
with torch.no_grad():
    logits = model(images)
    pred = (torch.sigmoid(logits) > 0.5).float()
    inter = (pred * masks).sum(dim=(1, 2, 3))
    union = ((pred + masks) > 0).float().sum(dim=(1, 2, 3))
    iou = (inter / union.clamp(min=1)).mean().item()
    bigger = model(F.interpolate(images, size=(20, 22), mode="bilinear", align_corners=False))
assert bigger.shape == (N, 1, 20, 22)
out.update(losses=losses, logits=logits.numpy(), bigger=bigger.numpy(), iou=iou,
           running_mean=model.inc[1].running_mean.numpy(),
           upw=model.up1.up.weight.grad.numpy())
'''


def test_unet_program(tmp_path):
    theirs, ours = run_both(PROGRAM, tmp_path)
    close(theirs["losses"], ours["losses"], rtol=1e-4, atol=1e-5)
    close(theirs["logits"], ours["logits"], rtol=1e-3, atol=1e-4)
    close(theirs["bigger"], ours["bigger"], rtol=1e-3, atol=1e-4)
    close(theirs["running_mean"], ours["running_mean"], rtol=1e-4, atol=1e-5)
    close(theirs["upw"], ours["upw"], rtol=1e-3, atol=1e-5)
    close(theirs["iou"], ours["iou"], rtol=1e-3, atol=1e-3)
    assert ours["losses"][-1] < ours["losses"][0]
