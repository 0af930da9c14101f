"""The registry report, and the breadth of torch's API that ember covers."""
import subprocess
import sys

import torch

import ember
from ember.testing import coverage


def test_coverage_command_prints_every_op():
    out = subprocess.run([sys.executable, "-m", "ember.testing.coverage"], check=True,
                         capture_output=True, text=True).stdout
    for row in coverage.rows():
        assert row["name"] in out
    assert "primitives" in out and "public ember.* names" in out


def test_every_row_is_tested():
    for row in coverage.rows():
        assert row["forward"], f"{row['name']} has no forward sample"


def test_at_least_200_torch_names_each():
    funcs, methods = coverage.public_names()
    shared_funcs = [n for n in funcs if hasattr(torch, n)]
    shared_methods = [n for n in methods if hasattr(torch.Tensor, n)]
    assert len(shared_funcs) >= 200, len(shared_funcs)
    assert len(shared_methods) >= 200, len(shared_methods)
    assert all(callable(getattr(ember, n)) or not callable(getattr(torch, n))
               for n in shared_funcs if not isinstance(getattr(torch, n), type(torch)))
