"""Optimizers (the book's chapter 6): each moves a dict of parameters against its gradients.

    optimizer.update(params, grads)

``params`` and ``grads`` map the same names to arrays of the same shapes. ``update`` checks
them once and calls ``step``, the math alone, which is what the Trainer calls on every
batch. State (velocities, moment estimates) is kept per name, created on first use with
the parameter's dtype. Weight decay is not an optimizer's business here: it is the book's
penalty in the loss, ``Sequential(weight_decay=...)``.
"""

from __future__ import annotations

import math

import numpy as np

from ._validate import number

__all__ = ["Optimizer", "SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam",
           "OPTIMIZERS", "MOMENTUM_OPTIMIZERS", "make_optimizer"]


class Optimizer:
    """Base class: the learning rate, the per-parameter state and the step count."""

    def __init__(self, lr: float) -> None:
        self.lr = number(lr, "learning rate lr")
        self.state: dict[str, dict[str, np.ndarray]] = {}
        self.steps = 0

    def update(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """Move every parameter one step against its gradient (in place), after checking
        that every gradient fits its parameter: nothing changes when one does not."""
        if params.keys() != grads.keys():
            raise ValueError(
                f"params and grads name different arrays: {sorted(params)} vs {sorted(grads)}")
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
        self.step(params, grads)

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """One update of every parameter (no checks)."""
        self.steps += 1
        for name, p in params.items():
            self.update_one(name, p, grads[name])

    def update_one(self, name: str, p: np.ndarray, g: np.ndarray) -> None:
        """The rule for the parameter ``name``, ``p``, with gradient ``g``, in place."""
        raise NotImplementedError

    def slot(self, name: str, slot: str, p: np.ndarray) -> np.ndarray:
        """The state array ``slot`` ("v", "m", ...) of parameter ``name``: zeros at first."""
        slots = self.state.setdefault(name, {})
        if slot not in slots:
            slots[slot] = np.zeros_like(p)
        return slots[slot]

    def hyperparameters(self) -> dict:
        """The settings given to the constructor, by name (lr first)."""
        return {k: v for k, v in vars(self).items() if k not in ("state", "steps")}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({args})"


def _describe(value) -> str:
    dtype = getattr(value, "dtype", None)
    return type(value).__name__ + (f" of dtype {dtype}" if dtype is not None else "")


class SGD(Optimizer):
    """p <- p - lr * g."""

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__(lr)

    def update_one(self, name, p, g):
        p -= self.lr * g


class Momentum(Optimizer):
    """v <- momentum * v - lr * g;  p <- p + v."""

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        super().__init__(lr)
        self.momentum = number(momentum, "momentum", 0.0, 1.0)

    def update_one(self, name, p, g):
        v = self.slot(name, "v", p)
        v *= self.momentum
        v -= self.lr * g
        p += v


class Nesterov(Momentum):
    """Nesterov's accelerated gradient as Bengio et al. (2012) and PyTorch's
    ``SGD(nesterov=True)`` write it:

    v <- momentum * v - lr * g;  p <- p + momentum * v - lr * g (with the new v),

    that is p <- p + momentum^2 * v_old - (1 + momentum) * lr * g: the book's
    ``common/optimizer.py`` since its 2021 fix, which updates p with v before v changes.
    (Its first printing updated v first and so added momentum^2 * v_new.)
    """

    def update_one(self, name, p, g):
        v = self.slot(name, "v", p)
        v *= self.momentum
        v -= self.lr * g
        p += self.momentum * v - self.lr * g


class AdaGrad(Optimizer):
    """h <- h + g^2;  p <- p - lr * g / (sqrt(h) + eps)."""

    def __init__(self, lr: float = 0.01, eps: float = 1e-7) -> None:
        super().__init__(lr)
        self.eps = number(eps, "eps", low_open=True)

    def update_one(self, name, p, g):
        h = self.slot(name, "h", p)
        h += g * g
        p -= self.lr * g / (np.sqrt(h) + self.eps)


class RMSprop(Optimizer):
    """h <- rho * h + (1 - rho) * g^2;  p <- p - lr * g / (sqrt(h) + eps)."""

    def __init__(self, lr: float = 0.01, decay_rate: float = 0.99, eps: float = 1e-7) -> None:
        super().__init__(lr)
        self.decay_rate = number(decay_rate, "decay_rate", 0.0, 1.0)
        self.eps = number(eps, "eps", low_open=True)

    def update_one(self, name, p, g):
        h = self.slot(name, "h", p)
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
                 eps: float = 1e-8) -> None:
        super().__init__(lr)
        self.beta1 = number(beta1, "beta1", 0.0, 1.0)
        self.beta2 = number(beta2, "beta2", 0.0, 1.0)
        self.eps = number(eps, "eps", low_open=True)

    def update_one(self, name, p, g):
        m, v = self.slot(name, "m", p), self.slot(name, "v", p)
        m *= self.beta1
        m += (1 - self.beta1) * g
        v *= self.beta2
        v += (1 - self.beta2) * (g * g)
        t = self.steps
        # Python floats: float32 state stays float32.
        denom = np.sqrt(v) * (1.0 / math.sqrt(1 - self.beta2**t)) + self.eps
        p -= (self.lr / (1 - self.beta1**t)) * m / denom


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "adagrad": AdaGrad,
              "rmsprop": RMSprop, "adam": Adam}
#: the names of those that take a ``momentum``
MOMENTUM_OPTIMIZERS = tuple(n for n, cls in OPTIMIZERS.items() if issubclass(cls, Momentum))


def make_optimizer(name: str, **kwargs) -> Optimizer:
    """An optimizer by its lower-case name, e.g. ``make_optimizer("adam", lr=1e-3)``."""
    if not isinstance(name, str):
        raise TypeError(f"an optimizer's name must be a str, one of {list(OPTIMIZERS)}; got "
                        f"{name!r}")
    if name.lower() not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {list(OPTIMIZERS)}")
    return OPTIMIZERS[name.lower()](**kwargs)
