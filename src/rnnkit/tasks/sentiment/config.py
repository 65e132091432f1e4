"""The settings of the sentiment task, declared once (defaults, help, bounds); the CLI options of
``rnnkit sentiment train`` are generated from them (:class:`rnnkit.config.Config`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ... import _validation as V
from ...config import Config, option

CELL_NAMES = ("lstm", "gru", "simple_rnn")
MAX_MAXLEN = 100_000  # words per review: 1,000 times IMDb's median review; (N, T) ids fit in RAM
MAX_NUM_WORDS = 1_000_000  # vocabulary: the embedding (V, D) stays under 2 GiB at D = 512
MAX_WIDTH = 4096  # embedding_dim and units: an LSTM's W_h (H, 4H) is 256 MiB at H = 4096
MAX_LAYERS = 16


@dataclass
class SentimentConfig(Config):
    """Settings of a :class:`SentimentClassifier` (defaults: the seed's model and recipe).

    Each field's help (``rnnkit sentiment train --help``) says what it does; the bounds are
    checked by :meth:`validate`. ``ngrams > 0`` makes a hybrid: an NB-LR bag of words and word
    n-grams up to ``n`` (:class:`BagOfWords` ``kind='nb'``) trained on the same reviews, and the
    prediction a logistic regression on the two models' log-odds fitted on the validation split
    (the ensemble of a sequence model with NB features of Mesnil et al. 2014).
    ``reduce_lr`` is ``ReduceLROnPlateau(factor=reduce_lr, patience=1)`` on the validation
    loss; ``word_dropout`` a ``Dropout(noise_shape=(None, None, 1))`` after the Embedding.
    """

    num_words: int = option(
        10000,
        "vocabulary size, the special ids 0 (pad), 1 (start), 2 (unknown) included",
        low=4,
        high=MAX_NUM_WORDS,
    )
    maxlen: int = option(
        200,
        "words kept per review (the last ones; shorter reviews are padded in front)",
        low=1,
        high=MAX_MAXLEN,
    )
    embedding_dim: int = option(128, "word vector size", low=1, high=MAX_WIDTH)
    cell: str = option("lstm", "recurrent cell", choices=CELL_NAMES)
    units: int = option(128, "hidden size of each recurrent layer", low=1, high=MAX_WIDTH)
    layers: int = option(1, "stacked recurrent layers", low=1, high=MAX_LAYERS)
    bidirectional: bool = option(False, "read reviews both ways")
    dropout: float = option(
        0.0,
        "dropout on the recurrent layers' inputs and before the output layer",
        low=0,
        high=1,
        high_open=True,
    )
    word_dropout: float = option(
        0.0,
        "fraction of whole word vectors dropped during training",
        low=0,
        high=1,
        high_open=True,
    )
    recurrent_dropout: float = option(
        0.0,
        "dropout on the recurrent state (disables the fused native path)",
        low=0,
        high=1,
        high_open=True,
    )
    mask_zero: bool = option(False, "skip padding in the recurrent layers (the seed does not)")
    epochs: int = option(3, "passes over the training reviews", low=1)
    batch_size: int = option(64, "reviews per gradient step", low=1)
    learning_rate: float = option(1e-3, "Adam's learning rate", low=0, low_open=True)
    clipnorm: float | None = option(
        None, "clip each gradient to this norm (the seed does not clip)", low=0, low_open=True
    )
    validation_split: float = option(
        0.0,
        "fraction of the training reviews held out for validation curves",
        low=0,
        high=1,
        high_open=True,
    )
    patience: int | None = option(
        None,
        "with --validation-split: stop after this many epochs without a better validation "
        "accuracy and keep the best epoch's weights",
        low=0,
    )
    reduce_lr: float | None = option(
        None,
        "with --validation-split: multiply the learning rate by FACTOR after each epoch whose "
        "validation loss is not the best so far",
        low=0,
        high=1,
        low_open=True,
        high_open=True,
        metavar="FACTOR",
    )
    bucketing: bool = option(
        False, "batch reviews of similar length together: padding costs no compute"
    )
    ngrams: int = option(
        0,
        "with --validation-split: a hybrid model, the network blended with an NB-weighted "
        "logistic regression on words and word n-grams up to N (blend weights fitted on the "
        "validation reviews); 0: the network alone",
        low=0,
        metavar="N",
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

    def check(self) -> None:
        owner = self._owner()
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
        if self.checkpoint_dir is None:
            for name in ("checkpoint_steps", "resume"):
                if getattr(self, name) not in (None, False):
                    V.fail(owner, name, "to be used with a checkpoint_dir", getattr(self, name))

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
