"""Tracing for export: ember.jit's tracer (`trace_graph`) plus the model line behind each node.

The IR does not record where a node came from, so while the model runs an extra `apply`
observer, installed after the tracer's recorder, notes the innermost stack frame outside the
ember package for every node the recorder adds. Unsupported-op errors quote that line.
"""
from __future__ import annotations

import linecache
import os
import sys

from .. import _ops
from .._ops.creation import arange
from .._ops import dispatch
from .._tensor import Tensor
from ..autograd.grad_mode import no_grad
from ..jit import tracer
from ..jit.interpreter import run_graph
from ..jit.ir import Graph

_EMBER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(_ops.__file__)))


class Capture:
    """A traced graph, the flat example inputs and their names, and the source line of each
    node (by node identity)."""

    def __init__(self, graph: Graph, flat_inputs: list, names: list[str], sources: dict):
        self.graph = graph
        self.flat_inputs = flat_inputs
        self.names = names
        self.sources = sources

    def source(self, node) -> str | None:
        entry = self.sources.get(id(node))
        return None if entry is None else _format_frame(entry[1])


class _SourceObserver:
    """An `apply` observer that maps each node the tracer records to the user's frame."""

    def __init__(self):
        self.sources: dict[int, tuple] = {}

    def __call__(self, op, args, attrs, outputs) -> None:
        rec = tracer._active
        if rec is None or not rec.graph.nodes:
            return
        node = rec.graph.nodes[-1]
        if id(node) not in self.sources:
            self.sources[id(node)] = (node, _user_frame())


def _user_frame():
    f = sys._getframe(2)
    while f is not None and os.path.abspath(f.f_code.co_filename).startswith(_EMBER_DIR):
        f = f.f_back
    if f is None:
        return None
    return f.f_code.co_filename, f.f_lineno, f.f_code.co_name


def _format_frame(frame) -> str | None:
    if frame is None:
        return None
    filename, lineno, func = frame
    code = linecache.getline(filename, lineno).strip()
    return f"{filename}:{lineno} in {func}: {code}" if code else f"{filename}:{lineno} in {func}"


def module_state(model) -> dict:
    """id(tensor) -> (tensor, qualified name, kind) for a module's parameters and buffers."""
    state: dict = {}
    if hasattr(model, "named_parameters"):
        for name, p in model.named_parameters():
            state[id(p)] = (p, name, "parameter")
        for name, b in model.named_buffers():
            state.setdefault(id(b), (b, name, "buffer"))
    return state


def split_args(args, kwargs) -> tuple[tuple, dict]:
    """torch.onnx's argument forms: a tensor, a tuple, or a tuple ending in a dict of keyword
    arguments; `kwargs` adds more keyword arguments."""
    if isinstance(args, Tensor):
        args = (args,)
    elif isinstance(args, list):
        args = tuple(args)
    elif not isinstance(args, tuple):
        raise TypeError(f"ember.onnx.export: args must be a Tensor or a tuple, not "
                        f"{type(args).__name__}")
    kw = dict(kwargs or {})
    if args and isinstance(args[-1], dict):
        kw = {**args[-1], **kw}
        args = args[:-1]
    return args, kw


def _replayed(model):
    """ember.jit's ScriptModule/ScriptFunction run generated code that bypasses `apply`:
    replay their graph through the interpreter instead, so the tracer sees every op."""
    from ..jit.runtime import ScriptFunction, ScriptModule
    if not isinstance(model, (ScriptModule, ScriptFunction)):
        return model, getattr(model, "forward", model)
    graph = model.graph
    state = {}
    if isinstance(model, ScriptModule):
        state = {**dict(model.named_parameters()), **dict(model.named_buffers())}

    def replay(*args):
        flat, _ = tracer.flatten(args, "input")
        return tracer.unflatten(graph.output_spec, run_graph(graph, flat, state))
    return replay, None


def trace(model, args: tuple, kwargs: dict, record_sources: bool = True) -> Capture:
    """Trace `model(*args, **kwargs)`; keyword arguments become inputs after the positional
    ones."""
    keys = list(kwargs)
    n = len(args)
    observer = _SourceObserver() if record_sources else None
    fn, signature = _replayed(model)
    example = tuple(args) + tuple(kwargs[k] for k in keys)
    fixed = _fixed(example)

    def call(*traced):
        if observer is not None:
            dispatch.observers.append(observer)
        rest = iter(traced)
        full = [fixed[i] if i in fixed else next(rest) for i in range(len(example))]
        try:
            return fn(*full[:n], **dict(zip(keys, full[n:])))
        finally:
            if observer is not None:
                dispatch.observers.remove(observer)

    traced = tuple(a for i, a in enumerate(example) if i not in fixed)
    with no_grad():
        graph, _ = tracer.trace_graph(call, traced, module_state(model), False,
                                      records_creation=False)
    flat, _ = tracer.flatten(traced, "input")
    counts = [0 if i in fixed else len(tracer.flatten(a, "input")[0])
              for i, a in enumerate(example)]
    if signature is None:
        names = [v.name or f"input_{i}" for i, v in enumerate(model.graph.inputs)][:len(flat)]
    else:
        names = tracer.input_names(signature, counts[:n])
    for k, count in zip(keys, counts[n:]):
        names += [k] if count == 1 else [f"{k}_{i}" for i in range(count)]
    return Capture(graph, flat, names, observer.sources if observer is not None else {})


def _fixed(values: tuple) -> dict:
    """{position: value} of the arguments that are None or plain Python values: they are
    passed to the model as they are and baked into the graph (as torch drops None inputs),
    not made graph inputs."""
    return {i: v for i, v in enumerate(values)
            if v is None or isinstance(v, (bool, int, float, complex, str))}


def resized_inputs(args: tuple, kwargs: dict, axes: dict, new_size: int):
    """Copies of the example inputs with the (flat index, axis) pairs in `axes` resized to
    `new_size` along that axis: shrunk by slicing, or grown by repeating rows."""
    values = tuple(args) + tuple(kwargs.values())
    fixed = _fixed(values)
    flat, spec = tracer.flatten(tuple(v for i, v in enumerate(values) if i not in fixed),
                                "input")
    out = []
    for i, t in enumerate(flat):
        for axis in axes.get(i, ()):
            n = t.shape[axis]
            index = arange(new_size) % n
            t = t.index_select(axis, index)
        out.append(t)
    rest = iter(tracer.unflatten(spec, out))
    rebuilt = [fixed[i] if i in fixed else next(rest) for i in range(len(values))]
    return tuple(rebuilt[:len(args)]), dict(zip(kwargs, rebuilt[len(args):]))
