"""Tables that show a network's layers and a training history, as text and as HTML.

A console prints an object's ``repr``; Jupyter shows its ``_repr_html_``. Both come from
the same rows here, so the two never disagree. Nothing in this module changes the objects
it describes.
"""

from __future__ import annotations

import copy
import html
import math
from collections.abc import Sequence

import numpy as np

__all__ = ["history_html", "history_text", "network_html", "network_text", "output_shapes"]

#: a history longer than this shows its first and last ``MAX_ROWS // 2`` epochs
MAX_ROWS = 20


def _text_table(header: Sequence[str], rows: list[list[str]], right: set[int]) -> list[str]:
    """Aligned columns: ``right`` holds the indices of right-aligned (numeric) columns."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    return [line(header), "  ".join("-" * w for w in widths), *map(line, rows)]


def _html_table(header: Sequence[str], rows: list[list[str]], right: set[int],
                caption: str, footer: str = "") -> str:
    def cells(tag, values):
        return "".join(f'<{tag} style="text-align: {"right" if i in right else "left"}">'
                       f"{html.escape(v)}</{tag}>" for i, v in enumerate(values))

    body = "".join(f"<tr>{cells('td', row)}</tr>" for row in rows)
    foot = f"<p>{html.escape(footer)}</p>" if footer else ""
    return (f"<div><table><caption>{html.escape(caption)}</caption>"
            f"<thead><tr>{cells('th', header)}</tr></thead><tbody>{body}</tbody></table>"
            f"{foot}</div>")


# --- networks ----------------------------------------------------------------------------

_NETWORK_HEADER = ("#", "layer", "output shape", "parameters", "names")


def _input_shape(net) -> tuple[int, ...] | None:
    """One sample's shape, where the network says it: a ConvNet's ``input_dim``, or the
    rows of a first weight matrix (an Affine layer's W is (d_in, d_out))."""
    if getattr(net, "input_dim", None) is not None:
        return tuple(net.input_dim)
    W = net.layers[0].params.get("W")
    return (W.shape[0],) if W is not None and W.ndim == 2 else None


def output_shapes(net) -> list[tuple[int, ...] | None]:
    """Each layer's output shape for one sample, None from where it is not known.

    A layer knows its output shape only by computing it: one sample of zeros goes through
    a shallow copy of each layer in inference mode, so the network keeps what its last
    pass remembered (backward needs it). A layer that refuses the shape
    (``check_input``) ends what is known.
    """
    shape = _input_shape(net)
    shapes: list[tuple[int, ...] | None] = []
    for layer in net.layers:
        if shape is not None:
            x = np.zeros((1, *shape), dtype=net.dtype)
            try:
                layer.check_input(x)
            except ValueError:
                shape = None
            else:
                shape = tuple(copy.copy(layer).forward(x).shape[1:])
        shapes.append(shape)
    return shapes


def _shape_text(shape: tuple[int, ...] | None) -> str:
    """(N, 30, 24, 24): N stands for the batch size."""
    return "?" if shape is None else "(" + ", ".join(["N", *map(str, shape)]) + ")"


def _network_rows(net) -> tuple[list[list[str]], str]:
    owner = {id(p): name for name, p in net.params.items()}  # the layers' own arrays
    shapes = output_shapes(net)
    rows = []
    for k, (layer, shape) in enumerate(zip(net.layers, shapes, strict=True), start=1):
        count = sum(p.size for p in layer.params.values())
        rows.append([str(k), repr(layer), _shape_text(shape),
                     f"{count:,}" if count else "",
                     ", ".join(owner[id(p)] for p in layer.params.values() if id(p) in owner)])
    rows.append(["", repr(net.loss_layer), "", "", ""])
    summary = f"{net.n_params():,} parameters ({net.dtype})"
    if net.weight_decay:
        summary += f", weight decay {net.weight_decay:g}"
    return rows, summary


def network_text(net) -> str:
    """The layer table of a :class:`~scratchnn.network.Sequential` as plain text."""
    rows, summary = _network_rows(net)
    lines = _text_table(_NETWORK_HEADER, rows, right={0, 3})
    return "\n".join([f"{type(net).__name__}: {summary}", *lines])


def network_html(net) -> str:
    """The same table as HTML, for Jupyter."""
    rows, summary = _network_rows(net)
    return _html_table(_NETWORK_HEADER, rows, {0, 3}, type(net).__name__, summary)


# --- training histories ------------------------------------------------------------------

_FORMATS = {"epoch": "{:d}", "loss": "{:.4f}", "train_acc": "{:.4f}", "val_acc": "{:.4f}",
            "val_loss": "{:.4f}", "lr": "{:.3g}", "time": "{:.2f}"}


def _cell(field: str, value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return _FORMATS.get(field, "{:.4g}").format(value)


def _history_rows(history) -> tuple[list[str], list[list[str]], str]:
    records = history.records
    # The records' own field order; a field never measured (no validation set) is left out.
    fields = [f for f in (records[0] if records else ()) if any(r[f] is not None for r in records)]
    if len(records) > MAX_ROWS:
        half = MAX_ROWS // 2
        records = [*records[:half], None, *records[-half:]]
    rows = [["…"] * len(fields) if r is None else [_cell(f, r.get(f)) for f in fields]
            for r in records]
    summary = (f"{history.epochs} epochs, {len(history.loss):,} iterations, "
               f"{history.wall_time:.1f} s")
    if history.stopped_reason:
        summary += f"; {history.stopped_reason}"
    return fields, rows, summary


def history_text(history) -> str:
    """The per-epoch table of a :class:`~scratchnn.training.History` as plain text."""
    fields, rows, summary = _history_rows(history)
    lines = _text_table(fields, rows, right=set(range(len(fields)))) if fields else []
    return "\n".join([f"History: {summary}", *lines])


def history_html(history) -> str:
    """The same table as HTML, for Jupyter."""
    fields, rows, summary = _history_rows(history)
    return _html_table(fields, rows, set(range(len(fields))), "History", summary)
