"""Command-line argument types: text to a checked value, or argparse's usage error.

``scratchnn``'s commands (:mod:`scratchnn.cli`) and the benchmark (:mod:`scratchnn.bench`)
share these converters. The rules themselves are :mod:`scratchnn._validate`'s: this module
only turns text into numbers and their errors into "expected ..., got ..." messages.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar

from ._validate import non_negative_int as valid_non_negative_int
from ._validate import number
from ._validate import positive_int as valid_positive_int

__all__ = ["fraction", "layer_sizes", "non_negative_float", "non_negative_int",
           "positive_float", "positive_int", "seed"]

T = TypeVar("T")


def _converter(convert: Callable[[str], T], check: Callable[[T], T],
               expected: str) -> Callable[[str], T]:
    """An argparse ``type=``: ``check(convert(text))``, any failure said as "expected ..."."""

    def parse(text: str) -> T:
        try:
            return check(convert(text))
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None

    parse.__name__ = expected.replace(" ", "_")
    return parse


positive_int = _converter(int, lambda v: valid_positive_int(v, "value"),
                          "a positive integer")
non_negative_int = _converter(int, lambda v: valid_non_negative_int(v, "value"),
                              "an integer >= 0")
seed = _converter(int, lambda v: valid_non_negative_int(v, "seed"), "a seed >= 0")
positive_float = _converter(float, lambda v: number(v, "value", low_open=True),
                            "a positive number")
non_negative_float = _converter(float, lambda v: number(v, "value"),
                                "a number >= 0")
fraction = _converter(float, lambda v: number(v, "fraction", high=1.0),
                      "a fraction in [0, 1)")


def _widths(text: str) -> list[int]:
    text = text.replace(" ", "")
    return [valid_positive_int(int(s), "width") for s in text.split(",")] if text else []


#: '256' or '100,50' or '' (no hidden layer) -> [256] / [100, 50] / []
layer_sizes = _converter(_widths, lambda v: v,
                         "comma-separated layer widths such as 100,50 (each >= 1)")
