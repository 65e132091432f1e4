"""``--device`` and ``--nproc`` on the task commands (one definition: ``cli/_common.py``): every
command that trains has both, every command that predicts has ``--device``; bad values are
argparse errors with exact messages, before any data is read; ``--nproc 2`` (two processes on
loopback, gloo) saves the model ``--nproc 1`` saves, to 1e-6. Oracle: the one-process run."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from rnnkit import cli
from rnnkit.cli import _common

TRAIN = [["sentiment", "train"], ["textgen", "train"], ["translate", "train"], ["forecast"]]
PREDICT = [
    ["sentiment", "evaluate"],
    ["sentiment", "predict"],
    ["textgen", "next"],
    ["textgen", "generate"],
    ["textgen", "evaluate"],
    ["translate", "evaluate"],
    ["translate", "translate"],
]
NO_CUDA = "no CUDA device here"


def parser_of(words):
    parser = cli.build_parser()
    for word in words:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[word]
    return parser


def flags(words) -> set[str]:
    return {s for a in parser_of(words)._actions for s in a.option_strings}


def error_of(capsys, argv) -> str:
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


# -- 1. the options and their messages ----------------------------------------------------------
def test_1_train_commands_have_both_predict_commands_device():
    for words in TRAIN:
        assert {"--device", "--nproc"} <= flags(words), words
    for words in PREDICT:
        assert "--device" in flags(words) and "--nproc" not in flags(words), words
    # one definition: the same help text everywhere
    helps = {
        a.help for words in TRAIN + PREDICT for a in parser_of(words)._actions if a.dest == "device"
    }
    assert len(helps) == 1


POSITIONALS = {
    "sentiment evaluate": ["m"],
    "sentiment predict": ["m", "x"],
    "textgen next": ["x"],
    "textgen evaluate": ["m"],
    "translate evaluate": ["m"],
    "translate translate": ["m", "x"],
}


def _argv(words, *more):
    return [*words, *POSITIONALS.get(" ".join(words), []), *more]


@pytest.mark.parametrize(
    "words, bad",
    [(w, "gpu") for w in TRAIN + PREDICT]
    + [(["sentiment", "train"], bad) for bad in ("meta", "cuda:x", "2")],
    ids=lambda v: " ".join(v) if isinstance(v, list) else v,
)
def test_2_bad_device_names(capsys, words, bad):
    assert error_of(capsys, _argv(words, "--device", bad)) == (
        f"rnnkit {' '.join(words)}: error: argument --device: expected cpu, cuda or cuda:N, "
        f"received {bad!r}"
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is here")
@pytest.mark.parametrize("words", TRAIN + PREDICT, ids=" ".join)
def test_3_cuda_without_a_cuda_device(capsys, words):
    assert error_of(capsys, _argv(words, "--device", "cuda:1")) == (
        f"rnnkit {' '.join(words)}: error: argument --device: expected an available device, "
        "received 'cuda:1' (no CUDA device here: torch.cuda.is_available() is False)"
    )


@pytest.mark.parametrize("words", TRAIN, ids=" ".join)
def test_4_bad_nproc(capsys, words):
    top = cli.max_threads()
    for bad, shown in (("0", "0"), ("two", "'two'"), (str(top + 1), str(top + 1))):
        assert error_of(capsys, _argv(words, "--nproc", bad)) == (
            f"rnnkit {' '.join(words)}: error: argument --nproc: expected an integer in "
            f"[1, {top}], received {shown}"
        )


def test_5_nproc_is_for_training_only(capsys):
    assert error_of(capsys, ["sentiment", "predict", "m", "x", "--nproc", "2"]) == (
        "rnnkit: error: unrecognized arguments: --nproc 2"
    )


def test_6_nproc_under_torchrun_refused_before_data(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")

    def refuse(data_dir):
        raise AssertionError("data read")

    monkeypatch.setattr(cli.sentiment, "_load_reviews", refuse)
    argv = ["sentiment", "train", "--out", str(tmp_path / "o"), "--nproc", "2"]
    assert error_of(capsys, argv) == (
        "rnnkit sentiment train: error: argument --nproc: expected 1 under torchrun (its "
        "processes are the process group: --nproc-per-node), received 2"
    )


def test_7_place_without_a_group():
    args = cli.build_parser().parse_args(["sentiment", "train", "--device", "cpu"])
    assert _common.place(args) == _common.Place(torch.device("cpu"), False, True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)
def test_8_cuda_predictions_equal_cpu(tmp_path, capsys):  # pragma: no cover - GPU machines
    from rnnkit.tasks.sentiment import SentimentClassifier
    from rnnkit.tasks.sentiment.config import SentimentConfig

    texts, labels = ["a great film", "an awful film"] * 8, [1, 0] * 8
    config = SentimentConfig(num_words=20, maxlen=8, embedding_dim=4, units=4, epochs=1)
    SentimentClassifier(config).fit(texts, labels, verbose=0).save(tmp_path / "m")
    outs = []
    for device in ("cpu", "cuda"):
        cli.main(["sentiment", "predict", str(tmp_path / "m"), *texts[:2], "--device", device])
        outs.append(
            [float(line.split("\t")[1]) for line in capsys.readouterr().out.split("\n")[:2]]
        )
    np.testing.assert_allclose(outs[0], outs[1], rtol=0, atol=1e-5)


# -- 2. --nproc 2 equals --nproc 1 ----------------------------------------------------------------
def same_weights(a, b, name):
    x, y = load_file(str(a / name)), load_file(str(b / name))
    assert x.keys() == y.keys()
    for k in x:
        torch.testing.assert_close(x[k], y[k], rtol=0, atol=1e-6, msg=k)


def both(argv, tmp_path):
    """Run ``argv`` with ``--nproc 1`` and ``--nproc 2``; their --out folders."""
    outs = []
    for n in (1, 2):
        out = tmp_path / f"n{n}"
        assert cli.main([*argv, "--out", str(out), "--nproc", str(n), "--threads", "1"]) == 0
        outs.append(out)
    return outs


def test_9_sentiment_train_two_processes_equal_one(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNKIT_OFFLINE", "1")  # the bundled sample, in every process
    monkeypatch.delenv("RNNKIT_DATA_DIR", raising=False)
    # the seed recipe: the default one's dropout masks are drawn by each process for its shard
    argv = [
        "sentiment", "train", "--limit", "48", "--test-limit", "16", "--num-words", "200",
        "--maxlen", "20", "--embedding-dim", "4", "--units", "4", "--epochs", "2",
        "--batch-size", "16", "--validation-split", "0.25", "--verbose", "0", "--recipe", "seed",
    ]  # fmt: skip
    one, two = both(argv, tmp_path)
    same_weights(one / "model" / "model", two / "model" / "model", "model.safetensors")
    a, b = (json.loads((p / "metrics.json").read_text()) for p in (one, two))
    for key in ("loss", "accuracy", "val_loss"):
        np.testing.assert_allclose(a["history"][key], b["history"][key], rtol=0, atol=1e-6)


def test_10_textgen_train_two_processes_equal_one(tmp_path):
    rng = np.random.default_rng(0)
    words = "the cat sat on a mat and the dog ran to the red house".split()
    text = "\n".join(" ".join(rng.choice(words, 10)) for _ in range(60))
    (tmp_path / "text.txt").write_text(text, encoding="utf-8")
    argv = [
        "textgen", "train", "--corpus", str(tmp_path / "text.txt"), "--level", "char",
        "--embedding-dim", "6", "--units", "6", "--layers", "1", "--batch-size", "4",
        "--seq-len", "16", "--epochs", "2", "--verbose", "0", "--kn-order", "0",
    ]  # fmt: skip
    one, two = both(argv, tmp_path)
    same_weights(one / "model", two / "model", "model.safetensors")
    a, b = (json.loads((p / "metrics.json").read_text()) for p in (one, two))
    assert a["history"][-1]["train_perplexity"] == pytest.approx(
        b["history"][-1]["train_perplexity"], abs=1e-5
    )


def test_11_translate_train_two_processes_equal_one(tmp_path):
    subjects = [
        ("i am", "je suis"),
        ("you are", "tu es"),
        ("he is", "il est"),
        ("we are", "nous sommes"),
    ]
    words = [
        ("here", "ici"),
        ("tall", "grand"),
        ("old", "vieux"),
        ("sad", "triste"),
        ("happy", "content"),
    ]
    pairs = [(f"{s} {w} .", f"{t} {v} .") for s, t in subjects for w, v in words]  # 20 distinct
    data = tmp_path / "pairs.txt"
    data.write_text("".join(f"{s}\t{t}\n" for s, t in pairs), encoding="utf-8")
    argv = [
        "translate", "train", "--data-dir", str(data), "--embedding-dim", "6", "--units", "6",
        "--epochs", "2", "--batch-size", "5", "--min-count", "1", "--dropout", "0",
        "--validation-sentences", "2", "--test-limit", "2", "--verbose", "0",
    ]  # fmt: skip
    one, two = both(argv, tmp_path)
    names = sorted(p.name for p in (one / "model").iterdir() if p.suffix == ".safetensors")
    assert names
    for name in names:
        same_weights(one / "model", two / "model", name)


def test_12_forecast_two_processes_equal_one(tmp_path):
    """The ensemble's members shared out between the processes: the saved forecaster is the
    one process's."""
    t = np.arange(60)
    values = (
        10 + 0.1 * t + 2 * np.sin(2 * np.pi * t / 4) + np.random.default_rng(0).normal(0, 0.2, 60)
    )
    csv = tmp_path / "s.csv"
    csv.write_text(
        "period,value\n"
        + "".join(f"{1950 + k // 4}Q{k % 4 + 1},{v}\n" for k, v in enumerate(values))
    )
    argv = [
        "forecast", "--csv", str(csv), "--horizon", "4", "--folds", "1", "--baselines", "none",
        "--ensemble", "3", "--epochs", "5", "--patience", "2", "--units", "4",
    ]  # fmt: skip
    one, two = both(argv, tmp_path)
    same_weights(one / "model", two / "model", "weights.safetensors")
    a, b = (json.loads((p / "forecast.json").read_text()) for p in (one, two))
    np.testing.assert_allclose(
        a["forecast"]["models"]["rnnkit"]["mean"], b["forecast"]["models"]["rnnkit"]["mean"],
        rtol=0, atol=1e-5,
    )  # fmt: skip
