"""ember.jit: trace a model or function into a typed graph, optimize it, run it without the
eager overhead, and save it as one file that loads without the model's source.

    >>> import ember
    >>> net = ember.nn.Linear(3, 2).eval()
    >>> traced = ember.jit.trace(net, ember.ones(1, 3))
    >>> bool((traced(ember.ones(4, 3)) == net(ember.ones(4, 3))).all())
    True
"""
from __future__ import annotations

from .hints import Attribute, Final, Future, annotate, fork, interface, isinstance, wait
from .._ops.checks import ScriptError as Error
from .frontend import freeze, optimize_for_inference, trace, trace_module
from .ir import Graph, GraphError, Node, TensorType, Value
from .runtime import ScriptFunction, ScriptModule, optimized_execution
from .script import (NotSupportedError, export, ignore, is_scripting, script,
                     script_if_tracing, unused)
from .serialization import load
from .tracer import TracerWarning, TracingCheckError, is_tracing


def save(m: ScriptModule | ScriptFunction, f, _extra_files=None) -> None:
    """Save a ScriptModule or ScriptFunction to `f` (same as `m.save(f)`)."""
    from .serialization import save as _save
    _save(m, f, _extra_files)


__all__ = ["script", "script_if_tracing", "ignore", "unused", "export", "NotSupportedError",
           "is_scripting", "is_tracing",
           "trace", "trace_module", "freeze", "save", "load", "ScriptModule", "ScriptFunction",
           "optimize_for_inference", "TracerWarning", "TracingCheckError", "Graph", "GraphError",
           "Node", "TensorType", "Value", "annotate", "Attribute", "Final", "isinstance",
           "interface", "fork", "wait", "Future", "Error", "optimized_execution"]
