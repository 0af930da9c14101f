"""The backward engine: runs a graph's nodes in dependency order, summing gradients per input."""
from __future__ import annotations

import traceback

import numpy as np

from .._backend.host_memory import retain_freed_memory
from .grad_mode import Anomaly, GradState, Profiling
from .graph import AccumulateGrad, BackwardNode


class GraphTask:
    """One backward pass, told apart by identity (checkpoint recomputes once per pass);
    `selects_inputs` when it only computes chosen inputs' gradients (grad, backward(inputs=)).
    Told by its class, so that making one runs no __init__ (one per backward)."""

    __slots__ = ()
    selects_inputs = False


class SelectingGraphTask(GraphTask):
    """A backward pass that computes only chosen inputs' gradients."""

    __slots__ = ()
    selects_inputs = True


def _edge(tensor):
    """The (node, output_nr) that receives `tensor`'s gradient."""
    if tensor._grad_fn is not None:
        return tensor._grad_fn, tensor._output_nr
    if tensor._requires_grad:
        return tensor._get_accumulator(), 0
    return None, 0


def _dependencies(roots):
    """Count, for every node reachable from `roots`, how many edges point at it."""
    deps = {}
    stack = ([roots[0][0]] if len(roots) == 1 and roots[0][0] is not None
             else list(dict.fromkeys(node for node, _ in roots if node is not None)))
    starts = set(stack)  # any other node is expanded when first counted
    while stack:
        node = stack.pop()
        for child, _ in node.next_functions:
            if child is None:
                continue
            n = deps.get(child)
            if n is not None:
                deps[child] = n + 1
            else:
                deps[child] = 1
                if child not in starts:
                    stack.append(child)
    return deps


def _needed(roots, targets):
    """For every node, whether it must run: whether some target lies below it. A target itself
    only has its incoming gradient captured; it runs only if another target lies below it."""
    reaches = {}
    needed = {}
    stack = [(node, False) for node, _ in roots if node is not None]
    while stack:
        node, expanded = stack.pop()
        if not expanded:
            if node in reaches:
                continue
            reaches[node] = None
            stack.append((node, True))
            stack.extend((child, False) for child, _ in node.next_functions
                         if child is not None and child not in reaches)
            continue
        below = any(reaches.get(child) for child, _ in node.next_functions if child is not None)
        needed[node] = below
        reaches[node] = below or node in targets
    return needed


def _run_pre_hooks(node, grads):
    for _, output_nr, hook in sorted(node._pre_hooks.values(), key=_rank):
        if output_nr is None:
            new = hook(tuple(grads))
            if new is not None:
                grads = list(new)
        elif grads[output_nr] is not None:
            new = hook(grads[output_nr])
            if new is not None:
                grads[output_nr] = new
    return grads


def _rank(entry) -> int:
    """Sort key of a stored pre-hook: its kind's place in PRE_HOOK_ORDER."""
    return entry[0]


def _check_nan(node, grads):
    for i, g in enumerate(grads):
        if g is not None and g.dtype.is_floating_point and bool(g.isnan().any()):
            where = node.metadata.get("traceback_")
            trace = "".join(traceback.format_list(where)) if where else "(not recorded)\n"
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th "
                               f"output. The forward call that created it:\n{trace}")


def run_backward(roots, root_grads, retain_graph=False, create_graph=False, inputs=None,
                 allow_unused=False, accumulate=True):
    """Backpropagate `root_grads` from the `roots` edges.

    With `inputs` and accumulate=False (autograd.grad) the gradients reaching those tensors are
    returned instead of being added into `.grad`.
    """
    retain_freed_memory()  # training loops allocate the same temporaries every step
    capture = None
    if inputs is not None:
        capture = {}
        for i, t in enumerate(inputs):
            node, nr = _edge(t)
            if node is None:
                raise RuntimeError("One of the differentiated Tensors does not require grad")
            capture.setdefault(node, []).append((nr, i))
    needed = _needed(roots, capture) if capture is not None else None
    deps = _dependencies(roots)
    buffers = {}
    ready = []
    for (node, nr), g in zip(roots, root_grads):
        if node is None:
            continue
        buf = buffers.setdefault(node, [None] * node.num_outputs)
        buf[nr] = g if buf[nr] is None else buf[nr] + g
    for node in buffers:
        if deps.get(node, 0) == 0:
            ready.append(node)
    results = [None] * len(inputs) if inputs is not None else None
    owned = set()  # a loop: a comprehension costs a frame per backward (Python 3.11)
    for g in root_grads:
        if g is not None:
            owned.add(id(g._data))
    prev_enabled, prev_keep, prev_task = GradState.enabled, GradState.keep_graph, \
        GradState.graph_task
    GradState.enabled, GradState.keep_graph = create_graph, retain_graph
    GradState.graph_task = GraphTask() if capture is None else SelectingGraphTask()
    profiling = Profiling.active
    try:
        while ready:
            node = ready.pop()
            grads = buffers.pop(node, None)
            out = None
            if grads is not None:
                if profiling:
                    evaluation = Profiling.recorder.node_begin(node, grads)
                if node._pre_hooks:
                    grads = _run_pre_hooks(node, grads)
                if capture is not None:
                    if node in capture:
                        for nr, i in capture[node]:
                            results[i] = grads[nr]
                    if not needed.get(node, False):
                        grads = None
                if type(node) is AccumulateGrad:
                    if accumulate and grads is not None:
                        _accumulate(node, grads[0], create_graph, owned)
                elif grads is not None:  # None: no chosen input lies beyond this node
                    out = node.apply(grads)
                    if node._post_hooks:
                        for hook in list(node._post_hooks.values()):
                            new = hook(tuple(out), tuple(grads))
                            if new is not None:
                                out = list(new)
                    if Anomaly.enabled and Anomaly.check_nan:
                        _check_nan(node, out)
                    if not retain_graph and isinstance(node, BackwardNode):
                        node.release()
                if profiling:
                    Profiling.recorder.end(evaluation)
            k = -1  # a counter, not enumerate: one iterator object fewer per node
            for child, nr in node.next_functions:
                k += 1
                if child is None:
                    continue
                if out is not None:
                    g = out[k]
                    if g is not None:
                        buf = buffers.get(child)
                        if buf is None:
                            buf = buffers[child] = [None] * child.num_outputs
                        prev = buf[nr]
                        buf[nr] = g if prev is None else prev + g
                left = deps[child] - 1
                deps[child] = left
                if not left:
                    ready.append(child)
    finally:
        GradState.enabled, GradState.keep_graph = prev_enabled, prev_keep
        GradState.graph_task = prev_task
    if results is not None and not allow_unused:
        for r in results:
            if r is None:
                raise RuntimeError("One of the differentiated Tensors appears to not have been "
                                   "used in the graph. Set allow_unused=True if this is the "
                                   "desired behavior.")
    return results


def _accumulate(node, g, create_graph, owned):
    var = node._variable()
    if var is None:
        return
    grad = var.grad
    if grad is None:
        if not create_graph:
            data = g._data
            if id(data) in owned or data.base is not None or not getattr(
                    data.flags, "writeable", True):
                data = data.copy()
            owned.add(id(data))
            g = type(g)._wrap(data, g._dtype, g._device)
        var.grad = g
    elif create_graph or grad._requires_grad:
        var.grad = grad + g
    else:
        total = grad._data + g._data
        # NumPy adds two 0-d arrays into a scalar; a Tensor holds an array
        grad._data = np.asarray(total) if isinstance(total, np.generic) else total
    if var._post_accumulate_grad_hooks:
        _run_post_accumulate_hooks(var)


def _run_post_accumulate_hooks(var) -> None:
    """Call the leaf's register_post_accumulate_grad_hook hooks, in order, with the leaf."""
    for hook in list(var._post_accumulate_grad_hooks.values()):
        result = hook(var)
        if result is not None:
            raise TypeError(f"expected Variable, but hook returned '{type(result).__name__}' "
                            "(post accumulate grad hooks must return None)")


def reset_grads(tensors, set_to_none: bool = True) -> None:
    """zero_grad for Module and Optimizer: each `.grad` becomes None, or (set_to_none=False)
    is zeroed in place, cut from any graph (backward(create_graph=True)) and kept the same
    tensor, as torch's."""
    for t in tensors:
        g = t.grad
        if g is None:
            continue
        if set_to_none:
            t.grad = None
            continue
        if g.grad_fn is not None:
            g.detach_()
        else:
            g.requires_grad_(False)
        g.zero_()
