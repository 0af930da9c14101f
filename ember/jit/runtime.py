"""ScriptModule and ScriptFunction: run a traced graph.

A call runs the generated code of the optimized graph (OpDef forwards on raw arrays, fused
kernels) when no gradient is needed, the inputs have the traced dtypes, ranks and devices,
and `optimized_execution(False)` is not in effect.
Otherwise it replays the graph through `apply`, which records autograd like eager code does
(and follows any shapes the ops accept).
"""
from __future__ import annotations

import contextlib
import threading

from .._device import to_device
from .._ops.dispatch import _wrap
from .._ops.registry import REGISTRY
from .._tensor import Tensor
from ..autograd.grad_mode import GradState
from ..nn.modules.module import Module
from ..nn.parameter import Parameter
from .codegen import identifier, compile_graph, python_code
from .interpreter import run_graph
from .ir import Graph, SymInt
from .passes import optimize
from .symbolic import symbol_sizes
from .tracer import flatten, unflatten


class _Executor(threading.local):
    """Whether graphs run their optimized, generated code (torch.jit.optimized_execution),
    per thread."""

    optimize = True


_executor = _Executor()


@contextlib.contextmanager
def optimized_execution(should_optimize: bool):
    """Within the block, graphs of this thread run optimized generated code (True, the
    default) or op by op through the interpreter, as eager code (False).

    >>> import ember
    >>> f = ember.jit.trace(lambda x: x * 2 + 1, ember.ones(2))
    >>> with ember.jit.optimized_execution(False):
    ...     f(ember.ones(2))
    tensor([3., 3.])
    """
    before = _executor.optimize
    _executor.optimize = bool(should_optimize)
    try:
        yield
    finally:
        _executor.optimize = before


class _Method:
    """One traced method: its graph, its compiled fast form and the autograd replay."""

    def __init__(self, graph: Graph, name: str, owner=None):
        self.name = name
        self.owner = owner
        self.adopt(graph)

    def adopt(self, graph: Graph) -> None:
        """Run `graph` from now on (check_trace swaps in the graph that generalizes over the
        batch size and sequence length)."""
        self.graph = graph
        self.state_names = [n for n, k in graph.constant_kind.items() if k != "constant"]
        self.captured = [graph.constant_data[n] for n, k in graph.constant_kind.items()
                         if k == "constant"]
        self.guard = [(v.type.dtype, len(v.type.shape), to_device(v.type.device))
                      for v in graph.inputs]
        spec = graph.input_spec
        self.flat_arity = len(spec[1]) if spec[0] == "tuple" and all(
            s == ["tensor"] for s in spec[1]) else None
        self.mutates = any(n.inplace for n in graph.nodes)
        # control-flow graphs (ember.jit.script) run through the interpreter only
        self.control = any(n.blocks for n in graph.nodes)
        # elementwise ops alone (no dims among their attributes) run at any rank, unless the
        # graph is compiled from source (ember.jit.script), whose x.dim() reads are baked in
        self.any_rank = graph.call_schema is None and all(
            getattr(REGISTRY.get(n.op), "pointwise", False) for n in graph.nodes)
        self._compiled = None
        self._fitted = None

    def _pack(self, flat_outputs):
        """The outputs in the traced nesting (a bare tensor and flat tuples directly)."""
        spec = self.graph.output_spec
        if spec == ["tensor"]:
            return flat_outputs[0]
        return unflatten(spec, flat_outputs)

    # -- what the call reads
    def _state(self, names) -> list:
        if self.owner is None:
            return [self.graph.constant_data[n] for n in names]
        return self.owner._state_tensors(names)

    def _flat_inputs(self, args) -> list:
        if self.flat_arity is not None and len(args) == self.flat_arity and all(
                isinstance(a, Tensor) for a in args):
            return list(args)
        flat, spec = flatten(args, "input")
        if spec != self.graph.input_spec:
            raise RuntimeError(
                f"{self.name}() was traced with inputs shaped like "
                f"{_describe_spec(self.graph.input_spec)} but got "
                f"{_describe_spec(spec)}")
        return flat

    def __call__(self, *args, **kwargs):
        """Call as the original: a scripted method binds its arguments by its call schema
        (keywords, defaults, numbers); a traced one takes its example's structure."""
        schema = self.graph.call_schema
        if schema is not None:
            return self.run(*schema.flatten(args, kwargs))
        if kwargs:
            args = self._bound(args, kwargs)
        return self.run(*args)

    def _bound(self, args: tuple, kwargs: dict) -> tuple:
        """A traced method's arguments in order: positional, then the rest by parameter name."""
        names = self.graph.arg_names
        if names is None:
            raise TypeError(f"{self.name}() was traced from a callable whose parameters have "
                            f"no names, so it takes its example inputs' structure, "
                            f"positionally; got keyword arguments {sorted(kwargs)}")
        for name in kwargs:
            if name not in names:
                raise TypeError(f"{self.name}() got an unexpected keyword argument {name!r} "
                                f"(it was traced with arguments {', '.join(names)})")
            if names.index(name) < len(args):
                raise TypeError(f"{self.name}() got multiple values for argument {name!r}")
        missing = [n for n in names[len(args):] if n not in kwargs]
        if missing:
            raise TypeError(f"{self.name}() is missing value for argument {missing[0]!r} "
                            f"(it was traced with arguments {', '.join(names)})")
        return tuple(args) + tuple(kwargs[n] for n in names[len(args):])

    def run(self, *args):
        """Run on the graph's own inputs (tensors; numbers as 0-d tensors)."""
        flat = self._flat_inputs(args)
        if self.graph.fixed_sizes:
            self._check_sizes(flat)
        elif self.graph.symbols:
            self._check_symbolic(flat)
        elif self.graph.free_dims is not None:
            self._check_free_dims(flat)
        elif not self.any_rank and any(t._data.ndim != g[1] for t, g in zip(flat, self.guard)):
            self._check_ranks(flat)
        if GradState.enabled:
            state = self._state(self.state_names)
            if any(t._requires_grad for t in flat) or any(t._requires_grad for t in state) or \
                    any(t._requires_grad for t in self.captured):
                return self._pack(self.replay(flat, state))
        if not self.control and _executor.optimize and self._guard(flat):
            try:
                out = self.fast(flat)
            except Exception:
                # a graph that writes nothing in place can rerun eagerly, which raises
                # eager's error (with its message) or, after a shape change, may succeed
                if self.mutates:
                    raise
                out = None
            if out is not None:
                return self._pack(out)
        return self._pack(self.replay(flat, self._state(self.state_names)))

    def _check_ranks(self, flat) -> None:
        """A graph runs only on inputs of the ranks it was built for: its dims (a softmax's,
        a sum's) are those ranks' dims."""
        raise RuntimeError(
            f"{self.name}() was built for inputs of shapes "
            f"{[list(v.type.shape) for v in self.graph.inputs]} and cannot run on "
            f"{[list(t.shape) for t in flat]}: the number of dims differs. Trace or script it "
            "again with an example of the rank you need.")

    def _check_sizes(self, flat) -> None:
        traced = [list(v.type.shape) for v in self.graph.inputs]
        given = [list(t.shape) for t in flat]
        if given != traced:
            raise RuntimeError(
                f"{self.name}() was built for input shapes {traced} and keeps sizes computed "
                f"from them, so it cannot run on {given}: the results would be wrong. Trace "
                "or script it again at the shape you need (in the process that has its "
                "source, a scripted module builds a graph per shape by itself).")

    def _check_free_dims(self, flat) -> None:
        """The graph computes every size at run time but was only seen to follow some input
        dims (graph.free_dims): the others keep their traced sizes."""
        free = set(self.graph.free_dims)
        traced = [v.type.shape for v in self.graph.inputs]
        if all(len(t._data.shape) == len(shape) and all(
                n == m or (k, d) in free for d, (n, m) in enumerate(zip(t._data.shape, shape)))
                for k, (t, shape) in enumerate(zip(flat, traced))):
            return
        built = ", ".join("[" + ", ".join("*" if (k, d) in free else str(n)
                                          for d, n in enumerate(shape)) + "]"
                          for k, shape in enumerate(traced))
        raise RuntimeError(
            f"{self.name}() was built for input shapes [{built}], where a * may be any size and "
            f"the other sizes are fixed; it cannot run on {[list(t.shape) for t in flat]}. "
            "Trace or script it again with an example of the shape you need.")

    def _check_symbolic(self, flat) -> None:
        """A graph with size symbols runs on inputs whose symbolic dims take any size from
        their graph.min_sizes on (consistently) and whose other dims keep their traced
        sizes."""
        g = self.graph
        shapes = [t._data.shape for t in flat]
        if shapes == self._fitted or fits_symbols(g, shapes):
            self._fitted = shapes  # the common case: the shapes of the last call again
            return
        built = [list(v.type.shape) for v in g.inputs]
        floors: dict = {}
        for s in sorted(g.symbols):
            floors.setdefault(g.min_sizes.get(s, 2), []).append(s)
        free = "; ".join(f"{', '.join(names)} may be any size from {floor} on"
                         for floor, names in sorted(floors.items()))
        strided = {str(d): d for v in g.inputs for d in v.type.shape
                   if type(d) is SymInt and d.terms[0][1] != 1}
        steps = "".join(f" (a size of {text} is one of {_first_sizes(d, g.min_sizes)}, ...)"
                        for text, d in strided.items())
        raise RuntimeError(
            f"{self.name}() was built for input shapes {built}, where {free}{steps}, and the "
            f"other sizes are fixed; it cannot run on {[list(s) for s in shapes]}. Trace or "
            "script it again with an example of the shape you need.")

    def _guard(self, flat) -> bool:
        for t, (dtype, ndim, device) in zip(flat, self.guard):
            if t._dtype is not dtype or t._data.ndim != ndim or (
                    t._device is not device and t._device != device):
                return False
        return True

    def replay(self, flat, state) -> list:
        """Run the graph through apply (autograd records as in eager mode)."""
        try:
            return run_graph(self.graph, flat, dict(zip(self.state_names, state)))
        except Exception as e:
            traced = [list(v.type.shape) for v in self.graph.inputs]
            given = [list(t.shape) for t in flat]
            if traced == given or self.graph.symbols and fits_symbols(
                    self.graph, [t._data.shape for t in flat]):
                raise  # not a matter of shapes: eager's own error
            raise RuntimeError(
                f"{self.name}() was traced with input shapes {traced} and fails on {given}: "
                f"{e}\nA traced graph keeps the sizes the traced code computed from its "
                "inputs' shapes (targets of view/reshape/expand, ...); trace again with an "
                "example of the shape you need.") from e

    # -- the fast path
    def compiled(self):
        """(optimized graph, state names and types, compiled code, output sources and
        devices), built on first use."""
        if self._compiled is None:
            graph = self.graph.copy()
            optimize(graph, fuse=True)
            names = [n for n, k in graph.constant_kind.items() if k != "constant"]
            code = compile_graph(graph, names, self.name)
            ids = {v.id: ("input", k) for k, v in enumerate(graph.inputs)}
            ids.update({graph.constants[n].id: ("state", k) for k, n in enumerate(names)})
            where = [ids.get(v.id, ("array", k)) for k, v in enumerate(graph.outputs)]
            devices = [to_device(v.type.device) for v in graph.outputs]
            types = [(graph.constants[n].type.dtype, to_device(graph.constants[n].type.device))
                     for n in names]
            self._compiled = (graph, names, types, code, where, devices)
        return self._compiled

    def fast(self, flat):
        """Run the compiled form; None when a parameter or buffer no longer has its traced
        dtype or device (e.g. after .double()), so the caller replays instead."""
        _, names, types, code, where, devices = self._compiled or self.compiled()
        if names:
            state = self._state(names)
            for t, (dtype, dev) in zip(state, types):
                if t._dtype is not dtype or (t._device is not dev and t._device != dev):
                    return None
            arrays = code.fn([t._data for t in flat], [t._data for t in state])
        else:
            arrays = code.fn([t._data for t in flat], ())
        out = []
        inference = GradState.inference
        for (kind, k), arr, dev in zip(where, arrays, devices):
            if kind == "array":
                t = _wrap(arr, dev, None)
                if inference:
                    t._inference = True
                out.append(t)
            else:
                out.append(flat[k] if kind == "input" else state[k])
        return out

    @property
    def code(self) -> str:
        """This method as readable Python."""
        return python_code(self.graph, identifier(self.name), method=self.owner is not None)


def fits_symbols(g: Graph, shapes: list) -> bool:
    """Whether inputs of these shapes fit a symbolic graph's input types (see _check_symbolic)."""
    if any(len(v.type.shape) != len(shape) for v, shape in zip(g.inputs, shapes)):
        return False
    sizes = symbol_sizes(g, shapes)
    return all(n >= g.min_sizes.get(s, 2) for s, n in sizes.items()) and all(
        (d.evaluate(sizes) if type(d) is SymInt else d) == n
        for v, shape in zip(g.inputs, shapes) for d, n in zip(v.type.shape, shape))


def _first_sizes(dim: SymInt, min_sizes: dict) -> str:
    """The three smallest sizes an input dim of the form q * symbol + r takes."""
    ((symbol,), _) = dim.terms[0]
    floor = min_sizes.get(symbol, 2)
    return ", ".join(str(dim.evaluate({symbol: n})) for n in range(floor, floor + 3))


def _describe_spec(spec) -> str:
    kind = spec[0]
    if kind == "tensor":
        return "Tensor"
    if kind == "dict":
        return "{" + ", ".join(f"{k!r}: {_describe_spec(v)}" for k, v in spec[1]) + "}"
    inner = ", ".join(_describe_spec(s) for s in spec[1])
    return f"({inner})" if kind == "tuple" else f"[{inner}]"


class _Scripted:
    """What ScriptModule and ScriptFunction share: graph views of their forward."""

    _methods: dict

    @property
    def graph(self) -> Graph:
        """The traced graph (printable, in the spirit of TorchScript's IR)."""
        return self._methods["forward"].graph

    @property
    def inlined_graph(self) -> Graph:
        return self.graph

    @property
    def optimized_graph(self) -> Graph:
        """The graph the fast path runs: after folding, simplification and fusion."""
        return self._methods["forward"].compiled()[0]

    @property
    def generated_code(self) -> str:
        """The Python source the fast path runs."""
        return self._methods["forward"].compiled()[3].source


class _TracedSubmodule(Module):
    """A submodule of a traced module: it holds parameters and buffers; the graph runs them."""

    def __init__(self, original_name: str):
        super().__init__()
        object.__setattr__(self, "original_name", original_name)

    def forward(self, *args):
        raise RuntimeError(f"submodule {self.original_name} of a traced module has no forward "
                           "of its own; call the ScriptModule that contains it")

    def _get_name(self) -> str:
        return self.original_name

    def extra_repr(self) -> str:
        return f"original_name={self.original_name}"


class _TracedContainer(_TracedSubmodule):
    """A ModuleList, Sequential or ModuleDict inside a compiled module: indexable, sized and
    iterable as the original was."""

    def __getitem__(self, idx):
        if isinstance(idx, str):
            return self._modules[idx]
        return list(self._modules.values())[idx]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules if self.original_name == "ModuleDict" else
                    self._modules.values())


_CONTAINERS = ("ModuleList", "Sequential", "ModuleDict")


class ScriptModule(_Scripted, Module):
    """A traced module: a Module whose methods run recorded graphs.

    Parameters and buffers keep their names (state_dict, named_parameters); `.graph` and
    `.code` show forward; `.save(path)` writes a file `ember.jit.load` runs without the
    original class.
    """

    def __init__(self, original_name: str = "ScriptModule"):
        super().__init__()
        object.__setattr__(self, "original_name", original_name)
        object.__setattr__(self, "_methods", {})
        object.__setattr__(self, "_refs", {})

    @classmethod
    def _build(cls, layout: dict, tensors: dict, graphs: dict) -> "ScriptModule":
        """Assemble from a layout (class names, training flags, which names are parameters
        and buffers), the tensors by qualified name, and the method graphs."""
        root = cls(layout["class"])
        root.training = layout["training"]
        _set_attributes(root, layout)
        for sub in layout["submodules"]:
            parent_path, _, leaf = sub["path"].rpartition(".")
            child = (_TracedContainer if sub["class"] in _CONTAINERS else
                     _TracedSubmodule)(sub["class"])
            child.training = sub["training"]
            _set_attributes(child, sub)
            root.get_submodule(parent_path).add_module(leaf, child)
        made: dict[int, Parameter] = {}
        for entry in layout["parameters"]:
            path, _, leaf = entry["name"].rpartition(".")
            t = tensors[entry["name"]]
            if not isinstance(t, Parameter):
                if id(t) not in made:
                    made[id(t)] = Parameter(t, entry.get("requires_grad", True))
                t = made[id(t)]
            root.get_submodule(path)._parameters[leaf] = t
        for entry in layout["buffers"]:
            path, _, leaf = entry["name"].rpartition(".")
            owner = root.get_submodule(path)
            owner._buffers[leaf] = tensors[entry["name"]]
            if not entry.get("persistent", True):
                owner._non_persistent_buffers_set.add(leaf)
        for name, graph in graphs.items():
            root._methods[name] = _Method(graph, name, root)
            if name != "forward":
                object.__setattr__(root, name, root._methods[name])
        return root

    def _state_tensors(self, names) -> list:
        refs = self._refs
        out = []
        for name in names:
            ref = refs.get(name)
            if ref is None:
                path, _, leaf = name.rpartition(".")
                owner = self.get_submodule(path)
                store = owner._parameters if leaf in owner._parameters else owner._buffers
                ref = refs[name] = (store, leaf)
            out.append(ref[0][ref[1]])
        return out

    def forward(self, *args, **kwargs):
        method = self._methods.get("forward")
        if method is None:
            raise RuntimeError(f"{self.original_name} was traced without a forward method")
        return method(*args, **kwargs)

    def _get_name(self) -> str:
        return self.original_name

    def extra_repr(self) -> str:
        return f"original_name={self.original_name}"

    @property
    def code(self) -> str:
        """forward as readable Python (`ops.<name>` is a registry op called through apply)."""
        return self._methods["forward"].code

    def layout(self) -> dict:
        """The module tree as data: class names, training flags, parameter/buffer names."""
        return module_layout(self)

    def save(self, f, _extra_files=None) -> None:
        """Write the module (graphs and weights) to `f`, a path or a binary file object."""
        from .serialization import save
        save(self, f, _extra_files)


_PLAIN = (bool, int, float, str)


def _attributes(m: Module) -> dict:
    """`m`'s public attributes that are numbers or strings (or tuples and lists of them), kept
    readable on the compiled module as TorchScript keeps them: {"attributes", "tuples"}."""
    found = {}
    for k, v in vars(m).items():
        if k.startswith("_") or k in ("training", "original_name"):
            continue
        if type(v) in _PLAIN or type(v) in (tuple, list) and all(type(x) in _PLAIN for x in v):
            found[k] = v
    return {"attributes": {k: list(v) if type(v) is tuple else v for k, v in found.items()},
            "tuples": [k for k, v in found.items() if type(v) is tuple]}


def _set_attributes(m: Module, entry: dict) -> None:
    tuples = set(entry.get("tuples", ()))
    for k, v in entry.get("attributes", {}).items():
        object.__setattr__(m, k, tuple(v) if k in tuples else v)


def module_layout(mod: Module) -> dict:
    """A module tree as data: class names, training flags, plain attributes, parameter and
    buffer names."""
    subs, params, bufs = [], [], []
    for path, m in mod.named_modules(remove_duplicate=False):
        if path:
            subs.append({"path": path, "class": m._get_name(), "training": m.training,
                         **_attributes(m)})
        prefix = path + "." if path else ""
        params += [{"name": prefix + k, "requires_grad": p._requires_grad}
                   for k, p in m._parameters.items() if p is not None]
        bufs += [{"name": prefix + k, "persistent": k not in m._non_persistent_buffers_set}
                 for k, b in m._buffers.items() if b is not None]
    return {"class": mod._get_name(), "training": mod.training, "submodules": subs,
            "parameters": params, "buffers": bufs, **_attributes(mod)}


class ScriptFunction(_Scripted):
    """A traced function: callable, with `.graph`, `.code` and `.save`."""

    def __init__(self, graph: Graph, name: str = "forward"):
        self._methods = {"forward": _Method(graph, "forward")}
        self.name = self.__name__ = name

    def __call__(self, *args, **kwargs):
        return self._methods["forward"](*args, **kwargs)

    @property
    def code(self) -> str:
        """The function as readable Python (`ops.<name>` is a registry op through apply)."""
        return python_code(self.graph, identifier(self.name), method=False)

    def save(self, f, _extra_files=None) -> None:
        """Write the function (graph and constants) to `f`, a path or a binary file object."""
        from .serialization import save
        save(self, f, _extra_files)

    def __repr__(self) -> str:
        return f"<ember.jit.ScriptFunction {self.name}>"
