"""The Draw view: a picture in, what the network sees and thinks out.

The picture (the page's canvas as PNG, or an uploaded photo) goes through
:func:`scratchnn.images.load_digit`, the very preprocessing of ``scratchnn predict``; the
network then runs layer by layer, as the book's ``predict`` does, and the output of every
hidden activation is kept: the units of an MLP, the feature maps of a ConvNet.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..files.model_file import input_shape
from ..functions import predicted_classes
from ..images import read_digit
from ..layers import ACTIVATIONS
from ..network import Sequential
from ..novelty import detect

__all__ = ["MAX_PIXELS", "MAX_UPLOAD", "NotAPicture", "PictureTooLarge", "describe",
           "novelty", "read_picture"]

#: The largest upload taken, in bytes (a phone photo is 2-6 MB).
MAX_UPLOAD = 12 * 2**20
#: The most pixels a picture may declare (a small file can declare a huge picture).
MAX_PIXELS = 40_000_000
#: Feature maps shown per convolution layer.
MAPS_SHOWN = 16


class PictureTooLarge(ValueError):
    """An upload over :data:`MAX_UPLOAD` bytes or :data:`MAX_PIXELS` pixels."""


class NotAPicture(ValueError):
    """An upload that is empty, or not in a picture format that Pillow reads."""


def read_picture(data: bytes) -> np.ndarray:
    """The picture in ``data`` (PNG, JPEG, ... bytes) as a 28x28 float32 MNIST digit.

    Raises :class:`PictureTooLarge`, :class:`NotAPicture`, or ValueError when the picture
    shows no digit (a blank canvas).
    """
    if len(data) > MAX_UPLOAD:
        raise PictureTooLarge(f"the picture is {len(data) / 2**20:.1f} MB; the most taken is "
                              f"{MAX_UPLOAD // 2**20} MB")
    if not data:
        raise NotAPicture("no picture was sent (the upload is empty)")
    try:
        with Image.open(io.BytesIO(data)) as image:  # reads the header alone
            width, height = image.size
    except (UnidentifiedImageError, OSError) as err:
        raise NotAPicture("not a picture: send a PNG, JPEG, GIF, BMP or WebP file") from err
    if width * height > MAX_PIXELS:
        raise PictureTooLarge(f"the picture has {width}x{height} pixels; the most taken is "
                              f"{MAX_PIXELS / 1e6:.0f} megapixels")
    return read_digit(io.BytesIO(data))  # as `scratchnn predict` reads a file


def _shown(a: np.ndarray) -> list:
    return np.round(a.astype(np.float64), 4).tolist()


def _activation(layer_number: int, layer, out: np.ndarray) -> dict:
    """One hidden activation's output for the page: units, or feature maps."""
    entry = {"layer": layer_number, "type": type(layer).__name__}
    if out.ndim == 4:  # (1, C, H, W): feature maps, scaled to the layer's largest value
        maps = out[0, :MAPS_SHOWN]
        top = float(np.abs(out).max()) or 1.0
        entry.update(kind="maps", channels=int(out.shape[1]), shape=list(maps.shape[1:]),
                     maps=np.round(255 * np.abs(maps) / top).astype(np.uint8).tolist())
    else:
        entry.update(kind="units", values=_shown(out.reshape(-1)))
    return entry


def novelty(model: Sequential, x: np.ndarray, threshold: float | None) -> dict:
    """The energy score of the input ``x`` (1, ...) against ``threshold``, and the warning
    of ``scratchnn predict`` when it falls below (:mod:`scratchnn.novelty`)."""
    if threshold is None:
        return {"unlike": None, "warning": None,
                "note": "no novelty check: the model file holds no threshold and its data "
                        "set is not here to calibrate one"}
    scores, unlike = detect(model, x, threshold)
    warning = ("This does not look like the data the model was trained on: the answer "
               f"means little (energy score {scores[0]:.2f}, threshold {threshold:.2f})"
               if unlike[0] else None)
    return {"unlike": bool(unlike[0]), "score": float(scores[0]), "threshold": threshold,
            "warning": warning}


def describe(model: Sequential, digit: np.ndarray, classes: list[str] | None = None,
             threshold: float | None = None) -> dict:
    """What ``model`` makes of a 28x28 ``digit``: the input it sees (0-255), the hidden
    activations, the class probabilities, the predicted class, and whether the input looks
    like the training data (``threshold``: see :func:`novelty`)."""
    x = digit.astype(model.dtype).reshape(1, *input_shape(model))
    h, _ = model.check_data(x)
    activations = []
    for i, layer in enumerate(model.layers, start=1):
        h = layer.forward(h)
        if isinstance(layer, tuple(ACTIVATIONS.values())) and i < len(model.layers):
            activations.append(_activation(i, layer, h))
    probs = model.loss_layer.output(h)[0].astype(np.float64)
    if probs.size == 1:  # one sigmoid output: p of class 1
        probs = np.array([1 - probs[0], probs[0]])
    predicted = int(predicted_classes(h)[0])
    classes = list(classes) if classes else [str(k) for k in range(probs.size)]
    return {
        "input": np.round(255 * np.clip(digit, 0, 1)).astype(np.uint8).reshape(-1).tolist(),
        "activations": activations,
        "probs": _shown(probs),
        "classes": classes,
        "predicted": predicted,
        "label": classes[predicted],
        "novelty": novelty(model, x, threshold),
    }
