"""load_mnist / load_fashion_mnist: semantics, where files come from, checks, decoded cache.

The real MNIST files come from the shared data folder through ``data_dir``; everything about
searching and corruption is tested on a tiny synthetic IDX data set in tmp_path, loaded
through ``load_fashion_mnist`` with the data set's checksums patched to match it.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

import scratchnn.data.mnist as mnist_module
from scratchnn.data import (
    FASHION_MNIST_CLASSES,
    cache_dir,
    idx,
    load_fashion_mnist,
    load_mnist,
)

NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def synthetic_payloads(n_train: int = 6, n_test: int = 3, seed: int = 0) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": np.arange(n_train) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) + 3) % 10,
    }
    return {name: idx_bytes(a) for name, a in arrays.items()}


def write_set(folder: Path, payloads: dict[str, bytes], compress: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, payload in payloads.items():
        if compress:
            (folder / f"{name}.gz").write_bytes(gzip.compress(payload))
        else:
            (folder / name).write_bytes(payload)
    return folder


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No test here may reach the internet or see the developer's own data settings."""
    monkeypatch.setenv("SCRATCHNN_MIRRORS", "")
    monkeypatch.delenv("SCRATCHNN_DATA", raising=False)


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("SCRATCHNN_CACHE", str(cache))
    return cache


@pytest.fixture
def fake(monkeypatch):
    """Make load_fashion_mnist expect the synthetic payloads, not the real files."""
    payloads = synthetic_payloads()
    spec = dataclasses.replace(
        mnist_module.FASHION_MNIST,
        sha256={name: hashlib.sha256(p).hexdigest() for name, p in payloads.items()},
        mirrors=(),
        system_dirs=(),
    )
    monkeypatch.setattr(mnist_module, "FASHION_MNIST", spec)
    return payloads


@pytest.fixture(scope="module")
def mnist_default(shared_data):
    return load_mnist(data_dir=shared_data)


# --- the real MNIST --------------------------------------------------------------------


def test_default_load(mnist_default):
    (x_train, t_train), (x_test, t_test) = mnist_default
    assert x_train.shape == (60000, 784) and x_test.shape == (10000, 784)
    assert x_train.dtype == np.float32 and x_train.nbytes == 188_160_000
    assert 0.0 <= x_train.min() and x_train.max() == 1.0
    assert t_train.shape == (60000,) and t_train.dtype == np.int64
    assert t_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert t_test[:5].tolist() == [7, 2, 1, 0, 4]
    assert np.bincount(t_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_raw_values_and_image_layout(shared_data, mnist_default):
    (x_raw, _), (x_raw_test, _) = load_mnist(normalize=False, flatten=False, data_dir=shared_data)
    assert x_raw.shape == (60000, 1, 28, 28) and x_raw_test.shape == (10000, 1, 28, 28)
    assert x_raw.dtype == np.float32 and x_raw.max() == 255.0
    assert np.array_equal(x_raw_test, np.round(x_raw_test))
    # normalize=True is exactly the book's x.astype(float32) / 255.0
    assert np.array_equal(mnist_default[1][0], x_raw_test.reshape(10000, 784) / 255.0)


def test_one_hot_labels_and_float64(shared_data, mnist_default):
    (x, t), (x_test, t_test) = load_mnist(
        one_hot_label=True, dtype=np.float64, data_dir=shared_data
    )
    assert x.dtype == np.float64 and x.shape == (60000, 784)
    assert t.shape == (60000, 10) and t.dtype == np.float64 and t_test.shape == (10000, 10)
    assert np.array_equal(t.sum(axis=1), np.ones(60000))
    assert np.array_equal(t.argmax(axis=1), mnist_default[0][1])
    raw_test = np.round(mnist_default[1][0].astype(np.float64) * 255)
    assert np.array_equal(x_test, raw_test / 255.0)


def test_warm_cache_does_not_need_the_source(mnist_default, tmp_path):
    decoded = cache_dir() / "decoded" / "mnist"
    sha = mnist_module.MNIST.sha256["train-images-idx3-ubyte"]
    assert (decoded / f"train-images-idx3-ubyte-{sha}.npy").is_file()
    (x, t), _ = load_mnist(data_dir=tmp_path)  # a folder without mnist/
    assert np.array_equal(x, mnist_default[0][0])


def test_a_data_dir_that_does_not_exist_is_an_error_even_with_a_warm_cache(mnist_default,
                                                                          tmp_path):
    with pytest.raises(FileNotFoundError, match=r"data folder .*nothing-here does not exist"):
        load_mnist(data_dir=tmp_path / "nothing-here")
    (tmp_path / "a-file").write_text("")
    with pytest.raises(FileNotFoundError, match=r"a-file is not a folder"):
        load_mnist(data_dir=tmp_path / "a-file")


@pytest.mark.parametrize("dtype", [np.int32, "uint8", bool, "not-a-type"])
def test_dtype_must_be_floating(dtype, fresh_cache):
    # TypeError, not FileNotFoundError: arguments are checked before looking for files.
    with pytest.raises(TypeError, match="float32 or float64"):
        load_mnist(dtype=dtype)


def test_mnist_spec_lists_public_mirrors():
    assert "https://ossci-datasets.s3.amazonaws.com/mnist/" in mnist_module.MNIST.mirrors
    assert "https://storage.googleapis.com/cvdf-datasets/mnist/" in mnist_module.MNIST.mirrors
    assert set(mnist_module.MNIST.sha256) == set(NAMES)


# --- Fashion-MNIST ---------------------------------------------------------------------


def test_fashion_classes():
    assert len(FASHION_MNIST_CLASSES) == 10
    assert FASHION_MNIST_CLASSES[0] == "T-shirt/top" and FASHION_MNIST_CLASSES[9] == "Ankle boot"


def test_fashion_spec():
    spec = mnist_module.FASHION_MNIST
    assert spec.folder == "fashion-mnist"
    assert DEBIAN_FASHION in spec.system_dirs
    assert any("fashion-mnist.s3-website.eu-central-1.amazonaws.com" in m for m in spec.mirrors)
    assert any("zalandoresearch/fashion-mnist" in m for m in spec.mirrors)


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(), reason="Debian's dataset-fashion-mnist absent")
def test_fashion_from_debian_package(fresh_cache):
    (x, t), (x_test, t_test) = load_fashion_mnist(flatten=False)
    assert x.shape == (60000, 1, 28, 28) and x_test.shape == (10000, 1, 28, 28)
    assert np.bincount(t).tolist() == [6000] * 10
    assert np.bincount(t_test).tolist() == [1000] * 10
    assert t[:5].tolist() == [9, 0, 0, 3, 0]


def test_synthetic_set_through_data_dir(tmp_path, fresh_cache, fake):
    write_set(tmp_path / "data" / "fashion-mnist", fake)
    (x, t), (x_test, t_test) = load_fashion_mnist(one_hot_label=True, data_dir=tmp_path / "data")
    assert x.shape == (6, 784) and x_test.shape == (3, 784)
    assert t.shape == (6, 10) and t.dtype == np.float32
    assert t_test.argmax(axis=1).tolist() == [3, 4, 5]
    expected = np.frombuffer(fake["train-images-idx3-ubyte"][16:], np.uint8).reshape(6, 784)
    np.testing.assert_array_equal(x, expected.astype(np.float32) / 255.0)


def test_plain_files_are_accepted(tmp_path, fresh_cache, fake):
    write_set(tmp_path / "data" / "fashion-mnist", fake, compress=False)
    (x, t), _ = load_fashion_mnist(normalize=False, data_dir=tmp_path / "data")
    assert x.max() > 1 and t.tolist() == [0, 1, 2, 3, 4, 5]


def test_environment_variable(tmp_path, fresh_cache, fake, monkeypatch):
    write_set(tmp_path / "data" / "fashion-mnist", fake)
    monkeypatch.setenv("SCRATCHNN_DATA", str(tmp_path / "data"))
    (x, _), _ = load_fashion_mnist()
    assert x.shape == (6, 784)


def test_files_in_the_cache_folder_are_used(fresh_cache, fake):
    write_set(fresh_cache / "fashion-mnist", fake)
    (x, _), _ = load_fashion_mnist()
    assert x.shape == (6, 784)


def test_data_dir_comes_before_environment(tmp_path, fresh_cache, fake, monkeypatch):
    write_set(tmp_path / "good" / "fashion-mnist", fake)
    bad = write_set(tmp_path / "bad" / "fashion-mnist", synthetic_payloads(seed=1))
    monkeypatch.setenv("SCRATCHNN_DATA", str(tmp_path / "bad"))
    (x, _), _ = load_fashion_mnist(data_dir=tmp_path / "good")
    assert x.shape == (6, 784)
    # and the other way round the bad file, found first, is an error naming it
    monkeypatch.setenv("SCRATCHNN_DATA", str(tmp_path / "good"))
    mnist_module_cache = fresh_cache / "decoded"
    for f in files_under(mnist_module_cache):
        f.unlink()
    with pytest.raises(ValueError, match=str(bad / "train-images-idx3-ubyte.gz")):
        load_fashion_mnist(data_dir=tmp_path / "bad")


def test_files_are_never_written_into_data_dir(tmp_path, fresh_cache, fake):
    data = tmp_path / "data"
    write_set(data / "fashion-mnist", fake)
    before = {p: p.stat().st_mtime_ns for p in files_under(data)}
    load_fashion_mnist(data_dir=data)
    load_fashion_mnist(data_dir=data)
    assert {p: p.stat().st_mtime_ns for p in files_under(data)} == before
    assert len(files_under(fresh_cache / "decoded")) == 4


def test_wrong_checksum_in_data_dir(tmp_path, fresh_cache, fake):
    folder = write_set(tmp_path / "data" / "fashion-mnist", fake)
    labels = bytearray(fake["t10k-labels-idx1-ubyte"])
    labels[-1] ^= 1  # still a valid IDX file, but not the expected data
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes(labels)))
    with pytest.raises(ValueError) as info:
        load_fashion_mnist(data_dir=tmp_path / "data")
    message = str(info.value)
    assert str(folder / "t10k-labels-idx1-ubyte.gz") in message
    assert "SHA-256" in message and fake_sha(fake, "t10k-labels-idx1-ubyte") in message
    assert (folder / "t10k-labels-idx1-ubyte.gz").is_file()  # the user's file is left alone
    assert files_under(fresh_cache) == []  # and nothing was cached from a bad set


def fake_sha(payloads: dict[str, bytes], name: str) -> str:
    return hashlib.sha256(payloads[name]).hexdigest()


def test_truncated_gzip_in_data_dir(tmp_path, fresh_cache, fake):
    folder = write_set(tmp_path / "data" / "fashion-mnist", fake)
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(ValueError, match=f"{path}: .*truncated or corrupt gzip") as info:
        load_fashion_mnist(data_dir=tmp_path / "data")
    assert str(info.value).count(str(path)) == 1
    # Without mirrors, deleting the file would not bring a fresh copy: not advised.
    assert "Replace it with a good copy of train-images-idx3-ubyte.gz." in str(info.value)
    assert "delete" not in str(info.value)


def test_bad_file_in_a_system_folder_is_not_the_users_to_delete(tmp_path, fresh_cache, fake,
                                                                  monkeypatch):
    folder = write_set(tmp_path / "usr-share" / "fashion-mnist", fake)
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01"))
    spec = dataclasses.replace(mnist_module.FASHION_MNIST, system_dirs=(folder,),
                               mirrors=("http://127.0.0.1:9/",))
    monkeypatch.setattr(mnist_module, "FASHION_MNIST", spec)
    with pytest.raises(ValueError, match="Reinstall the package that put it there"):
        load_fashion_mnist()


def test_gzip_bomb_is_refused(tmp_path, fresh_cache, fake, monkeypatch):
    monkeypatch.setattr(idx, "MAX_PAYLOAD", 50_000)
    folder = write_set(tmp_path / "data" / "fashion-mnist", fake)
    path = folder / "train-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(bytes(10_000_000)))  # 10 kB of gzip, 10 MB of zeros
    with pytest.raises(ValueError, match="more than 50000 bytes of data"):
        load_fashion_mnist(data_dir=tmp_path / "data")


def test_corrupt_file_in_cache_is_removed(fresh_cache, fake):
    folder = write_set(fresh_cache / "fashion-mnist", fake)
    (folder / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8bnot really gzip")
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist()
    assert "removed corrupt cached file" in str(info.value)
    assert not (folder / "train-images-idx3-ubyte.gz").exists()


def test_cache_that_cannot_be_written_only_costs_speed(tmp_path, fresh_cache, fake,
                                                        monkeypatch):
    data = tmp_path / "data"
    write_set(data / "fashion-mnist", fake)
    # A file where the cache folder should be: the decoded arrays are not cached, no error.
    fresh_cache.write_text("not a folder")
    expected = load_fashion_mnist(data_dir=data, normalize=False)
    assert expected[0][0].shape == (6, 784)
    # A damaged cached file that cannot be removed (a read-only cache) is passed over.
    fresh_cache.unlink()
    cached = write_set(fresh_cache / "fashion-mnist", fake)
    (cached / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8bnot really gzip")
    decoded = fresh_cache / "decoded" / "fashion-mnist"
    decoded.mkdir(parents=True)
    damaged = decoded / f"t10k-images-idx3-ubyte-{fake_sha(fake, 't10k-images-idx3-ubyte')}.npy"
    damaged.write_bytes(b"\x93NUMPY cut short")

    def refuse(path, missing_ok=False):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(Path, "unlink", refuse)
    # With a good copy after the cache in the search order (a system folder), it is used.
    spec = dataclasses.replace(mnist_module.FASHION_MNIST, system_dirs=(data / "fashion-mnist",))
    monkeypatch.setattr(mnist_module, "FASHION_MNIST", spec)
    _, (x_test, t_test) = load_fashion_mnist(normalize=False)
    np.testing.assert_array_equal(x_test, expected[1][0])
    np.testing.assert_array_equal(t_test, expected[1][1])
    # Without one, the message says what was passed over and why.
    shutil.rmtree(decoded)  # (the first load cached every array)
    monkeypatch.setattr(mnist_module, "FASHION_MNIST", dataclasses.replace(spec, system_dirs=()))
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist()
    assert (f"ignored corrupt cached file {cached / 't10k-labels-idx1-ubyte.gz'}"
            in str(info.value))
    assert "cannot remove it: Permission denied" in str(info.value)


def test_full_disk_while_caching_decoded_arrays(tmp_path, fresh_cache, fake, monkeypatch):
    write_set(tmp_path / "data" / "fashion-mnist", fake)

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(mnist_module.np, "save", full)
    (x, _), _ = load_fashion_mnist(data_dir=tmp_path / "data")
    assert x.shape == (6, 784)
    assert not fresh_cache.exists()  # no temporary file, nor the folders made for it


def test_nothing_anywhere(tmp_path, fresh_cache, fake, monkeypatch):
    monkeypatch.setenv("SCRATCHNN_DATA", str(tmp_path / "env-data"))
    (tmp_path / "arg-data").mkdir()
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist(data_dir=tmp_path / "arg-data")
    message = str(info.value)
    for name in NAMES:
        assert f"{name}.gz" in message
    assert str(tmp_path / "arg-data" / "fashion-mnist") in message
    assert str(tmp_path / "env-data" / "fashion-mnist") in message
    assert str(fresh_cache / "fashion-mnist") in message
    assert "SCRATCHNN_DATA" in message and "data_dir=" in message
    assert "SCRATCHNN_MIRRORS is set but empty" in message
    assert files_under(fresh_cache) == []


def test_only_the_missing_files_are_named(tmp_path, fresh_cache, fake):
    folder = write_set(tmp_path / "data" / "fashion-mnist", fake)
    (folder / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"1 file\(s\) not found.*: t10k-images-idx3"):
        load_fashion_mnist(data_dir=tmp_path / "data")


def test_hint_when_data_dir_is_the_dataset_folder_itself(tmp_path, fresh_cache, fake):
    write_set(tmp_path / "fashion-mnist", fake)
    with pytest.raises(FileNotFoundError, match=f"set data_dir to {tmp_path} instead"):
        load_fashion_mnist(data_dir=tmp_path / "fashion-mnist")


def test_mismatched_image_and_label_counts(tmp_path, fresh_cache, monkeypatch):
    payloads = synthetic_payloads()
    payloads["train-labels-idx1-ubyte"] = idx_bytes(np.arange(5))
    spec = dataclasses.replace(
        mnist_module.FASHION_MNIST,
        sha256={name: hashlib.sha256(p).hexdigest() for name, p in payloads.items()},
        system_dirs=(),
    )
    monkeypatch.setattr(mnist_module, "FASHION_MNIST", spec)
    write_set(tmp_path / "data" / "fashion-mnist", payloads)
    with pytest.raises(ValueError, match="6 images but 5 labels"):
        load_fashion_mnist(data_dir=tmp_path / "data")


def test_damaged_decoded_cache_is_rebuilt(tmp_path, fresh_cache, fake):
    write_set(tmp_path / "data" / "fashion-mnist", fake)
    first = load_fashion_mnist(data_dir=tmp_path / "data")
    decoded = files_under(fresh_cache / "decoded")
    assert len(decoded) == 4
    for path in decoded:
        path.write_bytes(path.read_bytes()[:-7])
    second = load_fashion_mnist(data_dir=tmp_path / "data")
    np.testing.assert_array_equal(first[0][0], second[0][0])
    np.testing.assert_array_equal(first[1][1], second[1][1])
    assert all(p.stat().st_size > 0 for p in files_under(fresh_cache / "decoded"))


def test_decoded_cache_with_a_flipped_bit_or_another_shape_is_rebuilt(tmp_path, fresh_cache,
                                                                      fake):
    write_set(tmp_path / "data" / "fashion-mnist", fake)
    (x, t), _ = load_fashion_mnist(data_dir=tmp_path / "data", flatten=False)
    decoded = {p.name.split("-")[0] + "-" + p.name.split("-")[1]: p
               for p in files_under(fresh_cache / "decoded")}
    labels = decoded["train-labels"]
    data = bytearray(labels.read_bytes())
    data[-1] ^= 0x01  # a readable .npy file, one label changed
    labels.write_bytes(bytes(data))
    images = decoded["train-images"]
    np.save(images, np.load(images).reshape(len(x), 1, -1))  # the same bytes, another shape
    (x2, t2), _ = load_fashion_mnist(data_dir=tmp_path / "data", flatten=False)
    np.testing.assert_array_equal(t2, t)
    assert x2.shape == x.shape
    np.testing.assert_array_equal(x2, x)


def test_arrays_are_writable_and_private(tmp_path, fresh_cache, fake):
    write_set(tmp_path / "data" / "fashion-mnist", fake)
    (x, t), _ = load_fashion_mnist(data_dir=tmp_path / "data")
    x[0] = 7.0
    t[0] = 3
    (x_again, t_again), _ = load_fashion_mnist(data_dir=tmp_path / "data")
    assert x_again[0].max() <= 1.0 and t_again[0] == 0


def test_cached_arrays_get_the_usual_permissions(tmp_path, fresh_cache, fake):
    write_set(tmp_path / "data" / "fashion-mnist", fake)
    umask = os.umask(0o022)
    try:
        load_fashion_mnist(data_dir=tmp_path / "data")
    finally:
        os.umask(umask)
    cached = files_under(fresh_cache)
    assert len(cached) == 4  # readable by the other users of a shared cache
    assert {p.stat().st_mode & 0o777 for p in cached} == {0o644}


def test_no_temporary_files_left(tmp_path, fresh_cache, fake):
    write_set(tmp_path / "data" / "fashion-mnist", fake)
    load_fashion_mnist(data_dir=tmp_path / "data")
    assert not [p for p in files_under(fresh_cache) if p.name.endswith(".part")]


# --- the cache location ------------------------------------------------------------------


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("SCRATCHNN_CACHE", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("SCRATCHNN_CACHE")
    assert cache_dir() == tmp_path / "xdg" / "scratchnn"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "scratchnn"
    assert os.path.isabs(cache_dir())
