"""Hyper-parameter sweeps (scratchnn.sweeps): the space, the trials, the tables, resuming,
faults; and the same sweeps on Dask (a LocalCluster, and a scheduler with two workers of
which one is killed mid-sweep). The Dask tests skip without the sweep extra."""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest

from scratchnn.files.model_file import load_model
from scratchnn.sweeps import (
    BOOK_SETTINGS,
    DataSpec,
    choice,
    grid_trials,
    integer,
    loguniform,
    parse_setting,
    random_trials,
    run_trial,
    sweep,
    uniform,
)
from scratchnn.sweeps import trial as trial_module
from scratchnn.sweeps.results import SweepMismatch

#: a small, quick space on the spirals: about 0.05 s a trial
SPACE = {"lr": loguniform(1e-3, 0.3), "hidden": choice([16], [32, 32]), "optimizer": "adam",
         "epochs": 4}


def _scores(result) -> dict[int, float]:
    return {r["trial"]: r["val_acc"] for r in result.trials}


# --- the space ---------------------------------------------------------------------------


@pytest.mark.parametrize("make, args, message", [
    (loguniform, (0.0, 1e-2), "must lie above 0"),
    (loguniform, (-1e-3, 1e-2), "must lie above 0"),
    (loguniform, (1e-2, 1e-2), "empty range"),
    (uniform, (1.0, 0.5), "empty range"),
    (integer, (5, 4), "empty range"),
    (uniform, (0.0, math.inf), "finite"),
])
def test_bad_ranges_are_refused(make, args, message):
    with pytest.raises(ValueError, match=message):
        make(*args)


def test_bad_spaces_are_refused():
    with pytest.raises(ValueError, match="unknown setting 'weight_decy' .*did you mean "
                                         "'weight_decay'"):
        random_trials({"weight_decy": loguniform(1e-8, 1e-4)}, 3)
    with pytest.raises(ValueError, match="empty"):
        choice()
    with pytest.raises(ValueError, match="optimizer takes names: search it with choice"):
        random_trials({"optimizer": uniform(0, 1)}, 3)
    with pytest.raises(ValueError, match="epochs is a whole number"):
        random_trials({"epochs": uniform(1, 5)}, 3)
    with pytest.raises(ValueError, match="optimizer option must be one of"):
        random_trials({"optimizer": choice("sgd", "adamw")}, 3)
    with pytest.raises(ValueError, match="lr range bound must be a finite number > 0"):
        random_trials({"lr": uniform(0.0, 0.1)}, 3)
    with pytest.raises(ValueError, match="momentum is a setting of the optimizers momentum"):
        random_trials({"momentum": uniform(0.5, 0.9)}, 3)  # the book's optimizer is sgd
    with pytest.raises(ValueError, match="hidden, activation shape the MLP"):
        random_trials({"model": "convnet", "hidden": [50], "activation": "tanh"}, 1)


def test_random_trials_are_seeded_and_in_range():
    space = {"lr": loguniform(1e-6, 1e-2), "batch_size": integer(10, 12),
             "optimizer": choice("sgd", "adam"), "epochs": 3}
    trials = random_trials(space, 2000, seed=7)
    assert trials == random_trials(space, 2000, seed=7)
    assert trials != random_trials(space, 2000, seed=8)
    assert trials[:10] == random_trials(space, 10, seed=7)  # the first k do not depend on N
    lr = np.array([t["lr"] for t in trials])
    assert lr.min() >= 1e-6 and lr.max() <= 1e-2
    # uniform in log10: mean -4, standard deviation 4 / sqrt(12) = 1.155
    assert abs(np.log10(lr).mean() + 4) < 0.1
    assert abs(np.log10(lr).std() - 4 / math.sqrt(12)) < 0.05
    assert {t["batch_size"] for t in trials} == {10, 11, 12}  # both ends included
    assert {t["optimizer"] for t in trials} == {"sgd", "adam"}
    assert all(t["epochs"] == 3 for t in trials)


def test_grid_trials():
    trials = grid_trials({"lr": loguniform(1e-3, 1e-1), "hidden": choice([50], [100, 100]),
                          "batch_size": integer(1, 3)}, points=3)
    assert len(trials) == 3 * 2 * 3
    assert sorted({t["lr"] for t in trials}) == pytest.approx([1e-3, 1e-2, 1e-1])
    assert trials[0] == {"lr": pytest.approx(1e-3), "hidden": [50], "batch_size": 1}
    assert trials[1]["batch_size"] == 2  # the last setting varies fastest
    assert len(grid_trials({"batch_size": integer(1, 2)}, points=5)) == 2  # no repeats


def test_parse_setting():
    assert parse_setting("lr=loguniform(1e-6, 1e-2)") == ("lr", loguniform(1e-6, 1e-2))
    assert parse_setting("optimizer=choice(sgd, adam)") == ("optimizer",
                                                            choice("sgd", "adam"))
    assert parse_setting("hidden=choice([50], [100, 100])")[1].args == ([50], [100, 100])
    assert parse_setting("epochs=7") == ("epochs", 7)
    assert parse_setting("hidden=[100, 100]") == ("hidden", [100, 100])
    with pytest.raises(ValueError, match="expected NAME=VALUE"):
        parse_setting("lr")
    with pytest.raises(ValueError, match="must lie above 0"):
        parse_setting("lr=loguniform(0, 1)")
    with pytest.raises(ValueError, match="the value must be"):
        parse_setting("lr=__import__('os')")


# --- sweeps in this process --------------------------------------------------------------


def test_serial_sweep_writes_a_sorted_table_run_folders_and_figures(tmp_path):
    result = sweep(SPACE, dataset="spirals", trials=5, seed=3, serial=True, out=tmp_path)
    scores = [r["val_acc"] for r in result.trials]
    assert scores == sorted(scores, reverse=True)
    assert [r["rank"] for r in result.trials] == [1, 2, 3, 4, 5]
    assert sorted(r["trial"] for r in result.trials) == list(range(5))
    # the same trials as run_trial alone: data of the sweep's split, seeded by trial number
    spec = DataSpec("spirals", val_split=0.2)
    best = result.trials[0]
    again = run_trial(best["trial"], best["settings"], spec, seed=3)
    assert again["val_acc"] == best["val_acc"]
    settings = best["settings"]
    assert settings["hidden"] in ([16], [32, 32]) and 1e-3 <= settings["lr"] <= 0.3
    assert (settings["optimizer"], settings["epochs"]) == ("adam", 4)
    # the settings left out are the book's; adam takes no momentum
    assert settings["activation"] == BOOK_SETTINGS["activation"] == "relu"
    assert settings["batch_size"] == BOOK_SETTINGS["batch_size"]
    assert "momentum" not in settings
    with open(tmp_path / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["trial"]) for r in rows] == [r["trial"] for r in result.trials]
    assert float(rows[0]["lr"]) == pytest.approx(best["settings"]["lr"], rel=1e-5)
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["sweep"]["search"] == "random" and data["sweep"]["trials"] == 5
    assert data["trials"][0]["curves"]["val_acc"][-1] == best["val_acc"]
    folder = tmp_path / "trials" / f"{best['trial']:04d}"
    model = load_model(folder / "model.npz")
    assert model.meta["metadata"]["options"]["lr"] == best["settings"]["lr"]
    assert (folder / "history.json").is_file() and (folder / "history.csv").is_file()
    for figure in ("best_curves.png", "score_vs_settings.png"):
        assert (tmp_path / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_diverging_or_failing_trial_is_recorded_and_the_sweep_goes_on(tmp_path,
                                                                       monkeypatch):
    real = trial_module.make_model

    def make_model(kind, *args, **kwargs):
        if kwargs["hidden"] == (7,):
            raise MemoryError("no room for 7 units")
        return real(kind, *args, **kwargs)

    monkeypatch.setattr(trial_module, "make_model", make_model)
    # lr 1e30: the first step sends the loss to inf (lr 1e9 may only kill every ReLU)
    space = {"lr": choice(1e30, 0.05), "hidden": choice([7], [16]), "epochs": 3}
    result = sweep(space, dataset="spirals", grid=1, serial=True, out=tmp_path)
    status = {(r["settings"]["lr"], tuple(r["settings"]["hidden"])): r for r in result.trials}
    assert status[(0.05, (16,))]["status"] == "ok"
    assert status[(1e30, (16,))]["status"] == "diverged"
    assert status[(1e30, (16,))]["error"].startswith("training diverged at epoch 1")
    assert status[(1e30, (16,))]["val_acc"] is None
    assert status[(0.05, (7,))]["status"] == "failed"
    assert status[(0.05, (7,))]["error"] == "MemoryError: no room for 7 units"
    assert result.trials[0]["status"] == "ok"  # finished trials first
    with open(tmp_path / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["status"] for r in rows] == ["ok", "diverged", "failed", "failed"]
    assert "MemoryError: no room for 7 units" in [r["error"] for r in rows]


def test_an_interrupted_sweep_resumes_and_skips_finished_trials(tmp_path):
    whole = sweep(SPACE, dataset="spirals", trials=6, serial=True, out=tmp_path / "whole")
    seen = []

    def stop_after_two(record):
        seen.append(record["trial"])
        if len(seen) == 2:
            raise KeyboardInterrupt

    out = tmp_path / "stopped"
    with pytest.raises(KeyboardInterrupt):
        sweep(SPACE, dataset="spirals", trials=6, serial=True, out=out,
              on_result=stop_after_two)
    kept = json.loads((out / "results.json").read_text())["trials"]
    assert sorted(r["trial"] for r in kept) == sorted(seen)
    rerun = []
    result = sweep(SPACE, dataset="spirals", trials=6, serial=True, out=out,
                   on_result=lambda r: rerun.append(r["trial"]))
    assert sorted(rerun) == sorted(set(range(6)) - set(seen))
    assert _scores(result) == _scores(whole)
    more = []  # the same sweep with more trials keeps the first six
    sweep(SPACE, dataset="spirals", trials=8, serial=True, out=out,
          on_result=lambda r: more.append(r["trial"]))
    assert sorted(more) == [6, 7]


def test_a_folder_of_another_sweep_is_refused_before_any_trial(tmp_path):
    sweep(SPACE, dataset="spirals", trials=2, serial=True, out=tmp_path)
    before = (tmp_path / "results.json").read_text()
    ran = []
    with pytest.raises(SweepMismatch, match="holds another sweep .*seed 0 there, 1 here"):
        sweep(SPACE, dataset="spirals", trials=2, seed=1, serial=True, out=tmp_path,
              on_result=ran.append)
    assert ran == [] and (tmp_path / "results.json").read_text() == before


@pytest.mark.parametrize("kwargs, error, message", [
    ({"dataset": "cifar"}, ValueError, "unknown data set 'cifar'"),
    ({"val_split": 0.0}, ValueError, "val_split must be a finite number > 0"),
    ({"trials": 3, "grid": 2}, ValueError, "leave out trials"),
    ({"trials": 0}, ValueError, "trials must be a positive integer"),
    ({"serial": True, "workers": 2}, ValueError, "leave out address and workers"),
    ({"data_dir": "/no/such/folder"}, FileNotFoundError, "no such folder"),
])
def test_bad_sweep_arguments_are_refused_before_any_trial(tmp_path, kwargs, error, message):
    arguments = {"dataset": "spirals", "serial": True, "out": tmp_path / "out", **kwargs}
    with pytest.raises(error, match=message):
        sweep(SPACE, **arguments)
    assert not (tmp_path / "out").exists()


def test_the_command(tmp_path, capsys):
    from scratchnn.cli import main

    out = tmp_path / "cli"
    code = main(["sweep", "lr=loguniform(1e-3, 0.3)", "optimizer=choice(adam, sgd)",
                 "epochs=3", "hidden=[16]", "--dataset", "spirals", "--trials", "3",
                 "--serial", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "[3/3]" in printed and "best 1 (val acc" in printed
    with open(out / "results.csv") as f:
        table = list(csv.DictReader(f))
    assert len(table) == 3 and {r["hidden"] for r in table} == {"16"}
    assert main(["sweep", "lr=loguniform(0, 1)", "--serial"]) == 2
    assert "must lie above 0" in capsys.readouterr().err
    assert main(["sweep", "learning_rate=0.1", "--serial"]) == 2
    assert "unknown setting 'learning_rate'" in capsys.readouterr().err


def test_sweeps_import_without_dask_and_say_what_to_install(tmp_path, monkeypatch):
    code = ("import sys, scratchnn.sweeps; "
            "print(sorted(m for m in ('dask', 'distributed') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # as if it were missing
    with pytest.raises(ImportError, match=r"pip install 'scratchnn\[sweep\]'"):
        sweep(SPACE, dataset="spirals", trials=2, workers=2, out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


# --- on Dask -----------------------------------------------------------------------------


def test_a_sweep_on_a_local_cluster_of_two_workers(tmp_path):
    pytest.importorskip("distributed")
    serial = sweep(SPACE, dataset="spirals", trials=6, serial=True, out=tmp_path / "serial")
    result = sweep(SPACE, dataset="spirals", trials=6, workers=2, out=tmp_path / "dask")
    assert _scores(result) == _scores(serial)  # the same trials, trained the same
    assert all(r["worker"].startswith("tcp://") for r in result.trials)
    rows = json.loads((tmp_path / "dask" / "results.json").read_text())["trials"]
    assert sorted(r["trial"] for r in rows) == list(range(6))


def test_data_is_loaded_once_per_worker(tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        sweep(SPACE, dataset="spirals", trials=8, address=cluster.scheduler_address,
              out=tmp_path)
        loads = client.run(lambda: trial_module.trial_data.cache_info().misses)
    assert loads and set(loads.values()) <= {0, 1} and sum(loads.values()) >= 1


def test_an_unreachable_scheduler_is_an_error_before_any_trial(tmp_path):
    pytest.importorskip("distributed")
    with pytest.raises(ConnectionError, match="cannot reach the Dask scheduler at "
                                              "tcp://127.0.0.1:9"):
        sweep(SPACE, dataset="spirals", trials=2, address="tcp://127.0.0.1:9",
              connect_timeout=1, out=tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError, match="'127.0.0.1' is not a Dask scheduler's address"):
        sweep(SPACE, dataset="spirals", trials=2, address="127.0.0.1", out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def _dask(*args: str, log) -> subprocess.Popen:
    """``dask ARGS`` in its own process, its output into the open file ``log``."""
    command = [os.path.join(os.path.dirname(sys.executable), "dask"), *args]
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)


def test_a_worker_killed_mid_sweep_loses_no_trial(tmp_path):
    distributed = pytest.importorskip("distributed")
    scheduler_file = tmp_path / "scheduler.json"
    log = open(tmp_path / "dask.log", "w")
    processes = [_dask("scheduler", "--host", "127.0.0.1", "--port", "0",
                       "--dashboard-address", ":0", "--scheduler-file", str(scheduler_file),
                       log=log)]
    # Whatever happens, nothing started here outlives two minutes.
    watchdog = threading.Timer(120, lambda: [p.kill() for p in processes])
    watchdog.start()
    try:
        for name in ("w1", "w2"):
            processes.append(_dask("worker", "--scheduler-file", str(scheduler_file),
                                   "--nthreads", "1", "--no-nanny", "--no-dashboard",
                                   "--name", name, log=log))
        with distributed.Client(scheduler_file=str(scheduler_file), timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
            names = {w["name"]: a for a, w in client.scheduler_info()["workers"].items()}
            killed = {}

            def kill_w1(record):
                if not killed:
                    killed["in_flight"] = list(client.processing()[names["w1"]])
                    processes[1].send_signal(signal.SIGKILL)
                    processes[1].wait(10)

            space = {**SPACE, "epochs": 40, "hidden": [64, 64]}
            result = sweep(space, dataset="spirals", trials=8, address=client.scheduler.address,
                           out=tmp_path / "out", on_result=kill_w1)
        rows = json.loads((tmp_path / "out" / "results.json").read_text())["trials"]
        assert sorted(r["trial"] for r in rows) == list(range(8))  # each exactly once
        assert all(r["status"] == "ok" for r in rows)
        assert killed["in_flight"], "w1 was running no trial when it was killed"
        rerun = {int(key.split("-")[2]) for key in killed["in_flight"]}
        assert any(r["worker"] == names["w2"] for r in rows if r["trial"] in rerun)
        serial = sweep(space, dataset="spirals", trials=8, serial=True, out=tmp_path / "s")
        assert _scores(result) == _scores(serial)
    finally:
        watchdog.cancel()
        for p in processes:
            p.terminate()
        for p in processes:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        log.close()
