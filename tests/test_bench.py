"""The benchmark command works end to end (smoke runs only: nothing here is timed), and the
engine's training path (the layers' bare math, the softmax shift, optimizer updates, the
BLAS thread rule) computes the same numbers as the plain formulas.
"""

import numpy as np
import pytest

import scratchnn as sn
from scratchnn import bench
from scratchnn.functions import one_hot, softmax, softmax_cross_entropy
from scratchnn.init import initialize
from scratchnn.optim import make_optimizer

RNG = np.random.default_rng(6)


def _row(out: str, task_title: str, impl: str) -> list[str]:
    """The cells of the Markdown row of ``impl`` in the block of ``task_title``."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {task_title} |"))
    for line in lines[start:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[1].startswith(impl):
            return cells
    raise AssertionError(f"no row for {impl} under {task_title}")


def _accuracy(cells: list[str]) -> float:
    return float(cells[-1].rstrip("%"))


def test_quick_run_without_data_prints_every_benchmark(capsys, monkeypatch):
    monkeypatch.delenv("SCRATCHNN_DATA", raising=False)
    assert bench.main(["--quick", "--no-peers", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("task"))
    assert header.split()[:3] == ["task", "implementation", "seconds"]
    assert "random data of MNIST's shape, 1,000 training / 500 test images" in out
    for task in bench.TASKS:
        assert task.title in out
    assert out.count("scratchnn ") >= len(bench.TASKS)
    assert "matmul bound" in out
    assert "threads:" in out and "BLAS" in out


def test_quick_run_on_mnist_learns_and_prints_markdown(capsys, shared_data):
    argv = ["--quick", "--no-peers", "--only", "relu,inference", "--markdown",
            "--data-dir", str(shared_data)]
    assert bench.main(argv) == 0
    out = capsys.readouterr().out
    assert "| task | implementation | seconds | vs PyTorch |" in out
    assert "MNIST, 1,000 training / 500 test images" in out
    relu = bench.TASKS[0]
    # ten SGD steps on real digits: far above the 10% of guessing
    assert _accuracy(_row(out, relu.title, "scratchnn")) > 50
    inference = next(t for t in bench.TASKS if t.name == "inference")
    assert _accuracy(_row(out, inference.title, "scratchnn")) > 85  # the book's weights
    assert "the book's sample weights" in out


def test_pytorch_starts_from_the_same_weights_and_batches(capsys, shared_data):
    pytest.importorskip("torch")
    argv = ["--quick", "--only", "relu,inference", "--markdown", "--data-dir", str(shared_data)]
    assert bench.main(argv) == 0
    out = capsys.readouterr().out
    for task in (bench.TASKS[0], next(t for t in bench.TASKS if t.name == "inference")):
        ours = _row(out, task.title, "scratchnn")
        theirs = _row(out, task.title, "PyTorch")
        assert abs(_accuracy(ours) - _accuracy(theirs)) <= 0.4, (ours, theirs)  # 2 of 500
        assert ours[3].endswith("x")  # the ratio to PyTorch is printed on our row


@pytest.mark.parametrize("task_name", ["relu", "sigmoid"])
def test_the_hand_written_numpy_loop_trains_the_same_network(shared_data, task_name):
    """The reference written out in plain NumPy and the Trainer do the same arithmetic:
    after an epoch of 10 steps from the same weights, on the same batches, their weights
    agree to float32 rounding, and so do their test accuracies."""
    task = next(t for t in bench.TASKS if t.name == task_name)
    data = bench.load_data(str(shared_data), quick=True)
    net = bench._initial_network(task, 3)
    sn.Trainer(net, sn.SGD(lr=bench.LEARNING_RATE), epochs=1, batch_size=bench.BATCH_SIZE,
               seed=3, progress=False).fit(data.x_train, data.t_train)
    seconds, params = bench._by_hand_epoch(task, data, 3)
    assert seconds > 0
    start = bench._weights(bench._initial_network(task, 3))
    for (W, b), (W_net, b_net), (W0, _) in zip(params, bench._weights(net), start, strict=True):
        assert W.dtype == b.dtype == np.float32
        assert np.abs(W_net - W0).max() > 1e-3  # both really trained
        np.testing.assert_allclose(W, W_net, rtol=0, atol=2e-6)
        np.testing.assert_allclose(b, b_net, rtol=0, atol=2e-6)
    _, accuracy = bench._by_hand_train(task, data, 3)
    assert accuracy == net.accuracy(data.x_test, data.t_test) > 0.15  # guessing: 0.1


def test_unknown_benchmark_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        bench.main(["--only", "relu,nope"])
    assert exc.value.code == 2
    assert "unknown benchmark nope" in capsys.readouterr().err


# --- the engine's training path computes the same numbers as the plain formulas ----------


def _affine(n_in: int, n_out: int, seed: int) -> sn.Affine:
    return sn.Affine(initialize("he", (n_in, n_out), rng=seed, dtype=np.float64))


def test_backprop_gives_the_plain_formulas_and_leaves_the_input_alone():
    net = sn.MLP([6, 5, 4, 3], activation="relu", dtype=np.float64, seed=0)
    x, t = RNG.standard_normal((7, 6)), RNG.integers(0, 3, 7)
    x_before = x.copy()
    loss = net.backprop(x, t)
    np.testing.assert_array_equal(x, x_before)  # the caller's input is never overwritten
    # The same chain with fresh (not in-place) layers and the plain formulas:
    (W1, b1), (W2, b2), (W3, b3) = [(net.params[f"W{k}"], net.params[f"b{k}"]) for k in (1, 2, 3)]
    h1 = np.maximum(x @ W1 + b1, 0)
    h2 = np.maximum(h1 @ W2 + b2, 0)
    assert loss == pytest.approx(softmax_cross_entropy(h2 @ W3 + b3, t), rel=1e-12)
    dz3 = (softmax(h2 @ W3 + b3) - one_hot(t, 3)) / 7
    dz2 = (dz3 @ W3.T) * (h2 > 0)
    dz1 = (dz2 @ W2.T) * (h1 > 0)
    for name, expected in [("W3", h2.T @ dz3), ("W2", h1.T @ dz2), ("W1", x.T @ dz1),
                           ("b1", dz1.sum(axis=0))]:
        np.testing.assert_allclose(net.grads[name], expected, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "sigmoid", "tanh"])
def test_the_same_network_gives_the_same_gradients_every_time(activation):
    x, t = RNG.standard_normal((5, 4)), RNG.integers(0, 3, 5)
    first = sn.MLP([4, 6, 5, 3], activation=activation, dtype=np.float64, seed=1)
    second = sn.MLP([4, 6, 5, 3], activation=activation, dtype=np.float64, seed=1)
    x_before = x.copy()
    assert first.backprop(x, t) == second.backprop(x, t)
    for name in first.params:
        np.testing.assert_array_equal(first.grads[name], second.grads[name])
    np.testing.assert_array_equal(first.predict(x), second.predict(x))
    np.testing.assert_array_equal(x, x_before)


def test_an_activation_that_reads_the_callers_array_leaves_it_alone():
    net = sn.Sequential([sn.Sigmoid(), _affine(3, 2, 0)])
    x = RNG.standard_normal((4, 3)).astype(np.float32)
    x_before = x.copy()
    net.predict(x)
    np.testing.assert_array_equal(x, x_before)


def test_layers_swapped_into_a_network_later_still_work():
    class MyReLU(sn.Layer):  # a learner's own layer, without the inplace keyword
        def forward(self, x, train=False):
            self.mask = x > 0
            return x * self.mask

        def backward(self, dout):
            return dout * self.mask

    x, t = RNG.standard_normal((5, 4)), RNG.integers(0, 3, 5)
    net = sn.MLP([4, 6, 3], dtype=np.float64, seed=0)
    expected = net.predict(x)
    net.layers[1] = MyReLU()
    np.testing.assert_array_equal(net.predict(x), expected)
    net.backprop(x, t)
    net.layers.append(sn.ReLU())  # now the scores go through a ReLU too
    np.testing.assert_array_equal(net.predict(x), np.maximum(expected, 0))


@pytest.mark.parametrize("layer", [sn.ReLU(), sn.LeakyReLU(0.1), sn.Sigmoid(), sn.Tanh()])
def test_an_activation_taken_out_of_a_network_leaves_the_callers_arrays_alone(layer):
    sn.Sequential([_affine(3, 3, 0), layer, _affine(3, 2, 1)])
    x = RNG.standard_normal((4, 3))
    dout = RNG.standard_normal((4, 3))
    x_before, dout_before = x.copy(), dout.copy()
    y = layer.forward(x)
    dx = layer.backward(dout)
    assert y is not x and dx is not dout
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(dout, dout_before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_layer_matches_the_function_without_overflow(dtype):
    x = np.array([[-1e4, -80.0, -20.0, -1.0, 0.0, 0.5, 30.0, 1e4]], dtype=dtype)
    y = sn.Sigmoid().forward(x)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, sn.sigmoid(x), rtol=1e-6 if dtype == np.float32 else 1e-14,
                               atol=1e-7 if dtype == np.float32 else 1e-16)


def test_softmax_loss_is_exact_for_rows_far_below_the_batch_maximum():
    # Row 1's scores are 500 below row 0's: shifting by the batch maximum would underflow.
    x = np.array([[500.0, 499.0, 490.0], [0.0, 2.0, -1.0]], dtype=np.float32)
    t = np.array([1, 1])
    layer = sn.SoftmaxCrossEntropy()
    loss = layer.forward(x, t)
    x64 = x.astype(np.float64)
    expected = np.mean([np.log(np.exp(r - r.max()).sum()) - (r[1] - r.max()) for r in x64])
    assert loss == pytest.approx(expected, rel=1e-6)
    np.testing.assert_allclose(layer.backward(), (softmax(x64) - one_hot(t, 3)) / 2,
                               atol=1e-7)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov"])
def test_updates_of_large_parameters_match_the_formula(optimizer):
    shape = (1007, 100)  # large enough for any blocking an update might do
    p = RNG.standard_normal(shape)
    g = RNG.standard_normal(shape)
    opt = make_optimizer(optimizer, lr=0.1)
    expected, v = p.copy(), np.zeros(shape)
    for _ in range(2):
        opt.update({"W1": p}, {"W1": g})
        if optimizer == "sgd":
            expected -= 0.1 * g
        else:
            v_new = 0.9 * v - 0.1 * g
            expected += v_new if optimizer == "momentum" else 0.9 * v_new - 0.1 * g
            v = v_new
    np.testing.assert_allclose(p, expected, rtol=1e-12, atol=1e-12)
    strided = RNG.standard_normal((4, 6))[:, ::2]  # not contiguous: the plain update
    before = strided.copy()
    sn.SGD(lr=0.5).update({"W1": strided}, {"W1": np.ones((4, 3))})
    np.testing.assert_allclose(strided, before - 0.5)


# --- the engine's BLAS thread rule (scratchnn.training.threads.training_blas_threads) -----


def test_small_mlps_train_on_one_blas_thread_and_large_ones_keep_the_blas_setting(monkeypatch):
    from scratchnn.training.threads import SMALL_PRODUCT, training_blas_threads

    assert 100 * 784 * 100 <= SMALL_PRODUCT < 100 * 1000 * 1000
    assert training_blas_threads(sn.MLP([784, 100, 10], seed=0), 100) == 1
    assert training_blas_threads(sn.MLP([784, 50, 10], activation="sigmoid", seed=0), 100) == 1
    assert training_blas_threads(sn.MLP([784, 1000, 1000, 10], seed=0), 100) is None
    # the rule looks at the batch too: the same network in batches of 1000 is large
    assert training_blas_threads(sn.MLP([784, 100, 10], seed=0), 1000) is None
    conv = sn.Sequential([
        sn.Convolution2D(initialize("he", (2, 1, 3, 3), rng=0)),
        sn.Flatten(), sn.Affine(initialize("he", (2 * 26 * 26, 10), rng=1)),
    ])
    assert training_blas_threads(conv, 100) is None  # convolutions keep the BLAS's setting
    monkeypatch.setattr("scratchnn.training.threads.SMALL_PRODUCT", 0)
    assert training_blas_threads(sn.MLP([784, 100, 10], seed=0), 100) is None


def _numpy_blas_threads() -> list[int]:
    from threadpoolctl import threadpool_info

    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]


def test_trainer_limits_the_blas_threads_only_during_its_steps():
    x = RNG.random((300, 784), dtype=np.float32)
    t = RNG.integers(0, 10, 300)
    net = sn.MLP([784, 100, 10], seed=0)
    seen = []
    train_step = net.train_step

    def recording_step(xb, tb):
        seen.append(_numpy_blas_threads())
        return train_step(xb, tb)

    net.train_step = recording_step
    if not _numpy_blas_threads():
        pytest.skip("threadpoolctl finds no BLAS library to limit")
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=2, user_api="blas"):  # so that a limit to 1 shows
        sn.Trainer(net, sn.SGD(lr=0.1), epochs=2, batch_size=100, seed=0,
                   progress=False).fit(x, t)
        assert len(seen) == 6 and all(threads and set(threads) == {1} for threads in seen)
        assert set(_numpy_blas_threads()) == {2}  # put back after fit

        # ... also when a step raises.
        def failing_step(xb, tb):
            raise KeyboardInterrupt

        net.train_step = failing_step
        with pytest.raises(KeyboardInterrupt):
            sn.Trainer(net, sn.SGD(lr=0.1), epochs=1, seed=0, progress=False).fit(x, t)
        assert set(_numpy_blas_threads()) == {2}


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_training_on_one_blas_thread_gives_the_same_parameters(monkeypatch, activation):
    # 784-100-10 in batches of 100: products large enough for a multi-threaded BLAS to split
    x = RNG.random((1000, 784), dtype=np.float32)
    t = RNG.integers(0, 10, 1000)

    def train() -> dict[str, np.ndarray]:
        net = sn.MLP([784, 100, 10], activation=activation, seed=3)
        sn.Trainer(net, sn.SGD(lr=0.1), epochs=2, batch_size=100, seed=4,
                   progress=False).fit(x, t)
        return net.params

    limited = train()
    # the BLAS's own thread count:
    monkeypatch.setattr("scratchnn.training.threads.SMALL_PRODUCT", 0)
    unlimited = train()
    for name, p in limited.items():
        assert p.dtype == np.float32
        np.testing.assert_allclose(p, unlimited[name], rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "sigmoid", "tanh"])
def test_float32_training_stays_float32_end_to_end(activation):
    x = RNG.random((60, 20), dtype=np.float32)
    t = RNG.integers(0, 3, 60)
    net = sn.MLP([20, 16, 8, 3], activation=activation, seed=0)
    sn.Trainer(net, sn.SGD(lr=0.1), epochs=2, batch_size=20, seed=0, progress=False).fit(x, t)
    arrays = {**net.params, **{f"d{k}": g for k, g in net.grads.items()}}
    for layer in [*net.layers, net.loss_layer]:
        for attr in ("x", "out", "slope", "y"):
            if isinstance(getattr(layer, attr, None), np.ndarray):
                arrays[f"{type(layer).__name__}.{attr}"] = getattr(layer, attr)
    assert len(arrays) > 2 * len(net.params)
    assert {name: a.dtype for name, a in arrays.items()} == dict.fromkeys(arrays, np.float32)


def test_bench_states_the_thread_rule(capsys):
    assert bench.main(["--quick", "--no-peers", "--only", "relu,large"]) == 0
    out = capsys.readouterr().out
    assert "relu: scratchnn's Trainer runs this network's small matrix products on 1 BLAS thread" \
        in out
    assert "the peers and the matmul bound keep" in out
    assert "large: scratchnn's Trainer" not in out  # large products keep every thread
    assert bench._engine_threads(bench._initial_network(bench.TASKS[0], 0)) == 1


# --- the ConvNets' NumPy-by-hand floor and the warnings of the report (issues 19, 14) ------


@pytest.mark.parametrize("task_name", ["simpleconv", "deepconv"])
def test_the_hand_written_convnet_epoch_trains_the_same_network(shared_data, task_name):
    """NumPy by hand and the Trainer do the same arithmetic for the ConvNets too: after 3
    Adam steps from the same weights, on the same batches, with the same Dropout masks, their
    weights agree to float32 rounding."""
    from threadpoolctl import threadpool_limits

    task = next(t for t in bench.TASKS if t.name == task_name)
    full = bench.load_data(str(shared_data), quick=True)
    data = bench.Data(full.x_train[:300], full.t_train[:300], full.x_test, full.t_test,
                      full.source)
    net = bench._conv_net(task, 3)
    x, t, scale = bench._conv_batches(data)
    assert x.shape == (300, 1, 28, 28) and scale == 1.0
    with threadpool_limits(1):
        sn.Trainer(net, sn.Adam(lr=bench.CONV_LR), epochs=1, batch_size=bench.BATCH_SIZE,
                   seed=3, progress=False).fit(x, t)
        seconds, params = bench._by_hand_conv_epoch(task, data, 3)
    assert seconds > 0
    start = bench._conv_net(task, 3).params
    assert len(params) == len(start) == len(net.params)
    for (name, p_net), p in zip(net.params.items(), params, strict=True):
        assert p.dtype == np.float32 and p.shape == p_net.shape
        assert np.abs(p_net - start[name]).max() > 1e-3  # both really trained (Adam: ~3e-3)
        np.testing.assert_allclose(p, p_net, rtol=0, atol=1e-6, err_msg=name)


def test_convnet_rows_print_the_floor_and_its_ratio(capsys, shared_data):
    argv = ["--quick", "--only", "simpleconv,deepinfer", "--markdown", "--threads", "1",
            "--data-dir", str(shared_data)]
    assert bench.main(argv) == 0
    out = capsys.readouterr().out
    simple = next(t for t in bench.TASKS if t.name == "simpleconv")
    ours = _row(out, simple.title, "scratchnn")
    assert ours[6].endswith("x")  # vs NumPy by hand
    assert _row(out, simple.title, "NumPy by hand")[2]
    infer = next(t for t in bench.TASKS if t.name == "deepinfer")
    # fresh weights, but the same ones: both classify the 500 images alike
    assert _accuracy(_row(out, infer.title, "scratchnn")) == \
        _accuracy(_row(out, infer.title, "NumPy by hand"))
    assert "scaled from its first 100 batches" in out


def test_quick_run_reads_mnist_from_scratchnn_data(capsys, monkeypatch, shared_data):
    monkeypatch.setenv("SCRATCHNN_DATA", str(shared_data))
    assert bench.main(["--quick", "--no-peers", "--only", "relu"]) == 0
    assert "MNIST, 1,000 training / 500 test images" in capsys.readouterr().out


def test_a_busy_machine_is_named_in_the_report(capsys, monkeypatch):
    assert bench.busy_warning((0.3, 1.9), cpus=2, threads=1) is None  # our own thread
    assert bench.busy_warning((None, None), cpus=2, threads=1) is None
    assert "busy (load average 1.50 before" in bench.busy_warning((1.5, 1.0), cpus=2, threads=1)
    assert "busy" in bench.busy_warning((0.2, 3.5), cpus=2, threads=2)  # others came in
    monkeypatch.setattr(bench, "_load_average", lambda: 7.5)
    monkeypatch.delenv("SCRATCHNN_DATA", raising=False)
    assert bench.main(["--quick", "--no-peers", "--only", "relu"]) == 0
    assert "warning: the machine is busy (load average 7.50 before" in capsys.readouterr().out


def test_a_time_below_its_own_matmul_bound_is_called_unreliable():
    task = bench.TASKS[0]
    results = [bench.Result(task, bench.SCRATCHNN, "scratchnn", [0.44, 0.5, 0.4]),
               bench.Result(task, bench.BY_HAND, "NumPy by hand", [1.2, 1.1, 1.3]),
               bench.Result(task, bench.PYTORCH, "PyTorch", [2.0, 2.0, 2.0]),
               bench.Result(task, bench.MATMUL, "matmul bound", [1.0, 1.0, 1.0])]
    warnings_ = bench.below_bounds(results)
    # scratchnn below the bound (0.44x) and far below NumPy by hand (0.37x)
    assert len(warnings_) == 2
    assert warnings_[0].startswith("relu: scratchnn measured 0.44x its own matmul bound")
    lines = bench.target_lines([results], None)
    assert lines[0] == ("relu: 0.22x PyTorch (target <= 0.6x): met (unreliable: below its own "
                        "bound)")
    results[0].seconds = [1.3, 1.4, 1.5]  # 1.15x NumPy by hand, 0.7x PyTorch
    assert bench.below_bounds(results) == []
    assert bench.target_lines([results], None)[0].endswith("MISSED")


def test_pytorch_classifies_with_the_same_convnet(capsys, shared_data):
    pytest.importorskip("torch")
    argv = ["--quick", "--only", "simpleconv,deepinfer", "--markdown", "--threads", "1",
            "--data-dir", str(shared_data)]
    assert bench.main(argv) == 0
    out = capsys.readouterr().out
    simple = next(t for t in bench.TASKS if t.name == "simpleconv")
    assert _row(out, simple.title, "scratchnn")[3].endswith("x")  # vs PyTorch
    infer = next(t for t in bench.TASKS if t.name == "deepinfer")
    ours, theirs = _row(out, infer.title, "scratchnn"), _row(out, infer.title, "PyTorch")
    assert abs(_accuracy(ours) - _accuracy(theirs)) <= 0.4, (ours, theirs)  # 2 of 500
