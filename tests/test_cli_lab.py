"""``rnnkit lab gradients | memory`` end to end on tiny settings: the table, the PNG and the
JSON written, the outputs checked before any work, bad values refused with their message."""

from __future__ import annotations

import json
import warnings

import pytest

from rnnkit import cli

TINY_GRADIENTS = [
    "lab", "gradients", "--cells", "rnn,lstm", "--activations", "tanh", "--seq-len", "12",
    "--units", "4", "--batch", "4", "--train-steps", "2", "--threads", "1",
]  # fmt: skip


def error_of(capsys, argv) -> str:
    """The last line on stderr of `rnnkit argv`, which must exit with status 2."""
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_1_gradients_end_to_end(tmp_path, capsys):
    assert cli.main([*TINY_GRADIENTS, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = [line.split()[:2] for line in out.splitlines()[2:6]]
    assert rows == [
        ["rnn-tanh", "init"],
        ["rnn-tanh", "trained"],
        ["lstm", "init"],
        ["lstm", "trained"],
    ]
    assert "decay/step" in out and "<1e-6 at" in out
    data = json.loads((tmp_path / "gradients.json").read_text())
    assert data["lab"] == "gradients" and data["settings"]["seq_len"] == 12
    cells = [(p["cell"], p["stage"]) for p in data["profiles"]]
    assert cells == [
        ("rnn-tanh", "init"),
        ("rnn-tanh", "trained"),
        ("lstm", "init"),
        ("lstm", "trained"),
    ]
    assert len(data["profiles"][0]["dh"]) == 12 and len(data["profiles"][0]["jacobian"]) == 11
    assert (tmp_path / "gradients.png").read_bytes().startswith(b"\x89PNG")
    # a second run replaces its own files without --overwrite
    assert cli.main([*TINY_GRADIENTS, "--out", str(tmp_path)]) == 0


def test_2_outputs_are_checked_before_any_work(tmp_path, capsys):
    (tmp_path / "gradients.png").write_text("not ours")
    message = error_of(capsys, [*TINY_GRADIENTS, "--out", str(tmp_path)])
    assert message.endswith(
        f"argument --out: expected a folder where `rnnkit lab gradients` writes only its own "
        f"files, received {str(tmp_path)!r}, where it would replace gradients.png; pass "
        f"--overwrite to replace them, or choose another --out"
    )
    assert not (tmp_path / "gradients.json").exists()  # nothing ran
    assert cli.main([*TINY_GRADIENTS, "--out", str(tmp_path), "--overwrite"]) == 0


@pytest.mark.parametrize(
    "argv,message",
    [
        (
            ["--cells", "rnn,cnn"],
            "lab: `cells` expected one of 'rnn', 'lstm', 'gru', received 'cnn'.",
        ),
        (
            ["--forget-bias", "2"],
            "lab: `forget_bias` expected a list of 0 / 1 (off / on), received '2'.",
        ),
        (["--seq-len", "1"], "argument --seq-len: expected an integer in [2, 100000], received 1"),
    ],
)
def test_3_bad_values(tmp_path, capsys, argv, message):
    assert error_of(capsys, [*TINY_GRADIENTS, "--out", str(tmp_path), *argv]).endswith(message)


@pytest.mark.parametrize("task", ["adding", "recall"])
def test_4_memory_end_to_end(tmp_path, capsys, task):
    argv = [
        "lab", "memory", "--task", task, "--lengths", "4,6", "--cells", "rnn,gru",
        "--max-steps", "2", "--units", "4", "--batch", "8", "--n-test", "16",
        "--threads", "1", "--out", str(tmp_path),
    ]  # fmt: skip
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    metric = "mse" if task == "adding" else "accuracy"
    assert f"cell \\ length ({metric})" in out
    data = json.loads((tmp_path / f"memory-{task}.json").read_text())
    assert data["lab"] == "memory" and data["settings"]["task"] == task
    assert [(r["cell"], r["length"]) for r in data["runs"]] == [
        ("rnn-tanh", 4), ("gru", 4), ("rnn-tanh", 6), ("gru", 6)
    ]  # fmt: skip
    assert (tmp_path / f"memory-{task}.png").read_bytes().startswith(b"\x89PNG")


def test_5_memory_imdb_distance_on_the_sample(tmp_path, capsys, monkeypatch):
    from rnnkit.datasets import SampleDataWarning

    monkeypatch.setenv("RNNKIT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("RNNKIT_DATA_DIR", raising=False)
    monkeypatch.setenv("RNNKIT_OFFLINE", "1")
    argv = [
        "lab", "memory", "--task", "imdb-distance", "--lengths", "0,5", "--cells", "lstm",
        "--max-steps", "2", "--units", "4", "--n-train", "32", "--n-test", "16",
        "--review-len", "10", "--num-words", "300", "--threads", "1", "--out", str(tmp_path),
    ]  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SampleDataWarning)
        assert cli.main(argv) == 0
    data = json.loads((tmp_path / "memory-imdb-distance.json").read_text())
    assert [r["length"] for r in data["runs"]] == [0, 5]


def test_6_memory_lengths_are_checked(tmp_path, capsys):
    argv = ["lab", "memory", "--lengths", "10,x", "--out", str(tmp_path)]
    assert error_of(capsys, argv).endswith(
        "MemoryConfig: `lengths` expected a comma-separated list of int values, received '10,x'."
    )
