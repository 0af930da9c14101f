"""Shape and view ops against torch: which results are views (shared memory, version counter,
writes visible in the base) and which are copies, indexing semantics, error types and
messages, and autograd through views written in place."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import ember

from .harness import assert_same


def _data(shape, dtype="float32", seed=0):
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.random(shape) > 0.5
    if dtype.startswith(("int", "uint")):
        return rng.integers(0, 5, size=shape).astype(dtype)
    return rng.uniform(-2, 2, size=shape).astype(dtype)


def _pair(shape, dtype="float32", seed=0, requires_grad=False):
    """The same data as a torch and an ember tensor."""
    arr = _data(shape, dtype, seed)
    return (torch.tensor(arr, requires_grad=requires_grad),
            ember.tensor(arr, requires_grad=requires_grad))


def _run_both(fn, *shapes, dtype="float32"):
    tt, et = zip(*(_pair(s, dtype, seed=i) for i, s in enumerate(shapes)))
    return fn(torch, *tt), fn(ember, *et)


def _shares(a, b) -> bool:
    return np.may_share_memory(a._data if isinstance(a, ember.Tensor) else a.numpy(),
                               b._data if isinstance(b, ember.Tensor) else b.numpy())


# ---- views and copies: the same as torch ---------------------------------------------------
VIEW_CASES = {
    "view": (lambda t, x: x.view(4, 3), (3, 4)),
    "reshape_contig": (lambda t, x: x.reshape(2, 6), (3, 4)),
    "reshape_noncontig": (lambda t, x: x.t().reshape(12), (3, 4)),
    "flatten": (lambda t, x: x.flatten(1), (2, 3, 4)),
    "flatten_noncontig": (lambda t, x: x.transpose(0, 2).flatten(), (2, 3, 4)),
    "unflatten": (lambda t, x: x.unflatten(1, (2, -1)), (3, 4)),
    "ravel": (lambda t, x: x.ravel(), (3, 4)),
    "ravel_noncontig": (lambda t, x: x.t().ravel(), (3, 4)),
    "clone": (lambda t, x: x.clone(), (3, 4)),
    "contiguous_copy": (lambda t, x: x.t().contiguous(), (3, 4)),
    "expand": (lambda t, x: x.expand(2, 3, 4), (3, 4)),
    "broadcast_to": (lambda t, x: t.broadcast_to(x, (2, 3, 4)), (3, 1)),
    "permute": (lambda t, x: x.permute(1, 0), (3, 4)),
    "movedim": (lambda t, x: t.movedim(x, 0, 1), (3, 4)),
    "swapaxes": (lambda t, x: x.swapaxes(0, 1), (3, 4)),
    "squeeze": (lambda t, x: x.squeeze(), (3, 1, 4)),
    "unsqueeze": (lambda t, x: x.unsqueeze(0), (3, 4)),
    "atleast_3d": (lambda t, x: t.atleast_3d(x), (3, 4)),
    "narrow": (lambda t, x: x.narrow(1, 1, 2), (3, 4)),
    "select": (lambda t, x: x.select(1, 2), (3, 4)),
    "diagonal": (lambda t, x: x.diagonal(1), (3, 4)),
    "diag_2d": (lambda t, x: t.diag(x, 1), (3, 4)),
    "getitem_basic": (lambda t, x: x[1:, ::2], (3, 4)),
    "getitem_int": (lambda t, x: x[1, 2], (3, 4)),
    "getitem_0d_tensor": (lambda t, x: x[t.tensor(1)], (3, 4)),
    "getitem_none": (lambda t, x: x[None, ..., 1], (3, 4)),
    "getitem_list": (lambda t, x: x[[0, 2]], (3, 4)),
    "getitem_mask": (lambda t, x: x[x > 0], (3, 4)),
    "getitem_bool": (lambda t, x: x[True], (3, 4)),
    "getitem_mixed": (lambda t, x: x[0, :, [1, 2]], (2, 3, 4)),
    "view_as": (lambda t, x: x.view_as(t.zeros(4, 3)), (3, 4)),
    "reshape_as": (lambda t, x: x.reshape_as(t.zeros(12)), (3, 4)),
    "flip": (lambda t, x: x.flip(0), (3, 4)),
    "fliplr": (lambda t, x: x.fliplr(), (3, 4)),
    "roll": (lambda t, x: x.roll(1, 0), (3, 4)),
    "rot90": (lambda t, x: x.rot90(), (3, 4)),
    "rot90_k0": (lambda t, x: x.rot90(0), (3, 4)),
    "tril": (lambda t, x: x.tril(), (3, 4)),
    "repeat_ones": (lambda t, x: x.repeat(1, 1), (3, 4)),
    "tile": (lambda t, x: x.tile((1,)), (3, 4)),
    "repeat_interleave_1": (lambda t, x: x.repeat_interleave(1, dim=0), (3, 4)),
    "cat_single": (lambda t, x: t.cat([x]), (3, 4)),
    "stack_single": (lambda t, x: t.stack([x]), (3, 4)),
    "diag_embed": (lambda t, x: t.diag_embed(x), (3, 4)),
    "trace": (lambda t, x: x.trace(), (3, 4)),
}


@pytest.mark.parametrize("name", sorted(VIEW_CASES))
def test_view_or_copy_like_torch(name):
    fn, shape = VIEW_CASES[name]
    xt, xe = _pair(shape)
    rt, re = fn(torch, xt), fn(ember, xe)
    assert_same(re, rt, 1e-6, 1e-6, name)
    torch_view = rt.data_ptr() >= xt.data_ptr() and \
        rt.data_ptr() < xt.data_ptr() + xt.numel() * xt.element_size() and rt.numel() > 0
    assert _shares(re, xe) == torch_view, f"{name}: view is {_shares(re, xe)}, torch {torch_view}"
    assert re.is_contiguous() == rt.is_contiguous(), name
    if torch_view:
        assert re._base is xe and re._version == xe._version
        assert re.storage_offset() == rt.storage_offset()
        # NumPy gives inserted size-1 dimensions stride 0; only the others must agree.
        assert [st for st, n in zip(re.stride(), re.shape) if n > 1] == \
            [st for st, n in zip(rt.stride(), rt.shape) if n > 1]


SPLIT_CASES = {
    "split": lambda t, x: x.split(2),
    "split_sizes": lambda t, x: t.split(x, [1, 3], 1),
    "tensor_split": lambda t, x: x.tensor_split(3, 1),
    "tensor_split_indices": lambda t, x: x.tensor_split([1, 3, 2, 10], 1),
    "chunk": lambda t, x: x.chunk(2, 1),
    "unbind": lambda t, x: x.unbind(1),
    "hsplit": lambda t, x: x.hsplit(2),
    "vsplit": lambda t, x: x.vsplit([1]),
    "meshgrid": lambda t, x: t.meshgrid(x[0], x[1], indexing="xy"),
    "broadcast_tensors": lambda t, x: t.broadcast_tensors(x, x[0]),
    "atleast_1d": lambda t, x: t.atleast_1d(x, x[0, 0]),
}


@pytest.mark.parametrize("name", sorted(SPLIT_CASES))
def test_multi_output_views(name):
    xt, xe = _pair((3, 4))
    rt, re = SPLIT_CASES[name](torch, xt), SPLIT_CASES[name](ember, xe)
    assert isinstance(re, tuple) and len(re) == len(rt)
    assert_same(re, rt, 0, 0, name)
    for piece in re:
        if piece.numel():
            assert _shares(piece, xe) and (piece is xe or piece._base is xe)
    with ember.no_grad():
        for piece in re:
            if piece.numel() and piece._data.flags.writeable:
                piece.mul_(0)
    if any(p.numel() and p._data.flags.writeable for p in re):
        assert xe._version > 0


def test_returns_self_like_torch():
    for lib in (torch, ember):
        x = lib.ones(3, 4)
        assert x.contiguous() is x
        assert x.flatten(1, 1) is x and x.flatten(0, 0) is x
        assert lib.atleast_1d(x) is x and lib.atleast_2d(x) is x
        assert x.t().contiguous() is not x
        y = lib.ones(3)
        assert y.flatten() is y and lib.cartesian_prod(y) is y


def test_clone_keeps_layout_of_dense_tensors():
    for lib in (torch, ember):
        x = lib.ones(3, 4)
        assert not x.t().clone().is_contiguous()
        assert x.t().clone().stride() == (1, 4)
        assert x.expand(2, 3, 4).clone().stride() == (12, 4, 1)


def test_memory_formats_like_torch():
    for lib in (torch, ember):
        x = lib.ones(2, 3, 4, 5)
        cl = x.contiguous(memory_format=lib.channels_last)
        assert cl.stride() == (60, 1, 15, 3) and not cl.is_contiguous()
        assert cl.contiguous(memory_format=lib.channels_last) is cl
        assert cl.contiguous().stride() == (60, 20, 5, 1)
        assert cl.clone().stride() == (60, 1, 15, 3)
        assert cl.clone(memory_format=lib.contiguous_format).is_contiguous()
        assert x.clone(memory_format=lib.preserve_format).stride() == (60, 20, 5, 1)
        assert lib.ones(2, 3, 4, 5, 6).contiguous(
            memory_format=lib.channels_last_3d).stride() == (360, 1, 90, 18, 3)
        with pytest.raises(RuntimeError, match="required rank 4 tensor to use channels_last"):
            lib.ones(2, 3).clone(memory_format=lib.channels_last)
    assert repr(ember.channels_last) == repr(torch.channels_last)


def test_to_memory_format_like_torch():
    for lib in (torch, ember):
        x = lib.ones(2, 3, 4, 5, requires_grad=True)
        cl = x.to(memory_format=lib.channels_last)
        assert cl.stride() == (60, 1, 15, 3) and cl.requires_grad
        assert cl.to(memory_format=lib.channels_last) is cl
        assert cl.to(memory_format=lib.preserve_format) is cl
        assert cl.to(lib.float64, memory_format=lib.channels_last).stride() == (60, 1, 15, 3)
        assert cl.to(memory_format=lib.contiguous_format).stride() == (60, 20, 5, 1)
        assert cl.to(lib.float64).stride() == (60, 1, 15, 3)
        (cl * lib.arange(5.0)).sum().backward()
        assert x.grad[0, 0, 0].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
        with pytest.raises(RuntimeError, match="required rank 4 tensor to use channels_last"):
            lib.ones(2, 3).to(memory_format=lib.channels_last)


def test_view_dtype_reinterprets_bytes_like_torch():
    for src, dst, shape in [("float32", "int32", (2, 3)), ("int16", "uint8", (2, 3)),
                            ("uint8", "int16", (3, 4)), ("bool", "uint8", (4,)),
                            ("float64", "float32", (2,))]:
        xt, xe = _pair(shape, src)
        rt, re = xt.view(getattr(torch, dst)), xe.view(getattr(ember, dst))
        assert_same(re, rt, 0, 0, f"{src}->{dst}")
        assert _shares(re, xe) and re._base is xe


def test_writes_through_views_reach_the_base():
    results = []
    for lib in (torch, ember):
        x = lib.zeros(3, 4)
        x[1:, ::2][0].fill_(1)
        x.t()[3].add_(2)
        x.diagonal()[...] = 5
        a, b = x.split([1, 2])
        b[1, 1] = 7
        rows = x.unbind(0)
        rows[0][0] = -1
        x.tensor_split([1, 3])[1].view(-1)[4] = 9
        assert x._version == a._version == rows[2]._version
        results.append((x.tolist(), x._version))
    assert results[0] == results[1]


def test_version_counter_shared_by_views():
    for lib in (torch, ember):
        z = lib.zeros(3)
        v0 = z._version
        z[0] = 1
        w = z[1:]
        w.add_(1)
        assert z._version == w._version == v0 + 2
        u = z.view(3, 1)
        u.mul_(2)
        assert z._version == w._version == u._version == v0 + 3


def test_expanded_views_refuse_writes():
    x = ember.ones(3, 1).expand(3, 4)
    with pytest.raises(RuntimeError, match="more than one element"):
        x[0] = 2.0


# ---- cat / stack ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtypes,expected", [
    (("float32", "float64"), "float64"), (("int32", "uint8", "bool"), "int32"),
    (("int32", "float16"), "float16"), (("bool", "bool"), "bool"),
    (("uint8", "int8"), "int16")])
def test_cat_promotes_like_torch(dtypes, expected):
    ts = [torch.tensor(_data((2, 3), d, i)) for i, d in enumerate(dtypes)]
    es = [ember.tensor(_data((2, 3), d, i)) for i, d in enumerate(dtypes)]
    out = ember.cat(es, 1)
    assert str(out.dtype) == f"torch.{expected}"
    assert_same(out, torch.cat(ts, 1), 1e-3, 1e-3, "cat")


def test_cat_skips_legacy_empty_tensors():
    for lib in (torch, ember):
        e = lib.tensor([], dtype=lib.float64)
        out = lib.cat([e, lib.ones(2, 3), e])
        assert out.shape == (2, 3) and out.dtype == lib.float64
        assert lib.cat([lib.ones(0), lib.ones(0)]).shape == (0,)


def test_cat_out():
    for lib in (torch, ember):
        out = lib.empty(0)
        res = lib.cat([lib.ones(2), lib.zeros(1)], out=out)
        assert res is out and out.tolist() == [1.0, 1.0, 0.0]


def test_meshgrid_warns_only_without_indexing():
    x, y = ember.ones(2), ember.ones(3)
    with pytest.warns(UserWarning, match="indexing argument"):
        ember.meshgrid(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ember.meshgrid(x, y, indexing="ij")
        ember.meshgrid(x, y, indexing="xy")


# ---- indexing semantics --------------------------------------------------------------------
KEYS = {
    "int": lambda t: 1,
    "neg_int": lambda t: -1,
    "ints": lambda t: (2, -1),
    "slice": lambda t: slice(1, None),
    "slice_step": lambda t: (slice(None), slice(None, None, 2)),
    "slice_out_of_range": lambda t: slice(-10, 10),
    "slice_tensor_bounds": lambda t: slice(t.tensor(1), t.tensor(3)),
    "none": lambda t: (None, 1, None),
    "ellipsis": lambda t: (Ellipsis, 1),
    "ellipsis_middle": lambda t: (0, Ellipsis, 1),
    "only_ellipsis": lambda t: Ellipsis,
    "empty_tuple": lambda t: (),
    "list": lambda t: [0, 2, 2],
    "nested_list_as_tuple": lambda t: [[0, 1], [1, 2]],
    "list_with_slice": lambda t: [0, slice(None)],
    "empty_list": lambda t: [],
    "bool_list": lambda t: [True, False, True],
    "long_tensor": lambda t: t.tensor([[0, 1], [2, 0]]),
    "int32_tensor": lambda t: t.tensor([2, 1], dtype=t.int32),
    "zero_d_tensor": lambda t: (t.tensor(1), t.tensor(-1)),
    "bool_mask": lambda t: t.tensor([True, False, True]),
    "uint8_mask": lambda t: t.tensor([1, 0, 1], dtype=t.uint8),
    "bool_true": lambda t: True,
    "bool_false": lambda t: (slice(None), False),
    "bool_0d_tensor": lambda t: t.tensor(True),
    "two_lists": lambda t: ([0, 2], [1, 3]),
    "broadcast_arrays": lambda t: (t.tensor([[0], [2]]), t.tensor([1, 3])),
    "int_and_list": lambda t: (1, [0, 3]),
    "slice_and_list": lambda t: (slice(1, None), [0, 0, 3]),
    "list_slice_list": lambda t: ([0, 1], slice(None), [3, 0]),
    "int_slice_list_3d": lambda t: (0, slice(None), [1, 2]),
    "list_slice_int_3d": lambda t: ([0, 1], slice(1, None), 0),
    "ellipsis_list_none": lambda t: (Ellipsis, [0, 1], None),
    "mask_then_list": lambda t: (t.tensor([True, False, True]), [0, 3]),
    "mask_2d": lambda t: t.tensor([[True, False, True, False]] * 3),
}
THREE_D = {"int_slice_list_3d", "list_slice_int_3d", "list_slice_list"}


@pytest.mark.parametrize("name", sorted(KEYS))
def test_getitem_like_torch(name):
    shape = (2, 3, 4) if name in THREE_D else (3, 4)
    xt, xe = _pair(shape, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rt, re = xt[KEYS[name](torch)], xe[KEYS[name](ember)]
    assert_same(re, rt, 0, 0, name)
    torch_view = rt.numel() > 0 and rt.data_ptr() >= xt.data_ptr() and \
        rt.data_ptr() < xt.data_ptr() + xt.numel() * 4
    assert _shares(re, xe) == torch_view, name


@pytest.mark.parametrize("name", sorted(KEYS))
def test_getitem_backward_like_torch(name):
    shape = (2, 3, 4) if name in THREE_D else (3, 4)
    xt, xe = _pair(shape, dtype="float64", seed=3, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rt, re = xt[KEYS[name](torch)], xe[KEYS[name](ember)]
    cot = _data(tuple(rt.shape), "float64", seed=4)
    (rt * torch.tensor(cot)).sum().backward()
    (re * ember.tensor(cot)).sum().backward()
    assert_same(xe.grad, xt.grad, 1e-12, 0, name)


def test_getitem_warnings_like_torch():
    x = ember.ones(3, 4)
    with pytest.warns(UserWarning, match="non-tuple sequence"):
        x[[[0, 1], [1, 2]]]
    with pytest.warns(UserWarning, match="uint8"):
        x[ember.tensor([1, 0, 1], dtype=ember.uint8)]


SETS = {
    "row_scalar": (lambda t: 1, lambda t: 2.5),
    "neg_col": (lambda t: (slice(None), -1), lambda t: t.tensor([1.0, 2.0, 3.0])),
    "broadcast": (lambda t: (slice(None), slice(1, 3)), lambda t: t.tensor([[7.0, 8.0]])),
    "lead_ones": (lambda t: 0, lambda t: t.ones(1, 1, 4)),
    "float64_value": (lambda t: 0, lambda t: t.tensor([1.5, 2, 3, 4], dtype=t.float64)),
    "int_value": (lambda t: 0, lambda t: t.tensor([1, 2, 3, 4])),
    "0d_value": (lambda t: [0, 2], lambda t: t.tensor(9.0)),
    "mask": (lambda t: t.tensor([[True, False, False, True]] * 3), lambda t: -1),
    "duplicates_last_wins": (lambda t: t.tensor([0, 0]), lambda t: t.tensor([[1.0] * 4,
                                                                            [2.0] * 4])),
    "mixed_int_list": (lambda t: (1, [0, 3]), lambda t: t.tensor([5.0, 6.0])),
    "pairs": (lambda t: ([0, 2], [1, 3]), lambda t: t.tensor([5.0, 6.0])),
    "ellipsis_none": (lambda t: (Ellipsis, None, 1), lambda t: 3.0),
    "bool_true": (lambda t: True, lambda t: 4.0),
}


@pytest.mark.parametrize("name", sorted(SETS))
def test_setitem_like_torch(name):
    key, value = SETS[name]
    xt, xe = _pair((3, 4), seed=5)
    xt[key(torch)] = value(torch)
    xe[key(ember)] = value(ember)
    assert_same(xe, xt, 0, 0, name)
    assert xe._version == 1


@pytest.mark.parametrize("dtype,value", [
    ("int64", 2.7), ("int64", -2.7), ("uint8", -1), ("bool", 2.7), ("bool", 0),
    ("int32", True), ("float16", 1e-3)])
def test_setitem_casts_scalars_like_torch(dtype, value):
    xt = torch.zeros(3, dtype=getattr(torch, dtype))
    xe = ember.zeros(3, dtype=getattr(ember, dtype))
    xt[1] = value
    xe[1] = value
    assert_same(xe, xt, 0, 0, dtype)


def test_setitem_casts_tensor_values_like_torch():
    for src, dst in [("float32", "int64"), ("int64", "uint8"), ("float64", "float16"),
                     ("int64", "bool")]:
        vals = [1.7, -2.2, 300.0] if src.startswith("float") else [300, -1, 0]
        xt = torch.zeros(2, 3, dtype=getattr(torch, dst))
        xe = ember.zeros(2, 3, dtype=getattr(ember, dst))
        xt[0] = torch.tensor(vals, dtype=getattr(torch, src))
        xe[0] = ember.tensor(vals, dtype=getattr(ember, src))
        assert_same(xe, xt, 1e-3, 0, f"{src}->{dst}")


# ---- errors: type (and message where ours is torch's) ----------------------------------------
ERRORS = {
    # name: (fn, exact message?)
    "cat_sizes": (lambda t: t.cat([t.ones(2, 3), t.ones(3, 3)], 1), True),
    "cat_ndim": (lambda t: t.cat([t.ones(2, 3), t.ones(2, 3, 1)]), True),
    "cat_0d": (lambda t: t.cat([t.tensor(1.0), t.ones(2)]), True),
    "cat_empty_list": (lambda t: t.cat([]), True),
    "cat_dim": (lambda t: t.cat([t.ones(2, 3)], 2), True),
    "cat_tensor_arg": (lambda t: t.cat(t.ones(2, 3)), True),
    "stack_sizes": (lambda t: t.stack([t.ones(2, 3), t.ones(3, 3)]), True),
    "stack_empty": (lambda t: t.stack([]), True),
    "view_noncontig": (lambda t: t.ones(3, 4).t().view(12), True),
    "view_bad_shape": (lambda t: t.ones(3, 4).view(5, 3), True),
    "view_two_inferred": (lambda t: t.ones(3, 4).view(-1, -1), True),
    "view_negative": (lambda t: t.ones(3, 4).view(-2, 6), True),
    "reshape_bad": (lambda t: t.ones(3, 4).reshape(5, -1), True),
    "flatten_order": (lambda t: t.ones(3, 4).flatten(1, 0), True),
    "unflatten_product": (lambda t: t.ones(3, 4).unflatten(1, (3, 2)), True),
    "unflatten_empty": (lambda t: t.ones(3, 4).unflatten(1, ()), True),
    "expand_mismatch": (lambda t: t.ones(2, 3).expand(3, 3), True),
    "expand_too_few": (lambda t: t.ones(2, 3).expand(3), True),
    "broadcast_tensors": (lambda t: t.broadcast_tensors(t.ones(2, 1), t.ones(3, 3)), True),
    "broadcast_shapes": (lambda t: t.broadcast_shapes((2, 1), (3, 2)), True),
    "permute_len": (lambda t: t.ones(2, 3).permute(0), True),
    "movedim_len": (lambda t: t.ones(2, 3).movedim((0, 1), (1,)), True),
    "movedim_repeat": (lambda t: t.ones(2, 3).movedim((0, 1), (1, 1)), True),
    "split_negative": (lambda t: t.ones(4).split(-1), True),
    "split_zero": (lambda t: t.ones(4).split(0), True),
    "split_sizes_sum": (lambda t: t.ones(2, 3).split([1, 1], 1), True),
    "split_0d": (lambda t: t.tensor(1.0).split(1), True),
    "tensor_split_zero": (lambda t: t.ones(4).tensor_split(0), True),
    "tensor_split_float": (lambda t: t.ones(4).tensor_split(t.tensor([1.0])), True),
    "tensor_split_2d": (lambda t: t.ones(4).tensor_split(t.tensor([[1]])), True),
    "chunk_zero": (lambda t: t.ones(4).chunk(0), True),
    "hsplit_divisible": (lambda t: t.ones(4, 3).hsplit(2), True),
    "dsplit_ndim": (lambda t: t.ones(4, 3).dsplit(1), True),
    "unbind_0d": (lambda t: t.tensor(1.0).unbind(), True),
    "narrow_start": (lambda t: t.ones(4, 3).narrow(0, 5, 1), True),
    "narrow_length": (lambda t: t.ones(4, 3).narrow(0, 2, 3), True),
    "narrow_negative_length": (lambda t: t.ones(4, 3).narrow(0, 2, -1), True),
    "narrow_0d": (lambda t: t.tensor(1.0).narrow(0, 0, 1), True),
    "select_index": (lambda t: t.ones(4, 3).select(0, 4), True),
    "select_0d": (lambda t: t.tensor(1.0).select(0, 0), True),
    "flip_repeated": (lambda t: t.ones(4, 3).flip(0, 0), True),
    "fliplr_1d": (lambda t: t.ones(3).fliplr(), True),
    "flipud_0d": (lambda t: t.tensor(1.0).flipud(), True),
    "roll_align": (lambda t: t.ones(4, 3).roll((1, 2), (0,)), True),
    "roll_no_dims": (lambda t: t.ones(4, 3).roll((1, 2)), True),
    "roll_empty": (lambda t: t.ones(4, 3).roll(()), True),
    "rot90_same_dims": (lambda t: t.ones(4, 3).rot90(1, (0, 0)), True),
    "rot90_three_dims": (lambda t: t.ones(4, 3).rot90(1, (0, 1, 2)), True),
    "rot90_1d": (lambda t: t.ones(3).rot90(), True),
    "tril_1d": (lambda t: t.ones(3).tril(), True),
    "diag_3d": (lambda t: t.diag(t.ones(2, 3, 4)), True),
    "diagonal_same_dims": (lambda t: t.ones(4, 3).diagonal(0, 0, 0), True),
    "diagonal_scatter_size": (lambda t: t.diagonal_scatter(t.ones(4, 3), t.ones(2)), True),
    "trace_1d": (lambda t: t.ones(3).trace(), True),
    "trace_bool": (lambda t: t.ones(2, 2, dtype=t.bool).trace(), True),
    "repeat_too_few": (lambda t: t.ones(4, 3).repeat(2), True),
    "repeat_negative": (lambda t: t.ones(4, 3).repeat(2, -1), True),
    "repeat_interleave_size": (lambda t: t.ones(4, 3).repeat_interleave(t.tensor([1, 2]),
                                                                       dim=0), True),
    "repeat_interleave_negative": (lambda t: t.ones(4).repeat_interleave(-1), True),
    "repeat_interleave_negative_tensor": (
        lambda t: t.ones(2).repeat_interleave(t.tensor([1, -1])), True),
    "repeat_interleave_output_size": (
        lambda t: t.ones(4, 3).repeat_interleave(2, output_size=3), True),
    "repeat_interleave_float": (
        lambda t: t.ones(2).repeat_interleave(t.tensor([1.0, 2.0])), True),
    "meshgrid_dtypes": (lambda t: t.meshgrid(t.ones(2), t.ones(3, dtype=t.float64),
                                             indexing="ij"), True),
    "meshgrid_indexing": (lambda t: t.meshgrid(t.ones(2), indexing="foo"), True),
    "meshgrid_empty": (lambda t: t.meshgrid(), True),
    "block_diag_3d": (lambda t: t.block_diag(t.ones(2, 2, 2)), True),
    "index_step": (lambda t: t.ones(4, 3)[::-1], True),
    "index_step_zero": (lambda t: t.ones(4, 3)[::0], True),
    "index_out_of_range": (lambda t: t.ones(4, 3)[4], True),
    "index_negative_out_of_range": (lambda t: t.ones(4, 3)[:, -4], True),
    "index_too_many": (lambda t: t.ones(4, 3)[1, 2, 3], True),
    "index_0d": (lambda t: t.tensor(1.0)[0], True),
    "index_tensor_out_of_range": (lambda t: t.ones(4, 3)[t.tensor([0, 7])], True),
    "index_list_out_of_range": (lambda t: t.ones(4, 3)[:, [0, -4]], True),
    "index_mask_shape": (lambda t: t.ones(4, 3)[t.tensor([True, False])], True),
    "index_mask_shape_2d": (lambda t: t.ones(2, 3, 4)[:, t.ones(3, 5, dtype=t.bool)], True),
    "index_float_tensor": (lambda t: t.ones(4, 3)[t.tensor([1.0])], True),
    "index_float": (lambda t: t.ones(4, 3)[1.5], True),
    "index_broadcast": (lambda t: t.ones(4, 3)[[0, 1], [0, 1, 2]], True),
    "index_two_ellipses": (lambda t: t.ones(4, 3, 2)[..., ..., 0], False),
    "setitem_shape": (lambda t: t.zeros(4, 3).__setitem__([0, 1], t.ones(2)), True),
    "setitem_basic_shape": (lambda t: t.zeros(4, 3).__setitem__(0, t.ones(2, 3)), False),
    "setitem_list": (lambda t: t.zeros(4, 3).__setitem__(0, [1, 2, 3]), True),
    "setitem_out_of_range": (lambda t: t.zeros(4, 3).__setitem__(t.tensor([0, 9]), 1.0), True),
    "setitem_step": (lambda t: t.zeros(4, 3).__setitem__(slice(None, None, -1), 1.0), True),
    "setitem_ndarray": (lambda t: t.zeros(4, 3).__setitem__(0, np.ones(3)), True),
    "setitem_tuple": (lambda t: t.zeros(4, 3).__setitem__(0, (1, 2, 3)), True),
    "setitem_complex": (lambda t: t.zeros(4, 3).__setitem__(0, 1 + 2j), False),
    "view_dtype_divisible": (lambda t: t.ones(3, dtype=t.int16).view(t.float32), True),
    "view_dtype_stride": (lambda t: t.ones(4, 2, dtype=t.int16).t().view(t.int32), True),
    "view_dtype_0d": (lambda t: t.tensor(1.0).view(t.float64), True),
    "view_ambiguous": (lambda t: t.ones(0, 3).view(-1, 0), True),
    "setitem_leaf": (lambda t: t.zeros(3, requires_grad=True).__setitem__(0, 1.0), False),
    "setitem_leaf_view": (lambda t: t.zeros(3, 3, requires_grad=True)[0].__setitem__(0, 1.0),
                          False),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_like_torch(name):
    fn, exact = ERRORS[name]
    with pytest.raises(Exception) as theirs:
        fn(torch)
    with pytest.raises(Exception) as ours:
        fn(ember)
    assert type(ours.value) is type(theirs.value), \
        f"{name}: {type(ours.value).__name__}({ours.value}) vs {type(theirs.value).__name__}"
    if exact:
        assert str(ours.value) == str(theirs.value).split("\n")[0]


def test_error_messages_name_the_problem():
    with pytest.raises(RuntimeError, match=r"Expected size 2 but got size 3 for tensor number 1"):
        ember.cat([ember.ones(2, 3), ember.ones(3, 3)], dim=1)
    with pytest.raises(RuntimeError, match="Use .reshape"):
        ember.ones(3, 4).t().view(-1)
    with pytest.raises(RuntimeError, match=r"shape '\[5, 3\]' is invalid for input of size 12"):
        ember.ones(3, 4).view(5, 3)
    with pytest.raises(RuntimeError, match=r"value tensor of shape \[2, 3\] cannot be broadcast "
                                           r"to indexing result of shape \[3\]"):
        ember.zeros(4, 3)[0] = ember.ones(2, 3)


# ---- autograd through views written in place -----------------------------------------------
def _view_program_mul(t, x):
    y = x.clone()
    y[0].mul_(2)
    return y


def _view_program_tensor_split(t, x):
    y = x * 1
    a, b = y.tensor_split(2)
    a.add_(1)
    b.sub_(x[2:] * x[:2])
    return y


def _view_program_select(t, x):
    y = x * x
    y.select(1, 2).mul_(3)
    return y * y


def _view_program_diagonal(t, x):
    y = x.clone()
    y.diagonal().add_(x[0, 1] * x[1, 0])
    return y


def _view_program_chain(t, x):
    y = x.clone()
    y.t()[1:][0].mul_(4)
    y.narrow(0, 1, 2).select(1, 0).add_(y[0, 0])
    return y


def _view_program_tensor_split_view(t, x):
    y = x + 0
    c = y.tensor_split(2)[1]
    c.view(-1)[1:3].sub_(x[0, :2])
    return y.sum(0)


def _view_program_setitem(t, x, v):
    y = x * 2
    y[1:, [0, 2]] = v
    y[0] = v[0, 0]
    return y


def _view_program_setitem_view(t, x, v):
    y = x * 1
    y.t()[0, 1:] = v[0]
    y.movedim(0, 1)[2] = v[1, 0]
    return y


PROGRAMS = {
    "mul_row": (_view_program_mul, [(4, 3)]),
    "tensor_split_add": (_view_program_tensor_split, [(4, 3)]),
    "select_mul": (_view_program_select, [(4, 3)]),
    "diagonal_mul": (_view_program_diagonal, [(3, 3)]),
    "view_chain": (_view_program_chain, [(4, 3)]),
    "tensor_split_view": (_view_program_tensor_split_view, [(3, 4)]),
    "setitem_value_and_target": (_view_program_setitem, [(3, 4), (2, 2)]),
    "setitem_through_view": (_view_program_setitem_view, [(3, 4), (2, 2)]),
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_inplace_through_views_matches_torch(name):
    fn, shapes = PROGRAMS[name]
    pairs = [_pair(s, "float64", seed=i, requires_grad=True) for i, s in enumerate(shapes)]
    tt, et = [p[0] for p in pairs], [p[1] for p in pairs]
    rt, re = fn(torch, *tt), fn(ember, *et)
    assert_same(re, rt, 1e-12, 1e-12, name)
    cot = _data(tuple(rt.shape), "float64", seed=9)
    rt.backward(torch.tensor(cot))
    re.backward(ember.tensor(cot))
    for k, (a, b) in enumerate(zip(et, tt)):
        assert_same(a.grad, b.grad, 1e-10, 1e-10, f"{name} grad {k}")


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_inplace_through_views_double_backward(name):
    fn, shapes = PROGRAMS[name]
    args = tuple(ember.tensor(_data(s, "float64", seed=i), requires_grad=True)
                 for i, s in enumerate(shapes))
    assert ember.autograd.gradcheck(lambda *a: fn(ember, *a), args)
    assert ember.autograd.gradgradcheck(lambda *a: fn(ember, *a), args)


def test_row_of_clone_written_in_place():
    for lib in (torch, ember):
        x = lib.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], requires_grad=True)
        y = x.clone()
        y[0].mul_(2)
        a, b = y.tensor_split(2)
        a.add_(1)
        (y * y).sum().backward()
        assert x.grad.tolist() == [[12.0, 20.0], [8.0, 10.0], [10.0, 12.0]]


MULTI_OUTPUT_INPLACE = {
    "split": lambda y: y.split(2)[0].add_(1),
    "split_sizes": lambda y: y.split([1, 3])[1].mul_(2),
    "chunk": lambda y: y.chunk(2)[1].sub_(1),
    "unbind": lambda y: y.unbind()[1].mul_(2),
    "iter": lambda y: next(iter(y)).mul_(2),
    "view_of_piece": lambda y: y.split(2)[0][0].mul_(2),
    "setitem_piece": lambda y: y.split(2)[0].__setitem__(0, 5.0),
}


@pytest.mark.parametrize("name", sorted(MULTI_OUTPUT_INPLACE))
def test_inplace_on_multi_output_views_refused_like_torch(name):
    """torch refuses in-place writes into outputs of split/chunk/unbind (and views of them)
    while autograd records; without grad, and for tensor_split's slices, they are fine."""
    fn = MULTI_OUTPUT_INPLACE[name]
    for lib in (torch, ember):
        y = lib.ones(4, 3, requires_grad=True).clone()
        with pytest.raises(RuntimeError, match="output of a function that returns multiple "
                                               "views"):
            fn(y)
        with lib.no_grad():
            fn(y)
        fn(lib.ones(4, 3))
        fn(lib.ones(4, 3, requires_grad=True).clone().detach())


def test_view_taken_before_its_base_or_a_sibling_is_modified():
    for lib in (torch, ember):
        x = lib.ones(2, 3, requires_grad=True)
        y = x.clone()
        v = y[0]
        y.mul_(2)
        (v * 1).sum().backward()
        assert x.grad.tolist() == [[2.0, 2.0, 2.0], [0.0, 0.0, 0.0]]
        x = lib.ones(2, 3, requires_grad=True)
        y = x.clone()
        v = y[0]
        y[:, 0].mul_(3)
        (v * 1).sum().backward()
        assert x.grad.tolist() == [[3.0, 1.0, 1.0], [0.0, 0.0, 0.0]]


def test_modified_saved_tensor_through_view_is_caught():
    for lib in (torch, ember):
        x = lib.ones(3, requires_grad=True)
        y = x * 2
        s = y.sin()
        y[1:].mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            s.sum().backward()


def test_setitem_grad_flows_to_value_only_where_written():
    for lib in (torch, ember):
        x = lib.ones(4, 3, requires_grad=True)
        v = lib.full((3,), 2.0, requires_grad=True)
        y = x * 1
        y[1] = v
        assert type(y.grad_fn).__name__ in ("CopySlices", "IndexPutBackward0")
        (y * 3).sum().backward()
        assert x.grad[1].tolist() == [0.0, 0.0, 0.0] and x.grad[0].tolist() == [3.0] * 3
        assert v.grad.tolist() == [3.0] * 3


def test_setitem_on_leaf_without_grad_makes_it_require_grad():
    for lib in (torch, ember):
        x = lib.zeros(3)
        v = lib.ones(2, requires_grad=True)
        x[1:] = v
        assert x.requires_grad and not x.is_leaf
        x.sum().backward()
        assert v.grad.tolist() == [1.0, 1.0]


def test_setitem_under_no_grad_on_leaf():
    for lib in (torch, ember):
        w = lib.zeros(3, requires_grad=True)
        with lib.no_grad():
            w[0] = 5
        assert w.is_leaf and w.tolist() == [5.0, 0.0, 0.0]


def test_multi_output_grads_with_unused_pieces():
    for name, fn in [("split", lambda x: x.split(2)[1]), ("unbind", lambda x: x.unbind(1)[0]),
                     ("chunk", lambda x: x.chunk(3)[2]),
                     ("tensor_split", lambda x: x.tensor_split([1, 3, 2])[3])]:
        xt, xe = _pair((5, 3), "float64", requires_grad=True)
        (fn(xt) * 2).sum().backward()
        (fn(xe) * 2).sum().backward()
        assert_same(xe.grad, xt.grad, 0, 0, name)


def _in_place_views(lib):
    """What t_, transpose_, swapaxes_, unsqueeze_ and squeeze_ do to a tensor, as a list."""
    out = []
    a = lib.ones(2, 3, requires_grad=True)
    b = a * 2
    version = b._version
    assert b.unsqueeze_(0) is b
    out += [tuple(b.shape), b._version - version]
    c = b.squeeze_(0).transpose_(0, 1)
    out += [tuple(c.shape), c is b]
    (c * lib.arange(6.0).reshape(3, 2)).sum().backward()
    out.append(a.grad.tolist())
    x = lib.arange(6.0).reshape(2, 3)
    v = x[0]
    v.unsqueeze_(0)
    v.mul_(10)  # still a view of x
    out += [tuple(v.shape), x.tolist()]
    m = lib.arange(6.0).reshape(2, 3)
    m.t_()
    out += [tuple(m.shape), m.tolist(), m.is_contiguous()]
    w = lib.ones(2, 1, 3, 1)
    w.squeeze_(1)
    w.swapaxes_(0, 1)
    w.swapdims_(1, 2)
    out += [tuple(w.shape), tuple(lib.ones(2, 1, 3, 1).squeeze_().shape),
            tuple(lib.zeros(3).t_().shape)]
    with lib.no_grad():
        leaf = lib.ones(2, 3, requires_grad=True)
        leaf.t_()
        out += [tuple(leaf.shape), leaf.requires_grad, leaf.grad_fn is None]
    return out


def test_in_place_view_ops_like_torch():
    assert _in_place_views(ember) == _in_place_views(torch)
    for lib in (torch, ember):
        with pytest.raises(RuntimeError, match="leaf Variable"):
            lib.ones(2, requires_grad=True).unsqueeze_(0)
        x = lib.ones(2, 3, requires_grad=True)
        y = x * 2
        z = y * y  # saves y, which the in-place view then changes
        y.unsqueeze_(0)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            z.sum().backward()


def test_unfold_windows_like_torch():
    """Values, a write through the (overlapping) view, gradients where windows overlap, the
    empty and 0-d cases, and the argument errors."""
    for lib in (torch, ember):
        y = lib.arange(8.0)
        y.unfold(0, 3, 2)[0, 2] = 100.0
        assert y.tolist() == [0.0, 1.0, 100.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    results = []
    for lib in (torch, ember):
        z = lib.arange(7.0, requires_grad=True)
        (z.unfold(0, 3, 1) * lib.arange(15.0).reshape(5, 3)).sum().backward()
        results.append((z.grad.tolist(), tuple(lib.zeros(2, 0).unfold(1, 0, 1).shape),
                        lib.tensor(5.0).unfold(0, 1, 1).tolist(),
                        lib.arange(12.0).reshape(3, 4).unfold(-1, 2, 3).tolist()))
    assert results[0] == results[1]
    for args, match in (((0, 10, 1), "maximum size"), ((0, 3, 0), "step is 0"),
                        ((0, -1, 1), "size is -1")):
        for lib in (torch, ember):
            with pytest.raises(RuntimeError, match=match):
                lib.arange(8.0).unfold(*args)


@pytest.mark.parametrize("shape,wrap", [((3, 3), False), ((7, 3), False), ((7, 3), True),
                                        ((3, 5), False), ((2, 2, 2), False), ((5, 1), True)])
def test_fill_diagonal_like_torch(shape, wrap):
    got, want = ember.zeros(*shape), torch.zeros(*shape)
    assert got.fill_diagonal_(5, wrap=wrap) is got
    want.fill_diagonal_(5, wrap=wrap)
    assert got.tolist() == want.tolist()


def test_fill_diagonal_refuses_like_torch():
    for lib in (torch, ember):
        with pytest.raises(RuntimeError, match="equal length"):
            lib.ones(2, 3, 4).fill_diagonal_(1)
        with pytest.raises(RuntimeError):
            lib.ones(3).fill_diagonal_(1)
        with pytest.raises(RuntimeError, match="leaf Variable"):
            lib.ones(2, 2, requires_grad=True).fill_diagonal_(1)


def test_detach_shares_data_and_version_but_not_history():
    """As torch: no grad, same memory and version counter; an in-place write through the
    detached tensor changes the source's values (even a leaf's) without touching its graph."""
    for lib in (torch, ember):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        h = x * 2
        d = h.detach()
        assert not d.requires_grad and d.grad_fn is None
        d.add_(1)
        assert h.tolist() == [3.0, 5.0] and h._version == d._version == 1
        x.detach().mul_(2)
        assert x.tolist() == [2.0, 4.0] and x.requires_grad and x.grad_fn is None
        (h * x).sum().backward()
        assert x.grad.tolist() == [7.0, 13.0]  # h + 2x, with the written values


def test_as_strided_views_storage_like_torch():
    """Views of the storage (offset defaulting to the input's own), writes through them,
    gradients that add overlapping elements, and the bounds check."""
    for lib in (torch, ember):
        x = lib.arange(12.0)
        view = x[2:].view(2, 5)
        assert view.as_strided((2, 2), (1, 1)).tolist() == [[2.0, 3.0], [3.0, 4.0]]
        assert view.as_strided((2, 2), (1, 1), 0).tolist() == [[0.0, 1.0], [1.0, 2.0]]
        w = lib.zeros(6)
        w.as_strided((2,), (3,)).add_(1)
        assert w.tolist() == [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]
        leaf = lib.arange(6.0, requires_grad=True)
        leaf.as_strided((3, 2), (1, 1)).sum().backward()
        assert leaf.grad.tolist() == [1.0, 2.0, 2.0, 1.0, 0.0, 0.0]
        with pytest.raises(RuntimeError, match="out of bounds for storage"):
            x.as_strided((5, 5), (3, 1))


def test_is_contiguous_in_a_memory_format_like_torch():
    for lib in (torch, ember):
        x = lib.ones(2, 3, 4, 5)
        cl = x.contiguous(memory_format=lib.channels_last)
        cases = [(cl, None), (cl, lib.channels_last), (cl, lib.contiguous_format),
                 (cl, lib.preserve_format), (x, lib.channels_last),
                 (lib.ones(2, 3), lib.channels_last), (lib.ones(2, 1, 4, 5), lib.channels_last),
                 (lib.ones(2, 3, 1, 1), lib.channels_last),
                 (lib.ones(2, 3, 4, 5, 6).contiguous(memory_format=lib.channels_last_3d),
                  lib.channels_last_3d), (lib.ones(3, 2).t(), lib.preserve_format)]
        got = [t.is_contiguous() if f is None else t.is_contiguous(memory_format=f)
               for t, f in cases]
        if lib is torch:
            expected = got
        else:
            assert got == expected


def test_detach_and_data_of_a_view_keep_its_storage_offset_as_torch():
    def offsets(lib):
        a = lib.arange(10.0, requires_grad=True)
        x = a[2:]
        d = x.detach()
        row = a.view(2, 5)[1]
        return [x.storage_offset(), d.storage_offset(), x.data.storage_offset(),
                d[1:].storage_offset(), d[1:].detach().storage_offset(),
                row.data.storage_offset(), a.detach().storage_offset()]
    assert offsets(ember) == offsets(torch)


@pytest.mark.parametrize("name", ["uint16", "uint32", "uint64"])
def test_shell_unsigned_index_tensors_refused_like_torch(name):
    """torch indexes with long, int, byte or bool tensors; a 0-d uint16/32/64 tensor is still
    an integer (a view), one with dimensions is refused."""
    for lib in (torch, ember):
        x = lib.arange(5.0)
        assert x[lib.tensor(3, dtype=getattr(lib, name))].item() == 3.0
        with pytest.raises(IndexError, match="must be long, int, byte or bool tensors"):
            x[lib.tensor([1, 2], dtype=getattr(lib, name))]
        with pytest.raises(IndexError, match="must be long, int, byte or bool tensors"):
            x[lib.tensor([1], dtype=getattr(lib, name))] = 1.0
