"""The book's pretrained weights and the restricted unpickler that loads them."""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess

import numpy as np
import pytest

from scratchnn.data import load_mnist
from scratchnn.files.pretrained import (
    SAMPLE_WEIGHT_SHAPES,
    load_sample_weights,
    safe_load_pickle,
    sample_network,
)


class _Evil:
    """Unpickling this runs a shell command (that is what pickle.load would do)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class _Call:
    """Unpickling this calls ``func(*args)``."""

    def __init__(self, func, *args):
        self.func = func
        self.args = args

    def __reduce__(self):
        return self.func, self.args


class _CallThenSet(_Call):
    """Unpickling this calls ``func(*args)`` and then sets ``state`` on the result (BUILD)."""

    def __init__(self, func, args, state):
        super().__init__(func, *args)
        self.state = state

    def __reduce__(self):
        return self.func, self.args, self.state


def _write(path, obj, protocol=pickle.DEFAULT_PROTOCOL):
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    return path


@pytest.fixture(scope="module")
def mnist_test(shared_data):
    (_, _), (x, t) = load_mnist(data_dir=shared_data)
    (_, _), (x_raw, _) = load_mnist(normalize=False, data_dir=shared_data)
    return x, x_raw, t


# --- the restricted unpickler ------------------------------------------------------------


def test_the_malicious_payload_is_live(tmp_path):
    """Plain pickle runs the command: the refusal below is what protects the user."""
    marker = tmp_path / "plain-pickle-ran"
    pickle.loads(pickle.dumps(_Evil(marker)))
    assert marker.exists()


def test_malicious_pickle_is_refused_before_anything_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = _write(tmp_path / "evil.pkl", {"W1": np.zeros(2), "b1": _Evil(marker)})
    with pytest.raises(pickle.UnpicklingError, match=r"refused .*(posix|os)\.system"):
        safe_load_pickle(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    "payload",
    [
        _Call(eval, "1 + 1"),
        _Call(getattr, "text", "upper"),
        _Call(np.load, "x.npy"),
        _Call(subprocess.call, ["true"]),
        _Call(shutil.rmtree, "/nonexistent"),
    ],
    ids=["eval", "getattr", "numpy.load", "subprocess", "shutil"],
)
def test_every_other_global_is_refused(tmp_path, payload):
    path = _write(tmp_path / "p.pkl", [payload])
    with pytest.raises(pickle.UnpicklingError, match=payload.func.__name__):
        safe_load_pickle(path)


def test_instances_of_arbitrary_classes_are_refused(tmp_path):
    from fractions import Fraction

    path = _write(tmp_path / "f.pkl", {"x": Fraction(1, 3)})
    with pytest.raises(pickle.UnpicklingError, match="fractions.Fraction"):
        safe_load_pickle(path)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_arrays_containers_numbers_and_strings_load(tmp_path, protocol):
    obj = {
        "W": np.arange(12, dtype=np.float32).reshape(3, 4),
        "b": np.array([1.5, -2.0]),
        "labels": np.array([1, 2, 3], dtype=np.int64),
        "fortran": np.asfortranarray(np.ones((2, 3))),
        "scalar": np.float64(2.5),
        "items": [1, 2.0, "three", (4, None, True)],
        "big": np.zeros(100_000),
    }
    loaded = safe_load_pickle(_write(tmp_path / "ok.pkl", obj, protocol))
    assert sorted(loaded) == sorted(obj)
    for name in ("W", "b", "labels", "fortran", "big"):
        np.testing.assert_array_equal(loaded[name], obj[name])
        assert loaded[name].dtype == obj[name].dtype
    assert loaded["scalar"] == 2.5 and loaded["items"] == [1, 2.0, "three", (4, None, True)]


def test_arrays_of_python_objects_are_refused(tmp_path):
    path = _write(tmp_path / "obj.pkl", {"W": np.array([1, "a"], dtype=object)})
    with pytest.raises(pickle.UnpicklingError, match="dtype object: only arrays of numbers"):
        safe_load_pickle(path)


@pytest.mark.parametrize("protocol", range(6))
def test_every_plain_number_type_and_layout_round_trips(tmp_path, protocol):
    rng = np.random.default_rng(protocol)
    arrays = [rng.standard_normal((3, 4)).astype(t) for t in
              ("f2", "f4", "f8", "g", ">f8", "<f4", "c8", "c16", ">c16")]
    arrays += [rng.integers(-100, 100, 7).astype(t) for t in ("i1", "i2", ">i4", "i8", "u1",
                                                              "u2", ">u4", "u8")]
    arrays += [rng.random(5) > 0.5, np.asfortranarray(rng.standard_normal((3, 2))),
               rng.standard_normal((4, 6))[:, ::2], np.array(2.5), np.zeros((0, 3)),
               np.arange(24.0).reshape(2, 3, 4).transpose(2, 0, 1),
               np.float32(1.5), np.int64(-3), np.bool_(True), np.complex128(1 - 2j)]
    path = _write(tmp_path / "all.pkl", arrays, protocol)
    loaded = safe_load_pickle(path)
    # What pickle itself makes of the file (before protocol 5 NumPy writes big-endian
    # arrays so that they load in native order), with the same values as the originals.
    trusted = pickle.loads(path.read_bytes())
    for original, back, reference in zip(arrays, loaded, trusted, strict=True):
        assert type(back) is type(original) is type(reference)
        assert back.dtype == reference.dtype and back.shape == np.shape(original)
        if isinstance(back, np.ndarray):
            assert back.flags.writeable == reference.flags.writeable
            assert back.strides == reference.strides
        np.testing.assert_array_equal(back, original)


def test_dtypes_and_states_that_numpy_would_trust_blindly_are_refused(tmp_path):
    from numpy._core import multiarray, numeric

    path = tmp_path / "state.pkl"
    plain = (3, "<", None, None, None, -1, -1, 0)
    hostile = {
        # a datetime dtype whose state crashed NumPy: refused for its kind
        "datetime": (_CallThenSet(np.dtype, ("M8", False, True), plain),
                     "dtype datetime64: only arrays of numbers"),
        # a field 1 MiB beyond a 4-byte item: read and written out of bounds
        "fields": (_CallThenSet(np.dtype, ("f8", False, True),
                                (3, "|", None, ("a",), {"a": (np.dtype("f8"), 1 << 20)},
                                 4, 1, 16)), "a dtype state other than a byte order"),
        # NumPy's own dtype (copy=False) would be changed for the whole process
        "shared": (_CallThenSet(np.dtype, ("f8", False, False), (3, ">", *plain[2:])), None),
        # a 400 MB item from a few bytes of file
        "huge scalar": (_Call(multiarray.scalar, np.dtype("V400000000")),
                        r"numpy.dtype\(\) of anything but a short type code"),
        "scalar data": (_Call(multiarray.scalar, np.dtype("f8"), b"\x00" * 3),
                        r"a scalar of shape \(\) and float64 with 3 bytes of data"),
        # an array's bytes taken from something that is not bytes
        "buffer": (_Call(numeric._frombuffer, [1, 2], np.dtype("u8"), (2,), "C"),
                   "an array whose data is a list, not bytes"),
        # a shape that the data does not fill
        "shape": (_CallThenSet(multiarray._reconstruct, (np.ndarray, (0,), b"b"),
                               (1, (10**9,), np.dtype("f8"), False, b"")),
                  r"an array of shape \(1000000000,\) and float64 with 0 bytes of data"),
    }
    for payload, refusal in hostile.values():
        path.write_bytes(pickle.dumps(payload, protocol=2))
        if refusal is None:  # loads, but as a copy: NumPy's float64 keeps its byte order
            assert safe_load_pickle(path) == np.dtype(">f8")
            assert np.dtype("f8").byteorder == "="
            continue
        with pytest.raises(pickle.UnpicklingError, match=refusal):
            safe_load_pickle(path)


def test_garbage_is_an_unpickling_error_that_names_the_file(tmp_path):
    path = tmp_path / "junk.pkl"
    good = pickle.dumps({"W": np.ones(3)}, protocol=2)
    payloads = {
        "garbage": b"\x80\x04not a pickle at all",
        "truncated": good[: len(good) // 2],
        "hello": b"hello",
        "bytes(5)": b"\x80\x02c__builtin__\nbytes\nK\x05\x85R.",
    }
    for what, data in payloads.items():
        path.write_bytes(data)
        with pytest.raises(pickle.UnpicklingError, match="junk.pkl: ") as err:
            safe_load_pickle(path)
        assert what and str(path) in str(err.value)


def test_a_pickle_cannot_change_the_functions_it_may_name(tmp_path):
    # BUILD on NumPy's own _frombuffer: would rename it for the whole process.
    evil = (b"\x80\x02cnumpy._core.numeric\n_frombuffer\nN}(X\x0c\x00\x00\x00__qualname__"
            b"X\x04\x00\x00\x00goneu\x86b0}.")
    path = tmp_path / "build.pkl"
    path.write_bytes(evil)
    with pytest.raises(pickle.UnpicklingError,
                       match="sets the state of a _Allowed that it did not just make"):
        safe_load_pickle(path)
    from numpy._core import numeric

    assert numeric._frombuffer.__qualname__ == "_frombuffer"
    assert pickle.loads(pickle.dumps(np.ones(3), protocol=5)).sum() == 3


def test_arrays_are_rebuilt_only_as_numpy_writes_them(tmp_path):
    path = tmp_path / "raw.pkl"
    # numpy.ndarray((2**40,), "u1") would be a terabyte of uninitialised memory.
    path.write_bytes(b"\x80\x02cnumpy\nndarray\n\x8a\x06\x00\x00\x00\x00\x00\x01\x85X\x02"
                     b"\x00\x00\x00u1\x86R.")
    with pytest.raises(pickle.UnpicklingError, match="numpy.ndarray called directly"):
        safe_load_pickle(path)
    # _reconstruct with another shape than NumPy's (0,).
    path.write_bytes(b"\x80\x02cnumpy._core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
                     b"J\x00\x00\x00\x01\x85C\x01b\x87R.")
    with pytest.raises(pickle.UnpicklingError, match=r"refused: _reconstruct"):
        safe_load_pickle(path)


def test_containers_inside_themselves_are_checked_once(tmp_path):
    loop: list = [np.zeros(2)]
    loop.append(loop)
    loaded = safe_load_pickle(_write(tmp_path / "loop.pkl", loop))
    assert loaded[1] is loaded
    deep = tmp_path / "deep.pkl"  # lists nested deeper than Python's recursion limit
    deep.write_bytes(b"(" * 100_000 + b"l" * 100_000 + b".")
    loaded = safe_load_pickle(deep)
    for _ in range(99_999):
        (loaded,) = loaded
    assert loaded == []
    hidden: list = [loop, {"deep": [np.array([None], dtype=object)]}]
    with pytest.raises(pickle.UnpicklingError, match="hidden.pkl: refused: dtype object"):
        safe_load_pickle(_write(tmp_path / "hidden.pkl", hidden))


# --- the book's weights ------------------------------------------------------------------


def test_sample_weights_load_from_the_data_folder(shared_data):
    weights = load_sample_weights(data_dir=shared_data)
    assert {k: v.shape for k, v in weights.items()} == SAMPLE_WEIGHT_SHAPES
    assert all(v.dtype == np.float32 for v in weights.values())
    same = load_sample_weights(shared_data / "dlfs" / "sample_weight.pkl")
    for name in weights:
        np.testing.assert_array_equal(same[name], weights[name])


def test_sample_weights_found_through_scratchnn_data(shared_data, monkeypatch):
    monkeypatch.setenv("SCRATCHNN_DATA", str(shared_data))
    assert load_sample_weights()["W1"].shape == (784, 50)


def test_missing_sample_weights_say_where_they_were_looked_for(tmp_path, monkeypatch):
    monkeypatch.delenv("SCRATCHNN_DATA", raising=False)
    monkeypatch.setenv("SCRATCHNN_CACHE", str(tmp_path / "cache"))
    with pytest.raises(FileNotFoundError, match="sample_weight.pkl") as info:
        load_sample_weights(data_dir=tmp_path)
    assert str(tmp_path / "dlfs") in str(info.value)


def test_a_different_file_in_the_data_folder_fails_its_checksum(shared_data, tmp_path):
    weights = load_sample_weights(data_dir=shared_data)
    weights["W1"] = weights["W1"] + 1
    (tmp_path / "dlfs").mkdir()
    _write(tmp_path / "dlfs" / "sample_weight.pkl", weights)
    with pytest.raises(ValueError, match="SHA-256"):
        load_sample_weights(data_dir=tmp_path)


def test_wrong_names_or_shapes_are_explained(shared_data, tmp_path):
    weights = load_sample_weights(data_dir=shared_data)
    missing = {k: v for k, v in weights.items() if k != "b3"}
    with pytest.raises(ValueError, match="expected the arrays"):
        load_sample_weights(_write(tmp_path / "a.pkl", missing))
    bad = dict(weights, W2=np.zeros((100, 50), dtype=np.float32))
    with pytest.raises(ValueError, match=r"W2 must have shape \(50, 100\), got \(100, 50\)"):
        load_sample_weights(_write(tmp_path / "b.pkl", bad))
    with pytest.raises(ValueError, match="expected a dict"):
        load_sample_weights(_write(tmp_path / "c.pkl", [weights["W1"]]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sample_network_accuracy(shared_data, mnist_test, dtype):
    x, x_raw, t = mnist_test
    net = sample_network(data_dir=shared_data, dtype=dtype)
    assert net.sizes == [784, 50, 100, 10] and net.activation == "sigmoid"
    pred = net.predict_classes(x, batch_size=100)
    assert np.mean(pred == t) == 0.9352
    assert int(np.sum(pred != t)) == 648
    assert np.mean(net.predict_classes(x_raw) == t) == 0.9207


def test_sample_network_per_sample_equals_batched(shared_data, mnist_test):
    x, _, t = mnist_test
    net = sample_network(data_dir=shared_data, dtype=np.float32)
    batched = net.predict_proba(x, batch_size=100)
    one_by_one = np.concatenate([net.predict_proba(x[i : i + 1]) for i in range(len(x))])
    np.testing.assert_array_equal(one_by_one.argmax(axis=1), batched.argmax(axis=1))
    np.testing.assert_allclose(one_by_one, batched, atol=1e-5)  # float32 rounding
    np.testing.assert_allclose(batched.sum(axis=1), 1.0, rtol=1e-5)


#: A protocol-2 pickle up to an empty array (memo 0) and its finished dtype (memo 1), with
#: the array on top of the stack, waiting for its state.
_PREFIX = (b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85C\x01b"
           b"\x87Rq\x00cnumpy\ndtype\nX\x02\x00\x00\x00f8K\x00K\x01\x87Rq\x01"
           b"(K\x03X\x01\x00\x00\x00<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb0")
#: The state NumPy writes for 4 float64 zeros: (1, (4,), dtype, False, data).
_FOUR_ZEROS = b"(K\x01K\x04\x85h\x01\x89C\x20" + bytes(32) + b"t"


def test_a_pickle_changes_only_what_it_just_made(tmp_path):
    path = tmp_path / "p.pkl"
    path.write_bytes(_PREFIX + _FOUR_ZEROS + b"b.")
    np.testing.assert_array_equal(safe_load_pickle(path), np.zeros(4))  # the base is sound
    attacks = {
        # a second BUILD on the same array (fetched again from the memo): would free the
        # data that a view of it still points at
        b"0h\x00(K\x01K\x01\x85h\x01\x89C\x08" + bytes(8) + b"tb":
            "sets the state of a ndarray that it did not just make",
        # items written into an array (or anything but the pickle's own dicts and lists)
        b"K\x00K\x07s": "adds items to a ndarray, not a dict of its own",
        b"(K\x07e": "adds items to a ndarray, not a list of its own",
        # the dtype changed after an array uses it
        b"0h\x01(K\x03X\x01\x00\x00\x00>NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb":
            "sets the state of a Float64DType that it did not just make",
        # a memoryview of the array's data (an out-of-band buffer opcode)
        b"\x98": "the pickle opcode READONLY_BUFFER",
        # calling something that is not one of the stand-ins
        b"0h\x00)R": "a call of a ndarray",
    }
    for after, refusal in attacks.items():
        path.write_bytes(_PREFIX + _FOUR_ZEROS + b"b" + after + b".")
        with pytest.raises(pickle.UnpicklingError, match=refusal):
            safe_load_pickle(path)


def test_refusals_do_not_print_what_the_file_built(tmp_path):
    # A list that holds the one before it twice, 30 times over (a billion leaves to print),
    # and a shape holding a 5000-digit number: refused without printing either.
    doubling = b"]q\x020" + b"".join(b"(h%ch%clq%c0" % (k, k, k + 1) for k in range(2, 32))
    states = {
        "list": doubling + b"h\x20",
        "shape": b"(K\x01\x8b\x00\x08\x00\x00" + b"\x01" * 2048 + b"\x85h\x01\x89C\x00t",
    }
    path = tmp_path / "m.pkl"
    for what, state in states.items():
        path.write_bytes(_PREFIX + state + b"b.")
        with pytest.raises(pickle.UnpicklingError, match="an array (state|shape)") as info:
            safe_load_pickle(path)
        assert len(str(info.value)) < 250, what


@pytest.mark.parametrize("protocol", range(6))
def test_sets_frozensets_and_bytearrays_load_in_every_protocol(tmp_path, protocol):
    obj = {"s": {1, "a", ("x", b"b")}, "f": frozenset({None, True}), "b": bytearray(b"\x00\xff"),
           "nested": [set(), frozenset(), bytearray()]}
    path = _write(tmp_path / "c.pkl", obj, protocol)
    assert safe_load_pickle(path) == pickle.loads(path.read_bytes()) == obj


def test_keys_that_are_costly_to_hash_are_refused(tmp_path):
    path = tmp_path / "k.pkl"
    refused = {
        # a tuple nested 200,000 deep as a key: its hash recursed until the stack overflowed
        "deep": b"\x80\x02}" + b")" + b"\x85" * 200_000 + b"Ns.",
        # t(k+1) = (t(k), t(k)) from the memo, 60 times: 2**60 steps to hash
        "doubled": b"\x80\x02})q\x000" + b"".join(b"h%ch%c\x86q%c0" % (k, k, k + 1)
                                                    for k in range(60)) + b"h<Ns.",
        # integers that all share one hash (multiples of 2**61 - 1): quadratic to insert
        "collisions": pickle.dumps({k * (2**61 - 1): None for k in range(1, 50)}, protocol=4),
        # tuples of integers, whose hashes can be solved for any value
        "int tuples": pickle.dumps({(1, 2): None}, protocol=4),
        "set of them": pickle.dumps({k * (2**61 - 1) for k in range(1, 50)}, protocol=4),
    }
    for data in refused.values():
        path.write_bytes(data)
        with pytest.raises(pickle.UnpicklingError, match="(dict key or set item|more objects)"):
            safe_load_pickle(path)


def test_memory_stays_within_a_few_dozen_times_the_file(tmp_path):
    path = tmp_path / "a.pkl"
    n = 1_500_000
    bombs = [b"\x80\x04(" + opcode * n + b"l." for opcode in (b"\x8f", b"]", b"}", b"(")]
    bombs.append(b"\x80\x04N" + b"\x94" * n + b".")  # one None, remembered n times
    for bomb in bombs:  # empty sets, lists, dicts; stack marks; memo entries
        path.write_bytes(bomb)
        with pytest.raises(pickle.UnpicklingError, match="that makes more than .* of objects"):
            safe_load_pickle(path)
    # One big bytes object, remembered once, then copied again and again by short calls.
    copies = (b"\x80\x04\x8c\x08builtins\x8c\tbytearray\x93\x94B" + (10**6).to_bytes(4, "little")
              + bytes(10**6) + b"\x94](" + b"h\x00h\x01\x85R" * 2000 + b"e.")
    path.write_bytes(copies)
    with pytest.raises(pickle.UnpicklingError, match="that makes more than .* of objects"):
        safe_load_pickle(path)
    # A list of 10,000 empty lists (2 bytes each, memoised) is not such a file.
    lists = [[] for _ in range(10_000)]
    assert safe_load_pickle(_write(path, lists, 4)) == lists


def test_a_name_looked_up_but_not_called_is_refused(tmp_path):
    path = tmp_path / "n.pkl"
    for data in (b"cnumpy\ndtype\n.", b"\x80\x02]cnumpy\nndarray\na."):
        path.write_bytes(data)
        with pytest.raises(pickle.UnpicklingError, match="named but not called"):
            safe_load_pickle(path)


def test_weights_of_the_wrong_kind_are_named_by_type(tmp_path):
    doubled: list = []
    for _ in range(60):  # printing it would never end
        doubled = [doubled, doubled]
    weights = {"W1": doubled, "b1": 0, "W2": 0, "b2": 0, "W3": 0, "b3": 0}
    with pytest.raises(ValueError, match="W1 must be a floating-point array, got a list$"):
        load_sample_weights(_write(tmp_path / "w.pkl", weights))
    with pytest.raises(ValueError, match=r"expected the arrays .*got \['1', 'W1'"):
        load_sample_weights(_write(tmp_path / "k.pkl", {"W1": 0, 1: 0}))


def test_one_long_key_inserted_again_and_again_is_charged(tmp_path):
    # Two equal, distinct texts of 100,000 characters: each insert of the second compares
    # it in full with the first (a quadratic amount of work for the file's size).
    text = b"X" + (100_000).to_bytes(4, "little") + b"a" * 100_000
    pickle_ = (b"\x80\x02" + text + b"q\x00" + text + b"q\x01}h\x00Ns("
               + b"h\x01N" * 2000 + b"u.")
    path = tmp_path / "keys.pkl"
    path.write_bytes(pickle_)
    with pytest.raises(pickle.UnpicklingError, match="that makes more than .* of objects"):
        safe_load_pickle(path)
    assert pickle.loads(pickle_) == {"a" * 100_000: None}  # what it is: one key
