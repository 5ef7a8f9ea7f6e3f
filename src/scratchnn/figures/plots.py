"""Figures for the book's chapters: activation functions (chapter 3), gradient-descent paths
(chapter 4), learning curves and misclassified digits (chapters 4-6), first-layer weights and
confusion matrices.

Every function returns a :class:`matplotlib.figure.Figure` (shown inline by notebooks) and,
given ``path=``, also writes it there as PNG or SVG (by the suffix). Figures are made
without pyplot, so nothing leaks into global state and no display is needed.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from .._validate import positive_int
from ..files.atomic import atomic_write
from ..functions import class_labels, leaky_relu, relu, sigmoid, step_function, tanh

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "FIGURE_FILES",
    "new_figure",
    "plot_activations",
    "plot_confusion_matrix",
    "plot_decision_boundary",
    "plot_first_layer_weights",
    "plot_gradient_descent_path",
    "plot_learning_curves",
    "plot_misclassified",
    "plot_runs",
    "save_figure",
]

#: One file name per figure, whichever command draws it (train, plot, evaluate, reproduce,
#: compare): the names of ``scratchnn plot``'s figures, with underscores.
FIGURE_FILES = {
    "activations": "activations.png",
    "activation-histograms": "activation_histograms.png",
    "gradient-descent": "gradient_descent.png",
    "curves": "learning_curves.png",
    "weights": "first_layer_weights.png",
    "confusion": "confusion_matrix.png",
    "misclassified": "misclassified.png",
    "decision-boundary": "decision_boundary.png",
    "optimizers": "optimizers.png",
    "compare": "compare.png",
}

_FORMATS = {".png": "png", ".svg": "svg"}


def new_figure(**kwargs) -> Figure:
    """A new Figure (``kwargs`` go to it). matplotlib is imported here, on first use: it
    takes longer to import than the rest of scratchnn, and most programs never draw."""
    from matplotlib.figure import Figure

    _show_inline_in_ipython()
    return Figure(**kwargs)


def _show_inline_in_ipython() -> None:
    """In IPython and Jupyter, show a Figure that a cell returns as a PNG, as
    ``%matplotlib inline`` would: these figures never go through pyplot, whose backend
    sets that up. IPython is only looked up, never imported."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None:
        from IPython.core.pylabtools import select_figure_formats

        select_figure_formats(shell, {"png"})


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 120) -> Path:
    """Write ``fig`` to ``path`` (.png or .svg), atomically."""
    path = Path(path)
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: figures are saved as .png or .svg, got suffix {path.suffix!r}")
    with atomic_write(path) as f:
        fig.savefig(f, format=fmt, dpi=dpi, bbox_inches="tight")
    return path


def _finish(fig: Figure, path: str | os.PathLike | None) -> Figure:
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_activations(
    x_range: tuple[float, float] = (-5.0, 5.0), path: str | os.PathLike | None = None
) -> Figure:
    """Step, sigmoid, tanh, ReLU and leaky ReLU (alpha 0.1, to make the slope visible)."""
    x = np.linspace(*x_range, 1001)
    fig = new_figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    ax.plot(x, step_function(x), label="step", drawstyle="steps-mid")
    ax.plot(x, sigmoid(x), label="sigmoid")
    ax.plot(x, tanh(x), label="tanh")
    ax.plot(x, relu(x), label="ReLU", linewidth=2.5, alpha=0.6)
    ax.plot(x, leaky_relu(x, alpha=0.1), label="leaky ReLU (α = 0.1)", linestyle="--")
    ax.set_ylim(-1.2, 2.2)
    ax.axhline(0, color="0.6", linewidth=0.8)
    ax.axvline(0, color="0.6", linewidth=0.8)
    ax.set_xlabel("x")
    ax.set_ylabel("h(x)")
    ax.set_title("Activation functions")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    return _finish(fig, path)


def plot_learning_curves(
    history, val_label: str = "validation", path: str | os.PathLike | None = None
) -> Figure:
    """Loss per iteration (with a moving average) and train/validation accuracy per epoch.

    ``history`` is a :class:`scratchnn.training.History`.
    """
    fig = new_figure(figsize=(11, 4))
    ax_loss, ax_acc = fig.subplots(1, 2)
    loss = np.asarray(history.loss, dtype=np.float64)
    iters = np.arange(1, len(loss) + 1)
    ax_loss.plot(iters, loss, color="tab:blue", alpha=0.3, linewidth=0.7, label="mini-batch")
    window = max(1, history.iterations_per_epoch // 10)
    if len(loss) >= window > 1:
        smooth = np.convolve(loss, np.ones(window) / window, mode="valid")
        ax_loss.plot(iters[window - 1 :], smooth, color="tab:blue",
                     label=f"mean of {window}")
    if len(loss) and np.nanmin(loss) > 0:
        ax_loss.set_yscale("log")
    ax_loss.set_xlabel("iteration")
    ax_loss.set_ylabel("loss")
    ax_loss.set_title("Training loss")
    ax_loss.grid(alpha=0.3, which="both")
    ax_loss.legend()

    epochs = history.column("epoch")
    for field, label, marker in (("train_acc", "train", "o"), ("val_acc", val_label, "s")):
        values = history.column(field)
        seen = ~np.isnan(values)
        if seen.any():
            ax_acc.plot(epochs[seen], 100 * values[seen], marker=marker, label=label)
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy (%)")
    ax_acc.set_title("Accuracy")
    ax_acc.grid(alpha=0.3)
    if len(epochs):
        ax_acc.set_xticks(_integer_ticks(len(epochs)))
        ax_acc.legend(loc="lower right")
    return _finish(fig, path)


def _integer_ticks(n: int, most: int = 10) -> np.ndarray:
    return np.arange(1, n + 1, max(1, math.ceil(n / most)))


def _as_images(x: np.ndarray, image_shape: tuple[int, ...] | None) -> np.ndarray:
    """Samples as displayable images: (N, H, W) grey or (N, H, W, 3) colour."""
    x = np.asarray(x)
    if image_shape is not None:
        x = x.reshape(len(x), *image_shape)
    elif x.ndim == 2:
        side = math.isqrt(x.shape[1])
        if side * side != x.shape[1]:
            raise ValueError(f"cannot show {x.shape[1]} features as a square image: "
                             "pass image_shape")
        x = x.reshape(len(x), side, side)
    if x.ndim == 4 and x.shape[1] in (1, 3):  # (N, C, H, W) -> (N, H, W, C)
        x = x.transpose(0, 2, 3, 1)
    if x.ndim == 4 and x.shape[3] == 1:
        x = x[..., 0]
    if x.ndim not in (3, 4):
        raise ValueError(f"expected images (N, H, W), (N, C, H, W) or (N, H, W, 3), "
                         f"got shape {x.shape}")
    return x


def _class_indices(name: str, labels: np.ndarray) -> np.ndarray:
    """``labels`` as int64 class indices (whole-number floats such as 1.0 are taken)."""
    whole = labels.dtype.kind in "iub" or (
        labels.dtype.kind == "f" and np.isfinite(labels).all()
        and (labels == np.round(labels)).all())
    if not whole or (len(labels) and labels.min() < 0):
        raise ValueError(f"{name} must hold class indices >= 0, got {labels.dtype} values "
                         f"{labels[:5].tolist()}...")
    return labels.astype(np.int64)


def plot_misclassified(
    x: ArrayLike,
    t: ArrayLike,
    pred: ArrayLike,
    probs: ArrayLike = None,
    classes: Sequence[str] | None = None,
    max_images: int = 25,
    image_shape: tuple[int, ...] | None = None,
    path: str | os.PathLike | None = None,
) -> Figure:
    """A grid of the first ``max_images`` samples whose prediction differs from the label.

    ``x`` holds the samples (flat squares such as (N, 784), or images), ``t`` the labels
    (or one-hot), ``pred`` the predicted classes; ``probs`` (N, classes) adds the
    predicted probability to each title; ``classes`` names the classes.
    """
    t = class_labels(t)
    pred = np.asarray(pred).reshape(-1)
    if not len(t) == len(pred) == len(x):
        raise ValueError(f"x, t and pred need as many samples, got {len(x)}, {len(t)}, "
                         f"{len(pred)}")
    max_images = positive_int(max_images, "max_images")
    t, pred = _class_indices("t", t), _class_indices("pred", pred)
    n_classes = int(max(t.max(initial=0), pred.max(initial=0))) + 1
    if classes is not None and len(classes) < n_classes:
        raise ValueError(f"classes names {len(classes)} classes, but the labels go up to "
                         f"{n_classes - 1}")
    if probs is not None:
        probs = np.asarray(probs)
        if probs.ndim != 2 or len(probs) != len(t) or probs.shape[1] < n_classes:
            raise ValueError(f"probs must have shape ({len(t)}, classes) with a column for "
                             f"each of the {n_classes} classes, got {probs.shape}")
    wrong = np.flatnonzero(pred != t)[:max_images]
    images = _as_images(np.asarray(x)[wrong], image_shape) if len(wrong) else np.zeros((0, 1, 1))

    def name(k) -> str:
        return str(classes[k]) if classes is not None else str(k)

    cols = max(1, min(5, len(wrong)))
    rows = max(1, math.ceil(len(wrong) / cols))
    fig = new_figure(figsize=(2.0 * cols, 2.3 * rows + 0.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols)).reshape(-1)
    for ax in axes:
        ax.axis("off")
    for ax, i, image in zip(axes, wrong, images, strict=False):
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None, interpolation="nearest")
        title = f"pred {name(pred[i])}"
        if probs is not None:
            title += f" ({100 * float(probs[i][pred[i]]):.0f}%)"
        ax.set_title(f"{title}\ntrue {name(t[i])}", fontsize=9,
                     color="tab:red")
    total = int(np.sum(pred != t))
    fig.suptitle(f"Misclassified: {total} of {len(t)} (first {len(wrong)} shown)"
                 if total else f"No misclassified samples among {len(t)}")
    return _finish(fig, path)


def plot_first_layer_weights(
    model, max_units: int = 64, image_shape: tuple[int, int] | None = None,
    path: str | os.PathLike | None = None,
) -> Figure:
    """The first layer's weights as images: one per hidden unit (or per convolution filter).

    For an Affine first layer W1 (784, units), column j is unit j's 28x28 template;
    red is positive, blue negative, on one symmetric scale per image.
    """
    max_units = positive_int(max_units, "max_units")
    W = np.asarray(model.params["W1"], dtype=np.float64)
    if W.ndim == 2:
        images = W.T
        side = math.isqrt(W.shape[0])
        shape = image_shape or (side, side)
        if shape[0] * shape[1] != W.shape[0]:
            raise ValueError(f"cannot show {W.shape[0]} inputs per unit as an image: "
                             "pass image_shape")
        images = images.reshape(-1, *shape)
        what = "unit"
    elif W.ndim == 4:  # (filters, channels, kh, kw): one image per filter, channels averaged
        images = W.mean(axis=1)
        what = "filter"
    else:
        raise ValueError(f"the first layer's W1 has shape {W.shape}, expected 2-D or 4-D")
    images = images[:max_units]
    if not len(images):
        raise ValueError(f"the first layer's W1 has shape {W.shape}: no {what}s to show")
    cols = math.ceil(math.sqrt(len(images)))
    rows = math.ceil(len(images) / cols)
    fig = new_figure(figsize=(1.2 * cols, 1.2 * rows + 0.5), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols)).reshape(-1)
    for ax in axes:
        ax.axis("off")
    for ax, image in zip(axes, images, strict=False):
        lim = float(np.max(np.abs(image))) or 1.0
        ax.imshow(image, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    fig.suptitle(f"First-layer weights: {len(images)} of {W.shape[-1] if W.ndim == 2 else len(W)}"
                 f" {what}s (red +, blue -)")
    return _finish(fig, path)


def plot_confusion_matrix(
    cm: ArrayLike, classes: Sequence[str] | None = None, normalize: bool = False,
    path: str | os.PathLike | None = None,
) -> Figure:
    """Counts of true class (rows) against predicted class (columns), annotated.

    ``normalize`` divides each row by its total (the recall on the diagonal).
    """
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.size == 0:
        raise ValueError(f"expected a square, non-empty matrix, got shape {cm.shape}")
    if cm.dtype.kind not in "iuf" or not np.isfinite(cm).all() or (cm < 0).any() \
            or (cm.dtype.kind == "f" and (cm != np.round(cm)).any()):
        raise ValueError("expected a confusion matrix of counts: whole numbers >= 0")
    k = cm.shape[0]
    classes = [str(c) for c in (classes if classes is not None else range(k))]
    if len(classes) != k:
        raise ValueError(f"{len(classes)} class names for a {k}x{k} matrix")
    values = cm.astype(np.float64)
    if normalize:
        totals = values.sum(axis=1, keepdims=True)
        values = np.divide(values, totals, out=np.zeros_like(values), where=totals > 0)
    size = max(4.0, 0.55 * k + 2)
    fig = new_figure(figsize=(size + 1, size))
    ax = fig.add_subplot()
    shown = ax.imshow(values, cmap="Blues")
    fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(k), classes, rotation=45 if max(map(len, classes)) > 2 else 0,
                  ha="right" if max(map(len, classes)) > 2 else "center")
    ax.set_yticks(range(k), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Confusion matrix" + (" (row-normalised)" if normalize else ""))
    if k <= 20:
        high = values.max() / 2 if values.size else 0
        for i in range(k):
            for j in range(k):
                text = f"{values[i, j]:.2f}" if normalize else str(int(cm[i, j]))
                ax.text(j, i, text, ha="center", va="center", fontsize=8,
                        color="white" if values[i, j] > high else "black")
    return _finish(fig, path)


def plot_gradient_descent_path(
    f: Callable[[np.ndarray], float],
    points: ArrayLike,
    xlim: tuple[float, float] | None = None,
    ylim: tuple[float, float] | None = None,
    levels: int = 15,
    path: str | os.PathLike | None = None,
) -> Figure:
    """Contours of a function of 2 variables and the points gradient descent visited.

    ``f`` takes an array of shape (2,); ``points`` has shape (steps, 2), e.g. the
    ``path`` from :func:`scratchnn.gradient.gradient_descent` with ``return_path=True``.
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
        raise ValueError(f"expected path points of shape (steps, 2), got {points.shape}")
    if not np.isfinite(points).all():
        first = int(np.flatnonzero(~np.isfinite(points).all(axis=1))[0])
        raise ValueError(f"path point {first} is not finite ({points[first].tolist()}): "
                         "gradient descent diverged; try a smaller learning rate")
    if xlim is None or ylim is None:
        span = np.abs(points).max() * 1.2 or 1.0
        xlim = xlim or (-span, span)
        ylim = ylim or (-span, span)
    gx = np.linspace(*xlim, 101)
    gy = np.linspace(*ylim, 101)
    z = np.array([[f(np.array([a, b])) for a in gx] for b in gy])
    fig = new_figure(figsize=(6, 5.5))
    ax = fig.add_subplot()
    contours = ax.contour(gx, gy, z, levels=levels, cmap="viridis", linewidths=0.8)
    ax.clabel(contours, fontsize=7, fmt="%.3g")
    ax.plot(points[:, 0], points[:, 1], "o-", color="tab:red", markersize=3, linewidth=1,
            label=f"{len(points) - 1} steps")
    ax.plot(*points[0], "s", color="black", label="start")
    ax.plot(*points[-1], "*", color="tab:orange", markersize=14, label="end")
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.set_xlabel("$x_0$")
    ax.set_ylabel("$x_1$")
    ax.set_title("Gradient descent")
    ax.legend(loc="upper right")
    return _finish(fig, path)


def plot_runs(histories: dict, path: str | os.PathLike | None = None) -> Figure:
    """Several runs' learning curves overlaid: mean training loss and val_acc (in percent)
    per epoch, one line per run. ``histories`` maps a run's name to its History."""
    if not histories:
        raise ValueError("give at least one run to draw")
    fig = new_figure(figsize=(11, 4))
    ax_loss, ax_acc = fig.subplots(1, 2)
    for name, history in histories.items():
        epochs = history.column("epoch")
        ax_loss.plot(epochs, history.column("loss"), marker=".", label=name)
        acc = history.column("val_acc")
        seen = ~np.isnan(acc)
        ax_acc.plot(epochs[seen], 100 * acc[seen], marker=".", label=name)
    for ax, label, title in ((ax_loss, "mean training loss", "Training loss"),
                             (ax_acc, "val_acc (%)", "Accuracy on the watched set")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _finish(fig, path)


def plot_decision_boundary(
    model, x: ArrayLike, t: ArrayLike, classes: Sequence[str] | None = None,
    resolution: int = 200, path: str | os.PathLike | None = None,
) -> Figure:
    """The class a model of 2 inputs predicts over the plane (shaded), with the points
    (x (N, 2), labels t) on top: where the network draws its lines between the classes."""
    x = np.asarray(x, dtype=np.float64)
    t = class_labels(t)
    if x.ndim != 2 or x.shape[1] != 2 or len(t) != len(x):
        raise ValueError(f"expected 2-D points x (N, 2) and N labels, got x {x.shape} and "
                         f"{len(t)} labels")
    resolution = positive_int(resolution, "resolution")
    low, high = x.min(axis=0), x.max(axis=0)
    margin = 0.1 * np.maximum(high - low, 1e-9)
    gx, gy = (np.linspace(lo - m, hi + m, resolution)
              for lo, hi, m in zip(low, high, margin, strict=True))
    grid = np.stack(np.meshgrid(gx, gy), axis=-1).reshape(-1, 2)
    area = model.predict_classes(grid.astype(model.dtype), batch_size=10_000)
    k = int(max(area.max(), t.max())) + 1
    fig = new_figure(figsize=(6, 5.5))
    ax = fig.add_subplot()
    cmap = "tab10"
    ax.contourf(gx, gy, area.reshape(resolution, resolution), levels=np.arange(k + 1) - 0.5,
                cmap=cmap, vmin=0, vmax=9, alpha=0.3)
    for c in range(k):
        mine = t == c
        name = classes[c] if classes is not None else str(c)
        ax.scatter(x[mine, 0], x[mine, 1], s=12, color=f"C{c}", edgecolors="black",
                   linewidths=0.3, label=f"class {name}")
    ax.set_xlabel("$x_0$")
    ax.set_ylabel("$x_1$")
    ax.set_title("Decision boundary")
    ax.legend(loc="upper right", fontsize=8)
    return _finish(fig, path)
