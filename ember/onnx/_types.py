"""ember dtypes as ONNX TensorProto element types (the enum values, so no `onnx` import)."""
from __future__ import annotations

from .. import _dtype as D

ELEM_TYPE = {D.float32: 1, D.uint8: 2, D.int8: 3, D.int16: 5, D.int32: 6, D.int64: 7,
             D.bool: 9, D.float16: 10, D.float64: 11, D.complex64: 14, D.complex128: 15,
             D.bfloat16: 16}
FLOATS = (D.float16, D.bfloat16, D.float32, D.float64)


def elem_type(dtype: D.dtype) -> int:
    """The ONNX element type of an ember dtype."""
    return ELEM_TYPE[dtype]


def is_float(dtype: D.dtype) -> bool:
    return dtype.category == D._FLOAT


def is_int(dtype: D.dtype) -> bool:
    return dtype.category == D._INT


def lowest(dtype: D.dtype):
    """The smallest value of a real dtype (the identity of max)."""
    if dtype is D.bool:
        return False
    if is_float(dtype):
        return float("-inf")
    return int(D.iinfo(dtype).min)


def highest(dtype: D.dtype):
    """The largest value of a real dtype (the identity of min)."""
    if dtype is D.bool:
        return True
    if is_float(dtype):
        return float("inf")
    return int(D.iinfo(dtype).max)
