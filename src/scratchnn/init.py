"""Weight initialisers: draw a weight array of a given shape from a numpy Generator.

The scale of each is a standard deviation chosen from the fan-in n_in (and fan-out n_out):

=========  ==============================  ============================================
name       std                             from
=========  ==============================  ============================================
normal     0.01 (or ``std=``)              the book's chapters 4-5
xavier     sqrt(1 / n_in)                  the book's "Xavier" (chapter 6), for sigmoid/tanh
glorot     sqrt(2 / (n_in + n_out))        Glorot & Bengio's normal variant
he         sqrt(2 / n_in)                  He et al., for ReLU
course     1 / sqrt(n_in)                  the course's L-layer application (= xavier)
=========  ==============================  ============================================

For a 2-D weight (n_in, n_out) the fan-in is shape[0]; for a convolution kernel
(F, C, kh, kw) it is C * kh * kw and the fan-out F * kh * kw.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import DTypeLike

__all__ = ["INITIALIZERS", "as_generator", "fans", "init_std", "initialize"]

INITIALIZERS = ("normal", "xavier", "glorot", "he", "course")


def as_generator(rng: np.random.Generator | int | None = None) -> np.random.Generator:
    """A numpy Generator from a Generator, a seed, or None (fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        if rng is not None and rng < 0:
            raise ValueError(f"a seed must be an integer >= 0, got {rng}")
        return np.random.default_rng(rng)
    raise TypeError(f"expected a numpy Generator, an int seed or None, got {type(rng).__name__}")


def _seed_or_rng(seed: int | None, rng: np.random.Generator | None) -> np.random.Generator:
    """The Generator of a constructor that takes ``seed=`` or ``rng=`` (not both)."""
    if rng is not None and seed is not None:
        raise TypeError("pass seed= or rng=, not both")
    return as_generator(rng if rng is not None else seed)


def _float_dtype(dtype: DTypeLike) -> np.dtype:
    """``dtype`` as a numpy dtype, refused unless it is float32 or float64.

    float16 has no BLAS and no random sampler in NumPy, and longdouble no BLAS either.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of this shape."""
    if len(shape) == 2:
        return shape[0], shape[1]
    if len(shape) == 4:
        receptive = shape[2] * shape[3]
        return shape[1] * receptive, shape[0] * receptive
    raise ValueError(f"weights are 2-D (n_in, n_out) or 4-D (F, C, kh, kw), got shape {shape}")


def init_std(name: str, shape: tuple[int, ...], std: float = 0.01) -> float:
    """The standard deviation initialiser ``name`` uses for a weight of ``shape``."""
    if any(isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1
           for n in shape):
        raise ValueError(f"weight shape must hold positive integers, got {tuple(shape)}")
    fan_in, fan_out = fans(tuple(shape))
    if name == "normal":
        std = float(std)
        if not 0 <= std < math.inf:
            raise ValueError(f"std must be a finite number >= 0, got {std}")
        return std
    if name in ("xavier", "course"):
        return 1.0 / math.sqrt(fan_in)
    if name == "glorot":
        return math.sqrt(2.0 / (fan_in + fan_out))
    if name == "he":
        return math.sqrt(2.0 / fan_in)
    raise ValueError(f"unknown initialiser {name!r}; expected one of {', '.join(INITIALIZERS)}")


def initialize(
    name: str,
    shape: tuple[int, ...],
    rng: np.random.Generator | int | None = None,
    dtype: DTypeLike = np.float32,
    std: float = 0.01,
) -> np.ndarray:
    """Draw weights of ``shape`` ~ N(0, init_std(name)^2) in ``dtype``.

    ``std`` is only used by the "normal" initialiser.
    """
    scale = init_std(name, tuple(shape), std)
    dtype = _float_dtype(dtype)
    w = as_generator(rng).standard_normal(shape).astype(dtype, copy=False)
    # A Python float keeps float32 weights float32 (a NumPy float64 scalar would not).
    w *= scale
    return w
