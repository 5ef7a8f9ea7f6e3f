"""Training: mini-batch gradient descent with evaluation, callbacks, checkpoints and resume.

>>> trainer = Trainer(model, Adam(lr=1e-3), epochs=10, batch_size=100, seed=0)  # doctest: +SKIP
>>> history = trainer.fit(x_train, t_train, x_test, t_test)                      # doctest: +SKIP

Each epoch draws one random permutation of the training set from a numpy Generator and
walks through it in contiguous slices of ``batch_size``: every sample is seen once per
epoch. A step is ``loss = model.backprop(xb, tb); optimizer.update(params, grads)``; with
scratchnn's own output layers the targets are checked (and converted) once for the whole
set, and the steps skip that check (``check_input=False``). After each epoch (or every
``eval_every`` epochs) the network is evaluated on the training set and on the validation
set (or on their first ``eval_subset`` samples), and the callbacks (:class:`EarlyStopping`,
:class:`StepDecay`, :class:`CosineDecay`) run.

A checkpoint (every ``checkpoint_every`` epochs) holds the parameters, the optimizer's
state, the Generator's state, the history and the callbacks' state, so that
``fit(..., resume=checkpoint)`` ends with exactly the parameters of a run that was never
interrupted. A NaN or infinite loss stops training with :class:`TrainingDiverged`, after
putting back the model and the optimizer's state from the end of the last good epoch.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np

from ._checks import positive_int
from .functions import _check_labels
from .init import _seed_or_rng
from .layers import Affine, IdentityMSE
from .network import OUTPUTS, Sequential, _classes_of
from .optim import Optimizer, make_optimizer
from .serialization import (
    atomic_write,
    load_arrays,
    model_arrays,
    model_meta,
    read_archive,
    write_archive,
)

__all__ = [
    "Callback",
    "CosineDecay",
    "EarlyStopping",
    "History",
    "LearningRateSchedule",
    "StepDecay",
    "Trainer",
    "TrainingDiverged",
    "classification_report",
    "confusion_matrix",
    "evaluate",
    "fit",
]

CHECKPOINT_FORMAT = "scratchnn-checkpoint"
#: Columns of the per-epoch records, in table order.
EPOCH_FIELDS = ("epoch", "loss", "train_acc", "val_acc", "val_loss", "lr", "time")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the model (parameters and layer state) and the
    optimizer's state are put back as they were at the end of the last good epoch.

    ``epoch`` and ``iteration`` (both counted from 1) say where; ``history`` is what was
    recorded up to then.
    """

    def __init__(self, message: str, epoch: int, iteration: int, history: History) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.iteration = iteration
        self.history = history


# --- history -----------------------------------------------------------------------------


class History:
    """What a training run recorded.

    - ``loss``: the mini-batch loss of every iteration (float64 array);
    - ``records``: one dict per epoch with the fields of :data:`EPOCH_FIELDS`
      (``loss`` is the mean mini-batch loss of the epoch; the accuracies and ``val_loss``
      are None for epochs that were not evaluated or sets that were not given);
    - ``iterations_per_epoch``, ``wall_time`` (seconds), ``stopped_reason`` (None when the
      run went through all its epochs).
    """

    def __init__(self, iterations_per_epoch: int = 0) -> None:
        self.loss = np.zeros(0)
        self.records: list[dict] = []
        self.iterations_per_epoch = iterations_per_epoch
        self.wall_time = 0.0
        self.stopped_reason: str | None = None

    def column(self, field: str) -> np.ndarray:
        """One per-epoch field as a float array, NaN where it was not measured."""
        if field not in EPOCH_FIELDS:
            raise ValueError(f"unknown field {field!r}; expected one of {EPOCH_FIELDS}")
        return np.array([np.nan if r[field] is None else r[field] for r in self.records])

    @property
    def epochs(self) -> int:
        return len(self.records)

    @property
    def train_acc(self) -> np.ndarray:
        return self.column("train_acc")

    @property
    def val_acc(self) -> np.ndarray:
        return self.column("val_acc")

    def last(self, field: str) -> float | None:
        """The most recent measured value of a per-epoch field, or None."""
        for record in reversed(self.records):
            if record[field] is not None:
                return record[field]
        return None

    def to_dict(self) -> dict:
        return {
            "loss": self.loss.tolist(),
            "epochs": self.records,
            "iterations_per_epoch": self.iterations_per_epoch,
            "wall_time": self.wall_time,
            "stopped_reason": self.stopped_reason,
        }

    @classmethod
    def from_dict(cls, data: dict) -> History:
        history = cls(int(data["iterations_per_epoch"]))
        history.loss = np.asarray(data["loss"], dtype=np.float64)
        history.records = [dict(r) for r in data["epochs"]]
        history.wall_time = float(data["wall_time"])
        history.stopped_reason = data["stopped_reason"]
        return history

    def save_json(self, path: str | os.PathLike) -> None:
        """Everything, including the loss of every iteration (NaN is written as null)."""
        data = self.to_dict()
        data["loss"] = [x if math.isfinite(x) else None for x in data["loss"]]
        with atomic_write(path, "w") as f:
            json.dump(data, f, indent=1)

    @classmethod
    def load_json(cls, path: str | os.PathLike) -> History:
        with open(path) as f:
            data = json.load(f)
        data["loss"] = [math.nan if x is None else x for x in data["loss"]]
        return cls.from_dict(data)

    def save_csv(self, path: str | os.PathLike) -> None:
        """The per-epoch table, one row per epoch."""
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=EPOCH_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.records)
        with atomic_write(path, "w") as f:
            f.write(text.getvalue())

    def __repr__(self) -> str:
        return (f"History(epochs={self.epochs}, iterations={len(self.loss)}, "
                f"val_acc={self.last('val_acc')}, train_acc={self.last('train_acc')})")


# --- callbacks ---------------------------------------------------------------------------


class Callback:
    """Hooks the trainer calls; epochs are counted from 1.

    ``logs`` is the epoch's record (see :class:`History`). A callback stops training by
    setting ``trainer.stop_training = True``. ``state()``/``load_state()`` carry what it
    remembers through a checkpoint (JSON values and numpy arrays).
    """

    def on_train_begin(self, trainer: Trainer) -> None: ...

    def on_epoch_begin(self, trainer: Trainer, epoch: int) -> None: ...

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict) -> None: ...

    def on_train_end(self, trainer: Trainer) -> None: ...

    def state(self) -> dict:
        return {}

    def load_state(self, state: dict) -> None: ...


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` evaluations.

    ``mode`` "max" suits accuracies, "min" losses ("auto": min for names ending in "loss").
    With ``restore_best`` the model ends as it was at its best evaluation: parameters and
    layer state (BatchNorm's running statistics), which is what the score was measured on.
    """

    def __init__(self, monitor: str = "val_acc", patience: int = 3, min_delta: float = 0.0,
                 mode: str = "auto", restore_best: bool = True) -> None:
        if monitor not in EPOCH_FIELDS:
            raise ValueError(f"unknown monitor {monitor!r}; expected one of {EPOCH_FIELDS}")
        if mode == "auto":
            mode = "min" if monitor.endswith("loss") else "max"
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min', 'max' or 'auto', got {mode!r}")
        if int(patience) < 1:
            raise ValueError(f"patience must be >= 1, got {patience}")
        self.monitor = monitor
        self.patience = int(patience)
        self.min_delta = abs(float(min_delta))
        self.sign = 1.0 if mode == "max" else -1.0
        self.restore_best = restore_best
        self.best: float | None = None
        self.best_epoch = 0
        self.wait = 0
        #: the model's arrays (:func:`~scratchnn.serialization.model_arrays`) at its best
        self.best_arrays: dict[str, np.ndarray] = {}

    def on_epoch_end(self, trainer, epoch, logs):
        value = logs[self.monitor]
        if value is None:
            if trainer.evaluated(epoch):
                raise ValueError(f"EarlyStopping monitors {self.monitor!r}, which this run "
                                 "does not measure (give validation data or monitor another)")
            return
        if self.best is None or self.sign * (value - self.best) > self.min_delta:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best:
                self.best_arrays = _snapshot(trainer.model)
            return
        self.wait += 1
        if self.wait >= self.patience:
            trainer.stop_training = True
            trainer.history.stopped_reason = (
                f"early stopping at epoch {epoch}: {self.monitor} has not improved on "
                f"{self.best:#.4g} (epoch {self.best_epoch}) for {self.wait} evaluations"
            )

    def on_train_end(self, trainer):
        if self.restore_best and self.best_arrays:
            # A checkpoint of an earlier version kept parameters only: the layers' state
            # (BatchNorm's statistics) then stays as it is.
            load_arrays(trainer.model, {**model_arrays(trainer.model), **self.best_arrays})

    def state(self):
        # The arrays keep their model-file names ("param/W1", "state/1/running_mean").
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                **self.best_arrays}

    def load_state(self, state):
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]
        self.best_arrays = {k: v for k, v in state.items()
                            if k.startswith(("param/", "state/"))}


class LearningRateSchedule(Callback):
    """Set the optimizer's learning rate to base_lr * factor(epoch) before each epoch.

    ``base_lr`` is the optimizer's rate when training starts.
    """

    def __init__(self) -> None:
        self.base_lr: float | None = None

    def factor(self, epoch: int) -> float:
        raise NotImplementedError

    def on_train_begin(self, trainer):
        if self.base_lr is None:
            self.base_lr = trainer.optimizer.lr

    def on_epoch_begin(self, trainer, epoch):
        trainer.optimizer.lr = self.base_lr * self.factor(epoch)

    def state(self):
        return {"base_lr": self.base_lr}

    def load_state(self, state):
        self.base_lr = state["base_lr"]


class StepDecay(LearningRateSchedule):
    """factor = gamma ** floor((epoch - 1) / step_size): divide the rate every few epochs."""

    def __init__(self, step_size: int, gamma: float = 0.1) -> None:
        super().__init__()
        if int(step_size) < 1:
            raise ValueError(f"step_size must be >= 1, got {step_size}")
        if not 0 < gamma <= 1:
            raise ValueError(f"gamma must be in (0, 1], got {gamma}")
        self.step_size = int(step_size)
        self.gamma = float(gamma)

    def factor(self, epoch):
        return self.gamma ** ((epoch - 1) // self.step_size)


class CosineDecay(LearningRateSchedule):
    """factor = m + (1 - m) (1 + cos(pi (epoch - 1) / epochs)) / 2, from 1 down towards m."""

    def __init__(self, epochs: int, min_factor: float = 0.0) -> None:
        super().__init__()
        if int(epochs) < 1:
            raise ValueError(f"epochs must be >= 1, got {epochs}")
        if not 0 <= min_factor <= 1:
            raise ValueError(f"min_factor must be in [0, 1], got {min_factor}")
        self.epochs = int(epochs)
        self.min_factor = float(min_factor)

    def factor(self, epoch):
        cos = 0.5 * (1 + math.cos(math.pi * (epoch - 1) / self.epochs))
        return self.min_factor + (1 - self.min_factor) * cos


# --- evaluation --------------------------------------------------------------------------


def _labels(t: np.ndarray) -> np.ndarray:
    t = np.asarray(t)
    if t.ndim == 2 and t.shape[1] > 1:
        return np.argmax(t, axis=1)
    return t.reshape(-1)


def evaluate(model: Sequential, x, t, batch_size: int = 1000) -> tuple[float, float | None]:
    """(loss, accuracy) of ``model`` on (x, t), from one inference pass.

    The pass runs in chunks of ``batch_size`` samples, so that a ConvNet's intermediate
    arrays stay small whatever the size of the set.

    The loss is the output layer's (cross-entropy, ...) without the weight-decay term;
    the accuracy is None for a regression model (identity output).
    """
    scores = model.predict(x, batch_size=batch_size)
    loss = model.loss_layer.forward(scores, t)
    if isinstance(model.loss_layer, IdentityMSE):
        return loss, None
    return loss, float(np.mean(_classes_of(scores) == _labels(t)))


def confusion_matrix(t, pred, num_classes: int | None = None) -> np.ndarray:
    """cm[i, j] = number of samples of true class i predicted as class j."""
    t = _labels(t)
    pred = np.asarray(pred).reshape(-1)
    if t.shape != pred.shape:
        raise ValueError(f"expected as many predictions as labels, got {pred.shape} and {t.shape}")
    if num_classes is None:
        num_classes = int(max(t.max(initial=0), pred.max(initial=0))) + 1
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    t = _check_labels(t, num_classes)
    pred = _check_labels(pred, num_classes)
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (t, pred), 1)
    return cm


def classification_report(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class precision = cm[j, j] / column sum, recall = cm[i, i] / row sum, support.

    A class never predicted has precision 0 (and one never present, recall 0).
    """
    cm = np.asarray(cm)
    hits = np.diag(cm).astype(np.float64)
    predicted = cm.sum(axis=0)
    actual = cm.sum(axis=1)
    precision = np.divide(hits, predicted, out=np.zeros_like(hits), where=predicted > 0)
    recall = np.divide(hits, actual, out=np.zeros_like(hits), where=actual > 0)
    return {"precision": precision, "recall": recall, "support": actual}


# --- the trainer -------------------------------------------------------------------------


class Trainer:
    """Mini-batch training of a :class:`Sequential` model with any optimizer.

    - ``optimizer``: an :class:`~scratchnn.optim.Optimizer` or a name for
      :func:`~scratchnn.optim.make_optimizer` (with its default learning rate);
    - ``epochs``: total number of epochs (a resumed run continues up to it);
    - ``seed`` / ``rng``: where the shuffling comes from;
    - ``eval_every``: evaluate every this many epochs (and after the last);
      ``eval_subset``: evaluate on the first this many samples of each set (None: all);
    - ``drop_last``: skip the last, smaller batch of an epoch when n % batch_size != 0;
    - ``progress``: show a tqdm progress bar (None: only when stderr is a terminal);
    - ``checkpoint_dir`` / ``checkpoint_every``: write ``checkpoint.npz`` there every this
      many epochs and after the last;
    - ``metadata``: JSON values stored in the checkpoints (what a resumed run needs to know).
    """

    def __init__(
        self,
        model: Sequential,
        optimizer: Optimizer | str = "adam",
        *,
        epochs: int = 10,
        batch_size: int = 100,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
        eval_every: int = 1,
        eval_subset: int | None = None,
        drop_last: bool = False,
        callbacks: Sequence[Callback] = (),
        progress: bool | None = None,
        checkpoint_dir: str | os.PathLike | None = None,
        checkpoint_every: int = 1,
        metadata: dict | None = None,
    ) -> None:
        if not isinstance(model, Sequential):
            raise TypeError(f"expected a Sequential model, got {type(model).__name__}")
        if isinstance(optimizer, str):
            optimizer = make_optimizer(optimizer)
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"expected an Optimizer or its name, got {type(optimizer).__name__}")
        for name, value in (("epochs", epochs), ("batch_size", batch_size),
                            ("eval_every", eval_every), ("checkpoint_every", checkpoint_every)):
            positive_int(value, name)
        if eval_subset is not None:
            positive_int(eval_subset, "eval_subset (or None)")
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances, got {cb!r}")
        self.model = model
        self.optimizer = optimizer
        self.epochs = int(epochs)
        self.batch_size = int(batch_size)
        self.rng = _seed_or_rng(seed, rng)
        self.eval_every = int(eval_every)
        self.eval_subset = None if eval_subset is None else int(eval_subset)
        self.drop_last = drop_last
        self.callbacks = list(callbacks)
        self.progress = sys.stderr.isatty() if progress is None else bool(progress)
        self.checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        self.checkpoint_every = int(checkpoint_every)
        self.metadata = dict(metadata or {})
        self.history = History()
        self.stop_training = False
        self.epoch = 0  # epochs completed
        self._samples = 0  # training-set size of the current run, for checkpoints

    @property
    def checkpoint_path(self) -> Path | None:
        return None if self.checkpoint_dir is None else self.checkpoint_dir / "checkpoint.npz"

    def evaluated(self, epoch: int) -> bool:
        """Whether the trainer evaluates the model after ``epoch``."""
        return epoch % self.eval_every == 0 or epoch == self.epochs

    def fit(self, x, t, x_val=None, t_val=None,
            resume: str | os.PathLike | None = None) -> History:
        """Train on (x, t); evaluate on (x_val, t_val) too when given. Returns the history.

        Both are checked before the first step: no NaN or inf in ``x``, targets that the
        model's output layer takes (class labels in range, or one target per output). A
        custom output layer checks the training targets itself, batch by batch, in its
        forward; fit runs it over the validation set before the first step.
        ``resume`` names a checkpoint (or the folder holding ``checkpoint.npz``) of a run
        with the same model, optimizer, data and batch size: training continues from it.
        """
        x, t = self._data(x, t, "x", "t")
        if (x_val is None) != (t_val is None):
            raise ValueError("give both x_val and t_val, or neither")
        if x_val is not None:
            x_val, t_val = self._data(x_val, t_val, "x_val", "t_val")
        check_steps = not _checks_targets_once(self.model)
        if check_steps:
            # A custom output layer checks targets in its forward: every step does so for
            # its batch, and one evaluation now for t_val (else first at the epoch's end).
            if x_val is not None:
                scores = self.model.predict(x_val, batch_size=1000)  # x_val's own errors
                try:
                    self.model.loss_layer.forward(scores, t_val)
                except (ValueError, TypeError) as err:
                    raise _named("t_val", err) from err
        else:
            # Only the scores' shape matters: one sample of zeros gives it.
            width = self.model.predict(np.zeros((1, *x.shape[1:]), x.dtype)).shape[1]
            t = self._targets(t, len(x), width, "t")
            if x_val is not None:
                t_val = self._targets(t_val, len(x_val), width, "t_val")
        n = len(x)
        iters = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if iters == 0:
            raise ValueError(f"drop_last with {n} samples < batch_size {self.batch_size} "
                             "leaves no batch")
        self.history = History(iters)
        self._samples = n
        self.epoch = 0
        self.stop_training = False
        if resume is not None:
            self._load_checkpoint(resume, n)
        losses = np.full(self.epochs * iters, np.nan)
        losses[: len(self.history.loss)] = self.history.loss
        self.history.loss = losses
        for cb in self.callbacks:
            cb.on_train_begin(self)

        bar = self._progress_bar(iters)
        recorded = None  # losses to keep: those of the completed epochs, unless diverged
        try:
            # Overflow warnings are how a diverging run first shows; it is caught below.
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                self._loop(x, t, x_val, t_val, iters, bar, check_steps)
        except TrainingDiverged as err:
            recorded = (err.epoch - 1) * iters + err.iteration
            raise
        finally:
            if bar is not None:
                bar.close()
            self.history.loss = losses[: self.epoch * iters if recorded is None else recorded]
        for cb in self.callbacks:
            cb.on_train_end(self)
        return self.history

    def _data(self, x, t, xname: str, tname: str) -> tuple[np.ndarray, np.ndarray]:
        given = x
        with np.errstate(over="ignore"):  # values too large for the dtype: reported below
            x = np.ascontiguousarray(x, dtype=self.model.dtype)
        t = np.ascontiguousarray(t)
        if x.ndim < 2 or len(x) == 0:
            raise ValueError(f"{xname} must be a non-empty batch (N, ...), got shape {x.shape}")
        if len(t) != len(x):
            raise ValueError(f"{xname} has {len(x)} samples but {tname} has {len(t)}")
        # Checked here, once: inside the loop a NaN input would look like divergence.
        # A row's sum is NaN or inf whenever one of its elements is. Summed by a BLAS
        # matrix-vector product, which runs at memory speed on every core: for MNIST 8 to
        # 17 ms, where x.sum() takes 22 to 28 and isfinite(x) 37. Only a sum that
        # overflows (or a real NaN) needs the element-wise check.
        rows = x.reshape(len(x), -1)
        with np.errstate(over="ignore", invalid="ignore"):
            sums = rows @ np.ones(rows.shape[1], x.dtype)
        bad = [] if np.isfinite(sums).all() else np.flatnonzero(~np.isfinite(rows).all(axis=1))
        if len(bad):
            first = np.asarray(given[bad[0]])
            what = ("NaN or inf" if first.dtype.kind != "f" or not np.isfinite(first).all()
                    else f"values too large for {x.dtype}")
            raise ValueError(f"{xname} contains {what} (in {len(bad)} samples, the first "
                             f"at index {bad[0]})")
        return x, t

    def _targets(self, t: np.ndarray, n: int, width: int, name: str) -> np.ndarray:
        """``t`` checked by the output layer for n samples of ``width`` scores."""
        try:
            return self.model.loss_layer.check_targets(
                np.empty((n, width), self.model.dtype), t)
        except (ValueError, TypeError) as err:
            raise _named(name, err) from err

    def _progress_bar(self, iters: int):
        if not self.progress:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=self.epochs * iters, initial=self.epoch * iters, unit="batch",
                    leave=False, dynamic_ncols=True)

    def _loop(self, x, t, x_val, t_val, iters, bar, check_steps: bool) -> None:
        model, opt, history = self.model, self.optimizer, self.history
        params, grads = model.params, model.grads
        update = opt.update
        # An override of backprop is called as backprop(x, t) (see _checks_targets_once).
        backprop = model.backprop if check_steps else partial(model.backprop, check_input=False)
        losses = history.loss
        bs = self.batch_size
        xbuf = np.empty((bs, *x.shape[1:]), dtype=x.dtype)
        tbuf = np.empty((bs, *t.shape[1:]), dtype=t.dtype)
        every = max(1, iters // 20)  # progress-bar refreshes per epoch: about 20
        # What a diverged run falls back to: the model and optimizer at the last good epoch.
        good = _snapshot(model)
        good_optimizer = _optimizer_snapshot(opt)
        accuracy = ""  # the latest accuracy, shown beside the loss on the progress bar
        started = time.perf_counter() - history.wall_time
        blas_threads = training_blas_threads(model, bs)

        for epoch in range(self.epoch + 1, self.epochs + 1):
            tic = time.perf_counter()
            for cb in self.callbacks:
                cb.on_epoch_begin(self, epoch)
            if bar is not None:
                bar.set_description(f"epoch {epoch}/{self.epochs}", refresh=False)
            perm = self.rng.permutation(len(x))
            it = (epoch - 1) * iters
            with blas_thread_limit(blas_threads):
                for i in range(iters):
                    idx = perm[i * bs : (i + 1) * bs]
                    # mode="clip" lets take() write straight into the buffer (valid indices).
                    xb = np.take(x, idx, axis=0, out=xbuf[: len(idx)], mode="clip")
                    tb = np.take(t, idx, axis=0, out=tbuf[: len(idx)], mode="clip")
                    try:
                        loss = backprop(xb, tb)
                    except ValueError:
                        # The loss layer refuses scores that overflowed: divergence too.
                        if np.isfinite(model.predict(xb)).all():
                            raise
                        loss = math.nan
                    losses[it + i] = loss
                    if not math.isfinite(loss):
                        self._diverged(epoch, i + 1, loss, good, good_optimizer)
                    update(params, grads)
                    if bar is not None and (i + 1) % every == 0:
                        recent = losses[it + i + 1 - every : it + i + 1]
                        bar.set_postfix_str(f"loss {np.mean(recent):.4f}{accuracy}",
                                            refresh=False)
                        bar.update(every)
            # BatchNorm's running statistics can overflow while every loss stayed finite.
            arrays = model_arrays(model)  # views: evaluating leaves them as they are
            if not _all_finite(arrays):
                self._diverged(epoch, iters, math.nan, good, good_optimizer)
            if bar is not None:
                bar.update(iters - iters // every * every)

            try:
                record = self._evaluate(epoch, x, t, x_val, t_val, losses[it : it + iters])
            except ValueError:
                # Finite weights can still give scores that overflow: divergence too.
                if all(np.isfinite(model.predict(part, batch_size=1000)).all()
                       for part in (x, x_val) if part is not None):
                    raise
                self._diverged(epoch, iters, math.nan, good, good_optimizer)
            for k, v in arrays.items():
                good[k][...] = v
            good_optimizer = _optimizer_snapshot(opt)
            self.epoch = epoch
            history.wall_time = time.perf_counter() - started
            record["time"] = time.perf_counter() - tic
            history.records.append(record)
            for cb in self.callbacks:
                cb.on_epoch_end(self, epoch, record)
            if self.checkpoint_dir is not None and (
                epoch % self.checkpoint_every == 0 or epoch == self.epochs or self.stop_training
            ):
                self.save_checkpoint(self.checkpoint_path)
            for field in ("val_acc", "train_acc"):
                if record[field] is not None:
                    accuracy = f", {field} {record[field]:.4f}"
                    break
            if self.stop_training:
                break

    def _evaluate(self, epoch, x, t, x_val, t_val, epoch_losses) -> dict:
        record = dict.fromkeys(EPOCH_FIELDS)
        record.update(epoch=epoch, loss=float(np.mean(epoch_losses)), lr=self.optimizer.lr)
        if self.evaluated(epoch):
            k = self.eval_subset
            _, record["train_acc"] = evaluate(self.model, x[:k], t[:k])
            if x_val is not None:
                record["val_loss"], record["val_acc"] = evaluate(self.model, x_val[:k], t_val[:k])
        return record

    def _diverged(self, epoch: int, iteration: int, loss: float, good: dict,
                  good_optimizer: tuple[dict, int]) -> None:
        load_arrays(self.model, good)
        self.optimizer.state, self.optimizer.steps = good_optimizer
        kept = f"the end of epoch {epoch - 1}" if epoch > 1 else "initialisation"
        self.history.stopped_reason = (
            f"training diverged at epoch {epoch}, iteration {iteration} (loss {loss}); "
            f"put back the model and optimizer from {kept}; try a smaller learning rate "
            f"(it was {self.optimizer.lr:g})"
        )
        raise TrainingDiverged(self.history.stopped_reason, epoch, iteration, self.history)

    # --- checkpoints -------------------------------------------------------------------

    def save_checkpoint(self, path: str | os.PathLike) -> None:
        """Write everything needed to resume after the current epoch (atomically)."""
        arrays = model_arrays(self.model)
        for name, slots in self.optimizer.state.items():
            for slot, value in slots.items():
                arrays[f"optim/{name}/{slot}"] = value
        arrays["history/loss"] = self.history.loss[: self.epoch * self.history.iterations_per_epoch]
        callbacks = []
        for i, cb in enumerate(self.callbacks):
            values = {}
            for key, value in cb.state().items():
                if isinstance(value, np.ndarray):
                    arrays[f"callback/{i}/{key}"] = value
                else:
                    values[key] = value
            callbacks.append({"type": type(cb).__name__, "values": values})
        history = self.history.to_dict()
        del history["loss"]
        meta = model_meta(self.model, self.metadata, kind=CHECKPOINT_FORMAT)
        meta["training"] = {
            "epoch": self.epoch,
            "samples": self._samples,
            "batch_size": self.batch_size,
            "optimizer": {"type": type(self.optimizer).__name__, "lr": self.optimizer.lr,
                          "steps": self.optimizer.steps,
                          "hyperparameters": self.optimizer.hyperparameters()},
            "rng": self.rng.bit_generator.state,
            "layer_rngs": _layer_rng_states(self.model),
            "history": history,
            "callbacks": callbacks,
        }
        write_archive(path, arrays, meta)

    def _load_checkpoint(self, path: str | os.PathLike, n: int) -> None:
        path = Path(path)
        if path.is_dir():
            path = path / "checkpoint.npz"
        arrays, meta = read_archive(path, formats=(CHECKPOINT_FORMAT,))
        state = meta["training"]
        if meta["config"] != self.model.config():
            raise ValueError(f"{path}: the checkpoint is of a different model architecture")
        opt = state["optimizer"]
        if opt["type"] != type(self.optimizer).__name__:
            raise ValueError(f"{path}: the checkpoint was trained with {opt['type']}, "
                             f"not {type(self.optimizer).__name__}")
        # The learning rate is the checkpoint's (a schedule moves it); the rest must agree.
        # (Checkpoints of earlier versions did not record them.)
        saved = {k: v for k, v in opt.get("hyperparameters", {}).items() if k != "lr"}
        ours = {k: v for k, v in self.optimizer.hyperparameters().items() if k in saved}
        if saved != ours:
            changed = ", ".join(f"{k} {saved[k]!r} -> {ours.get(k)!r}" for k in saved
                                if saved[k] != ours.get(k))
            raise ValueError(f"{path}: the checkpoint's {opt['type']} had other settings "
                             f"than this trainer's optimizer ({changed})")
        if state["samples"] != n or state["batch_size"] != self.batch_size:
            raise ValueError(
                f"{path}: the checkpoint ran on {state['samples']} samples in batches of "
                f"{state['batch_size']}; this run has {n} samples and batch_size "
                f"{self.batch_size}"
            )
        if state["epoch"] > self.epochs:
            raise ValueError(f"{path}: the checkpoint is at epoch {state['epoch']}, past this "
                             f"run's {self.epochs} epochs; resume with epochs >= "
                             f"{state['epoch']}")
        if len(state["callbacks"]) != len(self.callbacks):
            raise ValueError(f"{path}: the checkpoint had {len(state['callbacks'])} callbacks, "
                             f"this trainer has {len(self.callbacks)}")
        load_arrays(self.model, arrays)
        self.optimizer.lr = opt["lr"]
        self.optimizer.steps = opt["steps"]
        self.optimizer.state = {}
        for key, value in arrays.items():
            if key.startswith("optim/"):
                _, name, slot = key.split("/")
                self.optimizer.state.setdefault(name, {})[slot] = value
        self.rng.bit_generator.state = state["rng"]
        _set_layer_rng_states(self.model, state["layer_rngs"])
        for i, (cb, saved) in enumerate(zip(self.callbacks, state["callbacks"], strict=True)):
            prefix = f"callback/{i}/"
            values = dict(saved["values"])
            values.update({k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)})
            cb.load_state(values)
        self.history = History.from_dict({**state["history"], "loss": arrays["history/loss"]})
        self.epoch = state["epoch"]


#: A training step whose largest matrix product has at most this many multiply-adds runs
#: on one BLAS thread (see :func:`training_blas_threads`); 0 turns the rule off.
SMALL_PRODUCT = 16_000_000


def training_blas_threads(model: Sequential, batch_size: int) -> int | None:
    """How many BLAS threads the training steps of ``model`` use: 1, or None (the BLAS's own).

    A step of a network of :class:`~scratchnn.layers.Affine` layers multiplies matrices of
    (batch, d_in) and (d_in, d_out) three times per layer. When the largest product is
    small (784-100-10 in batches of 100: 7.8 million multiply-adds, a tenth of a
    millisecond), handing half of it to a second thread and waiting for it costs about what
    it saves, and where the other cores are busy a BLAS thread that spins waiting for work
    slows everything down. Products larger than :data:`SMALL_PRODUCT`, and networks with
    other weighted layers (convolutions), keep the BLAS's thread count.
    """
    products = []
    for layer in model.layers:
        if isinstance(layer, Affine):
            products.append(batch_size * layer.W.size)
        elif "W" in layer.params:  # a convolution: its products depend on image sizes
            return None
    if products and max(products) <= SMALL_PRODUCT:
        return 1
    return None


@contextlib.contextmanager
def blas_thread_limit(threads: int | None):
    """At most ``threads`` threads for NumPy's BLAS inside the block (None: no change).

    The setting belongs to the whole process and is put back when the block ends, also on
    an exception: trainers that run at the same time in several Python threads would undo
    each other's setting, so train one model at a time per process.
    """
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads, user_api="blas"):
        yield


def _checks_targets_once(model: Sequential) -> bool:
    """Whether fit checks the targets once and the steps skip the output layer's checks.

    Only for scratchnn's own output layers (the check costs about 4% of a small network's
    step), and only where ``backprop`` and ``loss`` are Sequential's: an override, or a
    wrapper put on the instance, may not take ``check_input``.
    """
    return (type(model.loss_layer) in OUTPUTS.values()
            and getattr(model.backprop, "__func__", None) is Sequential.backprop
            and type(model).loss is Sequential.loss)


def _named(name: str, err: ValueError | TypeError) -> ValueError | TypeError:
    """``err``'s kind (TypeError or ValueError) with its message prefixed by ``name``."""
    return (TypeError if isinstance(err, TypeError) else ValueError)(f"{name}: {err}")


def _all_finite(arrays: dict[str, np.ndarray]) -> bool:
    return all(np.isfinite(a).all() for a in arrays.values())


def _snapshot(model: Sequential) -> dict[str, np.ndarray]:
    """Copies of the model's parameters and layer state, named as in a model file."""
    return {k: v.copy() for k, v in model_arrays(model).items()}


def _optimizer_snapshot(opt: Optimizer) -> tuple[dict, int]:
    """A copy of the optimizer's state (momenta, ...) and its step count."""
    state = {name: {slot: a.copy() for slot, a in slots.items()}
             for name, slots in opt.state.items()}
    return state, opt.steps


def _layer_rng_states(model: Sequential) -> dict[str, dict]:
    """Generator states of layers that draw random numbers while training (dropout)."""
    return {str(i): layer.rng.bit_generator.state for i, layer in enumerate(model.layers)
            if isinstance(getattr(layer, "rng", None), np.random.Generator)}


def _set_layer_rng_states(model: Sequential, states: dict[str, dict]) -> None:
    for i, state in states.items():
        model.layers[int(i)].rng.bit_generator.state = state


def fit(
    model: Sequential,
    x,
    t,
    x_val=None,
    t_val=None,
    *,
    optimizer: Optimizer | str = "adam",
    lr: float | None = None,
    **trainer_options,
) -> History:
    """Train ``model`` in one call: ``fit(net, x, t, x_test, t_test, optimizer="sgd", lr=0.1)``.

    ``lr`` sets the learning rate of a named optimizer; the other keywords go to
    :class:`Trainer` (epochs, batch_size, seed, callbacks, ...).
    """
    if isinstance(optimizer, str):
        optimizer = make_optimizer(optimizer, **({} if lr is None else {"lr": lr}))
    elif lr is not None:
        raise TypeError("lr= only applies to an optimizer given by name")
    return Trainer(model, optimizer, **trainer_options).fit(x, t, x_val, t_val)
