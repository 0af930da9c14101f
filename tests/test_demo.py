"""The README's main job runs end to end (a short run: two epochs)."""
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_tour_runs(tmp_path):
    command = [sys.executable, "-m", "ember.demo", "--epochs", "2", "--checkpoint",
               str(tmp_path / "m.pt"), "--min-accuracy", "0.9"]
    out = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "reloaded model's accuracy" in out.stdout, out.stdout + out.stderr
    assert (tmp_path / "m.pt").exists()
    assert "ember.compile ran the training steps" in out.stdout
    assert "359/359 predictions agree" in out.stdout, out.stdout
