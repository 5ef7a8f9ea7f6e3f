"""Does an input look like what the model was trained on? The energy score (Liu et al., 2020).

A classifier answers for any input: a smiley gets "0 (84.7%)". Its scores (logits) z say
more than its answer, though: inputs like the training data make some class score high,
and other inputs tend to leave every score low. The energy score measures that::

    score(x) = log sum_k exp(z_k)          (minus the "free energy" of x)

It is calibrated on inputs of the training distribution (held-out digits): the threshold
is the score that ``false_alarm`` of them (5%) fall below. An input whose score falls
below it is flagged as unlike the training data. A single sigmoid output z is read as the
two logits -z/2, z/2 (the same probabilities), so that both answers count alike.

Measured on MNIST (784-256-10 ReLU MLP, 3 epochs, threshold at 5% false alarms on 10,000
held-out training digits): 5.1% of the MNIST test digits flagged; 64% of the
cat-vs-non-cat photos and 74% of drawn shapes, lines and noise flagged once converted
like a digit photo. tests/test_novelty.py measures a smaller model (784-100-10, 2
epochs): 4.8% false alarms, 38% of the shapes and 55% of the cats flagged. A
detector from the logits alone misses inputs the model is confidently wrong about: a
flag means "unlike the training data", no flag proves nothing.

    threshold = calibrate(net, x_val)                 # once, on in-distribution inputs
    scores, unlike = detect(net, x, threshold)        # per input: the score, the flag
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._validate import number
from .network import Sequential

__all__ = ["FALSE_ALARM", "calibrate", "detect", "energy_score", "stored_threshold"]

#: The share of in-distribution inputs that the default threshold flags.
FALSE_ALARM = 0.05


def energy_score(model: Sequential, x: ArrayLike, batch_size: int = 1000) -> np.ndarray:
    """log sum_k exp(z_k) of each input's logits z (float64, shape (N,)): high for inputs
    like the training data. One sigmoid output z counts as the logits (-z/2, z/2)."""
    z = np.asarray(model.predict(x, batch_size=batch_size), dtype=np.float64)
    if z.shape[1] == 1:
        z = np.hstack([-z / 2, z / 2])
    top = z.max(axis=1)
    return top + np.log(np.exp(z - top[:, None]).sum(axis=1))


def calibrate(model: Sequential, x: ArrayLike, false_alarm: float = FALSE_ALARM) -> float:
    """The threshold below which ``false_alarm`` of ``x`` (inputs of the training
    distribution, not seen in training) score: the quantile of their energy scores."""
    false_alarm = number(false_alarm, "false_alarm", 0.0, 1.0, low_open=True)
    return float(np.quantile(energy_score(model, x), false_alarm))


def stored_threshold(model: Sequential) -> float | None:
    """The threshold that ``scratchnn train`` stored in the model file, if any."""
    meta = getattr(model, "meta", {}).get("metadata", {}).get("novelty") or {}
    value = meta.get("threshold")
    return float(value) if isinstance(value, (int, float)) else None


def detect(model: Sequential, x: ArrayLike, threshold: float | None = None
           ) -> tuple[np.ndarray, np.ndarray]:
    """(scores, unlike): each input's energy score, and whether it falls below
    ``threshold`` (default: the one stored in the model file by ``scratchnn train``)."""
    if threshold is None:
        threshold = stored_threshold(model)
        if threshold is None:
            raise ValueError("the model file holds no novelty threshold: compute one with "
                             "calibrate(model, inputs like its training data)")
    threshold = number(threshold, "threshold", -np.inf)
    scores = energy_score(model, x)
    return scores, scores < threshold
