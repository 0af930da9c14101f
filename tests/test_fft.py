"""ember.fft against torch.fft: every function, values and dtypes over sizes, dims and norms,
gradients (torch's convention for complex values), errors, and the transforms through
ember.compile and a saved trace."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import ember

NORMS = (None, "backward", "ortho", "forward")
ONE_D = ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft")
N_D = ("fft2", "ifft2", "fftn", "ifftn", "rfft2", "irfft2", "rfftn", "irfftn", "hfft2",
       "ihfft2", "hfftn", "ihfftn")
REAL_INPUT = {"rfft", "ihfft", "rfft2", "ihfft2", "rfftn", "ihfftn"}


def _data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    if dtype.startswith("complex"):
        a = a + 1j * rng.standard_normal(shape)
    return a.astype(dtype) if dtype != "int64" else rng.integers(-3, 4, shape)


def _same(got, want, tol=1e-5):
    want = want.resolve_conj()
    assert str(got.dtype) == str(want.dtype), (got.dtype, want.dtype)
    assert tuple(got.shape) == tuple(want.shape), (got.shape, want.shape)
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=tol, atol=tol)


def test_every_torch_fft_function_exists():
    names = {n for n in dir(torch.fft) if not n.startswith("_") and n != "Tensor"
             and callable(getattr(torch.fft, n))}
    assert names <= set(ember.fft.__all__), sorted(names - set(ember.fft.__all__))


@pytest.mark.parametrize("name", ONE_D)
@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128", "int64"])
def test_one_dimensional_transforms_like_torch(name, dtype):
    if name in REAL_INPUT and dtype.startswith("complex"):
        dtype = "float64"
    a = _data((3, 6), dtype)
    tol = 1e-10 if dtype in ("float64", "complex128") else 1e-4  # int64 computes in float32
    for n, dim, norm in itertools.product((None, 4, 9), (-1, 0), NORMS):
        want = getattr(torch.fft, name)(torch.tensor(a), n=n, dim=dim, norm=norm)
        got = getattr(ember.fft, name)(ember.tensor(a), n=n, dim=dim, norm=norm)
        _same(got, want, tol)


@pytest.mark.parametrize("name", N_D)
def test_multi_dimensional_transforms_like_torch(name):
    a = _data((2, 4, 5), "float64" if name in REAL_INPUT else "complex128")
    cases = [{}, {"norm": "ortho"}, {"s": (3, 6)}, {"dim": (0, 2)}, {"s": (4, 3), "dim": (0, 1)}]
    if name.endswith("n"):
        cases += [{"dim": (2, 0), "norm": "forward"}, {"s": (2,)}]
    for kw in cases:
        want = getattr(torch.fft, name)(torch.tensor(a), **kw)
        _same(getattr(ember.fft, name)(ember.tensor(a), **kw), want, 1e-10)


def _grads(lib, name, a, kw):
    x = lib.tensor(a, requires_grad=True)
    y = getattr(lib.fft, name)(x, **kw)
    rng = np.random.default_rng(1)
    cot = rng.standard_normal(tuple(y.shape)) + (
        1j * rng.standard_normal(tuple(y.shape)) if y.is_complex() else 0)
    (g,) = lib.autograd.grad(y, x, lib.tensor(cot, dtype=y.dtype))
    return g


@pytest.mark.parametrize("name,dtype", [(n, d) for n in ONE_D + N_D for d in
                                        ("float64", "complex128")
                                        if not (n in REAL_INPUT and d == "complex128")])
def test_gradients_like_torch(name, dtype):
    a = _data((3, 4, 5), dtype)
    cases = [{}, {"norm": "ortho"}, {"norm": "forward"}]
    cases += [{"n": 7}, {"n": 3, "dim": 0}] if name in ONE_D else [{"s": (5, 2)}]
    for kw in cases:
        _same(_grads(ember, name, a, kw), _grads(torch, name, a, kw), 1e-10)


def test_frequencies_and_shifts_like_torch():
    for n, d in ((1, 1.0), (5, 0.5), (8, 2.0)):
        _same(ember.fft.fftfreq(n, d), torch.fft.fftfreq(n, d))
        _same(ember.fft.rfftfreq(n, d), torch.fft.rfftfreq(n, d))
    _same(ember.fft.fftfreq(4, dtype=ember.float64), torch.fft.fftfreq(4, dtype=torch.float64))
    a = _data((3, 4, 5), "float64")
    for fn, dim in itertools.product(("fftshift", "ifftshift"), (None, 1, (0, 2))):
        _same(getattr(ember.fft, fn)(ember.tensor(a), dim=dim),
              getattr(torch.fft, fn)(torch.tensor(a), dim=dim))


def test_bad_arguments_raise_clear_errors():
    x = ember.ones(4)
    with pytest.raises(ValueError, match="normalization mode"):
        ember.fft.fft(x, norm="unitary")
    with pytest.raises(RuntimeError, match="Invalid number of data points \\(0\\)"):
        ember.fft.rfft(x, n=0)
    with pytest.raises(RuntimeError, match="expects a real input"):
        ember.fft.rfft(x.to(ember.complex64))
    with pytest.raises(RuntimeError, match="Unsupported dtype float16"):
        ember.fft.fft(x.half())
    with pytest.raises(RuntimeError, match="same length"):
        ember.fft.fftn(ember.ones(2, 3), s=(2, 3), dim=(0,))
    with pytest.raises(RuntimeError, match="unique"):
        ember.fft.fft2(ember.ones(2, 3), dim=(1, 1))
    with pytest.raises(IndexError):
        ember.fft.fft(x, dim=1)


def test_out_argument_and_compiled_and_saved_transforms(tmp_path):
    x = ember.tensor(_data((2, 8), "float64"))
    out = ember.empty(0, dtype=ember.complex128)
    assert ember.fft.rfft(x, out=out) is out and out.shape == (2, 5)

    def spectral_filter(x, w):
        return ember.fft.irfft(ember.fft.rfft(x) * w, n=x.shape[-1])

    w = ember.tensor(_data((5,), "complex128"), requires_grad=True)
    want = spectral_filter(x, w)
    (gw,) = ember.autograd.grad(want.sum(), w)
    compiled = ember.compile(spectral_filter)
    for _ in range(2):
        got = compiled(x, w)
        (cw,) = ember.autograd.grad(got.sum(), w)
        np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), atol=1e-12)
        np.testing.assert_allclose(cw.numpy(), gw.numpy(), atol=1e-12)

    class Filter(ember.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = ember.nn.Parameter(ember.tensor(_data((5,), "float64")))

        def forward(self, x):
            return spectral_filter(x, self.w)

    net = Filter()
    traced = ember.jit.trace(net, (x,))
    traced.save(tmp_path / "filter.pt")
    loaded = ember.jit.load(tmp_path / "filter.pt")
    np.testing.assert_allclose(loaded(x).detach().numpy(), net(x).detach().numpy(), atol=1e-12)


@pytest.mark.parametrize("name", ["ember.fft", "ember._ops.spectral"])
def test_docstring_examples_run(name):
    import doctest
    import importlib
    failures, _ = doctest.testmod(importlib.import_module(name),
                                  optionflags=doctest.NORMALIZE_WHITESPACE)
    assert failures == 0


def _stft_both(lib, x, **kw):
    win = kw.pop("window", None)
    window = None if win is None else getattr(lib, win + "_window")(
        kw.get("win_length", kw["n_fft"]), dtype=lib.float64)
    return lib.stft(lib.tensor(x), window=window, return_complex=True, **kw), window


@pytest.mark.parametrize("kw", [
    {"n_fft": 16, "hop_length": 4, "window": "hann"},
    {"n_fft": 16, "hop_length": 4, "win_length": 10, "center": False},
    {"n_fft": 15, "normalized": True, "pad_mode": "constant", "window": "hamming"},
    {"n_fft": 8, "onesided": False, "window": "hann"},
    {"n_fft": 12, "hop_length": 5, "window": "hann", "pad_mode": "replicate"}])
def test_stft_and_istft_like_torch(kw):
    x = _data((2, 90), "float64")
    got, ew = _stft_both(ember, x, **dict(kw))
    want, tw = _stft_both(torch, x, **dict(kw))
    _same(got, want, 1e-10)
    inverse = {k: v for k, v in kw.items() if k not in ("pad_mode", "window")}
    outcomes = []
    for lib, spec, w in ((ember, got, ew), (torch, want, tw)):
        try:
            outcomes.append(lib.istft(spec, window=w, length=85, **inverse))
        except RuntimeError:
            outcomes.append(None)  # a window whose overlapped squares vanish somewhere
    assert (outcomes[0] is None) == (outcomes[1] is None)
    if outcomes[0] is not None:
        _same(outcomes[0], outcomes[1], 1e-10)


def test_stft_arguments_like_torch():
    x = ember.ones(40)
    with pytest.raises(RuntimeError, match="return_complex"):
        ember.stft(x, 8)
    with pytest.warns(UserWarning, match="window was not provided"):
        ember.stft(x, 8, return_complex=True)
    spec = ember.stft(x, 8, window=ember.hann_window(8), return_complex=False)
    assert spec.dtype is ember.float32 and spec.shape == (5, 21, 2)
    with pytest.raises(RuntimeError, match="complex-valued input"):
        ember.istft(spec, 8)
    with pytest.raises(RuntimeError, match="win_length"):
        ember.stft(x, 8, win_length=9, window=ember.ones(9), return_complex=True)
