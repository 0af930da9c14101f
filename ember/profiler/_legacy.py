"""The autograd profiler API (ember.autograd.profiler): `profile`, the context manager that
records every op into an EventList, and `record_function`, a named range around user code."""
from __future__ import annotations

import warnings
from contextlib import ContextDecorator

from ..autograd.grad_mode import Profiling
from ._events import EventList
from ._recorder import Recorder


class profile:
    """Record every op call and backward node while the context is open.

    Args:
        enabled: when False the context does nothing.
        use_cuda: deprecated (device time is not measured; events hold CPU time).
        record_shapes: keep each op's input shapes (``FunctionEvent.input_shapes``).
        profile_memory: count the bytes each op's outputs take.
        with_stack: keep the Python frames (outside ember) that made each op call.

    >>> import ember
    >>> x = ember.ones(2)
    >>> with ember.autograd.profiler.profile() as prof:
    ...     _ = x + 1
    >>> [e.key for e in prof.key_averages()]
    ['aten::add']
    """

    def __init__(self, enabled: bool = True, *, use_cuda: bool = False, use_device=None,
                 record_shapes: bool = False, with_flops: bool = False,
                 profile_memory: bool = False, with_stack: bool = False,
                 with_modules: bool = False, use_kineto: bool = False, use_cpu: bool = True,
                 experimental_config=None, acc_events: bool = False,
                 custom_trace_id_callback=None, post_processing_timeout_s=None,
                 activity_filters=None):
        if use_cuda:
            warnings.warn("The attribute `use_cuda` will be deprecated soon, please use "
                          "``use_device = 'cuda'`` instead.", FutureWarning, stacklevel=2)
            from .. import cuda
            if not cuda.is_available():
                warnings.warn("CUDA is not available, disabling CUDA profiling", stacklevel=2)
        self.enabled = enabled
        self.use_device = "cuda" if use_cuda else use_device
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.acc_events = acc_events
        self.entered = False
        self.function_events = None
        self._recorder = None
        self._metadata: dict = {}

    def __enter__(self):
        if not self.enabled:
            return self
        if self.entered:
            raise RuntimeError("Profiler context manager is not reentrant")
        self._start()
        return self

    def __exit__(self, *exc):
        if self.enabled:
            self._stop()
        return False

    def _start(self) -> None:
        recorder = Recorder(self.record_shapes, self.profile_memory, self.with_stack)
        recorder.start()
        self._recorder = recorder
        self.entered = True

    def _stop(self) -> None:
        recorder = self._recorder
        recorder.stop()
        self.entered = False
        kept = list(self.function_events) if self.acc_events and self.function_events else []
        meta = {"base_us": recorder.base_us, "metadata": self._metadata}
        self.function_events = EventList(kept + recorder.events, trace_meta=meta)

    def _check_finish(self) -> EventList:
        """The recorded events; none (an empty list, as torch's) for a profiler never run."""
        if self.function_events is None:
            self.function_events = EventList([])
        return self.function_events

    def key_averages(self, group_by_input_shape: bool = False, group_by_stack_n: int = 0,
                     group_by_overload_name: bool = False) -> EventList:
        """The events averaged by name (and input shapes, stack when asked)."""
        return self._check_finish().key_averages(group_by_input_shape, group_by_stack_n,
                                                 group_by_overload_name)

    def table(self, sort_by: str | None = None, row_limit: int = 100, **kwargs) -> str:
        """The recorded events as torch's text table (see EventList.table)."""
        return self._check_finish().table(sort_by=sort_by, row_limit=row_limit, **kwargs)

    def export_chrome_trace(self, path: str) -> None:
        """Write the events as Chrome trace JSON (see EventList.export_chrome_trace)."""
        self._check_finish().export_chrome_trace(path)

    def total_average(self):
        """All events folded into one average."""
        return self._check_finish().total_average()

    @property
    def self_cpu_time_total(self) -> float:
        """Total self time of all events, in microseconds."""
        return self._check_finish().self_cpu_time_total

    def __str__(self) -> str:
        return str(self._check_finish())

    __repr__ = __str__


class record_function(ContextDecorator):
    """A named range around a block (or, as a decorator, a function); the ops it runs nest
    under it in the profile. Does nothing when no profiler is recording.

    >>> import ember
    >>> x = ember.ones(2)
    >>> with ember.autograd.profiler.profile() as prof:
    ...     with ember.autograd.profiler.record_function("double"):
    ...         _ = x * 2
    >>> [e.name for e in prof.function_events]
    ['double', 'aten::mul']
    """

    def __init__(self, name: str, args: str | None = None):
        self.name = name
        self.args = args
        self._open: list = []  # (recorder, event) per entry: re-entered by recursive calls

    def __enter__(self):
        if Profiling.active:
            recorder = Profiling.recorder
            self._open.append((recorder, recorder.begin(self.name, annotation=True)))
        else:
            self._open.append(None)
        return self

    def __exit__(self, *exc):
        entry = self._open.pop() if self._open else None
        if entry is not None:
            recorder, event = entry
            recorder.end(event)
        return False
