"""How long ``load_mnist()`` takes: cold (parse and verify the IDX files) vs warm (decoded cache).

Usage::

    SCRATCHNN_DATA=../shared/data python benchmarks/bench_data.py [--repeat 5]

Without SCRATCHNN_DATA the files are downloaded. The benchmark uses a fresh temporary
cache, so the user's own cache is neither used nor changed. The warm load is timed both in
this process and in new Python processes (what a user sees when starting a new script).
The target for a warm load is under 0.5 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_SRC = Path(__file__).resolve().parents[1] / "src"

_CHILD = """
import time
from scratchnn.data import load_mnist
start = time.perf_counter()
load_mnist()
print(time.perf_counter() - start)
"""


def _timed_load() -> float:
    from scratchnn.data import load_mnist

    start = time.perf_counter()
    (x_train, _), _ = load_mnist()
    elapsed = time.perf_counter() - start
    assert x_train.shape == (60000, 784)
    return elapsed


def _warm_in_new_process() -> float:
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(_SRC), os.environ.get("PYTHONPATH", "")])
    )
    out = subprocess.run(
        [sys.executable, "-c", _CHILD], env=env, check=True, capture_output=True, text=True
    )
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="warm loads to time (default 5)")
    args = parser.parse_args()
    sys.path.insert(0, str(_SRC))

    print(f"data: {os.environ.get('SCRATCHNN_DATA') or '(SCRATCHNN_DATA not set: download)'}")
    with tempfile.TemporaryDirectory(prefix="scratchnn-bench-") as cache:
        os.environ["SCRATCHNN_CACHE"] = cache
        cold = _timed_load()
        warm = [_timed_load() for _ in range(args.repeat)]
        fresh = [_warm_in_new_process() for _ in range(args.repeat)]

    print(f"cold load (read, verify, decode, cache): {cold:.3f} s")
    print(
        f"warm load, same process:  median {statistics.median(warm):.3f} s, "
        f"best {min(warm):.3f} s over {len(warm)}"
    )
    print(
        f"warm load, new process:   median {statistics.median(fresh):.3f} s, "
        f"best {min(fresh):.3f} s over {len(fresh)}"
    )
    verdict = "OK" if statistics.median(fresh) < 0.5 else "SLOWER THAN TARGET"
    print(f"target: warm load under 0.5 s -> {verdict}")


if __name__ == "__main__":
    main()
