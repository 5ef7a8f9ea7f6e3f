"""load_catvnoncat: the course's HDF5 files, both layouts, and the errors."""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest

from scratchnn.data import CATVNONCAT_CLASSES, CatData, load_catvnoncat


@pytest.fixture(autouse=True)
def no_data_env(monkeypatch):
    monkeypatch.delenv("SCRATCHNN_DATA", raising=False)


@pytest.fixture(scope="module")
def cats(shared_data) -> CatData:
    return load_catvnoncat(data_dir=shared_data)


def test_default_layout(cats):
    assert isinstance(cats, CatData)
    assert cats.train_x.shape == (209, 64, 64, 3) and cats.train_x.dtype == np.uint8
    assert cats.test_x.shape == (50, 64, 64, 3) and cats.test_x.dtype == np.uint8
    assert cats.train_y.shape == (209,) and cats.test_y.shape == (50,)
    assert cats.train_y.dtype == np.int64
    assert cats.classes == ("non-cat", "cat") == CATVNONCAT_CLASSES
    # 72 of the 209 training pictures and 33 of the 50 test pictures are cats
    assert cats.train_y.sum() == 72 and cats.test_y.sum() == 33
    assert set(np.unique(cats.train_y)) == {0, 1}


def test_course_layout_is_the_course_arithmetic(shared_data, cats):
    course = load_catvnoncat(data_dir=shared_data, course_layout=True)
    assert course.train_x.shape == (12288, 209) and course.train_x.dtype == np.float64
    assert course.test_x.shape == (12288, 50)
    assert course.train_y.shape == (1, 209) and course.test_y.shape == (1, 50)
    assert np.array_equal(course.train_x, cats.train_x.reshape(209, -1).T / 255.0)
    assert np.array_equal(course.test_x, cats.test_x.reshape(50, -1).T / 255.0)
    assert np.array_equal(course.train_y[0], cats.train_y)
    assert 0.0 <= course.train_x.min() and course.train_x.max() <= 1.0


def test_arrays_are_writable(cats):
    assert cats.train_x.flags.writeable and cats.test_y.flags.writeable


def test_environment_variable(shared_data, monkeypatch):
    monkeypatch.setenv("SCRATCHNN_DATA", str(shared_data))
    assert load_catvnoncat().test_x.shape == (50, 64, 64, 3)


def test_missing_files(tmp_path, monkeypatch):
    monkeypatch.setenv("SCRATCHNN_DATA", str(tmp_path / "env"))
    (tmp_path / "arg").mkdir()
    with pytest.raises(FileNotFoundError) as info:
        load_catvnoncat(data_dir=tmp_path / "arg")
    message = str(info.value)
    assert "train_catvnoncat.h5" in message and "test_catvnoncat.h5" in message
    assert str(tmp_path / "arg" / "catvnoncat") in message
    assert str(tmp_path / "env" / "catvnoncat") in message
    assert "data_dir=" in message and "SCRATCHNN_DATA" in message


def copy_set(shared_data, tmp_path):
    folder = tmp_path / "data" / "catvnoncat"
    shutil.copytree(shared_data / "catvnoncat", folder)
    for path in folder.iterdir():
        path.chmod(0o644)  # the shared copies are read-only
    return folder


def test_truncated_file(shared_data, tmp_path):
    folder = copy_set(shared_data, tmp_path)
    path = folder / "test_catvnoncat.h5"
    path.write_bytes(path.read_bytes()[:100_000])
    with pytest.raises(ValueError, match=f"{path}: not a readable"):
        load_catvnoncat(data_dir=tmp_path / "data")


def test_changed_content_fails_the_checksum(shared_data, tmp_path):
    folder = copy_set(shared_data, tmp_path)
    path = folder / "train_catvnoncat.h5"
    with h5py.File(path, "r+") as f:
        f["train_set_y"][0] = 1 - f["train_set_y"][0]
    with pytest.raises(ValueError, match=f"{path}: the data in this file has SHA-256"):
        load_catvnoncat(data_dir=tmp_path / "data")


def test_wrong_shape(tmp_path):
    folder = tmp_path / "data" / "catvnoncat"
    folder.mkdir(parents=True)
    with h5py.File(folder / "train_catvnoncat.h5", "w") as f:
        f["train_set_x"] = np.zeros((3, 64, 64, 3), np.uint8)
        f["train_set_y"] = np.zeros(3, np.int64)
    with pytest.raises(ValueError, match=r"expected train_set_x of shape \(209, 64, 64, 3\)"):
        load_catvnoncat(data_dir=tmp_path / "data")


def test_datasets_that_are_not_image_arrays(tmp_path):
    folder = tmp_path / "data" / "catvnoncat"
    folder.mkdir(parents=True)
    path = folder / "train_catvnoncat.h5"
    # Declared far larger than the file: refused from its shape, before anything is read.
    with h5py.File(path, "w") as f:
        f.create_dataset("train_set_x", shape=(400_000, 64, 64, 3), dtype=np.uint8)
        f["train_set_y"] = np.zeros(209, np.int64)
    assert path.stat().st_size < 100_000
    with pytest.raises(ValueError, match=r"got \(400000, 64, 64, 3\) and \(209,\)"):
        load_catvnoncat(data_dir=tmp_path / "data")
    # A group where the images should be.
    with h5py.File(path, "w") as f:
        f.create_group("train_set_x")
        f["train_set_y"] = np.zeros(209, np.int64)
    with pytest.raises(ValueError, match=r"got None and \(209,\) \(None: not a dataset\)"):
        load_catvnoncat(data_dir=tmp_path / "data")
    # Strings of the right shape: named as unreadable, with the file.
    with h5py.File(path, "w") as f:
        f.create_dataset("train_set_x", shape=(209, 64, 64, 3), dtype=h5py.string_dtype())
        f["train_set_y"] = np.zeros(209, np.int64)
    with pytest.raises(ValueError, match=f"{path}: not a readable cat-vs-non-cat HDF5 file"):
        load_catvnoncat(data_dir=tmp_path / "data")


def test_a_data_dir_that_does_not_exist_is_an_error_not_a_fallback(shared_data, monkeypatch,
                                                                    tmp_path):
    monkeypatch.setenv("SCRATCHNN_DATA", str(shared_data))  # would have the files
    with pytest.raises(FileNotFoundError, match=r"data folder .*typo does not exist"):
        load_catvnoncat(data_dir=tmp_path / "typo")
