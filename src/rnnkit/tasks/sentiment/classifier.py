"""The sentiment classifier: vocabulary, padding, the network, training, the hybrid with an n-gram
model, prediction, the running prediction per word, persistence."""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from ... import _files
from ... import _validation as V
from ...models import callbacks, load_model
from ...models.callbacks import Callback, EarlyStopping, ReduceLROnPlateau
from ...models.optimizers import Adam
from ...models.splits import split_last
from ...reporting import classification_metrics
from ...text import Tokenizer, Vocabulary, pad_sequences
from ...utils import set_random_seed
from .._estimator import ConfigEstimator
from ._common import _logit, _texts
from .bag_of_words import BagOfWords
from .config import SentimentConfig
from .model import build_model
from .replication import target_replication

TASK_FILE, VOCAB_FILE, MODEL_DIR, NGRAM_DIR = "sentiment.json", "vocab.json", "model", "ngrams"
SAVED_NAMES = frozenset({TASK_FILE, VOCAB_FILE, MODEL_DIR, NGRAM_DIR})
"""Everything :meth:`SentimentClassifier.save` writes in its folder."""


def _backup_callback(config: SentimentConfig):
    """``BackupAndRestore`` into ``config.checkpoint_dir`` (each epoch, or every
    ``checkpoint_steps`` steps), after :meth:`SentimentConfig.check_checkpoint`."""
    config.check_checkpoint()
    return callbacks.BackupAndRestore(
        config.checkpoint_dir,
        save_freq=config.checkpoint_steps or "epoch",
        delete_checkpoint=True,
    )


class TimeBudget(Callback):
    """Stop training within ``minutes``: after the batch that reaches the budget, and before
    an epoch that would end past it (judged by the longest epoch so far). ``clock``: seconds
    (``time.perf_counter``; tests pass their own). ``stopped`` says whether it stopped."""

    def __init__(self, minutes: float, clock=time.perf_counter):
        self.seconds, self.clock = 60.0 * minutes, clock

    def on_train_begin(self, logs=None):
        self.start = self.epoch_start = self.clock()
        self.longest, self.stopped = 0.0, False

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = self.clock()

    def on_train_batch_end(self, batch, logs=None):
        if self.clock() - self.start >= self.seconds:
            self.model.stop_training = self.stopped = True

    def on_epoch_end(self, epoch, logs=None):
        now = self.clock()
        self.longest = max(self.longest, now - self.epoch_start)
        if now - self.start + self.longest > self.seconds:
            self.model.stop_training = self.stopped = True


class SentimentClassifier(ConfigEstimator, ClassifierMixin, BaseEstimator):
    """Positive / negative classifier of reviews, trained from raw text.

    A scikit-learn estimator: its parameters are :class:`SentimentConfig`'s fields
    (``SentimentClassifier(epochs=5)``, ``set_params``, ``clone``, ``cross_val_score``),
    :meth:`fit` returns ``self``, learned state ends in ``_`` (``vocab_``, ``model_``,
    ``history_``, ``classes_``; ``pretrained_``: what ``pretrained_lm`` filled, or ``None``),
    :meth:`predict_proba` has a column per class and :meth:`score` is the accuracy.
    """

    config_class = SentimentConfig

    # -- preprocessing ------------------------------------------------------------------------
    def encode(self, texts) -> np.ndarray:
        """Token ids ``(n, maxlen)``: start id, words (2 when unknown), padded in front."""
        self._require_fitted("encode")
        ids = self.vocab_.encode(_texts("SentimentClassifier.encode", texts))
        return pad_sequences(
            ids, maxlen=self.config.maxlen, padding="pre", truncating="pre", dtype="int64"
        )

    # -- training -----------------------------------------------------------------------------
    def fit(
        self,
        texts,
        labels,
        validation_data=None,
        callbacks=None,
        verbose="auto",
        *,
        device=None,
        distributed: bool = False,
    ):
        """Build the vocabulary from ``texts``, then the model, then train it (on ``device``,
        data-parallel in a torch.distributed group with ``distributed=True``: ``fit``'s)."""
        config = self.config.validate()
        texts = _texts("SentimentClassifier.fit", texts)
        labels = np.asarray(labels)
        if labels.shape != (len(texts),) or not np.isin(labels, (0, 1)).all():
            V.fail("SentimentClassifier.fit", "labels", f"{len(texts)} labels, each 0 or 1", labels)
        config.check_pretrained_lm()  # before any work: the saved model's settings fit
        set_random_seed(config.seed)
        self.vocab_ = Vocabulary.build(texts, num_words=config.num_words, tokenizer=Tokenizer())
        x = self.encode(texts)
        # Shuffled once, so a validation split (taken from the end, as Keras) is not one class
        # of a data set that lists its negative reviews first.
        order = np.random.default_rng(config.seed).permutation(len(texts))
        x, y = x[order], labels[order].astype("float32")
        self.model_ = build_model(config)
        self.pretrained_ = None
        if config.pretrained_lm is not None:
            self.pretrained_ = self._start_from_language_model(config.pretrained_lm)
        self.model_.compile(
            optimizer=Adam(learning_rate=config.learning_rate, clipnorm=config.clipnorm),
            loss="binary_crossentropy",
            metrics=["accuracy"],
        )
        held_out = None  # the caller's validation reviews and labels
        if validation_data is not None:
            val_texts, val_labels = validation_data
            val_texts = val_texts if isinstance(val_texts, str) else list(val_texts)
            held_out = (val_texts, np.asarray(val_labels))
            validation_data = (self.encode(val_texts), held_out[1].astype("float32"))
        if config.ngrams:  # the reviews the network trains on, and those it is validated on
            shuffled = [texts[k] for k in order]
            if held_out is None:  # Sequential.fit's split: the last fraction, in this order
                tr_texts, tr_y, val_texts, val_y = split_last(
                    config.validation_split, shuffled, y, owner="SentimentClassifier.fit"
                )
                hybrid_parts = ((tr_texts, tr_y), (val_texts, val_y))
            else:
                hybrid_parts = ((shuffled, y), held_out)
            if len(np.unique(hybrid_parts[1][1])) < 2:
                raise ValueError(
                    "SentimentClassifier.fit: `ngrams` expected validation reviews "
                    f"of both classes to fit the blend on, received "
                    f"{len(hybrid_parts[1][1])} of one class; use a larger "
                    "validation_split."
                )
        callbacks = list(callbacks or [])
        if config.checkpoint_dir is not None:  # first: restores the state before the others run
            callbacks.insert(0, _backup_callback(config))
        if config.reduce_lr is not None:
            callbacks.append(
                ReduceLROnPlateau(monitor="val_loss", factor=config.reduce_lr, patience=1)
            )
        if config.minutes is not None:
            callbacks.append(TimeBudget(config.minutes))
        stopper = None
        validated = bool(config.validation_split) or validation_data is not None
        if config.patience is not None or (config.minutes is not None and validated):
            # with a time budget and no patience: never stops, remembers the best epoch
            patience = config.patience if config.patience is not None else config.epochs
            stopper = EarlyStopping(
                monitor="val_accuracy", patience=patience, restore_best_weights=True
            )
            callbacks.append(stopper)
        replicate = (
            target_replication(self.model_, config.target_replication)
            if config.target_replication
            else contextlib.nullcontext()
        )
        with replicate:
            self.history_ = self.model_.fit(
                x,
                y,
                batch_size=config.batch_size,
                epochs=config.epochs,
                validation_split=config.validation_split if validation_data is None else 0.0,
                validation_data=validation_data,
                callbacks=callbacks,
                verbose=verbose,
                bucketing=config.bucketing,
                device=device,
                distributed=distributed,
            )
        # the epoch (1-based) whose weights the model holds: early stopping restores its best;
        # under a time budget the best epoch is kept whatever ended training
        self.kept_epoch_ = len(self.history_.epoch)
        if stopper is not None and stopper.best_weights is not None:
            if stopper.stopped_epoch:
                self.kept_epoch_ = stopper.best_epoch + 1
            elif config.minutes is not None and stopper.best_epoch + 1 != self.kept_epoch_:
                self.model_.load_state_dict(stopper.best_weights)
                self.kept_epoch_ = stopper.best_epoch + 1
        if config.ngrams:
            self._fit_hybrid(*hybrid_parts, verbose)
        self.classes_ = np.array([0, 1])
        return self

    def _start_from_language_model(self, path) -> dict:
        """Fill the new network's embedding and LSTM layer(s) from the language model saved
        at ``path`` (:mod:`.pretrained`); returns what was filled. The model is loaded with
        the random generators put back afterwards, so that the run goes on as it would
        without it (same dropout masks, same batches): only the starting weights differ."""
        import torch

        from ..language_model import LanguageModel
        from .pretrained import start_from_language_model

        with torch.random.fork_rng(devices=[]):
            lm = LanguageModel.load(path)
        return start_from_language_model(self.model_, self.vocab_, lm, path)

    def _fit_hybrid(self, train, validation, verbose) -> None:
        """Train the NB-LR n-gram model on the reviews the network trained on (``train``:
        texts, labels), then the blend of the two models' log-odds on the ``validation``
        reviews (which neither trained on)."""
        from sklearn.linear_model import LogisticRegression

        (train_texts, train_y), (val_texts, val_y) = train, validation
        if verbose:
            print(
                f"Hybrid: NB-LR on words and n-grams up to {self.config.ngrams}, "
                f"{len(train_texts):,} reviews; blend fitted on {len(val_texts):,}",
                flush=True,
            )
        self.ngram_model_ = BagOfWords(kind="nb", ngram=self.config.ngrams)
        self.ngram_model_.fit(train_texts, train_y.astype("int64"))
        scores = np.stack(
            [self._rnn_logits(val_texts), self.ngram_model_.decision_function(val_texts)], axis=1
        )
        blend = LogisticRegression(C=1.0).fit(scores, val_y.astype("int64"))
        self.blend_ = {
            "rnn": float(blend.coef_[0, 0]),
            "ngrams": float(blend.coef_[0, 1]),
            "bias": float(blend.intercept_[0]),
        }

    def to(self, device) -> SentimentClassifier:
        """Move the network to ``device`` (predictions run there); returns ``self``."""
        self._require_fitted("to")
        self.model_._move_to("SentimentClassifier.to", device)
        return self

    def _require_fitted(self, method: str) -> None:
        if not hasattr(self, "vocab_"):
            raise RuntimeError(
                f"SentimentClassifier.{method}: the classifier is not trained; "
                "call fit(texts, labels) or SentimentClassifier.load(path)."
            )

    # -- prediction ---------------------------------------------------------------------------
    def predict_proba(self, texts, batch_size: int = 256) -> np.ndarray:
        """``(n, 2)``: the probability of each class (:attr:`classes_` ``[0, 1]``: negative,
        positive) for each review, as scikit-learn's classifiers give it."""
        p = self.positive_probability(texts, batch_size).astype("float64")
        return np.stack([1.0 - p, p], axis=1)

    def positive_probability(self, texts, batch_size: int = 256) -> np.ndarray:
        """Probability that each review is positive, shape ``(n,)``."""
        self._require_fitted("positive_probability")
        texts = texts if isinstance(texts, str) else list(texts)
        if getattr(self, "ngram_model_", None) is None:
            return self.model_.predict(self.encode(texts), batch_size=batch_size).reshape(-1)
        return self._blend(
            self._rnn_logits(texts, batch_size), self.ngram_model_.decision_function(texts)
        )

    def _rnn_logits(self, texts, batch_size: int = 256) -> np.ndarray:
        """The recurrent network's log-odds for each review (float64); checks the texts."""
        return _logit(self.model_.predict(self.encode(texts), batch_size=batch_size).reshape(-1))

    def _blend(self, rnn_logits: np.ndarray, ngram_logits: np.ndarray) -> np.ndarray:
        """The hybrid's probability from its two models' log-odds, as float32."""
        w = self.blend_
        z = w["rnn"] * rnn_logits + w["ngrams"] * ngram_logits + w["bias"]
        return (1.0 / (1.0 + np.exp(-z))).astype("float32")

    def predict(self, texts, batch_size: int = 256) -> np.ndarray:
        """1 (positive) or 0 (negative) for each review."""
        return (self.positive_probability(texts, batch_size) > 0.5).astype("int64")

    def trajectory(self, text: str) -> tuple[list[str], np.ndarray]:
        """The model's running prediction after each word of ``text``.

        Returns the words (as the model sees them, the last ``maxlen - 1`` at most) and, for
        each, the probability of "positive" given the review up to and including that word.
        All prefixes run as one batch, so this works for any architecture (bidirectional too).
        """
        self._require_fitted("trajectory")
        text = _texts("SentimentClassifier.trajectory", [text])[0]
        words = self.vocab_.tokenizer(text)[-(self.config.maxlen - 1) :]
        ids = self.vocab_.encode_tokens(words)  # start id + one id per word
        prefixes = [ids[: k + 2] for k in range(len(words))]
        x = pad_sequences(prefixes, maxlen=self.config.maxlen, dtype="int64")
        proba = self.model_.predict(x, batch_size=256).reshape(-1)
        if getattr(self, "ngram_model_", None) is None:
            return words, proba
        # the n-gram model reads the review from its first word, up to each shown word
        full = self.vocab_.tokenizer(text)
        scores = self.ngram_model_.prefix_scores(full)[len(full) - len(words) :]
        return words, self._blend(_logit(proba), scores)

    def unknown_fraction(self, texts) -> np.ndarray:
        """For each review, the fraction of its words the model has no id for (outside its
        ``num_words`` most frequent training words); 1.0 for a review without words. A
        prediction from mostly unknown words says little: ``rnnkit sentiment predict`` warns
        above one half."""
        self._require_fitted("unknown_fraction")
        texts = _texts("SentimentClassifier.unknown_fraction", texts)
        out = np.ones(len(texts))
        for k, text in enumerate(texts):
            ids = self.vocab_.encode_tokens(self.vocab_.tokenizer(text), add_start=False)
            if ids:
                out[k] = sum(i == self.vocab_.OOV_ID for i in ids) / len(ids)
        return out

    # -- evaluation ---------------------------------------------------------------------------
    def evaluate(self, texts, labels) -> dict:
        """Accuracy, precision, recall, F1 and ROC AUC on ``(texts, labels)``."""
        proba = self.positive_probability(texts)
        return classification_metrics(np.asarray(labels), proba)

    # -- persistence --------------------------------------------------------------------------
    def save(self, path, overwrite: bool = False) -> None:
        """Write ``path/`` with the model (safetensors + JSON), the vocabulary and the config,
        atomically (:func:`rnnkit._files.write_dir`). A classifier already saved at ``path`` is
        replaced (files a user added there are kept); anything else at ``path`` is refused
        unless ``overwrite=True``."""
        self._require_fitted("save")

        def write(tmp: Path) -> None:
            self.model_.save(tmp / MODEL_DIR)
            (tmp / VOCAB_FILE).write_text(self.vocab_.to_json(), encoding="utf-8")
            # the model's settings, without those of the run that trained it (checkpoints)
            # and without the language model it started from (a fact of training, kept as
            # "pretrained": loading must not need that folder)
            config = replace(
                self.config,
                checkpoint_dir=None,
                checkpoint_steps=None,
                resume=False,
                pretrained_lm=None,
            )
            task = {"task": "sentiment", "config": asdict(config)}
            if getattr(self, "pretrained_", None) is not None:
                task["pretrained"] = self.pretrained_
            if getattr(self, "ngram_model_", None) is not None:
                (tmp / NGRAM_DIR).mkdir()
                self.ngram_model_.write_files(tmp / NGRAM_DIR)
                task["blend"] = self.blend_
            (tmp / TASK_FILE).write_text(json.dumps(task, indent=2) + "\n", encoding="utf-8")

        _files.write_dir(
            path,
            write,
            owner="SentimentClassifier.save",
            is_ours=lambda existing: (existing / TASK_FILE).is_file(),
            managed=SAVED_NAMES,
            overwrite=overwrite,
        )

    @classmethod
    def load(cls, path) -> SentimentClassifier:
        """Load a classifier saved by :meth:`save`; a directory that is not one is refused."""
        path = Path(path)
        task_file = path / TASK_FILE
        if not task_file.is_file():
            hint = ""
            if (path / "model" / TASK_FILE).is_file():  # a run folder of `sentiment train`
                hint = f"; it is a training run's folder: its model is {str(path / 'model')!r}"
            raise ValueError(
                f"SentimentClassifier.load: `path` expected a saved sentiment model "
                f"(a directory with {TASK_FILE}), received {str(path)!r}{hint}."
            )
        try:
            task = json.loads(task_file.read_text(encoding="utf-8"))
            if task.get("task") != "sentiment":
                raise ValueError(f"task is {task.get('task')!r}")
            try:
                saved = dict(task["config"])
                saved.setdefault("recipe", "seed")  # saved before recipes: the seed's fields
                config = SentimentConfig.from_dict(saved)
            except (TypeError, ValueError) as e:
                raise ValueError(f"{TASK_FILE}: {e}") from None
            vocab = Vocabulary.from_json((path / VOCAB_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise ValueError(
                f"SentimentClassifier.load: `path` expected a saved sentiment model, "
                f"received {str(path)!r}: {e}"
            ) from None
        model = load_model(path / MODEL_DIR)
        clf = cls(config)
        clf.vocab_, clf.model_, clf.classes_ = vocab, model, np.array([0, 1])
        clf.pretrained_ = task.get("pretrained")
        if config.ngrams:
            blend = task.get("blend")
            if not isinstance(blend, dict) or sorted(blend) != ["bias", "ngrams", "rnn"]:
                raise ValueError(
                    f"SentimentClassifier.load: `path` expected a saved sentiment "
                    f"model, received {str(path)!r}: {TASK_FILE} has no blend "
                    f"weights for its n-gram model"
                )
            clf.blend_ = {k: float(v) for k, v in blend.items()}
            clf.ngram_model_ = BagOfWords.load(path / NGRAM_DIR)
        return clf
