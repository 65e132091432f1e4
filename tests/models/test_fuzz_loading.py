"""Fuzzing the model-file loader (issue #11, item 8): damaged config.json and model.safetensors
files give the documented ValueError or a model, never another exception.

The number of examples comes from the Hypothesis profile (tests/conftest.py: 'ci' in the
suite, 'fuzz' = 10,000 per target through benchmarks/fuzz.py)."""

from __future__ import annotations

import json
import struct
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnnkit.layers import GRU, LSTM, Bidirectional, Dense, Dropout, Embedding
from rnnkit.models import Sequential, load_model

DOCUMENTED = "load_model: `path` expected an rnnkit model directory, received "

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


@pytest.fixture(scope="module")
def original():
    """The files of a small saved model with every kind of layer and a compile section."""
    model = Sequential(
        [
            Embedding(30, 4, input_shape=(None,), mask_zero=True),
            Bidirectional(GRU(3, return_sequences=True)),
            LSTM(2),
            Dropout(0.1),
            Dense(2, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    with tempfile.TemporaryDirectory() as tmp:
        model.save(Path(tmp) / "m")
        config = json.loads((Path(tmp) / "m" / "config.json").read_text())
        weights = (Path(tmp) / "m" / "model.safetensors").read_bytes()
    return config, weights


def paths(tree, prefix=()):
    """Every (path of keys/indices) inside a JSON tree, the root included."""
    yield prefix
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from paths(v, (*prefix, k))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from paths(v, (*prefix, i))


def replaced(tree, path, value, delete=False):
    if not path:
        return value
    tree = json.loads(json.dumps(tree))
    node = tree
    for key in path[:-1]:
        node = node[key]
    if delete and isinstance(node, dict):
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return tree


def check_load(config_bytes: bytes, weights: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m"
        path.mkdir()
        (path / "config.json").write_bytes(config_bytes)
        (path / "model.safetensors").write_bytes(weights)
        try:
            model = load_model(path)
        except ValueError as e:
            assert str(e).startswith(DOCUMENTED), str(e)
        else:
            assert model.built


sizes = st.integers(min_value=-3, max_value=2**40) | st.sampled_from([0, 1, 2, 3, 4, 30])


@given(data=st.data())
def test_fuzz_damaged_config(original, data):
    config, weights = original
    all_paths = list(paths(config))
    path = data.draw(st.sampled_from(all_paths), label="path")
    value = data.draw(json_values | sizes, label="value")
    delete = data.draw(st.booleans(), label="delete")
    check_load(json.dumps(replaced(config, path, value, delete)).encode(), weights)


def header_of(weights: bytes) -> tuple[dict, bytes]:
    (n,) = struct.unpack("<Q", weights[:8])
    return json.loads(weights[8 : 8 + n]), weights[8 + n :]


def with_header(header, data: bytes) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


@given(data=st.data())
def test_fuzz_damaged_weights(original, data):
    config, weights = original
    header, body = header_of(weights)
    how = data.draw(st.sampled_from(["field", "bytes", "truncate", "length", "json"]), label="how")
    if how == "field":
        path = data.draw(st.sampled_from([p for p in paths(header) if p]), label="path")
        value = data.draw(
            json_values | sizes | st.sampled_from(["F32", "F64", "F16", "I64", "BOOL", "X"]),
            label="value",
        )
        damaged = with_header(replaced(header, path, value), body)
    elif how == "bytes":
        at = data.draw(st.integers(0, len(weights) - 1), label="at")
        chunk = data.draw(st.binary(min_size=1, max_size=16), label="chunk")
        damaged = weights[:at] + chunk + weights[at + len(chunk) :]
    elif how == "truncate":
        damaged = weights[: data.draw(st.integers(0, len(weights) - 1), label="length")]
    elif how == "length":
        n = data.draw(st.integers(0, 2**64 - 1), label="n")
        damaged = struct.pack("<Q", n) + weights[8:]
    else:
        damaged = with_header(data.draw(json_values, label="header"), body)
    check_load(json.dumps(config).encode(), damaged)


@given(raw=st.binary(max_size=200))
def test_fuzz_config_bytes(original, raw):
    check_load(raw, original[1])
