"""The lab's settings, declared once (defaults, help, bounds); ``rnnkit lab gradients`` and
``rnnkit lab memory`` generate their options from them (:class:`rnnkit.config.Config`).

List-valued settings (``cells``, ``lengths``, ...) are comma-separated strings, checked in
:meth:`check` with the same messages the Python API gives."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Config, option
from .cells import ACTIVATIONS, CELLS, GATE_INITS, RECURRENT_INITS, _flag, _listed, parse_list

TASKS = ("adding", "recall", "imdb-distance")  # the long-dependency tasks of lab.tasks


def _check_variants(
    cells: str, activations: str, recurrent_init: str, forget_bias: str, gate_init: str
):
    parse_list("lab", "cells", cells, CELLS)
    parse_list("lab", "gate_init", gate_init, GATE_INITS)
    parse_list("lab", "activations", activations, ACTIVATIONS)
    parse_list("lab", "recurrent_init", recurrent_init, RECURRENT_INITS)
    for value in _listed(forget_bias):
        _flag("forget_bias", value)


@dataclass
class GradientsConfig(Config):
    """Settings of :func:`rnnkit.lab.gradient_profiles`."""

    cells: str = option("rnn,lstm,gru", "cells to measure, comma-separated: rnn, lstm, gru")
    activations: str = option("tanh,relu,sigmoid", "the simple RNN's activations, comma-separated")
    seq_len: int = option(200, "sequence length T of the probe batch", low=2, high=100_000)
    units: int = option(32, "hidden size H", low=1, high=4096)
    batch: int = option(32, "rows of the probe batch and of the training batches", low=1)
    train_steps: int = option(
        100, "Adam steps on the adding problem before the 'trained' readout (0: none)", low=0
    )
    lr: float = option(1e-3, "Adam's learning rate", low=0, low_open=True)
    seed: int = option(0, "seed of weights and data (same seed, same numbers)", low=0)
    recurrent_init: str = option(
        "orthogonal",
        "W_h at the start, comma-separated to compare: orthogonal, random, identity "
        "(identity: the relu RNN only, Le et al. 2015)",
    )
    forget_bias: str = option("1", "the LSTM's forget-gate bias at the start: 1, 0 or 0,1")
    gate_init: str = option(
        "keras",
        "the LSTM's and GRU's gate biases at the start, comma-separated to compare: keras "
        "(Keras's defaults), chrono (Tallec & Ollivier 2018: keep gates open by log U(1, T-1))",
    )

    def check(self) -> None:
        _check_variants(
            self.cells, self.activations, self.recurrent_init, self.forget_bias, self.gate_init
        )


@dataclass
class MemoryConfig(Config):
    """Settings of :func:`rnnkit.lab.memory_experiment`."""

    task: str = option("adding", "the long-dependency task", choices=TASKS)
    lengths: str = option(
        "10,50,100,200,400",
        "sequence lengths, comma-separated (imdb-distance: filler tokens after the review)",
    )
    cells: str = option("rnn,lstm,gru", "cells to train, comma-separated: rnn, lstm, gru")
    activations: str = option("tanh", "the simple RNN's activations, comma-separated")
    minutes_per_run: float = option(
        5.0, "training budget of each cell at each length (minutes)", low=0, low_open=True
    )
    max_steps: int | None = option(
        None, "also stop each run after this many batches (omit: the budget alone)", low=1
    )
    units: int = option(64, "hidden size H", low=1, high=4096)
    batch: int = option(32, "training batch size", low=1)
    lr: float = option(1e-3, "Adam's learning rate", low=0, low_open=True)
    clip: str = option("on", "clip gradients to global norm --clipnorm: on, off or on,off")
    clipnorm: float = option(1.0, "the global norm gradients are clipped to", low=0, low_open=True)
    forget_bias: str = option("1", "the LSTM's forget-gate bias at the start: 1, 0 or 0,1")
    gate_init: str = option(
        "keras",
        "the LSTM's and GRU's gate biases at the start, comma-separated to compare: keras "
        "(Keras's defaults), chrono (Tallec & Ollivier 2018: keep gates open by log U(1, T-1))",
    )
    recurrent_init: str = option(
        "orthogonal",
        "W_h at the start, comma-separated to compare: orthogonal, random, identity "
        "(identity: the relu RNN only, Le et al. 2015)",
    )
    seed: int = option(0, "seed of weights and data", low=0)
    n_test: int = option(1000, "test examples (imdb-distance: at most the test reviews)", low=1)
    keys: int = option(8, "recall: symbols to remember (chance is 1/keys)", low=2, high=1000)
    review_len: int = option(50, "imdb-distance: words kept from each review", low=1)
    num_words: int = option(5000, "imdb-distance: vocabulary size", low=4)
    n_train: int | None = option(None, "imdb-distance: training reviews (omit: all)", low=1)

    def check(self) -> None:
        _check_variants(
            self.cells, self.activations, self.recurrent_init, self.forget_bias, self.gate_init
        )
        parse_list("MemoryConfig", "lengths", self.lengths, kind=int)
        if any(n < (0 if self.task == "imdb-distance" else 2) for n in _lengths(self.lengths)):
            least = 0 if self.task == "imdb-distance" else 2
            raise ValueError(
                f"MemoryConfig: `lengths` expected values >= {least} for task {self.task!r}, "
                f"received {self.lengths!r}."
            )
        for value in _listed(self.clip):
            _flag("clip", value)


def _lengths(text: str) -> list[int]:
    return parse_list("MemoryConfig", "lengths", text, kind=int)
