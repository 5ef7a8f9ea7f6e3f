"""Training checkpoints: a model file plus what a resumed run needs to go on exactly.

Out of the reading path. A checkpoint is a model file (:mod:`scratchnn.files.model_file`)
of format ``scratchnn-checkpoint`` that also holds

- ``optim/<parameter>/<slot>``: the optimizer's arrays (momenta, squared gradients...);
- ``history/loss``: the mini-batch loss of every iteration of the completed epochs;
- ``callback/<index>/<key>``: the arrays of each callback's state;
- ``meta["training"]``: JSON: epoch, samples, batch_size, the optimizer's type, learning
  rate, step count and hyperparameters, the shuffling Generator's state and those of the
  layers that draw random numbers (dropout), the history without its loss, and each
  callback's type and JSON values.

This module reads and writes that format on plain data (:class:`Checkpoint`), and maps a
Trainer (:mod:`scratchnn.training.trainer`) to it and back (:func:`save_training`,
:func:`resume_training`) without importing the training package.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..network import Sequential
from .model_file import (
    CHECKPOINT_FORMAT,
    load_arrays,
    model_arrays,
    model_meta,
    read_archive,
    write_archive,
)
from .runs import CHECKPOINT_FILE, in_run

__all__ = ["CHECKPOINT_FORMAT", "Checkpoint", "layer_rng_states", "read_checkpoint",
           "resume_training", "save_training", "set_layer_rng_states", "write_checkpoint"]


@dataclass
class Checkpoint:
    """What a checkpoint holds, as arrays and JSON values.

    - ``model``: the model's arrays, named as in a model file (``param/W1``,
      ``state/1/running_mean``);
    - ``optimizer_state``: parameter name -> slot -> array;
    - ``loss``: the mini-batch losses recorded so far;
    - ``callbacks``: (class name, state) per callback, the state holding JSON values and
      arrays;
    - ``training``: the JSON values listed in the module's docstring (no callbacks);
    - ``meta``: the file's whole header, and ``source`` the file (when read back).
    """

    model: dict[str, np.ndarray]
    optimizer_state: dict[str, dict[str, np.ndarray]]
    loss: np.ndarray
    callbacks: list[tuple[str, dict]]
    training: dict
    meta: dict = field(default_factory=dict)
    source: Path | None = None

    def check_resumes(self, *, config: dict, optimizer: str, hyperparameters: dict,
                      samples: int, batch_size: int, epochs: int, callbacks: int) -> None:
        """Refuse to resume a run that is not this checkpoint's: another architecture,
        optimizer (type or settings other than the learning rate, which a schedule moves),
        data size or batch size, fewer epochs, or another number of callbacks."""
        path, state, opt = self.source, self.training, self.training["optimizer"]
        if self.meta["config"] != config:
            raise ValueError(f"{path}: the checkpoint is of a different model architecture")
        if opt["type"] != optimizer:
            raise ValueError(f"{path}: the checkpoint was trained with {opt['type']}, "
                             f"not {optimizer}")
        # (Checkpoints of earlier versions did not record the hyperparameters.)
        # (Earlier optimizers had a weight_decay of their own; a 0 there changed nothing.)
        saved = {k: v for k, v in opt.get("hyperparameters", {}).items()
                 if k != "lr" and not (k == "weight_decay" and v == 0)}
        ours = {k: v for k, v in hyperparameters.items() if k != "lr"}
        if saved and saved != ours:
            changed = ", ".join(f"{k} {saved.get(k)!r} -> {ours.get(k)!r}"
                                for k in {**saved, **ours} if saved.get(k) != ours.get(k))
            raise ValueError(f"{path}: the checkpoint's {opt['type']} had other settings "
                             f"than this trainer's optimizer ({changed})")
        if state["samples"] != samples or state["batch_size"] != batch_size:
            raise ValueError(
                f"{path}: the checkpoint ran on {state['samples']} samples in batches of "
                f"{state['batch_size']}; this run has {samples} samples and batch_size "
                f"{batch_size}")
        if state["epoch"] > epochs:
            raise ValueError(f"{path}: the checkpoint is at epoch {state['epoch']}, past this "
                             f"run's {epochs} epochs; resume with epochs >= {state['epoch']}")
        if len(self.callbacks) != callbacks:
            raise ValueError(f"{path}: the checkpoint had {len(self.callbacks)} callbacks, "
                             f"this trainer has {callbacks}")


def write_checkpoint(path: str | os.PathLike, checkpoint: Checkpoint, meta: dict) -> None:
    """Write ``checkpoint`` atomically; ``meta`` is the model file's header to extend."""
    arrays = dict(checkpoint.model)
    for name, slots in checkpoint.optimizer_state.items():
        for slot, value in slots.items():
            arrays[f"optim/{name}/{slot}"] = value
    arrays["history/loss"] = np.asarray(checkpoint.loss)
    callbacks = []
    for i, (kind, state) in enumerate(checkpoint.callbacks):
        values = {}
        for key, value in state.items():
            if isinstance(value, np.ndarray):
                arrays[f"callback/{i}/{key}"] = value
            else:
                values[key] = value
        callbacks.append({"type": kind, "values": values})
    meta = {**meta, "format": CHECKPOINT_FORMAT,
            "training": {**checkpoint.training, "callbacks": callbacks}}
    write_archive(path, arrays, meta)


def read_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """The checkpoint in ``path`` (or in the run folder ``path``: its ``checkpoint.npz``)."""
    path = in_run(path, CHECKPOINT_FILE)
    arrays, meta = read_archive(path, formats=(CHECKPOINT_FORMAT,))
    training = dict(meta["training"])
    saved_callbacks = training.pop("callbacks")
    optimizer_state: dict[str, dict[str, np.ndarray]] = {}
    for key, value in arrays.items():
        if key.startswith("optim/"):
            _, name, slot = key.split("/")
            optimizer_state.setdefault(name, {})[slot] = value
    callbacks = []
    for i, saved in enumerate(saved_callbacks):
        prefix = f"callback/{i}/"
        state = dict(saved["values"])
        state.update({k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)})
        callbacks.append((saved["type"], state))
    model = {k: v for k, v in arrays.items() if k.startswith(("param/", "state/"))}
    return Checkpoint(model, optimizer_state, arrays["history/loss"], callbacks, training,
                      meta, path)


def layer_rng_states(model: Sequential) -> dict[str, dict]:
    """Generator states of layers that draw random numbers while training (dropout)."""
    return {str(i): layer.rng.bit_generator.state for i, layer in enumerate(model.layers)
            if isinstance(getattr(layer, "rng", None), np.random.Generator)}


def set_layer_rng_states(model: Sequential, states: dict[str, dict]) -> None:
    """Put back what :func:`layer_rng_states` gave."""
    for i, state in states.items():
        model.layers[int(i)].rng.bit_generator.state = state


def save_training(trainer, path: str | os.PathLike) -> None:
    """Write the run of ``trainer`` (a :class:`~scratchnn.training.Trainer`) as it stands
    after its current epoch."""
    opt, model = trainer.optimizer, trainer.model
    training = {
        "epoch": trainer.epoch,
        "samples": trainer.samples,
        "batch_size": trainer.batch_size,
        "optimizer": {"type": type(opt).__name__, "lr": opt.lr, "steps": opt.steps,
                      "hyperparameters": opt.hyperparameters()},
        "rng": trainer.rng.bit_generator.state,
        "layer_rngs": layer_rng_states(model),
        "history": trainer.history.to_dict(loss=False),
    }
    loss = trainer.history.loss[: trainer.epoch * trainer.history.iterations_per_epoch]
    callbacks = [(type(cb).__name__, cb.state()) for cb in trainer.callbacks]
    checkpoint = Checkpoint(model_arrays(model), opt.state, loss, callbacks, training)
    write_checkpoint(path, checkpoint, model_meta(model, trainer.metadata))


def resume_training(trainer, path: str | os.PathLike, n: int) -> dict:
    """Put the model, optimizer, generators and callbacks of ``trainer`` back as the
    checkpoint in ``path`` left them, after checking that it is this run's (``n``
    samples); returns the checkpoint's history, as ``History.from_dict`` takes it."""
    checkpoint = read_checkpoint(path)
    opt, training = trainer.optimizer, checkpoint.training
    checkpoint.check_resumes(
        config=trainer.model.config(), optimizer=type(opt).__name__,
        hyperparameters=opt.hyperparameters(), samples=n, batch_size=trainer.batch_size,
        epochs=trainer.epochs, callbacks=len(trainer.callbacks))
    load_arrays(trainer.model, checkpoint.model)
    opt.lr, opt.steps = training["optimizer"]["lr"], training["optimizer"]["steps"]
    opt.state = checkpoint.optimizer_state
    trainer.rng.bit_generator.state = training["rng"]
    set_layer_rng_states(trainer.model, training["layer_rngs"])
    for cb, (_, state) in zip(trainer.callbacks, checkpoint.callbacks, strict=True):
        cb.load_state(state)
    trainer.epoch = training["epoch"]
    return {**training["history"], "loss": checkpoint.loss}
