"""Numerical differentiation, gradient descent and gradient checking (the book's chapter 4;
the gradient check is chapter 5's).

These are slow by design (two function evaluations per scalar): they exist to teach what a
gradient is and to check backpropagation against it.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Sequence

import numpy as np
from numpy.typing import ArrayLike

from ._validate import non_negative_int, number
from .functions import as_float_array

__all__ = ["numerical_diff", "numerical_gradient", "gradient_descent", "gradient_check",
           "kept_layer_state"]


def numerical_diff(f: Callable[[float], float], x: float, h: float = 1e-4) -> float:
    """Central difference (f(x + h) - f(x - h)) / 2h, whose error shrinks like h^2."""
    return (f(x + h) - f(x - h)) / (2 * h)


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-4
                       ) -> np.ndarray:
    """Gradient of the scalar function ``f`` at ``x`` (any shape) by central differences.

    ``x`` is perturbed in place one element at a time, as the book does, because ``f`` may
    close over it (a network's weights); every element is restored exactly afterwards,
    even when ``f`` raises. ``x`` must be a floating array.
    """
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise TypeError("numerical_gradient perturbs x in place: pass a floating-point numpy "
                        f"array, got {type(x).__name__} of dtype {getattr(x, 'dtype', None)}")
    grad = np.zeros_like(x)  # laid out like x (C or Fortran order)
    if x.size == 0:
        return grad
    # order="A": in x's own memory order, so that a Fortran-ordered x (W.T) is a view too.
    flat = x.reshape(-1, order="A")
    if not np.shares_memory(flat, x):
        raise ValueError("numerical_gradient perturbs x in place and needs a contiguous "
                         "array (C or Fortran order), got a strided view of shape "
                         f"{x.shape}; make f close over a contiguous copy instead")
    gflat = grad.reshape(-1, order="A")
    for i in range(flat.size):
        saved = flat[i]
        try:
            flat[i] = saved + h
            f_plus = f(x)
            flat[i] = saved - h
            f_minus = f(x)
        finally:
            flat[i] = saved
        gflat[i] = (f_plus - f_minus) / (2 * h)
    return grad


def gradient_descent(f: Callable[[np.ndarray], float], init_x: ArrayLike, lr: float = 0.01,
                     step_num: int = 100, return_path: bool = False
                     ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Repeat x <- x - lr * grad f(x) for ``step_num`` steps, from a copy of ``init_x``.

    Returns the final x, or (x, path) with path of shape (step_num + 1, *x.shape) when
    ``return_path`` is set (the points visited, for plotting). Computed in float64 whatever
    ``init_x`` holds: with float32 and the step h = 1e-4, a coordinate of 1000 or more could
    not move by h at all and its numerical gradient would be 0.
    """
    lr = number(lr, "learning rate")
    step_num = non_negative_int(step_num, "step_num")
    x = np.array(as_float_array(init_x), dtype=np.float64)
    path = [x.copy()]
    for _ in range(step_num):
        x -= lr * numerical_gradient(f, x)
        if return_path:
            path.append(x.copy())
    return (x, np.array(path)) if return_path else x


def gradient_check(model, x: ArrayLike, t: ArrayLike, h: float = 1e-5) -> dict[str, float]:
    """Largest relative error between backprop and numerical gradients, per parameter.

    For each named parameter: max_i |g_i - n_i| / max(max_i |g_i|, max_i |n_i|, G / 1000),
    the largest element error relative to the size of that gradient, so that elements that
    are nearly zero do not turn rounding noise into huge ratios. G is the largest gradient
    element of the whole model: a gradient that is tiny next to the others, or zero as a
    whole (a bias just before BatchNorm), is measured against G / 1000, so that the noise of
    finite differences (about eps * loss / h) does not read as an error of 100%.

    Use a float64 model: a correct backward gives about 1e-8 or less; float32 rounding
    alone gives about 1e-3. Beware of ReLU kinks: a pre-activation within ``h`` of 0 makes
    the numerical gradient meaningless there. The model's layer state (BatchNorm's running
    statistics) is left as it was.
    """
    if any(p.dtype != np.float64 for p in model.params.values()):
        warnings.warn("gradient_check of a model that is not float64: rounding alone gives "
                      "relative errors of about 1e-3; build it with dtype=np.float64 for a "
                      "strict check", stacklevel=2)
    fresh = [i for i, layer in enumerate(getattr(model, "layers", ()))
             if getattr(layer, "ratio", 0) and not getattr(layer, "frozen", True)]
    if fresh:  # each pass would compare a different network: every error would read 1.0
        raise ValueError(f"layers {fresh} (Dropout) draw a new mask on every pass, so backprop "
                         "and the numerical gradients would see different networks: run one "
                         "training pass (model.backprop(x, t)) and call freeze() on them first")
    with kept_layer_state(getattr(model, "layers", ())):
        backprop = model.gradient(x, t)
        numerical = model.numerical_gradient(x, t, h=h)
    sizes = {name: max(_largest(g), _largest(numerical[name])) for name, g in backprop.items()}
    floor = max(sizes.values(), default=0.0) / 1000
    errors = {}
    for name, g in backprop.items():
        scale = max(sizes[name], floor)
        errors[name] = _largest(g - numerical[name]) / scale if scale > 0 else 0.0
    return errors


def _largest(a: np.ndarray) -> float:
    return float(np.max(np.abs(a), initial=0.0))


@contextlib.contextmanager
def kept_layer_state(layers: Sequence) -> Iterator[None]:
    """Put the layers' state (BatchNorm's running statistics) back when the block ends.

    Passes in training mode update that state; a gradient computation is not training.
    """
    saved = [{k: np.array(v, copy=True) for k, v in layer.state().items()} for layer in layers]
    try:
        yield
    finally:
        for layer, state in zip(layers, saved, strict=True):
            if state:
                layer.load_state(state)
