"""The weight-initialisation experiment: activation statistics and their histograms."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from scratchnn.figures.experiments import activation_distributions, plot_activation_histograms


def test_activation_distributions_shapes_and_reproducibility():
    acts = activation_distributions("xavier", "tanh", layers=4, nodes=20, samples=50, rng=1)
    assert len(acts) == 4
    assert all(a.shape == (50, 20) for a in acts)
    again = activation_distributions("xavier", "tanh", layers=4, nodes=20, samples=50, rng=1)
    for a, b in zip(acts, again, strict=True):
        np.testing.assert_array_equal(a, b)


def test_activation_distributions_follow_the_book():
    def acts(init, activation):
        return activation_distributions(init, activation, rng=0)

    # std 1 with sigmoid: activations pile up near 0 and 1 (vanishing gradients).
    saturated = acts("std1", "sigmoid")[-1]
    assert np.mean((saturated < 0.1) | (saturated > 0.9)) > 0.6
    # std 0.01 with sigmoid: everything near 0.5, and every input gives the same output.
    collapsed = acts("std0.01", "sigmoid")[-1]
    assert np.all(np.abs(collapsed - 0.5) < 0.05)
    assert collapsed.std(axis=0).max() < 1e-4
    # Xavier keeps sigmoid activations spread out in the last layer.
    assert 0.05 < acts("xavier", "sigmoid")[-1].std() < 0.3
    # ReLU: He keeps the scale from layer to layer; Xavier halves the mean square per layer
    # and std 0.01 shrinks it about 200 times per layer.
    he = acts("he", "relu")
    assert 0.5 < np.mean(he[-1] ** 2) / np.mean(he[0] ** 2) < 2
    xavier = acts("xavier", "relu")
    assert np.mean(xavier[-1] ** 2) / np.mean(xavier[0] ** 2) == pytest.approx(1 / 16, rel=0.5)
    tiny = acts("std0.01", "relu")
    assert np.mean(tiny[-1] ** 2) / np.mean(tiny[0] ** 2) < 200.0**-3
    assert tiny[-1].max() < 1e-4


def test_activation_distributions_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown init 'glorot'; expected one of std1"):
        activation_distributions("glorot")
    with pytest.raises(ValueError, match="unknown activation 'softplus'"):
        activation_distributions("he", "softplus")
    with pytest.raises(ValueError, match="layers must be a positive int"):
        activation_distributions("he", "relu", layers=0)
    with pytest.raises(ValueError, match="layers must be a positive integer, got 0"):
        plot_activation_histograms(layers=0)
    with pytest.raises(ValueError, match="bins must be a positive integer, got 0"):
        plot_activation_histograms(bins=0)


@pytest.mark.parametrize("suffix,magic", [(".png", b"\x89PNG"), (".svg", b"<?xml")])
def test_plot_activation_histograms_draws_a_grid_and_saves(tmp_path, suffix, magic):
    path = tmp_path / f"hist{suffix}"
    fig = plot_activation_histograms(["std0.01", "he"], "relu", layers=3, nodes=30,
                                     samples=100, path=path)
    assert isinstance(fig, Figure)
    axes = fig.get_axes()
    assert len(axes) == 6
    assert axes[0].get_title() == "std = 0.01: layer 1"
    assert axes[5].get_title() == "He: layer 3"
    # Every bar of the std 0.01 rows sits in the first bin: ReLU outputs near 0.
    heights = [p.get_height() for p in axes[2].patches]
    assert heights[0] == sum(heights) > 0
    assert path.read_bytes().startswith(magic)


def test_plot_activation_histograms_marks_values_beyond_the_range():
    fig = plot_activation_histograms("std1", "relu", layers=2, nodes=30, samples=100)
    texts = [t.get_text() for ax in fig.get_axes() for t in ax.texts]
    assert texts and all(t.endswith("> 1") for t in texts)
    with pytest.raises(ValueError, match="at least one"):
        plot_activation_histograms([])


def test_optimizer_paths_follow_the_books_steps():
    from scratchnn.figures.experiments import optimizer_paths

    paths = optimizer_paths(steps=30)
    assert list(paths) == ["SGD", "Momentum", "AdaGrad", "Adam"]
    # SGD, lr 0.95, from (-7, 2): the gradient is (x/10, 2y)
    np.testing.assert_allclose(paths["SGD"][1], [-7 + 0.95 * 0.7, 2 - 0.95 * 4])
    # AdaGrad's first step is lr * g / |g| per coordinate: 1.5 in each
    np.testing.assert_allclose(paths["AdaGrad"][1], [-5.5, 0.5], atol=1e-6)
    for name, path in paths.items():
        assert path.shape == (31, 2)
        assert np.linalg.norm(path[-1]) < np.linalg.norm(path[0]) / 5, name


def test_optimizer_comparison_draws_paths_and_mnist_curves(tmp_path):
    from scratchnn.figures.experiments import (
        optimizer_curves,
        optimizer_paths,
        plot_optimizer_comparison,
    )

    rng = np.random.default_rng(0)
    x = rng.random((300, 784), dtype=np.float32)
    t = (x[:, :392].sum(axis=1) > x[:, 392:].sum(axis=1)).astype(np.int64)
    curves = optimizer_curves(x, t, iterations=20, batch_size=32)
    assert all(c.shape == (20,) and np.isfinite(c).all() for c in curves.values())
    fig = plot_optimizer_comparison(optimizer_paths(), curves, path=tmp_path / "o.png")
    assert isinstance(fig, Figure) and len(fig.axes) == 5
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes)
    assert (tmp_path / "o.png").stat().st_size > 1000


def test_activation_histograms_have_axis_labels():
    fig = plot_activation_histograms(["he"], "relu", layers=2, samples=50)
    assert fig.get_supxlabel() and fig.get_supylabel()
