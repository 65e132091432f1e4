"""save / load_model: identical predictions; damaged files give clear errors and load nothing."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from rnnkit.layers import GRU, LSTM, Bidirectional, Dense, Dropout, Embedding, SimpleRNN
from rnnkit.models import Sequential, load_model


def trained_model():
    model = Sequential(
        [
            Embedding(50, 8, mask_zero=True),
            Bidirectional(GRU(6, return_sequences=True, reset_after=False)),
            LSTM(5, recurrent_dropout=0.1),
            Dropout(0.2),
            Dense(3, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    x = np.random.default_rng(0).integers(0, 50, size=(64, 9))
    model.fit(x, x[:, 0] % 3, epochs=1, verbose=0)
    return model, x


def test_round_trip_gives_identical_predictions(tmp_path):
    model, x = trained_model()
    model.save(tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    assert np.array_equal(loaded.predict(x), model.predict(x))
    assert [type(layer).__name__ for layer in loaded.layers] == [
        "Embedding",
        "Bidirectional",
        "LSTM",
        "Dropout",
        "Dense",
    ]
    assert loaded.layers[1].forward_layer.reset_after is False
    # Compile settings come back too: evaluate works straight away and agrees.
    assert loaded.evaluate(x, x[:, 0] % 3, verbose=0) == model.evaluate(x, x[:, 0] % 3, verbose=0)
    names = set(load_file(str(tmp_path / "model" / "model.safetensors")))
    assert {
        "embedding.E",
        "lstm.W_x",
        "lstm.W_h",
        "lstm.b",
        "dense.W",
        "bidirectional.forward_layer.W_x",
        "bidirectional.backward_layer.b_x",
    } <= names


def test_save_replaces_atomically(tmp_path):
    model, _x = trained_model()
    model.save(tmp_path / "m")
    other = Sequential([Embedding(50, 4), SimpleRNN(2), Dense(1)])
    other.save(tmp_path / "m")
    assert load_model(tmp_path / "m").count_params() == other.count_params()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_wrong_shape_is_refused_and_nothing_loads(tmp_path):
    model, _ = trained_model()
    model.save(tmp_path / "m")
    weights = load_file(str(tmp_path / "m" / "model.safetensors"))
    weights["lstm.W_h"] = torch.zeros(5, 21)
    save_file(weights, str(tmp_path / "m" / "model.safetensors"))
    with pytest.raises(ValueError) as info:
        load_model(tmp_path / "m")
    assert str(info.value) == (
        f"load_model: `path` expected an rnnkit model directory, received "
        f"'{tmp_path / 'm'}': tensor 'lstm.W_h' expected shape (5, 20), found (5, 21)."
    )


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda cfg: "{not json", "config.json is not valid JSON"),
        (
            lambda cfg: json.dumps({**cfg, "format": "keras"}),
            'config.json has no "format": "rnnkit.Sequential"',
        ),
        (
            lambda cfg: json.dumps(
                {**cfg, "model": {"name": "x", "layers": [{"class_name": "Conv2D", "config": {}}]}}
            ),
            "config.json does not describe a valid model",
        ),
        (
            lambda cfg: json.dumps(
                {
                    **cfg,
                    "model": {
                        **cfg["model"],
                        "layers": [{"class_name": "LSTM", "config": {"units": -3}}],
                    },
                }
            ),
            "config.json does not describe a valid model",
        ),
    ],
)
def test_damaged_config_is_refused(tmp_path, damage, message):
    model, _ = trained_model()
    model.save(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    (tmp_path / "m" / "config.json").write_text(damage(cfg))
    with pytest.raises(
        ValueError, match="load_model: `path` expected an rnnkit model directory"
    ) as info:
        load_model(tmp_path / "m")
    assert message in str(info.value)


def test_missing_or_foreign_files(tmp_path):
    with pytest.raises(ValueError, match="no such directory"):
        load_model(tmp_path / "absent")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "config.json").write_text("{}")
    with pytest.raises(ValueError, match=r"model\.safetensors is missing"):
        load_model(tmp_path / "d")
    (tmp_path / "d" / "model.safetensors").write_bytes(b"\x00" * 5)
    model, _ = trained_model()
    model.save(tmp_path / "ok")
    (tmp_path / "d" / "config.json").write_text((tmp_path / "ok" / "config.json").read_text())
    with pytest.raises(ValueError, match=r"model\.safetensors is not a readable safetensors file"):
        load_model(tmp_path / "d")


def test_unbuilt_model_cannot_be_saved(tmp_path):
    with pytest.raises(ValueError, match="expected a built model"):
        Sequential([LSTM(3), Dense(1)]).save(tmp_path / "m")
    assert not (tmp_path / "m").exists()
