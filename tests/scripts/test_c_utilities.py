"""Everyday inspection utilities: torch.set_printoptions and printed tensors of many dtypes,
torch.testing.assert_close and its failure, torch.Generator streams, named_modules /
named_buffers / named_children walks, register_forward_hook feature extraction,
parameter counts, state_dict filtering by prefix into a sub-module, and module printing.
Run with torch and with ember; printed text and values must agree."""
from tests.scripts._harness import run_both

PROGRAM = '''
import io
from collections import OrderedDict
from contextlib import redirect_stdout

import numpy as np
import torch
import torch.nn as nn

torch.manual_seed(0)

class Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(OrderedDict([
            ("conv", nn.Conv2d(3, 4, 3, padding=1, bias=False)),
            ("bn", nn.BatchNorm2d(4)),
            ("act", nn.ReLU(inplace=True)),
        ]))
        self.layer1 = nn.Sequential(nn.Conv2d(4, 8, 3, stride=2), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d((1, 1))

    def forward(self, x):
        return self.pool(self.layer1(self.stem(x))).flatten(1)

class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = Backbone()
        self.dropout = nn.Dropout(0.25)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        return self.fc(self.dropout(self.backbone(x)))

model = Model()
sync(model)
model.eval()
text = io.StringIO()
with redirect_stdout(text):
    print(model)
    for name, module in model.named_modules():
        print(repr(name), type(module).__name__)
    for name, buf in model.named_buffers():
        print(name, tuple(buf.shape), buf.dtype)
    for name, child in model.backbone.named_children():
        print("child", name)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f"params: {total:,} trainable: {trainable:,}")

    torch.set_printoptions(precision=3, sci_mode=False)
    print(torch.tensor([1.0, 2.5, 1e-4, 123456.0]))
    print(torch.tensor([[1, -2], [300, 4]], dtype=torch.int16))
    print(torch.tensor([True, False]))
    print(torch.tensor([0.5, -1.25], dtype=torch.float64))
    print(torch.tensor([1.5, 2.0], dtype=torch.bfloat16))
    print(torch.tensor([1 + 2j, -0.5j]))
    print(torch.arange(12.0).reshape(3, 4) / 7)
    print(torch.zeros(0, 3))
    print(torch.tensor(3.25))
    print(torch.tensor([1.0, 2.0], requires_grad=True) * 2)
    torch.set_printoptions(threshold=5, edgeitems=2)
    print(torch.arange(20))
    print(torch.arange(30.0).reshape(5, 6))
    torch.set_printoptions(profile="default")
    print(torch.tensor([1e-8, 1.0, 1e8]))
    print(torch.tensor([float("nan"), float("inf"), -float("inf"), 2.0]))
    print(torch.linspace(0, 1, 5))
    print(torch.tensor([100000, 2, 3], dtype=torch.int64).float())

features = {}

def save_output(name):
    def hook(module, inputs, output):
        features[name] = output.detach().clone()
    return hook

handles = [m.register_forward_hook(save_output(n)) for n, m in model.named_modules()
           if isinstance(m, (nn.Conv2d, nn.AdaptiveAvgPool2d))]
assert len(handles) == 3
x = torch.tensor(np.random.default_rng(0).standard_normal((2, 3, 9, 9)), dtype=torch.float32)
with torch.no_grad():
    logits = model(x)
for h in handles:
    h.remove()
assert sorted(features) == ["backbone.layer1.0", "backbone.pool", "backbone.stem.conv"]
assert features["backbone.stem.conv"].shape == (2, 4, 9, 9)
assert features["backbone.layer1.0"].shape == (2, 8, 4, 4)

sd = model.state_dict()
prefix = "backbone."
backbone_sd = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
fresh = Backbone()
fresh.load_state_dict(backbone_sd)
fresh.eval()
with torch.no_grad():
    torch.testing.assert_close(fresh(x), features["backbone.pool"].flatten(1))
assert list(sd.keys())[:3] == ["backbone.stem.conv.weight", "backbone.stem.bn.weight",
                               "backbone.stem.bn.bias"]
assert "backbone.stem.bn.num_batches_tracked" in sd
assert isinstance(sd, OrderedDict)

try:
    torch.testing.assert_close(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.1]))
except AssertionError as e:
    message = str(e).splitlines()[0]
else:
    message = None
torch.testing.assert_close(torch.tensor([1.0]), torch.tensor([1.0 + 1e-7]))
try:
    torch.testing.assert_close(torch.tensor([1.0]), torch.tensor([1.0], dtype=torch.float64))
except AssertionError as e:
    dtype_message = str(e).splitlines()[0]
torch.testing.assert_close(torch.tensor([1.0]), torch.tensor([1.0], dtype=torch.float64),
                           check_dtype=False)

g1 = torch.Generator().manual_seed(42)
g2 = torch.Generator()
g2.manual_seed(42)
a = torch.randn(4, generator=g1)
b = torch.randn(4, generator=g2)
assert torch.equal(a, b)
state = g1.get_state()
c = torch.rand(3, generator=g1)
g1.set_state(state)
assert torch.equal(torch.rand(3, generator=g1), c)
assert g1.initial_seed() == 42
perm = torch.randperm(10, generator=torch.Generator().manual_seed(1))
assert sorted(perm.tolist()) == list(range(10))

out.update(text=text.getvalue(), logits=logits.numpy(), message=message,
           dtype_message=dtype_message)
'''


def test_utilities_program(tmp_path):
    theirs, ours = run_both(PROGRAM, tmp_path)
    assert ours["text"].splitlines() == theirs["text"].splitlines()
    assert ours["message"] == theirs["message"]
    assert ours["dtype_message"] == theirs["dtype_message"]
    import numpy as np
    np.testing.assert_allclose(ours["logits"], theirs["logits"], rtol=1e-5, atol=1e-6)
