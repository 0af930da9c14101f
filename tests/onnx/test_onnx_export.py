"""ember.onnx.export's options and errors: names, dynamic axes, opsets, parameters as inputs,
constant folding, keyword inputs, unsupported ops (with the model line and the opset that would
work), and the limits of tracing (size-dependent Python control flow, aliasing writes)."""
from __future__ import annotations

import io

import numpy as np
import pytest
from onnx_helpers import assert_close, expected_outputs, export_bytes, onnx, run, session

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.onnx import UnsupportedOperatorError


def _mlp():
    return nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).eval()


def test_default_names_and_static_shapes():
    model = _mlp()
    proto = onnx.load_from_string(export_bytes(model, (ember.randn(4, 3),)))
    assert [i.name for i in proto.graph.input] == ["input"]
    assert [o.name for o in proto.graph.output] == ["output"]
    dims = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [4, 3]
    assert {i.name for i in proto.graph.initializer} >= {"0.bias", "2.bias"}
    assert proto.opset_import[0].version == 17


def test_dynamic_axes_list_form_and_output_axes():
    model = _mlp()
    data = export_bytes(model, (ember.randn(4, 3),), input_names=["x"], output_names=["y"],
                        dynamic_axes={"x": [0], "y": {0: "rows"}})
    proto = onnx.load_from_string(data)
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "x_dynamic_axes_1"
    assert proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "rows"
    x = ember.randn(7, 3)
    assert_close(run(session(data), {"x": x}), expected_outputs(model, (x,)))


def test_file_path_and_reload(tmp_path):
    model = _mlp()
    path = tmp_path / "mlp.onnx"
    x = ember.randn(2, 3)
    ember.onnx.export(model, (x,), str(path), input_names=["x"])
    sess = session(path.read_bytes())
    assert_close(run(sess, {"x": x}), expected_outputs(model, (x,)))


def test_export_params_false_makes_parameters_inputs():
    model = _mlp()
    x = ember.randn(2, 3)
    data = export_bytes(model, (x,), input_names=["x"], export_params=False)
    proto = onnx.load_from_string(data)
    names = [i.name for i in proto.graph.input]
    assert names[0] == "x" and set(names[1:]) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert not proto.graph.initializer
    feeds = {"x": x, **{n: p.detach() for n, p in model.named_parameters()}}
    assert_close(run(session(data), feeds), expected_outputs(model, (x,)))


@pytest.mark.parametrize("fold", [True, False])
def test_constant_folding(fold):
    model = _mlp()
    x = ember.randn(2, 3)
    data = export_bytes(model, (x,), do_constant_folding=fold)
    ops = [n.op_type for n in onnx.load_from_string(data).graph.node]
    assert ("Transpose" in ops) is not fold
    assert_close(run(session(data), {"input": x}), expected_outputs(model, (x,)))


def test_keyword_inputs_and_plain_functions():
    class Scaled(nn.Module):
        def forward(self, x, scale=None):
            return x * scale if scale is not None else x

    x, s = ember.randn(2, 3), ember.randn(3)
    data = export_bytes(Scaled(), (x,), kwargs={"scale": s})
    sess = session(data)
    assert [i.name for i in sess.get_inputs()] == ["x", "scale"]
    np.testing.assert_allclose(run(sess, {"x": x, "scale": s})[0], (x * s).numpy())

    def fn(a, b):
        return (a @ b).relu(), a.sum(0)
    a, b = ember.randn(2, 3), ember.randn(3, 4)
    sess = session(export_bytes(fn, (a, b)))
    assert [o.name for o in sess.get_outputs()] == ["output_0", "output_1"]
    assert_close(run(sess, {"a": a, "b": b}), expected_outputs(fn, (a, b)))


def test_none_and_python_values_in_args_are_baked_not_inputs():
    """(input_ids, None, 2.0): torch drops None inputs; plain values reach forward as given."""
    class Masked(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 2)

        def forward(self, input_ids, attention_mask=None, scale=1.0, negate=False):
            y = self.lin(input_ids) * scale
            if attention_mask is not None:
                y = y * attention_mask.unsqueeze(-1)
            return -y if negate else y
    model = Masked().eval()
    data = export_bytes(model, (ember.randn(2, 3), None, 2.0, True),
                        dynamic_axes={"input_ids": {0: "b"}})
    assert [i.name for i in onnx.load_from_string(data).graph.input] == ["input_ids"]
    x = ember.randn(5, 3)
    assert_close(run(session(data), {"input_ids": x}),
                 expected_outputs(model, (x, None, 2.0, True)))
    mask = ember.ones(2)
    data = export_bytes(model, (ember.randn(2, 3), mask), input_names=["ids", "mask"])
    assert [i.name for i in onnx.load_from_string(data).graph.input] == ["ids", "mask"]


def test_training_mode_is_restored():
    model = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5)).train()
    x = ember.randn(2, 3)
    data = export_bytes(model, (x,))
    assert model.training
    model.eval()
    assert_close(run(session(data), {"input": x}), expected_outputs(model, (x,)))


def test_verbose_prints_both_graphs(capsys):
    export_bytes(_mlp(), (ember.randn(1, 3),), verbose=True)
    out = capsys.readouterr().out
    assert "matmul" in out and "MatMul" in out


def test_bad_arguments():
    x = ember.randn(1, 3)
    with pytest.raises(ValueError, match="opset_version 10"):
        ember.onnx.export(_mlp(), (x,), io.BytesIO(), opset_version=10)
    with pytest.raises(ValueError, match="input_names"):
        ember.onnx.export(_mlp(), (x,), io.BytesIO(), input_names=list("abcdef"))
    with pytest.raises(ValueError, match="out of range"):
        ember.onnx.export(_mlp(), (x,), io.BytesIO(), dynamic_axes={"input": {2: "n"}})
    with pytest.warns(UserWarning, match="not an input or output"):
        ember.onnx.export(_mlp(), (x,), io.BytesIO(), dynamic_axes={"nope": {0: "n"}})


# ---- dynamic sizes inside the model -------------------------------------------------------
def test_sizes_read_from_the_input_follow_the_dynamic_axes():
    class Heads(nn.Module):
        def forward(self, x):
            b, t, c = x.shape
            h = x.view(b, t, 2, c // 2).transpose(1, 2)
            state = ember.zeros(b, 2, 1, c // 2)
            steps = ember.arange(t).float().view(1, 1, t, 1)
            return (h + state + steps).reshape(b * 2, t, c // 2)

    model = Heads()

    def make(n):
        return (ember.randn(n, n + 2, 4),)
    sess = session(export_bytes(model, make(2), input_names=["x"],
                                dynamic_axes={"x": {0: "batch", 1: "seq"}}))
    for n in (2, 4):
        inputs = make(n)
        assert_close(run(sess, {"x": inputs[0]}), expected_outputs(model, inputs))
    out = sess.get_outputs()[0]
    assert out.shape[1] == "seq"


def test_setitem_exports_as_scatter():
    def fn(x):
        y = x.clone()
        y[:, 0] = 0.0
        y[1] = y[1] * 2.0
        return y
    x = ember.randn(3, 4)
    assert_close(run(session(export_bytes(fn, (x,))), {"x": x}), expected_outputs(fn, (x,)))


def test_size_dependent_python_loop_is_refused():
    """A loop over a dynamic axis unrolls differently at each size: tracing cannot export it
    (ember.jit.script, which would compile it to an ONNX Loop, does not exist yet)."""
    def running_sum(x):
        out = x[:, 0]
        for t in range(1, x.shape[1]):
            out = out + x[:, t]
        return out
    x = ember.randn(2, 4)
    with pytest.raises(RuntimeError, match="different graph when dynamic axis 'seq'"):
        ember.onnx.export(running_sum, (x,), io.BytesIO(), dynamic_axes={"x": {1: "seq"}})
    sess = session(export_bytes(running_sum, (x,)))
    assert_close(run(sess, {"x": x}), expected_outputs(running_sum, (x,)))


def test_factory_tensor_filled_in_place_follows_dynamic_axes():
    """zeros_like(mask).masked_fill_(mask, -inf), as a bool key padding mask is converted:
    the factory's zeros are the constant, the in-place fill a node on it."""
    def fn(x, pad):
        bias = ember.zeros_like(pad, dtype=x.dtype).masked_fill_(pad, float("-inf"))
        return (x + bias).softmax(-1)
    pads = [ember.tensor([[False, True, True], [False, False, True]]),
            ember.tensor([[False, False, True]] * 4)]
    sess = session(export_bytes(fn, (ember.randn(2, 3), pads[0]), input_names=["x", "pad"],
                                dynamic_axes={"x": {0: "n"}, "pad": {0: "n"}}))
    for pad in pads:
        x = ember.randn(pad.shape[0], 3)
        assert_close(run(sess, {"x": x, "pad": pad}), expected_outputs(fn, (x, pad)))


def test_constant_that_cannot_follow_a_dynamic_axis():
    def fn(x):
        weights = ember.tensor([float(i * i) for i in range(x.shape[0])])
        return x * weights[:, None]
    with pytest.raises(UnsupportedOperatorError, match="made inside the model"):
        ember.onnx.export(fn, (ember.randn(3, 2),), io.BytesIO(),
                          dynamic_axes={"x": {0: "n"}})


def test_interpolate_by_a_scale_follows_dynamic_image_sizes():
    """By a scale factor or to a size, nearest and (bi)linear upsampling lower to Resize, which
    computes torch's sizes and positions at any size; bicubic's taps are constants of the
    traced size, refused by name on a dynamic axis."""
    for mode in ("nearest", "bilinear"):
        model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1),
                              nn.Upsample(scale_factor=1.5, mode=mode)).eval()
        sess = session(export_bytes(model, (ember.randn(1, 2, 4, 6),), input_names=["x"],
                                    dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}}))
        x = ember.randn(3, 2, 5, 7)
        assert_close(run(sess, {"x": x}), expected_outputs(model, (x,)))
    fixed = nn.Upsample(size=(8, 12), mode="bilinear")
    sess = session(export_bytes(fixed, (ember.randn(1, 2, 4, 6),), input_names=["x"],
                                dynamic_axes={"x": {0: "n", 2: "h"}}))
    x = ember.randn(2, 2, 7, 6)
    assert_close(run(sess, {"x": x}), expected_outputs(fixed, (x,)))
    cubic = nn.Upsample(scale_factor=2, mode="bicubic")
    with pytest.raises(UnsupportedOperatorError, match="interpolate \\(bicubic\\) along dim 2"):
        ember.onnx.export(cubic, (ember.randn(1, 2, 4, 6),), io.BytesIO(), input_names=["x"],
                          dynamic_axes={"x": {0: "n", 2: "h"}})


def test_interpolate_to_the_input_size_follows_dynamic_image_sizes():
    """A segmentation head resizes its logits to the image: Resize to sizes read from the
    input's shape at run time, in each mode torch lowers that way."""
    def head(x, feat):
        return (F.interpolate(feat, size=x.shape[-2:], mode="bilinear", align_corners=False),
                F.interpolate(feat, size=x.shape[-2:], mode="bilinear", align_corners=True),
                F.interpolate(feat, size=x.shape[-2:], mode="nearest"),
                F.interpolate(feat, scale_factor=2, mode="bilinear", align_corners=True))
    axes = {"x": {0: "n", 2: "h", 3: "w"}, "feat": {0: "n", 2: "fh", 3: "fw"}}
    sess = session(export_bytes(head, (ember.randn(1, 3, 12, 10), ember.randn(1, 2, 3, 4)),
                                input_names=["x", "feat"], dynamic_axes=axes))
    for xs, fs in (((2, 3, 17, 9), (2, 2, 5, 3)), ((1, 3, 8, 8), (1, 2, 1, 2))):
        x, feat = ember.randn(*xs), ember.randn(*fs)
        assert_close(run(sess, {"x": x, "feat": feat}), expected_outputs(head, (x, feat)))


def test_reflection_padding_and_instance_norm_follow_dynamic_batch_and_image_sizes():
    """A style-transfer block: the padding is Pad (reflect / edge), and instance_norm's folded
    (batch x channels) dim follows the dynamic batch."""
    model = nn.Sequential(nn.ReflectionPad2d((2, 0, 1, 1)), nn.Conv2d(2, 3, 3),
                          nn.InstanceNorm2d(3, affine=True), nn.ReplicationPad2d(1)).eval()
    sess = session(export_bytes(model, (ember.randn(1, 2, 6, 5),), input_names=["x"],
                                dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}}))
    x = ember.randn(2, 2, 9, 4)
    assert_close(run(sess, {"x": x}), expected_outputs(model, (x,)))


def test_a_resnet_style_classifier_follows_dynamic_batch_and_image_sizes():
    """Strided convs, a max pool in floor mode (MaxPool with the symmetric padding) and a
    global average pool (ReduceMean): the exported graph runs at any image size."""
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 8, 3, stride=2, padding=1)
            self.down = nn.Conv2d(4, 8, 1, stride=2)

        def forward(self, x):
            return (self.conv(x) + self.down(x)).relu()

    model = nn.Sequential(nn.Conv2d(3, 4, 7, stride=2, padding=3), nn.BatchNorm2d(4),
                          nn.ReLU(), nn.MaxPool2d(3, 2, 1), Block(), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(8, 5)).eval()
    sess = session(export_bytes(model, (ember.randn(1, 3, 32, 32),), input_names=["x"],
                                dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}}))
    for shape in [(2, 3, 40, 24), (1, 3, 29, 37)]:
        x = ember.randn(*shape)
        assert_close(run(sess, {"x": x}), expected_outputs(model, (x,)))


def test_size_made_by_a_strided_layer_is_not_taken_for_static():
    """After a stride-2 pool, 15 and 14 rows both give 7: the resized trace must not make
    that size look fixed (the adaptive pool after it would bake in 7 rows)."""
    model = nn.Sequential(nn.MaxPool2d(2), nn.AdaptiveAvgPool2d((3, 3))).eval()
    with pytest.raises(UnsupportedOperatorError, match="adaptive pooling to 3 along dim 2"):
        ember.onnx.export(model, (ember.randn(1, 1, 15, 15),), io.BytesIO(),
                          dynamic_axes={"input": {2: "h", 3: "w"}})
    flat = nn.Sequential(nn.Conv2d(1, 2, 3, 2, 1), nn.Flatten(), nn.Linear(2 * 8 * 8, 3))
    sess = session(export_bytes(flat.eval(), (ember.randn(2, 1, 15, 15),), input_names=["x"],
                                dynamic_axes={"x": {0: "n"}}))
    x = ember.randn(5, 1, 15, 15)
    assert_close(run(sess, {"x": x}), expected_outputs(flat, (x,)))


def test_ceil_mode_max_pool_follows_dynamic_image_sizes():
    """Without a window that could start in the padding, MaxPool's ceil_mode is torch's."""
    model = nn.Sequential(nn.MaxPool2d(2, ceil_mode=True), nn.MaxPool2d(3, 2, 1, ceil_mode=True))
    sess = session(export_bytes(model, (ember.randn(1, 2, 9, 8),), input_names=["x"],
                                dynamic_axes={"x": {2: "h", 3: "w"}}))
    for h, w in ((9, 8), (13, 7), (4, 11)):
        x = ember.randn(1, 2, h, w)
        assert_close(run(sess, {"x": x}), expected_outputs(model, (x,)))
    dropping = nn.MaxPool2d(2, 3, ceil_mode=True)
    with pytest.raises(UnsupportedOperatorError, match="ceil mode"):
        ember.onnx.export(dropping, (ember.randn(1, 2, 9, 8),), io.BytesIO(),
                          dynamic_axes={"input": {2: "h"}})


def test_roll_follows_dynamic_sizes():
    """The split point of a roll along a dynamic dim is shift mod size, computed at run time."""
    def fn(x):
        return x.roll(2, -1), x.roll((-1, 3), (0, 1)), x.roll(5)
    sess = session(export_bytes(fn, (ember.randn(3, 4),), input_names=["x"],
                                dynamic_axes={"x": {0: "a", 1: "b"}}))
    for shape in ((3, 4), (5, 2), (1, 7), (2, 1)):
        x = ember.randn(*shape)
        assert_close(run(sess, {"x": x}), expected_outputs(fn, (x,)))


def test_size_read_from_a_strided_feature_map_follows_dynamic_image_sizes():
    """An FPN top-down step upsamples to the finer map's size, which follows no monomial of
    the image size ((h - 1) // 2 + 1): it is read at run time from that map's Shape."""
    class TopDown(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(3, 4, 3, 2, 1)
            self.c2 = nn.Conv2d(4, 4, 3, 2, 1)

        def forward(self, x):
            fine = self.c1(x)
            coarse = self.c2(fine)
            return fine + F.interpolate(coarse, size=fine.shape[-2:], mode="nearest")
    model = TopDown().eval()
    sess = session(export_bytes(model, (ember.randn(1, 3, 15, 13),), input_names=["x"],
                                dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}}))
    for shape in ((2, 3, 20, 22), (1, 3, 9, 16)):
        x = ember.randn(*shape)
        assert_close(run(sess, {"x": x}), expected_outputs(model, (x,)))


def test_conv_transpose_follows_dynamic_image_sizes():
    """ConvTranspose computes its output size from the input's, with output_padding fixed;
    an output_size that does not follow the input that way is refused by name."""
    model = nn.Sequential(nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1),
                          nn.ConvTranspose2d(3, 2, 2, stride=2)).eval()
    sess = session(export_bytes(model, (ember.randn(1, 2, 5, 4),), input_names=["x"],
                                dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}}))
    for shape in ((2, 2, 7, 3), (1, 2, 1, 6)):
        x = ember.randn(*shape)
        assert_close(run(sess, {"x": x}), expected_outputs(model, (x,)))
    up = nn.ConvTranspose2d(2, 2, 2, stride=2)

    def to_size(x):
        h = x.shape[2]
        return up(x, output_size=(2 * h + (h < 6), 8))  # one more row for small inputs
    with pytest.raises(UnsupportedOperatorError, match="does not follow its input's size"):
        ember.onnx.export(to_size, (ember.randn(1, 2, 4, 4),), io.BytesIO(),
                          dynamic_axes={"x": {2: "h"}})


def test_floor_mode_average_pool_follows_dynamic_image_sizes():
    """Average pooling is a convolution whose end padding crops what the last window leaves
    out, which changes with the size: one fixed end padding gives the same windows."""
    model = nn.Sequential(nn.AvgPool2d(2), nn.AvgPool2d(3, 2, 1)).eval()
    sess = session(export_bytes(model, (ember.randn(1, 2, 16, 12),), input_names=["x"],
                                dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}}))
    for shape in ((1, 2, 16, 12), (2, 2, 23, 9), (1, 2, 4, 5)):
        x = ember.randn(*shape)
        assert_close(run(sess, {"x": x}), expected_outputs(model, (x,)))
    with pytest.raises(RuntimeError, match=r"cannot export op 'convolution' at opset 17: "
                                           r"padding .* changes with the dynamic axes"):
        ember.onnx.export(nn.AvgPool2d(2, ceil_mode=True), (ember.randn(1, 2, 8, 6),),
                          io.BytesIO(), dynamic_axes={"input": {2: "h"}})


def test_model_that_breaks_at_another_size():
    def fn(x):
        return x.view(3, 2) * 2
    with pytest.raises(RuntimeError, match="fails when dynamic axis 'n' has size"):
        ember.onnx.export(fn, (ember.randn(3, 2),), io.BytesIO(), dynamic_axes={"x": {0: "n"}})


def test_write_through_a_view_read_afterwards_is_refused():
    def fn(x):
        y = x * 1
        row = y[0]
        row.add_(1)
        return y
    with pytest.raises(UnsupportedOperatorError, match="through another view"):
        ember.onnx.export(fn, (ember.randn(2, 3),), io.BytesIO())


# ---- unsupported ops ------------------------------------------------------------------------
def test_unsupported_op_names_op_and_model_line():
    class Inverts(nn.Module):
        def forward(self, x):
            return ember.linalg.inv(x) + 1  # the line the error must quote

    with pytest.raises(UnsupportedOperatorError) as info:
        ember.onnx.export(Inverts(), (ember.eye(3) + 1,), io.BytesIO())
    err = info.value
    assert isinstance(err, RuntimeError)
    assert err.op == "linalg_inv" and err.opsets is None and err.opset == 17
    message = str(err)
    assert "'linalg_inv'" in message
    assert "test_onnx_export.py" in message and "the line the error must quote" in message


def test_unsupported_at_this_opset_names_the_opset_that_works():
    def fn(a, b):
        return a & b
    a = ember.tensor([[1, 6], [3, 4]])
    b = ember.tensor([[3, 2], [7, 0]])
    with pytest.raises(UnsupportedOperatorError, match="opsets 18 to 21") as info:
        ember.onnx.export(fn, (a, b), io.BytesIO())
    assert info.value.opsets == (18, 21) and "opset_version=18" in str(info.value)
    sess = session(export_bytes(fn, (a, b), opset_version=18))
    assert_close(run(sess, {"a": a, "b": b}), expected_outputs(fn, (a, b)))


def test_onnx_node_missing_at_the_opset_is_refused_naming_where_it_appears():
    """Opsets 13 to 16 lack some nodes and attributes (ScatterElements' reduction appears at
    16): the op is refused naming that opset, not left to the checker."""
    def histogram(x, index):
        return ember.zeros(4).scatter_add(0, index, x)
    x, index = ember.randn(6), ember.tensor([0, 1, 1, 3, 0, 1])
    with pytest.raises(UnsupportedOperatorError, match="'scatter_add' at opset 15") as info:
        ember.onnx.export(histogram, (x, index), io.BytesIO(), opset_version=15)
    assert info.value.opsets == (16, 21) and "opset_version=16" in str(info.value)
    sess = session(export_bytes(histogram, (x, index), opset_version=16))
    assert_close(run(sess, {"x": x, "index": index}), expected_outputs(histogram, (x, index)))


def test_op_lowering_limited_to_later_opsets():
    def fold(x):
        return nn.functional.fold(x, (4, 5), 2)
    x = ember.randn(1, 8, 12)
    with pytest.raises(UnsupportedOperatorError, match="'col2im'.*opsets 18 to 21"):
        ember.onnx.export(fold, (x,), io.BytesIO())
    sess = session(export_bytes(fold, (x,), opset_version=18))
    assert_close(run(sess, {"x": x}), expected_outputs(fold, (x,)))


def test_traced_script_module_exports():
    model = _mlp()
    traced = ember.jit.trace(model, ember.randn(2, 3))
    x = ember.randn(5, 3)
    data = export_bytes(traced, (ember.randn(2, 3),), dynamic_axes={"input": {0: "batch"}})
    assert_close(run(session(data), {"input": x}), expected_outputs(model, (x,)))


@pytest.mark.parametrize("dynamo", [False, True])
def test_dynamo_flag_is_accepted(dynamo):
    """torch code picks its exporter with `dynamo=`; ember's one exporter serves both."""
    model = _mlp()
    x = ember.randn(2, 3)
    data = export_bytes(model, (x,), input_names=["x"], dynamo=dynamo)
    assert_close(run(session(data), {"x": x}), expected_outputs(model, (x,)))
