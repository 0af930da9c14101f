"""torch._dynamo's names that user code reaches for (`torch._dynamo.reset()`, its config's
cache_size_limit, `disable`, `is_compiling`): the same objects as ember.compiler's."""
from .compiler import config, disable, is_compiling, reset

__all__ = ["config", "disable", "is_compiling", "reset"]
