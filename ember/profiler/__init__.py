"""ember.profiler: time op calls, backward nodes and named ranges (torch.profiler's API).

>>> import ember
>>> x = ember.ones(2)
>>> with ember.profiler.profile() as prof:
...     with ember.profiler.record_function("step"):
...         _ = x + 1
>>> [e.key for e in prof.key_averages()]
['step', 'aten::add']
"""
from __future__ import annotations

from ._events import EventList, FunctionEvent, FunctionEventAvg
from ._legacy import record_function
from ._schedule import ProfilerAction, schedule
from .profiler import profile, ProfilerActivity, supported_activities, tensorboard_trace_handler

__all__ = ["profile", "record_function", "schedule", "ProfilerAction", "ProfilerActivity",
           "supported_activities", "tensorboard_trace_handler", "EventList", "FunctionEvent",
           "FunctionEventAvg"]
