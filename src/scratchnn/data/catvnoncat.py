"""The "cat vs non-cat" images of the classic deep-learning course exercise (HDF5 files).

There is no stable public mirror for these two files, so they are never downloaded: they
must be in ``<data_dir>/catvnoncat/``, ``$SCRATCHNN_DATA/catvnoncat/`` or the cache's
``catvnoncat/`` folder.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ._fetch import describe_places, search_places

__all__ = ["CATVNONCAT_CLASSES", "CatData", "load_catvnoncat"]

CATVNONCAT_CLASSES = ("non-cat", "cat")

# (file, dataset of images, dataset of labels, number of examples, SHA-256 of the content).
# The checksum covers the image bytes then the labels as little-endian int64: it checks the
# data, not the HDF5 container, so any faithful copy of the files passes.
_FILES = {
    "train": (
        "train_catvnoncat.h5",
        "train_set_x",
        "train_set_y",
        209,
        "f19135472731081e70474f7c5ee3ce3d87911a74cc4fb4304cac932037506996",
    ),
    "test": (
        "test_catvnoncat.h5",
        "test_set_x",
        "test_set_y",
        50,
        "cc71f43ca60bb555ad8f09e4126400c8dedbb6a4fed536b9724b5f89f7dcf048",
    ),
}
_IMAGE_SHAPE = (64, 64, 3)


class CatData(NamedTuple):
    """The cat-vs-non-cat data set.

    With the default layout: ``train_x`` (209, 64, 64, 3) uint8, ``train_y`` (209,) int64,
    ``test_x`` (50, 64, 64, 3), ``test_y`` (50,). With ``course_layout=True``: one example
    per *column*, ``train_x`` (12288, 209) float64 in [0, 1] and ``train_y`` (1, 209).
    ``classes`` is ``("non-cat", "cat")``: label 1 means cat.
    """

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    classes: tuple[str, ...]


def load_catvnoncat(
    data_dir: str | os.PathLike[str] | None = None, course_layout: bool = False
) -> CatData:
    """Load the cat-vs-non-cat images from ``train_catvnoncat.h5`` and ``test_catvnoncat.h5``.

    Args:
        data_dir: a folder holding ``catvnoncat/train_catvnoncat.h5`` and
            ``catvnoncat/test_catvnoncat.h5``; ``$SCRATCHNN_DATA`` and the cache are
            searched after it.
        course_layout: return the layout of the course's notebooks: images flattened to
            columns and scaled exactly as the course does it,
            ``x.reshape(m, -1).T / 255.`` (float64, shape (12288, m)), labels (1, m).

    Raises:
        FileNotFoundError: a file is not in any of the searched folders.
        ValueError: a file is not a readable HDF5 file or does not hold the expected data.
    """
    import h5py  # imported here: only this loader needs it, and it is slow to import

    places = search_places("catvnoncat", data_dir)
    splits = {}
    for split, (file_name, x_key, y_key, m, sha) in _FILES.items():
        path = _find(file_name, places)
        try:
            with h5py.File(path, "r") as f:
                # Shapes first: a small file may declare a dataset of gigabytes.
                shapes = [getattr(f[key], "shape", None) for key in (x_key, y_key)]
                if shapes != [(m, *_IMAGE_SHAPE), (m,)]:
                    raise ValueError(
                        f"{path}: expected {x_key} of shape {(m, *_IMAGE_SHAPE)} and {y_key} "
                        f"of shape {(m,)}, got {shapes[0]} and {shapes[1]} (None: not a "
                        "dataset)"
                    )
                x = np.array(f[x_key], dtype=np.uint8)
                y = np.array(f[y_key], dtype=np.int64)
        except (OSError, KeyError, TypeError) as err:  # TypeError: data that is not numbers
            raise ValueError(
                f"{path}: not a readable cat-vs-non-cat HDF5 file ({err}); "
                "replace it with a good copy"
            ) from err
        got = _content_sha256(x, y)
        if got != sha:
            raise ValueError(
                f"{path}: the data in this file has SHA-256 {got}, expected {sha}: "
                "the file is damaged or a different data set; replace it with a good copy"
            )
        if course_layout:
            x = x.reshape(m, -1).T / 255.0  # the course's exact arithmetic (float64)
            y = y.reshape(1, m)
        splits[split] = (x, y)
    (train_x, train_y), (test_x, test_y) = splits["train"], splits["test"]
    return CatData(train_x, train_y, test_x, test_y, CATVNONCAT_CLASSES)


def _content_sha256(x: np.ndarray, y: np.ndarray) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(x, dtype=np.uint8).tobytes())
    digest.update(y.astype("<i8").tobytes())
    return digest.hexdigest()


def _find(file_name: str, places: list) -> Path:
    for place in places:
        if place.path is not None and (place.path / file_name).is_file():
            return place.path / file_name
    names = ", ".join(f[0] for f in _FILES.values())
    raise FileNotFoundError(
        f"cat-vs-non-cat: {file_name} not found (it is not downloaded: there is no stable "
        f"public mirror).\nTo fix: copy {names} into a folder DIR/catvnoncat/ and pass "
        "data_dir=DIR (on the command line: scratchnn train --data-dir DIR) or set "
        "SCRATCHNN_DATA=DIR.\n\n"
        f"Looked in:\n{describe_places(places)}"
    )
