"""Networks: a stack of layers with an output/loss layer, as in the book's chapter 5.

Parameters are named like the book's ``params`` dict: the k-th layer that has a weight
contributes ``Wk`` and ``bk``; other parameters of a layer (batch-norm's gamma and beta)
get the number of the weighted layer before them (0 before the first one). The order is
the order of the layers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ._checks import positive_int
from .functions import _check_labels, as_float_array
from .gradient import _kept_layer_state
from .gradient import numerical_gradient as _numerical_gradient
from .init import _float_dtype, _seed_or_rng
from .layers import (
    Affine,
    IdentityMSE,
    Layer,
    LeakyReLU,
    LossLayer,
    ReLU,
    Sigmoid,
    SigmoidBinaryCrossEntropy,
    SoftmaxCrossEntropy,
    Tanh,
    _assign,
)

__all__ = ["ACTIVATIONS", "OUTPUTS", "Sequential", "MLP", "TwoLayerNet"]

ACTIVATIONS = {"relu": ReLU, "leaky_relu": LeakyReLU, "sigmoid": Sigmoid, "tanh": Tanh}
OUTPUTS = {
    "softmax": SoftmaxCrossEntropy,
    "sigmoid": SigmoidBinaryCrossEntropy,
    "identity": IdentityMSE,
}


_INPLACE_ACTIVATIONS = (ReLU, LeakyReLU, Sigmoid, Tanh)


def _classes_of(scores: np.ndarray) -> np.ndarray:
    """The class each row of scores (N, outputs) predicts: the largest score, or for a
    single sigmoid output, 1 where the logit is above 0."""
    if scores.shape[1] == 1:
        return (scores[:, 0] > 0).astype(np.int64)
    return np.argmax(scores, axis=1)


class Sequential:
    """Layers applied in order, then an output layer that fuses activation and loss.

    >>> net = Sequential([Affine(in_features=2, out_features=8, rng=0), ReLU(),
    ...                   Affine(in_features=8, out_features=2, rng=1)])
    >>> net.predict(np.zeros((5, 2))).shape
    (5, 2)

    ``weight_decay`` (lambda) adds lambda/2 * sum ||W||^2 to the loss and lambda * W to
    each weight gradient, as the book's MultiLayerNet does.
    """

    def __init__(
        self,
        layers: Sequence[Layer],
        loss: LossLayer | None = None,
        weight_decay: float = 0.0,
    ) -> None:
        layers = list(layers)
        if not layers:
            raise ValueError("a network needs at least one layer")
        for layer in layers:
            if not isinstance(layer, Layer) or isinstance(layer, LossLayer):
                raise TypeError(f"expected hidden layers (Layer instances), got {layer!r}")
        self.layers = layers
        self.loss_layer = SoftmaxCrossEntropy() if loss is None else loss
        if not isinstance(self.loss_layer, LossLayer):
            raise TypeError(f"loss must be an output layer (LossLayer), got {loss!r}")
        weight_decay = float(weight_decay)
        if not 0 <= weight_decay < math.inf:  # NaN fails both comparisons
            raise ValueError(f"weight_decay must be a finite number >= 0, got {weight_decay}")
        self.weight_decay = weight_decay
        # Nothing uses the gradient with respect to the data: skip it in the first layer.
        if hasattr(layers[0], "need_dx"):
            layers[0].need_dx = False
        #: Let activations between Affine layers work in place (see :meth:`_inplace_flags`).
        self.inplace = True
        self._inplace: list[bool] = []
        self._names: list[tuple[str, Layer, str]] = []
        k = 0
        for layer in layers:
            if "W" in layer.params:
                k += 1
            for key in layer.params:
                name = f"{key}{k}"
                if any(name == other for other, _, _ in self._names):
                    raise ValueError(
                        f"two layers would both name a parameter {name!r}: put a weighted "
                        f"layer (Affine, Convolution2D) between {type(layer).__name__} "
                        "layers that have parameters"
                    )
                self._names.append((name, layer, key))

    # --- parameters --------------------------------------------------------------------

    @property
    def params(self) -> dict[str, np.ndarray]:
        """Named parameters W1, b1, W2, ... (the layers' own arrays, not copies)."""
        return {name: layer.params[key] for name, layer, key in self._names}

    @property
    def grads(self) -> dict[str, np.ndarray]:
        """Gradients of the last :meth:`gradient` call, named like :attr:`params`."""
        return {name: layer.grads[key] for name, layer, key in self._names}

    @property
    def dtype(self) -> np.dtype:
        for _, layer, key in self._names:
            return layer.params[key].dtype
        return np.dtype(np.float64)

    def set_params(self, params: dict[str, np.ndarray]) -> None:
        """Copy values into the parameters (shapes must match; dtypes are kept)."""
        own = self.params
        missing = set(own) - set(params)
        unknown = set(params) - set(own)
        if missing or unknown:
            raise ValueError(
                f"parameter names differ: missing {sorted(missing)}, unexpected {sorted(unknown)}"
            )
        for name, value in params.items():
            _assign(name, own[name], value)

    def n_params(self) -> int:
        """Number of trainable scalars."""
        return sum(p.size for p in self.params.values())

    # --- forward -----------------------------------------------------------------------

    def _input(self, x) -> np.ndarray:
        x = as_float_array(x)
        if x.ndim < 2:
            raise ValueError(f"expected a batch of shape (N, features), got shape {x.shape}")
        if x.shape[0] == 0:
            raise ValueError(f"empty batch: x has shape {x.shape}")
        return x.astype(self.dtype, copy=False)

    def _inplace_flags(self) -> list[bool]:
        """Which layers may overwrite their input and the gradient coming back.

        An activation between two Affine layers (or after the last one) may: both arrays
        are new (a matrix product, the loss layer's gradient) and nothing else keeps them.
        Only scratchnn's own activations are asked to (a subclass may not take the keyword).
        Worked out on every pass, so that layers swapped in later are handled too.
        """
        layers = self.layers
        if not self.inplace:
            return [False] * len(layers)
        before, after = [None, *layers[:-1]], [*layers[1:], None]
        return [
            type(layer) in _INPLACE_ACTIVATIONS and isinstance(b, Affine)
            and (a is None or isinstance(a, Affine))
            for b, layer, a in zip(before, layers, after, strict=True)
        ]

    def forward(self, x, train: bool = False) -> np.ndarray:
        """Scores before the output activation (the book's ``predict``)."""
        out = self._input(x)
        # Kept for the backward pass, which must treat each layer as this pass did.
        self._inplace = self._inplace_flags()
        for layer, inplace in zip(self.layers, self._inplace, strict=True):
            if inplace:
                out = layer.forward(out, train=train, inplace=True)
            else:
                out = layer.forward(out, train=train)
        return out

    def predict(self, x, batch_size: int | None = None) -> np.ndarray:
        """Scores (logits) for ``x``, in inference mode; optionally in chunks."""
        if batch_size is None:
            return self.forward(x, train=False)
        x = self._input(x)
        parts = [self.forward(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
        return np.concatenate(parts)

    def predict_proba(self, x, batch_size: int | None = None) -> np.ndarray:
        """The output activation applied to the scores (softmax or sigmoid probabilities)."""
        return self.loss_layer.output(self.predict(x, batch_size))

    def predict_classes(self, x, batch_size: int | None = None) -> np.ndarray:
        """Predicted class index per sample (threshold 0 on the logit for one sigmoid output)."""
        return _classes_of(self.predict(x, batch_size))

    def _decay_loss(self) -> float:
        if not self.weight_decay:
            return 0.0
        total = sum(float(np.sum(p * p)) for n, p in self.params.items() if n.startswith("W"))
        return 0.5 * self.weight_decay * total

    def loss(self, x, t, train: bool = False, check_input: bool = True) -> float:
        """The loss of the network on (x, t), with the weight-decay term when set.

        ``check_input=False``: ``t`` already went through the output layer's
        ``check_targets``, and a NaN loss is the caller's to catch (see
        :class:`~scratchnn.layers.LossLayer`; the Trainer does this).
        """
        scores = self.forward(x, train=train)
        if check_input:  # without the keyword: a user's output layer may not take it
            loss = self.loss_layer.forward(scores, t)
        else:
            loss = self.loss_layer.forward(scores, t, check_input=False)
        return loss + self._decay_loss()

    def accuracy(self, x, t, batch_size: int | None = 10_000) -> float:
        """Fraction of samples whose predicted class equals ``t`` (labels or one-hot)."""
        t = np.asarray(t)
        scores = self.predict(x, batch_size)
        if t.ndim == 2 and t.shape[1] > 1:
            t = np.argmax(t, axis=1)
        t = t.reshape(-1)
        if t.shape != (len(scores),):
            raise ValueError(f"expected {len(scores)} labels, got t of shape {t.shape}")
        if not np.isfinite(scores).all():
            raise ValueError("scores contain NaN or inf: x holds NaN or inf, or the weights do")
        # One sigmoid output predicts class 0 or 1.
        t = _check_labels(t, max(scores.shape[1], 2))
        return float(np.mean(_classes_of(scores) == t))

    # --- backward ----------------------------------------------------------------------

    def backprop(self, x, t, check_input: bool = True) -> float:
        """One forward and backward pass in training mode; fills :attr:`grads`, returns loss.

        The gradient arrays are reused from call to call (no copies): what an optimizer needs.
        ``check_input`` is passed on to :meth:`loss`.
        """
        loss = self.loss(x, t, train=True, check_input=check_input)
        dout = self.loss_layer.backward(1.0)
        for layer, inplace in zip(reversed(self.layers), reversed(self._inplace), strict=True):
            dout = layer.backward(dout, inplace=True) if inplace else layer.backward(dout)
        if self.weight_decay:
            for name, layer, key in self._names:
                if name.startswith("W"):
                    layer.grads[key] += self.weight_decay * layer.params[key]
        return loss

    def gradient(self, x, t) -> dict[str, np.ndarray]:
        """Backprop gradients of the loss, as a new dict of copies named like :attr:`params`."""
        self.backprop(x, t)
        return {name: g.copy() for name, g in self.grads.items()}

    def numerical_gradient(self, x, t, h: float = 1e-4) -> dict[str, np.ndarray]:
        """Central-difference gradients of the loss (slow: two forward passes per scalar).

        The passes run in training mode; the layers' state (BatchNorm's running statistics)
        is put back afterwards.
        """
        x = self._input(x)
        with _kept_layer_state(self.layers):
            return {
                name: _numerical_gradient(lambda _: self.loss(x, t, train=True), p, h=h)
                for name, p in self.params.items()
            }

    # --- model files -------------------------------------------------------------------

    def config(self) -> dict:
        """Architecture as plain JSON values (see :mod:`scratchnn.serialization`)."""
        return {
            "layers": [{"type": type(la).__name__, **la.config()} for la in self.layers],
            "loss": type(self.loss_layer).__name__,
            "weight_decay": self.weight_decay,
            "dtype": str(self.dtype),
        }

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"{type(self).__name__}([\n  {inner}\n], loss={type(self.loss_layer).__name__}())"


class MLP(Sequential):
    """A multi-layer perceptron: Affine -> activation -> ... -> Affine -> output/loss.

    ``sizes`` lists the layer widths from input to output, e.g. [784, 100, 10];
    ``activation`` is one of relu, leaky_relu, sigmoid, tanh; ``output`` one of
    softmax (cross-entropy), sigmoid (binary cross-entropy), identity (squared error);
    ``init`` one of the names in :mod:`scratchnn.init` ("auto": He for ReLU, Xavier else).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str = "relu",
        output: str = "softmax",
        init: str = "auto",
        dtype=np.float32,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
        weight_decay: float = 0.0,
        weight_init_std: float = 0.01,
    ) -> None:
        if isinstance(sizes, str) or len(sizes) < 2:
            raise ValueError(f"sizes must list at least 2 widths, got {sizes!r}")
        sizes = [positive_int(s, f"sizes[{i}]") for i, s in enumerate(sizes)]
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {activation!r}; expected one of {list(ACTIVATIONS)}"
            )
        if output not in OUTPUTS:
            raise ValueError(f"unknown output {output!r}; expected one of {list(OUTPUTS)}")
        if init == "auto":
            init = "he" if activation in ("relu", "leaky_relu") else "xavier"
        dtype = _float_dtype(dtype)
        rng = _seed_or_rng(seed, rng)
        from .init import initialize

        layers: list[Layer] = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            W = initialize(init, (n_in, n_out), rng=rng, dtype=dtype, std=weight_init_std)
            layers.append(Affine(W, np.zeros(n_out, dtype=dtype)))
            if i < len(sizes) - 2:
                layers.append(ACTIVATIONS[activation]())
        super().__init__(layers, OUTPUTS[output](), weight_decay=weight_decay)
        self.sizes = sizes
        self.activation = activation
        self.output = output
        self.init = init


class TwoLayerNet(MLP):
    """The book's two-layer network (chapter 5): Affine -> ReLU -> Affine -> SoftmaxWithLoss.

    ``TwoLayerNet(784, 50, 10)`` has ``params`` W1, b1, W2, b2 drawn as
    ``weight_init_std * randn``, and the book's ``predict``, ``loss``, ``accuracy``,
    ``numerical_gradient`` and ``gradient``. Chapter 4's sigmoid variant is
    ``TwoLayerNet(..., activation="sigmoid")``. float64 by default, like the book.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        weight_init_std: float = 0.01,
        activation: str = "relu",
        dtype=np.float64,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__(
            [input_size, hidden_size, output_size],
            activation=activation,
            output="softmax",
            init="normal",
            weight_init_std=weight_init_std,
            dtype=dtype,
            seed=seed,
            rng=rng,
        )
