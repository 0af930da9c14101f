"""ember.autograd.profiler: the autograd profiler API (torch.autograd.profiler), `profile` and
`record_function`; ember.profiler adds schedules and activities on top."""
from __future__ import annotations

from ..profiler._events import EventList, FunctionEvent, FunctionEventAvg
from ..profiler._legacy import profile, record_function

__all__ = ["profile", "record_function", "EventList", "FunctionEvent", "FunctionEventAvg"]
