"""The ready-made models: SimpleConvNet and DeepConvNet (architecture, gradients, learning,
model files, CLI) and the model factory."""

from __future__ import annotations

import numpy as np
import pytest

from scratchnn.conv import Convolution2D, Flatten, MaxPooling2D
from scratchnn.gradient import gradient_check
from scratchnn.init import initialize
from scratchnn.layers import Affine, ReLU, Tanh
from scratchnn.models import MLP, DeepConvNet, SimpleConvNet, make_model
from scratchnn.network import Sequential
from scratchnn.optim import Adam
from scratchnn.regularization import BatchNormalization, Dropout


def _bars(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """8x8 noisy images of one horizontal (label 0) or vertical (label 1) bar."""
    t = rng.integers(0, 2, n)
    x = rng.normal(0.0, 0.3, (n, 1, 8, 8)).astype(np.float32)
    where = rng.integers(0, 8, n)
    for i in range(n):
        if t[i] == 0:
            x[i, 0, where[i], :] += 1.0
        else:
            x[i, 0, :, where[i]] += 1.0
    return x, t


def test_simple_convnet_is_the_books_architecture():
    net = SimpleConvNet(seed=0)
    kinds = [type(layer) for layer in net.layers]
    assert kinds == [Convolution2D, ReLU, MaxPooling2D, Flatten, Affine, ReLU, Affine]
    shapes = {name: p.shape for name, p in net.params.items()}
    assert shapes == {"W1": (30, 1, 5, 5), "b1": (30,), "W2": (4320, 100), "b2": (100,),
                      "W3": (100, 10), "b3": (10,)}
    assert all(p.dtype == np.float32 for p in net.params.values())
    assert net.layers[0].need_dx is False
    out = net.predict(np.zeros((3, 1, 28, 28), dtype=np.float32))
    assert out.shape == (3, 10) and out.dtype == np.float32


def test_make_model_builds_each_model_by_name():
    mlp = make_model("mlp", (784,), 10, hidden=(32, 16), activation="tanh", rng=0)
    assert isinstance(mlp, MLP) and mlp.sizes == [784, 32, 16, 10]
    assert isinstance(mlp.layers[1], Tanh) and mlp.weight_decay == 0.0
    conv = make_model("convnet", (1, 28, 28), 10, dtype=np.float64, rng=1, weight_decay=0.1)
    assert isinstance(conv, SimpleConvNet) and conv.dtype == np.float64
    assert conv.weight_decay == 0.1
    assert isinstance(make_model("deepconvnet", (1, 28, 28), 3, rng=2), DeepConvNet)
    with pytest.raises(ValueError, match="unknown model 'resnet'"):
        make_model("resnet", (784,), 10)


def test_deep_convnet_is_the_books_architecture():
    net = DeepConvNet(seed=0)
    convs = [layer for layer in net.layers if isinstance(layer, Convolution2D)]
    assert [c.W.shape[0] for c in convs] == [16, 16, 32, 32, 64, 64]
    assert [c.pad for c in convs] == [1, 1, 1, 2, 1, 1]
    assert sum(isinstance(layer, MaxPooling2D) for layer in net.layers) == 3
    assert [type(layer) for layer in net.layers[-6:]] == [Flatten, Affine, ReLU, Dropout,
                                                         Affine, Dropout]
    assert net.params["W7"].shape == (64 * 4 * 4, 50)
    assert net.params["W8"].shape == (50, 10)
    # He initialisation everywhere: std sqrt(2 / fan_in).
    assert net.params["W6"].std() == pytest.approx(np.sqrt(2 / (64 * 9)), rel=0.05)
    assert net.params["W7"].std() == pytest.approx(np.sqrt(2 / 1024), rel=0.05)
    x = np.random.default_rng(0).random((2, 1, 28, 28), dtype=np.float32)
    np.testing.assert_array_equal(net.predict(x), DeepConvNet(seed=0).predict(x))
    assert net.predict(x).shape == (2, 10)


def test_what_the_convolutions_keep_for_backward_stays_small():
    # Stride-1 convolutions keep their input, not the 9-fold im2col matrix of the batch.
    net = DeepConvNet(seed=0)
    net.forward(np.zeros((100, 1, 28, 28), dtype=np.float32), train=True)
    convs = [la for la in net.layers if isinstance(la, Convolution2D)]
    assert all(la.col is None and la.x.dtype == np.float32 for la in convs)
    assert convs[1].x.shape == (100, 16, 28, 28)
    assert sum(la.x.nbytes for la in convs) < 20 * 2**20


def test_convnets_reject_bad_arguments():
    with pytest.raises(ValueError, match=r"input_dim must be \(channels, height, width\)"):
        SimpleConvNet(input_dim=(28, 28))
    with pytest.raises(ValueError, match="too small"):
        SimpleConvNet(input_dim=(1, 5, 5), kernel_size=5)
    with pytest.raises(TypeError, match="float32 or float64, got int32"):
        DeepConvNet(dtype=np.int32)
    with pytest.raises(TypeError, match="not both"):
        DeepConvNet(seed=1, rng=np.random.default_rng(1))
    net = SimpleConvNet(input_dim=(3, 10, 10), filters=2, kernel_size=3, hidden=4, seed=0)
    with pytest.raises(ValueError, match=r"input has 1 channels .* W expects 3"):
        net.predict(np.zeros((2, 1, 10, 10)))


def test_simple_convnet_gradient_check():
    net = SimpleConvNet(input_dim=(2, 7, 7), filters=3, kernel_size=3, hidden=6, classes=4,
                        dtype=np.float64, seed=1, weight_decay=0.01)
    rng = np.random.default_rng(2)
    x, t = rng.standard_normal((3, 2, 7, 7)), np.array([0, 3, 1])
    errors = gradient_check(net, x, t)
    assert max(errors.values()) < 1e-6, errors


def test_deep_convnet_backprop_matches_numerical_gradient_on_a_few_weights():
    # The whole check would take 100k loss evaluations: compare a random sample of entries.
    net = DeepConvNet(input_dim=(1, 8, 8), classes=3, dtype=np.float64, seed=3)
    rng = np.random.default_rng(4)
    x, t = rng.standard_normal((2, 1, 8, 8)), np.array([0, 2])
    net.forward(x, train=True)
    for layer in net.layers:
        if isinstance(layer, Dropout):
            layer.freeze()
    grads = net.gradient(x, t)
    h = 1e-5
    for name, p in net.params.items():
        flat, g = p.reshape(-1), grads[name].reshape(-1)
        for i in rng.choice(flat.size, size=min(3, flat.size), replace=False):
            saved = flat[i]
            flat[i] = saved + h
            up = net.loss(x, t, train=True)
            flat[i] = saved - h
            down = net.loss(x, t, train=True)
            flat[i] = saved
            assert (up - down) / (2 * h) == pytest.approx(g[i], rel=1e-5, abs=1e-9), name


def test_simple_convnet_learns_bars():
    rng = np.random.default_rng(0)
    x, t = _bars(400, rng)
    x_test, t_test = _bars(200, rng)
    net = SimpleConvNet(input_dim=(1, 8, 8), filters=8, kernel_size=3, hidden=16, classes=2,
                        seed=0)
    opt = Adam(lr=0.01)
    assert net.accuracy(x_test, t_test) < 0.8
    first = net.loss(x, t)
    for _ in range(8):
        order = rng.permutation(len(x))
        for i in range(0, len(x), 20):
            batch = order[i : i + 20]
            net.backprop(x[batch], t[batch])
            opt.update(net.params, net.grads)
    assert net.loss(x, t) < 0.2 * first
    assert net.accuracy(x_test, t_test) >= 0.97


def test_convnets_survive_a_model_file(tmp_path):
    from scratchnn.files import load_model, save_model

    rng = np.random.default_rng(5)
    x = rng.random((4, 1, 28, 28), dtype=np.float32)
    bn_net = Sequential([
        Convolution2D(initialize("he", (4, 1, 3, 3), rng=rng)),
        BatchNormalization(4),
        ReLU(),
        MaxPooling2D(2),
        Flatten(),
        Affine(initialize("he", (4 * 13 * 13, 10), rng=rng)),
        Dropout(0.5, seed=1),
    ])
    bn_net.forward(x, train=True)  # moves the running statistics away from (0, 1)
    for net in (SimpleConvNet(seed=0), DeepConvNet(seed=0), bn_net):
        path = save_model(net, tmp_path / "model.npz")
        loaded = load_model(path)
        assert [type(la) for la in loaded.layers] == [type(la) for la in net.layers]
        assert loaded.dtype == np.float32
        np.testing.assert_array_equal(loaded.predict(x), net.predict(x))
    np.testing.assert_array_equal(loaded.layers[1].running_mean, bn_net.layers[1].running_mean)


def test_simple_convnet_learns_from_a_slice_of_mnist(shared_data):
    from scratchnn.data import load_mnist

    (x, t), (x_test, t_test) = load_mnist(flatten=False, data_dir=shared_data)
    assert x.shape[1:] == (1, 28, 28)
    net = SimpleConvNet(seed=0)
    opt = Adam(lr=0.001)
    assert net.accuracy(x_test[:1000], t_test[:1000]) < 0.3
    for i in range(0, 4000, 100):
        net.backprop(x[i : i + 100], t[i : i + 100])
        opt.update(net.params, net.grads)
    assert net.accuracy(x_test[:1000], t_test[:1000]) >= 0.85


def test_cli_trains_evaluates_and_predicts_with_a_convnet(shared_data, tmp_path, capsys):
    from PIL import Image

    from scratchnn.cli import main
    from scratchnn.data import load_mnist
    from scratchnn.files import load_model

    out = tmp_path / "run"
    status = main(["train", "--model", "convnet", "--epochs", "2", "--limit", "1000",
                   "--data-dir", str(shared_data), "--out", str(out), "--no-plots",
                   "--no-progress"])
    assert status == 0
    model = load_model(out / "model.npz")
    assert isinstance(model.layers[0], Convolution2D)
    capsys.readouterr()
    assert main(["evaluate", str(out / "model.npz"), "--data-dir", str(shared_data),
                 "--limit", "1000"]) == 0
    accuracy = float(capsys.readouterr().out.split("accuracy ")[1].split("%")[0])
    assert accuracy > 80
    _, (x_test, t_test) = load_mnist(flatten=True, normalize=False, data_dir=shared_data)
    digit = tmp_path / "digit.png"
    Image.fromarray(x_test[0].reshape(28, 28).astype(np.uint8)).save(digit)
    assert main(["predict", str(out / "model.npz"), str(digit)]) == 0
    # "PATH: 7 (99.0%)  ...": the most likely class comes first.
    best = capsys.readouterr().out.rsplit(".png: ", 1)[1].split()[0]
    assert best == str(int(t_test[0]))
