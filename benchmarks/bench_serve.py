"""The Draw view's prediction round trip: p95 of 100 requests to a real ``scratchnn serve``.

Usage::

    python -m pip install ".[web]"
    python benchmarks/bench_serve.py [--rounds 3] [--requests 100]

The server runs in its own process on a free local port, with a 784-256-10 ReLU MLP (the
size ``scratchnn train`` makes) in its runs folder. Each request is what the page sends
while a digit is drawn: the canvas as a 112x112 PNG, posted to ``/api/predict``, answered
with the probabilities, the 28x28 input and the hidden activations (one HTTP connection
kept open, as a browser does). Measured in the same run, in interleaved rounds:

- ``in process``: the same work without HTTP (preprocessing, the forward pass, the answer
  as JSON): what the server itself costs is the difference;
- ``while training``: the same requests while a playground trains in another "tab".

The target is a p95 under 50 ms for the round trip. Rounds are interleaved and their
medians reported, because the machine is shared: say how busy it was.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

_SRC = Path(__file__).resolve().parents[1] / "src"


def _drawn_three() -> bytes:
    """A 3 drawn with a thick pen on a 280x280 white pad, sent at 112x112 as the page does."""
    from PIL import Image, ImageDraw

    points = [(140 + 55 * math.cos(math.radians(a)), 85 + 45 * math.sin(math.radians(a)))
              for a in range(-150, 91, 10)]
    points += [(140 + 60 * math.cos(math.radians(a)), 185 + 50 * math.sin(math.radians(a)))
               for a in range(-90, 151, 10)]
    pad = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(pad).line(points, fill=0, width=18, joint="curve")
    out = io.BytesIO()
    pad.resize((112, 112), Image.LANCZOS).save(out, "PNG")
    return out.getvalue()


def _runs_folder(root: Path) -> None:
    from scratchnn.files.model_file import save_model
    from scratchnn.models import MLP

    (root / "mlp").mkdir()
    save_model(MLP([784, 256, 10], seed=0), root / "mlp" / "model.npz",
               {"input_shape": [784], "novelty": {"threshold": 0.0}})


def _start_server(runs: Path) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(_SRC),
                                                         os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "scratchnn", "serve", "--port", "0",
                             "--runs", str(runs)], stdout=subprocess.PIPE, text=True, env=env)
    found = re.search(r"(http://127\.0\.0\.1:\d+)/", proc.stdout.readline())
    if not found:
        proc.kill()
        raise SystemExit("the server did not start")
    return proc, found.group(1)


def _percentiles(times: list[float]) -> tuple[float, float]:
    ms = np.asarray(times) * 1000
    return float(np.median(ms)), float(np.percentile(ms, 95))


def _round_trips(client, url: str, body: bytes, n: int) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        r = client.post(url, content=body, headers={"Content-Type": "image/png"})
        r.raise_for_status()
        r.json()
        times.append(time.perf_counter() - start)
    return times


def _in_process(body: bytes, runs: Path, n: int) -> list[float]:
    from threadpoolctl import threadpool_limits

    from scratchnn.serve.catalog import Models
    from scratchnn.serve.digits import describe, read_picture

    models, times = Models(runs), []
    with threadpool_limits(limits=1, user_api="blas"):  # as the server runs
        for _ in range(n):
            start = time.perf_counter()
            with models.using("mlp") as (model, threshold):
                json.dumps(describe(model, read_picture(body), None, threshold))
            times.append(time.perf_counter() - start)
    return times


def main() -> None:
    import httpx

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    body = _drawn_three()
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp)
        _runs_folder(runs)
        proc, server = _start_server(runs)
        try:
            results = _measure(httpx, server, body, runs, args)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    load = os.getloadavg()[0]
    print(f"prediction round trip, 784-256-10 MLP, {args.requests} requests per round, "
          f"median of {args.rounds} rounds (load average {load:.1f} on {os.cpu_count()} CPUs)")
    print(f"{'':18}{'median ms':>10}{'p95 ms':>10}")
    for name, rounds in results.items():
        medians, p95s = zip(*rounds, strict=True)
        print(f"{name:18}{statistics.median(medians):10.1f}{statistics.median(p95s):10.1f}")
    p95 = statistics.median(p95 for _, p95 in results["round trip"])
    print(f"target p95 < 50 ms: {'met' if p95 < 50 else 'NOT met'} ({p95:.1f} ms)")


def _measure(httpx, server: str, body: bytes, runs: Path, args) -> dict:
    url = f"{server}/api/predict?model=mlp"
    results: dict[str, list] = {"round trip": [], "in process": [], "while training": []}
    with httpx.Client(timeout=30) as client:
        answer = client.post(url, content=body).json()
        print(f"(the drawn digit is read as {answer['label']!r})")
        _round_trips(client, url, body, 10)  # warm up
        for _ in range(args.rounds):
            results["round trip"].append(_percentiles(
                _round_trips(client, url, body, args.requests)))
            results["in process"].append(_percentiles(_in_process(body, runs,
                                                                  args.requests)))
            key = client.post(f"{server}/api/playground",
                              json={"dataset": "spirals", "units": 32}).json()["id"]
            client.post(f"{server}/api/playground/{key}/play")
            results["while training"].append(_percentiles(
                _round_trips(client, url, body, args.requests)))
            client.post(f"{server}/api/playground/{key}/pause")
    return results


if __name__ == "__main__":
    main()
