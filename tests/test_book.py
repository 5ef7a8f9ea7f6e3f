"""The book's API: its imports, chapter 3's toy network and the values the book prints.

The study notes' own code has bugs that must not exist here: a softmax that normalises over
the whole batch, a misspelled ``le-7`` epsilon, ``bathch_size``, ``np.int``. The batch
softmax and cross-entropy tests below are what would catch them.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from scratchnn.book import (
    TwoLayerNet,
    cross_entropy_error,
    forward,
    gradient_descent,
    identity_function,
    init_network,
    load_mnist,
    mean_squared_error,
    numerical_diff,
    numerical_gradient,
    sigmoid,
    softmax,
)

Y_BOOK = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
T_BOOK = np.eye(10)[2]


def test_toy_network_output():
    y = forward(init_network(), np.array([1.0, 0.5]))
    assert y.shape == (2,)
    np.testing.assert_allclose(y, [0.31682708, 0.69627909], atol=5e-9)


def test_toy_network_on_a_batch_gives_each_row():
    x = np.array([[1.0, 0.5], [0.0, 0.0], [-1.0, 2.0]])
    y = forward(init_network(), x)
    assert y.shape == (3, 2)
    for row, out in zip(x, y, strict=True):
        np.testing.assert_allclose(out, forward(init_network(), row), rtol=1e-15)


def test_toy_network_matches_the_books_arithmetic():
    net = init_network()
    x = np.array([1.0, 0.5])
    z1 = 1 / (1 + np.exp(-(x @ net["W1"] + net["b1"])))
    z2 = 1 / (1 + np.exp(-(z1 @ net["W2"] + net["b2"])))
    np.testing.assert_allclose(forward(net, x), z2 @ net["W3"] + net["b3"], rtol=1e-15)
    np.testing.assert_array_equal(identity_function(x), x)


def test_published_softmax_and_sigmoid_values():
    np.testing.assert_allclose(softmax(np.array([0.3, 2.9, 4.0])),
                               [0.01821127, 0.24519181, 0.73659691], atol=5e-9)
    np.testing.assert_allclose(softmax(np.array([1010.0, 1000.0, 990.0])),
                               [9.99954600e-01, 4.53978686e-05, 2.06106005e-09], rtol=5e-8)
    np.testing.assert_allclose(sigmoid(np.array([-1.0, 1.0, 2.0])),
                               [0.26894142, 0.73105858, 0.88079708], atol=5e-9)


def test_softmax_of_a_batch_is_row_by_row():
    a = np.array([0.3, 2.9, 4.0])
    batch = np.stack([a, a - 5.0, a + 1000.0, 2 * a])
    y = softmax(batch)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-15)
    for row, out in zip(batch, y, strict=True):
        np.testing.assert_allclose(out, softmax(row), rtol=1e-14)
    # a softmax normalised over the whole batch (the notes' bug) would give rows summing to 1/4
    np.testing.assert_allclose(y[0], y[1], rtol=1e-14)


def test_published_loss_values():
    assert mean_squared_error(Y_BOOK, T_BOOK) == pytest.approx(0.09750000000000003, abs=1e-15)
    assert cross_entropy_error(Y_BOOK, T_BOOK) == pytest.approx(0.510825457099338, abs=1e-15)
    y_wrong = np.array([0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0])
    assert mean_squared_error(y_wrong, T_BOOK) == pytest.approx(0.5975, abs=1e-15)
    assert cross_entropy_error(y_wrong, T_BOOK) == pytest.approx(2.302584092994546, abs=1e-15)


def test_cross_entropy_epsilon_is_1e_minus_7():
    # the target's probability is 0: the loss is -log(0 + 1e-7), finite
    assert cross_entropy_error(np.eye(10)[3], T_BOOK) == pytest.approx(-math.log(1e-7), rel=1e-12)


def test_cross_entropy_of_a_batch_averages_and_takes_labels():
    y_wrong = np.array([0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0])
    batch = np.stack([Y_BOOK, y_wrong])
    expected = (0.510825457099338 + 2.302584092994546) / 2
    assert cross_entropy_error(batch, np.stack([T_BOOK, T_BOOK])) == pytest.approx(expected)
    assert cross_entropy_error(batch, np.array([2, 2])) == pytest.approx(expected)
    assert cross_entropy_error(Y_BOOK, 2) == pytest.approx(0.510825457099338, abs=1e-15)


def test_published_numerical_differentiation_values():
    def function_1(x):
        return 0.01 * x**2 + 0.1 * x

    def function_2(x):
        return np.sum(x**2)

    assert numerical_diff(function_1, 5) == pytest.approx(0.1999999999990898, abs=1e-15)
    assert numerical_diff(function_1, 10) == pytest.approx(0.2999999999986347, abs=1e-15)
    np.testing.assert_allclose(numerical_gradient(function_2, np.array([3.0, 4.0])),
                               [6.00000000000378, 7.999999999999119], rtol=1e-14)
    start = np.array([-3.0, 4.0])
    x = gradient_descent(function_2, start, lr=0.1, step_num=100)
    assert np.all(np.abs(x) < 1e-9)
    np.testing.assert_allclose(x, [-6.11110793e-10, 8.14814391e-10], rtol=5e-8)
    np.testing.assert_allclose(gradient_descent(function_2, start, lr=10.0, step_num=100),
                               [-2.58983747e13, -1.29524862e12], rtol=5e-8)
    np.testing.assert_allclose(gradient_descent(function_2, start, lr=1e-10, step_num=100),
                               [-2.99999994, 3.99999992], atol=5e-9)
    np.testing.assert_array_equal(start, [-3.0, 4.0])  # the start point is not modified


def test_forward_rejects_images():
    with pytest.raises(ValueError, match="one input"):
        forward(init_network(), np.zeros((1, 2, 2)))


def test_forward_names_the_width_the_network_takes():
    # checked at the book's function: the layers it calls do the arithmetic only
    with pytest.raises(ValueError, match=r"one input \(2,\) or a batch \(N, 2\), got \(4, 3\)"):
        forward(init_network(), np.zeros((4, 3)))


def test_book_module_is_the_companion():
    import scratchnn.book
    from scratchnn.companions import book

    assert scratchnn.book.__all__ == book.__all__
    assert all(getattr(scratchnn.book, name) is getattr(book, name) for name in book.__all__)


def test_book_imports_work_like_the_books(shared_data):
    (x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, flatten=True,
                                                      one_hot_label=True, data_dir=shared_data)
    assert x_train.shape == (60000, 784) and t_train.shape == (60000, 10)
    assert x_test.shape == (10000, 784) and t_test.shape == (10000, 10)
    network = TwoLayerNet(input_size=784, hidden_size=50, output_size=10, seed=0)
    batch_mask = np.random.default_rng(0).choice(60000, 100)
    x_batch, t_batch = x_train[batch_mask], t_train[batch_mask]
    before = network.loss(x_batch, t_batch)
    grad = network.gradient(x_batch, t_batch)
    for key in ("W1", "b1", "W2", "b2"):
        network.params[key] -= 0.1 * grad[key]
    assert network.loss(x_batch, t_batch) < before  # the book's step goes downhill
    # accuracy takes the book's one-hot labels: the share of argmax agreements
    scores = network.predict(x_test[:1000])
    expected = np.mean(scores.argmax(axis=1) == t_test[:1000].argmax(axis=1))
    assert network.accuracy(x_test[:1000], t_test[:1000]) == expected
    assert network.params["W1"].dtype == np.float64  # the book computes in float64
