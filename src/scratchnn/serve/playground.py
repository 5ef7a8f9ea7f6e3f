"""The Playground view: a small MLP trained on a 2-D toy set, live, in the server's NumPy.

Each playground is the plain :class:`~scratchnn.training.Trainer` on
:func:`~scratchnn.data.make_xor`, :func:`~scratchnn.data.make_spirals` or
:func:`~scratchnn.data.make_circles`, run in a thread of its own (so that the page's
predictions never wait for it), with a callback that publishes the decision boundary and
the learning curves after every epoch and holds the trainer between epochs while the page
has paused it. What :func:`python_code` prints is that very training: run with the same
settings for the same number of epochs, it ends with the same weights.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, fields

import numpy as np

from .._validate import non_negative_int, number, positive_int
from ..data.toy import make_circles, make_spirals, make_xor
from ..functions import predicted_classes
from ..layers import ACTIVATIONS
from ..models import MLP
from ..optim import OPTIMIZERS, make_optimizer
from ..training.callbacks import Callback
from ..training.trainer import Trainer, TrainingDiverged
from .catalog import NoSuchName

__all__ = ["MAX_EPOCHS", "Playground", "Playgrounds", "Settings", "python_code", "settings_from"]

#: The toy sets: (generator, its positional arguments, number of classes).
TOY_SETS = {"xor": (make_xor, (200,), 2), "spirals": (make_spirals, (100, 3), 3),
            "circles": (make_circles, (200,), 2)}
#: A playground stops by itself after this many epochs.
MAX_EPOCHS = 5000
#: Cells along each side of the decision-boundary picture.
GRID = 48
#: The least time between two epochs while playing, in seconds: other requests get the
#: interpreter in between, and the page sees every epoch.
PACE = 0.02


@dataclass(frozen=True)
class Settings:
    """What the page lets one choose (checked by :func:`settings_from`)."""

    dataset: str = "xor"
    layers: int = 2
    units: int = 8
    activation: str = "tanh"
    optimizer: str = "adam"
    lr: float = 0.03
    batch_size: int = 10
    l2: float = 0.0
    noise: float = 0.15
    seed: int = 0


def _choice(value, name: str, choices) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {str(value)[:40]!r}")
    return value


def settings_from(data: dict) -> Settings:
    """:class:`Settings` from the page's JSON object; every value checked, unknown keys
    refused."""
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object of settings, got {type(data).__name__}")
    unknown = sorted(set(data) - {f.name for f in fields(Settings)})
    if unknown:
        raise ValueError(f"unknown settings {unknown[:5]}")
    s = asdict(Settings()) | data
    layers = non_negative_int(s["layers"], "layers")
    if layers > 6:
        raise ValueError(f"layers must be at most 6, got {layers}")
    units = positive_int(s["units"], "units")
    if units > 64:
        raise ValueError(f"units must be at most 64, got {units}")
    return Settings(
        dataset=_choice(s["dataset"], "dataset", TOY_SETS),
        layers=layers, units=units,
        activation=_choice(s["activation"], "activation", ACTIVATIONS),
        optimizer=_choice(s["optimizer"], "optimizer", OPTIMIZERS),
        lr=number(s["lr"], "lr", 0.0, 10.0, low_open=True, high_open=False),
        batch_size=min(positive_int(s["batch_size"], "batch_size"), 1000),
        l2=number(s["l2"], "l2", 0.0, 1.0, high_open=False),
        noise=number(s["noise"], "noise", 0.0, 1.0, high_open=False),
        seed=non_negative_int(s["seed"], "seed"),
    )


def _data_call(s: Settings, seed: int) -> str:
    make, args, _ = TOY_SETS[s.dataset]
    return f"{make.__name__}({', '.join(map(str, args))}, noise={s.noise!r}, seed={seed})"


def sizes(s: Settings) -> list[int]:
    """The MLP's layer widths: 2 inputs, the hidden layers, one output per class."""
    return [2, *[s.units] * s.layers, TOY_SETS[s.dataset][2]]


def python_code(s: Settings, epochs: int) -> str:
    """The Python that builds and trains this playground's network for ``epochs`` epochs."""
    make = TOY_SETS[s.dataset][0].__name__
    return f"""from scratchnn.data import {make}
from scratchnn.models import MLP
from scratchnn.optim import make_optimizer
from scratchnn.training import Trainer

x, t = {_data_call(s, s.seed)}
x_test, t_test = {_data_call(s, s.seed + 1)}
net = MLP({sizes(s)}, activation={s.activation!r}, weight_decay={s.l2!r}, seed={s.seed})
optimizer = make_optimizer({s.optimizer!r}, lr={s.lr!r})
trainer = Trainer(net, optimizer, batch_size={s.batch_size}, epochs={max(epochs, 1)}, \
seed={s.seed})
history = trainer.fit(x, t, x_test, t_test)
print(f"test accuracy {{history.val_acc[-1]:.1%}}")
"""


class _Stopped(Exception):
    """The page reset or left the playground: its trainer ends between two epochs."""


def _boundary(model: MLP, lo: np.ndarray, hi: np.ndarray) -> dict:
    """The class the model gives each cell of a GRID x GRID raster of [lo, hi], with its
    probability; rows from the top (largest x1) down."""
    u = np.linspace(lo[0], hi[0], GRID)
    v = np.linspace(hi[1], lo[1], GRID)
    points = np.stack(np.meshgrid(u, v), axis=-1).reshape(-1, 2).astype(model.dtype)
    scores = model.run(points)
    probs = model.loss_layer.output(scores)
    return {"size": GRID, "lo": lo.tolist(), "hi": hi.tolist(),
            "classes": predicted_classes(scores).tolist(),
            "confidence": np.round(probs.max(axis=1), 2).tolist()}


class Playground(Callback):
    """One page's network and its trainer, in a thread of its own, and what it publishes:
    ``records`` (one per epoch, the Trainer's), ``state`` (mode, epoch, boundary) and
    ``version``, which grows with every change."""

    def __init__(self, settings: Settings) -> None:
        self.settings = s = settings
        make, args, _ = TOY_SETS[s.dataset]
        self.x, self.t = make(*args, noise=s.noise, seed=s.seed)
        self.x_test, self.t_test = make(*args, noise=s.noise, seed=s.seed + 1)
        margin = 0.25 * (self.x.max(axis=0) - self.x.min(axis=0))
        self.lo, self.hi = self.x.min(axis=0) - margin, self.x.max(axis=0) + margin
        self.model = MLP(sizes(s), activation=s.activation, weight_decay=s.l2, seed=s.seed)
        self.trainer = Trainer(self.model, make_optimizer(s.optimizer, lr=s.lr),
                               batch_size=s.batch_size, epochs=MAX_EPOCHS, seed=s.seed,
                               progress=False, callbacks=[self])
        self.records: list[dict] = []
        self.state: dict = {"mode": "paused", "epoch": 0}
        self.version = 0
        self.listeners = 0  # pages watching it (see scratchnn.serve.app): none, it pauses
        self._mode = "paused"
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._train, daemon=True,
                                        name="scratchnn-playground")
        self._thread.start()

    def _train(self) -> None:
        try:
            self.trainer.fit(self.x, self.t, self.x_test, self.t_test)
            self._set_mode("done")
        except _Stopped:
            pass
        except TrainingDiverged as err:
            self._set_mode("diverged", error=str(err))

    # --- the page's controls (any thread) ------------------------------------------------

    def play(self) -> None:
        self._set_mode("playing")

    def pause(self) -> None:
        self._set_mode("paused")

    def step(self) -> None:
        """Train one epoch, then pause."""
        self._set_mode("step")

    def stop(self) -> None:
        """End the trainer's thread (between two epochs)."""
        self._set_mode("stopped")

    def _set_mode(self, mode: str, error: str | None = None) -> None:
        with self._changed:
            if self._mode in ("done", "diverged", "stopped"):
                return
            self._mode = mode
            self.state = {**self.state, "mode": mode, "error": error}
            self.version += 1
            self._changed.notify_all()

    # --- the trainer's callbacks (its thread) --------------------------------------------

    def on_train_begin(self, trainer) -> None:
        self._publish(0)
        self._hold(after_epoch=False)

    def on_epoch_end(self, trainer, epoch: int, logs: dict) -> None:
        self.records.append({k: logs[k] for k in ("epoch", "loss", "train_acc", "val_acc",
                                                   "val_loss")})
        self._publish(epoch)
        self._hold(after_epoch=True)

    def _publish(self, epoch: int) -> None:
        boundary = _boundary(self.model, self.lo, self.hi)
        with self._changed:
            self.state = {**self.state, "epoch": epoch, "boundary": boundary}
            self.version += 1

    def _hold(self, after_epoch: bool) -> None:
        """Between epochs: wait while paused; one epoch after a step; a pace while playing."""
        with self._changed:
            if self._mode == "step" and after_epoch:
                self._mode = "paused"
                self.state = {**self.state, "mode": "paused"}
                self.version += 1
            while self._mode == "paused":
                self._changed.wait()
            if self._mode == "stopped":
                raise _Stopped
        time.sleep(PACE)

    def code(self) -> str:
        return python_code(self.settings, self.state["epoch"])


class Playgrounds:
    """The open playgrounds by id; the oldest is closed when there are too many."""

    def __init__(self, most: int = 8) -> None:
        self.most = most
        self._open: OrderedDict[str, Playground] = OrderedDict()
        self._lock = threading.Lock()

    def open(self, settings: Settings, key: str | None = None) -> str:
        """A new playground (under ``key``, replacing the one there): its id."""
        fresh = Playground(settings)
        with self._lock:
            key = key or secrets.token_urlsafe(12)
            old = self._open.pop(key, None)
            self._open[key] = fresh
            while len(self._open) > self.most:
                self._open.popitem(last=False)[1].stop()
        if old is not None:
            old.stop()
        return key

    def get(self, key: str) -> Playground:
        with self._lock:
            if key not in self._open:
                raise NoSuchName(f"no playground {str(key)[:40]!r} (closed, or the server "
                                 "restarted): reset it")
            return self._open[key]

    def close_all(self) -> None:
        with self._lock:
            for playground in self._open.values():
                playground.stop()
            self._open.clear()
