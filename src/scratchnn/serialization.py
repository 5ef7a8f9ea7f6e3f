"""Model files: a network's architecture and parameters in one ``.npz`` file, without pickle.

A model file is an ordinary NumPy ``.npz`` archive holding

- ``param/<name>``: each parameter (W1, b1, ...), in the model's dtype;
- ``state/<layer index>/<key>``: arrays a layer keeps but does not train (batch-norm's
  running mean and variance);
- ``meta``: one JSON string with the format name and version, the scratchnn version,
  the architecture (:meth:`Sequential.config`), the dtype and free-form metadata.

Loading reads it with ``allow_pickle=False``, so opening a file never runs code from it,
and rebuilds each layer from its class name through the :data:`LAYER_TYPES` registry.
Every file is written atomically: to a temporary file beside the target, flushed to disk,
then renamed over it, so a crash leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from . import conv, regularization
from . import layers as _layers
from ._checks import positive_int
from ._files import atomic_write
from .network import Sequential

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "LAYER_TYPES",
    "LOSS_TYPES",
    "atomic_write",
    "build_model",
    "load_arrays",
    "load_model",
    "model_arrays",
    "model_meta",
    "read_archive",
    "read_model_meta",
    "save_model",
    "write_archive",
]

FORMAT = "scratchnn-model"
FORMAT_VERSION = 1
#: Archive kinds :func:`load_model` accepts: a training checkpoint holds a whole model too.
_MODEL_FORMATS = (FORMAT, "scratchnn-checkpoint")

#: Layer classes a model file may name, by class name.
LAYER_TYPES: dict[str, type[_layers.Layer]] = {
    "Affine": _layers.Affine,
    "ReLU": _layers.ReLU,
    "LeakyReLU": _layers.LeakyReLU,
    "Sigmoid": _layers.Sigmoid,
    "Tanh": _layers.Tanh,
    "Identity": _layers.Identity,
    "Convolution2D": conv.Convolution2D,
    "MaxPooling2D": conv.MaxPooling2D,
    "AveragePooling2D": conv.AveragePooling2D,
    "Flatten": conv.Flatten,
    "Dropout": regularization.Dropout,
    "BatchNormalization": regularization.BatchNormalization,
}

#: Output (loss) layers a model file may name, by class name.
LOSS_TYPES: dict[str, type[_layers.LossLayer]] = {
    "SoftmaxCrossEntropy": _layers.SoftmaxCrossEntropy,
    "SigmoidBinaryCrossEntropy": _layers.SigmoidBinaryCrossEntropy,
    "IdentityMSE": _layers.IdentityMSE,
}


def _version() -> str:
    # Imported here: the package's __init__ imports this module before defining __version__.
    from . import __version__

    return __version__


# --- files -------------------------------------------------------------------------------


def write_archive(path: str | os.PathLike, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Write ``arrays`` and a JSON ``meta`` dict to an ``.npz`` file, atomically."""
    if "meta" in arrays:
        raise ValueError("'meta' is reserved for the JSON header; rename that array")
    contents = {name: np.ascontiguousarray(a) for name, a in arrays.items()}
    contents["meta"] = np.array(json.dumps(meta))
    with atomic_write(path) as f:
        np.savez(f, **contents)


def read_archive(
    path: str | os.PathLike, formats: tuple[str, ...] = _MODEL_FORMATS, meta_only: bool = False
) -> tuple[dict[str, np.ndarray], dict]:
    """Read an archive written by :func:`write_archive`: (arrays, meta), without pickle.

    ``meta_only``: read the JSON header alone (arrays comes back empty).
    Raises ValueError naming the file when it is truncated or corrupt, is not one of
    ``formats``, or was written by a newer format version than this scratchnn reads.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path}: a folder, not a model file")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != b"PK\x03\x04":  # every .npz file is a zip archive
        if len(magic) < 4:
            raise ValueError(f"{path}: truncated or corrupt model file ({len(magic)} bytes)")
        hint = ""
        if magic[:1] == b"\x80":  # a pickle's protocol marker
            hint = ("; it looks like a pickle, which scratchnn never loads as a model "
                    "(for the book's sample_weight.pkl use load_sample_weights)")
        raise ValueError(f"{path}: not a scratchnn model file (not an .npz archive{hint})")
    try:
        # Our own file object: closed even when numpy gives up half-way through a bad file.
        with open(path, "rb") as f:
            # The signature check above leaves np.load only zip archives: NpzFile objects.
            with np.load(f, allow_pickle=False) as archive:
                names = [n for n in archive.files if n == "meta" or not meta_only]
                arrays = {name: archive[name] for name in names}
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as err:
        raise ValueError(f"{path}: truncated or corrupt model file ({err})") from err
    except MemoryError as err:  # a header that declares a huge array over a few bytes
        raise ValueError(f"{path}: corrupt model file: an array declares more data than "
                         f"fits in memory ({err})") from err
    except ValueError as err:
        raise ValueError(f"{path}: not a scratchnn model file ({err})") from err
    for name, value in arrays.items():
        if not isinstance(value, np.ndarray):  # np.load gives the raw bytes of other members
            raise ValueError(f"{path}: not a scratchnn model file (entry {name!r} is not a "
                             "NumPy array)")
    if "meta" not in arrays:
        raise ValueError(f"{path}: not a scratchnn model file (no 'meta' entry)")
    try:
        meta = json.loads(str(arrays.pop("meta")[()]))
    except (json.JSONDecodeError, IndexError, RecursionError) as err:
        raise ValueError(f"{path}: not a scratchnn model file (unreadable 'meta': "
                         f"{type(err).__name__}: {err})") from err
    if not isinstance(meta, dict) or meta.get("format") not in formats:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise ValueError(f"{path}: not a scratchnn model file (format {found!r}, "
                         f"expected {' or '.join(repr(f) for f in formats)})")
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"{path}: bad format_version {version!r}")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path}: written by a newer scratchnn ({meta.get('scratchnn_version', '?')}, "
            f"format version {version}); this scratchnn {_version()} reads version "
            f"{FORMAT_VERSION} at most: upgrade scratchnn"
        )
    return arrays, meta


# --- models ------------------------------------------------------------------------------


def model_arrays(model: Sequential) -> dict[str, np.ndarray]:
    """The arrays of a model file: ``param/<name>`` and ``state/<layer index>/<key>``."""
    arrays = {f"param/{name}": p for name, p in model.params.items()}
    for i, layer in enumerate(model.layers):
        for key, value in layer.state().items():
            arrays[f"state/{i}/{key}"] = np.asarray(value)
    return arrays


def model_meta(model: Sequential, metadata: dict | None = None, kind: str = FORMAT) -> dict:
    """The JSON header of a model file (``kind`` is the format name)."""
    return {
        "format": kind,
        "format_version": FORMAT_VERSION,
        "scratchnn_version": _version(),
        "class": type(model).__name__,
        "config": model.config(),
        "dtype": str(model.dtype),
        "metadata": dict(metadata or {}),
    }


def save_model(model: Sequential, path: str | os.PathLike, metadata: dict | None = None) -> Path:
    """Save ``model`` to ``path`` (an ``.npz`` file), atomically; returns the path.

    ``metadata`` is any JSON-serialisable dict (data set, training settings, final
    accuracies...); it comes back from :func:`read_model_meta`.
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"expected a Sequential model, got {type(model).__name__}")
    meta = model_meta(model, metadata)
    try:
        json.dumps(meta)
    except TypeError as err:
        raise TypeError(f"metadata must hold JSON values only: {err}") from err
    write_archive(path, model_arrays(model), meta)
    return Path(path)


def read_model_meta(path: str | os.PathLike) -> dict:
    """The JSON header of a model file: format, version, config, dtype, metadata."""
    return read_archive(path, meta_only=True)[1]


def load_model(path: str | os.PathLike) -> Sequential:
    """Rebuild the :class:`Sequential` saved in ``path`` (a model file or a checkpoint).

    The loaded model carries the file's header as ``model.meta``.
    """
    arrays, meta = read_archive(path)
    # Checked before building, which allocates (and initialises) what the config says: a
    # few bytes of JSON could ask for gigabytes. Small mismatches are left to the precise
    # checks that follow (which parameter, which shape).
    declared, held = _declared_values(meta.get("config")), sum(a.size for a in arrays.values())
    if declared > max(2 * held, _CHEAP_TO_BUILD):
        raise ValueError(f"{path}: its architecture has {declared:,} weights and statistics, "
                         f"but the file holds {held:,} values: a damaged or forged model file")
    try:
        model = build_model(meta["config"])
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path}: bad architecture in model file ({err})") from err
    except MemoryError as err:
        raise ValueError(f"{path}: the architecture in this model file does not fit in "
                         f"memory ({err})") from err
    try:
        load_arrays(model, arrays)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: {err}") from err
    model.meta = meta
    return model


#: values a model may declare beyond what its file holds before it is refused unbuilt
_CHEAP_TO_BUILD = 10_000_000


def _declared_values(config) -> int:
    """How many numbers the sized layers of ``config`` hold (parameters and statistics),
    counted from the sizes it gives, without building anything. Sizes that are not whole
    numbers count 0 here: building the layer refuses them."""
    def size(*values) -> int:
        # As the layers take them (positive_int): whole numbers, also as floats (JSON's 1e5).
        try:
            return math.prod(positive_int(v, "size") for v in values)
        except ValueError:
            return 0

    total = 0
    layers = config.get("layers") if isinstance(config, dict) else None
    for spec in layers if isinstance(layers, list) else []:
        if not isinstance(spec, dict):
            continue
        kind = spec.get("type")
        if kind == "Affine":
            n_in, n_out = spec.get("in_features"), spec.get("out_features")
            total += size(n_in, n_out) + size(n_out)
        elif kind == "Convolution2D":
            kernel = spec.get("kernel_size")
            kh, kw = (kernel, kernel) if not isinstance(kernel, list) else (kernel + [0, 0])[:2]
            c_in, c_out = spec.get("in_channels"), spec.get("out_channels")
            total += size(c_out, c_in, kh, kw) + size(c_out)
        elif kind == "BatchNormalization":
            total += 4 * size(spec.get("num_features"))  # gamma, beta, mean, variance
    return total


def build_model(config: dict) -> Sequential:
    """A freshly initialised :class:`Sequential` from :meth:`Sequential.config` output."""
    dtype = np.dtype(config["dtype"])
    layers = [_build_layer(spec, dtype) for spec in config["layers"]]
    loss_name = config["loss"]
    if loss_name not in LOSS_TYPES:
        raise ValueError(f"unknown output layer {loss_name!r}; known: {sorted(LOSS_TYPES)}")
    return Sequential(layers, LOSS_TYPES[loss_name](), weight_decay=config["weight_decay"])


def _build_layer(spec: dict, dtype: np.dtype) -> _layers.Layer:
    kwargs = dict(spec)
    name = kwargs.pop("type")
    if name not in LAYER_TYPES:
        raise ValueError(f"unknown layer type {name!r}; known: {sorted(LAYER_TYPES)}")
    cls = LAYER_TYPES[name]
    # Layer configs leave the dtype to the network's config: hand it to layers that make arrays.
    if "dtype" in inspect.signature(cls).parameters:
        kwargs.setdefault("dtype", dtype)
    return cls(**kwargs)


def load_arrays(model: Sequential, arrays: dict[str, np.ndarray]) -> None:
    """Set a model's parameters and layer states from ``param/...`` and ``state/...`` arrays."""
    params = {}
    for name in model.params:
        key = f"param/{name}"
        if key not in arrays:
            raise ValueError(f"missing parameter {name!r} (no '{key}' entry)")
        params[name] = arrays[key]
    model.set_params(params)
    for i, layer in enumerate(model.layers):
        expected = layer.state()
        if not expected:
            continue
        state = {}
        for key in expected:
            entry = f"state/{i}/{key}"
            if entry not in arrays:
                raise ValueError(f"missing state {key!r} of layer {i} (no '{entry}' entry)")
            state[key] = arrays[entry]
        layer.load_state(state)
