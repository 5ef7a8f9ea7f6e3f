"""The book's names ("Deep Learning from Scratch", chapters 3-5), for code written like its own.

    from scratchnn.book import load_mnist, TwoLayerNet, softmax, cross_entropy_error

works as the book's ``from dataset.mnist import load_mnist`` and
``from common.functions import ...`` do. Everything here is the engine's; this module only
adds the book's spelling (``identity_function``) and chapter 3's toy network
(:func:`init_network` and :func:`forward`). ``scratchnn.book`` is this module's other
name.

One difference, for batches only: ``mean_squared_error`` averages over the batch, like
``cross_entropy_error`` does in the book; the book's own sums over every element (it only
ever calls it on one sample, where both give the same value).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ..data import load_mnist
from ..functions import (
    cross_entropy_error,
    identity,
    mean_squared_error,
    relu,
    relu_grad,
    sigmoid,
    sigmoid_grad,
    softmax,
    step_function,
)
from ..gradient import gradient_descent, numerical_diff, numerical_gradient
from ..layers import Affine, Sigmoid
from ..models import TwoLayerNet

__all__ = [
    "load_mnist",
    "TwoLayerNet",
    "identity_function",
    "step_function",
    "sigmoid",
    "sigmoid_grad",
    "relu",
    "relu_grad",
    "softmax",
    "mean_squared_error",
    "cross_entropy_error",
    "numerical_diff",
    "numerical_gradient",
    "gradient_descent",
    "init_network",
    "forward",
]

identity_function = identity


def init_network() -> dict[str, np.ndarray]:
    """Chapter 3's hand-set 2-3-2-2 network: W1 (2, 3), b1 (3,), W2 (3, 2), b2, W3 (2, 2), b3."""
    return {
        "W1": np.array([[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]]),
        "b1": np.array([0.1, 0.2, 0.3]),
        "W2": np.array([[0.1, 0.4], [0.2, 0.5], [0.3, 0.6]]),
        "b2": np.array([0.1, 0.2]),
        "W3": np.array([[0.1, 0.3], [0.2, 0.4]]),
        "b3": np.array([0.1, 0.2]),
    }


def forward(network: dict[str, np.ndarray], x: ArrayLike) -> np.ndarray:
    """Chapter 3's forward pass: affine -> sigmoid -> affine -> sigmoid -> affine -> identity.

    ``x`` is one input (2,) or a batch (N, 2); the output has the matching shape, so
    ``forward(init_network(), np.array([1.0, 0.5]))`` is [0.31682708, 0.69627909].
    """
    x = np.asarray(x, dtype=np.float64)
    features = np.shape(network["W1"])[0]
    if x.ndim not in (1, 2) or x.shape[-1] != features:
        raise ValueError(f"expected one input ({features},) or a batch (N, {features}), "
                         f"got {x.shape}")
    layers = [
        Affine(network["W1"], network["b1"]),
        Sigmoid(),
        Affine(network["W2"], network["b2"]),
        Sigmoid(),
        Affine(network["W3"], network["b3"]),
    ]
    out = np.atleast_2d(x)
    for layer in layers:
        out = layer.forward(out)
    y = identity_function(out)
    return y[0] if x.ndim == 1 else y
