"""The switch for numba, ember's optional CPU accelerator: on when numba is installed, off with
EMBER_JIT_FUSER=numpy (read at each use, so a process can flip it). The jit's fused kernels and
the optimizers' one-pass update kernels both ask here."""
from __future__ import annotations

import functools
import importlib.util
import os


def cpu_fuser() -> str:
    """'numba' when numba is importable and not switched off, else 'numpy'."""
    choice = os.environ.get("EMBER_JIT_FUSER", "").lower()
    if choice == "numpy":
        return "numpy"
    if not _installed():
        if choice == "numba":
            raise RuntimeError("EMBER_JIT_FUSER=numba but numba is not installed: "
                               "pip install 'ember[jit]'")
        return "numpy"
    return "numba"


@functools.cache
def _installed() -> bool:
    return importlib.util.find_spec("numba") is not None
