"""Runs one registry sample through torch and ember and compares them."""
from __future__ import annotations

import os

import numpy as np
import torch

import ember
from ember.testing.opinfo import Arg

LOW_PRECISION = {"float16": (1e-2, 1e-2), "bfloat16": (5e-2, 5e-2)}
# EMBER_TEST_DEVICE=cuda runs ember's side of every comparison on the GPU (CuPy backend).
DEVICE = os.environ.get("EMBER_TEST_DEVICE", "cpu")
if DEVICE != "cpu":
    ember.set_default_device(DEVICE)  # tensors a sample makes itself (eye, lengths) go there too


def make_values(sample, dtype: str, seed: int = 0):
    """Host data for each argument: ('tensor', array, dtype, grad) or ('value', v)."""
    rng = np.random.default_rng(seed)
    out = []
    for a in sample.args:
        if isinstance(a, tuple):
            a = Arg(a)
        if not isinstance(a, Arg):
            out.append(("value", a))
            continue
        dt = a.dtype or dtype
        if a.values is not None:
            arr = np.array(a.values)
        elif dt == "bool":
            arr = rng.random(a.shape) > 0.5
        elif dt.startswith(("int", "uint")):
            lo = max(int(np.ceil(a.low)), 0) if dt == "uint8" else int(np.ceil(a.low))
            arr = rng.integers(lo, int(np.ceil(a.high)) + 1, size=a.shape)
        else:
            arr = rng.uniform(a.low, a.high, size=a.shape).astype(np.float32).astype(np.float64)
        out.append(("tensor", arr, dt, a.grad))
    return out


def complex_values(values, seed: int = 2):
    """A sample's float64 tensors as complex128, imaginary parts drawn from the real parts'
    range (zero where those hold inf or nan)."""
    rng = np.random.default_rng(seed)
    out = []
    for v in values:
        if v[0] == "tensor" and v[2] == "float64":
            _, arr, _, grad = v
            spread = float(np.abs(arr).max()) if arr.size else 1.0
            imag = rng.uniform(-spread, spread, arr.shape) if np.isfinite(spread) else 0.0
            v = ("tensor", arr + 1j * np.round(imag, 3), "complex128", grad)
        out.append(v)
    return out


def build(lib, values, requires_grad: bool):
    args = []
    for v in values:
        if v[0] == "value":
            args.append(v[1])
            continue
        _, arr, dt, grad = v
        t = lib.tensor(arr.tolist() if arr.ndim == 0 else arr, dtype=getattr(lib, dt))
        if lib is ember and DEVICE != "cpu":
            t = t.to(DEVICE)
        if requires_grad and grad and dt.startswith(("float", "bfloat", "complex")):
            t.requires_grad_(True)
        args.append(t)
    return args


def flatten(out):
    if isinstance(out, (tuple, list)):
        return [y for x in out for y in flatten(x)]
    return [out]


def to_numpy(x):
    if isinstance(x, torch.Tensor):
        x = x.detach().resolve_neg().resolve_conj()
        if x.dtype == torch.bfloat16:
            x = x.float()
        return x.numpy()
    if isinstance(x, ember.Tensor):
        x = x.detach().cpu()
        return x.numpy() if x.dtype is not ember.bfloat16 else x.float().numpy()
    return np.asarray(x)


def assert_same(ours, theirs, atol, rtol, what=""):
    """Values, shapes and dtypes of ember's results equal torch's."""
    ours_l, theirs_l = flatten(ours), flatten(theirs)
    assert len(ours_l) == len(theirs_l), f"{what}: {len(ours_l)} outputs vs {len(theirs_l)}"
    for k, (o, t) in enumerate(zip(ours_l, theirs_l)):
        if isinstance(t, torch.Tensor):
            assert isinstance(o, ember.Tensor), f"{what} output {k}: {type(o)} is not a Tensor"
            assert str(o.dtype) == str(t.dtype), f"{what} output {k}: dtype {o.dtype} vs {t.dtype}"
            assert tuple(o.shape) == tuple(t.shape), \
                f"{what} output {k}: shape {tuple(o.shape)} vs {tuple(t.shape)}"
        else:
            assert not isinstance(o, ember.Tensor) or o.ndim == 0, f"{what} output {k}: type"
        a, b = to_numpy(o), to_numpy(t)
        if a.dtype.kind in "fc" or b.dtype.kind in "fc":
            wide = np.complex128 if "c" in (a.dtype.kind, b.dtype.kind) else np.float64
            np.testing.assert_allclose(a.astype(wide), b.astype(wide), atol=atol,
                                       rtol=rtol, equal_nan=True, err_msg=f"{what} output {k}")
        else:
            np.testing.assert_array_equal(a, b, err_msg=f"{what} output {k}")
