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


def test_5_sentence_limits_draw_a_seeded_sample_not_the_first(shared_data):
    # Tatoeba runs from the shortest sentences to the longest: the first 500 validation
    # sources are the easiest ones (they read ~11 BLEU points above the test set); the limits
    # draw a seeded random sample instead, in the split's order
    from rnnkit.cli.translate import _sample
    from rnnkit.datasets.translation import load_pairs, split_by_source

    refs = split_by_source(load_pairs(shared_data).pairs).references("validation")
    words = [len(k.split()) for k in refs]
    drawn = _sample(refs, 500)
    assert len(drawn) == 500 and all(refs[k] == v for k, v in drawn.items())
    assert list(drawn) == [k for k in refs if k in drawn]  # the split's order
    assert drawn == _sample(refs, 500)  # seeded: the same draw every run
    mean_all = sum(words) / len(words)
    mean_drawn = sum(len(k.split()) for k in drawn) / 500
    assert mean_drawn > sum(words[:500]) / 500 + 1.0  # not the shortest (first) 500
    assert abs(mean_drawn - mean_all) < 0.5  # as long as the whole validation set, on average
    assert _sample(refs, None) is refs and _sample(refs, len(refs) + 1) is refs
