"""Checks of integer arguments, shared by the modules: each error names the argument."""

from __future__ import annotations

import numbers


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
