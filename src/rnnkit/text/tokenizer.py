"""Word tokenisation, including an exact reproduction of Keras's IMDb preprocessing.

How Keras's IMDb data was tokenised
-----------------------------------
``keras.datasets.imdb`` ships reviews that were already turned into word
ranks. Comparing its word index (``imdb_word_index.json``) with the raw
``aclImdb`` reviews shows the rule used to build it: the Keras text filter
``!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~`` plus tab and newline is replaced by
spaces, only ASCII letters are lower-cased (the index holds ``"Ángela"``),
the text is split on single spaces, and everything else is kept, including
apostrophes anywhere in a word (``"it's"``, ``"'royale"``), digits, non-ASCII
letters and stray control characters. HTML line breaks are *not* removed:
``<br />`` becomes the word ``"br"``, rank 7 in Keras's index.

:meth:`Tokenizer.keras_imdb` applies exactly that rule. On the 25,000
training reviews it yields the same 88,584 distinct words as Keras's index,
with the same frequency order, and it reproduces every published
``load_data`` sequence we could check (see ``tests/datasets``).

The default :class:`Tokenizer` is meant for new text: it lower-cases all
letters, drops HTML line breaks and simple formatting tags, uses the same
punctuation filter and splits on any whitespace.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .. import _validation as V

__all__ = ["KERAS_FILTERS", "Tokenizer", "tokenize"]

#: Characters that Keras's ``text_to_word_sequence`` replaces by the separator.
KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'

# HTML line breaks and simple formatting tags found in IMDb reviews
# (<br />, <i>, </i>, <p>, <hr>, <em>, ...), with or without a slash.
_HTML_TAG_RE = re.compile(r"<\s*/?\s*(?:br|p|hr|i|b|u|em|strong)\s*/?\s*>", re.IGNORECASE)

_APOSTROPHE_MODES = ("keep", "inner")


class Tokenizer:
    """Split text into lower-cased words.

    Parameters
    ----------
    lower : {True, False, "ascii"}, default True
        ``True`` lower-cases all letters (:meth:`str.lower`), ``"ascii"``
        lower-cases only ``A``-``Z`` (what Keras's IMDb preprocessing did),
        ``False`` keeps the case.
    strip_html : bool, default True
        Replace HTML line breaks (``<br />``, ``<br>``) and simple formatting
        tags (``<i>``, ``</i>``, ``<p>``, ``<hr>``, ``<b>``, ``<u>``, ``<em>``,
        ``<strong>``) by a space before filtering. When ``False`` the tags'
        punctuation is filtered like any other, so ``<br />`` becomes ``"br"``.
    filters : str, default KERAS_FILTERS
        Characters replaced by the separator. The default is Keras's filter:
        ASCII punctuation except the apostrophe, plus tab and newline. Add
        ``"'"`` to split words at apostrophes.
    apostrophes : {"keep", "inner"}, default "keep"
        ``"keep"`` leaves apostrophes where they are (Keras's behaviour);
        ``"inner"`` strips them from the start and end of each word, so
        ``"'royale'"`` becomes ``"royale"`` while ``"it's"`` is kept.
    split : str or None, default None
        Separator. ``None`` splits on any run of whitespace; Keras used
        ``" "``, which keeps other whitespace (e.g. non-breaking spaces)
        inside words.

    See Also
    --------
    Tokenizer.keras_imdb : the exact tokenisation behind ``keras.datasets.imdb``.

    Examples
    --------
    >>> Tokenizer()("It's GREAT.<br /><br />Fly-fishing, too!")
    ["it's", 'great', 'fly', 'fishing', 'too']
    >>> Tokenizer.keras_imdb()("It's GREAT.<br /><br />Fly-fishing, too!")
    ["it's", 'great', 'br', 'br', 'fly', 'fishing', 'too']
    """

    def __init__(
        self,
        *,
        lower: bool | str = True,
        strip_html: bool = True,
        filters: str = KERAS_FILTERS,
        apostrophes: str = "keep",
        split: str | None = None,
    ) -> None:
        if not (lower is True or lower is False or (isinstance(lower, str) and lower == "ascii")):
            V.fail("Tokenizer", "lower", "True, False or 'ascii'", lower)
        V.boolean("Tokenizer", "strip_html", strip_html)
        if not isinstance(filters, str):
            V.fail("Tokenizer", "filters", "a str of characters", filters, TypeError)
        if not isinstance(apostrophes, str) or apostrophes not in _APOSTROPHE_MODES:
            V.fail("Tokenizer", "apostrophes", "'keep' or 'inner'", apostrophes)
        if split is not None and (not isinstance(split, str) or len(split) != 1):
            V.fail("Tokenizer", "split", "None or a single character", split)
        self.lower = lower
        self.strip_html = strip_html
        self.filters = filters
        self.apostrophes = apostrophes
        self.split = split
        separator = " " if split is None else split
        table = {ord(c): separator for c in filters}
        if lower == "ascii":
            # Lower-case first, then filter (as Keras): "J" goes where "j" would.
            table.update(
                {
                    ord(c): table.get(ord(c.lower()), c.lower())
                    for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                    if ord(c) not in table
                }
            )
        self._table = str.maketrans(table)

    @classmethod
    def keras_imdb(cls) -> Tokenizer:
        """Return the tokeniser that reproduces ``keras.datasets.imdb``'s word sequences.

        ASCII-only lower-casing, no HTML stripping (``<br />`` becomes
        ``"br"``), Keras's punctuation filter, apostrophes kept, split on
        single spaces.
        """
        return cls(
            lower="ascii", strip_html=False, filters=KERAS_FILTERS, apostrophes="keep", split=" "
        )

    def __call__(self, text: str) -> list[str]:
        """Tokenise one text.

        Parameters
        ----------
        text : str
            The text.

        Returns
        -------
        list of str
            The words, in order; never contains empty strings.
        """
        if not isinstance(text, str):
            V.fail("Tokenizer", "text", "a str", text, TypeError)
        if self.strip_html:
            text = _HTML_TAG_RE.sub(" ", text)
        if self.lower is True:
            text = text.lower()
        words = text.translate(self._table).split(self.split)
        if self.apostrophes == "inner":
            words = [w.strip("'") for w in words]
        return [w for w in words if w]

    tokenize = __call__

    def tokenize_many(self, texts: Iterable[str]) -> list[list[str]]:
        """Tokenise several texts.

        Parameters
        ----------
        texts : iterable of str
            The texts (a single ``str`` is rejected, to avoid tokenising its
            characters one by one).

        Returns
        -------
        list of list of str
        """
        if isinstance(texts, str):
            raise TypeError(
                "Tokenizer.tokenize_many: `texts` expected an iterable of str, not a single str "
                "(use tokenize(text)), received a str."
            )
        return [self(t) for t in texts]

    def get_config(self) -> dict[str, Any]:
        """Return the constructor arguments as a JSON-serialisable dict."""
        return {
            "lower": self.lower,
            "strip_html": self.strip_html,
            "filters": self.filters,
            "apostrophes": self.apostrophes,
            "split": self.split,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Tokenizer:
        """Rebuild a tokeniser from :meth:`get_config`'s output."""
        if not isinstance(config, dict):
            V.fail("Tokenizer.from_config", "config", "a dict", config, TypeError)
        known = ("lower", "strip_html", "filters", "apostrophes", "split")
        unknown = sorted(str(k) for k in config if k not in known)
        if unknown:
            raise ValueError(
                f"Tokenizer.from_config: `config` expected only the keys {', '.join(known)}, "
                f"received the unknown keys {unknown}."
            )
        return cls(**config)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Tokenizer):
            return NotImplemented
        return self.get_config() == other.get_config()

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"Tokenizer({args})"


_DEFAULT_TOKENIZER = Tokenizer()


def tokenize(text: str) -> list[str]:
    """Tokenise ``text`` with the default :class:`Tokenizer`.

    Lower-cases, removes HTML line breaks and simple formatting tags,
    replaces ASCII punctuation except apostrophes by spaces and splits on
    whitespace.

    Parameters
    ----------
    text : str
        The text.

    Returns
    -------
    list of str

    Examples
    --------
    >>> tokenize("A <i>great</i> film.<br /><br />10/10, wouldn't miss it")
    ['a', 'great', 'film', '10', '10', "wouldn't", 'miss', 'it']
    """
    return _DEFAULT_TOKENIZER(text)
