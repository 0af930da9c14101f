"""ember.utils: helpers around the core (data loading, ...); each submodule imports lazily."""
from __future__ import annotations

import importlib

_LAZY_SUBMODULES = ("benchmark", "checkpoint", "data", "dlpack", "hooks", "model_zoo",
                    "safetensors")


def __getattr__(name):
    if name in _LAZY_SUBMODULES:
        return importlib.import_module("." + name, __name__)
    raise AttributeError(f"module 'ember.utils' has no attribute {name!r}")
