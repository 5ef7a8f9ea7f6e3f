"""Run folders: where one training run keeps its files, and how a new one is claimed.

A run folder holds ``model.npz`` (the trained model), ``checkpoint.npz`` (to resume the
run), ``history.json``/``history.csv`` and the run's figures. Wherever a model, checkpoint
or history file is asked for, its run folder may be given instead (:func:`in_run`).
Without a folder of one's own, a run gets a new one, ``runs/NAME-TIMESTAMP``
(:func:`new_run_folder`); a folder given for a run must not hold another run's files
(:func:`check_run_folder`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from .atomic import make_folders

__all__ = ["CHECKPOINT_FILE", "HISTORY_FILE", "MODEL_FILE", "RUNS", "RunFolderError",
           "RunTaken", "check_run_folder", "in_run", "new_run_folder"]

MODEL_FILE = "model.npz"
CHECKPOINT_FILE = "checkpoint.npz"
HISTORY_FILE = "history.json"
#: the folder that holds the run folders made without a name
RUNS = Path("runs")


class RunFolderError(ValueError):
    """A folder that cannot take a run: a file, or one that holds another run already."""


class RunTaken(RunFolderError):
    """The folder holds another run's model or checkpoint."""


def in_run(path: str | os.PathLike, name: str) -> Path:
    """``path``, or the file ``name`` in it when it is a (run) folder."""
    path = Path(path)
    return path / name if path.is_dir() else path


def new_run_folder(name: str, root: str | os.PathLike = RUNS) -> tuple[Path, list[Path]]:
    """A new folder ``root/NAME-YYYYmmdd-HHMMSS``, made at once: (it, the folders made).

    Two runs started within the same second each get their own (-2, -3, ...). The folders
    made (the run's, and ``root`` when it was missing) are what to remove again
    (:func:`scratchnn.files.atomic.remove_empty_folders`) if the run writes nothing.
    """
    root = Path(root)
    if not root.is_dir() and (root.exists() or root.is_symlink()):
        raise RunFolderError(f"{root} is not a folder")
    made = make_folders(root)
    stem = root / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    out, n = stem, 1
    while True:
        try:
            out.mkdir()
            return out, [out.absolute(), *made]
        except FileExistsError:
            n += 1
            out = stem.with_name(f"{stem.name}-{n}")


def check_run_folder(out: str | os.PathLike, resumed: str | os.PathLike | None = None
                     ) -> Path:
    """``out`` as a Path, refused when it is a file or holds another run's model or
    checkpoint; ``resumed`` is the checkpoint of the run that continues in it, if any."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"{out} is a file; give a folder for the run's files")
    if resumed is None or out.resolve() != Path(resumed).parent.resolve():
        earlier = [name for name in (MODEL_FILE, CHECKPOINT_FILE) if (out / name).exists()]
        if earlier:
            raise RunTaken(f"{out} already holds a run ({' and '.join(earlier)}); "
                                 "give another folder, or continue that run")
    return out
