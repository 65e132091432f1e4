"""Word tokens for translation, the same rule for English and French.

A token is a run of letters or digits, an elided word with its apostrophe (French "l'", "j'",
"qu'"; English "don'" + "t" is the price of one rule for both languages), or one punctuation
mark. Text is lower-cased; typographic apostrophes become ASCII ones. :func:`detokenize` joins
tokens back into a sentence a reader (and BLEU's own tokenizer) takes as written text.
"""

from __future__ import annotations

import re

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})
_TOKEN = re.compile(r"\w+'|\w+|[^\w\s]")
_NO_SPACE_BEFORE = {".", ",", "!", "?", ";", ":", ")", "»", "%", "..."}
_NO_SPACE_AFTER = {"(", "«", "-"}


def tokenize(text: str) -> list[str]:
    """``"J’ai payé."`` -> ``["j'", "ai", "payé", "."]``."""
    return _TOKEN.findall(text.translate(_APOSTROPHES).lower())


def detokenize(tokens: list[str]) -> str:
    """``["j'", "ai", "payé", "."]`` -> ``"j'ai payé."``: no space after an elision or
    an opening mark, none before closing punctuation or a hyphen's second half."""
    out = ""
    for k, token in enumerate(tokens):
        glue = (
            k == 0
            or token in _NO_SPACE_BEFORE
            or token == "-"
            or out.endswith("'")
            or tokens[k - 1] in _NO_SPACE_AFTER
        )
        out += token if glue else " " + token
    return out
