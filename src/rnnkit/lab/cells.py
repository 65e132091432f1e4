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

GATE_INITS = ("keras", "chrono")
"""The gated cells' biases at the start: 'keras' (Keras's defaults: the LSTM's forget bias 1 or 0
as ``forget_bias`` says, the GRU's 0) or 'chrono' (Tallec & Ollivier 2018: keep gates open by
log(u), u uniform in [1, T - 1], :class:`rnnkit.initializers.Chrono`)."""

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
            ``unit_forget_bias``) or 0 (with ``gate_init='keras'``).
        gate_init: the LSTM's and GRU's biases at the start, see :data:`GATE_INITS`.
    """

    cell: str
    activation: str = "tanh"
    recurrent_init: str = "orthogonal"
    forget_bias: bool = True
    gate_init: str = "keras"

    @property
    def name(self) -> str:
        """'rnn-tanh', 'lstm', ...; with the remedies that differ from the defaults appended
        ('rnn-relu-identity', 'lstm-forget0', 'gru-random')."""
        name = f"rnn-{self.activation}" if self.cell == "rnn" else self.cell
        if self.recurrent_init != "orthogonal":
            name += f"-{self.recurrent_init}"
        if self.cell == "lstm" and not self.forget_bias and self.gate_init == "keras":
            name += "-forget0"
        if self.cell != "rnn" and self.gate_init != "keras":
            name += f"-{self.gate_init}"
        return name

    def layer(
        self,
        units: int,
        *,
        return_sequences: bool = False,
        input_shape=None,
        max_length: int | None = None,
    ):
        """A fresh rnnkit layer of this cell (built when ``input_shape`` is given);
        ``max_length``: the longest sequence it will read (what 'chrono' spreads its time
        scales over)."""
        from ..initializers import Chrono
        from ..layers import GRU, LSTM, SimpleRNN

        options = dict(
            return_sequences=return_sequences,
            recurrent_initializer=_INITIALIZER[self.recurrent_init],
            input_shape=input_shape,
        )
        if self.cell == "rnn":
            return SimpleRNN(units, activation=self.activation, **options)
        if self.gate_init == "chrono":
            if max_length is None:
                V.fail("CellSpec.layer", "max_length", "the sequence length for 'chrono'", None)
            options["bias_initializer"] = Chrono(max(max_length, 3), self.cell)
            if self.cell == "lstm":
                options["unit_forget_bias"] = False
        elif self.cell == "lstm":
            options["unit_forget_bias"] = self.forget_bias
        return (LSTM if self.cell == "lstm" else GRU)(units, **options)


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
    cells,
    activations=("tanh",),
    *,
    recurrent_init="orthogonal",
    forget_bias=True,
    gate_init="keras",
) -> list[CellSpec]:
    """The cells of ``cells`` (each of :data:`CELLS`), the simple RNN once per activation, each
    once per value of ``recurrent_init``, (LSTM) ``forget_bias`` and (LSTM, GRU) ``gate_init``
    (a value or a list: the variants to compare). ``'identity'`` applies to the relu RNN only
    (IRNN); the other cells keep 'orthogonal' there. 'chrono' sets the forget bias itself.
    Duplicates are dropped, the order kept."""
    inits = parse_list("lab", "recurrent_init", _listed(recurrent_init), RECURRENT_INITS)
    biases = [_flag("forget_bias", b) for b in _listed(forget_bias)]
    gates = parse_list("lab", "gate_init", _listed(gate_init), GATE_INITS)
    out: list[CellSpec] = []
    for cell in parse_list("lab", "cells", cells, CELLS):
        acts = (
            parse_list("lab", "activations", activations, ACTIVATIONS) if cell == "rnn" else [None]
        )
        for act in acts:
            for init in inits:
                if init == "identity" and not (cell == "rnn" and act == "relu"):
                    init = "orthogonal"  # IRNN is the relu RNN's remedy
                for gate in gates if cell != "rnn" else ["keras"]:
                    for bias in biases if cell == "lstm" and gate == "keras" else [True]:
                        spec = CellSpec(cell, act or "tanh", init, bias, gate)
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
