"""Clipping with torch's clamp semantics on every backend: min(max(x, lo), hi), so NaN stays NaN
and inverted bounds (lo > hi) give hi. NumPy's clip does exactly that, and fast; CuPy's returns
hi for NaN when the bounds are inverted (and takes no `casting`), so on CuPy floats clipped on
both sides take maximum then minimum, which propagate NaN."""
from __future__ import annotations

import numpy as np


def clamp_array(xp, x, lo, hi, out=None, casting="same_kind"):
    """x clipped to [lo, hi] (either bound may be None), into `out` when given."""
    if xp is np:
        return np.clip(x, lo, hi, out=out, casting=casting)
    if lo is None or hi is None or x.dtype.kind not in "fc":
        return xp.clip(x, lo, hi, out=out)
    out = xp.maximum(x, lo, out=out, casting=casting)
    return xp.minimum(out, hi, out=out, casting=casting)
