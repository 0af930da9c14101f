"""The autograd graph: nodes, edges and saved tensors. Knows nothing about any particular op."""
from __future__ import annotations

import contextlib
import threading
import weakref

from ..utils.hooks import RemovableHandle
from .grad_mode import GradState

# The order a node's pre-hooks run in, whatever order they were registered in (torch's):
# hooks on an output tensor, then retain_grad's (so .grad sees what they returned), then
# hooks on the node itself.
PRE_HOOK_ORDER = ("tensor", "retain_grad", "node")


class Node:
    """A backward function in the graph. `next_functions` holds one (node, output_nr) per input.

    Subclasses implement `apply(grads)`: grads for each output in, grads for each input out.
    """

    __slots__ = ("next_functions", "__dict__", "__weakref__")

    # Hooks and metadata are rare: they live in the instance __dict__ only once set.
    _pre_hooks = None
    _post_hooks = None
    _metadata = None
    num_outputs = 1

    def __init__(self, next_functions=()):
        self.next_functions = next_functions

    @property
    def metadata(self) -> dict:
        """Free-form per-node storage (anomaly mode keeps the forward traceback here)."""
        if self._metadata is None:
            self._metadata = {}
        return self._metadata

    def name(self) -> str:
        return type(self).__name__

    def register_prehook(self, hook) -> RemovableHandle:
        """hook(grad_outputs) -> new grad_outputs or None, run before this node."""
        return self._add_pre_hook(None, hook)

    def register_hook(self, hook) -> RemovableHandle:
        """hook(grad_inputs, grad_outputs) -> new grad_inputs or None, run after this node."""
        if self._post_hooks is None:
            self._post_hooks = {}
        handle = RemovableHandle(self._post_hooks)
        self._post_hooks[handle.id] = hook
        return handle

    def _add_pre_hook(self, output_nr, hook, retains_grad: bool = False) -> RemovableHandle:
        """A hook on all outputs (output_nr None) or on one output's gradient (a tensor hook;
        retain_grad's own is marked so that it runs after the others and sees their result).
        Stored as (rank, output_nr, hook), rank the PRE_HOOK_ORDER place of its kind."""
        if self._pre_hooks is None:
            self._pre_hooks = {}
        handle = RemovableHandle(self._pre_hooks)
        kind = "node" if output_nr is None else "retain_grad" if retains_grad else "tensor"
        self._pre_hooks[handle.id] = (PRE_HOOK_ORDER.index(kind), output_nr, hook)
        return handle

    def __repr__(self) -> str:
        return f"<{self.name()} object at {hex(id(self))}>"


class AccumulateGrad(Node):
    """The sink of a leaf tensor: adds the incoming gradient into `variable.grad`."""

    __slots__ = ("_variable",)

    def __init__(self, variable):
        super().__init__(())
        self._variable = weakref.ref(variable)

    @property
    def variable(self):
        return self._variable()


# A value saved for backward is a tuple (tensor, array, output_nr, version_box, version):
#   an input Tensor            -> (tensor, None, -1, its version box, its version now)
#   output k of the node itself -> (None, array, k, the output's version box, version now)
#     (kept as array + counter rather than the Tensor, so no cycle ties a tensor to its grad_fn)
#   an intermediate array      -> (None, array, -1, None, 0)
# The version is compared at backward, so in-place writes after the forward are caught.
def saved_input(tensor) -> tuple:
    box = tensor._vbox
    return (tensor, None, -1, box, box[0])


def saved_output(array, output_nr: int, version_box) -> tuple:
    return (None, array, output_nr, version_box, version_box[0])


def saved_constant(array) -> tuple:
    return (None, array, -1, None, 0)


class Context:
    """The `ctx` an op's forward and backward share: saved values, attributes, input-grad needs."""

    _raw = ()
    non_differentiable = ()
    needs_input_grad = ()  # set per call while the graph is recorded

    def save(self, *values) -> None:
        """Keep arrays (inputs, outputs or intermediates) for backward, where they are Tensors."""
        self._raw = values

    @property
    def _node(self):
        """The graph node this context belongs to (held weakly: the node owns the context, and
        a strong back-reference would make every op call a cycle only the GC can free)."""
        return self._node_ref()

    @property
    def saved(self) -> tuple:
        return self._node_ref()._unpack_saved()

    @property
    def saved_tensors(self) -> tuple:
        return self._node_ref()._unpack_saved()


FREED = ("Trying to backward through the graph a second time (or directly access saved "
         "tensors after they have already been freed). Saved intermediate values of the graph "
         "are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if "
         "you need to backward through the graph a second time or if you need to access saved "
         "tensors after calling backward.")


def _tensor_class():
    """Tensor sits above the graph in the import order; fetch it once it exists."""
    global _Tensor
    if _Tensor is None:
        from .._tensor import Tensor
        _Tensor = Tensor
    return _Tensor


_Tensor = None


class BackwardNode(Node):
    """The node an op call leaves in the graph; `apply` runs the OpDef's backward."""

    __slots__ = ("ctx", "_saved", "_inputs_meta", "_outputs_meta")

    opdef = None
    _released = False
    _hooked = False  # saved values went through saved_tensors_hooks (entries are PackedSaved)

    def __init__(self, ctx, next_functions, inputs_meta, outputs_meta):
        self.next_functions = next_functions
        self.ctx = ctx
        ctx._node_ref = weakref.ref(self)
        self._saved = None
        self._inputs_meta = inputs_meta
        self._outputs_meta = outputs_meta

    @property
    def num_outputs(self):
        return len(self._outputs_meta)

    def _unpack_saved(self) -> tuple:
        if self._released:
            raise RuntimeError(FREED)
        if self._hooked:
            return tuple(None if entry is None else entry.unpacked(self)
                         for entry in self._saved)
        out = []
        for tensor, array, output_nr, box, version in self._saved or ():
            if box is not None and box[0] != version:
                what = (f"output {output_nr} of {self.name()}" if tensor is None
                        else "an input of " + self.name() if tensor._grad_fn is None
                        else f"output {tensor._output_nr} of {tensor._grad_fn.name()}")
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified "
                    f"by an inplace operation: [{what}], is at version {box[0]}; "
                    f"expected version {version} instead. Hint: the operation that failed "
                    "was " + self.name() + "; replace the in-place operation by an "
                    "out-of-place one, or clone() the tensor before modifying it.")
            if tensor is not None:
                out.append(tensor)
            elif output_nr >= 0:
                dtype, device = self._outputs_meta[output_nr][1:]
                t = _tensor_class()._wrap(array, dtype, device)
                t._grad_fn = self
                t._output_nr = output_nr
                t._requires_grad = True
                t._vbox = box
                out.append(t)
            elif array is None:
                out.append(None)
            else:
                out.append(_tensor_class()._wrap_array(array))
        return tuple(out)

    def keep_value_before_write(self, target) -> None:
        """`target`, this node's first input, is about to be overwritten with the node's result:
        keep a copy of its value for backward in place of the tensor itself."""
        saved = self._saved or ()
        for i, entry in enumerate(saved):
            if not self._hooked:
                if entry[0] is target:
                    saved[i] = saved_constant(target._data.copy())
            elif entry is not None and entry.first_arg:
                copy = _tensor_class()._wrap(target._data.copy(), target._dtype, target._device)
                saved[i] = _pack(SavedHooks.stack[-1], copy)

    def release(self) -> None:
        """Free saved values after a backward without retain_graph (a node that saved nothing
        can run again, as in torch)."""
        if self._saved:
            self._saved = None
            self._released = True

    def apply(self, grads):
        if self._released:
            self._unpack_saved()
        if len(grads) > 1:
            zeros = _tensor_class()._zeros
            grads = [g if g is not None else zeros(*meta)
                     for g, meta in zip(grads, self._outputs_meta)]
        # holomorphic ops have one output; its dtype says whether values are complex
        opdef = self.opdef
        conjugate = opdef.holomorphic and self._outputs_meta[0][1].is_complex
        if conjugate:  # see OpDef.holomorphic
            grads = [g.conj() if g is not None and g.is_complex() else g for g in grads]
        result = opdef.backward(self.ctx, *grads)
        if not isinstance(result, tuple):
            result = (result,)
        if conjugate:
            result = tuple(r.conj() if r is not None and r.is_complex() else r for r in result)
        fixed = []
        for g, meta in zip(result, self._inputs_meta):
            if g is not None and meta is not None:
                shape, dtype = meta
                if g._data.shape != shape:
                    g = g.sum_to_size(shape)
                if g._dtype is not dtype:  # a real input takes a complex gradient's real part
                    g = (g.real if g.is_complex() and not dtype.is_complex else g).to(dtype)
            fixed.append(g)
        return fixed


# ---- saved-tensor hooks ----------------------------------------------------------------------
class _SavedHooksState(threading.local):
    """This thread's saved-tensor hooks, innermost last (only that pair is used), and inside
    disable_saved_tensors_hooks the message that refuses new ones. Per thread, as in torch."""

    stack = ()
    refusal = None


SavedHooks = _SavedHooksState()


class PackedSaved:
    """A value saved for backward under saved_tensors_hooks: what pack_hook made of it, the
    unpack_hook that turns it back into a Tensor, and the value's place in the graph (the
    producing node and output, or a leaf's accumulator), which the unpacked tensor takes so
    gradients through it (double backward) reach the same place. An output of the node itself
    has `output_nr` >= 0 and no producer kept (the node owns this entry)."""

    __slots__ = ("packed", "unpack", "grad_fn", "output_nr", "accumulator", "first_arg")

    def unpacked(self, node):
        t = self.unpack(self.packed)
        if not isinstance(t, _tensor_class()):
            raise TypeError("Output of saved tensor unpack_hook expected to be a Tensor but got "
                            f"result of type {type(t).__name__}")
        if self.grad_fn is None and self.accumulator is None and self.output_nr < 0:
            return t.detach() if t._requires_grad else t
        grad_fn = node if self.output_nr >= 0 and self.grad_fn is None else self.grad_fn
        nr = max(self.output_nr, 0) if grad_fn is not None else 0
        if t._requires_grad and t._grad_fn is grad_fn and (
                t._output_nr == nr if grad_fn is not None else t._accumulator is self.accumulator):
            return t
        out = _tensor_class()._wrap(t._data, t._dtype, t._device)
        out._vbox = t._vbox
        out._requires_grad = True
        out._grad_fn = grad_fn
        out._output_nr = nr
        if grad_fn is None:
            out._accumulator = self.accumulator
        return out


def _pack(hooks, tensor, grad_fn=None, output_nr=-1, accumulator=None, first_arg=False):
    """Run pack_hook on `tensor` (with grad mode off, as torch) and keep what it returns."""
    entry = PackedSaved()
    prev = GradState.enabled
    GradState.enabled = False
    try:
        entry.packed = hooks[0](tensor)
    finally:
        GradState.enabled = prev
    entry.unpack = hooks[1]
    entry.grad_fn = grad_fn
    entry.output_nr = output_nr
    entry.accumulator = accumulator
    entry.first_arg = first_arg
    return entry


def pack_saved(node, args, results) -> None:
    """Replace what `node` saved for backward by what the innermost saved_tensors_hooks' pack
    hook makes of each value: the input Tensor itself, the output Tensor, or an intermediate
    array wrapped as a Tensor. Called once per recorded op while hooks are set."""
    hooks = SavedHooks.stack[-1]
    Tensor = _tensor_class()
    packed = []
    for tensor, array, output_nr, _, _ in node._saved:
        if tensor is not None:
            packed.append(pack_tensor(hooks, tensor, tensor is args[0]))
        elif output_nr >= 0:
            packed.append(_pack(hooks, results[output_nr], None, output_nr))
        elif array is None:
            packed.append(None)
        else:
            packed.append(_pack(hooks, Tensor._wrap_array(array)))
    node._saved = packed
    node._hooked = True
    node.ctx._raw = ()


def pack_tensor(hooks, tensor, first_arg: bool = False) -> PackedSaved:
    """Pack a tensor that has its own place in the graph (an op's input); `.unpacked(None)`
    gives it back there."""
    grad_fn = accumulator = None
    if tensor._requires_grad:
        grad_fn = tensor._grad_fn
        if grad_fn is None:
            accumulator = tensor._get_accumulator()
    return _pack(hooks, tensor, grad_fn, tensor._output_nr if grad_fn else -1, accumulator,
                 first_arg)


class saved_tensors_hooks:
    """Context manager: every tensor an op saves for backward inside it goes through
    `pack_hook(tensor) -> anything` when saved, and `unpack_hook(that) -> Tensor` when
    backward reads it. Nested managers: the innermost pair is used. Per thread.

    >>> import ember
    >>> x = ember.tensor([1.0, 2.0], requires_grad=True)
    >>> with ember.autograd.graph.saved_tensors_hooks(lambda t: t * 1, lambda t: t):
    ...     y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    tensor([2., 4.])
    """

    def __init__(self, pack_hook, unpack_hook):
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self):
        if SavedHooks.refusal is not None:
            raise RuntimeError(SavedHooks.refusal)
        SavedHooks.stack = SavedHooks.stack + ((self.pack_hook, self.unpack_hook),)
        return self

    def __exit__(self, *exc):
        SavedHooks.stack = SavedHooks.stack[:-1]
        return False


class save_on_cpu(saved_tensors_hooks):
    """Saved tensors go to CPU memory during forward and back to their device in backward
    (with pin_memory, into a separate CPU copy; pinned where a CUDA device allows it).

    >>> import ember
    >>> x = ember.tensor([3.0], requires_grad=True)
    >>> with ember.autograd.graph.save_on_cpu():
    ...     y = x * x
    >>> y.backward()
    >>> x.grad
    tensor([6.])
    """

    def __init__(self, pin_memory: bool = False, device_type: str = "cuda"):
        def pack(tensor):
            if not pin_memory:
                return tensor.device, tensor.cpu()
            return tensor.device, tensor.detach().to("cpu", copy=True)

        def unpack(packed):
            device, tensor = packed
            return tensor.to(device, non_blocking=pin_memory)

        super().__init__(pack, unpack)


@contextlib.contextmanager
def disable_saved_tensors_hooks(error_message: str):
    """Context manager (and decorator) inside which saved_tensors_hooks (and so non-reentrant
    checkpointing) is refused with RuntimeError(error_message); entering it while hooks are
    set raises the same.

    >>> import ember
    >>> with ember.autograd.graph.disable_saved_tensors_hooks("no hooks here"):
    ...     try:
    ...         with ember.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t):
    ...             pass
    ...     except RuntimeError as e:
    ...         print(e)
    no hooks here
    """
    if SavedHooks.stack:
        raise RuntimeError(error_message)
    prev = SavedHooks.refusal
    SavedHooks.refusal = error_message
    try:
        yield
    finally:
        SavedHooks.refusal = prev
