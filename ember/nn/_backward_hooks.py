"""Full module backward hooks: identity ops around a module's inputs and outputs whose backward
passes see grad_output and grad_input (and may replace them)."""
from __future__ import annotations

import warnings

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
        self.n_args = 0
        self.input_index = []

    def _wrap(self, values, side):
        """values with the tensors that require grad passed through a BackwardHook, and
        their positions."""
        flat = list(values)
        index = [i for i, v in enumerate(flat) if isinstance(v, Tensor) and v.requires_grad]
        if not index:
            return values, index
        wrapped = apply(BackwardHook, *[flat[i] for i in index], state=self, side=side)
        for i, w in zip(index, wrapped):
            flat[i] = w
        return flat, index

    def wrap_inputs(self, args: tuple) -> tuple:
        self.n_args = len(args)
        flat, self.input_index = self._wrap(args, "input")
        return tuple(flat)

    def wrap_outputs(self, output):
        single = isinstance(output, Tensor)
        flat, index = self._wrap((output,) if single else output, "output")
        if not index:
            return output
        return flat[0] if single else type(output)(flat)

    def on_grad_output(self, grads):
        grads = tuple(grads)
        for hook in list(self.module._backward_pre_hooks.values()):
            result = hook(self.module, grads)
            if result is not None:
                grads = tuple(result)
        self.grad_output = grads
        if not self.input_index:
            warnings.warn("Full backward hook is firing when gradients are computed with "
                          "respect to module outputs since no inputs require gradients. See "
                          "https://docs.pytorch.org/docs/main/generated/torch.nn.Module.html"
                          "#torch.nn.Module.register_full_backward_hook for more details.",
                          stacklevel=2)
            self._call_hooks((None,) * self.n_args)
        return grads

    def on_grad_input(self, grads):
        """The hooks see, as in torch, one grad_input entry per positional argument (None
        for those that take no gradient); the wrapped inputs get back their entries."""
        grad_input = [None] * self.n_args
        for i, g in zip(self.input_index, grads):
            grad_input[i] = g
        grad_input = self._call_hooks(tuple(grad_input))
        return tuple(grad_input[i] for i in self.input_index)

    def _call_hooks(self, grad_input):
        for hook in list(self.module._backward_hooks.values()):
            result = hook(self.module, grad_input, self.grad_output)
            if result is not None:
                grad_input = tuple(result)
                if len(grad_input) != self.n_args:
                    raise RuntimeError(f"Backward hook returned an invalid number of grad_input, "
                                       f"got {len(grad_input)}, but expected {self.n_args}")
        return grad_input
