"""IMDb-style sentiment analysis from raw text: vocabulary, padding, model, training, metrics.

The default configuration is the seed's model: the 10,000 most frequent words, reviews padded
or truncated to 200 words (at the front, as ``keras.utils.pad_sequences``), then
``Embedding(10000, 128) -> LSTM(128) -> Dense(1, sigmoid)``, binary cross-entropy, Adam.

>>> from rnnkit.tasks.sentiment import SentimentClassifier, SentimentConfig
>>> clf = SentimentClassifier(SentimentConfig(epochs=1)).fit(texts, labels)  # doctest: +SKIP
>>> clf.predict_proba(["A wonderful, moving film."])  # doctest: +SKIP
array([0.93], dtype=float32)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch

from .. import _validation as V
from ..layers import GRU, LSTM, Bidirectional, Dense, Dropout, Embedding, SimpleRNN
from ..models import Sequential, load_model
from ..models.callbacks import EarlyStopping, ReduceLROnPlateau
from ..models.optimizers import Adam
from ..models.saving import write_atomic_dir
from ..models.splits import split_last
from ..text import Tokenizer, Vocabulary, pad_sequences
from ..utils import set_random_seed

CELLS = {"lstm": LSTM, "gru": GRU, "simple_rnn": SimpleRNN}
TASK_FILE, VOCAB_FILE, MODEL_DIR, NGRAM_DIR = "sentiment.json", "vocab.json", "model", "ngrams"


@dataclass
class SentimentConfig:
    """Settings of a :class:`SentimentClassifier` (defaults: the seed's model and recipe).

    Attributes:
        num_words: vocabulary size, the special ids 0 (pad), 1 (start), 2 (unknown) included.
        maxlen: reviews are truncated (keeping the end) or padded (in front) to this many ids.
        embedding_dim: size of the word vectors.
        cell: 'lstm', 'gru' or 'simple_rnn'.
        units: hidden size of each recurrent layer.
        layers: number of stacked recurrent layers.
        bidirectional: read each review in both directions.
        dropout: dropout on the recurrent layers' inputs and before the output layer.
        word_dropout: fraction of word vectors zeroed as a whole during training (a Dropout
            with ``noise_shape=(None, None, 1)`` after the Embedding).
        recurrent_dropout: dropout on the recurrent state (slower: no fused native path).
        mask_zero: let the recurrent layers skip padding (Keras's seed does not).
        epochs, batch_size, learning_rate: the training recipe (Adam).
        clipnorm: clip each gradient to this norm (None: no clipping, as the seed).
        validation_split: fraction of the training reviews held out to watch overfitting.
        patience: with a validation split, stop when validation accuracy has not improved for
            this many epochs and keep the weights of the best epoch (None: train all epochs).
        reduce_lr: with a validation split, multiply the learning rate by this factor after
            each epoch whose validation loss is no better than the best so far
            (``ReduceLROnPlateau(factor=reduce_lr, patience=1)``; None: a constant rate).
        bucketing: batch reviews of similar length together, so padding costs no compute
            (each batch's result equals its padded computation; see ``Sequential.fit``).
        ngrams: 0 for the recurrent network alone. ``n > 0`` makes a hybrid: an NB-LR bag of
            words and word n-grams up to ``n`` (:class:`BagOfWords` ``kind='nb'``) is trained
            on the same training reviews, and the prediction is a logistic regression on the
            two models' log-odds, fitted on the validation split (needs a
            ``validation_split``), the classic ensemble of a sequence model with NB features
            (Mesnil et al. 2014).
        seed: seeds PyTorch, NumPy and Python before building and training.
    """

    num_words: int = 10000
    maxlen: int = 200
    embedding_dim: int = 128
    cell: str = "lstm"
    units: int = 128
    layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0
    word_dropout: float = 0.0
    recurrent_dropout: float = 0.0
    mask_zero: bool = False
    epochs: int = 3
    batch_size: int = 64
    learning_rate: float = 1e-3
    clipnorm: float | None = None
    validation_split: float = 0.0
    patience: int | None = None
    reduce_lr: float | None = None
    bucketing: bool = False
    ngrams: int = 0
    seed: int = 0

    def validate(self) -> SentimentConfig:
        owner = "SentimentConfig"
        for name in (
            "num_words",
            "maxlen",
            "embedding_dim",
            "units",
            "layers",
            "epochs",
            "batch_size",
        ):
            V.positive_int(owner, name, getattr(self, name))
        if self.num_words < 4:
            V.fail(owner, "num_words", "an integer >= 4 (ids 0-3 are reserved)", self.num_words)
        V.choice(owner, "cell", self.cell, CELLS)
        V.rate(owner, "dropout", self.dropout)
        V.rate(owner, "recurrent_dropout", self.recurrent_dropout)
        V.rate(owner, "word_dropout", self.word_dropout)
        V.rate(owner, "validation_split", self.validation_split)
        if self.patience is not None:
            if (
                not isinstance(self.patience, int)
                or isinstance(self.patience, bool)
                or self.patience < 0
            ):
                V.fail(owner, "patience", "None or a non-negative integer", self.patience)
            if not self.validation_split:
                V.fail(owner, "patience", "to be used with a validation_split > 0", self.patience)
        if self.reduce_lr is not None:
            if (
                isinstance(self.reduce_lr, bool)
                or not isinstance(self.reduce_lr, (int, float))
                or not 0 < self.reduce_lr < 1
            ):
                V.fail(owner, "reduce_lr", "None or a number in (0, 1)", self.reduce_lr)
            if not self.validation_split:
                V.fail(owner, "reduce_lr", "to be used with a validation_split > 0", self.reduce_lr)
        if isinstance(self.ngrams, bool) or not isinstance(self.ngrams, int) or self.ngrams < 0:
            V.fail(owner, "ngrams", "a non-negative integer", self.ngrams)
        if self.ngrams and not self.validation_split:
            V.fail(
                owner,
                "ngrams",
                "to be used with a validation_split > 0 (the blend of the "
                "two models is fitted on it)",
                self.ngrams,
            )
        if not isinstance(self.learning_rate, (int, float)) or self.learning_rate <= 0:
            V.fail(owner, "learning_rate", "a positive number", self.learning_rate)
        if self.clipnorm is not None and (
            not isinstance(self.clipnorm, (int, float)) or self.clipnorm <= 0
        ):
            V.fail(owner, "clipnorm", "None or a positive number", self.clipnorm)
        return self

    @classmethod
    def from_dict(cls, data: dict) -> SentimentConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"SentimentConfig: unknown settings {unknown}; expected some of {sorted(known)}."
            )
        return cls(**data)


def build_model(config: SentimentConfig) -> Sequential:
    """The network for ``config``: Embedding -> recurrent layer(s) -> Dense(1, sigmoid)."""
    cell = CELLS[config.cell]
    model = Sequential(name="sentiment")
    model.add(Embedding(config.num_words, config.embedding_dim, mask_zero=config.mask_zero))
    if config.word_dropout:
        model.add(Dropout(config.word_dropout, noise_shape=(None, None, 1)))
    for k in range(config.layers):
        layer = cell(
            config.units,
            return_sequences=k < config.layers - 1,
            dropout=config.dropout,
            recurrent_dropout=config.recurrent_dropout,
        )
        model.add(Bidirectional(layer) if config.bidirectional else layer)
    if config.dropout:
        model.add(Dropout(config.dropout))
    model.add(Dense(1, activation="sigmoid"))
    return model


def _texts(owner: str, texts) -> list[str]:
    if isinstance(texts, str):
        V.fail(owner, "texts", "a list of review strings (not one string)", texts, TypeError)
    texts = list(texts)
    for k, text in enumerate(texts):
        if not isinstance(text, str):
            V.fail(owner, f"texts[{k}]", "a string", text, TypeError)
        if not text.strip():
            raise ValueError(
                f"{owner}: `texts[{k}]` expected a non-empty review, received an empty string."
            )
    return texts


class SentimentClassifier:
    """Positive / negative classifier of reviews, trained from raw text.

    Follows scikit-learn's conventions: ``__init__`` stores the config, :meth:`fit` returns
    ``self``, learned state ends in ``_`` (``vocab_``, ``model_``, ``history_``).
    """

    def __init__(self, config: SentimentConfig | None = None):
        self.config = config or SentimentConfig()

    # -- preprocessing ------------------------------------------------------------------------
    def encode(self, texts) -> np.ndarray:
        """Token ids ``(n, maxlen)``: start id, words (2 when unknown), padded in front."""
        self._require_fitted("encode")
        ids = self.vocab_.encode(_texts("SentimentClassifier.encode", texts))
        return pad_sequences(
            ids, maxlen=self.config.maxlen, padding="pre", truncating="pre", dtype="int64"
        )

    # -- training -----------------------------------------------------------------------------
    def fit(self, texts, labels, validation_data=None, callbacks=None, verbose="auto"):
        """Build the vocabulary from ``texts``, then the model, then train it."""
        config = self.config.validate()
        texts = _texts("SentimentClassifier.fit", texts)
        labels = np.asarray(labels)
        if labels.shape != (len(texts),) or not np.isin(labels, (0, 1)).all():
            V.fail("SentimentClassifier.fit", "labels", f"{len(texts)} labels, each 0 or 1", labels)
        set_random_seed(config.seed)
        self.vocab_ = Vocabulary.build(texts, num_words=config.num_words, tokenizer=Tokenizer())
        x = self.encode(texts)
        # Shuffled once, so a validation split (taken from the end, as Keras) is not one class
        # of a data set that lists its negative reviews first.
        order = np.random.default_rng(config.seed).permutation(len(texts))
        x, y = x[order], labels[order].astype("float32")
        self.model_ = build_model(config)
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
        if config.reduce_lr is not None:
            callbacks.append(
                ReduceLROnPlateau(monitor="val_loss", factor=config.reduce_lr, patience=1)
            )
        if config.patience is not None:
            callbacks.append(
                EarlyStopping(
                    monitor="val_accuracy", patience=config.patience, restore_best_weights=True
                )
            )
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
        )
        if config.ngrams:
            self._fit_hybrid(*hybrid_parts, verbose)
        return self

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

    def _require_fitted(self, method: str) -> None:
        if not hasattr(self, "vocab_"):
            raise RuntimeError(
                f"SentimentClassifier.{method}: the classifier is not trained; "
                "call fit(texts, labels) or SentimentClassifier.load(path)."
            )

    # -- prediction ---------------------------------------------------------------------------
    def predict_proba(self, texts, batch_size: int = 256) -> np.ndarray:
        """Probability that each review is positive, shape ``(n,)``."""
        self._require_fitted("predict_proba")
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
        return (self.predict_proba(texts, batch_size) > 0.5).astype("int64")

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

    # -- evaluation ---------------------------------------------------------------------------
    def evaluate(self, texts, labels) -> dict:
        """Accuracy, precision, recall, F1 and ROC AUC on ``(texts, labels)``."""
        proba = self.predict_proba(texts)
        return classification_metrics(np.asarray(labels), proba)

    # -- persistence --------------------------------------------------------------------------
    def save(self, path) -> None:
        """Write ``path/`` with the model (safetensors + JSON), the vocabulary and the config,
        atomically."""
        self._require_fitted("save")

        def write(tmp: Path) -> None:
            self.model_.save(tmp / MODEL_DIR)
            (tmp / VOCAB_FILE).write_text(self.vocab_.to_json(), encoding="utf-8")
            task = {"task": "sentiment", "config": asdict(self.config)}
            if getattr(self, "ngram_model_", None) is not None:
                (tmp / NGRAM_DIR).mkdir()
                self.ngram_model_.write_files(tmp / NGRAM_DIR)
                task["blend"] = self.blend_
            (tmp / TASK_FILE).write_text(json.dumps(task, indent=2) + "\n", encoding="utf-8")

        write_atomic_dir(path, write)

    @classmethod
    def load(cls, path) -> SentimentClassifier:
        """Load a classifier saved by :meth:`save`; a directory that is not one is refused."""
        path = Path(path)
        task_file = path / TASK_FILE
        if not task_file.is_file():
            raise ValueError(
                f"SentimentClassifier.load: `path` expected a saved sentiment model "
                f"(a directory with {TASK_FILE}), received {str(path)!r}."
            )
        try:
            task = json.loads(task_file.read_text(encoding="utf-8"))
            if task.get("task") != "sentiment":
                raise ValueError(f"task is {task.get('task')!r}")
            config = SentimentConfig.from_dict(task["config"]).validate()
            vocab = Vocabulary.from_json((path / VOCAB_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise ValueError(
                f"SentimentClassifier.load: `path` expected a saved sentiment model, "
                f"received {str(path)!r}: {e}"
            ) from None
        model = load_model(path / MODEL_DIR)
        clf = cls(config)
        clf.vocab_, clf.model_ = vocab, model
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


def _logit(proba: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)) in float64, ``p`` kept within float32's resolution of 0 and 1."""
    p = np.clip(np.asarray(proba, dtype="float64"), 1e-7, 1 - 1e-7)
    return np.log(p) - np.log1p(-p)


def classification_metrics(labels: np.ndarray, proba: np.ndarray) -> dict:
    """Accuracy, precision, recall, F1 (threshold 0.5) and ROC AUC, as plain floats."""
    from sklearn.metrics import (
        accuracy_score,
        f1_score,
        precision_score,
        recall_score,
        roc_auc_score,
    )

    pred = (proba > 0.5).astype("int64")
    return {
        "accuracy": float(accuracy_score(labels, pred)),
        "precision": float(precision_score(labels, pred, zero_division=0)),
        "recall": float(recall_score(labels, pred, zero_division=0)),
        "f1": float(f1_score(labels, pred, zero_division=0)),
        "roc_auc": float(roc_auc_score(labels, proba)) if len(set(labels)) > 1 else None,
        "n": len(labels),
    }


BAG_KINDS = ("counts", "tfidf", "nb")


class BagOfWords:
    """Bag-of-words logistic regressions (scikit-learn), the seed's contrast to a sequence model.

    ``kind`` picks the features:

    * ``'counts'``: binary word presence (the seed's bag of words);
    * ``'tfidf'``: sublinear TF-IDF of words and word n-grams up to ``ngram``;
    * ``'nb'``: NB-LR (Wang & Manning 2012): binary presence of words and n-grams up to
      ``ngram``, each scaled by its naive-Bayes log-count ratio
      ``log(p(term | positive) / p(term | negative))`` (add-one smoothed) before the logistic
      regression. The ratio is folded into the coefficients once trained, so a trained model is
      a plain linear score over binary n-gram presence.

    Terms seen in at least two training reviews are kept.
    """

    def __init__(self, kind: str = "tfidf", ngram: int = 2, max_features: int | None = None):
        V.choice("BagOfWords", "kind", kind, BAG_KINDS)
        self.kind = kind
        self.ngram = V.positive_int("BagOfWords", "ngram", ngram) if kind != "counts" else 1
        self.max_features = max_features
        self.name = {
            "counts": "bow_logreg",
            "tfidf": f"tfidf_1-{self.ngram}gram_logreg",
            "nb": f"nb_1-{self.ngram}gram_logreg",
        }[kind]

    def _vectorizer(self, **options):
        from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

        options.update(
            tokenizer=Tokenizer(), lowercase=False, token_pattern=None, ngram_range=(1, self.ngram)
        )
        if self.kind == "tfidf":
            return TfidfVectorizer(sublinear_tf=True, **options)
        return CountVectorizer(binary=True, **options)

    def fit(self, texts, labels) -> BagOfWords:
        from sklearn.linear_model import LogisticRegression

        texts = _texts("BagOfWords.fit", texts)
        labels = np.asarray(labels)
        self.vectorizer_ = self._vectorizer(min_df=2, max_features=self.max_features)
        features = self.vectorizer_.fit_transform(texts)
        C = {"counts": 0.1, "tfidf": 4.0, "nb": 0.1}[self.kind]
        self.classifier_ = LogisticRegression(
            C=C, max_iter=1000, solver="liblinear" if self.kind == "nb" else "lbfgs"
        )
        if self.kind == "nb":
            ratio = self._nb_ratio(features, labels)
            self.classifier_.fit(features.multiply(ratio).tocsr(), labels)
            self.classifier_.coef_ = self.classifier_.coef_ * ratio  # a score over presence
        else:
            self.classifier_.fit(features, labels)
        return self

    @staticmethod
    def _nb_ratio(features, labels) -> np.ndarray:
        """Naive-Bayes log-count ratio of each term (add-one smoothing)."""
        p = np.asarray(features[labels == 1].sum(0)).ravel() + 1.0
        q = np.asarray(features[labels == 0].sum(0)).ravel() + 1.0
        return np.log(p / p.sum()) - np.log(q / q.sum())

    def _require_fitted(self, method: str) -> None:
        if not hasattr(self, "classifier_"):
            raise RuntimeError(
                f"BagOfWords.{method}: the model is not trained; call fit(texts, labels)."
            )

    def decision_function(self, texts) -> np.ndarray:
        """Log-odds that each review is positive, shape ``(n,)``."""
        self._require_fitted("decision_function")
        texts = _texts("BagOfWords.decision_function", texts)
        return self.classifier_.decision_function(self.vectorizer_.transform(texts))

    def predict_proba(self, texts) -> np.ndarray:
        """Probability that each review is positive, shape ``(n,)``."""
        self._require_fitted("predict_proba")
        texts = _texts("BagOfWords.predict_proba", texts)
        return self.classifier_.predict_proba(self.vectorizer_.transform(texts))[:, 1]

    def prefix_scores(self, tokens: list[str]) -> np.ndarray:
        """Log-odds after each token of ``tokens`` (the review read up to that token), for
        presence features (``'counts'`` and ``'nb'``); ``[-1]`` equals
        :meth:`decision_function` on the whole review."""
        self._require_fitted("prefix_scores")
        if self.kind == "tfidf":
            raise ValueError(
                "BagOfWords.prefix_scores: `kind` expected 'counts' or 'nb' "
                "(presence features), received 'tfidf'."
            )
        index, coef = self.vectorizer_.vocabulary_, self.classifier_.coef_.reshape(-1)
        seen, score = set(), float(self.classifier_.intercept_[0])
        scores = np.empty(len(tokens))
        for k in range(len(tokens)):
            for n in range(1, self.ngram + 1):
                term = " ".join(tokens[k - n + 1 : k + 1]) if k + 1 >= n else None
                j = index.get(term) if term is not None else None
                if j is not None and j not in seen:
                    seen.add(j)
                    score += coef[j]
            scores[k] = score
        return scores

    def save(self, path) -> None:
        """Write ``path/`` atomically: ``bow.json`` (settings and the vocabulary of n-grams)
        and ``bow.safetensors`` (IDF weights, coefficients, intercept). No pickle."""
        self._require_fitted("save")
        write_atomic_dir(path, self.write_files)

    def write_files(self, folder: Path) -> None:
        """Write ``bow.json`` and ``bow.safetensors`` into the existing ``folder``."""
        from safetensors.torch import save_file

        terms = [""] * len(self.vectorizer_.vocabulary_)
        for term, index in self.vectorizer_.vocabulary_.items():
            terms[index] = term
        tensors = {
            "coef": torch.from_numpy(self.classifier_.coef_.reshape(-1).copy()),
            "intercept": torch.from_numpy(self.classifier_.intercept_.copy()),
        }
        if self.kind == "tfidf":
            tensors["idf"] = torch.from_numpy(self.vectorizer_.idf_.copy())
        meta = {
            "kind": self.kind,
            "ngram": self.ngram,
            "max_features": self.max_features,
            "terms": terms,
        }
        (folder / "bow.json").write_text(json.dumps(meta), encoding="utf-8")
        save_file(tensors, str(folder / "bow.safetensors"))

    @classmethod
    def load(cls, path) -> BagOfWords:
        """Load what :meth:`save` wrote; anything else is refused with a clear error."""
        from safetensors.torch import load_file
        from sklearn.linear_model import LogisticRegression

        path = Path(path)
        try:
            meta = json.loads((path / "bow.json").read_text(encoding="utf-8"))
            tensors = load_file(str(path / "bow.safetensors"))
            if "kind" not in meta:  # written before NB-LR: {"tfidf": bool}
                meta["kind"] = "tfidf" if meta["tfidf"] else "counts"
                meta["ngram"] = 2 if meta["tfidf"] else 1
            model = cls(kind=meta["kind"], ngram=meta["ngram"], max_features=meta["max_features"])
            terms = list(meta["terms"])
            coef, intercept = tensors["coef"].numpy(), tensors["intercept"].numpy()
            if coef.shape != (len(terms),) or intercept.shape != (1,):
                raise ValueError(f"coef has shape {tuple(coef.shape)} for {len(terms)} terms")
            model.vectorizer_ = model._vectorizer(vocabulary=terms)
            model.vectorizer_.vocabulary_ = {term: k for k, term in enumerate(terms)}
            if model.kind == "tfidf":
                idf = tensors["idf"].numpy()
                if idf.shape != (len(terms),):
                    raise ValueError(f"idf has shape {tuple(idf.shape)} for {len(terms)} terms")
                model.vectorizer_.idf_ = idf
        except Exception as e:  # missing files, damaged JSON / safetensors, wrong shapes
            raise ValueError(
                f"BagOfWords.load: `path` expected a saved bag-of-words model, "
                f"received {str(path)!r}: {type(e).__name__}: {e}"
            ) from None
        model.classifier_ = LogisticRegression()
        model.classifier_.classes_ = np.array([0, 1])
        model.classifier_.coef_ = coef.reshape(1, -1)
        model.classifier_.intercept_ = intercept
        return model


def bag_of_words_baseline(
    train_texts,
    train_labels,
    test_texts,
    test_labels,
    kind: str = "tfidf",
    max_features: int | None = None,
) -> dict:
    """Train :class:`BagOfWords` on the training split and report its test metrics."""
    model = BagOfWords(kind=kind, max_features=max_features).fit(train_texts, train_labels)
    proba = model.predict_proba(test_texts)
    return {"model": model.name, **classification_metrics(np.asarray(test_labels), proba)}


def plot_history(history, path) -> None:
    """Training (and validation) loss and accuracy per epoch, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    h = history.history
    epochs = [e + 1 for e in history.epoch]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, key in zip(axes, ("loss", "accuracy")):
        ax.plot(epochs, h[key], "o-", label=f"train {key}")
        if f"val_{key}" in h:
            ax.plot(epochs, h[f"val_{key}"], "s--", label=f"validation {key}")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.set_title(key)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    _save_figure(fig, path)


def plot_trajectory(words: list[str], proba: np.ndarray, path, title: str = "") -> None:
    """The running prediction after each word, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    width = min(max(6.0, 0.28 * len(words)), 40.0)
    fig, ax = plt.subplots(figsize=(width, 3.8))
    xs = np.arange(len(words))
    ax.plot(xs, proba, "-", color="0.3", lw=1)
    ax.scatter(xs, proba, c=proba, cmap="RdYlGn", vmin=0, vmax=1, s=18, zorder=3)
    ax.axhline(0.5, color="0.6", lw=0.8, ls="--")
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("P(positive)")
    ax.set_xticks(xs)
    ax.set_xticklabels(words, rotation=90, fontsize=7)
    ax.set_title(title or "running prediction after each word")
    fig.tight_layout()
    _save_figure(fig, path)


def _save_figure(fig, path) -> None:
    import os
    import tempfile

    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.remove(tmp)
