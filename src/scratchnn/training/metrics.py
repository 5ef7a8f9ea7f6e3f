"""How well a trained network does: loss, accuracy, confusion matrix (chapters 4 and 6).

The predicted class and the accuracy follow the one rule of
:func:`scratchnn.functions.predicted_classes` and :func:`scratchnn.functions.class_labels`
(the largest score; for a single sigmoid output, a logit above 0).
"""

from __future__ import annotations

import numpy as np

from .._validate import check_labels, positive_int
from ..functions import class_labels, predicted_classes
from ..layers import IdentityMSE
from ..network import Sequential

__all__ = ["classification_report", "confusion_matrix", "evaluate", "evaluate_checked"]


def evaluate(model: Sequential, x, t, batch_size: int = 1000) -> tuple[float, float | None]:
    """(loss, accuracy) of ``model`` on (x, t), from one inference pass.

    The pass runs in chunks of ``batch_size`` samples, so that a ConvNet's intermediate
    arrays stay small whatever the size of the set.

    The loss is the output layer's (cross-entropy, ...) without the weight-decay term;
    the accuracy is None for a regression model (identity output).
    """
    batch_size = positive_int(batch_size, "batch_size")
    x, t = model.check_data(x, t, batch_size=batch_size)
    return evaluate_checked(model, x, t, batch_size)


def evaluate_checked(model: Sequential, x: np.ndarray, t: np.ndarray,
                     batch_size: int = 1000) -> tuple[float, float | None]:
    """:func:`evaluate` on data that :meth:`Sequential.check_data` gave (no checks).

    A loss that is NaN or infinite says that the scores overflowed.
    """
    scores = np.concatenate([model.run(x[i : i + batch_size])
                             for i in range(0, len(x), batch_size)])
    loss = float(model.loss_layer.forward(scores, t))
    if isinstance(model.loss_layer, IdentityMSE):
        return loss, None
    return loss, float(np.mean(predicted_classes(scores) == class_labels(t)))


def confusion_matrix(t, pred, num_classes: int | None = None) -> np.ndarray:
    """cm[i, j] = number of samples of true class i predicted as class j."""
    t = class_labels(t)
    pred = np.asarray(pred).reshape(-1)
    if t.shape != pred.shape:
        raise ValueError(f"expected as many predictions as labels, got {pred.shape} and {t.shape}")
    if num_classes is None:
        num_classes = int(max(t.max(initial=0), pred.max(initial=0))) + 1
    num_classes = positive_int(num_classes, "num_classes")
    t = check_labels(t, num_classes, "labels")
    pred = check_labels(pred, num_classes, "predictions")
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (t, pred), 1)
    return cm


def classification_report(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class precision = cm[j, j] / column sum, recall = cm[i, i] / row sum, support.

    A class never predicted has precision 0 (and one never present, recall 0).
    """
    cm = np.asarray(cm)
    hits = np.diag(cm).astype(np.float64)
    predicted = cm.sum(axis=0)
    actual = cm.sum(axis=1)
    precision = np.divide(hits, predicted, out=np.zeros_like(hits), where=predicted > 0)
    recall = np.divide(hits, actual, out=np.zeros_like(hits), where=actual > 0)
    return {"precision": precision, "recall": recall, "support": actual}
