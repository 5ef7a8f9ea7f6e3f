"""Ready-made networks, built from the layers (the book's chapters 5-8 and the course).

- :class:`MLP` and the book's :class:`TwoLayerNet` (chapters 4-6);
- :class:`SimpleConvNet` (chapter 7) and :class:`DeepConvNet` (chapter 8), on images of
  shape (N, C, H, W), e.g. MNIST loaded with ``flatten=False``;
- :func:`make_model`: any of them by name, as the command line builds them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import DTypeLike

from ._validate import float_dtype, generator, positive_int
from .conv import Convolution2D, Flatten, MaxPooling2D
from .init import initialize
from .layers import ACTIVATIONS, OUTPUTS, Affine, Layer, ReLU
from .network import Sequential
from .regularization import Dropout

__all__ = ["MLP", "TwoLayerNet", "SimpleConvNet", "DeepConvNet", "MODELS", "make_model"]


class MLP(Sequential):
    """A multi-layer perceptron: Affine -> activation -> ... -> Affine -> output/loss.

    ``sizes`` lists the layer widths from input to output, e.g. [784, 100, 10];
    ``activation`` is one of relu, leaky_relu, sigmoid, tanh; ``output`` one of
    softmax (cross-entropy), sigmoid (binary cross-entropy), identity (squared error);
    ``init`` one of the names in :mod:`scratchnn.init` ("auto": He for ReLU, Xavier else).
    """

    def __init__(self, sizes: Sequence[int], activation: str = "relu", output: str = "softmax",
                 init: str = "auto", dtype: DTypeLike = np.float32, seed: int | None = None,
                 rng: np.random.Generator | None = None, weight_decay: float = 0.0,
                 weight_init_std: float = 0.01) -> None:
        if isinstance(sizes, str) or len(sizes) < 2:
            raise ValueError(f"sizes must list at least 2 widths, got {sizes!r}")
        sizes = [positive_int(s, f"sizes[{i}]") for i, s in enumerate(sizes)]
        _known(activation, ACTIVATIONS, "activation")
        _known(output, OUTPUTS, "output")
        if init == "auto":
            init = "he" if activation in ("relu", "leaky_relu") else "xavier"
        dtype = float_dtype(dtype)
        rng = generator(seed, rng)
        layers: list[Layer] = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
            W = initialize(init, (n_in, n_out), rng=rng, dtype=dtype, std=weight_init_std)
            layers += [Affine(W), ACTIVATIONS[activation]()]
        super().__init__(layers[:-1], OUTPUTS[output](), weight_decay=weight_decay)
        self.sizes = sizes
        self.activation = activation
        self.output = output
        self.init = init


def _known(name: str, choices: dict, what: str) -> None:
    if name not in choices:
        raise ValueError(f"unknown {what} {name!r}; expected one of {list(choices)}")


class TwoLayerNet(MLP):
    """The book's two-layer network (chapter 5): Affine -> ReLU -> Affine -> SoftmaxWithLoss.

    ``TwoLayerNet(784, 50, 10)`` has ``params`` W1, b1, W2, b2 drawn as
    ``weight_init_std * randn``, and the book's ``predict``, ``loss``, ``accuracy``,
    ``numerical_gradient`` and ``gradient``. Chapter 4's sigmoid variant is
    ``TwoLayerNet(..., activation="sigmoid")``. float64 by default, like the book.
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int,
                 weight_init_std: float = 0.01, activation: str = "relu",
                 dtype: DTypeLike = np.float64, seed: int | None = None,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__([input_size, hidden_size, output_size], activation=activation,
                         init="normal", weight_init_std=weight_init_std, dtype=dtype,
                         seed=seed, rng=rng)


def _input_dim(input_dim: Sequence[int]) -> tuple[int, int, int]:
    dims = tuple(input_dim)
    if len(dims) != 3 or not all(isinstance(d, (int, np.integer)) and d >= 1 for d in dims):
        raise ValueError(f"input_dim must be (channels, height, width), got {input_dim!r}")
    return tuple(int(d) for d in dims)


def _conv(shape: tuple[int, int, int], filters: int, kernel: int, pad: int, init: str,
          dtype: np.dtype, rng: np.random.Generator) -> Convolution2D:
    W = initialize(init, (positive_int(filters, "filters"), shape[0], kernel, kernel),
                   rng=rng, dtype=dtype)
    return Convolution2D(W, pad=pad)


def _affine(n_in: int, n_out: int, init: str, dtype: np.dtype, rng) -> Affine:
    return Affine(initialize(init, (n_in, positive_int(n_out, "width")), rng=rng,
                             dtype=dtype))


class SimpleConvNet(Sequential):
    """The book's SimpleConvNet (chapter 7):

        conv(filters, kernel_size) - relu - maxpool 2x2 - affine(hidden) - relu - affine(classes)
        - softmax with cross-entropy

    For MNIST, (1, 28, 28) -> (30, 24, 24) -> (30, 12, 12) -> 100 -> 10. The book draws
    every weight as 0.01 * randn (``init="normal"``); He initialisation (the default here)
    makes Adam converge in fewer epochs.
    """

    def __init__(self, input_dim: Sequence[int] = (1, 28, 28), filters: int = 30,
                 kernel_size: int = 5, hidden: int = 100, classes: int = 10,
                 dtype: DTypeLike = np.float32, seed: int | None = None, *,
                 rng: np.random.Generator | None = None, init: str = "he",
                 weight_decay: float = 0.0) -> None:
        input_dim = _input_dim(input_dim)
        dtype = float_dtype(dtype)
        rng = generator(seed, rng)
        kernel_size = positive_int(kernel_size, "kernel_size")
        conv = _conv(input_dim, filters, kernel_size, 0, init, dtype, rng)
        f, oh, ow = conv.output_shape(input_dim)
        if oh < 2 or ow < 2:
            raise ValueError(f"input {input_dim} is too small for a {kernel_size}x{kernel_size} "
                             "convolution followed by 2x2 pooling")
        pooled = f * (oh // 2) * (ow // 2)
        super().__init__([conv, ReLU(), MaxPooling2D(pool=2, stride=2), Flatten(),
                          _affine(pooled, hidden, init, dtype, rng), ReLU(),
                          _affine(hidden, classes, init, dtype, rng)],
                         weight_decay=weight_decay)
        self.input_dim = input_dim


class DeepConvNet(Sequential):
    """The book's DeepConvNet (chapter 8), He-initialised:

        [conv3x3(16) - relu - conv3x3(16) - relu - maxpool 2x2]
        [conv3x3(32) - relu - conv3x3(32, pad 2) - relu - maxpool 2x2]
        [conv3x3(64) - relu - conv3x3(64) - relu - maxpool 2x2]
        affine(50) - relu - dropout(0.5) - affine(classes) - dropout(0.5) - softmax

    Every convolution has stride 1 and pad 1 (the fourth pad 2, as in the book), so for
    MNIST the maps are 28 -> 14 -> 16 -> 8 -> 4 pixels wide and the first affine layer
    sees 64 * 4 * 4 = 1024 features.
    """

    def __init__(self, input_dim: Sequence[int] = (1, 28, 28), classes: int = 10,
                 dtype: DTypeLike = np.float32, seed: int | None = None, *,
                 rng: np.random.Generator | None = None, hidden: int = 50,
                 dropout: float = 0.5, weight_decay: float = 0.0) -> None:
        input_dim = _input_dim(input_dim)
        dtype = float_dtype(dtype)
        rng = generator(seed, rng)
        layers: list[Layer] = []
        shape = input_dim
        for i, (filters, pad) in enumerate([(16, 1), (16, 1), (32, 1), (32, 2), (64, 1), (64, 1)]):
            conv = _conv(shape, filters, 3, pad, "he", dtype, rng)
            shape = conv.output_shape(shape)
            layers += [conv, ReLU()]
            if i % 2 == 1:
                if shape[1] < 2 or shape[2] < 2:
                    raise ValueError(f"input {input_dim} is too small for DeepConvNet")
                layers.append(MaxPooling2D(pool=2, stride=2))
                shape = (shape[0], shape[1] // 2, shape[2] // 2)
        layers += [Flatten(), _affine(shape[0] * shape[1] * shape[2], hidden, "he", dtype, rng),
                   ReLU(), Dropout(dropout, seed=int(rng.integers(2**31))),
                   _affine(hidden, classes, "he", dtype, rng),
                   Dropout(dropout, seed=int(rng.integers(2**31)))]
        super().__init__(layers, weight_decay=weight_decay)
        self.input_dim = input_dim


#: the models :func:`make_model` builds, by the name a command line uses for them
MODELS = ("mlp", "convnet", "deepconvnet")


def make_model(kind: str, input_shape: Sequence[int], outputs: int, *,
               hidden: Sequence[int] = (256,), activation: str = "relu",
               output: str = "softmax", init: str = "auto", dtype: DTypeLike = np.float32,
               rng: np.random.Generator | int | None = None,
               weight_decay: float = 0.0) -> Sequential:
    """A model by name: "mlp" (input_shape (features,), layers ``hidden``), "convnet" or
    "deepconvnet" (input_shape (C, H, W)), with ``outputs`` classes or outputs."""
    _known(kind, dict.fromkeys(MODELS), "model")
    rng = generator(rng=rng)
    if kind == "mlp":
        features = int(np.prod(input_shape))
        return MLP([features, *hidden, outputs], activation=activation, output=output,
                   init=init, dtype=dtype, rng=rng, weight_decay=weight_decay)
    cls = SimpleConvNet if kind == "convnet" else DeepConvNet
    return cls(input_dim=input_shape, classes=outputs, dtype=dtype, rng=rng,
               weight_decay=weight_decay)
