"""Benchmarks: scratchnn against PyTorch, scikit-learn and the matrix-multiplication bound.

    scratchnn bench                      # every benchmark, 5 interleaved repeats (a few minutes)
    scratchnn bench --quick              # a smoke run: a few batches (MNIST from --data-dir or
                                         # $SCRATCHNN_DATA, else random data), seconds
    scratchnn bench --only relu,large --repeat 7
    scratchnn bench --markdown           # the table for the README
    python -m scratchnn.bench ...        # the same without the command-line entry point

The training benchmarks time one epoch of MNIST (60,000 images, batches of 100, plain SGD
with learning rate 0.1, float32) through scratchnn's real training path
(:class:`scratchnn.training.trainer.Trainer`) and through the same network in PyTorch and
scikit-learn when they are installed (``pip install "scratchnn[bench]"``). "NumPy by hand"
is the same epoch written out in plain NumPy, without layers or checks: what scratchnn's
engine adds is its time over this one. The "matmul bound" does only the matrix products of
the forward and backward passes, with NumPy: what an MLP cannot avoid. The inference
benchmark classifies the 10,000 test images with the book's pretrained 784-50-100-10
sigmoid network. The memory benchmark runs ``scratchnn train`` with its defaults in a
child process and reports its peak resident size.

The ConvNet benchmarks (issue 19) train the book's SimpleConvNet and DeepConvNet with Adam
through the Trainer, beside PyTorch from the same weights and batches and beside "NumPy by
hand": the same epoch with no layers and no checks, its convolutions computed the fastest
way found (scratchnn._fastconv's), which ends with the same weights as the engine. An epoch
is timed on its first :data:`CONV_BATCHES` batches and scaled to the whole; "deepinfer"
classifies the 10,000 test images with DeepConvNet.

Fair play: every implementation gets the same thread count (threadpoolctl for the BLAS,
``torch.set_num_threads``), PyTorch gets scratchnn's initial weights and batch order (so
that the two should end at almost the same test accuracy), and the implementations run
interleaved: repeat r runs each of them once, in an order that rotates.

scratchnn's Trainer runs a network whose matrix products are small (784-100-10 and
784-50-10 in batches of 100) on one BLAS thread: an engine decision
(:func:`scratchnn.training.threads.training_blas_threads`) that the report states, and that
"NumPy by hand" follows. PyTorch, scikit-learn and the matmul bound keep every thread they are
given, so the bound stays the fastest that the products alone run on this machine. Times
are medians over the repeats; a ratio is the median of the per-repeat ratios, so that both
of its sides were measured at the same moment on a machine that others may be using. The
load average is printed with the table, with a warning when other processes use more than
half the CPUs, and with one when a NumPy time falls below its own matmul bound (or scratchnn's
far below NumPy by hand's): numbers taken on a busy machine are worth little.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from ._args import positive_int
from .functions import sigmoid
from .models import MLP
from .optim import SGD

__all__ = ["TASKS", "Task", "Data", "Result", "below_bounds", "busy_warning", "add_arguments",
           "run", "main"]

BATCH_SIZE = 100
LEARNING_RATE = 0.1
REPEAT = 5
QUICK_TRAIN, QUICK_TEST = 1_000, 500  # samples in a --quick run: 10 training batches
INFER_CALLS = 10  # one inference timing = the mean of this many calls (each takes ms)
MEMORY_LIMIT_MB = 600
#: seconds of rest before each timed run: the thread pools of the run before (BLAS's,
#: OpenMP's) keep spinning a while after their last task, taking the other core
SETTLE_SECONDS = 0.3

SCRATCHNN, PYTORCH, SKLEARN, MATMUL = "scratchnn", "PyTorch", "scikit-learn", "matmul bound"
BY_HAND = "NumPy by hand"


@dataclass(frozen=True)
class Task:
    """One benchmark: a network and what is timed (``train``: one epoch; ``infer``)."""

    name: str
    title: str
    sizes: tuple[int, ...]
    activation: str
    kind: str
    #: what scratchnn is compared with (the optional libraries only when installed)
    peers: tuple[str, ...]
    #: upper bounds on scratchnn's time as a fraction of each implementation's (issues 6, 19)
    targets: dict[str, float] = field(default_factory=dict)
    #: "mlp", or the name :func:`scratchnn.models.make_model` builds a ConvNet by
    model: str = "mlp"


TASKS = (
    Task("relu", "784-100-10 ReLU, 1 epoch", (784, 100, 10), "relu", "train",
         (PYTORCH, SKLEARN, MATMUL), {PYTORCH: 0.6, SKLEARN: 0.3, MATMUL: 1.5}),
    Task("sigmoid", "784-50-10 sigmoid (the book's), 1 epoch", (784, 50, 10), "sigmoid", "train",
         (PYTORCH, SKLEARN, MATMUL), {PYTORCH: 0.6}),
    Task("large", "784-1000-1000-10 ReLU, 1 epoch", (784, 1000, 1000, 10), "relu", "train",
         (PYTORCH, MATMUL), {PYTORCH: 1.1}),
    Task("inference", "book's 784-50-100-10 sigmoid, 10,000 test images", (784, 50, 100, 10),
         "sigmoid", "infer", (PYTORCH, MATMUL), {PYTORCH: 1.0}),
    Task("simpleconv", "SimpleConvNet (the book's ch. 7), Adam, 1 epoch", (), "relu", "train",
         (PYTORCH,), {BY_HAND: 1.10, PYTORCH: 1.4}, model="convnet"),
    Task("deepconv", "DeepConvNet (the book's ch. 8), Adam, 1 epoch", (), "relu", "train",
         (PYTORCH,), {BY_HAND: 1.15, PYTORCH: 3.0}, model="deepconvnet"),
    Task("deepinfer", "DeepConvNet, 10,000 test images", (), "relu", "infer", (PYTORCH,),
         {BY_HAND: 1.15}, model="deepconvnet"),
)
#: a ConvNet epoch is timed on its first this many batches, then scaled to the whole epoch
CONV_BATCHES = 100
CONV_LR = 0.001  # Adam's, as the README's ConvNet runs
CONV_INFER_BATCH = 1000  # images per forward pass in the ConvNets' inference
#: the extra benchmark that is not timed: peak memory of ``scratchnn train``
MEMORY = "memory"


class Data(NamedTuple):
    x_train: np.ndarray
    t_train: np.ndarray
    x_test: np.ndarray
    t_test: np.ndarray
    source: str


@dataclass
class Result:
    """Seconds and test accuracies of one implementation on one task, one per repeat."""

    task: Task
    impl: str
    label: str
    seconds: list[float] = field(default_factory=list)
    accuracies: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def accuracy(self) -> float | None:
        return statistics.fmean(self.accuracies) if self.accuracies else None


# --- data and networks -------------------------------------------------------------------


def load_data(data_dir: str | None, quick: bool) -> Data:
    """MNIST (pixels in [0, 1], float32), or random data of its shape when it is missing.

    A quick run uses random data unless ``data_dir`` is given (it must not download), and
    keeps only the first :data:`QUICK_TRAIN` / :data:`QUICK_TEST` samples.
    """
    data = None
    if data_dir is not None or not quick:
        try:
            from .data import load_mnist

            (x, t), (xt, tt) = load_mnist(dtype=np.float32, data_dir=data_dir)
            data = Data(x, t.astype(np.int64), xt, tt.astype(np.int64), "MNIST")
        except (ImportError, OSError, ValueError) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            print(f"note: MNIST unavailable ({reason}); using random data of its shape, "
                  "so the accuracies mean nothing", file=sys.stderr)
    if data is None:
        rng = np.random.default_rng(0)
        n, m = (QUICK_TRAIN, QUICK_TEST) if quick else (60_000, 10_000)
        data = Data(rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n),
                    rng.random((m, 784), dtype=np.float32), rng.integers(0, 10, m),
                    "random data of MNIST's shape")
    if quick:
        data = Data(data.x_train[:QUICK_TRAIN], data.t_train[:QUICK_TRAIN],
                    data.x_test[:QUICK_TEST], data.t_test[:QUICK_TEST], data.source)
    return data


def _initial_network(task: Task, seed: int) -> MLP:
    """The network every implementation starts from (He init for ReLU, Xavier for sigmoid)."""
    return MLP(task.sizes, activation=task.activation, seed=seed)


def sample_network(data_dir: str | None) -> tuple[MLP, str]:
    """The book's pretrained network in float32, or random weights when they are missing."""
    try:
        from .files.pretrained import sample_network as load

        return load(dtype=np.float32, data_dir=data_dir), "the book's sample weights"
    except (ImportError, OSError, ValueError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"note: sample weights unavailable ({reason}); using random weights",
              file=sys.stderr)
        return MLP([784, 50, 100, 10], activation="sigmoid", seed=0), "random weights"


def _weights(net: MLP) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(W1, b1), (W2, b2), ...]: the MLP's affine layers in order."""
    params = net.params
    layers = sum(1 for name in params if name.startswith("W"))
    return [(params[f"W{k}"], params[f"b{k}"]) for k in range(1, layers + 1)]


# --- the implementations -----------------------------------------------------------------
# Each runner returns (seconds, test accuracy or None) for one run of the task.


def _scratchnn_train(task: Task, data: Data, seed: int) -> tuple[float, float]:
    from .training.trainer import Trainer

    net = _initial_network(task, seed)
    # eval_subset=1: the end-of-epoch evaluation is not what is timed here.
    trainer = Trainer(net, SGD(lr=LEARNING_RATE), epochs=1, batch_size=BATCH_SIZE, seed=seed,
                      eval_subset=1, progress=False)
    start = time.perf_counter()
    trainer.fit(data.x_train, data.t_train)
    seconds = time.perf_counter() - start
    return seconds, net.accuracy(data.x_test, data.t_test)


def _torch_model(net: MLP, activation: str):
    import torch

    activation = {"relu": torch.nn.ReLU, "sigmoid": torch.nn.Sigmoid}[activation]
    layers = []
    for W, b in _weights(net):
        linear = torch.nn.Linear(*W.shape, dtype=torch.float32)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
            linear.bias.copy_(torch.from_numpy(b))
        layers += [linear, activation()]
    return torch.nn.Sequential(*layers[:-1])


def _torch_train(task: Task, data: Data, seed: int) -> tuple[float, float]:
    import torch

    model = _torch_model(_initial_network(task, seed), task.activation)
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    loss_fn = torch.nn.CrossEntropyLoss()
    x, t = torch.from_numpy(data.x_train), torch.from_numpy(data.t_train)
    n = len(x)
    losses = np.empty(-(-n // BATCH_SIZE))
    start = time.perf_counter()
    # The Trainer's batch order: the first permutation drawn from a Generator seeded alike.
    perm = torch.from_numpy(np.random.default_rng(seed).permutation(n))
    for i, begin in enumerate(range(0, n, BATCH_SIZE)):
        idx = perm[begin : begin + BATCH_SIZE]
        optimizer.zero_grad()
        loss = loss_fn(model(x[idx]), t[idx])
        loss.backward()
        optimizer.step()
        losses[i] = loss.item()
    seconds = time.perf_counter() - start
    with torch.no_grad():
        pred = model(torch.from_numpy(data.x_test)).argmax(dim=1).numpy()
    return seconds, float(np.mean(pred == data.t_test))


def _sklearn_model(task: Task, seed: int):
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(
        hidden_layer_sizes=task.sizes[1:-1],
        activation={"relu": "relu", "sigmoid": "logistic"}[task.activation],
        solver="sgd", learning_rate_init=LEARNING_RATE, momentum=0.0, nesterovs_momentum=False,
        alpha=0.0, batch_size=BATCH_SIZE, max_iter=1, shuffle=True, random_state=seed,
    )


def _sklearn_train(task: Task, data: Data, seed: int) -> tuple[float, float]:
    """scikit-learn in float64, its classic setting (given float32 it computes in float32)."""
    from sklearn.exceptions import ConvergenceWarning

    model = _sklearn_model(task, seed)
    x = data.x_train.astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # one epoch is the point
        start = time.perf_counter()
        model.fit(x, data.t_train)
        seconds = time.perf_counter() - start
    return seconds, float(model.score(data.x_test, data.t_test))


def _matmul_train(task: Task, data: Data, seed: int) -> tuple[float, None]:
    """Only the products: h_k = h_(k-1) W_k forward; dW_k = h_(k-1)^T d, d W_k^T backward.

    No gather (the batches are contiguous slices), no bias, activation, loss or update,
    and every product writes into a buffer allocated beforehand; on all the BLAS threads.
    """
    sizes, bs = task.sizes, BATCH_SIZE
    weights = [W for W, _ in _weights(_initial_network(task, seed))]
    h = [np.empty((bs, s), dtype=np.float32) for s in sizes]
    d = [np.empty((bs, s), dtype=np.float32) for s in sizes]
    d[-1][...] = np.random.default_rng(seed).standard_normal((bs, sizes[-1])) * 0.01
    grads = [np.empty_like(W) for W in weights]
    x = data.x_train
    start = time.perf_counter()
    for begin in range(0, len(x) - bs + 1, bs):
        h[0] = x[begin : begin + bs]
        for k, W in enumerate(weights):
            np.matmul(h[k], W, out=h[k + 1])
        for k in reversed(range(len(weights))):
            np.matmul(h[k].T, d[k + 1], out=grads[k])
            if k:
                np.matmul(d[k + 1], weights[k].T, out=d[k])
    return time.perf_counter() - start, None


def _by_hand_train(task: Task, data: Data, seed: int) -> tuple[float, float]:
    """The same epoch written out in plain NumPy: what a NumPy MLP step costs at the least."""
    seconds, params = _by_hand_epoch(task, data, seed)
    scores = data.x_test
    for k, (W, b) in enumerate(params):
        scores = scores @ W + b
        if k < len(params) - 1:
            scores = _hidden_activation(scores, task.activation)
    return seconds, float(np.mean(scores.argmax(axis=1) == data.t_test))


def _hidden_activation(z: np.ndarray, activation: str) -> np.ndarray:
    """The engine's hidden activation: :func:`scratchnn.functions.sigmoid` (the one
    sigmoid formula, as the layer computes it), or ReLU in place."""
    if activation == "sigmoid":
        return sigmoid(z)
    return np.maximum(z, 0.0, out=z)


def _by_hand_epoch(task: Task, data: Data, seed: int) -> tuple[float, list]:
    """One epoch written out in plain NumPy: no layers, no checks, no callbacks.

    What a NumPy MLP step costs at the least, on the BLAS threads scratchnn's Trainer uses:
    scratchnn's time over this one is what its engine adds. Same weights, batch order and
    arithmetic as the Trainer's (y = h W + b, the hidden activation, the fused softmax
    cross-entropy, the plain SGD update p -= lr g).
    """
    from .training.threads import blas_thread_limit

    net = _initial_network(task, seed)
    params = [(W.copy(), b.copy()) for W, b in _weights(net)]
    grads = [np.empty_like(W) for W, _ in params]
    x, t, n, bs = data.x_train, data.t_train, len(data.x_train), BATCH_SIZE
    xb = np.empty((bs, x.shape[1]), dtype=np.float32)
    rows = np.arange(bs)
    losses: list[float] = []
    start = time.perf_counter()
    perm = np.random.default_rng(seed).permutation(n)
    with blas_thread_limit(_engine_threads(net)):
        for begin in range(0, n, bs):
            idx = perm[begin : begin + bs]
            labels = t[idx]
            h = [np.take(x, idx, axis=0, out=xb[: len(idx)], mode="clip")]
            for k, (W, b) in enumerate(params):
                z = h[-1] @ W
                z += b
                h.append(_hidden_activation(z, task.activation) if k < len(params) - 1 else z)
            d = h.pop()  # scores -> the loss, and its gradient (softmax - one-hot) / N
            d -= d.max(axis=1, keepdims=True)
            picked = d[rows[: len(idx)], labels]
            np.exp(d, out=d)
            total = d.sum(axis=1, keepdims=True)
            losses.append(float(np.log(total).sum() - picked.sum()) / len(idx))
            d /= total
            d[rows[: len(idx)], labels] -= 1.0
            d *= 1.0 / len(idx)
            for k in reversed(range(len(params))):
                W, b = params[k]
                np.matmul(h[k].T, d, out=grads[k])
                db = d.sum(axis=0)
                if k:
                    d = d @ W.T
                    d *= h[k] * (1.0 - h[k]) if task.activation == "sigmoid" else h[k] > 0
                W -= LEARNING_RATE * grads[k]
                b -= LEARNING_RATE * db
    return time.perf_counter() - start, params


def _engine_threads(net: MLP) -> int | None:
    """The BLAS threads scratchnn's Trainer uses for ``net``'s steps (None: the BLAS's own)."""
    from .training.threads import training_blas_threads

    return training_blas_threads(net, BATCH_SIZE)


def _timed_calls(predict: Callable[[], np.ndarray]) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    for _ in range(INFER_CALLS):
        pred = predict()
    return (time.perf_counter() - start) / INFER_CALLS, pred


def _make_infer_runners(net: MLP) -> dict[str, Callable]:
    def scratchnn_infer(task, data, seed):
        seconds, pred = _timed_calls(lambda: net.predict_classes(data.x_test))
        return seconds, float(np.mean(pred == data.t_test))

    def torch_infer(task, data, seed):
        import torch

        model, x = _torch_model(net, task.activation), torch.from_numpy(data.x_test)
        with torch.inference_mode():
            seconds, pred = _timed_calls(lambda: model(x).argmax(dim=1).numpy())
        return seconds, float(np.mean(pred == data.t_test))

    def matmul_infer(task, data, seed):
        weights = [W for W, _ in _weights(net)]
        outs = [np.empty((len(data.x_test), W.shape[1]), dtype=W.dtype) for W in weights]
        x = data.x_test.astype(weights[0].dtype, copy=False)

        def products():
            h = x
            for W, out in zip(weights, outs, strict=True):
                h = np.matmul(h, W, out=out)
            return h

        return _timed_calls(products)[0], None

    return {SCRATCHNN: scratchnn_infer, PYTORCH: torch_infer, MATMUL: matmul_infer}


_TRAIN_RUNNERS = {SCRATCHNN: _scratchnn_train, BY_HAND: _by_hand_train, PYTORCH: _torch_train,
                  SKLEARN: _sklearn_train, MATMUL: _matmul_train}


# --- the ConvNets (issue 19) -------------------------------------------------------------
# scratchnn trains them through its Trainer with Adam; "NumPy by hand" is the same epoch
# with no layers and no checks: the convolutions computed the fastest way found
# (scratchnn._fastconv, in a buffer that stays in the cache), ReLU in place, the pooling,
# Dropout and Adam arithmetic of the layers, written out. Each epoch is timed on its first
# CONV_BATCHES batches and scaled to the whole training set.


def _conv_net(task: Task, seed: int):
    from .models import make_model

    return make_model(task.model, (1, 28, 28), 10, rng=seed)


def _conv_batches(data: Data) -> tuple[np.ndarray, np.ndarray, float]:
    """The images timed (N, 1, 28, 28), their labels, and the factor to a whole epoch."""
    n = min(len(data.x_train), CONV_BATCHES * BATCH_SIZE)
    images = data.x_train[:n].reshape(n, 1, 28, 28)
    return images, data.t_train[:n], len(data.x_train) / n


def _scratchnn_conv_train(task: Task, data: Data, seed: int) -> tuple[float, None]:
    from .optim import Adam
    from .training.trainer import Trainer

    net = _conv_net(task, seed)
    x, t, scale = _conv_batches(data)
    trainer = Trainer(net, Adam(lr=CONV_LR), epochs=1, batch_size=BATCH_SIZE, seed=seed,
                      eval_subset=1, progress=False)
    start = time.perf_counter()
    trainer.fit(x, t)
    return (time.perf_counter() - start) * scale, None


def _by_hand_conv_train(task: Task, data: Data, seed: int) -> tuple[float, None]:
    return _by_hand_conv_epoch(task, data, seed)[0], None


def _conv_plan(net) -> list[tuple]:
    """The network as plain steps: ("conv", W, b, pad), ("relu",), ("pool", size),
    ("flatten",), ("affine", W, b), ("dropout", rng, ratio): copies of its parameters, and
    Generators drawing the masks its Dropout layers would draw."""
    plan: list[tuple] = []
    for layer in net.layers:
        kind = type(layer).__name__
        if kind == "Convolution2D":
            plan.append(("conv", layer.W.copy(), layer.b.copy(), layer.pad))
        elif kind == "Affine":
            plan.append(("affine", layer.W.copy(), layer.b.copy()))
        elif kind == "Dropout":
            plan.append(("dropout", np.random.default_rng(layer.seed), layer.ratio))
        else:
            plan.append(({"ReLU": "relu", "MaxPooling2D": "pool", "Flatten": "flatten"}[kind],
                         *((layer.pool[0],) if kind == "MaxPooling2D" else ())))
    return plan


def _max_pool(h: np.ndarray, size: int, train: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """size x size windows with stride size: (max, index of the first maximal cell)."""
    n, c, height, width = h.shape
    cells = h[:, :, : height // size * size, : width // size * size].reshape(
        n, c, height // size, size, width // size, size)
    out = cells[:, :, :, 0, :, 0].copy()
    argmax = np.zeros(out.shape, np.int16) if train else None
    for k in range(1, size * size):
        cell = cells[:, :, :, k // size, :, k % size]
        if train:
            argmax += (cell > out) * (k - argmax)
        np.maximum(out, cell, out=out)
    return out, argmax


def _unpool(d: np.ndarray, argmax: np.ndarray, shape: tuple[int, ...], size: int) -> np.ndarray:
    dx = np.zeros(shape, dtype=d.dtype)
    for k in range(size * size):
        dx[:, :, k // size : d.shape[2] * size : size, k % size : d.shape[3] * size : size] += \
            d * (argmax == k)
    return dx


def _conv_forward(plan: list[tuple], h: np.ndarray, train: bool) -> tuple[np.ndarray, list]:
    """Scores of the network, and what each step keeps for backward."""
    from ._fastconv import conv_forward

    kept: list = []
    for kind, *args in plan:
        if kind == "conv":
            kept.append(h)
            h = conv_forward(h, args[0], args[1], args[2])
        elif kind == "relu":
            h = np.maximum(h, 0.0, out=h)
            kept.append(h)
        elif kind == "pool":
            kept.append(h.shape)
            h, argmax = _max_pool(h, args[0], train)
            kept.append(argmax)
        elif kind == "flatten":
            kept.append(h.shape)
            h = h.reshape(len(h), -1)
        elif kind == "affine":
            kept.append(h)
            h = h @ args[0] + args[1]
        elif train:  # dropout, as the layer computes it
            draw = args[0].random(h.shape, dtype=h.dtype) >= args[1]
            kept.append(draw * h.dtype.type(1.0 / (1.0 - args[1])))
            h = h * kept[-1]
    return h, kept


def _conv_backward(plan: list[tuple], kept: list, d: np.ndarray) -> list[np.ndarray]:
    """The gradients [dW, db, ...] in the order of the parameters, from dscores ``d``."""
    from ._fastconv import conv_backward

    grads: list[np.ndarray] = []
    for i, (kind, *args) in reversed(list(enumerate(plan))):
        if kind == "conv":
            g = {"W": np.empty_like(args[0]), "b": np.empty_like(args[1])}
            d = conv_backward(kept.pop(), args[0], d, args[2], g, need_dx=i > 0)
            grads += [g["b"], g["W"]]
        elif kind == "relu":
            d *= kept.pop() > 0
        elif kind == "pool":
            argmax = kept.pop()
            d = _unpool(d, argmax, kept.pop(), args[0])
        elif kind == "flatten":
            d = d.reshape(kept.pop())
        elif kind == "affine":
            x = kept.pop()
            grads += [d.sum(axis=0), x.T @ d]
            d = d @ args[0].T
        else:
            d = d * kept.pop()
    return grads[::-1]


def _by_hand_conv_epoch(task: Task, data: Data, seed: int) -> tuple[float, list[np.ndarray]]:
    """The ConvNet's epoch in plain NumPy: forward, the fused softmax cross-entropy,
    backward and Adam's update (the optimizer's formula, one step count for all)."""
    plan = _conv_plan(_conv_net(task, seed))
    params = [p for step in plan if step[0] in ("conv", "affine") for p in step[1:3]]
    moments = [(np.zeros_like(p), np.zeros_like(p)) for p in params]
    x, t, scale = _conv_batches(data)
    b1, b2, eps = 0.9, 0.999, 1e-8
    start = time.perf_counter()
    perm = np.random.default_rng(seed).permutation(len(x))
    for step, begin in enumerate(range(0, len(x), BATCH_SIZE), start=1):
        idx = perm[begin : begin + BATCH_SIZE]
        scores, kept = _conv_forward(plan, x[idx], train=True)
        exp = np.exp(scores - scores.max(axis=1, keepdims=True))
        d = exp / exp.sum(axis=1, keepdims=True) * (1.0 / len(idx))
        d[np.arange(len(idx)), t[idx]] -= 1.0 / len(idx)
        for p, g, (m, v) in zip(params, _conv_backward(plan, kept, d), moments, strict=True):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * (g * g)
            denom = np.sqrt(v) * (1.0 / math.sqrt(1 - b2**step)) + eps
            p -= (CONV_LR / (1 - b1**step)) * m / denom
    return (time.perf_counter() - start) * scale, params


def _conv_infer_runners(task: Task) -> dict[str, Callable]:
    net = _conv_net(task, 0)

    def images(data: Data) -> np.ndarray:
        return data.x_test.reshape(-1, 1, 28, 28)

    def scratchnn_infer(task, data, seed):
        start = time.perf_counter()
        pred = net.predict_classes(images(data), batch_size=CONV_INFER_BATCH)
        return time.perf_counter() - start, float(np.mean(pred == data.t_test))

    def by_hand_infer(task, data, seed):
        plan, x = _conv_plan(net), images(data)
        start = time.perf_counter()
        pred = np.concatenate([_conv_forward(plan, x[i : i + CONV_INFER_BATCH], False)[0]
                               .argmax(axis=1) for i in range(0, len(x), CONV_INFER_BATCH)])
        return time.perf_counter() - start, float(np.mean(pred == data.t_test))

    def torch_infer(task, data, seed):
        import torch

        model, x = _torch_convnet(net).eval(), torch.from_numpy(images(data))
        with torch.inference_mode():
            start = time.perf_counter()
            pred = torch.cat([model(x[i : i + CONV_INFER_BATCH]).argmax(dim=1)
                              for i in range(0, len(x), CONV_INFER_BATCH)]).numpy()
            seconds = time.perf_counter() - start
        return seconds, float(np.mean(pred == data.t_test))

    return {SCRATCHNN: scratchnn_infer, BY_HAND: by_hand_infer, PYTORCH: torch_infer}


def _torch_convnet(net):
    """The same network in PyTorch, with a copy of its weights."""
    import torch
    from torch import nn

    modules = []
    for layer in net.layers:
        kind = type(layer).__name__
        if kind in ("Convolution2D", "Affine"):
            W = layer.W if kind == "Convolution2D" else np.ascontiguousarray(layer.W.T)
            module = (nn.Conv2d(W.shape[1], W.shape[0], W.shape[2:], stride=layer.stride,
                                padding=layer.pad) if kind == "Convolution2D"
                      else nn.Linear(W.shape[1], W.shape[0]))
            with torch.no_grad():
                module.weight.copy_(torch.from_numpy(W))
                module.bias.copy_(torch.from_numpy(layer.b))
        elif kind == "MaxPooling2D":
            module = nn.MaxPool2d(layer.pool, layer.stride, layer.pad)
        else:
            module = {"ReLU": nn.ReLU, "Flatten": nn.Flatten}.get(kind, nn.Dropout)()
        modules.append(module)
    return nn.Sequential(*modules)


def _torch_conv_train(task: Task, data: Data, seed: int) -> tuple[float, None]:
    """PyTorch from the same weights, on the same batches (its own Dropout masks)."""
    import torch

    model = _torch_convnet(_conv_net(task, seed)).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=CONV_LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    x, t, scale = _conv_batches(data)
    x, t = torch.from_numpy(x), torch.from_numpy(t)
    start = time.perf_counter()
    perm = torch.from_numpy(np.random.default_rng(seed).permutation(len(x)))
    for begin in range(0, len(x), BATCH_SIZE):
        idx = perm[begin : begin + BATCH_SIZE]
        optimizer.zero_grad()
        loss_fn(model(x[idx]), t[idx]).backward()
        optimizer.step()
    return (time.perf_counter() - start) * scale, None


# --- environment -------------------------------------------------------------------------


def available_peers() -> dict[str, str]:
    """{implementation: version} of the optional peers that are installed."""
    found = {}
    for impl, module in ((PYTORCH, "torch"), (SKLEARN, "sklearn")):
        try:
            found[impl] = __import__(module).__version__
        except ImportError:
            pass
    return found


@contextlib.contextmanager
def _thread_limit(threads: int) -> Iterator[None]:
    """At most ``threads`` threads for every BLAS / OpenMP pool, PyTorch's included."""
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        yield


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _blas_description() -> str:
    """Which BLAS NumPy runs, its kernel set and its thread count (from threadpoolctl)."""
    from threadpoolctl import threadpool_info

    pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    numpy_pools = [p for p in pools if "numpy" in p.get("filepath", "")] or pools
    if not numpy_pools:
        return "none found"
    p = numpy_pools[0]
    kernel = f", {p['architecture']} kernels" if p.get("architecture") else ""
    layer = f", {p['threading_layer']}" if p.get("threading_layer") else ""
    return (f"{p.get('internal_api')} {p.get('version') or ''}{kernel}{layer}, "
            f"{p.get('num_threads')} threads").replace(" ,", ",")


def _load_average() -> float | None:
    """The 1-minute load average (None where the platform has none)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def _blas_environment() -> str:
    names = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
             "MKL_NUM_THREADS")
    set_ = [f"{n}={os.environ[n]}" for n in names if n in os.environ]
    return ", ".join(set_) if set_ else "none of OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE, *_NUM_THREADS"


# --- measuring ---------------------------------------------------------------------------


def measure(task: Task, runners: dict[str, Callable], data: Data, repeat: int,
            warm_up: bool, settle: float = 0.0) -> list[Result]:
    """Run every implementation ``repeat`` times, interleaved, in a rotating order,
    each after ``settle`` seconds of rest."""
    impls = list(runners)
    results = {impl: Result(task, impl, impl) for impl in impls}
    if warm_up:  # first calls load libraries and start thread pools: not timed
        small = Data(data.x_train[:20 * BATCH_SIZE], data.t_train[:20 * BATCH_SIZE],
                     data.x_test[:BATCH_SIZE], data.t_test[:BATCH_SIZE], data.source)
        for impl in impls:
            runners[impl](task, small, 0)
    for r in range(repeat):
        shift = r % len(impls)
        for impl in impls[shift:] + impls[:shift]:
            gc.collect()
            time.sleep(settle)
            seconds, accuracy = runners[impl](task, data, r)
            results[impl].seconds.append(seconds)
            if accuracy is not None:
                results[impl].accuracies.append(accuracy)
    return list(results.values())


def ratio(a: Result, b: Result) -> float:
    """Median over repeats of a's time / b's time in the same repeat."""
    return statistics.median(x / y for x, y in zip(a.seconds, b.seconds, strict=True))


# Runs the command in its argv and prints its exit status and its peak RSS (ru_maxrss).
# A process's peak counts its parent's memory at the fork, so a small launcher starts the
# training rather than this process, which holds MNIST and the peers (about 1 GB).
_PEAK_RSS_LAUNCHER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
error = child.stderr.read().decode(errors="replace").strip().splitlines()
_, status, usage = os.wait4(child.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss, error[-1] if error else "")
"""


def peak_memory_of_train(data_dir: str | None) -> tuple[float | None, str]:
    """Peak resident set size (MB) of ``python -m scratchnn train`` with its defaults.

    Returns (megabytes, "") or (None, why it was not measured). The figure includes the
    launcher's own memory at the fork, about 10 MB.
    """
    if not hasattr(os, "wait4"):
        return None, "needs os.wait4 (not available on this platform)"
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "scratchnn", "train", "--out", out]
        if data_dir is not None:
            command += ["--data-dir", data_dir]
        launched = subprocess.run([sys.executable, "-c", _PEAK_RSS_LAUNCHER, *command],
                                  capture_output=True, text=True)
    if launched.returncode != 0:
        return None, f"the launcher failed: {launched.stderr.strip()[-300:]}"
    status, maxrss, error = (launched.stdout.strip().split(" ", 2) + [""])[:3]
    if status != "0":
        return None, f"`scratchnn train` failed (exit status {status}): {error}"
    scale = 1024 if sys.platform != "darwin" else 1  # ru_maxrss: kB on Linux, bytes on macOS
    return int(maxrss) * scale / 1e6, ""


# --- the report --------------------------------------------------------------------------


def _seconds(s: float) -> str:
    return f"{s:.2f}" if s >= 1 else f"{s:.3g}"


def table_rows(results: Sequence[Result]) -> list[list[str]]:
    """One row per implementation: task, implementation, seconds, ratios, accuracy."""
    rows = []
    by_impl = {r.impl: r for r in results}
    ours = by_impl.get(SCRATCHNN)
    for i, res in enumerate(results):
        ratios = ["", "", "", ""]
        if res is ours:
            for col, impl in enumerate((PYTORCH, SKLEARN, MATMUL, BY_HAND)):
                if impl in by_impl:
                    ratios[col] = f"{ratio(ours, by_impl[impl]):.2f}x"
        acc = "" if res.accuracy is None else f"{100 * res.accuracy:.2f}%"
        rows.append([res.task.title if i == 0 else "", res.label, _seconds(res.median),
                     *ratios, acc])
    return rows


HEADER = ["task", "implementation", "seconds", "vs PyTorch", "vs scikit-learn",
          "vs matmul bound", "vs NumPy by hand", "test accuracy"]


def format_table(rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(HEADER) + " |",
                 "|---|---|" + "---:|" * (len(HEADER) - 2)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(r[c]) for r in [HEADER, *rows]) for c in range(len(HEADER))]
    fmt = "  ".join(f"{{:{'<' if c < 2 else '>'}{w}}}" for c, w in enumerate(widths))
    return "\n".join(fmt.format(*row) for row in [HEADER, *rows])


def below_bounds(results: Sequence[Result]) -> list[str]:
    """Warnings for NumPy times below what their own products take: scratchnn or NumPy by
    hand faster than the matmul bound, or scratchnn more than 10% faster than NumPy by hand.
    On a steady machine neither happens: the load changed while they ran."""
    by_impl = {r.impl: r for r in results}
    warnings_ = []
    for impl, bound, least in ((SCRATCHNN, MATMUL, 1.0), (BY_HAND, MATMUL, 1.0),
                               (SCRATCHNN, BY_HAND, 0.9)):
        if impl in by_impl and bound in by_impl:
            value = ratio(by_impl[impl], by_impl[bound])
            if value < least:
                warnings_.append(
                    f"{by_impl[impl].task.name}: {impl} measured {value:.2f}x its own {bound} "
                    "row, less than it can take on a steady machine: the load changed while "
                    "it ran, so this task's ratios are not measurements")
    return warnings_


def busy_warning(loads: tuple[float | None, float | None], cpus: int, threads: int
                 ) -> str | None:
    """A warning when other processes used more than half the CPUs: the 1-minute load
    average before the run, or after it less the run's own threads."""
    before, after = loads
    if before is None or (before <= cpus / 2 and after - threads <= cpus / 2):
        return None
    return (f"the machine is busy (load average {before:.2f} before, {after:.2f} after, on "
            f"{cpus} usable CPUs; this run uses {threads} threads): other processes took CPU "
            "time from the runs, so the times and ratios are not reliable; run again when "
            "the load average is below half the CPUs")


def target_lines(all_results: list[list[Result]], memory_mb: float | None) -> list[str]:
    """Each target of issues 6 and 19 with the measured figure and whether it is met."""
    lines = []
    for results in all_results:
        by_impl = {r.impl: r for r in results}
        ours = by_impl.get(SCRATCHNN)
        if ours is None:
            continue
        task = ours.task
        unreliable = bool(below_bounds(results))
        for impl, bound in task.targets.items():
            if impl in by_impl:
                value = ratio(ours, by_impl[impl])
                verdict = "met" if value <= bound else "MISSED"
                verdict += " (unreliable: below its own bound)" if unreliable else ""
                lines.append(f"{task.name}: {value:.2f}x {impl} (target <= {bound}x): {verdict}")
        torch_result = by_impl.get(PYTORCH)
        if task.kind == "train" and torch_result is not None and torch_result.accuracy is not None:
            gap = 100 * abs(ours.accuracy - torch_result.accuracy)
            verdict = "met" if gap <= 0.3 else "MISSED"
            lines.append(f"{task.name}: test accuracy {gap:.2f} points from PyTorch's "
                         f"(target <= 0.3): {verdict}")
    if memory_mb is not None:
        verdict = "met" if memory_mb < MEMORY_LIMIT_MB else "MISSED"
        lines.append(f"memory: peak {memory_mb:.0f} MB for `scratchnn train` "
                     f"(target < {MEMORY_LIMIT_MB} MB): {verdict}")
    return lines


# --- the command -------------------------------------------------------------------------


def _task_names(text: str) -> list[str]:
    known = [t.name for t in TASKS] + [MEMORY]
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown benchmark {', '.join(unknown) or repr(text)}; expected names from "
            f"{', '.join(known)}"
        )
    return names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``scratchnn bench``."""
    names = ", ".join([t.name for t in TASKS] + [MEMORY])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 10 batches of random data (or of MNIST from "
                             "--data-dir or $SCRATCHNN_DATA), one repeat, no memory run")
    parser.add_argument("--repeat", type=positive_int, default=None, metavar="N",
                        help=f"interleaved repeats per implementation (default {REPEAT}; "
                             "1 with --quick)")
    parser.add_argument("--only", type=_task_names, default=None, metavar="NAMES",
                        help=f"comma-separated benchmarks to run, from: {names}")
    parser.add_argument("--threads", type=positive_int, default=None, metavar="N",
                        help="threads for every library (default: the usable CPUs)")
    parser.add_argument("--no-peers", action="store_true",
                        help="time scratchnn and the matmul bound only")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="folder holding mnist/ and dlfs/ (default: $SCRATCHNN_DATA, "
                             "then the cache, then a download)")
    parser.add_argument("--markdown", action="store_true",
                        help="print the table in Markdown, as the README shows it")


def run(args: argparse.Namespace) -> int:
    """Run the benchmarks that ``args`` selects and print the report; returns 0."""
    repeat = args.repeat or (1 if args.quick else REPEAT)
    threads = args.threads or _usable_cpus()
    names = args.only or [t.name for t in TASKS] + ([] if args.quick else [MEMORY])
    tasks = [t for t in TASKS if t.name in names]
    peers = {} if args.no_peers else available_peers()
    notes: list[str] = []
    load_before = _load_average()
    # A smoke run reads MNIST only from a folder it is given, never downloading it.
    data_dir = args.data_dir
    if data_dir is None and args.quick:
        data_dir = os.environ.get("SCRATCHNN_DATA") or None

    data = load_data(data_dir, args.quick) if tasks else None
    all_results: list[list[Result]] = []
    with _thread_limit(threads):
        blas = _blas_description()
        for task in tasks:
            if task.model != "mlp":
                runners = (_conv_infer_runners(task) if task.kind == "infer" else
                           {SCRATCHNN: _scratchnn_conv_train, BY_HAND: _by_hand_conv_train,
                            PYTORCH: _torch_conv_train})
                notes.append(_conv_note(task))
            elif task.kind == "train":
                runners = dict(_TRAIN_RUNNERS)
                if _engine_threads(_initial_network(task, 0)) == 1:
                    notes.append(f"{task.name}: scratchnn's Trainer runs this network's small "
                                 "matrix products on 1 BLAS thread (its engine's rule, "
                                 "scratchnn.training.threads.SMALL_PRODUCT), and so does "
                                 "NumPy by hand; "
                                 f"the peers and the matmul bound keep {threads} threads")
            else:
                net, weights = sample_network(data_dir)
                notes.append(f"{task.name}: {weights}, {net.dtype}, mean of {INFER_CALLS} calls "
                             "per repeat")
                runners = _make_infer_runners(net)
            always = (SCRATCHNN, BY_HAND, MATMUL)  # NumPy only: no optional library
            runners = {impl: fn for impl, fn in runners.items()
                       if impl in always or (impl in task.peers and impl in peers)}
            results = measure(task, runners, data, repeat, warm_up=not args.quick,
                              settle=0.0 if args.quick else SETTLE_SECONDS)
            for res in results:
                if res.impl == SKLEARN:
                    res.label = "scikit-learn (float64)"
            all_results.append(results)

    memory_mb = None
    if MEMORY in names:
        memory_mb, why = peak_memory_of_train(data_dir)
        notes.append(f"memory: peak RSS of `scratchnn train` with its defaults: {memory_mb:.0f} MB"
                     if memory_mb is not None else f"memory: not measured: {why}")
    load_after = _load_average()

    _print_report(args, data, repeat, threads, peers, blas, all_results, memory_mb, notes,
                  (load_before, load_after))
    return 0


def _conv_note(task: Task) -> str:
    if task.kind == "infer":
        return (f"{task.name}: freshly initialised weights (the time does not depend on them), "
                f"batches of {CONV_INFER_BATCH}, one pass per repeat")
    return (f"{task.name}: Adam lr {CONV_LR}; seconds for the whole epoch, scaled from its "
            f"first {CONV_BATCHES} batches; NumPy by hand computes the convolutions the way "
            "scratchnn does (scratchnn._fastconv), the rest of the step written out")


def _print_report(args, data, repeat, threads, peers, blas, all_results, memory_mb, notes,
                  loads) -> None:
    if data is not None:
        what = (f"{data.source}, {len(data.x_train):,} training / {len(data.x_test):,} test "
                f"images; batch {BATCH_SIZE}, SGD lr {LEARNING_RATE}, float32")
        print(f"scratchnn bench: {what}; medians of {repeat} interleaved repeat"
              f"{'s' if repeat > 1 else ''}")
    versions = [f"NumPy {np.__version__}"] + [f"{k} {v}" for k, v in peers.items()]
    print(f"machine: {_cpu_model()}, {_usable_cpus()} usable CPUs, {platform.system()}, "
          f"Python {platform.python_version()}; {', '.join(versions)}")
    print(f"threads: {threads} per library; NumPy's BLAS: {blas}; "
          f"environment: {_blas_environment()}")
    if loads[0] is not None:
        print(f"load average (1 min): {loads[0]:.2f} before, {loads[1]:.2f} after")
        busy = busy_warning(loads, _usable_cpus(), threads)
        if busy:
            print(f"warning: {busy}")
    missing = [p for p in (PYTORCH, SKLEARN) if p not in peers and not args.no_peers]
    if missing:
        notes.append(f"not installed: {', '.join(missing)} (pip install \"scratchnn[bench]\")")
    if all_results:
        print()
        rows = [row for results in all_results for row in table_rows(results)]
        print(format_table(rows, args.markdown))
    for note in notes:
        print(f"note: {note}")
    for results in all_results:
        for warning in below_bounds(results):
            print(f"warning: {warning}")
    if args.quick:
        print("note: a quick run is a smoke test: its figures are not measurements")
        return
    lines = target_lines(all_results, memory_mb)
    if lines:
        print("\ntargets:")
        for line in lines:
            print(f"  {line}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scratchnn.bench",
                                     description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
