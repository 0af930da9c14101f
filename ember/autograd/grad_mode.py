"""Grad mode: whether ops record the graph (no_grad, enable_grad, set_grad_enabled,
inference_mode)."""
from __future__ import annotations

import functools
import inspect
import threading


class _Switches(threading.local):
    """The switches `apply` reads on every op. Grad and inference mode are per thread, as in
    torch (another thread's no_grad, or a backward pass running there, leaves this thread's
    ops recording; a new thread starts with gradients on)."""

    enabled = True
    inference = False
    off_regions = 0  # grad-disabling contexts entered and not left (jit marks their ops)
    keep_graph = False  # the backward pass running here keeps saved values (retain_graph)
    graph_task = None  # the backward pass running here (engine.GraphTask), None outside one


GradState = _Switches()


class Anomaly:
    """Anomaly detection's switches: process-wide, as in torch (whichever thread sets them)."""

    enabled = False
    check_nan = True


class Profiling:
    """The profiler's switch (ember.profiler): `active` is the one test apply and the backward
    engine make; while it is set they hand their calls to `recorder` to be timed."""

    active = False
    recorder = None


def is_grad_enabled() -> bool:
    """True when ops record the autograd graph."""
    return GradState.enabled


def is_inference_mode_enabled() -> bool:
    """True inside `inference_mode()`."""
    return GradState.inference


class _GradModeContext:
    """Base of the grad-mode switches: a context manager that also decorates functions."""

    def __new__(cls, orig_func=None, *args, **kwargs):
        """Also usable as a bare decorator: `@no_grad` as well as `@no_grad()`."""
        if callable(orig_func):
            return cls()(orig_func)
        return super().__new__(cls)

    def __enter__(self):
        self._switch()
        return None

    def __exit__(self, *exc):
        self._restore()
        return False

    def _switch(self):
        self._prev = (GradState.enabled, GradState.inference, GradState.off_regions)
        self._enter_state()
        GradState.off_regions = 0 if GradState.enabled else self._prev[2] + 1

    def _restore(self):
        GradState.enabled, GradState.inference, GradState.off_regions = self._prev

    def clone(self):
        return self.__class__()

    def __call__(self, func):
        if inspect.isgeneratorfunction(func):
            @functools.wraps(func)
            def generator(*args, **kwargs):
                gen = func(*args, **kwargs)
                with self.clone():
                    value = next(gen)
                while True:
                    sent = yield value
                    with self.clone():
                        try:
                            value = gen.send(sent)
                        except StopIteration as stop:
                            return stop.value
            return generator

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.clone():
                return func(*args, **kwargs)
        return wrapper


class no_grad(_GradModeContext):
    """Context manager and decorator that stops ops from recording the graph.

    >>> import ember
    >>> x = ember.ones(2, requires_grad=True)
    >>> with ember.no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    """

    def _enter_state(self):
        GradState.enabled = False


class enable_grad(_GradModeContext):
    """Context manager and decorator that turns graph recording back on inside `no_grad`."""

    def _enter_state(self):
        GradState.enabled = True


class set_grad_enabled(_GradModeContext):
    """Turn graph recording on or off: takes effect at once; as a context manager, restores."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self._switch()

    def __enter__(self):
        # __init__ already switched the mode and kept the state to restore (a clone did not).
        if "_prev" not in self.__dict__:
            super().__enter__()
        return None

    def __call__(self, func):
        # As a decorator it must not leave the mode switched from the moment of decoration.
        self._restore()
        return super().__call__(func)

    def _enter_state(self):
        GradState.enabled = self.mode

    def clone(self):
        return set_grad_enabled.__new__(set_grad_enabled)._init_mode(self.mode)

    def _init_mode(self, mode):
        self.mode = mode
        return self


class inference_mode(_GradModeContext):
    """Like `no_grad`, and tensors made inside are marked as inference tensors.

    >>> import ember
    >>> with ember.inference_mode():
    ...     y = ember.ones(2) * 2
    >>> y.is_inference()
    True
    """

    def __init__(self, mode: bool = True):
        self.mode = bool(mode)

    def __call__(self, func=None):
        if isinstance(func, bool):
            return inference_mode(func)
        return super().__call__(func)

    def _enter_state(self):
        if self.mode:
            GradState.enabled = False
            GradState.inference = True
        else:
            GradState.inference = False

    def clone(self):
        return inference_mode(self.mode)
