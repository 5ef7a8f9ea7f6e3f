"""One trial of a sweep: an ordinary training run, on a validation split, where it runs.

:func:`run_trial` is what a Dask worker (or the sweep's own process) calls. It takes only
small things, the trial's settings and a :class:`DataSpec` naming the data; the data set
is loaded and split once per process (:func:`trial_data`) and kept for the next trials.
It never raises for the trial's own sake: a run that diverges or fails comes back as a
record with its status and error, so that one bad trial never stops a sweep. What it
returns is plain data (numbers, text, arrays): the sweep writes the run folder.
"""

from __future__ import annotations

import functools
import os
import socket
import time
from typing import NamedTuple

import numpy as np

from ..data.registry import load_dataset, validation_split
from ..files.model_file import model_arrays, model_meta
from ..models import make_model
from ..optim import MOMENTUM_OPTIMIZERS, make_optimizer
from ..training.threads import blas_thread_limit
from ..training.trainer import Trainer, TrainingDiverged

__all__ = ["DataSpec", "data_summary", "run_trial", "trial_data"]


class DataSpec(NamedTuple):
    """The data of every trial: a data set by name, its first ``limit`` training samples
    (None: all), of which a ``val_split`` fraction is held out for validation."""

    dataset: str
    data_dir: str | None = None
    limit: int | None = None
    val_split: float = 0.2
    dtype: str = "float32"


@functools.lru_cache(maxsize=4)
def trial_data(spec: DataSpec, images: bool = False):
    """(x_train, t_train, x_val, t_val, classes) of ``spec``, loaded once per process."""
    ds = load_dataset(spec.dataset, spec.data_dir, images=images, dtype=spec.dtype,
                      limit=spec.limit)
    return (*validation_split(ds.x_train, ds.t_train, spec.val_split), ds.classes)


def data_summary(spec: DataSpec) -> dict:
    """What the trials will train on, loaded where this runs (and kept there): sizes and
    classes. The sweep asks a worker for it before the first trial, to fail early."""
    x, _, x_val, _, classes = trial_data(spec, False)  # (the trials' own call: one load)
    return {"train": len(x), "val": len(x_val), "input_shape": list(x.shape[1:]),
            "classes": list(classes), "host": socket.gethostname()}


def _worker_name() -> str:
    """The Dask worker's address, or host and process id outside Dask."""
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"{socket.gethostname()}:{os.getpid()}"


def run_trial(trial: int, settings: dict, spec: DataSpec, seed: int) -> dict:
    """Train one model with ``settings`` on ``spec``'s data; a record of how it went.

    The model's initial weights and the batch order come from ``seed`` and the trial's
    number alone, so a trial run again (elsewhere) trains the same. Returns ``trial``,
    ``status`` ("ok", "diverged" or "failed"), ``error``, ``val_acc``, ``val_loss``,
    ``train_acc`` (of the last epoch), ``epochs_trained``, ``seconds``, ``worker``, ``history``
    (:meth:`History.to_dict`) and ``model`` (the arrays and header of a model file).
    """
    started = time.perf_counter()
    record = {"trial": trial, "status": "ok", "error": None, "settings": settings,
              "worker": _worker_name(), "val_acc": None, "val_loss": None,
              "train_acc": None, "epochs_trained": 0, "history": None, "model": None}
    try:
        # One BLAS thread: the worker processes already share the cores between them.
        with blas_thread_limit(1):
            record.update(_train(trial, settings, spec, seed))
    except TrainingDiverged as err:
        record.update(status="diverged", error=str(err), history=err.history.to_dict(),
                      epochs_trained=err.history.epochs)
    except Exception as err:  # a failing trial is recorded, and the sweep goes on
        record.update(status="failed", error=f"{type(err).__name__}: {err}")
    record["seconds"] = time.perf_counter() - started
    return record


def _train(trial: int, settings: dict, spec: DataSpec, seed: int) -> dict:
    images = settings["model"] != "mlp"
    x, t, x_val, t_val, classes = trial_data(spec, images)
    model_rng, train_rng = (np.random.default_rng(s) for s in
                            np.random.SeedSequence(seed, spawn_key=(trial,)).spawn(2))
    shape = ({"hidden": tuple(settings["hidden"]), "activation": settings["activation"],
              "init": settings["init"]} if not images else {})
    model = make_model(settings["model"], x.shape[1:], len(classes), **shape,
                       dtype=spec.dtype, rng=model_rng, weight_decay=settings["weight_decay"])
    options = {"lr": settings["lr"]}
    if settings["optimizer"] in MOMENTUM_OPTIMIZERS:
        options["momentum"] = settings["momentum"]
    trainer = Trainer(model, make_optimizer(settings["optimizer"], **options),
                      epochs=settings["epochs"], batch_size=settings["batch_size"],
                      rng=train_rng, progress=False)
    history = trainer.fit(x, t, x_val, t_val)
    metadata = {"dataset": spec.dataset, "classes": list(classes),
                "input_shape": list(x.shape[1:]), "options": settings,
                "sweep_trial": trial, "epochs_trained": history.epochs,
                "val_accuracy": history.last("val_acc"),
                "train_accuracy": history.last("train_acc"), "wall_time": history.wall_time}
    return {"val_acc": history.last("val_acc"), "val_loss": history.last("val_loss"),
            "train_acc": history.last("train_acc"), "epochs_trained": history.epochs,
            "history": history.to_dict(),
            "model": (model_arrays(model), model_meta(model, metadata))}
