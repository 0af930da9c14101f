"""autograd.Function: user-defined ops with a hand-written backward.

Each Function subclass gets its own OpDef (not in the registry, which holds library ops) and is
called through the same `apply` as every op, so the tracer, the profiler and anomaly mode see it
like any other op. The OpDef's forward rewraps the raw arrays as Tensors, runs the user's forward
under no_grad and hands back the output arrays; its graph node runs the user's backward.
"""
from __future__ import annotations

import functools
import inspect
import threading

import numpy as np

from .._tensor import Tensor
from .grad_mode import GradState, no_grad
from .graph import BackwardNode

__all__ = ["Function", "FunctionCtx", "once_differentiable"]

_local = threading.local()


class FunctionCtx:
    """The `ctx` a custom Function's forward/setup_context and backward share.

    Any attribute may be set on it; the methods below tell autograd what to save and how the
    outputs relate to the inputs.
    """

    def __init__(self):
        self.needs_input_grad = ()
        self.materialize_grads = True
        self._to_save = ()
        self._dirty = ()
        self._non_differentiable = ()
        self._op_ctx = None

    def save_for_backward(self, *tensors) -> None:
        """Keep tensors (inputs, outputs or None) for backward, where `saved_tensors` returns
        them; modifying one in place before backward is an error."""
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError("save_for_backward can only save variables, but argument "
                                f"{i} is of type {type(t).__name__}")
        self._to_save = tensors

    @property
    def saved_tensors(self) -> tuple:
        """The tensors given to save_for_backward, checked against in-place changes."""
        node = getattr(self._op_ctx, "_node", None)
        if node is None:
            return tuple(self._to_save)
        return node._unpack_saved()

    def mark_dirty(self, *tensors) -> None:
        """Declare inputs that forward modified in place (they must be returned as outputs)."""
        self._dirty = tensors

    def mark_non_differentiable(self, *tensors) -> None:
        """Declare outputs that do not require grad (e.g. indices); backward gets zeros for them."""
        self._non_differentiable = tensors

    def set_materialize_grads(self, value: bool) -> None:
        """With False, backward receives None instead of zeros for outputs that got no grad."""
        self.materialize_grads = bool(value)


class _ForwardError(RuntimeError):
    """Carries a ValueError out of a user's forward past `apply`, which would otherwise turn it
    into a RuntimeError about the op's inputs; Function.apply re-raises the original."""

    def __init__(self, error):
        super().__init__(str(error))
        self.error = error


class _Call:
    """What Function.apply and the OpDef's forward exchange for one call."""

    __slots__ = ("args", "taken", "fctx", "outputs", "is_tuple")

    def __init__(self, args):
        self.args = args
        self.taken = False
        self.fctx = None
        self.outputs = ()
        self.is_tuple = False


def _calls() -> list:
    stack = getattr(_local, "calls", None)
    if stack is None:
        stack = _local.calls = []
    return stack


def _overrides(cls, name: str) -> bool:
    return getattr(cls, name) is not getattr(Function, name)


def _inputs_for(call, arrays):
    """Tensors for the user's forward: the caller's own Tensor objects where the arrays are
    theirs, fresh wrappers otherwise (a replay of the op from raw arrays)."""
    if call is None:
        return tuple(Tensor._wrap_array(a) if hasattr(a, "dtype") and hasattr(a, "shape")
                     else a for a in arrays)
    inputs = []
    for orig, arr in zip(call.args, arrays):
        if isinstance(orig, Tensor):
            inputs.append(orig if orig._data is arr else Tensor._wrap_array(arr))
        else:
            inputs.append(orig)
    return tuple(inputs)


def _run_forward(fn_cls, ctx, arrays, kwargs):
    """The OpDef's forward: run the user's forward on Tensors, note on `ctx` what `apply` and
    the graph node need (saved values, non-differentiable outputs, layout), return arrays."""
    stack = _calls()
    call = stack[-1] if stack and not stack[-1].taken else None
    if call is not None:
        call.taken = True
    inputs = _inputs_for(call, arrays)
    fctx = FunctionCtx()
    fctx._op_ctx = ctx
    ctx.function_ctx = fctx
    recording = bool(ctx.needs_input_grad)
    fctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._requires_grad for a in inputs)
    ctx.tensor_inputs = tuple(isinstance(a, Tensor) for a in inputs)
    try:
        with no_grad():
            if _overrides(fn_cls, "setup_context"):
                output = fn_cls.forward(*inputs, **kwargs)
                fn_cls.setup_context(fctx, inputs, output)
            else:
                output = fn_cls.forward(fctx, *inputs, **kwargs)
    except ValueError as e:
        raise _ForwardError(e) from e
    is_tuple = isinstance(output, tuple)
    outs = output if is_tuple else (output,)
    tensor_outs = [o for o in outs if isinstance(o, Tensor)]
    ctx.output_layout = tuple(isinstance(o, Tensor) for o in outs)
    for t in fctx._dirty:
        if not any(t is o for o in tensor_outs):
            raise RuntimeError("Some elements marked as dirty during the forward method were not "
                               "returned as output. The inputs that are modified inplace must "
                               "all be outputs of the Function.")
        t._vbox[0] += 1
    ctx.non_differentiable = tuple(k for k, o in enumerate(tensor_outs)
                                   if any(o is n for n in fctx._non_differentiable))
    ctx._raw = tuple(None if t is None else t._data for t in fctx._to_save)
    if recording:
        fctx._to_save = ()
    if call is not None:
        call.fctx, call.outputs, call.is_tuple = fctx, outs, is_tuple
    if is_tuple or not tensor_outs:
        return tuple(o._data for o in tensor_outs)
    return output._data


class _FunctionBackward(BackwardNode):
    """The graph node of a custom Function: runs its backward and checks what it returns."""

    __slots__ = ()

    def apply(self, grads):
        ctx = self.ctx
        fctx = ctx.function_ctx
        if fctx.materialize_grads:
            grads = [g if g is not None else Tensor._zeros(*meta)
                     for g, meta in zip(grads, self._outputs_meta)]
        it = iter(grads)
        full = [next(it) if is_tensor else None for is_tensor in ctx.output_layout]
        result = self.opdef.backward(ctx, *full)
        return self._check_grads(result if isinstance(result, tuple) else (result,))

    def _check_grads(self, result):
        name = self.name()
        n_in = len(self._inputs_meta)
        if len(result) > n_in and all(g is None for g in result[n_in:]):
            result = result[:n_in]
        if len(result) != n_in:
            raise RuntimeError(f"function {name} returned an incorrect number of gradients "
                               f"(expected {n_in}, got {len(result)})")
        tensor_inputs = self.ctx.tensor_inputs
        fixed = []
        for i, (g, meta) in enumerate(zip(result, self._inputs_meta)):
            if g is None:
                fixed.append(None)
                continue
            if not isinstance(g, Tensor):
                raise RuntimeError(f"expected Variable or None (got {type(g).__name__}) as "
                                   f"gradient {i} returned by {name}")
            if not tensor_inputs[i]:
                raise RuntimeError(f"function {name} returned a gradient different than None at "
                                   f"position {i + 1}, but the corresponding forward input was "
                                   "not a Variable")
            if meta is None:
                fixed.append(None)
                continue
            shape, dtype = meta
            if g._data.shape != shape:
                if not _reducible(g._data.shape, shape):
                    raise RuntimeError(f"Function {name} returned an invalid gradient at index "
                                       f"{i} - got {list(g.shape)} but expected shape "
                                       f"compatible with {list(shape)}")
                g = g.sum_to_size(shape)
            if g._dtype is not dtype:
                g = g.to(dtype)
            fixed.append(g)
        return fixed


def _reducible(grad_shape, shape) -> bool:
    """Whether a gradient of `grad_shape` sums down to `shape` (shape broadcasts to it)."""
    try:
        return np.broadcast_shapes(tuple(shape), tuple(grad_shape)) == tuple(grad_shape)
    except ValueError:
        return False


def _opdef_for(fn_cls):
    """The OpDef standing for `fn_cls` in `apply`, built once per Function subclass."""
    op = fn_cls.__dict__.get("_opdef")
    if op is not None:
        return op
    from .._ops.registry import OpDef

    def forward(ctx, xp, *arrays, **kwargs):
        return _run_forward(fn_cls, ctx, arrays, kwargs)

    def backward(ctx, *grads):
        user = fn_cls.backward if _overrides(fn_cls, "backward") else fn_cls.vjp
        return user(ctx.function_ctx, *grads)

    op = type(fn_cls.__name__, (OpDef,), {
        "__doc__": f"The op behind the custom Function {fn_cls.__qualname__}.",
        "name": fn_cls.__name__, "promote": None, "function": fn_cls, "quiet_fp": False,
        "forward": staticmethod(forward), "backward": staticmethod(backward)})
    op.node_class = type(f"{fn_cls.__name__}Backward", (_FunctionBackward,),
                         {"__slots__": (), "opdef": op})
    fn_cls._opdef = op
    return op


def _finish_outputs(call, results):
    """Turn `apply`'s fresh output Tensors into what the user's forward returned: dirty inputs
    become outputs in place, outputs aliasing an input become its views, non-Tensors pass."""
    from .._ops.dispatch import _rebase_view
    fctx = call.fctx
    inputs = [a for a in call.args if isinstance(a, Tensor)]
    it = iter(results)
    final = []
    for y in call.outputs:
        if not isinstance(y, Tensor):
            final.append(y)
            continue
        t = next(it)
        if any(y is d for d in fctx._dirty):
            final.append(_move_dirty(y, t, _rebase_view))
            continue
        base = y._base
        if any(y is x or base is not None and (base is x or base is x._base) for x in inputs):
            t._base = base if base is not None else y
            t._vbox = y._vbox
            t._view_chain = y._view_chain
        final.append(t)
    # The node keeps fctx alive: drop tensor references that would tie tensors to their node.
    fctx._dirty = fctx._non_differentiable = ()
    return tuple(final) if call.is_tuple else final[0]


def _move_dirty(y, t, rebase_view):
    """An input the forward modified in place takes the output's place in the graph."""
    if GradState.enabled:
        if y._requires_grad and y._grad_fn is None:
            raise RuntimeError("a leaf Variable that requires grad has been used in an in-place "
                               "operation.")
        base = y._base
        if base is not None and base._requires_grad and base._grad_fn is None:
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in "
                               "an in-place operation.")
    node = t._grad_fn
    if node is not None:
        y._grad_fn = node
        y._output_nr = t._output_nr
        y._requires_grad = True
        if y._base is not None:
            rebase_view(y, y._base, node, t._output_nr)
    return y


class Function:
    """Base class for ops with a custom backward.

    Subclasses define `forward(ctx, *args)` and `backward(ctx, *grad_outputs)` as static
    methods (or `forward(*args)` plus `setup_context(ctx, inputs, output)`) and are called
    with `.apply(*args)`.

    >>> import ember
    >>> class Cube(ember.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x ** 3
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         (x,) = ctx.saved_tensors
    ...         return 3 * x ** 2 * g
    >>> x = ember.tensor([1.0, 2.0], requires_grad=True)
    >>> Cube.apply(x).sum().backward()
    >>> x.grad
    tensor([ 3., 12.])
    """

    def __call__(self, *args, **kwargs):
        raise RuntimeError("Legacy autograd function with non-static forward method is "
                           "deprecated. Please use new-style autograd function with static "
                           "forward method. (Example: https://pytorch.org/docs/stable/"
                           "autograd.html#torch.autograd.Function)")

    @staticmethod
    def forward(*args, **kwargs):
        """Compute the outputs from Tensors (runs under no_grad)."""
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    @staticmethod
    def setup_context(ctx, inputs, output):
        """Optional: fill `ctx` from the inputs and output of a ctx-less forward."""
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        """Gradients for each input of forward (None where not differentiable)."""
        raise NotImplementedError("You must implement either the backward or vjp method for "
                                  "your custom autograd.Function to use it with backward mode "
                                  "AD.")

    vjp = backward

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run the Function on `args`, recording it in the graph when an input requires grad."""
        from .._ops.dispatch import apply
        op = _opdef_for(cls)
        if _overrides(cls, "setup_context"):
            bound = inspect.signature(cls.forward).bind(*args, **kwargs)
            bound.apply_defaults()
            args, kwargs = bound.args, bound.kwargs
        call = _Call(args)
        stack = _calls()
        stack.append(call)
        try:
            results = apply(op, *args, **kwargs)
        except _ForwardError as e:
            raise e.error from None
        finally:
            stack.pop()
        if call.fctx is None:
            return results
        return _finish_outputs(call, results if isinstance(results, tuple) else (results,))


class _DelayedError:
    """Built lazily: an op that passes a value through and fails if differentiated."""

    op = None

    @classmethod
    def get(cls):
        if cls.op is None:
            from .._ops.registry import OpDef

            def forward(ctx, xp, value, *grads):
                return value

            def backward(ctx, g):
                raise RuntimeError("trying to differentiate twice a function that was marked "
                                   "with @once_differentiable")

            op = type("OnceDifferentiable", (OpDef,), {
                "name": "once_differentiable", "promote": None,
                "forward": staticmethod(forward), "backward": staticmethod(backward)})
            op.node_class = type("OnceDifferentiableBackward", (BackwardNode,),
                                 {"__slots__": (), "opdef": op})
            cls.op = op
        return cls.op


def once_differentiable(fn):
    """Decorator for a Function's backward that is not itself differentiable: it runs under
    no_grad, and differentiating its results again raises a clear error."""

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with no_grad():
            outputs = fn(ctx, *args)
        if not GradState.enabled:
            return outputs
        grads = [a for a in args if isinstance(a, Tensor) and a._requires_grad]
        if not grads:
            return outputs
        from .._ops.dispatch import apply
        op = _DelayedError.get()
        wrap = (lambda o: apply(op, o, *grads) if isinstance(o, Tensor)
                and o._dtype.is_floating_point else o)
        if isinstance(outputs, tuple):
            return tuple(wrap(o) for o in outputs)
        return wrap(outputs)

    return wrapper
