"""The bundled digits dataset."""
import ember
from ember.vision.datasets import Digits


def test_split_shapes_and_labels():
    train, test = Digits(train=True), Digits(train=False)
    assert len(train) + len(test) == 1797
    image, label = train[0]
    assert image.shape == (1, 8, 8) and image.dtype is ember.float32
    assert 0.0 <= image.min().item() and image.max().item() <= 1.0
    assert label.dtype is ember.int64 and 0 <= label.item() <= 9
    assert sorted(set(test.targets.tolist())) == list(range(10))


def test_transforms_apply():
    ds = Digits(train=False, transform=lambda x: x * 2, target_transform=lambda y: y + 1)
    image, label = ds[0]
    assert image.max().item() <= 2.0 and label.item() == Digits(train=False)[0][1].item() + 1
