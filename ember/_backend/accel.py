"""The switch for numba, ember's optional CPU accelerator: on when numba is installed, off with
EMBER_JIT_FUSER=numpy (read at each use, so a process can flip it). The jit's fused kernels,
the optimizers' one-pass update kernels and the pooling kernels all ask here."""
from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import sys

import numpy as np


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


def numba_forms(module: str, xp, size: int, minimum: int):
    """The numba kernel module `module` (imported on demand) when it applies: NumPy arrays,
    numba on, and work of at least `minimum` elements or the module loaded already; else None.
    Small work alone never pays for importing numba."""
    if xp is not np or cpu_fuser() != "numba":
        return None
    loaded = sys.modules.get(module)
    if loaded is not None or size < minimum:
        return loaded
    return importlib.import_module(module)
