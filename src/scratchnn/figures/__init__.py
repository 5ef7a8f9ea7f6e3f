"""Figures for the book's chapters and the course's notebooks, drawn with matplotlib.

- :mod:`scratchnn.figures.plots`: activation functions (chapter 3), gradient-descent paths
  (chapter 4), learning curves, misclassified samples, first-layer weights and confusion
  matrices; :func:`new_figure` and :func:`save_figure`, which every figure goes through.
- :mod:`scratchnn.figures.experiments`: chapter 6.2's weight-initialisation experiment
  (hidden-activation histograms).

matplotlib is imported on the first figure drawn, not by ``import scratchnn.figures``.
"""

from __future__ import annotations

from .experiments import INITS, activation_distributions, plot_activation_histograms
from .plots import (
    new_figure,
    plot_activations,
    plot_confusion_matrix,
    plot_first_layer_weights,
    plot_gradient_descent_path,
    plot_learning_curves,
    plot_misclassified,
    save_figure,
)

__all__ = [
    "INITS",
    "activation_distributions",
    "new_figure",
    "plot_activation_histograms",
    "plot_activations",
    "plot_confusion_matrix",
    "plot_first_layer_weights",
    "plot_gradient_descent_path",
    "plot_learning_curves",
    "plot_misclassified",
    "save_figure",
]
