"""Every data set by name, in one form: what ``scratchnn train`` trains on, usable from Python.

>>> from scratchnn.data import load_dataset, validation_split
>>> ds = load_dataset("spirals")                   # x in [-1, 1], labels 0, 1, 2
>>> x_train, t_train, x_val, t_val = validation_split(ds.x_train, ds.t_train, 0.1)

Pictures come with pixels in [0, 1], flattened to rows for an MLP or as (N, C, H, W) for a
ConvNet (``images=True``); labels are int64 class indices into ``classes``.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np
from numpy.typing import DTypeLike

from .._validate import float_dtype, generator, number, positive_int
from .catvnoncat import load_catvnoncat
from .mnist import FASHION_MNIST_CLASSES, load_fashion_mnist, load_mnist
from .toy import make_circles, make_spirals, make_xor

__all__ = ["DATASETS", "IMAGE_SETS", "POINT_SETS", "Dataset", "load_dataset",
           "validation_split"]

IMAGE_SETS = ("mnist", "fashion-mnist", "catvnoncat")
#: 2-D points drawn by the toy generators, always with the same seeds (0: train, 1: test)
POINT_SETS = ("xor", "spirals", "circles")
DATASETS = IMAGE_SETS + POINT_SETS

#: generator, samples, keywords of each set of points
_POINTS = {
    "xor": (make_xor, 400, {"noise": 0.1}),
    "spirals": (make_spirals, 300, {}),
    "circles": (make_circles, 800, {}),
}


class Dataset(NamedTuple):
    """A training and a test set, and the name of each class (label k is ``classes[k]``)."""

    x_train: np.ndarray
    t_train: np.ndarray
    x_test: np.ndarray
    t_test: np.ndarray
    classes: tuple[str, ...]

    @property
    def is_images(self) -> bool:
        """Pictures (which a grid of samples can show), not 2-D points."""
        return self.x_train.ndim > 2 or self.x_train.shape[1] > 2

    @property
    def image_shape(self) -> tuple[int, ...] | None:
        """How to show one flattened row: (64, 64, 3) for the cat pictures; None: the
        figure's own guess (a square grey picture, or the sample's (C, H, W))."""
        if self.x_train.ndim == 2 and self.x_train.shape[1] == 64 * 64 * 3:
            return (64, 64, 3)
        return None


def load_dataset(name: str, data_dir: str | os.PathLike | None = None, images: bool = False,
                 dtype: DTypeLike = np.float32, limit: int | None = None) -> Dataset:
    """The data set ``name`` (one of :data:`DATASETS`).

    ``images`` keeps pictures as (N, C, H, W), for ConvNets; the points sets have none.
    ``limit`` keeps the first ``limit`` training and test samples.
    """
    dtype = float_dtype(dtype)
    if limit is not None:
        limit = positive_int(limit, "limit")
    if name in ("mnist", "fashion-mnist"):
        ds = _mnist(name, data_dir, images, dtype)
    elif name == "catvnoncat":
        ds = _cats(data_dir, images, dtype)
    elif name in POINT_SETS:
        if images:
            raise ValueError(f"{name} is a set of 2-D points, not pictures: train it with an "
                             "MLP")
        ds = _points(name, dtype)
    else:
        raise ValueError(f"unknown data set {name!r}; expected one of {', '.join(DATASETS)}")
    if limit:
        ds = Dataset(ds.x_train[:limit], ds.t_train[:limit], ds.x_test[:limit],
                     ds.t_test[:limit], ds.classes)
    return ds


def _mnist(name: str, data_dir, images: bool, dtype: np.dtype) -> Dataset:
    load = load_mnist if name == "mnist" else load_fashion_mnist
    (x, t), (xt, tt) = load(flatten=not images, dtype=dtype, data_dir=data_dir)
    classes = (tuple(str(d) for d in range(10)) if name == "mnist"
               else tuple(FASHION_MNIST_CLASSES))
    return Dataset(x, t, xt, tt, classes)


def _cats(data_dir, images: bool, dtype: np.dtype) -> Dataset:
    cats = load_catvnoncat(data_dir=data_dir)
    # (N, 64, 64, 3) bytes -> (N, 3, 64, 64) or (N, 12288), in [0, 1]
    x, xt = (a.transpose(0, 3, 1, 2) if images else a.reshape(len(a), -1)
             for a in (cats.train_x, cats.test_x))
    x, xt = (a.astype(dtype) / 255 for a in (x, xt))
    return Dataset(x, cats.train_y, xt, cats.test_y, tuple(cats.classes))


def _points(name: str, dtype: np.dtype) -> Dataset:
    make, n, keywords = _POINTS[name]
    # Fixed seeds: the data set stays the same whatever seed the model gets.
    x, t = make(n, seed=0, dtype=dtype, **keywords)
    xt, tt = make(n, seed=1, dtype=dtype, **keywords)
    t, tt = (a.reshape(-1).astype(np.int64) for a in (t, tt))
    return Dataset(x, t, xt, tt, tuple(str(k) for k in range(int(t.max()) + 1)))


def validation_split(x: np.ndarray, t: np.ndarray, fraction: float, seed: int = 0
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, t_train, x_val, t_val): a random ``fraction`` of (x, t) held out.

    The subset is drawn with a fixed ``seed``, not the model's: runs with different seeds
    are then compared on the same validation samples. Random, not the last samples,
    because toy sets (and many files) are stored class by class.
    """
    fraction = number(fraction, "fraction", 0.0, 1.0, low_open=True)
    n = len(x)
    n_val = round(fraction * n)
    if not 0 < n_val < n:
        raise ValueError(f"a fraction {fraction} of {n} samples leaves no training or no "
                         "validation sample")
    held_out = np.zeros(n, dtype=bool)
    held_out[generator(seed).choice(n, size=n_val, replace=False)] = True
    return x[~held_out], t[~held_out], x[held_out], t[held_out]
