"""Sample specs attached to each OpDef: the generated test suite runs every sample through
torch (the oracle, in tests only) and through ember, forward and backward, per dtype."""
from __future__ import annotations

from dataclasses import dataclass, field

FLOATS = ("float32", "float64")
FLOAT_ALL = ("float16", "bfloat16", "float32", "float64")
INTS = ("int32", "int64")
ALL_INT = ("uint8", "int8", "int16", "int32", "int64")
NUMERIC = FLOATS + INTS
ALL = ("bool",) + ALL_INT + FLOAT_ALL


@dataclass(frozen=True)
class Arg:
    """A tensor argument: shape, value range, an optional fixed dtype, whether it gets a grad.

    `values` gives explicit data (a nested list) instead of random numbers.
    """
    shape: tuple = ()
    low: float = -2.0
    high: float = 2.0
    dtype: str | None = None
    grad: bool = True
    values: object = None


@dataclass(frozen=True)
class Sample:
    """`fn(t, *tensors)` is run with t = torch or ember; `args` are shapes, Args or plain values.

    dtypes: those the forward is compared at; grad: whether gradients are checked (float64
    gradcheck, torch comparison); gradgrad: whether gradgradcheck runs too.
    """
    fn: object
    args: tuple = ()
    dtypes: tuple = FLOATS
    grad: bool = True
    gradgrad: bool = True
    atol: float = 1e-5
    rtol: float = 1.3e-6
    name: str = ""
    kwargs: dict = field(default_factory=dict)


def unary(fn, low=-2.0, high=2.0, dtypes=FLOATS + INTS, gradgrad=True, shape=(3, 4)):
    """The usual samples of a unary pointwise op: a matrix, a scalar tensor, an empty one."""
    return (Sample(fn, (Arg(shape, low, high),), dtypes=dtypes, gradgrad=gradgrad),
            Sample(fn, (Arg((), low, high),), dtypes=FLOATS, gradgrad=gradgrad, name="0d"),
            Sample(fn, (Arg((0, 2), low, high),), dtypes=("float32",), grad=False,
                   name="empty"))


def binary(fn, low=-2.0, high=2.0, dtypes=FLOATS + INTS, gradgrad=True, rhs_low=None,
           rhs_high=None):
    """The usual samples of a binary pointwise op: equal shapes, broadcasting, a scalar."""
    lo2 = low if rhs_low is None else rhs_low
    hi2 = high if rhs_high is None else rhs_high
    return (Sample(fn, (Arg((3, 4), low, high), Arg((3, 4), lo2, hi2)), dtypes=dtypes,
                   gradgrad=gradgrad),
            Sample(fn, (Arg((2, 1, 4), low, high), Arg((3, 1), lo2, hi2)), dtypes=FLOATS,
                   gradgrad=gradgrad, name="broadcast"),
            Sample(fn, (Arg((3,), low, high), Arg((), lo2, hi2)), dtypes=FLOATS,
                   gradgrad=gradgrad, name="0d"))
