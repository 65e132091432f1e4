"""The sentiment pipeline on a real slice of IMDb, its persistence, errors and the CLI."""

import json

import numpy as np
import pytest

from rnnkit import cli
from rnnkit.models import Sequential
from rnnkit.tasks.sentiment import (
    BagOfWords,
    SentimentClassifier,
    SentimentConfig,
    bag_of_words_baseline,
    build_model,
)

QUICK = dict(
    recipe="seed",  # the lecture's recipe: these tests pin the pipeline, not a recipe
    maxlen=80,
    num_words=5000,
    embedding_dim=32,
    units=32,
    epochs=3,
    batch_size=32,
    learning_rate=3e-3,
)


@pytest.fixture(scope="module")
def imdb_slice(shared_data, tmp_path_factory):
    """2,000 training and 1,000 test reviews (balanced, fixed) from the real data set."""
    from rnnkit.datasets import imdb

    home = tmp_path_factory.mktemp("rnnkit_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RNNKIT_HOME", str(home))
        reviews = imdb.load_texts(shared_data / "imdb", seed=113)
    train, test = reviews.train, reviews.test
    return (
        list(train.texts[:2000]),
        np.asarray(train.labels[:2000]),
        list(test.texts[:1000]),
        np.asarray(test.labels[:1000]),
    )


@pytest.fixture(scope="module")
def trained(imdb_slice):
    x_train, y_train, _, _ = imdb_slice
    return SentimentClassifier(SentimentConfig(**QUICK)).fit(x_train, y_train, verbose=0)


def test_fit_on_real_imdb_slice_beats_chance(imdb_slice, trained):
    _, _, x_test, y_test = imdb_slice
    assert 0.4 < y_test.mean() < 0.6  # balanced, so chance is about 50%
    metrics = trained.evaluate(x_test, y_test)
    assert metrics["accuracy"] > 0.68, metrics
    assert metrics["roc_auc"] > 0.75, metrics
    assert metrics["n"] == 1000


def test_seed_config_is_the_seed_model():
    model = build_model(SentimentConfig(recipe="seed"))
    assert [type(layer).__name__ for layer in model.layers] == ["Embedding", "LSTM", "Dense"]
    assert model.count_params() == 1_411_713


def test_save_load_round_trip_and_trajectory(trained, tmp_path):
    texts = ["An absolute masterpiece, I loved every minute.", "Dull, boring and far too long."]
    trained.save(tmp_path / "clf")
    loaded = SentimentClassifier.load(tmp_path / "clf")
    assert np.array_equal(loaded.positive_probability(texts), trained.positive_probability(texts))
    words, traj = loaded.trajectory(texts[0])
    assert words == ["an", "absolute", "masterpiece", "i", "loved", "every", "minute"]
    # The last point of the trajectory is the prediction on the whole review.
    assert traj[-1] == pytest.approx(float(loaded.positive_probability(texts[:1])[0]), abs=1e-6)


def test_errors(tmp_path, trained):
    with pytest.raises(ValueError) as info:
        trained.predict(["fine", "   "])
    assert str(info.value) == (
        "SentimentClassifier.encode: `texts[1]` expected a non-empty "
        "review, received an empty string."
    )
    with pytest.raises(TypeError, match=r"`texts` expected a list of review strings"):
        trained.predict("one review")
    with pytest.raises(RuntimeError, match="the classifier is not trained"):
        SentimentClassifier().predict(["x"])
    (tmp_path / "notamodel").mkdir()
    with pytest.raises(
        ValueError,
        match=r"`path` expected a saved sentiment model \(a directory "
        r"with sentiment.json\)",
    ):
        SentimentClassifier.load(tmp_path / "notamodel")
    with pytest.raises(
        ValueError,
        match=r"SentimentConfig: `cell` expected one of 'lstm', 'gru', "
        r"'simple_rnn', received 'transformer'.",
    ):
        SentimentClassifier(SentimentConfig(cell="transformer")).fit(["a"], [1])
    with pytest.raises(
        ValueError,
        match=r"SentimentConfig: `patience` expected to be used with "
        r"a validation_split > 0, received 1.",
    ):
        SentimentClassifier(SentimentConfig(recipe="seed", patience=1)).fit(["a"], [1])
    with pytest.raises(
        ValueError,
        match=r"SentimentConfig: `reduce_lr` expected None or a "
        r"number in \(0, 1\), received 2",
    ):
        SentimentClassifier(SentimentConfig(reduce_lr=2, validation_split=0.1)).fit(["a"], [1])
    with pytest.raises(
        ValueError,
        match=r"SentimentConfig: `reduce_lr` expected to be used "
        r"with a validation_split > 0",
    ):
        SentimentClassifier(SentimentConfig(recipe="seed", reduce_lr=0.5)).fit(["a"], [1])
    with pytest.raises(
        ValueError,
        match=r"SentimentConfig: `clipnorm` expected None or a "
        r"positive number, received 0.",
    ):
        SentimentClassifier(SentimentConfig(clipnorm=0)).fit(["a"], [1])
    with pytest.raises(
        RuntimeError,
        match=r"BagOfWords.predict_proba: the model is not "
        r"trained",
    ):
        BagOfWords().predict_proba(["x"])


def test_validation_split_of_sorted_labels_holds_both_classes(imdb_slice):
    """The training reviews come negatives first; the split is taken after a shuffle."""
    x_train, y_train, _, _ = imdb_slice
    order = np.concatenate([np.flatnonzero(y_train == 0)[:300], np.flatnonzero(y_train == 1)[:300]])
    texts, labels = [x_train[k] for k in order], y_train[order]
    assert labels[:300].sum() == 0 and labels[-100:].sum() == 100
    config = SentimentConfig(
        **dict(QUICK, epochs=2),
        validation_split=0.2,
        patience=0,
        bucketing=True,
        clipnorm=1.0,
        reduce_lr=0.5,
    )
    clf = SentimentClassifier(config)
    captured = {}
    real_fit = Sequential.fit

    def spy(self, x, y, **kw):
        captured["val_y"] = y[-int(len(y) * kw["validation_split"]) :]
        return real_fit(self, x, y, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Sequential, "fit", spy)
        clf.fit(texts, labels, verbose=0)
    assert 0.3 < float(np.mean(captured["val_y"])) < 0.7
    assert len(clf.history_.history["val_accuracy"]) in (1, 2)
    assert clf.history_.history["learning_rate"][0] == pytest.approx(config.learning_rate)


def test_bag_of_words_baseline(imdb_slice):
    x_train, y_train, x_test, y_test = imdb_slice
    result = bag_of_words_baseline(x_train, y_train, x_test, y_test, kind="tfidf")
    assert result["model"] == "tfidf_1-2gram_logreg" and result["accuracy"] > 0.8


def test_cli_train_predict_evaluate(shared_data, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RNNKIT_HOME", str(tmp_path / "home"))
    out = tmp_path / "run"
    code = cli.main(
        [
            "sentiment",
            "train",
            "--data-dir",
            str(shared_data / "imdb"),
            "--out",
            str(out),
            "--limit",
            "300",
            "--test-limit",
            "200",
            "--epochs",
            "1",
            "--maxlen",
            "40",
            "--units",
            "8",
            "--embedding-dim",
            "8",
            "--num-words",
            "2000",
            "--verbose",
            "0",
        ]
    )
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["n"] == 200 and metrics["dataset"]["train"] == 300
    assert (out / "training.png").stat().st_size > 1000
    capsys.readouterr()
    assert (
        cli.main(
            [
                "sentiment",
                "predict",
                str(out / "model"),
                "Great film!",
                "--explain",
                "--explain-dir",
                str(tmp_path),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert printed.splitlines()[0].split("\t")[2] == "Great film!"
    assert (tmp_path / "trajectory_0.png").is_file()
    (tmp_path / "bad.txt").write_bytes(b"caf\xe9 terrible\n")
    with pytest.raises(SystemExit) as info:  # an argparse error since the --file checks
        cli.main(["sentiment", "predict", str(out / "model"), "--file", str(tmp_path / "bad.txt")])
    assert info.value.code == 2
    assert "argument --file: expected UTF-8 text" in capsys.readouterr().err
    assert cli.main(["sentiment", "evaluate", str(tmp_path / "nothing")]) == 2
    assert "expected a saved sentiment model" in capsys.readouterr().err


def test_bag_of_words_save_load_round_trip_and_damage(imdb_slice, tmp_path):
    x_train, y_train, x_test, _ = imdb_slice
    for kind in ("counts", "tfidf", "nb"):
        bow = BagOfWords(kind=kind).fit(x_train[:400], y_train[:400])
        bow.save(tmp_path / kind)
        loaded = BagOfWords.load(tmp_path / kind)
        assert loaded.name == bow.name
        np.testing.assert_allclose(
            loaded.predict_proba(x_test[:50]), bow.predict_proba(x_test[:50]), rtol=1e-12
        )
    # straight after load: the n-gram scores of a prefix, and saving again
    nb = BagOfWords.load(tmp_path / "nb")
    tokens = ["a", "wonderful", "film"]
    np.testing.assert_allclose(
        nb.prefix_scores(tokens)[-1], bow.decision_function(["a wonderful film"])[0], rtol=1e-9
    )
    nb.save(tmp_path / "nb2")
    # a model saved before NB-LR ({"tfidf": bool}, no kind) still loads
    meta = json.loads((tmp_path / "counts" / "bow.json").read_text())
    del meta["kind"], meta["ngram"]
    meta["tfidf"] = False
    (tmp_path / "counts" / "bow.json").write_text(json.dumps(meta))
    assert BagOfWords.load(tmp_path / "counts").name == "bow_logreg"
    (tmp_path / "tfidf" / "bow.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(
        ValueError,
        match=r"BagOfWords.load: `path` expected a saved "
        r"bag-of-words model, received .*tfidf",
    ):
        BagOfWords.load(tmp_path / "tfidf")
    with pytest.raises(
        ValueError,
        match=r"BagOfWords: `kind` expected one of 'counts', "
        r"'tfidf', 'nb', received 'svm'",
    ):
        BagOfWords(kind="svm")


def test_nb_logreg_is_logistic_regression_on_ratio_scaled_presence(imdb_slice):
    """Oracle: NB-LR written out with scikit-learn (presence of 1-2-grams, each column scaled
    by its add-one log-count ratio, then logistic regression) gives the same log-odds as the
    folded model, and beats the plain binary bag of words on held-out reviews."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    from rnnkit.text import Tokenizer

    x_train, y_train, x_test, y_test = imdb_slice
    nb = BagOfWords(kind="nb").fit(x_train, y_train)
    cv = CountVectorizer(
        tokenizer=Tokenizer(),
        lowercase=False,
        token_pattern=None,
        ngram_range=(1, 2),
        binary=True,
        min_df=2,
    )
    X = cv.fit_transform(x_train)
    p = np.asarray(X[y_train == 1].sum(0)).ravel() + 1
    q = np.asarray(X[y_train == 0].sum(0)).ravel() + 1
    r = np.log(p / p.sum()) - np.log(q / q.sum())
    lr = LogisticRegression(C=0.1, max_iter=1000, solver="liblinear")
    lr.fit(X.multiply(r).tocsr(), y_train)
    expected = lr.decision_function(cv.transform(x_test).multiply(r).tocsr())
    np.testing.assert_allclose(nb.decision_function(x_test), expected, rtol=1e-9, atol=1e-9)
    counts = BagOfWords(kind="counts").fit(x_train, y_train)
    acc = lambda m: float(np.mean((m.predict_proba(x_test) > 0.5) == y_test))
    assert acc(nb) > acc(counts) > 0.75


def test_prefix_scores_read_the_review_word_by_word(imdb_slice):
    x_train, y_train, x_test, _ = imdb_slice
    nb = BagOfWords(kind="nb").fit(x_train[:600], y_train[:600])
    from rnnkit.text import Tokenizer

    for text in x_test[:5]:
        tokens = Tokenizer()(text)
        scores = nb.prefix_scores(tokens)
        assert scores.shape == (len(tokens),)
        for k in (0, len(tokens) // 2, len(tokens) - 1):
            prefix = " ".join(tokens[: k + 1])
            assert scores[k] == pytest.approx(float(nb.decision_function([prefix])[0]), abs=1e-9)
    with pytest.raises(
        ValueError,
        match=r"BagOfWords.prefix_scores: `kind` expected 'counts' "
        r"or 'nb'",
    ):
        BagOfWords(kind="tfidf").fit(x_train[:200], y_train[:200]).prefix_scores(["a"])


def test_hybrid_blends_the_network_with_ngrams(imdb_slice, tmp_path):
    x_train, y_train, x_test, y_test = imdb_slice
    config = SentimentConfig(**dict(QUICK, epochs=2), validation_split=0.2, ngrams=2)
    clf = SentimentClassifier(config).fit(x_train, y_train, verbose=0)
    w = clf.blend_
    assert set(w) == {"rnn", "ngrams", "bias"} and w["ngrams"] > 0
    proba = clf.positive_probability(x_test)
    rnn = clf._rnn_logits(x_test)
    ngram = clf.ngram_model_.decision_function(x_test)
    z = w["rnn"] * rnn + w["ngrams"] * ngram + w["bias"]
    np.testing.assert_allclose(proba, 1 / (1 + np.exp(-z)), rtol=1e-6)
    acc = float(np.mean((proba > 0.5) == y_test))
    assert acc >= float(np.mean((rnn > 0) == y_test)) - 0.01 and acc > 0.8
    clf.save(tmp_path / "hybrid")
    loaded = SentimentClassifier.load(tmp_path / "hybrid")
    np.testing.assert_allclose(loaded.positive_probability(x_test[:20]), proba[:20], rtol=1e-6)
    _words, traj = loaded.trajectory(x_test[0])
    assert traj[-1] == pytest.approx(float(proba[0]), abs=1e-5)
    task = json.loads((tmp_path / "hybrid" / "sentiment.json").read_text())
    del task["blend"]
    (tmp_path / "hybrid" / "sentiment.json").write_text(json.dumps(task))
    with pytest.raises(ValueError, match=r"sentiment.json has no blend weights"):
        SentimentClassifier.load(tmp_path / "hybrid")
    with pytest.raises(
        ValueError,
        match=r"SentimentConfig: `ngrams` expected to be used with "
        r"a validation_split > 0",
    ):
        SentimentClassifier(SentimentConfig(recipe="seed", ngrams=2)).fit(["a"], [1])
    with pytest.raises(
        ValueError,
        match=r"SentimentConfig: `ngrams` expected a non-negative "
        r"integer, received -1",
    ):
        SentimentClassifier(SentimentConfig(ngrams=-1)).fit(["a"], [1])
    with pytest.raises(
        ValueError,
        match=r"SentimentClassifier.fit: `ngrams` expected "
        r"validation reviews of both classes",
    ):
        SentimentClassifier(config).fit(
            x_train[:40], y_train[:40], validation_data=(x_test[:3], [1, 1, 1])
        )


def test_explain_figure_wraps_long_reviews_and_says_what_was_cut():
    """Old behaviour (#19): a 342-word review gave a 4400 x 418 px strip of its last 199
    words, saying nothing of the 143 left out, titled "review 0"."""
    from rnnkit.tasks.sentiment.plots import trajectory_figure

    words = [f"w{k}" for k in range(199)]
    fig = trajectory_figure(words, np.linspace(0, 1, 199), title="review 1", total_words=342)
    width, height = fig.get_size_inches() * 110  # save_figure's dpi
    assert len(fig.axes) == 4  # rows of 50 words
    assert width <= 1700 and height <= 1200
    assert "words 144-342 of 342 shown; the first 143 are left out" in fig.axes[0].get_title()
    first_row = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert first_row[0] == "w0" and len(first_row) == 50
    assert list(fig.axes[0].get_lines()[0].get_xdata())[:2] == [144, 145]
    short = trajectory_figure(["good", "film"], np.array([0.6, 0.8]), title="t")
    assert len(short.axes) == 1 and short.axes[0].get_title() == "t"


def test_unknown_words_and_run_folder_hint(trained, tmp_path):
    """Old behaviour (#19): "zxqv blorp" got a confident label with no warning; `load` of a
    run folder (instead of its model/) gave no hint."""
    frac = trained.unknown_fraction(["zxqv blorp", "a good film", "zxqv film", "!!"])
    assert list(frac) == [1.0, 0.0, 0.5, 1.0]
    trained.save(tmp_path / "run" / "model")
    with pytest.raises(ValueError) as info:
        SentimentClassifier.load(tmp_path / "run")
    assert str(info.value).endswith(
        f"received {str(tmp_path / 'run')!r}; it is a training run's folder: its model is "
        f"{str(tmp_path / 'run' / 'model')!r}."
    )


def test_cli_predict_warns_on_unknown_words(trained, tmp_path, capsys):
    trained.save(tmp_path / "model")
    assert cli.main(["sentiment", "predict", str(tmp_path / "model"), "zxqv blorp"]) == 0
    err = capsys.readouterr().err
    assert "WARNING: review 1: 100% of its words are unknown to the model" in err


def test_scikit_learn_estimator_protocol(imdb_slice, trained):
    """#17 item 6. Old behaviour: no get_params, so clone / cross_val_score failed, and
    predict_proba gave shape (n,) where scikit-learn's classifiers give (n, 2)."""
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score

    x_train, y_train, x_test, y_test = imdb_slice
    clf = SentimentClassifier(**QUICK)
    assert clf.get_params()["units"] == QUICK["units"]
    copy = clone(clf)
    assert copy.config == clf.config and copy is not clf
    assert repr(clf).startswith("SentimentClassifier(") and "units=" in repr(clf)
    assert clf.set_params(epochs=2) is clf and clf.config.epochs == 2
    with pytest.raises(
        ValueError, match="Invalid parameter 'bogus' for estimator SentimentClassifier"
    ):
        clf.set_params(bogus=1)
    with pytest.raises(TypeError, match="`config` expected a SentimentConfig"):
        SentimentClassifier({"epochs": 1})
    proba = trained.predict_proba(x_test[:30])
    assert proba.shape == (30, 2) and np.allclose(proba.sum(1), 1.0)
    np.testing.assert_allclose(proba[:, 1], trained.positive_probability(x_test[:30]), rtol=1e-6)
    assert list(trained.classes_) == [0, 1]
    assert trained.score(x_test, y_test) == pytest.approx(
        trained.evaluate(x_test, y_test)["accuracy"]
    )
    small = dict(QUICK, epochs=1)
    scores = cross_val_score(SentimentClassifier(**small), x_train[:600], y_train[:600], cv=2)
    assert scores.shape == (2,) and ((0.0 <= scores) & (scores <= 1.0)).all()
