"""A sweep on a Dask LocalCluster against the same trials in a plain loop, side by side.

Usage::

    python benchmarks/bench_sweep.py --data-dir ../shared/data      # the book's search
    python benchmarks/bench_sweep.py --quick                         # 8 spirals trials

The default is the book's random search of chapter 6.5 (100 trials of lr x weight decay,
a 784-100x6-10 ReLU network with SGD, 5 epochs on the first 12,000 MNIST training images of
which 20% are held out for validation). The trials are split into ``--rounds`` parts; in
each round the plain loop (``sweep(serial=True)``, one process) and the LocalCluster of
``--workers`` processes run the next part, one after the other, each continuing its own
sweep folder, so that both see the same load on a shared machine. Each round's time is
wall time, the cluster's including its start. Both must give the same scores, trial by
trial. Requires the sweep extra (``pip install '.[sweep]'``).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from scratchnn.sweeps import BOOK_SPACE, sweep


def _load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def _timed(**kwargs) -> tuple[float, dict]:
    start = time.perf_counter()
    result = sweep(**kwargs)
    return time.perf_counter() - start, {r["trial"]: r["val_acc"] for r in result.trials}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 trials on spirals")
    parser.add_argument("--data-dir", help="folder holding mnist/")
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", help="folder for the two sweeps (default: a temporary one)")
    args = parser.parse_args()
    if args.quick:
        setup = {"dataset": "spirals", "space": {**BOOK_SPACE, "hidden": [32, 32],
                                                 "epochs": 20}}
        args.trials, args.rounds = 8, 1
    else:
        setup = {"dataset": "mnist", "data_dir": args.data_dir, "limit": 12_000,
                 "space": {**BOOK_SPACE, "epochs": args.epochs}}
    out = Path(args.out or tempfile.mkdtemp(prefix="bench-sweep-"))
    print(f"load average before: {_load()} (1, 5, 15 min)")
    times = {"plain loop": 0.0, f"LocalCluster, {args.workers} workers": 0.0}
    scores: dict[str, dict] = {}
    for r in range(1, args.rounds + 1):
        trials = round(args.trials * r / args.rounds)
        for name, where in zip(times, ({"serial": True}, {"workers": args.workers}),
                               strict=True):
            seconds, scores[name] = _timed(**setup, **where, trials=trials,
                                           out=out / name.split(",")[0].replace(" ", "-"))
            times[name] += seconds
            print(f"round {r}: {name}: trials up to {trials} in {seconds:.1f} s")
    same = len(set(map(lambda s: tuple(sorted(s.items())), scores.values()))) == 1
    loop, cluster = times.values()
    print(f"\nload average after: {_load()}; results in {out}")
    print(f"| trials | plain loop (s) | LocalCluster, {args.workers} workers (s) | speed-up |")
    print("|---:|---:|---:|---:|")
    print(f"| {args.trials} | {loop:.1f} | {cluster:.1f} | {loop / cluster:.2f}x |")
    print(f"same scores trial by trial: {same}")


if __name__ == "__main__":
    main()
