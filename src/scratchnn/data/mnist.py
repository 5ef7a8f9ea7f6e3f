"""MNIST and Fashion-MNIST, with the semantics of "Deep Learning from Scratch" (``load_mnist``).

The first call finds (or downloads) the four IDX files, checks them, decodes them and saves
the decoded uint8 arrays as ``.npy`` files in the cache. Later calls read those arrays back
and only convert them to the requested float type, which takes a fraction of a second.
The decoded files are named after the SHA-256 of the IDX data they came from, and each read
checks that an IDX header built from the array's shape, followed by the array, still has
that SHA-256 (about 40 ms for MNIST): a damaged cache file is rebuilt, never used.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

from .._validate import float_dtype
from ..files.atomic import atomic_write, make_folders, remove_empty_folders
from ..functions import one_hot
from ._fetch import DatasetSpec, cache_dir, check_data_dir, fetch
from .idx import parse_idx

__all__ = ["FASHION_MNIST", "FASHION_MNIST_CLASSES", "MNIST", "load_fashion_mnist", "load_mnist"]

Split = tuple[np.ndarray, np.ndarray]

# SHA-256 of the decompressed files: the same on every mirror, whatever its gzip headers.
_MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

MNIST = DatasetSpec(
    folder="mnist",
    title="MNIST",
    sha256=_MNIST_SHA256,
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
)

# Checksums of the decompressed files; the compressed ones differ between the upstream
# release and Debian's package (re-gzipped), the content does not.
_FASHION_MNIST_SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

FASHION_MNIST = DatasetSpec(
    folder="fashion-mnist",
    title="Fashion-MNIST",
    sha256=_FASHION_MNIST_SHA256,
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
    system_dirs=(Path("/usr/share/datasets/fashion-mnist"),),  # Debian: dataset-fashion-mnist
)

#: Names of the ten Fashion-MNIST classes; label ``i`` means ``FASHION_MNIST_CLASSES[i]``.
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

_N_CLASSES = 10


def load_mnist(
    normalize: bool = True,
    flatten: bool = True,
    one_hot_label: bool = False,
    dtype: Any = np.float32,
    data_dir: str | os.PathLike[str] | None = None,
) -> tuple[Split, Split]:
    """Load MNIST as ``((x_train, t_train), (x_test, t_test))``.

    Args:
        normalize: scale pixels to [0, 1]; if False, keep the raw 0-255 values
            (still in ``dtype``).
        flatten: images as rows of shape (N, 784); if False, shape (N, 1, 28, 28).
        one_hot_label: labels as one-hot rows of shape (N, 10) in ``dtype``; if False,
            class indices of shape (N,) as int64.
        dtype: a floating-point type for the images (float32 by default: the training
            images take 188 MB, not the 376 MB of float64).
        data_dir: a folder holding ``mnist/train-images-idx3-ubyte.gz`` and the three
            other files (plain, uncompressed files work too).

    The files are looked for in ``data_dir``, then ``$SCRATCHNN_DATA``, then the cache
    (:func:`scratchnn.data.cache_dir`); missing ones are downloaded into the cache.
    Every file is checked against its SHA-256 before use.

    Returns:
        New, writable arrays: 60,000 training and 10,000 test examples.

    Raises:
        FileNotFoundError: the files are nowhere and could not be downloaded.
        ValueError: a file is truncated or corrupt.
        TypeError: ``dtype`` is not a floating-point type.
    """
    return _load(MNIST, normalize, flatten, one_hot_label, dtype, data_dir)


def load_fashion_mnist(
    normalize: bool = True,
    flatten: bool = True,
    one_hot_label: bool = False,
    dtype: Any = np.float32,
    data_dir: str | os.PathLike[str] | None = None,
) -> tuple[Split, Split]:
    """Load Fashion-MNIST; arguments and results exactly as in :func:`load_mnist`.

    The folder inside ``data_dir`` is ``fashion-mnist/``. Debian's package
    ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``) is used when
    installed. Label ``i`` names the class ``FASHION_MNIST_CLASSES[i]``.
    """
    return _load(FASHION_MNIST, normalize, flatten, one_hot_label, dtype, data_dir)


def _load(
    spec: DatasetSpec,
    normalize: bool,
    flatten: bool,
    one_hot_label: bool,
    dtype: Any,
    data_dir: str | os.PathLike[str] | None,
) -> tuple[Split, Split]:
    dtype = float_dtype(dtype)  # check arguments before any slow work
    check_data_dir(data_dir)  # (a decoded cache would otherwise hide the typo)
    arrays = _decoded_arrays(spec, data_dir)

    def split(prefix: str) -> Split:
        images = _images(arrays[f"{prefix}-images-idx3-ubyte"], normalize, flatten, dtype)
        labels = _labels(arrays[f"{prefix}-labels-idx1-ubyte"], one_hot_label, dtype)
        return images, labels

    return split("train"), split("t10k")


def _images(raw: np.ndarray, normalize: bool, flatten: bool, dtype: np.dtype) -> np.ndarray:
    images = raw.astype(dtype)  # a new array, so callers may modify it freely
    if normalize:
        # In place: the same values as raw.astype(dtype) / 255.0 without a second copy.
        images /= 255
    if flatten:
        return images.reshape(len(images), -1)
    return images.reshape(len(images), 1, *raw.shape[1:])


def _labels(raw: np.ndarray, one_hot_label: bool, dtype: np.dtype) -> np.ndarray:
    if one_hot_label:
        return one_hot(raw, _N_CLASSES, dtype=dtype)
    return raw.astype(np.int64)


def _decoded_arrays(spec: DatasetSpec, data_dir: str | os.PathLike[str] | None) -> dict:
    """The four uint8 arrays, from the decoded cache or else from the IDX files."""
    folder = cache_dir() / "decoded" / spec.folder
    paths = {name: folder / f"{name}-{sha}.npy" for name, sha in spec.sha256.items()}
    arrays = {name: _read_decoded(path, spec.sha256[name]) for name, path in paths.items()}
    missing = [name for name, array in arrays.items() if array is None]
    if missing:
        fetched = fetch(spec, missing, data_dir)
        for name in missing:
            array = parse_idx(fetched[name].payload, name=str(fetched[name].path))
            _check_shape(spec, name, array, fetched[name].path)
            _write_decoded(paths[name], array)
            arrays[name] = array
    for split in ("train", "t10k"):
        n_images = len(arrays[f"{split}-images-idx3-ubyte"])
        n_labels = len(arrays[f"{split}-labels-idx1-ubyte"])
        if n_images != n_labels:
            raise ValueError(f"{spec.title} {split}: {n_images} images but {n_labels} labels")
    return arrays


def _check_shape(spec: DatasetSpec, name: str, array: np.ndarray, path: Path) -> None:
    want_ndim = 3 if "images" in name else 1
    if array.ndim != want_ndim or array.dtype != np.uint8:
        raise ValueError(
            f"{path}: expected {want_ndim}-D uint8 data for {spec.title} {name}, "
            f"got shape {array.shape} of {array.dtype}"
        )


def _read_decoded(path: Path, sha256: str) -> np.ndarray | None:
    """A decoded array from the cache, or None when absent, unreadable or not the data of
    the IDX file with checksum ``sha256``."""
    try:
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, EOFError):
        array = None
    if array is None or _idx_sha256(array) != sha256:
        # Damaged (a disk filled up, a flipped bit): rebuild it from the verified source.
        with contextlib.suppress(OSError):  # (a read-only cache: rebuilt in memory only)
            path.unlink(missing_ok=True)
        return None
    return array


def _idx_sha256(array: np.ndarray) -> str | None:
    """SHA-256 of the IDX file that holds ``array`` (uint8 only; None for anything else)."""
    if array.dtype != np.uint8 or not 1 <= array.ndim <= 3:
        return None
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    digest = hashlib.sha256(header)
    digest.update(np.ascontiguousarray(array))
    return digest.hexdigest()


def _write_decoded(path: Path, array: np.ndarray) -> None:
    """Save ``array`` so that other processes only ever see the complete file.

    A cache that cannot be written (read-only, full, a file where a folder should be)
    only costs speed: the data was decoded all the same.
    """
    made: list[Path] = []
    try:
        made = make_folders(path.parent)
        with atomic_write(path, durable=False) as f:  # (checked by SHA-256 when read)
            np.save(f, array, allow_pickle=False)
    except BaseException as err:
        remove_empty_folders(made)
        if not isinstance(err, OSError):
            raise
