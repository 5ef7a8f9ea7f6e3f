"""Data sets: MNIST, Fashion-MNIST, cat-vs-non-cat, and small synthetic problems.

>>> from scratchnn.data import load_mnist
>>> (x_train, t_train), (x_test, t_test) = load_mnist()  # doctest: +SKIP

Every set by name, as ``scratchnn train`` takes it: :func:`load_dataset` (``DATASETS``),
and :func:`validation_split` to hold out part of a training set.

Where files come from, in order: the ``data_dir=`` argument, the folder named by the
environment variable ``SCRATCHNN_DATA``, the cache (:func:`cache_dir`), and for
Fashion-MNIST Debian's ``/usr/share/datasets/fashion-mnist``; a data folder holds
``mnist/``, ``fashion-mnist/`` and ``catvnoncat/``. MNIST files that are missing are
downloaded into the cache and checked against their SHA-256 checksums.

Environment variables:

- ``SCRATCHNN_DATA``: a data folder laid out as above.
- ``SCRATCHNN_CACHE``: the cache folder (default ``~/.cache/scratchnn``).
- ``SCRATCHNN_MIRRORS``: whitespace-separated base URLs of servers laid out like a data
  folder, tried instead of the public mirrors; set but empty, no downloads happen.
- ``SCRATCHNN_DOWNLOAD_TIMEOUT``: seconds to wait on the network (default 30).
"""

from ..functions import one_hot
from ._fetch import cache_dir
from .catvnoncat import CATVNONCAT_CLASSES, CatData, load_catvnoncat
from .idx import read_idx
from .mnist import FASHION_MNIST_CLASSES, load_fashion_mnist, load_mnist
from .registry import DATASETS, Dataset, load_dataset, validation_split
from .toy import make_circles, make_sine, make_spirals, make_xor

__all__ = [
    "CATVNONCAT_CLASSES",
    "FASHION_MNIST_CLASSES",
    "DATASETS",
    "CatData",
    "Dataset",
    "cache_dir",
    "load_catvnoncat",
    "load_dataset",
    "load_fashion_mnist",
    "load_mnist",
    "make_circles",
    "make_sine",
    "make_spirals",
    "make_xor",
    "one_hot",
    "read_idx",
    "validation_split",
]
