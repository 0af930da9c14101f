"""State dicts in the safetensors format: an 8-byte header length, a JSON header naming each
tensor's dtype, shape and byte range, then the raw little-endian data. No code in the file can
run on load. Reads and writes files from the `safetensors` package and for it, byte for byte.
"""
from __future__ import annotations

import json
import os
import struct

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor

_CODES = {D.float64: "F64", D.float32: "F32", D.float16: "F16", D.bfloat16: "BF16",
          D.int64: "I64", D.int32: "I32", D.int16: "I16", D.int8: "I8", D.uint8: "U8",
          D.uint16: "U16", D.uint32: "U32", D.uint64: "U64", D.bool: "BOOL", D.complex64: "C64"}
_DTYPES = {code: dt for dt, code in _CODES.items()}
_MAX_HEADER = 100_000_000


def save(tensors: dict, metadata: dict | None = None) -> bytes:
    """Serialize a {name: tensor} dict to safetensors bytes (names sorted, data aligned to 8)."""
    if not isinstance(tensors, dict):
        raise TypeError(f"safetensors save expects a dict of tensors, got {type(tensors)}")
    header: dict = {}
    chunks = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name]
        if not isinstance(t, Tensor):
            raise TypeError(f"safetensors: value for {name!r} is {type(t).__name__}, not a "
                            "Tensor")
        if t.dtype not in _CODES:
            raise TypeError(f"safetensors: dtype {t.dtype} of {name!r} is not supported")
        data = np.ascontiguousarray(t.numpy(force=True)).astype(
            t.dtype.np.newbyteorder("<")).tobytes()
        header[name] = {"dtype": _CODES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    if metadata is not None:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise ValueError("safetensors metadata must map str to str")
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((-len(text)) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def load(data: bytes) -> dict:
    """Deserialize safetensors bytes into a {name: tensor} dict (validating every range)."""
    tensors, _ = _parse(memoryview(data), "<bytes>")
    return tensors


def save_file(tensors: dict, filename, metadata: dict | None = None) -> None:
    """Write tensors to `filename` atomically (a temporary file replaces the target)."""
    from ..serialization import write_atomically
    payload = save(tensors, metadata)
    write_atomically(filename, lambda out: out.write(payload))


def load_file(filename, device="cpu") -> dict:
    """Read a .safetensors file into a {name: tensor} dict on `device`."""
    with open(filename, "rb") as fh:
        raw = fh.read()
    tensors, _ = _parse(memoryview(raw), os.fspath(filename))
    if str(device) != "cpu":
        tensors = {k: v.to(device) for k, v in tensors.items()}
    return tensors


def metadata(filename) -> dict:
    """The `__metadata__` strings stored in a safetensors file."""
    with open(filename, "rb") as fh:
        raw = fh.read()
    return _parse(memoryview(raw), os.fspath(filename))[1]


def _parse(buf: memoryview, where: str):
    def bad(reason):
        return ValueError(f"{where} is not a valid safetensors file: {reason}")

    if len(buf) < 8:
        raise bad("shorter than its 8-byte header length")
    (n,) = struct.unpack("<Q", buf[:8])
    if n > _MAX_HEADER or 8 + n > len(buf):
        raise bad(f"header length {n} exceeds the file")
    try:
        header = json.loads(bytes(buf[8:8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise bad(f"header is not JSON ({e})") from None
    if not isinstance(header, dict):
        raise bad("header is not a JSON object")
    meta = header.pop("__metadata__", None) or {}
    body = buf[8 + n:]
    tensors = {}
    for name, info in header.items():
        try:
            dtype = _DTYPES[info["dtype"]]
            shape = tuple(int(s) for s in info["shape"])
            begin, end = (int(v) for v in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise bad(f"entry {name!r} is malformed") from None
        count = int(np.prod(shape)) if shape else 1
        if min(shape, default=0) < 0 or not 0 <= begin <= end <= len(body) \
                or end - begin != count * dtype.itemsize:
            raise bad(f"entry {name!r} (shape {list(shape)}, {info['dtype']}) does not match "
                      f"its byte range [{begin}, {end})")
        arr = np.frombuffer(bytearray(body[begin:end]), dtype=dtype.np.newbyteorder("<"))
        tensors[name] = Tensor._wrap(arr.astype(dtype.np).reshape(shape), dtype,
                                     _cpu())
    return tensors, meta


def _cpu():
    from .._device import CPU
    return CPU
