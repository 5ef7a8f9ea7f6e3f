"""Every figure renders to a non-empty PNG (and SVG) and shows what it should."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from scratchnn import MLP, Affine, Convolution2D, Flatten, History, Sequential, Trainer
from scratchnn.figures import plots
from scratchnn.gradient import gradient_descent

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _check_png(path, min_size=(300, 200)):
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    with Image.open(path) as image:
        width, height = image.size
        pixels = np.asarray(image.convert("L"))
    assert width >= min_size[0] and height >= min_size[1]
    assert pixels.std() > 5  # not a blank canvas


def _history():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 4)).astype(np.float32)
    t = (x[:, 0] > 0).astype(np.int64)
    return Trainer(MLP([4, 6, 2], seed=0), "adam", epochs=4, batch_size=20,
                   seed=0).fit(x, t, x, t)


def test_activations(tmp_path):
    fig = plots.plot_activations(path=tmp_path / "act.png")
    assert isinstance(fig, Figure)
    _check_png(tmp_path / "act.png")
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert labels[:5] == ["step", "sigmoid", "tanh", "ReLU", "leaky ReLU (α = 0.1)"]
    relu = fig.axes[0].lines[3]
    x, y = relu.get_data()
    np.testing.assert_allclose(y, np.maximum(x, 0))


def test_learning_curves_png_and_svg(tmp_path):
    history = _history()
    fig = plots.plot_learning_curves(history, val_label="test", path=tmp_path / "curves.png")
    _check_png(tmp_path / "curves.png")
    loss_ax, acc_ax = fig.axes
    np.testing.assert_array_equal(loss_ax.lines[0].get_ydata(), history.loss)
    assert [line.get_label() for line in acc_ax.lines] == ["train", "test"]
    np.testing.assert_allclose(acc_ax.lines[1].get_ydata(), 100 * history.val_acc)  # percent
    plots.plot_learning_curves(history, path=tmp_path / "curves.svg")
    assert (tmp_path / "curves.svg").read_text().lstrip().startswith("<?xml")


def test_learning_curves_of_an_empty_history_still_render(tmp_path):
    plots.plot_learning_curves(History(), path=tmp_path / "empty.png")
    assert (tmp_path / "empty.png").read_bytes().startswith(PNG_SIGNATURE)


def test_misclassified_shows_only_wrong_predictions(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((12, 784))
    t = np.arange(12) % 10
    pred = t.copy()
    pred[[2, 5, 7]] = [9, 0, 1]
    probs = np.full((12, 10), 0.05)
    probs[np.arange(12), pred] = 0.55
    fig = plots.plot_misclassified(x, t, pred, probs, path=tmp_path / "wrong.png")
    _check_png(tmp_path / "wrong.png")
    titles = [ax.get_title() for ax in fig.axes if ax.images]
    assert titles == ["pred 9 (55%)\ntrue 2", "pred 0 (55%)\ntrue 5", "pred 1 (55%)\ntrue 7"]
    assert "3 of 12" in fig._suptitle.get_text()


def test_misclassified_colour_images_and_class_names(tmp_path):
    x = np.random.default_rng(1).random((4, 3, 8, 8))  # (N, C, H, W)
    fig = plots.plot_misclassified(x, [0, 1, 0, 1], [1, 1, 1, 0], classes=["cat", "dog"],
                                   path=tmp_path / "c.png")
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 3 and shown[0].images[0].get_array().shape == (8, 8, 3)
    assert shown[0].get_title() == "pred dog\ntrue cat"
    with pytest.raises(ValueError, match="square image"):
        plots.plot_misclassified(np.zeros((2, 10)), [0, 1], [1, 0])


def test_misclassified_when_all_are_right(tmp_path):
    fig = plots.plot_misclassified(np.zeros((3, 4)), [0, 1, 2], [0, 1, 2],
                                   path=tmp_path / "none.png")
    assert "No misclassified" in fig._suptitle.get_text()


def test_first_layer_weights_of_mlp_and_convnet(tmp_path):
    net = MLP([784, 20, 10], seed=0)
    fig = plots.plot_first_layer_weights(net, path=tmp_path / "w.png")
    _check_png(tmp_path / "w.png")
    shown = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(shown) == 20
    np.testing.assert_allclose(shown[3], net.params["W1"][:, 3].reshape(28, 28), rtol=1e-6)
    rng = np.random.default_rng(0)
    conv = Sequential([Convolution2D(rng.standard_normal((6, 1, 5, 5)).astype(np.float32)),
                       Flatten(),
                       Affine(rng.standard_normal((6 * 24 * 24, 3)).astype(np.float32))])
    fig = plots.plot_first_layer_weights(conv, path=tmp_path / "f.png")
    assert sum(1 for ax in fig.axes if ax.images) == 6


def test_confusion_matrix(tmp_path):
    cm = np.array([[5, 1, 0], [2, 7, 1], [0, 0, 9]])
    fig = plots.plot_confusion_matrix(cm, ["a", "b", "c"], path=tmp_path / "cm.png")
    _check_png(tmp_path / "cm.png")
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["5", "1", "0", "2", "7", "1", "0", "0", "9"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    fig = plots.plot_confusion_matrix(cm, normalize=True)
    assert fig.axes[0].texts[1].get_text() == "0.17"
    with pytest.raises(ValueError, match="square"):
        plots.plot_confusion_matrix(np.zeros((2, 3)))


def test_gradient_descent_path(tmp_path):
    def f(x):
        return x[0] ** 2 + x[1] ** 2

    _, path = gradient_descent(f, np.array([-3.0, 4.0]), lr=0.1, step_num=20, return_path=True)
    fig = plots.plot_gradient_descent_path(f, path, path=tmp_path / "gd.png")
    _check_png(tmp_path / "gd.png")
    steps = fig.axes[0].lines[0]
    np.testing.assert_array_equal(steps.get_xdata(), path[:, 0])
    assert steps.get_label() == "20 steps"
    with pytest.raises(ValueError, match=r"\(steps, 2\)"):
        plots.plot_gradient_descent_path(f, np.zeros((3, 3)))


def test_bad_arguments_are_named_before_matplotlib_sees_them():
    x = np.random.default_rng(0).random((4, 784))
    t, pred = np.array([0, 1, 2, 3]), np.array([1, 1, 2, 0])
    with pytest.raises(ValueError, match="max_images must be a positive integer, got -1"):
        plots.plot_misclassified(x, t, pred, max_images=-1)
    with pytest.raises(ValueError, match=r"probs must have shape \(4, classes\) with a column "
                                         r"for each of the 4 classes, got \(4, 2\)"):
        plots.plot_misclassified(x, t, pred, probs=np.full((4, 2), 0.5))
    with pytest.raises(ValueError, match="classes names 2 classes, but the labels go up to 3"):
        plots.plot_misclassified(x, t, pred, classes=["a", "b"])
    with pytest.raises(ValueError, match="pred must hold class indices >= 0"):
        plots.plot_misclassified(x, t, pred - 1)
    with pytest.raises(ValueError, match="max_units must be a positive integer, got 0"):
        plots.plot_first_layer_weights(MLP([784, 3], seed=0), max_units=0)
    for cm in (np.zeros((0, 0)), np.array([[1.0, np.nan], [0, 1]]), np.array([[1.5, 0], [0, 1]]),
               np.array([[1, -1], [0, 1]])):
        with pytest.raises(ValueError, match="(square, non-empty|whole numbers >= 0)"):
            plots.plot_confusion_matrix(cm)
    points = np.array([[3.0, 4.0], [-30.0, 40.0], [np.inf, -np.inf]])
    with pytest.raises(ValueError, match=r"path point 2 is not finite .*smaller learning rate"):
        plots.plot_gradient_descent_path(lambda p: float(p @ p), points)


def test_new_figure_makes_a_figure_without_pyplot(tmp_path):
    fig = plots.new_figure(figsize=(3, 2))
    assert isinstance(fig, Figure)
    assert tuple(fig.get_size_inches()) == (3, 2)
    fig.add_subplot().plot([0, 1], [1, 0])
    assert plots.save_figure(fig, tmp_path / "n.png") == tmp_path / "n.png"
    assert (tmp_path / "n.png").read_bytes().startswith(PNG_SIGNATURE)


def test_unknown_suffix_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"\.png or \.svg"):
        plots.plot_activations(path=tmp_path / "a.pdf")
    assert not list(tmp_path.iterdir())


def _spirals_model():
    from scratchnn.data import load_dataset

    ds = load_dataset("spirals")
    net = MLP([2, 16, 3], seed=0)
    Trainer(net, "adam", epochs=3, seed=0).fit(ds.x_train, ds.t_train, ds.x_test, ds.t_test)
    return net, ds


def test_every_plot_labels_its_axes_and_shows_accuracy_in_percent(tmp_path):
    net, ds = _spirals_model()
    history = History(10)
    history.loss = np.linspace(1, 0.1, 20)
    history.records = [dict(epoch=e, loss=1.0 / e, train_acc=0.5 + 0.1 * e, val_acc=0.4 + 0.1 * e,
                            val_loss=None, lr=0.1, time=1.0) for e in (1, 2)]
    figures = [
        plots.plot_activations(),
        plots.plot_learning_curves(history),
        plots.plot_confusion_matrix(np.eye(3, dtype=int)),
        plots.plot_gradient_descent_path(lambda p: float(p @ p), np.array([[1.0, 1.0], [0, 0]])),
        plots.plot_decision_boundary(net, ds.x_test, ds.t_test),
        plots.plot_runs({"a": history, "b": history}),
    ]
    for fig in figures:
        for ax in fig.axes:
            if ax.axison and ax.get_label() != "<colorbar>":
                assert ax.get_xlabel() and ax.get_ylabel(), ax.get_title()
    accuracy_axes = figures[1].axes[1]
    assert accuracy_axes.get_ylabel() == "accuracy (%)"
    assert accuracy_axes.lines[0].get_ydata()[1] == pytest.approx(70.0)
    assert figures[5].axes[1].lines[0].get_ydata()[0] == pytest.approx(50.0)


def test_decision_boundary_shades_what_the_model_predicts(tmp_path):
    net, ds = _spirals_model()
    fig = plots.plot_decision_boundary(net, ds.x_test, ds.t_test, resolution=50,
                                       path=tmp_path / "db.png")
    _check_png(tmp_path / "db.png")
    shaded = fig.axes[0].collections[0]
    assert len(fig.axes[0].collections) == 1 + 3  # the shaded classes, a scatter per class
    assert shaded is not None
    with pytest.raises(ValueError, match=r"2-D points x \(N, 2\)"):
        plots.plot_decision_boundary(net, ds.x_test[:, :1], ds.t_test)


def test_one_file_name_per_figure():
    assert plots.FIGURE_FILES["curves"] == "learning_curves.png"
    assert plots.FIGURE_FILES["gradient-descent"] == "gradient_descent.png"
    assert len(set(plots.FIGURE_FILES.values())) == len(plots.FIGURE_FILES)
