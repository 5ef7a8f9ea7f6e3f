"""Toy data generators: shapes, dtypes, labels, reproducibility, no global random state."""

from __future__ import annotations

import numpy as np
import pytest

from scratchnn.data import make_circles, make_sine, make_spirals, make_xor, one_hot

GENERATORS = [make_xor, make_spirals, make_circles, make_sine]


def test_xor_truth_table():
    x, t = make_xor()
    assert x.dtype == np.float32 and t.dtype == np.int64
    assert x.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert t.tolist() == [0, 1, 1, 0]


def test_noisy_xor():
    x, t = make_xor(100, noise=0.1, seed=0, dtype=np.float64)
    assert x.shape == (100, 2) and t.shape == (100,) and x.dtype == np.float64
    corners = np.round(x)
    assert np.array_equal(t, corners[:, 0] != corners[:, 1])
    assert t.mean() == 0.5


def test_spirals():
    x, t = make_spirals(50, 4, seed=1)
    assert x.shape == (200, 2) and x.dtype == np.float32
    assert t.shape == (200,) and t.dtype == np.int64
    assert np.bincount(t).tolist() == [50] * 4
    assert np.all(np.hypot(x[:, 0], x[:, 1]) <= 1.0 + 1e-6)


def test_spirals_arms_are_separable_without_noise():
    x, t = make_spirals(100, 3, noise=0.0, seed=0)
    # Same radius, different class: the arms are rotated copies of each other.
    for j in range(1, 3):
        assert not np.allclose(x[t == 0][1:], x[t == j][1:])
        np.testing.assert_allclose(np.hypot(*x[t == 0].T), np.hypot(*x[t == j].T), atol=1e-6)


def test_circles():
    x, t = make_circles(101, noise=0.0, factor=0.3)
    assert x.shape == (101, 2) and t.dtype == np.int64
    radius = np.hypot(x[:, 0], x[:, 1])
    np.testing.assert_allclose(radius[t == 0], 1.0, rtol=1e-6)
    np.testing.assert_allclose(radius[t == 1], 0.3, rtol=1e-6)
    assert np.bincount(t).tolist() == [50, 51]


def test_sine():
    x, t = make_sine(64, noise=0.0, seed=3)
    assert x.shape == (64, 1) and t.shape == (64, 1) and t.dtype == np.float32
    assert np.all(np.diff(x[:, 0]) >= 0)
    assert np.all((-np.pi <= x) & (x < np.pi))
    np.testing.assert_allclose(t, np.sin(x.astype(np.float64)), atol=1e-6)
    _, t_noisy = make_sine(64, noise=0.5, seed=3)
    assert np.std(t_noisy - t) > 0.2


@pytest.mark.parametrize("make", GENERATORS)
def test_seed_reproducible_and_global_state_untouched(make):
    state = np.random.get_state()[1].copy()  # noqa: NPY002 (checking it is untouched)
    a = make(seed=42, noise=0.3)
    b = make(seed=42, noise=0.3)
    c = make(seed=43, noise=0.3)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    if make is not make_xor:  # 4 noisy XOR points can still differ, but check anyway
        assert not np.array_equal(a[0], c[0])
    assert np.array_equal(np.random.get_state()[1], state)  # noqa: NPY002


@pytest.mark.parametrize("make", GENERATORS)
def test_accepts_a_generator(make):
    rng = np.random.default_rng(7)
    first = make(seed=rng, noise=0.3)
    second = make(seed=rng, noise=0.3)  # the generator has moved on
    assert not np.array_equal(first[0], second[0])
    x, _ = make(seed=np.random.default_rng(7), noise=0.3)
    assert np.array_equal(x, first[0])


@pytest.mark.parametrize("make", GENERATORS)
def test_float64_option(make):
    x, _ = make(seed=0, dtype=np.float64)
    assert x.dtype == np.float64


@pytest.mark.parametrize("make", GENERATORS)
def test_bad_arguments(make):
    with pytest.raises(ValueError, match="positive integer"):
        make(0)
    with pytest.raises(ValueError, match="noise"):
        make(noise=-1.0)
    with pytest.raises(TypeError, match="float32 or float64"):
        make(dtype=np.int64)


def test_specific_bad_arguments():
    with pytest.raises(ValueError, match="factor"):
        make_circles(factor=1.5)
    with pytest.raises(ValueError, match="low < high"):
        make_sine(low=1.0, high=0.0)
    with pytest.raises(ValueError, match="n_classes"):
        make_spirals(10, 0)


def test_one_hot_is_exported():
    assert one_hot(np.array([2, 0]), 3).tolist() == [[0, 0, 1], [1, 0, 0]]
