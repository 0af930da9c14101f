"""ember.utils.benchmark: time statements and compare the results (torch.utils.benchmark).

>>> from ember.utils.benchmark import Timer
>>> m = Timer("sum(range(10))").blocked_autorange(min_run_time=0.01)
>>> m.median > 0
True
"""
from .common import Measurement, TaskSpec, select_unit, trim_sigfig, unit_to_english
from .compare import Compare
from .timer import Language, Timer, timer

__all__ = ["Compare", "Language", "Measurement", "TaskSpec", "Timer", "select_unit", "timer",
           "trim_sigfig", "unit_to_english"]
