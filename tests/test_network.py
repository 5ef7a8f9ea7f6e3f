"""Networks: gradient checks of every depth/activation/output, naming, dtypes, book API."""

import numpy as np
import pytest

import scratchnn as sn
from scratchnn.init import initialize

ACTIVATIONS = ["relu", "leaky_relu", "sigmoid", "tanh"]
OUTPUTS = ["softmax", "sigmoid", "identity"]


def _targets(output, rng, n, k):
    if output == "softmax":
        return rng.integers(0, k, n)
    if output == "sigmoid":
        return rng.integers(0, 2, (n, k)).astype(float)
    return rng.standard_normal((n, k))


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_mlp_passes_gradient_check_in_float64(activation, output, depth):
    rng = np.random.default_rng(depth)
    sizes = [5] + [7] * (depth - 1) + [3]
    net = sn.MLP(sizes, activation=activation, output=output, dtype=np.float64, seed=depth)
    # Random biases keep pre-activations away from ReLU's kink at exactly 0.
    for name, p in net.params.items():
        if name.startswith("b"):
            p[:] = rng.uniform(0.1, 0.3, p.shape) * rng.choice([-1, 1], p.shape)
    x = rng.standard_normal((4, 5))
    errors = sn.gradient_check(net, x, _targets(output, rng, 4, 3))
    assert set(errors) == {f"{p}{i}" for i in range(1, depth + 1) for p in "Wb"}
    assert max(errors.values()) < 1e-6, errors


def test_parameters_are_named_in_layer_order():
    net = sn.MLP([4, 8, 6, 2], seed=0)
    assert list(net.params) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert [p.shape for p in net.params.values()] == [(4, 8), (8,), (8, 6), (6,), (6, 2), (2,)]
    assert net.n_params() == 4 * 8 + 8 + 8 * 6 + 6 + 6 * 2 + 2
    # params are the layers' own arrays: an in-place update changes the network.
    net.params["b1"][:] = 1.0
    np.testing.assert_array_equal(net.layers[0].b, 1.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_array_keeps_the_model_dtype(dtype):
    rng = np.random.default_rng(0)
    net = sn.MLP([6, 5, 4, 3], activation="tanh", dtype=dtype, seed=0, weight_decay=0.01)
    x = rng.standard_normal((8, 6))  # float64 input is cast to the model's dtype
    net.backprop(x, rng.integers(0, 3, 8))
    for name, p in net.params.items():
        assert p.dtype == dtype, name
        assert net.grads[name].dtype == dtype, name
    assert net.predict(x).dtype == dtype
    assert net.predict_proba(x).dtype == dtype
    opt = sn.Adam(lr=0.01)
    opt.update(net.params, net.grads)
    assert all(p.dtype == dtype for p in net.params.values())


@pytest.mark.parametrize("init, std", [("he", lambda n: np.sqrt(2 / n)),
                                       ("xavier", lambda n: np.sqrt(1 / n)),
                                       ("normal", lambda n: 0.01)])
def test_initialisers_have_their_standard_deviation(init, std):
    net = sn.MLP([400, 300, 10], init=init, seed=0)
    assert net.params["W1"].std() == pytest.approx(std(400), rel=0.02)
    np.testing.assert_array_equal(net.params["b1"], 0)


def test_initialisers_refuse_empty_shapes_and_bad_deviations():
    with pytest.raises(ValueError, match=r"weight shape must hold positive integers, got \(0, 3\)"):
        sn.init.initialize("he", (0, 3))
    for std in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="std must be a finite number >= 0"):
            sn.init.initialize("normal", (2, 3), std=std)
    assert not sn.init.initialize("normal", (2, 3), std=0.0).any()


def test_seed_and_generator_make_identical_networks():
    a = sn.MLP([3, 4, 2], seed=7)
    b = sn.MLP([3, 4, 2], rng=np.random.default_rng(7))
    c = sn.MLP([3, 4, 2], seed=8)
    np.testing.assert_array_equal(a.params["W1"], b.params["W1"])
    assert not np.array_equal(a.params["W1"], c.params["W1"])


def test_gradient_returns_copies_and_matches_numerical():
    rng = np.random.default_rng(1)
    net = sn.TwoLayerNet(input_size=6, hidden_size=5, output_size=3, seed=0)
    x, t = rng.standard_normal((3, 6)), sn.functions.one_hot(rng.integers(0, 3, 3), 3)
    g1 = net.gradient(x, t)
    net.gradient(x * 2, t)
    assert not np.allclose(g1["W1"], net.grads["W1"])  # g1 was not overwritten
    numerical = net.numerical_gradient(x, t)
    for name in g1:
        np.testing.assert_allclose(g1[name], numerical[name], atol=1e-8)


def test_two_layer_net_has_the_book_interface():
    net = sn.TwoLayerNet(input_size=784, hidden_size=100, output_size=10)
    assert net.params["W1"].shape == (784, 100) and net.params["b2"].shape == (10,)
    assert net.params["W1"].dtype == np.float64
    assert net.params["W1"].std() == pytest.approx(0.01, rel=0.02)
    x = np.random.default_rng(0).random((100, 784))
    t = sn.functions.one_hot(np.arange(100) % 10, 10)
    assert net.predict(x).shape == (100, 10)
    # Untrained: all 10 classes about equally likely, so the loss is about log(10).
    assert net.loss(x, t) == pytest.approx(np.log(10), abs=0.05)
    assert 0.0 <= net.accuracy(x, t) <= 1.0


def test_predict_classes_and_accuracy():
    net = sn.Sequential([sn.Affine(np.eye(3), np.zeros(3))])
    x = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 2.0], [0.0, 3.0, 1.0], [5.0, 0.0, 0.0]])
    np.testing.assert_array_equal(net.predict_classes(x), [0, 2, 1, 0])
    assert net.accuracy(x, np.array([0, 2, 1, 1])) == 0.75
    assert net.accuracy(x, sn.functions.one_hot([0, 2, 1, 1], 3)) == 0.75
    np.testing.assert_allclose(net.predict_proba(x).sum(axis=1), 1.0)
    np.testing.assert_allclose(net.predict(x, batch_size=3), x)


def test_weight_decay_adds_to_loss_and_gradient():
    rng = np.random.default_rng(2)
    x, t = rng.standard_normal((4, 3)), rng.integers(0, 2, 4)
    plain = sn.MLP([3, 4, 2], activation="tanh", dtype=np.float64, seed=3)
    decayed = sn.MLP([3, 4, 2], activation="tanh", dtype=np.float64, seed=3, weight_decay=0.1)
    penalty = 0.05 * sum(np.sum(plain.params[w] ** 2) for w in ("W1", "W2"))
    assert decayed.loss(x, t) == pytest.approx(plain.loss(x, t) + penalty)
    g_plain, g_decay = plain.gradient(x, t), decayed.gradient(x, t)
    np.testing.assert_allclose(g_decay["W1"], g_plain["W1"] + 0.1 * plain.params["W1"])
    np.testing.assert_allclose(g_decay["b1"], g_plain["b1"])
    assert max(sn.gradient_check(decayed, x, t).values()) < 1e-6


def test_set_params_checks_names_and_shapes():
    net = sn.MLP([3, 2], seed=0)
    net.set_params({"W1": np.ones((3, 2)), "b1": np.zeros(2)})
    np.testing.assert_array_equal(net.params["W1"], 1)
    with pytest.raises(ValueError, match=r"missing \['b1'\]"):
        net.set_params({"W1": np.ones((3, 2))})
    with pytest.raises(ValueError, match=r"W1: expected shape \(3, 2\), got \(2, 3\)"):
        net.set_params({"W1": np.ones((2, 3)), "b1": np.zeros(2)})


def test_network_errors_are_clear():
    net = sn.MLP([4, 3, 2], seed=0)
    with pytest.raises(ValueError, match=r"3 features.*expects 4"):
        net.predict(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="empty batch"):
        net.loss(np.zeros((0, 4)), np.zeros(0, dtype=int))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 1\]"):
        net.loss(np.zeros((2, 4)), np.array([0, 2]))
    with pytest.raises(ValueError, match="target shape mismatch"):
        net.loss(np.zeros((2, 4)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="unknown activation 'relu6'"):
        sn.MLP([4, 2], activation="relu6")
    with pytest.raises(ValueError, match="unknown initialiser"):
        sn.MLP([4, 2], init="zeros")
    with pytest.raises(ValueError, match="at least 2"):
        sn.MLP([4])
    with pytest.raises(TypeError, match="float32 or float64, got int32"):
        sn.MLP([4, 2], dtype=np.int32)
    with pytest.raises(TypeError, match="float32 or float64, got float16"):
        sn.MLP([4, 2], dtype=np.float16)  # NumPy has no float16 sampler (dropout) or BLAS
    with pytest.raises(ValueError, match=r"sizes\[0\] must be a positive integer, got 4.7"):
        sn.MLP([4.7, 2])
    with pytest.raises(ValueError, match=r"sizes\[1\] must be a positive integer, got 0"):
        sn.MLP([4, 0, 2])
    with pytest.raises(ValueError, match="weight_decay must be a finite number >= 0, got nan"):
        sn.MLP([4, 2], weight_decay=float("nan"))
    with pytest.raises(ValueError, match=r"weight shape must hold positive integers, got \(-1, "):
        sn.Affine(initialize("he", (-1, 3)))
    with pytest.raises(ValueError, match=r"weight shape must hold positive integers, got \(2, 0\)"):
        sn.Affine(initialize("he", (2, 0)))
    with pytest.raises(ValueError, match=r"not empty, got shape \(0, 3\)"):
        sn.Affine(np.zeros((0, 3)))
    # accuracy takes class labels, as the loss does: not probabilities, not unknown classes
    with pytest.raises(TypeError, match="integer class labels"):
        net.accuracy(np.zeros((2, 4)), np.full(2, 0.5))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 1\], got values from 0 to 5"):
        net.accuracy(np.zeros((2, 4)), np.array([0, 5]))
    with pytest.raises(ValueError, match="x contains NaN"):  # not "class 0, correct"
        net.accuracy(np.array([[np.nan, 0, 0, 0]]), np.array([0]))
    broken = sn.MLP([4, 2], seed=0)
    broken.params["W1"][0, 0] = np.nan
    with pytest.raises(ValueError, match="scores contain NaN"):
        broken.accuracy(np.ones((1, 4)), np.array([0]))
    # complex or text values are not parameters, and the error says which one
    with pytest.raises(TypeError, match="W1: expected real numbers.*complex"):
        net.set_params({**net.params, "W1": net.params["W1"] + 1j})
    with pytest.raises(TypeError, match="b2: expected real numbers.*<U1"):
        net.set_params({**net.params, "b2": np.array(["a", "b"])})
    with pytest.raises(TypeError, match="hidden layers"):
        sn.Sequential([sn.SoftmaxCrossEntropy()])


def test_parameters_before_the_first_weighted_layer_are_numbered_zero():
    net = sn.Sequential([sn.BatchNormalization(3), sn.Affine(initialize("he", (3, 4), rng=0)),
                         sn.BatchNormalization(4), sn.ReLU(),
                         sn.Affine(initialize("he", (4, 2), rng=1))])
    assert list(net.params) == ["gamma0", "beta0", "W1", "b1", "gamma1", "beta1", "W2", "b2"]


def test_two_layers_claiming_the_same_parameter_name_is_an_error():
    with pytest.raises(ValueError, match="'gamma1'"):
        sn.Sequential([sn.Affine(initialize("he", (3, 4), rng=0)),
                       sn.BatchNormalization(4), sn.BatchNormalization(4)])
