"""rnnkit.web on the models the other commands save: `rnnkit textgen train`, `rnnkit forecast`,
`rnnkit translate train` and `rnnkit lab gradients` run on tiny settings and real data slices,
then every endpoint is checked against the saved model loaded by its own task (the oracle),
with the exact error messages (422 naming the field, 404 when no model of the kind is there)."""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest

with warnings.catch_warnings():  # starlette 1.x suggests httpx2; httpx is the one pinned
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient

from rnnkit import cli
from rnnkit.web import Limits, create_app

TEXTGEN = ["--level", "word", "--embedding-dim", "8", "--units", "16", "--layers", "1"]
TEXTGEN += ["--batch-size", "8", "--seq-len", "16", "--epochs", "1", "--verbose", "0"]
TEXTGEN += ["--kn-order", "2"]
FORECAST = ["--series", "airline", "--horizon", "6", "--folds", "1"]
FORECAST += ["--baselines", "naive,seasonal_naive,drift", "--ensemble", "1", "--epochs", "5"]
FORECAST += ["--patience", "2", "--units", "4", "--threads", "1"]
TRANSLATE = ["--max-source-words", "4", "--limit", "300", "--validation-sentences", "10"]
TRANSLATE += ["--test-limit", "20", "--epochs", "1", "--units", "16", "--embedding-dim", "8"]
TRANSLATE += ["--verbose", "0"]
LAB = ["--cells", "rnn,lstm", "--activations", "tanh", "--seq-len", "12", "--units", "4"]
LAB += ["--batch", "4", "--train-steps", "2", "--threads", "1"]


@pytest.fixture(scope="module")
def runs(shared_data, tmp_path_factory):
    """A --models folder as the commands leave it: runs/{textgen,forecast,translate,lab}."""
    root = tmp_path_factory.mktemp("runs")
    corpus = tmp_path_factory.mktemp("corpus") / "ptb.txt"
    lines = (shared_data / "ptb" / "ptb.train.txt").read_text(encoding="utf-8").splitlines()
    corpus.write_text("\n".join(lines[:300]) + "\n", encoding="utf-8")
    argv = ["textgen", "train", "--corpus", str(corpus), "--out", str(root / "textgen")]
    assert cli.main([*argv, *TEXTGEN]) == 0
    assert cli.main(["forecast", *FORECAST, "--out", str(root / "forecast")]) == 0
    argv = ["translate", "train", "--data-dir", str(shared_data)]
    assert cli.main([*argv, "--out", str(root / "translate"), *TRANSLATE]) == 0
    assert cli.main(["lab", "gradients", *LAB, "--out", str(root / "lab")]) == 0
    return root


@pytest.fixture(scope="module")
def client(runs):
    return TestClient(create_app(runs))


def events_of(stream: str) -> list[tuple[str, dict]]:
    """(event, data) of each server-sent event (``message`` where no event is named)."""
    out = []
    for block in stream.split("\n\n"):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((fields.get("event", "message"), json.loads(fields["data"])))
    return out


def test_1_models_lists_each_with_its_metrics(client, runs):
    listed = {m["name"]: m for m in client.get("/api/models").json()}
    assert {k: m["task"] for k, m in listed.items()} == {
        "textgen/model": "language_model",
        "forecast/model": "forecast",
        "translate/model": "translate",
        "lab": "lab",
    }
    textgen = json.loads((runs / "textgen" / "metrics.json").read_text())
    assert listed["textgen/model"]["metrics"]["test"] == textgen["test"]
    assert listed["textgen/model"]["config"]["level"] == "word"
    report = json.loads((runs / "forecast" / "forecast.json").read_text())
    assert listed["forecast/model"]["metrics"] == report["backtest"]["summary"]
    assert listed["forecast/model"]["config"]["series"] == "passengers"
    metrics = json.loads((runs / "translate" / "metrics.json").read_text())
    assert listed["translate/model"]["metrics"]["test"] == metrics["test"]
    assert set(listed["translate/model"]["metrics"]["baselines"]) == {"copy", "dictionary"}
    assert listed["lab"]["plots"] == {"gradients.png": "/api/lab/lab/gradients.png"}
    assert listed["lab"]["metrics"]["gradients.json"]["settings"]["seq_len"] == 12


def test_2_next_word_equals_the_language_model(client, runs):
    from rnnkit.tasks.language_model import LanguageModel

    lm = LanguageModel.load(runs / "textgen" / "model")
    reply = client.post("/api/next-word", json={"text": "the company said", "k": 4}).json()
    assert reply["model"] == "textgen/model" and reply["level"] == "word"
    expected = lm.next_words("the company said", 4)
    assert [w["token"] for w in reply["words"]] == [t for t, _ in expected]
    np.testing.assert_allclose([w["probability"] for w in reply["words"]], [q for _, q in expected])


def test_3_generate_streams_the_sampled_text_token_by_token(client, runs):
    from rnnkit.tasks.language_model import LanguageModel

    lm = LanguageModel.load(runs / "textgen" / "model")
    args = {"prompt": "the market", "length": 15, "temperature": 0.8, "top_k": 20, "seed": 7}
    with client.stream("POST", "/api/generate", json=args) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = events_of(r.read().decode())
    tokens = [data["token"] for kind, data in events if kind == "message"]
    expected = lm.generate("the market", 15, temperature=0.8, top_k=20, seed=7)
    assert len(tokens) == 15 and "".join(tokens) == expected
    assert events[-1] == ("end", {"model": "textgen/model", "text": expected, "tokens": 15})


def test_4_forecast_of_the_saved_series_with_its_baselines(client, runs):
    from rnnkit.tasks.forecast import Forecaster

    f = Forecaster.load(runs / "forecast" / "model")
    # the series is named by its CSV column, as /api/models shows it
    reply = client.post("/api/forecast", json={"name": "passengers", "horizon": 4}).json()
    expected = f.predict(4, intervals=True, level=80.0).to_dict()
    assert reply["series"] == "passengers" and reply["forecast"]["periods"] == expected["periods"]
    for key in ("mean", "lower", "upper"):
        np.testing.assert_allclose(reply["forecast"][key], expected[key], rtol=1e-9)
    report = json.loads((runs / "forecast" / "forecast.json").read_text())
    assert set(reply["baselines"]) == {"naive", "seasonal_naive", "drift"}
    for name, fc in reply["baselines"].items():
        assert fc["mean"] == report["forecast"]["models"][name]["mean"][:4]
    assert len(reply["history"]) == f.lookback_ == len(reply["history_periods"])
    assert reply["history_periods"][-1] == "1960-12"
    np.testing.assert_allclose(reply["history"][-1], 432.0)  # the airline series' last month


def test_5_forecast_after_given_values(client, runs):
    from rnnkit.datasets.timeseries import load_series
    from rnnkit.tasks.forecast import Forecaster

    f = Forecaster.load(runs / "forecast" / "model")
    values = load_series("airline").values[:100].tolist()
    reply = client.post("/api/forecast", json={"series": values, "level": 90}).json()
    expected = f.predict(6, history=values, intervals=True, level=90.0)
    np.testing.assert_allclose(reply["forecast"]["upper"], expected.upper, rtol=1e-9)
    assert reply["forecast"]["level"] == 90.0 and reply["baselines"] == {}


def test_6_forecast_errors_name_the_field(client):
    r = client.post("/api/forecast", json={"series": [1.0, 2.0], "name": "passengers"})
    assert r.status_code == 422 and r.json() == {
        "detail": "body: give `series` or `name`, not both"
    }
    r = client.post("/api/forecast", json={"name": "passengers", "horizon": 7})
    assert r.status_code == 422
    assert r.json()["detail"].startswith(
        "horizon: Forecaster.predict: `horizon` expected at most the trained horizon 6"
    )
    r = client.post("/api/forecast", json={"series": [1.0, 2.0]})
    assert r.status_code == 422 and r.json()["detail"].startswith("series: Forecaster.predict:")
    r = client.post("/api/forecast", json={"name": "sunspots"})
    assert r.status_code == 404
    assert r.json() == {"detail": "no forecaster of the series 'sunspots'; loaded: 'passengers'"}
    r = client.post("/api/forecast", json={"horizon": 0})
    assert r.status_code == 422
    assert r.json() == {"detail": "horizon: Input should be greater than or equal to 1"}


def test_7_translate_with_attention_equals_the_translator(client, runs):
    from rnnkit.tasks.translate import Translator

    tr = Translator.load(runs / "translate" / "model")
    texts = ["I run.", "Go away!"]
    reply = client.post("/api/translate", json={"texts": texts, "beam": 2}).json()
    assert [r["translation"] for r in reply["results"]] == tr.translate(texts, beam=2)
    for text, item in zip(texts, reply["results"]):
        source, output, weights = tr.attention_map(text)
        att = item["attention"]
        assert att["source"] == source and att["output"] == output
        np.testing.assert_allclose(np.reshape(att["weights"], weights.shape), weights, rtol=1e-6)
        if len(output):
            np.testing.assert_allclose(np.sum(att["weights"], axis=1), 1.0, rtol=1e-5)
    plain = client.post("/api/translate", json={"texts": ["I run."], "attention": False})
    assert plain.json()["results"][0]["attention"] is None


def test_8_lab_plot_is_served_and_nothing_else(client, runs):
    r = client.get("/api/lab/lab/gradients.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content == (runs / "lab" / "gradients.png").read_bytes()
    r = client.get("/api/lab/lab/gradients.json")
    assert r.status_code == 404
    assert r.json() == {
        "detail": "no lab plot named 'gradients.json' in 'lab'; there: 'gradients.png'"
    }
    r = client.get("/api/lab/textgen/metrics.json")
    assert r.status_code == 404
    assert r.json() == {"detail": "no lab output named 'textgen'; loaded: 'lab'"}


def test_9_422_naming_the_field(client):
    cases = [
        (
            "/api/next-word",
            {"text": "the", "k": 0},
            "k: Input should be greater than or equal to 1",
        ),
        ("/api/next-word", {"text": "  "}, "text: empty text"),
        ("/api/next-word", {"k": 3}, "text: Field required"),
        (
            "/api/next-word",
            {"text": "qqqzz"},
            "text: LanguageModel.next_words: `text` expected at least one word of the model's "
            "vocabulary",
        ),
        (
            "/api/generate",
            {"prompt": "the", "temperature": 0},
            "temperature: Input should be greater than 0",
        ),
        (
            "/api/generate",
            {"prompt": "the", "length": 1001},
            "length: Input should be less than or equal to 1000",
        ),
        ("/api/translate", {"texts": ["hi"], "beam": 11}, "beam: Input should be less than"),
        ("/api/translate", {"texts": [""]}, "texts.0: empty text"),
    ]
    for url, body, message in cases:
        r = client.post(url, json=body)
        assert r.status_code == 422, (url, body, r.text)
        assert r.json()["detail"].startswith(message), (url, body, r.json())


def test_10_404_when_no_model_of_the_kind_is_loaded(tmp_path):
    c = TestClient(create_app(tmp_path))
    for url, body, label in [
        ("/api/sentiment", {"texts": ["good"]}, "sentiment model"),
        ("/api/next-word", {"text": "the"}, "language model"),
        ("/api/generate", {"prompt": "the"}, "language model"),
        ("/api/forecast", {}, "forecaster"),
        ("/api/forecast", {"name": "airline"}, "forecaster"),
        ("/api/translate", {"texts": ["hi"]}, "translator"),
    ]:
        r = c.post(url, json=body)
        assert r.status_code == 404 and r.json() == {"detail": f"no {label} is loaded"}, url
    r = c.get("/api/lab/x/gradients.png")
    assert r.status_code == 404 and r.json() == {"detail": "no lab output is loaded"}


def test_11_a_model_that_does_not_load_is_skipped_with_why(runs, tmp_path):
    root = tmp_path / "served"
    shutil.copytree(runs / "textgen", root / "good")
    (root / "broken").mkdir()
    (root / "broken" / "language_model.json").write_text('{"task": "language_model"}')
    app = create_app(root)
    assert [m.name for m in app.state.models] == ["good/model"]
    ((name, why),) = app.state.skipped
    assert name == "broken" and why.startswith("LanguageModel.load: `path` expected a saved")


def test_12_reports_outside_the_folder_are_not_read(runs):
    # served from the model folder itself: the run's metrics.json lies outside --models
    app = create_app(runs / "textgen" / "model")
    (m,) = app.state.models
    assert m.task == "language_model" and m.metrics is None and m.report is None


def test_13_limits_apply_to_every_endpoint(runs):
    c = TestClient(create_app(runs, limits=Limits(max_chars=10, max_texts=2)))
    r = c.post("/api/next-word", json={"text": "the " * 5})
    assert r.status_code == 422 and r.json() == {"detail": "text: over the limit of 10 characters"}
    r = c.post("/api/generate", json={"prompt": "the " * 5})
    assert r.status_code == 422 and r.json() == {
        "detail": "prompt: over the limit of 10 characters"
    }
    r = c.post("/api/translate", json={"texts": ["a", "b", "c"]})
    assert r.status_code == 422 and r.json()["detail"].startswith(
        "texts: List should have at most 2"
    )
