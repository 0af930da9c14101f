"""Property tests against torch: broadcasting, type promotion and indexing on random inputs."""
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import ember

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32",
          "float64"]


def to_np(t):
    """A float64 (or bool) NumPy copy of a torch or ember tensor."""
    if isinstance(t, torch.Tensor):
        t = t.detach()
        return t.numpy() if t.dtype == torch.bool else t.double().numpy()
    return t.numpy() if t.dtype is ember.bool else t.double().numpy()


def outcome(fn):
    """('ok', value) or ('error', exception type) of fn()."""
    try:
        return "ok", fn()
    except (RuntimeError, IndexError, ValueError, TypeError) as e:
        return "error", type(e)


def assert_same_tensor(ours, theirs):
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert str(ours.dtype) == str(theirs.dtype)
    np.testing.assert_array_equal(to_np(ours), to_np(theirs))


def pair(data, dtype, shape):
    """The same random small-integer values as a torch and an ember tensor."""
    values = data.draw(st.lists(st.integers(-3, 3), min_size=int(np.prod(shape)),
                                max_size=int(np.prod(shape))))
    arr = np.array(values, dtype=np.float64).reshape(shape)
    if dtype == "bool":
        arr = arr > 0
    elif dtype == "uint8":
        arr = np.abs(arr)
    return (torch.tensor(arr, dtype=getattr(torch, dtype)),
            ember.tensor(arr, dtype=getattr(ember, dtype)))


# ---- broadcasting ---------------------------------------------------------------------------
BINARY = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
          "div": lambda a, b: a / b, "lt": lambda a, b: a < b}


@SETTINGS
@given(st.data(), mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4,
                                                 max_side=4), st.sampled_from(sorted(BINARY)))
def test_broadcastable_shapes(data, shapes, op):
    (ta, ea) = pair(data, "float32", shapes.input_shapes[0])
    (tb, eb) = pair(data, "float32", shapes.input_shapes[1])
    if op == "div":
        tb, eb = tb.abs() + 1, eb.abs() + 1
    fn = BINARY[op]
    ours, theirs = fn(ea, eb), fn(ta, tb)
    assert tuple(ours.shape) == shapes.result_shape
    assert_same_tensor(ours, theirs)


@SETTINGS
@given(st.data(), array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4),
       array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4),
       st.sampled_from(sorted(BINARY)))
def test_arbitrary_shape_pairs_broadcast_or_raise_like_torch(data, shape_a, shape_b, op):
    (ta, ea) = pair(data, "float32", shape_a)
    (tb, eb) = pair(data, "float32", shape_b)
    fn = BINARY[op]
    theirs = outcome(lambda: fn(ta, tb))
    ours = outcome(lambda: fn(ea, eb))
    assert ours[0] == theirs[0], (shape_a, shape_b, ours, theirs)
    if theirs[0] == "error":
        assert ours[1] is theirs[1] is RuntimeError
    else:
        assert_same_tensor(ours[1], theirs[1])


@SETTINGS
@given(st.data(), mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3,
                                                 max_side=3))
def test_broadcast_gradients_match_torch(data, shapes):
    (ta, ea) = pair(data, "float64", shapes.input_shapes[0])
    (tb, eb) = pair(data, "float64", shapes.input_shapes[1])
    for t in (ta, tb, ea, eb):
        t.requires_grad_()
    (ta * tb + ta).sum().backward()
    (ea * eb + ea).sum().backward()
    assert_same_tensor(ea.grad, ta.grad)
    assert_same_tensor(eb.grad, tb.grad)


# ---- type promotion -----------------------------------------------------------------------
def operand(kind, dtype, value):
    """(torch operand, ember operand): a 1-d tensor, a 0-d tensor or a Python scalar."""
    if kind == "scalar":
        scalar = {"bool": bool(value), "float": float(value) + 0.5}.get(dtype, int(value))
        return scalar, scalar
    shape = () if kind == "0d" else (3,)
    arr = np.full(shape, abs(value) if dtype in ("uint8", "bool") else value, dtype=np.float64)
    if dtype == "bool":
        arr = arr > 0
    return (torch.tensor(arr, dtype=getattr(torch, dtype)),
            ember.tensor(arr, dtype=getattr(ember, dtype)))


OPERANDS = st.one_of(
    st.tuples(st.sampled_from(["tensor", "0d"]), st.sampled_from(DTYPES), st.integers(-3, 3)),
    st.tuples(st.just("scalar"), st.sampled_from(["bool", "int", "float"]),
              st.integers(0, 3)))


@SETTINGS
@given(OPERANDS, OPERANDS, st.sampled_from(["add", "mul"]))
def test_type_promotion_matches_torch(a, b, op):
    assume(a[0] != "scalar" or b[0] != "scalar")
    ta, ea = operand(*a)
    tb, eb = operand(*b)
    expected = torch.result_type(ta, tb)
    assert str(ember.result_type(ea, eb)) == str(expected)
    fn = BINARY[op]
    theirs = outcome(lambda: fn(ta, tb))
    ours = outcome(lambda: fn(ea, eb))
    assert ours[0] == theirs[0], (a, b, ours, theirs)
    if theirs[0] == "ok":
        assert str(ours[1].dtype) == str(theirs[1].dtype) == str(expected)
        assert_same_tensor(ours[1], theirs[1])
    else:
        assert ours[1] is theirs[1]


@SETTINGS
@given(st.sampled_from(DTYPES), st.sampled_from(DTYPES))
def test_promote_types_table(a, b):
    assert str(ember.promote_types(getattr(ember, a), getattr(ember, b))) == \
        str(torch.promote_types(getattr(torch, a), getattr(torch, b)))


@SETTINGS
@given(st.sampled_from(["int8", "int16", "int32", "int64"]), st.integers(-200, 200),
       st.sampled_from(["add", "mul"]))
def test_int_scalar_results_wrap_like_torch(dtype, scalar, op):
    ta = torch.tensor([1, -2, 3], dtype=getattr(torch, dtype))
    ea = ember.tensor([1, -2, 3], dtype=getattr(ember, dtype))
    fn = BINARY[op]
    assert_same_tensor(fn(ea, scalar), fn(ta, scalar))


# ---- indexing -------------------------------------------------------------------------------
def _index_component(draw, size):
    """One index component for a dimension of `size` (None when the dim is past the end)."""
    kinds = ["int", "slice", "slice", "none", "mask"]
    if size:
        # On an empty dim any int list is out of range; torch skips the check when another
        # index (an empty mask) makes the result empty, NumPy does not: a corner left alone.
        kinds += ["list", "tensor"]
    kind = draw(st.sampled_from(kinds))
    bound = max(size, 1)
    if kind == "int":
        return draw(st.integers(-bound - 1, bound)), 1
    if kind == "slice":
        start = draw(st.none() | st.integers(-bound - 2, bound + 2))
        stop = draw(st.none() | st.integers(-bound - 2, bound + 2))
        step = draw(st.none() | st.integers(1, 3))
        return slice(start, stop, step), 1
    if kind == "none":
        return None, 0
    if kind in ("list", "tensor"):
        # Distinct positions (-1 and size-1 are one), so setitem never writes a place twice.
        values = draw(st.lists(st.integers(-bound, bound - 1), min_size=1, max_size=3,
                               unique_by=lambda v: v % bound))
        return (values if kind == "list" else ("long", values)), 1
    mask = draw(st.lists(st.booleans(), min_size=size, max_size=size))
    return ("mask", mask), 1


@st.composite
def index_cases(draw):
    """(shape, index) with ints, slices, None, one Ellipsis, int lists/tensors and masks."""
    shape = draw(array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4))
    n_items = draw(st.integers(1, min(len(shape) + 2, 5)))
    ellipsis_at = draw(st.none() | st.integers(0, n_items))
    items = []
    dim = 0
    for i in range(n_items):
        if i == ellipsis_at:
            items.append(Ellipsis)
            dim = max(dim, len(shape) - (n_items - i))
        size = shape[dim] if dim < len(shape) else 1
        item, used = _index_component(draw, size)
        items.append(item)
        dim += used
    if ellipsis_at == n_items:
        items.append(Ellipsis)
    return shape, tuple(items)


def realize(lib, index):
    """The index with int-tensor and mask entries built for `lib`."""
    out = []
    for item in index:
        if isinstance(item, tuple) and item[0] == "long":
            out.append(lib.tensor(item[1], dtype=lib.int64))
        elif isinstance(item, tuple) and item[0] == "mask":
            out.append(lib.tensor(item[1], dtype=lib.bool))
        else:
            out.append(item)
    return tuple(out)


def base_tensors(shape):
    arr = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    return torch.tensor(arr), ember.tensor(arr)


@SETTINGS
@given(index_cases())
def test_getitem_matches_torch(case):
    shape, index = case
    tx, ex = base_tensors(shape)
    theirs = outcome(lambda: tx[realize(torch, index)])
    ours = outcome(lambda: ex[realize(ember, index)])
    assert ours[0] == theirs[0], (shape, index, ours, theirs)
    if theirs[0] == "ok":
        assert_same_tensor(ours[1], theirs[1])
    else:
        assert ours[1] is theirs[1], (shape, index, ours[1], theirs[1])


@SETTINGS
@given(index_cases(), st.sampled_from(["scalar", "full", "row"]))
def test_setitem_matches_torch(case, value_kind):
    shape, index = case
    tx, ex = base_tensors(shape)
    got = outcome(lambda: tx[realize(torch, index)].shape)
    if got[0] == "ok" and value_kind != "scalar" and len(got[1]):
        target = tuple(got[1]) if value_kind == "full" else tuple(got[1])[-1:]
        arr = -1 - np.arange(int(np.prod(target)), dtype=np.float32).reshape(target)
        tv, ev = torch.tensor(arr), ember.tensor(arr)
    else:
        tv = ev = -7.0

    def assign(x, lib, value):
        x[realize(lib, index)] = value
        return x

    theirs = outcome(lambda: assign(tx, torch, tv))
    ours = outcome(lambda: assign(ex, ember, ev))
    assert ours[0] == theirs[0], (shape, index, ours, theirs)
    if theirs[0] == "ok":
        assert_same_tensor(ours[1], theirs[1])
    else:
        assert ours[1] is theirs[1], (shape, index, ours[1], theirs[1])


@SETTINGS
@given(index_cases())
def test_getitem_gradient_matches_torch(case):
    shape, index = case
    tx, ex = base_tensors(shape)
    tx.requires_grad_()
    ex.requires_grad_()
    theirs = outcome(lambda: tx[realize(torch, index)])
    assume(theirs[0] == "ok")
    ours = ex[realize(ember, index)]
    weights = np.arange(ours.numel(), dtype=np.float32).reshape(tuple(ours.shape)) + 1
    (theirs[1] * torch.tensor(weights)).sum().backward()
    (ours * ember.tensor(weights)).sum().backward()
    assert_same_tensor(ex.grad, tx.grad)


def test_slice_steps_must_be_positive():
    for lib in (torch, ember):
        x = lib.arange(6)
        with pytest.raises(ValueError):
            x[::-1]
