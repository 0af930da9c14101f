"""torch._dynamo.exc's Unsupported: what a compiled call with fullgraph=True raises when the
code cannot be captured as one graph."""
from ..jit.aot import Unsupported

__all__ = ["Unsupported"]
