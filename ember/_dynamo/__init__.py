"""torch._dynamo's names that user code reaches for (`torch._dynamo.reset()`, its config's
cache_size_limit, `disable`, `is_compiling`, `graph_break`, `eval_frame.OptimizedModule`,
`exc.Unsupported`, `list_backends`): the same objects as ember.compiler's; the dim marks
(`mark_dynamic`, `maybe_mark_dynamic`, `mark_static`), `explain`, and the support checks."""
from ..compiler import (OptimizedModule, allow_in_graph, config, disable, graph_break,
                        is_compiling, list_backends, reset)
from . import eval_frame, exc
from .decorators import mark_dynamic, mark_static, maybe_mark_dynamic
from .explain import explain

__all__ = ["OptimizedModule", "allow_in_graph", "config", "disable", "eval_frame", "exc",
           "explain", "graph_break", "is_compiling", "is_dynamo_supported",
           "is_inductor_supported", "list_backends", "mark_dynamic", "mark_static",
           "maybe_mark_dynamic", "reset"]


def is_dynamo_supported() -> bool:
    """Whether ember.compile can capture graphs here: it runs wherever ember does."""
    return True


def is_inductor_supported() -> bool:
    """Whether backend="inductor" compiles here: ember's compiler serves that name
    everywhere ember runs."""
    return True
