"""The data-set registry: every set by name, as ``scratchnn train`` takes it, and the
validation split."""

from __future__ import annotations

import numpy as np
import pytest

from scratchnn.data import DATASETS, Dataset, load_dataset, validation_split


def test_point_sets_by_name_are_fixed_and_labelled():
    for name, n, classes in (("xor", 400, 2), ("spirals", 900, 3), ("circles", 800, 2)):
        ds = load_dataset(name)
        assert isinstance(ds, Dataset) and name in DATASETS
        assert ds.x_train.shape == ds.x_test.shape == (n, 2)
        assert ds.x_train.dtype == np.float32 and ds.t_train.dtype == np.int64
        assert ds.classes == tuple(str(k) for k in range(classes))
        assert not ds.is_images and ds.image_shape is None
        again = load_dataset(name)  # the same points whatever seed the model gets
        np.testing.assert_array_equal(again.x_train, ds.x_train)
        assert not np.array_equal(ds.x_train, ds.x_test)


def test_pictures_by_name(shared_data):
    ds = load_dataset("mnist", shared_data, limit=50)
    assert ds.x_train.shape == (50, 784) and ds.x_test.shape == (50, 784)
    assert ds.is_images and ds.classes[3] == "3"
    images = load_dataset("mnist", shared_data, images=True, dtype=np.float64, limit=5)
    assert images.x_train.shape == (5, 1, 28, 28) and images.x_train.dtype == np.float64
    cats = load_dataset("catvnoncat", shared_data)
    assert cats.x_train.shape == (209, 64 * 64 * 3) and cats.image_shape == (64, 64, 3)
    assert 0 <= cats.x_train.min() and cats.x_train.max() <= 1
    assert load_dataset("catvnoncat", shared_data, images=True).x_test.shape == (50, 3, 64, 64)


def test_bad_requests_are_refused():
    with pytest.raises(ValueError, match="unknown data set 'imagenet'"):
        load_dataset("imagenet")
    with pytest.raises(ValueError, match="2-D points, not pictures"):
        load_dataset("xor", images=True)
    with pytest.raises(ValueError, match="limit must be a positive integer"):
        load_dataset("xor", limit=0)
    with pytest.raises(TypeError, match="float32 or float64"):
        load_dataset("xor", dtype=np.int32)


def test_validation_split_holds_out_a_fixed_random_part():
    ds = load_dataset("spirals")  # stored class by class
    x_train, t_train, x_val, t_val = validation_split(ds.x_train, ds.t_train, 0.1)
    assert len(x_val) == 90 and len(x_train) == 810
    assert set(t_val) == {0, 1, 2}  # random, not the last samples (all of class 2)
    rows = {tuple(r) for r in ds.x_train}
    assert {tuple(r) for r in x_train} | {tuple(r) for r in x_val} == rows
    np.testing.assert_array_equal(validation_split(ds.x_train, ds.t_train, 0.1)[2], x_val)
    for fraction in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match="fraction"):
            validation_split(ds.x_train, ds.t_train, fraction)
    with pytest.raises(ValueError, match="leaves no training or no validation sample"):
        validation_split(ds.x_train[:3], ds.t_train[:3], 0.1)
