"""torch._dynamo's names that user code reaches for (`torch._dynamo.reset()`, its config's
cache_size_limit, `disable`, `is_compiling`, `graph_break`, `eval_frame.OptimizedModule`,
`exc.Unsupported`): the same objects as ember.compiler's; the dim marks (`mark_dynamic`,
`maybe_mark_dynamic`, `mark_static`) and `explain`."""
from ..compiler import allow_in_graph, config, disable, graph_break, is_compiling, reset
from . import eval_frame, exc
from .decorators import mark_dynamic, mark_static, maybe_mark_dynamic
from .explain import explain

__all__ = ["allow_in_graph", "config", "disable", "eval_frame", "exc", "explain",
           "graph_break", "is_compiling", "mark_dynamic", "mark_static", "maybe_mark_dynamic",
           "reset"]
