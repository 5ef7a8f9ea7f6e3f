"""Hyper-parameter sweeps: the book's random search (chapter 6.5), on one machine or a cluster.

>>> from scratchnn.sweeps import sweep, loguniform
>>> result = sweep({"lr": loguniform(1e-6, 1e-2), "weight_decay": loguniform(1e-8, 1e-4)},
...                dataset="mnist", limit=12_000, trials=100)      # doctest: +SKIP
>>> result.trials[0]["settings"], result.trials[0]["val_acc"]    # doctest: +SKIP

Read in this order: :mod:`~scratchnn.sweeps.space` (ranges, choices, random and grid
trials), :mod:`~scratchnn.sweeps.trial` (one trial: an ordinary training run on a
validation split), :mod:`~scratchnn.sweeps.results` (the tables, run folders and figures),
:mod:`~scratchnn.sweeps.engine` (``sweep``: the trials in this process or on Dask) and
:mod:`~scratchnn.sweeps.command` (``scratchnn sweep``). Dask is imported only when a sweep
runs on it (``pip install 'scratchnn[sweep]'``).
"""

from .command import add_arguments, parse_setting, run
from .engine import BOOK_SPACE, SweepResult, sweep, usable_cores
from .space import (
    BOOK_SETTINGS,
    SETTINGS,
    Range,
    choice,
    grid_trials,
    integer,
    loguniform,
    random_trials,
    uniform,
)
from .trial import DataSpec, run_trial

__all__ = [
    "BOOK_SETTINGS",
    "BOOK_SPACE",
    "SETTINGS",
    "DataSpec",
    "Range",
    "SweepResult",
    "add_arguments",
    "choice",
    "grid_trials",
    "integer",
    "loguniform",
    "parse_setting",
    "random_trials",
    "run",
    "run_trial",
    "sweep",
    "uniform",
    "usable_cores",
]
