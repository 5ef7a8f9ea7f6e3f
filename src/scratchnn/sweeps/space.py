"""The search space of a sweep: ranges and choices of settings, and the trials drawn from it.

Chapter 6.5 of the book draws ``lr = 10 ** uniform(-6, -2)`` and ``weight_decay =
10 ** uniform(-8, -4)`` a hundred times. Here that space is written
``{"lr": loguniform(1e-6, 1e-2), "weight_decay": loguniform(1e-8, 1e-4)}``; a setting
may also be a :func:`uniform` or :func:`integer` range, a :func:`choice`, or a plain value
that every trial shares. :func:`random_trials` draws trials from it with a seed (trial k
is the same whatever the number of trials), :func:`grid_trials` walks a grid over it.
Every setting is checked here, before any trial runs.
"""

from __future__ import annotations

import difflib
import itertools
import math
from collections.abc import Callable, Mapping

import numpy as np

from .._validate import generator, non_negative_int, number, positive_int
from ..init import INITIALIZERS
from ..layers import ACTIVATIONS
from ..models import MODELS
from ..optim import MOMENTUM_OPTIMIZERS, OPTIMIZERS

__all__ = ["BOOK_SETTINGS", "SETTINGS", "Range", "choice", "check_space", "grid_trials",
           "integer", "loguniform", "random_trials", "space_to_dict",
           "uniform"]


class Range:
    """One searched setting: a ``kind`` (loguniform, uniform, integer, choice) and its
    ``args`` (low and high, both included; or the options)."""

    def __init__(self, kind: str, args: tuple) -> None:
        self.kind = kind
        self.args = tuple(args)

    @property
    def continuous(self) -> bool:
        """A range of numbers (plotted against the score), not a choice."""
        return self.kind != "choice"

    def sample(self, rng: np.random.Generator):
        """One value drawn at random: log-uniform is exp(uniform(log low, log high))."""
        if self.kind == "choice":
            return self.args[int(rng.integers(len(self.args)))]
        low, high = self.args
        if self.kind == "loguniform":
            return float(math.exp(rng.uniform(math.log(low), math.log(high))))
        if self.kind == "uniform":
            return float(rng.uniform(low, high))
        return int(rng.integers(low, high + 1))

    def grid(self, points: int) -> list:
        """``points`` values spread over the range (evenly, or evenly in log for
        loguniform; integers without repeats); a choice gives all its options."""
        if self.kind == "choice":
            return list(self.args)
        low, high = self.args
        if self.kind == "loguniform":
            return [float(v) for v in np.geomspace(low, high, points)]
        if self.kind == "uniform":
            return [float(v) for v in np.linspace(low, high, points)]
        return sorted({int(round(v)) for v in np.linspace(low, high, points)})

    def __eq__(self, other) -> bool:
        return isinstance(other, Range) and (self.kind, self.args) == (other.kind, other.args)

    def __repr__(self) -> str:
        return f"{self.kind}({', '.join(map(repr, self.args))})"


def _bounds(kind: str, low, high) -> tuple[float, float]:
    for name, value in (("low", low), ("high", high)):
        if isinstance(value, (bool, str)) or not isinstance(value, (int, float, np.number)):
            raise TypeError(f"{kind}({low!r}, {high!r}): {name} must be a number")
        if not math.isfinite(value):
            raise ValueError(f"{kind}({low!r}, {high!r}): {name} must be finite")
    if not low < high:
        raise ValueError(f"{kind}({low!r}, {high!r}) is an empty range: low must be < high")
    return low, high


def loguniform(low: float, high: float) -> Range:
    """Numbers between ``low`` and ``high`` (> 0), uniform in their logarithm."""
    low, high = _bounds("loguniform", low, high)
    if low <= 0:
        raise ValueError(f"loguniform({low!r}, {high!r}): a log range must lie above 0 (its "
                         "logarithm is -inf at 0); use uniform for a range from 0")
    return Range("loguniform", (float(low), float(high)))


def uniform(low: float, high: float) -> Range:
    """Numbers between ``low`` and ``high``, uniformly."""
    return Range("uniform", tuple(map(float, _bounds("uniform", low, high))))


def integer(low: int, high: int) -> Range:
    """Whole numbers from ``low`` to ``high``, both included."""
    low, high = (_whole_bound(v, "integer", low, high) for v in (low, high))
    if low > high:
        raise ValueError(f"integer({low}, {high}) is an empty range: low must be <= high")
    return Range("integer", (low, high))


def _whole_bound(value, kind: str, low, high) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{kind}({low!r}, {high!r}): bounds must be whole numbers")
    return int(value)


def choice(*options) -> Range:
    """One of ``options``, each as likely: ``choice("sgd", "adam")``,
    ``choice([50], [100, 100])`` (hidden layer widths)."""
    if not options:
        raise ValueError("choice() is empty: give at least one option")
    options = tuple(list(o) if isinstance(o, (list, tuple)) else o for o in options)
    return Range("choice", options)


# --- the settings a trial takes ------------------------------------------------------------


def _names(known) -> Callable[[object, str], str]:
    def check(value, name: str) -> str:
        if value not in known:
            raise ValueError(f"{name} must be one of {', '.join(known)}, got {value!r}")
        return value
    return check


def _widths(value, name: str) -> list[int]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{name} must be a list of layer widths such as [100, 100], "
                        f"got {value!r}")
    return [positive_int(w, f"{name} width") for w in value]


#: Every setting a trial takes, with its check; names of the numbers that may be ranges.
SETTINGS: dict[str, Callable] = {
    "lr": lambda v, name: number(v, name, low_open=True),
    "weight_decay": lambda v, name: number(v, name),
    "momentum": lambda v, name: number(v, name, high=1.0),
    "batch_size": positive_int,
    "epochs": positive_int,
    "hidden": _widths,
    "activation": _names(tuple(ACTIVATIONS)),
    "init": _names(("auto", *INITIALIZERS)),
    "optimizer": _names(tuple(OPTIMIZERS)),
    "model": _names(MODELS),
}
_NUMBERS = ("lr", "weight_decay", "momentum", "batch_size", "epochs")
_WHOLE = ("batch_size", "epochs")

#: The book's search (chapter 6.5): a 784-100x6-10 ReLU network, plain SGD; the settings
#: a sweep does not give are these.
BOOK_SETTINGS = {"model": "mlp", "hidden": [100] * 6, "activation": "relu", "init": "auto",
                 "optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "weight_decay": 0.0,
                 "batch_size": 100, "epochs": 5}


def check_space(space: Mapping) -> dict:
    """``space`` with every name known and every value, range bound and option checked.

    Plain values stay plain (every trial gets them); a list for ``hidden`` is a value.
    """
    if not isinstance(space, Mapping):
        raise TypeError(f"a search space maps setting names to ranges, got {space!r}")
    checked = {}
    for name, value in space.items():
        if name not in SETTINGS:
            near = difflib.get_close_matches(str(name), SETTINGS, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ValueError(f"unknown setting {name!r}{hint}; the settings are "
                             f"{', '.join(SETTINGS)}")
        checked[name] = _checked_value(name, value)
    _check_combination({**BOOK_SETTINGS, **checked}, checked)
    return checked


def _checked_value(name: str, value):
    check = SETTINGS[name]
    if not isinstance(value, Range):
        return check(value, name)
    if value.kind == "choice":
        return Range("choice", tuple(check(v, f"{name} option") for v in value.args))
    if name not in _NUMBERS:
        raise ValueError(f"{name} takes {'layer widths' if name == 'hidden' else 'names'}: "
                         f"search it with choice(...), not {value.kind}")
    if name in _WHOLE and value.kind != "integer":
        raise ValueError(f"{name} is a whole number: search it with integer(low, high), "
                         f"not {value.kind}")
    for bound in value.args:
        check(bound, f"{name} range bound")
    return value


def _check_combination(settings: dict, given: dict) -> None:
    """Settings that the model or optimizer of every trial would ignore are refused."""
    def only(name: str):
        value = settings[name]
        return set(value.args) if isinstance(value, Range) else {value}

    if "mlp" not in only("model"):
        shaping = [n for n in ("hidden", "activation", "init") if n in given]
        if shaping:
            raise ValueError(f"{', '.join(shaping)} shape the MLP; the model "
                             f"{settings['model']!r} has a fixed architecture")
    if "momentum" in given and not only("optimizer") & set(MOMENTUM_OPTIMIZERS):
        raise ValueError("momentum is a setting of the optimizers momentum and nesterov; "
                         f"the optimizer here is {settings['optimizer']!r}")


# --- trials ------------------------------------------------------------------------------


def random_trials(space: Mapping, trials: int, seed: int = 0) -> list[dict]:
    """``trials`` settings drawn from ``space`` (checked first) with ``seed``.

    Trials are drawn one after another from one generator, each drawing every range once:
    the first k trials are the same for any number of trials.
    """
    space = check_space(space)
    trials = positive_int(trials, "trials")
    rng = generator(non_negative_int(seed, "seed"))
    return [{name: value.sample(rng) if isinstance(value, Range) else value
             for name, value in space.items()} for _ in range(trials)]


def grid_trials(space: Mapping, points: int = 5) -> list[dict]:
    """Every point of the grid over ``space``: ``points`` values per range, every option
    of each choice; the last setting varies fastest."""
    space = check_space(space)
    points = positive_int(points, "points")
    axes = [value.grid(points) if isinstance(value, Range) else [value]
            for value in space.values()]
    return [dict(zip(space, values, strict=True)) for values in itertools.product(*axes)]


def space_to_dict(space: Mapping) -> dict:
    """JSON values: ``{"lr": {"loguniform": [1e-6, 0.01]}, "epochs": 5}``."""
    return {name: {value.kind: list(value.args)} if isinstance(value, Range) else value
            for name, value in check_space(space).items()}

