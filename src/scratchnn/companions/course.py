"""The course's step-by-step API ("Building your Deep Neural Network: Step by Step").

The names, arguments, shapes and caches are the course's, so that a learner's notebook code
runs unchanged; the math is the engine's. The course lays data out *column-major*: one
example per column, X of shape (n_x, m), W_l of shape (n_l, n_{l-1}), b_l of shape (n_l, 1).
The engine is batch-first (one example per row, W of shape (d_in, d_out)), so every function
here transposes at the boundary and calls the engine's layers:

- linear forward/backward: :class:`scratchnn.layers.Affine` on A.T with weights W.T;
- relu/sigmoid forward/backward: the layers :class:`~scratchnn.layers.ReLU` and
  :class:`~scratchnn.layers.Sigmoid` (which computes :func:`scratchnn.functions.sigmoid`,
  the course's 1 / (1 + exp(-Z)) to full precision: the output AL's log is the cost, and
  a confident wrong answer needs its tiny AL exactly);
- cost: :func:`scratchnn.functions.binary_cross_entropy`; update: :class:`scratchnn.optim.SGD`.

Transposes of NumPy arrays are views, so nothing is copied. The course averages gradients
in ``linear_backward`` (dW = 1/m dZ A_prev^T) while the engine's Affine sums over the batch,
hence the 1/m there. The course's public functions check their arguments (shapes in the
course's layout, real numbers); the layers they call do the arithmetic only.

Randomness: the published costs (0.693049735659989 at iteration 0 of the two-layer model,
0.7717493284237686 for the L-layer model) come from ``np.random.seed(1)`` followed by
``np.random.randn`` draws in the course's order. A numpy Generator draws a different
sequence; a legacy ``np.random.RandomState(1)`` of its own draws the course's, so the
initialisers below use one and leave NumPy's global random state alone.

The initialisers are the course's *application* notebook's (seed 1; the L-layer weights
scaled by 1/sqrt(n_prev)), whose published costs and accuracies scratchnn reproduces. The
step-by-step notebook's exercise version of ``initialize_parameters_deep`` (seed 3, times
0.01) draws other numbers.

``scratchnn.course`` is this module's other name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from .._validate import positive_int, real_array
from ..figures.plots import new_figure, save_figure
from ..functions import binary_cross_entropy
from ..layers import Affine, ReLU, Sigmoid
from ..optim import SGD

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "initialize_parameters",
    "initialize_parameters_deep",
    "linear_forward",
    "linear_activation_forward",
    "L_model_forward",
    "compute_cost",
    "linear_backward",
    "relu_backward",
    "sigmoid_backward",
    "linear_activation_backward",
    "L_model_backward",
    "update_parameters",
    "two_layer_model",
    "L_layer_model",
    "predict",
    "plot_costs",
    "print_mislabeled_images",
]


_ACTIVATIONS = {"relu": ReLU, "sigmoid": Sigmoid}

# --- initialisation --------------------------------------------------------------------


def initialize_parameters(n_x: int, n_h: int, n_y: int) -> dict[str, np.ndarray]:
    """Parameters of LINEAR -> RELU -> LINEAR -> SIGMOID, as the course draws them.

    np.random.seed(1); W1 = randn(n_h, n_x) * 0.01, b1 = 0 (n_h, 1),
    W2 = randn(n_y, n_h) * 0.01, b2 = 0 (n_y, 1), drawn from a RandomState of its own.
    """
    n_x, n_h, n_y = (positive_int(n, name) for n, name in ((n_x, "n_x"), (n_h, "n_h"),
                                                              (n_y, "n_y")))
    state = np.random.RandomState(1)  # noqa: NPY002 -- the course's sequence (module docstring)
    return {
        "W1": state.randn(n_h, n_x) * 0.01,
        "b1": np.zeros((n_h, 1)),
        "W2": state.randn(n_y, n_h) * 0.01,
        "b2": np.zeros((n_y, 1)),
    }


def initialize_parameters_deep(layer_dims: list[int]) -> dict[str, np.ndarray]:
    """Parameters W1, b1, ..., WL, bL for the layer widths ``layer_dims`` (input first).

    As the course's application draws them: np.random.seed(1);
    W_l = randn(n_l, n_{l-1}) / sqrt(n_{l-1}), b_l = 0 (n_l, 1); from a RandomState of its
    own (NumPy's global random state is left alone).
    """
    if isinstance(layer_dims, (str, bytes)) or len(layer_dims) < 2:
        raise ValueError(f"layer_dims must list at least 2 positive widths, got {layer_dims!r}")
    dims = [positive_int(n, f"layer_dims[{k}]") for k, n in enumerate(layer_dims)]
    state = np.random.RandomState(1)  # noqa: NPY002 -- the course's sequence (module docstring)
    parameters = {}
    for l in range(1, len(dims)):  # noqa: E741 -- the course's layer index
        parameters[f"W{l}"] = state.randn(dims[l], dims[l - 1]) / np.sqrt(dims[l - 1])
        parameters[f"b{l}"] = np.zeros((dims[l], 1))
    return parameters


# --- forward ---------------------------------------------------------------------------


def _affine(W: ArrayLike, b: ArrayLike) -> Affine:
    """The engine's Affine layer for the course's W (n, n_prev) and b (n, 1): views, no copies
    (integers become float64; b takes W's dtype)."""
    W = real_array(W, "W")
    b = np.asarray(b)
    if W.ndim != 2 or W.size == 0 or b.shape != (W.shape[0], 1):
        raise ValueError(
            f"expected W of shape (n_l, n_prev) and b of shape (n_l, 1), "
            f"got W {W.shape} and b {b.shape}"
        )
    return Affine(W.T, real_array(b, "b").reshape(-1).astype(W.dtype, copy=False))


def _check_columns(name: str, A: ArrayLike, rows: int, m: int | None = None,
                   dtype: np.dtype | None = None) -> np.ndarray:
    """``A`` checked to be real numbers (rows, m): one example per column, at least one
    example; in ``dtype`` when given."""
    A = np.asarray(A)
    if A.ndim != 2 or A.shape[0] != rows or (m is not None and A.shape[1] != m):
        raise ValueError(
            f"{name} must have shape ({rows}, {'m' if m is None else m}): one example per "
            f"column, got {A.shape}"
        )
    if A.shape[1] == 0:
        raise ValueError(f"{name} has no examples (shape {A.shape}): m must be at least 1")
    A = real_array(A, name)
    return A if dtype is None else A.astype(dtype, copy=False)


def linear_forward(A: ArrayLike, W: ArrayLike, b: ArrayLike) -> tuple[np.ndarray, tuple]:
    """Z = W A + b for A (n_prev, m); returns Z (n, m) and the cache (A, W, b)."""
    layer = _affine(W, b)
    n_prev, _ = layer.params["W"].shape
    Z = layer.forward(_check_columns("A", A, n_prev, dtype=layer.params["W"].dtype).T).T
    return Z, (A, W, b)


def linear_activation_forward(
    A_prev: ArrayLike, W: ArrayLike, b: ArrayLike, activation: str
) -> tuple[np.ndarray, tuple]:
    """A = g(W A_prev + b) with g = "relu" or "sigmoid"; cache = (linear_cache, Z)."""
    layer = _activation(activation)
    Z, linear_cache = linear_forward(A_prev, W, b)
    return layer.forward(Z), (linear_cache, Z)


def _activation(name: str) -> ReLU | Sigmoid:
    if name not in _ACTIVATIONS:
        raise ValueError(f"activation must be 'relu' or 'sigmoid', got {name!r}")
    return _ACTIVATIONS[name]()


def _n_layers(parameters: dict) -> int:
    if not isinstance(parameters, dict):
        raise TypeError(f"parameters must be a dict of W1, b1, ..., WL, bL, got "
                        f"{type(parameters).__name__}")
    L = len(parameters) // 2
    expected = {f"{p}{l}" for l in range(1, L + 1) for p in "Wb"}  # noqa: E741
    if L < 1 or set(parameters) != expected:
        raise ValueError(
            f"parameters must be W1, b1, ..., WL, bL, got keys {sorted(parameters)}"
        )
    return L


def L_model_forward(X: ArrayLike, parameters: dict) -> tuple[np.ndarray, list]:
    """[LINEAR -> RELU] * (L-1) -> LINEAR -> SIGMOID; returns AL (1, m) and the L caches."""
    L = _n_layers(parameters)
    caches = []
    A = X
    for l in range(1, L):  # noqa: E741
        A, cache = linear_activation_forward(
            A, parameters[f"W{l}"], parameters[f"b{l}"], "relu"
        )
        caches.append(cache)
    AL, cache = linear_activation_forward(A, parameters[f"W{L}"], parameters[f"b{L}"], "sigmoid")
    caches.append(cache)
    return AL, caches


def compute_cost(AL: ArrayLike, Y: ArrayLike) -> float:
    """Cross-entropy cost -1/m sum(Y log AL + (1 - Y) log(1 - AL)) for AL and Y of shape (1, m)."""
    AL = np.asarray(AL)
    Y = np.asarray(Y)
    if AL.ndim != 2 or AL.shape[0] != 1:
        raise ValueError(f"AL must have shape (1, m), got {AL.shape}")
    return binary_cross_entropy(AL, Y)


# --- backward --------------------------------------------------------------------------


def linear_backward(dZ: ArrayLike, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of the linear step from dZ (n, m) and the cache (A_prev, W, b).

    dW = 1/m dZ A_prev^T,  db = 1/m sum_m dZ,  dA_prev = W^T dZ.
    """
    if not isinstance(cache, (tuple, list)) or len(cache) != 3:
        raise ValueError("cache must be the (A_prev, W, b) that linear_forward returned, got "
                         f"{_describe(cache)}")
    A_prev, W, b = cache
    layer = _affine(W, b)
    (n_prev, n), dtype = layer.params["W"].shape, layer.params["W"].dtype
    A_prev = _check_columns("A_prev", A_prev, n_prev, dtype=dtype)
    dZ = _check_columns("dZ", dZ, n, A_prev.shape[1], dtype=dtype)
    m = A_prev.shape[1]
    # The course's cache holds A_prev, not a layer: the layer's forward pass keeps the
    # input its backward pass needs.
    layer.forward(A_prev.T)
    dA_prev = layer.backward(dZ.T).T
    dW = layer.grads["W"].T * (1.0 / m)
    db = layer.grads["b"].reshape(-1, 1) * (1.0 / m)
    return dA_prev, dW, db


def relu_backward(dA: ArrayLike, cache: np.ndarray) -> np.ndarray:
    """dZ = dA where Z > 0, else 0 (``cache`` is Z)."""
    return _activation_backward(ReLU(), dA, cache)


def sigmoid_backward(dA: ArrayLike, cache: np.ndarray) -> np.ndarray:
    """dZ = dA * s (1 - s) with s = sigmoid(Z) (``cache`` is Z)."""
    return _activation_backward(Sigmoid(), dA, cache)


def _activation_backward(layer: ReLU | Sigmoid, dA: ArrayLike, Z: ArrayLike) -> np.ndarray:
    """dZ from ``layer``'s backward pass at Z: the checked dA and Z (same shape, real
    numbers), in Z's float type."""
    Z = real_array(Z, "Z")
    dA = real_array(dA, "dA")
    if dA.shape != Z.shape:
        raise ValueError(f"dA must have the shape of Z {Z.shape}, got {dA.shape}")
    layer.forward(Z)
    return layer.backward(dA.astype(Z.dtype, copy=False))


def linear_activation_backward(
    dA: ArrayLike, cache: tuple, activation: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward through g then the linear step; returns dA_prev, dW, db."""
    if not isinstance(cache, (tuple, list)) or len(cache) != 2:
        raise ValueError("cache must be the (linear_cache, Z) that linear_activation_forward "
                         f"returned, got {_describe(cache)}")
    linear_cache, Z = cache
    dZ = _activation_backward(_activation(activation), dA, Z)
    return linear_backward(dZ, linear_cache)


def L_model_backward(AL: ArrayLike, Y: ArrayLike, caches: list) -> dict[str, np.ndarray]:
    """Gradients of the cost of :func:`L_model_forward`: grads["dA{l-1}"], ["dW{l}"], ["db{l}"].

    Starts from the derivative of the cost per example, dAL = -(Y / AL - (1 - Y) / (1 - AL)),
    as the course does (the 1/m is applied in :func:`linear_backward`).
    """
    if not isinstance(caches, (list, tuple)) or not caches:
        raise ValueError("caches must be the non-empty list that L_model_forward returned, "
                         f"got {_describe(caches)}")
    L = len(caches)
    grads = {}
    dA = _cost_derivative(AL, Y)
    activation = "sigmoid"
    for l in range(L, 0, -1):  # noqa: E741
        dA, grads[f"dW{l}"], grads[f"db{l}"] = linear_activation_backward(
            dA, caches[l - 1], activation
        )
        grads[f"dA{l - 1}"] = dA
        activation = "relu"
    return grads


def _cost_derivative(AL: ArrayLike, Y: ArrayLike) -> np.ndarray:
    """dAL = -(Y / AL - (1 - Y) / (1 - AL)): the course's start of backpropagation."""
    AL = real_array(AL, "AL")
    Y = np.asarray(Y)
    if Y.shape != AL.shape:
        raise ValueError(f"expected Y of the shape of AL {AL.shape}, got {Y.shape}")
    # (integer labels must not turn float32 into float64)
    Y = real_array(Y, "Y").astype(AL.dtype, copy=False)
    return -(np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))


def _describe(value) -> str:
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    return type(value).__name__


def update_parameters(parameters: dict, grads: dict, learning_rate: float) -> dict:
    """One gradient-descent step, W_l <- W_l - lr dW_l and b_l <- b_l - lr db_l, on copies.

    The copies keep the parameters' floating-point type (integers become float64).
    """
    _n_layers(parameters)
    if not isinstance(grads, dict):
        raise TypeError(f"grads must be a dict of dW1, db1, ..., got {type(grads).__name__}")
    missing = [f"d{name}" for name in parameters if f"d{name}" not in grads]
    if missing:
        raise ValueError(f"grads lacks {missing}")
    new = {name: real_array(p, name).copy() for name, p in parameters.items()}
    SGD(lr=learning_rate).update(new, {name: grads[f"d{name}"] for name in new})
    return new


# --- models ----------------------------------------------------------------------------


def _check_data(X: ArrayLike, Y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X)
    Y = np.asarray(Y)
    if X.ndim != 2 or Y.shape != (1, X.shape[1]):
        raise ValueError(
            f"expected X of shape (n_x, m) and Y of shape (1, m), got X {X.shape} and Y {Y.shape}"
        )
    return X, Y


def _report(i: int, cost: float, costs: list, num_iterations: int, print_cost: bool) -> None:
    """The course's bookkeeping: keep (and optionally print) the cost every 100 iterations."""
    if i % 100 == 0:
        costs.append(cost)
    if print_cost and (i % 100 == 0 or i == num_iterations - 1):
        print(f"Cost after iteration {i}: {cost}")


def two_layer_model(
    X: ArrayLike,
    Y: ArrayLike,
    layers_dims: tuple[int, int, int],
    learning_rate: float = 0.0075,
    num_iterations: int = 3000,
    print_cost: bool = False,
) -> tuple[dict, list[float]]:
    """Train LINEAR -> RELU -> LINEAR -> SIGMOID by gradient descent, as the course does.

    ``layers_dims`` is (n_x, n_h, n_y). Returns the parameters and the costs of iterations
    0, 100, 200, ... (printed when ``print_cost``).
    """
    X, Y = _check_data(X, Y)
    n_x, n_h, n_y = layers_dims
    parameters = initialize_parameters(n_x, n_h, n_y)
    costs: list[float] = []
    for i in range(num_iterations):
        A1, cache1 = linear_activation_forward(X, parameters["W1"], parameters["b1"], "relu")
        A2, cache2 = linear_activation_forward(A1, parameters["W2"], parameters["b2"], "sigmoid")
        cost = compute_cost(A2, Y)
        dA2 = _cost_derivative(A2, Y)
        dA1, dW2, db2 = linear_activation_backward(dA2, cache2, "sigmoid")
        _, dW1, db1 = linear_activation_backward(dA1, cache1, "relu")
        grads = {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}
        parameters = update_parameters(parameters, grads, learning_rate)
        _report(i, cost, costs, num_iterations, print_cost)
    return parameters, costs


def L_layer_model(
    X: ArrayLike,
    Y: ArrayLike,
    layers_dims: list[int],
    learning_rate: float = 0.0075,
    num_iterations: int = 3000,
    print_cost: bool = False,
) -> tuple[dict, list[float]]:
    """Train [LINEAR -> RELU] * (L-1) -> LINEAR -> SIGMOID by gradient descent, as the course does.

    Returns the parameters and the costs of iterations 0, 100, 200, ... (printed when
    ``print_cost``).
    """
    X, Y = _check_data(X, Y)
    parameters = initialize_parameters_deep(layers_dims)
    costs: list[float] = []
    for i in range(num_iterations):
        AL, caches = L_model_forward(X, parameters)
        cost = compute_cost(AL, Y)
        grads = L_model_backward(AL, Y, caches)
        parameters = update_parameters(parameters, grads, learning_rate)
        _report(i, cost, costs, num_iterations, print_cost)
    return parameters, costs


def predict(
    X: ArrayLike, y: ArrayLike, parameters: dict, print_accuracy: bool = True
) -> np.ndarray:
    """Predictions p (1, m) of 0.0/1.0 (probability > 0.5 is 1); prints the accuracy against y."""
    AL, _ = L_model_forward(X, parameters)
    p = (AL > 0.5).astype(np.float64)
    if print_accuracy:
        y = np.asarray(y)
        if y.shape != p.shape:
            raise ValueError(f"expected labels y of shape {p.shape}, got {y.shape}")
        print("Accuracy: " + str(np.mean(p == y)))
    return p


# --- figures ---------------------------------------------------------------------------


def plot_costs(costs: ArrayLike, learning_rate: float = 0.0075, path=None) -> Figure:
    """The learning curve: cost every 100 iterations. Saved to ``path`` when given."""
    fig = new_figure(figsize=(6, 4))
    ax = fig.add_subplot()
    ax.plot(np.squeeze(np.asarray(costs, dtype=float)))
    ax.set_ylabel("cost")
    ax.set_xlabel("iterations (per hundreds)")
    ax.set_title(f"Learning rate = {learning_rate}")
    if path is not None:
        save_figure(fig, path)
    return fig


def print_mislabeled_images(
    classes, X: ArrayLike, y: ArrayLike, p, path=None, image_shape: tuple[int, ...] = (64, 64, 3)
) -> Figure:
    """A figure of every example where prediction p and label y differ, with both classes.

    X holds one flattened image per column (scaled to [0, 1]); y and p have shape (1, m).
    ``classes`` names label 0 and label 1 (str or the course's bytes). Saved to ``path``
    when given.
    """
    y = np.asarray(y).reshape(-1)
    p = np.asarray(p).reshape(-1)
    wrong = np.flatnonzero(p != y)
    names = [c.decode("utf-8") if isinstance(c, bytes) else str(c) for c in classes]
    cols = min(max(len(wrong), 1), 5)
    rows = max(1, -(-len(wrong) // cols))
    fig = new_figure(figsize=(3 * cols, 3.4 * rows))
    for k, index in enumerate(wrong):
        ax = fig.add_subplot(rows, cols, k + 1)
        ax.imshow(np.asarray(X)[:, index].reshape(image_shape), interpolation="nearest")
        ax.axis("off")
        ax.set_title(
            f"Prediction: {names[int(p[index])]}\nClass: {names[int(y[index])]}", fontsize=9
        )
    if path is not None:
        save_figure(fig, path)
    return fig

