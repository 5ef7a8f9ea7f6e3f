"""Activation and loss functions as pure NumPy functions.

Every function takes arrays of any batch shape with features on the last axis, never
writes into its input, keeps floating dtypes (float32 stays float32) and turns integer
input into float64. None of them overflows or warns, even for inputs of +-1e4.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

__all__ = [
    "as_float_array",
    "step_function",
    "sigmoid",
    "sigmoid_grad",
    "tanh",
    "tanh_grad",
    "relu",
    "relu_grad",
    "leaky_relu",
    "leaky_relu_grad",
    "identity",
    "softmax",
    "log_softmax",
    "mean_squared_error",
    "cross_entropy_error",
    "softmax_cross_entropy",
    "binary_cross_entropy",
    "one_hot",
]


def as_float_array(x: ArrayLike) -> np.ndarray:
    """Return ``x`` as a floating array: float arrays keep their dtype, the rest become float64."""
    x = np.asarray(x)
    if x.dtype.kind == "f":
        return x
    if x.dtype.kind in "biu":
        return x.astype(np.float64)
    raise TypeError(f"expected a numeric array, got dtype {x.dtype}")


# --- activations -----------------------------------------------------------------------


def step_function(x: ArrayLike) -> np.ndarray:
    """Heaviside step: 1 where x > 0, else 0 (integer output, as in the book)."""
    return (np.asarray(x) > 0).astype(np.int64)


def sigmoid(x: ArrayLike) -> np.ndarray:
    """sigmoid(x) = 1 / (1 + exp(-x)), computed without overflow.

    exp is only ever taken of -|x| <= 0, so it lies in (0, 1]:
    x >= 0: 1 / (1 + e^-x);  x < 0: e^x / (1 + e^x).
    """
    x = as_float_array(x)
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z))


def sigmoid_grad(x: ArrayLike) -> np.ndarray:
    """d sigmoid / dx = sigmoid(x) * (1 - sigmoid(x))."""
    s = sigmoid(x)
    return s * (1 - s)


def tanh(x: ArrayLike) -> np.ndarray:
    """Hyperbolic tangent (NumPy's is already stable)."""
    return np.tanh(as_float_array(x))


def tanh_grad(x: ArrayLike) -> np.ndarray:
    """d tanh / dx = 1 - tanh(x)^2."""
    y = np.tanh(as_float_array(x))
    return 1 - y * y


def relu(x: ArrayLike) -> np.ndarray:
    """max(0, x)."""
    x = as_float_array(x)
    return np.maximum(x, 0)


def relu_grad(x: ArrayLike) -> np.ndarray:
    """1 where x > 0, else 0 (the subgradient at 0 is taken as 0)."""
    x = as_float_array(x)
    return (x > 0).astype(x.dtype)


def leaky_relu(x: ArrayLike, alpha: float = 0.01) -> np.ndarray:
    """x where x > 0, else alpha * x."""
    x = as_float_array(x)
    return np.where(x > 0, x, x * x.dtype.type(alpha))


def leaky_relu_grad(x: ArrayLike, alpha: float = 0.01) -> np.ndarray:
    """1 where x > 0, else alpha."""
    x = as_float_array(x)
    return np.where(x > 0, x.dtype.type(1), x.dtype.type(alpha))


def identity(x: ArrayLike) -> np.ndarray:
    """The output activation of regression: returns x unchanged (as an array)."""
    return np.asarray(x)


def softmax(x: ArrayLike, axis: int = -1) -> np.ndarray:
    """softmax(x)_i = exp(x_i - max(x)) / sum_j exp(x_j - max(x)) along ``axis``.

    Subtracting the maximum leaves the result unchanged and keeps every exponent <= 0.
    """
    x = as_float_array(x)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x: ArrayLike, axis: int = -1) -> np.ndarray:
    """log softmax(x) = x - max - log(sum(exp(x - max))), exact for any input size."""
    x = as_float_array(x)
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


# --- losses ----------------------------------------------------------------------------


def one_hot(labels: ArrayLike, num_classes: int, dtype: DTypeLike = np.float64) -> np.ndarray:
    """Integer labels of shape (N,) to a one-hot matrix of shape (N, num_classes)."""
    labels = _check_labels(np.asarray(labels), num_classes)
    out = np.zeros((*labels.shape, num_classes), dtype=dtype)
    np.put_along_axis(out, labels[..., None], 1, axis=-1)
    return out


def _check_labels(t: np.ndarray, num_classes: int) -> np.ndarray:
    if t.dtype.kind not in "iu":
        if t.dtype.kind == "f" and np.all(t == np.round(t)):  # (an empty array passes)
            t = t.astype(np.int64)
        else:
            raise TypeError(f"integer class labels expected, got dtype {t.dtype}")
    if t.size and (t.min() < 0 or t.max() >= num_classes):
        raise ValueError(
            f"labels must lie in [0, {num_classes - 1}], got values from {t.min()} to {t.max()}"
        )
    return t


def _check_finite(name: str, a: np.ndarray) -> None:
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or inf values")


def _check_batch(y: np.ndarray) -> None:
    if y.ndim == 0:
        raise ValueError("expected an array of predictions, got a scalar")
    if y.size == 0:
        raise ValueError(f"empty batch: predictions have shape {y.shape}")


def _pair(y: ArrayLike, t: ArrayLike, labels_ok: bool):
    """Validate predictions y and targets t; return (y2d, t2d, batch) with t one-hot or labels."""
    y = as_float_array(y)
    t = np.asarray(t)
    _check_batch(y)
    _check_finite("predictions y", y)
    if labels_ok and t.shape == y.shape[:-1] and t.dtype.kind in "iubf":
        t = _check_labels(t, y.shape[-1])
        return y.reshape(-1, y.shape[-1]), t.reshape(-1), True
    if t.shape != y.shape:
        expected = f"{y.shape} or labels of shape {y.shape[:-1]}" if labels_ok else f"{y.shape}"
        raise ValueError(f"target shape mismatch: expected {expected}, got t of shape {t.shape}")
    _check_finite("targets t", as_float_array(t))
    return y.reshape(-1, y.shape[-1]), t.reshape(-1, y.shape[-1]), False


def mean_squared_error(y: ArrayLike, t: ArrayLike) -> float:
    """0.5 * sum((y - t)^2), averaged over the batch when y is 2-D (or more)."""
    y2, t2, _ = _pair(y, t, labels_ok=False)
    batch = y2.shape[0] if np.ndim(y) >= 2 else 1
    diff = y2 - t2
    return float(0.5 * np.sum(diff * diff) / batch)


def cross_entropy_error(y: ArrayLike, t: ArrayLike, eps: float = 1e-7) -> float:
    """The book's cross-entropy -sum(t * log(y + eps)), averaged over the batch.

    ``y`` holds probabilities (softmax output), (C,) for one sample or (N, C) for a batch;
    ``t`` is one-hot of the same shape or integer labels of shape () / (N,).
    The epsilon guards log(0); for training use :func:`softmax_cross_entropy` on logits.
    """
    y2, t2, labels = _pair(y, t, labels_ok=True)
    batch = y2.shape[0]
    if labels:
        picked = y2[np.arange(batch), t2]
        return float(-np.sum(np.log(picked + eps)) / batch)
    return float(-np.sum(t2 * np.log(y2 + eps)) / batch)


def softmax_cross_entropy(logits: ArrayLike, t: ArrayLike) -> float:
    """Exact cross-entropy of softmax(logits) via log-softmax, averaged over the batch.

    No epsilon: this is the loss whose gradient is exactly (softmax(logits) - t) / N.
    """
    y2, t2, labels = _pair(logits, t, labels_ok=True)
    logp = log_softmax(y2)
    batch = y2.shape[0]
    if labels:
        return float(-np.sum(logp[np.arange(batch), t2]) / batch)
    return float(-np.sum(t2 * logp) / batch)


def binary_cross_entropy(y: ArrayLike, t: ArrayLike, eps: float = 0.0) -> float:
    """-mean(t log y + (1 - t) log(1 - y)): the course's ``compute_cost``.

    ``y`` holds probabilities in (0, 1); ``t`` holds 0/1 targets of the same shape.
    The mean runs over every element (the course's (1, m) layout and a (m, 1) column agree).
    """
    y = as_float_array(y)
    t = np.asarray(t)
    _check_batch(y)
    _check_finite("predictions y", y)
    if t.shape != y.shape:
        raise ValueError(f"target shape mismatch: expected {y.shape}, got t of shape {t.shape}")
    if t.dtype.kind not in "biuf":
        raise TypeError(f"targets t must hold numbers, got dtype {t.dtype}")
    if np.any((y < 0) | (y > 1)):
        raise ValueError("binary_cross_entropy expects probabilities y in [0, 1]")
    # (NaN compares false both ways, so it is caught here too.)
    if not np.all((t >= 0) & (t <= 1)):
        raise ValueError("binary_cross_entropy expects targets t in [0, 1] (no NaN)")
    # 0 * log(0) is 0 in the limit: a term whose weight is 0 is dropped, not evaluated.
    with np.errstate(divide="ignore", invalid="ignore"):
        pos = np.where(t > 0, t * np.log(y + eps), 0.0)
        neg = np.where(t < 1, (1 - t) * np.log(1 - y + eps), 0.0)
    return float(-np.mean(pos + neg))
