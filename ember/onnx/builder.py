"""A small ONNX graph builder over `onnx.helper`: fresh names, the ember dtype of every name,
constants, and helpers for the ops whose form changed between opsets (axes as attribute or
input, Split's sizes)."""
from __future__ import annotations

import functools

import numpy as np
import onnx
from onnx import defs, helper, numpy_helper

from .. import _dtype as D
from ._types import elem_type
from .errors import Unsupported
from .lowering import OPSETS


class _Names:
    """Unique value names across a model and its subgraphs."""

    def __init__(self):
        self.taken: set[str] = set()
        self.counts: dict[str, int] = {}

    def claim(self, name: str) -> str:
        if name in self.taken:
            raise ValueError(f"ONNX name {name!r} is used twice")
        self.taken.add(name)
        return name

    def fresh(self, stem: str) -> str:
        k = self.counts.get(stem, 0)
        while f"{stem}_{k}" in self.taken:
            k += 1
        self.counts[stem] = k + 1
        return self.claim(f"{stem}_{k}")


class Builder:
    """Nodes and constants of one ONNX graph. `main` graphs keep constants as initializers;
    subgraphs (loop bodies) as Constant nodes. Subgraphs see the dtypes of outer names."""

    def __init__(self, opset: int, names: _Names | None = None, parent: "Builder | None" = None):
        self.opset = opset
        self.names = names if names is not None else _Names()
        self.parent = parent
        self.nodes: list = []
        self.initializers: list = []
        self.dtypes: dict[str, D.dtype] = {}
        self._consts: dict = {}

    # ---- names and dtypes ---------------------------------------------------------------
    def fresh(self, stem: str) -> str:
        return self.names.fresh(stem)

    def dtype(self, name: str) -> D.dtype:
        """The ember dtype of a value name (looked up in enclosing graphs too)."""
        b = self
        while b is not None:
            if name in b.dtypes:
                return b.dtypes[name]
            b = b.parent
        raise KeyError(f"no dtype recorded for ONNX value {name!r}")

    def subgraph(self) -> "Builder":
        return Builder(self.opset, self.names, self)

    def body(self, sub: "Builder", inputs, outputs, rank: int | None = None) -> onnx.GraphProto:
        """The graph of subgraph builder `sub` (a loop body): `inputs` are (name, dtype)
        pairs it declared, `outputs` names it computed; `rank` gives them all shapes of
        unknown sizes (onnxruntime's Scan before opset 16 needs the body outputs' shapes)."""
        shape = None if rank is None else [None] * rank
        return helper.make_graph(sub.nodes, self.fresh("body"),
                                 [value_info(n, dt, shape) for n, dt in inputs],
                                 [value_info(n, sub.dtype(n), shape) for n in outputs])

    def declare(self, stem: str, dtype: D.dtype) -> str:
        """A fresh name for a value defined outside `op` (a subgraph input)."""
        name = self.fresh(stem)
        self.dtypes[name] = dtype
        return name

    # ---- nodes --------------------------------------------------------------------------
    def op(self, op_type: str, inputs, outputs: int = 1, dtype=None, domain: str = "",
           **attrs):
        """Add a node; returns its output name (or the list of them when outputs > 1).
        `dtype` is the output dtype (a list for several outputs); by default that of the
        first input (of the second for Where)."""
        ins = ["" if i is None else i for i in inputs]
        while ins and ins[-1] == "":
            ins.pop()
        if op_type in ("LessOrEqual", "GreaterOrEqual") and self.opset < 12:
            # Or(Less, Equal) rather than Not(Greater): false against NaN, as the op is
            strict = self.op(op_type[:-7], ins, dtype=D.bool)
            return self.op("Or", [strict, self.op("Equal", ins, dtype=D.bool)], dtype=D.bool)
        if op_type == "Resize" and self.opset < 13:
            # roi and scales are required inputs before opset 13 (empty when unused)
            ins = ins + [""] * (3 - len(ins))
            ins[1:3] = [i or self.const(np.zeros(0, np.float32)) for i in ins[1:3]]
        if op_type == "Where" and self.dtype(ins[1]) is D.bool:
            # onnxruntime has no bool Where kernel: select bytes
            picked = self.op("Where", [ins[0], self.cast(ins[1], D.uint8),
                                       self.cast(ins[2], D.uint8)])
            return self.cast(picked, D.bool)
        outs = [self.fresh(op_type) for _ in range(outputs)]
        if dtype is None:
            dtype = self.dtype(ins[1] if op_type == "Where" else ins[0])
        dts = dtype if isinstance(dtype, (list, tuple)) else [dtype] * outputs
        for name, dt in zip(outs, dts):
            self.dtypes[name] = dt
        attrs = {k: v for k, v in attrs.items() if v is not None}
        if not domain:
            types = tuple(elem_type(self.dtype(i)) if i else None for i in ins)
            _check_schema(op_type, types, tuple(sorted(attrs)), self.opset)
        self.nodes.append(helper.make_node(op_type, ins, outs, domain=domain or None, **attrs))
        return outs[0] if outputs == 1 else outs

    def rename(self, name: str, target: str) -> str:
        """An Identity node giving `name` the graph-level name `target` (claimed beforehand,
        so that no value made in between takes it)."""
        self.nodes.append(helper.make_node("Identity", [name], [target]))
        self.dtypes[target] = self.dtype(name)
        return target

    def const(self, value, dtype: D.dtype | None = None, name: str | None = None,
              stem: str = "const") -> str:
        """A constant tensor (NumPy array or number) of `dtype` (default: the array's), named
        `name` or a fresh name from `stem`."""
        arr = np.asarray(value)
        dt = dtype or D.from_numpy_dtype(arr.dtype)
        arr = np.array(arr, dtype=dt.np, order="C")
        key = (dt.name, arr.shape, arr.tobytes()) if arr.size <= 64 and name is None else None
        if key is not None and key in self._consts:
            return self._consts[key]
        out = self.names.claim(name) if name else self.fresh(stem)
        tensor = _tensor_proto(arr, dt, out)
        if self.parent is None:
            self.initializers.append(tensor)
        else:
            self.nodes.append(helper.make_node("Constant", [], [out], value=tensor))
        self.dtypes[out] = dt
        if key is not None:
            self._consts[key] = out
        return out

    def scalar(self, value, dtype: D.dtype) -> str:
        """A 0-d constant."""
        return self.const(np.array(value, dtype=dtype.np if dtype is not D.bfloat16
                                   else np.float32), dtype)

    def ints(self, values) -> str:
        """A 1-d int64 constant."""
        return self.const(np.array(list(values), dtype=np.int64).reshape(-1), D.int64)

    def cast(self, name: str, dtype: D.dtype) -> str:
        if self.dtype(name) is dtype:
            return name
        return self.op("Cast", [name], dtype=dtype, to=elem_type(dtype))

    # ---- ops whose form depends on the opset -------------------------------------------------
    def reduce(self, op_type: str, x: str, axes, keepdims: bool, dtype=None) -> str:
        """Reduce over `axes` (a list of ints; None or [] means all axes). ReduceSum takes its
        axes as an input from opset 13, the other reductions from opset 18."""
        axes = None if axes is None or len(axes) == 0 else [int(a) for a in axes]
        if op_type == "ReduceSum" and self.opset >= 13 or self.opset >= 18:
            return self.op(op_type, [x, None if axes is None else self.ints(axes)],
                           dtype=dtype, keepdims=int(keepdims))
        return self.op(op_type, [x], dtype=dtype, axes=axes, keepdims=int(keepdims))

    def squeeze(self, x: str, axes) -> str:
        """Squeeze `axes` (an input from opset 13, an attribute before)."""
        return self._with_axes("Squeeze", x, axes) if len(axes) else x

    def unsqueeze(self, x: str, axes) -> str:
        return self._with_axes("Unsqueeze", x, axes) if len(axes) else x

    def _with_axes(self, op_type: str, x: str, axes) -> str:
        if self.opset >= 13:
            return self.op(op_type, [x, self.ints(axes)])
        return self.op(op_type, [x], axes=[int(a) for a in axes])

    def softmax(self, op_type: str, x: str, axis: int, ndim: int) -> str:
        """Softmax or LogSoftmax along `axis` of an `ndim`-d tensor: before opset 13 they
        flatten the dims from `axis` on, so another axis is moved last and back."""
        axis %= ndim
        if self.opset >= 13 or axis == ndim - 1:
            return self.op(op_type, [x], axis=axis)
        perm = list(range(ndim))
        perm[axis], perm[-1] = perm[-1], perm[axis]
        moved = self.op(op_type, [self.op("Transpose", [x], perm=perm)], axis=ndim - 1)
        return self.op("Transpose", [moved], perm=perm)

    def split(self, x: str, sizes, axis: int) -> list[str]:
        """Split along `axis` into pieces of the given (static) sizes."""
        if len(sizes) == 1:
            return [self.op("Identity", [x])]
        if self.opset >= 13:
            outs = self.op("Split", [x, self.ints(sizes)], outputs=len(sizes), axis=axis)
        else:
            outs = self.op("Split", [x], outputs=len(sizes), axis=axis,
                           split=[int(n) for n in sizes])
        return list(outs)

    def slice(self, x: str, starts, ends, axes, steps=None) -> str:
        """Slice with int lists or (for dynamic bounds) 1-d int64 tensor names."""
        def as_input(v):
            return v if isinstance(v, str) else self.ints(v)
        return self.op("Slice", [x, as_input(starts), as_input(ends), self.ints(axes),
                                 None if steps is None else self.ints(steps)])

    def shape(self, x: str, start: int | None = None, end: int | None = None) -> str:
        """Shape(x)[start:end] as a 1-d int64 tensor (Shape takes start/end from opset 15)."""
        if self.opset >= 15 or (start is None and end is None):
            return self.op("Shape", [x], dtype=D.int64, start=start, end=end)
        full = self.op("Shape", [x], dtype=D.int64)
        stop = np.iinfo(np.int64).max if end is None else end
        return self.slice(full, [start or 0], [stop], [0])

    def concat(self, parts, axis: int = 0) -> str:
        return parts[0] if len(parts) == 1 else self.op("Concat", list(parts), axis=axis)


@functools.lru_cache(maxsize=None)
def _check_schema(op_type: str, types: tuple, attrs: tuple, opset: int) -> None:
    """Refuse (Unsupported, naming the first opset that has it) an ONNX node that the
    default domain at `opset` lacks: the op itself, one of its attributes or inputs, or its
    inputs' element types (`types`, None for an omitted input)."""
    if _fits_schema(op_type, types, attrs, opset):
        return
    names = [onnx.TensorProto.DataType.Name(t).lower() for t in types if t is not None]
    what = f"ONNX {op_type} of {', '.join(names)}" + (
        f" with attributes {list(attrs)}" if attrs else "")
    later = [v for v in range(opset + 1, OPSETS[1] + 1) if _fits_schema(op_type, types, attrs, v)]
    if not later:
        raise Unsupported(f"{what} has no schema at opset {opset}")
    raise Unsupported(f"{what} needs opset {later[0]}", (later[0], OPSETS[1]))


def _fits_schema(op_type: str, types: tuple, attrs: tuple, opset: int) -> bool:
    try:
        schema = defs.get_schema(op_type, opset)
    except defs.SchemaError:
        return False
    if len(types) > schema.max_input or not all(a in schema.attributes for a in attrs):
        return False
    allowed = {c.type_param_str: set(c.allowed_type_strs) for c in schema.type_constraints}
    formal = schema.inputs
    for i, t in enumerate(types):
        if t is None or not formal:
            continue
        accepted = allowed.get(formal[min(i, len(formal) - 1)].type_str)
        if accepted is not None and \
                f"tensor({onnx.TensorProto.DataType.Name(t).lower()})" not in accepted:
            return False
    return True


def _tensor_proto(arr: np.ndarray, dt: D.dtype, name: str):
    if dt is D.bfloat16:
        bits = arr.view(np.uint16).astype(np.int32).reshape(-1)
        tensor = helper.make_tensor(name, onnx.TensorProto.BFLOAT16, arr.shape, bits.tolist())
        return tensor
    return numpy_helper.from_array(arr, name)


def value_info(name: str, dtype: D.dtype, shape) -> onnx.ValueInfoProto:
    """A graph input/output declaration; `shape` entries are ints, dim names or None."""
    return helper.make_tensor_value_info(name, elem_type(dtype), shape)
