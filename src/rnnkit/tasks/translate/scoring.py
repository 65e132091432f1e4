"""BLEU and chrF of translations against several references each, with sacrebleu.

A test sentence's references are all its translations in the data (1 to 32 for Tatoeba's
English sentences); sacrebleu takes them as reference streams, a sentence with fewer than the
most having ``None`` in the streams it lacks (its signature then reads ``nrefs:var``).
"""

from __future__ import annotations

from ... import _validation as V


def score(hypotheses: list[str], references: list[list[str]], lowercase: bool = True) -> dict:
    """Corpus BLEU and chrF of ``hypotheses[k]`` against every string in ``references[k]``.

    ``lowercase``: compare without case (rnnkit's translation models write lower-case text);
    the signature in the result says which. Returns ``{"bleu", "chrf", "sentences",
    "bleu_signature", "chrf_signature"}``.
    """
    from sacrebleu.metrics import BLEU, CHRF

    owner = "score"
    if len(hypotheses) != len(references):
        V.fail(owner, "references", f"one list per hypothesis ({len(hypotheses)})", references)
    if not hypotheses:
        V.fail(owner, "hypotheses", "at least one translation", hypotheses)
    for k, refs in enumerate(references):
        if isinstance(refs, str) or not refs or not all(isinstance(r, str) for r in refs):
            V.fail(owner, f"references[{k}]", "a non-empty list of strings", refs)
    n = max(len(refs) for refs in references)
    streams = [[refs[i] if i < len(refs) else None for refs in references] for i in range(n)]
    bleu, chrf = BLEU(lowercase=lowercase), CHRF(lowercase=lowercase)
    return {
        "bleu": bleu.corpus_score(hypotheses, streams).score,
        "chrf": chrf.corpus_score(hypotheses, streams).score,
        "sentences": len(hypotheses),
        "bleu_signature": str(bleu.get_signature()),
        "chrf_signature": str(chrf.get_signature()),
    }
