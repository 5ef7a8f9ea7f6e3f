"""Numerical differentiation and gradient descent: the book's published values."""

import numpy as np
import pytest

import scratchnn as sn
from scratchnn.init import initialize


def function_1(x):
    return 0.01 * x**2 + 0.1 * x


def function_2(x):
    return np.sum(x**2)


def test_numerical_diff_published_values():
    assert sn.gradient.numerical_diff(function_1, 5) == 0.1999999999990898
    assert sn.gradient.numerical_diff(function_1, 10) == 0.2999999999986347


def test_numerical_gradient_of_sum_of_squares():
    cases = [([3.0, 4.0], [6.0, 8.0]), ([0.0, 2.0], [0.0, 4.0]), ([3.0, 0.0], [6.0, 0.0])]
    for point, grad in cases:
        g = sn.gradient.numerical_gradient(function_2, np.array(point))
        np.testing.assert_allclose(g, grad, atol=1e-7)


def test_numerical_gradient_any_shape_and_restores_x():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4))
    before = x.copy()
    g = sn.gradient.numerical_gradient(lambda a: float(np.sum(np.sin(a))), x)
    np.testing.assert_allclose(g, np.cos(x), atol=1e-7)
    np.testing.assert_array_equal(x, before)


def test_numerical_gradient_of_fortran_ordered_and_empty_arrays():
    W = np.random.default_rng(1).standard_normal((3, 4))
    for x in (W.T, np.asfortranarray(W)):  # both Fortran-contiguous: perturbed in place
        before = x.copy()
        g = sn.gradient.numerical_gradient(lambda a: float(np.sum(a ** 3)), x)
        np.testing.assert_allclose(g, 3 * before ** 2, rtol=1e-7, atol=2e-8)  # h^2 = 1e-8
        np.testing.assert_array_equal(x, before)
    # f sees the perturbation through the array it closes over (the book's pattern).
    g = sn.gradient.numerical_gradient(lambda _: float(np.sum(W.T[0] * 2.0)), W.T)
    np.testing.assert_allclose(g, np.vstack([np.full(3, 2.0), np.zeros((3, 3))]), atol=1e-9)
    assert sn.gradient.numerical_gradient(lambda a: 0.0, np.zeros(0)).shape == (0,)
    with pytest.raises(ValueError, match=r"strided view of shape \(3, 3\)"):
        sn.gradient.numerical_gradient(lambda a: 0.0, W[:, :3])


def test_numerical_gradient_restores_x_when_f_raises():
    x = np.array([1.0, 2.0, 3.0])
    calls = []

    def f(a):
        calls.append(a.copy())
        if len(calls) == 4:
            raise RuntimeError("boom")
        return float(a.sum())

    with pytest.raises(RuntimeError, match="boom"):
        sn.gradient.numerical_gradient(f, x)
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])


def test_numerical_gradient_rejects_non_float_arrays():
    with pytest.raises(TypeError, match="floating-point"):
        sn.gradient.numerical_gradient(function_2, np.array([1, 2]))
    with pytest.raises(TypeError, match="floating-point"):
        sn.gradient.numerical_gradient(function_2, [1.0, 2.0])


def test_gradient_descent_book_lessons():
    init = np.array([-3.0, 4.0])
    x = sn.gradient.gradient_descent(function_2, init, lr=0.1, step_num=100)
    assert np.all(np.abs(x) < 1e-9)
    np.testing.assert_array_equal(init, [-3.0, 4.0])  # the start point is not modified
    too_big = sn.gradient.gradient_descent(function_2, init, lr=10.0, step_num=100)
    assert np.max(np.abs(too_big)) > 1e10
    too_small = sn.gradient.gradient_descent(function_2, init, lr=1e-10, step_num=100)
    np.testing.assert_allclose(too_small, init, atol=1e-7)
    assert not np.array_equal(too_small, init)


def test_gradient_descent_returns_path():
    x, path = sn.gradient.gradient_descent(function_2, np.array([-3.0, 4.0]), lr=0.1, step_num=20,
                                  return_path=True)
    assert path.shape == (21, 2)
    np.testing.assert_array_equal(path[0], [-3.0, 4.0])
    np.testing.assert_array_equal(path[-1], x)
    np.testing.assert_allclose(path[1], [-3.0 * 0.8, 4.0 * 0.8])


def test_gradient_descent_computes_in_float64_from_any_start_point():
    # In float32, 3000 + 1e-4 == 3000: the numerical gradient would be 0 and x stuck.
    x = sn.gradient.gradient_descent(function_2, np.array([3000.0, 4000.0], np.float32), lr=0.1,
                            step_num=100)
    assert x.dtype == np.float64
    np.testing.assert_allclose(x, np.array([3000.0, 4000.0]) * 0.8 ** 100, rtol=1e-6)


def test_gradient_descent_rejects_bad_arguments():
    for lr in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="learning rate must be a finite number >= 0"):
            sn.gradient.gradient_descent(function_2, np.array([1.0]), lr=lr)
    with pytest.raises(ValueError, match="step_num"):
        sn.gradient.gradient_descent(function_2, np.array([1.0]), step_num=2.5)


def test_gradient_check_finds_a_wrong_backward():
    rng = np.random.default_rng(0)
    net = sn.MLP([4, 5, 3], activation="tanh", dtype=np.float64, seed=0)
    x, t = rng.standard_normal((6, 4)), rng.integers(0, 3, 6)
    assert max(sn.gradient_check(net, x, t).values()) < 1e-7

    class BrokenTanh(sn.Tanh):
        def backward(self, dout):
            return dout * (1 - self.out)  # forgot the square

    broken = sn.Sequential([net.layers[0], BrokenTanh(), net.layers[2]])
    errors = sn.gradient_check(broken, x, t)
    assert errors["W1"] > 1e-2 and errors["W2"] < 1e-7


def test_gradient_check_of_a_gradient_that_is_zero_and_of_batchnorm_state():
    # A bias just before BatchNorm has no effect on the loss: its gradient is exactly 0,
    # which backprop gives as rounding noise (~1e-17). That is not an error of 100%.
    rng = np.random.default_rng(0)
    net = sn.Sequential([
        sn.Affine(initialize("he", (4, 6), rng=0, dtype=np.float64)),
        sn.BatchNormalization(6, dtype=np.float64), sn.Tanh(),
        sn.Affine(initialize("he", (6, 3), rng=1, dtype=np.float64)),
    ])
    x, t = rng.standard_normal((8, 4)), rng.integers(0, 3, 8)
    bn = net.layers[1]
    bn.running_mean[:] = 0.25
    before = bn.running_mean.copy(), bn.running_var.copy()
    errors = sn.gradient_check(net, x, t)
    assert max(errors.values()) < 1e-7, errors
    # Its hundreds of training-mode passes left the running statistics as they were.
    np.testing.assert_array_equal(bn.running_mean, before[0])
    np.testing.assert_array_equal(bn.running_var, before[1])

    # A real error in a gradient that should be zero is still found.
    class LeakyBias(sn.Affine):
        def backward(self, dout):
            dx = super().backward(dout)
            self.grads["b"] += 1e-3
            return dx

    leaky = sn.Sequential([LeakyBias(initialize("he", (4, 6), rng=0, dtype=np.float64)),
                           *net.layers[1:]])
    assert sn.gradient_check(leaky, x, t)["b1"] > 0.5


def test_gradient_check_of_a_float32_model_warns():
    net = sn.MLP([3, 4, 2], seed=0)
    x, t = np.random.default_rng(0).standard_normal((4, 3)), np.array([0, 1, 1, 0])
    with pytest.warns(UserWarning, match="not float64.*dtype=np.float64"):
        errors = sn.gradient_check(net, x, t)
    assert set(errors) == {"W1", "b1", "W2", "b2"}


def test_gradient_check_refuses_dropout_that_draws_fresh_masks():
    from scratchnn.layers import Affine, Tanh
    from scratchnn.network import Sequential
    from scratchnn.regularization import Dropout

    rng = np.random.default_rng(0)
    drop = Dropout(0.5, seed=0)
    net = Sequential([Affine(rng.standard_normal((4, 5))), Tanh(), drop,
                      Affine(rng.standard_normal((5, 3)))])
    x, t = rng.standard_normal((6, 4)), np.arange(6) % 3
    with pytest.raises(ValueError, match=r"layers \[2\] \(Dropout\) draw a new mask on every "
                                         "pass"):
        sn.gradient_check(net, x, t)
    net.backprop(x, t)
    drop.freeze()
    assert max(sn.gradient_check(net, x, t).values()) < 1e-7
