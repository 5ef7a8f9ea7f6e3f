"""The checks made where a user hands something in: each error names what is wrong.

Constructors, the public methods of :class:`~scratchnn.network.Sequential`, ``fit``, the
loaders and the command line call these; ``forward``/``backward`` and the optimizers'
steps never do. Every check lives here once.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from numpy.typing import ArrayLike, DTypeLike


def positive_int(value, name: str) -> int:
    """``value`` as an int, refused unless it is a whole number >= 1 (5 and 5.0, not 4.7)."""
    return _whole(value, name, 1, "a positive integer")


def non_negative_int(value, name: str) -> int:
    """``value`` as an int, refused unless it is a whole number >= 0."""
    return _whole(value, name, 0, "a non-negative integer")


def _whole(value, name: str, low: int, what: str) -> int:
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not float(value).is_integer() or value < low):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return int(value)


def number(value, name: str, low: float = 0.0, high: float | None = None, *,
           low_open: bool = False, high_open: bool = True) -> float:
    """``value`` as a finite float in [low, high) (bounds as asked), or a clear error.

    Text and booleans are refused (``float("0.1")`` and ``float(True)`` would pass);
    NumPy scalars, 0-d arrays and Decimals are numbers.
    """
    if isinstance(value, (bool, np.bool_, str, bytes)) or value is None:
        raise TypeError(f"{name} must be a number, got {value!r}")
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    bad = not math.isfinite(value) or value < low or (low_open and value == low)
    if high is not None and (value > high or (high_open and value == high)):
        bad = True
    if bad:
        bound = f"> {low:g}" if low_open else f">= {low:g}"
        if high is not None:
            bound += f" and {'<' if high_open else '<='} {high:g}"
        raise ValueError(f"{name} must be a finite number {bound}, got {value}")
    return value


def float_dtype(dtype: DTypeLike) -> np.dtype:
    """``dtype`` as a NumPy dtype, refused unless it is float32 or float64.

    float16 has no BLAS and no random sampler in NumPy, and longdouble no BLAS either.
    """
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


def generator(seed: int | None = None, rng: np.random.Generator | int | None = None
              ) -> np.random.Generator:
    """The Generator of a constructor that takes ``seed=`` or ``rng=`` (not both).

    ``rng`` may also be a seed; None gives fresh entropy.
    """
    if rng is not None and seed is not None:
        raise TypeError("pass seed= or rng=, not both")
    source = rng if rng is not None else seed
    if isinstance(source, np.random.Generator):
        return source
    if source is None:
        return np.random.default_rng()
    if isinstance(source, (int, np.integer)) and not isinstance(source, bool):
        if source < 0:
            raise ValueError(f"a seed must be an integer >= 0, got {source}")
        return np.random.default_rng(source)
    raise TypeError("expected a numpy Generator, an int seed or None, got "
                    f"{type(source).__name__}")


def real_array(x: ArrayLike, name: str = "x") -> np.ndarray:
    """``x`` as an array of real numbers: floats keep their dtype, integers become float64."""
    x = np.asarray(x)
    if x.dtype.kind == "f":
        return x
    if x.dtype.kind in "biu":
        return x.astype(np.float64)
    raise TypeError(f"{name} must be a numeric array of real numbers, got dtype {x.dtype}")


def check_batch(x: ArrayLike, name: str = "x", dtype: DTypeLike | None = None) -> np.ndarray:
    """``x`` as a non-empty batch (N, ...) of real numbers, in ``dtype`` when given."""
    x = real_array(x, name)
    if x.ndim < 2:
        raise ValueError(f"{name} must be a batch of shape (N, features), got shape {x.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch: shape {x.shape}")
    return x if dtype is None else x.astype(dtype, copy=False)


def check_finite(a: np.ndarray, name: str) -> np.ndarray:
    """``a`` itself, refused when it holds NaN or an infinity."""
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or inf")
    return a


def check_finite_rows(x: np.ndarray, name: str, given: ArrayLike | None = None) -> None:
    """Refuse a data set with NaN or inf, naming how many samples and the first of them.

    A row's sum is NaN or inf whenever one of its elements is. Summed by a BLAS
    matrix-vector product, which runs at memory speed on every core (MNIST: 8 to 17 ms,
    where ``isfinite(x)`` takes 37); only a sum that overflows needs the element-wise look.
    ``given`` is the array before its conversion to ``x``'s dtype, to tell a NaN from a
    value too large for that dtype.
    """
    rows = x.reshape(len(x), -1)
    with np.errstate(over="ignore", invalid="ignore"):
        sums = rows @ np.ones(rows.shape[1], x.dtype)
    if np.isfinite(sums).all():
        return
    bad = np.flatnonzero(~np.isfinite(rows).all(axis=1))
    if not len(bad):
        return
    first = np.asarray(x if given is None else given)[bad[0]]
    what = ("NaN or inf" if first.dtype.kind != "f" or not np.isfinite(first).all()
            else f"values too large for {x.dtype}")
    raise ValueError(f"{name} contains {what} (in {len(bad)} samples, the first at index "
                     f"{bad[0]})")


def check_labels(t: ArrayLike, num_classes: int, name: str = "labels") -> np.ndarray:
    """Class labels as integers in [0, num_classes); whole-number floats are taken."""
    t = np.asarray(t)
    if t.dtype.kind not in "iu":
        if t.dtype.kind == "f" and np.all(t == np.round(t)):  # (an empty array passes)
            t = t.astype(np.int64)
        else:
            raise TypeError(f"{_prefix(name)}integer class labels expected, got dtype {t.dtype}")
    if t.size and (t.min() < 0 or t.max() >= num_classes):
        raise ValueError(f"{_prefix(name)}labels must lie in [0, {num_classes - 1}], got values "
                         f"from {t.min()} to {t.max()}")
    return t


def _prefix(name: str) -> str:
    return "" if name == "labels" else f"{name}: "


def check_targets(t: ArrayLike, n: int, width: int, takes_labels: bool, dtype: DTypeLike,
            name: str = "t") -> np.ndarray:
    """Targets for n samples of ``width`` scores, as an output layer computes with them.

    Class labels (n,) come back as integers in [0, width) when the layer takes labels;
    other targets must have the shape (n, width) (or (n,) for one output, made (n, 1)),
    hold no NaN or inf, and come back in ``dtype``.
    """
    t = np.asarray(t)
    if takes_labels and t.shape == (n,):
        return check_labels(t, width, name)
    if not takes_labels and width == 1 and t.shape == (n,):
        t = t.reshape(-1, 1)
    if t.shape != (n, width):
        want = f"({n}, {width}) or labels of shape ({n},)" if takes_labels else f"({n}, {width})"
        raise ValueError(f"{name}: target shape mismatch: expected {want}, got shape {t.shape}")
    return check_finite(real_array(t, name), name).astype(dtype, copy=False)


def weight_and_bias(W: ArrayLike, b: ArrayLike | None, layout: str, out_axis: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """A layer's W as a non-empty array of real numbers laid out as ``layout`` (e.g.
    "(d_in, d_out)"), and b (zeros when None) with one value per output (W's ``out_axis``),
    in W's dtype."""
    W = real_array(W, "W")
    if W.ndim != layout.count(",") + 1 or W.size == 0:
        raise ValueError(f"W must be {layout.count(',') + 1}-D {layout} and not empty, got "
                         f"shape {W.shape}")
    outputs = W.shape[out_axis]
    b = np.zeros(outputs, W.dtype) if b is None else real_array(b, "b")
    if b.shape != (outputs,):
        raise ValueError(f"b must have shape ({outputs},) to match W, got {b.shape}")
    return W, b.astype(W.dtype, copy=False)


def assign(name: str, own: np.ndarray, value: ArrayLike) -> None:
    """own[...] = value, for a parameter or a state array loaded from outside: the same
    shape, and real numbers (float64 into float32 is fine; complex or text is not)."""
    value = np.asarray(value)
    if value.shape != own.shape:
        raise ValueError(f"{name}: expected shape {own.shape}, got {value.shape}")
    if not np.can_cast(value.dtype, own.dtype, casting="same_kind"):
        raise TypeError(f"{name}: expected real numbers ({own.dtype}), got an array of "
                        f"{value.dtype}")
    own[...] = value


def named(name: str, err: ValueError | TypeError) -> ValueError | TypeError:
    """``err``'s kind (TypeError or ValueError) with its message prefixed by ``name``."""
    return (TypeError if isinstance(err, TypeError) else ValueError)(f"{name}: {err}")


def check_network_data(model, x: ArrayLike, t: ArrayLike | None, x_name: str, t_name: str,
                       train: bool, batch_size: int | None):
    """(x, t) for a :class:`~scratchnn.network.Sequential` ``model``, checked.

    x becomes a C-contiguous batch in the model's dtype with no NaN or inf, and each layer
    is asked whether it takes what the one before it gives (:meth:`Layer.check_input`), in
    batches of ``batch_size`` (default: all of x) and in training mode when ``train``; t
    (when given) must be what the output layer takes: class labels in range, or one target
    per output.
    """
    given = x
    x = check_batch(x, x_name)
    with np.errstate(over="ignore"):  # values too large for the dtype: reported next
        x = np.ascontiguousarray(x, dtype=model.dtype)
    check_finite_rows(x, x_name, given)
    with np.errstate(over="ignore", invalid="ignore"):  # huge values may overflow: fine
        width = _check_layers(model.layers, x[:1], batch_size or len(x), train, x_name)
    if t is None:
        return x, None
    if np.ndim(t) == 0 or len(t) != len(x):
        raise ValueError(f"target shape mismatch: {x_name} has {len(x)} samples but "
                         f"{t_name} has {len(t) if np.ndim(t) else 'none (a scalar)'}")
    t = check_targets(t, len(x), width, model.loss_layer.takes_labels, model.dtype, t_name)
    return x, np.ascontiguousarray(t)


def _check_layers(layers, x: np.ndarray, n: int, train: bool, x_name: str) -> int:
    """Pass one sample ``x`` through the layers, each checking first what a batch of ``n``
    such samples would be (a view of that shape, no copy); the width of the scores."""
    for i, layer in enumerate(layers):
        try:
            layer.check_input(np.broadcast_to(x, (n, *x.shape[1:])), train)
        except ValueError as err:
            raise ValueError(f"{x_name}: layer {i} ({type(layer).__name__}): {err}") from None
        x = layer.forward(x)
    return x.shape[1]


def check_predictions(y: ArrayLike) -> np.ndarray:
    """Predictions for a loss function: a non-empty array of real numbers, no NaN or inf."""
    y = real_array(y, "predictions y")
    if y.ndim == 0:
        raise ValueError("expected an array of predictions, got a scalar")
    if y.size == 0:
        raise ValueError(f"empty batch: predictions have shape {y.shape}")
    return check_finite(y, "predictions y")


def check_loss_pair(y: ArrayLike, t: ArrayLike, labels_ok: bool):
    """Predictions y and targets t of a loss function, checked: (y as 2-D, t as 2-D or as
    labels, whether t holds labels). Labels are taken for one-hot rows when ``labels_ok``."""
    y = check_predictions(y)
    t = np.asarray(t)
    if labels_ok and t.shape == y.shape[:-1] and t.dtype.kind in "iubf":
        t = check_labels(t, y.shape[-1])
        return y.reshape(-1, y.shape[-1]), t.reshape(-1), True
    if t.shape != y.shape:
        expected = f"{y.shape} or labels of shape {y.shape[:-1]}" if labels_ok else f"{y.shape}"
        raise ValueError(f"target shape mismatch: expected {expected}, got t of shape {t.shape}")
    check_finite(real_array(t, "targets t"), "targets t")
    return y.reshape(-1, y.shape[-1]), t.reshape(-1, y.shape[-1]), False


def check_probabilities(y: ArrayLike, t: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities y in [0, 1] and 0/1 targets t of the same shape (binary cross-entropy)."""
    y = check_predictions(y)
    t = np.asarray(t)
    if t.shape != y.shape:
        raise ValueError(f"target shape mismatch: expected {y.shape}, got t of shape {t.shape}")
    if t.dtype.kind not in "biuf":
        raise TypeError(f"targets t must hold numbers, got dtype {t.dtype}")
    if np.any((y < 0) | (y > 1)):
        raise ValueError("binary_cross_entropy expects probabilities y in [0, 1]")
    if not np.all((t >= 0) & (t <= 1)):  # (NaN compares false both ways)
        raise ValueError("binary_cross_entropy expects targets t in [0, 1] (no NaN)")
    return y, t
