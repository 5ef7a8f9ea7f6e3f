"""Activations and losses: published values, stability on extreme inputs, dtypes, bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import scratchnn as sn
from scratchnn import functions as F

Y_BOOK = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
T_BOOK = np.eye(10)[2]


def test_published_softmax_and_sigmoid():
    np.testing.assert_allclose(
        sn.softmax(np.array([0.3, 2.9, 4.0])), [0.01821127, 0.24519181, 0.73659691], atol=5e-9
    )
    np.testing.assert_allclose(
        sn.sigmoid(np.array([-1.0, 1.0, 2.0])), [0.26894142, 0.73105858, 0.88079708], atol=5e-9
    )


def test_published_losses_to_the_last_digit():
    assert F.mean_squared_error(Y_BOOK, T_BOOK) == 0.09750000000000003
    assert F.cross_entropy_error(Y_BOOK, T_BOOK) == 0.510825457099338
    # The same value from an integer label instead of one-hot.
    assert F.cross_entropy_error(Y_BOOK, 2) == pytest.approx(0.510825457099338, abs=1e-15)


def test_step_function():
    np.testing.assert_array_equal(F.step_function(np.array([-1.0, 0.0, 2.0])), [0, 0, 1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activations_are_stable_on_extreme_inputs(dtype):
    x = np.array([-1e4, -100.0, -1.0, 0.0, 1.0, 100.0, 1e4], dtype=dtype)
    s = sn.sigmoid(x)  # warnings are errors in this suite: no overflow allowed
    assert s.dtype == dtype
    assert s[0] == 0 and s[-1] == 1 and s[3] == 0.5
    np.testing.assert_allclose(s[2], 1 / (1 + np.exp(1.0)), rtol=1e-6)
    p = sn.softmax(np.array([[-1e4, 0.0, 1e4], [1e4, 1e4, -1e4]], dtype=dtype))
    assert p.dtype == dtype
    np.testing.assert_allclose(p, [[0, 0, 1], [0.5, 0.5, 0]], atol=1e-7)
    lp = F.log_softmax(np.array([[-1e4, 0.0, 1e4]], dtype=dtype))
    assert np.all(np.isfinite(lp)) and lp[0, 0] == pytest.approx(-2e4, rel=1e-6)
    for f in (F.tanh, F.relu, F.leaky_relu):
        assert f(x).dtype == dtype


def test_sigmoid_is_exact_inside_the_range():
    x = np.linspace(-30, 30, 121)
    np.testing.assert_allclose(sn.sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-14)
    # The book's first calls are on single numbers (and sigmoid_grad's on 0).
    assert sn.sigmoid(0) == 0.5 and sn.sigmoid(2.0) == pytest.approx(0.8807970779778823)
    assert F.sigmoid_grad(0) == 0.25 and sn.sigmoid(np.float32(-100)).dtype == np.float32


def test_softmax_batch_rows_sum_to_one_and_is_shift_invariant():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 7))
    p = sn.softmax(x)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_allclose(sn.softmax(x + 1000.0), p, rtol=1e-12)
    # The notes' softmax took the max over the whole batch; each row must stand alone.
    np.testing.assert_allclose(p[2], sn.softmax(x[2]))
    np.testing.assert_allclose(sn.softmax(x, axis=0).sum(axis=0), 1.0)


def test_integer_input_works_and_is_not_modified():
    x = np.array([-2, 0, 3])
    before = x.copy()
    for f in (sn.sigmoid, F.relu, F.tanh, F.leaky_relu, sn.softmax, F.identity):
        out = f(x)
        assert np.issubdtype(out.dtype, np.floating) or f is F.identity
    np.testing.assert_array_equal(x, before)
    np.testing.assert_allclose(F.relu(x), [0, 0, 3])


def test_derivatives_match_finite_differences():
    x = np.linspace(-3, 3, 13) + 0.05  # avoid the kink at 0
    h = 1e-6
    for f, df in [
        (F.sigmoid, F.sigmoid_grad),
        (F.tanh, F.tanh_grad),
        (F.relu, F.relu_grad),
        (F.leaky_relu, F.leaky_relu_grad),
    ]:
        np.testing.assert_allclose(df(x), (f(x + h) - f(x - h)) / (2 * h), atol=1e-8)


def test_cross_entropy_batch_average_labels_and_one_hot_agree():
    rng = np.random.default_rng(1)
    y = sn.softmax(rng.standard_normal((6, 4)))
    t = rng.integers(0, 4, 6)
    expected = -np.mean(np.log(y[np.arange(6), t] + 1e-7))
    assert F.cross_entropy_error(y, t) == pytest.approx(expected, rel=1e-12)
    assert F.cross_entropy_error(y, F.one_hot(t, 4)) == pytest.approx(expected, rel=1e-12)


def test_softmax_cross_entropy_is_exact_from_logits():
    rng = np.random.default_rng(2)
    z = rng.standard_normal((5, 3)) * 3
    t = rng.integers(0, 3, 5)
    exact = -np.mean(np.log(sn.softmax(z)[np.arange(5), t]))
    assert F.softmax_cross_entropy(z, t) == pytest.approx(exact, rel=1e-13)
    # No epsilon, no overflow: a confident wrong answer costs its full logit gap.
    assert F.softmax_cross_entropy(np.array([[1e4, 0.0]]), np.array([1])) == pytest.approx(1e4)


def test_mse_batch_is_averaged_over_samples():
    y = np.array([[1.0, 2.0], [3.0, 4.0]])
    t = np.zeros((2, 2))
    assert F.mean_squared_error(y, t) == pytest.approx(0.5 * 30 / 2)


def test_binary_cross_entropy_matches_the_course_formula():
    rng = np.random.default_rng(3)
    al = rng.uniform(0.05, 0.95, (1, 9))
    y = rng.integers(0, 2, (1, 9)).astype(float)
    course = -np.sum(y * np.log(al) + (1 - y) * np.log(1 - al)) / 9
    assert F.binary_cross_entropy(al, y) == pytest.approx(course, rel=1e-13)
    # Saturated but correct predictions cost 0, not NaN.
    assert F.binary_cross_entropy(np.array([[0.0, 1.0]]), np.array([[0.0, 1.0]])) == 0.0


def test_one_hot():
    np.testing.assert_array_equal(F.one_hot([2, 0], 3), [[0, 0, 1], [1, 0, 0]])
    assert F.one_hot([], 3).shape == (0, 3)  # np.asarray([]) is float64: still no labels


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda: F.cross_entropy_error(np.ones((2, 3)) / 3, np.ones((3, 3))),
            r"\(2, 3\).*\(3, 3\)",
        ),
        (lambda: F.cross_entropy_error(np.ones((2, 3)) / 3, np.array([0, 3])), r"\[0, 2\].*3"),
        (lambda: F.cross_entropy_error(np.ones((2, 3)) / 3, np.array([-1, 0])), "labels"),
        (lambda: F.mean_squared_error(np.array([np.nan, 1.0]), np.zeros(2)), "NaN"),
        (lambda: F.cross_entropy_error(np.array([[np.nan, 1.0]]), np.array([0])), "NaN"),
        (lambda: F.mean_squared_error(np.zeros((0, 3)), np.zeros((0, 3))), "empty"),
        (lambda: F.softmax_cross_entropy(np.zeros((0, 3)), np.zeros(0, dtype=int)), "empty"),
        (lambda: F.binary_cross_entropy(np.array([[0.5, 1.5]]), np.array([[0, 1]])), r"\[0, 1\]"),
        (lambda: F.binary_cross_entropy(np.array([[0.5]]), np.array([[0, 1]])), "shape"),
        (lambda: F.binary_cross_entropy(np.array([0.5, 0.5]), np.array([np.nan, 1.0])),
         r"targets t in \[0, 1\] \(no NaN\)"),
        (lambda: F.binary_cross_entropy(np.array([0.5]), np.array([2.0])),
         r"targets t in \[0, 1\]"),
    ],
)
def test_bad_input_raises_value_error_naming_the_problem(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_non_numeric_input_raises_type_error():
    with pytest.raises(TypeError, match="numeric"):
        sn.sigmoid(np.array(["a", "b"]))
    with pytest.raises(TypeError, match="integer class labels"):
        F.cross_entropy_error(np.ones((2, 2)) / 2, np.array([0.5, 1.0]))


# --- properties over many inputs (hypothesis) --------------------------------------------

_batches = st.sampled_from([np.float32, np.float64]).flatmap(
    lambda dtype: hnp.arrays(
        dtype,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6),
        elements=st.floats(-1e4, 1e4, width=32),
    )
)


@settings(max_examples=200, deadline=None)
@given(_batches)
def test_softmax_is_a_distribution_per_row_for_any_scores(x):
    y = F.softmax(x)  # warnings are errors in this suite: no overflow, no 0/0
    assert y.dtype == x.dtype and np.all((y >= 0) & (y <= 1))
    np.testing.assert_allclose(y.sum(axis=1), 1, rtol=1e-5 if x.dtype == np.float32 else 1e-12)
    rows = np.arange(len(x))
    assert np.array_equal(y[rows, np.argmax(x, axis=1)], y.max(axis=1))  # order is kept


@settings(max_examples=200, deadline=None)
@given(_batches)
def test_log_softmax_agrees_with_softmax_and_the_fused_loss(x):
    x = x.astype(np.float64)
    log_y = F.log_softmax(x)
    assert np.all(log_y <= 0)
    np.testing.assert_allclose(np.exp(log_y).sum(axis=1), 1, rtol=1e-12)
    labels = np.argmin(x, axis=1)  # the least likely class: the largest loss
    expected = -log_y[np.arange(len(x)), labels].mean()
    assert F.softmax_cross_entropy(x, labels) == pytest.approx(expected, rel=1e-12, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(_batches)
def test_sigmoid_is_bounded_and_symmetric_for_any_input(x):
    y = F.sigmoid(x)
    assert y.dtype == x.dtype and np.all((y >= 0) & (y <= 1))
    tol = 1e-6 if x.dtype == np.float32 else 1e-15
    np.testing.assert_allclose(F.sigmoid(-x), 1 - y, atol=tol)
