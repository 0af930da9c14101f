"""A graph node that calls back into Python: ember.jit.script leaves a function marked
@ember.jit.ignore to Python (torch.jit.ignore), and the graph calls it on each run with that
run's tensors and numbers, so its result follows the data (a trace would bake it in).

The call's arguments are a template whose tensor and number leaves are Slots, filled from the
node's inputs; its result is flattened to the node's outputs (numbers as 0-d tensors). A graph
holding such a node holds a live Python function, so it cannot be saved (as torch refuses).
"""
from __future__ import annotations

from .._tensor import Tensor
from ..autograd import grad
from ..testing.opinfo import Arg, Sample
from .registry import OpDef, register

__all__: list = []


class Slot:
    """Where the node's input `index` goes in a call's arguments: a tensor (kind None) or a
    Python number of `kind` (int, float, bool)."""

    __slots__ = ("index", "kind")

    def __init__(self, index: int, kind=None):
        self.index = index
        self.kind = kind


class PythonCall:
    """The Python callable a python_call node runs: `template` is (args, kwargs) with Slots
    for the node's inputs; `outputs` the (kind, dtype) of each result leaf as compiled."""

    __slots__ = ("fn", "name", "template", "outputs")

    def __init__(self, fn, name: str, template: tuple, outputs: list):
        self.fn = fn
        self.name = name
        self.template = template
        self.outputs = outputs

    def __repr__(self) -> str:
        return f"<python function {self.name}>"

    def __call__(self, xp, arrays, ctx=None):
        """Run the function on one call's arrays; its result's leaves as arrays. With `ctx`
        whose inputs need grad, it runs on tensors that require grad and keeps them and
        its result there for backward (autograd follows the Python code, as in torch)."""
        inputs = [Tensor._wrap_array(a) for a in arrays]
        needs = ctx.needs_input_grad if ctx is not None else ()
        for t, need in zip(inputs, needs):
            t.requires_grad_(need)
        args, kwargs = fill(self.template, inputs)
        leaves = result_leaves(self.fn(*args, **kwargs), [])
        if any(needs):
            ctx.inputs, ctx.results = inputs, leaves
        if len(leaves) != len(self.outputs):
            raise RuntimeError(f"the ignored function {self.name} returned {len(leaves)} "
                               f"values where the scripted code expects {len(self.outputs)}")
        out = []
        for leaf, (kind, dt) in zip(leaves, self.outputs):
            if kind is not None and not isinstance(leaf, Tensor):
                out.append(xp.asarray(kind(leaf), dtype=dt.np))
                continue
            if not isinstance(leaf, Tensor) or leaf.dtype is not dt:
                got = leaf.dtype if isinstance(leaf, Tensor) else type(leaf).__name__
                raise RuntimeError(f"the ignored function {self.name} returned {got} where "
                                   f"the scripted code expects a {dt} tensor")
            out.append(leaf._data)
        return out[0] if len(out) == 1 else tuple(out)


def fill(template, tensors):
    """`template` with each Slot replaced by its tensor, or Python number, from `tensors`."""
    if type(template) is Slot:
        t = tensors[template.index]
        return t if template.kind is None else template.kind(t.item())
    if type(template) in (tuple, list):
        return type(template)(fill(o, tensors) for o in template)
    if type(template) is dict:
        return {k: fill(v, tensors) for k, v in template.items()}
    return template


def result_leaves(result, found: list) -> list:
    """The tensors and numbers in a result (tuples, lists and dict values, in order)."""
    if isinstance(result, (Tensor, bool, int, float)):
        found.append(result)
    elif type(result) in (tuple, list):
        for r in result:
            result_leaves(r, found)
    elif type(result) is dict:
        for r in result.values():
            result_leaves(r, found)
    return found


def _sample_program(t, x):
    """A scripted function calling an ignored one whose result follows the data."""
    def scaled(x):
        return x * x.abs().sum() + 1.0
    ignored = t.jit.ignore(scaled)

    def caller(x):
        if x.sum() > 1e9:  # control flow: the graph runs node by node, through apply
            x = x * 2
        return ignored(x) - 1
    return t.jit.script(caller)(x)


@register("python_call", promote=None, samples=(
    Sample(_sample_program, (Arg((2, 3)),), gradgrad=False),))
class PythonCallOp(OpDef):
    """Call `call` (a PythonCall) on the inputs, in Python, on every run. Never pure.
    Backward differentiates what the Python code recorded (first order only: its inputs
    were fresh tensors, so a second backward cannot reach the graph's own)."""

    pure = False

    def forward(ctx, xp, *arrays, call):
        return call(xp, arrays, ctx)

    def backward(ctx, *grads):
        pairs = [(out, g) for out, g in zip(ctx.results, grads)
                 if isinstance(out, Tensor) and out.requires_grad and g is not None]
        wanted = [t for t in ctx.inputs if t.requires_grad]
        if not pairs or not wanted:
            return tuple(None for _ in ctx.inputs)
        found = iter(grad([o for o, _ in pairs], wanted, [g for _, g in pairs],
                          allow_unused=True, retain_graph=True))
        return tuple(next(found) if t.requires_grad else None for t in ctx.inputs)
