"""Discrete Fourier transforms (torch.fft). Three ops run the backend's FFT (NumPy's pocketfft,
cupy.fft on the GPU): complex to complex, real to one-sided complex, and one-sided complex to
real; the public functions (ember.fft) resize their inputs with differentiable ops and pick
the op, so every transform has a gradient.

Gradients follow torch's convention for complex values (conj-Wirtinger): a transform is linear,
and its gradient is the adjoint transform, the same scale in the other direction. A one-sided
spectrum holds each mirrored frequency once, so the adjoint of complex-to-real doubles those
bins."""
from __future__ import annotations

import operator
import warnings

from .. import _dtype as D
from .._tensor import Tensor, _dim
from ..testing.opinfo import Arg, Sample
from .creation import arange, ones, zeros
from .dispatch import apply, write_out
from .misc import view_as_real
from .registry import OpDef, composite, register, tensor_method
from .shape import cat, narrow, roll

_NORMS = ("backward", "ortho", "forward")
# the norm whose scale in the other direction equals this norm's: an adjoint's
_ADJOINT = {"backward": "forward", "ortho": "ortho", "forward": "backward"}


def _fft_samples():
    f = lambda fn: (lambda t, x: t.view_as_real(fn(t, x)))  # noqa: E731 - real outputs
    z = lambda t, x, y: t.complex(x, y)  # noqa: E731
    return (
        Sample(f(lambda t, x: t.fft.fft(x)), (Arg((3, 8)),)),
        Sample(lambda t, x, y: t.view_as_real(t.fft.fft(z(t, x, y), n=6, norm="ortho")),
               (Arg((2, 5)), Arg((2, 5))), name="complex_pad"),
        Sample(lambda t, x, y: t.view_as_real(t.fft.ifft(z(t, x, y), n=3, dim=0)),
               (Arg((5, 2)), Arg((5, 2))), name="ifft_trim"),
        Sample(f(lambda t, x: t.fft.fftn(x, dim=(0, 2), norm="forward")), (Arg((3, 2, 4)),),
               name="fftn"),
        Sample(lambda t, x, y: t.view_as_real(t.fft.ifft2(z(t, x, y), s=(4, 3))),
               (Arg((2, 3, 3)), Arg((2, 3, 3))), name="ifft2"),
        Sample(f(lambda t, x: t.fft.fft(x)), (Arg((1,)),), name="one"))


def _r2c_samples():
    f = lambda fn: (lambda t, x: t.view_as_real(fn(t, x)))  # noqa: E731
    return (
        Sample(f(lambda t, x: t.fft.rfft(x)), (Arg((3, 8)),)),
        Sample(f(lambda t, x: t.fft.rfft(x, n=5, dim=0, norm="ortho")), (Arg((4, 3)),),
               name="odd_pad"),
        Sample(f(lambda t, x: t.fft.rfft2(x, norm="forward")), (Arg((2, 4, 6)),), name="rfft2"),
        Sample(f(lambda t, x: t.fft.rfftn(x, s=(3, 4))), (Arg((2, 5, 3)),), name="rfftn_s"),
        Sample(f(lambda t, x: t.fft.ihfft(x).resolve_conj()), (Arg((2, 7)),), name="ihfft"),
        Sample(f(lambda t, x: t.fft.fft(x, norm="forward")), (Arg((4,)),), name="real_fft"))


def _c2r_samples():
    z = lambda t, x, y: t.complex(x, y)  # noqa: E731
    return (
        Sample(lambda t, x, y: t.fft.irfft(z(t, x, y)), (Arg((3, 5)), Arg((3, 5)))),
        Sample(lambda t, x, y: t.fft.irfft(z(t, x, y), n=7, norm="ortho"),
               (Arg((2, 4)), Arg((2, 4))), name="odd"),
        Sample(lambda t, x, y: t.fft.irfft(z(t, x, y), n=4, dim=0, norm="forward"),
               (Arg((5, 2)), Arg((5, 2))), name="trim"),
        Sample(lambda t, x, y: t.fft.irfft2(z(t, x, y)), (Arg((2, 3, 4)), Arg((2, 3, 4))),
               name="irfft2"),
        Sample(lambda t, x, y: t.fft.irfftn(z(t, x, y), s=(4, 6), dim=(0, 2)),
               (Arg((3, 2, 3)), Arg((3, 2, 3))), name="irfftn_s"),
        Sample(lambda t, x, y: t.fft.hfft(z(t, x, y), n=6), (Arg((2, 4)), Arg((2, 4))),
               name="hfft"))


@register("fft_c2c", promote=None, samples=_fft_samples())
class FftC2c(OpDef):
    """The DFT over `dims` of a complex array (inverse when not `forward`), scaled by `norm`."""

    def forward(ctx, xp, x, dims, norm, forward):
        ctx.dims, ctx.norm, ctx.forward = dims, norm, forward
        return (xp.fft.fftn if forward else xp.fft.ifftn)(x, axes=dims, norm=norm)

    def backward(ctx, g):
        return apply(FftC2c, g, dims=ctx.dims, norm=_ADJOINT[ctx.norm],
                     forward=not ctx.forward)


@register("fft_r2c", promote=None, samples=_r2c_samples())
class FftR2c(OpDef):
    """The forward DFT over `dims` of a real array, keeping the non-negative frequencies of
    the last of them (the rest mirror them)."""

    def forward(ctx, xp, x, dims, norm):
        ctx.dims, ctx.norm, ctx.n = dims, norm, x.shape[dims[-1]]
        return xp.fft.rfftn(x, axes=dims, norm=norm)

    def backward(ctx, g):
        last = ctx.dims[-1]
        full = _resized(g, last, ctx.n)  # the dropped frequencies had no part in the output
        return apply(FftC2c, full, dims=ctx.dims, norm=_ADJOINT[ctx.norm], forward=False).real


@register("fft_c2r", promote=None, samples=_c2r_samples())
class FftC2r(OpDef):
    """The inverse DFT over `dims` of a one-sided spectrum (n // 2 + 1 entries along the last
    of them) to a real array with `n` entries there; imaginary parts that a real signal cannot
    have (the zero and Nyquist frequencies) are ignored."""

    def forward(ctx, xp, x, dims, norm, n):
        ctx.dims, ctx.norm, ctx.n = dims, norm, n
        sizes = [x.shape[d] for d in dims[:-1]] + [n]
        return xp.fft.irfftn(x, s=sizes, axes=dims, norm=norm)

    def backward(ctx, g):
        spectrum = apply(FftR2c, g, dims=ctx.dims, norm=_ADJOINT[ctx.norm])
        last, n = ctx.dims[-1], ctx.n
        mirrored = (n - 1) // 2  # bins 1..mirrored stand for two frequencies each
        if not mirrored:
            return spectrum
        parts = [narrow(spectrum, last, 0, 1), narrow(spectrum, last, 1, mirrored) * 2]
        if spectrum.shape[last] > mirrored + 1:
            parts.append(narrow(spectrum, last, mirrored + 1, spectrum.shape[last] - mirrored - 1))
        return cat(parts, last)


# ---- arguments ------------------------------------------------------------------------------
def _check_norm(norm, op: str) -> str:
    if norm is None:
        return "backward"
    if norm not in _NORMS:
        raise ValueError(f"{op}(): Invalid normalization mode: \"{norm}\" (expected "
                         "\"backward\", \"ortho\" or \"forward\")")
    return norm


def _check_input(input, op: str) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(input).__name__}")
    if input._dtype in (D.float16, D.bfloat16):
        raise RuntimeError(f"{op}(): Unsupported dtype {input._dtype.name} (the CPU FFT runs "
                           "in float32, float64, complex64 and complex128)")


def _as_complex(x: Tensor) -> Tensor:
    if x.is_complex():
        return x
    if x._dtype.category < D._FLOAT:
        x = x.to(D._Defaults.floating)
    return x.to(x._dtype.to_complex())


def _as_real(x: Tensor, op: str) -> Tensor:
    if x.is_complex():
        raise RuntimeError(f"{op} expects a real input tensor, but got {x._dtype.name}")
    return x if x._dtype.category >= D._FLOAT else x.to(D._Defaults.floating)


def _resized(x: Tensor, dim: int, n: int) -> Tensor:
    """`x` cut or zero-padded to `n` entries along `dim`."""
    size = x.shape[dim]
    if n == size:
        return x
    if n < size:
        return narrow(x, dim, 0, n)
    shape = list(x.shape)
    shape[dim] = n - size
    return cat([x, zeros(shape, dtype=x._dtype, device=x._device)], dim)


def _points(n, op: str) -> int:
    n = operator.index(n)
    if n < 1:
        raise RuntimeError(f"{op}(): Invalid number of data points ({n}) specified")
    return n


def _plan(input: Tensor, s, dim, op: str) -> tuple[tuple, tuple]:
    """(dims, sizes) of an n-dimensional transform: `dim` (default the last len(s) dims, or
    all), and `s` the signal sizes along them (default the input's)."""
    nd = input.ndim
    if dim is None:
        dims = tuple(range(nd - len(s), nd)) if s is not None else tuple(range(nd))
    else:
        dims = tuple(_dim(d, nd, op) for d in ((dim,) if isinstance(dim, int) else dim))
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"{op}(): dims must be unique, but got {list(dims)}")
    if s is None:
        sizes = tuple(input.shape[d] for d in dims)
    else:
        if len(s) != len(dims):
            raise RuntimeError(f"{op}(): When given, dim and shape arguments must have the "
                               f"same length (got s={list(s)}, dim={list(dims)})")
        sizes = tuple(-1 if k == -1 else _points(k, op) for k in s)
        sizes = tuple(input.shape[d] if k == -1 else k for d, k in zip(dims, sizes))
    if not dims:
        raise RuntimeError(f"{op}(): must transform at least one dimension")
    return dims, sizes


def _c2c(input, s, dim, norm, forward: bool, op: str, out=None) -> Tensor:
    _check_input(input, op)
    dims, sizes = _plan(input, s, dim, op)
    x = _as_complex(input)
    for d, k in zip(dims, sizes):
        x = _resized(x, d, k)
    return write_out(apply(FftC2c, x, dims=dims, norm=_check_norm(norm, op), forward=forward),
                     out)


def _r2c(input, s, dim, norm, op: str, out=None) -> Tensor:
    _check_input(input, op)
    dims, sizes = _plan(input, s, dim, op)
    x = _as_real(input, op)
    for d, k in zip(dims, sizes):
        x = _resized(x, d, k)
    return write_out(apply(FftR2c, x, dims=dims, norm=_check_norm(norm, op)), out)


def _c2r(input, s, dim, norm, op: str, out=None) -> Tensor:
    """One-sided spectrum to real: `s` gives the output sizes (the last defaults to
    2 * (input's last - 1))."""
    _check_input(input, op)
    dims, sizes = _plan(input, s, dim, op)
    last = dims[-1]
    n = sizes[-1] if s is not None else 2 * (input.shape[last] - 1)
    n = _points(n, op)
    x = _as_complex(input)
    for d, k in zip(dims[:-1], sizes[:-1]):
        x = _resized(x, d, k)
    x = _resized(x, last, n // 2 + 1)
    return write_out(apply(FftC2r, x, dims=dims, norm=_check_norm(norm, op), n=n), out)


def _one(n, dim, op: str):
    """(s, dim) for a one-dimensional transform."""
    if not isinstance(dim, int):
        raise TypeError(f"{op}(): argument 'dim' must be int, not {type(dim).__name__}")
    return (None if n is None else (_points(n, op),)), (dim,)


# ---- public functions -----------------------------------------------------------------------
def fft(input, n=None, dim=-1, norm=None, *, out=None) -> Tensor:
    """The one-dimensional DFT along `dim` (complex result), of `n` points (the input cut or
    zero-padded; default its size). norm: "backward" (no scaling), "ortho" or "forward" (1/n).

    >>> import ember
    >>> ember.fft.fft(ember.tensor([1., 2., 3., 4.]))
    tensor([10.+0.j, -2.+2.j, -2.+0.j, -2.-2.j])
    """
    return _c2c(input, *_one(n, dim, "fft"), norm, True, "fft", out)


def ifft(input, n=None, dim=-1, norm=None, *, out=None) -> Tensor:
    """The one-dimensional inverse DFT along `dim` (1/n scaling by default)."""
    return _c2c(input, *_one(n, dim, "ifft"), norm, False, "ifft", out)


def fft2(input, s=None, dim=(-2, -1), norm=None, *, out=None) -> Tensor:
    """The two-dimensional DFT over `dim` (the last two by default)."""
    return _c2c(input, s, dim, norm, True, "fft2", out)


def ifft2(input, s=None, dim=(-2, -1), norm=None, *, out=None) -> Tensor:
    """The two-dimensional inverse DFT over `dim`."""
    return _c2c(input, s, dim, norm, False, "ifft2", out)


def fftn(input, s=None, dim=None, norm=None, *, out=None) -> Tensor:
    """The DFT over `dim` (all dims, or the last len(s), by default), of sizes `s`."""
    return _c2c(input, s, dim, norm, True, "fftn", out)


def ifftn(input, s=None, dim=None, norm=None, *, out=None) -> Tensor:
    """The inverse DFT over `dim`, of sizes `s`."""
    return _c2c(input, s, dim, norm, False, "ifftn", out)


def rfft(input, n=None, dim=-1, norm=None, *, out=None) -> Tensor:
    """The DFT of a real signal along `dim`: the n // 2 + 1 non-negative frequencies.

    >>> import ember
    >>> ember.fft.rfft(ember.tensor([1., 2., 3., 4.]))
    tensor([10.+0.j, -2.+2.j, -2.+0.j])
    """
    return _r2c(input, *_one(n, dim, "rfft"), norm, "rfft", out)


def irfft(input, n=None, dim=-1, norm=None, *, out=None) -> Tensor:
    """The real signal of `n` points (default 2 * (size - 1)) whose one-sided spectrum along
    `dim` is `input`: the inverse of rfft."""
    return _c2r(input, *_one(n, dim, "irfft"), norm, "irfft", out)


def rfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None) -> Tensor:
    """The two-dimensional DFT of a real signal, one-sided along the last of `dim`."""
    return _r2c(input, s, dim, norm, "rfft2", out)


def irfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None) -> Tensor:
    """The inverse of rfft2."""
    return _c2r(input, s, dim, norm, "irfft2", out)


def rfftn(input, s=None, dim=None, norm=None, *, out=None) -> Tensor:
    """The n-dimensional DFT of a real signal, one-sided along the last of `dim`."""
    return _r2c(input, s, dim, norm, "rfftn", out)


def irfftn(input, s=None, dim=None, norm=None, *, out=None) -> Tensor:
    """The inverse of rfftn."""
    return _c2r(input, s, dim, norm, "irfftn", out)


def hfft(input, n=None, dim=-1, norm=None, *, out=None) -> Tensor:
    """The DFT of a Hermitian-symmetric signal given by its first half: a real spectrum of
    `n` points (default 2 * (size - 1))."""
    return _c2r(_conj(input), *_one(n, dim, "hfft"), _ADJOINT[_check_norm(norm, "hfft")],
                "hfft", out)


def ihfft(input, n=None, dim=-1, norm=None, *, out=None) -> Tensor:
    """The inverse of hfft: the first n // 2 + 1 entries of the inverse DFT of a real signal."""
    return write_out(_r2c(input, *_one(n, dim, "ihfft"), _ADJOINT[_check_norm(norm, "ihfft")],
                          "ihfft").conj(), out)


def hfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None) -> Tensor:
    """The two-dimensional hfft."""
    return _c2r(_conj(input), s, dim, _ADJOINT[_check_norm(norm, "hfft2")], "hfft2", out)


def ihfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None) -> Tensor:
    """The inverse of hfft2."""
    return write_out(_r2c(input, s, dim, _ADJOINT[_check_norm(norm, "ihfft2")],
                          "ihfft2").conj(), out)


def hfftn(input, s=None, dim=None, norm=None, *, out=None) -> Tensor:
    """The n-dimensional hfft."""
    return _c2r(_conj(input), s, dim, _ADJOINT[_check_norm(norm, "hfftn")], "hfftn", out)


def ihfftn(input, s=None, dim=None, norm=None, *, out=None) -> Tensor:
    """The inverse of hfftn."""
    return write_out(_r2c(input, s, dim, _ADJOINT[_check_norm(norm, "ihfftn")],
                          "ihfftn").conj(), out)


def _frame_window(window, n_fft: int, win_length: int, like: Tensor) -> Tensor:
    """The analysis window as n_fft samples: ones by default, a shorter one centered with
    zeros around it."""
    if window is None:
        window = ones(win_length, dtype=like._dtype.to_real(), device=like._device)
    if window.ndim != 1 or window.shape[0] != win_length:
        raise RuntimeError(f"stft: expected a 1D window tensor of size equal to win_length="
                           f"{win_length}, but got window with size {list(window.shape)}")
    left = (n_fft - win_length) // 2
    if not left and win_length == n_fft:
        return window
    return cat([zeros(left, dtype=window._dtype, device=window._device), window,
                zeros(n_fft - win_length - left, dtype=window._dtype, device=window._device)])


def _stft_lengths(n_fft: int, hop_length, win_length, op: str) -> tuple:
    hop = n_fft // 4 if hop_length is None else int(hop_length)
    win = n_fft if win_length is None else int(win_length)
    if n_fft <= 0 or hop <= 0 or not 0 < win <= n_fft:
        raise RuntimeError(f"{op}: expected 0 < n_fft, 0 < hop_length and 0 < win_length <= "
                           f"n_fft, but got n_fft={n_fft}, hop_length={hop}, win_length={win}")
    return hop, win


def _hann(t, x, n):
    """A Hann window in the precision of the signal x (real parts for complex x)."""
    return t.hann_window(n, dtype=x.real.dtype)


@composite(samples=(
    Sample(lambda t, x: t.view_as_real(t.stft(x, 8, hop_length=2, window=_hann(t, x, 8),
                                                return_complex=True)), (Arg((2, 40)),)),
    Sample(lambda t, x: t.view_as_real(t.stft(x, 10, win_length=6, center=False,
                                                normalized=True, return_complex=True)),
           (Arg((33,)),), name="short_window"),
    Sample(lambda t, x: t.stft(x, 8, hop_length=3, window=t.hamming_window(8, dtype=x.real.dtype),
                               pad_mode="constant", onesided=False, return_complex=True).abs(),
           (Arg((25,)),), name="twosided")))
@tensor_method()
def stft(input: Tensor, n_fft: int, hop_length=None, win_length=None, window=None,
         center: bool = True, pad_mode: str = "reflect", normalized: bool = False,
         onesided=None, return_complex=None) -> Tensor:
    """The short-time Fourier transform: the DFT of each window-weighted frame of n_fft
    samples, frames hop_length apart, as (*, frequencies, frames); with center, the signal is
    padded by n_fft // 2 on both sides (pad_mode) so frame t is centered on sample
    t * hop_length."""
    op = "stft"
    if not isinstance(input, Tensor):
        raise TypeError(f"stft(): argument 'input' must be Tensor, not {type(input).__name__}")
    if return_complex is None and not input.is_complex() and not (
            window is not None and window.is_complex()):
        raise RuntimeError("stft requires the return_complex parameter be given for real "
                           "inputs, and will further require that return_complex=True in a "
                           "future PyTorch release.")
    if input.ndim not in (1, 2):
        raise RuntimeError(f"stft: expected a 1D or 2D tensor, but got {input.ndim}D")
    hop, win = _stft_lengths(int(n_fft), hop_length, win_length, op)
    if window is None:
        warnings.warn("A window was not provided. A rectangular window will be applied, which "
                      "is known to cause spectral leakage; ember.hann_window or "
                      "ember.hamming_window reduce it. Pass window=ember.ones(n_fft) to use a "
                      "rectangular window without this warning.", UserWarning, stacklevel=2)
    x = input if input.ndim == 2 else input.unsqueeze(0)
    if center:
        from ..nn.functional import pad
        half = n_fft // 2
        x = pad(x.unsqueeze(1), (half, half), mode=pad_mode).squeeze(1)
    if x.shape[-1] < n_fft:
        raise RuntimeError(f"stft: expected 0 < n_fft <= {x.shape[-1]} (the padded input's "
                           f"length), but got n_fft={n_fft}")
    frames = x.unfold(-1, n_fft, hop) * _frame_window(window, n_fft, win, x)
    complex_input = frames.is_complex()
    if onesided is None:
        onesided = not complex_input
    if onesided and complex_input:
        raise RuntimeError("stft: Cannot have onesided output if window or input is complex")
    norm = "ortho" if normalized else "backward"
    spectrum = rfft(frames, norm=norm) if onesided else fft(frames, norm=norm)
    spectrum = spectrum.transpose(-1, -2)
    if input.ndim == 1:
        spectrum = spectrum.squeeze(0)
    return view_as_real(spectrum) if return_complex is False else spectrum


def _overlap_add(frames: Tensor, hop: int) -> Tensor:
    """Sum frames (N, n_fft, n_frames) into signals (N, n_fft + hop * (n_frames - 1)), frame t
    starting at t * hop."""
    from ..nn.functional import fold
    n_fft, count = frames.shape[-2], frames.shape[-1]
    total = n_fft + hop * (count - 1)
    return fold(frames, (1, total), (1, n_fft), stride=(1, hop)).reshape(frames.shape[0], total)


@composite(samples=(
    Sample(lambda t, x: t.istft(t.stft(x, 8, hop_length=2, window=_hann(t, x, 8),
                                       return_complex=True), 8, hop_length=2,
                                window=_hann(t, x, 8)), (Arg((2, 40)),)),
    Sample(lambda t, x: t.istft(t.stft(x, 10, hop_length=3, return_complex=True), 10,
                                hop_length=3, length=30, normalized=False), (Arg((33,)),),
           name="length"),
    Sample(lambda t, x: t.istft(t.stft(x, 8, hop_length=4, window=_hann(t, x, 8),
                                       normalized=True, return_complex=True), 8, hop_length=4,
                                window=_hann(t, x, 8), normalized=True, length=44),
           (Arg((41,)),), name="normalized")))
@tensor_method()
def istft(input: Tensor, n_fft: int, hop_length=None, win_length=None, window=None,
          center: bool = True, normalized: bool = False, onesided=None, length=None,
          return_complex: bool = False) -> Tensor:
    """The inverse of stft: each frame's inverse DFT, weighted by the window, overlap-added
    and divided by the overlapped squared window (least squares, as torch's); `length` trims
    or zero-pads the result."""
    op = "istft"
    if not isinstance(input, Tensor) or not input.is_complex():
        raise RuntimeError("istft requires a complex-valued input tensor matching the output "
                           "from stft with return_complex=True.")
    if input.ndim not in (2, 3):
        raise RuntimeError(f"istft: expected a tensor with 2 or 3 dimensions of complex dtype, "
                           f"but got {input.ndim}")
    hop, win = _stft_lengths(int(n_fft), hop_length, win_length, op)
    spectrum = input if input.ndim == 3 else input.unsqueeze(0)
    if onesided is None:
        onesided = spectrum.shape[-2] != n_fft
    if not onesided and not return_complex:  # a real signal's spectrum: its first half decides
        spectrum, onesided = narrow(spectrum, -2, 0, n_fft // 2 + 1), True
    norm = "ortho" if normalized else "backward"
    frames_first = spectrum.transpose(-1, -2)
    frames = irfft(frames_first, n=n_fft, norm=norm) if onesided else \
        ifft(frames_first, n=n_fft, norm=norm)
    window = _frame_window(window, n_fft, win, frames)
    frames = (frames * window).transpose(-1, -2)
    parts = (frames.real, frames.imag) if frames.is_complex() else (frames,)
    added = [_overlap_add(part, hop) for part in parts]
    signal = added[0] if len(added) == 1 else added[0] + added[1] * 1j
    envelope = _overlap_add((window * window).reshape(1, n_fft, 1).expand(
        1, n_fft, frames.shape[-1]).contiguous(), hop)[0]
    start = n_fft // 2 if center else 0
    end = signal.shape[-1] - (n_fft // 2 if center else 0)
    if length is not None:
        end = min(start + int(length), signal.shape[-1])
    envelope = envelope[start:end]
    if bool((envelope.abs() < 1e-11).any()):
        raise RuntimeError(f"istft: window overlap add min: {float(envelope.abs().min()):g} "
                           "(the window's overlapped squares must not vanish: use a hop_length "
                           "at most win_length / 2 for a window that is zero at its ends, or "
                           "center=True)")
    signal = signal[..., start:end] / envelope
    if length is not None and signal.shape[-1] < length:
        signal = _resized(signal, -1, int(length))
    return signal if input.ndim == 3 else signal.squeeze(0)


def _conj(x):
    return x.conj() if isinstance(x, Tensor) and x.is_complex() else x


def fftfreq(n, d=1.0, *, out=None, dtype=None, layout=None, device=None,
            requires_grad=False) -> Tensor:
    """The sample frequencies of an n-point DFT with sample spacing d: [0, 1, ..., n//2 - 1
    (or (n-1)//2), -(n//2), ..., -1] / (d n).

    >>> import ember
    >>> ember.fft.fftfreq(4)
    tensor([ 0.0000,  0.2500, -0.5000, -0.2500])
    """
    n = _points(n, "fftfreq")
    k = arange(n, dtype=dtype or D._Defaults.floating, device=device)
    k = roll(k - (n // 2), -(n // 2)) if n > 1 else k
    return write_out((k / (d * n)).requires_grad_(requires_grad), out)


def rfftfreq(n, d=1.0, *, out=None, dtype=None, layout=None, device=None,
             requires_grad=False) -> Tensor:
    """The non-negative sample frequencies rfft returns: [0, 1, ..., n // 2] / (d n)."""
    n = _points(n, "rfftfreq")
    k = arange(n // 2 + 1, dtype=dtype or D._Defaults.floating, device=device)
    return write_out((k / (d * n)).requires_grad_(requires_grad), out)


def _shifts(input, dim):
    dims = tuple(range(input.ndim)) if dim is None else \
        tuple(_dim(d, input.ndim, "fftshift") for d in ((dim,) if isinstance(dim, int) else dim))
    return dims, tuple(input.shape[d] // 2 for d in dims)


def fftshift(input, dim=None) -> Tensor:
    """The zero frequency moved to the center of `dim` (all dims by default)."""
    dims, shifts = _shifts(input, dim)
    return roll(input, shifts, dims) if dims else input


def ifftshift(input, dim=None) -> Tensor:
    """The inverse of fftshift."""
    dims, shifts = _shifts(input, dim)
    return roll(input, tuple(-s for s in shifts), dims) if dims else input


__all__ = ["stft", "istft"]  # the transforms themselves are ember.fft's
