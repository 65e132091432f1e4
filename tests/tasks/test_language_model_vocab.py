"""Language-model vocabularies (word and character level): ids, <unk> / <eos>, PTB's own
<unk>, limits, JSON round trips."""

from __future__ import annotations

import re

import pytest

from rnnkit.text import TokenVocabulary


def test_1_word_level_ids_eos_and_unknown_words():
    v = TokenVocabulary.build("the cat sat\nthe dog\n\n")
    assert v.tokens == ("<unk>", "<eos>", "the", "cat", "sat", "dog")
    assert v.tokenize("a b\n\nc\n") == ["a", "b", "<eos>", "c", "<eos>"]  # blank lines: no <eos>
    assert v.encode("the bird sat") == [2, 0, 4, 1]
    assert v.encode("the bird sat", eos=False) == [2, 0, 4]
    assert v.decode([2, 3, 1, 5]) == "the cat\ndog"


def test_2_ptb_unk_is_the_unknown_word_not_a_new_one(shared_data):
    text = (shared_data / "ptb" / "ptb.train.txt").read_text(encoding="utf-8")
    v = TokenVocabulary.build(text)
    assert v.size == 10_000  # Mikolov's vocabulary: 9,999 words and <eos>, <unk> among them
    assert v.tokens.count("<unk>") == 1 and v.token_to_id("<unk>") == v.unk_id == 0
    assert v.encode("Tokyo", eos=False) == [0]
    assert v.encode("Tokyo", eos=False, fold_case=True) == [v.token_to_id("tokyo")] != [0]


def test_3_limits_and_ties_by_first_appearance():
    text = "b a c a b d\n"
    v = TokenVocabulary.build(text, max_size=4)
    assert v.tokens == ("<unk>", "<eos>", "b", "a")
    assert TokenVocabulary.build(text, min_count=2).tokens == ("<unk>", "<eos>", "b", "a")
    assert TokenVocabulary.build("Ab Ab\n", lower=True).encode("AB", eos=False) == [2]


def test_4_char_level():
    v = TokenVocabulary.build("abca\nb", level="char")
    assert v.tokens == ("<unk>", "a", "b", "c", "\n") and v.eos_id is None
    assert v.encode("cab!") == [3, 1, 2, 0] and v.decode([3, 4, 1]) == "c\na"


@pytest.mark.parametrize("level", ["word", "char"])
def test_5_json_round_trip(level):
    v = TokenVocabulary.build("Zoë eats\nπ pie\n", level=level)
    again = TokenVocabulary.from_json(v.to_json())
    assert again == v and again.encode("Zoë pie") == v.encode("Zoë pie")


def test_6_bad_arguments():
    with pytest.raises(
        ValueError,
        match=re.escape(
            "TokenVocabulary.build: `text` expected at least one token, received no token."
        ),
    ):
        TokenVocabulary.build(" \n")
    with pytest.raises(
        ValueError,
        match=re.escape("TokenVocabulary: `level` expected 'word' or 'char', received 'byte'"),
    ):
        TokenVocabulary(["<unk>"], level="byte")
    with pytest.raises(
        ValueError,
        match=re.escape(
            "TokenVocabulary.from_json: `text` expected JSON written by TokenVocabulary.to_json"
        ),
    ):
        TokenVocabulary.from_json('{"format": "rnnkit.text.Vocabulary"}')
    with pytest.raises(
        ValueError,
        match=re.escape(
            "TokenVocabulary: `tokens` expected a list starting with ['<unk>', '<eos>']"
        ),
    ):
        TokenVocabulary(["a", "b"])
