"""The main job: a tour from research code to a saved model, all in ember.

1. fit a tiny polynomial with raw autograd (define-by-run, no nn);
2. train a CNN on the 8x8 digits that ship inside the package, with a DataLoader and a
   progress bar, to >= 97% test accuracy;
   with the model under ember.compile (forward and backward run as compiled graphs);
3. save a checkpoint in PyTorch's format, load it into a fresh model and check it agrees;
4. production: trace the model into a graph file and run it in a fresh process that never
   sees DigitNet's source, and export it to ONNX and run it with onnxruntime (when installed).

Run with `bash scripts/demo` (or `python -m ember.demo`).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import ember
from ember import nn


def fit_polynomial(steps: int = 200, lr: float = 0.1) -> list[float]:
    """Fit y = 1.5 x^2 - 2 x + 0.5 by gradient descent on three scalars; returns the losses."""
    ember.manual_seed(0)
    x = ember.rand(256) * 2 - 1
    y = 1.5 * x ** 2 - 2 * x + 0.5
    params = [ember.zeros(1, requires_grad=True) for _ in range(3)]
    losses = []
    for _ in range(steps):
        a, b, c = params
        loss = ((a * x ** 2 + b * x + c - y) ** 2).mean()
        for p in params:
            p.grad = None
        loss.backward()
        with ember.no_grad():
            for p in params:
                p -= lr * p.grad
        losses.append(loss.item())
    print(f"  loss {losses[0]:.4f} -> {losses[-1]:.6f}; fitted "
          f"{[round(p.item(), 3) for p in params]} (target [1.5, -2.0, 0.5])")
    return losses


class DigitNet(nn.Module):
    """Two conv blocks and a classifier for 1x8x8 images."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(32 * 2 * 2, 64), nn.ReLU(),
                                        nn.Dropout(0.2), nn.Linear(64, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def _progress(iterable, total: int, desc: str):
    """tqdm when it is installed, else a one-line text bar."""
    try:
        from tqdm import tqdm
        return tqdm(iterable, total=total, desc=desc, leave=False, ncols=80,
                    disable=not sys.stdout.isatty())
    except ImportError:
        return _TextBar(iterable, total, desc)


class _TextBar:
    def __init__(self, iterable, total, desc):
        self.iterable, self.total, self.desc = iterable, total, desc

    def __iter__(self):
        if not sys.stdout.isatty():
            yield from self.iterable
            return
        for i, item in enumerate(self.iterable, 1):
            filled = 30 * i // self.total
            sys.stdout.write(f"\r  {self.desc} [{'#' * filled}{'.' * (30 - filled)}] "
                             f"{i}/{self.total}")
            sys.stdout.flush()
            yield item
        sys.stdout.write("\r" + " " * 60 + "\r")


def accuracy(model: nn.Module, loader) -> float:
    model.eval()
    correct = total = 0
    with ember.no_grad():
        for images, labels in loader:
            correct += (model(images).argmax(1) == labels).sum().item()
            total += labels.numel()
    return correct / total


def train_digits(epochs: int = 8, checkpoint: str = "digits_cnn.pt") -> float:
    """Train DigitNet with Adam under ember.compile; save and reload a checkpoint; return the
    test accuracy and the model."""
    from ember.utils.data import DataLoader
    from ember.vision.datasets import Digits
    ember.manual_seed(0)
    train_set, test_set = Digits(train=True), Digits(train=False)
    generator = ember.Generator().manual_seed(0)
    train_loader = DataLoader(train_set, batch_size=32, shuffle=True, generator=generator)
    test_loader = DataLoader(test_set, batch_size=256)
    model = DigitNet()
    optimizer = ember.optim.Adam(model.parameters(), lr=3e-3)
    scheduler = ember.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    loss_fn = nn.CrossEntropyLoss()
    compiled = ember.compile(model)
    start = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        total = 0.0
        for images, labels in _progress(train_loader, len(train_loader), f"epoch {epoch + 1}"):
            optimizer.zero_grad()
            loss = loss_fn(compiled(images), labels)
            loss.backward()
            optimizer.step()
            total += loss.item() * labels.numel()
        scheduler.step()
        print(f"  epoch {epoch + 1:2d}  train loss {total / len(train_set):.4f}  "
              f"test accuracy {accuracy(model, test_loader):.2%}")
    acc = accuracy(model, test_loader)
    print(f"  trained in {time.perf_counter() - start:.1f} s: test accuracy {acc:.2%}")
    eager = sorted({where for where, *_ in compiled.graph_breaks})
    print(f"  ember.compile ran the training steps as graphs; graph breaks left these "
          f"modules' own code eager: {', '.join(eager)}" if eager else
          "  ember.compile ran the training steps (dropout included) as one graph")
    ember.save(model.state_dict(), checkpoint)
    restored = DigitNet()
    restored.load_state_dict(ember.load(checkpoint))
    same = accuracy(restored, test_loader)
    print(f"  saved {checkpoint} ({os.path.getsize(checkpoint) / 1024:.0f} KiB, PyTorch's "
          f"format); reloaded model's accuracy {same:.2%}")
    if same != acc:
        raise RuntimeError("the reloaded checkpoint does not reproduce the trained model")
    return acc, model


_RUN_ARTIFACT = """
import sys, numpy as np, ember
model = ember.jit.load(sys.argv[1])
images = ember.from_numpy(np.load(sys.argv[2]))
with ember.no_grad():
    print(" ".join(str(int(i)) for i in model(images).argmax(1).tolist()))
"""


def deploy(model: nn.Module, artifact: str = "digits_cnn.ember") -> None:
    """Trace the trained model, save the graph, run it in a fresh process; export to ONNX."""
    import subprocess
    import tempfile

    import numpy as np

    from ember.vision.datasets import Digits
    test_set = Digits(train=False)
    images = ember.stack([test_set[i][0] for i in range(len(test_set))])
    model.eval()
    with ember.no_grad():
        expected = model(images).argmax(1).tolist()
    traced = ember.jit.freeze(ember.jit.trace(model, images))
    traced.save(artifact)
    with tempfile.TemporaryDirectory() as tmp:
        batch = os.path.join(tmp, "images.npy")
        np.save(batch, images.numpy())
        done = subprocess.run([sys.executable, "-c", _RUN_ARTIFACT, os.path.abspath(artifact),
                               batch],
                              capture_output=True, text=True, cwd=tmp, check=True)
    got = [int(v) for v in done.stdout.split()]
    print(f"  {artifact} ({os.path.getsize(artifact) / 1024:.0f} KiB: graph JSON + "
          f"safetensors, no pickle) ran in a fresh process: {_agree(got, expected)}")
    if got != expected:
        raise RuntimeError("the saved graph does not reproduce the model's predictions")
    try:
        import onnxruntime
    except ImportError:
        print("  (onnxruntime is not installed: skipping the ONNX export)")
        return
    onnx_file = artifact.rsplit(".", 1)[0] + ".onnx"
    ember.onnx.export(model, (images[:1],), onnx_file, input_names=["images"],
                      output_names=["logits"], dynamic_axes={"images": {0: "batch"},
                                                             "logits": {0: "batch"}})
    session = onnxruntime.InferenceSession(onnx_file, providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"images": images.numpy()})
    got = logits.argmax(1).tolist()
    print(f"  {onnx_file} exported and run with onnxruntime: {_agree(got, expected)}")
    if got != expected:
        raise RuntimeError("the ONNX model does not reproduce the model's predictions")


def _agree(got: list, expected: list) -> str:
    same = sum(a == b for a, b in zip(got, expected))
    return f"{same}/{len(expected)} predictions agree with the eager model"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--checkpoint", default="digits_cnn.pt")
    parser.add_argument("--min-accuracy", type=float, default=0.97,
                        help="fail unless the CNN reaches this test accuracy")
    args = parser.parse_args(argv)
    print(f"ember {ember.__version__}: research to production, in Python over NumPy\n")
    print("1. define-by-run autograd: fitting a polynomial")
    losses = fit_polynomial()
    if not losses[-1] < losses[0] * 1e-2:
        raise RuntimeError("the polynomial fit did not converge")
    print("\n2. a CNN on the bundled 8x8 digits")
    acc, model = train_digits(args.epochs, args.checkpoint)
    if acc < args.min_accuracy:
        raise RuntimeError(f"test accuracy {acc:.2%} is below the {args.min_accuracy:.0%} bar")
    print("\n3. production: a graph file and an ONNX model")
    deploy(model, args.checkpoint.rsplit(".", 1)[0] + ".ember")
    print("\ntour complete")
    return 0


if __name__ == "__main__":
    sys.exit(main())
