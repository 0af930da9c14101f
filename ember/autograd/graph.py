"""The autograd graph: nodes, edges and saved tensors. Knows nothing about any particular op."""
from __future__ import annotations

import itertools
import weakref


class RemovableHandle:
    """Returned by `register_hook`-style calls; `remove()` unregisters the hook."""

    __slots__ = ("_store", "_key")
    _ids = itertools.count()

    def __init__(self, store: dict):
        self._store = store
        self._key = next(RemovableHandle._ids)

    def remove(self) -> None:
        self._store.pop(self._key, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


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
        self._post_hooks[handle._key] = hook
        return handle

    def _add_pre_hook(self, output_nr, hook) -> RemovableHandle:
        """A hook on all outputs (output_nr None) or on one output's gradient (a tensor hook)."""
        if self._pre_hooks is None:
            self._pre_hooks = {}
        handle = RemovableHandle(self._pre_hooks)
        self._pre_hooks[handle._key] = (output_nr, hook)
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
        return self._node._unpack_saved()

    @property
    def saved_tensors(self) -> tuple:
        return self._node._unpack_saved()


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
        Tensor = _tensor_class()
        if self._released:
            raise RuntimeError(FREED)
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
                t = Tensor._wrap(array, dtype, device)
                t._grad_fn = self
                t._output_nr = output_nr
                t._requires_grad = True
                t._vbox = box
                out.append(t)
            elif array is None:
                out.append(None)
            else:
                out.append(Tensor._wrap_array(array))
        return tuple(out)

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
        conjugate = self.opdef.holomorphic and self._outputs_meta[0][1].is_complex
        if conjugate:  # see OpDef.holomorphic
            grads = [g.conj() if g is not None and g.is_complex() else g for g in grads]
        result = self.opdef.backward(self.ctx, *grads)
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
