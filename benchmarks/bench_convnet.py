"""One ConvNet training epoch: scratchnn against PyTorch (CPU) with the same shape, same run.

    python benchmarks/bench_convnet.py                      # SimpleConvNet, 2 threads
    python benchmarks/bench_convnet.py --threads 1 --batches 600 --rounds 3
    python benchmarks/bench_convnet.py --model deep --batches 20
    python benchmarks/bench_convnet.py --train 10 --data-dir DIR [--time-limit 900]

With ``--train EPOCHS`` it instead trains the model on all of MNIST with Adam (lr 0.001,
batches of 100; ``--cosine`` decays the rate to 0 over the epochs) and prints the test
accuracy and the time of every epoch: the accuracy figures of the README come from these runs.

Each round trains ``--batches`` mini-batches with Adam in scratchnn, then in PyTorch (the
order alternates between rounds so that neither always runs on a warmer machine); the
times are scaled to one epoch of 60,000 images and the median over rounds is reported with
the ratio scratchnn / PyTorch. Both libraries get the same number of BLAS/OpenMP threads.
It also prints what the convolutions of one batch keep between forward and backward (their
inputs; the plain im2col path, for strides above 1, keeps its ``col`` matrices), and the
peak resident memory of the whole run.

Without ``--data-dir`` the images are uniform noise of MNIST's shape (the time of a step
does not depend on the pixel values); with it, the first images of MNIST's training set.
"""

from __future__ import annotations

import argparse
import math
import resource
import statistics
import sys
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from scratchnn.conv import Convolution2D
from scratchnn.models import DeepConvNet, SimpleConvNet
from scratchnn.optim import Adam

EPOCH = 60_000


def _images(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray]:
    n = args.batches * args.batch_size
    if args.data_dir:
        from scratchnn.data import load_mnist

        (x, t), _ = load_mnist(flatten=False, data_dir=args.data_dir)
        return x[:n], t[:n]
    rng = np.random.default_rng(0)
    return rng.random((n, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, n)


def _scratchnn_epoch(net, x: np.ndarray, t: np.ndarray, batch_size: int) -> float:
    opt = Adam(lr=0.001)
    start = time.perf_counter()
    for i in range(0, len(x), batch_size):
        net.backprop(x[i : i + batch_size], t[i : i + batch_size])
        opt.update(net.params, net.grads)
    return (time.perf_counter() - start) * EPOCH / len(x)


def _torch_net(model: str):
    import torch
    from torch import nn

    if model == "simple":
        return nn.Sequential(
            nn.Conv2d(1, 30, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(30 * 12 * 12, 100), nn.ReLU(), nn.Linear(100, 10),
        )
    layers: list[torch.nn.Module] = []
    channels = 1
    for i, (filters, pad) in enumerate([(16, 1), (16, 1), (32, 1), (32, 2), (64, 1), (64, 1)]):
        layers += [nn.Conv2d(channels, filters, 3, padding=pad), nn.ReLU()]
        if i % 2 == 1:
            layers.append(nn.MaxPool2d(2))
        channels = filters
    layers += [nn.Flatten(), nn.Linear(64 * 4 * 4, 50), nn.ReLU(), nn.Dropout(0.5),
               nn.Linear(50, 10), nn.Dropout(0.5)]
    return nn.Sequential(*layers)


def _torch_epoch(net, x, t, batch_size: int) -> float:
    import torch

    opt = torch.optim.Adam(net.parameters(), lr=0.001)
    loss_fn = torch.nn.CrossEntropyLoss()
    net.train()
    start = time.perf_counter()
    for i in range(0, len(x), batch_size):
        opt.zero_grad()
        loss = loss_fn(net(x[i : i + batch_size]), t[i : i + batch_size])
        loss.backward()
        opt.step()
    return (time.perf_counter() - start) * EPOCH / len(x)


def train(args: argparse.Namespace) -> int:
    """Train on MNIST, printing test accuracy and seconds per epoch."""
    from scratchnn.data import load_mnist

    (x, t), (x_test, t_test) = load_mnist(flatten=False, data_dir=args.data_dir)
    net = (SimpleConvNet if args.model == "simple" else DeepConvNet)(seed=args.seed)
    opt = Adam(lr=args.lr)
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    with threadpool_limits(args.threads):
        for epoch in range(1, args.train + 1):
            if args.cosine:
                opt.lr = args.lr * 0.5 * (1 + math.cos(math.pi * (epoch - 1) / args.train))
            began = time.perf_counter()
            order = rng.permutation(len(x))
            losses = []
            for i in range(0, len(x), args.batch_size):
                batch = order[i : i + args.batch_size]
                losses.append(net.backprop(x[batch], t[batch]))
                opt.update(net.params, net.grads)
            seconds = time.perf_counter() - began
            accuracy = net.accuracy(x_test, t_test, batch_size=1000)
            print(f"epoch {epoch}: loss {np.mean(losses):.4f}, test accuracy {accuracy:.4f}, "
                  f"{seconds:.1f} s", flush=True)
            if args.save:
                from scratchnn.files.model_file import save_model

                save_model(net, args.save, {"epoch": epoch, "test_accuracy": accuracy})
            print(f"peak memory so far: {peak_memory_mb():.0f} MiB", flush=True)
            if args.time_limit and time.perf_counter() - start > args.time_limit:
                print(f"stopping: time limit of {args.time_limit} s reached")
                break
    return 0


def kept_bytes(net, batch: np.ndarray) -> tuple[int, int]:
    """(largest, total) bytes that the convolutions keep for backward after a training
    forward: their col matrices on the plain im2col path, else their inputs."""
    net.forward(batch, train=True)
    sizes = [(layer.x if layer.col is None else layer.col).nbytes
             for layer in net.layers if isinstance(layer, Convolution2D)]
    return max(sizes), sum(sizes)


def peak_memory_mb() -> float:
    """Peak resident set size of this process so far (ru_maxrss: kB on Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["simple", "deep"], default="simple")
    parser.add_argument("--batches", type=int, default=100, help="mini-batches per round")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data-dir", default=None, help="folder holding mnist/ (optional)")
    parser.add_argument("--no-torch", action="store_true", help="time scratchnn alone")
    parser.add_argument("--train", type=int, default=0, metavar="EPOCHS",
                        help="train on MNIST for EPOCHS epochs instead (needs --data-dir)")
    parser.add_argument("--lr", type=float, default=0.001, help="Adam's learning rate (--train)")
    parser.add_argument("--cosine", action="store_true",
                        help="decay the learning rate to 0 over the epochs (cosine, --train)")
    parser.add_argument("--seed", type=int, default=0, help="initialisation and shuffling")
    parser.add_argument("--time-limit", type=float, default=0, help="seconds (--train)")
    parser.add_argument("--save", default=None, help="model file to write after each epoch")
    args = parser.parse_args(argv)
    if args.train:
        return train(args)

    x, t = _images(args)
    make = SimpleConvNet if args.model == "simple" else DeepConvNet
    largest, total = kept_bytes(make(seed=0), x[: args.batch_size])
    print(f"model {args.model}, {args.batches} batches of {args.batch_size} per round, "
          f"{args.threads} thread(s)")
    print(f"kept by the convolutions for backward, one batch: largest "
          f"{largest / 2**20:.1f} MiB, all layers {total / 2**20:.1f} MiB")

    torch = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            print("PyTorch is not installed: timing scratchnn alone (pip install torch)")
    if torch is not None:
        torch.set_num_threads(args.threads)
        torch.manual_seed(0)
        xt, tt = torch.from_numpy(x), torch.from_numpy(t.astype(np.int64))

    with threadpool_limits(args.threads):
        for pool in threadpool_info():
            kernel = f", kernel {pool['architecture']}" if pool.get("architecture") else ""
            print(f"thread pool: {pool['internal_api']} {pool.get('version') or ''}{kernel}, "
                  f"{pool['num_threads']} thread(s), {pool['filepath']}")
        ours, theirs = [], []
        for r in range(args.rounds):
            runs = [("scratchnn", ours), ("pytorch", theirs)]
            if r % 2:
                runs.reverse()
            for name, times in runs:
                if name == "scratchnn":
                    times.append(_scratchnn_epoch(make(seed=r), x, t, args.batch_size))
                elif torch is not None:
                    times.append(_torch_epoch(_torch_net(args.model), xt, tt, args.batch_size))
            print(f"round {r + 1}: scratchnn {ours[-1]:.1f} s/epoch"
                  + (f", pytorch {theirs[-1]:.1f} s/epoch" if theirs else ""))

    ours_s = statistics.median(ours)
    line = f"median: scratchnn {ours_s:.1f} s/epoch"
    if theirs:
        theirs_s = statistics.median(theirs)
        line += f", pytorch {theirs_s:.1f} s/epoch, ratio {ours_s / theirs_s:.2f}x"
    print(line)
    print(f"peak memory: {peak_memory_mb():.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
