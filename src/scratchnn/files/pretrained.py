"""The book's pretrained MNIST weights (``sample_weight.pkl``, chapter 3), loaded safely.

Out of the reading path: chapter 3 runs the book's network on these weights
(:func:`sample_network`); how the pickle is read safely is a security matter, not the book's.

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

A pickle can also be built to cost far more than its size: a container per byte, one big
object copied again by many short calls, dict keys that are slow to hash or compare. So
what it makes is charged against 48 times its size plus 16 MiB, and dict keys and set
items are limited to text, bytes, integers below 2**61, None, booleans and short tuples of
text, bytes, None and booleans.
"""

from __future__ import annotations

import io
import math
import os
import pickle
import sys
from pathlib import Path

import numpy as np
from numpy.typing import DTypeLike

from ..models import MLP

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

    The unpickler hands out these, never NumPy's functions themselves, which trust what
    they are given: each stand-in checks its arguments first.
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


#: The most dimensions, and the largest size along one, that an array may declare.
_MAX_NDIM, _MAX_DIM = 32, 1 << 48

#: NumPy's pickled state of a dtype of plain numbers, after its byte order: what BUILD may set.
_PLAIN_DTYPE_STATE = (None, None, None, -1, -1, 0)


def _is_plain(dtype) -> bool:
    """bool, integer, float or complex: dtypes with fields, objects, strings, dates or
    sub-arrays have pickled states that NumPy trusts blindly."""
    return (isinstance(dtype, np.dtype) and dtype.kind in "biufc" and not dtype.fields
            and dtype.subdtype is None)


def _check_shape(shape) -> tuple[int, ...]:
    if type(shape) is not tuple or len(shape) > _MAX_NDIM or not all(
            type(n) is int and 0 <= n < _MAX_DIM for n in shape):
        # (The file's own values are not printed: they may be built to be costly to print.)
        raise _refuse(f"an array shape that is not a tuple of up to {_MAX_NDIM} sizes "
                      f"(got a {type(shape).__name__})")
    return shape


def _check_data(data, dtype: np.dtype, shape: tuple[int, ...], what: str) -> None:
    """``data`` must be exactly the bytes of an array of ``shape`` and ``dtype``."""
    if not isinstance(data, (bytes, bytearray)):
        raise _refuse(f"{what} whose data is a {type(data).__name__}, not bytes")
    if len(data) != math.prod(shape) * dtype.itemsize:
        raise _refuse(f"{what} of shape {shape} and {dtype} with {len(data)} bytes of data")


def _check_key(key) -> int:
    """A dict key or set item must hash cheaply and without collisions a file could choose:
    text and bytes (whose hashes are salted), integers below 2**61 (whose hashes are
    themselves), None, booleans, and short tuples of text, bytes, None and booleans (the
    hash of a tuple of integers can be solved for any value).

    Returns what inserting it may cost: an equal key already there is compared in full, so
    its length (charged, as the unpickler's memory is: a file could insert one long key
    many times)."""
    kind = type(key)
    if kind in (str, bytes):
        return len(key)
    if kind in (bool, type(None)) or (kind is int and -(1 << 61) < key < (1 << 61)):
        return 1
    if kind is tuple and len(key) <= 16 and all(
            type(item) in (str, bytes, bool, type(None)) for item in key):
        return sum(len(item) if type(item) in (str, bytes) else 1 for item in key)
    raise _refuse(f"a dict key or set item of type {kind.__name__}: only text, bytes, integers "
                  "below 2**61, None, booleans and short tuples of text, bytes, None and "
                  "booleans")


def _numpy_globals(fresh: dict[int, object], check_keys) -> dict[tuple[str, str], _Allowed]:
    """The only names a pickle may use: how NumPy 1.x and 2.x pickle arrays and scalars.

    Each (module, name) maps to a stand-in that checks its arguments before it calls
    NumPy; the unpickler never imports a module named by the file. The dtypes and empty
    arrays the stand-ins make go into ``fresh`` until BUILD gives them their state, once.
    ``check_keys`` checks (and charges for) the items of a set.
    """
    ndarray = _Allowed("numpy.ndarray", _refuse_ndarray)
    allowed = {
        ("numpy", "ndarray"): ndarray,
        ("numpy", "dtype"): _Allowed("numpy.dtype", _dtype_maker(fresh)),
        # Pickle protocol 2 has no opcode for bytes (an array's data): it writes
        # _codecs.encode(text, "latin1"), and bytes() for b"". Both are replaced by
        # functions that can do nothing else.
        ("_codecs", "encode"): _Allowed("_codecs.encode", _latin1_bytes),
        ("__builtin__", "bytes"): _Allowed("bytes", _empty_bytes),
        ("builtins", "bytes"): _Allowed("bytes", _empty_bytes),
    }
    # Protocols 0-3 have no opcode for sets, and 0-4 none for bytearrays: they call these.
    for module in ("__builtin__", "builtins"):
        allowed[(module, "set")] = _Allowed("set", _set_maker(set, check_keys))
        allowed[(module, "frozenset")] = _Allowed("frozenset",
                                                  _set_maker(frozenset, check_keys))
        allowed[(module, "bytearray")] = _Allowed("bytearray", _new_bytearray)
    # NumPy 1.x wrote "numpy.core...", NumPy 2.x writes "numpy._core..."; same functions.
    reconstruct, scalar, frombuffer = _array_makers(fresh, ndarray)
    for package in ("numpy.core", "numpy._core"):
        allowed[(f"{package}.multiarray", "_reconstruct")] = _Allowed(
            "numpy _reconstruct", reconstruct)
        allowed[(f"{package}.multiarray", "scalar")] = _Allowed("numpy scalar", scalar)
        allowed[(f"{package}.numeric", "_frombuffer")] = _Allowed(
            "numpy _frombuffer", frombuffer)
    return allowed


def _numpy_modules():
    """NumPy's modules that rebuild pickled arrays: (multiarray, numeric)."""
    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # NumPy 1.x
        from numpy.core import multiarray, numeric
    return multiarray, numeric


def _plain_dtype(dtype, fresh: dict[int, object]) -> np.dtype:
    """``dtype``, refused unless it is a finished dtype of plain numbers."""
    if not _is_plain(dtype):
        what = f"dtype {dtype}" if isinstance(dtype, np.dtype) else type(dtype).__name__
        raise _refuse(f"{what}: only arrays of numbers (bool, int, float, complex) may be "
                      "unpickled")
    if id(dtype) in fresh:
        raise _refuse("a dtype used before the pickle set its byte order")
    return dtype


def _dtype_maker(fresh: dict[int, object]):
    """The stand-in of ``numpy.dtype``: a new dtype of numbers from a short type code."""
    def new_dtype(obj, align=False, copy=True) -> np.dtype:
        # Always a copy: BUILD then sets its byte order, which must not touch NumPy's own.
        if type(obj) is not str or len(obj) > 8 or align not in (False, True):
            raise _refuse("numpy.dtype() of anything but a short type code")
        try:
            dtype = np.dtype(obj, bool(align), True)
        except TypeError:
            raise _refuse(f"numpy.dtype({obj!r})") from None
        if not _is_plain(dtype):
            raise _refuse(f"dtype {dtype}: only arrays of numbers (bool, int, float, complex) "
                          "may be unpickled")
        fresh[id(dtype)] = dtype
        return dtype
    return new_dtype


def _array_makers(fresh: dict[int, object], ndarray: _Allowed):
    """The stand-ins of NumPy's _reconstruct, scalar and _frombuffer, in that order."""
    multiarray, numeric = _numpy_modules()

    def reconstruct(subtype, shape, typecode):
        # What ndarray.__reduce__ writes: an empty array, whose data the BUILD that
        # follows puts in (checked in _NumpyOnlyUnpickler.load_build).
        if subtype is not ndarray or shape != (0,) or typecode not in (b"b", "b"):
            raise _refuse("_reconstruct with other arguments than NumPy's "
                          "(numpy.ndarray, (0,), b'b')")
        array = multiarray._reconstruct(np.ndarray, (0,), b"b")
        fresh[id(array)] = array
        return array

    def scalar(dtype, data=None):
        dtype = _plain_dtype(dtype, fresh)
        if data is None:
            return multiarray.scalar(dtype)
        _check_data(data, dtype, (), "a scalar")
        return multiarray.scalar(dtype, data)

    def frombuffer(buffer, dtype, shape, order, axis_order=None):
        dtype, shape = _plain_dtype(dtype, fresh), _check_shape(shape)
        _check_data(buffer, dtype, shape, "an array")
        axes = axis_order if type(axis_order) is tuple and all(
            type(a) is int for a in axis_order) else ()
        if order not in ("C", "F", "K") or axis_order is not None and sorted(
                axes) != list(range(len(shape))):
            raise _refuse("an array layout other than C, F or a permutation of its axes")
        return numeric._frombuffer(buffer, dtype, shape, order, axis_order)

    return reconstruct, scalar, frombuffer


def _refuse_ndarray(*args):
    # numpy.ndarray(shape) hands back uninitialised memory, of any size the file asks.
    raise _refuse("numpy.ndarray called directly; a pickled array is rebuilt by "
                  "numpy's _reconstruct")


def _set_maker(kind: type, check_keys):
    """The stand-in of ``set`` or ``frozenset``: of a list or tuple of checked items."""
    def make(items=()):
        if type(items) not in (list, tuple):
            raise _refuse(f"{kind.__name__}() of a {type(items).__name__}")
        check_keys(items)
        return kind(items)
    return make


def _new_bytearray(data=b""):
    if type(data) is not bytes:
        raise _refuse(f"bytearray() of a {type(data).__name__}")
    return bytearray(data)


def _latin1_bytes(text: str, encoding: str) -> bytes:
    if type(text) is not str or encoding != "latin1":
        raise _refuse("_codecs.encode of anything but text in latin1, as pickle protocol 2 "
                      "writes bytes")
    return text.encode("latin1")


def _empty_bytes() -> bytes:
    return b""


#: The opcodes of pickles of numbers, strings, bytes, containers and NumPy arrays. The
#: others (instances, extensions, persistent ids, out-of-band buffers) are refused.
_OPCODES = (
    "PROTO", "FRAME", "STOP", "MARK", "POP", "POP_MARK", "DUP", "PUT", "BINPUT",
    "LONG_BINPUT", "GET", "BINGET", "LONG_BINGET", "MEMOIZE", "NONE", "NEWTRUE", "NEWFALSE",
    "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT",
    "STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE",
    "BINUNICODE8", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8", "EMPTY_TUPLE",
    "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3", "EMPTY_LIST", "LIST", "APPEND", "APPENDS",
    "EMPTY_DICT", "DICT", "SETITEM", "SETITEMS", "EMPTY_SET", "FROZENSET", "ADDITEMS",
    "GLOBAL", "STACK_GLOBAL", "REDUCE", "BUILD",
)


#: Memory (bytes) charged for each opcode that makes an object of its own or a memo entry
#: (MARK: the list that LIST, TUPLE, DICT and FROZENSET then turn into one). Calls and
#: BUILD are charged by what they make (see _NumpyOnlyUnpickler._charge).
_MAKE_OBJECTS = {"MARK": 64, "EMPTY_LIST": 64, "EMPTY_DICT": 64, "EMPTY_SET": 224,
                 "FROZENSET": 224, "TUPLE1": 64, "TUPLE2": 64, "TUPLE3": 64, "MEMOIZE": 64,
                 "PUT": 64, "BINPUT": 64, "LONG_BINPUT": 64}

#: Memory a pickle may make, in bytes: this many times its size, plus _BUDGET_BASE.
_BUDGET_PER_BYTE, _BUDGET_BASE = 48, 16 << 20


def _charged(load, nbytes: int):
    def charge_then_load(self) -> None:
        self._charge(nbytes)
        load(self)
    return charge_then_load


def _size(obj: object) -> int:
    """The memory an object made by a call holds (an array's data, a set's table...)."""
    return obj.nbytes + 128 if isinstance(obj, np.ndarray) else sys.getsizeof(obj)


def _refused_opcode(name: str):
    def load(self) -> None:
        raise _refuse(f"the pickle opcode {name}: only numbers, strings, containers and "
                      "NumPy arrays may be unpickled")
    return load


class _NumpyOnlyUnpickler(pickle._Unpickler):
    """An unpickler of numbers, strings, containers and NumPy arrays of numbers, and nothing
    else.

    Python's own unpickler, not its C twin, so that each opcode that changes an object can
    be checked: items go only into the lists, dicts and sets the pickle made, calls only to
    the stand-ins of :func:`_numpy_globals`, and BUILD (which sets an object's state, and
    on a NumPy dtype or array would let the file write where it likes) only once, on a
    dtype or empty array just made, with a state that describes plain numbers and exactly
    the bytes they hold.
    """

    dispatch = {code[0]: _refused_opcode(name) for name, code in vars(pickle).items()
                if name.isupper() and isinstance(code, bytes) and len(code) == 1}
    dispatch.update({getattr(pickle, name)[0]: pickle._Unpickler.dispatch[getattr(pickle, name)[0]]
                     for name in _OPCODES})

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data))
        self._fresh: dict[int, object] = {}  # (the values keep their ids from being reused)
        self._names = _numpy_globals(self._fresh, self._check_keys)
        # A byte of pickle can make an empty container of 60 bytes or more, and a call of a
        # few bytes can copy a big object again: what is made is charged against a budget.
        self._data_size = len(data)
        self._budget = _BUDGET_PER_BYTE * len(data) + _BUDGET_BASE
        self._used = 0

    def _check_keys(self, keys) -> None:
        self._charge(sum(_check_key(key) for key in keys))

    def _charge(self, nbytes: int) -> None:
        self._used += nbytes
        if self._used > self._budget:
            raise _refuse(f"a pickle of {self._data_size} bytes that makes more than "
                          f"{self._budget} bytes of objects")

    def find_class(self, module: str, name: str):
        if type(module) is not str or type(name) is not str:
            raise _refuse("a global named by anything but text")
        try:
            return self._names[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refused to load global {module[:80]}.{name[:80]}: only NumPy arrays, "
                "dicts, lists, tuples, numbers and strings may be unpickled"
            ) from None

    def _target(self, kind: type, position: int = -1):
        target = self.stack[position]
        if type(target) is not kind:
            raise _refuse(f"the pickle adds items to a {type(target).__name__}, not a "
                          f"{kind.__name__} of its own")
        return target

    def load_append(self) -> None:
        self._target(list, -2).append(self.stack.pop())

    def load_appends(self) -> None:
        items = self.pop_mark()
        self._target(list).extend(items)

    def load_setitem(self) -> None:
        target = self._target(dict, -3)
        value, key = self.stack.pop(), self.stack.pop()
        self._check_keys((key,))
        target[key] = value

    def load_setitems(self) -> None:
        items = self.pop_mark()
        target = self._target(dict)
        self._check_keys(items[::2])
        for i in range(0, len(items), 2):
            target[items[i]] = items[i + 1]

    def load_dict(self) -> None:
        items = self.pop_mark()
        self._check_keys(items[::2])
        self.append({items[i]: items[i + 1] for i in range(0, len(items), 2)})

    def load_additems(self) -> None:
        items = self.pop_mark()
        target = self._target(set)
        self._check_keys(items)
        target.update(items)

    def load_frozenset(self) -> None:
        items = self.pop_mark()
        self._check_keys(items)
        self.append(frozenset(items))

    def load_reduce(self) -> None:
        args = self.stack.pop()
        function = self.stack[-1]
        if not isinstance(function, _Allowed) or type(args) is not tuple:
            raise _refuse(f"a call of a {type(function).__name__}")
        result = function(*args)
        self._charge(_size(result))
        self.stack[-1] = result

    def load_build(self) -> None:
        state = self.stack.pop()
        target = self.stack[-1]
        if self._fresh.pop(id(target), None) is not target:
            raise _refuse(f"the pickle sets the state of a {type(target).__name__} that it "
                          "did not just make")
        if isinstance(target, np.dtype):
            if not (type(state) is tuple and len(state) == 8 and state[0] == 3
                    and state[1] in ("<", ">", "|", "=") and state[2:] == _PLAIN_DTYPE_STATE):
                raise _refuse("a dtype state other than a byte order")
        else:
            # (version 1,) shape, dtype, Fortran order, data; NumPy 1.x also wrote no version.
            fields = state[1:] if type(state) is tuple and len(state) == 5 else state
            if not (type(fields) is tuple and len(fields) == 4
                    and (len(state) == 4 or state[0] == 1) and type(fields[2]) is bool):
                raise _refuse("an array state other than NumPy's")
            shape, dtype, _, data = fields
            shape = _check_shape(shape)
            if not _is_plain(dtype) or id(dtype) in self._fresh:
                raise _refuse("an array state whose dtype is not a finished dtype of numbers")
            _check_data(data, dtype, shape, "an array")
            self._charge(len(data) + 128)
            # NumPy keeps large bytes as the array's (writeable) memory: given the file's own
            # bytes object, which the result may hold elsewhere too, writing to the array
            # would change those "immutable" bytes. A private copy is shared with nothing.
            private = bytes(memoryview(data))
            state = (*state[:-1], private)
        target.__setstate__(state)

    dispatch[pickle.APPEND[0]] = load_append
    dispatch[pickle.APPENDS[0]] = load_appends
    dispatch[pickle.SETITEM[0]] = load_setitem
    dispatch[pickle.SETITEMS[0]] = load_setitems
    dispatch[pickle.DICT[0]] = load_dict
    dispatch[pickle.ADDITEMS[0]] = load_additems
    dispatch[pickle.FROZENSET[0]] = load_frozenset
    dispatch[pickle.REDUCE[0]] = load_reduce
    dispatch[pickle.BUILD[0]] = load_build
    for _name, _nbytes in _MAKE_OBJECTS.items():
        dispatch[getattr(pickle, _name)[0]] = _charged(dispatch[getattr(pickle, _name)[0]],
                                                       _nbytes)


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
        obj = _NumpyOnlyUnpickler(data).load()
        _check_no_stand_ins(obj)
    except pickle.UnpicklingError as err:
        raise pickle.UnpicklingError(f"{name}: {err}") from None
    except Exception as err:  # what a damaged or hostile stream makes pickle raise: all sorts
        raise pickle.UnpicklingError(
            f"{name}: not a readable pickle of NumPy arrays ({type(err).__name__}: "
            f"{str(err)[:200]})"  # (its text may quote the file at length)
        ) from err
    return obj


def _check_no_stand_ins(obj: object) -> None:
    """A name the pickle looked up but never called (a bare ``numpy.dtype``) is refused, not
    handed out. Each container is visited once, however often the pickle refers to it."""
    seen: set[int] = set()
    todo = [obj]
    while todo:
        item = todo.pop()
        if isinstance(item, _Allowed):
            raise _refuse(f"{item!r} named but not called")
        if type(item) in (list, tuple, set, frozenset, dict) and id(item) not in seen:
            seen.add(id(item))
            todo.extend(item.values() if type(item) is dict else item)


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
    from ..data._fetch import DatasetSpec, fetch

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
        got = sorted(str(key)[:40] for key in weights)
        raise ValueError(f"{where}: expected the arrays {sorted(SAMPLE_WEIGHT_SHAPES)}, got {got}")
    checked = {}
    for name, shape in SAMPLE_WEIGHT_SHAPES.items():
        value = weights[name]
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
            what = f"dtype {value.dtype}" if isinstance(value, np.ndarray) else \
                f"a {type(value).__name__}"
            raise ValueError(f"{where}: {name} must be a floating-point array, got {what}")
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
