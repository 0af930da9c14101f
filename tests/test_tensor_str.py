"""Tensor printing: repr(t) and str(t) equal torch's text for the same tensor and options."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

import ember
from ember import _tensor_str

NAN, INF = math.nan, math.inf


def _both(build):
    """The texts torch and ember print for `build(lib)`, repr and str."""
    theirs, ours = build(torch), build(ember)
    return (repr(theirs), str(theirs)), (repr(ours), str(ours))


CASES = {
    # floats: integral values, fixed, scientific, specials, negative zero
    "int_valued": lambda t: t.tensor([1., 2., -3.]),
    "zeros": lambda t: t.zeros(2, 3),
    "fixed": lambda t: t.tensor([1.5, -2.25, 3.125]),
    "fixed_rounding": lambda t: t.tensor([0.00015, 0.33333, 2.71828]),
    "mixed_magnitude": lambda t: t.tensor([1e-3, 1.0, 0.5]),
    "ratio_over_1000": lambda t: t.tensor([0.001, 1.5, 2.0]),
    "ratio_exactly_1000": lambda t: t.tensor([0.5, 500.0]),
    "small_sci": lambda t: t.tensor([1e-5, 0.5]),
    "large_sci": lambda t: t.tensor([1.5e8, 2.0]),
    "big_int_valued": lambda t: t.tensor([1e10, 1.0]),
    "int_valued_spread": lambda t: t.tensor([1., 2000.]),
    "int_valued_1e8": lambda t: t.tensor([1e8, 3.0]),
    "tiny_only": lambda t: t.tensor([1e-30, -2e-30]),
    "huge_only": lambda t: t.tensor([3e38, -1e38]),
    "nan_inf": lambda t: t.tensor([NAN, INF, -INF]),
    "nan_with_int_values": lambda t: t.tensor([0., NAN, 1.]),
    "inf_with_fixed": lambda t: t.tensor([1.5, -INF, 2.25, NAN]),
    "inf_with_sci": lambda t: t.tensor([1e-9, INF, 2.0]),
    "neg_zero": lambda t: t.tensor([-0., 0., 1.]),
    "neg_zero_only": lambda t: t.tensor([-0.]),
    "neg_zero_fixed": lambda t: t.tensor([-0., 0.5]),
    "neg_zero_sci": lambda t: t.tensor([-0., 1e-9, 2]),
    "neg_zero_0d": lambda t: t.tensor(-0.),
    "float64": lambda t: t.tensor([1.0, 2.5], dtype=t.float64),
    "float64_precise": lambda t: t.tensor([1 / 3, 2 / 3], dtype=t.float64),
    "float64_int_valued": lambda t: t.tensor([1.0, 2.0], dtype=t.float64),
    "float16": lambda t: t.tensor([1.5, 2e4, -3.0], dtype=t.float16),
    "float16_fixed": lambda t: t.tensor([0.1, 0.2, 0.3], dtype=t.float16),
    "bfloat16": lambda t: t.tensor([1.5, 2.0, 3e30], dtype=t.bfloat16),
    "bfloat16_fixed": lambda t: t.tensor([0.1, 0.7], dtype=t.bfloat16),
    "arange_div": lambda t: t.arange(100.) / 7,
    "float_ratio_row": lambda t: (t.arange(1., 30.) ** 3) / 11,
    # integers of every width, bool
    "int64": lambda t: t.tensor([1, -20, 300]),
    "int64_wide": lambda t: t.tensor([2 ** 62, -5]),
    "int32": lambda t: t.tensor([7, -8], dtype=t.int32),
    "int16": lambda t: t.arange(30, dtype=t.int16) * 1000,
    "int8": lambda t: t.tensor([-128, 0, 127], dtype=t.int8),
    "uint8": lambda t: t.tensor([0, 9, 255], dtype=t.uint8),
    "int_matrix": lambda t: t.arange(-6, 6).reshape(3, 4) * 37,
    "bool": lambda t: t.tensor([True, False, True]),
    "bool_all_true": lambda t: t.tensor([True, True]),
    "bool_matrix": lambda t: t.arange(6).reshape(2, 3) > 2,
    # complex
    "complex64": lambda t: t.tensor([1 + 2j, -3.5 - 0.5j]),
    "complex_zero_imag": lambda t: t.tensor([1 + 0j, 2 + 0j]),
    "complex_neg_zero": lambda t: t.tensor([complex(-0.0, -0.0), complex(1, -0.0)]),
    "complex_nan": lambda t: t.tensor([complex(NAN, 1), complex(1, INF), 2j]),
    "complex_sci": lambda t: t.tensor([1e-6 + 1j, 1e5 - 2j]),
    "complex128": lambda t: t.tensor([1 / 3 + 2j], dtype=t.complex128),
    "complex_matrix": lambda t: (t.arange(60.).reshape(3, 20) / 3).to(t.complex64) * (1 + 1j),
    "complex_0d": lambda t: t.tensor(3 - 4j),
    "complex_summarized": lambda t: t.arange(1200.).to(t.complex128) * (1 - 2j),
    # 0-d
    "scalar": lambda t: t.tensor(2.5),
    "scalar_int": lambda t: t.tensor(-7),
    "scalar_bool": lambda t: t.tensor(False),
    "scalar_f64": lambda t: t.tensor(1e-7, dtype=t.float64),
    "scalar_int8": lambda t: t.tensor(5, dtype=t.int8),
    "scalar_nan": lambda t: t.tensor(NAN),
    # empty tensors
    "empty": lambda t: t.tensor([]),
    "empty_0x3": lambda t: t.zeros(0, 3),
    "empty_2x0x4": lambda t: t.zeros(2, 0, 4),
    "empty_int64": lambda t: t.zeros(0, dtype=t.int64),
    "empty_int32_2d": lambda t: t.zeros(3, 0, dtype=t.int32),
    "empty_bool": lambda t: t.zeros(0, dtype=t.bool),
    "empty_f64": lambda t: t.zeros(0, dtype=t.float64),
    "empty_complex": lambda t: t.zeros(2, 0, dtype=t.complex64),
    "empty_grad": lambda t: t.zeros(0, 2, requires_grad=True),
    # summarizing
    "summ_1d": lambda t: t.arange(1001.),
    "summ_1d_int": lambda t: t.arange(5000),
    "summ_2d": lambda t: t.arange(2000.).reshape(40, 50),
    "summ_3d": lambda t: t.arange(2000).reshape(2, 10, 100),
    "summ_short_rows": lambda t: t.arange(3000.).reshape(1000, 3),
    "summ_short_cols": lambda t: t.arange(3000.).reshape(3, 1000),
    "summ_4d": lambda t: t.arange(4096.).reshape(8, 8, 8, 8) / 3,
    "summ_edge_values_only": lambda t: t.cat([t.ones(3), t.full((2000,), 1e-9), t.ones(3)]),
    "at_threshold": lambda t: t.arange(1000.),
    # layout
    "long_row": lambda t: t.arange(40.) / 3,
    "matrix": lambda t: (t.arange(12.) * 1.5).reshape(3, 4),
    "wrapped_matrix": lambda t: t.arange(60.).reshape(2, 30) / 7,
    "3d": lambda t: t.arange(24.).reshape(2, 3, 4),
    "4d": lambda t: t.arange(16).reshape(2, 2, 2, 2),
    "column": lambda t: t.arange(5.).reshape(5, 1),
    "transposed": lambda t: t.arange(6.).reshape(2, 3).t(),
    # suffixes
    "requires_grad": lambda t: t.ones(3, requires_grad=True),
    "requires_grad_0d": lambda t: t.tensor(1.5, requires_grad=True),
    "grad_fn": lambda t: t.ones(2, requires_grad=True) * 2,
    "grad_fn_add": lambda t: t.ones(2, 2, requires_grad=True) + 1,
    "grad_fn_sum": lambda t: (t.arange(4.).requires_grad_() * 3).sum(),
    "grad_fn_f64": lambda t: t.ones(2, dtype=t.float64, requires_grad=True) * 2,
    "grad_fn_wraps": lambda t: t.arange(13.).requires_grad_() * 1.25,
    "dtype_wraps": lambda t: (t.arange(14) * 100000).to(t.int32),
    "f64_grad_wraps": lambda t: (t.arange(10., dtype=t.float64) / 3).requires_grad_(),
    "detached": lambda t: (t.ones(2, requires_grad=True) * 2).detach(),
    "parameter": lambda t: t.nn.Parameter(t.zeros(2)),
    "parameter_no_grad": lambda t: t.nn.Parameter(t.ones(2, 2), requires_grad=False),
    "parameter_f64": lambda t: t.nn.Parameter(t.ones(2, dtype=t.float64)),
    "linear_weight": lambda t: t.nn.Parameter(t.arange(6.).reshape(2, 3) / 10),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_repr_matches_torch(name):
    theirs, ours = _both(CASES[name])
    assert ours == theirs, f"\n{ours[0]}\n!=\n{theirs[0]}"


@pytest.fixture()
def restore_options():
    yield
    torch.set_printoptions(profile="default")
    ember.set_printoptions(profile="default")


OPTION_CASES = [
    ({"precision": 2}, lambda t: t.tensor([1.23456, 2.5])),
    ({"precision": 8}, lambda t: t.tensor([1 / 3, 2 / 3], dtype=t.float64)),
    ({"precision": 0}, lambda t: t.tensor([1.5, 2.25])),
    ({"precision": 6}, lambda t: t.tensor([1e-9, 1.0])),
    ({"threshold": 5}, lambda t: t.arange(10.)),
    ({"threshold": 5}, lambda t: t.arange(36).reshape(6, 6)),
    ({"threshold": 5}, lambda t: t.arange(49).reshape(7, 7)),
    ({"threshold": 0}, lambda t: t.tensor(3.5)),
    ({"threshold": 5, "edgeitems": 1}, lambda t: t.arange(30.).reshape(5, 6)),
    ({"threshold": 5, "edgeitems": 0}, lambda t: t.arange(30.).reshape(5, 6)),
    ({"threshold": 5, "edgeitems": 0}, lambda t: t.arange(30.)),
    ({"edgeitems": 0}, lambda t: t.arange(3.)),
    ({"edgeitems": 0}, lambda t: t.tensor(1.5)),
    ({"edgeitems": 0}, lambda t: t.zeros(0, 2)),
    ({"edgeitems": 1}, lambda t: t.arange(2000.)),
    ({"linewidth": 40}, lambda t: t.arange(30.) / 3),
    ({"linewidth": 40}, lambda t: t.ones(3, requires_grad=True) * 1.5),
    ({"linewidth": 5}, lambda t: t.arange(4.) / 3),
    ({"linewidth": 200}, lambda t: t.arange(60.) / 7),
    ({"linewidth": 120}, lambda t: t.arange(1., 20.).to(t.complex64) * (1 - 1j)),
    ({"profile": "short"}, lambda t: t.arange(2000.) / 3),
    ({"profile": "full"}, lambda t: t.arange(1100)),
    ({"profile": "full", "precision": 2}, lambda t: t.tensor([1 / 3])),
    ({"profile": "short", "linewidth": 30}, lambda t: t.arange(40.) / 9),
    ({"sci_mode": True}, lambda t: t.tensor([1.5, 2.0])),
    ({"sci_mode": True}, lambda t: t.tensor([1., 2.])),
    ({"sci_mode": True}, lambda t: t.tensor([0., NAN, -INF])),
    ({"sci_mode": True}, lambda t: t.tensor([1 + 1j, 2 - 3j])),
    ({"sci_mode": False}, lambda t: t.tensor([1e-9, 1.0])),
    ({"sci_mode": False}, lambda t: t.tensor([1e10, 1.0])),
    ({"sci_mode": False, "precision": 10}, lambda t: t.tensor([1e-9, 1.0])),
]


@pytest.mark.parametrize("options,build", OPTION_CASES,
                         ids=[",".join(f"{k}={v}" for k, v in o.items()) + f"-{i}"
                              for i, (o, _) in enumerate(OPTION_CASES)])
def test_printoptions_match_torch(options, build, restore_options):
    torch.set_printoptions(**options)
    ember.set_printoptions(**options)
    theirs, ours = _both(build)
    assert ours == theirs, f"\n{ours[0]}\n!=\n{theirs[0]}"


def test_options_state_like_torch(restore_options):
    """set_printoptions keeps unnamed options except sci_mode, which each call resets."""
    for lib in (torch, ember):
        lib.set_printoptions(sci_mode=True)
        lib.set_printoptions(precision=3)
    assert _tensor_str.get_printoptions() == torch._tensor_str.get_printoptions()
    for lib in (torch, ember):
        lib.set_printoptions(profile="full")
    assert _tensor_str.get_printoptions() == torch._tensor_str.get_printoptions()
    for lib in (torch, ember):
        lib.set_printoptions(profile="no such profile")
    assert _tensor_str.get_printoptions() == torch._tensor_str.get_printoptions()


def test_printoptions_context_restores(restore_options):
    before = _tensor_str.get_printoptions()
    with _tensor_str.printoptions(precision=1, linewidth=20):
        assert repr(ember.tensor([1.25])) == "tensor([1.2])"
        assert _tensor_str.get_printoptions()["linewidth"] == 20
    assert _tensor_str.get_printoptions() == before
    assert repr(ember.tensor([1.25])) == "tensor([1.2500])"


def test_default_dtype_changes_suffixes():
    """dtype= is omitted for the default float dtype and its complex counterpart."""
    prev = (torch.get_default_dtype(), ember.get_default_dtype())
    try:
        torch.set_default_dtype(torch.float64)
        ember.set_default_dtype(ember.float64)
        for build in (lambda t: t.tensor([1.5, 2.0]), lambda t: t.tensor([1.5], dtype=t.float32),
                      lambda t: t.tensor([1 + 2j]), lambda t: t.zeros(0),
                      lambda t: t.zeros(0, dtype=t.float32),
                      lambda t: t.tensor([1j], dtype=t.complex64)):
            theirs, ours = _both(build)
            assert ours == theirs
    finally:
        torch.set_default_dtype(prev[0])
        ember.set_default_dtype(prev[1])


def test_str_equals_repr_and_format():
    t = ember.arange(5.) / 3
    assert str(t) == repr(t) == f"{t}"
    assert f"{ember.tensor(2.5):.2f}" == "2.50"


def test_device_suffix():
    """Tensors off the CPU name their device (checked on a CPU array labelled as cuda:0)."""
    t = ember.tensor([1., 2.])
    t._device = ember.device("cuda", 0)
    assert repr(t) == "tensor([1., 2.], device='cuda:0')"
    t = ember.tensor([1, 2], dtype=ember.int32).requires_grad_(False)
    t._device = ember.device("cuda", 1)
    assert repr(t) == "tensor([1, 2], device='cuda:1', dtype=torch.int32)"


def test_subclass_prefix():
    class Mine(torch.Tensor):
        pass

    class MineToo(ember.Tensor):
        pass

    assert repr(torch.tensor([1., 2.]).as_subclass(Mine)) == "Mine([1., 2.])"
    assert repr(MineToo([1., 2.])) == "MineToo([1., 2.])"
    assert repr(MineToo([1, 2], dtype=ember.float64)) == "MineToo([1., 2.], dtype=torch.float64)"


def test_parameter_form():
    p = ember.nn.Parameter(ember.ones(2, 2))
    assert repr(p) == "Parameter containing:\ntensor([[1., 1.],\n        [1., 1.]], " \
                      "requires_grad=True)"


def test_large_tensor_prints_quickly():
    """Summarizing formats only the edges, so a big tensor prints without touching the rest."""
    import time
    t = ember.ones(2000, 2000)
    start = time.perf_counter()
    text = repr(t)
    assert time.perf_counter() - start < 0.5
    assert text.count("...") == 7


# ---- generated values ----------------------------------------------------------------------
_SPECIAL = [0.0, -0.0, NAN, INF, -INF, 1.0, -1.0, 0.5, 1e-5, 1e-4, 999.0, 1000.0, 1e8, 1.5e8,
            123456.789, 1e-30, 3e20]
_FLOAT_DTYPES = ["float32", "float64", "float16", "bfloat16"]


@st.composite
def _float_arrays(draw):
    shape = draw(array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=7))
    size = int(np.prod(shape))
    kind = draw(st.sampled_from(["int_valued", "fixed", "wide", "mixed"]))
    if kind == "int_valued":
        values = st.integers(-10 ** 6, 10 ** 6).map(float)
    elif kind == "fixed":
        values = st.floats(-100, 100, width=32)
    elif kind == "wide":
        values = st.floats(-1e12, 1e12).map(lambda v: float(np.float32(v)))
    else:
        values = st.one_of(st.sampled_from(_SPECIAL), st.floats(-1e3, 1e3, width=32),
                           st.integers(-50, 50).map(float))
    data = draw(st.lists(values, min_size=size, max_size=size))
    return np.array(data, dtype=np.float64).reshape(shape)


def _as(lib, arr, dtype):
    return lib.tensor(arr.tolist() if arr.ndim == 0 else arr, dtype=lib.float64).to(
        getattr(lib, dtype))


@pytest.mark.filterwarnings("ignore:overflow encountered in cast")
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_float_arrays(), st.sampled_from(_FLOAT_DTYPES))
def test_generated_floats_match_torch(arr, dtype):
    theirs, ours = _both(lambda t: _as(t, arr, dtype))
    assert ours == theirs


@pytest.mark.filterwarnings("ignore:overflow encountered in cast")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_float_arrays(), st.sampled_from(_FLOAT_DTYPES), st.sampled_from([None, True, False]),
       st.integers(0, 9))
def test_generated_floats_with_options_match_torch(arr, dtype, sci_mode, precision):
    try:
        torch.set_printoptions(precision=precision, sci_mode=sci_mode)
        ember.set_printoptions(precision=precision, sci_mode=sci_mode)
        theirs, ours = _both(lambda t: _as(t, arr, dtype))
    finally:
        torch.set_printoptions(profile="default")
        ember.set_printoptions(profile="default")
    assert ours == theirs


@settings(max_examples=100, deadline=None)
@given(_float_arrays(), _float_arrays(), st.sampled_from(["complex64", "complex128"]))
def test_generated_complex_match_torch(real, imag, dtype):
    if real.shape != imag.shape:
        imag = np.resize(imag, real.shape) if imag.size else np.zeros(real.shape)
    arr = np.empty(real.shape, dtype=np.complex128)
    arr.real, arr.imag = real, imag

    def build(lib):
        t = lib.tensor(arr.tolist() if arr.ndim == 0 else arr, dtype=lib.complex128)
        return t.to(getattr(lib, dtype))
    theirs, ours = _both(build)
    assert ours == theirs


@settings(max_examples=150, deadline=None)
@given(array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=9),
       st.sampled_from(["uint8", "int8", "int16", "int32", "int64", "bool"]), st.data())
def test_generated_ints_match_torch(shape, dtype, data):
    info = np.iinfo(dtype) if dtype != "bool" else None
    size = int(np.prod(shape))
    lo, hi = (0, 1) if info is None else (int(info.min), int(info.max))
    values = data.draw(st.lists(st.integers(lo, hi), min_size=size, max_size=size))
    arr = np.array(values, dtype=np.int64).reshape(shape)

    def build(lib):
        t = lib.tensor(arr.tolist() if arr.ndim == 0 else arr, dtype=lib.int64)
        return t.to(getattr(lib, dtype))
    theirs, ours = _both(build)
    assert ours == theirs


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(1, 12), st.integers(0, 3), st.integers(10, 120),
       st.integers(0, 6), st.sampled_from(["int64", "float32", "complex64"]))
def test_generated_summaries_match_torch(ndim, side, edgeitems, linewidth, precision, dtype):
    """Random shapes under random threshold/edgeitems/linewidth/precision options."""
    shape = [side + k for k in range(ndim)]
    size = int(np.prod(shape))
    options = {"threshold": 20, "edgeitems": edgeitems, "linewidth": linewidth,
               "precision": precision}
    try:
        torch.set_printoptions(**options)
        ember.set_printoptions(**options)
        theirs, ours = _both(lambda t: (t.arange(size) - size // 3).reshape(shape).to(
            getattr(t, dtype)) * (7 if dtype == "int64" else 1.37))
    finally:
        torch.set_printoptions(profile="default")
        ember.set_printoptions(profile="default")
    assert ours == theirs
