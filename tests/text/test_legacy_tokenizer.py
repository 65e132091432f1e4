"""Keras's legacy Tokenizer (issue #18 item 7): ``rnnkit.preprocessing.text.Tokenizer``.

Oracle: Keras 3.15.1's ``keras.src.legacy.preprocessing.text.Tokenizer`` on the same texts,
``tests/text/fixtures/keras_tokenizer.json`` made by ``scripts/make_keras_tokenizer_fixtures.py``:
word index, counts, sequences, texts, the four matrix modes and the JSON, for seven settings.
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from rnnkit.preprocessing.text import Tokenizer, text_to_word_sequence, tokenizer_from_json
from rnnkit.text import Tokenizer as WordSplitter

KERAS = json.loads((Path(__file__).parent / "fixtures" / "keras_tokenizer.json").read_text())
TEXTS, PROBE = KERAS["texts"], KERAS["probe"]


def fitted(settings):
    t = Tokenizer(**settings)
    t.fit_on_texts(TEXTS)
    return t


@pytest.mark.parametrize("case", list(KERAS["cases"]))
def test_tokenizer_equals_keras(case):
    """Before: rnnkit had no legacy Tokenizer (ModuleNotFoundError: rnnkit.preprocessing)."""
    want = KERAS["cases"][case]
    t = fitted(want["settings"])
    assert t.word_index == want["word_index"]
    assert list(t.word_index) == list(want["word_index"])  # the same rank order
    assert dict(t.word_counts) == want["word_counts"]
    assert {str(k): v for k, v in t.index_word.items()} == want["index_word"]
    assert t.document_count == want["document_count"]
    seqs = t.texts_to_sequences(PROBE + TEXTS)
    assert seqs == want["sequences"]
    assert t.sequences_to_texts(seqs + [[1, 2, 99, 3]]) == want["texts"]
    for mode, matrix in want["matrix"].items():
        np.testing.assert_allclose(t.texts_to_matrix(PROBE + TEXTS, mode=mode), matrix, rtol=1e-12)
    assert decoded(t.to_json()) == decoded(want["json"])


def decoded(text):
    """The JSON's content (word_docs / index_docs follow set order, which str hashing
    randomises per process, in Keras too: compared as dicts)."""
    data = json.loads(text)
    config = {
        k: json.loads(v)
        if k in {"word_counts", "word_docs", "index_docs", "index_word", "word_index"}
        else v
        for k, v in data["config"].items()
    }
    return data["class_name"], config


@pytest.mark.parametrize("case", list(KERAS["cases"]))
def test_tokenizer_from_kerass_json(case):
    want = KERAS["cases"][case]
    t = tokenizer_from_json(want["json"])
    assert t.word_index == want["word_index"]
    assert t.texts_to_sequences(PROBE + TEXTS) == want["sequences"]
    np.testing.assert_allclose(
        t.texts_to_matrix(PROBE + TEXTS, mode="tfidf"), want["matrix"]["tfidf"], rtol=1e-12
    )


def test_text_to_word_sequence_equals_keras():
    assert [text_to_word_sequence(t) for t in TEXTS] == KERAS["words"]


def test_errors():
    with pytest.raises(ValueError, match=re.escape("Specify a dimension (`num_words` argument)")):
        Tokenizer().texts_to_matrix(["a b"])
    with pytest.raises(
        ValueError,
        match=re.escape("Tokenizer: `mode` expected one of 'binary', 'count', 'tfidf', 'freq'"),
    ):
        fitted({}).texts_to_matrix(["a"], mode="bad")
    with pytest.raises(TypeError, match=re.escape("Unrecognized keyword arguments")):
        Tokenizer(num_word=3)


def test_the_word_splitting_tokenizer_is_unchanged():
    assert WordSplitter()("It's GREAT.<br />Fly") == ["it's", "great", "fly"]
