"""What a training run records, and what may act between its epochs (chapter 6).

:class:`History` keeps the loss of every mini-batch and one record per epoch (the
book's ``train_loss_list``, ``train_acc_list`` and ``test_acc_list``, in one place).
Callbacks are hooks the :class:`~scratchnn.training.trainer.Trainer` calls around each
epoch: :class:`EarlyStopping` (stop when the validation score stops improving, and go
back to the best model) and the learning-rate schedules :class:`StepDecay` and
:class:`CosineDecay`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os

import numpy as np

from .._display import history_html, history_text
from .._validate import number, positive_int
from ..files.atomic import atomic_write
from ..files.model_file import load_arrays, model_arrays
from ..network import Sequential

__all__ = ["EPOCH_FIELDS", "Callback", "CosineDecay", "EarlyStopping", "History",
           "LearningRateSchedule", "StepDecay", "snapshot"]

#: Columns of the per-epoch records, in table order.
EPOCH_FIELDS = ("epoch", "loss", "train_acc", "val_acc", "val_loss", "lr", "time")


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

    def to_dict(self, loss: bool = True) -> dict:
        """JSON values; ``loss=False`` leaves out the loss of every iteration."""
        data = {
            "epochs": self.records,
            "iterations_per_epoch": self.iterations_per_epoch,
            "wall_time": self.wall_time,
            "stopped_reason": self.stopped_reason,
        }
        return {"loss": self.loss.tolist(), **data} if loss else data

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
        """The per-epoch table (in Jupyter as HTML: :meth:`_repr_html_`)."""
        return history_text(self)

    def _repr_html_(self) -> str:
        return history_html(self)

    def plot(self, val_label: str = "validation", path: str | os.PathLike | None = None):
        """The learning curves (:func:`scratchnn.figures.plot_learning_curves`): a matplotlib
        Figure, also written to ``path`` (.png or .svg) when given."""
        from ..figures import plot_learning_curves  # matplotlib only when a figure is drawn

        return plot_learning_curves(self, val_label=val_label, path=path)


def snapshot(model: Sequential) -> dict[str, np.ndarray]:
    """Copies of the model's parameters and layer state, named as in a model file."""
    return {k: v.copy() for k, v in model_arrays(model).items()}


class Callback:
    """Hooks the trainer calls; epochs are counted from 1.

    ``trainer`` is the :class:`~scratchnn.training.trainer.Trainer` that runs them;
    ``logs`` is the epoch's record (see :class:`History`). A callback stops training by
    setting ``trainer.stop_training = True``. ``state()``/``load_state()`` carry what it
    remembers through a checkpoint (JSON values and numpy arrays).
    """

    def on_train_begin(self, trainer) -> None: ...

    def on_epoch_begin(self, trainer, epoch: int) -> None: ...

    def on_epoch_end(self, trainer, epoch: int, logs: dict) -> None: ...

    def on_train_end(self, trainer) -> None: ...

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
        self.monitor = monitor
        self.patience = positive_int(patience, "patience")
        self.min_delta = abs(number(min_delta, "min_delta", -math.inf))
        self.sign = 1.0 if mode == "max" else -1.0
        self.restore_best = restore_best
        self.best: float | None = None
        self.best_epoch = 0
        self.wait = 0
        #: the model's arrays (:func:`~scratchnn.files.model_file.model_arrays`) at its best
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
                self.best_arrays = snapshot(trainer.model)
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
        self.step_size = positive_int(step_size, "step_size")
        self.gamma = number(gamma, "gamma", 0.0, 1.0, low_open=True, high_open=False)

    def factor(self, epoch):
        return self.gamma ** ((epoch - 1) // self.step_size)


class CosineDecay(LearningRateSchedule):
    """factor = m + (1 - m) (1 + cos(pi (epoch - 1) / epochs)) / 2, from 1 down towards m."""

    def __init__(self, epochs: int, min_factor: float = 0.0) -> None:
        super().__init__()
        self.epochs = positive_int(epochs, "epochs")
        self.min_factor = number(min_factor, "min_factor", 0.0, 1.0,
                                           high_open=False)

    def factor(self, epoch):
        cos = 0.5 * (1 + math.cos(math.pi * (epoch - 1) / self.epochs))
        return self.min_factor + (1 - self.min_factor) * cos
