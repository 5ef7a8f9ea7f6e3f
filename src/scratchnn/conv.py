"""Convolution and pooling layers on images of shape (N, C, H, W) (the book's chapter 7).

Both are computed on *windows*: for a kernel of kh x kw moved with ``stride`` over the input
padded by ``pad``, the output has

    OH = (H + 2 pad - kh) // stride + 1,    OW = (W + 2 pad - kw) // stride + 1

positions. :func:`im2col` views every window of x at once (no copy, no Python loop over
positions); a convolution copies them into ``col``, one (C*kh*kw, OH*OW) matrix per sample
(the transpose of the book's im2col matrix, which keeps the output in (N, C, H, W) order),
so that the layer is a matrix product with the kernels. :func:`col2im` adds every window's
gradient back, one kernel offset (i, j) at a time. Pooling works on the same windows, one
cell at a time. Stride-1 convolutions take a faster way to the same numbers (_fastconv.py).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._fastconv import applies, conv_backward, conv_forward
from ._validate import non_negative_int, positive_int, weight_and_bias
from .layers import Layer

__all__ = ["output_size", "im2col", "col2im", "Convolution2D", "MaxPooling2D",
           "AveragePooling2D", "Flatten"]


def _pair(value: int | tuple[int, int], name: str) -> tuple[int, int]:
    """(h, w) from an int or a pair of ints, each >= 1."""
    try:
        pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    except TypeError:  # neither an int nor a sequence (2.0, None)
        pair = ()
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                 and v >= 1 for v in pair):
        raise ValueError(f"{name} must be a positive int or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


def _json_pair(pair: tuple[int, int]) -> int | list[int]:
    return pair[0] if pair[0] == pair[1] else list(pair)


def output_size(size: int, kernel: int, stride: int = 1, pad: int = 0) -> int:
    """Number of window positions along one axis: (size + 2 pad - kernel) // stride + 1."""
    return (size + 2 * pad - kernel) // stride + 1


def _check_images(x: np.ndarray, kernel: tuple[int, int], pad: int) -> None:
    if x.ndim != 4:
        raise ValueError(f"expects images of shape (N, C, H, W), got shape {x.shape}")
    padded = (x.shape[2] + 2 * pad, x.shape[3] + 2 * pad)
    if padded[0] < kernel[0] or padded[1] < kernel[1]:
        raise ValueError(
            f"the {kernel[0]}x{kernel[1]} window is larger than the padded input "
            f"{padded[0]}x{padded[1]} (input {x.shape[2]}x{x.shape[3]}, pad {pad})")


def im2col(x: np.ndarray, kh: int, kw: int, stride: int = 1, pad: int = 0,
           pad_value: float = 0.0) -> np.ndarray:
    """All kh x kw windows of x (N, C, H, W), as an array of shape (N, C, OH, OW, kh, kw).

    ``[n, c, p, q]`` is the window whose top-left corner is at (p * stride, q * stride) of
    the padded input. The result is a strided *view* of the (padded) input: reshaping it into
    a matrix makes the copy that the book's ``im2col`` makes.
    """
    if pad:
        x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=pad_value)
    return sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]


def col2im(cols: np.ndarray, x_shape: tuple[int, ...], stride: int = 1, pad: int = 0
           ) -> np.ndarray:
    """The adjoint of :func:`im2col`: sum window values back into an array of ``x_shape``.

    ``cols`` has the shape (N, C, OH, OW, kh, kw) that im2col returns; where windows overlap
    their values add up. The padding border is cut off at the end.
    """
    n, c, h, w = x_shape
    _, _, oh, ow, kh, kw = cols.shape
    dx = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            dx[_cells(i, j, stride, oh, ow)] += cols[..., i, j]
    return dx[:, :, pad : dx.shape[2] - pad, pad : dx.shape[3] - pad]


def _cells(i: int, j: int, stride: int, oh: int, ow: int) -> tuple[slice, ...]:
    """Index of cell (i, j) of every window in the padded input: a strided grid."""
    return (slice(None), slice(None), slice(i, i + stride * oh, stride),
            slice(j, j + stride * ow, stride))


class Convolution2D(Layer):
    """2-D convolution (cross-correlation, as in every deep-learning library).

    out[n, f, p, q] = b[f] + sum_{c, i, j} W[f, c, i, j] * xpad[n, c, p*stride + i, q*stride + j]

    Shapes: x (N, C, H, W); W (F, C, kh, kw); b (F,); out (N, F, OH, OW).
    As matrices, with col[n] = the windows of sample n as (C*kh*kw, OH*OW), Wm = W as
    (F, C*kh*kw) and dout[n] as (F, OH*OW):
    forward out[n] = Wm col[n] + b; backward dWm = sum_n dout[n] col[n]^T, db = sum dout,
    dcol[n] = Wm^T dout[n], dx = col2im(dcol).
    ``need_dx = False`` (set by Sequential on the first layer) skips dcol and dx.
    Build W with ``init.initialize("he", (F, C, kh, kw), rng=...)``.
    """

    def __init__(self, W: np.ndarray, b: np.ndarray | None = None, *, stride: int = 1,
                 pad: int = 0) -> None:
        super().__init__()
        W, b = weight_and_bias(W, b, "(F, C, kh, kw)", out_axis=0)
        self.stride = positive_int(stride, "stride")
        self.pad = non_negative_int(pad, "pad")
        # C order: the backward pass writes dW through a (F, C*kh*kw) view of it.
        self.params = {"W": np.ascontiguousarray(W), "b": b}
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}
        self.need_dx = True

    @property
    def W(self) -> np.ndarray:
        return self.params["W"]

    @property
    def b(self) -> np.ndarray:
        return self.params["b"]

    @property
    def kernel_size(self) -> tuple[int, int]:
        return self.W.shape[2], self.W.shape[3]

    def config(self) -> dict:
        f, c = self.W.shape[:2]
        return {"in_channels": int(c), "out_channels": int(f),
                "kernel_size": _json_pair(self.kernel_size), "stride": self.stride,
                "pad": self.pad}

    @classmethod
    def from_config(cls, config: dict, params: dict[str, np.ndarray]) -> Convolution2D:
        # The sizes in config are those of W.
        return cls(params["W"], params["b"], stride=config["stride"], pad=config["pad"])

    def output_shape(self, input_shape: tuple[int, int, int]) -> tuple[int, int, int]:
        """(F, OH, OW) for one input image of shape (C, H, W)."""
        _, h, w = input_shape
        kh, kw = self.kernel_size
        return (self.W.shape[0], output_size(h, kh, self.stride, self.pad),
                output_size(w, kw, self.stride, self.pad))

    def check_input(self, x: np.ndarray, train: bool = False) -> None:
        _check_images(x, self.kernel_size, self.pad)
        if x.shape[1] != self.W.shape[1]:
            raise ValueError(f"input has {x.shape[1]} channels (shape {x.shape}), but W "
                             f"expects {self.W.shape[1]} (W has shape {self.W.shape})")

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        f, c, kh, kw = self.W.shape
        self.x, self.col = x, None
        if applies(self.W.shape, self.stride, self.pad):  # same numbers (_fastconv.py)
            return conv_forward(x, self.W, self.b, self.pad)
        windows = im2col(x, kh, kw, self.stride, self.pad)
        n, _, oh, ow = windows.shape[:4]
        # col[n]: sample n's (C*kh*kw, OH*OW) matrix; Wm @ col[n] is in (F, OH, OW) order.
        self.col = windows.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, oh * ow)
        out = self.W.reshape(f, -1) @ self.col + self.b[:, None]
        return out.reshape(n, f, oh, ow)

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        if self.col is None:  # the forward pass took _fastconv's way
            return conv_backward(self.x, self.W, dout, self.pad, self.grads, self.need_dx)
        f, c, kh, kw = self.W.shape
        n, _, oh, ow = dout.shape
        dout = dout.reshape(n, f, oh * ow)
        np.sum(dout @ self.col.transpose(0, 2, 1), axis=0, out=self.grads["W"].reshape(f, -1))
        np.sum(dout, axis=(0, 2), out=self.grads["b"])
        if not self.need_dx:
            return None
        dcol = self.W.reshape(f, -1).T @ dout
        dcol = dcol.reshape(n, c, kh, kw, oh, ow).transpose(0, 1, 4, 5, 2, 3)
        return col2im(dcol, self.x.shape, self.stride, self.pad)


class _Pooling(Layer):
    """Shared by the pooling layers: window size, stride (default: the window), padding."""

    def __init__(self, pool: int | tuple[int, int] = 2, stride: int | None = None,
                 pad: int = 0) -> None:
        super().__init__()
        self.pool = _pair(pool, "pool")
        if stride is None:
            if self.pool[0] != self.pool[1]:
                raise ValueError(f"give a stride for the non-square pool {self.pool}")
            stride = self.pool[0]
        self.stride = positive_int(stride, "stride")
        self.pad = non_negative_int(pad, "pad")
        if 2 * self.pad > min(self.pool):
            raise ValueError(f"pad must be at most half the pool size {self.pool}, got {pad}")

    def config(self) -> dict:
        return {"pool": _json_pair(self.pool), "stride": self.stride, "pad": self.pad}

    def check_input(self, x: np.ndarray, train: bool = False) -> None:
        _check_images(x, self.pool, self.pad)

    def _windows(self, x: np.ndarray, pad_value: float) -> np.ndarray:
        """The (N, C, OH, OW, ph, pw) view of x's windows."""
        self.x_shape = x.shape
        return im2col(x, *self.pool, self.stride, self.pad, pad_value)

    def _offsets(self):
        """(k, i, j) for every cell (i, j) of a window, k = i * pw + j."""
        ph, pw = self.pool
        return ((i * pw + j, i, j) for i in range(ph) for j in range(pw))

    def _scatter(self, dout: np.ndarray, share) -> np.ndarray:
        """dx: for every window cell (k, i, j), ``share(k)`` (dout's part for that cell, of
        dout's shape) added where the cell lies in the padded input, then the pad cut off."""
        n, c, h, w = self.x_shape
        dx = np.zeros((n, c, h + 2 * self.pad, w + 2 * self.pad), dtype=dout.dtype)
        for k, i, j in self._offsets():
            dx[_cells(i, j, self.stride, *dout.shape[2:])] += share(k)
        return dx[:, :, self.pad : h + self.pad, self.pad : w + self.pad]


class MaxPooling2D(_Pooling):
    """Max over each window: out[n, c, p, q] = max of window (p, q) of channel c.

    The maximum is taken one window cell at a time (ph*pw - 1 element-wise maxima over all
    windows). Backward sends dout to the cell that holds it, k = i * pw + j (the first on
    ties), and 0 to the others; that cell is found only then, so that inference takes the
    maxima alone. Padding uses -inf, so padded cells never win.
    """

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        self.windows = self._windows(x, pad_value=-np.inf)
        self.out = self.windows[..., 0, 0].copy()
        for _, i, j in list(self._offsets())[1:]:
            np.maximum(self.out, self.windows[..., i, j], out=self.out)
        return self.out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        # int16 holds the cell index of any usual window in a quarter of int64's memory.
        argmax = np.zeros(self.out.shape, np.int16 if np.prod(self.pool) < 2**15 else np.int64)
        for k, i, j in reversed(list(self._offsets())):  # the smallest k holding the max stays
            # Arithmetic rather than masked assignment (several times faster on random masks).
            argmax += (self.windows[..., i, j] == self.out) * (k - argmax)
        return self._scatter(dout, lambda k: dout * (argmax == k))


class AveragePooling2D(_Pooling):
    """Mean over each window (padding counts as zeros, as PyTorch's default).

    Backward spreads dout evenly: every cell of window (p, q) gets dout[p, q] / (ph * pw).
    """

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        windows = self._windows(x, pad_value=0.0)
        return windows.mean(axis=(4, 5), dtype=windows.dtype)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        share = dout * (1.0 / (self.pool[0] * self.pool[1]))
        return self._scatter(dout, lambda k: share)


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1*d2*...), e.g. feature maps into an Affine layer."""

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        self.x_shape = x.shape
        return x.reshape(len(x), -1)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout.reshape(self.x_shape)
