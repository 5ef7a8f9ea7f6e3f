"""Layers: small classes whose ``forward`` and ``backward`` mirror the math.

Conventions (the book's chapter 5, batch-first like NumPy and PyTorch):

- ``forward(x, train=False)`` returns the layer's output and remembers what backward needs;
- ``backward(dout)`` takes dL/d(output) and returns dL/d(input), filling ``grads``;
  it never writes into ``dout``;
- ``params`` and ``grads`` are dicts from a short name ("W", "b") to arrays of the same shape;
- ``config()`` returns the constructor arguments, so a model file can rebuild the layer.

The output layers at the end (:class:`SoftmaxCrossEntropy`, :class:`SigmoidBinaryCrossEntropy`,
:class:`IdentityMSE`) fuse the last activation with its loss: their ``forward(x, t)`` returns
the loss and their ``backward()`` the simple closed form (y - t) / N.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from ._checks import positive_int
from .functions import _check_labels, as_float_array, sigmoid, softmax

__all__ = [
    "Layer",
    "Affine",
    "Dense",
    "ReLU",
    "LeakyReLU",
    "Sigmoid",
    "Tanh",
    "Identity",
    "LossLayer",
    "SoftmaxCrossEntropy",
    "SigmoidBinaryCrossEntropy",
    "IdentityMSE",
]


class Layer:
    """Base class: a layer without parameters that passes its input through."""

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def config(self) -> dict:
        """Constructor arguments as plain JSON values (for model files)."""
        return {}

    def state(self) -> dict[str, np.ndarray]:
        """Arrays that are not trained but belong to the model (e.g. running means)."""
        return {}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Set the arrays returned by :meth:`state`."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


def _need_forward(layer: Layer, cached) -> None:
    if cached is None:
        raise RuntimeError(f"{type(layer).__name__}.backward called before forward")


def _assign(name: str, own: np.ndarray, value: ArrayLike) -> None:
    """own[...] = value, for a parameter or a state array loaded from outside: the same
    shape, and real numbers (float64 into float32 is fine; complex or text is not)."""
    value = np.asarray(value)
    if value.shape != own.shape:
        raise ValueError(f"{name}: expected shape {own.shape}, got {value.shape}")
    if not np.can_cast(value.dtype, own.dtype, casting="same_kind"):
        raise TypeError(f"{name}: expected real numbers ({own.dtype}), got an array of "
                        f"{value.dtype}")
    own[...] = value


def _check_dout(layer: Layer, dout: np.ndarray, expected: tuple) -> np.ndarray:
    dout = np.asarray(dout)
    if dout.dtype.kind not in "fiub":
        raise TypeError(f"{type(layer).__name__}.backward: dout must hold real numbers, got "
                        f"dtype {dout.dtype}")
    if dout.dtype.kind != "f":  # integer gradients: computed (and returned) as float64
        dout = dout.astype(np.float64)
    if dout.shape != expected:
        raise ValueError(
            f"{type(layer).__name__}.backward: expected dout of shape {expected}, "
            f"got {dout.shape}"
        )
    return dout


class Affine(Layer):
    """Fully connected layer: y = x @ W + b.

    Shapes: x (N, d_in) — or (N, ...) which is flattened, as the book's Affine does;
    W (d_in, d_out); b (d_out,); y (N, d_out).
    Backward: dW = x^T dout, db = sum_N dout, dx = dout W^T (reshaped to x's shape).

    Set ``need_dx = False`` on a network's first layer: nothing uses the gradient with
    respect to the data, and skipping it saves a third of that layer's backward work.
    """

    def __init__(
        self,
        W: np.ndarray | None = None,
        b: np.ndarray | None = None,
        *,
        in_features: int | None = None,
        out_features: int | None = None,
        init: str = "he",
        dtype=np.float32,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__()
        if W is None:
            from .init import initialize

            if in_features is None or out_features is None:
                raise TypeError("Affine needs W (and b) or in_features and out_features")
            shape = (positive_int(in_features, "in_features"),
                     positive_int(out_features, "out_features"))
            W = initialize(init, shape, rng=rng, dtype=dtype)
        W = as_float_array(W)
        if W.ndim != 2 or W.size == 0:
            raise ValueError(f"W must be 2-D (d_in, d_out) and not empty, got shape {W.shape}")
        b = np.zeros(W.shape[1], dtype=W.dtype) if b is None else np.asarray(b, dtype=W.dtype)
        if b.shape != (W.shape[1],):
            raise ValueError(f"b must have shape ({W.shape[1]},) to match W, got {b.shape}")
        self.params = {"W": W, "b": b}
        self.grads = {"W": np.zeros_like(W), "b": np.zeros_like(b)}
        self.need_dx = True
        self.x: np.ndarray | None = None
        self.x_shape: tuple | None = None

    @property
    def W(self) -> np.ndarray:
        return self.params["W"]

    @property
    def b(self) -> np.ndarray:
        return self.params["b"]

    @property
    def dW(self) -> np.ndarray:
        return self.grads["W"]

    @property
    def db(self) -> np.ndarray:
        return self.grads["b"]

    def config(self) -> dict:
        return {"in_features": int(self.W.shape[0]), "out_features": int(self.W.shape[1])}

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim < 2:
            raise ValueError(f"Affine expects a batch (N, features), got shape {x.shape}")
        if x.dtype.kind not in "biuf":  # (complex would lose its imaginary part silently)
            raise TypeError(f"Affine expects real numbers, got dtype {x.dtype}")
        self.x_shape = x.shape
        # The width spelled out, not -1: an empty batch (N = 0) has a width too.
        x = x.reshape(x.shape[0], math.prod(x.shape[1:])).astype(self.W.dtype, copy=False)
        if x.shape[1] != self.W.shape[0]:
            raise ValueError(
                f"Affine: input has {x.shape[1]} features per sample (shape {self.x_shape}), "
                f"but W expects {self.W.shape[0]} (W has shape {self.W.shape})"
            )
        self.x = x
        out = x @ self.W
        out += self.b  # in place: one temporary fewer than x @ W + b
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        _need_forward(self, self.x)
        dout = _check_dout(self, dout, (self.x.shape[0], self.W.shape[1]))
        np.matmul(self.x.T, dout, out=self.grads["W"])
        dout.sum(axis=0, out=self.grads["b"])
        if not self.need_dx:
            return None
        return (dout @ self.W.T).reshape(self.x_shape)


Dense = Affine


class _Activation(Layer):
    """An element-wise activation: remembers what its derivative needs.

    ``forward(x, inplace=True)`` overwrites ``x`` with the result and
    ``backward(dout, inplace=True)`` overwrites ``dout``. Only a network passes it, and only
    where it owns both arrays (between two :class:`Affine` layers, whose outputs nobody
    else keeps): it saves an allocation and a pass over a temporary on every step. Called
    by hand, a layer never touches the caller's arrays.
    """

    def _check(self, dout: np.ndarray, kept: np.ndarray | None) -> np.ndarray:
        _need_forward(self, kept)
        return _check_dout(self, dout, kept.shape)


def _into(a: np.ndarray, inplace: bool) -> np.ndarray | None:
    """The ``out=`` argument for a result computed from ``a``: ``a`` itself when in place."""
    return a if inplace else None


class ReLU(_Activation):
    """y = max(0, x);  dx = dout where x > 0, else 0."""

    def __init__(self) -> None:
        super().__init__()
        self.mask: np.ndarray | None = None

    def forward(self, x: np.ndarray, train: bool = False, inplace: bool = False) -> np.ndarray:
        x = as_float_array(x)
        y = np.maximum(x, 0, out=_into(x, inplace))
        self.mask = y > 0
        return y

    def backward(self, dout: np.ndarray, inplace: bool = False) -> np.ndarray:
        dout = self._check(dout, self.mask)
        return np.multiply(dout, self.mask, out=_into(dout, inplace))


class LeakyReLU(_Activation):
    """y = x where x > 0, else alpha x;  dx = dout * (1 or alpha)."""

    def __init__(self, alpha: float = 0.01) -> None:
        super().__init__()
        alpha = float(alpha)
        if not 0 <= alpha < 1:
            raise ValueError(f"alpha must be in [0, 1), got {alpha}")
        self.alpha = alpha
        self.slope: np.ndarray | None = None

    def config(self) -> dict:
        return {"alpha": self.alpha}

    def forward(self, x: np.ndarray, train: bool = False, inplace: bool = False) -> np.ndarray:
        x = as_float_array(x)
        self.slope = np.where(x > 0, x.dtype.type(1), x.dtype.type(self.alpha))
        return np.multiply(x, self.slope, out=_into(x, inplace))

    def backward(self, dout: np.ndarray, inplace: bool = False) -> np.ndarray:
        dout = self._check(dout, self.slope)
        return np.multiply(dout, self.slope, out=_into(dout, inplace))


class Sigmoid(_Activation):
    """y = 1 / (1 + exp(-x));  dx = dout * y * (1 - y)."""

    def __init__(self) -> None:
        super().__init__()
        self.out: np.ndarray | None = None

    def forward(self, x: np.ndarray, train: bool = False, inplace: bool = False) -> np.ndarray:
        x = as_float_array(x)
        # The same function written as (1 + tanh(x / 2)) / 2: it cannot overflow and takes
        # four passes over one array, where exp(-|x|) and np.where need several temporaries.
        # Its error is absolute (about eps), which training does not notice; functions.sigmoid
        # keeps the relative precision of tiny outputs, which the published values need.
        y = np.multiply(x, 0.5, out=_into(x, inplace))
        np.tanh(y, out=y)
        y += 1
        y *= 0.5
        self.out = y
        return y

    def backward(self, dout: np.ndarray, inplace: bool = False) -> np.ndarray:
        dout = self._check(dout, self.out)
        dx = np.multiply(dout, self.out, out=_into(dout, inplace))
        dx *= 1 - self.out
        return dx


class Tanh(_Activation):
    """y = tanh(x);  dx = dout * (1 - y^2)."""

    def __init__(self) -> None:
        super().__init__()
        self.out: np.ndarray | None = None

    def forward(self, x: np.ndarray, train: bool = False, inplace: bool = False) -> np.ndarray:
        x = as_float_array(x)
        self.out = np.tanh(x, out=_into(x, inplace))
        return self.out

    def backward(self, dout: np.ndarray, inplace: bool = False) -> np.ndarray:
        dout = self._check(dout, self.out)
        return np.multiply(dout, 1 - self.out * self.out, out=_into(dout, inplace))


class Identity(_Activation):
    """y = x;  dx = dout (a placeholder where no activation is wanted)."""

    def __init__(self) -> None:
        super().__init__()
        self.shape: tuple | None = None

    def forward(self, x: np.ndarray, train: bool = False, inplace: bool = False) -> np.ndarray:
        x = np.asarray(x)
        self.shape = x.shape
        return x

    def backward(self, dout: np.ndarray, inplace: bool = False) -> np.ndarray:
        _need_forward(self, self.shape)
        return _check_dout(self, dout, self.shape)


# --- output layers: last activation fused with its loss ---------------------------------


class LossLayer(Layer):
    """Base of the output layers: ``forward(x, t)`` gives the loss, ``backward()`` dL/dx.

    ``forward`` checks the scores (a 2-D batch, no NaN or inf) and the targets
    (:meth:`check_targets`) on every call. ``check_input=False`` skips both: for a caller
    whose scores come from its own network, whose targets went through
    :meth:`check_targets` once for the whole data set, and which looks for a NaN loss
    itself, as the Trainer does.
    """

    #: name of the activation the layer applies to get probabilities / predictions
    activation = "identity"
    #: whether the targets may be class labels of shape (N,) for any number of outputs
    takes_labels = False

    def output(self, x: np.ndarray) -> np.ndarray:
        """The output activation alone: what the network predicts for scores ``x``."""
        raise NotImplementedError

    def forward(self, x: np.ndarray, t: np.ndarray,  # type: ignore[override]
                check_input: bool = True) -> float:
        raise NotImplementedError

    def backward(self, dout: float = 1.0) -> np.ndarray:  # type: ignore[override]
        raise NotImplementedError

    def check_targets(self, x: np.ndarray, t: ArrayLike) -> np.ndarray:
        """The targets ``t`` for scores ``x`` of shape (N, outputs), checked, as forward uses them.

        Class labels (N,) come back as integers in [0, outputs) when the layer takes labels;
        other targets must have x's shape (or (N,) for one output, made (N, 1)), hold no NaN
        or inf, and come back in x's dtype.
        """
        t = np.asarray(t)
        n = x.shape[0]
        if self.takes_labels and t.shape == (n,):
            return _check_labels(t, x.shape[1])
        if not self.takes_labels and x.shape[1] == 1 and t.shape == (n,):
            t = t.reshape(-1, 1)
        if t.shape != x.shape:
            want = f"{x.shape} or labels of shape ({n},)" if self.takes_labels else f"{x.shape}"
            raise ValueError(f"target shape mismatch: expected {want}, got t of shape {t.shape}")
        t = as_float_array(t)
        if not np.all(np.isfinite(t)):
            raise ValueError("targets t contain NaN or inf")
        return t.astype(x.dtype, copy=False)

    def _inputs(self, x, t, check_input: bool) -> tuple[np.ndarray, np.ndarray]:
        """(x, t) checked; unchecked, only what costs nothing: that t is what check_targets
        gives (labels as integers, else x's shape), so a raw t never broadcasts silently."""
        if check_input:
            x = self._scores(x)
            return x, self.check_targets(x, t)
        labels = self.takes_labels and t.shape == (x.shape[0],) and t.dtype.kind in "iu"
        if not labels and t.shape != x.shape:
            raise ValueError(f"check_input=False takes targets from check_targets: expected "
                             f"shape {x.shape}, got t of shape {t.shape} and dtype {t.dtype}")
        return x, t

    @staticmethod
    def _scores(x) -> np.ndarray:
        x = as_float_array(x)
        if x.ndim != 2:
            raise ValueError(f"expected scores of shape (N, classes), got shape {x.shape}")
        if x.shape[0] == 0:
            raise ValueError(f"empty batch: scores have shape {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("scores contain NaN or inf: the input x holds NaN or inf, or "
                             "training has diverged")
        return x


class SoftmaxCrossEntropy(LossLayer):
    """Softmax output with cross-entropy loss, from logits (exact, via log-softmax).

    forward: L = -1/N sum_n log softmax(x_n)[t_n];  backward: dx = (softmax(x) - t) / N.
    ``t`` is one-hot (N, C) or integer labels (N,).
    """

    activation = "softmax"
    takes_labels = True

    def __init__(self) -> None:
        super().__init__()
        self.y: np.ndarray | None = None
        self.t: np.ndarray | None = None

    def output(self, x: np.ndarray) -> np.ndarray:
        return softmax(x)

    def forward(self, x: np.ndarray, t: np.ndarray,  # type: ignore[override]
                check_input: bool = True) -> float:
        x, t = self._inputs(x, t, check_input)
        # Softmax is unchanged by subtracting a constant from a row. Each row's own maximum
        # keeps its exponents <= 0 and its loss exact: the batch's maximum would be one
        # faster reduction, but costs a row far below it |offset| * eps of precision.
        shifted = x - x.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        total = exp.sum(axis=1, keepdims=True)
        exp /= total
        self.y = exp
        self.t = t
        # -log softmax(x)[t] = log(total) - shifted[t]
        n = x.shape[0]
        if t.ndim == 1:
            return float((np.log(total[:, 0]) - shifted[np.arange(n), t]).sum() / n)
        return float((t * (np.log(total) - shifted)).sum() / n)

    def backward(self, dout: float = 1.0) -> np.ndarray:  # type: ignore[override]
        _need_forward(self, self.y)
        n = self.y.shape[0]
        scale = float(dout) / n
        if self.t.ndim == 1:
            dx = np.multiply(self.y, scale)
            dx[np.arange(n), self.t] -= scale
        else:
            dx = self.y - self.t
            dx *= scale
        return dx


class SigmoidBinaryCrossEntropy(LossLayer):
    """Sigmoid output with binary cross-entropy, from logits; averaged over every element.

    forward: L = mean(softplus(x) - t x) = -mean(t log s + (1 - t) log(1 - s)), s = sigmoid(x);
    backward: dx = (s - t) / (N * outputs).  ``t`` holds 0/1 targets of x's shape
    (or labels of shape (N,) when there is one output).
    """

    activation = "sigmoid"

    def __init__(self) -> None:
        super().__init__()
        self.y: np.ndarray | None = None
        self.t: np.ndarray | None = None

    def output(self, x: np.ndarray) -> np.ndarray:
        return sigmoid(x)

    def forward(self, x: np.ndarray, t: np.ndarray,  # type: ignore[override]
                check_input: bool = True) -> float:
        x, t = self._inputs(x, t, check_input)
        # softplus(x) = max(x, 0) + log(1 + exp(-|x|)) never overflows.
        loss = np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))
        self.y = sigmoid(x)
        self.t = t
        return float(loss.mean())

    def backward(self, dout: float = 1.0) -> np.ndarray:  # type: ignore[override]
        _need_forward(self, self.y)
        dx = self.y - self.t
        dx *= float(dout) / self.y.size
        return dx


class IdentityMSE(LossLayer):
    """Identity output with the book's squared error, averaged over the batch.

    forward: L = 1/(2N) sum (x - t)^2;  backward: dx = (x - t) / N.
    """

    activation = "identity"

    def __init__(self) -> None:
        super().__init__()
        self.diff: np.ndarray | None = None

    def output(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x)

    def forward(self, x: np.ndarray, t: np.ndarray,  # type: ignore[override]
                check_input: bool = True) -> float:
        x, t = self._inputs(x, t, check_input)
        self.diff = x - t
        return float(0.5 * np.sum(self.diff * self.diff) / x.shape[0])

    def backward(self, dout: float = 1.0) -> np.ndarray:  # type: ignore[override]
        _need_forward(self, self.diff)
        return self.diff * (float(dout) / self.diff.shape[0])
