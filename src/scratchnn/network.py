"""Sequential: a stack of layers ending in an output/loss layer (the book's chapter 5).

Parameters are named like the book's ``params`` dict: the k-th layer that has a weight
contributes ``Wk`` and ``bk``; other parameters of a layer (batch-norm's gamma and beta)
get the number of the weighted layer before them (0 before the first one). The order is
the order of the layers.

The public methods check what they are given, once per call. ``run`` and ``train_step``
are the same math without checks, for a caller that checked its data once with
:meth:`Sequential.check_data` (the Trainer, once per data set).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._display import network_html, network_text
from ._validate import assign, check_finite, check_network_data, number, positive_int
from .functions import accuracy, predicted_classes
from .gradient import kept_layer_state, numerical_gradient
from .layers import Layer, LossLayer, SoftmaxCrossEntropy, type_name

__all__ = ["Sequential"]


class Sequential:
    """Layers applied in order, then an output layer that fuses activation and loss.

    >>> from scratchnn.init import initialize
    >>> net = Sequential([Affine(initialize("he", (2, 8), rng=0)), ReLU(),
    ...                   Affine(initialize("he", (8, 2), rng=1))])   # doctest: +SKIP
    >>> net.predict(np.zeros((5, 2))).shape                           # doctest: +SKIP
    (5, 2)

    Weight decay is the book's (chapter 6): ``weight_decay`` (lambda) adds
    lambda/2 * sum ||W||^2 to the loss and lambda * W to each weight gradient (every
    parameter whose name starts with "W"; biases and batch-norm's are not decayed). It is
    scratchnn's only weight decay: the optimizers have none.
    """

    def __init__(self, layers: Sequence[Layer], loss: LossLayer | None = None,
                 weight_decay: float = 0.0) -> None:
        layers = list(layers)
        if not layers:
            raise ValueError("a network needs at least one layer")
        for layer in layers:
            if not isinstance(layer, Layer) or isinstance(layer, LossLayer):
                raise TypeError(f"expected hidden layers (Layer instances), got {layer!r}")
        loss = SoftmaxCrossEntropy() if loss is None else loss
        if not isinstance(loss, LossLayer):
            raise TypeError(f"loss must be an output layer (LossLayer), got {loss!r}")
        self.layers = layers
        self.loss_layer = loss
        self.weight_decay = number(weight_decay, "weight_decay")
        # Nothing uses the gradient with respect to the data: skip it in the first layer.
        if hasattr(layers[0], "need_dx"):
            layers[0].need_dx = False
        self._names = _parameter_names(layers)

    # --- parameters --------------------------------------------------------------------

    @property
    def params(self) -> dict[str, np.ndarray]:
        """Named parameters W1, b1, W2, ... (the layers' own arrays, not copies)."""
        return {name: layer.params[key] for name, layer, key in self._names}

    @property
    def grads(self) -> dict[str, np.ndarray]:
        """Gradients of the last backward pass, named like :attr:`params`."""
        return {name: layer.grads[key] for name, layer, key in self._names}

    @property
    def dtype(self) -> np.dtype:
        return next(iter(self.params.values())).dtype if self._names else np.dtype(np.float64)

    def set_params(self, params: dict[str, np.ndarray]) -> None:
        """Copy values into the parameters (shapes must match; dtypes are kept)."""
        own = self.params
        if own.keys() != params.keys():
            raise ValueError(f"parameter names differ: missing {sorted(own.keys() - params)}, "
                             f"unexpected {sorted(params.keys() - own)}")
        for name, value in params.items():
            assign(name, own[name], value)

    def n_params(self) -> int:
        """Number of trainable scalars."""
        return sum(p.size for p in self.params.values())

    # --- the math, unchecked -------------------------------------------------------------

    def run(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        """Scores before the output activation, layer by layer (no checks)."""
        for layer in self.layers:
            x = layer.forward(x, train)
        return x

    def train_step(self, x: np.ndarray, t: np.ndarray) -> float:
        """Forward and backward in training mode (no checks): fills :attr:`grads`.

        Returns L + lambda/2 sum ||W||^2; the gradient arrays are reused from call to call.
        """
        loss = self.loss_layer.forward(self.run(x, train=True), t) + self._decay_loss()
        dout = self.loss_layer.backward(1.0)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        if self.weight_decay:
            for name, layer, key in self._names:
                if name.startswith("W"):
                    layer.grads[key] += self.weight_decay * layer.params[key]
        return loss

    def _decay_loss(self) -> float:
        if not self.weight_decay:
            return 0.0
        total = sum(float(np.sum(p * p)) for n, p in self.params.items() if n.startswith("W"))
        return 0.5 * self.weight_decay * total

    # --- the checked boundary ------------------------------------------------------------

    def check_data(self, x, t=None, x_name: str = "x", t_name: str = "t", *,
                   train: bool = False, batch_size: int | None = None):
        """(x, t) as :meth:`run` and :meth:`train_step` take them, or an error naming the
        problem (:func:`scratchnn._validate.check_network_data` says what is checked)."""
        return check_network_data(self, x, t, x_name, t_name, train, batch_size)

    def _scores(self, x, batch_size: int | None = None, train: bool = False) -> np.ndarray:
        x = self.check_data(x, train=train)[0]
        if batch_size is None:
            return self.run(x, train)
        step = positive_int(batch_size, "batch_size")
        return np.concatenate([self.run(x[i : i + step]) for i in range(0, len(x), step)])

    def forward(self, x, train: bool = False) -> np.ndarray:
        """Scores before the output activation (the book's ``predict``)."""
        return self._scores(x, train=train)

    def predict(self, x, batch_size: int | None = None) -> np.ndarray:
        """Scores (logits) for ``x``, in inference mode; in chunks of ``batch_size``."""
        return self._scores(x, batch_size)

    def predict_proba(self, x, batch_size: int | None = None) -> np.ndarray:
        """The output activation applied to the scores (softmax or sigmoid probabilities)."""
        return self.loss_layer.output(self.predict(x, batch_size))

    def predict_classes(self, x, batch_size: int | None = None) -> np.ndarray:
        """Predicted class per sample (:func:`scratchnn.functions.predicted_classes`)."""
        return predicted_classes(self.predict(x, batch_size))

    def accuracy(self, x, t, batch_size: int | None = 10_000) -> float:
        """Fraction of samples whose predicted class equals ``t`` (labels or one-hot)."""
        return accuracy(self.predict(x, batch_size), t)

    def loss(self, x, t, train: bool = False) -> float:
        """The loss on (x, t), with the weight-decay term when set."""
        x, t = self.check_data(x, t, train=train)
        scores = self.run(x, train)
        check_finite(scores, "scores (the weights hold NaN or inf, or overflow)")
        return self.loss_layer.forward(scores, t) + self._decay_loss()

    def backprop(self, x, t) -> float:
        """One forward and backward pass in training mode; fills :attr:`grads`, returns loss."""
        x, t = self.check_data(x, t, train=True)
        return self.train_step(x, t)

    def gradient(self, x, t) -> dict[str, np.ndarray]:
        """Backprop gradients of the loss, as a new dict of copies named like :attr:`params`."""
        self.backprop(x, t)
        return {name: g.copy() for name, g in self.grads.items()}

    def numerical_gradient(self, x, t, h: float = 1e-4) -> dict[str, np.ndarray]:
        """Central-difference gradients of the loss (slow: two forward passes per scalar).

        The passes run in training mode; the layers' state (BatchNorm's running statistics)
        is put back afterwards.
        """
        x, t = self.check_data(x, t, train=True)

        def loss(_):
            return self.loss_layer.forward(self.run(x, train=True), t) + self._decay_loss()

        with kept_layer_state(self.layers):
            return {name: numerical_gradient(loss, p, h=h) for name, p in self.params.items()}

    # --- model files -------------------------------------------------------------------

    def config(self) -> dict:
        """Architecture as plain JSON values (see :mod:`scratchnn.files`)."""
        return {
            "layers": [{"type": type_name(type(la)), **la.config()} for la in self.layers],
            "loss": type_name(type(self.loss_layer)),
            "weight_decay": self.weight_decay,
            "dtype": str(self.dtype),
        }

    def __repr__(self) -> str:
        """The layer table: each layer, its output shape and its parameters."""
        return network_text(self)

    def _repr_html_(self) -> str:
        return network_html(self)


def _parameter_names(layers: list[Layer]) -> list[tuple[str, Layer, str]]:
    """(name, layer, key) for every parameter: W1, b1, gamma1, ... in layer order."""
    names: list[tuple[str, Layer, str]] = []
    k = 0
    for layer in layers:
        k += "W" in layer.params
        for key in layer.params:
            name = f"{key}{k}"
            if any(name == other for other, _, _ in names):
                raise ValueError(f"two layers would both name a parameter {name!r}: put a "
                                 "weighted layer (Affine, Convolution2D) between "
                                 f"{type(layer).__name__} layers that have parameters")
            names.append((name, layer, key))
    return names
