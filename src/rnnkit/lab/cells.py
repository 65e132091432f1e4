"""The cells the lab compares, and the remedies it can switch on (forget-gate bias, recurrent
initialisation, identity-initialised relu RNN).

A cell is named ``rnn-tanh``, ``rnn-relu``, ``rnn-sigmoid``, ``lstm`` or ``gru``; :func:`specs`
turns the CLI's ``--cells rnn,lstm --activations tanh,relu`` into the list of them.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from .. import _validation as V

CELLS = ("rnn", "lstm", "gru")
ACTIVATIONS = ("tanh", "relu", "sigmoid")
RECURRENT_INITS = ("orthogonal", "random", "identity")
"""``W_h`` at the start: 'orthogonal' (Keras's default), 'random' (Glorot uniform, as the
input weights) or 'identity' (Le et al. 2015's IRNN: a relu RNN whose state starts as a copy)."""

_INITIALIZER = {"orthogonal": "orthogonal", "random": "glorot_uniform", "identity": "identity"}


@dataclass(frozen=True)
class CellSpec:
    """One recurrent cell with its remedies.

    Attributes:
        cell: 'rnn', 'lstm' or 'gru'.
        activation: the simple RNN's activation ('tanh', 'relu', 'sigmoid'); the gated cells'
            are fixed.
        recurrent_init: see :data:`RECURRENT_INITS`.
        forget_bias: LSTM only: the forget gate's bias starts at 1 (True, Keras's
            ``unit_forget_bias``) or 0.
    """

    cell: str
    activation: str = "tanh"
    recurrent_init: str = "orthogonal"
    forget_bias: bool = True

    @property
    def name(self) -> str:
        """'rnn-tanh', 'lstm', ...; with the remedies that differ from the defaults appended
        ('rnn-relu-identity', 'lstm-forget0', 'gru-random')."""
        name = f"rnn-{self.activation}" if self.cell == "rnn" else self.cell
        if self.recurrent_init != "orthogonal":
            name += f"-{self.recurrent_init}"
        if self.cell == "lstm" and not self.forget_bias:
            name += "-forget0"
        return name

    def layer(self, units: int, *, return_sequences: bool = False, input_shape=None):
        """A fresh rnnkit layer of this cell (built when ``input_shape`` is given)."""
        from ..layers import GRU, LSTM, SimpleRNN

        options = dict(
            return_sequences=return_sequences,
            recurrent_initializer=_INITIALIZER[self.recurrent_init],
            input_shape=input_shape,
        )
        if self.cell == "rnn":
            return SimpleRNN(units, activation=self.activation, **options)
        if self.cell == "lstm":
            return LSTM(units, unit_forget_bias=self.forget_bias, **options)
        return GRU(units, **options)


def cell_seed(seed: int, name: str) -> int:
    """The seed of a cell's weights in a run seeded ``seed``: from the cell's name, so a cell
    gets the same weights whatever other cells the run compares it with."""
    return seed * 100_003 + zlib.crc32(name.encode()) % 100_003


def parse_list(owner: str, name: str, text: str | list, choices=None, kind=str) -> list:
    """``'rnn,lstm'`` -> ``['rnn', 'lstm']`` (a list passes through), each checked against
    ``choices`` or converted by ``kind``; at least one value."""
    items = text if isinstance(text, list | tuple) else [s.strip() for s in str(text).split(",")]
    items = [s for s in items if s != ""]
    if not items:
        V.fail(owner, name, "a comma-separated list of at least one value", text)
    out = []
    for item in items:
        if choices is not None:
            V.choice(owner, name, item, choices)
            out.append(item)
            continue
        try:
            value = kind(item)
        except (TypeError, ValueError):
            V.fail(owner, name, f"a comma-separated list of {kind.__name__} values", text)
        out.append(value)
    return out


def specs(
    cells, activations=("tanh",), *, recurrent_init="orthogonal", forget_bias=True
) -> list[CellSpec]:
    """The cells of ``cells`` (each of :data:`CELLS`), the simple RNN once per activation, each
    once per value of ``recurrent_init`` and (LSTM) ``forget_bias`` (a value or a list: the
    variants to compare). ``'identity'`` applies to the relu RNN only (IRNN); the other cells
    keep 'orthogonal' there. Duplicates are dropped, the order kept."""
    inits = parse_list("lab", "recurrent_init", _listed(recurrent_init), RECURRENT_INITS)
    biases = [_flag("forget_bias", b) for b in _listed(forget_bias)]
    out: list[CellSpec] = []
    for cell in parse_list("lab", "cells", cells, CELLS):
        acts = (
            parse_list("lab", "activations", activations, ACTIVATIONS) if cell == "rnn" else [None]
        )
        for act in acts:
            for init in inits:
                if init == "identity" and not (cell == "rnn" and act == "relu"):
                    init = "orthogonal"  # IRNN is the relu RNN's remedy
                for bias in biases if cell == "lstm" else [True]:
                    spec = CellSpec(cell, act or "tanh", init, bias)
                    if spec not in out:
                        out.append(spec)
    return out


def _listed(value) -> list:
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, str):
        return [s.strip() for s in value.split(",") if s.strip()]
    return [value]


def _flag(name: str, value) -> bool:
    """True / False from a bool, 1 / 0, 'on' / 'off', 'true' / 'false'."""
    text = str(value).strip().lower()
    if text in ("1", "true", "on", "yes"):
        return True
    if text in ("0", "false", "off", "no"):
        return False
    V.fail("lab", name, "a list of 0 / 1 (off / on)", value)
