"""The ``scratchnn`` command: train, evaluate, predict, plot, gradcheck, reproduce, bench.

    scratchnn train                      # an MLP on MNIST, >= 97.5% test accuracy
    scratchnn evaluate runs/NAME/model.npz
    scratchnn predict runs/NAME/model.npz my_digit.png
    scratchnn plot activations -o activations.png

Exit status: 0 on success, 1 on failure, 2 on a usage error, 130 when interrupted (Ctrl-C).
Errors are reported in one line; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
from tqdm import tqdm

from . import plots
from ._files import make_folders, remove_empty_folders
from .gradient import gradient_check, gradient_descent
from .images import load_digit
from .network import ACTIVATIONS, MLP, Sequential, _classes_of
from .optim import OPTIMIZERS, make_optimizer
from .serialization import load_model, read_archive, save_model
from .train import (
    CHECKPOINT_FORMAT,
    Callback,
    CosineDecay,
    EarlyStopping,
    StepDecay,
    Trainer,
    classification_report,
    confusion_matrix,
    evaluate,
)

__all__ = ["main", "build_parser"]

DATASETS = ("mnist", "fashion-mnist", "catvnoncat", "xor", "spirals", "circles")
MODELS = ("mlp", "convnet", "deepconvnet")
INITS = ("auto", "normal", "xavier", "glorot", "he", "course")
#: Commands whose options and work live in other modules, imported only when used.
DELEGATED = {
    "reproduce": ("scratchnn.reproduce", "re-run the book's and the course's experiments"),
    "bench": ("scratchnn.bench", "time training steps (against PyTorch when installed)"),
}


class UsageError(ValueError):
    """Options that do not fit together: reported like argparse's errors, exit status 2."""


# --- data --------------------------------------------------------------------------------


class Dataset(NamedTuple):
    x_train: np.ndarray
    t_train: np.ndarray
    x_test: np.ndarray
    t_test: np.ndarray
    classes: tuple[str, ...]


def load_dataset(name: str, data_dir: str | None = None, images: bool = False,
                 dtype=np.float32, limit: int | None = None) -> Dataset:
    """A data set by name, pixels in [0, 1]; ``images`` keeps (N, C, H, W) for convnets.

    ``limit`` keeps the first ``limit`` training and test samples.
    """
    from . import data

    if name in ("mnist", "fashion-mnist"):
        load = data.load_mnist if name == "mnist" else data.load_fashion_mnist
        (x, t), (xt, tt) = load(flatten=not images, dtype=dtype, data_dir=data_dir)
        classes = (tuple(str(d) for d in range(10)) if name == "mnist"
                   else tuple(data.FASHION_MNIST_CLASSES))
    elif name == "catvnoncat":
        cats = data.load_catvnoncat(data_dir=data_dir)
        x, t, xt, tt = cats.train_x, cats.train_y, cats.test_x, cats.test_y
        # (N, 64, 64, 3) bytes -> (N, 3, 64, 64) or (N, 12288), in [0, 1]
        x, xt = (a.transpose(0, 3, 1, 2) if images else a.reshape(len(a), -1) for a in (x, xt))
        x, xt = (a.astype(dtype) / 255 for a in (x, xt))
        classes = tuple(cats.classes)
    elif name in ("xor", "spirals", "circles"):
        if images:
            raise UsageError(f"{name} is a set of 2-D points: train it with --model mlp")
        make = {"xor": data.make_xor, "spirals": data.make_spirals,
                "circles": data.make_circles}[name]
        n = {"xor": 400, "spirals": 300, "circles": 800}[name]
        noise = {"xor": {"noise": 0.1}, "spirals": {}, "circles": {}}[name]
        # Fixed seeds: the data set stays the same whatever --seed the model gets.
        x, t = make(n, seed=0, dtype=dtype, **noise)
        xt, tt = make(n, seed=1, dtype=dtype, **noise)
        t, tt = (a.reshape(-1).astype(np.int64) for a in (t, tt))
        classes = tuple(str(k) for k in range(int(t.max()) + 1))
    else:
        raise UsageError(f"unknown data set {name!r}; expected one of {', '.join(DATASETS)}")
    if limit:
        x, t, xt, tt = x[:limit], t[:limit], xt[:limit], tt[:limit]
    return Dataset(x, t, xt, tt, classes)


def _input_shape(model: Sequential) -> tuple[int, ...]:
    """The shape of one input sample, from the model file or from its first weight."""
    shape = getattr(model, "meta", {}).get("metadata", {}).get("input_shape")
    if shape:
        return tuple(shape)
    W = model.params["W1"]
    return (W.shape[0],) if W.ndim == 2 else (W.shape[1], 28, 28)


def _predictions(model: Sequential, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predicted classes and (N, classes) probabilities, from one inference pass.

    The classes are :meth:`Sequential.predict_classes`'s; a single sigmoid output p
    becomes the two columns 1-p, p.
    """
    scores = model.predict(x, batch_size=1000)
    probs = model.loss_layer.output(scores)
    if probs.shape[1] == 1:
        probs = np.hstack([1 - probs, probs])
    return _classes_of(scores), probs


def _in_run(path: str | Path, name: str) -> Path:
    """``path``, or the file ``name`` inside it when it is a run folder."""
    path = Path(path)
    return path / name if path.is_dir() else path


def _model_dataset(model: Sequential, args) -> Dataset:
    meta = getattr(model, "meta", {}).get("metadata", {})
    # A checkpoint records the data set among the run's options.
    name = args.dataset or meta.get("dataset") or meta.get("options", {}).get("dataset")
    if name is None:
        raise UsageError("the model file does not say which data set it was trained on: "
                         "pass --dataset")
    images = len(_input_shape(model)) == 3
    return load_dataset(name, args.data_dir, images=images, dtype=model.dtype, limit=args.limit)


# --- train -------------------------------------------------------------------------------


class _EpochTable(Callback):
    """Prints one row per epoch (through tqdm, so that a progress bar stays intact).

    ``val_label`` names the set whose accuracy is the fourth column ("test" or "val").
    """

    def __init__(self, val_label: str = "test", stream=None) -> None:
        self.stream = stream
        self.header = (f"{'epoch':>5}  {'loss':>8}  {'train acc':>9}  "
                       f"{val_label + ' acc':>8}  {'lr':>9}  {'time':>6}")

    def _write(self, line: str) -> None:
        tqdm.write(line, file=self.stream or sys.stdout)

    def on_train_begin(self, trainer):
        self._write(self.header)

    def on_epoch_end(self, trainer, epoch, logs):
        def percent(value, width):
            return f"{100 * value:{width - 1}.2f}%" if value is not None else "-".rjust(width)

        self._write(f"{epoch:>5}  {logs['loss']:8.4f}  {percent(logs['train_acc'], 9)}  "
                    f"{percent(logs['val_acc'], 8)}  {logs['lr']:9.3g}  {logs['time']:5.1f}s")


#: Defaults of ``scratchnn train`` options left out, for MNIST and Fashion-MNIST ...
_TRAIN_DEFAULTS = {"dataset": "mnist", "model": "mlp", "hidden": [256], "activation": "relu",
                   "init": "auto", "optimizer": "adam", "lr": None, "momentum": 0.9,
                   "weight_decay": 0.0, "epochs": 10, "batch_size": 100, "seed": 0,
                   "dtype": "float32", "limit": None, "eval_subset": 10_000,
                   "schedule": "cosine", "patience": 0, "val_split": None,
                   "checkpoint_every": 1}
#: ... and what suits the small data sets better (lr None: the optimizer's own).
_DATASET_DEFAULTS = {
    "xor": {"epochs": 50, "lr": 0.01},
    "spirals": {"epochs": 50, "lr": 0.01},
    "circles": {"epochs": 50, "lr": 0.01},
    # 209 pictures: small batches of plain SGD generalise better than Adam here.
    "catvnoncat": {"optimizer": "sgd", "lr": 0.01, "batch_size": 32, "epochs": 50},
}

#: Options of ``scratchnn train`` that define a run: kept in checkpoints to resume it.
_RUN_OPTIONS = ("dataset", "model", "hidden", "activation", "init", "optimizer", "lr",
                "momentum", "weight_decay", "epochs", "batch_size", "seed", "dtype",
                "limit", "eval_subset", "schedule", "patience", "val_split",
                "checkpoint_every")


def cmd_train(args) -> int:
    # The parser leaves every run option None unless it is on the command line.
    given = {key: getattr(args, key) for key in _RUN_OPTIONS if getattr(args, key) is not None}
    checkpoint = None
    earlier_training = 0.0  # seconds that the resumed run had trained before
    if args.resume:
        checkpoint = _in_run(args.resume, "checkpoint.npz")
        if not checkpoint.is_file():
            raise FileNotFoundError(f"{checkpoint}: no such checkpoint (a run folder holds "
                                    "checkpoint.npz once its first epoch is done)")
        meta = read_archive(checkpoint, formats=(CHECKPOINT_FORMAT,), meta_only=True)[1]
        saved, done = meta["metadata"]["options"], meta["training"]["epoch"]
        _check_resume_options(given, saved, checkpoint)
        earlier_training = meta["training"]["history"].get("wall_time", 0.0)
        for key in _RUN_OPTIONS:
            setattr(args, key, saved.get(key, 0.0 if key == "val_split" else None))
        if "epochs" in given:
            args.epochs = given["epochs"]
        if done >= args.epochs:
            why = (f"--epochs {args.epochs} is not more than that" if "epochs" in given
                   else f"that is all the {args.epochs} epochs it was started with")
            raise UsageError(f"the run in {checkpoint} has trained {done} epochs; {why}: "
                             f"pass --epochs N with N > {done} to train it further")
        args.out = args.out or str(checkpoint.parent)
    else:
        dataset = given.get("dataset", _TRAIN_DEFAULTS["dataset"])
        chosen = {**_TRAIN_DEFAULTS, **_DATASET_DEFAULTS.get(dataset, {}), **given}
        _check_options_apply(given, chosen)
        for key, value in chosen.items():
            setattr(args, key, value)
    if args.patience and args.val_split is None:
        # Early stopping decides on the data it watches: never let that be the test set.
        args.val_split = 0.1
        print("--patience: holding out 10% of the training set for validation "
              "(set --val-split to change it)")
    elif args.patience and not args.val_split:
        raise UsageError("--patience needs a validation set: give --val-split a fraction > 0")
    args.val_split = args.val_split or 0.0
    options = {key: getattr(args, key) for key in _RUN_OPTIONS}
    out, made = _output_folder(args, checkpoint)
    try:
        return _train(args, out, checkpoint, options, earlier_training)
    except BaseException:
        remove_empty_folders(made)  # a run that wrote nothing leaves no empty folder behind
        raise


def _train(args, out: Path, checkpoint: Path | None, options: dict,
           earlier_training: float) -> int:
    """The run itself, into ``out``: load the data, build, train, evaluate, save."""
    dtype = np.dtype(args.dtype)

    started = time.perf_counter()
    ds = load_dataset(args.dataset, args.data_dir, images=args.model != "mlp", dtype=dtype,
                      limit=args.limit)
    model_rng, train_rng = (np.random.default_rng(s)
                            for s in np.random.SeedSequence(args.seed).spawn(2))
    x_train, t_train, x_val, t_val = _validation_split(ds, args.val_split)
    val_label = "val" if args.val_split else "test"
    model = _build_model(args, ds, dtype, model_rng)
    optimizer = _build_optimizer(args)
    callbacks: list[Callback] = [_EpochTable(val_label)]
    if args.schedule == "cosine":
        callbacks.append(CosineDecay(args.epochs))
    elif args.schedule == "step":
        callbacks.append(StepDecay(max(1, args.epochs // 3), gamma=0.1))
    if args.patience:
        callbacks.append(EarlyStopping("val_acc", patience=args.patience))
    trainer = Trainer(
        model, optimizer, epochs=args.epochs, batch_size=args.batch_size, rng=train_rng,
        eval_subset=args.eval_subset or None, callbacks=callbacks, progress=args.progress,
        checkpoint_dir=out if args.checkpoint_every else None,
        checkpoint_every=args.checkpoint_every or 1, metadata={"options": options},
    )
    if args.val_split:
        held_out = f"validating on {len(x_val):,}, testing on {len(ds.x_test):,} at the end"
    else:
        held_out = f"testing on {len(ds.x_test):,}"
    print(f"training {type(model).__name__} ({model.n_params():,} parameters) on "
          f"{args.dataset}: {len(x_train):,} samples, {held_out}; {optimizer!r}, "
          f"{args.epochs} epoch{'s' if args.epochs != 1 else ''}, batch size {args.batch_size}")
    try:
        history = trainer.fit(x_train, t_train, x_val, t_val, resume=checkpoint)
    except KeyboardInterrupt:
        if trainer.checkpoint_path is not None and trainer.checkpoint_path.exists():
            print(f"interrupted; continue with: scratchnn train --resume {out}",
                  file=sys.stderr)
        raise
    if history.stopped_reason:
        print(history.stopped_reason)

    # Measured again: early stopping may have put back an earlier epoch's weights.
    pred, probs = _predictions(model, ds.x_test)
    test_acc = float(np.mean(pred == ds.t_test))
    k = args.eval_subset or None
    _, train_acc = evaluate(model, x_train[:k], t_train[:k])
    val_acc = evaluate(model, x_val, t_val)[1] if args.val_split else None
    metadata = {
        "dataset": args.dataset,
        "classes": list(ds.classes),
        "input_shape": list(ds.x_train.shape[1:]),
        "options": options,
        "epochs_trained": history.epochs,
        "test_accuracy": test_acc,
        "val_accuracy": val_acc,
        "train_accuracy": train_acc,
        "wall_time": history.wall_time,
    }
    save_model(model, out / "model.npz", metadata)
    history.save_json(out / "history.json")
    history.save_csv(out / "history.csv")
    if not args.no_plots:
        _training_plots(model, ds, history, out, val_label, pred, probs)
    elapsed = time.perf_counter() - started
    result = f"test accuracy {100 * test_acc:.2f}%" if test_acc is not None else "done"
    saved = "model.npz and history" if args.no_plots else "model.npz, history and plots"
    training = f"training {history.wall_time - earlier_training:.1f} s"
    if checkpoint is not None:
        training += f", {history.wall_time:.1f} s over all sessions"
    print(f"{result} in {elapsed:.1f} s ({training}); saved {saved} in {out}")
    return 0


def _output_folder(args, checkpoint: Path | None) -> tuple[Path, list[Path]]:
    """(--out, the folders this call created for it), checked before any work: a folder,
    and not another run's (but the resumed one's).

    Without --out, a new folder runs/DATASET-MODEL-TIMESTAMP is created here, at once:
    two runs started within the same second each get their own (-2, -3, ...).
    """
    if args.out is None:
        runs = Path("runs")
        if not runs.is_dir() and (runs.exists() or runs.is_symlink()):
            raise UsageError(f"{runs} is not a folder: give --out DIR")
        made = make_folders(runs)
        stem = runs / f"{args.dataset}-{args.model}-{time.strftime('%Y%m%d-%H%M%S')}"
        out, n = stem, 1
        while True:
            try:
                out.mkdir()
                return out, [out.absolute(), *made]
            except FileExistsError:
                n += 1
                out = stem.with_name(f"{stem.name}-{n}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give a folder for the run's files")
    if checkpoint is None or out.resolve() != checkpoint.parent.resolve():
        earlier = [name for name in ("model.npz", "checkpoint.npz") if (out / name).exists()]
        if earlier:
            raise UsageError(f"--out {out} already holds a run ({' and '.join(earlier)}); "
                             f"give another folder, or continue it with --resume {out}")
    return out, []


def _check_resume_options(given: dict, saved: dict, checkpoint: Path) -> None:
    """A resumed run keeps its settings: an option that would change one is an error."""
    changed = [f"--{key.replace('_', '-')} {_shown(value)} (the run has "
               f"{_shown(saved.get(key))})"
               for key, value in given.items() if key != "epochs" and value != saved.get(key)]
    if changed:
        raise UsageError(f"{checkpoint} continues with the settings it was started with; "
                         f"leave out {', '.join(changed)}, or start a new run without --resume")


def _check_options_apply(given: dict, chosen: dict) -> None:
    """Options ``given`` on the command line that the ``chosen`` model or optimizer (given
    or by default) would ignore are refused, not dropped."""
    model, optimizer = chosen["model"], chosen["optimizer"]
    mlp_only = [f"--{key}" for key in ("hidden", "activation", "init") if key in given]
    if model != "mlp" and mlp_only:
        raise UsageError(f"{', '.join(mlp_only)} shape the MLP; --model {model} has a fixed "
                         "architecture")
    if "momentum" in given and optimizer not in ("momentum", "nesterov"):
        raise UsageError(f"--momentum is for --optimizer momentum or nesterov, not {optimizer}")


def _shown(value) -> str:
    """An option's value as it is written on the command line."""
    if isinstance(value, list):
        return ",".join(map(str, value)) or "''"
    return str(value)


def _validation_split(ds: Dataset, fraction: float):
    """(x_train, t_train, x_val, t_val): a random ``fraction`` of the training set held out.

    The subset is drawn with a fixed seed, not --seed: runs with different seeds are then
    compared on the same validation samples. Random, not the last samples, because toy
    sets (and many files) are stored class by class.
    """
    if not fraction:
        return ds.x_train, ds.t_train, ds.x_test, ds.t_test
    n = len(ds.x_train)
    n_val = round(fraction * n)
    if not 0 < n_val < n:
        raise UsageError(f"--val-split {fraction} of {n} training samples leaves no "
                         "training or no validation sample")
    held_out = np.zeros(n, dtype=bool)
    held_out[np.random.default_rng(0).choice(n, size=n_val, replace=False)] = True
    return (ds.x_train[~held_out], ds.t_train[~held_out],
            ds.x_train[held_out], ds.t_train[held_out])


def _build_model(args, ds: Dataset, dtype: np.dtype, rng: np.random.Generator) -> Sequential:
    classes = len(ds.classes)
    if args.model == "mlp":
        if args.hidden and min(args.hidden) < 1:
            raise UsageError(f"--hidden sizes must be positive, got {args.hidden}")
        return MLP([ds.x_train.shape[1], *args.hidden, classes], activation=args.activation,
                   init=args.init, dtype=dtype, rng=rng, weight_decay=args.weight_decay)
    from . import convnet

    cls = convnet.SimpleConvNet if args.model == "convnet" else convnet.DeepConvNet
    return cls(input_dim=ds.x_train.shape[1:], classes=classes, dtype=dtype, rng=rng,
               weight_decay=args.weight_decay)


def _build_optimizer(args):
    kwargs = {} if args.lr is None else {"lr": args.lr}
    if args.optimizer in ("momentum", "nesterov"):
        kwargs["momentum"] = args.momentum
    return make_optimizer(args.optimizer, **kwargs)


def _training_plots(model: Sequential, ds: Dataset, history, out: Path, val_label: str,
                    pred: np.ndarray, probs: np.ndarray) -> None:
    """The figures of a run; ``pred`` and ``probs`` are the model's on the test set."""
    label = "validation" if val_label == "val" else val_label
    plots.plot_learning_curves(history, val_label=label, path=out / "learning_curves.png")
    cm = confusion_matrix(ds.t_test, pred, len(ds.classes))
    plots.plot_confusion_matrix(cm, ds.classes, path=out / "confusion_matrix.png")
    if _is_images(ds):
        plots.plot_misclassified(ds.x_test, ds.t_test, pred, probs, ds.classes,
                                 image_shape=_display_shape(ds), path=out / "misclassified.png")
        if model.params["W1"].ndim == 4 or model.params["W1"].shape[0] == 784:
            plots.plot_first_layer_weights(model, path=out / "first_layer_weights.png")


def _is_images(ds: Dataset) -> bool:
    """Pictures (which a grid of misclassified samples can show), not 2-D points."""
    return ds.x_train.ndim > 2 or ds.x_train.shape[1] > 2


def _display_shape(ds: Dataset) -> tuple[int, ...] | None:
    if ds.x_train.ndim == 2 and ds.x_train.shape[1] == 64 * 64 * 3:  # cat pictures
        return (64, 64, 3)
    return None


# --- evaluate / predict ------------------------------------------------------------------


def cmd_evaluate(args) -> int:
    model_file = _in_run(args.model_file, "model.npz")
    model = load_model(model_file)
    ds = _model_dataset(model, args)
    pred, probs = _predictions(model, ds.x_test)
    k = max(len(ds.classes), probs.shape[1])
    cm = confusion_matrix(ds.t_test, pred, k)
    report = classification_report(cm)
    names = list(ds.classes) + [str(i) for i in range(len(ds.classes), k)]
    accuracy = float(np.trace(cm) / cm.sum())
    print(f"{args.model_file}: accuracy {100 * accuracy:.2f}% on {cm.sum():,} test samples")
    width = max(5, *(len(n) for n in names))
    print(f"{'class':<{width}}  precision  recall  support")
    for i, name in enumerate(names):
        print(f"{name:<{width}}  {report['precision'][i]:9.4f}  {report['recall'][i]:6.4f}  "
              f"{report['support'][i]:7d}")
    print("confusion matrix (rows: true class, columns: predicted):")
    cell = max(4, len(str(cm.max())) + 1)
    print(" " * width + "".join(f"{n[:cell - 1]:>{cell}}" for n in names))
    for i, name in enumerate(names):
        print(f"{name:<{width}}" + "".join(f"{v:>{cell}d}" for v in cm[i]))
    out = Path(args.out) if args.out else model_file.parent
    # Figures of part of the test set get their own names: the run's stay as they are.
    part = f"-first{args.limit}" if args.limit else ""
    saved = f"confusion_matrix{part}.png"
    plots.plot_confusion_matrix(cm, names, path=out / saved)
    if _is_images(ds):
        misclassified = f"misclassified{part}.png"
        plots.plot_misclassified(ds.x_test, ds.t_test, pred, probs, names,
                                 image_shape=_display_shape(ds), path=out / misclassified)
        saved += f" and {misclassified}"
    print(f"saved {saved} in {out}")
    return 0


def cmd_predict(args) -> int:
    model = load_model(_in_run(args.model_file, "model.npz"))
    shape = _input_shape(model)
    if int(np.prod(shape)) != 28 * 28:
        raise UsageError(f"predict reads 28x28 digits; this model takes inputs of shape {shape}")
    classes = getattr(model, "meta", {}).get("metadata", {}).get("classes")
    # One unreadable picture is reported and skipped: the others still get their answer.
    paths, digits = [], []
    for path in args.images:
        try:
            digits.append(load_digit(path))
            paths.append(path)
        except (OSError, ValueError) as err:
            print(f"scratchnn predict: error: {_one_line(err)}", file=sys.stderr)
    if digits:
        x = np.stack(digits).astype(model.dtype).reshape(len(digits), *shape)
        _, probs = _predictions(model, x)
        for path, p in zip(paths, probs, strict=True):
            top = np.argsort(p)[::-1][: args.top]
            ranked = "  ".join(f"{classes[k] if classes else k} ({100 * p[k]:.1f}%)"
                               for k in top)
            print(f"{path}: {ranked}")
    return 0 if len(paths) == len(args.images) else 1


# --- plot --------------------------------------------------------------------------------


def _sphere(x: np.ndarray) -> float:
    return float(x[0] ** 2 + x[1] ** 2)


def _elongated(x: np.ndarray) -> float:
    return float(x[0] ** 2 / 20 + x[1] ** 2)


#: Figures drawn from formulas alone, not from a model or history file.
_FIGURES_WITHOUT_FILE = ("activations", "activation-histograms", "gradient-descent")

#: The book's functions for gradient descent: f, start point, learning rate, steps.
_DESCENT_FUNCTIONS = {
    "sphere": (_sphere, (-3.0, 4.0), 0.1, 20),  # chapter 4: x0^2 + x1^2
    "elongated": (_elongated, (-7.0, 2.0), 0.9, 40),  # chapter 6: x0^2 / 20 + x1^2
}


def cmd_plot(args) -> int:
    out = Path(args.output or f"{args.figure}.png")
    if args.source is not None and args.figure in _FIGURES_WITHOUT_FILE:
        raise UsageError(f"plot {args.figure} draws from no file; got {args.source!r}")
    if args.figure == "activations":
        plots.plot_activations(path=out)
    elif args.figure == "activation-histograms":
        from .experiments import plot_activation_histograms

        plot_activation_histograms(activation=args.activation, path=out)
    elif args.figure == "gradient-descent":
        f, start, lr, steps = _DESCENT_FUNCTIONS[args.function]
        lr = args.lr if args.lr is not None else lr
        steps = args.steps if args.steps is not None else steps
        _, points = gradient_descent(f, np.array(start), lr=lr, step_num=steps,
                                     return_path=True)
        if args.function == "elongated":  # a wide view: the bowl is 20 times longer in x0
            plots.plot_gradient_descent_path(f, points, xlim=(-9, 9), ylim=(-6, 6), path=out)
        else:
            plots.plot_gradient_descent_path(f, points, path=out)
    elif args.source is None:
        raise UsageError(f"plot {args.figure} needs a FILE: "
                         + ("a history.json" if args.figure == "curves" else "a model.npz"))
    elif args.figure == "curves":
        from .train import History

        args.source = str(_in_run(args.source, "history.json"))
        try:
            history = History.load_json(args.source)
        except (UnicodeDecodeError, ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{args.source}: not a history.json written by scratchnn train "
                             f"({type(err).__name__}: {err})") from err
        plots.plot_learning_curves(history, val_label="test", path=out)
    else:
        model = load_model(_in_run(args.source, "model.npz"))
        if args.figure == "weights":
            W = model.params["W1"]
            if W.ndim == 2 and math.isqrt(W.shape[0]) ** 2 != W.shape[0]:
                raise UsageError(f"{args.source}: its first layer takes {W.shape[0]} inputs, "
                                 "not a square grey picture: its weights do not show as images")
            plots.plot_first_layer_weights(model, path=out)
        else:
            ds = _model_dataset(model, args)
            pred, probs = _predictions(model, ds.x_test)
            if args.figure == "confusion":
                cm = confusion_matrix(ds.t_test, pred, len(ds.classes))
                plots.plot_confusion_matrix(cm, ds.classes, path=out)
            elif not _is_images(ds):
                raise UsageError(f"{args.source}: the model reads 2-D points, not pictures: "
                                 "there are no images to show")
            else:
                plots.plot_misclassified(ds.x_test, ds.t_test, pred, probs, ds.classes,
                                         image_shape=_display_shape(ds), path=out)
    print(f"wrote {out}")
    return 0


# --- gradcheck ---------------------------------------------------------------------------


def cmd_gradcheck(args) -> int:
    if len(args.sizes) < 2 or min(args.sizes) < 1:
        raise UsageError(f"--sizes needs at least 2 positive widths, got {args.sizes}")
    rng = np.random.default_rng(args.seed)
    net = MLP(args.sizes, activation=args.activation, dtype=np.float64, rng=rng,
              weight_decay=args.weight_decay)
    x = rng.standard_normal((args.samples, args.sizes[0]))
    t = rng.integers(0, args.sizes[-1], size=args.samples)
    errors = gradient_check(net, x, t)
    print(f"gradient check of a {'-'.join(map(str, args.sizes))} {args.activation} MLP "
          f"(float64, {args.samples} samples): max relative error per parameter")
    for name, err in errors.items():
        print(f"  {name:<4} {err:9.2e}  {'ok' if err < args.tol else 'FAIL'}")
    worst = max(errors.values())
    verdict = "backprop agrees" if worst < args.tol else "backprop DISAGREES"
    print(f"{verdict} with numerical gradients (worst {worst:.2e}, tolerance {args.tol:g})")
    return 0 if worst < args.tol else 1


# --- the parser --------------------------------------------------------------------------


def _number(text: str, convert: type, ok, expected: str):
    """``text`` converted by ``convert``, or argparse's error saying what was expected."""
    try:
        value = convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text}")
    return value


def _positive_int(text: str) -> int:
    return _number(text, int, lambda v: v >= 1, "a positive integer")


def _non_negative_int(text: str) -> int:
    return _number(text, int, lambda v: v >= 0, "an integer >= 0")


def _positive_float(text: str) -> float:
    return _number(text, float, lambda v: 0 < v < math.inf, "a positive number")


def _non_negative_float(text: str) -> float:
    return _number(text, float, lambda v: 0 <= v < math.inf, "a number >= 0")


def _fraction(text: str) -> float:
    return _number(text, float, lambda v: 0 <= v < 1, "a fraction in [0, 1)")


def _seed(text: str) -> int:
    return _number(text, int, lambda v: v >= 0, "a seed >= 0")


def _sizes(text: str) -> list[int]:
    """'256' or '100,50' or '' (no hidden layer) -> [256] / [100, 50] / []."""
    text = text.replace(" ", "")
    try:
        return [int(s) for s in text.split(",")] if text else []
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated layer widths such as 100,50, got {text!r}") from None


class _DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show an option's default, unless its help already says it or there is none."""

    def _get_help_string(self, action):
        if action.default is None or action.nargs == 0 or "(default" in (action.help or ""):
            return action.help
        if isinstance(action.default, list):  # as it is typed: 5,8,6,3
            return f"{action.help} (default: {_shown(action.default)})"
        return super()._get_help_string(action)


class _TrainFormatter(_DefaultsFormatter):
    """``train``'s run options are None in the parser: show their defaults from cmd_train."""

    def _get_help_string(self, action):
        default = _TRAIN_DEFAULTS.get(action.dest)
        if action.default is None and default is not None and "(default" not in action.help:
            return f"{action.help} (default: {_shown(default)})"
        return super()._get_help_string(action)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; ``command`` names the subcommand about to run.

    The options of the delegated commands (reproduce, bench) are only added when
    ``command`` names them: their modules are imported then, not on every run.
    """
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the full traceback on errors")
    parser = argparse.ArgumentParser(
        prog="scratchnn",
        description="Neural networks from scratch on NumPy: train, evaluate and inspect them.",
        epilog="Run 'scratchnn COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    fmt = _DefaultsFormatter

    # train
    p = sub.add_parser(
        "train", parents=[debug], formatter_class=_TrainFormatter, help="train a network",
        description="Train a network and save model.npz, history.json/.csv and plots. "
                    "With no options: a 784-256-10 ReLU MLP on MNIST (about 98% test "
                    "accuracy in a minute or two).")
    # Run options default to None here and get their defaults (_TRAIN_DEFAULTS) in
    # cmd_train, which so knows what the command line gave: --resume must refuse those.
    p.add_argument("--dataset", choices=DATASETS, help="data set")
    p.add_argument("--model", choices=MODELS, help="network type")
    p.add_argument("--hidden", type=_sizes, metavar="SIZES",
                   help="hidden layer widths of the MLP, comma-separated, e.g. 100,50; '' for "
                        "none (softmax regression) (default: 256)")
    p.add_argument("--activation", choices=sorted(ACTIVATIONS),
                   help="hidden activation of the MLP")
    p.add_argument("--init", choices=INITS,
                   help="weight initialisation of the MLP (auto: He for ReLU, else Xavier)")
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default=None,
                   help="optimizer (default: adam; sgd for catvnoncat)")
    p.add_argument("--lr", type=_positive_float, default=None,
                   help="learning rate (default: the optimizer's own, 0.001 for Adam; 0.01 "
                        "for the toy sets and catvnoncat)")
    p.add_argument("--momentum", type=_fraction,
                   help="momentum of the momentum and nesterov optimizers")
    p.add_argument("--weight-decay", type=_non_negative_float,
                   help="L2 penalty lambda on the weights")
    p.add_argument("--epochs", type=_positive_int, default=None,
                   help="number of epochs (default: 10; 50 for the toy sets and catvnoncat; "
                        "with --resume, the saved run's)")
    p.add_argument("--batch-size", type=_positive_int, default=None,
                   help="mini-batch size (default: 100; 32 for catvnoncat)")
    p.add_argument("--seed", type=_seed, help="seed of initialisation and shuffling")
    p.add_argument("--dtype", choices=("float32", "float64"),
                   help="floating-point type of the network")
    p.add_argument("--schedule", choices=("none", "step", "cosine"),
                   help="learning-rate schedule over the epochs")
    p.add_argument("--patience", type=_non_negative_int,
                   help="stop when validation accuracy has not improved for this many "
                        "epochs and keep the best epoch's weights (0: never)")
    p.add_argument("--val-split", type=_fraction, default=None, metavar="FRACTION",
                   help="hold out this fraction of the training set for validation; "
                        "the test set is then used once, at the end (with --patience: 0.1 "
                        "unless given)")
    p.add_argument("--eval-subset", type=_non_negative_int, metavar="N",
                   help="measure accuracies each epoch on the first N samples (0: all)")
    p.add_argument("--limit", type=_positive_int, metavar="N",
                   help="use only the first N training and test samples (quick tries)")
    p.add_argument("--checkpoint-every", type=_non_negative_int, metavar="N",
                   help="write OUT/checkpoint.npz every N epochs (0: never)")
    p.add_argument("--resume", metavar="CHECKPOINT",
                   help="continue the run saved in this checkpoint (or its folder) with its "
                        "settings; only --epochs, --out and the data folder may change")
    p.add_argument("--out", metavar="DIR",
                   help="output folder (default: runs/DATASET-MODEL-TIMESTAMP)")
    p.add_argument("--data-dir", metavar="DIR",
                   help="folder holding mnist/, fashion-mnist/, catvnoncat/ "
                        "(default: $SCRATCHNN_DATA, then the download cache)")
    p.add_argument("--no-plots", action="store_true", help="do not draw the figures")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar (default: when the output is a terminal)")
    p.set_defaults(handler=cmd_train)

    # evaluate
    p = sub.add_parser(
        "evaluate", parents=[debug], formatter_class=fmt, help="test a saved model",
        description="Accuracy, per-class precision and recall, confusion matrix and a grid "
                    "of misclassified test images of a saved model.")
    p.add_argument("model_file", metavar="MODEL", help="a model.npz file")
    _add_data_options(p)
    p.add_argument("--out", metavar="DIR", help="where to write the figures (default: the "
                                                "model's folder)")
    p.set_defaults(handler=cmd_evaluate)

    # predict
    p = sub.add_parser(
        "predict", parents=[debug], formatter_class=fmt, help="read handwritten digits",
        description="Classify pictures of handwritten digits (PNG/JPG, any size, colour or "
                    "grey, dark ink on light paper or the reverse): each is converted to "
                    "MNIST's form (28x28, centred by mass, white on black) first.")
    p.add_argument("model_file", metavar="MODEL", help="a model.npz trained on 28x28 images")
    p.add_argument("images", metavar="IMAGE", nargs="+", help="image files")
    p.add_argument("--top", type=_positive_int, default=3, help="how many classes to list")
    p.set_defaults(handler=cmd_predict)

    # plot
    p = sub.add_parser(
        "plot", parents=[debug], formatter_class=fmt, help="draw a figure",
        description="activations: step, sigmoid, tanh, ReLU, leaky ReLU; "
                    "activation-histograms: each layer's activations of a 5-layer network "
                    "for weights of std 1, 0.01, Xavier and He (the book's chapter 6); "
                    "gradient-descent: "
                    "the path on a 2-D function; curves HISTORY.json: learning curves; "
                    "weights MODEL: first-layer weights; confusion MODEL, misclassified "
                    "MODEL: on the test set.")
    p.add_argument("figure", choices=("activations", "activation-histograms", "gradient-descent",
                                      "curves", "weights", "confusion", "misclassified"))
    p.add_argument("source", nargs="?", metavar="FILE",
                   help="history.json (curves) or model.npz (weights, confusion, misclassified)")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="output .png or .svg (default: FIGURE.png)")
    p.add_argument("--function", choices=sorted(_DESCENT_FUNCTIONS), default="sphere",
                   help="gradient-descent: x0^2 + x1^2 (sphere) or x0^2/20 + x1^2")
    p.add_argument("--lr", type=_positive_float, help="gradient-descent: learning rate")
    p.add_argument("--activation", choices=("sigmoid", "tanh", "relu"), default="sigmoid",
                   help="activation-histograms: the hidden activation")
    p.add_argument("--steps", type=_positive_int, help="gradient-descent: number of steps")
    _add_data_options(p)
    p.set_defaults(handler=cmd_plot)

    # gradcheck
    p = sub.add_parser(
        "gradcheck", parents=[debug], formatter_class=fmt,
        help="compare backprop with numerical gradients",
        description="Backpropagation against central differences on a small float64 MLP.")
    p.add_argument("--sizes", type=_sizes, default=[5, 8, 6, 3], metavar="SIZES",
                   help="layer widths, comma-separated")
    p.add_argument("--activation", choices=sorted(ACTIVATIONS), default="tanh",
                   help="hidden activation (smooth ones avoid ReLU's kink)")
    p.add_argument("--weight-decay", type=_non_negative_float, default=0.1,
                   help="L2 penalty (checked too)")
    p.add_argument("--samples", type=_positive_int, default=4, help="batch size")
    p.add_argument("--seed", type=_seed, default=0, help="random seed")
    p.add_argument("--tol", type=_positive_float, default=1e-6,
                   help="largest relative error that passes")
    p.set_defaults(handler=cmd_gradcheck)

    for name, (module_name, help_text) in DELEGATED.items():
        p = sub.add_parser(name, parents=[debug], help=help_text, description=help_text)
        if name == command:  # only then: importing it may be slow, or fail
            module = importlib.import_module(module_name)
            module.add_arguments(p)
            p.set_defaults(handler=module.run)
    return parser


def _add_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", choices=DATASETS,
                   help="test data (default: the one the model was trained on)")
    p.add_argument("--data-dir", metavar="DIR", help="data folder (default: $SCRATCHNN_DATA, "
                                                     "then the download cache)")
    p.add_argument("--limit", type=_positive_int, metavar="N",
                   help="use only the first N test samples")


def _version() -> str:
    from . import __version__

    return __version__


def _one_line(err: BaseException) -> str:
    """The error's message in one line; a message's details after a blank line are left
    to --debug."""
    summary, *details = str(err).split("\n\n", 1)
    text = " ".join(summary.split()) + (" (--debug shows the details)" if details else "")
    if isinstance(err, (ValueError, TypeError, OSError, RuntimeError)) and text:
        return text
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 failure, 2 usage error,
    130 interrupted)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    try:
        parser = build_parser(command)
    except ImportError as err:
        if "--debug" in argv:
            raise
        print(f"scratchnn {command}: error: 'scratchnn {command}' is not available ({err})",
              file=sys.stderr)
        return 1
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version and usage errors
        return exit_.code if isinstance(exit_.code, int) else 0 if exit_.code is None else 2
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.handler(args) or 0)
    except UsageError as err:
        print(f"scratchnn {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("scratchnn: interrupted", file=sys.stderr)
        return 130  # the shell's status for a program stopped by Ctrl-C (128 + SIGINT)
    except BrokenPipeError:
        # The reader went away (scratchnn ... | head): no message, and none at exit either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as err:
        if args.debug:
            raise
        print(f"scratchnn {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
