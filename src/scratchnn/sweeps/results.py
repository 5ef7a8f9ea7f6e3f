"""A sweep's results: its table (CSV and JSON), its trials' run folders and its figures.

The sweep folder holds ``results.json`` (what the sweep is, and one record per finished
trial), ``results.csv`` (the same table, best first), ``trials/NNNN/`` (each trial's run
folder: ``model.npz``, ``history.json``, ``history.csv``) and two figures: the book's grid
of the best runs' validation curves and the score against each searched number. The
tables are rewritten atomically as each trial arrives: a sweep stopped at any moment
leaves every finished trial on disk, and :func:`finished_trials` reads them back.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..figures.plots import new_figure, save_figure
from ..files.atomic import atomic_write
from ..files.model_file import write_archive
from ..files.runs import HISTORY_FILE, MODEL_FILE
from ..training.callbacks import History
from .space import Range

__all__ = ["CURVES_FIGURE", "RESULTS_CSV", "RESULTS_JSON", "SCATTER_FIGURE", "SweepMismatch",
           "finished_trials", "plot_best_curves", "plot_scores", "ranked", "trial_folder",
           "write_tables", "write_trial"]

RESULTS_JSON = "results.json"
RESULTS_CSV = "results.csv"
CURVES_FIGURE = "best_curves.png"
SCATTER_FIGURE = "score_vs_settings.png"
_COLUMNS = ("rank", "trial", "status", "val_acc", "val_loss", "train_acc",
            "epochs_trained", "seconds")


class SweepMismatch(ValueError):
    """The folder holds the results of a different sweep."""


def trial_folder(out: Path, trial: int) -> Path:
    """The run folder of trial number ``trial``."""
    return out / "trials" / f"{trial:04d}"


def write_trial(out: Path, record: dict) -> dict:
    """Write the trial's run folder (model and history, what it has of them); returns the
    record as the table keeps it: no arrays, and the validation and training accuracy of
    each epoch as ``curves``."""
    record = dict(record)
    history, model = record.pop("history", None), record.pop("model", None)
    folder = trial_folder(out, record["trial"])
    record["curves"] = {"val_acc": [], "train_acc": []}
    if history is not None:
        history = History.from_dict(history)
        history.save_json(folder / HISTORY_FILE)
        history.save_csv(folder / "history.csv")
        record["curves"] = {key: [None if math.isnan(v) else float(v)
                                  for v in history.column(key)]
                            for key in record["curves"]}
    if model is not None:
        write_archive(folder / MODEL_FILE, *model)
    return record


def ranked(records: Mapping[int, dict]) -> list[dict]:
    """The records, best validation accuracy first; then the diverged trials, then the
    failed ones."""
    order = {"ok": 0, "diverged": 1, "failed": 2}

    def key(r):
        return (order[r["status"]], -(r["val_acc"] or 0.0), r["trial"])
    return [{"rank": i + 1, **r} for i, r in enumerate(sorted(records.values(), key=key))]


def write_tables(out: Path, sweep: dict, records: Mapping[int, dict]) -> None:
    """results.json (``sweep``, and the records ranked) and results.csv, atomically."""
    rows = ranked(records)
    with atomic_write(out / RESULTS_JSON, "w") as f:
        json.dump({"sweep": sweep, "trials": rows}, f, indent=1)
    names = list(dict.fromkeys(name for r in rows for name in r["settings"]))
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow([*_COLUMNS, *names, "worker", "error"])
    for r in rows:
        settings = [_cell(r["settings"].get(name)) for name in names]
        writer.writerow([_cell(r.get(c)) for c in _COLUMNS] + settings
                        + [r.get("worker"), r.get("error") or ""])
    with atomic_write(out / RESULTS_CSV, "w") as f:
        f.write(text.getvalue())


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ",".join(map(str, value))
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def finished_trials(out: Path, sweep: dict) -> dict[int, dict]:
    """The records in ``out``'s results.json, by trial number ({} when there is none).

    The folder must hold the same ``sweep`` (the number of random trials may differ: the
    first trials are the same whatever their number).
    """
    path = out / RESULTS_JSON
    if not path.is_file():
        return {}
    try:
        with open(path) as f:
            data = json.load(f)
        earlier, rows = data["sweep"], data["trials"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise SweepMismatch(f"{path}: not a sweep's results ({type(err).__name__}: {err}); "
                            "give another folder") from err
    differ = sorted(k for k in set(sweep) | set(earlier)
                    if k != "trials" and sweep.get(k) != earlier.get(k))
    if differ:
        shown = "; ".join(f"{k} {earlier.get(k)!r} there, {sweep.get(k)!r} here"
                          for k in differ)
        raise SweepMismatch(f"{out} holds another sweep ({shown}): give another folder, or "
                            "the same settings to continue it")
    return {r["trial"]: {k: v for k, v in r.items() if k != "rank"} for r in rows}


# --- figures -----------------------------------------------------------------------------


def _title(rank: int, record: dict, searched: list[str]) -> str:
    parts = [f"{name}={_short(record['settings'][name])}" for name in searched]
    return f"#{rank} val {record['val_acc']:.3f}\n" + " ".join(parts)


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.2g}"
    return _cell(value)


def plot_best_curves(rows: list[dict], searched: list[str], best: int = 20,
                     path: str | os.PathLike | None = None):
    """The book's figure (chapter 6.5): the best ``best`` trials' validation accuracy
    (solid) and training accuracy (dashed) per epoch, one panel each, titled by the
    searched settings."""
    from matplotlib.ticker import MaxNLocator

    rows = [r for r in rows if r["status"] == "ok"][:best]
    if not rows:
        raise ValueError("no trial finished: there are no curves to draw")
    cols = min(5, len(rows))
    lines = -(-len(rows) // cols)
    fig = new_figure(figsize=(3.2 * cols, 2.6 * lines), layout="constrained")
    for i, r in enumerate(rows):
        ax = fig.add_subplot(lines, cols, i + 1)
        epochs = np.arange(1, len(r["curves"]["val_acc"]) + 1)
        for key, style in (("val_acc", "-"), ("train_acc", "--")):
            values = [np.nan if v is None else v for v in r["curves"][key]]
            ax.plot(epochs, values, style, label=key.replace("_acc", ""))
        ax.set_ylim(0, 1)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs
        ax.set_title(_title(r["rank"], r, searched), fontsize=8)
        ax.tick_params(labelsize=7)
    fig.axes[0].legend(fontsize=7)
    fig.suptitle("best trials: validation (solid) and training (dashed) accuracy per epoch")
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_scores(rows: list[dict], space: Mapping, path: str | os.PathLike | None = None):
    """The validation accuracy of every trial against each searched number (log axes for
    log-uniform ranges); diverged and failed trials are crosses at 0."""
    ranges = [(n, v) for n, v in space.items() if isinstance(v, Range) and v.continuous]
    if not ranges:
        raise ValueError("the space has no range of numbers to plot the score against")
    fig = new_figure(figsize=(4.2 * len(ranges), 3.6), layout="constrained")
    ok = [r for r in rows if r["status"] == "ok"]
    bad = [r for r in rows if r["status"] != "ok"]
    for i, (name, value) in enumerate(ranges):
        ax = fig.add_subplot(1, len(ranges), i + 1)
        ax.scatter([r["settings"][name] for r in ok], [r["val_acc"] for r in ok], s=14,
                   label="trials")
        if bad:
            ax.scatter([r["settings"][name] for r in bad], [0.0] * len(bad), marker="x",
                       color="tab:red", label="diverged or failed")
        if value.kind == "loguniform":
            ax.set_xscale("log")
        ax.set_xlabel(name)
        ax.set_ylabel("validation accuracy")
        ax.set_ylim(-0.03, 1.03)
    fig.axes[0].legend(fontsize=8)
    if path is not None:
        save_figure(fig, path)
    return fig
