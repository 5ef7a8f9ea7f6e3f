"""Model files: round trips, no pickle, atomic writes and clear errors on bad files."""

from __future__ import annotations

import json
import os
import pickle
import zipfile

import numpy as np
import pytest

from scratchnn.conv import Convolution2D, Flatten, MaxPooling2D
from scratchnn.files import model_file as model_files
from scratchnn.files.model_file import load_model, read_model_meta, save_model
from scratchnn.init import initialize
from scratchnn.layers import Affine, Layer, LeakyReLU, ReLU, SigmoidBinaryCrossEntropy
from scratchnn.models import MLP
from scratchnn.network import Sequential
from scratchnn.regularization import BatchNormalization, Dropout
from scratchnn.training import Trainer


def _same_params(a: Sequential, b: Sequential) -> None:
    assert list(a.params) == list(b.params)
    for name, p in a.params.items():
        q = b.params[name]
        assert q.dtype == p.dtype, name
        np.testing.assert_array_equal(q, p, err_msg=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mlp_round_trip_keeps_parameters_dtype_and_predictions(tmp_path, dtype):
    net = MLP([6, 5, 4, 3], activation="tanh", dtype=dtype, seed=1, weight_decay=0.01)
    x = np.random.default_rng(2).standard_normal((7, 6)).astype(dtype)
    path = save_model(net, tmp_path / "m.npz", metadata={"dataset": "toy", "epochs": 3})
    loaded = load_model(path)
    assert type(loaded) is Sequential
    assert loaded.dtype == np.dtype(dtype)
    assert loaded.config() == net.config()
    assert loaded.weight_decay == 0.01
    _same_params(net, loaded)
    np.testing.assert_array_equal(loaded.predict(x), net.predict(x))
    meta = read_model_meta(path)
    assert meta["metadata"] == {"dataset": "toy", "epochs": 3}
    assert meta["format"] == "scratchnn-model" and meta["format_version"] == 1
    assert meta["dtype"] == np.dtype(dtype).name
    from scratchnn import __version__

    assert meta["scratchnn_version"] == __version__


def test_loaded_model_owns_its_arrays_and_trains(tmp_path):
    net = MLP([3, 4, 2], seed=0)
    loaded = load_model(save_model(net, tmp_path / "m.npz"))
    loaded.params["W1"][...] = 0
    assert np.any(net.params["W1"] != 0)
    x, t = np.ones((2, 3), np.float32), np.array([0, 1])
    assert np.isfinite(loaded.backprop(x, t))


def _conv_net(rng):
    return Sequential(
        [
            Convolution2D(initialize("he", (3, 1, 3, 3), rng=rng), pad=1),
            BatchNormalization(3),
            ReLU(),
            MaxPooling2D(pool=2),
            Flatten(),
            Dropout(0.3, seed=5),
            Affine(initialize("he", (3 * 4 * 4, 5), rng=rng)),
            LeakyReLU(0.2),
            Affine(initialize("he", (5, 1), rng=rng)),
        ],
        loss=SigmoidBinaryCrossEntropy(),
    )


@pytest.mark.parametrize("older", [False, True])
def test_round_trip_of_conv_batchnorm_dropout_with_state(tmp_path, older):
    rng = np.random.default_rng(0)
    net = _conv_net(rng)
    x = rng.standard_normal((6, 1, 8, 8)).astype(np.float32)
    net.backprop(x, np.array([0, 1, 0, 1, 1, 0]))  # moves the running statistics
    assert np.any(net.layers[1].running_mean != 0)
    path = save_model(net, tmp_path / "conv.npz")
    if older:  # as scratchnn 0.1 wrote it: no list of which parameters are whose
        _rewrite(path, lambda m: m.pop("params"))
    loaded = load_model(path)
    _same_params(net, loaded)
    np.testing.assert_array_equal(loaded.layers[1].running_mean, net.layers[1].running_mean)
    np.testing.assert_array_equal(loaded.layers[1].running_var, net.layers[1].running_var)
    assert isinstance(loaded.loss_layer, SigmoidBinaryCrossEntropy)
    assert loaded.layers[7].alpha == 0.2
    np.testing.assert_array_equal(loaded.predict(x), net.predict(x))


def test_file_is_a_plain_npz_without_pickled_objects(tmp_path):
    path = save_model(MLP([2, 3, 2], seed=0), tmp_path / "m.npz", metadata={"a": [1, 2]})
    with np.load(path, allow_pickle=False) as archive:
        names = set(archive.files)
        assert names == {"param/W1", "param/b1", "param/W2", "param/b2", "meta"}
        assert all(archive[n].dtype != object for n in names)
        meta = json.loads(str(archive["meta"]))
    assert meta["config"]["layers"][0] == {"type": "Affine", "in_features": 2, "out_features": 3}


def test_metadata_must_be_json(tmp_path):
    with pytest.raises(TypeError, match="JSON"):
        save_model(MLP([2, 2], seed=0), tmp_path / "m.npz", metadata={"x": object()})
    assert not (tmp_path / "m.npz").exists()


def test_failed_write_leaves_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    old = MLP([2, 3, 2], seed=0)
    save_model(old, path)
    before = path.read_bytes()

    def crash(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(model_files.np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        save_model(MLP([2, 3, 2], seed=1), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.npz"]


def test_saved_file_gets_the_usual_permissions(tmp_path):
    path = save_model(MLP([2, 2], seed=0), tmp_path / "m.npz")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


# --- bad files ---------------------------------------------------------------------------


@pytest.fixture
def model_file(tmp_path):
    return save_model(MLP([4, 3, 2], seed=0), tmp_path / "model.npz")


@pytest.mark.parametrize("keep", [0.3, 0.9, 0.99])
def test_truncated_file_is_a_clear_error(model_file, keep):
    data = model_file.read_bytes()
    model_file.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ValueError, match="truncated or corrupt") as err:
        load_model(model_file)
    assert str(model_file) in str(err.value)


def test_corrupted_bytes_are_a_clear_error(model_file):
    data = bytearray(model_file.read_bytes())
    with zipfile.ZipFile(model_file) as z:
        info = z.getinfo("param/W1.npy")
    # Flip bytes inside W1's data: the zip's CRC check must catch it.
    start = info.header_offset + 30 + len(info.filename) + 140
    data[start : start + 8] = bytes(b ^ 0xFF for b in data[start : start + 8])
    model_file.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_model(model_file)


def test_foreign_files_are_refused(tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("hello, not a model")
    with pytest.raises(ValueError, match="not a scratchnn model file"):
        load_model(text)
    other = tmp_path / "other.npz"
    np.savez(other, a=np.zeros(3))
    with pytest.raises(ValueError, match="no 'meta'"):
        load_model(other)
    npy = tmp_path / "array.npy"
    np.save(npy, np.zeros(3))
    with pytest.raises(ValueError, match="not an .npz"):
        load_model(npy)
    wrong_format = tmp_path / "wrong.npz"
    model_files.write_archive(wrong_format, {}, {"format": "something-else"})
    with pytest.raises(ValueError, match="format 'something-else'"):
        load_model(wrong_format)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such model file"):
        load_model(tmp_path / "nothing.npz")
    with pytest.raises(ValueError, match="a folder, not a model file"):
        load_model(tmp_path)


def _huge_npy(shape) -> bytes:
    """A .npy member whose header declares ``shape`` of float64 over 16 bytes of data."""
    import io

    buf = io.BytesIO()
    header = {"descr": "<f8", "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue() + bytes(16)


def test_hostile_archives_are_clear_errors_not_crashes(model_file, tmp_path):
    # An array whose header declares 8 TB over a few bytes of data.
    huge = tmp_path / "huge.npz"
    with zipfile.ZipFile(model_file) as src, zipfile.ZipFile(huge, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info, _huge_npy((10**12,)) if info.filename == "param/W1.npy" else data)
    with pytest.raises(ValueError, match=r"huge.npz: (corrupt|truncated)"):
        load_model(huge)
    # The header alone is still readable: read_model_meta reads no parameter.
    assert read_model_meta(huge)["config"] == read_model_meta(model_file)["config"]
    # A 'meta' entry that is a raw zip member, not a .npy array.
    raw = tmp_path / "raw.npz"
    with zipfile.ZipFile(raw, "w") as z:
        z.writestr("meta", b'{"format": "scratchnn-model"}')
    for read in (load_model, read_model_meta):
        with pytest.raises(ValueError, match="entry 'meta' is not a NumPy array"):
            read(raw)
    # JSON nested too deep for Python's parser.
    deep = tmp_path / "deep.npz"
    model_files.write_archive(deep, {}, {})
    with zipfile.ZipFile(deep, "w") as z, z.open("meta.npy", "w") as f:
        np.lib.format.write_array(f, np.array("[" * 100_000 + "]" * 100_000))
    with pytest.raises(ValueError, match="unreadable 'meta': RecursionError"):
        read_model_meta(deep)
    # An architecture too large to build: refused before it eats the memory.
    big = tmp_path / "big.npz"
    _rewrite_to(model_file, big, lambda m: m["config"]["layers"][0].update(
        in_features=10**7, out_features=10**7))
    with pytest.raises(ValueError, match=r"big.npz: layer 0 \(Affine\) declares in_features = "
                                         r"10,000,000, more than the 23 values the file holds: "
                                         r"a damaged or forged model file"):
        load_model(big)
    # 15000 x 15000 would take seconds and gigabytes to build before its shapes were checked.
    for layer in ({"type": "Affine", "in_features": 15000, "out_features": 15000},
                  {"type": "Affine", "in_features": 1.5e4, "out_features": 1.5e4},  # JSON's
                  {"type": "Convolution2D", "in_channels": 64, "out_channels": 512,
                   "kernel_size": [31, 31], "stride": 1, "pad": 0},
                  {"type": "BatchNormalization", "num_features": 10**7, "momentum": 0.9,
                   "eps": 1e-5, "dtype": "float32"}):
        _rewrite_to(model_file, big, lambda m, layer=layer: m["config"]["layers"].insert(0, layer))
        with pytest.raises(ValueError, match="damaged or forged model file"):
            load_model(big)


def test_sizes_are_checked_against_the_file_but_seeds_are_not(tmp_path):
    # A seed sizes nothing: a large one is no sign of a forged file.
    net = Sequential([Affine(initialize("he", (2, 3), rng=0)), Dropout(0.5, seed=2**40),
                      Affine(initialize("he", (3, 2), rng=1))])
    loaded = load_model(save_model(net, tmp_path / "seeded.npz"))
    assert loaded.layers[1].seed == 2**40
    # Any other number of a layer's config beyond the file's 17 values (+ 64) is refused.
    _rewrite(tmp_path / "seeded.npz", lambda m: m["config"]["layers"][1].update(ratio=82))
    with pytest.raises(ValueError, match=r"layer 1 \(Dropout\) declares ratio = 82, more than "
                                         r"the 17 values"):
        load_model(tmp_path / "seeded.npz")


def test_format_version_must_be_a_whole_number(model_file):
    _rewrite(model_file, lambda m: m.update(format_version=True))
    with pytest.raises(ValueError, match="bad format_version True"):
        load_model(model_file)


def _rewrite(path, change_meta=None, drop=None):
    _rewrite_to(path, path, change_meta, drop)


def _rewrite_to(path, target, change_meta=None, drop=None):
    with np.load(path, allow_pickle=False) as archive:
        arrays = {n: archive[n] for n in archive.files}
    meta = json.loads(str(arrays.pop("meta")))
    if change_meta:
        change_meta(meta)
    if drop:
        del arrays[drop]
    model_files.write_archive(target, arrays, meta)


def test_newer_format_version_asks_for_an_upgrade(model_file):
    _rewrite(model_file, lambda m: m.update(format_version=2, scratchnn_version="9.0"))
    with pytest.raises(ValueError, match=r"newer scratchnn \(9.0, format version 2\).*upgrade"):
        load_model(model_file)


def test_missing_parameter_is_named(model_file):
    _rewrite(model_file, drop="param/b2")
    with pytest.raises(ValueError, match="missing parameter 'b2'") as err:
        load_model(model_file)
    assert str(model_file) in str(err.value)


def test_wrong_shape_and_unknown_layer(model_file):
    _rewrite(model_file, lambda m: m["config"]["layers"][0].update(out_features=5))
    with pytest.raises(ValueError, match=r"layer 0 \(Affine\): the file gives out_features 5, "
                                         r"its parameters 3"):
        load_model(model_file)
    _rewrite(model_file, lambda m: m["config"]["layers"][0].update(out_features=3))
    _rewrite(model_file, lambda m: m["params"][0].update(W="W2"))
    # (layer 0 given W2, of shape (3, 2), beside its own b1 of shape (3,))
    with pytest.raises(ValueError, match=r"model.npz: b must have shape \(2,\) to match W, "
                                         r"got \(3,\)"):
        load_model(model_file)
    _rewrite(model_file, lambda m: m["config"]["layers"].append({"type": "Evil"}))
    with pytest.raises(ValueError, match="unknown layer type 'Evil'"):
        load_model(model_file)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned-by-model-file",))


def test_pickled_object_in_archive_is_refused_without_running_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = tmp_path / "evil.npz"
    np.savez(evil, meta=np.array([_Exploit()], dtype=object), **{"param/W1": np.zeros((2, 2))})
    with pytest.raises(ValueError, match="not a scratchnn model file"):
        load_model(evil)
    assert not (tmp_path / "pwned-by-model-file").exists()
    # A whole pickle given as a model file: named as one, and not run either.
    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(pickle.dumps(_Exploit()))
    with pytest.raises(ValueError, match="not an .npz archive; it looks like a pickle"):
        load_model(pickled)
    assert not (tmp_path / "pwned-by-model-file").exists()


def test_model_files_get_the_usual_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        path = tmp_path / "shared.npz"
        save_model(MLP([3, 2], seed=0), path)
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["shared.npz"]  # no temporary file left
    # A file that is replaced keeps the permissions its owner gave it.
    path.chmod(0o640)
    save_model(MLP([3, 2], seed=1), path)
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["shared.npz"]


class Scale(Layer):
    """A layer written here, registered nowhere: y = x * s, one learned scale per feature."""

    def __init__(self, features: int, dtype="float32") -> None:
        super().__init__()
        self.features = features
        self.params = {"s": np.ones(features, dtype)}
        self.grads = {"s": np.zeros(features, dtype)}

    def config(self):
        return {"features": self.features, "dtype": str(self.params["s"].dtype)}

    def forward(self, x, train=False):
        self.x = x
        return x * self.params["s"]

    def backward(self, dout):
        self.grads["s"][...] = (dout * self.x).sum(axis=0)
        return dout * self.params["s"]


def test_a_layer_defined_anywhere_saves_and_loads(tmp_path):
    rng = np.random.default_rng(0)
    net = Sequential([Scale(3), Affine(initialize("he", (3, 4), rng=rng)), ReLU(), Scale(4),
                      Affine(initialize("he", (4, 2), rng=rng))])
    x = rng.standard_normal((40, 3)).astype(np.float32)
    Trainer(net, "sgd", epochs=2, batch_size=10, seed=0).fit(x, (x[:, 0] > 0).astype(int))
    assert not np.all(net.params["s0"] == 1)  # trained
    path = save_model(net, tmp_path / "scale.npz")
    loaded = load_model(path)
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in net.layers]
    _same_params(net, loaded)
    np.testing.assert_array_equal(loaded.predict(x), net.predict(x))
    # Which parameters are whose is in the file: s1 is the second Scale's, not the Affine's.
    assert read_model_meta(path)["params"] == [{"s": "s0"}, {"W": "W1", "b": "b1"}, {},
                                               {"s": "s1"}, {"W": "W2", "b": "b2"}]


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_infinite_weights_are_refused_naming_the_file_and_array(tmp_path, bad):
    net = MLP([4, 3, 2], seed=0)
    net.params["W2"][1, 0] = bad
    path = save_model(net, tmp_path / "broken.npz")
    with pytest.raises(ValueError, match=r"broken\.npz: array 'param/W2' holds 1 NaN or "
                                         "infinite value"):
        load_model(path)
