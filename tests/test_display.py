"""The notebook niceties: a network's layer table, a history's table and its plot."""

import base64
import re

import numpy as np
import pytest

import scratchnn as sn
from scratchnn._display import output_shapes
from scratchnn.data import make_xor
from scratchnn.init import initialize
from scratchnn.training import History


def _history(epochs: int, stopped: str | None = None) -> History:
    history = History(iterations_per_epoch=3)
    history.loss = np.linspace(2.0, 0.5, 3 * epochs)
    history.records = [
        {"epoch": e, "loss": 1.0 / e, "train_acc": 0.5 + e / 100, "val_acc": 0.4 + e / 100,
         "val_loss": None, "lr": 0.1, "time": 0.25}
        for e in range(1, epochs + 1)
    ]
    history.wall_time = 0.25 * epochs
    history.stopped_reason = stopped
    return history


def test_mlp_table_has_shapes_counts_and_names():
    # 4*3 + 3 = 15 and 3*2 + 2 = 8 parameters
    assert repr(sn.MLP([4, 3, 2], seed=0)).splitlines() == [
        "MLP: 23 parameters (float32)",
        "#  layer                                  output shape  parameters  names",
        "-  -------------------------------------  ------------  ----------  ------",
        "1  Affine(in_features=4, out_features=3)  (N, 3)                15  W1, b1",
        "2  ReLU()                                 (N, 3)",
        "3  Affine(in_features=3, out_features=2)  (N, 2)                 8  W2, b2",
        "   SoftmaxCrossEntropy()",
    ]


def test_convnet_output_shapes_by_hand():
    # 28 - 5 + 1 = 24; pooled 12; 30 * 12 * 12 = 4320
    net = sn.SimpleConvNet(seed=0)
    assert output_shapes(net) == [(30, 24, 24), (30, 24, 24), (30, 12, 12), (4320,),
                                  (100,), (100,), (10,)]
    text = repr(net)
    assert "(N, 30, 24, 24)" in text and "(N, 4320)" in text
    assert f"{net.n_params():,} parameters" in text.splitlines()[0]
    assert "432,100" in text  # 4320 * 100 + 100


def test_unknown_input_shape_shows_question_marks():
    conv = sn.Convolution2D(initialize("he", (2, 1, 3, 3), rng=0))
    net = sn.Sequential([conv, sn.ReLU(), sn.Flatten(),
                         sn.Affine(initialize("he", (8, 2), rng=1))])
    assert output_shapes(net) == [None] * 4
    shape_column = [re.split(r"\s{2,}", row)[2] for row in repr(net).splitlines()[3:7]]
    assert shape_column == ["?"] * 4


def test_table_shows_weight_decay_and_batchnorm_names():
    net = sn.Sequential([sn.Affine(initialize("he", (4, 8), rng=0)),
                         sn.BatchNormalization(8), sn.ReLU(),
                         sn.Affine(initialize("he", (8, 3), rng=1))], weight_decay=0.1)
    text = repr(net)
    assert text.splitlines()[0] == "Sequential: 83 parameters (float32), weight decay 0.1"
    assert "gamma1, beta1" in text


def test_repr_leaves_the_network_as_it_was():
    rng = np.random.default_rng(0)
    net = sn.Sequential([sn.Affine(initialize("he", (5, 6), rng=0, dtype=np.float64)),
                         sn.BatchNormalization(6, dtype=np.float64), sn.ReLU(),
                         sn.Dropout(0.5, seed=1),
                         sn.Affine(initialize("he", (6, 3), rng=1, dtype=np.float64))])
    x, t = rng.random((4, 5)), np.array([0, 1, 2, 0])
    net.backprop(x, t)
    before = {k: v.copy() for k, v in net.grads.items()}
    remembered = [dict(vars(layer)) for layer in net.layers]
    states = [{k: v.copy() for k, v in layer.state().items()} for layer in net.layers]
    dropout_rng = net.layers[3].rng.bit_generator.state
    repr(net)
    net._repr_html_()
    for layer, attrs, state in zip(net.layers, remembered, states, strict=True):
        assert vars(layer).keys() == attrs.keys()
        assert all(vars(layer)[k] is v for k, v in attrs.items())  # same objects: untouched
        for k, v in state.items():
            np.testing.assert_array_equal(layer.state()[k], v)
    assert net.layers[3].rng.bit_generator.state == dropout_rng
    # the gradients still belong to the last backward pass
    for k, v in before.items():
        np.testing.assert_array_equal(net.grads[k], v)


def test_html_table_is_escaped_and_matches_text():
    net = sn.Sequential([sn.Affine(initialize("he", (4, 8), rng=0)),
                         sn.BatchNormalization(8), sn.ReLU(),
                         sn.Affine(initialize("he", (8, 3), rng=1))])
    page = net._repr_html_()
    assert page.startswith("<div><table>") and page.count("<tr>") == 1 + 5
    assert "dtype=&#x27;float32&#x27;" in page and "dtype='float32'" not in page
    assert "<td style=\"text-align: left\">(N, 8)</td>" in page
    assert "83 parameters (float32)" in page


def test_history_table():
    text = repr(_history(3))
    lines = text.splitlines()
    assert lines[0] == "History: 3 epochs, 9 iterations, 0.8 s"
    # val_loss was never measured: no column for it
    assert lines[1].split() == ["epoch", "loss", "train_acc", "val_acc", "lr", "time"]
    assert lines[3].split() == ["1", "1.0000", "0.5100", "0.4100", "0.1", "0.25"]
    assert lines[5].split() == ["3", "0.3333", "0.5300", "0.4300", "0.1", "0.25"]


def test_history_table_of_a_long_run_is_cut_and_says_why_it_stopped():
    text = repr(_history(30, stopped="early stopping at epoch 30"))
    lines = text.splitlines()
    assert lines[0].endswith("; early stopping at epoch 30")
    epochs = [line.split()[0] for line in lines[3:]]
    assert epochs == [*map(str, range(1, 11)), "…", *map(str, range(21, 31))]


def test_history_html():
    page = _history(2)._repr_html_()
    assert "<caption>History</caption>" in page
    assert page.count("<tr>") == 1 + 2
    assert "<td style=\"text-align: right\">0.4200</td>" in page
    assert "<p>2 epochs, 6 iterations, 0.5 s</p>" in page


def test_empty_history():
    assert repr(History()) == "History: 0 epochs, 0 iterations, 0.0 s"
    assert "<tbody></tbody>" in History()._repr_html_()


def test_history_plot_draws_the_learning_curves(tmp_path):
    history = _history(4)
    fig = history.plot(val_label="test", path=tmp_path / "curves.png")
    loss_ax, acc_ax = fig.axes
    np.testing.assert_allclose(loss_ax.lines[0].get_ydata(), history.loss)
    labels = [line.get_label() for line in acc_ax.lines]
    assert labels == ["train", "test"]
    # the validation accuracies, as fractions or in percent
    ratio = np.asarray(acc_ax.lines[1].get_ydata()) / [0.41, 0.42, 0.43, 0.44]
    assert np.allclose(ratio, 1.0) or np.allclose(ratio, 100.0)
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="suffix"):
        history.plot(path=tmp_path / "curves.jpg")


def test_history_of_a_real_run_shows_in_its_table():
    x, t = make_xor(64, seed=0)
    net = sn.MLP([2, 8, 2], seed=0)
    history = sn.Trainer(net, sn.SGD(lr=0.1), epochs=2, batch_size=16, seed=0,
                         progress=False).fit(x, t)
    lines = repr(history).splitlines()
    assert lines[0].startswith("History: 2 epochs, 8 iterations")
    assert [line.split()[0] for line in lines[3:]] == ["1", "2"]
    assert f"{history.records[-1]['loss']:.4f}" in lines[-1]


def test_figures_display_inline_in_ipython(tmp_path, monkeypatch):
    # A figure a notebook cell returns shows as a picture, with no plt.show() and no
    # %matplotlib magic: scratchnn draws without pyplot, whose backend would set that up.
    pytest.importorskip("IPython")  # installed with the docs extra; CI's docs step runs this
    from IPython.core.interactiveshell import InteractiveShell

    from scratchnn.figures import plot_activations

    monkeypatch.setenv("IPYTHONDIR", str(tmp_path))
    shell = InteractiveShell.instance()
    try:
        data, _ = shell.display_formatter.format(plot_activations())
        png = data["image/png"]  # base64 text (JSON-ready) or bytes, by IPython's version
        png = base64.b64decode(png) if isinstance(png, str) else png
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        data, _ = shell.display_formatter.format(_history(2).plot())
        assert "image/png" in data
    finally:
        InteractiveShell.clear_instance()
