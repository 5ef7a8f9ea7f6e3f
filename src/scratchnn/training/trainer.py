"""The training loop: mini-batch gradient descent, as the book runs it (chapters 4 to 6).

``fit`` checks each data set once (:meth:`Sequential.check_data`). Each epoch then walks
through one random permutation of the training set in slices of ``batch_size`` (every
sample seen once per epoch), a step being the book's::

    loss = model.train_step(xb, tb)        # forward and backward: fills model.grads
    optimizer.step(model.params, model.grads)

After an epoch the model is evaluated and the callbacks run; a checkpoint
(:mod:`scratchnn.files.checkpoint`) lets ``fit(..., resume=...)`` end exactly as an
uninterrupted run. A loss, running statistics or scores that become NaN or infinite raise
:class:`TrainingDiverged`, after the model and optimizer are put back as they were at the
end of the last good epoch.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .._validate import generator, positive_int
from ..files.checkpoint import resume_training, save_training
from ..files.model_file import load_arrays, model_arrays
from ..files.runs import CHECKPOINT_FILE
from ..network import Sequential
from ..optim import Optimizer, make_optimizer
from .callbacks import EPOCH_FIELDS, Callback, History, snapshot
from .metrics import evaluate_checked
from .threads import blas_thread_limit, training_blas_threads

__all__ = ["Trainer", "TrainingDiverged", "fit"]


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


class Trainer:
    """Mini-batch training of a :class:`Sequential` model with any optimizer.

    - ``optimizer``: an :class:`~scratchnn.optim.Optimizer` or a name for
      :func:`~scratchnn.optim.make_optimizer` (with its default learning rate);
    - ``epochs``: total number of epochs (a resumed run continues up to it);
    - ``seed`` / ``rng``: where the shuffling comes from;
    - ``eval_every``: evaluate every this many epochs (and after the last);
      ``eval_subset``: evaluate on the first this many samples of each set (None: all);
    - ``drop_last``: skip the last, smaller batch of an epoch when n % batch_size != 0;
    - ``progress``: show a tqdm progress bar (None: in a terminal or a notebook);
    - ``checkpoint_dir`` / ``checkpoint_every``: write ``checkpoint.npz`` there every this
      many epochs and after the last;
    - ``metadata``: JSON values stored in the checkpoints (what a resumed run needs to know).
    """

    def __init__(self, model: Sequential, optimizer: Optimizer | str = "adam", *,
                 epochs: int = 10, batch_size: int = 100, seed: int | None = None,
                 rng: np.random.Generator | None = None, eval_every: int = 1,
                 eval_subset: int | None = None, drop_last: bool = False,
                 callbacks: Sequence[Callback] = (), progress: bool | None = None,
                 checkpoint_dir: str | os.PathLike | None = None, checkpoint_every: int = 1,
                 metadata: dict | None = None) -> None:
        if not isinstance(model, Sequential):
            raise TypeError(f"expected a Sequential model, got {type(model).__name__}")
        if isinstance(optimizer, str):
            optimizer = make_optimizer(optimizer)
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"expected an Optimizer or its name, got {type(optimizer).__name__}")
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances, got {cb!r}")
        self.model = model
        self.optimizer = optimizer
        self.epochs = positive_int(epochs, "epochs")
        self.batch_size = positive_int(batch_size, "batch_size")
        self.eval_every = positive_int(eval_every, "eval_every")
        self.checkpoint_every = positive_int(checkpoint_every, "checkpoint_every")
        self.eval_subset = (None if eval_subset is None
                            else positive_int(eval_subset, "eval_subset (or None)"))
        self.rng = generator(seed, rng)
        self.drop_last = drop_last
        self.callbacks = list(callbacks)
        # By default a bar where someone watches: a terminal, or a notebook (tqdm.auto's form).
        watched = sys.stderr.isatty() or "ipykernel" in sys.modules
        self.progress = watched if progress is None else bool(progress)
        self.checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        self.metadata = dict(metadata or {})
        self.history = History()
        self.stop_training = False
        self.epoch = 0  # epochs completed
        self.samples = 0  # training-set size of the current run, for checkpoints
        # The model's arrays and the optimizer's state at the end of the last good epoch.
        self._good: tuple[dict[str, np.ndarray], dict, int] = ({}, {}, 0)

    @property
    def checkpoint_path(self) -> Path | None:
        return None if self.checkpoint_dir is None else self.checkpoint_dir / CHECKPOINT_FILE

    def evaluated(self, epoch: int) -> bool:
        """Whether the trainer evaluates the model after ``epoch``."""
        return epoch % self.eval_every == 0 or epoch == self.epochs

    def fit(self, x, t, x_val=None, t_val=None,
            resume: str | os.PathLike | None = None) -> History:
        """Train on (x, t); evaluate on (x_val, t_val) too when given. Returns the history.

        Both sets are checked once, before the first step (see
        :meth:`Sequential.check_data`): no NaN or inf in ``x``, targets that the model's
        output layer takes (class labels in range, or one target per output).
        ``resume`` names a checkpoint (or the folder holding ``checkpoint.npz``) of a run
        with the same model, optimizer, data and batch size: training continues from it.
        """
        x, t = self.model.check_data(x, t, "x", "t", train=True, batch_size=self.batch_size)
        if (x_val is None) != (t_val is None):
            raise ValueError("give both x_val and t_val, or neither")
        if x_val is not None:
            x_val, t_val = self.model.check_data(x_val, t_val, "x_val", "t_val")
        iters = self._start(len(x), resume)
        bar = self._progress_bar(iters)
        recorded = None  # losses to keep: those of the completed epochs, unless diverged
        try:
            # Overflow warnings are how a diverging run first shows; it is caught below.
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                self._loop(x, t, x_val, t_val, iters, bar)
        except TrainingDiverged as err:
            recorded = (err.epoch - 1) * iters + err.iteration
            raise
        finally:
            if bar is not None:
                bar.close()
            kept = self.epoch * iters if recorded is None else recorded
            self.history.loss = self.history.loss[:kept]
        for cb in self.callbacks:
            cb.on_train_end(self)
        return self.history

    def _start(self, n: int, resume: str | os.PathLike | None) -> int:
        """A new history for n samples (or the resumed one); the iterations per epoch."""
        iters = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if iters == 0:
            raise ValueError(f"drop_last with {n} samples < batch_size {self.batch_size} "
                             "leaves no batch")
        self.history = History(iters)
        self.samples = n
        self.epoch = 0
        self.stop_training = False
        if resume is not None:
            self._load_checkpoint(resume, n)
        losses = np.full(self.epochs * iters, np.nan)
        losses[: len(self.history.loss)] = self.history.loss
        self.history.loss = losses
        for cb in self.callbacks:
            cb.on_train_begin(self)
        return iters

    def _progress_bar(self, iters: int):
        if not self.progress:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=self.epochs * iters, initial=self.epoch * iters, unit="batch",
                    leave=False, dynamic_ncols=True)

    def _loop(self, x, t, x_val, t_val, iters: int, bar) -> None:
        """The epochs: train on a new permutation of (x, t), evaluate, call back."""
        self._good = (snapshot(self.model), *_optimizer_snapshot(self.optimizer))
        started = time.perf_counter() - self.history.wall_time
        shown = ""  # the latest accuracy, shown beside the loss on the progress bar
        for epoch in range(self.epoch + 1, self.epochs + 1):
            tic = time.perf_counter()
            for cb in self.callbacks:
                cb.on_epoch_begin(self, epoch)
            if bar is not None:
                bar.set_description(f"epoch {epoch}/{self.epochs}", refresh=False)
            self._train_epoch(epoch, x, t, iters, bar, shown)
            record = self._end_epoch(epoch, x, t, x_val, t_val, iters)
            self.history.wall_time = time.perf_counter() - started
            record["time"] = time.perf_counter() - tic
            self.history.records.append(record)
            for cb in self.callbacks:
                cb.on_epoch_end(self, epoch, record)
            if self.checkpoint_dir is not None and (
                epoch % self.checkpoint_every == 0 or epoch == self.epochs or self.stop_training
            ):
                self.save_checkpoint(self.checkpoint_path)
            shown = next((f", {field} {record[field]:.4f}" for field in ("val_acc", "train_acc")
                          if record[field] is not None), shown)
            if self.stop_training:
                break

    def _train_epoch(self, epoch: int, x, t, iters: int, bar, shown: str) -> None:
        """One pass over a random permutation of (x, t): a step per batch."""
        model, bs = self.model, self.batch_size
        params, grads, step = model.params, model.grads, self.optimizer.step
        losses = self.history.loss[(epoch - 1) * iters : epoch * iters]  # (a view)
        xbuf = np.empty((bs, *x.shape[1:]), dtype=x.dtype)
        tbuf = np.empty((bs, *t.shape[1:]), dtype=t.dtype)
        every = max(1, iters // 20)  # progress-bar refreshes per epoch: about 20
        perm = self.rng.permutation(len(x))
        with blas_thread_limit(training_blas_threads(model, bs)):
            for i in range(iters):
                idx = perm[i * bs : (i + 1) * bs]
                # mode="clip" lets take() write straight into the buffer (valid indices).
                xb = np.take(x, idx, axis=0, out=xbuf[: len(idx)], mode="clip")
                tb = np.take(t, idx, axis=0, out=tbuf[: len(idx)], mode="clip")
                losses[i] = loss = model.train_step(xb, tb)
                if not math.isfinite(loss):
                    self._diverged(epoch, i + 1, loss)
                step(params, grads)
                if bar is not None and (i + 1) % every == 0:
                    recent = np.mean(losses[i + 1 - every : i + 1])
                    bar.set_postfix_str(f"loss {recent:.4f}{shown}", refresh=False)
                    bar.update(every)
        if bar is not None:
            bar.update(iters - iters // every * every)

    def _end_epoch(self, epoch: int, x, t, x_val, t_val, iters: int) -> dict:
        """The epoch's record, once the model is known to be good: then it is kept."""
        arrays = model_arrays(self.model)  # views: evaluating leaves them as they are
        # BatchNorm's running statistics can overflow while every loss stayed finite.
        if not all(np.isfinite(a).all() for a in arrays.values()):
            self._diverged(epoch, iters, math.nan)
        record = dict.fromkeys(EPOCH_FIELDS)
        losses = self.history.loss[(epoch - 1) * iters : epoch * iters]
        record.update(epoch=epoch, loss=float(np.mean(losses)), lr=self.optimizer.lr)
        if self.evaluated(epoch):
            k = self.eval_subset
            train_loss, record["train_acc"] = evaluate_checked(self.model, x[:k], t[:k])
            if x_val is not None:
                record["val_loss"], record["val_acc"] = evaluate_checked(
                    self.model, x_val[:k], t_val[:k])
            # Finite weights can still give scores that overflow: divergence too.
            if not all(math.isfinite(v) for v in (train_loss, record["val_loss"])
                       if v is not None):
                self._diverged(epoch, iters, math.nan)
        good = self._good[0]
        for name, value in arrays.items():
            good[name][...] = value
        self._good = (good, *_optimizer_snapshot(self.optimizer))
        self.epoch = epoch
        return record

    def _diverged(self, epoch: int, iteration: int, loss: float) -> None:
        arrays, self.optimizer.state, self.optimizer.steps = self._good
        load_arrays(self.model, arrays)
        kept = f"the end of epoch {epoch - 1}" if epoch > 1 else "initialisation"
        self.history.stopped_reason = (
            f"training diverged at epoch {epoch}, iteration {iteration} (loss {loss}); "
            f"put back the model and optimizer from {kept}; try a smaller learning rate "
            f"(it was {self.optimizer.lr:g})"
        )
        raise TrainingDiverged(self.history.stopped_reason, epoch, iteration, self.history)

    # --- checkpoints (the format: :mod:`scratchnn.files.checkpoint`) -------------------

    def save_checkpoint(self, path: str | os.PathLike) -> None:
        """Write everything needed to resume after the current epoch (atomically)."""
        save_training(self, path)

    def _load_checkpoint(self, path: str | os.PathLike, n: int) -> None:
        self.history = History.from_dict(resume_training(self, path, n))


def _optimizer_snapshot(opt: Optimizer) -> tuple[dict, int]:
    """A copy of the optimizer's state (momenta, ...) and its step count."""
    state = {name: {slot: a.copy() for slot, a in slots.items()}
             for name, slots in opt.state.items()}
    return state, opt.steps


def fit(model: Sequential, x, t, x_val=None, t_val=None, *,
        optimizer: Optimizer | str = "adam", lr: float | None = None,
        **trainer_options) -> History:
    """Train ``model`` in one call: ``fit(net, x, t, x_test, t_test, optimizer="sgd", lr=0.1)``.

    ``lr`` sets the learning rate of a named optimizer; the other keywords go to
    :class:`Trainer` (epochs, batch_size, seed, callbacks, ...).
    """
    if isinstance(optimizer, str):
        optimizer = make_optimizer(optimizer, **({} if lr is None else {"lr": lr}))
    elif lr is not None:
        raise TypeError("lr= only applies to an optimizer given by name")
    return Trainer(model, optimizer, **trainer_options).fit(x, t, x_val, t_val)
