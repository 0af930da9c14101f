"""ember.profiler.profile: the step-scheduled profiler (torch.profiler.profile), its activities
and the TensorBoard trace handler."""
from __future__ import annotations

import json
import os
import socket
import time
import warnings
from enum import Enum
from typing import Callable, Iterable

from ._legacy import profile as _autograd_profile
from ._legacy import record_function
from ._schedule import ProfilerAction, default_schedule

_A = ProfilerAction


class ProfilerActivity(Enum):
    """Where events come from: CPU (ops timed on the host) or a device."""

    CPU = 0
    XPU = 1
    MTIA = 2
    CUDA = 3
    HPU = 4
    PrivateUse1 = 5


def supported_activities() -> set:
    """The activities this build can profile: CPU, and CUDA when a GPU is usable."""
    from .. import cuda
    found = {ProfilerActivity.CPU}
    if cuda.is_available():
        found.add(ProfilerActivity.CUDA)
    return found


def tensorboard_trace_handler(dir_name: str, worker_name: str | None = None,
                              use_gzip: bool = False,
                              use_python_export: bool = False) -> Callable:
    """An on_trace_ready callback that writes each recorded cycle to `dir_name` as
    '<worker>.<ns>.pt.trace.json' (TensorBoard's profiler plugin reads these)."""
    def handler(prof) -> None:
        os.makedirs(dir_name, exist_ok=True)
        worker = worker_name or f"{socket.gethostname()}_{os.getpid()}"
        name = f"{worker}.{time.time_ns()}.pt.trace.json" + (".gz" if use_gzip else "")
        prof.export_chrome_trace(os.path.join(dir_name, name))
    return handler


# What each change of action does (torch's state machine); None is the end of profiling.
_PREPARE, _START, _STOP, _READY = "prepare", "start", "stop", "ready"
_TRANSITIONS = {
    (_A.NONE, _A.WARMUP): (_PREPARE,),
    (_A.NONE, _A.RECORD): (_PREPARE, _START),
    (_A.NONE, _A.RECORD_AND_SAVE): (_PREPARE, _START),
    (_A.WARMUP, _A.NONE): ("WARMUP followed by NONE", _START, _STOP),
    (_A.WARMUP, _A.RECORD): (_START,),
    (_A.WARMUP, _A.RECORD_AND_SAVE): (_START,),
    (_A.RECORD, _A.NONE): ("RECORD followed by NONE", _STOP),
    (_A.RECORD, _A.WARMUP): ("RECORD followed by WARMUP", _STOP),
    (_A.RECORD_AND_SAVE, _A.NONE): (_STOP, _READY),
    (_A.RECORD_AND_SAVE, _A.WARMUP): (_STOP, _READY, _PREPARE),
    (_A.RECORD_AND_SAVE, _A.RECORD): (_STOP, _READY, _PREPARE, _START),
    (_A.RECORD_AND_SAVE, _A.RECORD_AND_SAVE): (_STOP, _READY, _PREPARE, _START),
    (_A.WARMUP, None): (_START, _STOP),
    (_A.RECORD, None): (_STOP, _READY),
    (_A.RECORD_AND_SAVE, None): (_STOP, _READY),
}


class profile:
    """Profile ops (and backward nodes) over the steps a `schedule` chooses; `step()` marks
    the end of each step, and `on_trace_ready(prof)` runs after each recorded cycle.

    Args:
        activities: ProfilerActivity values to record (default: supported_activities()).
        schedule: step -> ProfilerAction (see `schedule`); without one every step is recorded
            and on_trace_ready runs when profiling stops.
        on_trace_ready: callback given this profiler at the end of each recorded cycle.
        record_shapes, profile_memory, with_stack: as ember.autograd.profiler.profile.
        acc_events: keep the events of earlier cycles in events().

    >>> import ember
    >>> from ember.profiler import profile, ProfilerActivity
    >>> x = ember.ones(2)
    >>> with profile(activities=[ProfilerActivity.CPU]) as prof:
    ...     _ = x + 1
    >>> prof.key_averages()[0].key
    'aten::add'
    """

    def __init__(self, *, activities: Iterable | None = None,
                 schedule: Callable[[int], ProfilerAction] | None = None,
                 on_trace_ready: Callable | None = None, record_shapes: bool = False,
                 profile_memory: bool = False, with_stack: bool = False,
                 with_flops: bool = False, with_modules: bool = False,
                 experimental_config=None, execution_trace_observer=None,
                 acc_events: bool = False, use_cuda: bool | None = None,
                 custom_trace_id_callback=None, post_processing_timeout_s=None):
        self.activities = set(activities) if activities else supported_activities()
        if use_cuda is not None:
            warnings.warn("`use_cuda` is deprecated, use `activities` argument instead",
                          FutureWarning, stacklevel=2)
            if use_cuda:
                self.activities.add(ProfilerActivity.CUDA)
            else:
                self.activities.discard(ProfilerActivity.CUDA)
        self.activities = {a for a in self.activities if isinstance(a, ProfilerActivity)}
        if not self.activities:
            raise AssertionError("No valid profiler activities found")
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.with_flops = with_flops
        self.with_modules = with_modules
        self.acc_events = acc_events
        self.schedule = schedule if schedule is not None else default_schedule
        self.record_steps = schedule is not None
        self.on_trace_ready = on_trace_ready
        self.step_num = 0
        self.current_action = self.schedule(self.step_num)
        self.profiler: _autograd_profile | None = None
        self.step_rec_fn: record_function | None = None
        self._metadata: dict = {}

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self) -> None:
        """Begin profiling at step `step_num`."""
        self._transit(_A.NONE, self.current_action)
        self._enter_step()

    def stop(self) -> None:
        """End profiling; a cycle being recorded is finished (and handed to on_trace_ready)."""
        self._exit_step()
        self._transit(self.current_action, None)

    def step(self) -> None:
        """Mark the end of a step: the schedule decides what the next one does."""
        self._exit_step()
        previous = self.current_action
        self.step_num += 1
        self.current_action = self.schedule(self.step_num)
        self._transit(previous, self.current_action)
        self._enter_step()

    def _enter_step(self) -> None:
        if self.record_steps:
            self.step_rec_fn = record_function("ProfilerStep*")
            self.step_rec_fn.__enter__()
            opened = self.step_rec_fn._open[-1]
            if opened is not None:  # averaged as 'ProfilerStep*', traced with its number
                opened[1].trace_name = f"ProfilerStep#{self.step_num}"

    def _exit_step(self) -> None:
        if self.step_rec_fn is not None:
            self.step_rec_fn.__exit__(None, None, None)
            self.step_rec_fn = None

    def _transit(self, previous, current) -> None:
        for action in _TRANSITIONS.get((previous, current), ()):
            if action == _PREPARE:
                if self.profiler is None or not self.acc_events:
                    events = self.profiler.function_events if self.profiler else None
                    self.profiler = _autograd_profile(
                        record_shapes=self.record_shapes, profile_memory=self.profile_memory,
                        with_stack=self.with_stack, acc_events=self.acc_events)
                    self.profiler.function_events = events if self.acc_events else None
                    self.profiler._metadata = self._metadata
            elif action == _START:
                self.profiler._start()
            elif action == _STOP:
                self.profiler._stop()
            elif action == _READY:
                if self.on_trace_ready is not None:
                    self.on_trace_ready(self)
            else:
                warnings.warn(f"Incorrect schedule: {action}", stacklevel=3)

    def _initialized(self, doing: str) -> _autograd_profile:
        """The profiler of the last cycle; torch's AssertionError for one never started."""
        assert self.profiler is not None, f"Profiler must be initialized before {doing}"
        return self.profiler

    def events(self):
        """The recorded events (FunctionEvent) of the last finished cycle."""
        return self._initialized("accessing events")._check_finish()

    def key_averages(self, group_by_input_shape: bool = False, group_by_stack_n: int = 0,
                     group_by_overload_name: bool = False):
        """The events averaged by name (see EventList.key_averages)."""
        return self._initialized("getting key averages").key_averages(
            group_by_input_shape, group_by_stack_n, group_by_overload_name)

    def export_chrome_trace(self, path: str) -> None:
        """Write the last cycle's events as Chrome trace JSON."""
        self._initialized("exporting chrome trace").export_chrome_trace(path)

    def export_stacks(self, path: str, metric: str = "self_cpu_time_total") -> None:
        """Write 'frame;frame;... value' lines (flame-graph input) of each event's stack
        (needs with_stack=True) weighted by `metric` in microseconds."""
        events = self._initialized("exporting stacks")._check_finish()
        with open(path, "w", encoding="utf-8") as f:
            for e in events:
                if e.stack:
                    f.write(";".join(reversed(e.stack)) + f" {int(getattr(e, metric))}\n")

    def add_metadata(self, key: str, value: str) -> None:
        """A string entry added to exported traces' top level."""
        self._metadata[key] = value

    def add_metadata_json(self, key: str, value: str) -> None:
        """A JSON entry (given as text) added to exported traces' top level."""
        self._metadata[key] = json.loads(value)
