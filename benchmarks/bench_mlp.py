"""MLP speed: scratchnn against PyTorch, scikit-learn and the matrix-multiplication bound.

Usage (the same as ``scratchnn bench``; see :mod:`scratchnn.bench` for what is measured)::

    SCRATCHNN_DATA=../shared/data python benchmarks/bench_mlp.py [--quick] [--repeat 5]
        [--only relu,sigmoid,large,inference,memory] [--threads N] [--markdown]

PyTorch and scikit-learn are optional (``pip install ".[bench]"``); without them only
scratchnn and the matmul bound are timed.
"""

from __future__ import annotations

import sys

from scratchnn.bench import main

if __name__ == "__main__":
    sys.exit(main())
