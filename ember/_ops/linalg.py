"""Linear algebra: matmul and its relatives (mm, bmm, mv, addmm, einsum, tensordot, kron, ...),
vector and matrix norms, and the decompositions behind `ember.linalg` (det, inv, solve,
cholesky, qr, eigh, svd, pinv).

Primitives compute on raw arrays through `xp`; float16/bfloat16 inputs run in float32 (the
dispatcher's promotion) and are rounded back. Gradients of the decompositions are written in
ember ops, so they can be differentiated again. For complex inputs they follow torch's
convention (the gradient of a real loss L is dL/dRe + i dL/dIm): the non-holomorphic
factorizations (cholesky, qr, eigh, svd, pinv) use conjugate transposes where the real
formulas transpose.
"""
from __future__ import annotations

import math
import string
import warnings
from collections import namedtuple

import numpy as np

from .. import _dtype as D
from .._backend import gemm, namespace
from .._tensor import Tensor, _dim
from ..autograd.grad_mode import GradState
from ..testing.opinfo import FLOAT_ALL, FLOATS, INTS, Arg, Sample
from .creation import eye, ones_like, zeros
from .dispatch import (AutocastState, apply, apply_, autocast_inputs, broadcast_shape,
                       write_out)
from .pointwise import where
from .reduction import vector_norm as _vector_norm
from .registry import OpDef, composite, name_node, register, tensor_method
from .shape import cat

_LETTERS = string.ascii_uppercase + string.ascii_lowercase
_INF = float("inf")

# PyTorch's names for dtypes in its messages: C++ type names and ScalarType names.
_CPP_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half",
              "bfloat16": "c10::BFloat16", "int64": "long int", "int32": "int",
              "int16": "short int", "int8": "signed char", "uint8": "unsigned char",
              "bool": "bool", "complex64": "c10::complex<float>",
              "complex128": "c10::complex<double>"}
_SCALAR_NAMES = D.SCALAR_NAMES_BY_NAME


class LinAlgError(RuntimeError):
    """A factorization or inversion failed (a singular or not positive-definite input)."""


slogdet_result = namedtuple("slogdet", ["sign", "logabsdet"])
linalg_slogdet_result = namedtuple("linalg_slogdet", ["sign", "logabsdet"])
eigh_result = namedtuple("linalg_eigh", ["eigenvalues", "eigenvectors"])
eig_result = namedtuple("linalg_eig", ["eigenvalues", "eigenvectors"])
svd_result = namedtuple("linalg_svd", ["U", "S", "Vh"])
torch_svd_result = namedtuple("svd", ["U", "S", "V"])
qr_result = namedtuple("linalg_qr", ["Q", "R"])
cholesky_ex_result = namedtuple("linalg_cholesky_ex", ["L", "info"])
geqrf_result = namedtuple("geqrf", ["a", "tau"])
lstsq_result = namedtuple("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])


# ---- argument checks ----------------------------------------------------------------------
def _scalar_name(t: Tensor) -> str:
    return _SCALAR_NAMES[t._dtype.name]


def _check_tensor(op: str, name: str, pos: int, value) -> None:
    if not isinstance(value, Tensor):
        raise TypeError(f"{op}(): argument '{name}' (position {pos}) must be Tensor, not "
                        f"{type(value).__name__}")


def _autocast(*tensors) -> tuple:
    """Matrix-product operands as an open autocast region casts them: before the dtype checks,
    as torch casts first (see dispatch.autocast_inputs)."""
    return autocast_inputs("lower", tensors) if AutocastState.active else tensors


def _check_mm_dtypes(a: Tensor, b: Tensor) -> None:
    if a._dtype is not b._dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                           f"{_CPP_NAMES[a._dtype.name]} != {_CPP_NAMES[b._dtype.name]}")


def _check_float(op: str, t: Tensor, low_precision: bool = False) -> None:
    """Decompositions need floating (or complex) inputs; most do not run in half precision."""
    cat = t._dtype.category
    if cat < D._FLOAT:
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got "
                           f"{_scalar_name(t)}")
    if not low_precision and t._dtype in (D.float16, D.bfloat16):
        raise NotImplementedError(f"{op}: Low precision dtypes not supported. Got "
                                  f"{_scalar_name(t)}")


def _check_matrix(op: str, t: Tensor, square: bool = True, name: str = "A") -> None:
    _check_float(op, t)
    shape = t._data.shape
    if len(shape) < 2:
        raise RuntimeError(f"{op}: The input tensor {name} must have at least 2 dimensions.")
    if square and shape[-1] != shape[-2]:
        raise RuntimeError(f"{op}: {name} must be batches of square matrices, but they are "
                           f"{shape[-2]} by {shape[-1]} matrices")


def _check_expandable(shape: tuple, target: tuple) -> None:
    """`shape` must broadcast to exactly `target` (the `input` of addmm and friends)."""
    lead = len(target) - len(shape)
    ok = lead >= 0 and all(s in (1, t) for s, t in zip(shape, target[lead:]))
    if not ok:
        dim = next((i for i in reversed(range(len(shape))) if i + lead < 0 or shape[i] not in
                    (1, target[i + lead])), 0)
        got = target[dim + lead] if 0 <= dim + lead < len(target) else 1
        raise RuntimeError(f"The expanded size of the tensor ({got}) must match the existing "
                           f"size ({shape[dim]}) at non-singleton dimension {dim + max(lead, 0)}."
                           f"  Target sizes: {list(target)}.  Tensor sizes: {list(shape)}")


def _matmul_shape_error(sa: tuple, sb: tuple) -> str:
    """PyTorch's message for operands of matmul whose shapes do not fit."""
    if len(sa) == 1 and len(sb) == 1:
        return (f"inconsistent tensor size, expected tensor [{sa[0]}] and src [{sb[0]}] to "
                f"have the same number of elements, but got {sa[0]} and {sb[0]} elements "
                "respectively")
    if len(sb) == 1:
        rows = math.prod(sa[:-1])
        return f"size mismatch, got input ({rows}), mat ({rows}x{sa[-1]}), vec ({sb[0]})"
    if len(sb) == 2 and len(sa) != 2 or len(sa) == len(sb) == 2:
        rows = math.prod(sa[:-1])
        return (f"mat1 and mat2 shapes cannot be multiplied ({rows}x{sa[-1]} and "
                f"{sb[0]}x{sb[1]})")
    try:
        batch = math.prod(broadcast_shape(sa[:-2], sb[:-2]))
    except RuntimeError as e:
        return str(e)
    return (f"Expected size for first two dimensions of batch2 tensor to be: [{batch}, "
            f"{sa[-1]}] but got: [{batch}, {sb[-2]}].")


# ---- matmul -------------------------------------------------------------------------------
def _matmul(xp, a, b):
    """torch.matmul on raw arrays. A batch of matrices times one matrix is folded into a
    single GEMM when the batch is contiguous (NumPy would loop over the batch)."""
    if a.dtype.kind == "b":
        raise NotImplementedError("\"matmul\" not implemented for 'Bool'")
    if not a.ndim or not b.ndim:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{a.ndim}D and {b.ndim}D")
    if b.ndim == 2 and a.ndim > 2 and a.flags.c_contiguous:
        k = a.shape[-1]
        if k != b.shape[0]:
            raise RuntimeError(_matmul_shape_error(a.shape, b.shape))
        rows = math.prod(a.shape[:-1])
        return gemm.matmul(xp, a.reshape(rows, k), b).reshape(a.shape[:-1] + b.shape[1:])
    if a.ndim == 2 and b.ndim == 2 and a.shape[1] == b.shape[0]:
        return gemm.matmul(xp, a, b)
    try:
        return gemm.batched(xp, a, b)
    except ValueError:
        raise RuntimeError(_matmul_shape_error(a.shape, b.shape)) from None


def _mm(a: Tensor, b: Tensor) -> Tensor:
    """matmul without the public argument checks (for backward formulas and composites)."""
    return apply(Matmul, a, b)


def _is_transposed(m: Tensor) -> bool:
    """Whether a matrix is laid out column-major (the transpose of a row-major one)."""
    data = m._data
    return not data.flags.c_contiguous and data.flags.f_contiguous


def _matmul_grads(a, b, g, need_a, need_b, alpha=1):
    """Gradients of alpha * (a @ b) for every shape torch.matmul takes. 1-d operands get the
    dimension they had in the forward; broadcast batch dims are summed by the engine, except
    that (batch @ matrix) gives the matrix its gradient as one folded GEMM."""
    if alpha != 1:
        g = g * alpha
    if a.ndim == 1 and b.ndim == 1:
        return (g * b if need_a else None), (g * a if need_b else None)
    a2 = a.unsqueeze(0) if a.ndim == 1 else a
    b2 = b.unsqueeze(-1) if b.ndim == 1 else b
    if a.ndim == 1:
        g = g.unsqueeze(-2)
    if b.ndim == 1:
        g = g.unsqueeze(-1)
    ga = gb = None
    if need_a:
        ga = _mm(g, b2.mT)
        if a.ndim == 1:
            ga = ga.squeeze(-2)
    if need_b:
        if b2.ndim == 2 and a2.ndim > 2:
            rows = math.prod(a2.shape[:-1])
            a2, g2 = a2.reshape(rows, a2.shape[-1]), g.reshape(rows, g.shape[-1])
        else:
            g2 = g
        if b2.ndim == 2 and a2.ndim == 2 and _is_transposed(b2):
            # b is a transposed matrix (linear's weight.t()): build the gradient in the
            # layout of the matrix it came from, so it needs no transposing copy later.
            gb = _mm(g2.mT, a2).mT
        else:
            gb = _mm(a2.mT, g2)
        if b.ndim == 1:
            gb = gb.squeeze(-1)
    return ga, gb


_MM_DTYPES = FLOAT_ALL + INTS


_MATMUL_NODES = {(1, 1): "DotBackward0", (2, 1): "MvBackward0", (1, 2): "SqueezeBackward4",
                 (2, 2): "MmBackward0"}


def _matmul_node(args, attrs) -> str:
    """torch's node for matmul, which calls dot/mv/mm by the operands' ranks, copies a
    matrix times a batch, and folds or views batched products (_unsafe_view)."""
    ranks = (args[0]._data.ndim, args[1]._data.ndim)
    node = _MATMUL_NODES.get(ranks)
    if node is not None:
        return node
    return "CloneBackward0" if ranks[0] == 2 else "UnsafeViewBackward0"


def _matmul_kernel(x, y) -> str:
    """torch's kernel for matmul of these operands' ranks, named when it refuses uint16/32/64."""
    ranks = sorted((x.ndim, y.ndim))
    if ranks == [1, 1]:
        return "dot"
    if ranks[1] == 2:
        return "addmv_impl_cpu" if ranks[0] == 1 else "addmm_impl_cpu_"
    return "bmm"


@register("matmul", fresh=True, onnx="MatMul", autocast="lower", torch_node=_matmul_node,
          unsigned=_matmul_kernel, samples=(
    Sample(lambda t, x, y: t.matmul(x, y), (Arg((3, 4)), Arg((4, 5))), dtypes=_MM_DTYPES),
    Sample(lambda t, x, y: x @ y, (Arg((4,)), Arg((4,))), dtypes=FLOATS + INTS, name="1d_1d"),
    Sample(lambda t, x, y: x @ y, (Arg((3, 4)), Arg((4,))), name="2d_1d"),
    Sample(lambda t, x, y: x @ y, (Arg((4,)), Arg((4, 3))), name="1d_2d"),
    Sample(lambda t, x, y: x @ y, (Arg((2, 3, 4)), Arg((4, 5))), dtypes=_MM_DTYPES,
           name="3d_2d"),
    Sample(lambda t, x, y: x @ y, (Arg((3, 4)), Arg((2, 4, 5))), name="2d_3d"),
    Sample(lambda t, x, y: x @ y, (Arg((4,)), Arg((2, 4, 3))), name="1d_3d"),
    Sample(lambda t, x, y: x @ y, (Arg((2, 3, 4)), Arg((4,))), name="3d_1d"),
    Sample(lambda t, x, y: x @ y, (Arg((2, 1, 3, 4)), Arg((3, 4, 2))), name="broadcast"),
    Sample(lambda t, x, y: x @ y, (Arg((1, 3, 4)), Arg((2, 4, 2))), name="broadcast1"),
    Sample(lambda t, x, y: x.mT @ y.mT, (Arg((4, 3)), Arg((5, 4))), name="transposed"),
    Sample(lambda t, x, y: x.mT @ y, (Arg((2, 4, 3)), Arg((4, 2))), name="noncontig_fold"),
    Sample(lambda t, x, y: y.__rmatmul__(x), (Arg((2, 3)), Arg((3, 2))), name="rmatmul"),
    Sample(lambda t, x, y: x.matmul(y), (Arg((0, 3)), Arg((3, 2))), grad=False, name="empty"),
    Sample(lambda t, x, y: x @ y, (Arg((2, 0)), Arg((0, 3))), grad=False, name="empty_k")))
class Matmul(OpDef):
    blas = True
    gemm = True
    holomorphic = True
    check_dtypes = staticmethod(_check_mm_dtypes)

    def forward(ctx, xp, a, b):
        ctx.save(a, b)
        return _matmul(xp, a, b)

    def backward(ctx, g):
        a, b = ctx.saved
        need = ctx.needs_input_grad
        return _matmul_grads(a, b, g, need[0], need[1])


@tensor_method()
def matmul(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Matrix product with torch.matmul's rules: 1-d operands act as vectors, batch
    dimensions broadcast. Both operands must have the same dtype.

    >>> import ember
    >>> ember.matmul(ember.tensor([[1., 2.], [3., 4.]]), ember.tensor([1., 1.]))
    tensor([3., 7.])
    """
    _check_tensor("matmul", "input", 1, input)
    _check_tensor("matmul", "other", 2, other)
    input, other = _autocast(input, other)
    if input._dtype is not other._dtype:
        if input._data.ndim == 1 and other._data.ndim == 1:
            _check_dot_dtypes(input, other)
        _check_mm_dtypes(input, other)
    return write_out(apply(Matmul, input, other), out)


def _matmul_operator(self, other):
    if not isinstance(other, Tensor):
        return NotImplemented
    return matmul(self, other)


def _rmatmul_operator(self, other):
    if not isinstance(other, Tensor):
        return NotImplemented
    return matmul(other, self)


Tensor.__matmul__ = _matmul_operator
Tensor.__rmatmul__ = _rmatmul_operator


@composite(samples=(
    Sample(lambda t, x, y: t.mm(x, y), (Arg((3, 4)), Arg((4, 2))), dtypes=_MM_DTYPES),
    Sample(lambda t, x, y: x.mm(y.t()), (Arg((3, 4)), Arg((2, 4))), name="method")))
@tensor_method()
def mm(input: Tensor, mat2: Tensor, *, out=None) -> Tensor:
    """Product of two matrices (no broadcasting; see matmul)."""
    _check_tensor("mm", "input", 1, input)
    _check_tensor("mm", "mat2", 2, mat2)
    if input._data.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if mat2._data.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    input, mat2 = _autocast(input, mat2)
    _check_mm_dtypes(input, mat2)
    return write_out(apply(Matmul, input, mat2), out)


def _check_bmm(op: str, b1: Tensor, b2: Tensor) -> None:
    if b1._data.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if b2._data.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    s1, s2 = b1._data.shape, b2._data.shape
    if s1[0] != s2[0] or s1[2] != s2[1]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{s1[0]}, {s1[2]}] but got: [{s2[0]}, {s2[1]}].")
    if b1._dtype is not b2._dtype:
        raise RuntimeError(f"{op}: expected scalar type {_scalar_name(b1)} but found "
                           f"{_scalar_name(b2)}")


@composite(samples=(
    Sample(lambda t, x, y: t.bmm(x, y), (Arg((2, 3, 4)), Arg((2, 4, 2))), dtypes=_MM_DTYPES),
    Sample(lambda t, x, y: x.bmm(y), (Arg((3, 1, 4)), Arg((3, 4, 1))), name="method")))
@tensor_method()
def bmm(input: Tensor, mat2: Tensor, *, out=None) -> Tensor:
    """Batched product of two 3-d tensors with equal batch sizes (no broadcasting)."""
    _check_tensor("bmm", "input", 1, input)
    _check_tensor("bmm", "mat2", 2, mat2)
    input, mat2 = _autocast(input, mat2)
    _check_bmm("bmm", input, mat2)
    return write_out(name_node(apply(Matmul, input, mat2), "BmmBackward0"), out)


def _check_mv(op: str, mat: Tensor, vec: Tensor, rows_in=None) -> None:
    if mat._data.ndim != 2 or vec._data.ndim != 1:
        dims = ((f"{rows_in}, " if rows_in is not None else "1, ") +
                f"{mat._data.ndim}, {vec._data.ndim}")
        raise RuntimeError(f"vector + matrix @ vector expected, got {dims}")
    rows, cols = mat._data.shape
    if cols != vec._data.shape[0]:
        raise RuntimeError(f"size mismatch, got input ({rows}), mat ({rows}x{cols}), vec "
                           f"({vec._data.shape[0]})")


@composite(samples=(
    Sample(lambda t, x, y: t.mv(x, y), (Arg((3, 4)), Arg((4,))), dtypes=_MM_DTYPES),
    Sample(lambda t, x, y: x.t().mv(y), (Arg((4, 3)), Arg((4,))), name="method")))
@tensor_method()
def mv(input: Tensor, vec: Tensor, *, out=None) -> Tensor:
    """Matrix-vector product."""
    _check_tensor("mv", "input", 1, input)
    _check_tensor("mv", "vec", 2, vec)
    _check_mv("mv", input, vec)
    if input._dtype is not vec._dtype:
        raise RuntimeError(f"addmv input tensors must have the same dtype, but got "
                           f"{_scalar_name(input)}, {_scalar_name(input)}, and "
                           f"{_scalar_name(vec)}")
    return write_out(apply(Matmul, input, vec), out)


def _check_dot_dtypes(a: Tensor, b: Tensor) -> None:
    if a._dtype is not b._dtype:
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found "
                           f"{_scalar_name(a)} and {_scalar_name(b)}")


def _check_dot(op: str, a: Tensor, b: Tensor) -> None:
    _check_tensor(op, "input", 1, a)
    _check_tensor(op, "other", 2, b)
    if a._data.ndim != 1 or b._data.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {a._data.ndim}D and "
                           f"{b._data.ndim}D tensors")
    _check_dot_dtypes(a, b)
    if a._data.shape != b._data.shape:
        n, m = a._data.shape[0], b._data.shape[0]
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{n}] and src [{m}] to "
                           f"have the same number of elements, but got {n} and {m} elements "
                           "respectively")
    if a._dtype is D.bool:
        raise NotImplementedError(f"\"{op}\" not implemented for 'Bool'")


@composite(samples=(
    Sample(lambda t, x, y: t.dot(x, y), (Arg((4,)), Arg((4,))), dtypes=_MM_DTYPES),
    Sample(lambda t, x, y: x.dot(y), (Arg((0,)), Arg((0,))), grad=False, name="empty")))
@tensor_method()
def dot(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Inner product of two 1-d tensors of the same size and dtype."""
    _check_dot("dot", input, other)
    return write_out(apply(Matmul, input, other), out)


@composite(samples=(
    Sample(lambda t, x, y: t.vdot(x, y), (Arg((4,)), Arg((4,))), dtypes=FLOATS + INTS),))
@tensor_method()
def vdot(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """dot with the first argument conjugated (the same as dot for real tensors)."""
    _check_dot("vdot", input, other)
    if input.is_complex():
        input = input.conj()
    return write_out(apply(Matmul, input, other), out)


@composite(samples=(
    Sample(lambda t, x, y: t.outer(x, y), (Arg((3,)), Arg((4,))), dtypes=FLOATS + INTS),
    Sample(lambda t, x, y: x.ger(y), (Arg((2,)), Arg((3,)), ), name="ger"),
    Sample(lambda t, x, y: t.outer(x, y), (Arg((2,), dtype="int64", grad=False), Arg((3,))),
           name="promote")))
@tensor_method("outer", "ger")
def outer(input: Tensor, vec2: Tensor, *, out=None) -> Tensor:
    """Outer product of two vectors: out[i, j] = input[i] * vec2[j] (types promote)."""
    for pos, (name, t) in enumerate((("self", input), ("vec2", vec2))):
        _check_tensor("outer", name, pos + 1, t)
        if t._data.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got "
                               f"{t._data.ndim}-D")
    return write_out(input.unsqueeze(-1) * vec2, out)


ger = outer


@composite(samples=(
    Sample(lambda t, x, y: t.inner(x, y), (Arg((3, 4)), Arg((2, 4))), dtypes=FLOATS + INTS),
    Sample(lambda t, x, y: x.inner(y), (Arg((4,)), Arg((2, 3, 4))), name="1d"),
    Sample(lambda t, x, y: t.inner(x, y), (Arg(()), Arg((2, 3))), name="0d")))
@tensor_method()
def inner(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Sum over the last dimension of both tensors (a scalar operand multiplies)."""
    _check_tensor("inner", "input", 1, input)
    _check_tensor("inner", "other", 2, other)
    if not input._data.ndim or not other._data.ndim:
        return write_out(input * other, out)
    sa, sb = input._data.shape, other._data.shape
    if sa[-1] != sb[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but "
                           f"got shapes {list(sa)} and {list(sb)}")
    return write_out(tensordot(input, other, ([-1], [-1])), out)


def _tensordot_dims(dims, na: int, nb: int):
    """Normalize tensordot's `dims` (an int or a pair of sequences) to two lists of axes."""
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > min(na, nb):
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got "
                               f"dims={dims}")
        return list(range(na - dims, na)), list(range(dims)), list(range(-dims, 0))
    if len(dims) != 2:
        raise RuntimeError("tensordot expects dims to be an int or a pair of lists of dims")
    da, db = ([d] if isinstance(d, int) else list(d) for d in dims)
    if len(da) != len(db):
        raise RuntimeError("both dimension lists should have same length")
    return ([_dim(d, na, "tensordot") for d in da], [_dim(d, nb, "tensordot") for d in db],
            list(da))


@composite(samples=(
    Sample(lambda t, x, y: t.tensordot(x, y, 1), (Arg((2, 3)), Arg((3, 4))),
           dtypes=FLOATS + INTS),
    Sample(lambda t, x, y: t.tensordot(x, y, dims=([1, 0], [0, 2])),
           (Arg((3, 2, 4)), Arg((2, 5, 3))), name="lists"),
    Sample(lambda t, x, y: t.tensordot(x, y, dims=0), (Arg((2,)), Arg((3, 2))), name="outer"),
    Sample(lambda t, x, y: t.tensordot(x, y), (Arg((2, 3, 4)), Arg((3, 4, 2))),
           name="default")))
def tensordot(a: Tensor, b: Tensor, dims=2, out=None) -> Tensor:
    """Contract `dims` (the last n of a with the first n of b, or explicit axis lists)."""
    _check_tensor("tensordot", "a", 1, a)
    _check_tensor("tensordot", "b", 2, b)
    if a._dtype is not b._dtype:
        raise RuntimeError("both inputs should have same dtype")
    sa, sb = a._data.shape, b._data.shape
    da, db, shown = _tensordot_dims(dims, len(sa), len(sb))
    if len(set(da)) != len(da) or len(set(db)) != len(db):
        raise RuntimeError("tensordot(): a dimension appears more than once in dims")
    for i, j, k in zip(da, db, shown):
        if sa[i] != sb[j]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size "
                               f"{sa[i]} in dim {k} and second has size {sb[j]} in dim {j}")
    free_a = [i for i in range(len(sa)) if i not in da]
    free_b = [j for j in range(len(sb)) if j not in db]
    k = math.prod(sa[i] for i in da)
    left = a.permute(*free_a, *da).reshape(math.prod(sa[i] for i in free_a), k)
    right = b.permute(*db, *free_b).reshape(k, math.prod(sb[j] for j in free_b))
    result = _mm(left, right).reshape(*(sa[i] for i in free_a), *(sb[j] for j in free_b))
    return write_out(result, out)


# ---- addmm family ---------------------------------------------------------------------------
@register("addmm", fresh=True, holomorphic=True, autocast="lower", samples=(
    Sample(lambda t, c, x, y: t.addmm(c, x, y), (Arg((3, 2)), Arg((3, 4)), Arg((4, 2))),
           dtypes=_MM_DTYPES),
    Sample(lambda t, c, x, y: t.addmm(c, x, y, beta=0.5, alpha=-2),
           (Arg((2,)), Arg((3, 4)), Arg((4, 2))), dtypes=FLOATS + INTS, name="scaled"),
    Sample(lambda t, c, x, y: c.addmm(x, y, alpha=2.5, beta=1.5),
           (Arg((3, 2), -5, 5), Arg((3, 4), -5, 5), Arg((4, 2), -5, 5)), dtypes=INTS,
           grad=False, name="int_scalars"),
    Sample(lambda t, c, x, y: t.addmv(c, x, y, beta=2), (Arg((3,)), Arg((3, 4)), Arg((4,))),
           dtypes=_MM_DTYPES, name="addmv"),
    Sample(lambda t, c, x, y: c.addmv(x, y, alpha=0.5), (Arg(()), Arg((3, 4)), Arg((4,))),
           name="addmv_0d"),
    Sample(lambda t, c, x, y: t.baddbmm(c, x, y, beta=0.5, alpha=2),
           (Arg((1, 3, 2)), Arg((2, 3, 4)), Arg((2, 4, 2))), dtypes=_MM_DTYPES,
           name="baddbmm"),
    Sample(lambda t, c, x, y: c.addbmm(x, y, alpha=-1),
           (Arg((3, 2)), Arg((2, 3, 4)), Arg((2, 4, 2))), dtypes=_MM_DTYPES, name="addbmm")))
class Addmm(OpDef):
    """beta * input + alpha * (a @ b) in one pass (addmm, addmv, baddbmm, addbmm)."""

    blas = True
    gemm = True

    def forward(ctx, xp, input, a, b, beta=1, alpha=1):
        out = _matmul(xp, a, b)
        if out.dtype.kind in "iu":
            beta, alpha = int(beta), int(alpha)
        ctx.beta, ctx.alpha = beta, alpha
        ctx.save(a, b)
        if alpha != 1:
            out *= alpha
        if beta != 0:
            _check_expandable(input.shape, out.shape)
            out += input if beta == 1 else input * beta
        return out

    def backward(ctx, g):
        a, b = ctx.saved
        need = ctx.needs_input_grad
        gi = None
        if need[0] and ctx.beta != 0:
            gi = g if ctx.beta == 1 else g * ctx.beta
        ga, gb = _matmul_grads(a, b, g, need[1], need[2], ctx.alpha)
        return gi, ga, gb


def _check_add_dtypes(input: Tensor, mat: Tensor, mat2: Tensor) -> None:
    if input._dtype is not mat._dtype or input._dtype is not mat2._dtype:
        other = mat2 if input._dtype is not mat2._dtype else mat
        raise RuntimeError(f"self and mat2 must have the same dtype, but got "
                           f"{_scalar_name(input)} and {_scalar_name(other)}")


def _addmm_args(input, mat1, mat2):
    _check_tensor("addmm", "input", 1, input)
    _check_tensor("addmm", "mat1", 2, mat1)
    _check_tensor("addmm", "mat2", 3, mat2)
    for name, t in (("mat1", mat1), ("mat2", mat2)):
        if t._data.ndim != 2:
            raise RuntimeError(f"{name} must be a matrix, got {t._data.ndim}-D tensor")
    _check_mm_dtypes(mat1, mat2)
    _check_add_dtypes(input, mat1, mat2)
    s1, s2 = mat1._data.shape, mat2._data.shape
    if s1[1] != s2[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({s1[0]}x{s1[1]} and "
                           f"{s2[0]}x{s2[1]})")


@tensor_method()
def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1, out=None) -> Tensor:
    """beta * input + alpha * (mat1 @ mat2); with beta=0 `input` is ignored (even nan).

    >>> import ember
    >>> ember.addmm(ember.ones(2, 2), ember.eye(2), ember.eye(2), alpha=3)
    tensor([[4., 1.],
            [1., 4.]])
    """
    input, mat1, mat2 = _autocast(input, mat1, mat2)
    _addmm_args(input, mat1, mat2)
    return write_out(apply(Addmm, input, mat1, mat2, beta=beta, alpha=alpha), out)


def _addmm_inplace(self, mat1, mat2, *, beta=1, alpha=1):
    """In-place addmm: self = beta * self + alpha * (mat1 @ mat2)."""
    _addmm_args(self, mat1, mat2)
    return apply_(Addmm, self, mat1, mat2, beta=beta, alpha=alpha)


def _addmv_args(input, mat, vec):
    _check_tensor("addmv", "input", 1, input)
    _check_tensor("addmv", "mat", 2, mat)
    _check_tensor("addmv", "vec", 3, vec)
    _check_mv("addmv", mat, vec, rows_in=input._data.ndim)
    if not input._dtype is mat._dtype is vec._dtype:
        raise RuntimeError(f"addmv input tensors must have the same dtype, but got "
                           f"{_scalar_name(input)}, {_scalar_name(mat)}, and "
                           f"{_scalar_name(vec)}")


@tensor_method()
def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta=1, alpha=1, out=None) -> Tensor:
    """beta * input + alpha * (mat @ vec)."""
    _addmv_args(input, mat, vec)
    return write_out(apply(Addmm, input, mat, vec, beta=beta, alpha=alpha), out)


def _addmv_inplace(self, mat, vec, *, beta=1, alpha=1):
    """In-place addmv."""
    _addmv_args(self, mat, vec)
    return apply_(Addmm, self, mat, vec, beta=beta, alpha=alpha)


def _baddbmm_args(input, batch1, batch2):
    for i, (name, t) in enumerate((("input", input), ("batch1", batch1), ("batch2", batch2))):
        _check_tensor("baddbmm", name, i + 1, t)
    _check_bmm("baddbmm", batch1, batch2)
    _check_add_dtypes(input, batch1, batch2)


@tensor_method()
def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1,
            out=None) -> Tensor:
    """beta * input + alpha * bmm(batch1, batch2)."""
    input, batch1, batch2 = _autocast(input, batch1, batch2)
    _baddbmm_args(input, batch1, batch2)
    return write_out(apply(Addmm, input, batch1, batch2, beta=beta, alpha=alpha), out)


def _baddbmm_inplace(self, batch1, batch2, *, beta=1, alpha=1):
    """In-place baddbmm."""
    _baddbmm_args(self, batch1, batch2)
    return apply_(Addmm, self, batch1, batch2, beta=beta, alpha=alpha)


def _fold_batches(batch1: Tensor, batch2: Tensor):
    """sum_b batch1[b] @ batch2[b] as one product: (n, b*m) @ (b*m, p)."""
    b, n, m = batch1._data.shape
    return (batch1.permute(1, 0, 2).reshape(n, b * m),
            batch2.reshape(b * m, batch2._data.shape[2]))


@tensor_method()
def addbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1,
           out=None) -> Tensor:
    """beta * input + alpha * sum over the batch of batch1[i] @ batch2[i]."""
    input, batch1, batch2 = _autocast(input, batch1, batch2)
    _baddbmm_args(input, batch1, batch2)
    left, right = _fold_batches(batch1, batch2)
    return write_out(apply(Addmm, input, left, right, beta=beta, alpha=alpha), out)


def _addbmm_inplace(self, batch1, batch2, *, beta=1, alpha=1):
    """In-place addbmm."""
    _baddbmm_args(self, batch1, batch2)
    left, right = _fold_batches(batch1, batch2)
    return apply_(Addmm, self, left, right, beta=beta, alpha=alpha)


Tensor.addmm_ = _addmm_inplace
Tensor.addmv_ = _addmv_inplace
Tensor.baddbmm_ = _baddbmm_inplace
Tensor.addbmm_ = _addbmm_inplace


# ---- products built on matmul ---------------------------------------------------------------
@composite(samples=(
    Sample(lambda t, x, y: t.kron(x, y), (Arg((2, 3)), Arg((2, 2))), dtypes=FLOATS + INTS),
    Sample(lambda t, x, y: x.kron(y), (Arg((3,)), Arg((2, 2))), name="ranks"),
    Sample(lambda t, x, y: t.kron(x, y), (Arg((2,), dtype="int64", grad=False), Arg((3,))),
           name="promote")))
@tensor_method()
def kron(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Kronecker product: blocks input[i, j] * other (types promote like mul)."""
    _check_tensor("kron", "input", 1, input)
    _check_tensor("kron", "other", 2, other)
    nd = max(input._data.ndim, other._data.ndim)
    sa = (1,) * (nd - input._data.ndim) + input._data.shape
    sb = (1,) * (nd - other._data.ndim) + other._data.shape
    a = input.reshape(*(d for s in sa for d in (s, 1)))
    b = other.reshape(*(d for s in sb for d in (1, s)))
    return write_out((a * b).reshape(*(x * y for x, y in zip(sa, sb))), out)


@composite(samples=(
    Sample(lambda t, x: t.matrix_power(x, 3), (Arg((3, 3), -1, 1),), dtypes=FLOATS + INTS),
    Sample(lambda t, x: x.matrix_power(0), (Arg((2, 3, 3)),), grad=False, name="zero"),
    Sample(lambda t, x: t.linalg.matrix_power(x, 1), (Arg((3, 3)),), name="one"),
    Sample(lambda t, x: x.matrix_power(-2), (Arg((2, 3, 3), values=[
        [[2., 1., 0.], [0., 3., 1.], [1., 0., 2.]], [[1., .5, 0.], [0., 2., 0.], [0., 1., 4.]]]),),
        name="negative")))
@tensor_method()
def matrix_power(input: Tensor, n: int) -> Tensor:
    """input multiplied by itself n times (n = 0: identity; n < 0: powers of the inverse)."""
    _check_tensor("matrix_power", "input", 1, input)
    shape = input._data.shape
    if len(shape) < 2 or shape[-1] != shape[-2]:
        if len(shape) < 2:
            raise RuntimeError("linalg.matrix_power: The input tensor A must have at least 2 "
                               "dimensions.")
        raise RuntimeError(f"linalg.matrix_power: A must be batches of square matrices, but "
                           f"they are {shape[-2]} by {shape[-1]} matrices")
    n = int(n)
    if n == 0:
        return zeros(*shape, dtype=input._dtype, device=input._device) + eye(
            shape[-1], dtype=input._dtype, device=input._device)
    if n < 0:
        input, n = inv(input), -n
    result = None
    square = input
    while n:
        if n & 1:
            result = square if result is None else _mm(result, square)
        n >>= 1
        if n:
            square = _mm(square, square)
    return result


# Pade approximants of exp (numerator coefficients; the denominator's alternate in sign) and
# the 1-norms up to which each degree is accurate to double precision (Higham, 2005)
_PADE = {3: (120., 60., 12., 1.), 5: (30240., 15120., 3360., 420., 30., 1.),
         7: (17297280., 8648640., 1995840., 277200., 25200., 1512., 56., 1.),
         9: (17643225600., 8821612800., 2075673600., 302702400., 30270240., 2162160., 110880.,
             3960., 90., 1.),
         13: (64764752532480000., 32382376266240000., 7771770303897600., 1187353796428800.,
              129060195264000., 10559470521600., 670442572800., 33522128640., 1323241920.,
              40840800., 960960., 16380., 182., 1.)}
_PADE_THETA = ((3, 1.495585217958292e-2), (5, 2.539398330063230e-1),
               (7, 9.504178996162932e-1), (9, 2.097847961257068), (13, 5.371920351148152))


def _expm(xp, A):
    """exp of a batch of matrices by scaling and squaring a Pade approximant, in double
    precision: the degree (and the halvings) follow the largest 1-norm in the batch."""
    norm = float(xp.abs(A).sum(axis=-2).max()) if A.size else 0.0
    degree, halvings = next(((m, 0) for m, theta in _PADE_THETA if norm <= theta), (13, 0))
    if norm > _PADE_THETA[-1][1]:
        halvings = max(0, math.ceil(math.log2(norm / _PADE_THETA[-1][1])))
        A = A / 2.0 ** halvings
    b = _PADE[degree]
    ident = xp.broadcast_to(xp.eye(A.shape[-1], dtype=A.dtype), A.shape)
    A2 = A @ A
    if degree < 13:
        powers = [ident, A2]
        while len(powers) < (degree + 1) // 2:
            powers.append(powers[-1] @ A2)
        U = A @ sum(b[2 * k + 1] * P for k, P in enumerate(powers))
        V = sum(b[2 * k] * P for k, P in enumerate(powers))
    else:
        A4 = A2 @ A2
        A6 = A4 @ A2
        U = A @ (A6 @ (b[13] * A6 + b[11] * A4 + b[9] * A2) + b[7] * A6 + b[5] * A4
                 + b[3] * A2 + b[1] * ident)
        V = A6 @ (b[12] * A6 + b[10] * A4 + b[8] * A2) + b[6] * A6 + b[4] * A4 + b[2] * A2 \
            + b[0] * ident
    R = xp.linalg.solve(V - U, V + U)
    for _ in range(halvings):
        R = R @ R
    return R


@register("linalg_matrix_exp", promote=None, samples=(
    Sample(lambda t, x: t.linalg.matrix_exp(x), (Arg((3, 3)),)),
    Sample(lambda t, x: t.matrix_exp(x * 4), (Arg((2, 4, 4)),), rtol=1e-5, name="scaled"),
    Sample(lambda t, x: x.matrix_exp(), (Arg((2, 2), -0.01, 0.01),), name="small"),
    Sample(lambda t, x: t.linalg.matrix_exp(x), (Arg((0, 0)),), grad=False, name="empty")))
class LinalgMatrixExp(OpDef):
    """exp(A) = sum A^k / k!. Its gradient is the upper-right block of
    exp([[A^H, g], [0, A^H]]) (a matrix function's adjoint is its Frechet derivative at A^H),
    itself differentiable."""

    def forward(ctx, xp, A):
        ctx.save(A)
        wide = A.astype(np.complex128 if A.dtype.kind == "c" else np.float64)
        return _expm(xp, wide).astype(A.dtype, copy=False)

    def backward(ctx, g):
        (A,) = ctx.saved
        n = A.shape[-1]
        top = cat([A.mH, g], -1)
        bottom = cat([zeros(*g.shape, dtype=g._dtype, device=g._device), A.mH], -1)
        return apply(LinalgMatrixExp, cat([top, bottom], -2))[..., :n, n:]


@tensor_method()
def matrix_exp(A: Tensor) -> Tensor:
    """The matrix exponential of a square matrix (or of each in a batch)."""
    op = "linalg.matrix_exp"
    _check_tensor(op, "A", 1, A)
    shape = A._data.shape
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise RuntimeError(f"{op}: A must be batches of square matrices, but they are "
                           f"{shape[-2] if len(shape) > 1 else 1} by {shape[-1] if shape else 1}"
                           " matrices")
    if A._dtype.category < D._FLOAT:
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got "
                           f"{_scalar_name(A)}")
    return apply(LinalgMatrixExp, A)


def _chain_order(dims: list) -> list:
    """Optimal parenthesization of a matrix chain (classic O(n^3) dynamic programming):
    split[i][j] is where the product of matrices i..j is cut."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = math.inf
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


@composite(name="linalg_multi_dot", samples=(
    Sample(lambda t, x, y, z: t.linalg.multi_dot([x, y, z]),
           (Arg((2, 4)), Arg((4, 3)), Arg((3, 1))), dtypes=FLOATS + INTS),
    Sample(lambda t, x, y, z: t.linalg.multi_dot([x, y, z]), (Arg((4,)), Arg((4, 3)), Arg((3,))),
           name="vectors"),
    Sample(lambda t, x, y: t.linalg.multi_dot((x, y)), (Arg((3,)), Arg((3,))), name="two"),
    Sample(lambda t, w, x, y, z: t.linalg.multi_dot([w, x, y, z]),
           (Arg((4, 1)), Arg((1, 4)), Arg((4, 2)), Arg((2, 3))), name="order")))
def multi_dot(tensors, *, out=None) -> Tensor:
    """Product of a chain of matrices, multiplied in the cheapest order; the first and the
    last may be vectors."""
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    last = len(tensors) - 1
    for i, t in enumerate(tensors):
        _check_tensor("multi_dot", f"tensors[{i}]", 1, t)
        nd = t._data.ndim
        if i in (0, last) and nd not in (1, 2):
            which = "first" if i == 0 else "last"
            raise RuntimeError(f"multi_dot(): the {which} tensor must be 1D or 2D but got "
                               f"{nd}D")
        if 0 < i < last and nd != 2:
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {nd}D")
        if t._dtype is not tensors[0]._dtype:
            raise RuntimeError(f"multi_dot(): all tensors must have the same dtype but tensor "
                               f"0 is {_CPP_NAMES[tensors[0]._dtype.name]} and tensor {i} "
                               f"{_CPP_NAMES[t._dtype.name]}")
    row_vec, col_vec = tensors[0]._data.ndim == 1, tensors[last]._data.ndim == 1
    mats = list(tensors)
    if row_vec:
        mats[0] = mats[0].unsqueeze(0)
    if col_vec:
        mats[last] = mats[last].unsqueeze(-1)
    for i in range(last):
        sa, sb = mats[i]._data.shape, mats[i + 1]._data.shape
        if sa[1] != sb[0]:
            raise RuntimeError(f"multi_dot(): tensors {i} and {i + 1} with shapes "
                               f"{list(tensors[i].shape)} and {list(tensors[i + 1].shape)} "
                               "cannot be multiplied")
    split = _chain_order([m._data.shape[0] for m in mats] + [mats[last]._data.shape[1]])

    def product(i, j):
        if i == j:
            return mats[i]
        k = split[i][j]
        return _mm(product(i, k), product(k + 1, j))

    result = product(0, last)
    if row_vec:
        result = result.squeeze(0)
    if col_vec:
        result = result.squeeze(-1)
    return write_out(result, out)


@composite(samples=(
    Sample(lambda t, x, y, z: t.chain_matmul(x, y, z), (Arg((2, 3)), Arg((3, 4)), Arg((4, 2)))),))
def chain_matmul(*matrices, out=None) -> Tensor:
    """Deprecated: the product of 2-d matrices; use ember.linalg.multi_dot."""
    warnings.warn("torch.chain_matmul is deprecated; use torch.linalg.multi_dot instead",
                  UserWarning, stacklevel=2)
    for i, m in enumerate(matrices):
        _check_tensor("chain_matmul", f"matrices[{i}]", i + 1, m)
        if m._data.ndim != 2:
            raise RuntimeError(f"Tensor dimension is {m._data.ndim}, expected 2 instead.")
    if len(matrices) == 1:
        return write_out(matrices[0], out)
    return multi_dot(matrices, out=out)


# ---- einsum -------------------------------------------------------------------------------
def _einsum_parse(equation: str, shapes: list) -> tuple:
    """Check an einsum equation against the operand shapes, like torch, and return the
    explicit form (no ellipsis, output spelled out) as (input terms, output term)."""
    eq = equation.replace(" ", "")
    for i, c in enumerate(eq):
        if c not in _LETTERS and c not in ",.->":
            raise RuntimeError(f"einsum(): invalid subscript given at index {i} in the equation "
                               f"string, subscripts must be in [a-zA-Z]")
    lhs, arrow, rhs = eq.partition("->")
    if "->" in rhs or "-" in lhs or ">" in lhs or "-" in rhs or ">" in rhs:
        raise RuntimeError("einsum(): invalid '->' in the equation")
    terms = lhs.split(",")
    if len(terms) > len(shapes):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the "
                           "equation")
    if len(terms) < len(shapes):
        raise RuntimeError("einsum(): more operands were provided than specified in the "
                           "equation")
    free = [c for c in _LETTERS if c not in eq]
    spans = []
    for k, (term, shape) in enumerate(zip(terms, shapes)):
        head, dots, tail = term.partition("...")
        if "." in head or "." in tail:
            raise RuntimeError(f"einsum(): found '.' for operand {k} that is not part of any "
                               "ellipsis")
        named = len(head) + len(tail)
        if dots:
            if named > len(shape):
                raise RuntimeError(f"einsum(): the number of subscripts in the equation "
                                   f"({named}) is more than the number of dimensions "
                                   f"({len(shape)}) for operand {k}")
            spans.append((head, len(shape) - named, tail))
        else:
            if named != len(shape):
                raise RuntimeError(f"einsum(): the number of subscripts in the equation "
                                   f"({named}) does not match the number of dimensions "
                                   f"({len(shape)}) for operand {k} and no ellipsis was given")
            spans.append((head, 0, ""))
    n_ell = max((n for _, n, _ in spans), default=0)
    if n_ell > len(free):
        raise RuntimeError("einsum(): the ellipsis covers more dimensions than there are free "
                           "subscript letters")
    ell = "".join(free[:n_ell])
    inputs = [head + ell[n_ell - n:] + tail for head, n, tail in spans]
    if arrow:
        head, dots, tail = rhs.partition("...")
        if "." in head or "." in tail:
            raise RuntimeError("einsum(): found '.' for output that is not part of any ellipsis")
        output = head + (ell if dots else "") + tail
        seen = set("".join(inputs))
        for c in output:
            if c not in seen:
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the "
                                   "equation for any input operand")
            if output.count(c) > 1:
                raise RuntimeError(f"einsum(): output subscript {c} appears more than once in "
                                   "the output")
    else:
        named = "".join(h + t for h, _, t in spans)
        output = ell + "".join(sorted(c for c in set(named) if named.count(c) == 1))
    sizes = {}
    for k, (term, shape) in enumerate(zip(inputs, shapes)):
        own = {}
        for c, s in zip(term, shape):
            if c in own and own[c] != s:
                raise RuntimeError(f"einsum(): subscript {c} is repeated for operand {k} but the "
                                   f"sizes don't match, {s} != {own[c]}")
            own[c] = s
        for c, s in own.items():
            prev = sizes.get(c)
            if prev is None or prev == 1:
                sizes[c] = s
            elif s not in (1, prev):
                raise RuntimeError(f"einsum(): subscript {c} has size {s} for operand {k} which "
                                   f"does not broadcast with previously seen size {prev}")
    return inputs, output


def _sublist_equation(args: tuple) -> tuple:
    """einsum(op0, sublist0, op1, sublist1, ..., [out_sublist]) -> (equation, operands)."""
    def letters(sub):
        out = []
        for v in sub:
            if v is Ellipsis:
                out.append("...")
            elif isinstance(v, int) and 0 <= v < len(_LETTERS):
                out.append(_LETTERS[v])
            else:
                raise RuntimeError(f"einsum(): expected subscript to be within the range [0, 52) "
                                   f"but got {v}")
        return "".join(out)

    operands = args[0::2]
    subs = args[1::2]
    eq = ",".join(letters(s) for s in subs)
    if len(args) % 2:
        operands, out_sub = operands[:-1], operands[-1]
        eq += "->" + letters(out_sub)
    return eq, operands


# How einsum plans the order of its contractions (set through ember.backends.opt_einsum):
# NumPy's einsum_path does the planning that torch leaves to the opt_einsum package.
einsum_planning = {"enabled": True, "strategy": "auto"}


def _einsum_optimize(arrays) -> bool | str:
    """NumPy's `optimize` argument: plan a contraction (BLAS, pairwise order) with the chosen
    strategy; 'auto' plans greedily when that pays for its overhead."""
    if not einsum_planning["enabled"] or len(arrays) < 2:
        return False
    if einsum_planning["strategy"] == "auto":
        return max(a.size for a in arrays) > 256
    return einsum_planning["strategy"]


@register("einsum", holomorphic=True, autocast="lower", samples=(
    Sample(lambda t, x, y: t.einsum("ij,jk->ik", x, y), (Arg((2, 3)), Arg((3, 4))),
           dtypes=FLOAT_ALL + INTS),
    Sample(lambda t, x, y: t.einsum("bij,bjk", x, y), (Arg((2, 3, 4)), Arg((2, 4, 2))),
           name="implicit"),
    Sample(lambda t, x: t.einsum("ii", x), (Arg((3, 3)),), dtypes=FLOATS + INTS, name="trace"),
    Sample(lambda t, x: t.einsum("ii->i", x), (Arg((3, 3)),), name="diag"),
    Sample(lambda t, x: t.einsum("ij->ji", x), (Arg((3, 4)),), name="transpose"),
    Sample(lambda t, x: t.einsum("ij->", x), (Arg((3, 4)),), name="sum"),
    Sample(lambda t, x, y: t.einsum("i,j->ij", x, y), (Arg((3,)), Arg((4,))), name="outer"),
    Sample(lambda t, x, y: t.einsum("...ij,...jk->...ik", x, y),
           (Arg((2, 1, 3, 4)), Arg((3, 4, 2))), name="ellipsis"),
    Sample(lambda t, x, y: t.einsum("b...i,b...i->b...", x, y),
           (Arg((2, 3, 4)), Arg((2, 1, 4))), name="ellipsis_mid"),
    Sample(lambda t, x, y: t.einsum("ij,jk", x, y), (Arg((2, 1)), Arg((3, 4))),
           name="broadcast1"),
    Sample(lambda t, x, y, z: t.einsum("ij,jk,kl->il", x, y, z),
           (Arg((2, 3)), Arg((3, 4)), Arg((4, 2))), name="three"),
    Sample(lambda t, x, y: t.einsum("iij,jk->ik", x, y), (Arg((3, 3, 2)), Arg((2, 4))),
           name="repeat_sum"),
    Sample(lambda t, x: t.einsum("ijk->k", x), (Arg((2, 3, 4)),), name="reduce_only"),
    Sample(lambda t, x, y: t.einsum(x, [0, Ellipsis, 1], y, [1, 2], [Ellipsis, 0, 2]),
           (Arg((2, 3, 4)), Arg((4, 2))), name="sublist"),
    Sample(lambda t, x, y: t.einsum("i j , j -> i", [x, y]), (Arg((3, 4)), Arg((4,))),
           name="list_spaces"),
    Sample(lambda t, x, y: t.einsum("ij,kl", x, y), (Arg((2, 2)), Arg((2, 2))), name="outer2d"),
    Sample(lambda t, x, y: t.einsum("bik,bkj->bij", x, y), (Arg((4, 5, 5)), Arg((4, 5, 5))),
           name="optimized")))
class Einsum(OpDef):
    """Einstein summation on an explicit equation (the public wrapper resolves ellipsis,
    implicit output and sublists); the gradient of each operand is another einsum."""

    blas = True

    def forward(ctx, xp, *operands, equation):
        if operands and operands[0].dtype.kind == "b":
            raise NotImplementedError("\"einsum\" not implemented for 'Bool'")
        ctx.equation = equation
        ctx.shapes = tuple(o.shape for o in operands)
        ctx.save(*operands)
        out = xp.einsum(equation, *operands, optimize=_einsum_optimize(operands))
        if len(operands) == 1 and xp.may_share_memory(out, operands[0]):
            out = out.copy()
        dtype = operands[0].dtype if operands else out.dtype
        if dtype.kind in "iu" and _sums_within_operand(equation):
            dtype = np.dtype(np.int64)
        return out if out.dtype == dtype else out.astype(dtype)

    def backward(ctx, g):
        operands = ctx.saved
        lhs, output = ctx.equation.split("->")
        terms = lhs.split(",")
        return tuple(_einsum_grad(i, terms, output, operands, g, ctx.shapes[i]) if need
                     else None for i, need in enumerate(ctx.needs_input_grad))


def _sums_within_operand(equation: str) -> bool:
    """Whether some letter is summed inside one operand alone: torch reduces it with sum
    first, which gives integer inputs an int64 result."""
    lhs, output = equation.split("->")
    terms = lhs.split(",")
    for i, term in enumerate(terms):
        elsewhere = set(output).union(*(t for j, t in enumerate(terms) if j != i))
        if any(c not in elsewhere for c in term):
            return True
    return False


def _einsum_grad(i, terms, output, operands, g, shape):
    """d(einsum)/d(operand i): contract the output gradient with the other operands; letters
    only operand i has are broadcast back, repeated letters put back on the diagonal."""
    target = terms[i]
    unique = "".join(dict.fromkeys(target))
    others = [t for j, t in enumerate(terms) if j != i]
    avail = set(output).union(*others)
    keep = "".join(c for c in unique if c in avail)
    rest = [o for j, o in enumerate(operands) if j != i]
    grad = apply(Einsum, g, *rest, equation=",".join([output] + others) + "->" + keep)
    size = dict(zip(target, shape))
    for pos, c in enumerate(unique):
        if c not in avail:
            grad = grad.unsqueeze(pos)
    want = tuple(max(size[c], n) for c, n in zip(unique, grad._data.shape))
    if want != grad._data.shape:
        grad = grad.expand(*want)
    if len(unique) == len(target):
        return grad
    fresh = iter(c for c in _LETTERS if c not in "".join(terms) + output)
    seen, spec, pairs = set(), [], []
    for c in target:
        if c in seen:
            f = next(fresh)
            spec.append(f)
            pairs.append(c + f)
        else:
            seen.add(c)
            spec.append(c)
    eyes = [eye(size[p[0]], dtype=grad._dtype, device=grad._device) for p in pairs]
    return apply(Einsum, grad, *eyes, equation=",".join([unique] + pairs) + "->" + "".join(spec))


def einsum(*args) -> Tensor:
    """Einstein summation: `einsum("ij,jk->ik", a, b)`, with `...` for broadcast dimensions,
    an implicit output (letters seen once, sorted), or the sublist form
    `einsum(a, [0, 1], b, [1, 2], [0, 2])`. All operands must share one dtype.

    >>> import ember
    >>> ember.einsum("ii", ember.tensor([[1., 2.], [3., 4.]]))
    tensor(5.)
    """
    if not args:
        raise TypeError("einsum(): must specify the equation string and at least one operand, "
                        "or at least one operand and its subscripts list")
    if isinstance(args[0], str):
        equation, operands = args[0], args[1:]
        if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
            operands = tuple(operands[0])
    else:
        equation, operands = _sublist_equation(args)
    for k, o in enumerate(operands):
        _check_tensor("einsum", f"operands[{k}]", k + 2, o)
        if o._dtype is not operands[0]._dtype:
            raise RuntimeError(f"einsum(): expected scalar type {_scalar_name(operands[0])} "
                               f"but found {_scalar_name(o)} (operand {k})")
    inputs, output = _einsum_parse(equation, [o._data.shape for o in operands])
    return apply(Einsum, *operands, equation=",".join(inputs) + "->" + output)


# ---- cross --------------------------------------------------------------------------------
@register("linalg_cross", holomorphic=True, samples=(
    Sample(lambda t, x, y: t.linalg.cross(x, y), (Arg((2, 3)), Arg((2, 3))),
           dtypes=FLOATS + INTS),
    Sample(lambda t, x, y: t.cross(x, y, dim=0), (Arg((3, 2)), Arg((3, 1))), name="dim"),
    Sample(lambda t, x, y: t.linalg.cross(x, y), (Arg((4, 1, 3)), Arg((1, 2, 3))),
           name="broadcast", dtypes=FLOATS),
    Sample(lambda t, x, y: x.cross(y), (Arg((2, 3)), Arg((2, 3))), name="method")))
class LinalgCross(OpDef):
    def forward(ctx, xp, a, b, dim):
        ctx.dim = dim
        ctx.save(a, b)
        return xp.cross(a, b, axis=dim)

    def backward(ctx, g):
        a, b = ctx.saved
        need = ctx.needs_input_grad
        return (apply(LinalgCross, b, g, dim=ctx.dim) if need[0] else None,
                apply(LinalgCross, g, a, dim=ctx.dim) if need[1] else None)


def linalg_cross(input: Tensor, other: Tensor, *, dim: int = -1, out=None) -> Tensor:
    """Cross product of 3-vectors along `dim` (other dimensions broadcast)."""
    _check_tensor("linalg.cross", "input", 1, input)
    _check_tensor("linalg.cross", "other", 2, other)
    sa, sb = input._data.shape, other._data.shape
    if len(sa) != len(sb):
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    d = _dim(dim, len(sa), "linalg.cross")
    if sa[d] != 3 or sb[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got "
                           f"{sa[d]} and {sb[d]}")
    if input._dtype is not other._dtype:
        raise RuntimeError(f"linalg.cross: expected scalar type {_scalar_name(input)} but "
                           f"found {_scalar_name(other)}")
    return write_out(apply(LinalgCross, input, other, dim=d - len(sa)), out)


@tensor_method()
def cross(input: Tensor, other: Tensor, dim: int | None = None, *, out=None) -> Tensor:
    """Cross product along `dim`; without `dim`, the first dimension of size 3 (deprecated:
    pass dim, or use ember.linalg.cross whose default is the last dimension)."""
    if dim is None:
        _check_tensor("cross", "input", 1, input)
        _check_tensor("cross", "other", 2, other)
        shape = np.broadcast_shapes(input._data.shape, other._data.shape)
        dim = next((i for i, s in enumerate(shape) if s == 3), None)
        if dim is None:
            raise RuntimeError(f"no dimension of size 3 in input (shape {list(shape)})")
        warnings.warn("Using torch.cross without specifying the dim arg is deprecated. Please "
                      "either pass the dim explicitly or simply use torch.linalg.cross.",
                      UserWarning, stacklevel=2)
    return linalg_cross(input, other, dim=dim, out=out)


# ---- norms --------------------------------------------------------------------------------
def vector_norm(x: Tensor, ord=2, dim=None, keepdim: bool = False, *, dtype=None,
                out=None) -> Tensor:
    """The ord-norm of `x` viewed as a vector (over `dim`, or all elements): sum |x|^ord ^
    (1/ord); inf/-inf give max/min |x|, 0 counts nonzeros.

    >>> import ember
    >>> ember.linalg.vector_norm(ember.tensor([3., 4.]))
    tensor(5.)
    """
    _check_tensor("linalg.vector_norm", "input", 1, x)
    return _vector_norm(x, ord, dim, keepdim, dtype=dtype, out=out)


def _keep_or_drop(t: Tensor, dims: tuple, keepdim: bool) -> Tensor:
    return t if keepdim else t.squeeze(dims)


_MATRIX_ORDS = ("fro", "nuc", 1, -1, 2, -2, _INF, -_INF)


def matrix_norm(A: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype=None,
                out=None) -> Tensor:
    """A matrix norm over the two dimensions `dim`: 'fro', 'nuc' (sum of singular values),
    2/-2 (largest/smallest singular value), 1/-1 (max/min column sum of |A|), inf/-inf (row
    sums)."""
    op = "linalg.matrix_norm"
    _check_tensor(op, "A", 1, A)
    _check_float(op, A, low_precision=True)
    if A._data.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    if not isinstance(dim, (tuple, list)) or len(dim) != 2:
        raise RuntimeError(f"{op}: dim must be a 2-tuple. Got {dim}")
    if ord not in _MATRIX_ORDS:
        raise RuntimeError(f"{op}: Order {ord} not supported.")
    if dtype is not None:
        A = A.to(D.to_dtype(dtype))
    nd = A._data.ndim
    d0, d1 = (_dim(d, nd, op) for d in dim)
    if d0 == d1:
        raise RuntimeError(f"{op}: dims must be different. Got ({dim[0]}, {dim[1]})")
    kept = tuple(sorted((d0, d1)))
    if ord == "fro":
        return write_out(vector_norm(A, 2, kept, keepdim), out)
    if ord in ("nuc", 2, -2):
        if A._dtype in (D.float16, D.bfloat16):
            raise NotImplementedError(f"\"linalg_svd_cpu\" not implemented for "
                                      f"'{_scalar_name(A)}'")
        rest = [i for i in range(nd) if i not in kept]
        s = linalg_svdvals(A.permute(*rest, d0, d1))
        if ord == "nuc":
            result = s.sum(-1)
        else:
            result = vector_norm(s, _INF if ord == 2 else -_INF, -1)
        if keepdim:
            result = result.unsqueeze(kept[0]).unsqueeze(kept[1])
        return write_out(result, out)
    sum_dim, pick_dim = (d0, d1) if ord in (1, -1) else (d1, d0)
    sums = A.abs().sum(sum_dim, keepdim=True)
    result = vector_norm(sums, _INF if ord > 0 else -_INF, pick_dim, keepdim=True)
    return write_out(_keep_or_drop(result, kept, keepdim), out)


def norm(A: Tensor, ord=None, dim=None, keepdim: bool = False, *, dtype=None,
         out=None) -> Tensor:
    """A vector norm (dim an int, or ord None over all elements) or a matrix norm (dim a
    2-tuple, or a 2-d input with ord given)."""
    op = "linalg.norm"
    _check_tensor(op, "A", 1, A)
    if dim is None:
        if ord is None:
            return vector_norm(A, 2, None, keepdim, dtype=dtype, out=out)
        if A._data.ndim not in (1, 2):
            raise RuntimeError(f"{op}: If dim is not specified but ord is, the input must be "
                               f"1D or 2D. Got {A._data.ndim}D.")
        dim = tuple(range(A._data.ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    if isinstance(ord, str) or len(dims) == 2:
        return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim, dtype=dtype, out=out)
    if len(dims) != 1:
        raise RuntimeError(f"{op}: If dim is specified, it must be of length 1 or 2. Got "
                           f"{list(dims)}")
    return vector_norm(A, 2 if ord is None else ord, dims, keepdim, dtype=dtype, out=out)


composite("linalg_matrix_norm", samples=(
    Sample(lambda t, x: t.linalg.matrix_norm(x), (Arg((3, 4)),), dtypes=FLOAT_ALL),
    Sample(lambda t, x: t.linalg.matrix_norm(x, "nuc"), (Arg((2, 3, 4)),), name="nuc"),
    Sample(lambda t, x: t.linalg.matrix_norm(x, 2, dim=(0, 2)), (Arg((3, 2, 4)),), name="two"),
    Sample(lambda t, x: t.linalg.matrix_norm(x, -2, keepdim=True), (Arg((3, 4)),),
           name="minus_two"),
    Sample(lambda t, x: t.linalg.matrix_norm(x, 1), (Arg((2, 3, 4)),), name="one"),
    Sample(lambda t, x: t.linalg.matrix_norm(x, -1, dim=(2, 0)), (Arg((3, 2, 4)),),
           name="minus_one"),
    Sample(lambda t, x: t.linalg.matrix_norm(x, float("inf"), keepdim=True), (Arg((3, 4)),),
           name="inf"),
    Sample(lambda t, x: t.linalg.matrix_norm(x, -float("inf")), (Arg((3, 4)),), name="-inf"),
    ))(matrix_norm)
composite("linalg_norm", samples=(
    Sample(lambda t, x: t.linalg.norm(x), (Arg((2, 3, 4)),)),
    Sample(lambda t, x: t.linalg.norm(x, dim=1), (Arg((3, 4)),), name="dim"),
    Sample(lambda t, x: t.linalg.norm(x, 3), (Arg((4,)),), name="vector_ord"),
    Sample(lambda t, x: t.linalg.norm(x, "nuc"), (Arg((3, 4)),), name="matrix_ord"),
    Sample(lambda t, x: t.linalg.norm(x, float("inf"), dim=(0, 1), keepdim=True),
           (Arg((3, 4, 2)),), name="dims")))(norm)


# ---- determinants and inverses -------------------------------------------------------------
def _inv_transposed(A: Tensor) -> Tensor:
    return apply(LinalgInv, A).mT


@register("linalg_det", promote=None, holomorphic=True, samples=(
    Sample(lambda t, x: t.linalg.det(x), (Arg((3, 3)),)),
    Sample(lambda t, x: t.det(x), (Arg((2, 2, 2)),), name="batched"),
    Sample(lambda t, x: x.det(), (Arg((1, 1)),), name="method")))
class LinalgDet(OpDef):
    def forward(ctx, xp, A):
        out = xp.linalg.det(A)
        ctx.save(A, out)
        return out

    def backward(ctx, g):
        A, det = ctx.saved
        return (g * det).unsqueeze(-1).unsqueeze(-1) * _inv_transposed(A)


@tensor_method()
def det(A: Tensor, *, out=None) -> Tensor:
    """Determinant of a square matrix (or of each in a batch)."""
    _check_tensor("linalg.det", "A", 1, A)
    if A._dtype in (D.float16, D.bfloat16):
        raise NotImplementedError(f"\"lu_cpu\" not implemented for '{_scalar_name(A)}'")
    _check_matrix("linalg.det", A)
    return write_out(apply(LinalgDet, A), out)


@register("linalg_slogdet", promote=None, samples=(
    Sample(lambda t, x: t.linalg.slogdet(x), (Arg((3, 3)),)),
    Sample(lambda t, x: t.slogdet(x), (Arg((2, 2, 2)),), name="batched"),
    Sample(lambda t, x: x.logdet(), (Arg((3, 3), values=[[2., 1., 0.], [1., 3., 1.],
                                                          [0., 1., 4.]]),), name="logdet")))
class LinalgSlogdet(OpDef):
    """(sign, log|det|): log|det| is real for complex A too. d log|det A| = Re tr(A^-1 dA)
    and, for complex A, sign = e^(i phi) moves with phi = Im tr(A^-1 dA); so the gradient
    is c * A^-H with c = g_logabsdet + i Im(g_sign conj(sign))."""

    def forward(ctx, xp, A):
        sign, logabsdet = xp.linalg.slogdet(A)
        sign = xp.asarray(sign, dtype=A.dtype)
        ctx.save(A, sign)
        return sign, xp.asarray(logabsdet, dtype=A.real.dtype)

    def backward(ctx, g_sign, g_logabsdet):
        A, sign = ctx.saved
        if not A.is_complex():
            return g_logabsdet.unsqueeze(-1).unsqueeze(-1) * _inv_transposed(A)
        c = g_logabsdet + (g_sign * sign.conj()).imag * 1j
        return c.unsqueeze(-1).unsqueeze(-1) * _inv_transposed(A).conj()


def _slogdet(A: Tensor):
    _check_tensor("linalg.slogdet", "A", 1, A)
    _check_matrix("linalg.slogdet", A)
    return apply(LinalgSlogdet, A)


@tensor_method()
def slogdet(A: Tensor):
    """(sign, log|det|) of a square matrix: stable where det itself under/overflows."""
    return slogdet_result(*_slogdet(A))


def linalg_slogdet(A: Tensor, *, out=None):
    """(sign, log|det|) of a square matrix: stable where det itself under/overflows."""
    return write_out(linalg_slogdet_result(*_slogdet(A)), out)


@tensor_method()
def logdet(A: Tensor) -> Tensor:
    """log(det(A)): nan when the determinant is negative, -inf when it is zero; for complex
    A the principal log, log|det| + i arg(det)."""
    sign, logabsdet = _slogdet(A)
    if sign.is_complex():
        return logabsdet + sign.angle() * 1j
    return where(sign < 0, math.nan, logabsdet)


@register("linalg_inv", promote=None, holomorphic=True, samples=(
    Sample(lambda t, x: t.linalg.inv(x), (Arg((3, 3), values=[[2., 1., 0.], [1., 3., 1.],
                                                               [0., 1., 4.]]),)),
    Sample(lambda t, x: t.inverse(x + 3 * t.eye(3, dtype=x.dtype)), (Arg((2, 3, 3)),),
           name="batched"),
    Sample(lambda t, x: x.inverse(), (Arg((2, 2), values=[[1., 2.], [3., 4.]]),),
           name="method")))
class LinalgInv(OpDef):
    def forward(ctx, xp, A):
        try:
            out = xp.linalg.inv(A)
        except np.linalg.LinAlgError:
            raise LinAlgError("linalg.inv: The inversion could not be completed because the "
                              "input matrix is singular.") from None
        ctx.save(out)
        return out

    def backward(ctx, g):
        (Ainv,) = ctx.saved
        t = Ainv.mT
        return -_mm(_mm(t, g), t)


def inv(A: Tensor, *, out=None) -> Tensor:
    """Inverse of a square matrix (or of each in a batch); LinAlgError when singular."""
    _check_tensor("linalg.inv", "A", 1, A)
    _check_matrix("linalg.inv", A)
    return write_out(apply(LinalgInv, A), out)


@tensor_method()
def inverse(input: Tensor, *, out=None) -> Tensor:
    """Inverse of a square matrix (torch.inverse, the same as ember.linalg.inv)."""
    return inv(input, out=out)


@register("linalg_solve", promote=None, holomorphic=True, samples=(
    Sample(lambda t, a, b: t.linalg.solve(a + 3 * t.eye(3, dtype=a.dtype), b),
           (Arg((3, 3)), Arg((3, 2)))),
    Sample(lambda t, a, b: t.linalg.solve(a + 3 * t.eye(3, dtype=a.dtype), b),
           (Arg((3, 3)), Arg((3,))), name="vector"),
    Sample(lambda t, a, b: t.linalg.solve(a + 3 * t.eye(3, dtype=a.dtype), b),
           (Arg((2, 3, 3)), Arg((2, 3))), name="batched_vector"),
    Sample(lambda t, a, b: t.linalg.solve(a + 3 * t.eye(3, dtype=a.dtype), b),
           (Arg((2, 1, 3, 3)), Arg((3, 3, 2))), name="broadcast"),
    Sample(lambda t, a, b: t.linalg.solve(a + 3 * t.eye(3, dtype=a.dtype), b, left=False),
           (Arg((3, 3)), Arg((2, 3))), name="right")))
class LinalgSolve(OpDef):
    """X with A @ X = B, for B a (batch of) matrix; the wrapper handles vectors and left."""

    def forward(ctx, xp, A, B):
        batch = np.broadcast_shapes(A.shape[:-2], B.shape[:-2])
        try:
            out = xp.linalg.solve(xp.broadcast_to(A, batch + A.shape[-2:]),
                                  xp.broadcast_to(B, batch + B.shape[-2:]))
        except np.linalg.LinAlgError:
            raise LinAlgError("torch.linalg.solve: The solver failed because the input matrix "
                              "is singular.") from None
        ctx.save(A, out)
        return out

    def backward(ctx, g):
        A, X = ctx.saved
        gB = apply(LinalgSolve, A.mT, g)
        gA = -_mm(gB, X.mT) if ctx.needs_input_grad[0] else None
        return gA, gB


def solve(A: Tensor, B: Tensor, *, left: bool = True, out=None) -> Tensor:
    """The solution X of A @ X = B (or X @ A = B with left=False); B may be a (batch of)
    vector."""
    B, vector = _solve_operands("linalg.solve", A, B, left)
    if left:
        X = apply(LinalgSolve, A, B)
    else:
        X = apply(LinalgSolve, A.mT, B.mT).mT
    return write_out(X.squeeze(-1) if vector else X, out)


def _solve_operands(op: str, A: Tensor, B: Tensor, left: bool) -> tuple:
    """linalg.solve's checks; (B as a batch of matrices, whether B was a vector)."""
    _check_tensor(op, "A", 1, A)
    _check_tensor(op, "B", 2, B)
    _check_matrix(op, A)
    if B._data.ndim < 1:
        raise RuntimeError(f"{op}: The input tensor B must have at least 1 dimensions.")
    if A._dtype is not B._dtype:
        raise RuntimeError(f"{op}: Expected A and B to have the same dtype, but found A of type "
                           f"{_scalar_name(A)} and B of type {_scalar_name(B)} instead")
    sa, sb = A._data.shape, B._data.shape
    vector = left and (len(sb) == 1 or len(sb) == len(sa) - 1 and sb == sa[:-1])
    if vector:
        B = B.unsqueeze(-1)
    n = sa[-1]
    k_dim = -2 if left else -1
    if B._data.ndim < 2 or B._data.shape[k_dim] != n:
        shown = B._data.shape if B._data.ndim >= 2 else (sb[-1], 1)
        raise RuntimeError(f"{op}: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({n}x{n} and "
                           f"{shown[-2]}x{shown[-1]})")
    return B, vector


# ---- factorizations ------------------------------------------------------------------------
def _batch_failing(A, check) -> tuple:
    """(batch index, detail) of the first matrix in A for which `check` fails."""
    host = np.asarray(A.get() if hasattr(A, "get") else A)
    flat = host.reshape(-1, *host.shape[-2:])
    for i, m in enumerate(flat):
        detail = check(m)
        if detail is not None:
            return (i if host.ndim > 2 else None), detail
    return None, None


def _not_pd_order(m) -> int | None:
    """The order of the first leading minor of m that is not positive-definite."""
    for k in range(1, m.shape[0] + 1):
        try:
            np.linalg.cholesky(m[:k, :k])
        except np.linalg.LinAlgError:
            return k
    return None


def _tril_mask(n: int, like: Tensor, k: int = 0, diag: float = 1.0) -> Tensor:
    """A constant lower-triangular mask (ones below diagonal k, `diag` on the diagonal)."""
    xp = namespace(like._device)
    m = np.tril(np.ones((n, n)), k)
    if k >= 0:
        np.fill_diagonal(m, diag)
    return Tensor._wrap(xp.asarray(m, dtype=like._dtype.np), like._dtype, like._device)


@register("linalg_cholesky", promote=None, samples=(
    Sample(lambda t, x: t.linalg.cholesky(x @ x.mT + 1), (Arg((3, 4)),)),
    Sample(lambda t, x: t.linalg.cholesky(x @ x.mT + 1, upper=True), (Arg((2, 3, 4)),),
           name="upper"),
    Sample(lambda t, x: (x @ x.mT + 1).cholesky(), (Arg((2, 3)),), name="method")))
class LinalgCholesky(OpDef):
    def forward(ctx, xp, A):
        try:
            L = xp.linalg.cholesky(A)
        except np.linalg.LinAlgError:
            batch, order = _batch_failing(A, _not_pd_order)
            where_ = f"(Batch element {batch}): " if batch is not None else ""
            raise LinAlgError(f"linalg.cholesky: {where_}The factorization could not be "
                              "completed because the input is not positive-definite (the "
                              f"leading minor of order {order} is not positive-definite)."
                              ) from None
        ctx.save(L)
        return L

    def backward(ctx, g):
        """gA = L^-H X L^-1 with X = (tril(M) + tril(M, -1)^H) / 2, M = L^H g: the lower
        triangle mirrored, as A is Hermitian. Like torch, X keeps the imaginary part of M's
        diagonal, which no Hermitian perturbation of A sees."""
        (L,) = ctx.saved
        n = L.shape[-1]
        lower = _mm(L.mH, g) * _tril_mask(n, L)
        X = (lower + (lower * _tril_mask(n, L, -1)).mH) * 0.5
        left = apply(LinalgSolve, L.mH, X)
        return apply(LinalgSolve, L.mH, left.mH).mH


@tensor_method()
def cholesky(A: Tensor, upper: bool = False, *, out=None) -> Tensor:
    """Cholesky factor L (lower, A = L @ L.mH) of a Hermitian (real: symmetric)
    positive-definite matrix; the upper factor L.mH with upper=True. Only the lower triangle
    of A is read."""
    _check_tensor("linalg.cholesky", "A", 1, A)
    if A._dtype in (D.float16, D.bfloat16):
        raise NotImplementedError(f"\"cholesky_cpu\" not implemented for '{_scalar_name(A)}'")
    _check_matrix("linalg.cholesky", A)
    L = apply(LinalgCholesky, A)
    return write_out(L.mH if upper else L, out)


def raise_for_info(info: Tensor, error: type, message) -> None:
    """Raise `error(message(where, value))` for the first nonzero entry of a factorization's
    info tensor, `where` naming its batch element as torch does ('' for one matrix)."""
    flat = np.asarray(info._data.get() if hasattr(info._data, "get") else info._data).ravel()
    bad = np.flatnonzero(flat)
    if bad.size:
        where = f"(Batch element {bad[0]}): " if info._data.ndim else ""
        raise error(message(where, int(flat[bad[0]])))


def _cholesky_by_matrix(xp, A):
    """(L, info) one matrix at a time, for a batch with some not positive-definite: info is
    the order of the first such leading minor; L factors the minor before it."""
    host = np.asarray(A.get() if hasattr(A, "get") else A)
    n = host.shape[-1]
    flat = host.reshape(-1, n, n)
    L = np.tril(flat)
    info = np.zeros(flat.shape[0], dtype=np.int32)
    for i, m in enumerate(flat):
        order = _not_pd_order(m)
        good = n if order is None else order - 1
        L[i, :good, :good] = np.linalg.cholesky(m[:good, :good])
        info[i] = order or 0
    return xp.asarray(L.reshape(host.shape)), xp.asarray(info.reshape(host.shape[:-2]))


@register("linalg_cholesky_ex", promote=None, samples=(
    Sample(lambda t, x: t.linalg.cholesky_ex(x @ x.mH + t.eye(3, dtype=x.dtype)),
           (Arg((2, 3, 4)),)),
    Sample(lambda t, x: t.linalg.cholesky_ex(x @ x.mH + t.eye(3, dtype=x.dtype), upper=True),
           (Arg((3, 3)),), name="upper"),
    Sample(lambda t, x: t.linalg.cholesky_ex(x).info, (Arg(values=[[[1., 2.], [2., 1.]],
                                                                   [[2., 1.], [1., 2.]]]),),
           grad=False, name="info")))
class LinalgCholeskyEx(LinalgCholesky):
    """linalg.cholesky reporting, per matrix, the order of the first leading minor that is
    not positive-definite (0 when none) instead of raising."""

    def forward(ctx, xp, A):
        try:
            L = xp.linalg.cholesky(A)
            info = xp.zeros(A.shape[:-2], dtype=xp.int32)
        except np.linalg.LinAlgError:
            L, info = _cholesky_by_matrix(xp, A)
        ctx.save(L)
        return L, info

    def backward(ctx, g, _info):
        return LinalgCholesky.backward(ctx, g)


def cholesky_ex(A: Tensor, *, upper: bool = False, check_errors: bool = False, out=None):
    """linalg.cholesky as (L, info): info holds, per matrix, the order of the first leading
    minor that is not positive-definite (0 when none) instead of an error, unless
    check_errors."""
    op = "linalg.cholesky_ex"
    _check_tensor(op, "A", 1, A)
    if A._dtype in (D.float16, D.bfloat16):
        raise NotImplementedError(f"\"cholesky_cpu\" not implemented for '{_scalar_name(A)}'")
    _check_matrix("linalg.cholesky", A)
    L, info = apply(LinalgCholeskyEx, A)
    if check_errors:
        raise_for_info(info, LinAlgError, lambda where, order: (
            f"{op}: {where}The factorization could not be completed because the input is not "
            f"positive-definite (the leading minor of order {order} is not positive-definite)."))
    return write_out(cholesky_ex_result(L.mH if upper else L, info), out)


@register("linalg_qr", promote=None, samples=(
    Sample(lambda t, x: t.linalg.qr(x), (Arg((4, 3)),)),
    Sample(lambda t, x: t.linalg.qr(x), (Arg((2, 3, 3)),), name="square"),
    Sample(lambda t, x: t.linalg.qr(x), (Arg((3, 4)),), name="wide"),
    Sample(lambda t, x: t.linalg.qr(x, mode="complete"), (Arg((3, 3)),), name="complete"),
    Sample(lambda t, x: t.linalg.qr(x, mode="complete"), (Arg((4, 2)),), grad=False,
           name="complete_tall"),
    Sample(lambda t, x: t.linalg.qr(x, mode="r")[1], (Arg((4, 3)),), grad=False, name="r")))
class LinalgQr(OpDef):
    def forward(ctx, xp, A, mode):
        ctx.mode = mode
        if mode == "r":
            R = xp.linalg.qr(A, mode="r")
            return xp.zeros((0,), dtype=A.dtype), R
        Q, R = xp.linalg.qr(A, mode=mode)
        ctx.save(A, Q, R)
        return Q, R

    def backward(ctx, gQ, gR):
        if ctx.mode == "r":
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed "
                               "when mode='r'. Please use linalg.qr(A, mode='reduced') if you "
                               "are going to differentiate through linalg.qr.")
        A, Q, R = ctx.saved
        m, n = A.shape[-2:]
        if ctx.mode == "complete" and m > n:
            raise RuntimeError("The QR decomposition is not differentiable when "
                               "mode='complete' and nrows > ncols.")
        if m >= n:
            return _qr_grad(Q, R, gQ, gR)
        # Wide A = Q [U | V]: the square part X = A[:, :m] = Q U decides Q; Y = Q V.
        Y = A[..., :, m:]
        gU, gV = gR[..., :, :m], gR[..., :, m:]
        gX = _qr_grad(Q, R[..., :, :m], gQ + _mm(Y, gV.mH), gU)
        gY = _mm(Q, gV)
        first = eye(m, n, dtype=gX._dtype, device=gX._device)
        second = Tensor._wrap(namespace(gX._device).eye(n - m, n, m, dtype=gX._dtype.np),
                              gX._dtype, gX._device)
        return _mm(gX, first) + _mm(gY, second)


def _qr_grad(Q, R, gQ, gR):
    """Gradient of A = QR (A tall or square, reduced): (gQ + Q K) R^-H, with K the Hermitian
    matrix copied from the upper triangle of N = gR R^H - Q^H gQ, its diagonal Re(diag N):
    R's diagonal is real, so Q^H dQ has an imaginary diagonal that R cannot absorb."""
    n = R.shape[-1]
    N = _mm(gR, R.mH) - _mm(Q.mH, gQ)
    half_upper = N * _tril_mask(n, R, diag=0.5).mT
    b = gQ + _mm(Q, half_upper + half_upper.mH)
    return apply(LinalgSolve, R, b.mH).mH


def linalg_qr(A: Tensor, mode: str = "reduced", *, out=None):
    """QR decomposition A = Q @ R: Q with orthonormal columns, R upper triangular. mode
    'reduced' (k = min(m, n) columns), 'complete' (square Q) or 'r' (R only, Q empty)."""
    _check_tensor("linalg.qr", "A", 1, A)
    if A._dtype in (D.float16, D.bfloat16):
        raise NotImplementedError(f"\"geqrf_cpu\" not implemented for '{_scalar_name(A)}'")
    _check_matrix("linalg.qr", A, square=False)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           "'reduced' (default), 'r', or 'complete'")
    return write_out(qr_result(*apply(LinalgQr, A, mode=mode)), out)


@tensor_method()
def qr(input: Tensor, some: bool = True, *, out=None):
    """torch.qr (deprecated): linalg.qr with mode 'reduced' (some=True) or 'complete'."""
    return linalg_qr(input, "reduced" if some else "complete", out=out)


def _sym(x):
    """A symmetric matrix made from any square x (samples of the symmetric solvers)."""
    return x + x.mT


def _fix_signs(V):
    """Eigen/singular vectors are defined up to sign: scale each column by its first entry
    so results can be compared across libraries."""
    return V * V[..., :1, :]


@register("linalg_eigh", promote=None, samples=(
    Sample(lambda t, x: (lambda r: (r[0], _fix_signs(r[1])))(t.linalg.eigh(_sym(x))),
           (Arg((3, 3)),)),
    Sample(lambda t, x: (lambda r: (r[0], _fix_signs(r[1])))(
        t.linalg.eigh(_sym(x), UPLO="U")), (Arg((2, 3, 3)),), name="upper"),
    Sample(lambda t, x: t.linalg.eigvalsh(_sym(x)), (Arg((4, 4)),), name="eigvalsh")))
class LinalgEigh(OpDef):
    def forward(ctx, xp, A, UPLO):
        L, V = xp.linalg.eigh(A, UPLO=UPLO)
        ctx.save(L, V)
        return L, V

    def backward(ctx, gL, gV):
        """gA = V (diag(gL) + skew(V^H gV) / E) V^H, E[i, j] = L[j] - L[i] off the diagonal
        and skew(X) = (X - X^H) / 2: the projection that makes gA Hermitian, as A's
        perturbations are."""
        L, V = ctx.saved
        VhgV = _mm(V.mH, gV)
        if V.is_complex():
            _check_phase_invariant("linalg.eigh", "eigenvectors", VhgV)
        n = L.shape[-1]
        ident = eye(n, dtype=L._dtype, device=L._device)
        gaps = L.unsqueeze(-2) - L.unsqueeze(-1) + ident
        inner = (VhgV - VhgV.mH) * ((1 - ident) / (2 * gaps)) + gL.unsqueeze(-1) * ident
        return _mm(_mm(V, inner), V.mH)


def _check_phase_invariant(op: str, vectors: str, *products: Tensor) -> None:
    """Complex eigen/singular vectors are each defined only up to a phase e^(i phi) (for the
    SVD, one phase shared by a column of U and the row of Vh). The loss's derivative along
    phi is the sum of Im diag(X^H gX) over the vector matrices X; refuse a loss that depends
    on the phases, with torch's tolerance (1e-2, absolute and relative)."""
    xp = namespace(products[0]._device)
    phase = [xp.diagonal(p._data, axis1=-2, axis2=-1).imag for p in products]
    rest = -phase[1] if len(phase) > 1 else 0
    if not bool((abs(phase[0] - rest) <= 1e-2 + 1e-2 * abs(rest)).all()):
        raise RuntimeError(f"{op}: the complex {vectors} are each defined only up to a phase "
                           "e^(i phi), and the loss depends on that phase, so its gradient is "
                           "not defined. Use a loss that does not change when a vector is "
                           "multiplied by e^(i phi): built from abs() of its entries, or from "
                           "products in which the phases cancel (U @ Vh, V @ V.mH).")


def _eigh_checks(op: str, A: Tensor, UPLO: str) -> None:
    _check_tensor(op, "A", 1, A)
    if A._dtype.category < D._FLOAT or A._dtype in (D.float16, D.bfloat16):
        raise NotImplementedError(f"\"linalg_eigh_cpu\" not implemented for "
                                  f"'{_scalar_name(A)}'")
    _check_matrix(op, A)
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"{op}: Expected UPLO argument to be 'L' or 'U', but got {UPLO}")


def eigh(A: Tensor, UPLO: str = "L", *, out=None):
    """Eigenvalues (ascending) and orthonormal eigenvectors of a symmetric matrix; only the
    UPLO triangle of A is read."""
    _eigh_checks("linalg.eigh", A, UPLO)
    return write_out(eigh_result(*apply(LinalgEigh, A, UPLO=UPLO)), out)


def eigvalsh(A: Tensor, UPLO: str = "L", *, out=None) -> Tensor:
    """Eigenvalues (ascending) of a symmetric matrix."""
    _eigh_checks("linalg.eigvalsh", A, UPLO)
    return write_out(apply(LinalgEigh, A, UPLO=UPLO)[0], out)


def _eig_invariant(t, r):
    """Eigenvalues and the phase-free V diag(conj(V[0])) (columns scaled by their first
    entries' conjugates), as real views (gradcheck differentiates real outputs)."""
    L, V = r
    return t.view_as_real(L), t.view_as_real(V * V[..., :1, :].conj())


@register("linalg_eig", promote=None, samples=(
    Sample(lambda t, x: _eig_invariant(t, t.linalg.eig(x)), (Arg((3, 3)),)),
    Sample(lambda t, x: _eig_invariant(t, t.linalg.eig(x)), (Arg((2, 4, 4)),), name="batched"),
    Sample(lambda t, x: t.view_as_real(t.linalg.eigvals(x)), (Arg((4, 4)),), name="eigvals")))
class LinalgEig(OpDef):
    """Eigenvalues and unit-norm eigenvectors of a general square matrix, complex even for real
    A. With E[i, j] = L[j] - L[i], the gradient is
    V^-H (diag(gL) + (V^H gV - V^H V Re diag(V^H gV)) / conj(E)) V^H, its real part for real A;
    each vector's phase is free, so a loss that depends on it is refused (as torch does)."""

    def forward(ctx, xp, A):
        w, V = xp.linalg.eig(A)
        dtype = np.result_type(A.dtype, np.complex64)
        w, V = w.astype(dtype, copy=False), V.astype(dtype, copy=False)
        ctx.real = A.dtype.kind != "c"
        ctx.save(w, V)
        return w, V

    def backward(ctx, gL, gV):
        L, V = ctx.saved
        Vh = V.mH
        n = L.shape[-1]
        ident = eye(n, dtype=L._dtype, device=L._device)
        inner = gL.unsqueeze(-1) * ident
        if gV is not None:
            VhgV = _mm(Vh, gV)
            _check_phase_invariant("linalg.eig", "eigenvectors", VhgV)
            norms = VhgV.diagonal(dim1=-2, dim2=-1).real.unsqueeze(-2)
            gaps = (L.unsqueeze(-2) - L.unsqueeze(-1) + ident).conj()
            inner = inner + (VhgV - _mm(Vh, V) * norms) * (1 - ident) / gaps
        gA = apply(LinalgSolve, Vh, _mm(inner, Vh))
        return gA.real if ctx.real else gA


def _eig_checks(op: str, A) -> None:
    _check_tensor(op, "input", 1, A)
    if A._dtype in (D.float16, D.bfloat16):
        raise RuntimeError(f"{op}: Low precision dtypes not supported. Got {_scalar_name(A)}")
    _check_matrix(op, A)


def eig(A: Tensor, *, out=None):
    """Eigenvalues and eigenvectors of a square matrix (or batch): complex tensors (complex64
    for float32 input), each eigenvector of unit norm; A = V diag(L) V^-1."""
    _eig_checks("linalg.eig", A)
    return write_out(eig_result(*apply(LinalgEig, A)), out)


def eigvals(A: Tensor, *, out=None) -> Tensor:
    """The (complex) eigenvalues of a square matrix, as eig's."""
    _eig_checks("linalg.eigvals", A)
    return write_out(apply(LinalgEig, A)[0], out)


def _svd_invariant(r):
    U, S, Vh = r
    return S, U * Vh[..., :, :1].mT, Vh * U[..., :1, :].mT


@register("linalg_svd", promote=None, samples=(
    Sample(lambda t, x: _svd_invariant(t.linalg.svd(x, full_matrices=False)),
           (Arg((4, 3)),)),
    Sample(lambda t, x: _svd_invariant(t.linalg.svd(x, full_matrices=False)),
           (Arg((2, 3, 4)),), name="wide"),
    Sample(lambda t, x: _svd_invariant(t.linalg.svd(x)), (Arg((3, 3)),), name="full"),
    Sample(lambda t, x: t.linalg.svd(x)[1], (Arg((4, 2)),), name="full_tall_S"),
    Sample(lambda t, x: t.linalg.svdvals(x), (Arg((3, 4)),), name="svdvals"),
    Sample(lambda t, x: (lambda r: (r[1], r[0] * r[2][..., :1, :]))(t.svd(x)),
           (Arg((4, 3)),), name="torch_svd")))
class LinalgSvd(OpDef):
    def forward(ctx, xp, A, full_matrices, compute_uv=True):
        if not compute_uv:
            return xp.linalg.svd(A, compute_uv=False)
        U, S, Vh = xp.linalg.svd(A, full_matrices=full_matrices)
        ctx.full = full_matrices
        ctx.save(U, S, Vh)
        return U, S, Vh

    def backward(ctx, gU, gS, gVh):
        U, S, Vh = ctx.saved
        m, n = U.shape[-2], Vh.shape[-1]
        k = S.shape[-1]
        if ctx.full and m != n:
            for extra in (gU._data[..., :, k:], gVh._data[..., k:, :]):
                if extra.size and bool((extra != 0).any()):
                    raise RuntimeError("linalg.svd: the singular vectors of the complete SVD "
                                       "are not well-defined, so it cannot be differentiated "
                                       "through them; use full_matrices=False")
            U, gU = U[..., :, :k], gU[..., :, :k]
            Vh, gVh = Vh[..., :k, :], gVh[..., :k, :]
        if not (gU._data.any() or gVh._data.any()):
            # only S is used (svdvals, norms, cond): no division by S, so a rank-deficient A
            # keeps a finite gradient, as in torch
            return _mm(U * gS.unsqueeze(-2), Vh)
        return _svd_grad(U, S, Vh, gU, gS, gVh, m, n)


def _svd_grad(U, S, Vh, gU, gS, gVh, m, n):
    """Gradient of the reduced SVD A = U diag(S) Vh (Townsend, "Differentiating the SVD"),
    with conjugate transposes for complex A. There the phase a column of U shares with a row
    of Vh is free; the phase of U's column takes up Im diag(U^H dA V) / S, which puts
    i Im diag(U^H gU) / S on the diagonal of the middle factor."""
    k = S.shape[-1]
    ident = eye(k, dtype=S._dtype, device=S._device)
    S2 = S * S
    # E's ones on the diagonal meet the skew parts' 2i Im diag(X^H gX): their sum is zero
    # for a phase-invariant loss, and is kept (as torch keeps it) for a nearly invariant one
    E = S2.unsqueeze(-2) - S2.unsqueeze(-1) + ident
    V, gV = Vh.mH, gVh.mH
    UhgU = _mm(U.mH, gU)
    VhgV = _mm(Vh, gV)
    diag = gS
    if U.is_complex():
        _check_phase_invariant("linalg.svd", "singular vectors", UhgU, VhgV)
        d = UhgU.diagonal(0, -2, -1)
        diag = gS + (d - d.conj()) / (2 * S)  # i Im(d) / S
    inner = ((UhgU - UhgU.mH) * S.unsqueeze(-2) + S.unsqueeze(-1) * (VhgV - VhgV.mH)) / E
    gA = _mm(_mm(U, inner + diag.unsqueeze(-1) * ident), Vh)
    if m > k:
        gA = gA + _mm((gU - _mm(U, UhgU)) / S.unsqueeze(-2), Vh)
    if n > k:
        gA = gA + _mm(U / S.unsqueeze(-2), gVh - _mm(_mm(gVh, V), Vh))
    return gA


def _svd_checks(A: Tensor) -> None:
    _check_tensor("linalg.svd", "A", 1, A)
    if A._dtype in (D.float16, D.bfloat16):
        raise NotImplementedError(f"\"linalg_svd_cpu\" not implemented for '{_scalar_name(A)}'")
    _check_matrix("linalg.svd", A, square=False)


def linalg_svd(A: Tensor, full_matrices: bool = True, *, driver=None, out=None):
    """Singular value decomposition A = U @ diag(S) @ Vh, S descending. Gradients need
    full_matrices=False unless A is square (the extra singular vectors are arbitrary)."""
    _svd_checks(A)
    return write_out(svd_result(*apply(LinalgSvd, A, full_matrices=full_matrices)), out)


def linalg_svdvals(A: Tensor, *, driver=None, out=None) -> Tensor:
    """Singular values of A, descending."""
    _svd_checks(A)
    if GradState.enabled and A._requires_grad:
        return write_out(apply(LinalgSvd, A, full_matrices=False)[1], out)
    return write_out(apply(LinalgSvd, A, full_matrices=False, compute_uv=False), out)


@tensor_method()
def svd(input: Tensor, some: bool = True, compute_uv: bool = True, *, out=None):
    """torch.svd: (U, S, V) with V = Vh.mH (not Vh); some=False returns square U and V.
    compute_uv=False fills U and V with zeros, square whatever `some` says (as torch)."""
    _svd_checks(input)
    if not compute_uv:
        *batch, m, n = input.shape
        U, S, Vh = apply(LinalgSvd, input, full_matrices=False)
        return write_out(torch_svd_result(
            zeros(*batch, m, m, dtype=input.dtype, device=input.device), S,
            zeros(*batch, n, n, dtype=input.dtype, device=input.device)), out)
    U, S, Vh = apply(LinalgSvd, input, full_matrices=not some)
    return write_out(torch_svd_result(U, S, Vh.mH), out)


def _pinv_cutoff(xp, s, atol, rtol, shape):
    """Singular values at or below max(atol, rtol * largest) count as zero."""
    if rtol is None:
        rtol = 0.0 if atol is not None and atol > 0 else np.finfo(s.dtype).eps * max(shape[-2:])
    largest = s.max(axis=-1, keepdims=True) if s.shape[-1] else xp.zeros(s.shape[:-1] + (1,))
    return xp.maximum(atol or 0.0, rtol * largest)


@register("linalg_pinv", promote=None, samples=(
    Sample(lambda t, x: t.linalg.pinv(x), (Arg((4, 3)),)),
    Sample(lambda t, x: t.linalg.pinv(x), (Arg((2, 3, 4)),), name="wide"),
    Sample(lambda t, x: t.linalg.pinv(_sym(x), hermitian=True), (Arg((3, 3)),),
           name="hermitian"),
    Sample(lambda t, x: t.linalg.pinv(x, atol=0.5), (Arg((3, 2), values=[
        [1., 0.], [0., 0.1], [0., 0.]]),), grad=False, name="atol"),
    Sample(lambda t, x: x.pinverse(), (Arg((2, 3)),), name="pinverse")))
class LinalgPinv(OpDef):
    def forward(ctx, xp, A, atol, rtol, hermitian):
        if hermitian:
            w, V = xp.linalg.eigh(A)
            cut = _pinv_cutoff(xp, xp.abs(w), atol, rtol, A.shape)
            w_inv = xp.where(xp.abs(w) > cut, 1 / w, 0).astype(A.dtype)
            out = xp.matmul(V * w_inv[..., None, :], xp.swapaxes(V, -1, -2).conj())
        else:
            U, s, Vh = xp.linalg.svd(A, full_matrices=False)
            cut = _pinv_cutoff(xp, s, atol, rtol, A.shape)
            s_inv = xp.where(s > cut, 1 / s, 0).astype(A.dtype)
            out = xp.matmul(xp.swapaxes(Vh, -1, -2).conj() * s_inv[..., None, :],
                            xp.swapaxes(U, -1, -2).conj())
        ctx.save(A, out)
        return out

    def backward(ctx, g):
        A, P = ctx.saved
        # d(A+) = -P dA P + P P^H dA^H (I - A P) + (I - P A) dA^H P^H P   (Golub & Pereyra)
        Ph = P.mH
        gh = g.mH
        first = -_mm(_mm(Ph, g), Ph)
        left = _mm(gh, _mm(P, Ph))
        second = left - _mm(A, _mm(P, left))
        right = _mm(_mm(Ph, P), gh)
        third = right - _mm(_mm(right, P), A)
        return first + second + third


def pinv(A: Tensor, *, atol=None, rtol=None, hermitian: bool = False, out=None,
         rcond=None) -> Tensor:
    """Moore-Penrose pseudo-inverse through the SVD (eigh when hermitian): singular values
    at or below max(atol, rtol * largest) are treated as zero."""
    op = "linalg.pinv"
    _check_tensor(op, "A", 1, A)
    if A._dtype.category < D._FLOAT or A._dtype in (D.float16, D.bfloat16) or A._data.ndim < 2:
        raise RuntimeError(f"{op}({_scalar_name(A)}{{{list(A.shape)}}}): expected a tensor "
                           "with 2 or more dimensions of float, double, cfloat or cdouble "
                           "types")
    if rcond is not None:
        rtol = rcond
    atol = None if atol is None else float(atol)
    rtol = None if rtol is None else float(rtol)
    return write_out(apply(LinalgPinv, A, atol=atol, rtol=rtol, hermitian=hermitian), out)


@tensor_method()
def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:
    """Pseudo-inverse (torch.pinverse): linalg.pinv with rtol=rcond."""
    return pinv(input, rtol=rcond)


@register("linalg_matrix_rank", promote=None, differentiable=False, samples=(
    Sample(lambda t, x: t.linalg.matrix_rank(x), (Arg((4, 3)),), grad=False),
    Sample(lambda t, x: t.linalg.matrix_rank(x @ x.mT), (Arg((2, 4, 2)),), grad=False,
           name="deficient"),
    Sample(lambda t, x: t.linalg.matrix_rank(x, atol=0.5, hermitian=True), (Arg((2, 2), values=[
        [1., 0.], [0., 0.1]]),), grad=False, name="atol_hermitian"),
    Sample(lambda t, x: t.linalg.matrix_rank(x, rtol=0.2), (Arg((2, 2), values=[
        [1., 0.], [0., 0.1]]),), grad=False, name="rtol")))
class LinalgMatrixRank(OpDef):
    """How many singular values (eigenvalue magnitudes when hermitian) exceed the cutoff
    pinv uses: max(atol, rtol * largest), rtol eps * max(m, n) unless given."""

    def forward(ctx, xp, A, atol, rtol, hermitian):
        s = (xp.abs(xp.linalg.eigvalsh(A)) if hermitian
             else xp.linalg.svd(A, compute_uv=False))
        return (s > _pinv_cutoff(xp, s, atol, rtol, A.shape)).sum(axis=-1).astype(np.int64)


def matrix_rank(A: Tensor, *, atol=None, rtol=None, hermitian: bool = False, tol=None,
                out=None) -> Tensor:
    """The numerical rank of A (a batch of matrices): singular values above
    max(atol, rtol * largest) (see LinalgMatrixRank); `tol` is the old name of atol."""
    op = "torch.linalg.matrix_rank"
    _check_tensor(op, "input", 1, A)
    if A._data.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor input must have at least 2 dimensions.")
    if A._dtype.category < D._FLOAT or A._dtype in (D.float16, D.bfloat16):
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. "
                           f"Got {_scalar_name(A)}")
    atol = tol if atol is None else atol
    return write_out(apply(LinalgMatrixRank, A, atol=None if atol is None else float(atol),
                           rtol=None if rtol is None else float(rtol),
                           hermitian=bool(hermitian)), out)


_LSTSQ_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


@composite(name="linalg_lstsq", samples=(
    Sample(lambda t, A, B: t.linalg.lstsq(A, B).solution, (Arg((5, 3)), Arg((5, 2)))),
    Sample(lambda t, A, B: tuple(t.linalg.lstsq(A, B, driver="gelsd")[:2]) + (
        t.linalg.lstsq(A, B, driver="gelsd")[3],), (Arg((2, 4, 3)), Arg((2, 4, 2))),
        name="gelsd"),
    Sample(lambda t, A, B: t.linalg.lstsq(A, B, driver="gels")[:2], (Arg((4, 3)), Arg((4, 1))),
           name="gels"),
    Sample(lambda t, A, B: t.linalg.lstsq(A, B).solution, (Arg((2, 4)), Arg((2, 3))),
           name="wide"),
    Sample(lambda t, A, B: t.linalg.lstsq(A @ A.mT[:, :2] @ A[:2], B, rcond=1e-8).solution,
           (Arg((4, 4)), Arg((4, 2))), dtypes=("float64",), grad=False, name="deficient")))
def lstsq(A: Tensor, B: Tensor, rcond=None, *, driver=None):
    """The least-squares solution X of A @ X = B, minimal in norm where A is rank deficient
    (singular values at or below rcond * largest count as zero; default eps * max(m, n)),
    as (solution, residuals, rank, singular_values). Like torch's CPU drivers: rank is
    empty for 'gels', singular values only for 'gelsd' and 'gelss', and residuals
    (|A X - B|^2 per column) only for m > n, full rank and a driver other than 'gelsy'.
    Computed through the pseudo-inverse, so solution and residuals are differentiable (the
    singular values are not, as in torch)."""
    op = "torch.linalg.lstsq"
    _check_tensor(op, "A", 1, A)
    _check_tensor(op, "B", 2, B)
    driver = "gelsy" if driver is None else driver
    if driver not in _LSTSQ_DRIVERS:
        raise RuntimeError(f"{op}: parameter `driver` should be one of "
                           f"({', '.join(_LSTSQ_DRIVERS)})")
    if A._data.ndim < 2 or B._data.ndim < 2:
        raise RuntimeError(f"{op}: input must have at least 2 dimensions (A is {A._data.ndim}-D, "
                           f"B is {B._data.ndim}-D)")
    if A._dtype is not B._dtype:
        raise RuntimeError(f"{op}: Expected input and other to have the same dtype, but got "
                           f"input's dtype {_scalar_name(A)} and other's dtype "
                           f"{_scalar_name(B)}")
    _check_float(op, A)
    m, n = A.shape[-2:]
    if B.shape[-2] != m:
        raise RuntimeError(f"{op}: input.size(-2) should match other.size(-2) (got {m} and "
                           f"{B.shape[-2]})")
    if rcond is None:
        rcond = D.finfo(A._dtype).eps * max(m, n)
    X = pinv(A, rtol=float(rcond)) @ B
    real = A._dtype.to_real()
    empty = zeros(0, dtype=real, device=A._device)
    rank = matrix_rank(A, rtol=float(rcond))
    residuals = empty
    if driver != "gelsy" and m > n and bool((rank == n).all()):
        residuals = ((A @ X - B).abs() ** 2).sum(-2)
    if driver == "gels":
        rank = zeros(0, dtype=D.int64, device=A._device)
    values = linalg_svdvals(A).detach() if driver in ("gelsd", "gelss") else empty  # as torch
    return lstsq_result(X, residuals, rank, values)


_COND_NORMS = ("fro", "nuc", math.inf, -math.inf, 1, -1)


@composite(name="linalg_cond", samples=(
    Sample(lambda t, A: t.linalg.cond(A + 2 * t.eye(3)), (Arg((3, 3)),)),
    Sample(lambda t, A: t.linalg.cond(A, -2), (Arg((2, 4, 3)),), name="wide_batch"),
    *(Sample(lambda t, A, p=p: t.linalg.cond(A + 3 * t.eye(3), p), (Arg((3, 3)),),
             name=f"ord_{p}") for p in _COND_NORMS)))
def cond(A: Tensor, p=None, *, out=None) -> Tensor:
    """The condition number of A in norm p: the ratio of its largest to smallest singular
    value for p None or 2 (-2: the inverse ratio), else norm(A, p) * norm(inv(A), p) for a
    square A."""
    op = "linalg.cond"
    _check_tensor(op, "A", 1, A)
    if A._data.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    if p is None or p in (2, -2):
        s = linalg_svdvals(A)
        largest, smallest = s.narrow(-1, 0, 1), s.narrow(-1, s.shape[-1] - 1, 1)
        ratio = largest / smallest if p != -2 else smallest / largest
        return write_out(ratio.squeeze(-1), out)
    if p not in _COND_NORMS:
        raise RuntimeError(f"linalg.cond got an invalid norm type: {p}")
    m, n = A._data.shape[-2:]
    if m != n:
        raise RuntimeError(f"linalg.cond(ord={p}): A must be batches of square matrices, but "
                           f"they are {m} by {n} matrices")
    return write_out(matrix_norm(A, p) * matrix_norm(inv(A), p), out)


@composite(name="linalg_vander", samples=(
    Sample(lambda t, x: t.linalg.vander(x), (Arg((4,), 0.5, 1.5),)),
    Sample(lambda t, x: t.linalg.vander(x, N=3), (Arg((2, 5), 0.5, 1.5),), name="N"),
    Sample(lambda t, x: t.linalg.vander(x, N=4), (Arg((3,)),), dtypes=("int64",), grad=False,
           name="ints")))
def linalg_vander(x: Tensor, N: int | None = None) -> Tensor:
    """The Vandermonde matrix of x: column j holds x ** j, for j < N (default len(x)), as
    running products (1, x, x*x, ...) so gradients need no negative powers."""
    _check_tensor("linalg.vander", "x", 1, x)
    n = x._data.shape[-1] if x._data.ndim else 1
    N = n if N is None else int(N)
    if N <= 1:
        raise RuntimeError("N must be greater than 1.")
    column = x.unsqueeze(-1)
    factors = cat([ones_like(column), column.expand(*x.shape, N - 1)], -1)
    return factors.cumprod(-1)


# ---- Householder reflectors ---------------------------------------------------------------
def _geqrf(xp, A):
    """LAPACK's geqrf: A = Q R with Q = H_1 ... H_k, H_i = I - tau_i v_i v_i^H; R above the
    diagonal of the result, v_i below it (v_i's leading 1 implied). One column step at a
    time over the whole batch; reflectors as LAPACK's larfg (beta has alpha's opposite
    sign, a zero column gives tau = 0)."""
    *batch, m, n = A.shape
    a = xp.array(A, copy=True).reshape(-1, m, n)
    k = min(m, n)
    tau = xp.zeros((a.shape[0], k), dtype=a.dtype)
    for j in range(k):
        alpha = a[:, j, j].copy()
        xnorm = xp.sqrt((xp.abs(a[:, j + 1:, j]) ** 2).sum(-1))
        trivial = (xnorm == 0) & (alpha.imag == 0)
        beta = -xp.copysign(xp.sqrt(xp.abs(alpha) ** 2 + xnorm ** 2), alpha.real)
        beta = xp.where(trivial, 1, beta)
        t = (beta - alpha.real) / beta - (1j * alpha.imag / beta if a.dtype.kind == "c" else 0)
        a[:, j + 1:, j] /= xp.where(trivial, 1, alpha - beta)[:, None]
        a[:, j, j] = xp.where(trivial, alpha, beta)
        tau[:, j] = xp.where(trivial, 0, t)
        v = xp.concatenate([xp.ones_like(a[:, j:j + 1, j]), a[:, j + 1:, j]], -1)
        w = xp.einsum("bi,bij->bj", v.conj(), a[:, j:, j + 1:])
        a[:, j:, j + 1:] -= tau[:, j, None, None].conj() * v[:, :, None] * w[:, None, :]
    return a.reshape(*batch, m, n), tau.reshape(*batch, k)


@register("geqrf", promote=None, differentiable=False, samples=(
    Sample(lambda t, x: t.geqrf(x), (Arg((4, 3)),), grad=False),
    Sample(lambda t, x: x.geqrf(), (Arg((2, 3, 4)),), name="wide_batched", grad=False),
    Sample(lambda t, x: t.geqrf(x), (Arg(values=[[1., 2.], [0., 3.], [0., 4.]]),),
           name="zero_column", grad=False)))
class Geqrf(OpDef):
    def forward(ctx, xp, A):
        return _geqrf(xp, A)


@tensor_method()
def geqrf(input: Tensor, *, out=None):
    """LAPACK's geqrf: the QR factorization packed as (a, tau), R on and above a's diagonal
    and the Householder reflectors below it, for householder_product and ormqr."""
    _check_tensor("geqrf", "input", 1, input)
    if input._data.ndim < 2:
        raise RuntimeError("torch.geqrf: input must have at least 2 dimensions.")
    if input._dtype.category < D._FLOAT or input._dtype in (D.float16, D.bfloat16):
        raise NotImplementedError(f"\"geqrf_cpu\" not implemented for '{_scalar_name(input)}'")
    return write_out(geqrf_result(*apply(Geqrf, input)), out)


def _check_reflectors(op: str, input: Tensor, tau: Tensor, kernel: str) -> None:
    """Arguments of householder_product and ormqr: reflectors below input's diagonal, one
    tau per reflector, batches equal, one dtype."""
    _check_tensor(op, "input", 1, input)
    _check_tensor(op, "tau", 2, tau)
    if input._data.ndim < 2:
        raise RuntimeError(f"{op}: input must have at least 2 dimensions.")
    if input._dtype.category < D._FLOAT or input._dtype in (D.float16, D.bfloat16):
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_scalar_name(input)}'")
    if tau._data.ndim != input._data.ndim - 1 or \
            tau._data.shape[:-1] != input._data.shape[:-2]:
        raise RuntimeError(f"{op}: Expected batch dimensions of tau to be equal to "
                           f"input.shape[:-2], but got {list(tau._data.shape[:-1])}")
    if tau._dtype is not input._dtype:
        raise RuntimeError(f"{op}: tau dtype {_scalar_name(tau)} does not match input dtype "
                           f"{_scalar_name(input)}")


def _reflector(V: Tensor, tau: Tensor, i: int, conj: bool):
    """(v_i as a column, tau_i or its conjugate shaped to scale it) of a reflector set."""
    t = tau.narrow(-1, i, 1).unsqueeze(-1)
    return V.narrow(-1, i, 1), (t.conj() if conj and t.is_complex() else t)


def _apply_reflectors(V: Tensor, tau: Tensor, C: Tensor, left: bool, adjoint: bool):
    """Q C, Q^H C, C Q or C Q^H for Q = H_1 ... H_k, H_i = I - tau_i v_i v_i^H (v_i column i
    of V), one reflector at a time in ember ops, so it is differentiable in V, tau and C."""
    order = range(tau.shape[-1])
    if left != adjoint:
        order = reversed(order)
    for i in order:
        v, t = _reflector(V, tau, i, adjoint)
        if left:
            C = C - (t * v) @ (v.mH @ C)
        else:
            C = C - (C @ v) @ (t * v.mH)
    return C


def _reflector_columns(input: Tensor) -> Tensor:
    """The Householder vectors stored below input's diagonal, with their implied unit
    leading entries."""
    m, n = input.shape[-2:]
    return input.tril(-1) + eye(m, n, dtype=input.dtype, device=input.device)


@composite(name="linalg_householder_product", samples=(
    Sample(lambda t, A, tau: t.linalg.householder_product(A, tau), (Arg((4, 3)), Arg((3,)))),
    Sample(lambda t, A, tau: t.linalg.householder_product(A, tau), (Arg((2, 3, 3)),
                                                                    Arg((2, 2))),
           name="batched"),
    Sample(lambda t, A, tau: t.orgqr(A, tau), (Arg((5, 2)), Arg((1,))), name="orgqr"),
    Sample(lambda t, A: t.linalg.householder_product(*t.geqrf(A)), (Arg((4, 3)),),
           grad=False, name="geqrf_q")))
def householder_product(A: Tensor, tau: Tensor, *, out=None) -> Tensor:
    """The first n columns of the product H_1 ... H_k of Householder reflectors
    H_i = I - tau_i v_i v_i^H, v_i stored below A's diagonal (LAPACK's orgqr)."""
    op = "torch.linalg.householder_product"
    _check_reflectors(op, A, tau, "orgqr_cpu")
    m, n = A._data.shape[-2:]
    if m < n:
        raise RuntimeError(f"{op}: input.shape[-2] must be greater than or equal to "
                           "input.shape[-1]")
    if n < tau._data.shape[-1]:
        raise RuntimeError(f"{op}: input.shape[-1] must be greater than or equal to "
                           "tau.shape[-1]")
    identity = eye(m, n, dtype=A.dtype, device=A.device)
    Q = _apply_reflectors(_reflector_columns(A), tau, identity.expand(*A.shape[:-2], m, n),
                          True, False)
    return write_out(Q, out)


@tensor_method()
def orgqr(input: Tensor, tau: Tensor, *, out=None) -> Tensor:
    """torch.orgqr: the same as linalg.householder_product."""
    return householder_product(input, tau, out=out)


@composite(samples=(
    Sample(lambda t, A, tau, C: t.ormqr(A, tau, C), (Arg((4, 3)), Arg((3,)), Arg((4, 2)))),
    Sample(lambda t, A, tau, C: t.ormqr(A, tau, C, transpose=True),
           (Arg((2, 3, 2)), Arg((2, 2)), Arg((2, 3, 3))), name="transpose"),
    Sample(lambda t, A, tau, C: A.ormqr(tau, C, left=False), (Arg((3, 3)), Arg((3,)),
                                                              Arg((2, 3))), name="right"),
    Sample(lambda t, A, tau, C: t.ormqr(A, tau, C, left=False, transpose=True),
           (Arg((4, 2)), Arg((2,)), Arg((1, 4))), name="right_transpose")))
@tensor_method()
def ormqr(input: Tensor, tau: Tensor, other: Tensor, left: bool = True,
          transpose: bool = False, *, out=None) -> Tensor:
    """other multiplied by Q (Q^H when transpose) from the left (or right), Q the product
    of the Householder reflectors in (input, tau) as geqrf packs them, never formed."""
    op = "torch.ormqr"
    _check_reflectors(op, input, tau, "ormqr_cpu")
    _check_tensor(op, "other", 3, other)
    if other._data.ndim < 2:
        raise RuntimeError(f"{op}: other must have at least 2 dimensions.")
    if other._dtype is not input._dtype:
        raise RuntimeError(f"{op}: other dtype {_scalar_name(other)} does not match input "
                           f"dtype {_scalar_name(input)}")
    m = input._data.shape[-2]
    side = -2 if left else -1
    if other._data.shape[side] != m:
        raise RuntimeError(f"{op}: other.shape[{side}] must be equal to input.shape[-2]")
    if tau._data.shape[-1] != min(other._data.shape[side], input._data.shape[-1]):
        raise RuntimeError(f"{op}: tau.shape[-1] must be equal to min(other.shape[{side}], "
                           "input.shape[-1])")
    if other._data.shape[:-2] != input._data.shape[:-2]:
        raise RuntimeError(f"{op}: Expected batch dimensions of other to be equal to "
                           f"input.shape[:-2], but got {list(other._data.shape[:-2])}")
    return write_out(_apply_reflectors(_reflector_columns(input), tau, other, bool(left),
                                       bool(transpose)), out)


# ---- tensor equations --------------------------------------------------------------------
def _check_tensor_square(lead: tuple, rest: tuple, requirement: str) -> int:
    """prod(lead) == prod(rest): the tensor is an invertible map between those shapes."""
    p, q = math.prod(lead), math.prod(rest)
    if p != q:
        raise RuntimeError(f"Expected self to satisfy the requirement {requirement}, but got "
                           f"{q} != {p}")
    return p


@composite(name="linalg_tensorinv", samples=(
    Sample(lambda t, A: t.linalg.tensorinv(A + 2 * t.eye(6, dtype=A.dtype).reshape(6, 2, 3),
                                           ind=1), (Arg((6, 2, 3)),), name="ind1"),
    Sample(lambda t, A: t.linalg.tensorinv(A + 2 * t.eye(6, dtype=A.dtype).reshape(2, 3, 6),
                                           ind=2), (Arg((2, 3, 6)),))))
def tensorinv(A: Tensor, ind: int = 2, *, out=None) -> Tensor:
    """The inverse of A taken as a linear map from its last dims to its first `ind` dims:
    tensordot(tensorinv(A, ind), A, ind) is the identity, shaped A.shape[ind:] + A.shape[:ind]."""
    _check_tensor("linalg.tensorinv", "A", 1, A)
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    lead, rest = tuple(A.shape[:ind]), tuple(A.shape[ind:])
    p = _check_tensor_square(lead, rest, "prod(self.shape[ind:]) == prod(self.shape[:ind])")
    return write_out(inv(A.reshape(p, p)).reshape(*rest, *lead), out)


@composite(name="linalg_tensorsolve", samples=(
    Sample(lambda t, A, B: t.linalg.tensorsolve(
        A + 2 * t.eye(6, dtype=A.dtype).reshape(2, 3, 6), B), (Arg((2, 3, 6)), Arg((2, 3)))),
    Sample(lambda t, A, B: t.linalg.tensorsolve(
        A + 2 * t.eye(6, dtype=A.dtype).reshape(6, 2, 3), B, dims=(0,)),
        (Arg((6, 2, 3)), Arg((2, 3))), name="dims")))
def tensorsolve(A: Tensor, B: Tensor, dims=None, *, out=None) -> Tensor:
    """X with tensordot(A, X, X.ndim) == B: A's dims `dims` are first moved to the end, then
    its leading B.ndim dims are matched against B."""
    _check_tensor("linalg.tensorsolve", "A", 1, A)
    _check_tensor("linalg.tensorsolve", "B", 2, B)
    if dims is not None:
        dims = [dims] if isinstance(dims, int) else list(dims)
        A = A.movedim(dims, list(range(A.ndim - len(dims), A.ndim)))
    rest = tuple(A.shape[B.ndim:])
    p = _check_tensor_square(tuple(B.shape), rest, "prod(self.shape[other.ndim:]) == "
                             "prod(self.shape[:other.ndim])")
    return write_out(solve(A.reshape(p, p), B.reshape(p)).reshape(rest), out)


# ---- diagonal, vecdot ------------------------------------------------------------------------
@register("linalg_diagonal", promote=None, is_view=True, samples=(
    Sample(lambda t, x: t.linalg.diagonal(x), (Arg((3, 4)),), dtypes=FLOATS + INTS),
    Sample(lambda t, x: t.linalg.diagonal(x, offset=1), (Arg((2, 3, 4)),), name="offset"),
    Sample(lambda t, x: t.linalg.diagonal(x, offset=-2, dim1=0, dim2=2), (Arg((4, 2, 3)),),
           name="dims"),
    Sample(lambda t, x: t.linalg.diagonal(x, dim1=1, dim2=0), (Arg((3, 2)),), name="swapped"),
    Sample(lambda t, x: t.linalg.diagonal(x, offset=5), (Arg((3, 4)),), grad=False,
           name="empty")))
class LinalgDiagonal(OpDef):
    def forward(ctx, xp, A, offset, dim1, dim2):
        ctx.shape, ctx.args = A.shape, (offset, dim1, dim2)
        out = xp.diagonal(A, offset, dim1, dim2)
        if not getattr(out.flags, "writeable", True) and A.flags.writeable:
            out.flags.writeable = True  # NumPy marks diagonal views read-only; torch's write
        return out

    def backward(ctx, g):
        offset, dim1, dim2 = ctx.args
        shape = ctx.shape
        rows, cols = shape[dim1], shape[dim2]
        length = g.shape[-1]
        r0, c0 = max(-offset, 0), max(offset, 0)
        xp = namespace(g._device)
        pick_r = xp.zeros((length, rows), dtype=g._dtype.np)
        pick_c = xp.zeros((length, cols), dtype=g._dtype.np)
        idx = xp.arange(length)
        pick_r[idx, idx + r0] = 1
        pick_c[idx, idx + c0] = 1
        batch = _LETTERS[:g.ndim - 1]
        full = apply(Einsum, g, Tensor._wrap(pick_r, g._dtype, g._device),
                     Tensor._wrap(pick_c, g._dtype, g._device),
                     equation=f"{batch}z,zx,zy->{batch}xy")
        rest = [i for i in range(len(shape)) if i not in (dim1, dim2)]
        order = rest + [dim1, dim2]
        return full.permute(*np.argsort(order).tolist())


def diagonal(A: Tensor, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """A view of the diagonal (shifted by `offset`) of the matrices in dims (dim1, dim2)."""
    _check_tensor("linalg.diagonal", "A", 1, A)
    nd = A._data.ndim
    d1, d2 = _dim(dim1, nd, "linalg.diagonal"), _dim(dim2, nd, "linalg.diagonal")
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return apply(LinalgDiagonal, A, offset=int(offset), dim1=d1, dim2=d2)


@composite(name="linalg_vecdot", samples=(
    Sample(lambda t, x, y: t.linalg.vecdot(x, y), (Arg((3, 4)), Arg((4,))), dtypes=FLOAT_ALL),
    Sample(lambda t, x, y: t.linalg.vecdot(x, y, dim=0), (Arg((3, 1)), Arg((3, 2))),
           name="dim")))
def vecdot(x: Tensor, y: Tensor, *, dim: int = -1, out=None) -> Tensor:
    """Dot products of vectors along `dim` (other dimensions broadcast)."""
    _check_tensor("linalg.vecdot", "x", 1, x)
    _check_tensor("linalg.vecdot", "y", 2, y)
    _check_float("linalg.vecdot", x, low_precision=True)
    if x._dtype is not y._dtype:
        raise RuntimeError(f"linalg.vecdot: Expected x and y to have the same dtype, but found "
                           f"x of type {_scalar_name(x)} and y of type {_scalar_name(y)} instead")
    if x.is_complex():
        x = x.conj()
    return write_out((x * y).sum(dim), out)


__all__ = ["matmul", "mm", "bmm", "mv", "dot", "vdot", "outer", "ger", "inner", "tensordot",
           "addmm", "addmv", "addbmm", "baddbmm", "einsum", "cross", "kron", "matrix_power",
           "matrix_exp", "chain_matmul", "det", "slogdet", "logdet", "inverse", "pinverse",
           "cholesky", "qr", "svd", "geqrf", "orgqr", "ormqr"]
