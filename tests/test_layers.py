"""Each layer's backward against finite differences, dtypes, and errors on bad input."""

import numpy as np
import pytest

import scratchnn as sn
from scratchnn.functions import (
    binary_cross_entropy,
    mean_squared_error,
    one_hot,
    softmax_cross_entropy,
)
from scratchnn.gradient import numerical_gradient
from scratchnn.init import initialize
from scratchnn.layers import Identity

RNG = np.random.default_rng(42)


def _relative_error(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(a)), np.max(np.abs(b)), 1e-300)


def check_layer(layer, x, h=1e-6):
    """Backprop of L = sum(forward(x) * dout) against central differences, for x and params."""
    dout = RNG.standard_normal(layer.forward(x, train=True).shape)
    dout_before = dout.copy()

    def objective(_):
        return float(np.sum(layer.forward(x, train=True) * dout))

    layer.forward(x, train=True)
    dx = layer.backward(dout)
    np.testing.assert_array_equal(dout, dout_before)  # backward never writes into dout
    errors = {"x": _relative_error(dx, numerical_gradient(objective, x, h))}
    grads = {k: g.copy() for k, g in layer.grads.items()}
    for name, p in layer.params.items():
        errors[name] = _relative_error(grads[name], numerical_gradient(objective, p, h))
    return errors


ACTIVATIONS = [sn.ReLU(), sn.LeakyReLU(0.1), sn.Sigmoid(), sn.Tanh(), Identity()]


@pytest.mark.parametrize("layer", ACTIVATIONS, ids=lambda la: type(la).__name__)
def test_activation_layers_pass_gradient_check(layer):
    x = RNG.standard_normal((4, 5))
    x[np.abs(x) < 1e-3] = 0.5  # stay away from the ReLU kink
    errors = check_layer(layer, x)
    assert max(errors.values()) < 1e-7, errors


def test_affine_gradient_check_and_shapes():
    layer = sn.Affine(initialize("he", (6, 3), rng=0, dtype=np.float64))
    layer.params["b"][:] = RNG.standard_normal(3)
    errors = check_layer(layer, RNG.standard_normal((5, 6)))
    assert max(errors.values()) < 1e-7, errors
    assert layer.dW.shape == (6, 3) and layer.db.shape == (3,)


def test_affine_flattens_images_and_reshapes_dx_back():
    layer = sn.Affine(initialize("he", (12, 2), rng=1, dtype=np.float64))
    x = RNG.standard_normal((4, 3, 2, 2))
    y = layer.forward(x)
    np.testing.assert_allclose(y, x.reshape(4, 12) @ layer.W + layer.b)
    dx = layer.backward(np.ones((4, 2)))
    assert dx.shape == x.shape
    errors = check_layer(layer, x)
    assert max(errors.values()) < 1e-7, errors


def test_affine_hand_computed_values():
    layer = sn.Affine(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([0.5, -0.5]))
    x = np.array([[1.0, 1.0], [0.0, 2.0]])
    np.testing.assert_allclose(layer.forward(x), [[4.5, 5.5], [6.5, 7.5]])
    dx = layer.backward(np.array([[1.0, 0.0], [0.0, 1.0]]))
    np.testing.assert_allclose(layer.dW, [[1.0, 0.0], [1.0, 2.0]])
    np.testing.assert_allclose(layer.db, [1.0, 1.0])
    np.testing.assert_allclose(dx, [[1.0, 3.0], [2.0, 4.0]])


def test_affine_takes_an_empty_batch_and_a_network_refuses_complex_input():
    layer = sn.Affine(np.arange(6.0).reshape(2, 3), np.ones(3))
    out = layer.forward(np.zeros((0, 2)))
    assert out.shape == (0, 3)  # as x @ W + b gives it
    assert layer.backward(np.zeros((0, 3))).shape == (0, 2)
    np.testing.assert_array_equal(layer.dW, np.zeros((2, 3)))
    assert sn.Affine(np.ones((4, 3))).forward(np.zeros((0, 1, 2, 2))).shape == (0, 3)
    # A layer's forward is the math; what a user hands in is checked by the network.
    with pytest.raises(TypeError, match="x must be a numeric array of real numbers, got dtype "
                                        "complex128"):
        sn.Sequential([layer]).forward(np.ones((1, 2)) + 1j)


@pytest.mark.parametrize(
    "loss, target",
    [
        (sn.SoftmaxCrossEntropy(), lambda: RNG.integers(0, 4, 5)),
        (sn.SoftmaxCrossEntropy(), lambda: one_hot(RNG.integers(0, 4, 5), 4)),
        (sn.SigmoidBinaryCrossEntropy(), lambda: RNG.integers(0, 2, (5, 4)).astype(float)),
        (sn.IdentityMSE(), lambda: RNG.standard_normal((5, 4))),
    ],
    ids=["softmax-labels", "softmax-onehot", "sigmoid-bce", "identity-mse"],
)
def test_output_layers_pass_gradient_check(loss, target):
    x = RNG.standard_normal((5, 4)) * 2
    t = target()
    loss.forward(x, t)
    dx = loss.backward()
    numerical = numerical_gradient(lambda _: loss.forward(x, t), x, 1e-6)
    assert _relative_error(dx, numerical) < 1e-7


def test_output_layer_losses_match_the_functions():
    x = RNG.standard_normal((6, 3))
    t = RNG.integers(0, 3, 6)
    assert sn.SoftmaxCrossEntropy().forward(x, t) == pytest.approx(softmax_cross_entropy(x, t))
    tb = RNG.integers(0, 2, (6, 3)).astype(float)
    assert sn.SigmoidBinaryCrossEntropy().forward(x, tb) == pytest.approx(
        binary_cross_entropy(sn.sigmoid(x), tb), rel=1e-12
    )
    assert sn.IdentityMSE().forward(x, tb) == pytest.approx(mean_squared_error(x, tb))
    # Softmax backward is the closed form (y - t) / N.
    layer = sn.SoftmaxCrossEntropy()
    layer.forward(x, t)
    np.testing.assert_allclose(layer.backward(), (sn.softmax(x) - one_hot(t, 3)) / 6)


def test_softmax_cross_entropy_is_exact_per_row_in_float32():
    # Row 1 lies 40 below row 0's maximum: shifting it by the batch's maximum would cost
    # it 40 * eps of absolute precision, a relative error of about 1e-3 of its small loss.
    rng = np.random.default_rng(5)
    x = np.zeros((64, 10), np.float32)
    x[0::2, 0] = 40.0 + rng.random(32, dtype=np.float32)
    x[1::2] = rng.random((32, 10), dtype=np.float32)
    x[1::2, 3] += 8.0
    t = np.where(np.arange(64) % 2 == 0, 0, 3)
    exact = softmax_cross_entropy(x.astype(np.float64), t)
    assert sn.SoftmaxCrossEntropy().forward(x, t) == pytest.approx(exact, rel=1e-5)


def test_sigmoid_bce_from_logits_is_stable():
    layer = sn.SigmoidBinaryCrossEntropy()
    loss = layer.forward(np.array([[1e4], [-1e4]], dtype=np.float32), np.array([[0.0], [1.0]]))
    assert loss == pytest.approx(1e4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layers_keep_the_dtype(dtype):
    x = RNG.standard_normal((3, 4)).astype(dtype)
    for layer in [sn.Affine(initialize("he", (4, 4), rng=0, dtype=dtype)), *ACTIVATIONS]:
        y = layer.forward(x, train=True)
        assert y.dtype == dtype, type(layer).__name__
        assert layer.backward(np.ones_like(y)).dtype == dtype, type(layer).__name__
        for g in layer.grads.values():
            assert g.dtype == dtype
    loss = sn.SoftmaxCrossEntropy()
    loss.forward(x, np.array([0, 1, 2]))
    assert loss.backward().dtype == dtype


def test_layer_errors_name_the_shapes():
    layer = sn.Affine(initialize("he", (4, 2), rng=0))
    net = sn.Sequential([layer])
    with pytest.raises(ValueError, match=r"layer 0 \(Affine\).*\(5, 3\) has 3 features.*"
                                         r"W \(4, 2\) expects 4"):
        net.forward(np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"\(N, features\)"):
        net.forward(np.zeros(4))
    with pytest.raises(ValueError, match="b must have shape"):
        sn.Affine(np.zeros((3, 2)), np.zeros(3))
    with pytest.raises(ValueError, match=r"target shape mismatch.*\(5, 2\).*\(5, 4\)"):
        net.loss(np.zeros((5, 4)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="NaN"):
        net.loss(np.array([[np.nan, 0.0, 0.0, 0.0]]), np.array([0]))
    with pytest.raises(ValueError, match="alpha"):
        sn.LeakyReLU(-1)


def _scores_net(width, dtype=np.float32, loss=None):
    """A network whose scores are its input: an identity Affine of ``width``."""
    return sn.Sequential([sn.Affine(np.eye(width, dtype=dtype))], loss)


def test_targets_are_checked_and_converted_as_forward_uses_them():
    x32 = np.zeros((3, 4), np.float32)
    softmax = _scores_net(4)
    labels = softmax.check_data(x32, np.array([0.0, 3.0, 1.0]))[1]  # whole floats: labels
    assert labels.dtype == np.int64 and labels.tolist() == [0, 3, 1]
    one_hot_t = softmax.check_data(x32, np.eye(4)[:3])[1]
    assert one_hot_t.dtype == np.float32
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\], got values from 0 to 4"):
        softmax.check_data(x32, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\], got values from -1"):
        softmax.check_data(x32, np.array([-1, 2, 1]))
    bce = _scores_net(1, loss=sn.SigmoidBinaryCrossEntropy())
    column = bce.check_data(np.zeros((3, 1), np.float32), np.array([1, 0, 1]))[1]
    assert column.shape == (3, 1) and column.dtype == np.float32
    with pytest.raises(ValueError, match=r"expected \(3, 2\), got shape \(3,\)"):
        _scores_net(2, loss=sn.SigmoidBinaryCrossEntropy()).check_data(
            np.zeros((3, 2)), np.array([1, 0, 1]))
    with pytest.raises(ValueError, match="t contains NaN"):
        _scores_net(1, loss=sn.IdentityMSE()).check_data(np.zeros((3, 1)),
                                                          np.array([1.0, np.nan, 0.0]))


@pytest.mark.parametrize("loss, t", [
    (sn.SoftmaxCrossEntropy(), np.array([2, 0, 1, 2])),
    (sn.SoftmaxCrossEntropy(), np.eye(3)[[2, 0, 1, 2]]),
    (sn.SigmoidBinaryCrossEntropy(), (np.arange(12).reshape(4, 3) % 2).astype(float)),
    (sn.IdentityMSE(), np.arange(12.0).reshape(4, 3) / 7),
])
def test_unchecked_step_gives_the_checked_loss_and_gradient(loss, t):
    x = np.random.default_rng(0).standard_normal((4, 3))
    net = _scores_net(3, np.float64, loss)
    checked = net.backprop(x, t)
    grads = {k: g.copy() for k, g in net.grads.items()}
    assert net.train_step(*net.check_data(x, t)) == checked
    for k, g in net.grads.items():
        np.testing.assert_array_equal(g, grads[k])


def test_targets_of_one_output_never_broadcast():
    x = np.arange(4.0).reshape(4, 1)
    for loss in (sn.IdentityMSE(), sn.SigmoidBinaryCrossEntropy()):
        net = _scores_net(1, np.float64, loss)
        # (4, 1) - (4,) would broadcast to (4, 4): the check makes t a column first.
        assert net.loss(x, np.ones(4)) == net.loss(x, np.ones((4, 1)))
    with pytest.raises(TypeError, match="integer class labels expected, got dtype float64"):
        _scores_net(3).loss(np.zeros((4, 3)), np.full(4, 0.5))
