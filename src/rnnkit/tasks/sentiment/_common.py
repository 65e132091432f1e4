"""Checks and conversions the sentiment models share."""

from __future__ import annotations

import numpy as np

from ... import _validation as V


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


def _logit(proba: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)) in float64, ``p`` kept within float32's resolution of 0 and 1."""
    p = np.clip(np.asarray(proba, dtype="float64"), 1e-7, 1 - 1e-7)
    return np.log(p) - np.log1p(-p)
