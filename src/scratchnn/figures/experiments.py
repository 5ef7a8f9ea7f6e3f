"""The book's weight-initialisation experiment (chapter 6.2): hidden-activation histograms.

1000 random inputs go through 5 fully connected layers of 100 units (no biases) whose
weights are drawn with one initialiser; a histogram of each layer's activations shows
whether the signal survives:

- std 1 with sigmoid: activations pile up at 0 and 1, where the gradient vanishes;
- std 0.01 with sigmoid: all near 0.5, so every unit computes the same thing;
- Xavier (std sqrt(1/n)) keeps sigmoid and tanh activations spread over the layers;
- He (std sqrt(2/n)) does the same for ReLU, where Xavier's shrink layer after layer.

    acts = activation_distributions("he", "relu", rng=0)
    fig = plot_activation_histograms(["std0.01", "xavier", "he"], "relu", path="relu.png")
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .._validate import generator, positive_int
from ..functions import relu, sigmoid, tanh
from ..models import MLP
from ..optim import make_optimizer
from .plots import new_figure, save_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["BOOK_OPTIMIZERS", "INITS", "activation_distributions", "optimizer_curves",
           "optimizer_paths", "plot_activation_histograms", "plot_optimizer_comparison"]

_ACTIVATIONS = {"sigmoid": sigmoid, "relu": relu, "tanh": tanh}

#: the initialisers of the experiment and their titles
INITS = {"std1": "std = 1", "std0.01": "std = 0.01", "xavier": "Xavier", "he": "He"}


def _std(init: str, nodes: int) -> float:
    if init == "std1":
        return 1.0
    if init == "std0.01":
        return 0.01
    if init == "xavier":
        return math.sqrt(1.0 / nodes)
    if init == "he":
        return math.sqrt(2.0 / nodes)
    raise ValueError(f"unknown init {init!r}; expected one of {', '.join(INITS)}")


def activation_distributions(
    init: str = "std1",
    activation: str = "sigmoid",
    layers: int = 5,
    nodes: int = 100,
    samples: int = 1000,
    rng: np.random.Generator | int | None = None,
) -> list[np.ndarray]:
    """Activations of each hidden layer for standard-normal inputs, as the book computes them.

    x ~ N(0, 1) of shape (samples, nodes); for each layer, W ~ N(0, std^2) of shape
    (nodes, nodes) with std from ``init`` ("std1", "std0.01", "xavier", "he") and
    x <- activation(x W). Returns one (samples, nodes) array per layer.
    """
    if activation not in _ACTIVATIONS:
        raise ValueError(
            f"unknown activation {activation!r}; expected one of {', '.join(_ACTIVATIONS)}"
        )
    layers, nodes, samples = (positive_int(value, name) for name, value in
                              (("layers", layers), ("nodes", nodes), ("samples", samples)))
    std = _std(init, nodes)
    rng = generator(rng=rng)
    x = rng.standard_normal((samples, nodes))
    out = []
    for _ in range(layers):
        w = rng.standard_normal((nodes, nodes)) * std
        x = _ACTIVATIONS[activation](x @ w)
        out.append(x)
    return out


def plot_activation_histograms(
    inits: str | Sequence[str] = ("std1", "std0.01", "xavier", "he"),
    activation: str = "sigmoid",
    layers: int = 5,
    nodes: int = 100,
    samples: int = 1000,
    bins: int = 30,
    rng: np.random.Generator | int | None = 0,
    path: str | os.PathLike | None = None,
) -> Figure:
    """Histograms of every layer's activations: one row per initialiser, one column per layer.

    Each row draws its own network from the same seed, so rows differ only in the weights'
    scale. With ``path=`` the figure is also written there (.png or .svg).
    """
    inits = [inits] if isinstance(inits, str) else list(inits)
    if not inits:
        raise ValueError("give at least one initialiser")
    # Checked before the figure is made: matplotlib's own errors would name none of them.
    layers, bins = positive_int(layers, "layers"), positive_int(bins, "bins")
    fig = new_figure(figsize=(2.2 * layers, 1.9 * len(inits) + 0.6), layout="constrained")
    axes = fig.subplots(len(inits), layers, squeeze=False, sharey="row")
    # The book's ranges: sigmoid's outputs lie in (0, 1) and tanh's in (-1, 1); ReLU's are
    # shown on (0, 1) too, leaving out the exact zeros (about half) that would dwarf the rest.
    low, high = (-1.0, 1.0) if activation == "tanh" else (0.0, 1.0)
    seed = int(generator(rng=rng).integers(2**32))
    for row, init in zip(axes, inits, strict=True):
        acts = activation_distributions(init, activation, layers, nodes, samples, rng=seed)
        for i, (ax, a) in enumerate(zip(row, acts, strict=True)):
            values = a[a != 0] if activation == "relu" else a.ravel()
            ax.hist(values, bins=bins, range=(low, high), color="tab:blue")
            ax.set_title(f"{INITS[init]}: layer {i + 1}", fontsize=9)
            ax.tick_params(labelsize=7)
            beyond = np.mean(values > high) if values.size else 0.0
            if beyond >= 0.005:
                ax.text(0.97, 0.93, f"{beyond:.0%} > {high:g}", transform=ax.transAxes,
                        ha="right", va="top", fontsize=8, color="tab:red")
    fig.suptitle(f"{activation} activations by weight initialisation")
    fig.supxlabel("activation")
    fig.supylabel("units (count)")
    if path is not None:
        save_figure(fig, path)
    return fig


#: Chapter 6.1's comparison: each optimizer with the book's learning rate on
#: f(x, y) = x^2 / 20 + y^2 (from (-7, 2), 30 steps), and the book's rate on MNIST.
BOOK_OPTIMIZERS = {"SGD": ("sgd", 0.95, 0.01), "Momentum": ("momentum", 0.1, 0.01),
                   "AdaGrad": ("adagrad", 1.5, 0.01), "Adam": ("adam", 0.3, 0.001)}


def optimizer_paths(steps: int = 30, start: tuple[float, float] = (-7.0, 2.0)
                    ) -> dict[str, np.ndarray]:
    """Each optimizer's path on f(x, y) = x^2/20 + y^2 (gradient (x/10, 2y)), as the book
    draws it: name -> array (steps + 1, 2) of the points visited."""
    steps = positive_int(steps, "steps")
    paths = {}
    for name, (kind, lr, _) in BOOK_OPTIMIZERS.items():
        opt = make_optimizer(kind, lr=lr)
        p = {"xy": np.array(start, dtype=np.float64)}
        points = [p["xy"].copy()]
        for _ in range(steps):
            x, y = p["xy"]
            opt.update(p, {"xy": np.array([x / 10.0, 2.0 * y])})
            points.append(p["xy"].copy())
        paths[name] = np.array(points)
    return paths


def optimizer_curves(x: np.ndarray, t: np.ndarray, iterations: int = 1000,
                     batch_size: int = 128, seed: int = 0) -> dict[str, np.ndarray]:
    """The book's MNIST comparison (ch. 6.1.8): a 784-100-100-100-100-10 ReLU network, He
    initialisation, trained by each optimizer on random mini-batches from the same seed;
    name -> the loss of every iteration."""
    iterations = positive_int(iterations, "iterations")
    curves = {}
    for name, (kind, _, lr) in BOOK_OPTIMIZERS.items():
        rng = np.random.default_rng(seed)
        net = MLP([x.shape[1], 100, 100, 100, 100, 10], activation="relu", init="he",
                  dtype=x.dtype, rng=rng)
        opt = make_optimizer(kind, lr=lr)
        losses = np.empty(iterations)
        for i in range(iterations):
            idx = rng.choice(len(x), batch_size)
            losses[i] = net.backprop(x[idx], t[idx])
            opt.update(net.params, net.grads)
        curves[name] = losses
    return curves


def plot_optimizer_comparison(paths: dict[str, np.ndarray],
                              curves: dict[str, np.ndarray] | None = None,
                              path: str | os.PathLike | None = None) -> Figure:
    """The book's figures 6-8 and 6-9 side by side: each optimizer's path on the contours
    of x^2/20 + y^2, and (given ``curves``) their MNIST training losses."""
    fig = new_figure(figsize=(14 if curves else 9, 7), layout="constrained")
    grid = fig.add_gridspec(2, 4 if curves else 2)
    gx, gy = np.linspace(-10, 10, 201), np.linspace(-5, 5, 101)
    z = gx[None, :] ** 2 / 20 + gy[:, None] ** 2
    for k, (name, points) in enumerate(paths.items()):
        ax = fig.add_subplot(grid[k // 2, k % 2])
        ax.contour(gx, gy, z, levels=np.geomspace(0.05, 20, 12), cmap="viridis",
                   linewidths=0.6)
        ax.plot(points[:, 0], points[:, 1], "o-", color="tab:red", markersize=2.5,
                linewidth=1)
        ax.plot(0, 0, "+", color="black")
        ax.set_xlim(-10, 10)
        ax.set_ylim(-5, 5)
        ax.set_title(f"{name} ({len(points) - 1} steps)", fontsize=10)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
    if curves:
        ax = fig.add_subplot(grid[:, 2:])
        for name, losses in curves.items():
            window = max(1, len(losses) // 50)
            smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
            ax.plot(np.arange(window, len(losses) + 1), smooth, label=name)
        ax.set_yscale("log")
        ax.set_xlabel("iteration")
        ax.set_ylabel(f"training loss (mean of {max(1, len(losses) // 50)})")
        ax.set_title("MNIST, 784-100-100-100-100-10 ReLU, batch 128")
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    fig.suptitle("Optimizers on f(x, y) = x²/20 + y² (the book's chapter 6.1)")
    if path is not None:
        save_figure(fig, path)
    return fig
