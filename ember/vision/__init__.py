"""ember.vision: datasets that ship with ember (and, later, transforms and models)."""
from __future__ import annotations

import importlib


def __getattr__(name):
    if name in ("datasets", "transforms", "models"):
        return importlib.import_module("." + name, __name__)
    raise AttributeError(f"module 'ember.vision' has no attribute {name!r}")
