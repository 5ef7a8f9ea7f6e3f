"""The ``scratchnn`` command: thin commands over the library (train, evaluate, predict, plot,
gradcheck; reproduce and bench live in their own modules).

    scratchnn train                      # an MLP on MNIST, >= 97.5% test accuracy
    scratchnn evaluate runs/NAME/model.npz
    scratchnn predict runs/NAME/model.npz my_digit.png
    scratchnn plot activations -o activations.png

The work is the library's: data sets by name (:mod:`scratchnn.data.registry`), the model
factory (:func:`scratchnn.models.make_model`), the Trainer (:mod:`scratchnn.training`), model
files and run folders (:mod:`scratchnn.files`). This module reads options, checks that they
fit together, and prints.

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

import numpy as np
from tqdm import tqdm

from . import _args
from ._version import __version__
from .data.registry import DATASETS, POINT_SETS, Dataset, load_dataset, validation_split
from .figures import plots
from .files import runs
from .files.atomic import remove_empty_folders
from .files.checkpoint import CHECKPOINT_FORMAT
from .files.model_file import (
    FORMAT,
    input_shape,
    load_model,
    read_archive,
    read_model_meta,
    save_model,
)
from .functions import predicted_classes
from .gradient import gradient_check, gradient_descent
from .images import load_digit, load_picture, save_seen
from .init import INITIALIZERS
from .layers import ACTIVATIONS
from .models import MODELS, make_model
from .network import Sequential
from .novelty import FALSE_ALARM, calibrate, detect, stored_threshold
from .optim import MOMENTUM_OPTIMIZERS, OPTIMIZERS, make_optimizer
from .training.callbacks import (
    Callback,
    CosineDecay,
    EarlyStopping,
    History,
    LearningRateSchedule,
    StepDecay,
)
from .training.metrics import classification_report, confusion_matrix, evaluate
from .training.trainer import Trainer

__all__ = ["main", "build_parser"]

INITS = ("auto", *INITIALIZERS)
#: Commands whose options and work live in other modules, imported only when used.
DELEGATED = {
    "reproduce": ("scratchnn.companions.reproduce",
                  "re-run the book's and the course's experiments"),
    "bench": ("scratchnn.bench", "time training steps (against PyTorch when installed)"),
    "export": ("scratchnn.files.onnx_format", "write a model file as an ONNX graph"),
    "sweep": ("scratchnn.sweeps", "search hyper-parameters on Dask (one machine or a cluster)"),
    "serve": ("scratchnn.serve", "a local web page: draw digits, a playground, the runs"),
}


class UsageError(ValueError):
    """Options that do not fit together: reported like argparse's errors, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors in one line (its usage text is for --help)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# --- models and their data ---------------------------------------------------------------


def _predictions(model: Sequential, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predicted classes and (N, classes) probabilities, from one inference pass.

    The classes are :func:`scratchnn.functions.predicted_classes`'; a single sigmoid
    output p becomes the two columns 1-p, p.
    """
    scores = model.predict(x, batch_size=1000)
    probs = model.loss_layer.output(scores)
    if probs.shape[1] == 1:
        probs = np.hstack([1 - probs, probs])
    return predicted_classes(scores), probs


#: The data set a model saved from Python (which names none) is taken to read, by the
#: number of values of its input; 2-D points could be any of the toy sets.
_DATASET_BY_INPUT_SIZE = {28 * 28: "mnist", 64 * 64 * 3: "catvnoncat"}


def _trained_on(model: Sequential) -> str | None:
    """The data set the model file names (a checkpoint keeps it among the run's options)."""
    meta = getattr(model, "meta", {}).get("metadata", {})
    return meta.get("dataset") or meta.get("options", {}).get("dataset")


def _model_dataset(model: Sequential, args, say: bool = True) -> Dataset:
    """The test data of a saved model: --dataset, the one its file names, or the one its
    input size fits (for a file saved from Python, which names none)."""
    name = args.dataset or _trained_on(model)
    if name is None:
        size = int(np.prod(input_shape(model)))
        name = _DATASET_BY_INPUT_SIZE.get(size)
        if name is None:
            raise UsageError(f"the model file does not say which data set it was trained on, "
                             f"and {size} inputs fit none for sure: pass --dataset")
        if say:
            print(f"the model file names no data set; using {name}, which fits its {size} "
                  "inputs (--dataset to choose another)")
    images = len(input_shape(model)) == 3
    return load_dataset(name, args.data_dir, images=images, dtype=model.dtype, limit=args.limit)


# --- train: the options ------------------------------------------------------------------


class _EpochTable(Callback):
    """Prints one row per epoch (through tqdm, so that a progress bar stays intact), flushed
    at once: ``scratchnn train > log`` shows each epoch as it ends.

    The columns have the names of history.csv and of :class:`History` (``val_acc`` is the
    accuracy on the set watched each epoch: the validation split, else the test set).
    """

    def __init__(self, stream=None) -> None:
        self.stream = stream
        self.header = (f"{'epoch':>5}  {'loss':>8}  {'train_acc':>9}  "
                       f"{'val_acc':>8}  {'lr':>9}  {'time':>6}")

    def _write(self, line: str) -> None:
        stream = self.stream or sys.stdout
        tqdm.write(line, file=stream)
        stream.flush()

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
_RUN_OPTIONS = tuple(_TRAIN_DEFAULTS)


def cmd_train(args) -> int:
    # The parser leaves every run option None unless it is on the command line.
    given = {key: getattr(args, key) for key in _RUN_OPTIONS if getattr(args, key) is not None}
    if args.resume:
        checkpoint, earlier_training = _resumed_options(args, given)
    else:
        checkpoint, earlier_training = None, 0.0
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


def _resumed_options(args, given: dict) -> tuple[Path, float]:
    """Set ``args`` to the options of the run that --resume continues: (its checkpoint,
    the seconds it had trained before)."""
    checkpoint = runs.in_run(args.resume, runs.CHECKPOINT_FILE)
    if not checkpoint.is_file():
        raise FileNotFoundError(f"{checkpoint}: no such checkpoint (a run folder holds "
                                f"{runs.CHECKPOINT_FILE} once its first epoch is done)")
    try:
        meta = read_archive(checkpoint, formats=(CHECKPOINT_FORMAT,), meta_only=True)[1]
    except ValueError:
        if _is_model_file(checkpoint):
            raise UsageError(
                f"{checkpoint} is a model file, not a checkpoint: it holds the trained weights "
                f"only, and resuming needs the optimizer's state and the history too; resume "
                f"from the run folder's {runs.CHECKPOINT_FILE} (written unless "
                "--checkpoint-every 0)") from None
        raise
    saved, done = meta["metadata"]["options"], meta["training"]["epoch"]
    _check_resume_options(given, saved, checkpoint)
    for key in _RUN_OPTIONS:
        setattr(args, key, saved.get(key, 0.0 if key == "val_split" else None))
    args.started_with = args.epochs  # the epochs the run was started with
    if "epochs" in given:
        args.epochs = given["epochs"]
    if done >= args.epochs:
        why = (f"--epochs {args.epochs} is not more than that" if "epochs" in given
               else f"that is all the {args.epochs} epochs it was started with")
        raise UsageError(f"the run in {checkpoint} has trained {done} epochs; {why}: "
                         f"pass --epochs N with N > {done} to train it further")
    args.out = args.out or str(checkpoint.parent)
    return checkpoint, meta["training"]["history"].get("wall_time", 0.0)


def _is_model_file(path: Path) -> bool:
    try:
        return read_model_meta(path).get("format") == FORMAT
    except ValueError:
        return False


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
    model, optimizer, dataset = chosen["model"], chosen["optimizer"], chosen["dataset"]
    mlp_only = [f"--{key}" for key in ("hidden", "activation", "init") if key in given]
    if model != "mlp" and mlp_only:
        raise UsageError(f"{', '.join(mlp_only)} shape the MLP; --model {model} has a fixed "
                         "architecture")
    if model != "mlp" and dataset in POINT_SETS:
        raise UsageError(f"{dataset} is a set of 2-D points: train it with --model mlp")
    if "momentum" in given and optimizer not in MOMENTUM_OPTIMIZERS:
        raise UsageError(f"--momentum is for --optimizer momentum or nesterov, not {optimizer}")


def _shown(value) -> str:
    """An option's value as it is written on the command line."""
    if isinstance(value, list):
        return ",".join(map(str, value)) or "''"
    return str(value)


def _output_folder(args, checkpoint: Path | None) -> tuple[Path, list[Path]]:
    """(--out, the folders this call created for it), checked before any work: a folder,
    not another run's (but the resumed one's), and one that takes files; without --out, a
    new run folder."""
    if args.out is None:
        try:
            out, made = runs.new_run_folder(f"{args.dataset}-{args.model}")
        except runs.RunFolderError as err:
            raise UsageError(f"{err}: give --out DIR") from err
    else:
        try:
            out, made = runs.check_run_folder(args.out, resumed=checkpoint), []
        except runs.RunTaken as err:
            raise UsageError(f"--out {err} with --resume {args.out}") from err
        except runs.RunFolderError as err:
            raise UsageError(f"--out {err}") from err
    try:
        return out, runs.check_writable(out) + made
    except runs.RunFolderError as err:
        remove_empty_folders(made)
        raise OSError(f"run folder {err}; give --out DIR on another disk") from err


# --- train: the run ----------------------------------------------------------------------


def _train(args, out: Path, checkpoint: Path | None, options: dict,
           earlier_training: float) -> int:
    """The run itself, into ``out``: load the data, build, train, evaluate, save."""
    started = time.perf_counter()
    ds = load_dataset(args.dataset, args.data_dir, images=args.model != "mlp",
                      dtype=args.dtype, limit=args.limit)
    x_train, t_train, x_val, t_val = _held_out(ds, args.val_split)
    model_rng, train_rng = (np.random.default_rng(s)
                            for s in np.random.SeedSequence(args.seed).spawn(2))
    model = _build_model(args, ds, model_rng)
    trainer = _build_trainer(args, model, train_rng, out, options)
    if args.val_split:
        held_out = f"validating on {len(x_val):,}, testing on {len(ds.x_test):,} at the end"
    else:
        held_out = f"testing on {len(ds.x_test):,}"
    print(f"training {type(model).__name__} ({model.n_params():,} parameters) on "
          f"{args.dataset}: {len(x_train):,} samples, {held_out}; {trainer.optimizer!r}, "
          f"{args.epochs} epoch{'s' if args.epochs != 1 else ''}, batch size {args.batch_size}")
    if not args.val_split:
        print("val_acc is the test set's accuracy: for watching only, nothing is decided on it")
    if checkpoint is not None and args.epochs > args.started_with:
        _say_extended(args, trainer)
    sys.stdout.flush()
    try:
        history = trainer.fit(x_train, t_train, x_val, t_val, resume=checkpoint)
    except KeyboardInterrupt:
        if trainer.checkpoint_path is not None and trainer.checkpoint_path.exists():
            print(f"interrupted; continue with: scratchnn train --resume {out}",
                  file=sys.stderr)
        raise
    except BrokenPipeError:
        raise
    except OSError as err:  # the checkpoint could not be written: keep the model anyway
        _rescue(model, out, err, {"dataset": args.dataset})
    if history.stopped_reason:
        print(history.stopped_reason)
    _say_kept(trainer)
    try:
        test_acc = _save_run(args, out, model, ds, history, (x_train, t_train, x_val, t_val))
    except BrokenPipeError:
        raise
    except OSError as err:
        _rescue(model, out, err, {"dataset": args.dataset})
    elapsed = time.perf_counter() - started
    saved = "model.npz and history" if args.no_plots else "model.npz, history and plots"
    training = f"training {history.wall_time - earlier_training:.1f} s"
    if checkpoint is not None:
        training += f", {history.wall_time:.1f} s over all sessions"
    print(f"test accuracy {100 * test_acc:.2f}% in {elapsed:.1f} s ({training}); "
          f"saved {saved} in {out}")
    return 0


def _rescue(model: Sequential, out: Path, err: OSError, metadata: dict) -> None:
    """A write into the run folder failed late: save the model elsewhere, and say where."""
    try:
        folder = runs.rescue_folder()
        saved = save_model(model, folder / runs.MODEL_FILE, metadata)
    except OSError as second:
        raise OSError(f"could not write in {out} ({err}), nor save the trained model "
                      f"elsewhere ({second})") from err
    raise OSError(f"could not write in {out} ({err}); the trained model is saved in "
                  f"{saved} instead") from err


def _say_extended(args, trainer: Trainer) -> None:
    """Extending a run past the epochs it was started with: what the schedule does."""
    done = args.started_with
    text = (f"extending the run from {done} to {args.epochs} epochs: training continues from "
            f"epoch {done + 1}")
    schedule = next((cb for cb in trainer.callbacks if isinstance(cb, LearningRateSchedule)),
                    None)
    if schedule is not None:
        lr = trainer.optimizer.lr  # the run's base rate (the checkpoint holds the same)
        before = _schedule(args.schedule, done).factor(done) * lr
        text += (f"; the {args.schedule} learning-rate schedule is laid out again over "
                 f"{args.epochs} epochs, as if the run had been started with --epochs "
                 f"{args.epochs}: epoch {done} had lr {before:.3g}, epoch {done + 1} gets "
                 f"{schedule.factor(done + 1) * lr:.3g}")
    print(text)


def _say_kept(trainer: Trainer) -> None:
    """Early stopping puts back its best epoch's weights: say which."""
    for cb in trainer.callbacks:
        if isinstance(cb, EarlyStopping) and cb.restore_best and cb.best_arrays:
            print(f"kept the weights of epoch {cb.best_epoch} ({cb.monitor} "
                  f"{100 * cb.best:.2f}%, the best), not those of the last epoch "
                  f"({trainer.history.epochs})" if cb.best_epoch != trainer.history.epochs
                  else f"kept the weights of the last epoch, {cb.best_epoch}, the best "
                       f"({cb.monitor} {100 * cb.best:.2f}%)")


def _held_out(ds: Dataset, fraction: float):
    """(x_train, t_train, x_val, t_val): the data watched each epoch is ``fraction`` of the
    training set when it is > 0, else the test set (for watching only)."""
    if not fraction:
        return ds.x_train, ds.t_train, ds.x_test, ds.t_test
    try:
        return validation_split(ds.x_train, ds.t_train, fraction)
    except ValueError as err:
        raise UsageError(f"--val-split {fraction}: {err}") from err


def _build_model(args, ds: Dataset, rng: np.random.Generator) -> Sequential:
    """The network of --model for ``ds`` (the MLP's shape from --hidden, --activation,
    --init)."""
    shape = ({"hidden": tuple(args.hidden), "activation": args.activation, "init": args.init}
             if args.model == "mlp" else {})
    return make_model(args.model, ds.x_train.shape[1:], len(ds.classes), **shape,
                      dtype=np.dtype(args.dtype), rng=rng, weight_decay=args.weight_decay)


def _build_trainer(args, model: Sequential, rng: np.random.Generator, out: Path,
                   options: dict) -> Trainer:
    """The Trainer of the run: its optimizer, schedule, early stopping and checkpoints."""
    kwargs = {} if args.lr is None else {"lr": args.lr}
    if args.optimizer in MOMENTUM_OPTIMIZERS:
        kwargs["momentum"] = args.momentum
    callbacks: list[Callback] = [_EpochTable()]
    schedule = _schedule(args.schedule, args.epochs)
    if schedule is not None:
        callbacks.append(schedule)
    if args.patience:
        callbacks.append(EarlyStopping("val_acc", patience=args.patience))
    return Trainer(
        model, make_optimizer(args.optimizer, **kwargs), epochs=args.epochs,
        batch_size=args.batch_size, rng=rng, eval_subset=args.eval_subset or None,
        callbacks=callbacks, progress=args.progress,
        checkpoint_dir=out if args.checkpoint_every else None,
        checkpoint_every=args.checkpoint_every or 1, metadata={"options": options},
    )


def _schedule(name: str, epochs: int) -> LearningRateSchedule | None:
    """The learning-rate schedule of --schedule, laid out over ``epochs``."""
    if name == "cosine":
        return CosineDecay(epochs)
    if name == "step":
        return StepDecay(max(1, epochs // 3), gamma=0.1)
    return None


def _save_run(args, out: Path, model: Sequential, ds: Dataset, history: History,
              split: tuple) -> float:
    """Write model.npz (with the run's accuracies), the history and the figures; returns
    the test accuracy."""
    x_train, t_train, x_val, t_val = split
    # Measured again: early stopping may have put back an earlier epoch's weights.
    pred, probs = _predictions(model, ds.x_test)
    test_acc = float(np.mean(pred == ds.t_test))
    k = args.eval_subset or None
    metadata = {
        "dataset": args.dataset,
        "classes": list(ds.classes),
        "input_shape": list(ds.x_train.shape[1:]),
        "options": {key: getattr(args, key) for key in _RUN_OPTIONS},
        "epochs_trained": history.epochs,
        "test_accuracy": test_acc,
        "val_accuracy": evaluate(model, x_val, t_val)[1] if args.val_split else None,
        "train_accuracy": evaluate(model, x_train[:k], t_train[:k])[1],
        "wall_time": history.wall_time,
        # the out-of-distribution threshold of predict (scratchnn.novelty)
        "novelty": {"score": "energy", "threshold": calibrate(model, x_val),
                    "false_alarm": FALSE_ALARM,
                    "calibrated_on": "validation set" if args.val_split else "test set"},
    }
    save_model(model, out / runs.MODEL_FILE, metadata)
    history.save_json(out / runs.HISTORY_FILE)
    history.save_csv(out / "history.csv")
    if not args.no_plots:
        _training_plots(model, ds, history, out, args.val_split, pred, probs)
    return test_acc


def _training_plots(model: Sequential, ds: Dataset, history: History, out: Path,
                    validated: bool, pred: np.ndarray, probs: np.ndarray) -> None:
    """The figures of a run; ``pred`` and ``probs`` are the model's on the test set."""
    names = plots.FIGURE_FILES
    plots.plot_learning_curves(history, val_label="val_acc (validation set)" if validated
                               else "val_acc (test set)", path=out / names["curves"])
    cm = confusion_matrix(ds.t_test, pred, len(ds.classes))
    plots.plot_confusion_matrix(cm, ds.classes, path=out / names["confusion"])
    if ds.is_images:
        plots.plot_misclassified(ds.x_test, ds.t_test, pred, probs, ds.classes,
                                 image_shape=ds.image_shape, path=out / names["misclassified"])
        if model.params["W1"].ndim == 4 or model.params["W1"].shape[0] == 784:
            plots.plot_first_layer_weights(model, path=out / names["weights"])
    else:
        plots.plot_decision_boundary(model, ds.x_test, ds.t_test, ds.classes,
                                     path=out / names["decision-boundary"])


# --- evaluate / predict ------------------------------------------------------------------


def cmd_evaluate(args) -> int:
    model_file = runs.in_run(args.model_file, runs.MODEL_FILE)
    model = load_model(model_file)
    trained_on = _trained_on(model)
    ds = _model_dataset(model, args)
    pred, probs = _predictions(model, ds.x_test)
    k = max(len(ds.classes), probs.shape[1])
    cm = confusion_matrix(ds.t_test, pred, k)
    names = list(ds.classes) + [str(i) for i in range(len(ds.classes), k)]
    accuracy = float(np.trace(cm) / cm.sum())
    print(f"{args.model_file}: accuracy {100 * accuracy:.2f}% on {cm.sum():,} test samples")
    _print_report(cm, names)
    out = Path(args.out) if args.out else model_file.parent
    # Figures of other data or of part of the test set get their own names: the run's
    # stay as they are.
    part = f"-first{args.limit}" if args.limit else ""
    if args.dataset and args.dataset != trained_on:
        origin = trained_on or "a data set it does not name"
        print(f"note: {args.model_file} was trained on {origin}, not on {args.dataset}: "
              "these numbers say how it fares on data unlike its own")
        part = f"-{args.dataset}{part}"
    saved = f"confusion_matrix{part}.png"
    plots.plot_confusion_matrix(cm, names, path=out / saved)
    if ds.is_images:
        misclassified = f"misclassified{part}.png"
        plots.plot_misclassified(ds.x_test, ds.t_test, pred, probs, names,
                                 image_shape=ds.image_shape, path=out / misclassified)
        saved += f" and {misclassified}"
    print(f"saved {saved} in {out}")
    return 0


def _print_report(cm: np.ndarray, names: list[str]) -> None:
    """Per-class precision, recall and support, then the confusion matrix, as text."""
    report = classification_report(cm)
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


def cmd_predict(args) -> int:
    model = load_model(runs.in_run(args.model_file, runs.MODEL_FILE))
    shape = input_shape(model)
    size = int(np.prod(shape))
    if size not in (28 * 28, 64 * 64 * 3):
        raise UsageError(f"predict reads 28x28 digits (MNIST models) and 64x64 colour pictures "
                         f"(cat-vs-non-cat models); this model takes inputs of shape {shape}")
    classes = getattr(model, "meta", {}).get("metadata", {}).get("classes")
    if classes is None and size != 28 * 28:
        classes = ["non-cat", "cat"]
    # One unreadable picture is reported and skipped: the others still get their answer.
    paths, seen = [], []
    for path in args.images:
        try:
            seen.append(load_digit(path) if size == 28 * 28 else load_picture(path))
            paths.append(path)
        except (OSError, ValueError) as err:
            print(f"scratchnn predict: error: {_one_line(err)}", file=sys.stderr)
    if seen:
        # (N, 64, 64, 3) pictures are flattened as the cat data set is; a ConvNet takes them
        # as (N, 3, 64, 64).
        x = np.stack(seen).astype(model.dtype)
        x = x.transpose(0, 3, 1, 2) if x.ndim == 4 and len(shape) == 3 else x
        x = x.reshape(len(seen), *shape)
        _, probs = _predictions(model, x)
        unlike = _novelty_flags(model, x, args)
        for i, (path, p) in enumerate(zip(paths, probs, strict=True)):
            top = np.argsort(p)[::-1][: args.top]
            line = f"{path}: " + "  ".join(f"{classes[k] if classes else k} ({100 * p[k]:.1f}%)"
                                           for k in top)
            if unlike is not None and unlike[i]:
                line += ("  [unlike the data the model was trained on: the answer means "
                         "little]")
            if args.show:
                line += f"  [the model saw {save_seen(seen[i], path)}]"
            print(line)
    return 0 if len(paths) == len(args.images) else 1


def _novelty_flags(model: Sequential, x: np.ndarray, args) -> np.ndarray | None:
    """Which inputs the model's energy score finds unlike its training data
    (:mod:`scratchnn.novelty`), with the threshold its file holds or, for a model saved
    from Python, one calibrated on its data set's test set; None when there is none."""
    threshold = stored_threshold(model)
    if threshold is None:
        try:
            ds = _model_dataset(model, args, say=False)
        except (OSError, ValueError) as err:
            print(f"note: no check that the pictures look like the model's training data "
                  f"({_one_line(err)})", file=sys.stderr)
            return None
        threshold = calibrate(model, ds.x_test)
    return detect(model, x, threshold)[1]


# --- plot --------------------------------------------------------------------------------


def _sphere(x: np.ndarray) -> float:
    return float(x[0] ** 2 + x[1] ** 2)


def _elongated(x: np.ndarray) -> float:
    return float(x[0] ** 2 / 20 + x[1] ** 2)


#: Figures drawn from formulas alone (or the book's own experiment), not from a model or
#: history file.
_FIGURES_WITHOUT_FILE = ("activations", "activation-histograms", "gradient-descent",
                         "optimizers")

#: The book's functions for gradient descent: f, start point, learning rate, steps.
_DESCENT_FUNCTIONS = {
    "sphere": (_sphere, (-3.0, 4.0), 0.1, 20),  # chapter 4: x0^2 + x1^2
    "elongated": (_elongated, (-7.0, 2.0), 0.9, 40),  # chapter 6: x0^2 / 20 + x1^2
}


def cmd_plot(args) -> int:
    out = Path(args.output or plots.FIGURE_FILES[args.figure])
    if args.source is not None and args.figure in _FIGURES_WITHOUT_FILE:
        raise UsageError(f"plot {args.figure} draws from no file; got {args.source!r}")
    if args.figure == "activations":
        plots.plot_activations(path=out)
    elif args.figure == "activation-histograms":
        from .figures.experiments import plot_activation_histograms

        plot_activation_histograms(activation=args.activation, path=out)
    elif args.figure == "gradient-descent":
        _plot_descent(args, out)
    elif args.figure == "optimizers":
        _plot_optimizers(args, out)
    elif args.source is None:
        raise UsageError(f"plot {args.figure} needs a FILE: "
                         + ("a history.json" if args.figure == "curves" else "a model.npz"))
    elif args.figure == "curves":
        history = _load_history(runs.in_run(args.source, runs.HISTORY_FILE))
        plots.plot_learning_curves(history, val_label="val_acc", path=out)
    else:
        _plot_model(args, load_model(runs.in_run(args.source, runs.MODEL_FILE)), out)
    print(f"wrote {out}")
    return 0


def _plot_descent(args, out: Path) -> None:
    f, start, lr, steps = _DESCENT_FUNCTIONS[args.function]
    lr = args.lr if args.lr is not None else lr
    steps = args.steps if args.steps is not None else steps
    _, points = gradient_descent(f, np.array(start), lr=lr, step_num=steps, return_path=True)
    if args.function == "elongated":  # a wide view: the bowl is 20 times longer in x0
        plots.plot_gradient_descent_path(f, points, xlim=(-9, 9), ylim=(-6, 6), path=out)
    else:
        plots.plot_gradient_descent_path(f, points, path=out)


def _plot_optimizers(args, out: Path) -> None:
    """The book's optimizer comparison: paths on x^2/20 + y^2, and (--steps > 0) the
    MNIST losses of as many iterations."""
    from .figures.experiments import optimizer_curves, optimizer_paths, plot_optimizer_comparison

    steps = 1000 if args.steps is None else args.steps
    curves = None
    if steps:
        x, t = load_dataset("mnist", args.data_dir, limit=args.limit)[:2]
        print(f"training the book's 5-layer network on MNIST with each optimizer "
              f"({steps} iterations each) ...", flush=True)
        curves = optimizer_curves(x, t, iterations=steps)
    plot_optimizer_comparison(optimizer_paths(), curves, path=out)


def _plot_model(args, model: Sequential, out: Path) -> None:
    """The figures of a saved model: weights, confusion, misclassified, decision-boundary."""
    if args.figure == "weights":
        W = model.params["W1"]
        if W.ndim == 2 and math.isqrt(W.shape[0]) ** 2 != W.shape[0]:
            raise UsageError(f"{args.source}: its first layer takes {W.shape[0]} inputs, "
                             "not a square grey picture: its weights do not show as images")
        plots.plot_first_layer_weights(model, path=out)
        return
    if args.figure == "decision-boundary" and input_shape(model) != (2,):
        raise UsageError(f"{args.source}: a decision boundary is drawn for models of 2 inputs; "
                         f"this one takes {input_shape(model)}")
    ds = _model_dataset(model, args)
    if args.figure == "decision-boundary":
        plots.plot_decision_boundary(model, ds.x_test, ds.t_test, ds.classes, path=out)
        return
    pred, probs = _predictions(model, ds.x_test)
    if args.figure == "confusion":
        cm = confusion_matrix(ds.t_test, pred, len(ds.classes))
        plots.plot_confusion_matrix(cm, ds.classes, path=out)
    elif not ds.is_images:
        raise UsageError(f"{args.source}: the model reads 2-D points, not pictures: "
                         "there are no images to show")
    else:
        plots.plot_misclassified(ds.x_test, ds.t_test, pred, probs, ds.classes,
                                 image_shape=ds.image_shape, path=out)


def _load_history(source: Path) -> History:
    try:
        return History.load_json(source)
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{source}: not a history.json written by scratchnn train "
                         f"({type(err).__name__}: {err})") from err


# --- compare -----------------------------------------------------------------------------


def cmd_compare(args) -> int:
    histories = {}
    for run in args.runs:
        source = runs.in_run(run, runs.HISTORY_FILE)
        history = _load_history(source)
        name = source.parent.name if source.name == runs.HISTORY_FILE else str(source)
        while name in histories:
            name += "'"
        histories[name] = (history, _test_accuracy(source.parent))
    width = max(3, *(len(name) for name in histories))
    print(f"{'run':<{width}}  {'epochs':>6}  {'loss':>8}  {'train_acc':>9}  {'val_acc':>8}  "
          f"{'best val_acc':>17}  {'test_acc':>8}  {'time':>7}")
    for name, (h, test_acc) in histories.items():
        best = np.nanargmax(h.val_acc) if not np.isnan(h.val_acc).all() else None
        print(f"{name:<{width}}  {h.epochs:>6}  {_cell(h.last('loss'), 8, percent=False)}  "
              f"{_cell(h.last('train_acc'), 9)}  {_cell(h.last('val_acc'), 8)}  "
              + (f"{100 * h.val_acc[best]:7.2f}% (epoch {best + 1:>2})" if best is not None
                 else f"{'-':>17}")
              + f"  {_cell(test_acc, 8)}  {h.wall_time:6.1f}s")
    out = Path(args.output or plots.FIGURE_FILES["compare"])
    plots.plot_runs({name: h for name, (h, _) in histories.items()}, path=out)
    print(f"wrote {out}")
    return 0


def _test_accuracy(folder: Path) -> float | None:
    """The final test accuracy that the run's model.npz records, if it has one."""
    try:
        return read_model_meta(folder / runs.MODEL_FILE)["metadata"].get("test_accuracy")
    except (OSError, ValueError, KeyError):
        return None


def _cell(value: float | None, width: int, percent: bool = True) -> str:
    if value is None:
        return "-".rjust(width)
    return f"{100 * value:{width - 1}.2f}%" if percent else f"{value:{width}.4f}"


# --- gradcheck ---------------------------------------------------------------------------


def _check_network(args, rng: np.random.Generator) -> tuple[Sequential, np.ndarray, str]:
    """The float64 network of --network, and an input batch for it."""
    *hidden, outputs = args.sizes[1:]
    net = make_model("mlp", (args.sizes[0],), outputs, hidden=tuple(hidden),
                     activation=args.activation, dtype=np.float64, rng=rng,
                     weight_decay=args.weight_decay)
    what = f"{'-'.join(map(str, args.sizes))} {args.activation} MLP"
    if args.network == "conv":  # 2 channels of 6x6 -> 3 filters 3x3 -> max-pool -> affine
        from .conv import Convolution2D, Flatten, MaxPooling2D
        from .layers import Affine

        layers = [Convolution2D(rng.standard_normal((3, 2, 3, 3)) * 0.5,
                                rng.standard_normal(3) * 0.1, pad=1),
                  ACTIVATIONS[args.activation](), MaxPooling2D(2), Flatten(),
                  Affine(rng.standard_normal((27, outputs)) * 0.3, np.zeros(outputs))]
        net = Sequential(layers, net.loss_layer, weight_decay=args.weight_decay)
        return net, rng.standard_normal((args.samples, 2, 6, 6)), \
            f"conv (2x6x6, 3 filters 3x3, {args.activation}, max-pool 2) + affine network"
    if args.network in ("batchnorm", "dropout"):
        from .regularization import BatchNormalization, Dropout

        layers = list(net.layers)
        extra = (BatchNormalization(args.sizes[1], dtype=np.float64)
                 if args.network == "batchnorm" else Dropout(0.3, rng=rng))
        layers.insert(1, extra)  # after the first affine layer
        net = Sequential(layers, net.loss_layer, weight_decay=args.weight_decay)
        what = f"{what} with {type(extra).__name__} after its first layer"
    return net, rng.standard_normal((args.samples, args.sizes[0])), what


def cmd_gradcheck(args) -> int:
    if len(args.sizes) < 2:
        raise UsageError(f"--sizes needs at least 2 positive widths, got {_shown(args.sizes)}")
    rng = np.random.default_rng(args.seed)
    net, x, what = _check_network(args, rng)
    t = rng.integers(0, args.sizes[-1], size=args.samples)
    if args.network == "dropout":
        # One mask, kept for every pass: backprop and the finite differences then see the
        # same network (with a new mask per pass, they compare different networks).
        net.backprop(x, t)
        for layer in net.layers:
            if hasattr(layer, "freeze"):
                layer.freeze()
    errors = gradient_check(net, x, t)
    print(f"gradient check of a {what} (float64, {args.samples} samples): max relative "
          "error per parameter")
    for name, err in errors.items():
        print(f"  {name:<4} {err:9.2e}  {'ok' if err < args.tol else 'FAIL'}")
    worst = max(errors.values())
    verdict = "backprop agrees" if worst < args.tol else "backprop DISAGREES"
    print(f"{verdict} with numerical gradients (worst {worst:.2e}, tolerance {args.tol:g})")
    return 0 if worst < args.tol else 1


# --- the parser --------------------------------------------------------------------------


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
    parser = _Parser(
        prog="scratchnn",
        description="Neural networks from scratch on NumPy: train, evaluate and inspect them.",
        epilog="Run 'scratchnn COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the full traceback on errors")
    _add_train(sub, debug)
    _add_evaluate_and_predict(sub, debug)
    _add_plot(sub, debug)
    _add_gradcheck(sub, debug)
    _add_compare(sub, debug)
    for name, (module_name, help_text) in DELEGATED.items():
        p = sub.add_parser(name, parents=[debug], help=help_text, description=help_text)
        if name == command:  # only then: importing it may be slow, or fail
            module = importlib.import_module(module_name)
            module.add_arguments(p)
            p.set_defaults(handler=module.run)
    return parser


def _add_train(sub, debug: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "train", parents=[debug], formatter_class=_TrainFormatter, help="train a network",
        description="Train a network and save model.npz, history.json/.csv and plots. "
                    "With no options: a 784-256-10 ReLU MLP on MNIST (about 98% test "
                    "accuracy in a minute or two).")
    # Run options default to None here and get their defaults (_TRAIN_DEFAULTS) in
    # cmd_train, which so knows what the command line gave: --resume must refuse those.
    p.add_argument("--dataset", choices=DATASETS, help="data set")
    p.add_argument("--model", choices=MODELS, help="network type")
    p.add_argument("--hidden", type=_args.layer_sizes, metavar="SIZES",
                   help="hidden layer widths of the MLP, comma-separated, e.g. 100,50; '' for "
                        "none (softmax regression) (default: 256)")
    p.add_argument("--activation", choices=sorted(ACTIVATIONS),
                   help="hidden activation of the MLP")
    p.add_argument("--init", choices=INITS,
                   help="weight initialisation of the MLP (auto: He for ReLU, else Xavier)")
    p.add_argument("--weight-decay", type=_args.non_negative_float,
                   help="L2 penalty lambda/2 * sum ||W||^2 added to the loss")
    p.add_argument("--seed", type=_args.seed, help="seed of initialisation and shuffling")
    p.add_argument("--dtype", choices=("float32", "float64"),
                   help="floating-point type of the network")
    _add_optimizer_options(p)
    _add_run_options(p)
    p.set_defaults(handler=cmd_train)


def _add_optimizer_options(p: argparse.ArgumentParser) -> None:
    """``train``'s options of the optimizer and of the epochs."""
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default=None,
                   help="optimizer (default: adam; sgd for catvnoncat)")
    p.add_argument("--lr", type=_args.positive_float, default=None,
                   help="learning rate (default: the optimizer's own, 0.001 for Adam; 0.01 "
                        "for the toy sets and catvnoncat)")
    p.add_argument("--momentum", type=_args.fraction,
                   help="momentum of the momentum and nesterov optimizers")
    p.add_argument("--epochs", type=_args.positive_int, default=None,
                   help="number of epochs (default: 10; 50 for the toy sets and catvnoncat; "
                        "with --resume, the saved run's; a larger number extends a run, its "
                        "learning-rate schedule laid out again over the new total)")
    p.add_argument("--batch-size", type=_args.positive_int, default=None,
                   help="mini-batch size (default: 100; 32 for catvnoncat)")
    p.add_argument("--schedule", choices=("none", "step", "cosine"),
                   help="learning-rate schedule over the epochs")
    p.add_argument("--patience", type=_args.non_negative_int,
                   help="stop when validation accuracy has not improved for this many "
                        "epochs and keep the best epoch's weights (0: never)")
    p.add_argument("--val-split", type=_args.fraction, default=None, metavar="FRACTION",
                   help="hold out this fraction of the training set for validation; "
                        "the test set is then used once, at the end (with --patience: 0.1 "
                        "unless given)")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    """``train``'s options of the data, the run folder and the output."""
    p.add_argument("--eval-subset", type=_args.non_negative_int, metavar="N",
                   help="measure accuracies each epoch on the first N samples (0: all)")
    p.add_argument("--limit", type=_args.positive_int, metavar="N",
                   help="use only the first N training and test samples (quick tries)")
    p.add_argument("--checkpoint-every", type=_args.non_negative_int, metavar="N",
                   help="write OUT/checkpoint.npz every N epochs (0: never)")
    p.add_argument("--resume", metavar="CHECKPOINT",
                   help="continue the run saved in this checkpoint (or its folder) with its "
                        "settings; only --epochs, --out and the data folder may change (a "
                        "model.npz is not a checkpoint: it lacks the optimizer's state)")
    p.add_argument("--out", metavar="DIR",
                   help="output folder (default: runs/DATASET-MODEL-TIMESTAMP)")
    p.add_argument("--data-dir", metavar="DIR",
                   help="folder holding mnist/, fashion-mnist/, catvnoncat/ "
                        "(default: $SCRATCHNN_DATA, then the download cache)")
    p.add_argument("--no-plots", action="store_true", help="do not draw the figures")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar (default: when the output is a terminal)")


def _add_evaluate_and_predict(sub, debug: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "evaluate", parents=[debug], formatter_class=_DefaultsFormatter,
        help="test a saved model",
        description="Accuracy, per-class precision and recall, confusion matrix and a grid "
                    "of misclassified test images of a saved model.")
    p.add_argument("model_file", metavar="MODEL", help="a model.npz file (or its run folder)")
    _add_data_options(p)
    p.add_argument("--out", metavar="DIR", help="where to write the figures (default: the "
                                                "model's folder)")
    p.set_defaults(handler=cmd_evaluate)

    p = sub.add_parser(
        "predict", parents=[debug], formatter_class=_DefaultsFormatter,
        help="read handwritten digits",
        description="Classify pictures of handwritten digits (PNG/JPG, any size, colour or "
                    "grey, dark ink on light paper or the reverse): each is converted to "
                    "MNIST's form (28x28, centred by mass, white on black) first. For a "
                    "cat-vs-non-cat model, a photo is resized to 64x64 RGB, as the course "
                    "does. A picture unlike the model's training data (its energy score "
                    "below what 95%% of held-out training-like inputs reach) is flagged.")
    p.add_argument("model_file", metavar="MODEL",
                   help="a model.npz trained on MNIST-like digits or on catvnoncat")
    p.add_argument("images", metavar="IMAGE", nargs="+", help="image files")
    p.add_argument("--top", type=_args.positive_int, default=3, help="how many classes to list")
    p.add_argument("--show", action="store_true",
                   help="save the picture the model sees (28x28 or 64x64) beside each image, "
                        "as IMAGE.seen.png")
    p.add_argument("--data-dir", metavar="DIR",
                   help="data folder, for a model saved from Python: its data set's test set "
                        "calibrates the check that a picture looks like the training data")
    p.set_defaults(handler=cmd_predict, dataset=None, limit=None)


def _add_plot(sub, debug: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "plot", parents=[debug], formatter_class=_DefaultsFormatter, help="draw a figure",
        description="activations: step, sigmoid, tanh, ReLU, leaky ReLU; "
                    "activation-histograms: each layer's activations of a 5-layer network "
                    "for weights of std 1, 0.01, Xavier and He (the book's chapter 6); "
                    "gradient-descent: "
                    "the path on a 2-D function; optimizers: SGD, Momentum, AdaGrad and Adam "
                    "on x^2/20 + y^2 and on MNIST (the book's chapter 6.1); curves "
                    "HISTORY.json: learning curves; weights MODEL: first-layer weights; "
                    "confusion MODEL, misclassified MODEL: on the test set; "
                    "decision-boundary MODEL: the classes over the plane, for a model of 2 "
                    "inputs. Each is written to the file name that train and reproduce use.")
    p.add_argument("figure", choices=tuple(plots.FIGURE_FILES.keys() - {"compare"}))
    p.add_argument("source", nargs="?", metavar="FILE",
                   help="history.json (curves) or model.npz (weights, confusion, misclassified)")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="output .png or .svg (default: the figure's name with "
                        "underscores, as train writes it: learning_curves.png, ...)")
    p.add_argument("--function", choices=sorted(_DESCENT_FUNCTIONS), default="sphere",
                   help="gradient-descent: x0^2 + x1^2 (sphere) or x0^2/20 + x1^2")
    p.add_argument("--lr", type=_args.positive_float, help="gradient-descent: learning rate")
    p.add_argument("--activation", choices=("sigmoid", "tanh", "relu"), default="sigmoid",
                   help="activation-histograms: the hidden activation")
    p.add_argument("--steps", type=_args.non_negative_int,
                   help="gradient-descent: number of steps; optimizers: MNIST iterations "
                        "per optimizer (default 1000; 0: the paths only)")
    _add_data_options(p)
    p.set_defaults(handler=cmd_plot)


def _add_gradcheck(sub, debug: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "gradcheck", parents=[debug], formatter_class=_DefaultsFormatter,
        help="compare backprop with numerical gradients",
        description="Backpropagation against central differences on a small float64 "
                    "network: an MLP, or with convolution, batch normalisation or dropout.")
    p.add_argument("--network", choices=("mlp", "conv", "batchnorm", "dropout"), default="mlp",
                   help="what to check: the MLP of --sizes; a small convolution and pooling "
                        "network; the MLP with batch normalisation or (one mask, frozen) "
                        "dropout after its first layer")
    p.add_argument("--sizes", type=_args.layer_sizes, default=[5, 8, 6, 3], metavar="SIZES",
                   help="layer widths, comma-separated (conv: the last is the number of "
                        "classes)")
    p.add_argument("--activation", choices=sorted(ACTIVATIONS), default="tanh",
                   help="hidden activation (smooth ones avoid ReLU's kink)")
    p.add_argument("--weight-decay", type=_args.non_negative_float, default=0.1,
                   help="L2 penalty (checked too)")
    p.add_argument("--samples", type=_args.positive_int, default=4, help="batch size")
    p.add_argument("--seed", type=_args.seed, default=0, help="random seed")
    p.add_argument("--tol", type=_args.positive_float, default=1e-6,
                   help="largest relative error that passes")
    p.set_defaults(handler=cmd_gradcheck)


def _add_compare(sub, debug: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "compare", parents=[debug], formatter_class=_DefaultsFormatter,
        help="compare the learning curves of runs",
        description="One table and one figure of several training runs: per epoch, the "
                    "mean training loss and val_acc (the accuracy on the set each run "
                    "watched), and each run's final numbers.")
    p.add_argument("runs", metavar="RUN", nargs="+", help="run folders (or history.json files)")
    p.add_argument("-o", "--output", metavar="FILE", help="output .png or .svg (default: "
                                                          "compare.png)")
    p.set_defaults(handler=cmd_compare)


def _add_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", choices=DATASETS,
                   help="test data (default: the one the model was trained on)")
    p.add_argument("--data-dir", metavar="DIR", help="data folder (default: $SCRATCHNN_DATA, "
                                                     "then the download cache)")
    p.add_argument("--limit", type=_args.positive_int, metavar="N",
                   help="use only the first N test samples")


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
