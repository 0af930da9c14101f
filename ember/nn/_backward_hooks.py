"""Full module backward hooks: identity ops around a module's inputs and outputs whose backward
passes see grad_output and grad_input (and may replace them)."""
from __future__ import annotations

from .._ops.dispatch import apply
from .._ops.registry import OpDef
from .._tensor import Tensor


class BackwardHook(OpDef):
    """Identity on its tensors; backward hands the gradients to a ModuleBackwardHooks side."""

    promote = None

    def forward(ctx, xp, *arrays, state, side):
        ctx.state, ctx.side = state, side
        return tuple(a.view() for a in arrays)

    def backward(ctx, *grads):
        if ctx.side == "output":
            return ctx.state.on_grad_output(grads)
        return ctx.state.on_grad_input(grads)


class ModuleBackwardHooks:
    """One module call's hook state: captures grad_output, then calls the hooks on grad_input."""

    def __init__(self, module):
        self.module = module
        self.grad_output = None
        self.n_inputs = 0

    def _wrap(self, values, side):
        flat = list(values)
        index = [i for i, v in enumerate(flat) if isinstance(v, Tensor) and v.requires_grad]
        if not index:
            return values, 0
        wrapped = apply(BackwardHook, *[flat[i] for i in index], state=self, side=side)
        for i, w in zip(index, wrapped):
            flat[i] = w
        return flat, len(index)

    def wrap_inputs(self, args: tuple) -> tuple:
        flat, self.n_inputs = self._wrap(args, "input")
        return tuple(flat)

    def wrap_outputs(self, output):
        single = isinstance(output, Tensor)
        flat, n = self._wrap((output,) if single else output, "output")
        if n == 0:
            return output
        return flat[0] if single else type(output)(flat)

    def on_grad_output(self, grads):
        grads = tuple(grads)
        for hook in list(self.module._backward_pre_hooks.values()):
            result = hook(self.module, grads)
            if result is not None:
                grads = tuple(result)
        self.grad_output = grads
        if self.n_inputs == 0:
            self._call_hooks((None,))
        return grads

    def on_grad_input(self, grads):
        return self._call_hooks(tuple(grads))

    def _call_hooks(self, grad_input):
        for hook in list(self.module._backward_hooks.values()):
            result = hook(self.module, grad_input, self.grad_output)
            if result is not None:
                grad_input = tuple(result)
        return grad_input
