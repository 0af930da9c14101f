"""copy_: write another tensor's values into a tensor (broadcast, cast, moved across devices)."""
from __future__ import annotations

from .._backend import move
from ..testing.opinfo import ALL, Arg, Sample
from .dispatch import apply_
from .registry import OpDef, register, tensor_method

__all__: list[str] = []


@register("copy", promote=None, samples=(
    Sample(lambda t, x, y: (x * 1).copy_(y), (Arg((3, 4)), Arg((3, 4))), dtypes=ALL),
    Sample(lambda t, x, y: (x * 1).copy_(y), (Arg((3, 4)), Arg((4,))), name="broadcast"),
    Sample(lambda t, x, y: (x * 1).copy_(y.double()), (Arg((2, 3)), Arg((2, 3))),
           name="cast")))
class Copy(OpDef):
    """The values of `src`, broadcast to the target's shape and cast to its dtype."""

    def forward(ctx, xp, target, src):
        src = move(src, ctx_device(target))
        if src.shape != target.shape:
            src = xp.broadcast_to(src, target.shape)
        return src.astype(target.dtype, copy=True)

    def forward_inplace(xp, target, src):
        xp.copyto(target, move(src, ctx_device(target)), casting="unsafe")

    def backward(ctx, g):
        return g * 0, g


def ctx_device(array):
    from .._backend import device_of
    return device_of(array)


@tensor_method()
def copy_(self, src, non_blocking: bool = False):
    """Copy `src` into self in place (broadcasting, casting to self's dtype, across devices).

    >>> import ember
    >>> ember.zeros(2, 2).copy_(ember.tensor([1, 2]))
    tensor([[1., 2.],
            [1., 2.]])
    """
    if not hasattr(src, "_data"):
        raise TypeError(f"copy_(): argument 'other' must be Tensor, not {type(src).__name__}")
    return apply_(Copy, self, src)
