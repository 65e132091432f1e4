"""`rnnkit textgen train --corpus imdb` then `rnnkit sentiment train --pretrained-lm MODEL`: a
tiny end-to-end on real IMDb training reviews, and the language models that do not fit refused
before any data is read, nothing written."""

from __future__ import annotations

import json

import pytest

from rnnkit import cli
from rnnkit.datasets import text_corpora
from test_cli_textgen import run  # the CLI runner (exit code, stdout, stderr)

LM = ["--embedding-dim", "8", "--units", "8", "--layers", "1", "--max-vocab", "500"]
LM_RUN = ["--batch-size", "4", "--seq-len", "16", "--epochs", "1", "--kn-order", "0"]
NET = ["--recipe", "seed", "--embedding-dim", "8", "--units", "8", "--num-words", "500"]
NET_RUN = ["--maxlen", "40", "--epochs", "1", "--limit", "200", "--test-limit", "100"]


@pytest.fixture(scope="module")
def data_home(tmp_path_factory):
    """A fresh RNNKIT_HOME for the parsed reviews, set only while the data is read (the
    compiled loops stay where the session has them)."""
    home = str(tmp_path_factory.mktemp("home"))

    def reading(load):
        def wrapped(*args, **kwargs):
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("RNNKIT_HOME", home)
                mp.delenv("RNNKIT_DATA_DIR", raising=False)
                return load(*args, **kwargs)

        return wrapped

    return reading


@pytest.fixture(scope="module")
def imdb_lm(shared_data, tmp_path_factory, data_home):
    """`rnnkit textgen train --corpus imdb` on the first 40 training reviews (the corpus
    function cut short; everything else as the command runs it)."""
    full = text_corpora.load_imdb_corpus
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(text_corpora, "load_imdb_corpus", data_home(lambda d=None: full(d, limit=40)))
        mp.setattr(cli.sentiment, "_load_reviews", data_home(cli.sentiment._load_reviews))
        out = tmp_path_factory.mktemp("lm") / "run"
        argv = ["textgen", "train", "--corpus", "imdb", "--data-dir", str(shared_data / "imdb")]
        assert cli.main([*argv, "--out", str(out), *LM, *LM_RUN, "--verbose", "0"]) == 0
        yield out


def test_1_textgen_trains_on_the_imdb_training_reviews(imdb_lm, capsys):
    report = json.loads((imdb_lm / "metrics.json").read_text())
    assert report["corpus"]["name"] == "imdb" and "no test review" in report["corpus"]["source"]
    assert "valid" in report and "test" not in report  # no test split: the test reviews unseen
    saved = json.loads((imdb_lm / "model" / "language_model.json").read_text())
    assert saved["corpus"] == "imdb"
    code, _, err = run(capsys, ["textgen", "evaluate", str(imdb_lm / "model")])
    assert code == 2
    assert err.strip().splitlines()[-1] == (
        "rnnkit textgen evaluate: error: no text to evaluate: the corpus 'imdb' has no test "
        "split (the IMDb test reviews stay unseen by the language model); pass --file FILE"
    )


def test_2_sentiment_trains_from_the_language_model(imdb_lm, shared_data, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["sentiment", "train", "--data-dir", str(shared_data / "imdb"), "--out", str(out)]
    model = str(imdb_lm / "model")
    code, printed, _ = run(
        capsys, [*argv, *NET, *NET_RUN, "--pretrained-lm", model, "--verbose", "0"]
    )
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["pretrained_lm"] == model
    filled = metrics["pretrained"]
    assert filled["path"] == model and filled["lstm_layers"] == filled["lm_layers"] == 1
    assert filled["embedding_size"] == 500 and 100 < filled["embedding_rows"] < 500
    assert f"Started from the language model '{model}': {filled['embedding_rows']:,} of" in printed
    assert metrics["test"]["n"] == 100
    saved = json.loads((out / "model" / "sentiment.json").read_text())
    assert saved["pretrained"] == filled and saved["config"]["pretrained_lm"] is None


@pytest.fixture
def no_data(monkeypatch):
    def refuse(data_dir):
        raise AssertionError("the data set was read")

    monkeypatch.setattr(cli.sentiment, "_load_reviews", refuse)


@pytest.mark.parametrize(
    "given, extra, message",
    [
        ("run", [], "SentimentConfig: `pretrained_lm` expected a saved language model (a folder with language_model.json, as `rnnkit textgen train` writes in its model/), received '{run}', a training run's folder: its model is '{run}/model'."),
        ("model", ["--units", "16"], "SentimentConfig: `pretrained_lm` expected a language model with units 16 (the network's --units), received '{run}/model', whose units is 8; pass --units 8 or train the language model with --units 16."),
        ("model", ["--layers", "2"], "SentimentConfig: `pretrained_lm` expected a language model with at least 2 LSTM layers (layer k of the network starts from the model's layer k; the model's layers above the network's are not used), received '{run}/model', which has 1."),
        ("model", ["--cell", "gru"], "SentimentConfig: `cell` expected 'lstm' with pretrained_lm (the language model's LSTM layers fill the recurrent layers), received 'gru'."),
    ],
)  # fmt: skip
def test_3_what_does_not_fit_is_refused_before_data_nothing_written(
    imdb_lm, tmp_path, capsys, no_data, given, extra, message
):
    out = tmp_path / "run"
    path = imdb_lm if given == "run" else imdb_lm / "model"
    argv = ["sentiment", "train", "--out", str(out), *NET, "--pretrained-lm", str(path), *extra]
    code, _, err = run(capsys, argv)
    assert code == 2
    assert err.strip().splitlines()[-1] == (
        "rnnkit sentiment train: error: " + message.format(run=imdb_lm)
    )
    assert not out.exists()
