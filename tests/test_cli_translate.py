"""rnnkit translate train | evaluate | translate: a tiny end-to-end run on real Tatoeba pairs,
outputs checked before any data is read, the attention map written."""

from __future__ import annotations

import json

import pytest

from rnnkit import cli

TINY = ["--max-source-words", "4", "--limit", "400", "--validation-sentences", "20"]
TINY += ["--test-limit", "40", "--epochs", "1", "--units", "16", "--embedding-dim", "8"]
TINY += ["--verbose", "0"]


@pytest.fixture(scope="module")
def run(shared_data, tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    out = tmp_path_factory.mktemp("run")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RNNKIT_HOME", str(home))
        argv = ["translate", "train", "--data-dir", str(shared_data), "--out", str(out), *TINY]
        assert cli.main(argv) == 0
    return out


def test_1_train_writes_model_report_and_curves(run):
    report = json.loads((run / "metrics.json").read_text())
    assert report["test"]["sentences"] == 40 and report["dataset"]["train"] == 400
    assert set(report["baselines"]) == {"copy", "dictionary"}
    assert 0 <= report["test"]["bleu"] <= 100 and "val_bleu" in report["history"]
    assert (run / "training.png").read_bytes().startswith(b"\x89PNG")
    assert (run / "model" / "translator.json").is_file()


def test_2_translate_and_attention_map(run, tmp_path, capsys):
    png = tmp_path / "attention.png"
    argv = ["translate", "translate", str(run / "model"), "I run.", "Go!", "--beam", "2"]
    assert cli.main([*argv, "--plot-attention", str(png)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("I run.\t") and lines[1].startswith("Go!\t")
    assert png.read_bytes().startswith(b"\x89PNG")


def test_3_evaluate(run, shared_data, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RNNKIT_HOME", str(tmp_path / "home"))
    argv = ["translate", "evaluate", str(run / "model"), "--data-dir", str(shared_data)]
    argv += ["--max-source-words", "4", "--test-limit", "40", "--json", str(tmp_path / "m.json")]
    assert cli.main(argv) == 0
    saved = json.loads((run / "metrics.json").read_text())["test"]["bleu"]
    assert json.loads((tmp_path / "m.json").read_text())["test"]["bleu"] == pytest.approx(saved)


def test_4_foreign_outputs_refused_before_reading_data(tmp_path, capsys):
    (tmp_path / "metrics.json").write_text("my thesis")
    argv = ["translate", "train", "--data-dir", str(tmp_path / "nothing"), "--out", str(tmp_path)]
    with pytest.raises(SystemExit):
        cli.main(argv)
    err = capsys.readouterr().err
    assert "where rnnkit would replace what it did not write: metrics.json" in err
    with pytest.raises(SystemExit):
        cli.main(["translate", "translate", str(tmp_path), "  "])
    assert "expected one or more non-empty sentences" in capsys.readouterr().err
