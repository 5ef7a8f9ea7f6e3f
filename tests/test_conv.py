"""Convolution, pooling and flatten layers: values, gradients, shapes, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

import scratchnn as sn
from scratchnn.conv import (
    AveragePooling2D,
    Convolution2D,
    Flatten,
    MaxPooling2D,
    col2im,
    im2col,
    output_size,
)
from scratchnn.gradient import gradient_check, numerical_gradient
from scratchnn.init import initialize
from scratchnn.layers import Affine, Tanh
from scratchnn.network import Sequential


def kernel_pair(k):
    return (k, k) if isinstance(k, int) else tuple(k)


def _rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """The largest element error relative to the largest element (gradient_check's measure)."""
    scale = max(np.max(np.abs(a)), np.max(np.abs(b)))
    return float(np.max(np.abs(a - b)) / scale)


def _check_layer_gradients(layer, x: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Backward against central differences of L = sum(forward(x) * R), for x and params."""
    r = np.random.default_rng(seed).standard_normal(layer.forward(x).shape)

    def loss(_=None) -> float:
        return float(np.sum(layer.forward(x, train=True) * r))

    layer.forward(x, train=True)
    dx = layer.backward(r)
    grads = {name: g.copy() for name, g in layer.grads.items()}
    errors = {"x": _rel_error(dx, numerical_gradient(loss, x, h=1e-5))}
    for name, p in layer.params.items():
        errors[name] = _rel_error(grads[name], numerical_gradient(loss, p, h=1e-5))
    return errors


def _naive_conv(x, W, b, stride, pad):
    n, _, h, w = x.shape
    f, _, kh, kw = W.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = output_size(h, kh, stride, pad), output_size(w, kw, stride, pad)
    out = np.zeros((n, f, oh, ow))
    for p in range(oh):
        for q in range(ow):
            patch = xp[:, :, p * stride : p * stride + kh, q * stride : q * stride + kw]
            out[:, :, p, q] = np.tensordot(patch, W, axes=([1, 2, 3], [1, 2, 3])) + b
    return out


# --- im2col / col2im ---------------------------------------------------------------------


def test_output_size_formula():
    assert output_size(28, 5) == 24
    assert output_size(28, 3, stride=1, pad=1) == 28
    assert output_size(7, 3, stride=2, pad=1) == 4
    assert output_size(14, 3, stride=1, pad=2) == 16


def test_im2col_windows_match_slices():
    x = np.arange(2 * 3 * 5 * 6, dtype=np.float64).reshape(2, 3, 5, 6)
    win = im2col(x, 3, 2, stride=2, pad=1)
    assert win.shape == (2, 3, 3, 4, 3, 2)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    np.testing.assert_array_equal(win[1, 2, 1, 3], xp[1, 2, 2:5, 6:8])
    np.testing.assert_array_equal(win[0, 0, 0, 0], [[0, 0], [0, 0], [0, 6]])


@pytest.mark.parametrize("stride,pad", [(1, 0), (2, 1), (3, 2), (1, 2)])
def test_col2im_is_the_adjoint_of_im2col(stride, pad):
    # <im2col(x), c> == <x, col2im(c)> for all x, c: the defining property of the backward.
    rng = np.random.default_rng(stride * 10 + pad)
    x = rng.standard_normal((2, 3, 7, 6))
    win = im2col(x, 3, 2, stride, pad)
    c = rng.standard_normal(win.shape)
    back = col2im(c, x.shape, stride, pad)
    assert back.shape == x.shape
    np.testing.assert_allclose(np.sum(win * c), np.sum(x * back), rtol=1e-12)


# --- Convolution2D -----------------------------------------------------------------------


def test_convolution_hand_computed():
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    W = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])  # x[i, j] - x[i+1, j+1]
    conv = Convolution2D(W, np.array([0.5]), stride=2)
    out = conv.forward(x)
    np.testing.assert_array_equal(out, np.full((1, 1, 2, 2), -5 + 0.5))


@pytest.mark.parametrize("stride,pad,kernel", [(1, 0, 3), (2, 1, 3), (1, 2, (3, 2)), (3, 1, 2)])
def test_convolution_matches_naive_loops(stride, pad, kernel):
    rng = np.random.default_rng(1)
    W = initialize("he", (4, 3, *kernel_pair(kernel)), rng=rng, dtype=np.float64)
    conv = Convolution2D(W, stride=stride, pad=pad)
    conv.params["b"][...] = rng.standard_normal(4)
    x = rng.standard_normal((2, 3, 7, 8))
    np.testing.assert_allclose(
        conv.forward(x), _naive_conv(x, conv.W, conv.b, stride, pad), rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize("stride,pad,kernel", [(1, 0, 3), (2, 1, 3), (1, 2, (2, 3)), (2, 0, 1)])
def test_convolution_gradients(stride, pad, kernel):
    rng = np.random.default_rng(2)
    W = initialize("he", (3, 2, *kernel_pair(kernel)), rng=rng, dtype=np.float64)
    conv = Convolution2D(W, stride=stride, pad=pad)
    conv.params["b"][...] = rng.standard_normal(3)
    errors = _check_layer_gradients(conv, rng.standard_normal((2, 2, 6, 5)))
    assert max(errors.values()) < 1e-6, errors


def test_convolution_without_dx_still_fills_weight_gradients():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 1, 5, 5))
    a = Convolution2D(initialize("he", (2, 1, 3, 3), rng=4, dtype=np.float64))
    b = Convolution2D(a.W.copy(), a.b.copy())
    b.need_dx = False
    dout = rng.standard_normal((2, 2, 3, 3))
    a.forward(x, train=True)
    b.forward(x, train=True)
    assert a.backward(dout).shape == x.shape
    assert b.backward(dout) is None
    np.testing.assert_array_equal(a.grads["W"], b.grads["W"])
    np.testing.assert_array_equal(a.grads["b"], b.grads["b"])


def test_convolution_keeps_float32_and_does_not_write_into_dout():
    conv = Convolution2D(initialize("he", (3, 2, 3, 3), rng=0), pad=1)
    x = np.random.default_rng(0).random((2, 2, 5, 5), dtype=np.float32)
    out = conv.forward(x, train=True)
    assert conv.W.dtype == out.dtype == np.float32
    dout = np.ones(out.shape, dtype=np.float32)
    dx = conv.backward(dout)
    assert dx.dtype == conv.grads["W"].dtype == np.float32
    np.testing.assert_array_equal(dout, 1.0)


def test_convolution_of_fortran_ordered_weights_fills_the_weight_gradient():
    rng = np.random.default_rng(3)
    W, x = rng.standard_normal((2, 3, 2, 2)), rng.standard_normal((2, 3, 4, 4))
    grads = []
    for weights in (W, np.asfortranarray(W), W.transpose(1, 0, 2, 3).copy().transpose(1, 0, 2, 3)):
        layer = Convolution2D(weights, np.zeros(2))
        layer.backward(np.ones_like(layer.forward(x)))
        grads.append(layer.grads["W"].copy())
    assert np.abs(grads[0]).sum() > 1
    for g in grads[1:]:
        np.testing.assert_allclose(g, grads[0], rtol=1e-13)


def test_convolution_refuses_complex_input_and_kernel_sizes_that_are_not_ints():
    layer = Convolution2D(initialize("he", (2, 1, 2, 2), rng=0, dtype=np.float64))
    with pytest.raises(TypeError, match="numeric array of real numbers, got dtype complex128"):
        sn.Sequential([layer]).forward(np.ones((1, 1, 3, 3)) + 1j)
    for bad in (2.0, True):
        with pytest.raises(ValueError, match="weight shape must hold positive integers"):
            initialize("he", (2, 1, bad, bad))
    with pytest.raises(ValueError, match="pool must be a positive int or a pair"):
        MaxPooling2D([2, "2"])
    pool = MaxPooling2D(2)
    pooled = pool.forward(np.arange(16.0).reshape(1, 1, 4, 4))
    dx = pool.backward(np.ones(pooled.shape))
    assert dx.dtype == np.float64 and dx.sum() == 4
    avg = AveragePooling2D(2)
    avg.forward(np.ones((1, 1, 4, 4)))
    assert avg.backward(np.ones((1, 1, 2, 2))).sum() == 4


def test_convolution_he_initialisation_uses_fan_in():
    conv = Convolution2D(initialize("he", (64, 16, 3, 3), rng=0))
    assert conv.W.shape == (64, 16, 3, 3)
    assert conv.W.std() == pytest.approx(np.sqrt(2 / (16 * 9)), rel=0.05)
    np.testing.assert_array_equal(conv.b, 0)


def test_convolution_wrong_channels_message():
    net = sn.Sequential([Convolution2D(initialize("he", (4, 3, 3, 3), rng=0))])
    with pytest.raises(ValueError, match=r"layer 0 \(Convolution2D\): input has 1 channels .* "
                                         r"W expects 3"):
        net.forward(np.zeros((2, 1, 8, 8), dtype=np.float32))


def test_convolution_kernel_larger_than_padded_input_message():
    net = sn.Sequential([Convolution2D(initialize("he", (2, 1, 5, 5), rng=0), pad=1)])
    with pytest.raises(ValueError, match=r"5x5 window is larger than the padded input 4x5"):
        net.forward(np.zeros((1, 1, 2, 3)))


def test_convolution_rejects_flat_input_and_bad_arguments():
    net = sn.Sequential([Convolution2D(initialize("he", (2, 1, 3, 3), rng=0))])
    with pytest.raises(ValueError, match=r"\(N, C, H, W\), got shape \(4, 784\)"):
        net.forward(np.zeros((4, 784)))
    with pytest.raises(ValueError, match="weight shape must hold positive integers"):
        initialize("he", (0, 1, 3, 3))
    with pytest.raises(ValueError, match="stride must be a positive int"):
        Convolution2D(initialize("he", (2, 1, 3, 3)), stride=0)
    with pytest.raises(ValueError, match="weight shape"):
        initialize("he", (2, 1, 3, 0))
    with pytest.raises(ValueError, match="4-D"):
        Convolution2D(np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"b must have shape \(2,\)"):
        Convolution2D(np.zeros((2, 1, 3, 3)), np.zeros(3))


def test_config_rebuilds_the_layer_through_json():
    layers = [
        Convolution2D(initialize("he", (8, 3, 3, 5), rng=0), stride=2, pad=1),
        MaxPooling2D(pool=3, stride=2, pad=1),
        AveragePooling2D(pool=(2, 4), stride=2),
        Flatten(),
    ]
    for layer in layers:
        config = json.loads(json.dumps(layer.config()))
        rebuilt = type(layer).from_config(config, layer.params)
        assert rebuilt.config() == layer.config()
    rebuilt = Convolution2D.from_config(layers[0].config(), layers[0].params)
    assert rebuilt.W.shape == (8, 3, 3, 5)


# --- pooling -------------------------------------------------------------------------------


def test_max_pooling_hand_computed_and_gradient_routing():
    x = np.array([[1.0, 2, 5, 0], [3, 4, 1, 1], [0, 9, 2, 8], [7, 1, 6, 3]]).reshape(1, 1, 4, 4)
    pool = MaxPooling2D(2)
    np.testing.assert_array_equal(pool.forward(x), [[[[4, 5], [9, 8]]]])
    dx = pool.backward(np.array([[[[10.0, 20], [30, 40]]]]))
    expected = np.zeros((4, 4))
    expected[1, 1], expected[0, 2], expected[2, 1], expected[2, 3] = 10, 20, 30, 40
    np.testing.assert_array_equal(dx[0, 0], expected)


def test_max_pooling_sends_a_tied_windows_gradient_to_its_first_maximal_cell_only():
    # After a ReLU, whole windows are 0: the book's argmax (and PyTorch's) picks the first.
    x = np.array([[0.0, 0.0, 3, 1], [0, 0, 3, 3], [2, 5, 0, 0], [5, 5, 0, 0]]).reshape(1, 1, 4, 4)
    pool = MaxPooling2D(2)
    np.testing.assert_array_equal(pool.forward(x), [[[[0, 3], [5, 0]]]])
    dx = pool.backward(np.array([[[[1.0, 2], [3, 4]]]]))[0, 0]
    expected = np.zeros((4, 4))
    expected[0, 0], expected[0, 2], expected[2, 1], expected[2, 2] = 1, 2, 3, 4
    np.testing.assert_array_equal(dx, expected)
    # Inference then backward works on a hand-called layer, as the book's does.
    pool.forward(x[:, :, ::-1].copy())  # rows upside down: every window's first cell wins
    dx = pool.backward(np.ones((1, 1, 2, 2)))[0, 0]
    np.testing.assert_array_equal(np.argwhere(dx), [[0, 0], [0, 2], [2, 0], [2, 2]])


def test_max_pooling_of_a_window_larger_than_int16_indexes():
    x = np.zeros((1, 1, 182, 182))  # 33,124 cells: past int16's 32,767
    x[0, 0, 181, 180] = 1.0
    pool = MaxPooling2D(pool=182)
    assert pool.forward(x).item() == 1.0
    dx = pool.backward(np.full((1, 1, 1, 1), 5.0))
    assert dx[0, 0, 181, 180] == 5.0 and dx.sum() == 5.0


def test_max_pooling_padding_never_wins():
    x = -1 - np.random.default_rng(0).random((1, 2, 4, 4))
    out = MaxPooling2D(pool=3, stride=1, pad=1).forward(x)
    assert out.shape == (1, 2, 4, 4)
    assert np.all(out < -1)
    assert out[0, 0, 0, 0] == x[0, 0, :2, :2].max()


def test_average_pooling_hand_computed():
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    pool = AveragePooling2D(2)
    np.testing.assert_array_equal(pool.forward(x), [[[[2.5, 4.5], [10.5, 12.5]]]])
    dx = pool.backward(np.array([[[[4.0, 8], [12, 16]]]]))
    np.testing.assert_array_equal(dx[0, 0, :2, :2], 1.0)
    np.testing.assert_array_equal(dx[0, 0, 2:, 2:], 4.0)


@pytest.mark.parametrize("cls", [MaxPooling2D, AveragePooling2D])
@pytest.mark.parametrize("pool,stride,pad", [(2, None, 0), (3, 2, 1), (2, 1, 0), ((2, 3), 2, 1)])
def test_pooling_gradients(cls, pool, stride, pad):
    layer = cls(pool=pool, stride=stride, pad=pad)
    x = np.random.default_rng(5).standard_normal((2, 3, 6, 7))
    errors = _check_layer_gradients(layer, x)
    assert errors["x"] < 1e-6, errors


@pytest.mark.parametrize("cls", [MaxPooling2D, AveragePooling2D])
def test_pooling_keeps_float32_and_checks_shapes(cls):
    layer = cls(2)
    x = np.random.default_rng(0).random((2, 3, 5, 5), dtype=np.float32)
    out = layer.forward(x)
    assert out.shape == (2, 3, 2, 2) and out.dtype == np.float32
    assert layer.backward(np.ones_like(out)).dtype == np.float32
    with pytest.raises(ValueError, match=r"2x2 window is larger than the padded input 1x1"):
        sn.Sequential([layer]).forward(np.zeros((2, 3, 1, 1)))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        sn.Sequential([layer]).forward(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="pad must be at most half"):
        cls(pool=2, pad=2)
    with pytest.raises(ValueError, match="stride for the non-square pool"):
        cls(pool=(2, 3))


# --- Flatten and whole networks -------------------------------------------------------------


def test_flatten_round_trip():
    x = np.arange(24.0).reshape(2, 3, 2, 2)
    flat = Flatten()
    out = flat.forward(x)
    np.testing.assert_array_equal(out, x.reshape(2, 12))
    np.testing.assert_array_equal(flat.backward(out * 2), x * 2)
    with pytest.raises(ValueError, match=r"batch of shape \(N, features\), got shape \(3,\)"):
        sn.Sequential([flat, sn.Affine(np.ones((1, 2)))]).forward(np.zeros(3))


@pytest.mark.parametrize("pool_cls", [MaxPooling2D, AveragePooling2D])
def test_conv_network_passes_gradient_check(pool_cls):
    # Tanh rather than ReLU: no kink for the central differences to straddle.
    rng = np.random.default_rng(6)
    net = Sequential([
        Convolution2D(initialize("he", (3, 2, 3, 3), rng=rng, dtype=np.float64), pad=1),
        Tanh(),
        pool_cls(2),
        Convolution2D(initialize("he", (4, 3, 2, 2), rng=rng, dtype=np.float64), stride=1),
        Tanh(),
        Flatten(),
        Affine(initialize("he", (4 * 2 * 2, 3), rng=rng, dtype=np.float64)),
    ], weight_decay=0.05)
    x = rng.standard_normal((3, 2, 6, 6))
    errors = gradient_check(net, x, np.array([0, 2, 1]))
    assert set(errors) == {"W1", "b1", "W2", "b2", "W3", "b3"}
    assert max(errors.values()) < 1e-6, errors
