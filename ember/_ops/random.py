"""Random numbers: Generator (NumPy's PCG64 behind torch's Generator API), the sampling
functions (rand, randn, randint, randperm, normal, bernoulli, multinomial, poisson, *_like)
and the in-place Tensor methods (uniform_, normal_, bernoulli_, random_, exponential_,
geometric_, log_normal_, cauchy_). Dropout's noise and rand/randn (and their _like forms) from
the default generator are ops (dropout_noise, random_samples), so ember.compile records them
and its graphs draw new numbers on every call.

Numbers are drawn on the host with NumPy and then moved to the tensor's device (one function,
`_draw`, does it), so a seed gives the same numbers on every device and in every process.
Streams are not bit-compatible with torch's; distributions are. Sampling functions return
leaves; in-place methods go through the `fill` op, so autograd treats them like fill_
(the overwritten tensor gets a zero gradient).
"""
from __future__ import annotations

import builtins
import math
import operator
import os

import numpy as np

from .. import _dtype as D
from .._backend import move, namespace
from .._device import CPU, to_device
from .._tensor import _TYPE_NAMES, Tensor
from .creation import Fill, _check_out, _dtype_arg, _size_args
from ..testing.opinfo import Arg, Sample
from .dispatch import apply, apply_, write_out
from .registry import OpDef, register, tensor_method

_DEFAULT_SEED = 67280421310721
_UINT64 = (1 << 64) - 1
_STATE_TAG = b"EMBRPCG1"
_STATE_SIZE = 64
# Mantissa digits (with the implicit bit) of each float type: the number of random bits that
# make every value of rand() and random_() exactly representable.
_DIGITS = {D.float16: 11, D.bfloat16: 8, D.float32: 24, D.float64: 53}


class Generator:
    """A seeded source of random numbers, like torch.Generator.

    >>> import ember
    >>> g = ember.Generator().manual_seed(42)
    >>> a = ember.rand(3, generator=g)
    >>> b = ember.rand(3, generator=g.manual_seed(42))
    >>> bool((a == b).all())
    True
    """

    def __init__(self, device="cpu"):
        self._device = to_device(device)
        self.manual_seed(_DEFAULT_SEED)

    @property
    def device(self):
        return self._device

    def manual_seed(self, seed: int) -> "Generator":
        """Reset the stream to the one `seed` gives; returns the generator."""
        if isinstance(seed, builtins.bool) or not isinstance(seed, int):
            raise RuntimeError(f"manual_seed expected a long, but got {type(seed).__name__}")
        if not -(1 << 63) <= seed <= _UINT64:
            raise ValueError(f"manual_seed(): Overflow when unpacking long long: seed {seed} is "
                             "outside [-2**63, 2**64)")
        self._seed = seed & _UINT64
        self._rng = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def seed(self) -> int:
        """Seed from the operating system's entropy; returns the seed used."""
        seed = int.from_bytes(os.urandom(8), "little")
        self.manual_seed(seed)
        return seed

    def initial_seed(self) -> int:
        """The seed the current stream started from."""
        return self._seed

    def get_state(self) -> Tensor:
        """The full state as a uint8 tensor (restore it with set_state)."""
        st = self._rng.bit_generator.state
        raw = (_STATE_TAG + self._seed.to_bytes(8, "little")
               + st["state"]["state"].to_bytes(16, "little")
               + st["state"]["inc"].to_bytes(16, "little")
               + st["has_uint32"].to_bytes(8, "little") + st["uinteger"].to_bytes(8, "little"))
        return Tensor._wrap(np.frombuffer(raw, dtype=np.uint8).copy(), D.uint8, CPU)

    def set_state(self, new_state: Tensor) -> "Generator":
        """Restore a state returned by get_state; returns the generator."""
        if not isinstance(new_state, Tensor):
            raise TypeError(f"expected a torch.ByteTensor, but got {type(new_state).__name__}")
        if new_state.dtype is not D.uint8:
            raise TypeError(f"RNG state must be a torch.ByteTensor (uint8), got "
                            f"{new_state.dtype}")
        raw = new_state.numpy(force=True).tobytes()
        if len(raw) != _STATE_SIZE or not raw.startswith(_STATE_TAG):
            raise RuntimeError(f"Expected an ember generator state of size {_STATE_SIZE} made "
                               f"by get_state(), but found a state of size {len(raw)}")
        seed, state, inc, has32, extra = (int.from_bytes(raw[a:b], "little") for a, b in (
            (8, 16), (16, 32), (32, 48), (48, 56), (56, 64)))
        self.manual_seed(seed)
        self._rng.bit_generator.state = {"bit_generator": "PCG64",
                                         "state": {"state": state, "inc": inc},
                                         "has_uint32": has32, "uinteger": extra}
        return self

    def __reduce__(self):
        return (_rebuild_generator, (str(self._device), self.get_state().numpy().tobytes()))

    def __repr__(self) -> str:
        return f"<ember.Generator object (device={self._device}, seed={self._seed})>"


def _rebuild_generator(device: str, state: bytes) -> Generator:
    g = Generator(device)
    return g.set_state(Tensor._wrap(np.frombuffer(state, dtype=np.uint8).copy(), D.uint8, CPU))


default_generator = Generator()
default_generator.seed()
# Default generators of CUDA devices, made on first use and seeded like the CPU one.
_device_generators: dict = {}


def default_generator_for(device) -> Generator:
    """The generator random functions use on `device` when none is passed."""
    dev = to_device(device)
    if dev.type == "cpu":
        return default_generator
    key = (dev.type, dev.index or 0)
    if key not in _device_generators:
        _device_generators[key] = Generator(dev).manual_seed(default_generator.initial_seed())
    return _device_generators[key]


def manual_seed(seed) -> Generator:
    """Seed every default generator (CPU and devices); returns the CPU one.

    >>> import ember
    >>> _ = ember.manual_seed(0); a = ember.randn(2)
    >>> _ = ember.manual_seed(0); bool((a == ember.randn(2)).all())
    True
    """
    seed = int(seed)
    default_generator.manual_seed(seed)
    for g in _device_generators.values():
        g.manual_seed(seed)
    return default_generator


def seed() -> int:
    """Seed every default generator from OS entropy; returns the seed."""
    s = default_generator.seed()
    for g in _device_generators.values():
        g.manual_seed(s)
    return s


def initial_seed() -> int:
    """The seed of the default CPU generator."""
    return default_generator.initial_seed()


def get_rng_state() -> Tensor:
    """The default CPU generator's state as a uint8 tensor."""
    return default_generator.get_state()


def set_rng_state(new_state: Tensor) -> None:
    """Restore the default CPU generator's state."""
    default_generator.set_state(new_state)


# ---- drawing ------------------------------------------------------------------------------
def _rng(generator, device, op: str) -> np.random.Generator:
    """The NumPy generator behind `generator` (or the device's default one)."""
    if generator is None:
        return default_generator_for(device)._rng
    if not isinstance(generator, Generator):
        raise TypeError(f"{op}(): argument 'generator' must be ember.Generator, not "
                        f"{type(generator).__name__}")
    if generator.device.type != device.type:
        raise RuntimeError(f"{op}(): Expected a '{device.type}' device type for generator but "
                           f"found '{generator.device.type}'")
    return generator._rng


def _draw(op: str, generator, device, sample):
    """Run `sample(rng)` on the host and return its array on `device`: the one place that
    decides where random numbers are made. A 0-d draw comes back an array, not the scalar
    NumPy's samplers and arithmetic give for shape ()."""
    return move(np.asarray(sample(_rng(generator, device, op))), device)


def _uniform(rng, shape, dt: D.dtype, low=0.0, high=1.0):
    """Uniform [low, high) values of a float or complex dtype, with as many random bits as the
    dtype holds, so rand() never rounds up to 1."""
    if dt.category == D._COMPLEX:
        real = dt.to_real()
        return (_uniform(rng, shape, real, low, high)
                + 1j * _uniform(rng, shape, real, low, high)).astype(dt.np)
    if dt is D.float64:
        u = rng.random(shape)
    elif dt is D.float32:
        u = rng.random(shape, dtype=np.float32)
    else:
        digits = _DIGITS[dt]
        u = rng.integers(0, 1 << digits, shape) * (2.0 ** -digits)
    if low != 0 or high != 1:
        u = u * (high - low) + low
    return u.astype(dt.np, copy=False)


def _normal(rng, shape, dt: D.dtype, mean=0.0, std=1.0):
    """Normal values of a float or complex dtype (complex: each part has variance std**2 / 2)."""
    if dt.category == D._COMPLEX:
        real = dt.to_real()
        z = _normal(rng, shape, real) + 1j * _normal(rng, shape, real)
        return (z * (std / math.sqrt(2)) + mean).astype(dt.np)
    z = rng.standard_normal(shape, dtype=np.float64 if dt is D.float64 else np.float32)
    if mean != 0 or std != 1:
        z = z * std + mean
    return z.astype(dt.np, copy=False)


def _require_float(dt: D.dtype, op: str, complex_ok: bool = True) -> None:
    """Continuous distributions need a floating (or, where allowed, complex) dtype."""
    if dt.category < D._FLOAT or (dt.category == D._COMPLEX and not complex_ok):
        raise NotImplementedError(f"{op}(): expected a floating point dtype, got {dt.name} "
                                  "(the distribution is continuous)")


def _finish(data, dt, dev, requires_grad, out):
    """Wrap freshly drawn data (or take the tensor `_sampled` made) as a leaf, or copy it into
    `out`."""
    t = data if isinstance(data, Tensor) else Tensor._wrap(data, dt, dev)
    if out is not None:
        return write_out(t, out)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _factory(op, args, size, out, dtype, device, default=None):
    """(shape, dtype, device) of a sampling factory's result, honouring out=."""
    dt = _check_out(out, _dtype_arg(dtype, op), op) or default or D.get_default_dtype()
    dev = out._device if out is not None else to_device(device)
    return _size_args(args, size, op), dt, dev


@register("random_samples", promote=None, differentiable=False, changes_device=True, samples=(
    Sample(lambda t, x: x + t.rand_like(x).floor(), (Arg((3, 4)),)),
    Sample(lambda t, x: x + t.randn(3, 4, dtype=x.dtype) * 0, (Arg((3, 4)),), name="normal")))
class RandomSamples(OpDef):
    """Uniform [0, 1) or standard normal values of `size`: rand, randn and their _like forms
    drawing from the default generator. An op, so ember.compile records the draw and its
    graphs draw anew on every call, from the same stream as eager code."""

    creates = True

    def forward(ctx, xp, size, normal, dtype, device, name):
        sampler = _normal if normal else _uniform
        return _draw(name, None, device, lambda rng: sampler(rng, size, dtype))


def _sampled(op: str, generator, shape, dt: D.dtype, dev, normal: bool):
    """rand/randn values: a random_samples op from the default generator, else drawn here."""
    if generator is None:
        return apply(RandomSamples, size=tuple(shape), normal=normal, dtype=dt, device=dev,
                     name=op)
    sampler = _normal if normal else _uniform
    return _draw(op, generator, dev, lambda rng: sampler(rng, shape, dt))


# ---- sampling functions ---------------------------------------------------------------------
def rand(*args, size=None, generator=None, out=None, dtype=None, layout=None, device=None,
         requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """Uniform samples from [0, 1).

    >>> import ember
    >>> x = ember.rand(2, 3, generator=ember.Generator().manual_seed(0))
    >>> x.shape, bool(((x >= 0) & (x < 1)).all())
    (torch.Size([2, 3]), True)
    """
    shape, dt, dev = _factory("rand", args, size, out, dtype, device)
    _require_float(dt, "rand")
    data = _sampled("rand", generator, shape, dt, dev, normal=False)
    return _finish(data, dt, dev, requires_grad, out)


def randn(*args, size=None, generator=None, out=None, dtype=None, layout=None, device=None,
          requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """Samples from the standard normal distribution."""
    shape, dt, dev = _factory("randn", args, size, out, dtype, device)
    _require_float(dt, "randn")
    data = _sampled("randn", generator, shape, dt, dev, normal=True)
    return _finish(data, dt, dev, requires_grad, out)


def _int_bound(value, op: str, name: str) -> int:
    """An integer argument: ints and one-element integer tensors, not floats or bools."""
    if isinstance(value, builtins.bool) or not hasattr(value, "__index__"):
        raise TypeError(f"{op}(): argument '{name}' must be int, not {type(value).__name__}")
    return operator.index(value)


def _integer_range(low: int, high: int, dt: D.dtype, op: str) -> tuple:
    """Check [low, high) for `dt` like torch; returns the inclusive bounds."""
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= "
                           f"to={high}")
    if dt.category == D._INT or dt is D.bool:
        lo, hi = (0, 1) if dt is D.bool else (int(np.iinfo(dt.np).min),
                                              int(np.iinfo(dt.np).max))
        if low < lo:
            raise RuntimeError(f"{op}(): from is out of bounds for {dt.name} (from={low}, the "
                               f"smallest value is {lo})")
        if high - 1 > hi:
            raise RuntimeError(f"{op}(): to - 1 is out of bounds for {dt.name} (to={high}, the "
                               f"largest value is {hi})")
    elif dt.category == D._COMPLEX:
        raise NotImplementedError(f"{op}(): not implemented for complex dtype {dt.name}")
    return low, high - 1


def _integers(rng, shape, low: int, high_inclusive: int, dt: D.dtype):
    """Uniform integers from [low, high_inclusive] as `dt`."""
    return rng.integers(low, high_inclusive, shape, dtype=np.int64,
                        endpoint=True).astype(dt.np)


def randint(*args, size=None, low=None, high=None, generator=None, out=None, dtype=None,
            layout=None, device=None, requires_grad: bool = False,
            pin_memory: bool = False) -> Tensor:
    """Integers drawn uniformly from [low, high): randint(high, size) or randint(low, high, size).

    >>> import ember
    >>> x = ember.randint(3, 10, (4,))
    >>> x.dtype, bool(((x >= 3) & (x < 10)).all())
    (torch.int64, True)
    """
    positional = list(args)
    if size is None and positional and isinstance(positional[-1], (tuple, list)):
        size = positional.pop()
    if len(positional) == 2 and low is None and high is None:
        low, high = positional
    elif len(positional) == 1 and high is None:
        high = positional[0]
    elif len(positional) == 1 and low is None:
        low = positional[0]
    elif positional:
        raise TypeError(f"randint(): expected (low, high, size) or (high, size), got {len(args)} "
                        "positional arguments")
    if high is None or size is None:
        raise TypeError("randint() missing required arguments: high and size (a tuple)")
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"randint(): argument 'size' must be tuple of ints, not "
                        f"{type(size).__name__}")
    low = 0 if low is None else _int_bound(low, "randint", "low")
    high = _int_bound(high, "randint", "high")
    shape, dt, dev = _factory("randint", (size,), None, out, dtype, device, D.int64)
    lo, hi = _integer_range(low, high, dt, "randint")
    data = _draw("randint", generator, dev, lambda rng: _integers(rng, shape, lo, hi, dt))
    return _finish(data, dt, dev, requires_grad, out)


def randperm(n: int, *, generator=None, out=None, dtype=None, layout=None, device=None,
             requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """A random permutation of 0 .. n-1.

    >>> import ember
    >>> sorted(ember.randperm(5).tolist())
    [0, 1, 2, 3, 4]
    """
    n = _int_bound(n, "randperm", "n")
    if n < 0:
        raise RuntimeError(f"randperm(): Trying to create tensor with negative dimension {n}: "
                           f"[{n}]")
    dt = _check_out(out, _dtype_arg(dtype, "randperm"), "randperm") or D.int64
    if dt is D.bool or dt.category == D._COMPLEX:
        raise NotImplementedError(f'"randperm" not implemented for \'{dt.name}\'')
    if dt.category == D._INT and n - 1 > np.iinfo(dt.np).max:
        raise RuntimeError(f"randperm(): value {n - 1} cannot be converted to type {dt.name} "
                           "without overflow")
    dev = out._device if out is not None else to_device(device)
    data = _draw("randperm", generator, dev, lambda rng: rng.permutation(n).astype(dt.np))
    return _finish(data, dt, dev, requires_grad, out)


def _float_tensor(x, op: str, name: str) -> Tensor:
    """`x`, which must be a floating point tensor for a continuous distribution."""
    if x._dtype.category != D._FLOAT:
        raise NotImplementedError(f"{op}(): expected a floating point tensor for {name}, got "
                                  f"{x._dtype.name}")
    return x


def _compute_array(x: Tensor):
    """A tensor's array in a type NumPy/CuPy compute with (float16/bfloat16 as float32)."""
    return x._data.astype(np.float32) if x._dtype.itemsize == 2 else x._data


def normal(mean=0.0, std=1.0, size=None, *, generator=None, out=None, dtype=None, layout=None,
           device=None, pin_memory: bool = False, requires_grad: bool = False) -> Tensor:
    """Normal samples with the given mean and std: each may be a tensor (elementwise, the
    result has their broadcast shape) or a number (then `size` is required if both are).

    >>> import ember
    >>> ember.normal(ember.zeros(3), 1.0).shape
    torch.Size([3])
    >>> ember.normal(2.0, 3.0, (2, 2)).shape
    torch.Size([2, 2])
    """
    mean_t, std_t = isinstance(mean, Tensor), isinstance(std, Tensor)
    if not mean_t and not std_t:
        if size is None:
            raise TypeError("normal(): with a number mean and std, 'size' is required")
        if std < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
        shape, dt, dev = _factory("normal", (size,), None, out, dtype, device)
        _require_float(dt, "normal")
        data = _draw("normal", generator, dev, lambda rng: _normal(rng, shape, dt, mean, std))
        return _finish(data, dt, dev, requires_grad, out)
    if mean_t:
        dt = _float_tensor(mean, "normal", "mean")._dtype
        dev = mean._device
    if std_t:
        _float_tensor(std, "normal", "std")
        if not mean_t:
            dt, dev = std._dtype, std._device
        if bool((std._data < 0).any()):
            raise RuntimeError("normal expects all elements of std >= 0.0")
    elif std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    shapes = [t._data.shape for t in (mean, std) if isinstance(t, Tensor)]
    try:
        shape = np.broadcast_shapes(*shapes)
    except ValueError:
        raise RuntimeError(f"normal(): the shapes of mean {list(shapes[0])} and std "
                           f"{list(shapes[-1])} cannot be broadcast together") from None
    xp = namespace(dev)
    m = _compute_array(mean) if mean_t else mean
    s = _compute_array(std) if std_t else std
    noise = _draw("normal", generator, dev, lambda rng: _normal(
        rng, shape, D.float64 if dt is D.float64 else D.float32))
    data = xp.asarray(m + s * noise).astype(dt.np)
    return _finish(data, dt, dev, False, out)


def _check_probability(p, op: str):
    """A probability argument: a tensor (checked elementwise) or a number in [0, 1]."""
    if isinstance(p, Tensor):
        _check_probabilities(p, op)
    elif not 0 <= p <= 1:
        raise RuntimeError(f"{op} expects p to be in [0, 1], but got p={p}")
    return p


def _check_probabilities(p: Tensor, op: str) -> None:
    """Every element of `p` lies in [0, 1] (NaN fails too)."""
    data = p._data
    if not bool(((data >= 0) & (data <= 1)).all()):
        raise RuntimeError(f"{op}(): Expected p_in >= 0 && p_in <= 1 to be true, but got false "
                           "(some probabilities are outside [0, 1] or NaN)")


def bernoulli(input: Tensor, p=None, *, generator=None, out=None) -> Tensor:
    """0/1 samples, 1 with probability `input` elementwise (or `p` for every element); the
    result has input's dtype.

    >>> import ember
    >>> ember.bernoulli(ember.tensor([0.0, 1.0]))
    tensor([0., 1.])
    """
    _float_tensor(input, "bernoulli", "input")
    if p is None:
        _check_probabilities(input, "bernoulli")
        probs = input
    else:
        probs = _check_probability(p, "bernoulli_")
    return write_out(_bernoulli_like(input, probs, generator, "bernoulli"), out)


def _bernoulli_like(like: Tensor, probs, generator, op: str) -> Tensor:
    """Samples shaped and typed like `like`, 1 with probability `probs` (number or tensor)."""
    shape = like._data.shape
    if isinstance(probs, Tensor):
        try:
            fits = np.broadcast_shapes(probs._data.shape, shape) == shape
        except ValueError:
            fits = False
        if not fits:
            raise RuntimeError(f"{op}(): probabilities of shape {list(probs.shape)} cannot be "
                               f"expanded to the tensor's shape {list(shape)}")
        xp = namespace(like._device)
        u = _draw(op, generator, like._device, lambda rng: rng.random(shape))
        data = xp.asarray((u < xp.asarray(_compute_array(probs.to(like._device))))
                          .astype(like._dtype.np))
    else:
        data = _draw(op, generator, like._device,
                     lambda rng: (rng.random(shape) < probs).astype(like._dtype.np))
    return Tensor._wrap(data, like._dtype, like._device)


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *, generator=None,
                out=None) -> Tensor:
    """Category indices drawn from the (unnormalized) probabilities in each row of `input`.

    Without replacement, num_samples may not exceed the number of non-zero categories.

    >>> import ember
    >>> ember.multinomial(ember.tensor([0.0, 1.0, 0.0]), 1)
    tensor([1])
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"multinomial(): argument 'input' must be Tensor, not "
                        f"{type(input).__name__}")
    if input._dtype.category != D._FLOAT:
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: "
                           f"{input._dtype.name}")
    if input.ndim not in (1, 2):
        raise RuntimeError(f"multinomial(): prob_dist must be 1 or 2 dim (got {input.ndim})")
    n = _int_bound(num_samples, "multinomial", "num_samples")
    if n <= 0:
        raise RuntimeError(f"multinomial(): cannot sample n_sample <= 0 samples (got {n})")
    probs = input.numpy(force=True).astype(np.float64)
    probs = probs.reshape(1, -1) if probs.ndim == 1 else probs
    categories = probs.shape[1]
    if not replacement and n > categories:
        raise RuntimeError(f"multinomial(): cannot sample n_sample > prob_dist.size(-1) samples "
                           f"without replacement ({n} > {categories})")
    if probs.size and not (np.isfinite(probs).all() and (probs >= 0).all()):
        raise RuntimeError("multinomial(): probability tensor contains either `inf`, `nan` or "
                           "element < 0")
    if probs.shape[0] and (probs.sum(axis=1) <= 0).any():
        raise RuntimeError("multinomial(): invalid multinomial distribution (sum of "
                           "probabilities <= 0)")
    if not replacement and probs.shape[0] and ((probs > 0).sum(axis=1) < n).any():
        raise RuntimeError(f"multinomial(): invalid multinomial distribution (with "
                           f"replacement=False, not enough non-negative category to sample): "
                           f"a row has fewer than {n} categories with non-zero probability")

    def sample(rng):
        if replacement:
            cdf = np.cumsum(probs, axis=1)
            u = rng.random((probs.shape[0], n)) * cdf[:, -1:]
            rows = [np.searchsorted(c, r, side="right") for c, r in zip(cdf, u)]
            idx = np.array(rows, dtype=np.int64).reshape(probs.shape[0], n)
            # u may round up to the row total: clamp to the row's last possible category.
            last = categories - 1 - np.argmax(probs[:, ::-1] > 0, axis=1)
            return np.minimum(idx, last[:, None])
        # Exponential races: the category whose Exp(1)/p is smallest is drawn first, which is
        # sampling proportional to p without replacement, in draw order.
        with np.errstate(divide="ignore"):
            keys = rng.standard_exponential(probs.shape) / probs
        return np.argsort(keys, axis=1, kind="stable")[:, :n].astype(np.int64)

    dev = input._device
    data = _draw("multinomial", generator, dev, sample)
    data = data.reshape(tuple(input.shape[:-1]) + (n,))
    return write_out(Tensor._wrap(data, D.int64, dev), out)


def poisson(input: Tensor, generator=None) -> Tensor:
    """Poisson samples with rate `input` elementwise (same dtype as input)."""
    _float_tensor(input, "poisson", "input")
    rates = input.numpy(force=True).astype(np.float64)
    if not (rates >= 0).all():
        raise RuntimeError("poisson(): invalid Poisson rate, expected rate to be non-negative")
    data = _draw("poisson", generator, input._device,
                 lambda rng: rng.poisson(rates, rates.shape).astype(input._dtype.np))
    return Tensor._wrap(data, input._dtype, input._device)


def binomial(count: Tensor, prob: Tensor, generator=None) -> Tensor:
    """Binomial samples: successes in `count` trials of probability `prob`, elementwise
    (broadcast), in count's floating dtype; a probability beyond [0, 1] is clamped into it.
    One draw per element from the generator (NumPy's sampler), whatever the counts.

    >>> import ember
    >>> ember.binomial(ember.tensor([0., 5.]), ember.tensor([0.5, 1.0])).tolist()
    [0.0, 5.0]
    """
    if count.dtype.category != D._FLOAT:
        raise ValueError(f"binomial only supports floating-point dtypes for count, got: "
                         f"{_TYPE_NAMES[count.dtype].removesuffix('Tensor')}")
    if prob.dtype is not count.dtype:
        raise RuntimeError(f"binomial(): prob has dtype {prob.dtype.name} but count has "
                           f"{count.dtype.name}; the two must match")
    n, q = np.broadcast_arrays(count.numpy(force=True).astype(np.float64),
                               prob.numpy(force=True).astype(np.float64))
    valid = ~np.isnan(q)
    trials = np.where(valid, np.maximum(np.nan_to_num(n), 0), 0).astype(np.int64)
    chance = np.where(valid, np.clip(q, 0.0, 1.0), 0.0)

    def sample(rng):
        return np.where(valid, rng.binomial(trials, chance), np.nan).astype(count.dtype.np)
    return Tensor._wrap(_draw("binomial", generator, count.device, sample), count.dtype,
                        count.device)


def _like(input, dtype, device, op):
    """(shape, dtype, device) for a *_like function."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    return (input._data.shape, _dtype_arg(dtype, op, input._dtype),
            to_device(device) if device is not None else input._device)


def rand_like(input: Tensor, *, generator=None, dtype=None, layout=None, device=None,
              requires_grad: bool = False, memory_format=None) -> Tensor:
    """Uniform [0, 1) samples shaped like `input` (its dtype and device unless given)."""
    shape, dt, dev = _like(input, dtype, device, "rand_like")
    _require_float(dt, "rand_like")
    data = _sampled("rand_like", generator, shape, dt, dev, normal=False)
    return _finish(data, dt, dev, requires_grad, None)


def randn_like(input: Tensor, *, generator=None, dtype=None, layout=None, device=None,
               requires_grad: bool = False, memory_format=None) -> Tensor:
    """Standard normal samples shaped like `input`."""
    shape, dt, dev = _like(input, dtype, device, "randn_like")
    _require_float(dt, "randn_like")
    data = _sampled("randn_like", generator, shape, dt, dev, normal=True)
    return _finish(data, dt, dev, requires_grad, None)


def randint_like(input: Tensor, low=0, high=None, *, generator=None, dtype=None, layout=None,
                 device=None, requires_grad: bool = False, memory_format=None) -> Tensor:
    """Integers from [low, high) shaped like `input`: randint_like(x, high) or (x, low, high)."""
    if high is None:
        if low == 0:
            raise TypeError("randint_like() missing required argument 'high'")
        low, high = 0, low
    low = _int_bound(low, "randint_like", "low")
    high = _int_bound(high, "randint_like", "high")
    shape, dt, dev = _like(input, dtype, device, "randint_like")
    lo, hi = _integer_range(low, high, dt, "randint_like")
    data = _draw("randint_like", generator, dev, lambda rng: _integers(rng, shape, lo, hi, dt))
    return _finish(data, dt, dev, requires_grad, None)


# ---- in-place Tensor methods ----------------------------------------------------------------
def _overwrite(self: Tensor, op: str, generator, sample) -> Tensor:
    """Fill `self` in place with `sample(rng, shape, dtype)` through the fill op."""
    data = _draw(op, generator, self._device,
                 lambda rng: sample(rng, self._data.shape, self._dtype))
    return apply_(Fill, self, Tensor._wrap(data, self._dtype, self._device))


@tensor_method()
def uniform_(self, from_=0.0, to=1.0, *, generator=None, **kwargs) -> Tensor:
    """Fill with uniform samples from [from, to) (`from` may be passed by keyword)."""
    low = kwargs.pop("from", from_)
    _no_extra(kwargs, "uniform_")
    if low > to:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={low} "
                           f"> to={to}")
    _require_float(self._dtype, "uniform_")
    return _overwrite(self, "uniform_", generator,
                      lambda rng, shape, dt: _uniform(rng, shape, dt, low, to))


@tensor_method()
def normal_(self, mean=0.0, std=1.0, *, generator=None) -> Tensor:
    """Fill with normal samples of the given mean and std."""
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    _require_float(self._dtype, "normal_")
    return _overwrite(self, "normal_", generator,
                      lambda rng, shape, dt: _normal(rng, shape, dt, mean, std))


@tensor_method()
def bernoulli_(self, p=0.5, *, generator=None) -> Tensor:
    """Fill with 0/1 samples, 1 with probability p (a number or a broadcastable tensor)."""
    p = _check_probability(p, "bernoulli_")
    return apply_(Fill, self, _bernoulli_like(self, p, generator, "bernoulli_"))


@tensor_method()
def random_(self, *args, generator=None, **kwargs) -> Tensor:
    """Fill with integers from [from, to - 1]: random_(), random_(to) or random_(from, to).

    Without `to`, values reach the dtype's largest integer (2**mantissa for floats).
    """
    if len(args) > 2:
        raise TypeError(f"random_() takes at most 2 positional arguments ({len(args)} given)")
    low, high = (0, None) if not args else (0, args[0]) if len(args) == 1 else args
    low = kwargs.pop("from", low)
    high = kwargs.pop("to", high)
    _no_extra(kwargs, "random_")
    low = _int_bound(low, "random_", "from")
    dt = self._dtype
    if high is None:
        top = 1 if dt is D.bool else (1 << _DIGITS[dt]) if dt.category == D._FLOAT else \
            int(np.iinfo(dt.np).max)
        if dt.category == D._COMPLEX:
            raise NotImplementedError("random_(): not implemented for complex tensors")
        high = top + 1
    lo, hi = _integer_range(low, _int_bound(high, "random_", "to"), dt, "random_")
    return _overwrite(self, "random_", generator,
                      lambda rng, shape, dt: _integers(rng, shape, lo, hi, dt))


@tensor_method()
def exponential_(self, lambd=1.0, *, generator=None) -> Tensor:
    """Fill with exponential samples of rate `lambd`."""
    if not lambd > 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    _require_float(self._dtype, "exponential_", complex_ok=False)
    return _overwrite(self, "exponential_", generator, lambda rng, shape, dt: (
        rng.standard_exponential(shape) / lambd).astype(dt.np))


@tensor_method()
def geometric_(self, p, *, generator=None) -> Tensor:
    """Fill with geometric samples: the number of Bernoulli(p) trials up to the first success."""
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    if self._dtype is D.bool or self._dtype.category == D._COMPLEX:
        raise NotImplementedError(f'"geometric_" not implemented for \'{self._dtype.name}\'')
    return _overwrite(self, "geometric_", generator,
                      lambda rng, shape, dt: rng.geometric(p, shape).astype(dt.np))


@tensor_method()
def log_normal_(self, mean=1.0, std=2.0, *, generator=None) -> Tensor:
    """Fill with exp(N(mean, std)) samples."""
    if not std > 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
    _require_float(self._dtype, "log_normal_", complex_ok=False)
    return _overwrite(self, "log_normal_", generator, lambda rng, shape, dt: np.exp(
        rng.standard_normal(shape) * std + mean).astype(dt.np))


@tensor_method()
def cauchy_(self, median=0.0, sigma=1.0, *, generator=None) -> Tensor:
    """Fill with Cauchy samples of the given median and scale."""
    if not sigma > 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma}")
    _require_float(self._dtype, "cauchy_", complex_ok=False)
    return _overwrite(self, "cauchy_", generator, lambda rng, shape, dt: (
        rng.standard_cauchy(shape) * sigma + median).astype(dt.np))


def _no_extra(kwargs, op):
    """Reject keyword arguments a method does not take."""
    if kwargs:
        raise TypeError(f"{op}() got unexpected keyword arguments {sorted(kwargs)}")


tensor_method("bernoulli")(bernoulli)
tensor_method("multinomial")(multinomial)

__all__ = ["Generator", "default_generator", "manual_seed", "seed", "initial_seed",
           "get_rng_state", "set_rng_state", "rand", "randn", "randint", "randperm", "normal",
           "bernoulli", "multinomial", "poisson", "binomial", "rand_like", "randn_like",
           "randint_like"]


# ---- dropout's noise ----------------------------------------------------------------------
_SELU_ALPHA = 1.7580993408473766  # -scale * alpha of selu: what a dropped unit becomes
_ALMOST_NEVER = 1e-12  # a drop probability that, in float32, keeps every element


@register("dropout_noise", promote=None, differentiable=False, changes_device=True, samples=(
    Sample(lambda t, x: t.nn.functional.dropout(x, _ALMOST_NEVER), (Arg((3, 4)),)),
    Sample(lambda t, x: t.nn.functional.alpha_dropout(x, _ALMOST_NEVER, training=True),
           (Arg((2, 5)),), name="alpha"),
    Sample(lambda t, x: t.nn.functional.dropout2d(x, _ALMOST_NEVER), (Arg((2, 3, 2, 2)),),
           name="channels")))
class DropoutNoise(OpDef):
    """The noise of dropout with drop probability p: a multiplier of `size` (0 where dropped,
    1 / (1 - p) elsewhere) or, for alpha dropout, (multiplier, offset) such that
    x * multiplier + offset is the dropped-out x. Drawn from the default generator."""

    creates = True

    def forward(ctx, xp, size, p, dtype, device, alpha):
        keep_prob = 1.0 - p

        def sample(rng):
            return rng.random(size, dtype=np.float32) < keep_prob
        keep = _draw("dropout", None, device, sample).astype(dtype.np)
        if not alpha:
            keep *= dtype.np.type(1.0 / keep_prob)
            return keep
        a = 1.0 / math.sqrt((_SELU_ALPHA * _SELU_ALPHA * p + 1.0) * keep_prob)
        offset = (keep - dtype.np.type(1)) * dtype.np.type(_SELU_ALPHA * a) + dtype.np.type(
            _SELU_ALPHA * a * p)
        keep *= dtype.np.type(a)
        return keep, offset
