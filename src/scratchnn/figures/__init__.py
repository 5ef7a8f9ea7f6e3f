"""Figures for the book's chapters and the course's notebooks, drawn with matplotlib.

- :mod:`scratchnn.figures.plots`: activation functions (chapter 3), gradient-descent paths
  (chapter 4), learning curves (one run or several), misclassified samples, first-layer
  weights, confusion matrices and decision boundaries of 2-D models; :data:`FIGURE_FILES`
  (one file name per figure); :func:`new_figure` and :func:`save_figure`, which every
  figure goes through.
- :mod:`scratchnn.figures.experiments`: chapter 6.1's optimizer comparison (paths on
  x^2/20 + y^2, MNIST losses) and chapter 6.2's weight-initialisation experiment
  (hidden-activation histograms).

matplotlib is imported on the first figure drawn, not by ``import scratchnn.figures``.
"""

from __future__ import annotations

from .experiments import (
    BOOK_OPTIMIZERS,
    INITS,
    activation_distributions,
    optimizer_curves,
    optimizer_paths,
    plot_activation_histograms,
    plot_optimizer_comparison,
)
from .plots import (
    FIGURE_FILES,
    new_figure,
    plot_activations,
    plot_confusion_matrix,
    plot_decision_boundary,
    plot_first_layer_weights,
    plot_gradient_descent_path,
    plot_learning_curves,
    plot_misclassified,
    plot_runs,
    save_figure,
)

__all__ = [
    "BOOK_OPTIMIZERS",
    "FIGURE_FILES",
    "INITS",
    "activation_distributions",
    "new_figure",
    "optimizer_curves",
    "optimizer_paths",
    "plot_activation_histograms",
    "plot_activations",
    "plot_confusion_matrix",
    "plot_decision_boundary",
    "plot_first_layer_weights",
    "plot_gradient_descent_path",
    "plot_learning_curves",
    "plot_misclassified",
    "plot_optimizer_comparison",
    "plot_runs",
    "save_figure",
]
