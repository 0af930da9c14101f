"""Sorting, searching and comparison: sort/argsort/topk/kthvalue, unique, searchsorted/bucketize,
bincount/histc/histogram, cdist, equal/allclose, and small tensor predicates."""
from __future__ import annotations

import builtins
import functools
import math
from collections import namedtuple

import numpy as np

from .. import _dtype as D
from .._backend import namespace
from .._tensor import _TYPE_NAMES, Tensor, _dim
from ..testing.opinfo import ALL, ALL_INT, FLOAT_ALL, FLOATS, INTS, Arg, Sample
from . import dispatch
from .dispatch import apply, write_out
from .pointwise import isclose, where
from .registry import NO_ORDERING, OpDef, composite, register, tensor_method
from .shape import IndexPut

_NAN = float("nan")


# ---- named results --------------------------------------------------------------------------
def _named(name: str, fields: str):
    """A namedtuple that prints like torch.return_types.<name> and pickles by qualified name."""
    cls = namedtuple(name, fields)
    cls.__qualname__ = f"return_types.{name}"
    cls.__doc__ = f"The ({', '.join(cls._fields)}) result of {name}()."

    def __repr__(self):
        body = ",\n".join(f"{f}={v!r}" for f, v in zip(self._fields, self))
        return f"torch.return_types.{name}(\n{body})"
    cls.__repr__ = __repr__
    return cls


class return_types:
    """Named result tuples of the ops here, like torch.return_types."""

    sort = _named("sort", "values indices")
    topk = _named("topk", "values indices")
    kthvalue = _named("kthvalue", "values indices")
    histogram = _named("histogram", "hist bin_edges")
    histogramdd = _named("histogramdd", "hist bin_edges")


# ---- helpers on raw arrays ------------------------------------------------------------------
def _type_name(dtype: D.dtype) -> str:
    """PyTorch's scalar type name (Float, Long, ...), as its error messages spell it."""
    return _TYPE_NAMES[dtype].removesuffix("Tensor")


def _sort_keys(x):
    """Keys that order like `x`: 16-bit floats widen to float32, whose sort NumPy does natively."""
    return x.astype(np.float32) if x.dtype.itemsize == 2 and x.dtype.kind not in "iu" else x


def _argsort(xp, x, axis: int, descending: bool = False):
    """A stable argsort along `axis`; NaN counts as the largest value (first when descending).

    Descending keeps equal elements in their original order: sort the reversed array ascending,
    then reverse the result and map positions back.
    """
    kind = "stable" if xp is np else None
    keys = _sort_keys(x)
    if not descending:
        return xp.argsort(keys, axis=axis, kind=kind)
    idx = xp.argsort(xp.flip(keys, axis), axis=axis, kind=kind)
    return (x.shape[axis] - 1) - xp.flip(idx, axis)


def _index_grid(xp, idx, dim: int) -> tuple:
    """The advanced-index key that addresses, for each entry of `idx`, position idx along `dim`
    (and its own position along every other dimension)."""
    key = []
    for i, n in enumerate(idx.shape):
        if i == dim:
            key.append(idx)
        else:
            shape = [1] * idx.ndim
            shape[i] = n
            key.append(xp.arange(n).reshape(shape))
    return tuple(key)


def _scatter_back(ctx, g):
    """The gradient of a selection along a dim: `g` written back at the selected positions."""
    zeros = Tensor._zeros(ctx.shape, g._dtype, g._device)
    return apply(IndexPut, zeros, g, key=ctx.key)


# ---- sort / topk ------------------------------------------------------------------------------
_NAN_VALUES = [[1.0, _NAN, 3.0, -2.0], [2.0, 2.0, _NAN, _NAN], [0.5, -1.0, 0.5, 4.0]]
_TIES = [[3, 1, 3, 2, 1], [0, 0, 2, 2, 1], [1, 3, 1, 3, 2]]


@register("sort", complex=NO_ORDERING, samples=(
    Sample(lambda t, x: t.sort(x), (Arg((3, 4)),)),
    Sample(lambda t, x: x.sort(0, descending=True), (Arg((3, 4)),), name="desc_dim0"),
    Sample(lambda t, x: t.sort(x, stable=True), (Arg(values=_TIES),), dtypes=ALL_INT,
           grad=False, name="stable_ties"),
    Sample(lambda t, x: t.sort(x, descending=True, stable=True), (Arg(values=_TIES),),
           dtypes=ALL_INT + FLOATS, grad=False, name="stable_ties_desc"),
    Sample(lambda t, x: x.sort(stable=True), (Arg((3, 4)),),
           dtypes=("bool", "float16", "bfloat16"), grad=False, name="small_types"),
    Sample(lambda t, x: t.sort(x, stable=True), (Arg(values=_NAN_VALUES),), grad=False,
           name="nan"),
    Sample(lambda t, x: t.sort(x, descending=True, stable=True), (Arg(values=_NAN_VALUES),),
           grad=False, name="nan_desc"),
    Sample(lambda t, x: t.sort(x), (Arg(()),), name="0d"),
    Sample(lambda t, x: t.sort(x, 1), (Arg((2, 0)),), dtypes=("float32",), grad=False,
           name="empty")))
class Sort(OpDef):
    def forward(ctx, xp, x, dim, descending=False):
        idx = _argsort(xp, x, dim, descending)
        ctx.key, ctx.shape = _index_grid(xp, idx, dim), x.shape
        return xp.take_along_axis(x, idx, dim), idx

    def backward(ctx, g, _):
        return _scatter_back(ctx, g)


@register("topk", complex=NO_ORDERING, samples=(
    Sample(lambda t, x: t.topk(x, 2), (Arg((3, 4)),)),
    Sample(lambda t, x: x.topk(3, dim=0, largest=False), (Arg((4, 3)),), name="smallest"),
    Sample(lambda t, x: t.topk(x, 2, 1), (Arg(values=[[5, 1, 9, 3], [0, 7, 2, 8]]),),
           dtypes=ALL_INT + FLOAT_ALL, grad=False, name="types"),
    Sample(lambda t, x: t.topk(x, 3, sorted=False).values.sort().values, (Arg((2, 5)),),
           name="unsorted"),
    Sample(lambda t, x: t.topk(x, 4), (Arg((2, 4)),), name="all"),
    Sample(lambda t, x: t.topk(x, 0), (Arg((2, 4)),), grad=False, name="none"),
    Sample(lambda t, x: t.topk(x, 2), (Arg(values=_NAN_VALUES),), grad=False, name="nan"),
    Sample(lambda t, x: t.topk(x, 1, largest=False), (Arg(values=[[_NAN, 1.0, 0.5]]),),
           grad=False, name="nan_smallest"),
    Sample(lambda t, x: t.topk(x, 1), (Arg(()),), name="0d")))
class Topk(OpDef):
    def forward(ctx, xp, x, k, dim, largest=True, sorted=True):
        if x.dtype.kind == "b":
            raise RuntimeError("topk(): bool tensors are not supported (torch has no topk for "
                               "bool); convert with .int() first")
        n = x.shape[dim]
        keys = _sort_keys(x)
        if 0 < k < n:
            part = xp.argpartition(keys, n - k if largest else k - 1, axis=dim)
            sel = [slice(None)] * x.ndim
            sel[dim] = slice(n - k, n) if largest else slice(0, k)
            idx = part[tuple(sel)]
        else:
            shape = [1] * x.ndim
            shape[dim] = k
            full = list(x.shape)
            full[dim] = k
            idx = xp.broadcast_to(xp.arange(k).reshape(shape), full)
        if sorted and k > 1:
            # ordering the chosen positions first makes ties come out in input order
            idx = xp.sort(idx, axis=dim)
            order = _argsort(xp, xp.take_along_axis(keys, idx, dim), dim, descending=largest)
            idx = xp.take_along_axis(idx, order, dim)
        idx = xp.ascontiguousarray(idx)
        ctx.key, ctx.shape = _index_grid(xp, idx, dim), x.shape
        return xp.take_along_axis(x, idx, dim), idx

    def backward(ctx, g, _):
        return _scatter_back(ctx, g)


def _as_dim1(input: Tensor, dim: int, op: str):
    """A 0-d tensor seen as 1-d (so kernels always have an axis), and the normalized dim."""
    d = _dim(dim, input.ndim, op)
    return (input.reshape(1) if input.ndim == 0 else input), d


@tensor_method()
def sort(input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False,
         out=None):
    """Sort along `dim`; returns (values, indices). Always stable; NaN sorts as the largest.

    >>> import ember
    >>> ember.sort(ember.tensor([3., 1., 2.]))
    torch.return_types.sort(
    values=tensor([1., 2., 3.]),
    indices=tensor([1, 2, 0]))
    """
    x, d = _as_dim1(input, dim, "sort")
    values, indices = apply(Sort, x, dim=d, descending=bool(descending))
    if input.ndim == 0:
        values, indices = values.reshape(()), indices.reshape(())
    return return_types.sort(*write_out((values, indices), out))


@composite(samples=(
    Sample(lambda t, x: t.argsort(x), (Arg((3, 4)),), dtypes=FLOATS, grad=False),
    Sample(lambda t, x: x.argsort(dim=0, descending=True, stable=True), (Arg(values=_TIES),),
           dtypes=INTS, grad=False, name="desc_stable")))
@tensor_method()
def argsort(input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False):
    """The indices that sort `input` along `dim` (stable; NaN counts as the largest)."""
    return sort(input, dim, descending).indices


@composite(samples=(Sample(lambda t, x: t.msort(x), (Arg((3, 4)),)),))
@tensor_method()
def msort(input: Tensor, *, out=None) -> Tensor:
    """Sort along the first dimension; returns the values only."""
    return write_out(sort(input, 0).values, out)


@tensor_method()
def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True, *,
         out=None):
    """The `k` largest (or smallest) entries along `dim`; returns (values, indices).

    >>> import ember
    >>> ember.topk(ember.tensor([1., 5., 3., 4.]), 2)
    torch.return_types.topk(
    values=tensor([5., 4.]),
    indices=tensor([1, 3]))
    """
    x, d = _as_dim1(input, dim, "topk")
    k = int(k)
    if not 0 <= k <= x.shape[d]:
        raise RuntimeError(f"topk(): selected index k out of range: k={k} but dimension {d} "
                           f"has size {x.shape[d]} (input shape {list(input.shape)})")
    values, indices = apply(Topk, x, k=k, dim=d, largest=bool(largest), sorted=bool(sorted))
    if input.ndim == 0:
        values, indices = values.reshape(()), indices.reshape(())
    return return_types.topk(*write_out((values, indices), out))


@composite(samples=(
    Sample(lambda t, x: t.kthvalue(x, 2), (Arg((3, 4)),)),
    Sample(lambda t, x: x.kthvalue(3, 0, True), (Arg((4, 3)),), name="keepdim"),
    Sample(lambda t, x: t.kthvalue(x, 2), (Arg(values=[[5, 1, 9, 3], [0, 7, 2, 8]]),),
           dtypes=INTS + ("float16",), grad=False, name="types"),
    Sample(lambda t, x: t.kthvalue(x, 3), (Arg(values=[[1.0, _NAN, 3.0], [_NAN, 0.0, _NAN]]),),
           grad=False, name="nan"),
    Sample(lambda t, x: t.kthvalue(x, 1), (Arg(()),), name="0d")))
@tensor_method()
def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False, *, out=None):
    """The k-th smallest entry (1-based) along `dim`; returns (values, indices)."""
    x, d = _as_dim1(input, dim, "kthvalue")
    n = x.shape[d]
    if n == 0:
        raise IndexError(f"kthvalue(): Expected reduction dim {d} to have non-zero size.")
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}: "
                           f"k={k} but the dimension has size {n} (k counts from 1)")
    if x.dtype is D.bool:
        raise NotImplementedError('"kthvalue_cpu" not implemented for \'Bool\'')
    values, indices = topk(x, k, d, largest=False)
    key = (slice(None),) * d + (slice(k - 1, k) if keepdim and input.ndim else k - 1,)
    return return_types.kthvalue(*write_out((values[key], indices[key]), out))


# ---- unique ---------------------------------------------------------------------------------
def _unique(xp, x, dim, sort: bool):
    """(values, inverse, counts) of the distinct entries (dim None) or slices along `dim`;
    equal neighbours merge after an optional stable sort. NaNs never compare equal."""
    if dim is None:
        rows = x.reshape(-1, 1)
    else:
        moved = xp.moveaxis(x, dim, 0)
        rows = moved.reshape(moved.shape[0], -1)
    n = rows.shape[0]
    keys = _sort_keys(rows)
    perm = None
    if sort and n > 1:
        perm = (xp.argsort(keys[:, 0], kind="stable" if xp is np else None)
                if keys.shape[1] == 1 else xp.lexsort(keys.T[::-1]))
        keys = keys[perm]
    starts = xp.ones(n, dtype=bool)
    if n > 1:
        starts[1:] = (keys[1:] != keys[:-1]).any(axis=1)
    first = xp.flatnonzero(starts)
    group = xp.cumsum(starts) - 1
    inverse = group
    if perm is not None:
        inverse = xp.empty_like(group)
        inverse[perm] = group
    counts = xp.diff(xp.concatenate([first, xp.asarray([n], dtype=first.dtype)]))
    take = first if perm is None else perm[first]
    if dim is None:
        values = x.reshape(-1)[take]
        inverse = inverse.reshape(x.shape)
    else:
        values = xp.moveaxis(moved[take], 0, dim)
    return values, inverse.astype(np.int64), counts.astype(np.int64)


def _check_unique_dim(input: Tensor, dim, op: str):
    if dim is None:
        return None
    d = _dim(dim, input.ndim, op)
    if input.shape[d] and any(s == 0 for i, s in enumerate(input.shape) if i != d):
        raise RuntimeError(f"{op}(): There are 0 sized dimensions, and they aren't selected, so "
                           f"unique cannot be applied (input shape {list(input.shape)}, "
                           f"dim={dim})")
    return d


_DUPES = [2.0, -1.0, 2.0, 0.0, -1.0, 3.0, 2.0, 0.0]
_ROWS = [[1, 2, 0], [0, 5, 1], [1, 2, 0], [0, 5, 2]]


@register("unique", promote=None, differentiable=False, complex=NO_ORDERING,
          sized_by_values=True, samples=(
    Sample(lambda t, x: t.unique(x, return_inverse=True, return_counts=True),
           (Arg(values=_DUPES),), dtypes=ALL_INT + FLOAT_ALL, grad=False),
    Sample(lambda t, x: x.unique(), (Arg((3, 4), -2, 2),), dtypes=("bool", "int64"), grad=False,
           name="matrix"),
    Sample(lambda t, x: t.unique(x, return_inverse=True, return_counts=True),
           (Arg(values=[2.0, _NAN, 1.0, _NAN, 2.0, -0.0, 0.0]),), grad=False, name="nan"),
    Sample(lambda t, x: t.unique(x, return_inverse=True, return_counts=True, dim=0),
           (Arg(values=_ROWS),), dtypes=INTS + FLOATS, grad=False, name="dim0"),
    Sample(lambda t, x: t.unique(x, return_inverse=True, dim=1), (Arg(values=_ROWS),),
           dtypes=("int64",), grad=False, name="dim1"),
    Sample(lambda t, x: t.unique(x, return_inverse=True), (Arg(values=5),),
           dtypes=("int64",), grad=False, name="0d"),
    Sample(lambda t, x: t.unique(x, return_counts=True), (Arg((0,)),), dtypes=("float32",),
           grad=False, name="empty")))
class Unique(OpDef):
    def forward(ctx, xp, x, dim=None):
        return _unique(xp, x, dim, sort=True)


@register("unique_consecutive", promote=None, differentiable=False, complex=False,
          sized_by_values=True, samples=(
    Sample(lambda t, x: t.unique_consecutive(x, return_inverse=True, return_counts=True),
           (Arg(values=[3.0, 3.0, 2.0, 2.0, 2.0, 3.0, _NAN, _NAN, 1.0]),),
           dtypes=FLOATS + ("float16",), grad=False),
    Sample(lambda t, x: x.unique_consecutive(), (Arg(values=_DUPES),), dtypes=ALL_INT,
           grad=False, name="ints"),
    Sample(lambda t, x: t.unique_consecutive(x, return_inverse=True, return_counts=True, dim=0),
           (Arg(values=[[1, 2], [1, 2], [0, 5], [1, 2]]),), dtypes=INTS, grad=False,
           name="dim0")))
class UniqueConsecutive(OpDef):
    def forward(ctx, xp, x, dim=None):
        return _unique(xp, x, dim, sort=False)


def _unique_result(outs, return_inverse: bool, return_counts: bool):
    values, inverse, counts = outs
    if not (return_inverse or return_counts):
        return values
    return (values,) + ((inverse,) if return_inverse else ()) + (
        (counts,) if return_counts else ())


@tensor_method()
def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False,
           return_counts: bool = False, dim: int | None = None):
    """The distinct values (or slices along `dim`), sorted; optionally the inverse mapping and
    the counts. NaNs are each distinct.

    >>> import ember
    >>> ember.unique(ember.tensor([2, 1, 2, 3]), return_counts=True)
    (tensor([1, 2, 3]), tensor([1, 2, 1]))
    """
    for name, flag in (("sorted", sorted), ("return_inverse", return_inverse),
                       ("return_counts", return_counts)):
        if not isinstance(flag, (builtins.bool, np.bool_)):
            raise TypeError(f"unique(): argument '{name}' must be bool, not "
                            f"{type(flag).__name__}")
    d = _check_unique_dim(input, dim, "unique")
    outs = apply(Unique, input) if d is None else apply(Unique, input, dim=d)
    return _unique_result(outs, return_inverse, return_counts)


@tensor_method()
def unique_consecutive(input: Tensor, return_inverse: bool = False, return_counts: bool = False,
                       dim: int | None = None):
    """Collapse runs of equal consecutive values (or slices along `dim`) to one."""
    d = _check_unique_dim(input, dim, "unique_consecutive")
    outs = apply(UniqueConsecutive, input) if d is None else apply(UniqueConsecutive, input, dim=d)
    return _unique_result(outs, return_inverse, return_counts)


# ---- searchsorted / bucketize -------------------------------------------------------------------
def _gather_last(xp, a, pos):
    """a[..., pos] row by row: `a` is 1-d (shared by every row of pos) or (rows, n)."""
    return a[pos] if a.ndim == 1 else xp.take_along_axis(a, pos, axis=1)


def _binary_search(xp, seq, values, sorter, right: bool):
    """Vectorized bisection over the last dim of `seq` for every value at once.

    It goes right while `not (seq[mid] > v)` (right) or `not (seq[mid] >= v)` (left); a NaN
    compares false, so the results match PyTorch also when NaNs are present.
    """
    n = seq.shape[-1]
    if seq.ndim > 1:
        rows = math.prod(seq.shape[:-1])
        seq = seq.reshape(rows, n)
        values = values.reshape(rows, values.size // rows if rows else 0)
        if sorter is not None:
            sorter = sorter.reshape(rows, n)
    lo = xp.zeros(values.shape, dtype=np.int64)
    hi = xp.full(values.shape, n, dtype=np.int64)
    for _ in range(n.bit_length()):
        active = lo < hi
        mid = (lo + hi) // 2
        pos = xp.minimum(mid, n - 1)
        if sorter is not None:
            pos = _gather_last(xp, sorter, pos)
        probe = _gather_last(xp, seq, pos)
        go_right = ~(probe > values) if right else ~(probe >= values)
        lo = xp.where(active & go_right, mid + 1, lo)
        hi = xp.where(active & ~go_right, mid, hi)
    return lo


_SEQ = [-1.0, 0.0, 0.0, 1.0, 2.0]


@register("searchsorted", promote_args=(0, 1), differentiable=False, complex=NO_ORDERING,
          samples=(
    Sample(lambda t, s, v: t.searchsorted(s, v), (Arg(values=_SEQ), Arg((3, 4), -2, 3)),
           dtypes=FLOATS + INTS, grad=False),
    Sample(lambda t, s, v: t.searchsorted(s, v, right=True),
           (Arg(values=_SEQ), Arg((3, 4), -2, 3)), dtypes=INTS + ("float16",), grad=False,
           name="right"),
    Sample(lambda t, s, v: t.searchsorted(s, v, side="right", out_int32=True),
           (Arg(values=[[0, 1, 1, 3], [-2, -1, 2, 2]]), Arg((2, 3), -3, 3)),
           dtypes=INTS + FLOATS, grad=False, name="batched"),
    Sample(lambda t, s, v, i: t.searchsorted(s, v, sorter=i),
           (Arg(values=[2.0, -1.0, 0.5, 0.0]), Arg((5,), -2, 3),
            Arg(values=[1, 3, 2, 0], dtype="int64")), grad=False, name="sorter"),
    Sample(lambda t, s: t.searchsorted(s, 0.5), (Arg(values=_SEQ),), dtypes=INTS + FLOATS,
           grad=False, name="scalar"),
    Sample(lambda t, s, v: t.searchsorted(s, v), (Arg(values=[0, 1, 3], dtype="uint8"),
                                                   Arg((4,), -1, 4)), dtypes=INTS + FLOATS,
           grad=False, name="mixed_types"),
    Sample(lambda t, s, v: (t.searchsorted(s, v), t.searchsorted(s, v, right=True)),
           (Arg(values=[[1.0, 2.0, _NAN, _NAN], [_NAN, _NAN, _NAN, _NAN]]),
            Arg(values=[[1.0, _NAN, 5.0, 0.0], [1.0, _NAN, -1.0, 2.0]])), grad=False,
           name="nan"),
    Sample(lambda t, s, v: t.searchsorted(s, v), (Arg((2, 0)), Arg((2, 3))),
           dtypes=("float32",), grad=False, name="empty")))
class Searchsorted(OpDef):
    def forward(ctx, xp, seq, values, sorter=None, right=False, out_int32=False):
        if seq.dtype.kind == "b":
            raise NotImplementedError("\"searchsorted_out_cpu\" not implemented for 'Bool' "
                                      "(convert the boundaries and values with .int())")
        n = seq.shape[-1]
        if sorter is not None and sorter.size and (sorter.min() < 0 or sorter.max() >= n):
            raise RuntimeError(f"searchsorted(): sorter index out of range: sorter holds values "
                               f"in [{int(sorter.min())}, {int(sorter.max())}] but the "
                               f"boundaries have size {n}")
        no_nan = seq.dtype.kind != "f" or not xp.isnan(seq).any()
        if seq.ndim == 1 and sorter is None and no_nan:
            out = xp.searchsorted(seq, values, side="right" if right else "left")
        else:
            out = _binary_search(xp, seq, values, sorter, right).reshape(values.shape)
        return xp.asarray(out, dtype=np.int32 if out_int32 else np.int64)


def _search_side(right: bool, side: str | None) -> bool:
    if side is None:
        return bool(right)
    if side not in ("left", "right"):
        raise RuntimeError(f"searchsorted(): side can only be 'left' or 'right' but got {side!r}")
    if right and side == "left":
        raise RuntimeError("searchsorted(): side and right can't be set to opposites, got side "
                           "of left while right was True")
    return side == "right"


def searchsorted(sorted_sequence: Tensor, input, *, out_int32: bool = False,
                 right: bool = False, side: str | None = None, out=None, sorter=None) -> Tensor:
    """Insertion indices that keep the last dim of `sorted_sequence` sorted (a batch of
    sequences needs matching leading dims in `input`).

    >>> import ember
    >>> ember.searchsorted(ember.tensor([1, 3, 5]), ember.tensor([0, 3, 6]))
    tensor([0, 1, 3])
    """
    right = _search_side(right, side)
    seq_shape = list(sorted_sequence.shape)
    if not seq_shape:
        raise RuntimeError("searchsorted(): boundaries tensor should have positive dimension, "
                           "but got 0 dimension")
    if isinstance(input, Tensor):
        val_shape = list(input.shape)
        if len(seq_shape) > 1 and (len(val_shape) != len(seq_shape)
                                   or val_shape[:-1] != seq_shape[:-1]):
            raise RuntimeError(
                f"searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
                f"dimensions of boundaries tensor and input value tensor must match, but we got "
                f"boundaries tensor {seq_shape} and input value tensor {val_shape}")
    elif len(seq_shape) > 1:
        raise RuntimeError(f"searchsorted(): input value can be a scalar only when boundaries "
                           f"tensor dimension is 1, but we got boundaries tensor dim"
                           f"({len(seq_shape)})")
    if sorter is not None:
        if sorter.dtype is not D.int64:
            raise RuntimeError(f"searchsorted(): sorter must be a tensor of long dtype but got "
                               f"dtype {_type_name(sorter.dtype)}")
        if list(sorter.shape) != seq_shape:
            raise RuntimeError(f"searchsorted(): boundary and sorter must have the same size, "
                               f"but got boundary tensor {seq_shape} and got sorter tensor "
                               f"{list(sorter.shape)}")
    result = apply(Searchsorted, sorted_sequence, input, sorter, right=right, out_int32=out_int32)
    return write_out(result, out)


@composite(samples=(
    Sample(lambda t, x, b: t.bucketize(x, b), (Arg((3, 4), -2, 3), Arg(values=_SEQ)),
           dtypes=FLOATS + INTS, grad=False),
    Sample(lambda t, x, b: t.bucketize(x, b, right=True, out_int32=True),
           (Arg((3, 4), -2, 3), Arg(values=_SEQ)), dtypes=INTS, grad=False, name="right"),
    Sample(lambda t, b: t.bucketize(0.0, b), (Arg(values=_SEQ),), grad=False, name="scalar")))
def bucketize(input, boundaries: Tensor, *, out_int32: bool = False, right: bool = False,
              out=None) -> Tensor:
    """The bucket of each value among 1-d `boundaries`: i with boundaries[i-1] < x <=
    boundaries[i] (or boundaries[i-1] <= x < boundaries[i] when right=True)."""
    if boundaries.ndim != 1:
        raise RuntimeError(f"bucketize(): boundaries tensor must be 1 dimension, but got dim"
                           f"({boundaries.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right, out=out)


# ---- counting: bincount, histc, histogram -------------------------------------------------------
@register("bincount", promote=None, differentiable=False, sized_by_values=True, samples=(
    Sample(lambda t, x: t.bincount(x), (Arg((10,), 0, 5),), dtypes=ALL_INT, grad=False),
    Sample(lambda t, x: x.bincount(minlength=8), (Arg((6,), 0, 3),), dtypes=INTS, grad=False,
           name="minlength"),
    Sample(lambda t, x, w: t.bincount(x, w), (Arg((10,), 0, 4, dtype="int64"), Arg((10,))),
           dtypes=FLOATS + ("float16", "int32", "bool"), grad=False, name="weights"),
    Sample(lambda t, x: t.bincount(x, minlength=3), (Arg((0,)),), dtypes=("int64",),
           grad=False, name="empty")))
class Bincount(OpDef):
    def forward(ctx, xp, x, weights=None, minlength=0):
        if x.size and x.min() < 0:
            raise RuntimeError(f"bincount(): only supports 1-d non-negative integral inputs, "
                               f"but the input holds {int(x.min())}")
        if weights is None:
            return xp.bincount(x, minlength=minlength).astype(np.int64)
        out = xp.bincount(x, weights=weights.astype(np.float64), minlength=minlength)
        return out.astype(np.float32 if weights.dtype == np.float32 else np.float64)


@tensor_method()
def bincount(input: Tensor, weights: Tensor | None = None, minlength: int = 0) -> Tensor:
    """Count the occurrences of each value in a 1-d tensor of non-negative integers (summing
    `weights` instead of ones when given).

    >>> import ember
    >>> ember.bincount(ember.tensor([1, 1, 3]))
    tensor([0, 2, 0, 1])
    """
    if input.dtype.category != D._INT:
        raise NotImplementedError(f"\"bincount_cpu\" not implemented for "
                                  f"'{_type_name(input.dtype)}' (bincount needs an integer "
                                  "tensor)")
    if input.ndim != 1:
        raise RuntimeError(f"bincount(): only supports 1-d non-negative integral inputs, but "
                           f"got a tensor of shape {list(input.shape)}")
    if minlength < 0:
        raise RuntimeError(f"bincount(): minlength should be >= 0, but got {minlength}")
    if weights is not None and list(weights.shape) != list(input.shape):
        raise RuntimeError(f"bincount(): weights should be 1-d and have the same length as "
                           f"input, but got weights of shape {list(weights.shape)} for input "
                           f"of shape {list(input.shape)}")
    return apply(Bincount, input, weights, minlength=int(minlength))


def _bin_counts(xp, x, edges, weights=None):
    """How many entries of flat `x` fall in each bin [edges[i], edges[i+1]) (the last bin also
    holds its right edge); values outside, and NaNs, are dropped."""
    bins = edges.shape[0] - 1
    idx, keep = _bin_index(xp, x.reshape(-1), edges)
    w = None if weights is None else weights.reshape(-1)[keep].astype(np.float64)
    return xp.bincount(idx[keep], weights=w, minlength=bins)[:bins]


def _bin_index(xp, x, edges):
    """The bin of each entry of 1-d `x` (bins [edges[i], edges[i+1]), the last closed), and
    a mask of the entries inside the edges (NaN is outside)."""
    bins = edges.shape[0] - 1
    idx = xp.searchsorted(edges, x, side="right") - 1
    idx = xp.where(x == edges[-1], bins - 1, idx)
    return idx, (idx >= 0) & (idx < bins)


def _linspace_edges(xp, lo: float, hi: float, bins: int, dtype):
    """`bins + 1` edges from lo to hi, rounded as PyTorch's linspace rounds them (each edge one
    fused multiply-add from the nearer end, emulated in a wider float), so that values lying on
    an edge land in the same bin as in PyTorch. Computed on the host: it is a handful of numbers."""
    dt = np.dtype(dtype)
    wide = np.longdouble if dt == np.float64 else np.float64
    lo, hi = dt.type(lo), dt.type(hi)
    step = wide((hi - lo) / dt.type(bins))
    i = np.arange(bins + 1, dtype=wide)
    edges = np.where(i < (bins + 1) // 2, wide(lo) + i * step, wide(hi) - (bins - i) * step)
    return xp.asarray(edges.astype(dt))


def _check_float_input(input: Tensor, kernel: str) -> None:
    if input.dtype.category != D._FLOAT:
        raise NotImplementedError(f"\"{kernel}\" not implemented for "
                                  f"'{_type_name(input.dtype)}' (it needs a floating point "
                                  "tensor; convert with .float())")


def _check_bins(bins: int, op: str) -> None:
    if bins <= 0:
        raise RuntimeError(f"{op}(): bins must be > 0, but got {bins}")


@register("histc", differentiable=False, samples=(
    Sample(lambda t, x: t.histc(x, bins=5), (Arg((20,)),), dtypes=FLOATS + ("float16",),
           grad=False),
    Sample(lambda t, x: x.histc(4, -1, 1), (Arg((4, 5)),), grad=False, name="range"),
    Sample(lambda t, x: t.histc(x, bins=3, min=0, max=0.9),
           (Arg(values=[0.3, 0.6, 0.9, 0.0, 0.45, -0.1, 1.0, _NAN]),), grad=False,
           name="edges"),
    Sample(lambda t, x: t.histc(x, bins=4), (Arg(values=[1.0, 1.0, 1.0]),), grad=False,
           name="constant"),
    Sample(lambda t, x: t.histc(x, bins=3), (Arg((0,)),), dtypes=("float32",), grad=False,
           name="empty")))
class Histc(OpDef):
    def forward(ctx, xp, x, bins, min=0.0, max=0.0):
        if min == max and x.size:
            min, max = float(x.min()), float(x.max())
        if min == max:
            min, max = min - 1, max + 1
        if not (math.isfinite(min) and math.isfinite(max)):
            raise RuntimeError(f"histc(): range of [{min}, {max}] is not finite (pass finite "
                               "min and max, or drop NaN/inf entries)")
        # position by linear interpolation in the input's dtype, as PyTorch's histc does (its
        # histogram instead settles values on bin edges: see _bin_counts)
        lo, hi = xp.asarray(min, dtype=x.dtype), xp.asarray(max, dtype=x.dtype)
        x = x.reshape(-1)
        x = x[(x >= lo) & (x <= hi)]
        idx = ((x - lo) * bins / (hi - lo)).astype(np.int64)
        counts = xp.bincount(xp.minimum(idx, bins - 1), minlength=bins)
        return counts.astype(x.dtype)


@tensor_method()
def histc(input: Tensor, bins: int = 100, min: float = 0, max: float = 0, *,
          out=None) -> Tensor:
    """A histogram of `bins` equal-width bins over [min, max] (the data's range when
    min == max); values outside are ignored.

    >>> import ember
    >>> ember.histc(ember.tensor([1., 2., 1.]), bins=4, min=0, max=3)
    tensor([0., 2., 1., 0.])
    """
    _check_float_input(input, "histogram_cpu")
    _check_bins(bins, "histc")
    if min > max:
        raise RuntimeError(f"histc(): max must be larger than min, but got min={min} max={max}")
    return write_out(apply(Histc, input, bins=int(bins), min=float(min), max=float(max)), out)


@register("histogram", promote=None, differentiable=False, samples=(
    Sample(lambda t, x: t.histogram(x, 4), (Arg((3, 4)),), grad=False),
    Sample(lambda t, x, w: x.histogram(3, range=(-1.0, 1.0), weight=w, density=True),
           (Arg((10,)), Arg((10,), 0, 2)), grad=False, name="weighted_density"),
    Sample(lambda t, x, e: t.histogram(x, e), (Arg((12,)), Arg(values=[-2.0, -0.5, 0.0, 1.5])),
           grad=False, name="edges"),
    Sample(lambda t, x: t.histogram(x, 4), (Arg(values=[1.0, 1.0, 1.0]),), grad=False,
           name="constant"),
    Sample(lambda t, x: t.histogram(x, 3), (Arg((0,)),), dtypes=("float32",), grad=False,
           name="empty")))
class Histogram(OpDef):
    def forward(ctx, xp, x, edges=None, weight=None, bins=None, range=None, density=False):
        if edges is None:
            lo, hi = range if range is not None else (
                (float(x.min()), float(x.max())) if x.size else (0.0, 1.0))
            if not (math.isfinite(lo) and math.isfinite(hi)):
                raise RuntimeError(f"histogram(): range [{lo}, {hi}] of the data is not finite "
                                   "(pass range=, or drop NaN/inf entries)")
            if lo == hi:
                lo, hi = lo - 0.5, hi + 0.5
            edges = _linspace_edges(xp, lo, hi, bins, x.dtype)
        hist = _bin_counts(xp, x, edges, weight)
        if density:
            hist = hist / (hist.sum() * xp.diff(edges.astype(np.float64)))
        return hist.astype(x.dtype), edges


@tensor_method()
def histogram(input: Tensor, bins=100, *, range: tuple | None = None,
              weight: Tensor | None = None, density: bool = False, out=None):
    """A histogram of the flattened input: `bins` equal-width bins (100 unless given, as
    torch's implementation) over `range` (default: the data's range), or the bin edges as a
    1-d tensor. Returns (hist, bin_edges)."""
    _check_float_input(input, "histogramdd")
    for name, t in (("weight", weight), ("bins", bins)):
        if isinstance(t, Tensor) and t.dtype is not input.dtype:
            raise RuntimeError(f"histogram(): input and {name} tensors should have the same "
                               f"dtype, but got {input.dtype.name} and {t.dtype.name}")
    if weight is not None and list(weight.shape) != list(input.shape):
        raise RuntimeError(f"histogram(): weight should have the same shape as input, but got "
                           f"{list(weight.shape)} and {list(input.shape)}")
    if isinstance(bins, Tensor):
        if bins.ndim != 1 or bins.shape[0] < 2:
            raise RuntimeError(f"histogram(): bins tensor should have one dimension and at "
                               f"least 2 elements, but got shape {list(bins.shape)}")
        result = apply(Histogram, input, bins, weight, density=bool(density))
    else:
        _check_bins(int(bins), "histogram")
        if range is not None and range[0] > range[1]:
            raise RuntimeError(f"histogram(): min should not exceed max, but got min "
                               f"{range[0]} max {range[1]}")
        if range is not None and not all(math.isfinite(v) for v in range):
            raise RuntimeError(f"histogram(): range of [{range[0]}, {range[1]}] is not finite")
        rng = None if range is None else (float(range[0]), float(range[1]))
        result = apply(Histogram, input, None, weight, bins=int(bins), range=rng,
                       density=bool(density))
    return return_types.histogram(*write_out(result, out))


@register("histogramdd", promote=None, differentiable=False, samples=(
    Sample(lambda t, x: t.histogramdd(x, bins=[3, 2]), (Arg((10, 2)),), grad=False),
    Sample(lambda t, x, w: t.histogramdd(x, 2, range=[-1.0, 1.0, 0.0, 2.0, -2.0, 2.0],
                                         weight=w, density=True),
           (Arg((4, 3, 3)), Arg((4, 3), 0, 2)), grad=False, name="weighted_density"),
    Sample(lambda t, x, a, b: t.histogramdd(x, [a, b]),
           (Arg((8, 2)), Arg(values=[-2.0, 0.0, 2.0]), Arg(values=[-1.0, 1.0])), grad=False,
           name="edges")))
class Histogramdd(OpDef):
    def forward(ctx, xp, x, weight, *edges, bins=None, range=None, density=False):
        x = x.reshape(-1, x.shape[-1])
        if not edges:
            edges = tuple(_linspace_edges(xp, *_data_range(xp, x[:, k], range, k), n, x.dtype)
                          for k, n in enumerate(bins))
        flat, keep = 0, xp.ones(x.shape[0], dtype=bool)
        for k, e in enumerate(edges):
            idx, inside = _bin_index(xp, x[:, k], e)
            flat, keep = flat * (e.shape[0] - 1) + idx, keep & inside
        shape = tuple(e.shape[0] - 1 for e in edges)
        w = None if weight is None else weight.reshape(-1)[keep].astype(np.float64)
        hist = xp.bincount(flat[keep], weights=w, minlength=math.prod(shape))[:math.prod(shape)]
        hist = hist.reshape(shape)
        if density:
            widths = [xp.diff(e.astype(np.float64)) for e in edges]
            volume = functools.reduce(lambda a, b: a[..., None] * b, widths)
            hist = hist / (hist.sum() * volume)
        return (hist.astype(x.dtype),) + tuple(edges)


def _data_range(xp, column, range, k: int) -> tuple:
    """Dimension k's histogram range: the given pair, else the data's (widened when empty)."""
    lo, hi = (range[2 * k], range[2 * k + 1]) if range is not None else (
        (float(column.min()), float(column.max())) if column.size else (0.0, 1.0))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise RuntimeError(f"histogramdd(): range of [{lo}, {hi}] in dimension {k} is not "
                           "finite (pass range=, or drop NaN/inf entries)")
    return (lo - 0.5, hi + 0.5) if lo == hi else (lo, hi)


def histogramdd(input: Tensor, bins=10, *, range=None, weight: Tensor | None = None,
                density: bool = False):
    """A D-dimensional histogram of the rows of `input` (..., D): `bins` is one count, D
    counts, or D 1-d tensors of edges; `range` is (min0, max0, min1, max1, ...).
    Returns (hist, bin_edges) with one edges tensor per dimension.

    >>> import ember
    >>> ember.histogramdd(ember.tensor([[0., 0.], [1., 1.]]), bins=2).hist
    tensor([[1., 0.],
            [0., 1.]])
    """
    _check_float_input(input, "histogramdd")
    if input.ndim < 2:
        raise RuntimeError("torch.histogramdd: input tensor should have at least 2 dimensions")
    dims = input.shape[-1]
    if weight is not None and list(weight.shape) != list(input.shape[:-1]):
        raise RuntimeError(f"histogramdd(): weight should have the shape of input without its "
                           f"last dimension, {list(input.shape[:-1])}, but got "
                           f"{list(weight.shape)}")
    if isinstance(bins, (list, tuple)) and bins and isinstance(bins[0], Tensor):
        if len(bins) != dims:
            raise RuntimeError("histogramdd: The size of bins must be equal to the innermost "
                               "dimension of the input.")
        return return_types.histogramdd(*_split_hist(apply(
            Histogramdd, input, weight, *bins, density=bool(density))))
    counts = [int(bins)] * dims if not isinstance(bins, (list, tuple)) else [int(b) for b in bins]
    if len(counts) != dims:
        raise RuntimeError("histogramdd: The size of bins must be equal to the innermost "
                           "dimension of the input.")
    for n in counts:
        _check_bins(n, "histogramdd")
    if range is not None and len(range) != 2 * dims:
        raise RuntimeError(f"histogramdd(): expected {2 * dims} range values (min and max for "
                           f"each of the {dims} dimensions), but got {len(range)}")
    rng = None if range is None else tuple(float(v) for v in range)
    return return_types.histogramdd(*_split_hist(apply(
        Histogramdd, input, weight, bins=tuple(counts), range=rng, density=bool(density))))


def _split_hist(result) -> tuple:
    return result[0], tuple(result[1:])


# ---- cdist ----------------------------------------------------------------------------------
_CDIST_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                "donot_use_mm_for_euclid_dist")


@register("cdist", samples=(
    Sample(lambda t, a, b: t.cdist(a, b), (Arg((3, 2)), Arg((4, 2)))),
    Sample(lambda t, a, b: t.cdist(a, b, p=1), (Arg((3, 2)), Arg((4, 2))), name="p1"),
    Sample(lambda t, a, b: t.cdist(a, b, p=0), (Arg((3, 2)), Arg((4, 2))), name="p0"),
    Sample(lambda t, a, b: t.cdist(a, b, p=1.5), (Arg((2, 3)), Arg((4, 3))), name="p1.5"),
    Sample(lambda t, a, b: t.cdist(a, b, p=0.5), (Arg((2, 3)), Arg((4, 3))), name="p0.5"),
    Sample(lambda t, a, b: t.cdist(a, b, p=3), (Arg((2, 3)), Arg((4, 3))), name="p3"),
    Sample(lambda t, a, b: t.cdist(a, b, p=float("inf")), (Arg((3, 2)), Arg((4, 2))),
           name="inf"),
    Sample(lambda t, a, b: t.cdist(a, b), (Arg((2, 1, 3, 2)), Arg((2, 4, 2))),
           name="batch_broadcast"),
    Sample(lambda t, a, b: t.cdist(a, b, compute_mode="use_mm_for_euclid_dist"),
           (Arg((3, 2)), Arg((4, 2))), name="mm"),
    Sample(lambda t, a: t.cdist(a, a[:2]), (Arg((3, 2)),), gradgrad=False, name="zero_dist"),
    Sample(lambda t, a, b: t.cdist(a, b), (Arg((0, 2)), Arg((3, 2))), dtypes=("float32",),
           grad=False, name="empty")))
class Cdist(OpDef):
    def forward(ctx, xp, x1, x2, p=2.0, use_mm=False):
        ctx.p = p
        if use_mm:
            sq1 = (x1 * x1).sum(-1)[..., :, None]
            sq2 = (x2 * x2).sum(-1)[..., None, :]
            d2 = sq1 + sq2 - 2 * xp.matmul(x1, xp.swapaxes(x2, -1, -2))
            dist = xp.sqrt(xp.maximum(d2, 1e-30))
        else:
            diff = xp.abs(x1[..., :, None, :] - x2[..., None, :, :])
            if p == 0:
                dist = (diff != 0).sum(-1).astype(x1.dtype)
            elif p == 1:
                dist = diff.sum(-1)
            elif p == 2:
                dist = xp.sqrt((diff * diff).sum(-1))
            elif math.isinf(p):
                dist = diff.max(-1) if diff.shape[-1] else diff.sum(-1)
            else:
                dist = (diff ** p).sum(-1) ** (1.0 / p)
        ctx.save(x1, x2, dist)
        return dist

    def backward(ctx, g):
        x1, x2, dist = ctx.saved
        p = ctx.p
        if p == 0:
            return x1 * 0, x2 * 0
        diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
        d = dist.unsqueeze(-1)
        sign = diff.sign()
        if p == 1:
            grad = sign
        elif math.isinf(p):
            grad = sign * (diff.abs() == d)
        else:
            safe_d = where(d == 0, 1.0, d)
            if p == 2:
                grad = diff / safe_d
            else:
                a = diff.abs()
                grad = sign * (where(a == 0, 1.0, a) / safe_d) ** (p - 1)
        w = g.unsqueeze(-1) * grad
        need = ctx.needs_input_grad
        return (w.sum(-2) if need[0] else None), (-w.sum(-3) if need[1] else None)


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0,
          compute_mode: str = "use_mm_for_euclid_dist_if_necessary") -> Tensor:
    """The p-norm distance between every row of x1 (..., P, M) and of x2 (..., R, M):
    a (..., P, R) tensor; batch dims broadcast.

    >>> import ember
    >>> ember.cdist(ember.tensor([[0., 0.]]), ember.tensor([[3., 4.], [1., 0.]]))
    tensor([[5., 1.]])
    """
    for name, x in (("X1", x1), ("X2", x2)):
        if x.dtype.category != D._FLOAT:
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: "
                               f"{_type_name(x.dtype)}")
        if x.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: "
                               f"{x.ndim}D")
    if x1.dtype is not x2.dtype:
        raise RuntimeError(f"cdist(): expected both inputs to have the same dtype, but X1 is "
                           f"{x1.dtype.name} and X2 is {x2.dtype.name}; convert one with .to()")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: "
                           f"{x1.shape[-1]} X2: {x2.shape[-1]}")
    if p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values, but got p={p}")
    dispatch.broadcast_shape(x1.shape[:-2], x2.shape[:-2])
    if compute_mode not in _CDIST_MODES:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode (expected one "
                         f"of {', '.join(_CDIST_MODES)})")
    use_mm = p == 2 and (compute_mode == _CDIST_MODES[1] or compute_mode == _CDIST_MODES[0] and (
        x1.shape[-2] > 25 or x2.shape[-2] > 25))
    return apply(Cdist, x1, x2, p=float(p), use_mm=use_mm)


# ---- comparison ------------------------------------------------------------------------------
def _expect_tensor(value, op: str, arg: str, position: int) -> None:
    if not isinstance(value, Tensor):
        raise TypeError(f"{op}(): argument '{arg}' (position {position}) must be Tensor, not "
                        f"{type(value).__name__}")


@composite(samples=(
    Sample(lambda t, x, y: t.equal(x, y), (Arg((3, 4)), Arg((3, 4))), dtypes=FLOATS + INTS,
           grad=False),
    Sample(lambda t, x: t.equal(x, x + 0), (Arg((3, 4)),), dtypes=ALL_INT + FLOATS, grad=False,
           name="same"),
    Sample(lambda t, x: x.equal(x.double()), (Arg((2, 3)),), dtypes=FLOATS + INTS, grad=False,
           name="promote"),
    Sample(lambda t, x, y: t.equal(x, y), (Arg((3,)), Arg((1, 3))), grad=False, name="shape"),
    Sample(lambda t, x: t.equal(x, x), (Arg(values=[1.0, _NAN]),), grad=False, name="nan")))
@tensor_method()
def equal(input: Tensor, other: Tensor) -> bool:
    """True when both tensors have the same shape and equal elements (NaN is never equal).

    >>> import ember
    >>> ember.equal(ember.tensor([1, 2]), ember.tensor([1., 2.]))
    True
    """
    _expect_tensor(other, "equal", "other", 2)
    if input.shape != other.shape:
        return False
    return not bool((input != other)._data.any())


def _check_tolerance(name: str, value: float) -> None:
    if value < 0:
        raise RuntimeError(f"allclose(): {name} must be greater than or equal to zero, but got "
                           f"{value}")


def _close(xp, a, b, rtol: float, atol: float, equal_nan: bool):
    """|a - b| <= atol + rtol * |b| elementwise; infinities only match themselves."""
    if a.dtype.kind not in "fc":
        a, b = a.astype(np.float64), b.astype(np.float64)
    close = a == b
    with np.errstate(invalid="ignore", over="ignore"):
        finite = xp.isfinite(a) & xp.isfinite(b)
        close |= finite & (xp.abs(a - b) <= atol + rtol * xp.abs(b))
    if equal_nan:
        close |= xp.isnan(a) & xp.isnan(b)
    return close


@composite(samples=(
    Sample(lambda t, x: t.allclose(x, x + 1e-6), (Arg((3, 4)),), grad=False),
    Sample(lambda t, x, y: x.allclose(y), (Arg((3, 4)), Arg((3, 4))), grad=False,
           name="different"),
    Sample(lambda t, x: t.allclose(x, x + 1, atol=1), (Arg((3, 4)),), dtypes=INTS + FLOATS,
           grad=False, name="atol"),
    Sample(lambda t, x: t.allclose(x, x * 1.01, rtol=0.02, atol=0), (Arg((2, 3), 1, 2),),
           grad=False, name="rtol"),
    Sample(lambda t, x, y: t.allclose(x, y), (Arg((2, 1, 3)), Arg((4, 3))), grad=False,
           name="broadcast"),
    Sample(lambda t, x: (t.allclose(x, x), t.allclose(x, x, equal_nan=True)),
           (Arg(values=[1.0, _NAN, float("inf")]),), grad=False, name="nan")))
@tensor_method()
def allclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """True when |input - other| <= atol + rtol * |other| everywhere (inputs broadcast and
    must share a dtype).

    >>> import ember
    >>> ember.allclose(ember.tensor([1., 2.]), ember.tensor([1., 2.000001]))
    True
    """
    _expect_tensor(other, "allclose", "other", 2)
    if input.dtype is not other.dtype:
        raise RuntimeError(f"allclose(): {_type_name(input.dtype)} did not match "
                           f"{_type_name(other.dtype)} (both tensors need the same dtype; "
                           "convert one with .to())")
    _check_tolerance("rtol", rtol)
    _check_tolerance("atol", atol)
    dispatch.broadcast_shape(input.shape, other.shape)
    if dispatch.observers:  # recorded: through ops, so the Python bool is a visible conversion
        return bool(isclose(input, other.to(input.device), rtol, atol, equal_nan).all())
    b = other._data if other.device == input.device else other.to(input.device)._data
    return bool(_close(namespace(input.device), input._data, b, rtol, atol, equal_nan).all())


# ---- predicates -----------------------------------------------------------------------------
@composite(samples=(
    Sample(lambda t, x: t.is_nonzero(x), (Arg((1,)),), dtypes=ALL, grad=False),
    Sample(lambda t, x: t.is_nonzero(x), (Arg(values=[[0.0]]),), dtypes=ALL, grad=False,
           name="zero")))
@tensor_method()
def is_nonzero(input: Tensor) -> bool:
    """Whether a one-element tensor is not zero (as bool(input) would say)."""
    _expect_tensor(input, "is_nonzero", "input", 1)
    n = input.numel()
    if n == 0:
        raise RuntimeError("is_nonzero(): Boolean value of Tensor with no values is ambiguous")
    if n > 1:
        raise RuntimeError(f"is_nonzero(): Boolean value of Tensor with more than one value is "
                           f"ambiguous (shape {list(input.shape)}); use .any() or .all()")
    return bool(input._data.reshape(()) != 0)


def is_floating_point(input: Tensor) -> bool:
    """Whether the tensor's dtype is a floating point type."""
    _expect_tensor(input, "is_floating_point", "input", 1)
    return input.is_floating_point()


def is_complex(input: Tensor) -> bool:
    """Whether the tensor's dtype is a complex type."""
    _expect_tensor(input, "is_complex", "input", 1)
    return input.is_complex()


def numel(input: Tensor) -> int:
    """The number of elements of a tensor."""
    _expect_tensor(input, "numel", "input", 1)
    return input.numel()


def is_storage(obj) -> bool:
    """Whether `obj` is a storage object; ember has no separate storages, so always False."""
    return False


__all__ = ["sort", "argsort", "msort", "topk", "kthvalue", "unique",
           "unique_consecutive", "searchsorted", "bucketize", "bincount", "histc", "histogram",
           "histogramdd",
           "cdist", "equal", "allclose", "is_nonzero", "is_floating_point", "is_complex", "numel",
           "is_storage"]
