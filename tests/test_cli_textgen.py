"""`rnnkit textgen`: a tiny end-to-end train / next / generate / evaluate on real text, and the
bad inputs (a clear error naming what was wrong, nothing written)."""

from __future__ import annotations

import json

import pytest

from rnnkit import cli

TINY = [
    "--embedding-dim",
    "8",
    "--units",
    "16",
    "--layers",
    "1",
    "--batch-size",
    "8",
    "--seq-len",
    "16",
    "--epochs",
    "1",
    "--verbose",
    "0",
    "--kn-order",
    "3",
]


def run(capsys, argv) -> tuple[int, str, str]:
    try:
        code = cli.main(argv)
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def text_file(shared_data, tmp_path_factory):
    text = (shared_data / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")[:8_000]
    path = tmp_path_factory.mktemp("corpus") / "bard.txt"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(text_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "out"
    code = cli.main(
        [
            "textgen",
            "train",
            "--corpus",
            str(text_file),
            "--level",
            "char",
            "--out",
            str(out),
            *TINY,
        ]
    )
    assert code == 0
    return out


def test_1_train_writes_model_report_and_plot_with_the_baseline_beside(trained):
    assert sorted(p.name for p in trained.iterdir()) == ["metrics.json", "model", "perplexity.png"]
    report = json.loads((trained / "metrics.json").read_text())
    assert report["task"] == "textgen" and report["config"]["level"] == "char"
    assert report["baseline"]["test"]["order"] == 3 and report["test"]["bits_per_char"] > 0
    assert (trained / "perplexity.png").read_bytes().startswith(b"\x89PNG")


def test_2_next_generate_evaluate(trained, text_file, capsys):
    model = str(trained / "model")
    code, out, _ = run(capsys, ["textgen", "next", "ROMEO:", "--model", model, "--top", "3"])
    assert code == 0 and len(out.strip().splitlines()) == 4  # three tokens and the time
    code, out, _ = run(
        capsys,
        [
            "textgen",
            "generate",
            "ROMEO:",
            "--model",
            model,
            "--length",
            "30",
            "--seed",
            "1",
            "--top-k",
            "5",
        ],
    )
    code2, out2, _ = run(
        capsys,
        [
            "textgen",
            "generate",
            "ROMEO:",
            "--model",
            model,
            "--length",
            "30",
            "--seed",
            "1",
            "--top-k",
            "5",
        ],
    )
    assert (
        code == code2 == 0
        and out == out2
        and out.startswith("ROMEO:")
        and len(out) == len("ROMEO:") + 31
    )
    code, out, _ = run(capsys, ["textgen", "evaluate", model])
    assert code == 0 and "test split: LSTM perplexity" in out and "Kneser-Ney 5-gram" in out
    code, out, _ = run(capsys, ["textgen", "evaluate", model, "--file", str(text_file)])
    assert code == 0 and out.startswith(f"{text_file}: LSTM perplexity")


def test_3_level_mismatch_is_refused(trained, capsys):
    code, _, err = run(
        capsys, ["textgen", "next", "the", "--model", str(trained / "model"), "--level", "word"]
    )
    assert code == 2
    assert err.strip().splitlines()[-1] == (
        f"rnnkit textgen next: error: argument --level: expected the model's level 'char' "
        f"({trained / 'model'} is a char-level model), received 'word'"
    )


def test_4_prompt_of_unknown_tokens_is_refused(trained, capsys):
    code, out, err = run(capsys, ["textgen", "next", "ßßß", "--model", str(trained / "model")])
    assert code == 2 and out == ""
    assert (
        "LanguageModel.next_words: `text` expected at least one character of the model's vocabulary"
        in err
    )


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "which holds no text"),
        ("caf\xe9 au lait\n".encode("latin-1"), "which is not UTF-8 (byte 3: b'\\xe9')"),
        (
            b"too short\n",
            "expected a training text of at least one sequence per stream, batch_size x seq_len + 1 = 129 char tokens, received 10",
        ),
    ],
)
def test_5_bad_corpora_write_nothing(tmp_path, capsys, content, message):
    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes(content)
    out = tmp_path / "out"
    code, _, err = run(
        capsys,
        ["textgen", "train", "--corpus", str(corpus), "--level", "char", "--out", str(out), *TINY],
    )
    assert code == 2 and message in err and err.startswith("rnnkit: error:")
    assert not out.exists()


def test_6_foreign_out_folder_is_refused_before_reading_data(tmp_path, capsys):
    out = tmp_path / "out"
    (out / "model").mkdir(parents=True)
    (out / "model" / "mine.txt").write_text("x")
    code, _, err = run(
        capsys, ["textgen", "train", "--corpus", str(tmp_path / "missing.txt"), "--out", str(out)]
    )
    assert code == 2 and "where rnnkit would replace what it did not write: model/" in err
    assert sorted(p.name for p in (out / "model").iterdir()) == ["mine.txt"]


def test_7_options_are_checked_by_argparse(capsys):
    code, _, err = run(capsys, ["textgen", "generate", "x", "--temperature", "0"])
    assert code == 2 and "argument --temperature: expected a positive number, received 0" in err
    code, _, err = run(capsys, ["textgen", "train", "--level", "byte"])
    assert code == 2 and "argument --level: expected one of 'word', 'char', received 'byte'" in err


def test_8_evaluate_finds_a_relative_corpus_path_from_elsewhere(
    text_file, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(text_file.parent)
    out = tmp_path / "rel"
    argv = ["textgen", "train", "--corpus", text_file.name, "--level", "char", "--out", str(out)]
    assert cli.main([*argv, *TINY, "--kn-order", "0"]) == 0
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    code, out_text, _ = run(capsys, ["textgen", "evaluate", str(out / "model"), "--kn-order", "2"])
    assert code == 0 and out_text.startswith(f"{text_file.resolve()} test split: LSTM perplexity")
