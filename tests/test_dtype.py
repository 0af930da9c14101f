"""torch's shell unsigned dtypes (uint16, uint32, uint64) against torch: names, limits,
promotion, conversion from NumPy and Python data, casts, and which ops compute or refuse."""
import numpy as np
import pytest
import torch

import ember

SHELLS = ["uint16", "uint32", "uint64"]
OTHERS = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32",
          "float64", "complex64", "complex128"]


def outcome(fn, *args):
    """('ok', value) or ('error', type, message) of fn(*args)."""
    try:
        return "ok", fn(*args)
    except (RuntimeError, TypeError, ValueError, NotImplementedError, OverflowError) as e:
        return "error", type(e), str(e)


@pytest.mark.parametrize("name", SHELLS)
def test_dtype_attributes_match_torch(name):
    ours, theirs = getattr(ember, name), getattr(torch, name)
    assert repr(ours) == repr(theirs) and str(ours) == str(theirs)
    assert ours.itemsize == theirs.itemsize
    assert ours.is_signed is theirs.is_signed is False
    assert ours.is_floating_point is theirs.is_floating_point is False
    assert repr(ember.iinfo(ours)) == repr(torch.iinfo(theirs))
    for field in ("bits", "min", "max", "dtype"):
        assert getattr(ember.iinfo(ours), field) == getattr(torch.iinfo(theirs), field)
    with pytest.raises(TypeError, match="requires a floating point input type"):
        ember.finfo(ours)


@pytest.mark.parametrize("name", ["int8", "int16", "int32", "int64", "uint8"])
def test_iinfo_repr_matches_torch(name):
    """torch prints the limits with 6 significant digits (int32's max as 2.14748e+09)."""
    assert repr(ember.iinfo(getattr(ember, name))) == repr(torch.iinfo(getattr(torch, name)))


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("other", SHELLS + OTHERS)
def test_promote_types_matches_torch(shell, other):
    for a, b in ((shell, other), (other, shell)):
        theirs = outcome(torch.promote_types, getattr(torch, a), getattr(torch, b))
        ours = outcome(ember.promote_types, getattr(ember, a), getattr(ember, b))
        if theirs[0] == "ok":
            assert str(ours[1]) == str(theirs[1])
        else:
            assert ours == theirs


@pytest.mark.parametrize("name", SHELLS)
def test_result_type_with_scalars_and_zero_dim_tensors_matches_torch(name):
    def operands(lib):
        t = lib.tensor([1, 2], dtype=getattr(lib, name))
        return [(t, 1), (t, 1.5), (t, lib.tensor(2)), (lib.tensor(2, dtype=t.dtype),
                                                      lib.tensor([1, 2]))]
    for (ta, tb), (ea, eb) in zip(operands(torch), operands(ember)):
        assert str(ember.result_type(ea, eb)) == str(torch.result_type(ta, tb))


@pytest.mark.parametrize("name", SHELLS)
def test_numpy_arrays_convert_both_ways(name):
    arr = np.array([0, 7, np.iinfo(name).max], dtype=name)
    for make in ("from_numpy", "tensor", "as_tensor"):
        ours, theirs = getattr(ember, make)(arr), getattr(torch, make)(arr)
        assert str(ours.dtype) == str(theirs.dtype)
        assert ours.tolist() == theirs.tolist()
        assert ours.numpy().dtype == theirs.numpy().dtype == arr.dtype
    assert ember.from_numpy(arr).numpy() is not None
    with pytest.raises(TypeError, match="uint64, uint32, uint16, uint8"):
        ember.from_numpy(np.array([1], dtype=np.longdouble))


@pytest.mark.parametrize("name", SHELLS)
def test_python_data_and_factories_match_torch(name):
    big = int(np.iinfo(name).max)
    cases = [lambda t: t.tensor([3, 1, 2], dtype=getattr(t, name)),
             lambda t: t.tensor([big, 0], dtype=getattr(t, name)),
             lambda t: t.tensor([-1], dtype=getattr(t, name)),
             lambda t: t.tensor([2 ** 64], dtype=getattr(t, name)),
             lambda t: t.tensor([True, 5], dtype=getattr(t, name)),
             lambda t: t.full((2,), 5, dtype=getattr(t, name)),
             lambda t: t.zeros(2, dtype=getattr(t, name)),
             lambda t: t.ones(2, dtype=getattr(t, name)),
             lambda t: t.zeros_like(t.tensor([1.5, 2.5]), dtype=getattr(t, name))]
    for case in cases:
        theirs, ours = outcome(case, torch), outcome(case, ember)
        assert ours[0] == theirs[0], (ours, theirs)
        if theirs[0] == "error":
            assert ours[1] is theirs[1], (ours, theirs)
        else:
            assert str(ours[1].dtype) == str(theirs[1].dtype)
            assert ours[1].tolist() == theirs[1].tolist()
            assert repr(ours[1]) == repr(theirs[1])


@pytest.mark.parametrize("name", SHELLS)
def test_casts_match_torch(name):
    def casts(t):
        d = getattr(t, name)
        u = t.tensor([3, 1, 2], dtype=d)
        return [u.float(), u.double(), u.long(), u.bool(), u.to(t.uint8), u.to(t.float16),
                t.tensor([1.7, 2.0]).to(d), t.tensor([-1, 2]).to(d), t.tensor([True]).to(d),
                u.type(), u.clone(), u.view(t.int16 if name == "uint16" else t.int32 if
                                             name == "uint32" else t.int64),
                t.tensor([-1, 2], dtype=t.int64).view(t.uint64)]
    for ours, theirs in zip(casts(ember), casts(torch)):
        if isinstance(theirs, str):
            assert ours == theirs
        else:
            assert str(ours.dtype) == str(theirs.dtype) and ours.tolist() == theirs.tolist()


# Ops torch computes on these dtypes, and ops it refuses (ember refuses the arithmetic it
# leaves undefined with the same error; ordering and indexing ops ember computes anyway).
SUPPORTED = {
    "mul": lambda t, x: x * x,
    "mul_scalar": lambda t, x: x * 2,
    "true_div": lambda t, x: x / x,
    "and": lambda t, x: x & x,
    "or": lambda t, x: x | x,
    "xor": lambda t, x: x ^ x,
    "eq": lambda t, x: x == 1,
    "ne": lambda t, x: x != x,
    "add_float": lambda t, x: x + t.tensor([1.5, 2.0, 3.0]),
    "mul_float_scalar": lambda t, x: x * 1.5,
    "sum": lambda t, x: x.sum(),
    "prod": lambda t, x: x.prod(),
    "cumsum": lambda t, x: x.cumsum(0),
    "cat": lambda t, x: t.cat([x, x]),
    "stack": lambda t, x: t.stack([x, x]),
    "getitem": lambda t, x: x[t.tensor([0, 2])],
    "sort": lambda t, x: x.sort().values,
    "argsort": lambda t, x: x.argsort(),
    "unique": lambda t, x: t.unique(x),
    "sqrt": lambda t, x: x.sqrt(),
    "roll": lambda t, x: x.roll(1),
    "repeat": lambda t, x: x.repeat(2),
    "any": lambda t, x: x.any(),
    "isnan": lambda t, x: x.isnan(),
    "mul_": lambda t, x: x.mul_(3),
    "fill_": lambda t, x: x.fill_(4),
    "copy_": lambda t, x: x.copy_(t.tensor([1.0, 2.0, 3.0])),
    "pad": lambda t, x: t.nn.functional.pad(x, (1, 1)),
}
REFUSED = {
    "add": lambda t, x: x + 1,
    "add_tensor": lambda t, x: x + x,
    "add_zero_dim": lambda t, x: x + t.tensor(1),
    "add_": lambda t, x: x.add_(2),
    "sub": lambda t, x: x - x,
    "rsub": lambda t, x: 1 - x,
    "neg": lambda t, x: -x,
    "abs": lambda t, x: x.abs(),
    "pow": lambda t, x: x ** 2,
    "square": lambda t, x: x.square(),
    "floor_divide": lambda t, x: x // x,
    "trunc_div": lambda t, x: t.div(x, x, rounding_mode="trunc"),
    "remainder": lambda t, x: x % x,
    "fmod": lambda t, x: x.fmod(x),
    "bitwise_not": lambda t, x: ~x,
    "lshift": lambda t, x: x << 1,
    "rshift": lambda t, x: x >> 1,
    "sign": lambda t, x: x.sign(),
    "dot": lambda t, x: x @ x,
    "mm": lambda t, x: x[None] @ x[:, None],
    "mv": lambda t, x: x[None] @ x,
    "diff": lambda t, x: t.diff(x),
    "mix_int": lambda t, x: x * t.tensor([1, 2, 3]),
    "mix_bool": lambda t, x: x * t.tensor([True, False, True]),
    "mix_uint8": lambda t, x: x + t.tensor([1, 2, 3], dtype=t.uint8),
}


@pytest.mark.parametrize("name", SHELLS)
@pytest.mark.parametrize("op", sorted(SUPPORTED))
def test_supported_ops_match_torch(name, op):
    theirs = SUPPORTED[op](torch, torch.tensor([3, 1, 2], dtype=getattr(torch, name)))
    ours = SUPPORTED[op](ember, ember.tensor([3, 1, 2], dtype=getattr(ember, name)))
    assert str(ours.dtype) == str(theirs.dtype)
    np.testing.assert_allclose(np.asarray(ours.tolist(), dtype=float),
                               np.asarray(theirs.tolist(), dtype=float), rtol=1e-6)


@pytest.mark.parametrize("name", SHELLS)
@pytest.mark.parametrize("op", sorted(REFUSED))
def test_undefined_arithmetic_is_refused_like_torch(name, op):
    theirs = outcome(REFUSED[op], torch, torch.tensor([3, 1, 2], dtype=getattr(torch, name)))
    ours = outcome(REFUSED[op], ember, ember.tensor([3, 1, 2], dtype=getattr(ember, name)))
    assert theirs[0] == "error"
    assert ours == theirs


@pytest.mark.parametrize("name", SHELLS)
def test_requires_grad_is_refused(name):
    with pytest.raises(RuntimeError, match="floating point and complex"):
        ember.tensor([1], dtype=getattr(ember, name), requires_grad=True)
