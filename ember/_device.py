"""ember.device: where a tensor's storage lives ('cpu' through NumPy, 'cuda' through CuPy)."""
from __future__ import annotations

_TYPES = ("cpu", "cuda", "meta")


class device:
    """A device type and optional index, like torch.device.

    >>> import ember
    >>> ember.device("cuda:1")
    device(type='cuda', index=1)
    """

    __slots__ = ("type", "index")

    def __init__(self, type, index: int | None = None):
        if isinstance(type, device):
            self.type, self.index = type.type, type.index
            return
        if isinstance(type, int):
            type, index = "cuda", type
        if not isinstance(type, str):
            raise TypeError(f"device() expected a string or an int, got {type.__class__.__name__}")
        if ":" in type:
            if index is not None:
                raise ValueError(f"device string {type!r} already names an index")
            type, _, idx = type.partition(":")
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{type}:{idx}'")
            index = int(idx)
        if type not in _TYPES:
            raise RuntimeError(f"Expected one of {', '.join(_TYPES)} device type at start of "
                               f"device string: {type}")
        self.type = type
        self.index = index

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and self.type == other.type and self.index == other.index

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __reduce__(self):
        return (device, (self.type, self.index))


CPU = device("cpu")
# Where factories put tensors given no device (ember.set_default_device changes it).
default_device = [CPU]


def to_device(d) -> device:
    """The device a tensor placed on `d` (a device, string or CUDA ordinal) lives on; None
    means the default device.

    Tensors always carry a CUDA index ('cuda' means the current GPU, cuda:0 here), so two
    tensors on the same GPU always compare equal, as in torch.
    """
    if d is None:
        return default_device[0]
    if d is CPU:
        return CPU
    if not isinstance(d, device):
        if d == "cpu":
            return CPU
        d = device(d)
    if d.type == "cpu":
        return CPU
    if d.type == "cuda" and d.index is None:
        return device("cuda", 0)
    return d
