"""The package as a whole: its public names, and what importing it does (and does not do)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import scratchnn

SRC = Path(__file__).resolve().parents[1] / "src"


def test_every_public_name_is_importable_and_listed_once():
    assert len(scratchnn.__all__) == len(set(scratchnn.__all__))
    for name in scratchnn.__all__:
        assert getattr(scratchnn, name) is not None, name


def test_import_draws_nothing_writes_nothing_and_leaves_matplotlib_for_later(tmp_path):
    code = ("import sys, scratchnn; "
            "print('matplotlib' in sys.modules, 'h5py' in sys.modules, 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, env={"PYTHONPATH": str(SRC), "HOME": str(tmp_path)},
                          check=True)
    assert done.stdout.split() == ["False", "False", "False"]
    assert done.stderr == ""
    assert list(tmp_path.iterdir()) == []  # no cache folder made, no file written
