"""The book's pretrained MNIST weights (``sample_weight.pkl``, chapter 3), loaded safely.

The book ships its weights as a Python pickle. Unpickling runs code: a pickle names
functions (``os.system``, say) and calls them with arguments of its choosing. So scratchnn
never hands a file to :func:`pickle.load`; :func:`safe_load_pickle` uses an unpickler that
resolves only the handful of NumPy functions that rebuild arrays and refuses every other
name *before* anything is called. Containers (dict, list, tuple), numbers and strings need
no names at all: the pickle format builds them with its own opcodes.

NumPy's own functions trust what they are given, so each is called through a stand-in that
checks its arguments first, and the state a pickle sets on a dtype or an array (BUILD) is
checked too: only arrays and scalars of plain numbers (bool, int, float, complex), whose
data is exactly the bytes their shape needs. Structured, object, string and date arrays
are refused: their states can make NumPy read and write outside its memory.
"""

from __future__ import annotations

import io
import math
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

    def __repr__(self) -> str:
        return f"<{self._name}>"


def _refuse(message: str) -> pickle.UnpicklingError:
    return pickle.UnpicklingError(f"refused: {message}")


#: NumPy's pickled state of a dtype of plain numbers, after its byte order: what BUILD may set.
_PLAIN_DTYPE_STATE = (None, None, None, -1, -1, 0)


def _plain_dtype(dtype) -> np.dtype:
    """``dtype`` checked to be bool, integer, float or complex: nothing with fields,
    objects, strings, dates or sub-arrays, whose pickled states NumPy trusts blindly."""
    if not isinstance(dtype, np.dtype) or dtype.kind not in "biufc" or dtype.fields \
            or dtype.subdtype is not None:
        raise _refuse(f"dtype {dtype!r}: only arrays of numbers (bool, int, float, complex) "
                      "may be unpickled")
    return dtype


def _new_dtype(obj, align=False, copy=True) -> np.dtype:
    # Always a copy: BUILD then sets its byte order, which must not touch NumPy's own dtypes.
    if not isinstance(obj, str) or align not in (False, True):  # (older pickles: 0 or 1)
        raise _refuse(f"numpy.dtype({obj!r}, {align!r}, ...)")
    try:
        dtype = np.dtype(obj, bool(align), True)
    except TypeError as err:
        raise _refuse(f"numpy.dtype({obj!r}): {err}") from None
    return _plain_dtype(dtype)


def _check_data(data, dtype: np.dtype, shape, what: str) -> None:
    """``data`` must be exactly the bytes of an array of ``shape`` and ``dtype``."""
    if not (isinstance(shape, tuple) and all(type(n) is int and n >= 0 for n in shape)):
        raise _refuse(f"{what} with shape {shape!r}")
    if not isinstance(data, (bytes, bytearray)):
        raise _refuse(f"{what} with data of type {type(data).__name__}, not bytes")
    if len(data) != math.prod(shape) * dtype.itemsize:
        raise _refuse(f"{what} of shape {shape} and {dtype} with {len(data)} bytes of data")


def _refuse_direct_ndarray(*args) -> None:
    # numpy.ndarray(shape) would hand back uninitialised memory, of any size the file asks.
    raise _refuse("numpy.ndarray called directly; a pickled array is rebuilt by numpy's "
                  "_reconstruct")


_NDARRAY = _Allowed("numpy.ndarray", _refuse_direct_ndarray)


def _numpy_globals() -> dict[tuple[str, str], _Allowed]:
    """The only names a pickle may use: how NumPy 1.x and 2.x pickle arrays and scalars.

    Each (module, name) maps to a stand-in that checks its arguments before it calls
    NumPy; the unpickler never imports a module named by the file.
    """
    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # NumPy 1.x
        from numpy.core import multiarray, numeric

    def reconstruct(subtype, shape, typecode):
        # What ndarray.__reduce__ writes: an empty array, whose data the BUILD that
        # follows puts in (checked in _NumpyOnlyUnpickler.load_build).
        if subtype is not _NDARRAY or shape != (0,) or typecode not in (b"b", "b"):
            raise _refuse(f"_reconstruct({subtype!r}, {shape!r}, {typecode!r}); NumPy "
                          "writes _reconstruct(numpy.ndarray, (0,), b'b')")
        return multiarray._reconstruct(np.ndarray, (0,), b"b")

    def scalar(dtype, data=None):
        dtype = _plain_dtype(dtype)
        if data is not None:
            _check_data(data, dtype, (), "a scalar")
        return multiarray.scalar(dtype) if data is None else multiarray.scalar(dtype, data)

    def frombuffer(buffer, dtype, shape, order):
        dtype = _plain_dtype(dtype)
        _check_data(buffer, dtype, shape, "an array")
        if order not in ("C", "F"):
            raise _refuse(f"an array in order {order!r}")
        return numeric._frombuffer(bytes(buffer), dtype, shape, order)

    allowed = {
        ("numpy", "ndarray"): _NDARRAY,
        ("numpy", "dtype"): _Allowed("numpy.dtype", _new_dtype),
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
        allowed[(f"{package}.multiarray", "scalar")] = _Allowed("numpy scalar", scalar)
        allowed[(f"{package}.numeric", "_frombuffer")] = _Allowed(
            "numpy _frombuffer", frombuffer)
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


class _NumpyOnlyUnpickler(pickle._Unpickler):
    """An unpickler that resolves NumPy's array-rebuilding names and refuses all others.

    Python's own unpickler, not its C twin, so that BUILD (which sets an object's state,
    and on a NumPy dtype or array would let the file write where it likes) can be checked:
    it is allowed only on the dtypes and arrays that NumPy's pickles build, with states
    that describe plain numbers and exactly the bytes they hold.
    """

    _allowed = _numpy_globals()
    dispatch = dict(pickle._Unpickler.dispatch)

    def find_class(self, module: str, name: str):
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refused to load global {module}.{name}: only NumPy arrays, dicts, lists, "
                "tuples, numbers and strings may be unpickled"
            ) from None

    def persistent_load(self, pid):
        raise _refuse("a persistent id (an object stored outside the pickle)")

    def load_build(self) -> None:
        state = self.stack.pop()
        target = self.stack[-1]
        if isinstance(target, np.dtype):
            if not (isinstance(state, tuple) and len(state) == 8 and state[0] == 3
                    and state[1] in ("<", ">", "|", "=") and state[2:] == _PLAIN_DTYPE_STATE):
                raise _refuse(f"the dtype state {state!r:.100}")
        elif isinstance(target, np.ndarray):
            fields = state[1:] if isinstance(state, tuple) and len(state) == 5 else state
            if not (isinstance(fields, tuple) and len(fields) == 4
                    and (len(state) == 4 or state[0] == 1) and isinstance(fields[1], np.dtype)
                    and isinstance(fields[2], bool)):
                raise _refuse(f"the array state {state!r:.100}")
            shape, dtype, _, data = fields
            _check_data(data, _plain_dtype(dtype), shape, "an array")
        else:
            raise _refuse(f"the pickle tries to change {target!r:.60}")
        target.__setstate__(state)

    dispatch[pickle.BUILD[0]] = load_build


def safe_load_pickle(path: str | os.PathLike[str]) -> object:
    """Unpickle ``path`` admitting only NumPy arrays and scalars of numbers (bool, int,
    float, complex), dicts, lists, tuples, numbers and strings.

    Raises:
        pickle.UnpicklingError: the file names any other class or function, an array of
            anything but numbers, or state that does not describe its data (the message
            says which; nothing it asked for was called), or is not a readable pickle.
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
    return obj


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
