"""What the page may open: run folders by name, their model files, the book's sample weights.

A name that comes from the page is never a path. It must look like a folder name (letters,
digits, ``.``, ``_``, ``-``, no leading dot) and name a folder directly inside the runs
folder, one that does not lead out of it through a link; anything else is "no such run".
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..data.registry import load_dataset
from ..files.model_file import input_shape, load_model, read_model_meta
from ..files.pretrained import sample_network
from ..files.runs import MODEL_FILE
from ..network import Sequential
from ..novelty import calibrate, stored_threshold

__all__ = ["SAMPLE", "Models", "NoSuchName", "input_shape", "plain_file", "run_folder",
           "run_folders"]

#: The name the book's pretrained network (``sample_weight.pkl``) goes by in the picker.
SAMPLE = "book-sample-weights"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


class NoSuchName(LookupError):
    """A run, model or file name that the page may not open (unknown, or not a plain name)."""


def run_folders(root: Path) -> list[Path]:
    """The run folders directly inside ``root``, by name (none when it does not exist)."""
    if not root.is_dir():
        return []
    top = root.resolve()
    return sorted(p for p in root.iterdir()
                  if _NAME.fullmatch(p.name) and p.is_dir() and p.resolve().parent == top)


def run_folder(root: Path, name: str) -> Path:
    """The run folder ``name`` inside ``root``, or :class:`NoSuchName`."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise NoSuchName(f"{str(name)[:80]!r} is not a run name (letters, digits, '.', '_', "
                         "'-')")
    folder = root / name
    if not folder.is_dir() or folder.resolve().parent != root.resolve():
        raise NoSuchName(f"no run {name!r} in the runs folder")
    return folder


def plain_file(folder: Path, name: str, suffixes: tuple[str, ...]) -> Path:
    """The file ``name`` (a plain name ending in one of ``suffixes``) in ``folder``."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or \
            not name.lower().endswith(suffixes):
        raise NoSuchName(f"{str(name)[:80]!r} is not a file the page shows")
    path = folder / name
    if not path.is_file() or path.resolve().parent != folder.resolve():
        raise NoSuchName(f"no file {name!r} in run {folder.name!r}")
    return path


def _reads_digits(meta: dict) -> bool:
    shape = meta.get("metadata", {}).get("input_shape")
    if shape:
        return int(np.prod(shape)) == 28 * 28
    first = next((layer for layer in meta.get("config", {}).get("layers", [])
                  if "in_features" in layer or "in_channels" in layer), {})
    return first.get("in_features", 784) == 784 and first.get("in_channels", 1) == 1


class Models:
    """The 28x28-digit models the Draw view offers, each loaded once (again when its file
    changes); safe to use from several threads.

    A layer keeps what its forward pass saw (for the backward pass), so two requests must
    not run the same model at once: :meth:`using` lends a model to one caller at a time.
    Each model comes with its novelty threshold (:mod:`scratchnn.novelty`), as
    ``scratchnn predict`` finds it: the one in the model file, else one calibrated on its
    data set's test set (MNIST for the book's weights), else None.
    """

    def __init__(self, runs: Path, data_dir: Path | None = None) -> None:
        self.runs = Path(runs)
        self.data_dir = data_dir
        self._loaded: dict[str, tuple[int, Sequential, float | None, threading.Lock]] = {}
        self._lock = threading.Lock()

    def listing(self) -> list[dict]:
        """[{name, label, kind}] of the run folders' digit models, then the sample weights."""
        found = []
        for folder in run_folders(self.runs):
            path = folder / MODEL_FILE
            try:
                meta = read_model_meta(path) if path.is_file() else None
            except (OSError, ValueError):
                meta = None  # a model file being written, or not one: not offered
            if meta and _reads_digits(meta):
                kind = "convnet" if any(layer.get("type") == "Convolution2D"
                                        for layer in meta["config"]["layers"]) else "mlp"
                found.append({"name": folder.name, "label": folder.name, "kind": kind})
        if self._sample() is not None:
            found.append({"name": SAMPLE, "label": "the book's sample weights (784-50-100-10)",
                          "kind": "mlp"})
        return found

    def _sample(self) -> Sequential | None:
        with self._lock:
            if SAMPLE not in self._loaded:
                try:
                    model = sample_network(dtype=np.float32, data_dir=self.data_dir)
                    threshold = self._threshold(model, "mnist")
                    self._loaded[SAMPLE] = (0, model, threshold, threading.Lock())
                except (OSError, ValueError):
                    return None  # not there (it is never downloaded): not offered
            return self._loaded[SAMPLE][1]

    def _threshold(self, model: Sequential, dataset: str | None) -> float | None:
        threshold = stored_threshold(model)
        if threshold is None and dataset is not None:
            try:
                images = len(input_shape(model)) == 3
                ds = load_dataset(dataset, self.data_dir, images=images, dtype=model.dtype)
                threshold = calibrate(model, ds.x_test)
            except (OSError, ValueError):
                pass  # no data set here: no novelty check, as in `scratchnn predict`
        return threshold

    @contextlib.contextmanager
    def using(self, name: str) -> Iterator[tuple[Sequential, float | None]]:
        """The model ``name`` (a run folder's, or :data:`SAMPLE`) and its novelty threshold,
        for this caller alone while the block runs; :class:`NoSuchName` when there is none."""
        if name == SAMPLE:
            if self._sample() is None:
                raise NoSuchName("the book's sample weights are not in the data folder")
            _, model, threshold, lock = self._loaded[SAMPLE]
        else:
            model, threshold, lock = self._run_model(name)
        with lock:
            yield model, threshold

    def _run_model(self, name: str) -> tuple[Sequential, float | None, threading.Lock]:
        path = run_folder(self.runs, name) / MODEL_FILE
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            raise NoSuchName(f"run {name!r} has no {MODEL_FILE}") from None
        with self._lock:
            if name not in self._loaded or self._loaded[name][0] != stamp:
                model = load_model(path)
                if int(np.prod(input_shape(model))) != 28 * 28:
                    raise NoSuchName(f"run {name!r}'s model does not read 28x28 digits")
                dataset = model.meta.get("metadata", {}).get("dataset")
                self._loaded[name] = (stamp, model, self._threshold(model, dataset),
                                      threading.Lock())
            return self._loaded[name][1:]
