"""Weight initialisers (the book's chapter 6): draw weights of a shape from a Generator.

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

from ._validate import float_dtype, generator, number

__all__ = ["INITIALIZERS", "fans", "init_std", "initialize"]

INITIALIZERS = ("normal", "xavier", "glorot", "he", "course")


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
    stds = {"normal": lambda: number(std, "std"),
            "xavier": lambda: 1.0 / math.sqrt(fan_in),
            "course": lambda: 1.0 / math.sqrt(fan_in),
            "glorot": lambda: math.sqrt(2.0 / (fan_in + fan_out)),
            "he": lambda: math.sqrt(2.0 / fan_in)}
    if name not in stds:
        raise ValueError(f"unknown initialiser {name!r}; expected one of "
                         f"{', '.join(INITIALIZERS)}")
    return stds[name]()


def initialize(name: str, shape: tuple[int, ...], rng: np.random.Generator | int | None = None,
               dtype: DTypeLike = np.float32, std: float = 0.01) -> np.ndarray:
    """Draw weights of ``shape`` ~ N(0, init_std(name)^2), drawn in ``dtype`` itself.

    ``std`` is only used by the "normal" initialiser.
    """
    scale = init_std(name, tuple(shape), std)
    w = generator(rng=rng).standard_normal(shape, dtype=float_dtype(dtype))
    w *= scale  # a Python float keeps float32 weights float32
    return w
