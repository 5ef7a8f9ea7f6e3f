"""Optimizers (the book's chapter 6): each updates a dict of parameters in place.

    optimizer.update(params, grads)

``params`` and ``grads`` map the same names to arrays of the same shapes. State (velocities,
moment estimates) is kept per name and created on first use with the parameter's dtype.
``weight_decay`` (L2, lambda) adds lambda * p to each gradient before the update, as
PyTorch's ``weight_decay`` does; it applies to every parameter whose name starts with "W"
(biases and batch-norm parameters are not decayed).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["Optimizer", "SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam", "OPTIMIZERS",
           "make_optimizer"]


def _check(name: str, value: float, low: float = 0.0, high: float | None = None,
           low_open: bool = False) -> float:
    # float() would take "0.1" and True; NumPy scalars, 0-d arrays and Decimals are numbers.
    if isinstance(value, (bool, np.bool_, str, bytes)) or value is None:
        raise TypeError(f"{name} must be a number, got {value!r}")
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    bad = not math.isfinite(value) or value < low or (low_open and value == low)
    if high is not None and value >= high:
        bad = True
    if bad:
        bound = f"> {low:g}" if low_open else f">= {low:g}"
        if high is not None:
            bound += f" and < {high:g}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return value


#: elements per slice in :func:`_add_scaled`: 512 kB of float32, small enough for a core's L2 cache
_SLICE = 131_072


def _add_scaled(p: np.ndarray, scale: float, g: np.ndarray) -> None:
    """p += scale * g, in place; slice by slice for a large array.

    ``p -= lr * g`` writes the whole temporary ``lr * g`` to memory and reads it back. Slice
    by slice the temporary stays in the CPU's cache, which makes the update of a large
    weight matrix (limited by memory traffic, not by arithmetic) about 1.5 times as fast.
    An array of one slice or less is done in one go: slicing would only add overhead.
    """
    if p.size <= _SLICE or not (p.flags.c_contiguous and g.flags.c_contiguous):
        p += scale * g
        return
    p, g = p.reshape(-1), g.reshape(-1)
    for start in range(0, p.size, _SLICE):
        part = p[start : start + _SLICE]
        part += scale * g[start : start + _SLICE]


class Optimizer:
    """Base class: validates the learning rate and weight decay, applies the decay."""

    def __init__(self, lr: float, weight_decay: float = 0.0) -> None:
        self.lr = _check("learning rate lr", lr)
        self.weight_decay = _check("weight_decay", weight_decay)
        self.state: dict[str, dict[str, np.ndarray]] = {}
        self.steps = 0

    def _grad(self, name: str, p: np.ndarray, g: np.ndarray) -> np.ndarray:
        if self.weight_decay and name.startswith("W"):
            return g + self.weight_decay * p
        return g

    def _slot(self, name: str, slot: str, p: np.ndarray) -> np.ndarray:
        slots = self.state.setdefault(name, {})
        if slot not in slots:
            slots[slot] = np.zeros_like(p)
        return slots[slot]

    def update(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """Move every parameter one step against its gradient (in place)."""
        if params.keys() != grads.keys():
            raise ValueError(
                f"params and grads name different arrays: {sorted(params)} vs {sorted(grads)}"
            )
        for name, p in params.items():
            g = grads[name]
            if not isinstance(p, np.ndarray) or p.dtype.kind != "f":
                raise TypeError(f"{name}: parameters are updated in place and must be "
                                f"floating-point arrays, got {_describe(p)}")
            if not isinstance(g, np.ndarray) or g.dtype.kind not in "fiub":
                raise TypeError(f"{name}: the gradient must be an array of real numbers, got "
                                f"{_describe(g)}")
            if p.shape != g.shape:
                raise ValueError(f"{name}: gradient shape {g.shape} does not match parameter "
                                 f"{p.shape}")
        self.steps += 1
        for name, p in params.items():
            self._step(name, p, self._grad(name, p, grads[name]))

    def _step(self, name: str, p: np.ndarray, g: np.ndarray) -> None:
        raise NotImplementedError

    def hyperparameters(self) -> dict:
        return {"lr": self.lr, "weight_decay": self.weight_decay}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({args})"


def _describe(value) -> str:
    dtype = getattr(value, "dtype", None)
    return f"{type(value).__name__}" + (f" of dtype {dtype}" if dtype is not None else "")


class SGD(Optimizer):
    """p <- p - lr * g."""

    def __init__(self, lr: float = 0.01, weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)

    def _step(self, name, p, g):
        _add_scaled(p, -self.lr, g)


class Momentum(Optimizer):
    """v <- momentum * v - lr * g;  p <- p + v."""

    def __init__(self, lr: float = 0.01, momentum: float = 0.9, weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        self.momentum = _check("momentum", momentum, 0.0, 1.0)

    def hyperparameters(self):
        return {**super().hyperparameters(), "momentum": self.momentum}

    def _step(self, name, p, g):
        v = self._slot(name, "v", p)
        v *= self.momentum
        _add_scaled(v, -self.lr, g)
        p += v


class Nesterov(Momentum):
    """Nesterov's accelerated gradient as Bengio et al. (2012) and PyTorch's
    ``SGD(nesterov=True)`` write it (the book's code adds momentum^2 * v_new instead):

    v <- momentum * v - lr * g;  p <- p + momentum^2 * v_old - (1 + momentum) * lr * g,
    which is p <- p + momentum * v_new - lr * g.
    """

    def _step(self, name, p, g):
        v = self._slot(name, "v", p)
        v *= self.momentum
        _add_scaled(v, -self.lr, g)
        _add_scaled(p, self.momentum, v)
        _add_scaled(p, -self.lr, g)


class AdaGrad(Optimizer):
    """h <- h + g^2;  p <- p - lr * g / (sqrt(h) + eps)."""

    def __init__(self, lr: float = 0.01, eps: float = 1e-7, weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        self.eps = _check("eps", eps, low_open=True)

    def hyperparameters(self):
        return {**super().hyperparameters(), "eps": self.eps}

    def _step(self, name, p, g):
        h = self._slot(name, "h", p)
        h += g * g
        p -= self.lr * g / (np.sqrt(h) + self.eps)


class RMSprop(Optimizer):
    """h <- rho * h + (1 - rho) * g^2;  p <- p - lr * g / (sqrt(h) + eps)."""

    def __init__(self, lr: float = 0.01, decay_rate: float = 0.99, eps: float = 1e-7,
                 weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        self.decay_rate = _check("decay_rate", decay_rate, 0.0, 1.0)
        self.eps = _check("eps", eps, low_open=True)

    def hyperparameters(self):
        return {**super().hyperparameters(), "decay_rate": self.decay_rate, "eps": self.eps}

    def _step(self, name, p, g):
        h = self._slot(name, "h", p)
        h *= self.decay_rate
        h += (1 - self.decay_rate) * g * g
        p -= self.lr * g / (np.sqrt(h) + self.eps)


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction:

    m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
    p <- p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps),
    with t the number of updates so far: one count for all parameters, which the Trainer
    updates together (PyTorch counts per parameter, which differs only for a parameter
    first updated after step 1).
    """

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        self.beta1 = _check("beta1", beta1, 0.0, 1.0)
        self.beta2 = _check("beta2", beta2, 0.0, 1.0)
        self.eps = _check("eps", eps, low_open=True)

    def hyperparameters(self):
        return {**super().hyperparameters(), "beta1": self.beta1, "beta2": self.beta2,
                "eps": self.eps}

    def _step(self, name, p, g):
        m = self._slot(name, "m", p)
        v = self._slot(name, "v", p)
        m *= self.beta1
        m += (1 - self.beta1) * g
        v *= self.beta2
        v += (1 - self.beta2) * (g * g)
        t = self.steps
        step = self.lr / (1 - self.beta1**t)
        denom = np.sqrt(v)
        denom *= 1.0 / math.sqrt(1 - self.beta2**t)
        denom += self.eps
        p -= step * m / denom


OPTIMIZERS = {
    "sgd": SGD,
    "momentum": Momentum,
    "nesterov": Nesterov,
    "adagrad": AdaGrad,
    "rmsprop": RMSprop,
    "adam": Adam,
}


def make_optimizer(name: str, **kwargs) -> Optimizer:
    """An optimizer by its lower-case name, e.g. ``make_optimizer("adam", lr=1e-3)``."""
    if not isinstance(name, str):
        raise TypeError(f"an optimizer's name must be a str, one of {list(OPTIMIZERS)}; got "
                        f"{name!r}")
    key = name.lower()
    if key not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {list(OPTIMIZERS)}")
    return OPTIMIZERS[key](**kwargs)
