"""retain_freed_memory: glibc keeps freed blocks for reuse once a backward pass runs or
ember.compile builds a graph; EMBER_RETAIN_MEMORY=0 leaves the allocator alone."""
import os
import subprocess
import sys

import pytest

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_PROBE = """
import ember
from ember._backend import host_memory
assert host_memory._done == []
ember.ones(3) * 2
assert host_memory._done == []  # plain eager ops leave the allocator alone
{trigger}
print(host_memory._done)
"""
_COMPILE = "ember.compile(lambda x: x * 2)(ember.ones(3))"
_BACKWARD = "(ember.ones(3, requires_grad=True) * 2).sum().backward()"


def _probe(trigger=_COMPILE, **env) -> str:
    run = subprocess.run([sys.executable, "-c", _PROBE.format(trigger=trigger)],
                         capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": _ROOT, **env}, timeout=120)
    assert run.returncode == 0, run.stderr
    return run.stdout.strip()


def _glibc() -> bool:
    try:
        return sys.platform.startswith("linux") and \
            (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (ValueError, OSError):
        return False


@pytest.mark.skipif(not _glibc(), reason="mallopt is glibc's")
@pytest.mark.parametrize("trigger", [_COMPILE, _BACKWARD], ids=["compile", "backward"])
def test_training_keeps_freed_memory_on_glibc(trigger):
    assert _probe(trigger) == "[True]"


def test_environment_variable_turns_it_off():
    assert _probe(EMBER_RETAIN_MEMORY="0") == "[False]"
