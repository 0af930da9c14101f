"""Run a function in `nprocs` processes and surface the first failure in the parent."""
from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import tempfile
import time
import traceback
import warnings

__all__ = ["ProcessContext", "ProcessException", "ProcessExitedException",
           "ProcessRaisedException", "spawn", "start_processes"]


class ProcessException(Exception):
    """A worker process failed; `error_index` is its rank and `error_pid` its process id."""

    def __init__(self, msg: str, error_index: int, error_pid: int):
        super().__init__(msg)
        self.msg = msg
        self.error_index = error_index
        self.error_pid = error_pid

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.error_pid)


class ProcessRaisedException(ProcessException):
    """A worker raised; the message carries the worker's traceback text."""

    def __init__(self, msg: str, error_index: int, error_pid: int):
        super().__init__(msg, error_index, error_pid)


class ProcessExitedException(ProcessException):
    """A worker exited with a non-zero code or was killed by a signal."""

    def __init__(self, msg: str, error_index: int, error_pid: int, exit_code: int,
                 signal_name: str | None = None):
        super().__init__(msg, error_index, error_pid)
        self.exit_code = exit_code
        self.signal_name = signal_name

    def __reduce__(self):
        return (type(self), (self.msg, self.error_index, self.error_pid, self.exit_code,
                             self.signal_name))


def _wrap(fn, i, args, error_file):
    """The child's entry point: run fn(i, *args); on an exception, leave its traceback."""
    try:
        fn(i, *args)
    except KeyboardInterrupt:
        pass
    except Exception:
        with open(error_file, "w") as f:
            f.write(traceback.format_exc())
        raise SystemExit(1) from None


class ProcessContext:
    """The processes started by `start_processes(..., join=False)`; `join()` waits on them."""

    def __init__(self, processes, error_files):
        self.error_files = error_files
        self.processes = processes
        self.sentinels = {process.sentinel: index for index, process in enumerate(processes)}

    def pids(self) -> list[int]:
        """The process ids of the workers."""
        return [int(process.pid) for process in self.processes]

    def join(self, timeout: float | None = None, grace_period: float | None = None) -> bool:
        """Wait for the workers: True once all exited cleanly, False if `timeout` passed first.

        When one fails the others are terminated (killed after `grace_period` seconds) and its
        failure is raised: ProcessRaisedException with the child's traceback, or
        ProcessExitedException with its exit code or signal.
        """
        if not self.sentinels:
            return True
        ready = multiprocessing.connection.wait(list(self.sentinels), timeout=timeout)
        failed = None
        for sentinel in ready:
            index = self.sentinels.pop(sentinel)
            process = self.processes[index]
            process.join()
            if process.exitcode != 0:
                failed = index
                break
        if failed is None:
            return not self.sentinels
        self._stop_others(grace_period)
        self.sentinels.clear()
        process = self.processes[failed]
        error_file = self.error_files[failed]
        if os.path.exists(error_file) and os.path.getsize(error_file):
            with open(error_file) as f:
                text = f.read()
            msg = f"\n\n-- Process {failed} terminated with the following error:\n{text}"
            raise ProcessRaisedException(msg, failed, process.pid)
        if process.exitcode < 0:
            name = signal.Signals(-process.exitcode).name
            raise ProcessExitedException(f"process {failed} terminated with signal {name}",
                                         failed, process.pid, process.exitcode, name)
        raise ProcessExitedException(
            f"process {failed} terminated with exit code {process.exitcode}",
            failed, process.pid, process.exitcode)

    def _stop_others(self, grace_period: float | None) -> None:
        """Terminate the workers still running; kill those that outlive the grace period."""
        alive = [p for p in self.processes if p.is_alive()]
        for process in alive:
            process.terminate()
        deadline = time.monotonic() + (grace_period or 0)
        for process in alive:
            process.join(max(0.0, deadline - time.monotonic()) if grace_period else None)
            if process.is_alive():
                process.kill()
                process.join()


def start_processes(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    """Run fn(i, *args) for i in range(nprocs), each in its own process of `start_method`.

    Returns None after joining when `join`, else the ProcessContext to join later.

    >>> import ember.multiprocessing as mp
    >>> mp.start_processes(abs, nprocs=2, start_method="fork") is None
    True
    """
    context = multiprocessing.get_context(start_method)
    error_files, processes = [], []
    for i in range(nprocs):
        fd, error_file = tempfile.mkstemp(prefix="ember_spawn_")
        os.close(fd)
        process = context.Process(target=_wrap, args=(fn, i, args, error_file), daemon=daemon)
        process.start()
        error_files.append(error_file)
        processes.append(process)
    process_context = ProcessContext(processes, error_files)
    if not join:
        return process_context
    try:
        while not process_context.join():
            pass
    finally:
        for error_file in error_files:
            os.unlink(error_file)
    return None


def spawn(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    """Start `nprocs` processes running fn(i, *args) (torch.multiprocessing.spawn); another
    start_method than 'spawn' works but warns, as torch's, to use start_processes."""
    if start_method != "spawn":
        warnings.warn(f"This method only supports start_method=spawn (got: {start_method}).\n"
                      "To use a different start_method use:\n\t\t "
                      "ember.multiprocessing.start_processes(...)", FutureWarning, stacklevel=2)
    return start_processes(fn, args, nprocs, join, daemon, start_method)
