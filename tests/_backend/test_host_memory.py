"""retain_freed_memory: glibc keeps freed blocks for reuse once ember.compile builds a graph;
EMBER_RETAIN_MEMORY=0 leaves the allocator alone."""
import os
import subprocess
import sys

import pytest

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_PROBE = """
import ember
from ember._backend import host_memory
assert host_memory._done == []
ember.compile(lambda x: x * 2)(ember.ones(3))
print(host_memory._done)
"""


def _probe(**env) -> str:
    run = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
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
def test_compile_keeps_freed_memory_on_glibc():
    assert _probe() == "[True]"


def test_environment_variable_turns_it_off():
    assert _probe(EMBER_RETAIN_MEMORY="0") == "[False]"
