"""Optimizers: convergence on a convex quadratic and on XOR, validation, state handling."""

import math

import numpy as np
import pytest

import scratchnn as sn

SETTINGS = {
    "SGD": dict(lr=0.1),
    "Momentum": dict(lr=0.05, momentum=0.9),
    "Nesterov": dict(lr=0.05, momentum=0.9),
    "AdaGrad": dict(lr=0.5),
    "RMSprop": dict(lr=0.05),
    "Adam": dict(lr=0.1),
}


@pytest.mark.parametrize("name", list(SETTINGS))
def test_optimizer_reaches_the_minimum_of_a_convex_quadratic(name):
    # f(x, y) = x^2 / 20 + y^2 (the book's ill-conditioned bowl, shifted): minimum at (1, -2).
    params = {"W": np.array([-7.0, 2.0])}
    target = np.array([1.0, -2.0])
    scale = np.array([1 / 20, 1.0])
    opt = getattr(sn, name)(**SETTINGS[name])
    for _ in range(3000):
        opt.update(params, {"W": 2 * scale * (params["W"] - target)})
    np.testing.assert_allclose(params["W"], target, atol=1e-3)


@pytest.mark.parametrize("name", list(SETTINGS))
def test_optimizer_trains_an_mlp_to_solve_xor(name):
    x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    t = np.array([0, 1, 1, 0])
    net = sn.MLP([2, 8, 2], activation="tanh", init="xavier", seed=0)
    lr = {"SGD": 0.5, "Momentum": 0.1, "Nesterov": 0.1, "AdaGrad": 0.3}.get(name, 0.05)
    opt = getattr(sn, name)(**{**SETTINGS[name], "lr": lr})
    for _ in range(1000):
        net.backprop(x, t)
        opt.update(net.params, net.grads)
    assert net.accuracy(x, t) == 1.0
    assert net.loss(x, t) < 0.05


def test_xor_toy_generator_is_learnable():
    from scratchnn.data import make_xor

    x, t = make_xor(200, seed=0)
    net = sn.MLP([2, 16, 2], activation="relu", seed=1)
    opt = sn.Adam(lr=0.02)
    for _ in range(500):
        net.backprop(x, t)
        opt.update(net.params, net.grads)
    assert net.accuracy(x, t) > 0.95


def test_sgd_step_is_exact():
    p = {"W": np.array([1.0, 2.0]), "b": np.array([0.5])}
    sn.SGD(lr=0.1).update(p, {"W": np.array([1.0, -1.0]), "b": np.array([2.0])})
    np.testing.assert_allclose(p["W"], [0.9, 2.1])
    np.testing.assert_allclose(p["b"], [0.3])


def test_weight_decay_applies_to_weights_not_biases():
    # The one weight decay is the network's (the book's): lambda * W joins W's gradient.
    net = sn.Sequential([sn.Affine(np.array([[1.0]]), np.array([1.0]))], sn.IdentityMSE(),
                        weight_decay=0.5)
    net.backprop(np.zeros((1, 1)), np.ones((1, 1)))  # the loss itself has no gradient here
    sn.SGD(lr=0.1).update(net.params, net.grads)
    np.testing.assert_allclose(net.params["W1"], [[0.95]])
    np.testing.assert_allclose(net.params["b1"], [1.0])


def test_adam_first_step_is_lr_times_sign():
    p = {"W": np.array([1.0, 1.0])}
    sn.Adam(lr=0.01).update(p, {"W": np.array([3.0, -0.2])})
    np.testing.assert_allclose(p["W"], [0.99, 1.01], atol=1e-7)


def test_optimizers_keep_float32():
    for name, kwargs in SETTINGS.items():
        p = {"W": np.ones(3, dtype=np.float32)}
        opt = getattr(sn, name)(**kwargs)
        for _ in range(2):
            opt.update(p, {"W": np.full(3, 0.5, dtype=np.float32)})
        assert p["W"].dtype == np.float32, name
        # and so does their state (velocities, moment estimates)
        assert {s.dtype for s in opt.state.get("W", {}).values()} <= {np.dtype(np.float32)}
        assert (name == "SGD") == (not opt.state), name


def _two_steps(optimizer):
    """p after two updates from p = (1, -2) with the gradient (0.5, -1) both times."""
    p = {"W": np.array([1.0, -2.0])}
    for _ in range(2):
        optimizer.update(p, {"W": np.array([0.5, -1.0])})
    return p["W"]


def test_momentum_nesterov_adagrad_rmsprop_steps_by_hand():
    p0, g = np.array([1.0, -2.0]), np.array([0.5, -1.0])
    # Momentum: v1 = -lr g, p1 = p0 + v1; v2 = 0.9 v1 - lr g, p2 = p1 + v2.
    v1 = -0.1 * g
    v2 = 0.9 * v1 - 0.1 * g
    expected = p0 + v1 + v2
    np.testing.assert_allclose(expected, [0.855, -1.71], rtol=1e-15)
    np.testing.assert_allclose(_two_steps(sn.Momentum(lr=0.1, momentum=0.9)), expected,
                               rtol=1e-15)
    # Nesterov: p <- p + 0.9 v_new - lr g after each velocity update.
    expected = p0 + (0.9 * v1 - 0.1 * g) + (0.9 * v2 - 0.1 * g)
    np.testing.assert_allclose(expected, [0.7695, -1.539], rtol=1e-15)
    np.testing.assert_allclose(_two_steps(sn.Nesterov(lr=0.1, momentum=0.9)), expected,
                               rtol=1e-15)
    # AdaGrad: h accumulates g^2 (g^2, then 2 g^2).
    expected = p0 - 0.1 * g / (np.abs(g) + 1e-7) - 0.1 * g / (math.sqrt(2) * np.abs(g) + 1e-7)
    np.testing.assert_allclose(_two_steps(sn.AdaGrad(lr=0.1, eps=1e-7)), expected, rtol=1e-15)
    # RMSprop: h1 = 0.01 g^2, h2 = 0.99 h1 + 0.01 g^2 = 0.0199 g^2.
    expected = (p0 - 0.1 * g / (math.sqrt(0.01) * np.abs(g) + 1e-7)
                - 0.1 * g / (math.sqrt(0.0199) * np.abs(g) + 1e-7))
    np.testing.assert_allclose(_two_steps(sn.RMSprop(lr=0.1, decay_rate=0.99, eps=1e-7)),
                               expected, rtol=1e-14)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: sn.SGD(lr=-0.1), "learning rate lr must be a finite number >= 0, got -0.1"),
        (lambda: sn.Adam(lr=float("nan")), "learning rate"),
        (lambda: sn.Momentum(momentum=1.0), "momentum"),
        (lambda: sn.Adam(beta1=1.5), "beta1"),
        (lambda: sn.RMSprop(decay_rate=-0.1), "decay_rate"),
        (lambda: sn.AdaGrad(eps=0), "eps"),
        (lambda: sn.MLP([2, 2], weight_decay=-1), "weight_decay"),
        (lambda: sn.optim.make_optimizer("lbfgs"), "unknown optimizer"),
    ],
)
def test_bad_hyperparameters_are_rejected(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_hyperparameters_must_be_numbers():
    for value in ("0.1", True, None):
        with pytest.raises(TypeError, match="learning rate lr must be a number"):
            sn.SGD(lr=value)
    with pytest.raises(TypeError, match="optimizer's name must be a str"):
        sn.optim.make_optimizer(3)
    assert repr(sn.Adam()) == "Adam(lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08)"


def test_update_checks_types():
    opt = sn.SGD(lr=0.1)
    with pytest.raises(TypeError, match="W: the gradient must be an array of real numbers, got "
                                        "list"):
        opt.update({"W": np.ones(2)}, {"W": [1.0, 2.0]})
    with pytest.raises(TypeError, match="W: parameters are updated in place and must be "
                                        "floating-point arrays, got ndarray of dtype int64"):
        opt.update({"W": np.ones(2, dtype=np.int64)}, {"W": np.ones(2)})
    with pytest.raises(TypeError, match="got ndarray of dtype <U1"):
        opt.update({"W": np.ones(2)}, {"W": np.array(["a", "b"])})
    # A shape mismatch in the second parameter leaves the first one as it was, too.
    p = {"W1": np.ones(2), "W2": np.ones(3)}
    with pytest.raises(ValueError, match=r"W2: gradient shape \(4,\) does not match"):
        opt.update(p, {"W1": np.ones(2), "W2": np.ones(4)})
    np.testing.assert_array_equal(p["W1"], [1.0, 1.0])
    assert opt.steps == 0  # nothing was half-done
    # NumPy scalars, 0-d arrays and Decimals are numbers
    from decimal import Decimal

    for lr in (np.float32(0.1), np.array(0.1), Decimal("0.1")):
        assert sn.SGD(lr=lr).lr == pytest.approx(0.1)


def test_update_checks_names_and_shapes():
    opt = sn.SGD(lr=0.1)
    with pytest.raises(ValueError, match="different arrays"):
        opt.update({"W": np.ones(2)}, {"V": np.ones(2)})
    with pytest.raises(ValueError, match=r"W: gradient shape \(3,\) does not match .* \(2,\)"):
        opt.update({"W": np.ones(2)}, {"W": np.ones(3)})


def test_make_optimizer_by_name():
    opt = sn.optim.make_optimizer("Adam", lr=0.003)
    assert isinstance(opt, sn.Adam) and opt.lr == 0.003


def test_nesterov_is_the_books_code_since_its_2021_fix():
    """common/optimizer.py of the book, as fixed in 2021: p moves with the old v, then v."""
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(3) for _ in range(5)]
    lr, momentum = 0.1, 0.9
    p_book, v = np.ones(3), np.zeros(3)
    for g in grads:
        p_book += momentum * momentum * v
        p_book -= (1 + momentum) * lr * g
        v *= momentum
        v -= lr * g
    opt, p = sn.Nesterov(lr=lr, momentum=momentum), {"w": np.ones(3)}
    for g in grads:
        opt.update(p, {"w": g})
    np.testing.assert_allclose(p["w"], p_book, rtol=1e-14)
    assert "2021 fix" in sn.Nesterov.__doc__
