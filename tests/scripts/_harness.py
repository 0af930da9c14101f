"""Run one program text with torch and with ember (only the import lines differ).

A program is ordinary PyTorch source. The harness gives it two names besides its imports:
``sync(module)``, which records the module's initial weights under torch and loads the same
weights into ember's module (so the two runs start from one point, although their random streams
differ), and ``out``, a dict the program fills with what the test compares.
"""
import importlib.util
import itertools
import re
import sys

import numpy as np
import torch

import ember

_MODULE_IDS = itertools.count()
_IMPORT = re.compile(r"^(\s*)(import|from) torch\b", re.MULTILINE)


def as_ember(source: str) -> str:
    """Rewrite ``import torch...``/``from torch... import`` lines to import ember instead."""
    source = re.sub(r"^(\s*)import torch$", r"\1import ember as torch", source, flags=re.MULTILINE)
    return _IMPORT.sub(r"\1\2 ember", source)


def _exec_as_module(text: str, namespace: dict, path) -> None:
    """Run ``text`` as an imported module saved at ``path``, so that inspect (and so
    torch.jit.script) finds the source of the functions and classes it defines."""
    path.write_text(text)
    name = f"_program_{next(_MODULE_IDS)}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    module.__dict__.update({k: v for k, v in namespace.items() if k != "__name__"})
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]


def run_both(source: str, tmp_path, as_module: bool = False) -> tuple[dict, dict]:
    """Exec ``source`` under torch, then under ember; returns each run's ``out`` dict.
    ``as_module`` runs each text as a module file instead (needed by torch.jit.script)."""
    weights: list[dict] = []

    def record(module):
        weights.append({k: v.detach().numpy().copy() for k, v in module.state_dict().items()})
        return module

    replay = iter(weights)

    def load(module):
        state = {k: ember.from_numpy(v.copy()) for k, v in next(replay).items()}
        module.load_state_dict(state)
        return module

    results = []
    for lib, sync, text in (("torch", record, source), ("ember", load, as_ember(source))):
        out: dict = {}
        namespace = {"sync": sync, "out": out, "TMP": str(tmp_path), "__name__": "__main__"}
        if as_module:
            _exec_as_module(text, namespace, tmp_path / f"program_{lib}.py")
        else:
            exec(compile(text, "<program>", "exec"), namespace)
        results.append(out)
    return results[0], results[1]


def close(a, b, rtol=1e-4, atol=1e-5) -> None:
    np.testing.assert_allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64),
                               rtol=rtol, atol=atol)


__all__ = ["as_ember", "run_both", "close", "torch"]
