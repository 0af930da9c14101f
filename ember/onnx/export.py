"""ember.onnx.export: trace a model with ember.jit's tracer and lower each IR node through its
OpDef's ONNX lowering into one ONNX model, checked with onnx.checker.

The lowering functions receive a `NodeContext`: the node, the builder, the node's inputs as
ONNX names (cast as the op's type promotion did), its attributes (refusing those that vary
with dynamic axes unless asked for them) and helpers to compute sizes at run time.
"""
from __future__ import annotations

import inspect
import warnings

import numpy as np

from .. import _dtype as D
from .._ops.registry import REGISTRY
from .._tensor import Tensor
from ..autograd.grad_mode import no_grad
from ..jit.interpreter import run_node
from ..jit.ir import CONTROL_OPS, IF, AsTensor, Value
from ..jit import tracer
from ..jit.passes.analysis import AliasInfo, is_pure
from ..jit.schema import flat_inputs
from ..jit.script import _sync_training
from . import capture as _capture
from .dynamic import ConstSpec, DynamicInfo, Monomial, SymInt, TraceMismatch, Varying, analyze
from .dynamic import base_of, is_static, traces_alike
from .errors import Unsupported, UnsupportedOperatorError
from .lowering import OPSETS, attach_all, lowering_of
from .options import OperatorExportTypes, TrainingMode, exporting, select_model_mode_for_export
from .program import ONNXProgram, add_initializers_as_inputs

DEFAULT_OPSET = 17
_MISSING = object()
# Folded constants may grow at most this much beyond their inputs (expand, repeat, arange).
_FOLD_GROWTH = 1 << 12


def export(model, args=(), f=None, input_names=None, output_names=None, dynamic_axes=None,
           opset_version: int | None = None, do_constant_folding: bool = True,
           export_params: bool = True, kwargs: dict | None = None,
           verbose: bool = False, dynamo: bool = False,
           keep_initializers_as_inputs: bool = False,
           training: TrainingMode = TrainingMode.EVAL,
           operator_export_type: OperatorExportTypes = OperatorExportTypes.ONNX,
           custom_opsets: dict | None = None,
           dynamic_shapes: dict | tuple | list | None = None) -> ONNXProgram | None:
    """Export `model` (a Module or function) called on `args` to an ONNX file `f` (a path or
    a binary file object), like torch.onnx.export. Returns an ONNXProgram (the model, to
    save or run) when `f` is None or `dynamo` is True, as torch's exporter does.

    The model runs once (in eval mode, unless `training` says otherwise) under ember.jit's
    tracer; each recorded op is lowered through its OpDef's ONNX lowering. `dynamic_axes`
    maps input/output names to the axes that may change size ({"x": {0: "batch"}} or
    {"x": [0]}); shapes and size-dependent attributes then follow the actual input sizes.
    Ops without a lowering at `opset_version` (11 to 21, default 17) raise
    UnsupportedOperatorError naming the op and the model line.
    `dynamo` picks one of torch's two exporters; ember has one, so both values export the same
    graph (torch code passes `dynamo=False` to get the TorchScript-based exporter).
    `keep_initializers_as_inputs` also lists the weights as graph inputs (so a runtime may
    override them); `custom_opsets` ({domain: version}) adds opset imports; ember emits
    standard ONNX ops only, so `operator_export_type` must be OperatorExportTypes.ONNX.
    With `dynamo=True`, `dynamic_shapes` may name the dynamic dims instead, per forward
    argument ({"x": {0: "batch"}} or {"x": ("batch", None)}, or a tuple by position).

    >>> import io, ember
    >>> buf = io.BytesIO()
    >>> ember.onnx.export(ember.nn.Linear(3, 2), (ember.randn(4, 3),), buf,
    ...                   input_names=["x"], dynamic_axes={"x": {0: "batch"}})
    >>> len(buf.getvalue()) > 0
    True
    """
    import onnx

    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    if not OPSETS[0] <= opset <= OPSETS[1]:
        raise ValueError(f"ember.onnx.export: opset_version {opset} is not supported; ember "
                         f"exports opsets {OPSETS[0]} to {OPSETS[1]}")
    if operator_export_type != OperatorExportTypes.ONNX:
        raise ValueError(f"ember.onnx.export: operator_export_type {operator_export_type!r} "
                         "is not supported; ember exports standard ONNX operators only "
                         "(OperatorExportTypes.ONNX)")
    if dynamic_shapes and not dynamo:
        raise ValueError("The exporter only supports dynamic shapes through parameter "
                         "dynamic_axes when dynamo=False.")
    extra_opsets = _custom_opsets(custom_opsets)
    attach_all()
    args, kw = _capture.split_args(args, kwargs)
    scripted = _scripted(model)
    resized: dict = {}
    with select_model_mode_for_export(model, TrainingMode(training)), exporting():
        if scripted is not None:
            cap = _script_capture(scripted, args, kw)
        else:
            cap = _capture.trace(model, args, kw)
        in_names = _input_names(cap, input_names)
        dims = _parse_dynamic_axes(dynamic_axes)
        if dynamic_shapes:
            dims.update(_dynamic_shapes_axes(dynamic_shapes, model, args, kw, in_names))
        sizes, flat_axes = _axis_sizes(cap, in_names, dims)
        if scripted is not None:
            info = _script_dynamic_info(scripted, args, kw, cap, sizes, flat_axes, resized)
        else:
            info = _dynamic_info(model, args, kw, cap, sizes, flat_axes)
    ex = Exporter(cap, info, opset, do_constant_folding, export_params)
    ex.resized = resized
    proto = ex.build(in_names, output_names, dims)
    proto.opset_import.extend(onnx.helper.make_opsetid(d, v) for d, v in extra_opsets.items())
    if input_names is not None and len(input_names) > len(in_names):
        _rename_weights(proto, model, cap.graph.constant_kind, list(input_names)[len(in_names):])
    if keep_initializers_as_inputs:
        add_initializers_as_inputs(proto)
    if verbose:
        print(cap.graph)
        print(onnx.printer.to_text(proto))
    onnx.checker.check_model(proto, full_check=True)
    if f is not None:
        onnx.save_model(proto, f)
    return ONNXProgram(proto) if f is None or dynamo else None


def _custom_opsets(custom_opsets) -> dict[str, int]:
    """{domain: version} for the opset imports beyond the default domain."""
    out = {}
    for domain, version in (custom_opsets or {}).items():
        if not isinstance(domain, str) or not isinstance(version, int):
            raise TypeError(f"ember.onnx.export: custom_opsets maps domain names to opset "
                            f"versions (str -> int), got {domain!r}: {version!r}")
        if domain in ("", "ai.onnx"):
            raise ValueError("ember.onnx.export: custom_opsets cannot set the default domain's "
                             "version; pass opset_version")
        out[domain] = version
    return out


def _input_names(cap, given) -> list[str]:
    """The graph input names: `given` first (names past the model's inputs name its weights,
    see _rename_weights), then the traced ones."""
    names = list(cap.names)
    if given is not None:
        given = list(given)
        names[:len(given)] = given[:len(names)]
    if len(set(names)) != len(names):
        raise ValueError(f"ember.onnx.export: input names must be unique, got {names}")
    return names


def _rename_weights(proto, model, graph_kinds: dict, names: list[str]) -> None:
    """As torch does with input_names past the model's inputs: name the parameters and
    buffers the traced graph reads, in the order of the model's state_dict (one folded into
    a new constant keeps no name)."""
    graph = proto.graph
    present = {t.name for t in graph.initializer} | {i.name for i in graph.input}
    order = list(model.state_dict()) if hasattr(model, "state_dict") else []
    weights = [k for k in order if graph_kinds.get(k, "constant") != "constant"]
    if len(names) > len(weights):
        raise ValueError(f"ember.onnx.export: {len(names)} input_names more than the model's "
                         f"inputs, which name its weights, but the graph reads {len(weights)}")
    mapping = {k: n for k, n in zip(weights, names) if k in present}
    clash = set(mapping.values()) & (present - set(mapping))
    if clash:
        raise ValueError(f"ember.onnx.export: input names {sorted(clash)} are already taken")
    _rename_values(graph, mapping)


def _rename_values(graph, mapping: dict) -> None:
    """Rename ONNX values throughout a graph and the subgraphs of its nodes."""
    for t in graph.initializer:
        t.name = mapping.get(t.name, t.name)
    for v in list(graph.input) + list(graph.output) + list(graph.value_info):
        v.name = mapping.get(v.name, v.name)
    for node in graph.node:
        node.input[:] = [mapping.get(n, n) for n in node.input]
        node.output[:] = [mapping.get(n, n) for n in node.output]
        for attr in node.attribute:
            if attr.HasField("g"):
                _rename_values(attr.g, mapping)
            for g in attr.graphs:
                _rename_values(g, mapping)


def _parse_dynamic_axes(dynamic_axes) -> dict:
    """{name: {axis: dim name}} from torch's forms ({axis: name} or [axes])."""
    out: dict[str, dict[int, str]] = {}
    for name, axes in (dynamic_axes or {}).items():
        if isinstance(axes, dict):
            out[name] = {int(a): str(n) for a, n in axes.items()}
        elif isinstance(axes, (list, tuple)):
            out[name] = {int(a): f"{name}_dynamic_axes_{i + 1}" for i, a in enumerate(axes)}
        else:
            raise TypeError(f"ember.onnx.export: dynamic_axes[{name!r}] must be a dict or a "
                            f"list of axes, not {type(axes).__name__}")
    return out


def _dynamic_shapes_axes(dynamic_shapes, model, args: tuple, kw: dict, in_names) -> dict:
    """{input name: {axis: dim name}} from torch.export-style `dynamic_shapes`: per forward
    argument (by name in a dict, by position in a tuple), a dict {axis: name} or a sequence
    with one entry per dim; None entries are static."""
    values = list(args) + list(kw.values())
    if isinstance(dynamic_shapes, dict):
        params = list(inspect.signature(getattr(model, "forward", model)).parameters)
        keys = params[:len(args)] + list(kw)
        unknown = [k for k in dynamic_shapes if k not in keys]
        if unknown:
            raise ValueError(f"ember.onnx.export: dynamic_shapes names {unknown}, which are not "
                             f"arguments of the call (they are {keys})")
        specs = [dynamic_shapes.get(k) for k in keys]
    else:
        specs = list(dynamic_shapes) + [None] * (len(values) - len(dynamic_shapes))
    out: dict[str, dict[int, str]] = {}
    start = 0
    for value, spec in zip(values, specs):
        count = len(tracer.flatten(value, "input")[0])
        if spec is not None:
            if count != 1:
                raise ValueError("ember.onnx.export: dynamic_shapes for an argument that is not "
                                 "a single tensor; use dynamic_axes with the input names")
            name = in_names[start]
            items = spec.items() if isinstance(spec, dict) else enumerate(spec)
            axes = {int(a): _dim_name(d, name, int(a)) for a, d in items if d is not None}
            out[name] = axes
        start += count
    return out


def _dim_name(dim, input_name: str, axis: int) -> str:
    """A dim's name: a string as given, else its __name__ (torch.export.Dim)."""
    if isinstance(dim, str):
        return dim
    name = getattr(dim, "__name__", None)
    if isinstance(name, str):
        return name
    return f"{input_name}_dim_{axis}"


def _axis_sizes(cap, in_names, dims):
    """The traced size of each dynamic axis name, and {flat input index: {axis: name}}."""
    sizes: dict[str, int] = {}
    flat_axes: dict[int, dict[int, str]] = {}
    for i, (name, t) in enumerate(zip(in_names, cap.flat_inputs)):
        for axis, dim in dims.get(name, {}).items():
            ndim = t.ndim
            if not -ndim <= axis < ndim:
                raise ValueError(f"ember.onnx.export: dynamic axis {axis} of input {name!r} is "
                                 f"out of range for its shape {list(t.shape)}")
            axis %= ndim
            n = t.shape[axis]
            if sizes.setdefault(dim, n) != n:
                raise ValueError(f"ember.onnx.export: dynamic axis name {dim!r} has size "
                                 f"{sizes[dim]} in one input and {n} in {name!r}")
            flat_axes.setdefault(i, {})[axis] = dim
    return sizes, flat_axes


def _dynamic_info(model, args, kw, cap, sizes, flat_axes) -> DynamicInfo:
    """Trace once more per dynamic axis name, resized, and merge what changed."""
    if not sizes:
        return DynamicInfo.static(cap.graph)
    resized = {}
    for dim, n in sizes.items():
        axes = {i: [a for a, d in ax.items() if d == dim] for i, ax in flat_axes.items()}
        first, last = _probe_sizes(n)
        for new in (first, last):
            r_args, r_kw = _capture.resized_inputs(args, kw, axes, new)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    other = _capture.trace(model, r_args, r_kw, record_sources=False)
                except Exception as e:
                    if new == first:
                        continue
                    raise RuntimeError(
                        f"ember.onnx.export: the model fails when dynamic axis '{dim}' has "
                        f"size {new} instead of {n} ({type(e).__name__}: {e}); it may depend "
                        "on that size being fixed. Export with the axis static.") from e
            if new == last or traces_alike(cap.graph, other.graph):
                break
        resized[dim] = (other.graph, {**sizes, dim: new})
    try:
        return analyze(cap.graph, sizes, resized)
    except TraceMismatch as e:
        raise RuntimeError(f"ember.onnx.export: {e}") from None


def _probe_sizes(n: int) -> tuple[int, int]:
    """The sizes a dynamic axis traced at n is traced at again, in order of preference: about
    twice n and of the other parity first (a size computed by floor or ceil division, or a
    padding that depends on parity, can equal its traced value at n - 1 or at 2n and pass for
    static); then n - 1 for a model with a size limit (a positional table) or a special case
    at the larger size (an upsampling to its own size)."""
    return 2 * n + (n % 2 == 0), n - 1 if n >= 3 else n + 1


def _scripted(model):
    """The compiled forward of an ember.jit.script result, or None."""
    methods = getattr(model, "_script_methods", None)
    if methods is not None:
        return methods["forward"]
    return getattr(model, "_script", None)


def _script_capture(method, args, kw):
    """A scripted model's graph for these inputs: its If/Loop blocks lower to ONNX If/Loop."""
    if method.self_obj is not None:
        _sync_training(method.owner, method.self_obj)
    bound = method.sig.bind(args, kw)
    graph = method.method_for(bound).graph
    flat = flat_inputs(method.sig.kinds, bound)
    names = [v.name or f"input_{i}" for i, v in enumerate(graph.inputs)]
    return _capture.Capture(graph, flat, names, {})


def _script_dynamic_info(method, args, kw, cap, sizes, flat_axes, resized) -> DynamicInfo:
    """Compile the scripted model once more per dynamic axis name, resized, and merge."""
    if not sizes:
        return DynamicInfo.static(cap.graph)
    for dim, n in sizes.items():
        axes = {i: [a for a, d in ax.items() if d == dim] for i, ax in flat_axes.items()}
        for new in _probe_sizes(n):
            r_args, r_kw = _capture.resized_inputs(args, kw, axes, new)
            graph = _script_capture(method, r_args, r_kw).graph
            if traces_alike(cap.graph, graph):
                break
        resized[dim] = (graph, {**sizes, dim: new})
    try:
        return analyze(cap.graph, sizes, resized)
    except TraceMismatch as e:
        raise RuntimeError(f"ember.onnx.export: {e}") from None


class Exporter:
    """Lowers one traced graph into an ONNX graph."""

    def __init__(self, cap, info: DynamicInfo, opset: int, fold: bool, export_params: bool):
        from .builder import Builder
        self.cap = cap
        self.graph = cap.graph
        self.info = info
        self.opset = opset
        self.fold = fold
        self.export_params = export_params
        self.b = Builder(opset)
        self.env: dict[int, str] = {}
        self.known: dict[int, Tensor] = {}
        self.symbols: dict[str, tuple[str, int]] = {}
        self._sym_cache: dict = {}
        self.param_inputs: list = []
        self.resized: dict = {}
        # SymInt key -> (ONNX name, axis) of a computed tensor dim that takes those sizes
        self.size_sources: dict[tuple, tuple[str, int]] = {}
        self._uses = self._last_uses()

    # ---- values -------------------------------------------------------------------------
    def _last_uses(self) -> dict[int, int]:
        last: dict[int, int] = {}
        for k, node in enumerate(self.graph.nodes):
            for v in node.inputs():
                last[v.id] = k
        for v in self.graph.outputs:
            last[v.id] = len(self.graph.nodes)
        return last

    def is_used(self, value: Value) -> bool:
        return value.id in self._uses

    def name_of(self, value: Value) -> str:
        """The ONNX name holding an IR value (materializing constants on first use)."""
        name = self.env.get(value.id)
        if name is not None:
            return name
        cname = self.graph.constant_name(value)
        if cname is not None:
            name = self._constant(cname, value)
        elif value.id in self.known:
            t = self.known[value.id]
            name = self.b.const(np.asarray(t._data), t._dtype, stem="folded")
        else:
            raise RuntimeError(f"ember.onnx.export: value %{value.id} is used before it is "
                               "computed (a lowering did not produce it)")
        self.env[value.id] = name
        return name

    def _constant(self, cname: str, value: Value) -> str:
        kind = self.graph.constant_kind[cname]
        data = self.graph.constant_data[cname]
        if kind != "constant" and not self.export_params:
            from .builder import value_info
            name = self.b.names.claim(cname)
            self.b.dtypes[name] = data._dtype
            self.param_inputs.append(value_info(name, data._dtype, list(data.shape)))
            return name
        spec = self.info.constants.get(cname, ConstSpec("static"))
        if spec.kind == "static":
            return self.b.const(np.asarray(data._data), data._dtype,
                                name=cname if kind != "constant" else None)
        dt = data._dtype
        if spec.kind == "fill":
            shape = self.ints(list(spec.shape))
            return self.b.op("ConstantOfShape", [shape], dtype=dt,
                             value=one_element(spec.value, dt))
        if spec.kind == "range":
            (n,) = spec.shape
            count = self.ints([n])
            start = self.b.scalar(spec.value, dt)
            step = self.b.scalar(spec.step, dt)
            end = self.b.op("Add", [start, self.b.op(
                "Mul", [self.b.cast(self.b.op("Squeeze", [count]), dt), step])])
            return self.b.op("Range", [start, end, step])
        raise Unsupported(
            f"it reads a tensor of shape {list(data.shape)} made inside the model (a constant "
            "to the trace) whose size and values depend on the dynamic axes in a way ember "
            "cannot express; make it from the inputs with ember ops, or pass it as an input")

    def symbol(self, expr: Monomial) -> str:
        """A [1]-shaped int64 tensor holding `expr` evaluated on the actual input sizes."""
        cached = self._sym_cache.get(expr)
        if cached is not None:
            return cached
        b = self.b
        out = None
        for axis_name, power in expr.powers:
            src, axis = self.symbols[axis_name]
            size = b.shape(src, axis, axis + 1)
            for _ in range(power):
                out = size if out is None else b.op("Mul", [out, size])
        coef = expr.coef
        if out is None:
            out = b.ints([int(coef)])
        else:
            if coef.numerator != 1:
                out = b.op("Mul", [out, b.ints([coef.numerator])])
            if coef.denominator != 1:
                out = b.op("Div", [out, b.ints([coef.denominator])])
        self._sym_cache[expr] = out
        return out

    def ints(self, entries) -> str:
        """A 1-d int64 tensor from ints, SymInts and [1]-shaped int64 tensor names."""
        if all(isinstance(e, int) for e in entries):
            return self.b.ints(entries)
        parts: list[str] = []
        run: list[int] = []
        for e in entries:
            if isinstance(e, int) and not isinstance(e, bool):
                run.append(e)
                continue
            if run:
                parts.append(self.b.ints(run))
                run = []
            if isinstance(e, SymInt):
                if e.expr is not None:
                    parts.append(self.symbol(e.expr))
                    continue
                source = self.size_sources.get(e.key)
                if source is None:
                    raise Unsupported(f"a size (traced as {e.base}) depends on the dynamic "
                                      "axes in a way ember cannot express")
                name, axis = source
                parts.append(self.b.shape(name, axis, axis + 1))
            elif isinstance(e, str):
                parts.append(e)
            else:
                raise Unsupported(f"a size {e!r} changes with the dynamic axes")
        if run:
            parts.append(self.b.ints(run))
        return self.b.concat(parts)

    # ---- the graph ----------------------------------------------------------------------
    def build(self, in_names, output_names, dims):
        from onnx import helper

        from .builder import value_info
        graph = self.graph
        inputs = []
        for v, name in zip(graph.inputs, in_names):
            self.b.names.claim(name)
            self.b.dtypes[name] = v.type.dtype
            self.env[v.id] = name
            axes = dims.get(name, {})
            shape = [axes.get(a, s) for a, s in enumerate(v.type.shape)]
            for a, dim in axes.items():
                self.symbols.setdefault(dim, (name, a % len(shape)))
            inputs.append(value_info(name, v.type.dtype, shape))
        out_names = self._output_names(output_names)
        self._seed_known()
        self._check_inplace()
        for k, node in enumerate(graph.nodes):
            self._lower(k, node)
        outs = self._outputs(out_names, dims)
        if self.param_inputs:
            inputs += self.param_inputs
        g = helper.make_graph(self.b.nodes, "ember", inputs, outs,
                              initializer=self.b.initializers)
        opsets = [helper.make_opsetid("", self.opset)]
        model = helper.make_model(g, opset_imports=opsets, producer_name="ember",
                                  ir_version=helper.find_min_ir_version_for(opsets))
        return model

    def _seed_known(self) -> None:
        """Constants whose values lowering may fold into new constants."""
        if not self.fold:
            return
        info = AliasInfo(self.graph)
        for cname, v in self.graph.constants.items():
            kind = self.graph.constant_kind[cname]
            if kind != "constant" and not self.export_params:
                continue
            if info.is_mutated(v) or self.info.constants.get(cname, ConstSpec("static")).kind \
                    != "static":
                continue
            self.known[v.id] = self.graph.constant_data[cname]

    def _check_inplace(self) -> None:
        """ONNX values are immutable: an in-place write is lowered as a new value, which is
        only right when nothing reads the old contents through another alias afterwards."""
        info = AliasInfo(self.graph)
        defined = {v.id: -1 for v in self.graph.inputs}
        defined.update({v.id: -1 for v in self.graph.constants.values()})
        groups: dict[int, list[int]] = {}
        for k, node in enumerate(self.graph.nodes):
            for v in node.outputs:
                defined[v.id] = k
        for vid in defined:
            groups.setdefault(info.root(vid), []).append(vid)
        for k, node in enumerate(self.graph.nodes):
            if not node.inplace:
                continue
            target = node.args[0]
            for vid in groups.get(info.root(target.id), ()):
                if vid != target.id and defined[vid] < k and self._uses.get(vid, -1) > k:
                    raise UnsupportedOperatorError(
                        node.op, "it writes in place into a tensor that is read afterwards "
                        "through another view of the same memory; ONNX has no aliasing, so "
                        "use the out-of-place form", self.opset, None, self.cap.source(node))

    def _lower(self, k: int, node) -> None:
        if node.op in CONTROL_OPS:
            self._lower_control(k, node)
            return
        if self._fold(k, node):
            return
        opdef = REGISTRY.get(node.op)
        source = self.cap.source(node)
        low = lowering_of(opdef) if opdef is not None else None
        if low is None:
            raise UnsupportedOperatorError(
                node.op, f"it has no ONNX lowering at any opset from {OPSETS[0]} to "
                f"{OPSETS[1]} (no ONNX operator or decomposition covers it)", self.opset, None,
                source)
        if not low.supports(self.opset):
            raise UnsupportedOperatorError(node.op, "its lowering needs another opset",
                                           self.opset, low.opsets, source)
        ctx = NodeContext(self, k, node)
        try:
            result = low(ctx)
        except Unsupported as e:
            raise UnsupportedOperatorError(node.op, e.reason, self.opset, e.opsets,
                                           source) from None
        except UnsupportedOperatorError as e:
            raise e.located(source, self.opset) from None
        except Exception as e:
            raise RuntimeError(f"ember.onnx.export: lowering op '{node.op}' failed "
                               f"({type(e).__name__}: {e})\n  produced by: {source}") from e
        outs = list(result) if isinstance(result, (list, tuple)) else [result]
        for v, name in zip(node.outputs, outs):
            if name is None:
                continue
            if self.b.dtype(name) is not v.type.dtype:
                name = self.b.cast(name, v.type.dtype)
            self.env[v.id] = name
            self._note_sizes(v, name)

    def _note_sizes(self, value: Value, name: str) -> None:
        """Remember the dims of `value` whose sizes follow no monomial (a strided conv's
        output), so that a size equal to one of them can be read from it (Shape)."""
        for axis, s in enumerate(self.info.shape(value)):
            if isinstance(s, SymInt) and s.expr is None and s.key is not None:
                self.size_sources.setdefault(s.key, (name, axis))

    # ---- control flow (scripted models) ------------------------------------------------
    def _block(self, k: int, j: int, block, outer_args, declared) -> tuple:
        """Lower block j of node k as an ONNX subgraph: `outer_args` are the node arguments
        its trailing inputs capture (read by their outer names), `declared` (dtype) the
        leading inputs the ONNX node passes in itself. Returns (graph, declared names)."""
        others = {dim: (g.nodes[k].blocks[j], sz) for dim, (g, sz) in self.resized.items()}
        info = analyze(block, self.info.base_sizes, others) if others else \
            DynamicInfo.static(block)
        sub = Exporter(_capture.Capture(block, [], [], {}), info, self.opset, False,
                       self.export_params)
        sub.b = self.b.subgraph()
        sub.symbols = self.symbols
        sub._sym_cache = dict(self._sym_cache)
        sub.resized = others
        from onnx import helper

        from .builder import value_info
        inputs = []
        lead = len(declared)
        for v, dt in zip(block.inputs[:lead], declared):
            name = sub.b.declare("body_in", dt)
            sub.env[v.id] = name
            # the iteration number and condition are scalars; carried shapes may vary
            inputs.append(value_info(name, dt, [] if not v.type.shape else None))
        for v, outer in zip(block.inputs[lead:], outer_args):
            sub.env[v.id] = self.name_of(outer)
        sub._check_inplace()
        for i, n in enumerate(block.nodes):
            sub._lower(i, n)
        outs = [sub.b.op("Identity", [sub.name_of(v)]) for v in block.outputs]
        return helper.make_graph(sub.b.nodes, self.b.fresh("body"), inputs,
                                 [value_info(n, sub.b.dtype(n), None) for n in outs])

    def _lower_control(self, k: int, node) -> None:
        dtypes = [v.type.dtype for v in node.outputs]
        if node.op == IF:
            then_g, else_g = (self._block(k, j, b, node.args[1:], [])
                              for j, b in enumerate(node.blocks))
            outs = self.b.op("If", [self.name_of(node.args[0])], outputs=len(dtypes),
                             dtype=dtypes, then_branch=then_g, else_branch=else_g)
        else:
            n = node.attrs["carried"]
            trip, cond = node.args[0], node.args[1]
            trip = "" if trip is None else (self.name_of(trip) if isinstance(trip, Value)
                                            else self.b.const(np.array(trip, np.int64), D.int64))
            cond = self.name_of(cond) if isinstance(cond, Value) else \
                self.b.const(np.array(bool(cond)), D.bool)
            carried = [self.name_of(v) for v in node.args[2:2 + n]]
            body = self._block(k, 0, node.blocks[0], node.args[2 + n:],
                               [D.int64, D.bool] + dtypes)
            outs = self.b.op("Loop", [trip, cond] + carried, outputs=n, dtype=dtypes, body=body)
        outs = [outs] if isinstance(outs, str) else outs
        for v, name in zip(node.outputs, outs):
            self.env[v.id] = name

    def _fold(self, k: int, node) -> bool:
        """Evaluate a pure node whose inputs are all known at export time."""
        if not self.fold or node.inplace or not is_pure(node):
            return False
        inputs = node.inputs()
        if not inputs or any(v.id not in self.known for v in inputs):
            return False
        if not (is_static(self.info.args[k]) and is_static(self.info.attrs[k])):
            return False
        if any(self.info.is_dynamic(v) for v in node.outputs):
            return False
        size_in = sum(int(np.prod(v.type.shape)) for v in inputs)
        size_out = sum(int(np.prod(v.type.shape)) for v in node.outputs)
        if size_out > size_in + _FOLD_GROWTH:
            return False
        env = {v.id: self.known[v.id] for v in inputs}
        with no_grad():
            run_node(node, env)
        for v in node.outputs:
            self.known[v.id] = env[v.id]
        return True

    def _output_names(self, output_names) -> list[str]:
        """The graph output names, claimed before lowering so no internal value takes one:
        the given ones (as torch, fewer than the outputs is fine) then default names."""
        n = len(self.graph.outputs)
        given = [] if output_names is None else list(output_names)
        if len(given) > n:
            raise RuntimeError(f"ember.onnx.export: number of output names provided "
                               f"({len(given)}) exceeded number of outputs ({n})")
        names = given + (["output"] if n == 1 else [f"output_{k}" for k in range(n)])[len(given):]
        for name in names:
            if name in self.b.names.taken:
                what = "twice in output_names" if names.count(name) > 1 else \
                    "both an input and an output name"
                raise ValueError(f"ember.onnx.export: {name!r} is {what}; ONNX value names "
                                 f"must be unique")
            self.b.names.claim(name)
        return names

    def _outputs(self, names, dims) -> list:
        from .builder import value_info
        graph = self.graph
        known = set(self.b.names.taken)
        for name in list(dims):
            if name not in names and name not in known:
                warnings.warn(f"ember.onnx.export: dynamic_axes names {name!r}, which is not "
                              "an input or output name", UserWarning, stacklevel=4)
        outs = []
        for v, name in zip(graph.outputs, names):
            self.b.rename(self.name_of(v), name)
            given = dims.get(name, {})
            shape = []
            for a, s in enumerate(self.info.shape(v)):
                if a in given:
                    shape.append(given[a])
                elif isinstance(s, SymInt):
                    axis = s.expr.is_axis() if s.expr is not None else None
                    shape.append(axis or f"{name}_dim_{a}")
                else:
                    shape.append(s)
            outs.append(value_info(name, v.type.dtype, shape))
        return outs


def one_element(value, dt: D.dtype):
    """The TensorProto of a 1-element constant (ConstantOfShape's value attribute)."""
    from .builder import _tensor_proto
    return _tensor_proto(np.array([value], dtype=dt.np), dt, "value")


class NodeContext:
    """What a lowering function sees: one IR node and the exporter around it."""

    def __init__(self, ex: Exporter, index: int, node):
        self.ex = ex
        self.b = ex.b
        self.opset = ex.opset
        self.node = node
        self.index = index
        self.opdef = REGISTRY[node.op]

    # ---- arguments ----------------------------------------------------------------------
    @property
    def nargs(self) -> int:
        return len(self.node.args)

    def arg(self, i: int, default=None):
        """Argument i as traced: an IR Value or a literal (static: varying ones refuse)."""
        if i >= len(self.node.args):
            return default
        merged = self.ex.info.args[self.index][i]
        if not is_static(merged):
            raise Unsupported(f"argument {i} ({base_of(merged)!r}) changes with the dynamic "
                              "axes")
        return self.node.args[i]

    def is_tensor(self, i: int) -> bool:
        return i < len(self.node.args) and isinstance(self.node.args[i], (Value, AsTensor))

    def value(self, i: int) -> Value:
        a = self.node.args[i]
        return a.value if isinstance(a, AsTensor) else a

    def input(self, i: int, dtype: D.dtype | None = None) -> str | None:
        """Argument i as an ONNX name (None for None); literals become constants of `dtype`
        (default: the dtype the op computed in)."""
        a = self.arg(i)
        if a is None:
            return None
        if isinstance(a, (Value, AsTensor)):
            name = self.ex.name_of(a.value if isinstance(a, AsTensor) else a)
            return name if dtype is None else self.b.cast(name, dtype)
        return self.b.scalar(a, dtype or self.compute_dtype())

    def tensor(self, obj, dtype: D.dtype | None = None) -> str:
        """An attribute part (a Value, AsTensor or literal) as an ONNX name."""
        if isinstance(obj, AsTensor):
            obj = obj.value
        if isinstance(obj, Value):
            name = self.ex.name_of(obj)
            return name if dtype is None else self.b.cast(name, dtype)
        arr = np.asarray(obj)
        return self.b.const(arr, dtype or D.from_numpy_dtype(arr.dtype))

    def dtype(self, i: int) -> D.dtype | None:
        """The dtype of tensor argument i (None for a literal)."""
        a = self.node.args[i] if i < len(self.node.args) else None
        if isinstance(a, AsTensor):
            a = a.value
        return a.type.dtype if isinstance(a, Value) else None

    def compute_dtype(self) -> D.dtype:
        """The dtype the op computed in: the promotion apply did, else the first tensor's."""
        if self.node.compute is not None:
            return self.node.compute
        for i in range(len(self.node.args)):
            dt = self.dtype(i)
            if dt is not None:
                return dt
        return self.out_dtype(0)

    def promoted(self) -> list:
        """All arguments as ONNX names, the promoted positions cast to the compute dtype."""
        positions = self.opdef.promote_args
        positions = range(len(self.node.args)) if positions is None else positions
        compute = self.compute_dtype() if self.opdef.promote is not None else None
        out = []
        for i in range(len(self.node.args)):
            out.append(self.input(i, compute if i in positions else None))
        return out

    def shape(self, i: int) -> tuple:
        """The traced (static) shape of tensor argument i."""
        return self.value(i).type.shape

    def dyn_shape(self, i: int) -> tuple:
        """The shape of tensor argument i with SymInt entries where it follows dynamic axes."""
        return self.ex.info.shape(self.value(i))

    def is_dynamic(self, i: int, axis: int | None = None) -> bool:
        shape = self.dyn_shape(i)
        if axis is None:
            return not is_static(shape)
        return isinstance(shape[axis], (SymInt, Varying))

    def size(self, i: int, axis: int):
        """Dimension `axis` of tensor argument i: an int when static, else a [1]-shaped int64
        tensor computed at run time."""
        shape = self.dyn_shape(i)
        axis %= len(shape)
        if isinstance(shape[axis], int):
            return shape[axis]
        return self.b.shape(self.input(i), axis, axis + 1)

    def sizes(self, i: int, axes=None) -> list:
        """size(i, a) for each axis (default all)."""
        axes = range(len(self.shape(i))) if axes is None else axes
        return [self.size(i, a) for a in axes]

    # ---- attributes ---------------------------------------------------------------------
    def attr(self, name: str, default=_MISSING):
        """A static attribute (Unsupported when it changes with the dynamic axes)."""
        attrs = self.node.attrs
        if name not in attrs:
            if default is _MISSING:
                raise KeyError(f"op '{self.node.op}' has no attribute {name!r}")
            return default
        merged = self.ex.info.attrs[self.index][name]
        if not is_static(merged):
            raise Unsupported(f"attribute {name}={base_of(merged)!r} changes with the dynamic "
                              "axes")
        return attrs[name]

    def attr_dyn(self, name: str, default=None):
        """An attribute with SymInt/Varying parts where it follows the dynamic axes."""
        return self.ex.info.attrs[self.index].get(name, default)

    def ints(self, entries) -> str:
        """A 1-d int64 tensor from ints, SymInts and [1]-shaped int64 tensor names."""
        return self.ex.ints(entries)

    # ---- outputs ------------------------------------------------------------------------
    def out_dtype(self, k: int = 0) -> D.dtype:
        return self.node.outputs[k].type.dtype

    def out_shape(self, k: int = 0) -> tuple:
        return self.node.outputs[k].type.shape

    def out_dyn_shape(self, k: int = 0) -> tuple:
        return self.ex.info.shape(self.node.outputs[k])

    def used(self, k: int) -> bool:
        """Whether output k is read by a later node or is a graph output."""
        return self.ex.is_used(self.node.outputs[k])

    def unsupported(self, reason: str, opsets: tuple[int, int] | None = None):
        raise Unsupported(reason, opsets)
