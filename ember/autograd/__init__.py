"""ember.autograd: reverse-mode automatic differentiation over the op registry."""
from __future__ import annotations

import numpy as np

from .._backend import namespace
from .._device import CPU
from .engine import _edge, run_backward
from .grad_mode import (enable_grad, inference_mode, is_grad_enabled,
                        is_inference_mode_enabled, no_grad, set_grad_enabled)
# Eager, so the name means the function even after `ember.autograd.gradcheck` (the module) loads.
from .gradcheck import gradcheck, gradgradcheck

__all__ = ["backward", "grad", "no_grad", "enable_grad", "set_grad_enabled", "inference_mode",
           "is_grad_enabled", "is_inference_mode_enabled", "Function", "gradcheck",
           "gradgradcheck", "detect_anomaly", "set_detect_anomaly", "functional", "graph"]


def _as_tuple(x):
    if x is None:
        return ()
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


_ONES: dict = {}  # (shape, NumPy dtype) -> the array of one 1 an implicit root grad copies


def _ones_like_scalar(out):
    """A fresh all-ones array of a one-element output's shape and dtype (a copy of a cached
    one: np.ones costs about half of a tiny backward's own bookkeeping)."""
    key = (out._data.shape, out._dtype.np)
    one = _ONES.get(key)
    if one is None:
        one = _ONES[key] = np.ones(*key)
    return one.copy()


def _root_grads(outputs, grad_outputs, create_graph):
    grads = []
    for i, out in enumerate(outputs):
        g = grad_outputs[i] if i < len(grad_outputs) else None
        if g is None:
            if out._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs "
                                   f"(output {i} has shape {list(out.shape)}); pass gradient=")
            if not out._requires_grad:
                raise RuntimeError("element 0 of tensors does not require grad and does not "
                                   "have a grad_fn")
            ones = (_ones_like_scalar(out) if out._device is CPU else
                    namespace(out._device).ones(out._data.shape, out._dtype.np))
            grads.append(type(out)._wrap(ones, out._dtype, out._device))
            continue
        if g.shape != out.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of "
                               f"{list(g.shape)} and output[{i}] has a shape of "
                               f"{list(out.shape)}.")
        if not out._requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have "
                               "a grad_fn")
        grads.append(g if create_graph or g._grad_fn is None else g.detach())
    return grads


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate gradients of `tensors` into the `.grad` of the leaves they depend on.

    >>> import ember
    >>> w = ember.tensor([2.0], requires_grad=True)
    >>> ember.autograd.backward((w * w).sum())
    >>> w.grad
    tensor([4.])
    """
    outputs = _as_tuple(tensors)
    grads = _root_grads(outputs, _as_tuple(grad_tensors), create_graph)
    if retain_graph is None:
        retain_graph = create_graph
    roots = list(map(_edge, outputs))
    if inputs is not None:
        inputs = _as_tuple(inputs)
        results = run_backward(roots, grads, retain_graph, create_graph, inputs=inputs,
                               allow_unused=True, accumulate=False)
        for t, g in zip(inputs, results):
            if g is not None:
                t.grad = (g if create_graph else g.detach()) if t.grad is None else t.grad + g
        return
    run_backward(roots, grads, retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Gradients of `outputs` with respect to `inputs`, returned rather than accumulated.

    >>> import ember
    >>> x = ember.tensor(3.0, requires_grad=True)
    >>> ember.autograd.grad(x ** 2, x)
    (tensor(6.),)
    """
    outs = _as_tuple(outputs)
    ins = _as_tuple(inputs)
    grads = _root_grads(outs, _as_tuple(grad_outputs), create_graph)
    if retain_graph is None:
        retain_graph = create_graph
    if allow_unused is None:
        allow_unused = materialize_grads
    results = run_backward([_edge(t) for t in outs], grads, retain_graph, create_graph,
                           inputs=ins, allow_unused=allow_unused, accumulate=False)
    if materialize_grads:
        from .._ops.creation import zeros_like
        results = [zeros_like(t) if r is None else r for r, t in zip(results, ins)]
    return tuple(results)


def __getattr__(name):
    import importlib
    lazy = {"Function": ".function", "FunctionCtx": ".function", "once_differentiable":
            ".function", "detect_anomaly": ".anomaly_mode", "set_detect_anomaly": ".anomaly_mode",
            "is_anomaly_enabled": ".anomaly_mode",
            "is_anomaly_check_nan_enabled": ".anomaly_mode", "Variable": ".variable"}
    if name in lazy:
        return getattr(importlib.import_module(lazy[name], __name__), name)
    if name in ("function", "functional", "gradcheck_module", "forward_ad", "profiler",
                "variable"):
        return importlib.import_module("." + name, __name__)
    raise AttributeError(f"module 'ember.autograd' has no attribute {name!r}")
