"""Each Python code block of README.md runs on its own, in a fresh interpreter."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def _name(block: str) -> str:
    lines = [line for line in block.strip().splitlines() if line != "import numpy as np"]
    return lines[0][:50]


@pytest.mark.parametrize("block", BLOCKS, ids=[_name(b) for b in BLOCKS])
def test_readme_python_block_runs_on_its_own(block, shared_data, tmp_path):
    if "onnx" in block:  # the onnx extra: installed and run by .ci/steps/10-onnx.sh
        pytest.importorskip("onnx")
        pytest.importorskip("onnxruntime")
    # the README's own setting for local data; 2,500 course iterations take a while
    env = {**os.environ, "SCRATCHNN_DATA": str(shared_data),
           "PYTHONPATH": str(ROOT / "src"), "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
