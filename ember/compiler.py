"""ember.compile and its controls (as torch.compile and torch.compiler).

`ember.compile(model)` captures forward and backward of each call into graphs (ember.jit's IR),
optimizes them (constant folding, CSE, pointwise fusion) and runs generated code; see
ember/jit/aot.py for the capture and ember/jit/guarded.py for guards and graph breaks.

    >>> import ember
    >>> net = ember.nn.Linear(3, 2)
    >>> fast = ember.compile(net)
    >>> x = ember.ones(4, 3)
    >>> bool(ember.allclose(fast(x), net(x)))
    True
"""
from __future__ import annotations

import functools
import weakref

from .jit.aot import GraphBreak, user_location
from .jit.guarded import _Compiled, config, is_compiling, stance as _stance
from ._tensor import Tensor
from .nn.modules.module import Module

__all__ = ["compile", "reset", "disable", "is_compiling", "is_dynamo_compiling", "config",
           "OptimizedModule", "graph_break", "graph_breaks", "compile_forward", "cond",
           "set_stance", "allow_in_graph", "list_backends", "cudagraph_mark_step_begin"]

_MODES = (None, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
_BACKENDS = ("inductor", "ember", "aot_eager", "eager")
_compiled: list = []


def reset() -> None:
    """Forget every graph compiled so far: the next calls capture again (after changing Python
    state that compiled code read, such as a module attribute)."""
    for ref in _compiled:
        target = ref()
        if target is not None:
            target.clear()


def disable(fn=None, recursive: bool = True, *, reason: str | None = None):
    """Mark `fn` to run eagerly (usable as a decorator): ember.compile returns it as it is,
    and calling it inside compiled code breaks the graph there, so it runs eagerly; `reason`
    is shown with that graph break."""
    if fn is None:
        return functools.partial(disable, recursive=recursive, reason=reason)
    if isinstance(fn, Module):
        fn._ember_compile_disabled = True
        return fn
    why = f" ({reason})" if reason else ""

    @functools.wraps(fn)
    def eager_only(*args, **kwargs):
        if is_compiling():
            raise GraphBreak(f"{getattr(fn, '__qualname__', fn)} is marked "
                             f"ember.compiler.disable{why}", user_location())
        return fn(*args, **kwargs)
    eager_only._ember_compile_disabled = True
    return eager_only


def graph_break() -> None:
    """Break the graph here (torch._dynamo.graph_break): under ember.compile the code around
    it runs eagerly, as at any graph break; outside compiled code it does nothing."""
    if is_compiling():
        raise GraphBreak("torch._dynamo.graph_break() is called", user_location())


is_dynamo_compiling = is_compiling


class set_stance:
    """Set how compiled code runs (torch.compiler.set_stance): "default" compiles,
    "force_eager" runs everything eagerly, "eager_on_recompile" runs eagerly any call that
    would compile a new graph (reusing graphs already compiled), "fail_on_recompile" raises
    RuntimeError there, "eager_then_compile" (or "aot_eager_then_compile") runs the first
    call eagerly and compiles from the second, making the dims that changed between the two
    dynamic. It applies at once; as a context manager it holds for the block, as a decorator
    for each call of the function.

        >>> import ember
        >>> f = ember.compile(lambda x: x * 2)
        >>> with ember.compiler.set_stance("force_eager"):
        ...     f(ember.ones(2))
        tensor([2., 2.])
    """

    def __init__(self, stance: str = "default", *, skip_guard_eval_unsafe: bool = False,
                 force_backend=None):
        if stance not in _stance.NAMES:
            raise ValueError(f"set_stance: unknown stance {stance!r}; use one of "
                             + ", ".join(_stance.NAMES))
        if force_backend is not None and stance != "default":
            raise RuntimeError("non-default stance cannot have force_backend set")
        if force_backend is not None and force_backend not in _BACKENDS:
            raise RuntimeError(f"set_stance: unknown backend {force_backend!r}; use one of "
                               f"{', '.join(_BACKENDS)}")
        if is_compiling():
            raise RuntimeError("set_stance cannot be called inside compiled code")
        self.stance = "force_eager" if force_backend == "eager" else stance
        self.previous = _stance.name
        _stance.name = self.stance

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        _stance.name = self.previous

    def __call__(self, fn):
        _stance.name = self.previous  # a decorator sets the stance for calls of fn only
        stance = self.stance

        @functools.wraps(fn)
        def with_stance(*args, **kwargs):
            before, _stance.name = _stance.name, stance
            try:
                return fn(*args, **kwargs)
            finally:
                _stance.name = before
        return with_stance


def allow_in_graph(fn):
    """Let compiled code record `fn` into its graph (torch.compiler.allow_in_graph). ember's
    capture records the ops any function runs, so `fn` (or each of a list of functions) is
    returned as it is; it must not be one marked ember.compiler.disable."""
    if isinstance(fn, (list, tuple)):
        return [allow_in_graph(f) for f in fn]
    if not callable(fn):
        raise TypeError(f"allow_in_graph expects a callable, but got {type(fn).__name__}")
    if getattr(fn, "_ember_compile_disabled", False):
        raise RuntimeError(f"allow_in_graph: {getattr(fn, '__qualname__', fn)} is marked "
                           "ember.compiler.disable; it cannot be allowed in the graph")
    return fn


def list_backends(exclude_tags=("debug", "experimental")) -> list[str]:
    """The backend names ember.compile accepts (torch.compiler.list_backends); the debugging
    ones ("aot_eager", "eager") only when `exclude_tags` is None or empty."""
    debug = ("aot_eager", "eager")
    show_debug = not exclude_tags or not {"debug", "experimental"} & set(exclude_tags)
    return sorted(b for b in _BACKENDS if show_debug or b not in debug)


def cudagraph_mark_step_begin() -> None:
    """Mark the start of a training or inference step (torch.compiler.
    cudagraph_mark_step_begin). ember.compile records no CUDA graphs, whose outputs a later
    step would overwrite, so every output stays valid and there is nothing to mark."""


def cond(pred, true_fn, false_fn, operands=()):
    """`true_fn(*operands)` if pred else `false_fn(*operands)` (torch.cond): a data-dependent
    branch that compiled code keeps in its graph. Eagerly one branch runs; while ember.compile
    captures, a tensor `pred` runs both and selects each output with `where`, so the branches
    must return tensors of the same structure, shapes and dtypes, without side effects.

        >>> import ember
        >>> x = ember.tensor([1.0, -2.0])
        >>> ember.cond(x.sum() > 0, lambda t: t * 2, lambda t: -t, (x,))
        tensor([-1.,  2.])
    """
    from ._ops.pointwise import where
    operands = tuple(operands)
    if isinstance(pred, Tensor) and pred.numel() != 1:
        raise RuntimeError(f"Expected pred to be bool or single-element tensor, but got {pred}.")
    if not (is_compiling() and isinstance(pred, Tensor)):
        return (true_fn if bool(pred) else false_fn)(*operands)
    yes, no = true_fn(*operands), false_fn(*operands)
    flat_yes, flat_no = _branch_outputs(yes), _branch_outputs(no)
    if len(flat_yes) != len(flat_no) or type(yes) is not type(no) or any(
            a.shape != b.shape or a.dtype != b.dtype for a, b in zip(flat_yes, flat_no)):
        raise RuntimeError("cond: true_fn and false_fn must return tensors of the same "
                           "structure, shapes and dtypes, got "
                           f"{[(tuple(a.shape), a.dtype) for a in flat_yes]} and "
                           f"{[(tuple(b.shape), b.dtype) for b in flat_no]}")
    chosen = [where(pred.reshape(()).bool(), a, b) for a, b in zip(flat_yes, flat_no)]
    return chosen[0] if isinstance(yes, Tensor) else type(yes)(chosen)


def _branch_outputs(out) -> list:
    """A cond branch's outputs as a list: one tensor, or a tuple or list of tensors."""
    flat = [out] if isinstance(out, Tensor) else list(out) if isinstance(out, (tuple, list)) \
        else None
    if flat is None or not all(isinstance(t, Tensor) for t in flat):
        raise RuntimeError("cond: each branch must return a tensor or a tuple or list of "
                           f"tensors, got {type(out).__name__}")
    return flat


class OptimizedModule(Module):
    """The module ember.compile returns: calls run compiled graphs of `_orig_mod`; parameters,
    buffers and state_dict (keys prefixed `_orig_mod.`, as torch's) are the original's."""

    def __init__(self, mod: Module, compiled):
        super().__init__()
        self._orig_mod = mod
        object.__setattr__(self, "_compiled", compiled)

    @property
    def training(self) -> bool:
        """The original module's mode, so `mod.eval()` shows through the wrapper (as torch's)."""
        orig = self.__dict__["_modules"].get("_orig_mod")
        return True if orig is None else orig.training

    @training.setter
    def training(self, mode: bool) -> None:
        orig = self.__dict__.get("_modules", {}).get("_orig_mod")
        if orig is not None:
            orig.training = mode

    def forward(self, *args, **kwargs):
        return self._compiled(*args, **kwargs)

    def __getattr__(self, name: str):
        """Attributes the wrapper lacks are the original module's (compiled.weight, a
        custom method), as with torch's OptimizedModule."""
        try:
            return super().__getattr__(name)
        except AttributeError:
            orig = self.__dict__.get("_modules", {}).get("_orig_mod")
            if orig is None:
                raise
            return getattr(orig, name)

    @property
    def graph_breaks(self) -> list:
        return graph_breaks(self)


def graph_breaks(compiled) -> list:
    """[(where compiled, source line, reason, what runs eagerly)] for each graph break a
    compiled function or module met so far."""
    target = compiled._compiled if isinstance(compiled, OptimizedModule) else \
        getattr(compiled, "_ember_compiled", None)
    if isinstance(compiled, Module) and isinstance(compiled.__dict__.get("forward"), _Compiled):
        target = compiled.__dict__["forward"]
    if target is None:
        raise TypeError("graph_breaks() takes what ember.compile returned")
    return list(target.report)


def _options(fullgraph, dynamic, backend, mode, options, disable, explain) -> dict | None:
    """The checked options of a compile call (None: run eagerly)."""
    if mode not in _MODES:
        raise RuntimeError(f"Unrecognized mode={mode!r}, should be one of: "
                           + ", ".join(str(m) for m in _MODES[1:]))
    if callable(backend):
        raise RuntimeError("ember.compile: custom backend callables are not supported; use "
                           f"one of {', '.join(_BACKENDS)}")
    if backend not in _BACKENDS:
        raise RuntimeError(f"ember.compile: unknown backend {backend!r}; use one of "
                           f"{', '.join(_BACKENDS)}")
    if dynamic is not None and not isinstance(dynamic, bool):
        raise TypeError(f"ember.compile: dynamic must be None, True or False, not "
                        f"{type(dynamic).__name__}")
    if disable or backend == "eager":
        return None
    return {"fullgraph": fullgraph, "dynamic": dynamic, "mode": mode,
            "options": dict(options or {}), "explain": explain}


def _target(fn, opts: dict, module: Module | None = None):
    """A guarded compiled callable for fn (a module's call or forward when `module`)."""
    if module is None:
        target = _Compiled(fn, opts, [])
    else:
        target = _Compiled(module, opts, [], name=type(module).__name__, fn=fn)
    _compiled.append(weakref.ref(target))
    return target


def compile_forward(module: Module, *, fullgraph: bool = False, dynamic: bool | None = None,
                    backend="inductor", mode: str | None = None, options: dict | None = None,
                    disable: bool = False, explain: bool = False) -> None:
    """Module.compile: compile `module`'s forward in place (its hooks keep running eagerly)."""
    opts = _options(fullgraph, dynamic, backend, mode, options, disable, explain)
    if opts is not None:
        object.__setattr__(module, "forward",
                           _target(type(module).forward.__get__(module), opts, module))


def compile(model=None, *, fullgraph: bool = False, dynamic: bool | None = None,
            backend="inductor", mode: str | None = None, options: dict | None = None,
            disable: bool = False, explain: bool = False):
    """Compile a module or function: each call runs graphs captured from it (forward and,
    when gradients are needed, backward), guarded on the inputs' shapes, dtypes, devices and
    requires_grad, on module hooks and training flags, and on the plain Python values the
    capture read (module attributes, closure variables, globals). Dropout's noise is drawn
    anew on every call. Parts that cannot be captured or replayed run eagerly (`fullgraph=True`
    makes that an error); `explain=True` prints each graph break with its source line and
    reason.

    backend: "inductor" (the default), "ember" and "aot_eager" all run ember's captured and
    compiled forward and backward graphs; "eager" returns `model` as it is.

    dynamic: None (default) or True: when an input's sizes change, the two captures are
    compared and the sizes that changed become symbols of one dynamic graph (ember/jit/
    symbolic.py); a later size runs it once its capture conforms, with no new compile.
    (torch's dynamic=True starts symbolic at the first call; ember needs two sizes to see
    which numbers follow them; ember._dynamo.mark_dynamic on an input's dim makes the first
    call capture a second size itself.) False: every size gets a graph of its own, except
    that dims marked with mark_dynamic are dynamic still (as torch's)."""
    if model is None:
        return functools.partial(compile, fullgraph=fullgraph, dynamic=dynamic,
                                 backend=backend, mode=mode, options=options,
                                 disable=disable, explain=explain)
    opts = _options(fullgraph, dynamic, backend, mode, options, disable, explain)
    if not callable(model):
        raise RuntimeError(f"ember.compile: expected a Module or a function, got "
                           f"{type(model).__name__}")
    if opts is None or getattr(model, "_ember_compile_disabled", False):
        return model
    if isinstance(model, Module):
        return OptimizedModule(model, _target(model, opts, model))
    target = _target(model, opts)

    @functools.wraps(model)
    def compiled(*args, **kwargs):
        return target(*args, **kwargs)
    compiled._ember_compiled = target
    return compiled
