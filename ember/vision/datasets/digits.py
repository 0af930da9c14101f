"""The UCI 8x8 handwritten digits (1797 images, 10 classes), bundled inside the package."""
from __future__ import annotations

import gzip
import os

import numpy as np

from ... import float32, int64, tensor
from ...utils.data import Dataset

_FILE = os.path.join(os.path.dirname(__file__), "data", "digits.csv.gz")


def _load_arrays() -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(_FILE, "rt") as fh:
        table = np.loadtxt(fh, delimiter=",", dtype=np.int64)
    return table[:, :64].reshape(-1, 1, 8, 8), table[:, 64]


class Digits(Dataset):
    """8x8 grayscale digits as (1, 8, 8) float32 tensors in [0, 1] with int64 labels.

    The split is fixed: a seeded shuffle puts `test_fraction` of the images in the test set.

    >>> from ember.vision.datasets import Digits
    >>> train, test = Digits(train=True), Digits(train=False)
    >>> len(train), len(test), tuple(train[0][0].shape)
    (1438, 359, (1, 8, 8))
    """

    classes = [str(d) for d in range(10)]

    def __init__(self, root=None, train: bool = True, transform=None, target_transform=None,
                 test_fraction: float = 0.2, seed: int = 0):
        images, labels = _load_arrays()
        order = np.random.default_rng(seed).permutation(len(labels))
        n_test = int(round(len(labels) * test_fraction))
        chosen = order[n_test:] if train else order[:n_test]
        self.data = tensor(images[chosen] / 16.0, dtype=float32)
        self.targets = tensor(labels[chosen], dtype=int64)
        self.train = train
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int):
        image, target = self.data[index], self.targets[index]
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target
