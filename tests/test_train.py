"""Training: batches, history, callbacks, divergence, checkpoints and exact resume."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from scratchnn.data import load_mnist, make_spirals
from scratchnn.files.model_file import load_model
from scratchnn.init import initialize
from scratchnn.layers import Affine, IdentityMSE, ReLU, Tanh
from scratchnn.models import MLP
from scratchnn.network import Sequential
from scratchnn.optim import SGD, Adam
from scratchnn.regularization import BatchNormalization, Dropout
from scratchnn.training import (
    Callback,
    CosineDecay,
    EarlyStopping,
    History,
    StepDecay,
    Trainer,
    TrainingDiverged,
    classification_report,
    confusion_matrix,
    evaluate,
    fit,
)


@pytest.fixture(scope="module")
def spirals():
    x, t = make_spirals(100, 3, seed=0)
    xt, tt = make_spirals(100, 3, seed=1)
    return x, t, xt, tt


def _affine(n_in, n_out, rng):
    return Affine(initialize("he", (n_in, n_out), rng=rng))


class _Recorder(Sequential):
    """A network that remembers the batches it was trained on."""

    def __init__(self, n_in):
        super().__init__([_affine(n_in, 2, 0)])
        self.batches = []

    def train_step(self, x, t):  # what the Trainer calls for each batch
        self.batches.append(x[:, 0].copy())
        return super().train_step(x, t)


def test_each_epoch_walks_one_permutation_in_contiguous_batches():
    n, bs = 23, 5
    x = np.stack([np.arange(n), np.zeros(n)], axis=1).astype(np.float32)
    t = np.arange(n) % 2
    net = _Recorder(2)
    history = Trainer(net, SGD(0.0), epochs=2, batch_size=bs, seed=7).fit(x, t)
    rng = np.random.default_rng(7)
    expected = []
    for _ in range(2):
        perm = rng.permutation(n)
        expected += [perm[i : i + bs] for i in range(0, n, bs)]
    assert [len(b) for b in net.batches] == [5, 5, 5, 5, 3] * 2  # ceil(23 / 5) = 5 per epoch
    for got, want in zip(net.batches, expected, strict=True):
        np.testing.assert_array_equal(got, want)
    assert history.iterations_per_epoch == 5
    assert len(history.loss) == 10


def test_drop_last_uses_floor_of_n_over_batch():
    x = np.zeros((23, 2), np.float32)
    t = np.zeros(23, np.int64)
    net = _Recorder(2)
    history = Trainer(net, SGD(0.0), epochs=1, batch_size=5, drop_last=True, seed=0).fit(x, t)
    assert [len(b) for b in net.batches] == [5, 5, 5, 5]
    assert history.iterations_per_epoch == 4
    with pytest.raises(ValueError, match="leaves no batch"):
        Trainer(net, SGD(0.0), batch_size=50, drop_last=True).fit(x, t)


def test_learns_spirals_and_records_history(spirals):
    x, t, xt, tt = spirals
    net = MLP([2, 32, 32, 3], seed=0)
    history = Trainer(net, Adam(lr=0.01), epochs=30, batch_size=30, seed=0).fit(x, t, xt, tt)
    assert history.epochs == 30 and len(history.loss) == 30 * 10
    assert history.train_acc[-1] > 0.95  # a linear model gets about 0.5
    assert history.val_acc[-1] > 0.9
    assert history.loss[-10:].mean() < 0.25 * history.loss[:10].mean()
    last = history.records[-1]
    assert last["epoch"] == 30 and last["lr"] == 0.01 and last["time"] > 0
    loss, acc = evaluate(net, xt, tt)
    assert acc == last["val_acc"] and loss == pytest.approx(last["val_loss"])
    assert history.wall_time >= sum(r["time"] for r in history.records) * 0.99
    assert history.stopped_reason is None


def test_eval_every_and_eval_subset(spirals):
    x, t, xt, tt = spirals
    net = MLP([2, 8, 3], seed=0)
    history = Trainer(net, Adam(lr=0.01), epochs=5, eval_every=2, eval_subset=50,
                      seed=0).fit(x, t, xt, tt)
    measured = [r["val_acc"] is not None for r in history.records]
    assert measured == [False, True, False, True, True]  # and always after the last epoch
    assert history.records[0]["train_acc"] is None
    _, acc = evaluate(net, xt[:50], tt[:50])
    assert history.records[-1]["val_acc"] == acc
    assert np.isnan(history.val_acc[0]) and history.last("val_acc") == acc


def test_mnist_subset_reaches_good_accuracy(shared_data):
    (x, t), (xt, tt) = load_mnist(data_dir=shared_data)
    net = MLP([784, 64, 10], seed=0)
    history = fit(net, x[:6000], t[:6000], xt[:2000], tt[:2000], optimizer="adam", lr=2e-3,
                  epochs=3, batch_size=100, seed=0)
    assert history.val_acc[-1] > 0.85  # the first 2000 test digits are the harder half


def test_progress_bar_only_when_asked(spirals, capsys):
    x, t, _, _ = spirals
    Trainer(MLP([2, 4, 3], seed=0), "sgd", epochs=1, seed=0).fit(x, t)
    assert capsys.readouterr().err == ""  # stderr is not a terminal under pytest
    Trainer(MLP([2, 4, 3], seed=0), "sgd", epochs=1, seed=0, progress=True).fit(x, t)
    err = capsys.readouterr().err
    assert "0/3 [" in err and "batch/s" in err


def test_one_hot_targets_and_float64(spirals):
    x, t, _, _ = spirals
    net = MLP([2, 8, 3], dtype=np.float64, seed=0)
    history = fit(net, x, np.eye(3)[t], epochs=2, seed=0)
    assert net.dtype == np.float64 and history.train_acc[-1] > 0.3


def test_bad_arguments():
    net = MLP([2, 2], seed=0)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        Trainer(net, batch_size=0)
    with pytest.raises(ValueError, match="epochs must be a positive integer, got 1.5"):
        Trainer(net, epochs=1.5)
    with pytest.raises(ValueError, match="epochs must be a positive integer, got None"):
        Trainer(net, epochs=None)
    with pytest.raises(TypeError, match="Optimizer"):
        Trainer(net, optimizer=0.1)
    with pytest.raises(ValueError, match="unknown optimizer"):
        Trainer(net, optimizer="adamw")
    with pytest.raises(TypeError, match="Callback"):
        Trainer(net, callbacks=[print])
    with pytest.raises(ValueError, match="x has 3 samples but t has 2"):
        Trainer(net).fit(np.zeros((3, 2)), np.zeros(2, np.int64))
    with pytest.raises(ValueError, match="both x_val and t_val"):
        Trainer(net).fit(np.zeros((3, 2)), np.zeros(3, np.int64), np.zeros((3, 2)))
    with pytest.raises(TypeError, match="only applies"):
        fit(net, np.zeros((3, 2)), np.zeros(3, np.int64), optimizer=SGD(), lr=0.1)


def test_nan_in_the_data_is_refused_before_training_not_reported_as_divergence():
    x = np.zeros((5, 2))
    x[3, 1] = np.nan
    net = MLP([2, 2], seed=0)
    before = net.params["W1"].copy()
    with pytest.raises(ValueError, match="x contains NaN or inf .*first at index 3"):
        Trainer(net).fit(x, np.zeros(5, np.int64))
    # In a later batch too.
    later = np.random.default_rng(0).standard_normal((300, 2))
    later[250, 0] = np.inf
    with pytest.raises(ValueError, match=r"x contains NaN or inf \(in 1 samples, the first at "
                                         r"index 250\)"):
        Trainer(net, "sgd", batch_size=10, seed=0).fit(later, (later[:, 0] > 0).astype(int))
    np.testing.assert_array_equal(net.params["W1"], before)
    with pytest.raises(ValueError, match="x_val contains NaN"):
        Trainer(net).fit(np.zeros((5, 2)), np.zeros(5, np.int64), x, np.zeros(5, np.int64))
    np.testing.assert_array_equal(net.params["W1"], before)
    # -inf alone, and +inf and -inf in one sample (whose sum is NaN), in images (N, C, H, W).
    for values in ([-np.inf], [np.inf, -np.inf]):
        images = np.ones((6, 1, 4, 4), dtype=np.float32)
        images[4, 0, 1, : len(values)] = values
        with pytest.raises(ValueError, match=r"x contains NaN or inf \(in 1 samples, the first "
                                             r"at index 4\)"):
            Trainer(MLP([16, 2], seed=0)).fit(images, np.zeros(6, np.int64))
    # Finite values whose sum overflows float32 are not mistaken for NaN.
    huge = np.full((4, 2), 3e38, dtype=np.float32)
    checked, _ = net.check_data(huge, np.zeros(4, np.int64))  # what fit checks the data with
    assert checked is huge
    # float64 values beyond float32's range are named as such, not as NaN.
    with pytest.raises(ValueError, match="x contains values too large for float32"):
        Trainer(net).fit(np.full((3, 2), 1e39), np.zeros(3, np.int64))


def test_evaluation_runs_in_chunks_and_matches_one_pass():
    seen = []

    class Spy(ReLU):
        def forward(self, x, train=False):
            seen.append(len(x))
            return super().forward(x, train)

    net = Sequential([_affine(2, 4, 0), Spy(), _affine(4, 3, 1)])
    x = np.random.default_rng(0).standard_normal((2500, 2))
    t = np.random.default_rng(1).integers(0, 3, 2500)
    loss, acc = evaluate(net, x, t)
    assert seen == [1, 1000, 1000, 500]  # check_data's pass of one sample, then the chunks
    assert loss == pytest.approx(net.loss(x, t), rel=1e-6)
    assert acc == net.accuracy(x, t)


# --- metrics -----------------------------------------------------------------------------


def test_confusion_matrix_and_report_by_hand():
    t = np.array([0, 0, 1, 1, 1, 2])
    pred = np.array([0, 1, 1, 1, 2, 2])
    cm = confusion_matrix(t, pred, 4)
    np.testing.assert_array_equal(cm, [[1, 1, 0, 0], [0, 2, 1, 0], [0, 0, 1, 0], [0, 0, 0, 0]])
    report = classification_report(cm)
    np.testing.assert_allclose(report["precision"], [1, 2 / 3, 1 / 2, 0])
    np.testing.assert_allclose(report["recall"], [1 / 2, 2 / 3, 1, 0])
    np.testing.assert_array_equal(report["support"], [2, 3, 1, 0])
    np.testing.assert_array_equal(confusion_matrix(np.eye(3)[t], pred), cm[:3, :3])
    with pytest.raises(ValueError, match="as many predictions"):
        confusion_matrix(t, pred[:3])
    # A label outside [0, num_classes) is an error, not a count in some other row.
    with pytest.raises(ValueError, match=r"\[0, 1\].* -1"):
        confusion_matrix([-1, 0, 1], [0, 0, 1])
    with pytest.raises(ValueError, match=r"\[0, 1\].* 3"):
        confusion_matrix([3, 0], [0, 0], num_classes=2)
    with pytest.raises(TypeError, match="integer class labels"):
        confusion_matrix([0.5, 1], [0, 1])


# --- callbacks ---------------------------------------------------------------------------


def test_step_and_cosine_schedules(spirals):
    step = StepDecay(step_size=2, gamma=0.5)
    assert [step.factor(e) for e in range(1, 6)] == [1, 1, 0.5, 0.5, 0.25]
    cosine = CosineDecay(epochs=4, min_factor=0.1)
    expected = [0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * k / 4)) for k in range(4)]
    assert [cosine.factor(e) for e in range(1, 5)] == pytest.approx(expected)
    assert cosine.factor(1) == 1.0
    x, t, _, _ = spirals
    history = fit(MLP([2, 4, 3], seed=0), x, t, optimizer="sgd", lr=0.2, epochs=5, seed=0,
                  callbacks=[StepDecay(2, 0.5)])
    assert [r["lr"] for r in history.records] == pytest.approx([0.2, 0.2, 0.1, 0.1, 0.05])


def test_early_stopping_stops_and_reports(spirals):
    x, t, xt, tt = spirals
    stop = EarlyStopping("val_acc", patience=2)
    # A zero learning rate never improves anything: stop after 1 + patience epochs.
    history = fit(MLP([2, 4, 3], seed=0), x, t, xt, tt, optimizer="sgd", lr=0.0, epochs=10,
                  seed=0, callbacks=[stop])
    assert history.epochs == 3
    assert "early stopping at epoch 3" in history.stopped_reason
    assert stop.best_epoch == 1


def test_early_stopping_restores_best_parameters():
    net = MLP([2, 3, 2], seed=0)
    trainer = Trainer(net, epochs=5)
    stop = EarlyStopping("val_loss", patience=1)  # "auto": lower is better for a loss
    best = {k: p.copy() for k, p in net.params.items()}
    stop.on_epoch_end(trainer, 1, {"val_loss": 0.5})
    net.params["W1"] += 1.0
    stop.on_epoch_end(trainer, 2, {"val_loss": 0.7})
    assert trainer.stop_training
    stop.on_train_end(trainer)
    for name, p in net.params.items():
        np.testing.assert_array_equal(p, best[name])


def _batchnorm_net(seed=0):
    return Sequential([_affine(5, 16, seed), BatchNormalization(16, momentum=0.5), ReLU(),
                       _affine(16, 2, seed + 1)])


def _linear_task(n, seed):
    x = np.random.default_rng(seed).standard_normal((n, 5))
    return x, (x[:, 0] + x[:, 1] > 0).astype(int)


def test_early_stopping_restores_the_running_statistics_too():
    x, t = _linear_task(200, 0)
    xv, tv = _linear_task(100, 1)
    net = _batchnorm_net()
    stop = EarlyStopping("val_loss", patience=2)
    history = Trainer(net, Adam(lr=0.05), epochs=30, batch_size=20, seed=0,
                      callbacks=[stop]).fit(x, t, xv, tv)
    assert history.epochs > stop.best_epoch  # it stopped after later, worse epochs
    # The restored model scores what it was picked for: BatchNorm's statistics came back too.
    assert evaluate(net, xv, tv)[0] == pytest.approx(stop.best, rel=1e-12)


def test_early_stopping_state_of_an_older_checkpoint_restores_the_parameters():
    # Checkpoints written before layer state was kept hold "param/..." arrays only.
    net = _batchnorm_net()
    best = {f"param/{k}": p + 1.0 for k, p in net.params.items()}
    stop = EarlyStopping("val_loss")
    stop.load_state({"best": 0.5, "best_epoch": 1, "wait": 0, **best})
    running_var = net.layers[1].running_var.copy()
    stop.on_train_end(Trainer(net, epochs=1))
    for name, p in net.params.items():
        np.testing.assert_array_equal(p, best[f"param/{name}"])
    np.testing.assert_array_equal(net.layers[1].running_var, running_var)


def test_early_stopping_needs_the_metric(spirals):
    x, t, _, _ = spirals
    with pytest.raises(ValueError, match="does not measure"):
        fit(MLP([2, 3], seed=0), x, t, epochs=2, callbacks=[EarlyStopping("val_acc")])
    with pytest.raises(ValueError, match="unknown monitor"):
        EarlyStopping("accuracy")


# --- divergence --------------------------------------------------------------------------


class _ExplodeAt(Callback):
    """Sets an absurd learning rate from a given epoch on."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_begin(self, trainer, epoch):
        if epoch >= self.epoch:
            trainer.optimizer.lr = 1e30


def test_divergence_stops_with_a_clear_message_and_keeps_last_good_parameters(spirals):
    x, t, _, _ = spirals
    good = MLP([2, 16, 3], seed=0)
    fit(good, x, t, optimizer="sgd", lr=0.1, epochs=2, seed=3)
    net = MLP([2, 16, 3], seed=0)
    trainer = Trainer(net, SGD(0.1), epochs=5, seed=3, callbacks=[_ExplodeAt(3)])
    with pytest.raises(TrainingDiverged) as err:
        trainer.fit(x, t)
    message = str(err.value)
    assert "diverged at epoch 3, iteration" in message
    assert "learning rate" in message and "1e+30" in message
    assert err.value.epoch == 3 and err.value.iteration >= 1
    for name, p in net.params.items():
        np.testing.assert_array_equal(p, good.params[name], err_msg=name)
    history = err.value.history
    assert history.epochs == 2 and history.stopped_reason == message
    assert len(history.loss) == 2 * 3 + err.value.iteration
    assert not np.isfinite(history.loss[-1])


def test_overflowing_running_statistics_are_divergence_and_are_put_back():
    # Every loss stays finite here (BatchNorm renormalises), but the running variance
    # overflows: the model must not come back with running_var = inf.
    x, t = _linear_task(200, 0)
    net = _batchnorm_net(seed=1)
    with pytest.raises(TrainingDiverged, match="epoch 2.*the end of epoch 1") as err:
        Trainer(net, SGD(1e3), epochs=5, batch_size=20, seed=0).fit(x, t)
    assert np.isfinite(err.value.history.loss).all()  # (only the statistics overflowed)
    bn = net.layers[1]
    assert np.isfinite(bn.running_var).all() and np.isfinite(bn.running_mean).all()
    assert np.isfinite(net.predict(x)).all()


def test_divergence_puts_back_the_optimizer_state(spirals):
    x, t, _, _ = spirals
    opt = Adam(lr=0.01)
    good = MLP([2, 16, 3], seed=0)
    good_opt = Adam(lr=0.01)
    Trainer(good, good_opt, epochs=2, seed=3).fit(x, t)
    net = MLP([2, 16, 3], seed=0)
    with pytest.raises(TrainingDiverged):
        Trainer(net, opt, epochs=5, seed=3, callbacks=[_ExplodeAt(3)]).fit(x, t)
    assert opt.steps == good_opt.steps
    for name, slots in good_opt.state.items():
        for slot, value in slots.items():
            np.testing.assert_array_equal(opt.state[name][slot], value, err_msg=name + slot)


def test_divergence_in_first_epoch_keeps_initial_parameters(spirals):
    x, t, _, _ = spirals
    net = MLP([2, 8, 3], seed=0)
    start = {k: p.copy() for k, p in net.params.items()}
    with pytest.raises(TrainingDiverged, match="epoch 1.*from initialisation"):
        fit(net, x, t, optimizer="sgd", lr=1e30, epochs=3, seed=0)
    for name, p in net.params.items():
        np.testing.assert_array_equal(p, start[name])


# --- checkpoints and resume --------------------------------------------------------------


class _InterruptAt(Callback):
    def __init__(self, epoch=None):
        self.epoch = epoch

    def on_epoch_begin(self, trainer, epoch):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def _dropout_net():
    rng = np.random.default_rng(0)
    return Sequential([
        _affine(2, 16, rng), Tanh(), Dropout(0.2, seed=4),
        _affine(16, 16, rng), ReLU(),
        _affine(16, 3, rng),
    ])


def _trainer(net, interrupt_at=None, checkpoint_dir=None):
    return Trainer(
        net, Adam(lr=0.01), epochs=6, batch_size=32, seed=11, eval_subset=100,
        callbacks=[CosineDecay(6), EarlyStopping("val_acc", patience=6),
                   _InterruptAt(interrupt_at)],
        checkpoint_dir=checkpoint_dir, checkpoint_every=2,
    )


def test_resume_ends_with_exactly_the_parameters_of_an_uninterrupted_run(spirals, tmp_path):
    x, t, xt, tt = spirals
    straight = _dropout_net()
    full = _trainer(straight).fit(x, t, xt, tt)

    first = _dropout_net()
    with pytest.raises(KeyboardInterrupt):
        _trainer(first, interrupt_at=4, checkpoint_dir=tmp_path).fit(x, t, xt, tt)
    checkpoint = tmp_path / "checkpoint.npz"
    assert checkpoint.exists()  # written after epoch 2

    resumed_net = _dropout_net()
    resumed_net.params["W1"][...] = 0  # whatever it holds is replaced from the checkpoint
    resumed = _trainer(resumed_net).fit(x, t, xt, tt, resume=tmp_path)
    for name, p in straight.params.items():
        np.testing.assert_array_equal(resumed_net.params[name], p, err_msg=name)
    np.testing.assert_array_equal(resumed.loss, full.loss)
    assert [r["val_acc"] for r in resumed.records] == [r["val_acc"] for r in full.records]
    assert [r["lr"] for r in resumed.records] == [r["lr"] for r in full.records]


def test_checkpoint_is_a_loadable_model_and_records_the_epoch(spirals, tmp_path):
    x, t, _, _ = spirals
    net = MLP([2, 8, 3], seed=0)
    Trainer(net, Adam(), epochs=3, seed=0, checkpoint_dir=tmp_path, checkpoint_every=2,
            metadata={"note": "kept"}).fit(x, t)
    loaded = load_model(tmp_path / "checkpoint.npz")  # written after the last epoch
    for name, p in net.params.items():
        np.testing.assert_array_equal(loaded.params[name], p)
    assert loaded.meta["training"]["epoch"] == 3
    assert loaded.meta["training"]["optimizer"]["steps"] == 3 * 3
    assert loaded.meta["metadata"] == {"note": "kept"}


def test_resume_refuses_a_different_run(spirals, tmp_path):
    x, t, _, _ = spirals
    Trainer(MLP([2, 8, 3], seed=0), Adam(), epochs=1, seed=0, checkpoint_dir=tmp_path).fit(x, t)
    with pytest.raises(ValueError, match="different model architecture"):
        Trainer(MLP([2, 9, 3], seed=0), Adam(), epochs=2).fit(x, t, resume=tmp_path)
    with pytest.raises(ValueError, match="trained with Adam, not SGD"):
        Trainer(MLP([2, 8, 3], seed=0), SGD(), epochs=2).fit(x, t, resume=tmp_path)
    with pytest.raises(ValueError, match=r"Adam had other settings than this trainer's "
                                         r"optimizer \(beta1 0.9 -> 0.5, eps 1e-08 -> "
                                         r"1e-06\)"):
        Trainer(MLP([2, 8, 3], seed=0), Adam(beta1=0.5, eps=1e-6),
                epochs=2).fit(x, t, resume=tmp_path)
    # the learning rate is the checkpoint's (a schedule moves it): another one is no error
    Trainer(MLP([2, 8, 3], seed=0), Adam(lr=0.5), epochs=2).fit(x, t, resume=tmp_path)
    longer = tmp_path / "longer"
    Trainer(MLP([2, 8, 3], seed=0), Adam(), epochs=2, seed=0, checkpoint_dir=longer).fit(x, t)
    with pytest.raises(ValueError, match="at epoch 2, past this run's 1 epochs"):
        Trainer(MLP([2, 8, 3], seed=0), Adam(), epochs=1).fit(x, t, resume=longer)
    with pytest.raises(ValueError, match="300 samples in batches of 100"):
        Trainer(MLP([2, 8, 3], seed=0), Adam(), epochs=2).fit(x[:200], t[:200],
                                                               resume=tmp_path)


# --- history files -----------------------------------------------------------------------


def test_history_json_and_csv(spirals, tmp_path):
    x, t, xt, tt = spirals
    history = fit(MLP([2, 4, 3], seed=0), x, t, xt, tt, epochs=2, seed=0)
    history.save_json(tmp_path / "h.json")
    again = History.load_json(tmp_path / "h.json")
    np.testing.assert_array_equal(again.loss, history.loss)
    assert again.records == history.records
    assert again.iterations_per_epoch == 3
    data = json.loads((tmp_path / "h.json").read_text())
    assert len(data["loss"]) == 6 and data["stopped_reason"] is None
    history.save_csv(tmp_path / "h.csv")
    lines = (tmp_path / "h.csv").read_text().splitlines()
    assert lines[0] == "epoch,loss,train_acc,val_acc,val_loss,lr,time"
    assert len(lines) == 3 and lines[2].startswith("2,")
    with pytest.raises(ValueError, match="unknown field"):
        history.column("accuracy")


def test_targets_are_checked_once_before_training_and_not_on_each_step(monkeypatch):
    x = np.random.default_rng(0).standard_normal((30, 2))
    net = MLP([2, 3], seed=0)
    before = net.params["W1"].copy()
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\], got values from 0 to 3"):
        Trainer(net, "sgd", batch_size=10).fit(x, np.arange(30) % 4)
    # Validation targets too: refused before the first step, named as t_val.
    with pytest.raises(ValueError, match=r"t_val: labels must lie in \[0, 2\]"):
        Trainer(net, "sgd", batch_size=10).fit(x, np.arange(30) % 3, x[:10], np.full(10, 9))
    np.testing.assert_array_equal(net.params["W1"], before)

    # Each set is checked once by fit; the steps and the evaluations take the checked data.
    calls = []
    check = Sequential.check_data
    monkeypatch.setattr(Sequential, "check_data",
                        lambda self, x, t=None, *args, **kw: calls.append(len(x))
                        or check(self, x, t, *args, **kw))
    Trainer(net, "sgd", batch_size=10, epochs=3, eval_every=3, eval_subset=5).fit(
        x, np.arange(30) % 3, x[:20], np.arange(20) % 3)
    assert calls == [30, 20]  # x and x_val, once each: not in the 9 steps or the evaluation

    class PlainSquaredError(IdentityMSE):  # a user's output layer: forward(x, t) only
        def forward(self, x, t):
            self.seen.append(t.shape)
            return super().forward(x, t)

    custom = PlainSquaredError()
    custom.seen = []
    net = Sequential([_affine(2, 1, 0)], loss=custom)
    history = Trainer(net, "sgd", batch_size=10, epochs=2, eval_subset=5).fit(x, x[:, 0])
    assert len(history.loss) == 6 and np.all(np.isfinite(history.loss))
    # Every step hands the layer targets as checked once by fit, (10,) made (10, 1); the
    # evaluations after each epoch (5 samples) too.
    assert custom.seen == [(10, 1)] * 3 + [(5, 1)] + [(10, 1)] * 3 + [(5, 1)]
    # Validation targets are checked before the first step.
    before = net.params["W1"].copy()
    with pytest.raises(ValueError, match=r"t_val: target shape mismatch: expected \(4, 1\)"):
        Trainer(net, "sgd", batch_size=10).fit(x, x[:, 0], x[:4], np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"^x_val: layer 0 \(Affine\): .*has 3 features"):
        Trainer(net, "sgd", batch_size=10).fit(x, x[:, 0], np.zeros((4, 3)), np.zeros(4))
    np.testing.assert_array_equal(net.params["W1"], before)


@pytest.mark.parametrize("output, targets", [
    ("softmax", lambda x: np.eye(3, dtype=np.int64)[(x[:, 0] > 0).astype(int)]),  # one-hot ints
    ("sigmoid", lambda x: (x[:, 0] > x[:, 1]).astype(int)),  # (N,) labels of one output
    ("identity", lambda x: x[:, 0] - x[:, 1]),  # (N,) regression targets
])
def test_the_unchecked_steps_give_the_numbers_of_the_checked_methods(output, targets):
    # fit checks the data once and then steps with train_step and optimizer.step; the same
    # batches through the checked backprop and update must give the same parameters.
    x = np.random.default_rng(1).standard_normal((60, 2)).astype(np.float32)
    t = targets(x)
    outputs = 3 if output == "softmax" else 1
    net = MLP([2, 8, outputs], output=output, seed=0)
    Trainer(net, "sgd", batch_size=16, epochs=2, seed=0).fit(x, t)
    by_hand = MLP([2, 8, outputs], output=output, seed=0)
    opt, rng = SGD(0.01), np.random.default_rng(0)
    for _ in range(2):
        perm = rng.permutation(len(x))
        for i in range(0, len(x), 16):
            by_hand.backprop(x[perm[i : i + 16]], t[perm[i : i + 16]])
            opt.update(by_hand.params, by_hand.grads)
    for name, p in net.params.items():
        np.testing.assert_array_equal(p, by_hand.params[name], err_msg=name)
