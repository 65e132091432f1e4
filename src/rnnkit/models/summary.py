"""The summary table of a model, printed as ``keras.Model.summary`` prints it.

::

    Model: "sequential"
    ┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
    ┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
    ┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
    │ lstm (LSTM)                     │ (None, 128)            │       131,584 │
    └─────────────────────────────────┴────────────────────────┴───────────────┘
     Total params: ...

It reads the model's ``name``, its ``layers`` (each layer's ``name``, ``built`` and
``count_params()``), their output shapes and its parameters; it changes nothing.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable

WIDTHS = (31, 22, 13)
"""Keras's smallest column widths: layer, output shape, parameter count."""

CONNECTED_WIDTHS = (19, 17, 10, 17)
"""Keras's column widths for a functional model that is not a chain (with "Connected to"):
its 108-character default cut to an 80-column console, as Keras prints it; longer cells wrap
onto more lines, as Keras's table wraps them."""

ASCII = str.maketrans("┏┳┓┃┡╇┩│├┼┤└┴┘━─", "+++|+++|++++++=-")
"""The box-drawing characters, for a console that cannot show them."""


def print_summary(
    model, line_length: int | None = None, print_fn: Callable[[str], object] | None = None
) -> None:
    """Print ``model``'s table: ``Layer (type) | Output Shape | Param #``, then the totals.

    ``print_fn`` receives each line (default: ``print``), so tests and logs can catch it;
    ``line_length`` widens the first column so that a line is at least that long.
    """
    print_fn = print_fn or print_utf8
    connections = model._connections() if hasattr(model, "_connections") else None
    if connections is not None:
        return _print_connected(model, connections, line_length, print_fn)
    rows = []
    for layer, shape in zip(getattr(model, "_operations", model.layers), model._shapes()):
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        rows.append(
            (
                f"{layer.name} ({type(layer).__name__})",
                "?" if shape is None else format_shape(shape),
                params,
            )
        )
    widths = list(WIDTHS)
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row)]
    if line_length:
        widths[0] = max(widths[0], line_length - sum(widths[1:]) - 10)

    def line(left, fill, mid, right):
        return left + mid.join(fill * (w + 2) for w in widths) + right

    def cells(values, bar):
        texts = [
            f" {values[0]:<{widths[0]}} ",
            f" {values[1]:<{widths[1]}} ",
            f" {values[2]:>{widths[2]}} ",
        ]
        return bar + bar.join(texts) + bar

    print_fn(f'Model: "{model.name}"')
    print_fn(line("┏", "━", "┳", "┓"))
    print_fn(cells(("Layer (type)", "Output Shape", "Param #"), "┃"))
    print_fn(line("┡", "━", "╇", "┩"))
    for k, row in enumerate(rows):
        print_fn(cells(row, "│"))
        if k < len(rows) - 1:
            print_fn(line("├", "─", "┼", "┤"))
    print_fn(line("└", "─", "┴", "┘"))
    _print_totals(model, print_fn)


def _print_totals(model, print_fn) -> None:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    size = 4  # bytes per float32 parameter, as Keras reports
    print_fn(f" Total params: {trainable + frozen:,} ({memory((trainable + frozen) * size)})")
    print_fn(f" Trainable params: {trainable:,} ({memory(trainable * size)})")
    print_fn(f" Non-trainable params: {frozen:,} ({memory(frozen * size)})")


def format_shape(shape) -> str:
    """``(None, 128)``; a list of shapes (several outputs) as ``[(None, 8), (None, 8)]``."""
    if isinstance(shape, list):
        return "[" + ", ".join(format_shape(s) for s in shape) + "]"
    inner = ", ".join("None" if d is None else str(d) for d in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def memory(n_bytes: int) -> str:
    """Keras's readable sizes: 1024-based, two decimals (``5.39 MB``)."""
    units = ["B", "KB", "MB", "GB", "TB"]
    value, k = float(n_bytes), 0
    while value >= 1024 and k < len(units) - 1:
        value /= 1024
        k += 1
    return f"{value:.2f} {units[k]}"


def print_utf8(line: str) -> None:
    """``print``, with ASCII box characters where the console cannot encode the table's."""
    try:
        print(line)
    except UnicodeEncodeError:
        print(line.translate(ASCII))


def _print_connected(model, connections: list[str], line_length, print_fn) -> None:
    """Keras's functional table: ``Layer (type) | Output Shape | Param # | Connected to``."""
    rows = []
    for layer, shape, connected in zip(model._operations, model._shapes(), connections):
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        rows.append(
            (f"{layer.name} ({type(layer).__name__})", format_shape(shape), params, connected)
        )
    widths = list(CONNECTED_WIDTHS)
    if line_length:
        extra = max(0, line_length - (sum(widths) + 3 * len(widths) + 1))
        widths[0] += extra
    aligns = ("<", "<", ">", "<")

    def line(left, fill, mid, right):
        return left + mid.join(fill * (w + 2) for w in widths) + right

    def cells(values, bar):
        wrapped = [textwrap.wrap(v, w) or [""] for v, w in zip(values, widths)]
        height = max(len(c) for c in wrapped)
        for k in range(height):
            texts = [
                f" {(c[k] if k < len(c) else ''):{a}{w}} "
                for c, w, a in zip(wrapped, widths, aligns)
            ]
            print_fn(bar + bar.join(texts) + bar)

    print_fn(f'Model: "{model.name}"')
    print_fn(line("┏", "━", "┳", "┓"))
    cells(("Layer (type)", "Output Shape", "Param #", "Connected to"), "┃")
    print_fn(line("┡", "━", "╇", "┩"))
    for k, row in enumerate(rows):
        cells(row, "│")
        if k < len(rows) - 1:
            print_fn(line("├", "─", "┼", "┤"))
    print_fn(line("└", "─", "┴", "┘"))
    _print_totals(model, print_fn)
