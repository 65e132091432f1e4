"""Keras's legacy text API (``keras.preprocessing.text`` of Keras 2, kept in Keras 3 as
``keras.src.legacy.preprocessing.text``), as the keras-io examples use it.

:class:`Tokenizer` here is Keras's word-counting tokenizer (``num_words``, ``fit_on_texts``,
``texts_to_sequences``, ``texts_to_matrix`` ...), with Keras's exact results; it is a different
object from :class:`rnnkit.text.Tokenizer`, which only splits text into words (and reproduces
Keras's IMDb preprocessing). Import it from :mod:`rnnkit.preprocessing.text`, the path that
mirrors ``keras.preprocessing.text``.

How Keras's Tokenizer works (and this one):

* **Splitting** (:func:`text_to_word_sequence`): lower-case (``lower``), each character of
  ``filters`` replaced by ``split``, split on ``split``, empty pieces dropped. With
  ``char_level=True`` (or a text given as a list of tokens) the characters (tokens) are the
  words, lower-cased when ``lower``.
* **Index** (``fit_on_texts``): words ranked by count, most frequent first, ties in the order
  first seen; ranks start at 1 (0 is left for padding); ``oov_token``, if given, takes rank 1.
  Every word is indexed; ``num_words`` only limits what is *used*: ids ``>= num_words`` are
  dropped (or replaced by the OOV id) by ``texts_to_sequences`` and ``sequences_to_texts``.
* **Matrix** (``texts_to_matrix`` / ``sequences_to_matrix``): one row per text, ``num_words``
  columns (``len(word_index) + 1`` without ``num_words``): ``binary`` 1 where a word occurs,
  ``count`` its count, ``freq`` its count over the text's length in words kept, ``tfidf``
  ``(1 + log count) * log(1 + documents / (1 + documents containing it))``.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict, defaultdict

import numpy as np

from .. import _validation as V

__all__ = ["Tokenizer", "text_to_word_sequence", "tokenizer_from_json"]

FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
MODES = ("binary", "count", "tfidf", "freq")


def text_to_word_sequence(text: str, filters: str = FILTERS, lower: bool = True, split=" "):
    """The words of ``text``, as ``keras.preprocessing.text.text_to_word_sequence``."""
    if lower:
        text = text.lower()
    text = text.translate(str.maketrans({c: split for c in filters}))
    return [word for word in text.split(split) if word]


class Tokenizer:
    """Keras's legacy ``Tokenizer``: a word index built from texts, texts to id sequences and
    back, texts to bag-of-words matrices.

    Args:
        num_words: keep only the ``num_words - 1`` most frequent words when converting (None:
            all).
        filters: characters removed from the texts (replaced by ``split``).
        lower: lower-case the texts.
        split: the word separator.
        char_level: every character is a token.
        oov_token: a token for words not in the index (or beyond ``num_words``); it gets id 1.
        analyzer: a function ``text -> list of words`` used instead of the splitting.

    >>> t = Tokenizer(num_words=3, oov_token="<unk>")
    >>> t.fit_on_texts(["the cat sat", "the dog"])
    >>> t.word_index
    {'<unk>': 1, 'the': 2, 'cat': 3, 'sat': 4, 'dog': 5}
    >>> t.texts_to_sequences(["the bird sat"])
    [[2, 1, 1]]
    """

    def __init__(
        self,
        num_words: int | None = None,
        filters: str = FILTERS,
        lower: bool = True,
        split: str = " ",
        char_level: bool = False,
        oov_token: str | None = None,
        analyzer=None,
        document_count: int = 0,
        **kwargs,
    ):
        if "nb_words" in kwargs:  # Keras 1's name
            num_words = kwargs.pop("nb_words")
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments: {kwargs}")
        if num_words is not None and (
            isinstance(num_words, bool) or not isinstance(num_words, int) or num_words < 0
        ):
            V.fail("Tokenizer", "num_words", "None or a non-negative integer", num_words)
        self.num_words = num_words
        self.filters, self.lower, self.split = filters, lower, split
        self.char_level, self.oov_token, self.analyzer = char_level, oov_token, analyzer
        self.document_count = document_count
        self.word_counts: OrderedDict[str, int] = OrderedDict()
        self.word_docs: defaultdict[str, int] = defaultdict(int)
        self.index_docs: defaultdict[int, int] = defaultdict(int)
        self.word_index: dict[str, int] = {}
        self.index_word: dict[int, str] = {}

    # -- splitting ------------------------------------------------------------------------------
    def _words(self, text) -> list[str]:
        if self.char_level or isinstance(text, list):
            if self.lower:
                text = [t.lower() for t in text] if isinstance(text, list) else text.lower()
            return list(text)
        if self.analyzer is not None:
            return self.analyzer(text)
        return text_to_word_sequence(text, self.filters, self.lower, self.split)

    # -- fitting --------------------------------------------------------------------------------
    def fit_on_texts(self, texts) -> None:
        """Count the words of ``texts`` (added to any counted before) and rebuild the index."""
        for text in texts:
            self.document_count += 1
            words = self._words(text)
            for w in words:
                self.word_counts[w] = self.word_counts.get(w, 0) + 1
            for w in set(words):
                self.word_docs[w] += 1
        ranked = sorted(self.word_counts.items(), key=lambda wc: wc[1], reverse=True)  # stable
        vocabulary = ([] if self.oov_token is None else [self.oov_token]) + [w for w, _ in ranked]
        self.word_index = {w: i for i, w in enumerate(vocabulary, start=1)}
        self.index_word = {i: w for w, i in self.word_index.items()}
        for w, docs in self.word_docs.items():
            self.index_docs[self.word_index[w]] = docs

    def fit_on_sequences(self, sequences) -> None:
        """Count documents per id from id sequences (what ``tfidf`` needs)."""
        self.document_count += len(sequences)
        for seq in sequences:
            for i in set(seq):
                self.index_docs[i] += 1

    # -- conversions ----------------------------------------------------------------------------
    def _kept(self, i: int) -> bool:
        return not (self.num_words and i >= self.num_words)

    def texts_to_sequences_generator(self, texts):
        oov = self.word_index.get(self.oov_token)
        for text in texts:
            ids = []
            for w in self._words(text):
                i = self.word_index.get(w)
                if i is None or not self._kept(i):  # unknown, or beyond num_words
                    if self.oov_token is not None and (i is None or oov is not None):
                        ids.append(oov)
                else:
                    ids.append(i)
            yield ids

    def texts_to_sequences(self, texts) -> list[list[int]]:
        """Each text as its word ids (unknown words and ids ``>= num_words`` dropped, or the
        OOV id)."""
        return list(self.texts_to_sequences_generator(texts))

    def sequences_to_texts_generator(self, sequences):
        oov = self.word_index.get(self.oov_token)
        for seq in sequences:
            words = []
            for i in seq:
                w = self.index_word.get(i)
                if w is not None and self._kept(i):
                    words.append(w)
                elif self.oov_token is not None and oov is not None:
                    words.append(self.index_word[oov])
            yield " ".join(words)

    def sequences_to_texts(self, sequences) -> list[str]:
        """Each id sequence as its words joined by spaces (the inverse, up to filtering)."""
        return list(self.sequences_to_texts_generator(sequences))

    def texts_to_matrix(self, texts, mode: str = "binary") -> np.ndarray:
        """``sequences_to_matrix(texts_to_sequences(texts), mode)``."""
        return self.sequences_to_matrix(self.texts_to_sequences(texts), mode=mode)

    def sequences_to_matrix(self, sequences, mode: str = "binary") -> np.ndarray:
        """One row per sequence, a column per id (see the module's docstring for ``mode``)."""
        V.choice("Tokenizer", "mode", mode, MODES)
        if self.num_words:
            width = self.num_words
        elif self.word_index:
            width = len(self.word_index) + 1
        else:
            raise ValueError(
                "Specify a dimension (`num_words` argument), or fit on some text data first."
            )
        if mode == "tfidf" and not self.document_count:
            raise ValueError("Fit the Tokenizer on some data before using tfidf mode.")
        out = np.zeros((len(sequences), width))
        for row, seq in enumerate(sequences):
            if not seq:
                continue
            counts: dict[int, int] = {}
            for i in seq:
                if i < width:
                    counts[i] = counts.get(i, 0) + 1
            for i, c in counts.items():
                if mode == "count":
                    out[row, i] = c
                elif mode == "freq":
                    out[row, i] = c / len(seq)
                elif mode == "binary":
                    out[row, i] = 1
                else:  # tfidf
                    tf = 1 + math.log(c)
                    idf = math.log(1 + self.document_count / (1 + self.index_docs.get(i, 0)))
                    out[row, i] = tf * idf
        return out

    # -- saving ---------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """Keras's config: the settings, and the counts and indices as JSON strings."""
        return {
            "num_words": self.num_words,
            "filters": self.filters,
            "lower": self.lower,
            "split": self.split,
            "char_level": self.char_level,
            "oov_token": self.oov_token,
            "document_count": self.document_count,
            "word_counts": json.dumps(self.word_counts),
            "word_docs": json.dumps(self.word_docs),
            "index_docs": json.dumps(self.index_docs),
            "index_word": json.dumps(self.index_word),
            "word_index": json.dumps(self.word_index),
        }

    def to_json(self, **kwargs) -> str:
        """``{"class_name": "Tokenizer", "config": get_config()}`` as JSON, as Keras writes it
        (so Keras's ``tokenizer_from_json`` reads it, and :func:`tokenizer_from_json` reads
        Keras's)."""
        return json.dumps(
            {"class_name": type(self).__name__, "config": self.get_config()}, **kwargs
        )


def tokenizer_from_json(json_string: str) -> Tokenizer:
    """A :class:`Tokenizer` from :meth:`Tokenizer.to_json`'s text (Keras's format)."""
    config = dict(json.loads(json_string)["config"])
    word_counts = json.loads(config.pop("word_counts"))
    word_docs = json.loads(config.pop("word_docs"))
    index_docs = {int(k): v for k, v in json.loads(config.pop("index_docs")).items()}
    index_word = {int(k): v for k, v in json.loads(config.pop("index_word")).items()}
    word_index = json.loads(config.pop("word_index"))
    tokenizer = Tokenizer(**config)
    tokenizer.word_counts = OrderedDict(word_counts)
    tokenizer.word_docs = defaultdict(int, word_docs)
    tokenizer.index_docs = defaultdict(int, index_docs)
    tokenizer.word_index, tokenizer.index_word = word_index, index_word
    return tokenizer
