"""How many BLAS threads a training step uses: the one speed rule that matters here.

On this path's small networks a step is a handful of small matrix products; a second BLAS
thread costs about what it saves, and on a busy machine a thread that spins waiting for
work makes each epoch several times slower. The Trainer asks :func:`training_blas_threads`
once per epoch and runs the epoch inside :func:`blas_thread_limit`.
"""

from __future__ import annotations

import contextlib

from ..layers import Affine
from ..network import Sequential

__all__ = ["SMALL_PRODUCT", "blas_thread_limit", "training_blas_threads"]

#: A training step whose largest matrix product has at most this many multiply-adds runs
#: on one BLAS thread (see :func:`training_blas_threads`); 0 turns the rule off.
SMALL_PRODUCT = 16_000_000


def training_blas_threads(model: Sequential, batch_size: int) -> int | None:
    """How many BLAS threads the training steps of ``model`` use: 1, or None (the BLAS's own).

    A step of a network of :class:`~scratchnn.layers.Affine` layers multiplies matrices of
    (batch, d_in) and (d_in, d_out) three times per layer. When the largest product is
    small (784-100-10 in batches of 100: 7.8 million multiply-adds, a tenth of a
    millisecond), handing half of it to a second thread and waiting for it costs about what
    it saves, and where the other cores are busy a BLAS thread that spins waiting for work
    slows everything down. Products larger than :data:`SMALL_PRODUCT`, and networks with
    other weighted layers (convolutions), keep the BLAS's thread count.
    """
    products = []
    for layer in model.layers:
        if isinstance(layer, Affine):
            products.append(batch_size * layer.W.size)
        elif "W" in layer.params:  # a convolution: its products depend on image sizes
            return None
    if products and max(products) <= SMALL_PRODUCT:
        return 1
    return None


@contextlib.contextmanager
def blas_thread_limit(threads: int | None):
    """At most ``threads`` threads for NumPy's BLAS inside the block (None: no change).

    The setting belongs to the whole process and is put back when the block ends, also on
    an exception: trainers that run at the same time in several Python threads would undo
    each other's setting, so train one model at a time per process.
    """
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads, user_api="blas"):
        yield
