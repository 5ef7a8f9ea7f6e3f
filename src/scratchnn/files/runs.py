"""Run folders: where one training run keeps its files, and how a new one is claimed.

A run folder holds ``model.npz`` (the trained model), ``checkpoint.npz`` (to resume the
run), ``history.json``/``history.csv`` and the run's figures. Wherever a model, checkpoint
or history file is asked for, its run folder may be given instead (:func:`in_run`).
Without a folder of one's own, a run gets a new one, ``runs/NAME-TIMESTAMP``
(:func:`new_run_folder`); a folder given for a run must not hold another run's files
(:func:`check_run_folder`).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path

from .atomic import make_folders, new_temp_file, remove_empty_folders

__all__ = ["CHECKPOINT_FILE", "HISTORY_FILE", "MODEL_FILE", "RUNS", "RunFolderError",
           "RunTaken", "check_run_folder", "check_writable", "in_run", "new_run_folder",
           "rescue_folder"]

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


#: Bytes written to prove a run folder writable: about a small model file.
PROBE_BYTES = 1 << 20


def check_writable(out: str | os.PathLike) -> list[Path]:
    """Prove that ``out`` takes files before a run spends time on them: make it (and its
    missing parents) and write, flush and remove ``PROBE_BYTES`` there. Returns the folders
    made; raises RunFolderError naming the folder and the system's reason (a read-only or
    full file system, a file in the way)."""
    out = Path(out)
    made: list[Path] = []
    try:
        made = make_folders(out)
        fd, probe = new_temp_file(out, "write-test")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(bytes(PROBE_BYTES))
                f.flush()
                os.fsync(f.fileno())
        finally:
            with contextlib.suppress(OSError):
                probe.unlink()
    except OSError as err:
        remove_empty_folders(made)
        raise RunFolderError(f"{out} cannot take the run's files "
                             f"({err.strerror or err})") from err
    return made


def rescue_folder() -> Path:
    """Where a run's files go when their own folder fails late: a new folder in the system's
    temporary folder (``$TMPDIR``), or else in the current one."""
    for root in (None, "."):
        with contextlib.suppress(OSError):
            return Path(tempfile.mkdtemp(prefix="scratchnn-rescued-", dir=root))
    raise OSError("no folder to rescue the model into: the temporary folder and the "
                  "current one are not writable")
