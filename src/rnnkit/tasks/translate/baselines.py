"""The floors a translation model is reported beside.

- :class:`CopyBaseline`: the source sentence itself (names, numbers and punctuation carry over,
  so it is not zero).
- :class:`DictionaryBaseline`: each source word replaced by the target word that most often
  appears in the same training pairs (Dice coefficient of the two words' pair counts), in the
  source's order; an unknown word is copied. No model of order or agreement: what a recurrent
  encoder-decoder adds is measured against it.
"""

from __future__ import annotations

from collections import Counter

from ... import _validation as V
from .text import detokenize, tokenize


class CopyBaseline:
    """Translate a sentence by copying it."""

    def fit(self, pairs) -> CopyBaseline:
        return self

    def translate(self, texts: list[str]) -> list[str]:
        return list(texts)


class DictionaryBaseline:
    """Word-by-word translation with a dictionary learned from pairs.

    ``min_count``: pairs in which a source word and its translation must appear together.
    """

    def __init__(self, min_count: int = 2):
        self.min_count = V.positive_int("DictionaryBaseline", "min_count", min_count)

    def fit(self, pairs) -> DictionaryBaseline:
        source_count, target_count, both = Counter(), Counter(), Counter()
        for source, target in pairs:
            s, t = set(tokenize(source)), set(tokenize(target))
            source_count.update(s)
            target_count.update(t)
            both.update((a, b) for a in s for b in t)
        best: dict[str, tuple[float, str]] = {}
        for (a, b), n in both.items():
            if n < self.min_count:
                continue
            dice = 2 * n / (source_count[a] + target_count[b])  # in (0, 1]
            if dice > best.get(a, (0.0, ""))[0] or (dice == best[a][0] and b < best[a][1]):
                best[a] = (dice, b)
        self.dictionary_ = {a: b for a, (_, b) in best.items()}
        return self

    def translate(self, texts: list[str]) -> list[str]:
        if not hasattr(self, "dictionary_"):
            raise RuntimeError("DictionaryBaseline.translate: call fit(pairs) first")
        return [detokenize([self.dictionary_.get(w, w) for w in tokenize(t)]) for t in texts]
