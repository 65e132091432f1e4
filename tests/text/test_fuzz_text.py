"""Fuzzing the text utilities (issue #11, item 8): pad_sequences against a plain-Python oracle,
the tokenizer's invariants, Vocabulary's JSON round trip and encode/decode, and damaged
vocabulary JSON; any error is one of the documented ones.

The number of examples comes from the Hypothesis profile (tests/conftest.py: 'ci' in the
suite, 'fuzz' = 10,000 per target through benchmarks/fuzz.py)."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from rnnkit.text import KERAS_FILTERS, Tokenizer, Vocabulary, pad_sequences

INT32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)


def documented(error: Exception, *owners: str) -> bool:
    return isinstance(error, (ValueError, TypeError)) and str(error).startswith(owners)


def reference_pad(sequences, maxlen, padding, truncating, value):
    """Keras's rule, written out: cut to maxlen from the front or back, pad on one side."""
    length = max((len(s) for s in sequences), default=0) if maxlen is None else maxlen
    rows = []
    for seq in sequences:
        kept = [] if length == 0 else (seq[-length:] if truncating == "pre" else seq[:length])
        pad = [value] * (length - len(kept))
        rows.append(pad + list(kept) if padding == "pre" else list(kept) + pad)
    return rows, length


@given(
    sequences=st.lists(st.lists(INT32, max_size=12), max_size=8),
    maxlen=st.none() | st.integers(0, 15),
    padding=st.sampled_from(["pre", "post"]),
    truncating=st.sampled_from(["pre", "post"]),
    value=INT32,
)
def test_fuzz_pad_sequences_matches_oracle(sequences, maxlen, padding, truncating, value):
    out = pad_sequences(
        sequences, maxlen=maxlen, padding=padding, truncating=truncating, value=value
    )
    rows, length = reference_pad(sequences, maxlen, padding, truncating, value)
    assert out.dtype == np.int32
    assert out.shape == (len(sequences), length)
    assert out.tolist() == rows


anything = json_values | st.binary(max_size=4) | st.just(np.zeros((2, 2)))


@given(
    sequences=st.lists(st.lists(INT32, max_size=4) | anything, max_size=4) | anything,
    maxlen=st.none() | st.integers(-3, 6) | anything,
    padding=st.sampled_from(["pre", "post"]) | anything,
    truncating=st.sampled_from(["pre", "post"]) | anything,
    value=INT32 | anything,
    dtype=st.sampled_from(["int32", "float32", "int64", object]),
)
def test_fuzz_pad_sequences_any_arguments(sequences, maxlen, padding, truncating, value, dtype):
    try:
        out = pad_sequences(sequences, maxlen, dtype, padding, truncating, value)
    except Exception as e:
        assert documented(e, "pad_sequences: "), repr(e)
    else:
        assert out.shape[0] == len(sequences)


tokenizers = st.builds(
    Tokenizer,
    lower=st.sampled_from([True, False, "ascii"]),
    strip_html=st.booleans(),
    filters=st.sampled_from([KERAS_FILTERS, "", ".,!"]) | st.text(max_size=6),
    apostrophes=st.sampled_from(["keep", "inner"]),
    split=st.none() | st.sampled_from([" ", ",", "|"]),
)


@given(tokenizer=tokenizers, text=st.text(max_size=80))
def test_fuzz_tokenizer_invariants(tokenizer, text):
    tokens = tokenizer(text)
    separator = tokenizer.split
    for token in tokens:
        assert token
        assert not set(token) & set(tokenizer.filters)
        assert (separator is None and not token.split() == [] and len(token.split()) == 1) or (
            separator is not None and separator not in token
        )
        if tokenizer.apostrophes == "inner":
            assert not token.startswith("'") and not token.endswith("'")
    assert Tokenizer.from_config(json.loads(json.dumps(tokenizer.get_config()))) == tokenizer


@given(
    lower=anything | st.sampled_from([True, False, "ascii"]),
    strip_html=anything,
    filters=anything,
    apostrophes=anything | st.sampled_from(["keep", "inner"]),
    split=anything,
    text=anything | st.text(max_size=10),
)
def test_fuzz_tokenizer_any_arguments(lower, strip_html, filters, apostrophes, split, text):
    try:
        Tokenizer(
            lower=lower,
            strip_html=strip_html,
            filters=filters,
            apostrophes=apostrophes,
            split=split,
        )(text)
    except Exception as e:
        assert documented(e, "Tokenizer: "), repr(e)


words = st.text(alphabet="abcdeé' <>", min_size=0, max_size=20)


@given(
    texts=st.lists(words, max_size=10),
    num_words=st.none() | st.integers(4, 30),
    index_from=st.integers(2, 5),
    min_count=st.integers(1, 3),
    tokenizer=tokenizers,
    probe=st.lists(words, max_size=4),
)
def test_fuzz_vocabulary_round_trip(texts, num_words, index_from, min_count, tokenizer, probe):
    if num_words is not None and num_words <= index_from:
        num_words = index_from + 1
    vocab = Vocabulary.build(
        texts, num_words=num_words, min_count=min_count, index_from=index_from, tokenizer=tokenizer
    )
    restored = Vocabulary.from_json(vocab.to_json())
    assert restored == vocab
    assert restored.encode(probe) == vocab.encode(probe)
    for text in probe:
        tokens = tokenizer(text)
        ids = vocab.encode_tokens(tokens, add_start=False)
        assert all(0 <= i < vocab.size for i in ids)
        expected = [t if t in vocab else Vocabulary.OOV_TOKEN for t in tokens]
        assert vocab.decode(ids) == " ".join(expected)


def json_paths(tree, prefix=()):
    yield prefix
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from json_paths(v, (*prefix, k))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from json_paths(v, (*prefix, i))


VOCAB_JSON = json.loads(Vocabulary.build(["the cat sat on the mat", "a dog"]).to_json())


@given(data=st.data())
def test_fuzz_vocabulary_from_damaged_json(data):
    path = data.draw(st.sampled_from(list(json_paths(VOCAB_JSON))), label="path")
    value = data.draw(json_values, label="value")
    payload = json.loads(json.dumps(VOCAB_JSON))
    if path:
        node = payload
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    else:
        payload = value
    text = data.draw(st.sampled_from([json.dumps(payload), json.dumps(payload)[:-1]]), label="text")
    try:
        Vocabulary.from_json(text)
    except Exception as e:
        assert documented(e, "Vocabulary", "Tokenizer"), repr(e)
