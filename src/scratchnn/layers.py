"""Layers: small classes whose ``forward`` and ``backward`` are the math (the book's chapter 5).

Conventions (batch-first, like NumPy and PyTorch):

- ``forward(x, train=False)`` returns the layer's output and remembers what backward needs;
- ``backward(dout)`` takes dL/d(output) and returns dL/d(input), filling ``grads``;
  it never writes into ``dout``;
- ``params`` and ``grads`` map a short name ("W", "b") to arrays of the same shape;
- ``config()`` returns the constructor arguments, so that a model file can rebuild the layer.

``forward`` and ``backward`` check nothing, like the book's: a network checks what a user
hands in once, at its public methods (:meth:`Layer.check_input` says what a layer takes).
The output layers at the end fuse the last activation with its loss: their
``forward(x, t)`` returns the loss and their ``backward()`` the closed form (y - t) / N.
"""

from __future__ import annotations

import math

import numpy as np

from ._validate import assign, number, weight_and_bias
from .functions import sigmoid, softmax

__all__ = [
    "Layer", "Affine", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Identity", "LossLayer",
    "SoftmaxCrossEntropy", "SigmoidBinaryCrossEntropy", "IdentityMSE", "ACTIVATIONS",
    "OUTPUTS", "layer_types", "type_name",
]


class Layer:
    """Base class of every layer; a subclass writes ``forward`` and ``backward``."""

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def check_input(self, x: np.ndarray, train: bool = False) -> None:
        """Raise a ValueError saying why the layer cannot take ``x`` (here: any array).

        A network calls it with a read-only view of the batch's shape: look at the shape.
        """

    def config(self) -> dict:
        """Constructor arguments as plain JSON values (for model files)."""
        return {}

    @classmethod
    def from_config(cls, config: dict, params: dict[str, np.ndarray]) -> Layer:
        """The layer that :meth:`config` and ``params`` describe (a model file's content)."""
        layer = cls(**config)
        if set(params) != set(layer.params):
            raise ValueError(f"{cls.__name__} has parameters {sorted(layer.params)}, got "
                             f"{sorted(params)}")
        for name, value in params.items():
            assign(name, layer.params[name], value)
        return layer

    def state(self) -> dict[str, np.ndarray]:
        """Arrays that are not trained but belong to the model (e.g. running means)."""
        return {}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Set the arrays returned by :meth:`state`."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


def layer_types() -> dict[str, type[Layer]]:
    """Every class derived from :class:`Layer` that exists now, by its :func:`type_name`.

    A model file names its layers; a layer class written anywhere (a notebook, a test)
    is found here without being registered.
    """
    found: dict[str, type[Layer]] = {}
    todo = [Layer]
    while todo:
        for sub in todo.pop().__subclasses__():
            found[type_name(sub)] = sub
            todo.append(sub)
    return found


def type_name(cls: type) -> str:
    """The name a model file gives a layer class: scratchnn's own by their name, others as
    module.qualname (two notebooks may each have their own PReLU)."""
    own = cls.__module__.split(".")[0] == "scratchnn"
    return cls.__name__ if own else f"{cls.__module__}.{cls.__qualname__}"


class Affine(Layer):
    """Fully connected layer: y = x @ W + b.

    Shapes: x (N, d_in), or (N, ...) flattened as the book's Affine does; W (d_in, d_out);
    b (d_out,); y (N, d_out).
    Backward: dW = x^T dout, db = sum_N dout, dx = dout W^T (reshaped to x's shape).

    ``need_dx = False`` (a network sets it on its first layer) skips dx: nothing uses the
    gradient with respect to the data, and it is a third of the layer's backward work.
    """

    def __init__(self, W: np.ndarray, b: np.ndarray | None = None) -> None:
        super().__init__()
        W, b = weight_and_bias(W, b, "(d_in, d_out)", out_axis=1)
        self.params = {"W": W, "b": b}
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}
        self.need_dx = True

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

    @classmethod
    def from_config(cls, config: dict, params: dict[str, np.ndarray]) -> Affine:
        return cls(params["W"], params["b"])  # the sizes in config are those of W

    def check_input(self, x: np.ndarray, train: bool = False) -> None:
        features = math.prod(x.shape[1:])
        if features != self.W.shape[0]:
            raise ValueError(f"input of shape {x.shape} has {features} features per sample, "
                             f"but W {self.W.shape} expects {self.W.shape[0]}")

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        self.x_shape = x.shape
        self.x = x.reshape(len(x), self.W.shape[0])
        y = self.x @ self.W
        y += self.b
        return y

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        np.matmul(self.x.T, dout, out=self.grads["W"])
        np.sum(dout, axis=0, out=self.grads["b"])
        if not self.need_dx:
            return None
        return (dout @ self.W.T).reshape(self.x_shape)


class ReLU(Layer):
    """y = max(0, x);  dx = dout where y > 0 (that is, x > 0), else 0."""

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        self.y = np.maximum(x, 0)
        return self.y

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout * (self.y > 0)


class LeakyReLU(Layer):
    """y = x where x > 0, else alpha x;  dx = dout * (1 or alpha)."""

    def __init__(self, alpha: float = 0.01) -> None:
        super().__init__()
        self.alpha = number(alpha, "alpha", 0.0, 1.0)

    def config(self) -> dict:
        return {"alpha": self.alpha}

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        self.slope = np.where(x > 0, x.dtype.type(1), x.dtype.type(self.alpha))
        return x * self.slope

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout * self.slope


class Sigmoid(Layer):
    """y = sigmoid(x) = 1 / (1 + exp(-x));  dx = dout * y * (1 - y)."""

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        self.out = sigmoid(x)
        return self.out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout * self.out * (1 - self.out)


class Tanh(Layer):
    """y = tanh(x);  dx = dout * (1 - y^2)."""

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        self.out = np.tanh(x)
        return self.out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout * (1 - self.out * self.out)


class Identity(Layer):
    """y = x;  dx = dout (a placeholder where no activation is wanted)."""

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        return x

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout


#: the hidden activations by the name a model or a command line gives them
ACTIVATIONS = {"relu": ReLU, "leaky_relu": LeakyReLU, "sigmoid": Sigmoid, "tanh": Tanh}


# --- output layers: the last activation fused with its loss --------------------------------


class LossLayer(Layer):
    """Base of the output layers: ``forward(x, t)`` gives the loss, ``backward()`` dL/dx.

    ``x`` holds scores (N, outputs); ``t`` holds targets as the network's check makes them
    (:func:`scratchnn._validate.check_targets`): integer labels (N,) where the layer
    ``takes_labels``, else an array of x's shape and dtype.
    """

    #: whether the targets may be class labels of shape (N,) for any number of outputs
    takes_labels = False

    def output(self, x: np.ndarray) -> np.ndarray:
        """The output activation alone: what the network predicts for scores ``x``."""
        raise NotImplementedError

    def forward(self, x: np.ndarray, t: np.ndarray) -> float:  # type: ignore[override]
        raise NotImplementedError

    def backward(self, dout: float = 1.0) -> np.ndarray:  # type: ignore[override]
        raise NotImplementedError


class SoftmaxCrossEntropy(LossLayer):
    """Softmax output with cross-entropy loss, from logits (exact, via log-softmax).

    forward: L = -1/N sum_n log softmax(x_n)[t_n];  backward: dx = (softmax(x) - t) / N,
    with t integer labels (N,) or one-hot (N, C).
    """

    takes_labels = True

    def output(self, x: np.ndarray) -> np.ndarray:
        return softmax(x)

    def forward(self, x: np.ndarray, t: np.ndarray) -> float:  # type: ignore[override]
        # Each row shifted by its own maximum: exponents <= 0, and -log softmax(x)[t] =
        # log(sum exp(shifted)) - shifted[t] exact.
        shifted = x - x.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        total = exp.sum(axis=1, keepdims=True)
        exp /= total
        self.y = exp
        self.t = t
        n = len(x)
        if t.ndim == 1:
            return float((np.log(total[:, 0]) - shifted[np.arange(n), t]).sum() / n)
        return float((t * (np.log(total) - shifted)).sum() / n)

    def backward(self, dout: float = 1.0) -> np.ndarray:  # type: ignore[override]
        n = len(self.y)
        if self.t.ndim == 1:  # labels: subtract the one-hot t without building it
            dx = self.y * (dout / n)
            dx[np.arange(n), self.t] -= dout / n
            return dx
        return (self.y - self.t) * (dout / n)


class SigmoidBinaryCrossEntropy(LossLayer):
    """Sigmoid output with binary cross-entropy, from logits; averaged over every element.

    forward: L = mean(softplus(x) - t x) = -mean(t log s + (1 - t) log(1 - s)), s = sigmoid(x);
    backward: dx = (s - t) / (N * outputs). ``t`` holds 0/1 targets of x's shape.
    """

    def output(self, x: np.ndarray) -> np.ndarray:
        return sigmoid(x)

    def forward(self, x: np.ndarray, t: np.ndarray) -> float:  # type: ignore[override]
        # softplus(x) = max(x, 0) + log(1 + exp(-|x|)) never overflows.
        loss = np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))
        self.y = sigmoid(x)
        self.t = t
        return float(loss.mean())

    def backward(self, dout: float = 1.0) -> np.ndarray:  # type: ignore[override]
        return (self.y - self.t) * (dout / self.y.size)


class IdentityMSE(LossLayer):
    """Identity output with the book's squared error, averaged over the batch.

    forward: L = 1/(2N) sum (x - t)^2;  backward: dx = (x - t) / N.
    """

    def output(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x)

    def forward(self, x: np.ndarray, t: np.ndarray) -> float:  # type: ignore[override]
        self.diff = x - t
        return float(0.5 * np.sum(self.diff * self.diff) / len(x))

    def backward(self, dout: float = 1.0) -> np.ndarray:  # type: ignore[override]
        return self.diff * (dout / len(self.diff))


#: the output layers by the name a model or a command line gives them
OUTPUTS = {"softmax": SoftmaxCrossEntropy, "sigmoid": SigmoidBinaryCrossEntropy,
           "identity": IdentityMSE}
