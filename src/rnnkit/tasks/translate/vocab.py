"""The token <-> id table of one language, saved with the model.

Ids: ``0`` padding, ``1`` start of a target sentence, ``2`` its end, ``3`` an unknown token, then
the training tokens by falling frequency (ties by first appearance), at most ``size`` in all,
each seen at least ``min_count`` times.
"""

from __future__ import annotations

import json
from collections import Counter

from ... import _validation as V

SPECIALS = ("<pad>", "<start>", "<end>", "<unk>")
PAD, START, END, UNK = range(4)


class TokenVocab:
    def __init__(self, tokens: list[str]):
        self.tokens = list(SPECIALS) + [t for t in tokens if t not in SPECIALS]
        self.ids = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def build(cls, sentences, size: int, min_count: int = 1) -> TokenVocab:
        """From tokenised ``sentences`` (lists of tokens)."""
        counts = Counter(t for s in sentences for t in s)
        ranked = sorted(counts, key=lambda t: -counts[t])  # stable: first seen first on ties
        kept = [t for t in ranked if counts[t] >= min_count][: size - len(SPECIALS)]
        return cls(kept)

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens: list[str]) -> list[int]:
        return [self.ids.get(t, UNK) for t in tokens]

    def decode(self, ids) -> list[str]:
        """Tokens up to the first end id (specials dropped)."""
        out = []
        for i in ids:
            i = int(i)
            if i == END:
                break
            if i >= len(SPECIALS):
                out.append(self.tokens[i])
        return out

    def to_json(self) -> str:
        return json.dumps({"tokens": self.tokens[len(SPECIALS) :]}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> TokenVocab:
        data = json.loads(text)
        tokens = data.get("tokens") if isinstance(data, dict) else None
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            V.fail("TokenVocab.from_json", "text", "a JSON object with a list of tokens", data)
        return cls(tokens)
