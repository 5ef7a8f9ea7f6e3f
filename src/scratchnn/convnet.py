"""Convolutional networks of the book's chapters 7 and 8, built from the same layers.

Inputs are images of shape (N, C, H, W), e.g. MNIST loaded with ``flatten=False``:

    net = SimpleConvNet(seed=0)
    opt = Adam(lr=0.001)
    loss = net.backprop(x_batch, t_batch); opt.update(net.params, net.grads)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import DTypeLike

from .conv import Convolution2D, Flatten, MaxPooling2D
from .init import _float_dtype, _seed_or_rng
from .layers import Affine, Layer, ReLU
from .network import Sequential
from .regularization import Dropout

__all__ = ["SimpleConvNet", "DeepConvNet", "CONVNETS"]


def _check_input_dim(input_dim: Sequence[int]) -> tuple[int, int, int]:
    dims = tuple(input_dim)
    if len(dims) != 3 or not all(isinstance(d, (int, np.integer)) and d >= 1 for d in dims):
        raise ValueError(f"input_dim must be (channels, height, width), got {input_dim!r}")
    return tuple(int(d) for d in dims)


class SimpleConvNet(Sequential):
    """The book's SimpleConvNet (chapter 7):

        conv(filters, kernel_size) - relu - maxpool 2x2 - affine(hidden) - relu - affine(classes)
        - softmax with cross-entropy

    For MNIST, (1, 28, 28) -> (30, 24, 24) -> (30, 12, 12) -> 100 -> 10. The book draws
    every weight as 0.01 * randn (``init="normal"``); He initialisation (the default here)
    makes Adam converge in fewer epochs.
    """

    def __init__(
        self,
        input_dim: Sequence[int] = (1, 28, 28),
        filters: int = 30,
        kernel_size: int = 5,
        hidden: int = 100,
        classes: int = 10,
        dtype: DTypeLike = np.float32,
        seed: int | None = None,
        *,
        rng: np.random.Generator | None = None,
        init: str = "he",
        weight_decay: float = 0.0,
    ) -> None:
        input_dim = _check_input_dim(input_dim)
        dtype = _float_dtype(dtype)
        rng = _seed_or_rng(seed, rng)
        conv = Convolution2D(in_channels=input_dim[0], out_channels=filters,
                             kernel_size=kernel_size, init=init, dtype=dtype, rng=rng)
        f, oh, ow = conv.output_shape(input_dim)
        if oh < 2 or ow < 2:
            raise ValueError(f"input {input_dim} is too small for a {kernel_size}x{kernel_size} "
                             "convolution followed by 2x2 pooling")
        pooled = f * (oh // 2) * (ow // 2)
        layers: list[Layer] = [
            conv,
            ReLU(),
            MaxPooling2D(pool=2, stride=2),
            Flatten(),
            Affine(in_features=pooled, out_features=hidden, init=init, dtype=dtype, rng=rng),
            ReLU(),
            Affine(in_features=hidden, out_features=classes, init=init, dtype=dtype, rng=rng),
        ]
        super().__init__(layers, weight_decay=weight_decay)
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

    def __init__(
        self,
        input_dim: Sequence[int] = (1, 28, 28),
        classes: int = 10,
        dtype: DTypeLike = np.float32,
        seed: int | None = None,
        *,
        rng: np.random.Generator | None = None,
        hidden: int = 50,
        dropout: float = 0.5,
        weight_decay: float = 0.0,
    ) -> None:
        input_dim = _check_input_dim(input_dim)
        dtype = _float_dtype(dtype)
        rng = _seed_or_rng(seed, rng)
        layers: list[Layer] = []
        shape = input_dim
        convs = [(16, 1), (16, 1), (32, 1), (32, 2), (64, 1), (64, 1)]
        for i, (filters, pad) in enumerate(convs):
            conv = Convolution2D(in_channels=shape[0], out_channels=filters, kernel_size=3,
                                 pad=pad, init="he", dtype=dtype, rng=rng)
            shape = conv.output_shape(shape)
            layers += [conv, ReLU()]
            if i % 2 == 1:
                if shape[1] < 2 or shape[2] < 2:
                    raise ValueError(f"input {input_dim} is too small for DeepConvNet")
                layers.append(MaxPooling2D(pool=2, stride=2))
                shape = (shape[0], shape[1] // 2, shape[2] // 2)
        features = shape[0] * shape[1] * shape[2]
        layers += [
            Flatten(),
            Affine(in_features=features, out_features=hidden, init="he", dtype=dtype, rng=rng),
            ReLU(),
            Dropout(dropout, seed=int(rng.integers(2**31))),
            Affine(in_features=hidden, out_features=classes, init="he", dtype=dtype, rng=rng),
            Dropout(dropout, seed=int(rng.integers(2**31))),
        ]
        super().__init__(layers, weight_decay=weight_decay)
        self.input_dim = input_dim


#: the convolutional models by the name a command line uses for them
CONVNETS = {"convnet": SimpleConvNet, "deepconvnet": DeepConvNet}
