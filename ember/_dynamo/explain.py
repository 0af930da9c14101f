"""torch._dynamo.explain: run a function or module once under ember.compile and report what
it compiled: the graphs, their ops, and each graph break with its reason and source line."""
from __future__ import annotations

import dataclasses

from ..jit.guarded import _Compiled, _Graph, _Split


@dataclasses.dataclass
class GraphCompileReason:
    """Why a graph ended (torch._dynamo.output_graph.GraphCompileReason): `reason`, and
    `user_stack`, the user's source lines ("file:line: text") where it broke."""

    reason: str
    user_stack: list
    graph_break: bool = True


@dataclasses.dataclass
class ExplainOutput:
    """What explain() found (torch._dynamo.backends.debugging.ExplainOutput): the forward
    graphs compiled (ember.jit IR), the graph breaks and the ops of each graph."""

    graphs: list
    graph_count: int
    graph_break_count: int
    break_reasons: list
    op_count: int
    ops_per_graph: list
    out_guards: list
    compile_times: str

    def __str__(self) -> str:
        lines = [f"Graph Count: {self.graph_count}",
                 f"Graph Break Count: {self.graph_break_count}",
                 f"Op Count: {self.op_count}", "Break Reasons:"]
        for i, r in enumerate(self.break_reasons, 1):
            lines += [f"  Break Reason {i}:", f"    Reason: {r.reason}", "    User Stack:"]
            lines += [f"      {where}" for where in r.user_stack]
        lines.append("Ops per Graph:")
        for i, ops in enumerate(self.ops_per_graph, 1):
            lines.append(f"  Ops {i}:")
            lines += [f"    {op}" for op in ops]
        lines.append(f"Compile Times: {self.compile_times}")
        return "\n".join(lines) + "\n"


def _entries(target: _Compiled) -> list:
    """The graphs compiled for `target` and, where it broke, for the submodules it calls."""
    out = []
    for entry in target.cache.values():
        if isinstance(entry, _Graph):
            out.append(entry)
        elif isinstance(entry, _Split):
            for _, part in entry.parts.values():
                out += _entries(part)
    return out


def explain(f, *extra_args, **extra_kwargs):
    """`explain(f)(*args, **kwargs)` runs `f` (a function or module) once compiled afresh and
    returns an ExplainOutput: graph_count, graph_break_count, break_reasons, op_count,
    ops_per_graph (the op names of each forward graph as captured).

        >>> import ember, ember._dynamo
        >>> out = ember._dynamo.explain(lambda x: x.sin().cos())(ember.ones(3))
        >>> out.graph_count, out.graph_break_count, out.ops_per_graph
        (1, 0, [['sin', 'cos']])
    """
    from ..compiler import OptimizedModule, compile

    def inner(*args, **kwargs):
        compiled = compile(f)
        target = compiled._compiled if isinstance(compiled, OptimizedModule) else \
            compiled._ember_compiled
        compiled(*args, **kwargs)
        graphs, seen = [], set()
        for entry in _entries(target):
            if id(entry.call) not in seen:
                seen.add(id(entry.call))
                graphs.append(entry)
        joints = [g.call.joint for g in graphs]
        ops = [[n.op for n in j.graph.nodes[:j.backward_from]] for j in joints]
        reasons = [GraphCompileReason(reason, [where] if where else [])
                   for _, where, reason, _ in target.report]
        times = ", ".join(f"{g.seconds:.4f}" for g in graphs)
        return ExplainOutput(
            graphs=[g.call.forward_graph for g in graphs], graph_count=len(graphs),
            graph_break_count=len(reasons), break_reasons=reasons,
            op_count=sum(map(len, ops)), ops_per_graph=ops,
            out_guards=[g.guards for g in graphs],
            compile_times=f"seconds to capture and compile each graph: {times}")

    if extra_args or extra_kwargs:
        return inner(*extra_args, **extra_kwargs)
    return inner
