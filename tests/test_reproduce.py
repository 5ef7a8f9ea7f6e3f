"""`scratchnn reproduce`: the fast experiments' published values, the table, the exit status."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from scratchnn.companions import reproduce
from scratchnn.companions.reproduce import EXPERIMENTS, Row, Settings, compare, format_table
from scratchnn.data import load_mnist


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scratchnn reproduce")
    reproduce.add_arguments(parser)
    return parser.parse_args(list(argv))


def _all_match(rows: list[Row]) -> None:
    bad = [r for r in rows if r.match is not True]
    assert not bad, format_table(bad)


@pytest.mark.parametrize(
    "experiment",
    [reproduce.toy_network, reproduce.activations_and_losses, reproduce.numerical_differentiation],
)
def test_deterministic_book_experiments_match(experiment):
    rows = experiment(Settings())
    assert rows
    _all_match(rows)


def test_mnist_sample_weights_experiment_matches(shared_data, tmp_path):
    rows = reproduce.mnist_sample_weights(Settings(data_dir=shared_data, out=tmp_path))
    _all_match(rows)
    assert [r.reproduced for r in rows[:3]] == ["0.9352", "648", "10000 of 10000 equal"]
    assert rows[3].reproduced == "0.9207"
    assert (tmp_path / "mnist_sample_weights_misclassified.png").stat().st_size > 0


# --- comparing ---------------------------------------------------------------------------


def test_compare_uses_the_published_precision():
    assert compare("x", "0.9856", 206 / 209).match
    assert not compare("x", "0.9856", 205 / 209).match
    assert compare("x", "0.72", 36 / 50).match
    assert not compare("x", "0.72", 37 / 50).match
    assert compare("x", ["0.31682708", "0.69627909"], [0.3168270764, 0.6962790899]).match
    assert not compare("x", ["0.31682708", "0.69627909"], [0.3168270764, 0.69627911]).match
    assert compare("x", "-2.58983747e+13", -2.5898374749e13).match


def test_compare_needs_1e_9_for_full_precision_values():
    assert compare("x", "0.7717493284237686", 0.7717493284237688).match
    assert compare("x", "0.693049735659989", 0.693049735659989 + 6e-10).match
    assert not compare("x", "0.693049735659989", 0.693049735659989 + 2e-9).match
    # tiny values are compared to their own size, not to an absolute 1e-9
    assert compare("x", "-6.11110793e-10", -6.111107929e-10).match
    assert not compare("x", "-6.11110793e-10", 0.0).match
    assert not compare("x", "1.0", 208 / 209, tol=1e-9).match
    assert not compare("x", ["0.1", "0.2"], [0.1]).match  # wrong size


def test_format_table_aligns_columns():
    rows = [Row("short", "1", "1.0", True), Row("a longer experiment", "2", "3.0", False),
            Row("skipped one", "4", "skipped (--fast)", None)]
    lines = format_table(rows).splitlines()
    assert lines[0].split() == ["experiment", "published", "reproduced", "match"]
    assert set(lines[1]) == {"-"}
    assert [line.split()[-1] for line in lines[2:]] == ["yes", "NO", "-"]
    start = lines[0].index("published")
    assert [line[start] for line in lines[2:]] == ["1", "2", "4"]
    assert [line[:start].rstrip() for line in lines[2:]] == [r.experiment for r in rows]


# --- experiment 5 --------------------------------------------------------------------------


def test_short_training_reaches_the_books_early_accuracy(shared_data):
    (x_train, t_train), (x_test, t_test) = load_mnist(data_dir=shared_data)
    net, curve = reproduce.train_two_layer_net(x_train, t_train, x_test, t_test, iters=1000,
                                               dtype=np.float32)
    assert [i for i, _, _ in curve] == [0, 600, 999]  # one evaluation per epoch, and the end
    _, train_acc, test_acc = curve[-1]
    assert train_acc > 0.85 and test_acc > 0.85
    assert curve[0][2] < 0.2  # it did learn


# --- the command -------------------------------------------------------------------------


def test_fast_run_matches_everything_it_runs(shared_data, tmp_path, capsys):
    status = reproduce.run(_parse("--fast", "--out", str(tmp_path), "--data-dir",
                                  str(shared_data)))
    out = capsys.readouterr().out
    assert status == 0, out
    for number in range(1, 8):
        assert f"\n{number} " in out
    assert " NO" not in out and "skipped (--fast)" in out
    assert "5 gradient check" in out  # the gradient check runs even with --fast
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "activations.png", "gradient_descent.png", "mnist_sample_weights_misclassified.png",
        "reproduce.json",
    ]


def test_only_selects_by_name_or_number(capsys, tmp_path):
    status = reproduce.run(_parse("--only", "1", "--only", "numerical-gradient", "--out",
                                  str(tmp_path)))
    out = capsys.readouterr().out
    assert status == 0
    assert "1 toy network" in out and "4 numerical_diff" in out and "2 softmax" not in out


def test_main_runs_it_without_the_command(capsys, tmp_path):
    assert reproduce.main(["--only", "toy-network", "--out", str(tmp_path)]) == 0
    assert "1 toy network" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        reproduce.main(["--help"])
    assert info.value.code == 0
    assert "--only NAME" in capsys.readouterr().out


def test_unknown_experiment_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        _parse("--only", "cats")
    assert info.value.code == 2
    assert "unknown experiment 'cats'" in capsys.readouterr().err


def test_a_mismatch_gives_exit_status_1(monkeypatch, capsys, tmp_path):
    def wrong(settings):
        return [compare("9 a value that moved", "0.5", 0.6)]

    monkeypatch.setitem(EXPERIMENTS, "toy-network", wrong)
    assert reproduce.run(_parse("--only", "toy-network", "--out", str(tmp_path))) == 1
    out = capsys.readouterr().out
    assert "9 a value that moved" in out and "NO" in out and "1 of 1 do NOT match" in out


def test_a_missing_data_set_stops_only_its_own_experiment(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("SCRATCHNN_DATA", raising=False)
    monkeypatch.setenv("SCRATCHNN_CACHE", str(tmp_path / "cache"))
    (tmp_path / "empty").mkdir()
    status = reproduce.run(_parse("--only", "6", "--only", "1", "--fast", "--out",
                                  str(tmp_path / "out"), "--data-dir", str(tmp_path / "empty")))
    out = capsys.readouterr().out
    assert status == 1
    assert "6 cat-two-layer" in out and "not run: cat-vs-non-cat: train_catvnoncat.h5" in out
    import json  # the table shortens the message to fit 120 columns; the JSON keeps it all

    rows = json.loads((tmp_path / "out" / "reproduce.json").read_text())
    assert "train_catvnoncat.h5 not found" in rows[1]["reproduced"]
    assert "1 toy network: forward([1.0, 0.5])" in out  # the experiment before still reported
    assert "1 of 2 do NOT match" in out


def test_the_table_fits_120_columns_and_the_json_keeps_every_value(tmp_path):
    long = "[" + ", ".join(["0.123456789012345"] * 8) + "]"
    rows = [Row("9 an experiment with a rather long name: cost at iteration 2499", long,
                long, True), Row("short", "1.0", "1.0", False)]
    table = format_table(rows)
    assert max(len(line) for line in table.splitlines()) == 120
    assert "..." in table and "NO" in table
    path = reproduce._write_json(rows, tmp_path)
    import json

    assert json.loads(path.read_text())[0]["reproduced"] == long


def test_the_two_cat_cost_figures_are_told_apart():
    from scratchnn.companions import course

    titles = {reproduce._titled(course.plot_costs([0.7, 0.5], 0.0075), name).axes[0].get_title()
              for name in ("two-layer", "L-layer")}
    assert titles == {"two-layer (learning rate 0.0075)", "L-layer (learning rate 0.0075)"}
