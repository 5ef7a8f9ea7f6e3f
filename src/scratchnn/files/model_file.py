"""Model files: a network's architecture and parameters in one ``.npz`` file, without pickle.

Out of the reading path: what ``save_model``/``load_model`` and the checkpoints write.
A model file is an ordinary NumPy ``.npz`` archive holding

- ``param/<name>``: each parameter (W1, b1, ...), in the model's dtype;
- ``state/<layer index>/<key>``: arrays a layer keeps but does not train (batch-norm's
  running mean and variance);
- ``meta``: one JSON string with the format name and version, the scratchnn version,
  the architecture (:meth:`Sequential.config`), which parameters each layer has, the dtype
  and free-form metadata.

Loading reads it with ``allow_pickle=False``, so opening a file never runs code from it,
and rebuilds each layer with ``from_config`` of the class that
:func:`scratchnn.layers.layer_types` finds by its name: a layer class defined anywhere
saves and loads without being registered. Every file is written atomically: to a
temporary file beside the target, flushed to disk, then renamed over it, so a crash leaves
either the old file or the new one, never half of one.
"""

from __future__ import annotations

import inspect
import json
import numbers
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .._version import __version__
from ..layers import Layer, LossLayer, layer_types
from ..network import Sequential
from .atomic import atomic_write

__all__ = [
    "CHECKPOINT_FORMAT",
    "FORMAT",
    "FORMAT_VERSION",
    "build_model",
    "input_shape",
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
#: The format of training checkpoints (:mod:`scratchnn.files.checkpoint`): a model file
#: with the training state beside the model.
CHECKPOINT_FORMAT = "scratchnn-checkpoint"
FORMAT_VERSION = 1
#: Archive kinds :func:`load_model` accepts: a training checkpoint holds a whole model too.
MODEL_FORMATS = (FORMAT, CHECKPOINT_FORMAT)

#: How far a size in a layer's config may exceed the number of values the file holds
#: before the file is refused unbuilt (see :func:`check_sizes`).
SIZE_SLACK = 64


# --- archives ----------------------------------------------------------------------------


def write_archive(path: str | os.PathLike, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Write ``arrays`` and a JSON ``meta`` dict to an ``.npz`` file, atomically."""
    if "meta" in arrays:
        raise ValueError("'meta' is reserved for the JSON header; rename that array")
    contents = {name: np.ascontiguousarray(a) for name, a in arrays.items()}
    contents["meta"] = np.array(json.dumps(meta))
    with atomic_write(path) as f:
        np.savez(f, **contents)


def read_archive(
    path: str | os.PathLike, formats: tuple[str, ...] = MODEL_FORMATS, meta_only: bool = False
) -> tuple[dict[str, np.ndarray], dict]:
    """Read an archive written by :func:`write_archive`: (arrays, meta), without pickle.

    ``meta_only``: read the JSON header alone (arrays comes back empty).
    Raises ValueError naming the file when it is truncated or corrupt, is not one of
    ``formats``, or was written by a newer format version than this scratchnn reads.
    """
    path = Path(path)
    _check_zip_signature(path)
    arrays = _read_npz(path, meta_only)
    if "meta" not in arrays:
        raise ValueError(f"{path}: not a scratchnn model file (no 'meta' entry)")
    try:
        meta = json.loads(str(arrays.pop("meta")[()]))
    except (ValueError, IndexError, RecursionError) as err:  # (ValueError: too many digits)
        raise ValueError(f"{path}: not a scratchnn model file (unreadable 'meta': "
                         f"{type(err).__name__}: {err})") from err
    _check_header(path, meta, formats)
    return arrays, meta


def _check_zip_signature(path: Path) -> None:
    """Refuse what is not a file holding a zip archive (every .npz file is one)."""
    if path.is_dir():
        raise ValueError(f"{path}: a folder, not a model file")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic == b"PK\x03\x04":
        return
    if len(magic) < 4:
        raise ValueError(f"{path}: truncated or corrupt model file ({len(magic)} bytes)")
    hint = ""
    if magic[:1] == b"\x80":  # a pickle's protocol marker
        hint = ("; it looks like a pickle, which scratchnn never loads as a model "
                "(for the book's sample_weight.pkl use load_sample_weights)")
    raise ValueError(f"{path}: not a scratchnn model file (not an .npz archive{hint})")


def _read_npz(path: Path, meta_only: bool) -> dict[str, np.ndarray]:
    """The arrays of a zip archive (only 'meta' when ``meta_only``), read without pickle."""
    try:
        # Our own file object: closed even when numpy gives up half-way through a bad file.
        with open(path, "rb") as f:
            # The signature check leaves np.load only zip archives: NpzFile objects.
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
    return arrays


def _check_header(path: Path, meta, formats: tuple[str, ...]) -> None:
    """The header must name one of ``formats`` and a version this scratchnn reads."""
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
            f"format version {version}); this scratchnn {__version__} reads version "
            f"{FORMAT_VERSION} at most: upgrade scratchnn"
        )


# --- models ------------------------------------------------------------------------------


def model_arrays(model: Sequential) -> dict[str, np.ndarray]:
    """The arrays of a model file: ``param/<name>`` and ``state/<layer index>/<key>``."""
    arrays = {f"param/{name}": p for name, p in model.params.items()}
    for i, layer in enumerate(model.layers):
        for key, value in layer.state().items():
            arrays[f"state/{i}/{key}"] = np.asarray(value)
    return arrays


def model_meta(model: Sequential, metadata: dict | None = None, kind: str = FORMAT) -> dict:
    """The JSON header of a model file (``kind`` is the format name).

    ``params`` lists, layer by layer, the file's name of each parameter (``{"W": "W1"}``).
    """
    names = {id(p): name for name, p in model.params.items()}
    return {
        "format": kind,
        "format_version": FORMAT_VERSION,
        "scratchnn_version": __version__,
        "class": type(model).__name__,
        "config": model.config(),
        "params": [{key: names[id(p)] for key, p in layer.params.items()}
                   for layer in model.layers],
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


def input_shape(model: Sequential) -> tuple[int, ...]:
    """The shape of one input sample: from the model file's metadata, else from the first
    weight (an MLP's inputs, or a ConvNet's channels of MNIST-sized images)."""
    shape = getattr(model, "meta", {}).get("metadata", {}).get("input_shape")
    if shape:
        return tuple(int(s) for s in shape)
    W = model.params["W1"]
    return (W.shape[0],) if W.ndim == 2 else (W.shape[1], 28, 28)


def read_model_meta(path: str | os.PathLike) -> dict:
    """The JSON header of a model file: format, version, config, dtype, metadata."""
    return read_archive(path, meta_only=True)[1]


def load_model(path: str | os.PathLike) -> Sequential:
    """Rebuild the :class:`Sequential` saved in ``path`` (a model file or a checkpoint).

    The loaded model carries the file's header as ``model.meta``.
    """
    arrays, meta = read_archive(path)
    _check_finite(path, arrays)
    try:
        # Before building, which allocates what the config says: a few bytes of JSON could
        # ask for gigabytes.
        check_sizes(meta.get("config"), sum(a.size for a in arrays.values()))
        model = build_model(meta["config"], arrays, meta.get("params"))
    except KeyError as err:
        raise ValueError(f"{path}: bad architecture in model file (no {err})") from err
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: {err}") from err
    except MemoryError as err:
        raise ValueError(f"{path}: the architecture in this model file does not fit in "
                         f"memory ({err})") from err
    model.meta = meta
    return model


def _check_finite(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """Refuse a file whose model arrays (parameters and layer state) hold NaN or infinity:
    such a model answers NaN, which would otherwise print as a class with probability nan%.
    A checkpoint's other arrays (optimizer moments, history) are not the model's."""
    for name, a in arrays.items():
        if not name.startswith(("param/", "state/")) or a.dtype.kind not in "fc":
            continue
        finite = np.isfinite(a)
        if not finite.all():
            bad = int(a.size - np.count_nonzero(finite))
            raise ValueError(f"{path}: array {name!r} holds {bad:,} NaN or infinite "
                             f"value{'s' if bad != 1 else ''}: the model is unusable (was it "
                             "saved after training diverged?)")


def check_sizes(config, held: int) -> None:
    """Refuse a config with a number larger than the ``held`` values of its file allow.

    Every size a layer is built from (widths, channels, kernel sizes, features) is at most
    the number of values in its parameters, so a larger one comes from a damaged or forged
    file, and building it could take gigabytes. Seeds size nothing and are not counted.
    """
    layers = config.get("layers") if isinstance(config, dict) else None
    for i, spec in enumerate(layers if isinstance(layers, list) else []):
        if not isinstance(spec, dict):
            continue
        for key, value in spec.items():
            if key == "seed":
                continue
            for number in _numbers(value):
                if number > held + SIZE_SLACK:
                    raise ValueError(
                        f"layer {i} ({spec.get('type')}) declares {key} = {_shown(number)}, "
                        f"more than the {held:,} values the file holds: a damaged or forged "
                        "model file")


def _shown(number) -> str:
    """A number of a file, written short whatever its size (JSON's 1.5e4 as 15,000)."""
    if not number < 10**15:  # (also inf; a huge integer may have more digits than str takes)
        return "more than 10**15"
    return f"{int(number):,}" if float(number).is_integer() else f"{number:,}"


def _numbers(value) -> list:
    """The numbers in a JSON value (in its lists and objects too), booleans left out."""
    found, todo = [], [value]
    while todo:  # (not recursive: a file's JSON may nest deeper than Python recurses)
        item = todo.pop()
        if isinstance(item, (list, dict)):
            todo.extend(item.values() if isinstance(item, dict) else item)
        elif isinstance(item, numbers.Real) and not isinstance(item, bool):
            found.append(item)
    return found


def build_model(config: dict, arrays: dict[str, np.ndarray],
                names: list[dict[str, str]] | None = None) -> Sequential:
    """The :class:`Sequential` that :meth:`Sequential.config` and a file's arrays describe.

    Each layer is rebuilt by ``from_config(its config, its parameters)`` of the class named
    in the config; ``names`` says which of the file's parameters are whose (files of older
    versions do not say: see :func:`_older_file_names`). The layers' state is loaded too.
    """
    types = layer_types()
    layers = [_layer_class(i, spec, types) for i, spec in enumerate(config["layers"])]
    if names is None:
        names = _older_file_names(layers, arrays)
    if not isinstance(names, list) or len(names) != len(layers):
        raise ValueError("the file's parameter names do not match its layers")
    built = [_build_layer(i, cls, spec, _params_of(i, names[i], arrays), config["dtype"])
             for i, (cls, spec) in enumerate(layers)]
    loss = types.get(config["loss"]) if isinstance(config["loss"], str) else None
    if loss is None or not issubclass(loss, LossLayer):
        raise ValueError(f"unknown output layer {config['loss']!r}")
    model = Sequential(built, loss(), weight_decay=config["weight_decay"])
    load_arrays(model, arrays)
    return model


def _layer_class(i: int, spec, types: dict[str, type[Layer]]) -> tuple[type[Layer], dict]:
    """The class a layer's config names, and the config without its ``type``."""
    if not isinstance(spec, dict):
        raise ValueError(f"layer {i}: a config must be a JSON object, got {spec!r}")
    config = dict(spec)
    name = config.pop("type", None)
    cls = types.get(name) if isinstance(name, str) else None
    if cls is None or issubclass(cls, LossLayer):
        raise ValueError(f"unknown layer type {name!r}")
    return cls, config


def _params_of(i: int, names, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Layer i's parameters by their keys, from the file's ``param/<name>`` arrays."""
    if not isinstance(names, dict):
        raise ValueError(f"layer {i}: bad parameter names {names!r}")
    params = {}
    for key, name in names.items():
        entry = f"param/{name}"
        if entry not in arrays:
            raise ValueError(f"missing parameter {name!r} (no '{entry}' entry)")
        params[key] = arrays[entry]
    return params


def _build_layer(i: int, cls: type[Layer], config: dict, params: dict[str, np.ndarray],
                 dtype: str) -> Layer:
    given = config
    # Layer configs leave the dtype to the network's: hand it to layers that make arrays.
    if "dtype" in inspect.signature(cls).parameters:
        config = {"dtype": dtype, **config}
    layer = cls.from_config(config, params)
    # Sizes a file gives beside the arrays must be theirs (from_config may build from
    # the arrays alone): a file that says otherwise is damaged.
    for key, value in layer.config().items():
        if key in given and given[key] != value:
            raise ValueError(f"layer {i} ({cls.__name__}): the file gives {key} "
                             f"{given[key]!r}, its parameters {value!r}")
    return layer


def _older_file_names(layers: list[tuple[type[Layer], dict]],
                      arrays: dict[str, np.ndarray]) -> list[dict[str, str]]:
    """Which parameters are whose, in a file that does not say (scratchnn 0.1's).

    Such a file holds its parameters in the order of the layers, each layer's keys in its
    own order (W1, b1, gamma1, beta1, W2, ...): each layer takes the shortest run of the
    names left that its class rebuilds from (none for an activation, W and b for Affine).
    """
    left = [name[len("param/"):] for name in arrays if name.startswith("param/")]
    found = []
    for i, (cls, config) in enumerate(layers):
        for n in range(len(left) + 1):
            keys = {name.rstrip("0123456789"): name for name in left[:n]}
            try:
                cls.from_config(config, {k: arrays[f"param/{v}"] for k, v in keys.items()})
            except (KeyError, TypeError, ValueError):
                continue
            found.append(keys)
            left = left[n:]
            break
        else:
            raise ValueError(f"layer {i} ({cls.__name__}): no parameters in the file fit it")
    return found


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
