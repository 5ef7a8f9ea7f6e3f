"""The scratchnn command line, end to end (subprocesses) and in process (main())."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from scratchnn import cli, load_model
from scratchnn.data import load_dataset, load_mnist, validation_split
from scratchnn.layers import Tanh

SRC = Path(__file__).resolve().parents[1] / "src"


def _run(*args, env=None, cwd=None):
    """``python -m scratchnn ARGS`` in a fresh interpreter: (exit status, stdout, stderr)."""
    environment = {**os.environ, "PYTHONPATH": str(SRC), **(env or {})}
    done = subprocess.run([sys.executable, "-m", "scratchnn", *map(str, args)],
                          capture_output=True, text=True, env=environment, cwd=cwd,
                          timeout=300)
    return done.returncode, done.stdout, done.stderr


def _draw(digit: str, path: Path) -> Path:
    """A digit drawn with a thick black pen on white paper, 200x200 pixels."""
    image = Image.new("RGB", (200, 200), "white")
    draw = ImageDraw.Draw(image)
    if digit == "0":
        draw.ellipse([(50, 20), (150, 180)], outline="black", width=16)
    elif digit == "1":
        draw.line([(110, 20), (95, 180)], fill="black", width=16)
    elif digit == "7":
        draw.line([(40, 30), (160, 30), (80, 185)], fill="black", width=16, joint="curve")
    image.save(path)
    return path


@pytest.fixture(scope="module")
def trained(shared_data, tmp_path_factory):
    """A small MLP trained by ``scratchnn train`` on 10,000 MNIST digits."""
    out = tmp_path_factory.mktemp("run")
    code, stdout, stderr = _run(
        "train", "--limit", 10_000, "--epochs", 2, "--hidden", 64, "--lr", 0.002,
        "--eval-subset", 2000, "--out", out, env={"SCRATCHNN_DATA": str(shared_data)})
    assert code == 0, stderr
    return out, stdout, stderr


def test_train_end_to_end(trained, shared_data):
    out, stdout, stderr = trained
    lines = stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["epoch", "loss"])
    rows = [line.split() for line in lines[header + 1 : header + 3]]
    assert [r[0] for r in rows] == ["1", "2"]
    assert "test accuracy" in lines[-1] and str(out) in lines[-1]
    assert stderr == ""  # no progress bar when the output is not a terminal
    for name in ("model.npz", "history.json", "history.csv", "checkpoint.npz",
                 "learning_curves.png", "confusion_matrix.png", "misclassified.png",
                 "first_layer_weights.png"):
        assert (out / name).stat().st_size > 0, name
    history = json.loads((out / "history.json").read_text())
    assert len(history["epochs"]) == 2 and len(history["loss"]) == 2 * 100
    test_acc = history["epochs"][-1]["val_acc"]
    assert test_acc > 0.85
    assert f"{100 * test_acc:.2f}%" in rows[1]
    model = load_model(out / "model.npz")
    meta = model.meta["metadata"]
    assert meta["dataset"] == "mnist" and meta["input_shape"] == [784]
    assert meta["classes"] == [str(d) for d in range(10)]
    # The table shows the first 2000 test samples each epoch; the file holds all 10,000.
    _, (x_test, t_test) = load_mnist(data_dir=shared_data)
    assert meta["test_accuracy"] == model.accuracy(x_test[:10_000], t_test[:10_000])
    assert abs(meta["test_accuracy"] - test_acc) < 0.03
    assert [p.shape for p in model.params.values()] == [(784, 64), (64,), (64, 10), (10,)]


def test_evaluate_on_part_of_the_test_set_keeps_the_run_figures(trained, shared_data,
                                                               capsys, monkeypatch):
    out, _, _ = trained
    monkeypatch.setenv("SCRATCHNN_DATA", str(shared_data))
    before = (out / "confusion_matrix.png").read_bytes()
    assert cli.main(["evaluate", str(out), "--limit", "300"]) == 0
    assert ("saved confusion_matrix-first300.png and misclassified-first300.png"
            in capsys.readouterr().out)
    assert (out / "confusion_matrix.png").read_bytes() == before
    assert (out / "misclassified-first300.png").exists()


def test_evaluate_end_to_end(trained, shared_data):
    out, _, _ = trained
    figures = out / "evaluation"
    code, stdout, stderr = _run("evaluate", out / "model.npz", "--out", figures,
                                env={"SCRATCHNN_DATA": str(shared_data)})
    assert code == 0, stderr
    _, (xt, tt) = load_mnist(data_dir=shared_data)
    accuracy = load_model(out / "model.npz").accuracy(xt, tt)
    assert f"accuracy {100 * accuracy:.2f}% on 10,000 test samples" in stdout
    lines = stdout.splitlines()
    assert lines[1].split() == ["class", "precision", "recall", "support"]
    assert lines[2].split()[0] == "0" and lines[2].split()[3] == "980"  # zeros in MNIST's test
    assert "confusion matrix" in stdout
    assert (figures / "confusion_matrix.png").stat().st_size > 0
    assert (figures / "misclassified.png").stat().st_size > 0


def test_predict_reads_drawn_digits(trained, tmp_path):
    out, _, _ = trained
    images = [_draw(d, tmp_path / f"drawn_{d}.png") for d in "017"]
    code, stdout, stderr = _run("predict", out / "model.npz", *images)
    assert code == 0, stderr
    lines = stdout.splitlines()
    assert len(lines) == 3
    for digit, line in zip("017", lines, strict=True):
        path, ranked = line.split(": ")
        assert path.endswith(f"drawn_{digit}.png")
        top = ranked.split("  ")
        assert len(top) == 3
        assert top[0].startswith(f"{digit} (")
        percents = [float(t.split("(")[1].rstrip("%)")) for t in top]
        assert percents == sorted(percents, reverse=True) and sum(percents) <= 100.05


def test_help_and_version():
    code, stdout, _ = _run("--help")
    assert code == 0
    for command in ("train", "evaluate", "predict", "plot", "gradcheck", "reproduce", "bench"):
        assert command in stdout
    code, stdout, _ = _run("--version")
    assert code == 0 and stdout.startswith("scratchnn ")


@pytest.mark.parametrize(
    "command", ["train", "evaluate", "predict", "plot", "gradcheck", "reproduce", "bench"]
)
def test_every_command_has_help(command, capsys):
    assert cli.main([command, "--help"]) == 0
    assert f"usage: scratchnn {command}" in capsys.readouterr().out


def test_usage_errors_exit_2(capsys):
    assert cli.main(["train", "--epochs", "0"]) == 2
    assert "expected a positive integer" in capsys.readouterr().err
    assert cli.main(["train", "--dataset", "imagenet"]) == 2
    assert cli.main(["nonsense"]) == 2
    assert cli.main([]) == 2
    assert cli.main(["predict", "model.npz"]) == 2  # no image
    code, _, stderr = _run("train", "--hidden", "ten")
    assert code == 2 and "comma-separated" in stderr
    assert cli.main(["train", "--seed", "-1"]) == 2
    assert "expected a seed >= 0" in capsys.readouterr().err
    assert cli.main(["train", "--val-split", "1.5"]) == 2
    assert "fraction in [0, 1)" in capsys.readouterr().err
    for figure in ("curves", "weights"):
        assert cli.main(["plot", figure]) == 2
        assert f"plot {figure} needs a FILE" in capsys.readouterr().err


def test_early_stopping_watches_a_validation_split_never_the_test_set(tmp_path, capsys):
    assert cli.main(["train", "--dataset", "spirals", "--hidden", "16", "--epochs", "30",
                     "--patience", "2", "--lr", "0.01", "--out", str(tmp_path),
                     "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert "holding out 10% of the training set" in out
    assert "810 samples, validating on 90, testing on 900 at the end" in out
    assert "val_acc" in out.splitlines()[2]
    history = json.loads((tmp_path / "history.json").read_text())
    meta = load_model(tmp_path / "model.npz").meta["metadata"]
    # The per-epoch column is the validation accuracy: 90 samples, a multiple of 1/90.
    val = [r["val_acc"] for r in history["epochs"]]
    assert all(abs(90 * v - round(90 * v)) < 1e-9 for v in val)
    assert meta["options"]["val_split"] == 0.1
    # The file's accuracies are those of the weights it holds (the best epoch's).
    model = load_model(tmp_path / "model.npz")
    ds = load_dataset("spirals")
    x_train, t_train, x_val, t_val = validation_split(ds.x_train, ds.t_train, 0.1)
    assert meta["val_accuracy"] == model.accuracy(x_val, t_val) == max(val)
    assert meta["train_accuracy"] == model.accuracy(x_train, t_train)
    assert meta["test_accuracy"] == model.accuracy(ds.x_test, ds.t_test)
    assert cli.main(["train", "--dataset", "xor", "--patience", "2", "--val-split", "0"]) == 2
    assert "--patience needs a validation set" in capsys.readouterr().err


def test_failures_are_one_line_without_traceback(tmp_path):
    code, stdout, stderr = _run("evaluate", tmp_path / "missing.npz")
    assert code == 1
    assert stderr.strip().count("\n") == 0
    assert stderr.startswith("scratchnn evaluate: error:") and "no such model file" in stderr
    assert "Traceback" not in stderr
    code, _, stderr = _run("--debug", "evaluate", tmp_path / "missing.npz")
    assert code == 1 and "Traceback" in stderr and "FileNotFoundError" in stderr


def test_truncated_model_file_is_a_clear_error(trained, tmp_path, capsys):
    out, _, _ = trained
    data = (out / "model.npz").read_bytes()
    broken = tmp_path / "broken.npz"
    broken.write_bytes(data[: len(data) // 2])
    assert cli.main(["evaluate", str(broken)]) == 1
    err = capsys.readouterr().err
    assert f"{broken}: truncated or corrupt model file" in err
    with pytest.raises(ValueError, match="truncated"):
        cli.main(["evaluate", str(broken), "--debug"])


def test_predict_answers_for_the_readable_images_and_fails_for_the_others(trained, tmp_path):
    out, _, _ = trained
    seven = _draw("7", tmp_path / "seven.png")
    Image.new("L", (50, 50), 255).save(tmp_path / "blank.png")
    code, stdout, stderr = _run("predict", out / "model.npz", tmp_path / "blank.png", seven)
    assert code == 1
    assert stdout.startswith(f"{seven}: 7 (")
    assert "blank.png: the image is blank" in stderr


def test_predict_refuses_models_that_do_not_read_digits(tmp_path, capsys):
    cli.main(["train", "--dataset", "xor", "--epochs", "1", "--out", str(tmp_path / "xor"),
              "--no-plots"])
    capsys.readouterr()
    image = _draw("1", tmp_path / "one.png")
    assert cli.main(["predict", str(tmp_path / "xor" / "model.npz"), str(image)]) == 2
    assert "28x28" in capsys.readouterr().err


@pytest.mark.parametrize("dataset", ["xor", "spirals", "circles"])
def test_toy_data_sets_train(dataset, tmp_path, capsys):
    assert cli.main(["train", "--dataset", dataset, "--hidden", "16,16", "--epochs", "20",
                     "--batch-size", "20", "--lr", "0.01", "--out", str(tmp_path),
                     "--checkpoint-every", "0"]) == 0
    model = load_model(tmp_path / "model.npz")
    assert model.meta["metadata"]["test_accuracy"] > 0.85, capsys.readouterr().out
    assert not (tmp_path / "checkpoint.npz").exists()
    assert (tmp_path / "confusion_matrix.png").exists()


def test_resume_through_the_command_line(shared_data, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SCRATCHNN_DATA", str(shared_data))
    options = ["train", "--limit", "600", "--epochs", "3", "--hidden", "16",
               "--optimizer", "momentum", "--lr", "0.05", "--no-plots"]
    assert cli.main([*options, "--out", str(tmp_path / "straight")]) == 0

    def interrupt_after_epoch_2(self, trainer, epoch, logs):
        if epoch == 2:
            raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(cli._EpochTable, "on_epoch_end", interrupt_after_epoch_2)
        assert cli.main([*options, "--out", str(tmp_path / "cut")]) == 130
    err = capsys.readouterr().err
    assert f"continue with: scratchnn train --resume {tmp_path / 'cut'}" in err
    assert cli.main(["train", "--resume", str(tmp_path / "cut"), "--no-plots"]) == 0
    assert "    3 " in capsys.readouterr().out
    straight = load_model(tmp_path / "straight" / "model.npz")
    resumed = load_model(tmp_path / "cut" / "model.npz")
    for name, p in straight.params.items():
        np.testing.assert_array_equal(resumed.params[name], p, err_msg=name)
    # Once finished, resuming asks for more epochs instead of silently doing nothing.
    assert cli.main(["train", "--resume", str(tmp_path / "cut"), "--no-plots"]) == 2
    assert ("has trained 3 epochs; that is all the 3 epochs it was started with: pass "
            "--epochs N with N > 3") in capsys.readouterr().err
    assert cli.main(["train", "--resume", str(tmp_path / "cut"), "--epochs", "2"]) == 2
    assert "--epochs 2 is not more than that" in capsys.readouterr().err
    # An option that would change the run is refused, not silently dropped; the same
    # value as the run's is fine (4 epochs: one more).
    assert cli.main(["train", "--resume", str(tmp_path / "cut"), "--epochs", "4", "--lr",
                     "0.5", "--hidden", "32", "--optimizer", "momentum", "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert "leave out --hidden 32 (the run has 16), --lr 0.5 (the run has 0.05), or" in err
    assert "--optimizer" not in err
    assert cli.main(["train", "--resume", str(tmp_path / "cut"), "--epochs", "4", "--lr",
                     "0.05", "--no-plots"]) == 0
    assert "(training " in capsys.readouterr().out
    assert cli.main(["train", "--resume", str(tmp_path / "nothing")]) == 1
    assert "no such checkpoint" in capsys.readouterr().err


def test_options_that_would_be_ignored_or_overwrite_a_run_are_refused(tmp_path, capsys):
    for args, message in [
        (["--model", "convnet", "--hidden", "10"], "--hidden shape the MLP; --model convnet"),
        (["--momentum", "0.5"], "--momentum is for --optimizer momentum or nesterov, not adam"),
        (["--dataset", "catvnoncat", "--momentum", "0.5"], "nesterov, not sgd"),
        (["--optimizer", "momentum", "--momentum", "2"], "expected a fraction in [0, 1)"),
        (["--hidden", "10,,5"], "comma-separated layer widths"),
        (["--hidden", "10,0"], "comma-separated layer widths"),
        (["--model", "convnet"], "xor is a set of 2-D points: train it with --model mlp"),
    ]:
        assert cli.main(["train", "--dataset", "xor", *args]) == 2, args
        assert message in capsys.readouterr().err
    a_file = tmp_path / "afile"
    a_file.write_text("notes")
    assert cli.main(["train", "--dataset", "xor", "--out", str(a_file)]) == 2
    assert f"--out {a_file} is a file" in capsys.readouterr().err
    run = tmp_path / "run"
    assert cli.main(["train", "--dataset", "xor", "--epochs", "1", "--out", str(run),
                     "--no-plots"]) == 0
    assert "1 epoch, batch size" in capsys.readouterr().out
    before = (run / "model.npz").read_bytes()
    assert cli.main(["train", "--dataset", "spirals", "--out", str(run)]) == 2
    assert "already holds a run (model.npz and checkpoint.npz)" in capsys.readouterr().err
    assert (run / "model.npz").read_bytes() == before


def test_default_run_folders_are_claimed_at_once_and_removed_when_nothing_is_written(
        tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli.time, "strftime", lambda fmt: "20260101-000000")  # one second
    for seed in ("1", "2"):
        assert cli.main(["train", "--dataset", "xor", "--epochs", "1", "--seed", seed,
                         "--no-plots"]) == 0
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert runs == ["xor-mlp-20260101-000000", "xor-mlp-20260101-000000-2"]
    monkeypatch.setenv("SCRATCHNN_DATA", str(tmp_path / "nothing"))
    monkeypatch.setenv("SCRATCHNN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SCRATCHNN_MIRRORS", "")
    assert cli.main(["train", "--dataset", "mnist"]) == 1  # no data: nothing written
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == runs
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert cli.main(["train", "--dataset", "mnist"]) == 1
    assert list(elsewhere.iterdir()) == []  # not even an empty runs/
    (elsewhere / "runs").symlink_to(tmp_path / "gone")  # a dangling link: no endless loop
    assert cli.main(["train", "--dataset", "xor"]) == 2
    assert "runs is not a folder" in capsys.readouterr().err


def test_divergence_is_reported_in_one_line(tmp_path, capsys):
    code = cli.main(["train", "--dataset", "spirals", "--optimizer", "sgd", "--lr", "1e30",
                     "--epochs", "2", "--out", str(tmp_path)])
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("scratchnn train: error: training diverged at epoch 1, iteration")
    assert "smaller learning rate" in err and "\n" not in err


def test_gradcheck(capsys, monkeypatch):
    assert cli.main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    assert "backprop agrees" in out and out.count(" ok") == 6

    def wrong_backward(self, dout, inplace=False):
        return dout * (1 - self.out)  # forgot the square: a backprop bug

    monkeypatch.setattr(Tanh, "backward", wrong_backward)
    assert cli.main(["gradcheck"]) == 1
    assert "DISAGREES" in capsys.readouterr().out


def test_plot_commands(trained, shared_data, tmp_path, monkeypatch, capsys):
    out, _, _ = trained
    monkeypatch.setenv("SCRATCHNN_DATA", str(shared_data))
    monkeypatch.chdir(tmp_path)
    runs = [
        (["activations"], "activations.png"),
        (["activation-histograms", "--activation", "relu", "-o", "h.png"], "h.png"),
        (["gradient-descent", "--function", "elongated"], "gradient_descent.png"),
        (["curves", str(out)], "learning_curves.png"),  # the name train gives it
        (["optimizers", "--steps", "5", "--limit", "500"], "optimizers.png"),
        (["curves", str(out / "history.json"), "-o", "curves.svg"], "curves.svg"),
        (["curves", str(out), "-o", "curves.png"], "curves.png"),  # a run folder
        (["weights", str(out / "model.npz"), "-o", "w.png"], "w.png"),
        (["confusion", str(out / "model.npz"), "--limit", "500", "-o", "cm.png"], "cm.png"),
        (["misclassified", str(out / "model.npz"), "-o", "m.png"], "m.png"),
    ]
    for args, name in runs:
        assert cli.main(["plot", *args]) == 0, args
        assert (tmp_path / name).stat().st_size > 1000, name
        assert f"wrote {name}" in capsys.readouterr().out
    with Image.open(tmp_path / "activations.png") as image:
        assert image.size[0] > 300


def test_missing_delegated_module_gives_a_clear_error(monkeypatch, capsys):
    monkeypatch.setitem(cli.DELEGATED, "bench", ("scratchnn.no_such_module", "time things"))
    assert cli.main(["bench", "--quick"]) == 1
    assert "'scratchnn bench' is not available" in capsys.readouterr().err
    assert cli.main(["gradcheck", "--samples", "2"]) == 0  # the rest still works


def test_toy_sets_learn_with_the_default_options(tmp_path, capsys):
    assert cli.main(["train", "--dataset", "spirals", "--out", str(tmp_path), "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert "50 epochs" in out and "lr=0.01" in out
    assert load_model(tmp_path / "model.npz").meta["metadata"]["test_accuracy"] > 0.95


def test_evaluate_and_plot_a_model_of_points(tmp_path, capsys):
    run = tmp_path / "xor"
    assert cli.main(["train", "--dataset", "xor", "--out", str(run), "--no-plots"]) == 0
    capsys.readouterr()
    assert cli.main(["evaluate", str(run)]) == 0  # a run folder names its model.npz
    out = capsys.readouterr().out
    assert "accuracy" in out and "saved confusion_matrix.png in" in out
    assert (run / "confusion_matrix.png").exists() and not (run / "misclassified.png").exists()
    assert cli.main(["plot", "misclassified", str(run), "-o", str(tmp_path / "m.png")]) == 2
    assert "2-D points, not pictures" in capsys.readouterr().err
    assert cli.main(["plot", "curves", str(run / "model.npz")]) == 1
    assert "not a history.json written by scratchnn train" in capsys.readouterr().err
    assert cli.main(["plot", "weights", str(run), "-o", str(tmp_path / "w.png")]) == 2
    assert "takes 2 inputs, not a square grey picture" in capsys.readouterr().err
    assert cli.main(["plot", "activations", str(run)]) == 2
    assert "plot activations draws from no file" in capsys.readouterr().err


def test_evaluate_a_checkpoint_finds_its_data_set(tmp_path, capsys):
    run = tmp_path / "circles"
    assert cli.main(["train", "--dataset", "circles", "--epochs", "2", "--out", str(run),
                     "--no-plots"]) == 0
    capsys.readouterr()
    assert cli.main(["evaluate", str(run / "checkpoint.npz"), "--out", str(tmp_path)]) == 0
    assert "on 800 test samples" in capsys.readouterr().out



# --- issue 14: what a learner runs into ----------------------------------------------------


def test_every_usage_error_is_one_line(capsys):
    for argv in (["train", "--epochs", "-1"], ["train", "--hidden", "0"],
                 ["train", "--dataset", "imagenet"], ["predict", "model.npz"]):
        assert cli.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1, (argv, err)
        assert err.startswith("scratchnn ") and "--help" in err


def test_run_folder_that_takes_no_files_is_refused_before_training(tmp_path, capsys):
    (tmp_path / "a-file").write_text("")
    assert cli.main(["train", "--dataset", "xor", "--out", str(tmp_path / "a-file" / "run"),
                     "--checkpoint-every", "0"]) == 1
    out, err = capsys.readouterr()
    assert "training" not in out  # not a single step was taken
    assert "a-file/run cannot take the run's files" in err and len(err.splitlines()) == 1


def test_a_late_write_failure_keeps_the_trained_model(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(cli.runs.tempfile, "tempdir", None)
    real_save = cli.save_model

    def full_disk(model, path, metadata=None):
        if Path(path).parent == tmp_path / "run":
            raise OSError(28, "No space left on device")
        return real_save(model, path, metadata)

    monkeypatch.setattr(cli, "save_model", full_disk)
    assert cli.main(["train", "--dataset", "xor", "--epochs", "2", "--out",
                     str(tmp_path / "run"), "--checkpoint-every", "0", "--no-plots"]) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and "the trained model is saved in" in err
    saved = Path(err.split("saved in ")[1].split(" instead")[0])
    assert saved.parent.parent == tmp_path / "tmp"
    assert load_model(saved).accuracy(*load_dataset("xor")[2:4]) > 0.6


def test_evaluate_on_other_data_says_so_and_keeps_the_run_figures(tmp_path, capsys):
    run = tmp_path / "spirals"
    assert cli.main(["train", "--dataset", "spirals", "--epochs", "2", "--out", str(run)]) == 0
    before = (run / "confusion_matrix.png").read_bytes()
    capsys.readouterr()
    assert cli.main(["evaluate", str(run), "--dataset", "circles"]) == 0
    out = capsys.readouterr().out
    assert "was trained on spirals, not on circles" in out
    assert "confusion_matrix-circles.png" in out
    assert (run / "confusion_matrix.png").read_bytes() == before
    assert (run / "confusion_matrix-circles.png").exists()


def test_output_is_flushed_after_each_epoch():
    class Stream:
        def __init__(self):
            self.events = []

        def write(self, text):
            self.events.append("write")

        def flush(self):
            self.events.append("flush")

    stream = Stream()
    table = cli._EpochTable(stream=stream)
    table.on_epoch_end(None, 1, {"loss": 0.5, "train_acc": 0.9, "val_acc": 0.8, "lr": 0.1,
                                 "time": 1.0})
    assert stream.events[-1] == "flush"


def test_the_table_names_its_columns_as_history_csv_does(tmp_path, capsys):
    assert cli.main(["train", "--dataset", "xor", "--epochs", "2", "--out", str(tmp_path),
                     "--no-plots"]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.split()[:1] == ["epoch"])
    csv_header = (tmp_path / "history.csv").read_text().splitlines()[0].split(",")
    assert header.split() == [c for c in csv_header if c != "val_loss"]
    assert "val_acc is the test set's accuracy" in out


def test_early_stopping_says_which_epoch_it_kept(tmp_path, capsys):
    assert cli.main(["train", "--dataset", "spirals", "--epochs", "40", "--patience", "2",
                     "--lr", "0.5", "--out", str(tmp_path), "--no-plots"]) == 0
    out = capsys.readouterr().out
    history = json.loads((tmp_path / "history.json").read_text())
    accs = [r["val_acc"] for r in history["epochs"]]
    best = accs.index(max(accs)) + 1
    assert f"kept the weights of epoch {best} (val_acc {100 * max(accs):.2f}%" in out \
        or f"kept the weights of the last epoch, {best}" in out


def test_extending_a_finished_run_says_what_the_schedule_does(tmp_path, capsys):
    assert cli.main(["train", "--dataset", "xor", "--epochs", "3", "--out", str(tmp_path),
                     "--no-plots"]) == 0
    capsys.readouterr()
    assert cli.main(["train", "--resume", str(tmp_path), "--epochs", "5"]) == 0
    out = capsys.readouterr().out
    # cosine over 3 epochs ended at 0.01 * 0.25; laid out over 5, epoch 4 gets
    # 0.01 * (1 + cos(3 pi / 5)) / 2
    assert ("extending the run from 3 to 5 epochs: training continues from epoch 4; the "
            "cosine learning-rate schedule is laid out again over 5 epochs") in out
    assert "epoch 3 had lr 0.0025, epoch 4 gets 0.00345" in out
    history = json.loads((tmp_path / "history.json").read_text())
    assert history["epochs"][3]["lr"] == pytest.approx(0.01 * (1 + np.cos(3 * np.pi / 5)) / 2)


def test_resuming_from_a_model_file_explains_what_a_checkpoint_is(tmp_path, capsys):
    assert cli.main(["train", "--dataset", "xor", "--epochs", "1", "--out", str(tmp_path),
                     "--no-plots"]) == 0
    capsys.readouterr()
    assert cli.main(["train", "--resume", str(tmp_path / "model.npz"), "--epochs", "3"]) == 2
    err = capsys.readouterr().err
    assert "model.npz is a model file, not a checkpoint" in err
    assert "optimizer's state and the history" in err


def test_a_model_saved_from_python_is_usable_by_the_cli(shared_data, tmp_path, capsys,
                                                        monkeypatch):
    monkeypatch.setenv("SCRATCHNN_DATA", str(shared_data))
    monkeypatch.chdir(tmp_path)
    from scratchnn import MLP, save_model

    save_model(MLP([784, 16, 10], seed=0), "mnist.npz")
    assert cli.main(["evaluate", "mnist.npz", "--limit", "300"]) == 0
    out = capsys.readouterr().out
    assert "names no data set; using mnist, which fits its 784 inputs" in out
    assert "on 300 test samples" in out


def test_predict_show_saves_what_the_model_sees(trained, tmp_path, capsys):
    out, _, _ = trained
    image = _draw("7", tmp_path / "seven.png")
    assert cli.main(["predict", str(out), str(image), "--show"]) == 0
    line = capsys.readouterr().out.strip()
    seen = tmp_path / "seven.seen.png"
    assert f"[the model saw {seen}]" in line
    with Image.open(seen) as picture:
        assert picture.size == (224, 224)  # 28x28, 8 times larger
        small = np.asarray(picture.convert("L"))[::8, ::8] / 255
    from scratchnn.images import load_digit

    np.testing.assert_allclose(small, load_digit(image), atol=1 / 255 + 1e-6)


def test_predict_flags_a_picture_unlike_the_training_data(trained, tmp_path, capsys):
    out, _, _ = trained
    meta = load_model(out / "model.npz").meta["metadata"]["novelty"]
    assert meta["score"] == "energy" and meta["calibrated_on"] == "test set"
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (200, 200), np.uint8))
    noise.save(tmp_path / "noise.png")
    digit = _draw("0", tmp_path / "zero.png")
    assert cli.main(["predict", str(out), str(tmp_path / "noise.png"), str(digit)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "unlike the data the model was trained on" in lines[0]
    assert "unlike" not in lines[1]


def test_predict_reads_photos_for_a_cat_model(shared_data, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SCRATCHNN_DATA", str(shared_data))
    run = tmp_path / "cats"
    assert cli.main(["train", "--dataset", "catvnoncat", "--epochs", "3", "--hidden", "7",
                     "--out", str(run), "--no-plots"]) == 0
    capsys.readouterr()
    from scratchnn.data import load_catvnoncat

    cats = load_catvnoncat()
    Image.fromarray(cats.test_x[0]).resize((300, 200)).save(tmp_path / "photo.jpg")
    assert cli.main(["predict", str(run), str(tmp_path / "photo.jpg"), "--top", "1"]) == 0
    answer = capsys.readouterr().out
    assert answer.startswith(f"{tmp_path / 'photo.jpg'}: ")
    assert answer.split(": ")[1].split(" (")[0] in ("cat", "non-cat")


def test_decision_boundaries_for_2d_sets_in_train_and_plot(tmp_path, capsys):
    run = tmp_path / "circles"
    assert cli.main(["train", "--dataset", "circles", "--epochs", "2", "--out", str(run)]) == 0
    assert (run / "decision_boundary.png").stat().st_size > 1000
    target = tmp_path / "db.png"
    assert cli.main(["plot", "decision-boundary", str(run), "-o", str(target)]) == 0
    assert target.stat().st_size > 1000
    assert cli.main(["plot", "decision-boundary", str(run), "-o", str(target)]) == 0


def test_compare_overlays_runs_in_one_figure_and_one_table(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name, lr in (("slow", "0.001"), ("fast", "0.05")):
        assert cli.main(["train", "--dataset", "xor", "--epochs", "3", "--lr", lr,
                         "--out", name, "--no-plots"]) == 0
    capsys.readouterr()
    assert cli.main(["compare", "slow", "fast"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:5] == ["run", "epochs", "loss", "train_acc", "val_acc"]
    for line, name in zip(lines[1:3], ("slow", "fast"), strict=True):
        history = json.loads((tmp_path / name / "history.json").read_text())
        assert line.split()[0] == name
        assert f"{100 * history['epochs'][-1]['val_acc']:.2f}%" in line
    assert (tmp_path / "compare.png").stat().st_size > 1000


@pytest.mark.parametrize("network", ["conv", "batchnorm", "dropout"])
def test_gradcheck_of_conv_batchnorm_and_dropout_networks(network, capsys):
    assert cli.main(["gradcheck", "--network", network]) == 0
    out = capsys.readouterr().out
    assert "backprop agrees" in out and "FAIL" not in out


def test_initialisers_draw_in_the_models_dtype():
    import tracemalloc

    from scratchnn.init import initialize

    tracemalloc.start()
    W = initialize("he", (1000, 2000), rng=0, dtype=np.float32)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert W.dtype == np.float32
    assert peak < 1.5 * W.nbytes  # a float64 draw, then a cast, would take 3x
