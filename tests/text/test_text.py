"""Tests of rnnkit.text: pad_sequences, Tokenizer and Vocabulary."""

from __future__ import annotations

import json
import re

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
    with pytest.raises(
        ValueError,
        match=re.escape("pad_sequences: `padding` expected 'pre' or 'post', received 'middle'."),
    ):
        pad_sequences(SEQS, padding="middle")
    with pytest.raises(
        ValueError,
        match=re.escape("pad_sequences: `truncating` expected 'pre' or 'post', received 'both'."),
    ):
        pad_sequences(SEQS, truncating="both")
    with pytest.raises(
        ValueError,
        match=re.escape(
            "pad_sequences: `sequences` expected sequences, received 5 (int) at position 1, which has no length."
        ),
    ):
        pad_sequences([[1], 5])
    with pytest.raises(
        ValueError,
        match=re.escape(
            "pad_sequences: `sequences` expected a list (or other sized collection) of sequences, received generator."
        ),
    ):
        pad_sequences(s for s in SEQS)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "pad_sequences: `value` expected a value dtype 'int32' can hold (use dtype=object for variable-length strings), received 'x'."
        ),
    ):
        pad_sequences([["a"]], value="x")
    with pytest.raises(
        ValueError,
        match=re.escape(
            "pad_sequences: `maxlen` expected None or an integer >= 0, received -1 (int)."
        ),
    ):
        pad_sequences(SEQS, maxlen=-1)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "pad_sequences: `sequences` expected elements of shape (3,) (those of the first non-empty sequence), received shape (2,) at position 1."
        ),
    ):
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
    with pytest.raises(
        ValueError,
        match=re.escape("Tokenizer: `lower` expected True, False or 'ascii', received 'yes'."),
    ):
        Tokenizer(lower="yes")
    with pytest.raises(
        ValueError,
        match=re.escape("Tokenizer: `apostrophes` expected 'keep' or 'inner', received 'drop'."),
    ):
        Tokenizer(apostrophes="drop")
    with pytest.raises(
        ValueError,
        match=re.escape("Tokenizer: `split` expected None or a single character, received '  '."),
    ):
        Tokenizer(split="  ")
    with pytest.raises(
        TypeError, match=re.escape("Tokenizer: `text` expected a str, received bytes.")
    ):
        tokenize(b"abc")
    with pytest.raises(
        TypeError,
        match=re.escape(
            "Tokenizer.tokenize_many: `texts` expected an iterable of str, not a single str (use tokenize(text)), received a str."
        ),
    ):
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
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Tokenizer.from_config: `config` expected only the keys lower, strip_html, filters, apostrophes, split, received the unknown keys ['bogus']."
        ),
    ):
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
        ValueError,
        match=re.escape(
            "Vocabulary.id_to_token: `idx` expected an id in [0, 11), received 11 (int)."
        ),
    ):
        vocab.decode([11])
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Vocabulary.decode: `ids` expected one sequence (1-D; decode a batch with [vocab.decode(s) for s in batch]), received 2-D input."
        ),
    ):
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
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Vocabulary.from_json: `text` expected JSON, received text that is not (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))."
        ),
    ):
        Vocabulary.from_json("{")
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Vocabulary.from_json: `text` expected JSON written by Vocabulary.to_json (format 'rnnkit.text.Vocabulary'), received format None (NoneType)."
        ),
    ):
        Vocabulary.from_json('{"words": []}')
    payload = json.loads(Vocabulary.build(TEXTS).to_json())
    payload["version"] = 99
    with pytest.raises(
        ValueError,
        match=re.escape("Vocabulary.from_json: `version` expected 1, received 99 (int)."),
    ):
        Vocabulary.from_json(json.dumps(payload))


def test_vocabulary_from_keras_word_index():
    word_index = {"the": 1, "and": 2, "br": 3, "it's": 4, "film": 5}
    vocab = Vocabulary.from_keras_word_index(word_index, num_words=7)
    assert vocab.tokenizer == Tokenizer.keras_imdb()
    # Ids are rank + 3 (Keras's index_from); "it's" (7) and "film" (8) are cut by num_words.
    assert vocab.encode(["The film<br />and it's Zzz"]) == [[1, 4, 2, 6, 5, 2, 2]]
    assert vocab.encode(["The film<br />and it's Zzz"], unknown="skip") == [[1, 4, 2, 6, 5, 2]]
    assert vocab.word_index == word_index
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Vocabulary.from_keras_word_index: `word_index` expected the ranks 1..2, received 3 (int) for 'b'."
        ),
    ):
        Vocabulary.from_keras_word_index({"a": 1, "b": 3})
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Vocabulary.from_keras_word_index: `word_index` expected distinct ranks, received rank 1 for both 'a' and 'b'."
        ),
    ):
        Vocabulary.from_keras_word_index({"a": 1, "b": 1})


def test_vocabulary_validation():
    with pytest.raises(
        ValueError,
        match=re.escape("Vocabulary: `num_words` expected an integer >= 4, received 3 (int)."),
    ):
        Vocabulary(["a"], num_words=3)
    with pytest.raises(
        ValueError,
        match=re.escape("Vocabulary: `index_from` expected an integer >= 2, received 1 (int)."),
    ):
        Vocabulary(["a"], index_from=1)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Vocabulary: `words` expected distinct words, received the duplicates ['a']."
        ),
    ):
        Vocabulary(["a", "b", "a"])
    with pytest.raises(
        TypeError,
        match=re.escape(
            "Vocabulary.encode: `texts` expected an iterable of str, not a single str (use encode([text])), received a str."
        ),
    ):
        Vocabulary(["a"]).encode("a b")
    with pytest.raises(
        ValueError,
        match=re.escape("Vocabulary.encode: `unknown` expected 'oov' or 'skip', received 'drop'."),
    ):
        Vocabulary(["a"]).encode(["a"], unknown="drop")


# Issue #11 finding 2: a vocab.json whose `words` is an object (or whose settings have the
# wrong types) used to load (the object's keys became the words); now each field is checked.
@pytest.mark.parametrize(
    "field, value, message",
    [
        (
            "words",
            {"the": 1},
            "Vocabulary.from_json: `words` expected a JSON list of words, received dict.",
        ),
        ("words", ["a", 3], "Vocabulary: `words` expected non-empty strings, received 3 (int)."),
        (
            "tokenizer",
            5,
            "Vocabulary.from_json: `tokenizer` expected a JSON object of Tokenizer settings, received 5 (int).",
        ),
        (
            "num_words",
            "9",
            "Vocabulary.from_json: `num_words` expected null or an integer, received '9'.",
        ),
        (
            "index_from",
            3.0,
            "Vocabulary.from_json: `index_from` expected an integer, received 3.0 (float).",
        ),
        ("version", True, "Vocabulary.from_json: `version` expected 1, received True (bool)."),
    ],
)
def test_vocabulary_from_json_checks_every_field(field, value, message):
    payload = json.loads(Vocabulary.build(TEXTS).to_json())
    payload[field] = value
    with pytest.raises((ValueError, TypeError), match=re.escape(message)):
        Vocabulary.from_json(json.dumps(payload))


# pad_sequences: a value the dtype cannot hold is this module's ValueError (numpy raised an
# OverflowError before).
def test_pad_sequences_value_out_of_dtype_range():
    message = (
        "pad_sequences: `sequences` expected sequences of values dtype 'int32' can hold, "
        "received at position 0 values it cannot (Python integer 1099511627776 out of bounds "
        "for int32)."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        pad_sequences([[2**40]])


# Found by tests/text/test_fuzz_text.py: with lower="ascii", an upper-case letter whose lower
# case is a filter used to survive as that letter ("J" with filters="j" gave ["j"]); Keras
# lower-cases first, then filters.
def test_ascii_lowering_happens_before_filtering():
    assert Tokenizer(lower="ascii", filters="j")("aJb jc") == ["a", "b", "c"]
    assert Tokenizer(lower=True, filters="j")("aJb jc") == ["a", "b", "c"]


# Found by the fuzzing: a str as `sequences`, a padding value None or an array gave numpy's
# TypeError / broadcasting ValueError.
@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            {"sequences": "01"},
            ValueError,
            "pad_sequences: `sequences` expected a list (or other sized collection) of "
            "sequences, received '01'.",
        ),
        (
            {"sequences": [[1]], "value": None},
            ValueError,
            "pad_sequences: `value` expected a value dtype 'int32' can hold, received None "
            "(NoneType).",
        ),
        (
            {"sequences": [[1]], "value": np.zeros(2)},
            ValueError,
            "pad_sequences: `value` expected a scalar, received ndarray of shape (2,) and "
            "dtype float64.",
        ),
        (
            {"sequences": [], "value": [[0], []]},
            ValueError,
            "pad_sequences: `value` expected a scalar, received list.",
        ),
        (
            {"sequences": [{"a": 1}]},
            ValueError,
            "pad_sequences: `sequences` expected sequences, received dict at position 0, "
            "which cannot be sliced.",
        ),
    ],
)
def test_pad_sequences_rejects_what_numpy_failed_on(kwargs, error, message):
    with pytest.raises(error, match=re.escape(message)):
        pad_sequences(**kwargs)
