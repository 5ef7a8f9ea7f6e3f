"""Benchmarks: scratchnn against PyTorch, scikit-learn and the matrix-multiplication bound.

    scratchnn bench                      # every benchmark, 5 interleaved repeats (a few minutes)
    scratchnn bench --quick              # a smoke run: a few batches of random data, seconds
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
load average is printed with the table: numbers taken on a busy machine are worth little.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
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

__all__ = ["TASKS", "Task", "Data", "Result", "add_arguments", "run", "main"]

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
    #: upper bounds on scratchnn's time as a fraction of each implementation's (issue 6)
    targets: dict[str, float] = field(default_factory=dict)


TASKS = (
    Task("relu", "784-100-10 ReLU, 1 epoch", (784, 100, 10), "relu", "train",
         (PYTORCH, SKLEARN, MATMUL), {PYTORCH: 0.6, SKLEARN: 0.3, MATMUL: 1.5}),
    Task("sigmoid", "784-50-10 sigmoid (the book's), 1 epoch", (784, 50, 10), "sigmoid", "train",
         (PYTORCH, SKLEARN, MATMUL), {PYTORCH: 0.6}),
    Task("large", "784-1000-1000-10 ReLU, 1 epoch", (784, 1000, 1000, 10), "relu", "train",
         (PYTORCH, MATMUL), {PYTORCH: 1.1}),
    Task("inference", "book's 784-50-100-10 sigmoid, 10,000 test images", (784, 50, 100, 10),
         "sigmoid", "infer", (PYTORCH, MATMUL), {PYTORCH: 1.0}),
)
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


def target_lines(all_results: list[list[Result]], memory_mb: float | None) -> list[str]:
    """Each target of issue 6 with the measured figure and whether it is met."""
    lines = []
    for results in all_results:
        by_impl = {r.impl: r for r in results}
        ours = by_impl.get(SCRATCHNN)
        if ours is None:
            continue
        task = ours.task
        for impl, bound in task.targets.items():
            if impl in by_impl:
                value = ratio(ours, by_impl[impl])
                verdict = "met" if value <= bound else "MISSED"
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
                        help="smoke run: 10 batches of random data (or of MNIST with "
                             "--data-dir), one repeat, no memory run")
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

    data = load_data(args.data_dir, args.quick) if tasks else None
    all_results: list[list[Result]] = []
    with _thread_limit(threads):
        blas = _blas_description()
        for task in tasks:
            if task.kind == "train":
                runners = dict(_TRAIN_RUNNERS)
                if _engine_threads(_initial_network(task, 0)) == 1:
                    notes.append(f"{task.name}: scratchnn's Trainer runs this network's small "
                                 "matrix products on 1 BLAS thread (its engine's rule, "
                                 "scratchnn.training.threads.SMALL_PRODUCT), and so does "
                                 "NumPy by hand; "
                                 f"the peers and the matmul bound keep {threads} threads")
            else:
                net, weights = sample_network(args.data_dir)
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
        memory_mb, why = peak_memory_of_train(args.data_dir)
        notes.append(f"memory: peak RSS of `scratchnn train` with its defaults: {memory_mb:.0f} MB"
                     if memory_mb is not None else f"memory: not measured: {why}")
    load_after = _load_average()

    _print_report(args, data, repeat, threads, peers, blas, all_results, memory_mb, notes,
                  (load_before, load_after))
    return 0


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
    missing = [p for p in (PYTORCH, SKLEARN) if p not in peers and not args.no_peers]
    if missing:
        notes.append(f"not installed: {', '.join(missing)} (pip install \"scratchnn[bench]\")")
    if all_results:
        print()
        rows = [row for results in all_results for row in table_rows(results)]
        print(format_table(rows, args.markdown))
    for note in notes:
        print(f"note: {note}")
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
