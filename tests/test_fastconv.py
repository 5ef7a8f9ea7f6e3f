"""The stride-1 convolution of scratchnn._fastconv gives the numbers of the plain im2col layer
(conv.py), which the gradient checks of tests/test_conv.py pin to the formula."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import scratchnn.conv
from scratchnn import _fastconv
from scratchnn.conv import Convolution2D, im2col
from scratchnn.models import DeepConvNet

RNG = np.random.default_rng(19)


def _plain_and_fast(monkeypatch, W, b, pad, x, dout, need_dx=True):
    """(out, dx, dW, db) of the plain layer, then of the fast one, from the same arrays."""
    results = []
    for fast in (False, True):
        with monkeypatch.context() as m:
            if not fast:
                m.setattr(scratchnn.conv, "applies", lambda *args: False)
            layer = Convolution2D(W, b, pad=pad)
            layer.need_dx = need_dx
            out = layer.forward(x, train=True)
            assert (layer.col is None) == fast  # the path really taken
            dx = layer.backward(dout)
            results.append((out, dx, layer.grads["W"].copy(), layer.grads["b"].copy()))
    return results


@pytest.mark.parametrize(("channels", "filters", "kernel", "pad", "size"), [
    (3, 4, (3, 3), 1, (7, 6)),   # DeepConvNet's convolutions
    (2, 5, (3, 3), 2, (6, 6)),   # its fourth: pad 2
    (1, 3, (5, 5), 0, (9, 8)),   # SimpleConvNet's
    (2, 3, (2, 3), 1, (5, 7)),   # a kernel that is not square
    (2, 2, (1, 1), 0, (4, 4)),
    (1, 2, (3, 3), 2, (3, 3)),   # pad = kernel - 1: the largest that applies
])
def test_the_fast_convolution_gives_the_plain_numbers(monkeypatch, channels, filters, kernel,
                                                       pad, size):
    x = RNG.standard_normal((5, channels, *size))
    W = RNG.standard_normal((filters, channels, *kernel))
    b = RNG.standard_normal(filters)
    oh, ow = (s + 2 * pad - k + 1 for s, k in zip(size, kernel, strict=True))
    dout = RNG.standard_normal((5, filters, oh, ow))
    # A buffer of 2 samples: several chunks, and a shorter last one.
    monkeypatch.setattr(_fastconv, "CHUNK_BYTES", 2 * channels * kernel[0] * kernel[1] * oh * ow
                        * 8)
    plain, fast = _plain_and_fast(monkeypatch, W, b, pad, x, dout)
    for name, a, f in zip(("out", "dx", "dW", "db"), plain, fast, strict=True):
        assert f.shape == a.shape and f.dtype == np.float64
        np.testing.assert_allclose(f, a, rtol=1e-12, atol=1e-12, err_msg=name)


def test_float32_stays_float32_and_agrees_to_rounding(monkeypatch):
    x = RNG.standard_normal((8, 16, 10, 10)).astype(np.float32)
    W = RNG.standard_normal((16, 16, 3, 3)).astype(np.float32)
    b = RNG.standard_normal(16).astype(np.float32)
    dout = RNG.standard_normal((8, 16, 10, 10)).astype(np.float32)
    plain, fast = _plain_and_fast(monkeypatch, W, b, 1, x, dout)
    for name, a, f in zip(("out", "dx", "dW", "db"), plain, fast, strict=True):
        assert f.dtype == np.float32
        np.testing.assert_allclose(f, a, rtol=1e-4, atol=1e-4, err_msg=name)


def test_without_dx_the_first_layer_still_gets_its_gradients(monkeypatch):
    x, W, b = RNG.standard_normal((3, 1, 6, 6)), RNG.standard_normal((2, 1, 3, 3)), np.zeros(2)
    dout = RNG.standard_normal((3, 2, 6, 6))
    plain, fast = _plain_and_fast(monkeypatch, W, b, 1, x, dout, need_dx=False)
    assert plain[1] is None and fast[1] is None
    np.testing.assert_allclose(fast[2], plain[2], rtol=1e-12)


def test_only_stride_1_with_pad_below_the_kernel_takes_the_fast_way():
    assert _fastconv.applies((4, 3, 3, 3), stride=1, pad=1)
    assert _fastconv.applies((4, 3, 3, 5), stride=1, pad=2)
    assert not _fastconv.applies((4, 3, 3, 3), stride=2, pad=1)
    assert not _fastconv.applies((4, 3, 3, 3), stride=1, pad=3)  # dx would need a crop
    assert not _fastconv.applies((4, 3, 2, 5), stride=1, pad=2)
    layer = Convolution2D(RNG.standard_normal((2, 1, 3, 3)), stride=2, pad=1)
    layer.forward(RNG.standard_normal((1, 1, 5, 5)))
    assert layer.col is not None  # the plain way


def test_dx_is_the_adjoint_of_the_forward_pass():
    # <conv(x), d> = <x, dx> for any d: the flipped-kernel correlation is conv's transpose.
    x, d = RNG.standard_normal((2, 3, 6, 5)), RNG.standard_normal((2, 4, 6, 5))
    W = RNG.standard_normal((4, 3, 3, 3))
    out = _fastconv.conv_forward(x, W, np.zeros(4), pad=1)
    grads = {"W": np.empty_like(W), "b": np.empty(4)}
    dx = _fastconv.conv_backward(x, W, d, 1, grads)
    assert np.sum(out * d) == pytest.approx(np.sum(x * dx), rel=1e-12)
    # and dW is the im2col formula: sum over samples and positions of dout * window
    windows = im2col(x, 3, 3, pad=1)  # (N, C, OH, OW, 3, 3)
    np.testing.assert_allclose(grads["W"], np.einsum("nfpq,ncpqij->fcij", d, windows),
                               rtol=1e-12)


def test_a_deepconvnet_step_keeps_no_window_matrix():
    """The plain layers keep one col matrix per convolution (DeepConvNet's second alone is
    N * 144 * 784 float32: 9 MB for a batch of 20, of 35 MB at the step's peak); the fast way
    keeps the inputs and a buffer of at most CHUNK_BYTES (the step's peak: 7 MB)."""
    from threadpoolctl import threadpool_limits

    net = DeepConvNet(seed=0)
    x = RNG.random((20, 1, 28, 28), dtype=np.float32)
    t = RNG.integers(0, 10, 20)
    with threadpool_limits(1):  # a busy machine's second BLAS thread only waits
        net.train_step(x, t)
        assert all(la.col is None for la in net.layers if isinstance(la, Convolution2D))
        tracemalloc.start()
        try:
            net.train_step(x, t)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 15 * 2**20, f"peak {peak / 2**20:.0f} MiB"
