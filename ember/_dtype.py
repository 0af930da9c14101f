"""dtypes and PyTorch's type-promotion rules (categories: bool < integer < floating < complex)."""
from __future__ import annotations

import builtins

import ml_dtypes
import numpy as np

_BOOL, _INT, _FLOAT, _COMPLEX = 0, 1, 2, 3


class dtype:
    """A tensor element type: a name, its NumPy storage dtype and its promotion category."""

    __slots__ = ("name", "np", "category", "itemsize", "is_signed", "_rank")

    def __init__(self, name: str, np_dtype, category: int, is_signed: bool, rank: int):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.category = category
        self.itemsize = self.np.itemsize
        self.is_signed = is_signed
        self._rank = rank

    @property
    def is_floating_point(self) -> bool:
        return self.category == _FLOAT

    @property
    def is_complex(self) -> bool:
        return self.category == _COMPLEX

    def to_real(self) -> "dtype":
        return {complex64: float32, complex128: float64}.get(self, self)

    def to_complex(self) -> "dtype":
        return {float64: complex128}.get(self, complex64) if self.category <= _FLOAT else self

    def __repr__(self) -> str:
        return f"torch.{self.name}"

    def __reduce__(self):
        return (_dtype_by_name, (self.name,))


bool = dtype("bool", np.bool_, _BOOL, False, 0)
uint8 = dtype("uint8", np.uint8, _INT, False, 1)
int8 = dtype("int8", np.int8, _INT, True, 1)
int16 = dtype("int16", np.int16, _INT, True, 2)
int32 = dtype("int32", np.int32, _INT, True, 3)
int64 = dtype("int64", np.int64, _INT, True, 4)
float16 = dtype("float16", np.float16, _FLOAT, True, 1)
bfloat16 = dtype("bfloat16", ml_dtypes.bfloat16, _FLOAT, True, 1)
float32 = dtype("float32", np.float32, _FLOAT, True, 2)
float64 = dtype("float64", np.float64, _FLOAT, True, 3)
complex64 = dtype("complex64", np.complex64, _COMPLEX, True, 2)
complex128 = dtype("complex128", np.complex128, _COMPLEX, True, 3)
# torch's "shell" unsigned dtypes: storage, casts and a few kernels, but they promote only with
# themselves and with floating-point dtypes (see _PromotionTable).
uint16 = dtype("uint16", np.uint16, _INT, False, 2)
uint32 = dtype("uint32", np.uint32, _INT, False, 3)
uint64 = dtype("uint64", np.uint64, _INT, False, 4)
SHELL_UNSIGNED = (uint16, uint32, uint64)

ALL_DTYPES = (bool, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64,
              complex64, complex128) + SHELL_UNSIGNED
_BY_NAME = {d.name: d for d in ALL_DTYPES}
_ALIASES = {"half": float16, "float": float32, "double": float64, "short": int16, "int": int32,
            "long": int64, "cfloat": complex64, "cdouble": complex128}
_BY_NP = {d.np: d for d in ALL_DTYPES}
# torch's C++ ScalarType names, which its error messages use ("expected scalar type Long").
SCALAR_NAMES = {bool: "Bool", uint8: "Byte", int8: "Char", int16: "Short", int32: "Int",
                int64: "Long", float16: "Half", bfloat16: "BFloat16", float32: "Float",
                float64: "Double", complex64: "ComplexFloat", complex128: "ComplexDouble",
                uint16: "UInt16", uint32: "UInt32", uint64: "UInt64"}
SCALAR_NAMES_BY_NAME = {d.name: name for d, name in SCALAR_NAMES.items()}


def _dtype_by_name(name: str) -> dtype:
    return _BY_NAME[name]


def from_numpy_dtype(np_dtype) -> dtype:
    """The ember dtype that stores arrays of `np_dtype` (TypeError if there is none)."""
    try:
        return _BY_NP[np_dtype]
    except KeyError:
        try:
            return _BY_NP[np.dtype(np_dtype)]
        except (KeyError, TypeError):
            raise TypeError(f"can't convert np.ndarray of type {np_dtype}. The only supported "
                            "types are: float64, float32, float16, bfloat16, complex64, "
                            "complex128, int64, int32, int16, int8, uint64, uint32, uint16, "
                            "uint8, and bool.") from None


class _Defaults:
    floating = float32


def get_default_dtype() -> dtype:
    """The dtype of new floating-point tensors (float32 unless changed)."""
    return _Defaults.floating


def set_default_dtype(d: dtype) -> None:
    """Set the dtype used for Python floats and new floating-point tensors."""
    if not isinstance(d, dtype) or d.category != _FLOAT:
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _Defaults.floating = d


def _promote_uncached(a: dtype, b: dtype) -> dtype:
    if a is b:
        return a
    if a.category != b.category:
        hi, lo = (a, b) if a.category > b.category else (b, a)
        if hi.category == _COMPLEX and lo.category == _FLOAT and lo._rank > hi._rank:
            return complex128
        return hi
    if a.category == _INT:
        if a.is_signed != b.is_signed:
            unsigned, signed = (a, b) if not a.is_signed else (b, a)
            return signed if signed._rank > unsigned._rank else int16
        return a if a._rank > b._rank else b
    if a._rank == b._rank:  # float16 with bfloat16
        return float32
    return a if a._rank > b._rank else b


class _PromotionTable(dict):
    """The promotion of every dtype pair; a pair with no entry (a shell unsigned dtype beside
    anything but itself or a floating-point dtype) raises torch's RuntimeError."""

    def __missing__(self, key):
        a, b = key
        if a not in SCALAR_NAMES or b not in SCALAR_NAMES:
            raise KeyError(key)
        raise RuntimeError("Promotion for uint16, uint32, uint64 types is not supported, "
                           f"attempted to promote {SCALAR_NAMES[a]} and {SCALAR_NAMES[b]}")


def _promotable(a: dtype, b: dtype) -> builtins.bool:
    """Whether torch promotes `a` with `b`: shell unsigned dtypes meet only themselves and
    floating-point dtypes."""
    shell = a in SHELL_UNSIGNED or b in SHELL_UNSIGNED
    return not shell or a is b or _FLOAT in (a.category, b.category) and _COMPLEX not in (
        a.category, b.category)


_PROMOTE = _PromotionTable({(a, b): _promote_uncached(a, b) for a in ALL_DTYPES
                            for b in ALL_DTYPES if _promotable(a, b)})


def promote_types(type1: dtype, type2: dtype) -> dtype:
    """The smallest dtype both arguments can be cast to, by PyTorch's rules.

    >>> import ember
    >>> ember.promote_types(ember.uint8, ember.int8)
    torch.int16
    """
    return _PROMOTE[type1, type2]


def scalar_dtype(value) -> dtype:
    """The dtype a Python scalar takes when it meets tensors (a 'wrapped number')."""
    if isinstance(value, builtins.bool):
        return bool
    if isinstance(value, int):
        return int64
    if isinstance(value, complex):
        return complex64 if _Defaults.floating is float32 else complex128
    return _Defaults.floating


def can_cast(from_: dtype, to: dtype) -> bool:
    """Whether a value of `from_` may be cast to `to` under PyTorch's same-kind casting rule.

    >>> import ember
    >>> ember.can_cast(ember.float32, ember.int32)
    False
    """
    return from_.category <= to.category


def to_dtype(d) -> dtype:
    """Normalize `d` (an ember dtype, a NumPy dtype, a Python type or a name) to an ember dtype."""
    if isinstance(d, dtype):
        return d
    if d is builtins.bool:
        return bool
    if d is int:
        return int64
    if d is float:
        return float64
    if d is complex:
        return complex128
    if isinstance(d, str):
        name = d.removeprefix("torch.")
        if name in _BY_NAME:
            return _BY_NAME[name]
        if name in _ALIASES:
            return _ALIASES[name]
    return from_numpy_dtype(d)


class finfo:
    """Machine limits of a floating-point dtype, like torch.finfo."""

    def __init__(self, type: dtype | None = None):
        type = get_default_dtype() if type is None else to_dtype(type)
        if type.category < _FLOAT:
            raise TypeError("torch.finfo() requires a floating point input type. Use "
                            "torch.iinfo to handle 'torch.finfo'")
        info = ml_dtypes.finfo(type.np) if type is bfloat16 else np.finfo(type.np)
        self.bits = info.bits
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = self.smallest_normal = float(info.tiny)
        self.resolution = float(info.resolution)
        self.dtype = type.to_real().name

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
                f"eps={self.eps:g}, smallest_normal={self.tiny:g}, tiny={self.tiny:g}, "
                f"dtype={self.dtype})")


class iinfo:
    """Machine limits of an integer dtype, like torch.iinfo."""

    def __init__(self, type: dtype):
        type = to_dtype(type)
        if type.category != _INT and type is not bool:
            raise TypeError(f"torch.iinfo() requires an integer input type, got {type}")
        info = np.iinfo(np.uint8 if type is bool else type.np)
        self.bits = info.bits
        self.max = int(info.max) if type is not bool else 1
        self.min = int(info.min)
        self.dtype = type.name

    def __repr__(self) -> str:
        # torch prints the limits as C++ streams print doubles: 6 significant digits
        return f"iinfo(min={float(self.min):g}, max={float(self.max):g}, dtype={self.dtype})"
