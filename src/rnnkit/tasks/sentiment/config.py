"""The settings of the sentiment task, declared once (defaults, help, bounds); the CLI options of
``rnnkit sentiment train`` are generated from them (:class:`rnnkit.config.Config`).

The model and training fields take their defaults from a *recipe*, a named bundle of values
(:data:`RECIPE_TABLE`, one row per field, one column per recipe): ``seed`` is the lecture's
model and recipe, ``default`` a recipe for the same layers, ``best`` a bidirectional network
with pooling over time. A field given explicitly overrides the recipe's value::

    SentimentConfig()                         # the 'default' recipe
    SentimentConfig(recipe="seed")            # the lecture's recipe, exactly
    SentimentConfig(recipe="seed", epochs=5)  # the lecture's recipe with 5 epochs
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from ... import _validation as V
from ...config import Config, option

CELL_NAMES = ("lstm", "gru", "simple_rnn")
MAX_MAXLEN = 100_000  # words per review: 1,000 times IMDb's median review; (N, T) ids fit in RAM
MAX_NUM_WORDS = 1_000_000  # vocabulary: the embedding (V, D) stays under 2 GiB at D = 512
MAX_WIDTH = 4096  # embedding_dim and units: an LSTM's W_h (H, 4H) is 256 MiB at H = 4096
MAX_LAYERS = 16
POOLINGS = ("last", "max_mean")


class _FromRecipe:
    """The default of a field set by the recipe (shown as such in ``--help``)."""

    def __repr__(self) -> str:
        return "set by --recipe"

    __str__ = __repr__


FROM_RECIPE = _FromRecipe()
"""Marks a field the user did not give: :meth:`SentimentConfig.__post_init__` fills it in from
the recipe."""

RECIPE_NAMES = ("seed", "default", "best")
# fmt: off
RECIPE_TABLE: dict[str, tuple] = {
    #                     seed    default  best     (default: runs I-K of sentiment_recipes.json;
    #                                               best: a candidate, not yet measured, #19)
    "num_words":          (10000, 10000,   30000),
    "maxlen":             (200,   500,     1000),
    "embedding_dim":      (128,   128,     128),
    "cell":               ("lstm", "lstm", "lstm"),
    "units":              (128,   128,     128),
    "layers":             (1,     1,       1),
    "bidirectional":      (False, False,   True),
    "pooling":            ("last", "last", "max_mean"),
    "dropout":            (0.0,   0.5,     0.5),
    "word_dropout":       (0.0,   0.4,     0.3),
    "recurrent_dropout":  (0.0,   0.0,     0.0),
    "mask_zero":          (False, True,    True),
    "target_replication": (0.0,   0.0,     0.0),
    "epochs":             (3,     12,      10),
    "minutes":            (None,  6.0,     None),
    "batch_size":         (64,    64,      64),
    "learning_rate":      (1e-3,  5e-4,    1e-3),
    "clipnorm":           (None,  1.0,     1.0),
    "validation_split":   (0.0,   0.05,    0.05),
    "patience":           (None,  2,       2),
    "reduce_lr":          (None,  None,    None),
    "bucketing":          (False, True,    True),
    "ngrams":             (0,     0,       0),
}
# fmt: on
RECIPES: dict[str, dict] = {
    name: {field: row[k] for field, row in RECIPE_TABLE.items()}
    for k, name in enumerate(RECIPE_NAMES)
}
"""Each recipe's values of the fields of :data:`RECIPE_TABLE`: ``RECIPES['seed']['maxlen']``."""


@dataclass
class SentimentConfig(Config):
    """Settings of a :class:`SentimentClassifier` (defaults: the ``recipe``'s values,
    :data:`RECIPE_TABLE`; ``recipe='seed'`` is the lecture's model and recipe).

    Each field's help (``rnnkit sentiment train --help``) says what it does; the bounds are
    checked by :meth:`validate`. ``ngrams > 0`` makes a hybrid: an NB-LR bag of words and word
    n-grams up to ``n`` (:class:`BagOfWords` ``kind='nb'``) trained on the same reviews, and the
    prediction a logistic regression on the two models' log-odds fitted on the validation split
    (the ensemble of a sequence model with NB features of Mesnil et al. 2014).
    ``reduce_lr`` is ``ReduceLROnPlateau(factor=reduce_lr, patience=1)`` on the validation
    loss; ``word_dropout`` a ``Dropout(noise_shape=(None, None, 1))`` after the Embedding.
    """

    recipe: str = option(
        "default",
        "the bundle of model and training settings the other options default to: seed (the "
        "lecture's: 200 words, 3 epochs), default (the seed's layers over 500 words, "
        "dropout and word dropout, at most 6 minutes), best (a bidirectional LSTM over "
        "1,000 words with max and mean pooling); options given explicitly override it",
        choices=RECIPE_NAMES,
    )
    num_words: int = option(
        FROM_RECIPE,
        "vocabulary size, the special ids 0 (pad), 1 (start), 2 (unknown) included",
        low=4,
        high=MAX_NUM_WORDS,
    )
    maxlen: int = option(
        FROM_RECIPE,
        "words kept per review (the last ones; shorter reviews are padded in front)",
        low=1,
        high=MAX_MAXLEN,
    )
    embedding_dim: int = option(FROM_RECIPE, "word vector size", low=1, high=MAX_WIDTH)
    cell: str = option(FROM_RECIPE, "recurrent cell", choices=CELL_NAMES)
    units: int = option(FROM_RECIPE, "hidden size of each recurrent layer", low=1, high=MAX_WIDTH)
    layers: int = option(FROM_RECIPE, "stacked recurrent layers", low=1, high=MAX_LAYERS)
    bidirectional: bool = option(FROM_RECIPE, "read reviews both ways")
    pooling: str = option(
        FROM_RECIPE,
        "what the output layer reads: last (the recurrent layer's final output, as the seed) "
        "or max_mean (the maximum and the mean of its outputs over the words, concatenated)",
        choices=POOLINGS,
    )
    dropout: float = option(
        FROM_RECIPE,
        "dropout on the recurrent layers' inputs and before the output layer",
        low=0,
        high=1,
        high_open=True,
    )
    word_dropout: float = option(
        FROM_RECIPE,
        "fraction of whole word vectors dropped during training",
        low=0,
        high=1,
        high_open=True,
    )
    recurrent_dropout: float = option(
        FROM_RECIPE,
        "dropout on the recurrent state (disables the fused native path)",
        low=0,
        high=1,
        high_open=True,
    )
    mask_zero: bool = option(
        FROM_RECIPE, "skip padding in the recurrent layers (the seed does not)"
    )
    target_replication: float = option(
        FROM_RECIPE,
        "target replication (Lipton et al. 2015): during training the output layer also reads "
        "the recurrent layer's output after every word, and the loss is ALPHA times the mean "
        "loss over the words plus (1 - ALPHA) times the loss of the last one; prediction "
        "still reads the last word only; 0: off (a recipe's value is dropped for a "
        "bidirectional network or pooling)",
        low=0,
        high=1,
        metavar="ALPHA",
    )
    epochs: int = option(FROM_RECIPE, "passes over the training reviews", low=1)
    minutes: float | None = option(
        FROM_RECIPE,
        "training time budget: no epoch is started that would end past it (judged by the "
        "longest epoch so far) and training stops after the batch that reaches it; with "
        "--validation-split the epoch of the best validation accuracy is kept",
        low=0,
        low_open=True,
    )
    batch_size: int = option(FROM_RECIPE, "reviews per gradient step", low=1)
    learning_rate: float = option(FROM_RECIPE, "Adam's learning rate", low=0, low_open=True)
    clipnorm: float | None = option(
        FROM_RECIPE,
        "clip each gradient to this norm (the seed does not clip)",
        low=0,
        low_open=True,
    )
    validation_split: float = option(
        FROM_RECIPE,
        "fraction of the training reviews held out for validation curves",
        low=0,
        high=1,
        high_open=True,
    )
    patience: int | None = option(
        FROM_RECIPE,
        "with --validation-split: stop after this many epochs without a better validation "
        "accuracy and keep the best epoch's weights",
        low=0,
    )
    reduce_lr: float | None = option(
        FROM_RECIPE,
        "with --validation-split: multiply the learning rate by FACTOR after each epoch whose "
        "validation loss is not the best so far",
        low=0,
        high=1,
        low_open=True,
        high_open=True,
        metavar="FACTOR",
    )
    bucketing: bool = option(
        FROM_RECIPE, "batch reviews of similar length together: padding costs no compute"
    )
    ngrams: int = option(
        FROM_RECIPE,
        "with --validation-split: a hybrid model, the network blended with an NB-weighted "
        "logistic regression on words and word n-grams up to N (blend weights fitted on the "
        "validation reviews); 0: the network alone",
        low=0,
        metavar="N",
    )
    pretrained_lm: str | None = option(
        None,
        "start the embedding and the LSTM layer(s) from a language model (of words) saved by "
        "`rnnkit textgen train` (its model/ folder; train it with --corpus imdb: Dai & Le "
        "2015): each word's embedding row is copied from the model's row of the same word "
        "(start from <eos>, unknown from <unk>; words it lacks keep their fresh "
        "initialisation), LSTM layer k from its layer k (a bidirectional network: the "
        "forward direction); needs --cell lstm and the model's --embedding-dim and --units",
        metavar="MODEL",
    )
    seed: int = option(0, "random seed (same seed, same model)", low=0, high=2**32 - 1)
    checkpoint_dir: str | None = option(
        None,
        "save the training state in this folder after each epoch (or every "
        "--checkpoint-steps steps), so that an interrupted run can continue with --resume; "
        "the checkpoint is deleted when training ends",
        metavar="DIR",
    )
    checkpoint_steps: int | None = option(
        None,
        "with --checkpoint-dir: also save every N gradient steps (not only after each epoch)",
        low=1,
        metavar="N",
    )
    resume: bool = option(
        False, "continue the interrupted training whose checkpoint is in --checkpoint-dir"
    )

    def __post_init__(self) -> None:
        # the fields not given take the recipe's values; an unknown recipe is left to validate()
        values = RECIPES.get(self.recipe, RECIPES["default"])
        self._given = frozenset(
            name for name in RECIPE_TABLE if getattr(self, name) is not FROM_RECIPE
        )
        for name in RECIPE_TABLE:
            if name not in self._given:
                setattr(self, name, values[name])
        # a recipe's target replication applies where it can: one direction, the last output
        if "target_replication" not in self._given and (
            self.bidirectional is True or self.pooling != "last"
        ):
            self.target_replication = 0.0

    def given(self) -> dict:
        """The fields given explicitly (not taken from the recipe), with their values: what
        :meth:`replace` keeps when the recipe changes."""
        names = [f.name for f in dataclasses.fields(self)]
        return {n: getattr(self, n) for n in names if n not in RECIPE_TABLE or n in self._given}

    def replace(self, **changes) -> SentimentConfig:
        """A copy with ``changes``; a new ``recipe`` re-fills the fields that were not given
        explicitly (``dataclasses.replace`` would take them all as given)."""
        return type(self)(**{**self.given(), **changes})

    def check(self) -> None:
        owner = self._owner()
        if self.target_replication and (self.bidirectional or self.pooling != "last"):
            V.fail(
                owner,
                "target_replication",
                "0 for a bidirectional network or pooling over time (the output layer must "
                "read one direction's output after each word)",
                self.target_replication,
            )
        for name in ("patience", "reduce_lr"):
            if getattr(self, name) is not None and not self.validation_split:
                V.fail(owner, name, "to be used with a validation_split > 0", getattr(self, name))
        if self.ngrams and not self.validation_split:
            V.fail(
                owner,
                "ngrams",
                "to be used with a validation_split > 0 (the blend of the "
                "two models is fitted on it)",
                self.ngrams,
            )
        if self.pretrained_lm is not None and self.cell != "lstm":
            V.fail(
                owner,
                "cell",
                "'lstm' with pretrained_lm (the language model's LSTM layers fill the "
                "recurrent layers)",
                self.cell,
            )
        if self.checkpoint_dir is None:
            for name in ("checkpoint_steps", "resume"):
                if getattr(self, name) not in (None, False):
                    V.fail(owner, name, "to be used with a checkpoint_dir", getattr(self, name))

    def check_pretrained_lm(self):
        """Refuse a ``pretrained_lm`` that cannot start this network (not a saved word-level
        language model, another ``embedding_dim`` or ``units``, fewer LSTM layers); reads
        only its ``language_model.json``, before any data is read. Returns the language
        model's :class:`~rnnkit.tasks.language_model.LanguageModelConfig` (``None`` without
        ``pretrained_lm``)."""
        from .pretrained import check_language_model

        return check_language_model(self)

    def check_checkpoint(self) -> None:
        """Refuse a ``checkpoint_dir`` that holds a checkpoint unless ``resume`` (it would be
        continued), and ``resume`` without one; checked before any data is read."""
        if self.checkpoint_dir is None:
            return
        owner, folder = self._owner(), Path(self.checkpoint_dir)
        if folder.exists() and not folder.is_dir():
            V.fail(owner, "checkpoint_dir", "a folder", self.checkpoint_dir)
        holds = folder.is_dir() and any(folder.iterdir())
        if holds and not self.resume:
            raise ValueError(
                f"{owner}: `checkpoint_dir` expected a new or empty folder, received "
                f"{self.checkpoint_dir!r}, which holds a checkpoint; pass resume=True "
                "(--resume) to continue that training, or choose another folder."
            )
        if self.resume and not holds:
            raise ValueError(
                f"{owner}: `resume` expected a checkpoint in checkpoint_dir "
                f"{self.checkpoint_dir!r}, received an empty or missing folder."
            )
