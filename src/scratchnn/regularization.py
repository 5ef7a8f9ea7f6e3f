"""Layers against overfitting and for easier training (the book's chapter 6).

- :class:`Dropout` switches random units off while training;
- :class:`BatchNormalization` normalises each feature over the mini-batch.

Both behave differently in training and in inference: ``forward(x, train=True)`` is the
training behaviour, ``forward(x)`` (train=False) the inference one. Weight decay (L2) is not
a layer: see ``Sequential(weight_decay=...)``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from ._validate import assign, float_dtype, generator, number, positive_int
from .layers import Layer

__all__ = ["Dropout", "BatchNormalization"]


class Dropout(Layer):
    """Inverted dropout: zero each unit with probability ``ratio`` while training.

    train:     y = x * m / (1 - ratio),  m_i ~ Bernoulli(1 - ratio), a new mask per call;
    inference: y = x.
    Scaling the kept units at training time keeps E[y] = x, so inference needs no change
    (the book scales by (1 - ratio) at inference instead; the trained nets are equivalent).
    Backward: dx = dout * m / (1 - ratio), with the mask of the last forward pass.

    :meth:`freeze` keeps the last mask for the following training passes: a gradient check
    evaluates the loss many times and needs the same network every time.
    """

    def __init__(self, ratio: float = 0.5, seed: int | None = None,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.ratio = number(ratio, "dropout ratio", 0.0, 1.0)
        self.seed = seed
        self.rng = generator(seed, rng)
        self.frozen = False
        self.scaled_mask: np.ndarray | None = None  # m / (1 - ratio) of the last draw

    def config(self) -> dict:
        return {"ratio": self.ratio, "seed": self.seed}

    def freeze(self, frozen: bool = True) -> None:
        """Reuse the current mask in training passes (``frozen=False`` draws new ones again)."""
        if frozen and self.scaled_mask is None:
            raise RuntimeError("Dropout.freeze: run a training forward pass first to draw a mask")
        self.frozen = frozen

    def check_input(self, x: np.ndarray, train: bool = False) -> None:
        if train and self.frozen and self.scaled_mask.shape != x.shape:
            raise ValueError(f"frozen with a mask of shape {self.scaled_mask.shape}, got input "
                             f"of shape {x.shape}")

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        self.train = train
        if not train:
            return x
        if not self.frozen:
            # (NumPy draws float32 and float64 only: float16 input compares with float32.)
            draw = x.dtype if x.dtype.itemsize >= 4 else np.float32
            keep = self.rng.random(x.shape, dtype=draw) >= self.ratio
            self.scaled_mask = keep * x.dtype.type(1.0 / (1.0 - self.ratio))
        return x * self.scaled_mask

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout * self.scaled_mask if self.train else dout


class BatchNormalization(Layer):
    """Batch normalisation (Ioffe & Szegedy): normalise, then scale and shift.

    For x of shape (N, D) the statistics are per feature (over N); for images (N, C, H, W)
    per channel (over N, H and W), so ``num_features`` is D or C. With m values per feature:

    train:     mu = mean(x), var = mean((x - mu)^2), xhat = (x - mu) / sqrt(var + eps),
               y = gamma * xhat + beta;
               running_mean <- momentum * running_mean + (1 - momentum) * mu (same for var);
    inference: the same with running_mean and running_var in place of mu and var.
    As in the book, ``momentum`` is the weight of the old running value (PyTorch's momentum
    is 1 minus this) and the running variance averages the biased batch variances.

    Backward (training), with dxhat = dout * gamma and sums over the m values:
    dgamma = sum(dout * xhat), dbeta = sum(dout),
    dx = (m * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat)) / (m * sqrt(var + eps)).
    """

    def __init__(self, num_features: int, momentum: float = 0.9, eps: float = 1e-5,
                 dtype: DTypeLike = np.float32) -> None:
        super().__init__()
        self.num_features = positive_int(num_features, "num_features")
        self.momentum = number(momentum, "momentum", 0.0, 1.0)
        self.eps = number(eps, "eps", low_open=True)
        dtype = float_dtype(dtype)
        self.params = {"gamma": np.ones(num_features, dtype), "beta": np.zeros(num_features, dtype)}
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}
        self.running_mean = np.zeros(num_features, dtype)
        self.running_var = np.ones(num_features, dtype)

    @property
    def gamma(self) -> np.ndarray:
        return self.params["gamma"]

    @property
    def beta(self) -> np.ndarray:
        return self.params["beta"]

    def config(self) -> dict:
        return {"num_features": self.num_features, "momentum": self.momentum, "eps": self.eps,
                "dtype": str(self.gamma.dtype)}

    def state(self) -> dict[str, np.ndarray]:
        return {"running_mean": self.running_mean, "running_var": self.running_var}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        if set(state) != {"running_mean", "running_var"}:
            raise ValueError(f"expected running_mean and running_var, got {sorted(state)}")
        values = {name: np.asarray(value) for name, value in state.items()}
        if not all(v.dtype.kind in "fiu" and np.isfinite(v).all() for v in values.values()) \
                or (values["running_var"] < 0).any():
            raise ValueError("running_mean and running_var must be finite, and running_var "
                             ">= 0")
        for name, value in values.items():
            assign(name, getattr(self, name), value)

    def check_input(self, x: np.ndarray, train: bool = False) -> None:
        if x.ndim not in (2, 4) or x.shape[1] != self.num_features:
            raise ValueError(f"expects (N, {self.num_features}) or (N, {self.num_features}, "
                             f"H, W), got shape {x.shape}")
        if train and x.size < 2 * self.num_features:  # (PyTorch refuses it too)
            raise ValueError(f"needs more than 1 value per feature to train, got input of "
                             f"shape {x.shape}: a batch of 1 sample has no variance (with a "
                             "Trainer, drop_last=True skips a last batch of 1)")

    def _axes(self, x: np.ndarray) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Axes to reduce over, and the shape that broadcasts a (D,) vector against x."""
        return ((0,), (1, -1)) if x.ndim == 2 else ((0, 2, 3), (1, -1, 1, 1))

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        axes, shape = self._axes(x)
        if train:
            mu = x.mean(axis=axes)
            centred = x - mu.reshape(shape)
            var = np.mean(centred * centred, axis=axes)
            m = self.momentum
            self.running_mean[...] = m * self.running_mean + (1 - m) * mu
            self.running_var[...] = m * self.running_var + (1 - m) * var
        else:
            centred = x - self.running_mean.reshape(shape)
            var = self.running_var
        self.inv_std = 1 / np.sqrt(var + self.eps)
        self.xhat = centred * self.inv_std.reshape(shape)
        self.train = train
        return self.xhat * self.gamma.reshape(shape) + self.beta.reshape(shape)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        axes, shape = self._axes(dout)
        np.sum(dout * self.xhat, axis=axes, out=self.grads["gamma"])
        np.sum(dout, axis=axes, out=self.grads["beta"])
        dxhat = dout * self.gamma.reshape(shape)
        inv_std = self.inv_std.reshape(shape)
        if not self.train:  # the statistics were constants: y is affine in x
            return dxhat * inv_std
        m = dout.size // self.num_features
        sum_dxhat = dxhat.sum(axis=axes).reshape(shape)
        sum_dxhat_xhat = np.sum(dxhat * self.xhat, axis=axes).reshape(shape)
        return (dxhat - (sum_dxhat + self.xhat * sum_dxhat_xhat) / m) * inv_std
