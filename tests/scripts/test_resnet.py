"""A small ResNet on random 3x32x32 data: BatchNorm, OneCycleLR, eval accuracy, bf16 autocast."""
from tests.scripts._harness import close, run_both

PROGRAM = '''
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
rng = np.random.default_rng(0)
x = rng.standard_normal((96, 3, 32, 32)).astype(np.float32)
y = rng.integers(0, 4, 96)
x[np.arange(96), y % 3, :8, :8] += 2.0  # a learnable signal: a bright corner per class
x[y == 3, :, -8:, -8:] += 2.0
data = TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
train_loader = DataLoader(data, batch_size=32, shuffle=False)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, num_classes=4):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8),
                                  nn.ReLU(inplace=True))
        self.layer1 = BasicBlock(8, 8)
        self.layer2 = BasicBlock(8, 16, stride=2)
        self.pool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x):
        x = self.layer2(self.layer1(self.stem(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


model = sync(ResNet())
epochs = 4
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, epochs=epochs,
                                                steps_per_epoch=len(train_loader))
criterion = nn.CrossEntropyLoss()


def evaluate():
    model.eval()
    correct = 0
    with torch.inference_mode():
        for xb, yb in train_loader:
            pred = torch.argmax(model(xb), dim=1)
            correct += (pred == yb).sum().item()
    return correct / len(train_loader.dataset)


out["acc0"] = evaluate()
losses, lrs = [], []
for epoch in range(epochs):
    model.train()
    for xb, yb in train_loader:
        optimizer.zero_grad(set_to_none=True)
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        lrs.append(scheduler.get_last_lr()[0])
out["losses"] = losses
out["lrs"] = lrs
out["acc"] = evaluate()
out["running_mean"] = model.stem[1].running_mean.tolist()
out["num_batches_tracked"] = model.stem[1].num_batches_tracked.item()

with torch.autocast("cpu", dtype=torch.bfloat16):
    logits = model(torch.from_numpy(x[:8]))
out["amp_dtype"] = str(logits.dtype)
out["amp_logits"] = logits.float().tolist()
with torch.no_grad():
    out["fp32_logits"] = model(torch.from_numpy(x[:8])).tolist()
'''


def test_resnet_trains_like_torch(tmp_path):
    ref, got = run_both(PROGRAM, tmp_path)
    close(ref["acc0"], got["acc0"])
    close(ref["lrs"], got["lrs"], rtol=1e-6)
    close(ref["losses"], got["losses"], rtol=1e-3)
    assert got["losses"][-1] < got["losses"][0]
    close(ref["acc"], got["acc"], atol=0.05)
    close(ref["running_mean"], got["running_mean"], rtol=1e-3, atol=1e-5)
    assert got["num_batches_tracked"] == ref["num_batches_tracked"] == 12
    assert got["amp_dtype"] == ref["amp_dtype"] == "torch.bfloat16"
    close(ref["amp_logits"], got["amp_logits"], rtol=0.05, atol=0.05)
    close(got["fp32_logits"], got["amp_logits"], rtol=0.1, atol=0.1)
