"""The Runs view: the run folders' settings, learning curves and figures.

A finished run has its ``history.json`` and ``model.npz``; a run still training has only
its ``checkpoint.npz`` (written after every epoch), whose header holds the history so far.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..files.model_file import read_model_meta
from ..files.runs import CHECKPOINT_FILE, HISTORY_FILE, MODEL_FILE
from .catalog import run_folders

__all__ = ["FIGURES", "folder_stamps", "list_runs", "run_summary"]

#: The figure files the page shows.
FIGURES = (".png", ".svg")
#: A run without a model whose checkpoint changed this recently (seconds) counts as training.
LIVE = 300
_FIELDS = ("epoch", "loss", "train_acc", "val_acc", "val_loss")


def _stamp(folder: Path) -> int:
    """What changes when the run writes a file."""
    stamps = [folder.stat().st_mtime_ns]
    for name in (HISTORY_FILE, CHECKPOINT_FILE, MODEL_FILE):
        try:
            stamps.append((folder / name).stat().st_mtime_ns)
        except OSError:
            pass
    return max(stamps)


def _history(folder: Path, meta: dict | None) -> list[dict]:
    """The run's per-epoch records: from history.json, else from the checkpoint's header."""
    try:
        records = json.loads((folder / HISTORY_FILE).read_text())["epochs"]
    except (OSError, ValueError, KeyError, TypeError):
        records = (meta or {}).get("training", {}).get("history", {}).get("epochs", [])
    if not isinstance(records, list):
        return []
    return [{k: r.get(k) for k in _FIELDS} for r in records if isinstance(r, dict)]


def _header(folder: Path) -> tuple[dict | None, str]:
    """The header of the run's model file (else its checkpoint's), and the run's status."""
    for name, status in ((MODEL_FILE, "finished"), (CHECKPOINT_FILE, "training")):
        path = folder / name
        if path.is_file():
            try:
                meta = read_model_meta(path)
            except (OSError, ValueError):
                continue  # being replaced this instant, or not a model file
            if status == "training" and time.time() - path.stat().st_mtime > LIVE:
                status = "stopped"
            return meta, status
    return None, "empty"


def run_summary(folder: Path) -> dict:
    """One run for the page: name, status, settings, test accuracy, epochs, figures."""
    meta, status = _header(folder)
    metadata = (meta or {}).get("metadata", {})
    settings = dict(metadata.get("options") or {})
    if meta and not settings:  # a model saved from Python: its architecture at least
        settings = {"model": meta.get("class"), "dtype": meta.get("dtype")}
    return {
        "name": folder.name,
        "status": status,
        "settings": settings,
        "test_accuracy": metadata.get("test_accuracy"),
        "epochs": _history(folder, meta),
        "figures": sorted(p.name for p in folder.iterdir()
                          if p.suffix.lower() in FIGURES and p.is_file()),
        "stamp": _stamp(folder),
    }


def list_runs(root: Path) -> list[dict]:
    """Every run folder in ``root`` that holds a run (a model, checkpoint or history)."""
    found = []
    for folder in run_folders(root):
        try:
            summary = run_summary(folder)
        except OSError:
            continue  # removed while being read
        if summary["status"] != "empty" or summary["epochs"]:
            found.append(summary)
    return found


def folder_stamps(root: Path) -> list[tuple[str, int]]:
    """(name, stamp) of every run folder in ``root``: a cheap look for whether
    :func:`list_runs` would find anything new (it reads every run's files)."""
    found = []
    for folder in run_folders(root):
        try:
            found.append((folder.name, _stamp(folder)))
        except OSError:
            continue  # removed while being read
    return found
