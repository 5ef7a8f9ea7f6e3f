"""The course's step-by-step API: its test cases' published outputs, gradients, the cat models."""

from __future__ import annotations

import numpy as np
import pytest

from scratchnn import course
from scratchnn.data import load_catvnoncat


def _randn(seed: int, *shapes):
    """Arrays drawn as the course's test cases draw them (legacy seeding, in order)."""
    state = np.random.RandomState(seed)
    return [state.randn(*shape) for shape in shapes]


@pytest.fixture(scope="module")
def cats(shared_data):
    return load_catvnoncat(shared_data, course_layout=True)


# --- the course's test cases and their expected outputs ----------------------------------


def test_initialize_parameters_matches_course_output():
    p = course.initialize_parameters(3, 2, 1)
    np.testing.assert_allclose(
        p["W1"], [[0.01624345, -0.00611756, -0.00528172], [-0.01072969, 0.00865408, -0.02301539]],
        atol=5e-9,
    )
    np.testing.assert_allclose(p["W2"], [[0.01744812, -0.00761207]], atol=5e-9)
    assert p["b1"].shape == (2, 1) and p["b2"].shape == (1, 1)
    assert not p["b1"].any() and not p["b2"].any()


def test_initialize_parameters_deep_is_the_application_scaling():
    p = course.initialize_parameters_deep([5, 4, 3])
    W1, W2 = _randn(1, (4, 5), (3, 4))
    np.testing.assert_array_equal(p["W1"], W1 / np.sqrt(5))
    np.testing.assert_array_equal(p["W2"], W2 / np.sqrt(4))
    assert p["b1"].shape == (4, 1) and p["b2"].shape == (3, 1)
    assert sorted(p) == ["W1", "W2", "b1", "b2"]


def test_initialize_parameters_deep_rejects_bad_dims():
    with pytest.raises(ValueError, match="at least 2 positive widths"):
        course.initialize_parameters_deep([5])
    with pytest.raises(ValueError, match="at least 2 positive widths, got '53'"):
        course.initialize_parameters_deep("53")
    with pytest.raises(ValueError, match=r"layer_dims\[1\] must be a positive integer, got 0"):
        course.initialize_parameters_deep([5, 0, 1])
    with pytest.raises((TypeError, ValueError), match=r"layer_dims\[0\] .*2.5"):
        course.initialize_parameters_deep([2.5, 2])
    with pytest.raises(ValueError, match="n_h must be a positive integer, got 0"):
        course.initialize_parameters(3, 0, 1)


def test_initialisers_leave_the_global_random_state_alone():
    np.random.seed(123)  # noqa: NPY002 -- the caller's own use of the global generator
    expected = np.random.RandomState(123).rand(3)
    course.initialize_parameters(3, 2, 1)
    course.initialize_parameters_deep([4, 3, 1])
    np.testing.assert_array_equal(np.random.rand(3), expected)  # noqa: NPY002


def test_linear_forward_matches_course_output():
    A, W, b = _randn(1, (3, 2), (1, 3), (1, 1))
    Z, cache = course.linear_forward(A, W, b)
    np.testing.assert_allclose(Z, [[3.26295337, -1.23429987]], atol=5e-9)
    np.testing.assert_allclose(Z, W @ A + b, rtol=1e-14)
    assert cache[0] is A and cache[1] is W and cache[2] is b


def test_linear_activation_forward_matches_course_output():
    A_prev, W, b = _randn(2, (3, 2), (1, 3), (1, 1))
    A, (linear_cache, Z) = course.linear_activation_forward(A_prev, W, b, "sigmoid")
    np.testing.assert_allclose(A, [[0.96890023, 0.11013289]], atol=5e-9)
    np.testing.assert_allclose(Z, W @ A_prev + b, rtol=1e-14)
    A, _ = course.linear_activation_forward(A_prev, W, b, "relu")
    np.testing.assert_allclose(A, [[3.43896131, 0.0]], atol=5e-9)


def _course_test_parameters():
    X, W1, b1, W2, b2, W3, b3 = _randn(6, (5, 4), (4, 5), (4, 1), (3, 4), (3, 1), (1, 3), (1, 1))
    return X, {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}


def test_L_model_forward_matches_course_output():
    X, parameters = _course_test_parameters()
    AL, caches = course.L_model_forward(X, parameters)
    np.testing.assert_allclose(AL, [[0.03921668, 0.70498921, 0.19734387, 0.04728177]], atol=5e-9)
    assert len(caches) == 3
    # Each cache is ((A_prev, W, b), Z), as the course's backward functions read it.
    assert caches[0][0][0] is X
    A_prev = X
    for l, ((A, W, b), Z) in enumerate(caches, start=1):  # noqa: E741
        assert W is parameters[f"W{l}"] and b is parameters[f"b{l}"]
        np.testing.assert_array_equal(A, A_prev)
        np.testing.assert_allclose(Z, W @ A + b, rtol=1e-14)
        A_prev = np.maximum(Z, 0)
    np.testing.assert_allclose(AL, 1 / (1 + np.exp(-caches[-1][1])), rtol=1e-15)


def test_compute_cost_matches_course_output_and_formula():
    AL = np.array([[0.8, 0.9, 0.4]])
    Y = np.array([[1, 1, 0]])
    cost = course.compute_cost(AL, Y)
    assert isinstance(cost, float)
    assert cost == pytest.approx(0.2797765635793422, abs=1e-15)
    m = Y.shape[1]
    formula = (-1 / m) * np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL))
    assert cost == pytest.approx(formula, abs=1e-15)


def test_compute_cost_rejects_rows_of_examples():
    with pytest.raises(ValueError, match=r"\(1, m\)"):
        course.compute_cost(np.array([[0.5], [0.5]]), np.array([[1], [0]]))


def test_linear_backward_matches_course_output():
    dZ, A, W, b = _randn(1, (3, 4), (5, 4), (3, 5), (3, 1))
    dA_prev, dW, db = course.linear_backward(dZ, (A, W, b))
    np.testing.assert_allclose(dA_prev[0], [-1.15171336, 0.06718465, -0.3204696, 2.09812712],
                               atol=5e-9)
    np.testing.assert_allclose(dW[0], [0.07313866, -0.0976715, -0.87585828, 0.73763362,
                                       0.00785716], atol=5e-9)
    np.testing.assert_allclose(db, [[-0.14713786], [-0.11313155], [-0.13209101]], atol=5e-9)
    # and the course's formulas, with their 1/m
    m = A.shape[1]
    np.testing.assert_allclose(dW, dZ @ A.T / m, rtol=1e-13)
    np.testing.assert_allclose(db, np.sum(dZ, axis=1, keepdims=True) / m, rtol=1e-13)
    np.testing.assert_allclose(dA_prev, W.T @ dZ, rtol=1e-13)


def test_linear_activation_backward_matches_course_output():
    dA, A, W, b, Z = _randn(2, (1, 2), (3, 2), (1, 3), (1, 1), (1, 2))
    dA_prev, dW, db = course.linear_activation_backward(dA, ((A, W, b), Z), "sigmoid")
    np.testing.assert_allclose(dA_prev, [[0.11017994, 0.01105339], [0.09466817, 0.00949723],
                                         [-0.05743092, -0.00576154]], atol=5e-9)
    np.testing.assert_allclose(dW, [[0.10266786, 0.09778551, -0.01968084]], atol=5e-9)
    np.testing.assert_allclose(db, [[-0.05729622]], atol=5e-9)
    dA_prev, dW, db = course.linear_activation_backward(dA, ((A, W, b), Z), "relu")
    np.testing.assert_allclose(dA_prev, [[0.44090989, 0.0], [0.37883606, 0.0],
                                         [-0.2298228, 0.0]], atol=5e-9)
    np.testing.assert_allclose(dW, [[0.44513824, 0.37371418, -0.10478989]], atol=5e-9)
    np.testing.assert_allclose(db, [[-0.20837892]], atol=5e-9)


def test_L_model_backward_matches_course_output():
    AL, A1, W1, b1, Z1, A2, W2, b2, Z2 = _randn(3, (1, 2), (4, 2), (3, 4), (3, 1), (3, 2),
                                                (3, 2), (1, 3), (1, 1), (1, 2))
    caches = (((A1, W1, b1), Z1), ((A2, W2, b2), Z2))
    grads = course.L_model_backward(AL, np.array([[1, 0]]), caches)
    np.testing.assert_allclose(grads["dW1"], [[0.41010002, 0.07807203, 0.13798444, 0.10502167],
                                              [0, 0, 0, 0],
                                              [0.05283652, 0.01005865, 0.01777766, 0.0135308]],
                               atol=5e-9)
    np.testing.assert_allclose(grads["db1"], [[-0.22007063], [0], [-0.02835349]], atol=5e-9)
    np.testing.assert_allclose(grads["dA1"], [[0.12913162, -0.44014127],
                                              [-0.14175655, 0.48317296],
                                              [0.01663708, -0.05670698]], atol=5e-9)


def test_update_parameters_matches_course_output():
    W1, b1, W2, b2 = _randn(2, (3, 4), (3, 1), (1, 3), (1, 1))
    dW1, db1, dW2, db2 = _randn(3, (3, 4), (3, 1), (1, 3), (1, 1))
    new = course.update_parameters({"W1": W1, "b1": b1, "W2": W2, "b2": b2},
                                   {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}, 0.1)
    np.testing.assert_allclose(new["W1"], [[-0.59562069, -0.09991781, -2.14584584, 1.82662008],
                                           [-1.76569676, -0.80627147, 0.51115557, -1.18258802],
                                           [-1.0535704, -0.86128581, 0.68284052, 2.20374577]],
                               atol=5e-9)
    np.testing.assert_allclose(new["b1"], [[-0.04659241], [-1.28888275], [0.53405496]],
                               atol=5e-9)
    np.testing.assert_allclose(new["W2"], [[-0.55569196, 0.0354055, 1.32964895]], atol=5e-9)
    np.testing.assert_allclose(new["b2"], [[-0.84610769]], atol=5e-9)


def test_a_confident_wrong_output_keeps_its_finite_cost_and_gradients():
    # Z = -40: the course's sigmoid is 4.2e-18, not 0, so log(AL) and Y / AL stay finite.
    A, W, b = np.array([[1.0]]), np.array([[-40.0]]), np.zeros((1, 1))
    AL, cache = course.linear_activation_forward(A, W, b, "sigmoid")
    np.testing.assert_allclose(AL, 1 / (1 + np.exp(40.0)), rtol=1e-15)
    assert course.compute_cost(AL, np.array([[1]])) == pytest.approx(40.0, rel=1e-15)
    grads = course.L_model_backward(AL, np.array([[1]]), [cache])
    np.testing.assert_allclose(grads["dW1"], [[-1.0]], rtol=1e-15)  # (AL - Y) A^T
    # float32 keeps the relative precision of small outputs too (Z = -18: 1.52e-8).
    AL32, _ = course.linear_activation_forward(A.astype(np.float32),
                                               np.array([[-18.0]], np.float32),
                                               np.zeros((1, 1), np.float32), "sigmoid")
    assert AL32.dtype == np.float32
    np.testing.assert_allclose(AL32, 1 / (1 + np.exp(18.0)), rtol=1e-6)


def test_float32_parameters_with_integer_labels_give_float32_gradients():
    X, parameters = _course_test_parameters()
    parameters = {k: v.astype(np.float32) for k, v in parameters.items()}
    AL, caches = course.L_model_forward(X.astype(np.float32), parameters)
    grads = course.L_model_backward(AL, np.array([[1, 0, 1, 0]]), caches)
    assert {name: g.dtype for name, g in grads.items()} == dict.fromkeys(grads, np.float32)


def test_activation_backward_functions():
    Z = np.array([[-2.0, 0.0, 3.0], [1.0, -0.5, 0.25]])
    dA = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    np.testing.assert_array_equal(course.relu_backward(dA, Z), [[0, 0, 3], [4, 0, 6]])
    s = 1 / (1 + np.exp(-Z))
    np.testing.assert_allclose(course.sigmoid_backward(dA, Z), dA * s * (1 - s), rtol=1e-14)
    np.testing.assert_array_equal(dA, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])  # dA untouched


def test_activation_backward_checks_dA_against_Z():
    Z = np.zeros((2, 3))
    for backward in (course.relu_backward, course.sigmoid_backward):
        with pytest.raises(ValueError, match=r"dA must have the shape of Z \(2, 3\), got \(3, 2\)"):
            backward(np.ones((3, 2)), Z)
        with pytest.raises(TypeError,
                           match="dA must be a numeric array of real numbers, got dtype <U1"):
            backward(np.full((2, 3), "a"), Z)
    with pytest.raises(ValueError, match=r"dA must have the shape of Z \(1, 2\)"):
        course.linear_activation_backward(np.ones((1, 3)), ((np.ones((3, 2)), np.ones((1, 3)),
                                                             np.zeros((1, 1))), np.ones((1, 2))),
                                          "sigmoid")


def test_course_module_is_the_companion():
    from scratchnn.companions import course as companion

    assert course.__all__ == companion.__all__
    assert all(getattr(course, name) is getattr(companion, name) for name in companion.__all__)


def test_unknown_activation_is_refused():
    A, W, b = _randn(1, (3, 2), (1, 3), (1, 1))
    with pytest.raises(ValueError, match="'relu' or 'sigmoid'"):
        course.linear_activation_forward(A, W, b, "tanh")


def test_shape_errors_name_the_layout():
    A, W, b = _randn(1, (3, 2), (1, 3), (1, 1))
    with pytest.raises(ValueError, match="one example per column"):
        course.linear_forward(A.T, W, b)
    with pytest.raises(ValueError, match=r"b of shape \(n_l, 1\)"):
        course.linear_forward(A, W, b.reshape(-1))
    with pytest.raises(ValueError, match="W1, b1"):
        course.L_model_forward(A, {"W1": W})


def test_L_model_backward_agrees_with_finite_differences():
    X, parameters = _course_test_parameters()
    Y = np.array([[1, 0, 1, 0]])
    AL, caches = course.L_model_forward(X, parameters)
    grads = course.L_model_backward(AL, Y, caches)
    assert sorted(grads) == sorted(
        ["dA0", "dA1", "dA2", "dW1", "dW2", "dW3", "db1", "db2", "db3"]
    )
    assert grads["dA0"].shape == X.shape

    def cost():
        return course.compute_cost(course.L_model_forward(X, parameters)[0], Y)

    h = 1e-6
    for name, p in parameters.items():
        numerical = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            saved = p[i]
            p[i] = saved + h
            plus = cost()
            p[i] = saved - h
            minus = cost()
            p[i] = saved
            numerical[i] = (plus - minus) / (2 * h)
        np.testing.assert_allclose(grads[f"d{name}"], numerical, atol=1e-8, err_msg=name)


def test_update_parameters_steps_against_the_gradient_on_copies():
    _, parameters = _course_test_parameters()
    before = {k: v.copy() for k, v in parameters.items()}
    grads = {f"d{k}": np.full_like(v, 2.0) for k, v in parameters.items()}
    new = course.update_parameters(parameters, grads, 0.1)
    for name in parameters:
        np.testing.assert_allclose(new[name], before[name] - 0.2, rtol=1e-15)
        np.testing.assert_array_equal(parameters[name], before[name])  # inputs untouched


def test_update_parameters_keeps_float32():
    parameters = {"W1": np.ones((2, 3), np.float32), "b1": np.zeros((2, 1), np.float32)}
    grads = {"dW1": np.ones((2, 3), np.float32), "db1": np.ones((2, 1), np.float32)}
    new = course.update_parameters(parameters, grads, 0.5)
    assert {p.dtype for p in new.values()} == {np.dtype(np.float32)}
    np.testing.assert_array_equal(new["W1"], np.full((2, 3), 0.5, np.float32))


# --- the cat-vs-non-cat models (the published costs; the full 2500 iterations run in
# --- `scratchnn reproduce`) --------------------------------------------------------------


def test_two_layer_model_published_costs(cats, capsys):
    _, costs = course.two_layer_model(cats.train_x, cats.train_y, (12288, 7, 1),
                                      num_iterations=101, print_cost=True)
    assert len(costs) == 2
    assert costs[0] == pytest.approx(0.693049735659989, abs=1e-9)
    assert costs[1] == pytest.approx(0.6464320953428849, abs=1e-9)
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("Cost after iteration 0: 0.69304973565998")
    assert printed[1].startswith("Cost after iteration 100: 0.64643209534288")
    assert printed[-1].startswith("Cost after iteration 100:")


def test_L_layer_model_published_cost(cats):
    parameters, costs = course.L_layer_model(cats.train_x, cats.train_y, [12288, 20, 7, 5, 1],
                                             num_iterations=101)
    assert costs[0] == pytest.approx(0.7717493284237686, abs=1e-9)
    assert costs[1] == pytest.approx(0.672053, abs=5e-7)  # printed by the course to 6 places
    assert [parameters[f"W{l}"].shape for l in (1, 2, 3, 4)] == [  # noqa: E741
        (20, 12288), (7, 20), (5, 7), (1, 5)
    ]


def test_models_check_the_data_layout(cats):
    with pytest.raises(ValueError, match=r"Y of shape \(1, m\)"):
        course.two_layer_model(cats.train_x, cats.train_y.reshape(-1), (12288, 7, 1))


def test_predict_thresholds_and_prints_accuracy(capsys):
    _, parameters = _course_test_parameters()
    X = _randn(6, (5, 4))[0]
    AL, _ = course.L_model_forward(X, parameters)  # [[0.039, 0.705, 0.197, 0.047]]
    y = np.array([[0, 1, 1, 0]])
    p = course.predict(X, y, parameters)
    np.testing.assert_array_equal(p, [[0.0, 1.0, 0.0, 0.0]])
    np.testing.assert_array_equal(p, AL > 0.5)
    assert capsys.readouterr().out.strip() == "Accuracy: 0.75"


def test_figures_are_written(tmp_path):
    fig = course.plot_costs([0.69, 0.6, 0.5], learning_rate=0.0075, path=tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert fig.axes[0].get_title() == "Learning rate = 0.0075"

    X = np.random.default_rng(0).random((12, 4))
    y = np.array([[1, 0, 1, 0]])
    p = np.array([[1.0, 1.0, 0.0, 0.0]])
    fig = course.print_mislabeled_images([b"non-cat", b"cat"], X, y, p,
                                         path=tmp_path / "m.png", image_shape=(2, 2, 3))
    assert (tmp_path / "m.png").stat().st_size > 0
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["Prediction: cat\nClass: non-cat", "Prediction: non-cat\nClass: cat"]


def test_bad_input_is_named_in_the_course_layout():
    A, W, b = _randn(1, (3, 4), (2, 3), (2, 1))
    with pytest.raises(ValueError, match=r"dZ must have shape \(2, 4\): one example per "
                                         r"column, got \(2, 5\)"):
        course.linear_backward(np.zeros((2, 5)), (A, W, b))
    with pytest.raises(ValueError, match=r"expected W of shape \(n_l, n_prev\).*got W \(0, 3\)"):
        course.linear_forward(A, np.zeros((0, 3)), np.zeros((0, 1)))
    with pytest.raises(ValueError, match=r"A has no examples \(shape \(3, 0\)\)"):
        course.linear_forward(np.zeros((3, 0)), W, b)
    with pytest.raises(ValueError, match=r"A_prev has no examples"):
        course.linear_backward(np.zeros((2, 0)), (np.zeros((3, 0)), W, b))
    with pytest.raises(TypeError,
                       match="A must be a numeric array of real numbers, got dtype complex128"):
        course.linear_forward(A + 1j, W, b)
    with pytest.raises(ValueError, match=r"cache must be the \(A_prev, W, b\) .*a tuple of 2"):
        course.linear_backward(np.zeros((2, 4)), (A, W))
    with pytest.raises(ValueError, match=r"cache must be the \(linear_cache, Z\)"):
        course.linear_activation_backward(np.zeros((2, 4)), (A, W, b), "relu")
    with pytest.raises(ValueError, match="caches must be the non-empty list"):
        course.L_model_backward(np.full((1, 4), 0.5), np.ones((1, 4)), [])
    with pytest.raises(TypeError, match="Y must be a numeric array of real numbers, got dtype <U1"):
        course.L_model_backward(np.full((1, 2), 0.5), np.array([["a", "b"]]), [None])
    parameters = {"W1": W, "b1": b}
    with pytest.raises(TypeError, match="grads must be a dict of dW1, db1, ..., got list"):
        course.update_parameters(parameters, [W, b], 0.1)
    with pytest.raises(TypeError, match="targets t must hold numbers, got dtype <U1"):
        course.compute_cost(np.full((1, 2), 0.5), np.array([["a", "b"]]))


def test_backward_and_update_check_their_inputs():
    X, parameters = _course_test_parameters()
    AL, caches = course.L_model_forward(X, parameters)
    with pytest.raises(ValueError, match="shape of AL"):
        course.L_model_backward(AL, np.array([1, 0, 1, 0]), caches)
    grads = course.L_model_backward(AL, np.array([[1, 0, 1, 0]]), caches)
    del grads["db3"]
    with pytest.raises(ValueError, match="db3"):
        course.update_parameters(parameters, grads, 0.1)


def test_a_result_tuple_passed_as_parameters_is_a_clear_type_error():
    _, parameters = _course_test_parameters()
    with pytest.raises(TypeError, match="parameters must be a dict of W1, b1, .*got tuple"):
        course.predict(np.zeros((5, 2)), np.zeros((1, 2)), (parameters, [0.7]))
