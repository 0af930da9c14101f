"""The saved artifact: one zip holding `ir.json` (the graphs, versioned, with the module's
layout and input/output specs) and `weights.safetensors` (parameters, buffers, constants).

Nothing is pickled. Loading parses JSON and safetensors, checks every op name against the
registry and every literal against the IR's literal kinds, and builds a ScriptModule or
ScriptFunction from them: no code from the file runs.
"""
from __future__ import annotations

import io
import json
import os
import zipfile
import zlib

from .. import __version__ as EMBER_VERSION
from .._device import device as Device
from .._ops.misc import view_as_complex, view_as_real
from .._ops.registry import REGISTRY
from .._tensor import Tensor
from ..serialization import write_atomically
from ..utils import safetensors
from .ir import (CONTROL_OPS, FUSION_GROUP, SYMBOL, Graph, GraphError, Node, TensorType,
                 decode, encode)
from .runtime import ScriptFunction, ScriptModule
from .schema import CallSchema
from .symbolic import used_symbols

FORMAT = "ember.jit"
# 6: complex tensors stored as their real views (safetensors has no complex128), named with
# their dtypes in "complex_weights"; 5: size symbols (graphs that generalize over batch size
# and sequence length); 4: None among the outputs, call schemas, nodes run without autograd,
# graphs fixed to their input sizes; 3: Python numbers among the outputs; 2: control-flow
# blocks. Every older version loads.
FORMAT_VERSION = 6
_IR = "ir.json"
_WEIGHTS = "weights.safetensors"


# ---- graphs as JSON --------------------------------------------------------------------------
def graph_to_json(graph: Graph, constant_key) -> dict:
    """A graph as JSON data; `constant_key(name, kind)` gives each constant's weights key."""
    def value(v):
        return {"id": v.id, "type": v.type.to_json()}

    def spec_of(values):
        return [{"dtype": v.type.dtype.name, "shape": list(v.type.shape),
                 "device": v.type.device} for v in values]
    return {
        "inputs": [dict(value(v), name=v.name) for v in graph.inputs],
        "constants": [dict(value(v), name=n, kind=graph.constant_kind[n],
                           key=constant_key(n, graph.constant_kind[n]))
                      for n, v in graph.constants.items()],
        "nodes": _nodes_to_json(graph),
        "outputs": [v.id for v in graph.outputs],
        "input_spec": graph.input_spec,
        "output_spec": graph.output_spec,
        "signature": {"inputs": spec_of(graph.inputs), "outputs": spec_of(graph.outputs)},
        "call_schema": None if graph.call_schema is None else graph.call_schema.to_json(),
        "fixed_sizes": graph.fixed_sizes,
        "free_dims": None if graph.free_dims is None else [list(d) for d in graph.free_dims],
        "arg_names": graph.arg_names,
        "symbols": {name: list(where) for name, where in graph.symbols.items()},
        "min_sizes": graph.min_sizes,
    }


def _nodes_to_json(graph: Graph) -> list:
    def value(v):
        return {"id": v.id, "type": v.type.to_json()}
    nodes = []
    for node in graph.nodes:
        if node.op == FUSION_GROUP:
            raise RuntimeError("save() writes unfused graphs; got a fusion group")
        entry = {"op": node.op, "args": [encode(a) for a in node.args],
                 "attrs": {k: encode(v) for k, v in node.attrs.items()},
                 "outputs": [value(v) for v in node.outputs], "inplace": node.inplace,
                 "compute": node.compute and node.compute.name,
                 "result": node.result and node.result.name}
        if node.tuple_out:
            entry["tuple"] = True
        if node.no_grad:
            entry["no_grad"] = True
        if node.blocks:
            entry["blocks"] = [{"inputs": [value(v) for v in b.inputs],
                                "nodes": _nodes_to_json(b),
                                "outputs": [v.id for v in b.outputs]} for b in node.blocks]
        nodes.append(entry)
    return nodes


def _require(cond, what: str) -> None:
    if not cond:
        raise GraphError(what)


def _spec(obj, what: str):
    """Validate a nesting spec (tensor / number / tuple / list / dict of specs)."""
    _require(isinstance(obj, list) and obj, f"malformed {what} spec")
    kind = obj[0]
    if kind in ("tensor", "none"):
        _require(len(obj) == 1, f"malformed {what} spec")
    elif kind == "number":
        _require(len(obj) == 2 and obj[1] in ("int", "float", "bool"), f"malformed {what} spec")
    elif kind == "str":
        _require(len(obj) == 3 and isinstance(obj[1], str) and isinstance(obj[2], list) and all(
            isinstance(f, list) and len(f) == 2 and f[0] in ("int", "float", "bool", "tensor")
            and isinstance(f[1], str) for f in obj[2]), f"malformed {what} spec")
    elif kind in ("tuple", "list"):
        _require(len(obj) == 2 and isinstance(obj[1], list), f"malformed {what} spec")
        for s in obj[1]:
            _spec(s, what)
    elif kind == "namedtuple":
        desc = obj[1] if len(obj) == 3 else None
        _require(isinstance(desc, dict) and isinstance(desc.get("module"), str) and
                 isinstance(desc.get("qualname"), str) and isinstance(obj[2], list) and
                 isinstance(desc.get("fields"), list) and len(desc["fields"]) == len(obj[2])
                 and all(isinstance(f, str) and f.isidentifier() for f in desc["fields"]),
                 f"malformed {what} spec")
        for s in obj[2]:
            _spec(s, what)
    elif kind == "dict":
        _require(len(obj) == 2 and isinstance(obj[1], list), f"malformed {what} spec")
        for pair in obj[1]:
            _require(isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str),
                     f"malformed {what} spec")
            _spec(pair[1], what)
    else:
        raise GraphError(f"malformed {what} spec")
    return obj


def graph_from_json(data, weights: dict, device: str | None = None) -> tuple[Graph, dict]:
    """Rebuild a graph; returns it and {constant name: weights key}. With `device` (where
    map_location moved the weights) every value is retyped onto it; without, each weight in
    `weights` goes to the device its constant was saved from, as torch.jit.load does."""
    from .tracer import spec_arity
    _require(isinstance(data, dict), "a method entry is not an object")
    g = Graph()
    values = {}
    top = 0

    def define(entry, node=None, index=0, name=None):
        nonlocal top
        _require(isinstance(entry, dict) and type(entry.get("id")) is int and
                 entry["id"] >= 0, f"malformed value entry {str(entry)[:80]}")
        vid = entry["id"]
        _require(vid not in values, f"value {vid} is defined twice")
        from .ir import Value
        t = TensorType.from_json(entry.get("type"))
        if device is not None:
            t = TensorType(t.dtype, t.shape, device)
        v = Value(vid, t, node, index, name)
        values[vid] = v
        top = max(top, vid + 1)
        return v

    for entry in _list(data, "inputs"):
        name = entry.get("name") if isinstance(entry, dict) else None
        _require(name is None or isinstance(name, str), "malformed input name")
        g.inputs.append(define(entry, name=name))
    keys = {}
    for entry in _list(data, "constants"):
        _require(isinstance(entry, dict), "malformed constant entry")
        name, kind, key = entry.get("name"), entry.get("kind"), entry.get("key")
        _require(isinstance(name, str) and name and kind in ("parameter", "buffer", "constant")
                 and isinstance(key, str), f"malformed constant entry {str(entry)[:80]}")
        _require(name not in g.constants, f"constant {name!r} is defined twice")
        _require(key in weights, f"constant {name!r} has no tensor {key!r} in "
                                 f"{_WEIGHTS}")
        v = define(entry, name=name)
        held = TensorType.of(weights[key])
        _require(held.dtype is v.type.dtype and held.shape == v.type.shape,
                 f"constant {name!r} is typed {v.type} but {_WEIGHTS} holds {held}")
        if held.device != v.type.device:
            weights[key] = _placed(weights[key], v.type.device, name)
        g.constants[name] = v
        g.constant_kind[name] = kind
        g.constant_data[name] = weights[key]
        keys[name] = key
    g.nodes = _nodes_from_json(_list(data, "nodes"), values, define)
    outputs = _list(data, "outputs")
    _require(all(type(o) is int and o in values for o in outputs), "malformed graph outputs")
    g.outputs = [values[o] for o in outputs]
    g.input_spec = _spec(data.get("input_spec"), "input")
    g.output_spec = _spec(data.get("output_spec"), "output")
    _require(spec_arity(g.input_spec) == len(g.inputs) and
             spec_arity(g.output_spec) == len(g.outputs), "specs do not match the graph")
    if data.get("call_schema") is not None:
        try:
            g.call_schema = CallSchema.from_json(data["call_schema"])
        except ValueError as e:
            _require(False, str(e))
        _require(g.call_schema.arity() == len(g.inputs),
                 "the call schema does not match the graph's inputs")
    g.fixed_sizes = data.get("fixed_sizes") is True
    free = data.get("free_dims")
    _require(free is None or isinstance(free, list) and all(
        isinstance(d, list) and len(d) == 2 and all(type(i) is int for i in d) and
        0 <= d[0] < len(g.inputs) and 0 <= d[1] < len(g.inputs[d[0]].type.shape)
        for d in free), "malformed free_dims")
    g.free_dims = None if free is None else tuple(tuple(d) for d in free)
    g.arg_names = data.get("arg_names")
    _require(g.arg_names is None or isinstance(g.arg_names, list) and all(
        isinstance(n, str) and n.isidentifier() for n in g.arg_names) and
        len(set(g.arg_names)) == len(g.arg_names), "malformed arg_names")
    g.symbols = _symbols(data.get("symbols", {}), g)
    _require(used_symbols(g) <= set(g.symbols), "the graph uses size symbols it does not define")
    g.min_sizes = data.get("min_sizes", {})
    _require(isinstance(g.min_sizes, dict) and set(g.min_sizes) <= set(g.symbols) and
             all(n in (1, 2) for n in g.min_sizes.values()), "malformed min_sizes")
    g._next = top
    g.verify()
    return g, keys


def _symbols(data, g: Graph) -> dict:
    """A graph's size symbols from JSON: each is read from an input dim (position, dim,
    coefficient >= 1, offset)."""
    _require(isinstance(data, dict), "malformed size symbols")
    out = {}
    for name, where in data.items():
        _require(SYMBOL.fullmatch(name) is not None and isinstance(where, list) and
                 len(where) == 4 and all(type(n) is int for n in where),
                 f"malformed size symbol {name!r}")
        k, dim, coeff, _ = where
        _require(0 <= k < len(g.inputs) and 0 <= dim < len(g.inputs[k].type.shape) and
                 coeff >= 1, f"size symbol {name!r} reads no input dim")
        out[name] = tuple(where)
    return out


def _nodes_from_json(entries: list, values: dict, define) -> list:
    """Nodes (with their blocks, each a scope of its own) from their JSON entries."""
    nodes = []
    for i, entry in enumerate(entries):
        _require(isinstance(entry, dict), f"node {i} is not an object")
        op = entry.get("op")
        _require(isinstance(op, str), f"node {i} has no op name")
        if op not in REGISTRY and op not in CONTROL_OPS:
            raise GraphError(f"node {i} calls op {op!r}, which this ember's registry does "
                             "not have (the file needs a newer ember)")
        attrs = entry.get("attrs", {})
        _require(isinstance(attrs, dict), f"node {i} has malformed attributes")
        node = Node(op, [decode(a, values) for a in _list(entry, "args")],
                    {k: decode(v, values) for k, v in attrs.items()},
                    inplace=entry.get("inplace") is True,
                    compute=_dtype(entry.get("compute")), result=_dtype(entry.get("result")))
        node.tuple_out = entry.get("tuple") is True
        node.no_grad = entry.get("no_grad") is True
        for block in entry.get("blocks", []) if op in CONTROL_OPS else ():
            _require(isinstance(block, dict), f"node {i} has a malformed block")
            b = Graph()
            inner: dict = {}

            def define_inner(e, node=None, index=0, name=None, inner=inner):
                v = define(e, node, index, name)
                del values[v.id]
                inner[v.id] = v
                return v
            b.inputs = [define_inner(e) for e in _list(block, "inputs")]
            b.nodes = _nodes_from_json(_list(block, "nodes"), inner, define_inner)
            outs = _list(block, "outputs")
            _require(all(type(o) is int and o in inner for o in outs),
                     "malformed block outputs")
            b.outputs = [inner[o] for o in outs]
            node.blocks.append(b)
        outs = _list(entry, "outputs")
        # a control-flow node may have none: a scripted if that only writes buffers in place
        _require(outs or op in CONTROL_OPS, f"node {i} has no outputs")
        node.outputs = [define(o, node, k) for k, o in enumerate(outs)]
        nodes.append(node)
    return nodes


def _list(obj, key):
    value = obj.get(key) if isinstance(obj, dict) else None
    _require(isinstance(value, list), f"missing or malformed {key!r}")
    return value


def _dtype(name):
    if name is None:
        return None
    from .. import _dtype as D
    _require(name in D._BY_NAME, f"unknown dtype {name!r}")
    return D._BY_NAME[name]


# ---- save ------------------------------------------------------------------------------------
_EXTRA = "extra/"


def save(script, f, _extra_files=None) -> None:
    """Write a ScriptModule or ScriptFunction to a path or binary file object; `_extra_files`
    ({name: str or bytes}) are stored beside it for `load(..., _extra_files=)` to read."""
    weights: dict[str, Tensor] = {}
    if isinstance(script, ScriptModule):
        layout = script.layout()
        by_id: dict[int, str] = {}
        tensors = dict(script.named_parameters(remove_duplicate=False))
        tensors.update(dict(script.named_buffers(remove_duplicate=False)))
        for entry in layout["parameters"] + layout["buffers"]:
            t = tensors[entry["name"]]
            first = by_id.setdefault(id(t), entry["name"])
            if first != entry["name"]:
                entry["same_as"] = first
            else:
                weights[entry["name"]] = t.detach()
        kind = "module"
    elif isinstance(script, ScriptFunction):
        layout = None
        kind = "function"
    else:
        raise TypeError(f"ember.jit.save expects a ScriptModule or ScriptFunction, got "
                        f"{type(script).__name__}")
    methods = {}
    for name, method in script._methods.items():
        graph = method.graph
        _refuse_python_calls(graph)

        def key(cname, ckind, graph=graph, name=name):
            if ckind != "constant" and kind == "module":
                return cname
            k = f"{name}/{cname}"
            weights[k] = graph.constant_data[cname].detach()
            return k
        methods[name] = graph_to_json(graph, key)
    if not methods:
        raise RuntimeError(f"ember.jit.save: {type(script).__name__} has no graph yet: "
                           "ember.jit.script builds one for the argument types of the first "
                           "call. Call it once, or pass example_inputs= to ember.jit.script, "
                           "before saving")
    complex_weights = {k: t.dtype.name for k, t in weights.items() if t.is_complex()}
    for k in complex_weights:
        weights[k] = view_as_real(weights[k].resolve_conj().contiguous())
    ir = {"format": FORMAT, "format_version": FORMAT_VERSION, "ember_version": EMBER_VERSION,
          "kind": kind, "name": getattr(script, "name", None), "module": layout,
          "methods": methods, "complex_weights": complex_weights}
    text = json.dumps(ir, allow_nan=False, indent=1).encode("utf-8")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(_IR, text, compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr(_WEIGHTS, safetensors.save(weights), compress_type=zipfile.ZIP_STORED)
        for name, content in (_extra_files or {}).items():
            zf.writestr(_EXTRA + name, content.encode("utf-8") if isinstance(content, str)
                        else bytes(content), compress_type=zipfile.ZIP_DEFLATED)
    payload = buffer.getvalue()
    if hasattr(f, "write"):
        f.write(payload)
        return
    try:
        write_atomically(f, lambda out: out.write(payload))
    except RuntimeError as e:  # a missing folder
        raise RuntimeError(f"ember.jit.save: {e}") from None


def _refuse_python_calls(graph: Graph) -> None:
    """Raise torch's RuntimeError when `graph` (or a block of it) calls an ignored Python
    function: a saved graph cannot hold Python code."""
    for node in graph.nodes:
        if node.op == "python_call":
            call = node.attrs["call"]
            raise RuntimeError(
                f"Could not export Python function call "
                f"'{getattr(call.fn, '__name__', call.name)}'. Remove calls to Python functions "
                "before export: a function marked @ember.jit.ignore runs in Python, which a "
                "saved module cannot hold. Mark it @ember.jit.ignore(drop=True) or "
                "@ember.jit.unused to save it as a call that raises, or let script compile it.")
        for block in node.blocks + ([node.body] if node.body is not None else []):
            _refuse_python_calls(block)


# ---- load ------------------------------------------------------------------------------------
def load(f, map_location=None, _extra_files=None):
    """Load what `save` wrote; `map_location` (a device or string) moves every tensor;
    `_extra_files` ({name: anything}) gets the bytes of each extra file saved under its name.

    Raises RuntimeError naming the problem for files that are not ember.jit archives, are
    truncated or corrupt, come from a newer format, or call ops this ember does not have.
    """
    where = getattr(f, "name", None) or (os.fspath(f) if not hasattr(f, "read") else "<file>")
    if hasattr(f, "read"):
        raw = f.read()
    else:
        with open(f, "rb") as fh:
            raw = fh.read()
    try:
        return _load(raw, map_location, _extra_files)
    except GraphError as e:
        raise RuntimeError(f"ember.jit.load({where!r}): invalid {_IR}: {e}") from None
    except _LoadError as e:
        raise RuntimeError(f"ember.jit.load({where!r}): {e}") from None


class _LoadError(Exception):
    pass


def _load(raw: bytes, map_location, extra_files=None):
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
        names = set(zf.namelist())
        if any(n.endswith("/constants.pkl") for n in names):
            raise _LoadError("this is a TorchScript archive (torch.jit.save), whose code ember "
                             "cannot run: save the model's state_dict with torch.save, load "
                             "it into the ember model with ember.load, and trace that")
        if _IR not in names or _WEIGHTS not in names:
            raise _LoadError(f"not an ember.jit archive (a zip without {_IR} and {_WEIGHTS}; "
                             "files from ember.save load with ember.load)")
        ir_bytes = zf.read(_IR)
        weight_bytes = zf.read(_WEIGHTS)
        for name in extra_files or {}:
            if _EXTRA + name not in names:
                raise _LoadError(f"the archive has no extra file {name!r}")
            extra_files[name] = zf.read(_EXTRA + name)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError,
            ValueError) as e:
        raise _LoadError(f"not a valid ember.jit archive: the zip is truncated or corrupt "
                         f"({e})") from None
    try:
        ir = json.loads(ir_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _LoadError(f"{_IR} is not valid JSON ({e})") from None
    if not isinstance(ir, dict) or ir.get("format") != FORMAT:
        raise _LoadError(f"{_IR} does not describe an {FORMAT} archive")
    version = ir.get("format_version")
    if type(version) is not int or version < 1:
        raise _LoadError(f"unknown format version {version!r}")
    if version > FORMAT_VERSION:
        raise _LoadError(f"the file uses format version {version}, written by ember "
                         f"{ir.get('ember_version')}; this ember ({EMBER_VERSION}) reads "
                         f"versions up to {FORMAT_VERSION}. Upgrade ember to load it.")
    try:
        weights = safetensors.load(weight_bytes)
    except (ValueError, TypeError) as e:
        raise _LoadError(f"{_WEIGHTS} is corrupt ({e})") from None
    weights.update(_complex_weights(ir.get("complex_weights", {}), weights))
    if map_location is not None:
        target = Device(map_location) if not isinstance(map_location, Device) else map_location
        weights = {k: v.to(target) for k, v in weights.items()}
    methods = ir.get("methods")
    _require(isinstance(methods, dict) and methods, "no methods")
    graphs = {}
    for name, data in methods.items():
        _require(isinstance(name, str) and name.isidentifier(), f"bad method name {name!r}")
        graph, _ = graph_from_json(data, weights,
                                   str(target) if map_location is not None else None)
        graphs[name] = graph
    kind = ir.get("kind")
    if kind == "function":
        _require(list(graphs) == ["forward"], "a function archive must hold one graph")
        name = ir.get("name")
        return ScriptFunction(graphs["forward"], name if isinstance(name, str) else "forward")
    _require(kind == "module", f"unknown archive kind {kind!r}")
    layout = _layout(ir.get("module"))
    tensors = {}
    for entry in layout["parameters"] + layout["buffers"]:
        source = entry.get("same_as", entry["name"])
        _require(source in weights, f"parameter or buffer {source!r} is missing from "
                                    f"{_WEIGHTS}")
        tensors[entry["name"]] = tensors.get(source, weights[source])
    for graph in graphs.values():
        for cname, ckind in graph.constant_kind.items():
            if ckind != "constant":
                _require(cname in tensors, f"the graph reads {cname!r}, which the module "
                                           "layout does not list")
                graph.constant_data[cname] = tensors[cname]
    try:
        return ScriptModule._build(layout, tensors, graphs)
    except (KeyError, AttributeError, TypeError) as e:
        raise GraphError(f"malformed module layout ({e})") from None


def _complex_weights(names, weights: dict) -> dict:
    """The complex tensors `names` ({key: dtype name}) lists, from the real views stored."""
    from .. import _dtype as D
    _require(isinstance(names, dict), "malformed complex_weights")
    found = {}
    for key, name in names.items():
        real = weights.get(key)
        dtype = D._BY_NAME.get(name) if isinstance(name, str) else None
        _require(dtype is not None and dtype.is_complex and real is not None and
                 real.dtype is dtype.to_real() and real.dim() >= 1 and real.shape[-1] == 2,
                 f"complex weight {key!r} is missing or malformed")
        found[key] = view_as_complex(real)
    return found


def _layout(obj) -> dict:
    _require(isinstance(obj, dict), "missing module layout")
    _require(isinstance(obj.get("class"), str) and isinstance(obj.get("training"), bool),
             "malformed module layout")
    subs = _list(obj, "submodules")
    for s in subs:
        _require(isinstance(s, dict) and isinstance(s.get("path"), str) and
                 all(s["path"].split(".")) and
                 isinstance(s.get("class"), str) and isinstance(s.get("training"), bool),
                 f"malformed submodule entry {str(s)[:80]}")
    for s in [obj] + subs:
        _require(isinstance(s.get("attributes", {}), dict) and
                 isinstance(s.get("tuples", []), list), f"malformed attributes {str(s)[:80]}")
    for e in _list(obj, "parameters") + _list(obj, "buffers"):
        _require(isinstance(e, dict) and isinstance(e.get("name"), str) and
                 all(e["name"].split(".")),
                 f"malformed parameter/buffer entry {str(e)[:80]}")
        _require(isinstance(e.get("requires_grad", True), bool) and
                 isinstance(e.get("persistent", True), bool) and
                 isinstance(e.get("same_as", ""), str), f"malformed entry {str(e)[:80]}")
    return obj


def _placed(tensor, device: str, name: str):
    """`tensor` moved to the device its constant was saved from."""
    try:
        return tensor.to(device)
    except RuntimeError as e:
        raise _LoadError(f"constant {name!r} was saved from {device}, which this machine "
                         f"cannot use ({e}); pass map_location='cpu' to load it on the "
                         "CPU") from None
