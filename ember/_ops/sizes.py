"""A tensor's size as a graph value: ember.jit.script reads the size of a tensor that a loop
grows (tokens.shape[1] in a decoding loop) through this op, so each iteration sees the
size it has then rather than the one it had while compiling."""
from __future__ import annotations

import numpy as np

from ..testing.opinfo import FLOATS, INTS, Arg, Sample
from .registry import OpDef, register

__all__: list = []


def _sample_program(t, x):
    """A scripted loop that grows x and stops on its length, read in the loop."""
    def grow(x):
        out = x.unsqueeze(0)
        while out.shape[0] < 4 and bool(out.sum() < 1e9):
            out = t.cat([out, out[-1:] + out.size(0) + len(out)], 0)
        return out
    return t.jit.script(grow)(x)


@register("size", promote=None, differentiable=False, samples=(
    Sample(_sample_program, (Arg((2, 3)),), dtypes=FLOATS + INTS, grad=False),))
class Size(OpDef):
    """x.size(dim) as a 0-d int64 tensor."""

    def forward(ctx, xp, x, dim: int = 0):
        return xp.asarray(x.shape[dim], dtype=np.int64)
