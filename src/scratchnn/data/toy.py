"""Small synthetic data sets for trying out networks: XOR, spirals, circles, a noisy sine.

Every generator takes ``seed``: an int for a reproducible result, a ``numpy.random.Generator``
to draw from one you already have, or None for fresh randomness. None of them touches
NumPy's global random state. Inputs ``x`` have one example per row; class labels are
int64. Examples come in a fixed order (by class for spirals and circles): shuffle them
before mini-batch training.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validate import float_dtype, generator, number, positive_int

__all__ = ["make_circles", "make_sine", "make_spirals", "make_xor"]

Seed = int | np.random.Generator | None


def make_xor(
    n_samples: int = 4, *, noise: float = 0.0, seed: Seed = None, dtype: Any = np.float32
) -> tuple[np.ndarray, np.ndarray]:
    """The XOR problem: points at the corners of the unit square, class 1 where x0 != x1.

    With the defaults this is the truth table: x = [[0, 0], [0, 1], [1, 0], [1, 1]],
    t = [0, 1, 1, 0]. More samples cycle through the four corners; ``noise`` adds
    Gaussian jitter of that standard deviation to the inputs.

    Returns:
        x of shape (n_samples, 2) in ``dtype`` and int64 labels t of shape (n_samples,)
        (``t.reshape(-1, 1).astype(x.dtype)`` suits a single sigmoid output).
    """
    n_samples = positive_int(n_samples, "n_samples")
    noise = number(noise, "noise")
    dtype = float_dtype(dtype)
    rng = generator(seed)
    corners = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    which = np.arange(n_samples) % 4
    x = corners[which] + noise * rng.standard_normal((n_samples, 2))
    t = corners[which, 0] != corners[which, 1]
    return x.astype(dtype), t.astype(np.int64)


def make_spirals(
    n_per_class: int = 100,
    n_classes: int = 3,
    *,
    noise: float = 0.2,
    seed: Seed = None,
    dtype: Any = np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spirals, one arm per class (the classic CS231n example).

    Arm ``j`` starts at the centre and winds outwards to radius 1; ``noise`` is the
    standard deviation, in radians, of Gaussian jitter on each point's angle.

    Returns:
        x of shape (n_per_class * n_classes, 2) in ``dtype`` and integer labels t of
        shape (n_per_class * n_classes,), int64, in class order.
    """
    n_per_class = positive_int(n_per_class, "n_per_class")
    n_classes = positive_int(n_classes, "n_classes")
    noise = number(noise, "noise")
    dtype = float_dtype(dtype)
    rng = generator(seed)
    radius = np.tile(np.linspace(0.0, 1.0, n_per_class), n_classes)
    t = np.repeat(np.arange(n_classes), n_per_class)
    # Arms start evenly around the circle and each turns through 4 radians.
    angle = (
        2 * np.pi * t / n_classes
        + np.tile(np.linspace(0.0, 4.0, n_per_class), n_classes)
        + noise * rng.standard_normal(t.size)
    )
    x = np.column_stack([radius * np.sin(angle), radius * np.cos(angle)])
    return x.astype(dtype), t.astype(np.int64)


def make_circles(
    n_samples: int = 200,
    *,
    noise: float = 0.05,
    factor: float = 0.5,
    seed: Seed = None,
    dtype: Any = np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric circles: the outer one (radius 1) is class 0, the inner one class 1.

    Args:
        n_samples: total number of points; the outer circle gets ``n_samples // 2``.
        noise: standard deviation of Gaussian jitter added to each coordinate.
        factor: radius of the inner circle, between 0 and 1.

    Returns:
        x of shape (n_samples, 2) in ``dtype`` and int64 labels of shape (n_samples,).
    """
    n_samples = positive_int(n_samples, "n_samples")
    noise = number(noise, "noise")
    factor = number(factor, "factor", 0.0, 1.0, low_open=True)
    dtype = float_dtype(dtype)
    rng = generator(seed)
    n_outer = n_samples // 2
    n_inner = n_samples - n_outer
    angle = np.concatenate(
        [
            np.linspace(0, 2 * np.pi, n_outer, endpoint=False),
            np.linspace(0, 2 * np.pi, n_inner, endpoint=False),
        ]
    )
    radius = np.concatenate([np.ones(n_outer), np.full(n_inner, factor)])
    x = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
    x += noise * rng.standard_normal(x.shape)
    t = np.concatenate([np.zeros(n_outer), np.ones(n_inner)])
    return x.astype(dtype), t.astype(np.int64)


def make_sine(
    n_samples: int = 100,
    *,
    noise: float = 0.1,
    low: float = -np.pi,
    high: float = np.pi,
    seed: Seed = None,
    dtype: Any = np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """A regression problem: t = sin(x) + Gaussian noise, x drawn uniformly from [low, high).

    Returns:
        x and t, both of shape (n_samples, 1) in ``dtype``, sorted by x (handy for plots).
    """
    n_samples = positive_int(n_samples, "n_samples")
    noise = number(noise, "noise")
    low, high = number(low, "low", -np.inf), number(high, "high", -np.inf)
    if not low < high:
        raise ValueError(f"need low < high, got low={low}, high={high}")
    dtype = float_dtype(dtype)
    rng = generator(seed)
    x = np.sort(rng.uniform(low, high, n_samples)).reshape(-1, 1)
    t = np.sin(x) + noise * rng.standard_normal(x.shape)
    return x.astype(dtype), t.astype(dtype)

