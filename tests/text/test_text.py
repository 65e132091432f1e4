"""Tests of rnnkit.text: pad_sequences, Tokenizer and Vocabulary."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rnnkit.text import KERAS_FILTERS, Tokenizer, Vocabulary, pad_sequences, tokenize

SEQS = [[1], [2, 3], [4, 5, 6]]


# ---------------------------------------------------------------------------
# pad_sequences: the examples of Keras's documentation, then edge cases
# ---------------------------------------------------------------------------


def check(actual: np.ndarray, expected, dtype="int32"):
    assert actual.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(actual, np.asarray(expected, dtype=dtype))


def test_pad_sequences_keras_doc_examples():
    check(pad_sequences(SEQS), [[0, 0, 1], [0, 2, 3], [4, 5, 6]])
    check(pad_sequences(SEQS, value=-1), [[-1, -1, 1], [-1, 2, 3], [4, 5, 6]])
    check(pad_sequences(SEQS, padding="post"), [[1, 0, 0], [2, 3, 0], [4, 5, 6]])
    check(pad_sequences(SEQS, maxlen=2), [[0, 1], [2, 3], [5, 6]])


def test_pad_sequences_truncating_and_padding_combinations():
    seqs = [[1, 2, 3, 4], [5]]
    check(pad_sequences(seqs, maxlen=3, truncating="post"), [[1, 2, 3], [0, 0, 5]])
    check(pad_sequences(seqs, maxlen=3, truncating="pre", padding="post"), [[2, 3, 4], [5, 0, 0]])
    check(
        pad_sequences(seqs, maxlen=6, padding="post", value=9),
        [[1, 2, 3, 4, 9, 9], [5, 9, 9, 9, 9, 9]],
    )


def test_pad_sequences_empty_sequences_become_padding():
    check(pad_sequences([[], [1, 2]]), [[0, 0], [1, 2]])
    check(pad_sequences([[], []]), np.zeros((2, 0)))
    check(pad_sequences([[], []], maxlen=2, value=7), [[7, 7], [7, 7]])
    check(pad_sequences([]), np.zeros((0, 0)))
    check(pad_sequences([], maxlen=3), np.zeros((0, 3)))


def test_pad_sequences_maxlen_zero():
    check(pad_sequences([[1, 2], [3]], maxlen=0), np.zeros((2, 0)))


def test_pad_sequences_dtypes_and_inputs():
    check(
        pad_sequences([[1.5, 2.5], [3.5]], dtype="float32", value=0.5),
        [[1.5, 2.5], [0.5, 3.5]],
        "float32",
    )
    # Values are cast to dtype, as in Keras.
    check(pad_sequences([[1.7]], maxlen=2), [[0, 1]])
    check(pad_sequences((np.array([1, 2]), (3,)), dtype="int64"), [[1, 2], [0, 3]], "int64")
    strings = pad_sequences([["a"], ["b", "c"]], dtype=object, value="<pad>")
    assert strings.tolist() == [["<pad>", "a"], ["b", "c"]]


def test_pad_sequences_multidimensional_samples():
    out = pad_sequences(
        [np.ones((2, 3)), np.full((1, 3), 2.0)], maxlen=2, dtype="float32", padding="post"
    )
    assert out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out[1], [[2, 2, 2], [0, 0, 0]])


def test_pad_sequences_errors():
    with pytest.raises(ValueError, match=r"padding must be 'pre' or 'post'; received 'middle'"):
        pad_sequences(SEQS, padding="middle")
    with pytest.raises(ValueError, match=r"truncating must be 'pre' or 'post'; received 'both'"):
        pad_sequences(SEQS, truncating="both")
    with pytest.raises(ValueError, match=r"element at position 1 has no length: 5"):
        pad_sequences([[1], 5])
    with pytest.raises(ValueError, match=r"sequences must be a list .* received generator"):
        pad_sequences(s for s in SEQS)
    with pytest.raises(ValueError, match=r"dtype 'int32' cannot hold the str padding value 'x'"):
        pad_sequences([["a"]], value="x")
    with pytest.raises(ValueError, match=r"maxlen must be >= 0; received -1"):
        pad_sequences(SEQS, maxlen=-1)
    with pytest.raises(ValueError, match=r"position 1 have shape \(2,\); expected \(3,\)"):
        pad_sequences([np.ones((1, 3)), np.ones((1, 2))])


# ---------------------------------------------------------------------------
# Tokenizer
# ---------------------------------------------------------------------------


def test_default_tokenizer():
    text = "It's GREAT.<br /><br />Fly-fishing, (really) 10/10!<BR>Naïve <i>café</i>'s end"
    assert tokenize(text) == [
        "it's",
        "great",
        "fly",
        "fishing",
        "really",
        "10",
        "10",
        "naïve",
        "café",
        "'s",
        "end",
    ]
    assert Tokenizer()(text) == tokenize(text)
    assert tokenize("") == [] and tokenize(" \t\n ") == []


def test_keras_imdb_tokenizer_reproduces_keras_preprocessing():
    keras = Tokenizer.keras_imdb()
    assert keras("It's GREAT.<br /><br />Fly-fishing!") == [
        "it's",
        "great",
        "br",
        "br",
        "fly",
        "fishing",
    ]
    # Only ASCII letters are lower-cased, apostrophes stay anywhere, other
    # whitespace than " ", "\t" and "\n" stays inside words.
    assert keras("Ángela 'Royale' A\xa0B\ttab") == ["Ángela", "'royale'", "a\xa0b", "tab"]
    assert keras("killer is-it's laughable(the") == ["killer", "is", "it's", "laughable", "the"]


def test_tokenizer_options():
    assert Tokenizer(apostrophes="inner")("'Royale' rock'n'roll '") == ["royale", "rock'n'roll"]
    assert Tokenizer(lower=False)("The Cat") == ["The", "Cat"]
    assert Tokenizer(strip_html=False)("a<br />b") == ["a", "br", "b"]
    assert Tokenizer(filters=KERAS_FILTERS + "'")("don't") == ["don", "t"]
    assert Tokenizer(split=",", filters="")("a b,c") == ["a b", "c"]
    assert Tokenizer().tokenize_many(["A b", "C"]) == [["a", "b"], ["c"]]


def test_tokenizer_validation():
    with pytest.raises(ValueError, match=r"lower must be True, False or 'ascii'; received 'yes'"):
        Tokenizer(lower="yes")
    with pytest.raises(ValueError, match=r"apostrophes must be 'keep' or 'inner'; received 'drop'"):
        Tokenizer(apostrophes="drop")
    with pytest.raises(
        ValueError, match=r"split must be None or a single character; received '  '"
    ):
        Tokenizer(split="  ")
    with pytest.raises(TypeError, match=r"text must be a str; received bytes"):
        tokenize(b"abc")
    with pytest.raises(TypeError, match=r"not a single str"):
        Tokenizer().tokenize_many("abc")


def test_tokenizer_config_round_trip():
    for tokenizer in (
        Tokenizer(),
        Tokenizer.keras_imdb(),
        Tokenizer(apostrophes="inner", lower=False),
    ):
        config = json.loads(json.dumps(tokenizer.get_config()))
        assert Tokenizer.from_config(config) == tokenizer
    assert Tokenizer() != Tokenizer.keras_imdb()
    with pytest.raises(ValueError, match=r"unknown Tokenizer keys \['bogus'\]"):
        Tokenizer.from_config({"bogus": 1})


# ---------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------

TEXTS = ["The cat sat on the mat.", "The dog sat.", "A cat!"]


def test_vocabulary_build_ranks_by_count_then_first_appearance():
    vocab = Vocabulary.build(TEXTS)
    assert vocab.words == ("the", "cat", "sat", "on", "mat", "dog", "a")
    assert vocab.word_index == {"the": 1, "cat": 2, "sat": 3, "on": 4, "mat": 5, "dog": 6, "a": 7}
    assert vocab.size == len(vocab) == 11  # ids 0..3 reserved, 4..10 for the words
    assert vocab.encode(["the cat"]) == [[1, 4, 5]]
    assert vocab.token_to_id("the") == 4 and vocab.token_to_id("zebra") == 2
    assert Vocabulary.build(TEXTS, min_count=2).words == ("the", "cat", "sat")


def test_vocabulary_num_words_and_unknown_words():
    vocab = Vocabulary.build(TEXTS, num_words=6)  # ids 4 ("the") and 5 ("cat") only
    assert vocab.size == 6
    assert vocab.encode(["The cat sat with a zebra"]) == [[1, 4, 5, 2, 2, 2, 2]]
    # "skip" leaves out unknown words but keeps known words cut by num_words as OOV.
    assert vocab.encode(["The cat sat with a zebra"], unknown="skip") == [[1, 4, 5, 2, 2]]
    assert vocab.encode(["cat"], add_start=False) == [[5]]
    assert "cat" in vocab and "sat" not in vocab and "zebra" not in vocab


def test_vocabulary_decode():
    vocab = Vocabulary.build(TEXTS)
    ids = [0, 0, 1, 4, 5, 2, 3, 10]
    assert vocab.decode(ids) == "<pad> <pad> <start> the cat <oov> <unused> a"
    assert vocab.decode(np.array(ids), skip_special=True) == "the cat <oov> a"
    assert (
        vocab.decode(vocab.encode(["the dog sat on the mat"])[0], skip_special=True)
        == "the dog sat on the mat"
    )
    with pytest.raises(
        ValueError, match=r"id must be in \[0, 11\) for this vocabulary; received 11"
    ):
        vocab.decode([11])
    with pytest.raises(ValueError, match=r"ids must be one sequence \(1-D\); received 2-D input"):
        vocab.decode([[1, 4]])


def test_vocabulary_json_round_trip():
    for vocab in (
        Vocabulary.build(TEXTS + ["Ünïcode wörds 'quoted'"], num_words=8),
        Vocabulary.build(TEXTS, index_from=5, tokenizer=Tokenizer(apostrophes="inner")),
        Vocabulary.from_keras_word_index({"the": 1, "br": 2, "it's": 3}),
    ):
        text = vocab.to_json()
        restored = Vocabulary.from_json(text)
        assert restored == vocab
        assert restored.encode(TEXTS) == vocab.encode(TEXTS)
        assert restored.tokenizer == vocab.tokenizer
        assert Vocabulary.from_json(vocab.to_json(indent=2)) == vocab


def test_vocabulary_from_json_rejects_other_json():
    with pytest.raises(ValueError, match=r"text is not valid JSON"):
        Vocabulary.from_json("{")
    with pytest.raises(ValueError, match=r"must be JSON written by Vocabulary.to_json"):
        Vocabulary.from_json('{"words": []}')
    payload = json.loads(Vocabulary.build(TEXTS).to_json())
    payload["version"] = 99
    with pytest.raises(ValueError, match=r"expected 1, received 99"):
        Vocabulary.from_json(json.dumps(payload))


def test_vocabulary_from_keras_word_index():
    word_index = {"the": 1, "and": 2, "br": 3, "it's": 4, "film": 5}
    vocab = Vocabulary.from_keras_word_index(word_index, num_words=7)
    assert vocab.tokenizer == Tokenizer.keras_imdb()
    # Ids are rank + 3 (Keras's index_from); "it's" (7) and "film" (8) are cut by num_words.
    assert vocab.encode(["The film<br />and it's Zzz"]) == [[1, 4, 2, 6, 5, 2, 2]]
    assert vocab.encode(["The film<br />and it's Zzz"], unknown="skip") == [[1, 4, 2, 6, 5, 2]]
    assert vocab.word_index == word_index
    with pytest.raises(ValueError, match=r"ranks must be the integers 1..2; received 3 for 'b'"):
        Vocabulary.from_keras_word_index({"a": 1, "b": 3})
    with pytest.raises(ValueError, match=r"gives rank 1 to both 'a' and 'b'"):
        Vocabulary.from_keras_word_index({"a": 1, "b": 1})


def test_vocabulary_validation():
    with pytest.raises(ValueError, match=r"num_words must be >= 4; received 3"):
        Vocabulary(["a"], num_words=3)
    with pytest.raises(ValueError, match=r"index_from must be >= 2; received 1"):
        Vocabulary(["a"], index_from=1)
    with pytest.raises(ValueError, match=r"words must be distinct; received duplicates \['a'\]"):
        Vocabulary(["a", "b", "a"])
    with pytest.raises(TypeError, match=r"use encode\(\[text\]\)"):
        Vocabulary(["a"]).encode("a b")
    with pytest.raises(ValueError, match=r"unknown must be 'oov' or 'skip'; received 'drop'"):
        Vocabulary(["a"]).encode(["a"], unknown="drop")
