"""Activation checkpointing: run a segment of the forward without keeping what its ops save
for backward, and recompute the segment when backward needs those values.

Two forms, as torch: the reentrant one (use_reentrant=True) is an autograd.Function whose
forward runs the segment under no_grad and whose backward reruns it with grad on and
backpropagates through the rerun; the non-reentrant one (use_reentrant=False) runs the segment
with saved_tensors_hooks that keep only a placeholder per saved tensor, and the first unpack in
a backward pass reruns the segment to fill them all. Both restore the RNG state of the first
run, so dropout inside draws the same mask again.
"""
from __future__ import annotations

import contextlib
import warnings
from typing import Any, Callable, ContextManager, Iterable, Tuple

from .. import autograd
from .._ops import dispatch
from .._ops.random import default_generator_for
from .._tensor import Tensor
from ..autograd.grad_mode import GradState, enable_grad
from ..autograd.graph import PackedSaved, SavedHooks, pack_tensor, saved_tensors_hooks

__all__ = ["checkpoint", "checkpoint_sequential", "CheckpointError", "CheckpointFunction",
           "noop_context_fn", "set_checkpoint_early_stop", "set_checkpoint_debug_enabled"]

_EXPLICIT = ("the use_reentrant parameter should be passed explicitly. use_reentrant=False is "
             "recommended, but if you need to preserve the current default behavior, you can "
             "pass use_reentrant=True. Refer to docs for more details on the differences between "
             "the two variants.")
_TIP = ("\n\nTip: To see a more detailed error message, either pass `debug=True` to "
        "`ember.utils.checkpoint.checkpoint(...)` or wrap the code block with `with "
        "ember.utils.checkpoint.set_checkpoint_debug_enabled(True):` to enable checkpoint-debug "
        "mode globally.")


class CheckpointError(RuntimeError):
    """The recomputation of a checkpointed segment did not save what its first run saved."""


def noop_context_fn() -> Tuple[ContextManager, ContextManager]:
    """The default `context_fn`: no extra context around the forward or the recomputation."""
    return contextlib.nullcontext(), contextlib.nullcontext()


class _Settings:
    """Process-wide switches set by set_checkpoint_early_stop / set_checkpoint_debug_enabled."""

    early_stop = True
    debug = None


@contextlib.contextmanager
def set_checkpoint_early_stop(enable: bool):
    """Context manager: whether non-reentrant recomputation stops as soon as every saved tensor
    is back (default True) or runs the whole segment."""
    prev = _Settings.early_stop
    _Settings.early_stop = bool(enable)
    try:
        yield
    finally:
        _Settings.early_stop = prev


@contextlib.contextmanager
def set_checkpoint_debug_enabled(enabled):
    """Context manager: debug mode (op lists in CheckpointError) for every non-reentrant
    checkpoint inside, overriding their `debug=` (None: leave it to each call)."""
    prev = _Settings.debug
    _Settings.debug = enabled
    try:
        yield
    finally:
        _Settings.debug = prev


# ---- RNG and autocast state ------------------------------------------------------------------
def _rng_states(args) -> list:
    """The states of the default generators the segment may draw from: the CPU one and those of
    the devices of its tensor arguments."""
    devices = {"cpu": None}
    for a in args:
        if isinstance(a, Tensor) and a.device.type != "cpu":
            devices[str(a.device)] = a.device
    return [(g, g.get_state()) for g in (default_generator_for(d or "cpu")
                                         for d in devices.values())]


@contextlib.contextmanager
def _replayed_rng(states):
    """Run with the generators set to `states` (None: untouched), then put back their state."""
    if states is None:
        yield
        return
    now = [(g, g.get_state()) for g, _ in states]
    for g, state in states:
        g.set_state(state)
    try:
        yield
    finally:
        for g, state in now:
            g.set_state(state)


@contextlib.contextmanager
def _autocast_as(state):
    """Run with the autocast regions captured by _autocast_state (the recomputation computes in
    the precision of the first run)."""
    Autocast = dispatch.AutocastState
    prev = Autocast.active, Autocast.dtypes
    Autocast.active, Autocast.dtypes = state
    try:
        yield
    finally:
        Autocast.active, Autocast.dtypes = prev


def _autocast_state():
    return dispatch.AutocastState.active, dict(dispatch.AutocastState.dtypes)


# ---- reentrant -------------------------------------------------------------------------------
class CheckpointFunction(autograd.Function):
    """The reentrant checkpoint: forward runs `run_function` under no_grad; backward reruns it
    on detached inputs with grad on and backpropagates the incoming gradients through it."""

    @staticmethod
    def forward(ctx, run_function, preserve_rng_state, *args):
        if not any(isinstance(a, Tensor) and a.requires_grad for a in args):
            warnings.warn("None of the inputs have requires_grad=True. Gradients will be None",
                          UserWarning, stacklevel=5)
        ctx.run_function = run_function
        ctx.rng = _rng_states(args) if preserve_rng_state else None
        ctx.autocast = _autocast_state()
        ctx.args = [None if isinstance(a, Tensor) else a for a in args]
        ctx.tensor_at = [isinstance(a, Tensor) for a in args]
        ctx.save_for_backward(*(a for a in args if isinstance(a, Tensor)))
        return run_function(*args)

    @staticmethod
    def backward(ctx, *grads):
        task = GradState.graph_task
        if task is not None and task.selects_inputs:
            raise RuntimeError(
                "When use_reentrant=True, ember.utils.checkpoint is incompatible with .grad() or "
                "passing an `inputs` parameter to .backward(). To resolve this error, you can "
                "either set use_reentrant=False, or call .backward() without passing the "
                "`inputs` argument.")
        saved = iter(ctx.saved_tensors)
        inputs = []
        for a, is_tensor in zip(ctx.args, ctx.tensor_at):
            if is_tensor:
                t = next(saved)
                a = t.detach().requires_grad_(t.requires_grad)
            inputs.append(a)
        with _replayed_rng(ctx.rng), _autocast_as(ctx.autocast), enable_grad():
            outputs = ctx.run_function(*inputs)
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        pairs = [(o, g) for o, g in zip(outputs, grads)
                 if isinstance(o, Tensor) and o.requires_grad and g is not None]
        if not pairs:
            raise RuntimeError("none of output has requires_grad=True, this checkpoint() is not "
                               "necessary")
        autograd.backward([o for o, _ in pairs], [g for _, g in pairs])
        return (None, None) + tuple(a.grad if isinstance(a, Tensor) else None for a in inputs)


# ---- non-reentrant ---------------------------------------------------------------------------
class _StopRecomputation(Exception):
    """Raised from the recording hook once every saved tensor is back (early stop)."""


class _Holder:
    """What the forward keeps for one saved tensor: its position in save order."""

    __slots__ = ("index", "__weakref__")

    def __init__(self, index: int):
        self.index = index


def _meta(t: Tensor) -> dict:
    return {"shape": t.shape, "dtype": t.dtype, "device": t.device}


class _Frame:
    """One non-reentrant checkpoint call: what it needs to rerun the segment, the metadata of
    each tensor the first run saved, and per backward pass the recomputed tensors."""

    def __init__(self, recompute: Callable[[], Any], determinism_check: str, debug: bool,
                 early_stop: bool):
        self.recompute = recompute
        self.check = determinism_check != "none"
        self.debug = debug
        self.early_stop = early_stop
        self.metas: list = []
        self.forward_ops: list = []
        self.recomputed: dict = {}  # graph task -> list of recomputed tensors

    def pack(self, t: Tensor) -> _Holder:
        self.metas.append(_meta(t))
        return _Holder(len(self.metas) - 1)

    def unpack(self, holder: _Holder) -> Tensor:
        task = GradState.graph_task
        values = self.recomputed.get(task)
        if values is None:
            values = self._recompute()
            self.recomputed = {task: values}  # an earlier pass's tensors are not needed again
        if holder.index >= len(values):
            raise CheckpointError(self._count_message(len(values)))
        return values[holder.index]

    def _recompute(self) -> list:
        values: list = []
        ops: list = []
        expected = len(self.metas)

        def record(t):
            if len(values) >= expected:
                raise CheckpointError("ember.utils.checkpoint: trying to save more tensors "
                                      "during recomputation than during the original forward "
                                      "pass." + self._ops_message(ops))
            values.append(t.detach())
            if self.early_stop and len(values) == expected:
                raise _StopRecomputation
            return None

        with _op_log(ops if self.debug else None), saved_tensors_hooks(record, _no_unpack):
            try:
                self.recompute()
            except _StopRecomputation:
                pass
        if self.check:
            self._check(values, ops)
        return values

    def _check(self, values: list, ops: list) -> None:
        if len(values) != len(self.metas):
            raise CheckpointError(self._count_message(len(values)) + self._ops_message(ops))
        wrong = [(i, m, _meta(v)) for i, (m, v) in enumerate(zip(self.metas, values))
                 if _meta(v) != m]
        if wrong:
            lines = "".join(f"tensor at position {i}:\nsaved metadata: {m}\nrecomputed metadata: "
                            f"{r}\n" for i, m, r in wrong)
            raise CheckpointError("ember.utils.checkpoint: Recomputed values for the following "
                                  "tensors have different metadata than during the forward "
                                  f"pass.\n{lines}" + self._ops_message(ops))

    def _count_message(self, recomputed: int) -> str:
        return ("ember.utils.checkpoint: A different number of tensors was saved during the "
                "original forward and recomputation.\nNumber of tensors saved during forward: "
                f"{len(self.metas)}\nNumber of tensors saved during recomputation: {recomputed}.")

    def _ops_message(self, recomputed_ops: list) -> str:
        if not self.debug:
            return _TIP
        return ("\n\nOperations executed during the original forward:\n  "
                + "\n  ".join(self.forward_ops)
                + "\n\nOperations executed during recomputation:\n  "
                + "\n  ".join(recomputed_ops))


def _no_unpack(_):
    raise RuntimeError("ember.utils.checkpoint: a tensor saved during recomputation was "
                       "unpacked; recomputed graphs are not backpropagated through")


@contextlib.contextmanager
def _op_log(names):
    """With a list, append the name of every op that runs inside (checkpoint debug mode)."""
    if names is None:
        yield
        return

    def observe(op, args, attrs, outputs):
        names.append(op.name)

    dispatch.observers.append(observe)
    try:
        yield
    finally:
        dispatch.observers.remove(observe)


def _kept_inputs(args) -> list:
    """The segment's arguments as kept for the recomputation: like a recorded op's saved
    inputs, tensors go through the outer saved_tensors_hooks (save_on_cpu offloads them too)
    when the call is recorded, as in torch."""
    if not (SavedHooks.stack and GradState.enabled
            and any(isinstance(a, Tensor) and a.requires_grad for a in args)):
        return list(args)
    hooks = SavedHooks.stack[-1]
    return [pack_tensor(hooks, a) if isinstance(a, Tensor) else a for a in args]


def _checkpoint_without_reentrant(function, args, kwargs, context_fn, determinism_check,
                                  debug, preserve_rng_state, early_stop):
    forward_ctx, recompute_ctx = context_fn()
    rng = _rng_states(args) if preserve_rng_state else None
    autocast = _autocast_state()
    kept = _kept_inputs(args)

    def recompute():
        inputs = [a.unpacked(None) if type(a) is PackedSaved else a for a in kept]
        with _replayed_rng(rng), _autocast_as(autocast), enable_grad(), recompute_ctx:
            function(*inputs, **kwargs)

    if _Settings.debug is not None:
        debug = _Settings.debug
    frame = _Frame(recompute, determinism_check, debug,
                   early_stop and _Settings.early_stop)
    with _op_log(frame.forward_ops if debug else None), \
            saved_tensors_hooks(frame.pack, frame.unpack), forward_ctx:
        return function(*args, **kwargs)


# ---- public entry points ---------------------------------------------------------------------
def checkpoint(function: Callable, *args, use_reentrant: bool | None = None,
               context_fn: Callable[[], Tuple[ContextManager, ContextManager]] = noop_context_fn,
               determinism_check: str = "default", debug: bool = False,
               early_stop: bool = True, preserve_rng_state: bool = True, **kwargs):
    """Run `function(*args, **kwargs)` without keeping its intermediate values for backward;
    backward recomputes them (trading compute for memory).

    Args:
        function: the segment to run.
        use_reentrant: True for the autograd.Function form, False (recommended) for the
            saved-tensor-hooks form; not passing it warns and means True.
        context_fn: returns two context managers, entered around the forward and around
            the recomputation (non-reentrant only).
        determinism_check: "default" compares shape/dtype/device of each recomputed saved
            tensor with the first run's; "none" skips that.
        debug: list the ops of both runs in a CheckpointError (non-reentrant only).
        early_stop: stop recomputing once every saved tensor is back (non-reentrant only).
        preserve_rng_state: replay the RNG state of the first run when recomputing.

    >>> import ember
    >>> from ember.utils.checkpoint import checkpoint
    >>> x = ember.tensor([1.0, 2.0], requires_grad=True)
    >>> checkpoint(lambda t: (t * t).sum(), x, use_reentrant=False).backward()
    >>> x.grad
    tensor([2., 4.])
    """
    if use_reentrant is None:
        warnings.warn("ember.utils.checkpoint: " + _EXPLICIT, UserWarning, stacklevel=2)
        use_reentrant = True
    if determinism_check not in ("default", "none"):
        raise ValueError("determinism_check should be one of ['default', 'none'], but got "
                         f"{determinism_check}")
    if not use_reentrant:
        return _checkpoint_without_reentrant(function, args, kwargs, context_fn,
                                             determinism_check, debug, preserve_rng_state,
                                             early_stop)
    if context_fn is not noop_context_fn or debug:
        raise ValueError("Passing `context_fn` or `debug` is only supported when "
                         "use_reentrant=False.")
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    return CheckpointFunction.apply(function, preserve_rng_state, *args)


def checkpoint_sequential(functions: Iterable[Callable] | Any, segments: int, input,
                          use_reentrant: bool | None = None, **kwargs):
    """Run a chain of modules or functions in `segments` pieces, each but the last one
    checkpointed (the last runs plainly: backward needs its values at once anyway).

    >>> import ember
    >>> from ember.utils.checkpoint import checkpoint_sequential
    >>> model = ember.nn.Sequential(ember.nn.Linear(2, 2), ember.nn.ReLU(), ember.nn.Linear(2, 1))
    >>> out = checkpoint_sequential(model, 2, ember.ones(1, 2), use_reentrant=False)
    >>> tuple(out.shape)
    (1, 1)
    """
    if use_reentrant is None:
        warnings.warn("ember.utils.checkpoint.checkpoint_sequential: " + _EXPLICIT,
                      UserWarning, stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    from ..nn import Sequential
    functions = list(functions.children() if isinstance(functions, Sequential) else functions)
    size = len(functions) // segments

    def run(chunk):
        def forward(x):
            for f in chunk:
                x = f(x)
            return x
        return forward

    end = 0
    for start in range(0, size * (segments - 1), size):
        end = start + size
        input = checkpoint(run(functions[start:end]), input, use_reentrant=use_reentrant,
                           preserve_rng_state=preserve)
    return run(functions[end:])(input)
