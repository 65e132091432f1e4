"""Word vocabularies with Keras-compatible ids."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .. import _validation as V
from .tokenizer import Tokenizer

__all__ = ["LEVELS", "TokenVocabulary", "Vocabulary"]

_FORMAT = "rnnkit.text.Vocabulary"
_FORMAT_VERSION = 1


def _check_int(owner: str, name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        V.fail(owner, name, f"an integer >= {minimum}", value, TypeError)
    if value < minimum:
        V.fail(owner, name, f"an integer >= {minimum}", value)
    return int(value)


class Vocabulary:
    """A ranked word list that maps words to integer ids and back.

    Ids follow the convention of ``keras.datasets.imdb``: ``0`` is padding,
    ``1`` marks the start of a sequence, ``2`` stands for out-of-vocabulary
    words, and the word of frequency rank ``r`` (``r = 1`` for the most
    frequent) has id ``r + index_from``. With the default ``index_from=3``
    the ids ``0..3`` are reserved (``3`` is never used, as in Keras) and the
    most frequent word has id ``4``.

    Parameters
    ----------
    words : sequence of str
        Distinct words, most frequent first (``words[0]`` has rank 1).
    num_words : int, optional
        Upper bound (exclusive) on ids, as in Keras: words whose id would be
        ``num_words`` or more stay known but encode as the OOV id. Must be
        greater than ``index_from``. ``None`` gives every word its own id.
    index_from : int, default 3
        Offset added to word ranks; must be at least 2 so that ids 0, 1 and
        2 stay reserved.
    tokenizer : Tokenizer, optional
        Used by :meth:`encode`. Defaults to ``Tokenizer()``.

    Attributes
    ----------
    PAD_ID, START_ID, OOV_ID : int
        The reserved ids ``0``, ``1`` and ``2``.

    See Also
    --------
    Vocabulary.build : count words in texts.
    Vocabulary.from_keras_word_index : use Keras's IMDb word index.

    Examples
    --------
    >>> vocab = Vocabulary.build(["the cat sat", "the dog sat down"], num_words=6)
    >>> vocab.encode(["the cat ran"])
    [[1, 4, 2, 2]]
    >>> vocab.decode([1, 4, 5, 2])
    '<start> the sat <oov>'
    """

    PAD_ID = 0
    START_ID = 1
    OOV_ID = 2
    PAD_TOKEN = "<pad>"
    START_TOKEN = "<start>"
    OOV_TOKEN = "<oov>"
    UNUSED_TOKEN = "<unused>"

    def __init__(
        self,
        words: Sequence[str],
        *,
        num_words: int | None = None,
        index_from: int = 3,
        tokenizer: Tokenizer | None = None,
    ) -> None:
        index_from = _check_int("Vocabulary", "index_from", index_from, 2)
        if num_words is not None:
            num_words = _check_int("Vocabulary", "num_words", num_words, index_from + 1)
        if tokenizer is None:
            tokenizer = Tokenizer()
        elif not isinstance(tokenizer, Tokenizer):
            V.fail("Vocabulary", "tokenizer", "an rnnkit.text.Tokenizer", tokenizer, TypeError)
        if isinstance(words, (str, bytes, Mapping, set, frozenset)):
            V.fail("Vocabulary", "words", "a sequence of str in rank order", words, TypeError)
        words = list(words)
        for w in words:
            if not isinstance(w, str) or not w:
                V.fail("Vocabulary", "words", "non-empty strings", w)
        if len(set(words)) != len(words):
            dupes = sorted(w for w, n in Counter(words).items() if n > 1)
            raise ValueError(
                f"Vocabulary: `words` expected distinct words, received the duplicates {dupes[:5]}."
            )
        self.index_from = index_from
        self.num_words = num_words
        self.tokenizer = tokenizer
        self._words: tuple[str, ...] = tuple(words)
        size = self.size
        # Every known word maps to its id, or to OOV_ID when num_words cuts it.
        self._ids: dict[str, int] = {
            w: i if i < size else self.OOV_ID
            for i, w in enumerate(self._words, start=index_from + 1)
        }

    # ------------------------------------------------------------------ building
    @classmethod
    def build(
        cls,
        texts: Iterable[str],
        *,
        num_words: int | None = None,
        min_count: int = 1,
        index_from: int = 3,
        tokenizer: Tokenizer | None = None,
    ) -> Vocabulary:
        """Count the words of ``texts`` and rank them by frequency.

        Ties are broken by first appearance, so the result is deterministic.

        Parameters
        ----------
        texts : iterable of str
            Training texts.
        num_words : int, optional
            Give own ids only below ``num_words`` (see :class:`Vocabulary`).
        min_count : int, default 1
            Drop words seen fewer times.
        index_from : int, default 3
            Offset added to ranks.
        tokenizer : Tokenizer, optional
            Defaults to ``Tokenizer()``.

        Returns
        -------
        Vocabulary
        """
        if isinstance(texts, str):
            raise TypeError(
                "Vocabulary.build: `texts` expected an iterable of str, not a single str, "
                "received a str."
            )
        min_count = _check_int("Vocabulary.build", "min_count", min_count, 1)
        tokenizer = Tokenizer() if tokenizer is None else tokenizer
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(tokenizer(text))
        words = [w for w, n in counts.most_common() if n >= min_count]
        return cls(words, num_words=num_words, index_from=index_from, tokenizer=tokenizer)

    @classmethod
    def from_keras_word_index(
        cls,
        word_index: Mapping[str, int],
        num_words: int | None = None,
        index_from: int = 3,
        *,
        tokenizer: Tokenizer | None = None,
    ) -> Vocabulary:
        """Build the vocabulary of ``keras.datasets.imdb`` from its word index.

        ``vocab.encode(texts, unknown="skip")`` then gives the same ids as
        ``imdb.load_data(num_words=num_words, index_from=index_from)``.

        Parameters
        ----------
        word_index : mapping of str to int
            Word to rank (1 = most frequent), e.g. from
            :func:`rnnkit.datasets.imdb.get_word_index`. Ranks must be
            exactly ``1..len(word_index)``.
        num_words : int, optional
            Give own ids only below ``num_words``; rarer words encode as OOV.
        index_from : int, default 3
            Offset added to ranks.
        tokenizer : Tokenizer, optional
            Defaults to :meth:`Tokenizer.keras_imdb`, the tokenisation the
            index was built with.

        Returns
        -------
        Vocabulary
        """
        if not isinstance(word_index, Mapping):
            V.fail(
                "Vocabulary.from_keras_word_index",
                "word_index",
                "a mapping of word to rank",
                word_index,
                TypeError,
            )
        words: list[str | None] = [None] * len(word_index)
        for word, rank in word_index.items():
            if (
                isinstance(rank, bool)
                or not isinstance(rank, (int, np.integer))
                or not 1 <= rank <= len(words)
            ):
                raise ValueError(
                    f"Vocabulary.from_keras_word_index: `word_index` expected the ranks "
                    f"1..{len(words)}, received {V.describe(rank)} for {word!r}."
                )
            if words[rank - 1] is not None:
                raise ValueError(
                    f"Vocabulary.from_keras_word_index: `word_index` expected distinct ranks, "
                    f"received rank {rank} for both {words[rank - 1]!r} and {word!r}."
                )
            words[rank - 1] = word
        tokenizer = Tokenizer.keras_imdb() if tokenizer is None else tokenizer
        return cls(words, num_words=num_words, index_from=index_from, tokenizer=tokenizer)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ lookups
    @property
    def size(self) -> int:
        """Number of ids (one more than the largest id): the ``input_dim`` of an embedding."""
        if self.num_words is not None:
            return self.num_words
        return self.index_from + 1 + len(self._words)

    def __len__(self) -> int:
        return self.size

    def __contains__(self, word: object) -> bool:
        """Whether ``word`` has its own id (it is known and not cut by ``num_words``)."""
        return self._ids.get(word, self.OOV_ID) != self.OOV_ID

    @property
    def words(self) -> tuple[str, ...]:
        """All known words, most frequent first (including those cut by ``num_words``)."""
        return self._words

    @property
    def word_index(self) -> dict[str, int]:
        """Word to rank (1-based), in the format of Keras's ``get_word_index()``."""
        return {w: i + 1 for i, w in enumerate(self._words)}

    def token_to_id(self, token: str) -> int:
        """Return the id of ``token``; :attr:`OOV_ID` if it is unknown or cut by ``num_words``."""
        return self._ids.get(token, self.OOV_ID)

    def id_to_token(self, idx: int) -> str:
        """Return the word (or special token) of id ``idx``.

        Raises
        ------
        ValueError
            If ``idx`` is negative or not below :attr:`size`.
        """
        if isinstance(idx, bool) or not isinstance(idx, (int, np.integer)):
            V.fail("Vocabulary.id_to_token", "idx", "an integer id", idx, TypeError)
        idx = int(idx)
        if idx == self.PAD_ID:
            return self.PAD_TOKEN
        if idx == self.START_ID:
            return self.START_TOKEN
        if idx == self.OOV_ID:
            return self.OOV_TOKEN
        if not 0 <= idx < self.size:
            V.fail("Vocabulary.id_to_token", "idx", f"an id in [0, {self.size})", idx)
        offset = idx - self.index_from - 1
        if 0 <= offset < len(self._words):
            return self._words[offset]
        return self.UNUSED_TOKEN

    # ------------------------------------------------------------------ encoding
    def encode_tokens(
        self, tokens: Iterable[str], *, add_start: bool = True, unknown: str = "oov"
    ) -> list[int]:
        """Map already tokenised words to ids.

        Parameters
        ----------
        tokens : iterable of str
            Words.
        add_start : bool, default True
            Prepend :attr:`START_ID`.
        unknown : {"oov", "skip"}, default "oov"
            What to do with words that are not in the vocabulary at all:
            encode them as :attr:`OOV_ID`, or leave them out (what Keras's
            IMDb data did with words absent from the training set). Words that
            are known but cut by ``num_words`` always become :attr:`OOV_ID`.

        Returns
        -------
        list of int
        """
        if not isinstance(unknown, str) or unknown not in ("oov", "skip"):
            V.fail("Vocabulary.encode", "unknown", "'oov' or 'skip'", unknown)
        ids = [self.START_ID] if add_start else []
        get = self._ids.get
        if unknown == "oov":
            ids.extend(get(t, self.OOV_ID) for t in tokens)
        else:
            ids.extend(i for i in map(get, tokens) if i is not None)
        return ids

    def encode(
        self, texts: Iterable[str], *, add_start: bool = True, unknown: str = "oov"
    ) -> list[list[int]]:
        """Tokenise and encode texts.

        Parameters
        ----------
        texts : iterable of str
            The texts; pass ``[text]`` for a single one.
        add_start : bool, default True
            Prepend :attr:`START_ID` to each sequence.
        unknown : {"oov", "skip"}, default "oov"
            See :meth:`encode_tokens`.

        Returns
        -------
        list of list of int
            One id sequence per text (feed it to
            :func:`rnnkit.text.pad_sequences`).
        """
        if isinstance(texts, str):
            raise TypeError(
                "Vocabulary.encode: `texts` expected an iterable of str, not a single str "
                "(use encode([text])), received a str."
            )
        return [
            self.encode_tokens(self.tokenizer(t), add_start=add_start, unknown=unknown)
            for t in texts
        ]

    def decode(self, ids: Iterable[int], *, skip_special: bool = False) -> str:
        """Turn one id sequence back into space-separated words.

        Parameters
        ----------
        ids : sequence of int
            One sequence (a list or 1-D array).
        skip_special : bool, default False
            Leave out padding, start and unused ids (``<oov>`` is kept: it
            stands for a word).

        Returns
        -------
        str
        """
        if np.ndim(ids) != 1:
            raise ValueError(
                f"Vocabulary.decode: `ids` expected one sequence (1-D; decode a batch with "
                f"[vocab.decode(s) for s in batch]), received {np.ndim(ids)}-D input."
            )
        skipped = {self.PAD_TOKEN, self.START_TOKEN, self.UNUSED_TOKEN} if skip_special else set()
        tokens = (self.id_to_token(i) for i in ids)
        return " ".join(t for t in tokens if t not in skipped)

    # ------------------------------------------------------------------ saving
    def to_json(self, indent: int | None = None) -> str:
        """Serialise the vocabulary (words, settings and tokenizer) to JSON.

        Parameters
        ----------
        indent : int, optional
            Passed to :func:`json.dumps`.

        Returns
        -------
        str
            Text that :meth:`from_json` turns back into an equal vocabulary.
        """
        payload = {
            "format": _FORMAT,
            "version": _FORMAT_VERSION,
            "index_from": self.index_from,
            "num_words": self.num_words,
            "tokenizer": self.tokenizer.get_config(),
            "words": list(self._words),
        }
        return json.dumps(payload, ensure_ascii=False, indent=indent)

    @classmethod
    def from_json(cls, text: str | bytes) -> Vocabulary:
        """Rebuild a vocabulary from :meth:`to_json`'s output.

        Raises
        ------
        ValueError
            If ``text`` is not a serialised rnnkit vocabulary.
        """
        owner = "Vocabulary.from_json"
        if not isinstance(text, (str, bytes, bytearray)):
            V.fail(owner, "text", "a str or bytes of JSON", text, TypeError)
        try:
            payload = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise ValueError(
                f"{owner}: `text` expected JSON, received text that is not ({exc})."
            ) from None
        if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
            got = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
            raise ValueError(
                f"{owner}: `text` expected JSON written by Vocabulary.to_json "
                f"(format {_FORMAT!r}), received format {V.describe(got)}."
            )
        version = payload.get("version")
        if isinstance(version, bool) or version != _FORMAT_VERSION:
            V.fail(owner, "version", f"{_FORMAT_VERSION}", version)
        words = payload.get("words")
        if not isinstance(words, list):
            V.fail(owner, "words", "a JSON list of words", words)
        tokenizer = payload.get("tokenizer")
        if not isinstance(tokenizer, dict):
            V.fail(owner, "tokenizer", "a JSON object of Tokenizer settings", tokenizer)
        num_words, index_from = payload.get("num_words"), payload.get("index_from")
        if num_words is not None and (
            isinstance(num_words, bool) or not isinstance(num_words, int)
        ):
            V.fail(owner, "num_words", "null or an integer", num_words)
        if isinstance(index_from, bool) or not isinstance(index_from, int):
            V.fail(owner, "index_from", "an integer", index_from)
        return cls(
            words,
            num_words=num_words,
            index_from=index_from,
            tokenizer=Tokenizer.from_config(tokenizer),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return (
            self._words == other._words
            and self.index_from == other.index_from
            and self.num_words == other.num_words
            and self.tokenizer == other.tokenizer
        )

    def __repr__(self) -> str:
        return (
            f"Vocabulary({len(self._words)} words, size={self.size}, "
            f"index_from={self.index_from}, num_words={self.num_words})"
        )


# ---------------------------------------------------------------------------------------------
# Language-model vocabularies: words or characters, every id a softmax class
# ---------------------------------------------------------------------------------------------
_TOKEN_FORMAT = "rnnkit.text.TokenVocabulary"
LEVELS = ("word", "char")


class TokenVocabulary:
    """The token list of a language model: ids ``0 .. size - 1``, each a class of its softmax.

    Unlike :class:`Vocabulary` (Keras's IMDb ids, with reserved padding and start ids), no id is
    wasted: a language model predicts every id.

    Word level: a text is its lines, each split at white space and followed by :attr:`EOS`
    (``<eos>``, Mikolov's end of sentence); a word outside the vocabulary is :attr:`UNK`
    (``<unk>``). A corpus that already writes ``<unk>`` (Penn Treebank) keeps it: the token
    ``<unk>`` in the text is the unknown word itself, never a second entry. ``lower=True``
    lower-cases every text before looking words up; ``encode(..., fold_case=True)`` (used for
    prompts) looks an unknown word up again in lower case, so that "Tokyo" finds PTB's "tokyo". Character level: every character is a token (line breaks
    included, no ``<eos>``); a character never seen in training is ``<unk>``.

    Ids: ``<unk>`` then ``<eos>`` (word level) first, then the tokens by falling frequency, ties
    by first appearance (deterministic).

    >>> v = TokenVocabulary.build("the cat sat\\nthe dog\\n", level="word")
    >>> v.tokens
    ('<unk>', '<eos>', 'the', 'cat', 'sat', 'dog')
    >>> v.encode("the bird sat")
    [2, 0, 4, 1]
    """

    UNK = "<unk>"
    EOS = "<eos>"

    def __init__(self, tokens: Sequence[str], level: str = "word", lower: bool = False) -> None:
        owner = "TokenVocabulary"
        if level not in LEVELS:
            V.fail(owner, "level", "'word' or 'char'", level)
        if not isinstance(lower, bool):
            V.fail(owner, "lower", "a bool", lower, TypeError)
        if isinstance(tokens, (str, bytes, Mapping, set, frozenset)):
            V.fail(owner, "tokens", "a sequence of str in id order", tokens, TypeError)
        tokens = tuple(tokens)
        for t in tokens:
            if not isinstance(t, str) or not t:
                V.fail(owner, "tokens", "non-empty strings", t)
        if len(set(tokens)) != len(tokens):
            dupes = sorted(t for t, n in Counter(tokens).items() if n > 1)
            raise ValueError(f"{owner}: `tokens` expected distinct tokens, received {dupes[:5]}.")
        specials = (self.UNK, self.EOS) if level == "word" else (self.UNK,)
        if tokens[: len(specials)] != specials:
            V.fail(owner, "tokens", f"a list starting with {list(specials)}", list(tokens[:2]))
        self.level = level
        self.lower = lower
        self.tokens = tokens
        self._ids = {t: i for i, t in enumerate(tokens)}

    @property
    def unk_id(self) -> int:
        return 0

    @property
    def eos_id(self) -> int | None:
        """The id of ``<eos>`` (word level), ``None`` at character level."""
        return 1 if self.level == "word" else None

    @property
    def size(self) -> int:
        return len(self.tokens)

    def __len__(self) -> int:
        return len(self.tokens)

    # ------------------------------------------------------------------ tokenising
    def tokenize(self, text: str, *, eos: bool = True) -> list[str]:
        """The tokens of ``text``: characters, or words with ``<eos>`` after each line
        (``eos=False``: none after a last line that has no line break, as a prompt)."""
        if not isinstance(text, str):
            V.fail("TokenVocabulary.tokenize", "text", "a str", text, TypeError)
        if self.lower:
            text = text.lower()
        if self.level == "char":
            return list(text)
        lines = text.split("\n")
        out: list[str] = []
        for k, line in enumerate(lines):
            words = line.split()
            out.extend(words)
            last = k == len(lines) - 1
            if not last and words:  # blank lines add no <eos>
                out.append(self.EOS)
            elif last and words and eos:
                out.append(self.EOS)
        return out

    @classmethod
    def build(
        cls,
        text: str,
        level: str = "word",
        *,
        max_size: int | None = None,
        min_count: int = 1,
        lower: bool = False,
    ) -> TokenVocabulary:
        """Count the tokens of the training ``text``.

        Parameters
        ----------
        text : str
            The training text.
        level : {"word", "char"}
        max_size : int, optional
            At most this many ids, the special tokens included (the rarest tokens go).
        min_count : int, default 1
            Drop tokens seen fewer times.
        lower : bool, default False
            Lower-case every text first (training text, prompts, evaluated text).
        """
        owner = "TokenVocabulary.build"
        if not isinstance(text, str):
            V.fail(owner, "text", "a str", text, TypeError)
        if level not in LEVELS:
            V.fail(owner, "level", "'word' or 'char'", level)
        min_count = _check_int(owner, "min_count", min_count, 1)
        specials = [cls.UNK, cls.EOS] if level == "word" else [cls.UNK]
        if max_size is not None:
            max_size = _check_int(owner, "max_size", max_size, len(specials) + 1)
        probe = cls(specials, level, lower)
        counts = Counter(probe.tokenize(text))
        if not any(t not in specials for t in counts):
            raise ValueError(f"{owner}: `text` expected at least one token, received no token.")
        ranked = [t for t, n in counts.most_common() if n >= min_count and t not in specials]
        if max_size is not None:
            ranked = ranked[: max_size - len(specials)]
        return cls(specials + ranked, level, lower)

    # ------------------------------------------------------------------ ids
    def token_to_id(self, token: str) -> int:
        return self._ids.get(token, 0)

    def id_to_token(self, idx: int) -> str:
        if isinstance(idx, bool) or not isinstance(idx, (int, np.integer)):
            V.fail("TokenVocabulary.id_to_token", "idx", "an integer id", idx, TypeError)
        if not 0 <= idx < self.size:
            V.fail("TokenVocabulary.id_to_token", "idx", f"an id in [0, {self.size})", idx)
        return self.tokens[int(idx)]

    def encode(self, text: str, *, eos: bool = True, fold_case: bool = False) -> list[int]:
        """The ids of :meth:`tokenize`'s tokens (unknown ones: ``0``, ``<unk>``);
        ``fold_case``: an unknown word is looked up again in lower case (prompts)."""
        get = self._ids.get
        tokens = self.tokenize(text, eos=eos)
        if not fold_case or self.level == "char":
            return [get(t, 0) for t in tokens]
        return [get(t, None) or get(t.lower(), 0) for t in tokens]

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ids: characters joined, or words joined by spaces with ``<eos>`` as a line
        break."""
        tokens = [self.id_to_token(int(i)) for i in ids]
        if self.level == "char":
            return "".join(tokens)
        out = []
        for t in tokens:
            if t == self.EOS:
                out.append("\n")
            else:
                out.append(t if not out or out[-1] == "\n" else " " + t)
        return "".join(out)

    # ------------------------------------------------------------------ saving
    def to_json(self, indent: int | None = None) -> str:
        payload = {
            "format": _TOKEN_FORMAT,
            "version": _FORMAT_VERSION,
            "level": self.level,
            "lower": self.lower,
            "tokens": list(self.tokens),
        }
        return json.dumps(payload, ensure_ascii=False, indent=indent)

    @classmethod
    def from_json(cls, text: str | bytes) -> TokenVocabulary:
        owner = "TokenVocabulary.from_json"
        try:
            payload = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError, TypeError) as exc:
            raise ValueError(
                f"{owner}: `text` expected JSON, received text that is not ({exc})."
            ) from None
        if not isinstance(payload, dict) or payload.get("format") != _TOKEN_FORMAT:
            got = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
            raise ValueError(
                f"{owner}: `text` expected JSON written by TokenVocabulary.to_json "
                f"(format {_TOKEN_FORMAT!r}), received format {V.describe(got)}."
            )
        if payload.get("version") != _FORMAT_VERSION:
            V.fail(owner, "version", f"{_FORMAT_VERSION}", payload.get("version"))
        tokens = payload.get("tokens")
        if not isinstance(tokens, list):
            V.fail(owner, "tokens", "a JSON list of tokens", tokens)
        return cls(tokens, payload.get("level"), payload.get("lower"))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TokenVocabulary):
            return NotImplemented
        return (self.tokens, self.level, self.lower) == (other.tokens, other.level, other.lower)

    def __repr__(self) -> str:
        return f"TokenVocabulary({self.size} {self.level} tokens, lower={self.lower})"
