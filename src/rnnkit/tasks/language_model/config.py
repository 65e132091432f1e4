"""The settings of the language-model task, declared once (defaults, help, bounds); the CLI
options of ``rnnkit textgen train`` are generated from them (:class:`rnnkit.config.Config`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ... import _validation as V
from ...config import Config, option

MAX_VOCAB = 1_000_000
MAX_WIDTH = 4096
MAX_LAYERS = 16
OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("plateau", "cosine")


@dataclass
class LanguageModelConfig(Config):
    """Settings of a :class:`LanguageModel` (defaults: a 2-layer 256-unit word model, Adam).

    The network is ``Embedding -> LSTM x layers (return_sequences) -> Dense(vocabulary)``;
    ``dropout`` is Zaremba et al.'s (2014): on the embedding output, between layers and before
    the output layer, never on the recurrent state; ``recurrent_dropout`` adds Keras's
    variational dropout on the state (one mask per sequence). Training is truncated BPTT: the
    training text is cut into ``batch_size`` parallel streams, read ``seq_len`` tokens at a
    time, the LSTM state carried from one batch to the next and detached.
    """

    level: str = option("word", "predict words or characters", choices=("word", "char"))
    max_vocab: int | None = option(
        None,
        "at most this many tokens, <unk> and <eos> included (the rarest go); omit for all",
        low=3,
        high=MAX_VOCAB,
    )
    min_count: int = option(1, "drop tokens seen fewer times in the training text", low=1)
    embedding_dim: int = option(256, "token vector size", low=1, high=MAX_WIDTH)
    units: int = option(256, "hidden size of each LSTM layer", low=1, high=MAX_WIDTH)
    layers: int = option(2, "stacked LSTM layers", low=1, high=MAX_LAYERS)
    dropout: float = option(
        0.0,
        "Zaremba dropout: on the embedding output, between layers and before the output layer",
        low=0,
        high=1,
        high_open=True,
    )
    recurrent_dropout: float = option(
        0.0,
        "variational dropout on the recurrent state (one mask per sequence; runs rnnkit's "
        "kernel instead of the fused path)",
        low=0,
        high=1,
        high_open=True,
    )
    tie_weights: bool = option(
        False, "share the embedding with the output layer (needs embedding_dim == units)"
    )
    seq_len: int = option(35, "truncated BPTT: steps back-propagated per batch", low=1)
    batch_size: int = option(32, "parallel streams of the training text", low=1)
    reset_every: int | None = option(
        None,
        "restart the carried state from zeros every this many batches (omit: only at each "
        "epoch's start); a validation or test stream starts from zeros too",
        low=1,
        metavar="BATCHES",
    )
    epochs: int = option(10, "passes over the training text (--minutes may stop earlier)", low=1)
    minutes: float | None = option(
        None,
        "stop training after this many minutes (the best epoch is kept)",
        low=0,
        low_open=True,
    )
    validate_every: float | None = option(
        None,
        "also measure the validation perplexity every this many minutes (points of the "
        "perplexity-vs-minutes curve; the best weights are kept from any of them)",
        low=0,
        low_open=True,
        metavar="MINUTES",
    )
    optimizer: str = option("adam", "adam, or sgd as Zaremba et al.", choices=OPTIMIZERS)
    learning_rate: float | None = option(
        None, "learning rate (default: 0.002 for adam, 1.0 for sgd)", low=0, low_open=True
    )
    lr_decay: float = option(
        0.5,
        "--schedule plateau: multiply the learning rate by this after each epoch whose "
        "validation perplexity is not the best so far (and, with sgd, after every epoch past "
        "--decay-after)",
        low=0,
        high=1,
        low_open=True,
    )
    decay_after: int = option(4, "sgd: epochs at the full learning rate", low=0)
    schedule: str = option(
        "plateau",
        "plateau: decay by --lr-decay as above; cosine: fall from the learning rate to 0 along "
        "half a cosine over the whole run, which ends with --minutes or --epochs, whichever "
        "comes first (Keras's CosineDecay, Loshchilov & Hutter 2017)",
        choices=SCHEDULES,
    )
    warmup: float = option(
        0.0,
        "raise the learning rate linearly from 0 over this fraction of the run (as --schedule "
        "measures it) before the schedule starts",
        low=0,
        high=1,
        high_open=True,
    )
    clipnorm: float | None = option(
        None,
        "clip the global gradient norm to this value (default: 0.25 for adam, 5.0 for sgd)",
        low=0,
        low_open=True,
    )
    seed: int = option(0, "random seed (same seed, same model)", low=0, high=2**32 - 1)

    def check(self) -> None:
        if self.tie_weights and self.embedding_dim != self.units:
            V.fail(
                self._owner(),
                "tie_weights",
                f"embedding_dim == units (the output layer reads the last LSTM's {self.units} "
                f"units with the ({self.embedding_dim},) embedding vectors)",
                self.tie_weights,
            )

    @property
    def lr(self) -> float:
        """The learning rate to start from."""
        if self.learning_rate is not None:
            return self.learning_rate
        return 0.002 if self.optimizer == "adam" else 1.0

    def lr_at(self, progress: float, base: float) -> float:
        """The learning rate at ``progress`` (0 at the start of training, 1 at its end:
        the larger of the steps' and the minutes' fractions), from ``base`` (the starting
        rate, or what the plateau decay left of it): the linear warmup, then the schedule.

        >>> c = LanguageModelConfig(schedule="cosine", warmup=0.1)
        >>> [round(c.lr_at(p, 1.0), 3) for p in (0.0, 0.05, 0.1, 0.55, 1.0)]
        [0.0, 0.5, 1.0, 0.5, 0.0]
        """
        progress = min(max(progress, 0.0), 1.0)
        if progress < self.warmup:
            return base * progress / self.warmup
        if self.schedule == "cosine":
            after = (progress - self.warmup) / (1.0 - self.warmup)
            return base * 0.5 * (1.0 + math.cos(math.pi * after))
        return base

    @property
    def clip(self) -> float:
        """The global gradient norm clipped to. Adam's default is 0.25: at 5.0 (Zaremba et
        al.'s, for SGD) Adam at 0.002 diverged in the second epoch of a 2 x 200 model on a
        250,000-token Penn Treebank slice (training perplexity 788, validation 884,043;
        docs/textgen.md)."""
        if self.clipnorm is not None:
            return self.clipnorm
        return 0.25 if self.optimizer == "adam" else 5.0
