"""The Kneser-Ney baseline against hand-computed probabilities and against NLTK's
``KneserNeyInterpolated`` (the same definition with a fixed discount)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from rnnkit.tasks.language_model import KneserNey

A, B, C = 0, 1, 2


def p(kn, word, context):
    return float(kn.probabilities(np.array([word]), context=np.array(context))[0])


def test_1_bigram_by_hand():
    # stream a b a b c, D = 0.5. Bigrams ab x2, ba, bc. Continuation counts N1+(. w): a 1 (b a),
    # b 1 (a b), c 1 (b c), total 3; unigram P1(w) = (1 - 0.5 + 0.5 * 3 / 3) / 3 = 1/3 each.
    kn = KneserNey(order=2, discount=0.5).fit(np.array([A, B, A, B, C]), vocab_size=3)
    # P(c | b) = (1 - 0.5 + 0.5 * N1+(b .) = 2 * 1/3) / c(b .) = 2  = 5/12
    assert p(kn, C, [B]) == pytest.approx(5 / 12, abs=1e-12)
    # P(b | a) = (2 - 0.5 + 0.5 * 1 * 1/3) / 2 = 5/6
    assert p(kn, B, [A]) == pytest.approx(5 / 6, abs=1e-12)
    # c is never followed: its context has no counts, all mass goes to the unigram (1/3)
    assert p(kn, A, [C]) == pytest.approx(1 / 3, abs=1e-12)


def test_2_trigram_by_hand_lower_orders_use_continuation_counts():
    kn = KneserNey(order=3, discount=0.5).fit(np.array([A, B, A, B, C]), vocab_size=3)
    # bigram level on continuation counts: N1+(. b a) = 1, N1+(. b c) = 1, so for context b
    # den = 2, N1+(b .) = 2: P2(c | b) = (1 - 0.5 + 0.5 * 2 * 1/3) / 2 = 5/12;
    # trigram: c(a b .) = 2 (aba, abc): P3(c | a b) = (1 - 0.5 + 0.5 * 2 * 5/12) / 2 = 11/24
    assert p(kn, C, [A, B]) == pytest.approx(11 / 24, abs=1e-12)


def test_3_modified_discounts_from_counts_of_counts():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 12, 400)
    kn = KneserNey(order=2).fit(x, vocab_size=12)
    c = kn.counts_[2]
    n1, n2, n3, n4 = (int(np.sum(c == j)) for j in (1, 2, 3, 4))
    assert min(n1, n2, n3, n4) > 0
    Y = n1 / (n1 + 2 * n2)
    expected = (1 - 2 * Y * n2 / n1, 2 - 3 * Y * n3 / n2, 3 - 4 * Y * n4 / n3)
    assert kn.discounts_[2] == pytest.approx(tuple(np.clip(expected, 0.01, [1, 2, 3])))


@pytest.mark.parametrize("order", [1, 2, 3, 5])
@pytest.mark.parametrize("discount", [None, 0.3])
def test_4_probabilities_sum_to_one_in_every_context(order, discount):
    rng = np.random.default_rng(order)
    x = rng.integers(0, 7, 300)
    kn = KneserNey(order=order, discount=discount).fit(x, vocab_size=8)  # id 7 never seen
    for context in ([], [int(x[-1])], x[-4:].tolist(), [7, 7, 7, 7]):
        total = sum(p(kn, w, context) for w in range(8))
        assert total == pytest.approx(1.0, abs=1e-12)
    assert p(kn, 7, x[-4:].tolist()) > 0  # the uniform floor: no token has probability 0


def test_5_same_as_nltk_kneser_ney_interpolated_on_a_small_corpus():
    nltk_lm = pytest.importorskip("nltk.lm")
    from nltk.util import everygrams

    rng = np.random.default_rng(3)
    # first token unique: NLTK divides by zero for a context seen only at the very start
    x = np.concatenate([[9], rng.integers(0, 5, 200)])
    words = [str(i) for i in x]
    ref = nltk_lm.KneserNeyInterpolated(3, discount=0.1)
    ref.fit([everygrams(words, max_len=3)], vocabulary_text=words)
    kn = KneserNey(order=3, discount=0.1, interpolate_unigram=False).fit(x, vocab_size=10)
    checked = 0
    for a in range(6):
        for b in range(5):
            for w in range(5):
                ctx = [9 if a == 5 else a, b]
                expected = ref.score(str(w), [str(c) for c in ctx])
                assert p(kn, w, ctx) == pytest.approx(expected, rel=1e-9, abs=1e-12)
                checked += 1
    assert checked == 150


def test_6_perplexity_is_exp_of_mean_negative_log_probability():
    x = np.array([A, B, A, B, C, A, B])
    kn = KneserNey(order=2, discount=0.5).fit(x, vocab_size=3)
    probs = kn.probabilities(np.array([A, B, C]), context=[C])
    result = kn.perplexity(np.array([A, B, C]), context=[C])
    assert result["perplexity"] == pytest.approx(float(np.exp(-np.mean(np.log(probs)))))
    assert result["tokens"] == 3


def test_7_bad_arguments():
    with pytest.raises(
        ValueError, match=re.escape("KneserNey: `order` expected an integer >= 1, received 0")
    ):
        KneserNey(order=0)
    with pytest.raises(
        ValueError, match=re.escape("KneserNey.fit: `ids` expected at least one token")
    ):
        KneserNey().fit(np.array([], dtype=int), vocab_size=3)
    with pytest.raises(RuntimeError, match="the model is not fitted"):
        KneserNey().probabilities([0])
