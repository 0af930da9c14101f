"""The IR: building, printing, verifying and JSON-encoding graphs and literals."""
import math

import numpy as np
import pytest

import ember
from ember.jit.ir import (AsTensor, Graph, GraphError, TensorType, decode, encode,
                          literal_key)


def _graph():
    g = Graph()
    x = g.add_input(TensorType(ember.float32, (2, 3)), "x")
    w = g.add_constant("w", ember.ones(2, 3), "parameter")
    node = g.add_node("add", [x, w], {}, [TensorType(ember.float32, (2, 3))])
    g.outputs = [node.outputs[0]]
    return g


def test_print_in_torchscript_style():
    text = str(_graph())
    assert "graph(%x : Float(2, 3)):" in text
    assert '%w : Float(2, 3) = prim::Param[name="w"]()' in text
    assert "%2 : Float(2, 3) = add(%x, %w)" in text
    assert "return (%2)" in text


def test_types_print_dtype_and_device():
    assert str(TensorType(ember.int64, ())) == "Long()"
    assert str(TensorType(ember.bool, (4,), "cuda:0")) == "Bool(4, device=cuda:0)"
    t = TensorType(ember.float16, (1, 2))
    assert TensorType.from_json(t.to_json()) == t


def test_verify_accepts_a_valid_graph():
    assert _graph().verify() is not None


def test_verify_rejects_use_before_definition():
    g = _graph()
    later = g.add_node("neg", [g.inputs[0]], {}, [g.inputs[0].type])
    g.nodes.insert(0, g.nodes.pop())
    g.nodes[0].args = [g.nodes[1].outputs[0]]
    with pytest.raises(GraphError, match="not defined before"):
        g.verify()
    assert later.op == "neg"


def test_verify_rejects_unknown_ops_and_double_definitions():
    g = _graph()
    g.nodes[0].op = "no_such_op"
    with pytest.raises(GraphError, match="no op named 'no_such_op'"):
        g.verify()
    g = _graph()
    g.nodes[0].outputs[0].id = g.inputs[0].id
    with pytest.raises(GraphError, match="defined twice"):
        g.verify()


def test_verify_checks_arity_of_inplace_nodes_and_constant_types():
    g = _graph()
    g.nodes[0].inplace = True
    g.nodes[0].args = [g.inputs[0], 1]
    g.nodes[0].outputs[0].type = TensorType(ember.float64, (2, 3))
    with pytest.raises(GraphError, match="in-place but changes the type"):
        g.verify()
    g = _graph()
    g.constant_kind["w"] = "constant"
    g.constant_data["w"] = ember.ones(3)
    with pytest.raises(GraphError, match="holds a Float\\(3\\) tensor"):
        g.verify()
    g = _graph()
    g.nodes[0].outputs = []
    with pytest.raises(GraphError, match="no outputs"):
        g.verify()


def test_verify_rejects_literals_the_ir_cannot_hold():
    g = _graph()
    g.nodes[0].attrs["alpha"] = object()
    with pytest.raises(GraphError, match="cannot be held"):
        g.verify()


@pytest.mark.parametrize("literal", [
    None, True, 3, -2.5, math.inf, "preserve", (1, (2, 3)), [1, 2], {"a": (1,)},
    slice(1, None, 2), Ellipsis, ember.float16, ember.device("cpu"), 1 + 2j,
    np.array([[1, 2], [3, 4]]), np.array([True, False]), np.float32(1.5),
    (slice(None), Ellipsis, None, np.array([0, 2]))])
def test_literals_round_trip_through_json(literal):
    import json
    back = decode(json.loads(json.dumps(encode(literal), allow_nan=False)), {})
    assert literal_key(back) == literal_key(literal)
    assert type(back) is type(literal)


def test_nan_literal_round_trips():
    assert math.isnan(decode(encode(math.nan), {}))


def test_values_inside_literals_encode_by_id():
    g = _graph()
    x = g.inputs[0]
    data = encode((x, AsTensor(x), slice(0, 2)))
    back = decode(data, {x.id: x})
    assert back[0] is x and back[1].value is x


def test_decode_rejects_malformed_data():
    for bad in ({"$value": 99}, {"$dtype": "float99"}, {"$slice": [1]}, {"$foo": 1},
                {"$array": {"dtype": "int64", "shape": [3], "data": [1, 2]}},
                {"$device": "tpu"}, {"a": 1, "b": 2}):
        with pytest.raises(GraphError):
            decode(bad, {})


def test_copy_is_independent():
    g = _graph()
    c = g.copy()
    c.nodes[0].op = "sub"
    assert g.nodes[0].op == "add"
    assert c.verify() and str(c).count("sub(") == 1
