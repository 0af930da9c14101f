"""torch._dynamo.eval_frame's OptimizedModule, the class of a compiled module (code checks
`isinstance(model, torch._dynamo.eval_frame.OptimizedModule)` to unwrap `_orig_mod`)."""
from ..compiler import OptimizedModule

__all__ = ["OptimizedModule"]
