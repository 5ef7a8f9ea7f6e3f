"""Activation and loss functions as pure NumPy functions (the book's chapters 3 and 4).

Every function takes arrays of any batch shape with features on the last axis, never
writes into its input, keeps floating dtypes (float32 stays float32) and turns integer
input into float64. None of them warns, even for inputs of +-1e4.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from ._validate import (
    check_batch,
    check_labels,
    check_loss_pair,
    check_probabilities,
    real_array,
)

__all__ = [
    "as_float_array", "step_function", "sigmoid", "sigmoid_grad", "tanh", "tanh_grad",
    "relu", "relu_grad", "leaky_relu", "leaky_relu_grad", "identity", "softmax",
    "log_softmax", "mean_squared_error", "cross_entropy_error", "softmax_cross_entropy",
    "binary_cross_entropy", "one_hot", "predicted_classes", "class_labels", "accuracy",
]


def as_float_array(x: ArrayLike) -> np.ndarray:
    """``x`` as a floating array: float arrays keep their dtype, the rest become float64."""
    return real_array(x)


# --- activations (chapter 3) -------------------------------------------------------------


def step_function(x: ArrayLike) -> np.ndarray:
    """Heaviside step: 1 where x > 0, else 0 (integer output, as in the book)."""
    return (np.asarray(x) > 0).astype(np.int64)


def sigmoid(x: ArrayLike) -> np.ndarray:
    """sigmoid(x) = 1 / (1 + exp(-x)), exact to the last bit wherever it is representable.

    For x below about -88 (float32) or -709 (float64) exp(-x) is inf and the result the
    exact limit 0: the overflow is expected and not reported.
    """
    x = as_float_array(x)
    y = np.negative(x, out=np.empty_like(x))  # one array for the four passes, even for 0-d x
    with np.errstate(over="ignore"):
        np.exp(y, out=y)
    y += 1
    return np.divide(1, y, out=y)


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
    return np.maximum(as_float_array(x), 0)


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


# --- losses (chapter 4) ------------------------------------------------------------------


def one_hot(labels: ArrayLike, num_classes: int, dtype: DTypeLike = np.float64) -> np.ndarray:
    """Integer labels of shape (N,) to a one-hot matrix of shape (N, num_classes)."""
    labels = check_labels(labels, num_classes)
    out = np.zeros((*labels.shape, num_classes), dtype=dtype)
    np.put_along_axis(out, labels[..., None], 1, axis=-1)
    return out


def mean_squared_error(y: ArrayLike, t: ArrayLike) -> float:
    """0.5 * sum((y - t)^2), averaged over the batch when y is 2-D (or more)."""
    y2, t2, _ = check_loss_pair(y, t, labels_ok=False)
    batch = y2.shape[0] if np.ndim(y) >= 2 else 1
    diff = y2 - t2
    return float(0.5 * np.sum(diff * diff) / batch)


def cross_entropy_error(y: ArrayLike, t: ArrayLike, eps: float = 1e-7) -> float:
    """The book's cross-entropy -sum(t * log(y + eps)), averaged over the batch.

    ``y`` holds probabilities (softmax output), (C,) for one sample or (N, C) for a batch;
    ``t`` is one-hot of the same shape or integer labels of shape () / (N,).
    The epsilon guards log(0) and the book's published values need it; for training use
    :func:`softmax_cross_entropy` on logits.
    """
    y2, t2, labels = check_loss_pair(y, t, labels_ok=True)
    batch = y2.shape[0]
    if labels:
        return float(-np.sum(np.log(y2[np.arange(batch), t2] + eps)) / batch)
    return float(-np.sum(t2 * np.log(y2 + eps)) / batch)


def softmax_cross_entropy(logits: ArrayLike, t: ArrayLike) -> float:
    """Exact cross-entropy of softmax(logits) via log-softmax, averaged over the batch.

    No epsilon: this is the loss whose gradient is exactly (softmax(logits) - t) / N.
    """
    y2, t2, labels = check_loss_pair(logits, t, labels_ok=True)
    logp = log_softmax(y2)
    batch = y2.shape[0]
    if labels:
        return float(-np.sum(logp[np.arange(batch), t2]) / batch)
    return float(-np.sum(t2 * logp) / batch)


def binary_cross_entropy(y: ArrayLike, t: ArrayLike, eps: float = 0.0) -> float:
    """-mean(t log y + (1 - t) log(1 - y)): the course's ``compute_cost``.

    ``y`` holds probabilities in [0, 1]; ``t`` holds 0/1 targets of the same shape.
    The mean runs over every element (the course's (1, m) layout and a (m, 1) column agree).
    """
    y, t = check_probabilities(y, t)
    # 0 * log(0) is 0 in the limit: a term whose weight is 0 is dropped, not evaluated.
    with np.errstate(divide="ignore", invalid="ignore"):
        pos = np.where(t > 0, t * np.log(y + eps), 0.0)
        neg = np.where(t < 1, (1 - t) * np.log(1 - y + eps), 0.0)
    return float(-np.mean(pos + neg))


# --- what a network predicts -------------------------------------------------------------


def predicted_classes(scores: np.ndarray) -> np.ndarray:
    """The class each row of scores (N, outputs) predicts: the largest score, or for a
    single (sigmoid) output, 1 where its logit is above 0."""
    if scores.shape[1] == 1:
        return (scores[:, 0] > 0).astype(np.int64)
    return np.argmax(scores, axis=1)


def class_labels(t: ArrayLike) -> np.ndarray:
    """Targets as one label per sample: one-hot rows (N, C > 1) give their argmax."""
    t = np.asarray(t)
    if t.ndim == 2 and t.shape[1] > 1:
        return np.argmax(t, axis=1)
    return t.reshape(-1)


def accuracy(scores: ArrayLike, t: ArrayLike) -> float:
    """Fraction of rows of ``scores`` whose :func:`predicted_classes` equals ``t``.

    ``t`` holds labels (N,) or one-hot rows; a single sigmoid output predicts class 0 or 1.
    """
    scores = check_batch(scores, "scores")
    if not np.isfinite(scores).all():
        raise ValueError("scores contain NaN or inf: x holds NaN or inf, or the weights do")
    t = class_labels(t)
    if t.shape != (len(scores),):
        raise ValueError(f"expected {len(scores)} labels, got t of shape {t.shape}")
    t = check_labels(t, max(scores.shape[1], 2))
    return float(np.mean(predicted_classes(scores) == t))
