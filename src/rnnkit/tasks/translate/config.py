"""The settings of the translation task, declared once; ``rnnkit translate train``'s options
are generated from them (:class:`rnnkit.config.Config`)."""

from __future__ import annotations

from dataclasses import dataclass

from ...config import Config, option

LEVELS = ("word", "char")
CELLS = ("lstm", "gru")
ATTENTIONS = ("luong", "bahdanau", "none")


@dataclass
class TranslateConfig(Config):
    """Settings of a :class:`Translator`: an encoder-decoder written with rnnkit's functional
    API (``Embedding -> LSTM`` encoder, ``Embedding -> LSTM`` decoder started from the
    encoder's final state, attention over the encoder's outputs, then ``Dense(tanh)`` and the
    output layer), trained with teacher forcing."""

    level: str = option("word", "tokens: words (and punctuation) or characters", choices=LEVELS)
    source_words: int = option(8000, "source vocabulary, specials included", low=8)
    target_words: int = option(12000, "target vocabulary, specials included", low=8)
    min_count: int = option(2, "a token seen fewer times in training is <unk>", low=1)
    embedding_dim: int = option(128, "token vector size", low=1, high=4096)
    units: int = option(256, "hidden size of the encoder and the decoder", low=1, high=4096)
    cell: str = option("lstm", "recurrent cell of encoder and decoder", choices=CELLS)
    attention: str = option(
        "luong",
        "luong (dot product, Attention), bahdanau (additive, AdditiveAttention) or none",
        choices=ATTENTIONS,
    )
    dropout: float = option(0.1, "dropout on the decoder's features", low=0, high=1, high_open=True)
    epochs: int = option(10, "passes over the training pairs", low=1)
    batch_size: int = option(64, "pairs per gradient step", low=1)
    learning_rate: float = option(2e-3, "Adam's learning rate", low=0, low_open=True)
    clipnorm: float = option(1.0, "clip the gradients' global norm", low=0, low_open=True)
    max_length: int = option(
        40, "tokens kept per sentence in training; decoding stops at 1.5x the source", low=2
    )
    seed: int = option(0, "seed of initialisation and shuffling", low=0)
