"""The book's pretrained MNIST weights (``sample_weight.pkl``, chapter 3), loaded safely.

The book ships its weights as a Python pickle. Unpickling runs code: a pickle names
functions (``os.system``, say) and calls them with arguments of its choosing. So scratchnn
never hands a file to :func:`pickle.load`; :func:`safe_load_pickle` uses an unpickler that
resolves only the handful of NumPy functions that rebuild arrays and refuses every other
name *before* anything is called. Containers (dict, list, tuple), numbers and strings need
no names at all: the pickle format builds them with its own opcodes.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np
from numpy.typing import DTypeLike

from .network import MLP

__all__ = ["SAMPLE_WEIGHT_SHA256", "safe_load_pickle", "load_sample_weights", "sample_network"]

#: SHA-256 of the book's ``ch03/sample_weight.pkl``.
SAMPLE_WEIGHT_SHA256 = "b7f55a27988ba34c3777b0f1bbd464817c8a4db855723e6ff26f703501917a13"

#: The 784-50-100-10 network's parameters: name -> shape.
SAMPLE_WEIGHT_SHAPES = {
    "W1": (784, 50),
    "b1": (50,),
    "W2": (50, 100),
    "b2": (100,),
    "W3": (100, 10),
    "b3": (10,),
}


class _Allowed:
    """One name a pickle may use: a stand-in that calls ``function`` and can do nothing else.

    The unpickler hands out these, never the functions themselves: pickle's BUILD opcode
    sets attributes on whatever object it is given, and on a real function (or on one of
    NumPy's) that would change it for the whole process.
    """

    __slots__ = ("_name", "_function")

    def __init__(self, name: str, function) -> None:
        self._name = name
        self._function = function

    def __call__(self, *args):
        return self._function(*args)

    def __setstate__(self, state) -> None:
        raise pickle.UnpicklingError(f"refused: the pickle tries to change {self._name}")

    def __repr__(self) -> str:
        return f"<{self._name}>"


def _refuse_direct_ndarray(*args) -> None:
    # numpy.ndarray(shape) would hand back uninitialised memory, of any size the file asks.
    raise pickle.UnpicklingError("refused: numpy.ndarray called directly; a pickled array "
                                 "is rebuilt by numpy's _reconstruct")


_NDARRAY = _Allowed("numpy.ndarray", _refuse_direct_ndarray)


def _numpy_globals() -> dict[tuple[str, str], _Allowed]:
    """The only names a pickle may use: how NumPy 1.x and 2.x pickle arrays and scalars.

    Each (module, name) maps to a stand-in for the object itself, looked up here once; the
    unpickler never imports a module named by the file.
    """
    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # NumPy 1.x
        from numpy.core import multiarray, numeric

    def reconstruct(subtype, shape, dtype):
        # What ndarray.__reduce__ writes: an empty array, whose data the BUILD that
        # follows puts in (and checks against the shape it gives).
        if subtype is not _NDARRAY or shape != (0,):
            raise pickle.UnpicklingError(
                f"refused: _reconstruct({subtype!r}, {shape!r}, ...); NumPy writes "
                "_reconstruct(numpy.ndarray, (0,), ...)")
        return multiarray._reconstruct(np.ndarray, shape, dtype)

    allowed = {
        ("numpy", "ndarray"): _NDARRAY,
        ("numpy", "dtype"): _Allowed("numpy.dtype", np.dtype),
        # Pickle protocol 2 has no opcode for bytes (an array's data): it writes
        # _codecs.encode(text, "latin1"), and bytes() for b"". Both are replaced by
        # functions that can do nothing else.
        ("_codecs", "encode"): _Allowed("_codecs.encode", _latin1_bytes),
        ("__builtin__", "bytes"): _Allowed("bytes", _empty_bytes),
        ("builtins", "bytes"): _Allowed("bytes", _empty_bytes),
    }
    # NumPy 1.x wrote "numpy.core...", NumPy 2.x writes "numpy._core..."; same functions.
    for package in ("numpy.core", "numpy._core"):
        allowed[(f"{package}.multiarray", "_reconstruct")] = _Allowed(
            "numpy _reconstruct", reconstruct)
        allowed[(f"{package}.multiarray", "scalar")] = _Allowed(
            "numpy scalar", multiarray.scalar)
        allowed[(f"{package}.numeric", "_frombuffer")] = _Allowed(
            "numpy _frombuffer", numeric._frombuffer)
    return allowed


def _latin1_bytes(text: str, encoding: str) -> bytes:
    if not isinstance(text, str) or encoding != "latin1":
        raise pickle.UnpicklingError(
            f"refused _codecs.encode({type(text).__name__}, {encoding!r}): only the "
            "latin1 encoding of text, as pickle protocol 2 writes bytes, is allowed"
        )
    return text.encode("latin1")


def _empty_bytes() -> bytes:
    return b""


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that resolves NumPy's array-rebuilding names and refuses all others."""

    _allowed = _numpy_globals()

    def find_class(self, module: str, name: str):
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refused to load global {module}.{name}: only NumPy arrays, dicts, lists, "
                "tuples, numbers and strings may be unpickled"
            ) from None


def safe_load_pickle(path: str | os.PathLike[str]) -> object:
    """Unpickle ``path`` admitting only NumPy arrays, dicts, lists, tuples, numbers, strings.

    Raises:
        pickle.UnpicklingError: the file names any other class or function (the message
            names it; nothing it asked for was called), or is not a readable pickle.
        ValueError: an array holds Python objects (dtype object) rather than numbers.
    """
    path = Path(path)
    return _safe_loads(path.read_bytes(), str(path))


def _safe_loads(data: bytes, name: str) -> object:
    """The object pickled in ``data``; errors are prefixed with ``name``."""
    try:
        obj = _NumpyOnlyUnpickler(io.BytesIO(data)).load()
    except pickle.UnpicklingError as err:
        raise pickle.UnpicklingError(f"{name}: {err}") from None
    except Exception as err:  # what a damaged or hostile stream makes pickle raise: all sorts
        raise pickle.UnpicklingError(
            f"{name}: not a readable pickle of NumPy arrays ({type(err).__name__}: {err})"
        ) from err
    _check_no_object_arrays(obj, name)
    return obj


def _check_no_object_arrays(obj: object, name: str) -> None:
    # A loop, not recursion: a pickle may nest containers deeper than Python's stack, or
    # put a list inside itself.
    seen: set[int] = set()
    todo = [obj]
    while todo:
        item = todo.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, np.ndarray) and item.dtype.hasobject:
            raise ValueError(f"{name}: refused: an array of Python objects (dtype object), "
                             "not numbers")
        if isinstance(item, dict):
            todo.extend(item.values())
        elif isinstance(item, (list, tuple)):
            todo.extend(item)


def load_sample_weights(
    path: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
) -> dict[str, np.ndarray]:
    """The book's weights as {"W1": (784, 50), "b1": (50,), ..., "b3": (10,)} float32 arrays.

    ``path`` names a pickle to load. Without it, ``dlfs/sample_weight.pkl`` is looked for in
    ``data_dir``, then ``$SCRATCHNN_DATA``, then the cache, and checked against
    :data:`SAMPLE_WEIGHT_SHA256`. It is never downloaded: get it from the book's repository
    (github.com/oreilly-japan/deep-learning-from-scratch, ``ch03/sample_weight.pkl``).

    Raises:
        FileNotFoundError: no file found (the message lists where it looked).
        pickle.UnpicklingError: the file holds anything but NumPy arrays and containers.
        ValueError: the file holds other names or shapes than the book's network.
    """
    if path is None:
        path, data = _fetch_sample_weights(data_dir)
    else:
        data = Path(path).read_bytes()
    weights = _safe_loads(data, str(path))
    return _check_weights(weights, path)


def _fetch_sample_weights(data_dir: str | os.PathLike[str] | None) -> tuple[Path, bytes]:
    from .data._fetch import DatasetSpec, fetch

    spec = DatasetSpec(
        folder="dlfs",
        title="the book's sample weights",
        sha256={"sample_weight.pkl": SAMPLE_WEIGHT_SHA256},
    )
    return fetch(spec, ["sample_weight.pkl"], data_dir)["sample_weight.pkl"]


def _check_weights(weights: object, path) -> dict[str, np.ndarray]:
    where = str(path)
    if not isinstance(weights, dict):
        raise ValueError(f"{where}: expected a dict of arrays, got {type(weights).__name__}")
    if set(weights) != set(SAMPLE_WEIGHT_SHAPES):
        raise ValueError(
            f"{where}: expected the arrays {sorted(SAMPLE_WEIGHT_SHAPES)}, got {sorted(weights)}"
        )
    checked = {}
    for name, shape in SAMPLE_WEIGHT_SHAPES.items():
        value = weights[name]
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
            raise ValueError(f"{where}: {name} must be a floating-point array, got {value!r:.80}")
        if value.shape != shape:
            raise ValueError(f"{where}: {name} must have shape {shape}, got {value.shape}")
        checked[name] = value
    return checked


def sample_network(
    path: str | os.PathLike[str] | None = None,
    dtype: DTypeLike = np.float64,
    data_dir: str | os.PathLike[str] | None = None,
) -> MLP:
    """The book's pretrained 784-50-100-10 sigmoid network with a softmax output.

    ``path`` and ``data_dir`` are as in :func:`load_sample_weights`. On the MNIST test set
    it classifies 93.52% correctly with pixels scaled to [0, 1] and 92.07% with raw 0-255
    pixels.
    """
    net = MLP([784, 50, 100, 10], activation="sigmoid", output="softmax", dtype=dtype)
    net.set_params(load_sample_weights(path, data_dir))
    return net
