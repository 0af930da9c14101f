"""What a profiling run leaves: FunctionEvent (one timed range), FunctionEventAvg (events
averaged by key) and EventList, with torch's table and Chrome trace export."""
from __future__ import annotations

import gzip
import json
import os


class Interval:
    """A time range in microseconds from the start of profiling."""

    __slots__ = ("start", "end")

    def __init__(self, start: float, end: float):
        self.start = start
        self.end = end

    def elapsed_us(self) -> float:
        """Length of the range in microseconds."""
        return self.end - self.start


class _HostOnly:
    """The fields torch's events have for device work and remote calls: empty here, as ember
    times ops on the host."""

    __slots__ = ()
    device_time_total = self_device_time_total = 0
    self_device_memory_usage = device_memory_usage = 0
    is_async = is_remote = is_legacy = False
    node_id = -1
    overload_name = ""
    flops = 0


class FunctionEvent(_HostOnly):
    """One op call, backward node or record_function range, with its nested children.

    `cpu_time_total` includes the children's time; `self_cpu_time_total` excludes it.
    """

    __slots__ = ("id", "name", "thread", "time_range", "input_shapes", "input_dtypes",
                 "cpu_parent", "cpu_children", "stack", "cpu_memory_usage",
                 "is_user_annotation", "trace_name")

    count = 1

    def __init__(self, id: int, name: str, thread: int, start: float, input_shapes=(),
                 input_dtypes=(), is_user_annotation: bool = False, stack=()):
        self.id = id
        self.name = name
        self.trace_name = name
        self.thread = thread
        self.time_range = Interval(start, start)
        self.input_shapes = list(input_shapes)
        self.input_dtypes = list(input_dtypes)
        self.cpu_parent = None
        self.cpu_children = []
        self.stack = list(stack)
        self.cpu_memory_usage = 0
        self.is_user_annotation = is_user_annotation

    @property
    def key(self) -> str:
        return self.name

    @property
    def cpu_time_total(self) -> float:
        """Wall time of the range in microseconds, children included."""
        return self.time_range.elapsed_us()

    @property
    def cpu_time(self) -> float:
        return self.cpu_time_total

    @property
    def self_cpu_time_total(self) -> float:
        """Time spent in the range itself, its children's time excluded."""
        return self.cpu_time_total - sum(c.cpu_time_total for c in self.cpu_children)

    @property
    def self_cpu_memory_usage(self) -> int:
        return self.cpu_memory_usage - sum(c.cpu_memory_usage for c in self.cpu_children)

    def __repr__(self) -> str:
        return (f"<FunctionEvent id={self.id} name={self.name} "
                f"cpu_time={_format_time(self.cpu_time_total)} "
                f"start_us={self.time_range.start:.3f} "
                f"end_us={self.time_range.end:.3f} thread={self.thread} "
                f"input_shapes={self.input_shapes} cpu_memory_usage={self.cpu_memory_usage}>")


class FunctionEventAvg(_HostOnly):
    """The events of one key (name, and input shapes or stack when grouped by them) summed."""

    def __init__(self):
        self.key = None
        self.count = 0
        self.cpu_time_total = 0.0
        self.self_cpu_time_total = 0.0
        self.cpu_memory_usage = 0
        self.self_cpu_memory_usage = 0
        self.input_shapes = None
        self.stack = None
        self.cpu_parent = None
        self.cpu_children = None
        self.is_user_annotation = False

    @property
    def cpu_time(self) -> float:
        """Average time per call in microseconds."""
        return self.cpu_time_total / self.count if self.count else 0.0

    def add(self, other) -> FunctionEventAvg:
        """Fold an event (or another average) into this one."""
        if self.count == 0:
            self.key = other.key
            self.cpu_parent = other.cpu_parent
            self.is_user_annotation = other.is_user_annotation
            self.stack = other.stack
        self.count += other.count
        self.cpu_time_total += other.cpu_time_total
        self.self_cpu_time_total += other.self_cpu_time_total
        self.cpu_memory_usage += other.cpu_memory_usage
        self.self_cpu_memory_usage += other.self_cpu_memory_usage
        return self

    def __iadd__(self, other):
        return self.add(other)

    def __repr__(self) -> str:
        return (f"<FunctionEventAvg key={self.key} "
                f"self_cpu_time={_format_time(self.self_cpu_time_total)} "
                f"cpu_time={_format_time(self.cpu_time)} input_shapes={self.input_shapes or ''} "
                f"cpu_memory_usage={self.cpu_memory_usage}>")


class EventList(list):
    """A list of events (or averages) with torch's summaries: key_averages, table, Chrome
    trace export."""

    def __init__(self, *args, trace_meta=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._trace_meta = trace_meta or {}

    @property
    def self_cpu_time_total(self) -> float:
        """Sum of the self times of all events, in microseconds."""
        return sum(e.self_cpu_time_total for e in self)

    def key_averages(self, group_by_input_shapes: bool = False, group_by_stack_n: int = 0,
                     group_by_overload_name: bool = False) -> EventList:
        """Average the events by name (and input shapes / the top `group_by_stack_n` stack
        frames when asked), in order of first appearance."""
        stats: dict = {}
        for e in self:
            key = (e.key,)
            if group_by_input_shapes:
                key += (str(e.input_shapes),)
            if group_by_stack_n:
                key += tuple(e.stack[:group_by_stack_n])
            avg = stats.get(key)
            if avg is None:
                avg = stats[key] = FunctionEventAvg()
                if group_by_input_shapes:
                    avg.input_shapes = e.input_shapes
            avg.add(e)
        return EventList(stats.values(), trace_meta=self._trace_meta)

    def total_average(self) -> FunctionEventAvg:
        """All events folded into one average, keyed 'Total'."""
        total = FunctionEventAvg()
        for e in self:
            total.add(e)
        total.key = "Total"
        return total

    def table(self, sort_by: str | None = None, row_limit: int = 100,
              max_src_column_width: int = 75, max_name_column_width: int = 55,
              max_shapes_column_width: int = 80, header: str | None = None,
              top_level_events_only: bool = False, time_unit: str | None = None) -> str:
        """The events as torch's text table, sorted descending by the attribute `sort_by`
        (e.g. 'cpu_time_total', 'self_cpu_time_total', 'count')."""
        return build_table(self, sort_by, row_limit, max_src_column_width,
                           max_name_column_width, max_shapes_column_width, header,
                           top_level_events_only, time_unit)

    def export_chrome_trace(self, path: str) -> None:
        """Write the events as Chrome trace JSON (chrome://tracing, Perfetto): complete 'X'
        events with ts/dur in microseconds; gzip-compressed when `path` ends in '.gz'."""
        trace = chrome_trace(self, path, self._trace_meta)
        text = json.dumps(trace)
        if path.endswith(".gz"):
            with gzip.open(path, "wt", encoding="utf-8") as f:
                f.write(text)
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)

    def __str__(self) -> str:
        return self.table()


def _format_time(us: float, unit: str | None = None) -> str:
    """torch's time format: seconds, milliseconds or microseconds with three decimals."""
    if unit == "s" or unit is None and us >= 1e6:
        return f"{us / 1e6:.3f}s"
    if unit == "ms" or unit is None and us >= 1e3:
        return f"{us / 1e3:.3f}ms"
    return f"{us:.3f}us"


def _format_memory(nbytes: int) -> str:
    for unit, size in (("Gb", 1024 ** 3), ("Mb", 1024 ** 2), ("Kb", 1024)):
        if abs(nbytes) >= size:
            return f"{nbytes / size:.2f} {unit}"
    return f"{nbytes} b"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."


def build_table(events, sort_by, row_limit, max_src_column_width, max_name_column_width,
                max_shapes_column_width, header, top_level_events_only, time_unit) -> str:
    """Lay out `events` (events or averages) in torch's columns; no events give '' (torch's)."""
    if not events:
        return ""
    rows = list(events)
    if sort_by is not None:
        rows.sort(key=lambda e: getattr(e, sort_by), reverse=True)
    if top_level_events_only:
        rows = [e for e in rows if e.cpu_parent is None]
    if row_limit is not None and row_limit > 0:
        rows = rows[:row_limit]
    self_total = sum(e.self_cpu_time_total for e in events)
    has_shapes = any(e.input_shapes for e in events)
    has_memory = any(e.cpu_memory_usage for e in events)
    has_stack = any(e.stack for e in events)
    name_width = min(max([len(str(e.key)) for e in rows] + [4]) + 4, max_name_column_width)
    shapes_width = min(max([len(str(e.input_shapes)) for e in rows if e.input_shapes] + [12]) + 4,
                       max_shapes_column_width)

    def percent(us):
        return f"{100 * us / self_total:.2f}%" if self_total else "0.00%"

    columns = [("Name", name_width), ("Self CPU %", 12), ("Self CPU", 12), ("CPU total %", 12),
               ("CPU total", 12), ("CPU time avg", 12)]
    if has_memory:
        columns += [("CPU Mem", 12), ("Self CPU Mem", 12)]
    columns.append(("# of Calls", 12))
    if has_shapes:
        columns.append(("Input Shapes", shapes_width))
    if has_stack:
        columns.append(("Source Location", max_src_column_width))
    line = "  ".join("-" * w for _, w in columns) + "  "
    out = []
    if header is not None:
        out += ["=" * len(line), header]
    out += [line, "  ".join(title.rjust(w) for title, w in columns) + "  ", line]
    for e in rows:
        cells = [_clip(str(e.key), name_width), percent(e.self_cpu_time_total),
                 _format_time(e.self_cpu_time_total, time_unit), percent(e.cpu_time_total),
                 _format_time(e.cpu_time_total, time_unit), _format_time(e.cpu_time, time_unit)]
        if has_memory:
            cells += [_format_memory(e.cpu_memory_usage), _format_memory(e.self_cpu_memory_usage)]
        cells.append(str(e.count))
        if has_shapes:
            cells.append(_clip(str(e.input_shapes if e.input_shapes is not None else ""),
                               shapes_width))
        if has_stack:
            cells.append(_clip(e.stack[0] if e.stack else "", max_src_column_width))
        out.append("  ".join(c.rjust(w) for c, (_, w) in zip(cells, columns)) + "  ")
    out += [line, f"Self CPU time total: {_format_time(self_total, time_unit)}", ""]
    return "\n".join(out)


def chrome_trace(events, path: str, meta: dict) -> dict:
    """The Chrome trace JSON object for `events` (FunctionEvents). As torch's, timestamps are
    microseconds after `baseTimeNanoseconds` (an epoch time in whole seconds)."""
    pid = os.getpid()
    first = min((e.time_range.start for e in events), default=0.0)
    base_s = int((meta.get("base_us", 0.0) + first) // 1e6)
    offset = meta.get("base_us", 0.0) - base_s * 1e6
    trace = [{"ph": "M", "name": "process_name", "ts": offset + first, "pid": pid, "tid": 0,
              "args": {"name": "python"}}]
    for tid in sorted({e.thread for e in events}):
        trace.append({"ph": "M", "name": "thread_name", "ts": offset + first, "pid": pid,
                      "tid": tid, "args": {"name": f"thread {tid} (python)"}})
    for e in sorted(events, key=lambda e: e.time_range.start):
        args = {"External id": e.id}
        if e.input_shapes:
            args["Input Dims"] = e.input_shapes
            args["Input type"] = e.input_dtypes
        if e.stack:
            args["Call stack"] = ";".join(e.stack)
        trace.append({"ph": "X", "cat": "user_annotation" if e.is_user_annotation else "cpu_op",
                      "name": e.trace_name, "pid": pid, "tid": e.thread,
                      "ts": offset + e.time_range.start, "dur": e.cpu_time_total, "args": args})
    result = {"schemaVersion": 1, "deviceProperties": [], "displayTimeUnit": "ms",
              "baseTimeNanoseconds": base_s * 10 ** 9, "traceEvents": trace, "traceName": path}
    result.update(meta.get("metadata", {}))
    return result
