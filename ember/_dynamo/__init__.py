"""torch._dynamo's names that user code reaches for (`torch._dynamo.reset()`, its config's
cache_size_limit, `disable`, `is_compiling`, `graph_break`, `eval_frame.OptimizedModule`,
`exc.Unsupported`): the same objects as ember.compiler's."""
from ..compiler import config, disable, graph_break, is_compiling, reset
from . import eval_frame, exc

__all__ = ["config", "disable", "eval_frame", "exc", "graph_break", "is_compiling", "reset"]
