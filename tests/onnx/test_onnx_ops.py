"""Every registry op with an ONNX lowering, alone, through onnxruntime: each of its registry
samples (see tests/_ops/harness.py) is traced, exported without constant folding (so the op's
own lowering runs), checked, run and compared with ember's eager result, in float32 and in
each integer/bool dtype the sample lists. An op whose lowering needs a later opset is checked
to refuse at 17 and to work at the opset the error names."""
from __future__ import annotations

import io

import numpy as np
import pytest
from _ops.harness import build, flatten, make_values
from onnx_helpers import session

import ember
from ember._ops.registry import REGISTRY
from ember.onnx import UnsupportedOperatorError
from ember.onnx.lowering import lowering_of

pytestmark = pytest.mark.filterwarnings("ignore::ember.jit.tracer.TracerWarning")

EXTRA_DTYPES = ("int64", "int32", "uint8", "bool")

# (op, sample) -> (the op that refuses, why): calls ember cannot express in ONNX (in some of
# the sample's dtypes); any other refusal fails the test.
REFUSED = {
    ("adaptive_max_pool", "0"): ("adaptive_max_pool", "indices of uneven windows"),
    ("adaptive_max_pool", "1d"): ("adaptive_max_pool", "indices of uneven windows"),
    ("convolution", "int"): ("convolution", "runtimes have float kernels only"),
    ("median", "nanmedian"): ("median", "NaN-skipping variant"),
    ("median", "nanmedian_dim"): ("median", "NaN-skipping variant"),
    ("median", "empty"): ("median", "empty input"),
    ("quantile", "nanquantile"): ("quantile", "NaN-skipping variant"),
    ("quantile", "all_nan"): ("quantile", "NaN-skipping variant"),
    ("nonzero", "0d"): ("nonzero", "0-d input"),
    ("nonzero", "0d_where"): ("nonzero", "0-d input"),
    ("rnn_layer", "packed_bidirectional"): ("rnn_layer", "packed sequences"),
    ("rnn_layer", "packed_lstm_state"): ("rnn_layer", "packed sequences"),
    ("conj", "0"): ("complex", "complex tensors"),
    ("conj", "physical"): ("complex", "complex tensors"),
    ("conj", "mH"): ("complex", "complex tensors"),
    ("real", "0"): ("complex", "complex tensors"),
    ("real", "property"): ("complex", "complex tensors"),
    ("real", "cast"): ("real", "complex tensors"),
    ("angle", "0"): ("complex", "complex tensors"),
    ("angle", "axes"): ("complex", "complex tensors"),
}

# (op, sample) -> why ONNX Runtime's answer legitimately differs from ember's.
DIFFERENT = {
    ("searchsorted", "nan"): "NaNs inside the sorted sequence: ember's binary search vs a count",
    ("topk", "nan"): "order of tied values is unspecified",
    ("unique", "nan"): "onnxruntime merges NaNs; ember keeps each NaN",
    ("batch_norm", "running"): "training-mode update of the running statistics (a side "
                               "effect the tracer refuses)",
}


def _cases():
    cases = []
    for name in sorted(REGISTRY):
        if lowering_of(REGISTRY[name]) is None:
            continue
        for i, s in enumerate(REGISTRY[name].samples):
            label = s.name or str(i)
            dtypes = ["float32" if "float32" in s.dtypes else s.dtypes[0]]
            dtypes += [d for d in EXTRA_DTYPES if d in s.dtypes and d != dtypes[0]]
            for dt in dtypes:
                marks = ()
                why = DIFFERENT.get((name, label))
                if why is not None:
                    marks = (pytest.mark.xfail(reason=why, strict=True),)
                cases.append(pytest.param(name, label, s, dt, marks=marks,
                                          id=f"{name}-{label}-{dt}"))
    return cases


def _export_and_run(sample, dtype: str, opset: int):
    args = build(ember, make_values(sample, dtype), requires_grad=False)
    positions = [i for i, a in enumerate(args) if isinstance(a, ember.Tensor)]

    def fn(*tensors):
        full = list(args)
        for i, t in zip(positions, tensors):
            full[i] = t
        return sample.fn(ember, *full)
    tensors = tuple(args[i] for i in positions)
    f = io.BytesIO()
    ember.onnx.export(fn, tensors, f, do_constant_folding=False, opset_version=opset)
    sess = session(f.getvalue())
    got = sess.run(None, {i.name: t.numpy() for i, t in zip(sess.get_inputs(), tensors)})
    return got, [np.asarray(o.numpy() if isinstance(o, ember.Tensor) else o)
                 for o in flatten(fn(*tensors))]


@pytest.mark.parametrize("name,label,sample,dtype", _cases())
def test_op_round_trips_through_onnxruntime(name, label, sample, dtype):
    refused = REFUSED.get((name, label))
    try:
        got, want = _export_and_run(sample, dtype, 17)
    except UnsupportedOperatorError as e:
        if refused is not None and e.op == refused[0]:
            return
        if e.opsets is None:
            raise
        assert e.op == name and e.opsets[0] > 17
        got, want = _export_and_run(sample, dtype, e.opsets[0])
    _assert_matches(got, want, sample)


def _assert_matches(got: list, want: list, sample) -> None:
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape, f"output {k}: shape {g.shape} vs {w.shape}"
        assert g.dtype == w.dtype, f"output {k}: dtype {g.dtype} vs {w.dtype}"
        if w.dtype.kind == "f":
            np.testing.assert_allclose(g, w, atol=max(sample.atol, 1e-5),
                                       rtol=max(sample.rtol, 1e-5), equal_nan=True,
                                       err_msg=f"output {k}")
        else:
            np.testing.assert_array_equal(g, w, err_msg=f"output {k}")


@pytest.mark.parametrize("opset", [11, 13])
@pytest.mark.parametrize("name,label,sample,dtype",
                         [pytest.param(*p.values, id=p.id) for p in _cases()
                          if p.values[3] == "float32" and p.values[:2] not in DIFFERENT])
def test_op_at_an_early_opset_round_trips_or_names_a_later_opset(name, label, sample, dtype,
                                                                   opset):
    """At opsets 11 and 13 (torch users' common choices) each op either exports and matches,
    or refuses naming the later opset where an ONNX node, attribute or input type it needs
    appears (LayerNormalization is decomposed instead)."""
    try:
        got, want = _export_and_run(sample, dtype, opset)
    except UnsupportedOperatorError as e:
        refused = REFUSED.get((name, label))
        assert (refused is not None and e.op == refused[0]) or e.opsets[0] > opset, str(e)
        return
    _assert_matches(got, want, sample)
