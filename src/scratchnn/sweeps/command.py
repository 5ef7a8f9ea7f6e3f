"""``scratchnn sweep``: the command line of :func:`scratchnn.sweeps.sweep`.

    scratchnn sweep                          # the book's search: 100 trials of lr x weight decay
    scratchnn sweep 'lr=loguniform(1e-4, 1e-1)' 'hidden=choice([50], [100, 100])' \\
        optimizer=adam epochs=10 --dataset spirals --trials 30
    scratchnn sweep --scheduler tcp://HOST:8786 ...   # on a running Dask cluster

A setting is written as in Python, ``NAME=VALUE`` or ``NAME=RANGE(...)``; a bare word is a
name (``optimizer=choice(sgd, adam)``).
"""

from __future__ import annotations

import argparse
import ast

from .._args import fraction, positive_float, positive_int, seed
from ..data.registry import DATASETS
from .engine import BOOK_SPACE, sweep
from .space import Range, check_space, choice, integer, loguniform, uniform

__all__ = ["add_arguments", "parse_setting", "run"]

_RANGES = {"loguniform": loguniform, "uniform": uniform, "integer": integer, "choice": choice}


def _literal(node: ast.expr):
    """A Python literal, or a bare word as text."""
    if isinstance(node, ast.Name):
        return node.id
    return ast.literal_eval(node)


def parse_setting(text: str) -> tuple[str, object]:
    """``"lr=loguniform(1e-6, 1e-2)"`` -> ("lr", loguniform(1e-6, 1e-2)); ``"epochs=5"``
    -> ("epochs", 5). The name and the value are checked (:func:`check_space`)."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name or not value.strip():
        raise ValueError(f"expected NAME=VALUE or NAME=RANGE(...), got {text!r}")
    try:
        node = ast.parse(value.strip(), mode="eval").body
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in _RANGES and not node.keywords):
            parsed = _RANGES[node.func.id](*(_literal(a) for a in node.args))
        else:
            parsed = _literal(node)
    except (SyntaxError, ValueError, TypeError) as err:
        if isinstance(err, SyntaxError) or "malformed" in str(err):
            raise ValueError(f"{text!r}: the value must be a number, a word, a list or one "
                             f"of {', '.join(_RANGES)}(...)") from None
        raise ValueError(f"{text!r}: {err}") from None
    return name, check_space({name: parsed})[name]


def _setting(text: str) -> tuple[str, object]:
    try:
        return parse_setting(text)
    except (TypeError, ValueError) as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``scratchnn sweep``."""
    parser.epilog = (
        "settings: lr, weight_decay, momentum (numbers: loguniform(a, b), uniform(a, b)), "
        "batch_size, epochs (integer(a, b)), hidden ([100, 100]), activation, init, "
        "optimizer, model (choice(...)). Left out, a setting is the book's (chapter 6.5): "
        "six hidden layers of 100, relu, sgd, lr=0.01, batch_size=100, epochs=5. With no settings: "
        "the book's search, 'lr=loguniform(1e-6, 1e-2)' 'weight_decay=loguniform(1e-8, "
        "1e-4)', on --limit 12000 for the book's fifth of MNIST. Run the same command with "
        "the same --out to continue a stopped sweep (its failed trials run again).")
    parser.add_argument("settings", nargs="*", type=_setting, metavar="NAME=VALUE",
                        help="a searched range or a fixed value, e.g. 'lr=loguniform(1e-6, "
                             "1e-2)', 'hidden=choice([50], [100, 100])', epochs=10")
    search = parser.add_mutually_exclusive_group()
    search.add_argument("--trials", type=positive_int, metavar="N",
                        help="random search: N trials (default 100)")
    search.add_argument("--grid", type=positive_int, metavar="N",
                        help="grid search: N values of each range, every option of a choice")
    parser.add_argument("--seed", type=seed, default=0, help="seed of the random search and "
                        "of each trial's weights and batches (default 0)")
    parser.add_argument("--dataset", choices=DATASETS, default="mnist",
                        help="data set (default mnist)")
    parser.add_argument("--data-dir", metavar="DIR", help="folder holding the data sets")
    parser.add_argument("--limit", type=positive_int, metavar="N",
                        help="train on the first N training samples (default: all)")
    parser.add_argument("--val-split", type=fraction, default=0.2, metavar="F",
                        help="fraction held out for validation, the score (default 0.2)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="a running Dask scheduler, e.g. tcp://HOST:8786 (default: a "
                            "LocalCluster on this machine)")
    where.add_argument("--workers", type=positive_int, metavar="N",
                       help="worker processes of the LocalCluster (default: one per core)")
    where.add_argument("--serial", action="store_true",
                       help="run the trials one after another in this process, without Dask")
    parser.add_argument("--timeout", type=positive_float, default=10.0, metavar="S",
                        help="seconds to wait for the scheduler and a worker (default 10)")
    parser.add_argument("--out", metavar="DIR",
                        help="folder of the results (default runs/sweep-DATASET-TIME); the "
                             "same folder continues a stopped sweep")
    parser.add_argument("--best", type=positive_int, default=20, metavar="N",
                        help="trials shown in the curves figure (default 20)")


def run(args: argparse.Namespace) -> int:
    """Run the sweep that ``args`` describe; print the best trials. Returns 0."""
    space = dict(args.settings) if args.settings else {}
    if not any(isinstance(v, Range) for v in space.values()):
        space = {**BOOK_SPACE, **space}
    result = sweep(space, dataset=args.dataset, trials=args.trials, grid=args.grid,
                   seed=args.seed, data_dir=args.data_dir, limit=args.limit,
                   val_split=args.val_split, out=args.out, address=args.scheduler,
                   workers=args.workers, serial=args.serial, best=args.best,
                   connect_timeout=args.timeout)
    searched = [name for name, value in space.items() if isinstance(value, Range)]
    for row in result.trials[:5]:
        shown = ", ".join(f"{name} {row['settings'][name]:.3g}"
                          if isinstance(row["settings"][name], float)
                          else f"{name} {row['settings'][name]}" for name in searched)
        score = f"{row['val_acc']:.4f}" if row["status"] == "ok" else row["status"]
        print(f"best {row['rank']} (val acc {score}) | {shown}")
    print(f"results in {result.out}")
    return 0
