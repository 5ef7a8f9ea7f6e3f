"""``sweep``: run the trials of a search space, in one process or on Dask, into a folder.

Everything the user hands in is checked first (the space, the data, the folder, the
scheduler); then the trials go out, to a :class:`dask.distributed.LocalCluster` of one
single-threaded worker process per core unless ``address=`` names a running scheduler (or
``serial=True`` keeps them in this process, without Dask). Results come back as they
finish, in any order; each is written at once (its run folder, then the tables), so a
sweep stopped at any moment continues where it stopped when it is started again with the
same folder. Dask reruns the trial of a worker that dies on another worker.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

from .._validate import non_negative_int, number, positive_int
from ..data.registry import DATASETS
from ..files import runs
from ..files.atomic import make_folders, remove_empty_folders
from ..optim import MOMENTUM_OPTIMIZERS
from .results import (
    CURVES_FIGURE,
    SCATTER_FIGURE,
    finished_trials,
    plot_best_curves,
    plot_scores,
    ranked,
    write_tables,
    write_trial,
)
from .space import (
    BOOK_SETTINGS,
    Range,
    check_space,
    grid_trials,
    loguniform,
    random_trials,
    space_to_dict,
)
from .trial import DataSpec, data_summary, run_trial

__all__ = ["BOOK_SPACE", "SweepResult", "sweep"]

#: The book's random search (chapter 6.5): the learning rate and the weight decay.
BOOK_SPACE = {"lr": loguniform(1e-6, 1e-2), "weight_decay": loguniform(1e-8, 1e-4)}
_NEED_DASK = ("a sweep on Dask needs the sweep extra: pip install 'scratchnn[sweep]' "
              "(or run the trials in this process with serial=True, --serial)")


class SweepResult(NamedTuple):
    """Where a sweep wrote its results, and its trials' records, best first."""

    out: Path
    trials: list[dict]


def sweep(space: Mapping | None = None, *, dataset: str = "mnist", trials: int | None = None,
          grid: int | None = None, seed: int = 0, data_dir: str | os.PathLike | None = None,
          limit: int | None = None, val_split: float = 0.2,
          out: str | os.PathLike | None = None, address: str | None = None,
          workers: int | None = None, serial: bool = False, best: int = 20,
          connect_timeout: float = 10.0,
          on_result: Callable[[dict], None] | None = None) -> SweepResult:
    """Train one model per trial of ``space`` and rank them by validation accuracy.

    ``space`` maps settings to ranges (:func:`loguniform`, :func:`uniform`,
    :func:`integer`, :func:`choice`) or to values (default: the book's lr x weight decay);
    a setting left out is the book's (:data:`BOOK_SETTINGS`). Random search draws
    ``trials`` (default 100) with ``seed``; ``grid=N`` runs every point of a grid of N
    values per range instead. Each trial trains on the first ``limit`` training samples
    of ``dataset`` less a ``val_split`` fraction, on which it is scored.
    Trials run on a LocalCluster of ``workers`` processes (default: one per core), on the
    scheduler at ``address``, or in this process (``serial``). ``out`` (default a new
    ``runs/sweep-DATASET-...``) gets the tables, the figures (the best ``best`` curves)
    and a run folder per trial; a folder holding this sweep's results already continues
    it (its failed trials run again). ``on_result`` is called with each new record.
    """
    space = check_space(BOOK_SPACE if space is None else space)
    jobs, description = _plan(space, trials, grid, seed)
    spec = _data_spec(dataset, data_dir, limit, val_split)
    description.update(dataset=spec.dataset, limit=spec.limit, val_split=spec.val_split,
                       dtype=spec.dtype)
    best = positive_int(best, "best")
    if serial and (address is not None or workers is not None):
        raise ValueError("serial runs the trials in this process: leave out address and "
                         "workers")
    if address is not None and not isinstance(address, str):
        raise TypeError(f"address must be a scheduler's address such as 'tcp://HOST:8786', "
                        f"got {address!r}")
    if address is not None and workers is not None:
        raise ValueError("workers sizes the LocalCluster; a cluster at address has its own")
    workers = None if workers is None else positive_int(workers, "workers")
    connect_timeout = number(connect_timeout, "connect_timeout", low_open=True)
    out, made = _sweep_folder(out, spec.dataset)
    try:
        return _run(out, space, jobs, description, spec, best,
                    lambda todo: (_serial(todo, spec, seed) if serial else
                                  _on_dask(todo, spec, seed, address, workers,
                                           connect_timeout)), on_result)
    except BaseException:
        remove_empty_folders(made)  # a sweep that wrote nothing leaves no folder behind
        raise


def _run(out: Path, space: dict, jobs: list[dict], description: dict, spec: DataSpec,
         best: int, runner, on_result) -> SweepResult:
    """The sweep into ``out``: the trials not finished there yet, then the figures."""
    records = finished_trials(out, description)
    records = {i: r for i, r in records.items() if i < len(jobs) and r["status"] != "failed"}
    todo = [(i, settings) for i, settings in enumerate(jobs) if i not in records]
    progress = _Progress(len(jobs), records)
    print(f"sweep of {len(jobs)} trials on {spec.dataset} into {out}"
          + (f"; {len(records)} finished earlier, {len(todo)} to run" if records else ""))
    if todo:
        results = runner(todo)
        with contextlib.closing(results):
            for record in results:
                record = write_trial(out, record)
                records[record["trial"]] = record
                write_tables(out, description, records)
                progress.report(record)
                if on_result is not None:
                    on_result(record)
    rows = ranked(records)
    _figures(out, rows, space, best)
    return SweepResult(out, rows)


def _plan(space: dict, trials: int | None, grid: int | None, seed: int
          ) -> tuple[list[dict], dict]:
    """(every trial's full settings, the sweep's description for results.json)."""
    seed = non_negative_int(seed, "seed")
    if grid is not None:
        if trials is not None:
            raise ValueError(f"grid search runs every point of its grid: leave out trials "
                             f"(got trials={trials!r} with grid={grid!r})")
        points = grid_trials(space, grid)
        search = {"search": "grid", "grid": grid}
    else:
        points = random_trials(space, 100 if trials is None else trials, seed)
        search = {"search": "random", "seed": seed}
    varied = {name for name, value in space.items() if isinstance(value, Range)}
    fixed = {k: v for k, v in BOOK_SETTINGS.items() if k not in varied}
    description = {"space": space_to_dict(space), **search, "trials": len(points),
                   "settings": {**fixed, **{k: v for k, v in space.items() if k not in varied}}}
    return [_full(p) for p in points], description


def _full(point: dict) -> dict:
    """A trial's settings: the book's where ``point`` gives none; no momentum for an
    optimizer that has none."""
    settings = {**BOOK_SETTINGS, **point}
    if settings["optimizer"] not in MOMENTUM_OPTIMIZERS:
        del settings["momentum"]
    return settings


def _data_spec(dataset: str, data_dir, limit, val_split) -> DataSpec:
    if dataset not in DATASETS:
        raise ValueError(f"unknown data set {dataset!r}; expected one of {', '.join(DATASETS)}")
    if data_dir is not None and not Path(data_dir).is_dir():
        raise FileNotFoundError(f"data_dir {data_dir}: no such folder")
    return DataSpec(dataset, None if data_dir is None else str(data_dir),
                    None if limit is None else positive_int(limit, "limit"),
                    number(val_split, "val_split", 0.0, 1.0, low_open=True))


def _sweep_folder(out, dataset: str) -> tuple[Path, list[Path]]:
    """(the sweep's folder, the folders made for it)."""
    if out is None:
        return runs.new_run_folder(f"sweep-{dataset}")
    out = runs.check_run_folder(out)
    return out, make_folders(out)


def _figures(out: Path, rows: list[dict], space: dict, best: int) -> None:
    if not any(r["status"] == "ok" for r in rows):
        print("no trial finished: no figures drawn", file=sys.stderr)
        return
    searched = [name for name, value in space.items() if isinstance(value, Range)]
    plot_best_curves(rows, searched, best, path=out / CURVES_FIGURE)
    if any(isinstance(v, Range) and v.continuous for v in space.values()):
        plot_scores(rows, space, path=out / SCATTER_FIGURE)


class _Progress:
    """One line per finished trial: how many are done, the best so far, the time left."""

    def __init__(self, total: int, earlier: Mapping[int, dict]) -> None:
        self.total = total
        self.done = len(earlier)
        self.new = 0
        self.started = time.perf_counter()
        self.best = max(((r["val_acc"], r["trial"]) for r in earlier.values()
                         if r["status"] == "ok" and r["val_acc"] is not None), default=None)

    def report(self, record: dict) -> None:
        self.done += 1
        self.new += 1
        if record["status"] == "ok" and record["val_acc"] is not None:
            self.best = max(self.best or (record["val_acc"], record["trial"]),
                            (record["val_acc"], record["trial"]))
        elapsed = time.perf_counter() - self.started
        left = elapsed / self.new * (self.total - self.done)
        outcome = (f"val_acc {record['val_acc']:.4f}" if record["status"] == "ok"
                   else f"{record['status']}: {str(record['error'])[:60]}")
        best = f"best {self.best[0]:.4f} (trial {self.best[1]})" if self.best else "no best yet"
        print(f"[{self.done}/{self.total}] trial {record['trial']} {outcome} | {best} | "
              f"{_clock(elapsed)} elapsed, about {_clock(left)} left", flush=True)


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}" if minutes >= 60 else \
        f"{minutes}:{seconds:02d}"


# --- where the trials run ----------------------------------------------------------------


def _serial(todo: list[tuple[int, dict]], spec: DataSpec, seed: int) -> Iterator[dict]:
    """The trials one after another in this process: a plain loop."""
    data_summary(spec)  # the data set loads (or fails) before the first trial
    for i, settings in todo:
        yield run_trial(i, settings, spec, seed)


def usable_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # (macOS and Windows have no affinity)
        return os.cpu_count() or 1


def _on_dask(todo: list[tuple[int, dict]], spec: DataSpec, seed: int, address: str | None,
             workers: int | None, timeout: float) -> Iterator[dict]:
    """The trials on Dask, as they finish; a trial whose workers kept dying (or that was
    lost) comes back as failed."""
    try:
        from dask.distributed import as_completed
    except ImportError as err:
        raise ImportError(_NEED_DASK) from err
    with _client(address, workers, timeout) as client:
        try:
            summary = client.submit(data_summary, spec, pure=False).result()
        except Exception as err:
            raise ValueError(f"the workers cannot load the data ({spec.dataset}): "
                             f"{type(err).__name__}: {err}") from err
        print(f"data: {summary['train']:,} training and {summary['val']:,} validation "
              f"samples of {spec.dataset}")
        token = uuid.uuid4().hex[:8]
        futures = {client.submit(run_trial, i, settings, spec, seed, pure=False,
                                 key=f"scratchnn-trial-{i:04d}-{token}"): (i, settings)
                   for i, settings in todo}
        for future in as_completed(futures):
            i, settings = futures[future]
            try:
                yield future.result()
            except Exception as err:  # (KilledWorker: the trial's workers kept dying)
                yield {"trial": i, "status": "failed", "settings": settings,
                       "error": f"{type(err).__name__}: {err}", "worker": None,
                       "val_acc": None, "val_loss": None, "train_acc": None,
                       "epochs_trained": 0, "seconds": None}


@contextlib.contextmanager
def _client(address: str | None, workers: int | None, timeout: float):
    """A Dask client: of the scheduler at ``address`` (which must answer within
    ``timeout`` seconds and have a worker), else of a new LocalCluster."""
    from dask.distributed import Client, LocalCluster

    if address is None:
        n = workers or usable_cores()
        # One thread per worker process: NumPy's BLAS then has the core to itself.
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                          dashboard_address=":0") as cluster, Client(cluster) as client:
            print(f"Dask LocalCluster: {n} worker processes of 1 thread; dashboard "
                  f"{_dashboard(client, local=True)}", flush=True)
            yield client
        return
    try:
        client = Client(address, timeout=timeout)
    except ValueError as err:
        raise ValueError(f"{address!r} is not a Dask scheduler's address such as "
                         f"tcp://HOST:8786: {err}") from None
    except (OSError, TimeoutError) as err:
        raise ConnectionError(f"cannot reach the Dask scheduler at {address} within "
                              f"{timeout:g} s: {err}") from None
    with client:
        try:
            client.wait_for_workers(1, timeout=timeout)
        except TimeoutError:
            raise ConnectionError(f"the Dask scheduler at {address} has no worker (waited "
                                  f"{timeout:g} s)") from None
        workers_now = len(client.nthreads())
        print(f"Dask scheduler {address}: {workers_now} workers; dashboard "
              f"{_dashboard(client, local=False)}", flush=True)
        yield client


def _dashboard(client, local: bool) -> str:
    """The dashboard's address, and what it takes to see it (on this machine: bokeh)."""
    import importlib.util

    link = client.dashboard_link
    if local and importlib.util.find_spec("bokeh") is None:
        return f"{link} (shows nothing without bokeh: pip install bokeh)"
    return link
