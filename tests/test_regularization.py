"""Dropout, batch normalisation and weight decay with the convolutional layers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from scratchnn.conv import Convolution2D, Flatten, MaxPooling2D
from scratchnn.gradient import gradient_check, numerical_gradient
from scratchnn.init import initialize
from scratchnn.layers import Affine, Tanh
from scratchnn.network import Sequential
from scratchnn.optim import SGD
from scratchnn.regularization import BatchNormalization, Dropout


def _rel_error(a: np.ndarray, b: np.ndarray) -> float:
    scale = max(np.max(np.abs(a)), np.max(np.abs(b)))
    return float(np.max(np.abs(a - b)) / scale)


# --- Dropout -------------------------------------------------------------------------------


def test_dropout_inference_is_the_identity():
    x = np.random.default_rng(0).standard_normal((4, 5))
    drop = Dropout(0.5, seed=0)
    np.testing.assert_array_equal(drop.forward(x), x)
    np.testing.assert_array_equal(drop.backward(np.ones_like(x)), 1.0)


def test_dropout_training_drops_the_ratio_and_scales_the_rest():
    x = np.ones((200, 500), dtype=np.float32)
    out = Dropout(0.3, seed=1).forward(x, train=True)
    assert out.dtype == np.float32
    assert set(np.unique(out)) == {np.float32(0.0), np.float32(1 / 0.7)}
    assert np.mean(out == 0) == pytest.approx(0.3, abs=0.005)
    # Inverted scaling keeps the expected activation: inference needs no correction.
    assert out.mean() == pytest.approx(1.0, abs=0.01)


def test_dropout_backward_uses_the_forward_mask():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 7))
    drop = Dropout(0.4, seed=3)
    out = drop.forward(x, train=True)
    dout = rng.standard_normal(x.shape)
    dx = drop.backward(dout)
    np.testing.assert_array_equal(dx == 0, out == 0)
    np.testing.assert_allclose(dx[out != 0], dout[out != 0] / 0.6)


def test_dropout_masks_follow_the_seed_and_change_per_call():
    x = np.ones((10, 10))
    a, b = Dropout(0.5, seed=7), Dropout(0.5, rng=np.random.default_rng(7))
    first = a.forward(x, train=True)
    np.testing.assert_array_equal(first, b.forward(x, train=True))
    assert not np.array_equal(first, a.forward(x, train=True))
    np.testing.assert_array_equal(Dropout(0.0, seed=0).forward(x, train=True), x)


def test_frozen_dropout_reuses_its_mask_and_passes_gradient_check():
    rng = np.random.default_rng(4)
    net = Sequential([
        Affine(initialize("he", (5, 8), rng=rng, dtype=np.float64)),
        Tanh(),
        Dropout(0.5, seed=5),
        Affine(initialize("he", (8, 3), rng=rng, dtype=np.float64)),
    ])
    x, t = rng.standard_normal((4, 5)), np.array([0, 1, 2, 1])
    drop = net.layers[2]
    with pytest.raises(RuntimeError, match="training forward pass first"):
        drop.freeze()
    first = net.forward(x, train=True)
    drop.freeze()
    np.testing.assert_array_equal(net.forward(x, train=True), first)
    errors = gradient_check(net, x, t)
    assert max(errors.values()) < 1e-6, errors
    with pytest.raises(ValueError, match="frozen with a mask of shape"):
        net.forward(x[:2], train=True)
    drop.freeze(False)
    assert not np.array_equal(net.forward(x, train=True), first)


def test_dropout_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"dropout ratio must be a finite number >= 0 and < 1"):
        Dropout(1.0)
    with pytest.raises(TypeError, match="not both"):
        Dropout(0.5, seed=1, rng=np.random.default_rng(1))
    assert Dropout(**json.loads(json.dumps(Dropout(0.25, seed=3).config()))).ratio == 0.25


# --- BatchNormalization --------------------------------------------------------------------


def test_batchnorm_training_normalises_each_feature():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)) * [1.0, 5.0, 0.1] + [2.0, -3.0, 10.0]
    bn = BatchNormalization(3, dtype=np.float64)
    out = bn.forward(x, train=True)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=0), x.var(axis=0) / (x.var(axis=0) + 1e-5))
    bn.params["gamma"][...] = [1.0, 2.0, 3.0]
    bn.params["beta"][...] = [0.0, 1.0, -1.0]
    out = bn.forward(x, train=True)
    np.testing.assert_allclose(out.mean(axis=0), [0.0, 1.0, -1.0], atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), [1.0, 2.0, 3.0], rtol=1e-3)


def test_batchnorm_running_statistics_and_inference():
    x = np.array([[1.0, 10.0], [3.0, 30.0]])  # mean (2, 20), biased var (1, 100)
    bn = BatchNormalization(2, momentum=0.9, eps=1e-5, dtype=np.float64)
    bn.forward(x, train=True)
    np.testing.assert_allclose(bn.running_mean, [0.2, 2.0])
    np.testing.assert_allclose(bn.running_var, [0.9 + 0.1, 0.9 + 10.0])
    bn.forward(x, train=True)
    np.testing.assert_allclose(bn.running_mean, [0.9 * 0.2 + 0.2, 0.9 * 2.0 + 2.0])
    # Inference uses the running statistics, so one sample's output does not depend on
    # the rest of the batch, and the statistics stay as they are.
    out = bn.forward(x)
    expected = (x - bn.running_mean) / np.sqrt(bn.running_var + 1e-5)
    np.testing.assert_allclose(out, expected)
    np.testing.assert_allclose(bn.forward(x[:1]), expected[:1])
    np.testing.assert_allclose(bn.running_mean, [0.38, 3.8])


def test_batchnorm_on_images_uses_per_channel_statistics():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 3, 4, 5)) * np.array([1.0, 4.0, 0.5]).reshape(1, 3, 1, 1)
    bn = BatchNormalization(3, momentum=0.0, dtype=np.float64)
    out = bn.forward(x, train=True)
    assert out.shape == x.shape
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(bn.running_mean, x.mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(bn.running_var, x.var(axis=(0, 2, 3)))


@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 3, 2)])
@pytest.mark.parametrize("train", [True, False])
def test_batchnorm_gradients(shape, train):
    rng = np.random.default_rng(2)
    bn = BatchNormalization(4, dtype=np.float64)
    bn.params["gamma"][...] = rng.standard_normal(4)
    bn.params["beta"][...] = rng.standard_normal(4)
    bn.running_mean[...] = rng.standard_normal(4)
    bn.running_var[...] = rng.random(4) + 0.5
    x = rng.standard_normal(shape) * 2 + 1
    r = rng.standard_normal(shape)
    saved = bn.state()
    saved = {k: v.copy() for k, v in saved.items()}

    def loss(_=None) -> float:
        bn.load_state(saved)  # training passes move the running stats: undo it
        return float(np.sum(bn.forward(x, train=train) * r))

    loss()
    dx = bn.backward(r)
    grads = {k: g.copy() for k, g in bn.grads.items()}
    assert _rel_error(dx, numerical_gradient(loss, x, h=1e-5)) < 1e-6
    for name in ("gamma", "beta"):
        assert _rel_error(grads[name], numerical_gradient(loss, bn.params[name], h=1e-5)) < 1e-6


def test_batchnorm_keeps_float32_and_rejects_wrong_features():
    bn = BatchNormalization(3)
    x = np.random.default_rng(0).random((5, 3), dtype=np.float32)
    out = bn.forward(x, train=True)
    assert out.dtype == bn.running_mean.dtype == bn.running_var.dtype == np.float32
    assert bn.backward(np.ones_like(out)).dtype == np.float32
    net = Sequential([bn])
    with pytest.raises(ValueError, match=r"expects \(N, 3\) or \(N, 3, H, W\), got shape \(5, 4\)"):
        net.forward(np.zeros((5, 4)))
    with pytest.raises(ValueError, match=r"got shape \(5, 3, 2\)"):
        net.forward(np.zeros((5, 3, 2)))
    with pytest.raises(ValueError, match="num_features"):
        BatchNormalization(0)
    with pytest.raises(ValueError, match="momentum"):
        BatchNormalization(3, momentum=1.0)


def test_batchnorm_refuses_what_it_cannot_normalise_or_trust():
    bn = BatchNormalization(3)
    net = Sequential([bn])
    with pytest.raises(ValueError, match="more than 1 value per feature to train"):
        net.backprop(np.zeros((1, 3), np.float32), np.array([0]))
    with pytest.raises(ValueError, match="empty batch"):
        net.backprop(np.zeros((0, 3), np.float32), np.zeros(0, int))
    np.testing.assert_array_equal(bn.running_mean, 0)  # untouched
    np.testing.assert_array_equal(bn.running_var, 1)
    # One image still holds H * W values per channel; and inference takes one sample.
    assert BatchNormalization(2).forward(np.ones((1, 2, 3, 3)), train=True).shape == (1, 2, 3, 3)
    assert bn.forward(np.ones((1, 3)), train=False).shape == (1, 3)
    with pytest.raises(ValueError, match="num_features must be a positive integer, got True"):
        BatchNormalization(True)
    with pytest.raises(ValueError, match="eps must be a finite number > 0, got inf"):
        BatchNormalization(3, eps=float("inf"))
    for bad in ({"running_mean": np.full(3, np.nan), "running_var": np.ones(3)},
                {"running_mean": np.zeros(3), "running_var": -np.ones(3)}):
        with pytest.raises(ValueError, match="must be finite, and running_var >= 0"):
            bn.load_state(bad)


def test_dropout_takes_float16_input_and_names_a_bad_seed():
    drop = Dropout(0.5, seed=0)
    y = drop.forward(np.ones((100, 10), np.float16), train=True)
    assert y.dtype == np.float16 and set(np.unique(y)) == {0.0, 2.0}
    with pytest.raises(ValueError, match="a seed must be an integer >= 0, got -1"):
        Dropout(seed=-1)


def test_batchnorm_state_round_trip():
    bn = BatchNormalization(2, dtype=np.float64)
    bn.forward(np.array([[1.0, 2.0], [3.0, 5.0]]), train=True)
    other = BatchNormalization(**json.loads(json.dumps(bn.config())))
    assert other.running_mean.dtype == np.float64
    other.load_state(bn.state())
    np.testing.assert_array_equal(other.running_mean, bn.running_mean)
    np.testing.assert_array_equal(other.running_var, bn.running_var)
    with pytest.raises(ValueError, match=r"running_var: expected shape \(2,\)"):
        other.load_state({"running_mean": np.zeros(2), "running_var": np.zeros(3)})
    with pytest.raises(ValueError, match="running_mean and running_var"):
        other.load_state({"running_mean": np.zeros(2)})


def test_batchnorm_parameters_are_named_after_the_preceding_weighted_layer():
    rng = np.random.default_rng(3)
    net = Sequential([
        Affine(initialize("he", (4, 5), rng=rng)),
        BatchNormalization(5),
        Tanh(),
        Affine(initialize("he", (5, 2), rng=rng)),
    ])
    assert list(net.params) == ["W1", "b1", "gamma1", "beta1", "W2", "b2"]


# --- whole networks, weight decay ----------------------------------------------------------


def _conv_bn_net(weight_decay: float) -> Sequential:
    rng = np.random.default_rng(4)
    return Sequential([
        Convolution2D(initialize("he", (3, 1, 3, 3), rng=rng, dtype=np.float64), pad=1),
        BatchNormalization(3, dtype=np.float64),
        Tanh(),
        MaxPooling2D(2),
        Flatten(),
        Affine(initialize("he", (3 * 3 * 3, 6), rng=rng, dtype=np.float64)),
        BatchNormalization(6, dtype=np.float64),
        Tanh(),
        Dropout(0.3, seed=0),
        Affine(initialize("he", (6, 3), rng=rng, dtype=np.float64)),
    ], weight_decay=weight_decay)


def test_conv_batchnorm_dropout_network_passes_gradient_check_with_weight_decay():
    net = _conv_bn_net(weight_decay=0.1)
    rng = np.random.default_rng(5)
    x, t = rng.standard_normal((5, 1, 6, 6)), np.array([0, 1, 2, 0, 1])
    net.forward(x, train=True)
    net.layers[8].freeze()
    errors = gradient_check(net, x, t)
    assert set(errors) == {"W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2",
                           "W3", "b3"}
    # A bias just before batch normalisation is subtracted out again with the batch mean:
    # its gradient is exactly zero, so only rounding noise is left to compare there.
    np.testing.assert_allclose(net.grads["b1"], 0, atol=1e-12)
    np.testing.assert_allclose(net.grads["b2"], 0, atol=1e-12)
    del errors["b1"], errors["b2"]
    assert max(errors.values()) < 1e-6, errors


def test_weight_decay_counts_convolution_kernels_but_not_batchnorm():
    x = np.random.default_rng(6).standard_normal((4, 1, 6, 6))
    t = np.array([0, 1, 2, 0])
    plain, decayed = _conv_bn_net(0.0), _conv_bn_net(0.5)
    decayed.params["gamma1"][...] = 3.0  # must not count
    plain.params["gamma1"][...] = 3.0
    weights = sum(np.sum(p * p) for n, p in plain.params.items() if n.startswith("W"))
    assert decayed.loss(x, t) == pytest.approx(plain.loss(x, t) + 0.25 * weights, rel=1e-12)
    # Its gradient shrinks the kernels and leaves gamma alone: lambda * W joins dW only.
    g_plain, g_decay = plain.gradient(x, t), decayed.gradient(x, t)
    np.testing.assert_allclose(g_decay["W1"], g_plain["W1"] + 0.5 * plain.params["W1"])
    np.testing.assert_array_equal(g_decay["gamma1"], g_plain["gamma1"])
    params = plain.params
    before = {n: p.copy() for n, p in params.items()}
    SGD(lr=0.1).update(params, {n: 0.5 * p if n.startswith("W") else np.zeros_like(p)
                                for n, p in params.items()})
    np.testing.assert_allclose(params["W1"], before["W1"] * 0.95)
    np.testing.assert_array_equal(params["gamma1"], before["gamma1"])
