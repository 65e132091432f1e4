"""rnnkit.web: the API against the model it serves, dynamic batching, limits and errors as
documented, models read only from inside --models, the page, the command's checks."""

from __future__ import annotations

import asyncio
import json
import os
import warnings

import httpx
import numpy as np
import pytest

with warnings.catch_warnings():  # starlette 1.x suggests httpx2; httpx is the one pinned
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient

from rnnkit import cli
from rnnkit.tasks.sentiment import SentimentClassifier, SentimentConfig
from rnnkit.web import Limits, create_app

TEXTS = ["a great wonderful film", "awful boring terrible film", "great acting", "boring plot"]
LABELS = [1, 0, 1, 0]


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    config = SentimentConfig(
        recipe="seed",
        num_words=50,
        maxlen=12,
        embedding_dim=4,
        units=4,
        epochs=2,
        batch_size=4,
        seed=0,
    )
    clf = SentimentClassifier(config).fit(TEXTS * 8, LABELS * 8, verbose=0)
    clf.save(root / "imdb" / "model")
    (root / "imdb" / "metrics.json").write_text(
        json.dumps({"config": {}, "test": {"accuracy": 0.5}})
    )
    return root


@pytest.fixture(scope="module")
def client(models_dir):
    return TestClient(create_app(models_dir, batch_window_ms=1))


def test_1_health_and_models(client):
    assert client.get("/healthz").json() == {"status": "ok", "models": 1}
    (info,) = client.get("/api/models").json()
    assert info["name"] == "imdb/model" and info["task"] == "sentiment"
    assert info["metrics"] == {"accuracy": 0.5} and info["config"]["units"] == 4


def test_2_sentiment_equals_the_model(client, models_dir):
    clf = SentimentClassifier.load(models_dir / "imdb" / "model")
    reply = client.post("/api/sentiment", json={"texts": TEXTS[:2], "explain": True}).json()
    proba = clf.positive_probability(TEXTS[:2])
    assert reply["model"] == "imdb/model"
    for item, p, text in zip(reply["results"], proba, TEXTS[:2]):
        assert item["probability"] == pytest.approx(float(p), abs=1e-6)
        assert item["label"] == ("positive" if p > 0.5 else "negative")
        words, traj = clf.trajectory(text)
        assert item["words"] == words
        np.testing.assert_allclose(item["trajectory"], traj, atol=1e-6)
    plain = client.post("/api/sentiment", json={"texts": ["great"]}).json()["results"][0]
    assert set(plain) == {"label", "probability"}


def test_3_concurrent_requests_share_batches(models_dir):
    app = create_app(models_dir, batch_window_ms=100)
    (model,) = app.state.models
    texts = [f"{TEXTS[k % 4]} number {k}" for k in range(16)]

    async def run():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            replies = await asyncio.gather(
                *(c.post("/api/sentiment", json={"texts": [t]}) for t in texts)
            )
        return [r.json()["results"][0]["probability"] for r in replies]

    got = asyncio.run(run())
    # 16 requests within the window: far fewer model calls than requests
    assert model.batcher.calls < 16
    np.testing.assert_allclose(got, model.model.positive_probability(texts), atol=1e-6)


def test_4_limits_and_errors_are_clear(models_dir):
    c = TestClient(
        create_app(models_dir, limits=Limits(max_body_bytes=2000, max_texts=3, max_chars=50))
    )
    r = c.post("/api/sentiment", content=b'{"texts": ["' + b"a" * 3000 + b'"]}')
    assert r.status_code == 413
    assert r.json() == {"detail": "request body over the limit of 2,000 bytes"}
    r = c.post("/api/sentiment", json={"texts": ["a" * 51]})
    assert r.status_code == 422 and r.json() == {
        "detail": "texts.0: over the limit of 50 characters"
    }
    r = c.post("/api/sentiment", json={"texts": ["a", "b", "c", "d"]})
    assert r.status_code == 422 and r.json()["detail"].startswith(
        "texts: List should have at most 3"
    )
    r = c.post("/api/sentiment", json={"texts": ["  "]})
    assert r.status_code == 422 and r.json() == {"detail": "texts.0: empty text"}
    r = c.post("/api/sentiment", json={"texts": ["good"], "model": "nope"})
    assert r.status_code == 404
    assert r.json() == {"detail": "no sentiment model named 'nope'; loaded: 'imdb/model'"}


def test_5_model_failure_is_one_line(models_dir, monkeypatch):
    app = create_app(models_dir)
    (model,) = app.state.models

    def boom(texts):
        raise RuntimeError("boom")

    monkeypatch.setattr(model.model, "positive_probability", boom)
    r = TestClient(app, raise_server_exceptions=False).post(
        "/api/sentiment", json={"texts": ["good"]}
    )
    assert r.status_code == 500 and r.json() == {"detail": "RuntimeError: boom"}


def test_6_models_outside_the_folder_are_not_read(models_dir, tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    (served / "elsewhere").symlink_to(models_dir / "imdb", target_is_directory=True)
    assert create_app(served).state.models == []
    with pytest.raises(ValueError, match=r"serve: `models` expected a folder"):
        create_app(tmp_path / "missing")


def test_7_page(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "<canvas" in r.text and '<script src="/static/page.js">' in r.text
    js = client.get("/static/page.js")
    assert js.headers["content-type"].startswith("text/javascript")
    for url in ("/api/models", "/api/sentiment", "/api/next-word", "/api/generate"):
        assert url in js.text
    assert client.get("/static/page.css").headers["content-type"].startswith("text/css")
    r = client.get("/static/app.py")  # only the page's own files
    assert r.status_code == 404 and r.json() == {"detail": "no page file named 'app.py'"}
    assert client.get("/static/..%2Fapp.py").status_code == 404
    paths = client.get("/openapi.json").json()["paths"]
    for url in ("sentiment", "next-word", "generate", "forecast", "translate", "models"):
        assert f"/api/{url}" in paths


def test_8_command_checks_its_folder(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.main(["serve", "--models", str(tmp_path / "missing")])
    assert "argument --models: expected a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["serve", "--models", str(tmp_path)])
    assert "expected saved rnnkit models under" in capsys.readouterr().err


def test_9_help_explains_every_option(capsys):
    with pytest.raises(SystemExit):
        cli.main(["serve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for flag in ("--models", "--host", "--port", "--batch-window-ms", "--threads", "--max-texts"):
        assert flag in text
    for words in ("textgen train", "all cores but one", "0: each request on its own", "0.0.0.0"):
        assert words in text, words


def test_10_serve_leaves_a_core_to_the_http_side(models_dir, monkeypatch, capsys):
    import torch
    import uvicorn

    from rnnkit.cli.serve import default_threads

    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port, **kw: served.update(host=host))
    before = torch.get_num_threads()
    try:
        assert cli.main(["serve", "--models", str(models_dir)]) == 0
        assert torch.get_num_threads() == default_threads() == max(1, (os.cpu_count() or 1) - 1)
        assert cli.main(["serve", "--models", str(models_dir), "--threads", "1"]) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert served == {"host": "127.0.0.1"}  # loopback unless told otherwise
    assert "serving sentiment 'imdb/model'" in capsys.readouterr().out


def test_11_the_fast_path_answers_as_the_endpoint_does(models_dir):
    app = create_app(models_dir, batch_window_ms=0)
    c = TestClient(app)
    fast = c.post("/api/sentiment", json={"texts": TEXTS, "model": "imdb/model"})
    assert app.state.fast_path_answers == 1
    # an unknown key, or a body that is not declared JSON, goes on to the FastAPI endpoint
    slow = c.post("/api/sentiment", json={"texts": TEXTS, "other": 1})
    raw = json.dumps({"texts": TEXTS}).encode()
    plain = c.post("/api/sentiment", content=raw, headers={"content-type": "text/plain"})
    assert app.state.fast_path_answers == 1
    assert fast.status_code == slow.status_code == 200
    assert fast.json() == slow.json()
    assert fast.headers["content-type"] == slow.headers["content-type"] == "application/json"
    assert plain.status_code == 422  # as FastAPI answers a body it is not told is JSON
    # errors are the endpoint's own
    r = c.post("/api/sentiment", json={"texts": ["ok", " "]})
    assert r.status_code == 422 and r.json() == {"detail": "texts.1: empty text"}
    assert app.state.fast_path_answers == 1
