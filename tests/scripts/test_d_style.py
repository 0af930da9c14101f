"""Neural-style input optimization: a fixed conv feature net (weights requires_grad_(False), eval),
forward hooks collecting activations, content loss by mse_loss, Gram matrices by torch.bmm and by
einsum, a total-variation loss from slices, LBFGS over the image tensor with a closure, and
clamp_ under torch.no_grad; run in float64 (model.double()) so LBFGS's line search
follows one path in both libraries.
Run with torch and with ember from torch's initial weights; step-by-step results must agree."""
from tests.scripts._harness import close, run_both

PROGRAM = '''
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
rng = np.random.default_rng(7)
content = torch.from_numpy(rng.random((1, 3, 16, 16)).astype(np.float64))
style = torch.from_numpy(rng.random((1, 3, 16, 16)).astype(np.float64))


class Normalization(nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(-1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(-1, 1, 1))

    def forward(self, img):
        return (img - self.mean) / self.std


features = nn.Sequential(
    Normalization([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(inplace=True),
    nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(inplace=True), nn.AvgPool2d(2),
    nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(inplace=True))
sync(features)
features.double().eval().requires_grad_(False)
assert not any(p.requires_grad for p in features.parameters())
style_layers, content_layer = [2, 4, 7], 4
activations = {}
for i in style_layers:
    features[i].register_forward_hook(
        lambda mod, inp, output, i=i: activations.__setitem__(i, output))


def gram_bmm(x):
    b, c, h, w = x.size()
    f = x.view(b, c, h * w)
    return torch.bmm(f, f.transpose(1, 2)) / (c * h * w)


def gram_einsum(x):
    b, c, h, w = x.shape
    return torch.einsum("bchw,bdhw->bcd", x, x) / (c * h * w)


def tv_loss(img):
    return ((img[:, :, 1:, :] - img[:, :, :-1, :]).abs().mean()
            + (img[:, :, :, 1:] - img[:, :, :, :-1]).abs().mean())


features(style)
style_grams = {i: gram_bmm(activations[i]).detach() for i in style_layers}
for i in style_layers:
    torch.testing.assert_close(gram_einsum(activations[i]), style_grams[i])
features(content)
content_target = activations[content_layer].detach()

img = content.clone().requires_grad_(True)
optimizer = torch.optim.LBFGS([img], lr=0.5, max_iter=5, history_size=10)
losses = []
for outer in range(4):
    def closure():
        with torch.no_grad():
            img.clamp_(0, 1)
        optimizer.zero_grad()
        features(img)
        s_loss = sum(F.mse_loss(gram_bmm(activations[i]), style_grams[i]) for i in style_layers)
        c_loss = F.mse_loss(activations[content_layer], content_target)
        loss = 1e4 * s_loss + c_loss + 1e-2 * tv_loss(img)
        loss.backward()
        losses.append(loss.item())
        return loss
    optimizer.step(closure)
with torch.no_grad():
    img.clamp_(0, 1)
state = optimizer.state[optimizer.param_groups[0]["params"][0]]
assert img.dtype == torch.float64 and features[1].weight.dtype == torch.float64
out.update(losses=losses, image=img.detach().numpy(), n_iter=state["n_iter"],
           func_evals=state["func_evals"], weight_grad=features[1].weight.grad is None)
'''


def test_style_program(tmp_path):
    theirs, ours = run_both(PROGRAM, tmp_path)
    assert len(theirs["losses"]) == len(ours["losses"])
    close(theirs["losses"], ours["losses"], rtol=1e-9, atol=1e-12)
    close(theirs["image"], ours["image"], rtol=1e-9, atol=1e-10)
    assert (theirs["n_iter"], theirs["func_evals"]) == (ours["n_iter"], ours["func_evals"])
    assert ours["weight_grad"] and ours["losses"][-1] < ours["losses"][0]
