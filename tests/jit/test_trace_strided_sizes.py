"""A network that downsamples (stride-2 convolutions, max pools in floor and ceil mode, an
adaptive pool), traced at one image size, runs at any other one, odd sizes included, before
and after save and load, as torch's traced module does: its sizes are floor divisions of the
input's (symbolic.generalize_floors). It used to accept only sizes on its stride grid."""
import io
import warnings

import numpy as np
import pytest

import ember
from ember import jit

torch = pytest.importorskip("torch")


class _Block:
    """A ResNet basic block, built from `lib` (torch or ember)."""

    @staticmethod
    def build(lib, cin, cout, stride):
        nn, F = lib.nn, lib.nn.functional

        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
                self.b1 = nn.BatchNorm2d(cout)
                self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
                self.b2 = nn.BatchNorm2d(cout)
                self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                          nn.BatchNorm2d(cout)) if stride > 1 else None

            def forward(self, x):
                idt = x if self.down is None else self.down(x)
                return F.relu(self.b2(self.c2(F.relu(self.b1(self.c1(x))))) + idt)
        return Block()


def _resnet(lib):
    nn = lib.nn

    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 8, 7, 2, 3, bias=False), nn.BatchNorm2d(8),
                                      nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
            self.layers = nn.Sequential(_Block.build(lib, 8, 8, 1), _Block.build(lib, 8, 16, 2),
                                        _Block.build(lib, 16, 16, 2))
            self.pool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(16, 10)

        def forward(self, x):
            x = self.pool(self.layers(self.stem(x)))
            return self.fc(x.view(x.size(0), -1))
    return ResNet()


def _unet(lib):
    nn, F = lib.nn, lib.nn.functional

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.e1 = nn.Conv2d(3, 4, 3, padding=1)
            self.e2 = nn.Conv2d(4, 8, 3, padding=1)
            self.mid = nn.Conv2d(8, 8, 3, padding=1)
            self.up = nn.ConvTranspose2d(8, 8, 2, stride=2)
            self.d2 = nn.Conv2d(16, 4, 3, padding=1)
            self.d1 = nn.Conv2d(8, 2, 3, padding=1)

        def forward(self, x):
            e1 = F.relu(self.e1(x))
            e2 = F.relu(self.e2(F.max_pool2d(e1, 2, ceil_mode=True)))
            mid = F.relu(self.mid(F.max_pool2d(e2, 2)))
            u = F.interpolate(self.up(mid), size=e2.shape[2:], mode="bilinear",
                              align_corners=False)
            d2 = F.relu(self.d2(lib.cat([u, e2], 1)))
            u2 = F.interpolate(d2, size=(e1.shape[2], e1.shape[3]), mode="nearest")
            return self.d1(lib.cat([u2, e1], 1))
    return UNet()


def _flattening(lib):
    """ResNet-D's average-pool shortcut (ceil mode, padding not counted: its padding is
    h % 2), a ceil-mode max pool, and a flattened map (a view to (N, C * h * w))."""
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(3, 4, 3, 2, 1), nn.AvgPool2d(2, 2, ceil_mode=True,
                                                                count_include_pad=False),
                         nn.MaxPool2d(3, 2, 1, ceil_mode=True), nn.Flatten())


def _pair(build):
    """The same model built with torch and with ember, ember holding torch's weights."""
    torch.manual_seed(0)
    theirs, ours = build(torch), build(ember)
    ours.load_state_dict({k: ember.tensor(v.detach().numpy().copy())
                          for k, v in theirs.state_dict().items()})
    return theirs.eval(), ours.eval()


@pytest.mark.parametrize("build, at", [(_resnet, (64, 64)), (_unet, (32, 32)),
                                       (_resnet, (33, 47)), (_flattening, (29, 40)),
                                       (_resnet, (5, 5))])
def test_a_traced_strided_network_runs_at_any_image_size_as_torchs_does(build, at):
    theirs, ours = _pair(build)
    x = np.random.default_rng(0).standard_normal((2, 3) + at).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        their_trace = torch.jit.trace(theirs, torch.from_numpy(x))
    with warnings.catch_warnings():
        warnings.simplefilter("error", jit.TracerWarning)
        traced = jit.trace(ours, ember.from_numpy(x))
    buffer = io.BytesIO()
    traced.save(buffer)
    loaded = jit.load(io.BytesIO(buffer.getvalue()))
    for n, h, w in ((1, 33, 47), (3, 64, 64), (2, 17, 17), (1, 40, 41), (2, 21, 96), (1, 2, 3)):
        y = np.random.default_rng(h * w).standard_normal((n, 3, h, w)).astype(np.float32)
        with torch.no_grad():
            try:
                want = their_trace(torch.from_numpy(y)).numpy()
            except RuntimeError:  # too small for the U-Net's pools: ours refuses it too
                for module in (traced, loaded):
                    with pytest.raises(RuntimeError):
                        module(ember.from_numpy(y))
                continue
            np.testing.assert_allclose(theirs(torch.from_numpy(y)).numpy(), want, rtol=1e-5,
                                       atol=1e-5)
        with ember.no_grad():
            np.testing.assert_allclose(ours(ember.from_numpy(y)).numpy(), want, rtol=1e-4,
                                       atol=1e-4)
            for module in (traced, loaded):
                np.testing.assert_allclose(module(ember.from_numpy(y)).numpy(), want,
                                           rtol=1e-4, atol=1e-4)


def test_the_sizes_are_kept_as_floor_divisions_of_the_input_sizes():
    """The ResNet's stem (a 7x7 convolution, stride 2, padding 3) gives floor((H - 1) / 2)
    + 1, which is ceil(H / 2), and its last map ceil(H / 16); the U-Net's resize reads the
    ceil-mode pool's size, ceil(H / 2), then the floor-mode pool's floor(ceil(H / 2) / 2)."""
    _, resnet = _pair(_resnet)
    text = str(jit.trace(resnet, ember.randn(2, 3, 32, 32)).graph)
    assert "Float(s0, 8, ((s1 + 1) // 2), ((s2 + 1) // 2)) = convolution" in text, text
    assert "Float(s0, 16, ((s1 + 15) // 16), ((s2 + 15) // 16)) = relu" in text, text
    _, unet = _pair(_unet)
    text = str(jit.trace(unet, ember.randn(2, 3, 32, 32)).graph)
    assert "resample(%19, dim=2, size=((s1 + 1) // 2), mode='bilinear'" in text, text
    assert "Float(s0, 8, ((s1 + 1) // 4), ((s2 + 1) // 4))" in text, text


def test_a_size_below_what_the_network_can_take_is_torchs_error():
    """A 3x3 kernel on the 2x2 map a strided convolution makes of a 5x5 image: the traced
    graph refuses it as eager code does, with and without grad (its convolution, and the
    inference kernel a graph runs under no_grad, returned an empty map)."""
    nn = ember.nn
    model = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.ReLU(), nn.Conv2d(4, 4, 3)).eval()
    traced = jit.trace(model, ember.randn(1, 3, 20, 20))
    assert tuple(traced(ember.randn(2, 3, 13, 11)).shape) == (2, 4, 4, 3)
    for call in (model, traced, traced):
        for grad in (True, False):
            with ember.set_grad_enabled(grad), pytest.raises(
                    RuntimeError, match=r"padded input size per channel: \(2 x 2\). Kernel "
                                        r"size: \(3 x 3\). Kernel size can't"):
                call(ember.randn(1, 3, 5, 5))
