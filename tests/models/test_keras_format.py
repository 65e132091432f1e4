"""Keras 3 files in and out (issue #18, "Keras weights in and out").

The oracle is Keras itself: ``tests/fixtures/keras/`` holds small models Keras 3.15.1 saved
(``.keras`` and ``.weights.h5``) with Keras's predictions, made by
``scripts/make_keras_fixtures.py``. The tests that run Keras live need a Python with Keras 3:
this one, or the one ``RNNKIT_KERAS_PYTHON`` names (e.g. ``/work/kvenv/bin/python``); they are
skipped, saying so, without one.
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from rnnkit.layers import GRU, LSTM, Bidirectional, Dense, Embedding
from rnnkit.models import Sequential, keras_layout, load_keras, load_model
from rnnkit.models import keras_format as K

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras"
NAMES = sorted(p.name.removesuffix(".keras") for p in FIXTURES.glob("*.keras"))
TOLERANCE = 1e-5  # the target


def fixture(name: str):
    data = np.load(FIXTURES / f"{name}.npz")
    return FIXTURES / f"{name}.keras", data["x"], data["y"]


def weights_file(name: str, tmp_path: Path) -> Path:
    """The fixture's ``.weights.h5`` (checked in gzipped), unzipped into ``tmp_path``."""
    path = tmp_path / f"{name}.weights.h5"
    path.write_bytes(gzip.decompress((FIXTURES / f"{name}.weights.h5.gz").read_bytes()))
    return path


def rewrite(src: Path, dst: Path, config=None, weights: bytes | None = None) -> Path:
    """A copy of the archive ``src`` with ``config`` edited by ``config(dict)`` and / or the
    weights member replaced."""
    with zipfile.ZipFile(src) as z:
        members = {n: z.read(n) for n in z.namelist()}
    if config is not None:
        data = json.loads(members["config.json"])
        config(data)
        members["config.json"] = json.dumps(data).encode()
    if weights is not None:
        members["model.weights.h5"] = weights
    with zipfile.ZipFile(dst, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)
    return dst


def refused(owner: str, path, what: str, expected: str = "a Keras 3 file") -> str:
    return re.escape(f"{owner}: `path` expected {expected}, received {str(path)!r}: {what}.")


def datasets(f: h5py.File) -> dict:
    """``{path: shape}`` of every dataset under ``layers/``."""
    found = {}
    f["layers"].visititems(
        lambda n, o: (
            found.__setitem__(f"layers/{n}", o.shape) if isinstance(o, h5py.Dataset) else None
        )
    )
    return found


def perturb(model) -> None:
    """Move every weight away from the file's values (the next load must restore them)."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)


# 1. Every Keras fixture loads as an rnnkit model that predicts what Keras predicted (LSTM, GRU
#    in both reset modes, SimpleRNN, Bidirectional, Embedding mask_zero, stacked layers,
#    TimeDistributed, the shaping layers). Before this module rnnkit read no Keras file.
@pytest.mark.parametrize("name", NAMES)
def test_keras_file_predicts_as_keras(name):
    path, x, y = fixture(name)
    model = load_keras(path)
    assert isinstance(model, Sequential) and not model.training
    np.testing.assert_allclose(model.predict(x), y, rtol=0, atol=TOLERANCE)


def test_all_fixtures_are_present():
    assert len(NAMES) == 9  # a fixture lost from the repository must not shrink the test
    assert sum(p.stat().st_size for p in FIXTURES.iterdir()) < 300_000


# 2. load_model reads a .keras file too (as keras.models.load_model does), and the layers
#    are Keras's, with Keras's names and arguments.
def test_load_model_reads_keras_files():
    path, x, y = fixture("bidirectional")
    model = load_model(path)
    assert [type(layer).__name__ for layer in model.layers] == ["Bidirectional"] * 2 + ["Dense"]
    assert [layer.name for layer in model.layers] == ["bidirectional", "bidirectional_1", "dense"]
    second = model.layers[1]
    assert second.merge_mode == "sum" and isinstance(second.forward_layer, GRU)
    assert second.forward_layer.reset_after is False and second.forward_layer.units == 2
    np.testing.assert_allclose(model.predict(x), y, rtol=0, atol=TOLERANCE)


# 3. A bare .weights.h5 from Keras loads into an rnnkit model of the same layers: one built
#    from the .keras config, and one written by hand with rnnkit's own classes.
@pytest.mark.parametrize("name", NAMES)
def test_keras_weights_file_loads_into_the_same_model(name, tmp_path):
    path, x, y = fixture(name)
    model = load_keras(path)
    perturb(model)
    assert np.abs(model.predict(x) - y).max() > 1e-3
    model.load_weights(weights_file(name, tmp_path))
    np.testing.assert_allclose(model.predict(x), y, rtol=0, atol=TOLERANCE)


def test_keras_weights_load_into_a_model_built_in_rnnkit(tmp_path):
    _, x, y = fixture("embedding_mask")
    model = Sequential(
        [
            Embedding(20, 4, mask_zero=True, input_shape=(None,)),
            Bidirectional(LSTM(3, return_sequences=True)),
            GRU(3),
            Dense(1, activation="sigmoid"),
        ]
    )
    model.load_weights(weights_file("embedding_mask", tmp_path))
    model.eval()
    np.testing.assert_allclose(model.predict(x), y, rtol=0, atol=TOLERANCE)


# 4. The weights of a .keras archive load too (keras.Model.load_weights("x.keras")).
def test_load_weights_from_a_keras_archive():
    path, x, y = fixture("gru_reset_after")
    model = load_keras(path)
    perturb(model)
    model.load_weights(path)
    np.testing.assert_allclose(model.predict(x), y, rtol=0, atol=TOLERANCE)


# 5. What rnnkit writes has Keras's layout: the same datasets, shapes and `vars` groups as the
#    file Keras wrote for the same model (checked without Keras).
@pytest.mark.parametrize("name", NAMES)
def test_written_weights_have_keras_layout(name, tmp_path):
    path, _, _ = fixture(name)
    ours = tmp_path / "ours.weights.h5"
    load_keras(path).save_weights(ours)
    with h5py.File(weights_file(name, tmp_path)) as keras_file, h5py.File(ours) as f:
        assert datasets(f) == datasets(keras_file)
        groups = []
        keras_file.visit(groups.append)
        for group in groups:
            if group.endswith("/vars") and group.startswith("layers/"):  # not the optimizer's
                assert f[group].attrs["name"] == keras_file[group].attrs["name"], group


# 6. rnnkit -> .weights.h5 -> rnnkit and rnnkit -> .keras -> rnnkit give the same predictions
#    (exactly: the same float32 values go out and back).
@pytest.mark.parametrize("name", NAMES)
def test_round_trip_through_rnnkit(name, tmp_path):
    path, x, _ = fixture(name)
    model = load_keras(path)
    perturb(model)
    expected = model.predict(x)
    model.save_weights(tmp_path / "m.weights.h5")
    model.save(tmp_path / "m.keras")
    again = load_keras(path)
    again.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_array_equal(again.predict(x), expected)
    rebuilt = load_keras(tmp_path / "m.keras")
    assert [type(a) for a in rebuilt.layers] == [type(b) for b in model.layers]
    assert [a.get_config() for a in rebuilt.layers] == [b.get_config() for b in model.layers]
    np.testing.assert_array_equal(rebuilt.predict(x), expected)


# 7. A model made in rnnkit (not read from Keras) goes out as .keras and comes back the same.
def test_rnnkit_model_round_trip_as_keras(tmp_path):
    model = Sequential(
        [
            Embedding(30, 5, input_shape=(None,)),
            LSTM(4, return_sequences=True, impl="reference"),
            GRU(3, reset_after=False),
            Dense(2, activation="softmax"),
        ]
    )
    model.eval()
    ids = torch.randint(1, 30, (3, 7))
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as z:
        assert sorted(z.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
        config = json.loads(z.read("config.json"))
    lstm = config["config"]["layers"][2]["config"]
    assert "impl" not in lstm and lstm["activation"] == "tanh"
    loaded = load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded.predict(ids), model.predict(ids))


# 8. Live: Keras loads what rnnkit writes and predicts what rnnkit predicts (to 1e-5).
def keras_python() -> str:
    chosen = os.environ.get("RNNKIT_KERAS_PYTHON")
    if chosen:
        return chosen
    if importlib.util.find_spec("keras") is not None:
        return sys.executable
    pytest.skip(
        "Keras is not installed: set RNNKIT_KERAS_PYTHON to a Python with Keras 3 "
        "(e.g. /work/kvenv/bin/python) to run the live round trip"
    )


LIVE = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import keras

    for job in json.load(open(sys.argv[1])):
        x = np.load(job["x"])
        model = keras.models.load_model(job["fixture"])
        model.load_weights(job["weights"])
        from_weights = model.predict(x, verbose=0)
        from_archive = keras.models.load_model(job["archive"]).predict(x, verbose=0)
        np.savez(job["out"], weights=from_weights, archive=from_archive)
    """
)


def test_keras_reads_what_rnnkit_writes(tmp_path):
    """Every fixture, weights moved by rnnkit, written by rnnkit, read by Keras (one Keras
    process for all of them: importing Keras takes seconds)."""
    python = keras_python()
    jobs, expected = [], {}
    for name in NAMES:
        path, x, _ = fixture(name)
        model = load_keras(path)
        perturb(model)
        expected[name] = model.predict(x)
        job = {k: str(tmp_path / f"{name}.{k}") for k in ("x", "out")}
        job.update(fixture=str(path), x=job["x"] + ".npy", out=job["out"] + ".npz")
        job.update(
            weights=str(tmp_path / f"{name}.weights.h5"), archive=str(tmp_path / f"{name}.keras")
        )
        model.save_weights(job["weights"])
        model.save(job["archive"])
        np.save(job["x"], x)
        jobs.append(job)
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    (tmp_path / "live.py").write_text(LIVE)
    run = subprocess.run(
        [python, str(tmp_path / "live.py"), str(tmp_path / "jobs.json")],
        env={**os.environ, "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "torch")},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    for name, job in zip(NAMES, jobs):
        out = np.load(job["out"])
        np.testing.assert_allclose(out["weights"], expected[name], rtol=0, atol=TOLERANCE)
        np.testing.assert_allclose(out["archive"], expected[name], rtol=0, atol=TOLERANCE)


# 9. Writing: Keras's name rule, the atomic writer, and no file replaced that rnnkit did not
#    write unless asked.
def built_model():
    return Sequential([LSTM(2, input_shape=(None, 3)), Dense(1)])


def test_save_weights_needs_the_keras_suffix(tmp_path):
    with pytest.raises(
        ValueError,
        match=re.escape(
            "save_weights: `filepath` expected a name ending in .weights.h5 (as Keras), "
            f"received {str(tmp_path / 'm.h5')!r}."
        ),
    ):
        built_model().save_weights(tmp_path / "m.h5")


def test_save_weights_refuses_a_foreign_file_unless_asked(tmp_path):
    target = tmp_path / "m.weights.h5"
    target.write_bytes(b"the user's own file")
    message = (
        f"save_weights: `path` expected a new path or a file rnnkit wrote, received "
        f"{str(target)!r}, a file that rnnkit did not write; pass overwrite=True to replace it."
    )
    with pytest.raises(FileExistsError, match=re.escape(message)):
        built_model().save_weights(target)
    assert target.read_bytes() == b"the user's own file"
    built_model().save_weights(target, overwrite=True)
    assert h5py.is_hdf5(target)


def test_save_keras_refuses_a_keras_written_file_unless_asked(tmp_path):
    target = tmp_path / "m.keras"
    target.write_bytes((FIXTURES / "lstm.keras").read_bytes())  # written by Keras, not rnnkit
    with pytest.raises(FileExistsError, match="a file that rnnkit did not write"):
        built_model().save(target)
    assert target.read_bytes() == (FIXTURES / "lstm.keras").read_bytes()


def test_an_rnnkit_file_is_replaced_atomically(tmp_path, monkeypatch):
    target = tmp_path / "m.weights.h5"
    model = built_model()
    model.save_weights(target)
    written = []
    real = keras_layout._files.write_bytes
    monkeypatch.setattr(
        keras_layout._files, "write_bytes", lambda p, d: (written.append(p), real(p, d))
    )
    model.save_weights(target)  # its own file: replaced without overwrite=True
    model.save(tmp_path / "m.keras")
    model.save(tmp_path / "m.keras")
    assert written == [target, tmp_path / "m.keras", tmp_path / "m.keras"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras", "m.weights.h5"]


def test_a_folder_is_never_replaced(tmp_path):
    (tmp_path / "m.weights.h5").mkdir()
    with pytest.raises(FileExistsError, match="a folder"):
        built_model().save_weights(tmp_path / "m.weights.h5", overwrite=True)


def test_unbuilt_model_is_refused(tmp_path):
    with pytest.raises(ValueError, match=re.escape("save_weights: `model` expected a built")):
        Sequential([LSTM(2)]).save_weights(tmp_path / "m.weights.h5")


# 10. Damaged and hostile files: a clear ValueError, nothing allocated beyond the file's size,
#     the model left unchanged.
def test_truncated_weights_file(tmp_path):
    path, _, _ = fixture("stacked")
    model = load_keras(path)
    before = model.get_weights()
    full = weights_file("stacked", tmp_path)
    cut = tmp_path / "cut.weights.h5"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(
        ValueError,
        match=re.escape(f"load_weights: `path` expected a Keras 3 file, received {str(cut)!r}: "),
    ):
        model.load_weights(cut)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), before))


@pytest.mark.parametrize("keep", [0, 100, 2000])
def test_truncated_keras_archive(tmp_path, keep):
    path = FIXTURES / "lstm.keras"
    cut = tmp_path / "cut.keras"
    cut.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"load_keras: `path` expected a Keras 3 file, received {str(cut)!r}: not a .keras archive"
        ),
    ):
        load_keras(cut)


def test_garbage_in_the_weights_member(tmp_path):
    bad = rewrite(FIXTURES / "lstm.keras", tmp_path / "bad.keras", weights=b"\x89HDF\r\n" * 100)
    with pytest.raises(
        ValueError,
        match=refused(
            "load_keras", bad, "model.weights.h5: is not a readable HDF5 file ("
        ).removesuffix(r"\."),
    ):
        load_keras(bad)


def test_corrupted_bytes_never_crash(tmp_path):
    """Every 97th byte of the weights file flipped in turn: each load either succeeds or raises
    the documented ValueError (never another exception, never a crash)."""
    full = weights_file("gru_reset_after", tmp_path).read_bytes()
    model = load_keras(FIXTURES / "gru_reset_after.keras")
    target = tmp_path / "x.weights.h5"
    for i in range(0, len(full), 97):
        data = bytearray(full)
        data[i] ^= 0xFF
        target.write_bytes(bytes(data))
        try:
            model.load_weights(target)
        except ValueError as e:
            assert str(e).startswith("load_weights: `path` expected a Keras 3 file"), str(e)


def hostile_weights(shape, chunked: bool) -> bytes:
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        g = f.create_group("layers/embedding/vars")
        if chunked:  # declared huge, nothing stored: a few KB on disk
            g.create_dataset("0", shape=shape, dtype="f4", chunks=(1, shape[1]))
        else:
            g.create_dataset("0", shape=shape, dtype="f4")
    return buf.getvalue()


def huge_embedding(config, dims=(10**6, 10**4)):
    layer = config["config"]["layers"][1]
    layer["class_name"] = "Embedding"
    layer["config"] = {"name": "embedding", "input_dim": dims[0], "output_dim": dims[1]}
    config["config"]["layers"] = config["config"]["layers"][:2]
    config["config"]["layers"][0]["config"]["batch_shape"] = [None, 5]


@pytest.mark.parametrize("chunked", [True, False])
def test_a_huge_claim_is_refused_before_allocating(tmp_path, chunked):
    """A config claiming a 40 GB embedding with a small weights file is refused without
    allocating it (the model is built on the meta device; the dataset must lie in the file)."""
    shape = (10**6, 10**4)
    bad = rewrite(
        FIXTURES / "lstm.keras",
        tmp_path / "huge.keras",
        config=huge_embedding,
        weights=hostile_weights(shape, chunked),
    )
    if chunked:
        what = (
            "model.weights.h5: 'layers/embedding/vars/0' is stored chunked, compressed, external "
            "or virtual; rnnkit reads datasets stored whole in the file, as Keras writes them"
        )
    else:
        what = "model.weights.h5: 'layers/embedding/vars/0' claims 40000000000 bytes at offset "
    pattern = refused("load_keras", bad, what)
    with pytest.raises(ValueError, match=pattern if chunked else pattern.removesuffix(r"\.")):
        load_keras(bad)


def test_a_config_too_large_is_refused(tmp_path):
    bad = rewrite(
        FIXTURES / "lstm.keras",
        tmp_path / "big.keras",
        config=lambda c: c.__setitem__("padding", "x" * (1 << 20)),
    )
    with pytest.raises(
        ValueError,
        match=re.escape("config.json has ") + r"\d+ bytes, more than the 1048576 allowed",
    ):
        load_keras(bad)


# 11. What rnnkit cannot build is named: the layer, the argument, the value.
def edited(tmp_path, edit) -> Path:
    return rewrite(FIXTURES / "lstm.keras", tmp_path / "edited.keras", config=edit)


def lstm_config(config) -> dict:
    return config["config"]["layers"][1]["config"]


@pytest.mark.parametrize(
    "edit, what",
    [
        (
            lambda c: lstm_config(c).__setitem__("activation", "relu"),
            "layer 1 'lstm' (LSTM) has `activation`='relu', which rnnkit's LSTM does not support",
        ),
        (
            lambda c: lstm_config(c).__setitem__("go_sideways", True),
            "layer 1 'lstm' (LSTM) has the argument `go_sideways`=True (bool), which rnnkit's "
            "LSTM does not take",
        ),
        (
            lambda c: c["config"]["layers"][1].__setitem__("class_name", "ConvLSTM2D"),
            "layer 1 'lstm' (ConvLSTM2D) is not a Keras layer rnnkit has (it has: ",
        ),
        (
            lambda c: c["config"]["layers"][1].__setitem__("registered_name", "my>LSTM"),
            "layer 1 'lstm' (LSTM) is not a Keras layer rnnkit has (it has: ",
        ),
        (
            lambda c: c.__setitem__("class_name", "Functional"),
            "the model is a 'Functional'; rnnkit reads Sequential models (the functional "
            "API's Model is not read yet)",
        ),
        (
            lambda c: lstm_config(c).__setitem__("dtype", "float16"),
            "layer 1 'lstm' (LSTM) has dtype 'float16'; rnnkit reads float32 models",
        ),
        (
            lambda c: lstm_config(c).__setitem__("units", -4),
            "layer 1 'lstm' (LSTM) is not valid for rnnkit (LSTM: `units` expected a positive "
            "integer, received -4 (int).)",
        ),
    ],
)
def test_unsupported_config_is_named(tmp_path, edit, what):
    bad = edited(tmp_path, edit)
    pattern = refused("load_keras", bad, f"config.json: {what}")
    if what.endswith(": "):
        pattern = pattern.removesuffix(r"\.")
    with pytest.raises(ValueError, match=pattern):
        load_keras(bad)


def test_stateful_and_zero_output_for_mask_are_read(tmp_path):
    """Since rnnkit's recurrent layers have Keras's `stateful` and `zero_output_for_mask`
    (issue #18 items 9 and 11), a Keras file that sets them loads with them set (before, both
    were refused as unsupported)."""

    def both(c):
        lstm_config(c)["zero_output_for_mask"] = True
        lstm_config(c)["return_sequences"] = True
        lstm_config(c)["stateful"] = True

    path = rewrite(FIXTURES / "lstm.keras", tmp_path / "both.keras", config=both)
    lstm = next(layer for layer in load_keras(path).layers if layer.name == "lstm")
    assert lstm.stateful and lstm.zero_output_for_mask and lstm.return_sequences


def test_frozen_layers_stay_frozen(tmp_path):
    path = edited(tmp_path, lambda c: lstm_config(c).__setitem__("trainable", False))
    model = load_keras(path)
    assert [p.requires_grad for p in model.layers[0].parameters()] == [False] * 3
    assert all(p.requires_grad for p in model.layers[1].parameters())


# 12. Weights of another model are refused, naming what differs; the model is unchanged.
def test_weights_of_another_shape_are_refused(tmp_path):
    model = Sequential([LSTM(5, input_shape=(5, 3)), Dense(1)])
    before = model.get_weights()
    path = weights_file("lstm", tmp_path)
    with pytest.raises(
        ValueError,
        match=refused(
            "load_weights",
            path,
            "'layers/lstm/cell/vars/0' has shape (3, 16), the layer expects (3, 20)",
        ),
    ):
        model.load_weights(path)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), before))


def test_weights_with_more_layers_are_refused(tmp_path):
    model = Sequential([LSTM(4, return_sequences=True, input_shape=(5, 3)), LSTM(3), Dense(1)])
    path = weights_file("lstm", tmp_path)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "the weights of layer 'lstm_1' (LSTM, 3 arrays) expected at 'layers/lstm_1/cell/vars' ['0', '1', '2'], found nothing (the file holds a different model)"
        ),
    ):
        model.load_weights(path)
    short = Sequential([LSTM(4, input_shape=(5, 3))])
    with pytest.raises(
        ValueError,
        match=re.escape(
            "it holds weights the model has no layer for ('layers/dense/vars/0', 'layers/dense/vars/1'; the file holds a different model)"
        ),
    ):
        short.load_weights(path)


def test_load_weights_names_the_suffixes(tmp_path):
    with pytest.raises(
        ValueError, match=re.escape("the name ends in neither .weights.h5 nor .keras")
    ):
        built_model().load_weights(tmp_path / "m.safetensors")


# 13. h5py is imported only when a Keras file is read or written.
def test_h5py_is_imported_lazily():
    code = "import sys, rnnkit.models; print('h5py' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# 14. Keras 2's legacy .h5 (model.save("x.h5")): the config in the root attribute
#     `model_config`, the weights under `model_weights`, matched by order (the fixtures are
#     written by Keras 3's legacy writer).
LEGACY = sorted(
    p.name.removesuffix(".h5.gz")
    for p in FIXTURES.glob("*.h5.gz")
    if not p.name.endswith(".weights.h5.gz")
)


def legacy_file(name: str, tmp_path: Path) -> Path:
    path = tmp_path / f"{name}.h5"
    path.write_bytes(gzip.decompress((FIXTURES / f"{name}.h5.gz").read_bytes()))
    return path


@pytest.mark.parametrize("name", LEGACY)
def test_legacy_h5_predicts_as_keras(name, tmp_path):
    assert LEGACY == ["embedding_mask", "gru_reset_before"]
    _, x, y = fixture(name)
    path = legacy_file(name, tmp_path)
    np.testing.assert_allclose(load_model(path).predict(x), y, rtol=0, atol=TOLERANCE)
    model = load_keras(FIXTURES / f"{name}.keras")
    perturb(model)
    model.load_weights(path)
    np.testing.assert_allclose(model.predict(x), y, rtol=0, atol=TOLERANCE)


def test_legacy_weights_of_another_model_are_refused(tmp_path):
    path = legacy_file("gru_reset_before", tmp_path)
    model = Sequential([LSTM(4, input_shape=(5, 3)), Dense(3), Dense(1)])
    with pytest.raises(
        ValueError,
        match=refused(
            "load_weights",
            path,
            "it holds the weights of 2 layers, the model has 3 layers with weights (the file "
            "holds a different model)",
        ),
    ):
        model.load_weights(path)


def test_keras_2_config_arguments(tmp_path):
    """A config as tf.keras 2 wrote it (hand-written: `batch_input_shape` in the first layer,
    `time_major`, `implementation`, Embedding's `input_length`, LeakyReLU's `alpha`)."""
    layers = [
        {
            "class_name": "Embedding",
            "config": {
                "name": "embedding",
                "trainable": True,
                "batch_input_shape": [None, 6],
                "dtype": "float32",
                "input_dim": 20,
                "output_dim": 4,
                "embeddings_initializer": {
                    "class_name": "RandomUniform",
                    "config": {"minval": -0.05, "maxval": 0.05, "seed": None},
                },
                "embeddings_regularizer": None,
                "activity_regularizer": None,
                "embeddings_constraint": None,
                "mask_zero": True,
                "input_length": 6,
            },
        },
        {
            "class_name": "LSTM",
            "config": {
                "name": "lstm",
                "trainable": True,
                "dtype": "float32",
                "return_sequences": False,
                "return_state": False,
                "go_backwards": False,
                "stateful": False,
                "unroll": False,
                "time_major": False,
                "units": 3,
                "activation": "tanh",
                "recurrent_activation": "sigmoid",
                "use_bias": True,
                "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
                "recurrent_initializer": {
                    "class_name": "Orthogonal",
                    "config": {"gain": 1.0, "seed": None},
                },
                "bias_initializer": {"class_name": "Zeros", "config": {}},
                "unit_forget_bias": True,
                "kernel_regularizer": None,
                "dropout": 0.0,
                "recurrent_dropout": 0.0,
                "implementation": 2,
            },
        },
        {"class_name": "Dense", "config": {"name": "dense", "units": 2, "activation": "linear"}},
        {"class_name": "LeakyReLU", "config": {"name": "leaky_re_lu", "alpha": 0.2}},
    ]
    model = K.model_from_keras_config(
        {"class_name": "Sequential", "config": {"name": "sequential", "layers": layers}}
    )
    assert model.built and model.input_shape_hint == (6,)
    assert model.layers[0].mask_zero and model.layers[1].units == 3
    assert model.layers[3].negative_slope == 0.2


# 15. compile_config: a model Keras compiled (and trained: its file holds the optimizer's
#     state too) comes back compiled with the same optimizer, loss and metrics where rnnkit
#     has them, uncompiled with a warning where it does not.
def test_compiled_keras_model_comes_back_compiled():
    path, x, y = fixture("lstm")
    model = load_keras(path)
    assert model.compiled and model.loss_name == "binary_crossentropy"
    assert model.metric_names == ["accuracy"]
    optimizer = model.optimizer_spec
    assert type(optimizer).__name__ == "Adam" and optimizer.clipnorm == 1.0
    assert optimizer.learning_rate == pytest.approx(0.01)
    assert not load_keras(path, compile=False).compiled
    np.testing.assert_allclose(model.predict(x), y, rtol=0, atol=TOLERANCE)


def test_compile_config_rnnkit_lacks_warns(tmp_path):
    def huber(config):
        config["compile_config"]["loss"] = {"class_name": "Huber", "config": {"name": "huber"}}

    path = rewrite(FIXTURES / "lstm.keras", tmp_path / "huber.keras", config=huber)
    with pytest.warns(
        UserWarning, match=re.escape(f"load_keras: {str(path)!r} was loaded uncompiled")
    ):
        model = load_keras(path)
    assert not model.compiled


# 16. A Bidirectional whose backward layer is not its forward layer run backwards is refused
#     (rnnkit's Bidirectional makes its own backward copy).
def test_a_different_backward_layer_is_built_and_its_weights_checked(tmp_path):
    """rnnkit's Bidirectional takes Keras's `backward_layer` (issue #18 item 10): a backward
    layer of another width is built as such, and the file's weights, made for the usual
    width, are refused naming the weight (before: the config itself was refused)."""

    def wider(config):
        backward = config["config"]["layers"][1]["config"]["backward_layer"]["config"]
        backward["units"] = 7

    path = rewrite(FIXTURES / "bidirectional.keras", tmp_path / "b.keras", config=wider)
    what = (
        "model.weights.h5: 'layers/bidirectional/backward_layer/cell/vars/0' has shape (3, 12), "
        "the layer expects (3, 28)"
    )
    with pytest.raises(ValueError, match=refused("load_keras", path, what)):
        load_keras(path)


def test_save_keras_refuses_a_model_it_cannot_describe(tmp_path):
    class Other(torch.nn.Module):
        layers = ()
        built = True

    with pytest.raises(
        ValueError,
        match=re.escape("save: `model` expected a Sequential model for a .keras file"),
    ):
        keras_layout.save_keras(Other(), tmp_path / "m.keras")
    assert not (tmp_path / "m.keras").exists()
