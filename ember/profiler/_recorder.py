"""The recorder a running profiler installs as `Profiling.recorder`: `apply` and the backward
engine call it (only while `Profiling.active`) to time op calls and backward nodes, nested under
whatever range is open on their thread."""
from __future__ import annotations

import itertools
import os
import threading
import time
import traceback
import warnings

from .._ops.registry import REGISTRY
from .._tensor import Tensor
from ..autograd.grad_mode import Profiling
from ._events import FunctionEvent

_EMBER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Element types as torch's Chrome trace names them ("Input type").
_C_TYPES = {"float32": "float", "float64": "double", "float16": "c10::Half",
            "bfloat16": "c10::BFloat16", "int64": "long int", "int32": "int", "int16": "short int",
            "int8": "signed char", "uint8": "unsigned char", "bool": "bool",
            "complex64": "c10::complex<float>", "complex128": "c10::complex<double>"}

# Registry names whose ATen op has another name (the profiler shows torch's).
_ATEN_NAMES = {"cross_entropy": "cross_entropy_loss"}


def event_name(op, inplace: bool) -> str:
    """torch's name for a call of `op`: 'aten::add', 'aten::add_' for the in-place form; an
    unregistered OpDef (an autograd.Function) by its own name, as torch names those."""
    if REGISTRY.get(op.name) is not op:
        return op.name
    return "aten::" + _ATEN_NAMES.get(op.name, op.name) + ("_" if inplace else "")


def _node_name(node) -> str:
    name = node.name()
    return "torch::autograd::AccumulateGrad" if name == "AccumulateGrad" else name


class Recorder:
    """Collects the events of one profiling run from every thread."""

    def __init__(self, record_shapes: bool = False, profile_memory: bool = False,
                 with_stack: bool = False):
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.events: list = []
        self._local = threading.local()
        self._ids = itertools.count(1)
        self._t0 = time.perf_counter_ns()
        self.base_us = time.time_ns() / 1e3  # the epoch time event times count from

    def start(self) -> None:
        """Install this recorder: from now on ops and backward nodes are timed. A profiler
        already running is superseded, as in torch: it records nothing more and ends empty."""
        Profiling.recorder = self
        Profiling.active = True

    def stop(self) -> None:
        """Stop recording and close ranges left open (by an exception in a backward pass). A
        recorder superseded by a later one warns as torch does and drops its events."""
        if Profiling.recorder is not self:
            warnings.warn("disableProfiler called but no active profiling session found. This "
                          "can happen if profiling was cancelled during warmup.", stacklevel=4)
            self.events = []
            return
        Profiling.active = False
        now = self._now()
        for e in self.events:
            if e.time_range.end < e.time_range.start:
                e.time_range.end = now

    def _now(self) -> float:
        return (time.perf_counter_ns() - self._t0) / 1e3

    def _stack(self) -> list:
        stack = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    def begin(self, name: str, args=(), annotation: bool = False) -> FunctionEvent:
        """Open a range named `name` on this thread, nested under the one open there."""
        shapes = dtypes = ()
        if self.record_shapes and args:
            shapes = [list(a._data.shape) if isinstance(a, Tensor) else [] for a in args]
            dtypes = [_C_TYPES.get(a._dtype.name, a._dtype.name) if isinstance(a, Tensor)
                      else "Scalar" if isinstance(a, (bool, int, float, complex)) else ""
                      for a in args]
        stack = self._python_stack() if self.with_stack and not annotation else ()
        event = FunctionEvent(next(self._ids), name, threading.get_native_id(), self._now(),
                              shapes, dtypes, annotation, stack)
        event.time_range.end = -1.0  # open
        open_ranges = self._stack()
        if open_ranges:
            parent = open_ranges[-1]
            event.cpu_parent = parent
            parent.cpu_children.append(event)
        open_ranges.append(event)
        self.events.append(event)
        return event

    def end(self, event: FunctionEvent) -> None:
        """Close `event` (and any range opened inside it and left open)."""
        now = self._now()
        open_ranges = self._stack()
        while open_ranges:
            top = open_ranges.pop()
            top.time_range.end = now
            if top.cpu_parent is not None:
                top.cpu_parent.cpu_memory_usage += top.cpu_memory_usage
            if top is event:
                break

    def _python_stack(self) -> list:
        """The caller's frames outside ember, innermost first, as torch prints them."""
        frames = traceback.extract_stack()
        return [f"{f.filename}({f.lineno}): {f.name}" for f in reversed(frames)
                if not f.filename.startswith(_EMBER_DIR)]

    def wants(self, op) -> bool:
        """False for the call `call` makes back into apply/apply_ for the op it is timing."""
        return getattr(self._local, "timing", None) is not op

    def call(self, fn, op, args: tuple, attrs: dict, inplace: bool = False):
        """Run fn(op, *args, **attrs) (apply or apply_) inside an event for the op."""
        event = self.begin(event_name(op, inplace), args)
        local = self._local
        outer = getattr(local, "timing", None)
        local.timing = op
        try:
            result = fn(op, *args, **attrs)
            if self.profile_memory:
                outputs = result if isinstance(result, tuple) else (result,)
                event.cpu_memory_usage += sum(t._data.nbytes for t in outputs
                                              if isinstance(t, Tensor))
        finally:
            local.timing = outer
            self.end(event)
        return result

    def node_begin(self, node, grads) -> FunctionEvent:
        """Open torch's two ranges for a backward node: the engine's evaluate_function and,
        inside it, the node itself (its ops nest under that); `end` the one returned."""
        name = _node_name(node)
        evaluation = self.begin("autograd::engine::evaluate_function: " + name)
        self.begin(name, [g for g in grads if g is not None])
        return evaluation
