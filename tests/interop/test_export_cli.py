"""``rnnkit sentiment export MODEL OUT --format onnx``: the saved classifier's network in an
ONNX file whose outputs (onnxruntime) equal the classifier's probabilities, to 1e-5."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit import cli
from rnnkit.tasks.sentiment import SentimentClassifier
from rnnkit.tasks.sentiment.config import SentimentConfig

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")

TEXTS = [
    "a wonderful film, moving and funny",
    "dull, slow and far too long",
    "great acting and a great story",
    "the worst film of the year",
    "I loved every minute of it",
    "boring plot and bad acting",
] * 3
LABELS = [1, 0, 1, 0, 1, 0] * 3


def test_1_sentiment_export_onnx(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RNNKIT_HOME", str(tmp_path / "home"))
    config = SentimentConfig(
        recipe="seed", num_words=60, maxlen=12, embedding_dim=4, units=3, epochs=1, batch_size=6,
        mask_zero=True, validation_split=0.0,
    )  # fmt: skip
    clf = SentimentClassifier(config).fit(TEXTS, LABELS, verbose=0)
    clf.save(tmp_path / "model")
    out = tmp_path / "sentiment.onnx"
    assert cli.main(["sentiment", "export", str(tmp_path / "model"), str(out)]) == 0
    assert f"wrote {out}: input `ids` int64 (batch, length)" in capsys.readouterr().out
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    for texts in (TEXTS[:1], TEXTS[:5]):
        (got,) = session.run(None, {"ids": clf.encode(texts)})
        np.testing.assert_allclose(got[:, 0], clf.predict_proba(texts)[:, 1], rtol=0, atol=1e-5)
    # three lengths and two batch sizes of ids, 'pre' padding included: the network's output
    g = np.random.default_rng(0)
    for T in (1, 6, 13):
        for N in (1, 4):
            ids = g.integers(1, 60, size=(N, T))
            ids[0, : T // 2] = 0
            (got,) = session.run(None, {"ids": ids})
            want = clf.model_.predict(ids, verbose=0)
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
