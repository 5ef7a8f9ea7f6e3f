"""Small helpers shared by the loaders and the toy data generators."""

from __future__ import annotations

from typing import Any

import numpy as np


def float_dtype(dtype: Any) -> np.dtype:
    """``np.dtype(dtype)``, insisting on a floating-point type (the loaders scale values)."""
    try:
        result = np.dtype(dtype)
    except TypeError as err:
        raise TypeError(
            f"dtype must be a floating-point type such as np.float32, got {dtype!r}"
        ) from err
    if not np.issubdtype(result, np.floating):
        raise TypeError(f"dtype must be a floating-point type such as np.float32, got {result}")
    return result
